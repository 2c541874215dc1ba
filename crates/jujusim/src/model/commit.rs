//! Committing a successful hook's transaction.

use super::secrets::commit_secrets;
use crate::state::{Ctx, State};

/// Apply a successful hook's transaction and queue the events it causes.
pub(super) fn commit(st: &mut State, unit: &str, ctx: &Ctx) {
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
    commit_secrets(st, unit, &ctx.txn.secrets);
}
