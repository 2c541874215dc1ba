//! `provide-certificate`'s parameters, decoded and parsed, and the checks that need only them:
//! the certificate is for the CSR's key, signed by `ca-certificate`, with a chain in order, and
//! every certificate valid now.

use crate::charm::actions::ActionError;
use std::time::SystemTime;

use juju_hook::RelationId;
use openssl::x509::X509;

use super::error::ProvideError;
use super::{usage, P_CA, P_CERT, P_CHAIN, P_CSR, P_UNIT};
use crate::charm::actions::params::{decode_pem_param, relation_id_param, string_param, Params};
use crate::charm::clock;
use crate::charm::hook::Hook;
use crate::pki::{verify, CsrError, ParsedCsr, PkiError};

/// What the operator handed in.
pub struct Input {
    /// The CSR text as given (after base64 decoding).
    pub csr_text: String,
    pub csr: ParsedCsr,
    pub leaf: X509,
    pub ca: X509,
    pub given_chain: Option<Vec<X509>>,
    pub unit_name: Option<String>,
    pub relation: Option<RelationId>,
}

impl Input {
    /// Reads, decodes and parses the parameters.
    pub fn read(hook: &Hook<'_>) -> Result<Input, ActionError> {
        let params = hook.tools.action_get()?;
        let [csr_raw, cert_raw, ca_raw] = required(&params, hook.app())?;
        let chain_raw = string_param(&params, P_CHAIN)?;
        let unit_name = string_param(&params, P_UNIT)?;
        let relation = relation_id_param(&params)?;
        let csr_text = decode_pem_param(P_CSR, &csr_raw)?;
        let cert_text = decode_pem_param(P_CERT, &cert_raw)?;
        let ca_text = decode_pem_param(P_CA, &ca_raw)?;
        let chain_text = chain_raw
            .as_deref()
            .map(|c| decode_pem_param(P_CHAIN, c))
            .transpose()?;
        let csr = ParsedCsr::parse(&csr_text).map_err(|e| match e {
            CsrError::NotPem(_) | CsrError::TooLarge(_) => ProvideError::NotCsr(e.to_string()),
            other => ProvideError::CsrRefused(other.to_string()),
        })?;
        let leaf = one_certificate(&cert_text, ProvideError::SeveralCertificates, |e| {
            ProvideError::NotCertificate(e)
        })?;
        let ca = one_certificate(&ca_text, ProvideError::SeveralCas, ProvideError::NotCa)?;
        let given_chain = match &chain_text {
            None => None,
            Some(t) => Some(
                verify::parse_certs(t)
                    .map_err(|e| ProvideError::ChainNotCertificates(e.to_string()))?,
            ),
        };
        Ok(Input {
            csr_text,
            csr,
            leaf,
            ca,
            given_chain,
            unit_name,
            relation,
        })
    }

    /// The certificate is for the CSR's key, signed by `ca-certificate` (directly or through the
    /// chain), and every certificate is valid now. Returns the chain, leaf first.
    pub fn checked_chain(&self, now: SystemTime) -> Result<Vec<X509>, ActionError> {
        if !verify::public_key_matches(&self.leaf, &self.csr.req) {
            let subject = verify::subject_string(&self.leaf);
            return Err(ProvideError::KeyMismatch(subject).into());
        }
        let chain = self.chain()?;
        check_validity(P_CERT, &self.leaf, now)?;
        let ca_what = format!("{P_CA} ({})", verify::subject_string(&self.ca));
        check_validity(&ca_what, &self.ca, now)?;
        for (i, c) in chain.iter().enumerate().skip(1) {
            let what = format!(
                "certificate {} of the chain ({})",
                i + 1,
                verify::subject_string(c)
            );
            check_validity(&what, c, now)?;
        }
        Ok(chain)
    }

