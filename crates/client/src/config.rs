//! The notary CLI's `config.json` (docker ignores it).
//!
//! ```json
//! {
//!   "trust_dir": "~/.notary",
//!   "remote_server": {"url": "https://notary.example:4443", "root_ca": "root-ca.crt",
//!                     "tls_client_cert": "c.crt", "tls_client_key": "c.key", "skipTLSVerify": false},
//!   "trust_pinning": {"certs": {"example.com/app": ["<root key id>"], "example.com/*": ["..."]},
//!                     "ca": {"example.com/": "ca.pem"}, "disable_tofu": false},
//!   "yubihsm": {"connector": "http://127.0.0.1:12345", "auth_key": 2, "keys": "root"}
//! }
//! ```
//!
//! Path rules (as the Go CLI applies them):
//!
//! * `trust_dir`: a leading `~` (alone or followed by `/`) is replaced by `$HOME`; a relative
//!   path is resolved against the **current directory**.
//! * `remote_server.root_ca`, `tls_client_cert`, `tls_client_key`: relative to the **config
//!   file's directory**.
//! * `trust_pinning.ca` values: relative to the current directory.
//!
//! Keys are matched case-insensitively (the Go CLI reads the file through viper), except the
//! GUN keys of `trust_pinning.certs` / `ca`, which are taken verbatim.
//!
//! An explicitly named config file must exist; a missing default file means defaults.
//!
//! The `yubihsm` object (a signet extension) and the `SIGNET_YUBIHSM_*` variables that override
//! it are resolved by [`NotaryConfig::hardware`], see [`hardware`].
//!
//! [`ConfigEnv`] is everything the process environment contributes (`-c`, `$HOME`, the current
//! directory, `$DOCKER_CONFIG` and the `SIGNET_YUBIHSM_*` settings), read once by
//! [`ConfigEnv::from_process`].

pub mod hardware;

use std::collections::BTreeMap;
use std::env;
use std::fs;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};
use signet_tuf::update::{PinRule, pin_rule};

use crate::error::{ConfigError, Error, Result};
use crate::gun::Gun;
use crate::trust_dir::{CONFIG_FILE, docker_config_dir, notary_default_dir};

pub use hardware::HardwareSettings;

/// The notary CLI's default server URL (`defaultServerURL` in Go).
pub const DEFAULT_SERVER_URL: &str = "https://notary-server:4443";

/// Where the configuration comes from: the explicit `-c` file (if any), `$HOME`, the current
/// directory, `$DOCKER_CONFIG` and the YubiHSM 2 settings of the environment.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConfigEnv {
    /// `-c/--configFile`, if given.
    pub config_file: Option<PathBuf>,
    /// `$HOME`, if set and not empty.
    pub home: Option<PathBuf>,
    /// The current directory.
    pub cwd: PathBuf,
    /// `$DOCKER_CONFIG`, if set and not empty (docker's config dir, see
    /// [`docker_config_dir`](Self::docker_config_dir)).
    pub docker_config: Option<PathBuf>,
    /// The `SIGNET_YUBIHSM_*` settings that are set, by variable name (see
    /// [`hardware::SETTINGS`]; never the password). They override the `yubihsm` object of the
    /// file.
    pub yubihsm: BTreeMap<String, String>,
}

