//! The CRLs across a CA rotation, under the simulator with the real Python requirer: after
//! the switch, the previous CA (still in the trust bundle) keeps a valid CRL that lists what it
//! issued and was revoked, next to the new CA's own. Its refresh and its end, driven by the
//! clock, are in `tests/crl_refresh_unit.rs` (the charm reads the host clock, not the
//! simulator's).

mod common;

use common::interop::*;
use common::pki::{crl_check, crl_verified_text};
use jujusim::Model;
use openssl::x509::X509;
use serde_json::{json, Map, Value};

/// The CRLs the leader keeps in the peer application databag.
fn stored_crls(m: &Model) -> Vec<Value> {
    let peer = m
        .find_relation("tls-provider:cluster")
        .expect("peer relation");
    let bag = m.relation_data(peer, PROVIDER);
    let text = bag.get("crls").expect("the leader stores its CRLs");
    serde_json::from_str(text).unwrap()
}

fn serial_of(pem: &str) -> String {
    let bn = X509::from_pem(pem.as_bytes())
        .unwrap()
        .serial_number()
        .to_bn()
        .unwrap();
    bn.to_hex_str().unwrap().to_string()
}

#[test]
fn the_previous_ca_keeps_a_valid_crl_while_it_is_trusted() {
    let mut m = new_model();
    let config = json!({"crl-validity": "2d", "certificate-validity": "4d"});
    deploy_provider(&mut m, 1, config);
    let rel = deploy_requirer(&mut m, "web", 2, json!({}));
    settle(&mut m);
    let entries = certificates(&provider_bag(&m, rel));
    assert_eq!(entries.len(), 2);
    let old_ca = entries[0]["ca"].as_str().unwrap().to_string();
    let revoked = entries[0]["certificate"].as_str().unwrap().to_string();
    let kept = entries[1]["certificate"].as_str().unwrap().to_string();
    let leader = m.leader(PROVIDER).unwrap();
    let r = m
        .run_action(
            &leader,
            "revoke-certificate",
            obj(json!({"serial": serial_of(&revoked)})),
        )
        .unwrap();
    assert_eq!(r.status, "completed", "{r:?}");

    // Rotate at once: the old CA is the previous one, still in the trust bundle.
    let r = m
        .run_action(
            &leader,
            "rotate-private-key",
            obj(json!({"immediate": true})),
        )
        .unwrap();
    assert_eq!(r.status, "completed", "{r:?}");
    settle(&mut m);
    let crls = stored_crls(&m);
    assert_eq!(crls.len(), 2, "the active and the previous CA: {crls:?}");

    let r = m.run_action(&leader, "get-crl", Map::new()).unwrap();
    assert_eq!(r.status, "completed", "{r:?}");
    let previous = r.results["previous-crl"].as_str().expect("previous-crl");
    assert_eq!(r.results["previous-revoked-count"], json!("1"));
    assert_eq!(r.results["revoked-count"], json!("0"));
    let text = crl_verified_text(&old_ca, previous);
    assert!(text.contains(&serial_of(&revoked)), "{text}");
    let (ok, out) = crl_check(&old_ca, previous, &revoked);
    assert!(!ok && out.contains("certificate revoked"), "{out}");
    let (ok, out) = crl_check(&old_ca, previous, &kept);
    assert!(ok, "a certificate of the previous CA not revoked: {out}");
    let new_ca = m
        .run_action(&leader, "get-ca-certificate", Map::new())
        .unwrap()
        .results["ca-certificate"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(new_ca, old_ca);
    crl_verified_text(&new_ca, r.results["crl"].as_str().unwrap());

    assert_provider_hooks_ok(&m);
}
