//! The fuzz targets: one function per parser of remote or operator data, taking raw bytes.
//!
//! Each function must not panic on any input; where it is cheap it also asserts a property
//! (a value that parses re-serialises and parses equal, limits hold, ...), so a broken property
//! is a crash too. The same functions run under AFL (`fuzz/src/bin/<target>.rs`) and in the plain
//! replay of the corpus (`tests/fuzz_replay.rs` in the main crate, `#[path]`-included), so a
//! crash saved into `fuzz/corpus/<target>/` fails `cargo test` for good.
//!
//! Input encodings (chosen so seeds stay readable and AFL's byte mutations stay meaningful):
//! - a databag value, PEM or JSON text: the bytes as (lossy) UTF-8;
//! - several fields: separated by the byte `0x1e` (ASCII record separator);
//! - several units (legacy): separated by `0x1d` (group separator), each `name 0x1e key 0x1e
//!   value 0x1e key 0x1e value ...`;
//! - CSRs and certificates: PEM text, or raw DER when the input has no `-----BEGIN`.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::x509::{X509Req, X509};
use serde_json::{Map, Value};

use tls_provider::charm::actions::params::{decode_pem_param, relation_id_param, string_param};
use tls_provider::charm::config::Config;
use tls_provider::pki::{self, chain, Ca, KeyAlgorithm, ParsedCsr, Policy};
use tls_provider::protocol::{legacy, modern, Bag};

/// Field separator inside one input.
pub const FIELD_SEP: char = '\u{1e}';
/// Unit separator (legacy relation target).
pub const UNIT_SEP: char = '\u{1d}';

/// A signature of a target: raw bytes in, panics on a bug.
pub type Target = fn(&[u8]);

/// Every target by name (the name is the binary in `fuzz/src/bin/` and the corpus folder).
pub const TARGETS: &[(&str, Target)] = &[
    ("modern_requirer", modern_requirer),
    ("provider_app_data", provider_app_data),
    ("legacy_relation", legacy_relation),
    ("csr", csr),
    ("csr_fast_differential", csr_fast_differential),
    ("certs", certs),
    ("action_params", action_params),
    ("config", config),
    ("upstream_answer", upstream_answer),
];

/// A fixed "now" so runs are deterministic (2027-01-15).
fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_800_000_000)
}

fn text(data: &[u8]) -> Cow<'_, str> {
    String::from_utf8_lossy(data)
}

/// Messages built from untrusted text must not panic either (slicing at char boundaries...).
fn render<T: std::fmt::Display>(v: &T) {
    let _ = v.to_string();
}

fn policies() -> [Policy; 2] {
    [
        Policy::default(),
        Policy {
            allowed_domains: vec!["example.com".into(), "internal".into()],
            allow_ip_sans: false,
            allow_wildcard_dns: false,
            allow_ca_requests: true,
            application_domains: [(
                "app".to_string(),
                vec!["app.example.com".to_string(), "*.svc.internal".to_string()],
            )]
            .into(),
        },
    ]
}

// ---------------------------------------------------------------------------------------------
// Modern protocol

