//! Errors of carrying Notary signatures over to sigstore (cosign) signatures.

use signet_tuf::remedy::{Remediable, Remedy};

/// Why a tag's cosign signature cannot be made or written, or a signer key cannot be exported.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SigstoreError {
    /// No key held here signed the tag (with `--key`: no key of that name did).
    #[error(
        "no key held here{} signed tag {tag} of {gun}; it is signed by key{} {}",
        named.as_ref().map(|n| format!(" named {n}")).unwrap_or_default(),
        if signed_by.len() == 1 { "" } else { "s" },
        signed_by.join(", ")
    )]
    NoSignerKey {
        /// The repository.
        gun: String,
        /// The tag.
        tag: String,
        /// The signer or key name asked for, if any.
        named: Option<String>,
        /// Canonical IDs of the keys whose signatures carry the tag.
        signed_by: Vec<String>,
    },

    /// The key that would sign is not an ECDSA P-256 key (cosign signatures from Notary
    /// signer keys are ECDSA P-256).
    #[error(
        "key {key_id} is an {keytype} key: sigstore signatures are made with ECDSA P-256 signer keys"
    )]
    UnsupportedKey {
        /// Canonical ID of the key.
        key_id: String,
        /// Its TUF key type (`ed25519`, `rsa`, or `ecdsa` on another curve).
        keytype: String,
    },

    /// Several keys held here signed the tag, and none was chosen.
    #[error(
        "several keys held here signed tag {tag} of {gun}: {}; choose one with --key NAME",
        keys.join(", ")
    )]
    AmbiguousKey {
        /// The repository.
        gun: String,
        /// The tag.
        tag: String,
        /// Each key as `name (key ID)`.
        keys: Vec<String>,
    },

    /// No key held here has the name (or key ID) given.
    #[error("no key named {name} is held here")]
    KeyNotFound {
        /// The name or key ID asked for.
        name: String,
    },

    /// Several keys held here have the name given.
    #[error(
        "several keys held here are named {name}: {}; give the key ID instead",
        key_ids.join(", ")
    )]
    SeveralKeys {
        /// The name asked for.
        name: String,
        /// Their canonical IDs.
        key_ids: Vec<String>,
    },

    /// The signature manifest already in the registry cannot be read or extended.
    #[error("cannot add to the signature manifest {reference}: {reason}")]
    BadSignatureManifest {
        /// The signature's reference (`registry/repo:sha256-<hex>.sig`).
        reference: String,
        /// What is wrong with it.
        reason: String,
    },

    /// A signature made here does not verify with the key's public half (a device or key
    /// store fault): nothing is written.
    #[error("the signature made with key {key_id} does not verify: {reason}")]
    SignatureCheck {
        /// Canonical ID of the key.
        key_id: String,
        /// Why.
        reason: String,
    },
}

impl Remediable for SigstoreError {
    fn remedy(&self) -> Option<Remedy<'_>> {
        match self {
            Self::NoSignerKey { gun, .. } => Some(Remedy::AddSigner { gun }),
            Self::KeyNotFound { .. } => Some(Remedy::ImportKey {
                role: None,
                key_ids: &[],
            }),
            Self::BadSignatureManifest { .. } => Some(Remedy::CheckRegistry),
            // The message says what to do.
            Self::UnsupportedKey { .. }
            | Self::AmbiguousKey { .. }
            | Self::SeveralKeys { .. }
            | Self::SignatureCheck { .. } => None,
        }
    }
}
