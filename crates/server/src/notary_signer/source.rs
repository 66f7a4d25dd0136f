//! A Go notary-signer database (PostgreSQL, or MySQL/MariaDB): its `private_keys` table.
//!
//! Times in that table are `timestamp`/`datetime` columns without a time zone, written by
//! the Go signer in its local time; they are read (and written) as UTC, as
//! [`crate::notary_db`] describes. Only whether `last_used` is set changes what a key becomes.

use chrono::{DateTime, NaiveDateTime, Utc};
use sqlx::Row as _;
use sqlx::mysql::MySqlPool;
use sqlx::postgres::PgPool;

use crate::error::{NotaryDbError, NotarySignerError};
use crate::notary_db::{NotaryDb, mysql_time_text, parse_mysql_time};

/// One row of `private_keys`.
#[derive(Clone, PartialEq, Eq)]
pub struct SignerRow {
    /// The TUF key ID (`key_id`, unique).
    pub key_id: String,
    /// `ecdsa` or `ed25519`.
    pub algorithm: String,
    /// The alias whose passphrase encrypted `private`.
    pub passphrase_alias: String,
    /// The public key: DER SPKI (ecdsa) or 32 raw bytes (ed25519).
    pub public: Vec<u8>,
    /// The compact JWE of the private key.
    pub private: String,
    /// The GUN the key was created for (empty in rows older than the column).
    pub gun: String,
    /// The role the key was created for (likewise).
    pub role: String,
    /// When the row was created.
    pub created_at: Option<DateTime<Utc>>,
    /// When the key last signed; `None` for a key never used (a pending key).
    pub last_used: Option<DateTime<Utc>>,
    /// Whether the row is soft-deleted (`deleted_at` set): notary-signer ignores it.
    pub deleted: bool,
}

impl std::fmt::Debug for SignerRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignerRow")
            .field("key_id", &self.key_id)
            .field("algorithm", &self.algorithm)
            .field("passphrase_alias", &self.passphrase_alias)
            .field("gun", &self.gun)
            .field("role", &self.role)
            .field("created_at", &self.created_at)
            .field("last_used", &self.last_used)
            .field("deleted", &self.deleted)
            .finish_non_exhaustive()
    }
}

/// A row to write into `private_keys` (export).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct NewSignerRow {
    pub(crate) key_id: String,
    pub(crate) algorithm: String,
    pub(crate) passphrase_alias: String,
    pub(crate) public: Vec<u8>,
    pub(crate) private: String,
    pub(crate) gun: String,
    pub(crate) role: String,
    pub(crate) created_at: DateTime<Utc>,
    pub(crate) last_used: Option<DateTime<Utc>>,
}

/// A change to `private_keys` (export).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum SignerWrite {
    /// A new row.
    Insert(NewSignerRow),
    /// A soft-deleted row brought back with this content.
    Restore(NewSignerRow),
    /// New `last_used`, `gun` and `role` values of a live row.
    Update {
        key_id: String,
        gun: String,
        role: String,
        last_used: Option<DateTime<Utc>>,
    },
}

/// A connection pool on a notary-signer database.
#[derive(Clone, Debug)]
pub enum SignerDb {
    /// PostgreSQL.
    Postgres(PgPool),
    /// MySQL or MariaDB.
    MySql(MySqlPool),
}

const PG_KEYS: &str = "SELECT key_id, algorithm, passphrase_alias, public, private, gun, role, \
     created_at, last_used, deleted_at IS NOT NULL AS deleted FROM private_keys ORDER BY id";

/// Times are read as text: MySQL may hold zero dates (`0000-00-00`), which are no time.
const MYSQL_KEYS: &str = concat!(
    "SELECT key_id, algorithm, passphrase_alias, public, private, gun, role, ",
    mysql_time_text!("created_at"),
    ", ",
    mysql_time_text!("last_used"),
    ", deleted_at IS NOT NULL AS deleted FROM private_keys ORDER BY id"
);

const PG_INSERT: &str = "INSERT INTO private_keys (created_at, updated_at, key_id, \
     encryption_alg, keywrap_alg, algorithm, passphrase_alias, public, private, gun, role, \
     last_used) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)";
const MYSQL_INSERT: &str = "INSERT INTO private_keys (created_at, updated_at, key_id, \
     encryption_alg, keywrap_alg, algorithm, passphrase_alias, public, private, gun, role, \
     last_used) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
