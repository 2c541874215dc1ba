//! Signing policy: which names and what kind of certificate we agree to sign.

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
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            allowed_domains: vec![],
            allow_ip_sans: true,
            allow_wildcard_dns: true,
            allow_ca_requests: false,
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
    pub fn check(&self, csr: &ParsedCsr, is_ca: bool) -> Result<(), Denial> {
        let _ = (csr, is_ca);
        todo!()
    }

    /// Checks a legacy request's names (CN + SANs as strings, each a DNS name or an IP).
    pub fn check_names(
        &self,
        common_name: &str,
        sans: &[String],
        is_ca: bool,
    ) -> Result<(), Denial> {
        let _ = (common_name, sans, is_ca);
        todo!()
    }
}
