//! AWS calls paced per service against AWS's request quotas. moto answers
//! everything at once and never throttles, so a proxy in front of it adds
//! a round trip's latency to every call and answers with the service's
//! throttling error whatever exceeds a token bucket per quota.
//!
//! The regular tests check behaviour (a throttled operation is slowed to
//! its quota, the others are not slowed, nothing fails). The ignored
//! `refresh_figures` measures a no-op plan against the floor the quotas
//! set, for BENCHMARKS.md (`scripts/bench-refresh.sh`).

mod common;
use common::*;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A request quota: the service (its signing name), the operation (empty:
/// the service's shared bucket), requests a second, and whether AWS
/// publishes the figure (otherwise it is this proxy's assumption).
struct Quota {
    service: &'static str,
    operation: &'static str,
    rate: f64,
    published: bool,
}

const fn quota(
    service: &'static str,
    operation: &'static str,
    rate: f64,
    published: bool,
) -> Quota {
    Quota {
        service,
        operation,
        rate,
        published,
    }
}

/// AWS's default control-plane request quotas for the calls the bench
/// stacks make, per account and region, as the services' quota pages
/// publish them; where a service publishes none (IAM, the tagging API),
/// an assumption, marked.
const QUOTAS: &[Quota] = &[
    quota("sts", "GetCallerIdentity", 600.0, true),
    // DynamoDB: one control-plane quota for all of them.
    quota("dynamodb", "", 2500.0, true),
    quota("monitoring", "DescribeAlarms", 9.0, true),
    quota("monitoring", "PutMetricAlarm", 3.0, true),
    quota("monitoring", "DeleteAlarms", 3.0, true),
    quota("monitoring", "ListTagsForResource", 10.0, true),
    quota("monitoring", "", 20.0, false),
    quota("logs", "DescribeLogGroups", 10.0, true),
    quota("logs", "CreateLogGroup", 5.0, true),
    quota("logs", "DeleteLogGroup", 10.0, true),
    quota("logs", "PutRetentionPolicy", 5.0, true),
    quota("logs", "", 10.0, false),
    // IAM throttles with token buckets whose sizes it does not publish.
    quota("iam", "", 20.0, false),
    quota("tagging", "", 10.0, false),
];

/// The bucket a call counts against: its key and its rate.
fn rate_of(service: &str, operation: &str) -> (String, f64) {
    QUOTAS
        .iter()
        .find(|q| q.service == service && q.operation == operation)
        .or_else(|| {
            QUOTAS
                .iter()
                .find(|q| q.service == service && q.operation.is_empty())
        })
        .map(|q| {
            let key = if q.operation.is_empty() {
                service.to_owned()
            } else {
                format!("{service} {operation}")
            };
            (key, q.rate)
        })
        .unwrap_or_else(|| (format!("{service} (no quota)"), f64::INFINITY))
}

struct Bucket {
    rate: f64,
    tokens: f64,
    at: Instant,
}

/// What the proxy saw of one quota's bucket.
#[derive(Default, Clone, Debug)]
struct Seen {
    calls: u64,
    throttled: u64,
    /// Time moto took to answer, summed.
    upstream: Duration,
}

/// Latency and quotas in front of moto.
struct QuotaProxy {
    port: u16,
    seen: Arc<Mutex<BTreeMap<String, Seen>>>,
}

impl QuotaProxy {
    /// `latency`: added to every call. `quotas`: enforce AWS's quotas;
    /// false: count calls and time moto's answers, one at a time (moto
    /// answers one call at a time anyway; timed side by side, each call's
    /// time would include the others').
    fn start(upstream: &str, latency: Duration, quotas: bool) -> QuotaProxy {
        QuotaProxy::start_with(upstream, latency, quotas, Vec::new())
    }

    /// With some quotas' rates replaced: `(key, rate)`, 0 for a bucket
    /// that never refills (and starts empty).
    fn start_with(
        upstream: &str,
        latency: Duration,
        quotas: bool,
        overrides: Vec<(String, f64)>,
    ) -> QuotaProxy {
        let rules = Arc::new(Rules {
            latency,
            quotas,
            overrides,
            // Timing only: one call at a time.
            serial: (!quotas).then(Arc::default),
        });
        let upstream = upstream.trim_start_matches("http://").to_owned();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen: Arc<Mutex<BTreeMap<String, Seen>>> = Arc::default();
        let buckets: Arc<Mutex<BTreeMap<String, Bucket>>> = Arc::default();
        let record = seen.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                let (upstream, seen, buckets) = (upstream.clone(), record.clone(), buckets.clone());
                let rules = rules.clone();
                std::thread::spawn(move || {
                    serve(client, &upstream, &rules, &seen, &buckets);
                });
            }
        });
        QuotaProxy { port, seen }
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn seen(&self) -> BTreeMap<String, Seen> {
        self.seen.lock().unwrap().clone()
    }

    fn reset(&self) {
        self.seen.lock().unwrap().clear();
    }
}

