//! Issue 4 acceptance: the interop cases 1-27 of the protocol reference (§5, modern dialect), plus
//! policy denials, CA-request denial, certificate-limit, CA rotation, leader change, departure and
//! idempotence, all in the simulator against the real Python requirer (charmlibs 1.12
//! `TLSCertificatesRequiresV4`, `build/charms/tls-requirer`). Raw databags from a puppet app are
//! used only where the library cannot produce the case (missing/odd `ca`, CRLF, malformed CSR,
//! non-JSON bags, critical extensions).
//!
//! "Accepted" is read from the requirer library itself: it stores a certificate in its
//! certificate secret only after matching CSR, attributes, CA flag and private key.
//! Every settle also checks every provider databag (see `common::interop::check_provider_bag`).
//!
//! Cases that only look at a settled deployment share one model (`fleet()`: one provider, six
//! requirer apps, ten requirer units); cases that change things have their own model.
//! Needs `make test-charms` (the .venv and build/charms) and `cargo build -p jujusim`.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use common::interop::*;
use jujusim::{Databag, Model, SecretView};
use openssl::asn1::Asn1Time;
use openssl::bn::{BigNum, MsbOption};
use openssl::hash::MessageDigest;
use openssl::pkey::Id;
use openssl::x509::extension::{
    AuthorityKeyIdentifier, BasicConstraints, KeyUsage, SubjectKeyIdentifier,
};
use openssl::x509::{X509Builder, X509NameBuilder, X509Req};
use serde_json::{json, Map, Value};

// ---------------------------------------------------------------------------------------------
// The shared deployment

struct Fleet {
    model: Model,
    rels: BTreeMap<&'static str, u32>,
}

/// Requirer apps of the fleet: (name, units, config).
fn fleet_apps() -> Vec<(&'static str, usize, Value)> {
    vec![
        // Case 1 and 11: three units, UNIT mode, RSA 2048, same attributes.
        ("unit3", 3, json!({"mode": "unit"})),
        // Case 2 and 10: two requests in one unit, RSA 4096.
        (
            "multi",
            1,
            json!({"mode": "unit", "key-size": 4096, "requests-per-unit": 2}),
        ),
        // Case 3: APP mode, two units.
        ("appm", 2, json!({"mode": "app"})),
        // Case 4 and 10: APP_AND_UNIT, ECDSA P-256.
        (
            "both",
            2,
            json!({"mode": "app-and-unit", "key-algorithm": "ecdsa", "common-name": "svc.example.com"}),
        ),
        // Case 6 and 10: is-ca in APP mode, ECDSA P-384.
        (
            "caapp",
            1,
            json!({"mode": "app", "key-algorithm": "ecdsa", "key-size": 384, "is-ca": true}),
        ),
        // Cases 7 and 8: every SAN kind, no CN.
        (
            "sans",
            1,
            json!({
                "mode": "unit",
                "common-name": "",
                "sans-dns": "sans.example.com,*.wild.example.com",
                "sans-ip": "10.1.2.3,2001:db8::1",
                "sans-oid": "1.3.6.1.4.1.55555.99"
            }),
        ),
    ]
}

fn build_fleet() -> Fleet {
    let mut model = new_model();
    deploy_provider(&mut model, 1, json!({"allow-ca-requests": true}));
    let mut rels = BTreeMap::new();
    for (app, units, config) in fleet_apps() {
        rels.insert(app, deploy_requirer(&mut model, app, units, config));
    }
    let started = std::time::Instant::now();
    settle(&mut model);
    assert_provider_hooks_ok(&model);
    let runs = model.hook_runs();
    let python: Vec<_> = runs
        .iter()
        .filter(|r| !r.unit.starts_with("tls-provider/"))
        .collect();
    eprintln!(
        "fleet settled in {:?}: {} hook runs, {} of them Python ({:?} total)",
        started.elapsed(),
        runs.len(),
        python.len(),
        python.iter().map(|r| r.duration).sum::<Duration>()
    );
    Fleet { model, rels }
}

/// The shared, settled deployment (built by the first test that needs it; one test at a time).
fn fleet() -> MutexGuard<'static, Fleet> {
    static FLEET: OnceLock<Mutex<Fleet>> = OnceLock::new();
    FLEET
        .get_or_init(|| Mutex::new(build_fleet()))
        .lock()
        .unwrap_or_else(|e| e.into_inner())
}

impl Fleet {
    fn rel(&self, app: &str) -> u32 {
        self.rels[app]
    }
    fn bag(&self, app: &str) -> Databag {
        provider_bag(&self.model, self.rel(app))
    }
    fn certs(&self, app: &str) -> Vec<Value> {
        certificates(&self.bag(app))
    }
}

/// A model with the provider (`prov_units`, `prov_config`) and one Python requirer `app`
/// (`units`, `config`), related and settled.
fn single(
    app: &str,
    units: usize,
    config: Value,
    prov_units: usize,
    prov_config: Value,
) -> (Model, u32) {
    let mut model = new_model();
    deploy_provider(&mut model, prov_units, prov_config);
    let rel = deploy_requirer(&mut model, app, units, config);
    settle(&mut model);
    (model, rel)
}

/// A model with the provider and a puppet requirer of `units` units.
fn puppet(units: usize, prov_config: Value) -> (Model, u32) {
    let mut model = new_model();
    deploy_provider(&mut model, 1, prov_config);
    let rel = deploy_puppet(&mut model, "crafted", units);
    settle(&mut model);
    (model, rel)
}

fn set_config(model: &mut Model, app: &str, config: Value) {
    model
        .set_config(app, obj(config))
        .unwrap_or_else(|e| panic!("config {app}: {e}"));
}

fn leader_status(model: &Model) -> (String, String) {
    status_of(model, &model.leader(PROVIDER).expect("provider leader"))
}

/// Every CSR string the requirer side of `rel` publishes (units and app).
fn requirer_side_csrs(model: &Model, rel: u32, app: &str) -> BTreeSet<String> {
    let mut out: BTreeSet<String> = requirer_csrs(model, rel, app)
        .into_iter()
        .map(|e| e.pem)
        .collect();
    for u in model.units(app) {
        out.extend(requirer_csrs(model, rel, &u).into_iter().map(|e| e.pem));
    }
    out
}

