//! Helpers for the certificate_transfer tests (`send-ca-cert`): deploying the Python `ca-client`
//! (the real `CertificateTransferRequires`, charmlibs-interfaces-certificate-transfer 1.1.0),
//! reading what it trusts, and the library's own reading and writing of databags
//! (`tests/charms/tools/parse_transfer.py`, run with `.venv/bin/python3`).
//!
//! What the library does (1.1.0, `_certificate_transfer.py`):
//! - The requirer's leader writes `version` = `"1"` to its application databag in
//!   `-relation-created`. A provider then publishes v1 only: its application databag holds
//!   `certificates` (a JSON list of PEMs, sorted, written by Python's `json.dumps`: `", "`
//!   between items) and `version` = `"1"`.
//! - A requirer with no `version` "1" gets v0 as well: the provider's **unit** databag (leader
//!   only) holds `ca`, `certificate` (both the lexicographically first PEM, JSON strings),
//!   `chain` (the sorted list) and `version` = `"0"`, each value `json.dumps`'d; the
//!   application databag is written as for v1 too. An empty set leaves the unit databag as it
//!   was.
//! - The requirer reads, on every `-relation-changed` (unit or app), the provider's application
//!   databag; if it has no certificates and its `version` is not the string `"1"`, it reads
//!   `chain` from one provider unit's databag (`next(iter(relation.units))`: with several
//!   provider units, any of them). It emits `certificate_set_updated` when the set's hash
//!   differs from the last one on that relation (the first `-changed` always emits, even for an
//!   empty set); `certificates_removed` on `-relation-broken`. Nothing on `-joined`/`-departed`.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use jujusim::{Databag, Model};
use serde::Deserialize;
use serde_json::{json, Map, Value};

/// The ca-client's endpoint (requires, interface certificate_transfer).
pub const RECEIVE_CA_CERT: &str = "receive-ca-cert";
/// The provider's endpoint (provides, interface certificate_transfer).
pub const SEND_CA_CERT: &str = "send-ca-cert";
/// The file in a ca-client unit's charm dir that mirrors its record (see [`client_record`]).
pub const CLIENT_RECORD_FILE: &str = "bundle.json";
/// metadata.yaml of a puppet certificate_transfer provider (no code; bags written by the test).
pub const PUPPET_PROVIDER_META: &str =
    "name: ca-source\nprovides:\n  send-ca-cert:\n    interface: certificate_transfer\n";

/// The ca-client charm dir (`build/charms/ca-client`); fails (never skips) with the build
/// instruction when it or `.venv` is missing.
pub fn ca_client_dir() -> PathBuf {
    super::with_venv(super::ca_client_charm_dir())
}

/// Deploys the ca-client as `app` with `units` units (not related).
pub fn deploy_ca_client(model: &mut Model, app: &str, units: usize) {
    model
        .deploy(app, &ca_client_dir(), units, Map::new())
        .unwrap_or_else(|e| panic!("deploy {app}: {e}"));
}

/// Relates `app:receive-ca-cert` to `provider:send-ca-cert`; returns the relation id.
pub fn relate_ca_client(model: &mut Model, app: &str, provider: &str) -> u32 {
    model
        .relate(
            &format!("{app}:{RECEIVE_CA_CERT}"),
            &format!("{provider}:{SEND_CA_CERT}"),
        )
        .unwrap_or_else(|e| panic!("relate {app} to {provider}:{SEND_CA_CERT}: {e}"))
}

/// Deploys a puppet certificate_transfer provider `app` (its bags are written by the test with
/// `set_relation_data`, e.g. from [`library_dump_v1`]).
pub fn deploy_puppet_provider(model: &mut Model, app: &str, units: usize) {
    let meta = PUPPET_PROVIDER_META.replace("name: ca-source", &format!("name: {app}"));
    model
        .deploy_puppet(app, &meta, units)
        .unwrap_or_else(|e| panic!("deploy puppet {app}: {e}"));
}

/// What a ca-client unit holds.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct ClientRecord {
    /// The trust bundle: the union over relations of the last `certificate_set_updated` set,
    /// sorted, without duplicates.
    pub bundle: Vec<String>,
    /// `certificate_set_updated` events handled.
    pub updates: usize,
    /// `certificates_removed` events handled.
    pub removals: usize,
    /// Relation id -> its last set (sorted); a relation leaves with `certificates_removed`.
    pub relations: BTreeMap<u32, Vec<String>>,
}

/// The ca-client unit's record as its `get-bundle` action reports it, with `current`: the
/// certificates the library reads from the databags now (`get_all_certificates()`, sorted).
pub fn client_report(model: &mut Model, unit: &str) -> (ClientRecord, Vec<String>) {
    let r = model
        .run_action(unit, "get-bundle", Map::new())
        .unwrap_or_else(|e| panic!("get-bundle on {unit}: {e}"));
    assert_eq!(r.status, "completed", "get-bundle on {unit}: {r:?}");
    let text = |k: &str| -> &str {
        r.results[k]
            .as_str()
            .unwrap_or_else(|| panic!("get-bundle on {unit}: no {k}: {:?}", r.results))
    };
    let parse = |k: &str| -> Value {
        serde_json::from_str(text(k)).unwrap_or_else(|e| panic!("get-bundle {k}: {e}"))
    };
    let record = ClientRecord {
        bundle: serde_json::from_value(parse("bundle")).unwrap(),
        updates: text("updates").parse().unwrap(),
        removals: text("removals").parse().unwrap(),
        relations: serde_json::from_value(parse("relations")).unwrap(),
    };
    (record, serde_json::from_value(parse("current")).unwrap())
}

