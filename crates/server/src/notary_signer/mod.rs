//! Moving server-held keys between signet and a Go notary-signer database.
//!
//! A Go deployment keeps the timestamp (and server-managed snapshot) private keys of every
//! repository in notary-signer's own database, table `private_keys`, each encrypted as a
//! compact JWE under a passphrase named by its `passphrase_alias` ([`jwe`], [`source`]).
//!
//! * [`import()`] (`signet-server import-notary-signer`) decrypts them and stores them as
//!   signet's own server keys, sealed under the key-encryption key, so a signet-server that
//!   took over the notary-server database signs timestamps with the keys clients already
//!   trust. No repository owner has to rotate anything.
//! * [`export()`] (`signet-server export-notary-signer`) writes signet's server keys (also
//!   those created after the switch) back into a notary-signer database, encrypted as
//!   notary-signer does, so the Go pair can be started again on the same databases.
//!
//! The passphrase of alias `X` comes from the environment variable `NOTARY_SIGNER_X`
//! (upper case, `.` replaced by `_`, as notary-signer reads it), else from the
//! configuration table `[notary_signer.passphrases]` ([`Passphrases`]).

pub mod export;
pub mod import;
pub mod jwe;
mod keys;
pub mod source;
mod target;

use std::collections::BTreeMap;

use zeroize::Zeroizing;

pub use export::{ExportOptions, ExportReport, export};
pub use import::{ImportOptions, ImportReport, import};
pub use source::{SignerDb, SignerRow};

/// The private key in the decrypted `private` column of a notary-signer row (see
/// [`jwe::decrypt`]), as [`import()`] reads it: a SEC1 `ECPrivateKey` for `ecdsa`, Go's
/// 96-byte layout for `ed25519`, whose public key must be the row's `public` column and whose
/// TUF key ID must be its `key_id`.
///
/// # Errors
///
/// Why the row's key cannot be used: an algorithm notary-signer never wrote, a plaintext
/// that does not decode, or a key that does not match the row.
pub fn decode_private_key(
    algorithm: &str,
    plaintext: &[u8],
    public: &[u8],
    key_id: &str,
) -> Result<signet_signer::PrivateKey, String> {
    keys::decode(algorithm, plaintext, public, key_id)
}

/// The environment variable notary-signer reads the passphrase of `alias` from:
/// `NOTARY_SIGNER_` and the alias in upper case, `.` replaced by `_`.
#[must_use]
pub fn passphrase_env_var(alias: &str) -> String {
    format!("NOTARY_SIGNER_{}", alias.to_uppercase().replace('.', "_"))
}

/// Where passphrases come from: the environment (as notary-signer reads them), then a table
/// of the configuration file. Its `Debug` output shows the configured aliases only.
#[derive(Clone, Default)]
pub struct Passphrases {
    use_env: bool,
    configured: BTreeMap<String, Zeroizing<String>>,
}

impl std::fmt::Debug for Passphrases {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Passphrases")
            .field("use_env", &self.use_env)
            .field("configured_aliases", &self.configured.keys())
            .finish()
    }
}

impl Passphrases {
    /// `NOTARY_SIGNER_<ALIAS>` first, then `configured` (alias → passphrase).
    #[must_use]
    pub fn from_env_and(configured: BTreeMap<String, Zeroizing<String>>) -> Self {
        Self {
            use_env: true,
            configured,
        }
    }

    /// Only `configured`, never the environment (tests).
    #[must_use]
    pub fn only(configured: BTreeMap<String, Zeroizing<String>>) -> Self {
        Self {
            use_env: false,
            configured,
        }
    }

    /// The passphrase of `alias`, if one is set and not empty. A configured alias matches
    /// exactly, else ignoring ASCII case (the environment variable name ignores case too).
    #[must_use]
    pub fn get(&self, alias: &str) -> Option<Zeroizing<String>> {
        if self.use_env
            && let Some(v) = std::env::var_os(passphrase_env_var(alias))
        {
            let v = Zeroizing::new(v.to_string_lossy().into_owned());
            if !v.is_empty() {
                return Some(v);
            }
        }
        self.configured
            .get(alias)
            .or_else(|| {
                self.configured
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(alias))
                    .map(|(_, v)| v)
            })
            .filter(|v| !v.is_empty())
            .cloned()
    }
}

