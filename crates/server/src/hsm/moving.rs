//! Moving server keys sealed under the key-encryption key onto the YubiHSM 2, and back.
//!
//! Each key is handled on its own and committed on its own: the device import, a test
//! signature checked against the public key the database records, then one database write
//! that records the object (and, when asked, deletes the sealed copy). A run that stops half
//! way leaves every key either as it was or fully moved; running it again finishes the rest.
//! A key an interrupted run imported but did not record is found on the device by its key ID
//! and recorded, not imported twice.

use std::collections::HashMap;
use std::fmt;

use signet_signer::KeyAlgorithm;
use signet_signer::seal::{Kek, open_private_key};
use signet_tuf::key::{KeyId, PublicKey};

use super::ServerHsm;
use crate::error::MoveKeysError;
use crate::store::{HsmKeyRef, KeyState, ServerKey, Store};

/// What a move (or a move back) does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MoveOptions {
    /// Report what would be done; change nothing on the device or in the database.
    pub dry_run: bool,
    /// Delete the sealed copy of each key on the device, once the device has signed with it
    /// and the signature verified against the recorded public key.
    pub remove_sealed: bool,
    /// Move retired keys too (they no longer sign; by default they stay sealed).
    pub include_retired: bool,
}

/// What happened to one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MoveAction {
    /// Imported into the device and recorded as held there.
    Imported,
    /// Found on the device already (an interrupted earlier run) and recorded as held there.
    Recorded,
    /// Already recorded as held in the device.
    AlreadyOnDevice,
    /// Retired: left sealed.
    SkippedRetired,
    /// The device cannot hold this kind of key: left sealed.
    SkippedUnsupported(String),
    /// Moving back: the device reference is dropped; the key signs with its sealed copy again.
    BackToSealed,
    /// Moving back: the key has no sealed copy and cannot leave the device (rotate it).
    NoSealedCopy,
    /// Moving back: the key is not held in the device.
    NotOnDevice,
}

/// One key of a [`MoveReport`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MoveEntry {
    /// The GUN.
    pub gun: String,
    /// The role.
    pub role: String,
    /// The key ID.
    pub key_id: String,
    /// The key's state.
    pub state: KeyState,
    /// What was done (or, in a dry run, would be done).
    pub action: MoveAction,
    /// The device object holding the key afterwards, if any.
    pub object_id: Option<u16>,
    /// Whether the sealed copy was (or would be) deleted by this run.
    pub sealed_removed: bool,
}

/// What a move did, key by key, in the order of the store (GUN, role, creation).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MoveReport {
    /// Whether nothing was changed.
    pub dry_run: bool,
    /// One entry per server key.
    pub entries: Vec<MoveEntry>,
}

impl MoveReport {
    /// How many entries have `action`.
    #[must_use]
    pub fn count(&self, action: &MoveAction) -> usize {
        self.entries.iter().filter(|e| e.action == *action).count()
    }

    /// How many sealed copies were (or would be) deleted.
    #[must_use]
    pub fn sealed_removed(&self) -> usize {
        self.entries.iter().filter(|e| e.sealed_removed).count()
    }

    /// Whether the run changed (or, dry, would change) anything.
    #[must_use]
    pub fn changed_anything(&self) -> bool {
        self.entries.iter().any(|e| {
            e.sealed_removed
                || matches!(
                    e.action,
                    MoveAction::Imported | MoveAction::Recorded | MoveAction::BackToSealed
                )
        })
    }
}

impl fmt::Display for MoveAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Imported => f.write_str("imported into the device"),
            Self::Recorded => f.write_str("found on the device, recorded"),
            Self::AlreadyOnDevice => f.write_str("already on the device"),
            Self::SkippedRetired => f.write_str("retired, left sealed"),
            Self::SkippedUnsupported(why) => write!(f, "left sealed: {why}"),
            Self::BackToSealed => f.write_str("signs with its sealed copy again"),
            Self::NoSealedCopy => {
                f.write_str("NO SEALED COPY: stays on the device (rotate it to leave the device)")
            }
            Self::NotOnDevice => f.write_str("not on the device"),
        }
    }
}

impl fmt::Display for MoveReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.dry_run {
            writeln!(
                f,
                "dry run: nothing was changed; this is what would be done"
            )?;
        }
        for e in &self.entries {
            write!(
                f,
                "{:<9} {:<8} {} {}: {}",
                e.role, e.state, e.gun, e.key_id, e.action
            )?;
            if let Some(id) = e.object_id {
                write!(f, " (object {id:#06x})")?;
            }
            if e.sealed_removed {
                f.write_str(", sealed copy removed")?;
            }
            writeln!(f)?;
        }
        writeln!(
            f,
            "{} key(s): {} imported, {} recorded, {} already on the device, {} back to sealed, \
             {} sealed copies removed, {} left sealed, {} without sealed copy",
            self.entries.len(),
            self.count(&MoveAction::Imported),
            self.count(&MoveAction::Recorded),
            self.count(&MoveAction::AlreadyOnDevice),
            self.count(&MoveAction::BackToSealed),
            self.sealed_removed(),
            self.entries
                .iter()
                .filter(|e| matches!(
                    e.action,
                    MoveAction::SkippedRetired | MoveAction::SkippedUnsupported(_)
                ))
                .count(),
            self.count(&MoveAction::NoSealedCopy),
        )
    }
}

