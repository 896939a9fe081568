//! What the EC2 types share: their ARNs, tags given in the create call
//! itself, finding a resource again by its ownership tags, the error codes
//! EC2 answers with, and waiting while AWS still uses a resource.
//!
//! EC2 models no error shapes: its documented error codes are its typed
//! errors (Terraform's provider reads them the same way), so they are
//! classified here, once, by code, never by message.

pub mod internet_gateway;
pub mod nat_gateway;
pub mod route_table;
pub mod security_group;
pub mod subnet;
pub mod vpc;
pub mod vpc_endpoint;

use crate::aws::{string_map, tags_value, Aws, AwsError};
use crate::model::{retry, ErrorClass, Observed, TAG_ADDRESS, TAG_ENVIRONMENT, TAG_STACK};
use aws_sdk_ec2::types::{Filter, ResourceType as Ec2Type, Tag, TagSpecification};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use aws_smithy_types::retry::ProvideErrorKind;
use serde_json::{Map, Value};
use std::future::Future;
use std::time::{Duration, Instant};

/// The class of an EC2 error code (the EC2 API reference's "Error codes").
pub fn class_of(code: &str) -> Option<ErrorClass> {
    Some(match code {
        "InvalidVpcID.NotFound"
        | "InvalidSubnetID.NotFound"
        | "InvalidGroup.NotFound"
        | "InvalidGroupId.NotFound"
        | "InvalidInternetGatewayID.NotFound"
        | "InvalidRouteTableID.NotFound"
        | "InvalidRoute.NotFound"
        | "InvalidAssociationID.NotFound"
        | "InvalidAllocationID.NotFound"
        | "InvalidPermission.NotFound"
        | "InvalidVpcEndpointId.NotFound"
        | "NatGatewayNotFound"
        | "Gateway.NotAttached" => ErrorClass::NotFound,
        "InvalidPermission.Duplicate"
        | "InvalidGroup.Duplicate"
        | "RouteAlreadyExists"
        | "Resource.AlreadyAssociated" => ErrorClass::AlreadyExists,
        "DependencyViolation" | "InvalidNetworkInterface.InUse" | "InvalidIPAddress.InUse" => {
            ErrorClass::InUse
        }
        "IncorrectState" | "IncorrectInstanceState" => ErrorClass::Conflict,
        "InvalidParameterValue"
        | "InvalidParameterCombination"
        | "InvalidParameter"
        | "MissingParameter"
        | "InvalidVpc.Range"
        | "InvalidSubnet.Range"
        | "InvalidSubnet.Conflict"
        | "InvalidVpcEndpoint.NotSupported"
        | "InvalidServiceName" => ErrorClass::Validation,
        "RequestLimitExceeded" => ErrorClass::Throttled,
        _ => return None,
    })
}

/// For `Aws::send`: every EC2 operation's errors, by code.
pub fn errors<E: ProvideErrorMetadata>(e: &E) -> Option<ErrorClass> {
    class_of(e.code()?)
}

pub fn arn(aws: &Aws, kind: &str, id: &str) -> String {
    format!(
        "arn:{}:ec2:{}:{}:{kind}/{id}",
        aws.partition(),
        aws.region,
        aws.account()
    )
}

/// What a read of the resource `id` of `kind` (its ARN's resource type)
/// returns: its attributes, with its id and ARN as outputs.
pub fn observed(aws: &Aws, kind: &str, id: &str, attributes: Map<String, Value>) -> Observed {
    super::observation(
        id,
        attributes,
        [
            ("id", Value::from(id)),
            ("arn", Value::from(arn(aws, kind, id))),
        ],
    )
}

