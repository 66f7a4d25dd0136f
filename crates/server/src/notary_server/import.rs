//! `signet-server import-notary-server`: the metadata and changefeed of a Go notary-server
//! database become signet's own, byte for byte.
//!
//! | source | copied into signet's `tuf_files` / `changefeed` |
//! |---|---|
//! | `tuf_files` row | `gun`, `role`, `version`, `data`, `sha256`, `created_at`, `updated_at` and `deleted_at` as they are; a NULL (or empty) `sha256` gets the lowercase hex SHA-256 of `data`, as Go's migration 0003 computes it. The `id` is signet's own (nothing reads it). |
//! | soft-deleted `tuf_files` row (`deleted_at` set) | copied as it is: signet, like Go, never serves it, and it keeps holding its (GUN, role, version). Go never sets `deleted_at` itself (its DELETE is a hard delete). |
//! | changefeed record | with its `id`, `created_at`, `gun`, `version`, `sha256` and `category`, so clients' changefeed cursors stay valid. PostgreSQL's ID sequence is then moved past the highest ID (SQLite's AUTOINCREMENT follows by itself), so new records get higher IDs. |
//!
//! A row signet already stores with the same key ((GUN, role, version), or changefeed ID)
//! and the same content is skipped, so running the import again changes nothing. A row
//! stored with other content is a conflict: every conflict is named and nothing is written.
//!
//! All or nothing: the source is read in one consistent read-only snapshot, streamed in
//! batches (a fleet's files are never in memory at once), and written in one transaction of
//! signet's database ([`crate::store::CopySession`]). An import that fails or is interrupted
//! leaves signet's database as it was; run it again.

use std::collections::BTreeMap;
use std::fmt;

use futures_util::TryStreamExt as _;

use super::source::{ServerDb, Snapshot, SourceFile};
use crate::error::{NotaryServerError, RowConflict};
use crate::store::{CopiedChange, CopiedFile, CopyOutcome, CopySession, Store, StoreError};

/// Rows per batch handed to the store.
const BATCH_ROWS: usize = 256;
/// Bytes of file data per batch handed to the store (a batch ends after the row that
/// reaches it).
const BATCH_BYTES: usize = 8 << 20;
/// Conflicts kept for the error message (all are counted).
const CONFLICTS_KEPT: usize = 100;
/// Checksum mismatches named in the warnings (all are counted).
const MISMATCHES_NAMED: usize = 20;

/// Options of [`import`].
#[derive(Debug, Clone, Default)]
pub struct ServerImportOptions {
    /// Read and compare everything, write nothing.
    pub dry_run: bool,
}

/// What happened to the files of one GUN.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GunSummary {
    /// Files copied (in a dry run: to be copied).
    pub copied: usize,
    /// Files signet already stored, identical (skipped).
    pub identical: usize,
}

/// The outcome of [`import`]; its `Display` is the command's output.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerImportReport {
    /// Whether nothing was written.
    pub dry_run: bool,
    /// `postgres` or `mysql`.
    pub source: &'static str,
    /// Rows read from `tuf_files`.
    pub files_read: usize,
    /// Files copied, by role (`root`, `targets`, `delegations` for `targets/…`,
    /// `snapshot`, `timestamp`, or the role itself for anything else).
    pub copied: BTreeMap<String, usize>,
    /// Soft-deleted files among the copied ones.
    pub soft_deleted_copied: usize,
    /// Copied files whose `sha256` column was NULL and was computed.
    pub checksums_computed: usize,
    /// Files signet already stored, identical (skipped).
    pub identical_files: usize,
    /// Per GUN.
    pub guns: BTreeMap<String, GunSummary>,
    /// Changefeed records read.
    pub changes_read: usize,
    /// Changefeed records copied.
    pub changes_copied: usize,
    /// Changefeed records signet already stored, identical (skipped).
    pub identical_changes: usize,
    /// The lowest and highest ID of the copied changefeed records.
    pub copied_change_ids: Option<(i64, i64)>,
    /// Rows whose `sha256` column does not match their data (copied as they are).
    pub checksum_mismatches: usize,
    /// Things the operator should know (the first checksum columns that do not match their
    /// data).
    pub warnings: Vec<String>,
}

