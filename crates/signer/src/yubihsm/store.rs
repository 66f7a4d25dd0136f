//! [`YubiHsmKeyStore`]: signet keys on a YubiHSM 2.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use signet_tuf::key::KeyId;
use yubihsm::device::ErrorKind as DeviceErrorKind;
use yubihsm::object::{self, Filter, Label};
use yubihsm::{Capability, Client, Connector, Credentials, Domain, asymmetric, opaque, wrap};
use zeroize::Zeroizing;

use super::LOCATION;
use super::config::{ConnectorConfig, NewKeyRoles, YubiHsmConfig};
use super::error::{Error, Result};
use super::label::{self, Metadata};
use super::signer::{DevicePublicKey, YubiHsmSigner, decode_public_key};
use super::wrapped::WrappedKey;
use crate::keyfile::role_keeps_gun;
use crate::passphrase::PassphraseRetriever;
use crate::private_key::{KeyAlgorithm, PrivateKey};
use crate::signer::Signer;
use crate::store::{KeyInfo, KeyStore};

/// Lowest object ID signet allocates; lower IDs are left to other applications.
pub const FIRST_OBJECT_ID: u16 = 0x0100;
/// Highest object ID signet allocates.
pub const LAST_OBJECT_ID: u16 = 0xfffe;

/// Largest wrapped object (nonce ‖ ciphertext) sent back to a device: the same bound as an
/// Ed25519 message, since both travel after a 2-byte object ID in one command.
const MAX_WRAPPED_LEN: usize = super::signer::MAX_ED25519_MESSAGE_LEN;

/// How often allocation moves on after another client took the chosen object ID.
const ALLOCATION_ATTEMPTS: usize = 16;

/// Capabilities of the wrap keys signet creates.
fn wrap_key_capabilities() -> Capability {
    Capability::EXPORT_WRAPPED | Capability::IMPORT_WRAPPED
}

/// Capabilities a wrap key may pass on to the objects it exports and imports.
fn wrap_key_delegated() -> Capability {
    Capability::SIGN_ECDSA | Capability::SIGN_EDDSA | Capability::EXPORTABLE_UNDER_WRAP
}

/// What the device holds about one signet key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceKeyInfo {
    /// Key ID (canonical, from the device's public key), role, GUN and location.
    pub info: KeyInfo,
    /// Object ID of the asymmetric key (its metadata object has the same ID).
    pub object_id: u16,
    /// Algorithm of the key.
    pub algorithm: KeyAlgorithm,
    /// The object's label.
    pub label: String,
    /// Whether the key was generated on a device (directly, or restored from a wrapped backup
    /// of a generated key) rather than imported in plain.
    pub generated_on_device: bool,
    /// Whether the key may be exported under a wrap key.
    pub exportable_under_wrap: bool,
}

#[derive(Debug, Clone)]
struct DeviceKey {
    public: DevicePublicKey,
    details: DeviceKeyInfo,
}

/// Private keys on a YubiHSM 2, for every role, generated on the device.
///
/// * Keys are ECDSA P-256 or Ed25519 asymmetric objects with `SIGN_ECDSA`/`SIGN_EDDSA` and
///   `EXPORTABLE_UNDER_WRAP`, created in the configured domain. Their label is
///   `signet:<role>:<gun tag>`; an opaque object with the same object ID keeps the full role
///   and GUN. Objects without a signet label are never listed, used or deleted.
/// * Key IDs are computed from the public key the device reports, so they match the IDs of
///   the same key in a notary trust directory.
/// * New objects take the lowest ID from [`FIRST_OBJECT_ID`] that is free both for asymmetric
///   keys and for opaque objects; creation is serialised within the process and moves on when
///   another client took the ID first.
///
/// All calls are blocking device round trips over one authenticated session (the
/// [`yubihsm::Client`] serialises them); async callers use `tokio::task::spawn_blocking`.
pub struct YubiHsmKeyStore {
    client: Client,
    connector: String,
    domain: Domain,
    /// Which new keys the `KeyStore` trait methods take.
    new_keys: NewKeyRoles,
    /// Whether new keys get `EXPORTABLE_UNDER_WRAP`.
    exportable: bool,
    /// Whether new keys get an opaque metadata object next to them.
    metadata_objects: bool,
    /// Known keys by canonical ID; `None` until the device has been scanned.
    index: Mutex<Option<BTreeMap<KeyId, DeviceKey>>>,
    /// Serialises object-ID allocation with object creation.
    allocation: Mutex<()>,
}

