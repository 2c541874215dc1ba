//! Unit tests of config parsing.

use super::*;
use serde_json::json;

fn cfg(v: Value) -> Result<Config, ConfigErrors> {
    Config::from_map(v.as_object().unwrap())
}

#[test]
fn defaults() {
    let c = cfg(json!({})).unwrap();
    assert_eq!(c.mode, Mode::SelfSigned);
    assert_eq!(c.ca_subject.common_name, "tls-provider");
    assert_eq!(c.ca_key_algorithm, KeyAlgorithm::Rsa2048);
    assert_eq!(c.root_ca_validity, 365 * 86_400);
    assert_eq!(c.certificate_validity, 90 * 86_400);
    assert_eq!(c.policy, Policy::default());
    assert_eq!(c.certificate_limit, 0);
    assert_eq!(c.full_reconcile_interval, 6 * 3_600);
}

#[test]
fn full_reconcile_interval_is_a_duration_or_0() {
    let c = cfg(json!({"full-reconcile-interval": "0"})).unwrap();
    assert_eq!(c.full_reconcile_interval, 0);
    let c = cfg(json!({"full-reconcile-interval": "90m"})).unwrap();
    assert_eq!(c.full_reconcile_interval, 5_400);
    for bad in ["-1h", "soon", "1y"] {
        let e = cfg(json!({"full-reconcile-interval": bad})).unwrap_err();
        assert_eq!(e.options(), vec!["full-reconcile-interval"], "{bad}");
        assert!(
            e.to_string()
                .contains("0 makes every hook a full reconcile"),
            "{e}"
        );
    }
}

#[test]
fn durations() {
    assert_eq!(parse_duration("30m"), Ok(1_800));
    assert_eq!(parse_duration("2h"), Ok(7_200));
    assert_eq!(parse_duration("2w"), Ok(1_209_600));
    assert_eq!(parse_duration("7"), Ok(7 * 86_400));
    assert_eq!(parse_duration(" 7D "), Ok(7 * 86_400));
    for bad in [
        "",
        "0",
        "0d",
        "-5d",
        "1y",
        "d",
        "1.5d",
        "5 d",
        "99999999999999999999d",
    ] {
        assert!(parse_duration(bad).is_err(), "{bad}");
    }
    assert_eq!(format_duration(180 * 86_400), "180d");
    assert_eq!(format_duration(14 * 86_400), "2w");
    assert_eq!(format_duration(90 * 60), "90m");
}

#[test]
fn every_issue_is_named() {
    let e = cfg(json!({
        "certificate-validity": "-5d",
        "root-ca-validity": "1y",
        "mode": "auto",
        "ca-key-algorithm": "dsa",
        "allowed-domains": "example.com, *.bad.com, a..b",
        "allow-ip-sans": "maybe",
        "certificate-limit": -1,
        "ca-country-name": "GBR",
        "ca-email-address": "nobody",
    }))
    .unwrap_err();
    let opts = e.options();
    for o in [
        "certificate-validity",
        "root-ca-validity",
        "mode",
        "ca-key-algorithm",
        "allowed-domains",
        "allow-ip-sans",
        "certificate-limit",
        "ca-country-name",
        "ca-email-address",
    ] {
        assert!(opts.contains(&o), "{o} missing from {e}");
    }
    assert!(e
        .to_string()
        .contains("certificate-validity: \"-5d\" is not a positive duration;"));
    assert!(e.to_string().contains(
        "root-ca-validity: \"1y\" is not a duration: use a whole number followed by m, h, d or w"
    ));
    let e = cfg(json!({"ca-common-name": " "})).unwrap_err();
    assert_eq!(e.options(), vec!["ca-common-name"]);
}

#[test]
fn root_must_be_twice_leaf() {
    let e = cfg(json!({"root-ca-validity": "100d", "certificate-validity": "90d"})).unwrap_err();
    assert_eq!(
        e.summary(),
        "root-ca-validity: must be at least twice certificate-validity (180d)"
    );
    assert!(cfg(json!({"root-ca-validity": "180d", "certificate-validity": "90d"})).is_ok());
}

#[test]
fn policy_and_limits() {
    let c = cfg(json!({
        "allowed-domains": " Example.COM, .internal., example.com,",
        "allow-ip-sans": false,
        "allow-wildcard-dns": "false",
        "allow-ca-requests": true,
        "certificate-limit": 3,
        "mode": "manual",
        "ca-key-algorithm": "ecdsa-p384",
        "ca-organization": "ACME",
    }))
    .unwrap();
    assert_eq!(c.policy.allowed_domains, vec!["example.com", "internal"]);
    assert!(!c.policy.allow_ip_sans);
    assert!(!c.policy.allow_wildcard_dns);
    assert!(c.policy.allow_ca_requests);
    assert_eq!(c.certificate_limit, 3);
    assert_eq!(c.mode, Mode::Manual);
    assert_eq!(c.ca_key_algorithm, KeyAlgorithm::EcdsaP384);
    assert_eq!(c.ca_subject.organization.as_deref(), Some("ACME"));
    assert_eq!(c.ca_subject.organizational_unit, None);
}
