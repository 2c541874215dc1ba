//! Where the CSR handed to `provide-certificate` is: in which relation, for which unit, in which
//! dialect; narrowed by `relation-id` and `unit-name`.

use crate::charm::actions::ActionError;
use std::collections::{BTreeMap, BTreeSet};

use juju_hook::RelationId;

use super::error::ProvideError;
use super::input::Input;
use crate::charm::dialect::snapshot::{RelationSnapshot, RequestSource};
use crate::charm::hook::Hook;
use crate::charm::legacy::{self, manual::list_csrs};
use crate::pki::csr_der;

/// Where a CSR was found.
#[derive(Clone, Debug)]
pub struct Location {
    pub relation_id: Option<RelationId>,
    pub application: String,
    /// Modern: requirer unit (`None` = app-level). Legacy: the unit as it names itself.
    pub unit: Option<String>,
    pub is_ca: bool,
    /// The CSR string exactly as the requirer wrote it.
    pub csr_exact: String,
    pub legacy: bool,
    pub common_name: String,
}

impl Location {
    fn describe(&self) -> String {
        let rel = self
            .relation_id
            .map_or("no relation (shared legacy client)".to_string(), |r| {
                format!("relation {r}")
            });
        match &self.unit {
            Some(u) => format!("{rel} (unit {u} of {})", self.application),
            None => format!("{rel} (app-level request of {})", self.application),
        }
    }
}

fn describe_all(locs: &[&Location]) -> String {
    locs.iter()
        .map(|l| l.describe())
        .collect::<Vec<_>>()
        .join(", ")
}

/// `unit-name` matches `unit` (also in the legacy `app_0` spelling).
fn unit_matches(given: &str, unit: &str) -> bool {
    let norm = |s: &str| s.trim().replace('/', "_");
    norm(given) == norm(unit)
}

/// Every place the CSR is asked for, on the relations `snaps`.
fn find_all(
    hook: &Hook<'_>,
    input: &Input,
    snaps: &[RelationSnapshot],
    legacy_relations: &BTreeMap<RelationId, String>,
) -> Result<Vec<Location>, ActionError> {
    let want = input.csr.der.as_slice();
    let mut found = Vec::new();
    for snap in snaps
        .iter()
        .filter(|s| !legacy_relations.contains_key(&s.id))
    {
        for req in snap.requests().requests {
            if req.csr != input.csr_text && csr_der(&req.csr).as_deref() != Some(want) {
                continue;
            }
            let (unit, application) = match &req.source {
                RequestSource::Unit(u) => (Some(u.clone()), snap.remote_app.clone()),
                RequestSource::App(a) => (None, a.clone()),
            };
            found.push(Location {
                relation_id: Some(snap.id),
                application,
                unit,
                is_ca: req.is_ca,
                csr_exact: req.csr.clone(),
                legacy: false,
                common_name: input.csr.common_name.clone().unwrap_or_default(),
            });
        }
    }
    if legacy_relations.is_empty() {
        return Ok(found);
    }
    for c in list_csrs(hook)? {
        if csr_der(&c.csr_pem).as_deref() != Some(want) {
            continue;
        }
        let application = match c.relation_id {
            Some(id) => match legacy_relations.get(&id) {
                Some(a) => a.clone(),
                None => continue,
            },
            None => legacy_relations
                .values()
                .cloned()
                .collect::<Vec<_>>()
                .join(","),
        };
        found.push(Location {
            relation_id: c.relation_id,
            application,
            unit: c.requirer_unit.clone(),
            is_ca: c.is_ca,
            csr_exact: c.csr_pem.clone(),
            legacy: true,
            common_name: c.common_name.clone(),
        });
    }
    Ok(found)
}

/// The legacy relations among `snaps`: id → remote application.
pub fn legacy_relations(snaps: &[RelationSnapshot]) -> BTreeMap<RelationId, String> {
    snaps
        .iter()
        .filter(|s| legacy::speaks_legacy(&s.units))
        .map(|s| (s.id, s.remote_app.clone()))
        .collect()
}

/// The places that receive the certificate: every place the CSR is asked for, narrowed by
/// `relation-id` and `unit-name`. Never empty.
pub fn locate(
    hook: &Hook<'_>,
    input: &Input,
    snaps: &[RelationSnapshot],
) -> Result<Vec<Location>, ActionError> {
    let legacy_relations = legacy_relations(snaps);
    let found = find_all(hook, input, snaps, &legacy_relations)?;
    let list = format!(
        "juju run {}/leader get-outstanding-certificate-requests",
        hook.app()
    );
    if found.is_empty() {
        return Err(match input.relation {
            None => ProvideError::NotFound { list },
            Some(id) => ProvideError::NotFoundIn {
                id,
                related: snaps.iter().any(|s| s.id == id),
                list,
            },
        }
        .into());
    }
    let candidates: Vec<&Location> = found.iter().collect();
    let candidates = by_relation(input.relation, candidates, &legacy_relations)?;
    let candidates = by_unit(input.unit_name.as_deref(), candidates)?;
    Ok(candidates.into_iter().cloned().collect())
}

fn by_relation<'l>(
    relation: Option<RelationId>,
    candidates: Vec<&'l Location>,
    legacy_relations: &BTreeMap<RelationId, String>,
) -> Result<Vec<&'l Location>, ProvideError> {
    let Some(id) = relation else {
        let relations: BTreeSet<Option<RelationId>> =
            candidates.iter().map(|l| l.relation_id).collect();
        if relations.len() > 1 {
            let ids: Vec<String> = relations.iter().flatten().map(|r| r.to_string()).collect();
            return Err(ProvideError::SeveralRelations {
                found: describe_all(&candidates),
                ids: ids.join(", "),
            });
        }
        return Ok(candidates);
    };
    let in_rel: Vec<&Location> = candidates
        .iter()
        .copied()
        // The shared legacy client CSR belongs to every legacy relation.
        .filter(|l| {
            l.relation_id == Some(id)
                || (l.relation_id.is_none() && legacy_relations.contains_key(&id))
        })
        .collect();
    if in_rel.is_empty() {
        return Err(ProvideError::OtherRelation {
            id,
            found: describe_all(&candidates),
        });
    }
    Ok(in_rel)
}

fn by_unit<'l>(
    unit_name: Option<&str>,
    candidates: Vec<&'l Location>,
) -> Result<Vec<&'l Location>, ProvideError> {
    let Some(u) = unit_name else {
        return Ok(candidates);
    };
    let matching: Vec<&Location> = candidates
        .iter()
        .copied()
        .filter(|l| l.unit.as_deref().is_some_and(|x| unit_matches(u, x)))
        .collect();
    if !matching.is_empty() {
        return Ok(matching);
    }
    let (unit, found) = (u.to_string(), describe_all(&candidates));
    Err(if candidates.iter().all(|l| l.unit.is_none()) {
        ProvideError::AppLevelRequest { unit, found }
    } else {
        ProvideError::OtherUnit { unit, found }
    })
}
