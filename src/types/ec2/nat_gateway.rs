//! A NAT gateway in a public subnet, with the elastic IP it owns: private
//! subnets' way out. AWS builds it in the background (a minute or more):
//! create waits for `available`, delete for `deleted`, then releases the IP.

use super::errors;
use crate::aws::{present, text, Aws, AwsError};
use crate::model::{ErrorClass, Observed};
use crate::schema::{
    no_expansion, no_validation, Fallback as F, Field, Kind as K, Naming, Schema, TAGS,
};
use crate::spec::terraform::Parts;
use crate::spec::{Identity, Spec};
use crate::types::Tagging;
use crate::types::{Resource, ResourceType, Unmanaged};
use aws_sdk_ec2::types::{
    ConnectivityType, DomainType, NatGateway as Gateway, NatGatewayState, ResourceType as Ec2Type,
};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

pub static NAT_GATEWAY: Schema = Schema {
    type_name: "nat_gateway",
    description: "NAT gateway with its own elastic IP",
    fields: &[
        Field::new("subnet_id", K::Str).required().force_new(),
        Field::new("connectivity_type", K::Str)
            .or(F::Str("public"))
            .force_new()
            .one_of(&["public", "private"], "a connectivity type"),
        TAGS,
    ],
    outputs: &["id", "arn", "allocation_id", "public_ip"],
    taggable: true,
    naming: Naming::Tag,
    stateful: false,
    expand: no_expansion,
    validate: no_validation,
};

pub struct NatGateway;

fn is_gone(gateway: &Gateway) -> bool {
    matches!(gateway.state(), Some(NatGatewayState::Deleted))
}

impl NatGateway {
    async fn describe(&self, aws: &Aws, id: &str) -> Result<Option<Gateway>, AwsError> {
        let found = aws
            .send(
                "DescribeNatGateways",
                || aws.ec2().describe_nat_gateways().nat_gateway_ids(id).send(),
                errors,
            )
            .await;
        Ok(present(found)?.and_then(|output| output.nat_gateways().first().cloned()))
    }

    fn observed(&self, aws: &Aws, gateway: &Gateway) -> Observed {
        let id = gateway.nat_gateway_id().unwrap_or_default();
        let address = gateway.nat_gateway_addresses().first();
        let mut attributes = Map::new();
        attributes.insert("subnet_id".into(), json!(gateway.subnet_id()));
        attributes.insert(
            "connectivity_type".into(),
            json!(gateway.connectivity_type().map_or("public", |c| c.as_str())),
        );
        attributes.insert("tags".into(), super::tags_of(gateway.tags()));
        let mut observed = super::observed(aws, "natgateway", id, attributes);
        observed.outputs.insert(
            "allocation_id".into(),
            json!(address.and_then(|a| a.allocation_id()).unwrap_or_default()),
        );
        observed.outputs.insert(
            "public_ip".into(),
            json!(address.and_then(|a| a.public_ip()).unwrap_or_default()),
        );
        observed
    }

    /// Polls until AWS reports a state `done` accepts; a gateway that
    /// failed is an error that names AWS's reason.
    async fn wait_state(
        &self,
        aws: &Aws,
        id: &str,
        done: fn(Option<&Gateway>) -> bool,
    ) -> Result<Option<Gateway>, AwsError> {
        crate::aws::wait_for("DescribeNatGateways", super::PENDING_CHECKS, || async {
            let gateway = self.describe(aws, id).await?;
            if let Some(failed) = gateway
                .as_ref()
                .filter(|g| g.state() == Some(&NatGatewayState::Failed))
            {
                return Err(AwsError::new(
                    ErrorClass::Fatal,
                    "CreateNatGateway",
                    format!(
                        "NAT gateway {id} failed: {} {}",
                        failed.failure_code().unwrap_or_default(),
                        failed.failure_message().unwrap_or_default()
                    ),
                ));
            }
            Ok(done(gateway.as_ref()).then_some(gateway))
        })
        .await
    }

