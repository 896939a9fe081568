//! AWS: SDK configuration, error classification, API call counting, and
//! the helpers the resource types (`crate::types`) share.

pub mod pace;
mod pages;

pub use pages::Pages;

use crate::model::retry::{self, ErrorClass};
use aws_runtime::retries::classifiers;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::{HttpResponse, Metadata};
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use aws_smithy_types::retry::{ErrorKind, ProvideErrorKind};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

/// An AWS failure, classified once from the SDK's typed error.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{operation}: {message}")]
pub struct AwsError {
    pub class: ErrorClass,
    pub operation: &'static str,
    pub message: String,
}

impl AwsError {
    pub fn new(class: ErrorClass, operation: &'static str, message: impl Into<String>) -> AwsError {
        AwsError {
            class,
            operation,
            message: message.into(),
        }
    }
    pub fn is_not_found(&self) -> bool {
        self.class == ErrorClass::NotFound
    }
}

/// Why no connection to AWS could be set up (before any request).
#[derive(Debug, Clone, thiserror::Error)]
pub enum ConnectError {
    #[error("no AWS region is configured: set AWS_REGION, a profile region, `region:` in the stack, or --region")]
    NoRegion,
    #[error("no AWS credentials provider is configured")]
    NoCredentialsProvider,
    #[error("no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, choose a profile with AWS_PROFILE, or run where a role is available ({0})")]
    NoCredentials(String),
}

/// Classifies an SDK error. `specific` recognises the operation's own typed
/// errors (not found, conflict, ...); throttling and transient failures
/// come from the SDK's retry classification of the same typed error.
pub fn classify<E>(
    operation: &'static str,
    error: SdkError<E, HttpResponse>,
    specific: fn(&E) -> Option<ErrorClass>,
) -> AwsError
where
    E: ProvideErrorKind + ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let class = match &error {
        SdkError::ServiceError(context) => {
            let e = context.err();
            // The SDK's own classification: the modeled retry kind, then the
            // error codes its standard retry strategy treats as throttling or
            // transient (for errors the service model leaves unmodeled).
            let code = ProvideErrorMetadata::code(e).unwrap_or_default();
            let status = context.raw().status().as_u16();
            specific(e).unwrap_or_else(|| match e.retryable_error_kind() {
                _ if status == 501 || NOT_IMPLEMENTED_CODES.contains(&code) => {
                    ErrorClass::NotImplemented
                }
                // No route for the request: an emulator's page, with no
                // error code (AWS's own 404s name one).
                _ if status == 404 && code.is_empty() => ErrorClass::NotImplemented,
                Some(ErrorKind::ThrottlingError) => ErrorClass::Throttled,
                Some(ErrorKind::TransientError | ErrorKind::ServerError) => ErrorClass::Transient,
                _ if classifiers::THROTTLING_ERRORS.contains(&code) => ErrorClass::Throttled,
                _ if classifiers::TRANSIENT_ERRORS.contains(&code) => ErrorClass::Transient,
                _ if context.raw().status().is_server_error() => ErrorClass::Transient,
                _ => ErrorClass::Fatal,
            })
        }
        SdkError::DispatchFailure(failure) if never_connected(&error, failure.is_io()) => {
            ErrorClass::Unreachable
        }
        // A timeout, a connection reset, an answer cut off: the request may
        // or may not have taken effect. Retried; creates look before they
        // repeat (see `Aws::send_create` and the engine's recovery).
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            ErrorClass::Transient
        }
        _ => ErrorClass::Fatal,
    };
    let message = match &error {
        SdkError::DispatchFailure(_) if class == ErrorClass::Unreachable => format!("cannot reach the AWS endpoint ({}); check --endpoint-url / AWS_ENDPOINT_URL and the network", DisplayErrorContext(&error)),
        SdkError::DispatchFailure(_) | SdkError::ResponseError(_) | SdkError::TimeoutError(_) => format!("no complete answer from AWS ({})", DisplayErrorContext(&error)),
        SdkError::ServiceError(context) => match (ProvideErrorMetadata::code(context.err()), ProvideErrorMetadata::message(context.err())) {
            (Some(code), Some(message)) => format!("{code}: {message}"),
            (Some(code), None) => code.to_owned(),
            // No error code at all: an emulator's HTML error page, say.
            _ => format!(
                "HTTP {} with no AWS error in the answer (an operation the endpoint does not implement?)",
                context.raw().status().as_u16()
            ),
        },
        _ => DisplayErrorContext(&error).to_string(),
    };
    AwsError::new(class, operation, message)
}

