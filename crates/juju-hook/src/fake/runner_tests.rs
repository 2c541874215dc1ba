//! Round trips of every hook tool through `ProcessTools` over [`super::FakeRunner`].
use std::fmt::Debug;

use serde_json::json;

use super::*;
use crate::process::ProcessTools;
use crate::tools::MAX_ACTION_VALUE_BYTES;

fn bag(pairs: &[(&str, &str)]) -> Databag {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A model with two relations, config and action parameters.
fn model(leader: bool) -> FakeTools {
    let fake = FakeTools::new("tls", leader);
    fake.add_relation(3, "certificates", "req", &["req/0", "req/1"]);
    fake.set_remote_unit_bag(3, "req/0", bag(&[("csr", "CSR-0")]));
    fake.set_remote_app_bag(3, bag(&[("a", "1")]));
    fake.add_relation(12, "certificates", "other", &[]);
    fake.add_relation(5, "peers", "tls", &[]);
    {
        let mut st = fake.state.borrow_mut();
        let config = json!({"mode": "self-signed", "limit": 3, "allow-ip-sans": true});
        st.config = config.as_object().unwrap().clone();
        let params = json!({"relation-id": 3, "format": "pem"});
        st.action_params = params.as_object().unwrap().clone();
    }
    fake
}

/// The same model twice: called directly, and through `ProcessTools` over a `FakeRunner`.
struct Both {
    direct: FakeTools,
    process: ProcessTools<FakeRunner>,
}

impl Both {
    fn new(leader: bool) -> Both {
        Both {
            direct: model(leader),
            process: ProcessTools::with_runner(FakeRunner::new(model(leader))),
        }
    }

    /// Runs `f` on both and checks they answer alike.
    fn same<T: Debug>(&self, f: impl Fn(&dyn HookTools) -> T) -> T {
        let direct = f(&self.direct);
        let process = f(&self.process);
        assert_eq!(format!("{direct:?}"), format!("{process:?}"));
        direct
    }

    /// Checks both models ended in the same state, recorded calls included.
    fn same_state(&self) {
        let direct = format!("{:#?}", self.direct.state.borrow());
        let process = format!("{:#?}", self.process.runner().fake().state.borrow());
        assert_eq!(direct, process);
    }
}

#[test]
fn relation_tools_round_trip() {
    let b = Both::new(true);
    let ids = b.same(|t| t.relation_ids("certificates")).unwrap();
    assert_eq!(ids, vec![RelationId(3), RelationId(12)]);
    assert!(b.same(|t| t.relation_ids("none")).unwrap().is_empty());
    assert_eq!(b.same(|t| t.relation_list(RelationId(3))).unwrap().len(), 2);
    b.same(|t| t.relation_list(RelationId(12))).unwrap();
    assert_eq!(
        b.same(|t| t.relation_remote_app(RelationId(3))).unwrap(),
        "req"
    );
    let unit = Member::Unit("req/0".into());
    assert_eq!(
        b.same(|t| t.relation_get(RelationId(3), &unit)).unwrap()["csr"],
        "CSR-0"
    );
    let app = Member::App("req".into());
    b.same(|t| t.relation_get(RelationId(3), &app)).unwrap();
    b.same(|t| t.relation_set(RelationId(3), false, &bag(&[("k", "v")])))
        .unwrap();
    let changes = bag(&[("certificates", "[]"), ("gone", "")]);
    b.same(|t| t.relation_set(RelationId(3), true, &changes))
        .unwrap();
    let own_unit = Member::Unit("tls/0".into());
    let got = b
        .same(|t| t.relation_get(RelationId(3), &own_unit))
        .unwrap();
    assert_eq!(got, bag(&[("k", "v")]));
    let own_app = Member::App("tls".into());
    b.same(|t| t.relation_get(RelationId(3), &own_app)).unwrap();
    b.same_state();
}

#[test]
fn config_action_status_and_log_tools_round_trip() {
    let b = Both::new(true);
    assert!(b.same(|t| t.is_leader()).unwrap());
    assert_eq!(b.same(|t| t.config_get()).unwrap()["limit"], 3);
    assert_eq!(b.same(|t| t.action_get()).unwrap()["format"], "pem");
    let results = bag(&[("ca-certificate", "-----BEGIN CERT"), ("result.count", "2")]);
    b.same(|t| t.action_set(&results)).unwrap();
    b.same(|t| t.action_log("working")).unwrap();
    b.same(|t| t.action_fail("--relation-id is required"))
        .unwrap();
    b.same(|t| t.status_set(StatusScope::Unit, StatusName::Active, "ready"))
        .unwrap();
    b.same(|t| t.status_set(StatusScope::Application, StatusName::Blocked, ""))
        .unwrap();
    b.same(|t| t.application_version_set("-1.2.3")).unwrap();
    b.same(|t| t.juju_log(LogLevel::Warning, "-x looks like a flag"))
        .unwrap();
    b.same(|t| t.juju_log(LogLevel::Trace, "")).unwrap();
    b.same_state();
    let st = b.process.runner().fake().state.borrow();
    assert_eq!(st.action_results["result.count"], "2");
    assert_eq!(st.version.as_deref(), Some("-1.2.3"));
}

#[test]
fn secret_tools_round_trip() {
    let b = Both::new(true);
    let content = bag(&[("certificate", "CERT"), ("private-key", "KEY\nline 2\n")]);
    let opts = SecretOptions {
        label: Some("ca".into()),
        description: Some("-- a description that looks like flags".into()),
        expire: Some("2030-01-02T03:04:05Z".into()),
        rotate: Some("monthly".into()),
        ..SecretOptions::default()
    };
    let id = b.same(|t| t.secret_add(&content, &opts)).unwrap();
    let unit_opts = SecretOptions {
        owner: SecretOwner::Unit,
        ..SecretOptions::default()
    };
    b.same(|t| t.secret_add(&bag(&[("token", "t")]), &unit_opts))
        .unwrap();
    let by_id = SecretRef::Id(id.clone());
    let by_label = SecretRef::Label("ca".into());
    let both = SecretRef::IdAndLabel {
        id: id.clone(),
        label: "ca".into(),
    };
    let got = b
        .same(|t| t.secret_get(&by_id, SecretRead::Pinned))
        .unwrap();
    assert_eq!(got, content);
    let new_content = bag(&[("private-key", "NEWKEY")]);
    let relabel = SecretOptions {
        label: Some("ca-2".into()),
        ..SecretOptions::default()
    };
    b.same(|t| t.secret_set(&id, Some(&new_content), &relabel))
        .unwrap();
    let rotate = SecretOptions {
        rotate: Some("daily".into()),
        ..SecretOptions::default()
    };
    b.same(|t| t.secret_set(&id, None, &rotate)).unwrap();
    b.same(|t| t.secret_get(&SecretRef::Label("ca-2".into()), SecretRead::Peek))
        .unwrap();
    let refreshed = b
        .same(|t| t.secret_get(&both, SecretRead::Refresh))
        .unwrap();
    assert_eq!(refreshed, new_content);
    let info = b.same(|t| t.secret_info_get(&by_id)).unwrap();
    assert_eq!(
        (info.revision, info.rotation.as_deref()),
        (2, Some("daily"))
    );
    b.same(|t| t.secret_info_get(&SecretRef::Label("ca-2".into())))
        .unwrap();
    assert_eq!(b.same(|t| t.secret_ids()).unwrap().len(), 2);
    b.same(|t| t.secret_grant(&id, RelationId(3), None))
        .unwrap();
    b.same(|t| t.secret_grant(&id, RelationId(3), Some("req/1")))
        .unwrap();
    b.same(|t| t.secret_remove(&id, Some(1))).unwrap();
    b.same(|t| t.secret_remove(&id, None)).unwrap();
    b.same(|t| t.secret_get(&by_label, SecretRead::Pinned))
        .unwrap_err();
    b.same_state();
}

#[test]
fn refusals_round_trip_with_the_same_classification() {
    let b = Both::new(false);
    let app = Member::App("tls".into());
    let e = b.same(|t| t.relation_get(RelationId(3), &app)).unwrap_err();
    assert!(matches!(e, ToolError::NotLeader { .. }), "{e:?}");
    let e = b
        .same(|t| t.relation_set(RelationId(3), true, &bag(&[("a", "b")])))
        .unwrap_err();
    assert!(matches!(e, ToolError::NotLeader { .. }), "{e:?}");
    b.same(|t| t.status_set(StatusScope::Application, StatusName::Active, ""))
        .unwrap_err();
    let e = b.same(|t| t.relation_list(RelationId(99))).unwrap_err();
    assert!(matches!(e, ToolError::RelationNotFound { .. }), "{e:?}");
    b.same(|t| t.relation_remote_app(RelationId(99)))
        .unwrap_err();
    let unit = Member::Unit("req/0".into());
    b.same(|t| t.relation_get(RelationId(99), &unit))
        .unwrap_err();
    b.same(|t| t.relation_set(RelationId(99), false, &bag(&[("a", "b")])))
        .unwrap_err();
    let stranger = Member::App("stranger".into());
    let e = b
        .same(|t| t.relation_get(RelationId(3), &stranger))
        .unwrap_err();
    assert!(matches!(e, ToolError::Failed { code: 2, .. }), "{e:?}");
    let missing = SecretRef::Id("secret:d0nosuchsecret0000000".into());
    let e = b
        .same(|t| t.secret_get(&missing, SecretRead::Pinned))
        .unwrap_err();
    assert!(e.is_not_found(), "{e:?}");
    b.same(|t| t.secret_info_get(&SecretRef::Label("nope".into())))
        .unwrap_err();
    b.same(|t| t.secret_set("secret:nope", None, &SecretOptions::default()))
        .unwrap_err();
    b.same(|t| t.secret_remove("secret:nope", None))
        .unwrap_err();
    b.same(|t| t.secret_grant("secret:nope", RelationId(3), None))
        .unwrap_err();
    let e = b
        .same(|t| t.secret_add(&bag(&[("k", "v")]), &SecretOptions::default()))
        .unwrap_err();
    assert!(matches!(e, ToolError::NotLeader { .. }), "{e:?}");
    let unit_opts = SecretOptions {
        owner: SecretOwner::Unit,
        ..SecretOptions::default()
    };
    let e = b
        .same(|t| t.secret_add(&Databag::new(), &unit_opts))
        .unwrap_err();
    assert!(matches!(e, ToolError::Failed { code: 2, .. }), "{e:?}");
    let big = bag(&[("big", &"x".repeat(MAX_ACTION_VALUE_BYTES))]);
    let e = b.same(|t| t.action_set(&big)).unwrap_err();
    assert!(matches!(e, ToolError::ValueTooLarge { .. }), "{e:?}");
    assert!(!b.same(|t| t.is_leader()).unwrap());
    b.same_state();
}

#[test]
fn what_the_argv_layer_changes_is_visible() {
    let b = Both::new(true);
    let id = b
        .same(|t| t.secret_add(&bag(&[("k", "v")]), &SecretOptions::default()))
        .unwrap();
    // `secret-grant` on a relation that is gone: Juju's stderr says "relation not found", which
    // a `secret-*` tool's exit classifies as a missing secret.
    let direct = b
        .direct
        .secret_grant(&id, RelationId(99), None)
        .unwrap_err();
    let process = b
        .process
        .secret_grant(&id, RelationId(99), None)
        .unwrap_err();
    assert!(
        matches!(direct, ToolError::RelationNotFound { .. }),
        "{direct:?}"
    );
    assert!(
        matches!(process, ToolError::SecretNotFound { .. }),
        "{process:?}"
    );
    // An empty `relation-set` runs no tool at all.
    b.process
        .relation_set(RelationId(3), true, &Databag::new())
        .unwrap();
    assert_eq!(b.process.runner().fake().count("relation-set"), 0);
    // Free text is cleaned on its way to argv.
    let key = "-----BEGIN PRIVATE KEY-----\nKEYMATERIAL\n-----END PRIVATE KEY-----";
    b.process.action_log(&format!("oops {key}")).unwrap();
    let st = b.process.runner().fake().state.borrow();
    assert_eq!(st.action_logs, vec!["oops [REDACTED PRIVATE KEY]"]);
}

#[test]
fn argv_it_cannot_read_is_a_usage_error() {
    let runner = FakeRunner::new(model(true));
    let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let out = runner.run("frobnicate", &[], None).unwrap();
    assert_eq!(out.code, 2);
    let out = runner
        .run("status-set", &args(&["sleepy", "--", "x"]), None)
        .unwrap();
    assert_eq!(out.code, 2, "{:?}", String::from_utf8_lossy(&out.stderr));
    let out = runner
        .run("is-leader", &args(&["--format=json", "extra"]), None)
        .unwrap();
    assert_eq!(out.code, 2);
    let out = runner
        .run(
            "relation-set",
            &args(&["-r", "3", "--file", "-"]),
            Some(b"[1]"),
        )
        .unwrap();
    assert_eq!(out.code, 2);
    assert!(runner
        .fake()
        .state
        .borrow()
        .calls
        .iter()
        .all(|c| !c.starts_with("status-set")));
}