impl fmt::Debug for YubiHsmKeyStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("YubiHsmKeyStore")
            .field("connector", &self.connector)
            .field("domain", &self.domain)
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn domain_from_number(n: u8) -> Result<Domain> {
    usize::from(n)
        .checked_sub(1)
        .and_then(|i| yubihsm::domain::DOMAINS.get(i).copied())
        .ok_or_else(|| Error::Config {
            setting: super::config::DOMAIN_ENV.to_owned(),
            value: n.to_string(),
            reason: "expected a domain from 1 to 16".to_owned(),
        })
}

fn object_label(text: &str) -> Result<Label> {
    Label::from_bytes(text.as_bytes()).map_err(|_| Error::InvalidAttribute {
        field: "label",
        value: text.to_owned(),
        reason: "object labels are at most 40 bytes",
    })
}

fn is_device_error(e: &yubihsm::client::Error, kind: DeviceErrorKind) -> bool {
    e.device_error() == Some(kind)
}

#[cfg(feature = "yubihsm-usb")]
fn usb_connector(serial: Option<&str>, timeout_ms: u64) -> Result<Connector> {
    let serial = serial
        .map(|s| {
            s.parse::<yubihsm::device::SerialNumber>()
                .map_err(|e| Error::Config {
                    setting: super::config::CONNECTOR_ENV.to_owned(),
                    value: format!("usb:{s}"),
                    reason: e.to_string(),
                })
        })
        .transpose()?;
    Ok(Connector::usb(&yubihsm::UsbConfig { serial, timeout_ms }))
}

#[cfg(not(feature = "yubihsm-usb"))]
fn usb_connector(_serial: Option<&str>, _timeout_ms: u64) -> Result<Connector> {
    Err(Error::UsbUnavailable)
}

impl YubiHsmKeyStore {
    /// Opens an authenticated session with the device described by `config`.
    ///
    /// # Errors
    ///
    /// [`Error::Connect`] when the connector cannot be reached or authentication fails,
    /// [`Error::UsbUnavailable`] for USB without the `yubihsm-usb` feature.
    pub fn open(config: &YubiHsmConfig) -> Result<Self> {
        let connector = match &config.connector {
            ConnectorConfig::Http {
                addr,
                port,
                timeout_ms,
            } => Connector::http(&yubihsm::HttpConfig {
                addr: addr.clone(),
                port: *port,
                timeout_ms: *timeout_ms,
            }),
            ConnectorConfig::Usb { serial, timeout_ms } => {
                usb_connector(serial.as_deref(), *timeout_ms)?
            }
        };
        let credentials =
            Credentials::from_password(config.auth_key_id, config.password().as_bytes());
        let name = config.connector.to_string();
        let client =
            Client::open(connector, credentials, true).map_err(|source| Error::Connect {
                connector: name.clone(),
                auth_key_id: config.auth_key_id,
                source,
            })?;
        let mut store = Self::from_client(client, &name);
        store.domain = domain_from_number(config.domain)?;
        store.new_keys = config.new_keys;
        Ok(store)
    }

    /// A store over an already opened client (for example one on `Connector::mockhsm()` in
    /// tests). `connector` names it in `Debug` output; objects are created in domain 1.
    pub fn from_client(client: Client, connector: &str) -> Self {
        Self {
            client,
            connector: connector.to_owned(),
            domain: Domain::DOM1,
            new_keys: NewKeyRoles::default(),
            exportable: true,
            metadata_objects: true,
            index: Mutex::new(None),
            allocation: Mutex::new(()),
        }
    }

    /// Creates new objects in `domain` (1–16) instead of domain 1.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for other numbers.
    pub fn with_domain(mut self, domain: u8) -> Result<Self> {
        self.domain = domain_from_number(domain)?;
        Ok(self)
    }

    /// Takes only the new keys `roles` allows through [`KeyStore::generate_key`] and
    /// [`KeyStore::add_key`]; the others are refused with [`crate::Error::Unsupported`] so
    /// that a [`CryptoService`](crate::CryptoService) puts them into its next store.
    /// [`generate`](Self::generate) and [`import_key`](Self::import_key) are not limited.
    #[must_use]
    pub fn with_new_keys(mut self, roles: NewKeyRoles) -> Self {
        self.new_keys = roles;
        self
    }

    /// Whether keys generated or imported from now on may be exported under a wrap key
    /// (`true`, the default: they can be backed up with
    /// [`export_wrapped`](Self::export_wrapped)). With `false` new keys get only their signing
    /// capability: their private half can never leave the device, not even wrapped.
    #[must_use]
    pub fn with_exportable_keys(mut self, exportable: bool) -> Self {
        self.exportable = exportable;
        self
    }

