//! Certificate revocation lists (RFC 5280 §5) signed by a CA, and the CRL Distribution Points
//! extension for issued certificates.
//!
//! The `openssl` crate parses CRLs (`X509Crl`) but cannot build one, so the TBSCertList is
//! encoded here with the DER helpers (`der.rs`), signed with `openssl::sign::Signer` under the
//! CA key, and parsed back with `X509Crl` before it is returned: OpenSSL reads every CRL we
//! hand out. No `unsafe` and no new dependency (see docs/design.md, "Revocation").

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use openssl::bn::BigNum;
use openssl::hash::MessageDigest;
use openssl::pkey::Id;
use openssl::sign::Signer;
use openssl::x509::X509Crl;

use super::der::{self, TAG_OCTET_STRING, TAG_SEQUENCE};
use super::keys::digest_for_key;
use super::sign::subject_key_id;
use super::{Ca, PkiError};

/// RFC 5280 §5.3.1 CRLReason. `certificateHold` (reversible) and `removeFromCRL` (delta CRLs
/// only) are not offered: a revocation here is final.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RevocationReason {
    Unspecified,
    KeyCompromise,
    CaCompromise,
    AffiliationChanged,
    Superseded,
    CessationOfOperation,
    PrivilegeWithdrawn,
    AaCompromise,
}

impl RevocationReason {
    pub const ALL: [RevocationReason; 8] = [
        RevocationReason::Unspecified,
        RevocationReason::KeyCompromise,
        RevocationReason::CaCompromise,
        RevocationReason::AffiliationChanged,
        RevocationReason::Superseded,
        RevocationReason::CessationOfOperation,
        RevocationReason::PrivilegeWithdrawn,
        RevocationReason::AaCompromise,
    ];

    /// The RFC 5280 name (`keyCompromise`).
    pub fn as_str(self) -> &'static str {
        match self {
            RevocationReason::Unspecified => "unspecified",
            RevocationReason::KeyCompromise => "keyCompromise",
            RevocationReason::CaCompromise => "cACompromise",
            RevocationReason::AffiliationChanged => "affiliationChanged",
            RevocationReason::Superseded => "superseded",
            RevocationReason::CessationOfOperation => "cessationOfOperation",
            RevocationReason::PrivilegeWithdrawn => "privilegeWithdrawn",
            RevocationReason::AaCompromise => "aACompromise",
        }
    }

    /// The RFC 5280 name, case-insensitively, also with `-`/`_` between words
    /// (`key-compromise`). `None` for anything else.
    pub fn parse(s: &str) -> Option<RevocationReason> {
        let norm = |t: &str| {
            t.chars()
                .filter(|c| *c != '-' && *c != '_')
                .collect::<String>()
                .to_ascii_lowercase()
        };
        let want = norm(s);
        Self::ALL.into_iter().find(|r| norm(r.as_str()) == want)
    }

    fn code(self) -> u8 {
        match self {
            RevocationReason::Unspecified => 0,
            RevocationReason::KeyCompromise => 1,
            RevocationReason::CaCompromise => 2,
            RevocationReason::AffiliationChanged => 3,
            RevocationReason::Superseded => 4,
            RevocationReason::CessationOfOperation => 5,
            RevocationReason::PrivilegeWithdrawn => 9,
            RevocationReason::AaCompromise => 10,
        }
    }
}

/// One revoked certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RevokedEntry {
    /// The serial in hex (as `openssl x509 -serial` prints it; case and a `0x` prefix ignored).
    pub serial_hex: String,
    pub revoked_at: SystemTime,
    pub reason: RevocationReason,
}

/// What to put in a CRL.
pub struct CrlRequest<'a> {
    pub revoked: &'a [RevokedEntry],
    /// thisUpdate.
    pub this_update: SystemTime,
    /// nextUpdate (after `this_update`).
    pub next_update: SystemTime,
    /// The CRLNumber extension (monotonic per CA).
    pub number: u64,
}

/// A signed CRL.
#[derive(Clone, Debug)]
pub struct Crl {
    pub der: Vec<u8>,
    /// PEM (`-----BEGIN X509 CRL-----`) without a trailing newline.
    pub pem: String,
}

/// OIDs used below.
const OID_CRL_NUMBER: &str = "2.5.29.20";
const OID_REASON_CODE: &str = "2.5.29.21";
const OID_AKI: &str = "2.5.29.35";
const OID_CDP: &str = "2.5.29.31";

const TAG_INTEGER: u8 = 0x02;
const TAG_ENUMERATED: u8 = 0x0a;
const TAG_NULL: u8 = 0x05;
const TAG_UTC_TIME: u8 = 0x17;
const TAG_GENERALIZED_TIME: u8 = 0x18;

