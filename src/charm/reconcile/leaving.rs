//! Relations this unit is leaving. When a unit is removed, Juju runs on it a `-relation-departed`
//! per remote unit with `JUJU_DEPARTING_UNIT` set to the unit itself, then `-relation-broken` per
//! relation, then `stop` and `remove`; a removed leader keeps leadership until its `remove` has
//! run (`docs/juju-hook-contract.md` §3.3). From the leaving unit's view the remote units go one
//! by one and the relation breaks, but for the application the relation lives on: the leaving
//! unit must not withdraw the certificates of the units it sees depart, nor drop the relation's
//! generated legacy keys when its own `-broken` runs.
//!
//! The relation ids the unit saw itself depart from are kept in `<charm dir>/.tls-provider-left`,
//! so its later `-relation-broken` for the same relation is recognised too (that hook carries no
//! departing unit).

use std::collections::BTreeSet;
use std::path::PathBuf;

use juju_hook::RelationId;

use crate::charm::hook::Hook;

pub const CACHE_FILE: &str = ".tls-provider-left";

fn path(hook: &Hook<'_>) -> PathBuf {
    hook.ctx.charm_dir.join(CACHE_FILE)
}

fn load(hook: &Hook<'_>) -> BTreeSet<u32> {
    std::fs::read_to_string(path(hook))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default()
}

/// The relations this unit has left (or is leaving in this hook): it must leave them alone.
pub fn relations_left(hook: &Hook<'_>) -> BTreeSet<RelationId> {
    let mut left = load(hook);
    let departing_self = hook.ctx.relation.as_ref().filter(|r| {
        hook.ctx.name().ends_with("-relation-departed")
            && r.departing_unit.as_deref() == Some(hook.unit())
    });
    if let Some(r) = departing_self {
        if left.insert(r.id.0) {
            if let Ok(text) = serde_json::to_string(&left) {
                // Losing it only costs the `-broken` case: the generated keys of a legacy
                // relation would be made again by the next leader.
                let _ = std::fs::write(path(hook), text);
            }
        }
    }
    left.into_iter().map(RelationId).collect()
}
