//! Unit tests of the reconcile, the CA lifecycle and the built-in CA actions against the in-memory
//! `FakeTools` model, with real CSRs (OpenSSL-generated here, plus the requirer library's
//! fixtures in tests/fixtures/csr) and real verification of what is published.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use common::pki::openssl_req_p256;
use juju_hook::fake::FakeTools;
use juju_hook::{Databag, LogLevel, RelationId, StatusName};
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::stack::Stack;
use openssl::x509::extension::SubjectAlternativeName;
use openssl::x509::store::X509StoreBuilder;
use openssl::x509::{X509NameBuilder, X509Req, X509ReqBuilder, X509StoreContext, X509};
use serde_json::{json, Value};
use tempfile::TempDir;

use common::world::{World, APP};
use tls_provider::charm::actions;
use tls_provider::charm::ca::{CA_SECRET_LABEL, KEY_PREVIOUS_CA_CERTIFICATE};
use tls_provider::charm::dialect::snapshot;
use tls_provider::charm::hook::Hook;
use tls_provider::charm::modern::publish;
use tls_provider::charm::reconcile::scope::{Pass, Why};
use tls_provider::charm::reconcile::{ReconcileOptions, STANDBY_MESSAGE};
use tls_provider::pki::sign::{cert_to_pem, issue, IssueRequest};
use tls_provider::pki::{san, verify, Ca, CaSubject, KeyAlgorithm, ParsedCsr};
use tls_provider::protocol::modern::ProviderAppData;
use tls_provider::protocol::modern::ProviderCertificate;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/csr");

// ------------------------------------------------------------------------------------------
// Helpers
// ------------------------------------------------------------------------------------------

fn requests_bag(csrs: &[(&str, bool)]) -> Databag {
    let list: Vec<Value> = csrs
        .iter()
        .map(|(c, ca)| json!({"certificate_signing_request": c, "ca": ca}))
        .collect();
    Databag::from([(
        "certificate_signing_requests".to_string(),
        Value::Array(list).to_string(),
    )])
}

fn raw_bag(value: &str) -> Databag {
    Databag::from([(
        "certificate_signing_requests".to_string(),
        value.to_string(),
    )])
}

fn ec_key() -> PKey<Private> {
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
    PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap()
}

/// A CSR as the requirer library publishes it (PEM, no trailing newline).
fn csr_with(cn: Option<&str>, dns: &[&str], ips: &[&str]) -> String {
    let key = ec_key();
    let mut b = X509ReqBuilder::new().unwrap();
    let mut name = X509NameBuilder::new().unwrap();
    if let Some(cn) = cn {
        name.append_entry_by_nid(Nid::COMMONNAME, cn).unwrap();
    }
    // A random unique id like the charmlibs requirer (x500UniqueIdentifier as UTF8String).
    let uid = format!("{:x}", rand_u64());
    name.append_entry_by_text("x500UniqueIdentifier", &uid)
        .unwrap();
    b.set_subject_name(&name.build()).unwrap();
    b.set_pubkey(&key).unwrap();
    if !dns.is_empty() || !ips.is_empty() {
        let mut san = SubjectAlternativeName::new();
        for d in dns {
            san.dns(d);
        }
        for i in ips {
            san.ip(i);
        }
        let ext = san.build(&b.x509v3_context(None)).unwrap();
        let mut stack = Stack::new().unwrap();
        stack.push(ext).unwrap();
        b.add_extensions(&stack).unwrap();
    }
    b.sign(&key, MessageDigest::sha256()).unwrap();
    let pem = String::from_utf8(b.build().to_pem().unwrap()).unwrap();
    pem.trim_end().to_string()
}

fn csr(cn: &str) -> String {
    csr_with(Some(cn), &[cn], &[])
}

fn rand_u64() -> u64 {
    let mut buf = [0u8; 8];
    openssl::rand::rand_bytes(&mut buf).unwrap();
    u64::from_le_bytes(buf)
}

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!("{FIXTURES}/{name}")).unwrap()
}

/// Verifies a published entry: parses, chain[0] == certificate, leaf verifies up to `ca` with an
/// OpenSSL store, public key = CSR key, BasicConstraints = requested.
fn assert_valid_entry(entry: &ProviderCertificate, want_ca: bool) {
    assert_eq!(entry.chain.len(), 2, "chain is [leaf, CA]");
    assert_eq!(entry.chain[0], entry.certificate, "leaf first");
    assert_eq!(entry.chain[1], entry.ca, "then the CA");
    assert!(!entry.revoked);
    let leaf = X509::from_pem(entry.certificate.as_bytes()).unwrap();
    let ca = X509::from_pem(entry.ca.as_bytes()).unwrap();
    let mut store = X509StoreBuilder::new().unwrap();
    store.add_cert(ca).unwrap();
    let store = store.build();
    let mut ctx = X509StoreContext::new().unwrap();
    let chain = Stack::new().unwrap();
    let ok = ctx
        .init(&store, &leaf, &chain, |c| c.verify_cert())
        .unwrap();
    assert!(ok, "openssl verify failed");
    let req = X509Req::from_pem(entry.certificate_signing_request.as_bytes()).unwrap();
    assert!(leaf
        .public_key()
        .unwrap()
        .public_eq(&req.public_key().unwrap()));
    assert_eq!(verify::is_ca(&leaf), want_ca);
}

fn entry_for<'a>(entries: &'a [ProviderCertificate], csr: &str) -> &'a ProviderCertificate {
    entries
        .iter()
        .find(|e| e.certificate_signing_request == csr)
        .unwrap_or_else(|| panic!("no entry for CSR"))
}

fn leaf_of(entry: &ProviderCertificate) -> X509 {
    X509::from_pem(entry.certificate.as_bytes()).unwrap()
}

// ------------------------------------------------------------------------------------------
// Issuing
// ------------------------------------------------------------------------------------------

#[test]
fn issues_one_certificate_per_csr_from_units_and_app_bag() {
    let w = World::new(true);
    w.relate(3, "req", &["req/0", "req/1", "req/2"]);
    let csrs: Vec<String> = (0..3)
        .map(|i| csr(&format!("req-{i}.example.com")))
        .collect();
    for (i, c) in csrs.iter().enumerate() {
        w.request(3, &format!("req/{i}"), &[(c, false)]);
    }
    let app_csr = csr("req.example.com");
    w.set_app_bag(3, requests_bag(&[(&app_csr, false)]));

    let s = w.reconcile();

    let entries = w.certificates(3);
    assert_eq!(entries.len(), 4);
    for c in csrs.iter().chain([&app_csr]) {
        let e = entry_for(&entries, c);
        assert_valid_entry(e, false);
        assert_eq!(e.ca, w.ca_pem());
    }
    assert!(w.errors(3).is_empty());
    let caps: Value = serde_json::from_str(&w.own_bag(3)["capabilities"]).unwrap();
    assert_eq!(
        caps,
        json!({"supports_ip_sans": true, "supports_wildcard_dns": true,
               "supports_ca_certificates": false, "provider_type": "self-signed"})
    );
    assert_eq!(
        w.unit_status(),
        (
            StatusName::Active,
            "issued 4, denied 0, rejected 0 across 1 relation; next expiry in 90 d".into()
        )
    );
    assert_eq!(s.totals.signed, 4);
    assert_eq!(w.relation_sets(), 1, "one relation-set for the relation");
    // The key stays in the secret only.
    assert!(w.ca_secret()["private-key"].contains("PRIVATE KEY"));
    for v in w.own_bag(3).values() {
        assert!(!v.contains("PRIVATE KEY"));
    }
    for (_, l) in &w.tools.state.borrow().logs {
        assert!(!l.contains("PRIVATE KEY"));
    }
}

#[test]
fn issued_certificate_copies_subject_and_sans_and_fits_the_ca() {
    let w = World::new(true);
    w.relate(1, "req", &["req/0"]);
    let c = csr_with(
        Some("db.example.com"),
        &["db.example.com", "*.db.example.com"],
        &["10.0.0.1", "fd00::1"],
    );
    w.request(1, "req/0", &[(&c, false)]);
    let before = SystemTime::now();
    w.reconcile();
    let e = w.certificates(1)[0].clone();
    assert_valid_entry(&e, false);
    let leaf = leaf_of(&e);
    let info = verify::cert_info(&leaf);
    assert_eq!(info.common_name.as_deref(), Some("db.example.com"));
    let dns: Vec<&str> = san::dns_names(&info.sans).collect();
    assert_eq!(dns, vec!["db.example.com", "*.db.example.com"]);
    assert_eq!(san::ip_addrs(&info.sans).count(), 2);
    // 90 days by default; notBefore at most a few minutes back.
    let life = info.not_after.duration_since(info.not_before).unwrap();
    assert!(life.as_secs() >= 90 * 86_400 && life.as_secs() <= 90 * 86_400 + 300);
    assert!(before.duration_since(info.not_before).unwrap() <= Duration::from_secs(300));
    let ca = X509::from_pem(e.ca.as_bytes()).unwrap();
    assert!(info.not_after <= verify::asn1_to_system(ca.not_after()));
}

