//! An ECR repository: tag mutability, scan on push, encryption, lifecycle policy.

use super::{read_back, After, Resource, ResourceType, Tagging, Unmanaged};
use crate::aws::{
    changed, flag, ignore_missing, missing, present, tags_value, text, Aws, AwsError,
};
use crate::canonical;
use crate::model::ErrorClass;
use crate::model::Observed;
use crate::schema::checks as c;
use crate::schema::{
    no_expansion, pending, unknown_key, Fallback as F, Field, Kind as K, Naming, Problem, Schema,
    TAGS,
};
use crate::spec::terraform::Parts;
use crate::spec::{Identity, Spec};
use crate::types::observation;
use aws_sdk_ecr::types::{
    EncryptionConfiguration, EncryptionType, ImageScanningConfiguration, ImageTagMutability, Tag,
};
use futures::future::BoxFuture;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

pub static ECR_REPOSITORY: Schema = Schema {
    type_name: "ecr_repository",
    description: "ECR repository with scanning, tag mutability, encryption and lifecycle policy",
    fields: &[
        Field::new("name", K::Str)
            .required()
            .force_new()
            .check(repository_name),
        Field::new("image_tag_mutability", K::Str)
            .or(F::Str("MUTABLE"))
            .check(tag_mutability),
        Field::new("scan_on_push", K::Bool).or(F::Bool(false)),
        Field::new("encryption_type", K::Str)
            .or(F::Str("AES256"))
            .force_new()
            .check(ecr_encryption),
        Field::new("kms_key_arn", K::Str)
            .or(F::Str(""))
            .force_new()
            .check(c::arn_or_empty),
        Field::new("lifecycle_policy", K::Json).outline(lifecycle_outline),
        Field::new("force_delete", K::Bool)
            .or(F::Bool(false))
            .at_delete(),
        TAGS,
    ],
    outputs: &["arn", "repository_url", "registry_id"],
    taggable: true,
    naming: Naming::Dashed,
    stateful: true,
    expand: no_expansion,
    validate: validate_repository,
};

fn repository_name(value: &Value) -> Result<(), String> {
    let v = c::text(value)?;
    c::length(v, 2, 256, "an ECR repository name")?;
    let segment_ok = |segment: &str| {
        !segment.is_empty()
            && segment
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c))
            && segment.starts_with(|c: char| c.is_ascii_alphanumeric())
            && segment.ends_with(|c: char| c.is_ascii_alphanumeric())
    };
    if v.split('/').all(segment_ok) {
        Ok(())
    } else {
        Err(format!(
            "an ECR repository name is lowercase letters and digits separated by ., _, - or /, got `{v}`"
        ))
    }
}

fn tag_mutability(value: &Value) -> Result<(), String> {
    c::one_of(value, &["MUTABLE", "IMMUTABLE"], "image_tag_mutability")
}

fn ecr_encryption(value: &Value) -> Result<(), String> {
    c::one_of(value, &["AES256", "KMS"], "encryption_type")
}

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
        problems.extend(lifecycle_problems(policy));
    }
    problems
}

const RULE_KEYS: &[&str] = &["rulePriority", "description", "selection", "action"];
const SELECTION_KEYS: &[&str] = &[
    "tagStatus",
    "tagPatternList",
    "tagPrefixList",
    "storageClass",
    "countType",
    "countUnit",
    "countNumber",
];
const ACTION_KEYS: &[&str] = &["type", "targetStorageClass"];
const COUNT_TYPES: &[&str] = &[
    "imageCountMoreThan",
    "sinceImagePushed",
    "sinceImagePulled",
    "sinceImageTransitioned",
];

/// The lifecycle policy's keys, for editors.
fn lifecycle_outline() -> Value {
    let keys =
        |keys: &[&str]| serde_json::json!({"type": "object", "propertyNames": {"enum": keys}});
    let mut rule = keys(RULE_KEYS);
    rule["properties"] = serde_json::json!({
        "selection": keys(SELECTION_KEYS),
        "action": keys(ACTION_KEYS),
    });
    serde_json::json!({
        "type": "object",
        "propertyNames": {"enum": ["rules"]},
        "properties": {"rules": {"type": "array", "items": rule}},
    })
}

