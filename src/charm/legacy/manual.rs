//! Manual mode for legacy requirers: we still generate their keys and CSRs, an operator signs
//! the CSRs (`get-outstanding-certificate-requests` lists them, `provide-certificate` answers),
//! and the next plan publishes each certificate with its key.

use std::collections::{BTreeMap, BTreeSet};

use juju_hook::{Databag, RelationId};
use openssl::x509::X509;

use super::serve::effective_sans;
use super::store::{Entry, Store};
use crate::charm::hook::Hook;
use crate::charm::CharmError;
use crate::pki::csr_der;
use crate::pki::keys::private_key_from_pem;
use crate::pki::sign::cert_to_pem;
use crate::pki::verify::issued_by;
use crate::pki::{PkiError, San};
use crate::protocol::legacy::{self as proto, RequestKind};

/// A CSR we generated on a legacy requirer's behalf.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LegacyCsr {
    /// `None` for the shared client certificate (published on every legacy relation).
    pub relation_id: Option<RelationId>,
    /// The requirer unit as it names itself (`unit_name`, e.g. `etcd_0`; the `{unit}` prefix of
    /// its keys). `None` for application certificates (the whole relation) and the shared client.
    pub requirer_unit: Option<String>,
    /// `server`, `client`, `application`, `intermediate` or `shared-client`.
    pub kind: &'static str,
    pub common_name: String,
    /// The SANs in the CSR.
    pub sans: Vec<San>,
    pub is_ca: bool,
    pub csr_pem: String,
    /// Whether a certificate is published for it.
    pub has_certificate: bool,
    /// The certificate text as published (leaf first), once it has one.
    pub certificate: Option<String>,
    /// Its certificate was revoked: it is never signed nor published again.
    pub revoked: bool,
}

fn kind_name(e: &Entry) -> &'static str {
    e.kind.map_or("shared-client", RequestKind::as_str)
}

fn listed(rel: Option<RelationId>, e: &Entry) -> LegacyCsr {
    LegacyCsr {
        relation_id: rel,
        requirer_unit: e.unit.clone(),
        kind: kind_name(e),
        common_name: e.cn.clone(),
        sans: effective_sans(e.kind, &e.cn, &e.sans)
            .iter()
            .map(|n| San::from_name(n))
            .collect(),
        is_ca: e.kind.is_some_and(RequestKind::is_ca),
        csr_pem: e.csr.clone(),
        has_certificate: e.cert.is_some(),
        certificate: e.cert.clone(),
        revoked: e.revoked,
    }
}

impl LegacyCsr {
    /// The application it is for, given the live legacy relations (id → remote application);
    /// `None` when its relation is not among them. The shared client certificate is published on
    /// every legacy relation, so it names all their applications.
    pub fn application(&self, legacy_relations: &BTreeMap<RelationId, String>) -> Option<String> {
        match self.relation_id {
            Some(id) => legacy_relations.get(&id).cloned(),
            None => {
                let apps: BTreeSet<&str> = legacy_relations.values().map(String::as_str).collect();
                Some(apps.into_iter().collect::<Vec<_>>().join(","))
            }
        }
    }
}

/// Every CSR in the legacy store (both modes), relation entries first, then the shared client.
/// Reads the store secret (one `secret-get`, more for a large store). Pending ones are those
/// with `has_certificate == false`. Leader only (the caller checks leadership).
pub fn list_csrs(hook: &Hook<'_>) -> Result<Vec<LegacyCsr>, CharmError> {
    let store = Store::load(hook)?;
    let mut out: Vec<LegacyCsr> = store
        .doc
        .relations
        .iter()
        .flat_map(|(id, entries)| entries.values().map(|e| listed(Some(RelationId(*id)), e)))
        .collect();
    out.extend(store.doc.client.iter().map(|e| listed(None, e)));
    Ok(out)
}

/// Where a provided certificate went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompletedLegacy {
    pub relation_id: Option<RelationId>,
    pub requirer_unit: Option<String>,
    pub kind: &'static str,
    pub common_name: String,
    /// The certificate text as it is published (leaf, then intermediates).
    pub published: String,
}

