//! Replays the fuzz corpus (`fuzz/corpus/<target>/*`) through the fuzz targets without AFL, so a
//! crash once found and saved there fails `cargo test` for good. The targets live in
//! `fuzz/src/targets.rs` (shared with the AFL binaries of the `fuzz/` package); `make fuzz`
//! runs the coverage-guided sessions.

#[path = "../fuzz/src/targets.rs"]
mod targets;

use std::path::Path;

fn replay(name: &str) {
    let (_, target) = targets::TARGETS
        .iter()
        .find(|(n, _)| *n == name)
        .expect("known target");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(name);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{} has no seeds", dir.display());
    for path in files {
        let data = std::fs::read(&path).expect("read seed");
        let outcome = std::panic::catch_unwind(|| target(&data));
        assert!(outcome.is_ok(), "{name}: {} panics", path.display());
    }
}

#[test]
fn every_target_has_a_replay() {
    let names: Vec<&str> = targets::TARGETS.iter().map(|(n, _)| *n).collect();
    assert_eq!(
        names,
        [
            "modern_requirer",
            "provider_app_data",
            "legacy_relation",
            "csr",
            "csr_fast_differential",
            "certs",
            "action_params",
            "config",
            "upstream_answer"
        ]
    );
}

#[test]
fn modern_requirer() {
    replay("modern_requirer");
}

#[test]
fn provider_app_data() {
    replay("provider_app_data");
}

#[test]
fn legacy_relation() {
    replay("legacy_relation");
}

#[test]
fn csr() {
    replay("csr");
}

#[test]
fn csr_fast_differential() {
    replay("csr_fast_differential");
}

#[test]
fn certs() {
    replay("certs");
}

#[test]
fn action_params() {
    replay("action_params");
}

#[test]
fn config() {
    replay("config");
}

#[test]
fn upstream_answer() {
    replay("upstream_answer");
}
