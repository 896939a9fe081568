//! ECS (Fargate): what its types share. Clusters, task definitions and
//! services carry tags, set and read by ARN.

use crate::aws::{tags_value, Aws, AwsError};
use aws_sdk_ecs::types::Tag;
use serde_json::Value;
use std::collections::BTreeMap;

pub mod ecs_cluster;
pub mod ecs_service;
pub mod ecs_task_definition;

/// A cluster's, service's or task definition family's name: 1 to 255
/// letters, digits, hyphens and underscores; `what` names it in the error.
pub fn name(value: &Value, what: &str) -> Result<(), String> {
    let name = value.as_str().ok_or("expected a string")?;
    let valid = name.contains("${")
        || (!name.is_empty()
            && name.len() <= 255
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
    if valid {
        Ok(())
    } else {
        Err(format!(
            "{what} is 1 to 255 letters, digits, hyphens and underscores (`{name}`)"
        ))
    }
}

pub fn ecs_tags(tags: &BTreeMap<String, String>) -> Vec<Tag> {
    tags.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

pub fn tags_of(tags: &[Tag]) -> Value {
    tags_value(
        tags.iter()
            .map(|t| (t.key().unwrap_or_default(), t.value().unwrap_or_default())),
    )
}

/// Tags of an ECS resource, by its ARN.
pub struct Tags;

impl super::Tagging for Tags {
    async fn tag(
        &self,
        aws: &Aws,
        target: &str,
        set: &BTreeMap<String, String>,
    ) -> Result<(), AwsError> {
        aws.send(
            "TagResource",
            || {
                aws.ecs()
                    .tag_resource()
                    .resource_arn(target)
                    .set_tags(Some(ecs_tags(set)))
                    .send()
            },
            |e| crate::aws::missing(e.is_resource_not_found_exception()),
        )
        .await?;
        Ok(())
    }
    async fn untag(&self, aws: &Aws, target: &str, remove: &[String]) -> Result<(), AwsError> {
        aws.send(
            "UntagResource",
            || {
                aws.ecs()
                    .untag_resource()
                    .resource_arn(target)
                    .set_tag_keys(Some(remove.to_vec()))
                    .send()
            },
            |e| crate::aws::missing(e.is_resource_not_found_exception()),
        )
        .await?;
        Ok(())
    }
}
