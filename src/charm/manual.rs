//! Manual mode actions (issue 5). STUB until the manual-mode engineer replaces it. `actions.rs`
//! dispatches the three actions here after checking leadership.

use juju_hook::{HookContext, HookTools};

use super::CharmError;

/// `get-outstanding-certificate-requests`. Stub.
pub fn get_outstanding_certificate_requests(
    ctx: &HookContext,
    tools: &dyn HookTools,
) -> Result<(), CharmError> {
    let _ = (ctx, tools);
    Err(CharmError::ActionFailed("not implemented yet".into()))
}

/// `get-certificate-request`. Stub.
pub fn get_certificate_request(ctx: &HookContext, tools: &dyn HookTools) -> Result<(), CharmError> {
    let _ = (ctx, tools);
    Err(CharmError::ActionFailed("not implemented yet".into()))
}

/// `provide-certificate`. Stub.
pub fn provide_certificate(ctx: &HookContext, tools: &dyn HookTools) -> Result<(), CharmError> {
    let _ = (ctx, tools);
    Err(CharmError::ActionFailed("not implemented yet".into()))
}
