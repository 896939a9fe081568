//! An RDS subnet group: the subnets (in two zones at least) a database may
//! be placed in.

use super::{rds_tags, Tags};
use crate::aws::{changed, missing, present, string_map, strings, text, Aws, AwsError};
use crate::model::{ErrorClass, Observed};
use crate::schema::{no_expansion, Fallback as F, Field, Kind as K, Naming, Problem, Schema, TAGS};
use crate::spec::terraform::Parts;
use crate::spec::{Identity, Spec};
use crate::types::observation;
use crate::types::Tagging;
use crate::types::{read_back, After, Resource, ResourceType, Unmanaged};
use serde_json::{json, Map, Value};

pub static DB_SUBNET_GROUP: Schema = Schema {
    type_name: "db_subnet_group",
    description: "RDS subnet group (subnets in at least two availability zones)",
    fields: &[
        Field::new("name", K::Str)
            .required()
            .force_new()
            .check(group_name),
        // Instead of a name: cairn makes one from it and a unique suffix,
        // so a replacement can exist beside the old one.
        Field::new("name_prefix", K::Str)
            .force_new()
            .check(name_prefix),
        Field::new("description", K::Str).or(F::Str("Managed by cairn")),
        Field::new("subnet_ids", K::StrSet).required(),
        TAGS,
    ],
    outputs: &["arn"],
    taggable: true,
    naming: Naming::Dashed,
    stateful: false,
    expand: no_expansion,
    validate: validate_group,
};

fn name_prefix(value: &Value) -> Result<(), String> {
    crate::schema::checks::name_prefix(value, 255, group_name)
}

/// AWS keeps these names in lower case: an upper-case name would differ
/// from what AWS reports forever.
fn group_name(value: &Value) -> Result<(), String> {
    let name = value.as_str().ok_or("expected a string")?;
    if name.contains("${") {
        return Ok(());
    }
    if name.is_empty() || name.len() > 255 || name == "default" {
        return Err(format!(
            "a DB subnet group name is 1 to 255 characters and not `default` (`{name}`)"
        ));
    }
    match name
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || "._- ".contains(*c)))
    {
        Some(bad) => Err(format!(
            "a DB subnet group name `{name}` contains `{bad}`; AWS keeps these names in lower case: use lower-case letters, digits, spaces and ._-"
        )),
        None => Ok(()),
    }
}

fn validate_group(properties: &Map<String, Value>) -> Vec<Problem> {
    match properties.get("subnet_ids").and_then(Value::as_array) {
        Some(subnets) if subnets.len() < 2 => vec![Problem::new(
            "subnet_ids",
            "a DB subnet group needs subnets in at least two availability zones",
        )],
        _ => Vec::new(),
    }
}

pub struct DbSubnetGroup;

impl DbSubnetGroup {
    async fn read_group(&self, aws: &Aws, name: &str) -> Result<Option<Observed>, AwsError> {
        let found = aws
            .send(
                "DescribeDBSubnetGroups",
                || {
                    aws.rds()
                        .describe_db_subnet_groups()
                        .db_subnet_group_name(name)
                        .send()
                },
                |e| missing(e.is_db_subnet_group_not_found_fault()),
            )
            .await;
        let Some(group) =
            present(found)?.and_then(|output| output.db_subnet_groups().first().cloned())
        else {
            return Ok(None);
        };
        let arn = group.db_subnet_group_arn().unwrap_or_default().to_owned();
        let tags = aws
            .send(
                "ListTagsForResource",
                || {
                    aws.rds()
                        .list_tags_for_resource()
                        .resource_name(&arn)
                        .send()
                },
                |_| None,
            )
            .await?;
        let mut subnets: Vec<&str> = group
            .subnets()
            .iter()
            .filter_map(|s| s.subnet_identifier())
            .collect();
        subnets.sort_unstable();
        let mut attributes = Map::new();
        attributes.insert("name".into(), json!(name));
        attributes.insert(
            "description".into(),
            json!(group.db_subnet_group_description().unwrap_or_default()),
        );
        attributes.insert("subnet_ids".into(), json!(subnets));
        attributes.insert(
            "tags".into(),
            crate::aws::tags_value(
                tags.tag_list()
                    .iter()
                    .map(|t| (t.key().unwrap_or_default(), t.value().unwrap_or_default())),
            ),
        );
        Ok(Some(observation(name, attributes, [("arn", json!(arn))])))
    }

