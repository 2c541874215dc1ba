//! gnuflag-like argument parsing and juju/cmd output formatting for the hook tools.

use std::collections::BTreeMap;

use serde_json::Value;

/// A tool failure: `code` 2 for argument errors, 1 for run errors. The message is printed as
/// `ERROR <message>` on stderr.
#[derive(Debug, Clone)]
pub struct ToolFail {
    pub code: i32,
    pub message: String,
}

impl ToolFail {
    pub fn usage(msg: impl Into<String>) -> Self {
        ToolFail {
            code: 2,
            message: msg.into(),
        }
    }
    pub fn run(msg: impl Into<String>) -> Self {
        ToolFail {
            code: 1,
            message: msg.into(),
        }
    }
}

/// One flag a tool accepts: all its names (without dashes) and whether it takes a value.
#[derive(Debug, Clone, Copy)]
pub struct FlagSpec {
    pub names: &'static [&'static str],
    pub takes_value: bool,
}

pub const fn val(names: &'static [&'static str]) -> FlagSpec {
    FlagSpec {
        names,
        takes_value: true,
    }
}
pub const fn boolean(names: &'static [&'static str]) -> FlagSpec {
    FlagSpec {
        names,
        takes_value: false,
    }
}

/// Parsed arguments: flags keyed by their first (canonical) name, positionals in order.
#[derive(Debug, Default, Clone)]
pub struct Parsed {
    pub flags: BTreeMap<&'static str, String>,
    pub bools: BTreeMap<&'static str, bool>,
    pub pos: Vec<String>,
}

impl Parsed {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.flags.get(name).map(|s| s.as_str())
    }
    pub fn has(&self, name: &str) -> bool {
        self.bools.get(name).copied().unwrap_or(false)
    }
    pub fn was_set(&self, name: &str) -> bool {
        self.flags.contains_key(name) || self.bools.contains_key(name)
    }
}

/// Go `strconv.ParseBool`.
pub fn parse_go_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

/// Parse like gnuflag with interspersed positionals: `--x=v`, `--x v`, `-x v`, `--` ends flags,
/// bools take an optional `=value` (Go-style). Every tool gets `-h/--help` implicitly (handled by
/// the caller through the `help` bool).
pub fn parse(args: &[String], specs: &[FlagSpec]) -> Result<Parsed, ToolFail> {
    let mut out = Parsed::default();
    let mut i = 0;
    let mut only_pos = false;
    while i < args.len() {
        let a = &args[i];
        i += 1;
        if only_pos || !a.starts_with('-') || a == "-" {
            out.pos.push(a.clone());
            continue;
        }
        if a == "--" {
            only_pos = true;
            continue;
        }
        let stripped = a.strip_prefix("--").unwrap_or_else(|| &a[1..]);
        let (name, inline) = match stripped.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (stripped, None),
        };
        if name == "h" || name == "help" {
            out.bools.insert("help", true);
            continue;
        }
        let spec = specs.iter().find(|s| s.names.contains(&name));
        let Some(spec) = spec else {
            return Err(ToolFail::usage(format!(
                "flag provided but not defined: {a}"
            )));
        };
        let canon = spec.names[0];
        if spec.takes_value {
            let v = match inline {
                Some(v) => v,
                None => {
                    if i >= args.len() {
                        return Err(ToolFail::usage(format!("flag needs an argument: {a}")));
                    }
                    i += 1;
                    args[i - 1].clone()
                }
            };
            out.flags.insert(canon, v);
        } else {
            let b = match inline {
                None => true,
                Some(v) => parse_go_bool(&v).ok_or_else(|| {
                    ToolFail::usage(format!("invalid boolean value {v:?} for flag {a}"))
                })?,
            };
            out.bools.insert(canon, b);
        }
    }
    Ok(out)
}

/// Output format of `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Smart,
    Json,
    Yaml,
}

