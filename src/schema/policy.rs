//! IAM policy documents: what IAM rejects in their shape (pure).

use super::Problem;
use serde_json::Value;

/// What IAM rejects in a policy document: no Statement, a statement
/// without Effect or Action.
pub fn policy_problems(path: &str, policy: &Value) -> Vec<Problem> {
    let mut problems = Vec::new();
    let Some(document) = policy.as_object() else {
        return problems;
    };
    let statements = match document.get("Statement") {
        Some(Value::Array(items)) => items.clone(),
        Some(item @ Value::Object(_)) => vec![item.clone()],
        _ => {
            problems.push(Problem::new(
                path,
                "a policy document needs a `Statement` list",
            ));
            return problems;
        }
    };
    for (index, statement) in statements.iter().enumerate() {
        let at = format!("{path}.Statement.{index}");
        match statement.get("Effect").and_then(Value::as_str) {
            Some("Allow" | "Deny") => {}
            _ => problems.push(Problem::new(&at, "`Effect` must be `Allow` or `Deny`")),
        }
        if statement.get("Action").is_none() && statement.get("NotAction").is_none() {
            problems.push(Problem::new(
                &at,
                "a statement needs `Action` or `NotAction`",
            ));
        }
        for key in ["Action", "NotAction"] {
            if let Some(value) = statement.get(key) {
                if let Err(message) = policy_strings(value, |action| {
                    action == "*"
                        || action.split_once(':').is_some_and(|(service, name)| {
                            !service.is_empty()
                                && !name.is_empty()
                                && service
                                    .chars()
                                    .all(|c| c.is_ascii_alphanumeric() || c == '-')
                        })
                }) {
                    problems.push(Problem::new(
                        format!("{at}.{key}"),
                        format!("{message} (an action is `service:Name`, such as `dynamodb:GetItem`, or `*`)"),
                    ));
                }
            }
        }
        for key in ["Resource", "NotResource"] {
            if let Some(value) = statement.get(key) {
                if let Err(message) = policy_strings(value, |resource| {
                    resource == "*" || resource.starts_with("arn:")
                }) {
                    problems.push(Problem::new(
                        format!("{at}.{key}"),
                        format!("{message} (a resource is an ARN or `*`)"),
                    ));
                }
            }
        }
        if let Some(services) = statement.get("Principal").and_then(|p| p.get("Service")) {
            if let Err(message) = policy_strings(services, |service| {
                service.ends_with(".amazonaws.com") && service.len() > ".amazonaws.com".len()
            }) {
                problems.push(Problem::new(
                    format!("{at}.Principal.Service"),
                    format!("{message} (a service principal is its full name, such as `lambda.amazonaws.com`)"),
                ));
            }
        }
    }
    problems
}

/// A policy element that is one string or a non-empty list of strings,
/// each of which `valid` accepts. Values known only at apply (references)
/// are not judged here.
pub fn policy_strings(value: &Value, valid: impl Fn(&str) -> bool) -> Result<(), String> {
    let items: Vec<&Value> = match value {
        Value::Array(items) if items.is_empty() => return Err("an empty list".into()),
        Value::Array(items) => items.iter().collect(),
        other => vec![other],
    };
    for item in items {
        match item {
            Value::String(text) if text.contains("${") => {}
            Value::String(text) if text.is_empty() => return Err("an empty string".into()),
            Value::String(text) if !valid(text) => return Err(format!("`{text}` is not valid")),
            Value::String(_) => {}
            Value::Object(map) if map.len() == 1 && map.contains_key("$unknown") => {}
            other => return Err(format!("{other} is not a string")),
        }
    }
    Ok(())
}
