//! A Fargate task definition: its size (a CPU and memory pair Fargate
//! offers), `awsvpc` networking, task and execution roles, and its
//! containers (image, ports, environment, secrets from Secrets Manager,
//! health check, logs to CloudWatch). AWS never changes a revision: any
//! change registers a new one, made before the old is deregistered, so the
//! services that use it move over first.

use super::{ecs_tags, tags_of, Tags};
use crate::aws::{changed, flag, int, string_map, strings, text, Aws, AwsError};
use crate::model::{ErrorClass, Observed, TAG_ADDRESS, TAG_ENVIRONMENT, TAG_STACK};
use crate::schema::checks as c;
use crate::schema::{no_expansion, Fallback as F, Field, Kind as K, Naming, Problem, Schema, TAGS};
use crate::spec::terraform::Parts;
use crate::spec::Spec;
use crate::types::observation;
use crate::types::Tagging;
use crate::types::{read_back, After, Resource, ResourceType, Unmanaged};
use aws_sdk_ecs::types::{
    Compatibility, ContainerDefinition, HealthCheck, KeyValuePair, LogConfiguration, LogDriver,
    NetworkMode, PortMapping, Secret, TaskDefinition as Live, TaskDefinitionField,
    TaskDefinitionStatus, TransportProtocol,
};
use serde_json::{json, Map, Value};

const PORT_MAPPING: &[Field] = &[
    Field::new("container_port", K::Int)
        .required()
        .check(|v| c::int_range(v, 1, 65535, "a container port")),
    Field::new("protocol", K::Str)
        .or(F::Str("tcp"))
        .one_of(&["tcp", "udp"], "a port protocol"),
];

/// A container's own health check (Docker's): AWS's defaults.
const CONTAINER_HEALTH_CHECK: &[Field] = &[
    Field::new("command", K::StrList).required(),
    Field::new("interval", K::Int)
        .or(F::Int(30))
        .check(|v| c::int_range(v, 5, 300, "a container health-check interval (seconds)")),
    Field::new("timeout", K::Int)
        .or(F::Int(5))
        .check(|v| c::int_range(v, 2, 60, "a container health-check timeout (seconds)")),
    Field::new("retries", K::Int)
        .or(F::Int(3))
        .check(|v| c::int_range(v, 1, 10, "a container health-check retry count")),
    Field::new("start_period", K::Int)
        .or(F::Int(0))
        .check(|v| c::int_range(v, 0, 300, "a container health-check start period (seconds)")),
];

/// The `awslogs` driver's options.
const LOGS: &[Field] = &[
    Field::new("group", K::Str)
        .required()
        .check(c::log_group_name),
    Field::new("region", K::Str).required().check(c::region),
    Field::new("stream_prefix", K::Str).required(),
];

const CONTAINER: &[Field] = &[
    Field::new("name", K::Str).required(),
    Field::new("image", K::Str).required(),
    Field::new("essential", K::Bool).or(F::Bool(true)),
    Field::new("cpu", K::Int).or(F::Int(0)),
    // Absent: the task's memory, not a limit of its own.
    Field::new("memory", K::Int),
    Field::new("port_mappings", K::ObjectList(PORT_MAPPING)).or(F::EmptyList),
    Field::new("environment", K::StrMap).or(F::EmptyMap),
    // Variable name to the ARN of a Secrets Manager secret (or a key of
    // one): ECS reads the value when the task starts, never cairn.
    Field::new("secrets", K::StrMap)
        .or(F::EmptyMap)
        .check(secret_arns),
    Field::new("health_check", K::Object(CONTAINER_HEALTH_CHECK)),
    Field::new("logs", K::Object(LOGS)),
];