/// Error codes by which AWS services say an operation is not implemented.
const NOT_IMPLEMENTED_CODES: &[&str] = &["NotImplemented", "NotImplementedException"];

/// True when the failure happened before any byte reached the endpoint:
/// the connection was refused, the host or network is unreachable, or the
/// name does not resolve. Decided from the typed I/O errors in the chain.
fn never_connected(error: &(dyn std::error::Error + 'static), is_io: bool) -> bool {
    use std::io::ErrorKind as Io;
    if !is_io {
        return false;
    }
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(current) = source {
        if let Some(io) = current.downcast_ref::<std::io::Error>() {
            if matches!(
                io.kind(),
                Io::ConnectionRefused
                    | Io::HostUnreachable
                    | Io::NetworkUnreachable
                    | Io::AddrNotAvailable
            ) {
                return true;
            }
        }
        source = current.source();
    }
    false
}

/// For `specific`: this typed error means the resource does not exist.
pub fn missing(is: bool) -> Option<ErrorClass> {
    is.then_some(ErrorClass::NotFound)
}

/// A read's answer, or `None` when AWS says what it asked for does not
/// exist.
pub fn present<T>(result: Result<T, AwsError>) -> Result<Option<T>, AwsError> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

/// Treats "not found" as success, for deletes.
pub fn ignore_missing<T>(result: Result<T, AwsError>) -> Result<(), AwsError> {
    match result {
        Err(e) if !e.is_not_found() => Err(e),
        _ => Ok(()),
    }
}

/// API calls made, by resource address and operation.
#[derive(Default, Debug)]
pub struct Counter {
    counts: Mutex<BTreeMap<(String, String), u64>>,
}

tokio::task_local! {
    /// The resource address an SDK call is made for.
    pub static CURRENT_ADDRESS: String;
}

impl Counter {
    pub fn snapshot(&self) -> BTreeMap<(String, String), u64> {
        self.counts.lock().expect("counter lock").clone()
    }
    pub fn total(&self) -> u64 {
        self.counts.lock().expect("counter lock").values().sum()
    }
    /// Calls that change something: everything but Describe, Get, List
    /// and Head.
    pub fn mutating(&self) -> u64 {
        self.counts
            .lock()
            .expect("counter lock")
            .iter()
            .filter(|((_, op), _)| !is_read_operation(op))
            .map(|(_, n)| n)
            .sum()
    }
}

pub fn is_read_operation(operation: &str) -> bool {
    ["Describe", "Get", "List", "Head"]
        .iter()
        .any(|p| operation.starts_with(p))
}

#[derive(Debug)]
struct CountingInterceptor(Arc<Counter>);

impl Intercept for CountingInterceptor {
    fn name(&self) -> &'static str {
        "cairn-call-counter"
    }
    // The operation's name goes with the request, for its lane.
    fn modify_before_transmit(
        &self,
        context: &mut aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextMut<'_>,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), aws_smithy_runtime_api::box_error::BoxError> {
        if let Some(metadata) = cfg.load::<Metadata>() {
            context
                .request_mut()
                .add_extension(pace::OperationName(metadata.name().to_owned()));
        }
        Ok(())
    }
    // Counted per attempt: a retried call is two calls to AWS.
    fn read_before_transmit(
        &self,
        _: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), aws_smithy_runtime_api::box_error::BoxError> {
        let operation = cfg.load::<Metadata>().map_or("unknown".to_owned(), |m| {
            format!("{}.{}", m.service(), m.name())
        });
        let operation = operation.rsplit('.').next().unwrap_or_default().to_owned();
        let address = CURRENT_ADDRESS
            .try_with(Clone::clone)
            .unwrap_or_else(|_| "(none)".into());
        *self
            .0
            .counts
            .lock()
            .expect("counter lock")
            .entry((address, operation))
            .or_default() += 1;
        Ok(())
    }
}

