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
mod tests {
    use std::path::Path;
    use std::sync::OnceLock;

    use openssl::hash::MessageDigest;
    use openssl::nid::Nid;
    use openssl::pkey::{PKey, Private};
    use openssl::rsa::Rsa;
    use openssl::x509::extension::{
        BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectAlternativeName,
    };
    use openssl::x509::{X509Extension, X509NameBuilder, X509Req};

    use super::*;
    use crate::pki::csr::parse_with_openssl;
    use crate::pki::{csr_der, CsrError, ParsedCsr};

    /// What either path says about `der`: `Some` = the fast path's answer, and the full path's.
    fn both(der_bytes: &[u8]) -> (Option<Checked>, Result<Checked, CsrError>) {
        let fast = check(der_bytes);
        let full = parse_with_openssl(der_bytes).map(|(subject, public_key, alg, bits)| Checked {
            subject,
            public_key,
            key_algorithm: alg,
            key_bits: bits,
            spki_bits: None,
        });
        (fast, full)
    }

    /// The property: whatever the fast path accepts, the full path accepts with the same subject
    /// (byte for byte), key, class and size. Returns whether the fast path accepted.
    fn agree(der_bytes: &[u8], what: &str) -> bool {
        let (fast, full) = both(der_bytes);
        let Some(fast) = fast else {
            return false;
        };
        let full = full.unwrap_or_else(|e| panic!("{what}: fast path accepted, OpenSSL said {e}"));
        assert_eq!(
            fast.subject.to_der().unwrap(),
            full.subject.to_der().unwrap(),
            "{what}: subject"
        );
        assert!(fast.public_key.public_eq(&full.public_key), "{what}: key");
        assert_eq!(
            (fast.key_algorithm, fast.key_bits),
            (full.key_algorithm, full.key_bits),
            "{what}: key class"
        );
        true
    }

