//! Elastic Load Balancing (application load balancers): what its types
//! share. Every resource is addressed by its ARN; tags are set and read by
//! ARN too.

use crate::aws::{tags_value, Aws, AwsError};
use aws_sdk_elasticloadbalancingv2::types::Tag;
use serde_json::Value;
use std::collections::BTreeMap;

pub mod lb;
pub mod lb_listener;
pub mod lb_listener_rule;
pub mod lb_target_group;

pub fn elb_tags(tags: &BTreeMap<String, String>) -> Vec<Tag> {
    tags.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

/// The tags of the resource `arn`, as the `tags` field holds them.
pub async fn read_tags(aws: &Aws, arn: &str) -> Result<Value, AwsError> {
    let described = aws
        .send(
            "DescribeTags",
            || aws.elbv2().describe_tags().resource_arns(arn).send(),
            |_| None,
        )
        .await?;
    Ok(tags_value(
        described
            .tag_descriptions()
            .iter()
            .flat_map(|d| d.tags())
            .map(|t| (t.key().unwrap_or_default(), t.value().unwrap_or_default())),
    ))
}

/// What follows `marker` in an ARN up to the next `/`: the name in
/// `...:targetgroup/NAME/hash` or `...:loadbalancer/app/NAME/hash`.
pub fn name_in_arn(arn: &str, marker: &str) -> Option<String> {
    let rest = crate::types::after(arn, marker)?;
    rest.split('/').next().map(str::to_owned)
}

/// Tags of a load balancer, listener, rule or target group, by its ARN.
pub struct Tags;

impl super::Tagging for Tags {
    async fn tag(
        &self,
        aws: &Aws,
        target: &str,
        set: &BTreeMap<String, String>,
    ) -> Result<(), AwsError> {
        aws.send(
            "AddTags",
            || {
                aws.elbv2()
                    .add_tags()
                    .resource_arns(target)
                    .set_tags(Some(elb_tags(set)))
                    .send()
            },
            |_| None,
        )
        .await?;
        Ok(())
    }
    async fn untag(&self, aws: &Aws, target: &str, remove: &[String]) -> Result<(), AwsError> {
        aws.send(
            "RemoveTags",
            || {
                aws.elbv2()
                    .remove_tags()
                    .resource_arns(target)
                    .set_tag_keys(Some(remove.to_vec()))
                    .send()
            },
            |_| None,
        )
        .await?;
        Ok(())
    }
}
