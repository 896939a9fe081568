//! An application load balancer: internal or internet-facing, in its
//! subnets with its security groups, with an idle timeout, deletion
//! protection (which destroy respects) and access logs to S3.

use super::{elb_tags, read_tags, Tags};
use crate::aws::{changed, flag, int, string_map, strings, text, Aws, AwsError};
use crate::model::{ErrorClass, Observed};
use crate::schema::checks as c;
use crate::schema::{no_expansion, Fallback as F, Field, Kind as K, Naming, Problem, Schema, TAGS};
use crate::spec::terraform::Parts;
use crate::spec::{Identity, Spec};
use crate::types::observation;
use crate::types::Tagging;
use crate::types::{read_back, After, Resource, ResourceType, Unmanaged};
use aws_sdk_elasticloadbalancingv2::types::{
    LoadBalancer as Balancer, LoadBalancerAttribute, LoadBalancerSchemeEnum, LoadBalancerStateEnum,
    LoadBalancerTypeEnum,
};
use serde_json::{json, Map, Value};

pub static LB: Schema = Schema {
    type_name: "lb",
    description: "Application load balancer (internal or internet-facing)",
    fields: &[
        Field::new("name", K::Str)
            .required()
            .force_new()
            .check(balancer_name),
        // Instead of a name: cairn makes one from it and a unique suffix,
        // so a replacement can exist beside the old one.
        Field::new("name_prefix", K::Str)
            .force_new()
            .check(name_prefix),
        Field::new("internal", K::Bool)
            .or(F::Bool(false))
            .force_new(),
        Field::new("load_balancer_type", K::Str)
            .or(F::Str("application"))
            .force_new()
            .one_of(&["application"], "a load balancer type"),
        Field::new("subnets", K::StrSet).required(),
        // Absent: the VPC's default group (AWS's choice), not compared.
        Field::new("security_groups", K::StrSet),
        Field::new("idle_timeout", K::Int)
            .or(F::Int(60))
            .check(|v| c::int_range(v, 1, 4000, "an idle timeout (seconds)")),
        Field::new("enable_deletion_protection", K::Bool).or(F::Bool(false)),
        // Empty: no access logs.
        Field::new("access_logs_bucket", K::Str).or(F::Str("")),
        Field::new("access_logs_prefix", K::Str).or(F::Str("")),
        TAGS,
    ],
    outputs: &["arn", "arn_suffix", "dns_name", "zone_id", "vpc_id"],
    taggable: true,
    naming: Naming::Dashed,
    stateful: false,
    expand: no_expansion,
    validate: validate_balancer,
};

fn name_prefix(value: &Value) -> Result<(), String> {
    crate::schema::checks::name_prefix(value, 32, balancer_name)
}

fn balancer_name(value: &Value) -> Result<(), String> {
    super::lb_target_group::elb_name(value, "load balancer")?;
    match value.as_str() {
        Some(name) if name.starts_with("internal-") => Err(format!(
            "a load balancer name may not start with `internal-` (`{name}`)"
        )),
        _ => Ok(()),
    }
}

fn validate_balancer(properties: &Map<String, Value>) -> Vec<Problem> {
    let mut problems = Vec::new();
    if let Some(subnets) = properties.get("subnets").and_then(Value::as_array) {
        if subnets.len() < 2 {
            problems.push(Problem::new(
                "subnets",
                "an application load balancer needs subnets in at least two availability zones",
            ));
        }
    }
    let prefix = properties.get("access_logs_prefix").and_then(Value::as_str);
    let bucket = properties.get("access_logs_bucket").and_then(Value::as_str);
    if prefix.is_some_and(|p| !p.is_empty()) && bucket.is_none_or(str::is_empty) {
        problems.push(Problem::new(
            "access_logs_prefix",
            "an access-log prefix needs `access_logs_bucket`",
        ));
    }
    problems
}

/// How many state checks a create waits for `active` (AWS provisions a
/// load balancer in a few minutes).
const STATE_CHECKS: u32 = 300;

pub struct LoadBalancer;

