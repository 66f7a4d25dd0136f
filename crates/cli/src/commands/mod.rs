//! The commands, one module per group, each with its own clap arguments. Each checks its
//! positional arguments first (with notary's messages), then calls the libraries and prints
//! through `Context::out`. [`crate::args::Command::run`] dispatches to them, every one with
//! a [`Context`](crate::context::Context) of its flavour (docker's for `trust`, notary's for
//! the others), which gives it the trust dir, key stores, passphrases and trust server.

pub(crate) mod admission;
pub(crate) mod changes;
pub(crate) mod compromised;
pub(crate) mod delegations;
pub(crate) mod keys;
pub(crate) mod repo;
pub(crate) mod resign;
pub(crate) mod shell;
pub(crate) mod sigstore;
pub(crate) mod trust;