impl ConfigEnv {
    /// The process environment, with an optional explicit config file.
    pub fn from_process(config_file: Option<PathBuf>) -> Self {
        let path = |name: &str| {
            env::var_os(name)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        Self {
            config_file,
            home: path("HOME"),
            cwd: env::current_dir().unwrap_or_else(|_| PathBuf::from(".")),
            docker_config: path("DOCKER_CONFIG"),
            yubihsm: hardware::env_settings(),
        }
    }

    /// Resolves a command-line path against the current directory.
    pub fn cli_path(&self, path: impl AsRef<Path>) -> PathBuf {
        self.cwd.join(path)
    }

    /// Docker's config dir: `$DOCKER_CONFIG`, else `$HOME/.docker` (see
    /// [`docker_config_dir`]). Its `trust` directory is docker's trust dir.
    pub fn docker_config_dir(&self) -> PathBuf {
        docker_config_dir(
            self.docker_config.as_deref(),
            self.home.as_deref(),
            &self.cwd,
        )
    }
}

/// `remote_server` settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemoteServerConfig {
    /// `url` (default [`DEFAULT_SERVER_URL`]).
    pub url: String,
    /// `root_ca`: exclusive CA bundle for the server's certificate.
    pub root_ca: Option<PathBuf>,
    /// `tls_client_cert`.
    pub tls_client_cert: Option<PathBuf>,
    /// `tls_client_key`.
    pub tls_client_key: Option<PathBuf>,
    /// `skipTLSVerify`.
    pub skip_tls_verify: bool,
}

impl Default for RemoteServerConfig {
    fn default() -> Self {
        Self {
            url: DEFAULT_SERVER_URL.to_owned(),
            root_ca: None,
            tls_client_cert: None,
            tls_client_key: None,
            skip_tls_verify: false,
        }
    }
}

impl RemoteServerConfig {
    /// The parsed server URL.
    ///
    /// # Errors
    ///
    /// [`ConfigError::ServerUrl`] ("trust server url has to be in the form of http(s)://URL:PORT.
    /// Got: …") when the URL does not parse or is not http(s).
    pub fn parsed_url(&self) -> Result<reqwest::Url> {
        parse_server_url(&self.url)
    }

    /// Checks that the client certificate and key are given together.
    ///
    /// # Errors
    ///
    /// [`ConfigError::ClientCertPair`] ("either pass both client key and cert, or neither").
    pub fn check_client_pair(&self) -> Result<()> {
        if self.tls_client_cert.is_some() != self.tls_client_key.is_some() {
            return Err(Error::Config(ConfigError::ClientCertPair));
        }
        Ok(())
    }
}

/// Parses a trust server URL as the notary CLI requires it (`http://` or `https://`).
///
/// # Errors
///
/// [`ConfigError::ServerUrl`].
pub fn parse_server_url(url: &str) -> Result<reqwest::Url> {
    match reqwest::Url::parse(url) {
        Ok(parsed)
            if matches!(parsed.scheme(), "http" | "https") && parsed.host_str().is_some() =>
        {
            Ok(parsed)
        }
        _ => Err(Error::Config(ConfigError::ServerUrl {
            url: url.to_owned(),
        })),
    }
}

/// `trust_pinning` settings.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrustPinning {
    /// `certs`: GUN or `prefix*` → TUF key IDs of allowed root certificates.
    pub certs: BTreeMap<String, Vec<String>>,
    /// `ca`: GUN prefix → CA bundle path.
    pub ca: BTreeMap<String, PathBuf>,
    /// `disable_tofu`: refuse a first root that no pin covers.
    pub disable_tofu: bool,
}

/// How the first root of one GUN must be validated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PinningMode {
    /// The root must hold a certificate whose TUF key ID is one of these.
    Certs(Vec<String>),
    /// The root's certificate must chain to a CA in this bundle.
    Ca(PathBuf),
    /// Trust on first use.
    Tofu,
}

impl TrustPinning {
    /// The pinning that applies to `gun`: `certs[gun]` exactly, else the longest matching
    /// `certs["prefix*"]`, else the longest matching `ca` prefix, else TOFU.
    pub fn mode_for(&self, gun: &Gun) -> PinningMode {
        match self.rule_for(gun) {
            PinRule::Certs(ids) => PinningMode::Certs(ids.to_vec()),
            PinRule::Ca { ca, .. } => PinningMode::Ca(ca.clone()),
            PinRule::Tofu => PinningMode::Tofu,
        }
    }

