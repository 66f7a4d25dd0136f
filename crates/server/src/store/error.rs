//! Errors of the metadata store.

use sqlx::error::DatabaseError;

/// An error from the metadata store.
///
/// [`StoreError::Unavailable`] means the database could not be reached or is shutting
/// down; everything about the request was rolled back and a retry may succeed. Every other
/// database failure is [`StoreError::Database`].
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A stored row for this role already has this version or a newer one, or the upload
    /// names the same (role, version) twice.
    #[error("{gun}: {role} version {version} is not newer than the stored version")]
    OldVersion {
        /// The GUN written to.
        gun: String,
        /// The role whose version was refused.
        role: String,
        /// The lowest version of this role in the refused upload.
        version: i64,
    },

    /// A version that the `integer` version column cannot hold.
    #[error("{gun}: {role} version {version} is out of range")]
    VersionOutOfRange {
        /// The GUN written to.
        gun: String,
        /// The role of the refused row.
        role: String,
        /// The refused version.
        version: i64,
    },

    /// A GUN, role or key ID its column cannot hold: longer than 255 characters, or holding
    /// a NUL character.
    #[error("{gun}: {what} {value:?} {reason}")]
    InvalidName {
        /// The GUN written to (possibly the refused value itself).
        gun: String,
        /// Which name was refused: `"GUN"`, `"role"` or `"key ID"`.
        what: &'static str,
        /// The refused value.
        value: String,
        /// Why: `"is longer than 255 characters"` or `"contains a NUL character"`.
        reason: &'static str,
    },

    /// A server key with this ID is already stored for this GUN and role.
    #[error("{gun}: {role} key {key_id} already exists")]
    KeyExists {
        /// The GUN of the key.
        gun: String,
        /// The role of the key.
        role: String,
        /// The key ID.
        key_id: String,
    },

    /// No server key with this ID is stored for this GUN and role.
    #[error("{gun}: {role} key {key_id} not found")]
    KeyNotFound {
        /// The GUN of the key.
        gun: String,
        /// The role of the key.
        role: String,
        /// The key ID.
        key_id: String,
    },

    /// A stored row could not be understood.
    #[error("{gun}: corrupt stored data for {role}: {detail}")]
    Corrupt {
        /// The GUN of the row.
        gun: String,
        /// The role (or table) of the row.
        role: String,
        /// What is wrong with it.
        detail: String,
    },

    /// The database URL names no supported backend.
    #[error("unsupported database URL scheme {scheme:?}: expected postgres:// or sqlite:")]
    UnsupportedUrl {
        /// The scheme found (never the rest of the URL, which may hold a password).
        scheme: String,
    },

    /// The database refused or never answered the first connection (start-up, before the
    /// migrations). Names the address, never the URL (which may hold a password).
    #[error("cannot connect to {backend} at {address}: {reason}")]
    Connect {
        /// The database (`Postgres`).
        backend: &'static str,
        /// `host:port`, or the Unix socket.
        address: String,
        /// The driver's error (`connection refused`, `password authentication failed …`).
        reason: String,
    },

    /// The database URL or options could not be parsed.
    #[error("invalid database configuration: {source}")]
    Config {
        /// The parse error.
        #[source]
        source: sqlx::Error,
    },

    /// The database cannot be reached, is shutting down or is overloaded. Nothing was
    /// written; the pool reconnects by itself when the database returns.
    #[error("database unavailable during {context}: {source}")]
    Unavailable {
        /// The operation, with the GUN and role involved.
        context: String,
        /// The underlying error.
        #[source]
        source: sqlx::Error,
    },

    /// Applying the schema migrations failed.
    #[error("database migration failed: {source}")]
    Migrate {
        /// The underlying error.
        #[source]
        source: sqlx::migrate::MigrateError,
    },

    /// A write ran on its own task (so that a cancelled request cannot leave a transaction
    /// open) and that task ended without a result.
    #[error("the {context} task ended abnormally: {detail}")]
    WriteTask {
        /// The operation, with the GUN and role involved.
        context: String,
        /// What the runtime reported (a panic or a runtime shutting down).
        detail: String,
    },

    /// The storage under the database failed: it is full, read-only, or its files cannot be
    /// opened, read or written. Nothing was written; writes work again once the operator fixes
    /// the storage, without a restart.
    #[error("{fault} during {context}: {source}")]
    Storage {
        /// The operation, with the GUN and role involved.
        context: String,
        /// What is wrong with the storage.
        fault: StorageFault,
        /// The underlying error.
        #[source]
        source: sqlx::Error,
    },

    /// Any other database error.
    #[error("database error during {context}: {source}")]
    Database {
        /// The operation, with the GUN and role involved.
        context: String,
        /// The underlying error.
        #[source]
        source: sqlx::Error,
    },
}

