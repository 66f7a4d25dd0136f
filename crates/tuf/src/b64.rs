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

/// Serde adapter for `Vec<u8>` fields written as base64 strings (Go's `[]byte`).
///
/// `null`, Go's encoding of a nil `[]byte`, reads as no bytes and is written back as `""`.
pub(crate) mod serde_bytes {
    use serde::{Deserialize as _, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::encode(bytes))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        match Option::<std::borrow::Cow<'de, str>>::deserialize(d)? {
            Some(text) => super::decode(&text).map_err(serde::de::Error::custom),
            None => Ok(Vec::new()),
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

    #[derive(serde::Deserialize)]
    struct Bytes {
        #[serde(with = "super::serde_bytes")]
        b: Vec<u8>,
    }

    #[test]
    fn null_reads_as_no_bytes() {
        let null: Bytes = serde_json::from_str(r#"{"b":null}"#).unwrap();
        assert!(null.b.is_empty());
        let some: Bytes = serde_json::from_str(r#"{"b":"QQ=="}"#).unwrap();
        assert_eq!(some.b, b"A");
        assert!(serde_json::from_str::<Bytes>(r#"{"b":1}"#).is_err());
        assert!(
            serde_json::from_str::<Bytes>("{}").is_err(),
            "still required"
        );
    }
}
