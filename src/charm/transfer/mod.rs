//! The `send-ca-cert` endpoint (interface `certificate_transfer`): the trust bundle for
//! applications that only need to trust our certificates. See `docs/protocol.md` §6.
//!
//! - v1 requirers (`version` = `1` in their application databag) read our application databag:
//!   `certificates` (the bundle, sorted) and `version` = `1`. The leader writes it.
//! - v0 requirers read one arbitrary provider unit's databag: `ca`, `certificate` (the active CA),
//!   `chain` (the bundle) and `version` = `0`; the application databag is written too, as the
//!   library does. Every unit publishes the same unit data: non-leaders take the bundle from the
//!   peer application databag ([`shared`]), where the leader keeps it.
//! - What the bundle holds and why: [`bundle`]. An empty bundle is never published.
//! - Cost: one `relation-get` per relation (the requirer's `version`) in the steady state; our
//!   own databags are read only when what we would publish differs from what the peer record says
//!   we last published.
//!
//! The requirer's data is never trusted: any `version` other than `1` means v0 (a note says so
//! when it is neither absent nor `0`), and nothing else of its databag is read.

pub mod bundle;
pub mod shared;

use std::collections::BTreeSet;

use juju_hook::{Databag, Member, RelationId, ToolError};

use self::bundle::Bundle;
use self::shared::{digest, Record, Shared};
use super::dialect::snapshot::{bag_of, own_unit_bag, KnownBags, RelationSnapshot};
use super::dialect::{changes_over, Claim, Counts, Dialect, Plan};
use super::hook::{Hook, Leader};
use super::status::plural;
use super::{peers, CharmError};
use crate::protocol::transfer::{self as proto, Version};
use crate::protocol::Bag;

/// The endpoint (`metadata.yaml` `provides:`).
pub const TRANSFER_ENDPOINT: &str = "send-ca-cert";

/// The `send-ca-cert` dialect for one reconcile (leader) or standby pass (other units).
#[derive(Default)]
pub struct TransferDialect {
    /// The CAs that the certificates published so far in this hook chain to.
    anchors: BTreeSet<String>,
    bundle: Option<Bundle>,
    /// The peer relation and our application's databag there, read at most once per hook
    /// (`Some(None)`: no peer relation yet).
    peer: Option<Option<(RelationId, Databag)>>,
    shared: Shared,
}

impl TransferDialect {
    pub fn new() -> TransferDialect {
        TransferDialect::default()
    }

    fn load_peer(&mut self, hook: &Hook<'_>) -> Result<(), CharmError> {
        if self.peer.is_none() {
            let peer = peers::app_bag(hook)?;
            if let Some((_, bag)) = &peer {
                self.shared = Shared::from_bag(bag);
            }
            self.peer = Some(peer);
        }
        Ok(())
    }

    fn bundle(&mut self, leader: &Leader<'_>) -> &Bundle {
        self.bundle
            .get_or_insert_with(|| bundle::compute(leader, &self.anchors))
    }

