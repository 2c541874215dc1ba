//! Runs the built binary as the Juju unit agent would: cwd = the unpacked charm dir, argv[0] = the
//! absolute path of `dispatch`, no arguments, stdin /dev/null, a cleared environment holding only
//! what Juju exports (`docs/juju-hook-contract.md` §2), and recording fake hook tools first on PATH.
//!
//! The fakes model a non-leader unit with no CA yet; they record argv and stdin of every call and
//! print canned JSON. These tests check what dispatch guarantees (exit codes, `action-fail`, no tool
//! calls for unknown hooks), not what reconcile or the actions do.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Every hook tool the charm may call.
const TOOLS: &[&str] = &[
    "relation-ids",
    "relation-list",
    "relation-get",
    "relation-set",
    "is-leader",
    "config-get",
    "action-get",
    "action-set",
    "action-fail",
    "action-log",
    "status-set",
    "status-get",
    "application-version-set",
    "juju-log",
    "secret-add",
    "secret-get",
    "secret-set",
    "secret-info-get",
    "secret-remove",
    "secret-ids",
    "secret-grant",
    "secret-revoke",
    "leader-get",
    "leader-set",
    "open-port",
    "close-port",
    "opened-ports",
    "network-get",
    "unit-get",
];

/// One recorded tool call.
#[derive(Debug, Clone)]
struct Call {
    tool: String,
    args: Vec<String>,
    stdin: Vec<u8>,
}

/// A directory of fake tools plus their log.
struct FakeTools {
    _tmp: tempfile::TempDir,
    bin: PathBuf,
    calls: PathBuf,
    responses: PathBuf,
}

impl FakeTools {
    fn new() -> FakeTools {
        let tmp = tempfile::tempdir().unwrap();
        let bin = tmp.path().join("bin");
        let calls = tmp.path().join("calls");
        let responses = tmp.path().join("responses");
        for d in [&bin, &calls, &responses] {
            fs::create_dir_all(d).unwrap();
        }
        for tool in TOOLS {
            let script = format!(
                r#"#!/bin/sh
# Fake Juju hook tool {tool}: records argv (NUL-separated) and stdin, answers from responses/.
calls='{calls}'
resp='{responses}'
n=$(cat "$calls/count" 2>/dev/null || echo 0)
n=$((n + 1))
echo "$n" > "$calls/count"
f="$calls/$(printf '%06d' "$n")"
printf '%s\0' '{tool}' "$@" > "$f.argv"
cat > "$f.stdin"
if [ -f "$resp/{tool}.stderr" ]; then cat "$resp/{tool}.stderr" >&2; fi
if [ -f "$resp/{tool}" ]; then cat "$resp/{tool}"; fi
if [ -f "$resp/{tool}.code" ]; then exit "$(cat "$resp/{tool}.code")"; fi
exit 0
"#,
                calls = calls.display(),
                responses = responses.display(),
            );
            let path = bin.join(tool);
            fs::write(&path, script).unwrap();
            fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
        }
        let t = FakeTools {
            _tmp: tmp,
            bin,
            calls,
            responses,
        };
        // A non-leader unit with default config, no relations and no secrets.
        t.respond("is-leader", "false\n");
        t.respond("config-get", &format!("{}\n", default_config_json()));
        t.respond("relation-ids", "[]\n");
        t.respond("relation-list", "[]\n");
        t.respond("relation-get", "{}\n");
        t.respond("action-get", "{}\n");
        t.respond("secret-ids", "null\n");
        t.fail("secret-get", 1, "ERROR secret \"x\" not found\n");
        t.fail("secret-info-get", 1, "ERROR secret \"x\" not found\n");
        t.respond("status-get", "{\"status\":\"unknown\"}\n");
        t
    }

    fn respond(&self, tool: &str, stdout: &str) {
        fs::write(self.responses.join(tool), stdout).unwrap();
    }

    fn fail(&self, tool: &str, code: i32, stderr: &str) {
        fs::write(
            self.responses.join(format!("{tool}.code")),
            code.to_string(),
        )
        .unwrap();
        fs::write(self.responses.join(format!("{tool}.stderr")), stderr).unwrap();
    }