/// The bundle the ca-client `unit` last received (sorted PEMs), by its `get-bundle` action.
pub fn client_bundle(model: &mut Model, unit: &str) -> Vec<String> {
    client_report(model, unit).0.bundle
}

/// How many `certificate_set_updated` events the ca-client `unit` handled, by `get-bundle`.
pub fn client_updates(model: &mut Model, unit: &str) -> usize {
    client_report(model, unit).0.updates
}

/// The ca-client unit's record read from `bundle.json` in its charm dir, without running an
/// action: usable with `&Model`, e.g. in a `settle_observing` closure. The charm rewrites the
/// file whenever the record changes (during the hook, before ops commits StoredState); before
/// its first event the file is absent and the record empty.
pub fn client_record(model: &Model, unit: &str) -> ClientRecord {
    let path = model.charm_dir(unit).join(CLIENT_RECORD_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{}: {e}: {text}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => ClientRecord::default(),
        Err(e) => panic!("{}: {e}", path.display()),
    }
}

/// Whether the ca-client `unit`, trusting exactly the bundle it holds now (`bundle.json`, see
/// [`client_record`]), completes a TLS handshake with a server presenting `server_cert_pem`
/// (key `server_key_pem`, issuers `chain_pems`) for `hostname`
/// ([`super::handshake::handshake`]). Takes `&Model`: usable in a `settle_observing` closure.
pub fn client_accepts(
    model: &Model,
    unit: &str,
    server_cert_pem: &str,
    server_key_pem: &str,
    chain_pems: &[String],
    hostname: &str,
) -> Result<(), String> {
    let bundle = client_record(model, unit).bundle;
    super::handshake::handshake(
        server_cert_pem,
        server_key_pem,
        chain_pems,
        &bundle,
        hostname,
    )
    .map_err(|e| format!("{unit} (trusting {} certificate(s)): {e}", bundle.len()))
}

// ---------------------------------------------------------------------------------------------
// The library's own reading and writing of databags

/// A v0 provider unit databag as the library's `ProviderUnitDataV0.load` parses it.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct V0Data {
    pub ca: String,
    pub certificate: String,
    pub chain: Option<Vec<String>>,
    pub version: i64,
}

/// A v1 provider application databag as the library's `ProviderApplicationData.load` parses
/// it (`certificates` is a set there: sorted, without duplicates here).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct V1Data {
    pub certificates: Vec<String>,
    pub version: i64,
}

/// Runs `tests/charms/tools/parse_transfer.py <mode>` with `input` on stdin. `Err` with its
/// stderr when the library rejects the input (exit 1); panics on anything else.
fn transfer_tool(mode: &str, input: &Value) -> Result<Value, String> {
    let python = super::repo_root().join(".venv/bin/python3");
    assert!(
        python.is_file(),
        "{} is missing: run `make test-charms` (scripts/setup-venv.sh) first",
        python.display()
    );
    let script = super::repo_root().join("tests/charms/tools/parse_transfer.py");
    let mut child = Command::new(python)
        .arg(script)
        .arg(mode)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run .venv/bin/python3 parse_transfer.py");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).trim().to_string();
    match out.status.code() {
        Some(0) => Ok(serde_json::from_slice(&out.stdout).expect("parse_transfer.py prints JSON")),
        Some(1) => Err(stderr),
        _ => panic!("parse_transfer.py {mode}: {}: {stderr}", out.status),
    }
}

/// Validates a provider **unit** databag as a v0 requirer reads it (`ProviderUnitDataV0.load`:
/// `ca` and `certificate` JSON strings, required; `chain` a JSON list of strings or absent;
/// `version` a JSON integer, default 0; other keys ignored). `Err` is the library's error.
pub fn parse_v0(bag: &Databag) -> Result<V0Data, String> {
    transfer_tool("v0", &json!(bag)).map(|v| serde_json::from_value(v).unwrap())
}

/// Validates a provider **application** databag as the library reads it
/// (`ProviderApplicationData.load`: `certificates` a JSON list of strings, `version` a JSON
/// integer, both optional, defaults `[]` and 1). `Err` is the library's error.
pub fn parse_v1(bag: &Databag) -> Result<V1Data, String> {
    transfer_tool("v1", &json!(bag)).map(|v| serde_json::from_value(v).unwrap())
}

fn to_bag(v: Value) -> Databag {
    serde_json::from_value(v).expect("a databag")
}

/// The unit databag the library's provider writes for a v0 requirer publishing `pems`, byte for
/// byte; `None` for an empty set (it then leaves the unit databag unchanged).
pub fn library_dump_v0(pems: &[String]) -> Option<Databag> {
    let v = transfer_tool("dump-v0", &json!(pems)).expect("dump-v0");
    (!v.is_null()).then(|| to_bag(v))
}

/// The application databag the library's provider writes publishing `pems`, byte for byte.
pub fn library_dump_v1(pems: &[String]) -> Databag {
    to_bag(transfer_tool("dump-v1", &json!(pems)).expect("dump-v1"))
}

/// The certificates (sorted) the requirer library reads from a relation whose provider
/// application databag is `app` and whose provider units are `units` (in the order the library
/// would meet them: it takes the first for the v0 fallback).
pub fn requirer_view(app: &Databag, units: &[(String, Databag)]) -> Vec<String> {
    let units: Vec<Value> = units.iter().map(|(n, b)| json!([n, b])).collect();
    let v = transfer_tool("requirer", &json!({"app": app, "units": units})).expect("requirer");
    serde_json::from_value(v).unwrap()
}
