//! Conformance tests: the simulator's event, leadership and relation rules against the Juju
//! sources they follow (juju/juju as stored in the search index; the 3.6 line unless noted).
//! Each test names its source file.

mod common;
use common::*;

use jujusim::{LeadershipMode, Model};
use std::time::Duration;

// ---------------------------------------------------------------- rule 1: leadership

/// `worker/uniter/leadership/resolver.go` (3.x): after resigning, a unit that is not the leader
/// and not dying runs `leader-settings-changed` whenever its leader-settings version lags the
/// watcher's (`remotestate/watcher.go`: the first watcher event counts as a change); the leader
/// never runs it, so a deposed leader does.
#[test]
fn juju3_deposed_leader_runs_leader_settings_changed() {
    let t = tempfile::tempdir().unwrap();
    let mut m = two_apps(t.path(), 2, 1);
    m.set_leadership_mode(LeadershipMode::Juju3);
    let from = m.hook_runs().len();
    m.set_leader("prov/1").unwrap();
    m.settle().unwrap();
    assert_eq!(
        runs_since(&m, from),
        vec!["prov/0 leader-settings-changed", "prov/1 leader-elected"]
    );
    // Back again: prov/1 ran leader-settings-changed at deploy and nothing changed since, so
    // as a deposed leader it has nothing to catch up on.
    let from = m.hook_runs().len();
    m.set_leader("prov/0").unwrap();
    m.settle().unwrap();
    assert_eq!(runs_since(&m, from), vec!["prov/0 leader-elected"]);
    // A leader-set: only non-leaders run it, once however many changes.
    run_script(
        &mut m,
        "prov/0",
        "update-status",
        "leader-set a=1\nleader-set b=2",
    );
    let runs = m.hook_runs();
    let last: Vec<String> = runs[runs.len() - 2..]
        .iter()
        .map(|r| format!("{} {}", r.unit, r.hook))
        .collect();
    assert_eq!(
        last,
        vec!["prov/0 update-status", "prov/1 leader-settings-changed"]
    );
}

/// `internal/worker/uniter/leadership/resolver.go` on the 4.x line (stored at commit 2365bb25):
/// only accept / resign leadership; there is no `leader-settings-changed`, at deploy or later.
#[test]
fn juju4_has_no_leader_settings_changed() {
    let t = tempfile::tempdir().unwrap();
    let prov = shell_charm(t.path(), "prov", PROV_META, CONFIG, ACTIONS);
    let mut m = Model::new().unwrap();
    m.set_juju_version("4.0.1").unwrap();
    assert_eq!(m.leadership_mode(), LeadershipMode::Juju4);
    m.deploy("prov", &prov, 2, Default::default()).unwrap();
    m.settle().unwrap();
    m.set_leader("prov/1").unwrap();
    run_script(&mut m, "prov/1", "update-status", "leader-set a=1");
    m.settle().unwrap();
    assert!(!m
        .hook_runs()
        .iter()
        .any(|r| r.hook == "leader-settings-changed"));
    // JUJU_VERSION follows the setting.
    let out = call(&mut m, "prov/0", &["juju-log", "x"]);
    assert_eq!(out.code, 0);
    assert_eq!(m.juju_version(), "4.0.1");
}

/// `worker/uniter/leadership/resolver.go`: a dying unit neither accepts leadership nor runs
/// `leader-settings-changed`; the dying leader keeps the lease until it is removed, then
/// another unit is elected.
#[test]
fn dying_leader_keeps_leadership_until_removed() {
    let t = tempfile::tempdir().unwrap();
    let mut m = two_apps(t.path(), 2, 1);
    install_script(
        &m,
        "prov",
        "echo \"$JUJU_HOOK_NAME $(is-leader)\" >> lead.log",
    );
    let from = m.hook_runs().len();
    m.remove_unit("prov/0").unwrap();
    assert_eq!(m.leader("prov").as_deref(), Some("prov/0"));
    m.settle().unwrap();
    assert_eq!(m.leader("prov").as_deref(), Some("prov/1"));
    let log = std::fs::read_to_string(m.charm_dir("prov/1").join("lead.log")).unwrap();
    assert!(log.ends_with("leader-elected True\n"), "{log}");
    let runs = runs_since(&m, from);
    let removed_at = runs.iter().position(|r| r == "prov/0 remove").unwrap();
    let elected_at = runs
        .iter()
        .position(|r| r == "prov/1 leader-elected")
        .unwrap();
    assert!(removed_at < elected_at, "{runs:?}");
}

