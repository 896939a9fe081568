//! A Lambda function running a native binary, its code built and zipped by cairn.

use super::conflict_or_throttle;
use crate::aws::{changed, int, missing, present, string_map, text, Aws, AwsError};
use crate::model::ErrorClass;
use crate::model::Observed;
use crate::package;
use crate::schema::checks as c;
use crate::schema::{Fallback as F, Field, Kind as K, Naming, Problem, Schema, TAGS};
use crate::spec::terraform::Parts;
use crate::spec::{Identity, Spec};
use crate::types::observation;
use crate::types::{read_back, After, Resource, ResourceType, Tagging, Unmanaged};
use aws_sdk_lambda::types::{
    Architecture, DeadLetterConfig, Environment, FunctionCode, LastUpdateStatus, Runtime, State,
    TracingConfig, TracingMode, VpcConfig,
};
use aws_smithy_types::Blob;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// Subnets and security groups; both empty: not in a VPC.
const VPC_CONFIG: &[Field] = &[
    Field::new("subnet_ids", K::StrSet).or(F::EmptyList),
    Field::new("security_group_ids", K::StrSet).or(F::EmptyList),
];

const CODE: &[Field] = &[
    Field::new("cargo", K::Str),
    Field::new("zip", K::Str),
    Field::new("binary", K::Str),
];

pub static LAMBDA_FUNCTION: Schema = Schema {
    type_name: "lambda_function",
    description: "Lambda function running a native binary (provided.al2023), its code built and zipped by cairn",
    fields: &[
        Field::new("name", K::Str).required().force_new().check(function_name),
        Field::new("description", K::Str).or(F::Str("")),
        Field::new("role_arn", K::Str).required().check(c::arn),
        Field::new("runtime", K::Str)
            .or(F::Str("provided.al2023"))
            .check(lambda_runtime)
            .set_check(new_lambda_runtime),
        Field::new("handler", K::Str).or(F::Str("bootstrap")),
        Field::new("architecture", K::Str).or(F::Str("x86_64")).one_of(&["x86_64", "arm64"], "architecture"),
        Field::new("memory_size", K::Int).or(F::Int(128)).check(memory_size),
        Field::new("timeout", K::Int).or(F::Int(3)).check(function_timeout),
        Field::new("environment", K::StrMap).or(F::EmptyMap),
        Field::new("reserved_concurrency", K::Int).or(F::Int(-1)).check(c::reserved_concurrency),
        // Where an asynchronous invocation goes after its retries fail: an
        // SQS queue or an SNS topic; "" for nowhere.
        Field::new("dead_letter_target_arn", K::Str)
            .or(F::Str(""))
            .check(dead_letter_target),
        // The key that encrypts the environment at rest; "" for Lambda's own.
        Field::new("kms_key_arn", K::Str)
            .or(F::Str(""))
            .check(c::arn_or_empty),
        // X-Ray: `Active` traces requests, `PassThrough` only passes on an
        // upstream decision. Absent: AWS's default (PassThrough), neither
        // sent nor compared, as the provider leaves it (Optional+Computed):
        // a plan then cannot claim a choice the stack did not make.
        Field::new("tracing", K::Str).one_of(&["Active", "PassThrough"], "tracing"),
        // Absent: not in a VPC (a function taken out of its VPC is detached).
        Field::new("vpc_config", K::Object(VPC_CONFIG)),
        Field::new("code", K::Object(CODE))
            .required()
            .local()
            .built(),
        // Set by cairn from the built package, never by the stack.
        Field::new("code_sha256", K::Str),
        Field::new("code_zip", K::Str).local(),
        TAGS,
    ],
    outputs: &["arn", "invoke_arn"],
    taggable: true,
    naming: Naming::Dashed,
    stateful: false,
    expand: outside_a_vpc_by_default,
    validate: validate_function,
};

