//! Parsing and checking a requirer's CSR. Input here is untrusted.
//!
//! Decisions (deterministic, documented for operators in the README):
//! - The text may hold anything around one `-----BEGIN CERTIFICATE REQUEST-----` (or
//!   `NEW CERTIFICATE REQUEST`) block; CRLF and any whitespace inside the base64 are ignored.
//!   Two or more request blocks are refused (ambiguous).
//! - The signature must verify with the CSR's own key; the key must be RSA 2048-8192 bits or
//!   ECDSA on P-256/P-384 (named curve).
//! - Extensions: subjectAltName is read (DNS names, IPv4/IPv6 addresses, registeredIDs; other
//!   GeneralName kinds such as email or URI are ignored and never copied). keyUsage,
//!   extendedKeyUsage and basicConstraints are accepted, critical or not, and ignored: the signer
//!   sets its own. **Any other critical extension is refused** with [`CsrError::BadExtension`]
//!   naming its OID (we cannot honour a constraint we do not understand); other non-critical
//!   extensions are ignored and not copied. A duplicated extension, or a malformed extension
//!   list, is refused.
//! - The subject is kept as is (e.g. the requirer's x500UniqueIdentifier as a UTF8String).

use openssl::nid::Nid;
use openssl::pkey::{Id, PKey, PKeyRef, Private, Public};
use openssl::stack::Stack;
use openssl::x509::{X509Name, X509NameBuilder, X509NameRef, X509Ref, X509Req};

use super::csr_fast;
use super::der;
use super::keys::digest_for_key;
use super::san::{self, San};
use super::verify::base64_decode;
use super::{KeyAlgorithm, PkiError};

/// Hard cap on a CSR's PEM text; anything larger is refused before parsing.
pub const MAX_CSR_PEM_BYTES: usize = 16 * 1024;

const BEGIN_MARKERS: [&str; 2] = [
    "-----BEGIN CERTIFICATE REQUEST-----",
    "-----BEGIN NEW CERTIFICATE REQUEST-----",
];
const END_MARKERS: [&str; 2] = [
    "-----END CERTIFICATE REQUEST-----",
    "-----END NEW CERTIFICATE REQUEST-----",
];

/// Why a CSR is refused. The message is meant for a human reading relation data or logs.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum CsrError {
    #[error("CSR is {0} bytes, more than the {MAX_CSR_PEM_BYTES} allowed")]
    TooLarge(usize),
    #[error("CSR is not a PEM certificate request: {0}")]
    NotPem(String),
    /// A well-formed request whose subject this charm will not certify.
    #[error("CSR subject is not usable: {0}")]
    BadSubject(String),
    #[error("CSR signature does not verify against its own public key")]
    BadSignature,
    #[error("CSR key is not accepted: {0} (accepted: RSA 2048-8192 bits, ECDSA P-256 or P-384)")]
    UnsupportedKey(String),
    #[error("CSR has no common name and no subject alternative name")]
    NoNames,
    #[error("CSR extension is not accepted: {0}")]
    BadExtension(String),
}

/// A CSR that parsed, whose signature verified, and whose key we accept.
pub struct ParsedCsr {
    /// The subject, exactly as the CSR encodes it.
    subject: X509Name,
    /// The CSR's public key.
    public_key: PKey<Public>,
    /// The subjectPublicKey bits as the certificate will hold them, when known without encoding
    /// the key (the fast path).
    spki_bits: Option<Vec<u8>>,
    /// The canonical DER (for comparing CSRs regardless of whitespace / line endings).
    pub der: Vec<u8>,
    pub common_name: Option<String>,
    /// The DNS, IP and registeredID SANs, in the order the CSR lists them (other GeneralName
    /// kinds are dropped).
    pub sans: Vec<San>,
    /// The key family and size class: RSA keys map to the largest of 2048/3072/4096 not above
    /// their size (an RSA 8192 key is `Rsa4096` here; see `key_bits` for the exact size).
    pub key_algorithm: KeyAlgorithm,
    /// RSA modulus bits or EC curve bits.
    pub key_bits: u32,
}

