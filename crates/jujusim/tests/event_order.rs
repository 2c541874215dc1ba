//! Event order as Juju runs it (`docs/juju-hook-contract.md` §3.3).

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

#[test]
fn deploy_order_with_peers() {
    let t = tempfile::tempdir().unwrap();
    let prov = shell_charm(t.path(), "prov", PROV_META, CONFIG, ACTIONS);
    let mut m = jujusim::Model::new().unwrap();
    m.deploy("prov", &prov, 3, Default::default()).unwrap();
    m.settle().unwrap();
    assert_eq!(
        runs_of(&m, "prov/0", 0),
        vec![
            "install",
            "cluster-relation-created",
            "leader-elected",
            "config-changed",
            "start",
            "cluster-relation-joined prov/1",
            "cluster-relation-changed prov/1",
            "cluster-relation-joined prov/2",
            "cluster-relation-changed prov/2",
        ]
    );
    assert_eq!(
        runs_of(&m, "prov/2", 0),
        vec![
            "install",
            "cluster-relation-created",
            "leader-settings-changed",
            "config-changed",
            "start",
            "cluster-relation-joined prov/0",
            "cluster-relation-changed prov/0",
            "cluster-relation-joined prov/1",
            "cluster-relation-changed prov/1",
        ]
    );
    assert_eq!(m.units("prov"), vec!["prov/0", "prov/1", "prov/2"]);
}

#[test]
fn relate_before_start_runs_created_after_install() {
    let t = tempfile::tempdir().unwrap();
    let prov = shell_charm(t.path(), "prov", PROV_META, CONFIG, ACTIONS);
    let req = shell_charm(t.path(), "req", REQ_META, "", "");
    let mut m = jujusim::Model::new().unwrap();
    m.deploy("prov", &prov, 1, Default::default()).unwrap();
    m.deploy("req", &req, 1, Default::default()).unwrap();
    m.relate("prov", "req").unwrap();
    m.settle().unwrap();
    assert_eq!(
        runs_of(&m, "req/0", 0),
        vec![
            "install",
            "certs-relation-created",
            "leader-elected",
            "config-changed",
            "start",
            "certs-relation-joined prov/0",
            "certs-relation-changed prov/0",
        ]
    );
}

#[test]
fn relate_three_units_then_changed_only_after_commit() {
    let t = tempfile::tempdir().unwrap();
    let mut m = two_apps(t.path(), 3, 1);
    let start = m.hook_runs().len();
    let rel = m.relate("prov:certs", "req:certs").unwrap();
    // The requirer writes its unit bag once, on the first -changed it sees; the leader also writes
    // the app bag.
    install_script(
        &m,
        "req",
        r#"case "$JUJU_HOOK_NAME" in certs-relation-changed)
  [ -f done ] || { relation-set csr=abc && relation-set --app req=1 && touch done; } ;;
esac"#,
    );
    m.settle().unwrap();
    for u in ["prov/0", "prov/1", "prov/2"] {
        assert_eq!(
            runs_of(&m, u, start),
            vec![
                "certs-relation-created",
                "certs-relation-joined req/0",
                "certs-relation-changed req/0",
                // The requirer wrote after this unit's first -changed ran: the app-level change
                // (JUJU_REMOTE_UNIT empty) comes first, then the unit change, as Juju's resolver
                // orders them.
                "certs-relation-changed",
                "certs-relation-changed req/0",
            ],
            "{u}"
        );
    }
    assert_eq!(
        runs_of(&m, "req/0", start),
        vec![
            "certs-relation-created",
            "certs-relation-joined prov/0",
            "certs-relation-changed prov/0",
            "certs-relation-joined prov/1",
            "certs-relation-changed prov/1",
            "certs-relation-joined prov/2",
            "certs-relation-changed prov/2",
        ],
        "the writer never gets -changed for its own write"
    );
    assert_eq!(m.relation_data(rel, "req/0")["csr"], "abc");
    assert_eq!(m.relation_data(rel, "req")["req"], "1");
    // Two committed writes before the other side runs coalesce into one -changed.
    let from = m.hook_runs().len();
    m.set_relation_data(rel, "req/0", [("csr".to_string(), "1".to_string())].into())
        .unwrap();
    m.set_relation_data(rel, "req/0", [("csr".to_string(), "2".to_string())].into())
        .unwrap();
    m.settle().unwrap();
    assert_eq!(
        runs_since(&m, from),
        vec![
            "prov/0 certs-relation-changed req/0",
            "prov/1 certs-relation-changed req/0",
            "prov/2 certs-relation-changed req/0"
        ]
    );

    // A later committed write by a provider unit reaches only the requirer.
    let from = m.hook_runs().len();
    m.set_relation_data(
        rel,
        "prov/1",
        [("certificate".to_string(), "x".to_string())].into(),
    )
    .unwrap();
    m.settle().unwrap();
    assert_eq!(
        runs_since(&m, from),
        vec!["req/0 certs-relation-changed prov/1"]
    );

    // relation-list shows the joined units.
    let out = call(
        &mut m,
        "req/0",
        &[
            "relation-list",
            "-r",
            &format!("certs:{rel}"),
            "--format=json",
        ],
    );
    assert_eq!(out.stdout, "[\"prov/0\",\"prov/1\",\"prov/2\"]\n");
}