/// The SDK configuration, and one client per service, built on first use
/// (a stack that uses three services builds three clients) and shared.
pub struct Aws {
    config: aws_config::SdkConfig,
    clients: Clients,
    pub counter: Arc<Counter>,
    pub region: String,
    /// The account and partition, once `identity` has run.
    identity: std::sync::OnceLock<(String, String)>,
    /// Things a provider did that the user should hear about (a fallback
    /// taken), drained by the engine into its report.
    notes: Arc<Mutex<Vec<String>>>,
    /// The same configuration in other regions, for resources the stack
    /// puts outside its own (built on first use).
    regions: Mutex<BTreeMap<String, Arc<Aws>>>,
    /// Tags read in bulk that match what the state records, by ARN: a
    /// refresh uses these instead of one tag call per resource.
    confirmed_tags: tokio::sync::watch::Sender<BulkTags>,
    /// How many attempts `send` makes at a retryable error
    /// (`CAIRN_RETRY_ATTEMPTS`, default 8; the retry policy may stop sooner).
    pub max_attempts: u32,
    /// Every call's slot: concurrency and rate per service or operation.
    lanes: Arc<pace::Lanes>,
    /// The HTTP client the SDK would use, which each service's paced
    /// client wraps.
    http: Option<aws_smithy_runtime_api::client::http::SharedHttpClient>,
}

#[derive(Default)]
struct Clients {
    iam: std::sync::OnceLock<aws_sdk_iam::Client>,
    dynamodb: std::sync::OnceLock<aws_sdk_dynamodb::Client>,
    cloudwatch: std::sync::OnceLock<aws_sdk_cloudwatch::Client>,
    logs: std::sync::OnceLock<aws_sdk_cloudwatchlogs::Client>,
    kms: std::sync::OnceLock<aws_sdk_kms::Client>,
    ecr: std::sync::OnceLock<aws_sdk_ecr::Client>,
    lambda: std::sync::OnceLock<aws_sdk_lambda::Client>,
    apigateway: std::sync::OnceLock<aws_sdk_apigatewayv2::Client>,
    tagging: std::sync::OnceLock<aws_sdk_resourcegroupstagging::Client>,
    sts: std::sync::OnceLock<aws_sdk_sts::Client>,
    sns: std::sync::OnceLock<aws_sdk_sns::Client>,
    ec2: std::sync::OnceLock<aws_sdk_ec2::Client>,
    rds: std::sync::OnceLock<aws_sdk_rds::Client>,
    secretsmanager: std::sync::OnceLock<aws_sdk_secretsmanager::Client>,
    restapi: std::sync::OnceLock<aws_sdk_apigateway::Client>,
    ecs: std::sync::OnceLock<aws_sdk_ecs::Client>,
    elbv2: std::sync::OnceLock<aws_sdk_elasticloadbalancingv2::Client>,
    ssm: std::sync::OnceLock<aws_sdk_ssm::Client>,
    s3: std::sync::OnceLock<aws_sdk_s3::Client>,
    cloudfront: std::sync::OnceLock<aws_sdk_cloudfront::Client>,
    sqs: std::sync::OnceLock<aws_sdk_sqs::Client>,
    eventbridge: std::sync::OnceLock<aws_sdk_eventbridge::Client>,
    wafv2: std::sync::OnceLock<aws_sdk_wafv2::Client>,
    budgets: std::sync::OnceLock<aws_sdk_budgets::Client>,
}

/// `aws.iam()` and the like: the service's client, built on first use with
/// the call counter attached.
macro_rules! lazy_clients {
    ($($name:ident: $krate:ident, $sharing:ident $(, $adjust:expr)?);* $(;)?) => {
        impl Aws {
            $(
                pub fn $name(&self) -> &$krate::Client {
                    self.clients.$name.get_or_init(|| {
                        let mut config = $krate::config::Builder::from(&self.config)
                            .interceptor(CountingInterceptor(self.counter.clone()));
                        $(config = $adjust(config, self);)?
                        if let Some(http) = self.http.clone() {
                            config = config.http_client(pace::PacedClient::new(
                                http,
                                stringify!($name),
                                pace::Sharing::$sharing,
                                self.lanes.clone(),
                            ));
                        }
                        $krate::Client::from_conf(config.build())
                    })
                }
            )*
        }
    };
}

