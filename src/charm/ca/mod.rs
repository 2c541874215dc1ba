//! The built-in CA's lifecycle on the leader.
//!
//! The CA certificate and key live only in an application-owned Juju secret labelled
//! [`CA_SECRET_LABEL`]. Content keys:
//! - `ca-certificate`, `private-key`: the active CA, which signs;
//! - `next-ca-certificate`, `next-private-key`, `next-announced-at`, `next-reason`: during a
//!   rotation's overlap, the CA that is already in the trust bundle but does not sign yet;
//! - `previous-ca-certificate`, `previous-private-key` and `previous-trusted-until`: the CA
//!   before the last switch, kept in the trust bundle while certificates it issued may still be
//!   in use; its key signs nothing but its CRL (see [`crate::charm::revocation::crl`]);
//! - `rotate-at`: the time the secret's `expire` was set to (the next deadline, see
//!   [`rotation`]), so a config change can move it without an extra `secret-info-get`.
//!
//! The phases, the rules and why are in [`rotation`]. The steady state costs one `secret-get`.

pub mod elsewhere;
pub mod install;
pub mod rotation;
pub mod source;
pub mod status;
#[cfg(test)]
mod tests;

use std::time::SystemTime;

use juju_hook::{Databag, HookTools, SecretOptions, SecretOwner, SecretRead, SecretRef};
use openssl::pkey::{PKey, Private};
use openssl::x509::X509;

use crate::charm::clock;
use crate::charm::config::{format_duration, Config};
use crate::charm::CharmError;
use crate::pki::Ca;

pub use self::rotation::{ensure, rotation_reason, CaOutcome, Phase};
pub use self::source::{CaSource, PendingCa, PendingFor};

pub const CA_SECRET_LABEL: &str = "tls-provider-ca";
pub const KEY_CA_CERTIFICATE: &str = "ca-certificate";
pub const KEY_PRIVATE_KEY: &str = "private-key";
pub const KEY_PREVIOUS_CA_CERTIFICATE: &str = "previous-ca-certificate";
pub const KEY_PREVIOUS_PRIVATE_KEY: &str = "previous-private-key";
pub const KEY_PREVIOUS_TRUSTED_UNTIL: &str = "previous-trusted-until";
pub const KEY_PREVIOUS_ROOT: &str = "previous-ca-root";
pub const KEY_NEXT_CA_CERTIFICATE: &str = "next-ca-certificate";
pub const KEY_NEXT_PRIVATE_KEY: &str = "next-private-key";
pub const KEY_NEXT_ANNOUNCED_AT: &str = "next-announced-at";
pub const KEY_NEXT_REASON: &str = "next-reason";
pub const KEY_ROTATE_AT: &str = "rotate-at";
pub const KEY_NEXT_CA_CHAIN: &str = "next-ca-chain";
pub const KEY_NEXT_SOURCE: &str = "next-source";
pub const KEY_NEXT_CSR: &str = "next-ca-csr";
pub const KEY_NEXT_REQUESTED_FOR: &str = "next-requested-for";

/// The CA that is announced (in the trust bundle) but does not sign yet.
pub struct NextCa {
    pub ca: Ca,
    pub pem: String,
    pub announced_at: SystemTime,
    /// Why the rotation started (for status and logs).
    pub reason: String,
    /// The certificates above `ca` up to the root (empty for a self-signed root).
    pub chain: Vec<X509>,
    pub source: CaSource,
    /// The CSR an intermediate was signed for (kept in the upstream databag).
    pub csr: Option<String>,
    /// `source::requested_for` of the config an intermediate was asked with.
    pub requested_for: Option<String>,
}

impl NextCa {
    /// A new self-signed root, announced at `now`.
    pub fn self_signed(ca: Ca, now: SystemTime, reason: String) -> NextCa {
        NextCa {
            pem: ca.cert_pem(),
            ca,
            announced_at: now,
            reason,
            chain: Vec::new(),
            source: CaSource::SelfSigned,
            csr: None,
            requested_for: None,
        }
    }

    /// The root this CA chains to (itself for a self-signed root).
    pub fn root(&self) -> &X509 {
        self.chain.last().unwrap_or(&self.ca.cert)
    }
}

