//! Event-scoped reconcile, against the in-memory model (`tests/common/world.rs`): a relation hook
//! serves only its own relation, whatever the number of other relations; an idle
//! `update-status` makes one call and writes nothing; a passed deadline, the safety interval,
//! a lost cache, a failed hook, a config or anchor change, or `TLS_PROVIDER_SCOPE=0` bring the
//! full pass back; status totals and the trust bundle stay whole in scoped hooks. Call counts,
//! not times. Against the real binary: `tests/perf_sim.rs`.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, SystemTime};

use common::interop::crafted_with_dns;
use common::world::{World, APP};
use juju_hook::process::{CommandRunner, Output, ProcessTools};
use juju_hook::{Databag, RelationId, ToolError};
use serde_json::json;
use tls_provider::charm::hook::Hook;
use tls_provider::charm::reconcile::cache::CACHE_FILE;
use tls_provider::charm::reconcile::scope::{Pass, Why};
use tls_provider::charm::reconcile::{reconcile, ReconcileOptions, Summary};
use tls_provider::pki::{cert_to_pem, ParsedCsr};
use tls_provider::protocol::modern::ProviderCertificate;

/// The relation every scoped hook below is for.
const X: u32 = 100;
const PEER: u32 = 90;
const HOUR: u64 = 3_600;
const DAY: u64 = 86_400;

fn later(now: SystemTime, secs: u64) -> SystemTime {
    now + Duration::from_secs(secs)
}

fn scoped(endpoint: &str, id: u32) -> Option<Pass> {
    Some(Pass::Scoped {
        endpoint: endpoint.into(),
        id: RelationId(id),
    })
}

/// The leader with the peer relation; relation [`X`] (app `x`, two units, one request each);
/// `n` other `certificates` relations (ids 1..=n, one unit, one request each) and `n`
/// `send-ca-cert` relations (v1, ids 201..); after one full pass.
fn world(n: u32) -> World {
    world_with(n, &[])
}

/// [`world`] with `config` set first.
fn world_with(n: u32, config: &[(&str, &str)]) -> World {
    let w = World::new(true);
    for (k, v) in config {
        w.config(k, json!(v));
    }
    w.tools.add_relation(PEER, "cluster", APP, &[]);
    w.relate(X, "x", &["x/0", "x/1"]);
    for u in ["x/0", "x/1"] {
        let c = crafted_with_dns(&format!("{}.example.com", u.replace('/', "-")));
        w.request(X, u, &[(&c.pem, false)]);
    }
    for id in 1..=n {
        let app = format!("r{id}");
        let unit = format!("{app}/0");
        w.relate(id, &app, &[&unit]);
        let c = crafted_with_dns(&format!("{app}.example.com"));
        w.request(id, &unit, &[(&c.pem, false)]);
        let client = format!("client{id}");
        let t = 200 + id;
        w.tools
            .add_relation(t, "send-ca-cert", &client, &[&format!("{client}/0")]);
        w.tools
            .set_remote_app_bag(t, Databag::from([("version".into(), "1".into())]));
    }
    let s = w.reconcile();
    assert_eq!(s.pass, Some(Pass::Full(Why::Event)));
    assert_eq!(s.totals.published, n as usize + 2 + n as usize);
    w
}

/// Every file of the charm dir with its content.
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            (name, std::fs::read(e.path()).unwrap())
        })
        .collect()
}

/// The status after `run`, and that a full pass then sets no other status.
fn assert_status_as_full_pass(w: &World, s: &Summary) {
    let status = w.unit_status();
    assert_eq!(s.status.as_ref(), Some(&status));
    w.tools.reset_calls();
    let full = w.reconcile();
    assert_eq!(
        w.tools.count("status-set"),
        0,
        "{:?} vs {:?}",
        status,
        full.status
    );
    assert_eq!(full.totals.published, s.totals.published);
    assert_eq!(full.totals.relations, s.totals.relations);
    assert_eq!(full.by_dialect.len(), s.by_dialect.len());
}

