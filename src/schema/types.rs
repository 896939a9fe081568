//! The resource types of this release.

use super::checks as c;
use super::{
    no_expansion, no_validation, Fallback as F, Field, Kind as K, Naming, Problem, Schema, TAGS,
};
use serde_json::{json, Map, Value};

const KEY: &[Field] = &[
    Field::new("name", K::Str).required(),
    Field::new("type", K::Str)
        .required()
        .check(c::attribute_type),
];

const GLOBAL_SECONDARY_INDEX: &[Field] = &[
    Field::new("name", K::Str).required().check(c::table_name),
    Field::new("hash_key", K::Object(KEY)).required(),
    Field::new("range_key", K::Object(KEY)),
    Field::new("projection_type", K::Str)
        .or(F::Str("ALL"))
        .check(c::projection_type),
    Field::new("non_key_attributes", K::StrSet).or(F::EmptyList),
    Field::new("read_capacity", K::Int)
        .or(F::Int(0))
        .check(c::capacity),
    Field::new("write_capacity", K::Int)
        .or(F::Int(0))
        .check(c::capacity),
];

const METRIC_STAT: &[Field] = &[
    Field::new("namespace", K::Str)
        .required()
        .check(c::metric_namespace),
    Field::new("metric_name", K::Str).required(),
    Field::new("dimensions", K::StrMap)
        .or(F::EmptyMap)
        .check(c::dimensions),
    Field::new("period", K::Int)
        .required()
        .check(c::alarm_period),
    Field::new("stat", K::Str).required(),
    Field::new("unit", K::Str).check(c::metric_unit),
];

const METRIC_QUERY: &[Field] = &[
    Field::new("id", K::Str)
        .required()
        .check(c::metric_query_id),
    Field::new("expression", K::Str),
    Field::new("label", K::Str),
    Field::new("return_data", K::Bool),
    Field::new("metric", K::Object(METRIC_STAT)),
];

static IAM_ROLE: Schema = Schema {
    type_name: "iam_role",
    description: "IAM role with inline policies and managed policy attachments",
    fields: &[
        Field::new("name", K::Str)
            .required()
            .force_new()
            .check(c::role_name),
        Field::new("path", K::Str)
            .or(F::Str("/"))
            .force_new()
            .check(c::iam_path),
        Field::new("description", K::Str)
            .or(F::Str(""))
            .check(c::role_description),
        Field::new("assume_role_policy", K::Policy),
        Field::new("assume_role_services", K::StrSet),
        Field::new("max_session_duration", K::Int)
            .or(F::Int(3600))
            .check(c::max_session_duration),
        Field::new("permissions_boundary", K::Str)
            .or(F::Str(""))
            .check(c::arn_or_empty),
        Field::new("inline_policies", K::PolicyMap).or(F::EmptyMap),
        Field::new("managed_policy_arns", K::StrSet)
            .or(F::EmptyList)
            .check(c::each_arn),
        TAGS,
    ],
    outputs: &["arn", "unique_id"],
    taggable: true,
    naming: Naming::Dashed,
    stateful: false,
    expand: expand_trust_services,
    validate: validate_role,
};

/// `assume_role_services: [lambda.amazonaws.com]` is shorthand for the
/// usual trust policy.
fn expand_trust_services(properties: &mut Map<String, Value>) {
    let Some(Value::Array(services)) = properties.remove("assume_role_services") else {
        properties.remove("assume_role_services");
        return;
    };
    let principal = if services.len() == 1 {
        services[0].clone()
    } else {
        Value::Array(services)
    };
    properties.insert(
        "assume_role_policy".to_owned(),
        json!({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": principal}, "Action": "sts:AssumeRole"}]
        }),
    );
}

