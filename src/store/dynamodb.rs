//! Shared state in a DynamoDB table, for teams and CI.
//!
//! One table holds any number of environments, each under its own key
//! (`pk`). Under one key:
//!
//! - `head`: which version is current (serial, lineage, the write that made
//!   it, its chunk count and SHA-256);
//! - `version#SERIAL`: one per saved version, for `state history`;
//! - `chunk#SERIAL#WRITE#N`: the gzipped state document, split into pieces
//!   that fit DynamoDB's 400 KB item limit;
//! - `lock`: holder, operation, time and a lease the holder keeps renewing;
//! - `step#SERIAL`: an apply's steps since `head` (the resources each one
//!   writes and removes), each added in a transaction conditioned on `head`
//!   being the one this process knows and on its lock; a load replays the
//!   steps newer than `head`, and the end of the apply saves the document
//!   once and deletes them.
//!
//! A save writes its chunks under a key no other write can use, then moves
//! `head` in a transaction conditioned on the serial and lineage this
//! process last saw and on it still holding the lock: two writers can never
//! overwrite each other, and a reader never sees half a document.

use super::{holder, now_text, JournalEntry, LockInfo, StateError, StateStore, Version};
use crate::aws::{Aws, AwsError};
use crate::model::ErrorClass;
use crate::stack::StateBackend;
use crate::state::{new_id, State};
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, ConditionCheck, DeleteRequest,
    KeySchemaElement, KeyType, Put, ScalarAttributeType, TransactWriteItem, WriteRequest,
};
use flate2::{read::GzDecoder, write::GzEncoder, Compression};
use futures::future::BoxFuture;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Bytes of compressed state per item: under the 400 KB item limit with
/// room for the key and attribute names.
const CHUNK_BYTES: usize = 350 * 1024;
/// Versions older than `keep_versions` are pruned every this many saves.
const PRUNE_EVERY: u64 = 20;

type Item = HashMap<String, AttributeValue>;

