//! A target group of an application load balancer: where it sends
//! requests (IP targets, as Fargate tasks register), how it checks their
//! health, and how long it drains a target it lets go.

use super::{elb_tags, read_tags, Tags};
use crate::aws::{changed, int, string_map, text, Aws, AwsError};
use crate::model::{ErrorClass, Observed};
use crate::schema::checks as c;
use crate::schema::{no_expansion, Fallback as F, Field, Kind as K, Naming, Problem, Schema, TAGS};
use crate::spec::terraform::Parts;
use crate::spec::{Identity, Spec};
use crate::types::observation;
use crate::types::Tagging;
use crate::types::{read_back, After, Resource, ResourceType, Unmanaged};
use aws_sdk_elasticloadbalancingv2::types::{
    Matcher, ProtocolEnum, TargetGroup as Group, TargetGroupAttribute, TargetTypeEnum,
};
use serde_json::{json, Map, Value};

/// AWS's defaults for an HTTP target group of IP targets.
const HEALTH_CHECK: &[Field] = &[
    Field::new("path", K::Str)
        .or(F::Str("/"))
        .check(health_check_path),
    Field::new("interval", K::Int)
        .or(F::Int(30))
        .check(|v| c::int_range(v, 5, 300, "a health-check interval (seconds)")),
    Field::new("timeout", K::Int)
        .or(F::Int(5))
        .check(|v| c::int_range(v, 2, 120, "a health-check timeout (seconds)")),
    Field::new("healthy_threshold", K::Int)
        .or(F::Int(5))
        .check(|v| c::int_range(v, 2, 10, "a healthy threshold")),
    Field::new("unhealthy_threshold", K::Int)
        .or(F::Int(2))
        .check(|v| c::int_range(v, 2, 10, "an unhealthy threshold")),
    Field::new("matcher", K::Str)
        .or(F::Str("200"))
        .check(matcher),
];

pub static LB_TARGET_GROUP: Schema = Schema {
    type_name: "lb_target_group",
    description: "Target group of an application load balancer (IP targets), with its health check",
    fields: &[
        Field::new("name", K::Str)
            .required()
            .force_new()
            .check(group_name),
        // Instead of a name: cairn makes one from it and a unique suffix,
        // so a replacement can exist beside the old one.
        Field::new("name_prefix", K::Str)
            .force_new()
            .check(name_prefix),
        Field::new("port", K::Int)
            .required()
            .force_new()
            .check(|v| c::int_range(v, 1, 65535, "a port")),
        Field::new("protocol", K::Str)
            .or(F::Str("HTTP"))
            .force_new()
            .one_of(&["HTTP", "HTTPS"], "a target group protocol"),
        // `ip` is what tasks in `awsvpc` mode register as.
        Field::new("target_type", K::Str)
            .or(F::Str("ip"))
            .force_new()
            .one_of(&["ip", "instance"], "a target type"),
        Field::new("vpc_id", K::Str).required().force_new(),
        // Absent: AWS's defaults, not compared.
        Field::new("health_check", K::Object(HEALTH_CHECK)),
        Field::new("deregistration_delay", K::Int)
            .or(F::Int(300))
            .check(|v| c::int_range(v, 0, 3600, "a deregistration delay (seconds)")),
        TAGS,
    ],
    outputs: &["arn", "arn_suffix"],
    taggable: true,
    naming: Naming::Dashed,
    stateful: false,
    expand: no_expansion,
    validate: validate_group,
};

/// 1 to 32 letters, digits and hyphens, no hyphen at either end.
pub fn elb_name(value: &Value, what: &str) -> Result<(), String> {
    let name = value.as_str().ok_or("expected a string")?;
    if name.contains("${") {
        return Ok(());
    }
    let valid = !name.is_empty()
        && name.len() <= 32
        && !name.starts_with('-')
        && !name.ends_with('-')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if valid {
        Ok(())
    } else {
        Err(format!(
            "a {what} name is 1 to 32 letters, digits and hyphens, with no hyphen at either end (`{name}`)"
        ))
    }
}

fn name_prefix(value: &Value) -> Result<(), String> {
    crate::schema::checks::name_prefix(value, 32, group_name)
}

