//! An API Gateway REST API (regional): routes with Lambda proxy
//! integrations, each with or without an API key, and one stage with
//! method throttling and JSON access logs. Route changes are deployed to
//! the stage in the same step.

use super::{errors, patch, Tags};
use crate::aws::{changed, present, string_map, text, Aws, AwsError};
use crate::model::{ErrorClass, Observed, TAG_ADDRESS, TAG_ENVIRONMENT, TAG_STACK};
use crate::schema::{no_expansion, Fallback as F, Field, Kind as K, Naming, Problem, Schema, TAGS};
use crate::spec::terraform::Parts;
use crate::spec::{Identity, Spec};
use crate::types::Tagging;
use crate::types::{observation, read_back, After, Resource, ResourceType, Unmanaged};
use aws_sdk_apigateway::types::{EndpointConfiguration, EndpointType, IntegrationType, Op};
use futures::future::BoxFuture;
use serde_json::{json, Map, Value};

const ROUTE: &[Field] = &[
    Field::new("method", K::Str).required().one_of(
        &[
            "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY",
        ],
        "a method",
    ),
    Field::new("path", K::Str).required().check(route_path),
    // The function's `invoke_arn`.
    Field::new("function_invoke_arn", K::Str).required(),
    Field::new("api_key_required", K::Bool).or(F::Bool(false)),
];

/// The access log line: JSON, one request per line.
const ACCESS_LOG_FORMAT: &str = r#"{"requestId":"$context.requestId","ip":"$context.identity.sourceIp","requestTime":"$context.requestTime","httpMethod":"$context.httpMethod","resourcePath":"$context.resourcePath","status":"$context.status","responseLength":"$context.responseLength","apiKeyId":"$context.identity.apiKeyId"}"#;

const STAGE: &[Field] = &[
    Field::new("name", K::Str)
        .or(F::Str("api"))
        .check(stage_name),
    // Absent: the account's throttling (no method settings on the stage).
    Field::new("throttle_burst_limit", K::Int),
    Field::new("throttle_rate_limit", K::Float),
    // Empty: no access logs.
    Field::new("access_log_destination_arn", K::Str).or(F::Str("")),
    Field::new("access_log_format", K::Str).or(F::Str(ACCESS_LOG_FORMAT)),
];

pub static REST_API: Schema = Schema {
    type_name: "rest_api",
    description:
        "API Gateway REST API (regional) with Lambda proxy routes, API keys and a throttled stage",
    fields: &[
        Field::new("name", K::Str).required().force_new(),
        Field::new("description", K::Str).or(F::Str("")),
        Field::new("routes", K::ObjectSet(ROUTE)).or(F::EmptyList),
        Field::new("stage", K::Object(STAGE)).required(),
        TAGS,
    ],
    outputs: &["id", "arn", "execution_arn", "invoke_url", "stage_arn"],
    taggable: true,
    naming: Naming::Dashed,
    stateful: false,
    expand: no_expansion,
    validate: validate_api,
};

fn route_path(value: &Value) -> Result<(), String> {
    let path = value.as_str().ok_or("expected a string")?;
    let valid = path.starts_with('/')
        && (path == "/" || !path.ends_with('/'))
        && !path.contains("//")
        && path
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/-_.{}+".contains(c));
    if valid {
        Ok(())
    } else {
        Err(format!(
            "a route path starts with /, has no empty or trailing part, and uses letters, digits, -_. and {{parameters}} (`{path}`)"
        ))
    }
}

fn stage_name(value: &Value) -> Result<(), String> {
    let name = value.as_str().ok_or("expected a string")?;
    if !name.is_empty()
        && name.len() <= 128
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        Ok(())
    } else {
        Err(format!(
            "a stage name is 1 to 128 letters, digits, _ and - (`{name}`)"
        ))
    }
}

