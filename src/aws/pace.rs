//! Pacing of AWS calls. Every call waits for a slot in its lane: one lane
//! per service, or per operation where AWS's request quotas are per
//! operation (CloudWatch, CloudWatch Logs, KMS, ...), or per kind of call
//! where they are per kind (EC2: reads and changes). A lane starts wide
//! open and adapts: a throttled answer halves its concurrency and its
//! request rate, each answer that is not throttled grows them back a
//! little (additive increase, multiplicative decrease). A wave of throttled
//! answers to requests sent before the last decrease counts once, so one
//! burst never collapses a lane to nothing.
//!
//! The lane is found by the HTTP client each service client is built with
//! (it knows its service) and the operation name an interceptor attaches to
//! the request. The retry loop (`Aws::send`) learns which lane an attempt
//! used through a task-local, and reports a throttled answer to it: the
//! error is classified once, from the SDK's typed error, in one place.

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How a service's request quotas are shared between its operations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sharing {
    /// One quota for the whole service (DynamoDB's control plane, IAM).
    Service,
    /// A quota per operation (CloudWatch: DescribeAlarms 9/s,
    /// PutMetricAlarm 3/s).
    Operation,
    /// One quota for reads, one for changes (EC2's request token buckets).
    ReadWrite,
}

/// The operation a request is for: put on the request by the call counter,
/// read by the pacing connector.
#[derive(Clone, Debug)]
pub struct OperationName(pub String);

/// What a lane starts at and may grow to.
#[derive(Clone, Copy, Debug)]
pub struct Settings {
    /// Requests in flight per lane at first (`CAIRN_SERVICE_CONCURRENCY`,
    /// default 32).
    pub concurrency: usize,
}

impl Settings {
    pub fn from_env() -> Settings {
        Settings {
            concurrency: std::env::var("CAIRN_SERVICE_CONCURRENCY")
                .ok()
                .and_then(|v| v.parse().ok())
                .filter(|n| *n > 0)
                .unwrap_or(32),
        }
    }
}

/// The lowest rate a lane slows to: one request every two seconds.
const MIN_RATE: f64 = 0.5;
/// Beyond the rate last throttled at, the rate grows by this a second at
/// first, then by its distance from that rate (it probes carefully near
/// the last limit and quickly far from it, as CUBIC does).
const RATE_STEP: f64 = 0.5;
/// What a throttle leaves of the rate AWS was answering at over the last
/// second.
const BETA: f64 = 0.85;
/// Answers remembered to measure the rate AWS answered at.
const ANSWERS: usize = 512;

/// What a lane says to a request that asks to be sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Send it now: it holds a slot.
    Now,
    /// The rate allows the next request at this time: ask again then.
    Later(Instant),
    /// The window is full: ask again when a request finishes.
    Full,
}

/// One lane's adaptive limits. Pure: every method takes the time, so the
/// adaptation is tested without a clock.
#[derive(Debug)]
pub struct Limits {
    /// Concurrency window: requests in flight allowed (its floor).
    window: f64,
    ceiling: f64,
    in_flight: usize,
    /// Requests per second, once throttled; `None`: not limited.
    rate: Option<f64>,
    /// The rate the lane ran at when last throttled: it grows back to it
    /// quickly (half the gap a second), and beyond it slowly.
    throttled_at: f64,
    /// The earliest time the next request may go.
    next_send: Option<Instant>,
    /// When the last decrease happened: throttled answers to requests
    /// sent before it belong to the same burst.
    decreased_at: Option<Instant>,
    /// When the last answers that were not throttled came.
    answers: VecDeque<Instant>,
    pub throttled: u64,
    pub decreases: u64,
}

impl Limits {
    pub fn new(concurrency: usize) -> Limits {
        Limits {
            window: concurrency as f64,
            ceiling: concurrency as f64,
            in_flight: 0,
            rate: None,
            throttled_at: 0.0,
            next_send: None,
            decreased_at: None,
            answers: VecDeque::new(),
            throttled: 0,
            decreases: 0,
        }
    }

    /// Takes a slot for a request sent now, if the window has one and the
    /// rate allows it now. Nothing is booked ahead: a request told to come
    /// back later asks again then, under the limits of that time.
    pub fn admit(&mut self, now: Instant) -> Admission {
        if self.in_flight >= (self.window as usize).max(1) {
            return Admission::Full;
        }
        if let Some(rate) = self.rate {
            if let Some(next) = self.next_send.filter(|next| *next > now) {
                return Admission::Later(next);
            }
            self.next_send = Some(now + Duration::from_secs_f64(1.0 / rate));
        }
        self.in_flight += 1;
        Admission::Now
    }

