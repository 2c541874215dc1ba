//! The one reconcile function: brings relation data, the CA secret and status to the desired state.
//! Runs on every hook.
//!
//! Leader: config → CA (secret) → for each `certificates` relation: read it (snapshot), compute the
//! desired provider app databag, write only the changed keys in one `relation-set --app`.
//! Non-leader: standby status, nothing written.
//!
//! Desired databag of a modern relation, per request (CSR string echoed byte for byte):
//! - unparseable CSR (not PEM, too large): never published; logged and counted as rejected;
//! - CSR that parses but is refused (bad signature, key, extension, no names): `request_errors` 999;
//! - an existing entry for the same CSR is kept when its certificate still fits: not revoked,
//!   public key = CSR key, BasicConstraints = requested `ca`, valid now, and
//!   - issued by the current CA: still allowed by policy (self-signed mode; otherwise the CSR gets
//!     a `request_errors` entry) and more than a tenth of its lifetime left (else reissued);
//!   - issued by the previous CA (after a rotation): reissued under the new CA in self-signed mode,
//!     kept while valid in manual mode;
//!   - issued by any other CA (provided by an operator in manual mode): kept while valid, except
//!     in self-signed mode in the hook where the CA had to be made again because its secret was
//!     missing or unreadable (the CA is lost, see below).
//! - otherwise, self-signed mode: policy (CA requests denied unless `allow-ca-requests`), then
//!   `certificate-limit` (certificates already kept count first), then signed (a CSR that cannot
//!   be signed gets `request_errors` 999 and a note; the other requests are still served);
//!   manual mode: left outstanding.
//!
//! Lost CA: when the CA secret is missing or unreadable in self-signed mode, a new CA is made
//! without knowing the old one (unless the unusable secret still held its certificate, which then
//! becomes the previous CA). Entries of a relation whose published `capabilities` were not
//! `manual` are then all reissued under the new CA unless the new CA issued them, **including
//! certificates an operator provided in manual mode and that were kept across a switch to
//! self-signed**: they cannot be told apart from those of the lost CA, whose key is gone and
//! which must not stay in relation data. A relation last published in manual mode (the first
//! switch to self-signed, which also finds no CA secret) keeps its operator-provided certificates.
//! This happens in the hook that makes the new CA only.
//!
//! CA rotation replaces each certificate in the same write instead of first publishing
//! `revoked: true`: the reference provider's revoke-then-reissue makes v4 requirers delete their
//! certificate secret and leaves them without a certificate until the reissue lands, which is the
//! window this charm avoids; the new entry (new certificate, `ca` and `chain`) is what requirers
//! pick up.
//!
//! Canonical order (entries sorted by CSR text) and stable serialisation make a second reconcile
//! write nothing.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use juju_hook::{HookContext, HookTools, LogLevel, StatusName};
use openssl::x509::X509;

use super::config::{Config, ConfigErrors, Mode};
use super::keepcache::KeepCache;
use super::publish;
use super::snapshot::{self, RelationSnapshot, Request};
use super::state::{self, CaOutcome, Loaded, RotateReason, StoredCa};
use super::status;
use super::{legacy, CharmError};
use crate::pki::sign::{cert_to_pem, issue, IssueRequest};
use crate::pki::verify;
use crate::pki::{Ca, CsrError, Denial, DenialCode, ParsedCsr, PkiError};
use crate::protocol::modern::{ProviderAppData, ProviderCertificate};

/// The unit status text of a non-leader.
pub const STANDBY_MESSAGE: &str = "standby: the leader issues certificates";

/// What one reconcile may be asked to do beyond the hook's own reasons.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReconcileOptions {
    /// Make a new CA now (`rotate-private-key`).
    pub force_rotate: bool,
}

/// The shared inputs of a reconcile, for the per-relation functions (modern here, legacy in
/// `legacy.rs`).
pub struct ReconcileEnv<'a> {
    pub ctx: &'a HookContext,
    pub tools: &'a dyn HookTools,
    pub config: &'a Config,
    /// The CA; `None` in manual mode when no CA was ever made.
    pub ca: Option<&'a StoredCa>,
    /// The CA was just made because its secret was missing or unreadable (see the module docs:
    /// entries not issued by it are reissued).
    pub ca_lost: bool,
    pub now: SystemTime,
}