#[test]
fn a_certificates_hook_makes_the_same_calls_with_1_or_20_other_relations() {
    let mut runs = Vec::new();
    for n in [1, 20] {
        let w = world(n);
        let c = crafted_with_dns("x-1-new.example.com");
        w.request(X, "x/1", &[(&c.pem, false)]);
        w.tools.reset_calls();
        let s = w.unit_changed(X, "x/1");
        assert_eq!(s.pass, scoped("certificates", X));
        assert_eq!(s.totals.signed, 1);
        assert_eq!(
            s.totals.published,
            2 * n as usize + 2,
            "others from the cache"
        );
        assert!(w
            .certificates(X)
            .iter()
            .any(|e| e.certificate_signing_request == c.pem));
        runs.push(w.calls());
        assert_status_as_full_pass(&w, &s);
        // Unchanged: no write at all.
        w.tools.reset_calls();
        w.unit_changed(X, "x/1");
        assert_eq!(w.relation_sets() + w.tools.count("status-set"), 0);
        assert_eq!(w.calls().len(), 10, "{:#?}", w.calls());
    }
    assert_eq!(
        runs[0], runs[1],
        "the calls do not depend on the other relations"
    );
    let set = runs[0]
        .iter()
        .find(|c| c.starts_with("relation-set"))
        .unwrap();
    let expected = vec![
        "is-leader".to_string(),
        "config-get".into(),
        "relation-ids upstream-ca".into(),
        "secret-get Label(\"tls-provider-ca\")".into(),
        "relation-ids certificates".into(),
        "relation-ids send-ca-cert".into(),
        format!("relation-list -r {X}"),
        // Only the unit whose data changed (x/0's bag is the cached one) and the app bags.
        format!("relation-get -r {X} - x/1"),
        format!("relation-get -r {X} --app - x"),
        format!("relation-get -r {X} --app - {APP}"),
        set.clone(),
        // "issued 1 certificate(s) ...".
        "juju-log".into(),
    ];
    assert_eq!(runs[0], expected);
    // 6 + 4 (the list, the changed bag, the two app bags), the write and the log line,
    // whatever the number of relations and of units.
    assert_eq!(runs[0].len(), 6 + 4 + 2);
}

#[test]
fn a_unit_hook_reads_only_that_unit_with_2_or_40_units_and_an_app_hook_only_the_app() {
    let mut runs = Vec::new();
    for units in [2usize, 40] {
        let w = World::new(true);
        let names: Vec<String> = (0..units).map(|u| format!("big/{u}")).collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        w.relate(7, "big", &refs);
        let mut first = String::new();
        for u in &names {
            let c = crafted_with_dns(&format!("{}.example.com", u.replace('/', "-")));
            w.request(7, u, &[(&c.pem, false)]);
            first = c.pem;
        }
        assert_eq!(w.reconcile().totals.published, units);
        // The last unit asks for a second certificate.
        let last = &names[units - 1];
        let again = crafted_with_dns("again.example.com");
        w.request(7, last, &[(&first, false), (&again.pem, false)]);
        w.tools.reset_calls();
        let s = w.unit_changed(7, last);
        assert_eq!((s.totals.signed, s.totals.published), (1, units + 1));
        let reads: Vec<String> = w
            .calls()
            .into_iter()
            .filter(|c| c.starts_with("relation-get"))
            .collect();
        assert_eq!(
            reads,
            [
                format!("relation-get -r 7 - {last}"),
                "relation-get -r 7 --app - big".to_string(),
                format!("relation-get -r 7 --app - {APP}")
            ]
        );
        runs.push(w.calls().len());
        // An application-level change reads the app bag, not the units.
        w.tools.reset_calls();
        let s = w.relation_changed(7, "big");
        assert_eq!((s.totals.signed, s.totals.published), (0, units + 1));
        assert_eq!(w.relation_sets(), 0);
        let reads = w
            .calls()
            .into_iter()
            .filter(|c| c.starts_with("relation-get"));
        assert_eq!(
            reads.collect::<Vec<_>>(),
            [
                "relation-get -r 7 --app - big".to_string(),
                format!("relation-get -r 7 --app - {APP}")
            ]
        );
        // A full pass agrees: nothing to write.
        w.tools.reset_calls();
        assert_eq!(w.reconcile().totals.published, units + 1);
        assert_eq!(w.relation_sets(), 0);
        assert_eq!(w.tools.count("relation-get"), units + 2);
    }
    assert_eq!(runs[0], runs[1], "the calls do not depend on the units");
}

