//! Optional API keys, compared in constant time.

/// Equal length and content, in time that depends only on the lengths.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut difference = a.len() ^ b.len();
    for i in 0..a.len().max(b.len()) {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0);
        difference |= usize::from(x ^ y);
    }
    difference == 0
}

/// Every configured key is compared (no early exit), so the time taken
/// does not say which key nearly matched. Several keys are valid together
/// while a key is rotated.
pub fn key_allowed(keys: &[String], presented: Option<&str>) -> bool {
    let Some(presented) = presented else {
        return false;
    };
    keys.iter().fold(false, |found, key| {
        constant_time_eq(key.as_bytes(), presented.as_bytes()) | found
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_match_exactly() {
        let keys = vec![
            "old-key-0123456789".to_owned(),
            "new-key-0123456789".to_owned(),
        ];
        assert!(key_allowed(&keys, Some("old-key-0123456789")));
        assert!(key_allowed(&keys, Some("new-key-0123456789")));
        assert!(!key_allowed(&keys, Some("new-key-012345678")));
        assert!(!key_allowed(&keys, Some("")));
        assert!(!key_allowed(&keys, None));
        assert!(!constant_time_eq(b"abc", b"abcd"));
    }
}
