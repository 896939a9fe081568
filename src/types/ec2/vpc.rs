//! A VPC: its IPv4 block, DNS support and hostnames, tenancy.

use super::errors;
use crate::aws::{changed, flag, present, text, Aws, AwsError};
use crate::model::Observed;
use crate::schema::{no_expansion, Fallback as F, Field, Kind as K, Naming, Problem, Schema, TAGS};
use crate::spec::terraform::Parts;
use crate::spec::{Identity, Spec};
use crate::types::Tagging;
use crate::types::{read_back, After, Resource, ResourceType, Unmanaged};
use aws_sdk_ec2::types::{
    AttributeBooleanValue, ResourceType as Ec2Type, Tenancy, VpcAttributeName,
};
use serde_json::{json, Map, Value};

pub static VPC: Schema = Schema {
    type_name: "vpc",
    description: "VPC with an IPv4 block and DNS settings",
    fields: &[
        Field::new("cidr_block", K::Str)
            .required()
            .force_new()
            .check(crate::schema::checks::network_block),
        Field::new("enable_dns_support", K::Bool).or(F::Bool(true)),
        Field::new("enable_dns_hostnames", K::Bool).or(F::Bool(false)),
        Field::new("instance_tenancy", K::Str)
            .or(F::Str("default"))
            .force_new()
            .one_of(&["default", "dedicated"], "a tenancy"),
        TAGS,
    ],
    outputs: &["id", "arn"],
    taggable: true,
    naming: Naming::Tag,
    stateful: false,
    expand: no_expansion,
    validate: validate_vpc,
};

fn validate_vpc(properties: &Map<String, Value>) -> Vec<Problem> {
    let support = properties
        .get("enable_dns_support")
        .and_then(Value::as_bool);
    let hostnames = properties
        .get("enable_dns_hostnames")
        .and_then(Value::as_bool);
    if support == Some(false) && hostnames == Some(true) {
        return vec![Problem::new(
            "enable_dns_hostnames",
            "DNS hostnames need DNS support (`enable_dns_support: true`); AWS refuses this pair",
        )];
    }
    Vec::new()
}

pub struct Vpc;

impl Vpc {
    async fn read_vpc(&self, aws: &Aws, id: &str) -> Result<Option<Observed>, AwsError> {
        let found = aws
            .send(
                "DescribeVpcs",
                || aws.ec2().describe_vpcs().vpc_ids(id).send(),
                errors,
            )
            .await;
        let Some(vpc) = present(found)?.and_then(|output| output.vpcs().first().cloned()) else {
            return Ok(None);
        };
        let mut attributes = Map::new();
        attributes.insert("cidr_block".into(), json!(vpc.cidr_block()));
        attributes.insert(
            "instance_tenancy".into(),
            json!(vpc.instance_tenancy().map_or("default", |t| t.as_str())),
        );
        for (field, name) in [
            ("enable_dns_support", VpcAttributeName::EnableDnsSupport),
            ("enable_dns_hostnames", VpcAttributeName::EnableDnsHostnames),
        ] {
            let answer = aws
                .send(
                    "DescribeVpcAttribute",
                    || {
                        aws.ec2()
                            .describe_vpc_attribute()
                            .vpc_id(id)
                            .attribute(name.clone())
                            .send()
                    },
                    errors,
                )
                .await?;
            let value = match name {
                VpcAttributeName::EnableDnsSupport => answer.enable_dns_support(),
                _ => answer.enable_dns_hostnames(),
            };
            attributes.insert(
                field.into(),
                json!(value
                    .and_then(AttributeBooleanValue::value)
                    .unwrap_or(false)),
            );
        }
        attributes.insert("tags".into(), super::tags_of(vpc.tags()));
        Ok(Some(super::observed(aws, "vpc", id, attributes)))
    }

    async fn set_dns(
        &self,
        aws: &Aws,
        id: &str,
        desired: &Map<String, Value>,
        fields: &[&str],
    ) -> Result<(), AwsError> {
        // One attribute per call, as AWS requires; support before
        // hostnames when turning on, hostnames before support when off.
        let mut order = fields.to_vec();
        if !flag(desired, "enable_dns_support") {
            order.reverse();
        }
        for field in order {
            let value = AttributeBooleanValue::builder()
                .value(flag(desired, field))
                .build();
            aws.send(
                "ModifyVpcAttribute",
                || {
                    let call = aws.ec2().modify_vpc_attribute().vpc_id(id);
                    if field == "enable_dns_support" {
                        call.enable_dns_support(value.clone()).send()
                    } else {
                        call.enable_dns_hostnames(value.clone()).send()
                    }
                },
                errors,
            )
            .await?;
        }
        Ok(())
    }

