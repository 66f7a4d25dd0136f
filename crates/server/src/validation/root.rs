//! Step 3 of upload validation: an uploaded root.

use chrono::{DateTime, Utc};
use signet_tuf::authoring::check_root_version_step;
use signet_tuf::metadata::{Envelope, Root};
use signet_tuf::verify::{check_expiry, verify_root};

use super::{Fail, tuf_msg};
use crate::error::ServiceError;
use crate::service::UploadedFile;

/// Checks an uploaded root against the stored one (`previous`), returning it parsed.
pub(crate) fn validate_new_root(
    gun: &str,
    up: &UploadedFile,
    previous: Option<&Root>,
    now: DateTime<Utc>,
) -> Result<Envelope<Root>, ServiceError> {
    let fail = Fail(gun);
    let current = previous.map(|r| r.version);
    if let Err(e) = check_root_version_step(current, up.version) {
        return Err(fail.root(match e {
            signet_tuf::Error::InvalidMetadata { reason, .. } => reason,
            other => other.to_string(),
        }));
    }
    let env = Envelope::<Root>::parse(&up.data).map_err(|e| fail.root(tuf_msg(&e)))?;
    verify_root(&env, previous, gun, now).map_err(|e| fail.root(tuf_msg(&e)))?;
    // Stricter than Go, which reads any key's bytes as a certificate whatever its declared
    // type: a root key must also say it is a certificate, or its key ID does not match the
    // key (checked after Notary's own rules, so their messages come first).
    let root = env.signed();
    for id in root.role("root").map_or(&[][..], |r| r.keyids.as_slice()) {
        if let Some(key) = root.keys.get(id)
            && !key.keytype().is_x509()
        {
            return Err(fail.root(format!(
                "root key {id} is not a certificate (key type {})",
                key.keytype()
            )));
        }
    }
    check_expiry("root", &env.signed().expires, now).map_err(|e| fail.root(tuf_msg(&e)))?;
    Ok(env)
}
