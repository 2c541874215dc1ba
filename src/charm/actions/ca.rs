//! The CA actions: `get-ca-certificate` (`ca-certificate`, `previous-ca-certificate` after a
//! rotation, `next-ca-certificate` during one) and `rotate-private-key` (a rotation announced,
//! or with `immediate=true` a new CA and every certificate reissued under it in the same action;
//! `result`, `phase`, `reissued`, `ca-certificate`, `next-ca-certificate`).

use super::ActionError;
use std::collections::BTreeMap;

use super::fail;
use super::params::bool_param;
use crate::charm::ca::{self, Loaded};
use crate::charm::config::format_duration;
use crate::charm::config::Mode;
use crate::charm::hook::Hook;
use crate::charm::reconcile::{reconcile, ReconcileOptions};

/// `get-ca-certificate`.
pub fn get_ca_certificate(hook: &Hook<'_>) -> Result<(), ActionError> {
    let app = hook.app();
    match ca::load(hook.tools)? {
        Loaded::Ok(stored) => {
            let mut results = BTreeMap::new();
            results.insert("ca-certificate".to_string(), stored.ca_pem.clone());
            results.insert("source".to_string(), stored.source.describe());
            if stored.is_intermediate() {
                results.insert("ca-chain".to_string(), stored.chain_pems().join("\n"));
                results.insert("root-ca-certificate".to_string(), stored.root_pem());
            }
            if let Some(prev) = &stored.previous_pem {
                results.insert("previous-ca-certificate".to_string(), prev.clone());
            }
            if let Some(next) = &stored.next {
                results.insert("next-ca-certificate".to_string(), next.pem.clone());
            }
            hook.tools.action_set(&results)?;
            Ok(())
        }
        Loaded::Missing => Err(fail(match hook.config()?.map(|c| c.mode) {
            Ok(Mode::Manual) => "there is no built-in CA: mode is manual, so certificates come from your own CA \
                                 (see get-outstanding-certificate-requests and provide-certificate)"
                .to_string(),
            Ok(Mode::SelfSigned) => format!(
                "the CA is not created yet: the leader creates it on its next hook; check `juju status {app}` and retry"
            ),
            Err(e) => format!(
                "the CA is not created yet because the config is invalid ({}); fix it with `juju config {app}`",
                e.summary()
            ),
        })),
        Loaded::Unreadable(why) => Err(fail(format!(
            "the stored CA cannot be read ({why}); run `juju run {app}/leader rotate-private-key` to make a new one"
        ))),
    }
}

/// `rotate-private-key`: a reconcile that starts a rotation (or, `immediate`, switches to a new
/// CA). The CAs reported are those that reconcile made and published (held in memory: the
/// secret's new revision is not readable before the hook commits).
pub fn rotate_private_key(hook: &Hook<'_>) -> Result<(), ActionError> {
    let app = hook.app();
    let immediate = bool_param(&hook.tools.action_get()?, "immediate", false)?;
    let config = hook.config()?.map_err(|e| {
        fail(format!(
            "cannot rotate: {e}; fix it with `juju config {app}` and retry"
        ))
    })?;
    if config.mode == Mode::Manual {
        return Err(fail(format!(
            "cannot rotate: mode is manual, so the built-in CA signs nothing; \
             set `juju config {app} mode=self-signed` first"
        )));
    }
    let was = match ca::load(hook.tools)? {
        Loaded::Ok(stored) if stored.source != ca::CaSource::SelfSigned => {
            Some(stored.source.describe())
        }
        _ => None,
    };
    let summary = reconcile(
        hook,
        ReconcileOptions {
            force_rotate: true,
            immediate,
            ..ReconcileOptions::default()
        },
    )?;
    let mut results = BTreeMap::new();
    let mut put = |k: &str, v: String| {
        results.insert(k.to_string(), v);
    };
    if let Some(phase) = summary.ca_phase.as_ref().and_then(|p| p.describe()) {
        put("phase", phase);
    }
    if let (Some(was), None) = (&was, &summary.intake) {
        put(
            "replaces",
            format!("the CA from {was} is replaced by a new self-signed root (upstream-ca is not related)"),
        );
    }
    match (&summary.ca_rotated, &summary.ca_announced, &summary.ca_pem) {
        (Some(_), _, Some(ca_pem)) => {
            let n = summary.totals.replaced;
            put(
                "result",
                format!("new CA private key and certificate created; {n} certificate(s) reissued under it"),
            );
            put("reissued", n.to_string());
            put("ca-certificate", ca_pem.clone());
        }
        (None, Some(_), Some(ca_pem)) => {
            put(
                "result",
                format!(
                    "new CA announced in the trust bundle; it signs, and every certificate is reissued under it, \
                     after ca-rotation-overlap ({}); run with immediate=true to switch now",
                    format_duration(config.ca_rotation_overlap)
                ),
            );
            put("reissued", "0".into());
            put("ca-certificate", ca_pem.clone());
            if let Some(next) = &summary.ca_next_pem {
                put("next-ca-certificate", next.clone());
            }
        }
        (None, None, Some(_)) if summary.intake.is_some() && summary.ca_pending_csr.is_some() => {
            let label = summary
                .intake
                .as_ref()
                .map(|i| i.label.clone())
                .unwrap_or_default();
            put(
                "result",
                format!(
                    "asked {label} for a new intermediate CA (new key); it signs once the provider \
                     answers and the certificate passes the checks (status shows progress){}",
                    if immediate {
                        "; immediate=true cannot apply: the current CA signs until then"
                    } else {
                        ""
                    }
                ),
            );
            put("reissued", "0".into());
        }
        (None, None, Some(_)) if summary.ca_next_pem.is_some() => {
            return Err(fail(format!(
                "a rotation is already announced ({}); wait for it, or run rotate-private-key immediate=true to switch now",
                results.get("phase").cloned().unwrap_or_default()
            )));
        }
        _ => {
            let why = summary
                .status
                .map(|(_, m)| m)
                .unwrap_or_else(|| "unknown reason".to_string());
            return Err(fail(format!("the CA was not rotated: {why}")));
        }
    }
    hook.tools.action_set(&results)?;
    Ok(())
}
