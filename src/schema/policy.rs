//! IAM policy documents checked against IAM's grammar (pure): the
//! elements a document and a statement may have, `Version`, `Effect`,
//! `Principal`, `Action`, `Resource` and `Condition` operators. A value
//! still holding a `${...}` (a reference resolved at apply, or a policy
//! variable such as `${aws:username}`) is not judged: only what is known
//! is refused.

use super::{pending, unknown_key, Problem};
use serde_json::{Map, Value};

/// Where a policy is attached decides which elements it may have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PolicyKind {
    /// On a role: the role is the principal, so no `Principal`; IAM wants
    /// the resources each statement covers.
    Identity,
    /// A role's trust policy: who may assume it; no `Resource`.
    Trust,
    /// On a resource (a key, a topic, an endpoint).
    Resource,
}

impl PolicyKind {
    /// IAM's own documents (a role's policies) follow IAM's stricter rules
    /// on statement ids; other services take any text there.
    fn is_iam(self) -> bool {
        matches!(self, PolicyKind::Identity | PolicyKind::Trust)
    }
}

const DOCUMENT_ELEMENTS: &[&str] = &["Version", "Id", "Statement"];
const STATEMENT_ELEMENTS: &[&str] = &[
    "Sid",
    "Effect",
    "Principal",
    "NotPrincipal",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Condition",
];
const VERSIONS: &[&str] = &["2012-10-17", "2008-10-17"];
const PRINCIPAL_TYPES: &[&str] = &["AWS", "Service", "Federated", "CanonicalUser"];
/// IAM's condition operators, before an `IfExists` suffix or a
/// `ForAllValues:` / `ForAnyValue:` prefix.
const CONDITION_OPERATORS: &[&str] = &[
    "StringEquals",
    "StringNotEquals",
    "StringEqualsIgnoreCase",
    "StringNotEqualsIgnoreCase",
    "StringLike",
    "StringNotLike",
    "NumericEquals",
    "NumericNotEquals",
    "NumericLessThan",
    "NumericLessThanEquals",
    "NumericGreaterThan",
    "NumericGreaterThanEquals",
    "DateEquals",
    "DateNotEquals",
    "DateLessThan",
    "DateLessThanEquals",
    "DateGreaterThan",
    "DateGreaterThanEquals",
    "Bool",
    "BinaryEquals",
    "IpAddress",
    "NotIpAddress",
    "ArnEquals",
    "ArnLike",
    "ArnNotEquals",
    "ArnNotLike",
];

/// The document's outline as a JSON Schema, for editors: its elements,
/// versions, effects and principal types (the grammar's finer points are
/// `policy_problems`'). `repeated` makes the schema of a block (`for_each`,
/// `content`) of statements: the stack language's, which this layer does
/// not know.
pub fn json_schema(repeated: fn(Value) -> Value) -> Value {
    let expression = serde_json::json!({"$ref": "#/definitions/expression"});
    let principal = serde_json::json!({"anyOf": [
        {"const": "*"},
        {"type": "object", "propertyNames": {"enum": PRINCIPAL_TYPES}},
        expression,
    ]});
    // As `condition_operator` reads them.
    let operators = format!(
        "^(ForAllValues:|ForAnyValue:)?(Null|({})(IfExists)?)$",
        CONDITION_OPERATORS.join("|")
    );
    let condition = serde_json::json!({"anyOf": [
        {"type": "object", "propertyNames": {"pattern": operators}},
        expression,
    ]});
    let statement = serde_json::json!({
        "type": "object",
        "propertyNames": {"enum": STATEMENT_ELEMENTS},
        "properties": {
            "Effect": {"anyOf": [{"enum": ["Allow", "Deny"]}, expression]},
            "Principal": principal,
            "NotPrincipal": principal,
            "Condition": condition,
        },
    });
    let block = repeated(statement.clone());
    serde_json::json!({
        "type": "object",
        "propertyNames": {"enum": DOCUMENT_ELEMENTS},
        "properties": {
            "Version": {"anyOf": [{"enum": VERSIONS}, expression]},
            // A block (`for_each`, `content`) may make the statements.
            "Statement": {"anyOf": [
                statement,
                {"type": "array", "items": {"anyOf": [statement, block]}},
                block,
                expression,
            ]},
        },
    })
}

