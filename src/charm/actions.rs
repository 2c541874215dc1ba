//! Action handlers. Each action either sets results or fails with a message saying what to do.

use juju_hook::{HookContext, HookTools};

use super::CharmError;

/// The actions this charm implements (must match actions.yaml).
pub const ACTIONS: &[&str] = &[
    "get-ca-certificate",
    "get-issued-certificates",
    "rotate-private-key",
    "get-outstanding-certificate-requests",
    "get-certificate-request",
    "provide-certificate",
];

/// Runs action `name`. Unknown names return [`CharmError::UnknownAction`]; the dispatcher turns
/// that into `action-fail`.
pub fn run(name: &str, ctx: &HookContext, tools: &dyn HookTools) -> Result<(), CharmError> {
    let _ = (ctx, tools);
    Err(CharmError::UnknownAction(name.to_string()))
}
