//! The resource types, one module each. A module holds everything about
//! its type: the fields (kinds, defaults, force-new, sensitive, the checks
//! AWS applies), its identity (a name the stack gives, or an id AWS assigns
//! and cairn finds again by ownership tags), the id inside its ARN, how the
//! drift search finds it unmanaged, and its read, create, update and
//! delete. Its pure part is a `crate::spec::Spec`, its I/O a `Provider`.
//! `ALL` lists the modules; adding a type is one file and one line there.

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
pub mod owned;
mod provider;
mod rest_api;
mod route_table;
mod secretsmanager_secret;
mod security_group;
mod sns_subscription;
mod sns_topic;
mod subnet;
mod usage_plan;
mod vpc;
mod vpc_endpoint;

pub use crate::spec::{after, assigned, by_name, no_arn, terraform};
pub use provider::{read_back, After, Provider, Resource};

use crate::aws::{Aws, AwsError};
use crate::spec::{Catalog, Spec};
use futures::future::BoxFuture;
use std::collections::BTreeMap;
use std::sync::LazyLock;

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

/// A registered type: its pure spec and its I/O.
pub struct ResourceType {
    pub spec: &'static Spec,
    pub provider: &'static dyn Provider,
    pub unmanaged: Unmanaged,
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

/// Every registered type with its provider.
pub fn registry() -> &'static [&'static ResourceType] {
    ALL
}

/// Every type's spec, for the stack, the plan and their renderings.
pub fn catalog() -> &'static Catalog {
    static CATALOG: LazyLock<Catalog> = LazyLock::new(|| Catalog::new(ALL.iter().map(|t| t.spec)));
    &CATALOG
}

pub fn all() -> &'static [&'static Spec] {
    catalog().all()
}

pub fn find(type_name: &str) -> Option<&'static Spec> {
    catalog().find(type_name)
}

/// The spec of a name the stack or the state holds.
pub fn of(type_name: &str) -> &'static Spec {
    catalog().of(type_name)
}

/// The provider of a name the stack or the state holds.
pub fn provider(type_name: &str) -> &'static dyn Provider {
    ALL.iter()
        .find(|t| t.spec.schema.type_name == type_name)
        .unwrap_or_else(|| panic!("`{type_name}` is not a registered type"))
        .provider
}

#[cfg(test)]
mod tests;
