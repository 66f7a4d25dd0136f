//! End-to-end tests: real binaries driven through the `signet_e2e` harness.
#![forbid(unsafe_code)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod admission;
mod attack_catalogue;
mod client_compat;
mod client_interop;
mod client_support;
mod crash_consistency;
mod go_migration;
mod go_notary_memory;
mod go_notary_postgres;
mod key_compromise;
mod postgres_restart;
mod publish_at_scale;
mod registry;
mod server_concurrency;
mod server_hangups;
mod server_http;
mod server_limits;
mod server_negative;
mod server_parity;
mod server_shared;
mod sqlite_faults;
mod support;
mod trust_docker;
mod trust_policy;
mod trust_registry;
mod trust_sigstore;
mod trust_support;