/// Every `kind` of `signet_server_db_errors_total`: a storage fault (`storage_full`,
/// `storage_read_only`, `storage_io`, `storage_cannot_open`), no pooled connection free
/// within the acquire timeout (`pool_timeout`), the database unreachable, shutting down or
/// overloaded (`unavailable`), any other database error (`database`), a failed migration
/// (`migration`).
pub const DB_ERROR_KINDS: [&str; 8] = [
    "storage_full",
    "storage_read_only",
    "storage_io",
    "storage_cannot_open",
    "pool_timeout",
    "unavailable",
    "database",
    "migration",
];

/// What is wrong with the storage under the database, as the database reported it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StorageFault {
    /// No space is left for the database (SQLite `SQLITE_FULL`, PostgreSQL `53100`
    /// `disk_full`).
    Full,
    /// The database cannot be written (SQLite `SQLITE_READONLY`, PostgreSQL `25006`
    /// `read_only_sql_transaction`).
    ReadOnly,
    /// Reading or writing the database files failed (SQLite `SQLITE_IOERR`, PostgreSQL
    /// `58030` `io_error`).
    Io,
    /// The database files cannot be opened (SQLite `SQLITE_CANTOPEN`), for example in a
    /// directory on a read-only file system.
    CannotOpen,
}

impl StorageFault {
    /// The fault of a database error, if it is one.
    #[must_use]
    pub fn of(err: &sqlx::Error) -> Option<Self> {
        let sqlx::Error::Database(db) = err else {
            return None;
        };
        let code = db.code()?;
        let code = code.as_ref();
        if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
            return sqlite_fault(code.parse().ok()?);
        }
        match code {
            "53100" => Some(Self::Full),
            "25006" => Some(Self::ReadOnly),
            "58030" => Some(Self::Io),
            _ => None,
        }
    }

    /// A short name for logs and metrics: `full`, `read_only`, `io` or `cannot_open`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Full => "full",
            Self::ReadOnly => "read_only",
            Self::Io => "io",
            Self::CannotOpen => "cannot_open",
        }
    }

    /// What a client is told: the cause, and that nothing of the request was stored.
    #[must_use]
    pub fn client_message(self) -> &'static str {
        match self {
            Self::Full => {
                "storage full: the server's database has no space left; nothing was stored"
            }
            Self::ReadOnly => {
                "storage read-only: the server's database cannot be written; nothing was stored"
            }
            Self::Io => {
                "storage I/O error: the server's database files could not be read or written; \
                 nothing was stored"
            }
            Self::CannotOpen => {
                "storage unavailable: the server's database files cannot be opened; nothing was \
                 stored"
            }
        }
    }
}

/// The fault of a SQLite extended result code (the low byte is the primary code).
fn sqlite_fault(code: i32) -> Option<StorageFault> {
    match code & 0xff {
        13 /* FULL */ => Some(StorageFault::Full),
        8 /* READONLY */ => Some(StorageFault::ReadOnly),
        10 /* IOERR */ => Some(StorageFault::Io),
        14 /* CANTOPEN */ => Some(StorageFault::CannotOpen),
        _ => None,
    }
}

impl std::fmt::Display for StorageFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Full => "storage full (no space left for the database)",
            Self::ReadOnly => "storage read-only (the database cannot be written)",
            Self::Io => "storage I/O error (the database files could not be read or written)",
            Self::CannotOpen => "storage unavailable (the database files cannot be opened)",
        })
    }
}

impl StoreError {
    /// The storage fault behind this error (full, read-only, I/O, cannot open), if any; also
    /// found inside a failed migration.
    #[must_use]
    pub fn storage_fault(&self) -> Option<StorageFault> {
        match self {
            Self::Storage { fault, .. } => Some(*fault),
            Self::Migrate {
                source:
                    sqlx::migrate::MigrateError::Execute(e)
                    | sqlx::migrate::MigrateError::ExecuteMigration(e, _),
            } => StorageFault::of(e),
            _ => None,
        }
    }

    /// Whether this error means the database is unreachable, overloaded or on failing storage
    /// (HTTP 503) rather than a problem with the request or the data.
    #[must_use]
    pub fn is_unavailable(&self) -> bool {
        match self {
            Self::Unavailable { .. } | Self::Storage { .. } | Self::Connect { .. } => true,
            Self::Migrate { source } => matches!(
                source,
                sqlx::migrate::MigrateError::Execute(e)
                    | sqlx::migrate::MigrateError::ExecuteMigration(e, _)
                    if is_unavailable(e)
            ),
            _ => false,
        }
    }

