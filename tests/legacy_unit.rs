//! The legacy reactive dialect through the full reconcile and the actions, against the in-memory
//! hook tools ([`common::world::World`]): real keys and certificates, checked with the `openssl`
//! command line.

mod common;

use std::collections::BTreeMap;
use std::time::SystemTime;

use common::ca::{ec_ca, sign_with};
use common::pki::{openssl_cli, verify_cert_and_key};
use common::world::{Outcome, World};
use juju_hook::{Databag, LogLevel, RelationId};
use serde_json::{json, Value};
use tls_provider::charm::hook::Hook;
use tls_provider::charm::legacy::manual::{list_csrs, LegacyCsr};
use tls_provider::charm::legacy::store::{
    is_store_label, CHUNKS_PER_SECRET, MAX_SECRET_BYTES, MAX_VALUE_BYTES, STORE_LABEL,
};
use tls_provider::charm::reconcile::{ReconcileOptions, Summary};
use tls_provider::pki::{cert_to_pem, Ca, KeyAlgorithm, ParsedCsr};

const REL: RelationId = RelationId(7);

/// The leader (self-signed mode, the charm's own CA) related on [`REL`] to the application of
/// `units` (the name before the `/` of the first one).
fn provider(units: &[&str]) -> World {
    let w = World::new(true);
    let app = units[0].split('/').next().unwrap();
    w.relate(REL.0, app, units);
    w
}

fn set_unit(w: &World, unit: &str, pairs: &[(&str, &str)]) {
    w.set_unit_keys(REL.0, unit, pairs);
}

fn own_bag(w: &World) -> Databag {
    w.own_unit_bag(REL.0)
}

/// The legacy dialect's index in `Summary::by_dialect`.
const LEGACY: usize = 1;

/// The unit status message a reconcile set.
fn status_message(s: &Summary) -> String {
    s.status.clone().expect("a status").1
}

fn json(v: &str) -> Value {
    serde_json::from_str(v).unwrap_or_else(|e| panic!("not JSON ({e}): {v}"))
}

fn cert_key_at(bag: &Databag, key: &str, path: &[&str]) -> (String, String) {
    let mut v = json(&bag[key]);
    for p in path {
        v = v[*p].clone();
    }
    (
        v["cert"].as_str().unwrap().to_string(),
        v["key"].as_str().unwrap().to_string(),
    )
}

/// `openssl verify` against `ca_pem` passes and the key's public half is the certificate's.
/// Returns `openssl x509 -text` of the certificate.
fn check_pair(ca_pem: &str, cert: &str, key: &str) -> String {
    verify_cert_and_key(ca_pem, cert, Some(key))
}

fn relation_sets(w: &World) -> usize {
    w.relation_sets()
}

fn secret_writes(w: &World) -> usize {
    w.tools.count("secret-set") + w.tools.count("secret-add") + w.tools.count("secret-remove")
}

/// Calls of `tool` naming the secret labelled `label` (e.g. `secret-get Label("...")`).
fn secret_calls(w: &World, tool: &str, label: &str) -> usize {
    let quoted = format!("{label:?}");
    w.calls()
        .iter()
        .filter(|c| c.starts_with(&format!("{tool} ")) && c.contains(&quoted))
        .count()
}

/// The legacy store's secrets (first page and `-N` pages).
fn store_secrets(w: &World) -> Vec<(String, Databag)> {
    w.tools
        .state
        .borrow()
        .secrets
        .values()
        .filter_map(|s| {
            let label = s.label.clone()?;
            is_store_label(&label).then(|| (label, s.revisions.last().cloned().unwrap()))
        })
        .collect()
}

/// `published` plus Juju's `ingress-address`.
fn published_with_address(published: &Databag) -> Databag {
    let mut bag = published.clone();
    bag.insert("ingress-address".into(), "10.1.1.1".into());
    bag
}

/// Every CSR in the legacy store, with or without a certificate (what the listing actions read).
fn stored_csrs(w: &World) -> Vec<LegacyCsr> {
    let ctx = w.ctx("update-status");
    list_csrs(&Hook::at(&ctx, &w.tools, SystemTime::now())).unwrap()
}

/// `get-outstanding-certificate-requests`: the listed requests.
fn outstanding(w: &World) -> Vec<Value> {
    w.action("get-outstanding-certificate-requests", json!({}))
        .list("requests")
}

/// The listed request of legacy `kind` (and common name `cn`, when given).
fn listed<'a>(list: &'a [Value], kind: &str, cn: Option<&str>) -> &'a Value {
    list.iter()
        .find(|r| r["kind"] == kind && cn.is_none_or(|cn| r["common-name"] == cn))
        .unwrap_or_else(|| panic!("no {kind} request {cn:?} in {list:#?}"))
}

/// `csr_pem` signed by the outside CA `ca` (a leaf, 30 days).
fn outside_sign(ca: &Ca, csr_pem: &str) -> String {
    let parsed = ParsedCsr::parse(csr_pem).unwrap();
    cert_to_pem(&sign_with(ca, &parsed, false, SystemTime::now()))
}

/// `provide-certificate` for `csr` with `cert` signed by the outside CA `ca`, plus `extra`
/// parameters (e.g. `relation-id`).
fn provide(w: &World, csr: &str, cert: &str, ca: &Ca, extra: Value) -> Outcome {
    let mut params = json!({
        "certificate-signing-request": csr,
        "certificate": cert,
        "ca-certificate": ca.cert_pem(),
    });
    if let Value::Object(m) = extra {
        params.as_object_mut().unwrap().extend(m);
    }
    w.action("provide-certificate", params)
}