fn group_name(value: &Value) -> Result<(), String> {
    elb_name(value, "target group")
}

fn health_check_path(value: &Value) -> Result<(), String> {
    let path = value.as_str().ok_or("expected a string")?;
    if path.contains("${") || (path.starts_with('/') && path.len() <= 1024) {
        Ok(())
    } else {
        Err(format!(
            "a health-check path starts with `/` and is at most 1024 characters (`{path}`)"
        ))
    }
}

/// HTTP codes: `200`, `200,202`, or a range `200-299`, from 200 to 499.
fn matcher(value: &Value) -> Result<(), String> {
    let text = value.as_str().ok_or("expected a string")?;
    if text.contains("${") {
        return Ok(());
    }
    let code = |c: &str| c.parse::<u16>().ok().filter(|c| (200..=499).contains(c));
    let valid = text.split(',').all(|part| match part.split_once('-') {
        Some((low, high)) => matches!((code(low), code(high)), (Some(l), Some(h)) if l < h),
        None => code(part).is_some(),
    });
    if valid {
        Ok(())
    } else {
        Err(format!(
            "a matcher is HTTP codes from 200 to 499: `200`, `200,202` or `200-299` (`{text}`)"
        ))
    }
}

/// AWS refuses a health check whose timeout is not below its interval.
fn validate_group(properties: &Map<String, Value>) -> Vec<Problem> {
    let Some(check) = properties.get("health_check").and_then(Value::as_object) else {
        return Vec::new();
    };
    let seconds = |k: &str| check.get(k).and_then(Value::as_i64);
    match (seconds("timeout"), seconds("interval")) {
        (Some(timeout), Some(interval)) if timeout >= interval => vec![Problem::new(
            "health_check.timeout",
            format!(
                "a health-check timeout ({timeout} s) must be below its interval ({interval} s)"
            ),
        )],
        _ => Vec::new(),
    }
}

pub struct TargetGroup;

