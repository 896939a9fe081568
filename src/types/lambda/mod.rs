//! Lambda: what its types share.

use crate::model::ErrorClass;

pub mod lambda_event_source_mapping;
pub mod lambda_function;
pub mod lambda_permission;

pub fn conflict_or_throttle(conflict: bool, throttled: bool) -> Option<ErrorClass> {
    if conflict {
        Some(ErrorClass::Conflict)
    } else if throttled {
        Some(ErrorClass::Throttled)
    } else {
        None
    }
}
