//! The error types of this crate, and the validation error of the Notary wire format
//! ([`ValidationError`], sent in an `INVALID_UPDATE` envelope by [`crate::notary::envelope`]).
//!
//! Every variant names the role, key ID, version or value involved so that callers can turn it
//! into a useful message (the server maps these to Notary error envelopes). Key IDs are held as
//! text so that this module depends on none of the key and metadata modules. What a user can do
//! about an error is its [`Remedy`] ([`crate::remedy`]).

use crate::remedy::{Remediable, Remedy};

/// Result alias used throughout `signet-tuf`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A PEM block that cannot be written because one of its headers would not read back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid PEM in {label} block: header {header:?} cannot be encoded")]
pub struct PemEncodeError {
    /// The block's label, for example `ENCRYPTED PRIVATE KEY`.
    pub label: String,
    /// The header name that cannot be encoded.
    pub header: String,
}

/// Why a body could not be read as a multipart upload.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed multipart body: {0}")]
pub struct MalformedMultipart(pub String);

/// Everything that can go wrong while reading, writing or verifying Notary metadata.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The bytes are not valid JSON, or not JSON of the expected shape.
    #[error("invalid JSON in {what}: {reason}")]
    Json {
        /// What was being parsed (for example `"targets"` or `"canonical JSON input"`).
        what: String,
        /// The parser's message.
        reason: String,
    },

    /// A number that canonical JSON cannot represent: a fractional float (Notary's encoder
    /// refuses them) or an integral float outside the 64-bit integer range.
    #[error("canonical JSON allows integers only, found {number}")]
    NonIntegerNumber {
        /// The offending number as text.
        number: String,
    },

    /// The file form cannot be written because a string in `signed` holds a raw control
    /// character; Go's encoder fails on such input, so no Notary client could read the file.
    #[error("cannot write the {role} file: a string holds the raw control character {byte:#04x}")]
    ControlCharacter {
        /// The role whose document was being written.
        role: String,
        /// The control byte found.
        byte: u8,
    },

    /// A key ID that is not 64 lowercase hex characters.
    #[error("invalid key ID {key_id:?}: expected 64 lowercase hex characters")]
    InvalidKeyId {
        /// The rejected text.
        key_id: String,
    },

    /// A key type this crate cannot use for the requested operation.
    #[error("unsupported key type {keytype:?}{}", key_suffix(.key_id.as_ref()))]
    UnsupportedKeyType {
        /// The key type string.
        keytype: String,
        /// The key's ID, when known.
        key_id: Option<String>,
    },

    /// The public key bytes could not be decoded for their key type.
    #[error("invalid {keytype} public key {key_id}: {reason}")]
    InvalidPublicKey {
        /// The key type string.
        keytype: String,
        /// The key's TUF ID.
        key_id: String,
        /// Why it was rejected.
        reason: String,
    },

    /// An SPKI document that is not an ECDSA P-256/P-384, RSA or Ed25519 public key.
    #[error("invalid SubjectPublicKeyInfo: {reason}")]
    InvalidSpki {
        /// Why it was rejected.
        reason: String,
    },

    /// A signature method that does not fit the key (or is unknown altogether).
    #[error("signature method {method:?} cannot be used with {keytype} key {key_id}")]
    UnsupportedMethod {
        /// The method string as given.
        method: String,
        /// The key type of the verifying key.
        keytype: String,
        /// The verifying key's TUF ID.
        key_id: String,
    },

    /// A signature did not verify.
    #[error("signature by key {key_id} (method {method}) does not verify: {reason}")]
    BadSignature {
        /// The key that was expected to have signed.
        key_id: String,
        /// The method used.
        method: String,
        /// Why verification failed (wrong length, wrong value, key too small, ...).
        reason: String,
    },

    /// Certificate PEM or DER that cannot be parsed or used.
    #[error("invalid certificate: {reason}")]
    Certificate {
        /// Why it was rejected.
        reason: String,
    },

    /// A root certificate failed Notary's validation rules for the given GUN.
    #[error("root certificate of key {key_id} is not valid for {gun}: {reason}")]
    CertificateRejected {
        /// The GUN being validated.
        gun: String,
        /// The root key (TUF ID) whose certificate was rejected.
        key_id: String,
        /// Why it was rejected.
        reason: String,
    },

    /// Base64 that does not decode.
    #[error("invalid base64 in {what}: {reason}")]
    Base64 {
        /// What held the bad base64.
        what: String,
        /// The decoder's message.
        reason: String,
    },

    /// An `expires` value that is not RFC 3339.
    #[error("invalid expiry time {text:?}: {reason}")]
    InvalidExpiry {
        /// The text found.
        text: String,
        /// The parser's message.
        reason: String,
    },

    /// `signed._type` does not match the role being loaded.
    #[error("{role} type metadata invalid: expected type {expected}, not {found}")]
    WrongType {
        /// The role being loaded.
        role: String,
        /// The `_type` value required (`Root`, `Targets`, `Snapshot`, `Timestamp`).
        expected: &'static str,
        /// The `_type` value found.
        found: String,
    },

    /// A structural rule of Notary's metadata was broken.
    #[error("{role} metadata invalid: {reason}")]
    InvalidMetadata {
        /// The role whose document is malformed.
        role: String,
        /// The rule that was broken.
        reason: String,
    },

    /// A role or delegation name that Notary does not accept.
    #[error("invalid role {role:?}: {reason}")]
    InvalidRole {
        /// The rejected name.
        role: String,
        /// Why it was rejected.
        reason: String,
    },

    /// The document carries no signatures at all.
    #[error("tuf: {role} has no signatures")]
    NoSignatures {
        /// The role being verified.
        role: String,
    },

    /// A threshold below one.
    #[error("invalid threshold specified for {role}: {threshold}")]
    InvalidThreshold {
        /// The role with the bad threshold.
        role: String,
        /// The threshold found.
        threshold: i64,
    },

    /// A key listed for a role hashes to a different ID than the one it is listed under.
    #[error(
        "key ID {key_id} of role {role} is not valid for key content (content hashes to {computed})"
    )]
    KeyIdMismatch {
        /// The role being verified.
        role: String,
        /// The ID the key is listed under.
        key_id: String,
        /// The ID computed from the key content.
        computed: String,
    },

    /// Fewer distinct keys produced valid signatures than the role's threshold requires.
    #[error(
        "valid signatures did not meet threshold for {role}: expected {threshold}, found {valid}"
    )]
    ThresholdNotMet {
        /// The role being verified.
        role: String,
        /// The role's threshold.
        threshold: u64,
        /// The number of distinct keys with a valid signature.
        valid: u64,
    },

    /// The document expired.
    #[error("{role} expired at {expires}")]
    Expired {
        /// The role whose document expired.
        role: String,
        /// The `expires` text of the document.
        expires: String,
    },

    /// A version lower than the trusted floor.
    #[error("{role}: version {version} is lower than current version {current}")]
    LowVersion {
        /// The role being loaded.
        role: String,
        /// The version found.
        version: i64,
        /// The minimum acceptable version.
        current: i64,
    },

    /// Bytes whose length or hashes do not match the expected `FileMeta`.
    #[error("{algorithm} checksum for {role} did not match: expected {expected}")]
    ChecksumMismatch {
        /// The role whose bytes were checked.
        role: String,
        /// The algorithm that mismatched (`sha256`, `sha512` or `length`).
        algorithm: String,
        /// The expected value (hex for hashes, decimal for lengths).
        expected: String,
    },

    /// A `FileMeta` without any supported hash, or with a hash of the wrong size.
    #[error("invalid hashes for {role}: {reason}")]
    InvalidHashes {
        /// The role whose file metadata is malformed.
        role: String,
        /// Why it is malformed.
        reason: String,
    },

    /// A delegated role is not declared by its parent.
    #[error("tuf: invalid role {role}. delegation does not exist")]
    DelegationNotFound {
        /// The delegated role.
        role: String,
    },

    /// Root verification against certificates failed (rotation or self-signature).
    #[error("root of {gun} rejected: {reason}")]
    RootRejected {
        /// The GUN whose root was rejected.
        gun: String,
        /// Notary's message for the failure.
        reason: String,
    },

    /// A client update failed; the inner error names the GUN and role involved.
    #[error(transparent)]
    Update(Box<crate::update::Error>),
}