    pub fn release(&mut self) {
        self.in_flight = self.in_flight.saturating_sub(1);
    }

    /// An answer that was not a throttle.
    pub fn answered(&mut self, now: Instant) {
        if self.answers.len() == ANSWERS {
            self.answers.pop_front();
        }
        self.answers.push_back(now);
        if self.window < self.ceiling {
            self.window = (self.window + 1.0 / self.window).min(self.ceiling);
        }
        if let Some(rate) = self.rate.as_mut() {
            // Per answer; at `rate` answers a second this is per second:
            // half the gap to the last throttled rate, or RATE_STEP.
            let per_second = if *rate < self.throttled_at {
                (self.throttled_at - *rate) / 2.0
            } else {
                *rate - self.throttled_at
            };
            *rate += per_second.max(RATE_STEP) / *rate;
        }
    }

    /// A throttled answer to a request sent at `sent`.
    pub fn throttle(&mut self, sent: Instant, now: Instant) {
        self.throttled += 1;
        if self.decreased_at.is_some_and(|at| sent < at) {
            return;
        }
        self.decreases += 1;
        self.decreased_at = Some(now);
        // What AWS let through: the answers of the last second.
        let second = now.checked_sub(Duration::from_secs(1)).unwrap_or(now);
        let answered = self.answers.iter().filter(|at| **at > second).count() as f64;
        let base = self.rate.map_or(answered, |rate| rate.min(answered));
        self.throttled_at = base.max(MIN_RATE);
        self.rate = Some((base * BETA).max(MIN_RATE));
        self.window = (self.window / 2.0).max(1.0);
        // What was scheduled at the old rate waits for the new one.
        self.next_send = Some(now + Duration::from_secs_f64(1.0 / self.rate.unwrap_or(1.0)));
    }

    pub fn rate(&self) -> Option<f64> {
        self.rate
    }
}

/// A lane: its limits and the requests waiting for a slot.
#[derive(Debug)]
pub struct Lane {
    pub key: String,
    limits: Mutex<Limits>,
    free: tokio::sync::Notify,
}

/// A slot in a lane, given back when dropped.
pub struct Slot {
    lane: Arc<Lane>,
    sent: Instant,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.lane.limits.lock().expect("lane lock").release();
        self.lane.free.notify_one();
    }
}

impl Lane {
    async fn acquire(self: &Arc<Lane>) -> Slot {
        loop {
            let free = self.free.notified();
            let now = Instant::now();
            let admission = self.limits.lock().expect("lane lock").admit(now);
            match admission {
                Admission::Now => {
                    return Slot {
                        lane: self.clone(),
                        sent: now,
                    }
                }
                Admission::Later(at) => tokio::time::sleep_until(at.into()).await,
                Admission::Full => free.await,
            }
        }
    }

    fn answered(&self) {
        self.limits
            .lock()
            .expect("lane lock")
            .answered(Instant::now());
        // A grown window may admit more than the one a release wakes.
        self.free.notify_waiters();
    }

    fn throttle(&self, sent: Instant) {
        self.limits
            .lock()
            .expect("lane lock")
            .throttle(sent, Instant::now());
    }
}

/// A lane's figures after a run, for `--stats`.
#[derive(Debug, Clone)]
pub struct LaneStats {
    pub key: String,
    pub throttled: u64,
    pub rate: Option<f64>,
}

/// The lanes of one region's clients.
#[derive(Debug)]
pub struct Lanes {
    settings: Settings,
    lanes: Mutex<BTreeMap<String, Arc<Lane>>>,
}

impl Lanes {
    /// Requests a lane has in flight at most.
    pub fn concurrency(&self) -> usize {
        self.settings.concurrency
    }

    pub fn new(settings: Settings) -> Lanes {
        Lanes {
            settings,
            lanes: Mutex::new(BTreeMap::new()),
        }
    }

