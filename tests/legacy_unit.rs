//! The legacy reactive dialect against the in-memory hook tools: real keys and certificates,
//! checked with the `openssl` command line.

mod common;

use std::collections::BTreeMap;
use std::time::SystemTime;

use common::ca::{ec_ca, sign_with};
use common::pki::{openssl_cli, verify_cert_and_key};
use juju_hook::fake::FakeTools;
use juju_hook::{Databag, LogLevel, RelationId};
use tls_provider::charm::legacy::{
    complete_csr, list_csrs, reconcile_all, LegacyEnv, LegacyRun, RelationInput, Signer,
    STORE_LABEL,
};
use tls_provider::pki::{Ca, Policy};

const DAY: u64 = 86_400;
const REL: RelationId = RelationId(7);

/// The leader `tls-provider/0` signing with `signer`, now.
fn env_with<'a>(signer: Signer<'a>, policy: &'a Policy) -> LegacyEnv<'a> {
    LegacyEnv {
        own_unit: "tls-provider/0",
        is_leader: true,
        signer,
        policy,
        now: SystemTime::now(),
    }
}

/// The leader signing with the built-in CA `ca` (90-day certificates).
fn env<'a>(ca: &'a Ca, policy: &'a Policy) -> LegacyEnv<'a> {
    env_with(
        Signer::BuiltIn {
            ca,
            validity_secs: 90 * DAY,
        },
        policy,
    )
}

fn provider(units: &[&str]) -> FakeTools {
    let t = FakeTools::new("tls-provider", true);
    t.add_relation(REL.0, "certificates", "etcd", units);
    t
}

fn set_unit(t: &FakeTools, unit: &str, pairs: &[(&str, &str)]) {
    let mut st = t.state.borrow_mut();
    let bag = st
        .relations
        .get_mut(&REL)
        .unwrap()
        .remote_units
        .entry(unit.to_string())
        .or_default();
    for (k, v) in pairs {
        if v.is_empty() {
            bag.remove(*k);
        } else {
            bag.insert(k.to_string(), v.to_string());
        }
    }
}

fn own_bag(t: &FakeTools) -> Databag {
    t.local_unit_bag(REL.0)
}