/// What ECR refuses in a lifecycle policy, after its documented grammar:
/// `{rules: [{rulePriority, description, selection, action}]}`, unknown
/// keys included. Values still holding a reference are not judged.
fn lifecycle_problems(policy: &Value) -> Vec<Problem> {
    let mut problems = Vec::new();
    if pending(policy) {
        return problems;
    }
    let Some(document) = policy.as_object() else {
        problems.push(Problem::new(
            "lifecycle_policy",
            "a lifecycle policy is a mapping with `rules`",
        ));
        return problems;
    };
    unknown_keys(document, &["rules"], "lifecycle_policy", &mut problems);
    let rules = match document.get("rules") {
        Some(rules) if pending(rules) => return problems,
        Some(Value::Array(rules)) if !rules.is_empty() => rules,
        _ => {
            problems.push(Problem::new(
                "lifecycle_policy",
                "a lifecycle policy needs a non-empty `rules` list",
            ));
            return problems;
        }
    };
    // Each rule's priority, whether it selects any tag status, and its index.
    let mut priorities: Vec<(i64, bool, usize)> = Vec::new();
    for (i, rule) in rules.iter().enumerate() {
        let at = format!("lifecycle_policy.rules.{i}");
        if pending(rule) {
            continue;
        }
        let Some(rule) = rule.as_object() else {
            problems.push(Problem::new(&at, "a rule is a mapping"));
            continue;
        };
        unknown_keys(rule, RULE_KEYS, &at, &mut problems);
        match rule.get("rulePriority") {
            Some(value) if pending(value) => {}
            Some(value) => {
                match value.as_i64() {
                    Some(priority) if priority >= 1 => {
                        if priorities.iter().any(|(p, _, _)| *p == priority) {
                            problems.push(Problem::new(
                            format!("{at}.rulePriority"),
                            format!("two rules have `rulePriority` {priority}; each rule needs its own"),
                        ));
                        }
                        let any = rule
                            .get("selection")
                            .and_then(|s| s.get("tagStatus"))
                            .and_then(Value::as_str)
                            == Some("any");
                        priorities.push((priority, any, i));
                    }
                    _ => problems.push(Problem::new(
                        format!("{at}.rulePriority"),
                        format!("`rulePriority` is an integer of at least 1, got {value}"),
                    )),
                }
            }
            None => problems.push(Problem::new(
                &at,
                "each rule needs an integer `rulePriority`",
            )),
        }
        if let Some(description) = rule.get("description").filter(|d| !d.is_string()) {
            problems.push(Problem::new(
                format!("{at}.description"),
                format!("`description` is a string, got {description}"),
            ));
        }
        match rule.get("selection") {
            Some(selection) if pending(selection) => {}
            Some(Value::Object(selection)) => {
                selection_problems(&format!("{at}.selection"), selection, &mut problems);
            }
            Some(other) => problems.push(Problem::new(
                format!("{at}.selection"),
                format!("`selection` is a mapping, got {other}"),
            )),
            None => problems.push(Problem::new(
                &at,
                "each rule needs `selection` and `action`",
            )),
        }
        match rule.get("action") {
            Some(action) if pending(action) => {}
            Some(Value::Object(action)) => {
                let at = format!("{at}.action");
                unknown_keys(action, ACTION_KEYS, &at, &mut problems);
                match action.get("type") {
                    Some(kind) if pending(kind) => {}
                    Some(kind) => {
                        if let Err(message) =
                            c::one_of(kind, &["expire", "transition"], "an action `type`")
                        {
                            problems.push(Problem::new(format!("{at}.type"), message));
                        }
                    }
                    None => problems.push(Problem::new(
                        &at,
                        "an action needs `type` (expire or transition)",
                    )),
                }
                if let Some(class) = action.get("targetStorageClass").filter(|v| !pending(v)) {
                    if let Err(message) = c::one_of(class, &["archive"], "`targetStorageClass`") {
                        problems.push(Problem::new(format!("{at}.targetStorageClass"), message));
                    }
                }
            }
            Some(other) => problems.push(Problem::new(
                format!("{at}.action"),
                format!("`action` is a mapping, got {other}"),
            )),
            None => problems.push(Problem::new(
                &at,
                "each rule needs `selection` and `action`",
            )),
        }
    }
    // ECR evaluates a rule for any tag status last.
    if let Some((priority, _, index)) = priorities.iter().find(|(_, any, _)| *any) {
        if priorities.iter().any(|(p, _, _)| p > priority) {
            problems.push(Problem::new(
                format!("lifecycle_policy.rules.{index}.rulePriority"),
                "a rule with `tagStatus: any` must have the highest `rulePriority`",
            ));
        }
    }
    problems
}