/// What the proxy does to every call.
struct Rules {
    latency: Duration,
    quotas: bool,
    overrides: Vec<(String, f64)>,
    serial: Option<Arc<Mutex<()>>>,
}

/// Serves the requests of one connection (kept alive, as the SDK's pool
/// keeps it).
fn serve(
    mut client: TcpStream,
    upstream: &str,
    rules: &Rules,
    seen: &Mutex<BTreeMap<String, Seen>>,
    buckets: &Mutex<BTreeMap<String, Bucket>>,
) {
    let mut server: Option<TcpStream> = None;
    loop {
        let Some((head, body)) = read_message(&mut client) else {
            return;
        };
        let text = String::from_utf8_lossy(&head).into_owned();
        let header = |name: &str| {
            text.lines().find_map(|l| {
                l.split_once(':')
                    .filter(|(k, _)| k.trim().eq_ignore_ascii_case(name))
                    .map(|(_, v)| v.trim().to_owned())
            })
        };
        // The signing name is the service: Credential=KEY/DATE/REGION/SERVICE/aws4_request.
        let service = header("authorization")
            .and_then(|a| a.split('/').nth(3).map(str::to_owned))
            .unwrap_or_default();
        let target = header("x-amz-target");
        let operation = target
            .as_deref()
            .and_then(|t| t.rsplit('.').next().map(str::to_owned))
            .or_else(|| {
                String::from_utf8_lossy(&body)
                    .split('&')
                    .find_map(|p| p.strip_prefix("Action=").map(str::to_owned))
            })
            .unwrap_or_default();
        let arrived = Instant::now();
        let (key, mut rate) = rate_of(&service, &operation);
        if let Some((_, r)) = rules.overrides.iter().find(|(k, _)| *k == key) {
            rate = *r;
        }
        let throttled = rules.quotas && rate.is_finite() && {
            let mut buckets = buckets.lock().unwrap();
            let bucket = buckets.entry(key.clone()).or_insert(Bucket {
                rate,
                tokens: if rate > 0.0 { rate.max(1.0) } else { 0.0 },
                at: arrived,
            });
            let elapsed = arrived.duration_since(bucket.at).as_secs_f64();
            bucket.tokens = (bucket.tokens + elapsed * bucket.rate).min(bucket.rate.max(1.0));
            bucket.at = arrived;
            if bucket.tokens >= 1.0 {
                bucket.tokens -= 1.0;
                false
            } else {
                true
            }
        };
        std::thread::sleep(rules.latency);
        let response = if throttled {
            let (content_type, body) = if target.is_some() {
                (
                    "application/x-amz-json-1.0",
                    r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#.to_owned(),
                )
            } else {
                ("text/xml", "<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>quota-proxy</RequestId></ErrorResponse>".to_owned())
            };
            format!(
                "HTTP/1.1 400 Bad Request\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            )
            .into_bytes()
        } else {
            let one_at_a_time = rules.serial.as_ref().map(|s| s.lock().unwrap());
            let started = Instant::now();
            let answer = (|| {
                if server.is_none() {
                    server = TcpStream::connect(upstream).ok();
                }
                let stream = server.as_mut()?;
                stream.write_all(&head).ok()?;
                stream.write_all(&body).ok()?;
                let (head, body) = read_message(stream)?;
                Some([head, body].concat())
            })();
            let took = started.elapsed();
            drop(one_at_a_time);
            let Some(answer) = answer else { return };
            let mut seen = seen.lock().unwrap();
            seen.entry(key.clone()).or_default().upstream += took;
            answer
        };
        {
            let mut seen = seen.lock().unwrap();
            let entry = seen.entry(key).or_default();
            entry.calls += 1;
            entry.throttled += u64::from(throttled);
        }
        if client.write_all(&response).is_err() {
            return;
        }
    }
}

/// One HTTP/1.1 message with a Content-Length body (what the SDK sends and
/// moto answers): head and body.
fn read_message(stream: &mut TcpStream) -> Option<(Vec<u8>, Vec<u8>)> {
    let mut head = Vec::new();
    let mut byte = [0u8];
    while !head.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte).ok()? == 0 {
            return None;
        }
        head.push(byte[0]);
    }
    let text = String::from_utf8_lossy(&head).to_ascii_lowercase();
    let length: usize = text
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).ok()?;
    Some((head, body))
}

