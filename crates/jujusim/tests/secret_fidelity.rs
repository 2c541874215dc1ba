//! Conformance of the simulator's secret rules with Juju's own sources. Each test names the
//! juju/juju files (3.6 line: the `internal/worker/uniter/...` layout with the Mongo `state`
//! package and the `uniter` API client) whose behaviour it pins down.

mod common;

use common::*;
use jujusim::Model;

/// prov (n units, prov/0 leader) related to req (1 unit), settled. Returns (model, rel id).
fn setup(dir: &std::path::Path, n: usize) -> (Model, u32) {
    let mut m = two_apps(dir, n, 1);
    let rel = m.relate("prov", "req").unwrap();
    m.settle().unwrap();
    (m, rel)
}

/// `secret-add` on prov/0 in its own hook; returns the bare id.
fn add(m: &mut Model, args: &[&str]) -> String {
    let mut argv = vec!["secret-add"];
    argv.extend_from_slice(args);
    let o = call(m, "prov/0", &argv);
    ok(&o).trim().rsplit('/').next().unwrap().to_string()
}

fn content(m: &Model, id: &str) -> Vec<jujusim::Databag> {
    m.secrets()
        .into_iter()
        .find(|s| s.id == id)
        .unwrap()
        .revisions
}

/// Rule: the owner sees its own pending `secret-set` only with `--peek` or `--refresh`; plain
/// `secret-get` returns the committed revision. A secret created in the hook is readable at once.
///
/// Sources: `internal/worker/uniter/runner/context/context.go` `GetSecret` and
/// `getPendingSecretValue` (pending creates always; pending updates only `if refresh || peek`),
/// `apiserver/facades/agent/secretsmanager/secrets.go` `getSecretContent` (units of the owner
/// get `md.LatestRevision`, the committed latest).
#[test]
fn owner_reads_committed_revision_unless_peek_or_refresh() {
    let t = tempfile::tempdir().unwrap();
    let (mut m, _) = setup(t.path(), 1);
    let o = calls_in_hook(
        &mut m,
        "prov/0",
        "update-status",
        &[
            (&["secret-add", "--label", "ca", "key=one"], None),
            (&["secret-get", "--label", "ca"], None),
        ],
        0,
    );
    ok(&o[0]);
    assert_eq!(
        ok(&o[1]),
        "key: one\n",
        "a secret created in this hook is visible"
    );

    let o = calls_in_hook(
        &mut m,
        "prov/0",
        "update-status",
        &[
            (&["secret-info-get", "--label", "ca", "--format=json"], None),
            (&["secret-get", "--label", "ca"], None),
        ],
        0,
    );
    let id = js(&o[0])
        .as_object()
        .unwrap()
        .keys()
        .next()
        .unwrap()
        .clone();
    assert_eq!(ok(&o[1]), "key: one\n");

    let o = calls_in_hook(
        &mut m,
        "prov/0",
        "update-status",
        &[
            (&["secret-set", &id, "key=two"], None),
            (&["secret-get", &id, "key"], None),
            (&["secret-get", &id, "key", "--peek"], None),
            (&["secret-get", "--label", "ca", "--refresh"], None),
            (&["secret-get", "--label", "ca"], None),
            (&["secret-info-get", &id, "--format=json"], None),
        ],
        0,
    );
    ok(&o[0]);
    assert_eq!(ok(&o[1]), "one\n", "plain secret-get: committed revision");
    assert_eq!(ok(&o[2]), "two\n", "--peek sees the pending update");
    assert_eq!(ok(&o[3]), "key: two\n", "--refresh sees the pending update");
    assert_eq!(ok(&o[4]), "key: one\n", "still the committed revision");
    assert_eq!(js(&o[5])[&id]["revision"], 1, "revision moves at commit");

    let o = call(&mut m, "prov/0", &["secret-get", &id, "key"]);
    assert_eq!(ok(&o), "two\n", "committed after the hook");
}

