//! The charm: configuration, the reconcile that runs on every hook, and the actions.

pub mod actions;
pub mod clock;
pub mod config;
pub mod dispatch;
pub mod keepcache;
pub mod legacy;
pub mod manual;
pub mod publish;
pub mod reconcile;
pub mod snapshot;
pub mod state;
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
    /// An action name the charm does not implement.
    #[error("action {0:?} is not implemented by tls-provider")]
    UnknownAction(String),
    /// An action that cannot proceed; the message tells the operator what to do.
    #[error("{0}")]
    ActionFailed(String),
}
