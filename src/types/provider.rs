//! The I/O part of a resource type: its create, read, update and delete,
//! which only the engine, drift and import call. A type implements
//! `Resource` with plain `async fn`s; the registry holds it as the
//! object-safe `Provider` the blanket impl below makes of it.

use crate::aws::{Aws, AwsError};
use crate::model::{ErrorClass, Observed};
use futures::future::BoxFuture;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::future::Future;

type Read = Result<Option<Observed>, AwsError>;
type Reads = Result<BTreeMap<String, Option<Observed>>, AwsError>;
type Made = Result<Observed, AwsError>;

/// One resource type's create, read, update and delete, as a type writes
/// them (`async fn` in the impl).
pub trait Resource: Send + Sync {
    /// `None` when the resource does not exist.
    fn read(&self, aws: &Aws, id: &str) -> impl Future<Output = Read> + Send;
    /// How many ids one `read_many` call should take; more than one only
    /// for types with a batch read in AWS.
    fn batch_size(&self) -> usize {
        1
    }
    /// Reads several at once; types with a batch API override this.
    fn read_many(&self, aws: &Aws, ids: &[String]) -> impl Future<Output = Reads> + Send {
        async move {
            let mut out = BTreeMap::new();
            for id in ids {
                out.insert(id.clone(), self.read(aws, id).await?);
            }
            Ok(out)
        }
    }
    /// Finds a resource whose id AWS assigns, after a create that was
    /// interrupted before its id was recorded: by the ownership tags in
    /// `desired["tags"]`, or, for types that cannot carry tags, by the
    /// properties that make it unique (a subscription's topic, protocol
    /// and endpoint).
    fn find(&self, _aws: &Aws, _desired: &Map<String, Value>) -> impl Future<Output = Read> + Send {
        async { Ok(None) }
    }
    /// Whether a resource of its kind that the ownership-tag search found
    /// by `arn` is in fact gone (`false` for an ARN of another kind).
    fn lingers(
        &self,
        _aws: &Aws,
        _arn: &str,
    ) -> impl Future<Output = Result<bool, AwsError>> + Send {
        async { Ok(false) }
    }
    /// Whether `find` looks it up by the properties that make it unique
    /// (a type AWS names that cannot carry ownership tags).
    fn finds_by_properties(&self) -> bool {
        false
    }
    fn create(&self, aws: &Aws, desired: &Map<String, Value>) -> impl Future<Output = Made> + Send;
    fn update(
        &self,
        aws: &Aws,
        id: &str,
        before: &Map<String, Value>,
        after: &Map<String, Value>,
        changed: &[String],
    ) -> impl Future<Output = Made> + Send;
    /// Deleting what is already gone succeeds.
    fn delete(
        &self,
        aws: &Aws,
        id: &str,
        before: &Map<String, Value>,
    ) -> impl Future<Output = Result<(), AwsError>> + Send;
}

/// How a type changes the tags of a resource that exists: its service's
/// tag and untag calls, on what they address it by (an ARN, a name or an
/// id). Both are safe to repeat.
pub trait Tagging: Send + Sync {
    fn tag(
        &self,
        aws: &Aws,
        target: &str,
        set: &BTreeMap<String, String>,
    ) -> impl Future<Output = Result<(), AwsError>> + Send;
    fn untag(
        &self,
        aws: &Aws,
        target: &str,
        remove: &[String],
    ) -> impl Future<Output = Result<(), AwsError>> + Send;
    /// From `before`'s tags to `after`'s (their `tags` fields).
    fn retag(
        &self,
        aws: &Aws,
        target: &str,
        before: &Map<String, Value>,
        after: &Map<String, Value>,
    ) -> impl Future<Output = Result<(), AwsError>> + Send {
        async move {
            let old = crate::aws::string_map(before, "tags");
            let new = crate::aws::string_map(after, "tags");
            self.retag_between(aws, target, &old, &new).await
        }
    }
    /// From the tags `old` to the tags `new`: the keys that go are removed
    /// first, then the tags that are new or changed are set; no call where
    /// there is nothing to do.
    fn retag_between(
        &self,
        aws: &Aws,
        target: &str,
        old: &BTreeMap<String, String>,
        new: &BTreeMap<String, String>,
    ) -> impl Future<Output = Result<(), AwsError>> + Send {
        async move {
            let remove: Vec<String> = old
                .keys()
                .filter(|k| !new.contains_key(*k))
                .cloned()
                .collect();
            let set: BTreeMap<String, String> = new
                .iter()
                .filter(|(k, v)| old.get(*k) != Some(*v))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            if !remove.is_empty() {
                self.untag(aws, target, &remove).await?;
            }
            if !set.is_empty() {
                self.tag(aws, target, &set).await?;
            }
            Ok(())
        }
    }
}

