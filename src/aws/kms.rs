use super::{
    changed, flag, ignore_missing, int, missing, policy_text, tag_changes, tags_value, text, Aws,
    AwsError, Provider,
};
use crate::canonical;
use crate::model::ErrorClass;
use crate::model::Observed;
use crate::model::{TAG_ADDRESS, TAG_ENVIRONMENT, TAG_STACK};
use aws_sdk_kms::types::{KeySpec, KeyState, KeyUsageType, Tag};
use futures::future::BoxFuture;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

pub struct Key;
pub struct Alias;

fn kms_tag(key: &str, value: &str) -> Tag {
    Tag::builder()
        .tag_key(key)
        .tag_value(value)
        .build()
        .expect("set")
}

impl Key {
    async fn read_key(&self, aws: &Aws, id: &str) -> Result<Option<Observed>, AwsError> {
        let described = match aws
            .send(
                "DescribeKey",
                || aws.kms().describe_key().key_id(id).send(),
                |e: &aws_sdk_kms::operation::describe_key::DescribeKeyError| {
                    missing(e.is_not_found_exception())
                },
            )
            .await
        {
            Ok(output) => output,
            Err(e) if e.is_not_found() => return Ok(None),
            Err(e) => return Err(e),
        };
        let Some(metadata) = described.key_metadata else {
            return Ok(None);
        };
        // A key scheduled for deletion is gone as far as the stack goes.
        if matches!(
            metadata.key_state(),
            Some(KeyState::PendingDeletion | KeyState::PendingReplicaDeletion)
        ) {
            return Ok(None);
        }
        let key_id = metadata.key_id().to_owned();
        let rotation = aws
            .send(
                "GetKeyRotationStatus",
                || aws.kms().get_key_rotation_status().key_id(&key_id).send(),
                |_| None,
            )
            .await?;
        let policy = aws
            .send(
                "GetKeyPolicy",
                || {
                    aws.kms()
                        .get_key_policy()
                        .key_id(&key_id)
                        .policy_name("default")
                        .send()
                },
                |_| None,
            )
            .await?;
        let tags = match aws.confirmed_tags(metadata.arn().unwrap_or_default()) {
            Some(tags) => tags,
            None => {
                let tags = aws
                    .send(
                        "ListResourceTags",
                        || aws.kms().list_resource_tags().key_id(&key_id).send(),
                        |_| None,
                    )
                    .await?;
                tags_value(tags.tags().iter().map(|t| (t.tag_key(), t.tag_value())))
            }
        };
        let mut attributes = Map::new();
        attributes.insert(
            "description".into(),
            Value::String(metadata.description().unwrap_or_default().to_owned()),
        );
        attributes.insert(
            "key_usage".into(),
            Value::String(
                metadata
                    .key_usage()
                    .map_or("ENCRYPT_DECRYPT", |u| u.as_str())
                    .to_owned(),
            ),
        );
        attributes.insert(
            "key_spec".into(),
            Value::String(
                metadata
                    .key_spec()
                    .map_or("SYMMETRIC_DEFAULT", |s| s.as_str())
                    .to_owned(),
            ),
        );
        attributes.insert(
            "enable_key_rotation".into(),
            Value::Bool(rotation.key_rotation_enabled()),
        );
        attributes.insert(
            "key_policy".into(),
            policy.policy().map_or(Value::Null, |p| {
                canonical::policy(&Value::String(p.to_owned()))
            }),
        );
        attributes.insert("tags".into(), tags);
        let mut outputs = Map::new();
        outputs.insert(
            "arn".into(),
            Value::String(metadata.arn().unwrap_or_default().to_owned()),
        );
        outputs.insert("key_id".into(), Value::String(key_id.clone()));
        Ok(Some(Observed {
            id: key_id,
            attributes,
            outputs,
        }))
    }

    async fn set_rotation(&self, aws: &Aws, id: &str, enabled: bool) -> Result<(), AwsError> {
        if enabled {
            aws.send(
                "EnableKeyRotation",
                || aws.kms().enable_key_rotation().key_id(id).send(),
                |_| None,
            )
            .await?;
        } else {
            aws.send(
                "DisableKeyRotation",
                || aws.kms().disable_key_rotation().key_id(id).send(),
                |_| None,
            )
            .await?;
        }
        Ok(())
    }
}

