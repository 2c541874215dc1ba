//! The built-in CA: generation, (de)serialisation to PEM, and the checks that decide rotation.

use std::time::SystemTime;

use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::x509::extension::{BasicConstraints, KeyUsage};
use openssl::x509::{X509Extension, X509Name, X509NameBuilder, X509};

use super::sign::{
    authority_key_id_ext, random_serial, set_validity, subject_key_id, subject_key_id_ext,
};
use super::verify::{asn1_to_system, is_ca, parse_certs};
use super::{CaSubjectError, KeyAlgorithm, PkiError};

/// How far back a generated CA's notBefore is set (clock skew between machines).
pub const CA_BACKDATE_SECS: u64 = 60;

/// The CA's subject, from config. Empty strings are treated as unset.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CaSubject {
    pub common_name: String,
    pub organization: Option<String>,
    pub organizational_unit: Option<String>,
    pub email_address: Option<String>,
    pub country_name: Option<String>,
    pub state_or_province_name: Option<String>,
    pub locality_name: Option<String>,
}

impl CaSubject {
    /// The set attributes as (NID, config option, value), in the order they go in the name:
    /// CN, O, OU, emailAddress, C, ST, L.
    pub(crate) fn attributes(&self) -> Vec<(Nid, &'static str, &str)> {
        let mut out = Vec::new();
        if !self.common_name.is_empty() {
            out.push((Nid::COMMONNAME, "ca-common-name", self.common_name.as_str()));
        }
        let rest = [
            (Nid::ORGANIZATIONNAME, "ca-organization", &self.organization),
            (
                Nid::ORGANIZATIONALUNITNAME,
                "ca-organizational-unit",
                &self.organizational_unit,
            ),
            (
                Nid::PKCS9_EMAILADDRESS,
                "ca-email-address",
                &self.email_address,
            ),
            (Nid::COUNTRYNAME, "ca-country-name", &self.country_name),
            (
                Nid::STATEORPROVINCENAME,
                "ca-state-or-province-name",
                &self.state_or_province_name,
            ),
            (Nid::LOCALITYNAME, "ca-locality-name", &self.locality_name),
        ];
        for (nid, option, value) in rest {
            if let Some(v) = value.as_deref().filter(|s| !s.is_empty()) {
                out.push((nid, option, v));
            }
        }
        out
    }

    /// Builds the X.509 name. Errors name the config option and say what is wrong.
    pub fn to_x509_name(&self) -> Result<X509Name, PkiError> {
        if self.common_name.is_empty() {
            return Err(CaSubjectError::EmptyCommonName.into());
        }
        let mut b = X509NameBuilder::new()?;
        for (nid, option, value) in self.attributes() {
            if nid == Nid::COUNTRYNAME
                && !(value.len() == 2 && value.bytes().all(|c| c.is_ascii_alphabetic()))
            {
                return Err(CaSubjectError::NotCountryCode {
                    option,
                    value: value.to_string(),
                }
                .into());
            }
            if nid == Nid::PKCS9_EMAILADDRESS && !value.is_ascii() {
                return Err(CaSubjectError::NotAscii {
                    option,
                    value: value.to_string(),
                }
                .into());
            }
            if value.chars().count() > 64 {
                return Err(CaSubjectError::TooLong {
                    option,
                    chars: value.chars().count(),
                }
                .into());
            }
            b.append_entry_by_nid(nid, value)
                .map_err(|e| CaSubjectError::NotEncodable {
                    option,
                    value: value.to_string(),
                    reason: e.to_string(),
                })?;
        }
        Ok(b.build())
    }
}

/// The extensions that make a certificate a CA that signs certificates and CRLs:
/// basicConstraints CA:TRUE and keyUsage keyCertSign + cRLSign, both critical (a root's, and
/// what an intermediate's CSR asks for).
pub(crate) fn ca_extensions() -> Result<[X509Extension; 2], PkiError> {
    Ok([
        BasicConstraints::new().critical().ca().build()?,
        KeyUsage::new()
            .critical()
            .key_cert_sign()
            .crl_sign()
            .build()?,
    ])
}

/// A CA certificate with its private key.
pub struct Ca {
    pub cert: X509,
    pub key: PKey<Private>,
}

impl std::fmt::Debug for Ca {
    /// Never prints the key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ca")
            .field("subject", &super::verify::subject_string(&self.cert))
            .field("key", &"<redacted>")
            .finish()
    }
}

impl Ca {
    /// A new self-signed root: BasicConstraints CA:TRUE (critical), KeyUsage keyCertSign+cRLSign
    /// (critical), SKI, AKI; random serial; notBefore a minute back; notAfter now + `validity_secs`.
    pub fn generate(
        subject: &CaSubject,
        alg: KeyAlgorithm,
        validity_secs: u64,
    ) -> Result<Ca, PkiError> {
        Ca::generate_at(subject, alg, validity_secs, SystemTime::now())
    }

