//! The fast path of [`super::ParsedCsr::from_der`] for the requests nearly every requirer sends:
//! reading and verifying them without OpenSSL's `X509_REQ` parser.
//!
//! Why: with OpenSSL 3, parsing a request (or a certificate) runs the provider *decoder*
//! machinery for its public key, and giving that key to a certificate builder runs the
//! *encoder* and the decoder again. Those cost several times the signature itself (about
//! 0.2 ms each against 0.02 ms for a P-256 signature), so a hook signing a thousand requests
//! spent most of its time there. Here the key is built from its components with the direct
//! constructors (`Rsa::from_public_components`, `EcKey::from_public_key`), which OpenSSL then
//! encodes and uses without the decoder and encoder.
//!
//! The rule that keeps this safe: this path only ever *accepts*, and only a request of the plain
//! shape below whose signature verifies; for anything else (another key or signature
//! algorithm, an attribute other than the extension request, odd encodings, a signature that
//! does not verify) it returns `None` and the caller runs the full OpenSSL path, which then gives
//! the verdict and the message. What it accepts OpenSSL accepts too, with the same key, subject
//! and verification (OpenSSL verifies the request info as it was encoded, and so do we: RSA
//! through the same provider code, ECDSA with the same `ECDSA_verify` rules on the key itself).
//!
//! The encoding: DER framing throughout ([`der::is_der_framed`]: minimal definite lengths, no
//! constructed strings, sorted SETs, down to the subject's attribute values; the ECDSA signature
//! and the RSA key inside their BIT STRINGs DER as well). OpenSSL would read BER the same way,
//! but it keeps the subject's bytes as they came and the certificate is written with them, so a
//! BER subject would make us issue a certificate that is not DER: such requests go to the full
//! path, which refuses a subject that is not DER (`ParsedCsr::from_der`).
//!
//! The shape: `SEQUENCE { info, signatureAlgorithm, signature BIT STRING (0 unused bits) }`;
//! `info = SEQUENCE { INTEGER 0, subject, subjectPublicKeyInfo, [0] { extensionRequest } }`
//! (the attributes optional; each an extension request, PKCS#9 or Microsoft's, whose values
//! are SEQUENCEs); the key RSA (`rsaEncryption`, NULL parameters, minimal positive INTEGERs,
//! 2048-8192 bits, an odd exponent of at least 3) with `sha{256,384,512}WithRSAEncryption` (NULL
//! parameters), or EC on a named P-256/P-384 curve with an uncompressed point and
//! `ecdsa-with-SHA{256,384,512}` (no parameters).

use std::sync::OnceLock;

use openssl::bn::{BigNum, BigNumContext};
use openssl::ec::{EcGroup, EcKey, EcPoint};
use openssl::ecdsa::EcdsaSig;
use openssl::hash::{hash, MessageDigest};
use openssl::nid::Nid;
use openssl::pkey::{PKey, Public};
use openssl::rsa::Rsa;
use openssl::sign::Verifier;
use openssl::x509::X509Name;

use super::der::{self, Tlv};
use super::KeyAlgorithm;

const OID_RSA: &str = "1.2.840.113549.1.1.1";
const OID_EC: &str = "1.2.840.10045.2.1";
const OID_P256: &str = "1.2.840.10045.3.1.7";
const OID_P384: &str = "1.3.132.0.34";
const TAG_INTEGER: u8 = 0x02;
const TAG_NULL: u8 = 0x05;
const TAG_ATTRIBUTES: u8 = 0xa0;

/// What the fast path read from a request whose signature verified.
pub(crate) struct Checked {
    pub subject: X509Name,
    pub public_key: PKey<Public>,
    pub key_algorithm: KeyAlgorithm,
    pub key_bits: u32,
    /// The subjectPublicKey bits, when they are what OpenSSL encodes for the key (so the key
    /// identifier is their hash without encoding the key again): always, as the fast path only
    /// takes keys in DER.
    pub spki_bits: Option<Vec<u8>>,
}

