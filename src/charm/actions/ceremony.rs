//! Bringing a CA signed outside Juju: `get-ca-signing-request` (a key kept in the CA secret and
//! a CSR for a new intermediate), `set-ca-certificate` (the signed intermediate and its chain,
//! checked, then installed) and `import-ca` (a CA certificate and key from a Juju user secret,
//! so the key never travels in action parameters or output).
//!
//! Every check happens before anything is written: a failure changes nothing. Installing uses
//! the rotation's no-outage rule (see `ca::install`).

use std::collections::BTreeMap;
use std::time::Duration;

use juju_hook::{SecretRead, SecretRef};
use openssl::x509::X509;

use super::params::{bool_param, decode_pem_param, string_param, Params};
use super::{fail, ActionError};
use crate::charm::ca::install::{CaChange, Candidate};
use crate::charm::ca::source::UPSTREAM_ENDPOINT;
use crate::charm::ca::status::short_name;
use crate::charm::ca::{self, CaSource, Loaded, PendingFor, StoredCa};
use crate::charm::config::{format_duration, Config, Mode};
use crate::charm::dialect::snapshot;
use crate::charm::hook::Hook;
use crate::charm::reconcile::{reconcile_changing_ca, ReconcileOptions, Summary};
use crate::pki::intermediate::{check_to_root, IntermediateError};
use crate::pki::keys::private_key_from_pem;
use crate::pki::{parse_certs, trust::pem_of, Ca};

/// The keys `import-ca` reads from the operator's secret.
pub const SECRET_CERTIFICATE: &str = "certificate";
pub const SECRET_PRIVATE_KEY: &str = "private-key";
pub const SECRET_CA_CHAIN: &str = "ca-chain";

/// The config, in self-signed mode (the built-in CA is what these actions change).
fn self_signed_config(hook: &Hook<'_>, action: &str) -> Result<Config, ActionError> {
    let app = hook.app();
    let config = hook.config()?.map_err(|e| {
        fail(format!(
            "cannot run {action}: {e}; fix it with `juju config {app}` and retry"
        ))
    })?;
    if config.mode == Mode::Manual {
        return Err(fail(format!(
            "cannot run {action}: mode is manual, so the built-in CA signs nothing; \
             set `juju config {app} mode=self-signed` first"
        )));
    }
    Ok(config)
}

/// Fails when `upstream-ca` is related: the intermediate comes from there.
fn no_upstream(hook: &Hook<'_>, action: &str) -> Result<(), ActionError> {
    if snapshot::relation_ids(hook, UPSTREAM_ENDPOINT)?.is_empty() {
        return Ok(());
    }
    Err(fail(format!(
        "cannot run {action}: {UPSTREAM_ENDPOINT} is related, so the intermediate CA comes from \
         that provider (and would replace what {action} installs); remove the relation first: \
         juju remove-relation {app}:{UPSTREAM_ENDPOINT} <provider>",
        app = hook.app()
    )))
}

/// The CA as stored now (committed).
fn stored(hook: &Hook<'_>, action: &str) -> Result<StoredCa, ActionError> {
    match ca::load(hook.tools)? {
        Loaded::Ok(s) => Ok(s),
        Loaded::Missing => Err(fail(format!(
            "cannot run {action}: the CA is not created yet (the leader creates it on its next hook); retry in a moment"
        ))),
        Loaded::Unreadable(why) => Err(fail(format!(
            "cannot run {action}: the stored CA cannot be read ({why}); run rotate-private-key first"
        ))),
    }
}

/// `get-ca-signing-request`: the CSR of the outstanding ceremony request, or a new one
/// (`new=true`, or none outstanding).
pub fn get_ca_signing_request(hook: &Hook<'_>) -> Result<(), ActionError> {
    const ACTION: &str = "get-ca-signing-request";
    let config = self_signed_config(hook, ACTION)?;
    no_upstream(hook, ACTION)?;
    let new = bool_param(&hook.tools.action_get()?, "new", false)?;
    let current = stored(hook, ACTION)?;
    let outstanding = current
        .pending
        .as_ref()
        .filter(|p| p.asked == PendingFor::Ceremony && !new)
        .map(|p| p.csr_pem.clone());
    let (csr, made) = match outstanding {
        Some(csr) => (csr, false),
        None => {
            let summary =
                reconcile_changing_ca(hook, ReconcileOptions::default(), CaChange::Request)?;
            let csr = summary
                .ca_pending_csr
                .clone()
                .ok_or_else(|| fail(format!("no CSR was made: {}", status_of(&summary))))?;
            (csr, true)
        }
    };
    let app = hook.app();
    let mut results = BTreeMap::new();
    results.insert("csr".to_string(), csr);
    results.insert(
        "result".to_string(),
        if made {
            "new private key (kept in the CA secret) and CSR made".to_string()
        } else {
            "the outstanding request (run with new=true for a new key)".to_string()
        },
    );
    results.insert(
        "next-step".to_string(),
        format!(
            "sign it as a CA (basicConstraints CA:TRUE, keyUsage keyCertSign) valid for more than \
             certificate-validity ({}), then run: juju run {app}/leader set-ca-certificate \
             certificate=\"$(base64 -w0 intermediate.pem)\" ca-chain=\"$(base64 -w0 chain-up-to-root.pem)\"",
            format_duration(config.certificate_validity)
        ),
    );
    hook.tools.action_set(&results)?;
    Ok(())
}

