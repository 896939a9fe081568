//! Reading the stack's lookups: objects that exist and are not the
//! stack's. Only reads: nothing here creates, changes or deletes. A lookup
//! that must find one object and finds none or several is an error that
//! says what it found.

use crate::aws::{missing, Aws, AwsError};
use crate::model::expr;
use crate::model::lookup::{Found, LookupKind};
use crate::plan::Given;
use crate::stack::Lookup;
use crate::types::ec2::{errors as ec2_errors, filter};
use aws_sdk_ec2::types::Filter;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

#[derive(Debug, thiserror::Error)]
pub enum LookupError {
    /// AWS failed to answer (classified as every AWS error is).
    #[error(transparent)]
    Aws(AwsError),
    /// It found none, or several where it needs one.
    #[error("{0}")]
    NotOne(String),
}

/// Every lookup, each after the lookups it uses.
pub async fn read(
    aws: &Aws,
    lookups: &BTreeMap<String, Lookup>,
) -> Result<BTreeMap<String, Found>, LookupError> {
    let graph = crate::graph::Graph::new(
        lookups
            .values()
            .map(|l| (l.name.as_str(), l.after.as_slice())),
    );
    let mut found: BTreeMap<String, Found> = BTreeMap::new();
    let no_imports = BTreeMap::new();
    for name in graph.order() {
        let lookup = &lookups[&name];
        let place = format!(
            "lookup `{}` ({}:{})",
            lookup.name,
            lookup.file.display(),
            lookup.line
        );
        let given = Given {
            imports: &no_imports,
            lookups: &found,
        };
        let parameters =
            crate::plan::imported_substitute(&Value::Object(lookup.parameters.clone()), &given)
                .and_then(|v| expr::evaluate_value(&v, &mut |_| expr::Lookup::Unknown))
                .map_err(|e| LookupError::NotOne(format!("{place}: {e}")))?;
        let parameters = parameters.as_object().cloned().unwrap_or_default();
        let values =
            read_one(aws, lookup.kind, &parameters)
                .await
                .map_err(|error| match error {
                    LookupError::Aws(e) => LookupError::Aws(AwsError::new(
                        e.class,
                        e.operation,
                        format!("{place}: {}", e.message),
                    )),
                    LookupError::NotOne(message) => {
                        LookupError::NotOne(format!("{place}: {message}"))
                    }
                })?;
        found.insert(
            name,
            Found {
                kind: lookup.kind,
                values,
            },
        );
    }
    Ok(found)
}

async fn read_one(
    aws: &Aws,
    kind: LookupKind,
    parameters: &Map<String, Value>,
) -> Result<Map<String, Value>, LookupError> {
    let text = |key: &str| parameters.get(key).and_then(Value::as_str);
    match kind {
        LookupKind::Vpc => vpc(aws, parameters).await,
        LookupKind::Subnets => subnets(aws, text("vpc_id").unwrap_or_default(), parameters).await,
        LookupKind::AvailabilityZones => zones(aws).await,
        LookupKind::Secret => secret(aws, text("name").unwrap_or_default()).await,
        LookupKind::IamRole => role(aws, text("name").unwrap_or_default()).await,
        LookupKind::SsmParameter => parameter(aws, text("name").unwrap_or_default()).await,
    }
}