impl ServerImportReport {
    /// Files copied (or to be copied), all roles.
    #[must_use]
    pub fn files_copied(&self) -> usize {
        self.copied.values().sum()
    }

    /// Files copied (or to be copied) of one role class (see [`ServerImportReport::copied`]).
    #[must_use]
    pub fn copied_of(&self, role: &str) -> usize {
        self.copied.get(role).copied().unwrap_or(0)
    }
}

/// The role class a file is counted under.
fn role_class(role: &str) -> String {
    if role.starts_with("targets/") {
        "delegations".to_owned()
    } else {
        role.to_owned()
    }
}

const ROLE_ORDER: [&str; 5] = ["root", "targets", "delegations", "snapshot", "timestamp"];

fn plural(n: usize, one: &'static str, many: &'static str) -> &'static str {
    if n == 1 { one } else { many }
}

impl fmt::Display for ServerImportReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let copy = if self.dry_run { "would copy" } else { "copied" };
        writeln!(
            f,
            "notary-server database ({}): {} file{} of {} GUN{}, {} changefeed record{}{}",
            self.source,
            self.files_read,
            plural(self.files_read, "", "s"),
            self.guns.len(),
            plural(self.guns.len(), "", "s"),
            self.changes_read,
            plural(self.changes_read, "", "s"),
            if self.dry_run {
                " (dry run: nothing is written)"
            } else {
                ""
            }
        )?;
        for (gun, g) in &self.guns {
            match (g.copied, g.identical) {
                (0, n) => writeln!(f, "  already held  {gun}: {n} file{}", plural(n, "", "s"))?,
                (c, 0) => writeln!(f, "  {copy:<13} {gun}: {c} file{}", plural(c, "", "s"))?,
                (c, n) => writeln!(
                    f,
                    "  {copy:<13} {gun}: {c} file{} ({n} already held)",
                    plural(c, "", "s")
                )?,
            }
        }
        for w in &self.warnings {
            writeln!(f, "  warning: {w}")?;
        }
        if self.checksum_mismatches > MISMATCHES_NAMED {
            writeln!(
                f,
                "  warning: and {} more rows whose sha256 column is not the SHA-256 of their data",
                self.checksum_mismatches - MISMATCHES_NAMED
            )?;
        }
        let by_role: Vec<String> = ROLE_ORDER
            .iter()
            .map(|r| format!("{r} {}", self.copied_of(r)))
            .chain(
                self.copied
                    .iter()
                    .filter(|(r, _)| !ROLE_ORDER.contains(&r.as_str()))
                    .map(|(r, n)| format!("{r} {n}")),
            )
            .collect();
        writeln!(
            f,
            "files {}: {} ({})",
            if self.dry_run { "to copy" } else { "copied" },
            self.files_copied(),
            by_role.join(", ")
        )?;
        if self.soft_deleted_copied > 0 {
            writeln!(
                f,
                "  soft-deleted (deleted_at set; copied as they are, never served): {}",
                self.soft_deleted_copied
            )?;
        }
        if self.checksums_computed > 0 {
            writeln!(
                f,
                "  sha256 computed (the column was NULL): {}",
                self.checksums_computed
            )?;
        }
        writeln!(
            f,
            "files already held, identical (skipped): {}",
            self.identical_files
        )?;
        write!(
            f,
            "changefeed records {}: {}",
            if self.dry_run { "to copy" } else { "copied" },
            self.changes_copied
        )?;
        if let Some((lo, hi)) = self.copied_change_ids {
            write!(f, " (IDs {lo} to {hi}, kept)")?;
        }
        writeln!(f)?;
        writeln!(
            f,
            "changefeed records already held, identical (skipped): {}",
            self.identical_changes
        )
    }
}

/// Conflicts found so far.
#[derive(Default)]
struct Conflicts {
    kept: Vec<RowConflict>,
    total: usize,
}

impl Conflicts {
    fn add(&mut self, c: RowConflict) {
        self.total += 1;
        if self.kept.len() < CONFLICTS_KEPT {
            self.kept.push(c);
        }
    }
}

fn store_error(context: &'static str) -> impl FnOnce(StoreError) -> NotaryServerError {
    move |source| NotaryServerError::Store {
        context: context.to_owned(),
        source,
    }
}

