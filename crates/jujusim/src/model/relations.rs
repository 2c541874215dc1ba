//! Relations: relating and unrelating applications, scope entry, and the bags tests read and write.

use std::collections::{BTreeMap, BTreeSet};

use super::teardown::gc_relation;
use super::Model;
use crate::error::SimError;
use crate::meta::Role;
use crate::state::{Relation, State, UnitRel};
use crate::views::Databag;

impl Model {
    /// Relate two endpoints (`"app:endpoint"` or `"app"` when unambiguous); returns the relation id.
    pub fn relate(&mut self, a: &str, b: &str) -> Result<u32, SimError> {
        let mut st = self.st();
        let (app_a, ep_a) = parse_endpoint_arg(a);
        let (app_b, ep_b) = parse_endpoint_arg(b);
        for app in [app_a, app_b] {
            if !st.apps.contains_key(app) {
                return Err(SimError::no_app(app));
            }
        }
        let (ea, eb, interface) = match_endpoints(&st, (a, app_a, ep_a), (b, app_b, ep_b))?;
        if relation_exists(&st, (app_a, &ea), (app_b, &eb)) {
            return Err(SimError::Invalid(format!(
                "relation {app_a}:{ea} {app_b}:{eb} already exists"
            )));
        }
        let id = st.new_relation_id();
        let mut bags = BTreeMap::new();
        bags.insert(app_a.to_string(), Databag::new());
        bags.insert(app_b.to_string(), Databag::new());
        let units_a = st.live_app_units(app_a);
        let units_b = st.live_app_units(app_b);
        for u in units_a.iter().chain(units_b.iter()) {
            bags.insert(u.clone(), address_bag(&st.units[u].address));
        }
        st.relations.insert(
            id,
            Relation {
                id,
                ends: [(app_a.to_string(), ea), (app_b.to_string(), eb)],
                interface,
                peer: false,
                bags,
                dying: false,
            },
        );
        for (mine, theirs) in [(&units_a, &units_b), (&units_b, &units_a)] {
            for u in mine {
                enter_scope(&mut st, u, id, theirs.iter().cloned().collect());
            }
        }
        for (mine, theirs) in [(&units_a, &units_b), (&units_b, &units_a)] {
            for u in mine {
                for r in theirs {
                    st.push_rel(u, id, "joined", Some(r), None);
                    st.push_rel(u, id, "changed", Some(r), None);
                }
            }
        }
        Ok(id)
    }

    /// Remove a relation: `-departed` for each remote unit, then `-broken`, on every unit.
    pub fn unrelate(&mut self, rel: u32) -> Result<(), SimError> {
        let mut st = self.st();
        let r = st
            .relations
            .get_mut(&rel)
            .ok_or_else(|| SimError::NotFound(format!("relation {rel}")))?;
        if r.peer {
            return Err(SimError::Invalid("cannot remove a peer relation".into()));
        }
        if r.dying {
            return Ok(());
        }
        r.dying = true;
        let units: Vec<String> = st
            .units
            .values()
            .filter(|u| u.rels.contains_key(&rel))
            .map(|u| u.name.clone())
            .collect();
        for u in &units {
            // Departs only for units whose -joined ran; queued joins and changes on the dying
            // relation never fire (state/resolver.rs prunes them).
            let mut members: Vec<String> = st.units[u].rels[&rel].members.iter().cloned().collect();
            members.sort();
            for k in &members {
                st.push_rel(u, rel, "departed", Some(k), Some(k));
            }
            st.push_rel(u, rel, "broken", None, None);
            if st.is_puppet(u) {
                st.units.get_mut(u).expect("unit").rels.remove(&rel);
            }
        }
        for s in st.secrets.values_mut() {
            s.grants.retain(|_, r| *r != rel);
        }
        gc_relation(&mut st, rel);
        Ok(())
    }

    /// Replace a bag as a committed write by its owner would; queues `-changed` on the other side.
    pub fn set_relation_data(
        &mut self,
        rel: u32,
        owner: &str,
        data: Databag,
    ) -> Result<(), SimError> {
        let mut st = self.st();
        let r = st
            .relations
            .get(&rel)
            .ok_or_else(|| SimError::NotFound(format!("relation {rel}")))?;
        if !r.bags.contains_key(owner) {
            return Err(SimError::NotFound(format!(
                "{owner:?} is not in relation {rel}"
            )));
        }
        let changed = r.bags.get(owner) != Some(&data);
        st.relations
            .get_mut(&rel)
            .expect("rel")
            .bags
            .insert(owner.to_string(), data);
        if changed {
            let writer = if owner.contains('/') {
                Some(owner.to_string())
            } else {
                st.apps.get(owner).and_then(|a| a.leader.clone())
            };
            st.notify_bag_change(rel, owner, writer.as_deref());
        }
        Ok(())
    }

