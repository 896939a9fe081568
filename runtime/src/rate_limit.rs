//! Per-IP fixed-window rate limiting in DynamoDB: one conditional UpdateItem
//! per request, no read-modify-write.

use crate::config::Layout;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use std::future::Future;

#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    pub allowed: bool,
    pub limit: u32,
    pub remaining: u32,
    pub window_seconds: u64,
    /// Seconds until the window resets; what 429's `retry_after` says.
    pub retry_after: u64,
}

#[derive(Debug, PartialEq)]
pub struct LimiterError {
    /// DynamoDB throttled us (as opposed to failing otherwise).
    pub throttled: bool,
    pub message: String,
}

pub trait RateLimiter: Send + Sync {
    fn check(
        &self,
        ip: &str,
        now: u64,
    ) -> impl Future<Output = Result<Decision, LimiterError>> + Send;
    /// Whether the table answers: for `/ready`.
    fn probe(&self) -> impl Future<Output = Result<(), LimiterError>> + Send;
}

pub fn window_start(now: u64, window: u64) -> u64 {
    now - now % window
}

/// Counters expire this many windows after their own: long enough that a
/// late TTL sweep never lets a window restart, short enough to stay small.
pub const EXPIRY_WINDOWS: u64 = 5;

pub struct DynamoDbLimiter {
    pub client: aws_sdk_dynamodb::Client,
    pub table: String,
    pub layout: Layout,
    pub limit: u32,
    pub window_seconds: u64,
}

pub const KEY_IP: &str = "ip";
pub const KEY_WINDOW: &str = "window_start";
/// The MTA table's range key: the window's number since the epoch
/// (`now // window`), as a string.
pub const KEY_BUCKET: &str = "minute_bucket";
pub const COUNT: &str = "request_count";
pub const EXPIRES: &str = "expires_at";

fn classify<
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
>(
    error: &SdkError<E, R>,
    throttled: bool,
) -> LimiterError {
    LimiterError {
        throttled,
        message: aws_smithy_types::error::display::DisplayErrorContext(error).to_string(),
    }
}

impl DynamoDbLimiter {
    /// The range key of the window that starts at `start`. Both layouts
    /// cut time into the same windows (aligned to the epoch), so the MTA
    /// function and this one count in the same item.
    fn window_key(&self, start: u64) -> (&'static str, AttributeValue) {
        match self.layout {
            Layout::Cairn => (KEY_WINDOW, AttributeValue::N(start.to_string())),
            Layout::Mta => (
                KEY_BUCKET,
                AttributeValue::S((start / self.window_seconds).to_string()),
            ),
        }
    }
}

impl RateLimiter for DynamoDbLimiter {
    async fn check(&self, ip: &str, now: u64) -> Result<Decision, LimiterError> {
        let start = window_start(now, self.window_seconds);
        let retry_after = (start + self.window_seconds).saturating_sub(now).max(1);
        let (window_name, window_value) = self.window_key(start);
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(KEY_IP, AttributeValue::S(ip.to_owned()))
            .key(window_name, window_value)
            .update_expression("ADD #count :one SET #expires = :expires")
            .condition_expression("attribute_not_exists(#count) OR #count < :limit")
            .expression_attribute_names("#count", COUNT)
            .expression_attribute_names("#expires", EXPIRES)
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .expression_attribute_values(":limit", AttributeValue::N(self.limit.to_string()))
            .expression_attribute_values(
                ":expires",
                AttributeValue::N((start + self.window_seconds * EXPIRY_WINDOWS).to_string()),
            )
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await;
        match result {
            Ok(output) => {
                let count: u32 = output
                    .attributes()
                    .and_then(|a| a.get(COUNT))
                    .and_then(|v| v.as_n().ok())
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(self.limit);
                Ok(Decision {
                    allowed: true,
                    limit: self.limit,
                    remaining: self.limit.saturating_sub(count),
                    window_seconds: self.window_seconds,
                    retry_after,
                })
            }
            Err(error) => {
                let service = error.as_service_error();
                if service.is_some_and(|e| e.is_conditional_check_failed_exception()) {
                    return Ok(Decision {
                        allowed: false,
                        limit: self.limit,
                        remaining: 0,
                        window_seconds: self.window_seconds,
                        retry_after,
                    });
                }
                let throttled = service.is_some_and(|e| {
                    e.is_provisioned_throughput_exceeded_exception()
                        || e.is_request_limit_exceeded()
                        || e.is_throttling_exception()
                });
                Err(classify(&error, throttled))
            }
        }
    }

    async fn probe(&self) -> Result<(), LimiterError> {
        let (window_name, window_value) = self.window_key(0);
        self.client
            .get_item()
            .table_name(&self.table)
            .key(KEY_IP, AttributeValue::S("__ready__".into()))
            .key(window_name, window_value)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| classify(&e, false))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_aligned() {
        assert_eq!(window_start(125, 60), 120);
        assert_eq!(window_start(120, 60), 120);
        assert_eq!(window_start(59, 60), 0);
    }
}
