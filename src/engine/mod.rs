//! Refresh (the only I/O before planning) and apply (which executes a plan
//! and nothing else), journaling state after every resource.

pub use crate::model::retry;
mod adopt;
pub mod cancel;
pub mod lookups;
pub mod observer;
mod steps;
pub mod walk;

pub use adopt::adopt_interrupted;
pub use cancel::Cancellation;
pub use observer::{Observer, Progress, Step};

use crate::aws::{self, Aws, AwsError, CURRENT_ADDRESS};
use crate::model::expr::{self, Lookup};
use crate::plan::{self, Action, Change, Observed, Plan, Refreshed};
use crate::schema;
use crate::state::{self, ResourceState, State, Status};
use crate::store::{JournalEntry, StateError, StateStore};
use futures::stream::{self, StreamExt};
use retry::ErrorClass;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use walk::Outcome;

/// Why one step of an apply failed, with its class kept for the report
/// and the exit status.
#[derive(Clone, Debug, thiserror::Error)]
pub enum StepError {
    #[error(transparent)]
    Aws(#[from] AwsError),
    #[error(transparent)]
    State(Arc<StateError>),
    /// The world is no longer what the plan saw.
    #[error("{0}")]
    Stale(String),
}

impl From<StateError> for StepError {
    fn from(error: StateError) -> StepError {
        StepError::State(Arc::new(error))
    }
}

impl StepError {
    pub fn class(&self) -> Option<ErrorClass> {
        match self {
            StepError::Aws(e) => Some(e.class),
            _ => None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Aws(#[from] AwsError),
    #[error(transparent)]
    State(#[from] StateError),
}

/// Whether to read the stack's tags in bulk: when more than one resource
/// can use them (one paginated call instead of a tag call each).
fn wants_bulk_tags(state: &State) -> bool {
    state
        .resources
        .values()
        .filter(|r| r.status == crate::state::Status::Created)
        .filter(|r| crate::types::owned::bulk_tagged(&r.type_name))
        .count()
        > 1
}

/// Reads every resource the state knows (and looks for any whose create was
/// interrupted), concurrently, batching where AWS allows.
pub async fn refresh(aws: &Aws, state: &State) -> Result<Refreshed, EngineError> {
    // The tags in bulk (a paginated read) go alongside everything else: a
    // resource's read makes its other calls and waits for them only when
    // it comes to its tags.
    // Confirmed tags describe the world before this run: reads after it
    // (apply's read-back) must ask the resource itself. Cleared on every
    // way out, a cancelled refresh included, so nothing waits for a bulk
    // read that will never finish.
    struct ClearTags<'a>(&'a Aws);
    impl Drop for ClearTags<'_> {
        fn drop(&mut self) {
            self.0.confirm_tags(BTreeMap::new());
        }
    }
    let _clear = ClearTags(aws);
    let bulk = wants_bulk_tags(state);
    if bulk {
        aws.expect_tags();
    }
    // If the endpoint lacks the tagging API or the caller may not use it,
    // each resource reads its own tags, as it would anyway.
    let tags = async {
        if bulk {
            let found = CURRENT_ADDRESS
                .scope(
                    "(tags, in bulk)".to_owned(),
                    crate::types::owned::tagged(aws, &state.project, &state.environment),
                )
                .await;
            aws.confirm_tags(match found {
                Ok(found) => crate::types::owned::confirmed_tags(state, &found),
                Err(_) => BTreeMap::new(),
            });
        }
    };
    let (_, refreshed) = tokio::join!(tags, read_all(aws, state));
    refreshed
}

async fn read_all(aws: &Aws, state: &State) -> Result<Refreshed, EngineError> {
    let (account_id, partition) = aws.identity().await?;
    // Batches of one type in one region (the stack's, or a resource's own)
    // of (address, id).
    type Kind = (String, Option<String>);
    type Batch = (Kind, Vec<(String, String)>);
    let mut batches: Vec<Batch> = Vec::new();
    let mut searches: Vec<(String, ResourceState)> = Vec::new();
    let mut by_type: BTreeMap<Kind, Vec<(String, String)>> = BTreeMap::new();
    for (address, recorded) in &state.resources {
        let id = recorded
            .id
            .clone()
            .or_else(|| (crate::types::of(&recorded.type_name).planned_id)(&recorded.attributes));
        match id {
            Some(id) => by_type
                .entry((recorded.type_name.clone(), recorded.region.clone()))
                .or_default()
                .push((address.clone(), id)),
            None => searches.push((address.clone(), recorded.clone())),
        }
    }
    for (key, entries) in by_type {
        let size = crate::types::provider(&key.0).batch_size();
        for chunk in entries.chunks(size) {
            batches.push((key.clone(), chunk.to_vec()));
        }
    }
    let read = |((type_name, region), entries): Batch| async move {
        let provider = crate::types::provider(&type_name);
        let regional = aws.in_region(region.as_deref());
        let aws: &Aws = regional.as_deref().unwrap_or(aws);
        let ids: Vec<String> = entries.iter().map(|(_, id)| id.clone()).collect();
        let label = if entries.len() == 1 {
            entries[0].0.clone()
        } else {
            format!("{type_name} (batch of {})", entries.len())
        };
        let mut found = CURRENT_ADDRESS
            .scope(label, provider.read_many(aws, &ids))
            .await?;
        let mut out = Vec::with_capacity(entries.len());
        for (i, (address, id)) in entries.iter().enumerate() {
            // Moved, not copied, unless another entry has the same id.
            let again = entries[i + 1..].iter().any(|(_, other)| other == id);
            let mut observed = if again {
                found.get(id).cloned().flatten()
            } else {
                found.remove(id).flatten()
            };
            // What AWS holds is most often what the state records: the
            // state's values are shared, and the copy read goes now.
            if let (Some(observed), Some(recorded)) = (&mut observed, state.resources.get(address))
            {
                if observed.attributes == recorded.attributes {
                    observed.attributes = Arc::clone(&recorded.attributes);
                }
            }
            out.push((address.clone(), observed));
        }
        Ok::<_, AwsError>(out)
    };
    // Reads in flight or waiting for their lane, per kind: as many as a
    // lane lets through, so each kind keeps its lane busy, a kind held back
    // by throttling never takes the others' turns, and the reads waiting
    // (each a whole call in memory) stay few.
    let per_kind = aws.lane_concurrency();
    let mut kinds: Vec<Vec<Batch>> = Vec::new();
    for batch in batches {
        match kinds.last_mut() {
            Some(kind) if kind[0].0 == batch.0 => kind.push(batch),
            _ => kinds.push(vec![batch]),
        }
    }
    let reads = futures::future::join_all(kinds.into_iter().map(|kind| {
        stream::iter(kind)
            .map(read)
            .buffer_unordered(per_kind)
            .collect::<Vec<_>>()
    }))
    .await;
    let mut resources = BTreeMap::new();
    for batch in reads.into_iter().flatten() {
        resources.extend(batch?);
    }
    for (address, recorded) in searches {
        let provider = crate::types::provider(&recorded.type_name);
        let regional = aws.in_region(recorded.region.as_deref());
        let found = CURRENT_ADDRESS
            .scope(
                address.clone(),
                provider.find(regional.as_deref().unwrap_or(aws), &recorded.attributes),
            )
            .await?
            // What another entry records (the old object of a replacement
            // that kept its tags) is that entry's, not this create's.
            .filter(|found| !recorded_elsewhere(state, &address, &found.id));
        resources.insert(address, found);
    }
    Ok(Refreshed {
        resources,
        account_id,
        region: aws.region.clone(),
        partition,
        artifacts: BTreeMap::new(),
        imports: BTreeMap::new(),
        lookups: BTreeMap::new(),
    })
}

#[derive(Default, Debug)]
pub struct Report {
    pub added: usize,
    pub changed: usize,
    pub destroyed: usize,
    /// Root errors, by address.
    pub errors: Vec<(String, StepError)>,
    pub skipped: Vec<(String, String)>,
    pub warnings: Vec<String>,
    /// An interrupt stopped the walk: these steps never started.
    pub not_started: Vec<String>,
}

struct Context<'a> {
    aws: &'a Aws,
    store: &'a dyn StateStore,
    /// Held across each step's write to the store: steps are journaled one
    /// at a time, in the order their serials say.
    state: tokio::sync::Mutex<State>,
    observer: &'a dyn Observer,
    plan: &'a Plan,
    address_of: BTreeMap<String, String>,
    /// Sensitive values read back in this run (an API key AWS generated),
    /// by address: what later steps resolve against, since the state keeps
    /// only their hash. Held in memory only.
    revealed: Mutex<BTreeMap<String, Map<String, Value>>>,
    report: Mutex<Report>,
    /// Steps under way, for the live status line.
    running: Mutex<BTreeMap<String, (Step, Instant)>>,
    finished: std::sync::atomic::AtomicUsize,
    /// Steps recorded in this run.
    journaled: std::sync::atomic::AtomicUsize,
    /// Steps in the journal since the document was last rewritten.
    unfolded: std::sync::atomic::AtomicUsize,
}

/// The journal is folded into the state document once it holds this many
/// steps and as many as the document has resources (and at the end of the
/// apply): replaying it never costs more than reading the document, and
/// the rewrites of a large state stay linear in its steps.
const COMPACT_EVERY: usize = 1000;

impl Context<'_> {
    /// Records one step: in memory, then durably in the store (the
    /// journal, or the whole document for a store without one) before the
    /// step returns.
    async fn save(
        &self,
        put: Vec<(String, ResourceState)>,
        remove: Vec<String>,
    ) -> Result<(), StateError> {
        let mut state = self.state.lock().await;
        let entry = JournalEntry {
            serial: state.serial + 1,
            remove,
            put: put.into_iter().collect(),
        };
        entry.apply_to(&mut state);
        self.store.append(&state, &entry).await?;
        self.journaled.fetch_add(1, Ordering::SeqCst);
        // Under the state's lock: one step at a time counts and folds.
        let unfolded = self.unfolded.fetch_add(1, Ordering::SeqCst) + 1;
        if unfolded >= COMPACT_EVERY.max(state.resources.len()) {
            self.store.compact(&state).await?;
            self.unfolded.store(0, Ordering::SeqCst);
        }
        Ok(())
    }