    /// Whether keys generated or imported from now on get an opaque metadata object with
    /// their full role, GUN and key ID (`true`, the default). Without it a key takes one
    /// object slot instead of two; its label still names its role and a tag of its GUN, and
    /// an application that records the object ID elsewhere (a database) loses nothing.
    #[must_use]
    pub fn with_metadata_objects(mut self, metadata_objects: bool) -> Self {
        self.metadata_objects = metadata_objects;
        self
    }

    /// Refuses a new key of `role` the store is set not to take.
    fn check_new_key_role(&self, role: &str) -> crate::Result<()> {
        if self.new_keys.accepts(role) {
            Ok(())
        } else {
            Err(crate::Error::Unsupported {
                store: format!("{LOCATION} ({role} key)"),
                operation: "new keys of roles other than root (it is set to take new root keys \
                            only)",
            })
        }
    }

    /// The device client (cloning it shares the session).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The connector this store talks to (`http://127.0.0.1:12345`, `usb`, ...).
    pub fn connector(&self) -> &str {
        &self.connector
    }

    /// Forgets what is known about the device's keys; the next lookup reads them again.
    pub fn refresh(&self) {
        *lock(&self.index) = None;
    }

    /// Every signet key on the device with its device details, ordered by key ID.
    ///
    /// # Errors
    ///
    /// [`Error::Device`] when listing or reading objects fails.
    pub fn device_keys(&self) -> Result<Vec<DeviceKeyInfo>> {
        let keys = self.scan()?;
        let list = keys.values().map(|k| k.details.clone()).collect();
        *lock(&self.index) = Some(keys);
        Ok(list)
    }

    /// Device details of key `key_id`.
    ///
    /// # Errors
    ///
    /// [`Error::KeyNotFound`] when the device holds no signet key with that ID.
    pub fn device_key(&self, key_id: &KeyId) -> Result<DeviceKeyInfo> {
        Ok(self.lookup(key_id)?.details)
    }

    /// Device details of the signet key stored under object ID `object_id` (to use a key
    /// chosen by its object ID, for example as the new key of a rotation).
    ///
    /// # Errors
    ///
    /// [`Error::ObjectNotFound`] when no signet key has that object ID; device errors.
    pub fn device_key_by_object_id(&self, object_id: u16) -> Result<DeviceKeyInfo> {
        self.device_keys()?
            .into_iter()
            .find(|k| k.object_id == object_id)
            .ok_or(Error::ObjectNotFound { object_id })
    }

    /// The device signer for `key_id`, as a concrete type (usable with rcgen as well as
    /// through [`Signer`]).
    ///
    /// # Errors
    ///
    /// [`Error::KeyNotFound`] when the device holds no signet key with that ID.
    pub fn device_signer(&self, key_id: &KeyId) -> Result<YubiHsmSigner> {
        let key = self.lookup(key_id)?;
        Ok(YubiHsmSigner::new(
            self.client.clone(),
            key.details.object_id,
            key.public,
        ))
    }

    /// Generates a key of `algorithm` on the device for `role` (and `gun` for targets,
    /// snapshot and timestamp keys; ignored for others). The private key never leaves the
    /// device except wrapped (see [`export_wrapped`](Self::export_wrapped)).
    ///
    /// # Errors
    ///
    /// [`Error::UnsupportedAlgorithm`] for RSA, [`Error::MissingGun`] or
    /// [`Error::InvalidAttribute`] for unusable role/GUN values, device errors.
    pub fn generate(
        &self,
        algorithm: KeyAlgorithm,
        role: &str,
        gun: Option<&str>,
    ) -> Result<YubiHsmSigner> {
        let (device_algorithm, capabilities) =
            device_algorithm(algorithm, "new key", self.exportable)?;
        let gun = checked_attributes(role, gun)?;
        let label = object_label(&label::encode_label(role, gun.as_deref()))?;
        let _allocation = lock(&self.allocation);
        let object_id = self.create_with_free_id("asymmetric key", |id| {
            self.client.generate_asymmetric_key(
                id,
                label.clone(),
                self.domain,
                capabilities,
                device_algorithm,
            )
        })?;
        let key = self.finish_new_key(object_id, role, gun)?;
        Ok(YubiHsmSigner::new(
            self.client.clone(),
            object_id,
            key.public,
        ))
    }

