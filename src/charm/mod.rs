//! The charm: configuration, the reconcile that runs on every hook, and the actions.
//!
//! - What every handler takes: [`hook::Hook`], [`hook::Leader`].
//! - The one loop, [`reconcile`]; dialects plug in as [`reconcile::Dialect`]s.
//! - The two `tls-certificates` dialects, [`modern`] and [`legacy`].
//! - The trust bundle on `send-ca-cert`, [`transfer`].
//! - The built-in CA's secret, lifecycle and rotation phases, [`ca`]; where it comes from.
//! - The `upstream-ca` requirer side that asks for our intermediate CA, [`upstream`].
//! - The action table and one module per action family, [`actions`].
//! - What the leader tells the other units, [`peers`].
//! - Shared pieces and the edge: [`config`], [`status`], [`renewal`], [`clock`], [`dispatch`],
//!   [`parallel`] (CPU-bound work over the cores, results in order).

pub mod actions;
pub mod ca;
pub mod clock;
pub mod config;
pub mod dialect;
pub mod dispatch;
pub mod expiry;
pub mod hook;
pub mod legacy;
pub mod modern;
pub mod parallel;
pub mod peers;
pub mod reconcile;
pub mod renewal;
pub mod revocation;
pub mod status;
pub mod transfer;
pub mod upstream;

use juju_hook::ToolError;

/// The endpoint this charm provides certificates on.
pub const ENDPOINT: &str = "certificates";

/// Errors that fail a hook (Juju retries it): Juju unreachable, or our own bugs. Actions wrap them
/// in [`actions::ActionError`].
#[derive(Debug, thiserror::Error)]
pub enum CharmError {
    /// Juju's hook tools failed (unreachable agent, or our own misuse).
    #[error(transparent)]
    Tool(#[from] ToolError),
    #[error(transparent)]
    Pki(#[from] crate::pki::PkiError),
    /// Our own data could not be encoded (a bug).
    #[error("cannot encode the legacy store: {0}")]
    Encode(serde_json::Error),
}
