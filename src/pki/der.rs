//! A tiny, defensive DER reader/writer for the few structures the `openssl` crate does not expose
//! (extension lists of CSRs and certificates, RegisteredID SANs, BasicConstraints).
//!
//! The reader never panics: every access is bounds-checked and any malformed input yields `None`.

use std::net::IpAddr;

use super::san::{self, San};
use super::PkiError;

pub(crate) const TAG_BOOLEAN: u8 = 0x01;
pub(crate) const TAG_BIT_STRING: u8 = 0x03;
pub(crate) const TAG_OCTET_STRING: u8 = 0x04;
pub(crate) const TAG_OID: u8 = 0x06;
pub(crate) const TAG_SEQUENCE: u8 = 0x30;
pub(crate) const TAG_SET: u8 = 0x31;

/// GeneralName tags (context-specific, implicit).
pub(crate) const GN_DNS: u8 = 0x82;
pub(crate) const GN_IP: u8 = 0x87;
pub(crate) const GN_RID: u8 = 0x88;

pub(crate) const OID_SAN: &str = "2.5.29.17";
pub(crate) const OID_KEY_USAGE: &str = "2.5.29.15";
pub(crate) const OID_EXT_KEY_USAGE: &str = "2.5.29.37";
pub(crate) const OID_BASIC_CONSTRAINTS: &str = "2.5.29.19";
pub(crate) const OID_EXTENSION_REQUEST: &str = "1.2.840.113549.1.9.14";
pub(crate) const OID_MS_EXTENSION_REQUEST: &str = "1.3.6.1.4.1.311.2.1.14";

/// One TLV: single-byte tag and its content.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Tlv<'a> {
    pub tag: u8,
    pub content: &'a [u8],
}

/// Reads one TLV from the front of `input`; returns it and the rest.
pub(crate) fn read_tlv(input: &[u8]) -> Option<(Tlv<'_>, &[u8])> {
    let (&tag, rest) = input.split_first()?;
    if tag & 0x1f == 0x1f {
        return None; // high tag numbers: not used by anything we read
    }
    let (&first, mut rest) = rest.split_first()?;
    let len = if first < 0x80 {
        first as usize
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 {
            return None; // indefinite length or absurd sizes
        }
        let (bytes, r) = (rest.get(..n)?, rest.get(n..)?);
        rest = r;
        let mut len = 0usize;
        for &b in bytes {
            len = len.checked_mul(256)?.checked_add(b as usize)?;
        }
        len
    };
    let content = rest.get(..len)?;
    Some((Tlv { tag, content }, rest.get(len..)?))
}

/// Reads exactly one TLV that spans the whole input.
pub(crate) fn read_single(input: &[u8]) -> Option<Tlv<'_>> {
    let (tlv, rest) = read_tlv(input)?;
    rest.is_empty().then_some(tlv)
}

/// Reads the TLVs that make up the whole of `input`.
pub(crate) fn read_all(mut input: &[u8]) -> Option<Vec<Tlv<'_>>> {
    let mut out = Vec::new();
    while !input.is_empty() {
        let (tlv, rest) = read_tlv(input)?;
        out.push(tlv);
        input = rest;
    }
    Some(out)
}

/// Whether `input` is a run of TLVs (usually one) framed as DER requires: every length definite
/// and in the fewest octets, no constructed encoding of a universal type other than SEQUENCE and
/// SET, the elements of each SET in ascending order of their encodings; recursively through
/// every constructed value, at most [`MAX_DER_DEPTH`] deep. Primitive contents (a key inside a
/// BIT STRING, an extension value) are not looked into.
pub(crate) fn is_der_framed(input: &[u8]) -> bool {
    der_framed(input, 0)
}

/// How deep [`is_der_framed`] follows constructed values (a CSR needs about 8).
pub(crate) const MAX_DER_DEPTH: usize = 32;

fn der_framed(mut input: &[u8], depth: usize) -> bool {
    if depth > MAX_DER_DEPTH {
        return false;
    }
    while !input.is_empty() {
        let Some((tlv, rest)) = read_tlv(input) else {
            return false;
        };
        let raw = &input[..input.len() - rest.len()];
        let n = tlv.content.len();
        let minimal_header = if n < 0x80 {
            2
        } else {
            2 + (usize::BITS - n.leading_zeros()).div_ceil(8) as usize
        };
        if raw.len() - n != minimal_header {
            return false;
        }
        if tlv.tag & 0x20 != 0 {
            let universal = tlv.tag & 0xc0 == 0;
            if universal && tlv.tag != TAG_SEQUENCE && tlv.tag != TAG_SET {
                return false; // a constructed (BER) string
            }
            if !der_framed(tlv.content, depth + 1) {
                return false;
            }
            if tlv.tag == TAG_SET && !set_of_sorted(tlv.content) {
                return false;
            }
        }
        input = rest;
    }
    true
}

