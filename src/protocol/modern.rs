//! Modern (CSR-based, v1 interface / charmlibs) protocol models.
//!
//! Pure data: parsing the requirer's databags (untrusted) and (de)serialising the provider's
//! application databag. No I/O, no crypto. See `docs/protocol.md` §1-§2.
//!
//! Rules kept here:
//! - Requirer values are parsed defensively: a value larger than [`MAX_REQUIRER_VALUE_BYTES`], not
//!   JSON, not a list, with more than [`MAX_REQUIRER_ENTRIES`] entries or with an entry that is not
//!   an object makes the whole databag skipped (with a reason). Inside a valid list, an entry with a
//!   missing / non-string CSR or an unintelligible `ca` is refused on its own.
//! - `ca` is lenient: missing, `null`, `false`, `"false"`, `"False"`, `0` mean false; `true`,
//!   `"true"`, `"True"`, `1` mean true; anything else refuses the entry.
//! - Provider values never contain `null`; empty lists and absent capabilities are omitted keys.

use std::collections::BTreeMap;

use super::json_type;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Requirer key (unit and app databags).
pub const CSRS_KEY: &str = "certificate_signing_requests";
/// Provider app databag keys.
pub const CERTIFICATES_KEY: &str = "certificates";
pub const REQUEST_ERRORS_KEY: &str = "request_errors";
pub const CAPABILITIES_KEY: &str = "capabilities";
/// The provider keys this charm manages in its application databag.
pub const PROVIDER_KEYS: [&str; 3] = [CERTIFICATES_KEY, REQUEST_ERRORS_KEY, CAPABILITIES_KEY];

/// A requirer value larger than this is refused unread (1 MiB).
pub const MAX_REQUIRER_VALUE_BYTES: usize = 1024 * 1024;
/// A requirer list with more entries than this is refused.
pub const MAX_REQUIRER_ENTRIES: usize = 1000;

/// One request from a requirer databag, with the CSR string exactly as sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequirerCsr {
    pub certificate_signing_request: String,
    pub ca: bool,
}

/// Why one entry of an otherwise valid requirer list was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntryRefusal {
    /// Position in the list (0-based).
    pub index: usize,
    pub reason: String,
    /// The CSR string when the entry had one (e.g. the `ca` field was junk).
    pub csr: Option<String>,
}

/// Why a whole requirer databag was skipped.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DatabagError {
    #[error("{CSRS_KEY} is {0} bytes, more than the {MAX_REQUIRER_VALUE_BYTES} allowed")]
    TooLarge(usize),
    #[error("{CSRS_KEY} is not valid JSON: {0}")]
    NotJson(String),
    #[error("{CSRS_KEY} is not a JSON list (found {0})")]
    NotAList(&'static str),
    #[error("{CSRS_KEY} has {0} entries, more than the {MAX_REQUIRER_ENTRIES} allowed")]
    TooMany(usize),
    #[error("{CSRS_KEY} entry {index} is not a JSON object (found {found})")]
    EntryNotObject { index: usize, found: &'static str },
}

/// The requests of one requirer databag that parsed, and the entries that did not.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequirerRequests {
    pub requests: Vec<RequirerCsr>,
    pub refused: Vec<EntryRefusal>,
}

/// Longest piece of requirer text quoted in a refusal message (longer text is cut, with `…`),
/// so a hostile requirer cannot make MiB-long log lines, statuses or action results.
pub const MAX_QUOTED_CHARS: usize = 200;

/// `s` cut to [`MAX_QUOTED_CHARS`] characters, with `…` when it was longer. For quoting
/// untrusted text in messages.
pub fn excerpt(s: &str) -> String {
    match s.char_indices().nth(MAX_QUOTED_CHARS) {
        None => s.to_string(),
        Some((end, _)) => format!("{}…", &s[..end]),
    }
}

/// Reads the `ca` field leniently. `Err` carries a description of the junk.
pub fn parse_ca_flag(v: Option<&Value>) -> Result<bool, String> {
    match v {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(Value::String(s)) => match s.trim() {
            "" | "false" | "False" | "FALSE" | "0" => Ok(false),
            "true" | "True" | "TRUE" | "1" => Ok(true),
            _ => Err(format!(
                "\"ca\" is {:?}, expected true or false",
                excerpt(s)
            )),
        },
        Some(Value::Number(n)) => match n.as_u64() {
            Some(0) => Ok(false),
            Some(1) => Ok(true),
            _ => Err(format!(
                "\"ca\" is {}, expected true or false",
                excerpt(&n.to_string())
            )),
        },
        Some(other) => Err(format!(
            "\"ca\" is {}, expected true or false",
            json_type(other)
        )),
    }
}

