//! The vocabulary every layer shares: what AWS was seen to hold, how its
//! failures are classed, the ownership tags, and the `${...}` expressions.
//! A leaf: it imports no other module of cairn, so the stack model, the
//! planner, the state stores and the resource types can all use it without
//! depending on one another.

pub mod expr;
pub mod functions;
pub mod lookup;
pub mod retry;
pub mod sensitive;

use serde::{Deserialize, Serialize};
use serde_json::Map;
use serde_json::Value;

/// Ownership tags put on every taggable resource, so a resource can be
/// traced to its stack and found again after a crash.
pub const TAG_STACK: &str = "cairn:stack";
pub const TAG_ENVIRONMENT: &str = "cairn:environment";
pub const TAG_ADDRESS: &str = "cairn:address";

/// A resource's values. Shared, not copied, between the stack, the state,
/// what refresh observed and the plan wherever they are equal: a stack of
/// thousands of resources holds each resource's values about once.
pub type Values = std::sync::Arc<Map<String, Value>>;

/// What refresh saw in AWS: the only input of planning that needs I/O.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Observed {
    pub id: String,
    /// Desired-form attributes as AWS reports them. A field AWS cannot
    /// report (such as a key's deletion window) is absent, and the state's
    /// value stands in for it.
    pub attributes: Values,
    pub outputs: Map<String, Value>,
}

/// The class of an AWS failure, decided once from the SDK's typed error;
/// the retry policy and the CLI's advice are functions of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorClass {
    NotFound,
    Throttled,
    /// Another change to the same resource is in progress.
    Conflict,
    /// AWS has not caught up yet (a role not yet assumable, a resource
    /// just created not yet visible).
    EventualConsistency,
    /// The network or a 5xx: worth another try.
    Transient,
    /// AWS refused the input.
    Validation,
    /// A create found the name taken: by this very create, when an earlier
    /// attempt's answer was lost, or by someone else's resource.
    AlreadyExists,
    /// AWS still holds something that uses the resource and releases it
    /// on its own (the network interfaces a deleted function used keep a
    /// security group and its subnets busy for minutes). The delete waits.
    InUse,
    /// The service says it does not implement the operation (HTTP 501 or
    /// the `NotImplemented` error code).
    NotImplemented,
    /// No connection could be made: refused, or no route to the host.
    /// The request never left, so nothing happened in AWS.
    Unreachable,
    /// A conditional write found the item changed: another writer got
    /// there first. Never retried; the caller decides.
    PreconditionFailed,
    /// The change reached AWS, but what it started did not settle: a
    /// deployment the circuit breaker stopped, or one still rolling out
    /// when the wait ended. Never retried, and never taken for done
    /// because the object now reads as desired.
    Unsettled,
    /// AWS refuses to delete a container that still holds things (a
    /// bucket with objects). Never retried: someone must decide to empty
    /// it.
    NotEmpty,
    Fatal,
}

/// `did you mean ...?` for a misspelt name.
pub fn suggest<'a>(given: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    candidates
        .into_iter()
        .map(|c| (strsim::damerau_levenshtein(given, c), c))
        .filter(|(distance, c)| *distance <= 2.max(c.len() / 3))
        .min()
        .map(|(_, c)| format!("did you mean `{c}`?"))
}
