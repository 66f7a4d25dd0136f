//! Server configuration: a TOML file, overridden by `SIGNET_SERVER_*` environment variables,
//! overridden by command-line flags. Without any of them the server runs for trying it out:
//! plain HTTP on 127.0.0.1:4443, SQLite and a generated key-encryption key under a local
//! data directory.
//!
//! ```toml
//! [server]
//! listen = "0.0.0.0:4443"
//! tls_cert_file = "server.crt"      # TLS when both cert and key are set
//! tls_key_file = "server.key"
//! client_ca_file = "clients-ca.pem" # requires client certificates signed by this CA
//! max_body_bytes = 67108864
//! request_timeout_secs = 60
//! shutdown_grace_secs = 30
//! max_connections = 1024           # connections past it are closed at once
//! header_read_timeout_secs = 20     # time to send a request's headers; keep-alive idle limit
//!
//! [storage]
//! url = "postgres://notary@db/notary"   # or "sqlite:///var/lib/signet/signet.db?mode=rwc"
//! max_connections = 10
//! auto_migrate = true
//!
//! [keys]
//! kek_file = "/etc/signet/kek"      # 32 random bytes as 64 hex digits
//! algorithm = "ecdsa"                # or "ed25519"
//! store = "sealed"                   # where new keys are made: "sealed" or "yubihsm"
//!
//! # A YubiHSM 2 for server keys (required with store = "yubihsm"; with "sealed" it still
//! # signs with the keys already moved onto it). The password comes from the environment
//! # variable SIGNET_SERVER_YUBIHSM_PASSWORD (or the one password_env names), or from
//! # password_file; never from this file or the command line.
//! [keys.yubihsm]
//! connector = "http://127.0.0.1:12345"   # yubihsm-connector
//! auth_key_id = 1
//! password_file = "/etc/signet/yubihsm-password"
//! domain = 1
//! exportable_under_wrap = false      # true: new keys can be backed up under a wrap key
//!
//! [caching.max_age]
//! current_metadata = 300
//! consistent_metadata = 2592000
//!
//! [caching]
//! memory_bytes = 268435456
//! current_ttl_ms = 2000
//! poll_interval_ms = 1000
//!
//! [repositories]
//! gun_prefixes = ["docker.io/"]
//!
//! # The read-only web view of trust state at /ui/ (off by default).
//! [ui]
//! enabled = true
//!
//! [auth]
//! type = "token"
//! [auth.options]
//! realm = "https://auth.example/token"
//! service = "notary"
//! issuer = "auth.example"
//! rootcertbundle = "/etc/signet/token-ca.pem"
//!
//! [logging]
//! level = "info"
//! format = "text"                    # or "json"
//!
//! # Only for `import-notary-signer` / `export-notary-signer`.
//! [notary_signer]
//! database_url = "postgres://signer@db/notarysigner"   # or "mysql://…"
//! [notary_signer.passphrases]        # alias = passphrase; NOTARY_SIGNER_<ALIAS> wins
//! alias1 = "…"
//! ```
//!
//! Relative paths in the file are relative to the file's directory.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use zeroize::Zeroizing;

pub use crate::error::ConfigError;
pub use crate::hsm::{PasswordSource, YubiHsmSettings};
pub use crate::service::ServerKeyAlgorithm;

/// The `[server]` section.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSection {
    /// Address to listen on.
    pub listen: Option<String>,
    /// PEM certificate chain for TLS.
    pub tls_cert_file: Option<PathBuf>,
    /// PEM private key for TLS.
    pub tls_key_file: Option<PathBuf>,
    /// PEM CA bundle; when set, clients must present a certificate it signed.
    pub client_ca_file: Option<PathBuf>,
    /// Largest request body in bytes.
    pub max_body_bytes: Option<usize>,
    /// Per-request timeout in seconds.
    pub request_timeout_secs: Option<u64>,
    /// How long shutdown waits for requests in flight, in seconds.
    pub shutdown_grace_secs: Option<u64>,
    /// The most connections open at once.
    pub max_connections: Option<usize>,
    /// How long a client has to send a request's headers (also the keep-alive idle limit),
    /// in seconds.
    pub header_read_timeout_secs: Option<u64>,
}

/// The `[storage]` section. Its `Debug` output hides the database password.
#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageSection {
    /// Database URL (`postgres://…` or `sqlite://…`).
    pub url: Option<String>,
    /// Pool size.
    pub max_connections: Option<u32>,
    /// Apply migrations at start-up.
    pub auto_migrate: Option<bool>,
}

/// The `[keys]` section.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeysSection {
    /// File holding the key-encryption key (64 hex digits).
    pub kek_file: Option<PathBuf>,
    /// Algorithm of keys the server creates: `ecdsa` or `ed25519`.
    pub algorithm: Option<String>,
    /// Where new server keys are generated and held: `sealed` (the default) or `yubihsm`.
    pub store: Option<String>,
    /// The YubiHSM 2 holding server keys.
    pub yubihsm: Option<YubiHsmSection>,
}

