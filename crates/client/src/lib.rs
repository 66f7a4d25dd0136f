//! A trusted Notary repository as a client sees it: trust dir, cache, changelist, update and
//! publish. Nothing here prints; warnings are returned to the caller.
//!
//! * [`gun`]: validated Globally Unique Names.
//! * [`trust_dir`]: the notary / docker trust directory layout and the metadata cache.
//! * [`changelist`]: staged changes, byte-compatible with Go notary.
//! * [`config`]: the notary CLI's `config.json`, including trust pinning, and the YubiHSM 2
//!   settings (`config::hardware`: the `yubihsm` object and `SIGNET_YUBIHSM_*`).
//! * [`remote`]: the Notary server over HTTP(S) with token / basic auth.
//! * [`pinning`]: trust pinning for the update, including pinned CA bundles.
//! * [`delegation_keys`]: delegation public keys from PEM files, with Notary's rules.
//! * [`targets`]: target roles and target metadata for `add` / `addhash`.
//! * [`progress`]: fetch and sign counts reported to a caller's callback.
//! * [`repository`]: update, lookups, initialisation, publish and key rotation.
//! * [`trust`]: docker content trust (`docker trust` semantics) over a repository.
//! * [`sigstore`]: cosign signatures of signed tags, made with the same signer keys.
//! * [`policy`]: trust policies (pinned roots, required signers, digest pinning) and the
//!   decision they take about an image.
#![forbid(unsafe_code)]

pub mod changelist;
pub mod config;
pub mod delegation_keys;
pub mod error;
mod fsutil;
pub mod gun;
pub mod http;
pub mod pinning;
pub mod policy;
pub mod progress;
pub mod registry;
pub mod remote;
pub mod repository;
pub mod sigstore;
pub mod targets;
pub mod trust;
pub mod trust_dir;

pub use error::{Error, Result};
pub use gun::Gun;
pub use repository::Repository;
pub use trust_dir::TrustDir;