fn function_name(value: &Value) -> Result<(), String> {
    crate::types::checks::name(
        value,
        (1, 64),
        "a Lambda function name",
        "-_",
        "letters, digits, - and _",
    )
}

/// Lambda's runtimes that take new functions: the OS-only ones for cairn's
/// native builds, and the managed ones for a prebuilt zip.
/// The runtimes Lambda accepts for a new function (its runtimes page,
/// late 2026).
const LAMBDA_RUNTIMES: &[&str] = &[
    "provided.al2023",
    "provided.al2",
    "python3.9",
    "python3.10",
    "python3.11",
    "python3.12",
    "python3.13",
    "python3.14",
    "nodejs18.x",
    "nodejs20.x",
    "nodejs22.x",
    "nodejs24.x",
    "java8.al2",
    "java11",
    "java17",
    "java21",
    "java25",
    "ruby3.2",
    "ruby3.3",
    "ruby3.4",
    "dotnet8",
    "dotnet10",
];

/// Runtimes Lambda has deprecated: functions on them still run (and real
/// Terraform states hold them), but AWS refuses them for a new function.
const DEPRECATED_LAMBDA_RUNTIMES: &[&str] = &[
    "nodejs",
    "nodejs4.3",
    "nodejs4.3-edge",
    "nodejs6.10",
    "nodejs8.10",
    "nodejs10.x",
    "nodejs12.x",
    "nodejs14.x",
    "nodejs16.x",
    "python2.7",
    "python3.6",
    "python3.7",
    "python3.8",
    "java8",
    "go1.x",
    "ruby2.5",
    "ruby2.7",
    "dotnetcore1.0",
    "dotnetcore2.0",
    "dotnetcore2.1",
    "dotnetcore3.1",
    "dotnet6",
    "dotnet7",
    "provided",
];

/// Any runtime a function may be found on: a deprecated one is refused
/// only when it is set anew (`new_lambda_runtime`).
fn lambda_runtime(value: &Value) -> Result<(), String> {
    if value
        .as_str()
        .is_some_and(|r| DEPRECATED_LAMBDA_RUNTIMES.contains(&r))
    {
        return Ok(());
    }
    c::one_of(value, LAMBDA_RUNTIMES, "Lambda runtime")
}

/// A runtime AWS accepts for a new function, or for a change of runtime.
fn new_lambda_runtime(value: &Value) -> Result<(), String> {
    match value.as_str() {
        Some(runtime) if DEPRECATED_LAMBDA_RUNTIMES.contains(&runtime) => Err(format!(
            "{runtime} is a deprecated Lambda runtime: functions on it still run, but AWS no longer accepts it for a new function or a change of runtime; choose a current one ({})",
            current_runtimes_like(runtime)
        )),
        _ => Ok(()),
    }
}

/// The current runtimes of a deprecated one's language.
fn current_runtimes_like(runtime: &str) -> String {
    let language: String = runtime
        .chars()
        .take_while(char::is_ascii_alphabetic)
        .collect();
    let language = match language.as_str() {
        "go" => "provided".to_owned(),
        "dotnetcore" => "dotnet".to_owned(),
        other => other.to_owned(),
    };
    let same: Vec<&str> = LAMBDA_RUNTIMES
        .iter()
        .copied()
        .filter(|r| r.starts_with(&language))
        .collect();
    if same.is_empty() {
        LAMBDA_RUNTIMES.join(", ")
    } else {
        same.join(", ")
    }
}

fn dead_letter_target(value: &Value) -> Result<(), String> {
    c::arn_or_empty(value)?;
    let arn = c::text(value)?;
    if arn.is_empty() || arn.contains(":sqs:") || arn.contains(":sns:") {
        Ok(())
    } else {
        Err(format!(
            "a function's dead-letter target is an SQS queue or an SNS topic, got `{arn}`"
        ))
    }
}

fn memory_size(value: &Value) -> Result<(), String> {
    c::int_range(value, 128, 10_240, "memory_size (MB)")
}