    /// Wraps a sqlx error, sorting connection trouble into [`StoreError::Unavailable`].
    /// Counts it in `signet_server_db_errors_total`.
    pub(crate) fn from_sqlx(context: impl Into<String>, source: sqlx::Error) -> Self {
        let context = context.into();
        let err = if let Some(fault) = StorageFault::of(&source) {
            Self::Storage {
                context,
                fault,
                source,
            }
        } else if is_unavailable(&source) {
            Self::Unavailable { context, source }
        } else {
            Self::Database { context, source }
        };
        err.count();
        err
    }

    /// Wraps a migration error (counted in `signet_server_db_errors_total`).
    pub(crate) fn from_migrate(source: sqlx::migrate::MigrateError) -> Self {
        let err = Self::Migrate { source };
        err.count();
        err
    }

    /// The `kind` label of `signet_server_db_errors_total` for an error the database or the
    /// pool reported (one of [`DB_ERROR_KINDS`]); `None` for the others (refusals of the
    /// request or the data, which the store decides itself).
    #[must_use]
    pub fn db_error_kind(&self) -> Option<&'static str> {
        Some(match self {
            Self::Storage { fault, .. } => match fault {
                StorageFault::Full => "storage_full",
                StorageFault::ReadOnly => "storage_read_only",
                StorageFault::Io => "storage_io",
                StorageFault::CannotOpen => "storage_cannot_open",
            },
            Self::Unavailable {
                source: sqlx::Error::PoolTimedOut,
                ..
            } => "pool_timeout",
            Self::Unavailable { .. } => "unavailable",
            Self::Database { .. } => "database",
            Self::Migrate { .. } => "migration",
            _ => return None,
        })
    }

    fn count(&self) {
        if let Some(kind) = self.db_error_kind() {
            metrics::counter!("signet_server_db_errors_total", "kind" => kind).increment(1);
        }
    }
}

/// Result alias of the store.
pub type StoreResult<T> = Result<T, StoreError>;

/// Whether the error comes from a connection that broke or could not be made, or from a
/// database refusing work for a transient reason.
///
/// A protocol error (bytes that are not the PostgreSQL wire protocol, such as a connection
/// closed by a proxy or load balancer in the middle of the start-up exchange) is a transport
/// failure too: the request itself is not at fault and a new connection may succeed.
pub(crate) fn is_unavailable(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Protocol(_)
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => is_unavailable_code(db.as_ref()),
        _ => false,
    }
}

/// Whether a failed query may be retried on another pooled connection: the connection it
/// ran on broke (the server restarted or dropped it), as opposed to the pool failing to
/// produce a connection at all, which already waited for its acquire timeout.
pub(crate) fn is_broken_connection(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Protocol(_)
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => db
            .try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
            .is_some_and(|pg| {
                let c = pg.code();
                c.starts_with("08") || matches!(c, "57P01" | "57P02" | "57P03")
            }),
        _ => false,
    }
}