    /// Values known only after apply, now that their resources exist.
    async fn resolve(&self, change: &Change) -> Result<Map<String, Value>, String> {
        let after = Value::Object(change.after.as_deref().cloned().unwrap_or_default());
        let state = self.state.lock().await;
        let revealed = self.revealed.lock().expect("revealed lock");
        let account = self.plan.account();
        let mut lookup = |reference: &expr::Reference| -> Lookup {
            plan::resolve::lookup(reference, &account, |name, attribute| {
                let address = self.address_of.get(name)?;
                if let Some(value) = revealed.get(address).and_then(|m| m.get(attribute)) {
                    return Some(value.clone());
                }
                let entry = state.resources.get(address)?;
                entry
                    .outputs
                    .get(attribute)
                    .or_else(|| entry.attributes.get(attribute))
                    .cloned()
            })
        };
        match plan::resolve::fill_unknowns(&after, &mut lookup)? {
            Value::Object(map) if !expr::contains_unknown(&Value::Object(map.clone())) => Ok(map),
            _ => Err("a referenced value is still unknown after its resource was applied".into()),
        }
    }

    fn record(
        &self,
        change: &Change,
        observed: &Observed,
        desired: &Map<String, Value>,
    ) -> ResourceState {
        let secrets: Map<String, Value> = change
            .sensitive
            .iter()
            .filter_map(|f| Some((f.clone(), observed.attributes.get(f)?.clone())))
            .filter(|(_, v)| !v.is_null())
            .collect();
        if !secrets.is_empty() {
            self.revealed
                .lock()
                .expect("revealed lock")
                .insert(change.address.clone(), secrets);
        }
        // Fields AWS cannot report keep the desired value. A field the
        // stack leaves out (null: AWS or another resource holds it, as a
        // bucket's policy kept apart) is not recorded: a change to it is
        // not this resource's drift, and no apply would put it back. A
        // secret AWS generated (an API key's value) is, as its hash: what
        // refers to it checks the live value against it.
        let schema = plan::schema_of(crate::types::catalog(), change);
        let mut attributes = desired.clone();
        for (k, v) in observed.attributes.iter() {
            let left_out = desired.get(k).is_some_and(Value::is_null);
            let secret =
                change.sensitive.contains(k) || schema.field(k).is_some_and(|f| f.sensitive);
            if !left_out || secret {
                attributes.insert(k.clone(), v.clone());
            }
        }
        state::redact_fields(&mut attributes, &change.sensitive);
        // The plan's values (shared with the stack) when AWS holds just
        // those: the state does not keep a second copy.
        let attributes = match &change.after {
            Some(after) if **after == attributes => Arc::clone(after),
            _ => attributes.into(),
        };
        ResourceState {
            type_name: change.type_name.clone(),
            name: change.name.clone(),
            status: Status::Created,
            id: Some(observed.id.clone()),
            attributes,
            outputs: observed.outputs.clone(),
            dependencies: change.dependencies.clone(),
            protect: change.protect,
            sensitive: change.sensitive.clone(),
            region: change.region.clone(),
        }
    }