impl Provider for Key {
    fn read<'a>(
        &'a self,
        aws: &'a Aws,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<Observed>, AwsError>> {
        Box::pin(self.read_key(aws, id))
    }

    fn find<'a>(
        &'a self,
        aws: &'a Aws,
        tags: &'a Map<String, Value>,
    ) -> BoxFuture<'a, Result<Option<Observed>, AwsError>> {
        Box::pin(async move {
            let wanted: Vec<(&str, &str)> = [TAG_STACK, TAG_ENVIRONMENT, TAG_ADDRESS]
                .iter()
                .map(|k| (*k, text(tags, k)))
                .collect();
            let mut marker: Option<String> = None;
            loop {
                let page = aws
                    .send(
                        "ListKeys",
                        || aws.kms().list_keys().set_marker(marker.clone()).send(),
                        |_| None,
                    )
                    .await?;
                for entry in page.keys() {
                    let Some(key_id) = entry.key_id() else {
                        continue;
                    };
                    let found = aws
                        .send(
                            "ListResourceTags",
                            || aws.kms().list_resource_tags().key_id(key_id).send(),
                            |_| None,
                        )
                        .await?;
                    let matches = wanted.iter().all(|(k, v)| {
                        found
                            .tags()
                            .iter()
                            .any(|t| t.tag_key() == *k && t.tag_value() == *v)
                    });
                    if matches {
                        if let Some(observed) = self.read_key(aws, key_id).await? {
                            return Ok(Some(observed));
                        }
                    }
                }
                match page.next_marker() {
                    Some(next) if page.truncated() => marker = Some(next.to_owned()),
                    _ => return Ok(None),
                }
            }
        })
    }

    fn create<'a>(
        &'a self,
        aws: &'a Aws,
        desired: &'a Map<String, Value>,
    ) -> BoxFuture<'a, Result<Observed, AwsError>> {
        Box::pin(async move {
            let tags: Vec<Tag> = super::string_map(desired, "tags")
                .iter()
                .map(|(k, v)| kms_tag(k, v))
                .collect();
            let policy = desired
                .get("key_policy")
                .filter(|p| !p.is_null())
                .map(policy_text);
            let created = aws
                .send_create(
                    "CreateKey",
                    || {
                        aws.kms()
                            .create_key()
                            .description(text(desired, "description"))
                            .key_usage(KeyUsageType::from(text(desired, "key_usage")))
                            .key_spec(KeySpec::from(text(desired, "key_spec")))
                            .set_policy(policy.clone())
                            .set_tags(Some(tags.clone()))
                            .send()
                    },
                    |_| None,
                )
                .await?;
            let key_id = created
                .key_metadata()
                .map(|m| m.key_id().to_owned())
                .unwrap_or_default();
            if flag(desired, "enable_key_rotation") {
                self.set_rotation(aws, &key_id, true).await?;
            }
            self.read_key(aws, &key_id).await?.ok_or_else(|| {
                AwsError::new(
                    ErrorClass::EventualConsistency,
                    "DescribeKey",
                    "key not visible after create",
                )
            })
        })
    }

    fn update<'a>(
        &'a self,
        aws: &'a Aws,
        id: &'a str,
        before: &'a Map<String, Value>,
        after: &'a Map<String, Value>,
        fields: &'a [String],
    ) -> BoxFuture<'a, Result<Observed, AwsError>> {
        Box::pin(async move {
            if changed(fields, "description") {
                aws.send(
                    "UpdateKeyDescription",
                    || {
                        aws.kms()
                            .update_key_description()
                            .key_id(id)
                            .description(text(after, "description"))
                            .send()
                    },
                    |_| None,
                )
                .await?;
            }
            if changed(fields, "enable_key_rotation") {
                self.set_rotation(aws, id, flag(after, "enable_key_rotation"))
                    .await?;
            }
            if changed(fields, "key_policy") {
                let policy = policy_text(&after["key_policy"]);
                aws.send(
                    "PutKeyPolicy",
                    || {
                        aws.kms()
                            .put_key_policy()
                            .key_id(id)
                            .policy_name("default")
                            .policy(&policy)
                            .send()
                    },
                    |_| None,
                )
                .await?;
            }
            if changed(fields, "tags") {
                let (set, remove) = tag_changes(before, after);
                if !remove.is_empty() {
                    aws.send(
                        "UntagResource",
                        || {
                            aws.kms()
                                .untag_resource()
                                .key_id(id)
                                .set_tag_keys(Some(remove.clone()))
                                .send()
                        },
                        |_| None,
                    )
                    .await?;
                }
                if !set.is_empty() {
                    let tags: Vec<Tag> = set.iter().map(|(k, v)| kms_tag(k, v)).collect();
                    aws.send(
                        "TagResource",
                        || {
                            aws.kms()
                                .tag_resource()
                                .key_id(id)
                                .set_tags(Some(tags.clone()))
                                .send()
                        },
                        |_| None,
                    )
                    .await?;
                }
            }
            self.read_key(aws, id).await?.ok_or_else(|| {
                AwsError::new(
                    ErrorClass::NotFound,
                    "DescribeKey",
                    "key disappeared during update",
                )
            })
        })
    }

    fn delete<'a>(
        &'a self,
        aws: &'a Aws,
        id: &'a str,
        before: &'a Map<String, Value>,
    ) -> BoxFuture<'a, Result<(), AwsError>> {
        Box::pin(async move {
            let window = int(before, "deletion_window_in_days").unwrap_or(30) as i32;
            let result = aws
                .send("ScheduleKeyDeletion", || aws.kms().schedule_key_deletion().key_id(id).pending_window_in_days(window).send(), |e: &aws_sdk_kms::operation::schedule_key_deletion::ScheduleKeyDeletionError| {
                    // Already pending deletion counts as deleted.
                    missing(e.is_not_found_exception() || e.is_kms_invalid_state_exception())
                })
                .await;
            ignore_missing(result)
        })
    }
}