fn function_timeout(value: &Value) -> Result<(), String> {
    c::int_range(value, 1, 900, "timeout (seconds)")
}

fn outside_a_vpc_by_default(properties: &mut Map<String, Value>) {
    if properties.get("vpc_config").is_none_or(Value::is_null) {
        properties.insert(
            "vpc_config".into(),
            json!({"subnet_ids": [], "security_group_ids": []}),
        );
    }
}

/// The variables Lambda sets itself and refuses in a function's
/// configuration (its documented reserved keys; `TZ` and
/// `AWS_LAMBDA_EXEC_WRAPPER`, say, may be set).
const RESERVED_VARIABLES: &[&str] = &[
    "_HANDLER",
    "_X_AMZN_TRACE_ID",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE",
    "AWS_LAMBDA_LOG_GROUP_NAME",
    "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_ACCESS_KEY",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_LAMBDA_RUNTIME_API",
    "LAMBDA_TASK_ROOT",
    "LAMBDA_RUNTIME_DIR",
];

/// Lambda's limit on the variables, measured as the JSON text of the map.
const ENVIRONMENT_BYTES: usize = 4096;

/// What Lambda refuses in `environment`: names outside
/// `[a-zA-Z][a-zA-Z0-9_]+`, reserved names, and more than 4 KB in all.
/// Checked on the stack's text, so a value taken from a resource still
/// counts with what is known of it.
fn environment_problems(environment: &Map<String, Value>) -> Vec<Problem> {
    let mut problems = Vec::new();
    for key in environment.keys() {
        let path = if key.contains('.') {
            "environment".to_owned()
        } else {
            format!("environment.{key}")
        };
        let valid = key.len() >= 2
            && key.starts_with(|c: char| c.is_ascii_alphabetic())
            && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            problems.push(Problem::new(
                path,
                format!("environment variable name `{key}` must be at least 2 letters, digits and _, starting with a letter"),
            ));
        } else if RESERVED_VARIABLES.contains(&key.as_str()) {
            problems.push(Problem::new(
                path,
                format!("environment variable `{key}` is reserved by Lambda"),
            ));
        }
    }
    let mut pending = false;
    let known: Map<String, Value> = environment
        .iter()
        .map(|(key, value)| {
            let text = match value {
                Value::String(text) => crate::model::expr::parse(text)
                    .map(|parts| {
                        parts
                            .into_iter()
                            .map(|part| match part {
                                crate::model::expr::Part::Literal(literal) => literal,
                                crate::model::expr::Part::Reference(_)
                                | crate::model::expr::Part::Call(_) => {
                                    pending = true;
                                    String::new()
                                }
                            })
                            .collect()
                    })
                    .unwrap_or_else(|_| text.clone()),
                other => other.to_string(),
            };
            (key.clone(), Value::String(text))
        })
        .collect();
    let size = Value::Object(known).to_string().len();
    if size > ENVIRONMENT_BYTES {
        let least = if pending { "at least " } else { "" };
        problems.push(Problem::new(
            "environment",
            format!("Lambda allows {ENVIRONMENT_BYTES} bytes of environment variables (measured as their JSON text), these take {least}{size}"),
        ));
    }
    problems
}