    /// Imports an existing key (for example one decrypted from a notary key file) for
    /// `role`/`gun`. A copy of the same key already on the device is replaced.
    ///
    /// The scalar or seed is handed to the device client in a buffer the client does not
    /// zeroize; prefer [`generate`](Self::generate) for new keys.
    ///
    /// # Errors
    ///
    /// [`Error::UnsupportedAlgorithm`] for RSA keys, attribute and device errors.
    pub fn import_key(
        &self,
        key: &PrivateKey,
        role: &str,
        gun: Option<&str>,
    ) -> Result<DeviceKeyInfo> {
        // Checked before the device is searched.
        device_algorithm(key.algorithm(), key.key_id().as_str(), self.exportable)?;
        checked_attributes(role, gun)?;
        let previous = self.find(key.key_id())?;
        let new = self.put_key(key, role, gun)?;
        if let Some(old) = previous
            && old.details.object_id != new.object_id
        {
            self.delete_objects(old.details.object_id);
        }
        Ok(new)
    }

    /// Imports an existing key for `role`/`gun` as a new object, without looking for (or
    /// replacing) a copy already on the device: one `put asymmetric key` and, with metadata
    /// objects, one `put opaque`. The device's public key is checked against the key's.
    ///
    /// The scalar or seed is handed to the device client in a buffer the client does not
    /// zeroize.
    ///
    /// # Errors
    ///
    /// As [`import_key`](Self::import_key); [`Error::InvalidPublicKey`] when the device
    /// reports another key than the one imported (the new object is removed again).
    pub fn put_key(
        &self,
        key: &PrivateKey,
        role: &str,
        gun: Option<&str>,
    ) -> Result<DeviceKeyInfo> {
        let (device_algorithm, capabilities) =
            device_algorithm(key.algorithm(), key.key_id().as_str(), self.exportable)?;
        let gun = checked_attributes(role, gun)?;
        let secret: Zeroizing<Vec<u8>> = match key.algorithm() {
            KeyAlgorithm::Ecdsa => key.ecdsa_parts().map(|(scalar, _)| scalar),
            _ => key
                .ed25519_parts()
                .map(|(seed, _)| Zeroizing::new(seed.to_vec())),
        }
        .ok_or_else(|| Error::UnsupportedAlgorithm {
            key: key.key_id().to_string(),
            algorithm: key.algorithm().to_string(),
        })?;
        let label = object_label(&label::encode_label(role, gun.as_deref()))?;
        let allocation = lock(&self.allocation);
        let object_id = self.create_with_free_id("asymmetric key", |id| {
            self.client.put_asymmetric_key(
                id,
                label.clone(),
                self.domain,
                capabilities,
                device_algorithm,
                secret.to_vec(),
            )
        })?;
        drop(allocation);
        let new = self.finish_new_key(object_id, role, gun)?;
        if new.public.public.key_id() != *key.key_id() {
            self.delete_objects(object_id);
            return Err(Error::InvalidPublicKey {
                object_id,
                reason: format!(
                    "the device reports key {} for imported key {}",
                    new.public.public.key_id(),
                    key.key_id()
                ),
            });
        }
        Ok(new.details)
    }

    /// The signer for the key stored under object ID `object_id`, which must be key `key_id`:
    /// one device round trip (its public key), no scan of the device and no label check. For
    /// applications that record the object ID of each key themselves.
    ///
    /// # Errors
    ///
    /// [`Error::ObjectNotFound`] when there is no asymmetric key with that ID,
    /// [`Error::ObjectHoldsOtherKey`] when it holds another key, device errors.
    pub fn signer_for_object(&self, object_id: u16, key_id: &KeyId) -> Result<YubiHsmSigner> {
        let public = match self.public_key(object_id) {
            Ok(public) => public,
            Err(e) if e.device_error() == Some(DeviceErrorKind::ObjectNotFound) => {
                return Err(Error::ObjectNotFound { object_id });
            }
            Err(e) => return Err(e),
        };
        let found = public.public.key_id();
        if found != *key_id {
            return Err(Error::ObjectHoldsOtherKey {
                object_id,
                expected: key_id.to_string(),
                found: found.to_string(),
            });
        }
        Ok(YubiHsmSigner::new(self.client.clone(), object_id, public))
    }

    /// Deletes key `key_id` and its metadata object from the device.
    ///
    /// # Errors
    ///
    /// [`Error::KeyNotFound`] when the device holds no signet key with that ID; device errors.
    pub fn remove(&self, key_id: &KeyId) -> Result<()> {
        let key = self.lookup(key_id)?;
        let object_id = key.details.object_id;
        match self
            .client
            .delete_object(object_id, object::Type::AsymmetricKey)
        {
            Ok(()) => {}
            Err(e) if is_device_error(&e, DeviceErrorKind::ObjectNotFound) => {}
            Err(e) => {
                return Err(Error::device_for_key(
                    "delete key",
                    key_id,
                    format_args!("{object_id:#06x}"),
                )(e));
            }
        }
        self.delete_metadata(object_id)?;
        if let Some(index) = lock(&self.index).as_mut() {
            index.remove(key_id);
        }
        Ok(())
    }