    /// The configuration entry that applies to `gun` ([`pin_rule`]'s precedence).
    pub fn rule_for(&self, gun: &Gun) -> PinRule<'_, PathBuf> {
        pin_rule(&self.certs, &self.ca, gun.as_str())
    }

    /// The mode for a bootstrap of `gun`; `first_bootstrap` is true when no trusted root is
    /// cached.
    ///
    /// # Errors
    ///
    /// [`ConfigError::InvalidTrustPinning`] ("invalid trust pinning specified") when TOFU would
    /// apply to a first bootstrap while `disable_tofu` is set.
    pub fn checked_mode_for(&self, gun: &Gun, first_bootstrap: bool) -> Result<PinningMode> {
        let mode = self.mode_for(gun);
        if mode == PinningMode::Tofu && self.disable_tofu && first_bootstrap {
            return Err(Error::Config(ConfigError::InvalidTrustPinning {
                gun: gun.to_string(),
            }));
        }
        Ok(mode)
    }
}

/// The parsed notary configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotaryConfig {
    /// The config file used (whether or not it existed).
    pub file: PathBuf,
    /// Whether the file existed and was read.
    pub file_found: bool,
    /// The trust dir (absolute, `~` expanded).
    pub trust_dir: PathBuf,
    /// `remote_server`.
    pub remote: RemoteServerConfig,
    /// `trust_pinning`.
    pub trust_pinning: TrustPinning,
    /// The `yubihsm` object of the file, as written (resolved by [`hardware`](Self::hardware)).
    yubihsm_object: Option<Value>,
    /// The `SIGNET_YUBIHSM_*` settings of the environment the file was loaded in.
    yubihsm_env: BTreeMap<String, String>,
    /// Keys of the file that no setting reads (dotted paths as written, in key order), for a
    /// warning: a misspelt key would otherwise be ignored in silence.
    pub unknown_keys: Vec<String>,
}