/// Rule: several `secret-set`s of one secret in one hook make one new revision; the last content
/// replaces the earlier (whole content, not merged per key); metadata changes accumulate; content
/// equal to the committed latest revision is no update.
///
/// Sources: `internal/worker/uniter/runner/context/secrets.go` `secretsChangeRecorder.update`
/// (one pending update per URI: `previous.Value = arg.Value` when non-empty, each metadata field
/// kept unless given again), `context.go` `UpdateSecret` (value dropped when its checksum equals
/// `md.LatestChecksum`) and `Flush` (one `SaveContent(uri, CurrentRevision+1)` per update).
#[test]
fn several_secret_sets_in_one_hook_make_one_revision() {
    let t = tempfile::tempdir().unwrap();
    let (mut m, _) = setup(t.path(), 1);
    let id = add(&mut m, &["aaa=1", "bbb=2"]);
    let o = calls_in_hook(
        &mut m,
        "prov/0",
        "update-status",
        &[
            (&["secret-set", &id, "aaa=10", "bbb=20"], None),
            (&["secret-set", &id, "--description", "d1"], None),
            (&["secret-set", &id, "aaa=30"], None),
            (&["secret-info-get", &id, "--format=json"], None),
        ],
        0,
    );
    for x in &o[..3] {
        ok(x);
    }
    assert_eq!(js(&o[3])[&id]["description"], "d1");
    let revs = content(&m, &id);
    assert_eq!(revs.len(), 2, "one new revision: {revs:?}");
    assert_eq!(
        revs[1],
        [("aaa".to_string(), "30".to_string())]
            .into_iter()
            .collect(),
        "the last content, whole"
    );
    // Same content as the committed latest: no revision.
    call(&mut m, "prov/0", &["secret-set", &id, "aaa=30"]);
    assert_eq!(content(&m, &id).len(), 2);
}

fn write(m: &Model, unit: &str, name: &str, data: &[u8]) {
    std::fs::write(m.charm_dir(unit).join(name), data).unwrap();
}

