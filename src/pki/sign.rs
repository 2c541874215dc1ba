//! Issuing a certificate for a CSR under the CA.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use openssl::asn1::{Asn1Integer, Asn1Object, Asn1OctetString, Asn1Time};
use openssl::bn::{BigNum, MsbOption};
use openssl::hash::{hash, MessageDigest};
use openssl::pkey::{HasPublic, PKeyRef};
use openssl::x509::extension::{BasicConstraints, ExtendedKeyUsage, KeyUsage};
use openssl::x509::{X509Builder, X509Extension, X509};

use super::der;
use super::keys::digest_for_key;
use super::{Ca, ParsedCsr, PkiError};

/// How far back an issued certificate's notBefore is set (clock skew).
pub const BACKDATE_SECS: u64 = 60;

/// What to issue.
pub struct IssueRequest<'a> {
    pub csr: &'a ParsedCsr,
    pub is_ca: bool,
    /// Requested lifetime; the certificate never outlives the CA (notAfter is capped at the CA's).
    pub validity_secs: u64,
    /// "Now" (injectable for tests).
    pub now: SystemTime,
    /// When set, a non-critical CRL Distribution Points extension with this URI.
    pub crl_url: Option<&'a str>,
}

/// Signs: subject and SANs copied from the CSR, the CSR's public key, random 64+ bit serial,
/// notBefore = now − 60 s, BasicConstraints critical (CA:TRUE pathlen:0 only when `is_ca`),
/// KeyUsage (digitalSignature+keyEncipherment for RSA leaves, digitalSignature for EC leaves,
/// keyCertSign+cRLSign for CA), EKU serverAuth+clientAuth for leaves, SKI, AKI, CRL DP (with `crl_url`). Other CSR
/// extensions: non-critical ones are dropped; critical ones are refused earlier by ParsedCsr.
///
/// Details: the subject is copied verbatim (same RDNs, order and string types, so the
/// requirer's x500UniqueIdentifier UTF8String survives); the SAN extension holds the CSR's DNS
/// names, IP addresses and registeredIDs (other GeneralName kinds are not copied) and is marked
/// critical only when the subject is empty (RFC 5280 §4.2.1.6); CA certificates get KeyUsage
/// keyCertSign+cRLSign+digitalSignature and no EKU; the serial is 127 random bits, positive;
/// notAfter = min(now + validity, CA notAfter); the digest is SHA-384 when the CA key is
/// P-384, SHA-256 otherwise. Errors when the CA is expired at `now` or the validity is 0.
pub fn issue(ca: &Ca, req: &IssueRequest<'_>) -> Result<X509, PkiError> {
    if req.validity_secs == 0 {
        return Err(PkiError::ValidityZero);
    }
    let csr = req.csr;
    let public = csr.public_key();
    let mut b = X509::builder()?;
    b.set_version(2)?;
    let serial = random_serial()?;
    b.set_serial_number(&serial)?;
    b.set_subject_name(csr.subject())?;
    b.set_issuer_name(ca.cert.subject_name())?;
    b.set_pubkey(public)?;

    let ca_not_after = ca.not_after();
    if ca_not_after <= req.now {
        return Err(PkiError::CaExpired);
    }
    let not_before = req
        .now
        .checked_sub(Duration::from_secs(BACKDATE_SECS))
        .unwrap_or(req.now);
    let wanted = req
        .now
        .checked_add(Duration::from_secs(req.validity_secs))
        .unwrap_or(ca_not_after);
    set_validity(&mut b, not_before, wanted.min(ca_not_after))?;

    if req.is_ca {
        b.append_extension(BasicConstraints::new().critical().ca().pathlen(0).build()?)?;
        b.append_extension(
            KeyUsage::new()
                .critical()
                .key_cert_sign()
                .crl_sign()
                .digital_signature()
                .build()?,
        )?;
    } else {
        b.append_extension(BasicConstraints::new().critical().build()?)?;
        let mut ku = KeyUsage::new();
        ku.critical().digital_signature();
        if public.id() == openssl::pkey::Id::RSA {
            ku.key_encipherment();
        }
        b.append_extension(ku.build()?)?;
        b.append_extension(
            ExtendedKeyUsage::new()
                .server_auth()
                .client_auth()
                .build()?,
        )?;
    }
    let ski = match csr.spki_bits() {
        Some(bits) => hash(MessageDigest::sha1(), bits)?.to_vec(),
        None => subject_key_id(public)?,
    };
    b.append_extension(subject_key_id_ext(&ski)?)?;
    let aki = match ca.cert.subject_key_id() {
        Some(id) => id.as_slice().to_vec(),
        None => {
            let ca_public = ca.cert.public_key()?;
            subject_key_id(&ca_public)?
        }
    };
    b.append_extension(authority_key_id_ext(&aki)?)?;

    if !csr.sans.is_empty() {
        let value = der::build_sans(&csr.sans)?;
        let critical = csr.subject().entries().next().is_none();
        b.append_extension(raw_extension(der::OID_SAN, critical, &value)?)?;
    }

    if let Some(url) = req.crl_url {
        let value = super::crl::distribution_points_value(url);
        b.append_extension(raw_extension(
            super::crl::OID_CRL_DISTRIBUTION_POINTS,
            false,
            &value,
        )?)?;
    }

    b.sign(&ca.key, digest_for_key(&ca.key))?;
    Ok(b.build())
}

