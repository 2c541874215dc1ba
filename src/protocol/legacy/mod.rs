//! Legacy reactive protocol models (`interface:tls-certificates`, the provider generates keys).
//!
//! Pure data: parsing a legacy requirer's unit databag (untrusted; `requests.rs`) and building the
//! provider's unit databag (`answers.rs`, with the Python-compatible JSON of `format.rs`). No
//! I/O, no crypto. See `docs/protocol.md` §4.
//!
//! Rules kept here:
//! - Requirer values are parsed defensively. A value larger than [`MAX_VALUE_BYTES`], not JSON,
//!   not of the expected shape, or with more than [`MAX_REQUESTS`] requests skips that key's
//!   requests (with a [`Skipped`] reason). Inside a valid map, a request with an empty or too long
//!   common name, or with `sans` that are not a list of short non-empty strings, is skipped on its
//!   own. Nothing here fails: the caller logs the reasons and serves what is left.
//! - SAN sets are compared sorted and de-duplicated, so reordering is not a change.
//! - Provider JSON values are written like Python's `json.dumps(sort_keys=True)` (the reactive
//!   providers' encoding): sorted keys, `", "` and `": "` separators, non-ASCII escaped.

use serde::{Deserialize, Serialize};

mod answers;
mod format;
mod requests;
#[cfg(test)]
mod tests;

pub use answers::{
    is_provider_key, processed_application_requests_key, processed_client_requests_key,
    processed_intermediate_requests_key, processed_requests_key, server_cert_key, server_key_key,
    CertKey, ProviderData, UnitAnswer,
};
pub use format::py_json;
pub use requests::{
    is_legacy, is_legacy_bag, parse_relation, parse_unit, unit_key, LegacyRequest, Skipped,
    UnitRequests,
};

/// Requirer keys (its unit databag).
pub const UNIT_NAME_KEY: &str = "unit_name";
pub const COMMON_NAME_KEY: &str = "common_name";
pub const SANS_KEY: &str = "sans";
pub const CERT_REQUESTS_KEY: &str = "cert_requests";
pub const CLIENT_CERT_REQUESTS_KEY: &str = "client_cert_requests";
pub const APPLICATION_CERT_REQUESTS_KEY: &str = "application_cert_requests";
pub const INTERMEDIATE_CERT_REQUESTS_KEY: &str = "intermediate_cert_requests";

/// Any of these in a remote unit databag makes the relation a legacy one.
pub const REQUIRER_KEYS: [&str; 7] = [
    UNIT_NAME_KEY,
    COMMON_NAME_KEY,
    SANS_KEY,
    CERT_REQUESTS_KEY,
    CLIENT_CERT_REQUESTS_KEY,
    APPLICATION_CERT_REQUESTS_KEY,
    INTERMEDIATE_CERT_REQUESTS_KEY,
];

/// Provider keys (each provider unit's databag).
pub const CA_KEY: &str = "ca";
pub const CHAIN_KEY: &str = "chain";
pub const CLIENT_CERT_KEY: &str = "client.cert";
pub const CLIENT_KEY_KEY: &str = "client.key";
/// The key under which application (and, for the reactive requirer, intermediate) certificates
/// are published inside the `processed_*` maps.
pub const APP_DATA: &str = "app_data";

/// A requirer value larger than this is skipped unread (64 KiB).
pub const MAX_VALUE_BYTES: usize = 64 * 1024;
/// A request map with more entries than this is skipped.
pub const MAX_REQUESTS: usize = 100;
/// A request with more SANs than this is skipped.
pub const MAX_SANS: usize = 100;
/// Longest SAN or `unit_name` accepted (the DNS name limit).
pub const MAX_NAME_LEN: usize = 253;
/// Longest common name accepted (X.509 upper bound for commonName).
pub const MAX_CN_LEN: usize = 64;

/// What kind of certificate a legacy request asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RequestKind {
    /// `common_name` + `sans`: answered in `{unit}.server.cert` / `{unit}.server.key`.
    TopLevelServer,
    /// An item of `cert_requests`: answered in `{unit}.processed_requests`.
    Server,
    /// An item of `client_cert_requests`: answered in `{unit}.processed_client_requests`.
    Client,
    /// An item of `application_cert_requests`: one certificate for the whole relation, answered
    /// under `app_data` in every unit's `{unit}.processed_application_requests`.
    Application,
    /// An item of `intermediate_cert_requests` (CA:TRUE): answered in
    /// `{unit}.processed_intermediate_requests` under the CN and `app_data`.
    Intermediate,
}

impl RequestKind {
    /// The requirer key the request came from.
    pub fn source_key(self) -> &'static str {
        match self {
            RequestKind::TopLevelServer => COMMON_NAME_KEY,
            RequestKind::Server => CERT_REQUESTS_KEY,
            RequestKind::Client => CLIENT_CERT_REQUESTS_KEY,
            RequestKind::Application => APPLICATION_CERT_REQUESTS_KEY,
            RequestKind::Intermediate => INTERMEDIATE_CERT_REQUESTS_KEY,
        }
    }

    /// Short name for logs, status and action output.
    pub fn as_str(self) -> &'static str {
        match self {
            RequestKind::TopLevelServer => "server",
            RequestKind::Server => "server",
            RequestKind::Client => "client",
            RequestKind::Application => "application",
            RequestKind::Intermediate => "intermediate",
        }
    }

    /// Whether the certificate is a CA (BasicConstraints CA:TRUE).
    pub fn is_ca(self) -> bool {
        self == RequestKind::Intermediate
    }
}

/// At most 80 characters of untrusted text, for messages.
pub fn shorten(s: &str) -> String {
    if s.chars().count() > 80 {
        format!("{}...", s.chars().take(80).collect::<String>())
    } else {
        s.to_string()
    }
}