impl NotaryConfig {
    /// Loads the configuration: the explicit file of `env` or `<home>/.notary/config.json`.
    ///
    /// # Errors
    ///
    /// [`ConfigError::File`] ("error opening config file: …") when the explicit file is
    /// missing or any found file cannot be read or parsed; [`ConfigError::Value`],
    /// [`ConfigError::TrustPinningCertsFormat`] for values of the wrong type.
    pub fn load(env: &ConfigEnv) -> Result<Self> {
        let default_trust_dir = notary_default_dir(env.home.as_deref(), &env.cwd);
        let file = match &env.config_file {
            Some(path) => env.cwd.join(path),
            None => default_trust_dir.join(CONFIG_FILE),
        };
        let (root, file_found) = match fs::read(&file) {
            Ok(bytes) => (parse_root(&bytes, &file)?, true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && env.config_file.is_none() => {
                (Map::new(), false)
            }
            Err(e) => {
                return Err(Error::Config(ConfigError::File {
                    reason: format!("open {}: {e}", file.display()),
                    path: file,
                }));
            }
        };
        Self::from_map(&root, file, file_found, env, &default_trust_dir)
    }

    /// Parses a configuration document already in memory (`file` names it for relative
    /// paths).
    ///
    /// # Errors
    ///
    /// As [`load`](Self::load).
    pub fn parse(json: &[u8], file: impl Into<PathBuf>, env: &ConfigEnv) -> Result<Self> {
        let file = env.cwd.join(file.into());
        let map = parse_root(json, &file)?;
        let default_trust_dir = notary_default_dir(env.home.as_deref(), &env.cwd);
        Self::from_map(&map, file, true, env, &default_trust_dir)
    }

    fn from_map(
        root: &Map<String, Value>,
        file: PathBuf,
        file_found: bool,
        env: &ConfigEnv,
        default_trust_dir: &Path,
    ) -> Result<Self> {
        let config_dir = file.parent().map(Path::to_path_buf).unwrap_or_default();
        let trust_dir = match string_at(root, &["trust_dir"])? {
            Some(dir) if !dir.is_empty() => env.cwd.join(home_expand(env.home.as_deref(), &dir)),
            _ => default_trust_dir.to_path_buf(),
        };
        let relative_to_config = |key: &str| -> Result<Option<PathBuf>> {
            Ok(string_at(root, &["remote_server", key])?
                .filter(|p| !p.is_empty())
                .map(|p| config_dir.join(p)))
        };
        let remote = RemoteServerConfig {
            url: string_at(root, &["remote_server", "url"])?
                .filter(|u| !u.is_empty())
                .unwrap_or_else(|| DEFAULT_SERVER_URL.to_owned()),
            root_ca: relative_to_config("root_ca")?,
            tls_client_cert: relative_to_config("tls_client_cert")?,
            tls_client_key: relative_to_config("tls_client_key")?,
            skip_tls_verify: bool_at(root, &["remote_server", "skipTLSVerify"])?,
        };
        let trust_pinning = TrustPinning {
            certs: pinned_certs(root)?,
            ca: pinned_cas(root, &env.cwd)?,
            disable_tofu: bool_at(root, &["trust_pinning", "disable_tofu"])?,
        };
        Ok(Self {
            file,
            file_found,
            trust_dir,
            remote,
            trust_pinning,
            // Taken verbatim (not case-insensitively): a signet extension, not a viper key.
            yubihsm_object: root.get(hardware::CONFIG_KEY).cloned(),
            yubihsm_env: env.yubihsm.clone(),
            unknown_keys: unknown_keys(root),
        })
    }

    /// The YubiHSM 2 settings: the `yubihsm` object of the file overridden by the
    /// `SIGNET_YUBIHSM_*` variables of the environment it was loaded in; `None` when no
    /// device is configured (see [`hardware`]).
    ///
    /// # Errors
    ///
    /// The device's configuration error ([`signet_signer::yubihsm::Error::Config`], as a
    /// [`signet_signer::Error`] like every other device error) naming the setting that is
    /// wrong.
    pub fn hardware(&self) -> signet_signer::Result<Option<HardwareSettings>> {
        HardwareSettings::resolve(self.yubihsm_object.as_ref(), &self.file, &self.yubihsm_env)
    }
}

/// Every key a configuration file may hold, as dotted paths. The top-level and nested notary
/// keys are compared case-insensitively, as viper does; the `yubihsm` object (a signet
/// extension) is read verbatim. The children of `trust_pinning.certs` and `trust_pinning.ca`
/// are GUNs, not keys.
pub const KNOWN_KEYS: [&str; 13] = [
    "trust_dir",
    "remote_server.url",
    "remote_server.root_ca",
    "remote_server.tls_client_cert",
    "remote_server.tls_client_key",
    "remote_server.skipTLSVerify",
    "trust_pinning.certs",
    "trust_pinning.ca",
    "trust_pinning.disable_tofu",
    "yubihsm.connector",
    "yubihsm.auth_key",
    "yubihsm.domain",
    "yubihsm.keys",
];

/// The keys of `root` that no setting reads (see [`KNOWN_KEYS`]), as dotted paths.
fn unknown_keys(root: &Map<String, Value>) -> Vec<String> {
    fn known(path: &str, verbatim: bool) -> bool {
        KNOWN_KEYS.iter().any(|k| {
            if verbatim {
                *k == path
            } else {
                k.eq_ignore_ascii_case(path)
            }
        })
    }
    let mut unknown = Vec::new();
    for (key, value) in root {
        let verbatim = key == hardware::CONFIG_KEY;
        let is_parent = verbatim
            || ["remote_server", "trust_pinning"]
                .iter()
                .any(|p| p.eq_ignore_ascii_case(key));
        match value {
            Value::Object(children) if is_parent => {
                for child in children.keys() {
                    let path = format!("{key}.{child}");
                    if !known(&path, verbatim) {
                        unknown.push(path);
                    }
                }
            }
            // A parent of the wrong type is reported by the setting that reads it.
            _ if is_parent || known(key, false) => {}
            _ => unknown.push(key.clone()),
        }
    }
    unknown
}

fn parse_root(json: &[u8], file: &Path) -> Result<Map<String, Value>> {
    let error = |reason: String| {
        Error::Config(ConfigError::File {
            path: file.to_path_buf(),
            reason: format!("While parsing config: {reason}"),
        })
    };
    match serde_json::from_slice(json) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(error("the document is not a JSON object".to_owned())),
        Err(e) => Err(error(e.to_string())),
    }
}