/// `set-ca-certificate certificate=... ca-chain=...`.
pub fn set_ca_certificate(hook: &Hook<'_>) -> Result<(), ActionError> {
    const ACTION: &str = "set-ca-certificate";
    let config = self_signed_config(hook, ACTION)?;
    no_upstream(hook, ACTION)?;
    let params = hook.tools.action_get()?;
    let current = stored(hook, ACTION)?;
    let Some(pending) = current
        .pending
        .as_ref()
        .filter(|p| p.asked == PendingFor::Ceremony)
    else {
        return Err(fail(format!(
            "no CA signing request is outstanding: run get-ca-signing-request, have its CSR signed, \
             then run {ACTION} with the signed certificate"
        )));
    };
    let cert = one_cert(&required_pem(&params, "certificate")?, "certificate")?;
    let chain = certs_of(&required_pem(&params, "ca-chain")?, "ca-chain")?;
    let checked = check_to_root(&cert, &chain, &pending.key, hook.now, min_life(&config))
        .map_err(|e| refuse("certificate", &e, "the CSR from get-ca-signing-request"))?;
    let cand = Candidate {
        ca: Ca {
            cert: checked[0].clone(),
            key: pending.key.clone(),
        },
        chain: checked[1..].to_vec(),
        source: CaSource::Ceremony,
        csr: Some(pending.csr_pem.clone()),
        requested_for: Some(pending.requested_for.clone()),
    };
    let why = "intermediate CA from the offline ceremony (set-ca-certificate)".to_string();
    install(hook, cand, why, &config)
}

/// `import-ca secret-id=...`.
pub fn import_ca(hook: &Hook<'_>) -> Result<(), ActionError> {
    const ACTION: &str = "import-ca";
    let config = self_signed_config(hook, ACTION)?;
    no_upstream(hook, ACTION)?;
    let params = hook.tools.action_get()?;
    let Some(id) = string_param(&params, "secret-id")?.filter(|s| !s.trim().is_empty()) else {
        return Err(fail(format!(
            "secret-id is missing: {}",
            import_usage(hook.app())
        )));
    };
    let id = id.trim().to_string();
    let content = read_secret(hook, &id)?;
    let get = |k: &str| content.get(k).filter(|v| !v.trim().is_empty());
    let missing: Vec<&str> = [SECRET_CERTIFICATE, SECRET_PRIVATE_KEY]
        .into_iter()
        .filter(|k| get(k).is_none())
        .collect();
    if !missing.is_empty() {
        let has: Vec<&String> = content.keys().collect();
        return Err(fail(format!(
            "secret {id} has no {} (its keys: {has:?}); {}",
            missing.join(" and no "),
            import_usage(hook.app())
        )));
    }
    let key = private_key_from_pem(get(SECRET_PRIVATE_KEY).map(String::as_str).unwrap_or(""))
        .map_err(|_| {
            fail(format!(
                "the {SECRET_PRIVATE_KEY} in secret {id} is not a PEM private key (PKCS#8, PKCS#1 or SEC1)"
            ))
        })?;
    let cert = one_cert(
        get(SECRET_CERTIFICATE).map(String::as_str).unwrap_or(""),
        "the certificate in the secret",
    )?;
    let chain = match get(SECRET_CA_CHAIN) {
        Some(t) => certs_of(t, "the ca-chain in the secret")?,
        None => Vec::new(),
    };
    let checked = check_to_root(&cert, &chain, &key, hook.now, min_life(&config)).map_err(|e| {
        refuse(
            "the certificate in the secret",
            &e,
            "the secret's private-key",
        )
    })?;
    let cand = Candidate {
        ca: Ca {
            cert: checked[0].clone(),
            key,
        },
        chain: checked[1..].to_vec(),
        source: CaSource::Imported,
        csr: None,
        requested_for: None,
    };
    install(
        hook,
        cand,
        format!("CA imported from secret {id} (import-ca)"),
        &config,
    )
}

