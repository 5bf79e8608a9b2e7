//! The hash chain that makes a ledger tamper-evident: each entry's hash
//! covers its own fields and the previous entry's hash.

use sha2::{Digest, Sha256};

/// SHA-256 (hex) over the previous hash and the fields, each length-prefixed
/// so that no two different field lists hash alike.
pub fn entry_hash(prev_hash: &str, fields: &[&str]) -> String {
    let mut h = Sha256::new();
    for part in std::iter::once(prev_hash).chain(fields.iter().copied()) {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part.as_bytes());
    }
    hex::encode(h.finalize())
}

#[cfg(test)]
mod tests {
    use super::entry_hash;

    #[test]
    fn every_field_and_the_previous_hash_count() {
        let a = entry_hash("", &["1", "x"]);
        assert_eq!(a.len(), 64);
        assert_ne!(a, entry_hash("", &["1", "y"]));
        assert_ne!(a, entry_hash("p", &["1", "x"]));
        // Moving a character between fields changes the hash.
        assert_ne!(entry_hash("", &["ab", "c"]), entry_hash("", &["a", "bc"]));
    }
}