pub struct DynamoStore {
    aws: Arc<Aws>,
    table: String,
    key: String,
    lease: Duration,
    keep_versions: u64,
    /// The (serial, lineage) this process last read or wrote: a save is
    /// accepted only on top of it.
    expected: Mutex<Option<(u64, String)>>,
    /// The last step this process added after `head`, until a save folds
    /// the steps in.
    steps: Mutex<Option<u64>>,
    /// The write that made the `head` this process knows: steps name it,
    /// and only steps made on top of the current head are replayed (a
    /// restore or any other save starts a new base).
    base: Mutex<Option<String>>,
    /// The lock this process holds, and the task renewing its lease.
    held: Mutex<Option<(String, tokio::task::JoinHandle<()>)>>,
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn n(value: u64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn get_s(item: &Item, name: &str) -> String {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .cloned()
        .unwrap_or_default()
}

fn get_n(item: &Item, name: &str) -> u64 {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn version_key(serial: u64) -> String {
    format!("version#{serial:020}")
}

fn step_key(serial: u64) -> String {
    format!("step#{serial:020}")
}

/// A step larger than this is saved as a whole document instead.
const STEP_BYTES: usize = 350 * 1024;

fn chunk_prefix(serial: u64, write: &str) -> String {
    format!("chunk#{serial:020}#{write}#")
}

/// A conditional write that lost, as opposed to any other failure.
fn condition_failed(is: bool) -> Option<ErrorClass> {
    is.then_some(ErrorClass::PreconditionFailed)
}

fn put_error(e: &aws_sdk_dynamodb::operation::put_item::PutItemError) -> Option<ErrorClass> {
    if e.is_resource_not_found_exception() {
        return Some(ErrorClass::NotFound);
    }
    condition_failed(e.is_conditional_check_failed_exception())
}

fn transaction_error(
    e: &aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError,
) -> Option<ErrorClass> {
    use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError as E;
    match e {
        E::ResourceNotFoundException(_) => Some(ErrorClass::NotFound),
        E::TransactionCanceledException(cancel) => {
            let codes: Vec<&str> = cancel
                .cancellation_reasons()
                .iter()
                .filter_map(|r| r.code())
                .collect();
            if codes.contains(&"ConditionalCheckFailed") {
                Some(ErrorClass::PreconditionFailed)
            } else {
                // TransactionConflict: another transaction on the same items.
                Some(ErrorClass::Conflict)
            }
        }
        E::TransactionInProgressException(_) => Some(ErrorClass::Conflict),
        _ => None,
    }
}

impl DynamoStore {
    pub fn new(aws: Arc<Aws>, backend: &StateBackend) -> DynamoStore {
        DynamoStore {
            aws,
            table: backend.table.clone(),
            key: backend.key.clone(),
            lease: Duration::from_secs(backend.lock_lease_seconds),
            keep_versions: backend.keep_versions,
            expected: Mutex::new(None),
            base: Mutex::new(None),
            steps: Mutex::new(None),
            held: Mutex::new(None),
        }
    }

    /// When this process holds the lock: a check in `items` that it still
    /// does (its lease may have run out and another taken it), and its id.
    fn held_lock_check(&self, items: &mut Vec<TransactWriteItem>) -> Option<String> {
        let id = self
            .held
            .lock()
            .expect("held lock")
            .as_ref()
            .map(|(id, _)| id.clone())?;
        items.push(
            TransactWriteItem::builder()
                .condition_check(
                    ConditionCheck::builder()
                        .table_name(&self.table)
                        .set_key(Some(self.item_key("lock")))
                        .condition_expression("id = :id")
                        .expression_attribute_values(":id", s(&id))
                        .build()
                        .expect("table, key and condition are set"),
                )
                .build(),
        );
        Some(id)
    }

    /// One transaction, `token` its client token (a repeat within ten
    /// minutes is the same transaction on AWS).
    async fn transact(&self, items: &[TransactWriteItem], token: &str) -> Result<(), AwsError> {
        self.aws
            .send(
                "TransactWriteItems",
                || {
                    self.aws
                        .dynamodb()
                        .transact_write_items()
                        .set_transact_items(Some(items.to_vec()))
                        .client_request_token(token)
                        .send()
                },
                transaction_error,
            )
            .await
            .map(|_| ())
    }

    fn item_key(&self, sort: impl Into<String>) -> Item {
        HashMap::from([("pk".to_owned(), s(&self.key)), ("sk".to_owned(), s(sort))])
    }

    fn failed(&self, error: AwsError) -> StateError {
        let hint = if error.is_not_found() {
            format!(
                "\nThe state table `{}` does not exist: create it with `cairn state init-backend ENV`.",
                self.table
            )
        } else {
            String::new()
        };
        StateError::Backend {
            path: self.describe(),
            message: format!("{error}{hint}"),
        }
    }

    async fn get(&self, sort: &str) -> Result<Option<Item>, StateError> {
        let output = self
            .aws
            .send(
                "GetItem",
                || {
                    self.aws
                        .dynamodb()
                        .get_item()
                        .table_name(&self.table)
                        .set_key(Some(self.item_key(sort)))
                        .consistent_read(true)
                        .send()
                },
                |e| crate::aws::missing(e.is_resource_not_found_exception()),
            )
            .await
            .map_err(|e| self.failed(e))?;
        Ok(output.item)
    }

    /// Every item whose sort key lies in [from, to], in order; with
    /// `keys_only`, just their keys (for deletes: no chunk data read).
    async fn query(
        &self,
        from: &str,
        to: &str,
        newest_first: bool,
        keys_only: bool,
    ) -> Result<Vec<Item>, StateError> {
        let mut items = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let output = self
                .aws
                .send(
                    "Query",
                    || {
                        self.aws
                            .dynamodb()
                            .query()
                            .table_name(&self.table)
                            .key_condition_expression("pk = :pk AND sk BETWEEN :from AND :to")
                            .expression_attribute_values(":pk", s(&self.key))
                            .expression_attribute_values(":from", s(from))
                            .expression_attribute_values(":to", s(to))
                            .consistent_read(true)
                            .scan_index_forward(!newest_first)
                            .set_projection_expression(keys_only.then(|| "pk, sk".to_owned()))
                            .set_exclusive_start_key(start.clone())
                            .send()
                    },
                    |e| crate::aws::missing(e.is_resource_not_found_exception()),
                )
                .await
                .map_err(|e| self.failed(e))?;
            items.extend(output.items.unwrap_or_default());
            match output.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => return Ok(items),
            }
        }
    }

    /// Reads one saved version's document and checks it whole.
    async fn read_document(
        &self,
        serial: u64,
        write: &str,
        chunks: u64,
        sha256: &str,
    ) -> Result<State, StateError> {
        let prefix = chunk_prefix(serial, write);
        let items = self
            .query(&prefix, &format!("{prefix}~"), false, false)
            .await?;
        let mut compressed = Vec::new();
        for item in &items {
            if let Some(AttributeValue::B(blob)) = item.get("data") {
                compressed.extend_from_slice(blob.as_ref());
            }
        }
        let corrupt = |message: String| StateError::Corrupt {
            path: self.describe(),
            message,
        };
        if items.len() as u64 != chunks || hex(&Sha256::digest(&compressed)) != sha256 {
            return Err(corrupt(format!(
                "version {serial} should have {chunks} chunks with SHA-256 {sha256}; found {} chunks that do not match",
                items.len()
            )));
        }
        let mut text = Vec::new();
        GzDecoder::new(compressed.as_slice())
            .read_to_end(&mut text)
            .map_err(|e| corrupt(format!("version {serial} does not decompress: {e}")))?;
        super::parse(&text, &self.describe())
    }

    async fn write_chunks(
        &self,
        serial: u64,
        write: &str,
        compressed: &[u8],
    ) -> Result<u64, StateError> {
        let prefix = chunk_prefix(serial, write);
        let mut count = 0;
        for (index, piece) in compressed.chunks(CHUNK_BYTES).enumerate() {
            let mut item = self.item_key(format!("{prefix}{index:05}"));
            item.insert("data".into(), AttributeValue::B(Blob::new(piece)));
            self.aws
                .send(
                    "PutItem",
                    || {
                        self.aws
                            .dynamodb()
                            .put_item()
                            .table_name(&self.table)
                            .set_item(Some(item.clone()))
                            .send()
                    },
                    put_error,
                )
                .await
                .map_err(|e| self.failed(e))?;
            count += 1;
        }
        Ok(count)
    }

    async fn delete_all(&self, keys: Vec<Item>) {
        for batch in keys.chunks(25) {
            let mut requests: Vec<WriteRequest> = batch
                .iter()
                .map(|key| {
                    let key: Item = key
                        .iter()
                        .filter(|(k, _)| *k == "pk" || *k == "sk")
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect();
                    WriteRequest::builder()
                        .delete_request(
                            DeleteRequest::builder()
                                .set_key(Some(key))
                                .build()
                                .expect("key is set"),
                        )
                        .build()
                })
                .collect();
            for _ in 0..5 {
                let result = self
                    .aws
                    .send(
                        "BatchWriteItem",
                        || {
                            self.aws
                                .dynamodb()
                                .batch_write_item()
                                .request_items(&self.table, requests.clone())
                                .send()
                        },
                        |_| None,
                    )
                    .await;
                match result {
                    Ok(output) => {
                        requests = output
                            .unprocessed_items
                            .and_then(|mut m| m.remove(&self.table))
                            .unwrap_or_default();
                        if requests.is_empty() {
                            break;
                        }
                    }
                    Err(_) => break,
                }
            }
        }
    }

    /// Drops versions older than the newest `keep_versions`, and chunks
    /// that no kept version (nor `head`) references and that are older
    /// than the oldest kept version: writes that never committed included.
    /// Best effort.
    async fn prune(&self, serial: u64) {
        if !serial.is_multiple_of(PRUNE_EVERY) || serial <= self.keep_versions {
            return;
        }
        let oldest_kept = serial - self.keep_versions + 1;
        let before = oldest_kept - 1;
        let Ok(versions) = self.query("version#", "version#~", false, false).await else {
            return;
        };
        let mut referenced: std::collections::BTreeSet<String> = versions
            .iter()
            .filter(|v| get_n(v, "serial") >= oldest_kept)
            .map(|v| chunk_prefix(get_n(v, "serial"), &get_s(v, "write")))
            .collect();
        match self.get("head").await {
            Ok(Some(head)) => {
                referenced.insert(chunk_prefix(get_n(&head, "serial"), &get_s(&head, "write")));
            }
            // Without a readable head, nothing is provably unreferenced.
            _ => return,
        }
        let mut doomed: Vec<Item> = versions
            .into_iter()
            .filter(|v| get_n(v, "serial") < oldest_kept)
            .collect();
        if let Ok(items) = self
            .query("chunk#", &format!("chunk#{before:020}#~"), false, true)
            .await
        {
            doomed.extend(items.into_iter().filter(|chunk| {
                let sort = get_s(chunk, "sk");
                !referenced
                    .iter()
                    .any(|prefix| sort.starts_with(prefix.as_str()))
            }));
        }
        self.delete_all(doomed).await;
        // Steps a crash left behind after their document was saved.
        self.delete_steps_through(serial).await;
    }

    /// Checks every kept version: its chunks are all there and match its
    /// SHA-256, and it parses. `head` must name a version that passes.
    async fn verify_async(&self) -> Result<Vec<super::Checked>, StateError> {
        let versions = self.query("version#", "version#~", true, false).await?;
        let mut out = Vec::new();
        for version in &versions {
            let serial = get_n(version, "serial");
            let checked = self
                .read_document(
                    serial,
                    &get_s(version, "write"),
                    get_n(version, "chunks"),
                    &get_s(version, "sha256"),
                )
                .await
                .map(|_| ())
                .map_err(|e| e.to_string());
            out.push((serial, checked));
        }
        if let Some(head) = self.get("head").await? {
            let serial = get_n(&head, "serial");
            let write = get_s(&head, "write");
            let named = versions
                .iter()
                .any(|v| get_n(v, "serial") == serial && get_s(v, "write") == write);
            if !named {
                out.insert(
                    0,
                    (
                        serial,
                        Err(format!(
                            "head names serial {serial} (write {write}), which no kept version records"
                        )),
                    ),
                );
            }
        }
        Ok(out)
    }

    async fn save_async(&self, state: &State) -> Result<(), StateError> {
        let expected = self.expected.lock().expect("expected lock").clone();
        if let Some((serial, _)) = &expected {
            if state.serial <= *serial {
                return Err(StateError::Conflict {
                    path: self.describe(),
                    message: format!(
                        "a save must raise the serial above {serial}, got {}",
                        state.serial
                    ),
                });
            }
        }
        let document = serde_json::to_vec(state).expect("state serializes");
        let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
        encoder.write_all(&document).expect("writing to memory");
        let compressed = encoder.finish().expect("writing to memory");
        let sha256 = hex(&Sha256::digest(&compressed));
        let write = new_id();
        let chunks = self.write_chunks(state.serial, &write, &compressed).await?;

        let mut head = self.item_key("head");
        head.extend([
            ("serial".to_owned(), n(state.serial)),
            ("lineage".to_owned(), s(&state.lineage)),
            ("write".to_owned(), s(&write)),
            ("chunks".to_owned(), n(chunks)),
            ("sha256".to_owned(), s(&sha256)),
        ]);
        let mut version = head.clone();
        version.insert("sk".into(), s(version_key(state.serial)));
        version.extend([
            ("saved".to_owned(), s(now_text())),
            ("holder".to_owned(), s(holder())),
            ("resources".to_owned(), n(state.resources.len() as u64)),
            ("bytes".to_owned(), n(document.len() as u64)),
        ]);
        let mut head_put = Put::builder().table_name(&self.table).set_item(Some(head));
        head_put = match &expected {
            None => head_put.condition_expression("attribute_not_exists(pk)"),
            Some((serial, lineage)) => head_put
                .condition_expression("serial = :serial AND lineage = :lineage")
                .expression_attribute_values(":serial", n(*serial))
                .expression_attribute_values(":lineage", s(lineage)),
        };
        let mut items = vec![
            TransactWriteItem::builder()
                .put(head_put.build().expect("table and item are set"))
                .build(),
            TransactWriteItem::builder()
                .put(
                    Put::builder()
                        .table_name(&self.table)
                        .set_item(Some(version))
                        .condition_expression("attribute_not_exists(pk)")
                        .build()
                        .expect("table and item are set"),
                )
                .build(),
        ];
        let lock_id = self.held_lock_check(&mut items);
        // The write id is the transaction's client token: DynamoDB treats a
        // repeat within ten minutes as the same transaction, so a retry
        // after a lost answer cannot fail its own condition.
        let result = self.transact(&items, &write).await;
        if let Err(error) = result {
            // Did it commit after all (an answer lost, then a retry that
            // failed its condition or gave up)? `head` says.
            let now = self.get("head").await.ok().flatten();
            if now.as_ref().is_some_and(|h| get_s(h, "write") == write) {
                self.saved(state, &write).await;
                return Ok(());
            }
            // The chunks stay: deleting them could race a commit whose
            // answer is still on its way. Pruning removes chunks that no
            // version references.
            if error.class == ErrorClass::PreconditionFailed {
                return Err(StateError::Conflict {
                    path: self.describe(),
                    message: format!(
                        "the state changed since this cairn read it (serial {} then, {} now){}; nothing was overwritten. Run the command again.",
                        expected.as_ref().map_or("none".into(), |(s, _)| s.to_string()),
                        now.as_ref().map_or("none".into(), |h| get_n(h, "serial").to_string()),
                        if lock_id.is_some() { ", or this cairn's lock was taken over after its lease ran out" } else { "" },
                    ),
                });
            }
            return Err(self.failed(error));
        }
        self.saved(state, &write).await;
        Ok(())
    }

    async fn read_lock(&self) -> Result<Option<LockInfo>, StateError> {
        Ok(self.get("lock").await?.map(|item| LockInfo {
            id: get_s(&item, "id"),
            holder: get_s(&item, "holder"),
            operation: get_s(&item, "operation"),
            created: get_s(&item, "created"),
            pid: get_n(&item, "pid") as u32,
            host: get_s(&item, "host"),
            expires: Some(super::utc_text(get_n(&item, "expires"))),
        }))
    }

    async fn lock_async(&self, operation: &str, timeout: Duration) -> Result<LockInfo, StateError> {
        let info = LockInfo::new(operation);
        let started = Instant::now();
        loop {
            let now = unix_now();
            let mut item = self.item_key("lock");
            item.extend([
                ("id".to_owned(), s(&info.id)),
                ("holder".to_owned(), s(&info.holder)),
                ("operation".to_owned(), s(&info.operation)),
                ("created".to_owned(), s(&info.created)),
                ("pid".to_owned(), n(u64::from(info.pid))),
                ("host".to_owned(), s(&info.host)),
                ("expires".to_owned(), n(now + self.lease.as_secs())),
            ]);
            // Free, or held by a cairn whose lease ran out.
            let result = self
                .put_lock(
                    &item,
                    "attribute_not_exists(pk) OR expires < :now",
                    (":now", n(now)),
                )
                .await;
            match result {
                Ok(_) => {
                    self.hold(&info.id);
                    return Ok(info);
                }
                Err(e) if e.class == ErrorClass::PreconditionFailed => {
                    let current = self.read_lock().await?;
                    // Our own put, repeated after its answer was lost.
                    if current.as_ref().is_some_and(|held| held.id == info.id) {
                        self.hold(&info.id);
                        return Ok(info);
                    }
                    if let Some(dead) = current.filter(super::holder_is_dead_here) {
                        // Its holder ran on this host and is gone: no lease to
                        // wait out. Taken over only if it is still that lock.
                        if self.take_over(&item, &dead.id).await? {
                            self.hold(&info.id);
                            return Ok(info);
                        }
                        continue;
                    }
                    if started.elapsed() >= timeout {
                        let holder = self
                            .read_lock()
                            .await?
                            .unwrap_or(LockInfo::unknown("unknown (released just now)"));
                        return Err(StateError::Locked(Box::new(holder)));
                    }
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                Err(e) => return Err(self.failed(e)),
            }
        }
    }

    /// Writes the lock item if `condition` (with its one value) holds.
    async fn put_lock(
        &self,
        item: &Item,
        condition: &str,
        (name, value): (&str, AttributeValue),
    ) -> Result<(), AwsError> {
        self.aws
            .send(
                "PutItem",
                || {
                    self.aws
                        .dynamodb()
                        .put_item()
                        .table_name(&self.table)
                        .set_item(Some(item.clone()))
                        .condition_expression(condition)
                        .expression_attribute_values(name, value.clone())
                        .send()
                },
                put_error,
            )
            .await
            .map(|_| ())
    }

    /// This process holds lock `id`: keep its lease alive.
    fn hold(&self, id: &str) {
        let renewal = tokio::spawn(renew(
            self.aws.dynamodb().clone(),
            self.table.clone(),
            self.item_key("lock"),
            id.to_owned(),
            self.lease,
        ));
        *self.held.lock().expect("held lock") = Some((id.to_owned(), renewal));
    }

    /// Replaces lock `old` (whose holder is gone) with `item`, only if it
    /// is still lock `old`. False when someone else got there first.
    async fn take_over(&self, item: &Item, old: &str) -> Result<bool, StateError> {
        let result = self.put_lock(item, "id = :old", (":old", s(old))).await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if e.class == ErrorClass::PreconditionFailed => {
                // Our own put, repeated after its answer was lost?
                let id = get_s(item, "id");
                Ok(self.read_lock().await?.is_some_and(|held| held.id == id))
            }
            Err(e) => Err(self.failed(e)),
        }
    }

    async fn unlock_async(&self, id: &str) -> Result<(), StateError> {
        {
            let mut held = self.held.lock().expect("held lock");
            if held.as_ref().is_some_and(|(mine, _)| mine == id) {
                if let Some((_, renewal)) = held.take() {
                    renewal.abort();
                }
            }
        }
        let result = self
            .aws
            .send(
                "DeleteItem",
                || {
                    self.aws
                        .dynamodb()
                        .delete_item()
                        .table_name(&self.table)
                        .set_key(Some(self.item_key("lock")))
                        .condition_expression("id = :id")
                        .expression_attribute_values(":id", s(id))
                        .send()
                },
                |e| {
                    if e.is_resource_not_found_exception() {
                        Some(ErrorClass::NotFound)
                    } else {
                        condition_failed(e.is_conditional_check_failed_exception())
                    }
                },
            )
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if e.class == ErrorClass::PreconditionFailed => match self.read_lock().await? {
                // Gone: released, by this very delete if its answer was lost.
                None => Ok(()),
                Some(_) => Err(StateError::NotLocked(id.to_owned())),
            },
            Err(e) => Err(self.failed(e)),
        }
    }

