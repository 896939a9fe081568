use super::{
    changed, flag, ignore_missing, missing, tag_changes, tags_value, text, Aws, AwsError, Provider,
};
use crate::canonical;
use crate::model::ErrorClass;
use crate::model::Observed;
use aws_sdk_ecr::types::{
    EncryptionConfiguration, EncryptionType, ImageScanningConfiguration, ImageTagMutability, Tag,
};
use futures::future::BoxFuture;
use serde_json::{Map, Value};

pub struct Repository;

fn ecr_tag(key: &str, value: &str) -> Tag {
    Tag::builder().key(key).value(value).build().expect("set")
}

impl Repository {
    async fn read_repository(&self, aws: &Aws, name: &str) -> Result<Option<Observed>, AwsError> {
        let described = match aws
            .send(
                "DescribeRepositories",
                || {
                    aws.ecr()
                        .describe_repositories()
                        .repository_names(name)
                        .send()
                },
                |e: &aws_sdk_ecr::operation::describe_repositories::DescribeRepositoriesError| {
                    missing(e.is_repository_not_found_exception())
                },
            )
            .await
        {
            Ok(output) => output,
            Err(e) if e.is_not_found() => return Ok(None),
            Err(e) => return Err(e),
        };
        let Some(repository) = described.repositories().first().cloned() else {
            return Ok(None);
        };
        let arn = repository.repository_arn().unwrap_or_default().to_owned();
        let lifecycle = match aws
            .send(
                "GetLifecyclePolicy",
                || {
                    aws.ecr()
                        .get_lifecycle_policy()
                        .repository_name(name)
                        .send()
                },
                |e: &aws_sdk_ecr::operation::get_lifecycle_policy::GetLifecyclePolicyError| {
                    missing(e.is_lifecycle_policy_not_found_exception())
                },
            )
            .await
        {
            Ok(output) => output
                .lifecycle_policy_text()
                .and_then(|t| serde_json::from_str::<Value>(t).ok())
                .map_or(Value::Null, |v| canonical::json(&v)),
            Err(e) if e.is_not_found() => Value::Null,
            Err(e) => return Err(e),
        };
        let tags = aws
            .send(
                "ListTagsForResource",
                || aws.ecr().list_tags_for_resource().resource_arn(&arn).send(),
                |_| None,
            )
            .await?;
        let encryption = repository.encryption_configuration();
        let mut attributes = Map::new();
        attributes.insert("name".into(), Value::String(name.to_owned()));
        attributes.insert(
            "image_tag_mutability".into(),
            Value::String(
                repository
                    .image_tag_mutability()
                    .map_or("MUTABLE", |m| m.as_str())
                    .to_owned(),
            ),
        );
        attributes.insert(
            "scan_on_push".into(),
            Value::Bool(
                repository
                    .image_scanning_configuration()
                    .is_some_and(|s| s.scan_on_push()),
            ),
        );
        attributes.insert(
            "encryption_type".into(),
            Value::String(
                encryption
                    .map_or("AES256", |e| e.encryption_type().as_str())
                    .to_owned(),
            ),
        );
        attributes.insert(
            "kms_key_arn".into(),
            Value::String(
                encryption
                    .and_then(|e| e.kms_key())
                    .unwrap_or_default()
                    .to_owned(),
            ),
        );
        attributes.insert("lifecycle_policy".into(), lifecycle);
        attributes.insert(
            "tags".into(),
            tags_value(tags.tags().iter().map(|t| (t.key(), t.value()))),
        );
        let mut outputs = Map::new();
        outputs.insert("arn".into(), Value::String(arn));
        outputs.insert(
            "repository_url".into(),
            Value::String(repository.repository_uri().unwrap_or_default().to_owned()),
        );
        outputs.insert(
            "registry_id".into(),
            Value::String(repository.registry_id().unwrap_or_default().to_owned()),
        );
        Ok(Some(Observed {
            id: name.to_owned(),
            attributes,
            outputs,
        }))
    }

    async fn set_lifecycle(&self, aws: &Aws, name: &str, policy: &Value) -> Result<(), AwsError> {
        if policy.is_null() {
            let result = aws
                .send("DeleteLifecyclePolicy", || aws.ecr().delete_lifecycle_policy().repository_name(name).send(), |e: &aws_sdk_ecr::operation::delete_lifecycle_policy::DeleteLifecyclePolicyError| missing(e.is_lifecycle_policy_not_found_exception()))
                .await;
            ignore_missing(result)
        } else {
            let body = policy.to_string();
            aws.send(
                "PutLifecyclePolicy",
                || {
                    aws.ecr()
                        .put_lifecycle_policy()
                        .repository_name(name)
                        .lifecycle_policy_text(&body)
                        .send()
                },
                |_| None,
            )
            .await?;
            Ok(())
        }
    }
}

