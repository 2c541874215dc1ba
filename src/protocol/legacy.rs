//! Legacy reactive protocol models (`interface:tls-certificates`, the provider generates keys).
//!
//! Pure data: parsing a legacy requirer's unit databag (untrusted) and building the provider's
//! unit databag. No I/O, no crypto. See `tls-certificates-protocol.md` §4.
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

use std::collections::{BTreeMap, BTreeSet};

use super::json_type;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use juju_hook::Databag;

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

/// One well-formed legacy request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LegacyRequest {
    pub kind: RequestKind,
    pub common_name: String,
    /// Sorted and de-duplicated (the order the requirer used does not matter).
    pub sans: Vec<String>,
}

/// A request (or a whole key) that was not served, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skipped {
    /// The remote unit (Juju name, e.g. `etcd/0`).
    pub unit: String,
    /// The requirer key.
    pub key: &'static str,
    /// The common name, when the problem is with one request of a valid map.
    pub common_name: Option<String>,
    pub reason: String,
}

impl std::fmt::Display for Skipped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.common_name {
            Some(cn) => write!(
                f,
                "legacy request from {} ({} {:?}) skipped: {}",
                self.unit,
                self.key,
                shorten(cn),
                self.reason
            ),
            None => write!(
                f,
                "legacy request from {} ({}) skipped: {}",
                self.unit, self.key, self.reason
            ),
        }
    }
}

/// Everything one remote unit asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnitRequests {
    /// Juju's name for the remote unit (e.g. `etcd/0`; an alias across models).
    pub remote_unit: String,
    /// The `{unit}` prefix of the provider keys answering this unit (e.g. `etcd_0`).
    pub unit_key: String,
    pub requests: Vec<LegacyRequest>,
    pub skipped: Vec<Skipped>,
}

/// Whether a remote unit databag speaks the legacy dialect (any legacy requirer key present).
pub fn is_legacy_bag(bag: &Databag) -> bool {
    REQUIRER_KEYS.iter().any(|k| bag.contains_key(*k))
}

/// Whether any of a relation's remote unit databags speaks the legacy dialect.
pub fn is_legacy<'a, I>(unit_bags: I) -> bool
where
    I: IntoIterator<Item = &'a Databag>,
{
    unit_bags.into_iter().any(is_legacy_bag)
}

/// The `{unit}` key prefix for a remote unit: its `unit_name` when that is a sensible name,
/// otherwise the Juju unit name with `/` replaced by `_`. The second value is why `unit_name`
/// was ignored, if it was.
pub fn unit_key(remote_unit: &str, bag: &Databag) -> (String, Option<String>) {
    let fallback = remote_unit.replace('/', "_");
    match bag.get(UNIT_NAME_KEY) {
        None => (fallback, None),
        Some(name) => match check_unit_name(name) {
            Ok(()) => (name.clone(), None),
            Err(why) => (fallback, Some(why)),
        },
    }
}

fn check_unit_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("unit_name is empty".into());
    }
    if name.len() > MAX_NAME_LEN {
        return Err(format!(
            "unit_name is {} bytes, more than {MAX_NAME_LEN}",
            name.len()
        ));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(format!(
            "unit_name {:?} has characters other than letters, digits, '-' and '_'",
            shorten(name)
        ));
    }
    Ok(())
}

/// Parses one remote unit's databag. Never fails: problems become [`Skipped`] entries.
pub fn parse_unit(remote_unit: &str, bag: &Databag) -> UnitRequests {
    let (key, unit_name_problem) = unit_key(remote_unit, bag);
    let mut out = UnitRequests {
        remote_unit: remote_unit.to_string(),
        unit_key: key,
        requests: Vec::new(),
        skipped: Vec::new(),
    };
    if let Some(why) = unit_name_problem {
        out.skipped.push(Skipped {
            unit: remote_unit.to_string(),
            key: UNIT_NAME_KEY,
            common_name: None,
            reason: format!("{why}; answering under {:?} instead", out.unit_key),
        });
    }
    parse_top_level(remote_unit, bag, &mut out);
    for kind in [
        RequestKind::Server,
        RequestKind::Client,
        RequestKind::Application,
        RequestKind::Intermediate,
    ] {
        parse_request_map(remote_unit, bag, kind, &mut out);
    }
    out
}

