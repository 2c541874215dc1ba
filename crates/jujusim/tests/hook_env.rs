//! Hook environment, dispatch, transactionality and failure handling (`docs/juju-hook-contract.md`
//! §2, §3.1, §3.4, §3.5).

mod common;

use std::collections::BTreeMap;
use std::io::Write;

use common::*;
use jujusim::{Model, SimError};

fn env_of(m: &Model, unit: &str, file: &str) -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(m.charm_dir(unit).join(file)).unwrap();
    text.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

const ENV_DUMP: &str =
    "env > \"env.${JUJU_HOOK_NAME:-action-$JUJU_ACTION_NAME}\"\npwd > pwd.txt\ncat > stdin.txt\n";

#[test]
fn hook_environment_is_exactly_jujus() {
    let t = tempfile::tempdir().unwrap();
    let prov = shell_charm(t.path(), "prov", PROV_META, CONFIG, ACTIONS);
    write_exec(&prov.join("hook.sh"), &format!("#!/bin/sh\n{ENV_DUMP}"));
    let req = shell_charm(t.path(), "req", REQ_META, "", "");
    std::env::set_var("LEAKY_VAR", "1");
    let mut m = Model::new().unwrap();
    m.deploy("prov", &prov, 1, Default::default()).unwrap();
    m.deploy("req", &req, 1, Default::default()).unwrap();
    let rel = m.relate("prov", "req").unwrap();
    m.settle().unwrap();

    let env = env_of(&m, "prov/0", "env.install");
    let dir = m.charm_dir("prov/0");
    let keys: Vec<&str> = env.keys().map(String::as_str).collect();
    let mut expected = vec![
        "APT_LISTCHANGES_FRONTEND",
        "CHARM_DIR",
        "CLOUD_API_VERSION",
        "DEBIAN_FRONTEND",
        "JUJU_AGENT_SOCKET_ADDRESS",
        "JUJU_AGENT_SOCKET_NETWORK",
        "JUJU_API_ADDRESSES",
        "JUJU_AVAILABILITY_ZONE",
        "JUJU_CHARM_DIR",
        "JUJU_CHARM_FTP_PROXY",
        "JUJU_CHARM_HTTPS_PROXY",
        "JUJU_CHARM_HTTP_PROXY",
        "JUJU_CHARM_NO_PROXY",
        "JUJU_CONTEXT_ID",
        "JUJU_DISPATCH_PATH",
        "JUJU_HOOK_NAME",
        "JUJU_MACHINE_ID",
        "JUJU_MODEL_NAME",
        "JUJU_MODEL_UUID",
        "JUJU_PRINCIPAL_UNIT",
        "JUJU_SLA",
        "JUJU_UNIT_NAME",
        "JUJU_VERSION",
        "LANG",
        "PATH",
        "TERM",
    ];
    // The shell itself adds PWD (and sometimes SHLVL / _); ignore those.
    let keys: Vec<&str> = keys
        .into_iter()
        .filter(|k| !["PWD", "SHLVL", "_", "OLDPWD"].contains(k))
        .collect();
    expected.sort();
    assert_eq!(keys, expected);
    assert_eq!(env["JUJU_VERSION"], jujusim::DEFAULT_JUJU_VERSION);
    assert_eq!(env["JUJU_DISPATCH_PATH"], "hooks/install");
    assert_eq!(env["JUJU_HOOK_NAME"], "install");
    assert_eq!(env["JUJU_UNIT_NAME"], "prov/0");
    assert_eq!(env["JUJU_CHARM_DIR"], dir.display().to_string());
    assert_eq!(env["CHARM_DIR"], dir.display().to_string());
    assert_eq!(env["LANG"], "C.UTF-8");
    assert_eq!(env["JUJU_MODEL_UUID"], m.model_uuid());
    assert!(env["JUJU_CONTEXT_ID"].starts_with("prov/0-install-"));
    assert_eq!(
        env["PATH"],
        format!(
            "{}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            m.tools_dir().display()
        )
    );
    assert!(!env.contains_key("OPERATOR_DISPATCH") && !env.contains_key("LEAKY_VAR"));
    assert_eq!(
        std::fs::read_to_string(dir.join("pwd.txt")).unwrap().trim(),
        dir.display().to_string()
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("stdin.txt")).unwrap(),
        "",
        "stdin is /dev/null"
    );

    // Relation hooks: remote vars present, possibly empty.
    let created = env_of(&m, "prov/0", "env.certs-relation-created");
    assert_eq!(created["JUJU_RELATION"], "certs");
    assert_eq!(created["JUJU_RELATION_ID"], format!("certs:{rel}"));
    assert_eq!(created["JUJU_REMOTE_UNIT"], "");
    assert_eq!(created["JUJU_REMOTE_APP"], "req");
    assert!(!created.contains_key("JUJU_DEPARTING_UNIT"));
    let changed = env_of(&m, "prov/0", "env.certs-relation-changed");
    assert_eq!(changed["JUJU_REMOTE_UNIT"], "req/0");
    assert_eq!(
        changed["JUJU_DISPATCH_PATH"],
        "hooks/certs-relation-changed"
    );

    // Actions: empty hook name, integer uuid, tag.
    let r = m
        .run_action("prov/0", "do-thing", Default::default())
        .unwrap();
    assert_eq!(r.status, "completed");
    let a = env_of(&m, "prov/0", "env.action-do-thing");
    assert_eq!(a["JUJU_HOOK_NAME"], "");
    assert_eq!(a["JUJU_ACTION_NAME"], "do-thing");
    assert_eq!(a["JUJU_DISPATCH_PATH"], "actions/do-thing");
    let id: u32 = a["JUJU_ACTION_UUID"].parse().unwrap();
    assert_eq!(a["JUJU_ACTION_TAG"], format!("action-{id}"));
    std::env::remove_var("LEAKY_VAR");
}