impl Provider for Repository {
    fn read<'a>(
        &'a self,
        aws: &'a Aws,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<Observed>, AwsError>> {
        Box::pin(self.read_repository(aws, id))
    }

    fn create<'a>(
        &'a self,
        aws: &'a Aws,
        desired: &'a Map<String, Value>,
    ) -> BoxFuture<'a, Result<Observed, AwsError>> {
        Box::pin(async move {
            let name = text(desired, "name");
            let key = text(desired, "kms_key_arn");
            let encryption = EncryptionConfiguration::builder()
                .encryption_type(EncryptionType::from(text(desired, "encryption_type")))
                .set_kms_key((!key.is_empty()).then(|| key.to_owned()))
                .build()
                .expect("set");
            let tags: Vec<Tag> = super::string_map(desired, "tags")
                .iter()
                .map(|(k, v)| ecr_tag(k, v))
                .collect();
            aws.send(
                "CreateRepository",
                || {
                    aws.ecr()
                        .create_repository()
                        .repository_name(name)
                        .image_tag_mutability(ImageTagMutability::from(text(
                            desired,
                            "image_tag_mutability",
                        )))
                        .image_scanning_configuration(
                            ImageScanningConfiguration::builder()
                                .scan_on_push(flag(desired, "scan_on_push"))
                                .build(),
                        )
                        .encryption_configuration(encryption.clone())
                        .set_tags(Some(tags.clone()))
                        .send()
                },
                |e: &aws_sdk_ecr::operation::create_repository::CreateRepositoryError| {
                    e.is_repository_already_exists_exception()
                        .then_some(ErrorClass::AlreadyExists)
                },
            )
            .await?;
            if let Some(policy) = desired.get("lifecycle_policy").filter(|p| !p.is_null()) {
                self.set_lifecycle(aws, name, policy).await?;
            }
            self.read_repository(aws, name).await?.ok_or_else(|| {
                AwsError::new(
                    ErrorClass::EventualConsistency,
                    "DescribeRepositories",
                    "repository not visible after create",
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
            if changed(fields, "image_tag_mutability") {
                let mutability = ImageTagMutability::from(text(after, "image_tag_mutability"));
                aws.send(
                    "PutImageTagMutability",
                    || {
                        aws.ecr()
                            .put_image_tag_mutability()
                            .repository_name(id)
                            .image_tag_mutability(mutability.clone())
                            .send()
                    },
                    |_| None,
                )
                .await?;
            }
            if changed(fields, "scan_on_push") {
                let scanning = ImageScanningConfiguration::builder()
                    .scan_on_push(flag(after, "scan_on_push"))
                    .build();
                aws.send(
                    "PutImageScanningConfiguration",
                    || {
                        aws.ecr()
                            .put_image_scanning_configuration()
                            .repository_name(id)
                            .image_scanning_configuration(scanning.clone())
                            .send()
                    },
                    |_| None,
                )
                .await?;
            }
            if changed(fields, "lifecycle_policy") {
                self.set_lifecycle(
                    aws,
                    id,
                    after.get("lifecycle_policy").unwrap_or(&Value::Null),
                )
                .await?;
            }
            if changed(fields, "tags") {
                let arn = self
                    .read_repository(aws, id)
                    .await?
                    .map(|o| text(&o.outputs, "arn").to_owned())
                    .unwrap_or_default();
                let (set, remove) = tag_changes(before, after);
                if !remove.is_empty() {
                    aws.send(
                        "UntagResource",
                        || {
                            aws.ecr()
                                .untag_resource()
                                .resource_arn(&arn)
                                .set_tag_keys(Some(remove.clone()))
                                .send()
                        },
                        |_| None,
                    )
                    .await?;
                }
                if !set.is_empty() {
                    let tags: Vec<Tag> = set.iter().map(|(k, v)| ecr_tag(k, v)).collect();
                    aws.send(
                        "TagResource",
                        || {
                            aws.ecr()
                                .tag_resource()
                                .resource_arn(&arn)
                                .set_tags(Some(tags.clone()))
                                .send()
                        },
                        |_| None,
                    )
                    .await?;
                }
            }
            self.read_repository(aws, id).await?.ok_or_else(|| {
                AwsError::new(
                    ErrorClass::NotFound,
                    "DescribeRepositories",
                    "repository disappeared during update",
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
            let force = flag(before, "force_delete");
            ignore_missing(
                aws.send(
                    "DeleteRepository",
                    || {
                        aws.ecr()
                            .delete_repository()
                            .repository_name(id)
                            .force(force)
                            .send()
                    },
                    |e: &aws_sdk_ecr::operation::delete_repository::DeleteRepositoryError| {
                        missing(e.is_repository_not_found_exception())
                    },
                )
                .await,
            )
        })
    }
}