fn json(v: &str) -> serde_json::Value {
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

fn relation_sets(t: &FakeTools) -> usize {
    t.count("relation-set")
}

fn secret_writes(t: &FakeTools) -> usize {
    t.count("secret-set") + t.count("secret-add") + t.count("secret-remove")
}

#[test]
fn shared_client_certificate_without_requests() {
    // Case 28: the requirer only announced itself.
    let (ca, policy) = (ec_ca("Legacy CA"), Policy::default());
    let t = provider(&["etcd/0"]);
    set_unit(&t, "etcd/0", &[("unit_name", "etcd_0")]);
    let out = reconcile_all(&t, &env(&ca, &policy)).unwrap();
    assert_eq!(out.relations, 1);
    let bag = own_bag(&t);
    let keys: Vec<&str> = bag.keys().map(String::as_str).collect();
    assert_eq!(keys, vec!["ca", "chain", "client.cert", "client.key"]);
    assert_eq!(bag["ca"], ca.cert_pem());
    let text = check_pair(&bag["ca"], &bag["client.cert"], &bag["client.key"]);
    assert!(
        text.contains("CN = client") || text.contains("CN=client"),
        "{text}"
    );
    assert!(text.contains("TLS Web Client Authentication"), "{text}");
    assert!(bag["client.key"].starts_with("-----BEGIN PRIVATE KEY-----"));
    // The private key is never logged.
    assert!(t
        .state
        .borrow()
        .logs
        .iter()
        .all(|(_, m)| !m.contains("PRIVATE KEY")));
}

fn full_request_set(t: &FakeTools) {
    set_unit(
        t,
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
            t,
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
    let (ca, policy) = (ec_ca("Legacy CA"), Policy::default());
    let t = provider(&["etcd/0", "etcd/1", "etcd/2"]);
    full_request_set(&t);
    let out = reconcile_all(&t, &env(&ca, &policy)).unwrap();
    assert!(out.refused.is_empty() && out.skipped.is_empty(), "{out:?}");
    let bag = own_bag(&t);
    let ca_pem = bag["ca"].clone();

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
    assert_eq!(out.published, 5);
}

#[test]
fn second_run_changes_nothing() {
    let (ca, policy) = (ec_ca("Legacy CA"), Policy::default());
    let t = provider(&["etcd/0", "etcd/1", "etcd/2"]);
    full_request_set(&t);
    let e = env(&ca, &policy);
    reconcile_all(&t, &e).unwrap();
    let before = own_bag(&t);
    t.reset_calls();
    let out = reconcile_all(&t, &e).unwrap();
    assert_eq!(own_bag(&t), before);
    assert_eq!(relation_sets(&t), 0, "{:?}", t.state.borrow().calls);
    assert_eq!(secret_writes(&t), 0, "{:?}", t.state.borrow().calls);
    assert_eq!(out.issued, 0);
    assert_eq!(out.writes, 0);
    // One secret read for the whole run.
    assert_eq!(t.count("secret-get"), 1);
}

#[test]
fn san_change_reissues_only_that_certificate_and_reorder_does_not() {
    // Case 34.
    let (ca, policy) = (ec_ca("Legacy CA"), Policy::default());
    let t = provider(&["etcd/0", "etcd/1", "etcd/2"]);
    full_request_set(&t);
    let e = env(&ca, &policy);
    reconcile_all(&t, &e).unwrap();
    let before = own_bag(&t);

    set_unit(
        &t,
        "etcd/0",
        &[(
            "sans",
            r#"["etcd0.internal", "10.0.0.10", "etcd0.internal"]"#,
        )],
    );
    t.reset_calls();
    reconcile_all(&t, &e).unwrap();
    assert_eq!(own_bag(&t), before, "reordering the SANs changed something");
    assert_eq!(relation_sets(&t), 0);

    set_unit(
        &t,
        "etcd/0",
        &[(
            "sans",
            r#"["etcd0.internal", "10.0.0.10", "etcd0.example.net"]"#,
        )],
    );
    let out = reconcile_all(&t, &e).unwrap();
    assert_eq!(out.issued, 1);
    let after = own_bag(&t);
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
    let ca = ec_ca("Legacy CA");
    let t = provider(&["vault/0"]);
    set_unit(
        &t,
        "vault/0",
        &[
            ("unit_name", "vault_0"),
            (
                "intermediate_cert_requests",
                r#"{"Vault Intermediate": {"sans": []}}"#,
            ),
        ],
    );
    let deny = Policy::default();
    let out = reconcile_all(&t, &env(&ca, &deny)).unwrap();
    assert_eq!(out.refused.len(), 1);
    assert!(
        out.refused[0].contains("allow-ca-requests"),
        "{:?}",
        out.refused
    );
    assert!(!own_bag(&t).contains_key("vault_0.processed_intermediate_requests"));
    assert!(t
        .state
        .borrow()
        .logs
        .iter()
        .any(|(l, m)| *l == LogLevel::Warning && m.contains("allow-ca-requests")));

    let allow = Policy {
        allow_ca_requests: true,
        ..Policy::default()
    };
    let out = reconcile_all(&t, &env(&ca, &allow)).unwrap();
    assert!(out.refused.is_empty());
    let bag = own_bag(&t);
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
    let policy = Policy::default();
    let (old_ca, new_ca) = (ec_ca("Old CA"), ec_ca("New CA"));
    let t = provider(&["etcd/0", "etcd/1", "etcd/2"]);
    full_request_set(&t);
    reconcile_all(&t, &env(&old_ca, &policy)).unwrap();
    let before = own_bag(&t);
    let out = reconcile_all(&t, &env(&new_ca, &policy)).unwrap();
    // 5 relation certificates and the shared client one.
    assert_eq!(out.issued, 6);
    let after = own_bag(&t);
    assert_eq!(after["ca"], new_ca.cert_pem());
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
    let (ca, policy) = (ec_ca("Legacy CA"), Policy::default());
    let t = provider(&["etcd/0", "etcd/1", "etcd/2"]);
    full_request_set(&t);
    reconcile_all(&t, &env(&ca, &policy)).unwrap();
    let published = own_bag(&t);

    // Another unit becomes leader: same secrets and remote data, empty own databag.
    let t2 = FakeTools::new("tls-provider", true);
    {
        let mut st2 = t2.state.borrow_mut();
        let st = t.state.borrow();
        st2.unit_name = "tls-provider/1".into();
        st2.secrets = st.secrets.clone();
        st2.relations = st.relations.clone();
        st2.relations.get_mut(&REL).unwrap().local_unit_bag.clear();
    }
    let mut e = env(&ca, &policy);
    e.own_unit = "tls-provider/1";
    let out = reconcile_all(&t2, &e).unwrap();
    assert_eq!(out.issued, 0);
    assert_eq!(own_bag(&t2), published);
    assert_eq!(secret_writes(&t2), 0);

    // The old leader, now a follower, clears what it published and keeps Juju's keys.
    t.state.borrow_mut().leader = false;
    t.state
        .borrow_mut()
        .relations
        .get_mut(&REL)
        .unwrap()
        .local_unit_bag
        .insert("ingress-address".into(), "10.1.1.1".into());
    t.reset_calls();
    let mut follower = env(&ca, &policy);
    follower.is_leader = false;
    reconcile_all(&t, &follower).unwrap();
    let left: Vec<String> = own_bag(&t).into_keys().collect();
    assert_eq!(left, vec!["ingress-address".to_string()]);
    assert_eq!(t.count("secret-get"), 0);
    assert_eq!(relation_sets(&t), 1);
    t.reset_calls();
    reconcile_all(&t, &follower).unwrap();
    assert_eq!(relation_sets(&t), 0);
}

#[test]
fn departed_unit_keys_are_removed() {
    // Case 37.
    let (ca, policy) = (ec_ca("Legacy CA"), Policy::default());
    let t = provider(&["etcd/0", "etcd/1", "etcd/2"]);
    full_request_set(&t);
    let e = env(&ca, &policy);
    reconcile_all(&t, &e).unwrap();
    let before = own_bag(&t);
    assert!(before.contains_key("etcd_2.processed_application_requests"));
    t.remove_remote_unit(REL.0, "etcd/2");
    let out = reconcile_all(&t, &e).unwrap();
    let after = own_bag(&t);
    assert!(!after.keys().any(|k| k.starts_with("etcd_2.")), "{after:?}");
    // The union shrank: the application certificate is reissued without 10.0.0.12.
    assert_eq!(out.issued, 1);
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
    let (ca, policy) = (ec_ca("Legacy CA"), Policy::default());
    let t = provider(&["etcd/0"]);
    full_request_set(&t);
    t.state
        .borrow_mut()
        .relations
        .get_mut(&REL)
        .unwrap()
        .remote_units
        .retain(|u, _| u == "etcd/0");
    let e = env(&ca, &policy);
    reconcile_all(&t, &e).unwrap();
    assert_eq!(list_csrs(&t).unwrap().len(), 6);
    t.state.borrow_mut().relations.clear();
    let run = LegacyRun::new();
    run.finish(&t, &e, &[], true).unwrap();
    let left = list_csrs(&t).unwrap();
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(left[0].kind, "shared-client");
}

#[test]
fn malformed_requests_are_skipped_with_a_log_line() {
    let (ca, policy) = (ec_ca("Legacy CA"), Policy::default());
    let t = provider(&["bad/0", "good/0"]);
    let huge = format!(r#"{{"a.example": {{"sans": ["{}"]}}}}"#, "x".repeat(70_000));
    let many: BTreeMap<String, serde_json::Value> = (0..150)
        .map(|i| (format!("h{i}.example"), serde_json::json!({"sans": []})))
        .collect();
    set_unit(
        &t,
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
        &t,
        "good/0",
        &[
            ("common_name", "good.example"),
            (
                "cert_requests",
                r#"{"ok.example": {"sans": [1, 2]}, "fine.example": {}}"#,
            ),
        ],
    );
    let out = reconcile_all(&t, &env(&ca, &policy)).expect("the hook still succeeds");
    assert_eq!(out.skipped.len(), 6, "{:#?}", out.skipped);
    let logs = t.state.borrow().logs.clone();
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
    let bag = own_bag(&t);
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
    let ca = ec_ca("Legacy CA");
    let policy = Policy {
        allowed_domains: vec!["example.com".into()],
        allow_ip_sans: false,
        ..Policy::default()
    };
    let t = provider(&["app/0"]);
    set_unit(
        &t,
        "app/0",
        &[
            ("common_name", "www.example.com"),
            (
                "cert_requests",
                r#"{"evil.example.org": {"sans": []}, "ip.example.com": {"sans": ["10.0.0.1"]}, "ok.example.com": {"sans": ["a.ok.example.com"]}}"#,
            ),
        ],
    );
    let out = reconcile_all(&t, &env(&ca, &policy)).unwrap();
    assert_eq!(out.refused.len(), 2, "{:#?}", out.refused);
    assert!(out
        .refused
        .iter()
        .any(|m| m.contains("evil.example.org") && m.contains("allowed-domains")));
    assert!(out.refused.iter().any(|m| m.contains("allow-ip-sans")));
    let bag = own_bag(&t);
    assert!(bag.contains_key("app_0.server.cert"));
    let processed = json(&bag["app_0.processed_requests"]);
    assert_eq!(
        processed.as_object().unwrap().keys().collect::<Vec<_>>(),
        vec!["ok.example.com"]
    );
    assert_eq!(t.log_count(LogLevel::Warning), 2);
}

#[test]
fn cross_model_unit_name_is_used() {
    // Case 35: the remote unit is an alias; keys follow unit_name.
    let (ca, policy) = (ec_ca("Legacy CA"), Policy::default());
    let t = provider(&["remote-0a1b2c/0"]);
    set_unit(
        &t,
        "remote-0a1b2c/0",
        &[
            ("unit_name", "etcd_3"),
            ("common_name", "etcd3.example.com"),
        ],
    );
    reconcile_all(&t, &env(&ca, &policy)).unwrap();
    let bag = own_bag(&t);
    assert!(bag.contains_key("etcd_3.server.cert"));
    assert!(!bag.keys().any(|k| k.starts_with("remote-")));
}

#[test]
fn large_stores_are_paged_across_secrets() {
    let (ca, policy) = (ec_ca("Legacy CA"), Policy::default());
    let t = provider(&["big/0"]);
    let reqs: BTreeMap<String, serde_json::Value> = (0..30)
        .map(|i| (format!("h{i}.example.com"), serde_json::json!({"sans": []})))
        .collect();
    set_unit(
        &t,
        "big/0",
        &[("cert_requests", &serde_json::to_string(&reqs).unwrap())],
    );
    let e = env(&ca, &policy);
    reconcile_all(&t, &e).unwrap();
    let labels: Vec<String> = t
        .state
        .borrow()
        .secrets
        .values()
        .filter_map(|s| s.label.clone())
        .collect();
    assert!(labels.len() >= 2, "{labels:?}");
    assert!(labels.contains(&STORE_LABEL.to_string()));
    for s in t.state.borrow().secrets.values() {
        let content = s.revisions.last().unwrap();
        assert!(content.len() <= 8);
        assert!(content.values().all(|v| v.len() <= 8000));
        assert!(content.values().map(String::len).sum::<usize>() <= 60_000);
    }
    let before = own_bag(&t);
    t.reset_calls();
    reconcile_all(&t, &e).unwrap();
    assert_eq!(own_bag(&t), before);
    assert_eq!(secret_writes(&t), 0);
    // Fewer requests: fewer pages, the extra secrets are removed.
    set_unit(
        &t,
        "big/0",
        &[("cert_requests", r#"{"h1.example.com": {"sans": []}}"#)],
    );
    reconcile_all(&t, &e).unwrap();
    assert_eq!(t.state.borrow().secrets.len(), 1);
    // The remaining request keeps its key and certificate.
    let old = cert_key_at(&before, "big_0.processed_requests", &["h1.example.com"]);
    let new = cert_key_at(
        &own_bag(&t),
        "big_0.processed_requests",
        &["h1.example.com"],
    );
    assert_eq!(old, new);
    assert_eq!(
        json(&own_bag(&t)["big_0.processed_requests"])
            .as_object()
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn manual_mode_lists_csrs_and_publishes_provided_certificates() {
    let policy = Policy::default();
    let outside = ec_ca("Outside CA");
    let t = provider(&["etcd/0"]);
    set_unit(
        &t,
        "etcd/0",
        &[
            ("unit_name", "etcd_0"),
            ("common_name", "etcd0.example.com"),
        ],
    );
    let manual = env_with(Signer::Manual, &policy);
    let out = reconcile_all(&t, &manual).unwrap();
    assert_eq!(out.pending, 2);
    assert_eq!(out.issued, 0);
    // Nothing to publish yet: no CA, no certificates, and certainly no bare keys.
    assert!(own_bag(&t).is_empty(), "{:?}", own_bag(&t));

    let csrs = list_csrs(&t).unwrap();
    assert_eq!(csrs.len(), 2);
    let server = csrs.iter().find(|c| c.kind == "server").unwrap();
    assert_eq!(server.relation_id, Some(REL));
    assert_eq!(server.requirer_unit.as_deref(), Some("etcd_0"));
    assert_eq!(server.common_name, "etcd0.example.com");
    assert_eq!(server.sans, vec!["etcd0.example.com".to_string()]);
    assert!(server.legacy && !server.has_certificate && !server.is_ca);
    // The CSR is signed by the outside CA with the openssl command line.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("csr.pem"), &server.csr_pem).unwrap();
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

    // A certificate for another key is refused.
    let other = list_csrs(&t).unwrap();
    let client = other.iter().find(|c| c.kind == "shared-client").unwrap();
    let err = complete_csr(
        &t,
        &manual,
        &client.csr_pem,
        None,
        &cert,
        None,
        &outside.cert_pem(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("public key"), "{err}");
    // An unknown CSR is not ours.
    assert_eq!(
        complete_csr(&t, &manual, "junk", None, &cert, None, &outside.cert_pem()).unwrap(),
        None
    );

    let done = complete_csr(
        &t,
        &manual,
        &server.csr_pem,
        Some(REL),
        &cert,
        None,
        &outside.cert_pem(),
    )
    .unwrap()
    .expect("our CSR");
    assert_eq!(done.requirer_unit.as_deref(), Some("etcd_0"));
    let bag = own_bag(&t);
    assert_eq!(bag["ca"].trim(), outside.cert_pem().trim());
    check_pair(
        &bag["ca"],
        &bag["etcd_0.server.cert"],
        &bag["etcd_0.server.key"],
    );
    assert!(!bag.contains_key("client.cert"));
    let pending: Vec<_> = list_csrs(&t)
        .unwrap()
        .into_iter()
        .filter(|c| !c.has_certificate)
        .collect();
    assert_eq!(pending.len(), 1);

    // Stays published across reconciles; switching to the built-in CA re-signs it.
    t.reset_calls();
    reconcile_all(&t, &manual).unwrap();
    assert_eq!(relation_sets(&t), 0);
    let builtin = ec_ca("Built-in CA");
    let out = reconcile_all(&t, &env(&builtin, &policy)).unwrap();
    assert_eq!(out.issued, 2);
    let bag2 = own_bag(&t);
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
    let (ca, policy) = (ec_ca("Legacy CA"), Policy::default());
    let t = FakeTools::new("tls-provider", true);
    t.add_relation(1, "certificates", "a", &["a/0"]);
    t.add_relation(2, "certificates", "b", &["b/0"]);
    let units_a = vec![(
        "a/0".to_string(),
        Databag::from([("common_name".to_string(), "a.example".to_string())]),
    )];
    let units_b = vec![(
        "b/0".to_string(),
        Databag::from([("common_name".to_string(), "b.example".to_string())]),
    )];
    let e = env(&ca, &policy);
    let mut run = LegacyRun::new();
    for (id, units) in [(RelationId(1), &units_a), (RelationId(2), &units_b)] {
        run.reconcile_relation(
            &t,
            &e,
            &RelationInput {
                id,
                units,
                own_unit_bag: None,
                own_app_bag: None,
            },
        )
        .unwrap();
    }
    let out = run
        .finish(&t, &e, &[RelationId(1), RelationId(2)], false)
        .unwrap();
    assert_eq!(out.relations, 2);
    assert_eq!(out.published, 2);
    assert_eq!(t.count("secret-get"), 1);
    assert_eq!(t.count("secret-add"), 1);
    let st = t.state.borrow();
    // The same shared client certificate on both relations.
    assert_eq!(
        st.relations[&RelationId(1)].local_unit_bag["client.cert"],
        st.relations[&RelationId(2)].local_unit_bag["client.cert"]
    );
}

#[test]
fn certificate_limit_and_key_generation_budget() {
    let (ca, policy) = (ec_ca("Legacy CA"), Policy::default());
    let t = provider(&["big/0"]);
    let reqs: BTreeMap<String, serde_json::Value> = (0..55)
        .map(|i| {
            (
                format!("h{i:02}.example.com"),
                serde_json::json!({"sans": []}),
            )
        })
        .collect();
    set_unit(
        &t,
        "big/0",
        &[("cert_requests", &serde_json::to_string(&reqs).unwrap())],
    );
    let e = env(&ca, &policy);

    // certificate-limit refuses what is beyond it, in request order.
    let mut run = LegacyRun::new();
    run.certificate_limit = 3;
    let units = t.state.borrow().relations[&REL]
        .remote_units
        .clone()
        .into_iter()
        .collect::<Vec<_>>();
    let input = RelationInput {
        id: REL,
        units: &units,
        own_unit_bag: None,
        own_app_bag: None,
    };
    run.reconcile_relation(&t, &e, &input).unwrap();
    let out = run.finish(&t, &e, &[REL], false).unwrap();
    assert_eq!(out.published, 3);
    assert_eq!(out.refused.len(), 52);
    assert!(
        out.refused[0].contains("certificate-limit"),
        "{}",
        out.refused[0]
    );
    let processed = json(&own_bag(&t)["big_0.processed_requests"]);
    assert_eq!(
        processed.as_object().unwrap().keys().collect::<Vec<_>>(),
        vec!["h00.example.com", "h01.example.com", "h02.example.com"]
    );

    // Without a limit, one hook generates at most MAX_NEW_KEYS_PER_RUN keys; the next finishes.
    let out = reconcile_all(&t, &e).unwrap();
    assert_eq!(
        out.generated,
        tls_provider::charm::legacy::MAX_NEW_KEYS_PER_RUN
    );
    assert_eq!(out.deferred, 2);
    assert!(out.status_fragment().unwrap().contains("deferred"));
    let out = reconcile_all(&t, &e).unwrap();
    assert_eq!((out.generated, out.deferred, out.published), (2, 0, 55));
    let processed = json(&own_bag(&t)["big_0.processed_requests"]);
    assert_eq!(processed.as_object().unwrap().len(), 55);
}

#[test]
fn manual_mode_counts_the_shared_client_once() {
    let policy = Policy::default();
    let t = FakeTools::new("tls-provider", true);
    for (id, app) in [(1, "a"), (2, "b")] {
        t.add_relation(id, "certificates", app, &[&format!("{app}/0")]);
        t.state
            .borrow_mut()
            .relations
            .get_mut(&RelationId(id))
            .unwrap()
            .remote_units
            .get_mut(&format!("{app}/0"))
            .unwrap()
            .insert("common_name".into(), format!("{app}.example.com"));
    }
    let manual = env_with(Signer::Manual, &policy);
    let out = reconcile_all(&t, &manual).unwrap();
    // Two server requests and the shared client.
    assert_eq!(out.pending, 3);
    assert_eq!(out.relations, 2);
    assert!(out
        .status_fragment()
        .unwrap()
        .contains("3 awaiting provide-certificate"));
}

/// Every store write makes a new revision of a secret holding generated private keys; Juju's
/// `secret-remove` for an old revision of any store secret (first page or `-N`) removes it, in
/// the leader's reconcile like the CA secret's. Other labels are left alone.
#[test]
fn secret_remove_removes_unused_revisions_of_the_legacy_store() {
    use juju_hook::HookTools;
    use juju_hook::{HookContext, SecretOptions, SecretOwner, SecretRef};
    use tls_provider::charm::legacy::is_store_label;
    use tls_provider::charm::reconcile::{reconcile_at, ReconcileOptions};

    let (ca, policy) = (ec_ca("Legacy CA"), Policy::default());
    let t = provider(&["etcd/0"]);
    t.state
        .borrow_mut()
        .config
        .insert("ca-key-algorithm".into(), serde_json::json!("ecdsa-p256"));
    set_unit(
        &t,
        "etcd/0",
        &[("unit_name", "etcd_0"), ("common_name", "a.example")],
    );
    reconcile_all(&t, &env(&ca, &policy)).unwrap();
    set_unit(&t, "etcd/0", &[("common_name", "b.example")]);
    reconcile_all(&t, &env(&ca, &policy)).unwrap();
    let store_id = t
        .secret_info_get(&SecretRef::Label(STORE_LABEL.into()))
        .unwrap()
        .id;
    let revisions = |label: &str| {
        t.state
            .borrow()
            .secrets
            .values()
            .find(|s| s.label.as_deref() == Some(label))
            .map_or(0, |s| s.revisions.len())
    };
    assert!(revisions(STORE_LABEL) >= 2, "the store was rewritten");
    let page2_id = t
        .secret_add(
            &Databag::from([("doc-000".to_string(), "x".to_string())]),
            &SecretOptions {
                label: Some(format!("{STORE_LABEL}-2")),
                owner: SecretOwner::Application,
                ..SecretOptions::default()
            },
        )
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let hook = |id: &str, label: &str| {
        let ctx = HookContext::from_pairs(&[
            ("JUJU_DISPATCH_PATH", "hooks/secret-remove"),
            ("JUJU_UNIT_NAME", "tls-provider/0"),
            ("JUJU_MODEL_NAME", "test"),
            ("JUJU_CHARM_DIR", dir.path().to_str().unwrap()),
            ("JUJU_SECRET_ID", id),
            ("JUJU_SECRET_LABEL", label),
            ("JUJU_SECRET_REVISION", "1"),
        ])
        .unwrap();
        t.reset_calls();
        reconcile_at(&ctx, &t, SystemTime::now(), ReconcileOptions::default()).unwrap();
        t.state
            .borrow()
            .calls
            .iter()
            .filter(|c| c.starts_with("secret-remove"))
            .cloned()
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

/// Manual mode: `complete_csr` reads back what it published. When the requirer withdrew the
/// request between listing and providing, the certificate is not published and it says so
/// instead of reporting success.
#[test]
fn complete_csr_fails_when_the_certificate_is_not_published() {
    let policy = Policy::default();
    let outside = ec_ca("Outside CA");
    let t = provider(&["etcd/0"]);
    set_unit(
        &t,
        "etcd/0",
        &[("unit_name", "etcd_0"), ("common_name", "old.example.com")],
    );
    let manual = env_with(Signer::Manual, &policy);
    reconcile_all(&t, &manual).unwrap();
    let csrs = list_csrs(&t).unwrap();
    let server = csrs.iter().find(|c| c.kind == "server").unwrap();
    let parsed = tls_provider::pki::ParsedCsr::parse(&server.csr_pem).unwrap();
    let cert =
        tls_provider::pki::cert_to_pem(&sign_with(&outside, &parsed, false, SystemTime::now()));

    // The requirer now asks for another name: the listed CSR is no longer wanted.
    set_unit(&t, "etcd/0", &[("common_name", "new.example.com")]);
    let err = complete_csr(
        &t,
        &manual,
        &server.csr_pem,
        Some(REL),
        &cert,
        None,
        &outside.cert_pem(),
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("could not be published on relation 7"),
        "{err}"
    );
    assert!(!own_bag(&t).values().any(|v| v.contains(cert.trim())));

    // Still asked for: published, and success.
    reconcile_all(&t, &manual).unwrap();
    let csrs = list_csrs(&t).unwrap();
    let server = csrs
        .iter()
        .find(|c| c.kind == "server" && c.common_name == "new.example.com")
        .unwrap();
    let parsed = tls_provider::pki::ParsedCsr::parse(&server.csr_pem).unwrap();
    let cert =
        tls_provider::pki::cert_to_pem(&sign_with(&outside, &parsed, false, SystemTime::now()));
    complete_csr(
        &t,
        &manual,
        &server.csr_pem,
        None,
        &cert,
        None,
        &outside.cert_pem(),
    )
    .unwrap()
    .expect("ours");
    assert_eq!(own_bag(&t)["etcd_0.server.cert"], cert);
}