pub static ECS_TASK_DEFINITION: Schema = Schema {
    type_name: "ecs_task_definition",
    description: "Fargate task definition: CPU and memory, roles, containers (a change registers a new revision)",
    fields: &[
        Field::new("family", K::Str)
            .required()
            .force_new()
            .check(family),
        Field::new("cpu", K::Int).required().force_new(),
        Field::new("memory", K::Int).required().force_new(),
        Field::new("network_mode", K::Str)
            .or(F::Str("awsvpc"))
            .force_new(),
        Field::new("execution_role_arn", K::Str)
            .or(F::Str(""))
            .force_new()
            .check(c::arn_or_empty),
        Field::new("task_role_arn", K::Str)
            .or(F::Str(""))
            .force_new()
            .check(c::arn_or_empty),
        Field::new("container_definitions", K::ObjectList(CONTAINER))
            .required()
            .force_new(),
        TAGS,
    ],
    outputs: &["arn", "revision"],
    taggable: true,
    naming: Naming::None,
    stateful: false,
    expand: no_expansion,
    validate: validate_task,
};

fn family(value: &Value) -> Result<(), String> {
    super::name(value, "a task definition family")
}

fn secret_arns(value: &Value) -> Result<(), String> {
    for (name, arn) in value.as_object().into_iter().flatten() {
        let arn = arn.as_str().unwrap_or_default();
        let ours =
            arn.starts_with("arn:") && (arn.contains(":secretsmanager:") || arn.contains(":ssm:"));
        if !arn.contains("${") && !ours {
            // The value is not repeated: it may be the secret itself.
            return Err(format!(
                "secret `{name}` comes from the ARN of a Secrets Manager secret (or an SSM parameter), not a value"
            ));
        }
    }
    Ok(())
}

/// The memory sizes (MiB) Fargate offers with a CPU size (units).
pub fn fargate_memory(cpu: i64) -> Option<Vec<i64>> {
    let steps = |from: i64, to: i64, step: i64| (from..=to).step_by(step as usize).collect();
    Some(match cpu {
        256 => vec![512, 1024, 2048],
        512 => steps(1024, 4096, 1024),
        1024 => steps(2048, 8192, 1024),
        2048 => steps(4096, 16384, 1024),
        4096 => steps(8192, 30720, 1024),
        8192 => steps(16384, 61440, 4096),
        16384 => steps(32768, 122880, 8192),
        _ => return None,
    })
}