/// The CA as loaded from (or just written to) the secret.
pub struct StoredCa {
    /// The active CA: it signs.
    pub ca: Ca,
    /// `ca.cert_pem()`, computed once.
    pub ca_pem: String,
    pub previous_pem: Option<String>,
    pub previous: Option<X509>,
    /// The previous CA's key (kept to sign its CRL while it is in the trust bundle; absent
    /// for a previous CA stored by an older version or salvaged from an unusable secret).
    pub previous_key: Option<PKey<Private>>,
    /// The root the previous CA chained to, when it was an intermediate (the trust bundle
    /// keeps the root, not the intermediate, while the previous CA's certificates live).
    pub previous_root: Option<X509>,
    /// Until when the previous CA stays in the trust bundle.
    pub previous_until: Option<SystemTime>,
    pub next: Option<NextCa>,
    /// The `rotate-at` content value (RFC 3339), if any.
    pub rotate_at: Option<String>,
    /// The certificates above `ca` up to the root, leaf-first (empty for a self-signed root).
    pub chain: Vec<X509>,
    pub source: CaSource,
    /// The CSR an intermediate from `upstream-ca` was signed for.
    pub csr: Option<String>,
    /// `source::requested_for` of the config an intermediate was asked with.
    pub requested_for: Option<String>,
    /// A request for a new intermediate, out for signing.
    pub pending: Option<PendingCa>,
}

impl StoredCa {
    /// A new active CA with nothing around it.
    pub fn bare(ca: Ca, source: CaSource) -> StoredCa {
        StoredCa {
            ca_pem: ca.cert_pem(),
            ca,
            previous_pem: None,
            previous: None,
            previous_key: None,
            previous_root: None,
            previous_until: None,
            next: None,
            rotate_at: None,
            chain: Vec::new(),
            source,
            csr: None,
            requested_for: None,
            pending: None,
        }
    }

    /// The root the active CA chains to: the last certificate of its chain, or itself.
    pub fn root(&self) -> &X509 {
        self.chain.last().unwrap_or(&self.ca.cert)
    }

    /// [`StoredCa::root`] as PEM: the `ca` every published certificate names.
    pub fn root_pem(&self) -> String {
        if self.chain.is_empty() {
            self.ca_pem.clone()
        } else {
            crate::pki::trust::pem_of(self.root())
        }
    }

    /// The active CA and the certificates above it, as PEM: what follows a leaf in `chain`.
    pub fn chain_pems(&self) -> Vec<String> {
        let mut out = vec![self.ca_pem.clone()];
        out.extend(self.chain.iter().map(|c| crate::pki::trust::pem_of(c)));
        out
    }

    /// The previous CA with its key, when both are kept (it signs its CRL).
    pub fn previous_ca(&self) -> Option<Ca> {
        Some(Ca {
            cert: self.previous.clone()?,
            key: self.previous_key.clone()?,
        })
    }

    /// Whether the active CA is an intermediate (it has a chain above it).
    pub fn is_intermediate(&self) -> bool {
        !self.chain.is_empty()
    }
}

impl std::fmt::Debug for StoredCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the keys.
        f.debug_struct("StoredCa")
            .field("ca_pem", &self.ca_pem)
            .field("previous_pem", &self.previous_pem.is_some())
            .field("previous_key", &self.previous_key.is_some())
            .field("previous_until", &self.previous_until)
            .field("next", &self.next.as_ref().map(|n| &n.pem))
            .field("rotate_at", &self.rotate_at)
            .finish()
    }
}

/// Why a new CA is made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RotateReason {
    /// No CA secret yet.
    Missing,
    /// The secret exists but its content is not a usable CA.
    Unreadable(String),
    SubjectChanged,
    KeyAlgorithmChanged,
    RootValidityChanged,
    /// Less life left than `certificate-validity` (plus `ca-rotation-overlap`).
    NearExpiry,
    /// The `rotate-private-key` action.
    Requested,
    /// `rotate-private-key immediate=true`: no overlap.
    RequestedNow,
    /// The end of the overlap of a rotation announced earlier (the text says why it started).
    Announced(String),
    /// A CA signed elsewhere was installed (the text says where from).
    Installed(String),
    /// `upstream-ca` is related and the active CA does not come from it (its label).
    UpstreamRelated(String),
    /// The upstream marked our active intermediate revoked.
    UpstreamRevoked,
    /// The CA subject or key algorithm config differs from what the intermediate was asked with.
    RequestChanged,
}

impl RotateReason {
    /// Whether the new CA signs at once, without an overlap.
    pub fn is_immediate(&self) -> bool {
        matches!(
            self,
            RotateReason::Missing | RotateReason::Unreadable(_) | RotateReason::RequestedNow
        )
    }
}

