//! When the current metadata of every repository expires, kept in `signet_metadata_expiry` for
//! the expiry gauges of `/metrics` (migration 0005 describes the table).
//!
//! "Current" is what the server serves: the roles the latest snapshot names (root, targets,
//! delegations), each at its latest stored version, and the snapshot itself. Timestamps are
//! left out: the server signs every timestamp and re-signs an expired one when it is read. A
//! snapshot signed by a key the server holds is kept with kind `server_snapshot`, which the
//! gauges leave out for the same reason.
//!
//! Every write and delete of the store updates the table in its own transaction
//! ([`ExpiryPlan::of_files`] says what to change). Files written by anyone else (a Go
//! notary-server sharing the database, a database adopted or copied from Go) are caught up
//! by [`super::Store::sync_expiry`], which follows the changefeed from a cursor stored in the
//! database: a GUN is looked at again when its latest snapshot version differs from the one
//! the table holds.
//!
//! The gauges read only rows expiring within 30 days and the first row of each kind in the
//! `(kind, expires)` index, so a scrape costs the same with 100 repositories as with 100,000.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;
use signet_tuf::metadata::Expires;

use super::types::TIMESTAMP_ROLE;

/// The snapshot role.
pub(crate) const SNAPSHOT_ROLE: &str = "snapshot";

/// Kind of a snapshot signed by a key the server holds (not alerted on).
pub(crate) const SERVER_SNAPSHOT: &str = "server_snapshot";

/// Seconds in a day.
const DAY: i64 = 86_400;

/// The role classes the expiry gauges report.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ExpiryRole {
    /// `root`.
    Root,
    /// `targets`.
    Targets,
    /// Every delegated role (`targets/…`) together.
    Delegation,
    /// `snapshot`, when the repository's owners hold its key (a snapshot the server signs is
    /// re-signed when it expires).
    Snapshot,
}

impl ExpiryRole {
    /// Every class, in the order the gauges list them.
    pub const ALL: [Self; 4] = [Self::Root, Self::Targets, Self::Delegation, Self::Snapshot];

    /// The label value and `kind` column value: `root`, `targets`, `delegation`, `snapshot`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Root => "root",
            Self::Targets => "targets",
            Self::Delegation => "delegation",
            Self::Snapshot => "snapshot",
        }
    }

    /// The class of a stored role; `None` for timestamps and names that are no role.
    #[must_use]
    pub fn of(role: &str) -> Option<Self> {
        match role {
            "root" => Some(Self::Root),
            "targets" => Some(Self::Targets),
            SNAPSHOT_ROLE => Some(Self::Snapshot),
            r if r.starts_with("targets/") && r.len() > "targets/".len() => Some(Self::Delegation),
            _ => None,
        }
    }

    fn from_kind(kind: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == kind)
    }
}

/// Repositories of one role class by how soon its current metadata expires.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExpiryCounts {
    /// Repositories with a file of this class that has expired (its expiry is before now, as
    /// clients judge it), or whose expiry cannot be read.
    pub expired: u64,
    /// Repositories with a file of this class that has not expired and expires within 7 days.
    pub within_7d: u64,
    /// Repositories with a file of this class that has not expired and expires within 30 days
    /// (those within 7 days included).
    pub within_30d: u64,
    /// The earliest expiry of a file of this class, in Unix seconds (expired ones included);
    /// `None` when no repository has one.
    pub earliest: Option<i64>,
}

/// The expiry of the current metadata of every repository, per role class.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExpirySummary {
    /// The time the windows were measured from, in Unix seconds.
    pub now: i64,
    /// Counts per class; every class of [`ExpiryRole::ALL`] is present.
    pub by_role: BTreeMap<ExpiryRole, ExpiryCounts>,
}

impl ExpirySummary {
    /// An empty summary at `now`, every class at zero.
    pub(crate) fn empty(now: i64) -> Self {
        Self {
            now,
            by_role: ExpiryRole::ALL
                .into_iter()
                .map(|c| (c, ExpiryCounts::default()))
                .collect(),
        }
    }