#[test]
fn hooks_dir_without_dispatch_and_missing_handlers() {
    let t = tempfile::tempdir().unwrap();
    let c = t.path().join("legacy");
    std::fs::create_dir_all(&c).unwrap();
    std::fs::write(c.join("metadata.yaml"), "name: legacy\n").unwrap();
    std::fs::write(
        c.join("actions.yaml"),
        "present:\n  description: x\nabsent:\n  description: y\n",
    )
    .unwrap();
    write_exec(
        &c.join("hooks/install"),
        "#!/bin/sh\nstatus-set active -- \"installed via hooks/\"\n",
    );
    write_exec(
        &c.join("actions/present"),
        "#!/bin/sh\naction-set ok=yes\necho out; echo err >&2\n",
    );
    let mut m = Model::new().unwrap();
    m.deploy("legacy", &c, 1, Default::default()).unwrap();
    m.settle().unwrap();
    assert_eq!(m.unit_status("legacy/0").message, "installed via hooks/");
    assert_eq!(m.unit_status("legacy/0").workload, "active");
    // Missing hooks (start, config-changed, ...) are success.
    assert!(m.hook_runs().iter().all(|r| r.exit_code == 0));
    let r = m
        .run_action("legacy/0", "present", Default::default())
        .unwrap();
    assert_eq!(r.status, "completed");
    assert_eq!(r.results, serde_json::json!({"ok": "yes"}));
    assert_eq!((r.stdout.as_str(), r.stderr.as_str()), ("out\n", "err\n"));
    let r = m
        .run_action("legacy/0", "absent", Default::default())
        .unwrap();
    assert_eq!(r.status, "failed");
    assert_eq!(r.message, "action not implemented on unit \"legacy/0\"");
    assert_eq!(
        m.unit_status("legacy/0").agent,
        "idle",
        "action failure never puts the unit in error"
    );
}

#[test]
fn deploy_from_charm_zip_keeps_modes() {
    let t = tempfile::tempdir().unwrap();
    let path = t.path().join("z_amd64.charm");
    let f = std::fs::File::create(&path).unwrap();
    let mut z = zip::ZipWriter::new(f);
    let opts = zip::write::SimpleFileOptions::default();
    z.start_file("metadata.yaml", opts.unix_permissions(0o644))
        .unwrap();
    z.write_all(b"name: z\n").unwrap();
    z.start_file("dispatch", opts.unix_permissions(0o755))
        .unwrap();
    z.write_all(b"#!/bin/sh\nstatus-set active -- \"from zip\"\n")
        .unwrap();
    z.finish().unwrap();
    let mut m = Model::new().unwrap();
    m.deploy("z", &path, 1, Default::default()).unwrap();
    m.settle().unwrap();
    assert_eq!(m.unit_status("z/0").message, "from zip");
}

