//! Arguments of the secret tools: secret URIs, content keys and values (`key=value`,
//! `key#base64=`, `key#file=`, `--file`), and the metadata flags (label, description, expire,
//! rotate).

use std::collections::BTreeMap;
use std::time::SystemTime;

use base64::Engine;

use super::call::{usage, yaml_string_map, Call, E};
use crate::flags::{val, FlagSpec, Parsed};
use crate::state::{JujuVersion, State};
use crate::util;
use crate::views::Databag;

/// The bare id of a secret URI (`secret:<id>`, `secret://<uuid>/<id>` or `<id>`).
pub(super) fn parse_secret_id(s: &str) -> Result<String, E> {
    match secret_id_of(s) {
        Some(id) => Ok(id),
        None => usage(format!("secret URI {s:?} not valid")),
    }
}

/// The bare id of a secret URI in any accepted form, or `None` if `s` is not one.
pub(crate) fn secret_id_of(s: &str) -> Option<String> {
    let rest = s.strip_prefix("secret:").unwrap_or(s);
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let id = match rest.rsplit_once('/') {
        Some((uuid, id)) if !uuid.is_empty() && !uuid.contains('/') => id,
        Some(_) => return None,
        None => rest,
    };
    util::is_xid(id).then(|| id.to_string())
}

fn valid_secret_key(k: &str) -> bool {
    let b = k.as_bytes();
    if b.len() < 3 || !b[0].is_ascii_lowercase() || b[b.len() - 1] == b'-' {
        return false;
    }
    let mut prev_dash = false;
    for &c in &b[1..] {
        if c == b'-' {
            if prev_dash {
                return false;
            }
            prev_dash = true;
        } else if c.is_ascii_lowercase() || c.is_ascii_digit() {
            prev_dash = false;
        } else {
            return false;
        }
    }
    // `(?:-?[a-z0-9]){2,}` needs at least two alphanumerics after the first letter.
    b[1..].iter().filter(|c| **c != b'-').count() >= 2
}

/// Secret content size limits of one Juju version, from `core/secrets/createsecret.go`
/// (`maxValueSizeBytes`, `maxContentSizeBytes`, `encodeBase64`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ContentLimits {
    /// Largest value, bytes.
    pub value: usize,
    /// Largest sum of the values of one call (or of one `--file`), bytes.
    pub total: usize,
    /// Measured on the base64-encoded values (1 MB era) rather than on the values as given.
    pub encoded: bool,
}

/// The limits a Juju version enforces:
///
/// * before 3.4.1: 5 KiB per value, 64 KiB per call, measured on the values as given (juju/juju
///   PR #16943, merged 2024-02-19, raised the value limit "to 8kiB (it was 5kiB)"; the exact
///   first release with 8 KiB is inferred: 3.4.0 shipped before the merge, so 3.4.1);
/// * 3.4.1 to 3.6.8: 8 KiB per value, 64 KiB per call, as given (`maxValueSizeBytes = 8 * 1024`,
///   `maxContentSizeBytes = 64 * 1024`);
/// * 3.6.9 and later: 1,000,000 bytes for each, measured on the base64 encoding (juju/juju
///   PR #20287, merged 2025-07-29, fixing issue #19052 labelled 3.6; then `1000 * 1000` "as
///   vault accepts slightly less" than 1 MiB).
pub(crate) fn content_limits(v: JujuVersion) -> ContentLimits {
    if v >= JujuVersion(3, 6, 9) {
        ContentLimits {
            value: 1_000_000,
            total: 1_000_000,
            encoded: true,
        }
    } else if v >= JujuVersion(3, 4, 1) {
        ContentLimits {
            value: 8 * 1024,
            total: 64 * 1024,
            encoded: false,
        }
    } else {
        ContentLimits {
            value: 5 * 1024,
            total: 64 * 1024,
            encoded: false,
        }
    }
}

fn base64_len(n: usize) -> usize {
    n.div_ceil(3) * 4
}

/// Juju's size checks on one group of values (`encodeBase64`): each value, then their sum.
/// Keys still carry a `#base64` suffix. Errors are `Init` errors of the tool (exit 2).
fn check_sizes(group: &BTreeMap<String, String>, l: ContentLimits) -> Result<(), E> {
    let mut total = 0usize;
    for (k, v) in group {
        let (name, size) = if l.encoded {
            match k.strip_suffix("#base64") {
                Some(n) => (n, v.len()),
                None => (k.as_str(), base64_len(v.len())),
            }
        } else {
            (k.as_str(), v.len())
        };
        if size > l.value {
            let what = if l.encoded { "base64 encoded " } else { "" };
            return usage(format!(
                "{what}secret content for key {name:?} too large: {size} bytes"
            ));
        }
        total += size;
    }
    if total > l.total {
        let what = if l.encoded { "base64 encoded " } else { "" };
        return usage(format!("{what}secret content too large: {total} bytes"));
    }
    Ok(())
}

