//! Forgetting units and relations once they are gone.

use crate::state::{app_of, Event, State};

/// Delete a unit that ran `remove` (or a puppet unit), with its bags and consumer records.
pub(super) fn drop_unit(st: &mut State, unit: &str) {
    let rels: Vec<u32> = st
        .units
        .get(unit)
        .map(|u| u.rels.keys().copied().collect())
        .unwrap_or_default();
    let was_leader = st.is_leader(unit);
    st.units.remove(unit);
    if was_leader {
        // A dying leader keeps the lease until it is gone; then another unit is elected
        // (a live one if any; a dying one never runs leader-elected).
        let app = app_of(unit).to_string();
        let live = st.live_app_units(&app);
        let next = live
            .first()
            .cloned()
            .or_else(|| st.app_units(&app).into_iter().next());
        if let Some(a) = st.apps.get_mut(&app) {
            a.leader = next.clone();
        }
        if let Some(n) = next {
            st.push(&n, Event::plain("leader-elected"));
        }
    }
    for r in st.relations.values_mut() {
        r.bags.remove(unit);
    }
    for rel in rels {
        gc_relation(st, rel);
    }
    for s in st.secrets.values_mut() {
        s.consumers.remove(unit);
        s.peer_readers.remove(unit);
    }
}

/// Delete a dying relation once no unit holds it.
pub(super) fn gc_relation(st: &mut State, rel: u32) {
    let dying = st.relations.get(&rel).map(|r| r.dying).unwrap_or(false);
    if dying && !st.units.values().any(|u| u.rels.contains_key(&rel)) {
        st.relations.remove(&rel);
    }
}