/// A certificate as PEM without a trailing newline.
/// (Empty only if OpenSSL fails to encode, which does not happen for a certificate it parsed.)
pub fn cert_to_pem(cert: &X509) -> String {
    match cert.to_pem() {
        Ok(pem) => String::from_utf8_lossy(&pem).trim_end().to_string(),
        Err(e) => {
            tracing::error!("cannot encode a certificate as PEM: {e}");
            String::new()
        }
    }
}

/// The leaf-first chain to publish for a certificate issued by `ca`: `[leaf, ca]`, each PEM
/// without a trailing newline.
pub fn chain_pems(cert: &X509, ca: &Ca) -> Vec<String> {
    vec![cert_to_pem(cert), ca.cert_pem()]
}

/// A random positive serial of 127 bits (top bit set, so always 16 DER octets).
pub(crate) fn random_serial() -> Result<Asn1Integer, PkiError> {
    let mut bn = BigNum::new()?;
    bn.rand(127, MsbOption::ONE, false)?;
    Ok(bn.to_asn1_integer()?)
}

pub(crate) fn system_to_asn1(t: SystemTime) -> Result<Asn1Time, PkiError> {
    let secs = match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_secs()).unwrap_or(i64::MAX),
    };
    // Years beyond 9999 cannot be encoded.
    let secs = secs.min(253_402_300_799);
    Asn1Time::from_unix(secs as _).map_err(PkiError::from)
}

pub(crate) fn set_validity(
    b: &mut X509Builder,
    not_before: SystemTime,
    not_after: SystemTime,
) -> Result<(), PkiError> {
    if not_after <= not_before {
        return Err(PkiError::ValidityInverted);
    }
    let nb = system_to_asn1(not_before)?;
    let na = system_to_asn1(not_after)?;
    b.set_not_before(&nb)?;
    b.set_not_after(&na)?;
    Ok(())
}

/// Key identifier (RFC 5280 §4.2.1.2 method 1): SHA-1 of the subjectPublicKey bits.
pub(crate) fn subject_key_id<T: HasPublic>(key: &PKeyRef<T>) -> Result<Vec<u8>, PkiError> {
    let spki = key.public_key_to_der()?;
    let bits = der::spki_key_bits(&spki).ok_or(PkiError::PublicKeyBits)?;
    Ok(hash(MessageDigest::sha1(), bits)?.to_vec())
}

pub(crate) fn raw_extension(
    oid: &str,
    critical: bool,
    value: &[u8],
) -> Result<X509Extension, PkiError> {
    let oid = Asn1Object::from_str(oid)?;
    let value = Asn1OctetString::new_from_bytes(value)?;
    Ok(X509Extension::new_from_der(&oid, critical, &value)?)
}

pub(crate) fn subject_key_id_ext(id: &[u8]) -> Result<X509Extension, PkiError> {
    raw_extension("2.5.29.14", false, &der::tlv(der::TAG_OCTET_STRING, id))
}

pub(crate) fn authority_key_id_ext(id: &[u8]) -> Result<X509Extension, PkiError> {
    // AuthorityKeyIdentifier ::= SEQUENCE { keyIdentifier [0] IMPLICIT OCTET STRING }
    raw_extension(
        "2.5.29.35",
        false,
        &der::tlv(der::TAG_SEQUENCE, &der::tlv(0x80, id)),
    )
}
