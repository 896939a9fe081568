//! The resource types, one module each. A module holds everything about
//! its type: the fields (kinds, defaults, force-new, sensitive, the checks
//! AWS applies), its identity (a name the stack gives, or an id AWS assigns
//! and cairn finds again by ownership tags), the id inside its ARN, how the
//! drift search finds it unmanaged, and its read, create, update and
//! delete. Its pure part is a `crate::spec::Spec`, its I/O a `Provider`.
//! `ALL` lists the modules; adding a type is one file and one line there.

mod apigateway;
pub(crate) mod checks;
mod cloudfront;
pub mod ec2;
mod ecs;
mod elbv2;
mod lambda;
pub mod owned;
mod provider;
mod rds;
mod s3;
mod wafv2;

pub use crate::spec::{after, assigned, by_name, no_arn, terraform};
pub use provider::{observation, read_back, After, Provider, Resource, Tagging};

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

/// The registry: every type, one line each, in the order cairn lists
/// them. `name` declares the module `name.rs` too; `service::name` is a
/// type in a service's directory (`service/name.rs`, declared by the
/// service's `mod.rs`, which holds what the service's types share).
macro_rules! registry {
    ($($first:ident $(:: $module:ident)?),* $(,)?) => {
        $(registry!(@declare $first $(:: $module)?);)*
        static ALL: &[&ResourceType] = &[$(&$first $(:: $module)?::TYPE),*];
        /// Each type's source, in `ALL`'s order, for the tests that read it.
        #[cfg(test)]
        static SOURCES: &[&str] = &[$(registry!(@source $first $(:: $module)?)),*];
    };
    (@declare $module:ident) => {
        mod $module;
    };
    (@declare $service:ident :: $module:ident) => {};
    (@source $module:ident) => {
        include_str!(concat!(stringify!($module), ".rs"))
    };
    (@source $service:ident :: $module:ident) => {
        include_str!(concat!(stringify!($service), "/", stringify!($module), ".rs"))
    };
}

registry! {
    iam_role,
    dynamodb_table,
    log_group,
    kms_key,
    kms_alias,
    ecr_repository,
    cloudwatch_alarm,
    cloudwatch_dashboard,
    lambda::lambda_function,
    lambda::lambda_permission,
    lambda::lambda_event_source_mapping,
    sqs_queue,
    apigateway::http_api,
    sns_topic,
    sns_subscription,
    log_metric_filter,
    ec2::vpc,
    ec2::subnet,
    ec2::internet_gateway,
    ec2::route_table,
    ec2::security_group,
    ec2::nat_gateway,
    ec2::vpc_endpoint,
    secretsmanager_secret,
    rds::db_subnet_group,
    rds::db_instance,
    apigateway::rest_api,
    apigateway::api_key,
    apigateway::usage_plan,
    elbv2::lb_target_group,
    elbv2::lb,
    elbv2::lb_listener,
    elbv2::lb_listener_rule,
    ecs::ecs_cluster,
    ecs::ecs_task_definition,
    ecs::ecs_service,
    cloudfront::cloudfront_origin_access_control,
    cloudfront::cloudfront_distribution,
    event_rule,
    budget,
    wafv2::wafv2_web_acl,
    wafv2::wafv2_web_acl_association,
    s3::s3_bucket,
    s3::s3_bucket_policy,
}

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