fn csr_set(entries: &[Value]) -> BTreeSet<String> {
    entries
        .iter()
        .map(|e| {
            e["certificate_signing_request"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Modern: requests

#[test]
fn case01_unit_mode_three_units_three_entries_each_accepts_only_its_own() {
    let f = fleet();
    let (m, rel) = (&f.model, f.rel("unit3"));
    let entries = f.certs("unit3");
    assert_eq!(entries.len(), 3, "one entry per unit CSR");
    assert!(
        requirer_csrs(m, rel, "unit3").is_empty(),
        "no app CSR in unit mode"
    );
    for unit in m.units("unit3") {
        let csrs = requirer_csrs(m, rel, &unit);
        assert_eq!(csrs.len(), 1, "{unit}: one CSR");
        let entry = entry_for(&entries, &csrs[0].pem).expect("entry echoing the unit's CSR");
        check_issued(entry, &csrs[0].pem, false);
        assert_accepted(m, &unit, entry);
        let stored = stored_certificates(m, &unit);
        assert_eq!(stored.len(), 1, "{unit} holds exactly its own certificate");
        assert_eq!(csr_der(&stored[0].csr), csr_der(&csrs[0].pem));
        assert_eq!(
            status_of(m, &unit),
            ("active".into(), "1/1 certificates received".into())
        );
    }
}

#[test]
fn case02_two_requests_in_one_unit_both_issued_and_accepted() {
    let f = fleet();
    let (m, rel) = (&f.model, f.rel("multi"));
    let csrs = requirer_csrs(m, rel, "multi/0");
    assert_eq!(csrs.len(), 2);
    let cns: BTreeSet<_> = csrs.iter().map(|c| c.cn().unwrap()).collect();
    assert_eq!(
        cns,
        BTreeSet::from([
            "multi.example.com".to_string(),
            "r1.multi.example.com".to_string()
        ])
    );
    let entries = f.certs("multi");
    assert_eq!(entries.len(), 2);
    for c in &csrs {
        let e = entry_for(&entries, &c.pem).expect("entry per CSR");
        check_issued(e, &c.pem, false);
        assert_accepted(m, "multi/0", e);
    }
    assert_eq!(status_of(m, "multi/0").1, "2/2 certificates received");
}

#[test]
fn case03_app_mode_issued_leader_accepts_non_leader_neither_writes_nor_receives() {
    let f = fleet();
    let (m, rel) = (&f.model, f.rel("appm"));
    let app_csrs = requirer_csrs(m, rel, "appm");
    assert_eq!(app_csrs.len(), 1, "the leader writes one app CSR");
    let entries = f.certs("appm");
    assert_eq!(entries.len(), 1);
    check_issued(&entries[0], &app_csrs[0].pem, false);
    // APP mode: the certificate secret is app-owned (library 1.11+), written by the leader.
    assert_accepted(m, "appm", &entries[0]);
    let leader = m.leader("appm").unwrap();
    for unit in m.units("appm") {
        assert!(
            requirer_csrs(m, rel, &unit).is_empty(),
            "{unit} writes no CSR"
        );
        assert!(
            stored_certificates(m, &unit).is_empty(),
            "{unit} holds nothing"
        );
        let (st, msg) = status_of(m, &unit);
        assert_eq!(st, "active", "{unit}");
        if unit == leader {
            assert_eq!(msg, "1/1 certificates received");
        } else {
            assert_eq!(
                msg,
                "0/0 certificates received (app-scope requests are handled by the leader)"
            );
        }
    }
}

#[test]
fn case04_app_and_unit_all_issued_without_confusion() {
    let f = fleet();
    let (m, rel) = (&f.model, f.rel("both"));
    let entries = f.certs("both");
    let app_csrs = requirer_csrs(m, rel, "both");
    assert_eq!(app_csrs.len(), 1);
    assert_eq!(app_csrs[0].cn().as_deref(), Some("svc.example.com"));
    assert_eq!(
        entries.len(),
        1 + m.units("both").len(),
        "app CSR + one per unit"
    );
    let app_entry = entry_for(&entries, &app_csrs[0].pem).expect("app entry");
    check_issued(app_entry, &app_csrs[0].pem, false);
    assert_accepted(m, "both", app_entry);
    assert_eq!(
        stored_certificates(m, "both").len(),
        1,
        "app scope holds only its own"
    );
    for unit in m.units("both") {
        let csrs = requirer_csrs(m, rel, &unit);
        assert_eq!(csrs.len(), 1);
        assert_eq!(
            csrs[0].cn().unwrap(),
            format!("{}.svc.example.com", unit.replace('/', "-"))
        );
        assert!(
            !csrs[0].key().public_eq(&app_csrs[0].key()),
            "distinct keys"
        );
        let e = entry_for(&entries, &csrs[0].pem).expect("unit entry");
        check_issued(e, &csrs[0].pem, false);
        assert_accepted(m, &unit, e);
        let stored = stored_certificates(m, &unit);
        assert_eq!(stored.len(), 1, "{unit} holds only its unit certificate");
        assert_eq!(csr_der(&stored[0].csr), csr_der(&csrs[0].pem));
    }
}

#[test]
fn case05_missing_null_or_string_false_ca_treated_as_false_and_issued() {
    let (mut m, rel) = puppet(3, json!({}));
    let csrs: Vec<Crafted> = (0..3)
        .map(|i| {
            craft_csr(&CraftOpts {
                cn: Some(&format!("c{i}.example.com")),
                ..Default::default()
            })
        })
        .collect();
    let entries = [
        json!([{"certificate_signing_request": csrs[0].pem}]),
        json!([{"certificate_signing_request": csrs[1].pem, "ca": null}]),
        json!([{"certificate_signing_request": csrs[2].pem, "ca": "false"}]),
    ];
    for (i, e) in entries.iter().enumerate() {
        m.set_relation_data(rel, &format!("crafted/{i}"), csr_bag(e.clone()))
            .unwrap();
    }
    settle(&mut m);
    assert_provider_hooks_ok(&m);
    let bag = provider_bag(&m, rel);
    let published = certificates(&bag);
    assert_eq!(published.len(), 3, "all three issued: {bag:?}");
    assert!(request_errors(&bag).is_empty());
    for c in &csrs {
        let e = entry_for(&published, &c.pem).expect("issued");
        let cert = check_issued(e, &c.pem, false);
        assert!(cert.public_key().unwrap().public_eq(&c.key), "v4 key match");
    }
}

#[test]
fn case06_ca_true_request_gets_ca_certificate_accepted() {
    let f = fleet();
    let (m, rel) = (&f.model, f.rel("caapp"));
    let csrs = requirer_csrs(m, rel, "caapp");
    assert_eq!(csrs.len(), 1);
    assert_eq!(csrs[0].ca, json!(true));
    let entries = f.certs("caapp");
    assert_eq!(entries.len(), 1);
    check_issued(&entries[0], &csrs[0].pem, true);
    let text = text_of("x509", entries[0]["certificate"].as_str().unwrap());
    assert!(
        text.contains("X509v3 Basic Constraints: critical") && text.contains("pathlen:0"),
        "critical BasicConstraints CA:TRUE, pathlen 0:\n{text}"
    );
    assert!(text.contains("Certificate Sign"), "keyCertSign");
    assert_accepted(m, "caapp", &entries[0]);
    assert_eq!(
        capabilities(&f.bag("caapp")).unwrap()["supports_ca_certificates"],
        json!(true)
    );
}

/// Signs `csr`'s key with a throwaway CA (not the provider's), CA flag `is_ca`: for negative
/// controls written into the provider databag by the test.
fn foreign_certificate(csr: &str, is_ca: bool) -> (String, String) {
    let req = X509Req::from_pem(csr.as_bytes()).unwrap();
    let c = craft_csr(&CraftOpts {
        cn: Some("foreign CA"),
        ..Default::default()
    });
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_text("CN", "foreign CA").unwrap();
    let name = name.build();
    let build = |subject: &openssl::x509::X509NameRef,
                 key: &openssl::pkey::PKeyRef<openssl::pkey::Public>,
                 ca: bool,
                 issuer: Option<&openssl::x509::X509Ref>| {
        let mut b = X509Builder::new().unwrap();
        b.set_version(2).unwrap();
        let mut serial = BigNum::new().unwrap();
        serial.rand(96, MsbOption::MAYBE_ZERO, false).unwrap();
        b.set_serial_number(&serial.to_asn1_integer().unwrap())
            .unwrap();
        b.set_subject_name(subject).unwrap();
        b.set_issuer_name(&name).unwrap();
        b.set_pubkey(key).unwrap();
        b.set_not_before(&Asn1Time::days_from_now(0).unwrap())
            .unwrap();
        b.set_not_after(&Asn1Time::days_from_now(30).unwrap())
            .unwrap();
        let mut bc = BasicConstraints::new();
        bc.critical();
        if ca {
            bc.ca();
        }
        b.append_extension(bc.build().unwrap()).unwrap();
        let mut ku = KeyUsage::new();
        ku.critical();
        if ca {
            ku.key_cert_sign().crl_sign();
        } else {
            ku.digital_signature();
        }
        b.append_extension(ku.build().unwrap()).unwrap();
        let ski = SubjectKeyIdentifier::new()
            .build(&b.x509v3_context(issuer, None))
            .unwrap();
        b.append_extension(ski).unwrap();
        let aki = AuthorityKeyIdentifier::new()
            .keyid(true)
            .build(&b.x509v3_context(issuer, None))
            .unwrap();
        b.append_extension(aki).unwrap();
        b.sign(&c.key, MessageDigest::sha256()).unwrap();
        b.build()
    };
    let ca_pub =
        openssl::pkey::PKey::public_key_from_pem(&c.key.public_key_to_pem().unwrap()).unwrap();
    let ca = build(&name, &ca_pub, true, None);
    let leaf = build(
        req.subject_name(),
        &req.public_key().unwrap(),
        is_ca,
        Some(&ca),
    );
    let pem = |x: &openssl::x509::X509| String::from_utf8(x.to_pem().unwrap()).unwrap();
    (pem(&leaf), pem(&ca))
}

#[test]
fn case06b_ca_requests_denied_by_default_and_ca_false_certificate_ignored() {
    let (mut m, rel) = single(
        "careq",
        1,
        json!({"mode": "app", "is-ca": true}),
        1,
        json!({}),
    );
    let csr = requirer_csrs(&m, rel, "careq").remove(0);
    assert_eq!(csr.ca, json!(true));
    // Default policy: refused with 999, advertised as unsupported, reported as denied.
    let bag = provider_bag(&m, rel);
    assert!(certificates(&bag).is_empty());
    let errors = request_errors(&bag);
    let err = error_for(&errors, &csr.pem).expect("error entry for the CA request");
    assert_eq!(err["error"]["code"], json!(999));
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("allow-ca-requests"),
        "the message says how to fix it: {err}"
    );
    assert_eq!(
        capabilities(&bag).unwrap()["supports_ca_certificates"],
        json!(false)
    );
    let (st, msg) = status_of(&m, "careq/0");
    assert_eq!(st, "blocked");
    assert!(msg.contains("1 request(s) denied: 999"), "{msg}");

    // Negative control: a CA:FALSE certificate for the ca=true request is ignored by the
    // requirer (written into the provider databag by the test).
    let (leaf, ca) = foreign_certificate(&csr.pem, false);
    let entry = json!({"ca": ca, "certificate_signing_request": csr.pem,
                       "certificate": leaf, "chain": [leaf, ca]});
    m.set_relation_data(
        rel,
        PROVIDER,
        Databag::from([(
            "certificates".to_string(),
            serde_json::to_string(&json!([entry])).unwrap(),
        )]),
    )
    .unwrap();
    settle(&mut m);
    assert!(
        stored_certificates(&m, "careq").is_empty(),
        "a CA:FALSE certificate for a CA request must be ignored"
    );
    assert_ne!(status_of(&m, "careq/0").1, "1/1 certificates received");

    // Allowed: the provider replaces the foreign entry with a CA:TRUE certificate, accepted.
    set_config(&mut m, PROVIDER, json!({"allow-ca-requests": true}));
    settle(&mut m);
    let bag = provider_bag(&m, rel);
    assert!(request_errors(&bag).is_empty());
    let published = certificates(&bag);
    assert_eq!(published.len(), 1);
    check_issued(&published[0], &csr.pem, true);
    assert_accepted(&m, "careq", &published[0]);
    assert_eq!(status_of(&m, "careq/0").1, "1/1 certificates received");
}

#[test]
fn case07_ip_v4_v6_dns_wildcard_and_oid_sans_all_copied() {
    let f = fleet();
    let (m, rel) = (&f.model, f.rel("sans"));
    let csrs = requirer_csrs(m, rel, "sans/0");
    assert_eq!(csrs.len(), 1);
    let entries = f.certs("sans");
    let e = entry_for(&entries, &csrs[0].pem).expect("issued (defaults allow IP and wildcard)");
    check_issued(e, &csrs[0].pem, false); // SAN sets equal
    let sans = sans_in_text(&text_of("x509", e["certificate"].as_str().unwrap()));
    for want in [
        "DNS:sans.example.com",
        "DNS:*.wild.example.com",
        "IP Address:10.1.2.3",
        "IP Address:2001:DB8:0:0:0:0:0:1",
        "Registered ID:1.3.6.1.4.1.55555.99",
    ] {
        assert!(sans.contains(want), "{want} missing from {sans:?}");
    }
    assert_eq!(sans.len(), 5);
    assert_accepted(m, "sans/0", e);
}

#[test]
fn case08_csr_without_common_name_is_issued() {
    let f = fleet();
    let (m, rel) = (&f.model, f.rel("sans"));
    let csr = requirer_csrs(m, rel, "sans/0").remove(0);
    assert_eq!(csr.cn(), None, "the CSR has no CN");
    let entries = f.certs("sans");
    let e = entry_for(&entries, &csr.pem).expect("issued");
    let cert = check_issued(e, &csr.pem, false);
    assert_eq!(cn_of(cert.subject_name()), None);
    assert_accepted(m, "sans/0", e);
}

#[test]
fn case09_critical_unknown_extension_refused_with_999_deterministically() {
    let (mut m, rel) = puppet(2, json!({}));
    let bad = craft_csr(&CraftOpts {
        cn: Some("crit.example.com"),
        critical_unknown: true,
        ..Default::default()
    });
    let good = craft_csr(&CraftOpts {
        cn: Some("fine.example.com"),
        ..Default::default()
    });
    request_leaf(&mut m, rel, "crafted/0", &bad.pem);
    request_leaf(&mut m, rel, "crafted/1", &good.pem);
    settle(&mut m);
    assert_provider_hooks_ok(&m);
    let bag = provider_bag(&m, rel);
    let errors = request_errors(&bag);
    let err = error_for(&errors, &bad.pem).expect("error entry for the critical extension");
    assert_eq!(err["error"]["code"], json!(999));
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("1.3.6.1.4.1.55555.7.1"),
        "the message names the extension: {err}"
    );
    let published = certificates(&bag);
    assert!(
        entry_for(&published, &bad.pem).is_none(),
        "never also issued"
    );
    check_issued(
        entry_for(&published, &good.pem).expect("sibling issued"),
        &good.pem,
        false,
    );
    // Deterministic: the same answer on every reconcile, nothing rewritten.
    let from = m.hook_runs().len();
    m.update_status(PROVIDER);
    settle(&mut m);
    assert_eq!(provider_bag(&m, rel), bag);
    assert!(relation_sets(&m.hook_runs()[from..]).is_empty());
}

#[test]
fn case10_ecdsa_p256_p384_and_rsa4096_issued_and_accepted() {
    let f = fleet();
    let m = &f.model;
    let cases = [
        ("multi", "multi/0", Id::RSA, 4096, false),
        ("both", "both/0", Id::EC, 256, false),
        ("both", "both", Id::EC, 256, false),
        ("caapp", "caapp", Id::EC, 384, true),
    ];
    for (app, owner, id, bits, is_ca) in cases {
        let rel = f.rel(app);
        let entries = f.certs(app);
        let csrs = requirer_csrs(m, rel, owner);
        assert!(!csrs.is_empty(), "{owner} has CSRs");
        for c in csrs {
            let key = c.key();
            assert_eq!((key.id(), key.bits()), (id, bits), "{owner} key");
            let e = entry_for(&entries, &c.pem).expect("issued");
            check_issued(e, &c.pem, is_ca);
            assert_accepted(m, owner, e);
        }
    }
}

#[test]
fn case11_utf8_unique_identifier_parsed_and_identical_attributes_get_distinct_certificates() {
    let f = fleet();
    let (m, rel) = (&f.model, f.rel("unit3"));
    let entries = f.certs("unit3");
    let mut serials = BTreeSet::new();
    let mut uids = BTreeSet::new();
    for unit in m.units("unit3") {
        let c = requirer_csrs(m, rel, &unit).remove(0);
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("csr.pem"), &c.pem).unwrap();
        let (ok, asn1) = openssl_cli(dir.path(), &["asn1parse", "-in", "csr.pem"]);
        assert!(ok, "{asn1}");
        let lines: Vec<&str> = asn1.lines().collect();
        let i = lines
            .iter()
            .position(|l| l.contains("x500UniqueIdentifier"))
            .expect("x500UniqueIdentifier in the subject");
        assert!(lines[i + 1].contains("UTF8STRING"), "{}", lines[i + 1]);
        uids.insert(lines[i + 1].rsplit(':').next().unwrap().to_string());
        let e = entry_for(&entries, &c.pem).expect("issued");
        let cert = check_issued(e, &c.pem, false); // subject (with the UTF8String) copied
        serials.insert(
            cert.serial_number()
                .to_bn()
                .unwrap()
                .to_hex_str()
                .unwrap()
                .to_string(),
        );
        assert_eq!(
            c.cn().as_deref(),
            Some("unit3.example.com"),
            "identical attributes"
        );
    }
    assert_eq!(uids.len(), 3, "different UUIDs");
    assert_eq!(serials.len(), 3, "three distinct certificates");
}

#[test]
fn case12_crlf_and_trailing_newline_echoed_byte_identical() {
    let (mut m, rel) = puppet(1, json!({}));
    let c = craft_csr(&CraftOpts {
        cn: Some("crlf.example.com"),
        ..Default::default()
    });
    let crlf = format!("{}\r\n", c.pem.replace('\n', "\r\n"));
    assert!(crlf.contains("\r\n") && crlf.ends_with("-----\r\n"));
    request_leaf(&mut m, rel, "crafted/0", &crlf);
    settle(&mut m);
    let published = certificates(&provider_bag(&m, rel));
    assert_eq!(published.len(), 1);
    // v2/v3 requirers: exact string equality with what they wrote.
    let e = entry_for(&published, &crlf).expect("v3-style exact match on the CRLF string");
    assert_eq!(
        e["certificate_signing_request"]
            .as_str()
            .unwrap()
            .as_bytes(),
        crlf.as_bytes()
    );
    let cert = check_issued(e, &crlf, false);
    // v4: DER equality after normalisation, and the key.
    assert_eq!(
        csr_der(e["certificate_signing_request"].as_str().unwrap()),
        csr_der(&c.pem)
    );
    assert!(cert.public_key().unwrap().public_eq(&c.key));
}

#[test]
fn case13_malformed_csr_skipped_not_echoed_others_served() {
    let (mut m, rel) = puppet(2, json!({}));
    let garbage =
        "-----BEGIN CERTIFICATE REQUEST-----\nbm90IGEgY3Ny\n-----END CERTIFICATE REQUEST-----";
    let good = craft_csr(&CraftOpts {
        cn: Some("good.example.com"),
        ..Default::default()
    });
    m.set_relation_data(
        rel,
        "crafted/0",
        csr_bag(json!([
            {"certificate_signing_request": garbage, "ca": false},
            {"certificate_signing_request": "hello", "ca": false}
        ])),
    )
    .unwrap();
    request_leaf(&mut m, rel, "crafted/1", &good.pem);
    settle(&mut m);
    assert_provider_hooks_ok(&m);
    let bag = provider_bag(&m, rel);
    let published = certificates(&bag);
    assert_eq!(published.len(), 1, "only the good CSR is issued");
    check_issued(&published[0], &good.pem, false);
    for v in bag.values() {
        assert!(!v.contains("bm90IGEgY3Ny"), "malformed CSR echoed: {v}");
    }
    let (st, msg) = leader_status(&m);
    assert_eq!(st, "active");
    assert!(
        msg.contains("issued 1") && msg.contains("rejected 2"),
        "{msg}"
    );
}

#[test]
fn case14_non_json_and_non_object_databags_skipped_others_served() {
    let (mut m, rel) = puppet(3, json!({}));
    let good = craft_csr(&CraftOpts {
        cn: Some("unit.example.com"),
        ..Default::default()
    });
    let app = craft_csr(&CraftOpts {
        cn: Some("app.example.com"),
        ..Default::default()
    });
    m.set_relation_data(rel, "crafted/0", raw_bag("{not json"))
        .unwrap();
    m.set_relation_data(rel, "crafted/1", raw_bag(r#"[1, "x", null, []]"#))
        .unwrap();
    request_leaf(&mut m, rel, "crafted/2", &good.pem);
    request_leaf(&mut m, rel, "crafted", &app.pem);
    settle(&mut m);
    assert_provider_hooks_ok(&m);
    let published = certificates(&provider_bag(&m, rel));
    assert_eq!(
        published.len(),
        2,
        "the valid unit bag and the app bag are served"
    );
    check_issued(entry_for(&published, &good.pem).unwrap(), &good.pem, false);
    check_issued(entry_for(&published, &app.pem).unwrap(), &app.pem, false);
    let msg = leader_status(&m).1;
    assert!(
        msg.contains("issued 2") && !msg.contains("rejected 0"),
        "{msg}"
    );
}

// ---------------------------------------------------------------------------------------------
// Modern: responses

#[test]
fn case15_entries_complete_leaf_first_ca_parses_v3_schema_and_library_load() {
    let f = fleet();
    let m = &f.model;
    let mut bags = Vec::new();
    for app in f.rels.keys() {
        let bag = f.bag(app);
        check_provider_bag(&bag); // 4 fields, chain[0] == certificate, PEMs, v3 types
        assert!(
            bag.contains_key("certificates"),
            "v3 schema: certificates required ({app})"
        );
        for e in certificates(&bag) {
            let ca = entry_ca(&e);
            assert!(
                text_of("x509", e["ca"].as_str().unwrap()).contains("CA:TRUE"),
                "ca is a CA certificate"
            );
            assert_eq!(
                ca.subject_name().to_der().unwrap(),
                ca.issuer_name().to_der().unwrap()
            );
        }
        bags.push(bag);
    }
    // The requirer library's own model loads every bag and converts every entry.
    let views = library_view(&bags);
    for (bag, view) in bags.iter().zip(&views) {
        assert_eq!(view["certificates"], json!(certificates(bag).len()));
    }
    let _ = m;
}

#[test]
fn case16_certificate_matches_csr_and_no_safety_net_renewal_through_two_reconciles() {
    let mut f = fleet();
    let apps: Vec<&str> = f.rels.keys().copied().collect();
    for app in &apps {
        let rel = f.rel(app);
        let entries = f.certs(app);
        let mut owners = vec![app.to_string()];
        owners.extend(f.model.units(app));
        for o in owners {
            for c in requirer_csrs(&f.model, rel, &o) {
                let e = entry_for(&entries, &c.pem).expect("issued");
                check_issued(e, &c.pem, c.ca == json!(true));
            }
        }
    }
    let before_req: Vec<_> = apps
        .iter()
        .map(|a| requirer_side_csrs(&f.model, f.rel(a), a))
        .collect();
    let before = all_bags(&f.model);
    for _ in 0..2 {
        for app in &apps {
            f.model.update_status(app);
        }
        settle(&mut f.model);
    }
    let after_req: Vec<_> = apps
        .iter()
        .map(|a| requirer_side_csrs(&f.model, f.rel(a), a))
        .collect();
    assert_eq!(
        before_req, after_req,
        "no requirer renewed a fresh certificate"
    );
    assert_eq!(before, all_bags(&f.model), "nothing changed");
}

#[test]
fn case17_never_null_never_bad_pem_never_malformed_capabilities() {
    // Hostile input next to good input; the provider's databag must stay loadable by the
    // requirer library (one bad value would break every requirer on the relation).
    let (mut m, rel) = puppet(3, json!({}));
    let good = craft_csr(&CraftOpts {
        cn: Some("ok.example.com"),
        ..Default::default()
    });
    m.set_relation_data(
        rel,
        "crafted/0",
        raw_bag(&format!(
            r#"[{{"certificate_signing_request": "", "ca": false}}, {{"certificate_signing_request": null}}, {{"certificate_signing_request": "{}", "ca": 7}}]"#,
            "x".repeat(100_000)
        )),
    )
    .unwrap();
    m.set_relation_data(rel, "crafted/1", raw_bag("null"))
        .unwrap();
    request_leaf(&mut m, rel, "crafted/2", &good.pem);
    settle(&mut m);
    assert_provider_hooks_ok(&m);
    let bag = provider_bag(&m, rel);
    check_provider_bag(&bag);
    for (k, v) in &bag {
        assert_ne!(v.trim(), "null", "{k} is null");
        assert!(!v.contains("xxxxxxxx"), "hostile value echoed in {k}");
    }
    let view = library_view(std::slice::from_ref(&bag)).remove(0);
    assert_eq!(view["certificates"], json!(1));
    assert!(view["capabilities"].is_object());
    check_issued(&certificates(&bag)[0], &good.pem, false);
}

#[test]
fn case18_refusal_is_denied_with_code_and_sibling_still_accepted() {
    let (m, rel) = single(
        "req",
        2,
        json!({"common-name": "{unit}.example.com"}),
        1,
        json!({"allowed-domains": "req-0.example.com"}),
    );
    let ok = requirer_csrs(&m, rel, "req/0").remove(0);
    let denied = requirer_csrs(&m, rel, "req/1").remove(0);
    assert_eq!(denied.cn().as_deref(), Some("req-1.example.com"));
    let bag = provider_bag(&m, rel);
    let errors = request_errors(&bag);
    assert_eq!(errors.len(), 1);
    let err = error_for(&errors, &denied.pem).expect("error keyed by the exact CSR");
    assert_eq!(err["error"]["code"], json!(102));
    assert!(err["error"]["name"].is_string());
    assert!(err["error"]["message"]
        .as_str()
        .unwrap()
        .contains("allowed-domains"));
    let published = certificates(&bag);
    assert!(
        entry_for(&published, &denied.pem).is_none(),
        "refused CSR not issued"
    );
    let (st, msg) = status_of(&m, "req/1");
    assert_eq!(st, "blocked");
    assert!(msg.starts_with("1 request(s) denied: 102"), "{msg}");
    assert!(stored_certificates(&m, "req/1").is_empty());
    // The sibling in the same provider databag is accepted.
    let e = entry_for(&published, &ok.pem).expect("sibling issued");
    check_issued(e, &ok.pem, false);
    assert_accepted(&m, "req/0", e);
    assert_eq!(status_of(&m, "req/0").1, "1/1 certificates received");
    let view = library_view(&[bag]).remove(0);
    assert_eq!(view["errors"][0]["code"], json!(102));
}

#[test]
fn case19_error_then_success_and_success_then_error() {
    let (mut m, rel) = puppet(1, json!({"allowed-domains": "other.org"}));
    let c = craft_csr(&CraftOpts {
        cn: Some("a.example.com"),
        dns: &["a.example.com"],
        ..Default::default()
    });
    request_leaf(&mut m, rel, "crafted/0", &c.pem);
    settle(&mut m);
    let bag = provider_bag(&m, rel);
    assert!(certificates(&bag).is_empty());
    assert_eq!(request_errors(&bag)[0]["error"]["code"], json!(102));

    set_config(&mut m, PROVIDER, json!({"allowed-domains": "example.com"}));
    settle(&mut m);
    let bag = provider_bag(&m, rel);
    assert!(!bag.contains_key("request_errors"), "error removed");
    check_issued(&certificates(&bag)[0], &c.pem, false);

    set_config(&mut m, PROVIDER, json!({"allowed-domains": "other.org"}));
    settle(&mut m);
    let bag = provider_bag(&m, rel);
    assert!(!bag.contains_key("certificates"), "certificate removed");
    let errors = request_errors(&bag);
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0]["csr"].as_str(), Some(c.pem.as_str()));
    assert_eq!(errors[0]["error"]["code"], json!(102));
}

#[test]
fn case20_capabilities_advertised_follow_policy_and_delivery_unaffected() {
    let (mut m, rel) = puppet(1, json!({}));
    let c = craft_csr(&CraftOpts {
        cn: Some("caps.example.com"),
        ..Default::default()
    });
    request_leaf(&mut m, rel, "crafted/0", &c.pem);
    settle(&mut m);
    let bag = provider_bag(&m, rel);
    let view = library_view(std::slice::from_ref(&bag)).remove(0);
    assert_eq!(
        view["capabilities"],
        json!({"supports_ip_sans": true, "supports_wildcard_dns": true,
               "supports_subdomain": null, "supports_ca_certificates": false,
               "allowed_domains": null, "provider_type": "self-signed"})
    );
    assert_eq!(view["certificates"], json!(1));

    set_config(
        &mut m,
        PROVIDER,
        json!({"allowed-domains": "example.com,lan", "allow-ip-sans": false,
               "allow-wildcard-dns": false, "allow-ca-requests": true}),
    );
    settle(&mut m);
    let bag2 = provider_bag(&m, rel);
    let view = library_view(std::slice::from_ref(&bag2)).remove(0);
    assert_eq!(
        view["capabilities"],
        json!({"supports_ip_sans": false, "supports_wildcard_dns": false,
               "supports_subdomain": null, "supports_ca_certificates": true,
               "allowed_domains": ["example.com", "lan"], "provider_type": "self-signed"})
    );
    assert_eq!(view["certificates"], json!(1), "delivery unaffected");
    assert_eq!(
        bag2.get("certificates"),
        bag.get("certificates"),
        "certificate kept"
    );
}

// ---------------------------------------------------------------------------------------------
// Modern: lifecycle

#[test]
fn case21_requirer_changes_cn_old_entry_removed_new_issued() {
    let (mut m, rel) = single("chg", 1, json!({}), 1, json!({}));
    let old = requirer_csrs(&m, rel, "chg/0").remove(0);
    assert!(entry_for(&certificates(&provider_bag(&m, rel)), &old.pem).is_some());
    set_config(&mut m, "chg", json!({"common-name": "renamed.example.com"}));
    settle(&mut m);
    let csrs = requirer_csrs(&m, rel, "chg/0");
    assert_eq!(csrs.len(), 1);
    let new = &csrs[0];
    assert_eq!(new.cn().as_deref(), Some("renamed.example.com"));
    let published = certificates(&provider_bag(&m, rel));
    assert_eq!(published.len(), 1, "old entry removed");
    assert!(entry_for(&published, &old.pem).is_none());
    let e = entry_for(&published, &new.pem).expect("new CSR issued");
    check_issued(e, &new.pem, false);
    assert_accepted(&m, "chg/0", e);
    assert_eq!(status_of(&m, "chg/0").1, "1/1 certificates received");
}

#[test]
fn case22_renewal_on_secret_expiry_new_csr_same_key_issued_old_entry_gone() {
    let (mut m, rel) = single("ren", 1, json!({}), 1, json!({}));
    let old = requirer_csrs(&m, rel, "ren/0").remove(0);
    let stored = stored_certificates(&m, "ren/0");
    assert_eq!(stored.len(), 1);
    let expire = stored[0]
        .expire
        .expect("the certificate secret has an expiry");
    let by = expire.duration_since(m.now()).unwrap_or_default() + Duration::from_secs(60);
    m.advance_clock(by);
    settle(&mut m);
    let csrs = requirer_csrs(&m, rel, "ren/0");
    assert_eq!(csrs.len(), 1);
    let new = &csrs[0];
    assert_ne!(new.pem, old.pem, "the requirer renewed");
    assert!(new.key().public_eq(&old.key()), "same key");
    assert_eq!(new.cn(), old.cn());
    let published = certificates(&provider_bag(&m, rel));
    assert_eq!(published.len(), 1, "old entry gone");
    let e = entry_for(&published, &new.pem).expect("new CSR issued");
    check_issued(e, &new.pem, false);
    assert_accepted(&m, "ren/0", e);
    let stored = stored_certificates(&m, "ren/0");
    assert_eq!(stored.len(), 1, "the requirer holds the new secret only");
    assert!(
        stored[0]
            .label
            .starts_with(&format!("{LIBID}-certificate-0-certificates-")),
        "a new unit-scope certificate secret: {}",
        stored[0].label
    );
    assert_eq!(csr_der(&stored[0].csr), csr_der(&new.pem));
}

/// The provider's CA secret (label `tls-provider-ca`).
fn ca_secret_view(model: &Model) -> SecretView {
    model
        .secrets()
        .into_iter()
        .find(|s| s.label.as_deref() == Some("tls-provider-ca"))
        .expect("CA secret")
}

/// The provider's CA secret content (latest revision).
fn ca_secret(model: &Model) -> Databag {
    let s = ca_secret_view(model);
    assert_eq!(s.owner, PROVIDER, "the CA secret is application-owned");
    s.revisions.last().cloned().unwrap()
}

/// Every entry of `rel` answers the requirer's current CSRs under `ca_pem`, and each owner
/// accepted its certificate.
fn assert_all_under(model: &Model, rel: u32, app: &str, ca_pem: &str) {
    let published = certificates(&provider_bag(model, rel));
    let mut owners = vec![app.to_string()];
    owners.extend(model.units(app));
    let mut n = 0;
    for o in owners {
        for c in requirer_csrs(model, rel, &o) {
            let e = entry_for(&published, &c.pem).expect("issued");
            assert_eq!(der(e["ca"].as_str().unwrap()), der(ca_pem), "ca updated");
            assert_eq!(
                der(e["chain"]
                    .as_array()
                    .unwrap()
                    .last()
                    .unwrap()
                    .as_str()
                    .unwrap()),
                der(ca_pem),
                "chain updated"
            );
            check_issued(e, &c.pem, false);
            assert_accepted(model, &o, e);
            n += 1;
        }
    }
    assert_eq!(published.len(), n, "no stale entries");
}

#[test]
fn case23_ca_rotation_by_config_reissues_same_csrs_under_new_ca() {
    let (mut m, rel) = single(
        "rot",
        1,
        json!({"mode": "app-and-unit", "common-name": "rot.example.com"}),
        1,
        json!({}),
    );
    let before_csrs = requirer_side_csrs(&m, rel, "rot");
    assert_eq!(before_csrs.len(), 2);
    let before = certificates(&provider_bag(&m, rel));
    let old_ca = before[0]["ca"].as_str().unwrap().to_string();
    assert_all_under(&m, rel, "rot", &old_ca);

    let secrets_before = requirer_certificate_secrets(&m);
    assert_eq!(secrets_before.len(), 2);

    set_config(&mut m, PROVIDER, json!({"ca-common-name": "Rotated CA"}));
    settle(&mut m);
    assert_eq!(requirer_side_csrs(&m, rel, "rot"), before_csrs, "same CSRs");
    // No window without a certificate: the requirer updated its certificate secrets in place
    // (same secrets, new revision) instead of deleting them on a revocation first.
    let secrets_after = requirer_certificate_secrets(&m);
    assert_eq!(
        secrets_after.keys().collect::<Vec<_>>(),
        secrets_before.keys().collect::<Vec<_>>(),
        "same certificate secrets"
    );
    for (id, revs) in &secrets_after {
        assert!(*revs > secrets_before[id], "secret {id} got a new revision");
    }
    let after = certificates(&provider_bag(&m, rel));
    let new_ca = after[0]["ca"].as_str().unwrap().to_string();
    assert_ne!(der(&new_ca), der(&old_ca), "new CA");
    assert_eq!(
        cn_of(parse_cert(&new_ca).subject_name()).as_deref(),
        Some("Rotated CA")
    );
    assert_all_under(&m, rel, "rot", &new_ca);
    for e in &after {
        assert!(
            before.iter().all(|b| b["certificate"] != e["certificate"]),
            "reissued"
        );
        assert_ne!(e["revoked"], json!(true));
    }
    let secret = ca_secret(&m);
    assert_eq!(der(&secret["ca-certificate"]), der(&new_ca));
    assert_eq!(
        der(&secret["previous-ca-certificate"]),
        der(&old_ca),
        "previous CA certificate kept"
    );
    assert_eq!(status_of(&m, "rot/0").1, "2/2 certificates received");

    // A change of CA key algorithm: another new CA (EC P-384), everything reissued again.
    set_config(&mut m, PROVIDER, json!({"ca-key-algorithm": "ecdsa-p384"}));
    settle(&mut m);
    let ec_ca = certificates(&provider_bag(&m, rel))[0]["ca"]
        .as_str()
        .unwrap()
        .to_string();
    let key = parse_cert(&ec_ca).public_key().unwrap();
    assert_eq!((key.id(), key.bits()), (Id::EC, 384));
    assert_all_under(&m, rel, "rot", &ec_ca);
    assert_eq!(der(&ca_secret(&m)["previous-ca-certificate"]), der(&new_ca));
    assert_eq!(status_of(&m, "rot/0").1, "2/2 certificates received");
}

/// Requirer-owned certificate secrets of the model: id -> number of revisions.
fn requirer_certificate_secrets(model: &Model) -> BTreeMap<String, usize> {
    secrets_labelled(model, &format!("{LIBID}-certificate"))
        .into_iter()
        .map(|s| (s.id, s.revisions.len()))
        .collect()
}

#[test]
fn ca_rotation_by_action_and_near_expiry_via_secret_expired() {
    let (mut m, rel) = single("rot2", 1, json!({}), 2, json!({}));
    let leader = m.leader(PROVIDER).unwrap();
    let other = m
        .units(PROVIDER)
        .into_iter()
        .find(|u| *u != leader)
        .unwrap();
    let ca0 = certificates(&provider_bag(&m, rel))[0]["ca"]
        .as_str()
        .unwrap()
        .to_string();

    // On a non-leader the action fails and says where to run it.
    let r = m
        .run_action(&other, "rotate-private-key", Map::new())
        .unwrap();
    assert_eq!(r.status, "failed");
    assert!(r.message.contains("leader"), "{}", r.message);

    // rotate-private-key on the leader.
    let csr = requirer_csrs(&m, rel, "rot2/0").remove(0);
    let r = m
        .run_action(&leader, "rotate-private-key", Map::new())
        .unwrap();
    assert_eq!(r.status, "completed", "{r:?}");
    assert_eq!(r.results["reissued"], json!("1"));
    let text = serde_json::to_string(&r.results).unwrap();
    assert!(!text.contains("PRIVATE KEY"), "no key in action output");
    settle(&mut m);
    let ca1 = certificates(&provider_bag(&m, rel))[0]["ca"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(der(&ca1), der(&ca0));
    assert_eq!(
        der(r.results["ca-certificate"].as_str().unwrap()),
        der(&ca1)
    );
    assert_eq!(requirer_csrs(&m, rel, "rot2/0")[0].pem, csr.pem, "same CSR");
    assert_all_under(&m, rel, "rot2", &ca1);
    assert_eq!(der(&ca_secret(&m)["previous-ca-certificate"]), der(&ca0));

    // Near expiry: the CA secret expires at notAfter - certificate-validity.
    let s = ca_secret_view(&m);
    let expire = s.expire.expect("the CA secret has an expiry");
    let ca1_cert = parse_cert(&ca1);
    let not_after = to_system(ca1_cert.not_after());
    let gap = not_after.duration_since(expire).unwrap().as_secs();
    assert!(
        gap.abs_diff(90 * 86_400) < 120,
        "expiry = notAfter - certificate-validity (90d), got {gap}s"
    );
    let by = expire.duration_since(m.now()).unwrap_or_default() + Duration::from_secs(60);
    m.advance_clock(by);
    settle(&mut m);
    assert!(
        m.logs(&leader)
            .iter()
            .any(|l| l.contains("new CA (the CA secret expired")),
        "rotation logged with its reason"
    );
    let ca2 = certificates(&provider_bag(&m, rel))[0]["ca"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(der(&ca2), der(&ca1));
    assert_all_under(&m, rel, "rot2", &ca2);
    assert_eq!(der(&ca_secret(&m)["previous-ca-certificate"]), der(&ca1));
    assert_provider_hooks_ok(&m);
}

#[test]
fn case24_unit_departure_and_relation_removal_leave_nothing_behind() {
    let mut m = new_model();
    deploy_provider(&mut m, 1, json!({}));
    let rel = deploy_requirer(&mut m, "dep", 2, json!({}));
    let other = deploy_puppet(&mut m, "keep", 1);
    let kc = craft_csr(&CraftOpts {
        cn: Some("keep.example.com"),
        ..Default::default()
    });
    request_leaf(&mut m, other, "keep/0", &kc.pem);
    settle(&mut m);
    let keep_bag = provider_bag(&m, other);
    assert_eq!(certificates(&keep_bag).len(), 1);
    let gone = requirer_csrs(&m, rel, "dep/1").remove(0);
    let stay = requirer_csrs(&m, rel, "dep/0").remove(0);
    let before = certificates(&provider_bag(&m, rel));
    assert_eq!(before.len(), 2);

    m.remove_unit("dep/1").unwrap();
    settle(&mut m);
    let after = certificates(&provider_bag(&m, rel));
    assert_eq!(after.len(), 1, "the departed unit's entry is removed");
    assert!(entry_for(&after, &gone.pem).is_none());
    assert_eq!(
        entry_for(&after, &stay.pem),
        entry_for(&before, &stay.pem),
        "the remaining unit's entry is untouched"
    );

    m.unrelate(rel).unwrap();
    settle(&mut m);
    assert!(!provider_relations(&m).contains(&rel));
    assert!(provider_bag(&m, rel).is_empty());
    assert_eq!(
        provider_bag(&m, other),
        keep_bag,
        "other relation untouched"
    );
    let leader = m.leader(PROVIDER).unwrap();
    let r = m
        .run_action(&leader, "get-issued-certificates", Map::new())
        .unwrap();
    assert_eq!(r.status, "completed");
    assert_eq!(r.results["count"], json!("1"), "{r:?}");
    let listed: Value = serde_json::from_str(r.results["certificates"].as_str().unwrap()).unwrap();
    assert!(
        !serde_json::to_string(&listed).unwrap().contains("dep"),
        "nothing listed for the removed relation: {listed}"
    );
    let msg = leader_status(&m).1;
    assert!(
        msg.contains("issued 1") && msg.contains("across 1 relation"),
        "{msg}"
    );
    // The requirer library cleaned its secrets up on relation-broken.
    assert!(stored_certificates(&m, "dep/0").is_empty());
    assert_provider_hooks_ok(&m);
}

#[test]
fn case25_leader_change_continues_without_duplicates_or_reissue() {
    let (mut m, rel) = single("ldr", 1, json!({}), 2, json!({}));
    let old_leader = m.leader(PROVIDER).unwrap();
    let new_leader = m
        .units(PROVIDER)
        .into_iter()
        .find(|u| *u != old_leader)
        .unwrap();
    let writes = provider_relation_sets(m.hook_runs());
    assert!(!writes.is_empty(), "the leader wrote");
    assert!(
        writes.iter().all(|(u, _, _)| *u != new_leader),
        "a non-leader never writes: {writes:?}"
    );
    assert_eq!(
        status_of(&m, &new_leader),
        (
            "active".into(),
            "standby: the leader issues certificates".into()
        )
    );
    let bag = provider_bag(&m, rel);
    assert_eq!(certificates(&bag).len(), 1);

    let from = m.hook_runs().len();
    let switched = from;
    m.set_leader(&new_leader).unwrap();
    m.update_status(PROVIDER);
    settle(&mut m);
    assert_eq!(provider_bag(&m, rel), bag, "no duplicate, no reissue");
    assert!(
        provider_relation_sets(&m.hook_runs()[from..]).is_empty(),
        "nothing to write after the leader change"
    );
    assert!(m.hook_runs()[from..]
        .iter()
        .any(|r| r.unit == new_leader && r.hook == "leader-elected"));

    // A new request is served by the new leader under the same CA; the old one stays quiet.
    let from = m.hook_runs().len();
    set_config(&mut m, "ldr", json!({"requests-per-unit": 2}));
    settle(&mut m);
    let published = certificates(&provider_bag(&m, rel));
    assert_eq!(published.len(), 2);
    let ca = certificates(&bag)[0]["ca"].clone();
    assert!(
        published.iter().all(|e| e["ca"] == ca),
        "continues from the CA secret"
    );
    let writes = provider_relation_sets(&m.hook_runs()[from..]);
    assert!(!writes.is_empty());
    assert!(
        writes.iter().all(|(u, _, _)| *u == new_leader),
        "only the new leader writes: {writes:?}"
    );
    assert_eq!(status_of(&m, "ldr/0").1, "2/2 certificates received");
    // Over the whole run, no unit wrote anything while it was not the leader.
    for (i, r) in m.hook_runs().iter().enumerate() {
        let leader_then = if i < switched {
            &old_leader
        } else {
            &new_leader
        };
        if r.unit.starts_with("tls-provider/") && r.unit != *leader_then {
            assert!(
                r.tool_calls.iter().all(|c| !matches!(
                    c.tool.as_str(),
                    "relation-set" | "secret-add" | "secret-set"
                )),
                "non-leader {} wrote in {}",
                r.unit,
                r.hook
            );
        }
    }
    assert_eq!(
        status_of(&m, &old_leader),
        (
            "active".into(),
            "standby: the leader issues certificates".into()
        )
    );

    // The leader unit is removed: the remaining unit is elected and continues as is.
    let bag = provider_bag(&m, rel);
    let from = m.hook_runs().len();
    m.remove_unit(&new_leader).unwrap();
    settle(&mut m);
    assert_eq!(m.leader(PROVIDER).as_deref(), Some(old_leader.as_str()));
    assert_eq!(provider_bag(&m, rel), bag, "nothing reissued or duplicated");
    assert!(provider_relation_sets(&m.hook_runs()[from..]).is_empty());
    let (st, msg) = status_of(&m, &old_leader);
    assert_eq!(st, "active");
    assert!(msg.starts_with("issued 2"), "{msg}");
    assert_eq!(status_of(&m, "ldr/0").1, "2/2 certificates received");

    // The leader that did not create the CA secret can still rotate it (found by its label).
    let r = m
        .run_action(&old_leader, "rotate-private-key", Map::new())
        .unwrap();
    assert_eq!(r.status, "completed", "{r:?}");
    assert_eq!(r.results["reissued"], json!("2"));
    settle(&mut m);
    let new_ca = r.results["ca-certificate"].as_str().unwrap().to_string();
    assert_ne!(der(&new_ca), der(ca.as_str().unwrap()));
    assert_all_under(&m, rel, "ldr", &new_ca);
    assert_eq!(status_of(&m, "ldr/0").1, "2/2 certificates received");
}

#[test]
fn case26_idempotence_update_status_and_config_changed_write_nothing() {
    let mut f = fleet();
    let before = all_bags(&f.model);
    let from = f.model.hook_runs().len();
    f.model.update_status(PROVIDER);
    settle(&mut f.model);
    for u in f.model.units(PROVIDER) {
        f.model.queue_hook(&u, "config-changed");
        f.model.queue_hook(&u, "upgrade-charm");
    }
    f.model.update_status(PROVIDER);
    settle(&mut f.model);
    let runs = &f.model.hook_runs()[from..];
    assert!(runs.len() >= 3, "the hooks ran");
    assert!(
        relation_sets(runs).is_empty(),
        "no relation-set: {:?}",
        relation_sets(runs)
    );
    assert!(
        runs.iter().all(|r| !r.unit.starts_with("tls-provider/")
            || r.tool_calls
                .iter()
                .all(|c| c.tool != "secret-set" && c.tool != "secret-add")),
        "the CA is not touched"
    );
    assert_eq!(before, all_bags(&f.model), "every databag byte-identical");
}

#[test]
fn case27_multiple_requirer_apps_each_relation_holds_only_its_own() {
    let f = fleet();
    let m = &f.model;
    let mut all = BTreeSet::new();
    let mut cas = BTreeSet::new();
    for (app, rel) in &f.rels {
        let published = certificates(&f.bag(app));
        let mine = requirer_side_csrs(m, *rel, app);
        assert!(!mine.is_empty());
        // Every published entry answers a CSR of this relation's requirer, and vice versa.
        assert_eq!(csr_set(&published), mine, "{app}");
        for c in &mine {
            assert!(all.insert(c.clone()), "a CSR appears on two relations");
        }
        for e in &published {
            cas.insert(der(e["ca"].as_str().unwrap()));
        }
    }
    assert_eq!(cas.len(), 1, "one CA for every relation");
    assert_eq!(f.rels.len(), 6);
}

// ---------------------------------------------------------------------------------------------
// Policy

#[test]
fn policy_denials_ip_wildcard_domain_reported_by_the_requirer() {
    let (mut m, rel) = single(
        "pol",
        1,
        json!({"common-name": "pol.example.com", "sans-dns": "pol.example.com,*.pol.example.com",
               "sans-ip": "10.9.8.7"}),
        1,
        json!({}),
    );
    let csr = requirer_csrs(&m, rel, "pol/0").remove(0);
    check_issued(&certificates(&provider_bag(&m, rel))[0], &csr.pem, false);
    let steps = [
        (json!({"allow-ip-sans": false}), 101, "supports_ip_sans"),
        (
            json!({"allow-ip-sans": null, "allow-wildcard-dns": false}),
            103,
            "supports_wildcard_dns",
        ),
        (
            json!({"allow-wildcard-dns": null, "allowed-domains": "example.org"}),
            102,
            "allowed_domains",
        ),
    ];
    for (config, code, cap) in steps {
        set_config(&mut m, PROVIDER, config);
        settle(&mut m);
        let bag = provider_bag(&m, rel);
        assert!(!bag.contains_key("certificates"), "code {code}: not issued");
        let errors = request_errors(&bag);
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0]["csr"].as_str(), Some(csr.pem.as_str()));
        assert_eq!(errors[0]["error"]["code"], json!(code));
        let caps = capabilities(&bag).unwrap();
        if cap == "allowed_domains" {
            assert_eq!(caps[cap], json!(["example.org"]));
        } else {
            assert_eq!(caps[cap], json!(false));
        }
        let (st, msg) = status_of(&m, "pol/0");
        assert_eq!(st, "blocked");
        assert!(
            msg.starts_with(&format!("1 request(s) denied: {code} ")),
            "requirer reports {code}: {msg}"
        );
    }
    set_config(&mut m, PROVIDER, json!({"allowed-domains": null}));
    settle(&mut m);
    let published = certificates(&provider_bag(&m, rel));
    let e = entry_for(&published, &csr.pem).expect("issued again");
    check_issued(e, &csr.pem, false);
    assert_accepted(&m, "pol/0", e);
    assert_eq!(
        status_of(&m, "pol/0"),
        ("active".into(), "1/1 certificates received".into())
    );
}

#[test]
fn certificate_limit_per_relation_refuses_extra_requests_with_999() {
    let mut m = new_model();
    deploy_provider(&mut m, 1, json!({"certificate-limit": 2}));
    let rel = deploy_puppet(&mut m, "crafted", 1);
    let rel2 = deploy_puppet(&mut m, "second", 1);
    let csrs: Vec<Crafted> = (0..3)
        .map(|i| {
            craft_csr(&CraftOpts {
                cn: Some(&format!("l{i}.example.com")),
                ..Default::default()
            })
        })
        .collect();
    let entries: Vec<Value> = csrs
        .iter()
        .map(|c| json!({"certificate_signing_request": c.pem, "ca": false}))
        .collect();
    m.set_relation_data(rel, "crafted/0", csr_bag(json!(entries)))
        .unwrap();
    m.set_relation_data(rel2, "second/0", csr_bag(json!(entries[..2])))
        .unwrap();
    settle(&mut m);
    let bag = provider_bag(&m, rel);
    assert_eq!(certificates(&bag).len(), 2, "limit 2");
    let errors = request_errors(&bag);
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0]["error"]["code"], json!(999));
    assert!(errors[0]["error"]["message"]
        .as_str()
        .unwrap()
        .contains("certificate-limit"));
    assert_eq!(
        certificates(&provider_bag(&m, rel2)).len(),
        2,
        "per relation"
    );
    let issued_before = bag["certificates"].clone();

    set_config(&mut m, PROVIDER, json!({"certificate-limit": 0}));
    settle(&mut m);
    let bag = provider_bag(&m, rel);
    assert!(!bag.contains_key("request_errors"));
    let published = certificates(&bag);
    assert_eq!(published.len(), 3);
    for c in &csrs {
        check_issued(entry_for(&published, &c.pem).unwrap(), &c.pem, false);
    }
    // The two already issued were kept, not reissued.
    for e in certificates(&Databag::from([("certificates".into(), issued_before)])) {
        assert!(published.contains(&e));
    }
}

