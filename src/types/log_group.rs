//! A CloudWatch Logs log group with retention and KMS encryption.

use super::{read_back, After, Resource, ResourceType, Tagging, Unmanaged};
use crate::aws::{changed, int, missing, tags_value, text, Aws, AwsError};
use crate::model::ErrorClass;
use crate::model::Observed;
use crate::schema::checks as c;
use crate::schema::{
    no_expansion, no_validation, Fallback as F, Field, Kind as K, Naming, Schema, TAGS,
};
use crate::spec::terraform::Parts;
use crate::spec::{Identity, Spec};
use crate::types::observation;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

fn name_prefix(value: &Value) -> Result<(), String> {
    crate::schema::checks::name_prefix(value, 512, c::log_group_name)
}

pub static LOG_GROUP: Schema = Schema {
    type_name: "log_group",
    description: "CloudWatch Logs log group with retention and optional KMS key",
    fields: &[
        Field::new("name", K::Str)
            .required()
            .force_new()
            .check(c::log_group_name),
        // Instead of a name: cairn makes one from it and a unique suffix,
        // so a replacement can exist beside the old one.
        Field::new("name_prefix", K::Str)
            .force_new()
            .check(name_prefix),
        Field::new("retention_in_days", K::Int)
            .or(F::Int(0))
            .check(retention_in_days),
        Field::new("kms_key_arn", K::Str)
            .or(F::Str(""))
            .check(c::arn_or_empty),
        TAGS,
    ],
    outputs: &["arn"],
    taggable: true,
    naming: Naming::Path,
    stateful: false,
    expand: no_expansion,
    validate: no_validation,
};

/// The values CloudWatch Logs accepts for retention; 0 is cairn's "never expire".
const RETENTION_DAYS: &[i64] = &[
    0, 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
];

fn retention_in_days(value: &Value) -> Result<(), String> {
    match value.as_i64() {
        Some(n) if RETENTION_DAYS.contains(&n) => Ok(()),
        Some(n) => {
            let allowed: Vec<String> = RETENTION_DAYS.iter().map(i64::to_string).collect();
            Err(format!(
                "retention_in_days must be one of {} (0 = never expire), got {n}",
                allowed.join(", ")
            ))
        }
        None => Err("expected an integer".to_owned()),
    }
}

/// DescribeLogGroups takes at most 50 `logGroupIdentifiers`.
const BATCH: usize = 50;

pub struct LogGroup;

impl LogGroup {
    async fn read_group(&self, aws: &Aws, name: &str) -> Result<Option<Observed>, AwsError> {
        let output = aws
            .send(
                "DescribeLogGroups",
                || {
                    aws.logs()
                        .describe_log_groups()
                        .log_group_name_prefix(name)
                        .send()
                },
                |_| None,
            )
            .await?;
        match output
            .log_groups()
            .iter()
            .find(|g| g.log_group_name() == Some(name))
        {
            Some(group) => self.observe(aws, name, group).await.map(Some),
            None => Ok(None),
        }
    }

    /// Up to `BATCH` groups by name in one DescribeLogGroups. An endpoint
    /// that ignores `logGroupIdentifiers` returns more groups, page by page;
    /// only the exact names asked for are kept.
    async fn read_groups(
        &self,
        aws: &Aws,
        names: &[String],
    ) -> Result<BTreeMap<String, Option<Observed>>, AwsError> {
        let mut out: BTreeMap<String, Option<Observed>> =
            names.iter().map(|n| (n.clone(), None)).collect();
        let mut pages = aws.pages(
            "DescribeLogGroups",
            |token| {
                aws.logs()
                    .describe_log_groups()
                    .set_log_group_identifiers(Some(names.to_vec()))
                    .set_next_token(token)
                    .send()
            },
            |page| page.next_token(),
            |_| None,
        );
        while let Some(page) = pages.next_page().await? {
            for group in page.log_groups() {
                let name = group.log_group_name().unwrap_or_default();
                if let Some(slot) = out.get_mut(name) {
                    *slot = Some(self.observe(aws, name, group).await?);
                }
            }
        }
        Ok(out)
    }

