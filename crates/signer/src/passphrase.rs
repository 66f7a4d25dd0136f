//! Passphrase retrieval for encrypted key files, with Notary's and Docker's rules.
//!
//! A [`PassphraseRetriever`] is asked for a passphrase with a [`PassphraseRequest`]: the key's
//! name, its *alias* (the key's role: `root`, `targets`, `snapshot`, a delegation name, ...),
//! whether a new key is being stored, and the attempt number. Key stores call it in a bounded
//! loop ([`MAX_ATTEMPTS`]); a retriever stops the loop by returning an error.
//!
//! Implementations:
//! * [`EnvRetriever::notary`]: `NOTARY_ROOT_PASSPHRASE`, `NOTARY_TARGETS_PASSPHRASE`,
//!   `NOTARY_SNAPSHOT_PASSPHRASE` for those aliases; `NOTARY_DELEGATION_PASSPHRASE` for the alias
//!   `delegation` and for every alias that is not a base role (`root`, `targets`, `snapshot`,
//!   `timestamp`).
//! * [`EnvRetriever::docker`]: `DOCKER_CONTENT_TRUST_ROOT_PASSPHRASE` for `root`,
//!   `DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE` for every other alias.
//!
//!   Both return an environment value on attempts 0 and 1 and give up afterwards, as Notary does,
//!   with [`Error::WrongEnvPassphrase`] naming the one variable read; empty variables count as
//!   unset; without a value they defer to an optional fallback retriever, else fail with
//!   [`Error::NoPassphraseInput`]. A value for a new key obeys the rule a prompted passphrase
//!   does (at least [`MIN_PASSPHRASE_LEN`] characters, else [`Error::EnvPassphraseTooShort`]).
//!
//!   Both also read [`KEY_FILE_PASSPHRASE_VARIABLE`] (`SIGNET_KEY_FILE_PASSPHRASE`) for the
//!   alias [`KEY_FILE_ALIAS`]: the passphrase that decrypts a key file being loaded
//!   (`signet trust key load`), separate from the one the key is stored with. When it is not
//!   set, the flavour's variable for that alias applies, as in docker.
//! * [`PromptRetriever`]: Notary's interactive behaviour (messages, confirmation, minimum length
//!   8, per-alias cache, at most 3 retries) over a [`Prompter`] that the CLI implements for the
//!   terminal.
//! * [`ConstantRetriever`]: one fixed passphrase (tests, servers).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// How many times a key store asks a retriever before giving up (Notary uses 10).
pub const MAX_ATTEMPTS: u32 = 10;
/// Minimum length of a new passphrase, entered interactively or from the environment.
pub const MIN_PASSPHRASE_LEN: usize = 8;
/// How many wrong passphrases the interactive prompt accepts before giving up.
pub const MAX_PROMPT_RETRIES: u32 = 3;

/// The warning Notary shows before a new root passphrase is chosen.
pub const ROOT_KEY_WARNING: &str = "You are about to create a new root signing key passphrase. \
This passphrase\nwill be used to protect the most sensitive key in your signing system. Please\n\
choose a long, complex passphrase and be careful to keep the password and the\nkey file itself \
secure and backed up. It is highly recommended that you use a\npassword manager to generate the \
passphrase and keep it safe. There will be no\nway to recover this key. You can find the key in \
your config directory.";

const BASE_ROLES: [&str; 4] = ["root", "targets", "snapshot", "timestamp"];

/// The passphrase alias under which a key file being loaded is decrypted (docker's
/// `encrypted`).
pub const KEY_FILE_ALIAS: &str = "encrypted";

/// The variable holding the passphrase that decrypts a key file being loaded (alias
/// [`KEY_FILE_ALIAS`]); docker has none, and uses its repository passphrase for both.
pub const KEY_FILE_PASSPHRASE_VARIABLE: &str = "SIGNET_KEY_FILE_PASSPHRASE";