/// Builds and signs a v2 CRL under `ca`: issuer = the CA's subject, AuthorityKeyIdentifier,
/// CRLNumber, and per entry the serial, revocation date and (unless unspecified) reasonCode.
/// Entries are sorted by serial and duplicates dropped. Errors for a serial that is not hex, a
/// CA key other than RSA or EC, or `next_update` not after `this_update`.
pub fn build_crl(ca: &Ca, req: &CrlRequest<'_>) -> Result<Crl, PkiError> {
    if req.next_update <= req.this_update {
        return Err(PkiError::ValidityInverted);
    }
    let digest = digest_for_key(&ca.key);
    let alg = signature_algorithm(ca.key.id(), digest)?;
    let mut tbs = Vec::new();
    tbs.extend(der::tlv(TAG_INTEGER, &[1])); // v2
    tbs.extend(&alg);
    tbs.extend(ca.cert.subject_name().to_der()?);
    tbs.extend(encode_time(req.this_update));
    tbs.extend(encode_time(req.next_update));
    let entries = revoked_sequence(req.revoked)?;
    if !entries.is_empty() {
        tbs.extend(der::tlv(TAG_SEQUENCE, &entries));
    }
    tbs.extend(der::tlv(
        0xa0,
        &der::tlv(TAG_SEQUENCE, &crl_extensions(ca, req.number)?),
    ));
    let tbs = der::tlv(TAG_SEQUENCE, &tbs);

    let mut signer = Signer::new(digest, &ca.key)?;
    signer.update(&tbs)?;
    let signature = signer.sign_to_vec()?;
    let mut bits = vec![0u8];
    bits.extend(signature);
    let mut body = tbs;
    body.extend(alg);
    body.extend(der::tlv(der::TAG_BIT_STRING, &bits));
    let der = der::tlv(TAG_SEQUENCE, &body);

    let parsed = X509Crl::from_der(&der)?;
    let pem = String::from_utf8_lossy(&parsed.to_pem()?)
        .trim_end()
        .to_string();
    Ok(Crl { der, pem })
}

/// The value of a non-critical CRL Distribution Points extension (RFC 5280 §4.2.1.13) with one
/// distribution point whose fullName is the URI `url`.
pub(crate) fn distribution_points_value(url: &str) -> Vec<u8> {
    let uri = der::tlv(0x86, url.as_bytes()); // GeneralName uniformResourceIdentifier
    let full_name = der::tlv(0xa0, &uri); // DistributionPointName.fullName [0]
    let point_name = der::tlv(0xa0, &full_name); // DistributionPoint.distributionPoint [0]
    der::tlv(TAG_SEQUENCE, &der::tlv(TAG_SEQUENCE, &point_name))
}

pub(crate) const OID_CRL_DISTRIBUTION_POINTS: &str = OID_CDP;

/// A serial in hex as DER INTEGER content (positive, minimal).
fn serial_content(hex: &str) -> Result<Vec<u8>, PkiError> {
    let trimmed = hex.trim();
    let digits = trimmed
        .strip_prefix("0x")
        .or_else(|| trimmed.strip_prefix("0X"))
        .unwrap_or(trimmed)
        .replace(':', "");
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(PkiError::BadSerial(hex.to_string()));
    }
    let mut bytes = BigNum::from_hex_str(&digits)?.to_vec();
    if bytes.is_empty() {
        bytes.push(0);
    }
    if bytes[0] & 0x80 != 0 {
        bytes.insert(0, 0);
    }
    Ok(bytes)
}

fn revoked_sequence(revoked: &[RevokedEntry]) -> Result<Vec<u8>, PkiError> {
    let mut entries = Vec::with_capacity(revoked.len());
    for r in revoked {
        entries.push((serial_content(&r.serial_hex)?, r));
    }
    entries.sort_by(|a, b| (a.0.len(), &a.0).cmp(&(b.0.len(), &b.0)));
    entries.dedup_by(|a, b| a.0 == b.0);
    let mut out = Vec::new();
    for (serial, r) in entries {
        let mut entry = der::tlv(TAG_INTEGER, &serial);
        entry.extend(encode_time(r.revoked_at));
        if r.reason != RevocationReason::Unspecified {
            let value = der::tlv(TAG_ENUMERATED, &[r.reason.code()]);
            let ext = extension(OID_REASON_CODE, &value)?;
            entry.extend(der::tlv(TAG_SEQUENCE, &ext));
        }
        out.extend(der::tlv(TAG_SEQUENCE, &entry));
    }
    Ok(out)
}

fn crl_extensions(ca: &Ca, number: u64) -> Result<Vec<u8>, PkiError> {
    let key_id = match ca.cert.subject_key_id() {
        Some(id) => id.as_slice().to_vec(),
        None => {
            let public = ca.cert.public_key()?;
            subject_key_id(&public)?
        }
    };
    let aki = der::tlv(TAG_SEQUENCE, &der::tlv(0x80, &key_id));
    let mut number_bytes: Vec<u8> = number
        .to_be_bytes()
        .into_iter()
        .skip_while(|b| *b == 0)
        .collect();
    if number_bytes.first().is_none_or(|b| b & 0x80 != 0) {
        number_bytes.insert(0, 0);
    }
    let mut out = extension(OID_AKI, &aki)?;
    out.extend(extension(
        OID_CRL_NUMBER,
        &der::tlv(TAG_INTEGER, &number_bytes),
    )?);
    Ok(out)
}

