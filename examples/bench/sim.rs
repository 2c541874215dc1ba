//! Shared by the benchmarks that run the real release binary under the simulator.
#![allow(dead_code)] // each benchmark uses part of it

use std::path::{Path, PathBuf};
use std::process::Command;

use jujusim::HookRun;

/// `target/<profile>/`: the example runs from `target/<profile>/examples/`.
pub fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    exe.parent()
        .and_then(Path::parent)
        .expect("target/<profile>/examples/<exe>")
        .to_path_buf()
}

/// The charm dir as `make charm` packs it, with the release binary as `dispatch`.
pub fn pack_charm(binary: &Path, dir: &Path) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new("python3")
        .arg(root.join("scripts/pack-charm.py"))
        .arg("--binary")
        .arg(binary)
        .arg("--unpacked")
        .arg(dir)
        .output()
        .expect("run python3 scripts/pack-charm.py");
    assert!(
        out.status.success(),
        "pack-charm.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

pub fn count(run: &HookRun, tool: &str) -> usize {
    run.tool_calls.iter().filter(|c| c.tool == tool).count()
}
