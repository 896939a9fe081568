//! CloudFront: what its types share. CloudFront is global: its ARNs name
//! no region and AWS serves it (and its tags) from us-east-1, whatever the
//! stack's region. Every change names the version it changes (`IfMatch`,
//! the ETag of the latest read): a stale one is refused as
//! `PreconditionFailed`, and cairn then reads again and retries.

use crate::aws::{Aws, AwsError};
use crate::model::ErrorClass;
use aws_sdk_cloudfront::types::{Tag, Tags as TagSet};
use serde_json::Value;
use std::collections::BTreeMap;
use std::future::Future;

pub mod cloudfront_distribution;
pub mod cloudfront_origin_access_control;

/// How many times a change is sent again after its ETag went stale.
const STALE_RETRIES: u32 = 5;

/// A builder's refusal (a required member missing): a defect of cairn's
/// own request, never of AWS.
pub fn built<T>(
    operation: &'static str,
    result: Result<T, aws_smithy_types::error::operation::BuildError>,
) -> Result<T, AwsError> {
    result.map_err(|e| AwsError::new(ErrorClass::Fatal, operation, e.to_string()))
}

/// Runs `change` with the ETag `read` returns, reading again and retrying
/// while AWS says the ETag is not the latest (someone changed it between
/// the read and the change).
pub async fn with_latest_etag<R, RFut, C, CFut, S, T>(
    mut read: R,
    mut change: C,
) -> Result<T, AwsError>
where
    R: FnMut() -> RFut,
    RFut: Future<Output = Result<(S, String), AwsError>>,
    C: FnMut(S, String) -> CFut,
    CFut: Future<Output = Result<T, AwsError>>,
{
    let mut attempt = 0;
    loop {
        let (current, etag) = read().await?;
        match change(current, etag).await {
            Err(e) if e.class == ErrorClass::PreconditionFailed && attempt < STALE_RETRIES => {
                attempt += 1;
            }
            other => return other,
        }
    }
}

pub fn cloudfront_tags(tags: &BTreeMap<String, String>) -> Result<TagSet, AwsError> {
    let items = tags
        .iter()
        .map(|(k, v)| built("TagResource", Tag::builder().key(k).value(v).build()))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(TagSet::builder().set_items(Some(items)).build())
}

/// The tags of the resource `arn`, as the `tags` field holds them.
pub async fn read_tags(aws: &Aws, arn: &str) -> Result<Value, AwsError> {
    let listed = aws
        .send(
            "ListTagsForResource",
            || {
                aws.cloudfront()
                    .list_tags_for_resource()
                    .resource(arn)
                    .send()
            },
            |_| None,
        )
        .await?;
    Ok(crate::aws::tags_value(
        listed
            .tags()
            .map(|t| t.items())
            .unwrap_or_default()
            .iter()
            .map(|t| (t.key(), t.value().unwrap_or_default())),
    ))
}

/// Tags of a distribution, by its ARN.
pub struct Tags;

impl super::Tagging for Tags {
    async fn tag(
        &self,
        aws: &Aws,
        target: &str,
        set: &BTreeMap<String, String>,
    ) -> Result<(), AwsError> {
        let tags = cloudfront_tags(set)?;
        aws.send(
            "TagResource",
            || {
                aws.cloudfront()
                    .tag_resource()
                    .resource(target)
                    .tags(tags.clone())
                    .send()
            },
            |_| None,
        )
        .await?;
        Ok(())
    }
    async fn untag(&self, aws: &Aws, target: &str, remove: &[String]) -> Result<(), AwsError> {
        let keys = aws_sdk_cloudfront::types::TagKeys::builder()
            .set_items(Some(remove.to_vec()))
            .build();
        aws.send(
            "UntagResource",
            || {
                aws.cloudfront()
                    .untag_resource()
                    .resource(target)
                    .tag_keys(keys.clone())
                    .send()
            },
            |_| None,
        )
        .await?;
        Ok(())
    }
}