/// The checks `juju add-secret` / `juju update-secret` make on content given as a map: not empty
/// (`apiserver/facades/client/secrets/secrets.go` `createSecret`: `NotValidf("empty secret
/// value")`), valid key names and the size limits of the Juju version, measured as the hook tools
/// measure values given as `key=value` (`core/secrets/createsecret.go` `CreateSecretData`).
pub(crate) fn check_user_content(content: &Databag, v: JujuVersion) -> Result<(), String> {
    if content.is_empty() {
        return Err("empty secret value not valid".into());
    }
    if let Some(k) = content.keys().find(|k| !valid_secret_key(k)) {
        return Err(format!("key {k:?} not valid"));
    }
    match check_sizes(content, content_limits(v)) {
        Ok(()) => Ok(()),
        Err(E::Fail(f)) => Err(f.message),
        Err(_) => Err("secret content not valid".into()),
    }
}

/// Content from `key=value`, `key#base64=..`, `key#file=path` args and `--file`, with Juju's
/// size limits (`core/secrets/createsecret.go` `CreateSecretData` / `ReadSecretData`): the args
/// are one group, `--file` another (its values override the args', as in `secret-add.go`
/// `Init`). A `#file` bigger than the value limit, or a `--file` bigger than the total limit,
/// fails as `secret content in file "<path>" too large: N bytes`.
pub(super) fn secret_content(
    c: &Call,
    p: &Parsed,
    args: &[String],
    l: ContentLimits,
) -> Result<Databag, E> {
    let mut given = BTreeMap::new();
    for a in args {
        // Juju drops base64 padding before looking for the `=` between key and value.
        let stripped = a.trim_end_matches('=');
        let Some(idx) = stripped.find('=').filter(|i| *i >= 1) else {
            return usage(format!("key value {a:?} not valid"));
        };
        let (k, v) = (&a[..idx], &a[idx + 1..]);
        match k.strip_suffix("#file") {
            Some(key) => {
                let raw = c.read_path(v)?;
                if raw.len() > l.value {
                    return usage(format!(
                        "secret content in file {v:?} too large: {} bytes",
                        raw.len()
                    ));
                }
                given.insert(key.to_string(), String::from_utf8_lossy(&raw).into_owned());
            }
            None => {
                given.insert(k.to_string(), v.to_string());
            }
        }
    }
    check_sizes(&given, l)?;
    let mut out = Databag::new();
    for (k, v) in given {
        let (key, value) = decode_secret_value(&k, v)?;
        out.insert(key, value);
    }
    if let Some(path) = p.get("file") {
        let raw = c.read_path(path)?;
        if raw.len() > l.total {
            return usage(format!(
                "secret content in file {path:?} too large: {} bytes",
                raw.len()
            ));
        }
        let group: BTreeMap<String, String> =
            yaml_string_map(&raw, "--file")?.into_iter().collect();
        check_sizes(&group, l)?;
        for (k, v) in group {
            let (key, value) = decode_secret_value(&k, v)?;
            out.insert(key, value);
        }
    }
    Ok(out)
}

fn decode_secret_value(k: &str, v: String) -> Result<(String, String), E> {
    let (key, value) = if let Some(key) = k.strip_suffix("#base64") {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(v.trim())
            .or_else(|_| usage(format!("value for key {key:?} is not valid base64")))?;
        (key, String::from_utf8_lossy(&raw).into_owned())
    } else {
        (k, v)
    };
    if !valid_secret_key(key) {
        return usage(format!("key {key:?} not valid"));
    }
    Ok((key.to_string(), value))
}

fn parse_expire(st: &State, s: &str) -> Result<SystemTime, E> {
    if let Some(t) = util::parse_time(s) {
        return Ok(t);
    }
    if let Some(d) = util::parse_go_duration(s) {
        return Ok(st.clock + d);
    }
    usage(format!("expire time or duration {s:?} not valid"))
}

const ROTATE: [&str; 7] = [
    "never",
    "hourly",
    "daily",
    "weekly",
    "monthly",
    "quarterly",
    "yearly",
];

pub(super) const SECRET_META_SPECS: [FlagSpec; 5] = [
    val(&["label"]),
    val(&["description"]),
    val(&["expire"]),
    val(&["rotate"]),
    val(&["owner"]),
];

/// The metadata flags of `secret-add` and `secret-set`.
pub(super) struct Meta {
    pub label: Option<String>,
    pub description: Option<String>,
    pub expire: Option<SystemTime>,
    pub rotate: Option<String>,
}

pub(super) fn secret_meta(st: &State, p: &Parsed) -> Result<Meta, E> {
    let rotate = match p.get("rotate") {
        Some(r) if !ROTATE.contains(&r) => return usage(format!("rotate policy {r:?} not valid")),
        r => r.map(String::from),
    };
    let expire = match p.get("expire") {
        Some(e) => Some(parse_expire(st, e)?),
        None => None,
    };
    Ok(Meta {
        label: p.get("label").map(String::from),
        description: p.get("description").map(String::from),
        expire,
        rotate,
    })
}