impl Alias {
    /// Every alias the names ask for, from one paginated ListAliases.
    async fn read_aliases(
        &self,
        aws: &Aws,
        names: &[String],
    ) -> Result<BTreeMap<String, Option<Observed>>, AwsError> {
        let mut out: BTreeMap<String, Option<Observed>> =
            names.iter().map(|n| (n.clone(), None)).collect();
        let mut marker: Option<String> = None;
        loop {
            let page = aws
                .send(
                    "ListAliases",
                    || aws.kms().list_aliases().set_marker(marker.clone()).send(),
                    |_| None,
                )
                .await?;
            for alias in page.aliases() {
                let Some(slot) = alias.alias_name().and_then(|n| out.get_mut(n)) else {
                    continue;
                };
                let mut attributes = Map::new();
                attributes.insert(
                    "name".into(),
                    Value::String(alias.alias_name().unwrap_or_default().to_owned()),
                );
                attributes.insert(
                    "target_key_id".into(),
                    Value::String(alias.target_key_id().unwrap_or_default().to_owned()),
                );
                let mut outputs = Map::new();
                outputs.insert(
                    "arn".into(),
                    Value::String(alias.alias_arn().unwrap_or_default().to_owned()),
                );
                *slot = Some(Observed {
                    id: alias.alias_name().unwrap_or_default().to_owned(),
                    attributes,
                    outputs,
                });
            }
            match page.next_marker() {
                Some(next) if page.truncated() => marker = Some(next.to_owned()),
                _ => return Ok(out),
            }
        }
    }

    async fn read_alias(&self, aws: &Aws, name: &str) -> Result<Option<Observed>, AwsError> {
        Ok(self
            .read_aliases(aws, &[name.to_owned()])
            .await?
            .remove(name)
            .flatten())
    }
}

impl Provider for Alias {
    fn batch_size(&self) -> usize {
        // ListAliases returns every alias in the region anyway.
        1000
    }

    fn read_many<'a>(
        &'a self,
        aws: &'a Aws,
        ids: &'a [String],
    ) -> BoxFuture<'a, Result<BTreeMap<String, Option<Observed>>, AwsError>> {
        Box::pin(self.read_aliases(aws, ids))
    }

    fn read<'a>(
        &'a self,
        aws: &'a Aws,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<Observed>, AwsError>> {
        Box::pin(self.read_alias(aws, id))
    }
    fn create<'a>(
        &'a self,
        aws: &'a Aws,
        desired: &'a Map<String, Value>,
    ) -> BoxFuture<'a, Result<Observed, AwsError>> {
        Box::pin(async move {
            let name = text(desired, "name");
            aws.send(
                "CreateAlias",
                || {
                    aws.kms()
                        .create_alias()
                        .alias_name(name)
                        .target_key_id(text(desired, "target_key_id"))
                        .send()
                },
                |e: &aws_sdk_kms::operation::create_alias::CreateAliasError| {
                    e.is_already_exists_exception()
                        .then_some(ErrorClass::AlreadyExists)
                },
            )
            .await?;
            self.read_alias(aws, name).await?.ok_or_else(|| {
                AwsError::new(
                    ErrorClass::EventualConsistency,
                    "ListAliases",
                    "alias not visible after create",
                )
            })
        })
    }
    fn update<'a>(
        &'a self,
        aws: &'a Aws,
        id: &'a str,
        _before: &'a Map<String, Value>,
        after: &'a Map<String, Value>,
        _fields: &'a [String],
    ) -> BoxFuture<'a, Result<Observed, AwsError>> {
        Box::pin(async move {
            aws.send(
                "UpdateAlias",
                || {
                    aws.kms()
                        .update_alias()
                        .alias_name(id)
                        .target_key_id(text(after, "target_key_id"))
                        .send()
                },
                |_| None,
            )
            .await?;
            self.read_alias(aws, id).await?.ok_or_else(|| {
                AwsError::new(
                    ErrorClass::NotFound,
                    "ListAliases",
                    "alias disappeared during update",
                )
            })
        })
    }
    fn delete<'a>(
        &'a self,
        aws: &'a Aws,
        id: &'a str,
        _before: &'a Map<String, Value>,
    ) -> BoxFuture<'a, Result<(), AwsError>> {
        Box::pin(async move {
            ignore_missing(
                aws.send(
                    "DeleteAlias",
                    || aws.kms().delete_alias().alias_name(id).send(),
                    |e: &aws_sdk_kms::operation::delete_alias::DeleteAliasError| {
                        missing(e.is_not_found_exception())
                    },
                )
                .await,
            )
        })
    }
}
