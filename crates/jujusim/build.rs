//! Builds the simulated-clock shim (`shim/simclock.c`) into `$OUT_DIR/libjujusim_simclock.so`,
//! which `src/simclock.rs` embeds: hook processes of a model with `set_hook_clock(true)` run
//! with it in `LD_PRELOAD`. Needs a C compiler (`$CC` or `cc`), as the `cc` crate finds it.

use std::path::PathBuf;

fn main() {
    let src = "shim/simclock.c";
    println!("cargo:rerun-if-changed={src}");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR"));
    let so = out.join("libjujusim_simclock.so");
    let compiler = cc::Build::new()
        .cargo_metadata(false)
        .opt_level(2)
        .pic(true)
        .warnings(true)
        .try_get_compiler()
        .unwrap_or_else(|e| panic!("jujusim: no C compiler for {src}: {e}"));
    let mut cmd = compiler.to_command();
    cmd.arg("-shared").arg("-o").arg(&so).arg(src).arg("-ldl");
    let status = cmd
        .status()
        .unwrap_or_else(|e| panic!("jujusim: running {cmd:?}: {e}"));
    assert!(status.success(), "jujusim: {cmd:?} failed: {status}");
}