const PG_RESTORE: &str = "UPDATE private_keys SET deleted_at = NULL, created_at = $1, \
     updated_at = $2, encryption_alg = $4, keywrap_alg = $5, algorithm = $6, \
     passphrase_alias = $7, public = $8, private = $9, gun = $10, role = $11, last_used = $12 \
     WHERE key_id = $3";
const MYSQL_RESTORE: &str = "UPDATE private_keys SET deleted_at = NULL, created_at = ?, \
     updated_at = ?, encryption_alg = ?, keywrap_alg = ?, algorithm = ?, passphrase_alias = ?, \
     public = ?, private = ?, gun = ?, role = ?, last_used = ? WHERE key_id = ?";
const PG_UPDATE: &str = "UPDATE private_keys SET updated_at = $1, gun = $2, role = $3, \
     last_used = $4 WHERE key_id = $5 AND deleted_at IS NULL";
const MYSQL_UPDATE: &str = "UPDATE private_keys SET updated_at = ?, gun = ?, role = ?, \
     last_used = ? WHERE key_id = ? AND deleted_at IS NULL";

fn db_error(context: impl Into<String>) -> impl FnOnce(sqlx::Error) -> NotarySignerError {
    let context = context.into();
    move |source| NotarySignerError::SignerDatabase { context, source }
}

fn naive(t: DateTime<Utc>) -> NaiveDateTime {
    t.naive_utc()
}

impl SignerDb {
    /// Connects to `url`: `postgres://…`/`postgresql://…` or `mysql://…`/`mariadb://…` (a
    /// sqlx URL, not a Go DSN: `mysql://user:password@host:3306/notarysigner`), as
    /// [`NotaryDb::connect`] does.
    pub async fn connect(url: &str) -> Result<Self, NotarySignerError> {
        match NotaryDb::connect(url).await {
            Ok(db) => Ok(db.into()),
            Err(NotaryDbError::Scheme { scheme }) => Err(NotarySignerError::SignerUrl { scheme }),
            Err(NotaryDbError::Connect { source }) => Err(NotarySignerError::SignerDatabase {
                context: "connecting".to_owned(),
                source,
            }),
        }
    }

    /// Every row of `private_keys`, soft-deleted ones included, in insertion order.
    pub async fn keys(&self) -> Result<Vec<SignerRow>, NotarySignerError> {
        let what = || "reading private_keys".to_owned();
        match self {
            Self::Postgres(pool) => {
                let rows = sqlx::query(PG_KEYS)
                    .fetch_all(pool)
                    .await
                    .map_err(db_error(what()))?;
                rows.iter()
                    .map(|r| {
                        let created: Option<NaiveDateTime> = r.try_get("created_at")?;
                        let used: Option<NaiveDateTime> = r.try_get("last_used")?;
                        Ok(SignerRow {
                            key_id: r.try_get("key_id")?,
                            algorithm: r.try_get("algorithm")?,
                            passphrase_alias: r.try_get("passphrase_alias")?,
                            public: r.try_get("public")?,
                            private: text(r.try_get("private")?),
                            gun: r.try_get("gun")?,
                            role: r.try_get("role")?,
                            created_at: created.map(|t| t.and_utc()),
                            last_used: used.map(|t| t.and_utc()),
                            deleted: r.try_get("deleted")?,
                        })
                    })
                    .collect::<Result<_, sqlx::Error>>()
                    .map_err(db_error(what()))
            }
            Self::MySql(pool) => {
                let rows = sqlx::query(MYSQL_KEYS)
                    .fetch_all(pool)
                    .await
                    .map_err(db_error(what()))?;
                rows.iter()
                    .map(|r| {
                        let deleted: i64 = r.try_get("deleted")?;
                        Ok(SignerRow {
                            key_id: r.try_get("key_id")?,
                            algorithm: r.try_get("algorithm")?,
                            passphrase_alias: r.try_get("passphrase_alias")?,
                            public: r.try_get("public")?,
                            private: text(r.try_get("private")?),
                            gun: r.try_get("gun")?,
                            role: r.try_get("role")?,
                            created_at: parse_mysql_time(r.try_get("created_at")?),
                            last_used: parse_mysql_time(r.try_get("last_used")?),
                            deleted: deleted != 0,
                        })
                    })
                    .collect::<Result<_, sqlx::Error>>()
                    .map_err(db_error(what()))
            }
        }
    }

