//! The modern dialect's plan for one relation: which entries are kept, refused or (re)signed.
//! The rules are in the module documentation of [`super`].
//!
//! The CPU-bound work runs on several threads ([`crate::charm::parallel`]): parsing and
//! verifying the CSRs with judging their published entries, then signing. Everything that
//! depends on order (notes, counts, the keep-cache, `certificate-limit`) is decided afterwards,
//! one request after the other in request order, exactly as a single thread would, so the plan
//! does not depend on the number of threads.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::time::SystemTime;

use openssl::x509::X509;

use super::keepcache::{KeepCache, Keyer};
use super::publish::{self, capabilities, request_error};
use crate::charm::ca::StoredCa;
use crate::charm::config::{Config, Mode};
use crate::charm::dialect::snapshot::{RelationSnapshot, Request, RequestSource};
use crate::charm::dialect::{Counts, Plan};
use crate::charm::expiry::Watched;
use crate::charm::hook::Leader;
use crate::charm::parallel;
use crate::charm::renewal::modern_renew_at;
use crate::charm::status::plural;
use crate::pki::sign::{cert_to_pem, IssueRequest};
use crate::pki::{verify, Ca, CsrError, Denial, DenialCode, ParsedCsr, PkiError};
use crate::protocol::modern::{ProviderAppData, ProviderCertificate};

/// How a certificate is signed (always [`crate::pki::sign::issue`]; a parameter so tests can make
/// one fail). Called from several threads.
pub type SignFn<'s> = dyn Fn(&Ca, &IssueRequest<'_>) -> Result<X509, PkiError> + Sync + 's;

/// How an existing entry fares against its (still present) request.
enum Verdict {
    /// Keep the entry; the verdict holds until the given time (renewal point or expiry).
    Keep(SystemTime),
    Deny(Denial),
    Replace,
}

/// What the parallel pass found about one request the keep-cache did not settle.
enum Judged {
    /// The CSR is not a request at all (not PEM, too large): skipped, never echoed.
    Unusable(CsrError),
    /// The CSR parsed but is refused (signature, key, extensions, names).
    Refused(CsrError),
    /// Its entry is kept until then.
    Keep(SystemTime),
    /// Its entry is no longer allowed by the policy.
    Deny(Denial),
    /// It needs a certificate.
    Sign(ToIssue),
}

/// A request that needs a certificate (none yet, or one to replace).
struct ToIssue {
    csr: ParsedCsr,
    had_entry: bool,
    /// The policy's verdict (taken in self-signed mode only).
    policy: Result<(), Denial>,
}

/// A certificate signed for a request, ready to publish.
struct Signed {
    entry: ProviderCertificate,
    /// Its keep-cache key and renewal point.
    key: String,
    renew_at: SystemTime,
}

/// What judging and signing need: everything but the hook's tools, so threads can share it.
struct Rules<'l> {
    now: SystemTime,
    config: &'l Config,
    ca: Option<&'l StoredCa>,
    remote_app: &'l str,
    /// The CA was lost and this relation was not last published in manual mode, so
    /// certificates of any other CA are reissued.
    replace_foreign: bool,
}

/// One relation's planning state.
struct Planner<'l, 'a> {
    leader: &'l Leader<'a>,
    snap: &'l RelationSnapshot,
    cache: &'l mut KeepCache,
    sign: &'l SignFn<'l>,
    rules: &'l Rules<'l>,
    desired: ProviderAppData,
    /// PEMs this plan made or holds parsed (our CA's): known to parse, not checked again.
    known_good: HashSet<String>,
    counts: Counts,
    /// The earliest renewal point (or end) of the entries published.
    due: Option<SystemTime>,
    notes: Vec<String>,
}

