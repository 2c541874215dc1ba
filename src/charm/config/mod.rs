//! The charm's configuration: parsed from `config-get`, validated as a whole.
//!
//! Rules (documented in README):
//! - `mode`: `self-signed` (default) or `manual`.
//! - CA subject: `ca-common-name` (required, default `tls-provider`), `ca-organization`,
//!   `ca-organizational-unit`, `ca-email-address`, `ca-country-name` (2 letters),
//!   `ca-state-or-province-name`, `ca-locality-name`; at most 64 characters each.
//! - `ca-key-algorithm`: `rsa-2048` (default), `rsa-3072`, `rsa-4096`, `ecdsa-p256`, `ecdsa-p384`.
//! - `root-ca-validity` (`365d`), `certificate-validity` (`90d`): a positive whole number followed
//!   by a unit, `m` (minutes), `h` (hours), `d` (days) or `w` (weeks). A bare number means days (as
//!   in self-signed-certificates). The root must be at least twice the leaf.
//! - `allowed-domains`: comma-separated DNS suffixes (empty = any). `example.com` allows
//!   `example.com` and every name under it. A leading `.` is ignored; wildcards are not suffixes.
//! - `allow-ip-sans` (true), `allow-wildcard-dns` (true), `allow-ca-requests` (false).
//! - `certificate-limit`: certificates per relation, `0` = unlimited.
//! - `ca-rotation-overlap` (`24h`): how long a new CA is announced on `send-ca-cert` before it
//!   signs; `0` switches at once. Same format as the validities, `0` allowed;
//!   `certificate-validity + 2 × ca-rotation-overlap` must be less than `root-ca-validity`.
//! - `trusted-certificates`: PEM certificates (or base64 of PEM) added to the trust bundle.
//! - `full-reconcile-interval` (`6h`): a relation hook serves only its own relation, but a full
//!   pass over every relation runs at least this often; same format, `0` = every hook is full.
//! - `crl-distribution-url`: when set, the CRL Distribution Point of every certificate issued.
//! - `crl-validity` (`7d`, 1h to 366d): a CRL's nextUpdate after its thisUpdate; the leader
//!   signs a new CRL at half of it.
//! - `expiry-warning` (`20%`): a certificate with less than this share of its lifetime (or this
//!   duration, e.g. `14d`) left is at risk: counted in status and logged daily. `0` = off.
//!
//! Invalid values are collected, all of them, as (option, why) pairs for the blocked status.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

mod operate;
mod values;

pub use self::operate::{ExpiryWarning, DEFAULT_CRL_VALIDITY, DEFAULT_EXPIRY_WARNING};
use self::values::parse_application_entry;
pub use self::values::{check_dns_suffix, format_duration, parse_duration, parse_key_algorithm};
use crate::pki::{trust, CaSubject, KeyAlgorithm, Policy};

/// Every option of config.yaml.
pub const OPTIONS: &[&str] = &[
    "mode",
    "ca-common-name",
    "ca-organization",
    "ca-organizational-unit",
    "ca-email-address",
    "ca-country-name",
    "ca-state-or-province-name",
    "ca-locality-name",
    "ca-key-algorithm",
    "root-ca-validity",
    "certificate-validity",
    "allowed-domains",
    "allow-ip-sans",
    "allow-wildcard-dns",
    "allow-ca-requests",
    "certificate-limit",
    "application-domains",
    "ca-rotation-overlap",
    "trusted-certificates",
    "full-reconcile-interval",
    "crl-distribution-url",
    "crl-validity",
    "expiry-warning",
];

pub const DEFAULT_CA_COMMON_NAME: &str = "tls-provider";
pub const DEFAULT_ROOT_CA_VALIDITY: &str = "365d";
pub const DEFAULT_CERTIFICATE_VALIDITY: &str = "90d";
pub const DEFAULT_CA_ROTATION_OVERLAP: &str = "24h";
pub const DEFAULT_FULL_RECONCILE_INTERVAL: &str = "6h";

/// Who signs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// The built-in CA signs every acceptable CSR.
    SelfSigned,
    /// Operators provide certificates by action; the built-in CA signs nothing.
    Manual,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::SelfSigned => "self-signed",
            Mode::Manual => "manual",
        }
    }
}