#[test]
fn real_requirer_fixtures_are_issued_and_tampered_ones_refused() {
    let w = World::new(true);
    w.relate(1, "req", &["req/0", "req/1"]);
    let full = fixture("rsa2048_full.pem");
    let p384 = fixture("ec_p384.pem");
    let no_cn = fixture("ec_no_cn.pem");
    let rsa4096 = fixture("rsa4096.pem");
    let tampered = fixture("rsa2048_tampered.pem");
    let critical = fixture("ec_critical_ext.pem");
    let ip_only = fixture("ec_p256_ip.pem");
    let oversized = format!(
        "-----BEGIN CERTIFICATE REQUEST-----\n{}\n-----END CERTIFICATE REQUEST-----",
        "QUFB".repeat(5000)
    );
    w.request(
        1,
        "req/0",
        &[
            (&full, false),
            (&p384, false),
            (&no_cn, false),
            (&rsa4096, false),
            (&ip_only, false),
        ],
    );
    w.request(
        1,
        "req/1",
        &[(&tampered, false), (&critical, false), (&oversized, false)],
    );
    let s = w.reconcile();
    let entries = w.certificates(1);
    assert_eq!(entries.len(), 5);
    for c in [&full, &p384, &no_cn, &rsa4096, &ip_only] {
        assert_valid_entry(entry_for(&entries, c), false);
    }
    let errors = w.errors(1);
    assert_eq!(errors.len(), 2, "{errors:#?}");
    let message_of = |c: &str| {
        let e = errors.iter().find(|e| e["csr"] == json!(c)).unwrap();
        assert_eq!(e["error"]["code"], json!(999));
        e["error"]["message"].as_str().unwrap().to_string()
    };
    assert!(message_of(&tampered).contains("signature"));
    assert!(message_of(&critical).contains("extension"));
    // The oversized one is neither echoed nor answered: logged and counted.
    assert!(!w.own_bag(1).values().any(|v| v.contains("QUFBQUFB")));
    assert_eq!(s.totals.rejected, 1);
}

#[test]
fn crlf_csr_is_echoed_byte_for_byte() {
    let w = World::new(true);
    w.relate(1, "req", &["req/0"]);
    let crlf = format!("{}\r\n", csr("a.example.com").replace('\n', "\r\n"));
    w.request(1, "req/0", &[(&crlf, false)]);
    w.reconcile();
    let entries = w.certificates(1);
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].certificate_signing_request, crlf);
    // And it is stable: the CRLF CSR matches its entry on the next reconcile.
    w.tools.reset_calls();
    w.reconcile();
    assert_eq!(w.relation_sets(), 0);
}

#[test]
fn lenient_ca_field_missing_null_or_string_false() {
    let w = World::new(true);
    w.relate(1, "req", &["req/0"]);
    let (a, b, c, d) = (csr("a.x"), csr("b.x"), csr("c.x"), csr("d.x"));
    let value = json!([
        {"certificate_signing_request": a},
        {"certificate_signing_request": b, "ca": null},
        {"certificate_signing_request": c, "ca": "false"},
        {"certificate_signing_request": d, "ca": "False"},
    ]);
    w.set_unit_bag(1, "req/0", raw_bag(&value.to_string()));
    w.reconcile();
    let entries = w.certificates(1);
    assert_eq!(entries.len(), 4);
    for e in &entries {
        assert_valid_entry(e, false);
    }
}

// ------------------------------------------------------------------------------------------
// Idempotence and the call budget
// ------------------------------------------------------------------------------------------

fn two_relations_five_units(w: &World) {
    for (id, app) in [(1u32, "alpha"), (2, "beta")] {
        let units: Vec<String> = (0..5).map(|i| format!("{app}/{i}")).collect();
        let refs: Vec<&str> = units.iter().map(String::as_str).collect();
        w.relate(id, app, &refs);
        for u in &units {
            let c = csr(&format!("{}.example.com", u.replace('/', "-")));
            w.request(id, u, &[(&c, false)]);
        }
    }
}

#[test]
fn second_reconcile_changes_nothing_and_writes_nothing() {
    let w = World::new(true);
    two_relations_five_units(&w);
    w.reconcile();
    let bags = (w.own_bag(1), w.own_bag(2));
    let secret = w.ca_secret();
    w.tools.reset_calls();

    let s = w.reconcile();

    assert_eq!((w.own_bag(1), w.own_bag(2)), bags, "byte-identical");
    assert_eq!(w.ca_secret(), secret);
    for tool in [
        "relation-set",
        "status-set",
        "juju-log",
        "secret-set",
        "secret-add",
    ] {
        assert_eq!(w.tools.count(tool), 0, "{tool} in a steady-state reconcile");
    }
    assert_eq!(s.writes, 0);
    assert_eq!(s.totals.signed, 0);
    assert_eq!(s.totals.published, 10);
}

/// A steady full pass (`config-changed`, which always serves every relation) costs
/// `6 + Σ (3 + units)`; a relation hook costs that for its own relation only, and an idle
/// `update-status` one call (`tests/scope_unit.rs`).
#[test]
fn steady_full_pass_call_budget_two_relations_five_units() {
    let w = World::new(true);
    two_relations_five_units(&w);
    w.reconcile();
    w.tools.reset_calls();
    let s = w.reconcile();
    assert_eq!(s.pass, Some(Pass::Full(Why::Event)));
    let calls = w.calls();
    // is-leader, config-get, relation-ids upstream-ca, secret-get, + 1 per endpoint:
    // relation-ids certificates and send-ca-cert.
    let budget = 6 + 2 * (3 + 5);
    assert!(calls.len() <= budget, "{} calls: {calls:#?}", calls.len());
    let mut expected = vec![
        "is-leader".to_string(),
        "config-get".to_string(),
        "relation-ids upstream-ca".to_string(),
        format!("secret-get Label({CA_SECRET_LABEL:?})"),
        "relation-ids certificates".to_string(),
        "relation-ids send-ca-cert".to_string(),
    ];
    for (id, app) in [(1, "alpha"), (2, "beta")] {
        expected.push(format!("relation-list -r {id}"));
        for i in 0..5 {
            expected.push(format!("relation-get -r {id} - {app}/{i}"));
        }
        expected.push(format!("relation-get -r {id} --app - {app}"));
        expected.push(format!("relation-get -r {id} --app - {APP}"));
    }
    assert_eq!(calls, expected);
}

// ------------------------------------------------------------------------------------------
// Leadership
// ------------------------------------------------------------------------------------------

#[test]
fn non_leader_reports_standby_and_writes_nothing() {
    let w = World::new(false);
    w.relate(1, "req", &["req/0"]);
    w.request(1, "req/0", &[(&csr("a.x"), false)]);
    let s = w.reconcile();
    assert!(!s.leader);
    assert_eq!(
        w.unit_status(),
        (StatusName::Active, STANDBY_MESSAGE.into())
    );
    assert_eq!(w.relation_sets(), 0);
    assert_eq!(w.tools.count("secret-add"), 0);
    assert_eq!(w.tools.count("secret-get"), 0);
    assert!(w.own_bag(1).is_empty());
    // Status is not re-set when unchanged.
    w.tools.reset_calls();
    w.reconcile();
    assert_eq!(w.tools.count("status-set"), 0);
}

#[test]
fn new_leader_continues_from_secret_and_databags_without_reissuing() {
    let w = World::new(true);
    two_relations_five_units(&w);
    w.reconcile();
    let bags = (w.own_bag(1), w.own_bag(2));
    // Another unit becomes leader: same model (secret, databags), its own charm dir.
    let other = World {
        tools: FakeTools::default(),
        dir: TempDir::new().unwrap(),
    };
    *other.tools.state.borrow_mut() = w.tools.state.borrow().clone();
    other.tools.state.borrow_mut().unit_name = format!("{APP}/1");
    other.tools.reset_calls();
    let s = other.reconcile();
    assert_eq!(s.totals.signed, 0);
    assert_eq!(other.relation_sets(), 0);
    assert_eq!(other.tools.count("secret-add"), 0);
    assert_eq!((other.own_bag(1), other.own_bag(2)), bags);
}

