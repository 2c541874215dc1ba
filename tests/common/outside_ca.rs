//! A CA outside Juju, made with the `openssl` command line as an operator would: a self-signed
//! root and an intermediate it signed, which signs requests the way the README's manual-mode steps
//! do (`openssl x509 -req -CA int.pem -CAkey int.key -copy_extensions copyall -extfile ...`).
//!
//! Uses only std, `tempfile` and the sibling `pki` module (`super::pki`), so the `make demo`
//! example (`examples/demo.rs`) includes it too.

use std::cell::Cell;
use std::path::Path;

use super::pki::{openssl_cli, openssl_ok, openssl_req_p256};

/// Extensions of a CA certificate (the intermediate, or a certificate for an `is-ca` request).
pub const CA_EXT: &str =
    "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n\
                      subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n";
/// Extensions of a leaf certificate.
pub const LEAF_EXT: &str =
    "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n\
     extendedKeyUsage=serverAuth,clientAuth\nsubjectKeyIdentifier=hash\n\
     authorityKeyIdentifier=keyid\n";

/// Subject of the outside root.
pub const ROOT_SUBJECT: &str = "/CN=Outside Root CA/O=Example";
/// Subject of the outside intermediate.
pub const INTERMEDIATE_SUBJECT: &str = "/CN=Outside Intermediate CA/O=Example";

/// Which of the outside CA's keys signs in [`OutsideCa::sign_with`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signer {
    /// The self-signed root (`root.pem`/`root.key`).
    Root,
    /// The intermediate (`int.pem`/`int.key`).
    Intermediate,
}

/// An outside CA: `root.pem`/`root.key` (RSA 2048, self-signed) and `int.pem`/`int.key`
/// (EC P-256, signed by the root), in a temporary directory.
pub struct OutsideCa {
    dir: tempfile::TempDir,
    serial: Cell<u32>,
}

impl Default for OutsideCa {
    fn default() -> OutsideCa {
        OutsideCa::new()
    }
}

impl OutsideCa {
    /// Makes the root and the intermediate.
    pub fn new() -> OutsideCa {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(d.join("ca.ext"), CA_EXT).unwrap();
        std::fs::write(d.join("cert-ca.ext"), CA_EXT).unwrap();
        std::fs::write(d.join("leaf.ext"), LEAF_EXT).unwrap();
        openssl_ok(
            d,
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                "root.key",
                "-out",
                "root.pem",
                "-days",
                "365",
                "-subj",
                ROOT_SUBJECT,
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
            ],
        );
        openssl_req_p256(d, &[], "int.key", "int.csr", INTERMEDIATE_SUBJECT, &[]);
        openssl_ok(
            d,
            &[
                "x509",
                "-req",
                "-in",
                "int.csr",
                "-CA",
                "root.pem",
                "-CAkey",
                "root.key",
                "-set_serial",
                "1000",
                "-days",
                "180",
                "-extfile",
                "ca.ext",
                "-out",
                "int.pem",
            ],
        );
        OutsideCa {
            dir,
            serial: Cell::new(2000),
        }
    }

    /// The directory holding the CA's files.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(name)).unwrap()
    }

    /// The root certificate (PEM).
    pub fn root_pem(&self) -> String {
        self.read("root.pem")
    }

    /// The intermediate certificate (PEM).
    pub fn int_pem(&self) -> String {
        self.read("int.pem")
    }

    /// The root's private key (PEM, PKCS#8).
    pub fn root_key_pem(&self) -> String {
        self.read("root.key")
    }

    /// The intermediate's private key (PEM, PKCS#8).
    pub fn int_key_pem(&self) -> String {
        self.read("int.key")
    }

    /// Signs `csr` with `signer` for `days` days with exactly the extensions of `ext` (an
    /// `openssl x509 -extfile` text such as [`CA_EXT`] or [`LEAF_EXT`]; the CSR's own are not
    /// copied), as an operator building a certificate by hand, good or bad. Returns the
    /// certificate (PEM).
    pub fn sign_with(&self, csr: &str, signer: Signer, days: u32, ext: &str) -> String {
        let d = self.dir.path();
        let n = self.serial.get() + 1;
        self.serial.set(n);
        let (ca, ca_key) = match signer {
            Signer::Root => ("root.pem", "root.key"),
            Signer::Intermediate => ("int.pem", "int.key"),
        };
        let csr_file = format!("{n}.csr");
        let ext_file = format!("{n}.ext");
        let out = format!("{n}.pem");
        std::fs::write(d.join(&csr_file), csr).unwrap();
        std::fs::write(d.join(&ext_file), ext).unwrap();
        openssl_ok(
            d,
            &[
                "x509",
                "-req",
                "-in",
                &csr_file,
                "-CA",
                ca,
                "-CAkey",
                ca_key,
                "-set_serial",
                &n.to_string(),
                "-days",
                &days.to_string(),
                "-extfile",
                &ext_file,
                "-out",
                &out,
            ],
        );
        self.read(&out)
    }

    /// Signs `csr` with the intermediate for 30 days (copying the CSR's SANs); `ca` makes a CA
    /// certificate. Returns the certificate (PEM).
    pub fn sign(&self, csr: &str, ca: bool) -> String {
        let d = self.dir.path();
        let n = self.serial.get() + 1;
        self.serial.set(n);
        std::fs::write(d.join(format!("{n}.csr")), csr).unwrap();
        let serial = n.to_string();
        let csr_file = format!("{n}.csr");
        let out = format!("{n}.pem");
        openssl_ok(
            d,
            &[
                "x509",
                "-req",
                "-in",
                &csr_file,
                "-CA",
                "int.pem",
                "-CAkey",
                "int.key",
                "-set_serial",
                &serial,
                "-days",
                "30",
                "-copy_extensions",
                "copyall",
                "-extfile",
                if ca { "cert-ca.ext" } else { "leaf.ext" },
                "-out",
                &out,
            ],
        );
        self.read(&out)
    }

    /// `openssl verify -CAfile root.pem -untrusted <untrusted> <leaf>`: (success, output).
    pub fn verify_cli(&self, leaf: &str, untrusted: &str) -> (bool, String) {
        let d = self.dir.path();
        std::fs::write(d.join("check-leaf.pem"), leaf).unwrap();
        std::fs::write(d.join("check-untrusted.pem"), untrusted).unwrap();
        openssl_cli(
            d,
            &[
                "verify",
                "-CAfile",
                "root.pem",
                "-untrusted",
                "check-untrusted.pem",
                "check-leaf.pem",
            ],
        )
    }

    /// As [`OutsideCa::verify_cli`], asserting that it succeeds; returns the output.
    pub fn verify(&self, leaf: &str, untrusted: &str) -> String {
        let (ok, text) = self.verify_cli(leaf, untrusted);
        assert!(ok, "openssl verify failed: {text}");
        text
    }
}
