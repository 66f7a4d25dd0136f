//! Staged changes, byte-compatible with Go notary's file changelist.
//!
//! Each change is one file in `tuf/<gun>/changelist/` named
//! `<20-digit Unix nanoseconds>_<uuid v4>.change` (mode 0600) holding Go's `encoding/json` form
//! of
//!
//! ```text
//! {"action":A,"role":SCOPE,"type":T,"path":P,"data":<base64 of a JSON payload> | null}
//! ```
//!
//! Changes are ordered by file name (byte order, every non-directory entry counts, whatever its
//! suffix). [`FileChangelist::list`] skips files it cannot parse and reports them as
//! [`ChangelistWarning`]s; [`FileChangelist::changes_for_publish`] refuses them, as Go's
//! iterator does.
//!
//! Payloads ([`Change::data`], JSON, then base64 in the file):
//!
//! | type / action | payload |
//! |---|---|
//! | `target` / `create` | [`TargetMeta`]: `{"length":N,"hashes":{...},"custom":...}` |
//! | `target` / `delete` | none |
//! | `delegation` / `create`, `update` | [`DelegationChange`] (all fields optional) |
//! | `delegation` / `delete` | none (remove the whole role) |
//! | `role` / `create`, scope `root` | [`RootRoleChange`]: `{"keys":[...],"role":R}` |
//! | `witness` / `update` | none |

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;
use signet_tuf::PublicKey;

use crate::error::{Error, Result};
use crate::fsutil;
use crate::gojson;

/// Suffix of changelist file names.
pub const CHANGE_FILE_SUFFIX: &str = ".change";
/// The scope of changes to root keys.
pub const SCOPE_ROOT: &str = "root";
/// The scope of changes to the top-level targets role.
pub const SCOPE_TARGETS: &str = "targets";
/// The scope of a delegation purge: every delegation in the tree.
pub const SCOPE_ALL_DELEGATIONS: &str = "targets/*";

/// What a change does.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    /// `create`
    Create,
    /// `update`
    Update,
    /// `delete`
    Delete,
    /// Any other value, kept so the change can still be listed.
    Unknown(String),
}

impl Action {
    /// The wire value.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Create => "create",
            Self::Update => "update",
            Self::Delete => "delete",
            Self::Unknown(s) => s,
        }
    }

    /// Maps a wire value to its variant.
    pub fn parse(s: &str) -> Self {
        match s {
            "create" => Self::Create,
            "update" => Self::Update,
            "delete" => Self::Delete,
            other => Self::Unknown(other.to_owned()),
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a change is about.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ChangeType {
    /// `target`: a target in a targets role.
    Target,
    /// `delegation`: a delegation role's keys, paths or existence.
    Delegation,
    /// `role`: the keys of a base role in root.
    Role,
    /// `witness`: re-sign a role unchanged.
    Witness,
    /// Any other value, kept so the change can still be listed.
    Unknown(String),
}

impl ChangeType {
    /// The wire value.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Target => "target",
            Self::Delegation => "delegation",
            Self::Role => "role",
            Self::Witness => "witness",
            Self::Unknown(s) => s,
        }
    }

    /// Maps a wire value to its variant.
    pub fn parse(s: &str) -> Self {
        match s {
            "target" => Self::Target,
            "delegation" => Self::Delegation,
            "role" => Self::Role,
            "witness" => Self::Witness,
            other => Self::Unknown(other.to_owned()),
        }
    }
}

impl fmt::Display for ChangeType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One staged change (Go's `TUFChange`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    /// `action`.
    pub action: Action,
    /// `role`: the scope (`targets`, `targets/<x>`, `targets/*`, `root`).
    pub scope: String,
    /// `type`.
    pub change_type: ChangeType,
    /// `path`: the target name for target changes, the role or `""` otherwise.
    pub path: String,
    /// `data`: the JSON payload, `None` for `null`.
    pub data: Option<Vec<u8>>,
}