/// Expands a leading `~` (alone or followed by `/`) to `home`, as the notary CLI does.
pub fn home_expand(home: Option<&Path>, path: &str) -> PathBuf {
    let home = home.unwrap_or_else(|| Path::new(""));
    if path == "~" {
        return home.to_path_buf();
    }
    match path.strip_prefix("~/") {
        Some(rest) => home.join(rest),
        None => PathBuf::from(path),
    }
}

/// Case-insensitive lookup, as viper does.
fn get_ci<'a>(map: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    map.get(key).or_else(|| {
        map.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

fn value_at<'a>(root: &'a Map<String, Value>, path: &[&str]) -> Option<&'a Value> {
    let (last, parents) = path.split_last()?;
    let mut map = root;
    for key in parents {
        map = get_ci(map, key)?.as_object()?;
    }
    get_ci(map, last).filter(|v| !v.is_null())
}

fn string_at(root: &Map<String, Value>, path: &[&str]) -> Result<Option<String>> {
    match value_at(root, path) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(Value::Bool(b)) => Ok(Some(b.to_string())),
        Some(_) => Err(Error::Config(ConfigError::Value {
            key: path.join("."),
            reason: "expected a string".to_owned(),
        })),
    }
}

fn bool_at(root: &Map<String, Value>, path: &[&str]) -> Result<bool> {
    match value_at(root, path) {
        None => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(Value::String(s)) => match s.to_ascii_lowercase().as_str() {
            "1" | "t" | "true" => Ok(true),
            "0" | "f" | "false" | "" => Ok(false),
            _ => Err(Error::Config(ConfigError::Value {
                key: path.join("."),
                reason: format!("{s:?} is not a boolean"),
            })),
        },
        Some(Value::Number(n)) => Ok(n.as_f64().is_some_and(|f| f != 0.0)),
        Some(_) => Err(Error::Config(ConfigError::Value {
            key: path.join("."),
            reason: "expected a boolean".to_owned(),
        })),
    }
}

fn pinned_certs(root: &Map<String, Value>) -> Result<BTreeMap<String, Vec<String>>> {
    let mut certs = BTreeMap::new();
    let Some(value) = value_at(root, &["trust_pinning", "certs"]) else {
        return Ok(certs);
    };
    let map = value
        .as_object()
        .ok_or(Error::Config(ConfigError::TrustPinningCertsFormat))?;
    for (gun, ids) in map {
        let ids = ids
            .as_array()
            .ok_or(Error::Config(ConfigError::TrustPinningCertsFormat))?
            .iter()
            .map(|id| id.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .ok_or(Error::Config(ConfigError::TrustPinningCertsFormat))?;
        certs.insert(gun.clone(), ids);
    }
    Ok(certs)
}

fn pinned_cas(root: &Map<String, Value>, cwd: &Path) -> Result<BTreeMap<String, PathBuf>> {
    let mut cas = BTreeMap::new();
    let Some(value) = value_at(root, &["trust_pinning", "ca"]) else {
        return Ok(cas);
    };
    let invalid = || {
        Error::Config(ConfigError::Value {
            key: "trust_pinning.ca".to_owned(),
            reason: "expected an object of GUN prefix to CA file path".to_owned(),
        })
    };
    for (prefix, path) in value.as_object().ok_or_else(invalid)? {
        let path = path.as_str().ok_or_else(invalid)?;
        cas.insert(prefix.clone(), cwd.join(path));
    }
    Ok(cas)
}

#[cfg(test)]
mod tests;
