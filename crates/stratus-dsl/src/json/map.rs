//! [`Map`]: an insertion-ordered JSON object whose clones share their entries.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use foldhash::fast::FixedState;

use super::{Str, Value};

/// Objects with more entries than this look keys up in a hash index; smaller ones scan,
/// which is faster for the handful of keys most plan objects have.
const INDEXED: usize = 12;

/// A JSON object in insertion order, with `serde_json::Map`'s (`preserve_order`) semantics:
/// inserting an existing key replaces its value in place, `remove` is `swap_remove`, and
/// two maps are equal when they hold the same entries in any order.
///
/// Cloning is O(1): clones share the entries until one of them is changed, which copies
/// that map's entries (not the values under them, which are shared the same way).
#[derive(Clone, Default)]
pub struct Map(Option<Arc<Inner>>);

#[derive(Clone)]
struct Inner {
    entries: Vec<Slot>,
    index: Option<HashMap<Str, usize, FixedState>>,
}

/// An entry with its key's [`tag`], so that a scan compares strings only where tags match.
#[derive(Clone)]
struct Slot {
    tag: u32,
    key: Str,
    value: Value,
}

impl Slot {
    fn new(key: Str, value: Value) -> Slot {
        Slot {
            tag: tag(key.as_bytes()),
            key,
            value,
        }
    }
}

/// A key's length and first byte: the keys of one object nearly always differ in one of them.
#[inline]
fn tag(key: &[u8]) -> u32 {
    ((key.len() as u32) << 8) | u32::from(key.first().copied().unwrap_or(0))
}

impl Inner {
    fn reindex(&mut self) {
        self.index = (self.entries.len() > INDEXED).then(|| {
            let mut index =
                HashMap::with_capacity_and_hasher(self.entries.len(), FixedState::default());
            for (position, slot) in self.entries.iter().enumerate() {
                index.entry(slot.key.clone()).or_insert(position);
            }
            index
        });
    }
}

/// `a == b` for the short strings keys are, without calling `memcmp`: words compared from
/// both ends (overlapping), the way a short comparison is unrolled.
#[inline]
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    let word = |s: &[u8], at: usize| {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(&s[at..at + 8]);
        u64::from_ne_bytes(bytes)
    };
    let half = |s: &[u8], at: usize| {
        let mut bytes = [0u8; 4];
        bytes.copy_from_slice(&s[at..at + 4]);
        u32::from_ne_bytes(bytes)
    };
    match n {
        0 => true,
        1..=3 => a[0] == b[0] && a[n / 2] == b[n / 2] && a[n - 1] == b[n - 1],
        4..=7 => half(a, 0) == half(b, 0) && half(a, n - 4) == half(b, n - 4),
        8..=16 => word(a, 0) == word(b, 0) && word(a, n - 8) == word(b, n - 8),
        _ => {
            let mut at = 0;
            while at + 8 < n {
                if word(a, at) != word(b, at) {
                    return false;
                }
                at += 8;
            }
            word(a, n - 8) == word(b, n - 8)
        }
    }
}

pub struct Iter<'a>(std::slice::Iter<'a, Slot>);

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a Str, &'a Value);
    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        self.0.next().map(|slot| (&slot.key, &slot.value))
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

impl DoubleEndedIterator for Iter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.0.next_back().map(|slot| (&slot.key, &slot.value))
    }
}

impl ExactSizeIterator for Iter<'_> {}

impl Map {
    pub const fn new() -> Map {
        Map(None)
    }

    pub fn with_capacity(capacity: usize) -> Map {
        if capacity == 0 {
            return Map(None);
        }
        Map(Some(Arc::new(Inner {
            entries: Vec::with_capacity(capacity),
            index: None,
        })))
    }

