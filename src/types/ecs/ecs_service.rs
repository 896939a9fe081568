//! An ECS service on Fargate: how many copies of a task definition run,
//! where (subnets, security groups, no public address), behind which
//! target groups, on the Fargate launch type or a capacity-provider
//! strategy, with a deployment circuit breaker that rolls a failed
//! deployment back. An apply waits for the deployment to finish only when
//! `wait_for_steady_state` says so (as Terraform's provider does).

use super::ecs_cluster::STRATEGY;
use super::{ecs_tags, tags_of, Tags};
use crate::aws::{changed, flag, int, string_map, strings, text, Aws, AwsError};
use crate::model::{ErrorClass, Observed};
use crate::schema::checks as c;
use crate::schema::{no_expansion, Fallback as F, Field, Kind as K, Naming, Problem, Schema, TAGS};
use crate::spec::terraform::Parts;
use crate::spec::{Identity, Spec};
use crate::types::observation;
use crate::types::Tagging;
use crate::types::{read_back, After, Resource, ResourceType, Unmanaged};
use aws_sdk_ecs::types::{
    AssignPublicIp, AwsVpcConfiguration, CapacityProviderStrategyItem, DeploymentCircuitBreaker,
    DeploymentConfiguration, DeploymentRolloutState, LaunchType, LoadBalancer,
    NetworkConfiguration, Service as Live, ServiceField,
};
use serde_json::{json, Map, Value};

const NETWORK: &[Field] = &[
    Field::new("subnets", K::StrSet).required(),
    Field::new("security_groups", K::StrSet).required(),
    Field::new("assign_public_ip", K::Bool).or(F::Bool(false)),
];

const LOAD_BALANCER: &[Field] = &[
    Field::new("target_group_arn", K::Str).required(),
    Field::new("container_name", K::Str).required(),
    Field::new("container_port", K::Int)
        .required()
        .check(|v| c::int_range(v, 1, 65535, "a container port")),
];

const CIRCUIT_BREAKER: &[Field] = &[
    Field::new("enable", K::Bool).or(F::Bool(true)),
    Field::new("rollback", K::Bool).or(F::Bool(true)),
];

pub static ECS_SERVICE: Schema = Schema {
    type_name: "ecs_service",
    description:
        "ECS service on Fargate: task count, network, load balancers, deployment circuit breaker",
    fields: &[
        Field::new("name", K::Str)
            .required()
            .force_new()
            .check(service_name),
        // The cluster's name (`${cluster.name}`).
        Field::new("cluster", K::Str).required().force_new(),
        Field::new("task_definition", K::Str)
            .required()
            .check(c::arn),
        Field::new("desired_count", K::Int)
            .or(F::Int(1))
            .check(|v| c::int_range(v, 0, 5000, "a desired count")),
        // Absent with no strategy: the cluster's default strategy.
        Field::new("launch_type", K::Str)
            .force_new()
            .one_of(&["FARGATE"], "a launch type"),
        Field::new("capacity_provider_strategy", K::ObjectList(STRATEGY)),
        Field::new("network_configuration", K::Object(NETWORK)).required(),
        Field::new("load_balancers", K::ObjectList(LOAD_BALANCER)).or(F::EmptyList),
        // Absent: AWS's default (off), not compared.
        Field::new("deployment_circuit_breaker", K::Object(CIRCUIT_BREAKER)),
        Field::new("health_check_grace_period_seconds", K::Int)
            .or(F::Int(0))
            .check(|v| c::int_range(v, 0, 2_147_483_647, "a grace period (seconds)")),
        // What apply does, not what AWS holds.
        Field::new("wait_for_steady_state", K::Bool)
            .or(F::Bool(false))
            .local(),
        TAGS,
    ],
    outputs: &["arn"],
    taggable: true,
    naming: Naming::Dashed,
    stateful: false,
    expand: no_expansion,
    validate: validate_service,
};

fn service_name(value: &Value) -> Result<(), String> {
    super::name(value, "a service name")
}