impl std::fmt::Display for RotateReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RotateReason::Missing => write!(f, "no CA yet"),
            RotateReason::Unreadable(why) => write!(f, "the stored CA is unusable ({why})"),
            RotateReason::SubjectChanged => write!(f, "the CA subject config changed"),
            RotateReason::KeyAlgorithmChanged => write!(f, "ca-key-algorithm changed"),
            RotateReason::RootValidityChanged => write!(f, "root-ca-validity changed"),
            RotateReason::NearExpiry => {
                write!(f, "the CA has less life left than certificate-validity")
            }
            RotateReason::Requested => write!(f, "rotate-private-key was run"),
            RotateReason::RequestedNow => {
                write!(f, "rotate-private-key was run with immediate=true")
            }
            RotateReason::Announced(why) => write!(f, "the announced rotation is due ({why})"),
            RotateReason::Installed(why) => write!(f, "{why}"),
            RotateReason::UpstreamRelated(label) => {
                write!(f, "{label} is related: our CA is to be signed there")
            }
            RotateReason::UpstreamRevoked => {
                write!(f, "the upstream marked our intermediate CA revoked")
            }
            RotateReason::RequestChanged => write!(
                f,
                "the CA subject or ca-key-algorithm config changed since the intermediate was asked for"
            ),
        }
    }
}

/// What [`load`] found.
// Made once per hook and unpacked at once: boxing the large variant would buy nothing.
#[allow(clippy::large_enum_variant)]
pub enum Loaded {
    Missing,
    Unreadable(String),
    Ok(StoredCa),
}

/// Reads the CA secret (one `secret-get`). Only Juju failures are errors.
pub fn load(tools: &dyn HookTools) -> Result<Loaded, CharmError> {
    Ok(load_with_content(tools)?.0)
}

/// [`load`], plus the raw content (to salvage the CA certificate of an unusable secret).
fn load_with_content(tools: &dyn HookTools) -> Result<(Loaded, Databag), CharmError> {
    let content = match tools.secret_get(
        &SecretRef::Label(CA_SECRET_LABEL.to_string()),
        SecretRead::Pinned,
    ) {
        Ok(c) => c,
        Err(e) if e.is_not_found() => return Ok((Loaded::Missing, Databag::new())),
        Err(e) => return Err(e.into()),
    };
    let loaded = match parse_content(&content) {
        Ok(s) => Loaded::Ok(s),
        Err(why) => Loaded::Unreadable(why),
    };
    Ok((loaded, content))
}

fn parse_content(content: &Databag) -> Result<StoredCa, String> {
    let cert = content
        .get(KEY_CA_CERTIFICATE)
        .ok_or_else(|| format!("no {KEY_CA_CERTIFICATE}"))?;
    let key = content
        .get(KEY_PRIVATE_KEY)
        .ok_or_else(|| format!("no {KEY_PRIVATE_KEY}"))?;
    let ca = Ca::from_pem(cert, key).map_err(|e| e.to_string())?;
    let previous_pem = content
        .get(KEY_PREVIOUS_CA_CERTIFICATE)
        .filter(|p| !p.trim().is_empty())
        .cloned();
    let previous = previous_pem
        .as_deref()
        .and_then(|p| X509::from_pem(p.as_bytes()).ok());
    let previous_key = match (&previous_pem, content.get(KEY_PREVIOUS_PRIVATE_KEY)) {
        (Some(cert), Some(key)) => Ca::from_pem(cert, key).ok().map(|c| c.key),
        _ => None,
    };
    Ok(StoredCa {
        ca_pem: ca.cert_pem(),
        ca,
        previous_pem,
        previous,
        previous_key,
        previous_root: content
            .get(KEY_PREVIOUS_ROOT)
            .and_then(|p| X509::from_pem(p.as_bytes()).ok()),
        previous_until: time_of(content, KEY_PREVIOUS_TRUSTED_UNTIL),
        // An unusable next CA is dropped (a new one is announced when still due).
        next: parse_next(content),
        rotate_at: content.get(KEY_ROTATE_AT).cloned(),
        chain: source::parse_chain(content.get(source::KEY_CA_CHAIN)),
        source: CaSource::decode(content.get(source::KEY_SOURCE).map(String::as_str)),
        csr: content.get(source::KEY_CA_CSR).cloned(),
        requested_for: content.get(source::KEY_REQUESTED_FOR).cloned(),
        pending: source::parse_pending(content),
    })
}

fn time_of(content: &Databag, key: &str) -> Option<SystemTime> {
    content.get(key).and_then(|t| clock::parse_rfc3339(t))
}

fn parse_next(content: &Databag) -> Option<NextCa> {
    let cert = content.get(KEY_NEXT_CA_CERTIFICATE)?;
    let key = content.get(KEY_NEXT_PRIVATE_KEY)?;
    let ca = Ca::from_pem(cert, key).ok()?;
    Some(NextCa {
        pem: ca.cert_pem(),
        ca,
        announced_at: time_of(content, KEY_NEXT_ANNOUNCED_AT)?,
        reason: content.get(KEY_NEXT_REASON).cloned().unwrap_or_default(),
        chain: source::parse_chain(content.get(KEY_NEXT_CA_CHAIN)),
        source: CaSource::decode(content.get(KEY_NEXT_SOURCE).map(String::as_str)),
        csr: content.get(KEY_NEXT_CSR).cloned(),
        requested_for: content.get(KEY_NEXT_REQUESTED_FOR).cloned(),
    })
}

