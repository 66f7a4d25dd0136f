//! `Hashes`: the `hashes` object of a [`FileMeta`](super::FileMeta), digests by algorithm name.
//!
//! A repository of many targets holds one of these per target, almost always with a single
//! `sha256` entry (or `sha256` and `sha512`), so the representation is compact: one boxed slice
//! of entries sorted by name, the well-known names `sha256` and `sha512` stored without a heap
//! allocation, and each digest as a boxed byte slice of exactly its length.

use std::fmt;

use serde::ser::SerializeMap as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::b64;

/// Name of the SHA-256 hash in `hashes`.
pub const SHA256: &str = "sha256";
/// Name of the SHA-512 hash in `hashes`.
pub const SHA512: &str = "sha512";

/// An algorithm name; the well-known ones need no allocation.
#[derive(Clone, PartialEq, Eq)]
enum Name {
    Sha256,
    Sha512,
    /// Any other name (never `sha256` or `sha512`: see [`Name::new`]).
    Other(Box<str>),
}

impl Name {
    fn new(name: &str) -> Self {
        match name {
            SHA256 => Self::Sha256,
            SHA512 => Self::Sha512,
            other => Self::Other(other.into()),
        }
    }

    fn as_str(&self) -> &str {
        match self {
            Self::Sha256 => SHA256,
            Self::Sha512 => SHA512,
            Self::Other(name) => name,
        }
    }
}

#[derive(Clone, PartialEq, Eq)]
struct Entry {
    name: Name,
    digest: Box<[u8]>,
}

/// Digests by algorithm name (`{"sha256":"<base64>",…}` in JSON), iterated in name order.
///
/// Behaves like a `BTreeMap<String, Vec<u8>>`: one digest per name, sorted by name (byte-wise),
/// [`insert`](Self::insert) replaces. In JSON the digests are padded standard base64; a name
/// that appears twice in the input keeps its last value.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Hashes {
    /// Sorted by name, names unique.
    entries: Box<[Entry]>,
}

impl Hashes {
    /// No digests.
    pub fn new() -> Self {
        Self::default()
    }

    /// The number of digests.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no digests.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn position(&self, name: &str) -> Result<usize, usize> {
        self.entries.binary_search_by(|e| e.name.as_str().cmp(name))
    }

    /// The digest named `name`.
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.position(name).ok().map(|i| &*self.entries[i].digest)
    }

    /// Whether a digest named `name` is present.
    pub fn contains_key(&self, name: &str) -> bool {
        self.position(name).is_ok()
    }

    /// Sets the digest named `name`, returning the one it replaces.
    pub fn insert(
        &mut self,
        name: impl AsRef<str>,
        digest: impl Into<Box<[u8]>>,
    ) -> Option<Box<[u8]>> {
        let name = name.as_ref();
        let digest = digest.into();
        match self.position(name) {
            Ok(i) => Some(std::mem::replace(&mut self.entries[i].digest, digest)),
            Err(i) => {
                let mut entries = std::mem::take(&mut self.entries).into_vec();
                entries.insert(
                    i,
                    Entry {
                        name: Name::new(name),
                        digest,
                    },
                );
                self.entries = entries.into_boxed_slice();
                None
            }
        }
    }

    /// Removes the digest named `name`, returning it.
    pub fn remove(&mut self, name: &str) -> Option<Box<[u8]>> {
        let i = self.position(name).ok()?;
        let mut entries = std::mem::take(&mut self.entries).into_vec();
        let removed = entries.remove(i);
        self.entries = entries.into_boxed_slice();
        Some(removed.digest)
    }

    /// Removes every digest.
    pub fn clear(&mut self) {
        self.entries = Box::default();
    }

    /// `(name, digest)` pairs in name order.
    pub fn iter(&self) -> Iter<'_> {
        Iter {
            inner: self.entries.iter(),
        }
    }

    /// The names, in order.
    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &str> + ExactSizeIterator {
        self.entries.iter().map(|e| e.name.as_str())
    }

    /// The digests, in name order.
    pub fn values(&self) -> impl DoubleEndedIterator<Item = &[u8]> + ExactSizeIterator {
        self.entries.iter().map(|e| &*e.digest)
    }

    /// Builds from entries in any order; a later entry replaces an earlier one of the same name.
    fn from_vec(mut entries: Vec<Entry>) -> Self {
        let sorted_unique = entries
            .windows(2)
            .all(|w| w[0].name.as_str() < w[1].name.as_str());
        if !sorted_unique {
            // Stable: equal names keep their input order, so the last one is the one to keep.
            entries.sort_by(|a, b| a.name.as_str().cmp(b.name.as_str()));
            let mut kept: Vec<Entry> = Vec::with_capacity(entries.len());
            for entry in entries {
                match kept.last_mut() {
                    Some(last) if last.name == entry.name => *last = entry,
                    _ => kept.push(entry),
                }
            }
            entries = kept;
        }
        Self {
            entries: entries.into_boxed_slice(),
        }
    }
}