/// Rule: content size limits per Juju version, checked by the tool itself (an `Init` error: exit
/// 2). Before 3.6.9 the values are measured as given (5 KiB per value before 3.4.1, then 8 KiB;
/// 64 KiB per call); from 3.6.9 on their base64 encoding is measured against 1,000,000 bytes,
/// for each value and for the sum. The default simulated version is 3.1.0, the oldest the charm
/// supports, with the strictest limits; it is also `JUJU_VERSION`.
///
/// Sources: `core/secrets/createsecret.go` in its 8 KiB form (`maxValueSizeBytes = 8 * 1024`,
/// `maxContentSizeBytes = 64 * 1024`, `len(v)` checked before encoding, messages `secret content
/// for key %q too large: %d bytes`, `secret content too large: %d bytes`, `secret content in file
/// %q too large: %d bytes`) and in its 1 MB form (`1000 * 1000`, `base64 encoded secret content
/// for key %q too large`); its test `createsecret_test.go` `TestKeyContentTooLarge` (750001 raw
/// bytes -> "1000004 bytes"); juju/juju PR #16943 (5 KiB -> 8 KiB, 2024-02-19) and PR #20287
/// (-> 1 MiB, 2025-07-29; issue #19052, labelled 3.6). The first release of each is inferred from
/// the merge dates. `internal/worker/uniter/runner/jujuc/secret-add.go` calls
/// `CreateSecretData` in `Init`.
#[test]
fn content_limits_follow_the_juju_version() {
    let t = tempfile::tempdir().unwrap();
    let (mut m, _) = setup(t.path(), 1);
    assert_eq!(m.juju_version(), "3.1.0");
    let k5 = "x".repeat(5 * 1024);
    let k5_1 = "x".repeat(5 * 1024 + 1);
    let k8 = "x".repeat(8 * 1024);
    write(&m, "prov/0", "k8", k8.as_bytes());
    let k5s = format!("key={k5}");
    let k5_1s = format!("key={k5_1}");
    let b64_5_1 = format!("key#base64={k5_1}");
    let many: Vec<String> = (0..14)
        .map(|i| format!("k{i:02}={}", "y".repeat(5000)))
        .collect();
    let mut many_argv = vec!["secret-add"];
    many_argv.extend(many.iter().map(String::as_str));
    let o = calls_in_hook(
        &mut m,
        "prov/0",
        "update-status",
        &[
            (&["secret-add", &k5s], None),
            (&["secret-add", &k5_1s], None),
            (&["secret-add", &b64_5_1], None),
            (&["secret-add", "key#file=k8"], None),
            (&many_argv, None),
            (&["sh", "-c", "echo $JUJU_VERSION"], None),
        ],
        0,
    );
    ok(&o[0]);
    err(
        &o[1],
        2,
        "ERROR secret content for key \"key\" too large: 5121 bytes\n",
    );
    err(
        &o[2],
        2,
        "ERROR secret content for key \"key#base64\" too large: 5121 bytes\n",
    );
    err(
        &o[3],
        2,
        "ERROR secret content in file \"k8\" too large: 8192 bytes\n",
    );
    err(&o[4], 2, "ERROR secret content too large: 70000 bytes\n");
    assert_eq!(ok(&o[5]), "3.1.0\n");

    // 3.4.1 to 3.6.8: 8 KiB per value; secret-set checks the same way.
    m.set_juju_version("3.6.8").unwrap();
    let k8_1 = format!("key={}", "x".repeat(8 * 1024 + 1));
    let o = calls_in_hook(
        &mut m,
        "prov/0",
        "update-status",
        &[
            (&["secret-add", "key#file=k8"], None),
            (&["secret-add", &k8_1], None),
        ],
        0,
    );
    let id = ok(&o[0]).trim().rsplit('/').next().unwrap().to_string();
    err(
        &o[1],
        2,
        "ERROR secret content for key \"key\" too large: 8193 bytes\n",
    );
    let o = call(&mut m, "prov/0", &["secret-set", &id, &k8_1]);
    err(
        &o,
        2,
        "ERROR secret content for key \"key\" too large: 8193 bytes\n",
    );

    // 3.6.9 and later: 1,000,000 bytes of base64 per value and per call.
    m.set_juju_version("3.6.9").unwrap();
    write(&m, "prov/0", "big", "a".repeat(750_000).as_bytes());
    write(&m, "prov/0", "bigger", "a".repeat(750_001).as_bytes());
    let o = calls_in_hook(
        &mut m,
        "prov/0",
        "update-status",
        &[
            (&["secret-add", "key#file=big"], None),
            (&["secret-add", "key#file=bigger"], None),
            (&["secret-add", "one#file=big", "two=x"], None),
        ],
        0,
    );
    ok(&o[0]);
    err(
        &o[1],
        2,
        "ERROR base64 encoded secret content for key \"key\" too large: 1000004 bytes\n",
    );
    err(
        &o[2],
        2,
        "ERROR base64 encoded secret content too large: 1000004 bytes\n",
    );
    assert!(m.set_juju_version("2.9.1").is_err());
}

/// Rule: `secret-add` prints `secret://<model-uuid>/<id>`; every id form is accepted back.
///
/// Sources: `apiserver/facades/agent/secretsmanager/secrets.go` `CreateSecretURIs`
/// (`coresecrets.NewURI().WithSource(s.modelUUID)`), `internal/worker/uniter/runner/jujuc/
/// secret-add.go` `Run` (`fmt.Fprintln(ctx.Stdout, uri.String())`).
#[test]
fn secret_add_prints_the_model_uuid_form() {
    let t = tempfile::tempdir().unwrap();
    let (mut m, _) = setup(t.path(), 1);
    let uuid = m.model_uuid();
    let o = call(&mut m, "prov/0", &["secret-add", "key=v"]);
    let out = ok(&o).to_string();
    let id = out.trim().rsplit('/').next().unwrap().to_string();
    assert_eq!(out, format!("secret://{uuid}/{id}\n"));
    for form in [
        format!("secret://{uuid}/{id}"),
        format!("secret:{id}"),
        format!("{uuid}/{id}"),
        id.clone(),
    ] {
        let o = call(&mut m, "prov/0", &["secret-get", &form, "key"]);
        assert_eq!(ok(&o), "v\n", "{form}");
    }
}

