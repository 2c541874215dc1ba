//! Checks on certificates handed to us (manual mode) and on certificates we publish.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use openssl::asn1::{Asn1Time, Asn1TimeRef};
use openssl::nid::Nid;
use openssl::x509::{X509NameRef, X509Ref, X509};

use super::der;
use super::san::San;
use super::ParsedCsr;

/// Hard cap on the text given to [`parse_certs`] (a long chain is a few tens of KiB).
pub const MAX_CERTS_PEM_BYTES: usize = 1024 * 1024;

const BEGIN_CERT: &str = "-----BEGIN CERTIFICATE-----";
const END_CERT: &str = "-----END CERTIFICATE-----";

/// Why a certificate or chain is not acceptable.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum CertError {
    #[error("not a PEM certificate: {0}")]
    NotPem(String),
}

/// Parses every PEM certificate in `text` (tolerating text around the blocks, e.g. an
/// `openssl x509 -text` dump, and CRLF line endings), in order. Fails when there is no
/// `-----BEGIN CERTIFICATE-----` block, when a block does not decode, or when the text is larger
/// than [`MAX_CERTS_PEM_BYTES`].
pub fn parse_certs(text: &str) -> Result<Vec<X509>, CertError> {
    if text.len() > MAX_CERTS_PEM_BYTES {
        return Err(CertError::NotPem(format!(
            "the text is {} bytes, more than the {MAX_CERTS_PEM_BYTES} allowed",
            text.len()
        )));
    }
    let mut certs = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(BEGIN_CERT) {
        let after = &rest[start + BEGIN_CERT.len()..];
        let Some(end) = after.find(END_CERT) else {
            return Err(CertError::NotPem(format!(
                "certificate {} has no {END_CERT} line",
                certs.len() + 1
            )));
        };
        let body: String = after[..end]
            .chars()
            .filter(|c| !c.is_ascii_whitespace())
            .collect();
        let der = base64_decode(&body).ok_or_else(|| {
            CertError::NotPem(format!(
                "certificate {} is not valid base64",
                certs.len() + 1
            ))
        })?;
        if der::read_single(&der).is_none() {
            return Err(CertError::NotPem(format!(
                "certificate {} is not a single DER structure",
                certs.len() + 1
            )));
        }
        let cert = X509::from_der(&der).map_err(|_| {
            CertError::NotPem(format!(
                "certificate {} does not parse as X.509",
                certs.len() + 1
            ))
        })?;
        certs.push(cert);
        rest = &after[end + END_CERT.len()..];
    }
    if certs.is_empty() {
        let hint = if text.contains("-----BEGIN") {
            "found a PEM block of another type, expected -----BEGIN CERTIFICATE-----"
        } else {
            "no -----BEGIN CERTIFICATE----- block found"
        };
        return Err(CertError::NotPem(hint.into()));
    }
    Ok(certs)
}

pub(crate) fn base64_decode(body: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(body).ok()
}

/// Whether `cert` was signed by `issuer` (issuer name matches and the signature verifies).
pub fn issued_by(cert: &X509, issuer: &X509) -> bool {
    issued_by_ref(cert, issuer)
}

pub(crate) fn issued_by_ref(cert: &X509Ref, issuer: &X509Ref) -> bool {
    let names_match = cert
        .issuer_name()
        .try_cmp(issuer.subject_name())
        .is_ok_and(|o| o == std::cmp::Ordering::Equal);
    if !names_match {
        return false;
    }
    match issuer.public_key() {
        Ok(key) => cert.verify(&key).unwrap_or(false),
        Err(_) => false,
    }
}

/// Whether `cert` is valid at `now` (notBefore ≤ now ≤ notAfter).
pub fn valid_at(cert: &X509, now: SystemTime) -> bool {
    asn1_to_system(cert.not_before()) <= now && now <= asn1_to_system(cert.not_after())
}

/// Whether the certificate's BasicConstraints says CA:TRUE.
pub fn is_ca(cert: &X509) -> bool {
    is_ca_ref(cert)
}

pub(crate) fn is_ca_ref(cert: &X509Ref) -> bool {
    let Ok(der_bytes) = cert.to_der() else {
        return false;
    };
    der::cert_extensions(&der_bytes).is_some_and(|exts| {
        exts.iter()
            .any(|e| e.oid == der::OID_BASIC_CONSTRAINTS && der::basic_constraints_is_ca(e.value))
    })
}

/// Whether the certificate's public key is the CSR's public key.
pub fn public_key_matches(cert: &X509Ref, csr: &ParsedCsr) -> bool {
    csr.key_matches(cert)
}

/// A one-line rendering of a name, e.g. `CN=app.example.com, O=Example`.
pub fn name_string(name: &X509NameRef) -> String {
    name.entries()
        .map(|e| {
            let key = e
                .object()
                .nid()
                .short_name()
                .map(str::to_string)
                .unwrap_or_else(|_| e.object().to_string());
            let value = e
                .data()
                .to_string()
                .unwrap_or_else(|_| "<unprintable>".into());
            format!("{key}={value}")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The certificate's subject as one line.
pub fn subject_string(cert: &X509Ref) -> String {
    name_string(cert.subject_name())
}

/// Converts an ASN.1 time to `SystemTime` (the epoch on the impossible failure).
pub fn asn1_to_system(t: &Asn1TimeRef) -> SystemTime {
    let Ok(epoch) = Asn1Time::from_unix(0) else {
        return UNIX_EPOCH;
    };
    let Ok(diff) = epoch.diff(t) else {
        return UNIX_EPOCH;
    };
    let secs = i64::from(diff.days) * 86_400 + i64::from(diff.secs);
    if secs >= 0 {
        UNIX_EPOCH + Duration::from_secs(secs as u64)
    } else {
        UNIX_EPOCH - Duration::from_secs(secs.unsigned_abs())
    }
}

/// What the actions show about a certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertInfo {
    /// First CN of the subject, if any.
    pub common_name: Option<String>,
    /// The DNS, IP and registeredID SANs, in the certificate's order.
    pub sans: Vec<San>,
    /// Serial number as uppercase hex (as `openssl x509 -serial` prints it).
    pub serial_hex: String,
    pub not_before: SystemTime,
    pub not_after: SystemTime,
    pub is_ca: bool,
    /// The subject as one line.
    pub subject: String,
    pub issuer: String,
}

/// Summarises a certificate for display (actions, logs).
pub fn cert_info(cert: &X509Ref) -> CertInfo {
    let common_name = cert
        .subject_name()
        .entries_by_nid(Nid::COMMONNAME)
        .next()
        .and_then(|e| e.data().to_string().ok());
    let sans = cert
        .to_der()
        .ok()
        .and_then(|d| {
            let exts = der::cert_extensions(&d)?;
            let san = exts.iter().find(|e| e.oid == der::OID_SAN)?;
            der::parse_sans(san.value).ok()
        })
        .unwrap_or_default();
    let serial_hex = cert
        .serial_number()
        .to_bn()
        .and_then(|bn| bn.to_hex_str().map(|s| s.to_string()))
        .unwrap_or_default();
    CertInfo {
        common_name,
        sans,
        serial_hex,
        not_before: asn1_to_system(cert.not_before()),
        not_after: asn1_to_system(cert.not_after()),
        is_ca: is_ca_ref(cert),
        subject: subject_string(cert),
        issuer: name_string(cert.issuer_name()),
    }
}