#[test]
fn shared_client_certificate_without_requests() {
    // Case 28: the requirer only announced itself.
    let w = provider(&["etcd/0"]);
    set_unit(&w, "etcd/0", &[("unit_name", "etcd_0")]);
    let out = w.reconcile();
    assert_eq!(out.by_dialect[LEGACY].relations, 1);
    let bag = own_bag(&w);
    let keys: Vec<&str> = bag.keys().map(String::as_str).collect();
    assert_eq!(keys, vec!["ca", "chain", "client.cert", "client.key"]);
    assert_eq!(bag["ca"], w.ca_pem());
    let text = check_pair(&bag["ca"], &bag["client.cert"], &bag["client.key"]);
    assert!(
        text.contains("CN = client") || text.contains("CN=client"),
        "{text}"
    );
    assert!(text.contains("TLS Web Client Authentication"), "{text}");
    assert!(bag["client.key"].starts_with("-----BEGIN PRIVATE KEY-----"));
    // The private key is never logged.
    assert!(w
        .tools
        .state
        .borrow()
        .logs
        .iter()
        .all(|(_, m)| !m.contains("PRIVATE KEY")));
}

fn full_request_set(w: &World) {
    set_unit(
        w,
        "etcd/0",
        &[
            ("unit_name", "etcd_0"),
            ("common_name", "etcd0.example.com"),
            ("sans", r#"["10.0.0.10", "etcd0.internal"]"#),
            (
                "cert_requests",
                r#"{"peer.example.com": {"sans": ["10.0.0.10"]}, "metrics.example.com": {"sans": []}}"#,
            ),
            (
                "client_cert_requests",
                r#"{"system:etcd-client": {"sans": null}}"#,
            ),
            (
                "application_cert_requests",
                r#"{"etcd.example.com": {"sans": ["10.0.0.10"]}}"#,
            ),
        ],
    );
    for (u, n, ip) in [
        ("etcd/1", "etcd_1", "10.0.0.11"),
        ("etcd/2", "etcd_2", "10.0.0.12"),
    ] {
        set_unit(
            w,
            u,
            &[
                ("unit_name", n),
                (
                    "application_cert_requests",
                    &format!(r#"{{"etcd.example.com": {{"sans": ["{ip}"]}}}}"#),
                ),
            ],
        );
    }
}

#[test]
fn every_request_kind_is_answered_with_verified_pairs() {
    // Cases 29-32.
    let w = provider(&["etcd/0", "etcd/1", "etcd/2"]);
    full_request_set(&w);
    let out = w.reconcile();
    let c = out.by_dialect[LEGACY];
    assert!(
        c.denied == 0 && c.rejected == 0 && out.notes.is_empty(),
        "{out:?}"
    );
    let bag = own_bag(&w);
    let ca_pem = bag["ca"].clone();
    assert_eq!(ca_pem, w.ca_pem());

    // Top-level server certificate: raw PEM, named after unit_name.
    let text = check_pair(
        &ca_pem,
        &bag["etcd_0.server.cert"],
        &bag["etcd_0.server.key"],
    );
    for n in [
        "DNS:etcd0.example.com",
        "DNS:etcd0.internal",
        "IP Address:10.0.0.10",
    ] {
        assert!(text.contains(n), "{n} missing in {text}");
    }
    assert!(text.contains("CA:FALSE"), "{text}");

    // cert_requests: JSON with both CNs.
    let processed = json(&bag["etcd_0.processed_requests"]);
    assert_eq!(processed.as_object().unwrap().len(), 2);
    for cn in ["peer.example.com", "metrics.example.com"] {
        let (c, k) = cert_key_at(&bag, "etcd_0.processed_requests", &[cn]);
        let text = check_pair(&ca_pem, &c, &k);
        assert!(text.contains(&format!("DNS:{cn}")), "{text}");
    }
    // Python json.dumps(sort_keys=True) layout.
    assert!(bag["etcd_0.processed_requests"]
        .starts_with(r#"{"metrics.example.com": {"cert": "-----BEGIN CERTIFICATE-----\n"#));

    // Client certificate with sans: null; the CN is not a DNS name and is not made a SAN.
    let (c, k) = cert_key_at(
        &bag,
        "etcd_0.processed_client_requests",
        &["system:etcd-client"],
    );
    let text = check_pair(&ca_pem, &c, &k);
    assert!(text.contains("system:etcd-client"), "{text}");
    assert!(!text.contains("Subject Alternative Name"), "{text}");

    // One application certificate for the 3 units, SANs = union.
    let mut app = None;
    for u in ["etcd_0", "etcd_1", "etcd_2"] {
        let key = format!("{u}.processed_application_requests");
        let pair = cert_key_at(&bag, &key, &["app_data"]);
        if let Some(prev) = &app {
            assert_eq!(prev, &pair, "{u} got a different application certificate");
        }
        app = Some(pair);
    }
    let (c, k) = app.unwrap();
    let text = check_pair(&ca_pem, &c, &k);
    for n in [
        "DNS:etcd.example.com",
        "IP Address:10.0.0.10",
        "IP Address:10.0.0.11",
        "IP Address:10.0.0.12",
    ] {
        assert!(text.contains(n), "{n} missing in {text}");
    }
    // Units without other requests get nothing else.
    assert!(!bag.contains_key("etcd_1.server.cert"));
    assert!(!bag.contains_key("etcd_0.processed_intermediate_requests"));
    // 1 top + 2 processed + 1 client + 1 app.
    assert_eq!(out.by_dialect[LEGACY].published, 5);
}

#[test]
fn second_run_changes_nothing() {
    let w = provider(&["etcd/0", "etcd/1", "etcd/2"]);
    full_request_set(&w);
    w.reconcile();
    let before = own_bag(&w);
    w.tools.reset_calls();
    let out = w.reconcile();
    assert_eq!(own_bag(&w), before);
    assert_eq!(relation_sets(&w), 0, "{:?}", w.calls());
    assert_eq!(secret_writes(&w), 0, "{:?}", w.calls());
    assert_eq!(out.totals.signed, 0);
    assert_eq!(out.writes, 0);
    // One read of the legacy store for the whole run.
    assert_eq!(
        secret_calls(&w, "secret-get", STORE_LABEL),
        1,
        "{:?}",
        w.calls()
    );
}

#[test]
fn san_change_reissues_only_that_certificate_and_reorder_does_not() {
    // Case 34.
    let w = provider(&["etcd/0", "etcd/1", "etcd/2"]);
    full_request_set(&w);
    w.reconcile();
    let before = own_bag(&w);

    set_unit(
        &w,
        "etcd/0",
        &[(
            "sans",
            r#"["etcd0.internal", "10.0.0.10", "etcd0.internal"]"#,
        )],
    );
    w.tools.reset_calls();
    w.reconcile();
    assert_eq!(own_bag(&w), before, "reordering the SANs changed something");
    assert_eq!(relation_sets(&w), 0);

    set_unit(
        &w,
        "etcd/0",
        &[(
            "sans",
            r#"["etcd0.internal", "10.0.0.10", "etcd0.example.net"]"#,
        )],
    );
    let out = w.reconcile();
    assert_eq!(out.by_dialect[LEGACY].signed, 1);
    let after = own_bag(&w);
    let changed: Vec<&String> = after
        .keys()
        .filter(|k| before.get(*k) != after.get(*k))
        .collect();
    assert_eq!(changed, vec!["etcd_0.server.cert", "etcd_0.server.key"]);
    let text = check_pair(
        &after["ca"],
        &after["etcd_0.server.cert"],
        &after["etcd_0.server.key"],
    );
    assert!(text.contains("DNS:etcd0.example.net"), "{text}");
}

#[test]
fn intermediate_needs_allow_ca_requests_and_is_published_twice() {
    // Case 33.
    let w = World::new(true);
    w.relate(REL.0, "vault", &["vault/0"]);
    set_unit(
        &w,
        "vault/0",
        &[
            ("unit_name", "vault_0"),
            (
                "intermediate_cert_requests",
                r#"{"Vault Intermediate": {"sans": []}}"#,
            ),
        ],
    );
    // allow-ca-requests defaults to false.
    let out = w.reconcile();
    assert_eq!(out.by_dialect[LEGACY].denied, 1);
    assert_eq!(out.notes.len(), 1, "{:?}", out.notes);
    assert!(
        out.notes[0].contains("allow-ca-requests"),
        "{:?}",
        out.notes
    );
    assert!(!own_bag(&w).contains_key("vault_0.processed_intermediate_requests"));
    assert!(w
        .tools
        .state
        .borrow()
        .logs
        .iter()
        .any(|(l, m)| *l == LogLevel::Warning && m.contains("allow-ca-requests")));

    w.config("allow-ca-requests", json!(true));
    let out = w.reconcile();
    assert_eq!(out.by_dialect[LEGACY].denied, 0);
    assert!(out.notes.is_empty(), "{:?}", out.notes);
    let bag = own_bag(&w);
    let by_cn = cert_key_at(
        &bag,
        "vault_0.processed_intermediate_requests",
        &["Vault Intermediate"],
    );
    let app = cert_key_at(
        &bag,
        "vault_0.processed_intermediate_requests",
        &["app_data"],
    );
    assert_eq!(by_cn, app);
    let text = check_pair(&bag["ca"], &by_cn.0, &by_cn.1);
    assert!(text.contains("CA:TRUE"), "{text}");
}

#[test]
fn ca_rotation_reissues_everything_with_the_same_keys() {
    let w = provider(&["etcd/0", "etcd/1", "etcd/2"]);
    full_request_set(&w);
    w.reconcile();
    let before = own_bag(&w);
    let old_ca = w.ca_pem();
    // A new CA, as rotate-private-key makes it.
    let out = w.run_ctx(
        &w.ctx("update-status"),
        SystemTime::now(),
        ReconcileOptions {
            force_rotate: true,
            immediate: true,
            ..ReconcileOptions::default()
        },
    );
    assert!(out.ca_rotated.is_some());
    assert_ne!(w.ca_pem(), old_ca);
    // 5 relation certificates and the shared client one.
    assert_eq!(out.by_dialect[LEGACY].signed, 6);
    let after = own_bag(&w);
    assert_eq!(after["ca"], w.ca_pem());
    assert_eq!(before["client.key"], after["client.key"]);
    check_pair(&after["ca"], &after["client.cert"], &after["client.key"]);
    check_pair(
        &after["ca"],
        &after["etcd_0.server.cert"],
        &after["etcd_0.server.key"],
    );
    let (c, k) = cert_key_at(
        &after,
        "etcd_2.processed_application_requests",
        &["app_data"],
    );
    check_pair(&after["ca"], &c, &k);
    for (k, v) in &after {
        if k.ends_with(".cert") || k == "ca" || k == "chain" {
            assert_ne!(before[k], *v, "{k} was not reissued");
        }
    }
}

#[test]
fn a_new_leader_republishes_the_same_material() {
    let w = provider(&["etcd/0", "etcd/1", "etcd/2"]);
    full_request_set(&w);
    w.reconcile();
    let published = own_bag(&w);

    // Another unit becomes leader: same config, secrets and remote data, empty own databag.
    let w2 = World::new(true);
    {
        let mut st2 = w2.tools.state.borrow_mut();
        let st = w.tools.state.borrow();
        st2.unit_name = "tls-provider/1".into();
        st2.config = st.config.clone();
        st2.secrets = st.secrets.clone();
        st2.relations = st.relations.clone();
        st2.relations.get_mut(&REL).unwrap().local_unit_bag.clear();
    }
    let ctx = w2.ctx_for(
        "hooks/leader-elected",
        &[("JUJU_UNIT_NAME", "tls-provider/1")],
    );
    let out = w2.run_ctx(&ctx, SystemTime::now(), ReconcileOptions::default());
    assert_eq!(out.totals.signed, 0);
    assert_eq!(own_bag(&w2), published);
    assert_eq!(secret_writes(&w2), 0, "{:?}", w2.calls());

    // The old leader, now a follower, clears what it published and keeps Juju's keys.
    w.tools.state.borrow_mut().leader = false;
    w.tools
        .state
        .borrow_mut()
        .relations
        .get_mut(&REL)
        .unwrap()
        .local_unit_bag
        .insert("ingress-address".into(), "10.1.1.1".into());
    // Not in the deposed leader's `leader-settings-changed` (Juju 3.x), which may run before the
    // new leader published: the requirer's merged view would lose its certificates meanwhile.
    w.tools.reset_calls();
    w.run("leader-settings-changed");
    assert_eq!(own_bag(&w), published_with_address(&published));
    assert_eq!(relation_sets(&w), 0);
    // In its next other hook.
    w.tools.reset_calls();
    w.reconcile();
    let left: Vec<String> = own_bag(&w).into_keys().collect();
    assert_eq!(left, vec!["ingress-address".to_string()]);
    assert_eq!(w.tools.count("secret-get"), 0);
    assert_eq!(relation_sets(&w), 1);
    w.tools.reset_calls();
    w.reconcile();
    assert_eq!(relation_sets(&w), 0);
}

#[test]
fn departed_unit_keys_are_removed() {
    // Case 37.
    let w = provider(&["etcd/0", "etcd/1", "etcd/2"]);
    full_request_set(&w);
    w.reconcile();
    let before = own_bag(&w);
    assert!(before.contains_key("etcd_2.processed_application_requests"));
    w.remove_unit(REL.0, "etcd/2");
    let out = w.reconcile();
    let after = own_bag(&w);
    assert!(!after.keys().any(|k| k.starts_with("etcd_2.")), "{after:?}");
    // The union shrank: the application certificate is reissued without 10.0.0.12.
    assert_eq!(out.by_dialect[LEGACY].signed, 1);
    let (c, k) = cert_key_at(
        &after,
        "etcd_0.processed_application_requests",
        &["app_data"],
    );
    let text = check_pair(&after["ca"], &c, &k);
    assert!(!text.contains("10.0.0.12"), "{text}");
    assert_eq!(before["etcd_0.server.cert"], after["etcd_0.server.cert"]);
}

#[test]
fn removed_relation_is_pruned_from_the_store() {
    let w = provider(&["etcd/0"]);
    full_request_set(&w);
    w.tools
        .state
        .borrow_mut()
        .relations
        .get_mut(&REL)
        .unwrap()
        .remote_units
        .retain(|u, _| u == "etcd/0");
    w.reconcile();
    assert_eq!(stored_csrs(&w).len(), 6);
    // certificates-relation-broken: the relation is no longer live.
    let ctx = w.ctx_for(
        "hooks/certificates-relation-broken",
        &[
            ("JUJU_RELATION", "certificates"),
            ("JUJU_RELATION_ID", "certificates:7"),
            ("JUJU_REMOTE_APP", "etcd"),
        ],
    );
    w.run_ctx(&ctx, SystemTime::now(), ReconcileOptions::default());
    let left = stored_csrs(&w);
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(left[0].kind, "shared-client");
}

#[test]
fn malformed_requests_are_skipped_with_a_log_line() {
    let w = provider(&["bad/0", "good/0"]);
    let huge = format!(r#"{{"a.example": {{"sans": ["{}"]}}}}"#, "x".repeat(70_000));
    let many: BTreeMap<String, Value> = (0..150)
        .map(|i| (format!("h{i}.example"), json!({"sans": []})))
        .collect();
    set_unit(
        &w,
        "bad/0",
        &[
            ("unit_name", "bad_0"),
            ("common_name", " "),
            ("cert_requests", "{not json"),
            ("client_cert_requests", &huge),
            (
                "application_cert_requests",
                &serde_json::to_string(&many).unwrap(),
            ),
            ("intermediate_cert_requests", r#"{"": {"sans": []}}"#),
        ],
    );
    set_unit(
        &w,
        "good/0",
        &[
            ("common_name", "good.example"),
            (
                "cert_requests",
                r#"{"ok.example": {"sans": [1, 2]}, "fine.example": {}}"#,
            ),
        ],
    );
    // The hook still succeeds (World::reconcile asserts it).
    let out = w.reconcile();
    assert_eq!(out.by_dialect[LEGACY].rejected, 6, "{:#?}", out.notes);
    assert_eq!(out.notes.len(), 6, "{:#?}", out.notes);
    let logs = w.tools.state.borrow().logs.clone();
    let warnings: Vec<&String> = logs
        .iter()
        .filter(|(l, _)| *l == LogLevel::Warning)
        .map(|(_, m)| m)
        .collect();
    for needle in [
        "common name is empty",
        "not valid JSON",
        "more than the 65536 allowed",
        "150 requests",
        "every SAN must be a string",
    ] {
        assert!(
            warnings.iter().any(|m| m.contains(needle)),
            "no log line with {needle:?}: {warnings:#?}"
        );
    }
    let bag = own_bag(&w);
    // The good unit (no unit_name: its Juju name) is served; nothing for the bad one.
    check_pair(
        &bag["ca"],
        &bag["good_0.server.cert"],
        &bag["good_0.server.key"],
    );
    let processed = json(&bag["good_0.processed_requests"]);
    assert_eq!(
        processed.as_object().unwrap().keys().collect::<Vec<_>>(),
        vec!["fine.example"]
    );
    assert!(!bag.keys().any(|k| k.starts_with("bad_0.")));
}

#[test]
fn policy_refusals_are_logged_and_not_published() {
    let w = World::new(true);
    w.config("allowed-domains", json!("example.com"));
    w.config("allow-ip-sans", json!(false));
    w.relate(REL.0, "app", &["app/0"]);
    set_unit(
        &w,
        "app/0",
        &[
            ("common_name", "www.example.com"),
            (
                "cert_requests",
                r#"{"evil.example.org": {"sans": []}, "ip.example.com": {"sans": ["10.0.0.1"]}, "ok.example.com": {"sans": ["a.ok.example.com"]}}"#,
            ),
        ],
    );
    let out = w.reconcile();
    assert_eq!(out.by_dialect[LEGACY].denied, 2, "{:#?}", out.notes);
    assert_eq!(out.notes.len(), 2, "{:#?}", out.notes);
    assert!(out
        .notes
        .iter()
        .any(|m| m.contains("evil.example.org") && m.contains("allowed-domains")));
    assert!(out.notes.iter().any(|m| m.contains("allow-ip-sans")));
    let bag = own_bag(&w);
    assert!(bag.contains_key("app_0.server.cert"));
    let processed = json(&bag["app_0.processed_requests"]);
    assert_eq!(
        processed.as_object().unwrap().keys().collect::<Vec<_>>(),
        vec!["ok.example.com"]
    );
    assert_eq!(
        w.tools.log_count(LogLevel::Warning),
        2,
        "{:#?}",
        w.tools.state.borrow().logs
    );
}

/// `application-domains` applies to legacy requests too, naming the application.
#[test]
fn application_domains_apply_to_legacy_requests() {
    let w = World::new(true);
    w.config("application-domains", json!("app=app.example.com"));
    w.relate(REL.0, "app", &["app/0"]);
    set_unit(
        &w,
        "app/0",
        &[
            ("common_name", "www.app.example.com"),
            (
                "cert_requests",
                r#"{"db.example.com": {"sans": []}, "x.app.example.com": {"sans": []}}"#,
            ),
        ],
    );
    let out = w.reconcile();
    assert_eq!(out.by_dialect[LEGACY].denied, 1, "{:#?}", out.notes);
    assert!(
        out.notes[0].contains("db.example.com") && out.notes[0].contains("application app"),
        "{:#?}",
        out.notes
    );
    let bag = own_bag(&w);
    assert!(bag.contains_key("app_0.server.cert"));
    let processed = json(&bag["app_0.processed_requests"]);
    assert_eq!(
        processed.as_object().unwrap().keys().collect::<Vec<_>>(),
        vec!["x.app.example.com"]
    );
}

#[test]
fn cross_model_unit_name_is_used() {
    // Case 35: the remote unit is an alias; keys follow unit_name.
    let w = provider(&["remote-0a1b2c/0"]);
    set_unit(
        &w,
        "remote-0a1b2c/0",
        &[
            ("unit_name", "etcd_3"),
            ("common_name", "etcd3.example.com"),
        ],
    );
    w.reconcile();
    let bag = own_bag(&w);
    assert!(bag.contains_key("etcd_3.server.cert"));
    assert!(!bag.keys().any(|k| k.starts_with("remote-")));
}

#[test]
fn large_stores_are_paged_across_secrets() {
    let w = provider(&["big/0"]);
    // 40 server certificates with their keys: far more than one secret holds.
    let reqs: BTreeMap<String, Value> = (0..40)
        .map(|i| (format!("h{i}.example.com"), json!({"sans": []})))
        .collect();
    set_unit(
        &w,
        "big/0",
        &[("cert_requests", &serde_json::to_string(&reqs).unwrap())],
    );
    w.reconcile();
    let pages = store_secrets(&w);
    let labels: Vec<&String> = pages.iter().map(|(l, _)| l).collect();
    assert!(labels.len() >= 2, "{labels:?}");
    assert!(labels.iter().any(|l| *l == STORE_LABEL));
    // Every page fits the strictest limits of the Juju versions the charm supports, even
    // measured base64-encoded (as Juju 3.6.9 and later measure).
    let b64 = |v: &String| v.len().div_ceil(3) * 4;
    for (label, content) in &pages {
        assert!(content.len() <= CHUNKS_PER_SECRET + 1, "{label}");
        for (k, v) in content {
            assert!(b64(v) <= MAX_VALUE_BYTES, "{label} {k}: {} encoded", b64(v));
        }
        let total: usize = content.values().map(b64).sum();
        assert!(total <= MAX_SECRET_BYTES, "{label}: {total} encoded");
    }
    assert_eq!(
        json(&own_bag(&w)["big_0.processed_requests"])
            .as_object()
            .unwrap()
            .len(),
        40,
        "every certificate is published"
    );
    let before = own_bag(&w);
    w.tools.reset_calls();
    w.reconcile();
    assert_eq!(own_bag(&w), before);
    assert_eq!(secret_writes(&w), 0);
    // Fewer requests: fewer pages, the extra secrets are removed.
    set_unit(
        &w,
        "big/0",
        &[("cert_requests", r#"{"h1.example.com": {"sans": []}}"#)],
    );
    w.reconcile();
    assert_eq!(store_secrets(&w).len(), 1);
    // The remaining request keeps its key and certificate.
    let old = cert_key_at(&before, "big_0.processed_requests", &["h1.example.com"]);
    let new = cert_key_at(
        &own_bag(&w),
        "big_0.processed_requests",
        &["h1.example.com"],
    );
    assert_eq!(old, new);
    assert_eq!(
        json(&own_bag(&w)["big_0.processed_requests"])
            .as_object()
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn manual_mode_lists_csrs_and_publishes_provided_certificates() {
    let outside = ec_ca("Outside CA");
    let w = World::leader_in("manual");
    w.relate(REL.0, "etcd", &["etcd/0"]);
    set_unit(
        &w,
        "etcd/0",
        &[
            ("unit_name", "etcd_0"),
            ("common_name", "etcd0.example.com"),
        ],
    );
    let out = w.reconcile();
    assert_eq!(out.by_dialect[LEGACY].outstanding, 2);
    assert_eq!(out.by_dialect[LEGACY].signed, 0);
    // Nothing to publish yet: no CA, no certificates, and certainly no bare keys.
    assert!(own_bag(&w).is_empty(), "{:?}", own_bag(&w));

    let csrs = outstanding(&w);
    assert_eq!(csrs.len(), 2, "{csrs:#?}");
    let server = listed(&csrs, "server", None);
    assert_eq!(server["relation-id"], json!(REL.0));
    assert_eq!(server["unit"], "etcd_0");
    assert_eq!(server["common-name"], "etcd0.example.com");
    assert_eq!(server["dns-sans"], json!(["etcd0.example.com"]));
    assert_eq!(server["ip-sans"], json!([]));
    // Outstanding: no certificate yet.
    assert!(
        server["legacy"] == true && server["is-ca"] == false,
        "{server}"
    );
    let server_csr = server["csr"].as_str().unwrap().to_string();
    // The CSR is signed by the outside CA with the openssl command line.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("csr.pem"), &server_csr).unwrap();
    std::fs::write(dir.path().join("ca.pem"), outside.cert_pem()).unwrap();
    std::fs::write(dir.path().join("ca.key"), outside.key_pem()).unwrap();
    let (ok, text) = openssl_cli(
        dir.path(),
        &[
            "x509",
            "-req",
            "-in",
            "csr.pem",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "30",
            "-copy_extensions",
            "copy",
            "-out",
            "cert.pem",
        ],
    );
    assert!(ok, "{text}");
    let cert = std::fs::read_to_string(dir.path().join("cert.pem")).unwrap();

    // A certificate for another key is refused, and nothing changes.
    let state = w.world_state();
    let client = listed(&csrs, "shared-client", None);
    let client_csr = client["csr"].as_str().unwrap();
    let refused = provide(&w, client_csr, &cert, &outside, json!({}));
    let err = refused.failed.expect("refused");
    assert!(err.contains("public key"), "{err}");
    // An unknown CSR is not ours.
    let key = KeyAlgorithm::EcdsaP256.generate().unwrap();
    let unknown = tls_provider::pki::csr_to_pem(
        &tls_provider::pki::generate_csr(&key, "etcd0.example.com", &[]).unwrap(),
    )
    .unwrap();
    let unknown_cert = outside_sign(&outside, &unknown);
    let refused = provide(&w, &unknown, &unknown_cert, &outside, json!({}));
    let err = refused.failed.expect("refused");
    assert!(err.contains("was not found in any relation"), "{err}");
    assert_eq!(w.world_state(), state);

    let done = provide(
        &w,
        &server_csr,
        &cert,
        &outside,
        json!({"relation-id": REL.0}),
    );
    assert_eq!(done.ok()["unit"], "etcd_0");
    assert_eq!(done.ok()["legacy"], "true");
    let bag = own_bag(&w);
    assert_eq!(bag["ca"].trim(), outside.cert_pem().trim());
    check_pair(
        &bag["ca"],
        &bag["etcd_0.server.cert"],
        &bag["etcd_0.server.key"],
    );
    assert!(!bag.contains_key("client.cert"));
    let pending = outstanding(&w);
    assert_eq!(pending.len(), 1, "{pending:#?}");

    // Stays published across reconciles; switching to the built-in CA re-signs it.
    w.tools.reset_calls();
    w.reconcile();
    assert_eq!(relation_sets(&w), 0);
    w.config("mode", json!("self-signed"));
    let out = w.reconcile();
    assert_eq!(out.by_dialect[LEGACY].signed, 2);
    let bag2 = own_bag(&w);
    assert_eq!(bag2["ca"], w.ca_pem());
    assert_eq!(bag2["etcd_0.server.key"], bag["etcd_0.server.key"]);
    check_pair(
        &bag2["ca"],
        &bag2["etcd_0.server.cert"],
        &bag2["etcd_0.server.key"],
    );
    check_pair(&bag2["ca"], &bag2["client.cert"], &bag2["client.key"]);
}

#[test]
fn per_relation_api_reads_the_store_once() {
    let w = World::new(true);
    w.relate(1, "a", &["a/0"]);
    w.relate(2, "b", &["b/0"]);
    w.set_unit_keys(1, "a/0", &[("common_name", "a.example")]);
    w.set_unit_keys(2, "b/0", &[("common_name", "b.example")]);
    let out = w.reconcile();
    assert_eq!(out.by_dialect[LEGACY].relations, 2);
    assert_eq!(out.by_dialect[LEGACY].published, 2);
    assert_eq!(
        secret_calls(&w, "secret-get", STORE_LABEL),
        1,
        "{:?}",
        w.calls()
    );
    assert_eq!(
        secret_calls(&w, "secret-add", STORE_LABEL),
        1,
        "{:?}",
        w.calls()
    );
    // The same shared client certificate on both relations.
    assert_eq!(
        w.own_unit_bag(1)["client.cert"],
        w.own_unit_bag(2)["client.cert"]
    );
}

#[test]
fn certificate_limit_and_key_generation_budget() {
    let w = provider(&["big/0"]);
    let reqs: BTreeMap<String, Value> = (0..55)
        .map(|i| (format!("h{i:02}.example.com"), json!({"sans": []})))
        .collect();
    set_unit(
        &w,
        "big/0",
        &[("cert_requests", &serde_json::to_string(&reqs).unwrap())],
    );

    // certificate-limit refuses what is beyond it, in request order.
    w.config("certificate-limit", json!(3));
    let out = w.reconcile();
    assert_eq!(out.by_dialect[LEGACY].published, 3);
    assert_eq!(out.by_dialect[LEGACY].denied, 52);
    assert_eq!(out.notes.len(), 52);
    assert!(
        out.notes[0].contains("certificate-limit"),
        "{}",
        out.notes[0]
    );
    let processed = json(&own_bag(&w)["big_0.processed_requests"]);
    assert_eq!(
        processed.as_object().unwrap().keys().collect::<Vec<_>>(),
        vec!["h00.example.com", "h01.example.com", "h02.example.com"]
    );

    // Without a limit, one hook generates at most MAX_NEW_KEYS_PER_RUN keys (each new key is
    // signed at once); the next finishes.
    w.config("certificate-limit", json!(0));
    let out = w.reconcile();
    assert_eq!(
        out.by_dialect[LEGACY].signed,
        tls_provider::charm::legacy::MAX_NEW_KEYS_PER_RUN
    );
    assert_eq!(out.by_dialect[LEGACY].deferred, 2);
    assert!(
        status_message(&out).contains("deferred"),
        "{:?}",
        out.status
    );
    let out = w.reconcile();
    let c = out.by_dialect[LEGACY];
    assert_eq!((c.signed, c.deferred, c.published), (2, 0, 55));
    let processed = json(&own_bag(&w)["big_0.processed_requests"]);
    assert_eq!(processed.as_object().unwrap().len(), 55);
}

#[test]
fn manual_mode_counts_the_shared_client_once() {
    let w = World::leader_in("manual");
    for (id, app) in [(1, "a"), (2, "b")] {
        w.relate(id, app, &[&format!("{app}/0")]);
        w.set_unit_keys(
            id,
            &format!("{app}/0"),
            &[("common_name", &format!("{app}.example.com"))],
        );
    }
    let out = w.reconcile();
    // Two server requests and the shared client.
    assert_eq!(out.by_dialect[LEGACY].outstanding, 3);
    assert_eq!(out.by_dialect[LEGACY].relations, 2);
    assert!(
        status_message(&out).contains("3 awaiting provide-certificate"),
        "{:?}",
        out.status
    );
}

/// Every store write makes a new revision of a secret holding generated private keys; Juju's
/// `secret-remove` for an old revision of any store secret (first page or `-N`) removes it, in
/// the leader's reconcile like the CA secret's. Other labels are left alone.
#[test]
fn secret_remove_removes_unused_revisions_of_the_legacy_store() {
    use juju_hook::HookTools;
    use juju_hook::{SecretOptions, SecretOwner, SecretRef};

    let w = provider(&["etcd/0"]);
    set_unit(
        &w,
        "etcd/0",
        &[("unit_name", "etcd_0"), ("common_name", "a.example")],
    );
    w.reconcile();
    set_unit(&w, "etcd/0", &[("common_name", "b.example")]);
    w.reconcile();
    let store_id = w
        .tools
        .secret_info_get(&SecretRef::Label(STORE_LABEL.into()))
        .unwrap()
        .id;
    let revisions = |label: &str| {
        w.tools
            .state
            .borrow()
            .secrets
            .values()
            .find(|s| s.label.as_deref() == Some(label))
            .map_or(0, |s| s.revisions.len())
    };
    assert!(revisions(STORE_LABEL) >= 2, "the store was rewritten");
    let page2_id = w
        .tools
        .secret_add(
            &Databag::from([("doc-000".to_string(), "x".to_string())]),
            &SecretOptions {
                label: Some(format!("{STORE_LABEL}-2")),
                owner: SecretOwner::Application,
                ..SecretOptions::default()
            },
        )
        .unwrap();
    let hook = |id: &str, label: &str| {
        let ctx = w.ctx_for(
            "hooks/secret-remove",
            &[
                ("JUJU_SECRET_ID", id),
                ("JUJU_SECRET_LABEL", label),
                ("JUJU_SECRET_REVISION", "1"),
            ],
        );
        w.tools.reset_calls();
        w.run_ctx(&ctx, SystemTime::now(), ReconcileOptions::default());
        w.calls()
            .into_iter()
            .filter(|c| c.starts_with("secret-remove"))
            .collect::<Vec<_>>()
    };
    let bare = |id: &str| id.trim_start_matches("secret:").to_string();
    assert_eq!(
        hook(&format!("secret:{}", bare(&store_id)), STORE_LABEL),
        vec![format!("secret-remove secret:{}", bare(&store_id))]
    );
    let page2 = format!("{STORE_LABEL}-2");
    assert_eq!(
        hook(&format!("secret:{}", bare(&page2_id)), &page2),
        vec![format!("secret-remove secret:{}", bare(&page2_id))]
    );
    // The store is still there (only an old revision went).
    assert!(revisions(STORE_LABEL) >= 2);
    assert!(hook("secret:someoneelse", "tls-provider-legacyx").is_empty());
    assert!(hook("secret:someoneelse", "other").is_empty());

    for ok in [
        STORE_LABEL,
        "tls-provider-legacy-2",
        "tls-provider-legacy-17",
    ] {
        assert!(is_store_label(ok), "{ok}");
    }
    for no in [
        "tls-provider-legacy-",
        "tls-provider-legacy-2a",
        "tls-provider-legacyx",
        "tls-provider-ca",
        "",
    ] {
        assert!(!is_store_label(no), "{no}");
    }
}

/// Manual mode: `provide-certificate` reads back what it published. When the requirer withdrew
/// the request between listing and providing, the certificate is not published and it says so
/// instead of reporting success.
#[test]
fn complete_csr_fails_when_the_certificate_is_not_published() {
    let outside = ec_ca("Outside CA");
    let w = World::leader_in("manual");
    w.relate(REL.0, "etcd", &["etcd/0"]);
    set_unit(
        &w,
        "etcd/0",
        &[("unit_name", "etcd_0"), ("common_name", "old.example.com")],
    );
    w.reconcile();
    let csrs = outstanding(&w);
    let server_csr = listed(&csrs, "server", None)["csr"]
        .as_str()
        .unwrap()
        .to_string();
    let cert = outside_sign(&outside, &server_csr);

    // The requirer now asks for another name: the listed CSR is no longer wanted.
    set_unit(&w, "etcd/0", &[("common_name", "new.example.com")]);
    let out = provide(
        &w,
        &server_csr,
        &cert,
        &outside,
        json!({"relation-id": REL.0}),
    );
    let err = out.failed.expect("not published");
    assert!(
        err.contains("could not be published on relation 7"),
        "{err}"
    );
    assert!(!own_bag(&w).values().any(|v| v.contains(cert.trim())));

    // Still asked for: published, and success.
    w.reconcile();
    let csrs = outstanding(&w);
    let server_csr = listed(&csrs, "server", Some("new.example.com"))["csr"]
        .as_str()
        .unwrap()
        .to_string();
    let cert = outside_sign(&outside, &server_csr);
    provide(&w, &server_csr, &cert, &outside, json!({})).ok();
    assert_eq!(own_bag(&w)["etcd_0.server.cert"], cert);
}

/// A removed leader runs `-relation-departed` (departing: itself) and `-relation-broken` for a
/// relation that lives on for the application: the generated keys stay in the store and our
/// published answers stay, so the next leader republishes the same material.
#[test]
fn a_leader_leaving_a_relation_keeps_its_keys() {
    let w = provider(&["etcd/0"]);
    set_unit(
        &w,
        "etcd/0",
        &[
            ("unit_name", "etcd_0"),
            ("common_name", "etcd0.example.com"),
        ],
    );
    w.reconcile();
    let before = own_bag(&w);
    let stored = stored_csrs(&w);
    assert_eq!(stored.len(), 2, "server and shared client: {stored:?}");
    let me = format!("{}/0", common::world::APP);
    let rel = format!("certificates:{}", REL.0);
    for (hook, departing) in [("departed", me.as_str()), ("broken", "")] {
        let ctx = w.ctx_for(
            &format!("hooks/certificates-relation-{hook}"),
            &[
                ("JUJU_RELATION", "certificates"),
                ("JUJU_RELATION_ID", &rel),
                ("JUJU_REMOTE_APP", "etcd"),
                ("JUJU_DEPARTING_UNIT", departing),
            ],
        );
        w.tools.reset_calls();
        w.run_ctx(&ctx, SystemTime::now(), ReconcileOptions::default());
        assert_eq!(relation_sets(&w), 0, "{hook}: {:?}", w.calls());
        assert_eq!(secret_writes(&w), 0, "{hook}: {:?}", w.calls());
    }
    assert_eq!(own_bag(&w), before);
    assert_eq!(stored_csrs(&w), stored);
}

/// `rotate-private-key` counts the certificates of both dialects it reissued: with only legacy
/// requirers it reports every legacy certificate re-signed, not 0.
#[test]
fn rotate_private_key_counts_legacy_certificates() {
    let w = provider(&["etcd/0"]);
    set_unit(
        &w,
        "etcd/0",
        &[
            ("unit_name", "etcd_0"),
            ("common_name", "etcd0.example.com"),
        ],
    );
    w.reconcile();
    let out = w.action("rotate-private-key", json!({"immediate": true}));
    let results = out.ok();
    assert_eq!(
        results["reissued"], "2",
        "server and shared client: {results:?}"
    );
    assert!(
        results["result"].contains("2 certificate(s) reissued"),
        "{results:?}"
    );
    let bag = own_bag(&w);
    assert_eq!(bag["ca"], results["ca-certificate"]);
    check_pair(
        &bag["ca"],
        &bag["etcd_0.server.cert"],
        &bag["etcd_0.server.key"],
    );
}
