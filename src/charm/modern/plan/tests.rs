//! The plan on its own: a request that fails to sign (999, and the limit), and a large relation.

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

/// One relation (id 1, app `req`), each unit's CSR list as given, an EC CA and `config`.
struct Fixture {
    tools: FakeTools,
    ctx: HookContext,
    ca: Ca,
}

impl Fixture {
    fn new(units: &[Vec<String>]) -> Fixture {
        let tools = FakeTools::new("tls-provider", true);
        tools.add_relation(1, "certificates", "req", &[]);
        for (u, csrs) in units.iter().enumerate() {
            let list: Vec<Value> = csrs
                .iter()
                .map(|c| json!({"certificate_signing_request": c, "ca": false}))
                .collect();
            let bag = Databag::from([(
                "certificate_signing_requests".to_string(),
                Value::Array(list).to_string(),
            )]);
            tools.set_remote_unit_bag(1, &format!("req/{u}"), bag);
        }
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
        Fixture { tools, ctx, ca }
    }

    fn plan(&self, config: &serde_json::Map<String, Value>, sign: &SignFn<'_>) -> Plan {
        let ca = Ca::from_pem(&self.ca.cert_pem(), &self.ca.key_pem()).unwrap();
        let leader = Leader {
            hook: Hook::at(&self.ctx, &self.tools, SystemTime::now()),
            config: Config::from_map(config).unwrap(),
            ca: Some(StoredCa::bare(ca, CaSource::SelfSigned)),
            ca_rotated: None,
            ca_announced: None,
            intake: None,
        };
        let snap = snapshot::read_relation(&leader.hook, RelationId(1))
            .unwrap()
            .unwrap();
        plan_relation(&leader, &snap, &mut KeepCache::disabled(), sign)
    }
}

fn certificates(plan: &Plan) -> Vec<ProviderCertificate> {
    plan.app_changes
        .get("certificates")
        .map(|c| serde_json::from_str(c).unwrap())
        .unwrap_or_default()
}

fn errors(plan: &Plan) -> Vec<Value> {
    plan.app_changes
        .get("request_errors")
        .map(|c| serde_json::from_str(c).unwrap())
        .unwrap_or_default()
}

/// With `certificate-limit`, a request whose signature fails frees its place: the next
/// request in order is signed, as when everything ran on one thread; nothing is signed twice.
#[test]
fn a_failed_signature_under_the_limit_lets_the_next_request_in() {
    let names = ["bad", "a", "b", "c"];
    let csrs: Vec<String> = names
        .iter()
        .map(|n| csr(&format!("{n}.example.com")))
        .collect();
    let f = Fixture::new(std::slice::from_ref(&csrs));
    let calls = std::sync::atomic::AtomicUsize::new(0);
    let sign = |ca: &Ca, r: &IssueRequest<'_>| {
        calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        if r.csr.common_name.as_deref() == Some("bad.example.com") {
            Err(PkiError::BadDnsName("simulated".into()))
        } else {
            issue(ca, r)
        }
    };
    let config = serde_json::Map::from_iter([("certificate-limit".to_string(), json!(2))]);
    let plan = f.plan(&config, &sign);
    assert_eq!(
        calls.into_inner(),
        3,
        "bad, a, then b once a place was free"
    );
    let c = plan.counts;
    assert_eq!((c.signed, c.published, c.denied), (2, 2, 2));
    let signed: BTreeSet<String> = certificates(&plan)
        .into_iter()
        .map(|e| e.certificate_signing_request)
        .collect();
    assert_eq!(signed, BTreeSet::from([csrs[1].clone(), csrs[2].clone()]));
    let errs = errors(&plan);
    let message = |csr: &str| {
        errs.iter()
            .find(|e| e["csr"] == json!(csr))
            .map(|e| e["error"]["message"].as_str().unwrap().to_string())
            .unwrap()
    };
    assert!(message(&csrs[0]).starts_with("could not sign this CSR"));
    assert!(message(&csrs[3]).starts_with("certificate-limit reached"));
}

/// Thousands of requests over several units (more than one databag may hold) in one plan:
/// every one signed once, in canonical order, with the same notes and counts on every run
/// (whatever thread signed what). A quadratic step would make this take minutes.
#[test]
fn five_thousand_requests_are_planned_in_one_pass() {
    let units: Vec<Vec<String>> = (0..5)
        .map(|u| {
            (0..1000)
                .map(|i| csr(&format!("u{u}-{i}.example.com")))
                .collect()
        })
        .collect();
    let f = Fixture::new(&units);
    let calls = std::sync::atomic::AtomicUsize::new(0);
    let sign = |ca: &Ca, r: &IssueRequest<'_>| {
        calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        issue(ca, r)
    };
    let plan = f.plan(&serde_json::Map::new(), &sign);
    assert_eq!(calls.into_inner(), 5000);
    assert_eq!((plan.counts.signed, plan.counts.published), (5000, 5000));
    let certs = certificates(&plan);
    assert!(certs
        .windows(2)
        .all(|w| w[0].certificate_signing_request < w[1].certificate_signing_request));
    let mut wanted: Vec<&String> = units.iter().flatten().collect();
    wanted.sort();
    let got: Vec<&String> = certs
        .iter()
        .map(|c| &c.certificate_signing_request)
        .collect();
    assert_eq!(got, wanted);
    assert_eq!(plan.anchors.len(), 1, "one CA, once");
}

/// A signing failure for one CSR (whatever its cause) is that request's 999 error; the plan
/// goes on and the other request is issued.
#[test]
fn a_csr_that_cannot_be_signed_gets_999_and_the_others_are_issued() {
    let (good, bad) = (csr("good.example.com"), csr("bad.example.com"));
    let f = Fixture::new(&[vec![good.clone(), bad.clone()]]);
    let sign = |ca: &Ca, r: &IssueRequest<'_>| {
        if r.csr.common_name.as_deref() == Some("bad.example.com") {
            Err(PkiError::BadDnsName("simulated encoder failure".into()))
        } else {
            issue(ca, r)
        }
    };
    let plan = f.plan(&serde_json::Map::new(), &sign);
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