    async fn run(&self, change: &Change, step: Step) -> Result<(), StepError> {
        let provider = crate::types::provider(&change.type_name);
        let started = Instant::now();
        let address = &change.address;
        self.observer.started(
            address,
            step,
            change.id.as_deref().filter(|_| step != Step::Create),
        );
        self.running
            .lock()
            .expect("running lock")
            .insert(address.clone(), (step, started));
        let work = CURRENT_ADDRESS.scope(address.clone(), self.execute(provider, change, step));
        tokio::pin!(work);
        // Long waits (a table's indexes, a function update) show they are alive.
        let every = progress_interval();
        let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        let result = loop {
            tokio::select! {
                result = &mut work => break result,
                _ = ticker.tick() => self.observer.still_running(address, step, started.elapsed()),
            }
        };
        self.running.lock().expect("running lock").remove(address);
        self.finished
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let elapsed = started.elapsed();
        match &result {
            Ok(id) => self
                .observer
                .finished(address, step, elapsed, id.as_deref()),
            Err(error) => self.observer.failed(address, step, elapsed, error),
        }
        result.map(|_| ())
    }

    async fn execute(
        &self,
        provider: &dyn crate::types::Provider,
        change: &Change,
        step: Step,
    ) -> Result<Option<String>, StepError> {
        let regional = self.aws.in_region(change.region.as_deref());
        let aws: &Aws = regional.as_deref().unwrap_or(self.aws);
        let address = &change.address;
        match step {
            Step::Create => {
                let mut desired = self.resolve(change).await.map_err(StepError::Stale)?;
                name_from_prefix(&mut desired);
                if change.action == Action::Replace && change.create_before_destroy {
                    self.depose(provider, change).await?;
                }
                let planned_id = (crate::types::of(&change.type_name).planned_id)(&desired);
                // Intent first: if cairn dies after AWS creates the resource
                // but before the next save, the next refresh finds it.
                let mut intent = desired.clone();
                state::redact_fields(&mut intent, &change.sensitive);
                let creating = ResourceState {
                    type_name: change.type_name.clone(),
                    name: change.name.clone(),
                    status: Status::Creating,
                    id: planned_id.clone(),
                    attributes: intent.into(),
                    outputs: Map::new(),
                    dependencies: change.dependencies.clone(),
                    protect: change.protect,
                    sensitive: change.sensitive.clone(),
                    region: change.region.clone(),
                };
                self.save(vec![(address.clone(), creating)], Vec::new())
                    .await?;
                let observed = self
                    .create_or_adopt(provider, change, &desired, planned_id.as_deref())
                    .await?;
                crash_point(address);
                let recorded = self.record(change, &observed, &desired);
                self.save(vec![(address.clone(), recorded)], Vec::new())
                    .await?;
                self.check_converged(change, &desired, &observed);
                self.report.lock().expect("report").added += 1;
                Ok(Some(observed.id))
            }
            Step::Update => {
                let mut desired = self.resolve(change).await.map_err(StepError::Stale)?;
                let id = change
                    .id
                    .clone()
                    .ok_or_else(|| StepError::Stale("no id recorded for an update".into()))?;
                // Re-check: apply acts only on the world the plan saw.
                let current = provider.read(aws, &id).await?.ok_or_else(|| {
                    StepError::Stale(
                        "it was deleted after the plan was made; run plan again".into(),
                    )
                })?;
                let schema = plan::schema_of(crate::types::catalog(), change);
                let planned_before = change.before.as_deref().cloned().unwrap_or_default();
                let current_before = {
                    let mut merged = planned_before.clone();
                    merged.extend((*current.attributes).clone());
                    merged
                };
                // A name made from a prefix is the one AWS holds.
                if desired.get("name").is_some_and(Value::is_null) {
                    if let Some(name) = current_before.get("name") {
                        desired.insert("name".into(), name.clone());
                    }
                }
                for field in &change.changed {
                    let kind = schema.field(field).map_or(schema::Kind::StrMap, |f| f.kind);
                    let planned = planned_before.get(field).unwrap_or(&Value::Null);
                    let now = current_before.get(field).unwrap_or(&Value::Null);
                    if !schema::equivalent(kind, planned, now) {
                        return Err(StepError::Stale(format!(
                            "`{field}` changed in AWS after the plan was made; run plan again"
                        )));
                    }
                }
                let observed = match provider
                    .update(aws, &id, &current_before, &desired, &change.changed)
                    .await
                {
                    Ok(observed) => observed,
                    // A repeated write may be refused for having been done
                    // already (its first answer lost): look, and finish.
                    Err(error)
                        if !matches!(
                            error.class,
                            ErrorClass::Unreachable | ErrorClass::Unsettled
                        ) =>
                    {
                        match provider.read(aws, &id).await.ok().flatten() {
                            Some(now) => self
                                .converge(provider, change, &desired, now)
                                .await
                                .map_err(|_| error)?,
                            None => return Err(error.into()),
                        }
                    }
                    Err(error) => return Err(error.into()),
                };
                let recorded = self.record(change, &observed, &desired);
                self.save(vec![(address.clone(), recorded)], Vec::new())
                    .await?;
                self.check_converged(change, &desired, &observed);
                self.report.lock().expect("report").changed += 1;
                Ok(Some(id))
            }
            Step::Delete => {
                if let Some(id) = &change.id {
                    // A replacement's old one: deleted as the stack says now.
                    let before = plan::with_delete_settings(
                        plan::schema_of(crate::types::catalog(), change),
                        change.before.clone().unwrap_or_default(),
                        change.after.as_deref(),
                    );
                    provider.delete(aws, id, &before).await?;
                }
                let recorded_at = if change.create_before_destroy {
                    deposed_address(change)
                } else {
                    address.clone()
                };
                self.save(Vec::new(), vec![recorded_at]).await?;
                self.report.lock().expect("report").destroyed += 1;
                Ok(change.id.clone())
            }
        }
    }