// ---------------------------------------------------------------- rule 2: resolver order

/// `internal/worker/uniter/resolver.go` `nextOp`: config-changed before relation hooks before
/// update-status, whatever order they were queued in.
#[test]
fn resolver_priorities_between_kinds() {
    let t = tempfile::tempdir().unwrap();
    let mut m = two_apps(t.path(), 1, 1);
    let from = m.hook_runs().len();
    m.update_status("prov");
    let rel = m.relate("prov", "req").unwrap();
    m.set_config(
        "prov",
        serde_json::json!({"name": "x"})
            .as_object()
            .unwrap()
            .clone(),
    )
    .unwrap();
    m.settle().unwrap();
    assert_eq!(
        runs_of(&m, "prov/0", from),
        vec![
            "certs-relation-created",
            "config-changed",
            "certs-relation-joined req/0",
            "certs-relation-changed req/0",
            "update-status",
        ]
    );
    let _ = rel;
}

/// `internal/worker/uniter/relation/resolver.go` `nextHookForRelation`: departs before an
/// app-level `-changed` before joins before unit `-changed`; a join whose unit departed before
/// it ran never fires (nor its `-changed`, nor a `-departed`).
#[test]
fn relation_hook_order_and_cancelled_join() {
    let t = tempfile::tempdir().unwrap();
    let mut m = two_apps(t.path(), 1, 2);
    let rel = m.relate("prov", "req").unwrap();
    m.settle().unwrap();
    let from = m.hook_runs().len();
    // Queued in this order: req/2 joins, req/1 departs, an app bag change, req/3 joins then leaves.
    m.add_unit("req").unwrap();
    m.remove_unit("req/1").unwrap();
    let mut bag = jujusim::Databag::new();
    bag.insert("k".into(), "v".into());
    m.set_relation_data(rel, "req", bag).unwrap();
    m.add_unit("req").unwrap();
    m.remove_unit("req/3").unwrap();
    m.settle().unwrap();
    assert_eq!(
        runs_of(&m, "prov/0", from),
        vec![
            "certs-relation-departed req/1",
            "certs-relation-changed",
            "certs-relation-joined req/2",
            "certs-relation-changed req/2",
        ]
    );
}

// ---------------------------------------------------------------- rule 3: settings cache

/// `internal/worker/uniter/runner/context/cache.go` (`RelationCache`) and `contextfactory.go`
/// (`getContextRelations`, `HookContext`): a remote member's settings read in one hook stay
/// cached across hooks until a relation hook for that unit invalidates them; application settings
/// are read fresh in every hook.
#[test]
fn remote_member_settings_cached_until_its_own_hook() {
    let t = tempfile::tempdir().unwrap();
    let mut m = two_apps(t.path(), 1, 1);
    let rel = m.relate("prov", "req").unwrap();
    m.settle().unwrap();
    let read = format!(
        "relation-get -r {rel} k req/0 > unit.out; relation-get -r {rel} --app k req > app.out"
    );
    // First read caches req/0's settings (k unset).
    run_script(&mut m, "prov/0", "update-status", &read);
    // Change both bags behind prov/0's back (no hook for prov/0 runs in between).
    let dir = m.charm_dir("prov/0");
    let mut ub = m.relation_data(rel, "req/0");
    ub.insert("k".into(), "u1".into());
    let mut ab = jujusim::Databag::new();
    ab.insert("k".into(), "a1".into());
    // These queue -changed hooks on prov/0, which have not run yet.
    m.set_relation_data(rel, "req/0", ub).unwrap();
    m.set_relation_data(rel, "req", ab).unwrap();
    // config-changed outranks relation hooks: it runs before prov/0's -changed hooks.
    write_exec(
        &dir.join("hook.sh"),
        &format!("#!/bin/sh\ncd \"$CHARM_DIR\"\nif [ \"$JUJU_HOOK_NAME\" = config-changed ]; then {read}; fi\nif [ \"$JUJU_HOOK_NAME\" = certs-relation-changed ] && [ -n \"$JUJU_REMOTE_UNIT\" ]; then relation-get k req/0 > unit2.out; fi\n"),
    );
    m.queue_hook("prov/0", "config-changed");
    m.settle().unwrap();
    let rd = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap();
    assert_eq!(
        rd("unit.out"),
        "",
        "member settings come from the cache (k was unset)"
    );
    assert_eq!(
        rd("app.out"),
        "a1\n",
        "app settings are read fresh each hook"
    );
    assert_eq!(
        rd("unit2.out"),
        "u1\n",
        "the unit's own -changed reads it fresh"
    );
}