/// What IAM refuses in a policy document of the given kind.
pub fn policy_problems(path: &str, policy: &Value, kind: PolicyKind) -> Vec<Problem> {
    let mut problems = Vec::new();
    if pending(policy) || policy.is_null() {
        return problems;
    }
    let Some(document) = policy.as_object() else {
        problems.push(Problem::new(
            path,
            "a policy document is a mapping with `Version` and `Statement`",
        ));
        return problems;
    };
    for key in document.keys() {
        if !DOCUMENT_ELEMENTS.contains(&key.as_str()) {
            problems.push(Problem::new(
                join(path, key),
                unknown_key(key, DOCUMENT_ELEMENTS, "policy element"),
            ));
        }
    }
    match document.get("Version") {
        None => {}
        Some(version) if pending(version) => {}
        Some(Value::String(version)) if VERSIONS.contains(&version.as_str()) => {}
        Some(other) => problems.push(Problem::new(
            join(path, "Version"),
            format!(
                "`Version` is the string \"2012-10-17\" (or the older \"2008-10-17\"), got {other}"
            ),
        )),
    }
    if let Some(id) = document.get("Id").filter(|id| !id.is_string()) {
        problems.push(Problem::new(
            join(path, "Id"),
            format!("`Id` is a string, got {id}"),
        ));
    }
    let statements: Vec<&Value> = match document.get("Statement") {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(item) if pending(item) => return problems,
        Some(item @ Value::Object(_)) => vec![item],
        _ => {
            problems.push(Problem::new(
                path,
                "a policy document needs a `Statement` list",
            ));
            return problems;
        }
    };
    let mut ids: Vec<String> = Vec::new();
    for (index, statement) in statements.iter().enumerate() {
        let at = if matches!(document.get("Statement"), Some(Value::Array(_))) {
            format!("{path}.Statement.{index}")
        } else {
            format!("{path}.Statement")
        };
        if pending(statement) {
            continue;
        }
        let Some(statement) = statement.as_object() else {
            problems.push(Problem::new(&at, "a statement is a mapping"));
            continue;
        };
        statement_problems(&at, statement, kind, &mut ids, &mut problems);
    }
    problems
}

fn join(path: &str, key: &str) -> String {
    format!("{path}.{key}")
}

fn statement_problems(
    at: &str,
    statement: &Map<String, Value>,
    kind: PolicyKind,
    ids: &mut Vec<String>,
    problems: &mut Vec<Problem>,
) {
    for key in statement.keys() {
        if !STATEMENT_ELEMENTS.contains(&key.as_str()) {
            problems.push(Problem::new(
                join(at, key),
                unknown_key(key, STATEMENT_ELEMENTS, "statement element"),
            ));
        }
    }
    let has = |key: &str| statement.contains_key(key);
    match statement.get("Effect") {
        Some(effect) if pending(effect) => {}
        Some(Value::String(effect)) if effect == "Allow" || effect == "Deny" => {}
        _ => problems.push(Problem::new(at, "`Effect` must be `Allow` or `Deny`")),
    }
    match statement.get("Sid") {
        None => {}
        Some(sid) if pending(sid) => {}
        Some(Value::String(sid))
            if kind.is_iam() && !sid.chars().all(|c| c.is_ascii_alphanumeric()) =>
        {
            problems.push(Problem::new(
                join(at, "Sid"),
                format!("IAM takes only letters and digits in a statement id, got `{sid}`"),
            ));
        }
        Some(Value::String(_)) => {}
        Some(other) => problems.push(Problem::new(
            join(at, "Sid"),
            format!("`Sid` is a string, got {other}"),
        )),
    }
    pair(at, statement, "Action", "NotAction", problems);
    pair(at, statement, "Resource", "NotResource", problems);
    pair(at, statement, "Principal", "NotPrincipal", problems);
    if !has("Action") && !has("NotAction") {
        problems.push(Problem::new(
            at,
            "a statement needs `Action` or `NotAction`",
        ));
    }
    match kind {
        PolicyKind::Identity => {
            if !has("Resource") && !has("NotResource") {
                problems.push(Problem::new(
                    at,
                    "a statement of a role's policy needs `Resource` or `NotResource`",
                ));
            }
            for key in ["Principal", "NotPrincipal"] {
                if has(key) {
                    problems.push(Problem::new(
                        join(at, key),
                        format!("a role's own policy has no `{key}` (the role is the principal; IAM refuses it)"),
                    ));
                }
            }
        }
        PolicyKind::Trust => {
            if !has("Principal") && !has("NotPrincipal") {
                problems.push(Problem::new(
                    at,
                    "a trust policy statement needs `Principal` (who may assume the role)",
                ));
            }
            for key in ["Resource", "NotResource"] {
                if has(key) {
                    problems.push(Problem::new(
                        join(at, key),
                        format!("a trust policy has no `{key}` (the role is the resource; IAM refuses it)"),
                    ));
                }
            }
        }
        PolicyKind::Resource => {}
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
                    join(at, key),
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
                    join(at, key),
                    format!("{message} (a resource is an ARN or `*`)"),
                ));
            }
        }
    }
    for key in ["Principal", "NotPrincipal"] {
        if let Some(principal) = statement.get(key) {
            principal_problems(&join(at, key), principal, problems);
        }
    }
    if let Some(condition) = statement.get("Condition") {
        condition_problems(&join(at, "Condition"), condition, problems);
    }
    if kind.is_iam() {
        if let Some(Value::String(sid)) =
            statement.get("Sid").filter(|sid| sid.as_str() != Some(""))
        {
            if ids.contains(sid) {
                problems.push(Problem::new(
                    join(at, "Sid"),
                    format!(
                        "statement id `{sid}` is used twice; IAM wants each unique in a policy"
                    ),
                ));
            }
            ids.push(sid.clone());
        }
    }
}