fn validate_api(properties: &Map<String, Value>) -> Vec<Problem> {
    let mut problems = Vec::new();
    if let Some(routes) = properties.get("routes").and_then(Value::as_array) {
        let mut seen = std::collections::BTreeSet::new();
        for (i, route) in routes.iter().enumerate() {
            let key = (text_of(route, "method"), text_of(route, "path"));
            if !seen.insert(key.clone()) {
                problems.push(Problem::new(
                    format!("routes.{i}"),
                    format!("a second `{} {}` route", key.0, key.1),
                ));
            }
        }
    }
    if let Some(stage) = properties.get("stage").and_then(Value::as_object) {
        let rate = stage.get("throttle_rate_limit").and_then(Value::as_f64);
        let burst = stage.get("throttle_burst_limit").and_then(Value::as_i64);
        if rate.is_some_and(|r| r < 0.0) {
            problems.push(Problem::new(
                "stage.throttle_rate_limit",
                "a rate limit is not negative",
            ));
        }
        if burst.is_some_and(|b| b < -1) {
            problems.push(Problem::new(
                "stage.throttle_burst_limit",
                "a burst limit is -1 (none) or more",
            ));
        }
    }
    problems
}

fn text_of(value: &Value, key: &str) -> String {
    value[key].as_str().unwrap_or_default().to_owned()
}

fn stage_of(desired: &Map<String, Value>) -> Map<String, Value> {
    desired
        .get("stage")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default()
}

/// The stage's throttling and access logs, as the `stage` attribute holds
/// them (empty without a stage).
async fn read_stage(
    aws: &Aws,
    id: &str,
    name: Option<&str>,
) -> Result<Map<String, Value>, AwsError> {
    let mut stage = Map::new();
    let Some(name) = name else {
        return Ok(stage);
    };
    let found = aws
        .send(
            "GetStage",
            || {
                aws.restapi()
                    .get_stage()
                    .rest_api_id(id)
                    .stage_name(name)
                    .send()
            },
            errors,
        )
        .await?;
    let all = found.method_settings().and_then(|m| m.get("*/*"));
    stage.insert("name".into(), json!(name));
    stage.insert(
        "throttle_burst_limit".into(),
        all.map_or(Value::Null, |s| json!(s.throttling_burst_limit())),
    );
    stage.insert(
        "throttle_rate_limit".into(),
        all.map_or(Value::Null, |s| json!(s.throttling_rate_limit())),
    );
    let logs = found.access_log_settings();
    stage.insert(
        "access_log_destination_arn".into(),
        json!(logs.and_then(|l| l.destination_arn()).unwrap_or_default()),
    );
    stage.insert(
        "access_log_format".into(),
        json!(logs.and_then(|l| l.format()).unwrap_or(ACCESS_LOG_FORMAT)),
    );
    Ok(stage)
}

pub struct RestApi;

impl RestApi {
    async fn read_api(&self, aws: &Aws, id: &str) -> Result<Option<Observed>, AwsError> {
        let found = aws
            .send(
                "GetRestApi",
                || aws.restapi().get_rest_api().rest_api_id(id).send(),
                errors,
            )
            .await;
        let Some(api) = present(found)? else {
            return Ok(None);
        };
        // Routes: each method of each resource, with its integration.
        let resources = aws
            .send(
                "GetResources",
                || {
                    aws.restapi()
                        .get_resources()
                        .rest_api_id(id)
                        .limit(500)
                        .send()
                },
                errors,
            )
            .await?;
        let mut routes = Vec::new();
        for resource in resources.items() {
            let (Some(resource_id), Some(path)) = (resource.id(), resource.path()) else {
                continue;
            };
            let mut methods: Vec<&String> = resource
                .resource_methods()
                .map(|m| m.keys().collect())
                .unwrap_or_default();
            methods.sort();
            for method in methods {
                let read = aws
                    .send(
                        "GetMethod",
                        || {
                            aws.restapi()
                                .get_method()
                                .rest_api_id(id)
                                .resource_id(resource_id)
                                .http_method(method)
                                .send()
                        },
                        errors,
                    )
                    .await?;
                routes.push(json!({
                    "method": method,
                    "path": path,
                    "function_invoke_arn": read.method_integration().and_then(|i| i.uri()).unwrap_or_default(),
                    "api_key_required": read.api_key_required().unwrap_or(false),
                }));
            }
        }
        let stage_name = stage_name_of(aws, id).await?;
        let stage = read_stage(aws, id, stage_name.as_deref()).await?;
        let mut attributes = Map::new();
        attributes.insert("name".into(), json!(api.name()));
        attributes.insert(
            "description".into(),
            json!(api.description().unwrap_or_default()),
        );
        attributes.insert(
            "routes".into(),
            crate::schema::normalize(K::ObjectSet(ROUTE), &Value::Array(routes)),
        );
        attributes.insert("stage".into(), Value::Object(stage));
        attributes.insert(
            "tags".into(),
            Value::Object(
                api.tags()
                    .map(|t| t.iter().map(|(k, v)| (k.clone(), json!(v))).collect())
                    .unwrap_or_default(),
            ),
        );
        let partition = aws.partition().to_owned();
        let region = aws.region.clone();
        let stage = stage_name.unwrap_or_default();
        let account = aws.account();
        Ok(Some(observation(
            id,
            attributes,
            [
                ("id", json!(id)),
                ("arn", json!(super::arn(aws, "restapis", id))),
                (
                    "execution_arn",
                    json!(format!(
                        "arn:{partition}:execute-api:{region}:{account}:{id}"
                    )),
                ),
                (
                    "invoke_url",
                    json!(format!(
                        "https://{id}.execute-api.{region}.amazonaws.com/{stage}"
                    )),
                ),
                (
                    "stage_arn",
                    json!(format!(
                        "arn:{partition}:apigateway:{region}::/restapis/{id}/stages/{stage}"
                    )),
                ),
            ],
        )))
    }