#[test]
fn failed_hook_commits_nothing_and_halts_the_unit() {
    let t = tempfile::tempdir().unwrap();
    let mut m = two_apps(t.path(), 2, 1);
    let rel = m.relate("prov", "req").unwrap();
    m.settle().unwrap();
    let before_req = m.relation_data(rel, "prov/0");
    let script = format!(
        r#"set -e
relation-set -r {rel} a=1
relation-set -r {rel} --app b=2
id=$(secret-add --label tx key=val)
state-set k=v
open-port 80
status-set active "half done"
juju-log "before the failure"
application-version-set 9.9
relation-get -r {rel} - prov/0 --format=json > seen-unit.json
relation-get -r {rel} --app - prov --format=json > seen-app.json
state-get k > seen-state.txt
secret-get "$id" key > seen-secret.txt
secret-get --label tx --format=json > seen-secret-label.json
echo "about to fail" >&2
exit 1"#
    );
    let from = m.hook_runs().len();
    let code = run_script(&mut m, "prov/0", "update-status", &script);
    assert_eq!(code, 1);
    let dir = m.charm_dir("prov/0");
    // Reads inside the hook saw its own pending writes.
    let seen: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("seen-unit.json")).unwrap())
            .unwrap();
    assert_eq!(seen["a"], "1");
    assert_eq!(
        std::fs::read_to_string(dir.join("seen-app.json")).unwrap(),
        "{\"b\":\"2\"}\n"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("seen-state.txt")).unwrap(),
        "v\n"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("seen-secret.txt")).unwrap(),
        "val\n"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("seen-secret-label.json")).unwrap(),
        "{\"key\":\"val\"}\n"
    );
    // Nothing transactional was committed.
    assert_eq!(m.relation_data(rel, "prov/0"), before_req);
    assert!(m.relation_data(rel, "prov").is_empty());
    assert!(m.secrets().is_empty());
    assert!(m.unit_state("prov/0").is_empty());
    assert!(m.opened_ports("prov/0").is_empty());
    // Immediate things were.
    let st = m.unit_status("prov/0");
    assert_eq!(
        (st.workload.as_str(), st.message.as_str()),
        ("active", "half done")
    );
    assert_eq!(
        (st.agent.as_str(), st.agent_message.as_str()),
        ("error", "hook failed: \"update-status\"")
    );
    assert_eq!(m.app_version("prov"), "9.9");
    let logs = m.logs("prov/0");
    assert!(
        logs.contains(&"INFO before the failure".to_string()),
        "{logs:?}"
    );
    assert!(
        logs.contains(&"WARNING update-status: about to fail".to_string()),
        "{logs:?}"
    );
    // No -changed reached the other side.
    assert_eq!(runs_since(&m, from), vec!["prov/0 update-status"]);

    // The unit's queue is halted; others keep going; settle reports the error with log lines.
    m.queue_hook("prov/0", "config-changed");
    m.queue_hook("prov/1", "config-changed");
    let err = m.settle().unwrap_err();
    match &err {
        SimError::HookFailed { unit, hook, logs } => {
            assert_eq!((unit.as_str(), hook.as_str()), ("prov/0", "update-status"));
            assert!(logs.contains("about to fail"), "{logs}");
        }
        other => panic!("{other}"),
    }
    assert_eq!(
        runs_since(&m, from),
        vec!["prov/0 update-status", "prov/1 config-changed"]
    );

    // Resolve with retry: the same hook runs again (now succeeding) and commits.
    write_exec(
        &dir.join("hook.sh"),
        &format!("#!/bin/sh\nrelation-set -r {rel} a=1\nsecret-add key=val\nrm hook.sh\n"),
    );
    m.resolve("prov/0", true).unwrap();
    m.settle().unwrap();
    assert_eq!(
        runs_since(&m, from)[2..],
        [
            "prov/0 update-status",
            "prov/0 config-changed",
            "req/0 certs-relation-changed prov/0"
        ]
    );
    assert_eq!(m.relation_data(rel, "prov/0")["a"], "1");
    assert_eq!(m.secrets().len(), 1);
    assert_eq!(m.unit_status("prov/0").agent, "idle");
    assert!(m.resolve("prov/0", true).is_err(), "not in error any more");
}

#[test]
fn resolve_without_retry_skips_the_hook() {
    let t = tempfile::tempdir().unwrap();
    let mut m = two_apps(t.path(), 1, 1);
    assert_eq!(run_script(&mut m, "prov/0", "update-status", "exit 3"), 3);
    m.queue_hook("prov/0", "config-changed");
    m.resolve("prov/0", false).unwrap();
    let from = m.hook_runs().len();
    m.settle().unwrap();
    assert_eq!(runs_since(&m, from), vec!["prov/0 config-changed"]);
}