    async fn history_async(&self) -> Result<Vec<Version>, StateError> {
        let items = self.query("version#", "version#~", true, false).await?;
        Ok(items
            .iter()
            .map(|item| Version {
                serial: get_n(item, "serial"),
                lineage: get_s(item, "lineage"),
                saved: get_s(item, "saved"),
                holder: get_s(item, "holder"),
                resources: get_n(item, "resources"),
                bytes: get_n(item, "bytes"),
            })
            .collect())
    }

    async fn load_version_async(&self, serial: u64) -> Result<State, StateError> {
        let Some(item) = self.get(&version_key(serial)).await? else {
            return Err(StateError::NoVersion(serial));
        };
        self.read_document(
            serial,
            &get_s(&item, "write"),
            get_n(&item, "chunks"),
            &get_s(&item, "sha256"),
        )
        .await
    }

    async fn load_async(&self) -> Result<Option<State>, StateError> {
        let Some(head) = self.get("head").await? else {
            *self.expected.lock().expect("expected lock") = None;
            return Ok(None);
        };
        let serial = get_n(&head, "serial");
        // Known even if the document turns out damaged: `state restore`
        // saves on top of this head.
        *self.expected.lock().expect("expected lock") = Some((serial, get_s(&head, "lineage")));
        *self.base.lock().expect("base lock") = Some(get_s(&head, "write"));
        let mut state = self
            .read_document(
                serial,
                &get_s(&head, "write"),
                get_n(&head, "chunks"),
                &get_s(&head, "sha256"),
            )
            .await?;
        self.replay(&mut state, &get_s(&head, "write")).await?;
        Ok(Some(state))
    }

