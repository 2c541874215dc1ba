//! Old revisions of our secrets: each CA rotation or legacy key-store write makes a revision, and
//! the ones Juju reports unused in `secret-remove` are removed, so old keys do not linger.

use crate::charm::hook::Hook;
use crate::charm::CharmError;

/// In `secret-remove` for the CA secret or one of the legacy store secrets
/// ([`crate::charm::legacy::store::is_store_label`]), removes the revision Juju says nobody tracks any more
/// (old CA keys and old generated legacy keys do not linger). Returns whether it removed
/// something.
pub fn remove_unused_revision(hook: &Hook<'_>) -> Result<bool, CharmError> {
    let (ctx, tools) = (hook.ctx, hook.tools);
    if ctx.name() != "secret-remove" {
        return Ok(false);
    }
    let Some(secret) = &ctx.secret else {
        return Ok(false);
    };
    let ours = secret.label.as_deref().is_some_and(|l| {
        l == crate::charm::ca::CA_SECRET_LABEL || crate::charm::legacy::store::is_store_label(l)
    });
    if !ours {
        return Ok(false);
    }
    let Some(rev) = secret.revision else {
        return Ok(false);
    };
    match tools.secret_remove(&secret.id, Some(rev)) {
        Ok(()) => Ok(true),
        Err(e) if e.is_not_found() => Ok(false),
        Err(e) => Err(e.into()),
    }
}