#[test]
fn a_send_ca_cert_hook_makes_the_same_calls_with_1_or_20_other_relations() {
    let mut runs = Vec::new();
    for n in [1, 20] {
        let w = world(n);
        // Relation 201's requirer speaks v0 now: it needs our unit databag too.
        w.tools.set_remote_app_bag(201, Databag::new());
        w.tools.reset_calls();
        let ctx = w.relation_ctx("send-ca-cert", "changed", 201, "client1");
        let s = w.run_ctx(&ctx, SystemTime::now(), ReconcileOptions::default());
        assert_eq!(s.pass, scoped("send-ca-cert", 201));
        let unit = w.own_unit_bag(201);
        let ca = json!(w.ca_pem().trim_end()).to_string();
        assert_eq!(unit["version"], "0");
        assert!(unit["ca"].starts_with(&ca[..40]), "{unit:?}");
        runs.push(w.calls());
        assert_status_as_full_pass(&w, &s);
        // Steady: 6 + the peer record (2) + the requirer's version (1).
        w.tools.reset_calls();
        w.run_ctx(&ctx, SystemTime::now(), ReconcileOptions::default());
        assert_eq!(w.calls().len(), 6 + 2 + 1, "{:#?}", w.calls());
    }
    assert_eq!(
        runs[0], runs[1],
        "the calls do not depend on the other relations"
    );
    assert!(
        !runs[0].iter().any(|c| c.contains(&format!("-r {X}"))),
        "{:#?}",
        runs[0]
    );
}

#[test]
fn idle_update_status_calls_is_leader_only_and_writes_nothing() {
    let w = world(3);
    let before = files(w.dir.path());
    assert!(before.contains_key(CACHE_FILE));
    w.tools.reset_calls();
    let s = w.update_status_at(SystemTime::now());
    assert_eq!(s.pass, Some(Pass::Idle));
    assert_eq!(w.calls(), vec!["is-leader".to_string()]);
    assert_eq!(files(w.dir.path()), before, "no local file written");
    assert_eq!(s.totals.published, 8, "the cached counts");
    assert_eq!(s.status.as_ref(), Some(&w.unit_status()));
    // A non-leader after a standby pass: is-leader only, too.
    let n = World::new(false);
    n.relate(1, "req", &["req/0"]);
    n.reconcile();
    let before = files(n.dir.path());
    n.tools.reset_calls();
    let s = n.update_status_at(SystemTime::now());
    assert_eq!((s.leader, s.pass), (false, Some(Pass::Idle)));
    assert_eq!(n.calls(), vec!["is-leader".to_string()]);
    assert_eq!(files(n.dir.path()), before);
}

#[test]
fn the_interval_brings_a_full_pass_then_update_status_is_idle_again() {
    let w = world(2);
    let now = SystemTime::now();
    let t = later(now, 6 * HOUR + 60);
    let s = w.update_status_at(t);
    assert_eq!(s.pass, Some(Pass::Full(Why::Interval)));
    assert!(w.calls().iter().any(|c| c == "relation-list -r 1"));
    assert_eq!(w.update_status_at(later(t, 60)).pass, Some(Pass::Idle));
    // A relation hook after the interval is a full pass too.
    w.tools.reset_calls();
    let ctx = w.relation_ctx("certificates", "changed", X, "x");
    let s = w.run_ctx(&ctx, later(t, 7 * HOUR), ReconcileOptions::default());
    assert_eq!(s.pass, Some(Pass::Full(Why::Interval)));
    assert!(w.calls().iter().any(|c| c == "relation-list -r 2"));
}