/// Reads and verifies `der_bytes` (the whole request) when it has the plain shape and the DER
/// encoding of the module documentation; `None` otherwise (the caller then takes the full OpenSSL
/// path).
pub(crate) fn check(der_bytes: &[u8]) -> Option<Checked> {
    let top = der::read_single(der_bytes)?;
    if top.tag != der::TAG_SEQUENCE || !der::is_der_framed(der_bytes) {
        return None;
    }
    let [(info, info_raw), (alg, _), (sig, _)] = raw_children(top.content)?[..] else {
        return None;
    };
    if info.tag != der::TAG_SEQUENCE {
        return None;
    }
    let parts = raw_children(info.content)?;
    let (version, subject, spki, attributes) = match parts.as_slice() {
        [v, s, k] => (v.0, s, k.0, None),
        [v, s, k, a] => (v.0, s, k.0, Some(a.0)),
        _ => return None,
    };
    if version.tag != TAG_INTEGER || version.content != [0] || subject.0.tag != der::TAG_SEQUENCE {
        return None;
    }
    if let Some(attrs) = attributes {
        only_extension_requests(attrs)?;
    }
    let (key, key_algorithm, key_bits) = public_key(spki)?;
    // An RSA key whose RSAPublicKey is not DER goes to the full path too.
    let spki_bits = Some(canonical_key_bits(spki)?);
    let digest = signature_digest(alg, key_algorithm)?;
    if sig.tag != der::TAG_BIT_STRING || sig.content.first() != Some(&0) {
        return None;
    }
    let sig = &sig.content[1..];
    let public_key = match key {
        Key::Rsa(pkey) => {
            let verified = Verifier::new(digest, &pkey)
                .and_then(|mut v| v.verify_oneshot(sig, info_raw))
                .unwrap_or(false);
            verified.then_some(pkey)?
        }
        Key::Ec(ec) => {
            ec_verified(&ec, digest, sig, info_raw)?;
            PKey::from_ec_key(ec).ok()?
        }
    };
    let subject = X509Name::from_der(subject.1).ok()?;
    Some(Checked {
        subject,
        public_key,
        key_algorithm,
        key_bits,
        spki_bits,
    })
}

/// The subjectPublicKey bits of a SubjectPublicKeyInfo the fast path accepted, when OpenSSL
/// encodes the key to the same bytes: always for the uncompressed EC point; for RSA when the
/// `RSAPublicKey` is DER (its INTEGERs are minimal already; its length must be too).
fn canonical_key_bits(spki: Tlv<'_>) -> Option<Vec<u8>> {
    let [alg, bits] = der::children(spki, der::TAG_SEQUENCE)?[..] else {
        return None;
    };
    let key = bits.content.get(1..)?;
    if algorithm(alg)?.0 == OID_RSA {
        let [n, e] = der::children(der::read_single(key)?, der::TAG_SEQUENCE)?[..] else {
            return None;
        };
        let der_form = [
            der::tlv(TAG_INTEGER, n.content),
            der::tlv(TAG_INTEGER, e.content),
        ];
        if der::tlv(der::TAG_SEQUENCE, &der_form.concat()) != key {
            return None;
        }
    }
    Some(key.to_vec())
}

/// The TLVs that make up `input`, each with its whole encoding (tag and length included).
fn raw_children(mut input: &[u8]) -> Option<Vec<(Tlv<'_>, &[u8])>> {
    let mut out = Vec::new();
    while !input.is_empty() {
        let (tlv, rest) = der::read_tlv(input)?;
        out.push((tlv, &input[..input.len() - rest.len()]));
        input = rest;
    }
    Some(out)
}

/// `[0]` attributes holding only extension requests whose values are SEQUENCEs (what OpenSSL
/// keeps unparsed; the extensions themselves are checked by the caller, on both paths).
fn only_extension_requests(attrs: Tlv<'_>) -> Option<()> {
    if attrs.tag != TAG_ATTRIBUTES {
        return None;
    }
    for attr in der::read_all(attrs.content)? {
        let [oid, values] = der::children(attr, der::TAG_SEQUENCE)?[..] else {
            return None;
        };
        if oid.tag != der::TAG_OID {
            return None;
        }
        let oid = der::oid_to_string(oid.content)?;
        if oid != der::OID_EXTENSION_REQUEST && oid != der::OID_MS_EXTENSION_REQUEST {
            return None;
        }
        let values = der::children(values, der::TAG_SET)?;
        if values.iter().any(|v| v.tag != der::TAG_SEQUENCE) {
            return None;
        }
    }
    Some(())
}

/// An `AlgorithmIdentifier`'s OID (dotted) and parameters.
fn algorithm(alg: Tlv<'_>) -> Option<(String, Option<Tlv<'_>>)> {
    let parts = der::children(alg, der::TAG_SEQUENCE)?;
    let (oid, params) = match parts.as_slice() {
        [oid] => (*oid, None),
        [oid, params] => (*oid, Some(*params)),
        _ => return None,
    };
    if oid.tag != der::TAG_OID {
        return None;
    }
    Some((der::oid_to_string(oid.content)?, params))
}

fn is_null(params: Option<Tlv<'_>>) -> bool {
    params.is_some_and(|p| p.tag == TAG_NULL && p.content.is_empty())
}

/// A public key built from its components.
enum Key {
    Rsa(PKey<Public>),
    Ec(EcKey<Public>),
}

/// Verifies an ECDSA signature as OpenSSL's provider does (`ECDSA_verify`: the signature must be
/// DER, re-encoding it gives the same bytes), without handing the key to the provider (which
/// would convert it first, costing about as much as the verification).
fn ec_verified(ec: &EcKey<Public>, digest: MessageDigest, sig: &[u8], data: &[u8]) -> Option<()> {
    let parsed = EcdsaSig::from_der(sig).ok()?;
    if parsed.to_der().ok()? != sig {
        return None;
    }
    let hashed = hash(digest, data).ok()?;
    parsed.verify(&hashed, ec).ok()?.then_some(())
}

