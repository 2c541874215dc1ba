//! `provide-certificate`: an operator answers one certificate request by hand.
//!
//! It checks what the operator hands in and publishes it exactly as the built-in CA would (one
//! `certificates` entry: `ca`, the requirer's CSR string echoed byte for byte, `certificate`,
//! leaf-first `chain`), with one `relation-set --app`. Results `result`, `relation-id`,
//! `application`, `unit` or `app-level`, `common-name`, `legacy`, and `note` when the same
//! certificate was already published (nothing written).
//!
//! Rules:
//! - PEM parameters may be plain PEM or base64 of the PEM file (`base64 -w0 file.pem`;
//!   line-wrapped base64 and missing padding are accepted).
//! - The CSR is matched by its DER (whitespace, CRLF and line wrapping do not matter), and the
//!   entry echoes the requirer's exact string.
//! - Chain: without `ca-chain`, `[certificate, ca-certificate]`. With `ca-chain`, the chain is
//!   `ca-chain` when it starts with the leaf, else the leaf followed by `ca-chain` (so both
//!   `[leaf, intermediate..., root]` and `[intermediate..., root]` are accepted). When
//!   `ca-certificate` is not in it, it is inserted after the leaf if it signed the leaf (and was
//!   issued by the next element, if any), or appended if it issued the last element. The chain
//!   must then be leaf-first with each certificate issued by the next.
//! - `ca-certificate` must have issued `certificate`, or (with `ca-chain`) be one of the chain's
//!   CAs above the leaf (e.g. the root when an intermediate signed the leaf). It is published as
//!   `ca`.
//! - The certificate, `ca-certificate` and every chain element must be valid now; the
//!   certificate's public key must be the CSR's; its BasicConstraints CA flag must equal the
//!   request's `ca`.
//! - A CSR whose certificate was revoked (`revoke-certificate`, modern or legacy) is refused:
//!   it is never answered again.
//! - Nothing is written unless every check passes; success is reported only after the entry was
//!   read back from the relation. A reconcile then refreshes the leader's status (it writes no
//!   relation data: the entry is what it would keep). For a legacy request (whose key we
//!   generated), the certificate goes into the key store and that reconcile publishes it.

pub mod error;
pub mod input;
pub mod locate;

use crate::charm::actions::ActionError;
use std::collections::{BTreeMap, BTreeSet, HashSet};

use juju_hook::{LogLevel, Member, RelationId};
use openssl::x509::X509;

pub use self::error::ProvideError;
use self::input::Input;
use self::locate::{legacy_relations, locate, Location};
use crate::charm::actions::listing::read_relations_for_action;
use crate::charm::config::Mode;
use crate::charm::dialect::snapshot::own_unit_bag;
use crate::charm::dialect::snapshot::RelationSnapshot;
use crate::charm::dialect::{self, Plan};
use crate::charm::hook::Hook;
use crate::charm::legacy::manual::{complete_csr, holds_certificate};
use crate::charm::legacy::store::Store;
use crate::charm::modern::publish;
use crate::charm::reconcile::{self, ReconcileOptions};
use crate::pki::sign::cert_to_pem;
use crate::pki::verify;
use crate::protocol::modern::{ProviderAppData, ProviderCertificate};

pub const P_CSR: &str = "certificate-signing-request";
pub const P_CERT: &str = "certificate";
pub const P_CA: &str = "ca-certificate";
pub const P_CHAIN: &str = "ca-chain";
pub const P_UNIT: &str = "unit-name";

/// The command line that runs the action.
pub fn usage(app: &str) -> String {
    format!(
        "juju run {app}/leader provide-certificate certificate-signing-request=\"$(base64 -w0 csr.pem)\" \
         certificate=\"$(base64 -w0 certificate.pem)\" ca-certificate=\"$(base64 -w0 ca.pem)\" \
         [ca-chain=\"$(base64 -w0 chain.pem)\"] [relation-id=<id>] [unit-name=<unit>]"
    )
}

/// `provide-certificate`.
pub fn provide_certificate(hook: &Hook<'_>) -> Result<(), ActionError> {
    let input = Input::read(hook)?;
    let chain = input.checked_chain(hook.now)?;
    let snaps = read_relations_for_action(hook, None)?;
    let targets = locate(hook, &input, &snaps)?;
    check_ca_flag(&input.leaf, &targets)?;
    let target = &targets[0];
    let mut results = BTreeMap::new();
    if target.legacy {
        publish_legacy(hook, &input, target, &chain, &snaps)?;
    } else {
        if !publish_modern(hook, &input, &targets, &chain, &snaps)? {
            results.insert(
                "note".to_string(),
                "this certificate was already published for this request; nothing changed"
                    .to_string(),
            );
        }
        refresh_status(hook);
    }
    report(target, &input.leaf, &mut results);
    hook.tools.action_set(&results)?;
    Ok(())
}

/// The certificate's CA flag agrees with every request it answers.
fn check_ca_flag(leaf: &X509, targets: &[Location]) -> Result<(), ProvideError> {
    let cert_is_ca = verify::is_ca(leaf);
    for l in targets {
        if l.is_ca && !cert_is_ca {
            return Err(ProvideError::WantCa);
        }
        if !l.is_ca && cert_is_ca {
            return Err(ProvideError::WantLeaf);
        }
    }
    Ok(())
}

