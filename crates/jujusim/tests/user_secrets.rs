//! User secrets: an operator's `juju add-secret <name> key=value...`, `grant-secret`,
//! `revoke-secret`, `update-secret` and `remove-secret` (`Model::add_user_secret` ...). The model
//! owns them; the units of a granted application read them with `secret-get <uri>` as consumers
//! of any other secret; no charm can change, grant or inspect them.
//!
//! Sources (juju/juju, 3.x line; README rule 8 says which copies were read): `apiserver/facades/client/secrets/secrets.go` (`createSecret`:
//! owner `names.NewModelTag`, `secret with name %q` on a label clash; `updateSecret`: no revision
//! when the checksum equals the latest; `secretsGrantRevoke`: role `view` for an application,
//! scope the model; `getSecretURI`: a name is the label of a model-owned secret),
//! `apiserver/facades/agent/secretsmanager/secrets.go` `getSecretContent` (`GetSecret`, then
//! `canRead` -> `apiservererrors.ErrPerm`, then the consumer's tracked revision,
//! `getConsumedRevision`), `apiserver/common/secrets/access.go` (`CanRead`, `CanManage`),
//! Mongo `state/secrets.go` (`RevokeSecretAccess` deletes only the permission document;
//! `UpdateSecret` -> `secretUpdateConsumersOps`), `api/agent/secretsmanager/client.go`
//! `GetConsumerSecretsRevisionInfo` (an unauthorised consumer gets no revision info), `internal/worker/uniter/runner/context/context.go` (`UpdateSecret`,
//! `RemoveSecret`, `RevokeSecret` only check secrets of the unit's own metadata; `GrantSecret`
//! fails with `secret %q` not found), `internal/worker/uniter/runner/jujuc/secret-info-get.go`.

mod common;
use common::*;

use jujusim::{Databag, Model, SimError};

