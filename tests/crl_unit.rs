//! Revocation and CRLs against the in-memory model: the `crl-distribution-url` option in the
//! certificates both dialects issue (checked with `openssl x509 -text`).

mod common;

use std::path::Path;

use common::pki::{openssl_ok, openssl_req_p256};
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