/// What a passphrase is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PassphraseRequest<'a> {
    /// Name of the key shown to the user: its key ID, or `<gun>/<key ID>`.
    pub key_name: &'a str,
    /// The passphrase alias: the key's role (`root`, `targets`, `snapshot`, `alice`, ...).
    pub alias: &'a str,
    /// A new key is being stored: the passphrase will be set, not checked.
    pub create_new: bool,
    /// Zero-based attempt number; for an existing key, attempt `n > 0` follows `n` wrong ones.
    pub attempt: u32,
}

/// A source of passphrases. Object safe; shared between threads.
pub trait PassphraseRetriever: Send + Sync {
    /// Returns the passphrase for `request`, or an error to stop asking (for example
    /// [`Error::PassphraseAttemptsExceeded`] or [`Error::NoPassphraseInput`]).
    fn passphrase(&self, request: &PassphraseRequest<'_>) -> Result<Zeroizing<String>>;
}

impl<T: PassphraseRetriever + ?Sized> PassphraseRetriever for Arc<T> {
    fn passphrase(&self, request: &PassphraseRequest<'_>) -> Result<Zeroizing<String>> {
        (**self).passphrase(request)
    }
}

/// Always returns the same passphrase, on every attempt.
pub struct ConstantRetriever(Zeroizing<String>);

impl ConstantRetriever {
    /// A retriever returning `passphrase`.
    pub fn new(passphrase: impl Into<String>) -> Self {
        Self(Zeroizing::new(passphrase.into()))
    }
}

impl std::fmt::Debug for ConstantRetriever {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ConstantRetriever(..)")
    }
}

impl PassphraseRetriever for ConstantRetriever {
    fn passphrase(&self, _request: &PassphraseRequest<'_>) -> Result<Zeroizing<String>> {
        Ok(self.0.clone())
    }
}

/// Whose environment-variable rules an [`EnvRetriever`] follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnvFlavour {
    /// `notary`: `NOTARY_{ROOT,TARGETS,SNAPSHOT,DELEGATION}_PASSPHRASE`.
    Notary,
    /// `docker trust`: `DOCKER_CONTENT_TRUST_{ROOT,REPOSITORY}_PASSPHRASE`.
    Docker,
}

impl EnvFlavour {
    /// The environment variable the passphrase of a key of `alias` (its role) is read from;
    /// `None` for notary's timestamp keys, which no variable supplies.
    pub fn variable(self, alias: &str) -> Option<&'static str> {
        match self {
            Self::Notary => match alias {
                "root" => Some("NOTARY_ROOT_PASSPHRASE"),
                "targets" => Some("NOTARY_TARGETS_PASSPHRASE"),
                "snapshot" => Some("NOTARY_SNAPSHOT_PASSPHRASE"),
                _ if BASE_ROLES.contains(&alias) => None,
                _ => Some("NOTARY_DELEGATION_PASSPHRASE"),
            },
            Self::Docker if alias == "root" => Some("DOCKER_CONTENT_TRUST_ROOT_PASSPHRASE"),
            Self::Docker => Some("DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE"),
        }
    }

    /// Every variable this flavour reads.
    fn variables(self) -> &'static [&'static str] {
        match self {
            Self::Notary => &[
                "NOTARY_ROOT_PASSPHRASE",
                "NOTARY_TARGETS_PASSPHRASE",
                "NOTARY_SNAPSHOT_PASSPHRASE",
                "NOTARY_DELEGATION_PASSPHRASE",
            ],
            Self::Docker => &[
                "DOCKER_CONTENT_TRUST_ROOT_PASSPHRASE",
                "DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE",
            ],
        }
    }
}

/// Passphrases from environment variables (see the module documentation for the rules).
pub struct EnvRetriever {
    flavour: EnvFlavour,
    values: HashMap<&'static str, Zeroizing<String>>,
    fallback: Option<Arc<dyn PassphraseRetriever>>,
}