/// Parses every legacy remote unit of a relation (units sorted by name). When two units resolve
/// to the same `{unit}` key (a hostile or buggy `unit_name`), the later one falls back to its
/// Juju name; if that also collides, its requests are skipped.
pub fn parse_relation(units: &[(String, Databag)]) -> Vec<UnitRequests> {
    let mut sorted: Vec<&(String, Databag)> = units.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let mut taken = BTreeSet::new();
    let mut out = Vec::new();
    for (unit, bag) in sorted {
        let mut parsed = parse_unit(unit, bag);
        if taken.contains(&parsed.unit_key) {
            let fallback = unit.replace('/', "_");
            if taken.contains(&fallback) {
                parsed.skipped.push(Skipped {
                    unit: unit.clone(),
                    key: UNIT_NAME_KEY,
                    common_name: None,
                    reason: format!(
                        "unit_name {:?} is already used by another unit of this relation; \
                         all of this unit's requests are skipped",
                        shorten(&parsed.unit_key)
                    ),
                });
                parsed.requests.clear();
                out.push(parsed);
                continue;
            }
            parsed.skipped.push(Skipped {
                unit: unit.clone(),
                key: UNIT_NAME_KEY,
                common_name: None,
                reason: format!(
                    "unit_name {:?} is already used by another unit of this relation; \
                     answering under {fallback:?} instead",
                    shorten(&parsed.unit_key)
                ),
            });
            parsed.unit_key = fallback;
        }
        taken.insert(parsed.unit_key.clone());
        out.push(parsed);
    }
    out
}

fn parse_top_level(unit: &str, bag: &Databag, out: &mut UnitRequests) {
    let Some(cn) = bag.get(COMMON_NAME_KEY) else {
        return;
    };
    let skip = |out: &mut UnitRequests, reason: String| {
        out.skipped.push(Skipped {
            unit: unit.to_string(),
            key: COMMON_NAME_KEY,
            common_name: Some(cn.clone()),
            reason,
        })
    };
    if let Err(why) = check_cn(cn) {
        skip(out, why);
        return;
    }
    let sans = match bag.get(SANS_KEY) {
        None => Vec::new(),
        Some(raw) => match bounded_json("sans", raw).and_then(|v| parse_sans(&v)) {
            Ok(s) => s,
            Err(why) => {
                skip(out, why);
                return;
            }
        },
    };
    out.requests.push(LegacyRequest {
        kind: RequestKind::TopLevelServer,
        common_name: cn.clone(),
        sans,
    });
}

fn parse_request_map(unit: &str, bag: &Databag, kind: RequestKind, out: &mut UnitRequests) {
    let key = kind.source_key();
    let Some(raw) = bag.get(key) else {
        return;
    };
    let skip_all = |out: &mut UnitRequests, reason: String| {
        out.skipped.push(Skipped {
            unit: unit.to_string(),
            key,
            common_name: None,
            reason,
        })
    };
    let value = match bounded_json("the value", raw) {
        Ok(v) => v,
        Err(why) => {
            skip_all(out, why);
            return;
        }
    };
    let map = match value {
        Value::Object(m) => m,
        // Reactive requirers never write null, but an empty request set is harmless.
        Value::Null => return,
        other => {
            skip_all(
                out,
                format!(
                    "expected a JSON object {{\"<cn>\": {{\"sans\": [...]}}}}, found {}",
                    json_type(&other)
                ),
            );
            return;
        }
    };
    if map.len() > MAX_REQUESTS {
        skip_all(
            out,
            format!(
                "{} requests, more than the {MAX_REQUESTS} allowed",
                map.len()
            ),
        );
        return;
    }
    for (cn, body) in map {
        let mut skip = |reason: String| {
            out.skipped.push(Skipped {
                unit: unit.to_string(),
                key,
                common_name: Some(cn.clone()),
                reason,
            })
        };
        if let Err(why) = check_cn(&cn) {
            skip(why);
            continue;
        }
        let sans = match &body {
            Value::Object(o) => match o.get("sans") {
                None => Ok(Vec::new()),
                Some(v) => parse_sans(v),
            },
            // Tolerate a bare SAN list or null in place of {"sans": ...}.
            Value::Null | Value::Array(_) => parse_sans(&body),
            other => Err(format!(
                "expected {{\"sans\": [...]}}, found {}",
                json_type(other)
            )),
        };
        match sans {
            Ok(sans) => out.requests.push(LegacyRequest {
                kind,
                common_name: cn,
                sans,
            }),
            Err(why) => skip(why),
        }
    }
}

