//! The CSR every benchmark sends: EC P-256 key, CN and one DNS SAN `cn`, SHA-256 (PEM, no
//! trailing newline).

use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::PKey;
use openssl::stack::Stack;
use openssl::x509::extension::SubjectAlternativeName;
use openssl::x509::{X509NameBuilder, X509ReqBuilder};

pub fn csr(cn: &str) -> String {
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
    let key = PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap();
    let mut b = X509ReqBuilder::new().unwrap();
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_nid(Nid::COMMONNAME, cn).unwrap();
    b.set_subject_name(&name.build()).unwrap();
    b.set_pubkey(&key).unwrap();
    let mut san = SubjectAlternativeName::new();
    san.dns(cn);
    let ext = san.build(&b.x509v3_context(None)).unwrap();
    let mut stack = Stack::new().unwrap();
    stack.push(ext).unwrap();
    b.add_extensions(&stack).unwrap();
    b.sign(&key, MessageDigest::sha256()).unwrap();
    String::from_utf8(b.build().to_pem().unwrap())
        .unwrap()
        .trim_end()
        .to_string()
}
