//! Test support: moto on a free loopback port, and small fake servers that
//! speak a model's real wire format.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub struct Moto {
    child: Child,
    pub endpoint: String,
}

impl Moto {
    pub fn start() -> Moto {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto_server is installed (scripts/test.sh installs it)");
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "moto did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Moto {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        }
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Answer {
    pub fn json(status: u16, body: serde_json::Value) -> Answer {
        Answer {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.to_string(),
        }
    }
}

/// An HTTP/1.1 server on loopback answering every request with `answer`.
pub struct FakeServer {
    pub endpoint: String,
    pub seen: Arc<Mutex<Vec<Seen>>>,
}

impl FakeServer {
    pub fn start(answer: impl Fn(&Seen) -> Answer + Send + Sync + 'static) -> FakeServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let answer = Arc::new(answer);
        let log = seen.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let answer = answer.clone();
                let log = log.clone();
                std::thread::spawn(move || loop {
                    let mut head = Vec::new();
                    let mut byte = [0u8];
                    while !head.ends_with(b"\r\n\r\n") {
                        if stream.read(&mut byte).unwrap_or(0) == 0 {
                            return;
                        }
                        head.push(byte[0]);
                    }
                    let text = String::from_utf8_lossy(&head).into_owned();
                    let mut lines = text.lines();
                    let mut first = lines.next().unwrap_or_default().split_whitespace();
                    let method = first.next().unwrap_or_default().to_owned();
                    let path = first.next().unwrap_or_default().to_owned();
                    let headers: Vec<(String, String)> = lines
                        .filter_map(|l| l.split_once(':'))
                        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
                        .collect();
                    let length: usize = headers
                        .iter()
                        .find(|(k, _)| k == "content-length")
                        .and_then(|(_, v)| v.parse().ok())
                        .unwrap_or(0);
                    let mut body = vec![0u8; length];
                    if stream.read_exact(&mut body).is_err() {
                        return;
                    }
                    let seen = Seen {
                        method,
                        path,
                        headers,
                        body: String::from_utf8_lossy(&body).into_owned(),
                    };
                    log.lock().unwrap().push(seen.clone());
                    let reply = answer(&seen);
                    let mut out = format!(
                        "HTTP/1.1 {} X\r\ncontent-length: {}\r\n",
                        reply.status,
                        reply.body.len()
                    );
                    for (k, v) in &reply.headers {
                        out.push_str(&format!("{k}: {v}\r\n"));
                    }
                    out.push_str("\r\n");
                    out.push_str(&reply.body);
                    if stream.write_all(out.as_bytes()).is_err() {
                        return;
                    }
                });
            }
        });
        FakeServer { endpoint, seen }
    }
}

/// Sends a request the fake saw on to `endpoint` and answers what it
/// answers: a recording proxy in front of moto.
pub fn forward(endpoint: &str, seen: &Seen) -> Answer {
    let address = endpoint.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    let mut head = format!("{} {} HTTP/1.1\r\n", seen.method, seen.path);
    for (k, v) in &seen.headers {
        if k != "connection" && k != "content-length" {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
    }
    head.push_str(&format!(
        "content-length: {}\r\nconnection: close\r\n\r\n",
        seen.body.len()
    ));
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(seen.body.as_bytes()).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(502);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .filter(|(k, _)| {
            !matches!(
                k.as_str(),
                "content-length" | "connection" | "transfer-encoding"
            )
        })
        .collect();
    Answer {
        status,
        headers,
        body: body.to_owned(),
    }
}

/// The DynamoDB operations (`X-Amz-Target`) a recording proxy saw, in order.
pub fn dynamodb_operations(seen: &Mutex<Vec<Seen>>) -> Vec<String> {
    seen.lock()
        .unwrap()
        .iter()
        .filter_map(|s| {
            s.headers
                .iter()
                .find(|(k, _)| k == "x-amz-target")
                .map(|(_, v)| v.trim_start_matches("DynamoDB_20120810.").to_owned())
        })
        .collect()
}

/// Bedrock Runtime's Converse answer, as the service sends it.
pub fn converse_reply(text: &str) -> Answer {
    Answer::json(
        200,
        serde_json::json!({
            "output": {"message": {"role": "assistant", "content": [{"text": text}]}},
            "stopReason": "end_turn",
            "usage": {"inputTokens": 12, "outputTokens": 7, "totalTokens": 19},
            "metrics": {"latencyMs": 42},
        }),
    )
}

/// A Bedrock error as the service sends it (restJson1: the type in a header).
pub fn bedrock_error(status: u16, kind: &str) -> Answer {
    Answer {
        status,
        headers: vec![
            ("content-type".into(), "application/json".into()),
            (
                "x-amzn-errortype".into(),
                format!("{kind}:http://internal.amazon.com/coral/com.amazon.bedrock/"),
            ),
        ],
        body: serde_json::json!({"message": format!("{kind} from the fake")}).to_string(),
    }
}

pub fn set_test_credentials() {
    // Same values from every test: setting them concurrently is harmless.
    std::env::set_var("AWS_ACCESS_KEY_ID", "testing");
    std::env::set_var("AWS_SECRET_ACCESS_KEY", "testing");
    std::env::set_var("AWS_REGION", "us-east-1");
    std::env::set_var("AWS_MAX_ATTEMPTS", "1");
}

pub async fn sdk_config(endpoint: &str) -> aws_config::SdkConfig {
    set_test_credentials();
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .load()
        .await
}

/// The rate-limit table as the stacks define it.
pub async fn create_table(config: &aws_config::SdkConfig, name: &str) {
    create_keyed_table(config, name, "ip", "window_start", true).await;
}

/// The conversations table as the stacks (and the MTA module
/// `dynamodb_conversations`) define it.
pub async fn create_conversations_table(config: &aws_config::SdkConfig, name: &str) {
    create_keyed_table(config, name, "session_id", "timestamp", true).await;
}

/// An on-demand table keyed by a string hash key and a range key, a number
/// or a string.
pub async fn create_keyed_table(
    config: &aws_config::SdkConfig,
    name: &str,
    hash: &str,
    range: &str,
    numeric_range: bool,
) {
    use aws_sdk_dynamodb::types::*;
    let client = aws_sdk_dynamodb::Client::new(config);
    let attribute = |name: &str, kind| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(kind)
            .build()
            .unwrap()
    };
    let key = |name: &str, kind| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(kind)
            .build()
            .unwrap()
    };
    client
        .create_table()
        .table_name(name)
        .attribute_definitions(attribute(hash, ScalarAttributeType::S))
        .attribute_definitions(attribute(
            range,
            if numeric_range {
                ScalarAttributeType::N
            } else {
                ScalarAttributeType::S
            },
        ))
        .key_schema(key(hash, KeyType::Hash))
        .key_schema(key(range, KeyType::Range))
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .unwrap();
}