/// Whether the elements of a SET's contents are in the DER order of X.690 11.6 (encodings
/// compared as octet strings, the shorter padded with zero octets at the end).
fn set_of_sorted(mut content: &[u8]) -> bool {
    let mut previous: Option<&[u8]> = None;
    // Called on contents `der_framed` has read, so every element is a TLV.
    while let Some((_, rest)) = read_tlv(content) {
        let raw = &content[..content.len() - rest.len()];
        if previous.is_some_and(|p| padded_cmp(p, raw).is_gt()) {
            return false;
        }
        previous = Some(raw);
        content = rest;
    }
    true
}

/// `a` and `b` compared as octet strings, the shorter padded with zero octets at the end.
fn padded_cmp(a: &[u8], b: &[u8]) -> std::cmp::Ordering {
    let width = a.len().max(b.len());
    let at = |s: &[u8], i: usize| s.get(i).copied().unwrap_or(0);
    (0..width)
        .map(|i| at(a, i).cmp(&at(b, i)))
        .find(|o| o.is_ne())
        .unwrap_or(std::cmp::Ordering::Equal)
}

/// Contents of a constructed TLV with the expected tag, as its elements.
pub(crate) fn children(tlv: Tlv<'_>, tag: u8) -> Option<Vec<Tlv<'_>>> {
    if tlv.tag != tag {
        return None;
    }
    read_all(tlv.content)
}

/// Encodes a TLV.
pub(crate) fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len() + 6);
    out.push(tag);
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|&&b| b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(content);
    out
}

/// Decodes OID content octets to dotted form. `None` when malformed or when an arc does not fit
/// in 128 bits (a 2.25 UUID arc does).
///
/// Every string this returns encodes back to the same octets with [`oid_from_string`] (both
/// sides use `u128` arcs), so an OID read from a CSR can always be copied into the certificate.
pub(crate) fn oid_to_string(content: &[u8]) -> Option<String> {
    if content.is_empty() || content.len() > 64 {
        return None;
    }
    let mut arcs: Vec<u128> = Vec::new();
    let mut value: u128 = 0;
    let mut in_arc = false;
    for &b in content {
        if !in_arc && b == 0x80 {
            return None; // non-minimal encoding
        }
        value = value.checked_mul(128)?.checked_add((b & 0x7f) as u128)?;
        in_arc = true;
        if b & 0x80 == 0 {
            arcs.push(value);
            value = 0;
            in_arc = false;
        }
    }
    if in_arc {
        return None; // truncated arc
    }
    let first = arcs[0];
    let (a, b) = match first {
        0..=39 => (0, first),
        40..=79 => (1, first - 40),
        _ => (2, first - 80),
    };
    let mut s = format!("{a}.{b}");
    for arc in &arcs[1..] {
        s.push('.');
        s.push_str(&arc.to_string());
    }
    Some(s)
}

/// Encodes a dotted OID to content octets. `None` when it is not a valid OID or an arc does not
/// fit in 128 bits. Accepts everything [`oid_to_string`] produces.
pub(crate) fn oid_from_string(s: &str) -> Option<Vec<u8>> {
    let arcs: Vec<u128> = s
        .split('.')
        .map(|a| {
            // u128::MAX has 39 digits; parse() refuses larger values.
            if a.is_empty() || a.len() > 39 || !a.bytes().all(|c| c.is_ascii_digit()) {
                None
            } else {
                a.parse().ok()
            }
        })
        .collect::<Option<_>>()?;
    if arcs.len() < 2 || arcs[0] > 2 || (arcs[0] < 2 && arcs[1] >= 40) {
        return None;
    }
    let mut out = Vec::new();
    let first = arcs[0].checked_mul(40)?.checked_add(arcs[1])?;
    for arc in std::iter::once(first).chain(arcs[2..].iter().copied()) {
        let mut groups = vec![(arc & 0x7f) as u8];
        let mut v = arc >> 7;
        while v > 0 {
            groups.push(0x80 | (v & 0x7f) as u8);
            v >>= 7;
        }
        out.extend(groups.iter().rev());
    }
    Some(out)
}

/// One extension: OID (dotted), critical flag, extnValue content.
#[derive(Clone, Debug)]
pub(crate) struct Ext<'a> {
    pub oid: String,
    pub critical: bool,
    pub value: &'a [u8],
}