fn validate_function(properties: &Map<String, Value>) -> Vec<Problem> {
    let mut problems = Vec::new();
    if let Some(Value::Object(environment)) = properties.get("environment") {
        problems.extend(environment_problems(environment));
    }
    if let Some(vpc) = properties.get("vpc_config").and_then(Value::as_object) {
        let count = |k: &str| vpc.get(k).and_then(Value::as_array).map_or(0, Vec::len);
        // A whole reference (`${lookup.private.ids}`) is a list known at
        // plan time: not empty here.
        let empty = |k: &str| count(k) == 0 && !vpc.get(k).is_some_and(Value::is_string);
        if empty("subnet_ids") != empty("security_group_ids") {
            problems.push(Problem::new(
                "vpc_config",
                "a function in a VPC needs both `subnet_ids` and `security_group_ids`",
            ));
        }
        if count("security_group_ids") > 5 {
            problems.push(Problem::new(
                "vpc_config.security_group_ids",
                "AWS allows at most 5 security groups on a function",
            ));
        }
        if count("subnet_ids") > 16 {
            problems.push(Problem::new(
                "vpc_config.subnet_ids",
                "AWS allows at most 16 subnets on a function",
            ));
        }
    }
    for computed in ["code_sha256", "code_zip"] {
        if properties.get(computed).is_some_and(|v| !v.is_null()) {
            problems.push(Problem::new(
                computed,
                format!("`{computed}` is computed by cairn from `code`; remove it"),
            ));
        }
    }
    let code = properties.get("code").and_then(Value::as_object);
    let given = |k: &str| code.and_then(|c| c.get(k)).is_some_and(|v| !v.is_null());
    if given("cargo") == given("zip") {
        problems.push(Problem::new(
            "code",
            "give exactly one of `cargo` (a Cargo package directory) and `zip` (a built zip file)",
        ));
    }
    if given("binary") && !given("cargo") {
        problems.push(Problem::new("code.binary", "`binary` goes with `cargo`"));
    }
    let runtime = properties
        .get("runtime")
        .and_then(Value::as_str)
        .unwrap_or("provided.al2023");
    if given("cargo") && !runtime.starts_with("provided.") {
        problems.push(Problem::new(
            "runtime",
            format!("a function cairn builds from `cargo` runs on provided.al2023 or provided.al2, not {runtime} (a {runtime} function comes from a `zip`)"),
        ));
    }
    problems
}

pub struct Function;

/// Reads the zip the plan was made with, and refuses one that changed since.
fn code_bytes(desired: &Map<String, Value>) -> Result<Vec<u8>, AwsError> {
    let path = text(desired, "code_zip");
    let bytes = std::fs::read(path).map_err(|e| {
        AwsError::new(
            ErrorClass::Fatal,
            "UpdateFunctionCode",
            format!("cannot read the package {path}: {e}"),
        )
    })?;
    let planned = text(desired, "code_sha256");
    let found = package::code_sha256(&bytes);
    if found != planned {
        return Err(AwsError::new(ErrorClass::Fatal, "UpdateFunctionCode", format!("{path} changed after the plan was made (sha256 {found}, planned {planned}); run plan again")));
    }
    Ok(bytes)
}

fn architecture(desired: &Map<String, Value>) -> Architecture {
    Architecture::from(text(desired, "architecture"))
}

fn vpc_config(desired: &Map<String, Value>) -> VpcConfig {
    let vpc = desired
        .get("vpc_config")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    VpcConfig::builder()
        .set_subnet_ids(Some(crate::aws::strings(&vpc, "subnet_ids")))
        .set_security_group_ids(Some(crate::aws::strings(&vpc, "security_group_ids")))
        .build()
}

/// The stack's tracing mode; `None` leaves AWS's.
fn tracing(desired: &Map<String, Value>) -> Option<TracingConfig> {
    desired.get("tracing").and_then(Value::as_str).map(|mode| {
        TracingConfig::builder()
            .mode(TracingMode::from(mode))
            .build()
    })
}

/// `None` on a create without a dead-letter target.
fn dead_letter(desired: &Map<String, Value>) -> Option<DeadLetterConfig> {
    let target = text(desired, "dead_letter_target_arn");
    (!target.is_empty()).then(|| DeadLetterConfig::builder().target_arn(target).build())
}

fn kms_key(desired: &Map<String, Value>) -> Option<String> {
    let key = text(desired, "kms_key_arn");
    (!key.is_empty()).then(|| key.to_owned())
}

fn environment(desired: &Map<String, Value>) -> Environment {
    Environment::builder()
        .set_variables(Some(
            string_map(desired, "environment").into_iter().collect(),
        ))
        .build()
}

