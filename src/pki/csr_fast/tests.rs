//! The fast path against OpenSSL: generated requests, byte and structural mutants, and the
//! encodings it must leave to the full path.
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

mod mutants;
use mutants::*;

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
        let public =
            Rsa::from_public_components(rsa.n().to_owned().unwrap(), BigNum::from_u32(e).unwrap())
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
    let e3 =
        PKey::from_rsa(Rsa::generate_with_e(2048, &BigNum::from_u32(3).unwrap()).unwrap()).unwrap();
    let csr = csr_with(&e3, MessageDigest::sha256(), false);
    assert!(agrees_with_openssl(&csr, &|| "e = 3".into()));
}