/// Parses `Extensions ::= SEQUENCE OF Extension` (the whole TLV).
pub(crate) fn parse_extensions(seq: Tlv<'_>) -> Option<Vec<Ext<'_>>> {
    let mut out = Vec::new();
    for ext in children(seq, TAG_SEQUENCE)? {
        let parts = children(ext, TAG_SEQUENCE)?;
        let (oid, critical, value) = match parts.as_slice() {
            [oid, value] => (oid, false, value),
            [oid, crit, value] if crit.tag == TAG_BOOLEAN && crit.content.len() == 1 => {
                (oid, crit.content[0] != 0, value)
            }
            _ => return None,
        };
        if oid.tag != TAG_OID || value.tag != TAG_OCTET_STRING {
            return None;
        }
        out.push(Ext {
            oid: oid_to_string(oid.content)?,
            critical,
            value: value.content,
        });
    }
    Some(out)
}

/// The extensions of a DER certificate (empty when it has none; `None` when malformed).
pub(crate) fn cert_extensions(cert_der: &[u8]) -> Option<Vec<Ext<'_>>> {
    let cert = children(read_single(cert_der)?, TAG_SEQUENCE)?;
    let tbs = children(*cert.first()?, TAG_SEQUENCE)?;
    match tbs.iter().find(|t| t.tag == 0xa3) {
        None => Some(vec![]),
        Some(wrapper) => parse_extensions(read_single(wrapper.content)?),
    }
}

/// Parses a SubjectAltName extension value (`GeneralNames`) into its DNS names, IP addresses
/// and registeredIDs, in order; other GeneralName kinds (email, URI, directoryName, ...) are
/// skipped. `Err` says what is wrong.
pub(crate) fn parse_sans(value: &[u8]) -> Result<Vec<San>, String> {
    let seq = read_single(value).ok_or("subjectAltName is not valid DER")?;
    let names = children(seq, TAG_SEQUENCE).ok_or("subjectAltName is not a SEQUENCE")?;
    let mut sans = Vec::new();
    for gn in names {
        match gn.tag {
            GN_DNS => {
                let s = std::str::from_utf8(gn.content)
                    .ok()
                    .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_graphic()))
                    .ok_or_else(|| {
                        format!(
                            "subjectAltName has a DNS name that is empty or not printable ASCII ({:?})",
                            String::from_utf8_lossy(&gn.content[..gn.content.len().min(80)])
                        )
                    })?;
                sans.push(San::Dns(s.to_string()));
            }
            GN_IP => {
                let ip = match gn.content.len() {
                    4 => {
                        let b: [u8; 4] = gn.content.try_into().map_err(|_| "bad IPv4")?;
                        IpAddr::from(b)
                    }
                    16 => {
                        let b: [u8; 16] = gn.content.try_into().map_err(|_| "bad IPv6")?;
                        IpAddr::from(b)
                    }
                    n => return Err(format!("subjectAltName has an IP address of {n} bytes")),
                };
                sans.push(San::Ip(ip));
            }
            GN_RID => {
                let oid = oid_to_string(gn.content).ok_or(
                    "subjectAltName has a registeredID that is malformed or has an arc larger \
                     than 128 bits",
                )?;
                sans.push(San::Oid(oid));
            }
            _ => {}
        }
    }
    Ok(sans)
}

/// Builds a SubjectAltName extension value. The names are written grouped by kind (DNS names,
/// then IP addresses, then registeredIDs; see [`san::grouped`]).
pub(crate) fn build_sans(sans: &[San]) -> Result<Vec<u8>, PkiError> {
    let mut body = Vec::new();
    for name in san::grouped(sans) {
        match name {
            San::Dns(d) => {
                if d.is_empty() || !d.bytes().all(|b| b.is_ascii_graphic()) {
                    return Err(PkiError::BadDnsName(d.clone()));
                }
                body.extend(tlv(GN_DNS, d.as_bytes()));
            }
            San::Ip(IpAddr::V4(v4)) => body.extend(tlv(GN_IP, &v4.octets())),
            San::Ip(IpAddr::V6(v6)) => body.extend(tlv(GN_IP, &v6.octets())),
            San::Oid(o) => {
                let enc = oid_from_string(o).ok_or_else(|| PkiError::BadOid(o.clone()))?;
                body.extend(tlv(GN_RID, &enc));
            }
        }
    }
    Ok(tlv(TAG_SEQUENCE, &body))
}

