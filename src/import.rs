//! `cairn import --from-terraform`: a Terraform state (format 4) becomes a
//! cairn stack file and a cairn state that adopts the same AWS resources as
//! they are.
//!
//! Each resource of a Terraform type that is a cairn type's main type
//! (`types::terraform::Mapping`) is read from AWS by the id its mapping
//! finds in Terraform's attributes, and its stack properties are what AWS
//! reports: the plan after an import shows no change but cairn's ownership
//! tags. Terraform resources that a cairn type covers as part of another
//! (an HTTP API's routes) are folded into it. Everything else is listed and
//! left out, never half-imported. Terraform's state holds secrets in plain
//! text; none of its values is written anywhere: properties come from AWS,
//! and a sensitive one becomes a sensitive variable with no default.

use crate::model::Observed;
use crate::types;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

/// A Terraform resource instance cairn can describe.
pub struct Candidate {
    pub tf_address: String,
    pub type_name: &'static str,
    pub name: String,
    pub id: String,
    /// Terraform's attributes, for what AWS does not report.
    pub attributes: Map<String, Value>,
}

#[derive(Default)]
pub struct Classified {
    pub candidates: Vec<Candidate>,
    /// (Terraform address, the cairn type it is part of)
    pub folded: Vec<(String, &'static str)>,
    /// (Terraform address, why it is left out)
    pub left_out: Vec<(String, String)>,
    pub serial: u64,
    pub lineage: String,
}

/// The Terraform state's managed AWS resources, sorted into what cairn
/// imports, what it folds into another, and what it leaves out.
pub fn classify(tfstate: &Value) -> Result<Classified, String> {
    if tfstate.get("version").and_then(Value::as_u64) != Some(4) {
        return Err(
            "not a Terraform state of format 4 (`\"version\": 4`; Terraform 0.12 and later)".into(),
        );
    }
    let mut out = Classified {
        serial: tfstate["serial"].as_u64().unwrap_or(0),
        lineage: tfstate["lineage"].as_str().unwrap_or_default().to_owned(),
        ..Classified::default()
    };
    let resources = tfstate["resources"].as_array().cloned().unwrap_or_default();
    let main_present = |tf_type: &str| {
        resources
            .iter()
            .any(|r| r["mode"] == "managed" && r["type"] == tf_type)
    };
    let mut names: Vec<String> = Vec::new();
    for resource in &resources {
        if resource["mode"] != "managed" {
            continue;
        }
        let tf_type = resource["type"].as_str().unwrap_or_default();
        let tf_name = resource["name"].as_str().unwrap_or_default();
        let module = resource["module"].as_str();
        for instance in resource["instances"].as_array().into_iter().flatten() {
            let mut address = format!("{tf_type}.{tf_name}");
            if let Some(module) = module {
                address = format!("{module}.{address}");
            }
            if let Some(key) = instance.get("index_key") {
                address = format!("{address}[{key}]");
            }
            if instance.get("deposed").is_some() {
                out.left_out.push((
                    address,
                    "a deposed object Terraform still has to delete".into(),
                ));
                continue;
            }
            if !tf_type.starts_with("aws_") {
                out.left_out.push((address, "not an AWS resource".into()));
                continue;
            }
            let main = types::all()
                .iter()
                .find(|t| t.terraform.main_type() == tf_type);
            let part_of = types::all().iter().find(|t| {
                t.terraform.types[1..].contains(&tf_type) && main_present(t.terraform.main_type())
            });
            let attrs = instance["attributes"]
                .as_object()
                .cloned()
                .unwrap_or_default();
            match (main, part_of) {
                (Some(t), _) => match (t.terraform.import)(&attrs) {
                    Ok(id) => {
                        let name = cairn_name(
                            module,
                            tf_name,
                            instance.get("index_key"),
                            &names,
                            t.schema.type_name,
                        );
                        names.push(name.clone());
                        out.candidates.push(Candidate {
                            tf_address: address,
                            type_name: t.schema.type_name,
                            name,
                            id,
                            attributes: attrs,
                        });
                    }
                    Err(why) => out.left_out.push((address, why)),
                },
                (None, Some(t)) => out.folded.push((address, t.schema.type_name)),
                (None, None) => out
                    .left_out
                    .push((address, "cairn has no type for it yet".into())),
            }
        }
    }
    // A part whose whole was left out goes with it.
    let kept: Vec<&'static str> = out.candidates.iter().map(|c| c.type_name).collect();
    let (folded, orphaned): (Vec<_>, Vec<_>) = std::mem::take(&mut out.folded)
        .into_iter()
        .partition(|(_, t)| kept.contains(t));
    out.folded = folded;
    for (address, t) in orphaned {
        out.left_out
            .push((address, format!("part of a {t} that is left out")));
    }
    Ok(out)
}

/// A cairn resource name from Terraform's (module and index folded in),
/// unique in the stack.
fn cairn_name(
    module: Option<&str>,
    name: &str,
    index: Option<&Value>,
    taken: &[String],
    type_name: &str,
) -> String {
    let mut raw = String::new();
    if let Some(module) = module {
        raw.push_str(&module.replace("module.", ""));
        raw.push('_');
    }
    raw.push_str(name);
    if let Some(index) = index {
        raw.push('_');
        raw.push_str(&index.to_string());
    }
    let mut clean: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    clean = clean.trim_matches('_').to_owned();
    while clean.contains("__") {
        clean = clean.replace("__", "_");
    }
    if !clean.starts_with(|c: char| c.is_ascii_lowercase()) {
        clean = format!("r_{clean}");
    }
    if taken.contains(&clean) {
        clean = format!("{clean}_{type_name}");
    }
    clean
}

/// One imported resource: its cairn name and type, and what AWS reports.
pub struct Imported {
    pub name: String,
    pub type_name: &'static str,
    pub observed: Observed,
    /// Where the function's zip goes, from Terraform's `filename`.
    pub zip: Option<String>,
}

impl Imported {
    /// What AWS reports, completed where it reports nothing (a KMS key's
    /// deletion window) by Terraform's attribute of the same name, never a
    /// sensitive one.
    pub fn new(
        name: String,
        type_name: &'static str,
        mut observed: Observed,
        terraform: &Map<String, Value>,
    ) -> Imported {
        let schema = types::of(type_name).schema;
        for field in schema.fields {
            if field.sensitive || !field.compared || observed.attributes.contains_key(field.name) {
                continue;
            }
            let scalar = matches!(
                field.kind,
                crate::schema::Kind::Str | crate::schema::Kind::Int | crate::schema::Kind::Bool
            );
            if let Some(v @ (Value::String(_) | Value::Number(_) | Value::Bool(_))) =
                terraform.get(field.name).filter(|_| scalar)
            {
                Arc::make_mut(&mut observed.attributes).insert(field.name.into(), v.clone());
            }
        }
        let zip = terraform
            .get("filename")
            .and_then(Value::as_str)
            .filter(|_| type_name == "lambda_function")
            .map(str::to_owned);
        Imported {
            name,
            type_name,
            observed,
            zip,
        }
    }
}

/// The stack document and the sensitive variables it declares.
pub fn stack_document(
    project: &str,
    environment: &str,
    region: &str,
    source: &str,
    imported: &[Imported],
) -> (Value, Vec<String>) {
    // Values another resource's attribute stands for: an ARN or id output,
    // or a name the stack gives.
    let mut stands_for: Vec<(String, String, &str)> = Vec::new();
    for r in imported {
        for (output, value) in &r.observed.outputs {
            if let Some(v) = value.as_str().filter(|v| !v.is_empty()) {
                stands_for.push((v.to_owned(), format!("${{{}.{output}}}", r.name), &r.name));
            }
        }
        let t = types::of(r.type_name);
        if (t.planned_id)(&r.observed.attributes).is_some() {
            if let Some(v) = r.observed.attributes.get("name").and_then(Value::as_str) {
                stands_for.push((v.to_owned(), format!("${{{}.name}}", r.name), &r.name));
            }
        }
    }
    // Longest first, so an ARN is replaced before an id inside it.
    stands_for.sort_by_key(|s| std::cmp::Reverse(s.0.len()));
    let mut edges: Vec<(String, String)> = Vec::new();
    let mut variables = Map::new();
    let mut sensitive_variables = Vec::new();
    let mut resources = Map::new();
    for r in imported {
        let schema = types::of(r.type_name).schema;
        let mut properties = Map::new();
        for field in schema.fields {
            if !field.compared || field.name == "code_sha256" {
                continue;
            }
            let Some(value) = r.observed.attributes.get(field.name) else {
                continue;
            };
            if value.is_null() {
                continue;
            }
            if field.sensitive {
                let variable = format!("{}_{}", r.name, field.name);
                variables.insert(
                    variable.clone(),
                    json!({
                        "sensitive": true,
                        "description": format!("{}'s {} (set CAIRN_VAR_{variable}; the Terraform state held it in plain text, cairn does not copy it)", r.name, field.name),
                    }),
                );
                sensitive_variables.push(variable.clone());
                properties.insert(field.name.into(), json!(format!("${{var.{variable}}}")));
                continue;
            }
            // What the stack would default to anyway is left out.
            if field.fallback.value().as_ref() == Some(value) {
                continue;
            }
            let mut value = value.clone();
            if field.name == "tags" {
                if let Value::Object(tags) = &mut value {
                    tags.retain(|k, _| !k.starts_with("cairn:"));
                }
            }
            let value = refer(&value, &r.name, &stands_for, &mut edges);
            properties.insert(field.name.into(), value);
        }
        if r.type_name == "lambda_function" {
            properties.insert(
                "code".into(),
                json!({ "zip": r.zip.clone().unwrap_or_else(|| format!("{}.zip", r.name)) }),
            );
        }
        resources.insert(
            r.name.clone(),
            json!({ "type": r.type_name, "properties": properties }),
        );
    }
    let mut doc = Map::new();
    doc.insert(
        "#".into(),
        json!(format!(
            "Imported by `cairn import --from-terraform {source}`: each resource as AWS reports it. Review it; the first apply adds cairn's ownership tags."
        )),
    );
    doc.insert("project".into(), json!(project));
    doc.insert("environment".into(), json!(environment));
    doc.insert("region".into(), json!(region));
    if !variables.is_empty() {
        doc.insert("variables".into(), Value::Object(variables));
    }
    doc.insert("resources".into(), Value::Object(resources));
    (Value::Object(doc), sensitive_variables)
}

/// A value with the other resources' ids, ARNs and names as references,
/// unless the reference would close a cycle.
fn refer(
    value: &Value,
    own: &str,
    stands_for: &[(String, String, &str)],
    edges: &mut Vec<(String, String)>,
) -> Value {
    match value {
        Value::String(text) => {
            // A literal `${` is written `$${` in a stack.
            let mut out = text.replace("${", "$${");
            for (literal, reference, target) in stands_for {
                if *target == own || edges.contains(&(target.to_string(), own.to_owned())) {
                    continue;
                }
                let whole = out == *literal;
                let inside = literal.starts_with("arn:") && out.contains(literal.as_str());
                if whole || inside {
                    out = out.replace(literal.as_str(), reference);
                    let edge = (own.to_owned(), target.to_string());
                    if !edges.contains(&edge) {
                        edges.push(edge);
                    }
                }
            }
            Value::String(out)
        }
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|i| refer(i, own, stands_for, edges))
                .collect(),
        ),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), refer(v, own, stands_for, edges)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// YAML for a JSON value: block style, every string double-quoted (JSON's
