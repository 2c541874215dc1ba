//! What the upstream provider answered to our intermediate CA request, checked.

use std::time::{Duration, SystemTime};

use openssl::x509::X509;

use super::UpstreamView;
use crate::charm::ca::install::{Answer, Candidate, Intake};
use crate::charm::ca::{CaSource, PendingCa};
use crate::pki::intermediate::{self, IntermediateError};
use crate::pki::{parse_certs, Ca};
use crate::protocol::modern::{excerpt, ProviderCertificate};

impl Intake for UpstreamView {
    fn label(&self) -> String {
        self.source().describe()
    }

    fn source(&self) -> CaSource {
        CaSource::Upstream {
            app: self.app.clone(),
        }
    }

    fn answer(&self, pending: &PendingCa, now: SystemTime, min_life: Duration) -> Answer {
        evaluate(self, pending, now, min_life)
    }

    fn revoked(&self, csr: &str) -> bool {
        entry_for(self, csr).is_some_and(|e| e.revoked)
    }
}

/// Compares CSR texts as the libraries do: surrounding whitespace aside.
fn same_csr(a: &str, b: &str) -> bool {
    a.trim() == b.trim()
}

/// The `certificates` entry answering `csr`, if any.
pub fn entry_for<'v>(view: &'v UpstreamView, csr: &str) -> Option<&'v ProviderCertificate> {
    view.data
        .certificates
        .iter()
        .find(|e| same_csr(&e.certificate_signing_request, csr))
}

/// Evaluates the upstream's answer to `pending` at `now`: an intermediate needs more than
/// `min_life` left.
pub fn evaluate(
    view: &UpstreamView,
    pending: &PendingCa,
    now: SystemTime,
    min_life: Duration,
) -> Answer {
    if let Some(entry) = entry_for(view, &pending.csr_pem) {
        return match check_entry(entry, pending, now, min_life) {
            Ok(chain) => Answer::Accepted(Box::new(Candidate {
                ca: Ca {
                    cert: chain[0].clone(),
                    key: pending.key.clone(),
                },
                chain: chain[1..].to_vec(),
                source: CaSource::Upstream {
                    app: view.app.clone(),
                },
                csr: Some(pending.csr_pem.clone()),
                requested_for: Some(pending.requested_for.clone()),
            })),
            Err(why) => Answer::Rejected(why),
        };
    }
    let refusal = view
        .data
        .request_errors
        .iter()
        .find(|e| same_csr(&e.csr, &pending.csr_pem));
    match refusal {
        Some(e) => Answer::Refused(format!(
            "refused our intermediate CA request: {} (code {}): {}",
            excerpt(&e.error.name),
            e.error.code,
            excerpt(&e.error.message)
        )),
        None => Answer::Waiting,
    }
}

/// The checks of an answer, as one message naming the failed check.
fn check_entry(
    entry: &ProviderCertificate,
    pending: &PendingCa,
    now: SystemTime,
    min_life: Duration,
) -> Result<Vec<X509>, String> {
    if entry.revoked {
        return Err("answered with a certificate marked revoked".into());
    }
    let cert = parse_certs(&entry.certificate)
        .ok()
        .and_then(|v| v.into_iter().next())
        .ok_or("answered with a certificate that is not PEM")?;
    let upstream = upstream_chain(entry, &cert)?;
    if upstream.is_empty() {
        return Err(
            "answered without its issuer: neither chain nor ca holds the CA that signed ours"
                .into(),
        );
    }
    intermediate::check(&cert, &upstream, &pending.key, now, min_life)
        .map_err(|e: IntermediateError| format!("answered with a certificate we cannot use: {e}"))
}