    fn fixture_der(name: &str) -> Vec<u8> {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/csr")
            .join(name);
        csr_der(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    /// A CSR signed with `digest`, optionally with a challengePassword attribute (made by hand:
    /// the `openssl` crate cannot add one).
    fn csr_with(key: &PKey<Private>, digest: MessageDigest, challenge: bool) -> Vec<u8> {
        let mut b = X509Req::builder().unwrap();
        let mut name = X509NameBuilder::new().unwrap();
        name.append_entry_by_nid(Nid::COMMONNAME, "fast.example.com")
            .unwrap();
        b.set_subject_name(&name.build()).unwrap();
        b.set_pubkey(key).unwrap();
        b.sign(key, digest).unwrap();
        let plain = b.build().to_der().unwrap();
        if !challenge {
            return plain;
        }
        let top = der::read_single(&plain).unwrap();
        let (info, _) = der::read_tlv(top.content).unwrap();
        let mut content = Vec::new();
        for (part, raw) in raw_children(info.content).unwrap() {
            if part.tag != TAG_ATTRIBUTES {
                content.extend_from_slice(raw);
            }
        }
        let oid = der::tlv(
            der::TAG_OID,
            &der::oid_from_string("1.2.840.113549.1.9.7").unwrap(),
        );
        let value = der::tlv(der::TAG_SET, &der::tlv(0x0c, b"secret"));
        let attr = der::tlv(der::TAG_SEQUENCE, &[oid, value].concat());
        content.extend(der::tlv(TAG_ATTRIBUTES, &attr));
        let info = der::tlv(der::TAG_SEQUENCE, &content);
        let mut signer = openssl::sign::Signer::new(digest, key).unwrap();
        let sig = signer.sign_oneshot_to_vec(&info).unwrap();
        let alg = der::tlv(
            der::TAG_SEQUENCE,
            &der::tlv(
                der::TAG_OID,
                &der::oid_from_string("1.2.840.10045.4.3.2").unwrap(),
            ),
        );
        let bits = der::tlv(der::TAG_BIT_STRING, &[&[0u8][..], &sig].concat());
        der::tlv(der::TAG_SEQUENCE, &[info, alg, bits].concat())
    }

    #[test]
    fn the_requirer_fixtures_take_the_fast_path_and_agree() {
        for name in [
            "rsa2048_full.pem",
            "rsa2048_full_crlf.pem",
            "rsa4096.pem",
            "ec_p384.pem",
            "ec_no_cn.pem",
            "ec_p256_ip.pem",
            "ec_wildcard.pem",
            "ec_ca_request.pem",
            "ec_ip_only_no_uid.pem",
            "ec_critical_ext.pem",
        ] {
            assert!(
                agree(&fixture_der(name), name),
                "{name}: not on the fast path"
            );
        }
        let tampered = fixture_der("rsa2048_tampered.pem");
        let (fast, full) = both(&tampered);
        assert!(fast.is_none());
        assert!(
            matches!(full, Err(CsrError::BadSignature)),
            "{:?}",
            full.err()
        );
    }

    #[test]
    fn other_shapes_take_the_full_path() {
        let ec = KeyAlgorithm::EcdsaP256.generate().unwrap();
        let rsa = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
        let p384 = KeyAlgorithm::EcdsaP384.generate().unwrap();
        for (key, digest) in [
            (&ec, MessageDigest::sha256()),
            (&ec, MessageDigest::sha384()),
            (&ec, MessageDigest::sha512()),
            (&p384, MessageDigest::sha384()),
            (&rsa, MessageDigest::sha256()),
            (&rsa, MessageDigest::sha384()),
            (&rsa, MessageDigest::sha512()),
        ] {
            assert!(
                agree(&csr_with(key, digest, false), "plain"),
                "plain: full path"
            );
        }
        // An attribute other than the extension request, SHA-1, a small RSA key: the full path
        // decides (and accepts the first two).
        for (der_bytes, accepted) in [
            (csr_with(&ec, MessageDigest::sha256(), true), true),
            (csr_with(&rsa, MessageDigest::sha1(), false), true),
            (
                csr_with(
                    &PKey::from_rsa(Rsa::generate(1024).unwrap()).unwrap(),
                    MessageDigest::sha256(),
                    false,
                ),
                false,
            ),
        ] {
            let (fast, full) = both(&der_bytes);
            assert!(fast.is_none());
            assert_eq!(full.is_ok(), accepted);
        }
    }

    /// The key bits are reused for the key identifier only when OpenSSL would encode the key to
    /// the same bytes.
    #[test]
    fn key_bits_are_reused_only_in_der_form() {
        let rsa = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
        let spki_der = rsa.public_key_to_der().unwrap();
        let spki = der::read_single(&spki_der).unwrap();
        let [alg, bits] = der::children(spki, der::TAG_SEQUENCE).unwrap()[..] else {
            panic!("SubjectPublicKeyInfo");
        };
        assert_eq!(
            canonical_key_bits(spki).as_deref(),
            Some(&bits.content[1..])
        );
        // The same RSAPublicKey with a length in more octets than needed (BER, not DER).
        let key = der::read_single(&bits.content[1..]).unwrap();
        let len = key.content.len();
        let mut ber = vec![der::TAG_SEQUENCE, 0x84];
        ber.extend_from_slice(&(len as u32).to_be_bytes());
        ber.extend_from_slice(key.content);
        let bit_string = der::tlv(der::TAG_BIT_STRING, &[&[0u8][..], &ber].concat());
        let alg_raw = der::tlv(alg.tag, alg.content);
        let odd = der::tlv(der::TAG_SEQUENCE, &[alg_raw, bit_string].concat());
        let odd_spki = der::read_single(&odd).unwrap();
        assert!(public_key(odd_spki).is_some(), "still a key we accept");
        assert_eq!(canonical_key_bits(odd_spki), None);
        let ec = KeyAlgorithm::EcdsaP256.generate().unwrap();
        let ec_der = ec.public_key_to_der().unwrap();
        assert!(canonical_key_bits(der::read_single(&ec_der).unwrap()).is_some());
    }

    /// Every single-byte change of a few requests: whenever the fast path still accepts, the
    /// full path accepts the same thing.
    #[test]
    fn mutated_requests_never_pass_the_fast_path_alone() {
        let ec = KeyAlgorithm::EcdsaP256.generate().unwrap();
        let rsa = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
        let inputs = [
            csr_with(&ec, MessageDigest::sha256(), false),
            csr_with(&rsa, MessageDigest::sha256(), false),
            fixture_der("ec_p256_ip.pem"),
        ];
        let mut accepted = 0;
        for (i, input) in inputs.iter().enumerate() {
            for pos in 0..input.len() {
                for delta in [0x01u8, 0x80, 0xff] {
                    let mut m = input.clone();
                    m[pos] ^= delta;
                    if agree(&m, &format!("input {i}, byte {pos} ^ {delta:#x}")) {
                        accepted += 1;
                    }
                }
            }
        }
        // Only changes the signature does not cover and that leave the shape intact (e.g. the
        // outer length bytes are not covered but break the shape) may pass.
        assert!(accepted < 10, "{accepted} mutants accepted");
    }

    // -----------------------------------------------------------------------------------------
    // Differential: the fast path against OpenSSL's own reading of the same bytes.

    /// The property against OpenSSL itself: when the fast path accepts `der_bytes`, OpenSSL's
    /// `X509_REQ` parser accepts them, the request verifies with its own key, OpenSSL reads the
    /// same subject and key (DER, byte for byte), and the key bits the fast path keeps for the key
    /// identifier are those of OpenSSL's encoding of the key. Also the full path's reading (key
    /// class and size) agrees. Returns whether the fast path accepted.
    fn agrees_with_openssl(der_bytes: &[u8], what: &dyn Fn() -> String) -> bool {
        let Some(fast) = check(der_bytes) else {
            return false;
        };
        let req = X509Req::from_der(der_bytes)
            .unwrap_or_else(|e| panic!("{}: fast path accepted, OpenSSL: {e}", what()));
        let key = req
            .public_key()
            .unwrap_or_else(|e| panic!("{}: fast path accepted, OpenSSL's key: {e}", what()));
        assert!(
            req.verify(&key).unwrap_or(false),
            "{}: fast path accepted, OpenSSL's verify fails",
            what()
        );
        assert_eq!(
            fast.subject.to_der().unwrap(),
            req.subject_name().to_der().unwrap(),
            "{}: subject",
            what()
        );
        let spki = key.public_key_to_der().unwrap();
        assert_eq!(
            fast.public_key.public_key_to_der().unwrap(),
            spki,
            "{}: public key",
            what()
        );
        assert_eq!(
            fast.spki_bits.as_deref(),
            der::spki_key_bits(&spki),
            "{}: key identifier bits",
            what()
        );
        assert!(agree(der_bytes, &what()));
        true
    }

    /// What `ParsedCsr::from_der` accepts on either path OpenSSL accepts the same way, and its
    /// subject is DER (it goes into the certificate as it is).
    fn parsed_agrees_with_openssl(der_bytes: &[u8], what: &dyn Fn() -> String) -> bool {
        let Ok(parsed) = ParsedCsr::from_der(der_bytes) else {
            return false;
        };
        let req = X509Req::from_der(der_bytes)
            .unwrap_or_else(|e| panic!("{}: accepted, OpenSSL: {e}", what()));
        let key = req.public_key().unwrap();
        assert!(req.verify(&key).unwrap_or(false), "{}: verify", what());
        let subject = req.subject_name().to_der().unwrap();
        assert_eq!(parsed.subject().to_der().unwrap(), subject, "{}", what());
        assert!(der::is_der_framed(&subject), "{}: subject not DER", what());
        assert_eq!(
            parsed.public_key().public_key_to_der().unwrap(),
            key.public_key_to_der().unwrap(),
            "{}: key",
            what()
        );
        true
    }

    /// A key of the differential corpus, with the digests it signs with.
    struct Signer {
        name: &'static str,
        key: PKey<Private>,
        digests: [MessageDigest; 3],
    }

    /// The keys, made once for all the tests (RSA 4096 takes a while).
    fn signers() -> &'static [Signer] {
        static KEYS: OnceLock<Vec<Signer>> = OnceLock::new();
        KEYS.get_or_init(|| {
            let (sha256, sha384, sha512) = (
                MessageDigest::sha256(),
                MessageDigest::sha384(),
                MessageDigest::sha512(),
            );
            [
                ("rsa2048", KeyAlgorithm::Rsa2048, [sha256, sha384, sha512]),
                ("rsa3072", KeyAlgorithm::Rsa3072, [sha384, sha256, sha512]),
                ("rsa4096", KeyAlgorithm::Rsa4096, [sha512, sha256, sha384]),
                ("p256", KeyAlgorithm::EcdsaP256, [sha256, sha384, sha512]),
                ("p384", KeyAlgorithm::EcdsaP384, [sha384, sha256, sha512]),
            ]
            .into_iter()
            .map(|(name, alg, digests)| Signer {
                name,
                key: alg.generate().unwrap(),
                digests,
            })
            .collect()
        })
    }

    fn signer(name: &str) -> &'static Signer {
        signers().iter().find(|s| s.name == name).unwrap()
    }