fn is_unavailable_code(db: &dyn DatabaseError) -> bool {
    let Some(code) = db.code() else {
        return false;
    };
    let code = code.as_ref();
    if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
        // A SQLite extended result code: a decimal number whose low byte is the primary code.
        return code.parse::<i32>().is_ok_and(|n| {
            matches!(
                n & 0xff,
                5 /* BUSY */ | 6 /* LOCKED */ | 8 /* READONLY */ | 10 /* IOERR */
                    | 13 /* FULL */ | 14 /* CANTOPEN */
            )
        });
    }
    // PostgreSQL SQLSTATE: connection exceptions, insufficient resources, operator
    // intervention (shutdown, restart, cannot connect now), serialization failures and
    // deadlocks, and writes sent to a read-only standby.
    code.starts_with("08")
        || code.starts_with("53")
        || matches!(
            code,
            "57P01" | "57P02" | "57P03" | "40001" | "40P01" | "25006"
        )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn transport_failures_are_unavailable() {
        // What sqlx reports when a proxy closes the connection during the start-up exchange.
        let protocol = sqlx::Error::Protocol("unexpected response from SSLRequest: 0x00".into());
        assert!(is_unavailable(&protocol));
        assert!(is_broken_connection(&protocol));
        assert!(StoreError::from_sqlx("read", protocol).is_unavailable());
        let io = sqlx::Error::Io(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        assert!(is_unavailable(&io));
        assert!(is_unavailable(&sqlx::Error::PoolTimedOut));
        assert!(!is_broken_connection(&sqlx::Error::PoolTimedOut));
        assert!(!is_unavailable(&sqlx::Error::RowNotFound));
        assert!(!StoreError::from_sqlx("read", sqlx::Error::RowNotFound).is_unavailable());
    }

    /// A database error that is not a SQLite error, with the SQLSTATE `code`: what the
    /// PostgreSQL driver reports, without a PostgreSQL server.
    #[derive(Debug)]
    struct Forged {
        code: &'static str,
    }

    impl std::fmt::Display for Forged {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "forged database error {}", self.code)
        }
    }

    impl std::error::Error for Forged {}

    impl DatabaseError for Forged {
        fn message(&self) -> &str {
            "forged"
        }
        fn code(&self) -> Option<std::borrow::Cow<'_, str>> {
            Some(self.code.into())
        }
        fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
            self
        }
        fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
            self
        }
        fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
            self
        }
        fn kind(&self) -> sqlx::error::ErrorKind {
            sqlx::error::ErrorKind::Other
        }
    }

    fn forged(code: &'static str) -> sqlx::Error {
        sqlx::Error::Database(Box::new(Forged { code }))
    }

    #[test]
    fn postgres_storage_codes_are_storage_faults() {
        for (code, fault) in [
            ("53100", StorageFault::Full),
            ("25006", StorageFault::ReadOnly),
            ("58030", StorageFault::Io),
        ] {
            let err = StoreError::from_sqlx("update of g", forged(code));
            assert_eq!(err.storage_fault(), Some(fault), "{code}");
            assert!(err.is_unavailable(), "{code}");
        }
        let other = StoreError::from_sqlx("update of g", forged("23505"));
        assert_eq!(other.storage_fault(), None);
        assert!(!other.is_unavailable());
    }

    /// Real SQLite errors: a database that is read-only, and one whose file cannot be opened.
    #[tokio::test]
    async fn sqlite_storage_errors_are_storage_faults() {
        use sqlx::ConnectOptions as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite");
        let rw = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true);
        let mut conn = rw.connect().await.unwrap();
        sqlx::query("CREATE TABLE t (x INTEGER)")
            .execute(&mut conn)
            .await
            .unwrap();
        drop(conn);

        // SQLITE_READONLY (8): a write on a connection opened read-only.
        let mut ro = rw.clone().read_only(true).connect().await.unwrap();
        let e = sqlx::query("INSERT INTO t VALUES (1)")
            .execute(&mut ro)
            .await
            .unwrap_err();
        let err = StoreError::from_sqlx("update of example.com/app", e);
        assert_eq!(err.storage_fault(), Some(StorageFault::ReadOnly), "{err}");
        assert!(err.is_unavailable());
        let shown = err.to_string();
        assert!(shown.starts_with("storage read-only"), "{shown}");
        assert!(shown.contains("update of example.com/app"), "{shown}");

        // SQLITE_CANTOPEN (14): a database in a directory that does not exist.
        let missing = rw
            .clone()
            .filename(dir.path().join("absent").join("db.sqlite"))
            .connect()
            .await
            .unwrap_err();
        let err = StoreError::from_sqlx("read of example.com/app root", missing);
        assert_eq!(err.storage_fault(), Some(StorageFault::CannotOpen), "{err}");
        assert!(err.is_unavailable());
    }

    #[test]
    fn sqlite_extended_codes_keep_their_primary_code() {
        // The codes SQLite reports with extended result codes on: SQLITE_FULL,
        // SQLITE_READONLY_DBMOVED (8 | 4 << 8), SQLITE_IOERR_WRITE (10 | 3 << 8),
        // SQLITE_IOERR_SHMSIZE (10 | 19 << 8) and SQLITE_CANTOPEN_ISDIR (14 | 2 << 8).
        for (code, fault) in [
            (13, StorageFault::Full),
            (8 | 4 << 8, StorageFault::ReadOnly),
            (10 | 3 << 8, StorageFault::Io),
            (10 | 19 << 8, StorageFault::Io),
            (14 | 2 << 8, StorageFault::CannotOpen),
        ] {
            assert_eq!(sqlite_fault(code), Some(fault), "{code}");
        }
        assert_eq!(sqlite_fault(19 /* CONSTRAINT */), None);
        assert_eq!(sqlite_fault(2067 /* CONSTRAINT_UNIQUE */), None);
    }

    #[test]
    fn fault_messages_name_the_cause() {
        assert_eq!(
            StorageFault::Full.client_message(),
            "storage full: the server's database has no space left; nothing was stored"
        );
        for fault in [
            StorageFault::Full,
            StorageFault::ReadOnly,
            StorageFault::Io,
            StorageFault::CannotOpen,
        ] {
            assert!(fault.client_message().ends_with("nothing was stored"));
            assert!(fault.to_string().starts_with("storage "));
        }
    }
}

/// A `state` column value that names no [`KeyState`](super::KeyState).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown key state {0:?}")]
pub struct UnknownKeyState(pub String);
