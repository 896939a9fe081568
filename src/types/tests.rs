//! Every registered type has all its parts, and its code reads only the
//! fields its schema declares.

use super::{all, registry, Unmanaged};
use crate::schema::{Field, Kind, Schema};
use std::collections::BTreeSet;

/// The source of each type's module, to check the keys its code reads.
const SOURCES: &[(&str, &str)] = &[
    ("iam_role", include_str!("iam_role.rs")),
    ("dynamodb_table", include_str!("dynamodb_table.rs")),
    ("log_group", include_str!("log_group.rs")),
    ("kms_key", include_str!("kms_key.rs")),
    ("kms_alias", include_str!("kms_alias.rs")),
    ("ecr_repository", include_str!("ecr_repository.rs")),
    ("cloudwatch_alarm", include_str!("cloudwatch_alarm.rs")),
    (
        "cloudwatch_dashboard",
        include_str!("cloudwatch_dashboard.rs"),
    ),
    ("lambda_function", include_str!("lambda_function.rs")),
    ("lambda_permission", include_str!("lambda_permission.rs")),
    ("http_api", include_str!("http_api.rs")),
    ("sns_topic", include_str!("sns_topic.rs")),
    ("sns_subscription", include_str!("sns_subscription.rs")),
    ("log_metric_filter", include_str!("log_metric_filter.rs")),
    ("vpc", include_str!("vpc.rs")),
    ("subnet", include_str!("subnet.rs")),
    ("internet_gateway", include_str!("internet_gateway.rs")),
    ("route_table", include_str!("route_table.rs")),
    ("security_group", include_str!("security_group.rs")),
    ("nat_gateway", include_str!("nat_gateway.rs")),
    ("vpc_endpoint", include_str!("vpc_endpoint.rs")),
    (
        "secretsmanager_secret",
        include_str!("secretsmanager_secret.rs"),
    ),
    ("db_subnet_group", include_str!("db_subnet_group.rs")),
    ("db_instance", include_str!("db_instance.rs")),
    ("rest_api", include_str!("rest_api.rs")),
    ("api_key", include_str!("api_key.rs")),
    ("usage_plan", include_str!("usage_plan.rs")),
];

/// An ARN of each type, and the id inside it.
const ARNS: &[(&str, &str, Option<&str>)] = &[
    ("iam_role", "arn:aws:iam::1:role/svc/r", Some("r")),
    (
        "dynamodb_table",
        "arn:aws:dynamodb:us-east-1:1:table/t",
        Some("t"),
    ),
    (
        "log_group",
        "arn:aws:logs:us-east-1:1:log-group:/a/b:*",
        Some("/a/b"),
    ),
    ("kms_key", "arn:aws:kms:us-east-1:1:key/k-1", Some("k-1")),
    (
        "kms_alias",
        "arn:aws:kms:us-east-1:1:alias/a",
        Some("alias/a"),
    ),
    (
        "ecr_repository",
        "arn:aws:ecr:us-east-1:1:repository/r",
        Some("r"),
    ),
    (
        "cloudwatch_alarm",
        "arn:aws:cloudwatch:us-east-1:1:alarm:a",
        Some("a"),
    ),
    (
        "cloudwatch_dashboard",
        "arn:aws:cloudwatch::1:dashboard/d",
        Some("d"),
    ),
    (
        "lambda_function",
        "arn:aws:lambda:us-east-1:1:function:f",
        Some("f"),
    ),
    (
        "lambda_permission",
        "arn:aws:lambda:us-east-1:1:function:f",
        None,
    ),
    (
        "http_api",
        "arn:aws:apigateway:us-east-1::/apis/a1",
        Some("a1"),
    ),
    (
        "sns_topic",
        "arn:aws:sns:us-east-1:1:alerts",
        Some("alerts"),
    ),
    (
        "sns_subscription",
        "arn:aws:sns:us-east-1:1:alerts:0f1e",
        Some("arn:aws:sns:us-east-1:1:alerts:0f1e"),
    ),
    (
        "log_metric_filter",
        "arn:aws:logs:us-east-1:1:log-group:/g",
        None,
    ),
    (
        "vpc",
        "arn:aws:ec2:us-east-1:1:vpc/vpc-0a1",
        Some("vpc-0a1"),
    ),
    (
        "subnet",
        "arn:aws:ec2:us-east-1:1:subnet/subnet-0a1",
        Some("subnet-0a1"),
    ),
    (
        "internet_gateway",
        "arn:aws:ec2:us-east-1:1:internet-gateway/igw-0a1",
        Some("igw-0a1"),
    ),
    (
        "route_table",
        "arn:aws:ec2:us-east-1:1:route-table/rtb-0a1",
        Some("rtb-0a1"),
    ),
    (
        "security_group",
        "arn:aws:ec2:us-east-1:1:security-group/sg-0a1",
        Some("sg-0a1"),
    ),
    (
        "nat_gateway",
        "arn:aws:ec2:us-east-1:1:natgateway/nat-0a1",
        Some("nat-0a1"),
    ),
    (
        "vpc_endpoint",
        "arn:aws:ec2:us-east-1:1:vpc-endpoint/vpce-0a1",
        Some("vpce-0a1"),
    ),
    (
        "secretsmanager_secret",
        "arn:aws:secretsmanager:us-east-1:1:secret:app/db-AbCdEf",
        Some("app/db"),
    ),
    (
        "db_subnet_group",
        "arn:aws:rds:us-east-1:1:subgrp:private",
        Some("private"),
    ),
    (
        "db_instance",
        "arn:aws:rds:us-east-1:1:db:chat",
        Some("chat"),
    ),
    (
        "rest_api",
        "arn:aws:apigateway:us-east-1::/restapis/a1b2/stages/api",
        Some("a1b2"),
    ),
    (
        "api_key",
        "arn:aws:apigateway:us-east-1::/apikeys/k1",
        Some("k1"),
    ),
    (
        "usage_plan",
        "arn:aws:apigateway:us-east-1::/usageplans/u1",
        Some("u1"),
    ),
];