/// The `[keys.yubihsm]` table. It holds no password: that comes from the environment
/// variable `password_env` names or from `password_file`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct YubiHsmSection {
    /// URL of yubihsm-connector (`http://127.0.0.1:12345`).
    pub connector: Option<String>,
    /// Object ID of the authentication key.
    pub auth_key_id: Option<u16>,
    /// Environment variable holding the password (default
    /// [`DEFAULT_YUBIHSM_PASSWORD_ENV`]).
    pub password_env: Option<String>,
    /// File holding the password (its first line); wins over the environment variable.
    pub password_file: Option<PathBuf>,
    /// Domain (1–16) new keys are created in.
    pub domain: Option<u8>,
    /// Whether new keys may be exported under a wrap key (for backups); default `false`.
    pub exportable_under_wrap: Option<bool>,
}

/// The environment variable the YubiHSM 2 password is read from unless `password_env`
/// names another.
pub const DEFAULT_YUBIHSM_PASSWORD_ENV: &str = "SIGNET_SERVER_YUBIHSM_PASSWORD";

/// Where new server keys are generated and held.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NewKeyStore {
    /// Generated in memory and stored sealed under the key-encryption key (the default).
    #[default]
    Sealed,
    /// Generated on the YubiHSM 2; the database records only the public key and the object.
    YubiHsm,
}

impl NewKeyStore {
    /// The configuration name: `sealed` or `yubihsm`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sealed => "sealed",
            Self::YubiHsm => "yubihsm",
        }
    }
}

/// The `[caching.max_age]` table.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaxAgeSection {
    /// Seconds for `<role>.json`.
    pub current_metadata: Option<u32>,
    /// Seconds for files by checksum or version.
    pub consistent_metadata: Option<u32>,
}

/// The `[caching]` section.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CachingSection {
    /// HTTP cache lifetimes.
    #[serde(default)]
    pub max_age: MaxAgeSection,
    /// Bytes of immutable metadata kept in memory.
    pub memory_bytes: Option<usize>,
    /// How long a current timestamp is served from memory, in milliseconds.
    pub current_ttl_ms: Option<u64>,
    /// How often the changefeed is polled for other replicas' writes, in milliseconds.
    pub poll_interval_ms: Option<u64>,
}

/// The `[repositories]` section.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RepositoriesSection {
    /// Accepted GUN prefixes; each ends in `/`.
    #[serde(default)]
    pub gun_prefixes: Vec<String>,
}

/// The `[ui]` section: the read-only web view.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UiSection {
    /// Serve the web view at `/ui/`.
    pub enabled: Option<bool>,
}

/// The `[auth.options]` table.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthOptions {
    /// Token realm.
    pub realm: Option<String>,
    /// Service name (token audience).
    pub service: Option<String>,
    /// Token issuer.
    pub issuer: Option<String>,
    /// PEM bundle of certificates that token chains must lead to.
    pub rootcertbundle: Option<PathBuf>,
    /// Use `https://<Host>/auth/token` as realm.
    #[serde(default)]
    pub autoredirect: bool,
}

/// The `[auth]` section.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSection {
    /// `token` turns token auth on; anything else (or nothing) means no auth.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// Token options.
    #[serde(default)]
    pub options: AuthOptions,
}

/// The `[logging]` section.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoggingSection {
    /// Filter directive (`info`, `debug`, `signet_server=debug,info`).
    pub level: Option<String>,
    /// `text` or `json`.
    pub format: Option<String>,
}

/// The `[notary_signer]` section: a Go notary-signer database to import keys from or export
/// them to. Its `Debug` output hides the passphrases and the database password.
#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotarySignerSection {
    /// Its database URL (`postgres://…` or `mysql://…`).
    pub database_url: Option<String>,
    /// Passphrases by alias; the environment variable `NOTARY_SIGNER_<ALIAS>` wins.
    #[serde(default)]
    pub passphrases: BTreeMap<String, String>,
}

impl std::fmt::Debug for NotarySignerSection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NotarySignerSection")
            .field(
                "database_url",
                &self.database_url.as_deref().map(redact_url),
            )
            .field("passphrase_aliases", &self.passphrases.keys())
            .finish()
    }
}

/// The resolved `[notary_signer]` settings. Its `Debug` output hides the passphrases and the
/// database password.
#[derive(Clone, Default)]
pub struct NotarySignerSettings {
    /// The notary-signer database URL from the file, if any.
    pub database_url: Option<String>,
    /// Passphrases by alias from the file.
    pub passphrases: BTreeMap<String, Zeroizing<String>>,
}

impl std::fmt::Debug for NotarySignerSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NotarySignerSettings")
            .field(
                "database_url",
                &self.database_url.as_deref().map(redact_url),
            )
            .field("passphrase_aliases", &self.passphrases.keys())
            .finish()
    }
}

/// The configuration file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// `[server]`.
    #[serde(default)]
    pub server: ServerSection,
    /// `[storage]`.
    #[serde(default)]
    pub storage: StorageSection,
    /// `[keys]`.
    #[serde(default)]
    pub keys: KeysSection,
    /// `[caching]`.
    #[serde(default)]
    pub caching: CachingSection,
    /// `[repositories]`.
    #[serde(default)]
    pub repositories: RepositoriesSection,
    /// `[auth]`.
    #[serde(default)]
    pub auth: AuthSection,
    /// `[ui]`.
    #[serde(default)]
    pub ui: UiSection,
    /// `[logging]`.
    #[serde(default)]
    pub logging: LoggingSection,
    /// `[notary_signer]`.
    #[serde(default)]
    pub notary_signer: NotarySignerSection,
    /// Directory for the default SQLite database and key-encryption key.
    pub data_dir: Option<PathBuf>,
}

