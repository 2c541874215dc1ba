//! Decoding action parameters: relation ids, strings, and PEM given plain or base64-encoded.

use super::ActionError;
use juju_hook::RelationId;
use serde_json::{Map, Value};

use super::fail;
use crate::pki::MAX_CERTS_PEM_BYTES;
use crate::protocol::json_type;

/// The action's parameters, as `action-get` gives them.
pub type Params = Map<String, Value>;

/// Reads the optional `relation-id` parameter (integer, or a string such as `7` or
/// `certificates:7`).
pub fn relation_id_param(params: &Params) -> Result<Option<RelationId>, ActionError> {
    match params.get("relation-id") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .map(|n| Some(RelationId(n)))
            .ok_or_else(|| {
                fail(format!(
                    "relation-id {n} is not a relation id (a whole number >= 0)"
                ))
            }),
        Some(Value::String(s)) => RelationId::parse(s)
            .map(Some)
            .ok_or_else(|| fail(format!("relation-id {s:?} is not a relation id (e.g. 7)"))),
        Some(other) => Err(fail(format!(
            "relation-id {other} is not a relation id (e.g. 7)"
        ))),
    }
}

/// The string parameters `names`: `Ok(None)` when absent, null or blank.
pub fn string_param(params: &Params, name: &str) -> Result<Option<String>, ActionError> {
    match params.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(fail(format!(
            "parameter {name} must be a string (PEM, or base64-encoded PEM), not {}; \
             quote it: {name}=\"$(base64 -w0 file.pem)\"",
            json_type(other)
        ))),
    }
}

/// An optional boolean parameter (`default` when absent or null).
pub fn bool_param(params: &Params, name: &str, default: bool) -> Result<bool, ActionError> {
    match params.get(name) {
        None | Some(Value::Null) => Ok(default),
        Some(Value::Bool(b)) => Ok(*b),
        Some(other) => Err(fail(format!(
            "parameter {name} must be true or false, not {}; e.g. {name}=true",
            json_type(other)
        ))),
    }
}

/// Plain PEM or base64 of a PEM file → the PEM text. `what` names the PEM type expected.
pub fn decode_pem_param(name: &str, value: &str) -> Result<String, ActionError> {
    use base64::Engine;
    let limit = MAX_CERTS_PEM_BYTES;
    if value.len() > limit {
        return Err(fail(format!(
            "parameter {name} is {} bytes, more than the {limit} accepted",
            value.len()
        )));
    }
    if value.contains("-----BEGIN ") {
        return Ok(value.to_string());
    }
    let hint = format!("pass the PEM file base64-encoded: {name}=\"$(base64 -w0 file.pem)\"");
    let compact: String = value.chars().filter(|c| !c.is_whitespace()).collect();
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(&compact)
        .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(&compact))
        .map_err(|e| {
            fail(format!(
                "parameter {name} cannot be decoded: it is not PEM (no -----BEGIN line) and not valid base64 ({e}); {hint}"
            ))
        })?;
    let text = String::from_utf8(decoded).map_err(|_| {
        fail(format!(
            "parameter {name} cannot be decoded: its base64 decodes to binary data, not PEM text \
             (DER? convert it first with: openssl x509 -inform der -in file.der -out file.pem); {hint}"
        ))
    })?;
    if !text.contains("-----BEGIN ") {
        return Err(fail(format!(
            "parameter {name} cannot be decoded: its base64 decodes to text without a -----BEGIN line, not PEM; {hint}"
        )));
    }
    Ok(text)
}
