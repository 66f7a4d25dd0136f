//! The signed envelope: `{"signed":…,"signatures":[…]}`.

use std::ops::Range;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::Metadata;
use crate::cjson;
use crate::error::{Error, Result};
use crate::notary::gojson;
use crate::signature::Signature;

/// The canonical JSON bytes of a typed document: the bytes that are signed.
///
/// `custom` values and unknown fields are canonicalised (key-sorted) like everything else.
///
/// # Errors
///
/// [`Error::Json`] if the document cannot be serialised and [`Error::NonIntegerNumber`] if it
/// holds a fractional number.
pub fn signing_bytes<T: Serialize>(doc: &T) -> Result<Vec<u8>> {
    cjson::to_canonical_from(doc)
}

/// A metadata file: a typed `signed` document plus its signatures.
///
/// When parsed from bytes, the canonical bytes are computed once by re-canonicalising the text
/// of the `signed` member as Notary's verifier does (never from the typed value, so fields this
/// crate does not model still count, and a `null` Go wrote for an empty collection stays `null`
/// although the typed value holds the empty collection); the text itself is not kept (the
/// caller has the file).
/// When built from a typed document, the canonical bytes come from the typed value.
///
/// The document and its signing bytes cannot drift apart: to change the document, take it out
/// with [`into_parts`](Self::into_parts) and build a new envelope with
/// [`from_signed`](Self::from_signed).
#[derive(Debug, Clone)]
pub struct Envelope<T> {
    signed: T,
    signing_bytes: SigningBytes,
    signatures: Vec<Signature>,
}

/// The canonical bytes: owned, or a range of a shared file whose `signed` text is already
/// canonical (as files written by Notary are), so a large file is not held twice.
#[derive(Debug, Clone)]
enum SigningBytes {
    Owned(Vec<u8>),
    Shared {
        file: Arc<Vec<u8>>,
        range: Range<usize>,
    },
}

impl std::ops::Deref for SigningBytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            Self::Owned(bytes) => bytes,
            // The range was taken from this very buffer, which never changes.
            Self::Shared { file, range } => file.get(range.clone()).unwrap_or_default(),
        }
    }
}

#[derive(Deserialize)]
struct RawEnvelope<'a> {
    #[serde(borrow)]
    signed: &'a RawValue,
    #[serde(default)]
    signatures: Option<Vec<Signature>>,
}

