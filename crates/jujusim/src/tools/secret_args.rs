//! Arguments of the secret tools: secret URIs, content keys and values (`key=value`,
//! `key#base64=`, `key#file=`, `--file`), and the metadata flags (label, description, expire,
//! rotate).

use std::time::SystemTime;

use base64::Engine;

use super::call::{usage, yaml_string_map, Call, E};
use crate::flags::{val, FlagSpec, Parsed};
use crate::state::State;
use crate::util;
use crate::views::Databag;

/// The bare id of a secret URI (`secret:<id>`, `secret://<uuid>/<id>` or `<id>`).
pub(super) fn parse_secret_id(s: &str) -> Result<String, E> {
    let rest = s.strip_prefix("secret:").unwrap_or(s);
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let id = match rest.rsplit_once('/') {
        Some((uuid, id)) if !uuid.is_empty() && !uuid.contains('/') => id,
        Some(_) => return usage(format!("secret URI {s:?} not valid")),
        None => rest,
    };
    if util::is_xid(id) {
        Ok(id.to_string())
    } else {
        usage(format!("secret URI {s:?} not valid"))
    }
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

const MAX_SECRET_VALUE: usize = 1_000_000;

/// Content from `key=value`, `key#base64=..`, `key#file=path` args and `--file`.
pub(super) fn secret_content(c: &Call, p: &Parsed, args: &[String]) -> Result<Databag, E> {
    let mut out = Databag::new();
    if let Some(path) = p.get("file") {
        for (k, v) in yaml_string_map(&c.read_path(path)?, "--file")? {
            let (key, value) = decode_secret_value(c, &k, v)?;
            out.insert(key, value);
        }
    }
    for a in args {
        let Some((k, v)) = a.split_once('=') else {
            return usage(format!("key value {a:?} not valid"));
        };
        let (key, value) = decode_secret_value(c, k, v.to_string())?;
        out.insert(key, value);
    }
    Ok(out)
}

fn decode_secret_value(c: &Call, k: &str, v: String) -> Result<(String, String), E> {
    let (key, value) = if let Some(key) = k.strip_suffix("#base64") {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(v.trim())
            .or_else(|_| usage(format!("value for key {key:?} is not valid base64")))?;
        (key, String::from_utf8_lossy(&raw).into_owned())
    } else if let Some(key) = k.strip_suffix("#file") {
        let raw = c.read_path(&v)?;
        (key, String::from_utf8_lossy(&raw).into_owned())
    } else {
        (k, v)
    };
    if !valid_secret_key(key) {
        return usage(format!("key {key:?} not valid"));
    }
    if value.len() > MAX_SECRET_VALUE {
        return usage(format!(
            "secret content for key {key:?} too large: {} bytes (max {MAX_SECRET_VALUE})",
            value.len()
        ));
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