    /// Before a create-before-destroy replacement: the old object stops
    /// carrying this address's ownership tag (so nothing that looks for
    /// the new one by its tags can take the old one for it), and the state
    /// records it under its own address until it is deleted. Should cairn
    /// die in between, the next plan deletes it as a resource no longer in
    /// the stack.
    async fn depose(
        &self,
        provider: &dyn crate::types::Provider,
        change: &Change,
    ) -> Result<(), StepError> {
        let regional = self.aws.in_region(change.region.as_deref());
        let aws: &Aws = regional.as_deref().unwrap_or(self.aws);
        let Some(id) = &change.id else {
            return Ok(());
        };
        let before = change.before.as_deref().cloned().unwrap_or_default();
        let deposed = deposed_address(change);
        let mut retagged = before.clone();
        if let Some(Value::Object(tags)) = retagged.get_mut("tags") {
            if tags.contains_key(crate::stack::TAG_ADDRESS) {
                // As the tag writes the address (an instance's key after `/`).
                let (address, suffix) = deposed.split_once('#').unwrap_or((&deposed, ""));
                tags.insert(
                    crate::stack::TAG_ADDRESS.to_owned(),
                    Value::String(format!(
                        "{}#{suffix}",
                        crate::model::expr::address_tag(address)
                    )),
                );
            }
        }
        if retagged != before {
            // Best effort: where the tag cannot be moved, a search by tags
            // during this replacement could find either object.
            if let Err(error) = provider
                .update(aws, id, &before, &retagged, &["tags".to_owned()])
                .await
            {
                if !matches!(
                    error.class,
                    ErrorClass::Fatal | ErrorClass::NotImplemented | ErrorClass::NotFound
                ) {
                    return Err(error.into());
                }
                self.aws.note(format!(
                    "{}: the old object kept its ownership tag ({})",
                    change.address, error.message
                ));
                retagged = before.clone();
            }
        }
        let (_, name) = deposed.split_once('.').unwrap_or_default();
        let name = name.to_owned();
        // Only this step touches this address: read, then record the move.
        let old = self
            .state
            .lock()
            .await
            .resources
            .get(&change.address)
            .cloned();
        if let Some(mut old) = old {
            old.name = name;
            if let Some(tags) = retagged.get("tags") {
                Arc::make_mut(&mut old.attributes).insert("tags".into(), tags.clone());
            }
            self.save(vec![(deposed.clone(), old)], vec![change.address.clone()])
                .await?;
        }
        Ok(())
    }

