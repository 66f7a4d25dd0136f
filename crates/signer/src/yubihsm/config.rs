//! Where the YubiHSM 2 is and how to authenticate to it.

use std::fmt;

use zeroize::Zeroizing;

use super::error::{Error, Result};

/// Environment variable naming the connector: `http://<host>:<port>` (yubihsm-connector),
/// `usb` or `usb:<serial number>`.
pub const CONNECTOR_ENV: &str = "SIGNET_YUBIHSM_CONNECTOR";
/// Environment variable holding the authentication key's object ID (decimal or `0x` hex).
pub const AUTH_KEY_ENV: &str = "SIGNET_YUBIHSM_AUTH_KEY";
/// Environment variable holding the authentication key's password.
pub const PASSWORD_ENV: &str = "SIGNET_YUBIHSM_PASSWORD";
/// Environment variable holding the domain (1–16) new objects are created in.
pub const DOMAIN_ENV: &str = "SIGNET_YUBIHSM_DOMAIN";
/// Environment variable choosing which new keys go on the device through the
/// [`KeyStore`](crate::KeyStore) trait: `all` or `root` (see [`NewKeyRoles`]).
pub const KEYS_ENV: &str = "SIGNET_YUBIHSM_KEYS";

/// Default address of yubihsm-connector.
pub const DEFAULT_CONNECTOR_ADDR: &str = "127.0.0.1";
/// Default port of yubihsm-connector.
pub const DEFAULT_CONNECTOR_PORT: u16 = 12345;
/// Default object ID of the authentication key (the factory key is 1).
pub const DEFAULT_AUTH_KEY_ID: u16 = 1;
/// Default domain of new objects.
pub const DEFAULT_DOMAIN: u8 = 1;
/// Default timeout of connector requests, in milliseconds.
pub const DEFAULT_TIMEOUT_MS: u64 = 5_000;

/// How to reach the device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectorConfig {
    /// Through Yubico's `yubihsm-connector` daemon over HTTP.
    Http {
        /// Host name or IP address of the connector.
        addr: String,
        /// TCP port of the connector.
        port: u16,
        /// Timeout for connecting, reading and writing, in milliseconds.
        timeout_ms: u64,
    },
    /// Directly over USB (needs the `yubihsm-usb` feature of signet-signer and libusb).
    Usb {
        /// Serial number of the device to use; the first device found when `None`.
        serial: Option<String>,
        /// Timeout of USB transfers, in milliseconds.
        timeout_ms: u64,
    },
}

impl Default for ConnectorConfig {
    /// yubihsm-connector at `http://127.0.0.1:12345`.
    fn default() -> Self {
        Self::Http {
            addr: DEFAULT_CONNECTOR_ADDR.to_owned(),
            port: DEFAULT_CONNECTOR_PORT,
            timeout_ms: DEFAULT_TIMEOUT_MS,
        }
    }
}

impl fmt::Display for ConnectorConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Http { addr, port, .. } if addr.contains(':') => {
                write!(f, "http://[{addr}]:{port}")
            }
            Self::Http { addr, port, .. } => write!(f, "http://{addr}:{port}"),
            Self::Usb { serial: None, .. } => f.write_str("usb"),
            Self::Usb {
                serial: Some(serial),
                ..
            } => write!(f, "usb:{serial}"),
        }
    }
}

impl std::str::FromStr for ConnectorConfig {
    type Err = Error;

    /// Parses `http://<host>[:<port>]`, `<host>:<port>`, `usb` or `usb:<serial>`.
    fn from_str(s: &str) -> Result<Self> {
        let invalid = |reason: &str| Error::Config {
            setting: CONNECTOR_ENV.to_owned(),
            value: s.to_owned(),
            reason: reason.to_owned(),
        };
        let trimmed = s.trim();
        if trimmed == "usb" {
            return Ok(Self::Usb {
                serial: None,
                timeout_ms: DEFAULT_TIMEOUT_MS * 6,
            });
        }
        if let Some(serial) = trimmed.strip_prefix("usb:") {
            if serial.is_empty() || !serial.bytes().all(|b| b.is_ascii_digit()) {
                return Err(invalid("a USB serial number is decimal digits"));
            }
            return Ok(Self::Usb {
                serial: Some(serial.to_owned()),
                timeout_ms: DEFAULT_TIMEOUT_MS * 6,
            });
        }
        if trimmed.starts_with("https://") {
            return Err(invalid("yubihsm-connector is reached over plain http://"));
        }
        let rest = trimmed.strip_prefix("http://").unwrap_or(trimmed);
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        let (addr, port) = match rest.rsplit_once(':') {
            Some((addr, port)) if !addr.contains(':') || addr.ends_with(']') => (
                addr,
                port.parse::<u16>()
                    .map_err(|_| invalid("the port is not a number from 1 to 65535"))?,
            ),
            _ => (rest, DEFAULT_CONNECTOR_PORT),
        };
        let addr = addr.trim_start_matches('[').trim_end_matches(']');
        if addr.is_empty() || port == 0 || addr.contains(['/', '?', '#', '@', ' ']) {
            return Err(invalid(
                "expected http://<host>:<port>, usb or usb:<serial>",
            ));
        }
        Ok(Self::Http {
            addr: addr.to_owned(),
            port,
            timeout_ms: DEFAULT_TIMEOUT_MS,
        })
    }
}