/// Parses a requirer's `certificate_signing_requests` value (untrusted).
pub fn parse_requirer_value(value: &str) -> Result<RequirerRequests, DatabagError> {
    if value.len() > MAX_REQUIRER_VALUE_BYTES {
        return Err(DatabagError::TooLarge(value.len()));
    }
    let parsed: Value =
        serde_json::from_str(value).map_err(|e| DatabagError::NotJson(e.to_string()))?;
    let list = match parsed {
        Value::Array(list) => list,
        other => return Err(DatabagError::NotAList(json_type(&other))),
    };
    if list.len() > MAX_REQUIRER_ENTRIES {
        return Err(DatabagError::TooMany(list.len()));
    }
    if let Some((index, v)) = list.iter().enumerate().find(|(_, v)| !v.is_object()) {
        return Err(DatabagError::EntryNotObject {
            index,
            found: json_type(v),
        });
    }
    let mut out = RequirerRequests::default();
    for (index, entry) in list.into_iter().enumerate() {
        let Value::Object(obj) = entry else {
            unreachable!("checked above")
        };
        let csr = match obj.get("certificate_signing_request") {
            Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
            Some(Value::String(_)) => {
                out.refused.push(EntryRefusal {
                    index,
                    reason: "\"certificate_signing_request\" is empty".into(),
                    csr: None,
                });
                continue;
            }
            Some(other) => {
                out.refused.push(EntryRefusal {
                    index,
                    reason: format!(
                        "\"certificate_signing_request\" is {}, expected a PEM string",
                        json_type(other)
                    ),
                    csr: None,
                });
                continue;
            }
            None => {
                out.refused.push(EntryRefusal {
                    index,
                    reason: "entry has no \"certificate_signing_request\"".into(),
                    csr: None,
                });
                continue;
            }
        };
        match parse_ca_flag(obj.get("ca")) {
            Ok(ca) => out.requests.push(RequirerCsr {
                certificate_signing_request: csr,
                ca,
            }),
            Err(reason) => out.refused.push(EntryRefusal {
                index,
                reason,
                csr: Some(csr),
            }),
        }
    }
    Ok(out)
}

/// Parses a requirer databag (unit or app). A missing or empty key means no requests.
pub fn parse_requirer_databag(
    bag: &BTreeMap<String, String>,
) -> Result<RequirerRequests, DatabagError> {
    match bag.get(CSRS_KEY) {
        None => Ok(RequirerRequests::default()),
        Some(v) if v.trim().is_empty() => Ok(RequirerRequests::default()),
        Some(v) => parse_requirer_value(v),
    }
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// One `certificates` entry. Field order is the reference provider's:
/// `ca, certificate_signing_request, certificate, chain[, revoked]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderCertificate {
    pub ca: String,
    pub certificate_signing_request: String,
    pub certificate: String,
    /// Leaf first (`chain[0] == certificate`), then intermediates, then the root. Never empty.
    #[serde(default)]
    pub chain: Vec<String>,
    /// Only ever written as `true`; omitted otherwise.
    #[serde(default, skip_serializing_if = "is_false")]
    pub revoked: bool,
}

impl ProviderCertificate {
    /// Whether the entry is publishable: every PEM field non-empty, a chain, no nulls.
    pub fn looks_publishable(&self) -> bool {
        let pem = |s: &str| s.contains("-----BEGIN ");
        pem(&self.ca)
            && pem(&self.certificate_signing_request)
            && pem(&self.certificate)
            && !self.chain.is_empty()
            && self.chain.iter().all(|c| pem(c))
    }
}

/// The `error` object of a `request_errors` entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestErrorDetail {
    pub code: u32,
    pub name: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
}

/// One `request_errors` entry. The CSR key is `csr` (what every released library reads), not the
/// `certificate_signing_request` the interface README documents.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestError {
    pub csr: String,
    pub error: RequestErrorDetail,
}

/// `capabilities`: every field optional; omitted means unknown.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capabilities {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supports_ip_sans: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supports_wildcard_dns: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supports_subdomain: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supports_ca_certificates: Option<bool>,
    /// Omitted when empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_domains: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_type: Option<String>,
}

/// The provider application databag (what this charm publishes on one relation).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProviderAppData {
    pub certificates: Vec<ProviderCertificate>,
    pub request_errors: Vec<RequestError>,
    pub capabilities: Option<Capabilities>,
}

/// What was wrong in our own app databag when reading it back (we rewrite such values).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProviderParseNotes {
    pub notes: Vec<String>,
}

impl ProviderAppData {
    /// Reads a provider app databag leniently: unparseable values and entries are dropped (and
    /// described in the notes) so that the next write replaces them with valid ones.
    pub fn from_databag(bag: &BTreeMap<String, String>) -> (ProviderAppData, ProviderParseNotes) {
        let mut notes = ProviderParseNotes::default();
        let mut out = ProviderAppData::default();
        if let Some(v) = bag.get(CERTIFICATES_KEY) {
            out.certificates = parse_list(v, CERTIFICATES_KEY, &mut notes);
        }
        if let Some(v) = bag.get(REQUEST_ERRORS_KEY) {
            out.request_errors = parse_list(v, REQUEST_ERRORS_KEY, &mut notes);
        }
        if let Some(v) = bag.get(CAPABILITIES_KEY) {
            match serde_json::from_str::<Value>(v) {
                Ok(Value::Null) => {}
                Ok(obj @ Value::Object(_)) => match serde_json::from_value::<Capabilities>(obj) {
                    Ok(c) => out.capabilities = Some(c),
                    Err(e) => notes.notes.push(format!("{CAPABILITIES_KEY}: {e}")),
                },
                Ok(other) => notes.notes.push(format!(
                    "{CAPABILITIES_KEY}: not an object ({})",
                    json_type(&other)
                )),
                Err(e) => notes
                    .notes
                    .push(format!("{CAPABILITIES_KEY}: not JSON: {e}")),
            }
        }
        (out, notes)
    }

