//! Expiry warnings with the real Python requirer (charmlibs `TLSCertificatesRequiresV4`) under
//! the simulator. By default hook processes read the real clock (the simulator's clock only
//! drives secret expiry, docs/design.md "Time"), so the first test puts a certificate in its
//! window from the start (`expiry-warning` longer than `certificate-validity`). The second turns
//! on `Model::set_hook_clock`: charm and requirer see the simulated clock, which moves a 90-day
//! certificate into the default window, through the daily repeat and past the requirer's
//! renewal. `tests/expiry_unit.rs` covers the same ground on the in-memory model in detail.

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::interop::*;
use common::pki::openssl_cli;
use openssl::x509::X509;
use serde_json::{json, Map};
use tls_provider::charm::clock::rfc3339;
use tls_provider::pki::verify::asn1_to_system;

const HOUR: u64 = 3_600;
const DAY: u64 = 86_400;

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

fn not_after_of(pem: &str) -> SystemTime {
    asn1_to_system(X509::from_pem(pem.as_bytes()).unwrap().not_after())
}

fn unix(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).unwrap().as_secs()
}

/// Whole days from `now` to `end`, as the charm counts `days_left` (in whole seconds).
fn days_left(end: SystemTime, now: SystemTime) -> u64 {
    (unix(end) - unix(now)) / DAY
}

/// `openssl verify` of `leaf` against `ca` at the model's time (`-attime`): a certificate
/// issued after `advance_clock` starts in the host's future.
fn verify_at(ca: &str, leaf: &str, at: SystemTime) {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("ca.pem"), format!("{ca}\n")).unwrap();
    std::fs::write(tmp.path().join("leaf.pem"), format!("{leaf}\n")).unwrap();
    let t = unix(at).to_string();
    let (ok, out) = openssl_cli(
        tmp.path(),
        &["verify", "-attime", &t, "-CAfile", "ca.pem", "leaf.pem"],
    );
    assert!(ok && out.contains("leaf.pem: OK"), "{out}");
}

/// `update-status` on the provider at the current simulated time, then settle (`m.settle`: the
/// shared `settle` checks certificates with `openssl verify` at the host's time).
fn update_status(m: &mut jujusim::Model) {
    m.update_status(PROVIDER);
    m.settle().unwrap();
}

/// The expected line for `serial` (`not_after`) at the model's time: `days_left` as the hook
/// counted it, a few seconds after `m.now()` (the hook's clock runs on from its launch).
fn assert_line(line: &str, m: &jujusim::Model, serial: &str, not_after: SystemTime) {
    let head = format!(
        "{PREFIX} kind=certificate application=web unit=web/0 common_name=web.example.com \
         serial={serial} not_after={} days_left=",
        rfc3339(not_after)
    );
    let rest = line
        .strip_prefix(&head)
        .unwrap_or_else(|| panic!("{line}\n{head}"));
    let now = m.now();
    let want = [
        days_left(not_after, now),
        days_left(not_after, now + Duration::from_secs(300)),
    ];
    let got: u64 = rest.parse().unwrap_or_else(|_| panic!("{line}"));
    assert!(
        want.contains(&got),
        "days_left={got}, expected {want:?}: {line}"
    );
}

#[test]
fn with_the_hook_clock_a_90_day_certificate_enters_its_window_repeats_daily_and_stops_after_renewal(
) {
    let mut m = new_model();
    m.set_hook_clock(true).unwrap();
    // Defaults: 90-day certificates, a window of 20% (the last 18 days). The requirer library
    // renews by itself at 90% of the lifetime (its secret's expiry, day 81).
    deploy_provider(&mut m, 1, json!({}));
    let rel = deploy_requirer(&mut m, "web", 1, json!({}));
    settle(&mut m);
    let leader = m.leader(PROVIDER).unwrap();
    let published = certificates(&provider_bag(&m, rel));
    assert_eq!(published.len(), 1);
    let entry = published[0].clone();
    assert_accepted(&m, "web/0", &entry);
    let pem = entry["certificate"].as_str().unwrap();
    let ca = entry["ca"].as_str().unwrap().to_string();
    let old = serial_of(pem);
    let not_after = not_after_of(pem);
    let lifetime = not_after.duration_since(m.now()).unwrap().as_secs();
    assert!(
        (89 * DAY..=90 * DAY + HOUR).contains(&lifetime),
        "a 90-day certificate on the model's clock: {lifetime} s left"
    );
    assert!(lines(&m, &leader).is_empty());
    let st = leader_status(&m, &leader);
    assert!(st.ends_with("; next expiry in 90 d"), "{st}");

    // Day 71: not yet in the window.
    m.advance_clock(Duration::from_secs(71 * DAY));
    update_status(&mut m);
    assert!(lines(&m, &leader).is_empty(), "{:?}", lines(&m, &leader));
    assert!(!leader_status(&m, &leader).contains("at risk"));

    // Day 73: in the window: one WARNING line with every field, the status counts it.
    m.advance_clock(Duration::from_secs(2 * DAY));
    update_status(&mut m);
    let got = lines(&m, &leader);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_line(&got[0], &m, &old, not_after);
    let st = leader_status(&m, &leader);
    assert!(
        st.ends_with("; next expiry in 17 d, 1 at risk of expiry"),
        "{st}"
    );
    assert_eq!(
        certificates(&provider_bag(&m, rel))[0]["certificate"],
        entry["certificate"],
        "not renewed by anyone yet"
    );

    // Less than a day later (past `full-reconcile-interval`, so full passes): not again.
    for _ in 0..2 {
        m.advance_clock(Duration::from_secs(11 * HOUR));
        update_status(&mut m);
    }
    assert_eq!(lines(&m, &leader).len(), 1);
    assert!(leader_status(&m, &leader).ends_with(", 1 at risk of expiry"));

    // More than a day after the line: logged again, a day less left.
    m.advance_clock(Duration::from_secs(3 * HOUR));
    update_status(&mut m);
    let got = lines(&m, &leader);
    assert_eq!(got.len(), 2, "{got:?}");
    assert_line(&got[1], &m, &old, not_after);
    assert_ne!(got[1], got[0], "days_left went down");

    // The requirer renews: a new certificate from the model's day 74, nothing at risk, and the
    // old serial's line never comes back.
    let r = m.run_action("web/0", "renew", Map::new()).unwrap();
    assert_eq!(r.status, "completed", "{r:?}");
    m.settle().unwrap();
    let published = certificates(&provider_bag(&m, rel));
    assert_eq!(published.len(), 1);
    let pem = published[0]["certificate"].as_str().unwrap().to_string();
    let new = serial_of(&pem);
    assert_ne!(new, old);
    assert_accepted(&m, "web/0", &published[0]);
    verify_at(&ca, &pem, m.now());
    let left = not_after_of(&pem)
        .duration_since(m.now())
        .unwrap()
        .as_secs();
    assert!(
        left > 89 * DAY,
        "renewed for 90 days from the model's time: {left} s"
    );
    let st = leader_status(&m, &leader);
    assert!(st.ends_with("; next expiry in 90 d"), "{st}");
    for _ in 0..2 {
        m.advance_clock(Duration::from_secs(DAY + HOUR));
        update_status(&mut m);
    }
    assert_eq!(lines(&m, &leader).len(), 2);
    assert!(!leader_status(&m, &leader).contains("at risk"));
    assert_provider_hooks_ok(&m);
}
