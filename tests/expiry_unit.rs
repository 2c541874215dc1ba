//! Expiry you can see coming (issue 14, item 4), against the in-memory model with a settable
//! clock: a certificate entering its `expiry-warning` window is logged once a day with the
//! fixed prefix and its fields, counted in the leader's status (scoped hooks and full passes
//! alike), and forgotten once its requirer renews; an `update-status` with nothing due stays
//! one call, one that finds the window or the next daily line due is a full pass.

mod common;

use std::time::{Duration, SystemTime};

use common::interop::crafted_with_dns;
use common::world::World;
use juju_hook::LogLevel;
use serde_json::json;
use tls_provider::charm::clock::rfc3339;
use tls_provider::charm::expiry::state::STATE_FILE;
use tls_provider::charm::reconcile::scope::{Pass, Why};
use tls_provider::charm::reconcile::{ReconcileOptions, Summary};
use tls_provider::protocol::modern::ProviderCertificate;

const HOUR: u64 = 3_600;
const DAY: u64 = 86_400;
const REL: u32 = 1;
const PREFIX: &str = "tls-provider expiry-warning:";

fn at(t0: SystemTime, secs: u64) -> SystemTime {
    t0 + Duration::from_secs(secs)
}

/// The leader with the peer relation and relation [`REL`] (`web`, one unit asking for
/// `web-0.example.com`), 30-day certificates, after a full pass at `t0`.
fn world(t0: SystemTime, config: &[(&str, &str)]) -> World {
    let w = World::new(true);
    w.config("certificate-validity", json!("30d"));
    w.config("full-reconcile-interval", json!("60d"));
    // CRLs are re-signed at half their validity, a deadline of its own.
    w.config("crl-validity", json!("366d"));
    for (k, v) in config {
        w.config(k, json!(v));
    }
    w.tools.add_relation(90, "cluster", common::world::APP, &[]);
    w.relate(REL, "web", &["web/0"]);
    let c = crafted_with_dns("web-0.example.com");
    w.request(REL, "web/0", &[(&c.pem, false)]);
    let s = w.reconcile_at(t0);
    assert_eq!(s.totals.published, 1);
    w
}

fn warnings(w: &World) -> Vec<String> {
    let st = w.tools.state.borrow();
    st.logs
        .iter()
        .filter(|(l, m)| *l == LogLevel::Warning && m.starts_with(PREFIX))
        .map(|(_, m)| m.clone())
        .collect()
}

fn status(s: &Summary) -> String {
    s.status.clone().expect("a status").1
}

fn published(w: &World) -> ProviderCertificate {
    let mut certs = w.certificates(REL);
    assert_eq!(certs.len(), 1);
    certs.remove(0)
}

fn facts(pem: &str) -> (String, SystemTime) {
    let x = openssl::x509::X509::from_pem(pem.as_bytes()).unwrap();
    let serial = x.serial_number().to_bn().unwrap().to_hex_str().unwrap();
    let na = tls_provider::pki::verify::asn1_to_system(x.not_after());
    (serial.to_string(), na)
}

fn scoped_hook(w: &World, now: SystemTime) -> Summary {
    let ctx = w.unit_ctx("changed", REL, "web/0");
    w.run_ctx(&ctx, now, ReconcileOptions::default())
}