    /// The elastic IP this gateway's address owns: one tagged for it
    /// already (an earlier attempt's, whose answer was lost), or a new one.
    async fn address(&self, aws: &Aws, desired: &Map<String, Value>) -> Result<String, AwsError> {
        let found = aws
            .send(
                "DescribeAddresses",
                || {
                    aws.ec2()
                        .describe_addresses()
                        .set_filters(Some(super::owned_by(desired)))
                        .send()
                },
                errors,
            )
            .await?;
        if let Some(id) = found.addresses().iter().find_map(|a| a.allocation_id()) {
            return Ok(id.to_owned());
        }
        let allocated = aws
            .send_create(
                "AllocateAddress",
                || {
                    aws.ec2()
                        .allocate_address()
                        .domain(DomainType::Vpc)
                        .tag_specifications(super::tagged_at_create(Ec2Type::ElasticIp, desired))
                        .send()
                },
                errors,
            )
            .await?;
        Ok(allocated.allocation_id().unwrap_or_default().to_owned())
    }

    /// Releases the gateway's elastic IPs: the ones tagged for it (what a
    /// gateway that never came up leaves behind too).
    async fn release(&self, aws: &Aws, tags: &Map<String, Value>) -> Result<(), AwsError> {
        let found = aws
            .send(
                "DescribeAddresses",
                || {
                    aws.ec2()
                        .describe_addresses()
                        .set_filters(Some(super::owned_by(tags)))
                        .send()
                },
                errors,
            )
            .await?;
        for allocation in found.addresses().iter().filter_map(|a| a.allocation_id()) {
            super::delete_when_released(aws, "ReleaseAddress", || {
                aws.ec2().release_address().allocation_id(allocation).send()
            })
            .await?;
        }
        Ok(())
    }
}

impl Resource for NatGateway {
    async fn read(&self, aws: &Aws, id: &str) -> Result<Option<Observed>, AwsError> {
        Ok(self
            .describe(aws, id)
            .await?
            .filter(|g| !is_gone(g))
            .map(|g| self.observed(aws, &g)))
    }

    async fn find(
        &self,
        aws: &Aws,
        desired: &Map<String, Value>,
    ) -> Result<Option<Observed>, AwsError> {
        let found = aws
            .send(
                "DescribeNatGateways",
                || {
                    aws.ec2()
                        .describe_nat_gateways()
                        .set_filter(Some(super::owned_by(desired)))
                        .send()
                },
                errors,
            )
            .await?;
        let live = found.nat_gateways().iter().find(|g| {
            matches!(
                g.state(),
                Some(NatGatewayState::Pending | NatGatewayState::Available)
            )
        });
        let Some(id) = live.and_then(|g| g.nat_gateway_id()) else {
            return Ok(None);
        };
        let ready = self
            .wait_state(aws, id, |g| {
                g.is_some_and(|g| g.state() == Some(&NatGatewayState::Available))
            })
            .await?;
        Ok(ready.map(|g| self.observed(aws, &g)))
    }

