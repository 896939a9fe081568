//! A proxy in front of moto that fails, loses answers or answers for
//! the emulator, and the helpers of the tests that go through it.

use super::*;
use std::net::TcpListener;

/// A proxy in front of moto that answers chosen operations with a failure a
/// given number of times before letting them through: moto itself never
/// throttles, fails transiently or lags.
pub struct FaultProxy {
    pub port: u16,
    /// Requests seen, by operation.
    seen: std::sync::Arc<std::sync::Mutex<std::collections::BTreeMap<String, usize>>>,
    /// Mutating requests done upstream whose answer the client never got.
    lost: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    /// Every request as it came: (operation, body).
    log: std::sync::Arc<std::sync::Mutex<Vec<(String, String)>>>,
    /// Every request's head (request line and headers), in the same order.
    heads: std::sync::Arc<std::sync::Mutex<Vec<(String, String)>>>,
}

/// What AWS keeps of a function and moto does not (its dead-letter target
/// and its environment's key): taken from the creates and configuration
/// updates moto carried out, and put into GetFunction's answers as AWS
/// gives them. By function name.
#[derive(Clone, Default)]
struct FunctionSettings(
    std::sync::Arc<
        std::sync::Mutex<
            std::collections::BTreeMap<String, serde_json::Map<String, serde_json::Value>>,
        >,
    >,
);

