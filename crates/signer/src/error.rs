//! The one error type of this crate.

use std::path::{Path, PathBuf};

use signet_tuf::remedy::{Remediable, Remedy};

/// Everything that can go wrong while generating, storing, decrypting or using private keys.
///
/// Variants name the key (ID or file), role and GUN involved where they are known. No variant
/// ever carries secret material.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The passphrase did not decrypt the key (Notary's `ErrPasswordInvalid`).
    #[error("incorrect passphrase for key {key}")]
    WrongPassphrase {
        /// Key ID or file the passphrase was tried on.
        key: String,
    },

    /// The passphrase source kept failing and the retry bound was reached.
    #[error("too many passphrase attempts for {role} key {key}")]
    PassphraseAttemptsExceeded {
        /// Key ID or file.
        key: String,
        /// Role (passphrase alias) the passphrase was asked for.
        role: String,
    },

    /// No environment variable and no interactive prompt can supply a passphrase.
    #[error(
        "no passphrase for {role} key {key}: please either use environment variables or STDIN \
         with a terminal to provide key passphrases"
    )]
    NoPassphraseInput {
        /// Key ID or file.
        key: String,
        /// Role (passphrase alias).
        role: String,
    },

    /// A new passphrase entered interactively was shorter than the minimum.
    #[error("passphrase for new {role} key is too short: at least {min} characters are required")]
    PassphraseTooShort {
        /// Role (passphrase alias).
        role: String,
        /// Minimum length in characters.
        min: usize,
    },

    /// The passphrase an environment variable holds did not decrypt the key.
    #[error("incorrect passphrase for key {key}: {variable} does not open it")]
    WrongEnvPassphrase {
        /// Key ID or file the passphrase was tried on.
        key: String,
        /// The variable the passphrase was read from.
        variable: &'static str,
    },

    /// A new passphrase from an environment variable is shorter than the minimum a prompted
    /// one must have.
    #[error(
        "the passphrase in {variable} for the new {role} key is too short: at least {min} \
         characters are required"
    )]
    EnvPassphraseTooShort {
        /// The variable.
        variable: &'static str,
        /// Role (passphrase alias).
        role: String,
        /// Minimum length in characters.
        min: usize,
    },

    /// The confirmation of a new passphrase did not match.
    #[error("the entered passphrases for the new {role} key do not match")]
    PassphraseMismatch {
        /// Role (passphrase alias).
        role: String,
    },

    /// Reading a passphrase from the interactive prompt failed.
    #[error("could not read passphrase for {role} key: {source}")]
    Prompt {
        /// Role (passphrase alias).
        role: String,
        /// Underlying I/O error.
        #[source]
        source: std::io::Error,
    },

    /// Text that should hold a PEM block does not.
    #[error("invalid PEM in {context}: {reason}")]
    Pem {
        /// File or key the PEM came from.
        context: String,
        /// What is wrong.
        reason: String,
    },

    /// The key is of a type or curve this crate does not handle.
    #[error("unsupported private key in {context}: {kind}")]
    UnsupportedKey {
        /// File or key the data came from.
        context: String,
        /// Key type, curve or PEM label that is not supported.
        kind: String,
    },

    /// The key file is encrypted with a scheme this crate does not handle.
    #[error("unsupported key encryption in {context}: {scheme}")]
    UnsupportedEncryption {
        /// File or key the data came from.
        context: String,
        /// The scheme, cipher or parameter that is not supported.
        scheme: String,
    },

    /// The (decrypted) key structure is malformed.
    #[error("malformed private key in {context}: {reason}")]
    MalformedKey {
        /// File or key the data came from.
        context: String,
        /// What is wrong.
        reason: String,
    },

    /// No key with this ID is held.
    #[error("private key {key_id} not found")]
    KeyNotFound {
        /// The key ID looked up.
        key_id: String,
    },

    /// The role needs a GUN (targets, snapshot, timestamp keys) and none was given.
    #[error("a {role} key must be stored with a GUN")]
    MissingGun {
        /// Role of the key.
        role: String,
    },

    /// A role or GUN value cannot be stored in a PEM header.
    #[error("invalid {field} {value:?} for key {key_id}")]
    InvalidKeyAttribute {
        /// Key ID.
        key_id: String,
        /// `role` or `gun`.
        field: &'static str,
        /// The rejected value.
        value: String,
    },

    /// A file-system operation on the key store failed.
    #[error("I/O error on {path}: {source}")]
    Io {
        /// Path involved.
        path: PathBuf,
        /// Underlying I/O error.
        #[source]
        source: std::io::Error,
    },

    /// A hardware key store (its device, connector or session) failed. The source is the
    /// backend's own error, naming the command and the device object involved.
    #[error("key store {store} failed{}: {source}", for_key(.key_id.as_deref()))]
    Device {
        /// Name of the key store (for example `yubihsm`).
        store: String,
        /// Key ID of the key the operation was about, when there was one.
        key_id: Option<String>,
        /// The backend error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync + 'static>,
    },

    /// A key needed for signing is in none of the key stores searched.
    #[error(
        "private key {key_id} not found in {stores}; import it with `signet key import <file>` \
         (or `notary key import <file>`) into the trust directory, or onto the device the key \
         lives on (for a YubiHSM 2: from its wrapped backup)"
    )]
    KeyNotInStores {
        /// The key ID looked up.
        key_id: String,
        /// The names of the stores searched, in order, comma separated (`no key stores` when
        /// there were none).
        stores: String,
    },

    /// Producing a signature failed.
    #[error("signing with key {key_id} failed: {reason}")]
    Signing {
        /// Key ID of the signing key.
        key_id: String,
        /// What failed.
        reason: String,
    },

    /// Key generation failed (no randomness, invalid parameters).
    #[error("generating a {algorithm} key failed: {reason}")]
    KeyGeneration {
        /// Algorithm requested.
        algorithm: String,
        /// What failed.
        reason: String,
    },

    /// Building or parsing a root certificate failed.
    #[error("root certificate for {gun}: {reason}")]
    Certificate {
        /// GUN the certificate is (to be) issued for.
        gun: String,
        /// What failed.
        reason: String,
    },

    /// A certificate does not belong to the private key it is paired with.
    #[error(
        "certificate key {cert_key_id} (canonical ID {canonical_id}) does not match private key {key_id}"
    )]
    CertificateKeyMismatch {
        /// TUF key ID of the certificate key.
        cert_key_id: String,
        /// Canonical key ID computed from the certificate.
        canonical_id: String,
        /// Key ID of the private key.
        key_id: String,
    },

    /// An error from the TUF crate while building or inspecting a public key.
    #[error("public key {context}: {source}")]
    PublicKey {
        /// Which key.
        context: String,
        /// Underlying error.
        #[source]
        source: signet_tuf::Error,
    },

    /// Sealing or opening an encrypted-at-rest key blob failed.
    #[error("sealed key {context}: {reason}")]
    Seal {
        /// What was being sealed or opened (for example `gun/role/key ID`).
        context: String,
        /// What failed.
        reason: String,
    },

    /// The key store does not support this operation (for example exporting a hardware key).
    #[error("key store {store} does not support {operation}")]
    Unsupported {
        /// Key store name.
        store: String,
        /// Operation attempted.
        operation: &'static str,
    },

    /// `key import` found no block it could import.
    #[error("failed to import all keys: {reasons}")]
    Import {
        /// Why each block was skipped, comma separated.
        reasons: String,
    },

    /// Key rotation was asked for a role or in a way Notary does not allow.
    #[error("cannot rotate {role} key for {gun}: {reason}")]
    Rotation {
        /// GUN of the repository.
        gun: String,
        /// Role being rotated.
        role: String,
        /// Why it is refused.
        reason: String,
    },
}