#[test]
fn a_certificate_renewal_point_brings_a_full_pass_that_renews() {
    // Without expiry warnings: their window (day 8) would bring a full pass of its own
    // (`tests/expiry_unit.rs`).
    let config = [
        ("certificate-validity", "10d"),
        ("full-reconcile-interval", "30d"),
        ("expiry-warning", "0"),
        ("crl-validity", "30d"),
    ];
    let w = world_with(2, &config);
    let now = SystemTime::now();
    assert_eq!(
        w.update_status_at(later(now, 8 * DAY)).pass,
        Some(Pass::Idle)
    );
    // Modern certificates renew with a tenth of their life left: after 9 days.
    let s = w.update_status_at(later(now, 9 * DAY + HOUR));
    assert_eq!(s.pass, Some(Pass::Full(Why::Deadline)));
    assert_eq!(s.totals.signed, 4, "the renewed certificates");
    assert_eq!(
        w.update_status_at(later(now, 9 * DAY + 2 * HOUR)).pass,
        Some(Pass::Idle)
    );
}

#[test]
fn a_ca_deadline_brings_a_full_pass_that_rotates() {
    let w = World::new(true);
    w.config("root-ca-validity", json!("20d"));
    w.config("certificate-validity", json!("5d"));
    w.config("ca-rotation-overlap", json!("1d"));
    w.config("full-reconcile-interval", json!("30d"));
    w.config("crl-validity", json!("30d"));
    w.reconcile();
    let now = SystemTime::now();
    assert_eq!(
        w.update_status_at(later(now, 13 * DAY)).pass,
        Some(Pass::Idle)
    );
    // Announced at notAfter - certificate-validity - overlap.
    let s = w.update_status_at(later(now, 14 * DAY + HOUR));
    assert_eq!(s.pass, Some(Pass::Full(Why::Deadline)));
    assert!(s.ca_announced.is_some());
    // Then switched at the end of the overlap, by the deadline the new secret carries.
    assert_eq!(
        w.update_status_at(later(now, 14 * DAY + 2 * HOUR)).pass,
        Some(Pass::Idle)
    );
    let s = w.update_status_at(later(now, 15 * DAY + 2 * HOUR));
    assert_eq!(s.pass, Some(Pass::Full(Why::Deadline)));
    assert!(s.ca_rotated.is_some());
}

#[test]
fn losing_the_cache_makes_the_next_hook_full() {
    let w = world(2);
    std::fs::remove_file(w.dir.path().join(CACHE_FILE)).unwrap();
    w.tools.reset_calls();
    let s = w.relation_changed(X, "x");
    assert_eq!(s.pass, Some(Pass::Full(Why::NoCache)));
    assert!(w.calls().iter().any(|c| c == "relation-list -r 1"));
    assert_eq!(w.relation_changed(X, "x").pass, scoped("certificates", X));
    std::fs::write(w.dir.path().join(CACHE_FILE), "garbage").unwrap();
    let s = w.update_status_at(SystemTime::now());
    assert_eq!(s.pass, Some(Pass::Full(Why::NoCache)));
    assert_eq!(w.update_status_at(SystemTime::now()).pass, Some(Pass::Idle));
}

/// The in-memory model, with every `relation-set` failing as if Juju were gone.
struct FailingWrites<'a>(&'a juju_hook::fake::FakeTools);

impl CommandRunner for FailingWrites<'_> {
    fn run(&self, tool: &str, args: &[String], stdin: Option<&[u8]>) -> Result<Output, ToolError> {
        if tool == "relation-set" {
            return Ok(Output::fail(1, "ERROR connection is shut down\n"));
        }
        self.0.run(tool, args, stdin)
    }
}

