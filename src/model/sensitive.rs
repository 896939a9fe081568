//! How secret values are kept: as a hash, enough to see a change and
//! useless to read.

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// Secret values are kept as a salted-free SHA-256: enough to see a change,
/// useless to read.
pub fn redact(value: &Value) -> Value {
    let digest = Sha256::digest(value.to_string().as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    serde_json::json!({ "$sensitive": format!("sha256:{hex}") })
}

pub fn redact_fields(attributes: &mut Map<String, Value>, fields: &[String]) {
    for field in fields {
        if let Some(value) = attributes.get_mut(field) {
            if !is_redacted(value) {
                *value = redact(value);
            }
        }
    }
}

/// `redact_fields` on shared values: copied only when a field changes.
pub fn redact_values(values: &mut crate::model::Values, fields: &[String]) {
    if fields
        .iter()
        .any(|f| values.get(f).is_some_and(|v| !is_redacted(v)))
    {
        redact_fields(std::sync::Arc::make_mut(values), fields);
    }
}

pub fn is_redacted(value: &Value) -> bool {
    value
        .as_object()
        .is_some_and(|m| m.len() == 1 && m.contains_key("$sensitive"))
}