/// Whether a BasicConstraints extension value says cA TRUE.
pub(crate) fn basic_constraints_is_ca(value: &[u8]) -> bool {
    read_single(value)
        .and_then(|t| children(t, TAG_SEQUENCE))
        .and_then(|parts| parts.first().copied())
        .is_some_and(|first| {
            first.tag == TAG_BOOLEAN && first.content.len() == 1 && first.content[0] != 0
        })
}

/// The subjectPublicKey bits of a DER SubjectPublicKeyInfo (without the unused-bits octet).
pub(crate) fn spki_key_bits(spki_der: &[u8]) -> Option<&[u8]> {
    let parts = children(read_single(spki_der)?, TAG_SEQUENCE)?;
    let bits = parts.get(1)?;
    if bits.tag != TAG_BIT_STRING {
        return None;
    }
    bits.content.get(1..)
}

/// A human name for the extensions we are likely to meet, for messages.
pub(crate) fn extension_name(oid: &str) -> Option<&'static str> {
    Some(match oid {
        "2.5.29.14" => "subjectKeyIdentifier",
        "2.5.29.15" => "keyUsage",
        "2.5.29.17" => "subjectAltName",
        "2.5.29.18" => "issuerAltName",
        "2.5.29.19" => "basicConstraints",
        "2.5.29.30" => "nameConstraints",
        "2.5.29.31" => "cRLDistributionPoints",
        "2.5.29.32" => "certificatePolicies",
        "2.5.29.35" => "authorityKeyIdentifier",
        "2.5.29.36" => "policyConstraints",
        "2.5.29.37" => "extKeyUsage",
        "2.5.29.54" => "inhibitAnyPolicy",
        "1.3.6.1.5.5.7.1.1" => "authorityInfoAccess",
        "1.3.6.1.5.5.7.1.24" => "tlsFeature (OCSP must-staple)",
        "1.3.6.1.5.5.7.48.1.5" => "ocspNoCheck",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oid_round_trip() {
        for s in [
            "1.2.3.4.5",
            "2.5.29.17",
            "1.3.6.1.4.1.99999.1",
            "2.999.1",
            "0.39",
        ] {
            let enc = oid_from_string(s).unwrap();
            assert_eq!(oid_to_string(&enc).unwrap(), s);
        }
        assert_eq!(
            oid_from_string("2.5.29.17").unwrap(),
            vec![0x55, 0x1d, 0x11]
        );
        for bad in ["", "1", "3.1", "1.40", "1..2", "a.b", "1.2.", "-1.2"] {
            assert!(oid_from_string(bad).is_none(), "{bad}");
        }
        assert!(oid_to_string(&[]).is_none());
        // 128-bit arcs (2.25 UUID OIDs) are the limit on both sides.
        assert!(oid_from_string(&format!("1.2.{}", u128::MAX)).is_some());
        assert!(oid_from_string("1.2.340282366920938463463374607431768211456").is_none());
        assert!(oid_to_string(&[0x2a, 0x86]).is_none());
        assert!(oid_to_string(&[0x2a, 0x80, 0x01]).is_none());
    }

    /// What `oid_to_string` reads, `oid_from_string` writes back byte for byte (a CSR's
    /// registeredID is copied into the certificate through this pair).
    #[test]
    fn every_decoded_oid_encodes_back_to_the_same_octets() {
        let mut samples: Vec<Vec<u8>> = vec![
            // 1.2.18446744073709551615 (a RID with a 20-digit arc, u64::MAX)
            vec![
                0x2a, 0x81, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f,
            ],
            oid_from_string("2.25.329800735698586629295641978511506172918").unwrap(),
            oid_from_string(&format!("2.{}", u128::MAX - 80)).unwrap(),
            oid_from_string(&format!("1.3.{}.{}", u64::MAX as u128 + 1, u128::MAX)).unwrap(),
            vec![0x7f],
            vec![0x81, 0x00],
        ];
        // Every arc length from 1 to 18 base-128 groups (126 bits).
        for n in 1..=18 {
            let mut v = vec![0x2a];
            v.extend(std::iter::repeat_n(0xff, n - 1));
            v.push(0x7f);
            samples.push(v);
        }
        for enc in samples {
            let text = oid_to_string(&enc).unwrap_or_else(|| panic!("{enc:02x?}"));
            assert_eq!(oid_from_string(&text).as_deref(), Some(&enc[..]), "{text}");
        }
        assert_eq!(
            oid_to_string(&[0x2a, 0x81, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f])
                .unwrap(),
            "1.2.18446744073709551615"
        );
        // 20 groups = more than 128 bits: refused when reading (so never signed).
        let mut too_big = vec![0x2a, 0x84];
        too_big.extend(std::iter::repeat_n(0x80, 18));
        too_big.push(0x00);
        assert!(oid_to_string(&too_big).is_none());
        let sans = build_sans(&[San::Oid("1.2.18446744073709551615".into())]).unwrap();
        assert_eq!(
            parse_sans(&sans).unwrap(),
            [San::Oid("1.2.18446744073709551615".into())]
        );
        let bad = tlv(TAG_SEQUENCE, &tlv(GN_RID, &too_big));
        assert!(parse_sans(&bad).unwrap_err().contains("128 bits"));
    }

    #[test]
    fn tlv_lengths() {
        for n in [0usize, 1, 127, 128, 255, 256, 70000] {
            let content = vec![7u8; n];
            let enc = tlv(TAG_OCTET_STRING, &content);
            let t = read_single(&enc).unwrap();
            assert_eq!(t.tag, TAG_OCTET_STRING);
            assert_eq!(t.content.len(), n);
        }
        assert!(read_tlv(&[0x30]).is_none());
        assert!(read_tlv(&[0x30, 0x80]).is_none());
        assert!(read_tlv(&[0x30, 0x85, 1, 1, 1, 1, 1]).is_none());
        assert!(read_tlv(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]).is_none());
        assert!(read_tlv(&[0x30, 0x03, 1]).is_none());
        assert!(read_tlv(&[0x1f, 0x01, 0x00]).is_none());
    }

    #[test]
    fn der_framing() {
        for n in [0usize, 1, 127, 128, 255, 256, 70000] {
            let octets = tlv(TAG_OCTET_STRING, &vec![7u8; n]);
            assert!(is_der_framed(&octets), "{n}");
            assert!(is_der_framed(&tlv(TAG_SEQUENCE, &octets)), "{n}");
        }
        let cn = |s: &[u8]| {
            tlv(
                TAG_SEQUENCE,
                &[tlv(TAG_OID, &[0x55, 4, 3]), tlv(0x0c, s)].concat(),
            )
        };
        let sorted = tlv(TAG_SET, &[cn(b"a"), cn(b"b")].concat());
        assert!(is_der_framed(&tlv(TAG_SEQUENCE, &sorted)));
        for bad in [
            vec![0x04, 0x81, 0x01, 0x00],             // long form for a short length
            vec![0x04, 0x82, 0x00, 0x80],             // a leading zero length octet
            vec![0x30, 0x80, 0x05, 0x00, 0x00, 0x00], // indefinite
            vec![0x30, 0x04, 0x04, 0x81, 0x01, 0x00], // nested long form
            tlv(0x2c, &tlv(0x0c, b"a")),              // constructed UTF8String
            tlv(TAG_SET, &[cn(b"b"), cn(b"a")].concat()), // unsorted SET OF
            vec![0x30, 0x01],                         // truncated
        ] {
            assert!(!is_der_framed(&bad), "{bad:02x?}");
        }
        let mut deep = tlv(0x05, &[]);
        for _ in 0..=MAX_DER_DEPTH {
            deep = tlv(TAG_SEQUENCE, &deep);
        }
        assert!(!is_der_framed(&deep));
    }

    #[test]
    fn sans_round_trip() {
        let ip = |s: &str| San::Ip(s.parse().unwrap());
        let dns = |s: &str| San::Dns(s.to_string());
        // Written grouped by kind, each kind in the given order.
        let given = vec![
            ip("10.0.0.1"),
            dns("a.example.com"),
            San::Oid("1.2.3.4".into()),
            ip("2001:db8::1"),
            dns("*.b.example.com"),
        ];
        let der = build_sans(&given).unwrap();
        assert_eq!(
            parse_sans(&der).unwrap(),
            [
                dns("a.example.com"),
                dns("*.b.example.com"),
                ip("10.0.0.1"),
                ip("2001:db8::1"),
                San::Oid("1.2.3.4".into()),
            ]
        );
        // Read in the order written.
        let mut body = tlv(GN_IP, &[10, 0, 0, 1]);
        body.extend(tlv(GN_DNS, b"a.example.com"));
        let mixed = parse_sans(&tlv(TAG_SEQUENCE, &body)).unwrap();
        assert_eq!(mixed, [ip("10.0.0.1"), dns("a.example.com")]);
        assert!(build_sans(&[dns("bad name")]).is_err());
        assert!(build_sans(&[San::Oid("x".into())]).is_err());
        assert!(parse_sans(&[0x30, 0x02, 0x87, 0x00]).is_err());
        assert!(parse_sans(&[0x04, 0x00]).is_err());
    }
}
