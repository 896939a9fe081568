//! End-to-end tests of the state: shared state in DynamoDB (creation,
//! migration, versions, journaled steps, restore), locks, another project's
//! state.
//! Each test starts its own emulator on a free loopback port and keeps
//! its own state directory.

mod common;
use common::*;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn a_held_lock_names_its_holder() {
    let test = Test::new();
    use cairn::store::StateStore;
    let store = cairn::store::LocalStore::new(test.state_dir(), "t");
    let lock = futures::executor::block_on(store.lock("apply", Duration::ZERO)).unwrap();
    let run = test.cairn(&["plan", ALL, "--lock-timeout", "1"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("state is locked by") && run.stderr.contains(&lock.id),
        "{}",
        run.stderr
    );
    // A local lock is the OS's: only its holder releases it, and does
    // when it ends, however it ends (Terraform's local backend too).
    let refused = test.cairn(&["force-unlock", ALL, &lock.id]);
    assert_eq!(refused.code, 1);
    assert!(
        refused.stderr.contains("held by a running cairn"),
        "{}",
        refused.stderr
    );
    futures::executor::block_on(store.unlock(&lock.id)).unwrap();
    test.ok(&["plan", ALL]);
}

const SHARED: &str = "tests/stacks/shared.yaml";

const SHARED_TABLE: &str = "cairn-test-state";

const SHARED_KEY: &str = "cairn-test/t";

/// The lock item of the shared state, as moto holds it.
async fn shared_lock(
    aws: &cairn::aws::Aws,
) -> Option<std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>> {
    use aws_sdk_dynamodb::types::AttributeValue::S;
    aws.dynamodb()
        .get_item()
        .table_name(SHARED_TABLE)
        .key("pk", S(SHARED_KEY.into()))
        .key("sk", S("lock".into()))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
}

async fn wait_for_shared_lock(aws: &cairn::aws::Aws) -> String {
    let started = Instant::now();
    loop {
        if let Some(item) = shared_lock(aws).await {
            return item["id"].as_s().unwrap().clone();
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no lock was taken"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn shared_backend(key: &str, keep_versions: u64) -> cairn::stack::StateBackend {
    cairn::stack::StateBackend {
        table: SHARED_TABLE.into(),
        key: key.into(),
        region: None,
        lock_lease_seconds: 60,
        keep_versions,
    }
}

/// A state table on this test's moto, and a store for `key` in it.
async fn shared_store(
    test: &Test,
    key: &str,
    keep_versions: u64,
) -> (
    std::sync::Arc<cairn::aws::Aws>,
    cairn::stack::StateBackend,
    cairn::store::DynamoStore,
) {
    let aws = std::sync::Arc::new(test.aws().await);
    cairn::store::init_backend(&aws, SHARED_TABLE)
        .await
        .unwrap();
    let backend = shared_backend(key, keep_versions);
    let store = cairn::store::DynamoStore::new(aws.clone(), &backend);
    (aws, backend, store)
}

/// How many document chunks the state table holds under `key`.
async fn chunk_items(aws: &cairn::aws::Aws, key: &str) -> i32 {
    items_with_prefix(aws, key, "chunk#").await
}

/// How many items under `key` have a sort key starting with `prefix`.
async fn items_with_prefix(aws: &cairn::aws::Aws, key: &str, prefix: &str) -> i32 {
    use aws_sdk_dynamodb::types::AttributeValue::S;
    aws.dynamodb()
        .query()
        .table_name(SHARED_TABLE)
        .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
        .expression_attribute_values(":pk", S(key.into()))
        .expression_attribute_values(":prefix", S(prefix.into()))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .count()
}

/// Journaled apply steps through the same lossy proxy: a third of the
/// mutating answers lost after moto did the write. Every other round ends
/// without folding its steps in (as a killed apply), and the next round's
/// load must replay them; nothing is lost or applied twice.
#[tokio::test(flavor = "multi_thread")]
async fn journaled_steps_survive_lost_answers() {
    use cairn::state::State;
    use cairn::store::StateStore;
    let test = Test::new();
    let (aws, backend, _) = shared_store(&test, SHARED_KEY, 5).await;
    let proxy = FaultProxy::lossy(&test.endpoint(), 0.33, Loss::ServerError, 3);
    let lossy = std::sync::Arc::new(aws_at(&proxy.endpoint()).await);
    let mut state = State::new("cairn-test", "t");
    for round in 0..6 {
        let store = cairn::store::DynamoStore::new(lossy.clone(), &backend);
        if let Some(loaded) = store.load().await.unwrap() {
            assert_eq!(loaded, state, "round {round} lost a step");
        }
        let lock = store.lock("apply", Duration::from_secs(5)).await.unwrap();
        state.serial += 1;
        store.save(&state).await.unwrap();
        // Apply steps through the journal; every other round ends without
        // folding them in, as a killed apply would, and the next round's
        // load must replay them.
        for step in 0..3 {
            let entry = cairn::store::JournalEntry {
                serial: state.serial + 1,
                remove: Vec::new(),
                put: [(
                    format!("log_group.r{round}s{step}"),
                    cairn::state::ResourceState {
                        type_name: "log_group".into(),
                        name: format!("r{round}s{step}"),
                        status: cairn::state::Status::Created,
                        id: Some(format!("/r{round}/s{step}")),
                        attributes: Default::default(),
                        outputs: Default::default(),
                        dependencies: Vec::new(),
                        protect: false,
                        sensitive: Vec::new(),
                        region: None,
                    },
                )]
                .into(),
            };
            entry.apply_to(&mut state);
            store.append(&state, &entry).await.unwrap();
        }
        if round % 2 == 0 {
            store.compact(&state).await.unwrap();
        }
        store.unlock(&lock.id).await.unwrap();
    }
    assert!(proxy.lost() >= 3, "only {} answers lost", proxy.lost());
    let clean = cairn::store::DynamoStore::new(aws.clone(), &backend);
    assert_eq!(clean.load().await.unwrap().unwrap(), state);
    assert_eq!(state.resources.len(), 18);

    // Steps left on top of a document by one process (killed after its
    // second step); another saves a document over the same head with a
    // serial below the second step's (as `state restore` does on top of the
    // newest version when the steps cannot be read): the leftover step is
    // not replayed on a document it was not made on.
    let killed = cairn::store::DynamoStore::new(aws.clone(), &backend);
    killed.load().await.unwrap();
    let lock = killed.lock("apply", Duration::from_secs(5)).await.unwrap();
    let mut stepped = state.clone();
    for address in ["log_group.r0s0", "log_group.r0s1"] {
        let entry = cairn::store::JournalEntry {
            serial: stepped.serial + 1,
            remove: vec![address.into()],
            put: Default::default(),
        };
        entry.apply_to(&mut stepped);
        killed.append(&stepped, &entry).await.unwrap();
    }
    killed.unlock(&lock.id).await.unwrap();
    assert_eq!(clean.load().await.unwrap().unwrap(), stepped);
    let lock = clean
        .lock("state restore", Duration::from_secs(5))
        .await
        .unwrap();
    let mut restored = state.clone();
    restored.serial = state.serial + 1;
    clean.save(&restored).await.unwrap();
    clean.unlock(&lock.id).await.unwrap();
    let reader = cairn::store::DynamoStore::new(aws.clone(), &backend);
    assert_eq!(reader.load().await.unwrap().unwrap(), restored);
}

/// Issue 13: on the shared state an apply's steps are `step#` items after
/// `head`, not a saved document each. A cairn killed mid-apply leaves its
/// steps, which the next load replays (nothing is created twice); a
/// finished apply saves one version and deletes them.
#[tokio::test(flavor = "multi_thread")]
async fn shared_state_journals_steps_and_replays_a_killed_apply() {
    let test = Test::new();
    test.ok(&["state", "init-backend", SHARED]);
    let aws = test.aws().await;
    kill_after_each_create(
        &test,
        &["apply", SHARED, "--auto-approve"],
        &["log_group.logs"],
    );
    let steps = items_with_prefix(&aws, SHARED_KEY, "step#").await;
    assert!(
        steps >= 2,
        "the steps before the kill are journaled: {steps}"
    );
    // The state as any reader sees it holds the steps: the log group as
    // being created, everything finished before it as created.
    let shown = test.ok(&["state", "list", SHARED]).stdout;
    assert!(shown.contains("log_group.logs"), "{shown}");
    let versions_before = items_with_prefix(&aws, SHARED_KEY, "version#").await;

    test.ok(&["apply", SHARED, "--auto-approve"]);
    assert_eq!(items_with_prefix(&aws, SHARED_KEY, "step#").await, 0);
    let versions_after = items_with_prefix(&aws, SHARED_KEY, "version#").await;
    // Saved whole: the adoption of the interrupted create, the steps at
    // the end, the outputs. (Without the journal: two per create.)
    assert!(
        versions_after - versions_before <= 3,
        "{versions_before} -> {versions_after} versions"
    );
    assert_eq!(test.cairn(&["plan", SHARED, "--detailed-exitcode"]).code, 0);
    assert_eq!(inventory(&aws).await, with_state_table(ONE_STACK.to_vec()));
}

#[tokio::test(flavor = "multi_thread")]
async fn shared_state_is_created_migrated_versioned_and_restored() {
    let test = Test::new();
    let aws = test.aws().await;
    let created = test.ok(&["state", "init-backend", SHARED]);
    assert!(
        created.stdout.contains("Created the state table"),
        "{}",
        created.stdout
    );
    let again = test.ok(&["state", "init-backend", SHARED]);
    assert!(again.stdout.contains("already exists"), "{}", again.stdout);
    let table = aws
        .dynamodb()
        .describe_table()
        .table_name(SHARED_TABLE)
        .send()
        .await
        .unwrap()
        .table
        .unwrap();
    assert_eq!(
        table.billing_mode_summary.unwrap().billing_mode,
        Some(aws_sdk_dynamodb::types::BillingMode::PayPerRequest)
    );
    assert_eq!(
        table.sse_description.unwrap().status,
        Some(aws_sdk_dynamodb::types::SseStatus::Enabled)
    );
    assert_eq!(table.deletion_protection_enabled, Some(true));
    let backups = aws
        .dynamodb()
        .describe_continuous_backups()
        .table_name(SHARED_TABLE)
        .send()
        .await
        .unwrap();
    assert_eq!(
        backups
            .continuous_backups_description
            .unwrap()
            .point_in_time_recovery_description
            .unwrap()
            .point_in_time_recovery_status,
        Some(aws_sdk_dynamodb::types::PointInTimeRecoveryStatus::Enabled)
    );

    // A team starts with local state, then moves it to the shared table.
    test.ok(&["--local-state", "apply", SHARED, "--auto-approve"]);
    let local_serial = test.ok(&["--local-state", "state", "list", SHARED]).stdout;
    let migrated = test.ok(&["state", "migrate", SHARED]);
    assert!(migrated.stdout.contains("Migrated"), "{}", migrated.stdout);
    assert!(!test.state_dir().join("t.json").exists());
    assert!(test.state_dir().join("t.json.migrated").exists());
    assert_eq!(test.ok(&["state", "list", SHARED]).stdout, local_serial);
    assert_eq!(test.cairn(&["plan", SHARED, "--detailed-exitcode"]).code, 0);
    let refused = test.cairn(&["state", "migrate", SHARED]);
    assert_eq!(refused.code, 1, "{}", refused.stderr);

    // Every save is a version; an earlier one can be made current again.
    let before: serde_json::Value =
        serde_json::from_str(&test.ok(&["state", "history", SHARED, "--json"]).stdout).unwrap();
    let migrated_serial = before[0]["serial"].as_u64().unwrap();
    test.ok(&["apply", SHARED, "--auto-approve", "--var", "retention=30"]);
    let history: serde_json::Value =
        serde_json::from_str(&test.ok(&["state", "history", SHARED, "--json"]).stdout).unwrap();
    let serials: Vec<u64> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["serial"].as_u64().unwrap())
        .collect();
    assert!(
        serials.windows(2).all(|w| w[0] > w[1]),
        "newest first: {serials:?}"
    );
    assert!(serials[0] > migrated_serial);
    let shown = |test: &Test| -> serde_json::Value {
        serde_json::from_str(&test.ok(&["state", "show", SHARED, "log_group.logs"]).stdout).unwrap()
    };
    assert_eq!(shown(&test)["attributes"]["retention_in_days"], 30);
    let restored = test.ok(&["state", "restore", SHARED, &migrated_serial.to_string()]);
    assert!(
        restored
            .stdout
            .contains(&format!("as serial {}", serials[0] + 1)),
        "{}",
        restored.stdout
    );
    assert_eq!(shown(&test)["attributes"]["retention_in_days"], 7);
    // The record says 7, AWS says 30: drift, which a plan shows.
    assert_eq!(test.cairn(&["drift", SHARED]).code, 2);

    // A command that fails after taking the lock still releases it.
    let failed = test.cairn(&["import", SHARED, "log_group.logs", "/no/such/group"]);
    assert_eq!(failed.code, 1);
    assert!(
        shared_lock(&aws).await.is_none(),
        "the lock outlived a failed command"
    );
    test.ok(&["destroy", SHARED, "--auto-approve"]);
    assert!(shared_lock(&aws).await.is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn two_applies_on_shared_state_never_corrupt_it() {
    let test = Test::new();
    let aws = test.aws().await;
    test.ok(&["state", "init-backend", SHARED]);
    let first = test
        .command(&["apply", SHARED, "--auto-approve"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let holder = wait_for_shared_lock(&aws).await;
    // One that will not wait fails and names the holder ...
    let impatient = test.cairn(&["apply", SHARED, "--auto-approve", "--lock-timeout", "0"]);
    assert_eq!(impatient.code, 1);
    assert!(
        impatient.stderr.contains("state is locked by") && impatient.stderr.contains(&holder),
        "{}",
        impatient.stderr
    );
    // ... one that waits goes after it, and finds nothing left to do.
    let patient = test.ok(&["apply", SHARED, "--auto-approve", "--lock-timeout", "60"]);
    let first = first.wait_with_output().unwrap();
    assert_eq!(
        first.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert!(
        patient.stdout.contains("No changes") || patient.stdout.contains("0 added"),
        "{}",
        patient.stdout
    );
    assert_eq!(test.cairn(&["plan", SHARED, "--detailed-exitcode"]).code, 0);
    assert_eq!(inventory(&aws).await, with_state_table(ONE_STACK.to_vec()));

    // Two writers that read the same version: the second save is refused,
    // and the first one's document is what remains.
    use cairn::store::StateStore;
    let backend = shared_backend(SHARED_KEY, 100);
    let aws = std::sync::Arc::new(aws);
    let one = cairn::store::DynamoStore::new(aws.clone(), &backend);
    let two = cairn::store::DynamoStore::new(aws.clone(), &backend);
    let mut a = one.load().await.unwrap().unwrap();
    let mut b = two.load().await.unwrap().unwrap();
    a.serial += 1;
    a.outputs.insert("writer".into(), "one".into());
    one.save(&a).await.unwrap();
    b.serial += 1;
    b.outputs.insert("writer".into(), "two".into());
    let refused = two.save(&b).await.unwrap_err().to_string();
    assert!(refused.contains("the state changed since"), "{refused}");
    let now = cairn::store::DynamoStore::new(aws.clone(), &backend)
        .load()
        .await
        .unwrap()
        .unwrap();
    assert_eq!(now, a);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_interrupted_apply_releases_the_shared_lock_and_a_dead_holders_lock_is_taken_over() {
    let test = Test::new();
    let aws = test.aws().await;
    test.ok(&["state", "init-backend", SHARED]);

    // Ctrl-C: the lock goes with the process.
    let mut child = test
        .command(&["apply", SHARED, "--auto-approve"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for_shared_lock(&aws).await;
    let pid = child.id().to_string();
    assert!(Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap()
        .success());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    assert!(
        shared_lock(&aws).await.is_none(),
        "Ctrl-C left the lock behind"
    );

    // SIGKILL: the lock stays, but its holder ran on this host and is
    // gone, so the next run takes it over at once.
    let mut child = test
        .command(&["apply", SHARED, "--auto-approve"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let dead = wait_for_shared_lock(&aws).await;
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(
        shared_lock(&aws)
            .await
            .map(|l| l["id"].as_s().unwrap().clone()),
        Some(dead)
    );
    test.ok(&["plan", SHARED, "--lock-timeout", "1"]);

    // A holder on another host cannot be checked: its lock blocks until
    // its lease runs out or someone force-unlocks it.
    use aws_sdk_dynamodb::types::AttributeValue::{N, S};
    let id = "0123456789abcdef0123456789abcdef".to_owned();
    aws.dynamodb()
        .put_item()
        .table_name(SHARED_TABLE)
        .item("pk", S(SHARED_KEY.into()))
        .item("sk", S("lock".into()))
        .item("id", S(id.clone()))
        .item("holder", S("ci@another-host (pid 4242)".into()))
        .item("host", S("another-host".into()))
        .item("pid", N("4242".into()))
        .item("operation", S("apply".into()))
        .item("created", S("2026-01-01T00:00:00Z".into()))
        .item("expires", N("99999999999".into()))
        .send()
        .await
        .unwrap();
    let blocked = test.cairn(&["plan", SHARED, "--lock-timeout", "1"]);
    assert_eq!(blocked.code, 1);
    assert!(
        blocked
            .stderr
            .contains(&format!("cairn force-unlock ENV {id}")),
        "{}",
        blocked.stderr
    );
    let wrong = test.cairn(&["force-unlock", SHARED, "not-the-id"]);
    assert_eq!(wrong.code, 1);
    test.ok(&["force-unlock", SHARED, &id]);
    test.ok(&["apply", SHARED, "--auto-approve"]);
    assert_eq!(test.cairn(&["plan", SHARED, "--detailed-exitcode"]).code, 0);
    assert_eq!(inventory(&aws).await, with_state_table(ONE_STACK.to_vec()));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_thousand_resource_state_round_trips_through_shared_state() {
    use cairn::state::{ResourceState, State, Status};
    use cairn::store::StateStore;
    let test = Test::new();
    let (aws, backend, store) = shared_store(&test, "big/prod", 100).await;
    let mut state = State::new("big", "prod");
    for i in 0..1000 {
        // Random text does not compress: the document stays larger than
        // one DynamoDB item (400 KB) even gzipped.
        let noise: String = (0..600).map(|_| fastrand::alphanumeric()).collect();
        let mut attributes = serde_json::Map::new();
        attributes.insert("name".into(), format!("group-{i}").into());
        attributes.insert("noise".into(), noise.into());
        state.resources.insert(
            format!("log_group.g{i}"),
            ResourceState {
                type_name: "log_group".into(),
                name: format!("g{i}"),
                status: Status::Created,
                id: Some(format!("group-{i}")),
                attributes: attributes.into(),
                outputs: serde_json::Map::new(),
                dependencies: vec![],
                protect: false,
                sensitive: vec![],
                region: None,
            },
        );
    }
    state.serial = 1;
    store.save(&state).await.unwrap();
    let history = store.history().await.unwrap();
    assert_eq!(history.len(), 1);
    assert!(history[0].bytes > 600_000, "{:?}", history[0]);
    // It was split: more than one chunk item under the key.
    let chunks = chunk_items(&aws, "big/prod").await;
    assert!(chunks >= 2, "{chunks} chunk(s)");
    let fresh = cairn::store::DynamoStore::new(aws, &backend);
    assert_eq!(fresh.load().await.unwrap().unwrap(), state);
}

#[tokio::test(flavor = "multi_thread")]
async fn shared_state_keeps_only_the_newest_versions() {
    use cairn::state::State;
    use cairn::store::StateStore;
    let test = Test::new();
    let (aws, backend, store) = shared_store(&test, "small/dev", 3).await;
    let mut state = State::new("small", "dev");
    for serial in 1..=40 {
        state.serial = serial;
        state.outputs.insert("serial".into(), serial.into());
        store.save(&state).await.unwrap();
    }
    // Pruned at serial 40: versions 38, 39 and 40 remain, each with its chunk.
    let serials: Vec<u64> = store
        .history()
        .await
        .unwrap()
        .iter()
        .map(|v| v.serial)
        .collect();
    assert_eq!(serials, vec![40, 39, 38]);
    let chunks = chunk_items(&aws, "small/dev").await;
    assert_eq!(chunks, 3);
    assert_eq!(store.load_version(38).await.unwrap().outputs["serial"], 38);
    assert!(store.load_version(37).await.is_err());
    assert_eq!(
        cairn::store::DynamoStore::new(aws, &backend)
            .load()
            .await
            .unwrap()
            .unwrap(),
        state
    );
}

/// The shared store never loses a committed version: not when the answers
/// of its lock, chunk and transaction writes are lost (the write having
/// happened), not when a save dies between its chunks and its commit, not
/// when the current version is damaged (history, verify and restore work
/// without it).
#[tokio::test(flavor = "multi_thread")]
async fn the_shared_store_never_loses_a_committed_version() {
    use cairn::state::State;
    use cairn::store::StateStore;
    let test = Test::new();
    let (aws, backend, _) = shared_store(&test, SHARED_KEY, 5).await;

    // A third of the mutating answers lost, after moto did the write.
    let proxy = FaultProxy::lossy(&test.endpoint(), 0.33, Loss::ServerError, 3);
    let lossy = std::sync::Arc::new(aws_at(&proxy.endpoint()).await);
    let mut state = State::new("cairn-test", "t");
    for round in 0..6 {
        let store = cairn::store::DynamoStore::new(lossy.clone(), &backend);
        if let Some(loaded) = store.load().await.unwrap() {
            assert_eq!(loaded, state, "round {round} lost a save");
        }
        let lock = store.lock("apply", Duration::from_secs(5)).await.unwrap();
        for _ in 0..4 {
            state.serial += 1;
            state.outputs.insert("serial".into(), state.serial.into());
            store.save(&state).await.unwrap();
        }
        store.unlock(&lock.id).await.unwrap();
    }
    assert!(proxy.lost() >= 5, "only {} answers lost", proxy.lost());
    let clean = cairn::store::DynamoStore::new(aws.clone(), &backend);
    assert_eq!(clean.load().await.unwrap().unwrap(), state);
    assert!(clean.current_lock().await.unwrap().is_none());
    assert!(clean.verify().await.unwrap().iter().all(|(_, r)| r.is_ok()));

    // A save that dies after its chunks and before its commit (here: every
    // commit refused) leaves the committed version as it was.
    let refusing = FaultProxy::start(
        &test.endpoint(),
        vec![("TransactWriteItems", Fault::Throttle, 1000)],
    );
    let mut refused = aws_at(&refusing.endpoint()).await;
    refused.max_attempts = 2;
    let store = cairn::store::DynamoStore::new(std::sync::Arc::new(refused), &backend);
    store.load().await.unwrap();
    let mut next = state.clone();
    next.serial += 1;
    assert!(store.save(&next).await.is_err());
    assert_eq!(clean.load().await.unwrap().unwrap(), state);
    assert!(clean.verify().await.unwrap().iter().all(|(_, r)| r.is_ok()));
    // Its orphaned chunks go with the next pruning, referenced ones stay.
    let store = cairn::store::DynamoStore::new(aws.clone(), &backend);
    store.load().await.unwrap();
    while state.serial < 40 {
        state.serial += 1;
        store.save(&state).await.unwrap();
    }
    assert_eq!(chunk_items(&aws, SHARED_KEY).await, 5);

    // The current version damaged (its chunk deleted): history, verify and
    // restore still work.
    let head = clean.history().await.unwrap()[0].serial;
    assert_eq!(head, 40);
    use aws_sdk_dynamodb::types::AttributeValue::S;
    let chunks = aws
        .dynamodb()
        .query()
        .table_name(SHARED_TABLE)
        .key_condition_expression("pk = :pk AND begins_with(sk, :chunk)")
        .expression_attribute_values(":pk", S(SHARED_KEY.into()))
        .expression_attribute_values(":chunk", S(format!("chunk#{head:020}#")))
        .send()
        .await
        .unwrap();
    for chunk in chunks.items() {
        aws.dynamodb()
            .delete_item()
            .table_name(SHARED_TABLE)
            .key("pk", chunk["pk"].clone())
            .key("sk", chunk["sk"].clone())
            .send()
            .await
            .unwrap();
    }
    assert!(clean.load().await.is_err());
    let verified = test.cairn(&["state", "verify", SHARED]);
    assert_eq!(verified.code, 1, "{}", verified.stdout);
    assert!(
        verified.stdout.contains("serial 40: DAMAGED") && verified.stdout.contains("serial 39: ok"),
        "{}",
        verified.stdout
    );
    assert!(test
        .ok(&["state", "history", SHARED])
        .stdout
        .contains("\n40 "));
    test.ok(&["state", "restore", SHARED, "39"]);
    let restored = clean.load().await.unwrap().unwrap();
    assert_eq!(restored.serial, 41);
    assert_eq!(
        restored.outputs,
        clean.load_version(39).await.unwrap().outputs
    );
    // The damaged version stays in the history, and verify keeps saying so.
    let verified = test.cairn(&["state", "verify", SHARED]);
    assert!(
        verified
            .stdout
            .starts_with("serial 41: ok\nserial 40: DAMAGED"),
        "{}",
        verified.stdout
    );
}

/// A lock that cannot be released is said, with how to clear it.
#[tokio::test(flavor = "multi_thread")]
async fn a_lock_that_cannot_be_released_is_reported_with_the_way_out() {
    let test = Test::new();
    let aws = test.aws().await;
    test.ok(&["state", "init-backend", SHARED]);
    let proxy = FaultProxy::start(
        &test.endpoint(),
        vec![("DeleteItem", Fault::Unavailable, 1000)],
    );
    let run = test.cairn_with(
        &["--endpoint-url", &proxy.endpoint(), "plan", SHARED],
        &[("CAIRN_RETRY_ATTEMPTS", "2")],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let id = shared_lock(&aws).await.expect("the lock stayed")["id"]
        .as_s()
        .unwrap()
        .clone();
    assert!(
        run.stderr.contains("could not release the state lock")
            && run.stderr.contains(&format!("cairn force-unlock ENV {id}")),
        "{}",
        run.stderr
    );
}

/// Two systems with a `t` environment and one state directory: the second
/// is refused before it plans, instead of planning to delete the first.
#[test]
fn a_state_of_another_project_is_refused() {
    let test = Test::new();
    test.ok(&["apply", TOPIC, "--auto-approve"]);
    let other = test.directory.path().join("other.yaml");
    std::fs::write(
        &other,
        "project: other\nenvironment: t\nresources:\n  logs:\n    type: log_group\n",
    )
    .unwrap();
    let refused = test.cairn(&["plan", other.to_str().unwrap()]);
    assert_eq!(refused.code, 1, "{}", refused.stdout);
    assert!(
        refused
            .stderr
            .contains("holds the state of project `cairn-test`, not `other`"),
        "{}",
        refused.stderr
    );
    assert!(!refused.stdout.contains("to destroy"), "{}", refused.stdout);
}

/// However a command ends after taking the shared lock, the lock is
/// released (by the CLI once the command has ended, not by a destructor):
/// a refusal, a failure from AWS, and success.
#[tokio::test(flavor = "multi_thread")]
async fn every_way_a_command_ends_releases_the_shared_lock() {
    let test = Test::new();
    let aws = test.aws().await;
    test.ok(&["state", "init-backend", SHARED]);
    let refused = test.cairn(&["apply", SHARED]);
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    assert!(
        refused.stderr.contains("pass --auto-approve"),
        "{}",
        refused.stderr
    );
    assert!(shared_lock(&aws).await.is_none(), "a refusal kept the lock");
    let proxy = FaultProxy::start(
        &test.endpoint(),
        vec![("GetCallerIdentity", Fault::Unavailable, 1000)],
    );
    let failed = test.cairn_with(
        &["--endpoint-url", &proxy.endpoint(), "plan", SHARED],
        &[("CAIRN_RETRY_ATTEMPTS", "2")],
    );
    assert_eq!(failed.code, 1, "{}", failed.stderr);
    assert!(
        failed.stderr.contains("Error: GetCallerIdentity"),
        "{}",
        failed.stderr
    );
    assert!(shared_lock(&aws).await.is_none(), "a failure kept the lock");
    test.ok(&["plan", SHARED]);
    assert!(shared_lock(&aws).await.is_none(), "a success kept the lock");
}