/// escapes are YAML's), a key `#` written as a comment.
pub fn yaml(value: &Value) -> String {
    let mut out = String::new();
    match value {
        // A stack's sections in the order people write them.
        Value::Object(map) => {
            let order = [
                "#",
                "project",
                "environment",
                "region",
                "variables",
                "resources",
            ];
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort_by_key(|k| order.iter().position(|o| o == k).unwrap_or(order.len()));
            for k in keys {
                let mut one = Map::new();
                one.insert(k.clone(), map[k].clone());
                emit(&Value::Object(one), 0, &mut out);
            }
        }
        other => emit(other, 0, &mut out),
    }
    out
}

fn key(k: &str) -> String {
    if !k.is_empty()
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/'))
        && !k.starts_with(['-', '.'])
    {
        k.to_owned()
    } else {
        serde_json::to_string(k).expect("json")
    }
}

fn scalar(value: &Value) -> String {
    match value {
        Value::Object(m) if m.is_empty() => "{}".into(),
        Value::Array(a) if a.is_empty() => "[]".into(),
        other => serde_json::to_string(other).expect("json"),
    }
}

fn nested(value: &Value) -> bool {
    matches!(value, Value::Object(m) if !m.is_empty())
        || matches!(value, Value::Array(a) if !a.is_empty())
}

