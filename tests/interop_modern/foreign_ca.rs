//! Certificates from a throwaway CA (not the provider's), for negative controls written into the
//! provider databag by the tests.

use openssl::asn1::Asn1Time;
use openssl::bn::{BigNum, MsbOption};
use openssl::hash::MessageDigest;
use openssl::x509::extension::{
    AuthorityKeyIdentifier, BasicConstraints, KeyUsage, SubjectKeyIdentifier,
};
use openssl::x509::{X509Builder, X509NameBuilder, X509Req};

use crate::common::interop::*;

/// Signs `csr`'s key with a throwaway CA (not the provider's), CA flag `is_ca`: for negative
/// controls written into the provider databag by the test.
pub fn foreign_certificate(csr: &str, is_ca: bool) -> (String, String) {
    let req = X509Req::from_pem(csr.as_bytes()).unwrap();
    let c = crafted("foreign CA");
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_text("CN", "foreign CA").unwrap();
    let name = name.build();
    let build = |subject: &openssl::x509::X509NameRef,
                 key: &openssl::pkey::PKeyRef<openssl::pkey::Public>,
                 ca: bool,
                 issuer: Option<&openssl::x509::X509Ref>| {
        let mut b = X509Builder::new().unwrap();
        b.set_version(2).unwrap();
        let mut serial = BigNum::new().unwrap();
        serial.rand(96, MsbOption::MAYBE_ZERO, false).unwrap();
        b.set_serial_number(&serial.to_asn1_integer().unwrap())
            .unwrap();
        b.set_subject_name(subject).unwrap();
        b.set_issuer_name(&name).unwrap();
        b.set_pubkey(key).unwrap();
        b.set_not_before(&Asn1Time::days_from_now(0).unwrap())
            .unwrap();
        b.set_not_after(&Asn1Time::days_from_now(30).unwrap())
            .unwrap();
        let mut bc = BasicConstraints::new();
        bc.critical();
        if ca {
            bc.ca();
        }
        b.append_extension(bc.build().unwrap()).unwrap();
        let mut ku = KeyUsage::new();
        ku.critical();
        if ca {
            ku.key_cert_sign().crl_sign();
        } else {
            ku.digital_signature();
        }
        b.append_extension(ku.build().unwrap()).unwrap();
        let ski = SubjectKeyIdentifier::new()
            .build(&b.x509v3_context(issuer, None))
            .unwrap();
        b.append_extension(ski).unwrap();
        let aki = AuthorityKeyIdentifier::new()
            .keyid(true)
            .build(&b.x509v3_context(issuer, None))
            .unwrap();
        b.append_extension(aki).unwrap();
        b.sign(&c.key, MessageDigest::sha256()).unwrap();
        b.build()
    };
    let ca_pub =
        openssl::pkey::PKey::public_key_from_pem(&c.key.public_key_to_pem().unwrap()).unwrap();
    let ca = build(&name, &ca_pub, true, None);
    let leaf = build(
        req.subject_name(),
        &req.public_key().unwrap(),
        is_ca,
        Some(&ca),
    );
    let pem = |x: &openssl::x509::X509| String::from_utf8(x.to_pem().unwrap()).unwrap();
    (pem(&leaf), pem(&ca))
}