#[test]
fn failed_write_queues_nothing() {
    let t = tempfile::tempdir().unwrap();
    let mut m = two_apps(t.path(), 1, 1);
    let rel = m.relate("prov", "req").unwrap();
    m.settle().unwrap();
    let from = m.hook_runs().len();
    let code = run_script(
        &mut m,
        "req/0",
        "update-status",
        &format!("relation-set -r {rel} a=b\nexit 1"),
    );
    assert_eq!(code, 1);
    m.resolve("req/0", false).unwrap();
    m.settle().unwrap();
    assert_eq!(runs_since(&m, from), vec!["req/0 update-status"]);
    assert!(!m.relation_data(rel, "req/0").contains_key("a"));
}

#[test]
fn unrelate_departed_then_broken() {
    let t = tempfile::tempdir().unwrap();
    let mut m = two_apps(t.path(), 2, 1);
    let rel = m.relate("prov", "req").unwrap();
    m.settle().unwrap();
    install_script(&m, "req", "echo \"$JUJU_HOOK_NAME remote=$JUJU_REMOTE_UNIT departing=${JUJU_DEPARTING_UNIT-unset} app=$JUJU_REMOTE_APP ids=$(relation-ids certs --format=json)\" >> events.log");
    let from = m.hook_runs().len();
    m.unrelate(rel).unwrap();
    assert!(!m.relation_ids().contains(&rel));
    m.settle().unwrap();
    assert_eq!(
        runs_of(&m, "req/0", from),
        vec![
            "certs-relation-departed prov/0",
            "certs-relation-departed prov/1",
            "certs-relation-broken"
        ]
    );
    assert_eq!(
        runs_of(&m, "prov/1", from),
        vec!["certs-relation-departed req/0", "certs-relation-broken"]
    );
    let log = std::fs::read_to_string(m.charm_dir("req/0").join("events.log")).unwrap();
    assert_eq!(
        log,
        format!(
            "certs-relation-departed remote=prov/0 departing=prov/0 app=prov ids=[\"certs:{rel}\"]\n\
             certs-relation-departed remote=prov/1 departing=prov/1 app=prov ids=[\"certs:{rel}\"]\n\
             certs-relation-broken remote= departing=unset app=prov ids=[]\n"
        )
    );
}

#[test]
fn remove_unit_order() {
    let t = tempfile::tempdir().unwrap();
    let mut m = two_apps(t.path(), 3, 1);
    m.relate("prov", "req").unwrap();
    m.settle().unwrap();
    let from = m.hook_runs().len();
    m.remove_unit("prov/2").unwrap();
    m.settle().unwrap();
    assert_eq!(
        runs_of(&m, "req/0", from),
        vec!["certs-relation-departed prov/2"]
    );
    assert_eq!(
        runs_of(&m, "prov/0", from),
        vec!["cluster-relation-departed prov/2"]
    );
    assert_eq!(
        runs_of(&m, "prov/1", from),
        vec!["cluster-relation-departed prov/2"]
    );
    assert_eq!(
        runs_of(&m, "prov/2", from),
        vec![
            "cluster-relation-departed prov/0",
            "cluster-relation-departed prov/1",
            "cluster-relation-broken",
            "certs-relation-departed req/0",
            "certs-relation-broken",
            "stop",
            "remove",
        ]
    );
    assert_eq!(m.units("prov"), vec!["prov/0", "prov/1"]);
    // Scale back up: new unit number, joins on both sides.
    let from = m.hook_runs().len();
    assert_eq!(m.add_unit("prov").unwrap(), "prov/3");
    m.settle().unwrap();
    assert_eq!(
        runs_of(&m, "req/0", from),
        vec![
            "certs-relation-joined prov/3",
            "certs-relation-changed prov/3"
        ]
    );
    assert_eq!(
        runs_of(&m, "prov/3", from),
        vec![
            "install",
            "cluster-relation-created",
            "certs-relation-created",
            "leader-settings-changed",
            "config-changed",
            "start",
            "cluster-relation-joined prov/0",
            "cluster-relation-changed prov/0",
            "cluster-relation-joined prov/1",
            "cluster-relation-changed prov/1",
            "certs-relation-joined req/0",
            "certs-relation-changed req/0",
        ]
    );
}

