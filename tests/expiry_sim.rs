//! Expiry warnings with the real Python requirer (charmlibs `TLSCertificatesRequiresV4`) under
//! the simulator. The charm reads the real clock (the simulator's clock only drives secret
//! expiry, docs/design.md "Time"), so a certificate is put in its window from the start here
//! (`expiry-warning` longer than `certificate-validity`); moving the clock into the window, the
//! daily repeat and the wake-up of `update-status` are `tests/expiry_unit.rs`'s.

mod common;

use common::interop::*;
use openssl::x509::X509;
use serde_json::{json, Map};

const PREFIX: &str = "tls-provider expiry-warning:";

/// The expiry lines the leader logged, from the prefix on, each with its level.
fn lines(m: &jujusim::Model, leader: &str) -> Vec<String> {
    m.logs(leader)
        .iter()
        .filter_map(|l| {
            let at = l.find(PREFIX)?;
            assert!(l.starts_with("WARNING "), "logged as a WARNING: {l}");
            Some(l[at..].to_string())
        })
        .collect()
}

fn serial_of(pem: &str) -> String {
    let x = X509::from_pem(pem.as_bytes()).unwrap();
    x.serial_number()
        .to_bn()
        .unwrap()
        .to_hex_str()
        .unwrap()
        .to_string()
}

fn leader_status(m: &jujusim::Model, leader: &str) -> String {
    status_of(m, leader).1
}

#[test]
fn a_certificate_at_risk_is_logged_once_counted_and_its_serial_stops_after_renewal() {
    let mut m = new_model();
    deploy_provider(
        &mut m,
        1,
        json!({"certificate-validity": "30d", "expiry-warning": "31d"}),
    );
    let rel = deploy_requirer(&mut m, "web", 1, json!({}));
    settle(&mut m);
    let leader = m.leader(PROVIDER).unwrap();
    let csr = requirer_csrs(&m, rel, "web/0").remove(0);
    let entry = entry_for(&certificates(&provider_bag(&m, rel)), &csr.pem)
        .expect("issued")
        .clone();
    assert_accepted(&m, "web/0", &entry);
    let old = serial_of(entry["certificate"].as_str().unwrap());

    let got = lines(&m, &leader);
    assert_eq!(got.len(), 1, "{got:?}");
    let head = format!(
        "{PREFIX} kind=certificate application=web unit=web/0 common_name=web.example.com \
         serial={old} not_after="
    );
    assert!(got[0].starts_with(&head), "{}\n{head}", got[0]);
    assert!(
        got[0].ends_with(" days_left=29") || got[0].ends_with(" days_left=30"),
        "{}",
        got[0]
    );
    let st = leader_status(&m, &leader);
    assert!(
        st.contains("; next expiry in 30 d, 1 at risk of expiry"),
        "{st}"
    );

    // Other hooks within the day log nothing again.
    m.update_status(PROVIDER);
    settle(&mut m);
    let r = m
        .run_action(&leader, "get-ca-certificate", Map::new())
        .unwrap();
    assert_eq!(r.status, "completed", "{r:?}");
    settle(&mut m);
    assert_eq!(lines(&m, &leader).len(), 1);

    // The requirer renews: its new certificate replaces the old one, whose line never comes
    // back; the count stays one (the new serial, at risk too under this config).
    let r = m.run_action("web/0", "renew", Map::new()).unwrap();
    assert_eq!(r.status, "completed", "{r:?}");
    settle(&mut m);
    let published = certificates(&provider_bag(&m, rel));
    assert_eq!(published.len(), 1);
    let new = serial_of(published[0]["certificate"].as_str().unwrap());
    assert_ne!(new, old);
    let got = lines(&m, &leader);
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(got[1].contains(&format!(" serial={new} ")), "{}", got[1]);
    assert!(leader_status(&m, &leader).contains(", 1 at risk of expiry"));

    // A window of 20% (the default): nothing at risk, no more lines.
    m.set_config(PROVIDER, obj(json!({"expiry-warning": "20%"})))
        .unwrap();
    settle(&mut m);
    let st = leader_status(&m, &leader);
    assert!(st.ends_with("; next expiry in 30 d"), "{st}");
    m.update_status(PROVIDER);
    settle(&mut m);
    assert_eq!(lines(&m, &leader).len(), 2);
    assert_provider_hooks_ok(&m);
}
