//! Action handlers. Each action either sets results or fails with a message saying what to do.
//!
//! Every action runs on the leader only; elsewhere it fails with
//! `run this action on the leader unit: juju run <app>/leader <action>`. Handlers return
//! `Err(CharmError::ActionFailed(..))`; the dispatcher turns it into `action-fail`.
//!
//! - `get-ca-certificate`: `ca-certificate` (PEM), and `previous-ca-certificate` after a rotation.
//! - `get-issued-certificates [relation-id=N]`: `certificates` (a JSON list, one object per
//!   published certificate: `relation-id`, `requirer`, `requirer-type` (`unit`/`app`),
//!   `common-name`, `sans`, `serial`, `not-after` (RFC 3339), `is-ca`, `issuer`), and `count`.
//! - `rotate-private-key`: a new CA and every certificate reissued under it in the same action;
//!   `result`, `reissued`, `ca-certificate`.
//! - the manual-mode actions are implemented in `manual.rs`.
//!
//! Big lists (`certificates`, `requests`, ...) go through [`set_json_list`]: Juju's `action-set`
//! takes results only on argv, where one argument is limited to 128 KiB. A list whose JSON fits in
//! [`MAX_LIST_CHUNK_BYTES`] is one result, `<key>=<json list>`, as always. A longer one is split into
//! consecutive results `<key>`, `<key>-2`, ..., `<key>-<N>`, each a JSON list of whole entries, plus
//! `<key>-parts=<N>`; concatenating the lists in that order gives the whole list. The action's
//! `message` says so. An entry that alone is over the limit is shortened ([`shrink_entry`]).

use std::collections::{BTreeMap, HashMap};
use std::time::SystemTime;

use juju_hook::{HookContext, HookTools, RelationId};
use openssl::x509::X509;
use serde_json::{json, Value};

use super::config::{Config, Mode};
use super::reconcile::{reconcile_at, ReconcileOptions};
use super::snapshot::{self, RelationSnapshot, RequestSource};
use super::state::{self, Loaded};
use super::{clock, manual, CharmError};
use crate::pki::verify;

/// The actions this charm implements (must match actions.yaml).
pub const ACTIONS: &[&str] = &[
    "get-ca-certificate",
    "get-issued-certificates",
    "rotate-private-key",
    "get-outstanding-certificate-requests",
    "get-certificate-request",
    "provide-certificate",
];

/// The longest JSON text one list result holds; see [`set_json_list`]. Well under
/// [`juju_hook::MAX_ACTION_VALUE_BYTES`], so `<key>=<chunk>` always fits one argument.
pub const MAX_LIST_CHUNK_BYTES: usize = 96 * 1024;

/// String fields longer than this are left out of an entry that is too large to show whole.
const SHRUNK_FIELD_BYTES: usize = 1024;

/// The result key of part `n` (1-based) of list `key`: `key`, `key-2`, `key-3`, ...
pub fn part_key(key: &str, n: usize) -> String {
    if n <= 1 {
        key.to_string()
    } else {
        format!("{key}-{n}")
    }
}

/// The result key holding the number of parts of a split list `key` (absent when not split).
pub fn parts_key(key: &str) -> String {
    format!("{key}-parts")
}

/// Text to add to an action's message when list `key` was split into `parts` results.
pub fn split_note(key: &str, parts: usize) -> Option<String> {
    if parts <= 1 {
        return None;
    }
    let names = if parts <= 3 {
        (1..=parts)
            .map(|n| part_key(key, n))
            .collect::<Vec<_>>()
            .join(", ")
    } else {
        format!("{key}, {}, ..., {}", part_key(key, 2), part_key(key, parts))
    };
    Some(format!(
        "the {key} list is too large for one result, so it is split into {parts} JSON lists \
         ({}={parts}): {names}; concatenate them in that order",
        parts_key(key)
    ))
}

