//! Copying the rows of another notary-server database into the store as they are
//! (`signet-server import-notary-server`): [`CopySession`].
//!
//! A session is one database transaction, owned by a task of its own (as every write is,
//! see [`super::detached`]): the caller hands it batches of rows and gets back what each
//! row did. Dropping the session without [`CopySession::finish`] rolls everything back, so
//! a caller that fails half-way, or is cancelled, leaves nothing behind and no transaction
//! open.

use chrono::{DateTime, Timelike as _, Utc};
use tokio::sync::{mpsc, oneshot};

use super::Store;
use super::checks::check_name;
use super::error::{StoreError, StoreResult};
use super::postgres::PgCopy;
use super::sqlite::SqliteCopy;
use super::types::{CopiedChange, CopiedFile, CopyOutcome};

/// A transaction copying rows into the store; see [`Store::copy_session`].
///
/// In a dry run the transaction only reads: every row is classified as it would be, and
/// nothing is written. Otherwise new rows are inserted as they come and become visible
/// together at [`CopySession::finish`]; dropping the session instead rolls them back.
#[derive(Debug)]
pub struct CopySession {
    commands: mpsc::Sender<Command>,
    dry_run: bool,
}

/// A request to the task owning the transaction.
enum Command {
    Files(
        Vec<CopiedFile>,
        oneshot::Sender<StoreResult<Vec<CopyOutcome>>>,
    ),
    Changes(
        Vec<CopiedChange>,
        oneshot::Sender<StoreResult<Vec<CopyOutcome>>>,
    ),
    Finish(oneshot::Sender<StoreResult<()>>),
}

/// The open transaction of one backend.
enum CopyTx {
    Postgres(PgCopy),
    Sqlite(SqliteCopy),
}

impl CopyTx {
    async fn files(&mut self, rows: Vec<CopiedFile>) -> StoreResult<Vec<CopyOutcome>> {
        let rows = prepare_files(rows)?;
        match self {
            Self::Postgres(t) => t.files(&rows).await,
            Self::Sqlite(t) => t.files(&rows).await,
        }
    }

    async fn changes(&mut self, rows: Vec<CopiedChange>) -> StoreResult<Vec<CopyOutcome>> {
        let rows = prepare_changes(rows)?;
        match self {
            Self::Postgres(t) => t.changes(&rows).await,
            Self::Sqlite(t) => t.changes(&rows).await,
        }
    }

    async fn finish(self) -> StoreResult<()> {
        match self {
            Self::Postgres(t) => t.finish().await,
            Self::Sqlite(t) => t.finish().await,
        }
    }

    async fn abort(self) {
        match self {
            Self::Postgres(t) => t.abort().await,
            Self::Sqlite(t) => t.abort().await,
        }
    }
}

/// What the operations report once the task has gone (after an error, or a finish).
fn ended() -> StoreError {
    StoreError::WriteTask {
        context: "copy of notary-server rows".to_owned(),
        detail: "the copy transaction has already ended".to_owned(),
    }
}

impl CopySession {
    /// Starts the transaction on a task of its own.
    pub(crate) async fn begin(store: &Store, dry_run: bool) -> StoreResult<Self> {
        let (commands, receiver) = mpsc::channel(1);
        let (ready, started) = oneshot::channel();
        let handle = tokio::spawn(run(store.clone(), dry_run, receiver, ready));
        tokio::spawn(async move {
            if let Err(e) = handle.await {
                tracing::error!(error = %e, "the copy task ended abnormally");
            }
        });
        started.await.map_err(|_| ended())??;
        Ok(Self { commands, dry_run })
    }

    /// Whether this session only reads.
    #[must_use]
    pub fn dry_run(&self) -> bool {
        self.dry_run
    }

    /// Copies `tuf_files` rows, keyed by (GUN, role, version): a row not stored yet is
    /// inserted as it is (its `id` is the store's own); one stored with the same data,
    /// checksum and times is [`CopyOutcome::Identical`]; one stored with other content is
    /// [`CopyOutcome::Differs`] and left alone. Outcomes are in the order of `rows`.
    ///
    /// An error ends the session (and rolls it back).
    pub async fn files(&mut self, rows: Vec<CopiedFile>) -> StoreResult<Vec<CopyOutcome>> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(Command::Files(rows, reply))
            .await
            .map_err(|_| ended())?;
        answer.await.map_err(|_| ended())?
    }

    /// Copies changefeed records with their IDs, keyed by ID, as [`CopySession::files`]
    /// does. Categories the store does not know yet are added to `change_category`.
    pub async fn changes(&mut self, rows: Vec<CopiedChange>) -> StoreResult<Vec<CopyOutcome>> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(Command::Changes(rows, reply))
            .await
            .map_err(|_| ended())?;
        answer.await.map_err(|_| ended())?
    }

    /// Commits: every inserted row becomes visible at once, and (PostgreSQL) the changefeed
    /// ID sequence is moved past the highest stored ID so that new records get higher IDs.
    /// A dry run just ends its read transaction.
    pub async fn finish(self) -> StoreResult<()> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(Command::Finish(reply))
            .await
            .map_err(|_| ended())?;
        answer.await.map_err(|_| ended())?
    }
}