// ---------------------------------------------------------------------------------------------
// The checks themselves

fn fails(f: impl FnOnce()) -> bool {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).is_err()
}

/// The checks used above reject wrong answers (so the tests built on them can fail).
#[test]
fn checks_reject_wrong_provider_answers() {
    let (mut m, rel) = puppet(1, json!({}));
    let c = craft_csr(&CraftOpts {
        cn: Some("self.example.com"),
        dns: &["self.example.com"],
        ..Default::default()
    });
    let other = craft_csr(&CraftOpts {
        cn: Some("self.example.com"),
        dns: &["self.example.com"],
        ..Default::default()
    });
    request_leaf(&mut m, rel, "crafted/0", &c.pem);
    settle(&mut m);
    let bag = provider_bag(&m, rel);
    let entry = certificates(&bag).remove(0);
    check_issued(&entry, &c.pem, false);

    // Wrong CSR echo, wrong key, wrong CA flag.
    assert!(fails(|| {
        check_issued(&entry, &other.pem, false);
    }));
    let mut swapped = entry.clone();
    swapped["certificate_signing_request"] = json!(other.pem);
    assert!(fails(|| {
        check_issued(&swapped, &other.pem, false);
    }));
    assert!(fails(|| {
        check_issued(&entry, &c.pem, true);
    }));
    // A certificate from another CA does not verify against the published one.
    let (foreign, foreign_ca) = foreign_certificate(&c.pem, false);
    assert!(fails(|| openssl_verify(
        entry["ca"].as_str().unwrap(),
        &foreign
    )));
    let mut wrong_ca = entry.clone();
    wrong_ca["ca"] = json!(foreign_ca);
    assert!(fails(|| {
        check_issued(&wrong_ca, &c.pem, false);
    }));
    // Bag invariants: null, reversed chain, wrong error key, garbage PEM, empty list.
    let with = |k: &str, v: String| {
        let mut b = bag.clone();
        b.insert(k.to_string(), v);
        b
    };
    let mut reversed = entry.clone();
    let mut chain = reversed["chain"].as_array().unwrap().clone();
    chain.reverse();
    reversed["chain"] = json!(chain);
    let mut garbage = entry.clone();
    garbage["ca"] = json!("garbage");
    let bad_bags = [
        with("certificates", "null".into()),
        with("request_errors", "[]".into()),
        with("certificates", json!([reversed]).to_string()),
        with("certificates", json!([garbage]).to_string()),
        with("certificates", json!([entry, entry]).to_string()),
        with(
            "request_errors",
            json!([{"certificate_signing_request": other.pem,
                    "error": {"code": 102, "name": "DOMAIN_NOT_ALLOWED", "message": "no"}}])
            .to_string(),
        ),
        with(
            "capabilities",
            json!({"supports_ip_sans": "yes"}).to_string(),
        ),
    ];
    for b in &bad_bags {
        assert!(fails(|| check_provider_bag(b)), "accepted: {b:?}");
    }
    // The requirer library rejects a databag with a null list or a bad PEM.
    assert!(fails(|| {
        library_view(&[with("request_errors", "null".into())]);
    }));
    assert!(fails(|| {
        library_view(&[bad_bags[3].clone()]);
    }));
    // Nothing was accepted by a requirer that holds no secret.
    assert!(accepted(&m, "crafted/0", &c.pem).is_none());
}