impl std::fmt::Debug for EnvRetriever {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut set: Vec<&&str> = self.values.keys().collect();
        set.sort();
        f.debug_struct("EnvRetriever")
            .field("flavour", &self.flavour)
            .field("set", &set)
            .field("fallback", &self.fallback.is_some())
            .finish()
    }
}

impl EnvRetriever {
    /// Notary's rules, reading the process environment now.
    pub fn notary() -> Self {
        Self::from_lookup(EnvFlavour::Notary, |name| std::env::var(name).ok())
    }

    /// Docker's rules, reading the process environment now.
    pub fn docker() -> Self {
        Self::from_lookup(EnvFlavour::Docker, |name| std::env::var(name).ok())
    }

    /// The given rules with variables looked up through `lookup` (tests, config files).
    pub fn from_lookup(flavour: EnvFlavour, lookup: impl Fn(&str) -> Option<String>) -> Self {
        let values = flavour
            .variables()
            .iter()
            .chain(&[KEY_FILE_PASSPHRASE_VARIABLE])
            .filter_map(|var| {
                lookup(var)
                    .filter(|v| !v.is_empty())
                    .map(|v| (*var, Zeroizing::new(v)))
            })
            .collect();
        Self {
            flavour,
            values,
            fallback: None,
        }
    }

    /// Asks `fallback` (typically a [`PromptRetriever`]) when no variable applies.
    pub fn with_fallback(mut self, fallback: Arc<dyn PassphraseRetriever>) -> Self {
        self.fallback = Some(fallback);
        self
    }

    /// The variable that applies to `alias` (the key file's own one when set), and its value.
    fn value_for(&self, alias: &str) -> Option<(&'static str, &Zeroizing<String>)> {
        let variable = match self.values.get(KEY_FILE_PASSPHRASE_VARIABLE) {
            Some(_) if alias == KEY_FILE_ALIAS => KEY_FILE_PASSPHRASE_VARIABLE,
            _ => self.flavour.variable(alias)?,
        };
        self.values.get(variable).map(|value| (variable, value))
    }
}

impl PassphraseRetriever for EnvRetriever {
    fn passphrase(&self, request: &PassphraseRequest<'_>) -> Result<Zeroizing<String>> {
        if let Some((variable, value)) = self.value_for(request.alias) {
            if request.create_new && value.chars().count() < MIN_PASSPHRASE_LEN {
                return Err(Error::EnvPassphraseTooShort {
                    variable,
                    role: request.alias.to_owned(),
                    min: MIN_PASSPHRASE_LEN,
                });
            }
            if request.attempt > 1 {
                return Err(Error::WrongEnvPassphrase {
                    key: request.key_name.to_owned(),
                    variable,
                });
            }
            return Ok(value.clone());
        }
        match &self.fallback {
            Some(fallback) => fallback.passphrase(request),
            None => Err(Error::NoPassphraseInput {
                key: request.key_name.to_owned(),
                role: request.alias.to_owned(),
            }),
        }
    }
}

/// The terminal side of interactive passphrase entry, implemented by the CLI.
pub trait Prompter: Send + Sync {
    /// Shows an informational line to the user.
    fn message(&self, text: &str);
    /// Shows `prompt` (no newline) and reads one line without echoing it.
    fn read_secret(&self, prompt: &str) -> std::io::Result<Zeroizing<String>>;
}

/// Notary's interactive passphrase behaviour over a [`Prompter`].
///
/// Shows the root warning before a new root passphrase, asks `Enter passphrase for new <alias>
/// key with ID <id>:` and a confirmation for new keys (minimum 8 characters), `Enter passphrase
/// for <alias> key with ID <id>:` for existing ones, allows three retries after a wrong
/// passphrase, and caches entered passphrases per alias for the life of the retriever.
pub struct PromptRetriever<P> {
    prompter: P,
    display_aliases: HashMap<String, String>,
    cache: Mutex<HashMap<String, Zeroizing<String>>>,
}