    /// The summary at `now` of the rows of the window query (`kind`, `expired`,
    /// `within_7d`, `within_30d`) and of [`EARLIEST`] (`kind`, `earliest`), on either backend.
    pub(crate) fn from_rows<R>(now: i64, windows: &[R], earliest: &[R]) -> Result<Self, sqlx::Error>
    where
        R: sqlx::Row,
        for<'a> &'a str: sqlx::ColumnIndex<R>,
        String: for<'r> sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
        i64: for<'r> sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    {
        let mut summary = Self::empty(now);
        let class = |r: &R| -> Result<Option<ExpiryRole>, sqlx::Error> {
            Ok(ExpiryRole::from_kind(&r.try_get::<String, _>("kind")?))
        };
        let count = |r: &R, column: &str| -> Result<u64, sqlx::Error> {
            Ok(u64::try_from(r.try_get::<i64, _>(column)?).unwrap_or(0))
        };
        for r in windows {
            if let Some(c) = class(r)?.and_then(|k| summary.by_role.get_mut(&k)) {
                c.expired = count(r, "expired")?;
                c.within_7d = count(r, "within_7d")?;
                c.within_30d = count(r, "within_30d")?;
            }
        }
        for r in earliest {
            if let Some(c) = class(r)?.and_then(|k| summary.by_role.get_mut(&k)) {
                c.earliest = r.try_get("earliest")?;
            }
        }
        Ok(summary)
    }
}

/// The bounds of the windows measured from `now` (Unix seconds): `(now, now + 7 days,
/// now + 30 days)`.
pub(crate) fn windows(now: i64) -> (i64, i64, i64) {
    (
        now,
        now.saturating_add(7 * DAY),
        now.saturating_add(30 * DAY),
    )
}

/// The earliest expiry of each kind the gauges count: one index probe each.
pub(crate) const EARLIEST: &str = "\
     SELECT 'root' AS kind, (SELECT MIN(expires) FROM signet_metadata_expiry WHERE kind = 'root') AS earliest \
     UNION ALL SELECT 'targets', (SELECT MIN(expires) FROM signet_metadata_expiry WHERE kind = 'targets') \
     UNION ALL SELECT 'delegation', (SELECT MIN(expires) FROM signet_metadata_expiry WHERE kind = 'delegation') \
     UNION ALL SELECT 'snapshot', (SELECT MIN(expires) FROM signet_metadata_expiry WHERE kind = 'snapshot')";

/// Server-held keys of one (role, state, custody), for the key gauges: a row of the key count
/// query (`role`, `state`, `on_device`, `sealed`, `n`), on either backend.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct ServerKeyCount {
    /// The role the keys sign for (`timestamp` or `snapshot`).
    pub role: String,
    /// The stored state (`pending`, `active`, `retired`).
    pub state: String,
    /// Whether a YubiHSM 2 object holds the private key.
    pub on_device: bool,
    /// Whether the row holds a sealed copy of the private key.
    pub sealed: bool,
    /// How many keys.
    #[sqlx(rename = "n", try_from = "i64")]
    pub count: u64,
}

/// Connections of one database pool, for the pool gauges.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolStats {
    /// The pool: `main` (PostgreSQL, SQLite in memory), or `reader` and `writer` (SQLite).
    pub pool: &'static str,
    /// Connections open (in use and idle).
    pub open: u32,
    /// Connections open and idle.
    pub idle: u32,
    /// The most connections the pool opens.
    pub max: u32,
}

impl PoolStats {
    /// The stats of a sqlx pool.
    pub(crate) fn of<DB: sqlx::Database>(pool: &'static str, p: &sqlx::Pool<DB>) -> Self {
        Self {
            pool,
            open: p.size(),
            idle: u32::try_from(p.num_idle()).unwrap_or(u32::MAX),
            max: p.options().get_max_connections(),
        }
    }

    /// Connections handed out and not yet returned.
    #[must_use]
    pub fn in_use(&self) -> u32 {
        self.open.saturating_sub(self.idle)
    }
}

/// What one pass of [`super::Store::sync_expiry`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExpirySync {
    /// Changefeed records read.
    pub records: usize,
    /// Repositories whose rows were rewritten.
    pub repositories: usize,
}

/// One row of `signet_metadata_expiry` to write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ExpiryRow {
    /// The role name.
    pub(crate) role: String,
    /// `root`, `targets`, `delegation` or `snapshot` (the backend turns a snapshot signed by
    /// a server key into `server_snapshot`).
    pub(crate) kind: &'static str,
    /// The stored version.
    pub(crate) version: i32,
    /// `signed.expires` in Unix seconds; 0 when it cannot be read.
    pub(crate) expires: i64,
}

/// What one write changes in `signet_metadata_expiry` for its GUN.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct ExpiryPlan {
    /// Rows to insert or update (only to a version at least the stored one).
    pub(crate) rows: Vec<ExpiryRow>,
    /// With a snapshot in the write, the roles it names: rows of other roles (the snapshot's
    /// own excepted) are no longer current and are deleted.
    pub(crate) current_roles: Option<Vec<String>>,
    /// Key IDs that signed the snapshot of the write: when one of them is a server key of the
    /// GUN, the snapshot row gets kind `server_snapshot`.
    pub(crate) snapshot_signers: Vec<String>,
}

