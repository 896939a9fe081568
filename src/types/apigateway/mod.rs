//! API Gateway, REST (`aws_sdk_apigateway`) and HTTP (`apigatewayv2`):
//! what its types share.

use crate::aws::{Aws, AwsError};
use crate::model::ErrorClass;
use aws_sdk_apigateway::types::{Op, PatchOperation};
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use std::collections::HashMap;

pub mod api_key;
pub mod http_api;
pub mod rest_api;
pub mod usage_plan;

/// API Gateway's errors, the same for every operation (REST APIs, keys,
/// usage plans).
pub fn errors<E: ProvideErrorMetadata>(e: &E) -> Option<ErrorClass> {
    match e.code()? {
        "NotFoundException" => Some(ErrorClass::NotFound),
        "ConflictException" => Some(ErrorClass::AlreadyExists),
        "TooManyRequestsException" | "LimitExceededException" => Some(ErrorClass::Throttled),
        "BadRequestException" => Some(ErrorClass::Validation),
        _ => None,
    }
}

/// Tags of an API Gateway resource (API, key, plan), by its ARN.
pub struct Tags;

impl super::Tagging for Tags {
    async fn tag(
        &self,
        aws: &Aws,
        target: &str,
        set: &std::collections::BTreeMap<String, String>,
    ) -> Result<(), AwsError> {
        aws.send(
            "TagResource",
            || {
                aws.restapi()
                    .tag_resource()
                    .resource_arn(target)
                    .set_tags(Some(set.clone().into_iter().collect()))
                    .send()
            },
            errors,
        )
        .await?;
        Ok(())
    }
    async fn untag(&self, aws: &Aws, target: &str, remove: &[String]) -> Result<(), AwsError> {
        aws.send(
            "UntagResource",
            || {
                aws.restapi()
                    .untag_resource()
                    .resource_arn(target)
                    .set_tag_keys(Some(remove.to_vec()))
                    .send()
            },
            errors,
        )
        .await?;
        Ok(())
    }
}

/// The ARN of an API Gateway resource in `collection` (`restapis`,
/// `apikeys`, `usageplans`).
pub fn arn(aws: &Aws, collection: &str, id: &str) -> String {
    format!(
        "arn:{}:apigateway:{}::/{collection}/{id}",
        aws.partition(),
        aws.region
    )
}

/// A listing's items (id and tags, as the SDK gives them) with their ARNs
/// in `collection`.
pub fn listed<'a>(
    aws: &Aws,
    collection: &str,
    items: impl IntoIterator<Item = (Option<&'a str>, Option<&'a HashMap<String, String>>)>,
) -> super::Listed {
    items
        .into_iter()
        .filter_map(|(id, tags)| {
            let tags = tags.map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect());
            Some((arn(aws, collection, id?), tags.unwrap_or_default()))
        })
        .collect()
}

pub fn patch(op: Op, path: &str, value: Option<String>) -> PatchOperation {
    PatchOperation::builder()
        .op(op)
        .path(path)
        .set_value(value)
        .build()
}