/// ` for key <id>` when a key ID is known, for [`Error::Device`] messages.
fn for_key(key_id: Option<&str>) -> String {
    key_id
        .map(|id| format!(" for key {id}"))
        .unwrap_or_default()
}

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An [`Error::Io`] for `path`.
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }

    /// Whether no key with the ID looked up is held ([`Error::KeyNotFound`]).
    pub fn is_key_not_found(&self) -> bool {
        matches!(self, Self::KeyNotFound { .. })
    }

    /// An [`Error::MalformedKey`].
    pub(crate) fn malformed(context: &str, reason: impl Into<String>) -> Self {
        Self::MalformedKey {
            context: context.to_owned(),
            reason: reason.into(),
        }
    }
}

impl Remediable for Error {
    fn remedy(&self) -> Option<Remedy<'_>> {
        match self {
            Self::NoPassphraseInput { role, .. } => Some(Remedy::SupplyPassphrase { role }),
            Self::WrongPassphrase { key } => Some(Remedy::CheckPassphrase { key, role: None }),
            Self::PassphraseAttemptsExceeded { key, role } => Some(Remedy::CheckPassphrase {
                key,
                role: Some(role),
            }),
            Self::WrongEnvPassphrase { variable, .. } => {
                Some(Remedy::CheckPassphraseVariable { variable })
            }
            Self::PassphraseTooShort { min, .. } => Some(Remedy::LongerPassphrase { min: *min }),
            Self::EnvPassphraseTooShort { variable, min, .. } => {
                Some(Remedy::LongerPassphraseVariable {
                    variable,
                    min: *min,
                })
            }
            Self::PassphraseMismatch { .. } => Some(Remedy::RepeatPassphrase),
            Self::KeyNotFound { key_id } => Some(Remedy::ImportKey {
                role: None,
                key_ids: std::slice::from_ref(key_id),
            }),
            Self::KeyNotInStores { key_id, stores } => Some(Remedy::ProvideKey { key_id, stores }),
            Self::Import { .. } => Some(Remedy::DescribeKeyFile),
            Self::MissingGun { role } => Some(Remedy::AssignKeyGun { role }),
            Self::Unsupported { .. } => Some(Remedy::UseDeviceTools),
            Self::Rotation { role, .. } => Some(Remedy::RotateAsAllowed {
                role,
                // A near miss of a role name (`target`), when it is not one.
                meant: (!signet_tuf::role::is_base_role(role))
                    .then(|| signet_tuf::remedy::closest(role, signet_tuf::role::BASE_ROLES))
                    .flatten(),
            }),
            // The backend's own remedy where it has one, else a look at the device.
            Self::Device { store, source, .. } => Some(
                source
                    .downcast_ref::<crate::yubihsm::Error>()
                    .and_then(Remediable::remedy)
                    .unwrap_or(Remedy::CheckDevice { store }),
            ),
            Self::PublicKey { source, .. } => source.remedy(),
            _ => None,
        }
    }
}

impl From<signet_tuf::PemEncodeError> for Error {
    fn from(e: signet_tuf::PemEncodeError) -> Self {
        Self::Pem {
            context: format!("{} block", e.label),
            reason: format!("header {:?} cannot be encoded", e.header),
        }
    }
}

/// A file system operation on an owner-only file or directory failed
/// ([`crate::private_fs`]).
#[derive(Debug, thiserror::Error)]
#[error("cannot {action} {}: {source}", path.display())]
pub struct FsError {
    /// What was being done (`create directory`, `write`, `rename`, …).
    pub action: &'static str,
    /// The path involved.
    pub path: PathBuf,
    /// The underlying error.
    #[source]
    pub source: std::io::Error,
}

impl FsError {
    pub(crate) fn new(action: &'static str, path: &Path, source: std::io::Error) -> Self {
        Self {
            action,
            path: path.to_path_buf(),
            source,
        }
    }
}

impl From<FsError> for Error {
    fn from(e: FsError) -> Self {
        Self::io(e.path, e.source)
    }
}
