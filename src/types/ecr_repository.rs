//! An ECR repository: tag mutability, scan on push, encryption, lifecycle policy.

use super::{ResourceType, Unmanaged};
use crate::aws::{
    changed, flag, ignore_missing, missing, tag_changes, tags_value, text, Aws, AwsError, Provider,
};
use crate::canonical;
use crate::model::ErrorClass;
use crate::model::Observed;
use crate::schema::checks as c;
use crate::schema::{no_expansion, Fallback as F, Field, Kind as K, Naming, Problem, Schema, TAGS};
use aws_sdk_ecr::types::{
    EncryptionConfiguration, EncryptionType, ImageScanningConfiguration, ImageTagMutability, Tag,
};
use futures::future::BoxFuture;
use serde_json::{Map, Value};

pub static ECR_REPOSITORY: Schema = Schema {
    type_name: "ecr_repository",
    description: "ECR repository with scanning, tag mutability, encryption and lifecycle policy",
    fields: &[
        Field::new("name", K::Str)
            .required()
            .force_new()
            .check(c::repository_name),
        Field::new("image_tag_mutability", K::Str)
            .or(F::Str("MUTABLE"))
            .check(c::tag_mutability),
        Field::new("scan_on_push", K::Bool).or(F::Bool(false)),
        Field::new("encryption_type", K::Str)
            .or(F::Str("AES256"))
            .force_new()
            .check(c::ecr_encryption),
        Field::new("kms_key_arn", K::Str)
            .or(F::Str(""))
            .force_new()
            .check(c::arn_or_empty),
        Field::new("lifecycle_policy", K::Json),
        Field::new("force_delete", K::Bool).or(F::Bool(false)),
        TAGS,
    ],
    outputs: &["arn", "repository_url", "registry_id"],
    taggable: true,
    naming: Naming::Dashed,
    stateful: true,
    expand: no_expansion,
    validate: validate_repository,
};

fn validate_repository(properties: &Map<String, Value>) -> Vec<Problem> {
    let mut problems = Vec::new();
    let kms = properties.get("encryption_type").and_then(Value::as_str) == Some("KMS");
    let key = properties
        .get("kms_key_arn")
        .and_then(Value::as_str)
        .is_some_and(|k| !k.is_empty());
    if key && !kms {
        problems.push(Problem::new(
            "kms_key_arn",
            "kms_key_arn needs encryption_type: KMS",
        ));
    }
    if let Some(policy) = properties.get("lifecycle_policy").filter(|p| !p.is_null()) {
        match policy.get("rules").and_then(Value::as_array) {
            Some(rules) if !rules.is_empty() => {
                for (i, rule) in rules.iter().enumerate() {
                    if rule.get("rulePriority").and_then(Value::as_i64).is_none() {
                        problems.push(Problem::new(
                            format!("lifecycle_policy.rules.{i}"),
                            "each rule needs an integer `rulePriority`",
                        ));
                    }
                    if rule.get("selection").is_none() || rule.get("action").is_none() {
                        problems.push(Problem::new(
                            format!("lifecycle_policy.rules.{i}"),
                            "each rule needs `selection` and `action`",
                        ));
                    }
                }
            }
            _ => problems.push(Problem::new(
                "lifecycle_policy",
                "a lifecycle policy needs a non-empty `rules` list",
            )),
        }
    }
    problems
}

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
            attributes: attributes.into(),
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
            let tags: Vec<Tag> = crate::aws::string_map(desired, "tags")
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

/// Every repository with its tags (emulators' tagging APIs miss ECR).
fn list_repositories<'a>(
    aws: &'a Aws,
    _prefix: &'a str,
) -> BoxFuture<'a, Result<super::Listed, AwsError>> {
    Box::pin(async move {
        let mut out = Vec::new();
        let mut next: Option<String> = None;
        loop {
            let page = aws
                .send(
                    "DescribeRepositories",
                    || {
                        aws.ecr()
                            .describe_repositories()
                            .set_next_token(next.clone())
                            .send()
                    },
                    |_| None,
                )
                .await?;
            for repository in page.repositories() {
                let arn = repository.repository_arn().unwrap_or_default();
                let tags = aws
                    .send(
                        "ListTagsForResource",
                        || aws.ecr().list_tags_for_resource().resource_arn(arn).send(),
                        |e| crate::aws::missing(e.is_repository_not_found_exception()),
                    )
                    .await;
                match tags {
                    Ok(tags) => out.push((
                        arn.to_owned(),
                        tags.tags()
                            .iter()
                            .map(|t| (t.key().to_owned(), t.value().to_owned()))
                            .collect(),
                    )),
                    Err(e) if e.is_not_found() => {}
                    Err(e) => return Err(e),
                }
            }
            match page.next_token() {
                Some(token) if !token.is_empty() => next = Some(token.to_owned()),
                _ => break,
            }
        }
        Ok(out)
    })
}

/// Terraform's view: `aws_ecr_repository`, `aws_ecr_lifecycle_policy`.
fn terraform(a: &Map<String, Value>) -> Vec<super::terraform::Tf> {
    #[allow(unused_imports)]
    use super::terraform::*;
    #[allow(unused_imports)]
    use crate::model::expr;
    use serde_json::json;
    let mut out = vec![tf(
        "aws_ecr_repository",
        tagged(
            a,
            json!({
                "arn": v(a, "arn"), "repository_url": v(a, "repository_url"), "registry_id": v(a, "registry_id"),
                "name": v(a, "name"), "image_tag_mutability": v(a, "image_tag_mutability"),
                "image_scanning_configuration": block(json!({"scan_on_push": v(a, "scan_on_push")})),
                "encryption_configuration": block(json!({
                    "encryption_type": v(a, "encryption_type"), "kms_key": opt(a, "kms_key_arn"),
                })),
                "force_delete": v(a, "force_delete"),
            }),
        ),
    )];
    if !v(a, "lifecycle_policy").is_null() {
        out.push(tf(
            "aws_ecr_lifecycle_policy",
            json!({
                "repository": v(a, "name"), "registry_id": v(a, "registry_id"),
                "policy": json_string(&v(a, "lifecycle_policy")),
            }),
        ));
    }
    out
}

pub static TYPE: ResourceType = ResourceType {
    schema: &ECR_REPOSITORY,
    provider: &Repository,
    planned_id: super::by_name,
    id_from_arn: |arn| super::after(arn, ":repository/"),
    bulk_tagged: false,
    unmanaged: Unmanaged::Listed(list_repositories),
    create_before_destroy: false,
    terraform: super::terraform::Mapping {
        types: &["aws_ecr_repository", "aws_ecr_lifecycle_policy"],
        map: terraform,
        import: |a| super::terraform::attribute(a, "name"),
    },
};