fn emit(value: &Value, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                if k == "#" {
                    for line in v.as_str().unwrap_or_default().lines() {
                        out.push_str(&format!("{pad}# {line}\n"));
                    }
                    continue;
                }
                if nested(v) {
                    out.push_str(&format!("{pad}{}:\n", key(k)));
                    emit(v, indent + 2, out);
                } else {
                    out.push_str(&format!("{pad}{}: {}\n", key(k), scalar(v)));
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                if nested(item) {
                    let mut inner = String::new();
                    emit(item, indent + 2, &mut inner);
                    // The first line of the item goes after its dash.
                    let inner = inner.trim_start_matches(' ');
                    out.push_str(&format!("{pad}- {inner}"));
                } else {
                    out.push_str(&format!("{pad}- {}\n", scalar(item)));
                }
            }
        }
        other => out.push_str(&format!("{pad}{}\n", scalar(other))),
    }
}

/// The state's attributes for an imported resource: what AWS reports,
/// sensitive values kept only as their hash.
pub fn recorded(imported: &Imported, sensitive: &[String]) -> Map<String, Value> {
    let mut attributes = (*imported.observed.attributes).clone();
    crate::state::redact_fields(&mut attributes, sensitive);
    attributes
}

/// The report: what came over, what was folded, what was left and why.
pub fn report(
    classified: &Classified,
    imported: &[Imported],
    missing: &[(String, String)],
) -> String {
    let mut out = String::new();
    let by_name: BTreeMap<&str, &Imported> =
        imported.iter().map(|i| (i.name.as_str(), i)).collect();
    out.push_str(&format!("Imported {} resources:\n", imported.len()));
    for c in &classified.candidates {
        if by_name.contains_key(c.name.as_str()) {
            out.push_str(&format!(
                "  {} -> {}.{}\n",
                c.tf_address, c.type_name, c.name
            ));
        }
    }
    if !classified.folded.is_empty() {
        out.push_str("Part of an imported resource:\n");
        for (address, t) in &classified.folded {
            out.push_str(&format!("  {address} (in its {t})\n"));
        }
    }
    if !classified.left_out.is_empty() || !missing.is_empty() {
        out.push_str("Left out (Terraform keeps managing them, or delete them from its state once cairn covers them):\n");
        for (address, why) in classified.left_out.iter().chain(missing) {
            out.push_str(&format!("  {address}: {why}\n"));
        }
    }
    out
}