/// The file form, read leniently: Go's decoder ignores unknown fields and accepts missing ones.
#[derive(Deserialize)]
struct WireChange {
    #[serde(default)]
    action: String,
    #[serde(default)]
    role: String,
    #[serde(default, rename = "type")]
    change_type: String,
    #[serde(default)]
    path: String,
    #[serde(default)]
    data: Option<String>,
}

impl Change {
    /// A change with the given fields.
    pub fn new(
        action: Action,
        scope: impl Into<String>,
        change_type: ChangeType,
        path: impl Into<String>,
        data: Option<Vec<u8>>,
    ) -> Self {
        Self {
            action,
            scope: scope.into(),
            change_type,
            path: path.into(),
            data,
        }
    }

    /// `create`/`target`: add (or replace) target `name` in `role`.
    pub fn add_target(role: impl Into<String>, name: impl Into<String>, meta: &TargetMeta) -> Self {
        Self::new(
            Action::Create,
            role,
            ChangeType::Target,
            name,
            Some(meta.to_go_json()),
        )
    }

    /// `delete`/`target`: remove target `name` from `role`.
    pub fn remove_target(role: impl Into<String>, name: impl Into<String>) -> Self {
        Self::new(Action::Delete, role, ChangeType::Target, name, None)
    }

    /// A delegation change on `role` (`create` to add keys or paths, `update` to remove them;
    /// `role` may be [`SCOPE_ALL_DELEGATIONS`] for a purge).
    pub fn delegation(action: Action, role: impl Into<String>, change: &DelegationChange) -> Self {
        Self::new(
            action,
            role,
            ChangeType::Delegation,
            "",
            Some(change.to_go_json()),
        )
    }

    /// `delete`/`delegation`: remove the whole delegation `role`.
    pub fn remove_delegation(role: impl Into<String>) -> Self {
        Self::new(Action::Delete, role, ChangeType::Delegation, "", None)
    }

    /// `update`/`witness`: re-sign `role` at the next publish.
    pub fn witness(role: impl Into<String>) -> Self {
        Self::new(Action::Update, role, ChangeType::Witness, "", None)
    }

    /// `create`/`role` in scope `root`: replace every key of base role `role` by `keys`.
    pub fn replace_root_role_keys(role: impl Into<String>, keys: Vec<PublicKey>) -> Self {
        let payload = RootRoleChange {
            keys,
            role: role.into(),
        };
        Self::new(
            Action::Create,
            SCOPE_ROOT,
            ChangeType::Role,
            "",
            Some(payload.to_go_json()),
        )
    }

    /// Parses the file form.
    ///
    /// # Errors
    ///
    /// A message when the bytes are not the JSON object of a change or `data` is not base64.
    pub fn from_json(bytes: &[u8]) -> std::result::Result<Self, String> {
        let wire: WireChange = from_object(bytes)?;
        let data = wire
            .data
            .map(|d| STANDARD.decode(d.as_bytes()))
            .transpose()
            .map_err(|e| format!("\"data\" is not base64: {e}"))?;
        Ok(Self {
            action: Action::parse(&wire.action),
            scope: wire.role,
            change_type: ChangeType::parse(&wire.change_type),
            path: wire.path,
            data,
        })
    }

    /// The file form, exactly as Go's `json.Marshal` writes it.
    pub fn to_json(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(128 + self.data.as_ref().map_or(0, |d| d.len() * 4 / 3));
        out.extend_from_slice(b"{\"action\":");
        gojson::write_string(&mut out, self.action.as_str());
        out.extend_from_slice(b",\"role\":");
        gojson::write_string(&mut out, &self.scope);
        out.extend_from_slice(b",\"type\":");
        gojson::write_string(&mut out, self.change_type.as_str());
        out.extend_from_slice(b",\"path\":");
        gojson::write_string(&mut out, &self.path);
        out.extend_from_slice(b",\"data\":");
        match &self.data {
            Some(data) => gojson::write_bytes(&mut out, data),
            None => out.extend_from_slice(b"null"),
        }
        out.push(b'}');
        out
    }