    fn calls(&self) -> Vec<Call> {
        let mut names: Vec<PathBuf> = fs::read_dir(&self.calls)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "argv"))
            .collect();
        names.sort();
        names
            .into_iter()
            .map(|p| {
                let raw = fs::read(&p).unwrap();
                let mut parts: Vec<String> = raw
                    .split(|b| *b == 0)
                    .map(|s| String::from_utf8_lossy(s).into_owned())
                    .collect();
                parts.pop(); // after the last NUL
                let tool = parts.remove(0);
                let stdin = fs::read(p.with_extension("stdin")).unwrap_or_default();
                Call {
                    tool,
                    args: parts,
                    stdin,
                }
            })
            .collect()
    }

    fn calls_to(&self, tool: &str) -> Vec<Call> {
        self.calls()
            .into_iter()
            .filter(|c| c.tool == tool)
            .collect()
    }
}

/// config.yaml's defaults as `config-get --format=json` prints them (unset options omitted).
fn default_config_json() -> String {
    let text = fs::read_to_string(common::repo_root().join("config.yaml")).unwrap();
    let doc: serde_json::Value = serde_norway::from_str(&text).unwrap();
    let mut out = serde_json::Map::new();
    for (name, opt) in doc["options"].as_object().unwrap() {
        if let Some(default) = opt.get("default") {
            out.insert(name.clone(), default.clone());
        }
    }
    serde_json::Value::Object(out).to_string()
}

/// What a run produced.
struct Run {
    code: i32,
    stderr: String,
}

/// The environment Juju exports for a hook or action of unit `tls-provider/0`.
fn juju_env(charm: &Path, tools: &FakeTools, dispatch: &str) -> BTreeMap<String, String> {
    let charm = charm.display().to_string();
    let mut env = BTreeMap::new();
    let hook_name = dispatch.strip_prefix("hooks/").unwrap_or("");
    for (k, v) in [
        ("CHARM_DIR", charm.as_str()),
        ("JUJU_CHARM_DIR", charm.as_str()),
        (
            "JUJU_CONTEXT_ID",
            "tls-provider/0-run-0123456789abcdef0123456789abcdef",
        ),
        ("JUJU_HOOK_NAME", hook_name),
        (
            "JUJU_AGENT_SOCKET_ADDRESS",
            "@/var/lib/juju/agents/unit-tls-provider-0/agent.socket",
        ),
        ("JUJU_AGENT_SOCKET_NETWORK", "unix"),
        ("JUJU_UNIT_NAME", "tls-provider/0"),
        ("JUJU_MODEL_UUID", "b7a2ab47-8bbb-4b25-8c9d-7e4c3a1d2f00"),
        ("JUJU_MODEL_NAME", "test"),
        ("JUJU_API_ADDRESSES", "10.0.0.1:17070"),
        ("JUJU_SLA", "unsupported"),
        ("JUJU_MACHINE_ID", "0"),
        ("JUJU_PRINCIPAL_UNIT", ""),
        ("JUJU_AVAILABILITY_ZONE", ""),
        ("JUJU_VERSION", "3.6.8"),
        ("CLOUD_API_VERSION", ""),
        ("JUJU_CHARM_HTTP_PROXY", ""),
        ("JUJU_CHARM_HTTPS_PROXY", ""),
        ("JUJU_CHARM_FTP_PROXY", ""),
        ("JUJU_CHARM_NO_PROXY", "127.0.0.1,localhost,::1"),
        ("APT_LISTCHANGES_FRONTEND", "none"),
        ("DEBIAN_FRONTEND", "noninteractive"),
        ("LANG", "C.UTF-8"),
        ("TERM", "tmux-256color"),
        ("JUJU_DISPATCH_PATH", dispatch),
    ] {
        env.insert(k.to_string(), v.to_string());
    }
    env.insert(
        "PATH".into(),
        format!("{}:/usr/sbin:/usr/bin:/sbin:/bin", tools.bin.display()),
    );
    env
}

fn relation_env(env: &mut BTreeMap<String, String>, rel: &str, remote_unit: &str) {
    env.insert("JUJU_RELATION".into(), "certificates".into());
    env.insert("JUJU_RELATION_ID".into(), rel.into());
    env.insert("JUJU_REMOTE_UNIT".into(), remote_unit.into());
    env.insert("JUJU_REMOTE_APP".into(), "req".into());
}