/// Both of a pair of elements (`Action` and `NotAction`) in one statement.
fn pair(
    at: &str,
    statement: &Map<String, Value>,
    one: &str,
    other: &str,
    problems: &mut Vec<Problem>,
) {
    if statement.contains_key(one) && statement.contains_key(other) {
        problems.push(Problem::new(
            join(at, other),
            format!("a statement has `{one}` or `{other}`, not both"),
        ));
    }
}

/// `"*"`, or a mapping from principal type (`AWS`, `Service`, `Federated`,
/// `CanonicalUser`) to one name or a list of names.
fn principal_problems(at: &str, principal: &Value, problems: &mut Vec<Problem>) {
    let entries = match principal {
        value if pending(value) => return,
        Value::String(text) if text == "*" => return,
        Value::Object(entries) => entries,
        other => {
            problems.push(Problem::new(
                at,
                format!("a principal is `*` or a mapping such as `{{Service: lambda.amazonaws.com}}`, got {other}"),
            ));
            return;
        }
    };
    for (key, names) in entries {
        let path = join(at, key);
        let valid: fn(&str) -> bool = match key.as_str() {
            "Service" => |service| {
                service.ends_with(".amazonaws.com") && service.len() > ".amazonaws.com".len()
            },
            // An account, an ARN, or anyone.
            "AWS" => |name| {
                name == "*"
                    || name.starts_with("arn:")
                    || (name.len() == 12 && name.chars().all(|c| c.is_ascii_digit()))
                    // The unique id IAM shows for a principal since deleted.
                    || (name.len() >= 16
                        && name.starts_with('A')
                        && name.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()))
            },
            "Federated" | "CanonicalUser" => |_| true,
            _ => {
                problems.push(Problem::new(
                    &path,
                    unknown_key(key, PRINCIPAL_TYPES, "principal type"),
                ));
                continue;
            }
        };
        if let Err(message) = policy_strings(names, valid) {
            let shape = match key.as_str() {
                "Service" => {
                    " (a service principal is its full name, such as `lambda.amazonaws.com`)"
                }
                "AWS" => " (an AWS principal is an ARN, a 12-digit account id, or `*`)",
                _ => "",
            };
            problems.push(Problem::new(path, format!("{message}{shape}")));
        }
    }
}

/// Whether IAM knows a condition operator: one of its operators, with an
/// optional `IfExists` suffix and `ForAllValues:` / `ForAnyValue:` prefix,
/// or `Null`.
fn condition_operator(name: &str) -> bool {
    let base = name
        .strip_prefix("ForAllValues:")
        .or_else(|| name.strip_prefix("ForAnyValue:"))
        .unwrap_or(name);
    if base == "Null" {
        return true;
    }
    let base = base.strip_suffix("IfExists").unwrap_or(base);
    CONDITION_OPERATORS.contains(&base)
}

/// `{operator: {key: value or [values]}}`, values being strings, numbers
/// or booleans.
fn condition_problems(at: &str, condition: &Value, problems: &mut Vec<Problem>) {
    if pending(condition) {
        return;
    }
    let Some(operators) = condition.as_object() else {
        problems.push(Problem::new(
            at,
            format!("`Condition` is a mapping of operators (such as `StringEquals`) to keys and values, got {condition}"),
        ));
        return;
    };
    for (operator, tests) in operators {
        let path = join(at, operator);
        if !condition_operator(operator) {
            let mut known: Vec<&str> = CONDITION_OPERATORS.to_vec();
            known.push("Null");
            let message = match crate::model::suggest(operator, known.iter().copied()) {
                Some(hint) => format!("`{operator}` is not an IAM condition operator; {hint}"),
                None => format!("`{operator}` is not an IAM condition operator (such as StringEquals, ArnLike, Bool, with an optional IfExists suffix or ForAllValues:/ForAnyValue: prefix)"),
            };
            problems.push(Problem::new(&path, message));
            continue;
        }
        if pending(tests) {
            continue;
        }
        let Some(tests) = tests.as_object() else {
            problems.push(Problem::new(
                &path,
                format!(
                    "a condition operator takes a mapping of condition keys to values, got {tests}"
                ),
            ));
            continue;
        };
        for (key, values) in tests {
            let scalar = |value: &Value| {
                matches!(value, Value::String(_) | Value::Number(_) | Value::Bool(_))
                    || pending(value)
            };
            let valid = match values {
                Value::Array(items) => items.iter().all(scalar),
                other => scalar(other),
            };
            if !valid {
                problems.push(Problem::new(
                    join(&path, key),
                    format!("a condition value is a string, number or boolean, or a list of them, got {values}"),
                ));
            }
        }
    }
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
            item if pending(item) => {}
            Value::String(text) if text.is_empty() => return Err("an empty string".into()),
            Value::String(text) if !valid(text) => return Err(format!("`{text}` is not valid")),
            Value::String(_) => {}
            other => return Err(format!("{other} is not a string")),
        }
    }
    Ok(())
}

