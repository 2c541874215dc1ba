//! The charm's `dispatch` binary. Juju runs it with no arguments, cwd = the charm dir and
//! `JUJU_DISPATCH_PATH=hooks/<name>` or `actions/<name>` (see `docs/design.md`).
//!
//! Exit codes: 0 success; 1 a failed hook (Juju retries it), a failed action, a panic, or an
//! environment that is not a Juju hook context (run by hand: a message on stderr explains).

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::Arc;

use juju_hook::log::level_from_env;
use juju_hook::process::ProcessTools;
use juju_hook::HookContext;
use tls_provider::charm::dispatch;

/// Set to `1` to forward DEBUG log lines to `juju-log` (each line costs a hook-tool call).
const DEBUG_ENV: &str = "TLS_PROVIDER_DEBUG";

fn main() -> ExitCode {
    // Lossy/skipping conversions: std::env::args()/vars() would panic on non-UTF-8 text.
    let args: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    if let Some(flag) = args.get(1) {
        return flag_main(flag);
    }

    let mut vars: BTreeMap<String, String> = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect();
    // Before dispatch existed (Juju < 2.8) a hook ran as `hooks/<name>`; like ops and charmcraft's
    // dispatch script, fall back to argv[0] when JUJU_DISPATCH_PATH is absent.
    let has_dispatch_path = matches!(vars.get("JUJU_DISPATCH_PATH"), Some(p) if !p.is_empty());
    if !has_dispatch_path {
        if let Some(argv0) = args.first() {
            if juju_hook::context::parse_dispatch(argv0).is_ok() {
                vars.insert("JUJU_DISPATCH_PATH".into(), argv0.clone());
            }
        }
    }
    let ctx = match HookContext::from_vars(&vars) {
        Ok(ctx) => ctx,
        Err(e) => {
            eprintln!(
                "tls-provider: {e}\n\
                 This program is the dispatch binary of the tls-provider Juju charm: the Juju unit \
                 agent runs it with JUJU_DISPATCH_PATH=hooks/<hook> or actions/<action> and the hook \
                 tools on PATH. Deploy it with `juju deploy ./dist/tls-provider.charm`, or run it \
                 locally with `make demo`."
            );
            return ExitCode::from(1);
        }
    };

    let tools = Arc::new(ProcessTools::new());
    juju_hook::log::install(tools.clone(), level_from_env(DEBUG_ENV));
    // A panic: one `juju-log --log-level ERROR` line (private keys redacted), then exit 1
    // (tested in crates/juju-hook/tests/panic_hook.rs).
    let code = juju_hook::log::run_catching_panics(
        tools.clone(),
        "tls-provider",
        ctx.name().to_string(),
        || dispatch::run(&ctx, &*tools),
    );
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

fn flag_main(flag: &str) -> ExitCode {
    match flag {
        "--version" | "-V" => {
            println!("tls-provider {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        "--help" | "-h" => {
            println!(
                "tls-provider {}: a Juju charm that issues TLS certificates.\n\
                 Juju runs this binary as the charm's `dispatch` with JUJU_DISPATCH_PATH set; it takes \
                 no arguments. See README.md.",
                env!("CARGO_PKG_VERSION")
            );
            ExitCode::SUCCESS
        }
        other => {
            eprintln!("tls-provider: unexpected argument {other:?} (try --help)");
            ExitCode::from(2)
        }
    }
}