    async fn read_back(&self, aws: &Aws, id: &str) -> Result<Observed, AwsError> {
        read_back(
            self.read_api(aws, id).await,
            After::Create,
            "GetRestApi",
            format!("REST API {id} not visible yet"),
        )
    }

    /// The id of the resource at `path`, made part by part where missing.
    async fn resource_at(&self, aws: &Aws, id: &str, path: &str) -> Result<String, AwsError> {
        let listed = aws
            .send(
                "GetResources",
                || {
                    aws.restapi()
                        .get_resources()
                        .rest_api_id(id)
                        .limit(500)
                        .send()
                },
                errors,
            )
            .await?;
        let mut known: std::collections::BTreeMap<String, String> = listed
            .items()
            .iter()
            .filter_map(|r| Some((r.path()?.to_owned(), r.id()?.to_owned())))
            .collect();
        let mut current = "/".to_owned();
        for part in path.split('/').filter(|p| !p.is_empty()) {
            let parent = known.get(&current).cloned().unwrap_or_default();
            let next = if current == "/" {
                format!("/{part}")
            } else {
                format!("{current}/{part}")
            };
            if !known.contains_key(&next) {
                let made = aws
                    .send(
                        "CreateResource",
                        || {
                            aws.restapi()
                                .create_resource()
                                .rest_api_id(id)
                                .parent_id(&parent)
                                .path_part(part)
                                .send()
                        },
                        errors,
                    )
                    .await?;
                known.insert(next.clone(), made.id().unwrap_or_default().to_owned());
            }
            current = next;
        }
        Ok(known.get(&current).cloned().unwrap_or_default())
    }

    /// Brings routes to `desired`'s: gone ones deleted, new ones put (a
    /// changed route is one of each), then a deployment to the stage.
    async fn converge_routes(
        &self,
        aws: &Aws,
        id: &str,
        observed: &Map<String, Value>,
        desired: &Map<String, Value>,
    ) -> Result<(), AwsError> {
        let have = observed.get("routes").cloned().unwrap_or(json!([]));
        let want = crate::schema::normalize(
            K::ObjectSet(ROUTE),
            desired.get("routes").unwrap_or(&json!([])),
        );
        let (have, want) = (
            have.as_array().cloned().unwrap_or_default(),
            want.as_array().cloned().unwrap_or_default(),
        );
        for old in have.iter().filter(|r| !want.contains(r)) {
            let resource = self.resource_at(aws, id, &text_of(old, "path")).await?;
            aws.send_delete(
                "DeleteMethod",
                || {
                    aws.restapi()
                        .delete_method()
                        .rest_api_id(id)
                        .resource_id(&resource)
                        .http_method(text_of(old, "method"))
                        .send()
                },
                errors,
            )
            .await?;
        }
        for new in want.iter().filter(|r| !have.contains(r)) {
            let resource = self.resource_at(aws, id, &text_of(new, "path")).await?;
            let method = text_of(new, "method");
            let put = aws
                .send(
                    "PutMethod",
                    || {
                        aws.restapi()
                            .put_method()
                            .rest_api_id(id)
                            .resource_id(&resource)
                            .http_method(&method)
                            .authorization_type("NONE")
                            .api_key_required(new["api_key_required"] == json!(true))
                            .send()
                    },
                    errors,
                )
                .await;
            match put {
                Err(e) if e.class == ErrorClass::AlreadyExists => {}
                other => {
                    other?;
                }
            }
            aws.send(
                "PutIntegration",
                || {
                    aws.restapi()
                        .put_integration()
                        .rest_api_id(id)
                        .resource_id(&resource)
                        .http_method(&method)
                        .r#type(IntegrationType::AwsProxy)
                        .integration_http_method("POST")
                        .uri(text_of(new, "function_invoke_arn"))
                        .send()
                },
                errors,
            )
            .await?;
        }
        Ok(())
    }