impl std::fmt::Debug for ParsedCsr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParsedCsr")
            .field("common_name", &self.common_name)
            .field("sans", &self.sans)
            .field("key_algorithm", &self.key_algorithm)
            .field("key_bits", &self.key_bits)
            .finish()
    }
}

impl ParsedCsr {
    /// Parses (tolerating CRLF, surrounding whitespace and text around the PEM block), verifies the
    /// signature, and checks the key (RSA 2048-8192, ECDSA P-256/P-384).
    pub fn parse(pem: &str) -> Result<ParsedCsr, CsrError> {
        if pem.len() > MAX_CSR_PEM_BYTES {
            return Err(CsrError::TooLarge(pem.len()));
        }
        let der = extract_der(pem)?;
        ParsedCsr::from_der(&der)
    }

    /// Same checks as [`ParsedCsr::parse`], from DER.
    pub fn from_der(der_bytes: &[u8]) -> Result<ParsedCsr, CsrError> {
        if der_bytes.len() > MAX_CSR_PEM_BYTES {
            return Err(CsrError::TooLarge(der_bytes.len()));
        }
        // One DER structure, nothing after it (d2i would silently ignore trailing bytes).
        let top = der::read_single(der_bytes)
            .ok_or_else(|| CsrError::NotPem("the base64 does not hold one DER structure".into()))?;
        // Nearly every request takes the fast path (see `csr_fast`); anything it does not
        // accept goes through OpenSSL's parser, which gives the verdict and the message.
        let (subject, public_key, key_algorithm, key_bits, spki_bits) =
            match csr_fast::check(der_bytes) {
                Some(c) => (
                    c.subject,
                    c.public_key,
                    c.key_algorithm,
                    c.key_bits,
                    c.spki_bits,
                ),
                None => {
                    let (subject, key, alg, bits) = parse_with_openssl(der_bytes)?;
                    (subject, key, alg, bits, None)
                }
            };

        // The certificate is written with the subject's bytes as they came (OpenSSL keeps them),
        // so a subject in BER (long-form or indefinite lengths, constructed strings, unsorted
        // SETs), which OpenSSL reads, would make the certificate not DER.
        let subject_der = subject
            .to_der()
            .map_err(|_| CsrError::BadSubject("the subject cannot be encoded".into()))?;
        if !der::is_der_framed(&subject_der) {
            return Err(CsrError::BadSubject(
                "the subject is not DER-encoded (BER lengths, constructed strings or an \
                 unsorted multi-valued name)"
                    .into(),
            ));
        }

        let sans = read_extensions(top)?;

        let common_name = match subject.entries_by_nid(Nid::COMMONNAME).next() {
            None => None,
            Some(e) => {
                let cn = e.data().to_string().map_err(|_| {
                    CsrError::BadSubject("the subject common name is not decodable text".into())
                })?;
                if cn.chars().any(char::is_control) {
                    let shown: String = cn.chars().take(100).collect();
                    return Err(CsrError::BadSubject(format!(
                        "the subject common name {shown:?} contains control characters"
                    )));
                }
                Some(cn).filter(|s| !s.is_empty())
            }
        };
        if common_name.is_none() && sans.is_empty() {
            return Err(CsrError::NoNames);
        }
        Ok(ParsedCsr {
            subject,
            public_key,
            spki_bits,
            der: der_bytes.to_vec(),
            common_name,
            sans,
            key_algorithm,
            key_bits,
        })
    }

    /// The subject, exactly as the CSR encodes it.
    pub fn subject(&self) -> &X509NameRef {
        &self.subject
    }

    /// The CSR's public key.
    pub fn public_key(&self) -> &PKeyRef<Public> {
        &self.public_key
    }

    /// The subjectPublicKey bits a certificate for this key holds, when known without encoding
    /// the key.
    pub(crate) fn spki_bits(&self) -> Option<&[u8]> {
        self.spki_bits.as_deref()
    }

    /// Whether `cert` certifies this CSR's public key.
    pub fn key_matches(&self, cert: &X509Ref) -> bool {
        cert.public_key()
            .is_ok_and(|k| k.public_eq(&self.public_key))
    }