/// The task owning the transaction: begins it, answers commands until a finish, an error or
/// the session being dropped, and rolls back in the last two cases.
async fn run(
    store: Store,
    dry_run: bool,
    mut commands: mpsc::Receiver<Command>,
    ready: oneshot::Sender<StoreResult<()>>,
) {
    let begun = match &store {
        Store::Postgres(s) => s.begin_copy(dry_run).await.map(CopyTx::Postgres),
        Store::Sqlite(s) => s.begin_copy(dry_run).await.map(CopyTx::Sqlite),
    };
    let mut tx = match begun {
        Ok(tx) => tx,
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    if ready.send(Ok(())).is_err() {
        tx.abort().await;
        return;
    }
    // The GUNs whose files were copied, for their expiry records once the copy commits.
    let mut guns = std::collections::BTreeSet::new();
    while let Some(command) = commands.recv().await {
        let failed = match command {
            Command::Files(rows, reply) => {
                if !dry_run {
                    guns.extend(rows.iter().map(|r| r.gun.clone()));
                }
                let outcome = tx.files(rows).await;
                let failed = outcome.is_err();
                let _ = reply.send(outcome);
                failed
            }
            Command::Changes(rows, reply) => {
                let outcome = tx.changes(rows).await;
                let failed = outcome.is_err();
                let _ = reply.send(outcome);
                failed
            }
            Command::Finish(reply) => {
                let finished = tx.finish().await;
                if finished.is_ok() {
                    record_expiry(&store, &guns).await;
                    if !dry_run {
                        // The commit restarted the key index backfill: a failure here leaves
                        // it to the next start-up.
                        if let Err(e) = store.backfill_key_trust().await {
                            tracing::warn!(error = %e, "could not index the keys of the copied metadata");
                        }
                    }
                }
                let _ = reply.send(finished);
                return;
            }
        };
        if failed {
            break;
        }
    }
    tx.abort().await;
}

/// Records the expiry of the current metadata of every copied GUN (for the expiry gauges).
/// A GUN that fails is left to the changefeed catch-up of the running server
/// ([`Store::sync_expiry`]), which the copied records lead to.
async fn record_expiry(store: &Store, guns: &std::collections::BTreeSet<String>) {
    let mut recorded = 0_usize;
    for gun in guns {
        match store.sync_expiry_of(gun).await {
            Ok(true) => recorded += 1,
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(%gun, error = %e, "could not record the expiry of copied metadata");
            }
        }
    }
    tracing::info!(
        repositories = recorded,
        "recorded the expiry of the copied metadata"
    );
}

/// Checks names and versions; times to the microsecond both databases keep.
fn prepare_files(rows: Vec<CopiedFile>) -> StoreResult<Vec<CopiedFile>> {
    rows.into_iter()
        .map(|mut r| {
            check_name(&r.gun, "GUN", &r.gun)?;
            check_name(&r.gun, "role", &r.role)?;
            check_version(&r.gun, &r.role, r.version)?;
            r.sha256 = r.sha256.trim_end().to_owned();
            r.created_at = r.created_at.map(micros);
            r.updated_at = r.updated_at.map(micros);
            r.deleted_at = r.deleted_at.map(micros);
            Ok(r)
        })
        .collect()
}

/// Checks names, versions and IDs; times to the microsecond; `CHAR` padding off.
fn prepare_changes(rows: Vec<CopiedChange>) -> StoreResult<Vec<CopiedChange>> {
    rows.into_iter()
        .map(|mut r| {
            check_name(&r.gun, "GUN", &r.gun)?;
            check_version(&r.gun, "changefeed", r.version)?;
            if i32::try_from(r.id).is_err() || r.id < 1 {
                return Err(StoreError::Corrupt {
                    gun: r.gun,
                    role: "changefeed".to_owned(),
                    detail: format!("record ID {} is outside 1..={}", r.id, i32::MAX),
                });
            }
            r.sha256 = r.sha256.map(|s| s.trim_end().to_owned());
            r.created_at = r.created_at.map(micros);
            Ok(r)
        })
        .collect()
}

fn check_version(gun: &str, role: &str, version: i64) -> StoreResult<()> {
    if i32::try_from(version).is_err() {
        return Err(StoreError::VersionOutOfRange {
            gun: gun.to_owned(),
            role: role.to_owned(),
            version,
        });
    }
    Ok(())
}

/// `t` without its sub-microsecond part (what PostgreSQL keeps).
fn micros(t: DateTime<Utc>) -> DateTime<Utc> {
    let nanos = t.nanosecond();
    t.with_nanosecond(nanos - nanos % 1_000).unwrap_or(t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::types::test_file as file;

    #[test]
    fn times_keep_microseconds() {
        let t = DateTime::<Utc>::from_timestamp(1_700_000_000, 123_456_789).unwrap();
        assert_eq!(micros(t).nanosecond(), 123_456_000);
    }

    #[test]
    fn out_of_range_rows_are_refused() {
        let mut f = file("g", 1, b"a");
        f.version = i64::from(i32::MAX) + 1;
        assert!(matches!(
            prepare_files(vec![f]),
            Err(StoreError::VersionOutOfRange { .. })
        ));
        let c = CopiedChange {
            id: 0,
            created_at: None,
            gun: "g".to_owned(),
            version: 1,
            sha256: None,
            category: "update".to_owned(),
        };
        assert!(matches!(
            prepare_changes(vec![c]),
            Err(StoreError::Corrupt { .. })
        ));
    }
}
