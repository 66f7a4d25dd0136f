//! `signet-server import-notary-signer`: a Go notary-signer's keys become signet's own
//! server keys.
//!
//! Where each key goes is decided by the metadata signet serves, not by the row's `gun` and
//! `role` columns (which rows older than notary-signer's second MySQL migration lack). The
//! current root is the one signet serves: named by the current snapshot, which the newest
//! timestamp names (the highest root version when a GUN has no timestamp yet).
//!
//! | the key is… | becomes, for each such (GUN, role) |
//! |---|---|
//! | listed for `timestamp`/`snapshot` by the current root of a GUN | `active` |
//! | listed by another stored root version only | `retired` |
//! | listed by no stored root, never used (`last_used` NULL), with `gun` and `role` set | `pending`: handed out by `GET …/<role>.key` as if signet had made it |
//! | listed by no stored root, used, with `gun` and `role` set | `retired` |
//! | listed by no stored root and without `gun`/`role` | skipped and named (it can sign nothing a client trusts) |
//!
//! Soft-deleted rows (`deleted_at` set) are not imported: notary-signer itself no longer
//! finds them. They are counted in the report, and named when a current root lists one.
//!
//! All or nothing: every key is decrypted and checked (its public key against the `public`
//! column, the key ID against `key_id`) before anything is written, and the keys are written
//! in one transaction. A missing or wrong passphrase names the alias and how many keys it
//! protects; any other key that cannot be imported is named by key ID and stops the import
//! (`--skip-key <key ID>` leaves a key out deliberately). Keys signet already holds for the
//! same (GUN, role) are left exactly as they are, so running the import again changes
//! nothing. Imported keys keep notary-signer's `created_at` and `last_used`.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use signet_signer::PrivateKey;
use signet_signer::seal::seal_private_key;
use zeroize::Zeroizing;

use super::source::{SignerDb, SignerRow};
use super::target::{self, Listings, SERVER_ROLES};
use super::{Passphrases, Tally, jwe, keys, passphrase_env_var};
use crate::cache::{CacheSettings, MetaCache};
use crate::error::{AliasProblem, JweError, KeyProblem, NotarySignerError};
use crate::kek::Kek;
use crate::service::ServerKeyAlgorithm;
use crate::service::{MetadataService, ServiceSettings};
use crate::store::{KeyState, ServerKey, Store};

/// Options of [`import`].
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// Decide and report everything, write nothing.
    pub dry_run: bool,
    /// Key IDs to leave out (a key that cannot be imported and is known not to matter).
    pub skip_keys: BTreeSet<String>,
}

/// What happened (or, in a dry run, would happen) to one key for one (GUN, role).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedEntry {
    /// The GUN.
    pub gun: String,
    /// `timestamp` or `snapshot`.
    pub role: String,
    /// The TUF key ID.
    pub key_id: String,
    /// `ecdsa` or `ed25519`.
    pub algorithm: String,
    /// The state it gets (or, when already present, the state signet has for it).
    pub state: KeyState,
    /// Whether signet already held it (and so it was left alone).
    pub already_present: bool,
}

/// A key not imported, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedKey {
    /// The TUF key ID.
    pub key_id: String,
    /// The row's `gun` column.
    pub gun: String,
    /// The row's `role` column.
    pub role: String,
    /// Why.
    pub reason: String,
}

/// The outcome of [`import`]; its `Display` is the command's output.
#[derive(Debug, Clone, Default)]
pub struct ImportReport {
    /// Whether nothing was written.
    pub dry_run: bool,
    /// Rows in `private_keys`.
    pub rows: usize,
    /// Keys written (or to be written) and keys already held.
    pub entries: Vec<ImportedEntry>,
    /// Keys not imported: soft-deleted, skipped on request, or belonging nowhere.
    pub skipped: Vec<SkippedKey>,
    /// Other things the operator should know (unreadable roots, deleted keys still listed).
    pub warnings: Vec<String>,
}

