//! Server-held timestamp and snapshot keys in a YubiHSM 2.
//!
//! [`ServerHsm`] wraps the signer crate's [`YubiHsmKeyStore`] for the server:
//!
//! * keys are generated **on the device**, without `EXPORTABLE_UNDER_WRAP` unless
//!   `keys.yubihsm.exportable_under_wrap` is set, with the signer crate's label
//!   (`signet:<role>:<gun tag>`) and no metadata object (the database row records GUN, role,
//!   key ID, public key, object ID and label, so each key takes one object slot);
//! * signing goes straight to the object ID the database records: the first use of a key reads
//!   its public key from the device and checks it is the recorded key ID, later uses are one
//!   device round trip, and every signature is verified against the public key before it is
//!   returned;
//! * every device call runs on tokio's blocking pool ([`tokio::task::spawn_blocking`]), never on
//!   a runtime worker. The one authenticated session is shared by every request: the
//!   [`yubihsm::Client`] serialises commands on it and reconnects when it breaks.
//!
//! [`move_keys_to_device`] moves keys sealed under the key-encryption key onto the device;
//! [`move_keys_off_device`] goes back for keys that still have their sealed copy.

mod moving;

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use signet_signer::yubihsm::{self as device, YubiHsmConfig, YubiHsmKeyStore, YubiHsmSigner};
use signet_signer::{KeyAlgorithm, PrivateKey, Signer};
use signet_tuf::key::{KeyId, PublicKey};
use signet_tuf::signature::Signature;
use zeroize::Zeroizing;

use crate::error::HsmError;
use crate::store::HsmKeyRef;

/// Where the YubiHSM 2 password comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasswordSource {
    /// An environment variable.
    Env(String),
    /// The first line of a file.
    File(std::path::PathBuf),
}

impl fmt::Display for PasswordSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Env(name) => write!(f, "environment variable {name}"),
            Self::File(path) => write!(f, "file {}", path.display()),
        }
    }
}

/// The resolved `[keys.yubihsm]` settings. They name where the password is, never hold it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YubiHsmSettings {
    /// How to reach the device (yubihsm-connector over HTTP).
    pub connector: signet_signer::yubihsm::ConnectorConfig,
    /// Object ID of the authentication key.
    pub auth_key_id: u16,
    /// Where the authentication key's password comes from.
    pub password: PasswordSource,
    /// Domain (1–16) new keys are created in.
    pub domain: u8,
    /// Whether new keys get `EXPORTABLE_UNDER_WRAP`.
    pub exportable_under_wrap: bool,
}

pub use moving::{
    MoveAction, MoveEntry, MoveOptions, MoveReport, move_keys_off_device, move_keys_to_device,
};

/// The YubiHSM 2 that holds server keys. Cheap to clone: clones share the session.
#[derive(Clone)]
pub struct ServerHsm {
    inner: Arc<Inner>,
}

struct Inner {
    store: YubiHsmKeyStore,
    /// Signers of keys already used, by object ID and key ID.
    signers: Mutex<HashMap<(u16, KeyId), YubiHsmSigner>>,
}

impl fmt::Debug for ServerHsm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerHsm")
            .field("connector", &self.connector())
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Reads the password of the authentication key from where the settings say.
fn read_password(settings: &YubiHsmSettings) -> Result<Zeroizing<String>, HsmError> {
    let missing = || HsmError::MissingPassword {
        connector: settings.connector.to_string(),
        auth_key_id: settings.auth_key_id,
        source_name: settings.password.to_string(),
    };
    let text = match &settings.password {
        PasswordSource::Env(name) => Zeroizing::new(std::env::var(name).map_err(|_| missing())?),
        PasswordSource::File(path) => {
            Zeroizing::new(std::fs::read_to_string(path).map_err(|source| {
                HsmError::PasswordFile {
                    auth_key_id: settings.auth_key_id,
                    path: path.clone(),
                    source,
                }
            })?)
        }
    };
    // The first line, without its line ending; the rest of the file is ignored.
    let first = text.lines().next().unwrap_or_default();
    if first.is_empty() {
        return Err(missing());
    }
    Ok(Zeroizing::new(first.to_owned()))
}

impl ServerHsm {
    /// Connects to the device of `settings` and authenticates with its authentication key
    /// and the password from the environment variable or file the settings name, then reads
    /// the device information (logged with the serial number). Runs on the blocking pool.
    ///
    /// # Errors
    ///
    /// [`HsmError::MissingPassword`] / [`HsmError::PasswordFile`] when the password cannot be
    /// read, [`HsmError::Connect`] (naming connector and authentication key) when the
    /// connector cannot be reached or authentication fails.
    pub async fn open(settings: &YubiHsmSettings) -> Result<Self, HsmError> {
        let password = read_password(settings)?;
        let connector = settings.connector.to_string();
        let auth_key_id = settings.auth_key_id;
        let connect_error = |source| HsmError::Connect {
            connector: connector.clone(),
            auth_key_id,
            source: Box::new(source),
        };
        let config = YubiHsmConfig::new(auth_key_id, password.as_str())
            .with_connector(settings.connector.clone())
            .with_domain(settings.domain)
            .map_err(connect_error)?;
        drop(password);
        let store = tokio::task::spawn_blocking(move || YubiHsmKeyStore::open(&config))
            .await
            .map_err(|e| HsmError::Task {
                connector: connector.clone(),
                operation: "connect",
                detail: e.to_string(),
            })?
            .map_err(connect_error)?;
        let hsm = Self::from_store(store, settings.exportable_under_wrap);
        hsm.check(auth_key_id).await?;
        Ok(hsm)
    }