fn action_env(env: &mut BTreeMap<String, String>, name: &str) {
    env.insert("JUJU_ACTION_NAME".into(), name.into());
    env.insert("JUJU_ACTION_UUID".into(), "2".into());
    env.insert("JUJU_ACTION_TAG".into(), "action-2".into());
}

/// Runs `program` (absolute path) as Juju does: no arguments, cwd = charm dir, env exactly `env`.
fn run(charm: &Path, program: &Path, env: &BTreeMap<String, String>) -> Run {
    let out = Command::new(program)
        .current_dir(charm)
        .env_clear()
        .envs(env)
        .stdin(Stdio::null())
        .output()
        .expect("run dispatch");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let code = out
        .status
        .code()
        .unwrap_or_else(|| panic!("killed by a signal: {stderr}"));
    Run { code, stderr }
}

fn run_dispatch(env: &BTreeMap<String, String>) -> Run {
    let charm = common::provider_charm_dir();
    run(&charm, &charm.join("dispatch"), env)
}

#[test]
fn install_config_changed_update_status_exit_0() {
    let charm = common::provider_charm_dir();
    for hook in [
        "install",
        "config-changed",
        "update-status",
        "start",
        "leader-settings-changed",
    ] {
        let tools = FakeTools::new();
        let env = juju_env(&charm, &tools, &format!("hooks/{hook}"));
        let r = run_dispatch(&env);
        assert_eq!(r.code, 0, "{hook}: {}", r.stderr);
        assert!(tools.calls_to("action-fail").is_empty(), "{hook}");
    }
}

#[test]
fn relation_changed_with_endpoint_colon_id_exits_0() {
    let charm = common::provider_charm_dir();
    let tools = FakeTools::new();
    tools.respond("relation-ids", "[\"certificates:3\"]\n");
    tools.respond("relation-list", "[\"req/0\"]\n");
    tools.respond(
        "relation-get",
        "{\"egress-subnets\":\"10.0.0.9/32\",\"ingress-address\":\"10.0.0.9\",\"private-address\":\"10.0.0.9\"}\n",
    );
    let mut env = juju_env(&charm, &tools, "hooks/certificates-relation-changed");
    relation_env(&mut env, "certificates:3", "req/0");
    let r = run_dispatch(&env);
    assert_eq!(r.code, 0, "{}", r.stderr);
}

#[test]
fn relation_created_with_empty_remote_unit_exits_0() {
    let charm = common::provider_charm_dir();
    for hook in [
        "certificates-relation-created",
        "certificates-relation-broken",
    ] {
        let tools = FakeTools::new();
        let mut env = juju_env(&charm, &tools, &format!("hooks/{hook}"));
        relation_env(&mut env, "certificates:3", "");
        let r = run_dispatch(&env);
        assert_eq!(r.code, 0, "{hook}: {}", r.stderr);
    }
}

#[test]
fn unknown_hook_exits_0_without_any_tool_call() {
    let charm = common::provider_charm_dir();
    let tools = FakeTools::new();
    let env = juju_env(&charm, &tools, "hooks/workload-pebble-ready");
    let r = run_dispatch(&env);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let calls = tools.calls();
    assert!(calls.is_empty(), "{calls:?}");
}

#[test]
fn unknown_hook_logs_at_debug_when_asked() {
    let charm = common::provider_charm_dir();
    let tools = FakeTools::new();
    let mut env = juju_env(&charm, &tools, "hooks/collect-metrics");
    env.insert("TLS_PROVIDER_DEBUG".into(), "1".into());
    let r = run_dispatch(&env);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let logs = tools.calls_to("juju-log");
    assert_eq!(logs.len(), 1, "{logs:?}");
    assert_eq!(logs[0].args[..3], ["--log-level", "DEBUG", "--"]);
    assert!(logs[0].args[3].contains("collect-metrics"), "{logs:?}");
}

#[test]
fn known_action_exits_0() {
    let charm = common::provider_charm_dir();
    let tools = FakeTools::new();
    let mut env = juju_env(&charm, &tools, "actions/get-ca-certificate");
    action_env(&mut env, "get-ca-certificate");
    let r = run_dispatch(&env);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // Whatever the action decides, it never reports an unknown action.
    for call in tools.calls_to("action-fail") {
        assert!(!call.args.join(" ").contains("not implemented"), "{call:?}");
    }
}

