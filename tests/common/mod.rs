//! Shared helpers for the Rust integration tests (`mod common;` in each test file).
//!
//! - [`provider_charm_dir`]: this charm, unpacked as Juju would unpack `dist/tls-provider.charm`,
//!   with the test build of the binary as `dispatch`. Assembled once per test process by
//!   `scripts/pack-charm.py --unpacked`, so it holds exactly the files `make charm` packs.
//! - [`requirer_charm_dir`], [`legacy_requirer_charm_dir`], [`test_provider_charm_dir`]: the Python
//!   test charms built by `make test-charms` into `build/charms/<name>`; [`ca_client_charm_dir`]
//!   likewise (certificate_transfer requirer).
#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The repository root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The test build of the charm binary.
pub fn provider_binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_tls-provider"))
}

/// Runs `scripts/pack-charm.py` with the test build of the binary. `args` select the output,
/// e.g. `["--output", "x.charm"]` or `["--unpacked", "dir"]`.
pub fn run_packer(args: &[&str]) {
    let out = Command::new("python3")
        .arg(repo_root().join("scripts/pack-charm.py"))
        .arg("--binary")
        .arg(provider_binary())
        .args(args)
        .output()
        .expect("run python3 scripts/pack-charm.py");
    assert!(
        out.status.success(),
        "pack-charm.py failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `<cargo target tmp>/<kind>/<pid>`, new and empty. Directories left there by test processes
/// that are no longer running are removed, so repeated runs do not fill the disk.
pub fn process_dir(kind: &str) -> PathBuf {
    let parent = Path::new(env!("CARGO_TARGET_TMPDIR")).join(kind);
    fs::create_dir_all(&parent).expect("create test tmp dir");
    for entry in fs::read_dir(&parent).expect("read test tmp dir").flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let alive = name
            .parse::<u32>()
            .is_ok_and(|pid| Path::new(&format!("/proc/{pid}")).exists());
        if !alive {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
    let dir = parent.join(std::process::id().to_string());
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).expect("create test process dir");
    dir
}

/// The tls-provider charm dir (metadata.yaml, config.yaml, actions.yaml, manifest.yaml, hooks/,
/// README.md, LICENSE, and the binary as `dispatch`), built once per test process under the cargo
/// target's tmp dir. Treat it as read-only: copy it to change it.
pub fn provider_charm_dir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        // Named like the charm, in case a caller derives anything from the directory name.
        let dir = process_dir("charms").join("tls-provider");
        run_packer(&["--unpacked", dir.to_str().expect("utf-8 path")]);
        dir
    })
    .clone()
}

fn built_test_charm(name: &str) -> PathBuf {
    let dir = repo_root().join("build/charms").join(name);
    assert!(
        dir.join("metadata.yaml").is_file() && dir.join("dispatch").is_file(),
        "test charm {name} is not built at {}: run `make test-charms` first",
        dir.display()
    );
    dir
}

/// `dir` (a Python test charm), once the repository's `.venv`, which its dispatch runs with, is
/// there too; fails (never skips) with the build instruction when it is missing.
pub fn with_venv(dir: PathBuf) -> PathBuf {
    let venv = repo_root().join(".venv/bin/python3");
    assert!(
        venv.is_file(),
        "{} is missing: run `make test-charms` (scripts/setup-venv.sh) first",
        venv.display()
    );
    dir
}

/// The modern Python requirer (ops + charmlibs TLSCertificatesRequiresV4).
pub fn requirer_charm_dir() -> PathBuf {
    built_test_charm("tls-requirer")
}

/// The legacy reactive-dialect Python requirer.
pub fn legacy_requirer_charm_dir() -> PathBuf {
    built_test_charm("legacy-requirer")
}

/// Deploys the legacy requirer as `app` with `units` units and `config` (a JSON object).
pub fn deploy_legacy(
    model: &mut jujusim::Model,
    app: &str,
    units: usize,
    config: serde_json::Value,
) {
    let config = config.as_object().cloned().unwrap_or_default();
    model
        .deploy(app, &legacy_requirer_charm_dir(), units, config)
        .expect("deploy legacy requirer");
}

/// The minimal Python provider (charmlibs TLSCertificatesProvidesV4), for comparing behaviour.
pub fn test_provider_charm_dir() -> PathBuf {
    built_test_charm("test-provider")
}

/// The certificate_transfer requirer (CertificateTransferRequires), as a CA bundle client.
pub fn ca_client_charm_dir() -> PathBuf {
    built_test_charm("ca-client")
}

/// CAs made with this crate.
pub mod ca;

/// The `openssl` command line: verify, key/certificate match, new keys with CSRs.
pub mod pki;

/// A CA outside Juju made with the `openssl` command line (manual mode).
pub mod outside_ca;

/// Action results split into parts.
pub mod actions;

/// The modern provider databag of the unit tests.
pub mod modern;

/// Helpers of the simulator interop tests (`tests/interop_modern/`, `tests/tls_handshake.rs`).
pub mod interop;

/// The certificate_transfer interface (`send-ca-cert`): the ca-client test charm and the
/// library's own parse and dump of databags.
pub mod transfer;

/// An in-process TLS handshake against a given trust bundle.
pub mod handshake;

/// The state-in/state-out harness of the charm's unit tests.
pub mod world;

/// The intermediate CA tests: an upstream provider on `upstream-ca` and chain checks.
pub mod upstream;