fn validate_role(properties: &Map<String, Value>) -> Vec<Problem> {
    let has = |k: &str| properties.get(k).is_some_and(|v| !v.is_null());
    let mut problems = Vec::new();
    match (has("assume_role_policy"), has("assume_role_services")) {
        (false, false) => problems.push(Problem::new(
            "",
            "give `assume_role_services` (for example [lambda.amazonaws.com]) or `assume_role_policy`",
        )),
        (true, true) => problems.push(Problem::new(
            "assume_role_services",
            "give either `assume_role_services` or `assume_role_policy`, not both",
        )),
        _ => {}
    }
    if let Some(services) = properties
        .get("assume_role_services")
        .filter(|v| !v.is_null())
    {
        if let Err(message) = policy_strings(services, |service| {
            service.ends_with(".amazonaws.com") && service.len() > ".amazonaws.com".len()
        }) {
            problems.push(Problem::new(
                "assume_role_services",
                format!("{message} (a service principal is its full name, such as `lambda.amazonaws.com`)"),
            ));
        }
    }
    if let Some(policy) = properties.get("assume_role_policy") {
        problems.extend(policy_problems("assume_role_policy", policy));
    }
    if let Some(Value::Object(policies)) = properties.get("inline_policies") {
        for (name, policy) in policies {
            problems.extend(policy_problems(&format!("inline_policies.{name}"), policy));
        }
    }
    problems
}

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
fn policy_strings(value: &Value, valid: impl Fn(&str) -> bool) -> Result<(), String> {
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

static DYNAMODB_TABLE: Schema = Schema {
    type_name: "dynamodb_table",
    description: "DynamoDB table with TTL, PITR, encryption and global secondary indexes",
    fields: &[
        Field::new("name", K::Str)
            .required()
            .force_new()
            .check(c::table_name),
        Field::new("hash_key", K::Object(KEY))
            .required()
            .force_new(),
        Field::new("range_key", K::Object(KEY)).force_new(),
        Field::new("billing_mode", K::Str)
            .or(F::Str("PAY_PER_REQUEST"))
            .check(c::billing_mode),
        Field::new("read_capacity", K::Int)
            .or(F::Int(0))
            .check(c::capacity),
        Field::new("write_capacity", K::Int)
            .or(F::Int(0))
            .check(c::capacity),
        Field::new("ttl_attribute", K::Str).or(F::Str("")),
        Field::new("point_in_time_recovery", K::Bool).or(F::Bool(false)),
        Field::new("kms_key_arn", K::Str)
            .or(F::Str(""))
            .check(c::arn_or_empty),
        Field::new("deletion_protection", K::Bool).or(F::Bool(false)),
        Field::new(
            "global_secondary_indexes",
            K::ObjectList(GLOBAL_SECONDARY_INDEX),
        )
        .or(F::EmptyList),
        TAGS,
    ],
    outputs: &["arn"],
    taggable: true,
    naming: Naming::Dashed,
    stateful: true,
    expand: sort_indexes,
    validate: validate_table,
};

fn sort_indexes(properties: &mut Map<String, Value>) {
    if let Some(Value::Array(indexes)) = properties.get_mut("global_secondary_indexes") {
        indexes.sort_by_key(|i| i["name"].to_string());
    }
}

fn validate_table(properties: &Map<String, Value>) -> Vec<Problem> {
    let mut problems = Vec::new();
    let provisioned = properties.get("billing_mode").and_then(Value::as_str) == Some("PROVISIONED");
    let capacity =
        |map: &Map<String, Value>, key: &str| map.get(key).and_then(Value::as_i64).unwrap_or(0);
    for key in ["read_capacity", "write_capacity"] {
        let n = capacity(properties, key);
        if provisioned && n < 1 {
            problems.push(Problem::new(
                key,
                "PROVISIONED billing needs read_capacity and write_capacity of at least 1",
            ));
        }
        if !provisioned && n != 0 {
            problems.push(Problem::new(
                key,
                "capacity is set only with billing_mode: PROVISIONED",
            ));
        }
    }
    // One attribute name may not carry two types across the table's keys.
    let mut types: Vec<(String, String, String)> = Vec::new();
    let mut note = |path: String, key: Option<&Value>| {
        if let Some(Value::Object(k)) = key {
            let name = k
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            let kind = k
                .get("type")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            types.push((name, kind, path));
        }
    };
    note("hash_key".into(), properties.get("hash_key"));
    note("range_key".into(), properties.get("range_key"));
    if let Some(Value::Array(indexes)) = properties.get("global_secondary_indexes") {
        if indexes.len() > 20 {
            problems.push(Problem::new(
                "global_secondary_indexes",
                "a table has at most 20 global secondary indexes",
            ));
        }
        let mut names = std::collections::BTreeSet::new();
        for (i, index) in indexes.iter().enumerate() {
            if let Some(name) = index.get("name").and_then(Value::as_str) {
                if !names.insert(name.to_owned()) {
                    problems.push(Problem::new(
                        format!("global_secondary_indexes.{i}.name"),
                        format!("index `{name}` is declared twice"),
                    ));
                }
            }
            note(
                format!("global_secondary_indexes.{i}.hash_key"),
                index.get("hash_key"),
            );
            note(
                format!("global_secondary_indexes.{i}.range_key"),
                index.get("range_key"),
            );
            for key in ["read_capacity", "write_capacity"] {
                let n = index.get(key).and_then(Value::as_i64).unwrap_or(0);
                if provisioned && n < 1 {
                    problems.push(Problem::new(
                        format!("global_secondary_indexes.{i}.{key}"),
                        "indexes of a PROVISIONED table need capacity of at least 1",
                    ));
                }
                if !provisioned && n != 0 {
                    problems.push(Problem::new(
                        format!("global_secondary_indexes.{i}.{key}"),
                        "capacity is set only with billing_mode: PROVISIONED",
                    ));
                }
            }
            let include = index.get("projection_type").and_then(Value::as_str) == Some("INCLUDE");
            let has_attributes = index
                .get("non_key_attributes")
                .and_then(Value::as_array)
                .is_some_and(|a| !a.is_empty());
            if include != has_attributes {
                problems.push(Problem::new(
                    format!("global_secondary_indexes.{i}.non_key_attributes"),
                    "non_key_attributes is given exactly when projection_type is INCLUDE",
                ));
            }
        }
    }
    for (i, (name, kind, path)) in types.iter().enumerate() {
        if let Some((_, other, first)) = types[..i].iter().find(|(n, k, _)| n == name && k != kind)
        {
            problems.push(Problem::new(
                path.clone(),
                format!("attribute `{name}` is `{kind}` here but `{other}` at {first}"),
            ));
        }
    }
    problems
}

static LOG_GROUP: Schema = Schema {
    type_name: "log_group",
    description: "CloudWatch Logs log group with retention and optional KMS key",
    fields: &[
        Field::new("name", K::Str)
            .required()
            .force_new()
            .check(c::log_group_name),
        Field::new("retention_in_days", K::Int)
            .or(F::Int(0))
            .check(c::retention_in_days),
        Field::new("kms_key_arn", K::Str)
            .or(F::Str(""))
            .check(c::arn_or_empty),
        TAGS,
    ],
    outputs: &["arn"],
    taggable: true,
    naming: Naming::Path,
    stateful: false,
    expand: no_expansion,
    validate: no_validation,
};

static KMS_KEY: Schema = Schema {
    type_name: "kms_key",
    description: "KMS key; destroy schedules deletion after the window",
    fields: &[
        Field::new("description", K::Str)
            .or(F::Str(""))
            .check(c::key_description),
        Field::new("key_usage", K::Str)
            .or(F::Str("ENCRYPT_DECRYPT"))
            .force_new()
            .check(c::key_usage),
        Field::new("key_spec", K::Str)
            .or(F::Str("SYMMETRIC_DEFAULT"))
            .force_new()
            .check(c::key_spec),
        Field::new("enable_key_rotation", K::Bool).or(F::Bool(true)),
        Field::new("deletion_window_in_days", K::Int)
            .or(F::Int(30))
            .check(c::deletion_window),
        Field::new("key_policy", K::Policy),
        TAGS,
    ],
    outputs: &["arn", "key_id"],
    taggable: true,
    naming: Naming::None,
    stateful: true,
    expand: no_expansion,
    validate: validate_key,
};

fn validate_key(properties: &Map<String, Value>) -> Vec<Problem> {
    let mut problems = Vec::new();
    if let Some(policy) = properties.get("key_policy") {
        problems.extend(policy_problems("key_policy", policy));
    }
    let symmetric = properties.get("key_spec").and_then(Value::as_str) == Some("SYMMETRIC_DEFAULT");
    if !symmetric && properties.get("enable_key_rotation") == Some(&Value::Bool(true)) {
        problems.push(Problem::new(
            "enable_key_rotation",
            "automatic rotation exists only for symmetric keys",
        ));
    }
    problems
}

static KMS_ALIAS: Schema = Schema {
    type_name: "kms_alias",
    description: "A friendly name for a KMS key",
    fields: &[
        Field::new("name", K::Str)
            .required()
            .force_new()
            .check(c::alias_name),
        Field::new("target_key_id", K::Str).required(),
    ],
    outputs: &["arn"],
    taggable: false,
    naming: Naming::Prefixed("alias/"),
    stateful: false,
    expand: no_expansion,
    validate: no_validation,
};

static ECR_REPOSITORY: Schema = Schema {
    type_name: "ecr_repository",
    description: "ECR repository with scanning, tag mutability, encryption and lifecycle policy",
    fields: &[
        Field::new("name", K::Str)
            .required()
            .force_new()
            .check(c::repository_name),
        Field::new("image_tag_mutability", K::Str)
            .or(F::Str("MUTABLE"))
            .check(c::tag_mutability),
        Field::new("scan_on_push", K::Bool).or(F::Bool(false)),
        Field::new("encryption_type", K::Str)
            .or(F::Str("AES256"))
            .force_new()
            .check(c::ecr_encryption),
        Field::new("kms_key_arn", K::Str)
            .or(F::Str(""))
            .force_new()
            .check(c::arn_or_empty),
        Field::new("lifecycle_policy", K::Json),
        Field::new("force_delete", K::Bool).or(F::Bool(false)),
        TAGS,
    ],
    outputs: &["arn", "repository_url", "registry_id"],
    taggable: true,
    naming: Naming::Dashed,
    stateful: true,
    expand: no_expansion,
    validate: validate_repository,
};

fn validate_repository(properties: &Map<String, Value>) -> Vec<Problem> {
    let mut problems = Vec::new();
    let kms = properties.get("encryption_type").and_then(Value::as_str) == Some("KMS");
    let key = properties
        .get("kms_key_arn")
        .and_then(Value::as_str)
        .is_some_and(|k| !k.is_empty());
    if key && !kms {
        problems.push(Problem::new(
            "kms_key_arn",
            "kms_key_arn needs encryption_type: KMS",
        ));
    }
    if let Some(policy) = properties.get("lifecycle_policy").filter(|p| !p.is_null()) {
        match policy.get("rules").and_then(Value::as_array) {
            Some(rules) if !rules.is_empty() => {
                for (i, rule) in rules.iter().enumerate() {
                    if rule.get("rulePriority").and_then(Value::as_i64).is_none() {
                        problems.push(Problem::new(
                            format!("lifecycle_policy.rules.{i}"),
                            "each rule needs an integer `rulePriority`",
                        ));
                    }
                    if rule.get("selection").is_none() || rule.get("action").is_none() {
                        problems.push(Problem::new(
                            format!("lifecycle_policy.rules.{i}"),
                            "each rule needs `selection` and `action`",
                        ));
                    }
                }
            }
            _ => problems.push(Problem::new(
                "lifecycle_policy",
                "a lifecycle policy needs a non-empty `rules` list",
            )),
        }
    }
    problems
}

static CLOUDWATCH_ALARM: Schema = Schema {
    type_name: "cloudwatch_alarm",
    description: "CloudWatch metric or metric-math alarm",
    fields: &[
        Field::new("name", K::Str)
            .required()
            .force_new()
            .check(c::alarm_name),
        Field::new("description", K::Str).or(F::Str("")),
        Field::new("namespace", K::Str).check(c::metric_namespace),
        Field::new("metric_name", K::Str),
        Field::new("statistic", K::Str).check(c::statistic),
        Field::new("dimensions", K::StrMap)
            .or(F::EmptyMap)
            .check(c::dimensions),
        Field::new("period", K::Int).check(c::alarm_period),
        Field::new("unit", K::Str).check(c::metric_unit),
        Field::new("metrics", K::ObjectList(METRIC_QUERY)).or(F::EmptyList),
        Field::new("evaluation_periods", K::Int)
            .required()
            .check(c::positive),
        Field::new("datapoints_to_alarm", K::Int).check(c::positive),
        Field::new("threshold", K::Float).required(),
        Field::new("comparison_operator", K::Str)
            .required()
            .check(c::comparison_operator),
        Field::new("treat_missing_data", K::Str)
            .or(F::Str("missing"))
            .check(c::treat_missing_data),
        Field::new("actions_enabled", K::Bool).or(F::Bool(true)),
        Field::new("alarm_actions", K::StrSet)
            .or(F::EmptyList)
            .check(c::each_arn),
        Field::new("ok_actions", K::StrSet)
            .or(F::EmptyList)
            .check(c::each_arn),
        Field::new("insufficient_data_actions", K::StrSet)
            .or(F::EmptyList)
            .check(c::each_arn),
        TAGS,
    ],
    outputs: &["arn"],
    taggable: true,
    naming: Naming::Dashed,
    stateful: false,
    expand: no_expansion,
    validate: validate_alarm,
};

fn validate_alarm(properties: &Map<String, Value>) -> Vec<Problem> {
    let mut problems = Vec::new();
    let has = |k: &str| properties.get(k).is_some_and(|v| !v.is_null());
    let metrics = properties
        .get("metrics")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let single = ["namespace", "metric_name", "statistic", "period"];
    if metrics.is_empty() {
        for key in single {
            if !has(key) {
                problems.push(Problem::new(
                    "",
                    format!("a metric alarm needs `{key}` (or use `metrics` for metric math)"),
                ));
            }
        }
    } else {
        for key in single.iter().chain(["dimensions"].iter()) {
            let set = match properties.get(*key) {
                Some(Value::Object(m)) => !m.is_empty(),
                Some(v) => !v.is_null(),
                None => false,
            };
            if set {
                problems.push(Problem::new(
                    *key,
                    format!("`{key}` cannot be combined with `metrics`"),
                ));
            }
        }
        let returning = metrics
            .iter()
            .filter(|m| m.get("return_data") == Some(&Value::Bool(true)))
            .count();
        if returning != 1 {
            problems.push(Problem::new(
                "metrics",
                "exactly one entry of `metrics` must have `return_data: true`",
            ));
        }
        for (i, metric) in metrics.iter().enumerate() {
            let expression = metric.get("expression").is_some_and(|v| !v.is_null());
            let stat = metric.get("metric").is_some_and(|v| !v.is_null());
            if expression == stat {
                problems.push(Problem::new(
                    format!("metrics.{i}"),
                    "each entry has exactly one of `expression` and `metric`",
                ));
            }
        }
    }
    let period = properties
        .get("period")
        .and_then(Value::as_i64)
        .unwrap_or(60);
    let evaluations = properties
        .get("evaluation_periods")
        .and_then(Value::as_i64)
        .unwrap_or(1);
    if period * evaluations > 86_400 {
        problems.push(Problem::new(
            "evaluation_periods",
            format!(
                "period × evaluation_periods may be at most one day (86400 s), got {}",
                period * evaluations
            ),
        ));
    }
    if let Some(datapoints) = properties
        .get("datapoints_to_alarm")
        .and_then(Value::as_i64)
    {
        if datapoints > evaluations {
            problems.push(Problem::new(
                "datapoints_to_alarm",
                "datapoints_to_alarm may not exceed evaluation_periods",
            ));
        }
    }
    problems
}

static CLOUDWATCH_DASHBOARD: Schema = Schema {
    type_name: "cloudwatch_dashboard",
    description: "CloudWatch dashboard; widgets written as YAML",
    fields: &[
        Field::new("name", K::Str)
            .required()
            .force_new()
            .check(c::dashboard_name),
        Field::new("widgets", K::Json).required().check(widgets),
    ],
    outputs: &["arn"],
    taggable: false,
    naming: Naming::Dashed,
    stateful: false,
    expand: no_expansion,
    validate: no_validation,
};

fn widgets(value: &Value) -> Result<(), String> {
    let items = value.as_array().ok_or("widgets must be a list")?;
    for (i, widget) in items.iter().enumerate() {
        let kind = widget.get("type").and_then(Value::as_str);
        if !matches!(kind, Some("metric" | "text" | "log" | "alarm" | "explorer")) {
            return Err(format!(
                "widget {i} needs `type`: metric, text, log, alarm or explorer"
            ));
        }
        if widget.get("properties").is_none() {
            return Err(format!("widget {i} needs `properties`"));
        }
        // The dashboard grid is 24 columns wide.
        let x = widget.get("x").and_then(Value::as_i64).unwrap_or(0);
        let width = widget.get("width").and_then(Value::as_i64).unwrap_or(6);
        if !(1..=24).contains(&width) || x < 0 || x + width > 24 {
            return Err(format!(
                "widget {i} spans columns {x} to {}; the dashboard grid has 24 (width 1 to 24, x + width at most 24)",
                x + width
            ));
        }
    }
    Ok(())
}

const CODE: &[Field] = &[
    Field::new("cargo", K::Str),
    Field::new("zip", K::Str),
    Field::new("binary", K::Str),
];

static LAMBDA_FUNCTION: Schema = Schema {
    type_name: "lambda_function",
    description: "Lambda function running a native binary (provided.al2023), its code built and zipped by cairn",
    fields: &[
        Field::new("name", K::Str).required().force_new().check(c::function_name),
        Field::new("description", K::Str).or(F::Str("")),
        Field::new("role_arn", K::Str).required().check(c::arn),
        Field::new("runtime", K::Str).or(F::Str("provided.al2023")).check(c::lambda_runtime),
        Field::new("handler", K::Str).or(F::Str("bootstrap")),
        Field::new("architecture", K::Str).or(F::Str("x86_64")).check(c::architecture),
        Field::new("memory_size", K::Int).or(F::Int(128)).check(c::memory_size),
        Field::new("timeout", K::Int).or(F::Int(3)).check(c::function_timeout),
        Field::new("environment", K::StrMap).or(F::EmptyMap).check(c::environment),
        Field::new("reserved_concurrency", K::Int).or(F::Int(-1)).check(c::reserved_concurrency),
        Field::new("code", K::Object(CODE)).required().local(),
        // Set by cairn from the built package, never by the stack.
        Field::new("code_sha256", K::Str),
        Field::new("code_zip", K::Str).local(),
        TAGS,
    ],
    outputs: &["arn", "invoke_arn"],
    taggable: true,
    naming: Naming::Dashed,
    stateful: false,
    expand: no_expansion,
    validate: validate_function,
};

fn validate_function(properties: &Map<String, Value>) -> Vec<Problem> {
    let mut problems = Vec::new();
    for computed in ["code_sha256", "code_zip"] {
        if properties.get(computed).is_some_and(|v| !v.is_null()) {
            problems.push(Problem::new(
                computed,
                format!("`{computed}` is computed by cairn from `code`; remove it"),
            ));
        }
    }
    let code = properties.get("code").and_then(Value::as_object);
    let given = |k: &str| code.and_then(|c| c.get(k)).is_some_and(|v| !v.is_null());
    if given("cargo") == given("zip") {
        problems.push(Problem::new(
            "code",
            "give exactly one of `cargo` (a Cargo package directory) and `zip` (a built zip file)",
        ));
    }
    if given("binary") && !given("cargo") {
        problems.push(Problem::new("code.binary", "`binary` goes with `cargo`"));
    }
    problems
}

static LAMBDA_PERMISSION: Schema = Schema {
    type_name: "lambda_permission",
    description: "Lets a service (the HTTP API) invoke a function, scoped to a source ARN",
    fields: &[
        Field::new("function_name", K::Str).required().force_new(),
        Field::new("statement_id", K::Str)
            .required()
            .force_new()
            .check(c::statement_id),
        Field::new("action", K::Str)
            .or(F::Str("lambda:InvokeFunction"))
            .force_new(),
        Field::new("principal", K::Str)
            .or(F::Str("apigateway.amazonaws.com"))
            .force_new(),
        Field::new("source_arn", K::Str).force_new(),
    ],
    outputs: &[],
    taggable: false,
    naming: Naming::None,
    stateful: false,
    expand: no_expansion,
    validate: no_validation,
};

const CORS: &[Field] = &[
    Field::new("allow_origins", K::StrSet).or(F::EmptyList),
    Field::new("allow_methods", K::StrSet).or(F::EmptyList),
    Field::new("allow_headers", K::StrSet).or(F::EmptyList),
    Field::new("expose_headers", K::StrSet).or(F::EmptyList),
    Field::new("max_age", K::Int)
        .or(F::Int(0))
        .check(c::cors_max_age),
];

const INTEGRATION: &[Field] = &[
    Field::new("function_arn", K::Str).required().check(c::arn),
    Field::new("timeout_ms", K::Int)
        .or(F::Int(30_000))
        .check(c::integration_timeout),
];

const STAGE: &[Field] = &[
    Field::new("throttling_burst_limit", K::Int)
        .or(F::Int(0))
        .check(c::reserved_concurrency),
    Field::new("throttling_rate_limit", K::Float)
        .or(F::Int(0))
        .check(c::non_negative),
    Field::new("access_log_arn", K::Str)
        .or(F::Str(""))
        .check(c::arn_or_empty),
    Field::new("access_log_format", K::Json),
];

static HTTP_API: Schema = Schema {
    type_name: "http_api",
    description: "API Gateway HTTP API: routes to one Lambda proxy integration (payload 2.0), CORS, and the $default stage with auto-deploy",
    fields: &[
        Field::new("name", K::Str).required().check(c::api_name),
        Field::new("description", K::Str).or(F::Str("")),
        Field::new("cors", K::Object(CORS)),
        Field::new("routes", K::StrSet).required().check(routes),
        Field::new("integration", K::Object(INTEGRATION)).required(),
        Field::new("stage", K::Object(STAGE)).required(),
        TAGS,
    ],
    outputs: &["id", "api_endpoint", "execution_arn"],
    taggable: true,
    naming: Naming::Dashed,
    stateful: false,
    expand: no_expansion,
    validate: no_validation,
};

fn routes(value: &Value) -> Result<(), String> {
    let items = value.as_array().ok_or("routes must be a list")?;
    if items.is_empty() {
        return Err("an API needs at least one route".into());
    }
    items.iter().try_for_each(c::route_key)
}

static ALL: &[&Schema] = &[
    &IAM_ROLE,
    &DYNAMODB_TABLE,
    &LOG_GROUP,
    &KMS_KEY,
    &KMS_ALIAS,
    &ECR_REPOSITORY,
    &CLOUDWATCH_ALARM,
    &CLOUDWATCH_DASHBOARD,
    &LAMBDA_FUNCTION,
    &LAMBDA_PERMISSION,
    &HTTP_API,
];

pub fn all() -> &'static [&'static Schema] {
    ALL
}

pub fn find(type_name: &str) -> Option<&'static Schema> {
    ALL.iter().copied().find(|s| s.type_name == type_name)
}

#[cfg(test)]
mod tests {
    #[test]
    fn taggable_types_and_only_they_carry_the_tags_field() {
        for schema in super::all() {
            let has = schema.fields.iter().any(|f| f.name == "tags" && f.compared);
            assert_eq!(has, schema.taggable, "{}", schema.type_name);
        }
    }
}