/// The key of a SubjectPublicKeyInfo, built from its components, with the class and size
/// `check_key` gives it.
fn public_key(spki: Tlv<'_>) -> Option<(Key, KeyAlgorithm, u32)> {
    let [alg, bits] = der::children(spki, der::TAG_SEQUENCE)?[..] else {
        return None;
    };
    if bits.tag != der::TAG_BIT_STRING || bits.content.first() != Some(&0) {
        return None;
    }
    let key = &bits.content[1..];
    let (oid, params) = algorithm(alg)?;
    match oid.as_str() {
        OID_RSA if is_null(params) => rsa_key(key),
        OID_EC => {
            let curve = params.filter(|p| p.tag == der::TAG_OID)?;
            match der::oid_to_string(curve.content)?.as_str() {
                OID_P256 => ec_key(key, KeyAlgorithm::EcdsaP256, 256),
                OID_P384 => ec_key(key, KeyAlgorithm::EcdsaP384, 384),
                _ => None,
            }
        }
        _ => None,
    }
}

/// A minimal, positive DER INTEGER.
fn positive_integer(t: Tlv<'_>) -> Option<BigNum> {
    let c = t.content;
    let minimal = match c {
        [] => false,
        [first, ..] if first & 0x80 != 0 => false,
        [0, second, ..] => second & 0x80 != 0,
        _ => true,
    };
    if t.tag != TAG_INTEGER || !minimal {
        return None;
    }
    BigNum::from_slice(c).ok()
}

fn rsa_key(key: &[u8]) -> Option<(Key, KeyAlgorithm, u32)> {
    let [n, e] = der::children(der::read_single(key)?, der::TAG_SEQUENCE)?[..] else {
        return None;
    };
    let (n, e) = (positive_integer(n)?, positive_integer(e)?);
    // e = 1 makes any padded digest a valid signature (no proof of possession); an even e is no
    // RSA key. The full path refuses both with a message.
    if e.num_bits() < 2 || !e.is_bit_set(0) {
        return None;
    }
    let bits = u32::try_from(n.num_bits()).ok()?;
    let class = match bits {
        2048..=3071 => KeyAlgorithm::Rsa2048,
        3072..=4095 => KeyAlgorithm::Rsa3072,
        4096..=8192 => KeyAlgorithm::Rsa4096,
        _ => return None,
    };
    let rsa = Rsa::from_public_components(n, e).ok()?;
    Some((Key::Rsa(PKey::from_rsa(rsa).ok()?), class, bits))
}

/// The named group of a curve, made once (making one costs more than using it).
fn group(nid: Nid) -> Option<&'static EcGroup> {
    static P256: OnceLock<Option<EcGroup>> = OnceLock::new();
    static P384: OnceLock<Option<EcGroup>> = OnceLock::new();
    let cell = match nid {
        Nid::X9_62_PRIME256V1 => &P256,
        Nid::SECP384R1 => &P384,
        _ => return None,
    };
    cell.get_or_init(|| EcGroup::from_curve_name(nid).ok())
        .as_ref()
}

fn ec_key(point: &[u8], class: KeyAlgorithm, bits: u32) -> Option<(Key, KeyAlgorithm, u32)> {
    let nid = match class {
        KeyAlgorithm::EcdsaP256 => Nid::X9_62_PRIME256V1,
        _ => Nid::SECP384R1,
    };
    // Uncompressed: 04 || x || y.
    let field = (bits / 8) as usize;
    if point.len() != 1 + 2 * field || point[0] != 0x04 {
        return None;
    }
    let group = group(nid)?;
    let mut ctx = BigNumContext::new().ok()?;
    // Checks that the point is on the curve, as the OpenSSL decoder does.
    let point = EcPoint::from_bytes(group, point, &mut ctx).ok()?;
    let ec = EcKey::from_public_key(group, &point).ok()?;
    Some((Key::Ec(ec), class, bits))
}

/// The digest of a signature algorithm that goes with the key's family.
fn signature_digest(alg: Tlv<'_>, key: KeyAlgorithm) -> Option<MessageDigest> {
    let (oid, params) = algorithm(alg)?;
    if key.is_rsa() {
        if !is_null(params) {
            return None;
        }
        match oid.as_str() {
            "1.2.840.113549.1.1.11" => Some(MessageDigest::sha256()),
            "1.2.840.113549.1.1.12" => Some(MessageDigest::sha384()),
            "1.2.840.113549.1.1.13" => Some(MessageDigest::sha512()),
            _ => None,
        }
    } else {
        if params.is_some() {
            return None;
        }
        match oid.as_str() {
            "1.2.840.10045.4.3.2" => Some(MessageDigest::sha256()),
            "1.2.840.10045.4.3.3" => Some(MessageDigest::sha384()),
            "1.2.840.10045.4.3.4" => Some(MessageDigest::sha512()),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests;
