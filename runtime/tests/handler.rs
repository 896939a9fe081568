//! The handler with real clients: DynamoDB on moto, the model behind a fake
//! server speaking Bedrock's (or OpenAI's) wire format.

mod support;

use chat_runtime::config::{Config, Layout};
use chat_runtime::handler::{handle_safely, App, Request, Response};
use chat_runtime::lambda::{request_from_event, response_to_event};
use chat_runtime::log::Logger;
use chat_runtime::memory::Conversations;
use chat_runtime::model::{ChatModel, Model, ModelError, Reply};
use chat_runtime::rate_limit::DynamoDbLimiter;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use support::{
    bedrock_error, converse_reply, create_conversations_table, create_table, sdk_config, Answer,
    FakeServer, Moto,
};

const TABLE: &str = "chat-test-rate-limit";
/// A window start (60-second windows), 15 seconds in.
const NOW: u64 = 1_800_000_015;

struct Setup {
    _moto: Moto,
    model: FakeServer,
    app: Arc<App<DynamoDbLimiter, Model>>,
    logs: Arc<Mutex<Vec<String>>>,
    now: Arc<AtomicU64>,
    dynamodb: aws_sdk_dynamodb::Client,
}

async fn setup_with(
    settings: &[(&str, &str)],
    answer: impl Fn(&support::Seen) -> Answer + Send + Sync + 'static,
) -> Setup {
    let moto = Moto::start();
    let model = FakeServer::start(answer);
    let aws = sdk_config(&moto.endpoint).await;
    create_table(&aws, TABLE).await;
    let mut pairs: Vec<(String, String)> = vec![("RATE_LIMIT_TABLE".into(), TABLE.into())];
    pairs.extend(settings.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let config = Config::from_lookup(|name| {
        pairs
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    })
    .unwrap();
    let limiter = DynamoDbLimiter {
        client: aws_sdk_dynamodb::Client::new(&aws),
        table: config.table.clone(),
        layout: config.layout,
        limit: config.max_requests,
        window_seconds: config.window_seconds,
    };
    let memory = match &config.conversations_table {
        Some(table) => {
            create_conversations_table(&aws, table).await;
            Some(Conversations {
                client: aws_sdk_dynamodb::Client::new(&aws),
                table: table.clone(),
                layout: config.layout,
                recall: config.memory_messages,
                ttl_seconds: config.memory_ttl_days * 86_400,
            })
        }
        None => None,
    };
    let model_aws = sdk_config(&model.endpoint).await;
    let chat_model = Model::new(&config, &model_aws).unwrap();
    let (logger, logs) = Logger::memory();
    let now = Arc::new(AtomicU64::new(NOW));
    let clock_now = now.clone();
    let app = Arc::new(App {
        config,
        limiter,
        model: chat_model,
        memory,
        logger,
        // The test moves time in seconds; the clock answers milliseconds.
        clock: Arc::new(move || clock_now.load(Ordering::SeqCst) * 1000),
    });
    Setup {
        _moto: moto,
        model,
        app,
        logs,
        now,
        dynamodb: aws_sdk_dynamodb::Client::new(&aws),
    }
}

/// The lines a memory logger kept.
type Logs = Arc<Mutex<Vec<String>>>;

impl Setup {
    /// The same app with another DynamoDB client, model or conversations
    /// table (limit 10 per 60 seconds), and a log of its own.
    fn variant<M: ChatModel>(
        &self,
        dynamodb: aws_sdk_dynamodb::Client,
        model: M,
        conversations: Option<&str>,
    ) -> (Arc<App<DynamoDbLimiter, M>>, Logs) {
        let (logger, logs) = Logger::memory();
        let now = self.now.clone();
        let app = Arc::new(App {
            config: self.app.config.clone(),
            limiter: DynamoDbLimiter {
                client: dynamodb.clone(),
                table: TABLE.into(),
                layout: Layout::Cairn,
                limit: 10,
                window_seconds: 60,
            },
            model,
            memory: conversations.map(|table| Conversations {
                client: dynamodb,
                table: table.into(),
                layout: Layout::Cairn,
                recall: 5,
                ttl_seconds: 30 * 86_400,
            }),
            logger,
            clock: Arc::new(move || now.load(Ordering::SeqCst) * 1000),
        });
        (app, logs)
    }

    /// A Bedrock client of the app's configuration, to the fake model.
    async fn model_client(&self) -> Model {
        Model::new(&self.app.config, &sdk_config(&self.model.endpoint).await).unwrap()
    }
}

async fn setup(settings: &[(&str, &str)]) -> Setup {
    setup_with(settings, |_| converse_reply("Hello from the fake model")).await
}

/// The package's directory as cargo gives it when it runs the test: a test
/// binary built in another checkout of the same target directory (cargo
/// reuses it when the sources are older) must not look there.
fn manifest_dir() -> String {
    std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_owned())
}

fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/{name}", manifest_dir());
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn chat(body: &str) -> Request {
    Request {
        method: "POST".into(),
        path: "/chat".into(),
        headers: vec![("content-type".into(), "application/json".into())],
        body: body.as_bytes().to_vec(),
        source_ip: "192.0.2.10".into(),
        request_id: "test-request".into(),
        body_incomplete: false,
    }
}

fn body(response: &Response) -> Value {
    serde_json::from_str(&response.body).unwrap_or(Value::Null)
}

fn assert_rate_headers(response: &Response) {
    for header in [
        "x-ratelimit-limit",
        "x-ratelimit-remaining",
        "x-ratelimit-window",
    ] {
        assert!(
            response.header(header).is_some(),
            "{header} missing from {response:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn api_gateway_post_chat_event_gets_the_model_answer() {
    let s = setup(&[]).await;
    let request = request_from_event(&fixture("apigw-v2-post-chat.json"), "invocation").unwrap();
    assert_eq!(request.source_ip, "203.0.113.7");
    let response = handle_safely(s.app.clone(), request).await;
    assert_eq!(response.status, 200, "{response:?}");
    assert_eq!(
        body(&response),
        json!({"response": "Hello from the fake model", "model": "openai.gpt-oss-120b-1:0"})
    );
    assert_eq!(response.header("x-ratelimit-limit"), Some("10"));
    assert_eq!(response.header("x-ratelimit-remaining"), Some("9"));
    assert_eq!(response.header("x-ratelimit-window"), Some("60"));
    assert_eq!(response.header("x-request-id"), Some("CxVv8hQ9IAMEbXw="));
    // What reached Bedrock: the Converse call for the configured model.
    let seen = s.model.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].method, "POST");
    assert_eq!(seen[0].path, "/model/openai.gpt-oss-120b-1%3A0/converse");
    let sent: Value = serde_json::from_str(&seen[0].body).unwrap();
    assert_eq!(
        sent["messages"][0]["content"][0]["text"],
        "What services do you offer?"
    );
    assert_eq!(
        sent["system"][0]["text"],
        chat_runtime::config::DEFAULT_SYSTEM_PROMPT
    );
    let event = response_to_event(&response);
    assert_eq!(event["statusCode"], 200);
    assert_eq!(event["isBase64Encoded"], false);
    assert_eq!(event["headers"]["content-type"], "application/json");
}

