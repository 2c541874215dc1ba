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
    let sans: Vec<String> = info
        .dns_sans
        .iter()
        .cloned()
        .chain(info.ip_sans.iter().map(|i| i.to_string()))
        .chain(info.oid_sans.iter().cloned())
        .collect();
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
    results.insert(
        "certificates".to_string(),
        serde_json::to_string(&list).unwrap_or_else(|_| "[]".into()),
    );
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
