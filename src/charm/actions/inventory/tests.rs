//! The pure inventory builder and the filters: exact entries for each state and scope, the
//! state rule, filter parsing, and the split of a 1000-entry inventory.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use juju_hook::RelationId;
use serde_json::{json, Value};

use super::entry::{build_entry, days_left, normalise_serial};
use super::*;
use crate::charm::actions::listing::ListedRequest;
use crate::charm::actions::results::{part_key, parts_key};
use crate::charm::actions::MAX_LIST_CHUNK_BYTES;
use crate::charm::clock;
use crate::charm::revocation::{csr_fingerprint, Revocation};
use crate::pki::sign::{cert_to_pem, issue, IssueRequest};
use crate::pki::{csr_to_pem, generate_csr, Ca, CaSubject, KeyAlgorithm, ParsedCsr, San};

const DAY: u64 = 86_400;

/// 2027-01-15T08:00:00Z: when the test CA and certificates are made.
fn t0() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_800_000_000)
}

fn at(days: u64) -> SystemTime {
    t0() + Duration::from_secs(days * DAY)
}

fn ca() -> Ca {
    let subject = CaSubject {
        common_name: "Inventory Test CA".into(),
        ..CaSubject::default()
    };
    Ca::generate_at(&subject, KeyAlgorithm::EcdsaP256, 3650 * DAY, t0()).unwrap()
}

fn csr(cn: &str, sans: &[&str]) -> String {
    let key = KeyAlgorithm::EcdsaP256.generate().unwrap();
    let sans: Vec<String> = sans.iter().map(|s| s.to_string()).collect();
    csr_to_pem(&generate_csr(&key, cn, &sans).unwrap()).unwrap()
}

/// `csr` signed at t0 for 30 days (notBefore t0 − 60 s).
fn cert(ca: &Ca, csr: &str, is_ca: bool) -> String {
    let parsed = ParsedCsr::parse(csr).unwrap();
    let req = IssueRequest {
        csr: &parsed,
        is_ca,
        validity_secs: 30 * DAY,
        now: t0(),
        crl_url: None,
    };
    cert_to_pem(&issue(ca, &req).unwrap())
}

/// A modern unit request of `web/0` on relation 3, without a certificate.
fn modern(csr: &str) -> ListedRequest {
    let parsed = ParsedCsr::parse(csr).unwrap();
    ListedRequest {
        relation_id: Some(RelationId(3)),
        application: "web".into(),
        unit: Some("web/0".into()),
        common_name: parsed.common_name.clone().unwrap_or_default(),
        sans: parsed.sans.clone(),
        is_ca: false,
        legacy: false,
        kind: None,
        csr: csr.to_string(),
        has_certificate: false,
        not_after: None,
        error: None,
        revoked: false,
        certificate: None,
    }
}

fn serial_of(pem: &str) -> String {
    let c = openssl::x509::X509::from_pem(pem.as_bytes()).unwrap();
    let hex = c.serial_number().to_bn().unwrap().to_hex_str().unwrap();
    normalise_serial(&hex)
}

fn entry_json(req: &ListedRequest, records: &[Revocation], now: SystemTime) -> Value {
    serde_json::to_value(build_entry(req, records, ExpiryWarning::Percent(20), now)).unwrap()
}

const KEYS: [&str; 16] = [
    "relation-id",
    "application",
    "unit",
    "scope",
    "dialect",
    "common-name",
    "sans",
    "is-ca",
    "serial",
    "csr-fingerprint",
    "not-before",
    "not-after",
    "days-left",
    "issuer",
    "state",
    "reason",
];

fn assert_keys(v: &Value) {
    let got: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    let mut want = KEYS.to_vec();
    want.sort();
    assert_eq!(got, want, "exactly the documented keys: {v}");
}

