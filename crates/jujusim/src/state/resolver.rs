//! Choosing a unit's next hook the way Juju 3.6's uniter resolver does, instead of first in, first
//! out; the hook-retry timer; leader-settings versions.
//!
//! Sources (juju/juju, 3.6 line as stored in the search index):
//! * `internal/worker/uniter/resolver.go` (`uniterResolver.NextOp`, `nextOp`): reboot, created
//!   relations, leadership, secrets, actions, storage; then install, config-changed, relations,
//!   update-status; a dying unit runs only relation hooks (to break them), `stop`, `remove`.
//! * `internal/worker/uniter/relation/resolver.go` (`nextHookForRelation`): per relation, a pending
//!   `-changed` after `-joined`, then `-departed` (sorted), `-broken`, app-level `-changed`,
//!   `-joined` (sorted), unit `-changed` (sorted); a dying relation (or dying unit) is treated as
//!   having no remote members, so only departs and `-broken` remain.
//! * `worker/uniter/leadership/resolver.go` (3.x): accept/resign leadership, then
//!   `leader-settings-changed` when not leader, not dying, and the leader-settings version moved.

use std::time::SystemTime;

use super::{Event, Kind, State, RETRY_MAX};

/// What a unit runs next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    /// The queued event at this index.
    Queued(usize),
    /// The failed event, retried (resolve with retry, or the retry timer fired).
    Failed,
    /// `leader-settings-changed` (Juju 3.x), derived from versions rather than queued.
    LeaderSettingsChanged,
}

/// Resolver priority of an event kind on a live / dying unit (lower runs first).
fn rank(ev: &Event, dying: bool) -> Option<u8> {
    let r = match (&ev.kind, ev.hook.as_str()) {
        (Kind::Plain, "install") => 0,
        (Kind::Plain, "start") => 1,
        (Kind::Rel(k), _) if k == "created" => 2,
        (Kind::Plain, "leader-elected") | (Kind::Plain, "leader-settings-changed") => 3,
        (Kind::Secret, _) => 4,
        (Kind::Rel(_), _) => 6,
        (Kind::Plain, "update-status") => 7,
        (Kind::Plain, "stop") => 8,
        (Kind::Plain, "remove") => 9,
        _ => 5,
    };
    if dying {
        // A dying unit runs secret and relation hooks (departs, -broken), then stop, remove.
        return matches!(r, 4 | 6 | 8 | 9).then_some(r);
    }
    match r {
        8 | 9 => None,
        _ => Some(r),
    }
}

/// Go's `sort.Strings` order (byte-wise), which the relation resolver uses for unit names.
fn go_sorted_first<'a>(v: impl Iterator<Item = (usize, &'a Event)>) -> Option<usize> {
    v.min_by(|a, b| {
        let ka = a.1.remote_unit.as_deref().unwrap_or("");
        let kb = b.1.remote_unit.as_deref().unwrap_or("");
        ka.cmp(kb)
    })
    .map(|(i, _)| i)
}

impl State {
    /// Whether `unit` would run `leader-settings-changed` now (Juju 3.x leadership resolver).
    pub fn leader_settings_due(&self, unit: &str) -> bool {
        let Some(u) = self.units.get(unit) else {
            return false;
        };
        if self.leadership_mode >= 4 || u.dying || self.is_leader(unit) || self.is_puppet(unit) {
            return false;
        }
        let installed = !u.queue.iter().any(|e| e.hook == "install")
            && u.failed.as_ref().is_none_or(|f| f.hook != "install");
        let version = self
            .apps
            .get(&u.app)
            .map(|a| a.leader_settings_version)
            .unwrap_or(0);
        installed && u.leader_settings_seen != version
    }

    /// Drop queued events Juju would never run: joins and changes on a relation that is dying
    /// or on a dying unit (the resolver sees no remote members there), departs of units whose
    /// `-joined` never ran, `-created` on a dying relation, and plain hooks of a dying unit.
    fn prune_queue(&mut self, unit: &str) {
        let rels_dying: Vec<(u32, bool)> =
            self.relations.values().map(|r| (r.id, r.dying)).collect();
        let Some(u) = self.units.get_mut(unit) else {
            return;
        };
        let dying = u.dying;
        let rels = u.rels.clone();
        u.queue.retain(|ev| {
            if rank(ev, dying).is_none() {
                return false;
            }
            let (Kind::Rel(k), Some(rel)) = (&ev.kind, ev.rel) else {
                return true;
            };
            let Some(ur) = rels.get(&rel) else {
                return false;
            };
            let rel_dying = rels_dying
                .iter()
                .find(|(id, _)| *id == rel)
                .is_none_or(|(_, d)| *d);
            match k.as_str() {
                "joined" | "changed" | "created" => !(dying || rel_dying),
                "departed" => ev
                    .remote_unit
                    .as_ref()
                    .is_some_and(|r| ur.members.contains(r)),
                _ => true,
            }
        });
    }

