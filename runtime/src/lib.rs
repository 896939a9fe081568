//! The chat runtime: the Lambda function behind `POST /chat`, and the same
//! handler as a local HTTP server.

pub mod auth;
pub mod config;
pub mod handler;
pub mod lambda;
pub mod local;
pub mod log;
pub mod memory;
pub mod model;
pub mod rate_limit;

use std::sync::Arc;

/// Builds the app from the environment: configuration checked, AWS clients
/// built once, the table's connection warmed.
pub async fn build_app(
) -> Result<Arc<handler::App<rate_limit::DynamoDbLimiter, model::Model>>, String> {
    let config = config::Config::from_env().map_err(|e| e.to_string())?;
    let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let limiter = rate_limit::DynamoDbLimiter {
        client: aws_sdk_dynamodb::Client::new(&aws),
        table: config.table.clone(),
        layout: config.layout,
        limit: config.max_requests,
        window_seconds: config.window_seconds,
    };
    let memory = config
        .conversations_table
        .clone()
        .map(|table| memory::Conversations {
            client: aws_sdk_dynamodb::Client::new(&aws),
            table,
            layout: config.layout,
            recall: config.memory_messages,
            ttl_seconds: config.memory_ttl_days * 86_400,
        });
    let model = model::Model::new(&config, &aws)?;
    let logger = log::Logger::Stdout;
    // Warm the connection now, in the init phase, not on the first request.
    use rate_limit::RateLimiter;
    let warm = limiter.probe().await;
    logger.log(
        if warm.is_ok() { "info" } else { "warn" },
        "init",
        "started",
        serde_json::json!({"table": config.table, "layout": format!("{:?}", config.layout).to_lowercase(), "ignored_variables": config.shadowed, "conversations_table": config.conversations_table, "model": config.model_id, "api_keys": config.api_keys.len(), "table_reachable": warm.is_ok()}),
    );
    Ok(Arc::new(handler::App {
        config,
        limiter,
        model,
        memory,
        logger,
        clock: handler::system_clock(),
    }))
}
