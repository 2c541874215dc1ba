//! Modern: requests (`docs/protocol.md` §5 cases 1-14): every mode and kind of CSR the requirers
//! write is issued and accepted, or skipped or refused as the case says.

use std::collections::BTreeSet;

use jujusim::Databag;
use openssl::pkey::Id;
use serde_json::json;

use crate::common::interop::*;
use crate::foreign_ca::foreign_certificate;
use crate::*;

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
        .map(|i| crafted(&format!("c{i}.example.com")))
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
    let good = crafted("fine.example.com");
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
    let c = crafted("crlf.example.com");
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
    let good = crafted("good.example.com");
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
    let good = crafted("unit.example.com");
    let app = crafted("app.example.com");
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
