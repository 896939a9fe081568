//! The resource types, one module each. A module holds everything about
//! its type: the fields (kinds, defaults, force-new, sensitive, the checks
//! AWS applies), its identity (a name the stack gives, or an id AWS assigns
//! and cairn finds again by ownership tags), the id inside its ARN, how the
//! drift search finds it unmanaged, and its read, create, update and
//! delete. `ALL` lists the modules; adding a type is one file and one line
//! there.

mod api_key;
mod cloudwatch_alarm;
mod cloudwatch_dashboard;
mod db_instance;
mod db_subnet_group;
mod dynamodb_table;
mod ec2;
mod ecr_repository;
mod http_api;
mod iam_role;
mod internet_gateway;
mod kms_alias;
mod kms_key;
mod lambda_function;
mod lambda_permission;
mod log_group;
mod log_metric_filter;
mod nat_gateway;
mod rest_api;
mod route_table;
mod secretsmanager_secret;
mod security_group;
mod sns_subscription;
mod sns_topic;
mod subnet;
pub mod terraform;
mod usage_plan;
mod vpc;
mod vpc_endpoint;

use crate::aws::{Aws, AwsError, Provider};
use crate::schema::Schema;
use futures::future::BoxFuture;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Resources found by listing a service, with their tags: (ARN, tags).
pub type Listed = Vec<(String, BTreeMap<String, String>)>;

/// Lists a service's resources of one type with their tags; the second
/// argument narrows the listing to names starting with it, where a listing
/// costs a call per resource.
pub type ListFn = for<'a> fn(&'a Aws, &'a str) -> BoxFuture<'a, Result<Listed, AwsError>>;

/// How `cairn drift` finds a resource of this type that carries the
/// stack's ownership tags but is not in the state.
#[derive(Clone, Copy)]
pub enum Unmanaged {
    /// The Resource Groups Tagging API returns it.
    TaggingApi,
    /// Its own service is listed (the tagging API misses it: IAM roles by
    /// AWS's design, others on emulators). The tagging API is asked too.
    Listed(ListFn),
    /// It cannot carry tags, so it cannot be found.
    NotTaggable,
}

pub struct ResourceType {
    pub schema: &'static Schema,
    pub provider: &'static dyn Provider,
    /// The id AWS knows it by, when the stack decides it; `None` when AWS
    /// assigns it (it is then found again by ownership tags).
    pub planned_id: fn(&Map<String, Value>) -> Option<String>,
    /// The id inside one of its ARNs (`cairn import`, drift).
    pub id_from_arn: fn(&str) -> Option<String>,
    /// A refresh may take its tags from the tagging API's bulk read.
    pub bulk_tagged: bool,
    pub unmanaged: Unmanaged,
    /// A replacement makes the new one before deleting the old, so what
    /// references it moves over first (the stack's `create_before_destroy`
    /// overrides it). Only where two can exist at once: not when the name
    /// that identifies it stays the same (the planner checks).
    pub create_before_destroy: bool,
    /// The hashicorp/aws provider's types and attributes for it.
    pub terraform: terraform::Mapping,
}

/// For `planned_id`: the resource's `name`.
pub fn by_name(desired: &Map<String, Value>) -> Option<String> {
    desired
        .get("name")
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// For `planned_id`: AWS assigns the id.
pub fn assigned(_: &Map<String, Value>) -> Option<String> {
    None
}

/// For `id_from_arn`: what follows `marker` in the ARN.
pub fn after(arn: &str, marker: &str) -> Option<String> {
    let arn = arn.strip_suffix(":*").unwrap_or(arn);
    arn.rsplit_once(marker).map(|(_, id)| id.to_owned())
}

/// For `id_from_arn` of types whose id is not in an ARN of their own.
pub fn no_arn(_: &str) -> Option<String> {
    None
}

static ALL: &[&ResourceType] = &[
    &iam_role::TYPE,
    &dynamodb_table::TYPE,
    &log_group::TYPE,
    &kms_key::TYPE,
    &kms_alias::TYPE,
    &ecr_repository::TYPE,
    &cloudwatch_alarm::TYPE,
    &cloudwatch_dashboard::TYPE,
    &lambda_function::TYPE,
    &lambda_permission::TYPE,
    &http_api::TYPE,
    &sns_topic::TYPE,
    &sns_subscription::TYPE,
    &log_metric_filter::TYPE,
    &vpc::TYPE,
    &subnet::TYPE,
    &internet_gateway::TYPE,
    &route_table::TYPE,
    &security_group::TYPE,
    &nat_gateway::TYPE,
    &vpc_endpoint::TYPE,
    &secretsmanager_secret::TYPE,
    &db_subnet_group::TYPE,
    &db_instance::TYPE,
    &rest_api::TYPE,
    &api_key::TYPE,
    &usage_plan::TYPE,
];

pub fn all() -> &'static [&'static ResourceType] {
    ALL
}

pub fn find(type_name: &str) -> Option<&'static ResourceType> {
    ALL.iter()
        .copied()
        .find(|t| t.schema.type_name == type_name)
}

/// What an update does in AWS that the diff of its fields does not say (a
/// part of the resource made anew), for the plan to tell.
pub fn update_note(
    type_name: &str,
    before: &Map<String, Value>,
    after: &Map<String, Value>,
) -> Option<String> {
    match type_name {
        "http_api" => http_api::update_note(before, after),
        _ => None,
    }
}

/// The type of a name the stack or the state holds; every such name was
/// checked against `ALL` when it was read.
pub fn of(type_name: &str) -> &'static ResourceType {
    find(type_name).unwrap_or_else(|| panic!("`{type_name}` is not a registered type"))
}

#[cfg(test)]
mod tests;
