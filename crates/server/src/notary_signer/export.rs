//! `signet-server export-notary-signer`: signet's server keys go (back) into a Go
//! notary-signer database, so the Go notary-server and notary-signer can be started again on
//! the same databases with nothing lost.
//!
//! Every server key is written once per key ID (`key_id` is unique in `private_keys`; a key
//! signet holds for several (GUN, role)s takes the columns of its active, else pending, else
//! most recently used placement):
//!
//! * a key the table lacks gets a new row: encrypted as notary-signer encrypts (JWE
//!   `PBES2-HS256+A128KW` + `A256GCM`, 8192 iterations) under the passphrase of `--alias`,
//!   with `gun`, `role`, `algorithm`, `public`, `created_at` and `last_used`;
//! * a key the table has keeps its encrypted private key and alias; its `last_used` becomes
//!   the later of the two, and empty `gun`/`role` columns are filled in;
//! * a soft-deleted row of a key signet holds is brought back, re-encrypted under `--alias`.
//!
//! `last_used` is what makes notary-signer hand a key out again as the "unused" key of
//! its (GUN, role): it stays NULL for keys pending in signet, and is set (to signet's last
//! use, else the key's creation time) for active and retired keys.
//!
//! All or nothing, in one transaction; every new ciphertext is decrypted again and compared
//! before it is written. Running the export again changes nothing.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use signet_signer::seal::open_private_key;
use signet_tuf::key::KeyId;
use zeroize::Zeroizing;

use super::import::latest;
use super::source::{NewSignerRow, SignerDb, SignerWrite};
use super::{Passphrases, Tally, jwe, keys, passphrase_env_var, target};
use crate::error::{AliasProblem, KeyProblem, NotarySignerError};
use crate::kek::Kek;
use crate::store::{KeyState, ServerKey, Store};

/// The longest alias the `passphrase_alias` column holds.
const MAX_ALIAS_LEN: usize = 50;

/// Options of [`export`].
#[derive(Debug, Clone, Default)]
pub struct ExportOptions {
    /// The passphrase alias new rows are encrypted under (notary-signer's
    /// `storage.default_alias`).
    pub alias: String,
    /// Decide and report everything, write nothing.
    pub dry_run: bool,
}

/// What happened (or would happen) to one key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportAction {
    /// A new row.
    Added,
    /// A soft-deleted row brought back.
    Restored,
    /// `last_used` or empty `gun`/`role` columns updated.
    Updated,
    /// Already there as it should be.
    Unchanged,
}

impl ExportAction {
    fn as_str(self) -> &'static str {
        match self {
            Self::Added => "added",
            Self::Restored => "restored",
            Self::Updated => "updated",
            Self::Unchanged => "unchanged",
        }
    }
}

/// One exported key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportedEntry {
    /// The TUF key ID.
    pub key_id: String,
    /// The GUN written to the row.
    pub gun: String,
    /// The role written to the row.
    pub role: String,
    /// The key's state in signet.
    pub state: KeyState,
    /// What was done.
    pub action: ExportAction,
}

/// The outcome of [`export`]; its `Display` is the command's output.
#[derive(Debug, Clone, Default)]
pub struct ExportReport {
    /// Whether nothing was written.
    pub dry_run: bool,
    /// The alias new rows are encrypted under.
    pub alias: String,
    /// One entry per key ID.
    pub entries: Vec<ExportedEntry>,
}

impl ExportReport {
    /// Counts by role and signet state of the keys with `action`.
    #[must_use]
    pub fn tally(&self, action: ExportAction) -> Tally {
        let mut t = Tally::default();
        for e in self.entries.iter().filter(|e| e.action == action) {
            t.add(&e.role, e.state);
        }
        t
    }
}

impl fmt::Display for ExportReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "signet server keys: {}; new rows encrypted under alias {:?}{}",
            self.entries.len(),
            self.alias,
            if self.dry_run {
                " (dry run: nothing is written)"
            } else {
                ""
            }
        )?;
        let prefix = if self.dry_run { "would be " } else { "" };
        for e in &self.entries {
            writeln!(
                f,
                "  {:<19} {:<8} {:<10} {} {}",
                format!("{prefix}{}", e.action.as_str()),
                e.state.as_str(),
                e.role,
                e.key_id,
                e.gun
            )?;
        }
        for action in [
            ExportAction::Added,
            ExportAction::Restored,
            ExportAction::Updated,
            ExportAction::Unchanged,
        ] {
            let t = self.tally(action);
            writeln!(f, "{prefix}{}: {}", action.as_str(), t.total())?;
            if t.total() > 0 {
                f.write_str(&t.table("  "))?;
            }
        }
        Ok(())
    }
}

fn state_rank(s: KeyState) -> u8 {
    match s {
        KeyState::Active => 0,
        KeyState::Pending => 1,
        KeyState::Retired => 2,
    }
}

/// One key ID of signet: its representative placement and what notary-signer should see.
struct Planned {
    main: ServerKey,
    last_used: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
}