    /// The canonical PEM (64-column base64, `\n`, no trailing newline): what the requirer library
    /// gets when it re-serialises the CSR. Use it to compare CSRs, never to echo them.
    pub fn canonical_pem(&self) -> String {
        der_to_pem("CERTIFICATE REQUEST", &self.der)
    }

    /// Every SAN as a string: DNS names, then IPs, then OIDs (see [`san::san_strings`]).
    pub fn san_strings(&self) -> Vec<String> {
        san::san_strings(&self.sans)
    }

    /// Every common name of the subject (normally zero or one), as text.
    pub fn common_names(&self) -> Vec<String> {
        self.subject
            .entries_by_nid(Nid::COMMONNAME)
            .filter_map(|e| e.data().to_string().ok())
            .collect()
    }
}

/// The DER of a PEM certificate request, without verifying it: for telling whether two CSR texts
/// are the same request regardless of CRLF line endings and surrounding whitespace.
pub fn csr_der(pem: &str) -> Option<Vec<u8>> {
    let normalised = pem.replace("\r\n", "\n");
    X509Req::from_pem(normalised.trim().as_bytes())
        .ok()?
        .to_der()
        .ok()
}

/// The full OpenSSL path: parse, check the key, verify the signature. Returns the subject, the
/// key and its class and size.
pub(crate) fn parse_with_openssl(
    der_bytes: &[u8],
) -> Result<(X509Name, PKey<Public>, KeyAlgorithm, u32), CsrError> {
    let req = X509Req::from_der(der_bytes)
        .map_err(|_| CsrError::NotPem("the DER does not parse as a PKCS#10 request".into()))?;
    let (key_algorithm, key_bits) = check_key(&req)?;
    let public = req
        .public_key()
        .map_err(|_| CsrError::UnsupportedKey("the public key does not parse".into()))?;
    if !req.verify(&public).unwrap_or(false) {
        return Err(CsrError::BadSignature);
    }
    let subject = req
        .subject_name()
        .to_owned()
        .map_err(|_| CsrError::BadSubject("the subject cannot be copied".into()))?;
    Ok((subject, public, key_algorithm, key_bits))
}

/// What the fast path (`csr_fast`) read from a request it accepted, as bytes: the subject's DER,
/// the key's SubjectPublicKeyInfo as OpenSSL encodes it, and the key bits kept for the key
/// identifier. For the differential fuzz target (`fuzz/src/targets.rs`); not an API.
#[doc(hidden)]
pub struct FastReading {
    pub subject_der: Vec<u8>,
    pub spki_der: Vec<u8>,
    pub spki_bits: Option<Vec<u8>>,
}

/// The fast path's reading of `der_bytes`, `None` when it leaves the request to OpenSSL's
/// parser. For the differential fuzz target; not an API.
#[doc(hidden)]
pub fn fast_path_reading(der_bytes: &[u8]) -> Option<FastReading> {
    let c = csr_fast::check(der_bytes)?;
    Some(FastReading {
        subject_der: c.subject.to_der().ok()?,
        spki_der: c.public_key.public_key_to_der().ok()?,
        spki_bits: c.spki_bits,
    })
}

/// Finds the request block and decodes its base64.
fn extract_der(pem: &str) -> Result<Vec<u8>, CsrError> {
    let found: Vec<(usize, &str)> = BEGIN_MARKERS
        .iter()
        .flat_map(|m| pem.match_indices(m).map(move |(i, _)| (i, *m)))
        .collect();
    let (start, marker) = match found.as_slice() {
        [one] => *one,
        [] => {
            let what = if pem.contains("-----BEGIN CERTIFICATE-----") {
                "found a CERTIFICATE where a CERTIFICATE REQUEST was expected".to_string()
            } else if let Some(i) = pem.find("-----BEGIN ") {
                let label: String = pem[i + 11..]
                    .chars()
                    .take(40)
                    .take_while(|c| *c != '-')
                    .collect();
                format!("found a {label:?} PEM block, expected CERTIFICATE REQUEST")
            } else if pem.trim().is_empty() {
                "the value is empty".to_string()
            } else {
                "no -----BEGIN CERTIFICATE REQUEST----- line found".to_string()
            };
            return Err(CsrError::NotPem(what));
        }
        _ => {
            return Err(CsrError::NotPem(
                "more than one certificate request block; send one per entry".into(),
            ))
        }
    };
    let body_start = start + marker.len();
    let rest = &pem[body_start..];
    let end = END_MARKERS
        .iter()
        .filter_map(|m| rest.find(m))
        .min()
        .ok_or_else(|| {
            CsrError::NotPem("the -----END CERTIFICATE REQUEST----- line is missing".into())
        })?;
    let body: String = rest[..end]
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    if body.is_empty() {
        return Err(CsrError::NotPem("the PEM block is empty".into()));
    }
    base64_decode(&body).ok_or_else(|| CsrError::NotPem("the PEM body is not valid base64".into()))
}