// ------------------------------------------------------------------------------------------
// Untrusted input
// ------------------------------------------------------------------------------------------

#[test]
fn hostile_databags_are_skipped_and_the_others_served() {
    let w = World::new(true);
    let units = [
        "req/0", "req/1", "req/2", "req/3", "req/4", "req/5", "req/6",
    ];
    w.relate(1, "req", &units);
    let good = csr("good.example.com");
    w.set_unit_bag(1, "req/0", raw_bag("this is not json"));
    w.set_unit_bag(1, "req/1", raw_bag("[1, 2, 3]"));
    w.set_unit_bag(
        1,
        "req/2",
        raw_bag(&format!("[\"{}\"]", "A".repeat(2 * 1024 * 1024))),
    );
    w.request(
        1,
        "req/3",
        &[(
            "-----BEGIN CERTIFICATE REQUEST-----\ngarbage\n-----END CERTIFICATE REQUEST-----",
            false,
        )],
    );
    w.set_unit_bag(
        1,
        "req/4",
        raw_bag(&json!([{"certificate_signing_request": 42, "ca": false}]).to_string()),
    );
    w.set_unit_bag(
        1,
        "req/5",
        raw_bag(
            &json!([{"certificate_signing_request": csr("junk.x"), "ca": "maybe"}]).to_string(),
        ),
    );
    w.request(1, "req/6", &[(&good, false)]);
    w.set_app_bag(1, raw_bag("{\"certificate_signing_requests\": 1}"));

    let s = w.reconcile();

    let entries = w.certificates(1);
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].certificate_signing_request, good);
    assert_valid_entry(&entries[0], false);
    assert!(w.errors(1).is_empty(), "unparseable input is never echoed");
    assert!(!w.own_bag(1)["certificates"].contains("garbage"));
    assert_eq!(s.totals.rejected, 7);
    assert_eq!(
        w.unit_status(),
        (
            StatusName::Active,
            "issued 1, denied 0, rejected 7 across 1 relation; next expiry in 90 d".into()
        )
    );
    assert_eq!(
        w.tools.log_count(LogLevel::Warning),
        7,
        "each rejection is logged once"
    );
    // Logged only when they change.
    w.tools.reset_calls();
    w.reconcile();
    assert_eq!(w.tools.count("juju-log"), 0);
    assert_eq!(w.relation_sets(), 0);
}

#[test]
fn our_own_corrupted_databag_is_rewritten() {
    let w = World::new(true);
    w.relate(1, "req", &["req/0"]);
    let c = csr("a.example.com");
    w.request(1, "req/0", &[(&c, false)]);
    {
        let mut st = w.tools.state.borrow_mut();
        let bag = &mut st.relations.get_mut(&RelationId(1)).unwrap().local_app_bag;
        bag.insert("certificates".into(), "null".into());
        bag.insert("request_errors".into(), "{".into());
        bag.insert("capabilities".into(), "[]".into());
    }
    w.reconcile();
    assert_eq!(w.certificates(1).len(), 1);
    assert!(!w.own_bag(1).contains_key("request_errors"));
    assert!(w.own_bag(1)["capabilities"].starts_with('{'));
}

// ------------------------------------------------------------------------------------------
// Lifecycle: departure, CSR change, relation broken
// ------------------------------------------------------------------------------------------

#[test]
fn departed_unit_and_replaced_csr_lose_their_entries() {
    let w = World::new(true);
    w.relate(1, "req", &["req/0", "req/1"]);
    let (a, b) = (csr("a.example.com"), csr("b.example.com"));
    w.request(1, "req/0", &[(&a, false)]);
    w.request(1, "req/1", &[(&b, false)]);
    w.reconcile();
    assert_eq!(w.certificates(1).len(), 2);
    let b_cert = entry_for(&w.certificates(1), &b).certificate.clone();

    w.remove_unit(1, "req/0");
    w.reconcile();
    let entries = w.certificates(1);
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].certificate_signing_request, b);
    assert_eq!(entries[0].certificate, b_cert, "the sibling is untouched");

    let b2 = csr("b2.example.com");
    w.request(1, "req/1", &[(&b2, false)]);
    w.reconcile();
    let entries = w.certificates(1);
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].certificate_signing_request, b2);

    w.remove_unit(1, "req/1");
    w.reconcile();
    assert!(
        !w.own_bag(1).contains_key("certificates"),
        "empty list is omitted"
    );
}

#[test]
fn broken_relation_is_not_touched_in_its_broken_hook() {
    let w = World::new(true);
    w.relate(1, "req", &["req/0"]);
    w.relate(2, "other", &["other/0"]);
    w.request(1, "req/0", &[(&csr("a.x"), false)]);
    w.request(2, "other/0", &[(&csr("b.x"), false)]);
    w.reconcile();
    w.tools.reset_calls();
    let ctx = w.ctx_for(
        "hooks/certificates-relation-broken",
        &[
            ("JUJU_RELATION", "certificates"),
            ("JUJU_RELATION_ID", "certificates:1"),
            ("JUJU_REMOTE_APP", "req"),
        ],
    );
    let s = w.run_ctx(&ctx, SystemTime::now(), ReconcileOptions::default());
    assert_eq!(s.totals.relations, 1);
    assert!(
        !w.calls().iter().any(|c| c.contains("-r 1")),
        "{:?}",
        w.calls()
    );
}

#[test]
fn app_level_request_without_units_uses_the_remote_app() {
    let w = World::new(true);
    w.relate(4, "req", &[]);
    let c = csr("app.example.com");
    w.set_app_bag(4, requests_bag(&[(&c, false)]));
    w.reconcile();
    assert_eq!(w.certificates(4).len(), 1);
    assert!(w.calls().contains(&"relation-list -r 4 --app".to_string()));
    // In a hook for that relation JUJU_REMOTE_APP saves the call.
    w.tools.reset_calls();
    let ctx = w.ctx_for(
        "hooks/certificates-relation-changed",
        &[
            ("JUJU_RELATION", "certificates"),
            ("JUJU_RELATION_ID", "certificates:4"),
            ("JUJU_REMOTE_APP", "req"),
        ],
    );
    w.run_ctx(&ctx, SystemTime::now(), ReconcileOptions::default());
    assert!(!w.calls().contains(&"relation-list -r 4 --app".to_string()));
    assert_eq!(w.relation_sets(), 0);
}

#[test]
fn each_relation_holds_only_its_own_certificates() {
    let w = World::new(true);
    w.relate(1, "alpha", &["alpha/0"]);
    w.relate(2, "beta", &["beta/0"]);
    let (a, b) = (csr("a.x"), csr("b.x"));
    w.request(1, "alpha/0", &[(&a, false)]);
    w.request(2, "beta/0", &[(&b, false)]);
    w.reconcile();
    let (e1, e2) = (w.certificates(1), w.certificates(2));
    assert_eq!(e1.len(), 1);
    assert_eq!(e2.len(), 1);
    assert_eq!(e1[0].certificate_signing_request, a);
    assert_eq!(e2[0].certificate_signing_request, b);
}

// ------------------------------------------------------------------------------------------
// Policy
// ------------------------------------------------------------------------------------------

