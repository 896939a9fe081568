//! Conversation memory in DynamoDB, as the MTA backend keeps it: one item
//! per message, hash key `session_id`, range key `timestamp` (milliseconds),
//! `role`, `message`, and `expires_at` for the table's TTL. Per request: one
//! `Query` for the last messages (only when the client sent no history)
//! and one `BatchWriteItem` for the exchange (in the MTA layout, one
//! `PutItem` per message, as the MTA function's role grants no other write).

use crate::config::Layout;
use crate::model::{Role, Turn};
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
use sha2::{Digest, Sha256};
use std::collections::HashMap;

pub const KEY_SESSION: &str = "session_id";
pub const KEY_TIMESTAMP: &str = "timestamp";
pub const ROLE: &str = "role";
pub const MESSAGE: &str = "message";
pub const EXPIRES: &str = "expires_at";

/// Unprocessed items of a BatchWriteItem are sent again at most this many
/// times (DynamoDB returns them when a partition is throttled).
const WRITE_ATTEMPTS: u32 = 4;

#[derive(Debug, PartialEq)]
pub struct MemoryError {
    pub throttled: bool,
    pub message: String,
}

pub struct Conversations {
    pub client: aws_sdk_dynamodb::Client,
    pub table: String,
    pub layout: Layout,
    /// Messages read back when a request carries no history.
    pub recall: u32,
    pub ttl_seconds: u64,
}

/// The key a conversation is stored under. A session id the client chose
/// is kept as it is, behind `s#`; without one, the conversation belongs to
/// the client's address, stored as `ip#` and a SHA-256 of it, so that the
/// table (and its backups) hold no addresses. Because the two never share
/// a prefix, no client can name another address's conversation by sending
/// it as its session id (the MTA backend uses the raw IP for both, so there
/// a client that sends someone's IP as `session_id` reads their history).
/// The hash is pseudonymous, not anonymous: IPv4 space can be enumerated.
///
/// In the MTA layout the key is the MTA function's: the session id as it
/// is, or else the raw address, so that both functions read each other's
/// conversations. The handler then refuses a session id that is another
/// client's address.
pub fn session_key(layout: Layout, session_id: Option<&str>, source_ip: &str) -> String {
    match (layout, session_id) {
        (Layout::Mta, Some(id)) => id.to_owned(),
        (Layout::Mta, None) => source_ip.to_owned(),
        (Layout::Cairn, Some(id)) => format!("s#{id}"),
        (Layout::Cairn, None) => {
            let digest = Sha256::digest(source_ip.as_bytes());
            let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
            format!("ip#{hex}")
        }
    }
}

/// A `MemoryError` from an operation's typed error: throttled when the
/// service error is one of DynamoDB's three throttling exceptions.
macro_rules! error {
    ($e:expr) => {{
        let e = $e;
        let throttled = e.as_service_error().is_some_and(|s| {
            s.is_provisioned_throughput_exceeded_exception()
                || s.is_request_limit_exceeded()
                || s.is_throttling_exception()
        });
        described(&e, throttled)
    }};
}

fn described<E, R>(error: &SdkError<E, R>, throttled: bool) -> MemoryError
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    MemoryError {
        throttled,
        message: aws_smithy_types::error::display::DisplayErrorContext(error).to_string(),
    }
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::User => "user",
        Role::Assistant => "assistant",
    }
}

