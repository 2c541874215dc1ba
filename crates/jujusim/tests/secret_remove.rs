//! `secret-remove` (`docs/juju-hook-contract.md` §1.3, §2, §3.2): when a revision older than the
//! latest is tracked by no consumer any more (after a new revision, or after the last consumer
//! refreshed off it), the owner gets `secret-remove` with `JUJU_SECRET_REVISION`;
//! `secret-remove --revision N` deletes that revision's content.

mod common;
use common::*;

use jujusim::{Model, SecretView};

/// Every unit's `hook.sh`: `update-status`, `config-changed` and `leader-elected` run `./<hook>.sh` when a test put
/// one there; secret hooks append their environment to `secret.log`; `secret-remove` also removes
/// the revision when `./remove-revisions` exists.
const HOOK: &str = r#"#!/bin/sh
case "$JUJU_HOOK_NAME" in
  update-status|config-changed|leader-elected)
    if [ -f "./$JUJU_HOOK_NAME.sh" ]; then . "./$JUJU_HOOK_NAME.sh"; fi ;;
  secret-*)
    echo "$JUJU_HOOK_NAME id=$JUJU_SECRET_ID label=$JUJU_SECRET_LABEL rev=${JUJU_SECRET_REVISION-unset}" >> secret.log
    if [ "$JUJU_HOOK_NAME" = secret-remove ] && [ -f ./remove-revisions ]; then
      secret-remove "$JUJU_SECRET_ID" --revision "$JUJU_SECRET_REVISION" || exit 1
    fi ;;
esac
exit 0
"#;

fn setup(n: usize, k: usize) -> (tempfile::TempDir, Model, u32) {
    let t = tempfile::tempdir().unwrap();
    let mut m = two_apps(t.path(), n, k);
    let rel = m.relate("prov:certs", "req:certs").unwrap();
    m.settle().unwrap();
    for u in m.units("prov").into_iter().chain(m.units("req")) {
        write_exec(&m.charm_dir(&u).join("hook.sh"), HOOK);
    }
    (t, m, rel)
}

/// Run `script` in an `update-status` hook of `unit` and settle; returns the runs it caused.
fn step(m: &mut Model, unit: &str, script: &str) -> Vec<String> {
    let dir = m.charm_dir(unit);
    let file = dir.join("update-status.sh");
    std::fs::write(&file, format!("set -e\ncd \"$CHARM_DIR\"\n{script}\n")).unwrap();
    let from = m.hook_runs().len();
    m.queue_hook(unit, "update-status");
    m.settle().unwrap();
    std::fs::remove_file(file).unwrap();
    runs_since(m, from)
}

/// `secret-add` in a hook of `unit`; returns the bare id.
fn add_secret(m: &mut Model, unit: &str, args: &str) -> String {
    step(m, unit, &format!("secret-add {args} > added.id"));
    let out = std::fs::read_to_string(m.charm_dir(unit).join("added.id")).unwrap();
    out.trim().rsplit('/').next().unwrap().to_string()
}

fn secret(m: &Model, id: &str) -> SecretView {
    m.secrets().into_iter().find(|s| s.id == id).unwrap()
}

fn secret_log(m: &Model, unit: &str) -> String {
    std::fs::read_to_string(m.charm_dir(unit).join("secret.log")).unwrap_or_default()
}

#[test]
fn new_revision_of_an_unconsumed_secret_queues_secret_remove_on_the_owner() {
    let (_t, mut m, _) = setup(2, 1);
    // App-owned (leader prov/0) and unit-owned by the non-leader prov/1.
    let app_id = add_secret(&mut m, "prov/0", "--label ca key=one");
    let unit_id = add_secret(&mut m, "prov/1", "--owner unit --label mine key=one");
    assert_eq!(
        secret_log(&m, "prov/0"),
        "",
        "no secret hook for a first revision"
    );

    let runs = step(&mut m, "prov/0", &format!("secret-set {app_id} key=two"));
    assert_eq!(runs, vec!["prov/0 update-status", "prov/0 secret-remove"]);
    assert_eq!(
        secret_log(&m, "prov/0"),
        format!("secret-remove id=secret:{app_id} label=ca rev=1\n")
    );
    let runs = step(&mut m, "prov/1", &format!("secret-set {unit_id} key=two"));
    assert_eq!(runs, vec!["prov/1 update-status", "prov/1 secret-remove"]);
    assert_eq!(
        secret_log(&m, "prov/1"),
        format!("secret-remove id=secret:{unit_id} label=mine rev=1\n")
    );

    // The owner did not remove it: the content stays, announced once (not again on later hooks).
    let s = secret(&m, &app_id);
    assert_eq!(s.revisions.len(), 2);
    assert_eq!(s.revisions[0]["key"], "one");
    assert_eq!(s.obsolete_revisions, vec![1]);
    assert!(s.removed_revisions.is_empty());
    assert_eq!(
        step(&mut m, "prov/0", &format!("secret-set {app_id} key=two")),
        vec!["prov/0 update-status"],
        "same content: no new revision, nothing new obsolete"
    );

    // Two `secret-set`s in one hook make one new revision (3, the last content), so only 2
    // becomes obsolete; 1 was announced already.
    let runs = step(
        &mut m,
        "prov/0",
        &format!("secret-set {app_id} key=three\nsecret-set {app_id} key=four"),
    );
    assert_eq!(runs, vec!["prov/0 update-status", "prov/0 secret-remove"]);
    assert_eq!(secret(&m, &app_id).revisions[2]["key"], "four");
    assert_eq!(
        secret_log(&m, "prov/0"),
        format!(
            "secret-remove id=secret:{app_id} label=ca rev=1\n\
             secret-remove id=secret:{app_id} label=ca rev=2\n"
        )
    );
    assert_eq!(secret(&m, &app_id).obsolete_revisions, vec![1, 2]);

    // A failed hook commits no revision and queues nothing.
    let dir = m.charm_dir("prov/0");
    std::fs::write(
        dir.join("update-status.sh"),
        format!("secret-set {app_id} key=five\nexit 1\n"),
    )
    .unwrap();
    let from = m.hook_runs().len();
    m.queue_hook("prov/0", "update-status");
    m.settle_allow_errors().unwrap();
    std::fs::remove_file(dir.join("update-status.sh")).unwrap();
    m.resolve("prov/0", false).unwrap();
    m.settle().unwrap();
    assert_eq!(runs_since(&m, from), vec!["prov/0 update-status"]);
    assert_eq!(secret(&m, &app_id).revisions.len(), 3);
}