#[test]
fn policy_denials_go_to_request_errors_with_codes() {
    let w = World::new(true);
    w.config("allowed-domains", json!("example.com"));
    w.config("allow-ip-sans", json!(false));
    w.config("allow-wildcard-dns", json!(false));
    w.relate(1, "req", &["req/0"]);
    let ok = csr("api.example.com");
    let foreign = csr("evil.org");
    let ip = csr_with(Some("ip.example.com"), &["ip.example.com"], &["10.1.2.3"]);
    let wild = csr_with(Some("w.example.com"), &["*.example.com"], &[]);
    w.request(
        1,
        "req/0",
        &[
            (&ok, false),
            (&foreign, false),
            (&ip, false),
            (&wild, false),
        ],
    );
    w.reconcile();
    let entries = w.certificates(1);
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].certificate_signing_request, ok);
    let errors = w.errors(1);
    let code_of = |c: &str| {
        errors
            .iter()
            .find(|e| e["csr"] == json!(c))
            .map(|e| e["error"]["code"].as_u64().unwrap())
    };
    assert_eq!(code_of(&foreign), Some(102));
    assert_eq!(code_of(&ip), Some(101));
    assert_eq!(code_of(&wild), Some(103));
    for e in &errors {
        let err = e["error"].as_object().unwrap();
        assert!(err["name"].is_string() && err["message"].as_str().unwrap().len() > 10);
        assert!(!e
            .as_object()
            .unwrap()
            .contains_key("certificate_signing_request"));
    }
    let caps: Value = serde_json::from_str(&w.own_bag(1)["capabilities"]).unwrap();
    assert_eq!(caps["allowed_domains"], json!(["example.com"]));
    assert_eq!(caps["supports_ip_sans"], json!(false));
    assert_eq!(
        w.unit_status().1,
        "issued 1, denied 3, rejected 0 across 1 relation; next expiry in 90 d"
    );

    // Relaxing the policy turns the errors into certificates (and removes the errors).
    w.config("allowed-domains", json!(""));
    w.config("allow-ip-sans", json!(true));
    w.config("allow-wildcard-dns", json!(true));
    w.reconcile();
    assert_eq!(w.certificates(1).len(), 4);
    assert!(!w.own_bag(1).contains_key("request_errors"));
    let caps: Value = serde_json::from_str(&w.own_bag(1)["capabilities"]).unwrap();
    assert!(caps.get("allowed_domains").is_none());

    // Tightening it again withdraws the now-denied certificates.
    w.config("allow-ip-sans", json!(false));
    w.reconcile();
    assert_eq!(w.certificates(1).len(), 3);
    assert_eq!(w.errors(1).len(), 1);
}

#[test]
fn ca_requests_are_denied_by_default_and_issued_when_allowed() {
    let w = World::new(true);
    w.relate(1, "req", &["req/0"]);
    let ca_csr = fixture("ec_ca_request.pem");
    let leaf = csr("leaf.example.com");
    w.request(1, "req/0", &[(&ca_csr, true), (&leaf, false)]);
    w.reconcile();
    assert_eq!(w.certificates(1).len(), 1);
    let errors = w.errors(1);
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0]["csr"], json!(ca_csr));
    assert_eq!(errors[0]["error"]["code"], json!(999));
    assert!(errors[0]["error"]["message"]
        .as_str()
        .unwrap()
        .contains("allow-ca-requests"));

    w.config("allow-ca-requests", json!(true));
    w.reconcile();
    let entries = w.certificates(1);
    assert_eq!(entries.len(), 2);
    assert_valid_entry(entry_for(&entries, &ca_csr), true);
    assert_valid_entry(entry_for(&entries, &leaf), false);
    assert!(w.errors(1).is_empty());
}

#[test]
fn certificate_limit_applies_per_relation_and_keeps_existing_certificates() {
    let w = World::new(true);
    w.relate(1, "req", &["req/0"]);
    w.relate(2, "other", &["other/0"]);
    let c: Vec<String> = (0..3).map(|i| csr(&format!("c{i}.example.com"))).collect();
    w.request(1, "req/0", &[(&c[0], false), (&c[1], false)]);
    w.request(2, "other/0", &[(&csr("o.example.com"), false)]);
    w.config("certificate-limit", json!(2));
    w.reconcile();
    assert_eq!(w.certificates(1).len(), 2);
    let kept: Vec<String> = w
        .certificates(1)
        .iter()
        .map(|e| e.certificate.clone())
        .collect();

    w.request(
        1,
        "req/0",
        &[(&c[0], false), (&c[1], false), (&c[2], false)],
    );
    w.reconcile();
    let entries = w.certificates(1);
    assert_eq!(entries.len(), 2);
    let now: Vec<String> = entries.iter().map(|e| e.certificate.clone()).collect();
    assert_eq!(
        now, kept,
        "existing certificates are kept, the new request is refused"
    );
    let errors = w.errors(1);
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0]["csr"], json!(c[2]));
    assert_eq!(errors[0]["error"]["code"], json!(999));
    assert!(errors[0]["error"]["message"]
        .as_str()
        .unwrap()
        .contains("certificate-limit"));
    assert_eq!(w.certificates(2).len(), 1, "the limit is per relation");

    w.config("certificate-limit", json!(0));
    w.reconcile();
    assert_eq!(w.certificates(1).len(), 3);
    assert!(w.errors(1).is_empty());
}

// ------------------------------------------------------------------------------------------
// Config
// ------------------------------------------------------------------------------------------

#[test]
fn invalid_config_blocks_naming_each_option_and_changes_nothing() {
    let w = World::new(true);
    w.relate(1, "req", &["req/0"]);
    w.request(1, "req/0", &[(&csr("a.x"), false)]);
    w.config("certificate-validity", json!("-5d"));
    w.config("root-ca-validity", json!("100d"));
    w.config("mode", json!("sometimes"));
    let s = w.reconcile();
    assert!(s.config_errors.is_some());
    let (st, msg) = w.unit_status();
    assert_eq!(st, StatusName::Blocked);
    assert!(msg.starts_with("invalid config: "), "{msg}");
    assert!(
        msg.contains("certificate-validity: \"-5d\" is not a positive duration"),
        "{msg}"
    );
    assert!(msg.contains("mode: "), "{msg}");
    assert_eq!(w.relation_sets(), 0);
    assert_eq!(w.tools.count("secret-add"), 0);

    w.config("certificate-validity", json!("90d"));
    w.config("mode", json!("self-signed"));
    let (_, msg) = {
        w.reconcile();
        w.unit_status()
    };
    assert_eq!(
        msg,
        "invalid config: root-ca-validity: must be at least twice certificate-validity (180d)"
    );
    w.config("root-ca-validity", json!("180d"));
    w.reconcile();
    assert_eq!(w.unit_status().0, StatusName::Active);
    assert_eq!(w.certificates(1).len(), 1);
}

#[test]
fn default_rsa_ca_and_configured_validity() {
    let w = World::new(true);
    w.config("ca-key-algorithm", json!("rsa-2048"));
    w.config("certificate-validity", json!("12h"));
    w.config("root-ca-validity", json!("2w"));
    w.config("ca-organization", json!("ACME"));
    w.relate(1, "req", &["req/0"]);
    w.request(1, "req/0", &[(&csr("a.example.com"), false)]);
    w.reconcile();
    let ca = X509::from_pem(w.ca_pem().as_bytes()).unwrap();
    assert_eq!(
        KeyAlgorithm::of_key(&ca.public_key().unwrap()),
        Some(KeyAlgorithm::Rsa2048)
    );
    let ca_info = verify::cert_info(&ca);
    let ca_life = ca_info
        .not_after
        .duration_since(ca_info.not_before)
        .unwrap();
    assert!(ca_life.as_secs().abs_diff(14 * 86_400) <= 300);
    assert!(ca_info.subject.contains("O=ACME"), "{}", ca_info.subject);
    let leaf = verify::cert_info(&leaf_of(&w.certificates(1)[0]));
    let life = leaf.not_after.duration_since(leaf.not_before).unwrap();
    assert!(life.as_secs().abs_diff(12 * 3600) <= 300);
    // The secret expires when the CA's rotation must be announced: notAfter -
    // certificate-validity - ca-rotation-overlap (24h by default).
    let st = w.tools.state.borrow();
    let secret = st
        .secrets
        .values()
        .find(|s| s.label.as_deref() == Some(CA_SECRET_LABEL))
        .unwrap();
    let expected =
        tls_provider::charm::clock::rfc3339(ca_info.not_after - Duration::from_secs(36 * 3600));
    assert_eq!(secret.expire.as_deref(), Some(expected.as_str()));
}

// ------------------------------------------------------------------------------------------
// CA rotation
// ------------------------------------------------------------------------------------------

fn assert_all_under_current_ca(w: &World, id: u32) {
    let ca_pem = w.ca_pem();
    let ca = X509::from_pem(ca_pem.as_bytes()).unwrap();
    for e in w.certificates(id) {
        assert_eq!(e.ca, ca_pem);
        assert!(verify::issued_by(&leaf_of(&e), &ca));
        assert_valid_entry(&e, false);
    }
}