/// Iterator over `(name, digest)` pairs of a [`Hashes`], in name order.
#[derive(Clone)]
pub struct Iter<'a> {
    inner: std::slice::Iter<'a, Entry>,
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a str, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        self.inner.next().map(|e| (e.name.as_str(), &*e.digest))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

impl DoubleEndedIterator for Iter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.inner
            .next_back()
            .map(|e| (e.name.as_str(), &*e.digest))
    }
}

impl ExactSizeIterator for Iter<'_> {}

impl<'a> IntoIterator for &'a Hashes {
    type Item = (&'a str, &'a [u8]);
    type IntoIter = Iter<'a>;

    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

impl std::ops::Index<&str> for Hashes {
    type Output = [u8];

    /// The digest named `name`.
    ///
    /// # Panics
    ///
    /// When there is none (as `BTreeMap` indexing does).
    fn index(&self, name: &str) -> &[u8] {
        match self.get(name) {
            Some(digest) => digest,
            None => panic!("no {name:?} hash"),
        }
    }
}

impl<K: AsRef<str>, V: Into<Box<[u8]>>> FromIterator<(K, V)> for Hashes {
    /// A later pair replaces an earlier one of the same name.
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        Self::from_vec(
            iter.into_iter()
                .map(|(name, digest)| Entry {
                    name: Name::new(name.as_ref()),
                    digest: digest.into(),
                })
                .collect(),
        )
    }
}

impl<K: AsRef<str>, V: Into<Box<[u8]>>, const N: usize> From<[(K, V); N]> for Hashes {
    /// A later pair replaces an earlier one of the same name.
    fn from(pairs: [(K, V); N]) -> Self {
        pairs.into_iter().collect()
    }
}

impl fmt::Debug for Hashes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl Serialize for Hashes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut out = s.serialize_map(Some(self.len()))?;
        for (name, digest) in self {
            out.serialize_entry(name, &b64::encode(digest))?;
        }
        out.end()
    }
}

impl<'de> Deserialize<'de> for Hashes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(MapVisitor)
    }
}

/// Decodes each value straight from the input text: no intermediate map or strings.
struct MapVisitor;

impl<'de> serde::de::Visitor<'de> for MapVisitor {
    type Value = Hashes;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a map of base64 strings")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Hashes, A::Error> {
        let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(1).min(4));
        while let Some(name) = map.next_key_seed(NameSeed)? {
            let digest = map.next_value_seed(Digest(name.as_str()))?;
            entries.push(Entry { name, digest });
        }
        Ok(Hashes::from_vec(entries))
    }
}

/// A name read without an intermediate `String`.
struct NameSeed;

impl<'de> serde::de::DeserializeSeed<'de> for NameSeed {
    type Value = Name;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Name, D::Error> {
        d.deserialize_str(self)
    }
}

impl serde::de::Visitor<'_> for NameSeed {
    type Value = Name;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a hash algorithm name")
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Name, E> {
        Ok(Name::new(v))
    }
}

/// One base64 value, decoded as it is read; `.0` names it in errors. `null` (Go's nil `[]byte`)
/// reads as an empty digest, which the hash checks then reject for `sha256` and `sha512`, as
/// Go's do.
struct Digest<'k>(&'k str);