    /// The payload of a target `create`.
    ///
    /// # Errors
    ///
    /// [`Error::ChangePayload`] when there is no payload or it is not a FileMeta.
    pub fn target_meta(&self) -> Result<TargetMeta> {
        TargetMeta::from_json(self.payload_bytes()?).map_err(|reason| self.payload_error(reason))
    }

    /// The payload of a delegation `create` or `update`.
    ///
    /// # Errors
    ///
    /// [`Error::ChangePayload`] when there is no payload or it is not a TUFDelegation.
    pub fn delegation_change(&self) -> Result<DelegationChange> {
        DelegationChange::from_json(self.payload_bytes()?)
            .map_err(|reason| self.payload_error(reason))
    }

    /// The payload of a root `role` change.
    ///
    /// # Errors
    ///
    /// [`Error::ChangePayload`] when there is no payload or it is not a TUFRootData.
    pub fn root_role_change(&self) -> Result<RootRoleChange> {
        RootRoleChange::from_json(self.payload_bytes()?)
            .map_err(|reason| self.payload_error(reason))
    }

    fn payload_bytes(&self) -> Result<&[u8]> {
        self.data
            .as_deref()
            .ok_or_else(|| self.payload_error("the change has no data".to_owned()))
    }

    fn payload_error(&self, reason: String) -> Error {
        Error::ChangePayload {
            action: self.action.to_string(),
            scope: self.scope.clone(),
            change_type: self.change_type.to_string(),
            path: self.path.clone(),
            reason,
        }
    }
}

/// A target's length, hashes and optional custom data (Go's `data.FileMeta` in a changelist).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TargetMeta {
    /// Length in bytes.
    pub length: i64,
    /// Hash algorithm name (`sha256`, `sha512`) → digest bytes.
    pub hashes: BTreeMap<String, Vec<u8>>,
    /// The raw `custom` JSON, if any.
    pub custom: Option<RawJson>,
}

/// A piece of valid JSON kept as the text it was given in (Go's `json.RawMessage`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawJson(String);

impl RawJson {
    /// Checks that `text` is one JSON value and keeps it verbatim.
    ///
    /// # Errors
    ///
    /// The parser's message when it is not.
    pub fn parse(text: impl Into<String>) -> std::result::Result<Self, String> {
        let text = text.into();
        serde_json::from_str::<&RawValue>(&text).map_err(|e| e.to_string())?;
        Ok(Self(text))
    }

    /// The JSON text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Deserialize)]
struct WireTargetMeta {
    #[serde(default)]
    length: i64,
    #[serde(default)]
    hashes: BTreeMap<String, String>,
    #[serde(default)]
    custom: Option<Box<RawValue>>,
}

impl TargetMeta {
    /// Parses a FileMeta JSON document.
    ///
    /// # Errors
    ///
    /// A message when it is not one (hash values must be base64).
    pub fn from_json(bytes: &[u8]) -> std::result::Result<Self, String> {
        let wire: WireTargetMeta = from_object(bytes)?;
        let mut hashes = BTreeMap::new();
        for (alg, digest) in wire.hashes {
            let digest = STANDARD
                .decode(digest.as_bytes())
                .map_err(|e| format!("hash {alg:?} is not base64: {e}"))?;
            hashes.insert(alg, digest);
        }
        // Go decodes `"custom":null` into a nil pointer.
        let custom = wire
            .custom
            .filter(|c| c.get() != "null")
            .map(|c| RawJson(c.get().to_owned()));
        Ok(Self {
            length: wire.length,
            hashes,
            custom,
        })
    }

    /// Go's `json.Marshal` form: `{"length":N,"hashes":{...},"custom":...}` (custom omitted when
    /// absent, compacted with HTML escaping otherwise).
    pub fn to_go_json(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(256);
        out.extend_from_slice(b"{\"length\":");
        out.extend_from_slice(self.length.to_string().as_bytes());
        out.extend_from_slice(b",\"hashes\":{");
        for (i, (alg, digest)) in self.hashes.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            gojson::write_string(&mut out, alg);
            out.push(b':');
            gojson::write_bytes(&mut out, digest);
        }
        out.push(b'}');
        if let Some(custom) = &self.custom {
            out.extend_from_slice(b",\"custom\":");
            out.extend_from_slice(&gojson::compact_raw(custom.as_str().as_bytes()));
        }
        out.push(b'}');
        out
    }
}

