//! Signing policy: which names and what kind of certificate we agree to sign.

use std::collections::BTreeMap;

use super::san::{dns_names, ip_addrs, San};
use super::ParsedCsr;

/// The operator's policy (from config).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    /// Empty = any domain. Otherwise each DNS name (and the CN when it looks like a DNS name) must
    /// equal a suffix or be a subdomain of it.
    pub allowed_domains: Vec<String>,
    pub allow_ip_sans: bool,
    pub allow_wildcard_dns: bool,
    pub allow_ca_requests: bool,
    /// Per requesting application, the names it may request, on top of `allowed_domains`: a
    /// domain allows itself and every name under it; `*.domain` only the names under it.
    /// Applications not listed are not restricted further.
    pub application_domains: BTreeMap<String, Vec<String>>,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            allowed_domains: vec![],
            allow_ip_sans: true,
            allow_wildcard_dns: true,
            allow_ca_requests: false,
            application_domains: BTreeMap::new(),
        }
    }
}

/// The `request_errors` code of a refusal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DenialCode {
    IpNotAllowed = 101,
    DomainNotAllowed = 102,
    WildcardNotAllowed = 103,
    Other = 999,
}

impl DenialCode {
    pub fn code(self) -> u32 {
        self as u32
    }
    /// The enum name requirers' libraries use (`IP_NOT_ALLOWED`, ...).
    pub fn name(self) -> &'static str {
        match self {
            DenialCode::IpNotAllowed => "IP_NOT_ALLOWED",
            DenialCode::DomainNotAllowed => "DOMAIN_NOT_ALLOWED",
            DenialCode::WildcardNotAllowed => "WILDCARD_NOT_ALLOWED",
            DenialCode::Other => "OTHER",
        }
    }
}

/// A refusal with a message a human can act on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Denial {
    pub code: DenialCode,
    pub message: String,
}

impl Policy {
    /// Checks a parsed CSR (and whether it asks for a CA certificate) against the policy.
    ///
    /// Order (the first refusal wins): CA request, then each common name, then DNS SANs, then
    /// IP SANs. Every common name of the subject is checked: one that parses as an IP address
    /// is treated as an IP; one that looks like a DNS name (only letters, digits, `-`, `_`, `.`,
    /// `*`, with a dot or a `*`) is treated as a DNS name; anything else (e.g. `etcd/0`, `My CA`)
    /// is not a name policy applies to. OID SANs are not restricted.
    pub fn check(&self, csr: &ParsedCsr, is_ca: bool) -> Result<(), Denial> {
        self.check_ca(is_ca)?;
        for cn in csr.common_names() {
            self.check_common_name(&cn)?;
        }
        for dns in dns_names(&csr.sans) {
            self.check_dns(dns)?;
        }
        if let Some(ip) = ip_addrs(&csr.sans).next() {
            self.check_ip(&ip.to_string())?;
        }
        Ok(())
    }

    /// [`Policy::check`] for a request of application `app`, then `app`'s own domains.
    pub fn check_app(&self, app: &str, csr: &ParsedCsr, is_ca: bool) -> Result<(), Denial> {
        self.check(csr, is_ca)?;
        let names: Vec<String> = csr
            .common_names()
            .into_iter()
            .chain(dns_names(&csr.sans).map(str::to_string))
            .collect();
        self.check_app_names(app, &names)
    }

    /// [`Policy::check_names`] for a request of application `app`, then `app`'s own domains.
    pub fn check_names_app(
        &self,
        app: &str,
        common_name: &str,
        sans: &[String],
        is_ca: bool,
    ) -> Result<(), Denial> {
        self.check_names(common_name, sans, is_ca)?;
        let names: Vec<String> = std::iter::once(common_name.to_string())
            .chain(sans.iter().cloned())
            .collect();
        self.check_app_names(app, &names)
    }

