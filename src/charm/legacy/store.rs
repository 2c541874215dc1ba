//! The legacy key store: every key, CSR and certificate we generated for legacy requirers, kept
//! in application-owned Juju secrets so later hooks and a new leader republish the same material.
//!
//! The store is one JSON document split into values of at most [`CHUNK_BYTES`],
//! [`CHUNKS_PER_SECRET`] per secret: the first secret is labelled [`STORE_LABEL`], further pages
//! `tls-provider-legacy-2`, `-3`, ... so any number of certificates fits the strictest secret
//! limits of every Juju the charm supports ([`MAX_VALUE_BYTES`], [`MAX_SECRET_BYTES`]). It is
//! written only when the document changes; each write makes a new
//! revision, and the revision Juju reports unused in `secret-remove` is removed (it holds keys we
//! generated).

use std::collections::BTreeMap;

use juju_hook::{Databag, HookTools, SecretOptions, SecretOwner, SecretRead, SecretRef, ToolError};
use serde::{Deserialize, Serialize};

use crate::charm::hook::Hook;
use crate::charm::CharmError;
use crate::protocol::legacy::{CertKey, RequestKind};

/// Label of the (first) secret holding the legacy store.
pub const STORE_LABEL: &str = "tls-provider-legacy";
/// Content key of the page count in the first secret.
const PAGES_KEY: &str = "pages";
/// The largest secret value every supported Juju accepts (`assumes: juju >= 3.1`): 5 KiB before
/// 3.4.1, 8 KiB until 3.6.8, measured on the value as given; from 3.6.9 1,000,000 bytes measured
/// base64-encoded (`docs/juju-hook-contract.md` §8). Our values stay under it both ways.
pub const MAX_VALUE_BYTES: usize = 5 * 1024;
/// The largest content of one secret (one `secret-add`/`secret-set`) every supported Juju
/// accepts.
pub const MAX_SECRET_BYTES: usize = 64 * 1024;
/// Largest value we put in a secret, in bytes of JSON text: base64 makes 4 bytes of every 3, so
/// 3800 bytes encode to 5068, under [`MAX_VALUE_BYTES`] even encoded.
pub const CHUNK_BYTES: usize = 3800;
/// Values per secret: 12 × 5068 encoded bytes (plus the small page count) stay under
/// [`MAX_SECRET_BYTES`].
pub const CHUNKS_PER_SECRET: usize = 12;

/// One generated key with its CSR and (once signed or provided) certificate. Its `Debug` leaves
/// the private key out.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// `None` for the shared client certificate.
    pub kind: Option<RequestKind>,
    /// The requirer's `{unit}` key; `None` for application and shared client certificates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    pub cn: String,
    /// The requested SAN set, sorted and de-duplicated (application: every CN and SAN).
    pub sans: Vec<String>,
    pub key: String,
    pub csr: String,
    /// The certificate text we publish (leaf, then any intermediates).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert: Option<String>,
    /// The CA certificate that issued it (the operator's `ca-certificate` in manual mode).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca: Option<String>,
    /// Manual mode: the chain the operator provided (leaf-first), for `chain`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chain: Option<String>,
    /// Revoked (`revoke-certificate`): its key, certificate and chain were dropped (empty key,
    /// no `cert`), only the request and its CSR stay. The entry is never signed nor published
    /// again; the requirer gets a new key and certificate when its request changes (another
    /// CN or SAN set) or the relation is made again. See [`Entry::revoke`].
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub revoked: bool,
}

impl std::fmt::Debug for Entry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the private key.
        f.debug_struct("Entry")
            .field("kind", &self.kind)
            .field("unit", &self.unit)
            .field("cn", &self.cn)
            .field("sans", &self.sans)
            .field("key", &"<redacted>")
            .field("csr", &self.csr)
            .field("cert", &self.cert)
            .field("ca", &self.ca)
            .field("chain", &self.chain)
            .field("revoked", &self.revoked)
            .finish()
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreDoc {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<Entry>,
    /// Relation id → entry id → entry.
    #[serde(default)]
    pub relations: BTreeMap<u32, BTreeMap<String, Entry>>,
}

