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

impl StoreError {
    /// Whether this error means the database is unreachable or overloaded (HTTP 503)
    /// rather than a problem with the request or the data.
    #[must_use]
    pub fn is_unavailable(&self) -> bool {
        match self {
            Self::Unavailable { .. } => true,
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
    pub(crate) fn from_sqlx(context: impl Into<String>, source: sqlx::Error) -> Self {
        let context = context.into();
        if is_unavailable(&source) {
            Self::Unavailable { context, source }
        } else {
            Self::Database { context, source }
        }
    }

    /// Wraps a migration error.
    pub(crate) fn from_migrate(source: sqlx::migrate::MigrateError) -> Self {
        Self::Migrate { source }
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
}