#[test]
fn invalid_config_blocks_naming_options_and_keeps_published_data() {
    let (mut m, rel) = puppet(1, json!({}));
    let c = craft_csr(&CraftOpts {
        cn: Some("cfg.example.com"),
        ..Default::default()
    });
    request_leaf(&mut m, rel, "crafted/0", &c.pem);
    settle(&mut m);
    let bag = provider_bag(&m, rel);
    check_issued(&certificates(&bag)[0], &c.pem, false);
    let ca_before = ca_secret(&m);

    let from = m.hook_runs().len();
    set_config(
        &mut m,
        PROVIDER,
        json!({"certificate-validity": "0d", "ca-key-algorithm": "dsa-1024"}),
    );
    settle(&mut m);
    let (st, msg) = leader_status(&m);
    assert_eq!(st, "blocked");
    for option in ["certificate-validity", "ca-key-algorithm"] {
        assert!(msg.contains(option), "status names {option}: {msg}");
    }
    assert_eq!(
        provider_bag(&m, rel),
        bag,
        "published data kept while blocked"
    );
    assert!(provider_relation_sets(&m.hook_runs()[from..]).is_empty());
    assert_eq!(ca_secret(&m), ca_before, "the CA is not touched");

    // Fixed, with a shorter certificate validity: the CA stays; its rotation time moves to
    // notAfter - certificate-validity; the existing certificate is kept.
    set_config(
        &mut m,
        PROVIDER,
        json!({"certificate-validity": "30d", "ca-key-algorithm": null}),
    );
    settle(&mut m);
    assert_eq!(leader_status(&m).0, "active");
    assert_eq!(provider_bag(&m, rel), bag);
    let s = ca_secret_view(&m);
    let ca = parse_cert(&s.revisions.last().unwrap()["ca-certificate"]);
    assert_eq!(
        der(&ca_before["ca-certificate"]),
        ca.to_der().unwrap(),
        "same CA"
    );
    let gap = to_system(ca.not_after())
        .duration_since(s.expire.expect("expiry"))
        .unwrap()
        .as_secs();
    assert!(
        gap.abs_diff(30 * 86_400) < 120,
        "rotation time moved: {gap}s"
    );
}

