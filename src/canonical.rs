//! Canonical forms for documents AWS hands back reordered or re-encoded,
//! so that comparing them never shows a difference that means nothing.

use serde_json::Value;

/// Object keys sorted (serde_json's map is ordered), arrays kept in order.
pub fn json(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            Value::Object(map.iter().map(|(k, v)| (k.clone(), json(v))).collect())
        }
        Value::Array(items) => Value::Array(items.iter().map(json).collect()),
        other => other.clone(),
    }
}

/// IAM and key policies: a one-element list equals its element, lists of
/// strings are sets, and a document given as a JSON string (as AWS returns
/// it) is parsed.
pub fn policy(value: &Value) -> Value {
    match value {
        Value::String(text) => match serde_json::from_str::<Value>(text) {
            Ok(parsed @ Value::Object(_)) => policy(&parsed),
            _ => value.clone(),
        },
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), policy_member(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn policy_member(value: &Value) -> Value {
    match value {
        Value::Array(items) if items.len() == 1 => policy_member(&items[0]),
        Value::Array(items) if items.iter().all(Value::is_string) => {
            let mut strings: Vec<&str> = items.iter().filter_map(Value::as_str).collect();
            strings.sort_unstable();
            strings.dedup();
            Value::Array(
                strings
                    .into_iter()
                    .map(|s| Value::String(s.to_owned()))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.iter().map(policy_member).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), policy_member(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// IAM returns policy documents percent-encoded.
pub fn decode_policy_text(text: &str) -> Value {
    let decoded = percent_encoding::percent_decode_str(text).decode_utf8_lossy();
    serde_json::from_str(&decoded).unwrap_or_else(|_| Value::String(decoded.into_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reordered_policies_are_equal() {
        let a = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["b", "a"], "Resource": "*"}]});
        let b = json!({"Statement": [{"Resource": ["*"], "Action": ["a", "b"], "Effect": "Allow"}], "Version": "2012-10-17"});
        assert_eq!(policy(&a), policy(&b));
    }

    #[test]
    fn url_encoded_policy_text_decodes() {
        let text = "%7B%22Version%22%3A%222012-10-17%22%7D";
        assert_eq!(decode_policy_text(text), json!({"Version": "2012-10-17"}));
    }
}
