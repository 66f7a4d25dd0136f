//! Storage of TUF metadata, the changefeed and server-held keys, on PostgreSQL or SQLite.
//!
//! The PostgreSQL tables are those of the Go notary-server (`tuf_files`, `change_category`,
//! `changefeed`), so signet can adopt an existing notary database and both servers can share
//! one. Signet adds its own indexes and the `signet_server_keys` table.
//!
//! Every operation is one transaction; reads are one database round trip. Connection
//! trouble is reported as [`StoreError::Unavailable`] and the pools reconnect by themselves.
//!
//! Every write runs to completion on a task of its own (`detached`): a caller that is
//! dropped half-way (a client that hangs up, a request timeout, a shutdown) cannot leave a
//! transaction open, a lock held or a pooled connection in a transaction. The pools also
//! close, instead of reusing, any connection that comes back still inside a transaction.

mod checks;
mod copy;
mod copy_compare;
pub mod error;
mod expiry;
mod key_trust;
mod listing;
mod postgres;
mod sqlite;
mod types;

use std::future::Future;
use std::time::Duration;

use checks::{found_key, unstorable};
use chrono::{DateTime, Utc};
use futures_util::stream::BoxStream;

pub use copy::CopySession;
pub use error::{DB_ERROR_KINDS, StorageFault, StoreError, StoreResult, UnknownKeyState};
pub use expiry::{ExpiryCounts, ExpiryRole, ExpirySummary, ExpirySync, PoolStats, ServerKeyCount};
pub use key_trust::{MAX_TRUST_PAGE, TrustCursor, TrustPage, TrustingRole};
pub use listing::{MAX_REPOSITORY_PAGE, RepositoryQuery};
pub use postgres::PgStore;
pub use sqlite::SqliteStore;
pub(crate) use types::sha256_hex;
pub use types::{
    CATEGORY_DELETION, CATEGORY_UPDATE, Change, CopiedChange, CopiedFile, CopyOutcome,
    DEFAULT_CHANGE_RECORDS, FileUpdate, HsmKeyRef, KeyState, NewServerKey, ResealedKey, ServerKey,
    StoredFile, StoredRoot, TIMESTAMP_ROLE,
};

/// A server-held key that signed a file of an update (see
/// [`Store::update_many_using_keys`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyUse {
    /// The role the key signed for (`timestamp` or `snapshot`).
    pub role: String,
    /// The key ID.
    pub key_id: String,
}

/// GUNs the key index backfill indexes in one transaction.
const KEY_BACKFILL_BATCH: u32 = 500;

/// Changefeed records before its cursor that [`Store::sync_expiry`] reads again.
pub const EXPIRY_SYNC_OVERLAP: i64 = 100;

/// Connection settings of a [`Store`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreOptions {
    /// The most connections the pool opens (for SQLite: readers; writes use one connection).
    pub max_connections: u32,
    /// How long an operation waits for a connection before failing with
    /// [`StoreError::Unavailable`].
    pub acquire_timeout: Duration,
    /// Whether [`Store::connect_with`] applies pending migrations (and so needs the database
    /// to be up). Without them the pool connects on first use.
    pub run_migrations: bool,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            max_connections: 10,
            acquire_timeout: Duration::from_secs(5),
            run_migrations: true,
        }
    }
}

/// Which database a [`Store`] uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// PostgreSQL.
    Postgres,
    /// SQLite.
    Sqlite,
}

impl Backend {
    /// The lowercase name (`postgres` or `sqlite`), for logs and metrics.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Postgres => "postgres",
            Self::Sqlite => "sqlite",
        }
    }

    /// The backend a database URL names: `postgres://`, `postgresql://` or `sqlite:`.
    pub fn from_url(url: &str) -> StoreResult<Self> {
        let scheme = url.split_once(':').map_or("", |(s, _)| s);
        match scheme.to_ascii_lowercase().as_str() {
            "postgres" | "postgresql" => Ok(Self::Postgres),
            "sqlite" => Ok(Self::Sqlite),
            _ => Err(StoreError::UnsupportedUrl {
                scheme: scheme.chars().take(32).collect(),
            }),
        }
    }
}