    /// A deployment of the current routes to the stage (which it creates
    /// the first time), then the stage's settings.
    async fn deploy(
        &self,
        aws: &Aws,
        id: &str,
        stage: &Map<String, Value>,
        current: Option<&Map<String, Value>>,
    ) -> Result<(), AwsError> {
        let name = text(stage, "name");
        aws.send(
            "CreateDeployment",
            || {
                aws.restapi()
                    .create_deployment()
                    .rest_api_id(id)
                    .stage_name(name)
                    .send()
            },
            errors,
        )
        .await?;
        let differs = |key: &str| current.is_none_or(|c| c.get(key) != stage.get(key));
        let mut patches = Vec::new();
        if differs("throttle_burst_limit") || differs("throttle_rate_limit") {
            if let Some(burst) = stage.get("throttle_burst_limit").and_then(Value::as_i64) {
                patches.push(patch(
                    Op::Replace,
                    "/*/*/throttling/burstLimit",
                    Some(burst.to_string()),
                ));
            }
            if let Some(rate) = stage.get("throttle_rate_limit").and_then(Value::as_f64) {
                patches.push(patch(
                    Op::Replace,
                    "/*/*/throttling/rateLimit",
                    Some(rate.to_string()),
                ));
            }
        }
        let destination = text(stage, "access_log_destination_arn");
        if differs("access_log_destination_arn") || differs("access_log_format") {
            if destination.is_empty() {
                if current.is_some_and(|c| !text(c, "access_log_destination_arn").is_empty()) {
                    patches.push(patch(Op::Remove, "/accessLogSettings", None));
                }
            } else {
                patches.push(patch(
                    Op::Replace,
                    "/accessLogSettings/destinationArn",
                    Some(destination.to_owned()),
                ));
                patches.push(patch(
                    Op::Replace,
                    "/accessLogSettings/format",
                    Some(text(stage, "access_log_format").to_owned()),
                ));
            }
        }
        if !patches.is_empty() {
            aws.send(
                "UpdateStage",
                || {
                    aws.restapi()
                        .update_stage()
                        .rest_api_id(id)
                        .stage_name(name)
                        .set_patch_operations(Some(patches.clone()))
                        .send()
                },
                errors,
            )
            .await?;
        }
        Ok(())
    }
}

/// The API's one stage, if it has one.
async fn stage_name_of(aws: &Aws, id: &str) -> Result<Option<String>, AwsError> {
    let stages = aws
        .send(
            "GetStages",
            || aws.restapi().get_stages().rest_api_id(id).send(),
            errors,
        )
        .await?;
    Ok(stages
        .item()
        .first()
        .and_then(|s| s.stage_name())
        .map(str::to_owned))
}

impl Resource for RestApi {
    async fn read(&self, aws: &Aws, id: &str) -> Result<Option<Observed>, AwsError> {
        self.read_api(aws, id).await
    }

    /// By its ownership tags, which CreateRestApi sets.
    async fn find(
        &self,
        aws: &Aws,
        desired: &Map<String, Value>,
    ) -> Result<Option<Observed>, AwsError> {
        let wanted = string_map(desired, "tags");
        let listed = aws
            .send(
                "GetRestApis",
                || aws.restapi().get_rest_apis().limit(500).send(),
                errors,
            )
            .await?;
        let found = listed.items().iter().find(|api| {
            let tags = api.tags();
            [TAG_STACK, TAG_ENVIRONMENT, TAG_ADDRESS]
                .iter()
                .all(|k| tags.and_then(|t| t.get(*k)) == wanted.get(*k))
        });
        match found.and_then(|api| api.id()) {
            Some(id) => self.read_api(aws, id).await,
            None => Ok(None),
        }
    }

