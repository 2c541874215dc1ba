//! The rotation state machine and the renewal of CAs signed elsewhere, state in / state out
//! against the in-memory hook tools.

use std::time::{Duration, SystemTime};

use super::elsewhere::{next_deadline, renew_at};
use super::install::CaChange;
use super::rotation::{ensure, CaOutcome};
use super::*;
use crate::charm::config::Config;
use crate::pki::{CaSubject, KeyAlgorithm};

const DAY: u64 = 86_400;

fn config(validity: &str, overlap: &str) -> Config {
    let mut m = serde_json::Map::new();
    m.insert("certificate-validity".into(), validity.into());
    m.insert("ca-rotation-overlap".into(), overlap.into());
    Config::from_map(&m).unwrap()
}

#[test]
fn an_intermediate_renews_validity_plus_overlap_plus_a_day_early_but_not_in_its_first_half() {
    let subject = CaSubject {
        common_name: "i".into(),
        ..CaSubject::default()
    };
    let now = SystemTime::now();
    let long = Ca::generate_at(&subject, KeyAlgorithm::EcdsaP256, 365 * DAY, now).unwrap();
    let c = config("30d", "24h");
    let at = renew_at(&long, &c);
    assert_eq!(
        long.not_after().duration_since(at).unwrap().as_secs(),
        32 * DAY
    );
    let short = Ca::generate_at(&subject, KeyAlgorithm::EcdsaP256, 31 * DAY, now).unwrap();
    let at = renew_at(&short, &c);
    let from_start = at.duration_since(short.not_before()).unwrap().as_secs();
    // usable = 31 d + 60 s − 30 d; renewal at half of it rather than before the start.
    assert_eq!(from_start, (DAY + 60) / 2);
}

mod signed_elsewhere {
    use super::*;
    use crate::charm::ca::install::Candidate;
    use crate::pki::sign::{issue, IssueRequest};
    use crate::pki::ParsedCsr;
    use juju_hook::fake::FakeTools;

    fn cfg(cn: &str) -> Config {
        let mut m = serde_json::Map::new();
        m.insert("ca-common-name".into(), cn.into());
        m.insert("certificate-validity".into(), "30d".into());
        Config::from_map(&m).unwrap()
    }

    fn root(name: &str) -> Ca {
        let subject = CaSubject {
            common_name: name.into(),
            ..CaSubject::default()
        };
        Ca::generate(&subject, KeyAlgorithm::EcdsaP256, 3650 * DAY).unwrap()
    }

    /// Runs `get-ca-signing-request` then `set-ca-certificate` with `root` signing, at `now`.
    fn ceremony(tools: &FakeTools, config: &Config, root: &Ca, now: SystemTime) -> CaOutcome {
        let asked = ensure(tools, config, now, Some(CaChange::Request), None, None).unwrap();
        let p = asked.stored.pending.as_ref().unwrap();
        let parsed = ParsedCsr::parse(&p.csr_pem).unwrap();
        let cert = issue(
            root,
            &IssueRequest {
                crl_url: None,
                csr: &parsed,
                is_ca: true,
                validity_secs: 365 * DAY,
                now,
            },
        )
        .unwrap();
        let cand = Candidate {
            ca: Ca {
                cert,
                key: p.key.clone(),
            },
            chain: vec![root.cert.clone()],
            source: CaSource::Ceremony,
            csr: Some(p.csr_pem.clone()),
            requested_for: Some(p.requested_for.clone()),
        };
        let change = CaChange::Install(Box::new(cand), "ceremony".into());
        ensure(tools, config, now, Some(change), None, None).unwrap()
    }

    #[test]
    fn a_config_change_during_the_overlap_never_falls_back_to_a_self_signed_root() {
        let tools = FakeTools::new("tls-provider", true);
        let now = SystemTime::now();
        let a = cfg("a");
        ensure(&tools, &a, now, None, None, None).unwrap();
        let r1 = root("R1");
        let out = ceremony(&tools, &a, &r1, now);
        assert!(out.announced.is_some(), "another root: announced first");
        let next = out.stored.next.as_ref().unwrap();
        assert_eq!(next.source, CaSource::Ceremony);
        let next_pem = next.pem.clone();
        // The subject option changes during the overlap: the ceremony CA stays announced.
        let out = ensure(&tools, &cfg("b"), now, None, None, None).unwrap();
        assert!(out.announced.is_none() && out.rotated.is_none());
        assert_eq!(out.stored.next.as_ref().unwrap().pem, next_pem);
        // And switches at the end of the overlap.
        let later = now + Duration::from_secs(DAY + 60);
        let out = ensure(&tools, &cfg("b"), later, None, None, None).unwrap();
        assert!(out.rotated.is_some());
        assert_eq!(out.stored.source, CaSource::Ceremony);
        assert_eq!(out.stored.ca_pem, next_pem);
        // Nothing more happens on the next hook (no churn).
        let again = ensure(&tools, &cfg("b"), later, None, None, None).unwrap();
        assert!(again.rotated.is_none() && again.announced.is_none());
    }

    #[test]
    fn after_a_switch_between_roots_the_bundle_keeps_the_old_root_not_the_intermediate() {
        let tools = FakeTools::new("tls-provider", true);
        let now = SystemTime::now();
        let a = cfg("a");
        ensure(&tools, &a, now, None, None, None).unwrap();
        let (r1, r2) = (root("R1"), root("R2"));
        ceremony(&tools, &a, &r1, now);
        let t1 = now + Duration::from_secs(DAY + 60);
        let out = ensure(&tools, &a, t1, None, None, None).unwrap();
        assert!(
            out.stored.previous_root.is_none(),
            "a self-signed root has none"
        );
        let out = ceremony(&tools, &a, &r2, t1);
        assert!(out.announced.is_some());
        let t2 = t1 + Duration::from_secs(DAY + 60);
        let out = ensure(&tools, &a, t2, None, None, None).unwrap();
        assert!(out.rotated.is_some());
        let prev_root = out.stored.previous_root.as_ref().unwrap();
        assert_eq!(prev_root.to_der().unwrap(), r1.cert.to_der().unwrap());
        assert_eq!(
            out.stored.root().to_der().unwrap(),
            r2.cert.to_der().unwrap()
        );
    }

    #[test]
    fn the_deadline_of_a_ca_signed_elsewhere_is_never_in_the_past() {
        let subject = CaSubject {
            common_name: "i".into(),
            ..CaSubject::default()
        };
        let now = SystemTime::now();
        let ca = Ca::generate_at(&subject, KeyAlgorithm::EcdsaP256, 100 * DAY, now).unwrap();
        let c = cfg("i");
        let renew = renew_at(&ca, &c);
        assert_eq!(next_deadline(&ca, &c, now), renew);
        let after = renew + Duration::from_secs(1);
        let short = next_deadline(&ca, &c, after);
        assert!(short > after);
        assert_eq!(
            ca.not_after().duration_since(short).unwrap().as_secs(),
            30 * DAY
        );
        let late = short + Duration::from_secs(1);
        assert_eq!(next_deadline(&ca, &c, late), ca.not_after());
    }
}