/// Settings from flags or the environment; each overrides the file.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `--listen` / `SIGNET_SERVER_LISTEN`.
    pub listen: Option<String>,
    /// `--database-url` / `SIGNET_SERVER_DATABASE_URL`.
    pub database_url: Option<String>,
    /// `--data-dir` / `SIGNET_SERVER_DATA_DIR`.
    pub data_dir: Option<PathBuf>,
    /// `--kek-file` / `SIGNET_SERVER_KEK_FILE`.
    pub kek_file: Option<PathBuf>,
    /// `--key-algorithm` / `SIGNET_SERVER_KEY_ALGORITHM`.
    pub key_algorithm: Option<String>,
    /// `--key-store` / `SIGNET_SERVER_KEY_STORE`.
    pub key_store: Option<String>,
    /// `--yubihsm-connector` / `SIGNET_SERVER_YUBIHSM_CONNECTOR`.
    pub yubihsm_connector: Option<String>,
    /// `--yubihsm-auth-key` / `SIGNET_SERVER_YUBIHSM_AUTH_KEY`.
    pub yubihsm_auth_key_id: Option<u16>,
    /// `--yubihsm-password-file` / `SIGNET_SERVER_YUBIHSM_PASSWORD_FILE`.
    pub yubihsm_password_file: Option<PathBuf>,
    /// `--tls-cert` / `SIGNET_SERVER_TLS_CERT`.
    pub tls_cert_file: Option<PathBuf>,
    /// `--tls-key` / `SIGNET_SERVER_TLS_KEY`.
    pub tls_key_file: Option<PathBuf>,
    /// `--client-ca` / `SIGNET_SERVER_CLIENT_CA`.
    pub client_ca_file: Option<PathBuf>,
    /// `--log-level` / `SIGNET_SERVER_LOG_LEVEL`.
    pub log_level: Option<String>,
    /// `--log-format` / `SIGNET_SERVER_LOG_FORMAT`.
    pub log_format: Option<String>,
    /// `--max-body-bytes` / `SIGNET_SERVER_MAX_BODY_BYTES`.
    pub max_body_bytes: Option<usize>,
    /// `--gun-prefix` (repeatable) / `SIGNET_SERVER_GUN_PREFIXES` (comma-separated).
    pub gun_prefixes: Vec<String>,
    /// `--ui` / `SIGNET_SERVER_UI`: serve the web view at `/ui/`.
    pub ui_enabled: Option<bool>,
}

/// TLS settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSettings {
    /// Certificate chain file.
    pub cert_file: PathBuf,
    /// Private key file.
    pub key_file: PathBuf,
    /// Client CA bundle; when set, client certificates are required.
    pub client_ca_file: Option<PathBuf>,
}

/// Token auth settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthSettings {
    /// Realm, service, issuer and redirect flag.
    pub token: crate::auth::TokenAuthSettings,
    /// The root certificate bundle file.
    pub root_cert_bundle: PathBuf,
}

/// The resolved configuration. Its `Debug` output hides the database password.
#[derive(Clone)]
pub struct Config {
    /// Listen address.
    pub listen: SocketAddr,
    /// TLS, when configured.
    pub tls: Option<TlsSettings>,
    /// Database URL.
    pub database_url: String,
    /// Pool size.
    pub max_connections: u32,
    /// Apply migrations at start-up.
    pub auto_migrate: bool,
    /// Key-encryption key file.
    pub kek_file: PathBuf,
    /// Which of the database and the key-encryption key are the built-in local defaults.
    pub local_defaults: LocalDefaults,
    /// Algorithm of server-created keys.
    pub key_algorithm: ServerKeyAlgorithm,
    /// Where new server keys are generated and held.
    pub key_store: NewKeyStore,
    /// The YubiHSM 2 for server keys, when configured.
    pub yubihsm: Option<YubiHsmSettings>,
    /// HTTP settings.
    pub http: crate::http::HttpSettings,
    /// Cache settings.
    pub cache: crate::cache::CacheSettings,
    /// Changefeed poll interval for cache invalidation.
    pub poll_interval: std::time::Duration,
    /// Token auth, when configured.
    pub auth: Option<AuthSettings>,
    /// Log filter.
    pub log_level: String,
    /// Log as JSON lines.
    pub log_json: bool,
    /// Shutdown grace period.
    pub shutdown_grace: std::time::Duration,
    /// Connection limits of the listener.
    pub connections: crate::listener::ConnectionSettings,
    /// The data directory used for defaults.
    pub data_dir: PathBuf,
    /// The `[notary_signer]` settings (import and export of notary-signer keys).
    pub notary_signer: NotarySignerSettings,
}

