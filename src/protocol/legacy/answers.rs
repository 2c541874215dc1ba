//! What a legacy provider publishes: its unit databag keys and values.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{py_json, APP_DATA, CA_KEY, CHAIN_KEY, CLIENT_CERT_KEY, CLIENT_KEY_KEY};
use crate::protocol::Bag;

/// `{unit}.server.cert`
pub fn server_cert_key(unit: &str) -> String {
    format!("{unit}.server.cert")
}
/// `{unit}.server.key`
pub fn server_key_key(unit: &str) -> String {
    format!("{unit}.server.key")
}
/// `{unit}.processed_requests`
pub fn processed_requests_key(unit: &str) -> String {
    format!("{unit}.processed_requests")
}
/// `{unit}.processed_client_requests`
pub fn processed_client_requests_key(unit: &str) -> String {
    format!("{unit}.processed_client_requests")
}
/// `{unit}.processed_application_requests`
pub fn processed_application_requests_key(unit: &str) -> String {
    format!("{unit}.processed_application_requests")
}
/// `{unit}.processed_intermediate_requests`
pub fn processed_intermediate_requests_key(unit: &str) -> String {
    format!("{unit}.processed_intermediate_requests")
}

const UNIT_KEY_SUFFIXES: [&str; 6] = [
    ".server.cert",
    ".server.key",
    ".processed_requests",
    ".processed_client_requests",
    ".processed_application_requests",
    ".processed_intermediate_requests",
];

/// Whether `key` is one a legacy provider writes in its unit databag (so we own it there).
/// Juju's own keys (`ingress-address`, `private-address`, ...) are not.
pub fn is_provider_key(key: &str) -> bool {
    matches!(key, CA_KEY | CHAIN_KEY | CLIENT_CERT_KEY | CLIENT_KEY_KEY)
        || UNIT_KEY_SUFFIXES
            .iter()
            .any(|s| key.len() > s.len() && key.ends_with(s))
}

/// A certificate and its private key, as published (`{"cert": ..., "key": ...}`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertKey {
    pub cert: String,
    pub key: String,
}

/// The answers for one requirer unit.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UnitAnswer {
    /// Answer to `common_name`/`sans`.
    pub server: Option<CertKey>,
    /// Answers to `cert_requests`, by CN.
    pub processed: BTreeMap<String, CertKey>,
    /// Answers to `client_cert_requests`, by CN.
    pub client: BTreeMap<String, CertKey>,
    /// The relation's application certificate.
    pub application: Option<CertKey>,
    /// Answers to `intermediate_cert_requests`, by CN.
    pub intermediate: BTreeMap<String, CertKey>,
}

/// Everything a legacy provider publishes on one relation.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProviderData {
    pub ca: Option<String>,
    pub chain: Option<String>,
    /// The global shared client certificate (`client.cert` / `client.key`).
    pub client: Option<CertKey>,
    /// By `{unit}` key.
    pub units: BTreeMap<String, UnitAnswer>,
}

impl ProviderData {
    /// The provider unit databag. Empty maps and missing values are omitted keys.
    /// Intermediate certificates appear under their CN and, for the reactive requirer, the first
    /// (lowest CN) one also under `app_data`.
    pub fn to_databag(&self) -> Bag {
        let mut bag = Bag::new();
        let mut put = |k: String, v: &Option<String>| {
            if let Some(v) = v.as_ref().filter(|v| !v.is_empty()) {
                bag.insert(k, v.clone());
            }
        };
        put(CA_KEY.into(), &self.ca);
        put(CHAIN_KEY.into(), &self.chain);
        if let Some(c) = &self.client {
            put(CLIENT_CERT_KEY.into(), &Some(c.cert.clone()));
            put(CLIENT_KEY_KEY.into(), &Some(c.key.clone()));
        }
        for (unit, a) in &self.units {
            if let Some(s) = &a.server {
                put(server_cert_key(unit), &Some(s.cert.clone()));
                put(server_key_key(unit), &Some(s.key.clone()));
            }
            if !a.processed.is_empty() {
                put(processed_requests_key(unit), &Some(py_json(&a.processed)));
            }
            if !a.client.is_empty() {
                put(
                    processed_client_requests_key(unit),
                    &Some(py_json(&a.client)),
                );
            }
            if let Some(app) = &a.application {
                let m: BTreeMap<&str, &CertKey> = [(APP_DATA, app)].into_iter().collect();
                put(processed_application_requests_key(unit), &Some(py_json(&m)));
            }
            if let Some((_, first)) = a.intermediate.iter().next() {
                let mut m: BTreeMap<&str, &CertKey> = a
                    .intermediate
                    .iter()
                    .map(|(k, v)| (k.as_str(), v))
                    .collect();
                m.insert(APP_DATA, first);
                put(
                    processed_intermediate_requests_key(unit),
                    &Some(py_json(&m)),
                );
            }
        }
        bag
    }
}
