//! API Gateway, REST (`aws_sdk_apigateway`) and HTTP (`apigatewayv2`):
//! what its types share.

use crate::aws::{Aws, AwsError};
use crate::model::ErrorClass;
use aws_sdk_apigateway::types::{Op, PatchOperation};
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use serde_json::{Map, Value};

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

/// Applies a change of tags to an API Gateway resource (API, key, plan).
pub async fn retag(
    aws: &Aws,
    arn: &str,
    before: &Map<String, Value>,
    after: &Map<String, Value>,
) -> Result<(), AwsError> {
    let (set, remove) = crate::aws::tag_changes(before, after);
    if !remove.is_empty() {
        aws.send(
            "UntagResource",
            || {
                aws.restapi()
                    .untag_resource()
                    .resource_arn(arn)
                    .set_tag_keys(Some(remove.clone()))
                    .send()
            },
            errors,
        )
        .await?;
    }
    if !set.is_empty() {
        aws.send(
            "TagResource",
            || {
                aws.restapi()
                    .tag_resource()
                    .resource_arn(arn)
                    .set_tags(Some(set.clone().into_iter().collect()))
                    .send()
            },
            errors,
        )
        .await?;
    }
    Ok(())
}

pub fn patch(op: Op, path: &str, value: Option<String>) -> PatchOperation {
    PatchOperation::builder()
        .op(op)
        .path(path)
        .set_value(value)
        .build()
}