/// The listener's connection limits from the `[server]` section (defaults for what is unset;
/// at least one connection and one second).
fn connection_settings(
    max_connections: Option<usize>,
    header_read_timeout_secs: Option<u64>,
) -> crate::listener::ConnectionSettings {
    let mut c = crate::listener::ConnectionSettings::default();
    if let Some(n) = max_connections {
        c.max_connections = n.max(1);
    }
    if let Some(s) = header_read_timeout_secs {
        c.header_read_timeout = std::time::Duration::from_secs(s.max(1));
    }
    c
}

/// A database URL with any password replaced by `***`, for logs and `Debug` output.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let mut out = format!("{scheme}://");
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split_once(':').map_or(userinfo, |(u, _)| u);
            let hidden = if userinfo.contains(':') { ":***" } else { "" };
            out.push_str(&format!("{user}{hidden}@{host}"));
        }
        None => out.push_str(authority),
    }
    // A password may also come as a query parameter.
    match tail.split_once('?') {
        Some((path, query)) => {
            let query: Vec<String> = query
                .split('&')
                .map(|kv| match kv.split_once('=') {
                    Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                    _ => kv.to_owned(),
                })
                .collect();
            out.push_str(&format!("{path}?{}", query.join("&")));
        }
        None => out.push_str(tail),
    }
    out
}

impl std::fmt::Debug for StorageSection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StorageSection")
            .field("url", &self.url.as_deref().map(redact_url))
            .field("max_connections", &self.max_connections)
            .field("auto_migrate", &self.auto_migrate)
            .finish()
    }
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("listen", &self.listen)
            .field("tls", &self.tls)
            .field("database_url", &redact_url(&self.database_url))
            .field("max_connections", &self.max_connections)
            .field("auto_migrate", &self.auto_migrate)
            .field("kek_file", &self.kek_file)
            .field("local_defaults", &self.local_defaults)
            .field("key_algorithm", &self.key_algorithm)
            .field("key_store", &self.key_store)
            .field("yubihsm", &self.yubihsm)
            .field("http", &self.http)
            .field("cache", &self.cache)
            .field("poll_interval", &self.poll_interval)
            .field("auth", &self.auth)
            .field("log_level", &self.log_level)
            .field("log_json", &self.log_json)
            .field("shutdown_grace", &self.shutdown_grace)
            .field("connections", &self.connections)
            .field("data_dir", &self.data_dir)
            .field("notary_signer", &self.notary_signer)
            .finish()
    }
}

/// The `[keys.yubihsm]` settings given on the command line or in the environment.
struct YubiHsmOverrides {
    connector: Option<String>,
    auth_key_id: Option<u16>,
    password_file: Option<PathBuf>,
}

/// Resolves `[keys.yubihsm]` and its overrides; `None` when neither configures a device.
fn yubihsm_settings(
    section: Option<YubiHsmSection>,
    o: YubiHsmOverrides,
    base: Option<&Path>,
) -> Result<Option<YubiHsmSettings>, ConfigError> {
    if section.is_none()
        && o.connector.is_none()
        && o.auth_key_id.is_none()
        && o.password_file.is_none()
    {
        return Ok(None);
    }
    let section = section.unwrap_or_default();
    let connector_text = o
        .connector
        .or(section.connector)
        .unwrap_or_else(|| "http://127.0.0.1:12345".to_owned());
    let connector: signet_signer::yubihsm::ConnectorConfig =
        connector_text.parse().map_err(|e| ConfigError::Invalid {
            key: "keys.yubihsm.connector",
            message: format!("{connector_text:?}: {e}"),
        })?;
    if !matches!(
        connector,
        signet_signer::yubihsm::ConnectorConfig::Http { .. }
    ) {
        return Err(ConfigError::Invalid {
            key: "keys.yubihsm.connector",
            message: format!(
                "{connector_text:?}: signet-server reaches the device through yubihsm-connector \
                 (http://<host>:<port>)"
            ),
        });
    }
    let auth_key_id = o
        .auth_key_id
        .or(section.auth_key_id)
        .unwrap_or(signet_signer::yubihsm::DEFAULT_AUTH_KEY_ID);
    if auth_key_id == 0 {
        return Err(ConfigError::Invalid {
            key: "keys.yubihsm.auth_key_id",
            message: "0: expected an object ID from 1 to 65535".into(),
        });
    }
    let domain = section
        .domain
        .unwrap_or(signet_signer::yubihsm::DEFAULT_DOMAIN);
    if !(1..=16).contains(&domain) {
        return Err(ConfigError::Invalid {
            key: "keys.yubihsm.domain",
            message: format!("{domain}: expected a domain from 1 to 16"),
        });
    }
    let password = match o
        .password_file
        .or_else(|| section.password_file.map(|p| resolve(base, p)))
    {
        Some(file) => PasswordSource::File(file),
        None => {
            let name = section
                .password_env
                .filter(|n| !n.trim().is_empty())
                .unwrap_or_else(|| DEFAULT_YUBIHSM_PASSWORD_ENV.to_owned());
            PasswordSource::Env(name)
        }
    };
    Ok(Some(YubiHsmSettings {
        connector,
        auth_key_id,
        password,
        domain,
        exportable_under_wrap: section.exportable_under_wrap.unwrap_or(false),
    }))
}

