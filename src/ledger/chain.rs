//! The hash chain that makes a ledger tamper-evident: each entry's hash
//! covers its own fields and the hash of the entry before it, so changing,
//! removing or reordering any row breaks every hash after it.

use sha2::{Digest, Sha256};

/// The "previous hash" of a ledger's first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// SHA-256 (hex) over the previous hash and the fields, each length-prefixed
/// so that no two different field lists hash alike ("ab","c" vs "a","bc").
pub fn entry_hash(prev_hash: &str, fields: &[&str]) -> String {
    let mut h = Sha256::new();
    h.update(b"aixin-ledger-v1\n");
    h.update(prev_hash.as_bytes());
    h.update(b"\n");
    for f in fields {
        h.update(f.len().to_string().as_bytes());
        h.update(b":");
        h.update(f.as_bytes());
        h.update(b";");
    }
    hex::encode(h.finalize())
}

/// A timestamp in the form hashed (microseconds, what both databases keep).
pub fn time_field(at: &chrono::NaiveDateTime) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%.6f").to_string()
}

/// Where a recomputed chain first disagrees with what is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Break {
    /// The entry does not name the hash of the entry before it.
    PrevMismatch,
    /// The entry's own hash does not match its content.
    HashMismatch,
}

/// Check one entry against the previous entry's hash.
pub fn check(
    expected_prev: &str,
    stored_prev: &str,
    stored_hash: &str,
    fields: &[&str],
) -> Option<Break> {
    if stored_prev != expected_prev {
        return Some(Break::PrevMismatch);
    }
    if entry_hash(stored_prev, fields) != stored_hash {
        return Some(Break::HashMismatch);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_chain_and_are_unambiguous() {
        let a = entry_hash(GENESIS, &["ab", "c"]);
        let b = entry_hash(GENESIS, &["a", "bc"]);
        assert_ne!(a, b);
        assert_eq!(a.len(), 64);
        assert_eq!(a, entry_hash(GENESIS, &["ab", "c"]));
        assert_ne!(entry_hash(&a, &["x"]), entry_hash(&b, &["x"]));
        assert_eq!(check(GENESIS, GENESIS, &a, &["ab", "c"]), None);
        assert_eq!(
            check(GENESIS, GENESIS, &a, &["ab", "d"]),
            Some(Break::HashMismatch)
        );
        assert_eq!(
            check(&b, GENESIS, &a, &["ab", "c"]),
            Some(Break::PrevMismatch)
        );
    }
}
