//! Parsing a legacy requirer's unit databag (untrusted). Never fails: problems become
//! [`Skipped`] entries.

use std::collections::BTreeSet;

use serde_json::Value;

use super::{
    shorten, RequestKind, COMMON_NAME_KEY, MAX_CN_LEN, MAX_NAME_LEN, MAX_REQUESTS, MAX_SANS,
    MAX_VALUE_BYTES, REQUIRER_KEYS, SANS_KEY, UNIT_NAME_KEY,
};
use crate::protocol::{json_type, Bag};

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
                shorten(&self.unit),
                self.key,
                shorten(cn),
                self.reason
            ),
            None => write!(
                f,
                "legacy request from {} ({}) skipped: {}",
                shorten(&self.unit),
                self.key,
                self.reason
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
pub fn is_legacy_bag(bag: &Bag) -> bool {
    REQUIRER_KEYS.iter().any(|k| bag.contains_key(*k))
}

/// Whether any of a relation's remote unit databags speaks the legacy dialect.
pub fn is_legacy<'a, I>(unit_bags: I) -> bool
where
    I: IntoIterator<Item = &'a Bag>,
{
    unit_bags.into_iter().any(is_legacy_bag)
}

/// The `{unit}` key prefix for a remote unit: its `unit_name` when that is a sensible name,
/// otherwise the Juju unit name with `/` replaced by `_`. The second value is why `unit_name`
/// was ignored, if it was.
pub fn unit_key(remote_unit: &str, bag: &Bag) -> (String, Option<String>) {
    let fallback = remote_unit.replace('/', "_");
    match bag.get(UNIT_NAME_KEY) {
        None => (fallback, None),
        Some(name) => match check_unit_name(name) {
            Ok(()) => (name.clone(), None),
            Err(why) => (fallback, Some(why)),
        },
    }
}

/// Refuses an empty `s` (reason `empty`) or one longer than [`MAX_NAME_LEN`] bytes (reason
/// `too_long(length)`).
fn check_len(s: &str, empty: &str, too_long: impl FnOnce(usize) -> String) -> Result<(), String> {
    if s.is_empty() {
        return Err(empty.into());
    }
    if s.len() > MAX_NAME_LEN {
        return Err(too_long(s.len()));
    }
    Ok(())
}

fn check_unit_name(name: &str) -> Result<(), String> {
    check_len(name, "unit_name is empty", |n| {
        format!("unit_name is {n} bytes, more than {MAX_NAME_LEN}")
    })?;
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
pub fn parse_unit(remote_unit: &str, bag: &Bag) -> UnitRequests {
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
            reason: format!(
                "{why}; answering under {:?} instead",
                shorten(&out.unit_key)
            ),
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
pub fn parse_relation(units: &[(String, Bag)]) -> Vec<UnitRequests> {
    let mut sorted: Vec<&(String, Bag)> = units.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let mut taken = BTreeSet::new();
    let mut out = Vec::new();
    for (unit, bag) in sorted {
        let mut parsed = parse_unit(unit, bag);
        if taken.contains(&parsed.unit_key) {
            let fallback = unit.replace('/', "_");
            let collides = taken.contains(&fallback);
            let outcome = if collides {
                "all of this unit's requests are skipped".to_string()
            } else {
                format!("answering under {:?} instead", shorten(&fallback))
            };
            parsed.skipped.push(Skipped {
                unit: unit.clone(),
                key: UNIT_NAME_KEY,
                common_name: None,
                reason: format!(
                    "unit_name {:?} is already used by another unit of this relation; {outcome}",
                    shorten(&parsed.unit_key)
                ),
            });
            if collides {
                parsed.requests.clear();
                out.push(parsed);
                continue;
            }
            parsed.unit_key = fallback;
        }
        taken.insert(parsed.unit_key.clone());
        out.push(parsed);
    }
    out
}

fn parse_top_level(unit: &str, bag: &Bag, out: &mut UnitRequests) {
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

fn parse_request_map(unit: &str, bag: &Bag, kind: RequestKind, out: &mut UnitRequests) {
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
        check_len(s, "a SAN is an empty string", |n| {
            format!("a SAN is {n} bytes long, more than {MAX_NAME_LEN}")
        })?;
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