impl Function {
    async fn get(
        &self,
        aws: &Aws,
        name: &str,
    ) -> Result<Option<aws_sdk_lambda::operation::get_function::GetFunctionOutput>, AwsError> {
        present(
            aws.send(
                "GetFunction",
                || aws.lambda().get_function().function_name(name).send(),
                |e: &aws_sdk_lambda::operation::get_function::GetFunctionError| {
                    missing(e.is_resource_not_found_exception())
                },
            )
            .await,
        )
    }

    async fn read_function(&self, aws: &Aws, name: &str) -> Result<Option<Observed>, AwsError> {
        let Some(output) = self.get(aws, name).await? else {
            return Ok(None);
        };
        let Some(config) = output.configuration() else {
            return Ok(None);
        };
        let arn = config.function_arn().unwrap_or_default().to_owned();
        let mut attributes = Map::new();
        attributes.insert("name".into(), json!(config.function_name().unwrap_or(name)));
        attributes.insert(
            "description".into(),
            json!(config.description().unwrap_or_default()),
        );
        attributes.insert("role_arn".into(), json!(config.role().unwrap_or_default()));
        attributes.insert(
            "runtime".into(),
            json!(config.runtime().map(|r| r.as_str()).unwrap_or_default()),
        );
        attributes.insert(
            "handler".into(),
            json!(config.handler().unwrap_or_default()),
        );
        attributes.insert(
            "architecture".into(),
            json!(config
                .architectures()
                .first()
                .map_or("x86_64", |a| a.as_str())),
        );
        attributes.insert(
            "memory_size".into(),
            json!(config.memory_size().unwrap_or(128)),
        );
        attributes.insert("timeout".into(), json!(config.timeout().unwrap_or(3)));
        attributes.insert(
            "environment".into(),
            Value::Object(
                config
                    .environment()
                    .and_then(|e| e.variables())
                    .map(|v| v.iter().map(|(k, v)| (k.clone(), json!(v))).collect())
                    .unwrap_or_default(),
            ),
        );
        let mut subnets: Vec<String> = config
            .vpc_config()
            .map(|v| v.subnet_ids().to_vec())
            .unwrap_or_default();
        subnets.sort();
        let mut groups: Vec<String> = config
            .vpc_config()
            .map(|v| v.security_group_ids().to_vec())
            .unwrap_or_default();
        groups.sort();
        attributes.insert(
            "vpc_config".into(),
            json!({"subnet_ids": subnets, "security_group_ids": groups}),
        );
        attributes.insert(
            "reserved_concurrency".into(),
            json!(output
                .concurrency()
                .and_then(|c| c.reserved_concurrent_executions())
                .unwrap_or(-1)),
        );
        attributes.insert(
            "dead_letter_target_arn".into(),
            json!(config
                .dead_letter_config()
                .and_then(|d| d.target_arn())
                .unwrap_or_default()),
        );
        attributes.insert(
            "kms_key_arn".into(),
            json!(config.kms_key_arn().unwrap_or_default()),
        );
        attributes.insert(
            "tracing".into(),
            json!(config
                .tracing_config()
                .and_then(|t| t.mode())
                .map_or("PassThrough", |m| m.as_str())),
        );
        attributes.insert(
            "code_sha256".into(),
            json!(config.code_sha256().unwrap_or_default()),
        );
        attributes.insert(
            "tags".into(),
            Value::Object(
                output
                    .tags()
                    .map(|t| t.iter().map(|(k, v)| (k.clone(), json!(v))).collect())
                    .unwrap_or_default(),
            ),
        );
        Ok(Some(observation(
            name,
            attributes,
            [
                ("arn", json!(arn)),
                (
                    "invoke_arn",
                    json!(format!(
                        "arn:{}:apigateway:{}:lambda:path/2015-03-31/functions/{arn}/invocations",
                        arn.split(':').nth(1).unwrap_or("aws"),
                        aws.region
                    )),
                ),
            ],
        )))
    }

