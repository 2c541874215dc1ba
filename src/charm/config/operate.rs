//! Options for operating the CA over time: `crl-distribution-url`, `crl-validity`,
//! `expiry-warning`.

use std::time::{Duration, SystemTime};

use super::values::{format_duration, parse_duration};
use super::Reader;

pub const DEFAULT_CRL_VALIDITY: &str = "7d";
pub const DEFAULT_EXPIRY_WARNING: &str = "20%";
/// The shortest and longest `crl-validity`: a CRL is refreshed at half-life by hooks that run
/// every few minutes, and clients cache it until its nextUpdate.
const MIN_CRL_VALIDITY: u64 = 3_600;
const MAX_CRL_VALIDITY: u64 = 366 * 86_400;

/// When a certificate counts as expiring (`expiry-warning`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExpiryWarning {
    /// No warnings (`0`).
    Off,
    /// This share, in percent (1..=99), of the certificate's lifetime is left.
    Percent(u8),
    /// This many seconds are left.
    Before(u64),
}

impl ExpiryWarning {
    /// The moment a certificate valid from `not_before` to `not_after` enters the warning
    /// window; `None` when warnings are off.
    pub fn starts(self, not_before: SystemTime, not_after: SystemTime) -> Option<SystemTime> {
        match self {
            ExpiryWarning::Off => None,
            ExpiryWarning::Percent(p) => {
                let life = not_after.duration_since(not_before).unwrap_or_default();
                let left = life.as_secs() * u64::from(p) / 100;
                Some(not_after - Duration::from_secs(left))
            }
            ExpiryWarning::Before(secs) => Some(
                not_after
                    .checked_sub(Duration::from_secs(secs))
                    .map_or(not_before, |t| t.max(not_before)),
            ),
        }
    }

    /// Whether the certificate is in its warning window at `now` (and not expired yet counts
    /// too: an expired certificate is the most at risk).
    pub fn is_due(self, not_before: SystemTime, not_after: SystemTime, now: SystemTime) -> bool {
        self.starts(not_before, not_after).is_some_and(|t| now >= t)
    }

    /// The option's text (`20%`, `14d`, `0`).
    pub fn as_text(self) -> String {
        match self {
            ExpiryWarning::Off => "0".into(),
            ExpiryWarning::Percent(p) => format!("{p}%"),
            ExpiryWarning::Before(secs) => format_duration(secs),
        }
    }
}

/// The longest `crl-distribution-url` accepted (it goes into every certificate).
const MAX_URL_LEN: usize = 1024;

impl Reader<'_> {
    /// `crl-distribution-url`: an `http://`, `https://` or `ldap://` URL with a host, printable
    /// ASCII without spaces; `None` when unset.
    pub(super) fn crl_distribution_url(&mut self) -> Option<String> {
        let url = self.string("crl-distribution-url")?;
        match check_url(&url) {
            Ok(()) => Some(url),
            Err(why) => {
                self.issue("crl-distribution-url", why);
                None
            }
        }
    }
}

impl Reader<'_> {
    /// `crl-validity` in seconds: the CRL's nextUpdate after its thisUpdate.
    pub(super) fn crl_validity(&mut self) -> u64 {
        let default = parse_duration(DEFAULT_CRL_VALIDITY).unwrap_or(7 * 86_400);
        let Some(text) = self.string("crl-validity") else {
            return default;
        };
        match parse_duration(&text) {
            Ok(secs) if (MIN_CRL_VALIDITY..=MAX_CRL_VALIDITY).contains(&secs) => secs,
            Ok(_) => {
                self.issue(
                    "crl-validity",
                    format!("{text:?} is out of range: use 1h to 366d (the default is {DEFAULT_CRL_VALIDITY})"),
                );
                default
            }
            Err(why) => {
                self.issue("crl-validity", why);
                default
            }
        }
    }

    /// `expiry-warning`: `N%` of a certificate's lifetime (1-99), a duration, or `0` (off).
    pub(super) fn expiry_warning(&mut self) -> ExpiryWarning {
        let text = self
            .string("expiry-warning")
            .unwrap_or_else(|| DEFAULT_EXPIRY_WARNING.to_string());
        if text == "0" || text == "0%" {
            return ExpiryWarning::Off;
        }
        if let Some(p) = text.strip_suffix('%') {
            return match p.trim().parse::<u8>() {
                Ok(p) if (1..=99).contains(&p) => ExpiryWarning::Percent(p),
                _ => {
                    self.issue(
                        "expiry-warning",
                        format!("{text:?} is not a percentage from 1% to 99% of a certificate's lifetime"),
                    );
                    ExpiryWarning::Percent(20)
                }
            };
        }
        parse_duration(&text)
            .map(ExpiryWarning::Before)
            .unwrap_or_else(|why| {
                self.issue(
                    "expiry-warning",
                    format!(
                        "{why}, or a percentage of the lifetime such as 20% (0 turns warnings off)"
                    ),
                );
                ExpiryWarning::Percent(20)
            })
    }
}