    /// Applies the steps recorded on top of `head` (made by its write
    /// `base`), in order. Others are left by a run whose document was then
    /// saved, or replaced (a restore): not this document's.
    async fn replay(&self, state: &mut State, base: &str) -> Result<(), StateError> {
        let from = step_key(state.serial + 1);
        for item in self.query(&from, "step#~", false, false).await? {
            if get_s(&item, "base") != base || get_s(&item, "lineage") != state.lineage {
                continue;
            }
            let text = get_s(&item, "entry");
            let entry: JournalEntry =
                serde_json::from_str(&text).map_err(|e| StateError::Corrupt {
                    path: format!("{}/{}", self.describe(), get_s(&item, "sk")),
                    message: e.to_string(),
                })?;
            if entry.serial != state.serial + 1 {
                return Err(StateError::Corrupt {
                    path: self.describe(),
                    message: format!(
                        "step {} follows serial {}: steps are missing",
                        entry.serial, state.serial
                    ),
                });
            }
            entry.apply_to(state);
        }
        Ok(())
    }

    /// Adds one step after `head`: in a transaction with the checks that
    /// `head` is still the one this process knows and that it still holds
    /// the lock. The step's id is the client token, so a retry after a lost
    /// answer is the same transaction.
    async fn append_async(&self, state: &State, entry: &JournalEntry) -> Result<(), StateError> {
        let expected = self.expected.lock().expect("expected lock").clone();
        let text = serde_json::to_string(entry).expect("a journal entry serializes");
        let base = self.base.lock().expect("base lock").clone();
        let (Some((head_serial, lineage)), Some(base)) = (expected, base) else {
            return self.save_async(state).await;
        };
        if text.len() > STEP_BYTES || entry.serial <= head_serial {
            return self.save_async(state).await;
        }
        let mut item = self.item_key(step_key(entry.serial));
        item.extend([
            ("serial".to_owned(), n(entry.serial)),
            ("lineage".to_owned(), s(&lineage)),
            ("base".to_owned(), s(&base)),
            ("entry".to_owned(), s(text)),
        ]);
        let mut items = vec![
            TransactWriteItem::builder()
                .put(
                    Put::builder()
                        .table_name(&self.table)
                        .set_item(Some(item))
                        .condition_expression("attribute_not_exists(pk)")
                        .build()
                        .expect("table and item are set"),
                )
                .build(),
            TransactWriteItem::builder()
                .condition_check(
                    ConditionCheck::builder()
                        .table_name(&self.table)
                        .set_key(Some(self.item_key("head")))
                        .condition_expression(
                            "serial = :serial AND lineage = :lineage AND #write = :base",
                        )
                        .expression_attribute_names("#write", "write")
                        .expression_attribute_values(":serial", n(head_serial))
                        .expression_attribute_values(":lineage", s(&lineage))
                        .expression_attribute_values(":base", s(&base))
                        .build()
                        .expect("table, key and condition are set"),
                )
                .build(),
        ];
        let lock_id = self.held_lock_check(&mut items);
        let token = new_id();
        let result = self.transact(&items, &token).await;
        let Err(error) = result else {
            *self.steps.lock().expect("steps lock") = Some(entry.serial);
            return Ok(());
        };
        // Committed after all (an answer lost, then a retry that failed its
        // condition)? The step is there, with this content.
        let there = self.get(&step_key(entry.serial)).await.ok().flatten();
        if there.is_some_and(|item| {
            get_s(&item, "entry") == serde_json::to_string(entry).unwrap_or_default()
        }) {
            *self.steps.lock().expect("steps lock") = Some(entry.serial);
            return Ok(());
        }
        if error.class == ErrorClass::PreconditionFailed {
            return Err(StateError::Conflict {
                path: self.describe(),
                message: format!(
                    "the state changed since this cairn read it (serial {head_serial} then){}; nothing was overwritten. Run the command again.",
                    if lock_id.is_some() { ", or this cairn's lock was taken over after its lease ran out" } else { "" },
                ),
            });
        }
        Err(self.failed(error))
    }

