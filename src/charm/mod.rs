//! The charm: configuration, the reconcile that runs on every hook, and the actions.
//!
//! - [`hook`]: what every handler takes ([`hook::Hook`], [`hook::Leader`]).
//! - [`reconcile`]: the one loop; dialects plug in as [`reconcile::Dialect`]s.
//! - [`modern`], [`legacy`]: the two `tls-certificates` dialects.
//! - [`ca`]: the built-in CA's secret and lifecycle.
//! - [`actions`]: the action table and one module per action family.
//! - [`config`], [`status`], [`renewal`], [`clock`], [`dispatch`]: shared pieces and the edge.

pub mod actions;
pub mod ca;
pub mod clock;
pub mod config;
pub mod dispatch;
pub mod hook;
pub mod legacy;
pub mod modern;
pub mod reconcile;
pub mod renewal;
pub mod status;

use juju_hook::ToolError;

/// The endpoint this charm provides certificates on.
pub const ENDPOINT: &str = "certificates";

/// Errors that reach the edge (dispatch): they fail a hook, or fail an action with their message.
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
    /// An action name the charm does not implement.
    #[error("action {0:?} is not implemented by tls-provider")]
    UnknownAction(String),
    /// An action that cannot proceed; the message tells the operator what to do.
    #[error(transparent)]
    Action(#[from] actions::ActionError),
}