/// What Fargate refuses (an emulator takes it): a CPU and memory pair it
/// does not offer, a network mode other than `awsvpc`; and two containers
/// of one name.
fn validate_task(properties: &Map<String, Value>) -> Vec<Problem> {
    let mut problems = Vec::new();
    let int = |k: &str| properties.get(k).and_then(Value::as_i64);
    if let Some(cpu) = int("cpu") {
        let memory = int("memory");
        match fargate_memory(cpu) {
            None => problems.push(Problem::new(
                "cpu",
                format!(
                    "Fargate offers 256, 512, 1024, 2048, 4096, 8192 or 16384 CPU units, got {cpu}"
                ),
            )),
            Some(sizes) => {
                if let Some(memory) = memory.filter(|m| !sizes.contains(m)) {
                    let offered = match sizes.as_slice() {
                        [low, second, .., high] if sizes.len() > 3 => {
                            format!("{low} to {high} MiB in steps of {}", second - low)
                        }
                        _ => format!(
                            "{} MiB",
                            sizes
                                .iter()
                                .map(i64::to_string)
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    };
                    problems.push(Problem::new(
                        "memory",
                        format!("Fargate pairs {cpu} CPU units with a memory of {offered}, got {memory} MiB"),
                    ));
                }
            }
        }
    }
    if let Some(mode) = properties.get("network_mode").and_then(Value::as_str) {
        if mode != "awsvpc" && !mode.contains("${") {
            problems.push(Problem::new(
                "network_mode",
                format!("a Fargate task's network mode is `awsvpc`, got `{mode}`"),
            ));
        }
    }
    let containers = properties
        .get("container_definitions")
        .and_then(Value::as_array);
    if containers.is_some_and(Vec::is_empty) {
        problems.push(Problem::new(
            "container_definitions",
            "a task definition has at least one container",
        ));
    }
    let mut names = std::collections::BTreeSet::new();
    for (index, container) in containers.into_iter().flatten().enumerate() {
        if let Some(name) = container.get("name").and_then(Value::as_str) {
            if !names.insert(name) {
                problems.push(Problem::new(
                    format!("container_definitions.{index}.name"),
                    format!("two containers are named `{name}`"),
                ));
            }
        }
        let check = container.get("health_check").and_then(Value::as_object);
        let seconds = |k: &str| check.and_then(|c| c.get(k)).and_then(Value::as_i64);
        if let (Some(timeout), Some(interval)) = (seconds("timeout"), seconds("interval")) {
            if timeout >= interval {
                problems.push(Problem::new(
                    format!("container_definitions.{index}.health_check.timeout"),
                    format!("a health-check timeout ({timeout} s) must be below its interval ({interval} s)"),
                ));
            }
        }
    }
    problems
}

/// What a replacement does: a new revision, the old one deregistered once
/// what uses it has moved. Nothing for a change of tags alone.
fn revision_note(before: &Map<String, Value>, after: &Map<String, Value>) -> Option<String> {
    let revised = ECS_TASK_DEFINITION
        .fields
        .iter()
        .filter(|f| f.force_new)
        .any(|f| {
            let want = after.get(f.name).unwrap_or(&Value::Null);
            crate::model::expr::contains_unknown(want)
                || !crate::schema::equivalent(
                    f.kind,
                    want,
                    before.get(f.name).unwrap_or(&Value::Null),
                )
        });
    revised.then(|| format!(
        "registers a new revision of `{}`; the old revision is deregistered once what uses it has moved to the new one",
        text(before, "family")
    ))
}

fn container_of(container: &Map<String, Value>) -> ContainerDefinition {
    let ports: Vec<PortMapping> = container
        .get("port_mappings")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
        .map(|p| {
            let port = int(p, "container_port").unwrap_or_default() as i32;
            // `awsvpc`: the host port is the container's.
            PortMapping::builder()
                .container_port(port)
                .host_port(port)
                .protocol(TransportProtocol::from(text(p, "protocol")))
                .build()
        })
        .collect();
    let environment: Vec<KeyValuePair> = string_map(container, "environment")
        .into_iter()
        .map(|(k, v)| KeyValuePair::builder().name(k).value(v).build())
        .collect();
    let secrets: Vec<Secret> = string_map(container, "secrets")
        .into_iter()
        .filter_map(|(k, v)| Secret::builder().name(k).value_from(v).build().ok())
        .collect();
    let health = container
        .get("health_check")
        .and_then(Value::as_object)
        .and_then(|h| {
            HealthCheck::builder()
                .set_command(Some(strings(h, "command")))
                .interval(int(h, "interval").unwrap_or(30) as i32)
                .timeout(int(h, "timeout").unwrap_or(5) as i32)
                .retries(int(h, "retries").unwrap_or(3) as i32)
                .start_period(int(h, "start_period").unwrap_or(0) as i32)
                .build()
                .ok()
        });
    let logs = container
        .get("logs")
        .and_then(Value::as_object)
        .and_then(|l| {
            LogConfiguration::builder()
                .log_driver(LogDriver::Awslogs)
                .options("awslogs-group", text(l, "group"))
                .options("awslogs-region", text(l, "region"))
                .options("awslogs-stream-prefix", text(l, "stream_prefix"))
                .build()
                .ok()
        });
    ContainerDefinition::builder()
        .name(text(container, "name"))
        .image(text(container, "image"))
        .essential(flag(container, "essential"))
        .cpu(int(container, "cpu").unwrap_or(0) as i32)
        .set_memory(int(container, "memory").map(|m| m as i32))
        .set_port_mappings(Some(ports))
        .set_environment(Some(environment))
        .set_secrets(Some(secrets))
        .set_health_check(health)
        .set_log_configuration(logs)
        .build()
}

/// A container as the `container_definitions` field holds it.
fn container_value(container: &ContainerDefinition) -> Value {
    let ports: Vec<Value> = container
        .port_mappings()
        .iter()
        .map(|p| {
            json!({
                "container_port": p.container_port(),
                "protocol": p.protocol().map_or("tcp", TransportProtocol::as_str),
            })
        })
        .collect();
    let environment: Map<String, Value> = container
        .environment()
        .iter()
        .map(|e| {
            (
                e.name().unwrap_or_default().to_owned(),
                json!(e.value().unwrap_or_default()),
            )
        })
        .collect();
    let secrets: Map<String, Value> = container
        .secrets()
        .iter()
        .map(|s| (s.name().to_owned(), json!(s.value_from())))
        .collect();
    let health = container.health_check().map(|h| {
        json!({
            "command": h.command(), "interval": h.interval().unwrap_or(30),
            "timeout": h.timeout().unwrap_or(5), "retries": h.retries().unwrap_or(3),
            "start_period": h.start_period().unwrap_or(0),
        })
    });
    let logs = container
        .log_configuration()
        .filter(|l| l.log_driver() == &LogDriver::Awslogs)
        .map(|l| {
            let option = |k: &str| {
                l.options()
                    .and_then(|o| o.get(k))
                    .cloned()
                    .unwrap_or_default()
            };
            json!({
                "group": option("awslogs-group"), "region": option("awslogs-region"),
                "stream_prefix": option("awslogs-stream-prefix"),
            })
        });
    json!({
        "name": container.name(), "image": container.image(),
        "essential": container.essential().unwrap_or(true), "cpu": container.cpu(),
        "memory": container.memory(), "port_mappings": ports, "environment": environment,
        "secrets": secrets, "health_check": health, "logs": logs,
    })
}

pub struct TaskDefinition;

impl TaskDefinition {
    async fn describe(&self, aws: &Aws, arn: &str) -> Result<Option<(Live, Value)>, AwsError> {
        let found = aws
            .send(
                "DescribeTaskDefinition",
                || {
                    aws.ecs()
                        .describe_task_definition()
                        .task_definition(arn)
                        .include(TaskDefinitionField::Tags)
                        .send()
                },
                // The only client error of a describe by ARN: no such revision.
                |e| crate::aws::missing(e.is_client_exception()),
            )
            .await;
        match found {
            Ok(output) => Ok(output
                .task_definition()
                .filter(|t| t.status() != Some(&TaskDefinitionStatus::Inactive))
                .cloned()
                .map(|t| (t, tags_of(output.tags())))),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn observed(&self, task: &Live, tags: Value) -> Observed {
        let arn = task.task_definition_arn().unwrap_or_default();
        let number = |v: Option<&str>| v.and_then(|v| v.parse::<i64>().ok());
        let containers: Vec<Value> = task
            .container_definitions()
            .iter()
            .map(container_value)
            .collect();
        let mut attributes = Map::new();
        attributes.insert("family".into(), json!(task.family()));
        attributes.insert("cpu".into(), json!(number(task.cpu())));
        attributes.insert("memory".into(), json!(number(task.memory())));
        attributes.insert(
            "network_mode".into(),
            json!(task.network_mode().map(NetworkMode::as_str)),
        );
        attributes.insert(
            "execution_role_arn".into(),
            json!(task.execution_role_arn().unwrap_or_default()),
        );
        attributes.insert(
            "task_role_arn".into(),
            json!(task.task_role_arn().unwrap_or_default()),
        );
        attributes.insert("container_definitions".into(), json!(containers));
        attributes.insert("tags".into(), tags);
        observation(
            arn,
            attributes,
            [("arn", json!(arn)), ("revision", json!(task.revision()))],
        )
    }

    async fn read_task(&self, aws: &Aws, arn: &str) -> Result<Option<Observed>, AwsError> {
        Ok(self
            .describe(aws, arn)
            .await?
            .map(|(task, tags)| self.observed(&task, tags)))
    }
}

fn optional(desired: &Map<String, Value>, key: &str) -> Option<String> {
    Some(text(desired, key).to_owned()).filter(|v| !v.is_empty())
}

impl Resource for TaskDefinition {
    async fn read(&self, aws: &Aws, id: &str) -> Result<Option<Observed>, AwsError> {
        self.read_task(aws, id).await
    }

    /// A deregistered revision keeps its tags (AWS lists it, INACTIVE).
    async fn lingers(&self, aws: &Aws, arn: &str) -> Result<bool, AwsError> {
        if !arn.contains(":task-definition/") {
            return Ok(false);
        }
        Ok(self.read_task(aws, arn).await?.is_none())
    }

    /// The family's newest active revision, if it carries these ownership
    /// tags: a registration whose answer was lost is the newest (and when
    /// nothing was registered, the newest is the one being replaced, which
    /// the engine does not take). Newest by its number, whatever order
    /// the listing comes in.
    async fn find(
        &self,
        aws: &Aws,
        desired: &Map<String, Value>,
    ) -> Result<Option<Observed>, AwsError> {
        let family = text(desired, "family");
        let mut newest: Option<(i64, String)> = None;
        let mut pages = aws.pages(
            "ListTaskDefinitions",
            |token| {
                aws.ecs()
                    .list_task_definitions()
                    .family_prefix(family)
                    .status(TaskDefinitionStatus::Active)
                    .set_next_token(token)
                    .send()
            },
            |page| page.next_token(),
            |_| None,
        );
        while let Some(page) = pages.next_page().await? {
            for arn in page.task_definition_arns() {
                let Some((name, revision)) = arn
                    .rsplit_once(":task-definition/")
                    .and_then(|(_, rest)| rest.rsplit_once(':'))
                else {
                    continue;
                };
                let revision = revision.parse::<i64>().unwrap_or(0);
                if name == family && newest.as_ref().is_none_or(|(n, _)| revision > *n) {
                    newest = Some((revision, arn.clone()));
                }
            }
        }
        let Some((_, arn)) = newest else {
            return Ok(None);
        };
        let found = self.read_task(aws, &arn).await?;
        let wanted = string_map(desired, "tags");
        Ok(found.filter(|f| {
            let tags = string_map(&f.attributes, "tags");
            [TAG_STACK, TAG_ENVIRONMENT, TAG_ADDRESS]
                .iter()
                .all(|k| wanted.contains_key(*k) && wanted.get(*k) == tags.get(*k))
        }))
    }

    /// Each registration makes a new revision: sent once, and after a lost
    /// answer the engine looks for it by its ownership tags.
    async fn create(&self, aws: &Aws, desired: &Map<String, Value>) -> Result<Observed, AwsError> {
        let containers: Vec<ContainerDefinition> = desired
            .get("container_definitions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_object)
            .map(container_of)
            .collect();
        let registered = aws
            .send_create(
                "RegisterTaskDefinition",
                || {
                    aws.ecs()
                        .register_task_definition()
                        .family(text(desired, "family"))
                        .requires_compatibilities(Compatibility::Fargate)
                        .network_mode(NetworkMode::from(text(desired, "network_mode")))
                        .cpu(int(desired, "cpu").unwrap_or_default().to_string())
                        .memory(int(desired, "memory").unwrap_or_default().to_string())
                        .set_execution_role_arn(optional(desired, "execution_role_arn"))
                        .set_task_role_arn(optional(desired, "task_role_arn"))
                        .set_container_definitions(Some(containers.clone()))
                        .set_tags(Some(ecs_tags(&string_map(desired, "tags"))))
                        .send()
                },
                |e| {
                    e.is_invalid_parameter_exception()
                        .then_some(ErrorClass::Validation)
                },
            )
            .await?;
        let arn = registered
            .task_definition()
            .and_then(|t| t.task_definition_arn())
            .unwrap_or_default()
            .to_owned();
        read_back(
            self.read_task(aws, &arn).await,
            After::Create,
            "DescribeTaskDefinition",
            format!("task definition {arn} not visible yet"),
        )
    }

    /// Only the tags change in place.
    async fn update(
        &self,
        aws: &Aws,
        id: &str,
        before: &Map<String, Value>,
        after: &Map<String, Value>,
        fields: &[String],
    ) -> Result<Observed, AwsError> {
        if changed(fields, "tags") {
            Tags.retag(aws, id, before, after).await?;
        }
        read_back(
            self.read_task(aws, id).await,
            After::Update,
            "DescribeTaskDefinition",
            format!("task definition {id} disappeared during update"),
        )
    }

    /// Deregisters the revision (AWS keeps it, INACTIVE, for tasks that
    /// still run it).
    async fn delete(
        &self,
        aws: &Aws,
        id: &str,
        _before: &Map<String, Value>,
    ) -> Result<(), AwsError> {
        if self.describe(aws, id).await?.is_none() {
            return Ok(());
        }
        aws.send_delete(
            "DeregisterTaskDefinition",
            || {
                aws.ecs()
                    .deregister_task_definition()
                    .task_definition(id)
                    .send()
            },
            |e| crate::aws::missing(e.is_client_exception()),
        )
        .await
    }
}

/// A container as the provider's `container_definitions` JSON has it.
fn terraform_container(container: &Value) -> Value {
    let Some(c) = container.as_object() else {
        return container.clone();
    };
    let mut out = json!({
        "name": c.get("name"), "image": c.get("image"), "essential": c.get("essential"),
        "cpu": c.get("cpu"),
        "portMappings": c.get("port_mappings").and_then(Value::as_array).into_iter().flatten()
            .map(|p| json!({"containerPort": p.get("container_port"), "hostPort": p.get("container_port"), "protocol": p.get("protocol")}))
            .collect::<Vec<_>>(),
        "environment": c.get("environment").and_then(Value::as_object).into_iter().flatten()
            .map(|(k, v)| json!({"name": k, "value": v})).collect::<Vec<_>>(),
        "secrets": c.get("secrets").and_then(Value::as_object).into_iter().flatten()
            .map(|(k, v)| json!({"name": k, "valueFrom": v})).collect::<Vec<_>>(),
    });
    if let Some(memory) = c.get("memory").filter(|m| !m.is_null()) {
        out["memory"] = memory.clone();
    }
    if let Some(h) = c.get("health_check").filter(|h| !h.is_null()) {
        out["healthCheck"] = json!({
            "command": h.get("command"), "interval": h.get("interval"), "timeout": h.get("timeout"),
            "retries": h.get("retries"), "startPeriod": h.get("start_period"),
        });
    }
    if let Some(l) = c.get("logs").filter(|l| !l.is_null()) {
        out["logConfiguration"] = json!({"logDriver": "awslogs", "options": {
            "awslogs-group": l.get("group"), "awslogs-region": l.get("region"),
            "awslogs-stream-prefix": l.get("stream_prefix"),
        }});
    }
    out
}

/// Terraform's view: `aws_ecs_task_definition` (its containers as the
/// JSON document the provider takes).
fn terraform(a: &Map<String, Value>) -> Vec<crate::types::terraform::Tf> {
    use crate::types::terraform::prelude::*;
    let containers = match a.get("container_definitions") {
        Some(Value::Array(items)) => json_string(&Value::Array(
            items.iter().map(terraform_container).collect(),
        )),
        other => json_string(other.unwrap_or(&Value::Null)),
    };
    let arn = v(a, "arn");
    let without_revision = match arn.as_str() {
        Some(arn) => json!(arn.rsplit_once(':').map_or(arn, |(base, _)| base)),
        None => arn.clone(),
    };
    vec![tf(
        "aws_ecs_task_definition",
        tagged(
            a,
            json!({
                "arn": arn, "arn_without_revision": without_revision, "id": v(a, "family"),
                "revision": v(a, "revision"), "family": v(a, "family"),
                "cpu": a.get("cpu").map(|c| json!(c.to_string())),
                "memory": a.get("memory").map(|m| json!(m.to_string())),
                "network_mode": v(a, "network_mode"), "requires_compatibilities": ["FARGATE"],
                "execution_role_arn": opt(a, "execution_role_arn"),
                "task_role_arn": opt(a, "task_role_arn"),
                "container_definitions": containers,
            }),
        ),
    )]
}

pub static SPEC: Spec = Spec {
    schema: &ECS_TASK_DEFINITION,
    planned_id: crate::types::assigned,
    id_from_arn: |arn| arn.contains(":task-definition/").then(|| arn.to_owned()),
    arn_example: (
        "arn:aws:ecs:us-east-1:1:task-definition/api:3",
        Some("arn:aws:ecs:us-east-1:1:task-definition/api:3"),
    ),
    bulk_tagged: false,
    // The new revision first: the services move to it, then the old goes.
    create_before_destroy: true,
    // Revisions of one family live side by side.
    identity: None,
    update_note: revision_note,
    terraform: crate::types::terraform::Mapping {
        types: &["aws_ecs_task_definition"],
        map: terraform,
        import: |a| crate::types::terraform::attribute(a, "arn"),
        parts: Parts::NONE,
    },
};

pub static TYPE: ResourceType = ResourceType {
    spec: &SPEC,
    provider: &TaskDefinition,
    unmanaged: Unmanaged::TaggingApi,
};