/// Which new keys a [`YubiHsmKeyStore`](super::YubiHsmKeyStore) takes when it is asked to
/// generate or store one through the [`KeyStore`](crate::KeyStore) trait (for example by
/// [`CryptoService::create`](crate::CryptoService::create), which moves on to the next store
/// when one refuses).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NewKeyRoles {
    /// Keys of every role.
    #[default]
    All,
    /// Root keys only, as Notary's hardware store did; other keys go to the next store.
    Root,
}

impl NewKeyRoles {
    /// Whether a new key of `role` goes on the device.
    pub fn accepts(self, role: &str) -> bool {
        match self {
            Self::All => true,
            Self::Root => role == "root",
        }
    }
}

impl fmt::Display for NewKeyRoles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::All => "all",
            Self::Root => "root",
        })
    }
}

impl std::str::FromStr for NewKeyRoles {
    type Err = Error;

    /// Parses `all` or `root` (any case).
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "all" => Ok(Self::All),
            "root" => Ok(Self::Root),
            _ => Err(Error::Config {
                setting: KEYS_ENV.to_owned(),
                value: s.to_owned(),
                reason: "expected 'root' (new root keys only) or 'all' (every new key)".to_owned(),
            }),
        }
    }
}

/// Connection settings of a YubiHSM 2 key store: connector, credentials, domain.
///
/// The password is held in a zeroizing buffer and never shown by `Debug`.
#[derive(Clone)]
pub struct YubiHsmConfig {
    /// How to reach the device.
    pub connector: ConnectorConfig,
    /// Object ID of the authentication key the session is opened with.
    pub auth_key_id: u16,
    /// Domain (1–16) keys and metadata objects are created in.
    pub domain: u8,
    /// Which new keys the store takes through the [`KeyStore`](crate::KeyStore) trait.
    pub new_keys: NewKeyRoles,
    password: Zeroizing<String>,
}

impl fmt::Debug for YubiHsmConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("YubiHsmConfig")
            .field("connector", &self.connector)
            .field("auth_key_id", &self.auth_key_id)
            .field("domain", &self.domain)
            .field("new_keys", &self.new_keys)
            .field("password", &"<redacted>")
            .finish()
    }
}

impl YubiHsmConfig {
    /// Settings for authentication key `auth_key_id` with `password`, the default connector
    /// (`http://127.0.0.1:12345`) and domain 1.
    pub fn new(auth_key_id: u16, password: impl Into<String>) -> Self {
        Self {
            connector: ConnectorConfig::default(),
            auth_key_id,
            domain: DEFAULT_DOMAIN,
            new_keys: NewKeyRoles::default(),
            password: Zeroizing::new(password.into()),
        }
    }

    /// Replaces the connector.
    #[must_use]
    pub fn with_connector(mut self, connector: ConnectorConfig) -> Self {
        self.connector = connector;
        self
    }

    /// Replaces the domain new objects are created in.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] unless `domain` is 1–16.
    pub fn with_domain(mut self, domain: u8) -> Result<Self> {
        self.domain = parse_domain(&domain.to_string())?;
        Ok(self)
    }

    /// The password of the authentication key.
    pub(crate) fn password(&self) -> &str {
        &self.password
    }

    /// Settings from `lookup`, which gives the value of each setting by its variable name:
    /// [`CONNECTOR_ENV`], [`AUTH_KEY_ENV`], [`PASSWORD_ENV`] (required), [`DOMAIN_ENV`] and
    /// [`KEYS_ENV`] (default `all`). This is the one parser of the values; where they come
    /// from is the caller's choice (the `signet` CLI resolves them from its `config.json` and
    /// the process environment in `signet_client::config::hardware`, which never reads the
    /// process environment for anything but these variables).
    ///
    /// # Errors
    ///
    /// [`Error::MissingPassword`] when no password is set, [`Error::Config`] for malformed
    /// values.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let auth_key_id = match lookup(AUTH_KEY_ENV).filter(|v| !v.trim().is_empty()) {
            Some(value) => parse_object_id(AUTH_KEY_ENV, &value)?,
            None => DEFAULT_AUTH_KEY_ID,
        };
        let password = Zeroizing::new(lookup(PASSWORD_ENV).ok_or(Error::MissingPassword {
            auth_key_id,
            variable: PASSWORD_ENV,
        })?);
        let connector = match lookup(CONNECTOR_ENV).filter(|v| !v.trim().is_empty()) {
            Some(value) => value.parse()?,
            None => ConnectorConfig::default(),
        };
        let domain = match lookup(DOMAIN_ENV).filter(|v| !v.trim().is_empty()) {
            Some(value) => parse_domain(&value)?,
            None => DEFAULT_DOMAIN,
        };
        let new_keys = match lookup(KEYS_ENV).filter(|v| !v.trim().is_empty()) {
            Some(value) => value.parse()?,
            None => NewKeyRoles::default(),
        };
        Ok(Self {
            connector,
            auth_key_id,
            domain,
            new_keys,
            password,
        })
    }
}

