//! `revoke-certificate` and `get-crl`.
//!
//! `revoke-certificate` takes exactly one selector (`serial`, `csr-fingerprint`, or
//! `relation-id` with an optional `unit`) and an optional `reason`. Each matching published
//! modern entry is marked `revoked: true` (the requirer library removes its certificate; the
//! plan never signs that CSR again, so the requirer must send a new CSR), and a record is kept
//! in the peer databag ([`crate::charm::revocation`]); certificates our CA issued go into its
//! CRL, which the result carries. A certificate signed outside the charm (manual mode) is
//! withdrawn the same way, and the result says that its CA must revoke it.
//!
//! Legacy requirers ([`legacy`]): the certificate and the key we generated are withdrawn from
//! our unit databag and dropped from the legacy key store, where the entry stays marked
//! revoked; the requirer gets a new key and certificate only when its request changes or the
//! relation is made again. The shared legacy client certificate is replaced by a new one.

mod legacy;

use std::collections::BTreeMap;

use base64::Engine;
use juju_hook::{Member, RelationId};
use openssl::x509::X509;
use serde_json::{json, Value};

use super::params::{relation_id_param, string_param};
use super::results::{set_json_list, split_note};
use super::{fail, ActionError};
use crate::charm::ca::{self, Loaded, StoredCa};
use crate::charm::clock;
use crate::charm::dialect::snapshot::bag_of;
use crate::charm::dialect::snapshot::own_unit_bag;
use crate::charm::hook::Hook;
use crate::charm::legacy::manual::holds_certificate;
use crate::charm::reconcile;
use crate::charm::revocation::crl::{self, SignedCrl};
use crate::charm::revocation::{csr_fingerprint, Revocation, Store};
use crate::pki::trust::fingerprint;
use crate::pki::verify::{cert_info, issued_by};
use crate::pki::RevocationReason;
use crate::protocol::modern::{parse_requirer_value, ProviderAppData, ProviderCertificate};

/// What the operator asked to revoke.
enum Selector {
    Serial(String),
    CsrFingerprint(String),
    Relation(RelationId, Option<String>),
}

impl Selector {
    fn describe(&self) -> String {
        match self {
            Selector::Serial(s) => format!("serial={s}"),
            Selector::CsrFingerprint(f) => format!("csr-fingerprint={f}"),
            Selector::Relation(id, None) => format!("relation-id={}", id.0),
            Selector::Relation(id, Some(u)) => format!("relation-id={} unit={u}", id.0),
        }
    }
}

/// One published entry that matched, with what we know about it.
struct Match {
    /// `None`: the shared legacy client certificate (on every legacy relation).
    relation: Option<RelationId>,
    application: String,
    unit: Option<String>,
    serial: String,
    csr_fingerprint: String,
    common_name: Option<String>,
    /// Our CA (active or previous) issued it.
    issuer: Option<String>,
    /// Legacy: the request kind (`server`, ..., `shared-client`).
    legacy_kind: Option<&'static str>,
}

/// `revoke-certificate`.
pub fn revoke_certificate(hook: &Hook<'_>) -> Result<(), ActionError> {
    let params = hook.tools.action_get()?;
    let selector = selector(&params)?;
    let reason = match string_param(&params, "reason")? {
        None => RevocationReason::Unspecified,
        Some(r) => RevocationReason::parse(&r).ok_or_else(|| {
            let names: Vec<&str> = RevocationReason::ALL.iter().map(|r| r.as_str()).collect();
            fail(format!(
                "reason={r:?} is not an RFC 5280 reason; use one of {}",
                names.join(", ")
            ))
        })?,
    };
    let mut store = Store::load(hook)?;
    if store.relation.is_none() {
        return Err(fail(
            "the peer relation `cluster` does not exist yet, so a revocation cannot be recorded; retry in a moment",
        ));
    }
    let now = clock::rfc3339(hook.now);
    let mut found = Vec::new();
    for id in hook.tools.relation_ids("certificates")? {
        if let Selector::Relation(want, _) = &selector {
            if *want != id {
                continue;
            }
        }
        if let Some(f) = find_in(hook, id, &selector)? {
            found.push(f);
        }
    }
    let mut legacy_found = legacy::find_and_revoke(hook, &selector)?;
    if found.is_empty() && legacy_found.is_none() {
        return Err(fail(format!(
            "no published certificate matches {} (revoked ones stay listed and are not revoked \
             twice); list them with `juju run {app}/leader get-issued-certificates` (legacy \
             requirers' with `juju run {app}/leader get-certificate-request relation-id=<id>`)",
            selector.describe(),
            app = hook.app()
        )));
    }
    let stored = match ca::load(hook.tools)? {
        Loaded::Ok(s) => Some(s),
        _ => None,
    };
    let mut matches = Vec::new();
    for f in found {
        matches.extend(revoke_found(hook, f, stored.as_ref())?);
    }
    if let Some(lf) = &mut legacy_found {
        // Written now, so the revocation holds even if the reconcile below stops early.
        lf.store.commit(hook.tools)?;
        for (mut m, cert) in lf.matches.drain(..) {
            m.issuer = issuer_of(&cert, stored.as_ref());
            matches.push(m);
        }
    }
    for m in &matches {
        store.records.push(Revocation {
            serial: m.serial.clone(),
            csr_fingerprint: m.csr_fingerprint.clone(),
            relation_id: m.relation.map_or(0, |r| r.0),
            application: m.application.clone(),
            unit: m.unit.clone(),
            common_name: m.common_name.clone(),
            issuer_fingerprint: m.issuer.clone(),
            revoked_at: now.clone(),
            reason: reason.as_str().to_string(),
            legacy_kind: m.legacy_kind.map(str::to_string),
        });
    }
    store.save(hook)?;
    let pending = match legacy_found {
        Some(lf) => withdraw_legacy(hook, lf)?,
        None => Vec::new(),
    };
    report(hook, &matches, stored.as_ref(), &store, &pending)
}

