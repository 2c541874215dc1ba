//! Revocation and CRLs against the in-memory model: the `crl-distribution-url` option in the
//! certificates both dialects issue (checked with `openssl x509 -text`).

mod common;

use std::path::Path;

use common::pki::{crl_check, crl_verified_text, openssl_ok, openssl_req_p256};
use common::world::World;
use serde_json::json;

const URL: &str = "http://pki.example.com/tls-provider.crl";

/// A P-256 CSR made with the `openssl` command line.
fn csr(dir: &Path, cn: &str) -> String {
    openssl_req_p256(dir, &["-new"], "k.pem", "r.pem", &format!("/CN={cn}"), &[]);
    std::fs::read_to_string(dir.join("r.pem"))
        .unwrap()
        .trim_end()
        .to_string()
}

fn x509_text(dir: &Path, pem: &str) -> String {
    std::fs::write(dir.join("c.pem"), format!("{pem}\n")).unwrap();
    openssl_ok(dir, &["x509", "-noout", "-text", "-in", "c.pem"])
}

#[test]
fn modern_certificates_carry_the_distribution_point_once_configured() {
    let tmp = tempfile::tempdir().unwrap();
    let w = World::leader_in("self-signed");
    w.relate(3, "web", &["web/0"]);
    let before = csr(tmp.path(), "before.example.com");
    w.request(3, "web/0", &[(&before, false)]);
    w.reconcile();
    let certs = w.certificates(3);
    assert_eq!(certs.len(), 1);
    let text = x509_text(tmp.path(), &certs[0].certificate);
    assert!(!text.contains("CRL Distribution Points"), "{text}");

    w.config("crl-distribution-url", json!(URL));
    let after = csr(tmp.path(), "after.example.com");
    w.request(3, "web/0", &[(&before, false), (&after, false)]);
    w.reconcile();
    let certs = w.certificates(3);
    assert_eq!(certs.len(), 2);
    for c in &certs {
        let text = x509_text(tmp.path(), &c.certificate);
        let has = text.contains(&format!("URI:{URL}"));
        // Issued from then on: the earlier certificate is not reissued for it.
        assert_eq!(has, c.certificate_signing_request == after, "{text}");
    }
}

#[test]
fn legacy_certificates_carry_the_distribution_point() {
    let tmp = tempfile::tempdir().unwrap();
    let w = World::leader_in("self-signed");
    w.config("crl-distribution-url", json!(URL));
    w.relate(4, "etcd", &["etcd/0"]);
    w.set_unit_keys(
        4,
        "etcd/0",
        &[
            ("unit_name", "etcd_0"),
            ("common_name", "etcd0.example.com"),
            ("sans", "[\"etcd0.example.com\"]"),
        ],
    );
    w.reconcile();
    let bag = w.own_unit_bag(4);
    let server = bag
        .get("etcd_0.server.cert")
        .unwrap_or_else(|| panic!("{bag:?}"));
    let text = x509_text(tmp.path(), server);
    assert!(text.contains(&format!("URI:{URL}")), "{text}");
    let text = x509_text(tmp.path(), &bag["client.cert"]);
    assert!(text.contains("X509v3 CRL Distribution Points"), "{text}");
}

#[test]
fn a_bad_url_blocks_naming_the_option() {
    let w = World::leader_in("self-signed");
    w.config("crl-distribution-url", json!("pki.example.com/ca.crl"));
    let out = w.reconcile();
    let (_, message) = out.status.expect("a status");
    assert!(
        message.contains("crl-distribution-url: \"pki.example.com/ca.crl\" is not an http://"),
        "{message}"
    );
}

// ------------------------------------------------------------------------------------------
// revoke-certificate and get-crl

const PEER: u32 = 99;