    /// The next operation for `unit`, or `None` if it has nothing to run (or waits in error).
    pub fn next_op(&mut self, unit: &str) -> Option<Op> {
        let u = self.units.get(unit)?;
        if u.error.is_some() {
            return (u.retry_now && u.failed.is_some()).then_some(Op::Failed);
        }
        self.prune_queue(unit);
        let lsc = self.leader_settings_due(unit);
        let u = &self.units[unit];
        let config_pending = u.queue.iter().any(|e| e.hook == "config-changed");
        let install_pending = u.queue.iter().any(|e| e.hook == "install");
        let mut best: Option<(u8, Op)> = None;
        if lsc {
            best = Some((3, Op::LeaderSettingsChanged));
        }
        for (i, ev) in u.queue.iter().enumerate() {
            let Some(r) = rank(ev, u.dying) else { continue };
            // `start` is queued by a committed config-changed (runhook.go): it waits for it.
            if ev.hook == "start" && (config_pending || install_pending) {
                continue;
            }
            if best.as_ref().is_none_or(|(b, _)| r < *b) {
                best = Some((r, Op::Queued(i)));
            }
        }
        match best {
            Some((6, _)) => self.next_relation_hook(unit).map(Op::Queued),
            Some((_, op)) => Some(op),
            None => None,
        }
    }

    /// Among queued relation hooks (not `-created`), Juju's choice: the lowest relation id (Juju
    /// walks a Go map, so its order between relations is unspecified), then within it the order
    /// of `relation/resolver.go` `nextHookForRelation`.
    fn next_relation_hook(&self, unit: &str) -> Option<usize> {
        let u = &self.units[unit];
        let rel_events = |rel: u32, kind: &'static str| {
            u.queue.iter().enumerate().filter(move |(_, e)| {
                e.rel == Some(rel) && matches!(&e.kind, Kind::Rel(k) if k == kind)
            })
        };
        let rel = u
            .queue
            .iter()
            .filter(|e| matches!(&e.kind, Kind::Rel(k) if k != "created"))
            .filter_map(|e| e.rel)
            .min()?;
        let ur = u.rels.get(&rel);
        if let Some(pending) = ur.and_then(|r| r.changed_pending.as_ref()) {
            if let Some((i, _)) = rel_events(rel, "changed")
                .find(|(_, e)| e.remote_unit.as_deref() == Some(pending.as_str()))
            {
                return Some(i);
            }
        }
        if let Some(i) = go_sorted_first(rel_events(rel, "departed")) {
            return Some(i);
        }
        if let Some((i, _)) = rel_events(rel, "broken").next() {
            return Some(i);
        }
        if let Some((i, _)) = rel_events(rel, "changed").find(|(_, e)| e.remote_unit.is_none()) {
            return Some(i);
        }
        if let Some(i) = go_sorted_first(rel_events(rel, "joined")) {
            return Some(i);
        }
        go_sorted_first(rel_events(rel, "changed").filter(|(_, e)| e.remote_unit.is_some()))
    }

    /// A hook failed: keep its event for the retry and, with `automatically-retry-hooks`, start
    /// the back-off timer (5 s, doubling, at most 5 min).
    pub fn hook_failed(&mut self, unit: &str, ev: Event) {
        let now = self.clock;
        let auto = self.auto_retry_hooks;
        if let Some(u) = self.units.get_mut(unit) {
            u.error = Some(ev.hook.clone());
            u.failed = Some(ev);
            u.retry_now = false;
            if auto {
                u.retry_at = Some(now + u.retry_delay);
                u.retry_delay = (u.retry_delay * 2).min(RETRY_MAX);
            }
        }
    }

    /// Fire the retry timers of units in error whose time has come on the simulated clock.
    pub fn fire_retry_timers(&mut self, now: SystemTime) {
        for u in self.units.values_mut() {
            if u.error.is_some() && u.retry_at.is_some_and(|t| t <= now) {
                u.retry_at = None;
                u.retry_now = true;
            }
        }
    }
}