fn import_usage(app: &str) -> String {
    format!(
        "create a secret with the CA: juju add-secret my-ca certificate#file=ca.pem \
         private-key#file=ca.key [ca-chain#file=chain-up-to-root.pem], grant it: \
         juju grant-secret my-ca {app}, then run: juju run {app}/leader import-ca secret-id=<the secret's id>"
    )
}

/// The operator's secret, or a message saying how to create and grant it.
fn read_secret(hook: &Hook<'_>, id: &str) -> Result<juju_hook::Databag, ActionError> {
    let app = hook.app();
    match hook
        .tools
        .secret_get(&SecretRef::Id(id.to_string()), SecretRead::Peek)
    {
        Ok(c) => Ok(c),
        Err(e) if e.is_not_found() => Err(fail(format!(
            "secret {id} was not found, or is not granted to {app}; {}",
            import_usage(app)
        ))),
        Err(juju_hook::ToolError::NotLeader { .. }) => Err(fail(format!(
            "secret {id} is not granted to {app}: run juju grant-secret {id} {app}, then retry"
        ))),
        Err(e) => Err(fail(format!("cannot read secret {id}: {e}"))),
    }
}

fn min_life(config: &Config) -> Duration {
    Duration::from_secs(config.certificate_validity)
}

/// The message for a certificate that failed a check; nothing was changed.
fn refuse(what: &str, e: &IntermediateError, key_source: &str) -> ActionError {
    let why = match e {
        IntermediateError::KeyMismatch => format!("its public key is not the key of {key_source}"),
        // Its own text speaks of an upstream provider, which these actions have not.
        IntermediateError::NotCa => {
            "it is not a CA certificate (no basicConstraints CA:TRUE): a leaf cannot sign \
             certificates"
                .to_string()
        }
        other => other.to_string(),
    };
    fail(format!(
        "{what} cannot be installed: {why}; nothing was changed"
    ))
}

fn required_pem(params: &Params, name: &str) -> Result<String, ActionError> {
    match string_param(params, name)?.filter(|s| !s.trim().is_empty()) {
        Some(v) => decode_pem_param(name, &v),
        None => Err(fail(format!(
            "{name} is missing: set-ca-certificate needs certificate=<the signed intermediate> and \
             ca-chain=<the CA certificates above it, up to the root>, each PEM or base64 of PEM"
        ))),
    }
}

fn certs_of(text: &str, what: &str) -> Result<Vec<X509>, ActionError> {
    parse_certs(text).map_err(|e| fail(format!("{what} is not PEM certificates: {e}")))
}

fn one_cert(text: &str, what: &str) -> Result<X509, ActionError> {
    let mut certs = certs_of(text, what)?;
    match certs.len() {
        1 => Ok(certs.remove(0)),
        n => Err(fail(format!(
            "{what} holds {n} certificates; give only the CA certificate there, and the certificates above it in ca-chain"
        ))),
    }
}

/// Installs `cand` in one reconcile and reports what happened.
fn install(
    hook: &Hook<'_>,
    cand: Candidate,
    why: String,
    config: &Config,
) -> Result<(), ActionError> {
    let (pem, chain, root) = (
        pem_of(&cand.ca.cert),
        cand.chain.iter().map(|c| pem_of(c)).collect::<Vec<_>>(),
        short_name(cand.root()),
    );
    let summary = reconcile_changing_ca(
        hook,
        ReconcileOptions::default(),
        CaChange::Install(Box::new(cand), why),
    )?;
    let mut results = BTreeMap::new();
    let result = match (&summary.ca_rotated, &summary.ca_announced) {
        (Some(_), _) => format!(
            "installed: it signs now; {} certificate(s) reissued under it",
            summary.totals.replaced
        ),
        (None, Some(_)) => format!(
            "installed and announced: its root {root:?} joins the trust bundle now; it signs, and \
             every certificate is reissued under it, after ca-rotation-overlap ({})",
            format_duration(config.ca_rotation_overlap)
        ),
        _ => {
            return Err(fail(format!(
                "the CA was not installed: {}",
                status_of(&summary)
            )))
        }
    };
    results.insert("result".to_string(), result);
    results.insert("ca-certificate".to_string(), pem);
    if !chain.is_empty() {
        results.insert("ca-chain".to_string(), chain.join("\n"));
    }
    hook.tools.action_set(&results)?;
    Ok(())
}

fn status_of(summary: &Summary) -> String {
    summary
        .status
        .as_ref()
        .map(|(_, m)| m.clone())
        .unwrap_or_else(|| "unknown reason".into())
}