impl FunctionSettings {
    const KEPT: [&'static str; 2] = ["DeadLetterConfig", "KMSKeyArn"];

    /// `response`, the emulator's answer to `method path` with `body`,
    /// after taking from the request what it sets, with what was kept put
    /// into a read.
    fn pass(&self, method: &str, path: &str, body: &str, response: Vec<u8>) -> Vec<u8> {
        let Some(rest) = path.strip_prefix("/2015-03-31/functions") else {
            return response;
        };
        if !response.starts_with(b"HTTP/1.1 2") {
            return response;
        }
        let segments: Vec<&str> = rest
            .split('?')
            .next()
            .unwrap_or_default()
            .split('/')
            .collect();
        let sent = || serde_json::from_str::<serde_json::Value>(body).unwrap_or_default();
        let mut kept = self.0.lock().unwrap();
        match (method, segments.as_slice()) {
            ("POST", [""] | ["", ""]) => {
                let sent = sent();
                let name = sent["FunctionName"].as_str().unwrap_or_default().to_owned();
                kept.insert(name.clone(), serde_json::Map::new());
                Self::take(kept.get_mut(&name).unwrap(), &sent);
            }
            ("PUT", ["", name, "configuration"]) => {
                Self::take(kept.entry(function_name(name)).or_default(), &sent());
            }
            ("DELETE", ["", name]) => {
                kept.remove(&function_name(name));
            }
            ("GET", ["", name]) => {
                let Some(settings) = kept.get(&function_name(name)).cloned() else {
                    return response;
                };
                return edit_response(&response, |head, body| {
                    let mut answer: serde_json::Value = serde_json::from_str(body).unwrap();
                    if let Some(configuration) = answer["Configuration"].as_object_mut() {
                        configuration.extend(settings.clone());
                    }
                    (head.to_owned(), answer.to_string())
                });
            }
            _ => {}
        }
        response
    }

    /// Sets what `sent` sets of the kept settings; an empty target or key
    /// takes it away, as Lambda does.
    fn take(settings: &mut serde_json::Map<String, serde_json::Value>, sent: &serde_json::Value) {
        for key in Self::KEPT {
            let value = &sent[key];
            let empty = match key {
                "DeadLetterConfig" => value["TargetArn"].as_str().is_none_or(str::is_empty),
                _ => value.as_str().is_none_or(str::is_empty),
            };
            if value.is_null() {
                continue;
            }
            if empty {
                settings.remove(key);
            } else {
                settings.insert(key.to_owned(), value.clone());
            }
        }
    }
}

/// A function's name from the path's name or ARN (escaped or not).
fn function_name(segment: &str) -> String {
    let segment = segment.replace("%3A", ":");
    segment.rsplit(':').next().unwrap_or_default().to_owned()
}

/// What a lossy proxy does to a share of the mutating requests: the
/// emulator carries them out, and the client never gets the real answer.
#[derive(Clone, Copy)]
pub enum Loss {
    /// HTTP 500 (InternalFailure) instead of the answer: the commit
    /// happened, the answer says otherwise.
    ServerError,
    /// Half the answer, then the connection closes.
    CutOff,
}

/// Reads, by name and by HTTP method for the REST services.
pub fn is_mutating(operation: &str, method: &str) -> bool {
    if operation.is_empty() {
        return method != "GET" && method != "HEAD";
    }
    !["Describe", "Get", "List", "Query", "Scan", "BatchGet"]
        .iter()
        .any(|p| operation.starts_with(p))
}

#[derive(Clone, Copy)]
pub enum Fault {
    /// HTTP 400 with the service's throttling error code.
    Throttle,
    /// HTTP 503.
    Unavailable,
    /// What Lambda answers while a new role is not yet assumable.
    RoleNotAssumable,
    /// A function still being set up (moto's are ready at once).
    FunctionPending,
    /// HTTP 501 with the NotImplemented error code: how an AWS service
    /// says it lacks an operation (moto answers an HTML 500 instead).
    NotImplemented,
    /// HTTP 400 with an EC2 error code, in EC2's error format.
    Ec2Error(&'static str),
    /// HTTP 200 with this XML answer (a resource still being built).
    Answer(&'static str),
    /// This status line and JSON answer, for an operation the emulator
    /// lacks (API Gateway v2's CreateDeployment).
    Json(&'static str, &'static str),
    /// The emulator carries the request out; the client gets a 500
    /// instead of its answer.
    LoseAnswer,
    /// This status line and XML answer (a restXml service's error).
    Xml(&'static str, &'static str),
    /// The emulator's answer with this text replaced by that one (a
    /// status the emulator never reports).
    Rewrite(&'static str, &'static str),
    /// The emulator's answer with this header's value set to that one (a
    /// new ETag, which the emulator never changes).
    Header(&'static str, &'static str),
}

/// CloudFront's operations (restXml), by method and path.
fn cloudfront_operation(method: &str, path: &str) -> Option<String> {
    let path = path.strip_prefix("/2020-05-31/")?;
    let (path, query) = path.split_once('?').unwrap_or((path, ""));
    let parts: Vec<&str> = path.split('/').collect();
    let kind = match parts[0] {
        "distribution" => "Distribution",
        "origin-access-control" => "OriginAccessControl",
        "tagging" => {
            return Some(
                match (method, query) {
                    ("GET", _) => "ListTagsForResource",
                    (_, q) if q.contains("Operation=Untag") => "UntagResource",
                    _ => "TagResource",
                }
                .to_owned(),
            )
        }
        _ => return None,
    };
    let operation = match (method, parts.len(), parts.last()) {
        ("POST", 1, _) if query.contains("WithTags") => format!("Create{kind}WithTags"),
        ("POST", 1, _) => format!("Create{kind}"),
        ("GET", 1, _) => format!("List{kind}s"),
        ("GET", 2, _) => format!("Get{kind}"),
        ("GET", 3, Some(&"config")) => format!("Get{kind}Config"),
        ("PUT", 3, Some(&"config")) => format!("Update{kind}"),
        ("DELETE", 2, _) => format!("Delete{kind}"),
        _ => return None,
    };
    Some(operation)
}

/// `response` with `edit` applied to its head and body, and its
/// Content-Length made right again.
fn edit_response(response: &[u8], edit: impl Fn(&str, &str) -> (String, String)) -> Vec<u8> {
    let text = String::from_utf8_lossy(response).into_owned();
    let Some((head, body)) = text.split_once("\r\n\r\n") else {
        return response.to_vec();
    };
    let (head, body) = edit(head, body);
    let head: Vec<String> = head
        .split("\r\n")
        .map(|line| {
            if line.to_ascii_lowercase().starts_with("content-length:") {
                format!("Content-Length: {}", body.len())
            } else {
                line.to_owned()
            }
        })
        .collect();
    format!("{}\r\n\r\n{body}", head.join("\r\n")).into_bytes()
}

impl FaultProxy {
    pub fn start(upstream: &str, faults: Vec<(&'static str, Fault, u32)>) -> FaultProxy {
        FaultProxy::start_with(upstream, faults, None)
    }

    /// Loses the answer of about `rate` of the mutating requests (seeded,
    /// so a failure can be replayed), after the emulator carried them out.
    pub fn lossy(upstream: &str, rate: f64, loss: Loss, seed: u64) -> FaultProxy {
        FaultProxy::start_with(upstream, Vec::new(), Some((rate, loss, seed)))
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn calls(&self, operation: &str) -> usize {
        self.seen
            .lock()
            .unwrap()
            .get(operation)
            .copied()
            .unwrap_or(0)
    }

    pub fn lost(&self) -> usize {
        self.lost.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// The operations of the requests seen so far, in order.
    pub fn operations(&self) -> Vec<String> {
        self.log
            .lock()
            .unwrap()
            .iter()
            .map(|(o, _)| o.clone())
            .collect()
    }

    /// The value of the header `name` in each of `operation`'s requests
    /// so far, in order.
    pub fn headers(&self, operation: &str, name: &str) -> Vec<Option<String>> {
        self.heads
            .lock()
            .unwrap()
            .iter()
            .filter(|(o, _)| o == operation)
            .map(|(_, head)| {
                head.lines().find_map(|l| {
                    l.split_once(':')
                        .filter(|(k, _)| k.eq_ignore_ascii_case(name))
                        .map(|(_, v)| v.trim().to_owned())
                })
            })
            .collect()
    }

    /// The bodies of `operation`'s requests so far, in order.
    pub fn bodies(&self, operation: &str) -> Vec<String> {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|(o, _)| o == operation)
            .map(|(_, b)| b.clone())
            .collect()
    }

    /// A proxy that also answers for moto with what AWS keeps of a
    /// function and moto does not (its dead-letter target and its
    /// environment's key), so that a stack using them plans nothing after
    /// its apply.
    pub fn keeping_function_settings(
        upstream: &str,
        faults: Vec<(&'static str, Fault, u32)>,
    ) -> FaultProxy {
        FaultProxy::spawn(upstream, faults, None, Some(FunctionSettings::default()))
    }

    pub fn start_with(
        upstream: &str,
        faults: Vec<(&'static str, Fault, u32)>,
        lossy: Option<(f64, Loss, u64)>,
    ) -> FaultProxy {
        FaultProxy::spawn(upstream, faults, lossy, None)
    }

    fn spawn(
        upstream: &str,
        faults: Vec<(&'static str, Fault, u32)>,
        lossy: Option<(f64, Loss, u64)>,
        functions: Option<FunctionSettings>,
    ) -> FaultProxy {
        use std::io::{Read, Write};
        use std::sync::{Arc, Mutex};
        let upstream = upstream.trim_start_matches("http://").to_owned();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let faults = Arc::new(Mutex::new(faults));
        let lost = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let random = Arc::new(Mutex::new(lossy.map_or(1, |(_, _, seed)| seed | 1)));
        let counter = lost.clone();
        let seen = Arc::new(Mutex::new(std::collections::BTreeMap::new()));
        let calls = seen.clone();
        let log = Arc::new(Mutex::new(Vec::new()));
        let requests = log.clone();
        let heads = Arc::new(Mutex::new(Vec::new()));
        let request_heads = heads.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(mut client) = client else { continue };
                let calls = calls.clone();
                let requests = requests.clone();
                let request_heads = request_heads.clone();
                let upstream = upstream.clone();
                let faults = faults.clone();
                let random = random.clone();
                let counter = counter.clone();
                let functions = functions.clone();
                std::thread::spawn(move || {
                    // One request per connection; both sides are closed after it.
                    let mut head = Vec::new();
                    let mut byte = [0u8];
                    while !head.ends_with(b"\r\n\r\n") {
                        if client.read(&mut byte).unwrap_or(0) == 0 {
                            return;
                        }
                        head.push(byte[0]);
                    }
                    let text = String::from_utf8_lossy(&head).into_owned();
                    let header = |name: &str| {
                        text.lines().find_map(|l| {
                            l.split_once(':')
                                .filter(|(k, _)| k.eq_ignore_ascii_case(name))
                                .map(|(_, v)| v.trim().to_owned())
                        })
                    };
                    let length: usize = header("content-length")
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(0);
                    let mut body = vec![0u8; length];
                    client.read_exact(&mut body).unwrap();
                    let form = String::from_utf8_lossy(&body).into_owned();
                    let json_protocol = header("x-amz-target").is_some();
                    let request_line = text.lines().next().unwrap_or_default().to_owned();
                    // restJson services name the operation by method and path.
                    let rest_operation = match request_line
                        .split_whitespace()
                        .take(2)
                        .collect::<Vec<_>>()
                        .as_slice()
                    {
                        ["POST", path] if path.ends_with("/functions") => {
                            Some("CreateFunction".to_owned())
                        }
                        ["GET", path]
                            if path.contains("/functions/") && path.split('/').count() == 4 =>
                        {
                            Some("GetFunction".to_owned())
                        }
                        // API Gateway v2: a stage's tags (its ARN's slashes
                        // are escaped in the path), deployments, routes.
                        ["POST", path]
                            if path.contains("/tags/") && path.contains("%2Fstages%2F") =>
                        {
                            Some("TagStage".to_owned())
                        }
                        ["DELETE", path]
                            if path.contains("/tags/") && path.contains("%2Fstages%2F") =>
                        {
                            Some("UntagStage".to_owned())
                        }
                        ["POST", path]
                            if path
                                .trim_end_matches('/')
                                .ends_with("/event-source-mappings") =>
                        {
                            Some("CreateEventSourceMapping".to_owned())
                        }
                        ["POST", path] if path.ends_with("/deployments") => {
                            Some("CreateDeployment".to_owned())
                        }
                        ["POST", path] if path.ends_with("/routes") => {
                            Some("CreateRoute".to_owned())
                        }
                        ["PATCH", path] if path.contains("/stages/") => {
                            Some("UpdateStage".to_owned())
                        }
                        ["PUT", path]
                            if path.contains("/functions/") && path.ends_with("/configuration") =>
                        {
                            Some("UpdateFunctionConfiguration".to_owned())
                        }
                        ["DELETE", path] if path.contains("/stages/") => {
                            Some("DeleteStage".to_owned())
                        }
                        ["POST", path] if path.ends_with("/stages") => {
                            Some("CreateStage".to_owned())
                        }
                        [method, path] if path.starts_with("/2020-05-31/") => {
                            cloudfront_operation(method, path)
                        }
                        // S3, path-style: `/BUCKET` and `/BUCKET?SETTING`.
                        [method, path] if s3_operation(method, path).is_some() => {
                            s3_operation(method, path)
                        }
                        _ => None,
                    };
                    let operation = rest_operation
                        .or_else(|| {
                            header("x-amz-target")
                                .and_then(|t| t.rsplit('.').next().map(str::to_owned))
                        })
                        .or_else(|| {
                            form.split('&')
                                .find_map(|p| p.strip_prefix("Action=").map(str::to_owned))
                        })
                        .unwrap_or_default();
                    *calls.lock().unwrap().entry(operation.clone()).or_insert(0) += 1;
                    requests
                        .lock()
                        .unwrap()
                        .push((operation.clone(), form.clone()));
                    request_heads
                        .lock()
                        .unwrap()
                        .push((operation.clone(), text.clone()));
                    let injected = {
                        let mut faults = faults.lock().unwrap();
                        faults
                            .iter_mut()
                            .find(|(op, _, left)| *op == operation && *left > 0)
                            .map(|(_, fault, left)| {
                                *left -= 1;
                                *fault
                            })
                    };
                    let lose = matches!(injected, Some(Fault::LoseAnswer));
                    let edit = match injected {
                        Some(Fault::Rewrite(from, to)) => Some((from, to, false)),
                        Some(Fault::Header(name, value)) => Some((name, value, true)),
                        _ => None,
                    };
                    if let Some(fault) = injected.filter(|_| !lose && edit.is_none()) {
                        let (status, content_type, body) = match (fault, json_protocol) {
                            (Fault::Throttle, true) => ("400 Bad Request", "application/x-amz-json-1.1", r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#.to_owned()),
                            (Fault::Throttle, false) => ("400 Bad Request", "text/xml", "<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>fault</RequestId></ErrorResponse>".to_owned()),
                            (Fault::Unavailable, _) => ("503 Service Unavailable", "text/plain", "try later".to_owned()),
                            (Fault::FunctionPending, _) => (
                                "200 OK",
                                "application/json",
                                r#"{"Configuration":{"FunctionName":"cairn-test-t-function","State":"Pending","LastUpdateStatus":"InProgress"}}"#.to_owned(),
                            ),
                            (Fault::NotImplemented, _) => (
                                "501 Not Implemented\r\nx-amzn-errortype: NotImplemented",
                                "application/json",
                                r#"{"message":"UpdateStage is not implemented"}"#.to_owned(),
                            ),
                            (Fault::Ec2Error(code), _) => (
                                "400 Bad Request",
                                "text/xml",
                                format!("<Response><Errors><Error><Code>{code}</Code><Message>injected by the test proxy</Message></Error></Errors><RequestID>fault</RequestID></Response>"),
                            ),
                            (Fault::Answer(body), _) => ("200 OK", "text/xml", body.to_owned()),
                            (Fault::Json(status, body), _) => (status, "application/json", body.to_owned()),
                            (Fault::Xml(status, body), _) => (status, "text/xml", body.to_owned()),
                            (Fault::LoseAnswer | Fault::Rewrite(..) | Fault::Header(..), _) => {
                                unreachable!("passed upstream")
                            }
                            (Fault::RoleNotAssumable, _) => (
                                "400 Bad Request\r\nx-amzn-errortype: InvalidParameterValueException",
                                "application/json",
                                r#"{"Type":"User","message":"The role defined for the function cannot be assumed by Lambda."}"#.to_owned(),
                            ),
                        };
                        let response = format!("HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
                        let _ = client.write_all(response.as_bytes());
                        return;
                    }
                    let method = request_line.split(' ').next().unwrap_or_default();
                    let lossy = if lose {
                        Some((1.0, Loss::ServerError, 1))
                    } else {
                        lossy
                    };
                    let loss = lossy.filter(|(rate, _, _)| {
                        is_mutating(&operation, method) && {
                            // xorshift64: deterministic for a seed.
                            let mut x = random.lock().unwrap();
                            *x ^= *x << 13;
                            *x ^= *x >> 7;
                            *x ^= *x << 17;
                            (*x % 10_000) as f64 / 10_000.0 < *rate
                        }
                    });
                    let mut server = std::net::TcpStream::connect(&upstream).unwrap();
                    let rewritten: String = text
                        .split("\r\n")
                        .filter(|l| !l.to_ascii_lowercase().starts_with("connection:"))
                        .collect::<Vec<_>>()
                        .join("\r\n")
                        .trim_end()
                        .to_owned()
                        + "\r\nConnection: close\r\n\r\n";
                    server.write_all(rewritten.as_bytes()).unwrap();
                    server.write_all(&body).unwrap();
                    let mut response = Vec::new();
                    let _ = server.read_to_end(&mut response);
                    if let Some((from, to, header)) = edit {
                        response = edit_response(&response, |head, body| {
                            if !header {
                                return (head.replace(from, to), body.replace(from, to));
                            }
                            let head: Vec<String> = head
                                .split("\r\n")
                                .map(|line| match line.split_once(':') {
                                    Some((k, _)) if k.eq_ignore_ascii_case(from) => {
                                        format!("{k}: {to}")
                                    }
                                    _ => line.to_owned(),
                                })
                                .collect();
                            (head.join("\r\n"), body.to_owned())
                        });
                    }
                    if let (Some(functions), [method, path]) = (
                        &functions,
                        request_line
                            .split_whitespace()
                            .take(2)
                            .collect::<Vec<_>>()
                            .as_slice(),
                    ) {
                        response = functions.pass(method, path, &form, response);
                    }
                    match loss {
                        None => {
                            let _ = client.write_all(&response);
                        }
                        Some((_, Loss::ServerError, _)) => {
                            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                            let body = if json_protocol {
                                r#"{"__type":"InternalFailure","message":"answer lost by the test proxy"}"#.to_owned()
                            } else {
                                "<ErrorResponse><Error><Type>Receiver</Type><Code>InternalFailure</Code><Message>answer lost by the test proxy</Message></Error><RequestId>fault</RequestId></ErrorResponse>".to_owned()
                            };
                            let response = format!("HTTP/1.1 500 Internal Server Error\r\nContent-Type: {}\r\nx-amzn-errortype: InternalFailure\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", if json_protocol { "application/x-amz-json-1.0" } else { "text/xml" }, body.len());
                            let _ = client.write_all(response.as_bytes());
                        }
                        Some((_, Loss::CutOff, _)) => {
                            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                            let _ = client.write_all(&response[..response.len() / 2]);
                        }
                    }
                });
            }
        });
        FaultProxy {
            port,
            seen,
            lost,
            log,
            heads,
        }
    }
}

/// An S3 request on a bucket, path-style (`/BUCKET/?SETTING`): its operation, for the few a
/// test names (no other service here puts one path segment alone).
fn s3_operation(method: &str, path: &str) -> Option<String> {
    let path = path.trim_start_matches('/');
    let (bucket, query) = path.split_once('?').unwrap_or((path, ""));
    let bucket = bucket.strip_suffix('/').unwrap_or(bucket);
    if bucket.is_empty() || bucket.contains('/') {
        return None;
    }
    let setting = query.split(['&', '=']).next().unwrap_or_default();
    let operation = match (method, setting) {
        ("PUT", "") => "CreateBucket",
        ("DELETE", "") => "DeleteBucket",
        ("PUT", "policy") => "PutBucketPolicy",
        ("PUT", "tagging") => "PutBucketTagging",
        ("POST", "delete") => "DeleteObjects",
        ("GET", "versions") => "ListObjectVersions",
        _ => return None,
    };
    Some(operation.to_owned())
}

pub fn calls_of(stderr: &str, address: &str, operation: &str) -> u64 {
    // The --stats lines are indented; progress lines are not.
    let line = stderr
        .lines()
        .find(|l| l.starts_with(&format!("  {address}:")))
        .unwrap_or("");
    line.split_whitespace()
        .find_map(|word| word.strip_prefix(&format!("{operation}×")))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// Runs `args` until it succeeds, as a user would re-run an apply that
/// failed: at most `tries` times. Returns the runs' outputs.
pub fn until_ok(test: &Test, args: &[&str], tries: usize) -> Vec<Run> {
    let mut runs = Vec::new();
    for _ in 0..tries {
        let run = test.cairn(args);
        // Shown when the test fails.
        eprintln!(
            "cairn {args:?}: exit {}\n{}\n{}",
            run.code, run.stdout, run.stderr
        );
        let done = run.code == 0;
        runs.push(run);
        if done {
            return runs;
        }
    }
    let last = runs.last().unwrap();
    panic!(
        "cairn {args:?} did not succeed in {tries} runs; last:\n{}\n{}",
        last.stdout, last.stderr
    );
}

/// An SDK client for `endpoint` (a proxy in front of this test's moto).
pub async fn aws_at(endpoint: &str) -> cairn::aws::Aws {
    std::env::set_var("AWS_ACCESS_KEY_ID", "testing");
    std::env::set_var("AWS_SECRET_ACCESS_KEY", "testing");
    cairn::aws::Aws::connect(&cairn::aws::Settings {
        region: Some("us-east-1".into()),
        endpoint_url: Some(endpoint.into()),
    })
    .await
    .unwrap()
}