    /// Applies `writes` in one transaction.
    pub(crate) async fn apply(&self, writes: &[SignerWrite]) -> Result<(), NotarySignerError> {
        let now = naive(Utc::now());
        match self {
            Self::Postgres(pool) => {
                let mut tx = pool
                    .begin()
                    .await
                    .map_err(db_error("starting a transaction"))?;
                for w in writes {
                    let q = match w {
                        SignerWrite::Insert(r) | SignerWrite::Restore(r) => {
                            let sql = if matches!(w, SignerWrite::Insert(_)) {
                                PG_INSERT
                            } else {
                                PG_RESTORE
                            };
                            sqlx::query(sql)
                                .bind(naive(r.created_at))
                                .bind(now)
                                .bind(&r.key_id)
                                .bind(super::jwe::ENCRYPTION_ALG)
                                .bind(super::jwe::KEYWRAP_ALG)
                                .bind(&r.algorithm)
                                .bind(&r.passphrase_alias)
                                .bind(r.public.as_slice())
                                .bind(r.private.as_bytes())
                                .bind(&r.gun)
                                .bind(&r.role)
                                .bind(r.last_used.map(naive))
                        }
                        SignerWrite::Update {
                            key_id,
                            gun,
                            role,
                            last_used,
                        } => sqlx::query(PG_UPDATE)
                            .bind(now)
                            .bind(gun)
                            .bind(role)
                            .bind(last_used.map(naive))
                            .bind(key_id),
                    };
                    q.execute(&mut *tx)
                        .await
                        .map_err(db_error(format!("writing key {}", w.key_id())))?;
                }
                tx.commit().await.map_err(db_error("committing"))
            }
            Self::MySql(pool) => {
                let mut tx = pool
                    .begin()
                    .await
                    .map_err(db_error("starting a transaction"))?;
                for w in writes {
                    let q = match w {
                        SignerWrite::Insert(r) => sqlx::query(MYSQL_INSERT)
                            .bind(naive(r.created_at))
                            .bind(now)
                            .bind(&r.key_id)
                            .bind(super::jwe::ENCRYPTION_ALG)
                            .bind(super::jwe::KEYWRAP_ALG)
                            .bind(&r.algorithm)
                            .bind(&r.passphrase_alias)
                            .bind(r.public.as_slice())
                            .bind(r.private.as_bytes())
                            .bind(&r.gun)
                            .bind(&r.role)
                            .bind(r.last_used.map(naive)),
                        SignerWrite::Restore(r) => sqlx::query(MYSQL_RESTORE)
                            .bind(naive(r.created_at))
                            .bind(now)
                            .bind(super::jwe::ENCRYPTION_ALG)
                            .bind(super::jwe::KEYWRAP_ALG)
                            .bind(&r.algorithm)
                            .bind(&r.passphrase_alias)
                            .bind(r.public.as_slice())
                            .bind(r.private.as_bytes())
                            .bind(&r.gun)
                            .bind(&r.role)
                            .bind(r.last_used.map(naive))
                            .bind(&r.key_id),
                        SignerWrite::Update {
                            key_id,
                            gun,
                            role,
                            last_used,
                        } => sqlx::query(MYSQL_UPDATE)
                            .bind(now)
                            .bind(gun)
                            .bind(role)
                            .bind(last_used.map(naive))
                            .bind(key_id),
                    };
                    q.execute(&mut *tx)
                        .await
                        .map_err(db_error(format!("writing key {}", w.key_id())))?;
                }
                tx.commit().await.map_err(db_error("committing"))
            }
        }
    }

    /// Closes the pool.
    pub async fn close(&self) {
        match self {
            Self::Postgres(p) => p.close().await,
            Self::MySql(p) => p.close().await,
        }
    }
}

impl From<NotaryDb> for SignerDb {
    fn from(db: NotaryDb) -> Self {
        match db {
            NotaryDb::Postgres(p) => Self::Postgres(p),
            NotaryDb::MySql(p) => Self::MySql(p),
        }
    }
}

impl SignerWrite {
    fn key_id(&self) -> &str {
        match self {
            Self::Insert(r) | Self::Restore(r) => &r.key_id,
            Self::Update { key_id, .. } => key_id,
        }
    }
}

/// The `private` column as text (a compact JWE is ASCII; anything else fails to decrypt
/// later with a clear error).
fn text(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}