fn check_cn(cn: &str) -> Result<(), String> {
    if cn.trim().is_empty() {
        return Err("the common name is empty".into());
    }
    if cn.chars().count() > MAX_CN_LEN {
        return Err(format!(
            "the common name is {} characters long; a certificate common name is at most \
             {MAX_CN_LEN} (put long names in sans)",
            cn.chars().count()
        ));
    }
    if cn.chars().any(char::is_control) {
        return Err("the common name contains control characters".into());
    }
    Ok(())
}

/// `sans`: a JSON list of strings, or null (= empty). Returns them sorted and de-duplicated.
/// A requirer value parsed as JSON, refused (with the reason, naming it `what`) when it is larger
/// than [`MAX_VALUE_BYTES`] or not JSON.
fn bounded_json(what: &str, raw: &str) -> Result<Value, String> {
    if raw.len() > MAX_VALUE_BYTES {
        return Err(format!(
            "{what} is {} bytes, more than the {MAX_VALUE_BYTES} allowed",
            raw.len()
        ));
    }
    serde_json::from_str(raw).map_err(|e| format!("{what} is not valid JSON: {e}"))
}

fn parse_sans(value: &Value) -> Result<Vec<String>, String> {
    let list = match value {
        Value::Null => return Ok(Vec::new()),
        Value::Array(a) => a,
        other => {
            return Err(format!(
                "sans must be a JSON list of strings or null, found {}",
                json_type(other)
            ))
        }
    };
    if list.len() > MAX_SANS {
        return Err(format!(
            "{} SANs, more than the {MAX_SANS} allowed",
            list.len()
        ));
    }
    let mut out = BTreeSet::new();
    for item in list {
        let Value::String(s) = item else {
            return Err(format!(
                "every SAN must be a string, found {}",
                json_type(item)
            ));
        };
        if s.is_empty() {
            return Err("a SAN is an empty string".into());
        }
        if s.len() > MAX_NAME_LEN {
            return Err(format!(
                "a SAN is {} bytes long, more than {MAX_NAME_LEN}",
                s.len()
            ));
        }
        if !s.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(format!(
                "SAN {:?} is not a DNS name or IP address (only printable ASCII without spaces)",
                shorten(s)
            ));
        }
        out.insert(s.clone());
    }
    Ok(out.into_iter().collect())
}

/// At most 80 characters of untrusted text, for messages.
pub fn shorten(s: &str) -> String {
    if s.chars().count() > 80 {
        format!("{}...", s.chars().take(80).collect::<String>())
    } else {
        s.to_string()
    }
}