#[test]
fn app_scope_request_survives_requirer_unit_churn() {
    let (mut m, rel) = puppet(2, json!({}));
    let app = craft_csr(&CraftOpts {
        cn: Some("app.example.com"),
        ..Default::default()
    });
    request_leaf(&mut m, rel, "crafted", &app.pem);
    settle(&mut m);
    let bag = provider_bag(&m, rel);
    check_issued(&certificates(&bag)[0], &app.pem, false);
    // Both requirer units go (the relation stays): the app's request is still there.
    m.remove_unit("crafted/0").unwrap();
    settle(&mut m);
    m.remove_unit("crafted/1").unwrap();
    settle(&mut m);
    m.update_status(PROVIDER);
    settle(&mut m);
    assert_provider_hooks_ok(&m);
    assert_eq!(provider_bag(&m, rel), bag, "app-scope certificate kept");
    // A new unit arrives and the app changes its request: old entry replaced.
    m.add_unit("crafted").unwrap();
    settle(&mut m);
    let app2 = craft_csr(&CraftOpts {
        cn: Some("app2.example.com"),
        ..Default::default()
    });
    m.set_relation_data(
        rel,
        "crafted",
        csr_bag(json!([{"certificate_signing_request": app2.pem, "ca": false}])),
    )
    .unwrap();
    settle(&mut m);
    let published = certificates(&provider_bag(&m, rel));
    assert_eq!(published.len(), 1);
    check_issued(&published[0], &app2.pem, false);
}