/// Groups the server keys by key ID (see the module docs).
fn plan(keys: Vec<ServerKey>) -> Vec<Planned> {
    let mut by_id: BTreeMap<String, Vec<ServerKey>> = BTreeMap::new();
    for k in keys {
        by_id.entry(k.key_id.clone()).or_default().push(k);
    }
    let mut out = Vec::with_capacity(by_id.len());
    for (_, mut group) in by_id {
        group.sort_by(|a, b| {
            state_rank(a.state)
                .cmp(&state_rank(b.state))
                .then(b.last_used.cmp(&a.last_used))
                .then(a.created_at.cmp(&b.created_at))
        });
        let created_at = group
            .iter()
            .map(|k| k.created_at)
            .min()
            .unwrap_or_else(Utc::now);
        let used = group.iter().fold(None, |acc, k| latest(acc, k.last_used));
        let all_pending = group.iter().all(|k| k.state == KeyState::Pending);
        let last_used = if all_pending {
            None
        } else {
            used.or(Some(created_at))
        };
        let mut group = group.into_iter();
        if let Some(main) = group.next() {
            out.push(Planned {
                main,
                last_used,
                created_at,
            });
        }
    }
    out
}

/// Writes signet's server keys into the notary-signer database `signer`, as described in
/// the module documentation. `passphrases` must hold the passphrase of `opts.alias`.
pub async fn export(
    store: &Store,
    kek: &Arc<Kek>,
    signer: &SignerDb,
    passphrases: &Passphrases,
    opts: &ExportOptions,
) -> Result<ExportReport, NotarySignerError> {
    let alias = opts.alias.clone();
    if alias.is_empty() {
        return Err(NotarySignerError::InvalidAlias {
            alias,
            reason: "it is empty",
        });
    }
    if alias.chars().count() > MAX_ALIAS_LEN {
        return Err(NotarySignerError::InvalidAlias {
            alias,
            reason: "it is longer than the 50 characters of the passphrase_alias column",
        });
    }
    let planned = plan(target::all_server_keys(store).await?);
    let existing: BTreeMap<String, super::SignerRow> = signer
        .keys()
        .await?
        .into_iter()
        .map(|r| (r.key_id.clone(), r))
        .collect();

    let mut report = ExportReport {
        dry_run: opts.dry_run,
        alias: alias.clone(),
        entries: Vec::new(),
    };
    // Rows that need a (new) ciphertext, and updates of live rows.
    let mut to_encrypt: Vec<(NewSignerRow, Zeroizing<Vec<u8>>, bool)> = Vec::new();
    let mut writes = Vec::new();
    let mut problems = Vec::new();
    for p in planned {
        let k = &p.main;
        let problem = |reason: String| KeyProblem {
            key_id: k.key_id.clone(),
            gun: k.gun.clone(),
            role: k.role.clone(),
            reason,
        };
        let action = match existing.get(&k.key_id) {
            Some(row) if !row.deleted => {
                let public: Option<signet_tuf::PublicKey> =
                    serde_json::from_slice(&k.public_key).ok();
                if public.as_ref().map(|p| p.public()) != Some(row.public.as_slice()) {
                    problems.push(problem(
                        "notary-signer already has a row with this key ID and another public \
                         key"
                        .to_owned(),
                    ));
                    continue;
                }
                let last_used = latest(row.last_used, p.last_used);
                let gun = if row.gun.is_empty() {
                    k.gun.clone()
                } else {
                    row.gun.clone()
                };
                let role = if row.role.is_empty() {
                    k.role.clone()
                } else {
                    row.role.clone()
                };
                // MySQL keeps whole seconds: a time equal to the second is no change.
                let same_time =
                    last_used.map(|t| t.timestamp()) == row.last_used.map(|t| t.timestamp());
                if !same_time || gun != row.gun || role != row.role {
                    writes.push(SignerWrite::Update {
                        key_id: k.key_id.clone(),
                        gun,
                        role,
                        last_used,
                    });
                    ExportAction::Updated
                } else {
                    ExportAction::Unchanged
                }
            }
            found => {
                let restore = found.is_some();
                let key_id: KeyId = match k.key_id.parse() {
                    Ok(id) => id,
                    Err(e) => {
                        problems.push(problem(format!("invalid key ID: {e}")));
                        continue;
                    }
                };
                if !k.has_sealed_copy() {
                    problems.push(problem(
                        "it is held only in the YubiHSM 2 (no sealed copy), and notary-signer \
                         cannot use it: rotate the key first"
                            .to_owned(),
                    ));
                    continue;
                }
                let key =
                    match open_private_key(kek, &k.sealed_private_key, &k.gun, &k.role, &key_id) {
                        Ok(key) => key,
                        Err(e) => {
                            problems.push(problem(format!(
                                "cannot open it with the key-encryption key: {e}"
                            )));
                            continue;
                        }
                    };
                let plain = match keys::encode(&key) {
                    Ok(p) => p,
                    Err(reason) => {
                        problems.push(problem(reason));
                        continue;
                    }
                };
                to_encrypt.push((
                    NewSignerRow {
                        key_id: k.key_id.clone(),
                        algorithm: key.algorithm().as_str().to_owned(),
                        passphrase_alias: alias.clone(),
                        public: key.public_key().public().to_vec(),
                        private: String::new(),
                        gun: k.gun.clone(),
                        role: k.role.clone(),
                        created_at: p.created_at,
                        last_used: p.last_used,
                    },
                    plain,
                    restore,
                ));
                if restore {
                    ExportAction::Restored
                } else {
                    ExportAction::Added
                }
            }
        };
        report.entries.push(ExportedEntry {
            key_id: k.key_id.clone(),
            gun: k.gun.clone(),
            role: k.role.clone(),
            state: k.state,
            action,
        });
    }
    if !problems.is_empty() {
        return Err(NotarySignerError::ExportKeys(problems));
    }
    // The passphrase is needed (and checked, in a dry run too) only for new ciphertexts.
    let passphrase = match passphrases.get(&alias) {
        Some(p) => p,
        None if to_encrypt.is_empty() => Zeroizing::new(String::new()),
        None => {
            return Err(NotarySignerError::MissingPassphrases(vec![AliasProblem {
                env_var: passphrase_env_var(&alias),
                alias,
                keys: to_encrypt.len(),
            }]));
        }
    };
    if opts.dry_run || (to_encrypt.is_empty() && writes.is_empty()) {
        return Ok(report);
    }
    let encrypted = tokio::task::spawn_blocking(move || encrypt_all(to_encrypt, &passphrase))
        .await
        .map_err(|e| NotarySignerError::Internal(format!("encrypting keys: {e}")))??;
    writes.extend(encrypted);
    signer.apply(&writes).await?;
    for e in &report.entries {
        tracing::debug!(gun = %e.gun, role = %e.role, key_id = %e.key_id,
            action = e.action.as_str(), "exported server key to notary-signer");
    }
    Ok(report)
}

