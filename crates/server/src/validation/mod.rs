//! Validation of an upload, in the order of the Go server's `validateUpdate` (protocol
//! §3.1), with every parse and signature check done by signet-tuf:
//!
//! 1. one file per role (a role named twice is refused, where Go lets the last part win),
//!    versions from 0 to 2³¹−1 (the column is 32-bit); an uploaded timestamp is ignored;
//! 2. the current root is read from the store (it only has to parse: an expired certificate
//!    in the stored root does not block a rotation away from it, unlike Go);
//! 3. an uploaded root: version current or current + 1, certificate root keys whose CN is
//!    the GUN, signed by the old root's threshold of old root keys and by its own threshold,
//!    not expired (`root`);
//! 4. no root at all is `ErrValidation`;
//! 5. targets and delegations, shallowest first, each against its delegator's keys, with
//!    every target path inside the delegated paths (stricter than Go) (`targets`);
//! 6. an uploaded snapshot: signed by root's snapshot keys, not expired, with the checksums of
//!    every loaded role, and naming only files that exist (`snapshot`).
//!
//! Hashes are always over the exact uploaded or stored bytes.

mod root;
mod snapshot;
mod targets;

use std::collections::BTreeMap;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use signet_tuf::metadata::{Envelope, Root, Snapshot, Targets};

use crate::error::{ServiceError, ValidationError};
use crate::service::{MetadataService, UploadedFile};

/// A targets or delegation document in play during validation.
#[derive(Debug, Clone)]
pub(crate) struct LoadedTargets {
    /// The parsed document.
    pub(crate) env: Envelope<Targets>,
    /// Its exact bytes.
    pub(crate) bytes: Bytes,
    /// The version to store it under (uploaded files only).
    pub(crate) upload_version: Option<i64>,
}

/// The result of validating an upload: everything the server needs to finish it.
#[derive(Debug)]
pub(crate) struct ValidatedUpdate {
    /// The root the update leaves in force (uploaded or stored).
    pub(crate) root: Envelope<Root>,
    /// Its exact bytes.
    pub(crate) root_bytes: Bytes,
    /// The uploaded root's version, when a root was uploaded.
    pub(crate) uploaded_root: Option<i64>,
    /// Targets and delegations loaded (uploaded or stored ancestors), by role.
    pub(crate) targets: BTreeMap<String, LoadedTargets>,
    /// Uploaded targets roles, in storage order (shallowest first, then by name).
    pub(crate) uploaded_targets: Vec<String>,
    /// The uploaded snapshot (bytes and version), if any.
    pub(crate) uploaded_snapshot: Option<(Bytes, i64)>,
    /// The current stored snapshot, if any.
    pub(crate) previous_snapshot: Option<Snapshot>,
}

/// Builds the `ValidationError` constructors for one GUN.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fail<'a>(pub(crate) &'a str);

impl Fail<'_> {
    pub(crate) fn root(self, msg: impl std::fmt::Display) -> ServiceError {
        ValidationError::BadRoot {
            gun: self.0.to_owned(),
            msg: msg.to_string(),
        }
        .into()
    }

    pub(crate) fn targets(self, role: &str, msg: impl std::fmt::Display) -> ServiceError {
        ValidationError::BadTargets {
            gun: self.0.to_owned(),
            role: role.to_owned(),
            msg: msg.to_string(),
        }
        .into()
    }

    pub(crate) fn snapshot(self, msg: impl std::fmt::Display) -> ServiceError {
        ValidationError::BadSnapshot {
            gun: self.0.to_owned(),
            msg: msg.to_string(),
        }
        .into()
    }

    pub(crate) fn hierarchy(self, missing: &str, msg: impl std::fmt::Display) -> ServiceError {
        ValidationError::BadHierarchy {
            gun: self.0.to_owned(),
            missing: missing.to_owned(),
            msg: msg.to_string(),
        }
        .into()
    }

    pub(crate) fn general(self, msg: impl std::fmt::Display) -> ServiceError {
        ValidationError::Validation {
            gun: self.0.to_owned(),
            msg: msg.to_string(),
        }
        .into()
    }

    pub(crate) fn stored(self, role: &str, msg: impl std::fmt::Display) -> ServiceError {
        ValidationError::StoredUnusable {
            gun: self.0.to_owned(),
            role: role.to_owned(),
            msg: msg.to_string(),
        }
        .into()
    }
}