/// What happened on one relation (added up into the status).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RelationOutcome {
    /// Certificates published after this reconcile.
    pub issued: usize,
    /// Of those, newly signed in this reconcile.
    pub newly_issued: usize,
    /// Of the newly signed, replacements of an existing entry (rotation, expiry, mismatch).
    pub reissued: usize,
    /// `request_errors` entries published.
    pub denied: usize,
    /// Input we could not use at all (skipped databags, refused entries, unparseable CSRs).
    pub rejected: usize,
    /// Requests without certificate or error (manual mode).
    pub outstanding: usize,
    /// Whether our databag was written.
    pub wrote: bool,
    /// Log lines about rejected input (logged only when they change).
    pub notes: Vec<String>,
}

impl RelationOutcome {
    fn add(&mut self, o: &RelationOutcome) {
        self.issued += o.issued;
        self.newly_issued += o.newly_issued;
        self.reissued += o.reissued;
        self.denied += o.denied;
        self.rejected += o.rejected;
        self.outstanding += o.outstanding;
        self.wrote |= o.wrote;
        self.notes.extend(o.notes.iter().cloned());
    }
}

/// The result of one reconcile.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub leader: bool,
    pub config_errors: Option<ConfigErrors>,
    /// Set when a new CA was made.
    pub ca_rotated: Option<RotateReason>,
    /// Relations served (modern and legacy).
    pub relations: usize,
    /// Relations whose databag was written.
    pub writes: usize,
    /// Totals over every relation.
    pub totals: RelationOutcome,
    pub status: Option<(StatusName, String)>,
    /// The legacy dialect's status fragment, when there is something to say.
    pub legacy: Option<String>,
}

/// Brings the world to the desired state. Returns Err only for our own bugs or Juju being
/// unreachable; bad remote data is handled inside and never fails the hook.
pub fn reconcile(ctx: &HookContext, tools: &dyn HookTools) -> Result<(), CharmError> {
    reconcile_at(ctx, tools, SystemTime::now(), ReconcileOptions::default()).map(|_| ())
}