/// Publishes the legacy relations without the revoked certificates and keys (a reconcile with
/// the changed store), then checks they are gone. Returns the relations still holding one.
fn withdraw_legacy(hook: &Hook<'_>, lf: legacy::LegacyFound) -> Result<Vec<u32>, ActionError> {
    let store = lf.store;
    reconcile::reconcile_with_legacy_store(hook, store)?;
    let mut pending = Vec::new();
    for (rel, cert) in &lf.withdrawn {
        let ids = rel.map_or(lf.relations.clone(), |r| vec![r]);
        for id in ids {
            let held = own_unit_bag(hook, id)?.is_some_and(|bag| holds_certificate(&bag, cert));
            if held && !pending.contains(&id.0) {
                pending.push(id.0);
            }
        }
    }
    Ok(pending)
}

fn selector(params: &super::params::Params) -> Result<Selector, ActionError> {
    let serial = string_param(params, "serial")?;
    let fp = string_param(params, "csr-fingerprint")?;
    let rel = relation_id_param(params)?;
    let unit = string_param(params, "unit")?;
    if unit.is_some() && rel.is_none() {
        return Err(fail(
            "unit= needs relation-id= (the relation the unit is in)",
        ));
    }
    let given = [serial.is_some(), fp.is_some(), rel.is_some()];
    if given.iter().filter(|g| **g).count() != 1 {
        return Err(fail(
            "give exactly one of serial=<hex>, csr-fingerprint=<sha256> or relation-id=<id> \
             (optionally with unit=<unit>)",
        ));
    }
    Ok(match (serial, fp, rel) {
        (Some(s), _, _) => Selector::Serial(normalise_hex(&s)),
        (_, Some(f), _) => Selector::CsrFingerprint(normalise_hex(&f)),
        (_, _, Some(id)) => Selector::Relation(id, unit),
        _ => unreachable!("exactly one selector was checked above"),
    })
}

/// Uppercase hex without `0x`, colons or leading zeros: how serials compare.
pub fn normalise_hex(s: &str) -> String {
    let t = s.trim();
    let t = t
        .strip_prefix("0x")
        .or_else(|| t.strip_prefix("0X"))
        .unwrap_or(t);
    let digits: String = t.chars().filter(|c| *c != ':').collect();
    let trimmed = digits.trim_start_matches('0');
    if trimmed.is_empty() && !digits.is_empty() {
        "0".into()
    } else {
        trimmed.to_ascii_uppercase()
    }
}

/// The matching entries of one relation, not revoked yet.
struct Found {
    relation: RelationId,
    bag: juju_hook::Databag,
    data: ProviderAppData,
    /// Index into `data.certificates`, the match, the certificate.
    hits: Vec<(usize, Match, X509)>,
}

/// Finds the entries of relation `id` that `selector` names (reads only).
fn find_in(
    hook: &Hook<'_>,
    id: RelationId,
    selector: &Selector,
) -> Result<Option<Found>, ActionError> {
    let Some(bag) = bag_of(hook, id, &Member::App(hook.app().to_string()))? else {
        return Ok(None);
    };
    let (data, _) = ProviderAppData::from_databag(&bag);
    let units = requesting_units(hook, id)?;
    let application = hook
        .tools
        .relation_list(id)?
        .first()
        .and_then(|u| u.split('/').next().map(str::to_string))
        .unwrap_or_default();
    let hits: Vec<(usize, Match, X509)> = data
        .certificates
        .iter()
        .enumerate()
        .filter(|(_, e)| !e.revoked)
        .filter_map(|(i, e)| {
            matching(e, id, selector, &units, &application).map(|(m, c)| (i, m, c))
        })
        .collect();
    Ok((!hits.is_empty()).then_some(Found {
        relation: id,
        bag,
        data,
        hits,
    }))
}