    async fn read_back(&self, aws: &Aws, id: &str) -> Result<Observed, AwsError> {
        read_back(
            self.read_vpc(aws, id).await,
            After::Create,
            "DescribeVpcs",
            format!("VPC {id} not visible yet"),
        )
    }
}

impl Resource for Vpc {
    async fn read(&self, aws: &Aws, id: &str) -> Result<Option<Observed>, AwsError> {
        self.read_vpc(aws, id).await
    }

    async fn find(
        &self,
        aws: &Aws,
        desired: &Map<String, Value>,
    ) -> Result<Option<Observed>, AwsError> {
        let found = aws
            .send(
                "DescribeVpcs",
                || {
                    aws.ec2()
                        .describe_vpcs()
                        .set_filters(Some(super::owned_by(desired)))
                        .send()
                },
                errors,
            )
            .await?;
        match found.vpcs().first().and_then(|v| v.vpc_id()) {
            Some(id) => self.read_vpc(aws, id).await,
            None => Ok(None),
        }
    }

    /// CreateVpc carries the ownership tags, so a create whose answer was
    /// lost is found by them (the engine looks before it repeats).
    async fn create(&self, aws: &Aws, desired: &Map<String, Value>) -> Result<Observed, AwsError> {
        let created = aws
            .send_create(
                "CreateVpc",
                || {
                    aws.ec2()
                        .create_vpc()
                        .cidr_block(text(desired, "cidr_block"))
                        .instance_tenancy(Tenancy::from(text(desired, "instance_tenancy")))
                        .tag_specifications(super::tagged_at_create(Ec2Type::Vpc, desired))
                        .send()
                },
                errors,
            )
            .await?;
        let id = created
            .vpc()
            .and_then(|v| v.vpc_id())
            .unwrap_or_default()
            .to_owned();
        let observed = self.read_back(aws, &id).await?;
        let dns: Vec<&str> = ["enable_dns_support", "enable_dns_hostnames"]
            .into_iter()
            .filter(|f| observed.attributes.get(*f) != desired.get(*f))
            .collect();
        if dns.is_empty() {
            return Ok(observed);
        }
        self.set_dns(aws, &id, desired, &dns).await?;
        self.read_back(aws, &id).await
    }

    async fn update(
        &self,
        aws: &Aws,
        id: &str,
        before: &Map<String, Value>,
        after: &Map<String, Value>,
        fields: &[String],
    ) -> Result<Observed, AwsError> {
        let dns: Vec<&str> = ["enable_dns_support", "enable_dns_hostnames"]
            .into_iter()
            .filter(|f| changed(fields, f))
            .collect();
        if !dns.is_empty() {
            self.set_dns(aws, id, after, &dns).await?;
        }
        if changed(fields, "tags") {
            super::Tags.retag(aws, id, before, after).await?;
        }
        self.read_back(aws, id).await
    }

    /// Refused while subnets, gateways or network interfaces remain
    /// (`DependencyViolation`): waited out, since what still uses it is
    /// usually on its way out (the interfaces of a deleted function).
    async fn delete(
        &self,
        aws: &Aws,
        id: &str,
        _before: &Map<String, Value>,
    ) -> Result<(), AwsError> {
        super::delete_when_released(aws, "DeleteVpc", || {
            aws.ec2().delete_vpc().vpc_id(id).send()
        })
        .await
    }
}

/// Terraform's view: `aws_vpc`.
fn terraform(a: &Map<String, Value>) -> Vec<crate::types::terraform::Tf> {
    use crate::types::terraform::prelude::*;
    vec![tf(
        "aws_vpc",
        tagged(
            a,
            json!({
                "id": v(a, "id"), "arn": v(a, "arn"), "cidr_block": v(a, "cidr_block"),
                "enable_dns_support": v(a, "enable_dns_support"),
                "enable_dns_hostnames": v(a, "enable_dns_hostnames"),
                "instance_tenancy": v(a, "instance_tenancy"),
            }),
        ),
    )]
}

pub static SPEC: Spec = Spec {
    schema: &VPC,
    planned_id: crate::types::assigned,
    id_from_arn: |arn| crate::types::after(arn, ":vpc/"),
    arn_example: ("arn:aws:ec2:us-east-1:1:vpc/vpc-0a1", Some("vpc-0a1")),
    bulk_tagged: false,
    create_before_destroy: false,
    identity: Some(Identity::NAME),
    update_note: crate::spec::no_note,
    terraform: crate::types::terraform::Mapping {
        types: &["aws_vpc"],
        map: terraform,
        import: |a| crate::types::terraform::attribute(a, "id"),
        parts: Parts::NONE,
    },
};

pub static TYPE: ResourceType = ResourceType {
    spec: &SPEC,
    provider: &Vpc,
    unmanaged: Unmanaged::TaggingApi,
};