/// The leader with a peer relation, `web` (two units, one CSR each) on relation 3 and `api`
/// (one unit) on relation 4, all issued.
fn issued(dir: &Path) -> (World, [String; 3]) {
    let w = World::leader_in("self-signed");
    w.tools
        .add_relation(PEER, "cluster", common::world::APP, &[]);
    w.relate(3, "web", &["web/0", "web/1"]);
    w.relate(4, "api", &["api/0"]);
    let csrs = [
        csr(dir, "web0.example.com"),
        csr(dir, "web1.example.com"),
        csr(dir, "api0.example.com"),
    ];
    w.request(3, "web/0", &[(&csrs[0], false)]);
    w.request(3, "web/1", &[(&csrs[1], false)]);
    w.request(4, "api/0", &[(&csrs[2], false)]);
    w.reconcile();
    assert_eq!(w.certificates(3).len() + w.certificates(4).len(), 3);
    (w, csrs)
}

fn cert_for(w: &World, id: u32, csr: &str) -> tls_provider::protocol::modern::ProviderCertificate {
    w.certificates(id)
        .into_iter()
        .find(|c| c.certificate_signing_request == csr)
        .unwrap()
}

fn serial_of(dir: &Path, pem: &str) -> String {
    std::fs::write(dir.join("s.pem"), format!("{pem}\n")).unwrap();
    let out = openssl_ok(dir, &["x509", "-noout", "-serial", "-in", "s.pem"]);
    out.trim().trim_start_matches("serial=").to_string()
}

#[test]
fn revoke_by_serial_marks_the_entry_lists_the_serial_and_never_signs_that_csr_again() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (w, csrs) = issued(dir);
    let target = cert_for(&w, 3, &csrs[0]);
    let other = cert_for(&w, 3, &csrs[1]);
    let serial = serial_of(dir, &target.certificate);

    let out = w.action(
        "revoke-certificate",
        json!({"serial": serial.to_lowercase(), "reason": "keyCompromise"}),
    );
    let res = out.ok();
    assert!(res["message"].contains("must send a new CSR"), "{res:?}");
    let listed = out.list("revoked");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["serial"], json!(serial));
    assert_eq!(listed[0]["unit"], json!("web/0"));
    assert_eq!(listed[0]["application"], json!("web"));
    assert_eq!(listed[0]["common-name"], json!("web0.example.com"));
    assert!(cert_for(&w, 3, &csrs[0]).revoked);
    assert!(!cert_for(&w, 3, &csrs[1]).revoked);

    // The CRL: signed by the CA, lists the serial with its reason; verify -crl_check refuses the
    // revoked certificate and accepts the other.
    let crl = w.action("get-crl", json!({})).ok().clone();
    assert_eq!(crl["revoked-count"], "1");
    let text = crl_verified_text(&w.ca_pem(), &crl["crl"]);
    assert!(text.contains(&serial), "{text}");
    assert!(text.contains("Key Compromise"), "{text}");
    let (ok, msg) = crl_check(&w.ca_pem(), &crl["crl"], &target.certificate);
    assert!(!ok && msg.contains("certificate revoked"), "{msg}");
    let (ok, msg) = crl_check(&w.ca_pem(), &crl["crl"], &other.certificate);
    assert!(ok, "{msg}");
    // DER in base64 is the same CRL.
    use base64::Engine;
    let der = base64::engine::general_purpose::STANDARD
        .decode(&crl["crl-der-base64"])
        .unwrap();
    assert_eq!(
        openssl::x509::X509Crl::from_der(&der)
            .unwrap()
            .to_pem()
            .unwrap(),
        openssl::x509::X509Crl::from_pem(crl["crl"].as_bytes())
            .unwrap()
            .to_pem()
            .unwrap()
    );

    // Later reconciles keep it revoked (not re-signed); a new CSR gets a new certificate.
    w.reconcile();
    let kept = cert_for(&w, 3, &csrs[0]);
    assert!(kept.revoked && kept.certificate == target.certificate);
    let fresh = csr(dir, "web0.example.com");
    w.request(3, "web/0", &[(&fresh, false)]);
    w.reconcile();
    let new = cert_for(&w, 3, &fresh);
    assert!(!new.revoked);
    assert_ne!(serial_of(dir, &new.certificate), serial);
    // A revoked serial stays listed and cannot be revoked twice.
    w.refuses(
        "revoke-certificate",
        json!({"serial": serial}),
        &["no published certificate matches serial="],
    );
}