    /// A map of these entries, in order; the keys must be distinct (checked in debug
    /// builds). For the fixed shapes the plan is made of: no key is looked up or copied.
    pub fn of<const N: usize>(entries: [(&'static str, Value); N]) -> Map {
        debug_assert!(
            entries
                .iter()
                .enumerate()
                .all(|(i, (k, _))| entries[..i].iter().all(|(other, _)| other != k)),
            "keys must be distinct"
        );
        let mut map = Map::with_capacity(N);
        let inner = map.inner_mut();
        inner.entries.extend(
            entries
                .into_iter()
                .map(|(key, value)| Slot::new(Str::new_static(key), value)),
        );
        inner.reindex();
        map
    }

    /// Appends an entry whose key the map does not hold (checked in debug builds): for
    /// keys taken from another map, which are distinct already.
    pub fn push_new(&mut self, key: Str, value: Value) {
        debug_assert!(!self.contains_key(&key), "key {key} is already in the map");
        let inner = self.inner_mut();
        if let Some(index) = &mut inner.index {
            index.insert(key.clone(), inner.entries.len());
        }
        inner.entries.push(Slot::new(key, value));
        if inner.index.is_none() && inner.entries.len() > INDEXED {
            inner.reindex();
        }
    }

    /// Room for `additional` more entries.
    pub fn reserve(&mut self, additional: usize) {
        self.inner_mut().entries.reserve(additional);
    }

    fn entries(&self) -> &[Slot] {
        self.0.as_deref().map_or(&[], |inner| &inner.entries)
    }

    fn inner_mut(&mut self) -> &mut Inner {
        let shared = self.0.get_or_insert_with(|| {
            Arc::new(Inner {
                entries: Vec::new(),
                index: None,
            })
        });
        Arc::make_mut(shared)
    }

    /// Whether both maps share one set of entries (then they are equal).
    pub fn ptr_eq(&self, other: &Map) -> bool {
        match (&self.0, &other.0) {
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            (None, None) => true,
            _ => false,
        }
    }

    pub fn len(&self) -> usize {
        self.entries().len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries().is_empty()
    }

    fn position(&self, key: &str) -> Option<usize> {
        let inner = self.0.as_deref()?;
        match &inner.index {
            Some(index) => index.get(key).copied(),
            None => {
                let key = key.as_bytes();
                let tag = tag(key);
                inner
                    .entries
                    .iter()
                    .position(|slot| slot.tag == tag && same_bytes(slot.key.as_bytes(), key))
            }
        }
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        let position = self.position(key)?;
        Some(&self.entries()[position].value)
    }

    pub fn get_key_value(&self, key: &str) -> Option<(&Str, &Value)> {
        let position = self.position(key)?;
        let slot = &self.entries()[position];
        Some((&slot.key, &slot.value))
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut Value> {
        let position = self.position(key)?;
        Some(&mut self.inner_mut().entries[position].value)
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.position(key).is_some()
    }

    /// Inserts `value` under `key`: a new key goes last, an existing one keeps its place and
    /// the old value is returned.
    pub fn insert(&mut self, key: impl Into<Str>, value: Value) -> Option<Value> {
        let key = key.into();
        if let Some(position) = self.position(&key) {
            return Some(std::mem::replace(
                &mut self.inner_mut().entries[position].value,
                value,
            ));
        }
        let inner = self.inner_mut();
        let position = inner.entries.len();
        match &mut inner.index {
            Some(index) => {
                index.insert(key.clone(), position);
            }
            None if position == INDEXED => {
                inner.entries.push(Slot::new(key, value));
                inner.reindex();
                return None;
            }
            None => {}
        }
        inner.entries.push(Slot::new(key, value));
        None
    }

    /// Removes `key`, keeping the order of the others.
    pub fn shift_remove(&mut self, key: &str) -> Option<Value> {
        let position = self.position(key)?;
        let inner = self.inner_mut();
        let value = inner.entries.remove(position).value;
        inner.reindex();
        Some(value)
    }

    /// Removes `key`, moving the last entry into its place.
    pub fn swap_remove(&mut self, key: &str) -> Option<Value> {
        let position = self.position(key)?;
        let inner = self.inner_mut();
        let value = inner.entries.swap_remove(position).value;
        inner.reindex();
        Some(value)
    }

    /// `serde_json::Map::remove` with `preserve_order`: a [`Map::swap_remove`].
    pub fn remove(&mut self, key: &str) -> Option<Value> {
        self.swap_remove(key)
    }

    pub fn retain(&mut self, mut keep: impl FnMut(&Str, &mut Value) -> bool) {
        let inner = self.inner_mut();
        inner
            .entries
            .retain_mut(|slot| keep(&slot.key, &mut slot.value));
        inner.reindex();
    }

    pub fn iter(&self) -> Iter<'_> {
        Iter(self.entries().iter())
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = (&Str, &mut Value)> {
        let entries: &mut [Slot] = match self.0 {
            None => &mut [],
            Some(_) => &mut self.inner_mut().entries,
        };
        entries.iter_mut().map(|slot| (&slot.key, &mut slot.value))
    }

    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &Str> + ExactSizeIterator {
        self.entries().iter().map(|slot| &slot.key)
    }

    pub fn values(&self) -> impl DoubleEndedIterator<Item = &Value> + ExactSizeIterator {
        self.entries().iter().map(|slot| &slot.value)
    }

    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut Value> {
        self.iter_mut().map(|(_, v)| v)
    }

    /// The first entry.
    pub fn first(&self) -> Option<(&Str, &Value)> {
        self.entries().first().map(|slot| (&slot.key, &slot.value))
    }
}

impl std::ops::Index<&str> for Map {
    type Output = Value;
    /// As `serde_json::Map`: panics when `key` is absent.
    fn index(&self, key: &str) -> &Value {
        self.get(key).expect("no entry found for key")
    }
}

impl PartialEq for Map {
    fn eq(&self, other: &Map) -> bool {
        self.ptr_eq(other)
            || (self.len() == other.len() && self.iter().all(|(k, v)| other.get(k) == Some(v)))
    }
}

impl fmt::Debug for Map {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<'a> IntoIterator for &'a Map {
    type Item = (&'a Str, &'a Value);
    type IntoIter = Iter<'a>;
    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

impl IntoIterator for Map {
    type Item = (Str, Value);
    type IntoIter = IntoIter;
    fn into_iter(self) -> IntoIter {
        IntoIter(match self.0 {
            None => Vec::new().into_iter(),
            Some(inner) => Arc::unwrap_or_clone(inner).entries.into_iter(),
        })
    }
}

/// The entries of a [`Map`], by value.
pub struct IntoIter(std::vec::IntoIter<Slot>);

impl Iterator for IntoIter {
    type Item = (Str, Value);
    fn next(&mut self) -> Option<(Str, Value)> {
        self.0.next().map(|slot| (slot.key, slot.value))
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

impl<K: Into<Str>> FromIterator<(K, Value)> for Map {
    fn from_iter<T: IntoIterator<Item = (K, Value)>>(iter: T) -> Map {
        let mut map = Map::new();
        map.extend(iter);
        map
    }
}

impl<K: Into<Str>> Extend<(K, Value)> for Map {
    fn extend<T: IntoIterator<Item = (K, Value)>>(&mut self, iter: T) {
        for (k, v) in iter {
            self.insert(k, v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numbers(n: i64) -> Map {
        (0..n).map(|i| (format!("k{i}"), Value::from(i))).collect()
    }

    #[test]
    fn order_and_replacement_as_serde_json() {
        for n in [3, 40] {
            let mut map = numbers(n);
            assert_eq!(map.insert("k1", Value::from(-1)), Some(Value::from(1)));
            assert_eq!(map.keys().nth(1).map(Str::as_str), Some("k1"));
            assert_eq!(map.get("k1"), Some(&Value::from(-1)));
            map.insert("new", Value::Null);
            assert_eq!(map.keys().last().map(Str::as_str), Some("new"));
            // remove is swap_remove, as serde_json's with preserve_order.
            map.remove("k0");
            assert_eq!(map.keys().next().map(Str::as_str), Some("new"));
            map.shift_remove("new");
            assert_eq!(map.keys().next().map(Str::as_str), Some("k1"));
            assert_eq!(map.len(), n as usize - 1);
            for i in 1..n {
                assert!(map.contains_key(&format!("k{i}")));
            }
            assert!(!map.contains_key("k0") && !map.contains_key("new"));
        }
    }

    #[test]
    fn fixed_shapes_are_ordinary_maps() {
        let mut map = Map::of([("a", Value::from(1)), ("b", Value::Null)]);
        map.reserve(20);
        for i in 0..20 {
            map.insert(format!("k{i}"), Value::from(i));
        }
        assert_eq!(map.insert("a", Value::from(2)), Some(Value::from(1)));
        assert_eq!(map.keys().next().map(Str::as_str), Some("a"));
        assert_eq!(map.get("k19"), Some(&Value::from(19)));
        assert_eq!(map.len(), 22);
        assert!(Map::of([]).is_empty());
    }

    #[test]
    #[should_panic(expected = "keys must be distinct")]
    #[cfg(debug_assertions)]
    fn fixed_shapes_have_distinct_keys() {
        Map::of([("a", Value::Null), ("a", Value::Null)]);
    }

    #[test]
    fn short_comparison_agrees_with_equality() {
        let words: Vec<String> = (0..40)
            .flat_map(|n| {
                let base: String = (0..n).map(|i| (b'a' + (i % 26) as u8) as char).collect();
                let mut variants = vec![base.clone()];
                for i in 0..n {
                    let mut changed = base.clone().into_bytes();
                    changed[i] = b'Z';
                    variants.push(String::from_utf8(changed).unwrap());
                }
                variants
            })
            .collect();
        for a in &words {
            for b in &words {
                assert_eq!(same_bytes(a.as_bytes(), b.as_bytes()), a == b, "{a} {b}");
            }
        }
    }

    #[test]
    fn clones_share_until_changed() {
        let a = numbers(20);
        let mut b = a.clone();
        assert!(a.ptr_eq(&b));
        *b.get_mut("k3").unwrap() = Value::from("x");
        assert!(!a.ptr_eq(&b));
        assert_eq!(a.get("k3"), Some(&Value::from(3)));
        assert_eq!(b.get("k3"), Some(&Value::from("x")));
    }

    #[test]
    fn equality_ignores_order() {
        let a: Map = [("x", Value::from(1)), ("y", Value::from(2))]
            .into_iter()
            .collect();
        let b: Map = [("y", Value::from(2)), ("x", Value::from(1))]
            .into_iter()
            .collect();
        assert_eq!(a, b);
        assert_ne!(a, numbers(2));
    }
}
