//! `get-trust-bundle`: the bundle `send-ca-cert` publishes, with each certificate's subject,
//! SHA-256 fingerprint, not-after and reason (`certificates`, a JSON list split like every list
//! result), the whole bundle as PEM (`bundle`, when it fits one result), `count`, and the CA
//! rotation's `phase`. The bundle comes from a reconcile, so it is what was just published.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::results::{set_json_list, split_note, MAX_LIST_CHUNK_BYTES};
use super::{fail, ActionError};
use crate::charm::clock;
use crate::charm::hook::Hook;
use crate::charm::reconcile::{reconcile, ReconcileOptions};
use crate::charm::transfer::bundle::TrustEntry;
use crate::pki::trust::{fingerprint, parse_one};
use crate::pki::verify::{cert_info, subject_string};

/// `get-trust-bundle`.
pub fn get_trust_bundle(hook: &Hook<'_>) -> Result<(), ActionError> {
    let summary = reconcile(
        hook,
        ReconcileOptions {
            want_bundle: true,
            ..ReconcileOptions::default()
        },
    )?;
    let Some(bundle) = summary.trust_bundle else {
        let why = summary.status.map(|(_, m)| m).unwrap_or_default();
        return Err(fail(format!("the trust bundle is not known: {why}")));
    };
    let mut results = BTreeMap::new();
    let items: Vec<Value> = bundle.entries.iter().map(describe).collect();
    let parts = set_json_list(&mut results, "certificates", &items);
    let pem: String = bundle.pems().concat();
    if pem.len() <= MAX_LIST_CHUNK_BYTES {
        results.insert("bundle".into(), pem);
    }
    results.insert("count".into(), bundle.entries.len().to_string());
    let phase = summary.ca_phase.as_ref().and_then(|p| p.describe());
    results.insert(
        "phase".into(),
        phase.unwrap_or_else(|| "no CA rotation under way".into()),
    );
    let mut message = if bundle.is_empty() {
        "the bundle is empty: there is no CA yet and no trusted-certificates; send-ca-cert publishes nothing".to_string()
    } else {
        format!(
            "{} certificate(s) in the trust bundle",
            bundle.entries.len()
        )
    };
    if let Some(note) = split_note("certificates", parts) {
        message = format!("{message}; {note}");
    }
    results.insert("message".into(), message);
    hook.tools.action_set(&results)?;
    Ok(())
}

fn describe(e: &TrustEntry) -> Value {
    let Some(cert) = parse_one(&e.certificate) else {
        return json!({"role": e.role, "why": e.why, "error": "does not parse"});
    };
    let info = cert_info(&cert);
    json!({
        "subject": subject_string(&cert),
        "issuer": info.issuer,
        "fingerprint-sha256": fingerprint(&cert),
        "not-after": clock::rfc3339(info.not_after),
        "role": e.role,
        "why": e.why,
    })
}
