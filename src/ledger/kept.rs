//! What the running totals share when they are checked: rows summed by
//! key (a key that sums to nothing is as if absent), and the keys whose
//! kept figures differ from those made again from the ledgers.

use std::collections::HashMap;
use std::hash::Hash;

/// Figures kept under one key: one count, or several side by side.
pub(crate) trait Figures: Copy + Default + PartialEq {
    fn plus(self, other: Self) -> Self;
}

impl Figures for i64 {
    fn plus(self, other: Self) -> Self {
        self + other
    }
}

/// Several figures side by side (the arrays the totals use).
macro_rules! side_by_side {
    ($($n:literal),*) => {$(
        impl Figures for [i64; $n] {
            fn plus(mut self, other: Self) -> Self {
                for (a, b) in self.iter_mut().zip(other) {
                    *a += b;
                }
                self
            }
        }
    )*};
}
side_by_side!(2, 3);

/// Rows summed under the key `split` gives each, keys summing to nothing
/// left out.
pub(crate) fn keyed<R, K: Eq + Hash, V: Figures>(
    rows: impl IntoIterator<Item = R>,
    split: impl Fn(R) -> (K, V),
) -> HashMap<K, V> {
    let mut out: HashMap<K, V> = HashMap::new();
    for r in rows {
        let (k, v) = split(r);
        let sum = out.entry(k).or_default();
        *sum = sum.plus(v);
    }
    out.retain(|_, v| *v != V::default());
    out
}

/// A key whose kept figures differ from those made from the ledgers (a
/// side without the key reads as zeros).
pub(crate) struct Difference<K, V> {
    pub key: K,
    pub kept: V,
    pub made: V,
}

/// Every key of either side whose figures differ, in key order.
pub(crate) fn differences<K: Ord + Hash + Clone, V: Figures>(
    kept: &HashMap<K, V>,
    made: &HashMap<K, V>,
) -> Vec<Difference<K, V>> {
    let mut keys: Vec<&K> = kept.keys().chain(made.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter_map(|k| {
            let (a, b) = (
                kept.get(k).copied().unwrap_or_default(),
                made.get(k).copied().unwrap_or_default(),
            );
            (a != b).then(|| Difference {
                key: k.clone(),
                kept: a,
                made: b,
            })
        })
        .collect()
}