    /// The committed bag of `owner` (`"app/0"` or `"app"`); empty if none.
    pub fn relation_data(&self, rel: u32, owner: &str) -> Databag {
        self.st().bag(rel, owner).cloned().unwrap_or_default()
    }

    /// Live (not dying) relation ids, peers included.
    pub fn relation_ids(&self) -> Vec<u32> {
        self.st()
            .relations
            .values()
            .filter(|r| !r.dying)
            .map(|r| r.id)
            .collect()
    }

    /// `(app, endpoint)` pairs of a relation (both the same app for peers).
    pub fn relation_endpoints(&self, rel: u32) -> Option<[(String, String); 2]> {
        self.st().relations.get(&rel).map(|r| r.ends.clone())
    }

    /// Find a live relation by `"app:endpoint"` (or `"app"` if it has exactly one relation).
    pub fn find_relation(&self, spec: &str) -> Option<u32> {
        let (app, ep) = parse_endpoint_arg(spec);
        let st = self.st();
        let v: Vec<u32> = st
            .relations
            .values()
            .filter(|r| {
                !r.dying
                    && r.ends
                        .iter()
                        .any(|(a, e)| a == app && ep.is_none_or(|x| x == e))
            })
            .filter(|r| ep.is_some() || !r.peer)
            .map(|r| r.id)
            .collect();
        (v.len() == 1).then(|| v[0])
    }
}

/// `"app:endpoint"` or `"app"` as (app, endpoint).
fn parse_endpoint_arg(s: &str) -> (&str, Option<&str>) {
    match s.split_once(':') {
        Some((a, e)) => (a, Some(e)),
        None => (s, None),
    }
}

/// The one provides/requires pair of endpoints with the same interface the two arguments name:
/// (endpoint of a, endpoint of b, interface). Each side is (argument, app, endpoint if given).
fn match_endpoints(
    st: &State,
    (a, app_a, ep_a): (&str, &str, Option<&str>),
    (b, app_b, ep_b): (&str, &str, Option<&str>),
) -> Result<(String, String, String), SimError> {
    let mut candidates = Vec::new();
    for (ea, ia, ra) in st.endpoints(app_a) {
        if ep_a.is_some_and(|e| e != ea) || ra == Role::Peers {
            continue;
        }
        for (eb, ib, rb) in st.endpoints(app_b) {
            if ep_b.is_some_and(|e| e != eb) || rb == Role::Peers || ia != ib {
                continue;
            }
            if (ra == Role::Provides && rb == Role::Requires)
                || (ra == Role::Requires && rb == Role::Provides)
            {
                candidates.push((ea.clone(), eb.clone(), ia.clone()));
            }
        }
    }
    match candidates.len() {
        0 => Err(SimError::Invalid(format!(
            "no matching endpoints for {a} and {b}"
        ))),
        1 => Ok(candidates.remove(0)),
        _ => {
            let list: Vec<String> = candidates
                .iter()
                .map(|(x, y, _)| format!("{app_a}:{x} {app_b}:{y}"))
                .collect();
            Err(SimError::Invalid(format!(
                "ambiguous relation {a} {b}: candidates {}",
                list.join(", ")
            )))
        }
    }
}

/// Whether a live relation already joins these two (app, endpoint) ends, in either order.
fn relation_exists(st: &State, (app_a, ea): (&str, &str), (app_b, eb): (&str, &str)) -> bool {
    let end_a = (app_a.to_string(), ea.to_string());
    let end_b = (app_b.to_string(), eb.to_string());
    st.relations.values().any(|r| {
        !r.dying
            && ((r.ends[0] == end_a && r.ends[1] == end_b)
                || (r.ends[1] == end_a && r.ends[0] == end_b))
    })
}

/// The bag Juju writes for a unit entering a relation's scope.
pub(super) fn address_bag(address: &str) -> Databag {
    Databag::from([
        ("private-address".to_string(), address.to_string()),
        ("ingress-address".to_string(), address.to_string()),
        ("egress-subnets".to_string(), format!("{address}/32")),
    ])
}

/// `unit` enters the scope of `rel`, knowing the remote units `known`; queues `-relation-created`.
pub(super) fn enter_scope(st: &mut State, unit: &str, rel: u32, known: BTreeSet<String>) {
    st.units.get_mut(unit).expect("unit").rels.insert(
        rel,
        UnitRel {
            members: BTreeSet::new(),
            known,
            broken: false,
            changed_pending: None,
            cache: BTreeMap::new(),
        },
    );
    st.push_created(unit, rel);
}