/// Types whose id AWS assigns and that cannot be tagged: their `find`
/// looks them up by what makes them unique.
const FOUND_BY_PROPERTIES: &[&str] = &["sns_subscription"];

/// Keys the code may read that are not schema fields: what the planner
/// adds (the built package) and what reads put in attributes.
const EXTRA_KEYS: &[&str] = &["code_sha256", "code_zip"];

fn field_names(fields: &[Field], out: &mut BTreeSet<&'static str>) {
    for field in fields {
        out.insert(field.name);
        if let Kind::Object(inner) | Kind::ObjectList(inner) | Kind::ObjectSet(inner) = field.kind {
            field_names(inner, out);
        }
    }
}

fn all_fields(schema: &Schema) -> BTreeSet<&'static str> {
    let mut out: BTreeSet<&'static str> = schema.outputs.iter().copied().collect();
    field_names(schema.fields, &mut out);
    out
}

#[test]
fn every_type_is_registered_once_with_all_its_parts() {
    let names: BTreeSet<&str> = all().iter().map(|t| t.schema.type_name).collect();
    assert_eq!(names.len(), all().len(), "a type is registered twice");
    let sourced: BTreeSet<&str> = SOURCES.iter().map(|(n, _)| *n).collect();
    assert_eq!(names, sourced, "SOURCES must list every type's module");
    let arns: BTreeSet<&str> = ARNS.iter().map(|(n, _, _)| *n).collect();
    assert_eq!(names, arns, "ARNS must have an example of every type");
    for registered in registry() {
        let t = registered.spec;
        let schema = t.schema;
        let name = schema.type_name;
        assert!(!schema.description.is_empty(), "{name}: no description");
        // Tags: a field exactly on taggable types, and what drift can find.
        let has_tags = schema.fields.iter().any(|f| f.name == "tags" && f.compared);
        assert_eq!(has_tags, schema.taggable, "{name}: tags field vs taggable");
        assert_eq!(
            matches!(registered.unmanaged, Unmanaged::NotTaggable),
            !schema.taggable,
            "{name}: drift search vs taggable"
        );
        assert!(
            !t.bulk_tagged || schema.taggable,
            "{name}: bulk tags of an untaggable type"
        );
        // Identity: a type AWS names is found again by ownership tags, or
        // by the properties that make it unique (its `find` says how).
        let named = serde_json::json!({"name": "n", "function_name": "f", "statement_id": "s"});
        let id = (t.planned_id)(named.as_object().unwrap());
        assert!(
            id.is_some() || schema.taggable || FOUND_BY_PROPERTIES.contains(&name),
            "{name}: an assigned id needs ownership tags (or a `find` by properties) to be found again"
        );
        if id.is_some() && name != "lambda_permission" {
            assert!(
                schema.field("name").is_some(),
                "{name}: named by a field it lacks"
            );
        }
        let (_, arn, expected) = ARNS.iter().find(|(n, _, _)| *n == name).unwrap();
        assert_eq!(
            (t.id_from_arn)(arn).as_deref(),
            *expected,
            "{name}: id in its ARN"
        );
    }
}

