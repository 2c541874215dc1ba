//! Putting a certificate chain handed in from outside (an operator's CA) in order, and checking
//! it: the leaf is signed by the given CA (directly, or through the chain), the chain is
//! leaf-first with each certificate issued by the next, and everything is valid at a given time.
//!
//! Rules of [`assemble`]:
//! - Without a given chain, the chain is `[leaf, ca]` and `ca` must have issued the leaf.
//! - With one, the chain is the given one when it starts with the leaf, else the leaf followed
//!   by it. When `ca` is not in it (after the leaf), it is inserted after the leaf if it signed
//!   the leaf (and was issued by the next element, if any), or appended if it issued the last
//!   element (and that one is not self-signed). The chain must then be ordered
//!   ([`check_order`]), and `ca` must have issued the leaf or be one of the chain's CAs.

use std::time::SystemTime;

use openssl::error::ErrorStack;
use openssl::x509::{X509Ref, X509};

use super::verify::{asn1_to_system, issued_by, name_string, subject_string};

/// Added to [`ChainError::NotSignedByCa`]'s message when the names match.
pub const SAME_NAME_NOTE: &str = " (same name, but the signature does not verify with its key)";

/// Which certificate a validity error is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CertRole {
    /// The certificate issued for the request.
    Leaf,
    /// The CA certificate given as the issuer.
    Ca,
    /// Element `position` (1-based, the leaf being 1) of the assembled chain.
    ChainMember { position: usize },
}

impl std::fmt::Display for CertRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CertRole::Leaf => f.write_str("the certificate"),
            CertRole::Ca => f.write_str("the CA certificate"),
            CertRole::ChainMember { position } => write!(f, "certificate {position} of the chain"),
        }
    }
}

/// Why a chain is not acceptable.
#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    #[error("the chain is empty")]
    Empty,
    /// Element `position` (1-based) is not issued by element `position + 1`.
    #[error(
        "the chain is not leaf-first: certificate {position} ({subject}) is not issued by \
         certificate {} ({next_subject}); order it leaf first, each certificate followed by its \
         issuer",
        position + 1
    )]
    Unordered {
        position: usize,
        subject: String,
        next_subject: String,
    },
    /// The CA neither issued the leaf nor is one of the chain's CAs. `same_name`: the leaf's
    /// issuer name is the CA's subject, but the signature does not verify with the CA's key.
    #[error(
        "the certificate is not signed by the CA: its issuer is \"{issuer}\" and the CA is \
         \"{ca_subject}\"{}",
        if *same_name { SAME_NAME_NOTE } else { "" }
    )]
    NotSignedByCa {
        issuer: String,
        ca_subject: String,
        same_name: bool,
    },
    #[error(
        "{which} ({subject}) has expired: it was valid until {} (now {})",
        asn1_text(*not_after),
        asn1_text(*now)
    )]
    Expired {
        which: CertRole,
        subject: String,
        not_after: SystemTime,
        now: SystemTime,
    },
    #[error(
        "{which} ({subject}) is not valid yet: it is valid from {} (now {})",
        asn1_text(*not_before),
        asn1_text(*now)
    )]
    NotYetValid {
        which: CertRole,
        subject: String,
        not_before: SystemTime,
        now: SystemTime,
    },
    #[error("openssl: {0}")]
    OpenSsl(#[from] ErrorStack),
}

/// A time as OpenSSL prints certificate times (`Jan  2 03:04:05 2026 GMT`).
fn asn1_text(t: SystemTime) -> String {
    super::sign::system_to_asn1(t)
        .map(|a| a.to_string())
        .unwrap_or_default()
}

/// Checks that `chain` is leaf-first with each certificate issued by the next one. The error
/// says which link is broken, naming both subjects. An empty chain is an error; a single
/// certificate is a valid chain.
pub fn check_order(chain: &[X509]) -> Result<(), ChainError> {
    if chain.is_empty() {
        return Err(ChainError::Empty);
    }
    for (i, pair) in chain.windows(2).enumerate() {
        if !issued_by(&pair[0], &pair[1]) {
            return Err(ChainError::Unordered {
                position: i + 1,
                subject: subject_string(&pair[0]),
                next_subject: subject_string(&pair[1]),
            });
        }
    }
    Ok(())
}

