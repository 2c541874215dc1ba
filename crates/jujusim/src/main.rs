//! `jujusim`: the simulator CLI, and the multi-call hook-tool client when invoked under a tool name.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use jujusim::{Model, TOOL_NAMES};
use serde_json::{Map, Value};

#[derive(Parser)]
#[command(name = "jujusim", about = "Local Juju model simulator")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run a scenario file (YAML list of steps).
    Run {
        scenario: PathBuf,
        /// Print every hook run as it happens.
        #[arg(long)]
        verbose: bool,
    },
    /// Run as a hook tool: `jujusim tool <name> [args...]`.
    Tool {
        name: String,
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

fn main() -> ExitCode {
    let mut args = std::env::args();
    let argv0 = args.next().unwrap_or_default();
    let base = Path::new(&argv0)
        .file_name()
        .and_then(|s| s.to_str())
        .unwrap_or_default()
        .to_string();
    if TOOL_NAMES.contains(&base.as_str()) {
        let code = jujusim::client::main(&base, args.collect());
        return ExitCode::from(code.clamp(0, 255) as u8);
    }
    let cli = Cli::parse();
    match cli.cmd {
        Cmd::Tool { name, args } => {
            let code = jujusim::client::main(&name, args);
            ExitCode::from(code.clamp(0, 255) as u8)
        }
        Cmd::Run { scenario, verbose } => match run_scenario(&scenario, verbose) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("jujusim: {e}");
                ExitCode::from(1)
            }
        },
    }
}

fn s(v: &Value, k: &str) -> Option<String> {
    v.get(k).and_then(|x| x.as_str()).map(String::from)
}

fn req(v: &Value, k: &str, step: &str) -> Result<String, String> {
    match v {
        Value::String(s) if k == "_" => Ok(s.clone()),
        _ => s(v, k).ok_or_else(|| format!("step {step}: missing {k:?}")),
    }
}

fn obj(v: Option<&Value>) -> Map<String, Value> {
    v.and_then(|x| x.as_object()).cloned().unwrap_or_default()
}

fn to_yaml(v: &Value) -> String {
    serde_norway::to_string(v).unwrap_or_default()
}

fn resolve_rel(m: &Model, v: &Value) -> Result<u32, String> {
    let spec = match v {
        Value::Number(n) => return n.as_u64().map(|n| n as u32).ok_or("bad relation id".into()),
        Value::String(s) => s.clone(),
        other => other.get("relation").map(return_str).unwrap_or_default(),
    };
    if let Ok(n) = spec.parse::<u32>() {
        return Ok(n);
    }
    m.find_relation(&spec)
        .ok_or_else(|| format!("no unique relation matches {spec:?}"))
}

fn return_str(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn settle(m: &mut Model, verbose: bool) -> Result<(), String> {
    let r = m.settle_allow_errors().map_err(|e| e.to_string())?;
    if verbose {
        for run in &r.runs {
            println!(
                "  ran {:<10} {:<40} exit={} tools={} {:?}",
                run.unit,
                run.hook,
                run.exit_code,
                run.tool_calls.len(),
                run.duration
            );
        }
    }
    println!("settled: {} hooks ran", r.runs.len());
    for (u, h) in &r.errors {
        println!("  ERROR: {u} hook failed: {h:?}");
    }
    Ok(())
}

/// `arg` itself when it is a string (`add-unit: app`), else its field `k` (`add-unit: {app: ..}`).
fn str_or_field(arg: &Value, k: &str, step: &str) -> Result<String, String> {
    if arg.is_string() {
        Ok(return_str(arg))
    } else {
        req(arg, k, step)
    }
}

/// The steps of a scenario file: a YAML list, or a map with `steps`.
fn load_steps(path: &Path) -> Result<Vec<Value>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let doc: Value =
        serde_norway::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    match &doc {
        Value::Array(a) => Ok(a.clone()),
        Value::Object(o) => Ok(o
            .get("steps")
            .and_then(|s| s.as_array())
            .cloned()
            .unwrap_or_default()),
        _ => Err("scenario must be a list of steps (or {steps: [...]})".into()),
    }
}

fn run_scenario(path: &Path, verbose: bool) -> Result<(), String> {
    let steps = load_steps(path)?;
    let base = path.parent().unwrap_or(Path::new(".")).to_path_buf();
    let mut m = Model::new().map_err(|e| e.to_string())?;
    for step in steps {
        let (name, arg) = match &step {
            Value::String(s) => (s.clone(), Value::Null),
            Value::Object(o) if o.len() == 1 => {
                let (k, v) = o.iter().next().expect("one");
                (k.clone(), v.clone())
            }
            other => return Err(format!("bad step {other}")),
        };
        println!(
            "\n== {name} {}",
            if arg.is_null() {
                String::new()
            } else {
                serde_json::to_string(&arg).unwrap_or_default()
            }
        );
        run_step(&mut m, &base, &name, &arg, verbose)?;
    }
    Ok(())
}