impl Clients {
    /// How many clients exist so far.
    fn built(&self) -> usize {
        let Clients {
            iam,
            dynamodb,
            cloudwatch,
            logs,
            kms,
            ecr,
            lambda,
            apigateway,
            tagging,
            sts,
            sns,
            ec2,
            rds,
            secretsmanager,
            restapi,
            ecs,
            elbv2,
            ssm,
            s3,
            cloudfront,
            sqs,
            eventbridge,
            wafv2,
            budgets,
        } = self;
        [
            iam.get().is_some(),
            dynamodb.get().is_some(),
            cloudwatch.get().is_some(),
            logs.get().is_some(),
            kms.get().is_some(),
            ecr.get().is_some(),
            lambda.get().is_some(),
            apigateway.get().is_some(),
            tagging.get().is_some(),
            sts.get().is_some(),
            sns.get().is_some(),
            ec2.get().is_some(),
            rds.get().is_some(),
            secretsmanager.get().is_some(),
            restapi.get().is_some(),
            ecs.get().is_some(),
            elbv2.get().is_some(),
            ssm.get().is_some(),
            s3.get().is_some(),
            cloudfront.get().is_some(),
            sqs.get().is_some(),
            eventbridge.get().is_some(),
            wafv2.get().is_some(),
            budgets.get().is_some(),
        ]
        .iter()
        .filter(|b| **b)
        .count()
    }
}

// How each service shares its request quotas between operations, as its
// quota pages publish them: per operation (CloudWatch: DescribeAlarms 9/s,
// PutMetricAlarm 3/s; Logs; KMS; Lambda's GetFunction apart from its
// control plane; STS; the tagging API; Secrets Manager; ECR; SNS; SSM), one
// token bucket for reads and one for changes (EC2), or one for the whole
// service (DynamoDB's control plane, IAM, API Gateway, RDS, CloudFront,
// Budgets). ECS, Elastic Load Balancing, S3, SQS, EventBridge and WAF
// throttle each action on its own bucket.
lazy_clients!(
    iam: aws_sdk_iam, Service;
    dynamodb: aws_sdk_dynamodb, Service;
    cloudwatch: aws_sdk_cloudwatch, Operation;
    logs: aws_sdk_cloudwatchlogs, Operation;
    kms: aws_sdk_kms, Operation;
    ecr: aws_sdk_ecr, Operation;
    lambda: aws_sdk_lambda, Operation;
    apigateway: aws_sdk_apigatewayv2, Service;
    tagging: aws_sdk_resourcegroupstagging, Operation;
    sts: aws_sdk_sts, Operation;
    sns: aws_sdk_sns, Operation;
    ec2: aws_sdk_ec2, ReadWrite;
    rds: aws_sdk_rds, Service;
    secretsmanager: aws_sdk_secretsmanager, Operation;
    restapi: aws_sdk_apigateway, Service;
    ecs: aws_sdk_ecs, Operation;
    elbv2: aws_sdk_elasticloadbalancingv2, Operation;
    ssm: aws_sdk_ssm, Operation;
    s3: aws_sdk_s3, Operation, path_style_for_custom_endpoints;
    cloudfront: aws_sdk_cloudfront, Service;
    sqs: aws_sdk_sqs, Operation;
    eventbridge: aws_sdk_eventbridge, Operation;
    wafv2: aws_sdk_wafv2, Operation;
    budgets: aws_sdk_budgets, Service, in_us_east_1;
);

/// S3 addresses a bucket as a host name (`BUCKET.s3.REGION...`), which an
/// endpoint given by `--endpoint-url` (a local emulator, a proxy) cannot
/// serve: there the bucket goes in the path. AWS's own endpoints keep the
/// SDK's default.
fn path_style_for_custom_endpoints(
    config: aws_sdk_s3::config::Builder,
    aws: &Aws,
) -> aws_sdk_s3::config::Builder {
    let custom = aws.config.endpoint_url().is_some();
    config.force_path_style(custom)
}

/// Budgets are global: AWS serves them from us-east-1 whatever the
/// stack's region.
fn in_us_east_1(
    config: aws_sdk_budgets::config::Builder,
    _: &Aws,
) -> aws_sdk_budgets::config::Builder {
    config.region(aws_config::Region::new("us-east-1"))
}