#[test]
fn unknown_action_fails_the_action_and_exits_0() {
    let charm = common::provider_charm_dir();
    let tools = FakeTools::new();
    let mut env = juju_env(&charm, &tools, "actions/make-coffee");
    action_env(&mut env, "make-coffee");
    let r = run_dispatch(&env);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let fails = tools.calls_to("action-fail");
    assert_eq!(fails.len(), 1, "{:?}", tools.calls());
    assert_eq!(fails[0].args.len(), 2, "{:?}", fails[0]);
    assert_eq!(fails[0].args[0], "--");
    let msg = &fails[0].args[1];
    assert!(msg.contains("\"make-coffee\" is not implemented"), "{msg}");
    assert!(
        msg.contains("get-ca-certificate") && msg.contains("provide-certificate"),
        "{msg}"
    );
    assert!(fails[0].stdin.is_empty());
}

#[test]
fn action_exits_1_when_action_fail_itself_fails() {
    let charm = common::provider_charm_dir();
    let tools = FakeTools::new();
    tools.fail("action-fail", 1, "ERROR not running an action\n");
    let mut env = juju_env(&charm, &tools, "actions/make-coffee");
    action_env(&mut env, "make-coffee");
    let r = run_dispatch(&env);
    assert_eq!(r.code, 1, "{}", r.stderr);
}

#[test]
fn hook_script_runs_dispatch_for_old_juju() {
    // Juju < 2.8 runs hooks/<name> without JUJU_DISPATCH_PATH; the script sets it.
    let charm = common::provider_charm_dir();
    let tools = FakeTools::new();
    let mut env = juju_env(&charm, &tools, "");
    env.remove("JUJU_DISPATCH_PATH");
    env.insert("TLS_PROVIDER_DEBUG".into(), "1".into());
    let r = run(&charm, &charm.join("hooks/install"), &env);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // It reached the binary as `install` (a handled hook), not as an unknown one.
    assert!(tools
        .calls_to("juju-log")
        .iter()
        .all(|c| !c.args.join(" ").contains("not handled")));
}

#[test]
fn outside_a_hook_exits_1_with_a_clear_message() {
    let charm = common::provider_charm_dir();
    let out = Command::new(charm.join("dispatch"))
        .current_dir(&charm)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("JUJU_DISPATCH_PATH is not set"), "{stderr}");
    assert!(stderr.contains("juju deploy"), "{stderr}");
}

#[test]
fn bad_relation_id_in_environment_exits_1() {
    let charm = common::provider_charm_dir();
    let tools = FakeTools::new();
    let mut env = juju_env(&charm, &tools, "hooks/certificates-relation-changed");
    relation_env(&mut env, "certificates:three", "req/0");
    let r = run_dispatch(&env);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("JUJU_RELATION_ID"), "{}", r.stderr);
}

#[test]
fn version_flag() {
    let out = Command::new(common::provider_binary())
        .arg("--version")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("tls-provider "));
}

/// `TLS_PROVIDER_SCOPE=0` (the benchmark's switch, see docs/design.md) turns scoping off: a
/// non-leader's second `update-status` runs the standby pass again instead of calling
/// `is-leader` only.
#[test]
fn tls_provider_scope_0_turns_scoping_off() {
    let charm = common::provider_charm_dir();
    // A charm dir of its own for the local caches; the shared binary runs in it.
    let dir = tempfile::tempdir().unwrap();
    let tools = FakeTools::new();
    let mut env = juju_env(dir.path(), &tools, "hooks/update-status");
    let new_calls = |env: &BTreeMap<String, String>| {
        let before = tools.calls().len();
        let r = run(dir.path(), &charm.join("dispatch"), env);
        assert_eq!(r.code, 0, "{}", r.stderr);
        tools.calls()[before..]
            .iter()
            .map(|c| c.tool.clone())
            .collect::<Vec<_>>()
    };
    let first = new_calls(&env);
    assert!(first.contains(&"relation-ids".to_string()), "{first:?}");
    assert_eq!(new_calls(&env), ["is-leader"], "scoping on: idle");
    env.insert("TLS_PROVIDER_SCOPE".into(), "0".into());
    let off = new_calls(&env);
    assert!(
        off.len() > 1 && off.contains(&"relation-ids".to_string()),
        "{off:?}"
    );
}
