//! RDS: what its types share (tags are set by ARN).

use crate::aws::{Aws, AwsError};
use aws_sdk_rds::types::Tag;

pub mod db_instance;
pub mod db_subnet_group;

pub fn rds_tags(tags: &std::collections::BTreeMap<String, String>) -> Vec<Tag> {
    tags.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

/// Tags of an RDS resource, by its ARN.
pub struct Tags;

impl super::Tagging for Tags {
    async fn tag(
        &self,
        aws: &Aws,
        target: &str,
        set: &std::collections::BTreeMap<String, String>,
    ) -> Result<(), AwsError> {
        aws.send(
            "AddTagsToResource",
            || {
                aws.rds()
                    .add_tags_to_resource()
                    .resource_name(target)
                    .set_tags(Some(rds_tags(set)))
                    .send()
            },
            |_| None,
        )
        .await?;
        Ok(())
    }
    async fn untag(&self, aws: &Aws, target: &str, remove: &[String]) -> Result<(), AwsError> {
        aws.send(
            "RemoveTagsFromResource",
            || {
                aws.rds()
                    .remove_tags_from_resource()
                    .resource_name(target)
                    .set_tag_keys(Some(remove.to_vec()))
                    .send()
            },
            |_| None,
        )
        .await?;
        Ok(())
    }
}
