//! Trust anchors: parsing certificates an operator wants trusted, normalising PEM so the same
//! certificate is listed once, and fingerprints for display.

use openssl::hash::MessageDigest;
use openssl::x509::{X509Ref, X509};

use super::verify::{base64_decode, parse_certs};

/// At most this many certificates in `trusted-certificates` (a trust bundle is a handful).
pub const MAX_TRUSTED: usize = 50;

/// A certificate as the one PEM spelling we publish (OpenSSL's, LF line ends).
pub fn pem_of(cert: &X509Ref) -> String {
    cert.to_pem()
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .unwrap_or_default()
}

/// `pem` re-encoded by [`pem_of`], when it holds exactly one certificate.
pub fn normalise(pem: &str) -> Option<String> {
    match parse_certs(pem).ok()?.as_slice() {
        [one] => Some(pem_of(one)),
        _ => None,
    }
}

/// The SHA-256 fingerprint as `AB:CD:...`, the way `openssl x509 -fingerprint -sha256` shows it.
pub fn fingerprint(cert: &X509Ref) -> String {
    cert.digest(MessageDigest::sha256())
        .map(|d| {
            d.iter()
                .map(|b| format!("{b:02X}"))
                .collect::<Vec<_>>()
                .join(":")
        })
        .unwrap_or_default()
}

/// Parses `trusted-certificates`: PEM certificates, or the base64 of such a PEM text (what
/// `juju config app trusted-certificates="$(base64 -w0 bundle.pem)"` gives). Refuses private
/// keys, anything that is not a certificate, and more than [`MAX_TRUSTED`] certificates. Returns
/// each certificate once, as normalised PEM, in the order given.
pub fn parse_trusted(text: &str) -> Result<Vec<String>, String> {
    let decoded;
    let pem = if text.contains("-----BEGIN") {
        text
    } else {
        let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
        decoded = base64_decode(&compact)
            .and_then(|b| String::from_utf8(b).ok())
            .filter(|t| t.contains("-----BEGIN"))
            .ok_or("neither PEM certificates nor base64 of PEM certificates")?;
        decoded.as_str()
    };
    if pem.contains("PRIVATE KEY-----") {
        return Err("contains a private key; list only certificates (never keys)".into());
    }
    let blocks = pem.matches("-----BEGIN ").count();
    let certs = parse_certs(pem).map_err(|e| e.to_string())?;
    if certs.len() != blocks {
        return Err(format!(
            "has {blocks} PEM blocks but only {} certificates; list only certificates",
            certs.len()
        ));
    }
    if certs.len() > MAX_TRUSTED {
        return Err(format!(
            "has {} certificates, more than the {MAX_TRUSTED} allowed",
            certs.len()
        ));
    }
    let mut seen = std::collections::HashSet::new();
    let mut out: Vec<String> = Vec::new();
    for c in &certs {
        let p = pem_of(c);
        if seen.insert(p.clone()) {
            out.push(p);
        }
    }
    Ok(out)
}

/// Parses one certificate PEM (already normalised or not).
pub fn parse_one(pem: &str) -> Option<X509> {
    X509::from_pem(pem.as_bytes()).ok()
}
