//! The per-unit event queues: queuing an event (identical queued events coalesce), relation
//! events, `-relation-created` ordering before `start`, and the `-changed` a committed bag write
//! causes (see `docs/juju-hook-contract.md` §3.3).

use super::{app_of, Event, Kind, State};

impl State {
    /// Queue an event on a unit, dropping it if an identical one is already queued (not running).
    pub fn push(&mut self, unit: &str, ev: Event) {
        if self.is_puppet(unit) {
            return;
        }
        if let Some(u) = self.units.get_mut(unit) {
            // The failed event of a unit in error still counts as queued.
            if !u.queue.contains(&ev) && u.failed.as_ref() != Some(&ev) {
                u.queue.push_back(ev);
            }
        }
    }

    /// A relation event for `unit` on relation `rel`.
    pub fn rel_event(
        &self,
        unit: &str,
        rel: u32,
        kind: &str,
        remote_unit: Option<&str>,
        departing: Option<&str>,
    ) -> Option<Event> {
        let r = self.relations.get(&rel)?;
        let app = app_of(unit);
        let ep = r.endpoint_of(app)?;
        Some(Event {
            hook: format!("{ep}-relation-{kind}"),
            kind: Kind::Rel(kind.to_string()),
            rel: Some(rel),
            remote_unit: remote_unit.map(String::from),
            remote_app: r.remote_app(app).map(String::from),
            departing: departing.map(String::from),
            secret: None,
            secret_revision: None,
        })
    }

    pub fn push_rel(
        &mut self,
        unit: &str,
        rel: u32,
        kind: &str,
        remote_unit: Option<&str>,
        departing: Option<&str>,
    ) {
        if let Some(ev) = self.rel_event(unit, rel, kind, remote_unit, departing) {
            self.push(unit, ev);
        }
    }

    /// Queue `-relation-created` for a unit that may not have started yet: before start it goes
    /// right after `install` (and any other `-created`), as Juju runs it before leader-elected.
    pub fn push_created(&mut self, unit: &str, rel: u32) {
        let Some(ev) = self.rel_event(unit, rel, "created", None, None) else {
            return;
        };
        if self.is_puppet(unit) {
            return;
        }
        let Some(u) = self.units.get_mut(unit) else {
            return;
        };
        if !u.started {
            if let Some(pos) = u.queue.iter().position(|e| e.hook == "install") {
                let mut at = pos + 1;
                while at < u.queue.len()
                    && matches!(&u.queue[at].kind, Kind::Rel(k) if k == "created")
                {
                    at += 1;
                }
                u.queue.insert(at, ev);
                return;
            }
        }
        u.queue.push_back(ev);
    }

    /// A committed change to the bag of `owner` (unit or app) in `rel`: queue `-changed` on the
    /// units that see it. `writer` is the unit whose hook wrote it (never notified).
    pub fn notify_bag_change(&mut self, rel: u32, owner: &str, writer: Option<&str>) {
        let Some(r) = self.relations.get(&rel) else {
            return;
        };
        if r.dying {
            return;
        }
        let owner_app = app_of(owner).to_string();
        let recipients: Vec<String> = if r.peer {
            self.live_app_units(&owner_app)
        } else {
            match r.remote_app(&owner_app) {
                Some(remote) => self.live_app_units(remote),
                None => return,
            }
        };
        let is_unit = owner.contains('/');
        for rcpt in recipients {
            if Some(rcpt.as_str()) == writer || rcpt == owner {
                continue;
            }
            let Some(ur) = self.units.get(&rcpt).and_then(|u| u.rels.get(&rel)) else {
                continue;
            };
            if ur.broken {
                continue;
            }
            if is_unit {
                if ur.known.contains(owner) {
                    self.push_rel(&rcpt, rel, "changed", Some(owner), None);
                }
            } else {
                self.push_rel(&rcpt, rel, "changed", None, None);
            }
        }
    }
}