/// Copies the `tuf_files` rows and changefeed records of the notary-server database
/// `source` into `store`, as described in the module documentation.
pub async fn import(
    store: &Store,
    source: &ServerDb,
    opts: &ServerImportOptions,
) -> Result<ServerImportReport, NotaryServerError> {
    let mut snapshot = source.snapshot().await?;
    let outcome = copy_all(store, &mut snapshot, source.kind(), opts).await;
    snapshot.end().await;
    outcome
}

async fn copy_all(
    store: &Store,
    snapshot: &mut Snapshot,
    kind: &'static str,
    opts: &ServerImportOptions,
) -> Result<ServerImportReport, NotaryServerError> {
    let mut session = store
        .copy_session(opts.dry_run)
        .await
        .map_err(store_error("starting the copy"))?;
    let mut report = ServerImportReport {
        dry_run: opts.dry_run,
        source: kind,
        ..ServerImportReport::default()
    };
    let mut conflicts = Conflicts::default();

    let mut files = snapshot.files();
    let mut batch = FileBatch::default();
    while let Some(row) = files.try_next().await? {
        report.files_read += 1;
        batch.push(row, &mut report);
        if batch.is_full() {
            batch
                .flush(&mut session, &mut report, &mut conflicts)
                .await?;
        }
    }
    drop(files);
    batch
        .flush(&mut session, &mut report, &mut conflicts)
        .await?;

    let mut changes = snapshot.changes();
    let mut batch = Vec::new();
    while let Some(row) = changes.try_next().await? {
        report.changes_read += 1;
        batch.push(row);
        if batch.len() >= BATCH_ROWS {
            flush_changes(&mut session, &mut batch, &mut report, &mut conflicts).await?;
        }
    }
    drop(changes);
    flush_changes(&mut session, &mut batch, &mut report, &mut conflicts).await?;

    if conflicts.total > 0 {
        // Dropping the session rolls back everything inserted so far.
        drop(session);
        return Err(NotaryServerError::Conflicts {
            conflicts: conflicts.kept,
            total: conflicts.total,
        });
    }
    session
        .finish()
        .await
        .map_err(store_error("committing the copy"))?;
    Ok(report)
}

/// `tuf_files` rows waiting to be handed to the store.
#[derive(Default)]
struct FileBatch {
    rows: Vec<CopiedFile>,
    /// Whether each row's checksum was computed.
    computed: Vec<bool>,
    bytes: usize,
}

impl FileBatch {
    /// Adds a source row, computing its checksum when the column is empty.
    fn push(&mut self, row: SourceFile, report: &mut ServerImportReport) {
        let actual = crate::store::sha256_hex(&row.data);
        let (sha256, computed) = match row.sha256 {
            Some(s) if !s.is_empty() => {
                if s != actual {
                    report.checksum_mismatches += 1;
                    if report.checksum_mismatches <= MISMATCHES_NAMED {
                        report.warnings.push(format!(
                            "tuf_files row {} ({} {} version {}): its sha256 column {s} is not \
                             the SHA-256 of its data ({actual}); copied as it is, and served \
                             under that checksum as Go serves it",
                            row.id, row.gun, row.role, row.version
                        ));
                    }
                }
                (s, false)
            }
            _ => (actual, true),
        };
        self.bytes += row.data.len();
        self.computed.push(computed);
        self.rows.push(CopiedFile {
            gun: row.gun,
            role: row.role,
            version: row.version,
            data: row.data,
            sha256,
            created_at: row.created_at,
            updated_at: row.updated_at,
            deleted_at: row.deleted_at,
        });
    }

    fn is_full(&self) -> bool {
        self.rows.len() >= BATCH_ROWS || self.bytes >= BATCH_BYTES
    }