    /// CreateRestApi makes a new API each time: sent once (a lost answer
    /// is found by the tags it carries).
    async fn create(&self, aws: &Aws, desired: &Map<String, Value>) -> Result<Observed, AwsError> {
        let created = aws
            .send_create(
                "CreateRestApi",
                || {
                    aws.restapi()
                        .create_rest_api()
                        .name(text(desired, "name"))
                        .description(text(desired, "description"))
                        .endpoint_configuration(
                            EndpointConfiguration::builder()
                                .types(EndpointType::Regional)
                                .build(),
                        )
                        .set_tags(Some(string_map(desired, "tags").into_iter().collect()))
                        .send()
                },
                errors,
            )
            .await?;
        let id = created.id().unwrap_or_default().to_owned();
        let observed = self.read_back(aws, &id).await?;
        self.converge_routes(aws, &id, &observed.attributes, desired)
            .await?;
        self.deploy(aws, &id, &stage_of(desired), None).await?;
        self.read_back(aws, &id).await
    }

    async fn update(
        &self,
        aws: &Aws,
        id: &str,
        before: &Map<String, Value>,
        after: &Map<String, Value>,
        fields: &[String],
    ) -> Result<Observed, AwsError> {
        let current = self.read_back(aws, id).await?;
        if changed(fields, "description") {
            aws.send(
                "UpdateRestApi",
                || {
                    aws.restapi()
                        .update_rest_api()
                        .rest_api_id(id)
                        .patch_operations(patch(
                            Op::Replace,
                            "/description",
                            Some(text(after, "description").to_owned()),
                        ))
                        .send()
                },
                errors,
            )
            .await?;
        }
        if changed(fields, "routes") {
            self.converge_routes(aws, id, &current.attributes, after)
                .await?;
        }
        if changed(fields, "routes") || changed(fields, "stage") {
            let old = stage_of(&current.attributes);
            let new = stage_of(after);
            if !old.is_empty() && text(&old, "name") != text(&new, "name") {
                aws.send_delete(
                    "DeleteStage",
                    || {
                        aws.restapi()
                            .delete_stage()
                            .rest_api_id(id)
                            .stage_name(text(&old, "name"))
                            .send()
                    },
                    errors,
                )
                .await?;
                self.deploy(aws, id, &new, None).await?;
            } else {
                self.deploy(aws, id, &new, Some(&old)).await?;
            }
        }
        if changed(fields, "tags") {
            let arn = current.outputs["arn"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            Tags.retag(aws, &arn, before, after).await?;
        }
        self.read_back(aws, id).await
    }

    async fn delete(
        &self,
        aws: &Aws,
        id: &str,
        _before: &Map<String, Value>,
    ) -> Result<(), AwsError> {
        aws.send_delete(
            "DeleteRestApi",
            || aws.restapi().delete_rest_api().rest_api_id(id).send(),
            errors,
        )
        .await
    }
}

fn list_apis<'a>(
    aws: &'a Aws,
    _prefix: &'a str,
) -> BoxFuture<'a, Result<crate::types::Listed, AwsError>> {
    Box::pin(async move {
        let listed = aws
            .send(
                "GetRestApis",
                || aws.restapi().get_rest_apis().limit(500).send(),
                errors,
            )
            .await?;
        Ok(super::listed(
            aws,
            "restapis",
            listed.items().iter().map(|api| (api.id(), api.tags())),
        ))
    })
}