impl From<crate::update::Error> for Error {
    fn from(err: crate::update::Error) -> Self {
        Self::Update(Box::new(err))
    }
}

impl Remediable for Error {
    fn remedy(&self) -> Option<Remedy<'_>> {
        match self {
            Self::Expired { role, .. } => Some(Remedy::ResignRole { gun: None, role }),
            Self::ThresholdNotMet { role, .. } => Some(Remedy::WitnessRole { gun: None, role }),
            Self::Update(e) => e.remedy(),
            _ => None,
        }
    }
}

fn key_suffix(key_id: Option<&String>) -> String {
    key_id.map(|k| format!(" (key {k})")).unwrap_or_default()
}

impl Error {
    pub(crate) fn json(what: impl Into<String>, err: impl std::fmt::Display) -> Self {
        Self::Json {
            what: what.into(),
            reason: err.to_string(),
        }
    }

    #[allow(dead_code)]
    pub(crate) fn base64(what: impl Into<String>, err: impl std::fmt::Display) -> Self {
        Self::Base64 {
            what: what.into(),
            reason: err.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fetch_root(gun: &str) -> crate::update::Result<()> {
        Err(crate::update::Error::RepositoryNotFound { gun: gun.into() })
    }

    fn caller() -> Result<()> {
        fetch_root("example.com/app")?;
        Ok(())
    }

    #[test]
    fn update_errors_convert_with_question_mark() {
        let err = caller().unwrap_err();
        assert!(matches!(
            &err,
            Error::Update(inner)
                if matches!(**inner, crate::update::Error::RepositoryNotFound { ref gun } if gun == "example.com/app")
        ));
        assert_eq!(
            err.to_string(),
            "the trust server does not have trust data for example.com/app"
        );
    }
}

/// A validation error in the `detail` of an `INVALID_UPDATE` (Go's
/// `validation.SerializableError`): the five kinds the Notary client understands.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ValidationError {
    /// `ErrValidation`.
    #[error("An error occurred during validation: {msg}")]
    Validation {
        /// `Msg`.
        msg: String,
    },
    /// `ErrBadHierarchy`.
    #[error("Metadata hierarchy is incomplete: {msg}")]
    BadHierarchy {
        /// `Missing`: the role that is missing.
        missing: String,
        /// `Msg`.
        msg: String,
    },
    /// `ErrBadRoot`.
    #[error("The root metadata is invalid: {msg}")]
    BadRoot {
        /// `Msg`.
        msg: String,
    },
    /// `ErrBadTargets`.
    #[error("The targets metadata is invalid: {msg}")]
    BadTargets {
        /// `Msg`.
        msg: String,
    },
    /// `ErrBadSnapshot`.
    #[error("The snapshot metadata is invalid: {msg}")]
    BadSnapshot {
        /// `Msg`.
        msg: String,
    },
}
