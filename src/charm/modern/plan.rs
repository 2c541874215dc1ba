//! The modern dialect's plan for one relation: which entries are kept, refused or (re)signed.
//! The rules are in the module documentation of [`super`].

use std::collections::HashMap;

use openssl::x509::X509;

use super::keepcache::KeepCache;
use super::publish::{self, capabilities, request_error};
use crate::charm::config::Mode;
use crate::charm::dialect::snapshot::{RelationSnapshot, Request};
use crate::charm::dialect::{Counts, Plan};
use crate::charm::hook::Leader;
use crate::charm::renewal::modern_renew_at;
use crate::charm::status::plural;
use crate::pki::sign::{cert_to_pem, IssueRequest};
use crate::pki::{verify, Ca, CsrError, Denial, DenialCode, ParsedCsr, PkiError};
use crate::protocol::modern::{ProviderAppData, ProviderCertificate};

/// How a certificate is signed (always [`crate::pki::sign::issue`]; a parameter so tests can make
/// one fail).
pub type SignFn<'s> = dyn Fn(&Ca, &IssueRequest<'_>) -> Result<X509, PkiError> + 's;

/// How an existing entry fares against its (still present) request.
enum Verdict {
    /// Keep the entry; the verdict holds until the given time (renewal point or expiry).
    Keep(std::time::SystemTime),
    Deny(Denial),
    Replace,
}

/// One relation's planning state.
struct Planner<'l, 'a> {
    leader: &'l Leader<'a>,
    snap: &'l RelationSnapshot,
    cache: &'l mut KeepCache,
    sign: &'l SignFn<'l>,
    /// The CA was lost and this relation was not last published in manual mode, so
    /// certificates of any other CA are reissued.
    replace_foreign: bool,
    desired: ProviderAppData,
    counts: Counts,
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
    let mut p = Planner {
        leader,
        snap,
        cache,
        sign,
        replace_foreign: leader.ca_lost()
            && leader.config.mode == Mode::SelfSigned
            && !last_published_manual,
        desired: ProviderAppData {
            capabilities: Some(capabilities(&leader.config)),
            ..ProviderAppData::default()
        },
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
    let by_csr: HashMap<&str, &ProviderCertificate> = existing
        .certificates
        .iter()
        .map(|c| (c.certificate_signing_request.as_str(), c))
        .collect();
    let mut to_issue = Vec::new();
    for req in &requests.requests {
        if let Some((csr, had_entry)) = p.judge_request(req, by_csr.get(req.csr.as_str()).copied())
        {
            to_issue.push((req, csr, had_entry));
        }
    }
    for (req, csr, had_entry) in to_issue {
        p.issue(req, &csr, had_entry);
    }
    p.finish()
}

impl Planner<'_, '_> {
    /// Keeps or refuses the request's entry; returns the parsed CSR when it needs a certificate.
    fn judge_request(
        &mut self,
        req: &Request,
        entry: Option<&ProviderCertificate>,
    ) -> Option<(ParsedCsr, bool)> {
        // Steady state: an entry judged good by an earlier reconcile, unchanged since, in the
        // same context (CA, mode, policy) and before its deadline is kept without parsing.
        let cache_key = entry.map(|e| self.cache.key(&req.csr, req.is_ca, e));
        if let (Some(e), Some(k)) = (entry, &cache_key) {
            if self.cache.still_good(k, self.leader.hook.now) {
                self.desired.certificates.push(e.clone());
                return None;
            }
        }
        let csr = match ParsedCsr::parse(&req.csr) {
            Ok(p) => p,
            Err(e @ (CsrError::NotPem(_) | CsrError::TooLarge(_))) => {
                self.counts.rejected += 1;
                self.notes.push(format!(
                    "relation {} {}: CSR not usable, skipped: {e}",
                    self.snap.id,
                    req.source.describe()
                ));
                return None;
            }
            Err(e) => {
                self.refuse(&req.csr, DenialCode::Other, format!("CSR refused: {e}"));
                return None;
            }
        };
        match entry.map(|e| (e, self.judge(e, req, &csr))) {
            Some((e, Verdict::Keep(until))) => {
                self.desired.certificates.push(e.clone());
                if let Some(k) = cache_key {
                    self.cache.keep(k, until);
                }
                None
            }
            Some((_, Verdict::Deny(d))) => {
                self.refuse(&req.csr, d.code, d.message);
                None
            }
            Some((_, Verdict::Replace)) => Some((csr, true)),
            None => Some((csr, false)),
        }
    }