#[test]
fn ca_subject_change_rotates_and_reissues_in_the_same_hook() {
    let w = World::new(true);
    // No overlap (the phases are in tests/transfer_unit.rs).
    w.config("ca-rotation-overlap", json!("0"));
    two_relations_five_units(&w);
    w.reconcile();
    let old_ca = w.ca_pem();
    let old = w.certificates(1);
    w.tools.reset_calls();

    w.config("ca-common-name", json!("New CA"));
    let s = w.reconcile();

    assert!(s.ca_rotated.is_some());
    assert_ne!(w.ca_pem(), old_ca);
    assert_eq!(w.ca_secret()[KEY_PREVIOUS_CA_CERTIFICATE], old_ca);
    assert_eq!(s.totals.replaced, 10);
    let new = w.certificates(1);
    assert_eq!(new.len(), old.len());
    for e in &old {
        let n = entry_for(&new, &e.certificate_signing_request);
        assert_ne!(n.certificate, e.certificate);
    }
    assert_all_under_current_ca(&w, 1);
    assert_all_under_current_ca(&w, 2);
    assert_eq!(w.relation_sets(), 2, "one write per relation");
    assert!(!w.own_bag(1)["certificates"].contains("revoked"));
    // And then it is stable again.
    w.tools.reset_calls();
    w.reconcile();
    assert_eq!(w.relation_sets(), 0);
    assert_eq!(w.tools.count("secret-set"), 0);
}

#[test]
fn key_algorithm_and_root_validity_changes_rotate() {
    let w = World::new(true);
    w.config("ca-rotation-overlap", json!("0"));
    w.relate(1, "req", &["req/0"]);
    w.request(1, "req/0", &[(&csr("a.x"), false)]);
    w.reconcile();
    let first = w.ca_pem();
    w.config("ca-key-algorithm", json!("ecdsa-p384"));
    assert!(w.reconcile().ca_rotated.is_some());
    let second = w.ca_pem();
    assert_ne!(first, second);
    w.config("root-ca-validity", json!("400d"));
    assert!(w.reconcile().ca_rotated.is_some());
    assert_ne!(w.ca_pem(), second);
    assert_all_under_current_ca(&w, 1);
    // certificate-validity alone does not rotate. The secret's expiry stays: the nearest
    // deadline is still the end of the previous CA's trust (tests/transfer_unit.rs).
    let ca = w.ca_pem();
    w.config("certificate-validity", json!("30d"));
    let s = w.reconcile();
    assert!(s.ca_rotated.is_none());
    assert_eq!(w.ca_pem(), ca);
    assert_eq!(w.tools.count("secret-set"), 2);
}

#[test]
fn ca_near_its_end_rotates() {
    let w = World::new(true);
    w.config("root-ca-validity", json!("20m"));
    w.config("certificate-validity", json!("10m"));
    w.config("ca-rotation-overlap", json!("0"));
    w.relate(1, "req", &["req/0"]);
    w.request(1, "req/0", &[(&csr("a.x"), false)]);
    let t0 = SystemTime::now();
    w.reconcile_at(t0);
    let first = w.ca_pem();
    // 9 minutes later: 11 minutes left, more than certificate-validity: nothing happens.
    let s = w.reconcile_at(t0 + Duration::from_secs(9 * 60));
    assert!(s.ca_rotated.is_none());
    // 11 minutes later: 9 minutes left, less than certificate-validity: rotate and reissue.
    let s = w.reconcile_at(t0 + Duration::from_secs(11 * 60));
    assert_eq!(
        s.ca_rotated,
        Some(tls_provider::charm::ca::RotateReason::NearExpiry)
    );
    assert_ne!(w.ca_pem(), first);
    assert_eq!(s.totals.replaced, 1);
    let ca = X509::from_pem(w.ca_pem().as_bytes()).unwrap();
    assert!(verify::issued_by(&leaf_of(&w.certificates(1)[0]), &ca));
}

/// The CA secret expires at the next deadline; Juju's clock may run a little ahead of ours, so
/// in that hook a deadline a few minutes away counts as due, and nowhere else.
#[test]
fn secret_expired_hook_for_the_ca_secret_rotates_at_its_deadline() {
    let w = World::new(true);
    w.config("root-ca-validity", json!("20m"));
    w.config("certificate-validity", json!("10m"));
    w.config("ca-rotation-overlap", json!("0"));
    w.relate(1, "req", &["req/0"]);
    w.request(1, "req/0", &[(&csr("a.x"), false)]);
    let t0 = SystemTime::now();
    w.reconcile_at(t0);
    let first = w.ca_pem();
    // Two minutes before the deadline (10 minutes in): an ordinary hook does nothing...
    let early = t0 + Duration::from_secs(8 * 60);
    assert!(w.reconcile_at(early).ca_rotated.is_none());
    // ...but secret-expired for the CA secret does.
    let ctx = w.ca_secret_hook("secret-expired");
    let s = w.run_ctx(&ctx, early, ReconcileOptions::default());
    assert_eq!(
        s.ca_rotated,
        Some(tls_provider::charm::ca::RotateReason::NearExpiry)
    );
    assert_ne!(w.ca_pem(), first);
    let ca = X509::from_pem(w.ca_pem().as_bytes()).unwrap();
    assert!(verify::issued_by(&leaf_of(&w.certificates(1)[0]), &ca));
}

#[test]
fn our_certificate_near_expiry_is_reissued_for_the_same_csr() {
    let w = World::new(true);
    w.config("root-ca-validity", json!("30d"));
    w.config("certificate-validity", json!("1d"));
    w.relate(1, "req", &["req/0"]);
    let c = csr("a.x");
    w.request(1, "req/0", &[(&c, false)]);
    let t0 = SystemTime::now();
    w.reconcile_at(t0);
    let first = w.certificates(1)[0].certificate.clone();
    let s = w.reconcile_at(t0 + Duration::from_secs(20 * 3600));
    assert_eq!(s.totals.signed, 0, "more than a tenth of its life left");
    let s = w.reconcile_at(t0 + Duration::from_secs(22 * 3600));
    assert_eq!(s.totals.replaced, 1);
    assert_ne!(w.certificates(1)[0].certificate, first);
}

/// A CSR with a registeredID SAN (`openssl req -addext subjectAltName=RID:<oid>`), made with the
/// `openssl` command line like the reviewer's sample.
fn csr_with_rid(oid: &str) -> String {
    let dir = TempDir::new().unwrap();
    openssl_req_p256(
        dir.path(),
        &["-new"],
        "k.pem",
        "r.csr",
        "/CN=x",
        &["-addext", &format!("subjectAltName=RID:{oid}")],
    );
    std::fs::read_to_string(dir.path().join("r.csr"))
        .unwrap()
        .trim_end()
        .to_string()
}

/// The reviewer's hostile CSR (registeredID with a 20-digit arc) once made every leader hook exit
/// 1 because the RID could not be re-encoded. It is now issued with its RID, next to the others.
/// (A CSR that still cannot be signed gets a 999 error: see the lib test
/// `a_csr_that_cannot_be_signed_gets_999_and_the_others_are_issued`.)
#[test]
fn registered_id_with_a_20_digit_arc_is_issued_and_never_fails_the_hook() {
    let w = World::new(true);
    w.relate(1, "req", &["req/0"]);
    w.relate(2, "other", &["other/0"]);
    let evil = csr_with_rid("1.2.18446744073709551615");
    let good = csr("good.example.com");
    let other = csr("other.example.com");
    w.request(1, "req/0", &[(&evil, false), (&good, false)]);
    w.request(2, "other/0", &[(&other, false)]);
    let s = w.run_ctx(
        &w.ctx("update-status"),
        SystemTime::now(),
        ReconcileOptions::default(),
    );
    assert_valid_entry(entry_for(&w.certificates(1), &good), false);
    assert_valid_entry(entry_for(&w.certificates(2), &other), false);
    let certs = w.certificates(1);
    let e = entry_for(&certs, &evil);
    assert_valid_entry(e, false);
    let text = String::from_utf8(leaf_of(e).to_text().unwrap()).unwrap();
    assert!(
        text.contains("Registered ID:1.2.18446744073709551615"),
        "{text}"
    );
    assert!(w.errors(1).is_empty(), "{:?}", w.errors(1));
    assert_eq!((s.totals.published, s.totals.denied), (3, 0));
}

// ------------------------------------------------------------------------------------------
// Manual mode and certificates from other CAs
// ------------------------------------------------------------------------------------------

/// A certificate for `csr_pem` signed by a CA that is not ours.
fn foreign_entry(csr_pem: &str) -> ProviderCertificate {
    let subject = CaSubject {
        common_name: "Outside CA".into(),
        ..CaSubject::default()
    };
    let ca = Ca::generate(&subject, KeyAlgorithm::EcdsaP256, 30 * 86_400).unwrap();
    let parsed = ParsedCsr::parse(csr_pem).unwrap();
    let cert = issue(
        &ca,
        &IssueRequest {
            crl_url: None,
            csr: &parsed,
            is_ca: false,
            validity_secs: 86_400,
            now: SystemTime::now(),
        },
    )
    .unwrap();
    let leaf = cert_to_pem(&cert);
    ProviderCertificate {
        ca: ca.cert_pem(),
        certificate_signing_request: csr_pem.to_string(),
        certificate: leaf.clone(),
        chain: vec![leaf, ca.cert_pem()],
        revoked: false,
    }
}

