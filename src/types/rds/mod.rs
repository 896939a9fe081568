//! RDS: what its types share (tags are set by ARN).

use crate::aws::{tag_changes, Aws, AwsError};
use aws_sdk_rds::types::Tag;
use serde_json::{Map, Value};

pub mod db_instance;
pub mod db_subnet_group;

pub fn rds_tags(tags: &std::collections::BTreeMap<String, String>) -> Vec<Tag> {
    tags.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

/// Applies a change of tags to an RDS resource by its ARN.
pub async fn retag(
    aws: &Aws,
    arn: &str,
    before: &Map<String, Value>,
    after: &Map<String, Value>,
) -> Result<(), AwsError> {
    let (set, remove) = tag_changes(before, after);
    if !remove.is_empty() {
        aws.send(
            "RemoveTagsFromResource",
            || {
                aws.rds()
                    .remove_tags_from_resource()
                    .resource_name(arn)
                    .set_tag_keys(Some(remove.clone()))
                    .send()
            },
            |_| None,
        )
        .await?;
    }
    if !set.is_empty() {
        aws.send(
            "AddTagsToResource",
            || {
                aws.rds()
                    .add_tags_to_resource()
                    .resource_name(arn)
                    .set_tags(Some(rds_tags(&set)))
                    .send()
            },
            |_| None,
        )
        .await?;
    }
    Ok(())
}