impl Conversations {
    /// The last `recall` messages of the session, oldest first. Read
    /// strongly consistent: the previous exchange was written a moment ago.
    pub async fn recent(&self, session: &str) -> Result<Vec<Turn>, MemoryError> {
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#s = :s")
            .expression_attribute_names("#s", KEY_SESSION)
            .expression_attribute_values(":s", AttributeValue::S(session.to_owned()))
            .scan_index_forward(false)
            .limit(self.recall as i32)
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| error!(e))?;
        let mut turns: Vec<Turn> = output
            .items()
            .iter()
            .filter_map(|item| {
                let role = match item.get(ROLE).and_then(|v| v.as_s().ok())?.as_str() {
                    "user" => Role::User,
                    "assistant" => Role::Assistant,
                    _ => return None,
                };
                let content = item.get(MESSAGE).and_then(|v| v.as_s().ok())?.clone();
                Some(Turn { role, content })
            })
            .collect();
        turns.reverse();
        Ok(turns)
    }

    /// Stores the exchange: the user's message at `now_ms`, the answer one
    /// millisecond later, so that they sort in the order they were said.
    /// Putting the same items again writes the same values: safe to repeat.
    pub async fn append(
        &self,
        session: &str,
        now_ms: u64,
        turns: &[Turn],
    ) -> Result<(), MemoryError> {
        let expires = now_ms / 1000 + self.ttl_seconds;
        let items = turns.iter().enumerate().map(|(i, turn)| {
            HashMap::from([
                (
                    KEY_SESSION.to_owned(),
                    AttributeValue::S(session.to_owned()),
                ),
                (
                    KEY_TIMESTAMP.to_owned(),
                    AttributeValue::N((now_ms + i as u64).to_string()),
                ),
                (
                    ROLE.to_owned(),
                    AttributeValue::S(role_name(turn.role).into()),
                ),
                (MESSAGE.to_owned(), AttributeValue::S(turn.content.clone())),
                (EXPIRES.to_owned(), AttributeValue::N(expires.to_string())),
            ])
        });
        if self.layout == Layout::Mta {
            let mut puts = tokio::task::JoinSet::new();
            for item in items {
                let put = self
                    .client
                    .put_item()
                    .table_name(&self.table)
                    .set_item(Some(item));
                puts.spawn(async move { put.send().await.map_err(|e| error!(e)) });
            }
            while let Some(result) = puts.join_next().await {
                result.map_err(|e| MemoryError {
                    throttled: false,
                    message: e.to_string(),
                })??;
            }
            return Ok(());
        }
        let mut requests: Vec<WriteRequest> = items
            .map(|item| {
                WriteRequest::builder()
                    .put_request(
                        PutRequest::builder()
                            .set_item(Some(item))
                            .build()
                            .expect("item set"),
                    )
                    .build()
            })
            .collect();
        for attempt in 0..WRITE_ATTEMPTS {
            if attempt > 0 {
                // Full jitter: concurrent writers never retry in lock-step.
                let cap = 25u64 << attempt;
                tokio::time::sleep(std::time::Duration::from_millis(fastrand::u64(0..=cap))).await;
            }
            let output = self
                .client
                .batch_write_item()
                .request_items(&self.table, requests)
                .send()
                .await
                .map_err(|e| error!(e))?;
            requests = output
                .unprocessed_items()
                .and_then(|u| u.get(&self.table))
                .cloned()
                .unwrap_or_default();
            if requests.is_empty() {
                return Ok(());
            }
        }
        Err(MemoryError {
            throttled: true,
            message: format!(
                "{} messages still unprocessed after {WRITE_ATTEMPTS} attempts",
                requests.len()
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_of_clients_and_of_addresses_never_meet() {
        let key = |id, ip| session_key(Layout::Cairn, id, ip);
        let by_ip = key(None, "192.0.2.10");
        assert!(by_ip.starts_with("ip#") && by_ip.len() == 3 + 32, "{by_ip}");
        assert!(!by_ip.contains("192.0.2.10"));
        assert_eq!(by_ip, key(None, "192.0.2.10"));
        assert_ne!(by_ip, key(None, "192.0.2.11"));
        assert_eq!(key(Some("abc"), "192.0.2.10"), "s#abc");
        assert_ne!(key(Some(&by_ip), "192.0.2.10"), by_ip);
    }

    #[test]
    fn the_mta_layout_keys_sessions_as_the_mta_function_does() {
        let key = |id, ip| session_key(Layout::Mta, id, ip);
        assert_eq!(key(Some("unique-user-id"), "192.0.2.10"), "unique-user-id");
        assert_eq!(key(None, "192.0.2.10"), "192.0.2.10");
    }
}