    /// Saves the document with every step (the save deletes the steps).
    async fn compact_async(&self, state: &State) -> Result<(), StateError> {
        if self.steps.lock().expect("steps lock").is_none() {
            return Ok(());
        }
        self.save_async(state).await
    }

    /// After a save: the steps this process added are in the document.
    async fn saved(&self, state: &State, write: &str) {
        *self.expected.lock().expect("expected lock") = Some((state.serial, state.lineage.clone()));
        *self.base.lock().expect("base lock") = Some(write.to_owned());
        let added = self.steps.lock().expect("steps lock").take();
        if added.is_some() {
            self.delete_steps_through(state.serial).await;
        }
        self.prune(state.serial).await;
    }

    /// Deletes the steps a saved document already holds. Best effort: a
    /// load never replays them (they are not newer than `head`).
    async fn delete_steps_through(&self, serial: u64) {
        if let Ok(items) = self.query("step#", &step_key(serial), false, true).await {
            self.delete_all(items).await;
        }
    }
}

/// Keeps the lease alive while the lock is held; stops when aborted or
/// when the lock is no longer this cairn's.
async fn renew(
    client: aws_sdk_dynamodb::Client,
    table: String,
    key: Item,
    id: String,
    lease: Duration,
) {
    loop {
        tokio::time::sleep(lease / 3).await;
        let result = client
            .update_item()
            .table_name(&table)
            .set_key(Some(key.clone()))
            .update_expression("SET expires = :expires")
            .condition_expression("id = :id")
            .expression_attribute_values(":expires", n(unix_now() + lease.as_secs()))
            .expression_attribute_values(":id", s(&id))
            .send()
            .await;
        if let Err(error) = result {
            if error
                .as_service_error()
                .is_some_and(|e| e.is_conditional_check_failed_exception())
            {
                return;
            }
        }
    }
}

