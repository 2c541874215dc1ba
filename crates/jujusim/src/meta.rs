//! Charm metadata: `metadata.yaml`, `config.yaml`, `actions.yaml`.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Map, Value};

use crate::error::SimError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    Provides,
    Requires,
    Peers,
}

#[derive(Debug, Clone)]
pub struct Endpoint {
    pub name: String,
    pub interface: String,
    pub role: Role,
}

#[derive(Debug, Clone, Default)]
pub struct Metadata {
    pub name: String,
    pub endpoints: Vec<Endpoint>,
}

#[derive(Debug, Clone)]
pub struct ConfigOption {
    pub kind: String,
    pub default: Value,
}

#[derive(Debug, Clone)]
pub struct ActionDef {
    pub params: Map<String, Value>,
    pub required: Vec<String>,
    pub additional_properties: bool,
}

fn yaml_value(text: &str, what: &str) -> Result<Value, SimError> {
    if text.trim().is_empty() {
        return Ok(Value::Object(Map::new()));
    }
    serde_norway::from_str::<Value>(text)
        .map_err(|e| SimError::Charm(format!("cannot parse {what}: {e}")))
}

pub fn parse_metadata(text: &str) -> Result<Metadata, SimError> {
    let v = yaml_value(text, "metadata.yaml")?;
    let name = v
        .get("name")
        .and_then(|n| n.as_str())
        .ok_or_else(|| SimError::Charm("metadata.yaml has no name".into()))?
        .to_string();
    let mut endpoints = Vec::new();
    for (key, role) in [
        ("provides", Role::Provides),
        ("requires", Role::Requires),
        ("peers", Role::Peers),
    ] {
        if let Some(Value::Object(m)) = v.get(key) {
            for (ep, spec) in m {
                let interface = match spec {
                    Value::String(s) => s.clone(),
                    other => other
                        .get("interface")
                        .and_then(|i| i.as_str())
                        .unwrap_or_default()
                        .to_string(),
                };
                endpoints.push(Endpoint {
                    name: ep.clone(),
                    interface,
                    role: role.clone(),
                });
            }
        }
    }
    Ok(Metadata { name, endpoints })
}

pub fn parse_config(text: &str) -> Result<BTreeMap<String, ConfigOption>, SimError> {
    let v = yaml_value(text, "config.yaml")?;
    let mut out = BTreeMap::new();
    if let Some(Value::Object(opts)) = v.get("options") {
        for (name, spec) in opts {
            let kind = spec
                .get("type")
                .and_then(|t| t.as_str())
                .unwrap_or("string")
                .to_string();
            let default = spec.get("default").cloned().unwrap_or(Value::Null);
            let default = if default.is_null() {
                Value::Null
            } else {
                coerce_config(&kind, &default).map_err(|e| {
                    SimError::Charm(format!("config.yaml option {name:?} default: {e}"))
                })?
            };
            out.insert(name.clone(), ConfigOption { kind, default });
        }
    }
    Ok(out)
}

/// Check (and lightly coerce) a config value against its declared type.
pub fn coerce_config(kind: &str, v: &Value) -> Result<Value, String> {
    match (kind, v) {
        ("string" | "secret", Value::String(_)) => Ok(v.clone()),
        ("int", Value::Number(n)) if n.is_i64() || n.is_u64() => Ok(v.clone()),
        ("int", Value::Number(n)) => {
            let f = n.as_f64().unwrap_or(f64::NAN);
            if f.fract() == 0.0 {
                Ok(Value::from(f as i64))
            } else {
                Err(format!("expected int, got {v}"))
            }
        }
        ("int", Value::String(s)) => s
            .trim()
            .parse::<i64>()
            .map(Value::from)
            .map_err(|_| format!("expected int, got {s:?}")),
        ("float", Value::Number(n)) => Ok(Value::from(n.as_f64().unwrap_or_default())),
        ("float", Value::String(s)) => s
            .trim()
            .parse::<f64>()
            .map(Value::from)
            .map_err(|_| format!("expected float, got {s:?}")),
        ("boolean", Value::Bool(_)) => Ok(v.clone()),
        ("boolean", Value::String(s)) => crate::flags::parse_go_bool(s)
            .map(Value::Bool)
            .ok_or_else(|| format!("expected boolean, got {s:?}")),
        (k, other) => Err(format!("expected {k}, got {other}")),
    }
}

pub fn parse_actions(text: &str) -> Result<BTreeMap<String, ActionDef>, SimError> {
    let v = yaml_value(text, "actions.yaml")?;
    let mut out = BTreeMap::new();
    if let Value::Object(m) = v {
        for (name, spec) in m {
            let params = spec
                .get("params")
                .and_then(|p| p.as_object())
                .cloned()
                .unwrap_or_default();
            let required = spec
                .get("required")
                .and_then(|r| r.as_array())
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default();
            let additional_properties = spec
                .get("additionalProperties")
                .and_then(|b| b.as_bool())
                .unwrap_or(true);
            out.insert(
                name,
                ActionDef {
                    params,
                    required,
                    additional_properties,
                },
            );
        }
    }
    Ok(out)
}

fn type_ok(kind: &str, v: &Value) -> bool {
    match kind {
        "string" => v.is_string(),
        "integer" => v.is_i64() || v.is_u64(),
        "number" => v.is_number(),
        "boolean" => v.is_boolean(),
        "array" => v.is_array(),
        "object" => v.is_object(),
        _ => true,
    }
}

/// Validate action params against the schema and fill defaults.
pub fn validate_action(
    name: &str,
    def: &ActionDef,
    mut params: Map<String, Value>,
) -> Result<Map<String, Value>, SimError> {
    for (k, v) in &params {
        match def.params.get(k) {
            None if !def.additional_properties => {
                return Err(SimError::Invalid(format!(
                    "action {name:?}: additional property {k:?} is not allowed"
                )))
            }
            None => {}
            Some(schema) => {
                if let Some(kind) = schema.get("type").and_then(|t| t.as_str()) {
                    if !type_ok(kind, v) {
                        return Err(SimError::Invalid(format!(
                            "action {name:?}: param {k:?}: expected {kind}, got {v}"
                        )));
                    }
                }
            }
        }
    }
    for (k, schema) in &def.params {
        if !params.contains_key(k) {
            if let Some(d) = schema.get("default") {
                params.insert(k.clone(), d.clone());
            }
        }
    }
    for r in &def.required {
        if !params.contains_key(r) {
            return Err(SimError::Invalid(format!(
                "action {name:?}: param {r:?} is required"
            )));
        }
    }
    Ok(params)
}

pub fn read_optional(dir: &Path, file: &str) -> Result<String, SimError> {
    match std::fs::read_to_string(dir.join(file)) {
        Ok(s) => Ok(s),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
        Err(e) => Err(SimError::Io(format!(
            "reading {}: {e}",
            dir.join(file).display()
        ))),
    }
}