    /// The `signatureAlgorithm` for `key` and `digest`, as OpenSSL writes it.
    fn sig_alg(key: &PKey<Private>, digest: MessageDigest) -> Vec<u8> {
        let rsa = key.id() == openssl::pkey::Id::RSA;
        let oid = match (rsa, digest.type_().as_raw()) {
            (true, n) if n == Nid::SHA256.as_raw() => "1.2.840.113549.1.1.11",
            (true, n) if n == Nid::SHA384.as_raw() => "1.2.840.113549.1.1.12",
            (true, _) => "1.2.840.113549.1.1.13",
            (false, n) if n == Nid::SHA256.as_raw() => "1.2.840.10045.4.3.2",
            (false, n) if n == Nid::SHA384.as_raw() => "1.2.840.10045.4.3.3",
            (false, _) => "1.2.840.10045.4.3.4",
        };
        let mut content = der::tlv(der::TAG_OID, &der::oid_from_string(oid).unwrap());
        if rsa {
            content.extend([TAG_NULL, 0]);
        }
        der::tlv(der::TAG_SEQUENCE, &content)
    }

    /// A request around `info` (any bytes), signed over them with `key`.
    fn signed(info: &[u8], key: &PKey<Private>, digest: MessageDigest) -> Vec<u8> {
        let sig = openssl::sign::Signer::new(digest, key)
            .unwrap()
            .sign_oneshot_to_vec(info)
            .unwrap();
        let bits = der::tlv(der::TAG_BIT_STRING, &[&[0u8][..], &sig].concat());
        let content = [info, &sig_alg(key, digest), &bits].concat();
        der::tlv(der::TAG_SEQUENCE, &content)
    }