/// The configuration's HTTP client, or else the one the SDK's clients
/// would choose for themselves (the configuration loader leaves it to
/// them): found once, so every service's paced client wraps the same
/// connection pool.
fn default_http_client(
    config: &aws_config::SdkConfig,
) -> Option<aws_smithy_runtime_api::client::http::SharedHttpClient> {
    use aws_smithy_runtime_api::client::runtime_components::RuntimeComponentsBuilder;
    use aws_smithy_runtime_api::client::runtime_plugin::RuntimePlugin;
    config.http_client().or_else(|| {
        let plugin = aws_smithy_runtime::client::defaults::default_http_client_plugin_v2(
            config
                .behavior_version()
                .unwrap_or(aws_config::BehaviorVersion::latest()),
        )?;
        plugin
            .runtime_components(&RuntimeComponentsBuilder::new("cairn"))
            .http_client()
    })
}

/// Tags read in bulk during a refresh.
#[derive(Clone, Debug)]
pub enum BulkTags {
    /// None: each resource reads its own.
    Off,
    /// Being read.
    Pending,
    /// The recorded values whose tags match the state's, by ARN.
    Ready(Arc<BTreeMap<String, crate::model::Values>>),
}

pub struct Settings {
    pub region: Option<String>,
    pub endpoint_url: Option<String>,
}

impl Aws {
    /// The SDK's usual configuration chain (environment, profiles,
    /// `AWS_ENDPOINT_URL`), with `--region` and `--endpoint-url` on top.
    pub async fn connect(settings: &Settings) -> Result<Aws, ConnectError> {
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
        if let Some(region) = &settings.region {
            loader = loader.region(aws_config::Region::new(region.clone()));
        }
        if let Some(endpoint) = &settings.endpoint_url {
            loader = loader.endpoint_url(endpoint.clone());
        }
        // Retries are `send`'s alone: it classifies each failure once, tells
        // the lane about throttling, and never repeats a create that may
        // have succeeded. The SDK's own retry would repeat any transient
        // failure, creates included, out of sight of both.
        loader = loader.retry_config(aws_config::retry::RetryConfig::disabled());
        // An answer that never comes must not hang a run: after a minute
        // without one, the attempt fails as transient (retried, or for a
        // create, looked for before it is repeated). The time a call waits
        // for its lane is not counted: the timeout starts when it is sent.
        loader = loader.timeout_config(
            aws_config::timeout::TimeoutConfig::builder()
                .connect_timeout(std::time::Duration::from_millis(3100))
                .read_timeout(std::time::Duration::from_secs(60))
                .build(),
        );
        let config = loader.load().await;
        let region = config
            .region()
            .map(ToString::to_string)
            .ok_or(ConnectError::NoRegion)?;
        // Credentials first: without them every call fails with a transport
        // error that hides the cause.
        use aws_credential_types::provider::ProvideCredentials;
        let provider = config
            .credentials_provider()
            .ok_or(ConnectError::NoCredentialsProvider)?;
        if let Err(error) = provider.provide_credentials().await {
            return Err(ConnectError::NoCredentials(error.to_string()));
        }
        let counter = Arc::new(Counter::default());
        Ok(Aws {
            clients: Clients::default(),
            counter,
            region,
            identity: std::sync::OnceLock::new(),
            notes: Arc::new(Mutex::new(Vec::new())),
            regions: Mutex::new(BTreeMap::new()),
            confirmed_tags: tokio::sync::watch::Sender::new(BulkTags::Off),
            max_attempts: std::env::var("CAIRN_RETRY_ATTEMPTS")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(8),
            lanes: Arc::new(pace::Lanes::new(pace::Settings::from_env())),
            http: default_http_client(&config),
            config,
        })
    }