#[test]
fn a_failed_hook_leaves_no_cache_so_the_next_update_status_is_full() {
    let w = world(2);
    w.request(
        X,
        "x/0",
        &[(&crafted_with_dns("x-0-new.example.com").pem, false)],
    );
    let ctx = w.unit_ctx("changed", X, "x/0");
    let tools = ProcessTools::with_runner(FailingWrites(&w.tools));
    let hook = Hook::at(&ctx, &tools, SystemTime::now());
    assert!(reconcile(&hook, ReconcileOptions::default()).is_err());
    assert!(!w.dir.path().join(CACHE_FILE).exists());
    // The operator resolves without retry: update-status serves everything again.
    let s = w.update_status_at(SystemTime::now());
    assert_eq!(s.pass, Some(Pass::Full(Why::NoCache)));
    assert_eq!(s.totals.signed, 1);
}

#[test]
fn scoping_off_interval_0_a_config_change_or_an_action_make_full_passes() {
    let w = world(2);
    // TLS_PROVIDER_SCOPE=0 (dispatch reads it into the hook).
    std::fs::remove_file(w.dir.path().join(CACHE_FILE)).unwrap();
    for name in ["update-status", "certificates-relation-changed"] {
        let ctx = w.relation_ctx("certificates", "changed", X, "x");
        let ctx = if name == "update-status" {
            w.ctx(name)
        } else {
            ctx
        };
        let tools = w.process_tools();
        let hook = Hook::at(&ctx, &tools, SystemTime::now()).with_scoping(false);
        let s = reconcile(&hook, ReconcileOptions::default()).unwrap();
        assert_eq!(s.pass, Some(Pass::Full(Why::Disabled)), "{name}");
        assert!(!w.dir.path().join(CACHE_FILE).exists(), "no cache when off");
    }
    w.reconcile();
    // A config change seen before config-changed runs.
    w.config("allowed-domains", json!("example.com"));
    assert_eq!(
        w.relation_changed(X, "x").pass,
        Some(Pass::Full(Why::Context))
    );
    // full-reconcile-interval=0.
    w.config("full-reconcile-interval", json!("0"));
    w.reconcile();
    assert_eq!(
        w.relation_changed(X, "x").pass,
        Some(Pass::Full(Why::Always))
    );
    let s = w.update_status_at(SystemTime::now());
    assert_eq!(s.pass, Some(Pass::Full(Why::Always)));
    // An invalid value blocks, naming it.
    w.config("full-reconcile-interval", json!("often"));
    let s = w.reconcile();
    let (_, msg) = s.status.unwrap();
    assert!(msg.contains("full-reconcile-interval"), "{msg}");
    // Actions are full passes.
    w.config("full-reconcile-interval", json!("6h"));
    w.reconcile();
    w.tools.reset_calls();
    w.action("rotate-private-key", json!({})).ok();
    assert!(w.calls().iter().any(|c| c == "relation-list -r 1"));
}

/// A certificate an operator provided (manual mode), signed by a CA of their own.
fn provided(w: &World, id: u32, csr: &str) -> ProviderCertificate {
    let ca = common::ca::ec_ca("Operator CA");
    let parsed = ParsedCsr::parse(csr).unwrap();
    let cert = cert_to_pem(&common::ca::sign_with(
        &ca,
        &parsed,
        false,
        SystemTime::now(),
    ));
    let entry = ProviderCertificate {
        ca: ca.cert_pem(),
        certificate_signing_request: csr.to_string(),
        certificate: cert.clone(),
        chain: vec![cert, ca.cert_pem()],
        revoked: false,
    };
    assert!(w.publish_entry(id, entry.clone()));
    entry
}