/// `entry`, made small enough for one list result: an object keeps its short fields (strings up to
/// 1 KiB and other values whose JSON is that short) and gains `"truncated"` saying what was left
/// out; a long string is cut; anything else becomes a note. Such entries only come from hostile or
/// broken requirer input (CSRs and names are bounded far lower).
pub fn shrink_entry(entry: &Value, bytes: usize) -> Value {
    let why = format!(
        "this entry is {bytes} bytes of JSON, over the {MAX_LIST_CHUNK_BYTES}-byte limit of an action result"
    );
    match entry {
        Value::Object(map) => {
            let mut kept = serde_json::Map::new();
            let mut left_out = Vec::new();
            for (k, v) in map {
                let len = serde_json::to_string(v).map_or(usize::MAX, |t| t.len());
                if len <= SHRUNK_FIELD_BYTES && k.len() <= SHRUNK_FIELD_BYTES {
                    kept.insert(k.clone(), v.clone());
                } else {
                    left_out.push(k.chars().take(64).collect::<String>());
                }
            }
            kept.insert(
                "truncated".into(),
                Value::String(format!("{why}; left out: {}", left_out.join(", "))),
            );
            let shrunk = Value::Object(kept);
            if serde_json::to_string(&shrunk).map_or(usize::MAX, |t| t.len())
                <= MAX_LIST_CHUNK_BYTES
            {
                shrunk
            } else {
                json!({ "truncated": why })
            }
        }
        Value::String(text) => {
            let mut end = SHRUNK_FIELD_BYTES.min(text.len());
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            Value::String(format!("{}... ({why}; cut)", &text[..end]))
        }
        _ => Value::String(why),
    }
}

/// Publishes `items` as list result `key` (see the module documentation): `results[key]` is the
/// whole JSON list when it fits [`MAX_LIST_CHUNK_BYTES`], else consecutive chunks under `key`,
/// `key-2`, ... plus `key-parts`. Returns the number of parts (1 when not split).
pub fn set_json_list(results: &mut BTreeMap<String, String>, key: &str, items: &[Value]) -> usize {
    let mut chunks: Vec<String> = Vec::new();
    let mut current = String::from("[");
    for item in items {
        let mut text = serde_json::to_string(item).unwrap_or_else(|_| "null".into());
        // "[" + text + "]" must fit a chunk on its own.
        if text.len() + 2 > MAX_LIST_CHUNK_BYTES {
            text = serde_json::to_string(&shrink_entry(item, text.len()))
                .unwrap_or_else(|_| "null".into());
        }
        let extra = text.len() + usize::from(current.len() > 1);
        if current.len() > 1 && current.len() + extra + 1 > MAX_LIST_CHUNK_BYTES {
            current.push(']');
            chunks.push(std::mem::replace(&mut current, String::from("[")));
        }
        if current.len() > 1 {
            current.push(',');
        }
        current.push_str(&text);
    }
    current.push(']');
    chunks.push(current);
    let parts = chunks.len();
    for (i, chunk) in chunks.into_iter().enumerate() {
        results.insert(part_key(key, i + 1), chunk);
    }
    if parts > 1 {
        results.insert(parts_key(key), parts.to_string());
    }
    parts
}

/// The failure message of an action run on a non-leader unit.
pub fn not_leader_message(ctx: &HookContext, action: &str) -> String {
    format!(
        "run this action on the leader unit: juju run {}/leader {action}",
        ctx.app_name
    )
}

/// Fails unless this unit is the leader.
pub fn require_leader(
    ctx: &HookContext,
    tools: &dyn HookTools,
    action: &str,
) -> Result<(), CharmError> {
    if tools.is_leader()? {
        Ok(())
    } else {
        Err(CharmError::ActionFailed(not_leader_message(ctx, action)))
    }
}

