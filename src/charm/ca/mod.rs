//! The built-in CA's lifecycle on the leader.
//!
//! The CA certificate and key live only in an application-owned Juju secret labelled
//! [`CA_SECRET_LABEL`], content keys `ca-certificate`, `private-key`, `previous-ca-certificate`
//! (the CA certificate before the last rotation, without its key) and `rotate-at` (the RFC 3339
//! time the secret's `expire` was set to, so a change of `certificate-validity` can move the expiry
//! without an extra `secret-info-get` in every hook).
//!
//! The secret expires at CA notAfter − certificate-validity: Juju then fires `secret-expired` and
//! the leader rotates, so the CA never has less life left than a leaf it would issue.
//!
//! A new CA is made when: there is none (or its content is unreadable); the CA subject, key
//! algorithm or root validity differ from config; `rotate-private-key` asks; the CA has less life
//! left than `certificate-validity`; or `secret-expired` fires for this secret.
//! The steady state costs one `secret-get`.

use std::time::{Duration, SystemTime};

use juju_hook::{
    Databag, HookContext, HookTools, SecretOptions, SecretOwner, SecretRead, SecretRef,
};
use openssl::x509::X509;

use crate::charm::clock;
use crate::charm::config::{format_duration, Config};
use crate::charm::CharmError;
use crate::pki::Ca;

pub const CA_SECRET_LABEL: &str = "tls-provider-ca";
pub const KEY_CA_CERTIFICATE: &str = "ca-certificate";
pub const KEY_PRIVATE_KEY: &str = "private-key";
pub const KEY_PREVIOUS_CA_CERTIFICATE: &str = "previous-ca-certificate";
pub const KEY_ROTATE_AT: &str = "rotate-at";

/// Differences in root validity below this are ignored (the CA is back-dated a little).
const VALIDITY_TOLERANCE_SECS: u64 = 300;

/// The CA as loaded from (or just written to) the secret.
pub struct StoredCa {
    pub ca: Ca,
    /// `ca.cert_pem()`, computed once.
    pub ca_pem: String,
    pub previous_pem: Option<String>,
    pub previous: Option<X509>,
    /// The `rotate-at` content value (RFC 3339), if any.
    pub rotate_at: Option<String>,
}

impl std::fmt::Debug for StoredCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the key.
        f.debug_struct("StoredCa")
            .field("ca_pem", &self.ca_pem)
            .field("previous_pem", &self.previous_pem.is_some())
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
    /// Less life left than `certificate-validity`.
    NearExpiry,
    /// `secret-expired` fired for the CA secret.
    SecretExpired,
    /// The `rotate-private-key` action.
    Requested,
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
            RotateReason::SecretExpired => write!(f, "the CA secret expired (rotation time)"),
            RotateReason::Requested => write!(f, "rotate-private-key was run"),
        }
    }
}

/// What [`load`] found.
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
    Ok(StoredCa {
        ca_pem: ca.cert_pem(),
        ca,
        previous_pem,
        previous,
        rotate_at: content.get(KEY_ROTATE_AT).cloned(),
    })
}

/// Whether the stored CA still fits the config at `now`.
pub fn rotation_reason(
    stored: &StoredCa,
    config: &Config,
    now: SystemTime,
) -> Option<RotateReason> {
    let ca = &stored.ca;
    if !ca.subject_matches(&config.ca_subject) {
        return Some(RotateReason::SubjectChanged);
    }
    if ca.key_algorithm() != Some(config.ca_key_algorithm) {
        return Some(RotateReason::KeyAlgorithmChanged);
    }
    if ca
        .requested_validity_secs()
        .abs_diff(config.root_ca_validity)
        > VALIDITY_TOLERANCE_SECS
    {
        return Some(RotateReason::RootValidityChanged);
    }
    if now + Duration::from_secs(config.certificate_validity) > ca.not_after() {
        return Some(RotateReason::NearExpiry);
    }
    None
}

/// When the CA secret should expire (and the CA rotate): notAfter − certificate-validity.
pub fn rotate_at(ca: &Ca, config: &Config) -> String {
    let t = ca
        .not_after()
        .checked_sub(Duration::from_secs(config.certificate_validity))
        .unwrap_or(ca.not_before());
    clock::rfc3339(t)
}

/// Whether this hook is `secret-expired` for the CA secret.
pub fn is_ca_secret_expired_hook(ctx: &HookContext) -> bool {
    ctx.name() == "secret-expired"
        && ctx
            .secret
            .as_ref()
            .is_some_and(|s| s.label.as_deref() == Some(CA_SECRET_LABEL))
}