    /// Every name (common names and DNS SANs; IP addresses are not domain names and empty
    /// common names are none) must be one `app` may request.
    fn check_app_names(&self, app: &str, names: &[String]) -> Result<(), Denial> {
        let Some(rules) = self.application_domains.get(app) else {
            return Ok(());
        };
        let domain_names = names
            .iter()
            .filter(|n| !n.is_empty() && !matches!(San::from_name(n), San::Ip(_)));
        for name in domain_names {
            let lower = name.to_ascii_lowercase();
            let lower = lower.strip_suffix('.').unwrap_or(&lower);
            let allowed = rules.iter().any(|rule| match rule.strip_prefix("*.") {
                Some(base) => lower.ends_with(&format!(".{base}")),
                None => lower == rule || lower.ends_with(&format!(".{rule}")),
            });
            if !allowed {
                return Err(Denial {
                    code: DenialCode::DomainNotAllowed,
                    message: format!(
                        "name {:?} is not allowed for application {app}: application-domains \
                         gives it only {}; request a name under those, or ask the operator to \
                         change application-domains",
                        truncate_for_message(name),
                        rules.join(",")
                    ),
                });
            }
        }
        Ok(())
    }

    /// Checks a legacy request's names (CN + SANs as strings, each a DNS name or an IP).
    /// A SAN that parses as an IP address is an IP; any other SAN is a DNS name.
    pub fn check_names(
        &self,
        common_name: &str,
        sans: &[String],
        is_ca: bool,
    ) -> Result<(), Denial> {
        self.check_ca(is_ca)?;
        self.check_common_name(common_name)?;
        for san in sans {
            match San::from_name(san) {
                San::Ip(_) => self.check_ip(san)?,
                _ => self.check_dns(san)?,
            }
        }
        Ok(())
    }

    fn check_ca(&self, is_ca: bool) -> Result<(), Denial> {
        if is_ca && !self.allow_ca_requests {
            return Err(Denial {
                code: DenialCode::Other,
                message: "the request asks for a CA certificate (ca: true) and this provider does \
                          not issue CA certificates; request a non-CA certificate, or ask the \
                          operator to set allow-ca-requests=true"
                    .into(),
            });
        }
        Ok(())
    }

    /// A common name that is an IP address or looks like a DNS name is checked as one. Any other
    /// common name (`etcd/0`, `My CA`) is not restricted, unless `allowed-domains` is set: then
    /// only names the policy allows may be certified, whatever they look like.
    fn check_common_name(&self, cn: &str) -> Result<(), Denial> {
        if cn.is_empty() {
            return Ok(());
        }
        if matches!(San::from_name(cn), San::Ip(_)) {
            return self.check_ip(cn);
        }
        if looks_like_dns(cn) {
            return self.check_dns(cn);
        }
        if !self.allowed_domains.is_empty() {
            return Err(Denial {
                code: DenialCode::DomainNotAllowed,
                message: format!(
                    "common name {:?} is not a DNS name or IP address, and this provider only \
                     certifies names in the allowed domains (allowed-domains={}); request a \
                     common name equal to or under one of them",
                    truncate_for_message(cn),
                    self.allowed_domains.join(",")
                ),
            });
        }
        Ok(())
    }

    fn check_ip(&self, ip: &str) -> Result<(), Denial> {
        if !self.allow_ip_sans {
            return Err(Denial {
                code: DenialCode::IpNotAllowed,
                message: format!(
                    "IP address {ip} is not allowed: this provider has allow-ip-sans=false; \
                     request DNS names only, or ask the operator to set allow-ip-sans=true"
                ),
            });
        }
        Ok(())
    }

