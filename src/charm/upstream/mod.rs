//! The `upstream-ca` endpoint: the leader as a modern `tls-certificates` requirer, asking the
//! related provider for one application-level CA certificate (our intermediate).
//!
//! Per hook, when the relation exists: `relation-ids` + `relation-list` + the provider's app
//! bag + our app bag; one `relation-set` only when the CSR we want answered changes. What the
//! provider wrote is untrusted: it is parsed leniently (bad entries dropped) and every answer
//! is checked ([`answer`]) before the CA module may use it.

pub mod answer;

use juju_hook::{Databag, Member, RelationId, ToolError};
use serde_json::json;

use crate::charm::ca::source::UPSTREAM_ENDPOINT;
use crate::charm::ca::{CaSource, PendingFor, StoredCa};
use crate::charm::dialect::snapshot;
use crate::charm::hook::Hook;
use crate::charm::CharmError;
use crate::protocol::modern::{ProviderAppData, CSRS_KEY};

/// A provider value larger than this is not read (a CA answer is a few kB).
pub const MAX_PROVIDER_BAG_BYTES: usize = 4 * 1024 * 1024;

/// What the `upstream-ca` relation holds in this hook.
#[derive(Clone, Debug)]
pub struct UpstreamView {
    pub id: RelationId,
    /// The provider application (empty while nobody has joined and the hook does not say).
    pub app: String,
    /// The provider's answers (entries that did not parse are dropped).
    pub data: ProviderAppData,
    /// Our application databag on the relation.
    pub own_app_bag: Databag,
    /// Why some of the provider's data was not read.
    pub notes: Vec<String>,
}

/// Reads the `upstream-ca` relation, if there is one (leader only).
pub fn read(hook: &Hook<'_>) -> Result<Option<UpstreamView>, CharmError> {
    let ids = snapshot::relation_ids(hook, UPSTREAM_ENDPOINT)?;
    let Some(&id) = ids.first() else {
        return Ok(None);
    };
    match read_inner(hook, id) {
        Ok(v) => Ok(Some(v)),
        Err(ToolError::RelationNotFound { .. }) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

fn read_inner(hook: &Hook<'_>, id: RelationId) -> Result<UpstreamView, ToolError> {
    let (ctx, tools) = (hook.ctx, hook.tools);
    let units = tools.relation_list(id)?;
    let app = snapshot::remote_app_of(hook, id, units.first().map(String::as_str))?;
    let mut notes = Vec::new();
    let mut remote = if app.is_empty() {
        Databag::new()
    } else {
        tools.relation_get(id, &Member::App(app.clone()))?
    };
    remote.retain(|k, v| {
        let keep = v.len() <= MAX_PROVIDER_BAG_BYTES;
        if !keep {
            notes.push(format!(
                "{UPSTREAM_ENDPOINT} ({app}): {k} is {} bytes, more than {MAX_PROVIDER_BAG_BYTES}: not read",
                v.len()
            ));
        }
        keep
    });
    let (data, parse) = ProviderAppData::from_databag(&remote);
    notes.extend(
        parse
            .notes
            .into_iter()
            .map(|n| format!("{UPSTREAM_ENDPOINT} ({app}): {n}")),
    );
    let own_app_bag = tools.relation_get(id, &Member::App(ctx.app_name.clone()))?;
    Ok(UpstreamView {
        id,
        app,
        data,
        own_app_bag,
        notes,
    })
}

/// The CSR we want the upstream to answer: the pending request sent there, else the CA we got
/// from it (announced or active), so that its entry (and a `revoked` flag) stays visible.
pub fn wanted_csr<'s>(stored: &'s StoredCa, app: &str) -> Option<&'s str> {
    let from_here = |s: &CaSource| matches!(s, CaSource::Upstream { app: a } if a == app);
    if let Some(p) = stored
        .pending
        .as_ref()
        .filter(|p| p.asked == PendingFor::Upstream)
    {
        return Some(&p.csr_pem);
    }
    if let Some(n) = stored.next.as_ref().filter(|n| from_here(&n.source)) {
        return n.csr.as_deref();
    }
    from_here(&stored.source)
        .then_some(stored.csr.as_deref())
        .flatten()
}

/// Our `certificate_signing_requests` value for `csr` (the requirer library's shape).
pub fn csrs_value(csr: &str) -> String {
    json!([{ "certificate_signing_request": csr, "ca": true }]).to_string()
}

/// Writes our app databag on the relation when it differs from what we want (one `relation-set`).
pub fn publish(hook: &Hook<'_>, view: &UpstreamView, csr: Option<&str>) -> Result<(), CharmError> {
    let want = csr.map(csrs_value);
    let have = view.own_app_bag.get(CSRS_KEY);
    let same = match (&want, have) {
        (Some(w), Some(h)) => same_requests(w, h),
        (None, None) => true,
        _ => false,
    };
    if same {
        return Ok(());
    }
    let mut changes = Databag::new();
    changes.insert(CSRS_KEY.to_string(), want.unwrap_or_default());
    match hook.tools.relation_set(view.id, true, &changes) {
        Ok(()) | Err(ToolError::RelationNotFound { .. }) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Whether two request lists are the same JSON (spacing aside).
fn same_requests(a: &str, b: &str) -> bool {
    match (
        serde_json::from_str::<serde_json::Value>(a),
        serde_json::from_str::<serde_json::Value>(b),
    ) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}