    /// The remote application of relation `id`: from the peer record, the hook's own relation,
    /// or `relation-list --app`. `None` when the relation is gone.
    fn remote_app(&self, hook: &Hook<'_>, id: RelationId) -> Result<Option<String>, CharmError> {
        if let Some(r) = self.shared.relations.get(&id.0) {
            return Ok(Some(r.app.clone()));
        }
        if let Some(app) = hook
            .ctx
            .relation
            .as_ref()
            .filter(|r| r.id == id)
            .and_then(|r| r.remote_app.clone())
        {
            return Ok(Some(app));
        }
        match hook.tools.relation_remote_app(id) {
            Ok(app) => Ok(Some(app)),
            Err(ToolError::RelationNotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}

/// What a unit should hold on a relation whose requirer speaks `version`: the application
/// databag (both versions) and the unit databag (v0; empty for v1, so old v0 keys go).
fn desired(version: Version, bundle: &Bundle) -> (Bag, Bag) {
    let pems = bundle.pems();
    let app = proto::app_bag(&pems);
    let unit = match (version, bundle.primary()) {
        (Version::V0, Some(primary)) => proto::unit_bag_v0(primary, &pems),
        _ => Bag::new(),
    };
    (app, unit)
}

fn is_unit_key(k: &str) -> bool {
    proto::V0_UNIT_KEYS.contains(&k)
}

fn is_app_key(k: &str) -> bool {
    k == proto::CERTIFICATES_KEY || k == proto::VERSION_KEY
}

impl Dialect for TransferDialect {
    fn endpoint(&self) -> &'static str {
        TRANSFER_ENDPOINT
    }

    fn claims(&self, _snap: &RelationSnapshot) -> Claim {
        Claim::Recognised
    }

    /// Only the requirer's application databag (for `version`).
    fn read(
        &mut self,
        hook: &Hook<'_>,
        id: RelationId,
        _known: Option<&KnownBags>,
    ) -> Result<Option<RelationSnapshot>, CharmError> {
        self.load_peer(hook)?;
        let Some(app) = self.remote_app(hook, id)? else {
            return Ok(None);
        };
        let Some(remote_app_bag) = bag_of(hook, id, &Member::App(app.clone()))? else {
            return Ok(None);
        };
        Ok(Some(RelationSnapshot {
            id,
            remote_app: app,
            units: Vec::new(),
            remote_app_bag,
            own_app_bag: Databag::new(),
            own_unit_bag: None,
        }))
    }

    fn observe(&mut self, plan: &Plan) {
        self.anchors.extend(plan.anchors.iter().cloned());
    }

    fn plan(&mut self, leader: &Leader<'_>, snap: &RelationSnapshot) -> Result<Plan, CharmError> {
        let hook = &leader.hook;
        let mut plan = Plan::new(snap.id);
        let (version, note) = proto::requirer_version(&snap.remote_app_bag);
        plan.notes
            .extend(note.map(|n| format!("relation {} ({}): {n}", snap.id, snap.remote_app)));
        let bundle = self.bundle(leader).clone();
        if bundle.is_empty() {
            plan.notes.push(format!(
                "relation {}: nothing to trust yet (no CA and no trusted-certificates); publishing nothing",
                snap.id
            ));
            return Ok(plan);
        }
        plan.counts.published = 1;
        let (app, unit) = desired(version, &bundle);
        let d = digest(&app, &unit);
        let me = hook.unit();
        if self.shared.mine(snap.id, me).is_some_and(|r| r.digest == d) {
            return Ok(plan);
        }
        let own_app = bag_of(hook, snap.id, &Member::App(hook.app().to_string()))?;
        let (Some(own_app), Some(own_unit)) = (own_app, own_unit_bag(hook, snap.id)?) else {
            return Ok(plan);
        };
        plan.app_changes = changes_over(&own_app, &app, is_app_key);
        plan.unit_changes = changes_over(&own_unit, &unit, is_unit_key);
        let record = Record {
            app: snap.remote_app.clone(),
            digest: d,
            by: me.to_string(),
        };
        self.shared.relations.insert(snap.id.0, record);
        Ok(plan)
    }

    /// Keeps the peer record current: the bundle, and the relations still live.
    fn finish(
        &mut self,
        leader: &Leader<'_>,
        live: &[RelationId],
    ) -> Result<Vec<Plan>, CharmError> {
        if live.is_empty() {
            return Ok(Vec::new());
        }
        self.load_peer(&leader.hook)?;
        let Some((peer_id, bag)) = self.peer.clone().flatten() else {
            return Ok(Vec::new());
        };
        let live: BTreeSet<u32> = live.iter().map(|r| r.0).collect();
        self.shared.relations.retain(|id, _| live.contains(id));
        self.shared.bundle = Some(self.bundle(leader).clone());
        let changes = self.shared.changes(&bag);
        if changes.is_empty() {
            return Ok(Vec::new());
        }
        Ok(vec![Plan {
            app_changes: changes,
            ..Plan::new(peer_id)
        }])
    }

    fn publishes_in_unit_bag(&self) -> bool {
        true
    }

    /// A non-leader publishes the leader's bundle for v0 requirers too.
    fn standby(
        &mut self,
        hook: &Hook<'_>,
        id: RelationId,
        own: &Databag,
    ) -> Result<Option<Plan>, CharmError> {
        self.load_peer(hook)?;
        let Some(bundle) = self.shared.bundle.clone().filter(|b| !b.is_empty()) else {
            return Ok(None);
        };
        let Some(app) = self.remote_app(hook, id)? else {
            return Ok(None);
        };
        let Some(remote) = bag_of(hook, id, &Member::App(app))? else {
            return Ok(None);
        };
        let (version, _) = proto::requirer_version(&remote);
        let (_, unit) = desired(version, &bundle);
        let changes = changes_over(own, &unit, is_unit_key);
        Ok((!changes.is_empty()).then(|| Plan {
            unit_changes: changes,
            ..Plan::new(id)
        }))
    }

    fn status(&self, leader: &Leader<'_>, counts: &Counts, _relations: usize) -> Option<String> {
        // A hook that served no `send-ca-cert` relation computes the bundle only for this.
        let n = match &self.bundle {
            Some(b) => b.entries.len(),
            None if counts.published > 0 => bundle::compute(leader, &self.anchors).entries.len(),
            None => 0,
        };
        (counts.published > 0).then(|| {
            format!(
                "trust bundle of {} sent on {}",
                plural(n, "certificate"),
                plural(counts.published, "relation")
            )
        })
    }
}