/// The CA after [`ensure`], and whether it was just made.
pub struct CaOutcome {
    pub stored: StoredCa,
    /// Set when a new CA was made in this call.
    pub rotated: Option<RotateReason>,
}

fn secret_options(rotate_at: &str) -> SecretOptions {
    SecretOptions {
        label: Some(CA_SECRET_LABEL.to_string()),
        description: Some(
            "tls-provider built-in CA (certificate and private key); expires when the CA must rotate"
                .to_string(),
        ),
        expire: Some(rotate_at.to_string()),
        rotate: None,
        owner: SecretOwner::Application,
    }
}

fn content_of(stored: &StoredCa, key_pem: &str) -> Databag {
    let mut c = Databag::new();
    c.insert(KEY_CA_CERTIFICATE.to_string(), stored.ca_pem.clone());
    c.insert(KEY_PRIVATE_KEY.to_string(), key_pem.to_string());
    if let Some(p) = &stored.previous_pem {
        c.insert(KEY_PREVIOUS_CA_CERTIFICATE.to_string(), p.clone());
    }
    if let Some(r) = &stored.rotate_at {
        c.insert(KEY_ROTATE_AT.to_string(), r.clone());
    }
    c
}

/// The secret's id (for `secret-set`), by label.
fn secret_id(tools: &dyn HookTools) -> Result<String, CharmError> {
    let info = tools.secret_info_get(&SecretRef::Label(CA_SECRET_LABEL.to_string()))?;
    Ok(info.id)
}

/// Loads the CA and makes a new one when needed (leader only; self-signed mode, or the
/// `rotate-private-key` action). `force` asks for a rotation regardless of config.
///
/// A new CA keeps the current CA certificate as `previous-ca-certificate`.
pub fn ensure(
    tools: &dyn HookTools,
    config: &Config,
    now: SystemTime,
    force: Option<RotateReason>,
) -> Result<CaOutcome, CharmError> {
    let (loaded, content) = load_with_content(tools)?;
    // When the secret is unusable but its CA certificate still parses, it becomes the previous
    // CA, so the certificates it issued are reissued rather than mistaken for an outside CA's.
    let salvaged = content
        .get(KEY_CA_CERTIFICATE)
        .filter(|p| X509::from_pem(p.as_bytes()).is_ok())
        .cloned();
    let (current, exists, reason) = match loaded {
        Loaded::Missing => (None, false, Some(RotateReason::Missing)),
        Loaded::Unreadable(why) => (None, true, Some(RotateReason::Unreadable(why))),
        Loaded::Ok(s) => {
            let r = force.or_else(|| rotation_reason(&s, config, now));
            (Some(s), true, r)
        }
    };

    let Some(reason) = reason else {
        let mut stored = current.expect("no reason implies a loaded CA");
        let want = rotate_at(&stored.ca, config);
        if stored.rotate_at.as_deref() != Some(want.as_str()) {
            // certificate-validity changed (or an old secret without rotate-at): move the expiry.
            stored.rotate_at = Some(want.clone());
            let id = secret_id(tools)?;
            let content = content_of(&stored, &stored.ca.key_pem());
            tools.secret_set(&id, Some(&content), &secret_options(&want))?;
        }
        return Ok(CaOutcome {
            stored,
            rotated: None,
        });
    };

    let ca = Ca::generate_at(
        &config.ca_subject,
        config.ca_key_algorithm,
        config.root_ca_validity,
        now,
    )?;
    let want = rotate_at(&ca, config);
    let previous_pem = match current {
        Some(old) => Some(old.ca_pem),
        None => salvaged,
    };
    let previous = previous_pem
        .as_deref()
        .and_then(|p| X509::from_pem(p.as_bytes()).ok());
    let stored = StoredCa {
        ca_pem: ca.cert_pem(),
        ca,
        previous_pem,
        previous,
        rotate_at: Some(want.clone()),
    };
    let content = content_of(&stored, &stored.ca.key_pem());
    if exists {
        let id = secret_id(tools)?;
        tools.secret_set(&id, Some(&content), &secret_options(&want))?;
    } else {
        tools.secret_add(&content, &secret_options(&want))?;
    }
    Ok(CaOutcome {
        stored,
        rotated: Some(reason),
    })
}

/// A human description of the CA for logs: subject, validity and rotation time (never the key).
pub fn describe(stored: &StoredCa, config: &Config) -> String {
    format!(
        "CA {:?} ({}, root validity {}), valid until {}, rotates at {}",
        config.ca_subject.common_name,
        config.ca_key_algorithm.as_str(),
        format_duration(config.root_ca_validity),
        clock::rfc3339(stored.ca.not_after()),
        stored.rotate_at.as_deref().unwrap_or("?"),
    )
}