/// `tags: {K: V}` as EC2 filters.
fn tag_filters(parameters: &Map<String, Value>) -> Vec<Filter> {
    parameters
        .get("tags")
        .and_then(Value::as_object)
        .map(|tags| {
            tags.iter()
                .map(|(k, v)| filter(&format!("tag:{k}"), v.as_str().unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default()
}

/// What the parameters ask for, for messages: `id vpc-1, tags {Tier: a}`.
fn asked(parameters: &Map<String, Value>) -> String {
    let mut parts = Vec::new();
    for (key, value) in parameters {
        let shown = match value {
            Value::String(text) => text.clone(),
            Value::Object(map) => format!(
                "{{{}}}",
                map.iter()
                    .map(|(k, v)| format!("{k}: {}", v.as_str().unwrap_or_default()))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            other => other.to_string(),
        };
        parts.push(format!("{key} {shown}"));
    }
    parts.join(", ")
}

fn aws_error(error: AwsError) -> LookupError {
    LookupError::Aws(error)
}

async fn vpc(
    aws: &Aws,
    parameters: &Map<String, Value>,
) -> Result<Map<String, Value>, LookupError> {
    let mut filters = tag_filters(parameters);
    if parameters.get("default") == Some(&Value::Bool(true)) {
        filters.push(filter("is-default", "true"));
    }
    let id = parameters.get("id").and_then(Value::as_str);
    if let Some(id) = id {
        filters.push(filter("vpc-id", id));
    }
    // By filter, not by id: an id that is not there is "none found", as
    // for tags, rather than an error code to tell apart.
    let output = aws
        .send(
            "DescribeVpcs",
            || {
                aws.ec2()
                    .describe_vpcs()
                    .set_filters(Some(filters.clone()))
                    .send()
            },
            ec2_errors,
        )
        .await
        .map_err(aws_error)?;
    let vpcs = output.vpcs();
    match vpcs {
        [one] => {
            let id = one.vpc_id().unwrap_or_default();
            let mut values = Map::new();
            values.insert("id".into(), json!(id));
            values.insert("arn".into(), json!(crate::types::ec2::arn(aws, "vpc", id)));
            values.insert(
                "cidr_block".into(),
                json!(one.cidr_block().unwrap_or_default()),
            );
            Ok(values)
        }
        [] => Err(LookupError::NotOne(format!(
            "found no VPC with {}",
            asked(parameters)
        ))),
        several => {
            let mut ids: Vec<&str> = several.iter().filter_map(|v| v.vpc_id()).collect();
            ids.sort();
            Err(LookupError::NotOne(format!(
                "found {} VPCs with {} ({}); it needs exactly one: narrow it with `id` or more `tags`",
                ids.len(),
                asked(parameters),
                ids.join(", ")
            )))
        }
    }
}

async fn subnets(
    aws: &Aws,
    vpc_id: &str,
    parameters: &Map<String, Value>,
) -> Result<Map<String, Value>, LookupError> {
    let mut filters = tag_filters(parameters);
    filters.push(filter("vpc-id", vpc_id));
    let mut found = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let output = aws
            .send(
                "DescribeSubnets",
                || {
                    aws.ec2()
                        .describe_subnets()
                        .set_filters(Some(filters.clone()))
                        .set_next_token(token.clone())
                        .send()
                },
                ec2_errors,
            )
            .await
            .map_err(aws_error)?;
        for subnet in output.subnets() {
            found.push((
                subnet.subnet_id().unwrap_or_default().to_owned(),
                subnet.cidr_block().unwrap_or_default().to_owned(),
                subnet.availability_zone().unwrap_or_default().to_owned(),
            ));
        }
        token = output.next_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    if found.is_empty() {
        // An empty list would put a function or a database nowhere, or
        // outside the VPC: a mistyped tag must not do that quietly.
        return Err(LookupError::NotOne(format!(
            "found no subnets with {}",
            asked(parameters)
        )));
    }
    found.sort();
    let column = |pick: fn(&(String, String, String)) -> &String| -> Value {
        found.iter().map(|s| json!(pick(s))).collect()
    };
    let mut values = Map::new();
    values.insert("ids".into(), column(|s| &s.0));
    values.insert("cidr_blocks".into(), column(|s| &s.1));
    values.insert("availability_zones".into(), column(|s| &s.2));
    Ok(values)
}

async fn zones(aws: &Aws) -> Result<Map<String, Value>, LookupError> {
    let output = aws
        .send(
            "DescribeAvailabilityZones",
            || {
                aws.ec2()
                    .describe_availability_zones()
                    .filters(filter("state", "available"))
                    .send()
            },
            ec2_errors,
        )
        .await
        .map_err(aws_error)?;
    let mut zones: Vec<(String, String)> = output
        .availability_zones()
        .iter()
        .map(|z| {
            (
                z.zone_name().unwrap_or_default().to_owned(),
                z.zone_id().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    if zones.is_empty() {
        return Err(LookupError::NotOne(format!(
            "found no available zones in {}",
            aws.region
        )));
    }
    zones.sort();
    let mut values = Map::new();
    values.insert("names".into(), zones.iter().map(|z| json!(z.0)).collect());
    values.insert(
        "zone_ids".into(),
        zones.iter().map(|z| json!(z.1)).collect(),
    );
    Ok(values)
}

/// A secret's ARN and name. Its value is never read.
async fn secret(aws: &Aws, name: &str) -> Result<Map<String, Value>, LookupError> {
    let answer = crate::aws::present(
        aws.send(
            "DescribeSecret",
            || {
                aws.secretsmanager()
                    .describe_secret()
                    .secret_id(name)
                    .send()
            },
            |e: &aws_sdk_secretsmanager::operation::describe_secret::DescribeSecretError| {
                missing(e.is_resource_not_found_exception())
            },
        )
        .await,
    )
    .map_err(aws_error)?;
    let Some(output) = answer.filter(|o| o.deleted_date().is_none()) else {
        return Err(LookupError::NotOne(format!(
            "found no secret named {name} (or it is scheduled for deletion)"
        )));
    };
    let mut values = Map::new();
    values.insert("arn".into(), json!(output.arn().unwrap_or_default()));
    values.insert("name".into(), json!(output.name().unwrap_or(name)));
    Ok(values)
}

async fn role(aws: &Aws, name: &str) -> Result<Map<String, Value>, LookupError> {
    let answer = crate::aws::present(
        aws.send(
            "GetRole",
            || aws.iam().get_role().role_name(name).send(),
            |e: &aws_sdk_iam::operation::get_role::GetRoleError| {
                missing(e.is_no_such_entity_exception())
            },
        )
        .await,
    )
    .map_err(aws_error)?;
    let Some(role) = answer.and_then(|o| o.role) else {
        return Err(LookupError::NotOne(format!(
            "found no IAM role named {name}"
        )));
    };
    let mut values = Map::new();
    values.insert("arn".into(), json!(role.arn()));
    values.insert("name".into(), json!(role.role_name()));
    values.insert("id".into(), json!(role.role_id()));
    Ok(values)
}

/// A parameter's ARN, type and version, and its value unless it is a
/// SecureString: that one is asked for without decryption and its value
/// left out, so no secret reaches a plan.
async fn parameter(aws: &Aws, name: &str) -> Result<Map<String, Value>, LookupError> {
    let answer = crate::aws::present(
        aws.send(
            "GetParameter",
            || {
                aws.ssm()
                    .get_parameter()
                    .name(name)
                    .with_decryption(false)
                    .send()
            },
            |e: &aws_sdk_ssm::operation::get_parameter::GetParameterError| {
                missing(e.is_parameter_not_found())
            },
        )
        .await,
    )
    .map_err(aws_error)?;
    let Some(parameter) = answer.and_then(|o| o.parameter) else {
        return Err(LookupError::NotOne(format!(
            "found no SSM parameter named {name}"
        )));
    };
    let kind = parameter.r#type().map_or("String", |t| t.as_str());
    let mut values = Map::new();
    values.insert("arn".into(), json!(parameter.arn().unwrap_or_default()));
    values.insert("name".into(), json!(parameter.name().unwrap_or(name)));
    values.insert("type".into(), json!(kind));
    values.insert("version".into(), json!(parameter.version()));
    if kind != "SecureString" {
        values.insert("value".into(), json!(parameter.value().unwrap_or_default()));
    }
    Ok(values)
}