#[test]
fn a_relation_hook_that_changes_the_anchors_serves_every_send_ca_cert_relation() {
    let w = World::leader_in("manual");
    w.tools.add_relation(PEER, "cluster", APP, &[]);
    w.relate(X, "x", &["x/0"]);
    let c = crafted_with_dns("x.example.com");
    w.request(X, "x/0", &[(&c.pem, false)]);
    for t in [201, 202] {
        w.tools
            .add_relation(t, "send-ca-cert", "client", &["client/0"]);
    }
    w.reconcile();
    assert!(w.own_bag(201).is_empty(), "nothing to trust yet");
    let entry = provided(&w, X, &c.pem);
    let s = w.relation_changed(X, "x");
    assert_eq!(s.pass, scoped("certificates", X));
    for t in [201, 202] {
        let bundle: Vec<String> = serde_json::from_str(&w.own_bag(t)["certificates"]).unwrap();
        assert_eq!(bundle.len(), 1);
        assert_eq!(bundle[0].trim(), entry.ca.trim());
    }
    // Nothing changed since: the next hook of X leaves send-ca-cert alone.
    w.tools.reset_calls();
    w.relation_changed(X, "x");
    assert!(
        !w.calls().iter().any(|c| c.contains("-r 201")),
        "{:#?}",
        w.calls()
    );
    // A send-ca-cert hook builds the bundle from the cached anchors.
    w.tools
        .add_relation(203, "send-ca-cert", "late", &["late/0"]);
    let ctx = w.relation_ctx("send-ca-cert", "joined", 203, "late");
    w.run_ctx(&ctx, SystemTime::now(), ReconcileOptions::default());
    assert_eq!(
        w.own_bag(203)["certificates"],
        w.own_bag(201)["certificates"]
    );
}

#[test]
fn a_broken_relation_drops_out_of_the_totals_and_the_cache() {
    let w = world(3);
    w.tools.state.borrow_mut().relations.remove(&RelationId(2));
    let ctx = w.relation_ctx("certificates", "broken", 2, "r2");
    let s = w.run_ctx(&ctx, SystemTime::now(), ReconcileOptions::default());
    assert_eq!(s.pass, scoped("certificates", 2));
    assert_eq!(s.totals.published, 2 + 2 + 3);
    let text = std::fs::read_to_string(w.dir.path().join(CACHE_FILE)).unwrap();
    let cache: serde_json::Value = serde_json::from_str(&text).unwrap();
    let ids = &cache["cache"]["leader"]["relations"]["certificates"];
    assert!(ids.get("2").is_none() && ids.get("3").is_some(), "{ids}");
    assert_status_as_full_pass(&w, &s);
}

/// A legacy requirer unit on relation `id` asking for one server certificate.
fn legacy(w: &World, id: u32, app: &str) {
    let unit = format!("{app}/0");
    w.relate(id, app, &[&unit]);
    w.set_unit_keys(
        id,
        &unit,
        &[
            ("unit_name", &format!("{app}_0")),
            ("common_name", &format!("{app}.example.com")),
            ("sans", "[]"),
        ],
    );
}

#[test]
fn a_legacy_relation_hook_leaves_the_other_legacy_relations_alone() {
    for mode in ["self-signed", "manual"] {
        let w = World::leader_in(mode);
        w.config("ca-key-algorithm", json!("ecdsa-p256"));
        legacy(&w, 7, "etcd");
        legacy(&w, 8, "kafka");
        w.reconcile();
        let other = w.own_unit_bag(7);
        w.set_unit_keys(8, "kafka/0", &[("sans", r#"["k.example.com"]"#)]);
        w.tools.reset_calls();
        let s = w.unit_changed(8, "kafka/0");
        assert_eq!(s.pass, scoped("certificates", 8), "{mode}");
        assert_eq!(w.own_unit_bag(7), other, "{mode}");
        assert!(!w.calls().iter().any(|c| c.contains("-r 7")), "{mode}");
        // A full pass finds nothing to do for relation 7, and the same status.
        w.tools.reset_calls();
        let full = w.reconcile();
        assert_eq!(w.relation_sets(), 0, "{mode}: {:#?}", w.calls());
        assert_eq!(full.totals.signed, 0, "{mode}");
        assert_eq!(full.status, s.status, "{mode}");
    }
}
