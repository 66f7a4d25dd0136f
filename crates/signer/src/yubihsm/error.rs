//! Errors of the YubiHSM 2 backend, and their conversion into the crate's [`crate::Error`].

use signet_tuf::key::KeyId;
use signet_tuf::remedy::{Remediable, Remedy};

use super::LOCATION;

/// Result alias of the YubiHSM 2 backend.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong talking to a YubiHSM 2 or interpreting what it holds.
///
/// Variants name the TUF key ID, the device object ID, the role or the GUN involved where they
/// are known. No variant carries a password or key material.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A configuration value (environment variable or setting) is invalid.
    #[error("invalid YubiHSM 2 setting {setting}={value:?}: {reason}")]
    Config {
        /// The setting or environment variable.
        setting: String,
        /// The rejected value (never a password).
        value: String,
        /// What is wrong with it.
        reason: String,
    },

    /// No password for the authentication key was configured.
    #[error("no password for YubiHSM 2 authentication key {auth_key_id}: set {variable}")]
    MissingPassword {
        /// The authentication key the password is for.
        auth_key_id: u16,
        /// The environment variable that supplies it.
        variable: &'static str,
    },

    /// A USB connection was asked for but signet was built without USB support.
    #[error(
        "YubiHSM 2 over USB is not available: signet-signer was built without the \
         `yubihsm-usb` feature (use yubihsm-connector over HTTP instead)"
    )]
    UsbUnavailable,

    /// Opening an authenticated session failed (connector down, wrong password, no device).
    #[error(
        "cannot open a session with the YubiHSM 2 at {connector} using authentication key {auth_key_id}: {source}"
    )]
    Connect {
        /// The connector (`http://127.0.0.1:12345`, `usb`, `mockhsm`).
        connector: String,
        /// The authentication key used.
        auth_key_id: u16,
        /// The device or transport error.
        #[source]
        source: yubihsm::client::Error,
    },

    /// A device command failed.
    #[error("YubiHSM 2 {operation} ({object}) failed: {source}")]
    Device {
        /// The command or operation (`generate key`, `sign`, `export wrapped`, ...).
        operation: &'static str,
        /// The object the command addressed (object ID, key ID).
        object: String,
        /// The TUF key ID of the key the command was about, when known.
        key_id: Option<String>,
        /// The device or transport error.
        #[source]
        source: yubihsm::client::Error,
    },

    /// The device holds no signet key with this key ID.
    #[error("private key {key_id} not found on the YubiHSM 2")]
    KeyNotFound {
        /// The canonical TUF key ID looked up.
        key_id: String,
    },

    /// No signet key has this object ID.
    #[error("YubiHSM 2 object {object_id:#06x} is not a signet key")]
    ObjectNotFound {
        /// The object ID looked up.
        object_id: u16,
    },

    /// The key's algorithm cannot be held on the device by this backend.
    #[error(
        "the YubiHSM 2 backend cannot hold {algorithm} key {key}: only ECDSA P-256 and Ed25519 keys are supported"
    )]
    UnsupportedAlgorithm {
        /// Key ID or object ID.
        key: String,
        /// The algorithm refused.
        algorithm: String,
    },

    /// A role or GUN cannot be recorded with a device key.
    #[error("invalid {field} {value:?} for a YubiHSM 2 key: {reason}")]
    InvalidAttribute {
        /// `role` or `gun`.
        field: &'static str,
        /// The rejected value.
        value: String,
        /// Why.
        reason: &'static str,
    },

    /// A role that keeps its GUN (targets, snapshot, timestamp) was given none.
    #[error("a {role} key must be created with a GUN")]
    MissingGun {
        /// The role.
        role: String,
    },

    /// The message is longer than the device accepts for pure Ed25519 signing.
    #[error(
        "cannot sign {len} bytes with Ed25519 key {key_id} on the YubiHSM 2: the device signs \
         at most {max} bytes with Ed25519 (use an ECDSA key for this role)"
    )]
    MessageTooLong {
        /// Key ID of the signing key.
        key_id: String,
        /// Length of the message.
        len: usize,
        /// The device limit.
        max: usize,
    },

    /// The device returned a signature that is malformed or does not verify.
    #[error("the YubiHSM 2 returned an invalid signature for key {key_id}: {reason}")]
    BadSignature {
        /// Key ID of the signing key.
        key_id: String,
        /// What is wrong.
        reason: String,
    },

    /// The device returned a public key that cannot be decoded.
    #[error("YubiHSM 2 object {object_id:#06x} holds an invalid public key: {reason}")]
    InvalidPublicKey {
        /// Object ID of the asymmetric key.
        object_id: u16,
        /// What is wrong.
        reason: String,
    },

    /// Every object ID the backend may use is taken.
    #[error("no free object ID left on the YubiHSM 2 for a new {what}")]
    NoFreeObjectId {
        /// What was to be stored.
        what: &'static str,
    },

    /// The object holds another key than the one expected there.
    #[error("YubiHSM 2 object {object_id:#06x} holds key {found}, not the expected key {expected}")]
    ObjectHoldsOtherKey {
        /// The object ID.
        object_id: u16,
        /// The key ID expected there.
        expected: String,
        /// The key ID of the key the object holds.
        found: String,
    },

    /// An object with this ID and type already exists.
    #[error("YubiHSM 2 object {object_id:#06x} ({what}) already exists")]
    ObjectExists {
        /// The object ID.
        object_id: u16,
        /// The object's kind.
        what: &'static str,
    },

    /// A wrapped key backup cannot be read or does not match what the device restored.
    #[error("wrapped key backup {context}: {reason}")]
    WrappedKey {
        /// Key ID or file the backup is for.
        context: String,
        /// What is wrong.
        reason: String,
    },

    /// A root certificate for a device key could not be built.
    #[error("root certificate for {gun} with YubiHSM 2 key {key_id}: {reason}")]
    Certificate {
        /// GUN the certificate is issued for.
        gun: String,
        /// Key ID of the device key.
        key_id: String,
        /// What failed.
        reason: String,
    },

    /// An error from the rest of the signer crate (decoding a key to import, for example).
    #[error(transparent)]
    Signer(#[from] crate::Error),
}