fn validate_service(properties: &Map<String, Value>) -> Vec<Problem> {
    let mut problems = Vec::new();
    let given = |k: &str| properties.get(k).is_some_and(|v| !v.is_null());
    if given("launch_type") && given("capacity_provider_strategy") {
        problems.push(Problem::new(
            "capacity_provider_strategy",
            "a service has a launch type or a capacity provider strategy, not both",
        ));
    }
    let cluster = properties
        .get("cluster")
        .and_then(Value::as_str)
        .unwrap_or("");
    if cluster.starts_with("arn:") || cluster.ends_with(".arn}") {
        problems.push(Problem::new(
            "cluster",
            "give the cluster's name (`${cluster.name}`), not its ARN",
        ));
    }
    let grace = properties
        .get("health_check_grace_period_seconds")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let balanced = properties
        .get("load_balancers")
        .and_then(Value::as_array)
        .is_some_and(|l| !l.is_empty());
    if grace > 0 && !balanced {
        problems.push(Problem::new(
            "health_check_grace_period_seconds",
            "a health-check grace period applies only to a service behind a load balancer",
        ));
    }
    problems
}

/// Where a deployment stands, from a service as DescribeServices shows it.
#[derive(Debug, PartialEq)]
pub enum Deployment {
    /// One deployment, complete, running what it wants.
    Steady,
    InProgress,
    /// The circuit breaker stopped it (and rolled back, if asked).
    Failed(String),
}

pub fn deployment(service: &Live) -> Deployment {
    let deployments = service.deployments();
    let primary = deployments.iter().find(|d| d.status() == Some("PRIMARY"));
    match primary.and_then(|d| d.rollout_state()) {
        Some(DeploymentRolloutState::Failed) => Deployment::Failed(
            primary
                .and_then(|d| d.rollout_state_reason())
                .unwrap_or("the deployment failed")
                .to_owned(),
        ),
        Some(DeploymentRolloutState::Completed)
            if deployments.len() == 1 && service.running_count() == service.desired_count() =>
        {
            Deployment::Steady
        }
        // No rollout state (a deployment controller other than ECS's).
        None if deployments.len() == 1
            && primary.is_some_and(|d| d.running_count() == d.desired_count()) =>
        {
            Deployment::Steady
        }
        _ => Deployment::InProgress,
    }
}

/// How many checks a wait for steady state makes (about 45 minutes, polls
/// growing to 5 s): a deployment drains the old tasks first.
const STEADY_CHECKS: u32 = 560;

pub struct Service;

/// `cluster/name`, the id: a service's name is unique in its cluster.
fn id_of(desired: &Map<String, Value>) -> Option<String> {
    let cluster = desired.get("cluster")?.as_str()?;
    let name = desired.get("name")?.as_str()?;
    Some(format!("{cluster}/{name}"))
}

fn split(id: &str) -> (&str, &str) {
    id.split_once('/').unwrap_or(("default", id))
}

fn strategy_of(desired: &Map<String, Value>) -> Option<Vec<CapacityProviderStrategyItem>> {
    let items = desired.get("capacity_provider_strategy")?.as_array()?;
    Some(
        items
            .iter()
            .filter_map(Value::as_object)
            .filter_map(|item| {
                CapacityProviderStrategyItem::builder()
                    .capacity_provider(text(item, "capacity_provider"))
                    .weight(int(item, "weight").unwrap_or(0) as i32)
                    .base(int(item, "base").unwrap_or(0) as i32)
                    .build()
                    .ok()
            })
            .collect(),
    )
}

fn network_of(desired: &Map<String, Value>) -> Option<NetworkConfiguration> {
    let network = desired.get("network_configuration")?.as_object()?;
    let public = if flag(network, "assign_public_ip") {
        AssignPublicIp::Enabled
    } else {
        AssignPublicIp::Disabled
    };
    let vpc = AwsVpcConfiguration::builder()
        .set_subnets(Some(strings(network, "subnets")))
        .set_security_groups(Some(strings(network, "security_groups")))
        .assign_public_ip(public)
        .build()
        .ok()?;
    Some(
        NetworkConfiguration::builder()
            .awsvpc_configuration(vpc)
            .build(),
    )
}