/// The secret content for `stored` (the only place the keys are encoded).
fn content_of(stored: &StoredCa) -> Databag {
    let mut c = Databag::new();
    let mut put = |k: &str, v: String| {
        c.insert(k.to_string(), v);
    };
    put(KEY_CA_CERTIFICATE, stored.ca_pem.clone());
    put(KEY_PRIVATE_KEY, stored.ca.key_pem());
    if let Some(p) = &stored.previous_pem {
        put(KEY_PREVIOUS_CA_CERTIFICATE, p.clone());
        if let Some(k) = &stored.previous_key {
            let key = crate::pki::keys::private_key_to_pem(k).unwrap_or_default();
            put(KEY_PREVIOUS_PRIVATE_KEY, key);
        }
        if let Some(t) = stored.previous_until {
            put(KEY_PREVIOUS_TRUSTED_UNTIL, clock::rfc3339(t));
        }
        if let Some(r) = &stored.previous_root {
            put(KEY_PREVIOUS_ROOT, crate::pki::trust::pem_of(r));
        }
    }
    if let Some(n) = &stored.next {
        put(KEY_NEXT_CA_CERTIFICATE, n.pem.clone());
        put(KEY_NEXT_PRIVATE_KEY, n.ca.key_pem());
        put(KEY_NEXT_ANNOUNCED_AT, clock::rfc3339(n.announced_at));
        put(KEY_NEXT_REASON, n.reason.clone());
        if !n.chain.is_empty() {
            put(KEY_NEXT_CA_CHAIN, source::chain_text(&n.chain));
        }
        put(KEY_NEXT_SOURCE, n.source.encode());
        if let Some(csr) = &n.csr {
            put(KEY_NEXT_CSR, csr.clone());
        }
        if let Some(r) = &n.requested_for {
            put(KEY_NEXT_REQUESTED_FOR, r.clone());
        }
    }
    if let Some(r) = &stored.rotate_at {
        put(KEY_ROTATE_AT, r.clone());
    }
    if !stored.chain.is_empty() {
        put(source::KEY_CA_CHAIN, source::chain_text(&stored.chain));
    }
    put(source::KEY_SOURCE, stored.source.encode());
    if let Some(csr) = &stored.csr {
        put(source::KEY_CA_CSR, csr.clone());
    }
    if let Some(r) = &stored.requested_for {
        put(source::KEY_REQUESTED_FOR, r.clone());
    }
    if let Some(p) = &stored.pending {
        source::put_pending(&mut c, p);
    }
    c
}

fn secret_options(expire: &str) -> SecretOptions {
    SecretOptions {
        label: Some(CA_SECRET_LABEL.to_string()),
        description: Some(
            "tls-provider built-in CA (certificate and private key); expires when the CA's rotation next moves"
                .to_string(),
        ),
        expire: Some(expire.to_string()),
        rotate: None,
        owner: SecretOwner::Application,
    }
}

/// Writes `stored` to the secret (one `secret-add`, or `secret-info-get` + `secret-set`).
fn save(tools: &dyn HookTools, stored: &StoredCa, exists: bool) -> Result<(), CharmError> {
    let expire = stored.rotate_at.clone().unwrap_or_default();
    let content = content_of(stored);
    if exists {
        let info = tools.secret_info_get(&SecretRef::Label(CA_SECRET_LABEL.to_string()))?;
        tools.secret_set(&info.id, Some(&content), &secret_options(&expire))?;
    } else {
        tools.secret_add(&content, &secret_options(&expire))?;
    }
    Ok(())
}

/// Whether this hook is `secret-expired` for the CA secret.
pub fn is_ca_secret_expired_hook(ctx: &juju_hook::HookContext) -> bool {
    ctx.name() == "secret-expired"
        && ctx
            .secret
            .as_ref()
            .is_some_and(|s| s.label.as_deref() == Some(CA_SECRET_LABEL))
}

/// A human description of the CA for logs: subject, where it comes from, validity and next
/// deadline (never the key).
pub fn describe(stored: &StoredCa, config: &Config) -> String {
    let what = match stored.source {
        CaSource::SelfSigned => format!(
            "self-signed root CA {:?} ({}, root validity {})",
            config.ca_subject.common_name,
            config.ca_key_algorithm.as_str(),
            format_duration(config.root_ca_validity)
        ),
        _ => format!(
            "{} from {}",
            status::describe_active(stored),
            stored.source.describe()
        ),
    };
    format!(
        "{what}, valid until {}, next rotation step at {}",
        clock::rfc3339(stored.ca.not_after()),
        stored.rotate_at.as_deref().unwrap_or("?"),
    )
}
