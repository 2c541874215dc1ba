//! The few facts of a certificate the expiry watch needs (serial, validity, common name), read
//! from its DER with the crate's DER reader rather than `X509::from_pem`: a full pass looks at
//! every published certificate, and OpenSSL 3's decoders cost far more than these few fields.

use std::time::SystemTime;

use base64::Engine;

use crate::charm::clock::parse_rfc3339;
use crate::pki::der::{children, read_tlv, Tlv, TAG_OID, TAG_SEQUENCE, TAG_SET};

/// commonName (2.5.4.3), DER content of its OID.
const OID_CN: &[u8] = &[0x55, 0x04, 0x03];
const TAG_INTEGER: u8 = 0x02;
const TAG_UTC_TIME: u8 = 0x17;
const TAG_GENERALIZED_TIME: u8 = 0x18;

/// What the expiry watch reads of one certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertFacts {
    /// Upper-case hex without leading zero bytes, as `openssl x509 -serial` and
    /// `BigNum::to_hex_str` print it.
    pub serial: String,
    pub not_before: SystemTime,
    pub not_after: SystemTime,
    /// The subject's first commonName ("" when it has none).
    pub common_name: String,
}

/// The facts of the first certificate in `pem` (a leaf followed by its chain is fine);
/// `None` when it is not a certificate we can read.
pub fn cert_facts(pem: &str) -> Option<CertFacts> {
    let der = first_der(pem)?;
    let cert = children(read_tlv(&der)?.0, TAG_SEQUENCE)?;
    let tbs = children(*cert.first()?, TAG_SEQUENCE)?;
    // [0] version is optional (v1 certificates have none).
    let skip = usize::from(tbs.first()?.tag == 0xa0);
    let serial = tbs.get(skip).filter(|t| t.tag == TAG_INTEGER)?;
    let validity = children(*tbs.get(skip + 3)?, TAG_SEQUENCE)?;
    let subject = tbs.get(skip + 4)?;
    Some(CertFacts {
        serial: serial_hex(serial.content),
        not_before: time_of(validity.first()?)?,
        not_after: time_of(validity.get(1)?)?,
        common_name: common_name(*subject).unwrap_or_default(),
    })
}

fn first_der(pem: &str) -> Option<Vec<u8>> {
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    const END: &str = "-----END CERTIFICATE-----";
    let start = pem.find(BEGIN)? + BEGIN.len();
    let len = pem[start..].find(END)?;
    let body: String = pem[start..start + len]
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    base64::engine::general_purpose::STANDARD.decode(body).ok()
}

fn serial_hex(content: &[u8]) -> String {
    let bytes: Vec<u8> = content.iter().copied().skip_while(|b| *b == 0).collect();
    if bytes.is_empty() {
        return "0".into();
    }
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

/// A UTCTime (`YYMMDDHHMMSSZ`, years 1950-2049) or GeneralizedTime (`YYYYMMDDHHMMSSZ`).
fn time_of(t: &Tlv<'_>) -> Option<SystemTime> {
    let s = std::str::from_utf8(t.content).ok()?;
    let full = match (t.tag, s.len()) {
        (TAG_UTC_TIME, 13) => {
            let yy: u32 = s.get(..2)?.parse().ok()?;
            let century = if yy >= 50 { "19" } else { "20" };
            format!("{century}{s}")
        }
        (TAG_GENERALIZED_TIME, 15) => s.to_string(),
        _ => return None,
    };
    let b = full.get(..14)?;
    if !full.ends_with('Z') || !b.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    parse_rfc3339(&format!(
        "{}-{}-{}T{}:{}:{}Z",
        &b[..4],
        &b[4..6],
        &b[6..8],
        &b[8..10],
        &b[10..12],
        &b[12..14]
    ))
}

/// The first commonName of a Name (SEQUENCE OF SET OF AttributeTypeAndValue).
fn common_name(name: Tlv<'_>) -> Option<String> {
    for rdn in children(name, TAG_SEQUENCE)? {
        for atv in children(rdn, TAG_SET)? {
            let parts = children(atv, TAG_SEQUENCE)?;
            let (oid, value) = (parts.first()?, parts.get(1)?);
            if oid.tag == TAG_OID && oid.content == OID_CN {
                return Some(String::from_utf8_lossy(value.content).into_owned());
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pki::verify::asn1_to_system;
    use openssl::x509::X509;

    fn self_signed(cn: &str, days: u32) -> X509 {
        use openssl::asn1::Asn1Time;
        use openssl::bn::BigNum;
        use openssl::ec::{EcGroup, EcKey};
        use openssl::hash::MessageDigest;
        use openssl::nid::Nid;
        use openssl::pkey::PKey;
        use openssl::x509::{X509Builder, X509NameBuilder};
        let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
        let key = PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap();
        let mut name = X509NameBuilder::new().unwrap();
        name.append_entry_by_text("O", "Example").unwrap();
        name.append_entry_by_text("CN", cn).unwrap();
        let name = name.build();
        let mut b = X509Builder::new().unwrap();
        b.set_version(2).unwrap();
        let serial = BigNum::from_hex_str("00A1B2C3D4E5F60718").unwrap();
        b.set_serial_number(&serial.to_asn1_integer().unwrap())
            .unwrap();
        b.set_subject_name(&name).unwrap();
        b.set_issuer_name(&name).unwrap();
        b.set_pubkey(&key).unwrap();
        b.set_not_before(&Asn1Time::days_from_now(0).unwrap())
            .unwrap();
        b.set_not_after(&Asn1Time::days_from_now(days).unwrap())
            .unwrap();
        b.sign(&key, MessageDigest::sha256()).unwrap();
        b.build()
    }

    #[test]
    fn facts_match_what_openssl_reads() {
        // 40 years: notAfter is a GeneralizedTime after 2049.
        for days in [90, 365 * 40] {
            let cert = self_signed("web server.example.com", days);
            let pem = String::from_utf8(cert.to_pem().unwrap()).unwrap();
            let f = cert_facts(&format!("{pem}{pem}")).expect("facts");
            let serial = cert.serial_number().to_bn().unwrap().to_hex_str().unwrap();
            assert_eq!(f.serial, serial.to_string());
            assert_eq!(f.not_before, asn1_to_system(cert.not_before()));
            assert_eq!(f.not_after, asn1_to_system(cert.not_after()));
            assert_eq!(f.common_name, "web server.example.com");
        }
        assert_eq!(cert_facts("not a pem"), None);
        assert_eq!(
            cert_facts("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----"),
            None
        );
    }
}