fn selection_problems(at: &str, selection: &Map<String, Value>, problems: &mut Vec<Problem>) {
    unknown_keys(selection, SELECTION_KEYS, at, problems);
    let field = |key: &str| selection.get(key).filter(|v| !pending(v));
    let status = field("tagStatus").and_then(Value::as_str);
    match selection.get("tagStatus") {
        Some(value) if pending(value) => {}
        Some(value) => {
            if let Err(message) = c::one_of(value, &["tagged", "untagged", "any"], "`tagStatus`") {
                problems.push(Problem::new(format!("{at}.tagStatus"), message));
            }
        }
        None => problems.push(Problem::new(
            at,
            "a selection needs `tagStatus` (tagged, untagged or any)",
        )),
    }
    for key in ["tagPatternList", "tagPrefixList"] {
        let Some(list) = field(key) else { continue };
        let items = list.as_array().filter(|items| !items.is_empty());
        let strings = items.is_some_and(|items| items.iter().all(|i| i.is_string()));
        if !strings {
            problems.push(Problem::new(
                format!("{at}.{key}"),
                format!("`{key}` is a non-empty list of strings, got {list}"),
            ));
        } else if key == "tagPatternList" {
            for pattern in items.into_iter().flatten().filter_map(Value::as_str) {
                if pattern.matches('*').count() > 4 {
                    problems.push(Problem::new(
                        format!("{at}.{key}"),
                        format!("a tag pattern has at most 4 wildcards (*), got `{pattern}`"),
                    ));
                }
            }
        }
    }
    let lists = selection.contains_key("tagPatternList") || selection.contains_key("tagPrefixList");
    match status {
        Some("tagged") if !lists => problems.push(Problem::new(
            at,
            "`tagStatus: tagged` needs `tagPatternList` or `tagPrefixList`",
        )),
        Some("untagged") if lists => problems.push(Problem::new(
            at,
            "`tagStatus: untagged` takes no `tagPatternList` or `tagPrefixList`",
        )),
        _ => {}
    }
    if let Some(class) = field("storageClass") {
        if let Err(message) = c::one_of(class, &["standard", "archive"], "`storageClass`") {
            problems.push(Problem::new(format!("{at}.storageClass"), message));
        }
    }
    let count_type = match selection.get("countType") {
        Some(value) if pending(value) => None,
        Some(value) => match c::one_of(value, COUNT_TYPES, "`countType`") {
            Ok(()) => value.as_str(),
            Err(message) => {
                problems.push(Problem::new(format!("{at}.countType"), message));
                None
            }
        },
        None => {
            problems.push(Problem::new(
                at,
                format!("a selection needs `countType` ({})", COUNT_TYPES.join(", ")),
            ));
            None
        }
    };
    match (count_type, selection.get("countUnit")) {
        (_, Some(unit)) if pending(unit) => {}
        (Some("imageCountMoreThan"), Some(_)) => problems.push(Problem::new(
            format!("{at}.countUnit"),
            "`countUnit` goes only with a `countType` counting days (sinceImagePushed, ...), not imageCountMoreThan",
        )),
        (Some(kind), None) if kind != "imageCountMoreThan" => problems.push(Problem::new(
            at,
            format!("`countType: {kind}` needs `countUnit: days`"),
        )),
        (_, Some(unit)) => {
            if let Err(message) = c::one_of(unit, &["days"], "`countUnit`") {
                problems.push(Problem::new(format!("{at}.countUnit"), message));
            }
        }
        _ => {}
    }
    match selection.get("countNumber") {
        Some(value) if pending(value) => {}
        Some(value) => {
            if value.as_i64().is_none_or(|n| n < 1) {
                problems.push(Problem::new(
                    format!("{at}.countNumber"),
                    format!("`countNumber` is a whole number of at least 1, got {value}"),
                ));
            }
        }
        None => problems.push(Problem::new(at, "a selection needs `countNumber`")),
    }
}

