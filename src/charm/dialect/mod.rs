//! The shape every dialect plugs into: a [`Dialect`] turns one relation's snapshot into a
//! [`Plan`] (the databag changes, notes for the log, and [`Counts`] for status), and one writer,
//! [`publish`], applies it.

use std::collections::BTreeSet;
use std::time::SystemTime;

use juju_hook::{Databag, HookTools, RelationId, ToolError};
use serde::{Deserialize, Serialize};

pub mod snapshot;

use self::snapshot::{KnownBags, RelationSnapshot};
use crate::charm::expiry::Watched;
use crate::charm::hook::{Hook, Leader};
use crate::charm::CharmError;

/// What one relation holds after a plan (or what one hook did, when added up).
///
/// The words mean the same in every dialect: *published* certificates are in relation data after
/// this hook; *signed* ones were signed in this hook; *replaced* ones are the signed ones that
/// took the place of an older certificate for the same request (rotation, renewal, mismatch).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Counts {
    /// Relations served.
    pub relations: usize,
    pub published: usize,
    pub signed: usize,
    pub replaced: usize,
    /// Requests refused with a reason (modern `request_errors`; legacy policy refusals).
    pub denied: usize,
    /// Input we could not use at all (skipped databags, malformed entries, unparseable CSRs).
    pub rejected: usize,
    /// Requests waiting for an operator (manual mode).
    pub outstanding: usize,
    /// Requests left for a later hook (legacy key generation is bounded per hook).
    pub deferred: usize,
}

impl Counts {
    pub fn add(&mut self, o: &Counts) {
        self.relations += o.relations;
        self.published += o.published;
        self.signed += o.signed;
        self.replaced += o.replaced;
        self.denied += o.denied;
        self.rejected += o.rejected;
        self.outstanding += o.outstanding;
        self.deferred += o.deferred;
    }
}

/// The desired change to one relation: keys to set in our databags (`""` deletes a key).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    pub relation: RelationId,
    /// Changes to our application databag (leader only).
    pub app_changes: Databag,
    /// Changes to our unit databag.
    pub unit_changes: Databag,
    /// Lines about rejected input, logged by status only when they change.
    pub notes: Vec<String>,
    pub counts: Counts,
    /// The CA certificates (PEM) that the certificates published on this relation chain to:
    /// each one's `ca` and the root of its chain. They go in the trust bundle.
    pub anchors: BTreeSet<String>,
    /// When this relation must be planned again at the latest: the earliest renewal point (or,
    /// for a certificate we do not renew, the end) of what it publishes. `None`: not for time.
    pub due: Option<SystemTime>,
    /// The certificates published on this relation, for the expiry watch
    /// ([`crate::charm::expiry`]).
    pub watched: Vec<Watched>,
}

impl Plan {
    pub fn new(relation: RelationId) -> Plan {
        Plan {
            relation,
            app_changes: Databag::new(),
            unit_changes: Databag::new(),
            notes: Vec::new(),
            counts: Counts::default(),
            anchors: BTreeSet::new(),
            due: None,
            watched: Vec::new(),
        }
    }

    /// Moves [`Plan::due`] earlier to `t` when `t` comes first.
    pub fn due_by(&mut self, t: SystemTime) {
        self.due = Some(self.due.map_or(t, |d| d.min(t)));
    }

    /// Whether applying it writes anything.
    pub fn writes(&self) -> bool {
        !self.app_changes.is_empty() || !self.unit_changes.is_empty()
    }
}

/// The one writer: at most one `relation-set --app` and one unit `relation-set` per plan, none
/// when nothing changes. Returns whether it wrote. A relation removed while the hook runs
/// (`relation not found`) is gone: nothing to write, and the other relations are still served;
/// any other tool failure fails the hook (Juju retries it).
pub fn publish(tools: &dyn HookTools, plan: &Plan) -> Result<bool, CharmError> {
    let writes = [(true, &plan.app_changes), (false, &plan.unit_changes)];
    for (app, changes) in writes.into_iter().filter(|(_, c)| !c.is_empty()) {
        match tools.relation_set(plan.relation, app, changes) {
            Ok(()) => {}
            Err(ToolError::RelationNotFound { .. }) => return Ok(false),
            Err(e) => return Err(e.into()),
        }
    }
    Ok(plan.writes())
}

