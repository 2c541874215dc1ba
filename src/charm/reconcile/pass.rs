//! One leader pass over the endpoints, in the order of the dialect list: each live relation the
//! [`Pass`] serves is read, planned and published; each other one adds up the plan it last had
//! (from the local cache: counts, anchors), so status and the trust bundle stay whole.
//!
//! A relation the cache does not know is served whatever the pass. When the anchors of the
//! relations served so far differ from the cached ones (a relation's certificates now chain to
//! another CA, or the last relation chaining to one went), every relation of the endpoints
//! after is served too: their trust bundle changed. An endpoint is finished (pruning, caches,
//! the peer record) when one of its relations was served or the hook is one of its relations'.

use std::collections::BTreeSet;

use juju_hook::RelationId;

use super::cache::{digest, notes_digest, LeaderCache};
use super::leaving;
use super::scope::Pass;
use super::Summary;
use crate::charm::clock::parse_rfc3339;
use crate::charm::dialect::snapshot::{self, own_unit_bag, KnownBags};
use crate::charm::dialect::{publish, Claim, Dialect, Plan};
use crate::charm::expiry::Outlook;
use crate::charm::hook::Leader;
use crate::charm::CharmError;

/// What a pass needs besides the leader and the dialects, and the cache it builds.
pub struct Run<'c> {
    pub pass: Pass,
    /// The cache the last hook left.
    pub last: Option<&'c LeaderCache>,
    /// The cache this hook leaves.
    pub next: LeaderCache,
    /// Notes of plans that belong to no relation (finishing).
    pub other_notes: Vec<String>,
}

impl<'c> Run<'c> {
    pub fn new(leader: &Leader<'_>, pass: Pass, last: Option<&'c LeaderCache>) -> Run<'c> {
        let now = leader.hook.now;
        let full_at = match (&pass, last) {
            (Pass::Full(_), _) | (_, None) => super::cache::unix(now),
            (_, Some(l)) => l.full_at,
        };
        let next = LeaderCache {
            context: super::scope::context(leader),
            full_at,
            interval: leader.config.full_reconcile_interval,
            ca_due: leader
                .signer()
                .and_then(|c| c.rotate_at.as_deref())
                .and_then(parse_rfc3339)
                .map(super::cache::unix),
            ..LeaderCache::default()
        };
        Run {
            pass,
            last,
            next,
            other_notes: Vec::new(),
        }
    }

    /// The remote bags the last hook read of relation `id` of `endpoint`, when this pass is
    /// scoped to it (they stand in for the bags its event did not change).
    fn known(&self, endpoint: &str, id: RelationId) -> Option<&'c KnownBags> {
        let scoped = matches!(&self.pass, Pass::Scoped { .. }) && self.pass.serves(endpoint, id);
        self.last.filter(|_| scoped)?.bags.get(&id.0)
    }

    /// The digest standing for every note of this hook (see `status::set_noting`).
    pub fn notes_key(&self) -> String {
        notes_digest(&[self.next.notes_digest(), notes_digest(&self.other_notes)])
    }
}