/// A delegation change (Go's `changelist.TUFDelegation`); every field is optional and omitted
/// from the JSON when empty.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DelegationChange {
    /// `new_name`: rename the role (unused by the CLIs).
    pub new_name: Option<String>,
    /// `threshold`: the new threshold (0 = unchanged).
    pub threshold: u32,
    /// `add_keys`: keys to add.
    pub add_keys: Vec<PublicKey>,
    /// `remove_keys`: canonical key IDs to remove.
    pub remove_keys: Vec<String>,
    /// `add_paths`: paths to add (`""` = every path).
    pub add_paths: Vec<String>,
    /// `remove_paths`: paths to remove.
    pub remove_paths: Vec<String>,
    /// `clear_paths`: remove every path.
    pub clear_paths: bool,
}

#[derive(Deserialize)]
struct WireDelegation {
    #[serde(default)]
    new_name: Option<String>,
    #[serde(default)]
    threshold: u32,
    #[serde(default)]
    add_keys: Option<Vec<Value>>,
    #[serde(default)]
    remove_keys: Option<Vec<String>>,
    #[serde(default)]
    add_paths: Option<Vec<String>>,
    #[serde(default)]
    remove_paths: Option<Vec<String>>,
    #[serde(default)]
    clear_paths: bool,
}

impl DelegationChange {
    /// Parses a TUFDelegation JSON document.
    ///
    /// # Errors
    ///
    /// A message when it is not one.
    pub fn from_json(bytes: &[u8]) -> std::result::Result<Self, String> {
        let wire: WireDelegation = from_object(bytes)?;
        let add_keys = wire
            .add_keys
            .unwrap_or_default()
            .iter()
            .map(gojson::parse_key)
            .collect::<std::result::Result<Vec<_>, _>>()?;
        Ok(Self {
            new_name: wire.new_name.filter(|n| !n.is_empty()),
            threshold: wire.threshold,
            add_keys,
            remove_keys: wire.remove_keys.unwrap_or_default(),
            add_paths: wire.add_paths.unwrap_or_default(),
            remove_paths: wire.remove_paths.unwrap_or_default(),
            clear_paths: wire.clear_paths,
        })
    }

    /// Go's `json.Marshal` form (fields in declaration order, empty ones omitted).
    pub fn to_go_json(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(256);
        out.push(b'{');
        let mut first = true;
        let mut field = |out: &mut Vec<u8>, name: &str| {
            if !first {
                out.push(b',');
            }
            first = false;
            out.push(b'"');
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b"\":");
        };
        if let Some(name) = self.new_name.as_deref().filter(|n| !n.is_empty()) {
            field(&mut out, "new_name");
            gojson::write_string(&mut out, name);
        }
        if self.threshold != 0 {
            field(&mut out, "threshold");
            out.extend_from_slice(self.threshold.to_string().as_bytes());
        }
        if !self.add_keys.is_empty() {
            field(&mut out, "add_keys");
            out.push(b'[');
            for (i, key) in self.add_keys.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                gojson::write_key(&mut out, key);
            }
            out.push(b']');
        }
        if !self.remove_keys.is_empty() {
            field(&mut out, "remove_keys");
            gojson::write_string_list(&mut out, &self.remove_keys);
        }
        if !self.add_paths.is_empty() {
            field(&mut out, "add_paths");
            gojson::write_string_list(&mut out, &self.add_paths);
        }
        if !self.remove_paths.is_empty() {
            field(&mut out, "remove_paths");
            gojson::write_string_list(&mut out, &self.remove_paths);
        }
        if self.clear_paths {
            field(&mut out, "clear_paths");
            out.extend_from_slice(b"true");
        }
        out.push(b'}');
        out
    }
}

/// New keys for a base role (Go's `changelist.TUFRootData`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RootRoleChange {
    /// `keys`: the complete new key list of the role.
    pub keys: Vec<PublicKey>,
    /// `role`: the base role (`root`, `targets`, `snapshot`, `timestamp`).
    pub role: String,
}

