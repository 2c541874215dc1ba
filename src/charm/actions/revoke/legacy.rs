//! `revoke-certificate` for legacy requirers, whose keys and certificates we generated and keep
//! in the legacy key store ([`crate::charm::legacy::store`]).
//!
//! The revoked marker lives in that store: the entry stays, with `revoked: true`, its CSR (for
//! the listings and the CSR fingerprint), and neither key nor certificate
//! ([`Entry::revoke`]). The store is read by every reconcile that serves a legacy relation, so
//! no other data is read; the plan publishes no certificate for a revoked entry and never signs
//! it again while the request stays the same (same kind, unit, CN and SAN set). A changed
//! request is a new entry (new key and certificate), and a relation made again has a new id, so
//! no entry: that is the legacy counterpart of "the requirer must send a new CSR".
//!
//! Selectors: `serial` (the leaf's serial), `csr-fingerprint` (SHA-256 of the DER of the CSR we
//! generated, [`csr_fingerprint`]), `relation-id` (every certificate of the relation) with
//! optional `unit` (the requirer unit as Juju names it, `etcd/0`, or as it names itself,
//! `etcd_0`; the relation's application certificate belongs to no unit). Only entries with a
//! certificate match.
//!
//! The shared client certificate (`client.cert`, on every legacy relation, `relation-id` null in
//! the listings) is matched by `serial` or `csr-fingerprint` only. It is not kept revoked:
//! ops requirers are not ready without it, so it is dropped and the reconcile that follows makes
//! a new key and certificate (in manual mode a new CSR for `provide-certificate`).

use std::collections::BTreeMap;

use juju_hook::RelationId;
use openssl::x509::X509;

use super::{normalise_hex, Match, Selector};
use crate::charm::actions::ActionError;
use crate::charm::dialect::snapshot::{self, RelationSnapshot};
use crate::charm::hook::Hook;
use crate::charm::legacy;
use crate::charm::legacy::store::{Entry, Store};
use crate::charm::revocation::csr_fingerprint;
use crate::charm::ENDPOINT;
use crate::pki::verify::{cert_info, parse_certs};
use crate::protocol::legacy as proto;

/// What a legacy revocation found and changed.
pub struct LegacyFound {
    /// The store with the matches revoked (not written yet).
    pub store: Store,
    /// Each match with its leaf certificate (its `issuer` is set by the caller).
    pub matches: Vec<(Match, X509)>,
    /// The certificates withdrawn, by relation (`None`: the shared client, on every legacy
    /// relation), to check they are gone after the reconcile.
    pub withdrawn: Vec<(Option<RelationId>, String)>,
    /// The live legacy relations.
    pub relations: Vec<RelationId>,
}

/// Finds the legacy entries `selector` names and revokes them in the (loaded) store. `None`
/// when there is no legacy relation or nothing matched.
pub fn find_and_revoke(
    hook: &Hook<'_>,
    selector: &Selector,
) -> Result<Option<LegacyFound>, ActionError> {
    let ids = snapshot::relation_ids(hook, ENDPOINT)?;
    let ids: Vec<RelationId> = match selector {
        Selector::Relation(want, _) => ids.into_iter().filter(|i| i == want).collect(),
        _ => ids,
    };
    let snaps: Vec<RelationSnapshot> = snapshot::read_relations(hook, &ids)?
        .into_iter()
        .filter(|s| legacy::speaks_legacy(&s.units))
        .collect();
    if snaps.is_empty() {
        return Ok(None);
    }
    let mut store = Store::load(hook)?;
    let mut matches = Vec::new();
    let mut withdrawn = Vec::new();
    for snap in &snaps {
        let unit_keys = unit_keys(snap);
        let Some(entries) = store.doc.relations.get_mut(&snap.id.0) else {
            continue;
        };
        for entry in entries.values_mut().filter(|e| !e.revoked) {
            let Some((cert, serial)) = leaf(entry) else {
                continue;
            };
            if !hits(selector, entry, &serial, &unit_keys) {
                continue;
            }
            withdrawn.push((Some(snap.id), entry.cert.clone().unwrap_or_default()));
            let m = matched(Some(snap.id), snap.remote_app.clone(), entry, serial);
            matches.push((m, cert));
            entry.revoke();
        }
    }
    if !matches!(selector, Selector::Relation(..)) {
        let shared = store.doc.client.as_ref().and_then(|e| {
            let (cert, serial) = leaf(e)?;
            hits(selector, e, &serial, &BTreeMap::new()).then_some((cert, serial))
        });
        if let Some((cert, serial)) = shared {
            let entry = store.doc.client.take().expect("matched above");
            let apps: Vec<&str> = snaps.iter().map(|s| s.remote_app.as_str()).collect();
            withdrawn.push((None, entry.cert.clone().unwrap_or_default()));
            matches.push((matched(None, apps.join(","), &entry, serial), cert));
        }
    }
    Ok((!matches.is_empty()).then(|| LegacyFound {
        store,
        matches,
        withdrawn,
        relations: snaps.iter().map(|s| s.id).collect(),
    }))
}

