//! Installing a CA that was signed elsewhere (an upstream provider's answer, `set-ca-certificate`,
//! `import-ca`) with the same no-outage rules as a rotation.
//!
//! A new CA under the **same root** as the active one signs at once: every client already
//! trusts that root, and certificates of the old CA stay valid. A CA under **another root**
//! (the first intermediate after the self-signed root, an upstream that changed its root, an
//! imported CA) is announced first: its root joins the trust bundle and it takes over after
//! `ca-rotation-overlap`, exactly like a rotation ([`super::rotation`]).

use std::time::{Duration, SystemTime};

use openssl::x509::X509;

use super::{CaSource, NextCa, PendingCa, RotateReason, StoredCa};
use crate::charm::config::Config;
use crate::pki::Ca;

/// Where intermediates come from in this hook (the `upstream-ca` relation). The CA module asks
/// it for answers and never reads relations itself.
pub trait Intake {
    /// For status and logs: `upstream-ca (root-ca)`.
    fn label(&self) -> String;
    /// The source a CA from here gets.
    fn source(&self) -> CaSource;
    /// The answer to `pending`, checked (an intermediate needs more than `min_life` left).
    fn answer(&self, pending: &PendingCa, now: SystemTime, min_life: Duration) -> Answer;
    /// Whether the certificate answering `csr` is marked revoked.
    fn revoked(&self, csr: &str) -> bool;
}

/// An intake's answer to one request.
pub enum Answer {
    /// Nothing for our CSR yet.
    Waiting,
    /// A `request_errors` entry for our CSR (the text names code and message).
    Refused(String),
    /// A certificate that failed a check (the text names the check).
    Rejected(String),
    /// A certificate that passed every check.
    Accepted(Box<Candidate>),
}

/// Where the intake stands after this hook, for status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IntakeReport {
    /// `upstream-ca (root-ca)`.
    pub label: String,
    pub state: IntakeState,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IntakeState {
    /// Nothing asked: the active CA comes from here and is not due for renewal.
    Idle,
    /// A request is out since this time.
    Waiting(SystemTime),
    /// The provider refused the request (text names code and message).
    Refused(String),
    /// The provider's answer failed a check (text names it).
    Rejected(String),
    /// An answer was installed in this hook.
    Accepted,
}

/// A change to the CA that an action asks of one reconcile (applied to the CA as loaded in
/// that reconcile, so that the hook writes the secret once).
pub enum CaChange {
    /// Start a rotation (`rotate-private-key`).
    Rotate(RotateReason),
    /// Install a checked CA (`set-ca-certificate`, `import-ca`); the text says where from.
    Install(Box<Candidate>, String),
    /// Make a new key and CSR for an offline ceremony (`get-ca-signing-request`).
    Request,
}

/// A checked CA ready to be installed.
pub struct Candidate {
    pub ca: Ca,
    /// The certificates above it up to the root, leaf-first (empty for a root).
    pub chain: Vec<X509>,
    pub source: CaSource,
    pub csr: Option<String>,
    pub requested_for: Option<String>,
}

impl Candidate {
    pub fn root(&self) -> &X509 {
        self.chain.last().unwrap_or(&self.ca.cert)
    }

    fn into_next(self, now: SystemTime, reason: String) -> NextCa {
        NextCa {
            pem: self.ca.cert_pem(),
            ca: self.ca,
            announced_at: now,
            reason,
            chain: self.chain,
            source: self.source,
            csr: self.csr,
            requested_for: self.requested_for,
        }
    }
}

fn same_cert(a: &X509, b: &X509) -> bool {
    matches!((a.to_der(), b.to_der()), (Ok(x), Ok(y)) if x == y)
}

/// What [`install`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Installed {
    /// It signs from now on.
    Active(RotateReason),
    /// It is announced and signs from the end of the overlap.
    Announced(RotateReason),
}

/// Installs `cand` into `stored` at `now`: at once under the same root (or without an
/// overlap), otherwise announced. `why` says where it came from (status, logs).
pub fn install(
    stored: &mut StoredCa,
    cand: Candidate,
    config: &Config,
    now: SystemTime,
    why: String,
) -> Installed {
    let at_once = same_cert(cand.root(), stored.root()) || config.ca_rotation_overlap == 0;
    let reason = RotateReason::Installed(why.clone());
    let next = cand.into_next(now, why);
    if at_once {
        super::rotation::switch_to(stored, next, config, now);
        Installed::Active(reason)
    } else {
        stored.next = Some(next);
        Installed::Announced(reason)
    }
}