    /// Creates the resource, or finds it when an earlier attempt already
    /// made it: after an answer that never arrived (a timeout, a reset, a
    /// 5xx after the commit), a repeat either fails with "already exists"
    /// or, for ids AWS assigns, would make a second one. So every failed
    /// create looks (by name, or by ownership tags) before it tries again,
    /// and adopts what it finds only if it is this stack's resource.
    async fn create_or_adopt(
        &self,
        provider: &dyn crate::types::Provider,
        change: &Change,
        desired: &Map<String, Value>,
        planned_id: Option<&str>,
    ) -> Result<Observed, AwsError> {
        let regional = self.aws.in_region(change.region.as_deref());
        let aws: &Aws = regional.as_deref().unwrap_or(self.aws);
        let mut attempt = 0;
        loop {
            let error = match provider.create(aws, desired).await {
                Ok(observed) => return Ok(observed),
                Err(error) if error.class == ErrorClass::Unreachable => return Err(error),
                Err(error) => error,
            };
            let found = match planned_id {
                Some(id) => provider.read(aws, id).await?,
                None => provider.find(aws, desired).await?,
            };
            let state = self.state.lock().await;
            let found = found.filter(|found| {
                let old_self =
                    change.create_before_destroy && change.id.as_deref() == Some(found.id.as_str());
                !old_self && !recorded_elsewhere(&state, &change.address, &found.id)
            });
            drop(state);
            if let Some(found) = found {
                if !owned_by(change, desired, &found) {
                    return Err(AwsError::new(
                        ErrorClass::AlreadyExists,
                        error.operation,
                        format!(
                            "{} already exists and is not this stack's (its ownership tags differ); choose another name, or adopt it with `cairn import ENV {} {}`",
                            found.id, change.address, found.id
                        ),
                    ));
                }
                self.aws.note(format!(
                    "{}: the create's answer was lost ({}); found what it made and adopted it",
                    change.address, error.message
                ));
                return self.converge(provider, change, desired, found).await;
            }
            attempt += 1;
            // Nothing was made. Try again only where the send itself could
            // not: a create AWS would repeat (`send_create` hands back its
            // first transient failure), or "already exists" with nothing
            // to find (something holds the name for a moment; Lambda says
            // "conflict" for both). Throttling was already retried.
            let class = match error.class {
                ErrorClass::AlreadyExists => ErrorClass::Conflict,
                ErrorClass::Transient => ErrorClass::Transient,
                _ => return Err(error),
            };
            match retry::delay(class, attempt, fastrand::f64()) {
                Some(delay) if attempt < aws.max_attempts => tokio::time::sleep(delay).await,
                _ => return Err(error),
            }
        }
    }

