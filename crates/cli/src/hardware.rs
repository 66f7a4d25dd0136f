//! The YubiHSM 2 in front of the trust directory, for both flavours of command.
//!
//! The settings (the `yubihsm` object of `config.json` and the `SIGNET_YUBIHSM_*` environment
//! variables) are resolved and checked once, by `signet_client::config::hardware`, when the
//! [`Context`](crate::context::Context) is loaded; this module only builds the key store from
//! them. The device is contacted, and its password taken from `SIGNET_YUBIHSM_PASSWORD` or
//! asked for on a terminal, only when a command first needs keys. The password is never read
//! from `config.json` and never logged.

use std::sync::Arc;

use signet_client::config::HardwareSettings;
use signet_signer::KeyStore;
use signet_signer::passphrase::Prompter as _;
use signet_signer::store::LazyKeyStore;
use signet_signer::yubihsm::{LOCATION, YubiHsmKeyStore};
use zeroize::Zeroizing;

use crate::terminal;

/// The device of `settings` as a key store that connects when first used.
pub(crate) fn key_store(settings: &HardwareSettings) -> Arc<dyn KeyStore> {
    let settings = settings.clone();
    let name = format!("{LOCATION} at {}", settings.connector);
    Arc::new(LazyKeyStore::new(name, move || {
        let password = HardwareSettings::env_password().or_else(|| ask_password(&settings));
        let config = settings.device_config(password)?;
        let store = YubiHsmKeyStore::open(&config).map_err(signet_signer::Error::from)?;
        Ok(Arc::new(store) as Arc<dyn KeyStore>)
    }))
}

/// The password typed on the terminal, when standard input is one.
fn ask_password(settings: &HardwareSettings) -> Option<Zeroizing<String>> {
    if !terminal::stdin_is_terminal() {
        return None;
    }
    let prompt = format!(
        "Enter the password of authentication key {} of the YubiHSM 2 at {}: ",
        settings.auth_key_id, settings.connector
    );
    terminal::TerminalPrompter.read_secret(&prompt).ok()
}