/// Terraform's view: `aws_api_gateway_rest_api`, `aws_api_gateway_resource`, `aws_api_gateway_method`, `aws_api_gateway_integration`, `aws_api_gateway_deployment`, `aws_api_gateway_stage`, `aws_api_gateway_method_settings`.
fn terraform(a: &Map<String, Value>) -> Vec<crate::types::terraform::Tf> {
    use crate::types::terraform::prelude::*;
    let id = v(a, "id");
    let stage = v(a, "stage");
    let field = |k: &str| stage.get(k).cloned().unwrap_or(Value::Null);
    let routes = a
        .get("routes")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut out = vec![tf(
        "aws_api_gateway_rest_api",
        tagged(
            a,
            json!({
                "id": id, "arn": v(a, "arn"), "execution_arn": v(a, "execution_arn"),
                "name": v(a, "name"), "description": opt(a, "description"),
                "endpoint_configuration": block(json!({"types": ["REGIONAL"]})),
            }),
        ),
    )];
    let mut paths = std::collections::BTreeSet::new();
    for route in &routes {
        let path = route["path"].as_str().unwrap_or_default();
        let mut prefix = String::new();
        for part in path.split('/').filter(|p| !p.is_empty()) {
            prefix = format!("{prefix}/{part}");
            paths.insert((prefix.clone(), part.to_owned()));
        }
    }
    for (path, part) in paths {
        out.push(each(
            "aws_api_gateway_resource",
            path.clone(),
            json!({
                "rest_api_id": id, "path": path, "path_part": part,
            }),
        ));
    }
    for route in &routes {
        let key = format!(
            "{} {}",
            route["method"].as_str().unwrap_or_default(),
            route["path"].as_str().unwrap_or_default()
        );
        out.push(each(
            "aws_api_gateway_method",
            key.clone(),
            json!({
                "rest_api_id": id, "http_method": route["method"], "authorization": "NONE",
                "api_key_required": route["api_key_required"],
            }),
        ));
        out.push(each(
            "aws_api_gateway_integration",
            key,
            json!({
                "rest_api_id": id, "http_method": route["method"], "type": "AWS_PROXY",
                "integration_http_method": "POST", "uri": route["function_invoke_arn"],
            }),
        ));
    }
    out.push(tf("aws_api_gateway_deployment", json!({"rest_api_id": id})));
    let log = field("access_log_destination_arn");
    out.push(tf("aws_api_gateway_stage", tagged(a, json!({
        "rest_api_id": id, "stage_name": field("name"), "arn": v(a, "stage_arn"),
        "invoke_url": v(a, "invoke_url"), "xray_tracing_enabled": false, "cache_cluster_enabled": false,
        "access_log_settings": block_if(log.as_str().is_none_or(|l| !l.is_empty()), json!({
            "destination_arn": log, "format": field("access_log_format"),
        })),
    }))));
    let (burst, rate) = (field("throttle_burst_limit"), field("throttle_rate_limit"));
    if !burst.is_null() || !rate.is_null() {
        out.push(tf(
            "aws_api_gateway_method_settings",
            json!({
                "rest_api_id": id, "stage_name": field("name"), "method_path": "*/*",
                "settings": block(json!({
                    "throttling_burst_limit": burst, "throttling_rate_limit": rate,
                    "metrics_enabled": false, "logging_level": "OFF", "caching_enabled": false,
                })),
            }),
        ));
    }
    out
}

/// cairn's REST APIs are regional, without a resource policy.
fn import_rest_api(a: &Map<String, Value>) -> Result<String, String> {
    let types = a
        .get("endpoint_configuration")
        .and_then(|c| c.get(0))
        .and_then(|c| c.get("types"))
        .cloned()
        .unwrap_or(Value::Null);
    if types != json!(["REGIONAL"]) {
        return Err(format!(
            "its endpoint is {types}; cairn makes REGIONAL REST APIs only"
        ));
    }
    if !crate::types::terraform::attribute(a, "policy")
        .unwrap_or_default()
        .is_empty()
    {
        return Err("it has a resource policy, which cairn does not describe yet".into());
    }
    crate::types::terraform::attribute(a, "id")
}

pub static SPEC: Spec = Spec {
    schema: &REST_API,
    planned_id: crate::types::assigned,
    id_from_arn: |arn| {
        let id = crate::types::after(arn, "/restapis/")?;
        Some(id.split('/').next().unwrap_or_default().to_owned())
    },
    arn_example: (
        "arn:aws:apigateway:us-east-1::/restapis/a1b2/stages/api",
        Some("a1b2"),
    ),
    bulk_tagged: false,
    // The tagging API does not list REST APIs on moto: listed.
    create_before_destroy: true,
    identity: Some(Identity::NAME),
    update_note: crate::spec::no_note,
    terraform: crate::types::terraform::Mapping {
        types: &[
            "aws_api_gateway_rest_api",
            "aws_api_gateway_resource",
            "aws_api_gateway_method",
            "aws_api_gateway_integration",
            "aws_api_gateway_deployment",
            "aws_api_gateway_stage",
            "aws_api_gateway_method_settings",
        ],
        map: terraform,
        import: import_rest_api,
        parts: Parts {
            outputs: &[
                ("stage_arn", "aws_api_gateway_stage", "arn"),
                ("invoke_url", "aws_api_gateway_stage", "invoke_url"),
            ],
            ..Parts::NONE
        },
    },
};

pub static TYPE: ResourceType = ResourceType {
    spec: &SPEC,
    provider: &RestApi,
    unmanaged: Unmanaged::Listed(list_apis),
};
