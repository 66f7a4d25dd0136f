//! Shared harness for the end-to-end suite: external-dependency checks, server processes (the Go
//! `notary-server` and `notary-signer` and any other binary), throw-away Postgres and
//! MySQL/MariaDB databases, the Go `notary` CLI and parsers for its tables.
//!
//! Tests skip with a notice when the Go binaries, Postgres, MariaDB or libfaketime are missing,
//! and fail instead when the `CI` environment variable is set:
//!
//! ```no_run
//! use signet_e2e::{GoNotaryServer, NotaryCli, require_tool};
//!
//! if require_tool("notary-server").is_none() || require_tool("notary").is_none() {
//!     return;
//! }
//! let server = GoNotaryServer::start_memory().unwrap();
//! let cli = NotaryCli::new(server.url()).unwrap();
//! cli.init("example.com/app", true).unwrap();
//! let row = cli.add_bytes("example.com/app", "v1", b"payload", &[], true).unwrap();
//! assert_eq!(cli.fresh().unwrap().list("example.com/app").unwrap(), vec![row]);
//! ```
#![forbid(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod admission;
mod command;
pub mod docker_cli;
mod error;
mod go_server;
mod go_signer;
mod http;
mod listing;
mod mysql;
mod notary_cli;
mod ports;
mod postgres;
mod process;
pub mod registry;
mod require;
mod signet;
mod tls;
mod trust_dir;

pub use command::{CommandOutput, DEFAULT_COMMAND_TIMEOUT, run_command, run_tool};
pub use error::{HarnessError, Result};
pub use go_server::GoNotaryServer;
pub use go_signer::{GoNotarySigner, GoStorage, SignerTls, passphrase_variable};
pub use http::{HttpResponse, http_get, http_post, is_healthy};
pub use listing::{DelegationRow, TargetRow, parse_delegation_list, parse_target_list};
pub use mysql::{DEFAULT_MYSQL_URL, MySql, TempMySqlDatabase};
pub use notary_cli::{DelegationKey, DelegationPaths, NotaryCli, Passphrases, TargetHashes};
pub use ports::free_port;
pub use postgres::{Postgres, TempDatabase};
pub use process::{DEFAULT_STARTUP_TIMEOUT, ServerCommand, ServerProcess};
pub use require::{
    find_tool, in_ci, require_libfaketime, require_mysql, require_postgres, require_tool,
};
pub use signet::{
    SignetServer, debug_binary, run_signet_server, signet_server_binary, workspace_root,
};
pub use tls::TlsFiles;
pub use trust_dir::{TrustDir, copy_dir_all};
