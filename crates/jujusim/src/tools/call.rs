//! A hook-tool call and what every tool shares: the error type, flag parsing with `--help`,
//! reading `--file` paths (or stdin), and the argument helpers several tools use.

use std::path::Path;

use serde_json::{Map, Value};

use crate::flags::{parse, FlagSpec, Parsed, ToolFail};
use crate::views::Databag;

/// Why a tool call did not produce output.
pub(super) enum E {
    Fail(ToolFail),
    NeedStdin,
    Help(String),
}

impl From<ToolFail> for E {
    fn from(f: ToolFail) -> E {
        E::Fail(f)
    }
}

/// What a tool returns: its stdout, or why not.
pub(super) type R = Result<String, E>;

/// A usage error (exit code 2).
pub(super) fn usage<T>(msg: impl Into<String>) -> Result<T, E> {
    Err(E::Fail(ToolFail::usage(msg)))
}
/// A run-time error (exit code 1).
pub(super) fn fail<T>(msg: impl Into<String>) -> Result<T, E> {
    Err(E::Fail(ToolFail::run(msg)))
}

/// One hook-tool invocation: its name, arguments, cwd and stdin (when the client sent it).
pub(super) struct Call<'a> {
    pub cwd: &'a Path,
    pub args: &'a [String],
    pub stdin: Option<&'a [u8]>,
    pub command: &'a str,
}

impl Call<'_> {
    pub fn parse(&self, specs: &[FlagSpec]) -> Result<Parsed, E> {
        let p = parse(self.args, specs)?;
        if p.has("help") {
            let names: Vec<String> = specs.iter().map(|s| format!("--{}", s.names[0])).collect();
            return Err(E::Help(format!(
                "Usage: {} [options] ...\n\nOptions: {}\n\n(jujusim hook tool)\n",
                self.command,
                names.join(" ")
            )));
        }
        Ok(p)
    }

    pub fn read_path(&self, path: &str) -> Result<Vec<u8>, E> {
        if path == "-" {
            return match self.stdin {
                Some(b) => Ok(b.to_vec()),
                None => Err(E::NeedStdin),
            };
        }
        let p = self.cwd.join(path);
        std::fs::read(&p).or_else(|e| fail(format!("cannot read {}: {e}", p.display())))
    }
}

/// Fail if positional arguments were given.
pub(super) fn no_args(p: &Parsed) -> Result<(), E> {
    if p.pos.is_empty() {
        Ok(())
    } else {
        usage(format!("unrecognized args: {:?}", p.pos))
    }
}

pub(super) fn yaml_string_map(bytes: &[u8], what: &str) -> Result<Vec<(String, String)>, E> {
    let v: Value =
        serde_norway::from_slice(bytes).or_else(|e| fail(format!("cannot parse {what}: {e}")))?;
    let m = match v {
        Value::Null => Map::new(),
        Value::Object(m) => m,
        other => return fail(format!("cannot parse {what}: expected a map, got {other}")),
    };
    Ok(m.into_iter()
        .map(|(k, v)| {
            let s = match v {
                Value::String(s) => s,
                Value::Null => String::new(),
                other => other.to_string(),
            };
            (k, s)
        })
        .collect())
}

pub(super) fn kv_args(pos: &[String]) -> Result<Vec<(String, String)>, E> {
    pos.iter()
        .map(|a| match a.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
            _ => usage(format!("expected \"key=value\", got {a:?}")),
        })
        .collect()
}

/// `key=value` changes read from the `--file` flag's YAML map (none without it).
pub(super) fn file_changes(c: &Call, p: &Parsed) -> Result<Vec<(String, String)>, E> {
    match p.get("file") {
        Some(path) => yaml_string_map(&c.read_path(path)?, "--file"),
        None => Ok(Vec::new()),
    }
}

/// Apply `key=value` changes to a bag: an empty value deletes the key.
pub(super) fn apply_changes(bag: &mut Databag, changes: Vec<(String, String)>) {
    for (k, v) in changes {
        if v.is_empty() {
            bag.remove(&k);
        } else {
            bag.insert(k, v);
        }
    }
}

/// A bag as a JSON object of strings.
pub(super) fn map_value(m: &Databag) -> Value {
    Value::Object(
        m.iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect(),
    )
}