    async fn observe(
        &self,
        aws: &Aws,
        name: &str,
        group: &aws_sdk_cloudwatchlogs::types::LogGroup,
    ) -> Result<Observed, AwsError> {
        let arn = group
            .arn()
            .unwrap_or_default()
            .trim_end_matches(":*")
            .to_owned();
        let tags = match aws.confirmed_tags(&arn).await {
            Some(tags) => tags,
            None => {
                let tags = aws
                    .send(
                        "ListTagsForResource",
                        || {
                            aws.logs()
                                .list_tags_for_resource()
                                .resource_arn(&arn)
                                .send()
                        },
                        |_| None,
                    )
                    .await?;
                tags_value(
                    tags.tags()
                        .into_iter()
                        .flatten()
                        .map(|(k, v)| (k.as_str(), v.as_str())),
                )
            }
        };
        let mut attributes = Map::new();
        attributes.insert("name".into(), Value::String(name.to_owned()));
        attributes.insert(
            "retention_in_days".into(),
            Value::from(group.retention_in_days().unwrap_or(0)),
        );
        attributes.insert(
            "kms_key_arn".into(),
            Value::String(group.kms_key_id().unwrap_or_default().to_owned()),
        );
        attributes.insert("tags".into(), tags);
        Ok(observation(name, attributes, [("arn", Value::String(arn))]))
    }

    async fn set_retention(&self, aws: &Aws, name: &str, days: i64) -> Result<(), AwsError> {
        if days > 0 {
            aws.send(
                "PutRetentionPolicy",
                || {
                    aws.logs()
                        .put_retention_policy()
                        .log_group_name(name)
                        .retention_in_days(days as i32)
                        .send()
                },
                |_| None,
            )
            .await?;
        } else {
            aws.send(
                "DeleteRetentionPolicy",
                || {
                    aws.logs()
                        .delete_retention_policy()
                        .log_group_name(name)
                        .send()
                },
                |_| None,
            )
            .await?;
        }
        Ok(())
    }
}

impl Tagging for LogGroup {
    async fn tag(
        &self,
        aws: &Aws,
        target: &str,
        set: &BTreeMap<String, String>,
    ) -> Result<(), AwsError> {
        aws.send(
            "TagResource",
            || {
                aws.logs()
                    .tag_resource()
                    .resource_arn(target)
                    .set_tags(Some(set.clone().into_iter().collect()))
                    .send()
            },
            |_| None,
        )
        .await?;
        Ok(())
    }
    async fn untag(&self, aws: &Aws, target: &str, remove: &[String]) -> Result<(), AwsError> {
        aws.send(
            "UntagResource",
            || {
                aws.logs()
                    .untag_resource()
                    .resource_arn(target)
                    .set_tag_keys(Some(remove.to_vec()))
                    .send()
            },
            |_| None,
        )
        .await?;
        Ok(())
    }
}

impl Resource for LogGroup {
    async fn read(&self, aws: &Aws, id: &str) -> Result<Option<Observed>, AwsError> {
        self.read_group(aws, id).await
    }

    fn batch_size(&self) -> usize {
        BATCH
    }

    async fn read_many(
        &self,
        aws: &Aws,
        ids: &[String],
    ) -> Result<BTreeMap<String, Option<Observed>>, AwsError> {
        match ids {
            [one] => Ok(BTreeMap::from([(
                one.clone(),
                self.read_group(aws, one).await?,
            )])),
            _ => self.read_groups(aws, ids).await,
        }
    }

    async fn create(&self, aws: &Aws, desired: &Map<String, Value>) -> Result<Observed, AwsError> {
        let name = text(desired, "name");
        let key = text(desired, "kms_key_arn");
        let tags = crate::aws::string_map(desired, "tags");
        aws.send(
            "CreateLogGroup",
            || {
                aws.logs()
                    .create_log_group()
                    .log_group_name(name)
                    .set_kms_key_id((!key.is_empty()).then(|| key.to_owned()))
                    .set_tags((!tags.is_empty()).then(|| tags.clone().into_iter().collect()))
                    .send()
            },
            |e: &aws_sdk_cloudwatchlogs::operation::create_log_group::CreateLogGroupError| {
                e.is_resource_already_exists_exception()
                    .then_some(ErrorClass::AlreadyExists)
            },
        )
        .await?;
        let days = int(desired, "retention_in_days").unwrap_or(0);
        if days > 0 {
            self.set_retention(aws, name, days).await?;
        }
        read_back(
            self.read_group(aws, name).await,
            After::Create,
            "DescribeLogGroups",
            "log group not visible after create",
        )
    }