/// The metadata store: a PostgreSQL or SQLite connection pool. Cheap to clone (the pools are
/// shared).
#[derive(Clone, Debug)]
pub enum Store {
    /// PostgreSQL.
    Postgres(PgStore),
    /// SQLite.
    Sqlite(SqliteStore),
}

macro_rules! dispatch {
    ($self:expr, $s:ident => $e:expr) => {
        match $self {
            Store::Postgres($s) => $e,
            Store::Sqlite($s) => $e,
        }
    };
}

impl Store {
    /// Opens the database at `url` (`postgres://…` or `sqlite://path?mode=rwc`) with default
    /// options, applying pending migrations.
    pub async fn connect(url: &str) -> StoreResult<Self> {
        Self::connect_with(url, &StoreOptions::default()).await
    }

    /// Opens the database at `url` with `opts`; applies pending migrations when
    /// `opts.run_migrations` is set.
    pub async fn connect_with(url: &str, opts: &StoreOptions) -> StoreResult<Self> {
        let store = match Backend::from_url(url)? {
            Backend::Postgres => {
                if opts.run_migrations {
                    PgStore::probe(url, opts.acquire_timeout).await?;
                }
                Self::Postgres(PgStore::open(url, opts)?)
            }
            Backend::Sqlite => Self::Sqlite(SqliteStore::open(url, opts)?),
        };
        if opts.run_migrations {
            store.migrate().await?;
        }
        Ok(store)
    }

    /// Applies pending migrations (the `migrate` subcommand). Adopts an existing Go
    /// notary-server database: its tables are kept as they are. Then indexes the keys of
    /// every repository stored before the key index existed, once
    /// ([`backfill_key_trust`](Self::backfill_key_trust)).
    pub async fn migrate(&self) -> StoreResult<()> {
        dispatch!(self, s => s.migrate().await)?;
        self.backfill_key_trust().await.map(|_| ())
    }

    /// The versions and descriptions of the embedded migrations of this backend.
    #[must_use]
    pub fn migrations(&self) -> Vec<(i64, String)> {
        let migrator = match self {
            Self::Postgres(_) => PgStore::migrator(),
            Self::Sqlite(_) => SqliteStore::migrator(),
        };
        migrator
            .iter()
            .map(|m| (m.version, m.description.to_string()))
            .collect()
    }

    /// Which database this store uses.
    #[must_use]
    pub fn backend(&self) -> Backend {
        match self {
            Self::Postgres(_) => Backend::Postgres,
            Self::Sqlite(_) => Backend::Sqlite,
        }
    }

    /// Checks that the database answers (health checks).
    pub async fn ping(&self) -> StoreResult<()> {
        dispatch!(self, s => s.ping().await)
    }

    /// Stores every file of one upload to `gun`, or none.
    ///
    /// Fails with [`StoreError::OldVersion`] when two updates share a (role, version), or
    /// when a stored row of a role has a version at least the lowest new version of that
    /// role. Each timestamp row also writes an `update` changefeed record. Concurrent writers
    /// of one GUN are serialised: one wins, the others get `OldVersion`.
    pub async fn update_many(&self, gun: &str, updates: &[FileUpdate]) -> StoreResult<()> {
        self.update_many_using_keys(gun, updates, &[]).await
    }

    /// [`update_many`](Self::update_many) that also records, in the same transaction, that
    /// the server-held keys in `used` signed files of the update: each one that exists is
    /// marked [`KeyState::Active`] and gets `last_used` set to now, as
    /// [`mark_key_state`](Self::mark_key_state) and
    /// [`touch_server_key`](Self::touch_server_key) would after it. A refused update records
    /// nothing; one transaction (one commit) does both.
    pub async fn update_many_using_keys(
        &self,
        gun: &str,
        updates: &[FileUpdate],
        used: &[KeyUse],
    ) -> StoreResult<()> {
        let (store, gun, updates, used) = (
            self.clone(),
            gun.to_owned(),
            updates.to_vec(),
            used.to_vec(),
        );
        let context = format!("update of {gun}");
        detached(context, async move {
            dispatch!(&store, s => s.update_many(&gun, &updates, &used).await)
        })
        .await
    }

    /// The stored file of `role` with the highest version.
    pub async fn latest(&self, gun: &str, role: &str) -> StoreResult<Option<StoredFile>> {
        if unstorable(gun) || unstorable(role) {
            return Ok(None);
        }
        dispatch!(self, s => s.latest(gun, role).await)
    }