    /// The values to publish: key → JSON text. Empty lists and `None` capabilities are absent.
    pub fn to_values(&self) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        if !self.certificates.is_empty() {
            out.insert(CERTIFICATES_KEY.to_string(), to_json(&self.certificates));
        }
        if !self.request_errors.is_empty() {
            out.insert(
                REQUEST_ERRORS_KEY.to_string(),
                to_json(&self.request_errors),
            );
        }
        if let Some(c) = &self.capabilities {
            out.insert(CAPABILITIES_KEY.to_string(), to_json(c));
        }
        out
    }

    /// The minimal `relation-set` change set turning `current` (our app databag as read) into this
    /// data: only the provider keys whose text differs; an empty value deletes a key. Keys we do
    /// not manage are left alone.
    pub fn changes_from(&self, current: &BTreeMap<String, String>) -> BTreeMap<String, String> {
        let desired = self.to_values();
        let mut changes = BTreeMap::new();
        for key in PROVIDER_KEYS {
            let want = desired.get(key);
            let have = current.get(key);
            match (want, have) {
                (Some(w), Some(h)) if w == h => {}
                (Some(w), _) => {
                    changes.insert(key.to_string(), w.clone());
                }
                (None, Some(_)) => {
                    changes.insert(key.to_string(), String::new());
                }
                (None, None) => {}
            }
        }
        changes
    }

    /// Canonical order (by CSR text) so that the same content always serialises to the same bytes,
    /// whoever inserted the entries (reconcile, `provide-certificate`).
    pub fn sort(&mut self) {
        self.certificates.sort_by(|a, b| {
            a.certificate_signing_request
                .cmp(&b.certificate_signing_request)
        });
        self.request_errors.sort_by(|a, b| a.csr.cmp(&b.csr));
    }

    /// Puts `entry` in place of any certificate or error for the same CSR (exclusivity rule).
    pub fn upsert_certificate(&mut self, entry: ProviderCertificate) {
        self.upsert_certificates([entry]);
    }

    /// Puts `error` in place of any certificate or error for the same CSR.
    pub fn upsert_error(&mut self, error: RequestError) {
        self.upsert_errors([error]);
    }

    /// [`ProviderAppData::upsert_certificate`] for each entry in turn (a later entry for the same
    /// CSR wins), in one pass over the lists and one sort: O((n + k) log(n + k)) rather than
    /// k passes and sorts.
    pub fn upsert_certificates(&mut self, entries: impl IntoIterator<Item = ProviderCertificate>) {
        let new: BTreeMap<String, ProviderCertificate> = entries
            .into_iter()
            .map(|e| (e.certificate_signing_request.clone(), e))
            .collect();
        self.remove_csrs(|csr| new.contains_key(csr));
        self.certificates.extend(new.into_values());
        self.sort();
    }

    /// [`ProviderAppData::upsert_error`] for each error in turn (a later one for the same CSR
    /// wins), in one pass and one sort.
    pub fn upsert_errors(&mut self, errors: impl IntoIterator<Item = RequestError>) {
        let new: BTreeMap<String, RequestError> =
            errors.into_iter().map(|e| (e.csr.clone(), e)).collect();
        self.remove_csrs(|csr| new.contains_key(csr));
        self.request_errors.extend(new.into_values());
        self.sort();
    }

    /// Drops every certificate and error whose CSR `gone` selects.
    fn remove_csrs(&mut self, gone: impl Fn(&str) -> bool) {
        self.request_errors.retain(|e| !gone(&e.csr));
        self.certificates
            .retain(|c| !gone(&c.certificate_signing_request));
    }
}

fn to_json<T: Serialize + ?Sized>(v: &T) -> String {
    // Serialising these plain structs cannot fail (string keys, no maps with non-string keys).
    serde_json::to_string(v).unwrap_or_else(|_| String::from("[]"))
}

fn parse_list<T: for<'de> Deserialize<'de>>(
    text: &str,
    key: &str,
    notes: &mut ProviderParseNotes,
) -> Vec<T> {
    let value: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            notes.notes.push(format!("{key}: not JSON: {e}"));
            return vec![];
        }
    };
    let Value::Array(items) = value else {
        notes
            .notes
            .push(format!("{key}: not a list ({})", json_type(&value)));
        return vec![];
    };
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        match serde_json::from_value::<T>(item) {
            Ok(t) => out.push(t),
            Err(e) => notes.notes.push(format!("{key}[{i}]: {e}")),
        }
    }
    out
}

#[cfg(test)]
mod tests;