    /// Generates an AES-256-CCM wrap key on the device for backups, labelled `label`, and
    /// returns its object ID. It may export and import objects with signet's key capabilities.
    ///
    /// A wrap key generated on the device cannot be copied to another device; to restore
    /// backups elsewhere, put the same key material on both with
    /// [`put_wrap_key`](Self::put_wrap_key).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidAttribute`] for labels over 40 bytes, device errors.
    pub fn generate_wrap_key(&self, label: &str) -> Result<u16> {
        let label = object_label(label)?;
        let _allocation = lock(&self.allocation);
        self.create_wrap_key(|id| {
            self.client.generate_wrap_key(
                id,
                label.clone(),
                self.domain,
                wrap_key_capabilities(),
                wrap_key_delegated(),
                wrap::Algorithm::Aes256Ccm,
            )
        })
    }

    /// Stores a known AES-256 wrap key (for example one split among custodians) labelled
    /// `label`, so wrapped backups can move between devices holding the same key. Returns its
    /// object ID.
    ///
    /// # Errors
    ///
    /// As [`generate_wrap_key`](Self::generate_wrap_key).
    pub fn put_wrap_key(&self, label: &str, key: &Zeroizing<[u8; 32]>) -> Result<u16> {
        let label = object_label(label)?;
        let _allocation = lock(&self.allocation);
        self.create_wrap_key(|id| {
            self.client.put_wrap_key(
                id,
                label.clone(),
                self.domain,
                wrap_key_capabilities(),
                wrap_key_delegated(),
                wrap::Algorithm::Aes256Ccm,
                key.to_vec(),
            )
        })
    }

    /// Exports key `key_id` encrypted under wrap key `wrap_key_id`: a backup that only a
    /// device holding the same wrap key can restore.
    ///
    /// # Errors
    ///
    /// [`Error::KeyNotFound`]; device errors (for example a key without
    /// `EXPORTABLE_UNDER_WRAP`, or a missing wrap key).
    pub fn export_wrapped(&self, key_id: &KeyId, wrap_key_id: u16) -> Result<WrappedKey> {
        let key = self.lookup(key_id)?;
        let message = self
            .client
            .export_wrapped(
                wrap_key_id,
                object::Type::AsymmetricKey,
                key.details.object_id,
            )
            .map_err(Error::device_for_key(
                "export wrapped",
                key_id,
                format_args!("key {key_id} under wrap key {wrap_key_id:#06x}"),
            ))?;
        Ok(WrappedKey {
            key_id: key_id.clone(),
            object_id: key.details.object_id,
            algorithm: key.details.algorithm,
            role: key.details.info.role,
            gun: key.details.info.gun,
            blob: message.into_vec(),
        })
    }

    /// Restores a wrapped backup with wrap key `wrap_key_id`. The key comes back under its
    /// original object ID, which must be free; its key ID is checked against the backup's.
    ///
    /// # Errors
    ///
    /// [`Error::ObjectExists`] when the object ID is taken, [`Error::WrappedKey`] when the
    /// restored key is not the one the backup names, device errors (wrong wrap key).
    pub fn import_wrapped(&self, backup: &WrappedKey, wrap_key_id: u16) -> Result<DeviceKeyInfo> {
        let gun = checked_attributes(&backup.role, backup.gun.as_deref())?;
        let context = backup.key_id.to_string();
        let _allocation = lock(&self.allocation);
        if self.object_exists(backup.object_id, object::Type::AsymmetricKey)? {
            return Err(Error::ObjectExists {
                object_id: backup.object_id,
                what: "asymmetric key",
            });
        }
        if backup.blob.len() > MAX_WRAPPED_LEN {
            // The device cannot take it, and the client would panic on the oversized command.
            return Err(Error::WrappedKey {
                context,
                reason: format!(
                    "{} bytes of wrapped data, more than the {MAX_WRAPPED_LEN} a device command holds",
                    backup.blob.len()
                ),
            });
        }
        let message =
            wrap::Message::from_vec(backup.blob.clone()).map_err(|e| Error::WrappedKey {
                context: context.clone(),
                reason: e.to_string(),
            })?;
        let handle =
            self.client
                .import_wrapped(wrap_key_id, message)
                .map_err(Error::device_for_key(
                    "import wrapped",
                    &backup.key_id,
                    format_args!("key {context} under wrap key {wrap_key_id:#06x}"),
                ))?;
        if handle.object_type != object::Type::AsymmetricKey {
            let _ = self
                .client
                .delete_object(handle.object_id, handle.object_type);
            return Err(Error::WrappedKey {
                context,
                reason: format!("the backup holds a {:?} object", handle.object_type),
            });
        }
        let object_id = handle.object_id;
        self.delete_metadata(object_id)?;
        let key = self.finish_new_key(object_id, &backup.role, gun)?;
        if key.details.info.key_id != backup.key_id {
            self.delete_objects(object_id);
            return Err(Error::WrappedKey {
                context,
                reason: format!(
                    "the device restored key {} instead",
                    key.details.info.key_id
                ),
            });
        }
        Ok(key.details)
    }

