//! The YubiHSM 2 settings of the `signet` CLI: the one place they are read.
//!
//! A device is used when a connector is configured, in the `yubihsm` object of `config.json`
//! or in the environment (which wins):
//!
//! | `config.json` `yubihsm` | environment | meaning |
//! |---|---|---|
//! | `connector` | `SIGNET_YUBIHSM_CONNECTOR` | `http://<host>:<port>` (yubihsm-connector), `usb`, `usb:<serial>`; `none` turns a configured device off |
//! | `auth_key` | `SIGNET_YUBIHSM_AUTH_KEY` | authentication key object ID (default 1) |
//! | `domain` | `SIGNET_YUBIHSM_DOMAIN` | domain of new keys (default 1) |
//! | `keys` | `SIGNET_YUBIHSM_KEYS` | which new keys go on the device: `root` (default, as notary did with a YubiKey) or `all` |
//! | — | `SIGNET_YUBIHSM_PASSWORD` | the authentication key's password |
//!
//! [`NotaryConfig::load`](super::NotaryConfig::load) keeps the `yubihsm` object of the file it
//! parsed and [`ConfigEnv::from_process`](super::ConfigEnv::from_process) the variables of the
//! environment; [`NotaryConfig::hardware`](super::NotaryConfig::hardware) resolves the two
//! with [`HardwareSettings::resolve`]. Each value is parsed by signet-signer's
//! [`YubiHsmConfig::from_lookup`], so a value means the same everywhere, and a bad one is the
//! device's own configuration error ([`yubihsm::Error::Config`]) naming the setting.
//!
//! The password is not a setting: it is never read from `config.json` and never logged. It is
//! read from `SIGNET_YUBIHSM_PASSWORD` ([`HardwareSettings::env_password`]) only when the
//! device is opened, and handed to [`HardwareSettings::device_config`], whose result redacts it
//! from `Debug`.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;
use signet_signer::yubihsm::{
    self, AUTH_KEY_ENV, CONNECTOR_ENV, ConnectorConfig, DOMAIN_ENV, KEYS_ENV, NewKeyRoles,
    PASSWORD_ENV, YubiHsmConfig,
};
use zeroize::Zeroizing;

/// Name of the `config.json` object holding the device settings.
pub const CONFIG_KEY: &str = "yubihsm";

/// `config.json` field and environment variable of each setting (the password is not one).
pub const SETTINGS: [(&str, &str); 4] = [
    ("connector", CONNECTOR_ENV),
    ("auth_key", AUTH_KEY_ENV),
    ("domain", DOMAIN_ENV),
    ("keys", KEYS_ENV),
];

/// Connector values that turn the device off.
const OFF: [&str; 3] = ["none", "off", ""];

/// The device settings of one command (everything but the password), resolved and checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HardwareSettings {
    /// Where the device is.
    pub connector: ConnectorConfig,
    /// Object ID of the authentication key.
    pub auth_key_id: u16,
    /// Domain new keys are created in.
    pub domain: u8,
    /// Which new keys go on the device.
    pub new_keys: NewKeyRoles,
}