#[test]
fn a_certificate_in_its_window_is_logged_daily_counted_and_forgotten_once_renewed() {
    let t0 = SystemTime::now();
    let w = world(t0, &[]);
    let (serial, not_after) = facts(&published(&w).certificate);
    assert!(status(&w.reconcile_at(t0)).ends_with("; next expiry in 30 d"));

    // Before the window (20% of 30 days: from day 24) update-status costs one call.
    w.tools.reset_calls();
    assert_eq!(w.update_status_at(at(t0, 23 * DAY)).pass, Some(Pass::Idle));
    assert_eq!(w.calls(), ["is-leader"]);
    assert!(warnings(&w).is_empty());

    // Into the window: a full pass, one line with every field, the status counts it.
    let s = w.update_status_at(at(t0, 24 * DAY + HOUR));
    assert_eq!(s.pass, Some(Pass::Full(Why::Deadline)));
    let expected = format!(
        "{PREFIX} kind=certificate application=web unit=web/0 common_name=web-0.example.com \
         serial={serial} not_after={} days_left=5",
        rfc3339(not_after)
    );
    assert_eq!(warnings(&w), std::slice::from_ref(&expected));
    assert!(
        status(&s).ends_with("; next expiry in 6 d, 1 at risk of expiry"),
        "{}",
        status(&s)
    );
    assert_eq!(s.totals.signed, 0, "not renewed by the charm yet (day 27)");

    // Less than a day later: idle again, or a scoped hook with the same count; no new line.
    assert_eq!(
        w.update_status_at(at(t0, 24 * DAY + 10 * HOUR)).pass,
        Some(Pass::Idle)
    );
    let s = scoped_hook(&w, at(t0, 24 * DAY + 12 * HOUR));
    assert!(matches!(s.pass, Some(Pass::Scoped { .. })), "{:?}", s.pass);
    assert!(
        status(&s).ends_with(", 1 at risk of expiry"),
        "{}",
        status(&s)
    );
    assert_eq!(warnings(&w).len(), 1);

    // A day after the line: update-status wakes into a full pass and logs it again.
    let s = w.update_status_at(at(t0, 25 * DAY + HOUR + 1));
    assert_eq!(s.pass, Some(Pass::Full(Why::Deadline)));
    let lines = warnings(&w);
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[1], expected.replace("days_left=5", "days_left=4"));
    assert!(w.dir.path().join(STATE_FILE).exists());

    // The requirer renews (a new CSR): a new certificate, nothing at risk, no more lines.
    let renewed = crafted_with_dns("web-0.example.com");
    w.request(REL, "web/0", &[(&renewed.pem, false)]);
    let s = scoped_hook(&w, at(t0, 25 * DAY + 2 * HOUR));
    assert_eq!(s.totals.signed, 1);
    assert_ne!(facts(&published(&w).certificate).0, serial);
    assert!(
        status(&s).ends_with("; next expiry in 30 d"),
        "{}",
        status(&s)
    );
    assert!(
        !w.dir.path().join(STATE_FILE).exists(),
        "nothing to remember"
    );
    w.tools.reset_calls();
    assert_eq!(
        w.update_status_at(at(t0, 26 * DAY + 2 * HOUR)).pass,
        Some(Pass::Idle)
    );
    assert_eq!(w.calls(), ["is-leader"]);
    let s = w.reconcile_at(at(t0, 26 * DAY + 3 * HOUR));
    assert!(!status(&s).contains("at risk"), "{}", status(&s));
    assert_eq!(warnings(&w).len(), 2);
}

#[test]
fn a_duration_window_and_warnings_off() {
    let t0 = SystemTime::now();
    // 3d before the end: from day 27, when the charm's own renewal (a tenth of the lifetime)
    // also comes; with 4d the window opens a day earlier.
    let w = world(t0, &[("expiry-warning", "4d")]);
    assert_eq!(
        w.update_status_at(at(t0, 25 * DAY + 23 * HOUR)).pass,
        Some(Pass::Idle)
    );
    let s = w.update_status_at(at(t0, 26 * DAY + HOUR));
    assert_eq!(s.pass, Some(Pass::Full(Why::Deadline)));
    assert_eq!(warnings(&w).len(), 1);
    assert!(warnings(&w)[0].contains(" days_left=3"));

    let off = world(t0, &[("expiry-warning", "0")]);
    let s = off.update_status_at(at(t0, 26 * DAY + HOUR));
    assert_eq!(s.pass, Some(Pass::Idle), "nothing due without warnings");
    let s = off.reconcile_at(at(t0, 26 * DAY + 2 * HOUR));
    assert!(
        status(&s).ends_with("; next expiry in 4 d"),
        "{}",
        status(&s)
    );
    assert!(warnings(&off).is_empty());
}