/// [`reconcile`] at an explicit "now", with options; returns what happened.
pub fn reconcile_at(
    ctx: &HookContext,
    tools: &dyn HookTools,
    now: SystemTime,
    opts: ReconcileOptions,
) -> Result<Summary, CharmError> {
    let mut summary = Summary::default();
    if !tools.is_leader()? {
        // Legacy dialect: a former leader removes the legacy keys it published in its unit
        // databags (no-op when there are none).
        let policy = crate::pki::Policy::default();
        let env = legacy::LegacyEnv {
            own_unit: &ctx.unit_name,
            is_leader: false,
            signer: legacy::Signer::Manual,
            policy: &policy,
            now,
        };
        legacy::reconcile_all(tools, &env)?;
        set_status(
            ctx,
            tools,
            &mut summary,
            StatusName::Active,
            STANDBY_MESSAGE,
            &[],
        )?;
        return Ok(summary);
    }
    summary.leader = true;
    state::remove_unused_revision(ctx, tools)?;

    let config = match Config::from_map(&tools.config_get()?) {
        Ok(c) => c,
        Err(errors) => {
            let msg = errors.to_string();
            summary.config_errors = Some(errors);
            set_status(ctx, tools, &mut summary, StatusName::Blocked, &msg, &[])?;
            return Ok(summary);
        }
    };

    let ca = match config.mode {
        Mode::SelfSigned => {
            let force = if opts.force_rotate {
                Some(RotateReason::Requested)
            } else if state::is_ca_secret_expired_hook(ctx) {
                Some(RotateReason::SecretExpired)
            } else {
                None
            };
            match state::ensure(tools, &config, now, force) {
                Ok(outcome) => Some(outcome),
                Err(CharmError::Pki(e)) => {
                    let msg = format!("cannot create the CA: {e}");
                    status::log(tools, LogLevel::Error, &msg);
                    set_status(ctx, tools, &mut summary, StatusName::Blocked, &msg, &[])?;
                    return Ok(summary);
                }
                Err(e) => return Err(e),
            }
        }
        Mode::Manual => match state::load(tools)? {
            Loaded::Ok(stored) => Some(CaOutcome {
                stored,
                rotated: None,
            }),
            Loaded::Missing | Loaded::Unreadable(_) => None,
        },
    };
    if let Some(CaOutcome {
        stored,
        rotated: Some(reason),
    }) = &ca
    {
        status::log(
            tools,
            LogLevel::Info,
            &format!("new CA ({reason}): {}", state::describe(stored, &config)),
        );
        summary.ca_rotated = Some(reason.clone());
    }

    let ca_lost = matches!(
        &ca,
        Some(CaOutcome {
            rotated: Some(RotateReason::Missing | RotateReason::Unreadable(_)),
            ..
        })
    );
    let env = ReconcileEnv {
        ctx,
        tools,
        config: &config,
        ca: ca.as_ref().map(|o| &o.stored),
        ca_lost,
        now,
    };
    let legacy_env = legacy::LegacyEnv {
        own_unit: &ctx.unit_name,
        is_leader: true,
        signer: match (config.mode, env.ca) {
            (Mode::SelfSigned, Some(ca)) => legacy::Signer::BuiltIn {
                ca: &ca.ca,
                validity_secs: config.certificate_validity,
            },
            _ => legacy::Signer::Manual,
        },
        policy: &config.policy,
        now,
    };
    let mut cache = KeepCache::load(ctx, &config, env.ca);
    let mut legacy_run = legacy::LegacyRun::new();
    // Legacy rejections are logged with ours, only when they change (status cache).
    legacy_run.log_notes = false;
    legacy_run.certificate_limit = config.certificate_limit as usize;
    let ids = snapshot::relation_ids(ctx, tools)?;
    for &id in &ids {
        let Some(snap) = snapshot::read_relation(ctx, tools, id)? else {
            continue;
        };
        // ---- Legacy dialect call site (issue 6): relations whose requirer unit databags carry
        // legacy keys (common_name, sans, cert_requests, ..., unit_name) are served by
        // `legacy.rs`; everything else by the modern code below. ----
        if legacy::needs_legacy(&snap.units, None) {
            legacy_run.reconcile_relation(
                tools,
                &legacy_env,
                &legacy::RelationInput {
                    id,
                    units: &snap.units,
                    own_unit_bag: None,
                    own_app_bag: Some(&snap.own_app_bag),
                },
            )?;
            continue;
        }
        let outcome = reconcile_relation_cached(&env, &snap, &mut cache)?;
        summary.relations += 1;
        if outcome.wrote {
            summary.writes += 1;
        }
        summary.totals.add(&outcome);
    }
    cache.save();
    let force_prune = ctx.name().ends_with("-relation-departed")
        || ctx.name().ends_with("-relation-broken")
        || matches!(ctx.name(), "leader-elected" | "upgrade-charm");
    let legacy_outcome = legacy_run.finish(tools, &legacy_env, &ids, force_prune)?;
    summary.relations += legacy_outcome.relations;
    summary.legacy = legacy_outcome.status_fragment();
    summary.totals.notes.extend(
        legacy_outcome
            .skipped
            .iter()
            .chain(&legacy_outcome.refused)
            .cloned(),
    );
    if summary.totals.newly_issued > 0 {
        status::log(
            tools,
            LogLevel::Info,
            &format!(
                "issued {} certificate(s) ({} replacing older ones) across {}",
                summary.totals.newly_issued,
                summary.totals.reissued,
                plural(summary.relations, "relation")
            ),
        );
    }

    let (st, msg) = status_for(ctx, &config, &summary);
    let notes = summary.totals.notes.clone();
    set_status(ctx, tools, &mut summary, st, &msg, &notes)?;
    Ok(summary)
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("{n} {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// The leader's status after a reconcile with valid config.
pub fn status_for(ctx: &HookContext, config: &Config, summary: &Summary) -> (StatusName, String) {
    let (st, msg) = modern_status(ctx, config, summary);
    match &summary.legacy {
        Some(frag) => (st, format!("{msg}; {frag}")),
        None => (st, msg),
    }
}

fn modern_status(ctx: &HookContext, config: &Config, summary: &Summary) -> (StatusName, String) {
    let t = &summary.totals;
    let counts = format!(
        "denied {}, rejected {} across {}",
        t.denied,
        t.rejected,
        plural(summary.relations, "relation")
    );
    match config.mode {
        Mode::SelfSigned => (StatusName::Active, format!("issued {}, {counts}", t.issued)),
        Mode::Manual if t.outstanding > 0 => (
            StatusName::Active,
            format!(
                "manual mode: {} outstanding (list: juju run {}/leader get-outstanding-certificate-requests); provided {}, {counts}",
                plural(t.outstanding, "request"),
                ctx.app_name,
                t.issued
            ),
        ),
        Mode::Manual => (
            StatusName::Active,
            format!("manual mode: no outstanding requests; provided {}, {counts}", t.issued),
        ),
    }
}

fn set_status(
    ctx: &HookContext,
    tools: &dyn HookTools,
    summary: &mut Summary,
    st: StatusName,
    msg: &str,
    notes: &[String],
) -> Result<(), CharmError> {
    status::set(ctx, tools, st, msg, notes)?;
    summary.status = Some((st, msg.to_string()));
    Ok(())
}

/// How an existing entry fares against its (still present) request.
enum Verdict {
    /// Keep the entry; the verdict holds until the given time (renewal point or expiry).
    Keep(SystemTime),
    Deny(Denial),
    Replace,
}

/// Less than this fraction of its lifetime left: a certificate of ours is reissued.
const RENEW_FRACTION: u32 = 10;

/// `replace_foreign`: the CA was lost and this relation was not last published in manual mode,
/// so certificates of any other CA are reissued (module docs).
fn judge(
    env: &ReconcileEnv<'_>,
    entry: &ProviderCertificate,
    req: &Request,
    csr: &ParsedCsr,
    replace_foreign: bool,
) -> Verdict {
    if entry.revoked || !entry.looks_publishable() {
        return Verdict::Replace;
    }
    let Ok(cert) = X509::from_pem(entry.certificate.as_bytes()) else {
        return Verdict::Replace;
    };
    if !verify::public_key_matches(&cert, &csr.req)
        || verify::is_ca(&cert) != req.is_ca
        || !verify::valid_at(&cert, env.now)
    {
        return Verdict::Replace;
    }
    let not_after = verify::asn1_to_system(cert.not_after());
    let self_signed = env.config.mode == Mode::SelfSigned;
    let ours = env
        .ca
        .is_some_and(|ca| verify::issued_by(&cert, &ca.ca.cert));
    if ours {
        if self_signed {
            if let Err(d) = check_policy(env, req, csr) {
                return Verdict::Deny(d);
            }
            let nb = verify::asn1_to_system(cert.not_before());
            let lifetime = not_after.duration_since(nb).unwrap_or(Duration::ZERO);
            let renew_at = not_after - lifetime / RENEW_FRACTION;
            if env.now >= renew_at {
                return Verdict::Replace;
            }
            return Verdict::Keep(renew_at);
        }
        return Verdict::Keep(not_after);
    }
    let previous = env
        .ca
        .and_then(|ca| ca.previous.as_ref())
        .is_some_and(|prev| verify::issued_by(&cert, prev));
    if (previous || replace_foreign) && self_signed {
        return Verdict::Replace;
    }
    // Issued by another CA (an operator's, manual mode): kept while valid and matching.
    Verdict::Keep(not_after)
}

fn check_policy(env: &ReconcileEnv<'_>, req: &Request, csr: &ParsedCsr) -> Result<(), Denial> {
    env.config.policy.check(csr, req.is_ca)
}

/// The modern dialect on one relation: computes the desired provider app databag and writes the
/// difference. Public so that other code paths (actions) can reuse it.
pub fn reconcile_relation(
    env: &ReconcileEnv<'_>,
    snap: &RelationSnapshot,
) -> Result<RelationOutcome, CharmError> {
    reconcile_relation_cached(env, snap, &mut KeepCache::disabled())
}

/// [`reconcile_relation`] with the keep-verdict cache (see `keepcache.rs`).
fn reconcile_relation_cached(
    env: &ReconcileEnv<'_>,
    snap: &RelationSnapshot,
    cache: &mut KeepCache,
) -> Result<RelationOutcome, CharmError> {
    reconcile_relation_signing(env, snap, cache, &issue)
}

/// How a certificate is signed (always [`issue`]; a parameter so tests can make one fail).
type SignFn<'s> = dyn Fn(&Ca, &IssueRequest<'_>) -> Result<X509, PkiError> + 's;

/// [`reconcile_relation_cached`] with the signing function. A signing failure is per request:
/// it becomes a `request_errors` 999 entry and a note, never a hook failure.
fn reconcile_relation_signing(
    env: &ReconcileEnv<'_>,
    snap: &RelationSnapshot,
    cache: &mut KeepCache,
    sign: &SignFn<'_>,
) -> Result<RelationOutcome, CharmError> {
    let mut out = RelationOutcome::default();
    let requests = snap.requests();
    let (existing, own_notes) = snap.published();
    for n in own_notes.notes {
        out.notes.push(format!(
            "relation {}: our published data had an invalid value, rewriting it: {n}",
            snap.id
        ));
    }
    for r in &requests.rejected {
        out.notes.push(r.message.clone());
    }
    out.rejected += requests.rejected.len();

    let last_published_manual = existing
        .capabilities
        .as_ref()
        .and_then(|c| c.provider_type.as_deref())
        == Some("manual");
    let replace_foreign =
        env.ca_lost && env.config.mode == Mode::SelfSigned && !last_published_manual;
    let by_csr: HashMap<&str, &ProviderCertificate> = existing
        .certificates
        .iter()
        .map(|c| (c.certificate_signing_request.as_str(), c))
        .collect();

    let mut desired = ProviderAppData {
        capabilities: Some(publish::capabilities(env.config)),
        ..ProviderAppData::default()
    };
    let mut to_issue: Vec<(&Request, ParsedCsr, bool)> = Vec::new();
    for req in &requests.requests {
        let entry = by_csr.get(req.csr.as_str()).copied();
        // Steady state: an entry judged good by an earlier reconcile, unchanged since, in the
        // same context (CA, mode, policy) and before its deadline is kept without parsing.
        let cache_key = entry.map(|e| cache.key(&req.csr, req.is_ca, e));
        if let (Some(e), Some(k)) = (entry, &cache_key) {
            if cache.still_good(k, env.now) {
                desired.certificates.push(e.clone());
                continue;
            }
        }
        let csr = match ParsedCsr::parse(&req.csr) {
            Ok(p) => p,
            Err(e @ (CsrError::NotPem(_) | CsrError::TooLarge(_))) => {
                out.rejected += 1;
                out.notes.push(format!(
                    "relation {} {}: CSR not usable, skipped: {e}",
                    snap.id,
                    req.source.describe()
                ));
                continue;
            }
            Err(e) => {
                desired.request_errors.push(publish::request_error(
                    &req.csr,
                    DenialCode::Other,
                    format!("CSR refused: {e}"),
                ));
                continue;
            }
        };
        match entry.map(|e| judge(env, e, req, &csr, replace_foreign)) {
            Some(Verdict::Keep(until)) => {
                desired.certificates.push(entry.expect("judged").clone());
                if let Some(k) = cache_key {
                    cache.keep(k, until);
                }
            }
            Some(Verdict::Deny(d)) => desired
                .request_errors
                .push(publish::request_error(&req.csr, d.code, d.message)),
            Some(Verdict::Replace) | None => to_issue.push((req, csr, entry.is_some())),
        }
    }

    let limit = env.config.certificate_limit as usize;
    for (req, csr, had_entry) in to_issue {
        match (env.config.mode, env.ca) {
            (Mode::Manual, _) | (_, None) => out.outstanding += 1,
            (Mode::SelfSigned, Some(ca)) => {
                if let Err(d) = check_policy(env, req, &csr) {
                    desired
                        .request_errors
                        .push(publish::request_error(&req.csr, d.code, d.message));
                    continue;
                }
                if limit > 0 && desired.certificates.len() >= limit {
                    desired.request_errors.push(publish::request_error(
                        &req.csr,
                        DenialCode::Other,
                        format!(
                            "certificate-limit reached: this relation already has {} (limit {limit}); \
                             remove unused requests, or ask the operator to raise it: \
                             juju config {} certificate-limit=<n> (0 = unlimited)",
                            plural(desired.certificates.len(), "certificate"),
                            env.ctx.app_name
                        ),
                    ));
                    continue;
                }
                let signed = sign(
                    &ca.ca,
                    &IssueRequest {
                        csr: &csr,
                        is_ca: req.is_ca,
                        validity_secs: env.config.certificate_validity,
                        now: env.now,
                    },
                );
                let cert = match signed {
                    Ok(c) => c,
                    Err(e) => {
                        // One request we cannot sign (e.g. content our encoder cannot
                        // reproduce) must not fail the hook for every other request.
                        desired.request_errors.push(publish::request_error(
                            &req.csr,
                            DenialCode::Other,
                            format!("could not sign this CSR: {e}"),
                        ));
                        out.notes.push(format!(
                            "relation {} {}: could not sign a CSR, refused it: {e}",
                            snap.id,
                            req.source.describe()
                        ));
                        continue;
                    }
                };
                let chain = vec![cert_to_pem(&cert), ca.ca_pem.clone()];
                let entry = ProviderCertificate {
                    ca: ca.ca_pem.clone(),
                    certificate_signing_request: req.csr.clone(),
                    certificate: chain[0].clone(),
                    chain,
                    revoked: false,
                };
                // Freshly signed by us after every check: good until its renewal point.
                let nb = verify::asn1_to_system(cert.not_before());
                let na = verify::asn1_to_system(cert.not_after());
                let lifetime = na.duration_since(nb).unwrap_or(Duration::ZERO);
                cache.keep(
                    cache.key(&req.csr, req.is_ca, &entry),
                    na - lifetime / RENEW_FRACTION,
                );
                desired.certificates.push(entry);
                out.newly_issued += 1;
                if had_entry {
                    out.reissued += 1;
                }
            }
        }
    }

    let (wrote, dropped) = publish::write(env.tools, snap, &mut desired)?;
    out.notes.extend(dropped);
    out.wrote = wrote;
    out.issued = desired.certificates.len();
    out.denied = desired.request_errors.len();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use juju_hook::fake::FakeTools;
    use juju_hook::{Databag, RelationId};
    use serde_json::{json, Value};

    use super::*;
    use crate::pki::{csr_to_pem, generate_csr, CaSubject, KeyAlgorithm};

    fn csr(cn: &str) -> String {
        let key = KeyAlgorithm::EcdsaP256.generate().unwrap();
        csr_to_pem(&generate_csr(&key, cn, &[cn.to_string()]).unwrap()).unwrap()
    }

    /// A signing failure for one CSR (whatever its cause) is that request's 999 error; the hook
    /// goes on and the other request is issued.
    #[test]
    fn a_csr_that_cannot_be_signed_gets_999_and_the_others_are_issued() {
        let tools = FakeTools::new("tls-provider", true);
        tools.add_relation(1, "certificates", "req", &["req/0"]);
        let (good, bad) = (csr("good.example.com"), csr("bad.example.com"));
        let list = json!([
            {"certificate_signing_request": good, "ca": false},
            {"certificate_signing_request": bad, "ca": false},
        ]);
        let bag = Databag::from([("certificate_signing_requests".to_string(), list.to_string())]);
        tools.set_remote_unit_bag(1, "req/0", bag);
        let ctx = HookContext::from_pairs(&[
            ("JUJU_DISPATCH_PATH", "hooks/update-status"),
            ("JUJU_UNIT_NAME", "tls-provider/0"),
        ])
        .unwrap();
        let config = Config::from_map(&serde_json::Map::new()).unwrap();
        let ca = Ca::generate(
            &CaSubject {
                common_name: "Test CA".into(),
                ..CaSubject::default()
            },
            KeyAlgorithm::EcdsaP256,
            365 * 86_400,
        )
        .unwrap();
        let stored = StoredCa {
            ca_pem: ca.cert_pem(),
            ca,
            previous_pem: None,
            previous: None,
            rotate_at: None,
        };
        let env = ReconcileEnv {
            ctx: &ctx,
            tools: &tools,
            config: &config,
            ca: Some(&stored),
            ca_lost: false,
            now: SystemTime::now(),
        };
        let snap = snapshot::read_relation(&ctx, &tools, RelationId(1))
            .unwrap()
            .unwrap();
        let sign = |ca: &Ca, r: &IssueRequest<'_>| {
            if r.csr.common_name.as_deref() == Some("bad.example.com") {
                Err(PkiError::BadDnsName("simulated encoder failure".into()))
            } else {
                issue(ca, r)
            }
        };
        let out =
            reconcile_relation_signing(&env, &snap, &mut KeepCache::disabled(), &sign).unwrap();
        assert_eq!((out.issued, out.denied, out.newly_issued), (1, 1, 1));
        assert!(
            out.notes
                .iter()
                .any(|n| n.contains("could not sign a CSR") && n.contains("unit req/0")),
            "{:?}",
            out.notes
        );
        let own = tools.local_app_bag(1);
        let certs: Vec<ProviderCertificate> = serde_json::from_str(&own["certificates"]).unwrap();
        assert_eq!(certs.len(), 1);
        assert_eq!(certs[0].certificate_signing_request, good);
        let errors: Vec<Value> = serde_json::from_str(&own["request_errors"]).unwrap();
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0]["csr"], json!(bad));
        assert_eq!(errors[0]["error"]["code"], json!(999));
        let msg = errors[0]["error"]["message"].as_str().unwrap();
        assert!(
            msg.starts_with("could not sign this CSR: ") && msg.contains("simulated"),
            "{msg}"
        );
    }
}