#[test]
fn requirer_key_regeneration_and_mode_switch_replace_entries() {
    let (mut m, rel) = single("sw", 1, json!({}), 1, json!({}));
    let first = requirer_csrs(&m, rel, "sw/0").remove(0);
    let r = m.run_action("sw/0", "regenerate-key", Map::new()).unwrap();
    assert_eq!(r.status, "completed", "{r:?}");
    settle(&mut m);
    let second = requirer_csrs(&m, rel, "sw/0").remove(0);
    assert!(!second.key().public_eq(&first.key()), "new key");
    let published = certificates(&provider_bag(&m, rel));
    assert_eq!(published.len(), 1, "old key's entry removed");
    let e = entry_for(&published, &second.pem).expect("issued for the new key");
    check_issued(e, &second.pem, false);
    assert_accepted(&m, "sw/0", e);

    set_config(&mut m, "sw", json!({"mode": "app"}));
    settle(&mut m);
    assert!(requirer_csrs(&m, rel, "sw/0").is_empty());
    let app = requirer_csrs(&m, rel, "sw").remove(0);
    let published = certificates(&provider_bag(&m, rel));
    assert_eq!(published.len(), 1, "unit entry removed, app entry issued");
    let e = entry_for(&published, &app.pem).expect("app CSR issued");
    check_issued(e, &app.pem, false);
    assert_accepted(&m, "sw", e);
    assert_eq!(status_of(&m, "sw/0").1, "1/1 certificates received");
}

