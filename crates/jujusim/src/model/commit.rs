//! Committing a successful hook's transaction.

use super::secrets::{check_secret_commit, commit_secrets};
use crate::state::{Ctx, State};

/// Apply a successful hook's transaction and queue the events it causes. If the controller
/// refuses part of it (see `check_secret_commit`) nothing is applied and the error is returned:
/// the hook fails although its process exited 0 (juju/juju 3.6
/// `internal/worker/uniter/runner/context/context.go` `Flush`: a `CommitHookChanges` error is
/// the hook's error).
pub(super) fn commit(st: &mut State, unit: &str, ctx: &Ctx) -> Result<(), String> {
    check_secret_commit(st, unit, &ctx.txn)?;
    for ((rel, owner), bag) in &ctx.txn.bags {
        let Some(r) = st.relations.get_mut(rel) else {
            continue;
        };
        if r.bags.get(owner) == Some(bag) {
            continue;
        }
        r.bags.insert(owner.clone(), bag.clone());
        st.notify_bag_change(*rel, owner, Some(unit));
    }
    if let Some(u) = st.units.get_mut(unit) {
        u.state = ctx.txn.state.clone();
        u.ports = ctx.txn.ports.clone();
    }
    commit_secrets(st, unit, &ctx.txn);
    Ok(())
}
