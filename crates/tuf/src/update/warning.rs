//! Non-fatal findings of an update.

use std::fmt;

use chrono::{DateTime, Utc};

use crate::key::KeyId;

/// Something the caller should tell the user about; the update still succeeded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Warning {
    /// The timestamp could not be downloaded and the cached one was used (Notary: "Error while
    /// downloading remote metadata, using cached timestamp - this might not be the latest
    /// version available remotely").
    UsingCachedTimestamp {
        /// Why the download failed.
        reason: String,
    },
    /// A delegation and its whole subtree were left out.
    DelegationSkipped {
        /// The delegated role.
        role: String,
        /// Why.
        reason: SkipReason,
    },
    /// A role expires within six months.
    NearExpiry {
        /// The role.
        role: String,
        /// Its `expires` text.
        expires: String,
    },
    /// A root certificate expires within six months.
    CertificateNearExpiry {
        /// The root key holding the certificate.
        key_id: KeyId,
        /// The certificate's end of validity.
        not_after: DateTime<Utc>,
    },
    /// The first pass failed; the newest root was fetched and the update retried once.
    Retried {
        /// The error of the first pass.
        error: String,
    },
}

/// Why a delegation was skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SkipReason {
    /// The snapshot lists no file for it (nothing published to it yet).
    NotInSnapshot,
    /// Its signatures do not meet the threshold its parent set.
    Threshold {
        /// The version of the rejected file.
        version: i64,
        /// The verification error.
        error: String,
    },
    /// It has expired.
    Expired {
        /// The version of the expired file.
        version: i64,
        /// Its `expires` text.
        expires: String,
    },
    /// It lies deeper than [`Limits::max_delegation_depth`](super::Limits::max_delegation_depth).
    TooDeep {
        /// The limit.
        limit: usize,
    },
    /// More delegations than [`Limits::max_delegations`](super::Limits::max_delegations).
    TooMany {
        /// The limit.
        limit: usize,
    },
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UsingCachedTimestamp { reason } => write!(
                f,
                "Error while downloading remote metadata, using cached timestamp - this might not be the latest version available remotely ({reason})"
            ),
            Self::DelegationSkipped { role, reason } => write!(f, "Error getting {role}: {reason}"),
            Self::NearExpiry { role, expires } => write!(
                f,
                "{role} metadata is nearing expiry ({expires}), you should re-sign the role metadata"
            ),
            Self::CertificateNearExpiry { key_id, not_after } => write!(
                f,
                "root certificate {key_id} expires soon ({}); rotate the root key",
                not_after.to_rfc3339()
            ),
            Self::Retried { error } => {
                write!(
                    f,
                    "update failed ({error}); fetched the newest root and retried"
                )
            }
        }
    }
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotInSnapshot => f.write_str("no checksum for it in the snapshot"),
            Self::Threshold { version, error } => write!(f, "version {version}: {error}"),
            Self::Expired { version, expires } => {
                write!(f, "version {version} expired at {expires}")
            }
            Self::TooDeep { limit } => write!(f, "deeper than {limit} delegation levels"),
            Self::TooMany { limit } => write!(f, "more than {limit} delegations"),
        }
    }
}
