//! The relation data models (`tls-certificates`, `certificate_transfer`): pure data with serde, no I/O.

pub mod legacy;
pub mod modern;
pub mod transfer;

use std::collections::BTreeMap;

use serde_json::Value;

/// A Juju databag: key → value, both strings (the same type as `juju_hook::Databag`).
pub type Bag = BTreeMap<String, String>;

/// How a JSON value's type reads in a message ("a list", "null", ...), for telling a requirer or an
/// operator what they sent instead of what was expected.
pub fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}
