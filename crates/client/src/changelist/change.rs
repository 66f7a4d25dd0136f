//! The change model and its encodings: Go's `encoding/json` form of a change file and of each
//! payload, read and written byte for byte as Go notary does.

use std::collections::BTreeMap;
use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;
use signet_tuf::PublicKey;

use crate::error::{ChangelistError, Error, Result};
use signet_tuf::notary::gojson;

use super::SCOPE_ROOT;

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
    /// [`ChangelistError::Payload`] when there is no payload or it is not a FileMeta.
    pub fn target_meta(&self) -> Result<TargetMeta> {
        TargetMeta::from_json(self.payload_bytes()?).map_err(|reason| self.payload_error(reason))
    }

    /// The payload of a delegation `create` or `update`.
    ///
    /// # Errors
    ///
    /// [`ChangelistError::Payload`] when there is no payload or it is not a TUFDelegation.
    pub fn delegation_change(&self) -> Result<DelegationChange> {
        DelegationChange::from_json(self.payload_bytes()?)
            .map_err(|reason| self.payload_error(reason))
    }

    /// The payload of a root `role` change.
    ///
    /// # Errors
    ///
    /// [`ChangelistError::Payload`] when there is no payload or it is not a TUFRootData.
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
        Error::Changelist(ChangelistError::Payload {
            action: self.action.to_string(),
            scope: self.scope.clone(),
            change_type: self.change_type.to_string(),
            path: self.path.clone(),
            reason,
        })
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
