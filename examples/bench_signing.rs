//! Benchmark (not a test): how close the issuing hook gets to the cost of signing alone.
//!
//! For an RSA 2048 and an ECDSA P-256 CA, and for 10, 100 and 1000 CSRs (one relation,
//! 10 requirer units, CSRs spread evenly, EC P-256 requirer keys), in process against the
//! in-memory `FakeTools`:
//!
//! - `hook`: the reconcile that sees the CSRs for the first time and signs them all (the CA
//!   already exists: an earlier reconcile made it, so key generation is not counted);
//! - `empty`: the same reconcile just before, with no CSR yet: what any hook costs (config,
//!   the CA secret, reading the relation, status);
//! - `sign`: [`issue`] alone on the same CSRs, already parsed, with the same CA (read back from
//!   the CA secret), one thread; `ratio` = hook / sign;
//! - `sign x2`: the same on two threads (what the machine does at best with both cores);
//! - where the rest of a single-threaded pipeline goes: `parse` (PEM, DER, signature
//!   verification, key and extension checks: [`ParsedCsr::parse`]), `encode` (each
//!   certificate as PEM, its entry, the `certificates` JSON), and `rest` = hook − empty −
//!   parse − sign − encode (keep-cache, sorting, the write; negative when the hook works on
//!   several cores).
//!
//! `TLS_PROVIDER_THREADS=1` makes the hook use one thread (see `charm::parallel`).
//!
//! Each figure is the best of a few runs (`REPS`), so a busy machine distorts it less.
//!
//! Run: `cargo run --release --example bench_signing` (optionally with the sizes as arguments,
//! e.g. `-- 10 100`). `cargo test --example bench_signing` only checks that it runs, with two
//! CSRs.

use std::time::{Duration, Instant, SystemTime};

use juju_hook::fake::FakeTools;
use juju_hook::{Databag, HookContext};
use serde_json::{json, Value};

#[path = "bench/requests.rs"]
mod requests;
use requests::csr;

use tls_provider::charm::ca::{self, Loaded};
use tls_provider::charm::hook::Hook;
use tls_provider::charm::reconcile::{reconcile, ReconcileOptions};
use tls_provider::pki::sign::{cert_to_pem, issue, IssueRequest};
use tls_provider::pki::ParsedCsr;
use tls_provider::protocol::modern::ProviderCertificate;

const UNITS: usize = 10;
const VALIDITY_SECS: u64 = 90 * 86_400;

/// `n` CSRs spread over [`UNITS`] units (unit `u` gets every `UNITS`-th one).
fn csrs(n: usize) -> Vec<Vec<String>> {
    let mut units = vec![Vec::new(); UNITS];
    for i in 0..n {
        units[i % UNITS].push(csr(&format!("u{}-{}.example.com", i % UNITS, i / UNITS)));
    }
    units
}

