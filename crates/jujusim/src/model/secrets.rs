//! Secrets on the Juju side: expiry and rotation on the clock, committing a hook's secret writes
//! (consumer records, `secret-changed`, obsolete revisions and `secret-remove`), and secret views.

use std::collections::BTreeMap;
use std::time::Duration;

use super::Model;
use crate::state::{rotate_next, Event, Kind, Secret, State};
use crate::views::SecretView;

impl Model {
    /// Move the simulated clock; queues `secret-expired` / `secret-rotate` on owners whose time passed.
    pub fn advance_clock(&mut self, by: Duration) {
        let mut st = self.st();
        st.clock += by;
        let now = st.clock;
        st.fire_retry_timers(now);
        let ids: Vec<String> = st.secrets.keys().cloned().collect();
        for id in ids {
            let s = st.secrets[&id].clone();
            let Some(owner) = st.secret_owner_unit(&s) else {
                continue;
            };
            if let Some(exp) = s.expire {
                if exp <= now && !s.expire_notified {
                    st.secrets.get_mut(&id).expect("secret").expire_notified = true;
                    st.push(
                        &owner,
                        Event {
                            secret: Some(id.clone()),
                            secret_revision: Some(s.latest),
                            kind: Kind::Secret,
                            ..Event::plain("secret-expired")
                        },
                    );
                }
            }
            if let (Some(next), Some(policy)) = (s.next_rotate, &s.rotate) {
                if next <= now {
                    let again = rotate_next(policy, now);
                    st.secrets.get_mut(&id).expect("secret").next_rotate = again;
                    st.push(
                        &owner,
                        Event {
                            secret: Some(id.clone()),
                            kind: Kind::Secret,
                            ..Event::plain("secret-rotate")
                        },
                    );
                }
            }
        }
    }

    pub fn secrets(&self) -> Vec<SecretView> {
        let st = self.st();
        st.secrets
            .values()
            .map(|s| SecretView {
                id: s.id.clone(),
                owner: s.owner.clone(),
                label: s.label.clone(),
                revisions: (1..=s.latest)
                    .map(|r| s.revisions.get(&r).cloned().unwrap_or_default())
                    .collect(),
                removed_revisions: (1..=s.latest)
                    .filter(|r| !s.revisions.contains_key(r))
                    .collect(),
                obsolete_revisions: s.obsolete.iter().copied().collect(),
                expire: s.expire,
                rotate: s.rotate.clone(),
            })
            .collect()
    }

    /// Grants of a secret: target (app or unit) -> relation id.
    pub fn secret_grants(&self, id: &str) -> BTreeMap<String, u32> {
        self.st()
            .secrets
            .get(id)
            .map(|s| s.grants.clone())
            .unwrap_or_default()
    }

    /// Revision a consumer unit is pinned to, if it has read the secret.
    pub fn secret_consumer_revision(&self, id: &str, unit: &str) -> Option<u32> {
        self.st()
            .secrets
            .get(id)
            .and_then(|s| s.consumers.get(unit).map(|c| c.revision))
    }
}

/// Commit the secret store a successful hook of `unit` ended with.
pub(super) fn commit_secrets(st: &mut State, unit: &str, written: &BTreeMap<String, Secret>) {
    // Secrets: find new revisions to tell consumers about.
    let mut notify: Vec<(String, String)> = Vec::new();
    for (id, new) in written {
        let old_latest = st.secrets.get(id).map(|s| s.latest).unwrap_or(0);
        if new.latest > old_latest && old_latest > 0 {
            for (c, info) in &new.consumers {
                if info.revision < new.latest && c != unit {
                    notify.push((c.clone(), id.clone()));
                }
            }
        }
    }
    // Consumers are tracked per unit: keep other units' consumer records from the committed store
    // (a hook only changes its own unit's records).
    let mut merged = written.clone();
    // Secrets whose revisions may have become obsolete: a new revision, or this unit's consumer
    // moved off the revision it tracked (`--refresh`).
    let mut recheck: Vec<String> = Vec::new();
    for (id, s) in merged.iter_mut() {
        let old = st.secrets.get(id);
        if let Some(old) = old {
            for (c, info) in &old.consumers {
                // ... unless this (owner) hook revoked that consumer's grant.
                let revoked = old.granted_to(c) && !s.granted_to(c);
                if c != unit && !revoked {
                    s.consumers.insert(c.clone(), info.clone());
                }
            }
            s.obsolete.extend(old.obsolete.iter().copied());
        }
        let old_latest = old.map(|o| o.latest).unwrap_or(0);
        let old_tracked = old.and_then(|o| o.consumers.get(unit)).map(|c| c.revision);
        let new_tracked = s.consumers.get(unit).map(|c| c.revision);
        if s.latest != old_latest || (old_tracked.is_some() && old_tracked != new_tracked) {
            recheck.push(id.clone());
        }
    }
    st.secrets = merged;
    queue_secret_remove(st, &recheck);
    for (c, id) in notify {
        st.push(
            &c,
            Event {
                secret: Some(id),
                kind: Kind::Secret,
                ..Event::plain("secret-changed")
            },
        );
    }
}

/// Mark the revisions of `ids` that no consumer tracks any more (and are not the latest) obsolete,
/// and queue `secret-remove` with `JUJU_SECRET_REVISION` for each on the owner (the leader for an
/// application-owned secret). Each revision is announced once; identical queued events coalesce.
fn queue_secret_remove(st: &mut State, ids: &[String]) {
    for id in ids {
        let Some(s) = st.secrets.get_mut(id) else {
            continue;
        };
        let revs = s.newly_obsolete();
        if revs.is_empty() {
            continue;
        }
        s.obsolete.extend(revs.iter().copied());
        let s = s.clone();
        let Some(owner) = st.secret_owner_unit(&s) else {
            continue;
        };
        for rev in revs {
            st.push(&owner, secret_remove_event(id, rev));
        }
    }
}

fn secret_remove_event(id: &str, rev: u32) -> Event {
    Event {
        secret: Some(id.to_string()),
        secret_revision: Some(rev),
        kind: Kind::Secret,
        ..Event::plain("secret-remove")
    }
}
