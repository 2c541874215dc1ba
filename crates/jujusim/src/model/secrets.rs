//! Secrets on the Juju side: expiry and rotation on the clock, committing a hook's secret writes
//! (consumer records, `secret-changed`, obsolete revisions and `secret-remove`), and secret views.

use std::collections::BTreeMap;
use std::time::Duration;

use super::Model;
use crate::state::{rotate_next, Event, Kind, State, Txn};
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
            // Expiry is per revision (each revision document has its own `expire-time`).
            for (&rev, &exp) in &s.expire {
                if exp <= now && !s.expire_notified.contains(&rev) && s.revisions.contains_key(&rev)
                {
                    st.secrets
                        .get_mut(&id)
                        .expect("secret")
                        .expire_notified
                        .insert(rev);
                    st.push(
                        &owner,
                        Event {
                            secret: Some(id.clone()),
                            secret_revision: Some(rev),
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
                expire: s.latest_expire(),
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

/// What the controller checks when a hook's secret changes are committed (juju/juju 3.6
/// `apiserver/facades/agent/uniter/uniter.go` `commitHookChangesForOneUnit`, calling the
/// secrets manager's `CreateSecrets` / `UpdateSecrets` / `RemoveSecrets` / `SecretsGrant` /
/// `SecretsRevoke`, each behind `CanManage` / `OwnerToken`): every secret the hook changed must
/// exist and be manageable by the unit (its owner, or the leader of its owning application) at
/// commit time, and owner labels must stay unique. An error fails the whole hook.
pub(super) fn check_secret_commit(st: &State, unit: &str, txn: &Txn) -> Result<(), String> {
    let leader = st.is_leader(unit);
    for id in &txn.secret_writes {
        let Some(s) = st.secrets.get(id) else {
            return Err(format!("updating secrets: secret {id:?} not found"));
        };
        if !s.managed_by(unit, leader) {
            return Err(if s.owned_by(unit) {
                format!("updating secrets: secret {id:?}: {unit:?} is not the leader")
            } else {
                "updating secrets: permission denied".to_string()
            });
        }
    }
    for s in txn.secrets.values() {
        if st.secrets.contains_key(&s.id) || !s.owned_by(unit) {
            continue;
        }
        if !s.owner_is_unit && !leader {
            return Err(format!(
                "creating secrets: {unit:?} is not the leader of {:?}",
                s.owner
            ));
        }
    }
    let mut labels = BTreeMap::new();
    for s in txn.secrets.values().filter(|s| s.owned_by(unit)) {
        if let Some(l) = &s.label {
            if labels.insert(l.clone(), s.id.clone()).is_some() {
                return Err(format!("secret with label {l:?} already exists"));
            }
        }
    }
    Ok(())
}

/// Commit the secret store a successful hook of `unit` ended with (checked first with
/// [`check_secret_commit`]). Each pending `secret-set` becomes one new revision; its expiry is
/// the `--expire` given in this hook, or none.
pub(super) fn commit_secrets(st: &mut State, unit: &str, txn: &Txn) {
    let mut merged = txn.secrets.clone();
    for (id, u) in &txn.secret_updates {
        let Some(s) = merged.get_mut(id) else {
            continue;
        };
        match &u.content {
            Some(content) => {
                s.latest += 1;
                let rev = s.latest;
                s.revisions.insert(rev, content.clone());
                if let Some(e) = u.expire {
                    s.expire.insert(rev, e);
                }
            }
            None => {
                if let Some(e) = u.expire {
                    s.expire.insert(s.latest, e);
                    s.expire_notified.remove(&s.latest);
                }
            }
        }
    }
    // Secrets: find new revisions to tell consumers about: consumers tracking an older
    // revision, and units of the owning application that read it (their consumer record
    // follows the latest revision).
    let mut notify: Vec<(String, String)> = Vec::new();
    for (id, new) in &merged {
        let old_latest = st.secrets.get(id).map(|s| s.latest).unwrap_or(0);
        if new.latest > old_latest && old_latest > 0 {
            for (c, info) in &new.consumers {
                if info.revision < new.latest && c != unit {
                    notify.push((c.clone(), id.clone()));
                }
            }
            let old_readers = st.secrets.get(id).map(|s| s.peer_readers.clone());
            for r in new.peer_readers.iter().chain(old_readers.iter().flatten()) {
                if r != unit
                    && st.units.contains_key(r)
                    && !notify.contains(&(r.clone(), id.clone()))
                {
                    notify.push((r.clone(), id.clone()));
                }
            }
        }
    }
    // Consumers are tracked per unit: keep other units' consumer records from the committed store
    // (a hook only changes its own unit's records).
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
            s.peer_readers.extend(old.peer_readers.iter().cloned());
            s.expire_notified
                .extend(old.expire_notified.iter().copied());
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
/// application-owned secret; a user secret has no owner unit, so its revisions are only marked).
/// Each revision is announced once; identical queued events coalesce.
pub(super) fn queue_secret_remove(st: &mut State, ids: &[String]) {
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