#[test]
fn legacy_certificates_are_watched_too_and_the_charm_renewing_them_ends_the_warnings() {
    let t0 = SystemTime::now();
    let w = World::new(true);
    w.config("certificate-validity", json!("30d"));
    w.config("full-reconcile-interval", json!("60d"));
    w.config("ca-key-algorithm", json!("ecdsa-p256"));
    w.config("crl-validity", json!("366d"));
    // Half the lifetime: from day 15, before the charm re-signs legacy certificates (a third
    // of certificate-validity before their end: day 20).
    w.config("expiry-warning", json!("50%"));
    w.tools.add_relation(90, "cluster", common::world::APP, &[]);
    w.relate(3, "etcd", &["etcd/0"]);
    w.set_unit_keys(
        3,
        "etcd/0",
        &[
            ("unit_name", "etcd_0"),
            ("common_name", "etcd.example.com"),
            ("sans", "[]"),
        ],
    );
    let s = w.reconcile_at(t0);
    assert_eq!(s.by_dialect[1].published, 1, "{:?}", s.by_dialect);
    assert_eq!(w.update_status_at(at(t0, 14 * DAY)).pass, Some(Pass::Idle));
    let s = w.update_status_at(at(t0, 15 * DAY + HOUR));
    assert_eq!(s.pass, Some(Pass::Full(Why::Deadline)));
    let lines = warnings(&w);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].starts_with(&format!(
            "{PREFIX} kind=certificate application=etcd unit=etcd/0 \
             common_name=etcd.example.com serial="
        )),
        "{}",
        lines[0]
    );
    assert!(status(&s).contains("1 at risk of expiry"), "{}", status(&s));
    // Day 20: the charm re-signs it; the new certificate is not at risk.
    let s = w.update_status_at(at(t0, 20 * DAY + HOUR));
    assert_eq!(s.totals.signed, 2, "it and the shared client certificate");
    assert!(!status(&s).contains("at risk"), "{}", status(&s));
    assert_eq!(warnings(&w).len(), 1, "{:?}", warnings(&w));
}

#[test]
fn a_ca_signed_elsewhere_in_its_renewal_window_without_a_successor_is_logged() {
    let t0 = SystemTime::now();
    let w = World::new(true);
    w.config("certificate-validity", json!("30d"));
    w.config("root-ca-validity", json!("365d"));
    w.config("full-reconcile-interval", json!("60d"));
    w.reconcile_at(t0);
    // The operator's CA (import-ca), as the secret holds it: no upstream to renew it.
    {
        let mut st = w.tools.state.borrow_mut();
        let secret = st
            .secrets
            .values_mut()
            .find(|s| s.label.as_deref() == Some("tls-provider-ca"))
            .unwrap();
        let content = secret.revisions.last_mut().unwrap();
        content.insert("source".into(), "imported".into());
    }
    let s = w.reconcile_at(at(t0, 300 * DAY));
    assert!(!status(&s).contains("at risk"), "{}", status(&s));
    assert!(warnings(&w).is_empty());
    // Renewal is due 30d + 1d overlap + 1d before its end (day 333).
    let s = w.reconcile_at(at(t0, 334 * DAY));
    let lines = warnings(&w);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].starts_with(&format!(
            "{PREFIX} kind=ca application={} unit=- common_name=",
            common::world::APP
        )),
        "{}",
        lines[0]
    );
    assert!(lines[0].ends_with(" days_left=31"), "{}", lines[0]);
    assert!(status(&s).contains("1 at risk of expiry"), "{}", status(&s));
    // Once a day, by update-status.
    assert_eq!(
        w.update_status_at(at(t0, 334 * DAY + 23 * HOUR)).pass,
        Some(Pass::Idle)
    );
    let s = w.update_status_at(at(t0, 335 * DAY + 1));
    assert_eq!(s.pass, Some(Pass::Full(Why::Deadline)));
    assert_eq!(warnings(&w).len(), 2);
}