// ---------------------------------------------------------------- rule 4: relation-ids, --file

/// `internal/worker/uniter/runner/context/contextfactory.go` (`broken` = not a peer, relation
/// not alive, no members) and `context.go` `RelationIds` (skips broken), `jujuc/relation-ids.go`
/// (skips dead): a removed relation is listed while it has members — in every `-departed` — and
/// left out from then on, its `-broken` included. A unit's own dying does not hide it.
#[test]
fn relation_ids_while_a_relation_goes() {
    let t = tempfile::tempdir().unwrap();
    let mut m = two_apps(t.path(), 1, 1);
    let rel = m.relate("prov", "req").unwrap();
    m.settle().unwrap();
    install_script(
        &m,
        "req",
        "echo \"$JUJU_HOOK_NAME $(relation-ids certs --format=json)\" >> ids.log",
    );
    m.unrelate(rel).unwrap();
    m.settle().unwrap();
    let log = std::fs::read_to_string(m.charm_dir("req/0").join("ids.log")).unwrap();
    assert_eq!(
        log,
        format!("certs-relation-departed [\"certs:{rel}\"]\ncerts-relation-broken []\n")
    );
    // A dying unit: the relation is alive, so it is listed in its own -broken.
    let rel = m.relate("prov", "req").unwrap();
    m.settle().unwrap();
    let out = t.path().join("dying.log");
    install_script(
        &m,
        "req",
        &format!(
            "echo \"$JUJU_HOOK_NAME $(relation-ids certs --format=json)\" >> {}",
            out.display()
        ),
    );
    m.remove_unit("req/0").unwrap();
    m.settle().unwrap();
    let log = std::fs::read_to_string(&out).unwrap();
    assert!(
        log.starts_with(&format!(
            "certs-relation-departed [\"certs:{rel}\"]\ncerts-relation-broken [\"certs:{rel}\"]\n"
        )),
        "{log}"
    );
}