    /// Sends one request, retrying what the retry policy says to retry.
    /// Only for requests that are safe to repeat: reads, puts, deletes, and
    /// creates whose repeat is refused as "already exists".
    pub async fn send<T, E, F, Fut>(
        &self,
        operation: &'static str,
        call: F,
        specific: fn(&E) -> Option<ErrorClass>,
    ) -> Result<T, AwsError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, SdkError<E, HttpResponse>>>,
        E: ProvideErrorKind + ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        self.send_with(operation, call, specific, true).await
    }

    /// Sends a request that removes something (a delete, a detach): one
    /// that finds it already gone has done its work.
    pub async fn send_delete<T, E, F, Fut>(
        &self,
        operation: &'static str,
        call: F,
        specific: fn(&E) -> Option<ErrorClass>,
    ) -> Result<(), AwsError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, SdkError<E, HttpResponse>>>,
        E: ProvideErrorKind + ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        ignore_missing(self.send_with(operation, call, specific, true).await)
    }

    /// Sends a create that AWS would carry out twice if repeated (a KMS
    /// key, an API: AWS assigns the id and takes no client token). Retried
    /// only when the answer proves it was refused (throttling); any failure
    /// that may have followed the create's success is returned, so the
    /// caller looks for what it made before it tries again.
    pub async fn send_create<T, E, F, Fut>(
        &self,
        operation: &'static str,
        call: F,
        specific: fn(&E) -> Option<ErrorClass>,
    ) -> Result<T, AwsError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, SdkError<E, HttpResponse>>>,
        E: ProvideErrorKind + ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        self.send_with(operation, call, specific, false).await
    }

    async fn send_with<T, E, F, Fut>(
        &self,
        operation: &'static str,
        mut call: F,
        specific: fn(&E) -> Option<ErrorClass>,
        repeatable: bool,
    ) -> Result<T, AwsError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, SdkError<E, HttpResponse>>>,
        E: ProvideErrorKind + ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let mut attempt = 0;
        loop {
            let (answer, lane) = pace::attempt(call()).await;
            match answer {
                Ok(output) => return Ok(output),
                Err(error) => {
                    let error = classify(operation, error, specific);
                    if error.class == ErrorClass::Throttled {
                        pace::throttled(lane);
                    }
                    attempt += 1;
                    if !repeatable && error.class != ErrorClass::Throttled {
                        return Err(error);
                    }
                    match retry::delay(error.class, attempt, fastrand::f64()) {
                        Some(delay) if attempt < self.max_attempts => {
                            tokio::time::sleep(delay).await
                        }
                        _ => return Err(error),
                    }
                }
            }
        }
    }

    /// The account the credentials belong to, and its partition.
    pub async fn identity(&self) -> Result<(String, String), AwsError> {
        let output = self
            .send(
                "GetCallerIdentity",
                || self.sts().get_caller_identity().send(),
                |_| None,
            )
            .await?;
        let account = output.account().unwrap_or_default().to_owned();
        let partition = output
            .arn()
            .and_then(|arn| arn.split(':').nth(1))
            .unwrap_or("aws")
            .to_owned();
        let _ = self.identity.set((account.clone(), partition.clone()));
        Ok((account, partition))
    }

    pub fn account(&self) -> &str {
        self.identity.get().map_or("", |(account, _)| account)
    }

    pub fn partition(&self) -> &str {
        self.identity
            .get()
            .map_or("aws", |(_, partition)| partition)
    }

    /// Lanes AWS throttled in this region, most throttled first.
    /// Requests one lane (a service, or one of its operations) has in
    /// flight at most.
    pub fn lane_concurrency(&self) -> usize {
        self.lanes.concurrency()
    }

    pub fn throttled_lanes(&self) -> Vec<pace::LaneStats> {
        self.lanes.throttled()
    }

    /// How many service clients this connection has built.
    pub fn clients_built(&self) -> usize {
        self.clients.built()
    }

    pub fn note(&self, note: String) {
        self.notes.lock().expect("notes lock").push(note);
    }

    /// A bulk read of tags is under way: reads that could use it wait for
    /// it (their other calls go ahead meanwhile).
    pub fn expect_tags(&self) {
        self.confirmed_tags.send_replace(BulkTags::Pending);
    }

    /// The bulk read's confirmed tags; empty: none, each resource asks.
    pub fn confirm_tags(&self, tags: BTreeMap<String, crate::model::Values>) {
        self.confirmed_tags.send_replace(if tags.is_empty() {
            BulkTags::Off
        } else {
            BulkTags::Ready(Arc::new(tags))
        });
    }

    /// The tags of `arn`, if a bulk read confirmed them (waiting for one
    /// under way).
    pub async fn confirmed_tags(&self, arn: &str) -> Option<Value> {
        let mut bulk = self.confirmed_tags.subscribe();
        let state = bulk
            .wait_for(|state| !matches!(state, BulkTags::Pending))
            .await
            .ok()?
            .clone();
        match state {
            BulkTags::Ready(recorded) => recorded
                .get(normalize_arn(arn))
                .and_then(|values| values.get("tags"))
                .cloned(),
            BulkTags::Off | BulkTags::Pending => None,
        }
    }

    /// This configuration in `region`: the same credentials, endpoint,
    /// call counter and notes, its own clients. `None` or the home region:
    /// `None` (use this one).
    pub fn in_region(&self, region: Option<&str>) -> Option<Arc<Aws>> {
        let region = region.filter(|r| *r != self.region)?;
        let mut regions = self.regions.lock().expect("regions lock");
        let regional = regions.entry(region.to_owned()).or_insert_with(|| {
            let config = self
                .config
                .to_builder()
                .region(aws_config::Region::new(region.to_owned()))
                .build();
            let identity = std::sync::OnceLock::new();
            if let Some(known) = self.identity.get() {
                let _ = identity.set(known.clone());
            }
            Arc::new(Aws {
                config,
                clients: Clients::default(),
                counter: self.counter.clone(),
                region: region.to_owned(),
                identity,
                notes: self.notes.clone(),
                regions: Mutex::new(BTreeMap::new()),
                confirmed_tags: tokio::sync::watch::Sender::new(BulkTags::Off),
                max_attempts: self.max_attempts,
                // Quotas are per region.
                lanes: Arc::new(pace::Lanes::new(pace::Settings::from_env())),
                http: self.http.clone(),
            })
        });
        Some(regional.clone())
    }

    /// A configuration that reaches no endpoint, for tests that feed
    /// `send` answers of their own.
    #[cfg(test)]
    pub(crate) fn offline() -> Aws {
        let config = aws_config::SdkConfig::builder()
            .region(aws_config::Region::new("us-east-1"))
            .behavior_version(aws_config::BehaviorVersion::latest())
            .build();
        Aws {
            config,
            clients: Clients::default(),
            counter: Arc::new(Counter::default()),
            region: "us-east-1".to_owned(),
            identity: std::sync::OnceLock::new(),
            notes: Arc::new(Mutex::new(Vec::new())),
            regions: Mutex::new(BTreeMap::new()),
            confirmed_tags: tokio::sync::watch::Sender::new(BulkTags::Off),
            max_attempts: 3,
            lanes: Arc::new(pace::Lanes::new(pace::Settings::from_env())),
            http: None,
        }
    }

    pub fn take_notes(&self) -> Vec<String> {
        std::mem::take(&mut *self.notes.lock().expect("notes lock"))
    }
}