impl ImportReport {
    /// Counts of the keys imported (or to be imported), by role and state.
    #[must_use]
    pub fn imported(&self) -> Tally {
        let mut t = Tally::default();
        for e in self.entries.iter().filter(|e| !e.already_present) {
            t.add(&e.role, e.state);
        }
        t
    }

    /// Counts of the keys signet already held, by role and state.
    #[must_use]
    pub fn already_present(&self) -> Tally {
        let mut t = Tally::default();
        for e in self.entries.iter().filter(|e| e.already_present) {
            t.add(&e.role, e.state);
        }
        t
    }
}

impl fmt::Display for ImportReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (verb, done) = if self.dry_run {
            ("would import", "would be imported")
        } else {
            ("imported", "imported")
        };
        writeln!(
            f,
            "notary-signer database: {} key row{}{}",
            self.rows,
            if self.rows == 1 { "" } else { "s" },
            if self.dry_run {
                " (dry run: nothing is written)"
            } else {
                ""
            }
        )?;
        for e in &self.entries {
            let what = if e.already_present {
                "already held"
            } else {
                verb
            };
            writeln!(
                f,
                "  {what:<13} {:<8} {:<10} {} {} {}",
                e.state.as_str(),
                e.role,
                e.key_id,
                e.algorithm,
                e.gun
            )?;
        }
        for s in &self.skipped {
            writeln!(
                f,
                "  skipped       {} (GUN {:?}, role {:?}): {}",
                s.key_id, s.gun, s.role, s.reason
            )?;
        }
        for w in &self.warnings {
            writeln!(f, "  warning: {w}")?;
        }
        let imported = self.imported();
        let present = self.already_present();
        writeln!(f, "keys {done}: {}", imported.total())?;
        if imported.total() > 0 {
            f.write_str(&imported.table("  "))?;
        }
        writeln!(
            f,
            "keys signet already held (unchanged): {}",
            present.total()
        )?;
        if present.total() > 0 {
            f.write_str(&present.table("  "))?;
        }
        writeln!(f, "rows not imported: {}", self.skipped.len())
    }
}

/// A row whose key was decrypted and checked.
struct Opened {
    row: SignerRow,
    key: PrivateKey,
}

/// Decrypts and checks every row (CPU work: PBKDF2 per key). Rows of an alias whose
/// passphrase opens none of them are reported as a wrong passphrase; other failures by key.
fn open_all(
    rows: Vec<SignerRow>,
    passphrases: &BTreeMap<String, Zeroizing<String>>,
) -> Result<Vec<Opened>, NotarySignerError> {
    let mut opened = Vec::with_capacity(rows.len());
    let mut problems = Vec::new();
    // alias → (rows, rows whose JWE reached the key unwrap, problems of those it failed).
    let mut by_alias: BTreeMap<String, (usize, usize, Vec<KeyProblem>)> = BTreeMap::new();
    for row in rows {
        let slot = by_alias.entry(row.passphrase_alias.clone()).or_default();
        slot.0 += 1;
        let problem = |reason: String| KeyProblem {
            key_id: row.key_id.clone(),
            gun: row.gun.clone(),
            role: row.role.clone(),
            reason,
        };
        let Some(passphrase) = passphrases.get(&row.passphrase_alias) else {
            continue; // checked by the caller
        };
        let plain = match jwe::decrypt(&row.private, passphrase.as_bytes()) {
            Ok(p) => {
                slot.1 += 1;
                p
            }
            Err(JweError::Unwrap) => {
                slot.1 += 1;
                slot.2.push(problem(format!(
                    "the passphrase of alias {:?} does not open it (wrong passphrase or \
                     modified data)",
                    row.passphrase_alias
                )));
                continue;
            }
            Err(e) => {
                problems.push(problem(format!(
                    "the private column cannot be decrypted: {e}"
                )));
                continue;
            }
        };
        match keys::decode(&row.algorithm, &plain, &row.public, &row.key_id) {
            Ok(key) => opened.push(Opened { row, key }),
            Err(reason) => problems.push(problem(reason)),
        }
    }
    // A passphrase that opens none of the keys it was tried on is wrong.
    let wrong: Vec<AliasProblem> = by_alias
        .iter()
        .filter(|(_, (_, tried, failed))| *tried > 0 && failed.len() == *tried)
        .map(|(alias, (rows, _, _))| AliasProblem {
            alias: alias.clone(),
            env_var: passphrase_env_var(alias),
            keys: *rows,
        })
        .collect();
    if !wrong.is_empty() {
        return Err(NotarySignerError::WrongPassphrases(wrong));
    }
    // An alias that opens some of its keys has the right passphrase: the others are damaged.
    problems.extend(by_alias.into_values().flat_map(|(_, _, failed)| failed));
    if !problems.is_empty() {
        problems.sort_by(|a, b| a.key_id.cmp(&b.key_id));
        return Err(NotarySignerError::Keys(problems));
    }
    Ok(opened)
}