#[test]
fn manual_mode_signs_nothing_and_keeps_provided_certificates_while_their_csr_stays() {
    let w = World::new(true);
    w.config("mode", json!("manual"));
    w.relate(1, "req", &["req/0", "req/1"]);
    let (a, b) = (csr("a.example.com"), csr("b.example.com"));
    w.request(1, "req/0", &[(&a, false)]);
    w.request(1, "req/1", &[(&b, false)]);
    let s = w.reconcile();
    assert_eq!(s.totals.outstanding, 2);
    assert!(w.certificates(1).is_empty());
    assert_eq!(w.tools.count("secret-add"), 0, "no CA in manual mode");
    let caps: Value = serde_json::from_str(&w.own_bag(1)["capabilities"]).unwrap();
    assert_eq!(caps, json!({"provider_type": "manual"}));
    let msg = w.unit_status().1;
    assert!(msg.contains("2 requests outstanding"), "{msg}");
    assert!(
        msg.contains("get-outstanding-certificate-requests"),
        "{msg}"
    );

    // An operator provides a certificate (what provide-certificate does).
    let entry = foreign_entry(&a);
    assert!(w.publish_entry(1, entry.clone()));
    w.tools.reset_calls();
    let s = w.reconcile();
    assert_eq!(
        w.relation_sets(),
        0,
        "the provided certificate is kept as is"
    );
    assert_eq!(s.totals.outstanding, 1);
    assert_eq!(w.certificates(1), vec![entry.clone()]);

    // Switching to self-signed keeps it and signs the other one.
    w.config("mode", json!("self-signed"));
    w.reconcile();
    let entries = w.certificates(1);
    assert_eq!(entries.len(), 2);
    assert_eq!(entry_for(&entries, &a), &entry);
    assert_eq!(entry_for(&entries, &b).ca, w.ca_pem());

    // When the CSR goes, the entry goes.
    w.remove_unit(1, "req/0");
    w.reconcile();
    assert_eq!(w.certificates(1).len(), 1);
    assert_eq!(w.certificates(1)[0].certificate_signing_request, b);
}

#[test]
fn upsert_refuses_unparseable_entries() {
    let w = World::new(true);
    w.relate(1, "req", &["req/0"]);
    let ctx = w.ctx("update-status");
    let snap = snapshot::read_relation(&Hook::new(&ctx, &w.tools), RelationId(1))
        .unwrap()
        .unwrap();
    let mut e = foreign_entry(&csr("a.x"));
    e.certificate = "garbage".into();
    let mut desired = ProviderAppData::default();
    desired.upsert_certificate(e);
    let (changes, dropped) = publish::changes(&snap, &mut desired);
    assert!(desired.certificates.is_empty(), "the entry is dropped");
    assert!(dropped[0].contains("does not parse"), "{dropped:?}");
    assert!(
        !changes.values().any(|v| v.contains("garbage")),
        "{changes:?}"
    );
    assert_eq!(w.relation_sets(), 0);
}

// ------------------------------------------------------------------------------------------
// Actions
// ------------------------------------------------------------------------------------------

fn run_action(w: &World, name: &str, params: Value) -> Result<BTreeMap<String, String>, String> {
    {
        let mut st = w.tools.state.borrow_mut();
        st.action_params = params.as_object().unwrap().clone();
        st.action_results.clear();
    }
    let ctx = w.ctx_for(&format!("actions/{name}"), &[("JUJU_ACTION_NAME", name)]);
    match actions::run(name, &Hook::new(&ctx, &w.tools)) {
        Ok(()) => Ok(w.tools.state.borrow().action_results.clone()),
        Err(e) => Err(e.to_string()),
    }
}

#[test]
fn actions_fail_on_a_non_leader_with_the_command_to_run() {
    let w = World::new(false);
    for a in [
        "get-ca-certificate",
        "get-issued-certificates",
        "rotate-private-key",
    ] {
        let err = run_action(&w, a, json!({})).unwrap_err();
        assert_eq!(
            err,
            format!("run this action on the leader unit: juju run tls-provider/leader {a}")
        );
    }
    assert_eq!(w.tools.count("secret-add"), 0);
    assert_eq!(w.tools.count("action-set"), 0);
}

#[test]
fn get_ca_certificate_returns_current_and_previous() {
    let w = World::new(true);
    let err = run_action(&w, "get-ca-certificate", json!({})).unwrap_err();
    assert!(err.contains("not created yet"), "{err}");
    w.reconcile();
    let r = run_action(&w, "get-ca-certificate", json!({})).unwrap();
    assert_eq!(r["ca-certificate"], w.ca_pem());
    assert!(!r.contains_key("previous-ca-certificate"));
    let first = w.ca_pem();
    run_action(&w, "rotate-private-key", json!({"immediate": true})).unwrap();
    let r = run_action(&w, "get-ca-certificate", json!({})).unwrap();
    assert_eq!(r["previous-ca-certificate"], first);
    assert!(!r.values().any(|v| v.contains("PRIVATE KEY")));
}

#[test]
fn rotate_private_key_reissues_everything_in_the_action() {
    let w = World::new(true);
    two_relations_five_units(&w);
    w.reconcile();
    let old_ca = w.ca_pem();
    let r = run_action(&w, "rotate-private-key", json!({"immediate": true})).unwrap();
    assert_eq!(r["reissued"], "10");
    assert!(
        r["result"].contains("10 certificate(s) reissued"),
        "{}",
        r["result"]
    );
    assert_ne!(w.ca_pem(), old_ca);
    assert_eq!(r["ca-certificate"], w.ca_pem());
    assert_all_under_current_ca(&w, 1);
    assert_all_under_current_ca(&w, 2);
    assert!(!r.values().any(|v| v.contains("PRIVATE KEY")));

    w.config("mode", json!("manual"));
    let err = run_action(&w, "rotate-private-key", json!({})).unwrap_err();
    assert!(err.contains("mode is manual"), "{err}");
}

#[test]
fn get_issued_certificates_lists_every_certificate_with_its_requirer() {
    let w = World::new(true);
    w.relate(1, "req", &["req/0"]);
    w.relate(2, "other", &[]);
    let unit_csr = csr_with(Some("u.example.com"), &["u.example.com"], &["10.0.0.7"]);
    let app_csr = csr("app.example.com");
    w.request(1, "req/0", &[(&unit_csr, false)]);
    w.set_app_bag(2, requests_bag(&[(&app_csr, false)]));
    let r = run_action(&w, "get-issued-certificates", json!({})).unwrap();
    assert_eq!(r["count"], "0");
    w.reconcile();

    let r = run_action(&w, "get-issued-certificates", json!({})).unwrap();
    assert_eq!(r["count"], "2");
    let list: Vec<Value> = serde_json::from_str(&r["certificates"]).unwrap();
    let unit = list.iter().find(|c| c["relation-id"] == json!(1)).unwrap();
    assert_eq!(unit["requirer"], json!("req/0"));
    assert_eq!(unit["requirer-type"], json!("unit"));
    assert_eq!(unit["common-name"], json!("u.example.com"));
    assert_eq!(unit["sans"], json!(["u.example.com", "10.0.0.7"]));
    assert_eq!(unit["is-ca"], json!(false));
    assert!(unit["serial"].as_str().unwrap().len() >= 16);
    assert!(unit["not-after"].as_str().unwrap().ends_with('Z'));
    let app = list.iter().find(|c| c["relation-id"] == json!(2)).unwrap();
    assert_eq!(app["requirer"], json!("other"));
    assert_eq!(app["requirer-type"], json!("app"));

    let r = run_action(&w, "get-issued-certificates", json!({"relation-id": 2})).unwrap();
    assert_eq!(r["count"], "1");
    let err = run_action(&w, "get-issued-certificates", json!({"relation-id": 9})).unwrap_err();
    assert!(
        err.contains("relation-id 9 is not a certificates relation"),
        "{err}"
    );
}

#[test]
fn manual_actions_are_dispatched_after_the_leader_check() {
    let w = World::new(false);
    let err = run_action(&w, "provide-certificate", json!({})).unwrap_err();
    assert!(err.contains("juju run tls-provider/leader provide-certificate"));
    let err = run_action(&w, "no-such-action", json!({})).unwrap_err();
    assert!(err.contains("not implemented"), "{err}");
}

