//! The handler's own cost: everything but DynamoDB and the model, which are
//! replaced by in-memory stand-ins that answer at once. Run with
//! `cargo bench -p chat-runtime --bench handler`.

use chat_runtime::config::Config;
use chat_runtime::handler::{App, Request};
use chat_runtime::lambda::{request_from_event, response_to_event};
use chat_runtime::log::Logger;
use chat_runtime::model::{ChatModel, ModelError, Reply};
use chat_runtime::rate_limit::{Decision, LimiterError, RateLimiter};
use std::sync::Arc;
use std::time::Instant;

struct Instant0;

impl RateLimiter for Instant0 {
    async fn check(&self, _: &str, _: u64) -> Result<Decision, LimiterError> {
        Ok(Decision {
            allowed: true,
            limit: 10,
            remaining: 9,
            window_seconds: 60,
            retry_after: 45,
        })
    }
    async fn probe(&self) -> Result<(), LimiterError> {
        Ok(())
    }
}

struct Echo;

impl ChatModel for Echo {
    async fn converse(
        &self,
        _: &str,
        _: &[chat_runtime::model::Turn],
        message: &str,
    ) -> Result<Reply, ModelError> {
        Ok(Reply {
            text: message.to_owned(),
            model: "echo".into(),
        })
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let config =
        Config::from_lookup(|name| (name == "RATE_LIMIT_TABLE").then(|| "bench".to_owned()))
            .unwrap();
    let (logger, lines) = Logger::memory();
    let app = Arc::new(App {
        config,
        limiter: Instant0,
        model: Echo,
        memory: None,
        logger,
        clock: Arc::new(|| 1_800_000_015_000),
    });
    let event: serde_json::Value =
        serde_json::from_str(include_str!("../tests/fixtures/apigw-v2-post-chat.json")).unwrap();
    let iterations = 20_000;
    let mut samples = Vec::with_capacity(iterations);
    runtime.block_on(async {
        for i in 0..iterations + 1000 {
            let started = Instant::now();
            let request: Request = request_from_event(&event, "bench").unwrap();
            let response = app.handle(request).await;
            let out = response_to_event(&response);
            std::hint::black_box(out);
            if i >= 1000 {
                samples.push(started.elapsed());
            }
            if i % 1000 == 0 {
                lines.lock().unwrap().clear();
            }
        }
    });
    samples.sort();
    let at = |q: f64| samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)];
    println!("handler (event in, event out, limiter and model answering at once), {iterations} requests:");
    println!(
        "  p50 {:?}  p99 {:?}  max {:?}",
        at(0.50),
        at(0.99),
        at(1.0)
    );
}