/// Where one opened key goes: (GUN, role, state), or why nowhere.
fn placements(
    row: &SignerRow,
    listings: &Listings,
) -> Result<Vec<(String, String, KeyState)>, String> {
    let empty = BTreeSet::new();
    let current = listings.current.get(&row.key_id).unwrap_or(&empty);
    let any = listings.any.get(&row.key_id).unwrap_or(&empty);
    let mut out: Vec<(String, String, KeyState)> = current
        .iter()
        .map(|(g, r)| (g.clone(), r.clone(), KeyState::Active))
        .collect();
    out.extend(
        any.difference(current)
            .map(|(g, r)| (g.clone(), r.clone(), KeyState::Retired)),
    );
    let column = (row.gun.clone(), row.role.clone());
    let has_column = !row.gun.is_empty() && !row.role.is_empty();
    if has_column && !any.contains(&column) {
        if SERVER_ROLES.contains(&row.role.as_str()) {
            let state = if any.is_empty() && row.last_used.is_none() {
                KeyState::Pending
            } else {
                KeyState::Retired
            };
            out.push((column.0, column.1, state));
        } else if out.is_empty() {
            return Err(format!(
                "no stored root lists it, and its role {:?} is not one the server holds keys for",
                row.role
            ));
        }
    }
    if out.is_empty() {
        return Err(
            "no stored root lists it and its gun and role columns are empty, so it belongs \
             to no repository"
                .to_owned(),
        );
    }
    Ok(out)
}