    async fn flush(
        &mut self,
        session: &mut CopySession,
        report: &mut ServerImportReport,
        conflicts: &mut Conflicts,
    ) -> Result<(), NotaryServerError> {
        if self.rows.is_empty() {
            return Ok(());
        }
        let rows = std::mem::take(&mut self.rows);
        let computed = std::mem::take(&mut self.computed);
        self.bytes = 0;
        // The data is shared (`Bytes`), so the copy for the report is cheap.
        let outcomes = session
            .files(rows.clone())
            .await
            .map_err(store_error("copying tuf_files rows"))?;
        for ((row, computed), outcome) in rows.into_iter().zip(computed).zip(outcomes) {
            let gun = report.guns.entry(row.gun.clone()).or_default();
            match outcome {
                CopyOutcome::New => {
                    gun.copied += 1;
                    *report.copied.entry(role_class(&row.role)).or_default() += 1;
                    report.soft_deleted_copied += usize::from(row.deleted_at.is_some());
                    report.checksums_computed += usize::from(computed);
                }
                CopyOutcome::Identical => {
                    gun.identical += 1;
                    report.identical_files += 1;
                }
                CopyOutcome::Differs(columns) => conflicts.add(RowConflict::File {
                    gun: row.gun,
                    role: row.role,
                    version: row.version,
                    columns,
                }),
            }
        }
        Ok(())
    }
}

async fn flush_changes(
    session: &mut CopySession,
    batch: &mut Vec<CopiedChange>,
    report: &mut ServerImportReport,
    conflicts: &mut Conflicts,
) -> Result<(), NotaryServerError> {
    if batch.is_empty() {
        return Ok(());
    }
    let rows = std::mem::take(batch);
    let outcomes = session
        .changes(rows.clone())
        .await
        .map_err(store_error("copying changefeed records"))?;
    for (row, outcome) in rows.into_iter().zip(outcomes) {
        match outcome {
            CopyOutcome::New => {
                report.changes_copied += 1;
                report.copied_change_ids = Some(match report.copied_change_ids {
                    Some((lo, hi)) => (lo.min(row.id), hi.max(row.id)),
                    None => (row.id, row.id),
                });
            }
            CopyOutcome::Identical => report.identical_changes += 1,
            CopyOutcome::Differs(columns) => conflicts.add(RowConflict::Change {
                id: row.id,
                gun: row.gun,
                columns,
            }),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_counted_by_class() {
        assert_eq!(role_class("targets/releases"), "delegations");
        assert_eq!(role_class("targets"), "targets");
        assert_eq!(role_class("root"), "root");
    }

    #[test]
    fn missing_checksums_are_computed_and_wrong_ones_kept() {
        let mut report = ServerImportReport::default();
        let mut batch = FileBatch::default();
        let row = |sha256: Option<&str>| SourceFile {
            id: 1,
            gun: "g".to_owned(),
            role: "root".to_owned(),
            version: 1,
            data: bytes::Bytes::from_static(b"abc"),
            sha256: sha256.map(str::to_owned),
            created_at: None,
            updated_at: None,
            deleted_at: None,
        };
        let abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        batch.push(row(None), &mut report);
        batch.push(row(Some("")), &mut report);
        batch.push(row(Some(abc)), &mut report);
        batch.push(row(Some(&"0".repeat(64))), &mut report);
        let sums: Vec<&str> = batch.rows.iter().map(|r| r.sha256.as_str()).collect();
        let zeros = "0".repeat(64);
        assert_eq!(sums, vec![abc, abc, abc, zeros.as_str()]);
        assert_eq!(batch.computed, vec![true, true, false, false]);
        assert_eq!(report.warnings.len(), 1, "{:?}", report.warnings);
        assert_eq!(report.checksum_mismatches, 1);
        for _ in 0..MISMATCHES_NAMED + 5 {
            batch.push(row(Some(&"0".repeat(64))), &mut report);
        }
        assert_eq!(report.warnings.len(), MISMATCHES_NAMED);
        assert!(report.to_string().contains("and 6 more rows"), "{report}");
    }

    #[test]
    fn report_lists_guns_and_counts() {
        let mut report = ServerImportReport {
            dry_run: true,
            source: "mysql",
            files_read: 3,
            changes_read: 1,
            changes_copied: 1,
            copied_change_ids: Some((4, 4)),
            ..ServerImportReport::default()
        };
        report.copied.insert("root".to_owned(), 2);
        report.guns.insert(
            "a".to_owned(),
            GunSummary {
                copied: 2,
                identical: 1,
            },
        );
        let text = report.to_string();
        assert!(text.contains("dry run"), "{text}");
        assert!(
            text.contains("would copy    a: 2 files (1 already held)"),
            "{text}"
        );
        assert!(
            text.contains("files to copy: 2 (root 2, targets 0"),
            "{text}"
        );
        assert!(text.contains("IDs 4 to 4"), "{text}");
    }
}