/// The desired provider app databag of a modern relation, as a [`Plan`].
pub fn plan_relation(
    leader: &Leader<'_>,
    snap: &RelationSnapshot,
    cache: &mut KeepCache,
    sign: &SignFn<'_>,
) -> Plan {
    let (existing, own_notes) = snap.published();
    let last_published_manual = existing
        .capabilities
        .as_ref()
        .and_then(|c| c.provider_type.as_deref())
        == Some("manual");
    let rules = Rules {
        now: leader.hook.now,
        config: &leader.config,
        ca: leader.ca.as_ref(),
        remote_app: &snap.remote_app,
        replace_foreign: leader.ca_lost()
            && leader.config.mode == Mode::SelfSigned
            && !last_published_manual,
    };
    let mut p = Planner {
        leader,
        snap,
        cache,
        sign,
        rules: &rules,
        desired: ProviderAppData {
            capabilities: Some(capabilities(&leader.config)),
            ..ProviderAppData::default()
        },
        known_good: HashSet::new(),
        due: None,
        counts: Counts {
            relations: 1,
            ..Counts::default()
        },
        notes: own_notes
            .notes
            .into_iter()
            .map(|n| {
                format!(
                    "relation {}: our published data had an invalid value, rewriting it: {n}",
                    snap.id
                )
            })
            .collect(),
    };
    let requests = snap.requests();
    p.notes
        .extend(requests.rejected.iter().map(|r| r.message.clone()));
    p.counts.rejected += requests.rejected.len();
    // One index over the published entries: each request finds its entry in O(1).
    let by_csr: HashMap<&str, &ProviderCertificate> = existing
        .certificates
        .iter()
        .map(|c| (c.certificate_signing_request.as_str(), c))
        .collect();
    let to_issue = p.judge_all(&requests.requests, &by_csr);
    p.issue_all(to_issue);
    let owners: HashMap<&str, Option<&str>> = requests
        .requests
        .iter()
        .map(|r| (r.csr.as_str(), unit_of(&r.source)))
        .collect();
    p.finish(&owners)
}

/// The requirer unit a request comes from (`None`: its application's request).
fn unit_of(source: &RequestSource) -> Option<&str> {
    match source {
        RequestSource::Unit(u) => Some(u),
        RequestSource::App(_) => None,
    }
}

