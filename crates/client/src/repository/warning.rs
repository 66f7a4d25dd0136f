//! Findings that do not stop an operation, reported to the caller.

use std::fmt;

use chrono::{DateTime, Utc};
use signet_tuf::key::KeyId;
use signet_tuf::update::{self};

use crate::changelist::ChangelistWarning;

/// Something the caller may want to tell the user; nothing here is fatal.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum RepoWarning {
    /// The server could not be reached; cached metadata was used.
    Offline {
        /// Why.
        reason: String,
    },
    /// A finding of the update (cached timestamp used, delegation skipped, near expiry, …).
    Update(update::Warning),
    /// A verified file could not be written to the cache.
    CacheWrite {
        /// The role.
        role: String,
        /// Why.
        reason: String,
    },
    /// A changelist file was skipped.
    Changelist(ChangelistWarning),
    /// A delegation purge skipped a role whose key is not held.
    PurgeSkipped {
        /// The role left unchanged.
        role: String,
    },
    /// A delegation has fewer keys than its threshold and cannot be used until keys are added.
    BelowThreshold {
        /// The role.
        role: String,
        /// How many keys it has.
        keys: usize,
        /// Its threshold.
        threshold: i64,
    },
    /// The repository was initialised by the publish (nothing existed locally or remotely).
    Initialized,
    /// Offline, the cached metadata was used although `role` expired at `expired`; the
    /// listing is what the cache held then and may be stale.
    ExpiredCache {
        /// The first cached role to expire.
        role: String,
        /// When it expired.
        expired: DateTime<Utc>,
    },
    /// A root certificate that expired or expires within six months was renewed for the same
    /// private key; root lists the new certificate key (a root rotation).
    RootCertificateRenewed {
        /// The TUF key ID of the old certificate key.
        old_key_id: KeyId,
        /// The TUF key ID of the new certificate key.
        new_key_id: KeyId,
        /// When the old certificate expires (or expired).
        old_expires: DateTime<Utc>,
        /// When the new certificate expires.
        new_expires: DateTime<Utc>,
    },
    /// A root certificate expires within six months but could not be renewed (its root key is
    /// not held, or a CA issued it).
    RootCertificateNotRenewed {
        /// The canonical ID of the root key.
        key_id: String,
        /// When the certificate expires.
        expires: DateTime<Utc>,
    },
    /// A re-sign found `role` expired at `expired`; it was verified as of just before its
    /// expiry and re-signed (when its key is held).
    ExpiredResigned {
        /// The expired role.
        role: String,
        /// When it expired.
        expired: DateTime<Utc>,
    },
    /// On an initial publish, root listed a timestamp key the server does not hold; the
    /// server's timestamp key replaced it.
    TimestampKeyReplaced {
        /// The timestamp keys root listed.
        old_key_ids: Vec<KeyId>,
        /// The server's timestamp key.
        new_key_id: KeyId,
    },
    /// After a publish, the server's new trust data could not be fetched and verified; the
    /// cache keeps the trust data from before the publish until the next update.
    CacheNotRefreshed {
        /// Why.
        reason: String,
    },
}

impl fmt::Display for RepoWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Offline { reason } => write!(f, "{reason}; continuing in offline mode"),
            Self::Update(w) => write!(f, "{w}"),
            Self::CacheWrite { role, reason } => {
                write!(f, "could not cache the {role} metadata: {reason}")
            }
            Self::Changelist(w) => write!(f, "{w}"),
            Self::PurgeSkipped { role } => write!(
                f,
                "role {role} contains keys being purged but you do not have the necessary keys present to sign it; keys will not be purged from {role} or its immediate children"
            ),
            Self::BelowThreshold {
                role,
                threshold,
                ..
            } => write!(
                f,
                "role {role} has fewer keys than its threshold of {threshold}; it will not be usable until keys are added to it"
            ),
            Self::ExpiredCache { role, expired } => write!(
                f,
                "the cached {role} metadata expired at {expired}; the trust server cannot be reached, so the expired cached trust data is shown"
            ),
            Self::Initialized => f.write_str(
                "No TUF data found locally or remotely - initializing repository for the first time",
            ),
            Self::RootCertificateRenewed {
                old_key_id,
                new_key_id,
                old_expires,
                new_expires,
            } => {
                let past = if *old_expires <= Utc::now() {
                    "expired"
                } else {
                    "expires"
                };
                write!(
                    f,
                    "the root certificate {old_key_id} {past} at {old_expires}; renewed it for the same root key as {new_key_id}, valid until {new_expires} (root is rotated to the new certificate key and signed by both)"
                )
            }
            Self::RootCertificateNotRenewed { key_id, expires } => write!(
                f,
                "the certificate of root key {key_id} expires at {expires} and cannot be renewed here (the root key is not held, or a CA issued it); renew it, or rotate the root key with `signet key rotate <GUN> root`"
            ),
            Self::ExpiredResigned { role, expired } => write!(
                f,
                "the {role} metadata expired at {expired}; it was verified as of its expiry so that it can be re-signed"
            ),
            Self::TimestampKeyReplaced {
                old_key_ids,
                new_key_id,
            } => {
                let old: Vec<String> = old_key_ids.iter().map(ToString::to_string).collect();
                write!(
                    f,
                    "the server does not hold the timestamp key root lists ({}); root now lists the server's timestamp key {new_key_id}",
                    old.join(", ")
                )
            }
            Self::CacheNotRefreshed { reason } => write!(
                f,
                "the changes were published, but the cached trust data could not be refreshed ({reason}); it is refreshed by the next update"
            ),
        }
    }
}