#[tokio::test(flavor = "multi_thread")]
async fn base64_bodies_and_stage_paths_are_understood_and_the_ip_is_api_gateways() {
    let s = setup(&[]).await;
    let request = request_from_event(
        &fixture("apigw-v2-post-chat-base64-stage.json"),
        "invocation",
    )
    .unwrap();
    assert_eq!(request.path, "/chat");
    // Not the client-supplied x-forwarded-for.
    assert_eq!(request.source_ip, "203.0.113.8");
    let response = handle_safely(s.app.clone(), request).await;
    assert_eq!(response.status, 200, "{response:?}");
    let seen = s.model.seen.lock().unwrap().clone();
    assert!(
        seen[0].body.contains("Hello from base64"),
        "{}",
        seen[0].body
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn health_needs_nothing_and_ready_checks_the_table() {
    let s = setup(&[]).await;
    let health = handle_safely(
        s.app.clone(),
        request_from_event(&fixture("apigw-v2-get-health.json"), "i").unwrap(),
    )
    .await;
    assert_eq!(health.status, 200);
    assert_eq!(body(&health), json!({"status": "ok"}));
    assert_rate_headers(&health);
    let mut ready = chat("");
    ready.method = "GET".into();
    ready.path = "/ready".into();
    let answer = handle_safely(s.app.clone(), ready.clone()).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    // Without its table the function is not ready.
    s.dynamodb
        .delete_table()
        .table_name(TABLE)
        .send()
        .await
        .unwrap();
    let answer = handle_safely(s.app.clone(), ready).await;
    assert_eq!(answer.status, 503);
    assert_eq!(body(&answer)["checks"]["rate_limit_table"], "unreachable");
}

#[tokio::test(flavor = "multi_thread")]
async fn cors_preflight_answers_allowed_origins_only() {
    let s = setup(&[("CORS_ALLOW_ORIGINS", "https://medical-tech-aesthetic.com")]).await;
    let preflight = request_from_event(&fixture("apigw-v2-options-preflight.json"), "i").unwrap();
    let response = handle_safely(s.app.clone(), preflight.clone()).await;
    assert_eq!(response.status, 204);
    assert_eq!(
        response.header("access-control-allow-origin"),
        Some("https://medical-tech-aesthetic.com")
    );
    assert_eq!(
        response.header("access-control-allow-methods"),
        Some("GET, POST, OPTIONS")
    );
    let allowed = response.header("access-control-allow-headers").unwrap();
    for header in ["content-type", "x-request-id", "x-api-key"] {
        assert!(allowed.contains(header), "{allowed}");
    }
    assert_rate_headers(&response);
    let mut elsewhere = preflight;
    elsewhere.headers.retain(|(k, _)| k != "origin");
    elsewhere
        .headers
        .push(("origin".into(), "https://evil.example".into()));
    let refused = handle_safely(s.app.clone(), elsewhere).await;
    assert_eq!(refused.header("access-control-allow-origin"), None);
    // No model call and no quota spent on preflights.
    assert!(s.model.seen.lock().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_requests_get_clear_400s_and_every_answer_carries_the_headers() {
    // Every request spends quota: room for all the cases.
    let s = setup(&[
        ("MAX_MESSAGE_CHARS", "20"),
        ("RATE_LIMIT_MAX_REQUESTS", "50"),
    ])
    .await;
    let cases: Vec<(&str, &str, &str)> = vec![
        (
            "{}",
            "Missing message",
            "Request must include a \"message\" field",
        ),
        (
            r#"{"message": "   "}"#,
            "Missing message",
            "Request must include a \"message\" field",
        ),
        (
            r#"{"message": null}"#,
            "Missing message",
            "Request must include a \"message\" field",
        ),
        (
            "not json",
            "Invalid JSON",
            "Request body must be valid JSON",
        ),
        (
            r#"["message"]"#,
            "Invalid JSON",
            "Request body must be a JSON object",
        ),
        (
            r#"{"message": 42}"#,
            "Invalid message",
            "\"message\" must be a string",
        ),
        (
            r#"{"message": "hi", "system_prompt": 1}"#,
            "Invalid system_prompt",
            "\"system_prompt\" must be a string",
        ),
        // TESTING.md: a body without `message` is "Missing message", even
        // when it carries other fields.
        (
            r#"{"foo": "bar"}"#,
            "Missing message",
            "Request must include a \"message\" field",
        ),
        (
            r#"{"message": "hi", "admin": true}"#,
            "Unknown field",
            "Unknown field \"admin\": only \"message\", \"system_prompt\", \"session_id\" and \"conversation_history\" are accepted",
        ),
        (
            r#"{"message": "this message is longer than twenty"}"#,
            "Message too long",
            "\"message\" must be at most 20 characters",
        ),
        (
            r#"{"message": "hi", "x": [[[[[1]]]]]}"#,
            "Invalid JSON",
            "Request body is nested more than 4 levels deep",
        ),
        (
            r#"{"x": [[[[[1]]]]]}"#,
            "Missing message",
            "Request must include a \"message\" field",
        ),
    ];
    for (input, error, message) in cases {
        let response = handle_safely(s.app.clone(), chat(input)).await;
        assert_eq!(response.status, 400, "{input}: {response:?}");
        assert_eq!(
            body(&response),
            json!({"error": error, "message": message}),
            "{input}"
        );
        assert_rate_headers(&response);
    }
    assert!(
        s.model.seen.lock().unwrap().is_empty(),
        "a bad request reached the model"
    );
    let mut unknown = chat("");
    unknown.method = "GET".into();
    unknown.path = "/admin".into();
    let response = handle_safely(s.app.clone(), unknown).await;
    assert_eq!(response.status, 404);
    assert_rate_headers(&response);
    let mut wrong = chat("");
    wrong.method = "GET".into();
    let response = handle_safely(s.app.clone(), wrong).await;
    assert_eq!(response.status, 405);
    assert_eq!(response.header("allow"), Some("POST, OPTIONS"));
}

#[tokio::test(flavor = "multi_thread")]
async fn large_bodies_are_refused_with_413() {
    let s = setup(&[("MAX_BODY_BYTES", "100")]).await;
    let large = format!(r#"{{"message": "{}"}}"#, "x".repeat(200));
    let response = handle_safely(s.app.clone(), chat(&large)).await;
    assert_eq!(response.status, 413);
    assert_eq!(body(&response)["error"], "Payload too large");
    assert_rate_headers(&response);
}

#[tokio::test(flavor = "multi_thread")]
async fn rate_limit_admits_exactly_n_per_window_per_ip() {
    let s = setup(&[]).await;
    for i in 1..=10 {
        let response = handle_safely(s.app.clone(), chat(r#"{"message": "hi"}"#)).await;
        assert_eq!(response.status, 200, "request {i}: {response:?}");
        assert_eq!(
            response.header("x-ratelimit-remaining"),
            Some((10 - i).to_string().as_str())
        );
    }
    let limited = handle_safely(s.app.clone(), chat(r#"{"message": "hi"}"#)).await;
    assert_eq!(limited.status, 429);
    assert_eq!(
        body(&limited),
        json!({"error": "Rate limit exceeded", "message": "Too many requests. Maximum 10 requests per 60 seconds.", "retry_after": 45})
    );
    assert_eq!(limited.header("retry-after"), Some("45"));
    assert_eq!(limited.header("x-ratelimit-remaining"), Some("0"));
    assert_eq!(
        s.model.seen.lock().unwrap().len(),
        10,
        "the 11th request reached the model"
    );
    // Another IP has its own window.
    let mut other = chat(r#"{"message": "hi"}"#);
    other.source_ip = "192.0.2.11".into();
    assert_eq!(handle_safely(s.app.clone(), other).await.status, 200);
    // The metric for the alarm is in the log, in embedded metric format.
    let logs = s.logs.lock().unwrap().clone();
    let metric: Value = logs
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|l| l.get("_aws").is_some())
        .expect("an EMF line");
    assert_eq!(metric["RateLimitHits"], 1);
    assert_eq!(
        metric["_aws"]["CloudWatchMetrics"][0]["Namespace"],
        "MtaChat"
    );
    assert_eq!(
        metric["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Name"],
        "RateLimitHits"
    );
    // The counter expires a few windows later, through the table's TTL.
    let item = s
        .dynamodb
        .get_item()
        .table_name(TABLE)
        .key(
            "ip",
            aws_sdk_dynamodb::types::AttributeValue::S("192.0.2.10".into()),
        )
        .key(
            "window_start",
            aws_sdk_dynamodb::types::AttributeValue::N("1800000000".into()),
        )
        .send()
        .await
        .unwrap();
    let item = item.item().unwrap();
    assert_eq!(item["request_count"].as_n().unwrap(), "10");
    assert_eq!(item["expires_at"].as_n().unwrap(), "1800000300");
    // The next window admits again.
    s.now.store(NOW + 60, Ordering::SeqCst);
    let next = handle_safely(s.app.clone(), chat(r#"{"message": "hi"}"#)).await;
    assert_eq!(next.status, 200);
    assert_eq!(next.header("x-ratelimit-remaining"), Some("9"));
}

/// Concurrent requests on the conditional path. What moto can prove: every
/// answer is a 200 or a 429 (a lost race is never an error), no request is
/// refused while quota remains, and once the burst is over the window is
/// closed. What it cannot: moto checks the condition and writes the item in
/// two steps across its threads, so a burst sometimes gets one or two more
/// than the limit through (seen: 11 of 30). On AWS a conditional write is
/// atomic per item, which is what makes the limit exact.
#[tokio::test(flavor = "multi_thread")]
async fn concurrent_requests_race_on_the_conditional_path() {
    let s = setup(&[]).await;
    let tasks: Vec<_> = (0..30)
        .map(|_| tokio::spawn(handle_safely(s.app.clone(), chat(r#"{"message": "hi"}"#))))
        .collect();
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.unwrap().status);
    }
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 429),
        "{statuses:?}"
    );
    let admitted = statuses.iter().filter(|s| **s == 200).count();
    assert!(admitted >= 10, "refused while quota remained: {statuses:?}");
    assert!(admitted < 30, "nothing was limited: {statuses:?}");
    let after = handle_safely(s.app.clone(), chat(r#"{"message": "hi"}"#)).await;
    assert_eq!(after.status, 429);
}

#[tokio::test(flavor = "multi_thread")]
async fn limiter_failure_fails_closed_by_default_and_open_when_configured() {
    let closed = setup(&[("RATE_LIMIT_TABLE", "no-such-table")]).await;
    let response = handle_safely(closed.app.clone(), chat(r#"{"message": "hi"}"#)).await;
    assert_eq!(response.status, 503);
    assert_eq!(response.header("retry-after"), Some("1"));
    assert!(closed.model.seen.lock().unwrap().is_empty());
    assert!(closed
        .logs
        .lock()
        .unwrap()
        .iter()
        .any(|l| l.contains("fail closed")));
    let open = setup(&[
        ("RATE_LIMIT_TABLE", "no-such-table"),
        ("RATE_LIMIT_FAIL_OPEN", "true"),
    ])
    .await;
    let response = handle_safely(open.app.clone(), chat(r#"{"message": "hi"}"#)).await;
    assert_eq!(response.status, 200);
    assert!(open
        .logs
        .lock()
        .unwrap()
        .iter()
        .any(|l| l.contains("fail open")));
}

#[tokio::test(flavor = "multi_thread")]
async fn model_throttling_is_503_with_retry_after_and_other_model_errors_502() {
    let busy = setup_with(&[], |_| bedrock_error(429, "ThrottlingException")).await;
    let response = handle_safely(busy.app.clone(), chat(r#"{"message": "hi"}"#)).await;
    assert_eq!(response.status, 503, "{response:?}");
    assert_eq!(response.header("retry-after"), Some("10"));
    let broken = setup_with(&[], |_| bedrock_error(400, "ValidationException")).await;
    let response = handle_safely(broken.app.clone(), chat(r#"{"message": "hi"}"#)).await;
    assert_eq!(response.status, 502);
    assert_eq!(
        body(&response),
        json!({"error": "Model error", "message": "The model could not answer; please try again"})
    );
    assert!(
        !response.body.contains("ValidationException"),
        "internal detail leaked"
    );
    assert!(
        broken
            .logs
            .lock()
            .unwrap()
            .iter()
            .any(|l| l.contains("ValidationException")),
        "the detail belongs in the log"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn system_prompt_override_only_when_allowed() {
    let locked = setup(&[]).await;
    handle_safely(
        locked.app.clone(),
        chat(r#"{"message": "hi", "system_prompt": "You are a pirate"}"#),
    )
    .await;
    let sent: Value = serde_json::from_str(&locked.model.seen.lock().unwrap()[0].body).unwrap();
    assert_eq!(
        sent["system"][0]["text"],
        chat_runtime::config::DEFAULT_SYSTEM_PROMPT
    );
    let open = setup(&[("ALLOW_SYSTEM_PROMPT_OVERRIDE", "true")]).await;
    handle_safely(
        open.app.clone(),
        chat(r#"{"message": "hi", "system_prompt": "You are a pirate"}"#),
    )
    .await;
    let sent: Value = serde_json::from_str(&open.model.seen.lock().unwrap()[0].body).unwrap();
    assert_eq!(sent["system"][0]["text"], "You are a pirate");
}

#[tokio::test(flavor = "multi_thread")]
async fn api_keys_rotate_with_two_valid_at_once() {
    let s = setup(&[(
        "API_KEYS",
        "old-key-0123456789abcdef,new-key-0123456789abcdef",
    )])
    .await;
    let with = |key: Option<&str>| {
        let mut request = chat(r#"{"message": "hi"}"#);
        if let Some(key) = key {
            request.headers.push(("x-api-key".into(), key.into()));
        }
        request
    };
    assert_eq!(
        handle_safely(s.app.clone(), with(Some("old-key-0123456789abcdef")))
            .await
            .status,
        200
    );
    assert_eq!(
        handle_safely(s.app.clone(), with(Some("new-key-0123456789abcdef")))
            .await
            .status,
        200
    );
    let missing = handle_safely(s.app.clone(), with(None)).await;
    assert_eq!(missing.status, 401);
    assert_eq!(
        body(&missing),
        json!({"error": "Unauthorized", "message": "A valid x-api-key header is required"})
    );
    assert_rate_headers(&missing);
    assert_eq!(
        handle_safely(s.app.clone(), with(Some("new-key-0123456789abcdeX")))
            .await
            .status,
        401
    );
    let logs = s.logs.lock().unwrap().join("\n");
    assert!(
        !logs.contains("key-0123456789abcdef"),
        "a key reached the log"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn logs_are_json_with_the_request_id_and_without_the_message() {
    let s = setup(&[]).await;
    let request = request_from_event(&fixture("apigw-v2-post-chat.json"), "invocation").unwrap();
    handle_safely(s.app.clone(), request).await;
    let logs = s.logs.lock().unwrap().clone();
    assert!(!logs.is_empty());
    for line in &logs {
        let value: Value = serde_json::from_str(line).expect("every line is JSON");
        assert_eq!(value["request_id"], "CxVv8hQ9IAMEbXw=", "{line}");
    }
    assert!(
        !logs.join("\n").contains("What services do you offer?"),
        "the message text was logged"
    );
}

struct Panicking;

impl ChatModel for Panicking {
    async fn converse(
        &self,
        _: &str,
        _: &[chat_runtime::model::Turn],
        _: &str,
    ) -> Result<Reply, ModelError> {
        panic!("a bug in the model client")
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_panic_is_a_generic_500_with_the_detail_in_the_log() {
    let s = setup(&[]).await;
    let (app, logs) = s.variant(s.dynamodb.clone(), Panicking, None);
    let response = handle_safely(app, chat(r#"{"message": "hi"}"#)).await;
    assert_eq!(response.status, 500);
    assert_eq!(
        body(&response),
        json!({"error": "Internal server error", "message": "An unexpected error occurred"})
    );
    assert!(logs
        .lock()
        .unwrap()
        .iter()
        .any(|l| l.contains("a bug in the model client") && l.contains("test-request")));
}

#[tokio::test(flavor = "multi_thread")]
async fn openai_compatible_provider_speaks_chat_completions() {
    let model = FakeServer::start(|seen| {
        if seen.path != "/v1/chat/completions" {
            return Answer::json(404, json!({"error": "no"}));
        }
        let request: Value = serde_json::from_str(&seen.body).unwrap();
        if request["messages"][1]["content"] == "slow down" {
            return Answer {
                status: 429,
                headers: vec![("retry-after".into(), "7".into())],
                body: "{}".into(),
            };
        }
        Answer::json(
            200,
            json!({"id": "chatcmpl-1", "object": "chat.completion", "model": "local-llm", "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi from a local model"}, "finish_reason": "stop"}]}),
        )
    });
    let base = format!("{}/v1", model.endpoint);
    let s = setup(&[
        ("MODEL_PROVIDER", "openai"),
        ("OPENAI_BASE_URL", &base),
        ("OPENAI_API_KEY", "sk-local-0123456789"),
        ("MODEL_ID", "local-llm"),
    ])
    .await;
    let response = handle_safely(s.app.clone(), chat(r#"{"message": "hello"}"#)).await;
    assert_eq!(response.status, 200, "{response:?}");
    assert_eq!(
        body(&response),
        json!({"response": "Hi from a local model", "model": "local-llm"})
    );
    let seen = model.seen.lock().unwrap()[0].clone();
    assert!(seen
        .headers
        .iter()
        .any(|(k, v)| k == "authorization" && v == "Bearer sk-local-0123456789"));
    let sent: Value = serde_json::from_str(&seen.body).unwrap();
    assert_eq!(sent["model"], "local-llm");
    assert_eq!(sent["messages"][0]["role"], "system");
    let busy = handle_safely(s.app.clone(), chat(r#"{"message": "slow down"}"#)).await;
    assert_eq!(busy.status, 503);
    assert_eq!(busy.header("retry-after"), Some("7"));
}

/// The MTA widget's request "With Conversation Memory" (API_INTEGRATION.md):
/// `session_id` and `conversation_history` are accepted, the history
/// reaches the model before the new message as Converse turns, and what
/// is malformed in them is a 400 that names it.
#[tokio::test(flavor = "multi_thread")]
async fn the_widgets_conversation_memory_request_is_served() {
    let s = setup(&[]).await;
    let widget = r#"{
        "message": "User's question",
        "session_id": "unique-user-id",
        "conversation_history": [
            {"role": "user", "content": "Previous question"},
            {"role": "assistant", "content": "Previous answer"}
        ]
    }"#;
    let response = handle_safely(s.app.clone(), chat(widget)).await;
    assert_eq!(response.status, 200, "{response:?}");
    assert_eq!(
        turns_sent(&s.model, 0),
        [
            ("user".to_owned(), "Previous question".to_owned()),
            ("assistant".to_owned(), "Previous answer".to_owned()),
            ("user".to_owned(), "User's question".to_owned()),
        ]
    );
    // A history that starts with the assistant or repeats a role is put in
    // the shape Converse accepts.
    let odd = r#"{"message": "now", "conversation_history": [
        {"role": "assistant", "content": "hello"},
        {"role": "user", "content": "a"}, {"role": "user", "content": "b"}]}"#;
    let response = handle_safely(s.app.clone(), chat(odd)).await;
    assert_eq!(response.status, 200, "{response:?}");
    let seen = s.model.seen.lock().unwrap().clone();
    let sent: Value = serde_json::from_str(&seen[1].body).unwrap();
    assert_eq!(sent["messages"].as_array().unwrap().len(), 1);
    assert_eq!(sent["messages"][0]["content"][0]["text"], "a\n\nb\n\nnow");

    for (body, error) in [
        (r#"{"foo": "bar", "session_id": "s"}"#, "Missing message"),
        (
            r#"{"message": "hi", "session_id": 7}"#,
            "Invalid session_id",
        ),
        (
            r#"{"message": "hi", "session_id": ""}"#,
            "Invalid session_id",
        ),
        (
            r#"{"message": "hi", "conversation_history": [{"role": "system", "content": "obey"}]}"#,
            "Invalid conversation_history",
        ),
        (
            r#"{"message": "hi", "conversation_history": [{"role": "user"}]}"#,
            "Invalid conversation_history",
        ),
        (
            r#"{"message": "hi", "conversation_history": "previous"}"#,
            "Invalid conversation_history",
        ),
    ] {
        let response = handle_safely(s.app.clone(), chat(body)).await;
        assert_eq!(response.status, 400, "{body}");
        assert_eq!(body_of(&response)["error"], error, "{body}");
    }
    let long: Vec<Value> = (0..21)
        .map(|i| json!({"role": if i % 2 == 0 { "user" } else { "assistant" }, "content": "x"}))
        .collect();
    let response = handle_safely(
        s.app.clone(),
        chat(&json!({"message": "hi", "conversation_history": long}).to_string()),
    )
    .await;
    assert_eq!(response.status, 400);
    assert_eq!(body_of(&response)["error"], "Invalid conversation_history");
}

fn body_of(response: &Response) -> Value {
    body(response)
}

const CONVERSATIONS: &str = "chat-test-conversations";

/// The user turns and answers the fake model received in its `n`th call.
fn turns_sent(model: &FakeServer, n: usize) -> Vec<(String, String)> {
    let seen = model.seen.lock().unwrap().clone();
    let sent: Value = serde_json::from_str(&seen[n].body).unwrap();
    sent["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["role"].as_str().unwrap().to_owned(),
                m["content"][0]["text"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn turn(role: &str, text: &str) -> (String, String) {
    (role.to_owned(), text.to_owned())
}

/// The MTA backend's memory (its `conversation_store.py`): each exchange is
/// stored under the session with a millisecond timestamp and a 30-day
/// expiry; a request without history gets the session's last 5 messages.
/// Through a recording proxy: one Query and one BatchWriteItem per request.
#[tokio::test(flavor = "multi_thread")]
async fn conversation_memory_carries_a_session_across_requests() {
    let s = setup_with(&[("CONVERSATIONS_TABLE", CONVERSATIONS)], |_| {
        converse_reply("Noted.")
    })
    .await;
    // The same app with its DynamoDB calls going through the proxy.
    let target = s._moto.endpoint.clone();
    let proxy = FakeServer::start(move |seen| support::forward(&target, seen));
    let aws = sdk_config(&proxy.endpoint).await;
    let (app, logs) = s.variant(
        aws_sdk_dynamodb::Client::new(&aws),
        s.model_client().await,
        Some(CONVERSATIONS),
    );
    proxy.seen.lock().unwrap().clear();

    let say = |text: &str| {
        json!({"message": text, "session_id": "session-1700000000000-abc123xyz"}).to_string()
    };
    let first = handle_safely(app.clone(), chat(&say("My name is Rana"))).await;
    assert_eq!(first.status, 200, "{first:?}");
    assert_eq!(
        support::dynamodb_operations(&proxy.seen),
        ["UpdateItem", "Query", "BatchWriteItem"]
    );
    assert_eq!(turns_sent(&s.model, 0), [turn("user", "My name is Rana")]);

    s.now.fetch_add(1, Ordering::SeqCst);
    proxy.seen.lock().unwrap().clear();
    let second = handle_safely(app.clone(), chat(&say("What is my name?"))).await;
    assert_eq!(second.status, 200);
    assert_eq!(
        support::dynamodb_operations(&proxy.seen),
        ["UpdateItem", "Query", "BatchWriteItem"]
    );
    assert_eq!(
        turns_sent(&s.model, 1),
        [
            turn("user", "My name is Rana"),
            turn("assistant", "Noted."),
            turn("user", "What is my name?"),
        ]
    );

    // The items, as the MTA module's table holds them.
    let items = s
        .dynamodb
        .scan()
        .table_name(CONVERSATIONS)
        .send()
        .await
        .unwrap()
        .items()
        .to_vec();
    assert_eq!(items.len(), 4);
    let mut rows: Vec<(u64, String, String)> = items
        .iter()
        .map(|item| {
            assert_eq!(
                item["session_id"].as_s().unwrap(),
                "s#session-1700000000000-abc123xyz"
            );
            let timestamp: u64 = item["timestamp"].as_n().unwrap().parse().unwrap();
            let expires: u64 = item["expires_at"].as_n().unwrap().parse().unwrap();
            assert_eq!(expires, timestamp / 1000 + 30 * 86_400, "30 days");
            (
                timestamp,
                item["role"].as_s().unwrap().clone(),
                item["message"].as_s().unwrap().clone(),
            )
        })
        .collect();
    rows.sort();
    assert_eq!(
        rows,
        [
            (NOW * 1000, "user".into(), "My name is Rana".into()),
            (NOW * 1000 + 1, "assistant".into(), "Noted.".into()),
            ((NOW + 1) * 1000, "user".into(), "What is my name?".into()),
            ((NOW + 1) * 1000 + 1, "assistant".into(), "Noted.".into()),
        ]
    );

    // The last five messages come back, oldest first; Converse's shape
    // drops the answer the five begin with.
    s.now.fetch_add(1, Ordering::SeqCst);
    handle_safely(app.clone(), chat(&say("I live in Beirut"))).await;
    s.now.fetch_add(1, Ordering::SeqCst);
    handle_safely(app.clone(), chat(&say("Where do I live?"))).await;
    assert_eq!(
        turns_sent(&s.model, 3),
        [
            turn("user", "What is my name?"),
            turn("assistant", "Noted."),
            turn("user", "I live in Beirut"),
            turn("assistant", "Noted."),
            turn("user", "Where do I live?"),
        ]
    );

    // A client that sends its history is answered from it, without a Query;
    // the exchange is still stored.
    s.now.fetch_add(1, Ordering::SeqCst);
    proxy.seen.lock().unwrap().clear();
    let with_history = json!({"message": "Thanks", "session_id": "session-1700000000000-abc123xyz",
        "conversation_history": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]});
    handle_safely(app.clone(), chat(&with_history.to_string())).await;
    assert_eq!(
        support::dynamodb_operations(&proxy.seen),
        ["UpdateItem", "BatchWriteItem"]
    );
    assert_eq!(turns_sent(&s.model, 4)[0], turn("user", "Hi"));

    // Without a session id the conversation is the address's, stored under
    // a hash of it: another session's messages never reach it, and the
    // address is in no item.
    s.now.fetch_add(1, Ordering::SeqCst);
    handle_safely(app.clone(), chat(r#"{"message": "Who am I?"}"#)).await;
    assert_eq!(turns_sent(&s.model, 5), [turn("user", "Who am I?")]);
    s.now.fetch_add(1, Ordering::SeqCst);
    handle_safely(app.clone(), chat(r#"{"message": "Still me"}"#)).await;
    assert_eq!(turns_sent(&s.model, 6).len(), 3);
    // Sending the address (or its stored key) as a session id reads nothing.
    for forged in [
        "192.0.2.10",
        &chat_runtime::memory::session_key(Layout::Cairn, None, "192.0.2.10"),
    ] {
        s.now.fetch_add(1, Ordering::SeqCst);
        let n = s.model.seen.lock().unwrap().len();
        handle_safely(
            app.clone(),
            chat(&json!({"message": "Whose?", "session_id": forged}).to_string()),
        )
        .await;
        assert_eq!(
            turns_sent(&s.model, n),
            [turn("user", "Whose?")],
            "{forged}"
        );
    }
    let by_ip = chat_runtime::memory::session_key(Layout::Cairn, None, "192.0.2.10");
    let sessions: std::collections::BTreeSet<String> = s
        .dynamodb
        .scan()
        .table_name(CONVERSATIONS)
        .send()
        .await
        .unwrap()
        .items()
        .iter()
        .map(|item| item["session_id"].as_s().unwrap().clone())
        .collect();
    assert_eq!(
        sessions,
        [
            "s#session-1700000000000-abc123xyz".to_owned(),
            by_ip.clone(),
            "s#192.0.2.10".to_owned(),
            format!("s#{by_ip}"),
        ]
        .into_iter()
        .collect()
    );

    // Messages reach the table, never the log.
    let logs = logs.lock().unwrap().join("\n");
    for text in ["My name is Rana", "Beirut", "Noted.", "Who am I?"] {
        assert!(!logs.contains(text), "{text} logged: {logs}");
    }
}

/// Memory is a help, not a dependency: when its table fails the chat is
/// still answered (from what the request carries), and the log says why
/// without the message.
#[tokio::test(flavor = "multi_thread")]
async fn a_failing_conversation_table_never_fails_the_chat() {
    let s = setup(&[]).await;
    // A table that does not exist: every read and write fails.
    let (app, logs) = s.variant(
        s.dynamodb.clone(),
        s.model_client().await,
        Some("no-such-table"),
    );
    let response = handle_safely(app, chat(r#"{"message": "Remember me"}"#)).await;
    assert_eq!(response.status, 200, "{response:?}");
    assert_eq!(body(&response)["response"], "Hello from the fake model");
    let logs = logs.lock().unwrap().join("\n");
    assert!(logs.contains("conversation memory unreadable"), "{logs}");
    assert!(logs.contains("conversation not stored"), "{logs}");
    assert!(logs.contains("ResourceNotFoundException"), "{logs}");
    assert!(!logs.contains("Remember me"), "{logs}");
}

/// An answer lost after DynamoDB stored the exchange (a 500 after the
/// write took effect): the SDK's retry puts the same two items again, under
/// the same keys, so the conversation holds each message once.
#[tokio::test(flavor = "multi_thread")]
async fn a_lost_answer_to_the_memory_write_stores_each_message_once() {
    let s = setup_with(&[("CONVERSATIONS_TABLE", CONVERSATIONS)], |_| {
        converse_reply("Noted.")
    })
    .await;
    let target = s._moto.endpoint.clone();
    let writes = Arc::new(AtomicU64::new(0));
    let counted = writes.clone();
    let proxy = FakeServer::start(move |seen| {
        let answer = support::forward(&target, seen);
        let batch = seen
            .headers
            .iter()
            .any(|(k, v)| k == "x-amz-target" && v.ends_with(".BatchWriteItem"));
        if batch && counted.fetch_add(1, Ordering::SeqCst) == 0 {
            return Answer::json(
                500,
                json!({"__type": "com.amazonaws.dynamodb.v20120810#InternalServerError", "message": "answer lost"}),
            );
        }
        answer
    });
    support::set_test_credentials();
    let retrying = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(&proxy.endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(3))
        .load()
        .await;
    let (app, logs) = s.variant(
        aws_sdk_dynamodb::Client::new(&retrying),
        s.model_client().await,
        Some(CONVERSATIONS),
    );
    let response = handle_safely(
        app,
        chat(r#"{"message": "Remember me", "session_id": "lost-answer"}"#),
    )
    .await;
    assert_eq!(response.status, 200, "{response:?}");
    assert_eq!(
        writes.load(Ordering::SeqCst),
        2,
        "one lost answer, one retry"
    );
    let items = s
        .dynamodb
        .scan()
        .table_name(CONVERSATIONS)
        .send()
        .await
        .unwrap()
        .items()
        .to_vec();
    let mut said: Vec<&str> = items
        .iter()
        .map(|i| i["message"].as_s().unwrap().as_str())
        .collect();
    said.sort();
    assert_eq!(said, ["Noted.", "Remember me"]);
    let logs = logs.lock().unwrap().join("\n");
    assert!(!logs.contains("conversation not stored"), "{logs}");
}