    /// [`Ca::generate`] with an explicit "now" (simulated clocks, tests).
    /// notBefore = now − [`CA_BACKDATE_SECS`], notAfter = now + `validity_secs`.
    pub fn generate_at(
        subject: &CaSubject,
        alg: KeyAlgorithm,
        validity_secs: u64,
        now: SystemTime,
    ) -> Result<Ca, PkiError> {
        if validity_secs == 0 {
            return Err(PkiError::CaValidityZero);
        }
        let name = subject.to_x509_name()?;
        let key = alg.generate()?;
        let mut b = X509::builder()?;
        b.set_version(2)?;
        let serial = random_serial()?;
        b.set_serial_number(&serial)?;
        b.set_subject_name(&name)?;
        b.set_issuer_name(&name)?;
        b.set_pubkey(&key)?;
        let not_before = now
            .checked_sub(std::time::Duration::from_secs(CA_BACKDATE_SECS))
            .unwrap_or(now);
        let not_after = now
            .checked_add(std::time::Duration::from_secs(validity_secs))
            .ok_or(PkiError::CaValidityTooLong)?;
        set_validity(&mut b, not_before, not_after)?;
        for ext in ca_extensions()? {
            b.append_extension(ext)?;
        }
        let ski = subject_key_id(&key)?;
        b.append_extension(subject_key_id_ext(&ski)?)?;
        b.append_extension(authority_key_id_ext(&ski)?)?;
        b.sign(&key, alg.digest())?;
        Ok(Ca {
            cert: b.build(),
            key,
        })
    }

    /// Loads a CA from PEM certificate and PEM private key (checks that they match).
    /// Also refuses a certificate that is not a CA (BasicConstraints CA:TRUE).
    pub fn from_pem(cert_pem: &str, key_pem: &str) -> Result<Ca, PkiError> {
        let mut certs = parse_certs(cert_pem).map_err(PkiError::CaCertNotPem)?;
        if certs.len() != 1 {
            return Err(PkiError::CaCertCount(certs.len()));
        }
        let cert = certs.remove(0);
        let key = super::keys::private_key_from_pem(key_pem).map_err(|_| PkiError::CaKeyNotPem)?;
        let public = cert.public_key()?;
        if !key.public_eq(&public) {
            return Err(PkiError::CaKeyMismatch);
        }
        if !is_ca(&cert) {
            return Err(PkiError::CaCertNotCa);
        }
        Ok(Ca { cert, key })
    }

    /// The certificate as PEM, without a trailing newline.
    pub fn cert_pem(&self) -> String {
        super::sign::cert_to_pem(&self.cert)
    }

    /// The private key as PKCS#8 PEM. Only ever goes into a Juju secret.
    /// (Empty only if OpenSSL fails to encode, which does not happen for keys it generated.)
    pub fn key_pem(&self) -> String {
        super::keys::private_key_to_pem(&self.key).unwrap_or_else(|e| {
            tracing::error!("cannot encode the CA private key as PEM: {e}");
            String::new()
        })
    }

    /// Whether the certificate's subject equals `subject` (same attributes, same values).
    /// Compares the exact multiset of (attribute, value) pairs; any extra attribute in the
    /// certificate makes it differ.
    pub fn subject_matches(&self, subject: &CaSubject) -> bool {
        let mut want: Vec<(i32, String)> = subject
            .attributes()
            .into_iter()
            .map(|(nid, _, v)| (nid.as_raw(), v.to_string()))
            .collect();
        let mut have = Vec::new();
        for entry in self.cert.subject_name().entries() {
            let Ok(value) = entry.data().to_string() else {
                return false;
            };
            have.push((entry.object().nid().as_raw(), value));
        }
        want.sort();
        have.sort();
        want == have
    }

    pub fn key_algorithm(&self) -> Option<KeyAlgorithm> {
        KeyAlgorithm::of_key(&self.key)
    }

    /// notAfter − notBefore in seconds. For a CA made by [`Ca::generate`] this is the requested
    /// validity plus [`CA_BACKDATE_SECS`]; see [`Ca::requested_validity_secs`].
    pub fn validity_secs(&self) -> u64 {
        let nb = self.not_before();
        self.not_after()
            .duration_since(nb)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    }

    /// The `validity_secs` this CA was generated with (notAfter − notBefore − backdate), for
    /// comparing with the configured root validity.
    pub fn requested_validity_secs(&self) -> u64 {
        self.validity_secs().saturating_sub(CA_BACKDATE_SECS)
    }

    pub fn not_before(&self) -> SystemTime {
        asn1_to_system(self.cert.not_before())
    }

    pub fn not_after(&self) -> SystemTime {
        asn1_to_system(self.cert.not_after())
    }
}