/// The fingerprint of our CA when it issued `cert` (so the serial goes in its CRL): the
/// active CA, or the previous one while it still signs its own CRL.
fn issuer_of(cert: &X509, stored: Option<&StoredCa>) -> Option<String> {
    crl::signing_cas(stored?)
        .into_iter()
        .find(|ca| issued_by(cert, &ca.cert))
        .map(|ca| fingerprint(&ca.cert))
}

/// Marks the found entries revoked, notes who issued each, and writes our app databag.
fn revoke_found(
    hook: &Hook<'_>,
    mut f: Found,
    stored: Option<&StoredCa>,
) -> Result<Vec<Match>, ActionError> {
    let mut out = Vec::new();
    for (i, mut m, cert) in f.hits {
        m.issuer = issuer_of(&cert, stored);
        f.data.certificates[i].revoked = true;
        out.push(m);
    }
    let changes = f.data.changes_from(&f.bag);
    hook.tools.relation_set(f.relation, true, &changes)?;
    Ok(out)
}

/// CSR text → the requirer unit that publishes it.
fn requesting_units(
    hook: &Hook<'_>,
    id: RelationId,
) -> Result<BTreeMap<String, String>, ActionError> {
    let mut out = BTreeMap::new();
    for unit in hook.tools.relation_list(id)? {
        let Some(bag) = bag_of(hook, id, &Member::Unit(unit.clone()))? else {
            continue;
        };
        let Some(value) = bag.get("certificate_signing_requests") else {
            continue;
        };
        if let Ok(reqs) = parse_requirer_value(value) {
            for r in reqs.requests {
                out.insert(
                    r.certificate_signing_request.trim().to_string(),
                    unit.clone(),
                );
            }
        }
    }
    Ok(out)
}

fn matching(
    entry: &ProviderCertificate,
    id: RelationId,
    selector: &Selector,
    units: &BTreeMap<String, String>,
    application: &str,
) -> Option<(Match, X509)> {
    let cert = X509::from_pem(entry.certificate.as_bytes()).ok()?;
    let info = cert_info(&cert);
    let serial = normalise_hex(&info.serial_hex);
    let csr_fp = csr_fingerprint(&entry.certificate_signing_request).unwrap_or_default();
    let unit = units.get(entry.certificate_signing_request.trim()).cloned();
    let hit = match selector {
        Selector::Serial(s) => *s == serial,
        Selector::CsrFingerprint(f) => f.eq_ignore_ascii_case(&csr_fp),
        Selector::Relation(_, None) => true,
        Selector::Relation(_, Some(u)) => unit.as_deref() == Some(u.as_str()),
    };
    if !hit {
        return None;
    }
    Some((
        Match {
            relation: Some(id),
            application: application.to_string(),
            unit,
            serial,
            csr_fingerprint: csr_fp,
            common_name: info.common_name,
            issuer: None,
            legacy_kind: None,
        },
        cert,
    ))
}

fn report(
    hook: &Hook<'_>,
    matches: &[Match],
    stored: Option<&StoredCa>,
    store: &Store,
    pending: &[u32],
) -> Result<(), ActionError> {
    let mut results = BTreeMap::new();
    let items: Vec<Value> = matches
        .iter()
        .map(|m| {
            let mut v = json!({
                "relation-id": m.relation.map(|r| r.0),
                "application": m.application,
                "unit": m.unit,
                "common-name": m.common_name,
                "serial": m.serial,
                "csr-fingerprint": m.csr_fingerprint,
                "in-our-crl": m.issuer.is_some(),
            });
            if let Some(kind) = m.legacy_kind {
                v["legacy-kind"] = json!(kind);
            }
            v
        })
        .collect();
    let parts = set_json_list(&mut results, "revoked", &items);
    results.insert("message".into(), message(matches, pending, parts));
    if let Some(s) = stored {
        let validity = crl_validity(hook);
        let crls = crl::maintain_with(hook, s, validity, store)?;
        if let Some(active) = crls.crls.first() {
            results.insert("crl".into(), active.pem.clone());
        }
    }
    hook.tools.action_set(&results)?;
    Ok(())
}