/// Parses an object ID written in decimal or `0x` hex.
fn parse_object_id(setting: &str, value: &str) -> Result<u16> {
    let v = value.trim();
    let parsed = match v.strip_prefix("0x").or_else(|| v.strip_prefix("0X")) {
        Some(hex) => u16::from_str_radix(hex, 16),
        None => v.parse::<u16>(),
    };
    match parsed {
        Ok(id) if id != 0 => Ok(id),
        _ => Err(Error::Config {
            setting: setting.to_owned(),
            value: value.to_owned(),
            reason: "expected an object ID from 1 to 65535 (decimal or 0x hex)".to_owned(),
        }),
    }
}

/// Parses a domain number 1–16.
fn parse_domain(value: &str) -> Result<u8> {
    match value.trim().parse::<u8>() {
        Ok(d) if (1..=16).contains(&d) => Ok(d),
        _ => Err(Error::Config {
            setting: DOMAIN_ENV.to_owned(),
            value: value.to_owned(),
            reason: "expected a domain from 1 to 16".to_owned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn lookup(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn defaults_need_only_a_password() {
        let config = YubiHsmConfig::from_lookup(lookup(&[(PASSWORD_ENV, "secret")])).unwrap();
        assert_eq!(config.auth_key_id, 1);
        assert_eq!(config.domain, 1);
        assert_eq!(config.password(), "secret");
        assert_eq!(config.connector.to_string(), "http://127.0.0.1:12345");
        let shown = format!("{config:?}");
        assert!(!shown.contains("secret"), "{shown}");
    }

    #[test]
    fn missing_password_names_the_variable() {
        let err = YubiHsmConfig::from_lookup(lookup(&[(AUTH_KEY_ENV, "0x0002")])).unwrap_err();
        assert!(matches!(err, Error::MissingPassword { auth_key_id: 2, .. }));
        assert!(err.to_string().contains(PASSWORD_ENV));
    }

    #[test]
    fn parses_every_setting() {
        let config = YubiHsmConfig::from_lookup(lookup(&[
            (PASSWORD_ENV, "pw"),
            (AUTH_KEY_ENV, "3"),
            (DOMAIN_ENV, "16"),
            (CONNECTOR_ENV, "http://hsm.internal:4321/"),
        ]))
        .unwrap();
        assert_eq!(config.auth_key_id, 3);
        assert_eq!(config.domain, 16);
        assert_eq!(config.new_keys, NewKeyRoles::All);
        assert_eq!(
            config.connector,
            ConnectorConfig::Http {
                addr: "hsm.internal".to_owned(),
                port: 4321,
                timeout_ms: DEFAULT_TIMEOUT_MS
            }
        );
    }

    #[test]
    fn new_key_roles() {
        let config =
            YubiHsmConfig::from_lookup(lookup(&[(PASSWORD_ENV, "pw"), (KEYS_ENV, " Root ")]))
                .unwrap();
        assert_eq!(config.new_keys, NewKeyRoles::Root);
        assert!(NewKeyRoles::Root.accepts("root"));
        assert!(!NewKeyRoles::Root.accepts("targets"));
        assert!(NewKeyRoles::All.accepts("targets/releases"));
        let err = YubiHsmConfig::from_lookup(lookup(&[(PASSWORD_ENV, "pw"), (KEYS_ENV, "some")]))
            .unwrap_err();
        assert!(err.to_string().contains(KEYS_ENV), "{err}");
    }

    #[test]
    fn connector_forms() {
        let parse = |s: &str| s.parse::<ConnectorConfig>();
        assert_eq!(
            parse("localhost").unwrap().to_string(),
            "http://localhost:12345"
        );
        assert_eq!(
            parse("10.0.0.1:1").unwrap().to_string(),
            "http://10.0.0.1:1"
        );
        assert_eq!(
            parse("http://[::1]:99").unwrap().to_string(),
            "http://[::1]:99"
        );
        assert_eq!(parse("usb").unwrap().to_string(), "usb");
        assert_eq!(
            parse("usb:0012345678").unwrap().to_string(),
            "usb:0012345678"
        );
        for bad in [
            "https://h:1",
            "http://h:0",
            "http://h:x",
            "usb:abc",
            "http://",
            "h/p",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn rejects_bad_numbers() {
        for (var, value) in [
            (AUTH_KEY_ENV, "0"),
            (AUTH_KEY_ENV, "0xzz"),
            (DOMAIN_ENV, "17"),
        ] {
            let err = YubiHsmConfig::from_lookup(lookup(&[(PASSWORD_ENV, "pw"), (var, value)]))
                .unwrap_err();
            assert!(matches!(err, Error::Config { .. }), "{var}={value}: {err}");
        }
        assert!(YubiHsmConfig::new(1, "pw").with_domain(0).is_err());
        assert_eq!(
            YubiHsmConfig::new(1, "pw").with_domain(5).unwrap().domain,
            5
        );
    }
}