    /// The raw CertificationRequestInfo of a request.
    fn info_of(csr: &[u8]) -> Vec<u8> {
        let top = der::read_single(csr).unwrap();
        raw_children(top.content).unwrap()[0].1.to_vec()
    }

    /// Requests made with the `openssl` crate: each key and digest, a plain subject or a fuller
    /// one or none, with and without extensions.
    fn openssl_csrs() -> Vec<(String, Vec<u8>)> {
        let mut out = Vec::new();
        for s in signers() {
            for (i, digest) in s.digests.iter().enumerate() {
                let mut b = X509Req::builder().unwrap();
                let mut name = X509NameBuilder::new().unwrap();
                if i != 2 {
                    name.append_entry_by_nid(Nid::COMMONNAME, "diff.example.com")
                        .unwrap();
                }
                if i == 1 {
                    name.append_entry_by_nid(Nid::COUNTRYNAME, "GB").unwrap();
                    name.append_entry_by_nid(Nid::ORGANIZATIONNAME, "Example Org")
                        .unwrap();
                }
                b.set_subject_name(&name.build()).unwrap();
                b.set_pubkey(&s.key).unwrap();
                if i != 0 {
                    let ctx = b.x509v3_context(None);
                    let san = SubjectAlternativeName::new()
                        .dns("diff.example.com")
                        .dns("*.diff.example.com")
                        .ip("10.1.2.3")
                        .ip("2001:db8::7")
                        .build(&ctx)
                        .unwrap();
                    let mut exts = openssl::stack::Stack::<X509Extension>::new().unwrap();
                    exts.push(san).unwrap();
                    exts.push(
                        KeyUsage::new()
                            .critical()
                            .digital_signature()
                            .build()
                            .unwrap(),
                    )
                    .unwrap();
                    exts.push(ExtendedKeyUsage::new().server_auth().build().unwrap())
                        .unwrap();
                    exts.push(BasicConstraints::new().critical().build().unwrap())
                        .unwrap();
                    b.add_extensions(&exts).unwrap();
                }
                b.sign(&s.key, *digest).unwrap();
                let what = format!("openssl {} #{i}", s.name);
                out.push((what, b.build().to_der().unwrap()));
            }
        }
        out
    }