/// Run one scenario step `name: arg`; relative charm paths are relative to `base`.
fn run_step(
    m: &mut Model,
    base: &Path,
    name: &str,
    arg: &Value,
    verbose: bool,
) -> Result<(), String> {
    let e = |e: jujusim::SimError| e.to_string();
    match name {
        "deploy" => step_deploy(m, base, arg)?,
        "deploy-puppet" => {
            let app = req(arg, "app", name)?;
            let meta = req(arg, "metadata", name)?;
            let units = arg.get("units").and_then(|u| u.as_u64()).unwrap_or(1) as usize;
            m.deploy_puppet(&app, &meta, units).map_err(e)?;
        }
        "relate" => {
            let pair: Vec<String> = match arg {
                Value::Array(a) => a.iter().map(return_str).collect(),
                _ => return Err("relate takes [a, b]".into()),
            };
            if pair.len() != 2 {
                return Err("relate takes [a, b]".into());
            }
            let id = m.relate(&pair[0], &pair[1]).map_err(e)?;
            println!("relation {id}: {} <-> {}", pair[0], pair[1]);
        }
        "unrelate" => {
            let id = resolve_rel(m, arg)?;
            m.unrelate(id).map_err(e)?;
            println!("removing relation {id}");
        }
        "config" => {
            let app = req(arg, "app", name)?;
            m.set_config(&app, obj(arg.get("values"))).map_err(e)?;
        }
        "add-unit" => {
            let u = m.add_unit(&str_or_field(arg, "app", name)?).map_err(e)?;
            println!("added {u}");
        }
        "remove-unit" => m
            .remove_unit(&str_or_field(arg, "unit", name)?)
            .map_err(e)?,
        "leader" => m.set_leader(&str_or_field(arg, "unit", name)?).map_err(e)?,
        "juju-version" => m
            .set_juju_version(&str_or_field(arg, "version", name)?)
            .map_err(e)?,
        "leadership-mode" => {
            let mode = arg
                .as_u64()
                .map(|n| n.to_string())
                .or_else(|| arg.as_str().map(String::from))
                .unwrap_or_default();
            m.set_leadership_mode(match mode.as_str() {
                "3" => jujusim::LeadershipMode::Juju3,
                "4" => jujusim::LeadershipMode::Juju4,
                _ => return Err("leadership-mode takes 3 or 4".into()),
            });
        }
        "automatically-retry-hooks" => {
            m.set_automatically_retry_hooks(arg.as_bool().ok_or("takes true or false")?)
        }
        "hook-clock" => m
            .set_hook_clock(arg.as_bool().ok_or("hook-clock takes true or false")?)
            .map_err(e)?,
        "settle" => settle(m, verbose)?,
        "resolve" => {
            let u = str_or_field(arg, "unit", name)?;
            let retry = arg.get("retry").and_then(|r| r.as_bool()).unwrap_or(true);
            m.resolve(&u, retry).map_err(e)?;
        }
        "advance-clock" => {
            let secs = arg
                .get("seconds")
                .and_then(|x| x.as_f64())
                .or_else(|| arg.as_f64())
                .unwrap_or(0.0);
            m.advance_clock(Duration::from_secs_f64(secs));
            println!("clock now {}", jujusim::util::rfc3339(m.now()));
        }
        "update-status" => m.update_status(&str_or_field(arg, "app", name)?),
        "action" => step_action(m, arg)?,
        "status" => print!("{}", m.status_table()),
        "show-relation" => show_relation(m, arg)?,
        "show-secrets" => show_secrets(m),
        "add-secret" => {
            let secret = req(arg, "name", name)?;
            let uri = m.add_user_secret(&secret, content(arg, name)?).map_err(e)?;
            println!("{uri}");
        }
        "update-secret" => {
            let secret = req(arg, "secret", name)?;
            let rev = m
                .update_user_secret(&secret, content(arg, name)?)
                .map_err(e)?;
            println!("{secret}: revision {rev}");
        }
        "grant-secret" | "revoke-secret" => {
            let (secret, app) = secret_and_app(arg, name)?;
            if name == "grant-secret" {
                m.grant_user_secret(&secret, &app).map_err(e)?;
            } else {
                m.revoke_user_secret(&secret, &app).map_err(e)?;
            }
        }
        "remove-secret" => m
            .remove_user_secret(&str_or_field(arg, "secret", name)?)
            .map_err(e)?,
        "logs" => {
            for l in m.logs(&str_or_field(arg, "unit", name)?) {
                println!("{l}");
            }
        }
        other => return Err(format!("unknown step {other:?}")),
    }
    Ok(())
}