/// `certificate_signing_requests` of a requirer databag (unit or app): the input is the value.
pub fn modern_requirer(data: &[u8]) {
    let value = text(data).into_owned();
    let bag: Bag = BTreeMap::from([(modern::CSRS_KEY.to_string(), value)]);
    let parsed = match modern::parse_requirer_databag(&bag) {
        Ok(p) => p,
        Err(e) => {
            render(&e);
            return;
        }
    };
    let total = parsed.requests.len() + parsed.refused.len();
    assert!(total <= modern::MAX_REQUIRER_ENTRIES);
    let mut seen = BTreeSet::new();
    for r in &parsed.refused {
        assert!(r.index < total.max(1), "refusal index out of range");
        assert!(seen.insert(r.index), "entry refused twice");
        // Quoted text is cut to MAX_QUOTED_CHARS characters, then Debug-escaped (at most
        // `\u{10ffff}`, 10 characters, per character).
        assert!(
            r.reason.chars().count() < modern::MAX_QUOTED_CHARS * 10 + 100,
            "unbounded refusal message"
        );
    }
    for r in &parsed.requests {
        assert!(!r.certificate_signing_request.trim().is_empty());
    }
    // What parsed re-serialises (as the requirer library writes it) and parses equal.
    let again: Vec<Value> = parsed
        .requests
        .iter()
        .map(|r| serde_json::json!({"certificate_signing_request": r.certificate_signing_request, "ca": r.ca}))
        .collect();
    let text = serde_json::to_string(&again).expect("serialises");
    let bag2: Bag = BTreeMap::from([(modern::CSRS_KEY.to_string(), text)]);
    if let Ok(reparsed) = modern::parse_requirer_databag(&bag2) {
        assert_eq!(
            reparsed.requests, parsed.requests,
            "requests changed on round trip"
        );
        assert!(reparsed.refused.is_empty(), "round trip refused entries");
    } else if !parsed.requests.is_empty() {
        // Only the size limit may refuse the re-serialised value (escaping grows it).
        assert!(matches!(
            modern::parse_requirer_databag(&bag2),
            Err(modern::DatabagError::TooLarge(_))
        ));
    }
}

/// Our own application databag read back (`ProviderAppData::from_databag`): fields
/// `certificates`, `request_errors`, `capabilities`, separated by `0x1e` (a missing field is an
/// absent key).
pub fn provider_app_data(data: &[u8]) {
    let text = text(data);
    let mut bag = Bag::new();
    for (key, value) in modern::PROVIDER_KEYS.iter().zip(text.split(FIELD_SEP)) {
        bag.insert(key.to_string(), value.to_string());
    }
    let (parsed, notes) = modern::ProviderAppData::from_databag(&bag);
    for n in &notes.notes {
        assert!(!n.is_empty());
    }
    // Whatever was kept is written back and reads back equal, with no notes, and writing it
    // again changes nothing.
    let values = parsed.to_values();
    let (again, notes2) = modern::ProviderAppData::from_databag(&values);
    assert!(
        notes2.notes.is_empty(),
        "our own output has notes: {notes2:?}"
    );
    assert_eq!(again, parsed, "provider data changed on round trip");
    assert_eq!(again.to_values(), values);
    assert!(parsed.changes_from(&values).is_empty());
    let mut sorted = parsed.clone();
    sorted.sort();
    let _ = sorted.changes_from(&bag);
    for c in &parsed.certificates {
        let _ = c.looks_publishable();
    }
}

// ---------------------------------------------------------------------------------------------
// Legacy protocol