/// Serves every endpoint the dialects serve (see the module documentation).
pub fn serve_endpoints(
    leader: &Leader<'_>,
    dialects: &mut [Box<dyn Dialect + '_>],
    run: &mut Run<'_>,
    summary: &mut Summary,
) -> Result<(), CharmError> {
    let left = leaving::relations_left(&leader.hook);
    let mut done: Vec<&str> = Vec::new();
    let mut anchors_changed = false;
    for (endpoint, live) in live_relations(leader, dialects)? {
        for d in dialects.iter_mut().filter(|d| d.endpoint() == endpoint) {
            left.iter().for_each(|&id| d.leave_alone(id));
        }
        let mut served = 0;
        for &id in live.iter().filter(|id| !left.contains(id)) {
            let must = anchors_changed || run.pass.serves(endpoint, id);
            if must || !replay(dialects, run, summary, endpoint, id) {
                served += 1;
                serve_one(leader, dialects, run, summary, endpoint, id)?;
            }
        }
        let own = run.pass.endpoint() == Some(endpoint);
        if run.pass.is_full() || served > 0 || own {
            finish(leader, dialects, run, summary, endpoint, &live)?;
        }
        done.push(endpoint);
        anchors_changed = anchors_changed || changed_anchors(run, summary, &done);
    }
    add_shared(leader, dialects, run, summary);
    run.next.prune_anchors();
    Ok(())
}

/// Whether the anchors of every plan so far differ from those the cache holds for the same
/// endpoints.
fn changed_anchors(run: &Run<'_>, summary: &Summary, endpoints: &[&str]) -> bool {
    let Some(last) = run.last else {
        return true;
    };
    let now: BTreeSet<String> = summary.anchors.iter().map(|p| digest(p)).collect();
    let before: BTreeSet<String> = endpoints
        .iter()
        .filter_map(|e| last.relations.get(*e))
        .flat_map(|m| m.values())
        .flat_map(|e| e.anchors.iter().cloned())
        .collect();
    now != before
}

/// Adds up relation `id`'s cached plan; false when the cache cannot stand for it.
fn replay(
    dialects: &mut [Box<dyn Dialect + '_>],
    run: &mut Run<'_>,
    summary: &mut Summary,
    endpoint: &str,
    id: RelationId,
) -> bool {
    let Some(last) = run.last else {
        return false;
    };
    let Some(entry) = last
        .entry(endpoint, id)
        .filter(|e| e.dialect < dialects.len())
    else {
        return false;
    };
    let Some(plan) = last.replay(entry, id) else {
        return false;
    };
    for d in dialects.iter_mut().filter(|d| d.endpoint() == endpoint) {
        d.leave_alone(id);
    }
    add(dialects, summary, entry.dialect, &plan);
    summary.expiry.add(&entry.expiry);
    run.next.keep(endpoint, id, entry, last);
    true
}

fn serve_one(
    leader: &Leader<'_>,
    dialects: &mut [Box<dyn Dialect + '_>],
    run: &mut Run<'_>,
    summary: &mut Summary,
    endpoint: &str,
    id: RelationId,
) -> Result<(), CharmError> {
    let known = run.known(endpoint, id);
    if let Some((i, plan, bags)) = plan_one(leader, dialects, endpoint, id, known)? {
        record(leader, dialects, summary, i, &plan)?;
        run.next.record(endpoint, i, &plan, leader.hook.now);
        run.next.keep_bags(id, bags);
        let outlook = Outlook::of(&plan.watched, leader.config.expiry_warning, leader.hook.now);
        summary.expiry.add(&outlook);
        run.next.note_expiry(endpoint, id, outlook);
    }
    Ok(())
}

fn finish(
    leader: &Leader<'_>,
    dialects: &mut [Box<dyn Dialect + '_>],
    run: &mut Run<'_>,
    summary: &mut Summary,
    endpoint: &str,
    live: &[RelationId],
) -> Result<(), CharmError> {
    for i in 0..dialects.len() {
        if dialects[i].endpoint() == endpoint {
            for plan in dialects[i].finish(leader, live)? {
                record(leader, dialects, summary, i, &plan)?;
                run.other_notes.extend(plan.notes.iter().cloned());
            }
        }
    }
    Ok(())
}

/// Counts that belong to no relation: this hook's when a dialect knows them, else (in a pass
/// that did not serve its relations) the last hook's while the dialect still has relations.
fn add_shared(
    leader: &Leader<'_>,
    dialects: &[Box<dyn Dialect + '_>],
    run: &mut Run<'_>,
    summary: &mut Summary,
) {
    for (i, d) in dialects.iter().enumerate() {
        let has_relations = || {
            let mut all = run.next.relations.values().flat_map(|m| m.values());
            all.any(|e| e.dialect == i)
        };
        let shared = match d.shared_counts(leader) {
            Some(c) => Some(c),
            None if run.pass.is_full() => None,
            None => run
                .last
                .and_then(|l| l.shared.get(&i).copied())
                .filter(|_| has_relations()),
        };
        if let Some(c) = shared {
            summary.by_dialect[i].add(&c);
            summary.totals.add(&c);
            run.next.shared.insert(i, c);
        }
    }
}

/// Each endpoint the dialects serve, in the order of the dialect list, with its live relation ids
/// (the one being broken in this hook left out).
fn live_relations(
    leader: &Leader<'_>,
    dialects: &[Box<dyn Dialect + '_>],
) -> Result<Vec<(&'static str, Vec<RelationId>)>, CharmError> {
    let mut endpoints: Vec<&'static str> = Vec::new();
    for d in dialects {
        if !endpoints.contains(&d.endpoint()) {
            endpoints.push(d.endpoint());
        }
    }
    let mut out = Vec::new();
    for endpoint in endpoints {
        out.push((endpoint, snapshot::relation_ids(&leader.hook, endpoint)?));
    }
    Ok(out)
}

/// Reads relation `id` (taking what `known` holds and the event did not change) and lets the
/// dialect that claims it most strongly plan it: that dialect's index, the plan and the remote
/// bags read.
fn plan_one(
    leader: &Leader<'_>,
    dialects: &mut [Box<dyn Dialect + '_>],
    endpoint: &str,
    id: RelationId,
    known: Option<&KnownBags>,
) -> Result<Option<(usize, Plan, KnownBags)>, CharmError> {
    let hook = &leader.hook;
    let Some(reader) = dialects.iter_mut().find(|d| d.endpoint() == endpoint) else {
        return Ok(None);
    };
    let Some(mut snap) = reader.read(hook, id, known)? else {
        return Ok(None);
    };
    let claims = dialects
        .iter()
        .enumerate()
        .filter(|(_, d)| d.endpoint() == endpoint);
    let Some((i, claim)) = claims
        .map(|(i, d)| (i, d.claims(&snap)))
        .max_by_key(|&(i, c)| (c, std::cmp::Reverse(i)))
    else {
        return Ok(None);
    };
    if claim == Claim::No {
        return Ok(None);
    }
    if dialects[i].reads_own_unit_bag() {
        match own_unit_bag(hook, id)? {
            Some(bag) => snap.own_unit_bag = Some(bag),
            None => return Ok(None),
        }
    }
    let plan = dialects[i].plan(leader, &snap)?;
    Ok(Some((i, plan, KnownBags::of(&snap))))
}

/// Publishes `plan` (made by dialect `dialect`) and adds it up.
fn record(
    leader: &Leader<'_>,
    dialects: &mut [Box<dyn Dialect + '_>],
    summary: &mut Summary,
    dialect: usize,
    plan: &Plan,
) -> Result<(), CharmError> {
    if publish(leader.hook.tools, plan)? {
        summary.writes += 1;
    }
    add(dialects, summary, dialect, plan);
    Ok(())
}

/// Adds `plan` up: every dialect observes it; its anchors, counts and notes join the summary.
fn add(dialects: &mut [Box<dyn Dialect + '_>], summary: &mut Summary, dialect: usize, plan: &Plan) {
    for d in dialects.iter_mut() {
        d.observe(plan);
    }
    summary.anchors.extend(plan.anchors.iter().cloned());
    summary.by_dialect[dialect].add(&plan.counts);
    summary.totals.add(&plan.counts);
    summary.notes.extend(plan.notes.iter().cloned());
}
