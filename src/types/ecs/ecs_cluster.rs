//! An ECS cluster for Fargate: Container Insights, and the capacity
//! providers (FARGATE, FARGATE_SPOT) with the default strategy its services
//! use unless they say otherwise.

use super::{ecs_tags, tags_of, Tags};
use crate::aws::{changed, int, string_map, strings, text, Aws, AwsError};
use crate::model::{ErrorClass, Observed};
use crate::schema::checks as c;
use crate::schema::{no_expansion, Fallback as F, Field, Kind as K, Naming, Problem, Schema, TAGS};
use crate::spec::terraform::Parts;
use crate::spec::{Identity, Spec};
use crate::types::observation;
use crate::types::Tagging;
use crate::types::{read_back, After, Resource, ResourceType, Unmanaged};
use aws_sdk_ecs::types::{
    CapacityProviderStrategyItem, Cluster as Live, ClusterField, ClusterSetting, ClusterSettingName,
};
use serde_json::{json, Map, Value};

/// A capacity provider's share: `base` tasks first, then by `weight`.
pub const STRATEGY: &[Field] = &[
    Field::new("capacity_provider", K::Str)
        .required()
        .check(capacity_provider),
    Field::new("weight", K::Int)
        .or(F::Int(0))
        .check(|v| c::int_range(v, 0, 1000, "a capacity provider weight")),
    Field::new("base", K::Int)
        .or(F::Int(0))
        .check(|v| c::int_range(v, 0, 100_000, "a capacity provider base")),
];

pub static ECS_CLUSTER: Schema = Schema {
    type_name: "ecs_cluster",
    description: "ECS cluster for Fargate tasks (Container Insights, capacity providers)",
    fields: &[
        Field::new("name", K::Str)
            .required()
            .force_new()
            .check(cluster_name),
        Field::new("container_insights", K::Str)
            .or(F::Str("disabled"))
            .one_of(
                &["enabled", "enhanced", "disabled"],
                "a Container Insights setting",
            ),
        Field::new("capacity_providers", K::StrSet)
            .or(F::EmptyList)
            .check(capacity_providers),
        Field::new(
            "default_capacity_provider_strategy",
            K::ObjectList(STRATEGY),
        )
        .or(F::EmptyList),
        TAGS,
    ],
    outputs: &["arn"],
    taggable: true,
    naming: Naming::Dashed,
    stateful: false,
    expand: no_expansion,
    validate: validate_cluster,
};

fn cluster_name(value: &Value) -> Result<(), String> {
    super::name(value, "a cluster name")
}

pub fn capacity_provider(value: &Value) -> Result<(), String> {
    c::one_of(
        value,
        &["FARGATE", "FARGATE_SPOT"],
        "a Fargate capacity provider",
    )
}

fn capacity_providers(value: &Value) -> Result<(), String> {
    for item in value.as_array().into_iter().flatten() {
        capacity_provider(item)?;
    }
    Ok(())
}