#[test]
fn an_issued_modern_unit_request_has_every_field() {
    let ca = ca();
    let pem = csr("web0.example.com", &["web0.example.com", "10.1.2.3"]);
    let mut req = modern(&pem);
    let leaf = cert(&ca, &pem, false);
    req.certificate = Some(format!("{leaf}\n{}", ca.cert_pem()));
    req.has_certificate = true;
    let v = entry_json(&req, &[], at(10));
    assert_keys(&v);
    let serial = serial_of(&leaf);
    assert!(!serial.starts_with('0') && serial == serial.to_uppercase());
    assert_eq!(
        v,
        json!({
            "relation-id": 3,
            "application": "web",
            "unit": "web/0",
            "scope": "unit",
            "dialect": "modern",
            "common-name": "web0.example.com",
            "sans": [
                {"type": "dns", "value": "web0.example.com"},
                {"type": "ip", "value": "10.1.2.3"}
            ],
            "is-ca": false,
            "serial": serial,
            "csr-fingerprint": csr_fingerprint(&pem).unwrap(),
            "not-before": clock::rfc3339(t0() - Duration::from_secs(60)),
            "not-after": clock::rfc3339(at(30)),
            "days-left": 20,
            "issuer": "CN=Inventory Test CA",
            "state": "issued",
            "reason": null,
        })
    );
    let fp = v["csr-fingerprint"].as_str().unwrap();
    assert_eq!(fp.len(), 64);
    assert!(fp
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
}

#[test]
fn outstanding_denied_and_app_scope_requests_have_null_certificate_fields() {
    let pem = csr("api.example.com", &["api.example.com"]);
    let mut req = modern(&pem);
    req.unit = None;
    req.application = "api".into();
    req.is_ca = true;
    let v = entry_json(&req, &[], at(1));
    assert_keys(&v);
    assert_eq!(v["scope"], json!("app"));
    assert_eq!(v["unit"], Value::Null);
    assert_eq!(v["state"], json!("outstanding"));
    assert_eq!(v["is-ca"], json!(true), "the request's ca flag");
    for k in [
        "serial",
        "not-before",
        "not-after",
        "days-left",
        "issuer",
        "reason",
    ] {
        assert_eq!(v[k], Value::Null, "{k}");
    }
    assert_eq!(v["csr-fingerprint"], json!(csr_fingerprint(&pem).unwrap()));

    let why = "refused: evil.org is not under allowed-domains (example.com)";
    req.error = Some(why.into());
    let v = entry_json(&req, &[], at(1));
    assert_eq!(v["state"], json!("denied"));
    assert_eq!(v["reason"], json!(why));
    assert_eq!(v["serial"], Value::Null);

    // A CSR that does not parse: denied, no fingerprint.
    let mut bad = modern(&pem);
    bad.csr = "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----".into();
    bad.error = Some("this charm cannot use the CSR: bad".into());
    let v = entry_json(&bad, &[], at(1));
    assert_eq!(v["state"], json!("denied"));
    assert_eq!(v["csr-fingerprint"], Value::Null);
}

fn record(serial: &str, fingerprint: &str, reason: &str) -> Revocation {
    Revocation {
        serial: serial.into(),
        csr_fingerprint: fingerprint.into(),
        relation_id: 3,
        application: "web".into(),
        unit: Some("web/0".into()),
        common_name: None,
        issuer_fingerprint: None,
        legacy_kind: None,
        revoked_at: "2027-01-20T00:00:00Z".into(),
        reason: reason.into(),
    }
}

#[test]
fn revoked_entries_carry_the_recorded_reason() {
    let ca = ca();
    let pem = csr("web0.example.com", &[]);
    let mut req = modern(&pem);
    let leaf = cert(&ca, &pem, false);
    req.certificate = Some(leaf.clone());
    req.revoked = true;
    req.error = Some("revoked: ... the requirer must send a new CSR".into());
    // Published as revoked, no record (peer relation gone): revoked, reason unknown.
    let v = entry_json(&req, &[], at(5));
    assert_eq!(v["state"], json!("revoked"));
    assert_eq!(v["reason"], Value::Null);
    assert_eq!(
        v["serial"],
        json!(serial_of(&leaf)),
        "its certificate is still described"
    );
    // With the record (matched by the serial, in lowercase with a leading zero).
    let rec = record(
        &format!("0{}", serial_of(&leaf).to_lowercase()),
        "",
        "keyCompromise",
    );
    let v = entry_json(&req, std::slice::from_ref(&rec), at(5));
    assert_eq!(v["reason"], json!("keyCompromise"));
    // A record alone (e.g. a legacy certificate) makes it revoked, matched by CSR fingerprint.
    let mut other = modern(&pem);
    other.certificate = Some(cert(&ca, &pem, false));
    let fp = csr_fingerprint(&pem).unwrap().to_uppercase();
    let v = entry_json(&other, &[record("01", &fp, "superseded")], at(5));
    assert_eq!(v["state"], json!("revoked"));
    assert_eq!(v["reason"], json!("superseded"));
    // Another certificate's record does not.
    let v = entry_json(&other, &[record("01", "ab", "superseded")], at(5));
    assert_eq!(v["state"], json!("issued"));
}

#[test]
fn expiring_follows_the_expiry_warning_window() {
    let ca = ca();
    let pem = csr("web0.example.com", &[]);
    let mut req = modern(&pem);
    req.certificate = Some(cert(&ca, &pem, false));
    let state = |w: ExpiryWarning, now: SystemTime| build_entry(&req, &[], w, now).state;
    // 20% of 30 days: the window opens 6 days before notAfter (day 24).
    let pct = ExpiryWarning::Percent(20);
    assert_eq!(state(pct, at(23)), State::Issued);
    assert_eq!(state(pct, at(25)), State::Expiring);
    assert_eq!(state(ExpiryWarning::Before(2 * DAY), at(25)), State::Issued);
    assert_eq!(
        state(ExpiryWarning::Before(10 * DAY), at(25)),
        State::Expiring
    );
    // Off: only an expired certificate is expiring.
    assert_eq!(state(ExpiryWarning::Off, at(29)), State::Issued);
    assert_eq!(state(ExpiryWarning::Off, at(31)), State::Expiring);
    let e = build_entry(&req, &[], pct, at(25));
    assert_eq!(e.days_left, Some(5));
    let e = build_entry(&req, &[], pct, at(31) + Duration::from_secs(1));
    assert_eq!(
        e.days_left,
        Some(-2),
        "rounded down: 1 day and 1 second past"
    );
    assert_eq!(days_left(at(30), at(30)), 0);
    assert_eq!(days_left(at(30), at(30) + Duration::from_secs(1)), -1);
}

#[test]
fn legacy_entries_and_the_shared_client_certificate() {
    let ca = ca();
    let pem = csr("etcd0.example.com", &["etcd0.example.com", "10.0.0.7"]);
    let mut req = modern(&pem);
    req.legacy = true;
    req.kind = Some("server");
    req.unit = Some("etcd_0".into());
    req.application = "etcd".into();
    req.certificate = Some(cert(&ca, &pem, false));
    req.has_certificate = true;
    let v = entry_json(&req, &[], at(1));
    assert_keys(&v);
    assert_eq!(v["dialect"], json!("legacy"));
    assert_eq!(v["unit"], json!("etcd_0"));
    assert_eq!(v["scope"], json!("unit"));
    assert_eq!(v["state"], json!("issued"));
    assert_eq!(v["sans"][1], json!({"type": "ip", "value": "10.0.0.7"}));

    let client = ListedRequest {
        relation_id: None,
        application: "etcd,vault".into(),
        unit: None,
        kind: Some("shared-client"),
        sans: vec![San::Dns("client".into())],
        certificate: None,
        has_certificate: false,
        ..req.clone()
    };
    let e = build_entry(&client, &[], ExpiryWarning::Off, at(1));
    let v = serde_json::to_value(&e).unwrap();
    assert_eq!(v["relation-id"], Value::Null);
    assert_eq!(v["scope"], json!("app"));
    assert_eq!(v["state"], json!("outstanding"));
    assert_eq!(v["sans"], json!([{"type": "dns", "value": "client"}]));
    // application=vault finds it, relation-id=3 does not.
    let f = |p: Value| Filters::from_params(p.as_object().unwrap()).unwrap();
    assert!(f(json!({"application": "vault"})).matches(&e));
    assert!(f(json!({"application": "etcd"})).matches(&e));
    assert!(!f(json!({"application": "etc"})).matches(&e));
    assert!(!f(json!({"relation-id": 3})).matches(&e));
}

fn params(v: Value) -> Result<Filters, String> {
    Filters::from_params(v.as_object().unwrap()).map_err(|e| e.to_string())
}

#[test]
fn filters_parse_combine_and_name_valid_values() {
    let err = params(json!({"state": "foo"})).unwrap_err();
    assert_eq!(
        err,
        "state=\"foo\" is not a state; use one of issued, expiring, outstanding, denied, \
         revoked (issued also lists expiring)"
    );
    assert!(params(json!({"state": 3}))
        .unwrap_err()
        .contains("must be a string"));
    assert!(params(json!({"relation-id": "x"}))
        .unwrap_err()
        .contains("not a relation id"));
    assert_eq!(params(json!({"state": " "})).unwrap(), Filters::default());
    let f = params(json!({"state": "issued", "relation-id": 3, "application": "web"})).unwrap();
    assert_eq!(
        f.describe(),
        " matching state=issued relation-id=3 application=web"
    );

    let ca = ca();
    let pem = csr("web0.example.com", &[]);
    let mut req = modern(&pem);
    req.certificate = Some(cert(&ca, &pem, false));
    let issued = build_entry(&req, &[], ExpiryWarning::Percent(20), at(1));
    let expiring = build_entry(&req, &[], ExpiryWarning::Percent(20), at(29));
    assert_eq!(
        (issued.state, expiring.state),
        (State::Issued, State::Expiring)
    );
    let with = |s: &str| params(json!({ "state": s })).unwrap();
    assert!(with("issued").matches(&issued) && with("issued").matches(&expiring));
    assert!(!with("expiring").matches(&issued) && with("expiring").matches(&expiring));
    assert!(!with("outstanding").matches(&issued));
    assert!(f.matches(&issued));
    let other_rel = params(json!({"state": "issued", "relation-id": 4})).unwrap();
    assert!(!other_rel.matches(&issued), "AND, not OR");
    let other_app = params(json!({"state": "issued", "application": "api"})).unwrap();
    assert!(!other_app.matches(&issued));
}

#[test]
fn a_thousand_entries_are_split_like_the_other_listings() {
    let ca = ca();
    let requests: Vec<ListedRequest> = (0..1000)
        .map(|i| {
            let name = format!("host-{i:04}.example.com");
            let pem = csr(&name, &[&name, "10.9.8.7"]);
            let mut r = modern(&pem);
            if i % 2 == 0 {
                r.certificate = Some(cert(&ca, &pem, false));
            }
            r
        })
        .collect();
    let entries = build(&requests, &[], ExpiryWarning::Percent(20), at(1));
    let mut results = BTreeMap::new();
    set_results(&mut results, &entries, &Filters::default());
    assert_eq!(results["count"], "1000");
    let parts: usize = results[&parts_key(KEY)].parse().unwrap();
    assert!(parts >= 4, "{parts} parts");
    let mut all = Vec::new();
    for n in 1..=parts {
        let chunk = &results[&part_key(KEY, n)];
        assert!(
            chunk.len() <= MAX_LIST_CHUNK_BYTES,
            "part {n}: {}",
            chunk.len()
        );
        all.extend(serde_json::from_str::<Vec<Value>>(chunk).unwrap());
    }
    assert!(!results.contains_key(&part_key(KEY, parts + 1)));
    let want: Vec<Value> = entries
        .iter()
        .map(|e| serde_json::to_value(e).unwrap())
        .collect();
    assert_eq!(all, want, "the parts, in order, are the whole inventory");
    let message = &results["message"];
    assert!(
        message.starts_with("1000 certificate requests: 500 issued, 500 outstanding; "),
        "{message}"
    );
    assert!(
        message.contains(&format!("certificates-parts={parts}")),
        "{message}"
    );
    juju_hook::process::action_set_batches(&results).unwrap();
}
