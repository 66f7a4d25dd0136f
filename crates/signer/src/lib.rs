//! Private keys for signet: notary-compatible trust-dir key store, in-memory and YubiHSM 2
//! backends, root certificates, rotation.
//!
//! Keys are addressed by their *canonical* TUF key ID (for root keys the ID of the plain key
//! inside the certificate; see [`signer`]). Every signature is made in Notary's format and can
//! be checked with `signet-tuf`.
//!
//! # Modules
//!
//! * [`private_key`]: [`PrivateKey`], ECDSA P-256, Ed25519 and RSA keys (generation, key IDs,
//!   signing as `ecdsa` raw `r‖s`, `eddsa`, `rsapss`).
//! * [`signer`]: the [`Signer`] trait the client and the server sign with, [`CertifiedSigner`]
//!   (a key presented under its root certificate), and [`CryptoService`], which looks signers
//!   up across an ordered list of [`KeyStore`]s and explains misses
//!   ([`CryptoService::require_signer_for`]).
//! * [`store`]: the [`KeyStore`] trait, [`FileKeyStore`] over a notary / docker trust
//!   directory (reads every key file layout Notary ever wrote and migrates the old ones),
//!   `notary key import`/`export` semantics, and [`MemoryKeyStore`].
//! * [`keyfile`], [`pkcs8`]: Notary's key file format — PEM ([`signet_tuf::notary::pem`]) with
//!   `role`/`gun` headers around PBES2 (PBKDF2-HMAC-SHA1, AES-256-CBC) encrypted PKCS#8 — and
//!   the legacy PEM forms.
//! * [`passphrase`]: Notary's and Docker's passphrase environment variables and interactive
//!   prompt rules ([`PassphraseRetriever`]).
//! * [`cert`]: self-signed root certificates with Notary's template (CN = GUN, 10 years),
//!   issued through any ECDSA [`Signer`], hardware ones included.
//! * [`rotation`]: which rotations Notary allows, and the new key of a rotation (generated,
//!   read from a key file, or already held by a store such as a YubiHSM 2).
//! * [`seal`]: AES-256-GCM encryption of private keys at rest (the server's database).
//! * [`yubihsm`]: [`yubihsm::YubiHsmKeyStore`], keys for every role generated and used on a
//!   YubiHSM 2 through `yubihsm-connector` (or USB with the `yubihsm-usb` feature), wrapped
//!   backups, device-signed root certificates.
//! * [`error`]: the crate's [`Error`]; the YubiHSM backend has its own
//!   [`yubihsm::Error`], converted into [`Error`] at the [`KeyStore`]/[`Signer`] boundary
//!   (device failures become [`Error::Device`]).
//!
//! # Opening a trust directory and signing
//!
//! ```
//! use std::sync::Arc;
//!
//! use signet_signer::passphrase::ConstantRetriever;
//! use signet_signer::{CryptoService, FileKeyStore, KeyAlgorithm, KeyStore as _, Signer as _};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // Normally `~/.notary` or `~/.docker/trust`, with `EnvRetriever::notary()` (or
//! // `::docker()`) falling back to a terminal prompt for passphrases.
//! let trust_dir = tempfile::tempdir()?;
//! let store = FileKeyStore::open(trust_dir.path(), Arc::new(ConstantRetriever::new("s3cret!!")))?;
//! let service = CryptoService::new(vec![Arc::new(store)]);
//!
//! // Writes private/<key id>.key (encrypted PKCS#8, `gun:` and `role: targets` headers).
//! let targets = service.create(KeyAlgorithm::Ecdsa, "targets", Some("example.com/app"))?;
//!
//! // Later, find the signer for a key listed in root.json and sign canonical JSON with it.
//! let signer = service.require_signer_for(targets.public_key())?;
//! let msg = br#"{"_type":"Targets","expires":"2030-01-01T00:00:00Z","targets":{},"version":1}"#;
//! let signature = signer.sign(msg)?;
//! assert_eq!(signature.keyid, targets.public_key().key_id());
//! signer.public_key().verify(&signature.method, msg, &signature.sig)?;
//!
//! // What `notary key list` shows.
//! let listed = service.stores()[0].list_keys()?;
//! assert_eq!(listed[0].role, "targets");
//! # Ok(())
//! # }
//! ```
//!
//! # A YubiHSM 2 in front of the trust directory
//!
//! ```no_run
//! use std::sync::Arc;
//!
//! use signet_signer::passphrase::EnvRetriever;
//! use signet_signer::yubihsm::{YubiHsmConfig, YubiHsmKeyStore};
//! use signet_signer::{CryptoService, FileKeyStore, KeyAlgorithm};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // Authentication key 2 of the device behind yubihsm-connector at 127.0.0.1:12345.
//! let config = YubiHsmConfig::new(2, std::env::var("SIGNET_YUBIHSM_PASSWORD")?)
//!     .with_connector("http://127.0.0.1:12345".parse()?);
//! let device = YubiHsmKeyStore::open(&config)?;
//! let disk = FileKeyStore::open("/home/me/.notary", Arc::new(EnvRetriever::notary()))?;
//! // Lookups try the device first; new keys are generated on the device.
//! let service = CryptoService::new(vec![Arc::new(device), Arc::new(disk)]);
//! let root = service.create(KeyAlgorithm::Ecdsa, "root", None)?;
//! let certificate = signet_signer::cert::generate_root_certificate(root.as_ref(), "example.com/app")?;
//! println!("{}", certificate.pem);
//! # Ok(())
//! # }
//! ```
#![forbid(unsafe_code)]

mod asn1;
pub mod cert;
mod crypto_service;
pub mod error;
pub mod keyfile;
pub mod passphrase;
pub mod pkcs8;
pub mod private_fs;
pub mod private_key;
pub mod rotation;
pub mod seal;
pub mod signer;
pub mod store;
pub mod yubihsm;

pub use crypto_service::CryptoService;
pub use error::{Error, Result};
pub use passphrase::{PassphraseRequest, PassphraseRetriever};
pub use private_key::{KeyAlgorithm, PrivateKey};
pub use signer::{CertifiedSigner, Signer};
pub use store::{FileKeyStore, KeyInfo, KeyStore, MemoryKeyStore};
