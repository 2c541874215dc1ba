//! An intermediate CA signed outside this charm (an upstream provider, or an offline signing
//! ceremony): the CSR we ask for it with, and the checks an answer must pass before we sign with
//! it. Some providers ignore `ca: true` and return a leaf; some return the wrong key, an expired
//! or short-lived certificate, or a chain out of order. Each gets its own error, so status and
//! action messages can name the failed check.

use std::time::{Duration, SystemTime};

use openssl::nid::Nid;
use openssl::pkey::{PKey, PKeyRef, Private};
use openssl::stack::Stack;
use openssl::x509::{X509NameBuilder, X509Req, X509};

use super::chain::{check_order, check_valid_at, CertRole, ChainError};
use super::keys::digest_for_key;
use super::verify::{asn1_to_system, is_ca, subject_string};
use super::{CaSubject, PkiError};

/// Why an upstream answer cannot be our intermediate CA.
#[derive(Debug, thiserror::Error)]
pub enum IntermediateError {
    #[error("its public key is not the key we asked with (it answers another request)")]
    KeyMismatch,
    #[error("it is not a CA certificate (no basicConstraints CA:TRUE): the upstream signed a leaf; it must honour ca: true")]
    NotCa,
    #[error("it may not sign certificates (keyUsage without keyCertSign)")]
    NoKeyCertSign,
    #[error("it has {left_days} day(s) left, less than certificate-validity ({needed_days} day(s)): it could not sign full-length certificates")]
    TooShort { left_days: u64, needed_days: u64 },
    #[error("the chain does not end with a root: its last certificate ({subject}) is issued by {issuer}; give the chain up to the self-signed root")]
    NoRoot { subject: String, issuer: String },
    #[error(transparent)]
    Chain(#[from] ChainError),
    #[error("openssl: {0}")]
    OpenSsl(#[from] openssl::error::ErrorStack),
}

/// A CSR for an intermediate CA: the CA subject with a random `x500UniqueIdentifier` (so a
/// renewal's CSR differs from the last one), and requested extensions basicConstraints
/// CA:TRUE and keyUsage keyCertSign + cRLSign, both critical. Signed with `key`.
pub fn ca_request(subject: &CaSubject, key: &PKeyRef<Private>) -> Result<X509Req, PkiError> {
    // Checks the subject as the CA's own does (lengths, encodable values).
    subject.to_x509_name()?;
    let mut name = X509NameBuilder::new()?;
    for (nid, _, value) in subject.attributes() {
        name.append_entry_by_nid(nid, value)?;
    }
    name.append_entry_by_nid(Nid::X500UNIQUEIDENTIFIER, &unique_id()?)?;
    let mut b = X509Req::builder()?;
    b.set_version(0)?;
    b.set_subject_name(&name.build())?;
    b.set_pubkey(key)?;
    let mut exts = Stack::new()?;
    for ext in super::ca::ca_extensions()? {
        exts.push(ext)?;
    }
    b.add_extensions(&exts)?;
    b.sign(key, digest_for_key(key))?;
    Ok(b.build())
}

fn unique_id() -> Result<String, PkiError> {
    let mut bytes = [0u8; 16];
    openssl::rand::rand_bytes(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Checks `cert` (with `upstream`, the rest of its chain as given, leaf-first) as our
/// intermediate CA for `key` at `now`: same public key, CA:TRUE with keyCertSign, the chain
/// ordered and each link valid now, and more than `min_life` left. Returns the chain to publish
/// after our leaves: `[cert, upstream...]`.
pub fn check(
    cert: &X509,
    upstream: &[X509],
    key: &PKey<Private>,
    now: SystemTime,
    min_life: Duration,
) -> Result<Vec<X509>, IntermediateError> {
    if !cert.public_key()?.public_eq(key) {
        return Err(IntermediateError::KeyMismatch);
    }
    if !is_ca(cert) {
        return Err(IntermediateError::NotCa);
    }
    if !may_sign_certificates(cert) {
        return Err(IntermediateError::NoKeyCertSign);
    }
    let mut chain = vec![cert.clone()];
    chain.extend(upstream.iter().filter(|c| !same(c, cert)).cloned());
    check_order(&chain)?;
    check_valid_at(cert, CertRole::Ca, now)?;
    for (i, c) in chain.iter().enumerate().skip(1) {
        check_valid_at(c, CertRole::ChainMember { position: i + 1 }, now)?;
    }
    let left = asn1_to_system(cert.not_after())
        .duration_since(now)
        .unwrap_or_default();
    if left <= min_life {
        return Err(IntermediateError::TooShort {
            left_days: left.as_secs() / 86_400,
            needed_days: min_life.as_secs().div_ceil(86_400),
        });
    }
    Ok(chain)
}

/// [`check`], and the chain must end with a self-signed root (what `ca` is published as): for
/// CAs an operator installs, where nobody else vouches for the root.
pub fn check_to_root(
    cert: &X509,
    upstream: &[X509],
    key: &PKey<Private>,
    now: SystemTime,
    min_life: Duration,
) -> Result<Vec<X509>, IntermediateError> {
    let chain = check(cert, upstream, key, now, min_life)?;
    let top = chain.last().unwrap_or(cert);
    if !super::verify::issued_by(top, top) {
        return Err(IntermediateError::NoRoot {
            subject: subject_string(top),
            issuer: super::verify::name_string(top.issuer_name()),
        });
    }
    Ok(chain)
}

/// The root an intermediate's chain leads to: its last element (the root when the upstream
/// gave the whole chain, else the topmost CA it gave).
pub fn root_of(chain: &[X509]) -> Option<&X509> {
    chain.last()
}

/// A one-line description for status: `<subject> under <root subject>`.
pub fn describe(chain: &[X509]) -> String {
    match (chain.first(), root_of(chain)) {
        (Some(i), Some(r)) if chain.len() > 1 => {
            format!("{} under {}", subject_string(i), subject_string(r))
        }
        (Some(i), _) => subject_string(i),
        _ => String::new(),
    }
}

fn same(a: &X509, b: &X509) -> bool {
    matches!((a.to_der(), b.to_der()), (Ok(x), Ok(y)) if x == y)
}

/// keyUsage allows keyCertSign (an absent keyUsage allows everything, RFC 5280 §4.2.1.3).
fn may_sign_certificates(cert: &X509) -> bool {
    let text = match cert.to_text() {
        Ok(t) => String::from_utf8_lossy(&t).into_owned(),
        Err(_) => return false,
    };
    match text.find("X509v3 Key Usage") {
        None => true,
        Some(i) => text[i..]
            .lines()
            .nth(1)
            .is_some_and(|l| l.contains("Certificate Sign")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pki::sign::{issue, IssueRequest};
    use crate::pki::{Ca, KeyAlgorithm, ParsedCsr};

    const DAY: u64 = 86_400;

    fn root() -> Ca {
        let subject = CaSubject {
            common_name: "Org Root".into(),
            ..CaSubject::default()
        };
        Ca::generate(&subject, KeyAlgorithm::EcdsaP256, 3650 * DAY).unwrap()
    }

    fn ours() -> (CaSubject, PKey<Private>) {
        let subject = CaSubject {
            common_name: "tls-provider intermediate".into(),
            organization: Some("Example".into()),
            ..CaSubject::default()
        };
        (subject, KeyAlgorithm::EcdsaP256.generate().unwrap())
    }

    fn signed(root: &Ca, csr: &X509Req, ca: bool, days: u64) -> X509 {
        let pem = String::from_utf8(csr.to_pem().unwrap()).unwrap();
        let parsed = ParsedCsr::parse(&pem).unwrap();
        let req = IssueRequest {
            crl_url: None,
            csr: &parsed,
            is_ca: ca,
            validity_secs: days * DAY,
            now: SystemTime::now(),
        };
        issue(root, &req).unwrap()
    }

    #[test]
    fn the_request_asks_for_a_ca_and_differs_each_time() {
        let (subject, key) = ours();
        let a = ca_request(&subject, &key).unwrap();
        let b = ca_request(&subject, &key).unwrap();
        assert_ne!(a.to_der().unwrap(), b.to_der().unwrap(), "unique id");
        assert!(a.verify(&key).unwrap());
        let text = String::from_utf8(a.to_text().unwrap()).unwrap();
        assert!(text.contains("CA:TRUE"), "{text}");
        assert!(text.contains("Certificate Sign"), "{text}");
        assert!(
            text.contains("CN=tls-provider intermediate")
                || text.contains("CN = tls-provider intermediate"),
            "{text}"
        );
    }

    #[test]
    fn a_good_answer_passes_and_every_bad_one_is_named() {
        let root = root();
        let (subject, key) = ours();
        let csr = ca_request(&subject, &key).unwrap();
        let now = SystemTime::now();
        let life = Duration::from_secs(90 * DAY);
        let good = signed(&root, &csr, true, 365);
        let chain = check(&good, std::slice::from_ref(&root.cert), &key, now, life).unwrap();
        assert_eq!(chain.len(), 2);
        assert!(describe(&chain).contains("under"), "{}", describe(&chain));

        let leaf = signed(&root, &csr, false, 365);
        let e = check(&leaf, &[], &key, now, life).unwrap_err();
        assert!(matches!(e, IntermediateError::NotCa), "{e}");

        let (_, other_key) = ours();
        let e = check(&good, &[], &other_key, now, life).unwrap_err();
        assert!(matches!(e, IntermediateError::KeyMismatch), "{e}");

        let short = signed(&root, &csr, true, 30);
        let e = check(&short, &[], &key, now, life).unwrap_err();
        assert!(
            e.to_string().contains("less than certificate-validity"),
            "{e}"
        );

        let later = now + Duration::from_secs(400 * DAY);
        let e = check(&good, &[], &key, later, life).unwrap_err();
        assert!(e.to_string().contains("has expired"), "{e}");

        let stranger = self::root();
        let e = check(&good, std::slice::from_ref(&stranger.cert), &key, now, life).unwrap_err();
        assert!(e.to_string().contains("not leaf-first"), "{e}");
    }
}