/// Imports the keys of the notary-signer database `signer` into `store`, sealed under
/// `kek`, as described in the module documentation.
pub async fn import(
    store: &Store,
    kek: &Arc<Kek>,
    signer: &SignerDb,
    passphrases: &Passphrases,
    opts: &ImportOptions,
) -> Result<ImportReport, NotarySignerError> {
    let rows = signer.keys().await?;
    let mut report = ImportReport {
        dry_run: opts.dry_run,
        rows: rows.len(),
        ..ImportReport::default()
    };
    for id in &opts.skip_keys {
        if !rows.iter().any(|r| &r.key_id == id) {
            report.warnings.push(format!(
                "--skip-key {id}: no notary-signer row has this key ID"
            ));
        }
    }
    let mut deleted = Vec::new();
    let mut live = Vec::new();
    for row in rows {
        if row.deleted {
            deleted.push(row);
        } else if opts.skip_keys.contains(&row.key_id) {
            report.skipped.push(SkippedKey {
                key_id: row.key_id,
                gun: row.gun,
                role: row.role,
                reason: "left out with --skip-key".to_owned(),
            });
        } else {
            live.push(row);
        }
    }

    // Every alias needs a passphrase before anything else happens.
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for row in &live {
        *counts.entry(row.passphrase_alias.clone()).or_default() += 1;
    }
    let mut resolved = BTreeMap::new();
    let mut missing = Vec::new();
    for (alias, n) in &counts {
        match passphrases.get(alias) {
            Some(p) => {
                resolved.insert(alias.clone(), p);
            }
            None => missing.push(AliasProblem {
                alias: alias.clone(),
                env_var: passphrase_env_var(alias),
                keys: *n,
            }),
        }
    }
    if !missing.is_empty() {
        return Err(NotarySignerError::MissingPassphrases(missing));
    }
    let opened = tokio::task::spawn_blocking(move || open_all(live, &resolved))
        .await
        .map_err(|e| NotarySignerError::Internal(format!("decrypting keys: {e}")))??;

    let mut wanted: HashSet<String> = opened.iter().map(|o| o.row.key_id.clone()).collect();
    wanted.extend(deleted.iter().map(|r| r.key_id.clone()));
    // Signet's own view of each GUN's current root (no caching needed for one pass).
    let repo = MetadataService::new(
        store.clone(),
        MetaCache::new(CacheSettings {
            max_bytes: 0,
            current_ttl: std::time::Duration::ZERO,
        }),
        ServiceSettings {
            kek: Arc::clone(kek),
            key_algorithm: ServerKeyAlgorithm::Ecdsa,
        },
    );
    let listings = target::listings(store, &repo, &wanted).await?;
    for (gun, version, why) in &listings.unreadable {
        report.warnings.push(format!(
            "root version {version} of {gun} cannot be read, so it places no key: {why}"
        ));
    }
    for row in deleted {
        let listed = listings.current.get(&row.key_id);
        let reason = match listed {
            Some(places) => {
                let places: Vec<String> = places.iter().map(|(g, r)| format!("{g} {r}")).collect();
                report.warnings.push(format!(
                    "soft-deleted key {} is listed by the current root for {}; notary-signer \
                     could not sign with it either (rotate that key)",
                    row.key_id,
                    places.join(", ")
                ));
                "soft-deleted in notary-signer, although a current root lists it"
            }
            None => "soft-deleted in notary-signer",
        };
        report.skipped.push(SkippedKey {
            key_id: row.key_id,
            gun: row.gun,
            role: row.role,
            reason: reason.to_owned(),
        });
    }

    let mut to_insert = Vec::new();
    for o in &opened {
        let places = match placements(&o.row, &listings) {
            Ok(p) => p,
            Err(reason) => {
                report.skipped.push(SkippedKey {
                    key_id: o.row.key_id.clone(),
                    gun: o.row.gun.clone(),
                    role: o.row.role.clone(),
                    reason,
                });
                continue;
            }
        };
        for (gun, role, state) in places {
            let held = store
                .server_key(&gun, &role, &o.row.key_id)
                .await
                .map_err(|source| NotarySignerError::Store {
                    context: format!("reading {gun} {role} key {}", o.row.key_id),
                    source,
                })?;
            let algorithm = o.key.algorithm().as_str().to_owned();
            let already_present = held.is_some();
            report.entries.push(ImportedEntry {
                gun: gun.clone(),
                role: role.clone(),
                key_id: o.row.key_id.clone(),
                algorithm: algorithm.clone(),
                state: held.as_ref().map_or(state, |k| k.state),
                already_present,
            });
            if already_present || opts.dry_run {
                continue;
            }
            let sealed = seal_private_key(kek, &o.key, &gun, &role).map_err(|e| {
                NotarySignerError::Keys(vec![KeyProblem {
                    key_id: o.row.key_id.clone(),
                    gun: gun.clone(),
                    role: role.clone(),
                    reason: format!("cannot seal it under the key-encryption key: {e}"),
                }])
            })?;
            to_insert.push(ServerKey {
                key_id: o.row.key_id.clone(),
                algorithm,
                public_key: o.key.public_key().canonical_json().into(),
                sealed_private_key: sealed.into(),
                state,
                created_at: o.row.created_at.unwrap_or_else(Utc::now),
                last_used: o.row.last_used,
                hsm: None,
                gun,
                role,
            });
        }
    }
    report.skipped.sort_by(|a, b| a.key_id.cmp(&b.key_id));
    report
        .entries
        .sort_by(|a, b| (&a.gun, &a.role, &a.key_id).cmp(&(&b.gun, &b.role, &b.key_id)));

    if !to_insert.is_empty() {
        let inserted = target::insert_keys(store, &to_insert).await?;
        // Another writer may have stored one of them in between: then it is already held.
        for e in report.entries.iter_mut().filter(|e| !e.already_present) {
            if !inserted.contains(&(e.gun.clone(), e.role.clone(), e.key_id.clone())) {
                e.already_present = true;
            }
        }
        for k in &to_insert {
            tracing::debug!(gun = %k.gun, role = %k.role, key_id = %k.key_id, state = %k.state,
                "imported notary-signer key");
        }
    }
    Ok(report)
}