/// Juju unit name (`etcd/0`) → the `{unit}` key its entries carry (`etcd_0`, or its
/// `unit_name`).
fn unit_keys(snap: &RelationSnapshot) -> BTreeMap<String, String> {
    proto::parse_relation(&snap.units)
        .into_iter()
        .map(|u| (u.remote_unit, u.unit_key))
        .collect()
}

/// The entry's leaf certificate and its serial (normalised), when it has one.
fn leaf(entry: &Entry) -> Option<(X509, String)> {
    let cert = parse_certs(entry.cert.as_deref()?)
        .ok()?
        .into_iter()
        .next()?;
    let serial = normalise_hex(&cert_info(&cert).serial_hex);
    Some((cert, serial))
}

fn hits(
    selector: &Selector,
    entry: &Entry,
    serial: &str,
    unit_keys: &BTreeMap<String, String>,
) -> bool {
    match selector {
        Selector::Serial(s) => s == serial,
        Selector::CsrFingerprint(f) => {
            csr_fingerprint(&entry.csr).is_some_and(|c| c.eq_ignore_ascii_case(f))
        }
        Selector::Relation(_, None) => true,
        Selector::Relation(_, Some(u)) => entry
            .unit
            .as_deref()
            .is_some_and(|key| key == u || unit_keys.get(u).is_some_and(|k| k == key)),
    }
}

fn matched(
    relation: Option<RelationId>,
    application: String,
    entry: &Entry,
    serial: String,
) -> Match {
    Match {
        relation,
        application,
        unit: entry.unit.clone(),
        serial,
        csr_fingerprint: csr_fingerprint(&entry.csr).unwrap_or_default(),
        common_name: Some(entry.cn.clone()).filter(|c| !c.is_empty()),
        issuer: None,
        legacy_kind: Some(
            entry
                .kind
                .map_or(SHARED_CLIENT_KIND, proto::RequestKind::as_str),
        ),
    }
}

/// The kind the listings give the shared client certificate.
const SHARED_CLIENT_KIND: &str = "shared-client";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::legacy::RequestKind;

    fn entry(unit: Option<&str>) -> Entry {
        Entry {
            kind: Some(if unit.is_some() {
                RequestKind::Server
            } else {
                RequestKind::Application
            }),
            unit: unit.map(str::to_string),
            cn: "a.example".into(),
            sans: vec![],
            key: String::new(),
            csr: String::new(),
            cert: None,
            ca: None,
            chain: None,
            revoked: false,
        }
    }

    #[test]
    fn a_unit_is_named_as_juju_or_as_the_requirer_names_itself() {
        let keys = BTreeMap::from([("etcd/0".to_string(), "etcd_remote_7".to_string())]);
        let mine = entry(Some("etcd_remote_7"));
        let unit = |u: &str| Selector::Relation(RelationId(3), Some(u.to_string()));
        assert!(hits(&unit("etcd/0"), &mine, "1", &keys));
        assert!(hits(&unit("etcd_remote_7"), &mine, "1", &keys));
        assert!(!hits(&unit("etcd/1"), &mine, "1", &keys));
        assert!(!hits(&unit("etcd_0"), &mine, "1", &keys));
        // The application certificate belongs to no unit, only to the relation.
        let app = entry(None);
        assert!(!hits(&unit("etcd/0"), &app, "1", &keys));
        assert!(hits(
            &Selector::Relation(RelationId(3), None),
            &app,
            "1",
            &keys
        ));
        assert!(hits(&Selector::Serial("1".into()), &app, "1", &keys));
        assert!(!hits(&Selector::Serial("2".into()), &app, "1", &keys));
    }
}
