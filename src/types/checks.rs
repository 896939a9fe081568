//! Value checks that several types share (on top of `schema::checks`).

use crate::schema::checks as c;
use serde_json::Value;

/// A name of `min` to `max` characters, each a letter, a digit or one of
/// `others`; `allowed` says which in the error.
pub fn name(
    value: &Value,
    (min, max): (usize, usize),
    what: &str,
    others: &str,
    allowed: &str,
) -> Result<(), String> {
    let v = c::text(value)?;
    c::length(v, min, max, what)?;
    c::charset(
        v,
        |c| c.is_ascii_alphanumeric() || others.contains(c),
        what,
        allowed,
    )
}
