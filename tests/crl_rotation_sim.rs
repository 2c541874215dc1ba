//! The CRLs across a CA rotation, under the simulator with the real Python requirer: after
//! the switch, the previous CA (still in the trust bundle) keeps a valid CRL that lists what it
//! issued and was revoked, next to the new CA's own. With `Model::set_hook_clock` (the charm
//! reads the simulator's clock) the leader signs its CRL again at half of `crl-validity`, not
//! before. The refresh in detail and the previous CA's CRL's end are in
//! `tests/crl_refresh_unit.rs` (in-memory model).

mod common;

use std::time::{Duration, UNIX_EPOCH};

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

fn field(crl: &Value, key: &str) -> u64 {
    crl[key]
        .as_u64()
        .unwrap_or_else(|| panic!("{key} in {crl}"))
}

#[test]
fn with_the_hook_clock_the_crl_is_signed_again_at_half_its_validity() {
    const HOUR: u64 = 3_600;
    let mut m = new_model();
    m.set_hook_clock(true).unwrap();
    deploy_provider(&mut m, 1, json!({"crl-validity": "2d"}));
    let rel = deploy_requirer(&mut m, "web", 1, json!({}));
    settle(&mut m);
    let ca = certificates(&provider_bag(&m, rel))[0]["ca"]
        .as_str()
        .unwrap()
        .to_string();
    let first = stored_crls(&m);
    assert_eq!(first.len(), 1, "{first:?}");
    let c0 = &first[0];
    let (this0, next0, number0) = (
        field(c0, "this-update"),
        field(c0, "next-update"),
        field(c0, "number"),
    );
    assert_eq!(next0 - this0, 48 * HOUR, "{c0}");
    crl_verified_text(&ca, c0["pem"].as_str().unwrap());

    // 23 h on: not yet half of the validity, the CRL stays as it is.
    m.advance_clock(Duration::from_secs(23 * HOUR));
    m.update_status(PROVIDER);
    m.settle().unwrap();
    assert_eq!(stored_crls(&m), first);

    // Past 24 h: signed again, before the first one's nextUpdate.
    m.advance_clock(Duration::from_secs(2 * HOUR));
    m.update_status(PROVIDER);
    m.settle().unwrap();
    let second = stored_crls(&m);
    assert_eq!(second.len(), 1, "{second:?}");
    let c1 = &second[0];
    let now = m.now().duration_since(UNIX_EPOCH).unwrap().as_secs();
    let this1 = field(c1, "this-update");
    assert!(this1 > this0 + 24 * HOUR, "{c0}\n{c1}");
    assert!(
        this1 <= now + 60 && this1 < next0,
        "{c1} (model time {now})"
    );
    assert_eq!(field(c1, "next-update") - this1, 48 * HOUR, "{c1}");
    assert!(field(c1, "number") > number0, "{c0}\n{c1}");
    assert_ne!(c1["pem"], c0["pem"]);
    let text = crl_verified_text(&ca, c1["pem"].as_str().unwrap());
    assert!(text.contains("verify OK"), "{text}");

    // And the next update-status, a few hours on, leaves it again.
    m.advance_clock(Duration::from_secs(7 * HOUR));
    m.update_status(PROVIDER);
    m.settle().unwrap();
    assert_eq!(stored_crls(&m), second);
    assert_provider_hooks_ok(&m);
}