    /// AWS refuses the next change while one is in progress: wait for
    /// `State=Active` and `LastUpdateStatus=Successful`, a bounded loop.
    async fn wait_ready(&self, aws: &Aws, name: &str) -> Result<(), AwsError> {
        crate::aws::wait_for("GetFunction", 300, || async {
            let output = read_back(
                self.get(aws, name).await,
                After::Create,
                "GetFunction",
                "function not visible yet",
            )?;
            let config = output
                .configuration()
                .cloned()
                .unwrap_or_else(|| aws_sdk_lambda::types::FunctionConfiguration::builder().build());
            match (config.state(), config.last_update_status()) {
                (Some(State::Failed), _) | (_, Some(LastUpdateStatus::Failed)) => {
                    Err(AwsError::new(
                        ErrorClass::Fatal,
                        "GetFunction",
                        format!(
                            "the function is in a failed state: {}",
                            config
                                .state_reason()
                                .or(config.last_update_status_reason())
                                .unwrap_or("no reason given")
                        ),
                    ))
                }
                (Some(State::Active) | None, Some(LastUpdateStatus::Successful) | None) => {
                    Ok(Some(()))
                }
                _ => Ok(None),
            }
        })
        .await
    }

    async fn set_concurrency(&self, aws: &Aws, name: &str, reserved: i64) -> Result<(), AwsError> {
        if reserved >= 0 {
            aws.send(
                "PutFunctionConcurrency",
                || {
                    aws.lambda()
                        .put_function_concurrency()
                        .function_name(name)
                        .reserved_concurrent_executions(reserved as i32)
                        .send()
                },
                |_| None,
            )
            .await?;
        } else {
            aws.send(
                "DeleteFunctionConcurrency",
                || {
                    aws.lambda()
                        .delete_function_concurrency()
                        .function_name(name)
                        .send()
                },
                |_| None,
            )
            .await?;
        }
        Ok(())
    }
}

impl Tagging for Function {
    async fn tag(
        &self,
        aws: &Aws,
        target: &str,
        set: &BTreeMap<String, String>,
    ) -> Result<(), AwsError> {
        aws.send(
            "TagResource",
            || {
                aws.lambda()
                    .tag_resource()
                    .resource(target)
                    .set_tags(Some(set.clone().into_iter().collect()))
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
                aws.lambda()
                    .untag_resource()
                    .resource(target)
                    .set_tag_keys(Some(remove.to_vec()))
                    .send()
            },
            |_| None,
        )
        .await?;
        Ok(())
    }
}

impl Resource for Function {
    async fn read(&self, aws: &Aws, id: &str) -> Result<Option<Observed>, AwsError> {
        self.read_function(aws, id).await
    }

