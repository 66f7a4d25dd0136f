//! Taking over the metadata of a Go notary-server database (`signet-server
//! import-notary-server`).
//!
//! signet adopts a Go notary-server's PostgreSQL database in place (its migrations apply on
//! top of Go's schema). A Go deployment on MySQL/MariaDB, as Go notary's own docker-compose
//! runs it, cannot be adopted in place, since signet's store is PostgreSQL or SQLite:
//! [`import()`] copies its `tuf_files` and changefeed into signet's database instead, every
//! byte, checksum, version and time as it is and every changefeed ID kept. A PostgreSQL
//! notary-server database can be copied the same way (into SQLite, or into another database).
//!
//! The source is opened by [`ServerDb::connect`] with the connection code the notary-signer
//! import shares ([`crate::notary_db`]).

pub mod import;
mod source;

pub use import::{GunSummary, ServerImportOptions, ServerImportReport, import};
pub use source::ServerDb;