/// `internal/worker/uniter/runner/jujuc/relation-set.go` `readSettings`: the `--file` is
/// unmarshalled with `gopkg.in/yaml.v2` into `map[string]string`: YAML or JSON, scalars as text,
/// null deletes, a nested map or list is refused with yaml's unmarshal error, a document that is
/// not a map is refused; key=value arguments override the file.
#[test]
fn relation_set_file_like_juju() {
    let t = tempfile::tempdir().unwrap();
    let mut m = two_apps(t.path(), 1, 1);
    let rel = m.relate("prov", "req").unwrap();
    m.settle().unwrap();
    let r = rel.to_string();
    let outs = calls_in_hook(
        &mut m,
        "prov/0",
        "update-status",
        &[
            (
                &["relation-set", "-r", &r, "--file", "-"],
                Some("a: 1\nb: true\nc: x\n"),
            ),
            (
                &["relation-set", "-r", &r, "--file", "-", "c=y"],
                Some("{\"d\": \"j\", \"c\": \"z\"}"),
            ),
            (
                &["relation-set", "-r", &r, "--file", "-"],
                Some("a: null\n"),
            ),
            (
                &["relation-set", "-r", &r, "--file", "-"],
                Some("e:\n  f: g\n"),
            ),
            (
                &["relation-set", "-r", &r, "--file", "-"],
                Some("{\"e\": [1, 2]}"),
            ),
            (
                &["relation-set", "-r", &r, "--file", "-"],
                Some("just text\n"),
            ),
            (&["relation-set", "-r", &r, "--file", "-"], Some("")),
        ],
        0,
    );
    assert_eq!(outs[0].code, 0, "{:?}", outs[0]);
    assert_eq!(outs[1].code, 0, "{:?}", outs[1]);
    assert_eq!(outs[2].code, 0);
    assert_eq!(outs[3].code, 1);
    assert_eq!(
        outs[3].stderr,
        "ERROR yaml: unmarshal errors:\n  line 2: cannot unmarshal !!map into string\n"
    );
    assert_eq!(
        outs[4].stderr,
        "ERROR yaml: unmarshal errors:\n  line 1: cannot unmarshal !!seq into string\n"
    );
    assert_eq!(
        outs[5].stderr,
        "ERROR yaml: unmarshal errors:\n  line 1: cannot unmarshal !!str `just text` into map[string]string\n"
    );
    assert_eq!(outs[6].code, 0);
    let bag = m.relation_data(rel, "prov/0");
    assert_eq!(bag.get("a"), None);
    assert_eq!(bag["b"], "true");
    assert_eq!(bag["c"], "y");
    assert_eq!(bag["d"], "j");
    assert!(!bag.contains_key("e"));
}

// ---------------------------------------------------------------- rule 5: hook retry

/// `internal/worker/uniter/resolver.go` `nextOpHookError` (start the retry timer when
/// `ShouldRetryHooks`), `uniter.go` (`utils.NewBackoffTimer` with the strategy's Min, Max,
/// Factor), `apiserver/facades/agent/retrystrategy` (5 s, 5 min, factor 2): a failed hook is
/// retried by itself on the clock, with growing delays; the back-off resets after a success.
#[test]
fn failed_hook_retried_with_backoff() {
    let t = tempfile::tempdir().unwrap();
    let mut m = two_apps(t.path(), 1, 1);
    let dir = m.charm_dir("prov/0");
    write_exec(
        &dir.join("hook.sh"),
        "#!/bin/sh\ncd \"$CHARM_DIR\"\n[ \"$JUJU_HOOK_NAME\" = update-status ] || exit 0\necho x >> tries\n[ -f ok ]\n",
    );
    m.update_status("prov");
    let r = m.settle_allow_errors().unwrap();
    assert_eq!(r.errors.len(), 1);
    let tries = || {
        std::fs::read_to_string(dir.join("tries"))
            .unwrap()
            .lines()
            .count()
    };
    assert_eq!(tries(), 1);
    m.advance_clock(Duration::from_secs(4));
    m.settle_allow_errors().unwrap();
    assert_eq!(tries(), 1, "not before 5 s");
    m.advance_clock(Duration::from_secs(1));
    m.settle_allow_errors().unwrap();
    assert_eq!(tries(), 2, "retried after 5 s");
    m.advance_clock(Duration::from_secs(9));
    m.settle_allow_errors().unwrap();
    assert_eq!(tries(), 2, "the next delay is 10 s");
    m.advance_clock(Duration::from_secs(1));
    std::fs::write(dir.join("ok"), "").unwrap();
    let r = m.settle_allow_errors().unwrap();
    assert_eq!(tries(), 3);
    assert!(r.errors.is_empty());
    assert_eq!(m.unit_status("prov/0").agent, "idle");
    // With automatically-retry-hooks off, only resolve retries.
    m.set_automatically_retry_hooks(false);
    std::fs::remove_file(dir.join("ok")).unwrap();
    m.update_status("prov");
    m.settle_allow_errors().unwrap();
    m.advance_clock(Duration::from_secs(3600));
    m.settle_allow_errors().unwrap();
    assert_eq!(tries(), 4);
    m.resolve("prov/0", true).unwrap();
    m.settle_allow_errors().unwrap();
    assert_eq!(tries(), 5);
}
