//! Standard base64 as Go's `encoding/base64.StdEncoding` reads and writes it (padding required,
//! non-zero trailing bits tolerated on input), plus serde helpers for byte fields.

use base64::Engine as _;
use base64::alphabet::STANDARD as STANDARD_ALPHABET;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

const ENGINE: GeneralPurpose = GeneralPurpose::new(
    &STANDARD_ALPHABET,
    GeneralPurposeConfig::new()
        .with_encode_padding(true)
        .with_decode_padding_mode(DecodePaddingMode::RequireCanonical)
        .with_decode_allow_trailing_bits(true),
);

/// Encodes `bytes` as padded standard base64.
pub(crate) fn encode(bytes: &[u8]) -> String {
    ENGINE.encode(bytes)
}

/// Decodes padded standard base64.
pub(crate) fn decode(text: &str) -> Result<Vec<u8>, base64::DecodeError> {
    ENGINE.decode(text)
}

/// Serde adapter for `Vec<u8>` fields written as base64 strings.
pub(crate) mod serde_bytes {
    use serde::{Deserialize as _, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::encode(bytes))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = std::borrow::Cow::<'de, str>::deserialize(d)?;
        super::decode(&text).map_err(serde::de::Error::custom)
    }
}

/// Serde adapter for `BTreeMap<String, Vec<u8>>` fields whose values are base64 strings.
pub(crate) mod serde_byte_map {
    use std::collections::BTreeMap;

    use serde::ser::SerializeMap as _;
    use serde::{Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(
        map: &BTreeMap<String, Vec<u8>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        let mut out = s.serialize_map(Some(map.len()))?;
        for (k, v) in map {
            out.serialize_entry(k, &super::encode(v))?;
        }
        out.end()
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<BTreeMap<String, Vec<u8>>, D::Error> {
        d.deserialize_map(MapVisitor)
    }

    /// Decodes each value straight from the input text: no intermediate map or strings.
    struct MapVisitor;

    impl<'de> serde::de::Visitor<'de> for MapVisitor {
        type Value = BTreeMap<String, Vec<u8>>;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a map of base64 strings")
        }

        fn visit_map<A: serde::de::MapAccess<'de>>(
            self,
            mut map: A,
        ) -> Result<Self::Value, A::Error> {
            let mut out = BTreeMap::new();
            while let Some(k) = map.next_key::<String>()? {
                let bytes = map.next_value_seed(Bytes(&k))?;
                out.insert(k, bytes);
            }
            Ok(out)
        }
    }

    /// One base64 value, decoded as it is read; `.0` names it in errors.
    struct Bytes<'k>(&'k str);

    impl<'de> serde::de::DeserializeSeed<'de> for Bytes<'_> {
        type Value = Vec<u8>;

        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Vec<u8>, D::Error> {
            d.deserialize_str(self)
        }
    }

    impl serde::de::Visitor<'_> for Bytes<'_> {
        type Value = Vec<u8>;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a base64 string")
        }

        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Vec<u8>, E> {
            super::decode(v).map_err(|e| E::custom(format!("hash {:?}: {e}", self.0)))
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn tolerates_trailing_bits_but_requires_padding() {
        assert_eq!(super::decode("QR==").unwrap(), b"A");
        assert_eq!(super::decode("QQ==").unwrap(), b"A");
        assert!(super::decode("QQ").is_err());
        assert_eq!(super::encode(b"A"), "QQ==");
    }
}