fn bag(kv: &[(&str, &str)]) -> Databag {
    kv.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// prov (1 unit) and req (2 units, req/0 leader) related, settled. Returns (model, rel id).
fn setup(dir: &std::path::Path) -> (Model, u32) {
    let mut m = two_apps(dir, 1, 2);
    let rel = m.relate("prov", "req").unwrap();
    m.settle().unwrap();
    (m, rel)
}

fn ca(cert: &str) -> Databag {
    bag(&[("certificate", cert), ("private-key", "KEY")])
}

/// Log the secret hooks of every unit of `app` to `secret.log` (until `clear_scripts`).
fn log_secret_hooks(m: &Model, app: &str) {
    install_script(
        m,
        app,
        "case \"$JUJU_HOOK_NAME\" in secret-*) echo \"$JUJU_HOOK_NAME id=$JUJU_SECRET_ID label=$JUJU_SECRET_LABEL\" >> secret.log ;; esac",
    );
}

fn clear_scripts(m: &Model, app: &str) {
    for u in m.units(app) {
        let _ = std::fs::remove_file(m.charm_dir(&u).join("hook.sh"));
    }
}

fn secret_log(m: &Model, unit: &str) -> String {
    std::fs::read_to_string(m.charm_dir(unit).join("secret.log")).unwrap_or_default()
}

/// Granted read, consumer label, pinned revision, `--peek` / `--refresh`, and `secret-changed`
/// to the consumer that read it (only) when the operator updates the secret.
#[test]
fn a_granted_application_reads_a_user_secret_as_a_consumer() {
    let t = tempfile::tempdir().unwrap();
    let (mut m, _) = setup(t.path());
    let uri = m.add_user_secret("ca", ca("C1")).unwrap();
    let id = uri
        .strip_prefix("secret:")
        .expect("secret:<id>")
        .to_string();
    assert_eq!(id.len(), 20, "{uri}");
    let view = m.secrets().into_iter().find(|s| s.id == id).unwrap();
    assert_eq!(view.owner, "model");
    assert_eq!(view.label.as_deref(), Some("ca"));
    assert_eq!(view.revisions, vec![ca("C1")]);

    // Not granted yet.
    let o = call(&mut m, "req/0", &["secret-get", &uri]);
    err(&o, 1, "ERROR permission denied\n");

    m.grant_user_secret("ca", "req").unwrap();
    assert_eq!(m.user_secret_grants(&uri), vec!["req".to_string()]);
    let uuid = m.model_uuid();
    let long = format!("secret://{uuid}/{id}");
    let o = calls_in_hook(
        &mut m,
        "req/0",
        "update-status",
        &[
            (&["secret-get", &uri, "certificate"], None),
            (
                &["secret-get", &long, "--label", "imported", "--format=json"],
                None,
            ),
            (&["secret-get", "--label", "imported"], None),
        ],
        0,
    );
    assert_eq!(ok(&o[0]), "C1\n");
    assert_eq!(js(&o[1])["certificate"], "C1");
    assert_eq!(
        ok(&o[2]),
        "certificate: C1\nprivate-key: KEY\n",
        "the consumer's own label finds it"
    );
    assert_eq!(m.secret_consumer_revision(&id, "req/0"), Some(1));
    assert_eq!(m.secret_consumer_revision(&id, "req/1"), None);

    // Update: a new revision; secret-changed to req/0 (which read it), not req/1.
    log_secret_hooks(&m, "req");
    let from = m.hook_runs().len();
    assert_eq!(m.update_user_secret("ca", ca("C2")).unwrap(), 2);
    m.settle().unwrap();
    assert_eq!(runs_since(&m, from), vec!["req/0 secret-changed"]);
    assert_eq!(
        secret_log(&m, "req/0"),
        format!("secret-changed id=secret:{id} label=imported\n")
    );
    clear_scripts(&m, "req");

    let o = calls_in_hook(
        &mut m,
        "req/0",
        "update-status",
        &[
            (
                &["secret-get", "--label", "imported", "--format=json"],
                None,
            ),
            (&["secret-get", &uri, "certificate", "--peek"], None),
            (&["secret-get", &uri, "certificate"], None),
            (&["secret-get", &uri, "certificate", "--refresh"], None),
            (&["secret-get", &uri, "certificate"], None),
        ],
        0,
    );
    assert_eq!(
        js(&o[0])["certificate"],
        "C1",
        "pinned to the revision it first read"
    );
    assert_eq!(ok(&o[1]), "C2\n", "--peek: the latest, this time");
    assert_eq!(ok(&o[2]), "C1\n");
    assert_eq!(ok(&o[3]), "C2\n", "--refresh moves the tracking");
    assert_eq!(ok(&o[4]), "C2\n");
    assert_eq!(m.secret_consumer_revision(&id, "req/0"), Some(2));
    let view = m.secrets().into_iter().find(|s| s.id == id).unwrap();
    assert_eq!(view.revisions.len(), 2);
    assert_eq!(
        view.obsolete_revisions,
        vec![1],
        "revision 1 is tracked by no consumer any more (no hook: the model owns it)"
    );

    // The same content again: no revision, no hook.
    let from = m.hook_runs().len();
    assert_eq!(m.update_user_secret(&uri, ca("C2")).unwrap(), 2);
    m.settle().unwrap();
    assert!(runs_since(&m, from).is_empty());
}

/// Not granted: `ERROR permission denied`; revoked: the same again, and no `secret-changed`;
/// granted again: the revision it tracked before; removed: `ERROR secret "<id>" not found`.
#[test]
fn not_granted_revoked_and_removed_user_secrets() {
    let t = tempfile::tempdir().unwrap();
    let (mut m, _) = setup(t.path());
    let uri = m.add_user_secret("ca", ca("C1")).unwrap();
    let id = uri.trim_start_matches("secret:").to_string();
    let o = calls_in_hook(
        &mut m,
        "prov/0",
        "update-status",
        &[
            (&["secret-get", &uri], None),
            (&["secret-get", &uri, "--peek"], None),
            (&["secret-get", &id, "--refresh"], None),
        ],
        0,
    );
    for x in &o {
        err(x, 1, "ERROR permission denied\n");
    }
    assert_eq!(m.secret_consumer_revision(&id, "prov/0"), None);

    m.grant_user_secret(&uri, "prov").unwrap();
    let o = call(&mut m, "prov/0", &["secret-get", &uri, "certificate"]);
    assert_eq!(ok(&o), "C1\n");

    m.revoke_user_secret("ca", "prov").unwrap();
    assert!(m.user_secret_grants("ca").is_empty());
    let o = call(&mut m, "prov/0", &["secret-get", &uri, "certificate"]);
    err(&o, 1, "ERROR permission denied\n");
    log_secret_hooks(&m, "prov");
    let from = m.hook_runs().len();
    m.update_user_secret("ca", ca("C2")).unwrap();
    m.settle().unwrap();
    assert!(
        runs_since(&m, from).is_empty(),
        "a revoked consumer gets no secret-changed"
    );
    clear_scripts(&m, "prov");

    // Granted again: its consumer record stayed (RevokeSecretAccess deletes only the permission).
    m.grant_user_secret("ca", "prov").unwrap();
    let o = call(&mut m, "prov/0", &["secret-get", &uri, "certificate"]);
    assert_eq!(ok(&o), "C1\n", "still tracking revision 1");

    m.remove_user_secret("ca").unwrap();
    assert!(m.secrets().iter().all(|s| s.id != id));
    let o = call(&mut m, "prov/0", &["secret-get", &uri]);
    err(&o, 1, &format!("ERROR secret {id:?} not found\n"));
    assert!(matches!(
        m.grant_user_secret("ca", "prov"),
        Err(SimError::NotFound(_))
    ));
}

/// A charm can change nothing of a user secret, even in a granted application: `secret-info-get`
/// and `secret-grant` fail in the tool (`not found`: only the unit's own secrets are in its
/// hook context); `secret-set`, `secret-remove` and `secret-revoke` are accepted by the tool and
/// refused by the controller when the hook's changes are committed, which fails the hook.
#[test]
fn a_charm_cannot_manage_a_user_secret() {
    let t = tempfile::tempdir().unwrap();
    let (mut m, rel) = setup(t.path());
    let uri = m.add_user_secret("ca", ca("C1")).unwrap();
    let id = uri.trim_start_matches("secret:").to_string();
    m.grant_user_secret("ca", "req").unwrap();
    let rel_s = rel.to_string();
    let o = calls_in_hook(
        &mut m,
        "req/0",
        "update-status",
        &[
            (&["secret-info-get", &uri], None),
            (&["secret-info-get", "--label", "ca"], None),
            (&["secret-grant", &uri, "-r", &rel_s], None),
            (&["secret-ids"], None),
            (&["secret-get", &uri, "certificate"], None),
        ],
        0,
    );
    err(&o[0], 1, &format!("ERROR secret {id:?} not found\n"));
    err(&o[1], 1, "ERROR secret \"ca\" not found\n");
    err(&o[2], 1, &format!("ERROR secret {id:?} not found\n"));
    assert!(!ok(&o[3]).contains(&id), "{:?}", o[3]);
    assert_eq!(ok(&o[4]), "C1\n");
    assert_eq!(m.unit_status("req/0").agent, "idle");

    for (what, argv) in [
        ("secret-set", vec!["secret-set", &uri, "certificate=mine"]),
        ("secret-remove", vec!["secret-remove", &uri]),
        ("secret-revoke", vec!["secret-revoke", &uri, "--app", "req"]),
    ] {
        let o = call(&mut m, "req/0", &argv);
        ok(&o);
        let st = m.unit_status("req/0");
        assert_eq!(
            (st.agent.as_str(), st.agent_message.as_str()),
            ("error", "hook failed: \"update-status\""),
            "{what}"
        );
        assert!(
            m.logs("req/0")
                .iter()
                .any(|l| l == "ERROR cannot apply changes: updating secrets: permission denied"),
            "{what}: {:?}",
            m.logs("req/0")
        );
        let view = m.secrets().into_iter().find(|s| s.id == id).unwrap();
        assert_eq!(view.revisions, vec![ca("C1")], "{what}");
        assert_eq!(
            m.user_secret_grants("ca"),
            vec!["req".to_string()],
            "{what}"
        );
        m.resolve("req/0", false).unwrap();
        m.settle().unwrap();
    }
}

/// The operator side: names are unique among user secrets, content is checked like the hook
/// tools' (keys, sizes), grants need an existing application, and a charm's secret is no user
/// secret.
#[test]
fn operator_errors() {
    let t = tempfile::tempdir().unwrap();
    let (mut m, _) = setup(t.path());
    let invalid = |r: Result<String, SimError>| match r {
        Err(SimError::Invalid(msg)) => msg,
        other => panic!("{other:?}"),
    };
    m.add_user_secret("ca", ca("C1")).unwrap();
    assert_eq!(
        invalid(m.add_user_secret("ca", ca("C2"))),
        "secret with name \"ca\" already exists"
    );
    assert_eq!(
        invalid(m.add_user_secret("other", Databag::new())),
        "empty secret value not valid"
    );
    assert_eq!(
        invalid(m.add_user_secret("other", bag(&[("A", "x")]))),
        "key \"A\" not valid"
    );
    let big = "x".repeat(5 * 1024 + 1);
    assert_eq!(
        invalid(m.add_user_secret("other", bag(&[("key", &big)]))),
        "secret content for key \"key\" too large: 5121 bytes"
    );
    assert!(matches!(
        m.grant_user_secret("ca", "nope"),
        Err(SimError::NotFound(_))
    ));
    assert!(matches!(
        m.grant_user_secret("nope", "req"),
        Err(SimError::NotFound(_))
    ));
    let o = call(&mut m, "prov/0", &["secret-add", "key=v"]);
    let charm_secret = ok(&o).trim().rsplit('/').next().unwrap().to_string();
    assert!(matches!(
        m.grant_user_secret(&charm_secret, "req"),
        Err(SimError::Invalid(_))
    ));
    assert!(matches!(
        m.remove_user_secret(&charm_secret),
        Err(SimError::Invalid(_))
    ));
}
