//! The runtime as a program: `chat-runtime serve` on loopback, DynamoDB on
//! moto, Bedrock behind a fake at the network boundary.

mod support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::{converse_reply, create_table, sdk_config, FakeServer, Moto};

fn http(port: u16, method: &str, path: &str, body: &str) -> (u16, String, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let request = format!("{method} {path} HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len());
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, head.to_ascii_lowercase(), body.to_owned())
}

fn runtime() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_chat-runtime"));
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true");
    command
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_answers_then_rate_limits() {
    let moto = Moto::start();
    create_table(&sdk_config(&moto.endpoint).await, "program-test").await;
    let model = FakeServer::start(|_| converse_reply("Hello over HTTP"));
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = runtime()
        .args(["serve", "--port", &port.to_string()])
        .env("RATE_LIMIT_TABLE", "program-test")
        .env("RATE_LIMIT_MAX_REQUESTS", "3")
        // An hour: the requests can never straddle two windows.
        .env("RATE_LIMIT_WINDOW_SECONDS", "3600")
        .env("AWS_ENDPOINT_URL", &moto.endpoint)
        .env("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", &model.endpoint)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "chat-runtime did not start listening"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let (status, _, body) = http(port, "GET", "/health", "");
    assert_eq!((status, body.as_str()), (200, r#"{"status":"ok"}"#));
    let (status, _, _) = http(port, "GET", "/ready", "");
    assert_eq!(status, 200);
    for _ in 0..3 {
        let (status, head, body) = http(port, "POST", "/chat", r#"{"message":"hi"}"#);
        assert_eq!(status, 200, "{body}");
        assert!(head.contains("x-ratelimit-limit: 3"), "{head}");
        assert!(body.contains("Hello over HTTP"), "{body}");
    }
    let (status, head, body) = http(port, "POST", "/chat", r#"{"message":"hi"}"#);
    assert_eq!(status, 429, "{body}");
    assert!(head.contains("retry-after:"), "{head}");
    assert!(
        body.contains("Maximum 3 requests per 3600 seconds."),
        "{body}"
    );
    let large = format!(r#"{{"message":"{}"}}"#, "x".repeat(20_000));
    let (status, _, _) = http(port, "POST", "/chat", &large);
    assert_eq!(status, 413);
    child.kill().unwrap();
    let output = child.wait_with_output().unwrap();
    let logs = String::from_utf8_lossy(&output.stdout);
    assert!(
        logs.lines()
            .all(|l| serde_json::from_str::<serde_json::Value>(l).is_ok()),
        "{logs}"
    );
    assert!(logs.contains("\"RateLimitHits\":1"), "{logs}");
}

#[test]
fn invalid_configuration_fails_at_start_naming_the_variable() {
    let output = runtime()
        .args(["serve"])
        .env("RATE_LIMIT_TABLE", "t")
        .env("RATE_LIMIT_WINDOW_SECONDS", "a minute")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("RATE_LIMIT_WINDOW_SECONDS"), "{stderr}");
    let output = runtime().output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("usage:"));
}
