//! Carrying Notary signatures over to sigstore: cosign signatures of signed tags, made with
//! the same signer keys, for teams moving from Notary v1 to `cosign verify` or
//! `containers-policy.json` `sigstoreSigned` requirements.
//!
//! * [`image`]: the simple-signing payload and the signature image cosign stores under
//!   `IMAGE:sha256-<hex>.sig` (OCI manifest, config, one layer per signature), created or
//!   appended to.
//! * [`key`]: signer keys as sigstore uses them (ECDSA P-256, `PUBLIC KEY` PEM).
//! * [`export`]: `trust export-sigstore`, from the verified trust data to the registry.
//! * [`error`]: the module's errors, [`SigstoreError`].

pub mod error;
pub mod export;
pub mod image;
pub mod key;

pub use error::SigstoreError;
pub use export::{ExportOptions, ExportReport, ExportedTag, export};

impl From<SigstoreError> for crate::Error {
    fn from(error: SigstoreError) -> Self {
        Self::Sigstore(error)
    }
}