impl<'de> serde::de::DeserializeSeed<'de> for Digest<'_> {
    type Value = Box<[u8]>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Box<[u8]>, D::Error> {
        d.deserialize_option(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Digest<'_> {
    type Value = Box<[u8]>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a base64 string or null")
    }

    fn visit_none<E: serde::de::Error>(self) -> Result<Box<[u8]>, E> {
        Ok(Box::default())
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<Box<[u8]>, E> {
        Ok(Box::default())
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Box<[u8]>, D::Error> {
        d.deserialize_str(self)
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Box<[u8]>, E> {
        b64::decode(v)
            .map(Vec::into_boxed_slice)
            .map_err(|e| E::custom(format!("hash {:?}: {e}", self.0)))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn behaves_like_a_sorted_map() {
        let mut h = Hashes::new();
        assert!(h.is_empty());
        assert_eq!(h.insert("sha512", vec![2; 64]), None);
        assert_eq!(h.insert(String::from("md5"), vec![9]), None);
        assert_eq!(h.insert("sha256", vec![1; 32]), None);
        assert_eq!(h.insert("a", vec![0]), None);
        assert_eq!(h.len(), 4);
        assert_eq!(
            h.keys().collect::<Vec<_>>(),
            ["a", "md5", "sha256", "sha512"]
        );
        assert_eq!(h.get("sha256"), Some(&[1; 32][..]));
        assert_eq!(&h["md5"], &[9]);
        assert!(h.contains_key("sha512"));
        assert!(!h.contains_key("sha384"));
        assert_eq!(h.get("sha384"), None);

        let old = h.insert("sha256", vec![3; 32]).unwrap();
        assert_eq!(&*old, &[1; 32]);
        assert_eq!(h.len(), 4);
        assert_eq!(h.remove("md5").as_deref(), Some(&[9][..]));
        assert_eq!(h.remove("md5"), None);
        assert_eq!(h.values().map(<[u8]>::len).collect::<Vec<_>>(), [1, 32, 64]);
        assert_eq!(h.iter().next_back().unwrap().0, "sha512");
        h.clear();
        assert!(h.is_empty() && h.iter().next().is_none());
    }

    #[test]
    fn order_and_equality_match_btreemap() {
        let pairs = [
            ("sha512", vec![2u8; 3]),
            ("SHA256", vec![7]),
            ("sha256", vec![1; 2]),
            ("blake2b", vec![5]),
            ("sha256", vec![4; 2]),
        ];
        let map: BTreeMap<String, Vec<u8>> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect();
        let h: Hashes = pairs.clone().into_iter().collect();
        let h_vec: Vec<(&str, &[u8])> = h.iter().collect();
        let map_vec: Vec<(&str, &[u8])> = map.iter().map(|(k, v)| (k.as_str(), &v[..])).collect();
        assert_eq!(h_vec, map_vec, "same order, last duplicate wins");
        assert_eq!(Hashes::from(pairs), h);

        // Equality does not depend on the order of construction.
        let a = Hashes::from([("sha256", vec![1]), ("sha512", vec![2])]);
        let mut b = Hashes::new();
        b.insert("sha512", vec![2]);
        b.insert("sha256", vec![1]);
        assert_eq!(a, b);
        b.insert("sha256", vec![0]);
        assert_ne!(a, b);
        assert_eq!(format!("{a:?}"), r#"{"sha256": [1], "sha512": [2]}"#);
    }

    #[test]
    fn json_matches_the_btreemap_encoding() {
        // Keys sorted on output whatever the input order; other names kept as written.
        let json = r#"{"sha512":"AgI=","sha256":"AQE=","md5":"CQ=="}"#;
        let h: Hashes = serde_json::from_str(json).unwrap();
        let out = serde_json::to_string(&h).unwrap();
        assert_eq!(out, r#"{"md5":"CQ==","sha256":"AQE=","sha512":"AgI="}"#);
        let as_map: BTreeMap<String, String> = serde_json::from_str(json).unwrap();
        assert_eq!(out, serde_json::to_string(&as_map).unwrap());
        assert_eq!(crate::cjson::to_canonical_from(&h).unwrap(), out.as_bytes());

        // A repeated name keeps its last value, as a map insert does.
        let h: Hashes = serde_json::from_str(r#"{"sha256":"AQ==","sha256":"Ag=="}"#).unwrap();
        assert_eq!(h.len(), 1);
        assert_eq!(&h["sha256"], &[2]);

        // Escaped names are decoded, not borrowed.
        let h: Hashes = serde_json::from_str(r#"{"sha\u0032\u00356":"AQ=="}"#).unwrap();
        assert_eq!(h.get(SHA256), Some(&[1][..]));

        let empty: Hashes = serde_json::from_str("{}").unwrap();
        assert!(empty.is_empty());
        assert_eq!(serde_json::to_string(&empty).unwrap(), "{}");
    }

    #[test]
    fn bad_json_is_rejected_with_the_name() {
        let err = serde_json::from_str::<Hashes>(r#"{"sha256":"*"}"#).unwrap_err();
        assert!(err.to_string().contains(r#"hash "sha256""#), "{err}");
        assert!(serde_json::from_str::<Hashes>(r#"{"sha256":1}"#).is_err());
        assert!(serde_json::from_str::<Hashes>(r#"["sha256"]"#).is_err());
        assert!(serde_json::from_str::<Hashes>(r#"{"sha256":"AQ"}"#).is_err());
        // `null` for the whole map is the caller's business (`FileMeta` reads it as empty).
        assert!(serde_json::from_str::<Hashes>("null").is_err());
    }

    #[test]
    fn null_digest_reads_as_empty() {
        // Go writes a nil `[]byte` as `null`; it reads back as an empty digest.
        let h: Hashes = serde_json::from_str(r#"{"md5":null,"sha256":"AQ=="}"#).unwrap();
        assert_eq!(h.get("md5"), Some(&[][..]));
        assert_eq!(h.get(SHA256), Some(&[1][..]));
        assert_eq!(
            serde_json::to_string(&h).unwrap(),
            r#"{"md5":"","sha256":"AQ=="}"#
        );
    }

    #[test]
    fn single_entry_is_small() {
        // One pointer and length in the owning struct; the names need no allocation.
        assert_eq!(size_of::<Hashes>(), 2 * size_of::<usize>());
        let h = Hashes::from([(SHA256, vec![0; 32])]);
        assert!(matches!(h.entries[0].name, Name::Sha256));
        let h = Hashes::from([(String::from(SHA512), vec![0; 64])]);
        assert!(matches!(h.entries[0].name, Name::Sha512));
    }
}
