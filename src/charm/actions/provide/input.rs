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
use crate::charm::hook::Hook;
use crate::pki::{chain, verify, CsrError, ParsedCsr};

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
    /// chain), and every certificate is valid now. Returns the chain, leaf first (rules in
    /// [`crate::pki::chain`]).
    pub fn checked_chain(&self, now: SystemTime) -> Result<Vec<X509>, ProvideError> {
        if !verify::public_key_matches(&self.leaf, &self.csr) {
            let subject = verify::subject_string(&self.leaf);
            return Err(ProvideError::KeyMismatch(subject));
        }
        Ok(chain::verify_chain(
            &self.leaf,
            &self.ca,
            self.given_chain.clone(),
            now,
        )?)
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