fn check_url(url: &str) -> Result<(), String> {
    if url.len() > MAX_URL_LEN {
        return Err(format!(
            "is {} characters long; the limit is {MAX_URL_LEN}",
            url.len()
        ));
    }
    if !url.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(format!(
            "{url:?} must be printable ASCII without spaces (percent-encode other characters)"
        ));
    }
    let lower = url.to_ascii_lowercase();
    let rest = ["http://", "https://", "ldap://"]
        .iter()
        .find_map(|scheme| lower.strip_prefix(scheme))
        .ok_or_else(|| {
            format!("{url:?} is not an http://, https:// or ldap:// URL (e.g. http://pki.example.com/ca.crl)")
        })?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    if host.is_empty() || host.starts_with(':') {
        return Err(format!("{url:?} has no host"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use serde_json::json;

    use super::ExpiryWarning;
    use crate::charm::config::Config;

    fn cfg(v: serde_json::Value) -> Result<Config, String> {
        Config::from_map(v.as_object().unwrap()).map_err(|e| e.summary())
    }

    #[test]
    fn crl_validity_defaults_to_a_week_and_is_bounded() {
        assert_eq!(cfg(json!({})).unwrap().crl_validity, 7 * 86_400);
        assert_eq!(
            cfg(json!({"crl-validity": "2d"})).unwrap().crl_validity,
            2 * 86_400
        );
        assert_eq!(
            cfg(json!({"crl-validity": "30m"})).unwrap_err(),
            "crl-validity: \"30m\" is out of range: use 1h to 366d (the default is 7d)"
        );
        assert!(cfg(json!({"crl-validity": "soon"}))
            .unwrap_err()
            .starts_with("crl-validity: \"soon\" is not a duration"));
    }

    #[test]
    fn expiry_warning_is_a_share_a_duration_or_off() {
        let w = |v: &str| cfg(json!({ "expiry-warning": v })).map(|c| c.expiry_warning);
        assert_eq!(
            cfg(json!({})).unwrap().expiry_warning,
            ExpiryWarning::Percent(20)
        );
        assert_eq!(w("5%"), Ok(ExpiryWarning::Percent(5)));
        assert_eq!(w("14d"), Ok(ExpiryWarning::Before(14 * 86_400)));
        assert_eq!(w("0"), Ok(ExpiryWarning::Off));
        assert_eq!(
            w("100%").unwrap_err(),
            "expiry-warning: \"100%\" is not a percentage from 1% to 99% of a certificate's lifetime"
        );
        assert!(w("soon")
            .unwrap_err()
            .contains("or a percentage of the lifetime such as 20%"));
    }

    #[test]
    fn the_warning_window_starts_at_the_share_left() {
        let nb = UNIX_EPOCH + Duration::from_secs(1_000_000);
        let na = nb + Duration::from_secs(100 * 86_400);
        let start = ExpiryWarning::Percent(20).starts(nb, na).unwrap();
        assert_eq!(start, na - Duration::from_secs(20 * 86_400));
        assert!(!ExpiryWarning::Percent(20).is_due(nb, na, start - Duration::from_secs(1)));
        assert!(ExpiryWarning::Percent(20).is_due(nb, na, start));
        assert_eq!(
            ExpiryWarning::Before(200 * 86_400).starts(nb, na),
            Some(nb),
            "a window longer than the life starts at notBefore"
        );
        assert_eq!(ExpiryWarning::Off.starts(nb, na), None);
        assert_eq!(ExpiryWarning::Percent(20).as_text(), "20%");
        assert_eq!(ExpiryWarning::Before(14 * 86_400).as_text(), "2w");
    }

    fn url_of(v: &str) -> Result<Option<String>, String> {
        Config::from_map(json!({ "crl-distribution-url": v }).as_object().unwrap())
            .map(|c| c.crl_distribution_url)
            .map_err(|e| e.summary())
    }

    #[test]
    fn crl_distribution_url_is_checked() {
        assert_eq!(url_of(""), Ok(None));
        assert_eq!(
            url_of(" http://pki.example.com/ca.crl "),
            Ok(Some("http://pki.example.com/ca.crl".into()))
        );
        assert_eq!(
            url_of("ldap://ldap.example.com/cn=CA?certificateRevocationList"),
            Ok(Some(
                "ldap://ldap.example.com/cn=CA?certificateRevocationList".into()
            ))
        );
        assert_eq!(
            url_of("ftp://x/ca.crl"),
            Err("crl-distribution-url: \"ftp://x/ca.crl\" is not an http://, https:// or ldap:// URL (e.g. http://pki.example.com/ca.crl)".into())
        );
        assert_eq!(
            url_of("http:///ca.crl"),
            Err("crl-distribution-url: \"http:///ca.crl\" has no host".into())
        );
        assert!(url_of("http://x/a b")
            .unwrap_err()
            .contains("without spaces"));
        assert!(url_of("http://é/x")
            .unwrap_err()
            .contains("printable ASCII"));
        let long = format!("http://x/{}", "a".repeat(1100));
        assert!(url_of(&long).unwrap_err().contains("the limit is 1024"));
    }
}