/// The data directory when none is configured: `$XDG_DATA_HOME/signet-server`, or
/// `./signet-data`.
pub fn default_data_dir() -> PathBuf {
    match std::env::var_os("XDG_DATA_HOME") {
        Some(d) if !d.is_empty() => PathBuf::from(d).join("signet-server"),
        _ => PathBuf::from("signet-data"),
    }
}

fn resolve(base: Option<&Path>, p: PathBuf) -> PathBuf {
    match base {
        Some(b) if p.is_relative() => b.join(p),
        _ => p,
    }
}

/// Which settings fall back to the built-in local defaults under the data directory: these
/// are for trying the server out, and the server says so loudly.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LocalDefaults {
    /// No `[storage] url`: the SQLite database under the data directory.
    pub database: bool,
    /// No `[keys] kek_file`: the key-encryption key under the data directory.
    pub kek: bool,
}

impl LocalDefaults {
    /// Whether anything is defaulted.
    #[must_use]
    pub fn any(self) -> bool {
        self.database || self.kek
    }

    /// What is defaulted, in words, and the settings that replace it (`None` when nothing
    /// is): only what really is defaulted is named.
    #[must_use]
    pub fn describe(self, config: &Config) -> Option<String> {
        let database = format!("the SQLite database under {}", config.data_dir.display());
        let kek = format!("the key-encryption key {}", config.kek_file.display());
        let (what, settings) = match (self.database, self.kek) {
            (true, true) => (
                format!("{database} and {kek}"),
                "[storage] url and [keys] kek_file",
            ),
            (true, false) => (database, "[storage] url"),
            (false, true) => (kek, "[keys] kek_file"),
            (false, false) => return None,
        };
        Some(format!(
            "LOCAL DEFAULTS: {what}. This is for trying signet-server out only: \
             configure {settings} for real use."
        ))
    }
}

/// The URL of the built-in local SQLite database under `data_dir`.
fn local_database_url(data_dir: &Path) -> String {
    format!("sqlite://{}?mode=rwc", data_dir.join("signet.db").display())
}

impl Config {
    /// Whether the database is the built-in local SQLite one (no `storage.url` configured).
    #[must_use]
    pub fn uses_local_database(&self) -> bool {
        self.local_defaults.database
    }

    /// Reads `path` (if given) and applies `overrides`.
    pub fn load(path: Option<&Path>, overrides: Overrides) -> Result<Self, ConfigError> {
        let (file, base) = match path {
            Some(p) => {
                let text = std::fs::read_to_string(p).map_err(|source| ConfigError::Read {
                    path: p.to_owned(),
                    source,
                })?;
                let file: FileConfig = toml::from_str(&text).map_err(|e| ConfigError::Parse {
                    path: p.to_owned(),
                    message: e.to_string(),
                })?;
                (file, p.parent().map(Path::to_owned))
            }
            None => (FileConfig::default(), None),
        };
        Self::resolve(file, base.as_deref(), overrides)
    }

