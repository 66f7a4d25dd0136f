//! Private keys for signet: notary-compatible trust-dir key store, in-memory and YubiHSM 2
//! backends, root certificates, rotation.
//!
//! * [`PrivateKey`]: ECDSA P-256, Ed25519 and RSA keys signing in Notary's formats.
//! * [`Signer`]: the one signing trait the client and server use; [`CryptoService`] finds the
//!   signers for the keys listed in metadata across several [`KeyStore`]s.
//! * [`store`]: [`FileKeyStore`] over a notary/docker trust directory (reads every key file
//!   format Notary ever wrote, migrates legacy layouts) and [`MemoryKeyStore`].
//! * [`keyfile`], [`pkcs8`], [`pem`]: the Notary key file format.
//! * [`passphrase`]: Notary's and Docker's passphrase environment variables and prompts.
//! * [`cert`]: self-signed root certificates.
//! * [`seal`]: encryption of private keys at rest (server database).
//! * [`rotation`]: new keys for a role.
#![forbid(unsafe_code)]

mod asn1;
pub mod cert;
pub mod error;
mod fsutil;
pub mod keyfile;
pub mod passphrase;
pub mod pem;
pub mod pkcs8;
pub mod private_key;
pub mod rotation;
pub mod seal;
pub mod signer;
pub mod store;
pub mod yubihsm;

pub use error::{Error, Result};
pub use passphrase::{PassphraseRequest, PassphraseRetriever};
pub use private_key::{KeyAlgorithm, PrivateKey};
pub use signer::{CertifiedSigner, CryptoService, Signer};
pub use store::{FileKeyStore, KeyInfo, KeyStore, MemoryKeyStore};