/// The strategy may name only providers the cluster has, and at most one
/// of them may have a base.
fn validate_cluster(properties: &Map<String, Value>) -> Vec<Problem> {
    let mut problems = Vec::new();
    let providers: Vec<&str> = properties
        .get("capacity_providers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let strategy = properties
        .get("default_capacity_provider_strategy")
        .and_then(Value::as_array);
    let mut bases = 0;
    for (index, item) in strategy.into_iter().flatten().enumerate() {
        let provider = item.get("capacity_provider").and_then(Value::as_str);
        if let Some(provider) = provider.filter(|p| !p.contains("${")) {
            if !providers.contains(&provider) {
                problems.push(Problem::new(
                    format!("default_capacity_provider_strategy.{index}.capacity_provider"),
                    format!("`{provider}` is not in the cluster's `capacity_providers`"),
                ));
            }
        }
        if item.get("base").and_then(Value::as_i64).unwrap_or(0) > 0 {
            bases += 1;
        }
    }
    if bases > 1 {
        problems.push(Problem::new(
            "default_capacity_provider_strategy",
            "only one capacity provider of a strategy may have a `base`",
        ));
    }
    problems
}

pub struct Cluster;

fn strategy_of(desired: &Map<String, Value>) -> Vec<CapacityProviderStrategyItem> {
    desired
        .get("default_capacity_provider_strategy")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
        .filter_map(|item| {
            CapacityProviderStrategyItem::builder()
                .capacity_provider(text(item, "capacity_provider"))
                .weight(int(item, "weight").unwrap_or(0) as i32)
                .base(int(item, "base").unwrap_or(0) as i32)
                .build()
                .ok()
        })
        .collect()
}

fn insights(desired: &Map<String, Value>) -> ClusterSetting {
    ClusterSetting::builder()
        .name(ClusterSettingName::ContainerInsights)
        .value(text(desired, "container_insights"))
        .build()
}

impl Cluster {
    async fn describe(&self, aws: &Aws, name: &str) -> Result<Option<Live>, AwsError> {
        let output = aws
            .send(
                "DescribeClusters",
                || {
                    aws.ecs()
                        .describe_clusters()
                        .clusters(name)
                        .include(ClusterField::Settings)
                        .include(ClusterField::Tags)
                        .send()
                },
                |_| None,
            )
            .await?;
        // A deleted cluster stays listed as INACTIVE for a while.
        Ok(output
            .clusters()
            .iter()
            .find(|c| c.status() != Some("INACTIVE"))
            .cloned())
    }

    async fn read_cluster(&self, aws: &Aws, name: &str) -> Result<Option<Observed>, AwsError> {
        let Some(cluster) = self.describe(aws, name).await? else {
            return Ok(None);
        };
        let insights = cluster
            .settings()
            .iter()
            .find(|s| s.name() == Some(&ClusterSettingName::ContainerInsights))
            .and_then(|s| s.value())
            .unwrap_or("disabled");
        let mut providers: Vec<&str> = cluster
            .capacity_providers()
            .iter()
            .map(String::as_str)
            .collect();
        providers.sort_unstable();
        let strategy: Vec<Value> = cluster
            .default_capacity_provider_strategy()
            .iter()
            .map(|s| {
                json!({
                    "capacity_provider": s.capacity_provider(),
                    "weight": s.weight(),
                    "base": s.base(),
                })
            })
            .collect();
        let mut attributes = Map::new();
        attributes.insert("name".into(), json!(name));
        attributes.insert("container_insights".into(), json!(insights));
        attributes.insert("capacity_providers".into(), json!(providers));
        attributes.insert("default_capacity_provider_strategy".into(), json!(strategy));
        attributes.insert("tags".into(), tags_of(cluster.tags()));
        Ok(Some(observation(
            name,
            attributes,
            [("arn", json!(cluster.cluster_arn()))],
        )))
    }

    async fn set_providers(
        &self,
        aws: &Aws,
        name: &str,
        desired: &Map<String, Value>,
    ) -> Result<(), AwsError> {
        aws.send(
            "PutClusterCapacityProviders",
            || {
                aws.ecs()
                    .put_cluster_capacity_providers()
                    .cluster(name)
                    .set_capacity_providers(Some(strings(desired, "capacity_providers")))
                    .set_default_capacity_provider_strategy(Some(strategy_of(desired)))
                    .send()
            },
            |e| {
                if e.is_cluster_not_found_exception() {
                    Some(ErrorClass::NotFound)
                } else if e.is_update_in_progress_exception() || e.is_resource_in_use_exception() {
                    Some(ErrorClass::Conflict)
                } else {
                    None
                }
            },
        )
        .await?;
        Ok(())
    }
}

impl Resource for Cluster {
    async fn read(&self, aws: &Aws, id: &str) -> Result<Option<Observed>, AwsError> {
        self.read_cluster(aws, id).await
    }

    /// A deleted cluster stays listed, INACTIVE, for a while.
    async fn lingers(&self, aws: &Aws, arn: &str) -> Result<bool, AwsError> {
        match (SPEC.id_from_arn)(arn).filter(|_| arn.contains(":ecs:")) {
            Some(name) => Ok(self.read_cluster(aws, &name).await?.is_none()),
            None => Ok(false),
        }
    }

    /// CreateCluster of a name that exists returns that cluster, so a
    /// repeat after a lost answer is safe.
    async fn create(&self, aws: &Aws, desired: &Map<String, Value>) -> Result<Observed, AwsError> {
        let name = text(desired, "name");
        let providers = strings(desired, "capacity_providers");
        let strategy = strategy_of(desired);
        aws.send(
            "CreateCluster",
            || {
                aws.ecs()
                    .create_cluster()
                    .cluster_name(name)
                    .settings(insights(desired))
                    .set_capacity_providers(Some(providers.clone()).filter(|p| !p.is_empty()))
                    .set_default_capacity_provider_strategy(
                        Some(strategy.clone()).filter(|s| !s.is_empty()),
                    )
                    .set_tags(Some(ecs_tags(&string_map(desired, "tags"))))
                    .send()
            },
            |_| None,
        )
        .await?;
        read_back(
            self.read_cluster(aws, name).await,
            After::Create,
            "DescribeClusters",
            format!("cluster {name} not visible yet"),
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
        if changed(fields, "container_insights") {
            aws.send(
                "UpdateCluster",
                || {
                    aws.ecs()
                        .update_cluster()
                        .cluster(id)
                        .settings(insights(after))
                        .send()
                },
                |e| crate::aws::missing(e.is_cluster_not_found_exception()),
            )
            .await?;
        }
        if changed(fields, "capacity_providers")
            || changed(fields, "default_capacity_provider_strategy")
        {
            self.set_providers(aws, id, after).await?;
        }
        if changed(fields, "tags") {
            let arn = read_back(
                self.read_cluster(aws, id).await,
                After::Update,
                "DescribeClusters",
                format!("cluster {id} disappeared"),
            )?
            .outputs["arn"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            Tags.retag(aws, &arn, before, after).await?;
        }
        read_back(
            self.read_cluster(aws, id).await,
            After::Update,
            "DescribeClusters",
            format!("cluster {id} disappeared during update"),
        )
    }

    /// Refused while services or tasks remain: retried, since the
    /// services are usually being deleted in the same run.
    async fn delete(
        &self,
        aws: &Aws,
        id: &str,
        _before: &Map<String, Value>,
    ) -> Result<(), AwsError> {
        aws.send_delete(
            "DeleteCluster",
            || aws.ecs().delete_cluster().cluster(id).send(),
            |e| {
                if e.is_cluster_not_found_exception() {
                    Some(ErrorClass::NotFound)
                } else if e.is_cluster_contains_services_exception()
                    || e.is_cluster_contains_tasks_exception()
                    || e.is_update_in_progress_exception()
                {
                    Some(ErrorClass::Conflict)
                } else {
                    None
                }
            },
        )
        .await
    }
}

/// Terraform's view: `aws_ecs_cluster`, and its capacity providers as
/// `aws_ecs_cluster_capacity_providers` when it has any.
fn terraform(a: &Map<String, Value>) -> Vec<crate::types::terraform::Tf> {
    use crate::types::terraform::prelude::*;
    let mut out = vec![tf(
        "aws_ecs_cluster",
        tagged(
            a,
            json!({
                "arn": v(a, "arn"), "id": v(a, "arn"), "name": v(a, "name"),
                "setting": [{"name": "containerInsights", "value": v(a, "container_insights")}],
            }),
        ),
    )];
    let providers = v(a, "capacity_providers");
    if providers.as_array().is_some_and(|p| !p.is_empty()) {
        out.push(tf(
            "aws_ecs_cluster_capacity_providers",
            json!({
                "id": v(a, "name"), "cluster_name": v(a, "name"),
                "capacity_providers": providers,
                "default_capacity_provider_strategy": v(a, "default_capacity_provider_strategy"),
            }),
        ));
    }
    out
}

pub static SPEC: Spec = Spec {
    schema: &ECS_CLUSTER,
    planned_id: crate::types::by_name,
    id_from_arn: |arn| crate::types::after(arn, ":cluster/"),
    arn_example: ("arn:aws:ecs:us-east-1:1:cluster/debate", Some("debate")),
    bulk_tagged: false,
    create_before_destroy: false,
    identity: Some(Identity::NAME),
    update_note: crate::spec::no_note,
    terraform: crate::types::terraform::Mapping {
        types: &["aws_ecs_cluster", "aws_ecs_cluster_capacity_providers"],
        map: terraform,
        import: |a| crate::types::terraform::attribute(a, "name"),
        parts: Parts::NONE,
    },
};

pub static TYPE: ResourceType = ResourceType {
    spec: &SPEC,
    provider: &Cluster,
    unmanaged: Unmanaged::TaggingApi,
};
