//! signet-server library.
#![forbid(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod auth;
pub mod cache;
pub mod config;
pub mod error;
pub mod hsm;
pub mod http;
pub mod kek;
pub mod listener;
pub mod notary_db;
pub mod notary_server;
pub mod notary_signer;
pub mod pointers;
pub mod server;
pub mod service;
pub mod store;
pub mod trusted_by;
pub mod validation;