/// Counts of keys by role and state, for summaries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally(BTreeMap<(String, &'static str), usize>);

impl Tally {
    /// Counts one key of `role` in `state`.
    pub fn add(&mut self, role: &str, state: crate::store::KeyState) {
        *self.0.entry((role.to_owned(), state.as_str())).or_default() += 1;
    }

    /// The count for `role` and `state`.
    #[must_use]
    pub fn get(&self, role: &str, state: crate::store::KeyState) -> usize {
        self.0
            .get(&(role.to_owned(), state.as_str()))
            .copied()
            .unwrap_or(0)
    }

    /// The total.
    #[must_use]
    pub fn total(&self) -> usize {
        self.0.values().sum()
    }

    /// A small table: one row per role, one column per state.
    fn table(&self, indent: &str) -> String {
        use crate::store::KeyState;
        let roles: std::collections::BTreeSet<&str> =
            self.0.keys().map(|(r, _)| r.as_str()).collect();
        let mut out = format!(
            "{indent}{:<12}{:>8}{:>9}{:>9}\n",
            "role", "active", "pending", "retired"
        );
        for role in roles {
            out.push_str(&format!(
                "{indent}{role:<12}{:>8}{:>9}{:>9}\n",
                self.get(role, KeyState::Active),
                self.get(role, KeyState::Pending),
                self.get(role, KeyState::Retired)
            ));
        }
        out
    }
}

#[cfg(test)]
pub(crate) mod fixtures {
    //! The rows the real Go notary-signer wrote (`tests/data/notary-signer/keys.json`).

    /// The passphrase of alias `fixtures` the fixture keys are encrypted under.
    pub(crate) const FIXTURE_PASSPHRASE: &str = "signet fixture passphrase";

    /// One fixture row.
    #[derive(Debug, Clone, serde::Deserialize)]
    pub(crate) struct FixtureRow {
        pub(crate) key_id: String,
        pub(crate) algorithm: String,
        #[serde(deserialize_with = "hex_bytes")]
        pub(crate) public: Vec<u8>,
        pub(crate) private: String,
    }

    fn hex_bytes<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = <String as serde::Deserialize>::deserialize(d)?;
        hex::decode(s).map_err(serde::de::Error::custom)
    }

    /// Every fixture row.
    pub(crate) fn fixture_rows() -> Vec<FixtureRow> {
        serde_json::from_str(include_str!("../../tests/data/notary-signer/keys.json"))
            .expect("fixture keys.json")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_var_names_follow_notary_signer() {
        assert_eq!(passphrase_env_var("alias1"), "NOTARY_SIGNER_ALIAS1");
        assert_eq!(
            passphrase_env_var("passwordalias1"),
            "NOTARY_SIGNER_PASSWORDALIAS1"
        );
        assert_eq!(passphrase_env_var("my.alias"), "NOTARY_SIGNER_MY_ALIAS");
    }

    #[test]
    fn configured_passphrases_and_debug() {
        let p = Passphrases::only(BTreeMap::from([
            ("Prod".to_owned(), Zeroizing::new("s3cret".to_owned())),
            ("empty".to_owned(), Zeroizing::new(String::new())),
        ]));
        assert_eq!(p.get("Prod").as_deref().map(String::as_str), Some("s3cret"));
        assert_eq!(p.get("prod").as_deref().map(String::as_str), Some("s3cret"));
        assert!(p.get("empty").is_none());
        assert!(p.get("other").is_none());
        let dbg = format!("{p:?}");
        assert!(dbg.contains("Prod") && !dbg.contains("s3cret"), "{dbg}");
    }
}