impl HardwareSettings {
    /// The settings from `object` (the `yubihsm` value of `config_file`, when it has one)
    /// overridden by `env` (values by [`SETTINGS`] variable name); `None` when no connector is
    /// configured or the connector is `none`.
    ///
    /// # Errors
    ///
    /// A device configuration error ([`yubihsm::Error::Config`]) naming the setting and why
    /// it is wrong.
    pub fn resolve(
        object: Option<&Value>,
        config_file: &Path,
        env: &BTreeMap<String, String>,
    ) -> signet_signer::Result<Option<Self>> {
        let mut values: BTreeMap<&str, String> = BTreeMap::new();
        if let Some(object) = object {
            let Value::Object(fields) = object else {
                return Err(invalid(
                    config_file,
                    CONFIG_KEY,
                    object,
                    "expected an object",
                ));
            };
            for (field, variable) in SETTINGS {
                let value = match fields.get(field) {
                    None | Some(Value::Null) => continue,
                    Some(Value::String(text)) => text.clone(),
                    Some(Value::Number(n)) if field != "connector" && field != "keys" => {
                        n.to_string()
                    }
                    Some(other) => {
                        return Err(invalid(
                            config_file,
                            &format!("{CONFIG_KEY}.{field}"),
                            other,
                            "expected a string",
                        ));
                    }
                };
                values.insert(variable, value);
            }
        }
        for (_, variable) in SETTINGS {
            if let Some(value) = env.get(variable) {
                values.insert(variable, value.clone());
            }
        }
        let enabled = values
            .get(CONNECTOR_ENV)
            .is_some_and(|c| !OFF.contains(&c.trim().to_ascii_lowercase().as_str()));
        if !enabled {
            return Ok(None);
        }
        values
            .entry(KEYS_ENV)
            .or_insert_with(|| NewKeyRoles::Root.to_string());
        // Every setting is checked now; the password is only needed to open the device.
        let parsed = YubiHsmConfig::from_lookup(|name| {
            if name == PASSWORD_ENV {
                Some(String::new())
            } else {
                values.get(name).cloned()
            }
        })?;
        Ok(Some(Self {
            connector: parsed.connector,
            auth_key_id: parsed.auth_key_id,
            domain: parsed.domain,
            new_keys: parsed.new_keys,
        }))
    }

    /// The password of the authentication key from `SIGNET_YUBIHSM_PASSWORD`, if set (it is
    /// never read from `config.json`).
    pub fn env_password() -> Option<Zeroizing<String>> {
        std::env::var(PASSWORD_ENV).ok().map(Zeroizing::new)
    }

    /// The configuration to open the device with: these settings and `password`.
    ///
    /// # Errors
    ///
    /// [`yubihsm::Error::MissingPassword`] naming `SIGNET_YUBIHSM_PASSWORD` when there is no
    /// password.
    pub fn device_config(
        &self,
        password: Option<Zeroizing<String>>,
    ) -> signet_signer::Result<YubiHsmConfig> {
        let password = password.ok_or(yubihsm::Error::MissingPassword {
            auth_key_id: self.auth_key_id,
            variable: PASSWORD_ENV,
        })?;
        let mut config = YubiHsmConfig::new(self.auth_key_id, password.as_str())
            .with_connector(self.connector.clone())
            .with_domain(self.domain)?;
        config.new_keys = self.new_keys;
        Ok(config)
    }
}

/// The [`SETTINGS`] variables set in the process environment (never the password).
pub(super) fn env_settings() -> BTreeMap<String, String> {
    SETTINGS
        .iter()
        .filter_map(|(_, variable)| {
            let value = std::env::var(variable).ok()?;
            Some(((*variable).to_owned(), value))
        })
        .collect()
}