/// A validated configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    pub mode: Mode,
    pub ca_subject: CaSubject,
    pub ca_key_algorithm: KeyAlgorithm,
    /// Seconds.
    pub root_ca_validity: u64,
    /// Seconds.
    pub certificate_validity: u64,
    pub policy: Policy,
    /// Certificates per relation; 0 = unlimited.
    pub certificate_limit: u32,
    /// Seconds a new CA is announced before it signs (0: it signs at once).
    pub ca_rotation_overlap: u64,
    /// `trusted-certificates`, each certificate as normalised PEM.
    pub trusted_certificates: Vec<String>,
    /// Seconds between full reconciles at most (0: every hook is a full reconcile).
    pub full_reconcile_interval: u64,
    /// Put in every certificate issued as its CRL Distribution Point.
    pub crl_distribution_url: Option<String>,
    /// Seconds from a CRL's thisUpdate to its nextUpdate.
    pub crl_validity: u64,
    /// When a certificate counts as expiring.
    pub expiry_warning: ExpiryWarning,
}

/// One invalid option and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigIssue {
    pub option: &'static str,
    pub why: String,
}

/// All the invalid options (never empty).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid config: {}", self.summary())]
pub struct ConfigErrors(pub Vec<ConfigIssue>);

impl ConfigErrors {
    /// `opt: why; opt: why`.
    pub fn summary(&self) -> String {
        self.0
            .iter()
            .map(|i| format!("{}: {}", i.option, i.why))
            .collect::<Vec<_>>()
            .join("; ")
    }
    /// The names of the bad options.
    pub fn options(&self) -> Vec<&'static str> {
        self.0.iter().map(|i| i.option).collect()
    }
}

struct Reader<'a> {
    map: &'a Map<String, Value>,
    issues: Vec<ConfigIssue>,
}

impl Reader<'_> {
    fn issue(&mut self, option: &'static str, why: String) {
        self.issues.push(ConfigIssue { option, why });
    }

    /// A string option; `None` when unset or empty.
    fn string(&mut self, option: &'static str) -> Option<String> {
        match self.map.get(option) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => {
                let s = s.trim();
                (!s.is_empty()).then(|| s.to_string())
            }
            Some(Value::Number(n)) => Some(n.to_string()),
            Some(other) => {
                self.issue(option, format!("expected a string, got {other}"));
                None
            }
        }
    }

    fn boolean(&mut self, option: &'static str, default: bool) -> bool {
        match self.map.get(option) {
            None | Some(Value::Null) => default,
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
                "true" => true,
                "false" => false,
                _ => {
                    self.issue(option, format!("{s:?} is not true or false"));
                    default
                }
            },
            Some(other) => {
                self.issue(option, format!("{other} is not true or false"));
                default
            }
        }
    }

    fn subject_field(&mut self, option: &'static str) -> Option<String> {
        let v = self.string(option)?;
        if v.chars().count() > 64 {
            self.issue(option, format!("{v:?} is longer than 64 characters"));
            return None;
        }
        if v.chars().any(|c| c.is_control()) {
            self.issue(option, "contains control characters".to_string());
            return None;
        }
        Some(v)
    }
}