/// Runs action `name`. Unknown names return [`CharmError::UnknownAction`]; the dispatcher turns
/// that into `action-fail`.
pub fn run(name: &str, ctx: &HookContext, tools: &dyn HookTools) -> Result<(), CharmError> {
    if !ACTIONS.contains(&name) {
        return Err(CharmError::UnknownAction(name.to_string()));
    }
    require_leader(ctx, tools, name)?;
    match name {
        "get-ca-certificate" => get_ca_certificate(ctx, tools),
        "get-issued-certificates" => get_issued_certificates(ctx, tools),
        "rotate-private-key" => rotate_private_key(ctx, tools, SystemTime::now()),
        "get-outstanding-certificate-requests" => {
            manual::get_outstanding_certificate_requests(ctx, tools)
        }
        "get-certificate-request" => manual::get_certificate_request(ctx, tools),
        "provide-certificate" => manual::provide_certificate(ctx, tools),
        _ => Err(CharmError::UnknownAction(name.to_string())),
    }
}

fn failed(msg: impl Into<String>) -> CharmError {
    CharmError::ActionFailed(msg.into())
}

/// Reads the optional `relation-id` parameter (integer, or a string such as `7` or
/// `certificates:7`).
pub fn relation_id_param(
    params: &serde_json::Map<String, Value>,
) -> Result<Option<RelationId>, CharmError> {
    match params.get("relation-id") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .map(|n| Some(RelationId(n)))
            .ok_or_else(|| {
                failed(format!(
                    "relation-id {n} is not a relation id (a whole number >= 0)"
                ))
            }),
        Some(Value::String(s)) => RelationId::parse(s)
            .map(Some)
            .ok_or_else(|| failed(format!("relation-id {s:?} is not a relation id (e.g. 7)"))),
        Some(other) => Err(failed(format!(
            "relation-id {other} is not a relation id (e.g. 7)"
        ))),
    }
}

/// Reads the relations an action looks at: all of them, or only `only` (which must exist).
pub fn read_relations_for_action(
    ctx: &HookContext,
    tools: &dyn HookTools,
    only: Option<RelationId>,
) -> Result<Vec<RelationSnapshot>, CharmError> {
    let ids = snapshot::relation_ids(ctx, tools)?;
    let wanted: Vec<RelationId> = match only {
        None => ids,
        Some(id) if ids.contains(&id) => vec![id],
        Some(id) => {
            let live: Vec<String> = ids.iter().map(|i| i.to_string()).collect();
            return Err(failed(format!(
                "relation-id {id} is not a certificates relation of this application (live relations: {}); \
                 see `juju show-unit {}` or get-issued-certificates without relation-id",
                if live.is_empty() { "none".to_string() } else { live.join(", ") },
                ctx.unit_name
            )));
        }
    };
    let mut out = Vec::new();
    for id in wanted {
        if let Some(s) = snapshot::read_relation(ctx, tools, id)? {
            out.push(s);
        }
    }
    Ok(out)
}

fn get_ca_certificate(ctx: &HookContext, tools: &dyn HookTools) -> Result<(), CharmError> {
    match state::load(tools)? {
        Loaded::Ok(stored) => {
            let mut results = BTreeMap::new();
            results.insert("ca-certificate".to_string(), stored.ca_pem.clone());
            if let Some(prev) = &stored.previous_pem {
                results.insert("previous-ca-certificate".to_string(), prev.clone());
            }
            tools.action_set(&results)?;
            Ok(())
        }
        Loaded::Missing => {
            let mode = Config::from_map(&tools.config_get()?).map(|c| c.mode);
            Err(failed(match mode {
                Ok(Mode::Manual) => "there is no built-in CA: mode is manual, so certificates come from your own CA \
                                      (see get-outstanding-certificate-requests and provide-certificate)"
                    .to_string(),
                Ok(Mode::SelfSigned) => format!(
                    "the CA is not created yet: the leader creates it on its next hook; check `juju status {}` and retry",
                    ctx.app_name
                ),
                Err(e) => format!(
                    "the CA is not created yet because the config is invalid ({}); fix it with `juju config {}`",
                    e.summary(),
                    ctx.app_name
                ),
            }))
        }
        Loaded::Unreadable(why) => Err(failed(format!(
            "the stored CA cannot be read ({why}); run `juju run {}/leader rotate-private-key` to make a new one",
            ctx.app_name
        ))),
    }
}

