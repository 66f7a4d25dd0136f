//! Errors of the HTTP side of the server.
//!
//! Every variant names the GUN, role, key ID or version it is about. The HTTP status and the
//! Notary error code of each variant are chosen in exactly one place:
//! [`crate::http::error`].

use crate::store::StoreError;

/// An error raised while serving a request.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// A multipart part had no usable file name (the role name).
    #[error("a part of the upload for {gun} has no file name")]
    NoFilename {
        /// The GUN being updated.
        gun: String,
    },
    /// A multipart part named a role that is not a valid role name.
    #[error("invalid role {role:?} in the upload for {gun}")]
    InvalidRole {
        /// The GUN being updated.
        gun: String,
        /// The role name as sent (with any `.json` suffix removed).
        role: String,
    },
    /// A part could not be decoded as signed metadata.
    #[error("the {role} part of the upload for {gun} is not valid metadata JSON: {reason}")]
    MalformedJson {
        /// The GUN being updated.
        gun: String,
        /// The role of the part.
        role: String,
        /// Why decoding failed.
        reason: String,
    },
    /// The request body is not a multipart body the server can read.
    #[error("malformed upload for {gun}: {reason}")]
    MalformedUpload {
        /// The GUN being updated.
        gun: String,
        /// What is wrong with the body.
        reason: String,
    },
    /// The request body is larger than the configured limit.
    #[error("request body for {gun} is larger than the limit of {limit} bytes")]
    BodyTooLarge {
        /// The GUN of the request (empty when the route has none).
        gun: String,
        /// The configured limit in bytes.
        limit: usize,
    },
    /// A write to a GUN outside the configured prefixes, or a GUN the server cannot store.
    #[error("GUN {gun:?} is not accepted: {reason}")]
    InvalidGun {
        /// The GUN as requested.
        gun: String,
        /// The error detail sent to the client.
        reason: String,
    },
    /// The metadata, key or resource asked for does not exist.
    #[error("no metadata for role {role} of {gun}")]
    MetadataNotFound {
        /// The GUN asked for (empty for paths that name none).
        gun: String,
        /// The role asked for (empty for paths that name none).
        role: String,
    },
    /// A version number in a path could not be read as an integer.
    #[error("version {text:?} of role {role} of {gun} is out of range")]
    BadVersionNumber {
        /// The GUN asked for.
        gun: String,
        /// The role asked for.
        role: String,
        /// The digits as given in the path.
        text: String,
    },
    /// Storage already holds the same or a newer version of a role in the update.
    #[error("a newer version of {role} is already stored for {gun}")]
    OldVersion {
        /// The GUN being updated.
        gun: String,
        /// The role whose version was refused (empty when storage did not say).
        role: String,
    },
    /// The uploaded metadata failed validation.
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// Changefeed query parameters could not be read.
    #[error("invalid changefeed parameter for {gun:?}: {detail}")]
    InvalidParameters {
        /// The GUN filter (empty for the global feed).
        gun: String,
        /// What is wrong, sent as the error detail.
        detail: String,
    },
    /// The request carries no valid token granting the required access.
    #[error("authentication required for {0}")]
    Unauthorized(Box<crate::auth::Challenge>),
    /// Storing an update failed for a reason other than a version conflict.
    #[error("storing the update of {gun} failed: {source}")]
    Updating {
        /// The GUN being updated.
        gun: String,
        /// The storage error.
        source: StoreError,
    },
    /// The database is unreachable.
    #[error("storage unavailable while serving {gun:?}: {source}")]
    Unavailable {
        /// The GUN of the request (empty when the route has none).
        gun: String,
        /// The storage error.
        source: StoreError,
    },
    /// A storage error while reading.
    #[error("storage error while serving {gun:?}: {source}")]
    Storage {
        /// The GUN of the request (empty when the route has none).
        gun: String,
        /// The storage error.
        source: StoreError,
    },
    /// The server could not sign or produce metadata it must produce.
    #[error("cannot produce {role} for {gun}: {reason}")]
    Signing {
        /// The GUN.
        gun: String,
        /// The role being produced.
        role: String,
        /// What went wrong.
        reason: String,
    },
    /// A server-held key could not be created, sealed or opened.
    #[error("server key for role {role} of {gun}: {reason}")]
    ServerKey {
        /// The GUN.
        gun: String,
        /// The role (`timestamp` or `snapshot`).
        role: String,
        /// What went wrong.
        reason: String,
    },
    /// Anything else that is the server's fault.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ServerError {
    /// Wraps a storage error raised while reading data of `gun`.
    pub fn from_store_read(gun: &str, source: StoreError) -> Self {
        if source.is_unavailable() {
            Self::Unavailable {
                gun: gun.to_owned(),
                source,
            }
        } else {
            Self::Storage {
                gun: gun.to_owned(),
                source,
            }
        }
    }

    /// Wraps a storage error raised while writing an update of `gun`.
    pub fn from_store_write(gun: &str, source: StoreError) -> Self {
        match source {
            StoreError::OldVersion { role, .. } => Self::OldVersion {
                gun: gun.to_owned(),
                role,
            },
            StoreError::VersionOutOfRange { role, version, .. } => {
                Self::Invalid(ValidationError::Validation {
                    gun: gun.to_owned(),
                    msg: format!(
                        "{role} version {version} is out of range: the largest version the \
                         server stores is {}",
                        i32::MAX
                    ),
                })
            }
            source if source.is_unavailable() => Self::Unavailable {
                gun: gun.to_owned(),
                source,
            },
            source => Self::Updating {
                gun: gun.to_owned(),
                source,
            },
        }
    }
}

/// Why an upload was refused, in the five categories the Notary client understands.
///
/// The variant decides the `Name` of the `INVALID_UPDATE` detail; `msg` is its `Msg`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValidationError {
    /// `ErrBadRoot`: the root in the update (or the one stored) is not acceptable.
    #[error("the root metadata of {gun} is invalid: {msg}")]
    BadRoot {
        /// The GUN being updated.
        gun: String,
        /// The reason, sent to the client.
        msg: String,
    },
    /// `ErrBadTargets`: a targets or delegation file is not acceptable.
    #[error("the {role} metadata of {gun} is invalid: {msg}")]
    BadTargets {
        /// The GUN being updated.
        gun: String,
        /// The targets role at fault.
        role: String,
        /// The reason, sent to the client.
        msg: String,
    },
    /// `ErrBadSnapshot`: the uploaded snapshot is not acceptable.
    #[error("the snapshot metadata of {gun} is invalid: {msg}")]
    BadSnapshot {
        /// The GUN being updated.
        gun: String,
        /// The reason, sent to the client.
        msg: String,
    },
    /// `ErrBadHierarchy`: a role the update needs is missing.
    #[error("metadata hierarchy of {gun} is incomplete ({missing} missing): {msg}")]
    BadHierarchy {
        /// The GUN being updated.
        gun: String,
        /// The missing role.
        missing: String,
        /// The reason, sent to the client.
        msg: String,
    },
    /// `ErrValidation`: any other validation failure.
    #[error("validation of the update of {gun} failed: {msg}")]
    Validation {
        /// The GUN being updated.
        gun: String,
        /// The reason, sent to the client.
        msg: String,
    },
    /// The stored repository cannot be loaded; sent as `INVALID_UPDATE` without detail.
    #[error("the stored {role} of {gun} cannot be used: {msg}")]
    StoredUnusable {
        /// The GUN being updated.
        gun: String,
        /// The stored role at fault.
        role: String,
        /// The reason (logged, not sent).
        msg: String,
    },
}