/// The message signed to prove the device holds a key. It is not metadata: no TUF client
/// accepts a signature over it.
fn probe_message(key: &ServerKey) -> Vec<u8> {
    format!(
        "signet-server YubiHSM 2 key check\n{}\n{}\n{}\n",
        key.gun, key.role, key.key_id
    )
    .into_bytes()
}

fn key_problem(key: &ServerKey, reason: impl fmt::Display) -> MoveKeysError {
    MoveKeysError::Key {
        gun: key.gun.clone(),
        role: key.role.clone(),
        key_id: key.key_id.clone(),
        reason: reason.to_string(),
    }
}

fn store_error(key: &ServerKey, what: &str, source: crate::store::StoreError) -> MoveKeysError {
    MoveKeysError::Store {
        context: format!(
            "{what} of the {} key {} of {}",
            key.role, key.key_id, key.gun
        ),
        source,
    }
}

/// The row's key ID and public key, checked against each other.
fn identity(key: &ServerKey) -> Result<(KeyId, PublicKey), MoveKeysError> {
    let key_id: KeyId = key
        .key_id
        .parse()
        .map_err(|e| key_problem(key, format!("invalid key ID: {e}")))?;
    let public: PublicKey = serde_json::from_slice(&key.public_key)
        .map_err(|e| key_problem(key, format!("stored public key does not parse: {e}")))?;
    if public.key_id() != key_id {
        return Err(key_problem(
            key,
            format!("the stored public key has key ID {}", public.key_id()),
        ));
    }
    Ok((key_id, public))
}

/// Signs a test message with the device key at `location` and checks the signature against
/// the row's public key.
async fn prove_on_device(
    hsm: &ServerHsm,
    key: &ServerKey,
    location: &HsmKeyRef,
    public: &PublicKey,
) -> Result<(), MoveKeysError> {
    hsm.sign_and_verify(&key.gun, &key.role, location, public, probe_message(key))
        .await?
        .map_err(|reason| {
            key_problem(
                key,
                format!(
                    "object {:#06x} of the YubiHSM 2 failed the test signature: {reason}",
                    location.object_id
                ),
            )
        })
}

/// Moves every server key sealed under `kek` onto `hsm` (pending and active keys; retired
/// ones too with [`MoveOptions::include_retired`]), and with
/// [`MoveOptions::remove_sealed`] deletes the sealed copy of every key on the device that
/// passes a test signature.
///
/// Idempotent: keys already on the device are left (or only lose their sealed copy), and a key
/// an interrupted run imported is recorded rather than imported again.
///
/// # Errors
///
/// The first failure stops the run (keys handled before it stay moved):
/// [`MoveKeysError::Store`], [`MoveKeysError::Hsm`], [`MoveKeysError::Key`] when a sealed
/// key does not open or the device fails its test signature.
pub async fn move_keys_to_device(
    store: &Store,
    kek: &Kek,
    hsm: &ServerHsm,
    opts: &MoveOptions,
) -> Result<MoveReport, MoveKeysError> {
    let keys = all_server_keys(store).await?;
    let mut on_device: Option<HashMap<KeyId, HsmKeyRef>> = None;
    let mut report = MoveReport {
        dry_run: opts.dry_run,
        entries: Vec::with_capacity(keys.len()),
    };
    for key in &keys {
        let mut entry = MoveEntry {
            gun: key.gun.clone(),
            role: key.role.clone(),
            key_id: key.key_id.clone(),
            state: key.state,
            action: MoveAction::AlreadyOnDevice,
            object_id: key.hsm.as_ref().map(|h| h.object_id),
            sealed_removed: false,
        };
        let (key_id, public) = identity(key)?;
        if let Some(location) = &key.hsm {
            if opts.remove_sealed && key.has_sealed_copy() {
                prove_on_device(hsm, key, location, &public).await?;
                if !opts.dry_run {
                    store
                        .put_key_on_device(&key.gun, &key.role, &key.key_id, location, true)
                        .await
                        .map_err(|e| store_error(key, "removal of the sealed copy", e))?;
                    tracing::info!(gun = %key.gun, role = %key.role, key_id = %key.key_id,
                        object_id = location.object_id, "sealed copy removed");
                }
                entry.sealed_removed = true;
            }
            report.entries.push(entry);
            continue;
        }
        if key.state == KeyState::Retired && !opts.include_retired {
            entry.action = MoveAction::SkippedRetired;
            report.entries.push(entry);
            continue;
        }
        let private = open_private_key(kek, &key.sealed_private_key, &key.gun, &key.role, &key_id)
            .map_err(|e| {
                key_problem(
                    key,
                    format!("cannot open it with the key-encryption key: {e}"),
                )
            })?;
        if private.algorithm() == KeyAlgorithm::Rsa {
            entry.action = MoveAction::SkippedUnsupported(
                "the YubiHSM 2 backend holds only ECDSA P-256 and Ed25519 keys".to_owned(),
            );
            report.entries.push(entry);
            continue;
        }
        if private.algorithm() == KeyAlgorithm::Ed25519 && key.role == "snapshot" {
            entry.action = MoveAction::SkippedUnsupported(format!(
                "the device signs at most {} bytes with Ed25519 and snapshots outgrow that \
                 (rotate to an ECDSA snapshot key on the device)",
                signet_signer::yubihsm::MAX_ED25519_MESSAGE_LEN
            ));
            report.entries.push(entry);
            continue;
        }
        if private.public_key().key_id() != key_id {
            return Err(key_problem(
                key,
                "the sealed private key is not the key of the row",
            ));
        }
        entry.sealed_removed = opts.remove_sealed;
        if opts.dry_run {
            entry.action = MoveAction::Imported;
            report.entries.push(entry);
            continue;
        }
        if on_device.is_none() {
            on_device = Some(hsm.device_keys().await?);
        }
        let device = on_device.get_or_insert_with(HashMap::new);
        let found = device.get(&key_id).cloned();
        let (location, action) = match found {
            Some(found) => (found, MoveAction::Recorded),
            None => {
                let location = hsm.import(private, &key.gun, &key.role).await?;
                device.insert(key_id.clone(), location.clone());
                (location, MoveAction::Imported)
            }
        };
        prove_on_device(hsm, key, &location, &public).await?;
        store
            .put_key_on_device(
                &key.gun,
                &key.role,
                &key.key_id,
                &location,
                opts.remove_sealed,
            )
            .await
            .map_err(|e| store_error(key, "move to the YubiHSM 2", e))?;
        tracing::info!(gun = %key.gun, role = %key.role, key_id = %key.key_id,
            object_id = location.object_id, sealed_removed = opts.remove_sealed,
            "server key moved to the YubiHSM 2");
        entry.action = action;
        entry.object_id = Some(location.object_id);
        report.entries.push(entry);
    }
    Ok(report)
}