// ---------------------------------------------------------------------------------------------
// Provider side
// ---------------------------------------------------------------------------------------------

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
    pub fn to_databag(&self) -> Databag {
        let mut bag = Databag::new();
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

/// Serialises like Python's `json.dumps(value, sort_keys=True)`: `", "` / `": "` separators and
/// `\uXXXX` escapes for non-ASCII. (Keys come out sorted because callers pass `BTreeMap`s.)
pub fn py_json<T: Serialize + ?Sized>(value: &T) -> String {
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(&mut out, PyFormatter);
    // Serialising maps of strings into a Vec cannot fail.
    if value.serialize(&mut ser).is_err() {
        return String::new();
    }
    String::from_utf8(out).unwrap_or_default()
}

struct PyFormatter;

/// Python's item separator `", "`, written before every array value and object key but the first.
fn py_separator<W: ?Sized + std::io::Write>(writer: &mut W, first: bool) -> std::io::Result<()> {
    if first {
        Ok(())
    } else {
        writer.write_all(b", ")
    }
}

impl serde_json::ser::Formatter for PyFormatter {
    fn begin_array_value<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        py_separator(writer, first)
    }

    fn begin_object_key<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        py_separator(writer, first)
    }

    fn begin_object_value<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
    ) -> std::io::Result<()> {
        writer.write_all(b": ")
    }

    fn write_string_fragment<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> std::io::Result<()> {
        if fragment.is_ascii() {
            return writer.write_all(fragment.as_bytes());
        }
        for c in fragment.chars() {
            if c.is_ascii() {
                writer.write_all(&[c as u8])?;
            } else {
                let mut units = [0u16; 2];
                for u in c.encode_utf16(&mut units) {
                    write!(writer, "\\u{:04x}", u)?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bag(pairs: &[(&str, &str)]) -> Databag {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn detects_legacy_by_any_requirer_key() {
        assert!(!is_legacy_bag(&bag(&[("ingress-address", "10.0.0.1")])));
        assert!(!is_legacy_bag(&bag(&[(
            "certificate_signing_requests",
            "[]"
        )])));
        for k in REQUIRER_KEYS {
            assert!(is_legacy_bag(&bag(&[(k, "x")])), "{k}");
        }
        let bags = [bag(&[]), bag(&[("unit_name", "etcd_0")])];
        assert!(is_legacy(bags.iter()));
        assert!(!is_legacy([bag(&[])].iter()));
    }

    #[test]
    fn unit_key_prefers_unit_name_and_falls_back() {
        assert_eq!(unit_key("etcd/0", &bag(&[])).0, "etcd_0");
        assert_eq!(
            unit_key("remote-abc/3", &bag(&[("unit_name", "etcd_3")])).0,
            "etcd_3"
        );
        let (k, why) = unit_key("etcd/1", &bag(&[("unit_name", "a.b/../c")]));
        assert_eq!(k, "etcd_1");
        assert!(why.unwrap().contains("characters"));
        let long = "x".repeat(300);
        let (k, why) = unit_key("etcd/2", &bag(&[("unit_name", &long)]));
        assert_eq!(k, "etcd_2");
        assert!(why.is_some());
    }

    #[test]
    fn parses_every_request_kind() {
        let b = bag(&[
            ("unit_name", "etcd_0"),
            ("common_name", "etcd0.example.com"),
            ("sans", r#"["b.example.com", "10.0.0.1", "b.example.com"]"#),
            (
                "cert_requests",
                r#"{"x.example.com": {"sans": ["y.example.com"]}, "z.example.com": {"sans": []}}"#,
            ),
            ("client_cert_requests", r#"{"admin": {"sans": null}}"#),
            (
                "application_cert_requests",
                r#"{"app.example.com": {"sans": ["10.0.0.9"]}}"#,
            ),
            (
                "intermediate_cert_requests",
                r#"{"My Sub CA": {"sans": []}}"#,
            ),
        ]);
        let r = parse_unit("etcd/0", &b);
        assert!(r.skipped.is_empty(), "{:?}", r.skipped);
        assert_eq!(r.unit_key, "etcd_0");
        let kinds: Vec<_> = r
            .requests
            .iter()
            .map(|q| (q.kind, q.common_name.as_str(), q.sans.clone()))
            .collect();
        assert_eq!(
            kinds,
            vec![
                (
                    RequestKind::TopLevelServer,
                    "etcd0.example.com",
                    vec!["10.0.0.1".to_string(), "b.example.com".to_string()]
                ),
                (
                    RequestKind::Server,
                    "x.example.com",
                    vec!["y.example.com".to_string()]
                ),
                (RequestKind::Server, "z.example.com", vec![]),
                (RequestKind::Client, "admin", vec![]),
                (
                    RequestKind::Application,
                    "app.example.com",
                    vec!["10.0.0.9".to_string()]
                ),
                (RequestKind::Intermediate, "My Sub CA", vec![]),
            ]
        );
    }

    #[test]
    fn reordered_sans_are_equal() {
        let a = parse_unit(
            "u/0",
            &bag(&[("common_name", "a"), ("sans", r#"["x","y"]"#)]),
        );
        let b = parse_unit(
            "u/0",
            &bag(&[("common_name", "a"), ("sans", r#"["y","x","y"]"#)]),
        );
        assert_eq!(a.requests, b.requests);
    }

    #[test]
    fn top_level_sans_missing_or_null_is_empty() {
        let r = parse_unit("u/0", &bag(&[("common_name", "a.example")]));
        assert_eq!(r.requests[0].sans, Vec::<String>::new());
        let r = parse_unit(
            "u/0",
            &bag(&[("common_name", "a.example"), ("sans", "null")]),
        );
        assert!(r.skipped.is_empty());
        assert_eq!(r.requests.len(), 1);
    }

    #[test]
    fn malformed_values_are_skipped_with_reasons() {
        let huge = format!("{{\"a\": {{\"sans\": [\"{}\"]}}}}", "x".repeat(70_000));
        let many: BTreeMap<String, Value> = (0..101)
            .map(|i| (format!("h{i}.example"), serde_json::json!({"sans": []})))
            .collect();
        let many = serde_json::to_string(&many).unwrap();
        let b = bag(&[
            ("common_name", ""),
            ("cert_requests", "{not json"),
            ("client_cert_requests", &huge),
            ("application_cert_requests", &many),
            ("intermediate_cert_requests", "[1, 2]"),
        ]);
        let r = parse_unit("bad/0", &b);
        assert!(r.requests.is_empty());
        let reasons: Vec<String> = r.skipped.iter().map(|s| s.to_string()).collect();
        assert_eq!(reasons.len(), 5, "{reasons:#?}");
        assert!(
            reasons[0].contains("common name is empty"),
            "{}",
            reasons[0]
        );
        assert!(reasons[1].contains("not valid JSON"), "{}", reasons[1]);
        assert!(reasons[2].contains("more than the 65536"), "{}", reasons[2]);
        assert!(reasons[3].contains("101 requests"), "{}", reasons[3]);
        assert!(reasons[4].contains("found a list"), "{}", reasons[4]);
    }

    #[test]
    fn top_level_sans_too_large_or_not_json_are_skipped_naming_sans() {
        let huge = format!("[\"{}\"]", "x".repeat(70_000));
        for (sans, want) in [
            ("{not json", "sans is not valid JSON".to_string()),
            (
                huge.as_str(),
                format!("sans is {} bytes, more than the 65536 allowed", huge.len()),
            ),
        ] {
            let r = parse_unit("u/0", &bag(&[("common_name", "a.example"), ("sans", sans)]));
            assert!(r.requests.is_empty());
            assert_eq!(r.skipped.len(), 1);
            let reason = r.skipped[0].to_string();
            assert!(reason.contains(&want), "{reason}");
        }
    }

    #[test]
    fn bad_items_skip_only_themselves() {
        let long_cn = "c".repeat(65);
        let long_san = "s".repeat(254);
        let v = serde_json::json!({
            "": {"sans": []},
            "ok.example": {"sans": ["a.example"]},
            "num.example": {"sans": [1]},
            "str.example": {"sans": "a.example"},
            "empty.example": {"sans": [""]},
            "space.example": {"sans": ["a b"]},
            "long.example": {"sans": [long_san]},
            long_cn: {"sans": []},
            "weird.example": 7,
            "bare.example": ["b.example"],
            "nosans.example": {},
        });
        let b = bag(&[("cert_requests", &v.to_string())]);
        let r = parse_unit("u/0", &b);
        let cns: Vec<&str> = r.requests.iter().map(|q| q.common_name.as_str()).collect();
        assert_eq!(cns, vec!["bare.example", "nosans.example", "ok.example"]);
        assert_eq!(r.skipped.len(), 8, "{:#?}", r.skipped);
        assert!(r.skipped.iter().all(|s| s.key == CERT_REQUESTS_KEY));
    }

    #[test]
    fn colliding_unit_names_fall_back() {
        let units = vec![
            (
                "a/0".to_string(),
                bag(&[("unit_name", "x_0"), ("common_name", "a")]),
            ),
            (
                "b/0".to_string(),
                bag(&[("unit_name", "x_0"), ("common_name", "b")]),
            ),
            ("x/0".to_string(), bag(&[("common_name", "c")])),
        ];
        let r = parse_relation(&units);
        assert_eq!(r[0].unit_key, "x_0");
        assert_eq!(r[1].unit_key, "b_0");
        assert_eq!(r[1].requests.len(), 1);
        // x/0 has no unit_name; its own name x_0 is taken and so is its fallback (itself).
        assert_eq!(r[2].requests.len(), 0);
        assert_eq!(r[2].skipped.len(), 1);
    }

    #[test]
    fn provider_keys_are_recognised() {
        for k in [
            "ca",
            "chain",
            "client.cert",
            "client.key",
            "etcd_0.server.cert",
            "etcd_0.server.key",
            "etcd_0.processed_requests",
            "etcd_0.processed_client_requests",
            "etcd_0.processed_application_requests",
            "etcd_0.processed_intermediate_requests",
        ] {
            assert!(is_provider_key(k), "{k}");
        }
        for k in [
            "ingress-address",
            "private-address",
            "egress-subnets",
            ".server.cert",
        ] {
            assert!(!is_provider_key(k), "{k}");
        }
    }

    #[test]
    fn python_json_format() {
        let mut m = BTreeMap::new();
        m.insert(
            "b".to_string(),
            CertKey {
                cert: "C\nD".into(),
                key: "K".into(),
            },
        );
        m.insert(
            "a\u{e9}".to_string(),
            CertKey {
                cert: "x".into(),
                key: "y".into(),
            },
        );
        assert_eq!(
            py_json(&m),
            r#"{"a\u00e9": {"cert": "x", "key": "y"}, "b": {"cert": "C\nD", "key": "K"}}"#
        );
        assert_eq!(py_json(&vec!["a", "b"]), r#"["a", "b"]"#);
    }

    #[test]
    fn provider_databag_layout() {
        let ck = |s: &str| CertKey {
            cert: format!("{s}-cert"),
            key: format!("{s}-key"),
        };
        let mut unit = UnitAnswer {
            server: Some(ck("top")),
            application: Some(ck("app")),
            ..UnitAnswer::default()
        };
        unit.processed.insert("p.example".into(), ck("p"));
        unit.client.insert("admin".into(), ck("c"));
        unit.intermediate.insert("Sub CA".into(), ck("i"));
        let data = ProviderData {
            ca: Some("CA".into()),
            chain: Some("CA".into()),
            client: Some(ck("shared")),
            units: [("etcd_0".to_string(), unit)].into_iter().collect(),
        };
        let b = data.to_databag();
        assert_eq!(b["ca"], "CA");
        assert_eq!(b["client.key"], "shared-key");
        assert_eq!(b["etcd_0.server.cert"], "top-cert");
        assert_eq!(b["etcd_0.server.key"], "top-key");
        assert_eq!(
            b["etcd_0.processed_requests"],
            r#"{"p.example": {"cert": "p-cert", "key": "p-key"}}"#
        );
        assert_eq!(
            b["etcd_0.processed_application_requests"],
            r#"{"app_data": {"cert": "app-cert", "key": "app-key"}}"#
        );
        assert_eq!(
            b["etcd_0.processed_intermediate_requests"],
            r#"{"Sub CA": {"cert": "i-cert", "key": "i-key"}, "app_data": {"cert": "i-cert", "key": "i-key"}}"#
        );
        assert!(b.keys().all(|k| is_provider_key(k)));
        assert_eq!(b.len(), 10);
        assert!(ProviderData::default().to_databag().is_empty());
    }
}
