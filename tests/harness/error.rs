//! The harness error type.

use std::io;
use std::path::PathBuf;
use std::time::Duration;

/// Everything that can go wrong while driving servers, databases and CLIs in the e2e suite.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    /// A filesystem or socket operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done, naming the path or address involved.
        context: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },

    /// A program the harness needs is not on `PATH`.
    #[error("required program `{tool}` is not on PATH")]
    ToolMissing {
        /// The program name.
        tool: String,
    },

    /// A program could not be started.
    #[error("could not start `{program}`: {source}")]
    Spawn {
        /// The program path.
        program: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },

    /// A server exited before it became healthy.
    #[error("server `{name}` exited ({status}) before becoming healthy; log:\n{log}")]
    ServerExited {
        /// The server's display name.
        name: String,
        /// Its exit status.
        status: String,
        /// Its captured output.
        log: String,
    },

    /// A server did not answer its health URL in time.
    #[error("server `{name}` did not answer {health_url} within {timeout:?}; log:\n{log}")]
    ServerTimeout {
        /// The server's display name.
        name: String,
        /// The health URL that was polled.
        health_url: String,
        /// How long the harness waited.
        timeout: Duration,
        /// Its captured output.
        log: String,
    },

    /// A command exited unsuccessfully.
    #[error("`{command}` failed ({status})\nstdout:\n{stdout}\nstderr:\n{stderr}")]
    CommandFailed {
        /// The command line.
        command: String,
        /// Its exit status.
        status: String,
        /// Its standard output.
        stdout: String,
        /// Its standard error.
        stderr: String,
    },

    /// A command did not finish in time and was killed.
    #[error("`{command}` did not finish within {timeout:?} and was killed")]
    CommandTimeout {
        /// The command line.
        command: String,
        /// The time limit.
        timeout: Duration,
    },

    /// Output of a command could not be parsed.
    #[error("cannot parse {what} output line {line:?}: {reason}")]
    Parse {
        /// Which output (for example `notary list`).
        what: &'static str,
        /// The offending line.
        line: String,
        /// Why it was rejected.
        reason: String,
    },

    /// An HTTP exchange failed or returned a malformed response.
    #[error("HTTP request to {url} failed: {reason}")]
    Http {
        /// The URL requested.
        url: String,
        /// What went wrong.
        reason: String,
    },

    /// Test TLS material could not be generated.
    #[error("cannot {what} for the test TLS certificates: {reason}")]
    Tls {
        /// The step that failed.
        what: String,
        /// Why.
        reason: String,
    },

    /// A Postgres statement failed.
    #[error("postgres statement on database `{database}` failed: {stderr}")]
    Postgres {
        /// The database the statement ran in.
        database: String,
        /// psql's error output.
        stderr: String,
    },

    /// A MySQL/MariaDB statement failed.
    #[error("mysql statement on database `{database}` failed: {stderr}")]
    MySql {
        /// The database the statement ran in (empty for server-level statements).
        database: String,
        /// The `mysql` client's error output.
        stderr: String,
    },
}

/// Result alias for harness operations.
pub type Result<T> = std::result::Result<T, HarnessError>;

impl HarnessError {
    /// Wraps an I/O error with a description of what was being done.
    pub fn io(context: impl Into<String>, source: io::Error) -> Self {
        Self::Io {
            context: context.into(),
            source,
        }
    }
}