fn check_key(req: &X509Req) -> Result<(KeyAlgorithm, u32), CsrError> {
    let key = req
        .public_key()
        .map_err(|_| CsrError::UnsupportedKey("the public key does not parse".into()))?;
    match key.id() {
        Id::RSA => {
            let bits = key.bits();
            if !(2048..=8192).contains(&bits) {
                return Err(CsrError::UnsupportedKey(format!("RSA {bits} bits")));
            }
            // e = 1 makes any padded digest a valid signature (no proof of possession); an even
            // e is no RSA key.
            let rsa = key
                .rsa()
                .map_err(|_| CsrError::UnsupportedKey("RSA key does not parse".into()))?;
            let e = rsa.e();
            if e.num_bits() < 2 || !e.is_bit_set(0) {
                let e = e.to_dec_str().map(|s| s.to_string()).unwrap_or_default();
                return Err(CsrError::UnsupportedKey(format!("RSA public exponent {e}")));
            }
            let alg = match bits {
                0..=3071 => KeyAlgorithm::Rsa2048,
                3072..=4095 => KeyAlgorithm::Rsa3072,
                _ => KeyAlgorithm::Rsa4096,
            };
            Ok((alg, bits))
        }
        Id::EC => {
            let ec = key
                .ec_key()
                .map_err(|_| CsrError::UnsupportedKey("EC key does not parse".into()))?;
            match ec.group().curve_name() {
                Some(Nid::X9_62_PRIME256V1) => Ok((KeyAlgorithm::EcdsaP256, 256)),
                Some(Nid::SECP384R1) => Ok((KeyAlgorithm::EcdsaP384, 384)),
                Some(other) => Err(CsrError::UnsupportedKey(format!(
                    "EC curve {}",
                    other.short_name().unwrap_or("unknown")
                ))),
                None => Err(CsrError::UnsupportedKey(
                    "EC key with explicit curve parameters".into(),
                )),
            }
        }
        Id::RSA_PSS => Err(CsrError::UnsupportedKey("RSA-PSS key".into())),
        Id::ED25519 => Err(CsrError::UnsupportedKey("Ed25519 key".into())),
        Id::ED448 => Err(CsrError::UnsupportedKey("Ed448 key".into())),
        Id::DSA => Err(CsrError::UnsupportedKey("DSA key".into())),
        _ => Err(CsrError::UnsupportedKey("unknown key type".into())),
    }
}