/// `tables` tables and `alarms` alarms, or the bench script's mix of
/// `mixed` resources (60% alarms, 20% log groups, 10% roles, 10% tables).
fn stack(tables: usize, alarms: usize, mixed: usize) -> String {
    let mut yaml = String::from("project: pace\nenvironment: p\nresources:\n");
    let alarm = |i: usize| {
        format!("  alarm{i}:\n    type: cloudwatch_alarm\n    properties: {{namespace: Pace, metric_name: M{i}, statistic: Sum, period: 60, evaluation_periods: 1, threshold: {i}, comparison_operator: GreaterThanThreshold}}\n")
    };
    let table = |i: usize| {
        format!("  table{i}:\n    type: dynamodb_table\n    properties: {{hash_key: {{name: pk, type: S}}}}\n")
    };
    for i in 0..tables {
        yaml += &table(i);
    }
    for i in 0..alarms {
        yaml += &alarm(i);
    }
    for i in 0..mixed {
        yaml += &match i % 10 {
            0..=5 => alarm(i + 100_000),
            6 | 7 => format!("  logs{i}:\n    type: log_group\n    properties: {{retention_in_days: 7}}\n"),
            8 => format!("  role{i}:\n    type: iam_role\n    properties: {{assume_role_services: [lambda.amazonaws.com]}}\n"),
            _ => table(i + 100_000),
        };
    }
    yaml
}

fn write_stack(test: &Test, yaml: &str) -> String {
    let path = test.state_dir().join("stack.yaml");
    std::fs::create_dir_all(test.state_dir()).unwrap();
    std::fs::write(&path, yaml).unwrap();
    path.to_string_lossy().into_owned()
}

#[test]
fn a_throttled_operation_is_paced_to_its_quota_and_the_others_are_not_slowed() {
    let test = Test::new();
    let file = write_stack(&test, &stack(8, 24, 0));
    let proxy = QuotaProxy::start(&test.endpoint(), Duration::from_millis(10), true);
    let endpoint = proxy.endpoint();
    let started = Instant::now();
    let run = test.cairn_with(
        &["apply", &file, "--auto-approve", "--stats"],
        &[("AWS_ENDPOINT_URL", &endpoint)],
    );
    let took = started.elapsed();
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("32 added"), "{}", run.stdout);
    let seen = proxy.seen();
    let puts = &seen["monitoring PutMetricAlarm"];
    // The walk starts ten at once and PutMetricAlarm's bucket holds three:
    // the first wave is throttled, then the lane keeps to the quota.
    assert!(puts.throttled >= 1, "{seen:?}");
    assert!(
        puts.throttled <= 7 + 24 / 4,
        "PutMetricAlarm was throttled {} times for 24 alarms: {seen:?}",
        puts.throttled
    );
    assert_eq!(puts.calls, 24 + puts.throttled, "{seen:?}");
    // 24 at 3 a second, after a burst of 3: at least 7 s.
    assert!(took >= Duration::from_secs(7), "{took:?}");
    // Nothing else was throttled: DynamoDB's lane is not CloudWatch's.
    for (key, s) in &seen {
        if key != "monitoring PutMetricAlarm" {
            assert_eq!(s.throttled, 0, "{key}: {seen:?}");
        }
    }
    assert!(
        run.stderr
            .contains("Throttled: cloudwatch PutMetricAlarm ("),
        "{}",
        run.stderr
    );
    // The tables were all created before the alarms' pace allowed the
    // alarms: their lane never waited for CloudWatch's.
    proxy.reset();
    let plan = test.cairn_with(
        &["plan", &file, "--detailed-exitcode", "--stats"],
        &[("AWS_ENDPOINT_URL", &endpoint)],
    );
    assert_eq!(plan.code, 0, "{}\n{}", plan.stdout, plan.stderr);
    assert!(
        proxy.seen().values().all(|s| s.throttled == 0),
        "{:?}",
        proxy.seen()
    );
}

#[test]
fn a_service_that_keeps_throttling_fails_the_run_with_its_class() {
    // PutMetricAlarm at its quota is fine; a bucket that never refills is
    // not: the run stops with the throttling class and its exit status.
    let test = Test::new();
    let file = write_stack(&test, &stack(0, 2, 0));
    let proxy = QuotaProxy::start_with(
        &test.endpoint(),
        Duration::ZERO,
        true,
        vec![("monitoring PutMetricAlarm".into(), 0.0)],
    );
    let endpoint = proxy.endpoint();
    let run = test.cairn_with(
        &["apply", &file, "--auto-approve"],
        &[
            ("AWS_ENDPOINT_URL", &endpoint),
            ("CAIRN_RETRY_ATTEMPTS", "4"),
        ],
    );
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr
            .contains("PutMetricAlarm: Throttling: Rate exceeded"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("AWS kept throttling after every retry"),
        "{}",
        run.stderr
    );
}

