//! The error type of the client update.

use crate::remedy::{Remediable, Remedy};

/// Result alias for the update.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why an update failed. Every variant names the GUN and the role or file involved; the
/// verification failures also carry the version found and what was expected.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The root in the caller's cache cannot be used as a trust anchor (it does not parse, is
    /// malformed or is not signed by its own root keys). This is fatal: the cache is the pin.
    #[error("the cached root of {gun} cannot be trusted: {source}")]
    CachedRoot {
        /// The GUN being updated.
        gun: String,
        /// Why the root was rejected.
        #[source]
        source: Box<crate::Error>,
    },

    /// The server has no `root.json` for the GUN (404 while bootstrapping).
    #[error("the trust server does not have trust data for {gun}")]
    RepositoryNotFound {
        /// The GUN being updated.
        gun: String,
    },

    /// The server answered 404 for a file the update needs.
    #[error("{role} trust data of {gun} unavailable: {file} not found on the server")]
    NotFound {
        /// The GUN being updated.
        gun: String,
        /// The role the file holds.
        role: String,
        /// The file that was requested (`snapshot.<sha256>.json`, ...).
        file: String,
    },

    /// The server could not be reached for a file the update needs.
    #[error("unable to reach the trust server for {file} of {gun}: {reason}")]
    Unavailable {
        /// The GUN being updated.
        gun: String,
        /// The role the file holds.
        role: String,
        /// The file that was requested.
        file: String,
        /// What the caller reported.
        reason: String,
    },

    /// The server sent more bytes than the request allows (endless-data attack or a wrong
    /// length in the referring metadata).
    #[error("trust server returned a bad response: {file} of {gun} is longer than {limit} bytes")]
    TooLarge {
        /// The GUN being updated.
        gun: String,
        /// The role the file holds.
        role: String,
        /// The file that was requested.
        file: String,
        /// The most bytes a valid answer may have.
        limit: u64,
        /// How many bytes were handed over.
        found: u64,
    },

    /// Bytes that do not match the length or a digest recorded for them by the timestamp or
    /// snapshot (mix-and-match attack, or a cached file that is stale).
    #[error(
        "{algorithm} of {role} of {gun} does not match {referrer} version {referrer_version}: expected {expected}, found {found}"
    )]
    Mismatch {
        /// The GUN being updated.
        gun: String,
        /// The role whose bytes were checked.
        role: String,
        /// The role whose metadata recorded the expected values (`timestamp` or `snapshot`).
        referrer: &'static str,
        /// The version of that metadata.
        referrer_version: i64,
        /// What did not match: `length`, `sha256` or `sha512`.
        algorithm: &'static str,
        /// The expected value (decimal for lengths, hex for digests).
        expected: Box<str>,
        /// The value of the bytes received.
        found: Box<str>,
    },

    /// A document that does not parse, is malformed, or whose signatures do not meet its
    /// role's threshold.
    #[error("{role} of {gun}{} is invalid: {source}", version_suffix(*.version))]
    Invalid {
        /// The GUN being updated.
        gun: String,
        /// The role of the document.
        role: String,
        /// The document's version, when it parsed far enough to tell.
        version: Option<i64>,
        /// The verification failure.
        #[source]
        source: Box<crate::Error>,
    },

    /// A version lower than the one already trusted (rollback attack).
    #[error("{role} of {gun}: version {found} is lower than the trusted version {trusted}")]
    Rollback {
        /// The GUN being updated.
        gun: String,
        /// The role of the document.
        role: String,
        /// The version received.
        found: i64,
        /// The lowest acceptable version (the trusted copy's).
        trusted: i64,
    },

    /// An expired document (freeze attack).
    #[error("{role} of {gun} version {version} expired at {expires}")]
    Expired {
        /// The GUN being updated.
        gun: String,
        /// The role of the document.
        role: String,
        /// The document's version.
        version: i64,
        /// The document's `expires` text.
        expires: String,
    },

    /// A newer root that the trusted root's keys did not sign to the trusted threshold, even
    /// after walking every intermediate version.
    #[error(
        "could not rotate trust for {gun} from root version {trusted_version} to version {version}: {source}"
    )]
    RootRotation {
        /// The GUN being updated.
        gun: String,
        /// The version of the root being validated.
        version: i64,
        /// The version of the root that had to sign it.
        trusted_version: i64,
        /// Why the signatures did not count.
        #[source]
        source: Box<crate::Error>,
    },

    /// `<N>.root.json` held a root with another version.
    #[error("{file} of {gun} holds root version {found}, expected version {expected}")]
    RootVersion {
        /// The GUN being updated.
        gun: String,
        /// The file that was requested.
        file: String,
        /// The version asked for.
        expected: i64,
        /// The version found.
        found: i64,
    },

    /// The root does not satisfy the trust pinning configuration.
    #[error("root of {gun} rejected by trust pinning: {reason}")]
    TrustPinning {
        /// The GUN being updated.
        gun: String,
        /// Notary's wording of the failure.
        reason: String,
    },

    /// [`Updater::provide`](super::Updater::provide) was called with an answer to a request
    /// that is not the pending one.
    #[error("answer for {got} does not match the pending request {expected}")]
    UnexpectedAnswer {
        /// The pending request's file, or `none`.
        expected: String,
        /// The file the answer was for.
        got: String,
    },

    /// The updater is used after it failed (or, which cannot happen, lost its own state).
    #[error("the update of {gun} already failed")]
    Failed {
        /// The GUN being updated.
        gun: String,
    },

    /// [`Updater::finish`](super::Updater::finish) was called while a request is pending.
    #[error("the update of {gun} is not done: {pending} is still needed")]
    NotDone {
        /// The GUN being updated.
        gun: String,
        /// The pending file.
        pending: String,
    },

    /// A target name that no trusted role lists (Notary's `ErrNoSuchTarget`).
    #[error("No valid trust data for {name} in {gun}")]
    NoSuchTarget {
        /// The GUN searched.
        gun: String,
        /// The target name.
        name: String,
    },
}

impl Remediable for Error {
    fn remedy(&self) -> Option<Remedy<'_>> {
        match self {
            Self::Expired { gun, role, .. } => Some(Remedy::ResignRole {
                gun: Some(gun),
                role,
            }),
            Self::NotFound { gun, role, .. } => Some(Remedy::PublishRepository { gun, role }),
            Self::NoSuchTarget { gun, .. } => Some(Remedy::ListTargets { gun }),
            Self::TrustPinning { gun, .. } => Some(Remedy::CheckTrustPinning { gun }),
            Self::CachedRoot { gun, .. } | Self::RootRotation { gun, .. } => {
                Some(Remedy::ForgetTrust { gun })
            }
            Self::Rollback { .. } | Self::Mismatch { .. } | Self::RootVersion { .. } => {
                Some(Remedy::ContactServerOperator)
            }
            Self::Invalid { gun, source, .. } => {
                source.remedy().map(|remedy| remedy.in_repository(gun))
            }
            Self::Unavailable { .. } => Some(Remedy::CheckServer),
            _ => None,
        }
    }
}

fn version_suffix(version: Option<i64>) -> String {
    version.map(|v| format!(" version {v}")).unwrap_or_default()
}