/// Consumers: one item each, `consumer#PROJECT/ENV`, beside the state's
/// items under the same key, each written by its consumer alone.
impl DynamoStore {
    async fn consumers_async(&self) -> Result<Vec<super::Consumer>, StateError> {
        let items = self.query("consumer#", "consumer#~", false, false).await?;
        items
            .iter()
            .map(|item| {
                serde_json::from_str(&get_s(item, "consumer")).map_err(|e| StateError::Corrupt {
                    path: format!("{} {}", self.describe(), get_s(item, "sk")),
                    message: e.to_string(),
                })
            })
            .collect()
    }
    async fn add_consumer_async(&self, consumer: &super::Consumer) -> Result<(), StateError> {
        let mut item = self.item_key(format!("consumer#{}", consumer.id));
        item.insert(
            "consumer".into(),
            s(serde_json::to_string(consumer).expect("a consumer serializes")),
        );
        self.aws
            .send(
                "PutItem",
                || {
                    self.aws
                        .dynamodb()
                        .put_item()
                        .table_name(&self.table)
                        .set_item(Some(item.clone()))
                        .send()
                },
                put_error,
            )
            .await
            .map(|_| ())
            .map_err(|e| self.failed(e))
    }
    async fn remove_consumer_async(&self, id: &str) -> Result<(), StateError> {
        self.aws
            .send(
                "DeleteItem",
                || {
                    self.aws
                        .dynamodb()
                        .delete_item()
                        .table_name(&self.table)
                        .set_key(Some(self.item_key(format!("consumer#{id}"))))
                        .send()
                },
                |e| crate::aws::missing(e.is_resource_not_found_exception()),
            )
            .await
            .map(|_| ())
            .map_err(|e| self.failed(e))
    }
}