    /// Sent once, with a client token: after a lost answer or a crash the
    /// engine finds the gateway by its ownership tags rather than repeating
    /// the call (moto ignores the token).
    async fn create(&self, aws: &Aws, desired: &Map<String, Value>) -> Result<Observed, AwsError> {
        let public = text(desired, "connectivity_type") == "public";
        let allocation = if public {
            Some(self.address(aws, desired).await?)
        } else {
            None
        };
        let token = {
            let mut hash = Sha256::new();
            hash.update(text(desired, "subnet_id"));
            hash.update(allocation.as_deref().unwrap_or_default());
            hash.update(serde_json::to_string(&desired.get("tags")).unwrap_or_default());
            format!("{:x}", hash.finalize())[..32].to_owned()
        };
        let created = aws
            .send_create(
                "CreateNatGateway",
                || {
                    aws.ec2()
                        .create_nat_gateway()
                        .subnet_id(text(desired, "subnet_id"))
                        .set_allocation_id(allocation.clone())
                        .connectivity_type(ConnectivityType::from(text(
                            desired,
                            "connectivity_type",
                        )))
                        .client_token(&token)
                        .tag_specifications(super::tagged_at_create(Ec2Type::Natgateway, desired))
                        .send()
                },
                errors,
            )
            .await?;
        let id = created
            .nat_gateway()
            .and_then(|g| g.nat_gateway_id())
            .unwrap_or_default()
            .to_owned();
        let ready = self
            .wait_state(aws, &id, |g| {
                g.is_some_and(|g| g.state() == Some(&NatGatewayState::Available))
            })
            .await?;
        ready.map(|g| self.observed(aws, &g)).ok_or_else(|| {
            AwsError::new(
                ErrorClass::EventualConsistency,
                "DescribeNatGateways",
                format!("NAT gateway {id} not visible yet"),
            )
        })
    }

    /// Only tags change in place.
    async fn update(
        &self,
        aws: &Aws,
        id: &str,
        before: &Map<String, Value>,
        after: &Map<String, Value>,
        _fields: &[String],
    ) -> Result<Observed, AwsError> {
        super::Tags.retag(aws, id, before, after).await?;
        match self.describe(aws, id).await? {
            Some(g) if !is_gone(&g) => Ok(self.observed(aws, &g)),
            _ => Err(AwsError::new(
                ErrorClass::NotFound,
                "DescribeNatGateways",
                format!("NAT gateway {id} disappeared"),
            )),
        }
    }

    async fn delete(
        &self,
        aws: &Aws,
        id: &str,
        before: &Map<String, Value>,
    ) -> Result<(), AwsError> {
        aws.send_delete(
            "DeleteNatGateway",
            || aws.ec2().delete_nat_gateway().nat_gateway_id(id).send(),
            errors,
        )
        .await?;
        self.wait_state(aws, id, |g| g.is_none_or(is_gone)).await?;
        self.release(aws, before).await
    }
}

/// Terraform's view: `aws_nat_gateway`, `aws_eip`.
fn terraform(a: &Map<String, Value>) -> Vec<crate::types::terraform::Tf> {
    use crate::types::terraform::prelude::*;
    let public = a.get("connectivity_type").and_then(Value::as_str) != Some("private");
    let mut out = vec![tf(
        "aws_nat_gateway",
        tagged(
            a,
            json!({
                "id": v(a, "id"), "subnet_id": v(a, "subnet_id"), "connectivity_type": v(a, "connectivity_type"),
                "allocation_id": v(a, "allocation_id"), "public_ip": v(a, "public_ip"),
            }),
        ),
    )];
    if public {
        // cairn allocates the gateway's address with it.
        out.push(tf("aws_eip", tagged(a, json!({
            "domain": "vpc", "id": v(a, "allocation_id"), "allocation_id": v(a, "allocation_id"),
            "public_ip": v(a, "public_ip"),
        }))));
    }
    out
}

pub static SPEC: Spec = Spec {
    schema: &NAT_GATEWAY,
    planned_id: crate::types::assigned,
    id_from_arn: |arn| crate::types::after(arn, ":natgateway/"),
    arn_example: (
        "arn:aws:ec2:us-east-1:1:natgateway/nat-0a1",
        Some("nat-0a1"),
    ),
    bulk_tagged: false,
    create_before_destroy: true,
    identity: Some(Identity::NAME),
    update_note: crate::spec::no_note,
    terraform: crate::types::terraform::Mapping {
        types: &["aws_nat_gateway", "aws_eip"],
        map: terraform,
        import: |a| crate::types::terraform::attribute(a, "id"),
        parts: Parts::NONE,
    },
};

pub static TYPE: ResourceType = ResourceType {
    spec: &SPEC,
    provider: &NatGateway,
    unmanaged: Unmanaged::TaggingApi,
};