    /// The stored file of `role` whose SHA-256 is `sha256_hex` (64 lowercase hex digits;
    /// anything else finds nothing).
    pub async fn by_checksum(
        &self,
        gun: &str,
        role: &str,
        sha256_hex: &str,
    ) -> StoreResult<Option<StoredFile>> {
        if unstorable(gun) || unstorable(role) {
            return Ok(None);
        }
        dispatch!(self, s => s.by_checksum(gun, role, sha256_hex).await)
    }

    /// The stored file of `role` at `version`.
    pub async fn by_version(
        &self,
        gun: &str,
        role: &str,
        version: i64,
    ) -> StoreResult<Option<StoredFile>> {
        if unstorable(gun) || unstorable(role) {
            return Ok(None);
        }
        dispatch!(self, s => s.by_version(gun, role, version).await)
    }

    /// Deletes every file of exactly `gun` (never other GUNs sharing its prefix) and, when
    /// there were any, writes a `deletion` changefeed record. Returns whether anything was
    /// deleted. Server keys are kept.
    pub async fn delete(&self, gun: &str) -> StoreResult<bool> {
        if unstorable(gun) {
            return Ok(false);
        }
        let (store, gun) = (self.clone(), gun.to_owned());
        detached(format!("delete of {gun}"), async move {
            dispatch!(&store, s => s.delete(&gun).await)
        })
        .await
    }

    /// Changefeed records, oldest first (protocol §1.8).
    ///
    /// `records` = 0 means [`DEFAULT_CHANGE_RECORDS`]. With `change_id` ≥ 0 and
    /// `records` > 0: up to `records` records with IDs above `change_id`. With a negative
    /// `records` or `change_id`: up to |`records`| records before `change_id` (from the
    /// newest when `change_id` ≤ 0). The record `change_id` itself is never included.
    /// `gun` restricts the feed to one GUN.
    pub async fn changes(
        &self,
        gun: Option<&str>,
        change_id: i64,
        records: i64,
    ) -> StoreResult<Vec<Change>> {
        if gun.is_some_and(unstorable) {
            return Ok(Vec::new());
        }
        dispatch!(self, s => s.changes(gun, change_id, records).await)
    }

    /// Stores a server-held key; [`StoreError::KeyExists`] if its (GUN, role, key ID) is
    /// already stored.
    pub async fn put_server_key(&self, key: &NewServerKey) -> StoreResult<()> {
        let (store, key) = (self.clone(), key.clone());
        let context = format!("store of {} {} key {}", key.gun, key.role, key.key_id);
        detached(context, async move {
            dispatch!(&store, s => s.put_server_key(&key).await)
        })
        .await
    }

    /// Every server-held key of (`gun`, `role`) in any state, oldest first.
    pub async fn server_keys(&self, gun: &str, role: &str) -> StoreResult<Vec<ServerKey>> {
        if unstorable(gun) || unstorable(role) {
            return Ok(Vec::new());
        }
        dispatch!(self, s => s.server_keys(gun, role).await)
    }

    /// One server-held key.
    pub async fn server_key(
        &self,
        gun: &str,
        role: &str,
        key_id: &str,
    ) -> StoreResult<Option<ServerKey>> {
        if unstorable(gun) || unstorable(role) || unstorable(key_id) {
            return Ok(None);
        }
        dispatch!(self, s => s.server_key(gun, role, key_id).await)
    }

    /// Sets the state of a server-held key; [`StoreError::KeyNotFound`] if there is none.
    pub async fn mark_key_state(
        &self,
        gun: &str,
        role: &str,
        key_id: &str,
        state: KeyState,
    ) -> StoreResult<()> {
        if unstorable(gun) || unstorable(role) || unstorable(key_id) {
            return found_key(0, gun, role, key_id);
        }
        let (store, gun, role, key_id) = owned(self, gun, role, key_id);
        detached(format!("state change of {gun} {role} key {key_id}"), async move {
            dispatch!(&store, s => s.mark_key_state(&gun, &role, &key_id, state).await)
        })
        .await
    }

