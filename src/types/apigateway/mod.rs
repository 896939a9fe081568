//! API Gateway, REST (`aws_sdk_apigateway`) and HTTP (`apigatewayv2`):
//! what its types share.

use crate::aws::{Aws, AwsError};
use crate::model::ErrorClass;
use aws_sdk_apigateway::types::{Op, PatchOperation};
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

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

pub fn patch(op: Op, path: &str, value: Option<String>) -> PatchOperation {
    PatchOperation::builder()
        .op(op)
        .path(path)
        .set_value(value)
        .build()
}