/// One reader method per group of options; each records its issues and returns a usable value.
impl Reader<'_> {
    fn mode(&mut self) -> Mode {
        match self.string("mode").as_deref() {
            None | Some("self-signed") => Mode::SelfSigned,
            Some("manual") => Mode::Manual,
            Some(other) => {
                self.issue(
                    "mode",
                    format!("{other:?} is not a mode (use self-signed or manual)"),
                );
                Mode::SelfSigned
            }
        }
    }

    fn ca_subject(&mut self) -> CaSubject {
        if matches!(self.map.get("ca-common-name"), Some(Value::String(s)) if s.trim().is_empty()) {
            self.issue(
                "ca-common-name",
                format!("must not be empty (the default is {DEFAULT_CA_COMMON_NAME:?})"),
            );
        }
        let common_name = self
            .subject_field("ca-common-name")
            .unwrap_or_else(|| DEFAULT_CA_COMMON_NAME.to_string());
        let organization = self.subject_field("ca-organization");
        let organizational_unit = self.subject_field("ca-organizational-unit");
        let email_address = self.subject_field("ca-email-address");
        if let Some(e) = &email_address {
            // emailAddress is an IA5String: ASCII only.
            let valid = e.is_ascii()
                && e.split_once('@')
                    .is_some_and(|(l, d)| !l.is_empty() && !d.is_empty() && !d.contains('@'));
            if !valid {
                self.issue("ca-email-address", format!("{e:?} is not an email address"));
            }
        }
        let country_name = self.subject_field("ca-country-name");
        if let Some(c) = &country_name {
            if c.len() != 2 || !c.bytes().all(|b| b.is_ascii_alphabetic()) {
                self.issue(
                    "ca-country-name",
                    format!("{c:?} is not a two-letter country code (e.g. GB)"),
                );
            }
        }
        CaSubject {
            common_name,
            organization,
            organizational_unit,
            email_address,
            country_name,
            state_or_province_name: self.subject_field("ca-state-or-province-name"),
            locality_name: self.subject_field("ca-locality-name"),
        }
    }

    fn key_algorithm(&mut self) -> KeyAlgorithm {
        let alg_text = self
            .string("ca-key-algorithm")
            .unwrap_or_else(|| "rsa-2048".to_string());
        parse_key_algorithm(&alg_text).unwrap_or_else(|| {
            self.issue(
                "ca-key-algorithm",
                format!(
                    "{alg_text:?} is not supported (use rsa-2048, rsa-3072, rsa-4096, ecdsa-p256 or ecdsa-p384)"
                ),
            );
            KeyAlgorithm::Rsa2048
        })
    }

    /// `root-ca-validity` and `certificate-validity` in seconds (0 when invalid).
    fn validities(&mut self) -> (u64, u64) {
        let root_text = self
            .string("root-ca-validity")
            .unwrap_or_else(|| DEFAULT_ROOT_CA_VALIDITY.to_string());
        let root = parse_duration(&root_text)
            .map_err(|why| self.issue("root-ca-validity", why))
            .ok();
        let leaf_text = self
            .string("certificate-validity")
            .unwrap_or_else(|| DEFAULT_CERTIFICATE_VALIDITY.to_string());
        let leaf = parse_duration(&leaf_text)
            .map_err(|why| self.issue("certificate-validity", why))
            .ok();
        if let (Some(root), Some(leaf)) = (root, leaf) {
            if root < leaf.saturating_mul(2) {
                self.issue(
                    "root-ca-validity",
                    format!(
                        "must be at least twice certificate-validity ({})",
                        format_duration(leaf.saturating_mul(2))
                    ),
                );
            }
        }
        (root.unwrap_or_default(), leaf.unwrap_or_default())
    }

    /// `ca-rotation-overlap` in seconds: it must leave a new CA time to sign full-length
    /// certificates before its own rotation is announced.
    fn overlap(&mut self, root: u64, leaf: u64) -> u64 {
        let text = self
            .string("ca-rotation-overlap")
            .unwrap_or_else(|| DEFAULT_CA_ROTATION_OVERLAP.to_string());
        let overlap = match text.as_str() {
            "0" => 0,
            t => match parse_duration(t) {
                Ok(secs) => secs,
                Err(why) => {
                    self.issue("ca-rotation-overlap", format!("{why} (0 switches at once)"));
                    return 0;
                }
            },
        };
        // A new CA signs from the end of its overlap and announces its successor at notAfter -
        // certificate-validity - overlap: that must come after its own switch.
        if root > 0 && leaf > 0 && leaf.saturating_add(overlap.saturating_mul(2)) >= root {
            self.issue(
                "ca-rotation-overlap",
                format!(
                    "twice {} plus certificate-validity ({}) must be less than root-ca-validity ({}); \
                     shorten it (0 switches at once) or lengthen root-ca-validity",
                    format_duration(overlap),
                    format_duration(leaf),
                    format_duration(root)
                ),
            );
        }
        overlap
    }

    /// `full-reconcile-interval` in seconds (`0`: every hook reconciles every relation).
    fn full_reconcile_interval(&mut self) -> u64 {
        let text = self
            .string("full-reconcile-interval")
            .unwrap_or_else(|| DEFAULT_FULL_RECONCILE_INTERVAL.to_string());
        if text == "0" {
            return 0;
        }
        parse_duration(&text).unwrap_or_else(|why| {
            self.issue(
                "full-reconcile-interval",
                format!("{why} (0 makes every hook a full reconcile)"),
            );
            0
        })
    }

    /// `trusted-certificates`: PEM certificates, or base64 of such a PEM bundle.
    fn trusted_certificates(&mut self) -> Vec<String> {
        let Some(text) = self.string("trusted-certificates") else {
            return Vec::new();
        };
        match trust::parse_trusted(&text) {
            Ok(pems) => pems,
            Err(why) => {
                self.issue("trusted-certificates", why);
                Vec::new()
            }
        }
    }

    fn policy(&mut self) -> Policy {
        let mut allowed_domains = Vec::new();
        if let Some(text) = self.string("allowed-domains") {
            let mut bad = Vec::new();
            for part in text.split(',') {
                let d = part.trim().trim_start_matches('.').to_ascii_lowercase();
                let d = d.trim_end_matches('.').to_string();
                if d.is_empty() {
                    continue;
                }
                match check_dns_suffix(&d) {
                    Ok(()) if allowed_domains.contains(&d) => {}
                    Ok(()) => allowed_domains.push(d),
                    Err(why) => bad.push(why),
                }
            }
            if !bad.is_empty() {
                self.issue("allowed-domains", bad.join(", "));
            }
        }
        Policy {
            allowed_domains,
            allow_ip_sans: self.boolean("allow-ip-sans", true),
            allow_wildcard_dns: self.boolean("allow-wildcard-dns", true),
            allow_ca_requests: self.boolean("allow-ca-requests", false),
            application_domains: self.application_domains(),
        }
    }

    /// `application-domains`: `app=domain,*.domain; other=domain` (see [`Policy`]).
    fn application_domains(&mut self) -> BTreeMap<String, Vec<String>> {
        let mut out = BTreeMap::new();
        let Some(text) = self.string("application-domains") else {
            return out;
        };
        let mut bad = Vec::new();
        for entry in text.split(';').map(str::trim).filter(|e| !e.is_empty()) {
            match parse_application_entry(entry) {
                Ok((app, _)) if out.contains_key(&app) => {
                    bad.push(format!("{app:?} is listed twice"))
                }
                Ok((app, domains)) => {
                    out.insert(app, domains);
                }
                Err(why) => bad.push(why),
            }
        }
        if !bad.is_empty() {
            self.issue("application-domains", bad.join(", "));
        }
        out
    }

    fn certificate_limit(&mut self) -> u32 {
        let Some(v) = self.map.get("certificate-limit").filter(|v| !v.is_null()) else {
            return 0;
        };
        let n = match v {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.trim().parse::<i64>().ok(),
            _ => None,
        };
        match n {
            Some(n) if (0..=u32::MAX as i64).contains(&n) => n as u32,
            _ => {
                self.issue(
                    "certificate-limit",
                    format!("{v} is not a whole number >= 0 (0 means unlimited)"),
                );
                0
            }
        }
    }
}