/// A misspelt key would read as "" or nothing: every key the type's code
/// reads by name is one its schema declares (a field at any depth, or an
/// output).
#[test]
fn type_code_reads_only_declared_fields() {
    let pattern = |source: &str| -> Vec<String> {
        let mut keys = Vec::new();
        for call in [
            "text(",
            "int(",
            "flag(",
            "strings(",
            "string_map(",
            "object(",
        ] {
            for (i, _) in source.match_indices(call) {
                // `text(desired, "key")`: the first string literal in the call.
                let rest = &source[i + call.len()..];
                let Some(close) = rest.find(')') else {
                    continue;
                };
                let args = &rest[..close];
                if let Some(start) = args.find(", \"") {
                    let key = &args[start + 3..];
                    if let Some(end) = key.find('"') {
                        keys.push(key[..end].to_owned());
                    }
                }
            }
        }
        keys
    };
    for (name, source) in SOURCES {
        let schema = super::find(name).unwrap().schema;
        let fields = all_fields(schema);
        for key in pattern(source) {
            assert!(
                fields.contains(key.as_str()) || EXTRA_KEYS.contains(&key.as_str()),
                "{name}: the code reads `{key}`, which its schema does not declare"
            );
        }
    }
}

/// Every type maps to Terraform's types (the Terraform JSON plan needs it),
/// and names only the types it declares, the main one first.
#[test]
fn every_type_has_a_terraform_mapping() {
    for t in all() {
        let name = t.schema.type_name;
        let mapping = &t.terraform;
        assert!(!mapping.types.is_empty(), "{name}: no Terraform types");
        for tf in mapping.types {
            assert!(tf.starts_with("aws_"), "{name}: {tf} is not an aws_ type");
        }
        let mapped = (mapping.map)(&serde_json::Map::new());
        assert_eq!(
            mapped.first().map(|m| m.type_name),
            Some(mapping.main_type()),
            "{name}: the main Terraform type comes first"
        );
        for m in &mapped {
            assert!(
                mapping.types.contains(&m.type_name),
                "{name}: maps to {} but does not declare it",
                m.type_name
            );
        }
    }
    // No two cairn types claim one Terraform type as their main one: an
    // import must know which cairn type a Terraform resource becomes.
    let mut mains: Vec<&str> = all().iter().map(|t| t.terraform.main_type()).collect();
    mains.sort_unstable();
    let count = mains.len();
    mains.dedup();
    assert_eq!(
        mains.len(),
        count,
        "a Terraform type is the main type of two cairn types"
    );
}

/// The README's mapping table lists every type as its mapping declares it.
#[test]
fn the_readme_lists_every_terraform_mapping() {
    let readme = include_str!("../../README.md");
    for t in all() {
        let row = format!(
            "| `{}` | {} |",
            t.schema.type_name,
            t.terraform
                .types
                .iter()
                .map(|x| format!("`{x}`"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        assert!(readme.contains(&row), "README.md lacks the row:\n{row}");
    }
}

/// A value of a field's kind, with every nested field set: what makes a
/// mapping write every block it can.
fn example(kind: Kind) -> serde_json::Value {
    use serde_json::json;
    let object = |fields: &[Field]| {
        serde_json::Value::Object(
            fields
                .iter()
                .map(|f| (f.name.to_owned(), example(f.kind)))
                .collect(),
        )
    };
    match kind {
        Kind::Str => json!("x"),
        Kind::Int => json!(1),
        Kind::Float => json!(1.5),
        Kind::Bool => json!(true),
        Kind::StrList | Kind::StrSet => json!(["x"]),
        Kind::StrMap => json!({"k": "v"}),
        Kind::Policy | Kind::Json => {
            json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})
        }
        Kind::PolicyMap => json!({"p": example(Kind::Policy)}),
        Kind::Object(fields) => object(fields),
        Kind::ObjectList(fields) | Kind::ObjectSet(fields) => json!([object(fields)]),
    }
}

/// Each mapping writes only what the hashicorp/aws provider's schema has
/// (`terraform_schema.json`), with nothing set and with everything set,
/// and the schema lists every Terraform type a mapping declares.
#[test]
fn every_mapping_writes_only_the_providers_attributes() {
    for t in all() {
        let name = t.schema.type_name;
        for tf_type in t.terraform.types {
            super::terraform::schema(tf_type);
        }
        let mut full = serde_json::Map::new();
        for field in t.schema.fields {
            full.insert(field.name.to_owned(), example(field.kind));
        }
        for output in t.schema.outputs {
            full.insert((*output).to_owned(), serde_json::json!("x"));
        }
        for attributes in [serde_json::Map::new(), full] {
            for mapped in (t.terraform.map)(&attributes) {
                let schema = super::terraform::schema(mapped.type_name);
                let unknown = super::terraform::unknown_names(&schema.block, &mapped.values, "");
                assert!(
                    unknown.is_empty(),
                    "{name}: {} has no {unknown:?} in the provider's schema",
                    mapped.type_name
                );
            }
        }
    }
}
