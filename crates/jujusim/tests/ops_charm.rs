//! An unmodified `ops` charm runs against the simulator: relation data (unit + app), secrets
//! (add, grant, get by id+label, set, secret-changed), actions, status, ports, workload version.
//!
//! Needs a Python with `ops` installed, found as the Makefile does: `$JUJUSIM_PYTHON`, else the
//! repository's `.venv/bin/python3` (`make venv`), else `python3` on `PATH`. The test fails (not
//! skips) when that Python lacks `ops`, so CI notices.

mod common;

use std::path::{Path, PathBuf};

use serde_json::json;

fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("JUJUSIM_PYTHON") {
        return PathBuf::from(p);
    }
    let repo_root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let venv = repo_root.join(".venv/bin/python3");
    if venv.exists() {
        return venv;
    }
    PathBuf::from("python3")
}

/// Copy the probe charm into `dir` and give it a dispatch that runs ops on `src/charm.py`.
fn probe_charm(dir: &Path) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/charms/opsprobe");
    let dst = dir.join("opsprobe");
    std::fs::create_dir_all(dst.join("src")).unwrap();
    for f in [
        "metadata.yaml",
        "config.yaml",
        "actions.yaml",
        "src/charm.py",
    ] {
        std::fs::copy(src.join(f), dst.join(f)).unwrap();
    }
    common::write_exec(
        &dst.join("dispatch"),
        &format!(
            "#!/bin/sh\nJUJU_DISPATCH_PATH=\"${{JUJU_DISPATCH_PATH:-$0}}\" PYTHONPATH=lib exec {} ./src/charm.py\n",
            python().display()
        ),
    );
    dst
}

#[test]
fn ops_charm_relation_data_secrets_actions_status() {
    let t = tempfile::tempdir().unwrap();
    let charm = probe_charm(t.path());
    let mut m = jujusim::Model::new().unwrap();
    m.deploy("up", &charm, 1, Default::default()).unwrap();
    let cfg = json!({"ping": "hello"}).as_object().unwrap().clone();
    m.deploy("down", &charm, 2, cfg).unwrap();
    let rel = m.relate("up:data", "down:upstream").unwrap();
    m.settle().unwrap();

    // Secret created by the provider leader, app-owned, labelled; shared through app data.
    // (Both apps run the same charm, so each leader owns one; look at the provider's.)
    let up_secret = |m: &jujusim::Model| m.secrets().into_iter().find(|s| s.owner == "up").unwrap();
    let secrets = m.secrets();
    assert_eq!(secrets.len(), 2, "{secrets:?}");
    let s = &up_secret(&m);
    assert_eq!(s.label.as_deref(), Some("probe-secret"));
    assert_eq!(
        s.revisions
            .last()
            .unwrap()
            .get("password")
            .map(String::as_str),
        Some("s3cret")
    );
    let up_app = m.relation_data(rel, "up");
    assert!(up_app["secret-id"].contains(&s.id), "{up_app:?}");
    assert!(m.secret_grants(&s.id).contains_key("down"));

    // Requirer units wrote their unit bags; provider answered in unit and app bags.
    for u in ["down/0", "down/1"] {
        assert_eq!(m.relation_data(rel, u)["ping"], "hello");
        assert!(m.relation_data(rel, u).contains_key("private-address"));
        let st = m.unit_status(u);
        assert_eq!(
            (st.workload.as_str(), st.message.as_str()),
            ("active", "secret s3cret"),
            "{u}: {st:?}"
        );
    }
    assert_eq!(m.relation_data(rel, "up/0")["pong"], "hello");
    assert_eq!(m.relation_data(rel, "up")["last-ping"], "hello");
    assert_eq!(m.unit_status("up/0").workload, "active");
    assert_eq!(m.app_version("up"), "1.2.3");
    assert_eq!(m.opened_ports("up/0"), vec!["8080/tcp".to_string()]);
    // ops keeps its state in the unit's charm dir.
    assert!(m.charm_dir("down/1").join(".unit-state.db").exists());

    // New secret revision -> secret-changed on the consumers, which refresh.
    let from = m.hook_runs().len();
    m.set_config(
        "up",
        json!({"password": "n3w"}).as_object().unwrap().clone(),
    )
    .unwrap();
    m.settle().unwrap();
    assert_eq!(up_secret(&m).revisions.len(), 2);
    let changed: Vec<String> = m.hook_runs()[from..]
        .iter()
        .filter(|r| r.hook == "secret-changed")
        .map(|r| r.unit.clone())
        .collect();
    assert_eq!(changed, vec!["down/0", "down/1"]);
    assert_eq!(m.unit_status("down/1").message, "secret n3w");
    assert_eq!(
        m.secret_consumer_revision(&up_secret(&m).id, "down/0"),
        Some(2)
    );
    // Once no consumer tracks revision 1, the owner leader gets secret-remove for it and ops'
    // `SecretRemoveEvent.remove_revision()` deletes its content.
    let removes: Vec<(String, i32)> = m.hook_runs()[from..]
        .iter()
        .filter(|r| r.hook == "secret-remove")
        .map(|r| (r.unit.clone(), r.exit_code))
        .collect();
    assert_eq!(removes, vec![("up/0".to_string(), 0)]);
    let s = up_secret(&m);
    assert_eq!(s.removed_revisions, vec![1]);
    assert!(s.revisions[0].is_empty(), "{s:?}");
    assert_eq!(s.revisions[1]["password"], "n3w");
    assert!(
        m.logs("up/0")
            .iter()
            .any(|l| l.contains("removing revision 1 of probe-secret")),
        "{:?}",
        m.logs("up/0")
    );

    // Actions: nested results, logs, failure, reading the consumed secret.
    let r = m
        .run_action(
            "down/0",
            "echo",
            json!({"msg": "yo"}).as_object().unwrap().clone(),
        )
        .unwrap();
    assert_eq!(r.status, "completed", "{r:?}");
    assert_eq!(r.results, json!({"echo": {"msg": "yo"}, "unit": "down/0"}));
    assert_eq!(r.logs, vec!["echoing"]);
    let r = m.run_action("down/0", "echo", Default::default()).unwrap();
    assert_eq!(r.results["echo"]["msg"], "hi", "default param filled");
    let r = m.run_action("down/1", "fail", Default::default()).unwrap();
    assert_eq!((r.status.as_str(), r.message.as_str()), ("failed", "nope"));
    let r = m
        .run_action("down/1", "show-secret", Default::default())
        .unwrap();
    assert_eq!(r.results, json!({"password": "n3w"}), "{r:?}");
    assert!(m
        .run_action("down/1", "no-such-action", Default::default())
        .is_err());

    // Unrelate: broken on the requirer.
    m.unrelate(rel).unwrap();
    m.settle().unwrap();
    assert_eq!(m.unit_status("down/0").message, "upstream gone");
    assert!(!m.relation_ids().contains(&rel));
    assert!(
        m.secret_grants(&up_secret(&m).id).is_empty(),
        "grants revoked with the relation"
    );
}
