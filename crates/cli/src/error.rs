//! The errors of the `signet` binary and what the user should do about each.
//!
//! Every error is printed as notary prints it — an empty line, then `* fatal: <message>` on
//! standard output, exit status 1 — followed by a second line, `* hint: <next step>`, that says
//! what to do next (which key is missing and how to import it, which environment variable
//! supplies a passphrase, ...). With `--output json` the same information is one JSON document:
//! `{"error": {"message": ..., "hint": ...}}`.
//!
//! The errors of the libraries are wrapped, not re-declared: each says what can be done about it
//! as a [`Remedy`], which [`crate::hint`] words (in docker's terms for `signet trust`, whose
//! errors are wrapped as [`CliError::Trust`]). The binary's own errors carry their own hints.

use std::io;
use std::path::PathBuf;

use serde::Serialize;
use signet_tuf::remedy::{Remediable as _, Remedy};

use crate::hint::{self, Wording};

/// Result alias of the binary.
pub(crate) type Result<T, E = CliError> = std::result::Result<T, E>;

/// Everything a command can fail with.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CliError {
    /// Positional arguments are missing or extra (notary's message, and the usage line).
    #[error("{message}")]
    Arguments {
        /// notary's message, for example "Must specify a GUN".
        message: &'static str,
        /// The command's usage line.
        usage: &'static str,
    },

    /// The command line could not be parsed (unknown flag, bad value, ...).
    #[error("{message}")]
    Parse {
        /// The parser's message.
        message: String,
        /// The command path, for the hint (`signet key list`).
        command: String,
        /// The subcommand, flag or value the parser thinks was meant, if any.
        suggestion: Option<String>,
    },

    /// `key generate` with an algorithm other than ECDSA.
    #[error("Algorithm not allowed, possible values are: ECDSA")]
    AlgorithmNotAllowed {
        /// The algorithm asked for.
        algorithm: String,
    },

    /// A new key could not be created.
    #[error("Failed to create a new {role} key: {source}")]
    KeyCreation {
        /// The role of the key.
        role: String,
        /// Why.
        #[source]
        source: Box<signet_signer::Error>,
    },

    /// A key ID argument that is not 64 characters long.
    #[error("invalid key ID provided: {key_id}")]
    InvalidKeyId {
        /// The argument.
        key_id: String,
    },

    /// `key remove` of a key no store holds.
    #[error("No key with ID {key_id} found")]
    NoKeyToRemove {
        /// The key ID.
        key_id: String,
    },

    /// `key passwd` of a key that cannot be read.
    #[error("could not retrieve local key for key ID provided: {key_id} ({source})")]
    NoKeyToChange {
        /// The key ID.
        key_id: String,
        /// The key's role, when the key store knows the key.
        role: Option<String>,
        /// Why the key could not be read.
        #[source]
        source: Box<signet_signer::Error>,
    },

    /// `key export` with both `--gun` and `--key`.
    #[error("Only the --gun or --key flag may be provided, not a mix of the two flags")]
    ExportFilterMix,

    /// Targets can be added only to `targets` and delegation roles.
    #[error("tuf: invalid role {role}. cannot add targets to this role")]
    InvalidTargetRole {
        /// The role given with `-r`.
        role: String,
    },

    /// Only `targets` and delegation roles can be witnessed.
    #[error("tuf: invalid role {role}. only the targets role and delegations can be witnessed")]
    InvalidWitnessRole {
        /// The role given.
        role: String,
    },

    /// A delegation command with a role that is not a delegation name.
    #[error("invalid delegation name {role}")]
    InvalidDelegationName {
        /// The role given.
        role: String,
    },

    /// A hash given to `addhash` of the wrong length or not hex.
    #[error("invalid {algorithm} hex contents provided")]
    InvalidHash {
        /// `sha256` or `sha512`.
        algorithm: &'static str,
    },

    /// The byte size given to `addhash` is not an integer.
    #[error("invalid byte size {size:?}: expected a non-negative integer")]
    InvalidSize {
        /// The argument.
        size: String,
    },

    /// The `--custom` file does not hold one JSON value.
    #[error("invalid custom data in {}: {reason}", path.display())]
    InvalidCustom {
        /// The file.
        path: PathBuf,
        /// The parser's message.
        reason: String,
    },

    /// A change number given to `reset -n` that is negative.
    #[error("invalid change number {number}: numbers start at 0, as shown by status")]
    InvalidChangeNumber {
        /// The number.
        number: i64,
    },

    /// A private key file given on the command line cannot be read.
    #[error("Error reading input root key file: {}", io_reason(source))]
    KeyFileRead {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },

    /// A key file given on the command line holds no private key.
    #[error("no valid private key found in {}", path.display())]
    NoPrivateKey {
        /// The file.
        path: PathBuf,
    },

    /// `init --rootkey` / `key rotate root -k` with an unencrypted key.
    #[error("only encrypted root keys may be imported")]
    RootKeyNotEncrypted {
        /// The file.
        path: PathBuf,
    },

    /// `key import` could not import a file.
    #[error("cannot import keys from {}: {source}", path.display())]
    ImportFile {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: Box<signet_signer::Error>,
    },

    /// A key read from the command line could not be stored.
    #[error("Error importing key: {source}")]
    KeyImport {
        /// Why.
        #[source]
        source: Box<signet_signer::Error>,
    },

    /// The `--rootcert` file cannot be read.
    #[error("error reading certificate file: {}", io_reason(source))]
    RootCertRead {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },

    /// The `--rootcert` file holds no usable certificate.
    #[error("invalid root certificate {}: {reason}", path.display())]
    RootCertInvalid {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },

    /// `--rootkey` and `--rootcert` do not belong together.
    #[error("the root certificate (key {cert_key_id}) does not match the root key {key_id}")]
    RootCertMismatch {
        /// The root key given with `--rootkey`.
        key_id: String,
        /// The canonical ID of the certificate's key.
        cert_key_id: String,
    },

    /// `verify` could not find the target.
    #[error("error retrieving target by name:{target}, error:{source}")]
    VerifyLookup {
        /// The target name.
        target: String,
        /// Why.
        #[source]
        source: Box<signet_client::Error>,
    },

    /// `verify` got a payload whose hashes differ from the trusted ones.
    #[error("data not present in the trusted collection, {source}")]
    VerifyMismatch {
        /// The mismatch.
        #[source]
        source: Box<signet_tuf::Error>,
    },

    /// `delegation list` failed.
    #[error("Error retrieving delegation roles for repository {gun}: {source}")]
    DelegationList {
        /// The collection.
        gun: String,
        /// Why.
        #[source]
        source: Box<Self>,
    },

    /// The user declined a confirmation that notary treats as fatal.
    #[error("Aborting action.")]
    Aborted,

    /// `key compromised`: targets only leaked keys signed, and nobody to ask whether they are
    /// re-signed (no terminal, no `--resign`, no `--yes`).
    #[error(
        "{count} target(s) of {gun} were signed only by the leaked keys: choose whether they are re-signed (stay trusted) or not (no longer trusted); nothing was changed"
    )]
    ResignUndecided {
        /// The collection.
        gun: String,
        /// How many targets.
        count: usize,
    },

    /// A file could not be read or written.
    #[error("{action} {}: {}", path.display(), io_reason(source))]
    File {
        /// `open`, `write`, ...
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },

    /// Standard input or output failed.
    #[error("{action}: {}", io_reason(source))]
    Stdio {
        /// What was being done.
        action: &'static str,
        /// The I/O error.
        #[source]
        source: io::Error,
    },

    /// A negative `key rotate --legacy` count.
    #[error("invalid number of legacy root versions: {value}")]
    InvalidLegacy {
        /// The value given.
        value: i64,
    },

    /// `signet admission serve` could not start or stopped serving.
    #[error("admission webhook: {0}")]
    Admission(Box<signet_admission::AdmissionError>),

    /// An error from the client library (trust dir, changelist, config, server).
    #[error(transparent)]
    Client(Box<signet_client::Error>),

    /// An error from the signer library (keys, passphrases).
    #[error(transparent)]
    Signer(Box<signet_signer::Error>),

    /// An error from the TUF library (metadata, key formats).
    #[error(transparent)]
    Tuf(Box<signet_tuf::Error>),

    /// A `signet trust` command failed; its hint speaks of docker's settings.
    #[error(transparent)]
    Trust(Box<signet_client::Error>),

    /// A `signet trust inspect` failure already shown as docker shows it (the document on
    /// standard output, the message on standard error).
    #[error("{message}")]
    TrustReported {
        /// The message printed on standard error.
        message: String,
    },

    /// `signet trust verify --policy` denied an image; the decisions are already printed (the
    /// JSON document holds them all, so nothing more is printed in JSON mode).
    #[error("{message}")]
    PolicyDenied {
        /// The message printed on standard error in text mode.
        message: String,
    },

    /// `signet trust signer remove` of the signer of the last released version, or of a
    /// signer whose removal leaves tags unsigned, without `-f` and without a terminal to
    /// confirm on.
    #[error("{}", signer_removal_message(signer, image, unsigned_tags))]
    TrustConfirmationNeeded {
        /// The signer.
        signer: String,
        /// The image.
        image: String,
        /// The tags that would lose every signature.
        unsigned_tags: Vec<String>,
    },
}