    fn check_dns(&self, name: &str) -> Result<(), Denial> {
        let lower = name.to_ascii_lowercase();
        let lower = lower.strip_suffix('.').unwrap_or(&lower);
        let shown = truncate_for_message(name);
        if let Err(why) = dns_syntax(lower) {
            return Err(Denial {
                code: DenialCode::DomainNotAllowed,
                message: format!("DNS name {shown:?} is not valid: {why}"),
            });
        }
        if lower.starts_with("*.") && !self.allow_wildcard_dns {
            return Err(Denial {
                code: DenialCode::WildcardNotAllowed,
                message: format!(
                    "wildcard DNS name {shown} is not allowed: this provider has \
                     allow-wildcard-dns=false; request explicit names, or ask the operator to \
                     set allow-wildcard-dns=true"
                ),
            });
        }
        let suffixes = self.normalised_domains();
        if !suffixes.is_empty()
            && !suffixes
                .iter()
                .any(|s| lower == s || lower.ends_with(&format!(".{s}")))
        {
            return Err(Denial {
                code: DenialCode::DomainNotAllowed,
                message: format!(
                    "DNS name {shown} is not in the allowed domains (allowed-domains={}); \
                     request a name equal to or under one of them, or ask the operator to add \
                     its domain to allowed-domains",
                    self.allowed_domains.join(",")
                ),
            });
        }
        if let Some(suffix) = lower
            .strip_prefix("*.")
            .filter(|rest| is_public_suffix(rest))
        {
            return Err(Denial {
                code: DenialCode::WildcardNotAllowed,
                message: format!(
                    "wildcard DNS name {shown} is directly under the public suffix {suffix:?} \
                     (Public Suffix List): it would match every domain registered there; \
                     request names under your own domain"
                ),
            });
        }
        Ok(())
    }

    /// allowed-domains entries lowercased, without a leading `*.`/`.` or trailing `.`.
    fn normalised_domains(&self) -> Vec<String> {
        self.allowed_domains
            .iter()
            .map(|d| {
                let d = d.trim().to_ascii_lowercase();
                let d = d.strip_prefix("*.").unwrap_or(&d);
                let d = d.trim_start_matches('.');
                d.strip_suffix('.').unwrap_or(d).to_string()
            })
            .filter(|d| !d.is_empty())
            .collect()
    }
}

/// Whether `name` is itself a public suffix in the Public Suffix List (`com`, `co.uk`,
/// `github.io`), through the `psl` crate's compiled list. Names under an unknown top-level
/// domain (`lan`, `internal`) are not: the list's default rule does not make them public.
fn is_public_suffix(name: &str) -> bool {
    psl::suffix(name.as_bytes()).is_some_and(|s| s.is_known() && s.as_bytes() == name.as_bytes())
}

fn truncate_for_message(s: &str) -> String {
    if s.chars().count() > 100 {
        format!("{}...", s.chars().take(100).collect::<String>())
    } else {
        s.to_string()
    }
}

/// A CN "looks like" a DNS name when it has only hostname characters (and `*`) and contains a
/// dot or a `*`.
fn looks_like_dns(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'*'))
        && (s.contains('.') || s.contains('*'))
}

/// Syntax of a (lowercased, no trailing dot) DNS name: labels of 1-63 letters, digits, `-` or
/// `_`, not starting or ending with `-`, at most 253 characters; a `*` only as the whole
/// leftmost label, followed by at least one label.
fn dns_syntax(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("it is empty".into());
    }
    if name.len() > 253 {
        return Err("it is longer than 253 characters".into());
    }
    let labels: Vec<&str> = name.split('.').collect();
    for (i, label) in labels.iter().enumerate() {
        if label.contains('*') {
            if i != 0 || *label != "*" {
                return Err(
                    "a '*' is only allowed as the whole leftmost label (as in *.example.com)"
                        .into(),
                );
            }
            if labels.len() < 2 {
                return Err("a wildcard needs a domain after it (as in *.example.com)".into());
            }
            continue;
        }
        if label.is_empty() {
            return Err("it has an empty label (two dots in a row, or a leading dot)".into());
        }
        if label.len() > 63 {
            return Err(format!("label {label:?} is longer than 63 characters"));
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(format!(
                "label {label:?} has characters other than letters, digits, '-' and '_'"
            ));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(format!("label {label:?} starts or ends with '-'"));
        }
    }
    Ok(())
}