/// The newest of two optional times.
pub(crate) fn latest(a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(key_id: &str, gun: &str, role: &str, used: bool) -> SignerRow {
        SignerRow {
            key_id: key_id.to_owned(),
            algorithm: "ecdsa".to_owned(),
            passphrase_alias: "a".to_owned(),
            public: Vec::new(),
            private: String::new(),
            gun: gun.to_owned(),
            role: role.to_owned(),
            created_at: None,
            last_used: used.then(Utc::now),
            deleted: false,
        }
    }

    fn place(g: &str, r: &str) -> (String, String) {
        (g.to_owned(), r.to_owned())
    }

    #[test]
    fn placement_rules() {
        let mut l = Listings::default();
        l.current
            .insert("cur".into(), BTreeSet::from([place("g", "timestamp")]));
        l.any.insert(
            "cur".into(),
            BTreeSet::from([place("g", "timestamp"), place("old", "snapshot")]),
        );
        l.any
            .insert("past".into(), BTreeSet::from([place("g", "timestamp")]));

        let p = placements(&row("cur", "", "", true), &l).unwrap();
        assert_eq!(
            p,
            vec![
                ("g".into(), "timestamp".into(), KeyState::Active),
                ("old".into(), "snapshot".into(), KeyState::Retired)
            ]
        );
        // Listed in the past only: retired there, whatever the columns say.
        let p = placements(&row("past", "g", "timestamp", true), &l).unwrap();
        assert_eq!(p, vec![("g".into(), "timestamp".into(), KeyState::Retired)]);
        let p = placements(&row("past", "", "", false), &l).unwrap();
        assert_eq!(p, vec![("g".into(), "timestamp".into(), KeyState::Retired)]);
        // Never listed: by the columns.
        let p = placements(&row("new", "g", "timestamp", false), &l).unwrap();
        assert_eq!(p, vec![("g".into(), "timestamp".into(), KeyState::Pending)]);
        let p = placements(&row("new", "g", "snapshot", true), &l).unwrap();
        assert_eq!(p, vec![("g".into(), "snapshot".into(), KeyState::Retired)]);
        // Nowhere.
        assert!(placements(&row("new", "", "", false), &l).is_err());
        assert!(placements(&row("new", "g", "", true), &l).is_err());
        let e = placements(&row("new", "g", "targets", false), &l).unwrap_err();
        assert!(e.contains("targets"), "{e}");
        // A key listed somewhere never becomes pending through its columns.
        let p = placements(&row("cur", "h", "timestamp", false), &l).unwrap();
        assert!(p.contains(&("h".into(), "timestamp".into(), KeyState::Retired)));
    }

    #[test]
    fn latest_of_two_times() {
        let a = Utc::now();
        let b = a + chrono::Duration::seconds(1);
        assert_eq!(latest(Some(a), Some(b)), Some(b));
        assert_eq!(latest(None, Some(a)), Some(a));
        assert_eq!(latest(None, None), None);
    }
}