    /// Brings a resource found in AWS to the desired form with updates
    /// (bounded): what an interrupted create or update left half done.
    async fn converge(
        &self,
        provider: &dyn crate::types::Provider,
        change: &Change,
        desired: &Map<String, Value>,
        mut current: Observed,
    ) -> Result<Observed, AwsError> {
        let regional = self.aws.in_region(change.region.as_deref());
        let aws: &Aws = regional.as_deref().unwrap_or(self.aws);
        let schema = plan::schema_of(crate::types::catalog(), change);
        for _ in 0..3 {
            let mut before = desired.clone();
            before.extend((*current.attributes).clone());
            let fields = schema::changed_fields(schema, desired, &before);
            if fields.is_empty() {
                return Ok(current);
            }
            if let Some(field) = fields
                .iter()
                .find(|f| schema.field(f).is_some_and(|f| f.force_new))
            {
                return Err(AwsError::new(
                    ErrorClass::Fatal,
                    "converge",
                    format!("{} exists with a different `{field}`, which only a replacement changes; run plan again", current.id),
                ));
            }
            let fields: Vec<String> = fields.into_iter().map(str::to_owned).collect();
            current = provider
                .update(aws, &current.id, &before, desired, &fields)
                .await?;
        }
        Ok(current)
    }

    /// AWS (or an emulator) may accept a write and keep the old value; say
    /// so now rather than show a perpetual diff later.
    fn check_converged(&self, change: &Change, desired: &Map<String, Value>, observed: &Observed) {
        let schema = plan::schema_of(crate::types::catalog(), change);
        let mut merged = desired.clone();
        merged.extend((*observed.attributes).clone());
        let differing = schema::changed_fields(schema, desired, &merged);
        if !differing.is_empty() {
            self.report.lock().expect("report").warnings.push(format!(
                "{}: AWS did not take {} (read back after the write); the next plan will show it",
                change.address,
                differing.join(", ")
            ));
        }
    }
}

/// Whether a resource found in AWS is the one this change would create:
/// it carries this address's ownership tags, or, for types that cannot be
/// tagged, it already is exactly what the stack asks for.
fn owned_by(change: &Change, desired: &Map<String, Value>, found: &Observed) -> bool {
    let schema = plan::schema_of(crate::types::catalog(), change);
    if schema.taggable {
        let wanted = aws::string_map(desired, "tags");
        let live = aws::string_map(&found.attributes, "tags");
        [
            crate::stack::TAG_STACK,
            crate::stack::TAG_ENVIRONMENT,
            crate::stack::TAG_ADDRESS,
        ]
        .iter()
        .all(|key| wanted.contains_key(*key) && wanted.get(*key) == live.get(*key))
    } else {
        let mut merged = desired.clone();
        merged.extend((*found.attributes).clone());
        schema::changed_fields(schema, desired, &merged).is_empty()
    }
}

/// Whether a state entry other than `address` records the object `id` of
/// the same type.
fn recorded_elsewhere(state: &State, address: &str, id: &str) -> bool {
    let type_name = address.split_once('.').map_or("", |(t, _)| t);
    state.resources.iter().any(|(other, entry)| {
        other != address && entry.type_name == type_name && entry.id.as_deref() == Some(id)
    })
}

/// A resource given a `name_prefix` gets its name here, once per create:
/// the intent saved next records it, so a repeat after a lost answer, or
/// the next run after cairn died, looks for this name and no other. The
/// suffix is the time in nanoseconds and a random number, 26 digits.
fn name_from_prefix(desired: &mut Map<String, Value>) {
    let Some(prefix) = desired.get("name_prefix").and_then(Value::as_str) else {
        return;
    };
    if !desired.get("name").is_none_or(Value::is_null) {
        return;
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let name = format!(
        "{prefix}{:019}{:07}",
        now.as_nanos() % 10u128.pow(19),
        fastrand::u32(..10_000_000)
    );
    debug_assert_eq!(name.len(), prefix.len() + crate::schema::NAME_SUFFIX);
    desired.insert("name".into(), Value::String(name));
}

/// Where the state keeps the old object of a create-before-destroy
/// replacement until it is deleted.
fn deposed_address(change: &Change) -> String {
    format!(
        "{}#deposed-{}",
        change.address,
        change.id.as_deref().unwrap_or("unknown")
    )
}

/// How often a step still running says so: 10 s, as Terraform
/// (`CAIRN_PROGRESS_SECONDS` changes it).
fn progress_interval() -> std::time::Duration {
    let seconds = std::env::var("CAIRN_PROGRESS_SECONDS")
        .ok()
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|s| *s > 0.0)
        .unwrap_or(10.0);
    std::time::Duration::from_secs_f64(seconds)
}

/// Fault injection for the crash-safety tests: with
/// `CAIRN_FAULT_ABORT_AFTER_CREATE=ADDRESS`, cairn dies (no destructors, no
/// lock release, like `kill -9`) after AWS created that resource and before
/// the state records it: the worst moment to die.
fn crash_point(address: &str) {
    if std::env::var("CAIRN_FAULT_ABORT_AFTER_CREATE").is_ok_and(|a| a == address) {
        std::process::abort();
    }
}

/// Executes exactly the changes in `plan`, concurrently along the graph,
/// reporting to `observer`. Once `cancellation` is requested no new step
/// starts; the steps under way finish and are saved.
pub async fn apply(
    aws: &Aws,
    store: &dyn StateStore,
    state: State,
    plan: &Plan,
    parallelism: usize,
    observer: &dyn Observer,
    cancellation: &Cancellation,
) -> (Report, State) {
    let steps::Steps {
        changes,
        nodes,
        dependencies,
    } = steps::steps(plan, &state);
    // References name resources of the stack: the changes that are not
    // deletions (a resource whose type changed under the same name has a
    // deletion at its old address too).
    let address_of: BTreeMap<String, String> = plan
        .changes
        .iter()
        .filter(|c| c.action != Action::Delete)
        .map(|c| (c.name.clone(), c.address.clone()))
        .collect();
    // The order is built from the plan and the state; a cycle in it would
    // be cairn's bug. Refuse to start rather than leave steps "not started".
    if let Some(stuck) = walk::first_in_cycle(&dependencies) {
        let address = changes[nodes[stuck].0].address.clone();
        let report = Report {
            errors: vec![(
                address,
                StepError::Stale(
                    "cairn could not order the steps of this apply (a cycle); nothing was changed. Please report this plan".into(),
                ),
            )],
            ..Report::default()
        };
        return (report, state);
    }
    let context = Context {
        aws,
        store,
        state: tokio::sync::Mutex::new(state),
        observer,
        plan,
        address_of,
        revealed: Mutex::new(BTreeMap::new()),
        report: Mutex::new(Report::default()),
        running: Mutex::new(BTreeMap::new()),
        finished: std::sync::atomic::AtomicUsize::new(0),
        journaled: std::sync::atomic::AtomicUsize::new(0),
        unfolded: std::sync::atomic::AtomicUsize::new(0),
    };
    let context = Arc::new(context);
    let walking = cancellation.walking();
    let outcomes = {
        let stopping = || cancellation.is_requested();
        let walking = walk::walk(&dependencies, parallelism, &stopping, |node| {
            let context = context.clone();
            let (i, step) = nodes[node];
            let change = changes[i];
            async move { context.run(change, step).await }
        });
        tokio::pin!(walking);
        let mut redraw = tokio::time::interval(std::time::Duration::from_millis(500));
        loop {
            tokio::select! {
                outcomes = &mut walking => break outcomes,
                _ = redraw.tick() => observer.progress(Some(&progress(&context, nodes.len()))),
            }
        }
    };
    drop(walking);
    observer.progress(None);
    let context = Arc::try_unwrap(context).ok().expect("walk finished");
    let mut report = context.report.into_inner().expect("report");
    for (node, outcome) in outcomes.into_iter().enumerate() {
        let address = changes[nodes[node].0].address.clone();
        match outcome {
            Outcome::Done => {}
            Outcome::Failed(message) => report.errors.push((address, message)),
            Outcome::NotStarted => report.not_started.push(address),
            Outcome::Skipped(root) => {
                let root = nodes
                    .get(root)
                    .map_or("an earlier failure".to_owned(), |(i, _)| {
                        changes[*i].address.clone()
                    });
                report.skipped.push((address, root));
            }
        }
    }
    report.warnings.extend(aws.take_notes());
    let journaled = context.journaled.load(Ordering::SeqCst);
    let state = context.state.into_inner();
    // The run's steps into the document. Should this fail, the journal
    // still holds them and the next load replays it.
    if journaled > 0 {
        if let Err(error) = store.compact(&state).await {
            report.warnings.push(format!(
                "the state's journal was not folded into its document ({error}); the next run replays it"
            ));
        }
    }
    (report, state)
}

/// Where the walk stands: steps finished, and those under way (the
/// longest running first) with their time so far.
fn progress(context: &Context, total: usize) -> Progress {
    let finished = context.finished.load(Ordering::Relaxed);
    let running = context.running.lock().expect("running lock");
    let mut under_way: Vec<(&String, &(Step, Instant))> = running.iter().collect();
    under_way.sort_by_key(|(_, (_, started))| *started);
    Progress {
        finished,
        total,
        under_way: under_way
            .into_iter()
            .map(|(address, (step, started))| (address.clone(), *step, started.elapsed()))
            .collect(),
    }
}

/// The reference a value is exactly, if it is one.
fn whole_reference(value: &Value) -> Option<expr::Reference> {
    match expr::parse(value.as_str()?).ok()?.as_slice() {
        [expr::Part::Reference(reference)] => Some(reference.clone()),
        _ => None,
    }
}

/// Evaluates the stack's outputs against the state after apply. An output
/// that cannot be evaluated is an error, not a silent omission; one whose
/// value is not known (its resource failed) is left out.
pub fn outputs(
    stack: &crate::stack::Stack,
    state: &State,
    plan: &Plan,
) -> Result<BTreeMap<String, Value>, String> {
    let address_of: BTreeMap<String, String> = stack
        .resources
        .iter()
        .map(|r| (r.name.clone(), r.address()))
        .collect();
    let account = plan.account();
    let mut out = BTreeMap::new();
    let recorded = |root: &str, attribute: &str| {
        let entry = address_of.get(root).and_then(|a| state.resources.get(a))?;
        entry
            .outputs
            .get(attribute)
            .or_else(|| entry.attributes.get(attribute))
            .cloned()
    };
    for (name, output) in &stack.outputs {
        // A sensitive output that is one secret field: the state keeps the
        // field as the hash the output would be recorded as (the same
        // function of the same value), so that hash is the output's. Other
        // stacks check what they import against it.
        if let Some(hash) = whole_reference(&output.value)
            .and_then(|r| recorded(&r.root, &r.attribute))
            .filter(|value| output.sensitive && state::is_redacted(value))
        {
            out.insert(name.clone(), hash);
            continue;
        }
        let mut lookup = |reference: &expr::Reference| -> Lookup {
            plan::resolve::lookup(reference, &account, recorded)
        };
        let given = plan::Given {
            imports: &plan.imports,
            lookups: &plan.lookups,
        };
        let value = plan::imported_substitute(&output.value, &given)
            .and_then(|value| expr::evaluate_value(&value, &mut lookup))
            .map_err(|e| format!("output `{name}`: {e}"))?;
        if !expr::contains_unknown(&value) {
            out.insert(
                name.clone(),
                if output.sensitive {
                    state::redact(&value)
                } else {
                    value
                },
            );
        }
    }
    Ok(out)
}

#[cfg(test)]
mod naming_tests {
    use super::name_from_prefix;
    use crate::schema::prefix_of;
    use serde_json::{json, Map, Value};

    fn named(properties: Value) -> Map<String, Value> {
        let mut desired = properties.as_object().cloned().unwrap();
        name_from_prefix(&mut desired);
        desired
    }

    #[test]
    fn a_name_made_from_a_prefix_is_unique_and_read_back_as_its_prefix() {
        let first = named(json!({"name_prefix": "tasks-", "name": null}));
        let name = first["name"].as_str().unwrap();
        assert_eq!(name.len(), "tasks-".len() + crate::schema::NAME_SUFFIX);
        assert_eq!(prefix_of(name), Some("tasks-"));
        let second = named(json!({"name_prefix": "tasks-", "name": null}));
        assert_ne!(second["name"], first["name"]);
        assert_eq!(prefix_of("database"), None);
        assert_eq!(prefix_of("web-2024"), None);
        // A name already made (a create resumed) or given is kept.
        assert_eq!(
            named(json!({"name_prefix": "a-", "name": "a-1"}))["name"],
            "a-1"
        );
        assert_eq!(named(json!({"name": "plain"}))["name"], "plain");
    }
}