/// The store as loaded, and as changed in this hook.
pub struct Store {
    pub doc: StoreDoc,
    /// The doc as loaded, to write only on change.
    loaded: StoreDoc,
    /// Contents of the pages as loaded (index 0 = [`STORE_LABEL`]).
    pages: Vec<Databag>,
}

impl Entry {
    /// The certificate and key as published, once it has a certificate (never when revoked).
    pub fn cert_key(&self) -> Option<CertKey> {
        self.cert
            .as_ref()
            .filter(|_| !self.revoked)
            .map(|c| CertKey {
                cert: c.clone(),
                key: self.key.clone(),
            })
    }

    /// Marks the entry revoked and forgets its key, certificate and chain (the CSR stays, for
    /// the listings and the CSR fingerprint).
    pub fn revoke(&mut self) {
        self.revoked = true;
        self.key = String::new();
        self.cert = None;
        self.ca = None;
        self.chain = None;
    }
}

/// Whether `label` is one of the legacy store's secret labels ([`STORE_LABEL`] or
/// `tls-provider-legacy-<n>`): their old revisions hold generated private keys and are removed in
/// `secret-remove` (see [`crate::charm::reconcile::revisions::remove_unused_revision`]).
pub fn is_store_label(label: &str) -> bool {
    label == STORE_LABEL
        || label
            .strip_prefix(STORE_LABEL)
            .and_then(|rest| rest.strip_prefix('-'))
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

fn page_label(i: usize) -> String {
    if i == 0 {
        STORE_LABEL.to_string()
    } else {
        format!("{STORE_LABEL}-{}", i + 1)
    }
}

fn chunk_key(i: usize) -> String {
    format!("doc-{i:03}")
}

impl Store {
    /// Reads the store (one `secret-get` per page; none exist before the first legacy request).
    pub fn load(hook: &Hook<'_>) -> Result<Store, CharmError> {
        load_store(hook)
    }

    /// Writes the store if it changed since it was loaded.
    pub fn save(&self, tools: &dyn HookTools) -> Result<(), CharmError> {
        save_store(tools, self).map(|_| ())
    }

    /// Writes the store now if it changed, and takes what it wrote as the loaded state (so a
    /// later [`Store::save`] of the same document writes nothing). For an action that must keep
    /// its change even when the reconcile after it stops early (`revoke-certificate`).
    pub fn commit(&mut self, tools: &dyn HookTools) -> Result<(), CharmError> {
        if let Some(pages) = save_store(tools, self)? {
            self.pages = pages;
            self.loaded = self.doc.clone();
        }
        Ok(())
    }
}

fn load_store(hook: &Hook<'_>) -> Result<Store, CharmError> {
    let tools = hook.tools;
    let first = match tools.secret_get(&SecretRef::Label(STORE_LABEL.into()), SecretRead::Pinned) {
        Ok(c) => c,
        Err(ToolError::SecretNotFound { .. }) => {
            return Ok(Store {
                doc: StoreDoc::default(),
                loaded: StoreDoc::default(),
                pages: Vec::new(),
            })
        }
        Err(e) => return Err(e.into()),
    };
    let count: usize = first
        .get(PAGES_KEY)
        .and_then(|p| p.parse().ok())
        .unwrap_or(1)
        .clamp(1, 1000);
    let mut pages = vec![first];
    for i in 1..count {
        match tools.secret_get(&SecretRef::Label(page_label(i)), SecretRead::Pinned) {
            Ok(c) => pages.push(c),
            Err(ToolError::SecretNotFound { .. }) => break,
            Err(e) => return Err(e.into()),
        }
    }
    let mut text = String::new();
    for page in &pages {
        for i in 0..CHUNKS_PER_SECRET {
            if let Some(v) = page.get(&chunk_key(i)) {
                text.push_str(v);
            }
        }
    }
    let doc = match serde_json::from_str::<StoreDoc>(&text) {
        Ok(d) => d,
        Err(e) => {
            // Our own data, but never fail every hook over it: start again (new keys).
            hook.log(
                juju_hook::LogLevel::Error,
                &format!(
                    "the legacy store secret {STORE_LABEL:?} is unreadable ({e}); \
                     legacy certificates will be regenerated"
                ),
            );
            StoreDoc::default()
        }
    };
    Ok(Store {
        loaded: doc.clone(),
        doc,
        pages,
    })
}

/// Splits at char boundaries into pieces of at most `max` bytes.
fn split_chunks(text: &str, max: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let mut end = rest.len().min(max);
        while !rest.is_char_boundary(end) {
            end -= 1;
        }
        out.push(rest[..end].to_string());
        rest = &rest[end..];
    }
    out
}

