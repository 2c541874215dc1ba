//! Shared helpers for the jujusim tests: shell-script charms and one-off tool calls inside a hook.
#![allow(dead_code)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use jujusim::Model;

pub const DISPATCH: &str = "#!/bin/sh\n# Runs ./hook.sh if a test put one there; else does nothing. (Through sh, not exec of the\n# file: a file just written by a multi-threaded test process can be ETXTBSY for a moment.)\nif [ -f ./hook.sh ]; then exec /bin/sh ./hook.sh; fi\nexit 0\n";

pub fn write_exec(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// A shell charm in `dir/name` with the given metadata/config/actions and a `dispatch` that runs
/// `./hook.sh` when present.
pub fn shell_charm(dir: &Path, name: &str, metadata: &str, config: &str, actions: &str) -> PathBuf {
    let c = dir.join(name);
    std::fs::create_dir_all(&c).unwrap();
    std::fs::write(c.join("metadata.yaml"), metadata).unwrap();
    if !config.is_empty() {
        std::fs::write(c.join("config.yaml"), config).unwrap();
    }
    if !actions.is_empty() {
        std::fs::write(c.join("actions.yaml"), actions).unwrap();
    }
    write_exec(&c.join("dispatch"), DISPATCH);
    c
}

pub const PROV_META: &str = "name: prov\nprovides:\n  certs:\n    interface: tls-certificates\npeers:\n  cluster:\n    interface: prov-peers\n";
pub const REQ_META: &str = "name: req\nrequires:\n  certs:\n    interface: tls-certificates\n";
pub const CONFIG: &str = "options:\n  name:\n    type: string\n    default: hello\n  count:\n    type: int\n    default: 3\n  ratio:\n    type: float\n  enabled:\n    type: boolean\n    default: true\n";
pub const ACTIONS: &str = "do-thing:\n  description: does\n  params:\n    size:\n      type: integer\n      default: 2048\n    name:\n      type: string\n  required: []\nfail-me:\n  description: fails\nmissing:\n  description: has no handler\n";

pub fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// Put `script` (sh) in the unit's charm dir as `hook.sh`, queue `hook`, settle (errors allowed).
/// The script runs only in `hook`: other hooks the settle runs on this unit (e.g. a `secret-remove`
/// caused by the script's own `secret-set`) do nothing.
pub fn run_script(m: &mut Model, unit: &str, hook: &str, script: &str) -> i32 {
    let dir = m.charm_dir(unit);
    write_exec(
        &dir.join("hook.sh"),
        &format!(
            "#!/bin/sh\nif [ \"$JUJU_HOOK_NAME\" != {} ]; then exit 0; fi\n{script}\n",
            quote(hook)
        ),
    );
    m.queue_hook(unit, hook);
    let r = m.settle_allow_errors().unwrap();
    std::fs::remove_file(dir.join("hook.sh")).unwrap();
    r.runs.last().map(|r| r.exit_code).unwrap_or(-99)
}

/// The output of one tool call.
#[derive(Debug)]
pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Several tool calls in one hook (`hook`, e.g. "update-status"). Each argv is run in order; stdin
/// given per call. Returns each call's outputs and the hook's exit code is 0 unless `exit` says so.
pub fn calls_in_hook(
    m: &mut Model,
    unit: &str,
    hook: &str,
    calls: &[(&[&str], Option<&str>)],
    exit: i32,
) -> Vec<Out> {
    let owned: Vec<(Vec<String>, Option<&str>)> = calls.iter().map(|(a, s)| (v(a), *s)).collect();
    calls_in_hook_owned(m, unit, hook, &owned, exit)
}

/// `calls_in_hook` with owned argv.
pub fn calls_in_hook_owned(
    m: &mut Model,
    unit: &str,
    hook: &str,
    calls: &[(Vec<String>, Option<&str>)],
    exit: i32,
) -> Vec<Out> {
    let dir = m.charm_dir(unit);
    let mut script = String::from("cd \"$CHARM_DIR\"\n");
    for (i, (argv, stdin)) in calls.iter().enumerate() {
        let cmd: Vec<String> = argv.iter().map(|a| quote(a)).collect();
        let cmd = cmd.join(" ");
        match stdin {
            Some(s) => {
                std::fs::write(dir.join(format!("in.{i}")), s).unwrap();
                script.push_str(&format!(
                    "{cmd} <in.{i} >out.{i} 2>err.{i}; echo $? >rc.{i}\n"
                ));
            }
            None => script.push_str(&format!("{cmd} >out.{i} 2>err.{i}; echo $? >rc.{i}\n")),
        }
    }
    script.push_str(&format!("exit {exit}\n"));
    run_script(m, unit, hook, &script);
    (0..calls.len())
        .map(|i| {
            let rd = |p: String| std::fs::read_to_string(dir.join(&p)).unwrap_or_default();
            let o = Out {
                code: rd(format!("rc.{i}")).trim().parse().unwrap_or(-99),
                stdout: rd(format!("out.{i}")),
                stderr: rd(format!("err.{i}")),
            };
            for f in ["rc", "out", "err", "in"] {
                let _ = std::fs::remove_file(dir.join(format!("{f}.{i}")));
            }
            o
        })
        .collect()
}

/// One tool call in an `update-status` hook.
pub fn call(m: &mut Model, unit: &str, argv: &[&str]) -> Out {
    calls_in_hook(m, unit, "update-status", &[(argv, None)], 0)
        .pop()
        .unwrap()
}

pub fn call_stdin(m: &mut Model, unit: &str, argv: &[&str], stdin: &str) -> Out {
    calls_in_hook(m, unit, "update-status", &[(argv, Some(stdin))], 0)
        .pop()
        .unwrap()
}

/// (unit, hook) of the runs since `from`, for order assertions.
pub fn runs_since(m: &Model, from: usize) -> Vec<String> {
    m.hook_runs()[from..]
        .iter()
        .map(|r| match &r.remote_unit {
            Some(ru) if !ru.is_empty() => format!("{} {} {}", r.unit, r.hook, ru),
            _ => format!("{} {}", r.unit, r.hook),
        })
        .collect()
}

pub fn runs_of(m: &Model, unit: &str, from: usize) -> Vec<String> {
    m.hook_runs()[from..]
        .iter()
        .filter(|r| r.unit == unit)
        .map(|r| match &r.remote_unit {
            Some(ru) if !ru.is_empty() => format!("{} {}", r.hook, ru),
            _ => r.hook.clone(),
        })
        .collect()
}

/// A model with `prov` (n units) and `req` (k units) deployed and settled.
pub fn two_apps(dir: &Path, n: usize, k: usize) -> Model {
    let prov = shell_charm(dir, "prov", PROV_META, CONFIG, ACTIONS);
    let req = shell_charm(dir, "req", REQ_META, "", "");
    let mut m = Model::new().unwrap();
    m.deploy("prov", &prov, n, Default::default()).unwrap();
    m.deploy("req", &req, k, Default::default()).unwrap();
    m.settle().unwrap();
    m
}

/// Owned argv from string slices.
pub fn v(args: &[&str]) -> Vec<String> {
    args.iter().map(|a| a.to_string()).collect()
}

/// The output of a tool call that must succeed with nothing on stderr.
pub fn ok(o: &Out) -> &str {
    assert_eq!(o.code, 0, "unexpected failure: {o:?}");
    assert_eq!(o.stderr, "", "{o:?}");
    &o.stdout
}

/// A tool call that must fail with exit `code` and exactly `stderr`.
pub fn err(o: &Out, code: i32, stderr: &str) {
    assert_eq!(
        (o.code, o.stderr.as_str(), o.stdout.as_str()),
        (code, stderr, ""),
        "{o:?}"
    );
}

/// The JSON output of a tool call that must succeed.
pub fn js(o: &Out) -> serde_json::Value {
    serde_json::from_str(ok(o)).unwrap_or_else(|e| panic!("{e}: {o:?}"))
}

/// A script put in every unit of `app` (as ./hook.sh, run by dispatch for every hook), run from
/// the charm dir.
pub fn install_script(m: &Model, app: &str, script: &str) {
    for u in m.units(app) {
        write_exec(
            &m.charm_dir(&u).join("hook.sh"),
            &format!("#!/bin/sh\ncd \"$CHARM_DIR\"\n{script}\n"),
        );
    }
}