impl StateStore for DynamoStore {
    fn describe(&self) -> String {
        format!("dynamodb://{}/{}", self.table, self.key)
    }
    fn identity(&self) -> String {
        format!("{}/{}", self.table, self.key)
    }
    fn consumers(&self) -> BoxFuture<'_, Result<Vec<super::Consumer>, StateError>> {
        Box::pin(self.consumers_async())
    }
    fn add_consumer<'a>(
        &'a self,
        consumer: &'a super::Consumer,
    ) -> BoxFuture<'a, Result<(), StateError>> {
        Box::pin(self.add_consumer_async(consumer))
    }
    fn remove_consumer<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), StateError>> {
        Box::pin(self.remove_consumer_async(id))
    }
    fn load(&self) -> BoxFuture<'_, Result<Option<State>, StateError>> {
        Box::pin(self.load_async())
    }
    fn append<'a>(
        &'a self,
        state: &'a State,
        entry: &'a JournalEntry,
    ) -> BoxFuture<'a, Result<(), StateError>> {
        Box::pin(self.append_async(state, entry))
    }
    fn compact<'a>(&'a self, state: &'a State) -> BoxFuture<'a, Result<(), StateError>> {
        Box::pin(self.compact_async(state))
    }
    fn save<'a>(&'a self, state: &'a State) -> BoxFuture<'a, Result<(), StateError>> {
        Box::pin(self.save_async(state))
    }
    fn lock<'a>(
        &'a self,
        operation: &'a str,
        timeout: Duration,
    ) -> BoxFuture<'a, Result<LockInfo, StateError>> {
        Box::pin(self.lock_async(operation, timeout))
    }
    fn unlock<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), StateError>> {
        Box::pin(self.unlock_async(id))
    }
    fn current_lock(&self) -> BoxFuture<'_, Result<Option<LockInfo>, StateError>> {
        Box::pin(self.read_lock())
    }
    fn history(&self) -> BoxFuture<'_, Result<Vec<Version>, StateError>> {
        Box::pin(self.history_async())
    }
    fn load_version(&self, serial: u64) -> BoxFuture<'_, Result<State, StateError>> {
        Box::pin(self.load_version_async(serial))
    }
    fn verify(&self) -> BoxFuture<'_, Result<Vec<super::Checked>, StateError>> {
        Box::pin(self.verify_async())
    }
}

