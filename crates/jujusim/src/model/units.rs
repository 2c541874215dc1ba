//! Adding and removing units, leadership, and queuing plain hooks on units.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::PathBuf;

use super::charm_files::copy_dir;
use super::relations::{address_bag, enter_scope};
use super::teardown::drop_unit;
use super::{io, Model};
use crate::error::SimError;
use crate::state::{app_of, sort_units, Event, State, Unit};
use crate::views::Databag;

impl Model {
    /// Add a unit to `app`; returns its name. Queues its deploy hooks and the joins on both sides.
    pub fn add_unit(&mut self, app: &str) -> Result<String, SimError> {
        let mut st = self.st();
        let (n, puppet, src) = {
            let a = st.apps.get_mut(app).ok_or_else(|| SimError::no_app(app))?;
            let n = a.next_unit;
            a.next_unit += 1;
            (n, a.puppet, a.charm_src.clone())
        };
        let unit = format!("{app}/{n}");
        let machine = st.next_machine;
        st.next_machine += 1;
        let address = format!("10.0.0.{}", machine + 10);
        let charm_dir = self
            .root
            .path()
            .join("agents")
            .join(format!("unit-{app}-{n}"))
            .join("charm");
        if let Some(src) = &src {
            copy_dir(src, &charm_dir)?;
        } else {
            std::fs::create_dir_all(&charm_dir).map_err(io(charm_dir.display()))?;
        }
        let record = new_unit(&unit, app, charm_dir, &address, machine, puppet, st.clock);
        st.units.insert(unit.clone(), record);
        let became_leader = {
            let a = st.apps.get_mut(app).expect("app");
            if a.leader.is_none() {
                a.leader = Some(unit.clone());
                true
            } else {
                false
            }
        };
        st.push(&unit, Event::plain("install"));
        let joins = enter_relation_scopes(&mut st, app, &unit, &address);
        if became_leader {
            st.push(&unit, Event::plain("leader-elected"));
        }
        // Others run leader-settings-changed in Juju 3.x mode: derived from versions
        // (state/resolver.rs), not queued.
        st.push(&unit, Event::plain("config-changed"));
        st.push(&unit, Event::plain("start"));
        queue_joins(&mut st, app, &unit, joins);
        Ok(unit)
    }

    /// Remove a unit: the others get `-departed`; it gets `-departed`, `-broken`, `stop`, `remove`.
    pub fn remove_unit(&mut self, unit: &str) -> Result<(), SimError> {
        let mut st = self.st();
        let u = st.units.get(unit).ok_or_else(|| SimError::no_unit(unit))?;
        if u.dying {
            return Ok(());
        }
        let rels: Vec<(u32, ())> = u.rels.keys().map(|id| (*id, ())).collect();
        st.units.get_mut(unit).expect("unit").dying = true;
        for (id, _) in &rels {
            // Everyone else who knows this unit sees it depart, if its -joined ran there; a join
            // (and its -changed) still queued is cancelled: Juju's resolver compares remote
            // members with local ones, so a unit that came and went never fires
            // (relation/resolver.go `nextHookForRelation`).
            let others: Vec<String> = st
                .units
                .values()
                .filter(|o| {
                    o.name != unit
                        && o.rels
                            .get(id)
                            .map(|r| r.known.contains(unit))
                            .unwrap_or(false)
                })
                .map(|o| o.name.clone())
                .collect();
            for o in others {
                let mut member = false;
                if let Some(x) = st.units.get_mut(&o) {
                    x.queue.retain(|e| {
                        !(e.rel == Some(*id)
                            && e.remote_unit.as_deref() == Some(unit)
                            && matches!(&e.kind, crate::state::Kind::Rel(k) if k == "joined" || k == "changed"))
                    });
                    if let Some(ur) = x.rels.get_mut(id) {
                        ur.known.remove(unit);
                        member = ur.members.contains(unit);
                        if ur.changed_pending.as_deref() == Some(unit) {
                            ur.changed_pending = None;
                        }
                    }
                }
                if member {
                    st.push_rel(&o, *id, "departed", Some(unit), Some(unit));
                }
            }
            // The unit itself departs each remote unit whose -joined ran, then breaks.
            let mut members: Vec<String> =
                st.units[unit].rels[id].members.iter().cloned().collect();
            members.sort();
            for k in &members {
                st.push_rel(unit, *id, "departed", Some(k), Some(unit));
            }
            st.push_rel(unit, *id, "broken", None, None);
        }
        st.push(unit, Event::plain("stop"));
        st.push(unit, Event::plain("remove"));
        // A dying leader keeps leadership until it is gone (teardown.rs `drop_unit`).
        if st.is_puppet(unit) {
            drop_unit(&mut st, unit);
        }
        Ok(())
    }