    async fn create(&self, aws: &Aws, desired: &Map<String, Value>) -> Result<Observed, AwsError> {
        let name = text(desired, "name");
        let code = FunctionCode::builder()
            .zip_file(Blob::new(code_bytes(desired)?))
            .build();
        aws.send(
            "CreateFunction",
            || {
                aws.lambda()
                    .create_function()
                    .function_name(name)
                    .description(text(desired, "description"))
                    .role(text(desired, "role_arn"))
                    .runtime(Runtime::from(text(desired, "runtime")))
                    .handler(text(desired, "handler"))
                    .architectures(architecture(desired))
                    .memory_size(int(desired, "memory_size").unwrap_or(128) as i32)
                    .timeout(int(desired, "timeout").unwrap_or(3) as i32)
                    .environment(environment(desired))
                    .vpc_config(vpc_config(desired))
                    .set_tracing_config(tracing(desired))
                    .set_dead_letter_config(dead_letter(desired))
                    .set_kms_key_arn(kms_key(desired))
                    .code(code.clone())
                    .set_tags(Some(string_map(desired, "tags").into_iter().collect()))
                    .send()
            },
            |e: &aws_sdk_lambda::operation::create_function::CreateFunctionError| {
                // A role created moments ago is not yet assumable by
                // Lambda (IAM propagation); the retry policy gives it
                // about two minutes. cairn has already validated what it
                // sends, so this is where an InvalidParameterValue comes from.
                if e.is_invalid_parameter_value_exception() {
                    Some(ErrorClass::EventualConsistency)
                } else if e.is_resource_conflict_exception() {
                    // On a create: the name is taken.
                    Some(ErrorClass::AlreadyExists)
                } else {
                    conflict_or_throttle(false, e.is_too_many_requests_exception())
                }
            },
        )
        .await?;
        self.wait_ready(aws, name).await?;
        let reserved = int(desired, "reserved_concurrency").unwrap_or(-1);
        if reserved >= 0 {
            self.set_concurrency(aws, name, reserved).await?;
        }
        read_back(
            self.read_function(aws, name).await,
            After::Create,
            "GetFunction",
            "function not visible after create",
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
        if changed(fields, "code_sha256") || changed(fields, "architecture") {
            let bytes = code_bytes(after)?;
            aws.send(
                "UpdateFunctionCode",
                || {
                    aws.lambda()
                        .update_function_code()
                        .function_name(id)
                        .zip_file(Blob::new(bytes.clone()))
                        .architectures(architecture(after))
                        .send()
                },
                |e: &aws_sdk_lambda::operation::update_function_code::UpdateFunctionCodeError| {
                    conflict_or_throttle(
                        e.is_resource_conflict_exception(),
                        e.is_too_many_requests_exception(),
                    )
                },
            )
            .await?;
            self.wait_ready(aws, id).await?;
        }
        let configuration = [
            "description",
            "role_arn",
            "runtime",
            "handler",
            "memory_size",
            "timeout",
            "environment",
            "vpc_config",
            "tracing",
            "dead_letter_target_arn",
            "kms_key_arn",
        ];
        if configuration.iter().any(|f| changed(fields, f)) {
            aws.send(
                "UpdateFunctionConfiguration",
                || {
                    aws.lambda()
                        .update_function_configuration()
                        .function_name(id)
                        .description(text(after, "description"))
                        .role(text(after, "role_arn"))
                        .runtime(Runtime::from(text(after, "runtime")))
                        .handler(text(after, "handler"))
                        .memory_size(int(after, "memory_size").unwrap_or(128) as i32)
                        .timeout(int(after, "timeout").unwrap_or(3) as i32)
                        .environment(environment(after))
                        .set_vpc_config(
                            changed(fields, "vpc_config").then(|| vpc_config(after)),
                        )
                        .set_tracing_config(tracing(after))
                        // An empty target and key remove them.
                        .dead_letter_config(
                            DeadLetterConfig::builder()
                                .target_arn(text(after, "dead_letter_target_arn"))
                                .build(),
                        )
                        .kms_key_arn(text(after, "kms_key_arn"))
                        .send()
                },
                |e: &aws_sdk_lambda::operation::update_function_configuration::UpdateFunctionConfigurationError| {
                    conflict_or_throttle(e.is_resource_conflict_exception(), e.is_too_many_requests_exception())
                },
            )
            .await?;
            self.wait_ready(aws, id).await?;
        }
        if changed(fields, "reserved_concurrency") {
            self.set_concurrency(aws, id, int(after, "reserved_concurrency").unwrap_or(-1))
                .await?;
        }
        if changed(fields, "tags") {
            let arn = self
                .read_function(aws, id)
                .await?
                .map(|o| text(&o.outputs, "arn").to_owned())
                .unwrap_or_default();
            self.retag(aws, &arn, before, after).await?;
        }
        read_back(
            self.read_function(aws, id).await,
            After::Update,
            "GetFunction",
            "function disappeared during update",
        )
    }

    async fn delete(
        &self,
        aws: &Aws,
        id: &str,
        _before: &Map<String, Value>,
    ) -> Result<(), AwsError> {
        aws.send_delete(
            "DeleteFunction",
            || aws.lambda().delete_function().function_name(id).send(),
            |e: &aws_sdk_lambda::operation::delete_function::DeleteFunctionError| {
                if e.is_resource_not_found_exception() {
                    Some(ErrorClass::NotFound)
                } else {
                    conflict_or_throttle(
                        e.is_resource_conflict_exception(),
                        e.is_too_many_requests_exception(),
                    )
                }
            },
        )
        .await
    }
}

/// Terraform's view: `aws_lambda_function`.
fn terraform(a: &Map<String, Value>) -> Vec<crate::types::terraform::Tf> {
    use crate::types::terraform::prelude::*;
    let environment = v(a, "environment");
    let empty = environment.as_object().is_some_and(Map::is_empty);
    let vpc = v(a, "vpc_config");
    let in_vpc = vpc
        .get("subnet_ids")
        .is_some_and(|s| s.as_array().is_none_or(|s| !s.is_empty()));
    vec![tf(
        "aws_lambda_function",
        tagged(
            a,
            json!({
                "arn": v(a, "arn"), "invoke_arn": v(a, "invoke_arn"),
                "function_name": v(a, "name"), "description": opt(a, "description"), "role": v(a, "role_arn"),
                "runtime": v(a, "runtime"), "handler": v(a, "handler"), "package_type": "Zip",
                "architectures": [v(a, "architecture")], "memory_size": v(a, "memory_size"),
                "timeout": v(a, "timeout"),
                "environment": block_if(!empty && !environment.is_null(), json!({"variables": environment})),
                "reserved_concurrent_executions": v(a, "reserved_concurrency"),
                "dead_letter_config": match opt(a, "dead_letter_target_arn") {
                    Value::Null => json!([]),
                    target => block(json!({"target_arn": target})),
                },
                "kms_key_arn": opt(a, "kms_key_arn"),
                "vpc_config": block_if(in_vpc, json!({
                    "subnet_ids": vpc.get("subnet_ids"), "security_group_ids": vpc.get("security_group_ids"),
                })),
                "filename": v(a, "code_zip"), "source_code_hash": v(a, "code_sha256"),
                // Unset: AWS decides, so a create plans it unknown.
                "tracing_config": match v(a, "tracing") {
                    mode @ Value::String(_) => block(json!({"mode": mode})),
                    _ => Value::Null,
                },
            }),
        ),
    )]
}

/// A function from a zip; its code must be put where the stack names it.
fn import_function(a: &Map<String, Value>) -> Result<String, String> {
    if a.get("package_type").and_then(Value::as_str) == Some("Image") {
        return Err("it is a container image function; cairn deploys zips".into());
    }
    crate::types::terraform::none_of(a, "layers", "layers")?;
    crate::types::terraform::none_of(a, "file_system_config", "a file system")?;
    crate::types::terraform::attribute(a, "function_name")
}

pub static SPEC: Spec = Spec {
    schema: &LAMBDA_FUNCTION,
    planned_id: crate::types::by_name,
    id_from_arn: |arn| crate::types::after(arn, ":function:"),
    arn_example: ("arn:aws:lambda:us-east-1:1:function:f", Some("f")),
    bulk_tagged: false,
    create_before_destroy: false,
    identity: Some(Identity::NAME),
    update_note: crate::spec::no_note,
    terraform: crate::types::terraform::Mapping {
        types: &["aws_lambda_function"],
        map: terraform,
        import: import_function,
        parts: Parts {
            taken_over: &[],
            dies_with: &[
                "aws_lambda_function_url",
                "aws_lambda_alias",
                "aws_lambda_function_event_invoke_config",
                "aws_lambda_provisioned_concurrency_config",
            ],
            ..Parts::NONE
        },
    },
};

pub static TYPE: ResourceType = ResourceType {
    spec: &SPEC,
    provider: &Function,
    unmanaged: Unmanaged::TaggingApi,
};