/// A CSR for `key` with CN `cn`, as PEM.
fn csr_for_key(key: &openssl::pkey::PKeyRef<openssl::pkey::Private>, cn: &str) -> String {
    let mut b = openssl::x509::X509ReqBuilder::new().unwrap();
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_text("CN", cn).unwrap();
    b.set_subject_name(&name.build()).unwrap();
    b.set_pubkey(key).unwrap();
    b.sign(key, MessageDigest::sha256()).unwrap();
    String::from_utf8(b.build().to_pem().unwrap()).unwrap()
}

#[test]
fn weak_keys_unsupported_curves_and_bad_signatures_refused_per_entry() {
    use openssl::ec::{EcGroup, EcKey};
    use openssl::nid::Nid;
    use openssl::pkey::PKey;
    use openssl::rsa::Rsa;

    let (mut m, rel) = puppet(1, json!({}));
    let rsa1024 = csr_for_key(
        &PKey::from_rsa(Rsa::generate(1024).unwrap()).unwrap(),
        "weak.example.com",
    );
    let p521 = csr_for_key(
        &PKey::from_ec_key(
            EcKey::generate(&EcGroup::from_curve_name(Nid::SECP521R1).unwrap()).unwrap(),
        )
        .unwrap(),
        "p521.example.com",
    );
    // Valid structure, signature no longer matches the content.
    let good_rsa = csr_for_key(
        &PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap(),
        "tampered.example.com",
    );
    let mut der = X509Req::from_pem(good_rsa.as_bytes())
        .unwrap()
        .to_der()
        .unwrap();
    let last = der.len() - 1;
    der[last] ^= 0x01;
    let tampered = String::from_utf8(X509Req::from_der(&der).unwrap().to_pem().unwrap()).unwrap();
    let fine = craft_csr(&CraftOpts {
        cn: Some("fine.example.com"),
        ..Default::default()
    });
    let list: Vec<Value> = [&rsa1024, &p521, &tampered, &fine.pem]
        .iter()
        .map(|c| json!({"certificate_signing_request": c, "ca": false}))
        .collect();
    m.set_relation_data(rel, "crafted/0", csr_bag(json!(list)))
        .unwrap();
    settle(&mut m);
    assert_provider_hooks_ok(&m);
    let bag = provider_bag(&m, rel);
    let errors = request_errors(&bag);
    for (csr, what, says) in [
        (&rsa1024, "RSA 1024", "RSA 1024 bits"),
        (&p521, "P-521", "secp521r1"),
        (&tampered, "bad signature", "signature"),
    ] {
        let e = error_for(&errors, csr).unwrap_or_else(|| panic!("{what}: no error entry"));
        assert_eq!(e["error"]["code"], json!(999), "{what}");
        let msg = e["error"]["message"].as_str().unwrap();
        assert!(msg.contains(says), "{what}: {msg}");
    }
    let published = certificates(&bag);
    assert_eq!(published.len(), 1, "only the good CSR is signed");
    check_issued(&published[0], &fine.pem, false);
}