    /// Reads the public key of new object `object_id`, writes its metadata object and indexes
    /// it. Removes the key again if that fails.
    fn finish_new_key(&self, object_id: u16, role: &str, gun: Option<String>) -> Result<DeviceKey> {
        let result = self.describe_new_key(object_id, role, gun);
        if result.is_err() {
            self.delete_objects(object_id);
        }
        let key = result?;
        if let Some(index) = lock(&self.index).as_mut() {
            index.insert(key.details.info.key_id.clone(), key.clone());
        }
        Ok(key)
    }

    fn describe_new_key(
        &self,
        object_id: u16,
        role: &str,
        gun: Option<String>,
    ) -> Result<DeviceKey> {
        let info = self
            .client
            .get_object_info(object_id, object::Type::AsymmetricKey)
            .map_err(Error::device(
                "get object info",
                format_args!("{object_id:#06x}"),
            ))?;
        let public = self.public_key(object_id)?;
        let key_id = public.public.key_id();
        let metadata = Metadata {
            key_id: key_id.clone(),
            role: role.to_owned(),
            gun,
        };
        if !self.metadata_objects {
            return Ok(device_key(&info, public, Some(metadata)));
        }
        self.client
            .put_opaque(
                object_id,
                info.label.clone(),
                self.domain,
                Capability::EXPORTABLE_UNDER_WRAP,
                opaque::Algorithm::Data,
                metadata.encode(),
            )
            .map_err(Error::device_for_key(
                "put metadata",
                &key_id,
                format_args!("{object_id:#06x}"),
            ))?;
        Ok(device_key(&info, public, Some(metadata)))
    }

    fn public_key(&self, object_id: u16) -> Result<DevicePublicKey> {
        let key = self
            .client
            .get_public_key(object_id)
            .map_err(Error::device(
                "get public key",
                format_args!("{object_id:#06x}"),
            ))?;
        decode_public_key(object_id, &key)
    }

    /// Best-effort removal of a key and its metadata (cleanup after a failed operation).
    fn delete_objects(&self, object_id: u16) {
        let _ = self
            .client
            .delete_object(object_id, object::Type::AsymmetricKey);
        let _ = self.client.delete_object(object_id, object::Type::Opaque);
        if let Some(index) = lock(&self.index).as_mut() {
            index.retain(|_, k| k.details.object_id != object_id);
        }
    }

    fn delete_metadata(&self, object_id: u16) -> Result<()> {
        match self.client.delete_object(object_id, object::Type::Opaque) {
            Err(e) if !is_device_error(&e, DeviceErrorKind::ObjectNotFound) => Err(Error::device(
                "delete metadata",
                format_args!("{object_id:#06x}"),
            )(e)),
            _ => Ok(()),
        }
    }

    fn object_exists(&self, object_id: u16, object_type: object::Type) -> Result<bool> {
        match self.client.get_object_info(object_id, object_type) {
            Ok(_) => Ok(true),
            Err(e) if is_device_error(&e, DeviceErrorKind::ObjectNotFound) => Ok(false),
            Err(e) => Err(Error::device(
                "get object info",
                format_args!("{object_id:#06x}"),
            )(e)),
        }
    }

    fn used_ids(&self, types: &[object::Type]) -> Result<BTreeSet<u16>> {
        let mut used = BTreeSet::new();
        for object_type in types {
            let entries = self
                .client
                .list_objects(&[Filter::Type(*object_type)])
                .map_err(Error::device(
                    "list objects",
                    format_args!("{object_type:?}"),
                ))?;
            used.extend(entries.into_iter().map(|e| e.object_id));
        }
        Ok(used)
    }