impl ExpiryPlan {
    /// The plan for stored files `(role, version, bytes)`: the latest version of each role
    /// except timestamps, limited to the roles the snapshot among them names (when there is
    /// one).
    pub(crate) fn of_files<'a>(files: impl IntoIterator<Item = (&'a str, i32, &'a [u8])>) -> Self {
        let mut latest: BTreeMap<&str, (i32, &[u8])> = BTreeMap::new();
        for (role, version, data) in files {
            if role == TIMESTAMP_ROLE || ExpiryRole::of(role).is_none() {
                continue;
            }
            let newer = latest.get(role).is_none_or(|(v, _)| version > *v);
            if newer {
                latest.insert(role, (version, data));
            }
        }
        let mut plan = Self::default();
        if let Some((_, data)) = latest.get(SNAPSHOT_ROLE) {
            let doc = Expiring::read(data);
            plan.snapshot_signers = doc.signers;
            plan.current_roles = doc.meta_roles.map(|r| r.into_iter().collect());
        }
        for (role, (version, data)) in latest {
            let named = plan
                .current_roles
                .as_ref()
                .is_none_or(|roles| role == SNAPSHOT_ROLE || roles.iter().any(|r| r == role));
            let Some(kind) = ExpiryRole::of(role) else {
                continue;
            };
            if named {
                plan.rows.push(ExpiryRow {
                    role: role.to_owned(),
                    kind: kind.as_str(),
                    version,
                    expires: Expiring::read(data).expires,
                });
            }
        }
        plan
    }

    /// Whether the plan changes nothing.
    pub(crate) fn is_empty(&self) -> bool {
        self.rows.is_empty() && self.current_roles.is_none()
    }

    /// The stored roles of the GUN (its rows in the table) this plan deletes.
    pub(crate) fn stale<'s>(&self, stored: &'s [String]) -> Vec<&'s str> {
        let Some(current) = &self.current_roles else {
            return Vec::new();
        };
        stored
            .iter()
            .map(String::as_str)
            .filter(|r| *r != SNAPSHOT_ROLE && !current.iter().any(|c| c == r))
            .collect()
    }

    /// Whether a server key among `server_keys` signed the snapshot of this plan.
    pub(crate) fn server_signed<'k>(&self, mut server_keys: impl Iterator<Item = &'k str>) -> bool {
        server_keys.any(|k| self.snapshot_signers.iter().any(|s| s == k))
    }
}

/// Whether a plan made from the files up to snapshot `planned` (`None`: the GUN had none) is
/// out of date now that the latest stored snapshot is `latest`: another write came in between
/// (and recorded its own files, or will be caught up from its changefeed record).
pub(crate) fn superseded(planned: Option<i32>, latest: Option<i64>) -> bool {
    planned.map(i64::from) != latest
}

/// The parts of a metadata file the table needs.
#[derive(Debug, Default)]
pub(crate) struct Expiring {
    /// `signed.expires` in Unix seconds; 0 when it is missing or cannot be read.
    pub(crate) expires: i64,
    /// The role names of `signed.meta` (snapshots), when present.
    pub(crate) meta_roles: Option<BTreeSet<String>>,
    /// The key IDs of `signatures`.
    pub(crate) signers: Vec<String>,
}

#[derive(Deserialize)]
struct Doc {
    signed: Signed,
    #[serde(default)]
    signatures: Option<Vec<Option<Signature>>>,
}

#[derive(Deserialize)]
struct Signed {
    #[serde(default)]
    expires: Option<String>,
    #[serde(default)]
    meta: Option<BTreeMap<String, serde::de::IgnoredAny>>,
}

#[derive(Deserialize)]
struct Signature {
    #[serde(default)]
    keyid: Option<String>,
}