/// The `content` map of a user-secret step (values as strings).
fn content(arg: &Value, step: &str) -> Result<jujusim::Databag, String> {
    match arg.get("content") {
        Some(Value::Object(o)) => Ok(o.iter().map(|(k, v)| (k.clone(), return_str(v))).collect()),
        _ => Err(format!("step {step}: missing \"content\" map")),
    }
}

/// `{secret, app}` or `[secret, app]` of `grant-secret` / `revoke-secret`.
fn secret_and_app(arg: &Value, step: &str) -> Result<(String, String), String> {
    match arg {
        Value::Array(a) if a.len() == 2 => Ok((return_str(&a[0]), return_str(&a[1]))),
        _ => Ok((req(arg, "secret", step)?, req(arg, "app", step)?)),
    }
}

fn step_deploy(m: &mut Model, base: &Path, arg: &Value) -> Result<(), String> {
    let app = req(arg, "app", "deploy")?;
    let charm = req(arg, "charm", "deploy")?;
    let charm = if Path::new(&charm).is_absolute() {
        PathBuf::from(charm)
    } else {
        base.join(charm)
    };
    let units = arg.get("units").and_then(|u| u.as_u64()).unwrap_or(1) as usize;
    m.deploy(&app, &charm, units, obj(arg.get("config")))
        .map_err(|e| e.to_string())?;
    println!("deployed {app} ({units} units)");
    Ok(())
}

fn step_action(m: &mut Model, arg: &Value) -> Result<(), String> {
    let unit = req(arg, "unit", "action")?;
    let action = req(arg, "name", "action")?;
    let r = m
        .run_action(&unit, &action, obj(arg.get("params")))
        .map_err(|e| e.to_string())?;
    let mut out = Map::new();
    out.insert("unit".into(), Value::String(unit));
    out.insert("action".into(), Value::String(action));
    out.insert("status".into(), Value::String(r.status));
    if !r.message.is_empty() {
        out.insert("message".into(), Value::String(r.message));
    }
    out.insert("results".into(), r.results);
    if !r.logs.is_empty() {
        out.insert(
            "log".into(),
            Value::Array(r.logs.into_iter().map(Value::String).collect()),
        );
    }
    print!("{}", to_yaml(&Value::Object(out)));
    Ok(())
}

fn show_relation(m: &Model, arg: &Value) -> Result<(), String> {
    let id = resolve_rel(m, arg)?;
    let ends = m.relation_endpoints(id).ok_or("no such relation")?;
    let mut out = Map::new();
    let mut owners: Vec<String> = Vec::new();
    for (app, _) in ends.iter() {
        if !owners.contains(app) {
            owners.push(app.clone());
            owners.extend(m.units(app));
        }
    }
    for o in owners {
        let bag = m.relation_data(id, &o);
        out.insert(
            o,
            Value::Object(
                bag.into_iter()
                    .map(|(k, v)| (k, Value::String(v)))
                    .collect(),
            ),
        );
    }
    println!(
        "relation {id} ({}:{} <-> {}:{})",
        ends[0].0, ends[0].1, ends[1].0, ends[1].1
    );
    print!("{}", to_yaml(&Value::Object(out)));
    Ok(())
}

fn show_secrets(m: &Model) {
    for sv in m.secrets() {
        println!(
            "secret:{} owner={} label={} revisions={} expire={} rotate={}",
            sv.id,
            sv.owner,
            sv.label.as_deref().unwrap_or("-"),
            sv.revisions.len(),
            sv.expire
                .map(jujusim::util::rfc3339)
                .unwrap_or_else(|| "-".into()),
            sv.rotate.as_deref().unwrap_or("-"),
        );
        let granted = m.user_secret_grants(&sv.id);
        if !granted.is_empty() {
            println!("  granted to: {granted:?}");
        }
        if !sv.removed_revisions.is_empty() {
            println!("  removed revisions: {:?}", sv.removed_revisions);
        }
        if let Some(last) = sv.revisions.last() {
            let keys: Vec<&String> = last.keys().collect();
            println!("  keys (latest revision): {keys:?}");
        }
    }
}