/// A type's `Resource` as the registry holds it.
pub trait Provider: Send + Sync {
    fn read<'a>(&'a self, aws: &'a Aws, id: &'a str) -> BoxFuture<'a, Read>;
    fn batch_size(&self) -> usize;
    fn read_many<'a>(&'a self, aws: &'a Aws, ids: &'a [String]) -> BoxFuture<'a, Reads>;
    fn find<'a>(&'a self, aws: &'a Aws, desired: &'a Map<String, Value>) -> BoxFuture<'a, Read>;
    fn finds_by_properties(&self) -> bool;
    fn lingers<'a>(&'a self, aws: &'a Aws, arn: &'a str) -> BoxFuture<'a, Result<bool, AwsError>>;
    fn create<'a>(&'a self, aws: &'a Aws, desired: &'a Map<String, Value>) -> BoxFuture<'a, Made>;
    fn update<'a>(
        &'a self,
        aws: &'a Aws,
        id: &'a str,
        before: &'a Map<String, Value>,
        after: &'a Map<String, Value>,
        changed: &'a [String],
    ) -> BoxFuture<'a, Made>;
    fn delete<'a>(
        &'a self,
        aws: &'a Aws,
        id: &'a str,
        before: &'a Map<String, Value>,
    ) -> BoxFuture<'a, Result<(), AwsError>>;
}

impl<T: Resource> Provider for T {
    fn read<'a>(&'a self, aws: &'a Aws, id: &'a str) -> BoxFuture<'a, Read> {
        Box::pin(Resource::read(self, aws, id))
    }
    fn batch_size(&self) -> usize {
        Resource::batch_size(self)
    }
    fn read_many<'a>(&'a self, aws: &'a Aws, ids: &'a [String]) -> BoxFuture<'a, Reads> {
        Box::pin(Resource::read_many(self, aws, ids))
    }
    fn find<'a>(&'a self, aws: &'a Aws, desired: &'a Map<String, Value>) -> BoxFuture<'a, Read> {
        Box::pin(Resource::find(self, aws, desired))
    }
    fn finds_by_properties(&self) -> bool {
        Resource::finds_by_properties(self)
    }
    fn lingers<'a>(&'a self, aws: &'a Aws, arn: &'a str) -> BoxFuture<'a, Result<bool, AwsError>> {
        Box::pin(Resource::lingers(self, aws, arn))
    }
    fn create<'a>(&'a self, aws: &'a Aws, desired: &'a Map<String, Value>) -> BoxFuture<'a, Made> {
        Box::pin(Resource::create(self, aws, desired))
    }
    fn update<'a>(
        &'a self,
        aws: &'a Aws,
        id: &'a str,
        before: &'a Map<String, Value>,
        after: &'a Map<String, Value>,
        changed: &'a [String],
    ) -> BoxFuture<'a, Made> {
        Box::pin(Resource::update(self, aws, id, before, after, changed))
    }
    fn delete<'a>(
        &'a self,
        aws: &'a Aws,
        id: &'a str,
        before: &'a Map<String, Value>,
    ) -> BoxFuture<'a, Result<(), AwsError>> {
        Box::pin(Resource::delete(self, aws, id, before))
    }
}

/// Which change a read-back follows: what its absence means.
#[derive(Clone, Copy)]
pub enum After {
    /// Not visible yet: AWS is eventually consistent, so it is retried.
    Create,
    /// Gone while cairn changed it: someone deleted it.
    Update,
}

/// What a read after a change found; its absence is an error of the class
/// `after` says, from `operation`, saying `message`.
pub fn read_back<T>(
    read: Result<Option<T>, AwsError>,
    after: After,
    operation: &'static str,
    message: impl Into<String>,
) -> Result<T, AwsError> {
    read?.ok_or_else(|| {
        let class = match after {
            After::Create => ErrorClass::EventualConsistency,
            After::Update => ErrorClass::NotFound,
        };
        AwsError::new(class, operation, message)
    })
}

/// What a read found: the resource `id`, its `attributes`, and its
/// `outputs` by name.
pub fn observation<const N: usize>(
    id: impl Into<String>,
    attributes: Map<String, Value>,
    outputs: [(&str, Value); N],
) -> Observed {
    Observed {
        id: id.into(),
        attributes: attributes.into(),
        outputs: outputs
            .into_iter()
            .map(|(name, value)| (name.to_owned(), value))
            .collect(),
    }
}