impl Config {
    /// Validates `config-get` output. Options missing from the map take their defaults.
    pub fn from_map(map: &Map<String, Value>) -> Result<Config, ConfigErrors> {
        let mut r = Reader {
            map,
            issues: vec![],
        };
        let mode = r.mode();
        let ca_subject = r.ca_subject();
        let ca_key_algorithm = r.key_algorithm();
        let (root_ca_validity, certificate_validity) = r.validities();
        let policy = r.policy();
        let certificate_limit = r.certificate_limit();
        let ca_rotation_overlap = r.overlap(root_ca_validity, certificate_validity);
        let trusted_certificates = r.trusted_certificates();
        let full_reconcile_interval = r.full_reconcile_interval();
        let crl_distribution_url = r.crl_distribution_url();
        let crl_validity = r.crl_validity();
        let expiry_warning = r.expiry_warning();
        if !r.issues.is_empty() {
            return Err(ConfigErrors(r.issues));
        }
        Ok(Config {
            mode,
            ca_subject,
            ca_key_algorithm,
            root_ca_validity,
            certificate_validity,
            policy,
            certificate_limit,
            ca_rotation_overlap,
            trusted_certificates,
            full_reconcile_interval,
            crl_distribution_url,
            crl_validity,
            expiry_warning,
        })
    }
}

#[cfg(test)]
mod tests;
