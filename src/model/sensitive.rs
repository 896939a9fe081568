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

/// `redact_values`, except that a mapping field with entries named in
/// `entries` (`field.key`) has only those entries hashed: the rest of it
/// is no secret (an environment beside one sensitive variable).
pub fn redact_entries(values: &mut crate::model::Values, fields: &[String], entries: &[String]) {
    let (partial, whole): (Vec<&String>, Vec<&String>) = fields.iter().partition(|field| {
        values
            .get(*field)
            .is_some_and(|v| v.is_object() && !is_redacted(v))
            && entries.iter().any(|e| {
                e.strip_prefix(field.as_str())
                    .is_some_and(|k| k.starts_with('.'))
            })
    });
    let whole: Vec<String> = whole.into_iter().cloned().collect();
    redact_values(values, &whole);
    for field in partial {
        let attributes = std::sync::Arc::make_mut(values);
        let Some(Value::Object(map)) = attributes.get_mut(field) else {
            continue;
        };
        for entry in entries {
            let Some(key) = entry
                .strip_prefix(field.as_str())
                .and_then(|k| k.strip_prefix('.'))
            else {
                continue;
            };
            if let Some(value) = map.get_mut(key) {
                if !is_redacted(value) {
                    *value = redact(value);
                }
            }
        }
    }
}

pub fn is_redacted(value: &Value) -> bool {
    value
        .as_object()
        .is_some_and(|m| m.len() == 1 && m.contains_key("$sensitive"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_the_named_entries_of_a_mapping_are_hashed() {
        let mut values: crate::model::Values = std::sync::Arc::new(
            json!({
                "environment": {"DB_PASSWORD": "hunter2", "TABLE": "t"},
                "value": "secret",
            })
            .as_object()
            .cloned()
            .unwrap(),
        );
        redact_entries(
            &mut values,
            &["environment".into(), "value".into()],
            &["environment.DB_PASSWORD".into()],
        );
        assert_eq!(values["environment"]["TABLE"], "t");
        assert!(is_redacted(&values["environment"]["DB_PASSWORD"]));
        assert!(is_redacted(&values["value"]));
        assert!(!values.values().any(|v| v.to_string().contains("hunter2")));
    }
}