impl From<signet_client::Error> for CliError {
    fn from(error: signet_client::Error) -> Self {
        Self::Client(Box::new(error))
    }
}

impl From<signet_admission::AdmissionError> for CliError {
    fn from(error: signet_admission::AdmissionError) -> Self {
        Self::Admission(Box::new(error))
    }
}

impl From<signet_signer::Error> for CliError {
    fn from(error: signet_signer::Error) -> Self {
        Self::Signer(Box::new(error))
    }
}

impl From<signet_tuf::Error> for CliError {
    fn from(error: signet_tuf::Error) -> Self {
        Self::Tuf(Box::new(error))
    }
}

/// The message of [`CliError::TrustConfirmationNeeded`].
fn signer_removal_message(signer: &str, image: &str, unsigned_tags: &[String]) -> String {
    if unsigned_tags.is_empty() {
        format!(
            "the signer \"{signer}\" signed the last released version of {image}; removing it will make {image} unpullable"
        )
    } else {
        format!(
            "removing the signer \"{signer}\" leaves these tags of {image} without any signature: {}",
            unsigned_tags.join(", ")
        )
    }
}

/// Go-style text of an I/O error: lower-case, without Rust's `(os error N)` suffix.
pub(crate) fn io_reason(error: &io::Error) -> String {
    let text = error.to_string();
    let text = match text.find(" (os error") {
        Some(i) => &text[..i],
        None => &text,
    };
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

impl CliError {
    /// A [`CliError::File`] for `path`.
    pub(crate) fn file(action: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        Self::File {
            action,
            path: path.into(),
            source,
        }
    }

    /// A [`CliError::Stdio`].
    pub(crate) fn stdio(action: &'static str) -> impl FnOnce(io::Error) -> Self {
        move |source| Self::Stdio { action, source }
    }

    /// The message of the `* fatal:` line.
    pub(crate) fn message(&self) -> String {
        self.to_string()
    }

    /// What the user should do next, when something useful can be said. Errors of the
    /// libraries say it as a [`Remedy`], worded by [`hint`]; the binary's own errors say it
    /// here.
    pub(crate) fn hint(&self) -> Option<String> {
        let notary = Wording::Notary;
        match self {
            Self::Arguments { usage, .. } => Some(format!("usage: {usage}")),
            Self::Parse {
                command,
                suggestion,
                ..
            } => Some(match suggestion {
                Some(meant) => format!("did you mean '{meant}'? see '{command} --help'"),
                None => format!("see '{command} --help'"),
            }),
            Self::AlgorithmNotAllowed { .. } => Some(
                "omit the algorithm or use 'ecdsa'; RSA keys can only be imported with \
                 'signet key import'"
                    .to_owned(),
            ),
            Self::InvalidKeyId { .. } => Some(
                "key IDs are 64 hexadecimal characters; 'signet key list' shows them".to_owned(),
            ),
            Self::NoKeyToRemove { .. } => {
                Some("'signet key list' shows the keys in this trust directory".to_owned())
            }
            // The key store knew the key's role, its error did not.
            Self::NoKeyToChange { role, source, .. } => match (source.remedy()?, role) {
                (Remedy::CheckPassphrase { key, role: None }, Some(role)) => hint::render(
                    Remedy::CheckPassphrase {
                        key,
                        role: Some(role),
                    },
                    notary,
                ),
                (remedy, _) => hint::render(remedy, notary),
            },
            Self::ExportFilterMix => {
                Some("export either by repository (--gun) or by key ID (--key)".to_owned())
            }
            Self::InvalidTargetRole { .. } => hint::render(Remedy::ChooseTargetRole, notary),
            Self::InvalidWitnessRole { .. } => Some(
                "witness 'targets' or a delegation role; other roles are re-signed by \
                 'signet key rotate' or by publishing"
                    .to_owned(),
            ),
            Self::InvalidDelegationName { .. } => Some(
                "delegation names start with 'targets/' and use lowercase letters, digits, \
                 '-', '_' and '/'"
                    .to_owned(),
            ),
            Self::InvalidHash { algorithm } => Some(format!(
                "give the {algorithm} digest as {} hexadecimal characters",
                if *algorithm == "sha256" { 64 } else { 128 }
            )),
            Self::InvalidSize { .. } => {
                Some("give the size in bytes, for example 1024 or 0x400".to_owned())
            }
            Self::InvalidCustom { .. } => {
                Some("the --custom file must hold exactly one JSON value".to_owned())
            }
            Self::InvalidChangeNumber { .. } => hint::render(Remedy::ListChanges, notary),
            Self::ResignUndecided { gun, .. } => Some(format!(
                "pass --resign yes to re-sign them with the keys still trusted, or --resign no to \
                 leave them untrusted; 'signet key compromised {gun} --dry-run' lists them"
            )),
            Self::Aborted => Some(
                "nothing was changed; answer yes when asked, or pass -y/--yes to confirm without \
                 a prompt"
                    .to_owned(),
            ),
            Self::File { .. } | Self::Stdio { .. } => None,
            Self::KeyFileRead { .. } | Self::RootCertRead { .. } => None,
            Self::NoPrivateKey { .. } => Some(
                "give a PEM private key file, such as one written by 'signet key export' or \
                 'signet key generate -o NAME'"
                    .to_owned(),
            ),
            Self::RootKeyNotEncrypted { path } => Some(format!(
                "encrypt {} first (for example with 'openssl pkcs8 -topk8 -v2 aes-256-cbc \
                 -v2prf hmacWithSHA1')",
                path.display()
            )),
            Self::RootCertInvalid { .. } => Some(
                "give a PEM certificate whose common name is the GUN and that is not a CA \
                 certificate"
                    .to_owned(),
            ),
            Self::RootCertMismatch { .. } => Some(
                "give the certificate of the --rootkey key, or leave out one of the two".to_owned(),
            ),
            Self::VerifyMismatch { .. } => Some(
                "the data differs from what was signed; 'signet lookup GUN TARGET' shows the \
                 trusted digest"
                    .to_owned(),
            ),
            Self::DelegationList { source, .. } => source.hint(),
            Self::InvalidLegacy { .. } => Some(
                "--legacy takes the number of older root versions to sign with (0 or more)"
                    .to_owned(),
            ),
            Self::TrustReported { .. } | Self::PolicyDenied { .. } => None,
            Self::Admission(error) => match &**error {
                signet_admission::AdmissionError::Policy { path, .. } => Some(format!(
                    "the schema is in docs/trust-policy.md; 'signet trust verify --policy {} \
                     IMAGE' checks a policy before it is deployed",
                    path.display()
                )),
                _ => None,
            },
            Self::TrustConfirmationNeeded { signer, image, .. } => Some(format!(
                "pass -f (or --yes) to remove {signer} from {image} anyway, or run the command on a terminal to confirm"
            )),
            // The libraries' errors.
            Self::KeyCreation { source, .. }
            | Self::KeyImport { source }
            | Self::ImportFile { source, .. }
            | Self::Signer(source) => hint::for_error(&**source, notary),
            Self::VerifyLookup { source, .. } | Self::Client(source) => {
                hint::for_error(&**source, notary)
            }
            Self::Tuf(e) => hint::for_error(&**e, notary),
            Self::Trust(e) => hint::for_error(&**e, Wording::Docker),
        }
    }

    /// The JSON form printed with `--output json`.
    pub(crate) fn to_json(&self) -> ErrorDocument {
        ErrorDocument {
            error: ErrorBody {
                message: self.message(),
                hint: self.hint(),
            },
        }
    }
}

/// `{"error": {...}}`.
#[derive(Debug, Serialize)]
pub(crate) struct ErrorDocument {
    /// The error.
    pub(crate) error: ErrorBody,
}

/// The error's message and hint.
#[derive(Debug, Serialize)]
pub(crate) struct ErrorBody {
    /// The `* fatal:` message.
    pub(crate) message: String,
    /// The next step, if any.
    pub(crate) hint: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_reasons_read_like_go() {
        let e = io::Error::from_raw_os_error(2);
        assert_eq!(io_reason(&e), "no such file or directory");
        let err = CliError::file("open", "/nonexistent", e);
        assert_eq!(
            err.message(),
            "open /nonexistent: no such file or directory"
        );
    }

    #[test]
    fn a_version_conflict_says_to_publish_again() {
        use signet_client::error::{ErrorEntry, ErrorEnvelope, RemoteError};

        let rejected = |code: &str| {
            CliError::from(signet_client::Error::Remote(RemoteError::ServerRejected {
                gun: "example.com/app".into(),
                resource: "POST metadata endpoint".into(),
                response: Box::new(ErrorEnvelope {
                    errors: vec![ErrorEntry {
                        code: code.into(),
                        message: "m".into(),
                        detail: None,
                    }],
                    validation: None,
                }),
            }))
            .hint()
            .unwrap()
        };
        let conflict = rejected("VERSION");
        assert!(conflict.contains("another publisher"), "{conflict}");
        assert!(
            conflict.contains("'signet publish example.com/app'"),
            "{conflict}"
        );
        assert!(rejected("MALFORMED_UPLOAD").contains("refused the update"));
    }

    #[test]
    fn missing_passphrases_name_the_variable() {
        let err = CliError::from(signet_signer::Error::NoPassphraseInput {
            key: "abc".into(),
            role: "targets/releases".into(),
        });
        assert!(err.hint().unwrap().contains("NOTARY_DELEGATION_PASSPHRASE"));
        let err = CliError::from(signet_signer::Error::KeyNotFound {
            key_id: "abc".into(),
        });
        assert!(err.hint().unwrap().contains("signet key import"));
    }

    #[test]
    fn trust_commands_get_docker_wording() {
        use signet_client::error::RemoteError;

        let passphrase = || signet_client::Error::Key {
            gun: "registry.local/app".into(),
            role: "root".into(),
            source: Box::new(signet_signer::Error::NoPassphraseInput {
                key: "abc".into(),
                role: "root".into(),
            }),
        };
        let docker = CliError::Trust(Box::new(passphrase())).hint().unwrap();
        assert_eq!(
            docker,
            "set DOCKER_CONTENT_TRUST_ROOT_PASSPHRASE or run the command on a terminal"
        );
        let notary = CliError::from(passphrase()).hint().unwrap();
        assert!(notary.starts_with("set NOTARY_ROOT_PASSPHRASE"), "{notary}");

        let offline = || {
            signet_client::Error::Remote(RemoteError::Offline {
                reason: "told so".into(),
                failure: None,
            })
        };
        let docker = CliError::Trust(Box::new(offline())).hint().unwrap();
        assert!(docker.contains("DOCKER_CONTENT_TRUST_SERVER"), "{docker}");
        let notary = CliError::from(offline()).hint().unwrap();
        assert!(notary.contains("remote_server.url"), "{notary}");
    }

    #[test]
    fn a_known_role_completes_a_passphrase_hint() {
        let err = CliError::NoKeyToChange {
            key_id: "abc".into(),
            role: Some("targets".into()),
            source: Box::new(signet_signer::Error::WrongPassphrase { key: "abc".into() }),
        };
        assert_eq!(
            err.hint().unwrap(),
            "check the passphrase of this targets key (NOTARY_TARGETS_PASSPHRASE when set in \
             the environment)"
        );
    }

    #[test]
    fn device_and_missing_key_hints_say_what_to_do() {
        use signet_signer::yubihsm::Error as H;

        let device = |source: H| {
            CliError::from(signet_signer::Error::from(source))
                .hint()
                .unwrap()
        };
        let refused = io::Error::from(io::ErrorKind::ConnectionRefused);
        let connect = device(H::Connect {
            connector: "http://127.0.0.1:12345".into(),
            auth_key_id: 2,
            source: yubihsm::client::Error::from(yubihsm::connector::Error::from(refused)),
        });
        assert!(connect.contains("http://127.0.0.1:12345"), "{connect}");
        assert!(connect.contains("authentication key 2"), "{connect}");
        assert!(connect.contains("SIGNET_YUBIHSM_PASSWORD"), "{connect}");
        let password = device(H::MissingPassword {
            auth_key_id: 1,
            variable: "SIGNET_YUBIHSM_PASSWORD",
        });
        assert!(
            password.starts_with("set SIGNET_YUBIHSM_PASSWORD"),
            "{password}"
        );
        assert!(device(H::UsbUnavailable).contains("yubihsm-usb"));
        let config = device(H::Config {
            setting: "SIGNET_YUBIHSM_DOMAIN".into(),
            value: "17".into(),
            reason: "expected a domain from 1 to 16".into(),
        });
        assert!(config.contains("\"yubihsm\""), "{config}");
        let other = device(H::KeyNotFound {
            key_id: "abc".into(),
        });
        assert!(
            other.contains("signet key import"),
            "a miss stays a miss: {other}"
        );

        let missing = CliError::from(signet_signer::Error::KeyNotInStores {
            key_id: "0123abcd".into(),
            stores: "yubihsm at usb, /home/u/.notary/private".into(),
        })
        .hint()
        .unwrap();
        assert!(missing.contains("key 0123abcd is needed"), "{missing}");
        assert!(missing.contains("/home/u/.notary/private"), "{missing}");
        assert!(missing.contains("signet key list"), "{missing}");
        assert!(missing.contains("signet key import"), "{missing}");
    }

    #[test]
    fn an_incomplete_revocation_names_the_role_and_its_keys() {
        use signet_client::error::{StillSigned, TrustError};

        let still = || {
            signet_client::Error::Trust(TrustError::StillSigned {
                gun: "registry.local/team/app".into(),
                remaining: vec![StillSigned {
                    tag: "1.0".into(),
                    role: "targets".into(),
                    key_ids: vec!["abc123".into()],
                    threshold: 1,
                }],
                removed: vec![("1.0".into(), "targets/releases".into())],
            })
        };
        let err = CliError::Trust(Box::new(still()));
        let message = err.message();
        assert!(
            message.contains("1.0 is still signed in targets (keys abc123, threshold 1)"),
            "{message}"
        );
        assert!(
            message.contains("removed and published: 1.0 from targets/releases"),
            "{message}"
        );
        let docker = err.hint().unwrap();
        assert!(docker.contains("targets key (abc123)"), "{docker}");
        assert!(
            docker.contains("'signet trust revoke registry.local/team/app:1.0'"),
            "{docker}"
        );
        let notary = CliError::from(still()).hint().unwrap();
        assert!(
            notary.contains("'signet remove registry.local/team/app 1.0 -r targets -p'"),
            "{notary}"
        );
    }

    #[test]
    fn json_form() {
        let err = CliError::InvalidKeyId { key_id: "x".into() };
        let json = serde_json::to_value(err.to_json()).unwrap();
        assert_eq!(json["error"]["message"], "invalid key ID provided: x");
        assert!(json["error"]["hint"].is_string());
    }
}