impl RootRoleChange {
    /// Parses a TUFRootData JSON document.
    ///
    /// # Errors
    ///
    /// A message when it is not one.
    pub fn from_json(bytes: &[u8]) -> std::result::Result<Self, String> {
        #[derive(Deserialize)]
        struct Wire {
            #[serde(default)]
            keys: Option<Vec<Value>>,
            #[serde(default)]
            role: String,
        }
        let wire: Wire = from_object(bytes)?;
        let keys = wire
            .keys
            .unwrap_or_default()
            .iter()
            .map(gojson::parse_key)
            .collect::<std::result::Result<Vec<_>, _>>()?;
        Ok(Self {
            keys,
            role: wire.role,
        })
    }

    /// Go's `json.Marshal` form: `{"keys":[...],"role":R}`.
    pub fn to_go_json(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(256);
        out.extend_from_slice(b"{\"keys\":");
        if self.keys.is_empty() {
            out.extend_from_slice(b"null");
        } else {
            out.push(b'[');
            for (i, key) in self.keys.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                gojson::write_key(&mut out, key);
            }
            out.push(b']');
        }
        out.extend_from_slice(b",\"role\":");
        gojson::write_string(&mut out, &self.role);
        out.push(b'}');
        out
    }
}

/// A change as found on disk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StagedChange {
    /// Position of the file among all changelist files (sorted by name); the index
    /// [`FileChangelist::remove`] takes.
    pub index: usize,
    /// The file name.
    pub file_name: String,
    /// The parsed change.
    pub change: Change,
}

/// A changelist file that could not be read or parsed (skipped by [`FileChangelist::list`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChangelistWarning {
    /// Position of the file among all changelist files.
    pub index: usize,
    /// The file's path.
    pub path: PathBuf,
    /// Why it was skipped.
    pub reason: String,
}

impl fmt::Display for ChangelistWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "skipping unreadable change {}: {}",
            self.path.display(),
            self.reason
        )
    }
}

/// The result of [`FileChangelist::list`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChangeListing {
    /// Parsed changes in file-name order.
    pub changes: Vec<StagedChange>,
    /// Files that were skipped.
    pub warnings: Vec<ChangelistWarning>,
}

/// The on-disk changelist of one collection (`tuf/<gun>/changelist/`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileChangelist {
    dir: PathBuf,
}