impl LoadBalancer {
    async fn describe(&self, aws: &Aws, name: &str) -> Result<Option<Balancer>, AwsError> {
        let found = aws
            .send(
                "DescribeLoadBalancers",
                || aws.elbv2().describe_load_balancers().names(name).send(),
                |e| crate::aws::missing(e.is_load_balancer_not_found_exception()),
            )
            .await;
        match found {
            Ok(output) => Ok(output.load_balancers().first().cloned()),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn attributes(
        &self,
        aws: &Aws,
        arn: &str,
    ) -> Result<Option<Map<String, Value>>, AwsError> {
        let found = aws
            .send(
                "DescribeLoadBalancerAttributes",
                || {
                    aws.elbv2()
                        .describe_load_balancer_attributes()
                        .load_balancer_arn(arn)
                        .send()
                },
                |e| crate::aws::missing(e.is_load_balancer_not_found_exception()),
            )
            .await;
        let output = match found {
            Ok(output) => output,
            Err(e) if e.is_not_found() => return Ok(None),
            Err(e) => return Err(e),
        };
        let value = |key: &str| {
            output
                .attributes()
                .iter()
                .find(|a| a.key() == Some(key))
                .and_then(|a| a.value())
        };
        let logging = value("access_logs.s3.enabled") == Some("true");
        let mut attributes = Map::new();
        // AWS always reports these; moto leaves out an idle timeout never
        // set, which is AWS's default.
        attributes.insert(
            "idle_timeout".into(),
            json!(value("idle_timeout.timeout_seconds")
                .and_then(|v| v.parse::<i64>().ok())
                .unwrap_or(60)),
        );
        attributes.insert(
            "enable_deletion_protection".into(),
            json!(value("deletion_protection.enabled") == Some("true")),
        );
        let logged = |key: &str| {
            if logging {
                value(key).unwrap_or_default()
            } else {
                ""
            }
        };
        attributes.insert(
            "access_logs_bucket".into(),
            json!(logged("access_logs.s3.bucket")),
        );
        attributes.insert(
            "access_logs_prefix".into(),
            json!(logged("access_logs.s3.prefix")),
        );
        Ok(Some(attributes))
    }

    fn observed(&self, balancer: &Balancer, mut attributes: Map<String, Value>) -> Observed {
        let name = balancer.load_balancer_name().unwrap_or_default();
        let arn = balancer.load_balancer_arn().unwrap_or_default();
        let mut subnets: Vec<&str> = balancer
            .availability_zones()
            .iter()
            .filter_map(|z| z.subnet_id())
            .collect();
        subnets.sort_unstable();
        let mut groups: Vec<&str> = balancer
            .security_groups()
            .iter()
            .map(String::as_str)
            .collect();
        groups.sort_unstable();
        attributes.insert("name".into(), json!(name));
        attributes.insert(
            "internal".into(),
            json!(balancer.scheme() == Some(&LoadBalancerSchemeEnum::Internal)),
        );
        attributes.insert(
            "load_balancer_type".into(),
            json!(balancer.r#type().map(LoadBalancerTypeEnum::as_str)),
        );
        attributes.insert("subnets".into(), json!(subnets));
        attributes.insert("security_groups".into(), json!(groups));
        observation(
            name,
            attributes,
            [
                ("arn", json!(arn)),
                (
                    "arn_suffix",
                    json!(arn.split_once(":loadbalancer/").map_or("", |(_, s)| s)),
                ),
                ("dns_name", json!(balancer.dns_name())),
                ("zone_id", json!(balancer.canonical_hosted_zone_id())),
                ("vpc_id", json!(balancer.vpc_id())),
            ],
        )
    }

    async fn read_balancer(&self, aws: &Aws, name: &str) -> Result<Option<Observed>, AwsError> {
        let Some(balancer) = self.describe(aws, name).await? else {
            return Ok(None);
        };
        let arn = balancer.load_balancer_arn().unwrap_or_default();
        let Some(mut attributes) = self.attributes(aws, arn).await? else {
            return Ok(None);
        };
        attributes.insert("tags".into(), read_tags(aws, arn).await?);
        Ok(Some(self.observed(&balancer, attributes)))
    }

    /// Waits for `active` (a create), then reads it.
    async fn wait_active(&self, aws: &Aws, name: &str) -> Result<Observed, AwsError> {
        crate::aws::wait_for("DescribeLoadBalancers", STATE_CHECKS, || async {
            let balancer = read_back(
                self.describe(aws, name).await,
                After::Create,
                "DescribeLoadBalancers",
                format!("load balancer {name} not visible yet"),
            )?;
            match balancer.state().and_then(|s| s.code()) {
                Some(LoadBalancerStateEnum::Active) => Ok(Some(())),
                Some(LoadBalancerStateEnum::Failed) => Err(AwsError::new(
                    ErrorClass::Fatal,
                    "DescribeLoadBalancers",
                    format!("load balancer {name} failed to provision"),
                )),
                _ => Ok(None),
            }
        })
        .await?;
        read_back(
            self.read_balancer(aws, name).await,
            After::Create,
            "DescribeLoadBalancers",
            format!("load balancer {name} not visible yet"),
        )
    }

    async fn set_attributes(
        &self,
        aws: &Aws,
        arn: &str,
        desired: &Map<String, Value>,
    ) -> Result<(), AwsError> {
        let bucket = text(desired, "access_logs_bucket");
        let pairs = [
            (
                "idle_timeout.timeout_seconds",
                int(desired, "idle_timeout").unwrap_or(60).to_string(),
            ),
            (
                "deletion_protection.enabled",
                flag(desired, "enable_deletion_protection").to_string(),
            ),
            ("access_logs.s3.enabled", (!bucket.is_empty()).to_string()),
            ("access_logs.s3.bucket", bucket.to_owned()),
            (
                "access_logs.s3.prefix",
                text(desired, "access_logs_prefix").to_owned(),
            ),
        ];
        let attributes: Vec<LoadBalancerAttribute> = pairs
            .iter()
            .map(|(k, v)| LoadBalancerAttribute::builder().key(*k).value(v).build())
            .collect();
        aws.send(
            "ModifyLoadBalancerAttributes",
            || {
                aws.elbv2()
                    .modify_load_balancer_attributes()
                    .load_balancer_arn(arn)
                    .set_attributes(Some(attributes.clone()))
                    .send()
            },
            |e| crate::aws::missing(e.is_load_balancer_not_found_exception()),
        )
        .await?;
        Ok(())
    }
}

fn attributes_changed(fields: &[String]) -> bool {
    [
        "idle_timeout",
        "enable_deletion_protection",
        "access_logs_bucket",
        "access_logs_prefix",
    ]
    .iter()
    .any(|f| changed(fields, f))
}

impl Resource for LoadBalancer {
    async fn read(&self, aws: &Aws, id: &str) -> Result<Option<Observed>, AwsError> {
        self.read_balancer(aws, id).await
    }

    /// Sent once: an emulator makes a second balancer of the same name on
    /// a repeat, so after a lost answer the engine looks it up by name.
    async fn create(&self, aws: &Aws, desired: &Map<String, Value>) -> Result<Observed, AwsError> {
        let name = text(desired, "name");
        let scheme = if flag(desired, "internal") {
            LoadBalancerSchemeEnum::Internal
        } else {
            LoadBalancerSchemeEnum::InternetFacing
        };
        let groups = Some(strings(desired, "security_groups")).filter(|g| !g.is_empty());
        let created = aws
            .send_create(
                "CreateLoadBalancer",
                || {
                    aws.elbv2()
                        .create_load_balancer()
                        .name(name)
                        .r#type(LoadBalancerTypeEnum::Application)
                        .scheme(scheme.clone())
                        .set_subnets(Some(strings(desired, "subnets")))
                        .set_security_groups(groups.clone())
                        .set_tags(Some(elb_tags(&string_map(desired, "tags"))))
                        .send()
                },
                |e| {
                    e.is_duplicate_load_balancer_name_exception()
                        .then_some(ErrorClass::AlreadyExists)
                },
            )
            .await?;
        let arn = created
            .load_balancers()
            .first()
            .and_then(|b| b.load_balancer_arn())
            .unwrap_or_default()
            .to_owned();
        let defaults = int(desired, "idle_timeout") == Some(60)
            && !flag(desired, "enable_deletion_protection")
            && text(desired, "access_logs_bucket").is_empty();
        if !defaults {
            self.set_attributes(aws, &arn, desired).await?;
        }
        self.wait_active(aws, name).await
    }

    async fn update(
        &self,
        aws: &Aws,
        id: &str,
        before: &Map<String, Value>,
        after: &Map<String, Value>,
        fields: &[String],
    ) -> Result<Observed, AwsError> {
        let balancer = read_back(
            self.describe(aws, id).await,
            After::Update,
            "DescribeLoadBalancers",
            format!("load balancer {id} disappeared"),
        )?;
        let arn = balancer.load_balancer_arn().unwrap_or_default();
        if changed(fields, "subnets") {
            aws.send(
                "SetSubnets",
                || {
                    aws.elbv2()
                        .set_subnets()
                        .load_balancer_arn(arn)
                        .set_subnets(Some(strings(after, "subnets")))
                        .send()
                },
                |e| crate::aws::missing(e.is_load_balancer_not_found_exception()),
            )
            .await?;
        }
        if changed(fields, "security_groups") {
            aws.send(
                "SetSecurityGroups",
                || {
                    aws.elbv2()
                        .set_security_groups()
                        .load_balancer_arn(arn)
                        .set_security_groups(Some(strings(after, "security_groups")))
                        .send()
                },
                |e| crate::aws::missing(e.is_load_balancer_not_found_exception()),
            )
            .await?;
        }
        if attributes_changed(fields) {
            self.set_attributes(aws, arn, after).await?;
        }
        if changed(fields, "tags") {
            Tags.retag(aws, arn, before, after).await?;
        }
        read_back(
            self.read_balancer(aws, id).await,
            After::Update,
            "DescribeLoadBalancers",
            format!("load balancer {id} disappeared during update"),
        )
    }

    /// Refused while deletion protection is on, as AWS refuses it (an
    /// emulator may not): turn it off and apply first.
    async fn delete(
        &self,
        aws: &Aws,
        id: &str,
        _before: &Map<String, Value>,
    ) -> Result<(), AwsError> {
        let Some(balancer) = self.describe(aws, id).await? else {
            return Ok(());
        };
        let arn = balancer.load_balancer_arn().unwrap_or_default();
        let protected = self
            .attributes(aws, arn)
            .await?
            .is_some_and(|a| a.get("enable_deletion_protection") == Some(&json!(true)));
        if protected {
            return Err(AwsError::new(
                ErrorClass::Validation,
                "DeleteLoadBalancer",
                format!("load balancer {id} has deletion protection on: set `enable_deletion_protection: false` and apply before destroying it"),
            ));
        }
        aws.send(
            "DeleteLoadBalancer",
            || {
                aws.elbv2()
                    .delete_load_balancer()
                    .load_balancer_arn(arn)
                    .send()
            },
            |_| None,
        )
        .await?;
        Ok(())
    }
}

/// Terraform's view: `aws_lb`.
fn terraform(a: &Map<String, Value>) -> Vec<crate::types::terraform::Tf> {
    use crate::types::terraform::prelude::*;
    let bucket = a
        .get("access_logs_bucket")
        .and_then(Value::as_str)
        .unwrap_or("");
    vec![tf(
        "aws_lb",
        tagged(
            a,
            json!({
                "arn": v(a, "arn"), "arn_suffix": v(a, "arn_suffix"), "id": v(a, "arn"),
                "dns_name": v(a, "dns_name"), "zone_id": v(a, "zone_id"), "vpc_id": v(a, "vpc_id"),
                "name": v(a, "name"), "name_prefix": v(a, "name_prefix"), "internal": v(a, "internal"),
                "load_balancer_type": v(a, "load_balancer_type"),
                "subnets": v(a, "subnets"), "security_groups": v(a, "security_groups"),
                "idle_timeout": v(a, "idle_timeout"),
                "enable_deletion_protection": v(a, "enable_deletion_protection"),
                "access_logs": block_if(!bucket.is_empty(), json!({
                    "bucket": v(a, "access_logs_bucket"), "prefix": v(a, "access_logs_prefix"),
                    "enabled": true,
                })),
                "ip_address_type": "ipv4",
            }),
        ),
    )]
}

pub static SPEC: Spec = Spec {
    schema: &LB,
    planned_id: crate::types::by_name,
    id_from_arn: |arn| super::name_in_arn(arn, ":loadbalancer/app/"),
    arn_example: (
        "arn:aws:elasticloadbalancing:us-east-1:1:loadbalancer/app/web/50dc6c495c0c9188",
        Some("web"),
    ),
    bulk_tagged: false,
    create_before_destroy: false,
    identity: Some(Identity::NAME),
    update_note: crate::spec::no_note,
    terraform: crate::types::terraform::Mapping {
        types: &["aws_lb"],
        map: terraform,
        import: |a| crate::types::terraform::attribute(a, "name"),
        parts: Parts::NONE,
    },
};

pub static TYPE: ResourceType = ResourceType {
    spec: &SPEC,
    provider: &LoadBalancer,
    unmanaged: Unmanaged::TaggingApi,
};
