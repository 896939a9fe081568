//! The chat runtime as cairn ships it, served to the MTA chat backend's real
//! client. The binary is the `bootstrap` that `cairn build dev` zips; it
//! runs as the local server (`bootstrap serve`) and in Lambda mode under
//! cargo-lambda's emulator of the Lambda runtime API (installed from PyPI
//! by the test into a virtualenv in the target directory). DynamoDB is
//! moto; Bedrock is a fake speaking Converse's wire format.
//!
//! The requests are the MTA project's own: its Postman collection (read
//! from `runtime/tests/fixtures/mta/postman_collection.json`), the
//! scenarios of its TESTING.md and the memory example of its
//! API_INTEGRATION.md, with the answers those documents give.

mod common;
#[path = "../runtime/tests/support/mod.rs"]
mod support;

use serde_json::{json, Value};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use support::{
    converse_reply, create_conversations_table, create_table, sdk_config, FakeServer, Moto,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const CARGO_LAMBDA: &str = "cargo-lambda==1.9.2";
const RATE_TABLE: &str = "mta-chat-ratelimit";
const CONVERSATIONS_TABLE: &str = "mta-chat-conversations";
const MODEL: &str = "openai.gpt-oss-120b-1:0";
const ANSWER: &str = "At Medical Tech Aesthetic, we offer laser and skin treatments.";
const PROD_ORIGIN: &str = "https://medical-tech-aesthetic.com";
/// The MTA Terraform's table names in its dev environment.
const MTA_RATE_TABLE: &str = "mta-chat-ratelimit-dev";
const MTA_CONVERSATIONS_TABLE: &str = "mta-chat-conversations-dev";

fn manifest_dir() -> PathBuf {
    PathBuf::from(common::manifest_dir())
}

use common::target_dir;

fn fixture(name: &str) -> Value {
    let path = manifest_dir().join("runtime/tests/fixtures").join(name);
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// The `bootstrap` in the zip `cairn build dev` makes for the dev stack's
/// function, unzipped once per package (`target/runtime-tests/`, named by
/// the zip's hash; unzipped beside it and renamed, so a concurrent run
/// never executes a half-written file).
fn bootstrap() -> &'static Path {
    static BOOTSTRAP: OnceLock<PathBuf> = OnceLock::new();
    BOOTSTRAP.get_or_init(|| {
        let output = Command::new(env!("CARGO_BIN_EXE_cairn"))
            .current_dir(manifest_dir())
            .args(["build", "dev", "--local-state", "--no-color"])
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "cairn build dev: {stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        );
        // "lambda_function.chat: PATH (N bytes, sha256 HASH)"
        let (zip, hash) = stdout
            .lines()
            .find_map(|l| l.strip_prefix("lambda_function.chat: "))
            .and_then(|l| l.split_once(" ("))
            .and_then(|(zip, rest)| Some((zip, rest.split_once("sha256 ")?.1)))
            .unwrap_or_else(|| panic!("no package for `chat` in: {stdout}"));
        let name: String = hash
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .take(16)
            .collect();
        let directory = target_dir().join("runtime-tests");
        std::fs::create_dir_all(&directory).unwrap();
        let binary = directory.join(format!("bootstrap-{name}"));
        if binary.exists() {
            return binary;
        }
        let partial = directory.join(format!(".bootstrap.{}", std::process::id()));
        let status = Command::new("python3")
            .args([
                "-c",
                "import sys, zipfile; open(sys.argv[2], 'wb').write(zipfile.ZipFile(sys.argv[1]).read('bootstrap'))",
                zip,
            ])
            .arg(&partial)
            .status()
            .unwrap();
        assert!(status.success());
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&partial, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::rename(&partial, &binary).unwrap();
        binary
    })
}

/// cargo-lambda, from PyPI, in a virtualenv kept in the target directory.
fn cargo_lambda() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        common::python_tools("cargo-lambda", &[CARGO_LAMBDA]).join("bin/cargo-lambda")
    })
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_for_port(port: u16, what: &str) {
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{what} did not start listening"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// DynamoDB on moto with the dev stack's two tables, and the model; with
/// `recorded`, the function reaches moto through a proxy that records
/// every call.
struct Backend {
    moto: Moto,
    model: FakeServer,
    proxy: Option<FakeServer>,
}

impl Backend {
    async fn recorded() -> Backend {
        let mut backend = Backend::start().await;
        let moto = backend.moto.endpoint.clone();
        backend.proxy = Some(FakeServer::start(move |seen| support::forward(&moto, seen)));
        backend
    }

    /// Where the function sends its DynamoDB calls.
    fn dynamodb(&self) -> &str {
        self.proxy
            .as_ref()
            .map_or(&self.moto.endpoint, |p| &p.endpoint)
    }

    /// The IAM actions the function used, by table.
    fn actions_used(&self) -> std::collections::BTreeSet<(String, String)> {
        let proxy = self.proxy.as_ref().expect("a recorded backend");
        let seen = proxy.seen.lock().unwrap().clone();
        let mut used = std::collections::BTreeSet::new();
        for call in seen {
            let Some((_, target)) = call.headers.iter().find(|(k, _)| k == "x-amz-target") else {
                continue;
            };
            let operation = target.trim_start_matches("DynamoDB_20120810.");
            let body: Value = serde_json::from_str(&call.body).unwrap();
            let tables: Vec<String> = match body["TableName"].as_str() {
                Some(table) => vec![table.to_owned()],
                None => body["RequestItems"]
                    .as_object()
                    .map(|items| items.keys().cloned().collect())
                    .unwrap_or_default(),
            };
            for table in tables {
                used.insert((table, format!("dynamodb:{operation}")));
            }
        }
        used
    }

    async fn start() -> Backend {
        let backend = Backend::without_tables();
        let aws = sdk_config(&backend.moto.endpoint).await;
        create_table(&aws, RATE_TABLE).await;
        create_conversations_table(&aws, CONVERSATIONS_TABLE).await;
        backend
    }

    /// The tables exactly as the MTA Terraform creates them (its modules
    /// `dynamodb_ratelimit` and `dynamodb_conversations`, with envs/dev's
    /// names): rate limit keyed `ip` (S) and `minute_bucket` (S),
    /// conversations `session_id` (S) and `timestamp` (N), TTL on
    /// `expires_at` for both.
    async fn mta(recorded: bool) -> Backend {
        let mut backend = Backend::without_tables();
        let aws = sdk_config(&backend.moto.endpoint).await;
        support::create_keyed_table(&aws, MTA_RATE_TABLE, "ip", "minute_bucket", false).await;
        support::create_keyed_table(
            &aws,
            MTA_CONVERSATIONS_TABLE,
            "session_id",
            "timestamp",
            true,
        )
        .await;
        let dynamodb = aws_sdk_dynamodb::Client::new(&aws);
        for table in [MTA_RATE_TABLE, MTA_CONVERSATIONS_TABLE] {
            dynamodb
                .update_time_to_live()
                .table_name(table)
                .time_to_live_specification(
                    aws_sdk_dynamodb::types::TimeToLiveSpecification::builder()
                        .enabled(true)
                        .attribute_name("expires_at")
                        .build()
                        .unwrap(),
                )
                .send()
                .await
                .unwrap();
        }
        if recorded {
            let moto = backend.moto.endpoint.clone();
            backend.proxy = Some(FakeServer::start(move |seen| support::forward(&moto, seen)));
        }
        backend
    }

    fn without_tables() -> Backend {
        let moto = Moto::start();
        // Converse for the runtime; InvokeModel with the OpenAI-style body
        // the MTA Python handler sends (for the side-by-side figures).
        let model = FakeServer::start(|seen| {
            if seen.path.ends_with("/invoke") {
                support::Answer::json(
                    200,
                    json!({"choices": [{"index": 0, "message": {"role": "assistant", "content": ANSWER}}]}),
                )
            } else {
                converse_reply(ANSWER)
            }
        });
        Backend {
            moto,
            model,
            proxy: None,
        }
    }

    /// The messages (role, text) and the system prompt of the model call
    /// whose last message is `message`.
    fn model_call(&self, message: &str) -> (Vec<(String, String)>, String) {
        let seen = self.model.seen.lock().unwrap().clone();
        for call in seen.iter().rev() {
            let body: Value = serde_json::from_str(&call.body).unwrap();
            let turns: Vec<(String, String)> = body["messages"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| {
                    let text = m["content"][0]["text"].as_str().unwrap_or_default();
                    (m["role"].as_str().unwrap().to_owned(), text.to_owned())
                })
                .collect();
            if turns.last().is_some_and(|(_, text)| text == message) {
                let system = body["system"][0]["text"].as_str().unwrap_or_default();
                return (turns, system.to_owned());
            }
        }
        panic!("the model was never asked {message:?}")
    }
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Mode {
    /// `bootstrap serve`: plain HTTP on loopback.
    Local,
    /// `bootstrap` under cargo-lambda's runtime API emulator, invoked with
    /// API Gateway HTTP API (payload 2.0) events.
    Lambda,
}

struct Runtime {
    mode: Mode,
    port: u16,
    function: Child,
    emulator: Option<Child>,
    log: PathBuf,
    _directory: tempfile::TempDir,
}

impl Drop for Runtime {
    fn drop(&mut self) {
        for child in [Some(&mut self.function), self.emulator.as_mut()]
            .into_iter()
            .flatten()
        {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[derive(Debug)]
struct Answer {
    status: u16,
    /// Names in lower case.
    headers: Vec<(String, String)>,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

/// The bootstrap with nothing in its environment but the AWS endpoints
/// and test credentials, its log to `log`.
fn bare_function(backend: &Backend, log: &Path) -> Command {
    let mut command = Command::new(bootstrap());
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_ENDPOINT_URL", backend.dynamodb())
        .env("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", &backend.model.endpoint)
        .stdout(std::fs::File::create(log).unwrap())
        .stderr(Stdio::inherit());
    command
}

/// The function's environment, as the dev stack sets it (and the MTA
/// guide's limits: 10 requests per 60 seconds).
fn function(backend: &Backend, cors: &str, log: &Path) -> Command {
    let mut command = bare_function(backend, log);
    command
        .env("RATE_LIMIT_TABLE", RATE_TABLE)
        .env("RATE_LIMIT_MAX_REQUESTS", "10")
        .env("RATE_LIMIT_WINDOW_SECONDS", "60")
        .env("CONVERSATIONS_TABLE", CONVERSATIONS_TABLE)
        .env("CONVERSATION_MEMORY_MESSAGES", "5")
        .env("CONVERSATION_TTL_DAYS", "30")
        .env("MODEL_ID", MODEL)
        .env("CORS_ALLOW_ORIGINS", cors)
        .env("ENVIRONMENT", "dev")
        .env("METRICS_NAMESPACE", "MtaChat");
    command
}

impl Runtime {
    fn start(mode: Mode, backend: &Backend, cors: &str) -> Runtime {
        Runtime::launch(mode, |log| function(backend, cors, log))
    }

    /// The function `command` makes (given the log file to write), in `mode`.
    fn launch(mode: Mode, command: impl FnOnce(&Path) -> Command) -> Runtime {
        let directory = tempfile::tempdir().unwrap();
        let log = directory.path().join("function.log");
        let port = free_port();
        let mut command = command(&log);
        let (function, emulator) = match mode {
            Mode::Local => {
                let function = command
                    .args(["serve", "--port", &port.to_string()])
                    .spawn()
                    .unwrap();
                wait_for_port(port, "the runtime");
                (function, None)
            }
            Mode::Lambda => {
                // Invocations wait in the emulator until the function asks
                // for the next one; the function needs the emulator up.
                let emulator = emulator(port);
                wait_for_port(port, "cargo-lambda's emulator");
                let function = lambda_environment(&mut command, port).spawn().unwrap();
                (function, Some(emulator))
            }
        };
        Runtime {
            mode,
            port,
            function,
            emulator,
            log,
            _directory: directory,
        }
    }

    /// The address a numbered client calls from: a loopback address of its
    /// own locally (the server sees the connection's address), a
    /// documentation address in the event's `sourceIp` under Lambda.
    fn client(&self, n: u8) -> IpAddr {
        match self.mode {
            Mode::Local => IpAddr::V4(Ipv4Addr::new(127, 0, 0, n)),
            Mode::Lambda => IpAddr::V4(Ipv4Addr::new(198, 51, 100, n)),
        }
    }

    /// A request as the browser (or curl) sends it to the dev endpoint,
    /// `https://API.execute-api.us-east-1.amazonaws.com/dev/chat`.
    async fn send(
        &self,
        client: IpAddr,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> Answer {
        match self.mode {
            Mode::Local => {
                let mut head = format!("{method} {path} HTTP/1.1\r\nhost: localhost\r\n");
                for (k, v) in headers {
                    head.push_str(&format!("{k}: {v}\r\n"));
                }
                head.push_str(&format!(
                    "content-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                ));
                http(Some(client), self.port, head + body).await
            }
            Mode::Lambda => {
                let event = event(client, method, path, headers, body);
                self.invoke(&event).await
            }
        }
    }

    /// `POST /chat` with a JSON body, as the widget and curl send it.
    async fn chat(&self, client: IpAddr, body: &str) -> Answer {
        self.send(client, "POST", "/chat", JSON, body).await
    }

    /// An Invoke through the emulator; the answer must be a valid payload
    /// 2.0 proxy response.
    async fn invoke(&self, event: &Value) -> Answer {
        // The emulator holds an invocation until a function asks for it: a
        // function that exited (bad configuration) would leave it waiting.
        let invocation = invoke_raw(self.port, event);
        tokio::pin!(invocation);
        let answer = loop {
            tokio::select! {
                answer = &mut invocation => break answer,
                _ = tokio::time::sleep(Duration::from_millis(200)) => assert!(
                    self.function_alive(),
                    "the function exited; its log: {}",
                    self.logs()
                ),
            }
        };
        assert_eq!(answer.status, 200, "the emulator's answer: {answer:?}");
        proxy_response(&serde_json::from_str(&answer.body).unwrap())
    }

    fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap()
    }
}

/// cargo-lambda's emulator of the Lambda runtime and Invoke APIs on
/// loopback. It runs `cargo metadata`, so it starts in the runtime's
/// package directory.
fn emulator(port: u16) -> Child {
    Command::new(cargo_lambda())
        .current_dir(manifest_dir().join("runtime"))
        .args([
            "lambda",
            "watch",
            "--only-lambda-apis",
            "--invoke-address",
            "127.0.0.1",
            "--invoke-port",
            &port.to_string(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("cargo-lambda runs")
}

/// What the emulator tells a function to set (`cargo lambda watch
/// --only-lambda-apis` prints it), with the dev stack's memory size.
fn lambda_environment(command: &mut Command, port: u16) -> &mut Command {
    command
        .env(
            "AWS_LAMBDA_RUNTIME_API",
            format!("http://127.0.0.1:{port}/.rt"),
        )
        .env("AWS_LAMBDA_FUNCTION_NAME", "_")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512")
}

async fn invoke_raw(port: u16, event: &Value) -> Answer {
    let body = event.to_string();
    let head = format!(
        "POST /2015-03-31/functions/_/invocations HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    http(None, port, head + &body).await
}

/// API Gateway's event for a request to the `dev` stage: header names in
/// lower case, the stage in `rawPath`, the caller in `sourceIp`.
fn event(client: IpAddr, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Value {
    let mut event = fixture("apigw-v2-post-chat.json");
    let mut names = serde_json::Map::new();
    for (k, v) in headers {
        names.insert(k.to_ascii_lowercase(), json!(v));
    }
    names.insert("content-length".into(), json!(body.len().to_string()));
    names.insert("x-forwarded-for".into(), json!(client.to_string()));
    event["headers"] = Value::Object(names);
    event["routeKey"] = json!(format!("{method} {path}"));
    event["rawPath"] = json!(format!("/dev{path}"));
    event["requestContext"]["stage"] = json!("dev");
    event["requestContext"]["routeKey"] = json!(format!("{method} {path}"));
    event["requestContext"]["http"]["method"] = json!(method);
    event["requestContext"]["http"]["path"] = json!(format!("/dev{path}"));
    event["requestContext"]["http"]["sourceIp"] = json!(client.to_string());
    event["requestContext"]["requestId"] = json!(format!("{:016x}", fastrand_u64()));
    if body.is_empty() {
        event.as_object_mut().unwrap().remove("body");
    } else {
        event["body"] = json!(body);
    }
    event
}

fn fastrand_u64() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

/// A payload format 2.0 response as API Gateway reads it: `statusCode`, a
/// map of string `headers`, a string `body`, `isBase64Encoded`, and, if
/// present, `cookies` as strings; nothing else.
fn proxy_response(payload: &Value) -> Answer {
    let object = payload.as_object().expect("the response is an object");
    for key in object.keys() {
        assert!(
            [
                "statusCode",
                "headers",
                "body",
                "isBase64Encoded",
                "cookies"
            ]
            .contains(&key.as_str()),
            "{key} is not a payload 2.0 response field: {payload}"
        );
    }
    let status = payload["statusCode"].as_u64().expect("statusCode") as u16;
    assert!((100..600).contains(&status), "{payload}");
    assert_eq!(payload["isBase64Encoded"], json!(false), "{payload}");
    if let Some(cookies) = payload.get("cookies") {
        assert!(cookies.as_array().unwrap().iter().all(Value::is_string));
    }
    let headers = payload["headers"]
        .as_object()
        .expect("headers")
        .iter()
        .map(|(k, v)| {
            let value = v
                .as_str()
                .unwrap_or_else(|| panic!("header {k} is not a string"));
            (k.to_ascii_lowercase(), value.to_owned())
        })
        .collect();
    Answer {
        status,
        headers,
        body: payload["body"].as_str().expect("body").to_owned(),
    }
}

/// One HTTP/1.1 exchange on a new connection, from `source` if given.
async fn http(source: Option<IpAddr>, port: u16, request: String) -> Answer {
    exchange(source, port, request, false).await
}

/// One exchange; with `half_close`, the client shuts its sending side once
/// the request is written (as a client whose body fell short does).
async fn exchange(source: Option<IpAddr>, port: u16, request: String, half_close: bool) -> Answer {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    if let Some(ip) = source {
        socket.bind(SocketAddr::new(ip, 0)).unwrap();
    }
    let mut stream = socket
        .connect(SocketAddr::from(([127, 0, 0, 1], port)))
        .await
        .unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    if half_close {
        stream.shutdown().await.unwrap();
    }
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, rest) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not HTTP: {text}"));
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"));
    let body = if chunked {
        unchunk(rest)
    } else {
        rest.to_owned()
    };
    Answer {
        status,
        headers,
        body,
    }
}

fn unchunk(mut rest: &str) -> String {
    let mut body = String::new();
    while let Some((size, after)) = rest.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        body.push_str(&after[..size]);
        rest = after[size..].trim_start_matches("\r\n");
    }
    body
}

/// Waits, if needed, until the current 60-second window has 15 seconds
/// left at least, so that a burst of requests counts in one window (the
/// limiter's windows are aligned to the minute, like the MTA backend's).
fn early_in_a_window() {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    let into = now.as_secs_f64() % 60.0;
    if into > 45.0 {
        std::thread::sleep(Duration::from_secs_f64(60.0 - into + 0.05));
    }
}

const JSON: &[(&str, &str)] = &[("Content-Type", "application/json")];

fn assert_rate_headers(answer: &Answer, remaining: u32) {
    assert_eq!(answer.header("x-ratelimit-limit"), Some("10"), "{answer:?}");
    assert_eq!(
        answer.header("x-ratelimit-remaining"),
        Some(remaining.to_string().as_str()),
        "{answer:?}"
    );
    assert_eq!(
        answer.header("x-ratelimit-window"),
        Some("60"),
        "{answer:?}"
    );
}

/// TESTING.md, "Basic Success Test": 200, `response` and `model`, and
/// the three rate-limit headers.
fn assert_chat_answer(answer: &Answer, remaining: u32) {
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.json(), json!({"response": ANSWER, "model": MODEL}));
    assert_eq!(answer.header("content-type"), Some("application/json"));
    assert_rate_headers(answer, remaining);
}

fn assert_error(answer: &Answer, status: u16, error: &str, message: &str) {
    assert_eq!(answer.status, status, "{answer:?}");
    assert_eq!(answer.json(), json!({"error": error, "message": message}));
}

/// The 429 TESTING.md shows. `retry_after` is the time left in the window
/// (the MTA backend always says the window's length, 60): at most 60.
fn assert_rate_limited(answer: &Answer) {
    assert_eq!(answer.status, 429, "{answer:?}");
    let body = answer.json();
    let retry_after = body["retry_after"].as_u64().expect("retry_after");
    assert!((1..=60).contains(&retry_after), "{body}");
    assert_eq!(
        body,
        json!({"error": "Rate limit exceeded", "message": "Too many requests. Maximum 10 requests per 60 seconds.", "retry_after": retry_after})
    );
    assert_eq!(
        answer.header("retry-after"),
        Some(retry_after.to_string().as_str())
    );
    assert_rate_headers(answer, 0);
}

/// The documented requests and their documented answers, through `rt`.
/// Each scenario calls from its own address (the limit is per address).
async fn documented_requests(rt: &Runtime, backend: &Backend, cors: &str) {
    let mut next_client = 10u8;
    let mut client = || {
        next_client += 1;
        rt.client(next_client)
    };

    // The Postman collection's dev requests, as the file has them.
    let collection = fixture("mta/postman_collection.json");
    let dev = &collection["item"][0];
    assert_eq!(dev["name"], "Dev Environment");
    let requests = dev["item"].as_array().unwrap();
    assert_eq!(requests.len(), 6, "the collection's six dev requests");
    for item in requests {
        let name = item["name"].as_str().unwrap();
        let request = &item["request"];
        assert_eq!(request["url"]["raw"], "{{dev_api_endpoint}}");
        let headers: Vec<(String, String)> = request["header"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| {
                (
                    h["key"].as_str().unwrap().to_owned(),
                    h["value"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        let headers: Vec<(&str, &str)> = headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let method = request["method"].as_str().unwrap();
        let body = request["body"]["raw"].as_str().unwrap();
        let from = client();
        let send = || rt.send(from, method, "/chat", &headers, body);
        match name {
            "Chat - Basic Request" => assert_chat_answer(&send().await, 9),
            "Chat - With Custom System Prompt" => {
                assert_chat_answer(&send().await, 9);
                // The stacks leave ALLOW_SYSTEM_PROMPT_OVERRIDE off: the
                // request is answered with the stack's prompt.
                let (_, system) = backend.model_call("Tell me about your clinic");
                assert_eq!(system, chat_runtime_default_prompt());
            }
            // "Send this multiple times quickly (>10 requests in 60 seconds)".
            "Test Rate Limiting" => {
                early_in_a_window();
                for remaining in (0..10).rev() {
                    assert_chat_answer(&send().await, remaining);
                }
                assert_rate_limited(&send().await);
            }
            "Invalid Request - Missing Message" | "Invalid Request - Empty Message" => {
                assert_error(
                    &send().await,
                    400,
                    "Missing message",
                    "Request must include a \"message\" field",
                );
            }
            "Invalid Request - Bad JSON" => assert_error(
                &send().await,
                400,
                "Invalid JSON",
                "Request body must be valid JSON",
            ),
            other => panic!("the collection has a request this test does not know: {other}"),
        }
    }

    // TESTING.md, "2. Rate Limiting Test": 12 requests, 1-10 answered with
    // a decreasing X-RateLimit-Remaining, 11-12 refused.
    early_in_a_window();
    let a = client();
    for i in 1..=12u32 {
        let answer = rt.chat(a, r#"{"message":"test"}"#).await;
        if i <= 10 {
            assert_chat_answer(&answer, 10 - i);
        } else {
            assert_rate_limited(&answer);
        }
    }
    // "Security Testing": another address is not limited by the first's.
    let b = client();
    let answer = rt.chat(b, r#"{"message":"test"}"#).await;
    assert_chat_answer(&answer, 9);

    // "3. Custom System Prompt".
    let answer = rt
        .chat(
            client(),
            r#"{
    "message": "Tell me about botox",
    "system_prompt": "You are a medical aesthetics expert. Be concise and professional."
  }"#,
        )
        .await;
    assert_chat_answer(&answer, 9);

    // "4. Error Handling Tests", as curl sends them.
    let c = client();
    for (body, remaining, error, message) in [
        (
            r#"{"foo":"bar"}"#,
            9,
            "Missing message",
            "Request must include a \"message\" field",
        ),
        (
            r#"{"message":""}"#,
            8,
            "Missing message",
            "Request must include a \"message\" field",
        ),
        (
            "{invalid json",
            7,
            "Invalid JSON",
            "Request body must be valid JSON",
        ),
    ] {
        let answer = rt.chat(c, body).await;
        assert_error(&answer, 400, error, message);
        assert_rate_headers(&answer, remaining);
    }

    // "5. CORS Preflight (Browser)".
    let answer = rt
        .send(
            client(),
            "OPTIONS",
            "/chat",
            &[
                ("Origin", PROD_ORIGIN),
                ("Access-Control-Request-Method", "POST"),
                ("Access-Control-Request-Headers", "content-type"),
            ],
            "",
        )
        .await;
    assert!(answer.status == 204 || answer.status == 200, "{answer:?}");
    assert_eq!(answer.header("access-control-allow-origin"), Some(cors));
    let methods = answer.header("access-control-allow-methods").unwrap();
    for method in ["POST", "OPTIONS"] {
        assert!(methods.contains(method), "{methods}");
    }
    let allowed = answer.header("access-control-allow-headers").unwrap();
    for header in ["content-type", "x-request-id"] {
        assert!(allowed.contains(header), "{allowed}");
    }

    // "Test Injection Attacks": a normal answer.
    let answer = rt
        .chat(client(), r#"{"message":"test; DROP TABLE users--"}"#)
        .await;
    assert_chat_answer(&answer, 9);

    // API_INTEGRATION.md, "With Conversation Memory": the history reaches
    // the model before the message.
    let answer = rt
        .chat(
            client(),
            r#"{
  "message": "User's question",
  "session_id": "unique-user-id",
  "conversation_history": [
    {"role": "user", "content": "Previous question"},
    {"role": "assistant", "content": "Previous answer"}
  ]
}"#,
        )
        .await;
    assert_chat_answer(&answer, 9);
    let (turns, _) = backend.model_call("User's question");
    assert_eq!(
        turns,
        [
            ("user".to_owned(), "Previous question".to_owned()),
            ("assistant".to_owned(), "Previous answer".to_owned()),
            ("user".to_owned(), "User's question".to_owned()),
        ]
    );
    // Its React hook's session: the first message goes with an empty
    // history; a later one without history (as its curl example) gets the
    // stored exchange back from the conversations table.
    let session = format!("session-{}-k3j5h7g9q", fastrand_u64() / 1_000_000);
    let d = client();
    let first = json!({"message": "What devices do you offer?", "session_id": session, "conversation_history": []});
    let answer = rt.chat(d, &first.to_string()).await;
    assert_chat_answer(&answer, 9);
    let second = json!({"message": "Which one is best for acne scars?", "session_id": session});
    let answer = rt.chat(d, &second.to_string()).await;
    assert_chat_answer(&answer, 8);
    let (turns, _) = backend.model_call("Which one is best for acne scars?");
    assert_eq!(
        turns,
        [
            ("user".to_owned(), "What devices do you offer?".to_owned()),
            ("assistant".to_owned(), ANSWER.to_owned()),
            (
                "user".to_owned(),
                "Which one is best for acne scars?".to_owned()
            ),
        ]
    );

    // No message reaches the function's log.
    let logs = rt.logs();
    assert!(logs.contains("\"status\":429"), "{logs}");
    for text in [
        "What aesthetic services",
        "Tell me about your clinic",
        "User's question",
        "Previous answer",
        "DROP TABLE",
        "acne scars",
        ANSWER,
    ] {
        assert!(!logs.contains(text), "{text:?} was logged");
    }
}

/// The runtime's default system prompt (its config module).
fn chat_runtime_default_prompt() -> &'static str {
    "You are a helpful assistant for Medical Tech Aesthetic. Answer questions about its services briefly and politely. Do not give medical diagnoses."
}

/// The DynamoDB actions the function's role grants in the shipped stack
/// (`stacks/base.yaml`), by table resource.
fn actions_granted() -> std::collections::BTreeSet<(String, String)> {
    let path = manifest_dir().join("stacks/base.yaml");
    let stack: Value = serde_saphyr::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let policies = stack["resources"]["function_role"]["properties"]["inline_policies"]
        .as_object()
        .unwrap();
    let mut granted = std::collections::BTreeSet::new();
    for policy in policies.values() {
        for statement in policy["Statement"].as_array().unwrap() {
            let resource = statement["Resource"].as_str().unwrap_or_default();
            let Some(table) = resource
                .strip_prefix("${")
                .and_then(|r| r.strip_suffix(".arn}"))
            else {
                continue;
            };
            let actions = match &statement["Action"] {
                Value::String(one) => vec![one.clone()],
                many => many
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|a| a.as_str().unwrap().to_owned())
                    .collect(),
            };
            for action in actions.into_iter().filter(|a| a.starts_with("dynamodb:")) {
                granted.insert((table.to_owned(), action));
            }
        }
    }
    granted
}

#[tokio::test(flavor = "multi_thread")]
async fn the_mta_clients_documented_requests_get_the_documented_answers_from_the_local_server() {
    let backend = Backend::recorded().await;
    let rt = Runtime::start(Mode::Local, &backend, "*");
    documented_requests(&rt, &backend, "*").await;
    // GET /ready probes the rate-limit table (as the start does).
    let answer = rt.send(rt.client(99), "GET", "/ready", &[], "").await;
    assert_eq!(answer.status, 200, "{answer:?}");

    // Least privilege: the role grants exactly the DynamoDB actions the
    // function used, on the tables it used them on.
    let used: std::collections::BTreeSet<(String, String)> = backend
        .actions_used()
        .into_iter()
        .map(|(table, action)| {
            let resource = match table.as_str() {
                RATE_TABLE => "rate_limit",
                CONVERSATIONS_TABLE => "conversations",
                other => panic!("a call on a table the stack does not have: {other}"),
            };
            (resource.to_owned(), action)
        })
        .collect();
    assert_eq!(used, actions_granted());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_mta_clients_documented_requests_get_the_documented_answers_in_lambda_mode() {
    let backend = Backend::start().await;
    // prod's CORS setting: the preflight names the site's origin.
    let rt = Runtime::start(Mode::Lambda, &backend, PROD_ORIGIN);
    documented_requests(&rt, &backend, PROD_ORIGIN).await;
}

/// Real events (from aws-lambda-rust-runtime's fixtures, one with a client
/// certificate, one as SAM local sends it with mixed-case header names),
/// as they are and moved to the chat routes; the repository's own fixtures
/// through `cargo lambda invoke`; every answer a valid payload 2.0 response.
#[tokio::test(flavor = "multi_thread")]
async fn lambda_mode_answers_real_api_gateway_events() {
    let backend = Backend::start().await;
    let rt = Runtime::start(Mode::Lambda, &backend, "*");

    let no_authorizer = fixture("lambda-events/example-apigw-v2-request-no-authorizer.json");
    let answer = rt.invoke(&no_authorizer).await;
    assert_eq!(answer.status, 404, "{answer:?}");
    assert_eq!(answer.json()["error"], "Not found");
    assert_eq!(answer.header("x-request-id"), Some("LV7fzho-PHcEJPw="));

    let mut health = no_authorizer.clone();
    health["rawPath"] = json!("/health");
    health["requestContext"]["http"]["path"] = json!("/health");
    let answer = rt.invoke(&health).await;
    assert_eq!(
        (answer.status, answer.body.as_str()),
        (200, r#"{"status":"ok"}"#)
    );
    assert_rate_headers(&answer, 10);

    let sam = fixture("lambda-events/example-apigw-sam-http-request.json");
    let answer = rt.invoke(&sam).await;
    assert_eq!(answer.status, 404, "{answer:?}");
    let mut chat = sam.clone();
    chat["rawPath"] = json!("/chat");
    chat["requestContext"]["http"]["path"] = json!("/chat");
    chat["requestContext"]["http"]["method"] = json!("POST");
    chat["headers"]["Content-Type"] = json!("application/json");
    chat["body"] = json!(r#"{"message":"What devices do you offer?"}"#);
    let answer = rt.invoke(&chat).await;
    assert_chat_answer(&answer, 9);
    let mut put = chat.clone();
    put["requestContext"]["http"]["method"] = json!("PUT");
    let answer = rt.invoke(&put).await;
    assert_eq!(answer.status, 405);
    assert_eq!(answer.header("allow"), Some("POST, OPTIONS"));

    // The repository's own events, through cargo-lambda's invoker.
    for (file, status) in [
        ("apigw-v2-get-health.json", 200),
        ("apigw-v2-options-preflight.json", 204),
        ("apigw-v2-post-chat.json", 200),
        ("apigw-v2-post-chat-base64-stage.json", 200),
    ] {
        let output = Command::new(cargo_lambda())
            .args([
                "lambda",
                "invoke",
                "--invoke-address",
                "127.0.0.1",
                "--invoke-port",
            ])
            .arg(rt.port.to_string())
            .arg("--data-file")
            .arg(manifest_dir().join("runtime/tests/fixtures").join(file))
            .args(["--output-format", "json", "_"])
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "{file}: {stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let answer = proxy_response(&serde_json::from_str(&stdout).unwrap());
        assert_eq!(answer.status, status, "{file}: {answer:?}");
    }

    // An event the function cannot read is its generic 500, not a crash:
    // the next invocation is served by the same process.
    let answer = rt.invoke(&json!({"hello": "world"})).await;
    assert_eq!(answer.status, 500);
    let answer = rt.invoke(&health).await;
    assert_eq!(answer.status, 200);
    assert!(rt.function_alive());
}

impl Runtime {
    /// Running: an exited child stays in /proc, as a zombie, until reaped.
    fn function_alive(&self) -> bool {
        std::fs::read_to_string(format!("/proc/{}/stat", self.function.id()))
            .ok()
            .and_then(|stat| {
                let state = stat.rsplit_once(") ")?.1.chars().next()?;
                Some(state != 'Z' && state != 'X')
            })
            .unwrap_or(false)
    }
}

/// Percentile of sorted milliseconds.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn peak_memory_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Cold start as Lambda sees it (process start to the first invocation
/// answered, `starts` times, each under a fresh emulator: one that saw a
/// function die keeps handing it invocations), then warm latency of `warm`
/// invocations of each event, and the process's peak memory. The emulator
/// adds its own loopback round trip to each figure.
async fn measure(
    spawn: &dyn Fn(u16) -> Child,
    first: &Value,
    warm: &[(&str, &Value)],
    starts: usize,
    count: usize,
) -> String {
    let mut cold = Vec::new();
    let mut last = None;
    // Start 0 is discarded: it pays for the emulator's and moto's first
    // calls of each kind, not for the function.
    for i in 0..=starts {
        let port = free_port();
        let mut apis = emulator(port);
        wait_for_port(port, "cargo-lambda's emulator");
        let started = Instant::now();
        let mut process = spawn(port);
        let answer = invoke_raw(port, first).await;
        if i > 0 {
            cold.push(started.elapsed().as_secs_f64() * 1000.0);
        }
        assert_eq!(answer.status, 200, "{answer:?}");
        if i == starts {
            last = Some((process, apis, port));
        } else {
            for child in [&mut process, &mut apis] {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
    let (mut child, mut apis, port) = last.unwrap();
    cold.sort_by(f64::total_cmp);
    let mut out = format!(
        "cold start (spawn to first answer, {starts} starts): median {:.1} ms, worst {:.1} ms",
        percentile(&cold, 50.0),
        cold[cold.len() - 1]
    );
    for (name, event) in warm {
        let mut times = Vec::with_capacity(count);
        for _ in 0..count {
            let started = Instant::now();
            let answer = invoke_raw(port, event).await;
            times.push(started.elapsed().as_secs_f64() * 1000.0);
            assert_eq!(answer.status, 200);
        }
        times.sort_by(f64::total_cmp);
        out.push_str(&format!(
            "\n{name} ({count} warm invocations): p50 {:.2} ms, p99 {:.2} ms",
            percentile(&times, 50.0),
            percentile(&times, 99.0)
        ));
    }
    out.push_str(&format!(
        "\npeak memory (VmHWM): {:.1} MB",
        peak_memory_kb(child.id()) as f64 / 1024.0
    ));
    for child in [&mut child, &mut apis] {
        let _ = child.kill();
        let _ = child.wait();
    }
    out
}

/// The figures in BENCHMARKS.md ("Lambda mode"): not a check, run by
/// `bash scripts/bench-lambda.sh`, which also sets `MTA_PYTHON` (a Python
/// with boto3) and `MTA_PYTHON_SRC` (the MTA repository's
/// `modules/lambda_chat/src`) to measure the seed's own handler.
#[tokio::test(flavor = "multi_thread")]
#[ignore]
async fn lambda_mode_figures() {
    let backend = Backend::start().await;
    let aws = sdk_config(&backend.moto.endpoint).await;
    let directory = tempfile::tempdir().unwrap();
    let chat = event(
        IpAddr::V4(Ipv4Addr::new(198, 51, 100, 7)),
        "POST",
        "/chat",
        JSON,
        r#"{"message":"What aesthetic services do you offer?","session_id":"bench-session"}"#,
    );
    let mut health = chat.clone();
    health["rawPath"] = json!("/dev/health");
    health["requestContext"]["http"]["method"] = json!("GET");
    health.as_object_mut().unwrap().remove("body");

    let log = directory.path().join("rust.log");
    let spawn = |port| {
        let mut command = function(&backend, "*", &log);
        command.env("RATE_LIMIT_MAX_REQUESTS", "1000000");
        lambda_environment(&mut command, port).spawn().unwrap()
    };
    let rust = measure(
        &spawn,
        &chat,
        &[("GET /health", &health), ("POST /chat", &chat)],
        20,
        500,
    )
    .await;
    // The memory's cost: the same chat without a conversations table (no
    // Query, no BatchWriteItem).
    let forgetful = |port| {
        let mut command = function(&backend, "*", &log);
        command
            .env("RATE_LIMIT_MAX_REQUESTS", "1000000")
            .env_remove("CONVERSATIONS_TABLE");
        lambda_environment(&mut command, port).spawn().unwrap()
    };
    let without = measure(
        &forgetful,
        &chat,
        &[("POST /chat without memory", &chat)],
        3,
        500,
    )
    .await;
    let without = without.lines().nth(1).unwrap_or_default();
    println!(
        "chat-runtime ({} bytes):\n{rust}\n{without}",
        std::fs::metadata(bootstrap()).unwrap().len()
    );

    // The seed's Python handler. awslambdaric (its runtime interface
    // client) crashes under cargo-lambda's emulator (segmentation fault
    // at its first poll), so it runs in-process: a fresh interpreter
    // imports the handler and calls it with the same event (spawn to the
    // first answer, as above minus the emulator's hop), then calls it warm.
    let (Ok(python), Ok(source)) = (std::env::var("MTA_PYTHON"), std::env::var("MTA_PYTHON_SRC"))
    else {
        println!("MTA_PYTHON / MTA_PYTHON_SRC unset: the Python handler is not measured");
        return;
    };
    // Its rate-limit table (hash `ip`, range `minute_bucket`, both strings).
    support::create_keyed_table(&aws, "mta-python-ratelimit", "ip", "minute_bucket", false).await;
    let script = r#"
import json, os, resource, sys, time
out = sys.stdout
sys.stdout = open(os.devnull, "w")  # the handler prints every event
import handler
event = json.loads(sys.argv[1])
answer = handler.lambda_handler(event, None)
assert answer["statusCode"] == 200, answer
print("first", file=out, flush=True)
times = []
for _ in range(500):
    started = time.perf_counter()
    assert handler.lambda_handler(event, None)["statusCode"] == 200
    times.append((time.perf_counter() - started) * 1000)
times.sort()
print("POST /chat (500 warm calls, in-process): p50 %.2f ms, p99 %.2f ms" % (times[249], times[494]), file=out)
print("peak memory (maxrss): %.1f MB" % (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024), file=out)
"#;
    let mut cold = Vec::new();
    let mut rest = String::new();
    for i in 0..=20 {
        let started = Instant::now();
        let mut child = Command::new(&python)
            .args(["-c", script, &chat.to_string()])
            .current_dir(&source)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_ENDPOINT_URL", &backend.moto.endpoint)
            .env("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", &backend.model.endpoint)
            .env("RATELIMIT_TABLE_NAME", "mta-python-ratelimit")
            .env("CONVERSATIONS_TABLE_NAME", CONVERSATIONS_TABLE)
            .env("BEDROCK_MODEL_ID", MODEL)
            .env("RATE_LIMIT_MAX", "1000000")
            .env("RATE_LIMIT_WINDOW", "60")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        std::io::BufRead::read_line(&mut stdout, &mut line).unwrap();
        assert_eq!(
            line.trim(),
            "first",
            "the Python handler did not answer 200"
        );
        if i > 0 {
            cold.push(started.elapsed().as_secs_f64() * 1000.0);
        }
        if i == 20 {
            std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
            let _ = child.wait();
        } else {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
    cold.sort_by(f64::total_cmp);
    println!(
        "the MTA Python handler:\ncold start (spawn to first answer, 20 starts, in-process): median {:.1} ms, worst {:.1} ms\n{}",
        percentile(&cold, 50.0),
        cold[cold.len() - 1],
        rest.trim()
    );
}

/// What the MTA function's role grants on its two tables (mta-infra
/// `modules/iam/main.tf`, policy `lambda_dynamodb`, commit a841840): a
/// function-only swap keeps that role, so the runtime may use no other
/// DynamoDB action (no BatchWriteItem, no DescribeTable).
const MTA_ROLE_ACTIONS: &[&str] = &[
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:Query",
];

/// The MTA function's environment and nothing of cairn's: the variables
/// its Terraform module `lambda_chat` sets, with envs/dev's values.
fn mta_function(backend: &Backend, log: &Path) -> Command {
    let mut command = bare_function(backend, log);
    command
        .env("BEDROCK_MODEL_ID", MODEL)
        .env("RATELIMIT_TABLE_NAME", MTA_RATE_TABLE)
        .env("CONVERSATIONS_TABLE_NAME", MTA_CONVERSATIONS_TABLE)
        .env("RATE_LIMIT_WINDOW", "60")
        .env("RATE_LIMIT_MAX", "10");
    command
}

fn unix_now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// The MTA Python function, as DynamoDB sees it (its `rate_limiter.py`
/// and `conversation_store.py` at commit a841840): the same requests,
/// sent here with the Rust SDK.
struct MtaPython {
    dynamodb: aws_sdk_dynamodb::Client,
}

impl MtaPython {
    async fn new(backend: &Backend) -> MtaPython {
        MtaPython {
            dynamodb: aws_sdk_dynamodb::Client::new(&sdk_config(&backend.moto.endpoint).await),
        }
    }

    /// `check_rate_limit(ip)` with `RATE_LIMIT_MAX=10`, `RATE_LIMIT_WINDOW=60`:
    /// the count after this request, or None when the limit refused it.
    async fn check_rate_limit(&self, ip: &str) -> Option<u64> {
        use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
        let now = unix_now_ms() / 1000;
        let result = self
            .dynamodb
            .update_item()
            .table_name(MTA_RATE_TABLE)
            .key("ip", AttributeValue::S(ip.to_owned()))
            .key("minute_bucket", AttributeValue::S((now / 60).to_string()))
            .update_expression("ADD request_count :inc SET expires_at = :ttl")
            .expression_attribute_values(":inc", AttributeValue::N("1".into()))
            .expression_attribute_values(":ttl", AttributeValue::N((now + 300).to_string()))
            .expression_attribute_values(":max", AttributeValue::N("10".into()))
            .condition_expression("attribute_not_exists(request_count) OR request_count < :max")
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match result {
            Ok(output) => Some(
                output.attributes().unwrap()["request_count"]
                    .as_n()
                    .unwrap()
                    .parse()
                    .unwrap(),
            ),
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                None
            }
            Err(error) => panic!("{error:?}"),
        }
    }

    /// `save_conversation(session_id, role, message)` at `timestamp` (ms).
    async fn save_conversation(&self, session_id: &str, role: &str, message: &str, timestamp: u64) {
        use aws_sdk_dynamodb::types::AttributeValue;
        self.dynamodb
            .put_item()
            .table_name(MTA_CONVERSATIONS_TABLE)
            .item("session_id", AttributeValue::S(session_id.to_owned()))
            .item("timestamp", AttributeValue::N(timestamp.to_string()))
            .item("role", AttributeValue::S(role.to_owned()))
            .item("message", AttributeValue::S(message.to_owned()))
            .item(
                "expires_at",
                AttributeValue::N((timestamp / 1000 + 30 * 24 * 60 * 60).to_string()),
            )
            .send()
            .await
            .unwrap();
    }

    /// `get_conversation_history(session_id, limit=5)`: (role, content),
    /// oldest first.
    async fn get_conversation_history(&self, session_id: &str) -> Vec<(String, String)> {
        use aws_sdk_dynamodb::types::AttributeValue;
        let output = self
            .dynamodb
            .query()
            .table_name(MTA_CONVERSATIONS_TABLE)
            .key_condition_expression("session_id = :sid")
            .expression_attribute_values(":sid", AttributeValue::S(session_id.to_owned()))
            .scan_index_forward(false)
            .limit(5)
            .send()
            .await
            .unwrap();
        output
            .items()
            .iter()
            .rev()
            .map(|item| {
                (
                    item["role"].as_s().unwrap().clone(),
                    item["message"].as_s().unwrap().clone(),
                )
            })
            .collect()
    }

    /// Every item stored for `session_id`, oldest first.
    async fn items(
        &self,
        session_id: &str,
    ) -> Vec<std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>> {
        use aws_sdk_dynamodb::types::AttributeValue;
        self.dynamodb
            .query()
            .table_name(MTA_CONVERSATIONS_TABLE)
            .key_condition_expression("session_id = :sid")
            .expression_attribute_values(":sid", AttributeValue::S(session_id.to_owned()))
            .send()
            .await
            .unwrap()
            .items()
            .to_vec()
    }
}

fn turns(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(role, text)| (role.to_string(), text.to_string()))
        .collect()
}

/// The runtime started with only the MTA function's variables, on the MTA
/// Terraform's tables, beside the MTA Python function: they count in the
/// same rate-limit items and read each other's conversations.
async fn swapped_onto_the_mta_tables(rt: &Runtime, backend: &Backend) {
    let python = MtaPython::new(backend).await;

    // Rate limiting: the Python function served 4 requests of this window,
    // the runtime serves the other 6 and refuses the 11th; the Python
    // function then refuses too.
    early_in_a_window();
    let a = rt.client(21);
    for count in 1..=4 {
        assert_eq!(python.check_rate_limit(&a.to_string()).await, Some(count));
    }
    for remaining in (0..6).rev() {
        assert_chat_answer(&rt.chat(a, r#"{"message":"test"}"#).await, remaining);
    }
    assert_rate_limited(&rt.chat(a, r#"{"message":"test"}"#).await);
    assert_eq!(python.check_rate_limit(&a.to_string()).await, None);
    // Another address has its own count, in either function.
    let b = rt.client(22);
    assert_eq!(python.check_rate_limit(&b.to_string()).await, Some(1));
    assert_chat_answer(&rt.chat(b, r#"{"message":"test"}"#).await, 8);
    assert_eq!(python.check_rate_limit(&b.to_string()).await, Some(3));

    // Memory: what the Python function stored is read back by the runtime,
    // under the raw session id, and what the runtime stores the Python
    // function reads.
    let earlier = unix_now_ms() - 60_000;
    let session = "unique-user-id";
    python
        .save_conversation(session, "user", "Previous question", earlier)
        .await;
    python
        .save_conversation(session, "assistant", "Previous answer", earlier + 1500)
        .await;
    let answer = rt
        .chat(
            rt.client(23),
            &json!({"message": "User's question", "session_id": session}).to_string(),
        )
        .await;
    assert_chat_answer(&answer, 9);
    let (sent, _) = backend.model_call("User's question");
    assert_eq!(
        sent,
        turns(&[
            ("user", "Previous question"),
            ("assistant", "Previous answer"),
            ("user", "User's question")
        ])
    );
    assert_eq!(
        python.get_conversation_history(session).await,
        turns(&[
            ("user", "Previous question"),
            ("assistant", "Previous answer"),
            ("user", "User's question"),
            ("assistant", ANSWER)
        ])
    );
    // The runtime's items carry the MTA's attributes, with its types: the
    // time in milliseconds, the expiry 30 days on, in seconds.
    let stored = python.items(session).await;
    assert_eq!(stored.len(), 4);
    for item in &stored[2..] {
        let mut names: Vec<&str> = item.keys().map(String::as_str).collect();
        names.sort();
        assert_eq!(
            names,
            ["expires_at", "message", "role", "session_id", "timestamp"]
        );
        let timestamp: u64 = item["timestamp"].as_n().unwrap().parse().unwrap();
        assert!(timestamp.abs_diff(unix_now_ms()) < 60_000, "{item:?}");
        let expires: u64 = item["expires_at"].as_n().unwrap().parse().unwrap();
        assert!(
            (expires as i64 - (timestamp / 1000 + 30 * 86_400) as i64).abs() <= 1,
            "{item:?}"
        );
    }

    // Without a session id, the conversation is the address's, stored
    // under the raw address as the MTA function stores it.
    let e = rt.client(26);
    python
        .save_conversation(&e.to_string(), "user", "My name is Rana", earlier)
        .await;
    python
        .save_conversation(&e.to_string(), "assistant", "Noted.", earlier + 900)
        .await;
    let answer = rt.chat(e, r#"{"message":"Who am I?"}"#).await;
    assert_chat_answer(&answer, 9);
    let (sent, _) = backend.model_call("Who am I?");
    assert_eq!(
        sent,
        turns(&[
            ("user", "My name is Rana"),
            ("assistant", "Noted."),
            ("user", "Who am I?")
        ])
    );
    assert_eq!(
        python.get_conversation_history(&e.to_string()).await,
        turns(&[
            ("user", "My name is Rana"),
            ("assistant", "Noted."),
            ("user", "Who am I?"),
            ("assistant", ANSWER)
        ])
    );
    // In this layout another client could read that conversation by
    // sending the address as its session id (the MTA function lets it):
    // the runtime refuses, before the table or the model is asked.
    let asked = backend.model.seen.lock().unwrap().len();
    let answer = rt
        .chat(
            rt.client(24),
            &json!({"message": "Whose?", "session_id": e.to_string()}).to_string(),
        )
        .await;
    assert_error(
        &answer,
        400,
        "Invalid session_id",
        "\"session_id\" must not be another client's address",
    );
    assert_eq!(backend.model.seen.lock().unwrap().len(), asked);

    // GET /ready reads the MTA table with its own key.
    let answer = rt.send(rt.client(25), "GET", "/ready", &[], "").await;
    assert_eq!(answer.status, 200, "{answer:?}");
    let logs = rt.logs();
    assert!(logs.contains(r#""layout":"mta""#), "{logs}");
}

#[tokio::test(flavor = "multi_thread")]
async fn with_only_the_mta_functions_variables_it_serves_from_the_mta_tables_locally() {
    let backend = Backend::mta(true).await;
    let rt = Runtime::launch(Mode::Local, |log| mta_function(&backend, log));
    swapped_onto_the_mta_tables(&rt, &backend).await;
    // The swap needs no IAM change: only actions the MTA role grants.
    let used = backend.actions_used();
    assert!(!used.is_empty());
    for (table, action) in &used {
        assert!(
            [MTA_RATE_TABLE, MTA_CONVERSATIONS_TABLE].contains(&table.as_str()),
            "{table}"
        );
        assert!(
            MTA_ROLE_ACTIONS.contains(&action.as_str()),
            "{action} on {table}: the MTA role does not grant it"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn with_only_the_mta_functions_variables_it_serves_from_the_mta_tables_in_lambda_mode() {
    let backend = Backend::mta(false).await;
    let rt = Runtime::launch(Mode::Lambda, |log| mta_function(&backend, log));
    swapped_onto_the_mta_tables(&rt, &backend).await;
}

/// What a check of the MTA client against the runtime found: a message of
/// zero-width characters reached the model, a non-JSON Content-Type was
/// served.
async fn invisible_messages_and_other_media_types(rt: &Runtime, backend: &Backend) {
    let c = rt.client(31);
    for body in [
        r#"{"message":"\u200b"}"#,
        r#"{"message":"\ufeff"}"#,
        r#"{"message":"\u2060"}"#,
        r#"{"message":"\u200c\u200d"}"#,
        "{\"message\":\"\u{200B} \u{FEFF}\\n\u{2060}\u{00AD}\"}",
    ] {
        assert_error(
            &rt.chat(c, body).await,
            400,
            "Missing message",
            "Request must include a \"message\" field",
        );
    }
    // A message with visible text around them is a message.
    assert_chat_answer(&rt.chat(c, r#"{"message":"\u200bhi\u200b"}"#).await, 4);
    assert_eq!(backend.model.seen.lock().unwrap().len(), 1);

    // Bodies a page can post without a CORS preflight are refused; JSON
    // (any case, any charset) and a request without a type are served.
    let d = rt.client(32);
    for (content_type, status) in [
        ("text/plain;charset=UTF-8", 415),
        ("application/x-www-form-urlencoded", 415),
        ("multipart/form-data; boundary=x", 415),
        ("application/json; charset=utf-8", 200),
        ("Application/JSON", 200),
    ] {
        let message = format!("sent as {content_type}");
        let answer = rt
            .send(
                d,
                "POST",
                "/chat",
                &[("Content-Type", content_type)],
                &json!({ "message": message }).to_string(),
            )
            .await;
        assert_eq!(answer.status, status, "{content_type}: {answer:?}");
        if status == 415 {
            assert_error(
                &answer,
                415,
                "Unsupported media type",
                "Content-Type must be application/json",
            );
            let seen = backend.model.seen.lock().unwrap();
            assert!(!seen.iter().any(|call| call.body.contains(&message)));
        }
    }
    let answer = rt
        .send(d, "POST", "/chat", &[], r#"{"message":"no type"}"#)
        .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    // Refused media types spend quota, like every invalid request.
    assert_rate_headers(&answer, 4);
}

#[tokio::test(flavor = "multi_thread")]
async fn invisible_messages_and_other_media_types_are_refused_by_the_local_server() {
    let backend = Backend::start().await;
    let rt = Runtime::start(Mode::Local, &backend, "*");
    invisible_messages_and_other_media_types(&rt, &backend).await;

    // A body shorter than its Content-Length (the client then closes its
    // side) is a bad request, not a large one; the model is not asked.
    let body = r#"{"message":"cut short"}"#;
    let request = format!(
        "POST /chat HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len() + 40
    );
    let answer = exchange(Some(rt.client(33)), rt.port, request, true).await;
    assert_error(
        &answer,
        400,
        "Bad request",
        "The request body ended before its Content-Length",
    );
    let seen = backend.model.seen.lock().unwrap();
    assert!(!seen.iter().any(|call| call.body.contains("cut short")));
}

#[tokio::test(flavor = "multi_thread")]
async fn invisible_messages_and_other_media_types_are_refused_in_lambda_mode() {
    let backend = Backend::start().await;
    let rt = Runtime::start(Mode::Lambda, &backend, "*");
    invisible_messages_and_other_media_types(&rt, &backend).await;
}

/// The MTA Python function itself (its `handler.lambda_handler`, imported
/// from `MTA_PYTHON_SRC` and run by `MTA_PYTHON`, a Python with boto3) on
/// the same tables as the runtime: the two count in the same rate-limit
/// items and each reads the conversation the other stored. Not run by
/// default, as it needs the MTA repository; `bash scripts/test-mta-python.sh`
/// runs it.
#[tokio::test(flavor = "multi_thread")]
#[ignore]
async fn the_mta_python_function_and_the_runtime_share_the_mta_tables() {
    let (Ok(python), Ok(source)) = (std::env::var("MTA_PYTHON"), std::env::var("MTA_PYTHON_SRC"))
    else {
        panic!("set MTA_PYTHON and MTA_PYTHON_SRC (scripts/test-mta-python.sh does)");
    };
    let backend = Backend::mta(false).await;
    let rt = Runtime::launch(Mode::Lambda, |log| mta_function(&backend, log));
    let a = rt.client(41);
    let chat = |message: &str, session: Option<&str>| {
        let mut body = json!({ "message": message });
        if let Some(session) = session {
            body["session_id"] = json!(session);
        }
        event(a, "POST", "/chat", JSON, &body.to_string())
    };
    // Each event through the Python handler: the status codes.
    let run_python = |events: Vec<Value>| {
        let script = r#"
import json, os, sys
out = sys.stdout
sys.stdout = open(os.devnull, "w")  # the handler prints every event
import handler
print(json.dumps([handler.lambda_handler(e, None)["statusCode"] for e in json.loads(sys.argv[1])]), file=out)
"#;
        let output = Command::new(&python)
            .args(["-c", script, &Value::Array(events).to_string()])
            .current_dir(&source)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_ENDPOINT_URL", &backend.moto.endpoint)
            .env("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", &backend.model.endpoint)
            .env("BEDROCK_MODEL_ID", MODEL)
            .env("RATELIMIT_TABLE_NAME", MTA_RATE_TABLE)
            .env("CONVERSATIONS_TABLE_NAME", MTA_CONVERSATIONS_TABLE)
            .env("RATE_LIMIT_WINDOW", "60")
            .env("RATE_LIMIT_MAX", "10")
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice::<Vec<u16>>(&output.stdout).unwrap()
    };

    early_in_a_window();
    // Python: 4 requests, one of them in a session.
    let mut first = vec![chat("test", None); 3];
    first.push(chat("Python's question", Some("shared-session")));
    assert_eq!(run_python(first), [200; 4]);
    // The runtime: the session's exchange comes back; 6 more answered,
    // then refused.
    let answer = rt
        .invoke(&chat("Runtime's question", Some("shared-session")))
        .await;
    assert_chat_answer(&answer, 5);
    let (sent, _) = backend.model_call("Runtime's question");
    assert_eq!(
        sent,
        turns(&[
            ("user", "Python's question"),
            ("assistant", ANSWER),
            ("user", "Runtime's question")
        ])
    );
    for remaining in (0..5).rev() {
        assert_chat_answer(&rt.invoke(&chat("test", None)).await, remaining);
    }
    assert_rate_limited(&rt.invoke(&chat("test", None)).await);
    // Python: refused too, in the same window.
    assert_eq!(run_python(vec![chat("test", None)]), [429]);
    // Python, from another address, in the session: it reads what the
    // runtime stored (its InvokeModel body carries the runtime's turn).
    let mut other = chat("Python's second question", Some("shared-session"));
    other["requestContext"]["http"]["sourceIp"] = json!(rt.client(42).to_string());
    assert_eq!(run_python(vec![other]), [200]);
    let seen = backend.model.seen.lock().unwrap().clone();
    let invoke = seen
        .iter()
        .rev()
        .find(|call| call.path.ends_with("/invoke"))
        .expect("the Python function called InvokeModel");
    let body: Value = serde_json::from_str(&invoke.body).unwrap();
    let messages: Vec<(String, String)> = body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .skip(1)
        .map(|m| {
            (
                m["role"].as_str().unwrap().to_owned(),
                m["content"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        messages[messages.len() - 3..],
        turns(&[
            ("user", "Runtime's question"),
            ("assistant", ANSWER),
            ("user", "Python's second question")
        ])
    );
}