    pub fn lane(&self, service: &str, sharing: Sharing, operation: &str) -> Arc<Lane> {
        let key = match sharing {
            Sharing::Service => service.to_owned(),
            Sharing::Operation => format!("{service} {operation}"),
            Sharing::ReadWrite if crate::aws::is_read_operation(operation) => {
                format!("{service} reads")
            }
            Sharing::ReadWrite => format!("{service} changes"),
        };
        self.lanes
            .lock()
            .expect("lanes lock")
            .entry(key.clone())
            .or_insert_with(|| {
                Arc::new(Lane {
                    key,
                    limits: Mutex::new(Limits::new(self.settings.concurrency)),
                    free: tokio::sync::Notify::new(),
                })
            })
            .clone()
    }

    /// Lanes that were throttled, most throttled first.
    pub fn throttled(&self) -> Vec<LaneStats> {
        let mut stats: Vec<LaneStats> = self
            .lanes
            .lock()
            .expect("lanes lock")
            .values()
            .filter_map(|lane| {
                let limits = lane.limits.lock().expect("lane lock");
                (limits.throttled > 0).then(|| LaneStats {
                    key: lane.key.clone(),
                    throttled: limits.throttled,
                    rate: limits.rate(),
                })
            })
            .collect();
        stats.sort_by(|a, b| b.throttled.cmp(&a.throttled).then(a.key.cmp(&b.key)));
        stats
    }
}

tokio::task_local! {
    /// The lane and send time of the attempt under way in this task, for
    /// the retry loop to report a throttled answer to.
    static ATTEMPT: RefCell<Option<(Arc<Lane>, Instant)>>;
}

/// Runs one attempt, and returns with its answer the lane it went through
/// (none when the request never reached the connector).
pub async fn attempt<T>(
    call: impl std::future::Future<Output = T>,
) -> (T, Option<(Arc<Lane>, Instant)>) {
    ATTEMPT
        .scope(RefCell::new(None), async {
            let answer = call.await;
            (answer, ATTEMPT.with(|a| a.borrow_mut().take()))
        })
        .await
}

/// Tells the lane of an attempt that AWS throttled it.
pub fn throttled(attempt: Option<(Arc<Lane>, Instant)>) {
    if let Some((lane, sent)) = attempt {
        lane.throttle(sent);
    }
}

/// The HTTP client of one service's SDK client: the configuration's own,
/// behind the service's lanes.
#[derive(Debug, Clone)]
pub struct PacedClient {
    inner: SharedHttpClient,
    service: &'static str,
    sharing: Sharing,
    lanes: Arc<Lanes>,
}

impl PacedClient {
    pub fn new(
        inner: SharedHttpClient,
        service: &'static str,
        sharing: Sharing,
        lanes: Arc<Lanes>,
    ) -> PacedClient {
        PacedClient {
            inner,
            service,
            sharing,
            lanes,
        }
    }
}

impl HttpClient for PacedClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(PacedConnector {
            inner: self.inner.http_connector(settings, components),
            client: self.clone(),
        })
    }
}

#[derive(Debug)]
struct PacedConnector {
    inner: SharedHttpConnector,
    client: PacedClient,
}

