//! The expiry model: windows by share and by duration, the outlook of several relations, the
//! CA in its renewal window without a successor, legacy unit names.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::*;

fn w(serial: &str, not_before: u64, not_after: u64) -> Watched {
    Watched {
        kind: Kind::Certificate,
        application: "web".into(),
        unit: Some("web/0".into()),
        common_name: "web.example.com".into(),
        serial: serial.into(),
        not_before,
        not_after,
    }
}

fn t(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

#[test]
fn a_share_of_the_lifetime_or_a_duration_opens_the_window() {
    // 100 days of life: 20% opens at day 80, 14d at day 86, off never.
    let c = w("A", 0, 100 * DAY);
    assert_eq!(c.window_start(ExpiryWarning::Percent(20)), Some(80 * DAY));
    assert_eq!(
        c.window_start(ExpiryWarning::Before(14 * DAY)),
        Some(86 * DAY)
    );
    assert_eq!(c.window_start(ExpiryWarning::Off), None);
    let before = Outlook::of(
        std::slice::from_ref(&c),
        ExpiryWarning::Percent(20),
        t(80 * DAY - 1),
    );
    assert!(before.at_risk.is_empty());
    assert_eq!(before.next_window, Some(80 * DAY));
    assert_eq!(before.nearest, Some(100 * DAY));
    let inside = Outlook::of(
        std::slice::from_ref(&c),
        ExpiryWarning::Percent(20),
        t(80 * DAY),
    );
    assert_eq!(inside.at_risk.keys().collect::<Vec<_>>(), ["A"]);
    assert_eq!(inside.next_window, None);
    let off = Outlook::of(&[c], ExpiryWarning::Off, t(99 * DAY));
    assert!(off.at_risk.is_empty() && off.next_window.is_none());
    assert_eq!(
        off.nearest,
        Some(100 * DAY),
        "the nearest expiry is shown anyway"
    );
}

#[test]
fn relations_add_up_and_the_status_counts_each_serial_once() {
    let now = t(85 * DAY);
    let warn = ExpiryWarning::Percent(20);
    let mut all = Outlook::of(&[w("A", 0, 100 * DAY), w("B", 0, 200 * DAY)], warn, now);
    all.add(&Outlook::of(&[w("A", 0, 100 * DAY)], warn, now));
    all.add(&Outlook::of(&[w("C", 0, 90 * DAY)], warn, now));
    assert_eq!(all.at_risk.len(), 2);
    assert_eq!(all.nearest, Some(90 * DAY));
    assert_eq!(all.next_window, Some(160 * DAY));
    assert_eq!(
        all.status(now).as_deref(),
        Some("next expiry in 5 d, 2 at risk of expiry")
    );
    assert_eq!(
        all.status(t(85 * DAY + DAY / 2 + 1)).as_deref(),
        Some("next expiry in 4 d, 2 at risk of expiry"),
        "to the nearest day"
    );
    assert_eq!(
        all.status(t(90 * DAY - 7_199)).as_deref(),
        Some("next expiry in 1 h, 2 at risk of expiry"),
        "hours under a day"
    );
    assert_eq!(Outlook::default().status(now), None);
    assert_eq!(w("A", 0, 100 * DAY).days_left(t(87 * DAY + 5)), 12);
}

fn ca(validity: u64, now: SystemTime) -> crate::pki::Ca {
    let subject = crate::pki::CaSubject {
        common_name: "Example CA".into(),
        ..Default::default()
    };
    crate::pki::Ca::generate_at(&subject, crate::pki::KeyAlgorithm::EcdsaP256, validity, now)
        .unwrap()
}

fn config(v: serde_json::Value) -> Config {
    Config::from_map(v.as_object().unwrap()).unwrap()
}

#[test]
fn the_ca_is_at_risk_in_its_renewal_window_without_a_successor() {
    // A 100-day root, 10-day leaves, 1-day overlap: the rotation is announced at day 89.
    let now = SystemTime::now();
    let cfg = config(serde_json::json!({
        "certificate-validity": "10d", "ca-rotation-overlap": "1d", "root-ca-validity": "100d"
    }));
    let stored = StoredCa::bare(ca(100 * DAY, now), CaSource::SelfSigned);
    let start = ca_window_start(&stored, &cfg);
    assert!(start.abs_diff(unix(now) + 89 * DAY) < 600, "{start}");
    assert_eq!(
        ca_at_risk(&stored, &cfg, "tls-provider", t(start - 1)),
        None
    );
    let w = ca_at_risk(&stored, &cfg, "tls-provider", t(start)).expect("at risk");
    assert_eq!((w.kind, w.common_name.as_str()), (Kind::Ca, "Example CA"));
    assert_eq!(w.application, "tls-provider");
    let mut with_next = stored;
    with_next.next = Some(crate::charm::ca::NextCa::self_signed(
        ca(100 * DAY, now),
        now,
        "near expiry".into(),
    ));
    assert_eq!(
        ca_at_risk(&with_next, &cfg, "tls-provider", t(start)),
        None,
        "a successor is announced"
    );
    let off = config(serde_json::json!({"expiry-warning": "0"}));
    let bare = StoredCa::bare(ca(100 * DAY, now), CaSource::SelfSigned);
    assert_eq!(
        ca_at_risk(&bare, &off, "tls-provider", t(start + DAY)),
        None
    );
}

#[test]
fn legacy_unit_keys_show_as_juju_unit_names() {
    let pem = ca(30 * DAY, SystemTime::now()).cert_pem();
    let entries = [
        (Some("web_0"), Some(pem.as_str())),
        (Some("custom_name"), Some(pem.as_str())),
        (None, Some(pem.as_str())),
        (Some("web_1"), None),
    ];
    let got = of_legacy("web", entries.into_iter());
    let units: Vec<_> = got.iter().map(|w| w.unit.as_deref()).collect();
    assert_eq!(units, [Some("web/0"), Some("custom_name"), None]);
}
