//! The key store of a notary / docker trust directory: `<trust dir>/private/<id>.key`.
//!
//! * Keys are found by a recursive walk of `private/`; the key ID is the file name without
//!   `.key`. Symbolic links and other files are ignored, as are names that are not key IDs
//!   (64 lowercase hex characters) and files whose first PEM block is not a private key.
//! * Role and GUN come from the `role`/`gun` PEM headers only.
//! * New keys are written to `private/<canonical id>.key` (0600, directories 0700) through a
//!   temporary file and a rename, so a crash never leaves a half-written key.
//! * Opening the store first migrates the Notary 0.1–0.4 layouts (see [`Migration`]).
//! * The list of key files is read when the store is opened and again on
//!   [`KeyStore::reload`]; decrypted keys are cached for the life of the store, so each
//!   passphrase is asked once.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use signet_tuf::key::KeyId;

use super::import;
use super::migrate::{self, Migration};
use super::{KeyInfo, KeyStore, stored_gun};
use crate::error::{Error, Result};
use crate::keyfile;
use crate::passphrase::{self, PassphraseRetriever};
use crate::private_fs;
use crate::private_key::PrivateKey;
use crate::signer::Signer;
use signet_tuf::notary::pem::{self, PemBlock};

/// Name of the key directory inside a trust directory.
pub const PRIVATE_DIR: &str = "private";
const KEY_EXTENSION: &str = "key";
/// Key files larger than this are ignored (a Notary key file is a few KiB).
const MAX_KEY_FILE_SIZE: u64 = 1024 * 1024;

/// One key file found in the store.
#[derive(Debug, Clone)]
struct Entry {
    /// Path below `private/`.
    relative: PathBuf,
    role: String,
    gun: Option<String>,
}

#[derive(Default)]
struct State {
    entries: BTreeMap<KeyId, Entry>,
    cache: HashMap<KeyId, Arc<PrivateKey>>,
}

/// The private keys of a notary or docker trust directory.
pub struct FileKeyStore {
    private_dir: PathBuf,
    location: String,
    retriever: Arc<dyn PassphraseRetriever>,
    migration: Migration,
    state: Mutex<State>,
}

impl std::fmt::Debug for FileKeyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileKeyStore")
            .field("private_dir", &self.private_dir)
            .finish_non_exhaustive()
    }
}

impl FileKeyStore {
    /// Opens the key store of `trust_dir` (for example `~/.notary` or `~/.docker/trust`):
    /// creates `private/` (0700) if needed, migrates legacy layouts and indexes the keys.
    /// Passphrases are obtained from `retriever`.
    pub fn open(
        trust_dir: impl AsRef<Path>,
        retriever: Arc<dyn PassphraseRetriever>,
    ) -> Result<Self> {
        let private_dir = trust_dir.as_ref().join(PRIVATE_DIR);
        private_fs::create_private_dir(&private_dir)?;
        let migration = migrate::migrate_legacy_layout(&private_dir)?;
        let store = Self {
            location: private_dir.display().to_string(),
            private_dir,
            retriever,
            migration,
            state: Mutex::new(State::default()),
        };
        store.rescan();
        Ok(store)
    }

    /// The `private/` directory.
    pub fn private_dir(&self) -> &Path {
        &self.private_dir
    }

    /// What the legacy-layout migration did when the store was opened.
    pub fn migration(&self) -> &Migration {
        &self.migration
    }

