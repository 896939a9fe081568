//! An internet gateway, attached to a VPC: a public subnet's way out.

use super::errors;
use crate::aws::{changed, present, text, Aws, AwsError};
use crate::model::{ErrorClass, Observed};
use crate::schema::{
    no_expansion, no_validation, Fallback as F, Field, Kind as K, Naming, Schema, TAGS,
};
use crate::spec::terraform::Parts;
use crate::spec::{Identity, Spec};
use crate::types::Tagging;
use crate::types::{read_back, After, Resource, ResourceType, Unmanaged};
use aws_sdk_ec2::types::ResourceType as Ec2Type;
use serde_json::{json, Map, Value};

pub static INTERNET_GATEWAY: Schema = Schema {
    type_name: "internet_gateway",
    description: "Internet gateway attached to a VPC",
    fields: &[
        // Empty: not attached. Moving it to another VPC is in place.
        Field::new("vpc_id", K::Str).or(F::Str("")),
        TAGS,
    ],
    outputs: &["id", "arn"],
    taggable: true,
    naming: Naming::Tag,
    stateful: false,
    expand: no_expansion,
    validate: no_validation,
};

pub struct InternetGateway;

impl InternetGateway {
    async fn read_gateway(&self, aws: &Aws, id: &str) -> Result<Option<Observed>, AwsError> {
        let found = aws
            .send(
                "DescribeInternetGateways",
                || {
                    aws.ec2()
                        .describe_internet_gateways()
                        .internet_gateway_ids(id)
                        .send()
                },
                errors,
            )
            .await;
        let Some(gateway) =
            present(found)?.and_then(|output| output.internet_gateways().first().cloned())
        else {
            return Ok(None);
        };
        let vpc = gateway
            .attachments()
            .iter()
            .find_map(|a| a.vpc_id())
            .unwrap_or_default();
        let mut attributes = Map::new();
        attributes.insert("vpc_id".into(), json!(vpc));
        attributes.insert("tags".into(), super::tags_of(gateway.tags()));
        Ok(Some(super::observed(
            aws,
            "internet-gateway",
            id,
            attributes,
        )))
    }

    async fn read_back(&self, aws: &Aws, id: &str) -> Result<Observed, AwsError> {
        read_back(
            self.read_gateway(aws, id).await,
            After::Create,
            "DescribeInternetGateways",
            format!("internet gateway {id} not visible yet"),
        )
    }

    async fn attach(&self, aws: &Aws, id: &str, vpc: &str) -> Result<(), AwsError> {
        let attached = aws
            .send(
                "AttachInternetGateway",
                || {
                    aws.ec2()
                        .attach_internet_gateway()
                        .internet_gateway_id(id)
                        .vpc_id(vpc)
                        .send()
                },
                errors,
            )
            .await;
        // A repeat after a lost answer finds it attached already.
        match attached {
            Err(e) if e.class == ErrorClass::AlreadyExists => Ok(()),
            other => other.map(|_| ()),
        }
    }

    /// Detaching waits while AWS still has public addresses mapped in the
    /// VPC (`DependencyViolation`), as when a NAT gateway is being deleted.
    async fn detach(&self, aws: &Aws, id: &str, vpc: &str) -> Result<(), AwsError> {
        super::delete_when_released(aws, "DetachInternetGateway", || {
            aws.ec2()
                .detach_internet_gateway()
                .internet_gateway_id(id)
                .vpc_id(vpc)
                .send()
        })
        .await
    }
}

impl Resource for InternetGateway {
    async fn read(&self, aws: &Aws, id: &str) -> Result<Option<Observed>, AwsError> {
        self.read_gateway(aws, id).await
    }

    async fn find(
        &self,
        aws: &Aws,
        desired: &Map<String, Value>,
    ) -> Result<Option<Observed>, AwsError> {
        let found = aws
            .send(
                "DescribeInternetGateways",
                || {
                    aws.ec2()
                        .describe_internet_gateways()
                        .set_filters(Some(super::owned_by(desired)))
                        .send()
                },
                errors,
            )
            .await?;
        match found
            .internet_gateways()
            .first()
            .and_then(|g| g.internet_gateway_id())
        {
            Some(id) => self.read_gateway(aws, id).await,
            None => Ok(None),
        }
    }

    async fn create(&self, aws: &Aws, desired: &Map<String, Value>) -> Result<Observed, AwsError> {
        let created = aws
            .send_create(
                "CreateInternetGateway",
                || {
                    aws.ec2()
                        .create_internet_gateway()
                        .tag_specifications(super::tagged_at_create(
                            Ec2Type::InternetGateway,
                            desired,
                        ))
                        .send()
                },
                errors,
            )
            .await?;
        let id = created
            .internet_gateway()
            .and_then(|g| g.internet_gateway_id())
            .unwrap_or_default()
            .to_owned();
        let vpc = text(desired, "vpc_id");
        if !vpc.is_empty() {
            self.attach(aws, &id, vpc).await?;
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
        if changed(fields, "vpc_id") {
            let old = text(before, "vpc_id");
            if !old.is_empty() {
                self.detach(aws, id, old).await?;
            }
            let new = text(after, "vpc_id");
            if !new.is_empty() {
                self.attach(aws, id, new).await?;
            }
        }
        if changed(fields, "tags") {
            super::Tags.retag(aws, id, before, after).await?;
        }
        self.read_back(aws, id).await
    }

    /// Detached first (AWS refuses to delete an attached gateway), from
    /// the VPC AWS reports, not only the one the state recorded.
    async fn delete(
        &self,
        aws: &Aws,
        id: &str,
        _before: &Map<String, Value>,
    ) -> Result<(), AwsError> {
        let Some(observed) = self.read_gateway(aws, id).await? else {
            return Ok(());
        };
        let vpc = text(&observed.attributes, "vpc_id");
        if !vpc.is_empty() {
            self.detach(aws, id, vpc).await?;
        }
        super::delete_when_released(aws, "DeleteInternetGateway", || {
            aws.ec2()
                .delete_internet_gateway()
                .internet_gateway_id(id)
                .send()
        })
        .await
    }
}

/// Terraform's view: `aws_internet_gateway`.
fn terraform(a: &Map<String, Value>) -> Vec<crate::types::terraform::Tf> {
    use crate::types::terraform::prelude::*;
    vec![tf(
        "aws_internet_gateway",
        tagged(
            a,
            json!({
                "id": v(a, "id"), "arn": v(a, "arn"), "vpc_id": v(a, "vpc_id"),
            }),
        ),
    )]
}

pub static SPEC: Spec = Spec {
    schema: &INTERNET_GATEWAY,
    planned_id: crate::types::assigned,
    id_from_arn: |arn| crate::types::after(arn, ":internet-gateway/"),
    arn_example: (
        "arn:aws:ec2:us-east-1:1:internet-gateway/igw-0a1",
        Some("igw-0a1"),
    ),
    bulk_tagged: false,
    create_before_destroy: false,
    identity: Some(Identity::NAME),
    update_note: crate::spec::no_note,
    terraform: crate::types::terraform::Mapping {
        types: &["aws_internet_gateway"],
        map: terraform,
        import: |a| crate::types::terraform::attribute(a, "id"),
        parts: Parts::NONE,
    },
};

pub static TYPE: ResourceType = ResourceType {
    spec: &SPEC,
    provider: &InternetGateway,
    unmanaged: Unmanaged::TaggingApi,
};