/// Walks `CertificationRequest → CertificationRequestInfo → attributes`, applies the extension
/// rules of the module docs and returns the SANs.
fn read_extensions(top: der::Tlv<'_>) -> Result<Vec<San>, CsrError> {
    let malformed = || CsrError::BadExtension("the CSR's attributes are malformed".into());
    let outer = der::children(top, der::TAG_SEQUENCE).ok_or_else(malformed)?;
    let info = der::children(*outer.first().ok_or_else(malformed)?, der::TAG_SEQUENCE)
        .ok_or_else(malformed)?;
    // version, subject, subjectPKInfo, [0] attributes
    let Some(attrs) = info.get(3) else {
        return Ok(Vec::new());
    };
    if attrs.tag != 0xa0 {
        return Err(malformed());
    }
    let mut extension_lists = Vec::new();
    for attr in der::read_all(attrs.content).ok_or_else(malformed)? {
        let parts = der::children(attr, der::TAG_SEQUENCE).ok_or_else(malformed)?;
        let [oid, values] = parts.as_slice() else {
            return Err(malformed());
        };
        if oid.tag != der::TAG_OID {
            return Err(malformed());
        }
        let oid = der::oid_to_string(oid.content).ok_or_else(malformed)?;
        if oid == der::OID_EXTENSION_REQUEST || oid == der::OID_MS_EXTENSION_REQUEST {
            let values = der::children(*values, der::TAG_SET).ok_or_else(malformed)?;
            extension_lists.extend(values);
        }
    }
    let exts = match extension_lists.as_slice() {
        [] => return Ok(Vec::new()),
        [one] => der::parse_extensions(*one)
            .ok_or_else(|| CsrError::BadExtension("the extension request is malformed".into()))?,
        _ => {
            return Err(CsrError::BadExtension(
                "the CSR carries more than one extension request".into(),
            ))
        }
    };
    let mut seen = std::collections::HashSet::new();
    let mut sans = Vec::new();
    for ext in &exts {
        if !seen.insert(ext.oid.as_str()) {
            return Err(CsrError::BadExtension(format!(
                "extension {} appears twice",
                describe_oid(&ext.oid)
            )));
        }
        match ext.oid.as_str() {
            der::OID_SAN => {
                sans = der::parse_sans(ext.value).map_err(CsrError::BadExtension)?;
            }
            der::OID_KEY_USAGE | der::OID_EXT_KEY_USAGE | der::OID_BASIC_CONSTRAINTS => {}
            other if ext.critical => {
                return Err(CsrError::BadExtension(format!(
                    "critical extension {} is not supported; this provider only accepts \
                     subjectAltName, keyUsage, extendedKeyUsage and basicConstraints as critical \
                     extensions; request the certificate without it",
                    describe_oid(other)
                )));
            }
            _ => {}
        }
    }
    Ok(sans)
}

fn describe_oid(oid: &str) -> String {
    match der::extension_name(oid) {
        Some(name) => format!("{oid} ({name})"),
        None => oid.to_string(),
    }
}

/// PEM-encodes DER with 64-column lines and no trailing newline.
pub(crate) fn der_to_pem(label: &str, der_bytes: &[u8]) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der_bytes);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----"));
    out
}

/// Builds and signs a CSR for `key` (legacy requirers and manual mode): subject CN =
/// `common_name` (omitted when empty), a non-critical SAN extension with each of `sans` as an IP
/// address when it parses as one, otherwise as a DNS name (omitted when `sans` is empty).
/// Digest: SHA-384 for P-384 keys, SHA-256 otherwise.
pub fn generate_csr(
    key: &PKeyRef<Private>,
    common_name: &str,
    sans: &[String],
) -> Result<X509Req, PkiError> {
    let mut b = X509Req::builder()?;
    b.set_version(0)?;
    let mut name = X509NameBuilder::new()?;
    if !common_name.is_empty() {
        if common_name.chars().count() > 64 {
            return Err(PkiError::CommonNameTooLong(common_name.to_string()));
        }
        name.append_entry_by_nid(Nid::COMMONNAME, common_name)
            .map_err(|source| PkiError::CommonNameNotEncodable {
                common_name: common_name.to_string(),
                source,
            })?;
    }
    b.set_subject_name(&name.build())?;
    b.set_pubkey(key)?;
    if !sans.is_empty() {
        let sans: Vec<San> = sans.iter().map(|s| San::from_name(s)).collect();
        let value = der::build_sans(&sans)?;
        let mut stack = Stack::new()?;
        stack.push(super::sign::raw_extension(der::OID_SAN, false, &value)?)?;
        b.add_extensions(&stack)?;
    }
    b.sign(key, digest_for_key(key))?;
    Ok(b.build())
}

/// A CSR as PEM without a trailing newline.
pub fn csr_to_pem(req: &X509Req) -> Result<String, PkiError> {
    Ok(der_to_pem("CERTIFICATE REQUEST", &req.to_der()?))
}
