//! Every way `provide-certificate` can refuse, each with the operator message that says what is
//! wrong and how to fix it.

use super::{P_CA, P_CERT, P_CHAIN, P_CSR};
use crate::charm::clock;
use crate::pki::chain::{CertRole, ChainError, SAME_NAME_NOTE};
use crate::pki::PkiError;

/// Why `provide-certificate` refused; nothing was written.
#[derive(Debug, thiserror::Error)]
pub enum ProvideError {
    #[error("missing parameter{} {}: run {usage}", if names.len() == 1 { "" } else { "s" }, names.join(", "))]
    Missing {
        names: Vec<&'static str>,
        usage: String,
    },
    #[error(
        "{P_CSR} is not a certificate signing request: {0}; pass the CSR exactly as \
         get-outstanding-certificate-requests lists it"
    )]
    NotCsr(String),
    #[error(
        "{P_CSR} cannot be answered: {0}; this charm refuses such a request, so a certificate for \
         it would not be kept (the requirer must send a new CSR)"
    )]
    CsrRefused(String),
    #[error(
        "the certificate of this {P_CSR} was revoked (revoke-certificate), so it is never \
         answered again; the requirer must send a new CSR"
    )]
    Revoked,
    #[error(
        "{P_CERT} holds {0} certificates; pass only the certificate issued for the CSR in \
         {P_CERT}, the CA that signed it in {P_CA}, and the rest of the chain in {P_CHAIN}"
    )]
    SeveralCertificates(usize),
    #[error(
        "{P_CERT} is not a certificate: {0}; pass the signed certificate (PEM, or base64 of the \
         PEM file)"
    )]
    NotCertificate(String),
    #[error(
        "{P_CA} holds {0} certificates; pass only the CA certificate that signed {P_CERT} in \
         {P_CA}, and the chain (intermediates, root) in {P_CHAIN}"
    )]
    SeveralCas(usize),
    #[error(
        "{P_CA} is not a certificate: {0}; pass the CA certificate (PEM, or base64 of the PEM \
         file)"
    )]
    NotCa(String),
    #[error(
        "{P_CHAIN} is not a list of certificates: {0}; pass the PEM certificates of the chain \
         concatenated (leaf first, or starting with the leaf's issuer)"
    )]
    ChainNotCertificates(String),
    #[error(
        "the public key of {P_CERT} ({0}) is not the public key of the CSR: it was not issued for \
         this certificate signing request; sign exactly the CSR you pass as {P_CSR}"
    )]
    KeyMismatch(String),
    #[error(
        "{P_CERT} is not signed by {P_CA}: the certificate's issuer is \"{issuer}\" and {P_CA} is \
         \"{ca}\"{}; pass the CA that signed the certificate as {P_CA} (with an intermediate CA: \
         the intermediate, or the root together with {P_CHAIN} holding the intermediate)",
        if *same_name { SAME_NAME_NOTE } else { "" }
    )]
    NotSigned {
        issuer: String,
        ca: String,
        same_name: bool,
    },
    #[error(
        "{P_CHAIN} is not in order: {0}. The chain is used leaf first (the leaf may be left out \
         of {P_CHAIN}: it is put in front), each certificate followed by the one that issued it, \
         e.g. {P_CHAIN}=\"$(cat intermediate.pem root.pem | base64 -w0)\""
    )]
    ChainOrder(String),
    #[error(
        "{what} has expired: it was valid until {until} (now {now}); get a new one from your CA"
    )]
    Expired {
        what: String,
        until: String,
        now: String,
    },
    #[error(
        "{what} is not valid yet: it is valid from {from} (now {now}); check the CA's clock, or \
         wait until then"
    )]
    NotYetValid {
        what: String,
        from: String,
        now: String,
    },
    #[error(
        "{P_CSR} was not found in any relation: no requirer asks for it now (it may have been \
         replaced by a renewal or a configuration change); list the current requests with \
         `{list}` and sign one of those"
    )]
    NotFound { list: String },
    #[error(
        "{P_CSR} was not found in relation {id}{} nor in any other relation: no requirer asks for \
         it now (it may have been replaced by a renewal or a configuration change); list the \
         current requests with `{list}` and sign one of those",
        if *related { "" } else { " (which is not a certificates relation of this application)" }
    )]
    NotFoundIn {
        id: juju_hook::RelationId,
        related: bool,
        list: String,
    },
    #[error(
        "relation-id {id} does not match: {P_CSR} is not in relation {id}, it is in {found}; run \
         again with relation-id set to that relation (or without relation-id)"
    )]
    OtherRelation {
        id: juju_hook::RelationId,
        found: String,
    },
    #[error(
        "{P_CSR} is in several relations: {found}; run again with relation-id=<one of {ids}> to \
         say which one receives the certificate"
    )]
    SeveralRelations { found: String, ids: String },
    #[error(
        "unit-name {unit} does not match: {P_CSR} is an app-level request, not a unit's: {found}; \
         run again without unit-name"
    )]
    AppLevelRequest { unit: String, found: String },
    #[error(
        "unit-name {unit} does not match: {P_CSR} comes from {found}; run again with unit-name \
         set to that unit (or without unit-name)"
    )]
    OtherUnit { unit: String, found: String },
    #[error(
        "the request asks for a CA certificate (ca: true) but {P_CERT} is not a CA certificate \
         (no basicConstraints CA:TRUE), so the requirer would ignore it; sign the CSR as a CA \
         (openssl: -extfile with basicConstraints=critical,CA:TRUE and \
         keyUsage=critical,keyCertSign,cRLSign)"
    )]
    WantCa,
    #[error(
        "the request is for a non-CA certificate (ca: false) but {P_CERT} is a CA certificate \
         (basicConstraints CA:TRUE), so the requirer would ignore it; sign it as an end-entity \
         certificate (basicConstraints=CA:FALSE)"
    )]
    WantLeaf,
    #[error(
        "the certificate could not be published on relation {0}: it is not in the relation data \
         after writing; check `juju debug-log` and retry"
    )]
    NotPublished(juju_hook::RelationId),
    #[error(
        "the certificate could not be published on relation {0}: it is not in our relation data \
         after writing (the legacy requirer may have withdrawn this request or left); list the \
         current requests with get-outstanding-certificate-requests, check `juju debug-log` and \
         retry"
    )]
    LegacyNotPublished(juju_hook::RelationId),
    #[error(
        "cannot provide a certificate for a legacy request while the configuration is invalid \
         ({summary}); fix it with `juju config {app}`"
    )]
    LegacyConfig { summary: String, app: String },
    #[error(
        "this CSR belongs to a legacy requirer, whose certificates the built-in CA signs in \
         self-signed mode; to provide them yourself set `juju config {0} mode=manual` first"
    )]
    LegacySelfSigned(String),
    #[error(
        "{P_CSR} was not found in any relation: the legacy request was replaced while this action \
         ran; list the current requests with `juju run {0}/leader \
         get-outstanding-certificate-requests`"
    )]
    LegacyGone(String),
    #[error(transparent)]
    LegacyKey(#[from] crate::charm::legacy::manual::CompleteError),
    #[error(transparent)]
    Pki(#[from] PkiError),
}

/// How an operator's certificate, CA or chain element is named in messages.
fn named(which: CertRole, subject: &str) -> String {
    match which {
        CertRole::Leaf => P_CERT.to_string(),
        CertRole::Ca => format!("{P_CA} ({subject})"),
        CertRole::ChainMember { position } => {
            format!("certificate {position} of the chain ({subject})")
        }
    }
}

impl From<ChainError> for ProvideError {
    fn from(e: ChainError) -> ProvideError {
        match e {
            ChainError::NotSignedByCa {
                issuer,
                ca_subject,
                same_name,
            } => ProvideError::NotSigned {
                issuer,
                ca: ca_subject,
                same_name,
            },
            e @ (ChainError::Unordered { .. } | ChainError::Empty) => {
                ProvideError::ChainOrder(e.to_string())
            }
            ChainError::Expired {
                which,
                subject,
                not_after,
                now,
            } => ProvideError::Expired {
                what: named(which, &subject),
                until: clock::rfc3339(not_after),
                now: clock::rfc3339(now),
            },
            ChainError::NotYetValid {
                which,
                subject,
                not_before,
                now,
            } => ProvideError::NotYetValid {
                what: named(which, &subject),
                from: clock::rfc3339(not_before),
                now: clock::rfc3339(now),
            },
            ChainError::OpenSsl(e) => ProvideError::Pki(e.into()),
        }
    }
}