/// The leaf-first chain for `leaf` issued under `ca`, from the optional chain given with them
/// (rules in the module docs). Checks order and signatures, not validity times.
pub fn assemble(leaf: &X509, ca: &X509, given: Option<Vec<X509>>) -> Result<Vec<X509>, ChainError> {
    let directly_signed = issued_by(leaf, ca);
    let Some(mut chain) = given else {
        if !directly_signed {
            return Err(not_signed_by(leaf, ca));
        }
        return Ok(vec![leaf.clone(), ca.clone()]);
    };
    let leaf_der = leaf.to_der()?;
    let ca_der = ca.to_der()?;
    let starts_with_leaf = match chain.first() {
        Some(first) => first.to_der()? == leaf_der,
        None => false,
    };
    if !starts_with_leaf {
        chain.insert(0, leaf.clone());
    }
    let mut has_ca = false;
    for c in &chain[1..] {
        if c.to_der()? == ca_der {
            has_ca = true;
        }
    }
    if !has_ca {
        // The CA was left out of the given chain: put it where it belongs, when that is clear.
        let last = chain.last().expect("leaf at least");
        if directly_signed && (chain.len() == 1 || issued_by(ca, &chain[1])) {
            chain.insert(1, ca.clone());
            has_ca = true;
        } else if !issued_by(last, last) && issued_by(last, ca) {
            chain.push(ca.clone());
            has_ca = true;
        }
    }
    check_order(&chain)?;
    if !directly_signed && !has_ca {
        return Err(not_signed_by(leaf, ca));
    }
    Ok(chain)
}

fn not_signed_by(leaf: &X509Ref, ca: &X509Ref) -> ChainError {
    ChainError::NotSignedByCa {
        issuer: name_string(leaf.issuer_name()),
        ca_subject: subject_string(ca),
        same_name: leaf.issuer_name().try_cmp(ca.subject_name()).ok()
            == Some(std::cmp::Ordering::Equal),
    }
}

/// Checks that `cert` is valid at `now` (notBefore ≤ now ≤ notAfter).
pub fn check_valid_at(cert: &X509Ref, which: CertRole, now: SystemTime) -> Result<(), ChainError> {
    let not_before = asn1_to_system(cert.not_before());
    let not_after = asn1_to_system(cert.not_after());
    if now > not_after {
        return Err(ChainError::Expired {
            which,
            subject: subject_string(cert),
            not_after,
            now,
        });
    }
    if now < not_before {
        return Err(ChainError::NotYetValid {
            which,
            subject: subject_string(cert),
            not_before,
            now,
        });
    }
    Ok(())
}

/// Checks that the leaf, the CA and every element of `chain` after the first (the leaf) are
/// valid at `now`, in that order; the first failure is returned.
pub fn check_validity(
    leaf: &X509Ref,
    ca: &X509Ref,
    chain: &[X509],
    now: SystemTime,
) -> Result<(), ChainError> {
    check_valid_at(leaf, CertRole::Leaf, now)?;
    check_valid_at(ca, CertRole::Ca, now)?;
    for (i, c) in chain.iter().enumerate().skip(1) {
        check_valid_at(c, CertRole::ChainMember { position: i + 1 }, now)?;
    }
    Ok(())
}

/// [`assemble`], then [`check_validity`] of the result at `now`: the chain to publish.
pub fn verify_chain(
    leaf: &X509,
    ca: &X509,
    given: Option<Vec<X509>>,
    now: SystemTime,
) -> Result<Vec<X509>, ChainError> {
    let chain = assemble(leaf, ca, given)?;
    check_validity(leaf, ca, &chain, now)?;
    Ok(chain)
}