/// Stacks imported one environment at a time (same project, same
/// resources) made into a base stack and one file per environment: what is
/// equal stays in the base, a name that differs only by the environment's
/// name becomes `${env}`, anything else a variable each environment sets.
/// Gives the base and each environment's file.
pub fn merge(envs: &[(String, Value)]) -> Result<(Value, Vec<(String, Value)>), String> {
    let [(first_env, first), rest @ ..] = envs else {
        return Err("nothing to merge".into());
    };
    if rest.is_empty() {
        return Err("merge needs two environments or more".into());
    }
    for (env, doc) in rest {
        if doc["project"] != first["project"] {
            return Err(format!(
                "{env} is project {} and {first_env} is {}: one project's environments merge",
                doc["project"], first["project"]
            ));
        }
        let names = |d: &Value| -> Vec<String> {
            d["resources"]
                .as_object()
                .map(|r| r.keys().cloned().collect())
                .unwrap_or_default()
        };
        if names(doc) != names(first) {
            let only = |a: &Value, b: &Value| -> Vec<String> {
                names(a)
                    .into_iter()
                    .filter(|n| !names(b).contains(n))
                    .collect()
            };
            return Err(format!(
                "the environments hold different resources (only in {first_env}: {:?}; only in {env}: {:?}); a resource cairn leaves out of one would be deleted from it",
                only(first, doc),
                only(doc, first)
            ));
        }
    }
    let mut base = Map::new();
    base.insert("#".into(), json!(format!("Merged by `cairn import --merge` from {}: what they share. Each environment's file sets `values:`.", envs.iter().map(|(e, _)| e.as_str()).collect::<Vec<_>>().join(", "))));
    base.insert("project".into(), first["project"].clone());
    let same_region = envs.iter().all(|(_, d)| d["region"] == first["region"]);
    if same_region {
        base.insert("region".into(), first["region"].clone());
    }
    let mut variables = Map::new();
    for (_, doc) in envs {
        if let Some(Value::Object(v)) = doc.get("variables") {
            for (k, decl) in v {
                variables.insert(k.clone(), decl.clone());
            }
        }
    }
    let mut values: Vec<Map<String, Value>> = vec![Map::new(); envs.len()];
    let mut resources = Map::new();
    for (name, resource) in first["resources"].as_object().into_iter().flatten() {
        let mut properties = Map::new();
        let all: Vec<&Map<String, Value>> = envs
            .iter()
            .map(|(_, d)| {
                d["resources"][name]["properties"]
                    .as_object()
                    .expect("properties")
            })
            .collect();
        let mut keys: Vec<&String> = all.iter().flat_map(|p| p.keys()).collect();
        keys.sort();
        keys.dedup();
        for key in keys {
            // Left out of one file: the stack's default, as the import wrote it.
            let default = resource["type"]
                .as_str()
                .and_then(types::find)
                .and_then(|t| t.schema.field(key))
                .and_then(|f| f.fallback.value())
                .unwrap_or(Value::Null);
            let each: Vec<Value> = all
                .iter()
                .map(|p| p.get(key).cloned().unwrap_or_else(|| default.clone()))
                .collect();
            if each.iter().all(|v| *v == each[0]) {
                properties.insert(key.clone(), each[0].clone());
                continue;
            }
            // `app-dev-table` and `app-prod-table` are `app-${env}-table`.
            let templated: Vec<Option<String>> = each
                .iter()
                .zip(envs)
                .map(|(v, (env, _))| {
                    v.as_str()
                        .filter(|s| s.contains(env.as_str()))
                        .map(|s| s.replace(env.as_str(), "${env}"))
                })
                .collect();
            if templated.iter().all(|t| t.is_some() && *t == templated[0]) {
                properties.insert(key.clone(), json!(templated[0]));
                continue;
            }
            let variable = format!("{name}_{key}");
            variables.insert(
                variable.clone(),
                json!({ "description": format!("{name}'s {key}, which differs between environments") }),
            );
            for (i, v) in each.into_iter().enumerate() {
                values[i].insert(variable.clone(), v);
            }
            properties.insert(key.clone(), json!(format!("${{var.{variable}}}")));
        }
        resources.insert(
            name.clone(),
            json!({ "type": resource["type"], "properties": properties }),
        );
    }
    if !variables.is_empty() {
        base.insert("variables".into(), Value::Object(variables));
    }
    base.insert("resources".into(), Value::Object(resources));
    let files = envs
        .iter()
        .zip(values)
        .map(|((env, doc), values)| {
            let mut file = Map::new();
            file.insert("extends".into(), json!("base.yaml"));
            file.insert("environment".into(), doc["environment"].clone());
            if !same_region {
                file.insert("region".into(), doc["region"].clone());
            }
            if !values.is_empty() {
                file.insert("values".into(), Value::Object(values));
            }
            (env.clone(), Value::Object(file))
        })
        .collect();
    Ok((Value::Object(base), files))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_real_state_sorts_into_imported_folded_and_left_out() {
        let state: Value =
            serde_json::from_str(include_str!("../tests/terraform/states/warehouse.tfstate"))
                .unwrap();
        let c = classify(&state).unwrap();
        let imported: Vec<(&str, &str, &str)> = c
            .candidates
            .iter()
            .map(|c| (c.tf_address.as_str(), c.type_name, c.id.as_str()))
            .collect();
        assert_eq!(
            imported,
            vec![
                (
                    "aws_api_gateway_api_key.warehouse_api_key",
                    "api_key",
                    "w4u8gdrivi"
                ),
                (
                    "aws_api_gateway_usage_plan.warehouse_usage_plan",
                    "usage_plan",
                    "i1gmk4"
                ),
                (
                    "aws_dynamodb_table.warehouse_robot_logs",
                    "dynamodb_table",
                    "WarehouseRobotLogs"
                ),
                (
                    "aws_iam_role.lambda_exec_role",
                    "iam_role",
                    "lambda_exec_role"
                ),
                (
                    "aws_lambda_function.get_all_data",
                    "lambda_function",
                    "GetAllWarehouseData"
                ),
                (
                    "aws_lambda_permission.api_gateway_invoke",
                    "lambda_permission",
                    "GetAllWarehouseData/AllowAPIGatewayInvoke"
                ),
            ]
        );
        assert_eq!(
            c.folded,
            vec![
                (
                    "aws_api_gateway_usage_plan_key.warehouse_usage_plan_key".to_owned(),
                    "usage_plan"
                ),
                (
                    "aws_iam_role_policy_attachment.lambda_exec_policy_attach".to_owned(),
                    "iam_role"
                ),
            ]
        );
        let left: Vec<&str> = c.left_out.iter().map(|(a, _)| a.as_str()).collect();
        assert!(left.contains(&"aws_api_gateway_rest_api.warehouse_api"));
        assert!(left.contains(&"aws_api_gateway_method.get_method"));
        assert!(left.contains(&"aws_iam_policy.lambda_dynamodb_policy"));
        assert_eq!(left.len(), 14, "{left:?}");
    }

    #[test]
    fn what_aws_does_not_report_comes_from_terraform_but_never_a_secret() {
        let observed = Observed {
            id: "k".into(),
            attributes: json!({"description": "d"})
                .as_object()
                .cloned()
                .unwrap()
                .into(),
            outputs: Map::new(),
        };
        let terraform = json!({"deletion_window_in_days": 7, "description": "old", "policy": "{}"});
        let key = Imported::new(
            "key".into(),
            "kms_key",
            observed,
            terraform.as_object().unwrap(),
        );
        assert_eq!(key.observed.attributes["deletion_window_in_days"], 7);
        assert_eq!(
            key.observed.attributes["description"], "d",
            "AWS's word wins"
        );
        let observed = Observed {
            id: "a".into(),
            attributes: Map::new().into(),
            outputs: Map::new(),
        };
        let terraform = json!({"value": "plain-text-secret", "name": "n"});
        let api_key = Imported::new(
            "k".into(),
            "api_key",
            observed,
            terraform.as_object().unwrap(),
        );
        assert!(!api_key.observed.attributes.contains_key("value"));
        assert_eq!(api_key.observed.attributes["name"], "n");
    }

    #[test]
    fn environments_merge_into_a_base_and_their_values() {
        let doc = |env: &str, memory: i64, extra: bool| {
            let mut resources = json!({
                "table": {"type": "dynamodb_table", "properties": {"name": format!("app-{env}-t"), "hash_key": {"name": "id", "type": "S"}}},
                "f": {"type": "lambda_function", "properties": {"memory_size": memory, "role_arn": "${r.arn}"}},
            });
            if extra {
                resources["x"] = json!({"type": "log_group", "properties": {}});
            }
            json!({"project": "app", "environment": env, "region": "us-east-1", "resources": resources})
        };
        let (base, files) = merge(&[
            ("dev".into(), doc("dev", 128, false)),
            ("prod".into(), doc("prod", 1024, false)),
        ])
        .unwrap();
        assert_eq!(
            base["resources"]["table"]["properties"]["name"],
            "app-${env}-t"
        );
        assert_eq!(
            base["resources"]["f"]["properties"]["memory_size"],
            "${var.f_memory_size}"
        );
        assert_eq!(base["resources"]["f"]["properties"]["role_arn"], "${r.arn}");
        assert_eq!(base["region"], "us-east-1");
        assert_eq!(
            files[0].1,
            json!({"extends": "base.yaml", "environment": "dev", "values": {"f_memory_size": 128}})
        );
        assert_eq!(files[1].1["values"]["f_memory_size"], 1024);
        // A resource in one environment only is refused, not dropped.
        let error = merge(&[
            ("dev".into(), doc("dev", 1, true)),
            ("prod".into(), doc("prod", 1, false)),
        ])
        .unwrap_err();
        assert!(error.contains("only in dev: [\"x\"]"), "{error}");
    }

    #[test]
    fn only_format_4_is_read() {
        assert!(classify(&json!({"version": 3, "modules": []})).is_err());
    }

    #[test]
    fn names_are_cairn_names_and_unique() {
        assert_eq!(
            cairn_name(
                Some("module.api"),
                "Main-Table",
                Some(&json!("a b")),
                &[],
                "t"
            ),
            "api_main_table_a_b"
        );
        assert_eq!(
            cairn_name(None, "x", None, &["x".into()], "iam_role"),
            "x_iam_role"
        );
        assert_eq!(cairn_name(None, "1st", None, &[], "t"), "r_1st");
    }

    #[test]
    fn yaml_reads_back_as_the_same_value() {
        let value = json!({
            "project": "p",
            "resources": {
                "t": {"type": "dynamodb_table", "properties": {
                    "hash_key": {"name": "id", "type": "S"},
                    "tags": {},
                    "list": [{"a": 1, "b": [true, null]}, "x: y", "quote \" and \\ and ${x}"],
                    "weird key": 1.5,
                }},
            },
        });
        let text = yaml(&value);
        let back: Value = serde_saphyr::from_str(&text).unwrap();
        assert_eq!(back, value, "{text}");
    }

    #[test]
    fn other_resources_values_become_references_without_cycles() {
        let stands_for = vec![
            (
                "arn:aws:dynamodb:r:1:table/T".to_owned(),
                "${t.arn}".to_owned(),
                "t",
            ),
            ("T".to_owned(), "${t.name}".to_owned(), "t"),
            (
                "arn:aws:iam::1:role/r".to_owned(),
                "${r.arn}".to_owned(),
                "r",
            ),
        ];
        let mut edges = Vec::new();
        let value = json!({
            "Resource": "arn:aws:dynamodb:r:1:table/T/index/*",
            "Table": "T",
            "Other": "Tx",
            "Literal": "${not a reference}",
        });
        assert_eq!(
            refer(&value, "f", &stands_for, &mut edges),
            json!({
                "Resource": "${t.arn}/index/*",
                "Table": "${t.name}",
                "Other": "Tx",
                "Literal": "$${not a reference}",
            })
        );
        // t refers to f already: f's reference to t would close a cycle.
        let mut edges = vec![("t".to_owned(), "f".to_owned())];
        assert_eq!(refer(&json!("T"), "f", &stands_for, &mut edges), json!("T"));
    }
}