#[test]
fn get_issued_certificates_lists_every_certificate_with_its_requirer() {
    let mut f = fleet();
    let leader = f.model.leader(PROVIDER).unwrap();
    let mut want = BTreeMap::new(); // serial (upper hex) -> (relation, requirer, kind, cn, is_ca)
    let rels: Vec<(&str, u32)> = f.rels.iter().map(|(a, r)| (*a, *r)).collect();
    for (app, rel) in &rels {
        let published = f.certs(app);
        let mut owners = vec![(app.to_string(), "app")];
        owners.extend(f.model.units(app).into_iter().map(|u| (u, "unit")));
        for (owner, kind) in owners {
            for c in requirer_csrs(&f.model, *rel, &owner) {
                let e = entry_for(&published, &c.pem).unwrap();
                let cert = parse_cert(e["certificate"].as_str().unwrap());
                let serial = cert.serial_number().to_bn().unwrap().to_hex_str().unwrap();
                want.insert(
                    serial.to_uppercase(),
                    (
                        *rel,
                        owner.clone(),
                        kind,
                        c.cn().unwrap_or_default(),
                        c.ca == json!(true),
                    ),
                );
            }
        }
    }
    assert_eq!(want.len(), 11);
    let (st, msg) = status_of(&f.model, &leader);
    assert_eq!(
        (st.as_str(), msg.as_str()),
        (
            "active",
            "issued 11, denied 0, rejected 0 across 6 relations"
        )
    );

    let r = f
        .model
        .run_action(&leader, "get-issued-certificates", Map::new())
        .unwrap();
    assert_eq!(r.status, "completed", "{r:?}");
    assert_eq!(r.results["count"], json!("11"));
    let text = r.results["certificates"].as_str().unwrap();
    assert!(!text.contains("PRIVATE KEY"));
    let listed: Vec<Value> = serde_json::from_str(text).unwrap();
    assert_eq!(listed.len(), 11);
    for l in &listed {
        let serial = l["serial"]
            .as_str()
            .unwrap()
            .replace(':', "")
            .to_uppercase();
        let serial = serial.trim_start_matches('0');
        let (rel, owner, kind, cn, is_ca) = want
            .get(serial)
            .unwrap_or_else(|| panic!("unknown serial listed: {l}"));
        assert_eq!(l["relation-id"], json!(rel), "{l}");
        assert_eq!(l["requirer"], json!(owner), "{l}");
        assert_eq!(l["requirer-type"], json!(kind), "{l}");
        assert_eq!(l["common-name"], json!(cn), "{l}");
        assert_eq!(l["is-ca"], json!(is_ca), "{l}");
        assert!(l["not-after"].as_str().unwrap().ends_with('Z'));
    }
    let sans = listed
        .iter()
        .find(|l| l["requirer"] == json!("sans/0"))
        .unwrap();
    assert_eq!(sans["sans"].as_array().unwrap().len(), 5, "{sans}");

    // Filtered by relation.
    let rel = f.rel("unit3");
    let r = f
        .model
        .run_action(
            &leader,
            "get-issued-certificates",
            obj(json!({"relation-id": rel})),
        )
        .unwrap();
    assert_eq!(r.results["count"], json!("3"), "{r:?}");
}

#[test]
fn ca_private_key_never_leaves_its_secret() {
    let f = fleet();
    let m = &f.model;
    let key = ca_secret(m)["private-key"].clone();
    assert!(key.contains("PRIVATE KEY"));
    // A chunk of the key's base64 body.
    let body: String = key.lines().filter(|l| !l.starts_with("-----")).collect();
    let chunk = &body[body.len() / 2..body.len() / 2 + 32];
    let leaks = |what: &str, text: &str| {
        assert!(!text.contains(chunk), "CA key material in {what}");
        assert!(!text.contains("PRIVATE KEY"), "a private key in {what}");
    };
    for u in m.units(PROVIDER) {
        leaks(&format!("{u} logs"), &m.logs(&u).join("\n"));
        leaks(&format!("{u} status"), &m.unit_status(&u).message);
        for r in m.hook_runs().iter().filter(|r| r.unit == u) {
            // Secret content goes through files or stdin, never argv (not even secret-add's).
            for c in &r.tool_calls {
                leaks(&format!("{u} {} argv", c.tool), &c.args.join(" "));
            }
        }
    }
    for (rel, owner, bag) in all_bags(m) {
        leaks(&format!("relation {rel} {owner}"), &format!("{bag:?}"));
    }
    // The CA secret is the only secret the provider owns, and nobody was granted it.
    let provider_secrets: Vec<_> = m
        .secrets()
        .into_iter()
        .filter(|s| s.owner == PROVIDER || s.owner.starts_with("tls-provider/"))
        .collect();
    assert_eq!(provider_secrets.len(), 1);
    assert!(m.secret_grants(&provider_secrets[0].id).is_empty());
}