/// One published certificate as `get-issued-certificates` shows it.
fn describe_certificate(
    rel: RelationId,
    source: Option<&RequestSource>,
    remote_app: &str,
    cert: &X509,
    revoked: bool,
) -> Value {
    let info = verify::cert_info(cert);
    let sans = crate::pki::san::san_strings(&info.sans);
    let (requirer, kind) = match source {
        Some(RequestSource::Unit(u)) => (u.clone(), "unit"),
        Some(RequestSource::App(a)) => (a.clone(), "app"),
        None => (remote_app.to_string(), "unknown"),
    };
    let mut v = json!({
        "relation-id": rel.0,
        "requirer": requirer,
        "requirer-type": kind,
        "common-name": info.common_name.unwrap_or_default(),
        "sans": sans,
        "serial": info.serial_hex,
        "not-after": clock::rfc3339(info.not_after),
        "is-ca": info.is_ca,
        "issuer": info.issuer,
    });
    if revoked {
        v["revoked"] = Value::Bool(true);
    }
    v
}

fn get_issued_certificates(ctx: &HookContext, tools: &dyn HookTools) -> Result<(), CharmError> {
    let params = tools.action_get()?;
    let only = relation_id_param(&params)?;
    let snaps = read_relations_for_action(ctx, tools, only)?;
    let mut list = Vec::new();
    for snap in &snaps {
        let requests = snap.requests();
        let sources: HashMap<&str, &RequestSource> = requests
            .requests
            .iter()
            .map(|r| (r.csr.as_str(), &r.source))
            .collect();
        let (published, _) = snap.published();
        for entry in &published.certificates {
            let Ok(cert) = X509::from_pem(entry.certificate.as_bytes()) else {
                continue;
            };
            list.push(describe_certificate(
                snap.id,
                sources
                    .get(entry.certificate_signing_request.as_str())
                    .copied(),
                &snap.remote_app,
                &cert,
                entry.revoked,
            ));
        }
    }
    let mut results = BTreeMap::new();
    results.insert("count".to_string(), list.len().to_string());
    if list.is_empty() {
        results.insert(
            "message".to_string(),
            "no certificates are published (yet)".to_string(),
        );
    }
    let parts = set_json_list(&mut results, "certificates", &list);
    if let Some(note) = split_note("certificates", parts) {
        results.insert(
            "message".to_string(),
            format!("{} certificates are published; {note}", list.len()),
        );
    }
    tools.action_set(&results)?;
    Ok(())
}