    fn judge(&self, entry: &ProviderCertificate, req: &Request, csr: &ParsedCsr) -> Verdict {
        let now = self.leader.hook.now;
        if entry.revoked || !entry.looks_publishable() {
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
        let self_signed = self.leader.config.mode == Mode::SelfSigned;
        let ca = self.leader.ca.as_ref();
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

    /// Signs a certificate for `req` (self-signed mode), or leaves it outstanding (manual mode).
    fn issue(&mut self, req: &Request, csr: &ParsedCsr, had_entry: bool) {
        let Some(ca) = self.leader.signer() else {
            self.counts.outstanding += 1;
            return;
        };
        let config = &self.leader.config;
        if let Err(d) = self.check_policy(req, csr) {
            return self.refuse(&req.csr, d.code, d.message);
        }
        let limit = config.certificate_limit as usize;
        if limit > 0 && self.desired.certificates.len() >= limit {
            let msg = format!(
                "certificate-limit reached: this relation already has {} (limit {limit}); \
                 remove unused requests, or ask the operator to raise it: \
                 juju config {} certificate-limit=<n> (0 = unlimited)",
                plural(self.desired.certificates.len(), "certificate"),
                self.leader.hook.app()
            );
            return self.refuse(&req.csr, DenialCode::Other, msg);
        }
        let signed = (self.sign)(
            &ca.ca,
            &IssueRequest {
                csr,
                is_ca: req.is_ca,
                validity_secs: config.certificate_validity,
                now: self.leader.hook.now,
            },
        );
        let cert = match signed {
            Ok(c) => c,
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
                return;
            }
        };
        let mut chain = vec![cert_to_pem(&cert)];
        chain.extend(ca.chain_pems());
        let entry = ProviderCertificate {
            ca: ca.root_pem(),
            certificate_signing_request: req.csr.clone(),
            certificate: chain[0].clone(),
            chain,
            revoked: false,
        };
        // Freshly signed by us after every check: good until its renewal point.
        let key = self.cache.key(&req.csr, req.is_ca, &entry);
        self.cache.keep(key, modern_renew_at(&cert));
        self.desired.certificates.push(entry);
        self.counts.signed += 1;
        if had_entry {
            self.counts.replaced += 1;
        }
    }

    /// The policy for this relation's application.
    fn check_policy(&self, req: &Request, csr: &ParsedCsr) -> Result<(), Denial> {
        let policy = &self.leader.config.policy;
        policy.check_app(&self.snap.remote_app, csr, req.is_ca)
    }

    fn refuse(&mut self, csr: &str, code: DenialCode, message: String) {
        self.desired
            .request_errors
            .push(request_error(csr, code, message));
    }

    fn finish(mut self) -> Plan {
        let (app_changes, dropped) = publish::changes(self.snap, &mut self.desired);
        self.notes.extend(dropped);
        self.counts.published = self.desired.certificates.len();
        self.counts.denied = self.desired.request_errors.len();
        // Every published entry is valid now (kept entries are, new ones were just signed).
        let anchors = self
            .desired
            .certificates
            .iter()
            .filter(|c| !c.revoked)
            .flat_map(|c| {
                std::iter::once(&c.ca).chain(c.chain.last().filter(|r| **r != c.certificate))
            })
            .cloned()
            .collect();
        Plan {
            relation: self.snap.id,
            app_changes,
            notes: self.notes,
            counts: self.counts,
            anchors,
            ..Plan::new(self.snap.id)
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use juju_hook::fake::FakeTools;
    use juju_hook::{Databag, HookContext, RelationId};
    use serde_json::{json, Value};

    use super::*;
    use crate::charm::ca::{CaSource, StoredCa};
    use crate::charm::config::Config;
    use crate::charm::dialect::snapshot;
    use crate::charm::hook::Hook;
    use crate::pki::sign::issue;
    use crate::pki::{csr_to_pem, generate_csr, CaSubject, KeyAlgorithm};

    fn csr(cn: &str) -> String {
        let key = KeyAlgorithm::EcdsaP256.generate().unwrap();
        csr_to_pem(&generate_csr(&key, cn, &[cn.to_string()]).unwrap()).unwrap()
    }

    /// A signing failure for one CSR (whatever its cause) is that request's 999 error; the plan
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
        let subject = CaSubject {
            common_name: "Test CA".into(),
            ..CaSubject::default()
        };
        let ca = Ca::generate(&subject, KeyAlgorithm::EcdsaP256, 365 * 86_400).unwrap();
        let leader = Leader {
            hook: Hook::at(&ctx, &tools, SystemTime::now()),
            config: Config::from_map(&serde_json::Map::new()).unwrap(),
            ca: Some(StoredCa::bare(ca, CaSource::SelfSigned)),
            ca_rotated: None,
            ca_announced: None,
            intake: None,
        };
        let snap = snapshot::read_relation(&leader.hook, RelationId(1))
            .unwrap()
            .unwrap();
        let sign = |ca: &Ca, r: &IssueRequest<'_>| {
            if r.csr.common_name.as_deref() == Some("bad.example.com") {
                Err(PkiError::BadDnsName("simulated encoder failure".into()))
            } else {
                issue(ca, r)
            }
        };
        let plan = plan_relation(&leader, &snap, &mut KeepCache::disabled(), &sign);
        let c = plan.counts;
        assert_eq!((c.published, c.denied, c.signed), (1, 1, 1));
        assert!(
            plan.notes
                .iter()
                .any(|n| n.contains("could not sign a CSR") && n.contains("unit req/0")),
            "{:?}",
            plan.notes
        );
        let certs: Vec<ProviderCertificate> =
            serde_json::from_str(&plan.app_changes["certificates"]).unwrap();
        assert_eq!(certs.len(), 1);
        assert_eq!(certs[0].certificate_signing_request, good);
        let errors: Vec<Value> = serde_json::from_str(&plan.app_changes["request_errors"]).unwrap();
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
