//! The reconcile's local cache, `<charm dir>/.tls-provider-scope` (JSON, like the status cache):
//! what a relation hook needs to serve only its own relation and still get status, the trust
//! bundle and the next deadline right, and what lets an idle `update-status` do nothing.
//!
//! - the leader's: per relation of each endpoint, the [`Counts`] of its last plan (without the
//!   per-hook `signed`/`replaced`), the CAs it chains to (`anchors`, by fingerprint into one
//!   table of PEMs), when it must be planned again (`due`), a digest of its notes and its expiry
//!   outlook (`crate::charm::expiry::Outlook`: nearest end, certificates at risk, next window
//!   start); the counts that belong to no relation (`shared`, per dialect); the CA secret's next
//!   deadline; the expiry watch's next deadline (`expiry_due`: the next daily line, the CA's
//!   renewal window); the time and interval of the last full pass; a digest of the config and
//!   CA all that was made under;
//! - a non-leader's: only that its last standby pass completed.
//!
//! The file is removed when a hook starts and written when it ends well, so a hook that fails
//! or is killed leaves none, and the next hook is a full pass. Losing it costs one full pass.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use juju_hook::{HookContext, RelationId};
use openssl::sha::sha256;
use serde::{Deserialize, Serialize};

use crate::charm::dialect::snapshot::KnownBags;
use crate::charm::dialect::{Counts, Plan};
use crate::charm::expiry::Outlook;
use crate::pki::trust::parse_one;
use crate::pki::verify::asn1_to_system;

pub const CACHE_FILE: &str = ".tls-provider-scope";

/// Changes whenever the format does; another version reads as no cache.
const VERSION: u32 = 4;

/// The most bytes of remote databags the cache keeps; relations past it are read every time.
pub const MAX_BAGS: usize = 16 * 1024 * 1024;

/// The whole file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Cache {
    Leader(LeaderCache),
    /// A non-leader whose last standby pass completed.
    Standby,
}

#[derive(Serialize, Deserialize)]
struct File {
    version: u32,
    cache: Cache,
}

/// What the leader's last reconcile left.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaderCache {
    /// Digest of the validated config and the CA everything below was made under.
    pub context: String,
    /// The last full pass (unix seconds).
    pub full_at: u64,
    /// `full-reconcile-interval` then (seconds; 0: every pass is full).
    pub interval: u64,
    /// The CA secret's next deadline (`rotate-at`), unix seconds.
    pub ca_due: Option<u64>,
    /// When a CRL is next signed again (half of its validity), unix seconds.
    #[serde(default)]
    pub crl_due: Option<u64>,
    /// Endpoint → relation id → what its last plan said.
    pub relations: BTreeMap<String, BTreeMap<u32, Entry>>,
    /// Counts of each dialect (by index) that belong to no relation.
    pub shared: BTreeMap<usize, Counts>,
    /// Fingerprint → anchor.
    pub anchors: BTreeMap<String, Anchor>,
    /// Relation id → its remote databags as last read.
    pub bags: BTreeMap<u32, KnownBags>,
    /// Expiry watch: when the next WARNING line is due, or the CA enters its renewal window
    /// (unix seconds; `crate::charm::expiry`).
    #[serde(default)]
    pub expiry_due: Option<u64>,
    /// Bytes held in `bags` (not saved).
    #[serde(skip)]
    pub bag_bytes: usize,
}

/// One relation's last plan, as far as later hooks need it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// The dialect that planned it (index in the dialect list).
    pub dialect: usize,
    pub counts: Counts,
    /// Fingerprints of its anchors.
    pub anchors: BTreeSet<String>,
    /// When it must be planned again (unix seconds).
    pub due: Option<u64>,
    /// Digest of its notes ("" when none).
    pub notes: String,
    /// Expiry watch: nearest end, certificates at risk, next window start.
    #[serde(default)]
    pub expiry: Outlook,
}

/// A CA certificate some published certificate chains to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Anchor {
    pub pem: String,
    /// Its notAfter (unix seconds): it leaves the trust bundle then.
    pub not_after: Option<u64>,
}

pub fn unix(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs()
}

fn path(ctx: &HookContext) -> PathBuf {
    ctx.charm_dir.join(CACHE_FILE)
}