    async fn read_back(&self, aws: &Aws, name: &str) -> Result<Observed, AwsError> {
        read_back(
            self.read_group(aws, name).await,
            After::Create,
            "DescribeDBSubnetGroups",
            format!("DB subnet group {name} not visible yet"),
        )
    }
}

impl Resource for DbSubnetGroup {
    async fn read(&self, aws: &Aws, id: &str) -> Result<Option<Observed>, AwsError> {
        self.read_group(aws, id).await
    }

    async fn create(&self, aws: &Aws, desired: &Map<String, Value>) -> Result<Observed, AwsError> {
        let name = text(desired, "name");
        aws.send(
            "CreateDBSubnetGroup",
            || {
                aws.rds()
                    .create_db_subnet_group()
                    .db_subnet_group_name(name)
                    .db_subnet_group_description(text(desired, "description"))
                    .set_subnet_ids(Some(strings(desired, "subnet_ids")))
                    .set_tags(Some(rds_tags(&string_map(desired, "tags"))))
                    .send()
            },
            |e| {
                e.is_db_subnet_group_already_exists_fault()
                    .then_some(ErrorClass::AlreadyExists)
            },
        )
        .await?;
        self.read_back(aws, name).await
    }

    async fn update(
        &self,
        aws: &Aws,
        id: &str,
        before: &Map<String, Value>,
        after: &Map<String, Value>,
        fields: &[String],
    ) -> Result<Observed, AwsError> {
        if changed(fields, "description") || changed(fields, "subnet_ids") {
            aws.send(
                "ModifyDBSubnetGroup",
                || {
                    aws.rds()
                        .modify_db_subnet_group()
                        .db_subnet_group_name(id)
                        .db_subnet_group_description(text(after, "description"))
                        .set_subnet_ids(Some(strings(after, "subnet_ids")))
                        .send()
                },
                |_| None,
            )
            .await?;
        }
        if changed(fields, "tags") {
            let arn = self.read_back(aws, id).await?.outputs["arn"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            Tags.retag(aws, &arn, before, after).await?;
        }
        self.read_back(aws, id).await
    }

    /// Refused while a database uses the group: waited out, since that
    /// database is usually being deleted in the same run.
    async fn delete(
        &self,
        aws: &Aws,
        id: &str,
        _before: &Map<String, Value>,
    ) -> Result<(), AwsError> {
        aws.send_delete(
            "DeleteDBSubnetGroup",
            || {
                aws.rds()
                    .delete_db_subnet_group()
                    .db_subnet_group_name(id)
                    .send()
            },
            |e| {
                if e.is_db_subnet_group_not_found_fault() {
                    Some(ErrorClass::NotFound)
                } else if e.is_invalid_db_subnet_group_state_fault() {
                    Some(ErrorClass::Conflict)
                } else {
                    None
                }
            },
        )
        .await
    }
}

/// Terraform's view: `aws_db_subnet_group`.
fn terraform(a: &Map<String, Value>) -> Vec<crate::types::terraform::Tf> {
    use crate::types::terraform::prelude::*;
    vec![tf(
        "aws_db_subnet_group",
        tagged(
            a,
            json!({
                "arn": v(a, "arn"), "name": v(a, "name"), "name_prefix": v(a, "name_prefix"), "description": v(a, "description"),
                "subnet_ids": v(a, "subnet_ids"),
            }),
        ),
    )]
}

pub static SPEC: Spec = Spec {
    schema: &DB_SUBNET_GROUP,
    planned_id: crate::types::by_name,
    id_from_arn: |arn| crate::types::after(arn, ":subgrp:"),
    arn_example: ("arn:aws:rds:us-east-1:1:subgrp:private", Some("private")),
    bulk_tagged: false,
    create_before_destroy: false,
    identity: Some(Identity::NAME),
    update_note: crate::spec::no_note,
    terraform: crate::types::terraform::Mapping {
        types: &["aws_db_subnet_group"],
        map: terraform,
        import: |a| crate::types::terraform::attribute(a, "name"),
        parts: Parts::NONE,
    },
};

pub static TYPE: ResourceType = ResourceType {
    spec: &SPEC,
    provider: &DbSubnetGroup,
    unmanaged: Unmanaged::TaggingApi,
};