impl Planner<'_, '_> {
    /// Keeps, refuses or sets aside for signing every request, in request order. The keep-cache
    /// settles the steady state without parsing; the rest is parsed and judged in parallel,
    /// then applied in order.
    fn judge_all<'r>(
        &mut self,
        requests: &'r [Request],
        by_csr: &HashMap<&str, &ProviderCertificate>,
    ) -> Vec<(&'r Request, ToIssue)> {
        let mut open: Vec<(&Request, Option<&ProviderCertificate>, Option<String>)> = Vec::new();
        for req in requests {
            let entry = by_csr.get(req.csr.as_str()).copied();
            // Steady state: an entry judged good by an earlier reconcile, unchanged since, in
            // the same context (CA, mode, policy) and before its deadline is kept unparsed.
            let cache_key = entry.map(|e| self.cache.key(&req.csr, req.is_ca, e));
            if let (Some(e), Some(k)) = (entry, &cache_key) {
                if let Some(until) = self.cache.still_good(k, self.rules.now) {
                    self.desired.certificates.push(e.clone());
                    self.due_by(until);
                    continue;
                }
            }
            open.push((req, entry, cache_key));
        }
        let rules = self.rules;
        let judged = parallel::map(&open, |(req, entry, _)| rules.judge_request(req, *entry));
        let mut to_issue = Vec::new();
        for ((req, entry, cache_key), judged) in open.into_iter().zip(judged) {
            match judged {
                Judged::Unusable(e) => {
                    self.counts.rejected += 1;
                    self.notes.push(format!(
                        "relation {} {}: CSR not usable, skipped: {e}",
                        self.snap.id,
                        req.source.describe()
                    ));
                }
                Judged::Refused(e) => {
                    self.refuse(&req.csr, DenialCode::Other, format!("CSR refused: {e}"))
                }
                Judged::Keep(until) => {
                    if let Some(e) = entry {
                        self.desired.certificates.push(e.clone());
                        self.due_by(until);
                    }
                    if let Some(k) = cache_key {
                        self.cache.keep(k, until);
                    }
                }
                Judged::Deny(d) => self.refuse(&req.csr, d.code, d.message),
                Judged::Sign(t) => to_issue.push((req, t)),
            }
        }
        to_issue
    }

    /// Signs a certificate for each request set aside (self-signed mode), or leaves them
    /// outstanding (manual mode). The policy and `certificate-limit` are applied in request
    /// order; the signatures are made in parallel beforehand for every request that passes them
    /// if no signature fails (a failure frees a place under the limit; a request then admitted
    /// is signed in turn).
    fn issue_all(&mut self, to_issue: Vec<(&Request, ToIssue)>) {
        let Some(ca) = self.leader.signer() else {
            self.counts.outstanding += to_issue.len();
            return;
        };
        let limit = self.rules.config.certificate_limit as usize;
        let under_limit = |count: usize| limit == 0 || count < limit;
        let mut count = self.desired.certificates.len();
        let mut presign = Vec::new();
        for (i, (_, t)) in to_issue.iter().enumerate() {
            if t.policy.is_ok() && under_limit(count) {
                presign.push(i);
                count += 1;
            }
        }
        let tail = ca.chain_pems();
        let root = ca.root_pem();
        self.known_good.extend(tail.iter().cloned());
        self.known_good.insert(root.clone());
        let signing = Signing {
            ca,
            tail: &tail,
            root: &root,
            keyer: self.cache.keyer(),
            sign: self.sign,
            rules: self.rules,
        };
        let mut signed: Vec<Option<Result<Signed, PkiError>>> = std::iter::repeat_with(|| None)
            .take(to_issue.len())
            .collect();
        let made = parallel::map(&presign, |&i| {
            signing.sign(to_issue[i].0, &to_issue[i].1.csr)
        });
        for (i, r) in presign.into_iter().zip(made) {
            signed[i] = Some(r);
        }
        for (i, (req, t)) in to_issue.into_iter().enumerate() {
            if let Err(d) = t.policy {
                self.refuse(&req.csr, d.code, d.message);
                continue;
            }
            let published = self.desired.certificates.len();
            if !under_limit(published) {
                let msg = format!(
                    "certificate-limit reached: this relation already has {} (limit {limit}); \
                     remove unused requests, or ask the operator to raise it: \
                     juju config {} certificate-limit=<n> (0 = unlimited)",
                    plural(published, "certificate"),
                    self.leader.hook.app()
                );
                self.refuse(&req.csr, DenialCode::Other, msg);
                continue;
            }
            let result = signed[i]
                .take()
                .unwrap_or_else(|| signing.sign(req, &t.csr));
            self.publish_signed(req, result, t.had_entry);
        }
    }

    /// A published entry must be judged again at `t` (its renewal point or end).
    fn due_by(&mut self, t: SystemTime) {
        self.due = Some(self.due.map_or(t, |d| d.min(t)));
    }

    /// Publishes a signed certificate, or refuses the request when signing failed.
    fn publish_signed(&mut self, req: &Request, result: Result<Signed, PkiError>, had: bool) {
        match result {
            Ok(s) => {
                // Freshly signed by us after every check: good until its renewal point.
                self.cache.keep(s.key, s.renew_at);
                self.due_by(s.renew_at);
                self.known_good.insert(s.entry.certificate.clone());
                self.desired.certificates.push(s.entry);
                self.counts.signed += 1;
                if had {
                    self.counts.replaced += 1;
                }
            }
            Err(e) => {
                // One request we cannot sign (e.g. content our encoder cannot reproduce) must
                // not fail the hook for every other request.
                self.refuse(
                    &req.csr,
                    DenialCode::Other,
                    format!("could not sign this CSR: {e}"),
                );
                self.notes.push(format!(
                    "relation {} {}: could not sign a CSR, refused it: {e}",
                    self.snap.id,
                    req.source.describe()
                ));
            }
        }
    }

    fn refuse(&mut self, csr: &str, code: DenialCode, message: String) {
        self.desired
            .request_errors
            .push(request_error(csr, code, message));
    }

    /// The certificates published (not revoked), for the expiry watch; `owners` maps each
    /// request's CSR to its unit.
    fn watched(&self, owners: &HashMap<&str, Option<&str>>) -> Vec<Watched> {
        let app = &self.snap.remote_app;
        self.desired
            .certificates
            .iter()
            .filter(|c| !c.revoked)
            .filter_map(|c| {
                let unit = owners
                    .get(c.certificate_signing_request.as_str())
                    .copied()
                    .flatten();
                Watched::of_pem(&c.certificate, app, unit)
            })
            .collect()
    }

    fn finish(mut self, owners: &HashMap<&str, Option<&str>>) -> Plan {
        let (app_changes, dropped) =
            publish::changes_trusting(self.snap, &mut self.desired, &self.known_good);
        self.notes.extend(dropped);
        self.counts.published = self.desired.certificates.len();
        self.counts.denied = self.desired.request_errors.len();
        let watched = self.watched(owners);
        // Every published entry is valid now (kept entries are, new ones were just signed).
        // Each CA once: the same `ca` is in nearly every entry.
        let anchors: BTreeSet<&String> = self
            .desired
            .certificates
            .iter()
            .filter(|c| !c.revoked)
            .flat_map(|c| {
                std::iter::once(&c.ca).chain(c.chain.last().filter(|r| **r != c.certificate))
            })
            .collect();
        Plan {
            relation: self.snap.id,
            app_changes,
            notes: self.notes,
            counts: self.counts,
            anchors: anchors.into_iter().cloned().collect(),
            due: self.due,
            watched,
            ..Plan::new(self.snap.id)
        }
    }
}