/// `rotate-private-key` at `now`: new CA and every certificate reissued in the same action.
pub fn rotate_private_key(
    ctx: &HookContext,
    tools: &dyn HookTools,
    now: SystemTime,
) -> Result<(), CharmError> {
    let config = Config::from_map(&tools.config_get()?).map_err(|e| {
        failed(format!(
            "cannot rotate: {e}; fix it with `juju config {}` and retry",
            ctx.app_name
        ))
    })?;
    if config.mode == Mode::Manual {
        return Err(failed(format!(
            "cannot rotate: mode is manual, so the built-in CA signs nothing; \
             set `juju config {} mode=self-signed` first",
            ctx.app_name
        )));
    }
    let summary = reconcile_at(ctx, tools, now, ReconcileOptions { force_rotate: true })?;
    if summary.ca_rotated.is_none() {
        let why = summary
            .status
            .map(|(_, m)| m)
            .unwrap_or_else(|| "unknown reason".to_string());
        return Err(failed(format!("the CA was not rotated: {why}")));
    }
    let ca_pem = match state::load(tools)? {
        Loaded::Ok(s) => s.ca_pem,
        _ => {
            return Err(failed(
                "the new CA could not be read back from its secret; retry",
            ))
        }
    };
    let n = summary.totals.reissued;
    let mut results = BTreeMap::new();
    results.insert(
        "result".to_string(),
        format!("new CA private key and certificate created; {n} certificate(s) reissued under it"),
    );
    results.insert("reissued".to_string(), n.to_string());
    results.insert("ca-certificate".to_string(), ca_pem);
    tools.action_set(&results)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn joined(results: &BTreeMap<String, String>, key: &str) -> Vec<Value> {
        let parts: usize = results
            .get(&parts_key(key))
            .map_or(1, |n| n.parse().unwrap());
        (1..=parts)
            .flat_map(|n| {
                let chunk = &results[&part_key(key, n)];
                assert!(chunk.len() <= MAX_LIST_CHUNK_BYTES, "{n}: {}", chunk.len());
                serde_json::from_str::<Vec<Value>>(chunk).unwrap()
            })
            .collect()
    }

    #[test]
    fn small_lists_keep_the_one_key() {
        let mut results = BTreeMap::new();
        let items = vec![json!({"a": 1}), json!("b")];
        assert_eq!(set_json_list(&mut results, "requests", &items), 1);
        assert_eq!(results.len(), 1);
        assert_eq!(results["requests"], r#"[{"a":1},"b"]"#);
        assert_eq!(split_note("requests", 1), None);
        let mut results = BTreeMap::new();
        assert_eq!(set_json_list(&mut results, "requests", &[]), 1);
        assert_eq!(results["requests"], "[]");
    }

    #[test]
    fn large_lists_are_split_into_whole_entries_under_the_limit() {
        // 1000 entries of ~330 bytes: ~330 KB, 4 parts.
        let items: Vec<Value> = (0..1000)
            .map(|i| json!({"n": i, "text": format!("{i:0>300}")}))
            .collect();
        let mut results = BTreeMap::new();
        let parts = set_json_list(&mut results, "certificates", &items);
        assert_eq!(parts, 4);
        assert_eq!(results["certificates-parts"], "4");
        assert!(results.contains_key("certificates-4"));
        assert!(!results.contains_key("certificates-5"));
        assert!(!results.contains_key("certificates-1"));
        assert_eq!(joined(&results, "certificates"), items);
        // Parts are filled: each but the last could not take the next entry.
        for n in 1..parts {
            assert!(results[&part_key("certificates", n)].len() + 340 > MAX_LIST_CHUNK_BYTES);
        }
        let note = split_note("certificates", parts).unwrap();
        assert!(
            note.contains("certificates, certificates-2, ..., certificates-4"),
            "{note}"
        );
        assert!(note.contains("certificates-parts=4"), "{note}");
        assert!(split_note("x", 2).unwrap().contains(": x, x-2;"));
    }

    #[test]
    fn an_entry_over_the_limit_alone_is_shrunk_not_fatal() {
        let huge = "h".repeat(300 * 1024);
        let items = vec![
            json!({"relation-id": 3, "unit": "evil/0", "common-name": huge}),
            json!(huge),
            json!({"relation-id": 4}),
        ];
        let mut results = BTreeMap::new();
        set_json_list(&mut results, "requests", &items);
        let got = joined(&results, "requests");
        assert_eq!(got.len(), 3);
        assert_eq!(got[0]["relation-id"], json!(3));
        assert_eq!(got[0]["unit"], json!("evil/0"));
        assert!(got[0].get("common-name").is_none());
        let why = got[0]["truncated"].as_str().unwrap();
        assert!(why.contains("over the 98304-byte limit"), "{why}");
        assert!(why.ends_with("left out: common-name"), "{why}");
        assert!(got[1].as_str().unwrap().len() < 2048);
        assert_eq!(got[2], items[2]);
        // And the results pass the action-set size rules.
        juju_hook::process::action_set_batches(&results).unwrap();
    }
}