impl HttpConnector for PacedConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let operation = request
            .extension::<OperationName>()
            .map(|o| o.0.clone())
            .unwrap_or_default();
        let lane = self
            .client
            .lanes
            .lane(self.client.service, self.client.sharing, &operation);
        let inner = self.inner.clone();
        HttpConnectorFuture::new(async move {
            let slot = lane.acquire().await;
            let _ = ATTEMPT.try_with(|a| *a.borrow_mut() = Some((lane.clone(), slot.sent)));
            let answer = inner.call(request).await;
            if answer.as_ref().is_ok_and(|r| r.status().is_success()) {
                lane.answered();
            }
            drop(slot);
            answer
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A service's token bucket: `rate` a second, `burst` at most.
    struct Bucket {
        rate: f64,
        burst: f64,
        tokens: f64,
        at: Instant,
    }

    impl Bucket {
        fn take(&mut self, now: Instant) -> bool {
            let elapsed = now.duration_since(self.at).as_secs_f64();
            self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
            self.at = now;
            if self.tokens >= 1.0 {
                self.tokens -= 1.0;
                true
            } else {
                false
            }
        }
    }

    /// `requests` calls of 40 ms each through one lane against a quota of
    /// `quota` a second (burst of the same): the time taken, throttled
    /// answers, and what the lane settled at. Each throttled call is sent
    /// again as soon as the lane admits it (the retry delay is the retry
    /// policy's business, not the lane's).
    fn simulate(quota: f64, requests: usize) -> (f64, u64, Option<f64>) {
        let start = Instant::now();
        let mut limits = Limits::new(32);
        let mut bucket = Bucket {
            rate: quota,
            burst: quota,
            tokens: quota,
            at: start,
        };
        let latency = Duration::from_millis(40);
        // In flight: (sent, answer due).
        let mut in_flight: Vec<(Instant, Instant)> = Vec::new();
        let (mut done, mut now, mut waiting) = (0, start, requests);
        while done < requests {
            let mut wake = None;
            while waiting > 0 {
                match limits.admit(now) {
                    Admission::Now => {
                        in_flight.push((now, now + latency));
                        waiting -= 1;
                    }
                    Admission::Later(at) => {
                        wake = Some(at);
                        break;
                    }
                    Admission::Full => break,
                }
            }
            in_flight.sort_by_key(|(_, due)| *due);
            match (in_flight.first().copied(), wake) {
                (Some((_, due)), Some(at)) if at < due => now = at,
                (None, Some(at)) => now = at,
                (Some((sent, due)), _) => {
                    in_flight.remove(0);
                    now = due;
                    limits.release();
                    // The server decides when the request arrives (half-way).
                    if bucket.take(sent + latency / 2) {
                        limits.answered(now);
                        done += 1;
                    } else {
                        limits.throttle(sent, now);
                        waiting += 1;
                    }
                }
                (None, None) => unreachable!("nothing in flight and nothing to wait for"),
            }
        }
        (
            now.duration_since(start).as_secs_f64(),
            limits.throttled,
            limits.rate(),
        )
    }

    #[test]
    fn a_lane_settles_near_the_quota_without_a_storm_of_throttles() {
        for (quota, requests) in [(3.0, 60), (9.0, 200), (20.0, 400)] {
            let (seconds, throttled, rate) = simulate(quota, requests);
            // Ideal: the burst at once, then the rest at the quota.
            let ideal = (requests as f64 - quota) / quota;
            assert!(
                seconds < ideal * 1.5 + 1.0,
                "{requests} requests at {quota}/s took {seconds:.1}s (ideal {ideal:.1}s)"
            );
            // The first wave (32 at once) pays for the quota's discovery;
            // after it, few.
            assert!(
                (throttled as f64) < 32.0 + requests as f64 * 0.15,
                "{throttled} of {requests} requests throttled at {quota}/s"
            );
            let rate = rate.expect("throttled at least once");
            assert!(
                rate > quota * 0.4 && rate < quota * 2.0,
                "settled at {rate}/s"
            );
        }
    }

    #[test]
    fn a_lane_that_is_never_throttled_is_not_slowed() {
        // A quota far above what 32 in flight at 40 ms can ask (800/s).
        let (seconds, throttled, rate) = simulate(5_000.0, 3_200);
        assert_eq!(throttled, 0);
        assert_eq!(rate, None);
        assert!(seconds <= 100.0 * 0.040 + 1e-6, "{seconds}");
    }

    #[test]
    fn a_burst_of_throttles_counts_once() {
        let start = Instant::now();
        let mut limits = Limits::new(32);
        let sent: Vec<Instant> = (0..32)
            .map(|i| {
                let at = start + Duration::from_millis(i);
                assert_eq!(limits.admit(at), Admission::Now);
                at
            })
            .collect();
        // AWS lets ten through and throttles the rest.
        for i in 0..10 {
            limits.release();
            limits.answered(start + Duration::from_millis(40 + i));
        }
        let now = start + Duration::from_millis(80);
        for at in &sent[10..] {
            limits.release();
            limits.throttle(*at, now);
        }
        assert_eq!(limits.throttled, 22);
        assert_eq!(limits.decreases, 1);
        assert_eq!(limits.window, 16.0);
        assert_eq!(limits.rate(), Some(8.5));
        // Paced: the next request waits its turn at 8.5 a second.
        let next = now + Duration::from_secs_f64(1.0 / 8.5);
        assert_eq!(limits.admit(now), Admission::Later(next));
        // Sent after the decrease and throttled: decreases again.
        assert_eq!(limits.admit(next), Admission::Now);
        limits.release();
        limits.throttle(next, next + Duration::from_millis(40));
        assert_eq!(limits.decreases, 2);
        assert!((limits.rate().unwrap() - 8.5 * 0.85).abs() < 1e-9);
    }
}