/// Every server key row of `store`, for a move in either direction.
async fn all_server_keys(store: &Store) -> Result<Vec<ServerKey>, MoveKeysError> {
    store
        .all_server_keys()
        .await
        .map_err(|source| MoveKeysError::Store {
            context: "read of every server key".to_owned(),
            source,
        })
}

/// Moves every server key held in the YubiHSM 2 that still has its sealed copy back to
/// signing with that copy: checks that the copy opens with `kek` and is the row's key, then
/// drops the device reference. Keys without a sealed copy cannot leave the device and are
/// reported ([`MoveAction::NoSealedCopy`]). The device objects are left as they are (delete
/// them with `yubihsm-shell` once nothing refers to them).
///
/// # Errors
///
/// The first failure stops the run: [`MoveKeysError::Store`], [`MoveKeysError::Key`] when
/// a sealed copy does not open or is another key.
pub async fn move_keys_off_device(
    store: &Store,
    kek: &Kek,
    dry_run: bool,
) -> Result<MoveReport, MoveKeysError> {
    let keys = all_server_keys(store).await?;
    let mut report = MoveReport {
        dry_run,
        entries: Vec::with_capacity(keys.len()),
    };
    for key in &keys {
        let mut entry = MoveEntry {
            gun: key.gun.clone(),
            role: key.role.clone(),
            key_id: key.key_id.clone(),
            state: key.state,
            action: MoveAction::NotOnDevice,
            object_id: key.hsm.as_ref().map(|h| h.object_id),
            sealed_removed: false,
        };
        if key.hsm.is_none() {
            report.entries.push(entry);
            continue;
        }
        if !key.has_sealed_copy() {
            entry.action = MoveAction::NoSealedCopy;
            report.entries.push(entry);
            continue;
        }
        let (key_id, _) = identity(key)?;
        let private = open_private_key(kek, &key.sealed_private_key, &key.gun, &key.role, &key_id)
            .map_err(|e| {
                key_problem(
                    key,
                    format!("its sealed copy does not open with the key-encryption key: {e}"),
                )
            })?;
        if private.public_key().key_id() != key_id {
            return Err(key_problem(key, "its sealed copy is another key"));
        }
        drop(private);
        if !dry_run {
            store
                .take_key_off_device(&key.gun, &key.role, &key.key_id)
                .await
                .map_err(|e| store_error(key, "move off the YubiHSM 2", e))?;
            tracing::info!(gun = %key.gun, role = %key.role, key_id = %key.key_id,
                "server key signs with its sealed copy again");
        }
        entry.action = MoveAction::BackToSealed;
        report.entries.push(entry);
    }
    Ok(report)
}