impl<T: Metadata> Envelope<T> {
    /// Parses a whole metadata file.
    ///
    /// # Errors
    ///
    /// [`Error::Json`] when the file, the `signed` member or a signature does not parse as
    /// the expected shape, and [`Error::NonIntegerNumber`] when `signed` holds a fractional
    /// number (such a document can never verify).
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        Self::parse_inner(bytes, None)
    }

    /// As [`parse`](Self::parse), for a file held in shared memory: when the text of `signed`
    /// is already canonical, the envelope refers to it in `file` instead of keeping a copy.
    ///
    /// # Errors
    ///
    /// As [`parse`](Self::parse).
    pub fn parse_shared(file: &Arc<Vec<u8>>) -> Result<Self> {
        Self::parse_inner(file, Some(file))
    }

    fn parse_inner(bytes: &[u8], shared: Option<&Arc<Vec<u8>>>) -> Result<Self> {
        let what = T::TYPE;
        let raw: RawEnvelope<'_> =
            serde_json::from_slice(bytes).map_err(|e| Error::json(format!("{what} file"), e))?;
        let signing_bytes = cjson::canonicalize_str(raw.signed.get()).map_err(|e| match e {
            Error::Json { reason, .. } => Error::Json {
                what: format!("{what} signed"),
                reason,
            },
            other => other,
        })?;
        let text = raw.signed.get();
        // Where the `signed` text sits in the file (it is a slice of `bytes`).
        let start = (text.as_ptr() as usize).wrapping_sub(bytes.as_ptr() as usize);
        let range = start..start.wrapping_add(text.len());
        let signing_bytes = match shared {
            Some(file)
                if signing_bytes.as_slice() == text.as_bytes()
                    && file.get(range.clone()) == Some(text.as_bytes()) =>
            {
                // Dropped before the typed parse, so the two never coexist with the document.
                drop(signing_bytes);
                SigningBytes::Shared {
                    file: Arc::clone(file),
                    range,
                }
            }
            _ => SigningBytes::Owned(signing_bytes),
        };
        let signed: T =
            serde_json::from_str(text).map_err(|e| Error::json(format!("{what} signed"), e))?;
        Ok(Self {
            signed,
            signing_bytes,
            signatures: raw.signatures.unwrap_or_default(),
        })
    }

    /// An unsigned envelope around `signed`.
    ///
    /// # Errors
    ///
    /// As [`signing_bytes`].
    pub fn from_signed(signed: T) -> Result<Self> {
        let signing_bytes = SigningBytes::Owned(signing_bytes(&signed)?);
        Ok(Self {
            signed,
            signing_bytes,
            signatures: Vec::new(),
        })
    }

    /// The typed document.
    pub fn signed(&self) -> &T {
        &self.signed
    }

    /// The canonical bytes of `signed`: what signatures cover.
    pub fn signing_bytes(&self) -> &[u8] {
        &self.signing_bytes
    }

    /// The signatures, in file order.
    pub fn signatures(&self) -> &[Signature] {
        &self.signatures
    }

    /// Adds a signature, replacing any existing signature by the same key ID (as Notary's
    /// signer does when it re-signs with a key).
    pub fn add_signature(&mut self, signature: Signature) {
        if let Some(existing) = self
            .signatures
            .iter_mut()
            .find(|s| s.keyid == signature.keyid)
        {
            *existing = signature;
        } else {
            self.signatures.push(signature);
        }
    }

    /// Replaces all signatures.
    pub fn replace_signatures(&mut self, signatures: Vec<Signature>) {
        self.signatures = signatures;
    }

    /// The document and its signatures.
    pub fn into_parts(self) -> (T, Vec<Signature>) {
        (self.signed, self.signatures)
    }

    /// The file bytes exactly as Go notary writes them:
    /// `{"signed":<canonical signed, HTML-escaped as Go's json.Compact does>,"signatures":
    /// [{"keyid":…,"method":…,"sig":…},…]}`, with no whitespace and no trailing newline.
    ///
    /// # Errors
    ///
    /// [`Error::ControlCharacter`] when a string in `signed` holds a raw control character:
    /// Go's encoder refuses such documents, so no Notary client could read the file.
    pub fn to_file_bytes(&self) -> Result<Vec<u8>> {
        // In canonical output every byte below 0x20 sits inside a string.
        if let Some(&byte) = self.signing_bytes.iter().find(|&&b| b < 0x20) {
            return Err(Error::ControlCharacter {
                role: T::TYPE.to_owned(),
                byte,
            });
        }
        let sigs =
            serde_json::to_vec(&self.signatures).map_err(|e| Error::json("signatures", e))?;
        let mut out = Vec::with_capacity(self.signing_bytes.len() + sigs.len() + 32);
        out.extend_from_slice(b"{\"signed\":");
        out.extend_from_slice(&gojson::html_escape(&self.signing_bytes));
        out.extend_from_slice(b",\"signatures\":");
        out.extend_from_slice(&gojson::html_escape(&sigs));
        out.push(b'}');
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::{Expires, FileMeta, Targets};

    const ID: &str = "c20ba8b02376a7a5d01015f5a2bd487c54137ee163212fc913a6f2276ed0f1c3";

    fn sig(byte: u8) -> Signature {
        Signature {
            keyid: ID.parse().unwrap(),
            method: "ecdsa".into(),
            sig: vec![byte; 4],
        }
    }

    #[test]
    fn typed_round_trip_writes_go_file_form() {
        let mut t = Targets::new(3, Expires::parse("2029-11-22T15:14:34.049829813Z").unwrap());
        let custom = serde_json::json!({"z": "<&>", "a": 1.0});
        t.targets.insert(
            "a&b".into(),
            FileMeta::from_bytes(b"x")
                .with_custom(Some(&custom))
                .unwrap(),
        );
        let mut env = Envelope::from_signed(t).unwrap();
        let canonical = String::from_utf8(env.signing_bytes().to_vec()).unwrap();
        assert!(canonical.starts_with(r#"{"_type":"Targets","delegations":{"keys":{},"roles":[]},"expires":"2029-11-22T15:14:34.049829813Z","targets":{"a&b":{"custom":{"a":1,"z":"<&>"},"hashes":{"sha256":"#));
        assert!(canonical.ends_with(r#""length":1}},"version":3}"#));
        env.add_signature(sig(1));
        env.add_signature(sig(2));
        assert_eq!(env.signatures().len(), 1, "same key ID replaces");
        let file = String::from_utf8(env.to_file_bytes().unwrap()).unwrap();
        assert!(file.starts_with(r#"{"signed":{"_type":"Targets","#));
        assert!(file.contains(r#""a\u0026b":{"custom":{"a":1,"z":"\u003c\u0026\u003e"}"#));
        assert!(file.ends_with(&format!(
            r#","version":3}},"signatures":[{{"keyid":"{ID}","method":"ecdsa","sig":"AgICAg=="}}]}}"#
        )));

        let parsed = Envelope::<Targets>::parse(file.as_bytes()).unwrap();
        assert_eq!(parsed.signing_bytes(), env.signing_bytes());
        assert_eq!(parsed.signed(), env.signed());
        assert_eq!(parsed.to_file_bytes().unwrap(), file.as_bytes());
    }

    #[test]
    fn shared_parse_refers_to_canonical_text_and_copies_otherwise() {
        let mut t = Targets::new(2, Expires::parse("2030-01-01T00:00:00Z").unwrap());
        t.targets.insert("a".into(), FileMeta::from_bytes(b"x"));
        let mut env = Envelope::from_signed(t).unwrap();
        env.add_signature(sig(3));
        let file = Arc::new(env.to_file_bytes().unwrap());
        let shared = Envelope::<Targets>::parse_shared(&file).unwrap();
        assert!(matches!(&shared.signing_bytes, SigningBytes::Shared { .. }));
        assert_eq!(shared.signing_bytes(), env.signing_bytes());
        assert_eq!(shared.signed(), env.signed());
        assert_eq!(shared.signatures(), env.signatures());
        assert_eq!(Arc::strong_count(&file), 2);
        assert_eq!(shared.to_file_bytes().unwrap(), *file);

        // Not canonical (spaces, key order): the canonical bytes are kept separately.
        let loose = Arc::new(
            br#"{"signatures":[],"signed":{"version":1,"_type":"Targets","targets":{},"expires":"2030-01-01T00:00:00Z"}}"#
                .to_vec(),
        );
        let owned = Envelope::<Targets>::parse_shared(&loose).unwrap();
        assert!(matches!(&owned.signing_bytes, SigningBytes::Owned(_)));
        assert_eq!(
            owned.signing_bytes(),
            Envelope::<Targets>::parse(&loose).unwrap().signing_bytes()
        );
        assert_eq!(Arc::strong_count(&loose), 1);
    }

    #[test]
    fn signing_bytes_come_from_the_raw_text() {
        // Pretty-printed, unsorted input with an unknown field still canonicalises fully.
        let file = br#"{ "signatures": null, "signed": {
            "version": 1, "targets": {}, "x-new": {"b": 2, "a": 1},
            "expires": "2030-01-01T00:00:00+01:00", "_type": "Targets" } }"#;
        let env = Envelope::<Targets>::parse(file).unwrap();
        assert_eq!(
            env.signing_bytes(),
            br#"{"_type":"Targets","expires":"2030-01-01T00:00:00+01:00","targets":{},"version":1,"x-new":{"a":1,"b":2}}"#
        );
        assert!(env.signatures().is_empty());
        assert_eq!(env.signed().unknown["x-new"]["b"], 2);
        // The typed form adds the always-written delegations and keeps the unknown field.
        let typed = signing_bytes(env.signed()).unwrap();
        assert_eq!(
            typed,
            br#"{"_type":"Targets","delegations":{"keys":{},"roles":[]},"expires":"2030-01-01T00:00:00+01:00","targets":{},"version":1,"x-new":{"a":1,"b":2}}"#
        );
    }

    #[test]
    fn control_characters_cannot_be_written() {
        let mut t = Targets::new(1, Expires::parse("2030-01-01T00:00:00Z").unwrap());
        t.targets
            .insert("a\u{1}b".into(), FileMeta::from_bytes(b""));
        let env = Envelope::from_signed(t).unwrap();
        assert!(matches!(
            env.to_file_bytes(),
            Err(Error::ControlCharacter { byte: 1, .. })
        ));
    }

    #[test]
    fn parse_errors() {
        assert!(matches!(
            Envelope::<Targets>::parse(b"{}"),
            Err(Error::Json { .. })
        ));
        assert!(matches!(
            Envelope::<Targets>::parse(b"[]"),
            Err(Error::Json { .. })
        ));
        let frac = br#"{"signed":{"_type":"Targets","expires":"2030-01-01T00:00:00Z","version":1.5},"signatures":[]}"#;
        assert!(matches!(
            Envelope::<Targets>::parse(frac),
            Err(Error::NonIntegerNumber { .. })
        ));
        let bad_expiry =
            br#"{"signed":{"_type":"Targets","expires":"soon","version":1},"signatures":[]}"#;
        assert!(matches!(
            Envelope::<Targets>::parse(bad_expiry),
            Err(Error::Json { .. })
        ));
    }
}
