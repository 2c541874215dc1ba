//! Errors from the PKI layer that are our fault, the operator's configuration, or OpenSSL's (not
//! a requirer's input: see [`super::CsrError`] for that). Each message is shown to operators as
//! is.

use openssl::error::ErrorStack;

use super::verify::CertError;

/// What [`PkiError::KeyNotPem`] says.
const KEY_NOT_PEM: &str = "not a PEM private key (PKCS#8, RSA or EC)";

/// Why a PKI operation failed.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    #[error("openssl: {0}")]
    OpenSsl(#[from] ErrorStack),

    // Keys.
    #[error("{KEY_NOT_PEM}")]
    KeyNotPem,
    #[error("key PEM is not UTF-8")]
    KeyPemNotUtf8,
    #[error("cannot read the public key bits")]
    PublicKeyBits,

    // Names put into CSRs and certificates.
    #[error("common name {0:?} is longer than 64 characters")]
    CommonNameTooLong(String),
    #[error("common name {common_name:?}: {source}")]
    CommonNameNotEncodable {
        common_name: String,
        source: ErrorStack,
    },
    #[error("DNS name {0:?} is empty or not printable ASCII")]
    BadDnsName(String),
    #[error("{0:?} is not a dotted OID")]
    BadOid(String),

    // Validity.
    #[error("certificate validity must be positive")]
    ValidityZero,
    #[error("notAfter would not be after notBefore")]
    ValidityInverted,
    #[error("the CA certificate has expired; rotate the CA before issuing")]
    CaExpired,

    // The CA.
    #[error(transparent)]
    CaSubject(#[from] CaSubjectError),
    #[error("CA validity must be positive")]
    CaValidityZero,
    #[error("CA validity is too long")]
    CaValidityTooLong,
    #[error("CA certificate: {0}")]
    CaCertNotPem(#[source] CertError),
    #[error("CA certificate: expected one certificate, found {0}")]
    CaCertCount(usize),
    #[error("CA private key: {KEY_NOT_PEM}")]
    CaKeyNotPem,
    #[error("the CA private key does not match the CA certificate")]
    CaKeyMismatch,
    #[error("the CA certificate does not have BasicConstraints CA:TRUE")]
    CaCertNotCa,

    // Revocation.
    #[error(
        "{0:?} is not a certificate serial number (hex digits, as `openssl x509 -serial` prints)"
    )]
    BadSerial(String),
    #[error("the CA key is neither RSA nor EC; cannot sign a CRL with it")]
    CrlKeyUnsupported,
}

/// Why the configured CA subject cannot be used. `option` is the config option.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum CaSubjectError {
    #[error("ca-common-name is empty; set it to a name for the CA")]
    EmptyCommonName,
    #[error("{option}={value:?} is not a two-letter country code (ISO 3166, e.g. GB)")]
    NotCountryCode { option: &'static str, value: String },
    #[error("{option}={value:?} must be ASCII")]
    NotAscii { option: &'static str, value: String },
    #[error("{option} is {chars} characters long; the limit is 64")]
    TooLong { option: &'static str, chars: usize },
    #[error("{option}={value:?} cannot be encoded: {reason}")]
    NotEncodable {
        option: &'static str,
        value: String,
        /// OpenSSL's message.
        reason: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The texts operators and tests see (they were plain strings before these variants).
    #[test]
    fn messages() {
        let cases: Vec<(PkiError, &str)> = vec![
            (
                PkiError::KeyNotPem,
                "not a PEM private key (PKCS#8, RSA or EC)",
            ),
            (PkiError::KeyPemNotUtf8, "key PEM is not UTF-8"),
            (PkiError::PublicKeyBits, "cannot read the public key bits"),
            (
                PkiError::CommonNameTooLong("x".into()),
                "common name \"x\" is longer than 64 characters",
            ),
            (
                PkiError::BadDnsName("a b".into()),
                "DNS name \"a b\" is empty or not printable ASCII",
            ),
            (PkiError::BadOid("x".into()), "\"x\" is not a dotted OID"),
            (
                PkiError::ValidityZero,
                "certificate validity must be positive",
            ),
            (
                PkiError::ValidityInverted,
                "notAfter would not be after notBefore",
            ),
            (
                PkiError::CaExpired,
                "the CA certificate has expired; rotate the CA before issuing",
            ),
            (PkiError::CaValidityZero, "CA validity must be positive"),
            (PkiError::CaValidityTooLong, "CA validity is too long"),
            (
                PkiError::CaCertNotPem(CertError::NotPem("why".into())),
                "CA certificate: not a PEM certificate: why",
            ),
            (
                PkiError::CaCertCount(2),
                "CA certificate: expected one certificate, found 2",
            ),
            (
                PkiError::CaKeyNotPem,
                "CA private key: not a PEM private key (PKCS#8, RSA or EC)",
            ),
            (
                PkiError::CaKeyMismatch,
                "the CA private key does not match the CA certificate",
            ),
            (
                PkiError::CaCertNotCa,
                "the CA certificate does not have BasicConstraints CA:TRUE",
            ),
            (
                CaSubjectError::EmptyCommonName.into(),
                "ca-common-name is empty; set it to a name for the CA",
            ),
            (
                CaSubjectError::NotCountryCode {
                    option: "ca-country-name",
                    value: "GBR".into(),
                }
                .into(),
                "ca-country-name=\"GBR\" is not a two-letter country code (ISO 3166, e.g. GB)",
            ),
            (
                CaSubjectError::NotAscii {
                    option: "ca-email-address",
                    value: "é".into(),
                }
                .into(),
                "ca-email-address=\"é\" must be ASCII",
            ),
            (
                CaSubjectError::TooLong {
                    option: "ca-organization",
                    chars: 65,
                }
                .into(),
                "ca-organization is 65 characters long; the limit is 64",
            ),
            (
                CaSubjectError::NotEncodable {
                    option: "ca-locality-name",
                    value: "x".into(),
                    reason: "why".into(),
                }
                .into(),
                "ca-locality-name=\"x\" cannot be encoded: why",
            ),
        ];
        for (err, want) in cases {
            assert_eq!(err.to_string(), want);
        }
    }
}