    /// Requests made with `rcgen` (with the same keys, so they can be re-signed: P-256, P-384,
    /// RSA 2048 and 3072), with and without SANs.
    fn rcgen_csrs() -> Vec<(String, Vec<u8>)> {
        let mut out = Vec::new();
        let keys = [
            ("p256", &rcgen::PKCS_ECDSA_P256_SHA256),
            ("p384", &rcgen::PKCS_ECDSA_P384_SHA384),
            ("rsa2048", &rcgen::PKCS_RSA_SHA256),
            ("rsa3072", &rcgen::PKCS_RSA_SHA512),
        ];
        for (name, alg) in keys {
            let pem = signer(name).key.private_key_to_pem_pkcs8().unwrap();
            let key =
                rcgen::KeyPair::from_pem_and_sign_algo(std::str::from_utf8(&pem).unwrap(), alg)
                    .unwrap();
            for with_sans in [false, true] {
                let mut params = rcgen::CertificateParams::default();
                params.distinguished_name = rcgen::DistinguishedName::new();
                params
                    .distinguished_name
                    .push(rcgen::DnType::CommonName, "rcgen.example.com");
                params
                    .distinguished_name
                    .push(rcgen::DnType::OrganizationName, "Example Org");
                if with_sans {
                    params.subject_alt_names = vec![
                        rcgen::SanType::DnsName("rcgen.example.com".try_into().unwrap()),
                        rcgen::SanType::IpAddress("192.0.2.1".parse().unwrap()),
                    ];
                }
                let der_bytes = params.serialize_request(&key).unwrap().der().to_vec();
                out.push((format!("rcgen {name} sans={with_sans}"), der_bytes));
            }
        }
        out
    }

    /// The generated request called `what`.
    fn sample(what: &str) -> Vec<u8> {
        openssl_csrs()
            .into_iter()
            .chain(rcgen_csrs())
            .find(|(w, _)| w == what)
            .unwrap_or_else(|| panic!("no sample {what}"))
            .1
    }

    /// Changes of one octet: the three flips and plus/minus one.
    const BYTE_CHANGES: [fn(u8) -> u8; 5] = [
        |b| b ^ 0x01,
        |b| b ^ 0x80,
        |b| b ^ 0xff,
        |b| b.wrapping_add(1),
        |b| b.wrapping_sub(1),
    ];

    /// A DER tree, for structural mutations: a constructed TLV, or a BIT STRING or OCTET STRING
    /// that wraps DER, has children (after `prefix`, a BIT STRING's unused-bits octet).
    #[derive(Clone)]
    struct Node {
        tag: u8,
        length: Length,
        prefix: Vec<u8>,
        kids: Option<Vec<Node>>,
        raw: Vec<u8>,
    }

    #[derive(Clone, Copy, PartialEq)]
    enum Length {
        Minimal,
        /// One length octet more than needed (BER).
        Long,
        /// Indefinite length with end-of-contents octets (BER, constructed only).
        Indefinite,
    }

    impl Node {
        fn parse(tlv: Tlv<'_>) -> Node {
            let nested = |bytes: &[u8]| {
                der::read_all(bytes)
                    .filter(|kids| !kids.is_empty())
                    .map(|kids| kids.into_iter().map(Node::parse).collect())
            };
            let (prefix, kids) = match tlv.tag {
                t if t & 0x20 != 0 => (vec![], nested(tlv.content)),
                der::TAG_BIT_STRING if tlv.content.first() == Some(&0) => {
                    (vec![0], nested(&tlv.content[1..]))
                }
                der::TAG_OCTET_STRING => (vec![], nested(tlv.content)),
                _ => (vec![], None),
            };
            let (prefix, raw) = match kids {
                Some(_) => (prefix, vec![]),
                None => (vec![], tlv.content.to_vec()),
            };
            Node {
                tag: tlv.tag,
                length: Length::Minimal,
                prefix,
                kids,
                raw,
            }
        }

        fn encode(&self) -> Vec<u8> {
            let content = match &self.kids {
                Some(kids) => {
                    let mut c = self.prefix.clone();
                    kids.iter().for_each(|k| c.extend(k.encode()));
                    c
                }
                None => self.raw.clone(),
            };
            match self.length {
                Length::Minimal => der::tlv(self.tag, &content),
                Length::Long => {
                    let minimal = der::tlv(self.tag, &content);
                    let header = minimal.len() - content.len();
                    let n = header - 1 - usize::from(content.len() >= 0x80);
                    let mut out = vec![self.tag, 0x80 | (n as u8 + 1), 0];
                    out.extend(&minimal[header - n..]);
                    out
                }
                Length::Indefinite => {
                    let mut out = vec![self.tag, 0x80];
                    out.extend(content);
                    out.extend([0, 0]);
                    out
                }
            }
        }

        /// Every path to a node (child indexes from the root), the root's included.
        fn paths(&self, here: &mut Vec<usize>, out: &mut Vec<Vec<usize>>) {
            out.push(here.clone());
            for (i, kid) in self.kids.iter().flatten().enumerate() {
                here.push(i);
                kid.paths(here, out);
                here.pop();
            }
        }