impl TargetGroup {
    async fn describe(&self, aws: &Aws, name: &str) -> Result<Option<Group>, AwsError> {
        let found = aws
            .send(
                "DescribeTargetGroups",
                || aws.elbv2().describe_target_groups().names(name).send(),
                |e| crate::aws::missing(e.is_target_group_not_found_exception()),
            )
            .await;
        match found {
            Ok(output) => Ok(output.target_groups().first().cloned()),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn read_group(&self, aws: &Aws, name: &str) -> Result<Option<Observed>, AwsError> {
        let Some(group) = self.describe(aws, name).await? else {
            return Ok(None);
        };
        let arn = group.target_group_arn().unwrap_or_default().to_owned();
        let attributes_of = aws
            .send(
                "DescribeTargetGroupAttributes",
                || {
                    aws.elbv2()
                        .describe_target_group_attributes()
                        .target_group_arn(&arn)
                        .send()
                },
                |e| crate::aws::missing(e.is_target_group_not_found_exception()),
            )
            .await;
        let delay = match attributes_of {
            Ok(output) => output
                .attributes()
                .iter()
                .find(|a| a.key() == Some("deregistration_delay.timeout_seconds"))
                .and_then(|a| a.value())
                .and_then(|v| v.parse::<i64>().ok()),
            Err(e) if e.is_not_found() => return Ok(None),
            Err(e) => return Err(e),
        };
        let mut attributes = Map::new();
        attributes.insert("name".into(), json!(name));
        attributes.insert("port".into(), json!(group.port()));
        attributes.insert(
            "protocol".into(),
            json!(group.protocol().map(ProtocolEnum::as_str)),
        );
        attributes.insert(
            "target_type".into(),
            json!(group.target_type().map(TargetTypeEnum::as_str)),
        );
        attributes.insert("vpc_id".into(), json!(group.vpc_id()));
        attributes.insert(
            "health_check".into(),
            json!({
                "path": group.health_check_path().unwrap_or("/"),
                "interval": group.health_check_interval_seconds(),
                "timeout": group.health_check_timeout_seconds(),
                "healthy_threshold": group.healthy_threshold_count(),
                "unhealthy_threshold": group.unhealthy_threshold_count(),
                "matcher": group.matcher().and_then(|m| m.http_code()).unwrap_or("200"),
            }),
        );
        attributes.insert("deregistration_delay".into(), json!(delay.unwrap_or(300)));
        attributes.insert("tags".into(), read_tags(aws, &arn).await?);
        Ok(Some(observation(
            name,
            attributes,
            [
                (
                    "arn_suffix",
                    json!(arn.rsplit(':').next().unwrap_or_default()),
                ),
                ("arn", json!(arn)),
            ],
        )))
    }

    async fn set_delay(
        &self,
        aws: &Aws,
        arn: &str,
        desired: &Map<String, Value>,
    ) -> Result<(), AwsError> {
        let delay = int(desired, "deregistration_delay")
            .unwrap_or(300)
            .to_string();
        aws.send(
            "ModifyTargetGroupAttributes",
            || {
                aws.elbv2()
                    .modify_target_group_attributes()
                    .target_group_arn(arn)
                    .attributes(
                        TargetGroupAttribute::builder()
                            .key("deregistration_delay.timeout_seconds")
                            .value(&delay)
                            .build(),
                    )
                    .send()
            },
            |_| None,
        )
        .await?;
        Ok(())
    }

    async fn arn(&self, aws: &Aws, name: &str) -> Result<String, AwsError> {
        let group = read_back(
            self.describe(aws, name).await,
            After::Update,
            "DescribeTargetGroups",
            format!("target group {name} disappeared"),
        )?;
        Ok(group.target_group_arn().unwrap_or_default().to_owned())
    }
}

fn health_check(desired: &Map<String, Value>) -> Option<&Map<String, Value>> {
    desired.get("health_check").and_then(Value::as_object)
}

impl Resource for TargetGroup {
    async fn read(&self, aws: &Aws, id: &str) -> Result<Option<Observed>, AwsError> {
        self.read_group(aws, id).await
    }

    /// The name is unique: a repeat after a lost answer is refused as a
    /// duplicate, and the engine finds the group by its name.
    async fn create(&self, aws: &Aws, desired: &Map<String, Value>) -> Result<Observed, AwsError> {
        let name = text(desired, "name");
        let check = health_check(desired);
        let seconds = |k: &str| check.and_then(|c| int(c, k)).map(|v| v as i32);
        let created = aws
            .send(
                "CreateTargetGroup",
                || {
                    aws.elbv2()
                        .create_target_group()
                        .name(name)
                        .port(int(desired, "port").unwrap_or_default() as i32)
                        .protocol(ProtocolEnum::from(text(desired, "protocol")))
                        .target_type(TargetTypeEnum::from(text(desired, "target_type")))
                        .vpc_id(text(desired, "vpc_id"))
                        .set_health_check_path(check.map(|c| text(c, "path").to_owned()))
                        .set_health_check_interval_seconds(seconds("interval"))
                        .set_health_check_timeout_seconds(seconds("timeout"))
                        .set_healthy_threshold_count(seconds("healthy_threshold"))
                        .set_unhealthy_threshold_count(seconds("unhealthy_threshold"))
                        .set_matcher(
                            check.map(|c| Matcher::builder().http_code(text(c, "matcher")).build()),
                        )
                        .set_tags(Some(elb_tags(&string_map(desired, "tags"))))
                        .send()
                },
                |e| {
                    e.is_duplicate_target_group_name_exception()
                        .then_some(ErrorClass::AlreadyExists)
                },
            )
            .await?;
        let arn = created
            .target_groups()
            .first()
            .and_then(|g| g.target_group_arn())
            .unwrap_or_default()
            .to_owned();
        if int(desired, "deregistration_delay") != Some(300) {
            self.set_delay(aws, &arn, desired).await?;
        }
        read_back(
            self.read_group(aws, name).await,
            After::Create,
            "DescribeTargetGroups",
            format!("target group {name} not visible yet"),
        )
    }

    async fn update(
        &self,
        aws: &Aws,
        id: &str,
        before: &Map<String, Value>,
        after: &Map<String, Value>,
        fields: &[String],
    ) -> Result<Observed, AwsError> {
        let arn = self.arn(aws, id).await?;
        if changed(fields, "health_check") {
            if let Some(check) = health_check(after) {
                let seconds = |k: &str| int(check, k).unwrap_or_default() as i32;
                aws.send(
                    "ModifyTargetGroup",
                    || {
                        aws.elbv2()
                            .modify_target_group()
                            .target_group_arn(&arn)
                            .health_check_path(text(check, "path"))
                            .health_check_interval_seconds(seconds("interval"))
                            .health_check_timeout_seconds(seconds("timeout"))
                            .healthy_threshold_count(seconds("healthy_threshold"))
                            .unhealthy_threshold_count(seconds("unhealthy_threshold"))
                            .matcher(Matcher::builder().http_code(text(check, "matcher")).build())
                            .send()
                    },
                    |e| crate::aws::missing(e.is_target_group_not_found_exception()),
                )
                .await?;
            }
        }
        if changed(fields, "deregistration_delay") {
            self.set_delay(aws, &arn, after).await?;
        }
        if changed(fields, "tags") {
            Tags.retag(aws, &arn, before, after).await?;
        }
        read_back(
            self.read_group(aws, id).await,
            After::Update,
            "DescribeTargetGroups",
            format!("target group {id} disappeared during update"),
        )
    }

    /// Refused while a listener or rule forwards to it: retried, since
    /// that listener is usually being deleted in the same run.
    async fn delete(
        &self,
        aws: &Aws,
        id: &str,
        _before: &Map<String, Value>,
    ) -> Result<(), AwsError> {
        let Some(group) = self.describe(aws, id).await? else {
            return Ok(());
        };
        let arn = group.target_group_arn().unwrap_or_default();
        aws.send(
            "DeleteTargetGroup",
            || {
                aws.elbv2()
                    .delete_target_group()
                    .target_group_arn(arn)
                    .send()
            },
            |e| {
                e.is_resource_in_use_exception()
                    .then_some(ErrorClass::Conflict)
            },
        )
        .await?;
        Ok(())
    }
}

/// Terraform's view: `aws_lb_target_group`.
fn terraform(a: &Map<String, Value>) -> Vec<crate::types::terraform::Tf> {
    use crate::types::terraform::prelude::*;
    let health_check = match a.get("health_check").and_then(Value::as_object) {
        Some(check) => block(json!({
            "enabled": true,
            "path": v(check, "path"), "interval": v(check, "interval"),
            "timeout": v(check, "timeout"), "healthy_threshold": v(check, "healthy_threshold"),
            "unhealthy_threshold": v(check, "unhealthy_threshold"), "matcher": v(check, "matcher"),
            "port": "traffic-port", "protocol": v(a, "protocol"),
        })),
        None => json!([]),
    };
    vec![tf(
        "aws_lb_target_group",
        tagged(
            a,
            json!({
                "arn": v(a, "arn"), "arn_suffix": v(a, "arn_suffix"), "id": v(a, "arn"),
                "name": v(a, "name"), "name_prefix": v(a, "name_prefix"), "port": v(a, "port"), "protocol": v(a, "protocol"),
                "target_type": v(a, "target_type"), "vpc_id": v(a, "vpc_id"),
                "deregistration_delay": a.get("deregistration_delay").map(|d| json!(d.to_string())),
                "health_check": health_check,
            }),
        ),
    )]
}

pub static SPEC: Spec = Spec {
    schema: &LB_TARGET_GROUP,
    planned_id: crate::types::by_name,
    id_from_arn: |arn| super::name_in_arn(arn, ":targetgroup/"),
    arn_example: (
        "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/api/73e2d6bc24d8a067",
        Some("api"),
    ),
    bulk_tagged: false,
    create_before_destroy: false,
    identity: Some(Identity::NAME),
    update_note: crate::spec::no_note,
    terraform: crate::types::terraform::Mapping {
        types: &["aws_lb_target_group"],
        map: terraform,
        import: |a| crate::types::terraform::attribute(a, "name"),
        parts: Parts::NONE,
    },
};

pub static TYPE: ResourceType = ResourceType {
    spec: &SPEC,
    provider: &TargetGroup,
    unmanaged: Unmanaged::TaggingApi,
};
