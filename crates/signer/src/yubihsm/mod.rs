//! YubiHSM 2 backend: keys for every role generated and used on the device.
//!
//! Notary's hardware backend held only root keys, generated them in software and imported
//! them into a YubiKey's PIV slots. [`YubiHsmKeyStore`] instead:
//!
//! * generates ECDSA P-256 and Ed25519 keys **on the device** for any role (root, targets,
//!   delegations, snapshot, timestamp), exportable only under a wrap key;
//! * records role and GUN with each key (a compact 40-byte label plus a metadata object, see
//!   *Labels and metadata* below) and lists keys with their canonical TUF key IDs,
//!   computed from the public key the device reports;
//! * signs in Notary's formats (ECDSA raw `r‖s` over SHA-256, Ed25519 64 bytes) and verifies
//!   every signature with `signet-tuf` before returning it;
//! * imports existing keys (a [`PrivateKey`](crate::PrivateKey) read from a notary key file),
//!   and makes and restores wrapped backups ([`WrappedKey`]);
//! * signs root certificates: a [`YubiHsmSigner`] is a [`Signer`](crate::Signer), so
//!   [`cert::generate_root_certificate`](crate::cert::generate_root_certificate) works with it,
//!   and it implements [`rcgen::SigningKey`] directly (DER ECDSA signatures).
//!
//! # Connecting
//!
//! [`YubiHsmConfig::from_lookup`] parses `SIGNET_YUBIHSM_CONNECTOR` (default
//! `http://127.0.0.1:12345`, Yubico's `yubihsm-connector`; `usb` needs the `yubihsm-usb`
//! feature), `SIGNET_YUBIHSM_AUTH_KEY` (default 1), `SIGNET_YUBIHSM_PASSWORD` (required) and
//! `SIGNET_YUBIHSM_DOMAIN` (default 1) and `SIGNET_YUBIHSM_KEYS` (`all`, the default, or
//! `root`: which new keys [`KeyStore::generate_key`](crate::KeyStore::generate_key) and
//! [`KeyStore::add_key`](crate::KeyStore::add_key) put on the device; see [`NewKeyRoles`])
//! from a lookup by variable name; the `signet` CLI resolves them from its `config.json` and
//! the environment in `signet_client::config::hardware`. [`YubiHsmKeyStore::open`]
//! authenticates a session.
//!
//! # Blocking
//!
//! The device client is blocking and serialises commands on one session, so this API is
//! synchronous, like the [`Signer`](crate::Signer) and [`KeyStore`](crate::KeyStore) traits.
//! Async callers run store and signer calls inside `tokio::task::spawn_blocking` (or a
//! dedicated thread), never directly on a runtime worker.
//!
//! # Store chains
//!
//! [`CryptoService`](crate::CryptoService) searches its stores in order. With
//! `[yubihsm, file store]` a key present on the device and on disk (for example a root key
//! imported into the device and still in the trust directory) is used from the device, and the
//! file store is never asked for it.
//! [`CryptoService::require_signer_by_id`](crate::CryptoService::require_signer_by_id) and [`CryptoService::require_signer_for`](crate::CryptoService::require_signer_for) turn a
//! miss into [`crate::Error::KeyNotInStores`], naming the key ID and every store searched.
//!
//! # Labels and metadata
//!
//! The label of a key is `signet:<role>:<gun tag>` (role verbatim when it has at most 20 bytes
//! of `[a-z0-9/_.-]`, otherwise `~` and 10 hex digits of its SHA-256; the GUN tag is 12 hex
//! digits of the GUN's SHA-256, or `-`). An opaque object with the same object ID holds the
//! full role, GUN and key ID. Objects without a signet label are left alone.
//!
//! # Limits
//!
//! Ed25519 signs the whole message, which must fit into one device command: at most
//! [`MAX_ED25519_MESSAGE_LEN`] bytes. Use ECDSA for roles whose metadata can grow (targets,
//! snapshot, root); Ed25519 suits timestamp keys. RSA keys are not supported.

mod config;
mod error;
mod label;
mod signer;
mod store;
mod wrapped;

pub use config::{
    AUTH_KEY_ENV, CONNECTOR_ENV, ConnectorConfig, DEFAULT_AUTH_KEY_ID, DEFAULT_CONNECTOR_ADDR,
    DEFAULT_CONNECTOR_PORT, DEFAULT_DOMAIN, DEFAULT_TIMEOUT_MS, DOMAIN_ENV, KEYS_ENV, NewKeyRoles,
    PASSWORD_ENV, YubiHsmConfig,
};
pub use error::{Error, Result};
pub use label::key_label;
pub use signer::{MAX_ED25519_MESSAGE_LEN, YubiHsmSigner};
pub use store::{DeviceKeyInfo, FIRST_OBJECT_ID, LAST_OBJECT_ID, YubiHsmKeyStore};

/// Location name of device keys (`KeyInfo::location`, the store's name).
pub const LOCATION: &str = "yubihsm";
pub use wrapped::{WRAPPED_KEY_LABEL, WrappedKey};
