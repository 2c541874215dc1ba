//! A local cache of "this published entry is still good until T" verdicts, so a steady-state
//! reconcile does not re-parse and re-verify every CSR and certificate on every hook.
//!
//! Deciding to keep an existing entry needs the CSR parsed (signature verified), the certificate
//! parsed, its issuer verified and the policy applied: about a millisecond per entry with
//! OpenSSL 3, so seconds for thousands of certificates. The verdict depends only on the entry's
//! text, the CSR text and `ca` flag, the CA certificates, the mode and the policy, and on time
//! only through a deadline (renewal point or expiry). This cache keys the verdict by a SHA-256 of
//! all of those and stores the deadline; an entry whose key is present and whose deadline is in
//! the future is kept without any parsing. Anything else is judged in full.
//!
//! The file is `<charm dir>/.tls-provider-keep` (JSON), rewritten only when its content changes.
//! It is local to the unit: a new leader starts empty and judges everything once. Losing or
//! corrupting it costs time, never correctness. A reconcile that plans only some relations (a
//! relation hook) keeps the unexpired verdicts of the others; a full one keeps only its own.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use juju_hook::HookContext;
use openssl::sha::Sha256;

use crate::charm::ca::StoredCa;
use crate::charm::config::Config;
use crate::protocol::modern::ProviderCertificate;

pub const CACHE_FILE: &str = ".tls-provider-keep";

/// The verdicts of the last reconcile (`old`) and of this one (`new`).
#[derive(Debug, Default)]
pub struct KeepCache {
    path: Option<PathBuf>,
    context: [u8; 32],
    old: BTreeMap<String, u64>,
    new: BTreeMap<String, u64>,
    /// Keep `old` verdicts of relations not planned in this reconcile.
    partial: bool,
}

/// Computes verdict keys for one context (see [`KeepCache::keyer`]).
#[derive(Clone, Copy, Debug)]
pub struct Keyer {
    context: [u8; 32],
}

impl Keyer {
    /// The key of the verdict for `entry` answering the request (`csr`, `is_ca`).
    pub fn key(&self, csr: &str, is_ca: bool, entry: &ProviderCertificate) -> String {
        let mut h = Sha256::new();
        h.update(&self.context);
        feed(&mut h, csr);
        feed(&mut h, if is_ca { "ca" } else { "leaf" });
        feed(&mut h, &entry.ca);
        feed(&mut h, &entry.certificate_signing_request);
        feed(&mut h, &entry.certificate);
        for c in &entry.chain {
            feed(&mut h, c);
        }
        feed(&mut h, if entry.revoked { "revoked" } else { "" });
        h.finish().iter().map(|b| format!("{b:02x}")).collect()
    }
}

fn unix(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs()
}

fn feed(h: &mut Sha256, s: &str) {
    h.update(&(s.len() as u64).to_le_bytes());
    h.update(s.as_bytes());
}

impl KeepCache {
    /// An empty cache that is never saved (every entry judged in full).
    pub fn disabled() -> KeepCache {
        KeepCache::default()
    }

    /// Loads the cache for this reconcile's context (mode, policy, CA certificates).
    pub fn load(ctx: &HookContext, config: &Config, ca: Option<&StoredCa>) -> KeepCache {
        let path = ctx.charm_dir.join(CACHE_FILE);
        let old = std::fs::read_to_string(&path)
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default();
        let mut h = Sha256::new();
        feed(&mut h, "tls-provider keep-cache v1");
        feed(&mut h, config.mode.as_str());
        feed(&mut h, &format!("{:?}", config.policy));
        feed(&mut h, ca.map(|c| c.ca_pem.as_str()).unwrap_or(""));
        feed(
            &mut h,
            ca.and_then(|c| c.previous_pem.as_deref()).unwrap_or(""),
        );
        KeepCache {
            path: Some(path),
            context: h.finish(),
            old,
            new: BTreeMap::new(),
            partial: false,
        }
    }

    /// The key of the verdict for `entry` answering the request (`csr`, `is_ca`).
    pub fn key(&self, csr: &str, is_ca: bool, entry: &ProviderCertificate) -> String {
        self.keyer().key(csr, is_ca, entry)
    }

    /// What computes keys for this reconcile's context, apart from the cache (so keys can be
    /// computed on several threads, or while the cache changes).
    pub fn keyer(&self) -> Keyer {
        Keyer {
            context: self.context,
        }
    }

    /// Until when a previous reconcile decided to keep this entry, if that is after `now`; the
    /// verdict then carries over into this reconcile's cache.
    pub fn still_good(&mut self, key: &str, now: SystemTime) -> Option<SystemTime> {
        match self.old.get(key) {
            Some(&deadline) if deadline > unix(now) => {
                self.new.insert(key.to_string(), deadline);
                Some(UNIX_EPOCH + Duration::from_secs(deadline))
            }
            _ => None,
        }
    }

    /// Some relation was not planned in this reconcile (a relation hook serves only its own):
    /// [`KeepCache::save`] then keeps the earlier verdicts that have not expired too.
    pub fn partial(&mut self) {
        self.partial = true;
    }

    /// Records a keep verdict valid until `deadline`.
    pub fn keep(&mut self, key: String, deadline: SystemTime) {
        self.new.insert(key, unix(deadline));
    }

    /// Writes the verdicts of this reconcile when they differ from the last ones; after a
    /// [`KeepCache::partial`] reconcile, with the earlier ones not yet expired at `now`.
    pub fn save(&mut self, now: SystemTime) {
        let Some(path) = &self.path else {
            return;
        };
        if self.partial {
            let now = unix(now);
            for (k, &deadline) in self.old.iter().filter(|(_, d)| **d > now) {
                self.new.entry(k.clone()).or_insert(deadline);
            }
        }
        if self.new == self.old {
            return;
        }
        if let Ok(text) = serde_json::to_string(&self.new) {
            let _ = std::fs::write(path, text);
        }
    }
}