    /// A device over an already opened client (a MockHsm in tests, a client the caller
    /// built): `connector` names it in errors and logs, new keys are created in `domain` and
    /// are exportable under a wrap key only with `exportable_under_wrap`.
    ///
    /// # Errors
    ///
    /// [`HsmError::Connect`] when `domain` is not 1–16.
    pub fn from_client(
        client: yubihsm::Client,
        connector: &str,
        domain: u8,
        exportable_under_wrap: bool,
    ) -> Result<Self, HsmError> {
        let store = YubiHsmKeyStore::from_client(client, connector)
            .with_domain(domain)
            .map_err(|source| HsmError::Connect {
                connector: connector.to_owned(),
                auth_key_id: 0,
                source: Box::new(source),
            })?;
        Ok(Self::from_store(store, exportable_under_wrap))
    }

    fn from_store(store: YubiHsmKeyStore, exportable_under_wrap: bool) -> Self {
        let store = store
            .with_exportable_keys(exportable_under_wrap)
            .with_metadata_objects(false);
        Self {
            inner: Arc::new(Inner {
                store,
                signers: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// The connector (`http://127.0.0.1:12345`).
    pub fn connector(&self) -> &str {
        self.inner.store.connector()
    }

    /// The signer crate's key store over the device session (for tools and tests).
    pub fn key_store(&self) -> &YubiHsmKeyStore {
        &self.inner.store
    }

    /// Runs `op` with the key store on the blocking pool.
    async fn blocking<T, F>(&self, operation: &'static str, op: F) -> Result<T, HsmError>
    where
        T: Send + 'static,
        F: FnOnce(&Self) -> Result<T, HsmError> + Send + 'static,
    {
        let this = self.clone();
        tokio::task::spawn_blocking(move || op(&this))
            .await
            .map_err(|e| HsmError::Task {
                connector: self.connector().to_owned(),
                operation,
                detail: e.to_string(),
            })?
    }

    /// Proves the session works (device information) and logs what the server talks to.
    async fn check(&self, auth_key_id: u16) -> Result<(), HsmError> {
        let connector = self.connector().to_owned();
        let info = self
            .blocking("device info", move |hsm| {
                hsm.inner
                    .store
                    .client()
                    .device_info()
                    .map_err(|e| HsmError::Connect {
                        connector: hsm.connector().to_owned(),
                        auth_key_id,
                        source: Box::new(device::Error::Device {
                            operation: "device info",
                            object: "device".to_owned(),
                            key_id: None,
                            source: e,
                        }),
                    })
            })
            .await?;
        let firmware = format!(
            "{}.{}.{}",
            info.major_version, info.minor_version, info.build_version
        );
        tracing::info!(
            %connector,
            auth_key_id,
            serial = %info.serial_number,
            %firmware,
            "YubiHSM 2 for server keys connected"
        );
        Ok(())
    }

    /// Generates a key of `algorithm` for `role` of `gun` on the device. Returns its public
    /// key and where it is.
    pub(crate) async fn generate(
        &self,
        algorithm: KeyAlgorithm,
        gun: &str,
        role: &str,
    ) -> Result<(PublicKey, HsmKeyRef), HsmError> {
        let (gun, role) = (gun.to_owned(), role.to_owned());
        self.blocking("generate", move |hsm| {
            let signer = hsm
                .inner
                .store
                .generate(algorithm, &role, Some(&gun))
                .map_err(hsm.key_error("generate", &gun, &role, "(new)"))?;
            let public = signer.public_key().clone();
            let location = HsmKeyRef {
                object_id: signer.object_id(),
                label: device::key_label(&role, Some(&gun)),
            };
            lock(&hsm.inner.signers).insert((signer.object_id(), public.key_id()), signer);
            Ok((public, location))
        })
        .await
    }

    /// Imports `key` for `role` of `gun` as a new device object (no copy of it may be on the
    /// device already). Returns where it is.
    pub(crate) async fn import(
        &self,
        key: PrivateKey,
        gun: &str,
        role: &str,
    ) -> Result<HsmKeyRef, HsmError> {
        let (gun, role) = (gun.to_owned(), role.to_owned());
        self.blocking("import", move |hsm| {
            let info = hsm
                .inner
                .store
                .put_key(&key, &role, Some(&gun))
                .map_err(hsm.key_error("import", &gun, &role, key.key_id().as_str()))?;
            Ok(HsmKeyRef {
                object_id: info.object_id,
                label: info.label,
            })
        })
        .await
    }

    /// Every signet key on the device: key ID → where it is.
    pub(crate) async fn device_keys(&self) -> Result<HashMap<KeyId, HsmKeyRef>, HsmError> {
        self.blocking("list keys", |hsm| {
            let keys = hsm
                .inner
                .store
                .device_keys()
                .map_err(|source| HsmError::Key {
                    connector: hsm.connector().to_owned(),
                    operation: "list",
                    gun: "every GUN".to_owned(),
                    role: "every role".to_owned(),
                    key_id: "(all)".to_owned(),
                    source: Box::new(source),
                })?;
            Ok(keys
                .into_iter()
                .map(|k| {
                    (
                        k.info.key_id,
                        HsmKeyRef {
                            object_id: k.object_id,
                            label: k.label,
                        },
                    )
                })
                .collect())
        })
        .await
    }

    /// Deletes key `key_id` of `role` of `gun` from the device (cleanup of a key generated
    /// for a row that could not be stored).
    pub(crate) async fn remove(
        &self,
        gun: &str,
        role: &str,
        key_id: &KeyId,
    ) -> Result<(), HsmError> {
        let (gun, role, key_id) = (gun.to_owned(), role.to_owned(), key_id.clone());
        self.blocking("remove", move |hsm| {
            lock(&hsm.inner.signers).retain(|(_, k), _| *k != key_id);
            hsm.inner.store.remove(&key_id).map_err(hsm.key_error(
                "remove",
                &gun,
                &role,
                key_id.as_str(),
            ))
        })
        .await
    }

    /// The signer for key `key_id` of `role` of `gun` held in object `location`. The first use
    /// checks on the device that the object holds that key.
    pub(crate) async fn signer(
        &self,
        gun: &str,
        role: &str,
        location: &HsmKeyRef,
        key_id: &KeyId,
    ) -> Result<Arc<dyn Signer>, HsmError> {
        let slot = (location.object_id, key_id.clone());
        if let Some(signer) = lock(&self.inner.signers).get(&slot).cloned() {
            return Ok(Arc::new(DeviceSigner {
                signer,
                hsm: self.clone(),
            }));
        }
        let (gun, role) = (gun.to_owned(), role.to_owned());
        let signer = self
            .blocking("read", move |hsm| {
                let signer = hsm
                    .inner
                    .store
                    .signer_for_object(slot.0, &slot.1)
                    .map_err(hsm.key_error("read", &gun, &role, slot.1.as_str()))?;
                lock(&hsm.inner.signers).insert(slot, signer.clone());
                Ok(signer)
            })
            .await?;
        Ok(Arc::new(DeviceSigner {
            signer,
            hsm: self.clone(),
        }))
    }

    /// Signs `msg` with key `key_id` held in object `location`, on the blocking pool, and
    /// verifies the signature against `expected` (the public key the database records).
    pub(crate) async fn sign_and_verify(
        &self,
        gun: &str,
        role: &str,
        location: &HsmKeyRef,
        expected: &PublicKey,
        msg: Vec<u8>,
    ) -> Result<Result<(), String>, HsmError> {
        let key_id = expected.key_id();
        let signer = self.signer(gun, role, location, &key_id).await?;
        let expected = expected.clone();
        let connector = self.connector().to_owned();
        tokio::task::spawn_blocking(move || match signer.sign(&msg) {
            Ok(sig) if sig.keyid != expected.key_id() => Err(format!(
                "the device signed as key {} instead of {}",
                sig.keyid,
                expected.key_id()
            )),
            Ok(sig) => expected
                .verify(&sig.method, &msg, &sig.sig)
                .map_err(|e| format!("the device's signature does not verify: {e}")),
            Err(e) => Err(format!("the device did not sign: {e}")),
        })
        .await
        .map_err(|e| HsmError::Task {
            connector,
            operation: "test signature",
            detail: e.to_string(),
        })
    }

    fn key_error<'a>(
        &'a self,
        operation: &'static str,
        gun: &'a str,
        role: &'a str,
        key_id: &'a str,
    ) -> impl FnOnce(device::Error) -> HsmError + 'a {
        move |source| HsmError::Key {
            connector: self.connector().to_owned(),
            operation,
            gun: gun.to_owned(),
            role: role.to_owned(),
            key_id: key_id.to_owned(),
            source: Box::new(source),
        }
    }

    fn forget_signer(&self, object_id: u16, key_id: &KeyId) {
        lock(&self.inner.signers).remove(&(object_id, key_id.clone()));
    }
}

/// A device signer that drops itself from the cache when it fails, so that the next use reads
/// the object again (a key restored or moved to another object by the operator).
struct DeviceSigner {
    signer: YubiHsmSigner,
    hsm: ServerHsm,
}

impl Signer for DeviceSigner {
    fn public_key(&self) -> &PublicKey {
        self.signer.public_key()
    }

    /// Blocking: one device round trip. Callers on the async runtime use `spawn_blocking`.
    fn sign(&self, msg: &[u8]) -> signet_signer::Result<Signature> {
        let result = Signer::sign(&self.signer, msg);
        if result.is_err() {
            self.hsm
                .forget_signer(self.signer.object_id(), self.signer.key_id());
        }
        result
    }
}