/// Figures for BENCHMARKS.md: a no-op plan of the 50 tables + 50 alarms
/// stack and of 1,000 mixed resources, (1) on the bare emulator against
/// the time moto itself took for the same calls, (2) through 40 ms of
/// latency and AWS's quotas against the floor those set.
#[test]
#[ignore = "measures; run by scripts/bench-refresh.sh"]
fn refresh_figures() {
    let latency = Duration::from_millis(40);
    println!("| stack | run | calls | wall time | floor | ratio |");
    println!("|---|---|---:|---:|---:|---:|");
    // CAIRN_REFRESH_SIZES: the mixed stacks to measure (default 1000).
    let sizes = std::env::var("CAIRN_REFRESH_SIZES").unwrap_or_else(|_| "1000".into());
    let mut stacks = vec![("50 tables + 50 alarms".to_owned(), stack(50, 50, 0))];
    for size in sizes
        .split(',')
        .filter_map(|s| s.trim().parse::<usize>().ok())
    {
        stacks.push((format!("{size} mixed"), stack(0, 0, size)));
    }
    for (name, yaml) in stacks {
        let test = Test::new();
        let file = write_stack(&test, &yaml);
        test.ok(&["apply", &file, "--auto-approve"]);
        let plan = |endpoint: &str| {
            let started = Instant::now();
            let run = test.cairn_with(
                &["plan", &file, "--detailed-exitcode", "--stats"],
                &[("AWS_ENDPOINT_URL", endpoint)],
            );
            let took = started.elapsed().as_secs_f64();
            assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
            took
        };
        // Warm moto's backends for every service once.
        plan(&test.endpoint());
        // Bare: best of three, against the time moto spent answering the
        // same calls (measured by a proxy that adds nothing).
        let bare = (0..3)
            .map(|_| plan(&test.endpoint()))
            .fold(f64::MAX, f64::min);
        let timer = QuotaProxy::start(&test.endpoint(), Duration::ZERO, false);
        plan(&timer.endpoint());
        let seen = timer.seen();
        let calls: u64 = seen.values().map(|s| s.calls).sum();
        let moto: f64 = seen.values().map(|s| s.upstream.as_secs_f64()).sum();
        println!(
            "| {name} | bare emulator | {calls} | {bare:.2} s | {moto:.2} s (moto's time for the calls) | {:.2}x |",
            bare / moto
        );
        // Through latency and quotas.
        let moto_time = moto;
        let proxy = QuotaProxy::start(&test.endpoint(), latency, true);
        let took = plan(&proxy.endpoint());
        let seen = proxy.seen();
        let calls: u64 = seen.values().map(|s| s.calls).sum();
        let throttled: u64 = seen.values().map(|s| s.throttled).sum();
        // The floor: each quota's calls at its rate (they run side by
        // side, so the slowest) or moto's own time for them, whichever is
        // more, plus one round trip.
        let (slowest, bound) = seen
            .iter()
            .map(|(key, s)| {
                let operation = key.split_once(' ').map_or("", |(_, op)| op);
                let service = key.split(' ').next().unwrap_or_default();
                let (_, rate) = rate_of(service, operation);
                (key.clone(), (s.calls - s.throttled) as f64 / rate)
            })
            .fold((String::new(), 0.0), |a, b| if b.1 > a.1 { b } else { a });
        // moto answers one call at a time: its time for these calls is a
        // floor too, which AWS does not have.
        let (slowest, bound) = if moto_time > bound {
            ("moto's time".to_owned(), moto_time)
        } else {
            (slowest, bound)
        };
        let floor = bound + latency.as_secs_f64();
        let assumed: Vec<&str> = QUOTAS
            .iter()
            .filter(|q| !q.published && seen.keys().any(|k| k == q.service))
            .map(|q| q.service)
            .collect();
        let by_quota: Vec<String> = seen
            .iter()
            .map(|(k, s)| format!("{k} {}", s.calls))
            .collect();
        if !assumed.is_empty() {
            println!("(quotas assumed, not published: {})", assumed.join(", "));
        }
        println!(
            "| {name} | 40 ms a call, AWS's quotas ({throttled} throttled; {}) | {calls} | {took:.2} s | {floor:.2} s ({slowest}) | {:.2}x |",
            by_quota.join(", "),
            took / floor
        );
    }
}