#[test]
fn leader_change() {
    let t = tempfile::tempdir().unwrap();
    let mut m = two_apps(t.path(), 3, 1);
    let from = m.hook_runs().len();
    m.set_leader("prov/1").unwrap();
    m.settle().unwrap();
    // Juju 3.x: the deposed leader never ran leader-settings-changed while leader, so its
    // leader-settings version lags and it runs one now (worker/uniter/leadership/resolver.go).
    assert_eq!(
        runs_since(&m, from),
        vec!["prov/0 leader-settings-changed", "prov/1 leader-elected"]
    );
    assert_eq!(m.leader("prov").as_deref(), Some("prov/1"));
    let out = call(&mut m, "prov/0", &["is-leader", "--format=json"]);
    assert_eq!(out.stdout, "false\n");
    // Removing the leader elects another unit.
    let from = m.hook_runs().len();
    m.remove_unit("prov/1").unwrap();
    m.settle().unwrap();
    assert_eq!(m.leader("prov").as_deref(), Some("prov/0"));
    assert!(runs_since(&m, from).contains(&"prov/0 leader-elected".to_string()));
}

#[test]
fn secret_expiry_and_rotation() {
    let t = tempfile::tempdir().unwrap();
    let mut m = two_apps(t.path(), 2, 1);
    let out = calls_in_hook(
        &mut m,
        "prov/0",
        "update-status",
        &[
            (
                &[
                    "secret-add",
                    "--label",
                    "exp",
                    "--expire",
                    "1h",
                    "key=value",
                ],
                None,
            ),
            (
                &[
                    "secret-add",
                    "--label",
                    "rot",
                    "--rotate",
                    "daily",
                    "key=value",
                ],
                None,
            ),
        ],
        0,
    );
    assert_eq!(out[0].code, 0, "{:?}", out[0]);
    let exp_id = out[0].stdout.trim().rsplit('/').next().unwrap().to_string();
    let rot_id = out[1].stdout.trim().rsplit('/').next().unwrap().to_string();
    install_script(&m, "prov", "echo \"$JUJU_HOOK_NAME id=$JUJU_SECRET_ID label=$JUJU_SECRET_LABEL rev=${JUJU_SECRET_REVISION-unset}\" >> secret.log");
    let from = m.hook_runs().len();
    m.advance_clock(std::time::Duration::from_secs(1800));
    m.settle().unwrap();
    assert!(runs_since(&m, from).is_empty());
    m.advance_clock(std::time::Duration::from_secs(3600));
    m.settle().unwrap();
    assert_eq!(runs_since(&m, from), vec!["prov/0 secret-expired"]);
    m.advance_clock(std::time::Duration::from_secs(86400));
    m.settle().unwrap();
    assert_eq!(
        runs_since(&m, from),
        vec!["prov/0 secret-expired", "prov/0 secret-rotate"]
    );
    let log = std::fs::read_to_string(m.charm_dir("prov/0").join("secret.log")).unwrap();
    assert_eq!(
        log,
        format!("secret-expired id=secret:{exp_id} label=exp rev=1\nsecret-rotate id=secret:{rot_id} label=rot rev=unset\n")
    );
    // App-owned: after a leader change the new leader gets the owner events.
    m.set_leader("prov/1").unwrap();
    m.settle().unwrap();
    let from = m.hook_runs().len();
    m.advance_clock(std::time::Duration::from_secs(86400));
    m.settle().unwrap();
    assert_eq!(runs_since(&m, from), vec!["prov/1 secret-rotate"]);
}

#[test]
fn peer_writes_reach_the_other_peers_only() {
    let t = tempfile::tempdir().unwrap();
    let mut m = two_apps(t.path(), 3, 1);
    let peer = m.find_relation("prov:cluster").unwrap();
    let from = m.hook_runs().len();
    let o = calls_in_hook(
        &mut m,
        "prov/0",
        "update-status",
        &[
            (
                &["relation-set", "-r", &peer.to_string(), "--app", "k=v"],
                None,
            ),
            (&["relation-set", "-r", &peer.to_string(), "u=1"], None),
        ],
        0,
    );
    assert!(o.iter().all(|x| x.code == 0), "{o:?}");
    assert_eq!(
        runs_since(&m, from),
        vec![
            "prov/0 update-status",
            "prov/1 cluster-relation-changed",
            "prov/2 cluster-relation-changed",
            "prov/1 cluster-relation-changed prov/0",
            "prov/2 cluster-relation-changed prov/0",
        ]
    );
    // A non-leader peer reads the peer app bag.
    let o = call(
        &mut m,
        "prov/2",
        &[
            "relation-get",
            "-r",
            &peer.to_string(),
            "--app",
            "k",
            "prov",
        ],
    );
    assert_eq!((o.code, o.stdout.as_str()), (0, "v\n"));
}

/// The status table names each side by the role its endpoint has in the charm's metadata, not
/// by the order the applications were related in.
#[test]
fn status_names_provider_and_requirer_by_role() {
    let t = tempfile::tempdir().unwrap();
    let mut m = two_apps(t.path(), 1, 1);
    let rel = m.relate("req", "prov").unwrap();
    m.settle().unwrap();
    let table = m.status_table();
    let row = table
        .lines()
        .find(|l| l.starts_with(&format!("{rel} ")))
        .unwrap_or_else(|| panic!("no row for relation {rel}:\n{table}"));
    let cols: Vec<&str> = row.split_whitespace().collect();
    assert!(cols[1].starts_with("prov:"), "provider first: {row}");
    assert!(cols[2].starts_with("req:"), "requirer second: {row}");
}