    /// Runs `create` with the lowest object ID free for asymmetric keys and opaque objects,
    /// moving on when the device reports the ID taken. The caller holds `self.allocation`.
    fn create_with_free_id(
        &self,
        what: &'static str,
        create: impl Fn(u16) -> Result<object::Id, yubihsm::client::Error>,
    ) -> Result<u16> {
        let used = self.used_ids(&[object::Type::AsymmetricKey, object::Type::Opaque])?;
        allocate(what, used, create)
    }

    fn create_wrap_key(
        &self,
        create: impl Fn(u16) -> Result<object::Id, yubihsm::client::Error>,
    ) -> Result<u16> {
        let used = self.used_ids(&[object::Type::WrapKey])?;
        allocate("wrap key", used, create)
    }

    /// Reads every signet key from the device.
    fn scan(&self) -> Result<BTreeMap<KeyId, DeviceKey>> {
        let entries = self
            .client
            .list_objects(&[Filter::Type(object::Type::AsymmetricKey)])
            .map_err(Error::device("list objects", "asymmetric keys"))?;
        let mut keys = BTreeMap::new();
        for entry in entries {
            if let Some(key) = self.read_key(entry.object_id)? {
                keys.entry(key.details.info.key_id.clone()).or_insert(key);
            }
        }
        Ok(keys)
    }

    /// Reads one asymmetric key; `None` for objects that are not signet keys (or vanished).
    fn read_key(&self, object_id: u16) -> Result<Option<DeviceKey>> {
        let info = match self
            .client
            .get_object_info(object_id, object::Type::AsymmetricKey)
        {
            Ok(info) => info,
            Err(e) if is_device_error(&e, DeviceErrorKind::ObjectNotFound) => return Ok(None),
            Err(e) => {
                return Err(Error::device(
                    "get object info",
                    format_args!("{object_id:#06x}"),
                )(e));
            }
        };
        let Some(label) = info.label.try_as_str().ok().and_then(label::decode_label) else {
            return Ok(None);
        };
        let public = match self.public_key(object_id) {
            Ok(public) => public,
            Err(Error::UnsupportedAlgorithm { .. } | Error::InvalidPublicKey { .. }) => {
                return Ok(None);
            }
            Err(e) if e.device_error() == Some(DeviceErrorKind::ObjectNotFound) => {
                return Ok(None);
            }
            Err(e) => return Err(e),
        };
        let metadata = match self.client.get_opaque(object_id) {
            Ok(bytes) => Metadata::decode(&bytes).filter(|m| m.key_id == public.public.key_id()),
            Err(e) if is_device_error(&e, DeviceErrorKind::ObjectNotFound) => None,
            Err(e) => {
                return Err(Error::device(
                    "get metadata",
                    format_args!("{object_id:#06x}"),
                )(e));
            }
        };
        let metadata = metadata.or_else(|| {
            label.role.map(|role| Metadata {
                key_id: public.public.key_id(),
                role,
                gun: None,
            })
        });
        Ok(Some(device_key(&info, public, metadata)))
    }

    /// The key `key_id` if the device holds it; the index is refreshed on a miss and checked
    /// against the device on a hit.
    fn find(&self, key_id: &KeyId) -> Result<Option<DeviceKey>> {
        let cached = lock(&self.index)
            .as_ref()
            .and_then(|index| index.get(key_id).cloned());
        if let Some(key) = cached {
            match self.public_key(key.details.object_id) {
                Ok(public) if public.public.key_id() == *key_id => return Ok(Some(key)),
                Ok(_)
                | Err(Error::UnsupportedAlgorithm { .. } | Error::InvalidPublicKey { .. }) => {}
                Err(e) if e.device_error() == Some(DeviceErrorKind::ObjectNotFound) => {}
                Err(e) => return Err(e),
            }
        }
        let keys = self.scan()?;
        let found = keys.get(key_id).cloned();
        *lock(&self.index) = Some(keys);
        Ok(found)
    }

    fn lookup(&self, key_id: &KeyId) -> Result<DeviceKey> {
        self.find(key_id)?.ok_or_else(|| Error::KeyNotFound {
            key_id: key_id.to_string(),
        })
    }
}

/// Picks the lowest free ID in [`FIRST_OBJECT_ID`]..=[`LAST_OBJECT_ID`] and runs `create`,
/// moving on when the device reports the ID taken.
fn allocate(
    what: &'static str,
    mut used: BTreeSet<u16>,
    create: impl Fn(u16) -> Result<object::Id, yubihsm::client::Error>,
) -> Result<u16> {
    for _ in 0..ALLOCATION_ATTEMPTS {
        let id = (FIRST_OBJECT_ID..=LAST_OBJECT_ID)
            .find(|id| !used.contains(id))
            .ok_or(Error::NoFreeObjectId { what })?;
        match create(id) {
            Ok(_) => return Ok(id),
            Err(e) if is_device_error(&e, DeviceErrorKind::ObjectExists) => {
                used.insert(id);
            }
            Err(e) => {
                return Err(Error::device(
                    "create object",
                    format_args!("{what} {id:#06x}"),
                )(e));
            }
        }
    }
    Err(Error::NoFreeObjectId { what })
}