/// Rule: expiry belongs to a revision: a new revision made without `--expire` has none, one made
/// with `--expire` has its own; `--expire` without content changes the latest revision's.
///
/// Sources: `state/secrets.go` `UpdateSecret` (a new revision document is built with
/// `newExpireTime` = this update's `ExpireTime`, nil if not given; with no content, the latest
/// revision document's `expire-time` is set), `internal/worker/uniter/runner/context/context.go`
/// `SecretMetadata` (a pending `ExpireTime` shows as `LatestExpireTime`).
#[test]
fn expiry_is_per_revision() {
    let t = tempfile::tempdir().unwrap();
    let (mut m, _) = setup(t.path(), 1);
    let id = add(&mut m, &["--expire", "2030-01-01T00:00:00Z", "key=1"]);
    let expire = |m: &Model| m.secrets().into_iter().find(|s| s.id == id).unwrap().expire;
    assert!(expire(&m).is_some());
    let o = calls_in_hook(
        &mut m,
        "prov/0",
        "update-status",
        &[
            (&["secret-set", &id, "key=2"], None),
            (&["secret-info-get", &id, "--format=json"], None),
        ],
        0,
    );
    assert_eq!(
        js(&o[1])[&id]["expiry"],
        "2030-01-01T00:00:00Z",
        "until commit"
    );
    assert_eq!(expire(&m), None, "revision 2 has no expiry");
    let o = call(&mut m, "prov/0", &["secret-info-get", &id, "--format=json"]);
    assert!(js(&o)[&id].get("expiry").is_none(), "{o:?}");
    call(
        &mut m,
        "prov/0",
        &[
            "secret-set",
            &id,
            "--expire",
            "2031-01-01T00:00:00Z",
            "key=3",
        ],
    );
    let o = call(&mut m, "prov/0", &["secret-info-get", &id, "--format=json"]);
    assert_eq!(js(&o)[&id]["expiry"], "2031-01-01T00:00:00Z");
    assert_eq!(js(&o)[&id]["revision"], 3);
    call(
        &mut m,
        "prov/0",
        &["secret-set", &id, "--expire", "2032-01-01T00:00:00Z"],
    );
    let o = call(&mut m, "prov/0", &["secret-info-get", &id, "--format=json"]);
    assert_eq!(js(&o)[&id]["expiry"], "2032-01-01T00:00:00Z");
    assert_eq!(js(&o)[&id]["revision"], 3, "metadata only: no revision");
}

