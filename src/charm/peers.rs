//! The peer relation `cluster`: what the leader tells the other units of the application.
//! Nothing secret goes there.
//!
//! It carries the trust bundle of `send-ca-cert` and what each of its relations last got
//! (`trust-bundle`, `trust-relations`: see [`super::transfer::shared`]), and who publishes the
//! legacy answers (`legacy-publisher`): a deposed leader learns
//! from it, in the `cluster-relation-changed` that the new leader's write gives it, that the new
//! leader has published, and withdraws its own copy at once, neither before (the reactive
//! requirer's merged view would lose its certificates) nor only in some later hook (its stale
//! copy, lowest unit name first, would win over the new leader's).

use juju_hook::{Databag, Member, RelationId};

use super::dialect::snapshot::bag_of;
use super::dialect::Plan;
use super::hook::Hook;
use super::CharmError;

/// The peer endpoint (`metadata.yaml` `peers:`).
pub const PEER_ENDPOINT: &str = "cluster";
/// Peer application databag key: the unit that publishes the legacy answers.
pub const LEGACY_PUBLISHER_KEY: &str = "legacy-publisher";

/// The peer relation, once Juju has created it.
pub fn peer_relation(hook: &Hook<'_>) -> Result<Option<RelationId>, CharmError> {
    Ok(hook.tools.relation_ids(PEER_ENDPOINT)?.into_iter().next())
}

/// Our application's databag on the peer relation (every unit may read it; only the leader
/// writes it). Empty before the peer relation exists.
pub fn app_bag(hook: &Hook<'_>) -> Result<Option<(RelationId, Databag)>, CharmError> {
    let Some(id) = peer_relation(hook)? else {
        return Ok(None);
    };
    Ok(bag_of_app(hook, id)?.map(|bag| (id, bag)))
}

/// Our application's databag on peer relation `id`.
pub fn bag_of_app(hook: &Hook<'_>, id: RelationId) -> Result<Option<Databag>, CharmError> {
    bag_of(hook, id, &Member::App(hook.app().to_string()))
}

/// The leader's plan that sets `key` to `value` in the peer application databag, when it holds
/// something else (none before the peer relation exists).
pub fn announce(hook: &Hook<'_>, key: &str, value: &str) -> Result<Option<Plan>, CharmError> {
    let Some((id, bag)) = app_bag(hook)? else {
        return Ok(None);
    };
    if bag.get(key).map(String::as_str) == Some(value) {
        return Ok(None);
    }
    Ok(Some(Plan {
        app_changes: Databag::from([(key.to_string(), value.to_string())]),
        ..Plan::new(id)
    }))
}