/// Returns the pages written (`None`: unchanged, nothing written).
fn save_store(tools: &dyn HookTools, store: &Store) -> Result<Option<Vec<Databag>>, CharmError> {
    if store.doc == store.loaded {
        return Ok(None);
    }
    let empty = store.doc == StoreDoc::default();
    let mut pages: Vec<Databag> = Vec::new();
    if !empty {
        let text = serde_json::to_string(&store.doc).map_err(CharmError::Encode)?;
        let chunks = split_chunks(&text, CHUNK_BYTES);
        for (p, group) in chunks.chunks(CHUNKS_PER_SECRET).enumerate() {
            let mut page = Databag::new();
            for (i, c) in group.iter().enumerate() {
                page.insert(chunk_key(i), c.clone());
            }
            if p == 0 {
                page.insert(PAGES_KEY.into(), String::new());
            }
            pages.push(page);
        }
        let n = pages.len().to_string();
        pages[0].insert(PAGES_KEY.into(), n);
    }
    for (i, page) in pages.iter().enumerate() {
        let label = page_label(i);
        match store.pages.get(i) {
            Some(old) if old == page => {}
            Some(_) => {
                let info = tools.secret_info_get(&SecretRef::Label(label))?;
                tools.secret_set(&info.id, Some(page), &SecretOptions::default())?;
            }
            None => {
                let opts = SecretOptions {
                    label: Some(label),
                    description: Some(
                        "tls-provider: keys and certificates generated for legacy requirers".into(),
                    ),
                    owner: SecretOwner::Application,
                    ..SecretOptions::default()
                };
                tools.secret_add(page, &opts)?;
            }
        }
    }
    for i in pages.len()..store.pages.len() {
        match tools.secret_info_get(&SecretRef::Label(page_label(i))) {
            Ok(info) => tools.secret_remove(&info.id, None)?,
            Err(ToolError::SecretNotFound { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(Some(pages))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base64_len(n: usize) -> usize {
        n.div_ceil(3) * 4
    }

    #[test]
    fn chunks_fit_the_strictest_limits_even_base64_encoded() {
        assert!(base64_len(CHUNK_BYTES) <= MAX_VALUE_BYTES);
        let page_count = base64_len(4);
        assert!(CHUNKS_PER_SECRET * base64_len(CHUNK_BYTES) + page_count <= MAX_SECRET_BYTES);
        // A multi-byte character is never split, so a chunk may be shorter but never longer.
        let text = "é".repeat(CHUNK_BYTES);
        assert!(split_chunks(&text, CHUNK_BYTES)
            .iter()
            .all(|c| c.len() <= CHUNK_BYTES));
    }
    use crate::charm::legacy::LEGACY_KEY_ALGORITHM;
    use crate::pki::keys::private_key_to_pem;

    #[test]
    fn entry_debug_never_shows_the_private_key() {
        let key = LEGACY_KEY_ALGORITHM.generate().unwrap();
        let key_pem = private_key_to_pem(&key).unwrap();
        let e = Entry {
            kind: Some(RequestKind::Server),
            unit: Some("etcd_0".into()),
            cn: "a.example".into(),
            sans: vec!["a.example".into()],
            key: key_pem.clone(),
            csr: "csr".into(),
            cert: None,
            ca: None,
            chain: None,
            revoked: false,
        };
        let doc = StoreDoc {
            client: Some(e.clone()),
            relations: BTreeMap::from([(1, BTreeMap::from([("x".to_string(), e.clone())]))]),
        };
        for text in [format!("{e:?}"), format!("{e:#?}"), format!("{doc:?}")] {
            assert!(!text.contains("PRIVATE KEY"), "{text}");
            let body = key_pem.lines().nth(1).unwrap();
            assert!(!text.contains(body), "{text}");
            assert!(
                text.contains("a.example") && text.contains("<redacted>"),
                "{text}"
            );
        }
    }
}