impl FileChangelist {
    /// The changelist in `dir` (created on the first [`add`](Self::add)).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// Names of every non-directory entry, sorted by byte order. A missing directory is empty.
    fn file_names(&self) -> Result<Vec<String>> {
        let entries = match fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::io("read directory", &self.dir, e)),
        };
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| Error::io("read directory", &self.dir, e))?;
            // Follow symlinks like Go's Readdir does (lstat there, but Go only skips dirs).
            let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
            if is_dir {
                continue;
            }
            names.push(entry.file_name().to_string_lossy().into_owned());
        }
        names.sort_unstable_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        Ok(names)
    }

    /// Reads and parses one change file into `buffer` (reused between files).
    fn read_into(&self, name: &str, buffer: &mut Vec<u8>) -> std::result::Result<Change, String> {
        buffer.clear();
        fs::File::open(self.dir.join(name))
            .and_then(|mut file| file.read_to_end(buffer))
            .map_err(|e| e.to_string())?;
        Change::from_json(buffer)
    }

    /// Reads and parses every file of `names`, in order; large changelists are read by a few
    /// threads at once.
    fn read_all(&self, names: &[String]) -> Vec<std::result::Result<Change, String>> {
        parallel_chunks(names, cpu_threads(), |chunk| {
            let mut buffer = Vec::with_capacity(4096);
            chunk
                .iter()
                .map(|name| self.read_into(name, &mut buffer))
                .collect::<Vec<_>>()
        })
        .into_iter()
        .flatten()
        .collect()
    }

    /// Every change in order; unparseable files are skipped and reported.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when the directory exists but cannot be read.
    pub fn list(&self) -> Result<ChangeListing> {
        let mut listing = ChangeListing::default();
        let names = self.file_names()?;
        let read = self.read_all(&names);
        for (index, (file_name, result)) in names.into_iter().zip(read).enumerate() {
            match result {
                Ok(change) => listing.changes.push(StagedChange {
                    index,
                    file_name,
                    change,
                }),
                Err(reason) => listing.warnings.push(ChangelistWarning {
                    index,
                    path: self.dir.join(&file_name),
                    reason,
                }),
            }
        }
        Ok(listing)
    }

    /// Every change in order, failing on the first file that cannot be parsed (what publish
    /// uses).
    ///
    /// # Errors
    ///
    /// [`Error::ChangeUnreadable`] naming the file, or [`Error::Io`].
    pub fn changes_for_publish(&self) -> Result<Vec<StagedChange>> {
        let names = self.file_names()?;
        let read = self.read_all(&names);
        let mut changes = Vec::with_capacity(names.len());
        for (index, (file_name, result)) in names.into_iter().zip(read).enumerate() {
            let change = result.map_err(|reason| Error::ChangeUnreadable {
                path: self.dir.join(&file_name),
                reason,
            })?;
            changes.push(StagedChange {
                index,
                file_name,
                change,
            });
        }
        Ok(changes)
    }

    /// Stages `change`: writes a new `%020d_<uuid>.change` file (0600; the directory is created
    /// 0700) and returns its name.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when the file cannot be written.
    pub fn add(&self, change: &Change) -> Result<String> {
        fsutil::create_private_dir(&self.dir)?;
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let name = format!("{nanos:020}_{}{CHANGE_FILE_SUFFIX}", uuid_v4());
        fsutil::write_new_file(&self.dir.join(&name), &change.to_json())?;
        Ok(name)
    }

    /// Removes the changes at `indices` (positions in file-name order, as in
    /// [`StagedChange::index`]). Every index is checked before anything is removed.
    ///
    /// # Errors
    ///
    /// [`Error::ChangeIndexOutOfRange`] for an index past the end (nothing removed), or
    /// [`Error::Io`] when a file cannot be removed.
    pub fn remove(&self, indices: &[usize]) -> Result<Vec<String>> {
        let names = self.file_names()?;
        if let Some(&index) = indices.iter().find(|&&i| i >= names.len()) {
            return Err(Error::ChangeIndexOutOfRange {
                index,
                count: names.len(),
            });
        }
        let mut removed = Vec::new();
        for (index, name) in names.into_iter().enumerate() {
            if indices.contains(&index) {
                fsutil::remove_file_if_exists(&self.dir.join(&name))?;
                removed.push(name);
            }
        }
        Ok(removed)
    }

    /// Removes every file in the changelist directory (the directory stays), and whatever a
    /// publish that was interrupted left set aside.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when a file cannot be removed.
    pub fn clear(&self) -> Result<()> {
        let names = self.file_names()?;
        remove_names(&self.dir, &names)?;
        self.remove_leftover_asides()
    }

    /// Removes the files named in `file_names`, the changes a publish just uploaded; changes
    /// staged meanwhile (any other file) stay.
    ///
    /// When the directory holds exactly those files, it is first renamed aside in one step (to
    /// a sibling `changelist.published-<uuid>` directory, which neither signet nor Go notary
    /// reads as changes) and recreated empty, so an interrupted removal never leaves part of
    /// the published changes staged; the set-aside files are then removed by several threads.
    /// A file that still appears in the set-aside directory without being one of `file_names`
    /// (staged while the rename happened) is moved back. Otherwise the named files are removed
    /// one by one. Directories left aside by an interrupted earlier removal are removed too.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when a file cannot be removed or the directory cannot be renamed back.
    pub fn remove_files(&self, file_names: &[String]) -> Result<()> {
        let mut published: Vec<&str> = file_names
            .iter()
            .map(String::as_str)
            .filter(|name| is_plain_name(name))
            .collect();
        published.sort_unstable_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        published.dedup();
        if !published.is_empty()
            && self.holds_exactly(&published)?
            && let Some(aside) = self.set_aside()?
        {
            self.restore_strays(&aside, &published)?;
            remove_names(&aside, &published)?;
            self.finish_aside(&aside, &published)?;
            return self.remove_leftover_asides();
        }
        remove_names(&self.dir, &published)?;
        self.remove_leftover_asides()
    }

    /// Whether the directory's entries are exactly `published` (sorted), and nothing else (no
    /// subdirectory either: the rename would carry it away).
    fn holds_exactly(&self, published: &[&str]) -> Result<bool> {
        let entries = match fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(Error::io("read directory", &self.dir, e)),
        };
        let mut names = Vec::with_capacity(published.len());
        for entry in entries {
            let entry = entry.map_err(|e| Error::io("read directory", &self.dir, e))?;
            match entry.file_name().into_string() {
                Ok(name) => names.push(name),
                Err(_) => return Ok(false),
            }
        }
        if names.len() != published.len() {
            return Ok(false);
        }
        names.sort_unstable_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        Ok(names.iter().zip(published).all(|(a, b)| a == b))
    }

    /// Renames the directory to a fresh aside path and recreates it empty; `None` (nothing
    /// changed) when it is a symlink or cannot be renamed.
    fn set_aside(&self) -> Result<Option<PathBuf>> {
        let (Some(parent), Some(base)) = (self.dir.parent(), self.dir.file_name()) else {
            return Ok(None);
        };
        if !fs::symlink_metadata(&self.dir).is_ok_and(|m| m.is_dir()) {
            return Ok(None);
        }
        let aside = parent.join(format!(
            "{}{ASIDE_MARKER}{}",
            base.to_string_lossy(),
            uuid_v4()
        ));
        if fs::rename(&self.dir, &aside).is_err() {
            return Ok(None);
        }
        if let Err(e) = fsutil::create_private_dir(&self.dir) {
            // Put everything back rather than lose staged changes.
            let _ = fs::rename(&aside, &self.dir);
            return Err(e);
        }
        Ok(Some(aside))
    }

    /// Moves every entry of `aside` that is not in `published` back into the changelist.
    fn restore_strays(&self, aside: &Path, published: &[&str]) -> Result<()> {
        let entries = match fs::read_dir(aside) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(Error::io("read directory", aside, e)),
        };
        for entry in entries {
            let entry = entry.map_err(|e| Error::io("read directory", aside, e))?;
            let name = entry.file_name();
            let known = name.to_str().is_some_and(|n| {
                published
                    .binary_search_by(|p| p.as_bytes().cmp(n.as_bytes()))
                    .is_ok()
            });
            if !known {
                let to = self.dir.join(&name);
                fs::rename(entry.path(), &to).map_err(|e| Error::io("rename", &to, e))?;
            }
        }
        Ok(())
    }

    /// Removes the emptied `aside` directory, moving back anything staged into it late.
    fn finish_aside(&self, aside: &Path, published: &[&str]) -> Result<()> {
        for _ in 0..FINISH_ATTEMPTS {
            match fs::remove_dir(aside) {
                Ok(()) => return Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
                Err(_) => self.restore_strays(aside, published)?,
            }
        }
        fs::remove_dir(aside).map_err(|e| Error::io("remove directory", aside, e))
    }

    /// Removes the directories an interrupted publish left aside (they hold only changes that
    /// were published).
    fn remove_leftover_asides(&self) -> Result<()> {
        let (Some(parent), Some(base)) = (self.dir.parent(), self.dir.file_name()) else {
            return Ok(());
        };
        let prefix = format!("{}{ASIDE_MARKER}", base.to_string_lossy());
        let entries = match fs::read_dir(parent) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(Error::io("read directory", parent, e)),
        };
        for entry in entries {
            let entry = entry.map_err(|e| Error::io("read directory", parent, e))?;
            let is_aside = entry
                .file_name()
                .to_str()
                .is_some_and(|n| n.starts_with(&prefix));
            if is_aside && entry.file_type().is_ok_and(|t| t.is_dir()) {
                let aside = entry.path();
                let names = dir_entry_names(&aside)?;
                remove_names(&aside, &names)?;
                fsutil::remove_dir_all_if_exists(&aside)?;
            }
        }
        Ok(())
    }
}

