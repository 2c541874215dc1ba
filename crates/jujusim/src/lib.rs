//! jujusim: a local Juju model simulator.
//!
//! [`Model`] deploys charms (directories or `.charm` zips), runs their hooks as the Juju unit agent
//! does (environment, cwd, dispatch, transactional hook-tool writes, event order) and serves the hook
//! tools over a Unix socket. The `jujusim` binary is both the CLI and the multi-call hook-tool client.
//! See `README.md` and `docs/juju-hook-contract.md` at the repository root (the contract).
//!
//! Modules, each with one job: `model` drives the model (deploy, relate, settle, run hooks),
//! `state` is the model state shared with the hook-tool server, `server` answers hook-tool
//! requests on the socket, `tools` implements the hook tools, `meta` reads charm metadata,
//! `flags` parses hook-tool arguments and renders their output, `client` is the hook-tool client.

pub mod client;
mod error;
pub mod flags;
pub mod meta;
mod model;
mod server;
mod simclock;
mod state;
mod tools;
pub mod util;
mod views;

pub use error::SimError;
pub use model::{find_jujusim_bin, LeadershipMode, Model, DEFAULT_JUJU_VERSION};
pub use tools::TOOL_NAMES;
pub use views::{
    ActionResult, Databag, Fault, FaultKind, HookRun, SecretView, SettleReport, ToolCall,
    UnitStatus,
};
