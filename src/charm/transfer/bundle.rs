//! What the trust bundle holds, and why each certificate is in it.
//!
//! - the active built-in CA (self-signed mode);
//! - the announced next CA during a rotation's overlap, and the previous CA until its trust
//!   period ends (see [`crate::charm::ca::rotation`]);
//! - every CA that a certificate published on `certificates` chains to: its `ca` and the root of
//!   its chain (operator-provided certificates in manual mode, an outside root), unexpired;
//! - `trusted-certificates` from the config.
//!
//! Each certificate appears once (normalised PEM), with the first reason in that order. Nothing
//! else is ever added, so nothing else needs pruning: a CA leaves the bundle as soon as no reason
//! holds it.

use std::collections::BTreeSet;

use openssl::x509::X509;
use serde::{Deserialize, Serialize};

use crate::charm::ca::Phase;
use crate::charm::clock;
use crate::charm::hook::Leader;
use crate::pki::trust::{normalise, parse_one, pem_of};
use crate::pki::verify::{is_ca, valid_at};

/// Why a certificate is in the bundle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// The built-in CA that signs now.
    Active,
    /// The built-in CA announced by a rotation; signs from the end of the overlap.
    Next,
    /// The built-in CA before the last rotation, while its certificates may still be in use.
    Previous,
    /// A CA that published certificates chain to (their `ca`, or the root of their chain).
    Issuer,
    /// Listed in `trusted-certificates`.
    Configured,
}

/// One certificate of the bundle.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustEntry {
    pub certificate: String,
    pub role: Role,
    /// Why, in words (shown by `get-trust-bundle`).
    pub why: String,
}

/// The bundle: entries sorted by certificate text, each certificate once.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Bundle {
    pub entries: Vec<TrustEntry>,
}

impl Bundle {
    /// The certificates, sorted.
    pub fn pems(&self) -> Vec<String> {
        self.entries.iter().map(|e| e.certificate.clone()).collect()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The certificate a v0 requirer gets as `ca` and `certificate`: the active CA, else (manual
    /// mode) the first issuer, else the first certificate.
    pub fn primary(&self) -> Option<&str> {
        [
            Role::Active,
            Role::Issuer,
            Role::Next,
            Role::Previous,
            Role::Configured,
        ]
        .iter()
        .find_map(|r| self.entries.iter().find(|e| e.role == *r))
        .map(|e| e.certificate.as_str())
    }
}

/// Collects entries, the first reason of each certificate winning.
#[derive(Default)]
struct Builder {
    entries: Vec<TrustEntry>,
    seen: BTreeSet<String>,
}

impl Builder {
    fn add(&mut self, cert: &X509, role: Role, why: String) {
        let certificate = pem_of(cert);
        if certificate.is_empty() || !self.seen.insert(certificate.clone()) {
            return;
        }
        self.entries.push(TrustEntry {
            certificate,
            role,
            why,
        });
    }

    fn finish(mut self) -> Bundle {
        self.entries
            .sort_by(|a, b| a.certificate.cmp(&b.certificate));
        Bundle {
            entries: self.entries,
        }
    }
}

/// The bundle the leader publishes, given the CAs that published certificates chain to.
pub fn compute(leader: &Leader<'_>, anchors: &BTreeSet<String>) -> Bundle {
    let now = leader.hook.now;
    let mut b = Builder::default();
    if let Some(stored) = leader.signer() {
        let active = if stored.is_intermediate() {
            format!(
                "the root of the built-in intermediate CA ({}): its chain signs certificates now",
                stored.source.describe()
            )
        } else {
            "the built-in CA: signs certificates now".into()
        };
        b.add(stored.root(), Role::Active, active);
        let phase = Phase::of(stored, &leader.config);
        if let (Some(next), Some((at, reason))) = (&stored.next, &phase.announced) {
            b.add(
                next.root(),
                Role::Next,
                format!(
                    "the next built-in CA (rotation: {reason}): signs from {}",
                    clock::rfc3339(*at)
                ),
            );
        }
        if let (Some(prev), Some(until)) = (&stored.previous, phase.retiring) {
            // An intermediate is trusted through its root.
            let prev = stored.previous_root.as_ref().unwrap_or(prev);
            if now < until {
                b.add(
                    prev,
                    Role::Previous,
                    format!(
                        "the built-in CA before the last rotation: trusted until {}, when every certificate it issued has expired",
                        clock::rfc3339(until)
                    ),
                );
            }
        }
    }
    for pem in anchors {
        let Some(cert) = normalise(pem).and_then(|p| parse_one(&p)) else {
            continue;
        };
        if is_ca(&cert) && valid_at(&cert, now) {
            b.add(
                &cert,
                Role::Issuer,
                "a CA that certificates published to requirers chain to".into(),
            );
        }
    }
    for pem in &leader.config.trusted_certificates {
        if let Some(cert) = parse_one(pem) {
            b.add(
                &cert,
                Role::Configured,
                "listed in trusted-certificates".into(),
            );
        }
    }
    b.finish()
}