/// Publishes the entry for every CSR string of the target relation, then reads it back.
/// Returns whether the databag changed.
fn publish_modern(
    hook: &Hook<'_>,
    input: &Input,
    targets: &[Location],
    chain: &[X509],
    snaps: &[RelationSnapshot],
) -> Result<bool, ActionError> {
    let id = targets[0]
        .relation_id
        .expect("modern requests have a relation");
    let snap = snaps.iter().find(|s| s.id == id).expect("read above");
    let leaf_pem = cert_to_pem(&input.leaf);
    let (mut data, _) = snap.published();
    let exact: BTreeSet<&str> = targets
        .iter()
        .filter(|l| l.relation_id == Some(id) && !l.legacy)
        .map(|l| l.csr_exact.as_str())
        .collect();
    let revoked = data
        .certificates
        .iter()
        .any(|e| e.revoked && exact.contains(e.certificate_signing_request.as_str()));
    if revoked {
        return Err(ProvideError::Revoked.into());
    }
    let ca_pem = cert_to_pem(&input.ca);
    let chain_pems: Vec<String> = chain.iter().map(cert_to_pem).collect();
    data.upsert_certificates(exact.iter().map(|csr_exact| ProviderCertificate {
        ca: ca_pem.clone(),
        certificate_signing_request: csr_exact.to_string(),
        certificate: leaf_pem.clone(),
        chain: chain_pems.clone(),
        revoked: false,
    }));
    let (app_changes, _) = publish::changes(snap, &mut data);
    let plan = Plan {
        app_changes,
        ..Plan::new(id)
    };
    let wrote = dialect::publish(hook.tools, &plan)?;
    // Never report success without the entry being there: read it back.
    let bag = hook
        .tools
        .relation_get(id, &Member::App(hook.app().to_string()))?;
    let (back, _) = ProviderAppData::from_databag(&bag);
    let answered: HashSet<&str> = back
        .certificates
        .iter()
        .filter(|e| e.certificate == leaf_pem && !e.revoked)
        .map(|e| e.certificate_signing_request.as_str())
        .collect();
    let present = exact.iter().all(|c| answered.contains(c));
    if !present {
        return Err(ProvideError::NotPublished(id).into());
    }
    Ok(wrote)
}

/// Stores the certificate with the key we generated, publishes it with a reconcile, and reads it
/// back on every relation it belongs to.
fn publish_legacy(
    hook: &Hook<'_>,
    input: &Input,
    target: &Location,
    chain: &[X509],
    snaps: &[RelationSnapshot],
) -> Result<(), ActionError> {
    let app = hook.app().to_string();
    match hook.config()? {
        Err(e) => {
            let summary = e.summary();
            return Err(ProvideError::LegacyConfig { summary, app }.into());
        }
        Ok(c) if c.mode != Mode::Manual => return Err(ProvideError::LegacySelfSigned(app).into()),
        Ok(_) => {}
    }
    let mut store = Store::load(hook)?;
    let relation = input.relation.or(target.relation_id);
    let done = complete_csr(
        &mut store,
        &target.csr_exact,
        relation,
        &input.leaf,
        chain,
        &input.ca,
    )
    .map_err(ProvideError::from)?
    .ok_or(ProvideError::LegacyGone(app))?;
    reconcile::reconcile_with_legacy_store(hook, store)?;
    // Never report success without the certificate being there: read it back. The shared
    // client certificate goes on every legacy relation.
    let check: Vec<RelationId> = match done.relation_id {
        Some(id) => vec![id],
        None => legacy_relations(snaps).into_keys().collect(),
    };
    for id in check {
        let published =
            own_unit_bag(hook, id)?.is_some_and(|bag| holds_certificate(&bag, &done.published));
        if !published {
            return Err(ProvideError::LegacyNotPublished(id).into());
        }
    }
    Ok(())
}

/// Refreshes the leader's status (the outstanding count) now rather than at the next hook. The
/// published data is already what the reconcile wants, so it writes no relation data.
fn refresh_status(hook: &Hook<'_>) {
    if let Err(e) = reconcile::reconcile(hook, ReconcileOptions::default()) {
        hook.log(
            LogLevel::Warning,
            &format!("provide-certificate: status not refreshed: {e}"),
        );
    }
}

/// The action's results for a certificate published for `target`.
fn report(target: &Location, leaf: &X509, results: &mut BTreeMap<String, String>) {
    let who = match &target.unit {
        Some(u) => format!("unit {u}"),
        None => format!("application {} (app-level request)", target.application),
    };
    let rel_text = target
        .relation_id
        .map_or("every legacy relation".to_string(), |r| {
            format!("relation {r}")
        });
    let name = if target.common_name.is_empty() {
        verify::subject_string(leaf)
    } else {
        format!("CN={}", target.common_name)
    };
    results.insert(
        "result".to_string(),
        format!(
            "certificate for {name} published on {rel_text} for {who} (application {})",
            target.application
        ),
    );
    results.insert(
        "relation-id".to_string(),
        target.relation_id.map_or(String::new(), |r| r.to_string()),
    );
    results.insert("application".to_string(), target.application.clone());
    match &target.unit {
        Some(u) => results.insert("unit".to_string(), u.clone()),
        None => results.insert("app-level".to_string(), "true".to_string()),
    };
    results.insert("common-name".to_string(), target.common_name.clone());
    results.insert("legacy".to_string(), target.legacy.to_string());
    results.retain(|_, v| !v.is_empty());
}
