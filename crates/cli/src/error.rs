//! The errors of the `signet` binary and what the user should do about each.
//!
//! Every error is printed as notary prints it — an empty line, then `* fatal: <message>` on
//! standard output, exit status 1 — followed by a second line, `* hint: <next step>`, that says
//! what to do next (which key is missing and how to import it, which environment variable
//! supplies a passphrase, ...). With `--output json` the same information is one JSON document:
//! `{"error": {"message": ..., "hint": ...}}`.

use std::io;
use std::path::PathBuf;

use serde::Serialize;

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

    /// A delegation key file that does not exist.
    #[error("file for public key does not exist: {}", path.display())]
    PublicKeyFileMissing {
        /// The file.
        path: PathBuf,
    },

    /// A delegation key file that cannot be read.
    #[error("unable to read public key from file: {}", path.display())]
    PublicKeyFileUnreadable {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },

    /// A delegation key file that holds no usable public key or certificate.
    #[error("unable to parse valid public key certificate from PEM file {}: {reason}", path.display())]
    PublicKeyInvalid {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
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

    /// `signet trust signer remove` of the signer of the last released version without `-f`
    /// and without a terminal to confirm on.
    #[error(
        "the signer \"{signer}\" signed the last released version of {image}; removing it will make {image} unpullable"
    )]
    TrustConfirmationNeeded {
        /// The signer.
        signer: String,
        /// The image.
        image: String,
    },
}