/// `None` when absent, unreadable or of another version.
pub fn load(ctx: &HookContext) -> Option<Cache> {
    let text = std::fs::read_to_string(path(ctx)).ok()?;
    let file: File = serde_json::from_str(&text).ok()?;
    (file.version == VERSION).then_some(file.cache)
}

/// Writes `cache`; a failure only costs a full pass next time.
pub fn save(ctx: &HookContext, cache: Cache) {
    let file = File {
        version: VERSION,
        cache,
    };
    if let Ok(text) = serde_json::to_string(&file) {
        let _ = std::fs::write(path(ctx), text);
    }
}

/// Removes the cache: the next hook is a full pass unless this one saves a new cache.
pub fn forget(ctx: &HookContext) {
    let _ = std::fs::remove_file(path(ctx));
}

/// A short digest of `text`.
pub fn digest(text: &str) -> String {
    sha256(text.as_bytes())
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The digest of a list of notes ("" for none).
pub fn notes_digest(notes: &[String]) -> String {
    if notes.is_empty() {
        return String::new();
    }
    digest(&notes.join("\n"))
}

impl LeaderCache {
    /// The cached entry of relation `id` of `endpoint`.
    pub fn entry(&self, endpoint: &str, id: RelationId) -> Option<&Entry> {
        self.relations.get(endpoint)?.get(&id.0)
    }

    /// The earliest deadline: a relation's, the CA's, an anchor's end, the expiry watch's (a
    /// certificate entering its warning window, the next WARNING line).
    pub fn due(&self) -> Option<u64> {
        let relations = self.relations.values().flat_map(|m| m.values());
        relations
            .flat_map(|e| [e.due, e.expiry.next_window])
            .flatten()
            .chain(self.ca_due)
            .chain(self.crl_due)
            .chain(self.anchors.values().filter_map(|a| a.not_after))
            .chain(self.expiry_due)
            .min()
    }

    /// When the safety net asks for the next full pass.
    pub fn next_full(&self) -> u64 {
        self.full_at.saturating_add(self.interval)
    }

    /// The union of every relation's anchors (fingerprints).
    pub fn anchor_set(&self) -> BTreeSet<&str> {
        let relations = self.relations.values().flat_map(|m| m.values());
        relations
            .flat_map(|e| e.anchors.iter().map(String::as_str))
            .collect()
    }

    /// Each dialect's counts (`n` dialects) and their sum, as the last hook left them.
    pub fn sums(&self, n: usize) -> (Vec<Counts>, Counts) {
        let mut by = vec![Counts::default(); n];
        let relations = self.relations.values().flat_map(|m| m.values());
        let parts = relations
            .map(|e| (e.dialect, &e.counts))
            .chain(self.shared.iter().map(|(i, c)| (*i, c)));
        for (i, c) in parts.filter(|(i, _)| *i < n) {
            by[i].add(c);
        }
        let mut total = Counts::default();
        by.iter().for_each(|c| total.add(c));
        (by, total)
    }

    /// The plan relation `id` last had, with no changes to write: what a hook that does not
    /// serve it adds up (counts, anchors). `None` when an anchor PEM is missing.
    pub fn replay(&self, entry: &Entry, id: RelationId) -> Option<Plan> {
        let mut plan = Plan::new(id);
        plan.counts = entry.counts;
        for fp in &entry.anchors {
            plan.anchors.insert(self.anchors.get(fp)?.pem.clone());
        }
        Some(plan)
    }

    /// Records relation `id`'s `plan` (made by dialect `dialect` at `now`).
    pub fn record(&mut self, endpoint: &str, dialect: usize, plan: &Plan, now: SystemTime) {
        let counts = Counts {
            signed: 0,
            replaced: 0,
            ..plan.counts
        };
        // Requests left for a later hook: the next hook serves every relation.
        let due = match counts.deferred {
            0 => plan.due.map(unix),
            _ => Some(unix(now)),
        };
        let mut anchors = BTreeSet::new();
        for pem in &plan.anchors {
            let fp = digest(pem);
            self.anchors
                .entry(fp.clone())
                .or_insert_with(|| anchor(pem));
            anchors.insert(fp);
        }
        let entry = Entry {
            dialect,
            counts,
            anchors,
            due,
            notes: notes_digest(&plan.notes),
            expiry: Outlook::default(),
        };
        self.relations
            .entry(endpoint.to_string())
            .or_default()
            .insert(plan.relation.0, entry);
    }

    /// Sets the expiry outlook of relation `id` (recorded just before).
    pub fn note_expiry(&mut self, endpoint: &str, id: RelationId, outlook: Outlook) {
        let entry = self
            .relations
            .get_mut(endpoint)
            .and_then(|m| m.get_mut(&id.0));
        if let Some(e) = entry {
            e.expiry = outlook;
        }
    }

    /// Keeps `entry` (from the last cache) for relation `id`, with the anchors it names and
    /// the remote bags last read.
    pub fn keep(&mut self, endpoint: &str, id: RelationId, entry: &Entry, last: &LeaderCache) {
        for fp in &entry.anchors {
            if let Some(a) = last.anchors.get(fp) {
                self.anchors.insert(fp.clone(), a.clone());
            }
        }
        if let Some(bags) = last.bags.get(&id.0) {
            self.keep_bags(id, bags.clone());
        }
        self.relations
            .entry(endpoint.to_string())
            .or_default()
            .insert(id.0, entry.clone());
    }

    /// Keeps the remote bags of relation `id` while the cache holds fewer than [`MAX_BAGS`]
    /// bytes of them.
    pub fn keep_bags(&mut self, id: RelationId, bags: KnownBags) {
        if let Some(old) = self.bags.remove(&id.0) {
            self.bag_bytes -= old.size();
        }
        let size = bags.size();
        if self.bag_bytes + size <= MAX_BAGS {
            self.bag_bytes += size;
            self.bags.insert(id.0, bags);
        }
    }

    /// Drops anchors no relation names any more.
    pub fn prune_anchors(&mut self) {
        let used: BTreeSet<String> = self.anchor_set().into_iter().map(String::from).collect();
        self.anchors.retain(|fp, _| used.contains(fp));
    }

    /// One digest of every relation's notes: changes when any relation's notes change.
    pub fn notes_digest(&self) -> String {
        let mut parts = Vec::new();
        for (endpoint, m) in &self.relations {
            for (id, e) in m.iter().filter(|(_, e)| !e.notes.is_empty()) {
                parts.push(format!("{endpoint}:{id}:{}", e.notes));
            }
        }
        notes_digest(&parts)
    }
}

fn anchor(pem: &str) -> Anchor {
    Anchor {
        pem: pem.to_string(),
        not_after: parse_one(pem).map(|c| unix(asn1_to_system(c.not_after()))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(dir: &std::path::Path) -> HookContext {
        HookContext::from_pairs(&[
            ("JUJU_DISPATCH_PATH", "hooks/update-status"),
            ("JUJU_UNIT_NAME", "tls-provider/0"),
            ("JUJU_CHARM_DIR", dir.to_str().unwrap()),
        ])
        .unwrap()
    }

    #[test]
    fn round_trip_and_garbage_reads_as_none() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = ctx(dir.path());
        assert_eq!(load(&ctx), None);
        let mut c = LeaderCache {
            full_at: 10,
            interval: 5,
            ca_due: Some(40),
            ..LeaderCache::default()
        };
        let mut plan = Plan::new(RelationId(3));
        plan.counts.published = 2;
        plan.counts.signed = 2;
        plan.due = Some(UNIX_EPOCH + Duration::from_secs(30));
        plan.anchors.insert("not a pem".into());
        c.record("certificates", 0, &plan, UNIX_EPOCH);
        save(&ctx, Cache::Leader(c.clone()));
        assert_eq!(load(&ctx), Some(Cache::Leader(c.clone())));
        let e = c.entry("certificates", RelationId(3)).unwrap();
        assert_eq!((e.counts.published, e.counts.signed), (2, 0));
        assert_eq!((c.due(), c.next_full()), (Some(30), 15));
        assert_eq!(c.replay(e, RelationId(3)).unwrap().anchors, plan.anchors);
        std::fs::write(path(&ctx), "{").unwrap();
        assert_eq!(load(&ctx), None);
        save(&ctx, Cache::Standby);
        assert_eq!(load(&ctx), Some(Cache::Standby));
        forget(&ctx);
        assert_eq!(load(&ctx), None);
    }

    #[test]
    fn deferred_work_is_due_at_once() {
        let mut c = LeaderCache::default();
        let mut plan = Plan::new(RelationId(1));
        plan.counts.deferred = 1;
        c.record(
            "certificates",
            1,
            &plan,
            UNIX_EPOCH + Duration::from_secs(7),
        );
        assert_eq!(c.due(), Some(7));
    }
}