/// A store dropped while it holds the lock (a command cancelled before it
/// released it) stops renewing the lease, so the lock runs out instead of
/// living as long as the process. Releasing is the caller's, explicitly:
/// a `Drop` cannot wait for the delete.
impl Drop for DynamoStore {
    fn drop(&mut self) {
        if let Some((_, renewal)) = self.held.get_mut().ok().and_then(Option::take) {
            renewal.abort();
        }
    }
}

/// Why the state table could not be made.
#[derive(Debug, thiserror::Error)]
pub enum InitBackendError {
    #[error("table `{table}` exists but is not a cairn state table (its key is {schema:?}; cairn needs pk (hash) and sk (range)); choose another `state.table`")]
    NotAStateTable {
        table: String,
        schema: Vec<(String, String)>,
    },
    #[error(transparent)]
    Aws(#[from] AwsError),
}

/// Creates the state table: on-demand, point-in-time recovery, encrypted
/// with a KMS key, protected from deletion. Returns false if it existed
/// (and has cairn's key schema).
pub async fn init_backend(aws: &Aws, table: &str) -> Result<bool, InitBackendError> {
    let existing = aws
        .send(
            "DescribeTable",
            || aws.dynamodb().describe_table().table_name(table).send(),
            |e| crate::aws::missing(e.is_resource_not_found_exception()),
        )
        .await;
    match existing {
        Ok(output) => {
            let schema: Vec<(String, String)> = output
                .table
                .map(|t| t.key_schema.unwrap_or_default())
                .unwrap_or_default()
                .iter()
                .map(|k| (k.attribute_name.clone(), k.key_type.as_str().to_owned()))
                .collect();
            let wanted = vec![
                ("pk".to_owned(), "HASH".to_owned()),
                ("sk".to_owned(), "RANGE".to_owned()),
            ];
            if schema != wanted {
                return Err(InitBackendError::NotAStateTable {
                    table: table.to_owned(),
                    schema,
                });
            }
            return Ok(false);
        }
        Err(e) if e.is_not_found() => {}
        Err(e) => return Err(e.into()),
    }
    let attribute = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .expect("name and type are set")
    };
    let key = |name: &str, kind: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(kind)
            .build()
            .expect("name and type are set")
    };
    aws.send(
        "CreateTable",
        || {
            aws.dynamodb()
                .create_table()
                .table_name(table)
                .attribute_definitions(attribute("pk"))
                .attribute_definitions(attribute("sk"))
                .key_schema(key("pk", KeyType::Hash))
                .key_schema(key("sk", KeyType::Range))
                .billing_mode(BillingMode::PayPerRequest)
                .sse_specification(
                    aws_sdk_dynamodb::types::SseSpecification::builder()
                        .enabled(true)
                        .sse_type(aws_sdk_dynamodb::types::SseType::Kms)
                        .build(),
                )
                .deletion_protection_enabled(true)
                .tags(
                    aws_sdk_dynamodb::types::Tag::builder()
                        .key("cairn:purpose")
                        .value("state")
                        .build()
                        .expect("key and value are set"),
                )
                .send()
        },
        |_| None,
    )
    .await?;
    crate::aws::wait_for("the state table to become active", 60, || async {
        let output = aws
            .send(
                "DescribeTable",
                || aws.dynamodb().describe_table().table_name(table).send(),
                |_| None,
            )
            .await?;
        let active = output
            .table
            .and_then(|t| t.table_status)
            .is_some_and(|s| s == aws_sdk_dynamodb::types::TableStatus::Active);
        Ok(active.then_some(()))
    })
    .await?;
    aws.send(
        "UpdateContinuousBackups",
        || {
            aws.dynamodb()
                .update_continuous_backups()
                .table_name(table)
                .point_in_time_recovery_specification(
                    aws_sdk_dynamodb::types::PointInTimeRecoverySpecification::builder()
                        .point_in_time_recovery_enabled(true)
                        .build()
                        .expect("flag is set"),
                )
                .send()
        },
        |_| None,
    )
    .await?;
    Ok(true)
}
