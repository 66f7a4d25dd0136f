//! The YubiHSM 2 in front of the trust directory.
//!
//! The device is used when a connector is configured, in the `yubihsm` object of `config.json`
//! or in the environment (which wins):
//!
//! | `config.json` `yubihsm` | environment | meaning |
//! |---|---|---|
//! | `connector` | `SIGNET_YUBIHSM_CONNECTOR` | `http://<host>:<port>` (yubihsm-connector), `usb`, `usb:<serial>`; `none` turns a configured device off |
//! | `auth_key` | `SIGNET_YUBIHSM_AUTH_KEY` | authentication key object ID (default 1) |
//! | `domain` | `SIGNET_YUBIHSM_DOMAIN` | domain of new keys (default 1) |
//! | `keys` | `SIGNET_YUBIHSM_KEYS` | which new keys go on the device: `root` (default, as notary did with a YubiKey) or `all` |
//! | — | `SIGNET_YUBIHSM_PASSWORD` | the authentication key's password; asked for on a terminal when unset |
//!
//! The password is never read from `config.json` and never logged. The device is contacted
//! (and the password asked for) only when a command needs keys.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use serde_json::Value;
use signet_signer::passphrase::Prompter as _;
use signet_signer::store::LazyKeyStore;
use signet_signer::yubihsm::{
    self, AUTH_KEY_ENV, CONNECTOR_ENV, DOMAIN_ENV, KEYS_ENV, LOCATION, NewKeyRoles, PASSWORD_ENV,
    YubiHsmConfig, YubiHsmKeyStore,
};
use signet_signer::{KeyStore, Result};

use crate::terminal;

/// Name of the `config.json` object holding the device settings.
pub(crate) const CONFIG_KEY: &str = "yubihsm";

/// `config.json` field and environment variable of each setting.
const SETTINGS: [(&str, &str); 4] = [
    ("connector", CONNECTOR_ENV),
    ("auth_key", AUTH_KEY_ENV),
    ("domain", DOMAIN_ENV),
    ("keys", KEYS_ENV),
];

/// Connector values that turn the device off.
const OFF: [&str; 3] = ["none", "off", ""];

/// The device settings of one command (everything but the password).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HardwareSettings {
    /// Values by environment variable name.
    values: BTreeMap<&'static str, String>,
}

impl HardwareSettings {
    /// The settings from `config_json` (the contents of `config.json`, when there is one, read
    /// from `config_file`) overridden by `env`; `None` when no connector is configured.
    ///
    /// # Errors
    ///
    /// A device configuration error naming the setting and why it is wrong.
    pub(crate) fn resolve(
        config_json: Option<&[u8]>,
        config_file: &Path,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<Self>> {
        let mut values = BTreeMap::new();
        if let Some(object) = config_json.and_then(hardware_object) {
            let Value::Object(fields) = object else {
                return Err(invalid(
                    config_file,
                    CONFIG_KEY,
                    &object,
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
            if let Some(value) = env(variable) {
                values.insert(variable, value);
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
        let settings = Self { values };
        // Check every setting now; the password is only needed to open the device.
        settings.config(Some(String::new()))?;
        Ok(Some(settings))
    }

    /// The device configuration with `password`.
    fn config(&self, password: Option<String>) -> Result<YubiHsmConfig> {
        // Handed over once, so that no copy of the password is left behind.
        let password = std::cell::Cell::new(password);
        YubiHsmConfig::from_lookup(|name| {
            if name == PASSWORD_ENV {
                password.take()
            } else {
                self.values.get(name).cloned()
            }
        })
        .map_err(signet_signer::Error::from)
    }

    /// Where the device is (`http://127.0.0.1:12345`, `usb`).
    pub(crate) fn connector(&self) -> String {
        self.config(Some(String::new()))
            .map(|c| c.connector.to_string())
            .unwrap_or_default()
    }

    /// Which new keys go on the device.
    pub(crate) fn new_keys(&self) -> NewKeyRoles {
        self.config(Some(String::new()))
            .map(|c| c.new_keys)
            .unwrap_or_default()
    }

    /// The device as a key store that connects (asking for the password on a terminal when
    /// `SIGNET_YUBIHSM_PASSWORD` is not set) when first used.
    pub(crate) fn key_store(&self) -> Arc<dyn KeyStore> {
        let settings = self.clone();
        let name = format!("{LOCATION} at {}", self.connector());
        Arc::new(LazyKeyStore::new(name, move || {
            let config = settings.config(password(&settings))?;
            let store = YubiHsmKeyStore::open(&config).map_err(signet_signer::Error::from)?;
            Ok(Arc::new(store) as Arc<dyn KeyStore>)
        }))
    }
}

/// The `yubihsm` value of `config.json`, if any (a file that is not a JSON object has already
/// been reported by the configuration loader).
fn hardware_object(config_json: &[u8]) -> Option<Value> {
    match serde_json::from_slice::<Value>(config_json).ok()? {
        Value::Object(mut map) => map.remove(CONFIG_KEY),
        _ => None,
    }
}

/// The password from `SIGNET_YUBIHSM_PASSWORD`, or typed on the terminal.
fn password(settings: &HardwareSettings) -> Option<String> {
    if let Ok(password) = std::env::var(PASSWORD_ENV) {
        return Some(password);
    }
    if !terminal::stdin_is_terminal() {
        return None;
    }
    let auth_key = settings
        .values
        .get(AUTH_KEY_ENV)
        .map_or("1", String::as_str);
    let prompt = format!(
        "Enter the password of authentication key {auth_key} of the YubiHSM 2 at {}: ",
        settings.connector()
    );
    terminal::TerminalPrompter
        .read_secret(&prompt)
        .ok()
        .map(|secret| secret.as_str().to_owned())
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
    use std::collections::HashMap;

    use super::*;

    fn resolve(config: &str, env: &[(&str, &str)]) -> Result<Option<HardwareSettings>> {
        let env: HashMap<String, String> = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        HardwareSettings::resolve(
            Some(config.as_bytes()),
            Path::new("config.json"),
            move |name| env.get(name).cloned(),
        )
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
        assert_eq!(settings.connector(), "http://hsm.example.com:4321");
        assert_eq!(settings.new_keys(), NewKeyRoles::All);
        let device = settings.config(Some("pw".to_owned())).unwrap();
        assert_eq!((device.auth_key_id, device.domain), (2, 3));

        let settings = resolve(config, &[(CONNECTOR_ENV, "usb"), (KEYS_ENV, "root")])
            .unwrap()
            .unwrap();
        assert_eq!(settings.connector(), "usb");
        assert_eq!(settings.new_keys(), NewKeyRoles::Root);
    }

    #[test]
    fn root_keys_only_by_default() {
        let settings = resolve("{}", &[(CONNECTOR_ENV, "http://127.0.0.1:1")])
            .unwrap()
            .unwrap();
        assert_eq!(settings.new_keys(), NewKeyRoles::Root);
        let device = settings.config(Some("pw".to_owned())).unwrap();
        assert_eq!((device.auth_key_id, device.domain), (1, 1));
    }

    #[test]
    fn bad_settings_name_the_setting() {
        for (config, env, named) in [
            (r#"{"yubihsm": "usb"}"#, vec![], "yubihsm in config.json"),
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
        let err = settings.config(None).unwrap_err();
        let text = format!("{err}: {:?}", std::error::Error::source(&err));
        assert!(text.contains(PASSWORD_ENV), "{text}");
    }
}