/// Condition keys whose fixed value makes a statement of a bucket's policy
/// non-public, as S3 defines "public" (compared ignoring case, as AWS reads them).
const NARROWING_KEYS: &[&str] = &[
    "aws:sourcearn",
    "aws:sourcevpc",
    "aws:sourcevpce",
    "aws:sourceowner",
    "aws:sourceaccount",
    "aws:userid",
    "aws:principalarn",
    "aws:principalaccount",
    "aws:principalorgid",
    "s3:x-amz-server-side-encryption-aws-kms-key-id",
    "s3:dataaccesspointarn",
    "s3:dataaccesspointaccount",
];

/// Whether an `Allow` statement grants to anyone: principal `*` (or
/// `NotPrincipal`), unless a condition pins a narrowing key to fixed
/// values or `aws:SourceIp` to blocks that are not the whole internet.
pub fn public_statement(statement: &Value) -> bool {
    if statement.get("Effect").and_then(Value::as_str) != Some("Allow") {
        return false;
    }
    let anyone = |principal: &Value| -> bool {
        match principal {
            Value::String(text) => text == "*",
            Value::Array(items) => items.iter().any(|i| i.as_str() == Some("*")),
            Value::Object(map) => map.get("AWS").is_some_and(|aws| match aws {
                Value::String(text) => text == "*",
                Value::Array(items) => items.iter().any(|i| i.as_str() == Some("*")),
                _ => false,
            }),
            _ => false,
        }
    };
    let open =
        statement.get("NotPrincipal").is_some() || statement.get("Principal").is_some_and(anyone);
    if !open {
        return false;
    }
    let Some(Value::Object(operators)) = statement.get("Condition") else {
        return true;
    };
    let fixed = |values: &Value| -> bool {
        let items: Vec<&Value> = match values {
            Value::Array(items) => items.iter().collect(),
            other => vec![other],
        };
        !items.is_empty()
            && items.iter().all(|v| match v {
                Value::String(text) => !text.contains(['*', '?']) && !text.contains("${"),
                _ => true,
            })
    };
    let narrows = operators.iter().any(|(operator, tests)| {
        // `IfExists` lets a request without the key through; `ForAnyValue`
        // and the negated operators do not pin a value either.
        if operator.ends_with("IfExists") || operator.starts_with("ForAnyValue:") {
            return false;
        }
        let base = operator.trim_start_matches("ForAllValues:");
        let Some(tests) = tests.as_object() else {
            return false;
        };
        tests.iter().any(|(key, values)| {
            let key = key.to_ascii_lowercase();
            match base {
                "IpAddress" if key == "aws:sourceip" => {
                    fixed(values)
                        && !matches!(values.as_str(), Some("0.0.0.0/0" | "::/0"))
                        && !values.as_array().is_some_and(|items| {
                            items
                                .iter()
                                .any(|i| matches!(i.as_str(), Some("0.0.0.0/0" | "::/0")))
                        })
                }
                "StringEquals"
                | "StringEqualsIgnoreCase"
                | "ArnEquals"
                | "StringLike"
                | "ArnLike" => NARROWING_KEYS.contains(&key.as_str()) && fixed(values),
                _ => false,
            }
        })
    });
    !narrows
}

/// Why S3 refuses a public statement while the bucket blocks public
/// policies.
pub const PUBLIC_UNDER_BLOCK: &str = "this statement makes the policy public (it allows `*` without a condition that pins it to fixed accounts, sources or networks), which S3 refuses while the bucket's `block_public_policy` is true: narrow it (`Condition: {StringEquals: {\"AWS:SourceArn\": ...}}`) or set `block_public_policy: false` on the bucket";