impl Format {
    pub fn parse(s: Option<&str>, default: Format, allow_smart: bool) -> Result<Format, ToolFail> {
        match s {
            None => Ok(default),
            Some("json") => Ok(Format::Json),
            Some("yaml") => Ok(Format::Yaml),
            Some("smart") if allow_smart => Ok(Format::Smart),
            Some(other) => Err(ToolFail::usage(format!(
                "invalid value {other:?} for flag --format: unknown format {other:?}"
            ))),
        }
    }
}

/// Floats with no fractional part print as integers, as Go's encoders do (`3.0` -> `3`).
fn go_numbers(v: &Value) -> Value {
    match v {
        Value::Number(n) if n.is_f64() => {
            let f = n.as_f64().unwrap_or_default();
            if f.fract() == 0.0 && f.abs() < 1e15 {
                Value::from(f as i64)
            } else {
                v.clone()
            }
        }
        Value::Array(a) => Value::Array(a.iter().map(go_numbers).collect()),
        Value::Object(m) => {
            Value::Object(m.iter().map(|(k, v)| (k.clone(), go_numbers(v))).collect())
        }
        other => other.clone(),
    }
}

/// Go's `json.Marshal` (HTML-safe escaping) plus a newline.
pub fn go_json(v: &Value) -> String {
    let s = serde_json::to_string(&go_numbers(v)).unwrap_or_else(|_| "null".into());
    let mut out = String::with_capacity(s.len() + 1);
    for c in s.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out.push('\n');
    out
}

pub fn yaml(v: &Value) -> String {
    if v.is_null() {
        return String::new();
    }
    let mut s = serde_norway::to_string(&go_numbers(v)).unwrap_or_default();
    if !s.ends_with('\n') {
        s.push('\n');
    }
    s
}

/// Format a value like juju/cmd's `Output.Write`.
pub fn render(v: &Value, fmt: Format) -> String {
    match fmt {
        Format::Json => go_json(v),
        Format::Yaml => yaml(v),
        Format::Smart => match v {
            Value::Null => String::new(),
            Value::String(s) if s.is_empty() => String::new(),
            Value::String(s) => format!("{s}\n"),
            Value::Bool(b) => if *b { "True\n" } else { "False\n" }.to_string(),
            Value::Array(items) if items.iter().all(|i| i.is_string()) => {
                let mut s = String::new();
                for i in items {
                    s.push_str(i.as_str().unwrap_or_default());
                    s.push('\n');
                }
                s
            }
            other => yaml(other),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn formats_like_juju() {
        assert_eq!(
            go_json(&json!({"a": "<b>&", "f": 2.0, "g": 0.5})),
            "{\"a\":\"\\u003cb\\u003e\\u0026\",\"f\":2,\"g\":0.5}\n"
        );
        assert_eq!(render(&json!(true), Format::Smart), "True\n");
        assert_eq!(render(&json!(["a", "b"]), Format::Smart), "a\nb\n");
        assert_eq!(render(&json!(""), Format::Smart), "");
        assert_eq!(render(&Value::Null, Format::Yaml), "");
        assert_eq!(render(&Value::Null, Format::Json), "null\n");
        assert_eq!(render(&json!({"k": "v"}), Format::Smart), "k: v\n");
    }

    #[test]
    fn gnuflag_forms() {
        let specs = [val(&["r", "relation"]), boolean(&["app"]), val(&["format"])];
        let args: Vec<String> = [
            "-r",
            "db:3",
            "--app=False",
            "x",
            "--format=json",
            "--",
            "--y",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let p = parse(&args, &specs).unwrap();
        assert_eq!(p.get("r"), Some("db:3"));
        assert!(!p.has("app") && p.was_set("app"));
        assert_eq!(p.get("format"), Some("json"));
        assert_eq!(p.pos, vec!["x", "--y"]);
        let bad = parse(&["--nope".to_string()], &specs).unwrap_err();
        assert_eq!(
            (bad.code, bad.message.as_str()),
            (2, "flag provided but not defined: --nope")
        );
        assert_eq!(parse(&["-r".to_string()], &specs).unwrap_err().code, 2);
    }
}