impl Error {
    /// A [`Error::Device`] for `operation` on `object`.
    pub(crate) fn device(
        operation: &'static str,
        object: impl std::fmt::Display,
    ) -> impl FnOnce(yubihsm::client::Error) -> Self {
        let object = object.to_string();
        move |source| Self::Device {
            operation,
            object,
            key_id: None,
            source,
        }
    }

    /// A [`Error::Device`] for `operation` on key `key_id` (described as `object`).
    pub(crate) fn device_for_key(
        operation: &'static str,
        key_id: &KeyId,
        object: impl std::fmt::Display,
    ) -> impl FnOnce(yubihsm::client::Error) -> Self {
        let object = object.to_string();
        let key_id = key_id.to_string();
        move |source| Self::Device {
            operation,
            object,
            key_id: Some(key_id),
            source,
        }
    }

    /// The TUF key ID the error is about, when it names one.
    pub fn key_id(&self) -> Option<&str> {
        match self {
            Self::Device { key_id, .. } => key_id.as_deref(),
            Self::KeyNotFound { key_id }
            | Self::ObjectHoldsOtherKey {
                expected: key_id, ..
            }
            | Self::MessageTooLong { key_id, .. }
            | Self::BadSignature { key_id, .. }
            | Self::Certificate { key_id, .. } => Some(key_id),
            Self::WrappedKey { context, .. } if context.parse::<KeyId>().is_ok() => Some(context),
            _ => None,
        }
    }

    /// The device's own error code, when the device refused a command.
    pub fn device_error(&self) -> Option<yubihsm::device::ErrorKind> {
        match self {
            Self::Device { source, .. } | Self::Connect { source, .. } => source.device_error(),
            _ => None,
        }
    }
}

impl Remediable for Error {
    /// Remedies for what the user can fix about the device: its connection, the password of
    /// the authentication key, the settings, the transport. Other failures get none here; the
    /// crate's [`crate::Error::Device`] wrapping them suggests checking the device.
    fn remedy(&self) -> Option<Remedy<'_>> {
        match self {
            Self::Connect {
                connector,
                auth_key_id,
                ..
            } => Some(Remedy::ConnectDevice {
                connector,
                auth_key_id: *auth_key_id,
            }),
            Self::MissingPassword { variable, .. } => {
                Some(Remedy::SupplyDevicePassword { variable })
            }
            Self::Config { .. } => Some(Remedy::FixDeviceSettings),
            Self::UsbUnavailable => Some(Remedy::UseDeviceConnector),
            Self::Signer(inner) => inner.remedy(),
            _ => None,
        }
    }
}

impl From<Error> for crate::Error {
    /// Maps backend errors onto the crate's error: missing keys stay
    /// [`crate::Error::KeyNotFound`], unsupported algorithms become
    /// [`crate::Error::UnsupportedKey`], signing problems [`crate::Error::Signing`], and
    /// device, connector, configuration and backup failures a [`crate::Error::Device`] on
    /// store `yubihsm` (with the key ID when one is known) whose source is the backend error.
    fn from(e: Error) -> Self {
        match e {
            Error::Signer(inner) => inner,
            Error::KeyNotFound { key_id } => Self::KeyNotFound { key_id },
            Error::ObjectNotFound { object_id } => Self::KeyNotFound {
                key_id: format!("{LOCATION} object {object_id:#06x}"),
            },
            Error::UnsupportedAlgorithm { key, algorithm } => Self::UnsupportedKey {
                context: format!("{LOCATION} key {key}"),
                kind: algorithm,
            },
            Error::MissingGun { role } => Self::MissingGun { role },
            Error::InvalidAttribute {
                field,
                value,
                reason,
            } => Self::InvalidKeyAttribute {
                key_id: format!("on {LOCATION} ({reason})"),
                field,
                value,
            },
            Error::MessageTooLong { ref key_id, .. } | Error::BadSignature { ref key_id, .. } => {
                Self::Signing {
                    key_id: key_id.clone(),
                    reason: e.to_string(),
                }
            }
            Error::Certificate {
                gun,
                key_id,
                reason,
            } => Self::Certificate {
                gun,
                reason: format!("YubiHSM 2 key {key_id}: {reason}"),
            },
            other => Self::Device {
                store: LOCATION.to_owned(),
                key_id: other.key_id().map(str::to_owned),
                source: Box::new(other),
            },
        }
    }
}