/// The result message: what happens next for each dialect.
fn message(matches: &[Match], pending: &[u32], parts: usize) -> String {
    let shared = matches
        .iter()
        .filter(|m| m.legacy_kind == Some("shared-client"))
        .count();
    let legacy = matches.iter().filter(|m| m.legacy_kind.is_some()).count() - shared;
    let modern = matches.len() - legacy - shared;
    let mut parts_text = vec![format!("revoked {} certificate(s)", matches.len())];
    if modern > 0 {
        parts_text.push(format!(
            "{modern} for modern requirers: the requirer must send a new CSR to get a new \
             certificate (the revoked CSR is never signed again)"
        ));
    }
    if legacy > 0 {
        parts_text.push(format!(
            "{legacy} for legacy requirers: their certificate and key are withdrawn from the \
             relation and never served again; a legacy requirer gets a new key and certificate \
             when it changes the request (common name or SANs) or the relation is made again"
        ));
    }
    if shared > 0 {
        parts_text.push(
            "the shared legacy client certificate: withdrawn, and a new key and certificate \
             replace it on every legacy relation"
                .to_string(),
        );
    }
    let outside = matches.iter().filter(|m| m.issuer.is_none()).count();
    if outside > 0 {
        parts_text.push(format!(
            "{outside} of them were signed outside this charm: they are withdrawn here, and \
             the CA that signed them must revoke them in its own CRL"
        ));
    }
    if !pending.is_empty() {
        let ids: Vec<String> = pending.iter().map(u32::to_string).collect();
        parts_text.push(format!(
            "relation(s) {} still carry a revoked legacy certificate: the charm is not ready \
             (see its status); the next hook withdraws it",
            ids.join(", ")
        ));
    }
    if let Some(note) = split_note("revoked", parts) {
        parts_text.push(note);
    }
    parts_text.join("; ")
}

/// `crl-validity` of the config (the default when the config is invalid: the reconcile
/// reports that separately).
fn crl_validity(hook: &Hook<'_>) -> u64 {
    match hook.config() {
        Ok(Ok(c)) => c.crl_validity,
        _ => crate::charm::config::parse_duration(crate::charm::config::DEFAULT_CRL_VALIDITY)
            .unwrap_or(7 * 86_400),
    }
}

/// `get-crl`: the CRL of the active CA (`crl`, `crl-der-base64`, `issuer`, `revoked-count`,
/// `this-update`, `next-update`) and, while the CA before the last rotation is still trusted,
/// the same keys prefixed `previous-` for its CRL. The stored CRLs are returned as they are
/// while current (signed again first when due).
pub fn get_crl(hook: &Hook<'_>) -> Result<(), ActionError> {
    let stored = match ca::load(hook.tools)? {
        Loaded::Ok(s) => s,
        _ => {
            return Err(fail(
                "there is no built-in CA (manual mode, or not created yet), so there is no CRL of ours; \
                 certificates signed outside the charm are revoked by their own CA",
            ))
        }
    };
    let crls = crl::maintain(hook, &stored, crl_validity(hook))?;
    let mut results = BTreeMap::new();
    let cas = [Some(&stored.ca.cert), stored.previous.as_ref()];
    for (prefix, (signed, cert)) in ["", "previous-"].iter().zip(crls.crls.iter().zip(cas)) {
        if let Some(cert) = cert {
            put_crl(&mut results, prefix, signed, cert);
        }
    }
    hook.tools.action_set(&results)?;
    Ok(())
}

fn put_crl(results: &mut BTreeMap<String, String>, prefix: &str, crl: &SignedCrl, ca: &X509) {
    let der = openssl::x509::X509Crl::from_pem(crl.pem.as_bytes())
        .and_then(|c| c.to_der())
        .unwrap_or_default();
    let mut put = |k: &str, v: String| {
        results.insert(format!("{prefix}{k}"), v);
    };
    put("crl", crl.pem.clone());
    put(
        "crl-der-base64",
        base64::engine::general_purpose::STANDARD.encode(der),
    );
    put("revoked-count", crl.revoked.to_string());
    put("issuer", cert_info(ca).subject);
    put("this-update", clock::rfc3339(unix_time(crl.this_update)));
    put("next-update", clock::rfc3339(unix_time(crl.next_update)));
}

fn unix_time(secs: u64) -> std::time::SystemTime {
    std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs)
}

#[cfg(test)]
mod tests {
    use super::normalise_hex;

    #[test]
    fn serials_compare_without_case_colons_or_leading_zeros() {
        assert_eq!(normalise_hex("0x00ab:CD"), "ABCD");
        assert_eq!(normalise_hex("7f"), "7F");
        assert_eq!(normalise_hex("00"), "0");
    }
}