/// What signing needs, shared by the threads.
struct Signing<'s> {
    ca: &'s StoredCa,
    /// The CA's chain after the leaf, and its root, as PEM: the same in every entry.
    tail: &'s [String],
    root: &'s String,
    keyer: Keyer,
    sign: &'s SignFn<'s>,
    rules: &'s Rules<'s>,
}

impl Signing<'_> {
    /// Signs one request and builds its entry.
    fn sign(&self, req: &Request, csr: &ParsedCsr) -> Result<Signed, PkiError> {
        let cert = (self.sign)(
            &self.ca.ca,
            &IssueRequest {
                crl_url: self.rules.config.crl_distribution_url.as_deref(),
                csr,
                is_ca: req.is_ca,
                validity_secs: self.rules.config.certificate_validity,
                now: self.rules.now,
            },
        )?;
        let mut chain = Vec::with_capacity(1 + self.tail.len());
        chain.push(cert_to_pem(&cert));
        chain.extend(self.tail.iter().cloned());
        let entry = ProviderCertificate {
            ca: self.root.clone(),
            certificate_signing_request: req.csr.clone(),
            certificate: chain[0].clone(),
            chain,
            revoked: false,
        };
        Ok(Signed {
            key: self.keyer.key(&req.csr, req.is_ca, &entry),
            renew_at: modern_renew_at(&cert),
            entry,
        })
    }
}

impl Rules<'_> {
    /// Parses the request's CSR and judges its published entry, if any; for a request that
    /// needs a certificate, the policy's verdict too (self-signed mode).
    fn judge_request(&self, req: &Request, entry: Option<&ProviderCertificate>) -> Judged {
        let csr = match ParsedCsr::parse(&req.csr) {
            Ok(p) => p,
            Err(e @ (CsrError::NotPem(_) | CsrError::TooLarge(_))) => return Judged::Unusable(e),
            Err(e) => return Judged::Refused(e),
        };
        match entry.map(|e| self.judge(e, req, &csr)) {
            Some(Verdict::Keep(until)) => Judged::Keep(until),
            Some(Verdict::Deny(d)) => Judged::Deny(d),
            Some(Verdict::Replace) | None => Judged::Sign(ToIssue {
                policy: match self.config.mode {
                    Mode::SelfSigned => self.check_policy(req, &csr),
                    Mode::Manual => Ok(()),
                },
                csr,
                had_entry: entry.is_some(),
            }),
        }
    }

    fn judge(&self, entry: &ProviderCertificate, req: &Request, csr: &ParsedCsr) -> Verdict {
        let now = self.now;
        if entry.revoked {
            // Revoked by an operator (revoke-certificate): stays published as revoked, and
            // this CSR is never signed again; the requirer must send a new one.
            return Verdict::Keep(
                SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(253_402_300_799),
            );
        }
        if !entry.looks_publishable() {
            return Verdict::Replace;
        }
        let Ok(cert) = X509::from_pem(entry.certificate.as_bytes()) else {
            return Verdict::Replace;
        };
        if !verify::public_key_matches(&cert, csr)
            || verify::is_ca(&cert) != req.is_ca
            || !verify::valid_at(&cert, now)
        {
            return Verdict::Replace;
        }
        let not_after = verify::asn1_to_system(cert.not_after());
        let self_signed = self.config.mode == Mode::SelfSigned;
        let ca = self.ca;
        if ca.is_some_and(|ca| verify::issued_by(&cert, &ca.ca.cert)) {
            if !self_signed {
                return Verdict::Keep(not_after);
            }
            if let Err(d) = self.check_policy(req, csr) {
                return Verdict::Deny(d);
            }
            let renew_at = modern_renew_at(&cert);
            return if now >= renew_at {
                Verdict::Replace
            } else {
                Verdict::Keep(renew_at)
            };
        }
        let previous = ca
            .and_then(|ca| ca.previous.as_ref())
            .is_some_and(|prev| verify::issued_by(&cert, prev));
        if (previous || self.replace_foreign) && self_signed {
            return Verdict::Replace;
        }
        // Issued by another CA (an operator's, manual mode): kept while valid and matching.
        Verdict::Keep(not_after)
    }

    /// The policy for this relation's application.
    fn check_policy(&self, req: &Request, csr: &ParsedCsr) -> Result<(), Denial> {
        self.config
            .policy
            .check_app(self.remote_app, csr, req.is_ca)
    }
}

#[cfg(test)]
mod tests;