    /// Combines a parsed file (paths relative to `base`) with overrides.
    pub fn resolve(
        file: FileConfig,
        base: Option<&Path>,
        o: Overrides,
    ) -> Result<Self, ConfigError> {
        let path = |p: Option<PathBuf>| p.map(|p| resolve(base, p));
        let data_dir = o
            .data_dir
            .or_else(|| path(file.data_dir.clone()))
            .unwrap_or_else(default_data_dir);
        let listen_text = o
            .listen
            .or(file.server.listen)
            .unwrap_or_else(|| "127.0.0.1:4443".to_owned());
        let listen: SocketAddr = listen_text.parse().map_err(|e| ConfigError::Invalid {
            key: "server.listen",
            message: format!("{listen_text:?}: {e}"),
        })?;
        let explicit_db = o.database_url.or(file.storage.url);
        let explicit_kek = o.kek_file.or_else(|| path(file.keys.kek_file));
        let local_defaults = LocalDefaults {
            database: explicit_db.is_none(),
            kek: explicit_kek.is_none(),
        };
        let database_url = explicit_db.unwrap_or_else(|| local_database_url(&data_dir));
        let kek_file = explicit_kek.unwrap_or_else(|| data_dir.join("kek"));
        let alg = o
            .key_algorithm
            .or(file.keys.algorithm)
            .unwrap_or_else(|| "ecdsa".to_owned());
        let key_algorithm = match alg.as_str() {
            "ecdsa" => ServerKeyAlgorithm::Ecdsa,
            "ed25519" => ServerKeyAlgorithm::Ed25519,
            other => {
                return Err(ConfigError::Invalid {
                    key: "keys.algorithm",
                    message: format!("{other:?}: expected ecdsa or ed25519"),
                });
            }
        };
        let key_store = match o.key_store.or(file.keys.store).as_deref().map(str::trim) {
            None | Some("sealed") => NewKeyStore::Sealed,
            Some("yubihsm") => NewKeyStore::YubiHsm,
            Some(other) => {
                return Err(ConfigError::Invalid {
                    key: "keys.store",
                    message: format!("{other:?}: expected sealed or yubihsm"),
                });
            }
        };
        let yubihsm = yubihsm_settings(
            file.keys.yubihsm,
            YubiHsmOverrides {
                connector: o.yubihsm_connector,
                auth_key_id: o.yubihsm_auth_key_id,
                password_file: o.yubihsm_password_file,
            },
            base,
        )?;
        if key_store == NewKeyStore::YubiHsm && yubihsm.is_none() {
            return Err(ConfigError::Invalid {
                key: "keys.yubihsm",
                message: "keys.store = \"yubihsm\" needs a [keys.yubihsm] section (or \
                          --yubihsm-connector)"
                    .into(),
            });
        }
        let cert = o.tls_cert_file.or_else(|| path(file.server.tls_cert_file));
        let key = o.tls_key_file.or_else(|| path(file.server.tls_key_file));
        let client_ca = o
            .client_ca_file
            .or_else(|| path(file.server.client_ca_file));
        let tls = match (cert, key) {
            (Some(cert_file), Some(key_file)) => Some(TlsSettings {
                cert_file,
                key_file,
                client_ca_file: client_ca,
            }),
            (None, None) if client_ca.is_none() => None,
            _ => {
                return Err(ConfigError::Invalid {
                    key: "server.tls_cert_file",
                    message: "TLS needs both a certificate and a key file \
                              (and a client CA only with them)"
                        .into(),
                });
            }
        };
        let mut http = crate::http::HttpSettings::default();
        if let Some(n) = o.max_body_bytes.or(file.server.max_body_bytes) {
            http.max_body_bytes = n;
        }
        if let Some(s) = file.server.request_timeout_secs {
            http.request_timeout = std::time::Duration::from_secs(s.max(1));
        }
        for (key, v, slot) in [
            (
                "caching.max_age.current_metadata",
                file.caching.max_age.current_metadata,
                &mut http.current_max_age,
            ),
            (
                "caching.max_age.consistent_metadata",
                file.caching.max_age.consistent_metadata,
                &mut http.consistent_max_age,
            ),
        ] {
            if let Some(v) = v {
                if v > 31_536_000 {
                    return Err(ConfigError::Invalid {
                        key,
                        message: format!("{v} is above 31536000"),
                    });
                }
                *slot = v;
            }
        }
        let prefixes = if o.gun_prefixes.is_empty() {
            file.repositories.gun_prefixes
        } else {
            o.gun_prefixes
        };
        for p in &prefixes {
            if !signet_tuf::notary::gun::is_valid_gun_prefix(p) {
                return Err(ConfigError::Invalid {
                    key: "repositories.gun_prefixes",
                    message: format!(
                        "{p:?}: a prefix must end in '/', must not start with '/' or '..', \
                         and must be a clean path"
                    ),
                });
            }
        }
        http.gun_prefixes = prefixes;
        http.ui_enabled = o.ui_enabled.or(file.ui.enabled).unwrap_or(false);
        let mut cache = crate::cache::CacheSettings::default();
        if let Some(n) = file.caching.memory_bytes {
            cache.max_bytes = n;
        }
        if let Some(ms) = file.caching.current_ttl_ms {
            cache.current_ttl = std::time::Duration::from_millis(ms);
        }
        let poll_interval =
            std::time::Duration::from_millis(file.caching.poll_interval_ms.unwrap_or(1000).max(50));
        let auth = match file.auth.kind.as_deref() {
            Some("token") => {
                let opts = file.auth.options;
                let need = |v: Option<String>, key: &'static str| {
                    v.filter(|s| !s.is_empty()).ok_or(ConfigError::Invalid {
                        key,
                        message: "required for token auth".into(),
                    })
                };
                Some(AuthSettings {
                    token: crate::auth::TokenAuthSettings {
                        realm: need(opts.realm, "auth.options.realm")?,
                        service: need(opts.service, "auth.options.service")?,
                        issuer: need(opts.issuer, "auth.options.issuer")?,
                        autoredirect: opts.autoredirect,
                    },
                    root_cert_bundle: path(opts.rootcertbundle).ok_or(ConfigError::Invalid {
                        key: "auth.options.rootcertbundle",
                        message: "required for token auth".into(),
                    })?,
                })
            }
            _ => None,
        };
        let log_format = o
            .log_format
            .or(file.logging.format)
            .unwrap_or_else(|| "text".into());
        let log_json = match log_format.as_str() {
            "text" => false,
            "json" => true,
            other => {
                return Err(ConfigError::Invalid {
                    key: "logging.format",
                    message: format!("{other:?}: expected text or json"),
                });
            }
        };
        Ok(Self {
            listen,
            tls,
            database_url,
            max_connections: file.storage.max_connections.unwrap_or(10).max(1),
            auto_migrate: file.storage.auto_migrate.unwrap_or(true),
            kek_file,
            local_defaults,
            key_algorithm,
            key_store,
            yubihsm,
            http,
            cache,
            poll_interval,
            auth,
            log_level: o
                .log_level
                .or(file.logging.level)
                .unwrap_or_else(|| "info".into()),
            log_json,
            shutdown_grace: std::time::Duration::from_secs(
                file.server.shutdown_grace_secs.unwrap_or(30),
            ),
            connections: connection_settings(
                file.server.max_connections,
                file.server.header_read_timeout_secs,
            ),
            data_dir,
            notary_signer: NotarySignerSettings {
                database_url: file.notary_signer.database_url,
                passphrases: file
                    .notary_signer
                    .passphrases
                    .into_iter()
                    .map(|(alias, p)| (alias, Zeroizing::new(p)))
                    .collect(),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_local() {
        let c = Config::resolve(
            FileConfig::default(),
            None,
            Overrides {
                data_dir: Some("d".into()),
                ..Overrides::default()
            },
        )
        .unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:4443");
        assert_eq!(c.database_url, "sqlite://d/signet.db?mode=rwc");
        assert_eq!(c.kek_file, PathBuf::from("d/kek"));
        assert!(c.local_defaults.database && c.local_defaults.kek);
        assert!(c.uses_local_database());
        assert!(c.tls.is_none());
        assert!(c.auth.is_none());
        assert_eq!(c.key_algorithm, ServerKeyAlgorithm::Ecdsa);
        assert_eq!(c.http.current_max_age, 300);
        assert_eq!(c.http.consistent_max_age, 2_592_000);
    }

    #[test]
    fn web_view_is_off_unless_enabled() {
        let resolve = |file: &str, flag: Option<bool>| {
            let file: FileConfig = toml::from_str(file).unwrap();
            Config::resolve(
                file,
                None,
                Overrides {
                    data_dir: Some("d".into()),
                    ui_enabled: flag,
                    ..Overrides::default()
                },
            )
            .unwrap()
            .http
            .ui_enabled
        };
        assert!(!resolve("", None));
        assert!(resolve("[ui]\nenabled = true", None));
        assert!(!resolve("[ui]\nenabled = true", Some(false)));
        assert!(resolve("[ui]\nenabled = false", Some(true)));
        assert!(toml::from_str::<FileConfig>("[ui]\nenable = true").is_err());
    }

    #[test]
    fn local_defaults_name_only_what_is_defaulted() {
        let with = |url: Option<&str>, kek: Option<&str>| {
            Config::resolve(
                FileConfig::default(),
                None,
                Overrides {
                    data_dir: Some("d".into()),
                    database_url: url.map(str::to_owned),
                    kek_file: kek.map(PathBuf::from),
                    ..Overrides::default()
                },
            )
            .unwrap()
        };
        let c = with(Some("postgres://db:5432/signet"), None);
        let text = c.local_defaults.describe(&c).unwrap();
        assert_eq!(
            text,
            "LOCAL DEFAULTS: the key-encryption key d/kek. This is for trying \
             signet-server out only: configure [keys] kek_file for real use."
        );
        assert!(!text.contains("SQLite"));
        let c = with(None, Some("/etc/kek"));
        let text = c.local_defaults.describe(&c).unwrap();
        assert!(text.contains("the SQLite database under d."), "{text}");
        assert!(!text.contains("key-encryption"), "{text}");
        let c = with(None, None);
        let text = c.local_defaults.describe(&c).unwrap();
        assert!(text.contains("SQLite database under d and the key-encryption key d/kek"));
        let c = with(Some("postgres://db/signet"), Some("/etc/kek"));
        assert_eq!(c.local_defaults.describe(&c), None);
    }

    #[test]
    fn file_and_overrides() {
        let file: FileConfig = toml::from_str(
            r#"
            [server]
            listen = "0.0.0.0:9000"
            tls_cert_file = "c.pem"
            tls_key_file = "k.pem"
            [storage]
            url = "postgres://x/y"
            [keys]
            kek_file = "kek"
            algorithm = "ed25519"
            [caching.max_age]
            current_metadata = 0
            [repositories]
            gun_prefixes = ["docker.io/"]
            [auth]
            type = "token"
            [auth.options]
            realm = "r"
            service = "s"
            issuer = "i"
            rootcertbundle = "ca.pem"
            "#,
        )
        .unwrap();
        let c = Config::resolve(
            file,
            Some(Path::new("/etc/signet")),
            Overrides {
                listen: Some("127.0.0.1:1".into()),
                ..Overrides::default()
            },
        )
        .unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:1");
        assert!(!c.local_defaults.any());
        assert!(!c.uses_local_database());
        assert_eq!(c.kek_file, PathBuf::from("/etc/signet/kek"));
        assert_eq!(c.tls.unwrap().cert_file, PathBuf::from("/etc/signet/c.pem"));
        assert_eq!(c.key_algorithm, ServerKeyAlgorithm::Ed25519);
        assert_eq!(c.http.current_max_age, 0);
        assert_eq!(c.http.gun_prefixes, vec!["docker.io/".to_owned()]);
        let auth = c.auth.unwrap();
        assert_eq!(auth.root_cert_bundle, PathBuf::from("/etc/signet/ca.pem"));
        assert_eq!(auth.token.service, "s");
    }

    #[test]
    fn debug_output_hides_database_passwords() {
        assert_eq!(
            redact_url("postgres://notary:s3cret@db:5432/notary?sslmode=require"),
            "postgres://notary:***@db:5432/notary?sslmode=require"
        );
        assert_eq!(
            redact_url("postgres://db/notary?user=n&password=s3cret"),
            "postgres://db/notary?user=n&password=***"
        );
        assert_eq!(
            redact_url("postgres://notary@db/x"),
            "postgres://notary@db/x"
        );
        assert_eq!(
            redact_url("sqlite:///var/lib/s.db?mode=rwc"),
            "sqlite:///var/lib/s.db?mode=rwc"
        );
        let file: FileConfig =
            toml::from_str("[storage]\nurl = \"postgres://u:s3cret@h/d\"").unwrap();
        assert!(!format!("{file:?}").contains("s3cret"));
        let c = Config::resolve(file, None, Overrides::default()).unwrap();
        assert_eq!(c.database_url, "postgres://u:s3cret@h/d");
        assert!(!format!("{c:?}").contains("s3cret"));
    }

    #[test]
    fn notary_signer_section() {
        let file: FileConfig = toml::from_str(
            r#"
            [notary_signer]
            database_url = "mysql://signer:dbpw@db/notarysigner"
            passphrases = { alias1 = "s3cret", "other.alias" = "x" }
            "#,
        )
        .unwrap();
        assert!(!format!("{file:?}").contains("s3cret"));
        assert!(!format!("{file:?}").contains("dbpw"));
        let c = Config::resolve(file, None, Overrides::default()).unwrap();
        let n = &c.notary_signer;
        assert_eq!(
            n.database_url.as_deref(),
            Some("mysql://signer:dbpw@db/notarysigner")
        );
        assert_eq!(n.passphrases["alias1"].as_str(), "s3cret");
        assert_eq!(n.passphrases["other.alias"].as_str(), "x");
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("s3cret") && !dbg.contains("dbpw"), "{dbg}");
        assert!(dbg.contains("alias1"), "{dbg}");
        assert!(toml::from_str::<FileConfig>("[notary_signer]\nalias = \"x\"").is_err());
    }

    #[test]
    fn yubihsm_settings() {
        let c = Config::resolve(FileConfig::default(), None, Overrides::default()).unwrap();
        assert_eq!(c.key_store, NewKeyStore::Sealed);
        assert!(c.yubihsm.is_none());

        let file: FileConfig = toml::from_str(
            r#"
            [keys]
            store = "yubihsm"
            [keys.yubihsm]
            connector = "http://hsm.internal:12345"
            auth_key_id = 0x10
            password_file = "hsm-password"
            domain = 3
            "#,
        )
        .unwrap();
        let c =
            Config::resolve(file, Some(Path::new("/etc/signet")), Overrides::default()).unwrap();
        assert_eq!(c.key_store, NewKeyStore::YubiHsm);
        let h = c.yubihsm.unwrap();
        assert_eq!(h.connector.to_string(), "http://hsm.internal:12345");
        assert_eq!(h.auth_key_id, 16);
        assert_eq!(h.domain, 3);
        assert!(!h.exportable_under_wrap);
        assert_eq!(
            h.password,
            PasswordSource::File(PathBuf::from("/etc/signet/hsm-password"))
        );

        // Flags and the environment win; the password defaults to the environment.
        let c = Config::resolve(
            FileConfig::default(),
            None,
            Overrides {
                key_store: Some("yubihsm".into()),
                yubihsm_connector: Some("http://10.0.0.5:1234".into()),
                yubihsm_auth_key_id: Some(2),
                ..Overrides::default()
            },
        )
        .unwrap();
        let h = c.yubihsm.unwrap();
        assert_eq!(h.connector.to_string(), "http://10.0.0.5:1234");
        assert_eq!(h.auth_key_id, 2);
        assert_eq!(
            h.password,
            PasswordSource::Env(DEFAULT_YUBIHSM_PASSWORD_ENV.to_owned())
        );

        let bad = |toml_text: &str| {
            let file: FileConfig = toml::from_str(toml_text).unwrap();
            Config::resolve(file, None, Overrides::default())
                .unwrap_err()
                .to_string()
        };
        assert!(bad("[keys]\nstore = \"yubihsm\"").contains("keys.yubihsm"));
        assert!(bad("[keys]\nstore = \"hsm\"").contains("keys.store"));
        assert!(bad("[keys.yubihsm]\nconnector = \"usb\"").contains("yubihsm-connector"));
        assert!(bad("[keys.yubihsm]\nconnector = \"https://h:1\"").contains("connector"));
        assert!(bad("[keys.yubihsm]\ndomain = 17").contains("keys.yubihsm.domain"));
        assert!(bad("[keys.yubihsm]\nauth_key_id = 0").contains("auth_key_id"));
        // There is no place for the password itself.
        assert!(toml::from_str::<FileConfig>("[keys.yubihsm]\npassword = \"x\"").is_err());
    }

    #[test]
    fn bad_settings_are_refused() {
        let bad = |toml_text: &str| {
            let file: FileConfig = toml::from_str(toml_text).unwrap();
            Config::resolve(file, None, Overrides::default()).is_err()
        };
        assert!(bad("[server]\ntls_cert_file = \"c\""));
        assert!(bad("[server]\nlisten = \"nowhere\""));
        assert!(bad("[keys]\nalgorithm = \"rsa\""));
        assert!(bad("[repositories]\ngun_prefixes = [\"noslash\"]"));
        assert!(bad("[caching.max_age]\ncurrent_metadata = 99999999"));
        assert!(bad("[auth]\ntype = \"token\""));
        assert!(toml::from_str::<FileConfig>("[server]\nunknown = 1").is_err());
    }
}
