//! Differential tests of the fast path against OpenSSL: requests generated with `openssl` and
//! `rcgen`, byte mutants and structural mutants (re-signed), and the helpers that make them.

use super::*;

/// The property against OpenSSL itself: when the fast path accepts `der_bytes`, OpenSSL's
/// `X509_REQ` parser accepts them, the request verifies with its own key, OpenSSL reads the
/// same subject and key (DER, byte for byte), and the key bits the fast path keeps for the key
/// identifier are those of OpenSSL's encoding of the key. Also the full path's reading (key
/// class and size) agrees. Returns whether the fast path accepted.
pub(super) fn agrees_with_openssl(der_bytes: &[u8], what: &dyn Fn() -> String) -> bool {
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
pub(super) fn parsed_agrees_with_openssl(der_bytes: &[u8], what: &dyn Fn() -> String) -> bool {
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
pub(super) struct Signer {
    name: &'static str,
    pub(super) key: PKey<Private>,
    digests: [MessageDigest; 3],
}

/// The keys, made once for all the tests (RSA 4096 takes a while).
pub(super) fn signers() -> &'static [Signer] {
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

pub(super) fn signer(name: &str) -> &'static Signer {
    signers().iter().find(|s| s.name == name).unwrap()
}

/// The `signatureAlgorithm` for `key` and `digest`, as OpenSSL writes it.
pub(super) fn sig_alg(key: &PKey<Private>, digest: MessageDigest) -> Vec<u8> {
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
pub(super) fn signed(info: &[u8], key: &PKey<Private>, digest: MessageDigest) -> Vec<u8> {
    let sig = openssl::sign::Signer::new(digest, key)
        .unwrap()
        .sign_oneshot_to_vec(info)
        .unwrap();
    let bits = der::tlv(der::TAG_BIT_STRING, &[&[0u8][..], &sig].concat());
    let content = [info, &sig_alg(key, digest), &bits].concat();
    der::tlv(der::TAG_SEQUENCE, &content)
}

/// The raw CertificationRequestInfo of a request.
pub(super) fn info_of(csr: &[u8]) -> Vec<u8> {
    let top = der::read_single(csr).unwrap();
    raw_children(top.content).unwrap()[0].1.to_vec()
}

/// Requests made with the `openssl` crate: each key and digest, a plain subject or a fuller
/// one or none, with and without extensions.
pub(super) fn openssl_csrs() -> Vec<(String, Vec<u8>)> {
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
pub(super) fn rcgen_csrs() -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let keys = [
        ("p256", &rcgen::PKCS_ECDSA_P256_SHA256),
        ("p384", &rcgen::PKCS_ECDSA_P384_SHA384),
        ("rsa2048", &rcgen::PKCS_RSA_SHA256),
        ("rsa3072", &rcgen::PKCS_RSA_SHA512),
    ];
    for (name, alg) in keys {
        let pem = signer(name).key.private_key_to_pem_pkcs8().unwrap();
        let key = rcgen::KeyPair::from_pem_and_sign_algo(std::str::from_utf8(&pem).unwrap(), alg)
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
pub(super) fn sample(what: &str) -> Vec<u8> {
    openssl_csrs()
        .into_iter()
        .chain(rcgen_csrs())
        .find(|(w, _)| w == what)
        .unwrap_or_else(|| panic!("no sample {what}"))
        .1
}

/// Changes of one octet: the three flips and plus/minus one.
pub(super) const BYTE_CHANGES: [fn(u8) -> u8; 5] = [
    |b| b ^ 0x01,
    |b| b ^ 0x80,
    |b| b ^ 0xff,
    |b| b.wrapping_add(1),
    |b| b.wrapping_sub(1),
];

/// A DER tree, for structural mutations: a constructed TLV, or a BIT STRING or OCTET STRING
/// that wraps DER, has children (after `prefix`, a BIT STRING's unused-bits octet).
#[derive(Clone)]
pub(super) struct Node {
    tag: u8,
    length: Length,
    prefix: Vec<u8>,
    kids: Option<Vec<Node>>,
    raw: Vec<u8>,
}

#[derive(Clone, Copy, PartialEq)]
pub(super) enum Length {
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
pub(super) fn structural_mutants(tree: &Node, path: &[usize]) -> Vec<(&'static str, Node)> {
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
pub(super) fn mutant_bytes(
    tree: &Node,
    path: &[usize],
    s: &Signer,
    digest: MessageDigest,
) -> Vec<u8> {
    let kids = tree.kids.as_deref().unwrap_or_default();
    if path.first() != Some(&0) || kids.len() != 3 || kids[2].tag != der::TAG_BIT_STRING {
        return tree.encode();
    }
    signed(&kids[0].encode(), &s.key, digest)
}

/// Every generated request (openssl and rcgen, each key size and curve, with and without
/// extensions) takes the fast path and agrees with OpenSSL.
#[test]
pub(super) fn differential_generated_requests_agree_with_openssl() {
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
pub(super) fn differential_byte_mutants_agree_with_openssl() {
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
pub(super) fn differential_structural_mutants_agree_with_openssl() {
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