    /// Records that a server-held key signed just now (sets `last_used`);
    /// [`StoreError::KeyNotFound`] if there is none.
    pub async fn touch_server_key(&self, gun: &str, role: &str, key_id: &str) -> StoreResult<()> {
        if unstorable(gun) || unstorable(role) || unstorable(key_id) {
            return found_key(0, gun, role, key_id);
        }
        let (store, gun, role, key_id) = owned(self, gun, role, key_id);
        detached(format!("use of {gun} {role} key {key_id}"), async move {
            dispatch!(&store, s => s.touch_server_key(&gun, &role, &key_id).await)
        })
        .await
    }

    /// Records that the private key of a server key is held by the YubiHSM 2 object `hsm`;
    /// with `remove_sealed` the sealed copy is deleted in the same write (the row then holds
    /// only the public key and the device reference). [`StoreError::KeyNotFound`] if there is
    /// no such key.
    pub async fn put_key_on_device(
        &self,
        gun: &str,
        role: &str,
        key_id: &str,
        hsm: &HsmKeyRef,
        remove_sealed: bool,
    ) -> StoreResult<()> {
        if unstorable(gun) || unstorable(role) || unstorable(key_id) {
            return found_key(0, gun, role, key_id);
        }
        let (store, gun, role, key_id) = owned(self, gun, role, key_id);
        let hsm = hsm.clone();
        detached(format!("move of {gun} {role} key {key_id} to the YubiHSM 2"), async move {
            dispatch!(&store, s => s.put_key_on_device(&gun, &role, &key_id, &hsm, remove_sealed).await)
        })
        .await
    }

    /// Forgets the YubiHSM 2 object of a server key that still has its sealed copy, so that it
    /// signs with the sealed copy again. Returns whether the key changed: `false` when it has
    /// no sealed copy (it cannot leave the device) or was not on a device.
    /// [`StoreError::KeyNotFound`] if there is no such key.
    pub async fn take_key_off_device(
        &self,
        gun: &str,
        role: &str,
        key_id: &str,
    ) -> StoreResult<bool> {
        if unstorable(gun) || unstorable(role) || unstorable(key_id) {
            return found_key(0, gun, role, key_id).map(|()| false);
        }
        let (store, gun, role, key_id) = owned(self, gun, role, key_id);
        detached(format!("move of {gun} {role} key {key_id} off the YubiHSM 2"), async move {
            dispatch!(&store, s => s.take_key_off_device(&gun, &role, &key_id).await)
        })
        .await
    }

