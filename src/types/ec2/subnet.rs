//! A subnet of a VPC: its block, availability zone, and whether instances
//! launched in it get a public IP.

use super::errors;
use crate::aws::{changed, flag, present, text, Aws, AwsError};
use crate::model::Observed;
use crate::schema::{
    no_expansion, no_validation, Fallback as F, Field, Kind as K, Naming, Schema, TAGS,
};
use crate::spec::terraform::Parts;
use crate::spec::{Identity, Spec};
use crate::types::Tagging;
use crate::types::{read_back, After, Resource, ResourceType, Unmanaged};
use aws_sdk_ec2::types::{AttributeBooleanValue, ResourceType as Ec2Type};
use serde_json::{json, Map, Value};

pub static SUBNET: Schema = Schema {
    type_name: "subnet",
    description: "Subnet of a VPC in one availability zone",
    fields: &[
        Field::new("vpc_id", K::Str).required().force_new(),
        Field::new("cidr_block", K::Str)
            .required()
            .force_new()
            .check(crate::schema::checks::network_block),
        // Absent: AWS picks one (and the state records which).
        Field::new("availability_zone", K::Str).force_new(),
        Field::new("map_public_ip_on_launch", K::Bool).or(F::Bool(false)),
        TAGS,
    ],
    outputs: &["id", "arn"],
    taggable: true,
    naming: Naming::Tag,
    stateful: false,
    expand: no_expansion,
    validate: no_validation,
};

pub struct Subnet;

impl Subnet {
    async fn read_subnet(&self, aws: &Aws, id: &str) -> Result<Option<Observed>, AwsError> {
        let found = aws
            .send(
                "DescribeSubnets",
                || aws.ec2().describe_subnets().subnet_ids(id).send(),
                errors,
            )
            .await;
        let Some(subnet) = present(found)?.and_then(|output| output.subnets().first().cloned())
        else {
            return Ok(None);
        };
        let mut attributes = Map::new();
        attributes.insert("vpc_id".into(), json!(subnet.vpc_id()));
        attributes.insert("cidr_block".into(), json!(subnet.cidr_block()));
        attributes.insert(
            "availability_zone".into(),
            json!(subnet.availability_zone()),
        );
        attributes.insert(
            "map_public_ip_on_launch".into(),
            json!(subnet.map_public_ip_on_launch().unwrap_or(false)),
        );
        attributes.insert("tags".into(), super::tags_of(subnet.tags()));
        Ok(Some(super::observed(aws, "subnet", id, attributes)))
    }

    async fn read_back(&self, aws: &Aws, id: &str) -> Result<Observed, AwsError> {
        read_back(
            self.read_subnet(aws, id).await,
            After::Create,
            "DescribeSubnets",
            format!("subnet {id} not visible yet"),
        )
    }

    async fn set_public_ip(&self, aws: &Aws, id: &str, on: bool) -> Result<(), AwsError> {
        let value = AttributeBooleanValue::builder().value(on).build();
        aws.send(
            "ModifySubnetAttribute",
            || {
                aws.ec2()
                    .modify_subnet_attribute()
                    .subnet_id(id)
                    .map_public_ip_on_launch(value.clone())
                    .send()
            },
            errors,
        )
        .await?;
        Ok(())
    }
}

impl Resource for Subnet {
    async fn read(&self, aws: &Aws, id: &str) -> Result<Option<Observed>, AwsError> {
        self.read_subnet(aws, id).await
    }

    async fn find(
        &self,
        aws: &Aws,
        desired: &Map<String, Value>,
    ) -> Result<Option<Observed>, AwsError> {
        let found = aws
            .send(
                "DescribeSubnets",
                || {
                    aws.ec2()
                        .describe_subnets()
                        .set_filters(Some(super::owned_by(desired)))
                        .send()
                },
                errors,
            )
            .await?;
        match found.subnets().first().and_then(|s| s.subnet_id()) {
            Some(id) => self.read_subnet(aws, id).await,
            None => Ok(None),
        }
    }

    async fn create(&self, aws: &Aws, desired: &Map<String, Value>) -> Result<Observed, AwsError> {
        let zone = desired
            .get("availability_zone")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let created = aws
            .send_create(
                "CreateSubnet",
                || {
                    aws.ec2()
                        .create_subnet()
                        .vpc_id(text(desired, "vpc_id"))
                        .cidr_block(text(desired, "cidr_block"))
                        .set_availability_zone(zone.clone())
                        .tag_specifications(super::tagged_at_create(Ec2Type::Subnet, desired))
                        .send()
                },
                errors,
            )
            .await?;
        let id = created
            .subnet()
            .and_then(|s| s.subnet_id())
            .unwrap_or_default()
            .to_owned();
        if flag(desired, "map_public_ip_on_launch") {
            self.set_public_ip(aws, &id, true).await?;
        }
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
        if changed(fields, "map_public_ip_on_launch") {
            self.set_public_ip(aws, id, flag(after, "map_public_ip_on_launch"))
                .await?;
        }
        if changed(fields, "tags") {
            super::Tags.retag(aws, id, before, after).await?;
        }
        self.read_back(aws, id).await
    }

    /// Waits while network interfaces remain in it (a deleted VPC
    /// function's interfaces go minutes after the function).
    async fn delete(
        &self,
        aws: &Aws,
        id: &str,
        _before: &Map<String, Value>,
    ) -> Result<(), AwsError> {
        super::delete_when_released(aws, "DeleteSubnet", || {
            aws.ec2().delete_subnet().subnet_id(id).send()
        })
        .await
    }
}

/// Terraform's view: `aws_subnet`.
fn terraform(a: &Map<String, Value>) -> Vec<crate::types::terraform::Tf> {
    use crate::types::terraform::prelude::*;
    vec![tf(
        "aws_subnet",
        tagged(
            a,
            json!({
                "id": v(a, "id"), "arn": v(a, "arn"), "vpc_id": v(a, "vpc_id"),
                "cidr_block": v(a, "cidr_block"), "availability_zone": v(a, "availability_zone"),
                "map_public_ip_on_launch": v(a, "map_public_ip_on_launch"),
            }),
        ),
    )]
}

pub static SPEC: Spec = Spec {
    schema: &SUBNET,
    planned_id: crate::types::assigned,
    id_from_arn: |arn| crate::types::after(arn, ":subnet/"),
    arn_example: (
        "arn:aws:ec2:us-east-1:1:subnet/subnet-0a1",
        Some("subnet-0a1"),
    ),
    bulk_tagged: false,
    create_before_destroy: false,
    identity: Some(Identity::NAME),
    update_note: crate::spec::no_note,
    terraform: crate::types::terraform::Mapping {
        types: &["aws_subnet"],
        map: terraform,
        import: |a| crate::types::terraform::attribute(a, "id"),
        parts: Parts::NONE,
    },
};

pub static TYPE: ResourceType = ResourceType {
    spec: &SPEC,
    provider: &Subnet,
    unmanaged: Unmanaged::TaggingApi,
};