/// Marker between the changelist directory's name and a uuid in the name of a directory set
/// aside by [`FileChangelist::remove_files`].
const ASIDE_MARKER: &str = ".published-";
/// Attempts at removing a set-aside directory that keeps receiving late changes.
const FINISH_ATTEMPTS: usize = 8;

/// Whether `name` is a single path component (not `.`, `..`, nor containing a separator).
fn is_plain_name(name: &str) -> bool {
    !name.is_empty() && !name.contains(['/', '\\']) && name != "." && name != ".."
}

/// Names of every entry of `dir` (a missing directory has none).
fn dir_entry_names(dir: &Path) -> Result<Vec<String>> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io("read directory", dir, e)),
    };
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::io("read directory", dir, e))?;
        if entry.file_type().is_ok_and(|t| !t.is_dir()) {
            names.push(entry.file_name().to_string_lossy().into_owned());
        }
    }
    names.sort_unstable();
    Ok(names)
}

/// Removes the files `names` of `dir`, several threads at once for many files: most of an
/// unlink's cost (freeing the inode and its blocks, waiting for the disk when the filesystem
/// discards freed blocks) is paid outside the directory's lock, and much of it is waiting, not
/// CPU.
fn remove_names<S: AsRef<str> + Sync>(dir: &Path, names: &[S]) -> Result<()> {
    parallel_chunks(names, UNLINK_THREADS, |chunk| {
        for name in chunk {
            let name = name.as_ref();
            if is_plain_name(name) {
                fsutil::remove_file_if_exists(&dir.join(name))?;
            }
        }
        Ok(())
    })
    .into_iter()
    .collect()
}