    /// Every stored root of every GUN (soft-deleted rows left out), in no particular order.
    ///
    /// The rows are streamed from the database as they are consumed, so a whole fleet's roots
    /// are never in memory at once; the stream holds one pooled connection until it ends or
    /// is dropped.
    pub fn roots(&self) -> BoxStream<'_, StoreResult<StoredRoot>> {
        dispatch!(self, s => s.roots())
    }

    /// One page of the repositories with stored metadata (see [`RepositoryQuery`]), in GUN
    /// order. Reads the index on GUNs up to the page (or, with a rare `contains`, through it),
    /// never every file.
    pub async fn repositories(&self, query: &RepositoryQuery) -> StoreResult<Vec<String>> {
        dispatch!(self, s => s.repositories(query).await)
    }

    /// The earliest expiry, in Unix seconds, of the current metadata the owners of each of
    /// `guns` sign (root, targets, delegations, and the snapshot when they sign it), from the
    /// expiry records of `/metrics`; GUNs without records are left out. At most
    /// [`MAX_REPOSITORY_PAGE`] GUNs are looked up.
    pub async fn earliest_expiries(
        &self,
        guns: &[String],
    ) -> StoreResult<std::collections::BTreeMap<String, i64>> {
        let guns = &guns[..guns.len().min(MAX_REPOSITORY_PAGE as usize)];
        if guns.is_empty() {
            return Ok(std::collections::BTreeMap::new());
        }
        let rows = dispatch!(self, s => s.earliest_expiries(guns).await)?;
        Ok(rows.into_iter().collect())
    }

    /// Every server-held key of every GUN and role, in any state, ordered by GUN, role,
    /// creation time and key ID.
    pub async fn all_server_keys(&self) -> StoreResult<Vec<ServerKey>> {
        dispatch!(self, s => s.all_server_keys().await)
    }

    /// Replaces the sealed private key of every key of `keys` (`signet-server rotate-kek`), in
    /// one transaction. Returns `false`, having changed nothing, when a row no longer holds
    /// the sealed bytes it was read with, or when the table holds a sealed key `keys` leaves
    /// out (a key was created or changed since they were read).
    pub async fn reseal_server_keys(&self, keys: &[ResealedKey]) -> StoreResult<bool> {
        for k in keys {
            if unstorable(&k.gun) || unstorable(&k.role) || unstorable(&k.key_id) {
                return Ok(false);
            }
        }
        let (store, owned) = (self.clone(), keys.to_vec());
        let context = format!("re-sealing of {} server keys", keys.len());
        detached(context, async move {
            dispatch!(&store, s => s.reseal_server_keys(&owned).await)
        })
        .await
    }

    /// Stores server-held keys as they are given (with their `state`, `created_at` and
    /// `last_used`), in one transaction, leaving every (GUN, role, key ID) already stored
    /// exactly as it is. Returns, for each key in order, whether it was inserted.
    ///
    /// A snapshot key stored this way (`import-notary-signer`) may have signed the current
    /// snapshot of its GUN, which the server then re-signs when it expires: the expiry records
    /// of those GUNs are made again (a failure there is logged, the keys stay stored).
    pub async fn put_server_keys_if_absent(&self, keys: &[ServerKey]) -> StoreResult<Vec<bool>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let (store, owned) = (self.clone(), keys.to_vec());
        let context = format!("store of {} server keys", keys.len());
        let inserted = detached(context, async move {
            dispatch!(&store, s => s.put_server_keys_if_absent(&owned).await)
        })
        .await?;
        let guns: std::collections::BTreeSet<&str> = keys
            .iter()
            .zip(&inserted)
            .filter(|(k, new)| **new && k.role == expiry::SNAPSHOT_ROLE)
            .map(|(k, _)| k.gun.as_str())
            .collect();
        for gun in guns {
            if let Err(e) = self.resync_expiry(gun, true).await {
                tracing::warn!(%gun, error = %e, "could not make the expiry records again");
            }
        }
        Ok(inserted)
    }

    /// Opens a [`CopySession`]: one transaction, on a task of its own, that copies the
    /// `tuf_files` rows and changefeed records of another notary-server database as they
    /// are. With `dry_run` it only reads. On PostgreSQL a writing session locks `tuf_files`
    /// and `changefeed` against other writers (reads go on) until it ends; on SQLite it holds
    /// the database write lock.
    pub async fn copy_session(&self, dry_run: bool) -> StoreResult<CopySession> {
        CopySession::begin(self, dry_run).await
    }

    /// Checks that a write could start now (health checks): takes the write path as an
    /// update would (SQLite: the writer connection and the database write lock; PostgreSQL: a
    /// pooled connection and a transaction that updates no rows, refused when the database is
    /// read-only) and rolls back at once. A write path wedged by a
    /// stuck transaction or an exhausted pool fails here while reads still answer.
    pub async fn write_probe(&self) -> StoreResult<()> {
        let store = self.clone();
        detached("write probe".to_owned(), async move {
            dispatch!(&store, s => s.write_probe().await)
        })
        .await
    }

    /// The expiry of the current metadata of every repository as of `now` (the roles the
    /// latest snapshot names, and that snapshot when its owners sign it): per role class, the
    /// repositories with a file expired, expiring within 7 days and within 30 days, and the
    /// earliest expiry. Reads only the rows expiring within 30 days and one index entry per
    /// class.
    pub async fn expiry_summary(&self, now: DateTime<Utc>) -> StoreResult<ExpirySummary> {
        dispatch!(self, s => s.expiry_summary(now.timestamp()).await)
    }

    /// Changefeed records that [`sync_expiry`](Self::sync_expiry) has not looked at yet.
    pub async fn expiry_backlog(&self) -> StoreResult<u64> {
        dispatch!(self, s => s.expiry_backlog().await)
    }

    /// Catches the expiry records up with writes made past signet (a Go notary-server sharing
    /// the database, a database adopted from one): reads up to `records` changefeed records
    /// after the stored cursor, looks again at each GUN they name whose latest snapshot
    /// version differs from the recorded one, and moves the cursor past them. signet's own
    /// writes keep the records current in their transactions, so for them this reads two
    /// index entries per GUN.
    ///
    /// The [`EXPIRY_SYNC_OVERLAP`] records before the cursor are looked at again, so that a
    /// write that committed after one with a higher changefeed ID (concurrent PostgreSQL
    /// transactions) is not missed. [`ExpirySync::records`] counts only the records after the
    /// cursor.
    pub async fn sync_expiry(&self, records: u32) -> StoreResult<ExpirySync> {
        let cursor = dispatch!(self, s => s.expiry_cursor().await)?;
        let from = cursor.saturating_sub(EXPIRY_SYNC_OVERLAP).max(0);
        let limit = i64::from(records.max(1)).saturating_add(cursor - from);
        let changes = self.changes(None, from, limit).await?;
        let guns: std::collections::BTreeSet<&str> =
            changes.iter().map(|c| c.gun.as_str()).collect();
        let mut done = ExpirySync {
            records: changes.iter().filter(|c| c.id > cursor).count(),
            repositories: 0,
        };
        for gun in guns {
            if self.sync_expiry_of(gun).await? {
                done.repositories += 1;
            }
        }
        if let Some(last) = changes.last().filter(|c| c.id > cursor) {
            let (store, to) = (self.clone(), last.id);
            detached("move of the expiry cursor".to_owned(), async move {
                dispatch!(&store, s => s.advance_expiry_cursor(to).await)
            })
            .await?;
        }
        Ok(done)
    }

    /// Recomputes the expiry records of `gun` from its stored files when its latest snapshot
    /// version differs from the recorded one. Returns whether they were rewritten.
    pub async fn sync_expiry_of(&self, gun: &str) -> StoreResult<bool> {
        self.resync_expiry(gun, false).await
    }

    /// [`sync_expiry_of`](Self::sync_expiry_of); with `again`, also when the recorded snapshot
    /// version is already the latest one.
    async fn resync_expiry(&self, gun: &str, again: bool) -> StoreResult<bool> {
        if unstorable(gun) {
            return Ok(false);
        }
        let (recorded, latest) = dispatch!(self, s => s.expiry_versions(gun).await)?;
        let current = recorded == latest && !(again && recorded.is_some());
        if current {
            return Ok(false);
        }
        let mut files = Vec::new();
        if let Some(snapshot) = self.latest(gun, expiry::SNAPSHOT_ROLE).await? {
            let named = expiry::Expiring::read(&snapshot.data)
                .meta_roles
                .unwrap_or_default();
            files.push(snapshot);
            for role in named {
                if role != expiry::SNAPSHOT_ROLE && ExpiryRole::of(&role).is_some() {
                    files.extend(self.latest(gun, &role).await?);
                }
            }
        }
        let snapshot_version = files.first().and_then(|f| i32::try_from(f.version).ok());
        let plan =
            expiry::ExpiryPlan::of_files(files.iter().filter_map(|f| {
                Some((f.role.as_str(), i32::try_from(f.version).ok()?, &f.data[..]))
            }));
        let (store, owned) = (self.clone(), gun.to_owned());
        let rewritten = detached(format!("expiry records of {gun}"), async move {
            dispatch!(&store, s => s.replace_expiry(&owned, snapshot_version, &plan).await)
        })
        .await?;
        // Files written past signet (a Go notary-server sharing the database) are indexed
        // as they are found here.
        if rewritten {
            self.reindex_keys(gun).await?;
        }
        Ok(rewritten)
    }

    /// Which roles of which repositories trust the key `key_id`: the roles whose current
    /// metadata lists it (root's for `root`, `targets`, `snapshot` and `timestamp`, the
    /// delegating role's `delegations` for a delegation), found by the ID the metadata lists
    /// or, for an x509 key, by its canonical ID too. One page of at most `limit` (1 to
    /// [`MAX_TRUST_PAGE`]) entries ordered by GUN and role, after `after`; a range of one
    /// index, however many repositories there are.
    pub async fn trusted_by(
        &self,
        key_id: &str,
        after: Option<&TrustCursor>,
        limit: u32,
    ) -> StoreResult<TrustPage> {
        if unstorable(key_id) {
            return Ok(TrustPage::default());
        }
        let limit = key_trust::clamp_limit(limit);
        let start = TrustCursor::default();
        let after = after.unwrap_or(&start);
        let fetch = i64::from(limit) + 1;
        let roles = dispatch!(self, s => s.trusted_by(key_id, after, fetch).await)?;
        Ok(key_trust::page_of(roles, limit))
    }

    /// Indexes the keys of `gun` again from its stored files (the latest root, targets and
    /// every delegation reachable from it), in one transaction.
    pub async fn reindex_keys(&self, gun: &str) -> StoreResult<()> {
        if unstorable(gun) {
            return Ok(());
        }
        let (store, gun) = (self.clone(), gun.to_owned());
        detached(format!("key index of {gun}"), async move {
            dispatch!(&store, s => s.reindex_keys(&gun).await)
        })
        .await
    }

    /// Indexes the keys of every stored repository, unless that was done already: the
    /// one-time index of a database stored before the key index existed (an older signet
    /// database, one adopted from Go notary) or copied into by `import-notary-server`.
    ///
    /// GUNs are indexed in order, a batch per transaction, and the database records the last
    /// one done: an interrupted run goes on where it stopped, and once the end is reached it
    /// is recorded as done and this reads one row. Returns how many GUNs were indexed.
    pub async fn backfill_key_trust(&self) -> StoreResult<usize> {
        let mut indexed = 0_usize;
        loop {
            let store = self.clone();
            let step = detached("key index backfill".to_owned(), async move {
                dispatch!(&store, s => s.backfill_keys_step(KEY_BACKFILL_BATCH).await)
            })
            .await?;
            match step {
                None => return Ok(indexed),
                Some(0) => {
                    if indexed > 0 {
                        tracing::info!(repositories = indexed, "key index built");
                    }
                }
                Some(n) => {
                    indexed += n;
                    tracing::info!(repositories = indexed, "building the key index");
                }
            }
        }
    }

    /// Server-held keys by role, state and custody.
    pub async fn server_key_counts(&self) -> StoreResult<Vec<ServerKeyCount>> {
        dispatch!(self, s => s.server_key_counts().await)
    }

    /// The connections of each database pool, without touching the database.
    #[must_use]
    pub fn pool_stats(&self) -> Vec<PoolStats> {
        dispatch!(self, s => s.pool_stats())
    }

    /// Closes the pools; later operations fail with [`StoreError::Unavailable`].
    pub async fn close(&self) {
        dispatch!(self, s => s.close().await);
    }
}