// ------------------------------------------------------------------------------------------
// The keep-verdict cache
// ------------------------------------------------------------------------------------------

#[test]
fn keep_cache_never_keeps_an_entry_that_changed() {
    let w = World::new(true);
    w.relate(1, "req", &["req/0"]);
    let (a, b) = (csr("a.example.com"), csr("b.example.com"));
    w.request(1, "req/0", &[(&a, false), (&b, false)]);
    w.reconcile();
    w.reconcile(); // judged in full once more: verdicts cached
    assert!(w.dir.path().join(".tls-provider-keep").exists());
    // Someone swaps A's certificate for B's (valid, ours, wrong key for A's CSR).
    let mut entries = w.certificates(1);
    let b_cert = entry_for(&entries, &b).certificate.clone();
    for e in entries.iter_mut() {
        if e.certificate_signing_request == a {
            e.certificate = b_cert.clone();
            e.chain[0] = b_cert.clone();
        }
    }
    w.tools
        .state
        .borrow_mut()
        .relations
        .get_mut(&RelationId(1))
        .unwrap()
        .local_app_bag
        .insert(
            "certificates".into(),
            serde_json::to_string(&entries).unwrap(),
        );
    let s = w.reconcile();
    assert_eq!(s.totals.replaced, 1);
    for e in w.certificates(1) {
        assert_valid_entry(&e, false);
    }
}

#[test]
fn keep_cache_corruption_is_harmless() {
    let w = World::new(true);
    two_relations_five_units(&w);
    w.reconcile();
    w.reconcile();
    std::fs::write(w.dir.path().join(".tls-provider-keep"), "{not json").unwrap();
    w.tools.reset_calls();
    let s = w.reconcile();
    assert_eq!(w.relation_sets(), 0);
    assert_eq!(s.totals.published, 10);
    // And it is rebuilt.
    let text = std::fs::read_to_string(w.dir.path().join(".tls-provider-keep")).unwrap();
    let map: BTreeMap<String, u64> = serde_json::from_str(&text).unwrap();
    assert_eq!(map.len(), 10);
}

// ------------------------------------------------------------------------------------------
// CA secret housekeeping
// ------------------------------------------------------------------------------------------

#[test]
fn unreadable_ca_secret_is_replaced_by_a_new_ca() {
    let w = World::new(true);
    w.relate(1, "req", &["req/0"]);
    w.request(1, "req/0", &[(&csr("a.x"), false)]);
    w.reconcile();
    {
        let mut st = w.tools.state.borrow_mut();
        let s = st.secrets.values_mut().next().unwrap();
        let mut broken = s.revisions.last().unwrap().clone();
        broken.insert("private-key".into(), "not a key".into());
        s.revisions.push(broken);
    }
    let s = w.reconcile();
    assert!(matches!(
        s.ca_rotated,
        Some(tls_provider::charm::ca::RotateReason::Unreadable(_))
    ));
    assert_eq!(
        w.tools.count("secret-add"),
        1,
        "the same secret gets a new revision"
    );
    assert!(w.ca_secret()["private-key"].contains("PRIVATE KEY"));
    assert_all_under_current_ca(&w, 1);
}

#[test]
fn secret_remove_hook_removes_the_unused_ca_revision() {
    let w = World::new(true);
    w.reconcile();
    let ctx = w.ca_secret_hook("secret-remove");
    let id = ctx.secret.as_ref().expect("secret context").id.clone(); // secret:<id>
    w.tools.reset_calls();
    w.run_ctx(&ctx, SystemTime::now(), ReconcileOptions::default());
    assert_eq!(w.tools.count("secret-remove"), 1);
    assert!(w.calls().contains(&format!("secret-remove {id}")));
    // Other secrets' removals are not ours to handle.
    let ctx = w.ctx_for(
        "hooks/secret-remove",
        &[
            ("JUJU_SECRET_ID", "secret:someoneelse"),
            ("JUJU_SECRET_LABEL", "other"),
            ("JUJU_SECRET_REVISION", "1"),
        ],
    );
    w.tools.reset_calls();
    w.run_ctx(&ctx, SystemTime::now(), ReconcileOptions::default());
    assert_eq!(w.tools.count("secret-remove"), 0);
}

/// The CA secret is lost (removed, or its content unusable including the certificate): the new
/// CA cannot know the old one, so every entry it did not issue is reissued in the same hook; the
/// key of the lost CA must not stay behind certificates in relation data.
#[test]
fn lost_ca_secret_reissues_every_certificate_of_the_lost_ca() {
    for how in ["removed", "garbage"] {
        let w = World::new(true);
        two_relations_five_units(&w);
        w.reconcile();
        let old_ca = w.ca_pem();
        let before = w.certificates(1).len() + w.certificates(2).len();
        assert!(before > 0);
        {
            let mut st = w.tools.state.borrow_mut();
            let id = st
                .secrets
                .iter()
                .find(|(_, s)| s.label.as_deref() == Some(CA_SECRET_LABEL))
                .map(|(id, _)| id.clone())
                .unwrap();
            if how == "removed" {
                st.secrets.remove(&id);
            } else {
                let s = st.secrets.get_mut(&id).unwrap();
                let broken = Databag::from([
                    ("ca-certificate".to_string(), "junk".to_string()),
                    ("private-key".to_string(), "junk".to_string()),
                ]);
                s.revisions.push(broken);
            }
        }
        let s = w.reconcile();
        assert!(
            matches!(
                s.ca_rotated,
                Some(
                    tls_provider::charm::ca::RotateReason::Missing
                        | tls_provider::charm::ca::RotateReason::Unreadable(_)
                )
            ),
            "{how}: {:?}",
            s.ca_rotated
        );
        assert_ne!(w.ca_pem(), old_ca, "{how}");
        assert_eq!(s.totals.replaced, before, "{how}");
        for id in [1, 2] {
            assert_all_under_current_ca(&w, id);
        }
        // And it settles.
        w.tools.reset_calls();
        w.reconcile();
        assert_eq!(w.relation_sets(), 0, "{how}");
    }
}

/// Documented consequence: certificates an operator provided in manual mode, kept across the
/// switch to self-signed, are replaced too when the CA is later lost (they cannot be told apart
/// from the lost CA's). The first switch itself (no CA secret yet) keeps them.
#[test]
fn lost_ca_replaces_operator_certificates_kept_from_manual_mode() {
    let w = World::new(true);
    w.config("mode", json!("manual"));
    w.relate(1, "req", &["req/0"]);
    let a = csr("a.example.com");
    w.request(1, "req/0", &[(&a, false)]);
    w.reconcile();
    let provided = foreign_entry(&a);
    assert!(w.publish_entry(1, provided.clone()));
    w.config("mode", json!("self-signed"));
    let s = w.reconcile();
    assert_eq!(
        s.ca_rotated,
        Some(tls_provider::charm::ca::RotateReason::Missing)
    );
    assert_eq!(
        w.certificates(1),
        vec![provided.clone()],
        "first switch keeps it"
    );

    w.tools
        .state
        .borrow_mut()
        .secrets
        .retain(|_, s| s.label.as_deref() != Some(CA_SECRET_LABEL));
    w.reconcile();
    let certs = w.certificates(1);
    assert_eq!(certs.len(), 1);
    assert_ne!(certs[0], provided);
    assert_all_under_current_ca(&w, 1);
}

/// A legacy relation: the modern keys a relation-joined reconcile may have left in our app
/// databag are cleared using the snapshot's copy of that databag (read once per hook, not twice).
#[test]
fn legacy_relation_reads_our_app_databag_once_and_clears_modern_keys() {
    let w = World::new(true);
    w.relate(4, "etcd", &["etcd/0"]);
    w.tools
        .state
        .borrow_mut()
        .relations
        .get_mut(&RelationId(4))
        .unwrap()
        .local_app_bag
        .insert("capabilities".into(), "{}".into());
    w.set_unit_bag(
        4,
        "etcd/0",
        Databag::from([
            ("unit_name".to_string(), "etcd_0".to_string()),
            ("common_name".to_string(), "a.example".to_string()),
        ]),
    );
    w.tools.reset_calls();
    w.reconcile();
    let app_reads = |w: &World| {
        w.calls()
            .iter()
            .filter(|c| c.starts_with("relation-get -r 4 --app - tls-provider"))
            .count()
    };
    assert_eq!(app_reads(&w), 1, "{:?}", w.calls());
    assert!(w.own_bag(4).is_empty(), "modern keys cleared");
    let unit_bag = w.tools.local_unit_bag(4);
    assert!(unit_bag.contains_key("etcd_0.server.cert"));
    w.tools.reset_calls();
    w.reconcile();
    assert_eq!(app_reads(&w), 1);
    assert_eq!(w.relation_sets(), 0);
}