        fn at(&mut self, path: &[usize]) -> &mut Node {
            match path {
                [] => self,
                [i, rest @ ..] => self.kids.as_mut().unwrap()[*i].at(rest),
            }
        }
    }

    /// The structural changes of the node at `path` of `tree`, each a new tree.
    fn structural_mutants(tree: &Node, path: &[usize]) -> Vec<(&'static str, Node)> {
        let mut out = Vec::new();
        let mut with = |what: &'static str, change: &dyn Fn(&mut Node)| {
            let mut t = tree.clone();
            change(t.at(path));
            out.push((what, t));
        };
        let node = tree.clone().at(path).clone();
        with("long length", &|n| n.length = Length::Long);
        if node.tag & 0x20 != 0 {
            with("indefinite length", &|n| n.length = Length::Indefinite);
        }
        with("constructed bit flipped", &|n| n.tag ^= 0x20);
        with("tag + 1", &|n| n.tag = n.tag.wrapping_add(1));
        match node.kids {
            Some(_) => {
                with("NULL appended", &|n| {
                    n.kids.as_mut().unwrap().push(Node::parse(Tlv {
                        tag: TAG_NULL,
                        content: &[],
                    }))
                });
                with("first child removed", &|n| {
                    n.kids.as_mut().unwrap().remove(0);
                });
                with("first child doubled", &|n| {
                    let first = n.kids.as_ref().unwrap()[0].clone();
                    n.kids.as_mut().unwrap().insert(0, first);
                });
                with("children reversed", &|n| n.kids.as_mut().unwrap().reverse());
                if !node.prefix.is_empty() {
                    with("unused bits 1", &|n| n.prefix = vec![1]);
                }
            }
            None => {
                with("0x00 appended", &|n| n.raw.push(0));
                with("0x00 prepended", &|n| n.raw.insert(0, 0));
                with("0xff prepended", &|n| n.raw.insert(0, 0xff));
                with("emptied", &|n| n.raw.clear());
            }
        }
        out
    }

    /// A mutated request tree as bytes: re-signed with the sample's key when the change is inside
    /// the request info (so the fast path gets past the signature), as it is otherwise.
    fn mutant_bytes(tree: &Node, path: &[usize], s: &Signer, digest: MessageDigest) -> Vec<u8> {
        let kids = tree.kids.as_deref().unwrap_or_default();
        if path.first() != Some(&0) || kids.len() != 3 || kids[2].tag != der::TAG_BIT_STRING {
            return tree.encode();
        }
        signed(&kids[0].encode(), &s.key, digest)
    }

    /// Every generated request (openssl and rcgen, each key size and curve, with and without
    /// extensions) takes the fast path and agrees with OpenSSL.
    #[test]
    fn differential_generated_requests_agree_with_openssl() {
        let all: Vec<_> = openssl_csrs().into_iter().chain(rcgen_csrs()).collect();
        assert!(all.len() >= 20);
        for (what, der_bytes) in &all {
            assert!(
                agrees_with_openssl(der_bytes, &|| what.clone()),
                "{what}: not on the fast path"
            );
            assert!(parsed_agrees_with_openssl(der_bytes, &|| what.clone()));
        }
    }

    /// Byte changes, truncations and appended octets of a few requests, as they are (the
    /// signature then covers the change or not) and, for changes inside the request info,
    /// re-signed with the request's key (so only the parsing decides): whenever the fast path
    /// accepts, OpenSSL reads the same thing.
    #[test]
    fn differential_byte_mutants_agree_with_openssl() {
        let (mut tried, mut fast, mut parsed) = (0usize, 0usize, 0usize);
        let mut run = |bytes: &[u8], what: &dyn Fn() -> String| {
            tried += 1;
            fast += usize::from(agrees_with_openssl(bytes, what));
            parsed += usize::from(parsed_agrees_with_openssl(bytes, what));
        };
        for (key, what) in [
            ("p256", "openssl p256 #1"),
            ("rsa2048", "openssl rsa2048 #1"),
            ("p384", "rcgen p384 sans=true"),
        ] {
            let (s, csr) = (signer(key), sample(what));
            let digest = s.digests[1];
            assert!(check(&csr).is_some(), "{what}");
            // As they are.
            for pos in 0..csr.len() {
                for (c, change) in BYTE_CHANGES.iter().enumerate() {
                    let mut m = csr.clone();
                    m[pos] = change(m[pos]);
                    run(&m, &|| format!("{what}: byte {pos} change {c}"));
                }
            }
            for len in 0..csr.len() {
                run(&csr[..len], &|| format!("{what}: first {len} bytes"));
            }
            for extra in [0x00u8, 0x01, 0x80, 0xff] {
                run(&[&csr[..], &[extra]].concat(), &|| {
                    format!("{what}: {extra:#x} appended")
                });
            }
            // Inside the request info, re-signed.
            let info = info_of(&csr);
            assert!(check(&signed(&info, &s.key, digest)).is_some(), "{what}");
            for pos in 0..info.len() {
                for (c, change) in BYTE_CHANGES.iter().enumerate().step_by(2) {
                    let mut m = info.clone();
                    m[pos] = change(m[pos]);
                    run(&signed(&m, &s.key, digest), &|| {
                        format!("{what}: info byte {pos} change {c}, re-signed")
                    });
                }
            }
        }
        eprintln!("byte mutants: {tried}, fast path accepted {fast}, from_der accepted {parsed}");
        assert!(fast > 0 && tried > 10_000);
    }

    /// Structural changes (BER lengths, indefinite lengths, constructed strings, elements removed,
    /// doubled, added or reordered, integers padded or made negative, tags changed) of every
    /// element of a few requests, re-signed when inside the request info: whenever the fast path
    /// accepts, OpenSSL reads the same thing; and the fast path never accepts BER (but inside
    /// extension values).
    #[test]
    fn differential_structural_mutants_agree_with_openssl() {
        let (mut tried, mut fast, mut parsed) = (0usize, 0usize, 0usize);
        for (key, what) in [
            ("p256", "openssl p256 #1"),
            ("rsa2048", "openssl rsa2048 #1"),
            ("rsa3072", "rcgen rsa3072 sans=true"),
            ("p384", "rcgen p384 sans=true"),
        ] {
            let (s, csr) = (signer(key), sample(what));
            let tree = Node::parse(der::read_single(&csr).unwrap());
            assert_eq!(tree.encode(), csr);
            let mut paths = Vec::new();
            tree.paths(&mut vec![], &mut paths);
            for path in &paths {
                for (change, mutant) in structural_mutants(&tree, path) {
                    let bytes = mutant_bytes(&mutant, path, s, s.digests[0]);
                    let what = || format!("{what}: {change} at {path:?}");
                    tried += 1;
                    let accepted = agrees_with_openssl(&bytes, &what);
                    // (An extension value is an OCTET STRING: what it wraps is read by
                    // `read_extensions` on both paths, leniently, and never copied.)
                    let in_octet_string = (0..path.len())
                        .any(|i| tree.clone().at(&path[..i]).tag == der::TAG_OCTET_STRING);
                    let ber = matches!(change, "long length" | "indefinite length");
                    if accepted && ber && !in_octet_string {
                        panic!("{}: BER on the fast path", what());
                    }
                    fast += usize::from(accepted);
                    parsed += usize::from(parsed_agrees_with_openssl(&bytes, &what));
                }
            }
        }
        eprintln!("structural mutants: {tried}, fast path accepted {fast}, from_der {parsed}");
        assert!(tried > 500);
    }

    /// The subject as it is encoded goes into the certificate, so BER there (which OpenSSL
    /// reads) is refused on both paths; BER elsewhere leaves the fast path only.
    #[test]
    fn ber_never_takes_the_fast_path_and_a_ber_subject_is_refused() {
        let s = signer("p256");
        let digest = MessageDigest::sha256();
        let spki = s.key.public_key_to_der().unwrap();
        let oid = |o: &str| der::tlv(der::TAG_OID, &der::oid_from_string(o).unwrap());
        let ava = |o: &str, v: Vec<u8>| der::tlv(der::TAG_SEQUENCE, &[oid(o), v].concat());
        let cn = der::tlv(0x0c, b"ber.example.com");
        let name = |rdns: Vec<u8>| der::tlv(der::TAG_SEQUENCE, &rdns);
        let info = |version: &[u8], subject: Vec<u8>| {
            der::tlv(der::TAG_SEQUENCE, &[version, &subject, &spki].concat())
        };
        let v0 = [TAG_INTEGER, 1, 0];
        let plain = name(der::tlv(der::TAG_SET, &ava("2.5.4.3", cn.clone())));
        let ok = signed(&info(&v0, plain.clone()), &s.key, digest);
        assert!(check(&ok).is_some());
        assert!(ParsedCsr::from_der(&ok).is_ok());

        // BER outside the subject: the full path decides (OpenSSL reads it; so do we).
        let long_version = signed(&info(&[TAG_INTEGER, 0x81, 1, 0], plain), &s.key, digest);
        assert!(check(&long_version).is_none());
        assert!(ParsedCsr::from_der(&long_version).is_ok());

        // BER inside the subject: refused.
        let mut long_cn = vec![0x0c, 0x81, 15];
        long_cn.extend(b"ber.example.com");
        let constructed = der::tlv(
            0x2c,
            &[der::tlv(0x0c, b"ber.exa"), der::tlv(0x0c, b"mple.com")].concat(),
        );
        let mut indefinite_set = vec![der::TAG_SET, 0x80];
        indefinite_set.extend(ava("2.5.4.3", cn.clone()));
        indefinite_set.extend([0, 0]);
        let unsorted = der::tlv(
            der::TAG_SET,
            &[
                ava("2.5.4.3", cn.clone()),
                ava("2.5.4.10", der::tlv(0x0c, b"Org")),
            ]
            .concat(),
        );
        for (what, subject) in [
            (
                "long length",
                name(der::tlv(der::TAG_SET, &ava("2.5.4.3", long_cn))),
            ),
            (
                "constructed string",
                name(der::tlv(der::TAG_SET, &ava("2.5.4.3", constructed))),
            ),
            ("indefinite length", name(indefinite_set)),
            ("unsorted multi-valued RDN", name(unsorted)),
        ] {
            let csr = signed(&info(&v0, subject), &s.key, digest);
            assert!(check(&csr).is_none(), "{what}");
            assert!(
                X509Req::from_der(&csr).is_ok_and(|r| r.verify(&r.public_key().unwrap()).unwrap()),
                "{what}: OpenSSL reads it"
            );
            assert!(
                matches!(ParsedCsr::from_der(&csr), Err(CsrError::BadSubject(_))),
                "{what}: {:?}",
                ParsedCsr::from_der(&csr).err()
            );
        }
    }

    /// An RSA key with e = 1 "verifies" a signature that is just the padded digest (no private
    /// key needed); an even e is no RSA key. Neither is certified; e = 3 is.
    #[test]
    fn rsa_exponents_one_and_even_are_refused() {
        let subject = {
            let mut n = X509NameBuilder::new().unwrap();
            n.append_entry_by_nid(Nid::COMMONNAME, "e.example.com")
                .unwrap();
            n.build().to_der().unwrap()
        };
        let rsa = signer("rsa2048").key.rsa().unwrap();
        for e in [1u32, 2, 65536] {
            let public = Rsa::from_public_components(
                rsa.n().to_owned().unwrap(),
                BigNum::from_u32(e).unwrap(),
            )
            .unwrap();
            let spki = PKey::from_rsa(public).unwrap().public_key_to_der().unwrap();
            let info = der::tlv(
                der::TAG_SEQUENCE,
                &[&[TAG_INTEGER, 1, 0][..], &subject, &spki].concat(),
            );
            // The PKCS#1 v1.5 encoding of the digest: with e = 1 it is its own signature.
            let digest = hash(MessageDigest::sha256(), &info).unwrap();
            let mut em = vec![0u8, 1];
            em.resize(256 - 19 - 32 - 1, 0xff);
            em.push(0);
            em.extend([
                0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                0x01, 0x05, 0x00, 0x04, 0x20,
            ]);
            em.extend_from_slice(&digest);
            let alg = sig_alg(&signer("rsa2048").key, MessageDigest::sha256());
            let bits = der::tlv(der::TAG_BIT_STRING, &[&[0u8][..], &em].concat());
            let csr = der::tlv(der::TAG_SEQUENCE, &[info, alg, bits].concat());
            if e == 1 {
                let req = X509Req::from_der(&csr).unwrap();
                assert!(
                    req.verify(&req.public_key().unwrap()).unwrap(),
                    "OpenSSL accepts it"
                );
            }
            assert!(check(&csr).is_none(), "e = {e}");
            assert!(
                matches!(ParsedCsr::from_der(&csr), Err(CsrError::UnsupportedKey(_))),
                "e = {e}: {:?}",
                ParsedCsr::from_der(&csr).err()
            );
        }
        let e3 = PKey::from_rsa(Rsa::generate_with_e(2048, &BigNum::from_u32(3).unwrap()).unwrap())
            .unwrap();
        let csr = csr_with(&e3, MessageDigest::sha256(), false);
        assert!(agrees_with_openssl(&csr, &|| "e = 3".into()));
    }
}