/// The certificates above ours, leaf-first: the entry's chain without our certificate, then
/// its `ca` when the chain does not already end with it.
pub fn upstream_chain(entry: &ProviderCertificate, cert: &X509) -> Result<Vec<X509>, String> {
    let der = |c: &X509| c.to_der().unwrap_or_default();
    let ours = der(cert);
    let mut out: Vec<X509> = Vec::new();
    for (i, text) in entry.chain.iter().enumerate() {
        let certs = parse_certs(text).map_err(|e| format!("chain element {i} is not PEM: {e}"))?;
        out.extend(certs.into_iter().filter(|c| der(c) != ours));
    }
    if let Ok(cas) = parse_certs(&entry.ca) {
        for ca in cas {
            if out.last().map(der) != Some(der(&ca)) && der(&ca) != ours {
                out.push(ca);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pki::trust::pem_of;
    use crate::pki::{CaSubject, KeyAlgorithm};

    fn ca(name: &str) -> Ca {
        let subject = CaSubject {
            common_name: name.into(),
            ..CaSubject::default()
        };
        Ca::generate(&subject, KeyAlgorithm::EcdsaP256, 86_400).unwrap()
    }

    fn entry(ca: &str, cert: &str, chain: &[&str]) -> ProviderCertificate {
        ProviderCertificate {
            ca: ca.into(),
            certificate_signing_request: "CSR".into(),
            certificate: cert.into(),
            chain: chain.iter().map(|s| s.to_string()).collect(),
            revoked: false,
        }
    }

    #[test]
    fn the_upstream_chain_drops_our_certificate_and_ends_with_the_ca_once() {
        let (ours, mid, root) = (ca("ours"), ca("mid"), ca("root"));
        let (o, m, r) = (pem_of(&ours.cert), pem_of(&mid.cert), pem_of(&root.cert));
        let names = |v: Vec<X509>| -> Vec<String> {
            v.iter()
                .map(|c| crate::pki::verify::subject_string(c))
                .collect::<Vec<_>>()
        };
        let full = upstream_chain(&entry(&r, &o, &[&o, &m, &r]), &ours.cert).unwrap();
        assert_eq!(names(full), ["CN=mid", "CN=root"]);
        let no_root = upstream_chain(&entry(&r, &o, &[&o, &m]), &ours.cert).unwrap();
        assert_eq!(names(no_root), ["CN=mid", "CN=root"]);
        let bare = upstream_chain(&entry(&r, &o, &[&o]), &ours.cert).unwrap();
        assert_eq!(names(bare), ["CN=root"]);
        let junk = upstream_chain(&entry(&r, &o, &[&o, "junk"]), &ours.cert);
        assert!(junk.unwrap_err().contains("chain element 1 is not PEM"));
    }

    #[test]
    fn an_answer_without_its_issuer_is_refused() {
        let config = crate::charm::config::Config::from_map(&serde_json::Map::new()).unwrap();
        let now = SystemTime::now();
        let pending = crate::charm::ca::rotation::new_request(
            &config,
            now,
            crate::charm::ca::PendingFor::Upstream,
            &crate::charm::ca::RotateReason::Requested,
        )
        .unwrap();
        let root = ca("root");
        let parsed = crate::pki::ParsedCsr::parse(&pending.csr_pem).unwrap();
        let ours = crate::pki::sign::issue(
            &root,
            &crate::pki::sign::IssueRequest {
                crl_url: None,
                csr: &parsed,
                is_ca: true,
                validity_secs: 86_400,
                now,
            },
        )
        .unwrap();
        let o = pem_of(&ours);
        let mut e = entry("not a certificate", &o, &[&o]);
        e.certificate_signing_request = pending.csr_pem.clone();
        let view = UpstreamView {
            id: juju_hook::RelationId(1),
            app: "up".into(),
            data: crate::protocol::modern::ProviderAppData {
                certificates: vec![e],
                ..Default::default()
            },
            own_app_bag: Default::default(),
            notes: Vec::new(),
        };
        match evaluate(&view, &pending, now, Duration::from_secs(60)) {
            Answer::Rejected(why) => assert!(why.contains("without its issuer"), "{why}"),
            _ => panic!("accepted an answer without its issuer"),
        }
    }
}