#[test]
fn a_pinned_consumer_delays_secret_remove_until_it_refreshes() {
    let (_t, mut m, rel) = setup(1, 2);
    let id = add_secret(&mut m, "prov/0", "--label ca key=one");
    step(&mut m, "prov/0", &format!("secret-grant {id} -r {rel}"));
    // Both consumers read (and so track) revision 1.
    for u in ["req/0", "req/1"] {
        step(&mut m, u, &format!("secret-get {id} > got"));
        assert_eq!(m.secret_consumer_revision(&id, u), Some(1));
    }

    let runs = step(&mut m, "prov/0", &format!("secret-set {id} key=two"));
    assert_eq!(
        runs,
        vec![
            "prov/0 update-status",
            "req/0 secret-changed",
            "req/1 secret-changed"
        ],
        "revision 1 is still tracked: no secret-remove yet"
    );
    assert!(secret(&m, &id).obsolete_revisions.is_empty());

    // Peeking does not move the consumer off revision 1.
    let runs = step(&mut m, "req/0", &format!("secret-get {id} --peek > got"));
    assert_eq!(runs, vec!["req/0 update-status"]);
    // One consumer refreshes: the other one still tracks revision 1.
    let runs = step(&mut m, "req/0", &format!("secret-get {id} --refresh > got"));
    assert_eq!(runs, vec!["req/0 update-status"]);
    assert_eq!(m.secret_consumer_revision(&id, "req/0"), Some(2));
    // The last one refreshes: revision 1 is tracked by nobody, the owner is told.
    let runs = step(&mut m, "req/1", &format!("secret-get {id} --refresh > got"));
    assert_eq!(runs, vec!["req/1 update-status", "prov/0 secret-remove"]);
    assert_eq!(
        secret_log(&m, "prov/0"),
        format!("secret-remove id=secret:{id} label=ca rev=1\n")
    );
    assert_eq!(secret(&m, &id).obsolete_revisions, vec![1]);
    // Consumers never get secret-remove.
    assert!(!secret_log(&m, "req/0").contains("secret-remove"));
    assert!(!secret_log(&m, "req/1").contains("secret-remove"));
}

#[test]
fn secret_remove_revision_deletes_that_revision_only() {
    let (_t, mut m, rel) = setup(1, 1);
    let id = add_secret(&mut m, "prov/0", "--label ca key=one");
    step(&mut m, "prov/0", &format!("secret-grant {id} -r {rel}"));
    std::fs::write(m.charm_dir("prov/0").join("remove-revisions"), "").unwrap();

    let runs = step(&mut m, "prov/0", &format!("secret-set {id} key=two"));
    assert_eq!(runs, vec!["prov/0 update-status", "prov/0 secret-remove"]);
    let s = secret(&m, &id);
    assert_eq!(s.removed_revisions, vec![1]);
    assert_eq!(s.obsolete_revisions, vec![1]);
    assert_eq!(s.revisions.len(), 2, "indices still match revision numbers");
    assert!(s.revisions[0].is_empty());
    assert_eq!(s.revisions[1]["key"], "two");

    // The consumer reads the latest; the removed revision is gone for good.
    step(&mut m, "req/0", &format!("secret-get {id} key > got"));
    assert_eq!(
        std::fs::read_to_string(m.charm_dir("req/0").join("got")).unwrap(),
        "two\n"
    );
    let o = call(&mut m, "prov/0", &["secret-remove", &id, "--revision", "1"]);
    assert_eq!(o.code, 1, "{o:?}");
    assert!(o.stderr.contains("not found"), "{o:?}");
    // The secret itself and its latest revision are intact.
    let o = call(&mut m, "prov/0", &["secret-get", &id, "key"]);
    assert_eq!((o.code, o.stdout.as_str()), (0, "two\n"));
}