impl<P> std::fmt::Debug for PromptRetriever<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PromptRetriever")
            .field("display_aliases", &self.display_aliases)
            .finish_non_exhaustive()
    }
}

impl<P: Prompter> PromptRetriever<P> {
    /// Notary's prompts (aliases shown as they are).
    pub fn notary(prompter: P) -> Self {
        Self {
            prompter,
            display_aliases: HashMap::new(),
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// Docker's prompts: `targets`, `snapshot` (and `default`) are shown as `repository`.
    pub fn docker(prompter: P) -> Self {
        let display_aliases = [
            ("root", "root"),
            ("snapshot", "repository"),
            ("targets", "repository"),
            ("default", "repository"),
        ]
        .into_iter()
        .map(|(a, d)| (a.to_owned(), d.to_owned()))
        .collect();
        Self {
            prompter,
            display_aliases,
            cache: Mutex::new(HashMap::new()),
        }
    }

    fn cached(&self, alias: &str) -> Option<Zeroizing<String>> {
        self.cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(alias)
            .cloned()
    }
}

/// Notary's short key name: the first 7 characters of the ID, with any `<gun>/` prefix shown in
/// parentheses after it.
fn short_key_name(key_name: &str) -> String {
    let separator = key_name.rfind('/').unwrap_or(0);
    let id_start = if separator > 0 { separator + 1 } else { 0 };
    let id: String = key_name[id_start..].chars().take(7).collect();
    if key_name.len() <= separator + 7 {
        return String::new();
    }
    if separator > 0 {
        format!("{id} ({})", &key_name[..separator])
    } else {
        id
    }
}

impl<P: Prompter> PassphraseRetriever for PromptRetriever<P> {
    fn passphrase(&self, request: &PassphraseRequest<'_>) -> Result<Zeroizing<String>> {
        let alias = request.alias;
        if request.attempt == 0 {
            if alias == "root" && request.create_new {
                self.prompter.message(ROOT_KEY_WARNING);
            }
            if let Some(cached) = self.cached(alias) {
                return Ok(cached);
            }
        } else if !request.create_new {
            if request.attempt > MAX_PROMPT_RETRIES {
                return Err(Error::PassphraseAttemptsExceeded {
                    key: request.key_name.to_owned(),
                    role: alias.to_owned(),
                });
            }
            self.prompter.message("Passphrase incorrect. Please retry.");
        }

        let display = self
            .display_aliases
            .get(alias)
            .map_or(alias, String::as_str);
        let short = short_key_name(request.key_name);
        let with_id = if short.is_empty() {
            String::new()
        } else {
            format!(" with ID {short}")
        };
        let prompt = if request.create_new {
            format!("Enter passphrase for new {display} key{with_id}: ")
        } else if display == "yubikey" {
            format!("Enter the {} for the attached Yubikey: ", request.key_name)
        } else {
            format!("Enter passphrase for {display} key{with_id}: ")
        };
        let prompt_error = |source| Error::Prompt {
            role: alias.to_owned(),
            source,
        };
        let entered = self.prompter.read_secret(&prompt).map_err(prompt_error)?;
        let entered = Zeroizing::new(entered.trim().to_owned());

        if request.create_new {
            if entered.chars().count() < MIN_PASSPHRASE_LEN {
                self.prompter.message(
                    "Passphrase is too short. Please use a password manager to generate and \
                     store a good random passphrase.",
                );
                return Err(Error::PassphraseTooShort {
                    role: alias.to_owned(),
                    min: MIN_PASSPHRASE_LEN,
                });
            }
            let repeat = format!("Repeat passphrase for new {display} key{with_id}: ");
            let confirmation = self.prompter.read_secret(&repeat).map_err(prompt_error)?;
            if confirmation.trim() != entered.as_str() {
                self.prompter
                    .message("Passphrases do not match. Please retry.");
                return Err(Error::PassphraseMismatch {
                    role: alias.to_owned(),
                });
            }
        }
        self.cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(alias.to_owned(), entered.clone());
        Ok(entered)
    }
}

/// Obtains a passphrase for a new key: asks until the retriever returns one, retrying after
/// rejected entries (too short, mismatch) up to [`MAX_ATTEMPTS`] times.
pub fn new_key_passphrase(
    retriever: &dyn PassphraseRetriever,
    key_name: &str,
    alias: &str,
) -> Result<Zeroizing<String>> {
    let mut last_error = None;
    for attempt in 0..MAX_ATTEMPTS {
        let request = PassphraseRequest {
            key_name,
            alias,
            create_new: true,
            attempt,
        };
        match retriever.passphrase(&request) {
            Ok(passphrase) => return Ok(passphrase),
            Err(e @ (Error::PassphraseTooShort { .. } | Error::PassphraseMismatch { .. })) => {
                last_error = Some(e);
            }
            Err(e) => return Err(e),
        }
    }
    Err(
        last_error.unwrap_or_else(|| Error::PassphraseAttemptsExceeded {
            key: key_name.to_owned(),
            role: alias.to_owned(),
        }),
    )
}

/// Decrypts an existing key: calls `decrypt` with passphrases from `retriever` until it
/// succeeds, returns an error other than [`Error::WrongPassphrase`], or the retriever gives up
/// (then the result is [`Error::WrongPassphrase`] for `key_name`).
pub fn decrypt_with_retries<T>(
    retriever: &dyn PassphraseRetriever,
    key_name: &str,
    alias: &str,
    mut decrypt: impl FnMut(&str) -> Result<T>,
) -> Result<T> {
    for attempt in 0..MAX_ATTEMPTS {
        let request = PassphraseRequest {
            key_name,
            alias,
            create_new: false,
            attempt,
        };
        let passphrase = match retriever.passphrase(&request) {
            Ok(p) => p,
            Err(Error::PassphraseAttemptsExceeded { .. }) if attempt > 0 => {
                return Err(Error::WrongPassphrase {
                    key: key_name.to_owned(),
                });
            }
            Err(e) => return Err(e),
        };
        match decrypt(&passphrase) {
            Err(Error::WrongPassphrase { .. }) => continue,
            other => return other,
        }
    }
    Err(Error::WrongPassphrase {
        key: key_name.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;

    use super::*;

    fn request(alias: &str, attempt: u32) -> PassphraseRequest<'_> {
        PassphraseRequest {
            key_name: "0123456789abcdef",
            alias,
            create_new: false,
            attempt,
        }
    }

    fn env(flavour: EnvFlavour, vars: &[(&str, &str)]) -> EnvRetriever {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        EnvRetriever::from_lookup(flavour, |name| vars.get(name).cloned())
    }

    fn get(r: &dyn PassphraseRetriever, alias: &str) -> Option<String> {
        r.passphrase(&request(alias, 0)).ok().map(|p| p.to_string())
    }

    #[test]
    fn notary_alias_rules() {
        let r = env(
            EnvFlavour::Notary,
            &[
                ("NOTARY_ROOT_PASSPHRASE", "r"),
                ("NOTARY_TARGETS_PASSPHRASE", "t"),
                ("NOTARY_SNAPSHOT_PASSPHRASE", ""),
                ("NOTARY_DELEGATION_PASSPHRASE", "d"),
            ],
        );
        assert_eq!(get(&r, "root").as_deref(), Some("r"));
        assert_eq!(get(&r, "targets").as_deref(), Some("t"));
        // Empty counts as unset, and base roles never fall back to the delegation value.
        assert_eq!(get(&r, "snapshot"), None);
        assert_eq!(get(&r, "timestamp"), None);
        for alias in ["targets/releases", "alice", "delegation", ""] {
            assert_eq!(get(&r, alias).as_deref(), Some("d"), "{alias}");
        }
        assert!(matches!(
            r.passphrase(&request("snapshot", 0)),
            Err(Error::NoPassphraseInput { .. })
        ));
        assert_eq!(
            EnvFlavour::Notary.variable("targets/releases"),
            Some("NOTARY_DELEGATION_PASSPHRASE")
        );
        assert_eq!(EnvFlavour::Notary.variable("timestamp"), None);
    }

    #[test]
    fn docker_alias_rules() {
        let r = env(
            EnvFlavour::Docker,
            &[
                ("DOCKER_CONTENT_TRUST_ROOT_PASSPHRASE", "r"),
                ("DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE", "p"),
            ],
        );
        assert_eq!(get(&r, "root").as_deref(), Some("r"));
        for alias in [
            "targets",
            "snapshot",
            "alice",
            "encrypted",
            "targets/releases",
        ] {
            assert_eq!(get(&r, alias).as_deref(), Some("p"), "{alias}");
        }
        let only_repo = env(
            EnvFlavour::Docker,
            &[("DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE", "p")],
        );
        assert_eq!(
            get(&only_repo, "root"),
            None,
            "root never uses the repository value"
        );
        assert_eq!(
            EnvFlavour::Docker.variable("timestamp"),
            Some("DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE")
        );
    }

    #[test]
    fn env_values_give_up_after_two_attempts_naming_their_variable() {
        let r = env(EnvFlavour::Notary, &[("NOTARY_ROOT_PASSPHRASE", "r")]);
        assert!(r.passphrase(&request("root", 1)).is_ok());
        assert!(matches!(
            r.passphrase(&request("root", 2)),
            Err(Error::WrongEnvPassphrase {
                variable: "NOTARY_ROOT_PASSPHRASE",
                ..
            })
        ));
        let mut tries = 0;
        let result: Result<()> = decrypt_with_retries(&r, "k", "root", |p| {
            tries += 1;
            assert_eq!(p, "r");
            Err(Error::WrongPassphrase { key: "k".into() })
        });
        let err = result.unwrap_err();
        assert_eq!(
            err.to_string(),
            "incorrect passphrase for key k: NOTARY_ROOT_PASSPHRASE does not open it"
        );
        assert_eq!(
            signet_tuf::remedy::Remediable::remedy(&err),
            Some(signet_tuf::remedy::Remedy::CheckPassphraseVariable {
                variable: "NOTARY_ROOT_PASSPHRASE"
            })
        );
        assert_eq!(tries, 2);
    }

    #[test]
    fn env_values_for_new_keys_obey_the_minimum_length() {
        let r = env(
            EnvFlavour::Docker,
            &[
                ("DOCKER_CONTENT_TRUST_ROOT_PASSPHRASE", "…"),
                ("DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE", "long enough"),
            ],
        );
        let err = new_key_passphrase(&r, "k", "root").unwrap_err();
        assert!(matches!(
            err,
            Error::EnvPassphraseTooShort {
                variable: "DOCKER_CONTENT_TRUST_ROOT_PASSPHRASE",
                min: MIN_PASSPHRASE_LEN,
                ..
            }
        ));
        assert_eq!(
            new_key_passphrase(&r, "k", "targets").unwrap().as_str(),
            "long enough"
        );
        // An existing key may have any passphrase (Go notary sets no minimum).
        assert_eq!(get(&r, "root").as_deref(), Some("…"));
    }

    #[test]
    fn key_files_are_decrypted_with_their_own_variable_when_set() {
        let docker = [("DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE", "repository")];
        let r = env(EnvFlavour::Docker, &docker);
        assert_eq!(get(&r, KEY_FILE_ALIAS).as_deref(), Some("repository"));
        let r = env(
            EnvFlavour::Docker,
            &[docker[0], (KEY_FILE_PASSPHRASE_VARIABLE, "key file")],
        );
        assert_eq!(get(&r, KEY_FILE_ALIAS).as_deref(), Some("key file"));
        assert_eq!(get(&r, "signer").as_deref(), Some("repository"));
        assert!(matches!(
            r.passphrase(&request(KEY_FILE_ALIAS, 2)),
            Err(Error::WrongEnvPassphrase {
                variable: KEY_FILE_PASSPHRASE_VARIABLE,
                ..
            })
        ));
    }

    #[test]
    fn fallback_is_used_when_no_variable_applies() {
        let r = env(EnvFlavour::Notary, &[]).with_fallback(Arc::new(ConstantRetriever::new("c")));
        assert_eq!(get(&r, "timestamp").as_deref(), Some("c"));
    }

    /// A scripted terminal.
    struct Script {
        answers: Mutex<VecDeque<&'static str>>,
        shown: Mutex<Vec<String>>,
    }

    impl Script {
        fn new(answers: &[&'static str]) -> Self {
            Self {
                answers: Mutex::new(answers.iter().copied().collect()),
                shown: Mutex::new(Vec::new()),
            }
        }
    }

    impl Prompter for &Script {
        fn message(&self, text: &str) {
            self.shown.lock().unwrap().push(text.to_owned());
        }
        fn read_secret(&self, prompt: &str) -> std::io::Result<Zeroizing<String>> {
            self.shown.lock().unwrap().push(prompt.to_owned());
            self.answers
                .lock()
                .unwrap()
                .pop_front()
                .map(|a| Zeroizing::new(a.to_owned()))
                .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::UnexpectedEof))
        }
    }

    #[test]
    fn prompt_for_new_root_key_warns_confirms_and_caches() {
        let script = Script::new(&["short", "longenough1\n", "longenough1", "unused"]);
        let r = PromptRetriever::notary(&script);
        let pass = new_key_passphrase(&r, "abcdef0123456789", "root").unwrap();
        assert_eq!(pass.as_str(), "longenough1");
        let shown = script.shown.lock().unwrap().clone();
        assert_eq!(shown[0], ROOT_KEY_WARNING);
        assert_eq!(
            shown[1],
            "Enter passphrase for new root key with ID abcdef0: "
        );
        assert!(shown[2].starts_with("Passphrase is too short"));
        assert_eq!(
            shown.last().unwrap(),
            "Repeat passphrase for new root key with ID abcdef0: "
        );
        // Cached for the alias: no further prompt.
        assert_eq!(get(&r, "root").as_deref(), Some("longenough1"));
        assert_eq!(script.answers.lock().unwrap().len(), 1);
    }

    #[test]
    fn prompt_retries_wrong_passphrases_three_times() {
        let script = Script::new(&["a", "b", "c", "d", "e"]);
        let r = PromptRetriever::docker(&script);
        let result: Result<()> =
            decrypt_with_retries(&r, "docker.io/x/0123456789", "targets", |_| {
                Err(Error::WrongPassphrase { key: "k".into() })
            });
        assert!(matches!(result, Err(Error::WrongPassphrase { .. })));
        let shown = script.shown.lock().unwrap().clone();
        assert_eq!(
            shown[0],
            "Enter passphrase for repository key with ID 0123456 (docker.io/x): "
        );
        assert_eq!(
            shown
                .iter()
                .filter(|s| s.as_str() == "Passphrase incorrect. Please retry.")
                .count(),
            3
        );
        assert_eq!(
            script.answers.lock().unwrap().len(),
            1,
            "four prompts in total"
        );
    }

    #[test]
    fn short_names() {
        assert_eq!(short_key_name("0123456789"), "0123456");
        assert_eq!(short_key_name("gun/x/0123456789"), "0123456 (gun/x)");
        assert_eq!(short_key_name("abc"), "");
    }
}