/// Why a provided certificate does not complete a legacy CSR.
#[derive(Debug, thiserror::Error)]
pub enum CompleteError {
    #[error(
        "the certificate's public key is not the one in the certificate signing request; \
         sign exactly the CSR listed by get-outstanding-certificate-requests"
    )]
    KeyMismatch,
    #[error(
        "the certificate of this certificate signing request was revoked (revoke-certificate), \
         so it is never answered again; the legacy requirer gets a new key and CSR when its \
         request changes (common name or SANs) or when the relation is made again"
    )]
    Revoked,
    #[error(transparent)]
    Pki(#[from] PkiError),
}

/// Finds our entry for `want` (a CSR's DER): the shared client, else the first relation entry
/// (only in `relation` when given).
fn find<'s>(
    store: &'s mut Store,
    want: &[u8],
    relation: Option<RelationId>,
) -> Option<(Option<RelationId>, &'s mut Entry)> {
    let matches = |e: &Entry| csr_der(&e.csr).as_deref() == Some(want);
    if store.doc.client.as_ref().is_some_and(matches) {
        return store.doc.client.as_mut().map(|e| (None, e));
    }
    store
        .doc
        .relations
        .iter_mut()
        .filter(|(id, _)| match relation {
            Some(r) => r.0 == **id,
            None => true,
        })
        .find_map(|(id, entries)| {
            entries
                .values_mut()
                .find(|e| matches(e))
                .map(|e| (Some(RelationId(*id)), e))
        })
}

/// Stores a certificate for one of our legacy CSRs in `store` (publishing is the next plan's).
///
/// - `csr_pem`: the CSR as listed by [`list_csrs`] (compared by DER, whitespace does not matter).
/// - `relation`: when given, the CSR must be on that relation (`None` matches any; the shared
///   client CSR has no relation and matches any).
/// - `leaf`: the certificate; `chain`: the chain, leaf-first (may include the leaf and the root);
///   `ca`: the CA certificate published as `ca`.
///
/// Returns `Ok(None)` when the CSR is not one of ours. The caller validates the certificate
/// (signature by `ca`, chain order, validity, CA flag); this checks only that it is for the key
/// we generated. The published text is the leaf followed by the chain's intermediates
/// (certificates that are neither the leaf, the CA nor self-signed).
pub fn complete_csr(
    store: &mut Store,
    csr_pem: &str,
    relation: Option<RelationId>,
    leaf: &X509,
    chain: &[X509],
    ca: &X509,
) -> Result<Option<CompletedLegacy>, CompleteError> {
    let Some(want) = csr_der(csr_pem) else {
        return Ok(None);
    };
    let Some((rel, entry)) = find(store, &want, relation) else {
        return Ok(None);
    };
    if entry.revoked {
        return Err(CompleteError::Revoked);
    }
    let key = private_key_from_pem(&entry.key)?;
    if !key.public_eq(&*leaf.public_key().map_err(PkiError::from)?) {
        return Err(CompleteError::KeyMismatch);
    }
    let (leaf_der, ca_der) = (der(leaf)?, der(ca)?);
    let mut text = cert_to_pem(leaf);
    for c in chain {
        let d = der(c)?;
        if d != leaf_der && d != ca_der && !issued_by(c, c) {
            text.push('\n');
            text.push_str(&cert_to_pem(c));
        }
    }
    entry.cert = Some(text.clone());
    entry.ca = Some(cert_to_pem(ca));
    entry.chain =
        (!chain.is_empty()).then(|| chain.iter().map(cert_to_pem).collect::<Vec<_>>().join("\n"));
    Ok(Some(CompletedLegacy {
        relation_id: rel,
        requirer_unit: entry.unit.clone(),
        kind: kind_name(entry),
        common_name: entry.cn.clone(),
        published: text,
    }))
}

fn der(c: &X509) -> Result<Vec<u8>, PkiError> {
    Ok(c.to_der()?)
}

/// Whether one of the legacy provider values of `bag` publishes `cert` (a `*.server.cert` or
/// `client.cert` value, or a `cert` inside a `processed_*` JSON map).
pub fn holds_certificate(bag: &Databag, cert: &str) -> bool {
    fn in_json(v: &serde_json::Value, cert: &str) -> bool {
        match v {
            serde_json::Value::Object(m) => {
                m.get("cert").and_then(|c| c.as_str()) == Some(cert)
                    || m.values().any(|x| in_json(x, cert))
            }
            _ => false,
        }
    }
    bag.iter()
        .filter(|(k, _)| proto::is_provider_key(k))
        .any(|(_, v)| {
            v == cert
                || serde_json::from_str::<serde_json::Value>(v).is_ok_and(|j| in_json(&j, cert))
        })
}