#[test]
fn loops_are_reported() {
    let t = tempfile::tempdir().unwrap();
    let mut m = two_apps(t.path(), 1, 1);
    let rel = m.relate("prov", "req").unwrap();
    m.settle().unwrap();
    // Both sides write a new value on every -changed: ping-pong forever.
    for u in ["prov/0", "req/0"] {
        write_exec(
            &m.charm_dir(u).join("hook.sh"),
            &format!("#!/bin/sh\ncase $JUJU_HOOK_NAME in *-changed) relation-set -r {rel} n=$(date +%s%N);; esac\n"),
        );
    }
    m.set_max_hooks(50);
    m.queue_hook("prov/0", "update-status");
    m.set_relation_data(rel, "req/0", [("n".to_string(), "0".to_string())].into())
        .unwrap();
    match m.settle() {
        Err(SimError::Loop { max, summary }) => {
            assert_eq!(max, 50);
            assert!(summary.contains("certs-relation-changed"), "{summary}");
        }
        other => panic!("expected a loop, got {other:?}"),
    }
}

#[test]
fn config_defaults_types_and_reset() {
    let t = tempfile::tempdir().unwrap();
    let mut m = two_apps(t.path(), 1, 1);
    let out = call(&mut m, "prov/0", &["config-get", "--format=json"]);
    assert_eq!(
        out.stdout,
        "{\"count\":3,\"enabled\":true,\"name\":\"hello\"}\n"
    );
    let cfg = serde_json::json!({"count": 7, "ratio": 0.5})
        .as_object()
        .unwrap()
        .clone();
    let from = m.hook_runs().len();
    m.set_config("prov", cfg).unwrap();
    m.settle().unwrap();
    assert_eq!(runs_since(&m, from), vec!["prov/0 config-changed"]);
    let out = call(&mut m, "prov/0", &["config-get", "count", "--format=json"]);
    assert_eq!(out.stdout, "7\n");
    m.set_config(
        "prov",
        serde_json::json!({"count": null})
            .as_object()
            .unwrap()
            .clone(),
    )
    .unwrap();
    assert_eq!(m.config("prov")["count"], 3);
    let bad = serde_json::json!({"count": "many"})
        .as_object()
        .unwrap()
        .clone();
    assert!(m.set_config("prov", bad).is_err());
    let unknown = serde_json::json!({"nope": 1}).as_object().unwrap().clone();
    assert!(m.set_config("prov", unknown).is_err());
}

#[test]
fn puppet_apps_never_run_hooks() {
    let t = tempfile::tempdir().unwrap();
    let prov = shell_charm(t.path(), "prov", PROV_META, CONFIG, ACTIONS);
    let mut m = Model::new().unwrap();
    m.deploy("prov", &prov, 1, Default::default()).unwrap();
    m.deploy_puppet("pup", REQ_META, 2).unwrap();
    let rel = m.relate("prov:certs", "pup").unwrap();
    m.settle().unwrap();
    assert!(m.hook_runs().iter().all(|r| r.unit.starts_with("prov/")));
    assert_eq!(m.units("pup"), vec!["pup/0", "pup/1"]);
    assert_eq!(m.leader("pup").as_deref(), Some("pup/0"));
    assert_eq!(
        m.relation_data(rel, "pup/1")["egress-subnets"]
            .split('/')
            .nth(1),
        Some("32")
    );
    let from = m.hook_runs().len();
    m.set_relation_data(rel, "pup", [("x".to_string(), "1".to_string())].into())
        .unwrap();
    m.settle().unwrap();
    assert_eq!(runs_since(&m, from), vec!["prov/0 certs-relation-changed"]);
    let out = call(
        &mut m,
        "prov/0",
        &[
            "relation-get",
            "-r",
            &rel.to_string(),
            "--app",
            "-",
            "pup",
            "--format=json",
        ],
    );
    assert_eq!(out.stdout, "{\"x\":\"1\"}\n");
}

#[test]
fn background_children_and_timeouts_do_not_hang() {
    let t = tempfile::tempdir().unwrap();
    let mut m = two_apps(t.path(), 1, 1);
    let start = std::time::Instant::now();
    // A daemon that keeps stdout open: the hook still completes (after a short grace period).
    assert_eq!(
        run_script(&mut m, "prov/0", "update-status", "sleep 4 &\necho started"),
        0
    );
    assert!(start.elapsed() < std::time::Duration::from_secs(4));
    m.set_hook_timeout(std::time::Duration::from_millis(300));
    assert_eq!(
        run_script(&mut m, "prov/0", "update-status", "exec sleep 3"),
        -1
    );
    assert_eq!(m.unit_status("prov/0").agent, "error");
    assert!(m.logs("prov/0").iter().any(|l| l.contains("timed out")));
}
