//! The CA actions: `get-ca-certificate` (`ca-certificate`, and `previous-ca-certificate` after a
//! rotation) and `rotate-private-key` (a new CA and every certificate reissued under it in the
//! same action; `result`, `reissued`, `ca-certificate`).

use super::ActionError;
use std::collections::BTreeMap;

use super::fail;
use crate::charm::ca::{self, Loaded};
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
            if let Some(prev) = &stored.previous_pem {
                results.insert("previous-ca-certificate".to_string(), prev.clone());
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

/// `rotate-private-key`: a reconcile that makes a new CA. The CA reported is the one that
/// reconcile made and published (held in memory: the secret's new revision is not readable
/// before the hook commits).
pub fn rotate_private_key(hook: &Hook<'_>) -> Result<(), ActionError> {
    let app = hook.app();
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
    let summary = reconcile(hook, ReconcileOptions { force_rotate: true })?;
    let (Some(_), Some(ca_pem)) = (&summary.ca_rotated, summary.ca_pem.clone()) else {
        let why = summary
            .status
            .map(|(_, m)| m)
            .unwrap_or_else(|| "unknown reason".to_string());
        return Err(fail(format!("the CA was not rotated: {why}")));
    };
    let n = summary.totals.replaced;
    let mut results = BTreeMap::new();
    results.insert(
        "result".to_string(),
        format!("new CA private key and certificate created; {n} certificate(s) reissued under it"),
    );
    results.insert("reissued".to_string(), n.to_string());
    results.insert("ca-certificate".to_string(), ca_pem);
    hook.tools.action_set(&results)?;
    Ok(())
}