    /// Make `unit` the leader of its application; queues `leader-elected` on it.
    pub fn set_leader(&mut self, unit: &str) -> Result<(), SimError> {
        let mut st = self.st();
        if !st.units.get(unit).map(|u| !u.dying).unwrap_or(false) {
            return Err(SimError::no_unit(unit));
        }
        let app = app_of(unit).to_string();
        if st.is_leader(unit) {
            return Ok(());
        }
        st.apps.get_mut(&app).expect("app").leader = Some(unit.to_string());
        st.push(unit, Event::plain("leader-elected"));
        Ok(())
    }

    /// Queue `update-status` on each unit of `app`.
    pub fn update_status(&mut self, app: &str) {
        let mut st = self.st();
        for u in st.live_app_units(app) {
            st.push(&u, Event::plain("update-status"));
        }
    }

    /// Queue any plain (non-relation) hook on a unit.
    pub fn queue_hook(&mut self, unit: &str, hook: &str) {
        self.st().push(unit, Event::plain(hook));
    }
}

/// The record of a new unit: a puppet unit is active and started at once.
fn new_unit(
    unit: &str,
    app: &str,
    charm_dir: PathBuf,
    address: &str,
    machine: usize,
    puppet: bool,
    now: std::time::SystemTime,
) -> Unit {
    Unit {
        name: unit.to_string(),
        app: app.to_string(),
        charm_dir,
        address: address.to_string(),
        machine,
        status: if puppet {
            ("active".into(), String::new())
        } else {
            ("waiting".into(), "agent initialising".into())
        },
        status_set: false,
        status_since: now,
        error: None,
        failed: None,
        retry_now: false,
        retry_at: None,
        retry_delay: crate::state::RETRY_MIN,
        leader_settings_seen: 0,
        queue: VecDeque::new(),
        state: Databag::new(),
        ports: BTreeSet::new(),
        logs: Vec::new(),
        started: puppet,
        dying: false,
        rels: BTreeMap::new(),
    }
}

/// Enter the scope of every live relation of the app: the unit's address bag, its view of the
/// remote units, `-relation-created`. Returns each relation with the remote units to join.
fn enter_relation_scopes(
    st: &mut State,
    app: &str,
    unit: &str,
    address: &str,
) -> Vec<(u32, Vec<String>)> {
    let rels: Vec<u32> = st
        .relations
        .values()
        .filter(|r| r.involves(app) && !r.dying)
        .map(|r| r.id)
        .collect();
    let mut joins: Vec<(u32, Vec<String>)> = Vec::new();
    for id in &rels {
        let r = &st.relations[id];
        let remote_app = r.remote_app(app).unwrap_or(app).to_string();
        let mut remotes: Vec<String> = st
            .live_app_units(&remote_app)
            .into_iter()
            .filter(|u| *u != unit)
            .collect();
        sort_units(&mut remotes);
        let r = st.relations.get_mut(id).expect("rel");
        r.bags.insert(unit.to_string(), address_bag(address));
        enter_scope(st, unit, *id, remotes.iter().cloned().collect());
        joins.push((*id, remotes));
    }
    joins
}

/// Queue the new unit's `-changed` for an app bag already written, and `-joined`/`-changed` both
/// ways between it and each remote unit.
fn queue_joins(st: &mut State, app: &str, unit: &str, joins: Vec<(u32, Vec<String>)>) {
    for (id, remotes) in joins {
        let r = &st.relations[&id];
        let remote_app = r.remote_app(app).unwrap_or(app).to_string();
        let remote_app_bag_set = !r.peer
            && r.bags
                .get(&remote_app)
                .map(|b| !b.is_empty())
                .unwrap_or(false);
        let peer_app_bag_set = r.peer && r.bags.get(app).map(|b| !b.is_empty()).unwrap_or(false);
        if remote_app_bag_set || peer_app_bag_set {
            st.push_rel(unit, id, "changed", None, None);
        }
        for rem in &remotes {
            st.push_rel(unit, id, "joined", Some(rem), None);
            st.push_rel(unit, id, "changed", Some(rem), None);
            if let Some(ur) = st.units.get_mut(rem).and_then(|u| u.rels.get_mut(&id)) {
                ur.known.insert(unit.to_string());
            }
            st.push_rel(rem, id, "joined", Some(unit), None);
            st.push_rel(rem, id, "changed", Some(unit), None);
        }
    }
}