/// Below this many files a changelist is handled on the calling thread.
const PARALLEL_MIN_FILES: usize = 512;
/// At most this many threads read changelist files (CPU-bound: parsing).
const MAX_READ_THREADS: usize = 4;
/// Threads that remove changelist files (bound by the filesystem, not the CPU).
const UNLINK_THREADS: usize = 8;

/// The threads to use for CPU-bound work: one per CPU, at most [`MAX_READ_THREADS`].
fn cpu_threads() -> usize {
    std::thread::available_parallelism()
        .map_or(1, std::num::NonZeroUsize::get)
        .min(MAX_READ_THREADS)
}

/// Runs `work` over consecutive chunks of `items`, on up to `threads` scoped threads when there
/// are many items; the results come back in chunk order.
fn parallel_chunks<T: Sync, R: Send>(
    items: &[T],
    threads: usize,
    work: impl Fn(&[T]) -> R + Sync,
) -> Vec<R> {
    if threads < 2 || items.len() < PARALLEL_MIN_FILES {
        return vec![work(items)];
    }
    let chunk = items.len().div_ceil(threads);
    let work = &work;
    std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|part| scope.spawn(move || work(part)))
            .collect();
        handles
            .into_iter()
            .map(|handle| match handle.join() {
                Ok(result) => result,
                // A panic in `work` is a bug; pass it on unchanged.
                Err(panic) => std::panic::resume_unwind(panic),
            })
            .collect()
    })
}

/// Decodes a JSON object into `T` (Go refuses arrays where a struct is expected).
fn from_object<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> std::result::Result<T, String> {
    let first = bytes
        .iter()
        .find(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'));
    if first != Some(&b'{') {
        return Err("expected a JSON object".to_owned());
    }
    serde_json::from_slice(bytes).map_err(|e| e.to_string())
}

/// A random (version 4) UUID, lowercase and hyphenated.
fn uuid_v4() -> String {
    let mut b: [u8; 16] = fsutil::random_bytes();
    b[6] = (b[6] & 0x0F) | 0x40;
    b[8] = (b[8] & 0x3F) | 0x80;
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

#[cfg(test)]
mod tests;