/// Encrypts each row's private key, checking that the result decrypts to the same bytes.
fn encrypt_all(
    rows: Vec<(NewSignerRow, Zeroizing<Vec<u8>>, bool)>,
    passphrase: &Zeroizing<String>,
) -> Result<Vec<SignerWrite>, NotarySignerError> {
    let mut out = Vec::with_capacity(rows.len());
    for (mut row, plain, restore) in rows {
        let problem = |reason: String| {
            NotarySignerError::ExportKeys(vec![KeyProblem {
                key_id: row.key_id.clone(),
                gun: row.gun.clone(),
                role: row.role.clone(),
                reason,
            }])
        };
        let compact = jwe::encrypt(&plain, passphrase.as_bytes())
            .map_err(|e| problem(format!("cannot encrypt it: {e}")))?;
        let back = jwe::decrypt(&compact, passphrase.as_bytes())
            .map_err(|e| problem(format!("its new ciphertext does not decrypt: {e}")))?;
        if back.as_slice() != plain.as_slice() {
            return Err(problem(
                "its new ciphertext decrypts to other bytes".to_owned(),
            ));
        }
        row.private = compact;
        out.push(if restore {
            SignerWrite::Restore(row)
        } else {
            SignerWrite::Insert(row)
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn key(id: &str, gun: &str, state: KeyState, used: Option<i64>, created: i64) -> ServerKey {
        ServerKey {
            gun: gun.to_owned(),
            role: "timestamp".to_owned(),
            key_id: id.to_owned(),
            algorithm: "ecdsa".to_owned(),
            public_key: Bytes::new(),
            sealed_private_key: Bytes::new(),
            state,
            created_at: DateTime::from_timestamp(created, 0).unwrap(),
            last_used: used.map(|t| DateTime::from_timestamp(t, 0).unwrap()),
            hsm: None,
        }
    }

    #[test]
    fn one_row_per_key_id_with_notary_last_used() {
        let p = plan(vec![
            key("a", "g1", KeyState::Retired, Some(50), 10),
            key("a", "g2", KeyState::Active, Some(40), 20),
            key("b", "g", KeyState::Pending, None, 30),
            key("c", "g", KeyState::Active, None, 30),
            key("d", "g", KeyState::Retired, None, 35),
        ]);
        let by: BTreeMap<&str, &Planned> = p.iter().map(|p| (p.main.key_id.as_str(), p)).collect();
        assert_eq!(by.len(), 4);
        assert_eq!(by["a"].main.gun, "g2", "the active placement wins");
        assert_eq!(by["a"].last_used.unwrap().timestamp(), 50);
        assert_eq!(by["a"].created_at.timestamp(), 10);
        assert_eq!(by["b"].last_used, None, "pending stays unused");
        assert_eq!(by["c"].last_used.unwrap().timestamp(), 30);
        assert_eq!(by["d"].last_used.unwrap().timestamp(), 35);
    }
}