impl From<signet_client::Error> for CliError {
    fn from(error: signet_client::Error) -> Self {
        Self::Client(Box::new(error))
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

    /// What the user should do next, when something useful can be said.
    pub(crate) fn hint(&self) -> Option<String> {
        match self {
            Self::Arguments { usage, .. } => Some(format!("usage: {usage}")),
            Self::Parse { command, .. } => Some(format!("see '{command} --help'")),
            Self::AlgorithmNotAllowed { .. } => Some(
                "omit the algorithm or use 'ecdsa'; RSA keys can only be imported with \
                 'signet key import'"
                    .to_owned(),
            ),
            Self::KeyCreation { source, .. } => signer_hint(source),
            Self::InvalidKeyId { .. } => Some(
                "key IDs are 64 hexadecimal characters; 'signet key list' shows them".to_owned(),
            ),
            Self::NoKeyToRemove { .. } => {
                Some("'signet key list' shows the keys in this trust directory".to_owned())
            }
            Self::NoKeyToChange {
                role: Some(role),
                source,
                ..
            } if matches!(**source, signet_signer::Error::WrongPassphrase { .. }) => Some(format!(
                "check the passphrase of this {role} key ({} when set in the environment)",
                passphrase_variable(role)
            )),
            Self::NoKeyToChange { source, .. } => signer_hint(source),
            Self::ExportFilterMix => {
                Some("export either by repository (--gun) or by key ID (--key)".to_owned())
            }
            Self::InvalidTargetRole { .. } => Some(
                "targets can be added to 'targets' or to a delegation role such as \
                 'targets/releases'"
                    .to_owned(),
            ),
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
            Self::InvalidChangeNumber { .. } => {
                Some("'signet status GUN' shows the change numbers".to_owned())
            }
            Self::PublicKeyFileMissing { .. } | Self::PublicKeyFileUnreadable { .. } => None,
            Self::PublicKeyInvalid { .. } => Some(
                "give a PEM 'PUBLIC KEY' (ECDSA or RSA) or 'CERTIFICATE' file, such as the \
                 .pem written by 'signet key generate -o NAME'"
                    .to_owned(),
            ),
            Self::Aborted | Self::File { .. } | Self::Stdio { .. } => None,
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
            Self::KeyImport { source } => signer_hint(source),
            Self::RootCertInvalid { .. } => Some(
                "give a PEM certificate whose common name is the GUN and that is not a CA \
                 certificate"
                    .to_owned(),
            ),
            Self::RootCertMismatch { .. } => Some(
                "give the certificate of the --rootkey key, or leave out one of the two".to_owned(),
            ),
            Self::VerifyLookup { source, .. } => client_hint(source),
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
            Self::Client(e) => client_hint(e),
            Self::Signer(e) => signer_hint(e),
            Self::Tuf(e) => tuf_hint(e),
            Self::Trust(e) => trust_hint(e),
            Self::TrustReported { .. } => None,
            Self::TrustConfirmationNeeded { signer, image } => Some(format!(
                "pass -f to remove {signer} from {image} anyway, or run the command on a terminal to confirm"
            )),
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

/// What to do about a failed `signet trust` command.
fn trust_hint(error: &signet_client::Error) -> Option<String> {
    use signet_client::Error as E;
    use signet_signer::Error as S;
    let docker_variable = |role: &str| {
        if role == "root" {
            "DOCKER_CONTENT_TRUST_ROOT_PASSPHRASE"
        } else {
            "DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE"
        }
    };
    let signer = |e: &S| {
        match e {
        S::NoPassphraseInput { role, .. } => Some(format!(
            "set {} or run the command on a terminal",
            docker_variable(role)
        )),
        S::WrongPassphrase { .. } | S::PassphraseAttemptsExceeded { .. } => Some(
            "check DOCKER_CONTENT_TRUST_ROOT_PASSPHRASE (root key) and DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE (repository and signer keys)"
                .to_owned(),
        ),
        _ => signer_hint(e),
    }
    };
    match error {
        E::TrustDigestReference { .. } | E::TrustNoTag { .. } => {
            Some("name the image as IMAGE:TAG, for example registry.local:5000/team/app:1.0".to_owned())
        }
        E::TrustNoSignableRoles { gun, .. } => Some(format!(
            "load the private key of a signer of {gun} with 'signet trust key load', or add your key as a signer with 'signet trust signer add'; 'signet trust inspect {gun}' lists the signers"
        )),
        E::TrustTagNotSigned { gun, tag } => Some(format!(
            "sign it with 'signet trust sign {gun}:{tag}'; 'signet trust inspect {gun}' lists the signed tags"
        )),
        E::TrustNoSha256 { gun, tag, .. } => Some(format!(
            "sign the tag again with 'signet trust sign {gun}:{tag}' so that its target carries a sha256 hash"
        )),
        E::TrustDigestMismatch { name, tag, .. } => Some(format!(
            "do not pull {name}:{tag}: the registry content is not what was signed; if the new content is intended, sign it with 'signet trust sign --local {name}:{tag}'"
        )),
        E::TrustNoSignedTags { .. } => {
            Some("'signet trust inspect' lists the signed tags".to_owned())
        }
        E::TrustInvalidName { .. } => Some(
            "use lowercase letters, digits, '-' and '_' (starting with a letter or digit)"
                .to_owned(),
        ),
        E::TrustSignerNotFound { gun, .. } => {
            Some(format!("'signet trust inspect {gun}' lists the signers"))
        }
        E::TrustServerUnreachable { .. } => Some(
            "check that the trust server is running and reachable (-s, DOCKER_CONTENT_TRUST_SERVER) and that its CA is in ~/.docker/tls/<host:port>/ or given with --tlscacert"
                .to_owned(),
        ),
        E::TrustKeyFile { .. } => Some(
            "give a private key PEM file readable only by you (chmod 600), or a directory that exists and has no <name>.pub yet"
                .to_owned(),
        ),
        E::Registry(_) => Some(
            "check the image reference, that the registry is reachable, and the credentials stored by 'docker login' in the docker config.json"
                .to_owned(),
        ),
        E::RepositoryNotExist { gun, .. } => Some(format!(
            "{gun} has no trust data: sign a tag with 'signet trust sign {gun}:<tag>' or check the trust server (-s, DOCKER_CONTENT_TRUST_SERVER)"
        )),
        E::Key { source, .. } => signer(source),
        _ => client_hint(error),
    }
}

/// The environment variable notary reads the passphrase of a key of `role` from.
pub(crate) fn passphrase_variable(role: &str) -> &'static str {
    match role {
        "root" => "NOTARY_ROOT_PASSPHRASE",
        "targets" => "NOTARY_TARGETS_PASSPHRASE",
        "snapshot" => "NOTARY_SNAPSHOT_PASSPHRASE",
        _ => "NOTARY_DELEGATION_PASSPHRASE",
    }
}

fn signer_hint(error: &signet_signer::Error) -> Option<String> {
    use signet_signer::Error as E;
    match error {
        E::NoPassphraseInput { role, .. } => Some(format!(
            "set {} or run signet in a terminal to be asked for the passphrase of the {role} key",
            passphrase_variable(role)
        )),
        E::WrongPassphrase { key } => Some(format!(
            "check the passphrase of key {key}: NOTARY_ROOT_PASSPHRASE, \
             NOTARY_TARGETS_PASSPHRASE or NOTARY_SNAPSHOT_PASSPHRASE for those roles, \
             NOTARY_DELEGATION_PASSPHRASE for any other"
        )),
        E::PassphraseAttemptsExceeded { role, .. } => Some(format!(
            "check the passphrase of the {role} key ({} when set)",
            passphrase_variable(role)
        )),
        E::PassphraseTooShort { min, .. } => {
            Some(format!("choose a passphrase of at least {min} characters"))
        }
        E::PassphraseMismatch { .. } => Some("type the same passphrase twice".to_owned()),
        E::KeyNotFound { key_id } => Some(format!(
            "import the private key {key_id} with 'signet key import FILE', or check \
             'signet key list' and the trust directory given with -d"
        )),
        E::Import { .. } => Some(
            "encrypted keys need the 'path' header 'signet key export' writes; give the role and \
             repository with --role and --gun when the file has no headers"
                .to_owned(),
        ),
        E::MissingGun { role } => Some(format!("give the repository of the {role} key with --gun")),
        E::Unsupported { .. } => {
            Some("this key lives in hardware; use the device's own tools".to_owned())
        }
        E::Rotation { role, .. } if role == "timestamp" => Some(
            "the server manages the timestamp key: rotate it with 'signet key rotate GUN \
             timestamp -r'"
                .to_owned(),
        ),
        E::Rotation { .. } => Some(
            "root and targets keys are rotated locally, snapshot locally or with -r, timestamp \
             only with -r"
                .to_owned(),
        ),
        E::Device { store, source, .. } => Some(device_hint(store, source.as_ref())),
        E::KeyNotInStores { key_id, stores } => Some(format!(
            "key {key_id} is needed but none of {stores} holds it: 'signet key list' shows the \
             keys signet can find; import the key with 'signet key import FILE', give the trust \
             directory that holds it with -d, or connect the YubiHSM 2 that holds it \
             (SIGNET_YUBIHSM_CONNECTOR)"
        )),
        _ => None,
    }
}

/// What to do about a failing hardware key store.
fn device_hint(store: &str, source: &(dyn std::error::Error + 'static)) -> String {
    use signet_signer::yubihsm::Error as H;
    match source.downcast_ref::<H>() {
        Some(H::Connect {
            connector,
            auth_key_id,
            ..
        }) => format!(
            "check that the YubiHSM 2 at {connector} is connected (for http:// that \
             yubihsm-connector is running there) and that authentication key {auth_key_id} \
             (SIGNET_YUBIHSM_AUTH_KEY) and its password (SIGNET_YUBIHSM_PASSWORD) are right; \
             SIGNET_YUBIHSM_CONNECTOR=none works without the device"
        ),
        Some(H::MissingPassword { variable, .. }) => format!(
            "set {variable} or run signet on a terminal to be asked for the password of the \
             YubiHSM 2 authentication key"
        ),
        Some(H::Config { .. }) => "fix the SIGNET_YUBIHSM_* environment variable or the \
                                   \"yubihsm\" object of the configuration file"
            .to_owned(),
        Some(H::UsbUnavailable) => "use yubihsm-connector (SIGNET_YUBIHSM_CONNECTOR=\
                                    http://127.0.0.1:12345), or build signet with the \
                                    'yubihsm-usb' feature"
            .to_owned(),
        _ => format!(
            "check that the device of key store {store} is connected and that its \
             authentication key (SIGNET_YUBIHSM_AUTH_KEY) may use this key (domains and \
             capabilities); 'signet key list' shows the keys signet can find"
        ),
    }
}

fn client_hint(error: &signet_client::Error) -> Option<String> {
    use signet_client::Error as E;
    match error {
        E::InvalidGun { .. } => Some(
            "a GUN is a repository name such as 'example.com/org/app': no '..', empty \
             components or leading '/'"
                .to_owned(),
        ),
        E::ChangeIndexOutOfRange { .. } => {
            Some("'signet status GUN' shows the change numbers".to_owned())
        }
        E::ChangeUnreadable { path, .. } => Some(format!(
            "remove or repair {}; 'signet reset GUN --all' discards every staged change",
            path.display()
        )),
        E::ConfigFile { path, .. } => Some(format!(
            "check {} (given with -c, or the default in the trust directory)",
            path.display()
        )),
        E::ConfigValue { .. } | E::TrustPinningCertsFormat => {
            Some("see the notary client configuration reference for the expected types".to_owned())
        }
        E::ClientCertPair => Some(
            "give both --tlscert and --tlskey (or remote_server.tls_client_cert and \
             tls_client_key), or neither"
                .to_owned(),
        ),
        E::ServerUrl { .. } => Some(
            "give the server as -s https://host:port or set remote_server.url in the config"
                .to_owned(),
        ),
        E::InvalidTrustPinning { gun } => Some(format!(
            "add a trust_pinning.certs or trust_pinning.ca entry for {gun}, or unset \
             trust_pinning.disable_tofu"
        )),
        E::Tls { .. } => Some(
            "check --tlscacert, --tlscert, --tlskey and remote_server in the config".to_owned(),
        ),
        E::Offline | E::Network { .. } | E::ServerUnavailable { .. } => Some(
            "check that the trust server (-s or remote_server.url) is running and reachable"
                .to_owned(),
        ),
        E::MetaNotFound { gun, .. } => Some(format!(
            "initialize the repository with 'signet init {gun}' and 'signet publish {gun}', or \
             check the server URL"
        )),
        E::Unauthorized { .. } | E::TokenFetch { .. } => Some(
            "set NOTARY_AUTH to base64 of 'user:password', or run signet in a terminal to be \
             asked for credentials"
                .to_owned(),
        ),
        E::InvalidCredentials { .. } => {
            Some("NOTARY_AUTH must be base64 of 'user:password'".to_owned())
        }
        E::RepositoryNotExist { gun, .. } => Some(format!(
            "create it with 'signet init {gun}' and 'signet publish {gun}', or check the server \
             URL (-s or remote_server.url)"
        )),
        E::NotInitialized { gun } => Some(format!("run 'signet init {gun}' first")),
        E::ResignKeyMissing { .. } | E::ResignNothingToSign { .. } => Some(
            "'signet key list' shows the keys held here; 'signet key import FILE' adds one"
                .to_owned(),
        ),
        E::NoSigningKeys { role, key_ids, .. } => Some(format!(
            "import the private key of the {role} role ({}) with 'signet key import FILE'; \
             'signet key list' shows the keys held here",
            key_ids.join(" or ")
        )),
        E::ChangeRejected { gun, .. } => Some(format!(
            "'signet status {gun}' lists the staged changes; drop the failing one with \
             'signet reset {gun} -n NUMBER'"
        )),
        E::Key { source, .. } => signer_hint(source),
        E::Metadata { source, .. } => tuf_hint(source),
        E::Update { gun, source } => update_hint(gun, source),
        E::ServerRejected { gun, .. } if error.is_version_conflict() => Some(format!(
            "another publisher changed {gun} first and nothing of this upload was stored; \
             publish again: 'signet publish {gun}' applies the changes still staged on top of \
             the newer repository"
        )),
        E::ServerValidation { gun, .. } | E::ServerRejected { gun, .. } => Some(format!(
            "the server refused the update; 'signet status {gun}' shows the staged changes"
        )),
        E::PinnedCa { .. } => {
            Some("check the CA bundle given in trust_pinning.ca in the config".to_owned())
        }
        _ => None,
    }
}

fn update_hint(gun: &str, error: &signet_tuf::update::Error) -> Option<String> {
    use signet_tuf::update::Error as E;
    match error {
        E::Expired { role, .. } if role == "timestamp" => Some(
            "the server signs the timestamp: ask its operator, or check this machine's clock"
                .to_owned(),
        ),
        E::Expired { role, .. } if role == "root" => Some(format!(
            "the holder of the root key must re-sign root: 'signet resign {gun} --role root' \
             (or any publish with the root key available)"
        )),
        E::Expired { role, .. } => Some(format!(
            "the holder of the {role} key must re-sign it: 'signet resign {gun} --role {role}'"
        )),
        E::NotFound { role, .. } => Some(format!(
            "the server has no {role} metadata for {gun}: if it was initialized here, publish it \
             with 'signet publish {gun}'"
        )),
        E::NoSuchTarget { .. } => Some(format!("'signet list {gun}' shows the trusted targets")),
        E::TrustPinning { .. } => Some(format!(
            "the server's root for {gun} is not the pinned one: check trust_pinning in the \
             config, or the server"
        )),
        E::CachedRoot { .. } | E::RootRotation { .. } => Some(format!(
            "the server's root is not signed by the root trusted here; if the repository was \
             legitimately re-created, 'signet delete {gun}' forgets the cached trust (keys stay)"
        )),
        E::Rollback { .. } | E::Mismatch { .. } | E::RootVersion { .. } => Some(
            "the server offers older or inconsistent data than already trusted: possibly an \
             attack, or a server restored from backup; contact its operator"
                .to_owned(),
        ),
        E::Invalid { source, .. } => tuf_hint(source),
        E::Unavailable { .. } => Some(
            "check that the trust server (-s or remote_server.url) is running and reachable"
                .to_owned(),
        ),
        _ => None,
    }
}

fn tuf_hint(error: &signet_tuf::Error) -> Option<String> {
    use signet_tuf::Error as E;
    match error {
        E::Expired { role, .. } if role == "timestamp" => Some(
            "the server re-signs the timestamp: ask its operator, or check the local clock"
                .to_owned(),
        ),
        E::Expired { role, .. } if role == "root" => Some(
            "re-sign root with the root key: 'signet resign GUN --role root' or publish a change"
                .to_owned(),
        ),
        E::Expired { role, .. } => Some(format!(
            "re-sign it: 'signet resign GUN --role {role}' (needs the {role} key)"
        )),
        E::ThresholdNotMet { role, .. } => Some(format!(
            "the {role} metadata lacks valid signatures; re-sign it with 'signet witness GUN \
             {role} -p' once the keys are available"
        )),
        _ => None,
    }
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
        use signet_client::error::{ErrorEntry, ErrorEnvelope};

        let rejected = |code: &str| {
            CliError::from(signet_client::Error::ServerRejected {
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
            })
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
    fn json_form() {
        let err = CliError::InvalidKeyId { key_id: "x".into() };
        let json = serde_json::to_value(err.to_json()).unwrap();
        assert_eq!(json["error"]["message"], "invalid key ID provided: x");
        assert!(json["error"]["hint"].is_string());
    }
}