/// The device algorithm and capabilities for keys of `algorithm`.
fn device_algorithm(
    algorithm: KeyAlgorithm,
    key: &str,
    exportable: bool,
) -> Result<(asymmetric::Algorithm, Capability)> {
    let export = if exportable {
        Capability::EXPORTABLE_UNDER_WRAP
    } else {
        Capability::empty()
    };
    match algorithm {
        KeyAlgorithm::Ecdsa => Ok((
            asymmetric::Algorithm::EcP256,
            Capability::SIGN_ECDSA | export,
        )),
        KeyAlgorithm::Ed25519 => Ok((
            asymmetric::Algorithm::Ed25519,
            Capability::SIGN_EDDSA | export,
        )),
        KeyAlgorithm::Rsa => Err(Error::UnsupportedAlgorithm {
            key: key.to_owned(),
            algorithm: algorithm.to_string(),
        }),
    }
}

/// Validates `role` and `gun` and returns the GUN to record (only for roles that keep one).
fn checked_attributes(role: &str, gun: Option<&str>) -> Result<Option<String>> {
    label::validate_attribute("role", role)?;
    if !role_keeps_gun(role) {
        return Ok(None);
    }
    let gun = gun
        .filter(|g| !g.is_empty())
        .ok_or_else(|| Error::MissingGun {
            role: role.to_owned(),
        })?;
    label::validate_attribute("gun", gun)?;
    Ok(Some(gun.to_owned()))
}

fn device_key(
    info: &object::Info,
    public: DevicePublicKey,
    metadata: Option<Metadata>,
) -> DeviceKey {
    let (role, gun) = metadata.map_or_else(|| (String::new(), None), |m| (m.role, m.gun));
    DeviceKey {
        details: DeviceKeyInfo {
            info: KeyInfo {
                key_id: public.public.key_id(),
                role,
                gun,
                location: LOCATION.to_owned(),
            },
            object_id: info.object_id,
            algorithm: public.algorithm,
            label: info.label.to_string(),
            generated_on_device: matches!(
                info.origin,
                object::Origin::Generated | object::Origin::WrappedGenerated
            ),
            exportable_under_wrap: info
                .capabilities
                .contains(Capability::EXPORTABLE_UNDER_WRAP),
        },
        public,
    }
}

impl KeyStore for YubiHsmKeyStore {
    fn name(&self) -> &str {
        LOCATION
    }

    /// Forgets the cached index of device keys ([`refresh`](YubiHsmKeyStore::refresh)).
    fn reload(&self) {
        self.refresh();
    }

    fn add_key(&self, key: &PrivateKey, role: &str, gun: Option<&str>) -> crate::Result<KeyInfo> {
        self.check_new_key_role(role)?;
        Ok(self.import_key(key, role, gun)?.info)
    }

    fn generate_key(
        &self,
        algorithm: KeyAlgorithm,
        role: &str,
        gun: Option<&str>,
    ) -> crate::Result<Arc<dyn Signer>> {
        self.check_new_key_role(role)?;
        Ok(Arc::new(self.generate(algorithm, role, gun)?))
    }

    fn signer(&self, key_id: &KeyId) -> crate::Result<Arc<dyn Signer>> {
        Ok(Arc::new(self.device_signer(key_id)?))
    }

    fn key_info(&self, key_id: &KeyId) -> crate::Result<KeyInfo> {
        Ok(self.device_key(key_id)?.info)
    }

    fn list_keys(&self) -> crate::Result<Vec<KeyInfo>> {
        Ok(self.device_keys()?.into_iter().map(|d| d.info).collect())
    }

    fn remove_key(&self, key_id: &KeyId) -> crate::Result<()> {
        Ok(self.remove(key_id)?)
    }

    fn change_passphrase(
        &self,
        key_id: &KeyId,
        new_passphrase: &dyn PassphraseRetriever,
    ) -> crate::Result<()> {
        let _ = new_passphrase;
        Err(crate::Error::Unsupported {
            store: format!("{LOCATION} (key {key_id})"),
            operation: "changing passphrases (device keys are protected by the authentication key)",
        })
    }
}
