//! Revocation with the real Python requirer (charmlibs `TLSCertificatesRequiresV4`) under the
//! simulator: the library drops a revoked certificate (its secret removed), the CRL from
//! `get-crl` lists the serial and verifies against the CA, and a new CSR gets a new certificate.

mod common;

use common::interop::*;
use common::pki::{crl_check, crl_verified_text};
use openssl::x509::X509;
use serde_json::{json, Map};

#[test]
fn the_library_drops_a_revoked_certificate_and_its_new_csr_is_signed() {
    let mut m = new_model();
    deploy_provider(&mut m, 2, json!({}));
    let rel = deploy_requirer(&mut m, "web", 1, json!({}));
    settle(&mut m);
    let csr = requirer_csrs(&m, rel, "web/0").remove(0);
    let entry = entry_for(&certificates(&provider_bag(&m, rel)), &csr.pem)
        .expect("issued")
        .clone();
    assert_accepted(&m, "web/0", &entry);
    assert_eq!(stored_certificates(&m, "web/0").len(), 1);
    let pem = entry["certificate"].as_str().unwrap();
    let ca = entry["ca"].as_str().unwrap();
    let serial = X509::from_pem(pem.as_bytes())
        .unwrap()
        .serial_number()
        .to_bn()
        .unwrap()
        .to_hex_str()
        .unwrap()
        .to_string();

    let leader = m.leader(PROVIDER).unwrap();
    let r = m
        .run_action(
            &leader,
            "revoke-certificate",
            obj(json!({"serial": serial, "reason": "keyCompromise"})),
        )
        .unwrap();
    assert_eq!(r.status, "completed", "{r:?}");
    settle(&mut m);
    let published = certificates(&provider_bag(&m, rel));
    assert_eq!(
        entry_for(&published, &csr.pem).unwrap()["revoked"],
        json!(true)
    );
    assert!(
        stored_certificates(&m, "web/0").is_empty(),
        "the library removed its certificate secret"
    );

    // The CRL of the active CA lists the serial; openssl refuses the revoked certificate.
    let r = m.run_action(&leader, "get-crl", Map::new()).unwrap();
    assert_eq!(r.status, "completed", "{r:?}");
    let crl = r.results["crl"].as_str().unwrap();
    let text = crl_verified_text(ca, crl);
    assert!(text.contains(&serial), "{text}");
    let (ok, out) = crl_check(ca, crl, pem);
    assert!(!ok && out.contains("certificate revoked"), "{out}");

    // A new leader keeps the record: its CRL still lists the serial.
    let other = other_unit(&m, PROVIDER, &leader);
    m.set_leader(&other).unwrap();
    settle(&mut m);
    let r = m.run_action(&other, "get-crl", Map::new()).unwrap();
    assert_eq!(r.results["revoked-count"], json!("1"), "{r:?}");

    // The requirer sends a new CSR (new key) and gets a new certificate.
    let r = m.run_action("web/0", "regenerate-key", Map::new()).unwrap();
    assert_eq!(r.status, "completed", "{r:?}");
    settle(&mut m);
    let new = requirer_csrs(&m, rel, "web/0").remove(0);
    assert_ne!(new.pem, csr.pem);
    let published = certificates(&provider_bag(&m, rel));
    assert_eq!(published.len(), 1, "the revoked entry went with its CSR");
    let e = entry_for(&published, &new.pem).expect("the new CSR is signed");
    assert_ne!(e.get("revoked"), Some(&json!(true)));
    assert_accepted(&m, "web/0", e);
    assert_provider_hooks_ok(&m);
}