/// The keys of `own` to set so that it holds `desired` for the keys `ours` selects: changed
/// values set, selected keys absent from `desired` deleted, other keys left alone.
pub fn changes_over(own: &Databag, desired: &Databag, ours: impl Fn(&str) -> bool) -> Databag {
    let mut changes: Databag = desired
        .iter()
        .filter(|(k, v)| own.get(*k) != Some(*v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for k in own.keys() {
        if ours(k) && !desired.contains_key(k) {
            changes.insert(k.clone(), String::new());
        }
    }
    changes
}

/// How strongly a dialect claims a relation: the strongest claim wins.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Claim {
    No,
    /// Serves any relation of its endpoint that no other dialect recognises.
    Fallback,
    /// Recognises the requirer's keys.
    Recognised,
}

/// One way of answering requests on an endpoint (the modern and legacy `tls-certificates`
/// dialects today). Each relation is planned by the dialect that claims it most strongly. A new
/// dialect or endpoint is a new implementation added to [`crate::charm::reconcile::dialects`],
/// not a change to the loop.
pub trait Dialect {
    /// The endpoint whose relations this dialect may serve.
    fn endpoint(&self) -> &'static str;

    /// Whether this dialect serves the relation.
    fn claims(&self, snap: &RelationSnapshot) -> Claim;

    /// Reads relation `id` for planning (`Ok(None)`: it is gone), taking from `known` (the
    /// bags the last hook read, in a hook scoped to this relation) what the event did not
    /// change. The dialects of one endpoint share the first one's way of reading; the default
    /// reads every remote bag ([`snapshot::read_relation_knowing`]).
    fn read(
        &mut self,
        hook: &Hook<'_>,
        id: RelationId,
        known: Option<&KnownBags>,
    ) -> Result<Option<RelationSnapshot>, CharmError> {
        snapshot::read_relation_knowing(hook, id, known)
    }

    /// Sees every plan recorded before this dialect's endpoint is served (endpoints are served in
    /// the order of the dialect list): the trust bundle learns the CAs in use this way.
    fn observe(&mut self, _plan: &Plan) {}

    /// Whether [`Dialect::plan`] needs our unit databag in the snapshot (one more `relation-get`).
    fn reads_own_unit_bag(&self) -> bool {
        false
    }

    /// The leader's desired state of one relation. Reads no relation data (the snapshot has it).
    fn plan(&mut self, leader: &Leader<'_>, snap: &RelationSnapshot) -> Result<Plan, CharmError>;

    /// After every relation was planned: plans for relations this dialect served before and no
    /// longer does, and saving whatever the dialect keeps (caches, key stores).
    fn finish(
        &mut self,
        _leader: &Leader<'_>,
        _live: &[RelationId],
    ) -> Result<Vec<Plan>, CharmError> {
        Ok(Vec::new())
    }

    /// Relation `id` is not planned in this hook (this unit is leaving it, or the hook serves
    /// another relation): neither plan it nor prune what the dialect keeps for it.
    fn leave_alone(&mut self, _id: RelationId) {}

    /// Counts that belong to no one relation (legacy: the shared client certificate), when this
    /// hook knows them; `None` keeps those of the last hook that did.
    fn shared_counts(&self, _leader: &Leader<'_>) -> Option<Counts> {
        None
    }

    /// On a non-leader: what to withdraw from our unit databag `own` on relation `id`.
    fn standby(
        &mut self,
        _hook: &Hook<'_>,
        _id: RelationId,
        _own: &Databag,
    ) -> Result<Option<Plan>, CharmError> {
        Ok(None)
    }

    /// Whether the non-leader pass must read our unit databag on this dialect's relations.
    fn publishes_in_unit_bag(&self) -> bool {
        false
    }

    /// This dialect's part of the leader's status, given its counts and the number of relations
    /// served by every dialect.
    fn status(&self, leader: &Leader<'_>, counts: &Counts, relations: usize) -> Option<String>;
}

#[cfg(test)]
mod tests {
    use juju_hook::process::{Output, ProcessTools, RecordingRunner};

    use super::*;

    fn plan() -> Plan {
        Plan {
            app_changes: Databag::from([("certificates".to_string(), "[]".to_string())]),
            ..Plan::new(RelationId(3))
        }
    }

    #[test]
    fn a_relation_gone_mid_hook_is_not_an_error_but_other_failures_are() {
        let tools = ProcessTools::with_runner(RecordingRunner::new());
        tools.runner().respond(
            "relation-set",
            Output::fail(
                2,
                "ERROR invalid value \"3\" for option -r: relation not found\n",
            ),
        );
        assert!(!publish(&tools, &plan()).unwrap());
        let tools = ProcessTools::with_runner(RecordingRunner::new());
        tools.runner().respond(
            "relation-set",
            Output::fail(1, "ERROR connection refused\n"),
        );
        assert!(publish(&tools, &plan()).is_err());
        let tools = ProcessTools::with_runner(RecordingRunner::new());
        assert!(publish(&tools, &plan()).unwrap());
    }
}