    async fn update(
        &self,
        aws: &Aws,
        id: &str,
        before: &Map<String, Value>,
        after: &Map<String, Value>,
        fields: &[String],
    ) -> Result<Observed, AwsError> {
        if changed(fields, "retention_in_days") {
            self.set_retention(aws, id, int(after, "retention_in_days").unwrap_or(0))
                .await?;
        }
        if changed(fields, "kms_key_arn") {
            let key = text(after, "kms_key_arn");
            if key.is_empty() {
                aws.send(
                    "DisassociateKmsKey",
                    || aws.logs().disassociate_kms_key().log_group_name(id).send(),
                    |_| None,
                )
                .await?;
            } else {
                aws.send(
                    "AssociateKmsKey",
                    || {
                        aws.logs()
                            .associate_kms_key()
                            .log_group_name(id)
                            .kms_key_id(key)
                            .send()
                    },
                    |_| None,
                )
                .await?;
            }
        }
        if changed(fields, "tags") {
            let current = read_back(
                self.read_group(aws, id).await,
                After::Update,
                "DescribeLogGroups",
                "log group disappeared",
            )?;
            let arn = text(&current.outputs, "arn").to_owned();
            self.retag(aws, &arn, before, after).await?;
        }
        read_back(
            self.read_group(aws, id).await,
            After::Update,
            "DescribeLogGroups",
            "log group disappeared during update",
        )
    }

    async fn delete(
        &self,
        aws: &Aws,
        id: &str,
        _before: &Map<String, Value>,
    ) -> Result<(), AwsError> {
        aws.send_delete(
            "DeleteLogGroup",
            || aws.logs().delete_log_group().log_group_name(id).send(),
            |e: &aws_sdk_cloudwatchlogs::operation::delete_log_group::DeleteLogGroupError| {
                missing(e.is_resource_not_found_exception())
            },
        )
        .await
    }
}

/// Terraform's view: `aws_cloudwatch_log_group`.
fn terraform(a: &Map<String, Value>) -> Vec<super::terraform::Tf> {
    use super::terraform::prelude::*;
    vec![tf(
        "aws_cloudwatch_log_group",
        tagged(
            a,
            json!({
                "arn": v(a, "arn"), "name": v(a, "name"), "name_prefix": v(a, "name_prefix"), "retention_in_days": v(a, "retention_in_days"),
                "kms_key_id": opt(a, "kms_key_arn"), "skip_destroy": false, "log_group_class": "STANDARD",
            }),
        ),
    )]
}

pub static SPEC: Spec = Spec {
    schema: &LOG_GROUP,
    planned_id: super::by_name,
    id_from_arn: |arn| super::after(arn, ":log-group:"),
    arn_example: ("arn:aws:logs:us-east-1:1:log-group:/a/b:*", Some("/a/b")),
    bulk_tagged: true,
    create_before_destroy: false,
    identity: Some(Identity::NAME),
    update_note: crate::spec::no_note,
    terraform: super::terraform::Mapping {
        types: &["aws_cloudwatch_log_group"],
        map: terraform,
        import: |a| super::terraform::attribute(a, "name"),
        parts: Parts {
            taken_over: &[],
            dies_with: &[
                "aws_cloudwatch_log_subscription_filter",
                "aws_cloudwatch_log_stream",
            ],
            ..Parts::NONE
        },
    },
};

pub static TYPE: ResourceType = ResourceType {
    spec: &SPEC,
    provider: &LogGroup,
    unmanaged: Unmanaged::TaggingApi,
};