    /// The chain, leaf first. Without `ca-chain`: `[certificate, ca-certificate]`. With it: the
    /// leaf is put in front when missing, and `ca-certificate` inserted where it belongs when it
    /// was left out.
    fn chain(&self) -> Result<Vec<X509>, ActionError> {
        let (leaf, ca) = (&self.leaf, &self.ca);
        let directly_signed = verify::issued_by(leaf, ca);
        let Some(given) = &self.given_chain else {
            if !directly_signed {
                return Err(self.not_signed().into());
            }
            return Ok(vec![leaf.clone(), ca.clone()]);
        };
        let (leaf_der, ca_der) = (der(leaf)?, der(ca)?);
        let mut chain = given.clone();
        if chain.first().map(der).transpose()?.as_ref() != Some(&leaf_der) {
            chain.insert(0, leaf.clone());
        }
        let mut has_ca = false;
        for c in &chain[1..] {
            has_ca |= der(c)? == ca_der;
        }
        if !has_ca {
            // ca-certificate left out of ca-chain: put it where it belongs, when that is clear.
            let last = chain.last().expect("leaf at least");
            if directly_signed && (chain.len() == 1 || verify::issued_by(ca, &chain[1])) {
                chain.insert(1, ca.clone());
                has_ca = true;
            } else if !verify::issued_by(last, last) && verify::issued_by(last, ca) {
                chain.push(ca.clone());
                has_ca = true;
            }
        }
        verify::chain_is_ordered(&chain).map_err(|e| ProvideError::ChainOrder(e.to_string()))?;
        if !directly_signed && !has_ca {
            return Err(self.not_signed().into());
        }
        Ok(chain)
    }

    fn not_signed(&self) -> ProvideError {
        let (leaf, ca) = (&self.leaf, &self.ca);
        ProvideError::NotSigned {
            issuer: verify::name_string(leaf.issuer_name()),
            ca: verify::subject_string(ca),
            same_name: leaf.issuer_name().try_cmp(ca.subject_name()).ok()
                == Some(std::cmp::Ordering::Equal),
        }
    }
}

/// The three required parameters, or which are missing.
fn required(params: &Params, app: &str) -> Result<[String; 3], ActionError> {
    let mut missing = Vec::new();
    let mut values = Vec::new();
    for name in [P_CSR, P_CERT, P_CA] {
        match string_param(params, name)? {
            Some(v) => values.push(v),
            None => missing.push(name),
        }
    }
    match <[String; 3]>::try_from(values) {
        Ok(all) => Ok(all),
        Err(_) => Err(ProvideError::Missing {
            names: missing,
            usage: usage(app),
        }
        .into()),
    }
}

/// The one certificate in `text`; `several(n)` or `bad(why)` otherwise.
fn one_certificate(
    text: &str,
    several: fn(usize) -> ProvideError,
    bad: impl Fn(String) -> ProvideError,
) -> Result<X509, ProvideError> {
    match verify::parse_certs(text) {
        Ok(mut v) if v.len() == 1 => Ok(v.remove(0)),
        Ok(v) => Err(several(v.len())),
        Err(e) => Err(bad(e.to_string())),
    }
}

fn der(c: &X509) -> Result<Vec<u8>, PkiError> {
    Ok(c.to_der()?)
}

/// Checks that `cert` (named `what`) is valid at `now`.
fn check_validity(what: &str, cert: &X509, now: SystemTime) -> Result<(), ProvideError> {
    let time = |t: &openssl::asn1::Asn1TimeRef| clock::rfc3339(verify::asn1_to_system(t));
    if now > verify::asn1_to_system(cert.not_after()) {
        return Err(ProvideError::Expired {
            what: what.to_string(),
            until: time(cert.not_after()),
            now: clock::rfc3339(now),
        });
    }
    if now < verify::asn1_to_system(cert.not_before()) {
        return Err(ProvideError::NotYetValid {
            what: what.to_string(),
            from: time(cert.not_before()),
            now: clock::rfc3339(now),
        });
    }
    Ok(())
}