fn ec2_tags(tags: &std::collections::BTreeMap<String, String>) -> Vec<Tag> {
    tags.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

/// The stack's tags, ownership tags included, given in the create call
/// itself: a resource is never without them, so one whose create answer
/// was lost is found again and adopted, never made twice.
pub fn tagged_at_create(kind: Ec2Type, desired: &Map<String, Value>) -> TagSpecification {
    TagSpecification::builder()
        .resource_type(kind)
        .set_tags(Some(ec2_tags(&string_map(desired, "tags"))))
        .build()
}

pub fn tags_of(tags: &[Tag]) -> Value {
    tags_value(
        tags.iter()
            .map(|t| (t.key().unwrap_or_default(), t.value().unwrap_or_default())),
    )
}

/// Filters that match the resource carrying `desired`'s ownership tags.
pub fn owned_by(desired: &Map<String, Value>) -> Vec<Filter> {
    let tags = string_map(desired, "tags");
    [TAG_STACK, TAG_ENVIRONMENT, TAG_ADDRESS]
        .iter()
        .map(|key| {
            Filter::builder()
                .name(format!("tag:{key}"))
                .values(tags.get(*key).cloned().unwrap_or_default())
                .build()
        })
        .collect()
}

pub fn filter(name: &str, value: &str) -> Filter {
    Filter::builder().name(name).values(value).build()
}

/// Tags of an EC2 resource, by its id (CreateTags and DeleteTags).
pub struct Tags;

impl super::Tagging for Tags {
    async fn tag(
        &self,
        aws: &Aws,
        target: &str,
        set: &std::collections::BTreeMap<String, String>,
    ) -> Result<(), AwsError> {
        let tags = ec2_tags(set);
        aws.send(
            "CreateTags",
            || {
                aws.ec2()
                    .create_tags()
                    .resources(target)
                    .set_tags(Some(tags.clone()))
                    .send()
            },
            errors,
        )
        .await?;
        Ok(())
    }
    async fn untag(&self, aws: &Aws, target: &str, remove: &[String]) -> Result<(), AwsError> {
        let keys: Vec<Tag> = remove
            .iter()
            .map(|k| Tag::builder().key(k).build())
            .collect();
        aws.send(
            "DeleteTags",
            || {
                aws.ec2()
                    .delete_tags()
                    .resources(target)
                    .set_tags(Some(keys.clone()))
                    .send()
            },
            errors,
        )
        .await?;
        Ok(())
    }
}

/// How long a delete waits for AWS to stop using a resource
/// (`CAIRN_RELEASE_WAIT_SECONDS`, default 45 minutes: the network
/// interfaces of a deleted VPC function can hold its security group and
/// subnets that long; Terraform's provider waits as long).
fn release_deadline() -> Duration {
    let seconds = std::env::var("CAIRN_RELEASE_WAIT_SECONDS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(45 * 60);
    Duration::from_secs(seconds)
}

/// Sends a delete that AWS refuses while something still uses the
/// resource (`DependencyViolation`), again until it is accepted or the
/// deadline passes. The engine's progress lines show the wait. A resource
/// already gone counts as deleted.
pub async fn delete_when_released<T, E, F, Fut>(
    aws: &Aws,
    operation: &'static str,
    mut call: F,
) -> Result<(), AwsError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, SdkError<E, HttpResponse>>>,
    E: ProvideErrorKind + ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let started = Instant::now();
    let deadline = release_deadline();
    let mut attempt = 0;
    loop {
        match aws.send(operation, &mut call, errors).await {
            Err(e) if e.class == ErrorClass::InUse && started.elapsed() < deadline => {
                attempt += 1;
                tokio::time::sleep(retry::poll_interval(attempt)).await;
            }
            Err(e) if e.class == ErrorClass::InUse => {
                return Err(AwsError::new(
                    ErrorClass::InUse,
                    operation,
                    format!(
                        "{} (still in use after {} s of waiting)",
                        e.message,
                        started.elapsed().as_secs()
                    ),
                ))
            }
            other => return crate::aws::ignore_missing(other),
        }
    }
}

/// How long a create waits for a resource AWS builds in the background
/// (a NAT gateway: one to several minutes).
pub const PENDING_CHECKS: u32 = 200;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_have_the_class_terraform_gives_them() {
        assert_eq!(
            class_of("InvalidVpcID.NotFound"),
            Some(ErrorClass::NotFound)
        );
        assert_eq!(class_of("DependencyViolation"), Some(ErrorClass::InUse));
        assert_eq!(
            class_of("InvalidPermission.Duplicate"),
            Some(ErrorClass::AlreadyExists)
        );
        assert_eq!(
            class_of("RequestLimitExceeded"),
            Some(ErrorClass::Throttled)
        );
        assert_eq!(class_of("UnauthorizedOperation"), None);
    }
}