#[test]
fn revoke_by_csr_fingerprint_and_by_relation_and_unit() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (w, csrs) = issued(dir);
    std::fs::write(dir.join("r.pem"), format!("{}\n", csrs[2])).unwrap();
    let der = openssl_ok(
        dir,
        &["req", "-in", "r.pem", "-outform", "DER", "-out", "r.der"],
    );
    let _ = der;
    let bytes = std::fs::read(dir.join("r.der")).unwrap();
    let fp: String = openssl::sha::sha256(&bytes)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect();
    let out = w.action("revoke-certificate", json!({"csr-fingerprint": fp}));
    assert_eq!(out.list("revoked")[0]["relation-id"], json!(4));
    assert!(cert_for(&w, 4, &csrs[2]).revoked);

    let out = w.action(
        "revoke-certificate",
        json!({"relation-id": 3, "unit": "web/1", "reason": "superseded"}),
    );
    let listed = out.list("revoked");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["unit"], json!("web/1"));
    assert!(cert_for(&w, 3, &csrs[1]).revoked);
    assert!(!cert_for(&w, 3, &csrs[0]).revoked);

    let out = w.action("revoke-certificate", json!({"relation-id": 3}));
    assert_eq!(out.list("revoked").len(), 1, "only the one not revoked yet");
    assert_eq!(w.action("get-crl", json!({})).ok()["revoked-count"], "3");
}

#[test]
fn revoke_parameters_are_checked_before_anything_changes() {
    let tmp = tempfile::tempdir().unwrap();
    let (w, _) = issued(tmp.path());
    w.refuses(
        "revoke-certificate",
        json!({}),
        &["give exactly one of serial=<hex>, csr-fingerprint=<sha256> or relation-id=<id>"],
    );
    w.refuses(
        "revoke-certificate",
        json!({"serial": "01", "relation-id": 3}),
        &["give exactly one of"],
    );
    w.refuses(
        "revoke-certificate",
        json!({"unit": "web/0"}),
        &["unit= needs relation-id="],
    );
    w.refuses(
        "revoke-certificate",
        json!({"relation-id": 3, "reason": "certificateHold"}),
        &["reason=\"certificateHold\" is not an RFC 5280 reason; use one of unspecified, keyCompromise"],
    );
    w.refuses(
        "revoke-certificate",
        json!({"relation-id": 3, "unit": "web/7"}),
        &["no published certificate matches relation-id=3 unit=web/7"],
    );
}

#[test]
fn listings_name_the_application_and_unit_and_show_revoked_requests() {
    let tmp = tempfile::tempdir().unwrap();
    let (w, csrs) = issued(tmp.path());
    let issued = w.action("get-issued-certificates", json!({"relation-id": 3}));
    for c in issued.list("certificates") {
        assert_eq!(c["application_name"], json!("web"), "{c}");
        assert!(
            c["unit_name"] == json!("web/0") || c["unit_name"] == json!("web/1"),
            "{c}"
        );
    }
    w.action(
        "revoke-certificate",
        json!({"relation-id": 3, "unit": "web/0"}),
    )
    .ok();
    let out = w.action("get-outstanding-certificate-requests", json!({}));
    let listed = out.list("requests");
    assert_eq!(listed.len(), 1, "{listed:?}");
    let r = &listed[0];
    assert_eq!(r["state"], json!("revoked"));
    assert_eq!(r["application_name"], json!("web"));
    assert_eq!(r["unit_name"], json!("web/0"));
    assert_eq!(r["csr"], json!(csrs[0]));
    assert!(
        r["error"].as_str().unwrap().contains("must send a new CSR"),
        "{r}"
    );
    let issued = w.action("get-issued-certificates", json!({"relation-id": 3}));
    let revoked: Vec<_> = issued
        .list("certificates")
        .into_iter()
        .filter(|c| c["revoked"] == json!(true))
        .collect();
    assert_eq!(revoked.len(), 1);
    assert_eq!(revoked[0]["unit_name"], json!("web/0"));
}
