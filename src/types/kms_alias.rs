//! A KMS alias pointing at a key.

use super::{observation, read_back, After, Resource, ResourceType, Unmanaged};
use crate::aws::{missing, text, Aws, AwsError};
use crate::model::ErrorClass;
use crate::model::Observed;
use crate::schema::checks as c;
use crate::schema::{no_expansion, no_validation, Field, Kind as K, Naming, Schema};
use crate::spec::terraform::Parts;
use crate::spec::{Identity, Spec};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

pub static KMS_ALIAS: Schema = Schema {
    type_name: "kms_alias",
    description: "A friendly name for a KMS key",
    fields: &[
        Field::new("name", K::Str)
            .required()
            .force_new()
            .check(alias_name),
        Field::new("target_key_id", K::Str).required(),
    ],
    outputs: &["arn"],
    taggable: false,
    naming: Naming::Prefixed("alias/"),
    stateful: false,
    expand: no_expansion,
    validate: no_validation,
};

fn alias_name(value: &Value) -> Result<(), String> {
    let v = c::text(value)?;
    c::length(v, 1, 256, "a KMS alias name")?;
    if !v.starts_with("alias/") || v.starts_with("alias/aws/") {
        return Err(format!(
            "a KMS alias name must start with `alias/` and not `alias/aws/`, got `{v}`"
        ));
    }
    c::charset(
        v,
        |c| c.is_ascii_alphanumeric() || ":/_-".contains(c),
        "a KMS alias name",
        "letters, digits and :/_-",
    )
}

pub struct Alias;

impl Alias {
    /// Every alias the names ask for, from one paginated ListAliases.
    async fn read_aliases(
        &self,
        aws: &Aws,
        names: &[String],
    ) -> Result<BTreeMap<String, Option<Observed>>, AwsError> {
        let mut out: BTreeMap<String, Option<Observed>> =
            names.iter().map(|n| (n.clone(), None)).collect();
        let mut pages = aws.pages(
            "ListAliases",
            |marker| aws.kms().list_aliases().set_marker(marker).send(),
            |page| page.next_marker().filter(|_| page.truncated()),
            |_| None,
        );
        while let Some(page) = pages.next_page().await? {
            for alias in page.aliases() {
                let Some(slot) = alias.alias_name().and_then(|n| out.get_mut(n)) else {
                    continue;
                };
                let name = alias.alias_name().unwrap_or_default();
                let mut attributes = Map::new();
                attributes.insert("name".into(), Value::from(name));
                attributes.insert(
                    "target_key_id".into(),
                    Value::from(alias.target_key_id().unwrap_or_default()),
                );
                let arn = Value::from(alias.alias_arn().unwrap_or_default());
                *slot = Some(observation(name, attributes, [("arn", arn)]));
            }
        }
        Ok(out)
    }

    async fn read_alias(&self, aws: &Aws, name: &str) -> Result<Option<Observed>, AwsError> {
        Ok(self
            .read_aliases(aws, &[name.to_owned()])
            .await?
            .remove(name)
            .flatten())
    }
}

impl Resource for Alias {
    fn batch_size(&self) -> usize {
        // ListAliases returns every alias in the region anyway.
        1000
    }

    async fn read_many(
        &self,
        aws: &Aws,
        ids: &[String],
    ) -> Result<BTreeMap<String, Option<Observed>>, AwsError> {
        self.read_aliases(aws, ids).await
    }

    async fn read(&self, aws: &Aws, id: &str) -> Result<Option<Observed>, AwsError> {
        self.read_alias(aws, id).await
    }
    async fn create(&self, aws: &Aws, desired: &Map<String, Value>) -> Result<Observed, AwsError> {
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
        read_back(
            self.read_alias(aws, name).await,
            After::Create,
            "ListAliases",
            "alias not visible after create",
        )
    }
    async fn update(
        &self,
        aws: &Aws,
        id: &str,
        _before: &Map<String, Value>,
        after: &Map<String, Value>,
        _fields: &[String],
    ) -> Result<Observed, AwsError> {
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
        read_back(
            self.read_alias(aws, id).await,
            After::Update,
            "ListAliases",
            "alias disappeared during update",
        )
    }
    async fn delete(
        &self,
        aws: &Aws,
        id: &str,
        _before: &Map<String, Value>,
    ) -> Result<(), AwsError> {
        aws.send_delete(
            "DeleteAlias",
            || aws.kms().delete_alias().alias_name(id).send(),
            |e: &aws_sdk_kms::operation::delete_alias::DeleteAliasError| {
                missing(e.is_not_found_exception())
            },
        )
        .await
    }
}

/// Terraform's view: `aws_kms_alias`.
fn terraform(a: &Map<String, Value>) -> Vec<super::terraform::Tf> {
    use super::terraform::prelude::*;
    vec![tf(
        "aws_kms_alias",
        json!({
            "arn": v(a, "arn"), "name": v(a, "name"), "target_key_id": v(a, "target_key_id"),
        }),
    )]
}

pub static SPEC: Spec = Spec {
    schema: &KMS_ALIAS,
    planned_id: super::by_name,
    id_from_arn: |arn| super::after(arn, ":alias/").map(|name| format!("alias/{name}")),
    arn_example: ("arn:aws:kms:us-east-1:1:alias/a", Some("alias/a")),
    bulk_tagged: false,
    create_before_destroy: false,
    identity: Some(Identity::NAME),
    update_note: crate::spec::no_note,
    terraform: super::terraform::Mapping {
        types: &["aws_kms_alias"],
        map: terraform,
        import: |a| super::terraform::attribute(a, "name"),
        parts: Parts::NONE,
    },
};

pub static TYPE: ResourceType = ResourceType {
    spec: &SPEC,
    provider: &Alias,
    unmanaged: Unmanaged::NotTaggable,
};