/// Extension ::= SEQUENCE { extnID, extnValue OCTET STRING } (non-critical, default omitted).
fn extension(oid: &str, value: &[u8]) -> Result<Vec<u8>, PkiError> {
    let oid_bytes = der::oid_from_string(oid).ok_or_else(|| PkiError::BadOid(oid.into()))?;
    let mut body = der::tlv(der::TAG_OID, &oid_bytes);
    body.extend(der::tlv(TAG_OCTET_STRING, value));
    Ok(der::tlv(TAG_SEQUENCE, &body))
}

/// The AlgorithmIdentifier for signing with this key type and digest.
fn signature_algorithm(key: Id, digest: MessageDigest) -> Result<Vec<u8>, PkiError> {
    let sha384 = digest.type_() == MessageDigest::sha384().type_();
    let (oid, null_params) = match (key, sha384) {
        (Id::RSA, false) => ("1.2.840.113549.1.1.11", true),
        (Id::RSA, true) => ("1.2.840.113549.1.1.12", true),
        (Id::EC, false) => ("1.2.840.10045.4.3.2", false),
        (Id::EC, true) => ("1.2.840.10045.4.3.3", false),
        _ => return Err(PkiError::CrlKeyUnsupported),
    };
    let oid_bytes = der::oid_from_string(oid).ok_or_else(|| PkiError::BadOid(oid.into()))?;
    let mut body = der::tlv(der::TAG_OID, &oid_bytes);
    if null_params {
        body.extend(der::tlv(TAG_NULL, &[]));
    }
    Ok(der::tlv(TAG_SEQUENCE, &body))
}

/// RFC 5280 §5.1.2.4: UTCTime through 2049, GeneralizedTime from 2050; whole seconds, `Z`.
fn encode_time(t: SystemTime) -> Vec<u8> {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs()
        .min(253_402_300_799);
    let (y, m, d) = super::civil::civil_from_days((secs / 86_400) as i64);
    let rem = secs % 86_400;
    let hms = format!("{:02}{:02}{:02}Z", rem / 3600, (rem % 3600) / 60, rem % 60);
    if (1950..2050).contains(&y) {
        let text = format!("{:02}{m:02}{d:02}{hms}", y % 100);
        der::tlv(TAG_UTC_TIME, text.as_bytes())
    } else {
        let text = format!("{y:04}{m:02}{d:02}{hms}");
        der::tlv(TAG_GENERALIZED_TIME, text.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_parse_by_rfc_name_and_spelling_variants() {
        for r in RevocationReason::ALL {
            assert_eq!(RevocationReason::parse(r.as_str()), Some(r));
        }
        assert_eq!(
            RevocationReason::parse("key-compromise"),
            Some(RevocationReason::KeyCompromise)
        );
        assert_eq!(
            RevocationReason::parse("CESSATION_OF_OPERATION"),
            Some(RevocationReason::CessationOfOperation)
        );
        for bad in [
            "",
            "hold",
            "certificateHold",
            "removeFromCRL",
            "key compromise",
        ] {
            assert_eq!(RevocationReason::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn times_switch_to_generalized_in_2050() {
        let t = |s: u64| UNIX_EPOCH + Duration::from_secs(s);
        assert_eq!(encode_time(t(0)), der::tlv(TAG_UTC_TIME, b"700101000000Z"));
        // 2049-12-31T23:59:59Z and 2050-01-01T00:00:00Z
        assert_eq!(
            encode_time(t(2_524_607_999)),
            der::tlv(TAG_UTC_TIME, b"491231235959Z")
        );
        assert_eq!(
            encode_time(t(2_524_608_000)),
            der::tlv(TAG_GENERALIZED_TIME, b"20500101000000Z")
        );
    }

    #[test]
    fn serials_are_positive_minimal_integers() {
        assert_eq!(serial_content("01").unwrap(), vec![1]);
        assert_eq!(serial_content("0x80").unwrap(), vec![0, 0x80]);
        assert_eq!(serial_content("7f:ff").unwrap(), vec![0x7f, 0xff]);
        assert_eq!(serial_content("0").unwrap(), vec![0]);
        for bad in ["", "xyz", "-1", "0x"] {
            assert!(serial_content(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn cdp_value_is_one_uri_full_name() {
        let v = distribution_points_value("http://x/c.crl");
        let mut want = vec![0x30, 22, 0x30, 20, 0xa0, 18, 0xa0, 16, 0x86, 14];
        want.extend(b"http://x/c.crl");
        assert_eq!(v, want);
    }
}