    /// Re-reads the directory. Cached decrypted keys are kept for keys that still exist.
    fn rescan(&self) {
        let entries = scan(&self.private_dir);
        let mut state = self.lock();
        state.cache.retain(|id, _| entries.contains_key(id));
        state.entries = entries;
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn entry(&self, key_id: &KeyId) -> Result<Entry> {
        self.lock()
            .entries
            .get(key_id)
            .cloned()
            .ok_or_else(|| Error::KeyNotFound {
                key_id: key_id.to_string(),
            })
    }

    fn read_block(&self, key_id: &KeyId, entry: &Entry) -> Result<PemBlock> {
        let path = self.private_dir.join(&entry.relative);
        let text = fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        pem::decode_first(&text).ok_or_else(|| Error::Pem {
            context: key_id.to_string(),
            reason: format!("no PEM block in {}", path.display()),
        })
    }

    /// The decrypted private key with canonical ID `key_id`, asking for its passphrase (alias:
    /// the key's role) if it is not cached yet.
    ///
    /// # Errors
    ///
    /// [`Error::KeyNotFound`], [`Error::WrongPassphrase`] when the retriever gives up, I/O and
    /// format errors.
    pub fn private_key(&self, key_id: &KeyId) -> Result<Arc<PrivateKey>> {
        if let Some(key) = self.lock().cache.get(key_id) {
            return Ok(key.clone());
        }
        let entry = self.entry(key_id)?;
        let block = self.read_block(key_id, &entry)?;
        let name = key_id.as_str();
        let key = if keyfile::is_encrypted(&block) {
            passphrase::decrypt_with_retries(self.retriever.as_ref(), name, &entry.role, |pass| {
                keyfile::decode_key_block(&block, pass, name)
            })?
        } else {
            keyfile::decode_key_block(&block, "", name)?
        };
        if key.key_id() != key_id {
            return Err(Error::malformed(
                name,
                format!("file holds key {}", key.key_id()),
            ));
        }
        let key = Arc::new(key);
        self.lock().cache.insert(key_id.clone(), key.clone());
        Ok(key)
    }

    /// Writes `key` as `relative` with a passphrase from `retriever` and records it.
    fn write_key(
        &self,
        key: &PrivateKey,
        relative: PathBuf,
        role: &str,
        gun: Option<String>,
        retriever: &dyn PassphraseRetriever,
    ) -> Result<KeyInfo> {
        let key_id = key.key_id();
        for (field, value) in [("role", Some(role)), ("gun", gun.as_deref())] {
            if let Some(value) = value.filter(|v| v.contains(['\n', '\r'])) {
                return Err(Error::InvalidKeyAttribute {
                    key_id: key_id.to_string(),
                    field,
                    value: value.to_owned(),
                });
            }
        }
        let passphrase = passphrase::new_key_passphrase(retriever, key_id.as_str(), role)?;
        let text = keyfile::encode_key_file(key, role, gun.as_deref(), &passphrase)?;
        private_fs::write_private_file(&self.private_dir.join(&relative), text.as_bytes())?;
        let entry = Entry {
            relative,
            role: role.to_owned(),
            gun,
        };
        let info = self.info(key_id, &entry);
        let mut state = self.lock();
        state.entries.insert(key_id.clone(), entry);
        state.cache.insert(key_id.clone(), Arc::new(key.clone()));
        Ok(info)
    }

    /// Imports the private key PEM blocks of `text` as `notary key import` does (see
    /// [`DEFAULT_IMPORT_ROLE`](super::DEFAULT_IMPORT_ROLE) and the rules in the `import`
    /// module): unencrypted keys are encrypted with a passphrase from the store's retriever,
    /// encrypted ones need a `path` header and are stored as they are; consecutive blocks with
    /// the same location share one file. Returns the locations written (paths under `private/`
    /// without `.key`).
    ///
    /// # Errors
    ///
    /// [`Error::Import`] when blocks were found but none could be imported; passphrase and I/O
    /// errors.
    pub fn import_keys(
        &self,
        text: &str,
        fallback_role: Option<&str>,
        fallback_gun: Option<&str>,
    ) -> Result<Vec<String>> {
        let mut files: Vec<(String, String)> = Vec::new();
        let mut skipped = Vec::new();
        for block in pem::decode_all(text) {
            match import::prepare(block, fallback_role, fallback_gun, self.retriever.as_ref())? {
                Ok(prepared) => match files.last_mut() {
                    Some((location, contents)) if *location == prepared.location => {
                        contents.push_str(&prepared.text);
                    }
                    _ => files.push((prepared.location, prepared.text)),
                },
                Err(reason) => skipped.push(reason),
            }
        }
        if files.is_empty() {
            if skipped.is_empty() {
                skipped.push(format!(
                    "no PEM private key block found (formats tried: PEM blocks {})",
                    keyfile::PRIVATE_KEY_LABELS.join(", ")
                ));
            }
            return Err(Error::Import {
                reasons: skipped.join(", "),
            });
        }
        for (location, contents) in &files {
            let path = self.private_dir.join(format!("{location}.{KEY_EXTENSION}"));
            private_fs::write_private_file(&path, contents.as_bytes())?;
        }
        self.rescan();
        Ok(files.into_iter().map(|(location, _)| location).collect())
    }

    fn info(&self, key_id: &KeyId, entry: &Entry) -> KeyInfo {
        KeyInfo {
            key_id: key_id.clone(),
            role: entry.role.clone(),
            gun: entry.gun.clone(),
            location: self.location.clone(),
        }
    }
}

/// Indexes every key file below `private_dir`.
fn scan(private_dir: &Path) -> BTreeMap<KeyId, Entry> {
    let mut entries = BTreeMap::new();
    for relative in private_fs::list_files(private_dir, KEY_EXTENSION) {
        let Some(key_id) = relative
            .file_stem()
            .and_then(|s| s.to_str())
            .and_then(|s| s.parse::<KeyId>().ok())
        else {
            continue;
        };
        let path = private_dir.join(&relative);
        if fs::metadata(&path).map_or(true, |m| m.len() > MAX_KEY_FILE_SIZE) {
            continue;
        }
        let Ok(text) = fs::read_to_string(&path) else {
            continue;
        };
        let Some(block) = pem::decode_first(&text) else {
            continue;
        };
        if !keyfile::is_private_key_label(&block.label) {
            continue;
        }
        let role = block
            .header(pem::ROLE_HEADER)
            .unwrap_or_default()
            .to_owned();
        let gun = block
            .header(pem::GUN_HEADER)
            .filter(|g| !g.is_empty())
            .map(str::to_owned);
        entries.insert(
            key_id,
            Entry {
                relative,
                role,
                gun,
            },
        );
    }
    entries
}

impl KeyStore for FileKeyStore {
    fn name(&self) -> &str {
        &self.location
    }