/// Rule: units of the owning application that read an app-owned secret get `secret-changed` when
/// a new revision is committed (not the unit that committed it, not units that never read it);
/// they always read the latest revision.
///
/// Sources: `apiserver/facades/agent/secretsmanager/secrets.go`
/// `getAppOwnedOrUnitOwnedSecretMetadata` / `ensureConsumerMetadataForAppOwnedSecretsForPeerUnits`
/// ("we create a fake consumer doc for triggering events to notify the uniters" for a reading
/// unit whose tag is not the owner's), `state/secrets.go` `UpdateSecret` (a new revision updates
/// every consumer document of the secret, `secretUpdateConsumersOps`).
#[test]
fn peers_that_read_an_app_secret_get_secret_changed() {
    let t = tempfile::tempdir().unwrap();
    let (mut m, _) = setup(t.path(), 3);
    let id = add(&mut m, &["--label", "shared", "key=one"]);
    let o = call(&mut m, "prov/1", &["secret-get", "--label", "shared"]);
    assert_eq!(ok(&o), "key: one\n");
    let from = m.hook_runs().len();
    call(&mut m, "prov/0", &["secret-set", &id, "key=two"]);
    // (Revision 1 is obsolete at once: a peer's consumer record pins no revision.)
    assert_eq!(
        runs_since(&m, from),
        vec![
            "prov/0 update-status",
            "prov/0 secret-remove",
            "prov/1 secret-changed"
        ]
    );
    let o = call(&mut m, "prov/1", &["secret-get", &id, "key"]);
    assert_eq!(ok(&o), "two\n", "peers read the latest revision");
    let o = call(&mut m, "prov/2", &["secret-get", &id, "key"]);
    assert_eq!(ok(&o), "two\n");
}

/// Rule: a secret write the hook tool accepts but the controller refuses fails the whole hook
/// after the process exited 0: nothing of the hook is committed. A non-leader's `secret-set`,
/// `secret-revoke` or `secret-remove` of its application's secret, or anyone's write to another
/// application's secret, is such a write; `secret-grant` instead fails in the tool (`not found`).
///
/// Sources: `internal/worker/uniter/runner/context/context.go` `UpdateSecret`, `RemoveSecret`,
/// `RevokeSecret` (leadership checked only when the secret is in `ctx.secretMetadata`),
/// `GrantSecret` (`NotFoundf("secret %q")` when not in `SecretMetadata()`),
/// `apiserver/common/secrets/secrets.go` `GetSecretMetadata` (app-owned secrets listed for
/// leaders only), `context.go` `Flush` / `doFlush` (a `CommitHookChanges` error is the hook's
/// error), `apiserver/facades/agent/uniter/uniter.go` `commitHookChangesForOneUnit` (secret
/// updates go through `SecretsManagerAPI.UpdateSecrets`, behind `canManage`).
#[test]
fn a_write_refused_at_commit_fails_the_hook() {
    let t = tempfile::tempdir().unwrap();
    let (mut m, rel) = setup(t.path(), 2);
    let id = add(&mut m, &["key=1"]);
    let rel_s = rel.to_string();
    let from = m.hook_runs().len();
    let o = calls_in_hook(
        &mut m,
        "prov/1",
        "update-status",
        &[
            (&["relation-set", "-r", &rel_s, "mine=x"], None),
            (&["secret-set", &id, "key=2"], None),
            (&["secret-grant", &id, "-r", &rel_s], None),
        ],
        0,
    );
    ok(&o[0]);
    ok(&o[1]);
    err(&o[2], 1, &format!("ERROR secret {id:?} not found\n"));
    let runs = &m.hook_runs()[from..];
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].exit_code, 0, "the process exited 0");
    let st = m.unit_status("prov/1");
    assert_eq!(st.agent, "error");
    assert_eq!(st.agent_message, "hook failed: \"update-status\"");
    assert!(
        m.logs("prov/1")
            .iter()
            .any(|l| l.starts_with("ERROR cannot apply changes:")),
        "{:?}",
        m.logs("prov/1")
    );
    assert_eq!(content(&m, &id).len(), 1, "no revision");
    assert!(
        !m.relation_data(rel, "prov/1").contains_key("mine"),
        "nothing of the hook committed"
    );
    m.resolve("prov/1", false).unwrap();
    m.settle().unwrap();

    // The consumer writing the owner's secret: same.
    call(&mut m, "prov/0", &["secret-grant", &id, "-r", &rel_s]);
    let o = call(&mut m, "req/0", &["secret-set", &id, "key=3"]);
    ok(&o);
    assert_eq!(m.unit_status("req/0").agent, "error");
    assert_eq!(content(&m, &id).len(), 1);
}