#[test]
fn a_revision_removed_before_its_hook_runs_is_not_announced() {
    let (_t, mut m, _) = setup(1, 1);
    // `secret-remove` drops the hook's pending `secret-set` of that secret (juju/juju 3.6
    // `internal/worker/uniter/runner/context/secrets.go`, `secretsChangeRecorder.remove`), so
    // removing revision 1 in the hook that set new content removes the only revision: the whole
    // secret goes, and nothing is announced.
    let gone = add_secret(&mut m, "prov/0", "--label gone key=one");
    let runs = step(
        &mut m,
        "prov/0",
        &format!("secret-set {gone} key=two\nsecret-remove {gone} --revision 1"),
    );
    assert_eq!(runs, vec!["prov/0 update-status"]);
    assert!(m.secrets().iter().all(|s| s.id != gone));

    // Queued, then removed by a hook that runs before it: skipped at run time. Juju's resolver
    // runs secret hooks before everything but leadership and relation-created hooks
    // (internal/worker/uniter/resolver.go), so the removing hook is a leader-elected queued
    // after config-changed queued the secret-remove (settle stopped after one hook).
    let id = add_secret(&mut m, "prov/0", "--label ca key=one");
    let dir = m.charm_dir("prov/0");
    std::fs::write(
        dir.join("config-changed.sh"),
        format!("secret-set {id} key=two\n"),
    )
    .unwrap();
    std::fs::write(
        dir.join("leader-elected.sh"),
        format!("secret-remove {id} --revision 1\n"),
    )
    .unwrap();
    let from = m.hook_runs().len();
    m.queue_hook("prov/0", "config-changed");
    m.set_max_hooks(1);
    assert!(m.settle_allow_errors().is_err());
    assert_eq!(m.queued("prov/0"), vec!["secret-remove"]);
    m.set_max_hooks(2000);
    m.queue_hook("prov/0", "leader-elected");
    m.settle().unwrap();
    assert_eq!(
        runs_since(&m, from),
        vec!["prov/0 config-changed", "prov/0 leader-elected"]
    );
    let s = secret(&m, &id);
    assert_eq!(s.removed_revisions, vec![1]);
    assert_eq!(s.obsolete_revisions, vec![1]);
    assert_eq!(s.revisions[1]["key"], "two");
    assert_eq!(secret_log(&m, "prov/0"), "");
}

#[test]
fn a_revoked_consumer_no_longer_keeps_its_revision() {
    let (_t, mut m, rel) = setup(1, 1);
    let id = add_secret(&mut m, "prov/0", "--label ca key=one");
    step(&mut m, "prov/0", &format!("secret-grant {id} -r {rel}"));
    step(&mut m, "req/0", &format!("secret-get {id} > got"));
    assert_eq!(m.secret_consumer_revision(&id, "req/0"), Some(1));
    step(&mut m, "prov/0", &format!("secret-revoke {id} --app req"));
    assert_eq!(m.secret_consumer_revision(&id, "req/0"), None);
    let runs = step(&mut m, "prov/0", &format!("secret-set {id} key=two"));
    assert_eq!(runs, vec!["prov/0 update-status", "prov/0 secret-remove"]);
}

#[test]
fn a_queued_app_secret_remove_follows_leadership() {
    let (_t, mut m, _) = setup(2, 1);
    let id = add_secret(&mut m, "prov/0", "--label ca key=one");
    // config-changed makes revision 1 obsolete; settle stops before the queued secret-remove
    // runs, so it is still waiting on prov/0 when leadership moves.
    let dir = m.charm_dir("prov/0");
    std::fs::write(
        dir.join("config-changed.sh"),
        format!("secret-set {id} key=two\n"),
    )
    .unwrap();
    let from = m.hook_runs().len();
    m.queue_hook("prov/0", "config-changed");
    m.set_max_hooks(1);
    assert!(m.settle_allow_errors().is_err());
    assert_eq!(m.queued("prov/0"), vec!["secret-remove"]);
    m.set_max_hooks(2000);
    m.set_leader("prov/1").unwrap();
    m.settle().unwrap();
    // The deposed leader runs leader-settings-changed (Juju 3.x); its secret-remove goes to
    // the new leader.
    assert_eq!(
        runs_since(&m, from),
        vec![
            "prov/0 config-changed",
            "prov/0 leader-settings-changed",
            "prov/1 leader-elected",
            "prov/1 secret-remove"
        ]
    );
    assert_eq!(
        secret_log(&m, "prov/1"),
        format!("secret-remove id=secret:{id} label=ca rev=1\n")
    );
    assert_eq!(secret_log(&m, "prov/0"), "");
}