/// The highest version a stored file can have: the `version` column of `tuf_files` is a
/// 32-bit integer, as in the Go notary-server's schema.
pub(crate) const MAX_VERSION: i64 = i32::MAX as i64;

/// The refusal of an uploaded file whose version is above [`MAX_VERSION`], in the category
/// of its role.
fn version_out_of_range(gun: &str, f: &UploadedFile) -> ServiceError {
    let fail = Fail(gun);
    let msg = format!(
        "{} version {} is out of range: the largest version the server stores is {MAX_VERSION}",
        f.role, f.version
    );
    match f.role.as_str() {
        "root" => fail.root(msg),
        "snapshot" => fail.snapshot(msg),
        "timestamp" => fail.general(msg),
        role => fail.targets(role, msg),
    }
}

/// The text Notary shows for a tuf error: root rejections carry Notary's own message.
pub(crate) fn tuf_msg(e: &signet_tuf::Error) -> String {
    match e {
        signet_tuf::Error::RootRejected { reason, .. } => reason.clone(),
        other => other.to_string(),
    }
}

/// Validates the files of one upload to `gun` at `now`.
pub(crate) async fn validate_update(
    repo: &MetadataService,
    gun: &str,
    files: Vec<UploadedFile>,
    now: DateTime<Utc>,
) -> Result<ValidatedUpdate, ServiceError> {
    let fail = Fail(gun);
    // 1. One file per role (an upload naming a role twice is refused, whatever the order:
    //    Go lets the last part win, which lets a proxy or a parser disagree on what was
    //    signed); versions the store can hold; timestamps are the server's business.
    let mut by_role: BTreeMap<String, UploadedFile> = BTreeMap::new();
    for f in files {
        if f.version > MAX_VERSION {
            return Err(version_out_of_range(gun, &f));
        }
        if by_role.contains_key(&f.role) {
            return Err(ServiceError::DuplicateRole {
                gun: gun.to_owned(),
                role: f.role,
            });
        }
        by_role.insert(f.role.clone(), f);
    }
    by_role.remove("timestamp");
    // 2. The stored root.
    let stored_root = match repo.current_root_file(gun).await? {
        Some(file) => {
            let env =
                Envelope::<Root>::parse(&file).map_err(|e| fail.stored("root", tuf_msg(&e)))?;
            Some((env, file))
        }
        None => None,
    };
    // 3. / 4. The root in force after this update.
    let uploaded_root = by_role.remove("root");
    let (root, root_bytes, uploaded_root_version) = match (uploaded_root, stored_root.as_ref()) {
        (Some(up), stored) => {
            let env = root::validate_new_root(gun, &up, stored.map(|(e, _)| e.signed()), now)?;
            (env, up.data, Some(up.version))
        }
        (None, Some((env, file))) => (env.clone(), file.clone(), None),
        (None, None) => {
            return Err(fail.general("no pre-existing root and no root provided in update."));
        }
    };
    // 5. Targets and delegations.
    let uploaded_snapshot = by_role.remove("snapshot");
    let (loaded, order) = targets::validate_targets(repo, gun, by_role, root.signed(), now).await?;
    // A rotated root must still verify the targets it leaves in force.
    if uploaded_root_version.is_some()
        && !loaded.contains_key("targets")
        && let Some(current) = repo.current_file(gun, "targets").await?
    {
        targets::check_stored_targets_still_verify(gun, &current.file.data, root.signed())?;
    }
    // 6. The snapshot.
    let previous_snapshot = match repo.current_file(gun, "snapshot").await? {
        Some(f) => Some(
            Envelope::<Snapshot>::parse(&f.file.data)
                .map_err(|e| fail.stored("snapshot", tuf_msg(&e)))?
                .into_parts()
                .0,
        ),
        None => None,
    };
    let uploaded_snapshot = match uploaded_snapshot {
        Some(up) => {
            snapshot::validate_uploaded(
                repo,
                gun,
                &up,
                root.signed(),
                &root_bytes,
                &loaded,
                previous_snapshot.as_ref(),
                now,
            )
            .await?;
            Some((up.data, up.version))
        }
        None => None,
    };
    Ok(ValidatedUpdate {
        root,
        root_bytes,
        uploaded_root: uploaded_root_version,
        targets: loaded,
        uploaded_targets: order,
        uploaded_snapshot,
        previous_snapshot,
    })
}