// Small helpers the providers share.

/// Log group ARNs come with and without a trailing `:*`.
pub fn normalize_arn(arn: &str) -> &str {
    arn.strip_suffix(":*").unwrap_or(arn)
}

pub fn text<'a>(map: &'a Map<String, Value>, key: &str) -> &'a str {
    map.get(key).and_then(Value::as_str).unwrap_or_default()
}

pub fn int(map: &Map<String, Value>, key: &str) -> Option<i64> {
    map.get(key).and_then(Value::as_i64)
}

pub fn flag(map: &Map<String, Value>, key: &str) -> bool {
    map.get(key).and_then(Value::as_bool).unwrap_or(false)
}

pub fn strings(map: &Map<String, Value>, key: &str) -> Vec<String> {
    map.get(key)
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

pub fn string_map(map: &Map<String, Value>, key: &str) -> BTreeMap<String, String> {
    map.get(key)
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                .collect()
        })
        .unwrap_or_default()
}

pub fn tags_value<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Value {
    Value::Object(
        pairs
            .into_iter()
            .map(|(k, v)| (k.to_owned(), Value::String(v.to_owned())))
            .collect(),
    )
}

pub fn changed(fields: &[String], name: &str) -> bool {
    fields.iter().any(|f| f == name)
}

pub fn policy_text(value: &Value) -> String {
    serde_json::to_string(value).expect("documents serialize")
}

/// Polls `check` until it answers `Some`, at most `attempts` times: the
/// bounded wait that AWS's asynchronous operations need.
pub async fn wait_for<T, F, Fut>(
    what: &'static str,
    attempts: u32,
    mut check: F,
) -> Result<T, AwsError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>, AwsError>>,
{
    for attempt in 0..attempts {
        if let Some(value) = check().await? {
            return Ok(value);
        }
        tokio::time::sleep(retry::poll_interval(attempt)).await;
    }
    Err(AwsError::new(
        ErrorClass::Fatal,
        what,
        format!("still not ready after {attempts} checks"),
    ))
}