/// A configuration error for `setting` of `config_file`.
fn invalid(config_file: &Path, setting: &str, value: &Value, reason: &str) -> signet_signer::Error {
    yubihsm::Error::Config {
        setting: format!("{setting} in {}", config_file.display()),
        value: value.to_string(),
        reason: reason.to_owned(),
    }
    .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(
        config: &str,
        env: &[(&str, &str)],
    ) -> signet_signer::Result<Option<HardwareSettings>> {
        let env: BTreeMap<String, String> = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let object = match serde_json::from_str::<Value>(config) {
            Ok(Value::Object(mut map)) => map.remove(CONFIG_KEY),
            _ => None,
        };
        HardwareSettings::resolve(object.as_ref(), Path::new("config.json"), &env)
    }

    fn password(text: &str) -> Option<Zeroizing<String>> {
        Some(Zeroizing::new(text.to_owned()))
    }

    #[test]
    fn off_without_a_connector() {
        assert_eq!(resolve("{}", &[]).unwrap(), None);
        assert_eq!(
            resolve(r#"{"yubihsm": {"auth_key": 2}}"#, &[]).unwrap(),
            None
        );
        assert_eq!(resolve("not json", &[(AUTH_KEY_ENV, "2")]).unwrap(), None);
        // The environment turns a configured device off.
        let config = r#"{"yubihsm": {"connector": "http://127.0.0.1:12345"}}"#;
        assert!(resolve(config, &[]).unwrap().is_some());
        assert_eq!(resolve(config, &[(CONNECTOR_ENV, "none")]).unwrap(), None);
    }

    #[test]
    fn config_file_settings_with_environment_overrides() {
        let config = r#"{"remote_server": {"url": "https://notary.example.com"},
            "yubihsm": {"connector": "hsm.example.com:4321", "auth_key": "0x0002",
                        "domain": 3, "keys": "all"}}"#;
        let settings = resolve(config, &[]).unwrap().unwrap();
        assert_eq!(
            settings.connector.to_string(),
            "http://hsm.example.com:4321"
        );
        assert_eq!(settings.new_keys, NewKeyRoles::All);
        let device = settings.device_config(password("pw")).unwrap();
        assert_eq!((device.auth_key_id, device.domain), (2, 3));
        assert_eq!(device.new_keys, NewKeyRoles::All);

        let settings = resolve(config, &[(CONNECTOR_ENV, "usb"), (KEYS_ENV, "root")])
            .unwrap()
            .unwrap();
        assert_eq!(settings.connector.to_string(), "usb");
        assert_eq!(settings.new_keys, NewKeyRoles::Root);
    }

    #[test]
    fn root_keys_only_by_default() {
        let settings = resolve("{}", &[(CONNECTOR_ENV, "http://127.0.0.1:1")])
            .unwrap()
            .unwrap();
        assert_eq!(settings.new_keys, NewKeyRoles::Root);
        let device = settings.device_config(password("pw")).unwrap();
        assert_eq!((device.auth_key_id, device.domain), (1, 1));
        assert_eq!(device.new_keys, NewKeyRoles::Root);
    }

    #[test]
    fn bad_settings_name_the_setting() {
        for (config, env, named) in [
            (r#"{"yubihsm": "usb"}"#, vec![], "yubihsm in config.json"),
            (r#"{"yubihsm": null}"#, vec![], "yubihsm in config.json"),
            (
                r#"{"yubihsm": {"connector": 12345}}"#,
                vec![],
                "yubihsm.connector in config.json",
            ),
            (
                r#"{"yubihsm": {"connector": "usb", "auth_key": true}}"#,
                vec![],
                "yubihsm.auth_key in config.json",
            ),
            (
                r#"{"yubihsm": {"connector": "usb", "domain": 17}}"#,
                vec![],
                DOMAIN_ENV,
            ),
            ("{}", vec![(CONNECTOR_ENV, "https://h:1")], CONNECTOR_ENV),
            (
                "{}",
                vec![(CONNECTOR_ENV, "usb"), (KEYS_ENV, "targets")],
                KEYS_ENV,
            ),
        ] {
            let err = resolve(config, &env).unwrap_err();
            let text = format!("{err}: {:?}", std::error::Error::source(&err));
            assert!(text.contains(named), "{config} {env:?}: {text}");
        }
    }

    #[test]
    fn a_missing_password_is_refused_when_opening() {
        let settings = resolve("{}", &[(CONNECTOR_ENV, "http://127.0.0.1:1")])
            .unwrap()
            .unwrap();
        let err = settings.device_config(None).unwrap_err();
        let text = format!("{err}: {:?}", std::error::Error::source(&err));
        assert!(text.contains(PASSWORD_ENV), "{text}");
    }

    #[test]
    fn the_password_is_never_shown() {
        let settings = resolve("{}", &[(CONNECTOR_ENV, "usb")]).unwrap().unwrap();
        let device = settings
            .device_config(password("do-not-show-this-password"))
            .unwrap();
        let shown = format!("{settings:?} {device:?}");
        assert!(!shown.contains("do-not-show-this-password"), "{shown}");
    }
}