/// Owned copies of a store handle and three names, for a [`detached`] write.
fn owned(store: &Store, gun: &str, role: &str, key_id: &str) -> (Store, String, String, String) {
    (
        store.clone(),
        gun.to_owned(),
        role.to_owned(),
        key_id.to_owned(),
    )
}

/// Runs the write `op` on a task of its own and waits for its result.
///
/// Dropping the returned future does not cancel the write: it runs to its commit or its
/// rollback, and releases its connection and locks either way. This is what makes a client
/// that hangs up in the middle of a request harmless to every later writer.
pub(crate) async fn detached<T, F>(context: String, op: F) -> StoreResult<T>
where
    T: Send + 'static,
    F: Future<Output = StoreResult<T>> + Send + 'static,
{
    match tokio::spawn(op).await {
        Ok(result) => result,
        Err(e) => {
            tracing::error!(%context, error = %e, "write task ended abnormally");
            Err(StoreError::WriteTask {
                context,
                detail: e.to_string(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_from_url() {
        assert_eq!(
            Backend::from_url("postgres://u:pw@h/db").ok(),
            Some(Backend::Postgres)
        );
        assert_eq!(
            Backend::from_url("postgresql://h/db").ok(),
            Some(Backend::Postgres)
        );
        assert_eq!(
            Backend::from_url("sqlite://x.db?mode=rwc").ok(),
            Some(Backend::Sqlite)
        );
        assert_eq!(
            Backend::from_url("sqlite::memory:").ok(),
            Some(Backend::Sqlite)
        );
        match Backend::from_url("mysql://root:secret@h/db") {
            Err(e @ StoreError::UnsupportedUrl { .. }) => {
                assert!(!e.to_string().contains("secret"), "{e}");
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}