/// Requirer text quoted in refusal notes is capped: a near-1 MiB junk `ca` value does not make
/// a near-1 MiB log line.
#[test]
fn hostile_text_in_refusals_is_capped_in_logs() {
    let w = World::new(true);
    w.relate(1, "req", &["req/0"]);
    let junk = "y".repeat(900_000);
    let list = json!([{"certificate_signing_request": csr("a.example.com"), "ca": junk}]);
    w.set_unit_bag(1, "req/0", raw_bag(&list.to_string()));
    let s = w.reconcile();
    assert_eq!(s.totals.rejected, 1);
    let logs = w.tools.state.borrow().logs.clone();
    assert!(
        logs.iter()
            .any(|(_, m)| m.contains("\"ca\" is") && m.contains('…')),
        "{logs:?}"
    );
    for (_, m) in &logs {
        assert!(m.len() < 2_000, "log line of {} bytes", m.len());
    }
    assert!(w.unit_status().1.len() < 2_000);
}

/// A removed leader keeps leadership through its own `-relation-departed` hooks (one per remote
/// unit, with `JUJU_DEPARTING_UNIT` set to itself) and its `-relation-broken`: it is leaving the
/// relation, the application is not, so it withdraws nothing.
#[test]
fn a_leader_leaving_a_relation_withdraws_nothing() {
    let w = World::new(true);
    w.relate(1, "req", &["req/0", "req/1"]);
    w.request(1, "req/0", &[(&csr("a.x"), false)]);
    w.request(1, "req/1", &[(&csr("b.x"), false)]);
    w.reconcile();
    let before = w.own_bag(1);
    assert_eq!(w.certificates(1).len(), 2);
    // From the leaving unit's view req/1 departs (relation-list no longer shows it).
    w.remove_unit(1, "req/1");
    w.tools.reset_calls();
    let me = format!("{APP}/0");
    let departed = w.ctx_for(
        "hooks/certificates-relation-departed",
        &[
            ("JUJU_RELATION", "certificates"),
            ("JUJU_RELATION_ID", "certificates:1"),
            ("JUJU_REMOTE_UNIT", "req/1"),
            ("JUJU_REMOTE_APP", "req"),
            ("JUJU_DEPARTING_UNIT", &me),
        ],
    );
    w.run_ctx(&departed, SystemTime::now(), ReconcileOptions::default());
    assert_eq!(w.relation_sets(), 0, "{:?}", w.calls());
    assert_eq!(w.own_bag(1), before);
    // Another unit departing (not us) is a requirer unit going: its entry goes.
    let fresh = World::new(true);
    fresh.relate(1, "req", &["req/0", "req/1"]);
    fresh.request(1, "req/0", &[(&csr("a.x"), false)]);
    fresh.request(1, "req/1", &[(&csr("b.x"), false)]);
    fresh.reconcile();
    fresh.remove_unit(1, "req/1");
    let other_departed = fresh.ctx_for(
        "hooks/certificates-relation-departed",
        &[
            ("JUJU_RELATION", "certificates"),
            ("JUJU_RELATION_ID", "certificates:1"),
            ("JUJU_REMOTE_UNIT", "req/1"),
            ("JUJU_REMOTE_APP", "req"),
            ("JUJU_DEPARTING_UNIT", "req/1"),
        ],
    );
    fresh.run_ctx(
        &other_departed,
        SystemTime::now(),
        ReconcileOptions::default(),
    );
    assert_eq!(fresh.certificates(1).len(), 1);
}

/// A well-formed CSR whose common name holds a control character is refused with a 999 entry
/// that names the problem (the requirer must not wait forever); the other request is served.
#[test]
fn a_control_character_in_the_common_name_is_refused_with_999() {
    let w = World::new(true);
    w.relate(1, "req", &["req/0"]);
    let bad = csr_with(Some("evil\u{0}.good0.example.com"), &[], &[]);
    let good = csr("good.example.com");
    w.request(1, "req/0", &[(&bad, false), (&good, false)]);
    w.reconcile();
    assert_eq!(w.certificates(1).len(), 1);
    let errors = w.errors(1);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0]["csr"], json!(bad));
    assert_eq!(errors[0]["error"]["code"], json!(999));
    let msg = errors[0]["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("control characters") && msg.contains(r"evil\0.good0.example.com"),
        "{msg}"
    );
}

/// With `allowed-domains` set, a common name that is not a DNS name or IP address (no SAN to
/// check either) is refused with 102 quoting it, instead of being certified as it is.
#[test]
fn allowed_domains_constrain_a_common_name_that_does_not_look_like_dns() {
    let w = World::new(true);
    w.config("allowed-domains", json!("example.com"));
    w.relate(1, "req", &["req/0"]);
    let names = ["evil.org example.com", "evil.org\u{a0}", "ëvil.org"];
    let bad: Vec<String> = names.iter().map(|n| csr_with(Some(n), &[], &[])).collect();
    let good = csr_with(Some("a.example.com"), &[], &[]);
    let mut reqs: Vec<(&str, bool)> = bad.iter().map(|c| (c.as_str(), false)).collect();
    reqs.push((&good, false));
    w.request(1, "req/0", &reqs);
    w.reconcile();
    assert_eq!(w.certificates(1).len(), 1);
    assert_eq!(w.certificates(1)[0].certificate_signing_request, good);
    let errors = w.errors(1);
    assert_eq!(errors.len(), 3, "{errors:?}");
    for (name, csr) in names.iter().zip(&bad) {
        let e = errors
            .iter()
            .find(|e| e["csr"] == json!(csr))
            .expect("refused");
        assert_eq!(e["error"]["code"], json!(102), "{name:?}");
        let msg = e["error"]["message"].as_str().unwrap();
        assert!(msg.contains(&format!("{name:?}")), "{name:?}: {msg}");
        assert!(msg.contains("allowed-domains=example.com"), "{msg}");
    }
}

/// `application-domains`: a listed application gets only its own names (102 naming the
/// application and its rule otherwise); other applications are not restricted further;
/// `allowed-domains` still applies on top.
#[test]
fn application_domains_restrict_each_listed_application_to_its_names() {
    let w = World::new(true);
    w.config(
        "application-domains",
        json!("web=web.example.com,*.api.example.com; api=api.internal"),
    );
    w.relate(1, "web", &["web/0"]);
    w.relate(2, "api", &["api/0"]);
    w.relate(3, "other", &["other/0"]);
    let web_ok = [
        csr("web.example.com"),
        csr("a.web.example.com"),
        csr("x.api.example.com"),
    ];
    let web_bad = [
        csr("api.example.com"),
        csr("db.example.com"),
        csr_with(Some("web"), &[], &[]),
    ];
    let mut reqs: Vec<(&str, bool)> = web_ok.iter().map(|c| (c.as_str(), false)).collect();
    reqs.extend(web_bad.iter().map(|c| (c.as_str(), false)));
    w.request(1, "web/0", &reqs);
    let api_bad = csr("web.example.com");
    w.request(
        2,
        "api/0",
        &[(&csr("db.api.internal"), false), (&api_bad, false)],
    );
    w.request(3, "other/0", &[(&csr("web.example.com"), false)]);
    w.reconcile();
    assert_eq!(w.certificates(1).len(), 3);
    let errors = w.errors(1);
    assert_eq!(errors.len(), 3, "{errors:?}");
    for e in &errors {
        assert_eq!(e["error"]["code"], json!(102));
        let msg = e["error"]["message"].as_str().unwrap();
        assert!(
            msg.contains("application web") && msg.contains("web.example.com,*.api.example.com"),
            "{msg}"
        );
    }
    assert_eq!(w.certificates(2).len(), 1);
    assert_eq!(w.errors(2)[0]["csr"], json!(api_bad));
    assert_eq!(
        w.certificates(3).len(),
        1,
        "unlisted applications are not restricted"
    );

    // A malformed value blocks, naming the option.
    w.config("application-domains", json!("web=*.*.bad; =x"));
    w.reconcile();
    let (st, msg) = w.unit_status();
    assert_eq!(st, StatusName::Blocked);
    assert!(msg.contains("application-domains"), "{msg}");
}
