//! Forgetting units and relations once they are gone.

use crate::state::State;

/// Delete a unit that ran `remove` (or a puppet unit), with its bags and consumer records.
pub(super) fn drop_unit(st: &mut State, unit: &str) {
    let rels: Vec<u32> = st
        .units
        .get(unit)
        .map(|u| u.rels.keys().copied().collect())
        .unwrap_or_default();
    st.units.remove(unit);
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
