//! Retry policy: a pure function from (error class, attempt) to a delay.

use std::time::Duration;

pub use super::ErrorClass;

const BASE: Duration = Duration::from_millis(200);
const CAP: Duration = Duration::from_secs(20);

/// `attempt` counts failures so far (1 after the first). `jitter` is a
/// number in [0, 1) so the caller owns the randomness and tests stay exact.
/// Full jitter: uniform in [delay/2, delay].
pub fn delay(class: ErrorClass, attempt: u32, jitter: f64) -> Option<Duration> {
    let limit = match class {
        ErrorClass::Throttled => 8,
        ErrorClass::Conflict => 10,
        ErrorClass::EventualConsistency => 12,
        ErrorClass::Transient => 4,
        ErrorClass::NotFound
        | ErrorClass::AlreadyExists
        | ErrorClass::InUse
        | ErrorClass::NotImplemented
        | ErrorClass::Unreachable
        | ErrorClass::Validation
        | ErrorClass::PreconditionFailed
        | ErrorClass::Unsettled
        | ErrorClass::NotEmpty
        | ErrorClass::Fatal => return None,
    };
    if attempt >= limit {
        return None;
    }
    let exponential = BASE.saturating_mul(1u32 << attempt.min(16));
    let capped = exponential.min(CAP);
    Some(capped.mul_f64(0.5 + jitter.clamp(0.0, 1.0) / 2.0))
}

/// Interval between status checks while waiting for AWS to finish.
pub fn poll_interval(attempt: u32) -> Duration {
    Duration::from_millis(100 * u64::from(attempt.min(30) + 1)).min(Duration::from_secs(5))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_caps_and_stops() {
        assert_eq!(
            delay(ErrorClass::Throttled, 1, 1.0),
            Some(Duration::from_millis(400))
        );
        assert_eq!(
            delay(ErrorClass::Throttled, 2, 0.0),
            Some(Duration::from_millis(400))
        );
        assert_eq!(delay(ErrorClass::Conflict, 9, 1.0), Some(CAP));
        assert_eq!(delay(ErrorClass::Throttled, 8, 0.5), None);
        assert_eq!(delay(ErrorClass::Fatal, 1, 0.5), None);
        assert_eq!(delay(ErrorClass::NotFound, 1, 0.5), None);
    }
}