fn load_balancers_of(desired: &Map<String, Value>) -> Vec<LoadBalancer> {
    desired
        .get("load_balancers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
        .map(|l| {
            LoadBalancer::builder()
                .target_group_arn(text(l, "target_group_arn"))
                .container_name(text(l, "container_name"))
                .container_port(int(l, "container_port").unwrap_or_default() as i32)
                .build()
        })
        .collect()
}

fn deployment_of(desired: &Map<String, Value>) -> Option<DeploymentConfiguration> {
    let breaker = desired.get("deployment_circuit_breaker")?.as_object()?;
    Some(
        DeploymentConfiguration::builder()
            .deployment_circuit_breaker(
                DeploymentCircuitBreaker::builder()
                    .enable(flag(breaker, "enable"))
                    .rollback(flag(breaker, "rollback"))
                    .build(),
            )
            .build(),
    )
}

fn grace_of(desired: &Map<String, Value>) -> Option<i32> {
    let balanced = !load_balancers_of(desired).is_empty();
    balanced.then(|| int(desired, "health_check_grace_period_seconds").unwrap_or(0) as i32)
}

impl Service {
    async fn describe(&self, aws: &Aws, id: &str) -> Result<Option<Live>, AwsError> {
        let (cluster, name) = split(id);
        let found = aws
            .send(
                "DescribeServices",
                || {
                    aws.ecs()
                        .describe_services()
                        .cluster(cluster)
                        .services(name)
                        .include(ServiceField::Tags)
                        .send()
                },
                |e| crate::aws::missing(e.is_cluster_not_found_exception()),
            )
            .await;
        match found {
            // Being deleted (DRAINING) or deleted (INACTIVE): gone.
            Ok(output) => Ok(output
                .services()
                .iter()
                .find(|s| s.status() == Some("ACTIVE"))
                .cloned()),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn observed(&self, id: &str, service: &Live) -> Observed {
        let (cluster, name) = split(id);
        let vpc = service
            .network_configuration()
            .and_then(|n| n.awsvpc_configuration());
        let sorted = |items: &[String]| {
            let mut items = items.to_vec();
            items.sort();
            items
        };
        let network = vpc.map(|v| {
            json!({
                "subnets": sorted(v.subnets()),
                "security_groups": sorted(v.security_groups()),
                "assign_public_ip": v.assign_public_ip() == Some(&AssignPublicIp::Enabled),
            })
        });
        let balancers: Vec<Value> = service
            .load_balancers()
            .iter()
            .map(|l| {
                json!({
                    "target_group_arn": l.target_group_arn(),
                    "container_name": l.container_name(),
                    "container_port": l.container_port(),
                })
            })
            .collect();
        let breaker = service
            .deployment_configuration()
            .and_then(|d| d.deployment_circuit_breaker());
        let strategy: Vec<Value> = service
            .capacity_provider_strategy()
            .iter()
            .map(|s| {
                json!({"capacity_provider": s.capacity_provider(), "weight": s.weight(), "base": s.base()})
            })
            .collect();
        let mut attributes = Map::new();
        attributes.insert("name".into(), json!(name));
        attributes.insert("cluster".into(), json!(cluster));
        attributes.insert("task_definition".into(), json!(service.task_definition()));
        attributes.insert("desired_count".into(), json!(service.desired_count()));
        attributes.insert(
            "launch_type".into(),
            json!(service.launch_type().map(LaunchType::as_str)),
        );
        attributes.insert("capacity_provider_strategy".into(), json!(strategy));
        attributes.insert("network_configuration".into(), json!(network));
        attributes.insert("load_balancers".into(), json!(balancers));
        attributes.insert(
            "deployment_circuit_breaker".into(),
            json!({
                "enable": breaker.is_some_and(|b| b.enable()),
                "rollback": breaker.is_some_and(|b| b.rollback()),
            }),
        );
        attributes.insert(
            "health_check_grace_period_seconds".into(),
            json!(service.health_check_grace_period_seconds().unwrap_or(0)),
        );
        attributes.insert("tags".into(), tags_of(service.tags()));
        observation(id, attributes, [("arn", json!(service.service_arn()))])
    }

    async fn read_service(&self, aws: &Aws, id: &str) -> Result<Option<Observed>, AwsError> {
        Ok(self.describe(aws, id).await?.map(|s| self.observed(id, &s)))
    }

    /// Reads it back; with `wait_for_steady_state`, first waits until its
    /// deployment has finished (the engine's progress lines meanwhile).
    async fn settle(
        &self,
        aws: &Aws,
        id: &str,
        desired: &Map<String, Value>,
        after: After,
    ) -> Result<Observed, AwsError> {
        if flag(desired, "wait_for_steady_state") {
            crate::aws::wait_for("DescribeServices", STEADY_CHECKS, || async {
                let service = read_back(
                    self.describe(aws, id).await,
                    after,
                    "DescribeServices",
                    format!("service {id} not visible"),
                )?;
                match deployment(&service) {
                    Deployment::Steady => Ok(Some(())),
                    Deployment::InProgress => Ok(None),
                    Deployment::Failed(reason) => Err(AwsError::new(
                        ErrorClass::Unsettled,
                        "DescribeServices",
                        format!("service {id}: {reason}"),
                    )),
                }
            })
            .await
            .map_err(|error| match error.class {
                // Still rolling out when the wait ended.
                ErrorClass::Fatal => AwsError::new(
                    ErrorClass::Unsettled,
                    "DescribeServices",
                    format!("service {id}: deployment {}", error.message),
                ),
                _ => error,
            })?;
        }
        read_back(
            self.read_service(aws, id).await,
            after,
            "DescribeServices",
            format!("service {id} not visible"),
        )
    }

    /// One UpdateService with the parts `fields` names.
    async fn modify(
        &self,
        aws: &Aws,
        id: &str,
        after: &Map<String, Value>,
        fields: &[&str],
    ) -> Result<(), AwsError> {
        let (cluster, name) = split(id);
        let when = |f: &str| fields.contains(&f);
        aws.send(
            "UpdateService",
            || {
                let mut call = aws.ecs().update_service().cluster(cluster).service(name);
                if when("task_definition") {
                    call = call.task_definition(text(after, "task_definition"));
                }
                if when("desired_count") {
                    call = call.desired_count(int(after, "desired_count").unwrap_or(1) as i32);
                }
                if when("capacity_provider_strategy") {
                    call = call
                        .set_capacity_provider_strategy(strategy_of(after))
                        .force_new_deployment(true);
                }
                if when("network_configuration") {
                    call = call.set_network_configuration(network_of(after));
                }
                if when("load_balancers") {
                    call = call.set_load_balancers(Some(load_balancers_of(after)));
                }
                if when("deployment_circuit_breaker") {
                    call = call.set_deployment_configuration(deployment_of(after));
                }
                if when("health_check_grace_period_seconds") {
                    call = call.set_health_check_grace_period_seconds(grace_of(after));
                }
                call.send()
            },
            |e| {
                if e.is_service_not_found_exception() || e.is_service_not_active_exception() {
                    Some(ErrorClass::NotFound)
                } else {
                    None
                }
            },
        )
        .await?;
        Ok(())
    }
}

/// The parts UpdateService changes.
const MODIFIED: &[&str] = &[
    "task_definition",
    "desired_count",
    "capacity_provider_strategy",
    "network_configuration",
    "load_balancers",
    "deployment_circuit_breaker",
    "health_check_grace_period_seconds",
];

impl Resource for Service {
    async fn read(&self, aws: &Aws, id: &str) -> Result<Option<Observed>, AwsError> {
        self.read_service(aws, id).await
    }

    /// A deleted service stays listed, DRAINING then INACTIVE, for a while.
    async fn lingers(&self, aws: &Aws, arn: &str) -> Result<bool, AwsError> {
        match (SPEC.id_from_arn)(arn).filter(|_| arn.contains(":ecs:")) {
            Some(id) => Ok(self.read_service(aws, &id).await?.is_none()),
            None => Ok(false),
        }
    }

    /// Sent once (an emulator replaces a service on a second create); after
    /// a lost answer the engine reads it by its cluster and name.
    async fn create(&self, aws: &Aws, desired: &Map<String, Value>) -> Result<Observed, AwsError> {
        let id = id_of(desired).unwrap_or_default();
        let launch = desired
            .get("launch_type")
            .and_then(Value::as_str)
            .map(LaunchType::from);
        aws.send_create(
            "CreateService",
            || {
                aws.ecs()
                    .create_service()
                    .cluster(text(desired, "cluster"))
                    .service_name(text(desired, "name"))
                    .task_definition(text(desired, "task_definition"))
                    .desired_count(int(desired, "desired_count").unwrap_or(1) as i32)
                    .set_launch_type(launch.clone())
                    .set_capacity_provider_strategy(strategy_of(desired))
                    .set_network_configuration(network_of(desired))
                    .set_load_balancers(Some(load_balancers_of(desired)))
                    .set_deployment_configuration(deployment_of(desired))
                    .set_health_check_grace_period_seconds(grace_of(desired))
                    .set_tags(Some(ecs_tags(&string_map(desired, "tags"))))
                    .send()
            },
            |e| {
                if e.is_cluster_not_found_exception() {
                    Some(ErrorClass::Validation)
                } else {
                    None
                }
            },
        )
        .await?;
        let created = read_back(
            self.read_service(aws, &id).await,
            After::Create,
            "DescribeServices",
            format!("service {id} not visible yet"),
        )?;
        // What the create did not keep (moto drops the circuit breaker,
        // the grace period and the strategy) is set again; AWS keeps them,
        // so there it sends nothing more.
        let mut merged = desired.clone();
        merged.extend((*created.attributes).clone());
        let dropped: Vec<&str> = crate::schema::changed_fields(&ECS_SERVICE, desired, &merged)
            .into_iter()
            .filter(|f| MODIFIED.contains(f))
            .collect();
        if !dropped.is_empty() {
            self.modify(aws, &id, desired, &dropped).await?;
        }
        self.settle(aws, &id, desired, After::Create).await
    }

    async fn update(
        &self,
        aws: &Aws,
        id: &str,
        before: &Map<String, Value>,
        after: &Map<String, Value>,
        fields: &[String],
    ) -> Result<Observed, AwsError> {
        let modified: Vec<&str> = MODIFIED
            .iter()
            .copied()
            .filter(|f| changed(fields, f))
            .collect();
        if !modified.is_empty() {
            self.modify(aws, id, after, &modified).await?;
        }
        if changed(fields, "tags") {
            let arn = read_back(
                self.read_service(aws, id).await,
                After::Update,
                "DescribeServices",
                format!("service {id} disappeared"),
            )?
            .outputs["arn"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            Tags.retag(aws, &arn, before, after).await?;
        }
        if modified.is_empty() {
            return read_back(
                self.read_service(aws, id).await,
                After::Update,
                "DescribeServices",
                format!("service {id} disappeared during update"),
            );
        }
        self.settle(aws, id, after, After::Update).await
    }

    /// Deletes it with its tasks (`force`: no need to scale to zero
    /// first) and waits until it is gone, so its cluster can go next.
    async fn delete(
        &self,
        aws: &Aws,
        id: &str,
        _before: &Map<String, Value>,
    ) -> Result<(), AwsError> {
        if self.describe(aws, id).await?.is_none() {
            return Ok(());
        }
        let (cluster, name) = split(id);
        aws.send_delete(
            "DeleteService",
            || {
                aws.ecs()
                    .delete_service()
                    .cluster(cluster)
                    .service(name)
                    .force(true)
                    .send()
            },
            |e| {
                crate::aws::missing(
                    e.is_service_not_found_exception() || e.is_cluster_not_found_exception(),
                )
            },
        )
        .await?;
        crate::aws::wait_for("DescribeServices", STEADY_CHECKS, || async {
            let (cluster, name) = split(id);
            let output = aws
                .send(
                    "DescribeServices",
                    || {
                        aws.ecs()
                            .describe_services()
                            .cluster(cluster)
                            .services(name)
                            .send()
                    },
                    |e| crate::aws::missing(e.is_cluster_not_found_exception()),
                )
                .await;
            match output {
                Ok(output) => Ok(output
                    .services()
                    .iter()
                    .all(|s| s.status() == Some("INACTIVE"))
                    .then_some(())),
                Err(e) if e.is_not_found() => Ok(Some(())),
                Err(e) => Err(e),
            }
        })
        .await
    }
}

/// Terraform's view: `aws_ecs_service`.
fn terraform(a: &Map<String, Value>) -> Vec<crate::types::terraform::Tf> {
    use crate::types::terraform::prelude::*;
    let network = a.get("network_configuration").filter(|n| !n.is_null());
    let balancers: Vec<Value> = a
        .get("load_balancers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .cloned()
        .collect();
    let breaker = a.get("deployment_circuit_breaker").filter(|b| !b.is_null());
    vec![tf(
        "aws_ecs_service",
        tagged(
            a,
            json!({
                "id": v(a, "arn"), "name": v(a, "name"), "cluster": v(a, "cluster"),
                "task_definition": v(a, "task_definition"), "desired_count": v(a, "desired_count"),
                "launch_type": v(a, "launch_type"),
                "capacity_provider_strategy": a.get("capacity_provider_strategy").filter(|s| !s.is_null()).cloned().unwrap_or(json!([])),
                "network_configuration": network.map_or(json!([]), |n| block(n.clone())),
                "load_balancer": balancers,
                "deployment_circuit_breaker": breaker.map_or(json!([]), |b| block(b.clone())),
                "health_check_grace_period_seconds": v(a, "health_check_grace_period_seconds"),
                "wait_for_steady_state": v(a, "wait_for_steady_state"),
            }),
        ),
    )]
}

pub static SPEC: Spec = Spec {
    schema: &ECS_SERVICE,
    planned_id: id_of,
    id_from_arn: |arn| crate::types::after(arn, ":service/").filter(|id| id.contains('/')),
    arn_example: (
        "arn:aws:ecs:us-east-1:1:service/debate/api",
        Some("debate/api"),
    ),
    bulk_tagged: false,
    create_before_destroy: false,
    // A service's name is unique in its cluster.
    identity: Some(Identity {
        field: "name",
        of: |w| Some(format!("{}/{}", w.raw("cluster")?, w.text("name")?)),
    }),
    update_note: crate::spec::no_note,
    terraform: crate::types::terraform::Mapping {
        types: &["aws_ecs_service"],
        map: terraform,
        import: |a| {
            let cluster = crate::types::terraform::attribute(a, "cluster")?;
            let name = crate::types::terraform::attribute(a, "name")?;
            let cluster = cluster.rsplit('/').next().unwrap_or(&cluster).to_owned();
            Ok(format!("{cluster}/{name}"))
        },
        parts: Parts::NONE,
    },
};

pub static TYPE: ResourceType = ResourceType {
    spec: &SPEC,
    provider: &Service,
    unmanaged: Unmanaged::TaggingApi,
};

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_ecs::types::Deployment as Rollout;

    fn service(desired: i32, running: i32, deployments: Vec<Rollout>) -> Live {
        Live::builder()
            .desired_count(desired)
            .running_count(running)
            .set_deployments(Some(deployments))
            .build()
    }

    fn rollout(status: &str, state: Option<DeploymentRolloutState>) -> Rollout {
        Rollout::builder()
            .status(status)
            .set_rollout_state(state)
            .rollout_state_reason("tasks failed to start")
            .desired_count(2)
            .running_count(2)
            .build()
    }

    #[test]
    fn a_deployment_is_steady_when_one_completed_deployment_runs_every_task() {
        let done = rollout("PRIMARY", Some(DeploymentRolloutState::Completed));
        assert_eq!(
            deployment(&service(2, 2, vec![done.clone()])),
            Deployment::Steady
        );
        // Tasks still starting, or the old deployment still draining.
        assert_eq!(
            deployment(&service(2, 1, vec![done.clone()])),
            Deployment::InProgress
        );
        let old = rollout("ACTIVE", Some(DeploymentRolloutState::Completed));
        assert_eq!(
            deployment(&service(2, 2, vec![done, old])),
            Deployment::InProgress
        );
        let running = rollout("PRIMARY", Some(DeploymentRolloutState::InProgress));
        assert_eq!(
            deployment(&service(2, 2, vec![running])),
            Deployment::InProgress
        );
        let failed = rollout("PRIMARY", Some(DeploymentRolloutState::Failed));
        assert_eq!(
            deployment(&service(2, 0, vec![failed])),
            Deployment::Failed("tasks failed to start".into())
        );
    }
}