/// The remote units of a legacy relation: units separated by `0x1d`, each `name 0x1e key 0x1e
/// value ...`.
pub fn legacy_relation(data: &[u8]) {
    let text = text(data);
    let units: Vec<(String, Bag)> = text
        .split(UNIT_SEP)
        .enumerate()
        .map(|(i, unit)| {
            let mut fields = unit.split(FIELD_SEP);
            // Remote unit names come from Juju (`app/N`), never empty; the bags are untrusted.
            let name = match fields.next().unwrap_or_default() {
                "" => format!("unit/{i}"),
                name => name.to_string(),
            };
            let mut bag = Bag::new();
            while let Some(k) = fields.next() {
                bag.insert(k.to_string(), fields.next().unwrap_or_default().to_string());
            }
            (name, bag)
        })
        .collect();
    let _ = legacy::is_legacy(units.iter().map(|(_, b)| b));
    let parsed = legacy::parse_relation(&units);
    assert_eq!(parsed.len(), units.len());
    let mut keys = BTreeSet::new();
    let policies = policies();
    for u in &parsed {
        for s in &u.skipped {
            render(s);
            let message = s.to_string();
            assert!(
                message.chars().count() < 2000,
                "unbounded skip message: {}",
                message.chars().take(400).collect::<String>()
            );
        }
        if !u.requests.is_empty() {
            assert!(
                keys.insert(u.unit_key.clone()),
                "two units answered under {:?}",
                u.unit_key
            );
        }
        let mut per_kind: BTreeMap<legacy::RequestKind, usize> = BTreeMap::new();
        for r in &u.requests {
            *per_kind.entry(r.kind).or_default() += 1;
            assert!(!r.common_name.trim().is_empty());
            assert!(r.common_name.chars().count() <= legacy::MAX_CN_LEN);
            assert!(!r.common_name.chars().any(char::is_control));
            assert!(r.sans.len() <= legacy::MAX_SANS);
            assert!(
                r.sans.windows(2).all(|w| w[0] < w[1]),
                "sans not sorted/unique"
            );
            for san in &r.sans {
                assert!(!san.is_empty() && san.len() <= legacy::MAX_NAME_LEN);
                assert!(san.bytes().all(|b| b.is_ascii_graphic()));
            }
            for p in &policies {
                if let Err(d) = p.check_names_app("app", &r.common_name, &r.sans, r.kind.is_ca()) {
                    render(&d.message);
                }
            }
        }
        assert!(per_kind.values().all(|n| *n <= legacy::MAX_REQUESTS));
        // The provider keys built from the unit key are keys we recognise as ours.
        if !u.requests.is_empty() {
            assert!(legacy::is_provider_key(&legacy::server_cert_key(
                &u.unit_key
            )));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// PKI

fn pem(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

fn is_pem(data: &[u8]) -> bool {
    data.windows(11).any(|w| w == b"-----BEGIN ")
}

/// The fixed key that re-signs mutated CSRs, so the checks after the signature are reached.
fn resign_key() -> PKey<openssl::pkey::Private> {
    PKey::private_key_from_pem(include_bytes!("../../tests/fixtures/csr/ec_p256_ip.key"))
        .expect("fixture key")
}

/// A certificate signing request from a requirer (modern) or an operator (`provide-certificate`):
/// PEM text, or DER. DER is parsed as it is and, re-signed with a fixed key, again (a mutated
/// CSR almost never keeps a valid signature, and the subject and extension checks come after
/// it).
pub fn csr(data: &[u8]) {
    if is_pem(data) {
        check_csr(ParsedCsr::parse(&text(data)));
        return;
    }
    let direct = ParsedCsr::from_der(data);
    // PEM-wrapped DER parses the same way.
    let via_pem = ParsedCsr::parse(&pem("CERTIFICATE REQUEST", data));
    assert_eq!(
        direct
            .as_ref()
            .map(|c| c.der.clone())
            .map_err(|e| e.to_string()),
        via_pem
            .as_ref()
            .map(|c| c.der.clone())
            .map_err(|e| e.to_string()),
        "DER and PEM parse differently"
    );
    check_csr(direct);
    let Ok(req) = X509Req::from_der(data) else {
        return;
    };
    // Rebuild the request with the same subject and extensions under a fixed key (subject and
    // extensions are what the checks after the signature read).
    let key = resign_key();
    let Ok(mut b) = X509Req::builder() else {
        return;
    };
    let _ = b.set_version(req.version());
    let _ = b.set_subject_name(req.subject_name());
    let _ = b.set_pubkey(&key);
    if let Ok(exts) = req.extensions() {
        let _ = b.add_extensions(&exts);
    }
    if b.sign(&key, MessageDigest::sha256()).is_err() {
        return;
    }
    let req = b.build();
    if let Ok(der) = req.to_der() {
        check_csr(ParsedCsr::from_der(&der));
    }
}

fn check_csr(parsed: Result<ParsedCsr, pki::CsrError>) {
    let parsed = match parsed {
        Ok(p) => p,
        Err(e) => {
            render(&e);
            return;
        }
    };
    assert!(parsed.common_name.is_some() || !parsed.sans.is_empty());
    // The canonical PEM is the same request.
    let canonical = parsed.canonical_pem();
    let again = ParsedCsr::parse(&canonical).expect("canonical PEM of a parsed CSR parses");
    assert_eq!(again.der, parsed.der);
    assert_eq!(again.common_name, parsed.common_name);
    assert_eq!(again.sans, parsed.sans);
    assert_eq!(again.key_algorithm, parsed.key_algorithm);
    assert_eq!(again.key_bits, parsed.key_bits);
    let _ = parsed.san_strings();
    let _ = parsed.common_names();
    let _ = format!("{parsed:?}");
    for p in &policies() {
        for is_ca in [false, true] {
            if let Err(d) = p.check_app("app", &parsed, is_ca) {
                render(&d.message);
            }
        }
    }
}

/// The fixed keys that re-sign requests for `csr_fast_differential` (the fixtures' P-256 and
/// RSA 2048 keys, whose requests are the seeds), and the first 32 octets of the RSA modulus
/// (to tell a request for that key), made once.
fn differential_keys() -> &'static (PKey<Private>, PKey<Private>, Vec<u8>) {
    static KEYS: OnceLock<(PKey<Private>, PKey<Private>, Vec<u8>)> = OnceLock::new();
    KEYS.get_or_init(|| {
        let rsa = include_bytes!("../../tests/fixtures/csr/rsa2048_full.key");
        let rsa = PKey::private_key_from_pem(rsa).expect("fixture key");
        let modulus = rsa.rsa().expect("RSA key").n().to_vec()[..32].to_vec();
        (resign_key(), rsa, modulus)
    })
}

/// The DER TLVs that make up `data` (raw, header included); `None` unless they cover it.
fn der_elements(mut data: &[u8]) -> Option<Vec<&[u8]>> {
    let mut out = Vec::new();
    while !data.is_empty() {
        let n = tlv_len(data).filter(|&n| n <= data.len())?;
        out.push(&data[..n]);
        data = &data[n..];
    }
    Some(out)
}

/// The contents of one DER TLV (`raw`, from [`der_elements`]).
fn der_content(raw: &[u8]) -> &[u8] {
    let header = match raw[1] {
        l if l < 0x80 => 2,
        l => 2 + (l & 0x7f) as usize,
    };
    &raw[header..]
}

/// The digest a signatureAlgorithm (raw TLV) names, for RSA (`true`) or ECDSA keys, if it names
/// SHA-256/384/512.
fn sig_alg_digest(alg: &[u8]) -> Option<(bool, MessageDigest)> {
    const RSA: &[u8] = b"\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x01";
    const ECDSA: &[u8] = b"\x06\x08\x2a\x86\x48\xce\x3d\x04\x03";
    let find = |prefix: &[u8]| {
        alg.windows(prefix.len() + 1)
            .find(|w| w.starts_with(prefix))
            .map(|w| w[prefix.len()])
    };
    let digest = |n: u8, base: u8| match n.wrapping_sub(base) {
        0 => Some(MessageDigest::sha256()),
        1 => Some(MessageDigest::sha384()),
        2 => Some(MessageDigest::sha512()),
        _ => None,
    };
    if let Some(d) = find(RSA).and_then(|n| digest(n, 0x0b)) {
        return Some((true, d));
    }
    find(ECDSA).and_then(|n| digest(n, 2)).map(|d| (false, d))
}

/// `data` (a request, its signature usually broken by the mutation) re-signed with `key`: the
/// same request info, the same signatureAlgorithm when it names a digest (else the usual one
/// for the key), a fresh signature, then whatever followed it.
fn resigned(data: &[u8], key: &PKey<Private>) -> Option<Vec<u8>> {
    let [top] = der_elements(data)?[..] else {
        return None;
    };
    let parts = der_elements(der_content(top))?;
    let info = *parts.first()?;
    let is_rsa = key.id() == openssl::pkey::Id::RSA;
    let given = parts.get(1).filter(|alg| sig_alg_digest(alg).is_some());
    let (alg, digest) = match given {
        Some(alg) => (alg.to_vec(), sig_alg_digest(alg)?.1),
        None if is_rsa => (
            b"\x30\x0d\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x01\x0b\x05\x00".to_vec(),
            MessageDigest::sha256(),
        ),
        None => (
            b"\x30\x0a\x06\x08\x2a\x86\x48\xce\x3d\x04\x03\x02".to_vec(),
            MessageDigest::sha256(),
        ),
    };
    let mut signer = openssl::sign::Signer::new(digest, key).ok()?;
    let sig = signer.sign_oneshot_to_vec(info).ok()?;
    let mut content = [info, &alg].concat();
    content.extend(der_tlv(0x03, &[&[0u8][..], &sig].concat()));
    parts.iter().skip(3).for_each(|p| content.extend(*p));
    Some(der_tlv(0x30, &content))
}

/// A DER TLV with a minimal length.
fn der_tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let n = content.len();
    let mut out = vec![tag];
    match n {
        0..=0x7f => out.push(n as u8),
        0x80..=0xff => out.extend([0x81, n as u8]),
        _ => out.extend([0x82, (n >> 8) as u8, n as u8]),
    }
    out.extend(content);
    out
}

/// The subjectPublicKey bits of a DER SubjectPublicKeyInfo (after the unused-bits octet).
fn spki_key_bits(spki: &[u8]) -> Option<&[u8]> {
    let [top] = der_elements(spki)?[..] else {
        return None;
    };
    let [_, bits] = der_elements(der_content(top))?[..] else {
        return None;
    };
    der_content(bits).get(1..)
}

/// What OpenSSL's own request parser reads from `der`, having verified it: the subject's DER and
/// the key's SubjectPublicKeyInfo DER. Panics (with `what`) when OpenSSL refuses it.
fn openssl_reading(der: &[u8], what: &str) -> (Vec<u8>, Vec<u8>) {
    let req = X509Req::from_der(der).unwrap_or_else(|e| panic!("{what}, OpenSSL: {e}"));
    let key = req
        .public_key()
        .unwrap_or_else(|e| panic!("{what}, OpenSSL's key: {e}"));
    assert!(
        req.verify(&key).unwrap_or(false),
        "{what}, OpenSSL's verify fails"
    );
    let subject = req.subject_name().to_der().expect("subject encodes");
    (subject, key.public_key_to_der().expect("key encodes"))
}

/// The fast CSR path (`pki::csr::fast_path_reading`: reading and verifying a request without
/// OpenSSL's `X509_REQ` parser) against OpenSSL: raw DER, tried as it is and re-signed with the
/// fixed keys (P-256 always, RSA 2048 when the input holds that key), so the parsing after the
/// signature is reached. Whatever the fast path accepts, OpenSSL parses and verifies, with the
/// same subject and key, byte for byte, and the key bits kept for the key identifier are those
/// of OpenSSL's encoding of the key; and whatever `ParsedCsr::from_der` accepts (either path),
/// OpenSSL reads the same way too.
pub fn csr_fast_differential(data: &[u8]) {
    if data.len() > pki::MAX_CSR_PEM_BYTES {
        return;
    }
    let (ec, rsa, rsa_modulus) = differential_keys();
    let mut candidates = vec![data.to_vec()];
    candidates.extend(resigned(data, ec));
    if data.windows(32).any(|w| w == &rsa_modulus[..]) {
        candidates.extend(resigned(data, rsa));
    }
    for der in &candidates {
        if let Some(fast) = pki::csr::fast_path_reading(der) {
            let (subject, spki) = openssl_reading(der, "fast path accepted");
            assert_eq!(fast.subject_der, subject, "fast path: another subject");
            assert_eq!(fast.spki_der, spki, "fast path: another key");
            if let Some(bits) = &fast.spki_bits {
                assert_eq!(
                    Some(&bits[..]),
                    spki_key_bits(&spki),
                    "fast path: key identifier bits"
                );
            }
        }
        match ParsedCsr::from_der(der) {
            Ok(parsed) => {
                let (subject, spki) = openssl_reading(der, "from_der accepted");
                assert_eq!(parsed.subject().to_der().expect("subject"), subject);
                let key = parsed.public_key().public_key_to_der().expect("key");
                assert_eq!(key, spki, "from_der: another key");
            }
            Err(e) => render(&e),
        }
    }
}

/// Splits raw bytes into DER TLVs (what the certs target wraps as PEM blocks). Stops at the first
/// bytes that are not a TLV and keeps them as one last block.
fn split_der(mut data: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    while !data.is_empty() && out.len() < 8 {
        let len = match tlv_len(data) {
            Some(n) if n <= data.len() => n,
            _ => {
                out.push(data);
                break;
            }
        };
        out.push(&data[..len]);
        data = &data[len..];
    }
    out
}

/// Total length (header + content) of the TLV at the start of `data`, if its header is sane.
fn tlv_len(data: &[u8]) -> Option<usize> {
    let first = *data.get(1)?;
    if first < 0x80 {
        return Some(2 + first as usize);
    }
    let n = (first & 0x7f) as usize;
    if n == 0 || n > 3 {
        return None;
    }
    let mut len = 0usize;
    for i in 0..n {
        len = (len << 8) | *data.get(2 + i)? as usize;
    }
    Some(2 + n + len)
}

/// Certificates and chains handed in by an operator (`provide-certificate`): PEM text (any
/// number of blocks, text around them), or concatenated DER certificates. Whatever parses goes
/// through the chain checks with the first certificate as leaf and the last as CA.
pub fn certs(data: &[u8]) {
    let input: String = if is_pem(data) {
        text(data).into_owned()
    } else {
        split_der(data)
            .iter()
            .map(|der| pem("CERTIFICATE", der))
            .collect()
    };
    let parsed = match pki::parse_certs(&input) {
        Ok(c) => c,
        Err(e) => {
            render(&e);
            return;
        }
    };
    assert!(!parsed.is_empty());
    for c in &parsed {
        let der = c.to_der().expect("a parsed certificate encodes");
        let one = pki::parse_certs(&pem("CERTIFICATE", &der)).expect("re-encoded certificate");
        assert_eq!(one.len(), 1);
        let info = pki::cert_info(c);
        let _ = (info.subject, info.issuer, info.serial_hex, info.sans);
        let _ = pki::valid_at(c, now());
        let _ = pki::is_ca(c);
    }
    chain_checks(&parsed);
}

fn chain_checks(certs: &[X509]) {
    if let Err(e) = chain::check_order(certs) {
        render(&e);
    }
    let leaf = &certs[0];
    let ca = certs.last().expect("non-empty");
    let given = [None, Some(certs[1..].to_vec()), Some(certs.to_vec())];
    for g in given {
        match chain::assemble(leaf, ca, g) {
            Ok(assembled) => {
                assert!(!assembled.is_empty());
                assert_eq!(
                    assembled[0].to_der().ok(),
                    leaf.to_der().ok(),
                    "chain does not start with the leaf"
                );
                chain::check_order(&assembled).expect("assembled chain is ordered");
                if let Err(e) = chain::check_validity(leaf, ca, &assembled, now()) {
                    render(&e);
                }
            }
            Err(e) => render(&e),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Operator input

/// The `provide-certificate` parameters that carry PEM (plain or base64).
const PEM_PARAMS: [&str; 4] = [
    "certificate-signing-request",
    "certificate",
    "ca-certificate",
    "ca-chain",
];

/// Action parameters as `action-get --format=json` gives them: a JSON object. Input that is not
/// a JSON object is taken as the value of one PEM parameter.
pub fn action_params(data: &[u8]) {
    let text = text(data);
    let params: Map<String, Value> = match serde_json::from_str::<Value>(&text) {
        Ok(Value::Object(m)) => m,
        _ => {
            decode_pem(&text);
            return;
        }
    };
    match relation_id_param(&params) {
        Ok(_) => {}
        Err(e) => render(&e),
    }
    for name in PEM_PARAMS.iter().chain(["unit-name"].iter()) {
        match string_param(&params, name) {
            Ok(Some(s)) => {
                assert!(!s.trim().is_empty());
                if PEM_PARAMS.contains(name) {
                    decode_pem(&s);
                }
            }
            Ok(None) => {}
            Err(e) => render(&e),
        }
    }
}

fn decode_pem(value: &str) {
    match decode_pem_param("certificate", value) {
        Ok(pem) => {
            assert!(
                pem.contains("-----BEGIN "),
                "decoded PEM without a BEGIN line"
            );
            assert!(pem.len() <= pki::MAX_CERTS_PEM_BYTES);
            // What the action does next with it.
            if let Ok(certs) = pki::parse_certs(&pem) {
                chain_checks(&certs);
            }
            check_csr(ParsedCsr::parse(&pem));
        }
        Err(e) => render(&e),
    }
}

/// `config-get --format=json` output: a JSON object (operator input).
pub fn config(data: &[u8]) {
    let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let config = match Config::from_map(&map) {
        Ok(c) => c,
        Err(e) => {
            assert!(!e.0.is_empty(), "an error without issues");
            render(&e);
            return;
        }
    };
    // A configuration that validates must work: the CA can be made from it (with a cheap key;
    // the algorithm is not what is being checked), and the validities are sane.
    assert!(config.certificate_validity > 0);
    assert!(config.root_ca_validity >= config.certificate_validity.saturating_mul(2));
    config
        .ca_subject
        .to_x509_name()
        .expect("validated CA subject builds an X.509 name");
    Ca::generate_at(
        &config.ca_subject,
        KeyAlgorithm::EcdsaP256,
        config.root_ca_validity,
        now(),
    )
    .expect("validated config makes a CA");
    for d in &config.policy.allowed_domains {
        assert!(!d.is_empty() && *d == d.to_ascii_lowercase());
    }
    // A new CA announces its successor only after it has signed: overlap fits twice.
    assert!(config.certificate_validity + 2 * config.ca_rotation_overlap < config.root_ca_validity);
    // Every trusted certificate is one parseable certificate, listed once, never a key.
    assert!(config.trusted_certificates.len() <= tls_provider::pki::trust::MAX_TRUSTED);
    for (i, pem) in config.trusted_certificates.iter().enumerate() {
        assert!(!pem.contains("PRIVATE KEY"));
        let again = tls_provider::pki::trust::normalise(pem).expect("a trusted certificate parses");
        assert_eq!(&again, pem, "normalised");
        assert!(
            !config.trusted_certificates[..i].contains(pem),
            "listed once"
        );
    }
}

/// Our pending intermediate request (made once: key generation is slow).
fn pending() -> &'static tls_provider::charm::ca::PendingCa {
    static PENDING: std::sync::OnceLock<tls_provider::charm::ca::PendingCa> =
        std::sync::OnceLock::new();
    PENDING.get_or_init(|| {
        let config = Config::from_map(&Map::new()).expect("default config");
        tls_provider::charm::ca::rotation::new_request(
            &config,
            now(),
            tls_provider::charm::ca::PendingFor::Upstream,
            &tls_provider::charm::ca::RotateReason::Requested,
        )
        .expect("a request")
    })
}

/// The upstream provider's answer to our intermediate CA request (`upstream-ca`): fields
/// `certificates`, `request_errors`, `capabilities` of its app databag, separated by `0x1e`;
/// the text `{CSR}` anywhere stands for our CSR (so seeds can answer it). Evaluating must not
/// panic, and an input that does not hold our CSR is never accepted.
pub fn upstream_answer(data: &[u8]) {
    use tls_provider::charm::ca::install::Answer;
    let p = pending();
    let text = text(data).replace("{CSR}", &p.csr_pem.replace('\n', "\\n"));
    let mut bag = Bag::new();
    for (key, value) in modern::PROVIDER_KEYS.iter().zip(text.split(FIELD_SEP)) {
        bag.insert(key.to_string(), value.to_string());
    }
    let (parsed, notes) = modern::ProviderAppData::from_databag(&bag);
    let view = tls_provider::charm::upstream::UpstreamView {
        id: juju_hook::RelationId(1),
        app: "upstream".into(),
        data: parsed,
        own_app_bag: Default::default(),
        notes: notes.notes,
    };
    let mentions_csr = text.contains("BEGIN CERTIFICATE REQUEST");
    match tls_provider::charm::upstream::answer::evaluate(
        &view,
        p,
        now(),
        Duration::from_secs(86_400),
    ) {
        Answer::Waiting => {}
        Answer::Refused(why) | Answer::Rejected(why) => {
            assert!(mentions_csr, "an answer without our CSR: {why}");
            assert!(why.chars().count() < 2_000, "unbounded message");
        }
        Answer::Accepted(c) => {
            assert!(mentions_csr);
            // Only a certificate for our key can be accepted.
            assert!(c.ca.cert.public_key().unwrap().public_eq(&p.key));
        }
    }
}