    /// Re-reads `private/` (after another process changed it). Cached decrypted keys are kept
    /// for keys that still exist.
    fn reload(&self) {
        self.rescan();
    }

    fn add_key(&self, key: &PrivateKey, role: &str, gun: Option<&str>) -> Result<KeyInfo> {
        let relative = PathBuf::from(format!("{}.{KEY_EXTENSION}", key.key_id()));
        self.write_key(
            key,
            relative,
            role,
            stored_gun(role, gun),
            self.retriever.as_ref(),
        )
    }

    fn signer(&self, key_id: &KeyId) -> Result<Arc<dyn Signer>> {
        Ok(self.private_key(key_id)?)
    }

    fn key_info(&self, key_id: &KeyId) -> Result<KeyInfo> {
        let entry = self.entry(key_id)?;
        Ok(self.info(key_id, &entry))
    }

    fn list_keys(&self) -> Result<Vec<KeyInfo>> {
        let state = self.lock();
        Ok(state
            .entries
            .iter()
            .map(|(id, entry)| self.info(id, entry))
            .collect())
    }

    fn remove_key(&self, key_id: &KeyId) -> Result<()> {
        let entry = self.entry(key_id)?;
        let path = self.private_dir.join(&entry.relative);
        match fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io(&path, e)),
        }
        let mut state = self.lock();
        state.entries.remove(key_id);
        state.cache.remove(key_id);
        Ok(())
    }

    /// Moves `private/<…>/<id>.key` to `into/<id>.key` (`into` created 0700; an existing file
    /// there is never overwritten). The key is no longer listed by the store.
    fn quarantine_key(&self, key_id: &KeyId, into: &Path) -> Result<Option<PathBuf>> {
        let entry = self.entry(key_id)?;
        let path = self.private_dir.join(&entry.relative);
        private_fs::create_private_dir(into)?;
        let target = into.join(format!("{key_id}.{KEY_EXTENSION}"));
        if target.exists() {
            return Err(Error::io(
                &target,
                std::io::Error::from(std::io::ErrorKind::AlreadyExists),
            ));
        }
        fs::rename(&path, &target).map_err(|e| Error::io(&path, e))?;
        let mut state = self.lock();
        state.entries.remove(key_id);
        state.cache.remove(key_id);
        Ok(Some(target))
    }

    /// Every PEM block of the key file verbatim (still encrypted), each with a `path` header
    /// holding the file's path under `private/` without `.key`.
    fn export_key(&self, key_id: &KeyId) -> Result<String> {
        let entry = self.entry(key_id)?;
        let path = self.private_dir.join(&entry.relative);
        let text = fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        let location = entry
            .relative
            .with_extension("")
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join("/");
        let mut out = String::new();
        for mut block in pem::decode_all(&text) {
            block.set_header(pem::PATH_HEADER, location.clone());
            out.push_str(&block.encode()?);
        }
        Ok(out)
    }

    /// Decrypts the key with the store's passphrase retriever and rewrites it, in place, with
    /// a passphrase from `new_passphrase` (same role and GUN). Legacy files are rewritten as
    /// PKCS#8.
    fn change_passphrase(
        &self,
        key_id: &KeyId,
        new_passphrase: &dyn PassphraseRetriever,
    ) -> Result<()> {
        let key = self.private_key(key_id)?;
        let entry = self.entry(key_id)?;
        self.write_key(
            &key,
            entry.relative,
            &entry.role,
            stored_gun(&entry.role, entry.gun.as_deref()),
            new_passphrase,
        )?;
        Ok(())
    }
}
