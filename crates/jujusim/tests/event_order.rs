//! Event order as Juju runs it (reference §3.3).

mod common;
use common::*;

#[test]
fn deploy_order_single_unit() {
    let t = tempfile::tempdir().unwrap();
    let prov = shell_charm(t.path(), "prov", PROV_META, CONFIG, ACTIONS);
    let mut m = jujusim::Model::new().unwrap();
    m.deploy("prov", &prov, 1, Default::default()).unwrap();
    m.settle().unwrap();
    assert_eq!(
        runs_since(&m, 0),
        vec![
            "prov/0 install",
            "prov/0 cluster-relation-created",
            "prov/0 leader-elected",
            "prov/0 config-changed",
            "prov/0 start"
        ]
    );
    assert_eq!(m.leader("prov").as_deref(), Some("prov/0"));
    // Never called status-set: unknown after start.
    assert_eq!(m.unit_status("prov/0").workload, "unknown");
}