fn ctx(dir: &std::path::Path) -> HookContext {
    HookContext::from_pairs(&[
        ("JUJU_DISPATCH_PATH", "hooks/certificates-relation-changed"),
        ("JUJU_UNIT_NAME", "tls-provider/0"),
        ("JUJU_CHARM_DIR", dir.to_str().expect("utf-8 path")),
    ])
    .unwrap()
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The figures of one run.
#[derive(Clone, Copy)]
struct Figures {
    hook: Duration,
    empty: Duration,
    parse: Duration,
    sign: Duration,
    sign2: Duration,
    encode: Duration,
}

impl Figures {
    fn best(self, o: Figures) -> Figures {
        Figures {
            hook: self.hook.min(o.hook),
            empty: self.empty.min(o.empty),
            parse: self.parse.min(o.parse),
            sign: self.sign.min(o.sign),
            sign2: self.sign2.min(o.sign2),
            encode: self.encode.min(o.encode),
        }
    }
}

/// The issuing hook for `units`' CSRs under a CA of `algorithm`, then the pure phases with the
/// same CA and CSRs.
fn one_run(algorithm: &str, units: &[Vec<String>]) -> Figures {
    let n: usize = units.iter().map(Vec::len).sum();
    let tools = FakeTools::new("tls-provider", true);
    tools
        .state
        .borrow_mut()
        .config
        .insert("ca-key-algorithm".into(), json!(algorithm));
    tools.add_relation(1, "certificates", "req", &[]);
    for u in 0..UNITS {
        tools.set_remote_unit_bag(1, &format!("req/{u}"), Databag::new());
    }
    let dir = tempfile::TempDir::new().unwrap();
    let ctx = ctx(dir.path());
    let run = || {
        reconcile(
            &Hook::at(&ctx, &tools, SystemTime::now()),
            ReconcileOptions::default(),
        )
        .expect("reconcile")
    };
    // Make the CA first: the issuing hook below only signs. Then a hook with nothing to do.
    run();
    let start = Instant::now();
    run();
    let empty = start.elapsed();
    for (u, list) in units.iter().enumerate() {
        let requests: Vec<Value> = list
            .iter()
            .map(|c| json!({"certificate_signing_request": c, "ca": false}))
            .collect();
        let bag = Databag::from([(
            "certificate_signing_requests".to_string(),
            Value::Array(requests).to_string(),
        )]);
        tools.set_remote_unit_bag(1, &format!("req/{u}"), bag);
    }
    let start = Instant::now();
    let summary = run();
    let hook = start.elapsed();
    assert_eq!(summary.totals.signed, n, "the hook signs every CSR");

    let Loaded::Ok(stored) = ca::load(&tools).expect("secret-get") else {
        panic!("no CA in the secret");
    };
    let ca = &stored.ca;
    let all: Vec<&String> = units.iter().flatten().collect();

    let start = Instant::now();
    let parsed: Vec<ParsedCsr> = all.iter().map(|c| ParsedCsr::parse(c).unwrap()).collect();
    let parse = start.elapsed();

    let now = SystemTime::now();
    let sign_one = |p: &ParsedCsr| {
        let req = IssueRequest {
            crl_url: None,
            csr: p,
            is_ca: false,
            validity_secs: VALIDITY_SECS,
            now,
        };
        issue(ca, &req).unwrap()
    };
    let start = Instant::now();
    let certs: Vec<_> = parsed.iter().map(sign_one).collect();
    let sign = start.elapsed();

    let start = Instant::now();
    let half = parsed.len().div_ceil(2).max(1);
    let signed2: usize = std::thread::scope(|s| {
        let handles: Vec<_> = parsed
            .chunks(half)
            .map(|chunk| s.spawn(|| chunk.iter().map(sign_one).count()))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum()
    });
    let sign2 = start.elapsed();
    assert_eq!(signed2, n);

    let start = Instant::now();
    let ca_pem = stored.root_pem();
    let entries: Vec<ProviderCertificate> = certs
        .iter()
        .zip(&all)
        .map(|(cert, csr)| {
            let pem = cert_to_pem(cert);
            ProviderCertificate {
                ca: ca_pem.clone(),
                certificate_signing_request: csr.to_string(),
                certificate: pem.clone(),
                chain: vec![pem, ca_pem.clone()],
                revoked: false,
            }
        })
        .collect();
    let text = serde_json::to_string(&entries).unwrap();
    let encode = start.elapsed();
    assert!(text.len() > n);

    Figures {
        hook,
        empty,
        parse,
        sign,
        sign2,
        encode,
    }
}

fn bench(sizes: &[usize], reps: usize) {
    println!(
        "issuing hook vs signing alone: 1 relation, {UNITS} units, EC P-256 CSRs, in process \
         (FakeTools), hook on up to {} thread(s), best of {reps}",
        tls_provider::charm::parallel::threads()
    );
    println!(
        "{:<11} {:>5} {:>9} {:>9} {:>6} {:>10} | {:>8} {:>8} {:>9} {:>8}",
        "CA",
        "CSRs",
        "hook ms",
        "sign ms",
        "ratio",
        "sign x2 ms",
        "empty ms",
        "parse ms",
        "encode ms",
        "rest ms"
    );
    for algorithm in ["rsa-2048", "ecdsa-p256"] {
        for &n in sizes {
            let units = csrs(n);
            let f = (1..reps).fold(one_run(algorithm, &units), |best, _| {
                best.best(one_run(algorithm, &units))
            });
            // What the hook spends beyond any hook's cost and a single-threaded parse + sign
            // + encode (negative when the hook works on several cores).
            let rest = millis(f.hook)
                - millis(f.empty)
                - millis(f.parse)
                - millis(f.sign)
                - millis(f.encode);
            println!(
                "{algorithm:<11} {n:>5} {:>9.1} {:>9.1} {:>6.2} {:>10.1} | {:>8.1} {:>8.1} {:>9.1} {:>8.1}",
                millis(f.hook),
                millis(f.sign),
                f.hook.as_secs_f64() / f.sign.as_secs_f64(),
                millis(f.sign2),
                millis(f.empty),
                millis(f.parse),
                millis(f.encode),
                rest,
            );
        }
    }
}

fn main() {
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("sizes are numbers"))
        .collect();
    if sizes.is_empty() {
        bench(&[10, 100, 1000], 3);
    } else {
        bench(&sizes, 3);
    }
}

#[cfg(test)]
mod tests {
    /// The benchmark runs (tiny size, one run); no timing is checked.
    #[test]
    fn runs() {
        super::bench(&[2], 1);
    }
}