impl Expiring {
    /// Reads a stored file; what does not parse is left empty (and the expiry at 0).
    pub(crate) fn read(data: &[u8]) -> Self {
        let Ok(Some(doc)) = serde_json::Deserializer::from_slice(data)
            .into_iter::<Doc>()
            .next()
            .transpose()
        else {
            return Self::default();
        };
        Self {
            expires: doc
                .signed
                .expires
                .and_then(|e| Expires::parse(&e).ok())
                .map_or(0, |t| t.utc().timestamp()),
            meta_roles: doc.signed.meta.map(|m| m.into_keys().collect()),
            signers: doc
                .signatures
                .unwrap_or_default()
                .into_iter()
                .filter_map(|s| s?.keyid)
                .collect(),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn file(expires: &str, meta: &[&str], signer: &str) -> Vec<u8> {
        let meta: serde_json::Map<String, serde_json::Value> = meta
            .iter()
            .map(|r| ((*r).to_owned(), serde_json::json!({"length": 1})))
            .collect();
        serde_json::to_vec(&serde_json::json!({
            "signed": {"expires": expires, "meta": meta, "version": 1},
            "signatures": [{"keyid": signer, "method": "ecdsa", "sig": ""}],
        }))
        .unwrap()
    }

    #[test]
    fn classes() {
        assert_eq!(ExpiryRole::of("root"), Some(ExpiryRole::Root));
        assert_eq!(ExpiryRole::of("targets"), Some(ExpiryRole::Targets));
        assert_eq!(
            ExpiryRole::of("targets/releases/x"),
            Some(ExpiryRole::Delegation)
        );
        assert_eq!(ExpiryRole::of("snapshot"), Some(ExpiryRole::Snapshot));
        assert_eq!(ExpiryRole::of("timestamp"), None);
        assert_eq!(ExpiryRole::of("targets/"), None);
        assert_eq!(ExpiryRole::of("other"), None);
    }

    #[test]
    fn reads_expiry_meta_and_signers() {
        let e = Expiring::read(&file("2030-01-02T03:04:05.123456789Z", &["root"], "k1"));
        assert_eq!(
            e.expires,
            chrono::DateTime::parse_from_rfc3339("2030-01-02T03:04:05Z")
                .unwrap()
                .timestamp()
        );
        assert_eq!(
            e.meta_roles.unwrap().into_iter().collect::<Vec<_>>(),
            ["root"]
        );
        assert_eq!(e.signers, ["k1"]);
        for garbage in [
            &b"{"[..],
            b"[]",
            br#"{"signed":{"expires":"2030-01-01T00:00:60Z"}}"#,
        ] {
            assert_eq!(Expiring::read(garbage).expires, 0);
        }
    }

    #[test]
    fn plan_keeps_latest_named_roles_and_drops_timestamps() {
        let snap = file("2030-01-01T00:00:00Z", &["root", "targets/a"], "s");
        let root1 = file("2031-01-01T00:00:00Z", &[], "r");
        let root2 = file("2032-01-01T00:00:00Z", &[], "r");
        let deleg = file("2033-01-01T00:00:00Z", &[], "d");
        let other = file("2034-01-01T00:00:00Z", &[], "d");
        let ts = file("2035-01-01T00:00:00Z", &[], "t");
        let plan = ExpiryPlan::of_files([
            ("root", 2, &root2[..]),
            ("root", 1, &root1[..]),
            ("snapshot", 3, &snap[..]),
            ("targets/a", 1, &deleg[..]),
            ("targets/b", 1, &other[..]),
            ("timestamp", 4, &ts[..]),
        ]);
        let rows: Vec<_> = plan
            .rows
            .iter()
            .map(|r| (r.role.as_str(), r.kind, r.version))
            .collect();
        assert_eq!(
            rows,
            [
                ("root", "root", 2),
                ("snapshot", "snapshot", 3),
                ("targets/a", "delegation", 1)
            ]
        );
        assert_eq!(plan.snapshot_signers, ["s"]);
        let stored = ["root", "snapshot", "targets", "targets/b"].map(String::from);
        assert_eq!(plan.stale(&stored), ["targets", "targets/b"]);
        assert!(plan.server_signed(["x", "s"].into_iter()));
        assert!(!plan.server_signed(["x"].into_iter()));
    }

    #[test]
    fn plan_without_snapshot_deletes_nothing() {
        let t = file("2030-01-01T00:00:00Z", &[], "t");
        let plan = ExpiryPlan::of_files([("targets", 2, &t[..])]);
        assert_eq!(plan.rows.len(), 1);
        assert!(plan.stale(&["targets/x".to_owned()]).is_empty());
        assert!(ExpiryPlan::of_files([("timestamp", 2, &t[..])]).is_empty());
    }

    #[test]
    fn plans_of_older_snapshots_are_superseded() {
        assert!(!superseded(Some(3), Some(3)));
        assert!(superseded(Some(3), Some(4)));
        assert!(superseded(None, Some(1)));
        assert!(superseded(Some(3), None));
        assert!(!superseded(None, None));
    }

    #[test]
    fn windows_are_seven_and_thirty_days() {
        assert_eq!(windows(100), (100, 100 + 7 * DAY, 100 + 30 * DAY));
    }
}