fn unknown_keys(map: &Map<String, Value>, allowed: &[&str], at: &str, problems: &mut Vec<Problem>) {
    for key in map.keys() {
        if !allowed.contains(&key.as_str()) {
            problems.push(Problem::new(
                format!("{at}.{key}"),
                unknown_key(key, allowed, "key"),
            ));
        }
    }
}

pub struct Repository;

fn ecr_tag(key: &str, value: &str) -> Tag {
    Tag::builder().key(key).value(value).build().expect("set")
}

impl Repository {
    async fn read_repository(&self, aws: &Aws, name: &str) -> Result<Option<Observed>, AwsError> {
        let Some(described) = present(
            aws.send(
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
            .await,
        )?
        else {
            return Ok(None);
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
        Ok(Some(observation(
            name,
            attributes,
            [
                ("arn", Value::String(arn)),
                (
                    "repository_url",
                    Value::String(repository.repository_uri().unwrap_or_default().to_owned()),
                ),
                (
                    "registry_id",
                    Value::String(repository.registry_id().unwrap_or_default().to_owned()),
                ),
            ],
        )))
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

impl Tagging for Repository {
    async fn tag(
        &self,
        aws: &Aws,
        target: &str,
        set: &BTreeMap<String, String>,
    ) -> Result<(), AwsError> {
        let tags: Vec<Tag> = set.iter().map(|(k, v)| ecr_tag(k, v)).collect();
        aws.send(
            "TagResource",
            || {
                aws.ecr()
                    .tag_resource()
                    .resource_arn(target)
                    .set_tags(Some(tags.clone()))
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
                aws.ecr()
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

impl Resource for Repository {
    async fn read(&self, aws: &Aws, id: &str) -> Result<Option<Observed>, AwsError> {
        self.read_repository(aws, id).await
    }

    async fn create(&self, aws: &Aws, desired: &Map<String, Value>) -> Result<Observed, AwsError> {
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
        read_back(
            self.read_repository(aws, name).await,
            After::Create,
            "DescribeRepositories",
            "repository not visible after create",
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
            self.retag(aws, &arn, before, after).await?;
        }
        read_back(
            self.read_repository(aws, id).await,
            After::Update,
            "DescribeRepositories",
            "repository disappeared during update",
        )
    }

    async fn delete(
        &self,
        aws: &Aws,
        id: &str,
        before: &Map<String, Value>,
    ) -> Result<(), AwsError> {
        let force = flag(before, "force_delete");
        aws.send_delete(
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
        .await
    }
}

/// Every repository with its tags (emulators' tagging APIs miss ECR).
fn list_repositories<'a>(
    aws: &'a Aws,
    _prefix: &'a str,
) -> BoxFuture<'a, Result<super::Listed, AwsError>> {
    Box::pin(async move {
        let mut out = Vec::new();
        let mut pages = aws.pages(
            "DescribeRepositories",
            |token| {
                aws.ecr()
                    .describe_repositories()
                    .set_next_token(token)
                    .send()
            },
            |page| page.next_token(),
            |_| None,
        );
        while let Some(page) = pages.next_page().await? {
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
        }
        Ok(out)
    })
}

/// Terraform's view: `aws_ecr_repository`, `aws_ecr_lifecycle_policy`.
fn terraform(a: &Map<String, Value>) -> Vec<super::terraform::Tf> {
    use super::terraform::prelude::*;
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

pub static SPEC: Spec = Spec {
    schema: &ECR_REPOSITORY,
    planned_id: super::by_name,
    id_from_arn: |arn| super::after(arn, ":repository/"),
    arn_example: ("arn:aws:ecr:us-east-1:1:repository/r", Some("r")),
    bulk_tagged: false,
    create_before_destroy: false,
    identity: Some(Identity::NAME),
    update_note: crate::spec::no_note,
    terraform: super::terraform::Mapping {
        types: &["aws_ecr_repository", "aws_ecr_lifecycle_policy"],
        map: terraform,
        import: |a| super::terraform::attribute(a, "name"),
        parts: Parts {
            taken_over: &[],
            dies_with: &["aws_ecr_repository_policy"],
            ..Parts::NONE
        },
    },
};

pub static TYPE: ResourceType = ResourceType {
    spec: &SPEC,
    provider: &Repository,
    unmanaged: Unmanaged::Listed(list_repositories),
};
