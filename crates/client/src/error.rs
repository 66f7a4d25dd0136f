//! The error type of this crate, grouped by area.
//!
//! [`Error`] keeps the errors any part of the crate can have (GUN and role names, files,
//! metadata, keys, the update) at its top level and wraps one enum per area: [`ConfigError`],
//! [`RemoteError`], [`ChangelistError`], [`StagingError`], [`PublishError`], [`ResignError`],
//! [`RecoveryError`], [`TrustError`], [`PolicyError`](crate::policy::PolicyError),
//! [`SigstoreError`](crate::sigstore::SigstoreError) and
//! [`RegistryError`](crate::registry::RegistryError). The wrappers are transparent: messages
//! are the area's own.
//!
//! Variants name the GUN, role, file or server response involved. Where the Go notary client
//! has a well-known message, the same text is used so that scripts and users see familiar
//! errors. What the user can do about an error is its [`Remedy`]
//! ([`Remediable`] is implemented for each of these types).

use std::io;
use std::path::{Path, PathBuf};

use signet_tuf::remedy::{Remediable, Remedy};

/// Result alias used throughout `signet-client`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

pub use signet_tuf::notary::envelope::{ErrorEntry, ErrorEnvelope, ValidationError};

/// Everything that can go wrong in the client.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A GUN that could escape the trust dir or cannot be addressed on a server.
    #[error("invalid GUN {gun:?}: {reason}")]
    InvalidGun {
        /// The rejected GUN.
        gun: String,
        /// The rule it breaks.
        reason: &'static str,
    },

    /// A role name that is not a base role or a valid delegation name.
    #[error("invalid role {role:?} for {gun}")]
    InvalidRole {
        /// The collection.
        gun: String,
        /// The rejected role name.
        role: String,
    },

    /// A role asked for (`list --roles`) that the repository does not have.
    #[error("{gun} has no role {role}; its roles are {}", known.join(", "))]
    NoSuchRole {
        /// The collection.
        gun: String,
        /// The role asked for.
        role: String,
        /// The roles it has: `targets` and every delegation declared by a loaded role.
        known: Vec<String>,
    },

    /// A file system operation failed.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        /// What was being done (`read`, `create directory`, …).
        action: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },

    /// The configuration is unusable.
    #[error(transparent)]
    Config(ConfigError),

    /// The trust server could not be used or refused a request.
    #[error(transparent)]
    Remote(RemoteError),

    /// The changelist cannot be read or addressed.
    #[error(transparent)]
    Changelist(ChangelistError),

    /// What a change is to be staged from is unusable.
    #[error(transparent)]
    Staging(StagingError),

    /// Staged changes cannot be applied and signed.
    #[error(transparent)]
    Publish(PublishError),

    /// `resign` cannot re-sign what was asked for.
    #[error(transparent)]
    Resign(ResignError),

    /// The recovery from leaked keys cannot be planned or carried out.
    #[error(transparent)]
    Recovery(RecoveryError),

    /// Docker content trust cannot do what was asked.
    #[error(transparent)]
    Trust(TrustError),

    /// A trust policy cannot be loaded.
    #[error(transparent)]
    Policy(crate::policy::PolicyError),

    /// The update (fetch and verification of the repository) failed.
    #[error("{source}")]
    Update {
        /// The collection.
        gun: String,
        /// What the update found.
        #[source]
        source: Box<signet_tuf::update::Error>,
    },

    /// Metadata could not be built, parsed or checked.
    #[error("{role} metadata of {gun}: {source}")]
    Metadata {
        /// The collection.
        gun: String,
        /// The role whose document is involved.
        role: String,
        /// What went wrong.
        #[source]
        source: Box<signet_tuf::Error>,
    },

    /// A key store or signer failed.
    #[error("{role} key{}: {source}", of_gun(gun))]
    Key {
        /// The collection.
        gun: String,
        /// The role whose key was needed.
        role: String,
        /// What went wrong.
        #[source]
        source: Box<signet_signer::Error>,
    },

    /// The server has no trust data for the collection (and it cannot be created here).
    #[error("{host} does not have trust data for {gun}")]
    RepositoryNotExist {
        /// The server.
        host: String,
        /// The collection.
        gun: String,
    },

    /// No trust data for the collection exists locally (and none could be fetched).
    #[error("repository {gun} has not been initialized")]
    NotInitialized {
        /// The collection.
        gun: String,
    },

    /// An image registry request failed.
    #[error(transparent)]
    Registry(Box<crate::registry::RegistryError>),

    /// Carrying signatures over to sigstore.
    #[error(transparent)]
    Sigstore(crate::sigstore::SigstoreError),
}

/// The configuration is unusable: the config file, its values, the server URL and TLS client
/// pair as configured, and trust pinning.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The configuration file could not be opened or parsed.
    #[error("error opening config file: {reason}")]
    File {
        /// The config file.
        path: PathBuf,
        /// Why.
        reason: String,
    },

    /// A configuration value of the wrong type.
    #[error("invalid value for {key} in config: {reason}")]
    Value {
        /// The dotted key.
        key: String,
        /// Why.
        reason: String,
    },

    /// `trust_pinning.certs` is not a map of lists of strings.
    #[error("invalid format for trust_pinning.certs")]
    TrustPinningCertsFormat,

    /// Only one of the TLS client certificate and key was given.
    #[error("either pass both client key and cert, or neither")]
    ClientCertPair,

    /// The trust server URL is unusable.
    #[error("trust server url has to be in the form of http(s)://URL:PORT. Got: {url}")]
    ServerUrl {
        /// The URL as given.
        url: String,
    },

    /// `disable_tofu` is set and no pin covers a GUN seen for the first time.
    #[error("invalid trust pinning specified")]
    InvalidTrustPinning {
        /// The collection.
        gun: String,
    },

    /// A trust pinning CA bundle cannot be used.
    #[error("{reason}")]
    PinnedCa {
        /// The collection.
        gun: String,
        /// The bundle.
        path: PathBuf,
        /// Notary's texts: "could not load root cert from CA path", "invalid CA certs
        /// provided".
        reason: String,
    },
}

/// The trust server could not be used or refused a request ([`crate::remote`] and the
/// [`crate::http`] layer under it: TLS, credentials, tokens, statuses).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RemoteError {
    /// TLS material could not be loaded.
    #[error("unable to configure TLS: {reason}")]
    Tls {
        /// Why (names the file involved).
        reason: String,
    },

    /// `NOTARY_AUTH` or supplied credentials are malformed.
    #[error("invalid credentials: {reason}")]
    InvalidCredentials {
        /// Why.
        reason: String,
    },

    /// The server could not be used when the remote was set up (Notary's offline mode); every
    /// remote operation fails with this error, which says why.
    #[error("client is offline: {reason}")]
    Offline {
        /// Why the server could not be used (`could not reach <url>: <cause>`).
        reason: String,
        /// The classified connection failure, when the server gave no HTTP answer.
        failure: Option<Box<ConnectFailure>>,
    },

    /// A transport-level failure (connection, TLS, timeout).
    #[error("{reason}")]
    Network {
        /// The URL requested.
        url: String,
        /// The transport error with its causes.
        reason: String,
        /// The classified connection failure, when the request got no HTTP answer.
        failure: Option<Box<ConnectFailure>>,
    },

    /// The server answered 404.
    #[error("{resource} trust data unavailable.  Has a notary repository been initialized?")]
    MetaNotFound {
        /// The collection.
        gun: String,
        /// What was requested (`timestamp`, `snapshot.<hash>`, `timestamp key`, …).
        resource: String,
    },

    /// The server answered 401, even after authenticating.
    #[error("you are not authorized to perform this operation: server returned 401.")]
    Unauthorized {
        /// The collection, when the request named one.
        gun: Option<String>,
        /// What was requested.
        resource: String,
        /// What the server said.
        response: Box<ErrorEnvelope>,
    },

    /// The server answered a status other than 200, 400, 401 or 404.
    #[error("unable to reach trust server at this time: {status}.")]
    ServerUnavailable {
        /// The collection, when the request named one.
        gun: Option<String>,
        /// What was requested.
        resource: String,
        /// The HTTP status.
        status: u16,
        /// What the server said.
        response: Box<ErrorEnvelope>,
    },

    /// The server answered 400 with a validation error.
    #[error("{validation}")]
    ServerValidation {
        /// The collection.
        gun: String,
        /// The decoded validation error.
        validation: ValidationError,
        /// The whole response.
        response: Box<ErrorEnvelope>,
    },

    /// The server answered 400 without a decodable validation error.
    #[error("trust server rejected operation{}", rejected_suffix(response))]
    ServerRejected {
        /// The collection.
        gun: String,
        /// What was requested.
        resource: String,
        /// What the server said.
        response: Box<ErrorEnvelope>,
    },

    /// The server announced more bytes than allowed for the resource.
    #[error("trust server returned a bad response.")]
    MaliciousServer {
        /// The collection.
        gun: String,
        /// What was requested.
        resource: String,
        /// The limit in bytes.
        limit: u64,
        /// The announced `Content-Length`.
        content_length: u64,
    },

    /// A successful response whose body cannot be used (for example a key that is not TUF
    /// key JSON).
    #[error("invalid response from the trust server for {resource}: {reason}")]
    BadResponse {
        /// What was requested.
        resource: String,
        /// Why it is unusable.
        reason: String,
    },

    /// Fetching a bearer token failed.
    #[error("unable to get an authorization token from {realm}: {reason}")]
    TokenFetch {
        /// The token service URL.
        realm: String,
        /// Why.
        reason: String,
    },
}

/// The changelist cannot be read or addressed ([`crate::changelist`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ChangelistError {
    /// A changelist file that cannot be parsed (publish refuses to go on).
    #[error("cannot read change {}: {reason}", path.display())]
    Unreadable {
        /// The change file.
        path: PathBuf,
        /// Why it could not be parsed.
        reason: String,
    },

    /// A change whose `data` payload does not fit its type.
    #[error("invalid data in {action} {change_type} change for {scope} {path:?}: {reason}")]
    Payload {
        /// The change's action.
        action: String,
        /// The change's scope (role).
        scope: String,
        /// The change's type.
        change_type: String,
        /// The change's path.
        path: String,
        /// Why the payload was rejected.
        reason: String,
    },

    /// `reset -n` named a change that does not exist.
    #[error("there is no change number {index} (the changelist holds {count})")]
    IndexOutOfRange {
        /// The requested index.
        index: usize,
        /// How many changes there are.
        count: usize,
    },
}

/// What a change is to be staged from is unusable: target roles and metadata
/// ([`crate::targets`]) and delegation public key files ([`crate::delegation_keys`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StagingError {
    /// A target role that is neither `targets` nor a delegation role.
    #[error("Invalid role: {role}")]
    InvalidTargetRole {
        /// The role given.
        role: String,
    },

    /// Target metadata that cannot be staged.
    #[error("invalid metadata for target {target}: {reason}")]
    InvalidTargetMeta {
        /// The target.
        target: String,
        /// Why.
        reason: String,
    },

    /// A delegation public key file that does not exist.
    #[error("file for public key does not exist: {}", path.display())]
    PublicKeyFileMissing {
        /// The file.
        path: PathBuf,
    },

    /// A delegation public key file that cannot be read.
    #[error("unable to read public key from file: {}", path.display())]
    PublicKeyFileUnreadable {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },

    /// A delegation public key file that holds no usable public key or certificate.
    #[error("unable to parse valid public key certificate from PEM file {}: {reason}", path.display())]
    PublicKeyInvalid {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

/// Staged changes cannot be applied and signed for an upload (publish and initialisation).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PublishError {
    /// A staged change cannot be applied.
    #[error("cannot apply {action} {change_type} change to {scope} of {gun}: {reason}")]
    ChangeRejected {
        /// The collection.
        gun: String,
        /// The change's action.
        action: String,
        /// The change's scope.
        scope: String,
        /// The change's type.
        change_type: String,
        /// Why (Notary's texts: "could not add all targets", "invalid paths to add to role").
        reason: String,
    },

    /// None of the keys that may sign a role is held.
    #[error(
        "could not find necessary signing keys, at least one of these keys must be available: {}",
        key_ids.join(", ")
    )]
    NoSigningKeys {
        /// The collection.
        gun: String,
        /// The role to sign.
        role: String,
        /// Canonical IDs of the keys that could sign.
        key_ids: Vec<String>,
    },

    /// The root certificates of a repository expired and the root keys to renew them are not
    /// held.
    #[error(
        "the root certificate of {gun} expired at {expired} and cannot be renewed: the root key ({}) is not available in this trust directory; import it with `signet key import` and publish again, or rotate the root key with `signet key rotate {gun} root`",
        key_ids.join(", ")
    )]
    RootCertificateExpired {
        /// The collection.
        gun: String,
        /// Canonical IDs of the root keys whose certificates expired.
        key_ids: Vec<String>,
        /// When the first of them expired.
        expired: chrono::DateTime<chrono::Utc>,
    },
}

/// `resign` cannot re-sign what was asked for.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ResignError {
    /// `resign`: a requested role the repository does not have.
    #[error(
        "{gun} has no role {role}: roles that can be re-signed are root, targets, snapshot, timestamp and the delegations `signet delegation list {gun}` shows"
    )]
    UnknownRole {
        /// The collection.
        gun: String,
        /// The role asked for.
        role: String,
    },

    /// `resign`: a requested role none of whose keys is held.
    #[error(
        "cannot re-sign {role} of {gun}: none of its keys is available ({}); import one with `signet key import`, or leave {role} out",
        key_ids.join(", ")
    )]
    KeyMissing {
        /// The collection.
        gun: String,
        /// The role.
        role: String,
        /// Canonical IDs of the keys that may sign it.
        key_ids: Vec<String>,
    },

    /// `resign`: no chosen role is signed by a key held here.
    #[error(
        "nothing to re-sign for {gun}: no key of the chosen roles is available here (the server re-signs the timestamp, and a snapshot whose key it holds, on every publish and when they expire)"
    )]
    NothingToSign {
        /// The collection.
        gun: String,
    },

    /// `resign --expires`: a lifetime that is not a usable duration.
    #[error(
        "invalid expiry duration {text:?}: {reason} (a Go duration such as 8760h or 90m, or a number of days, weeks or years such as 30d, 52w, 10y)"
    )]
    InvalidLifetime {
        /// The text given.
        text: String,
        /// Why it is refused.
        reason: String,
    },

    /// `resign --expires`: root would be re-signed to expire within six months, which makes
    /// every later publish re-sign it again (and need the root key).
    #[error(
        "refusing to re-sign root of {gun} to expire at {expires} ({lifetime} from now): a root that expires within six months is re-signed by every publish, which then needs the root key; give at least six months (for example 1y), or leave root out with --role"
    )]
    RootTooShort {
        /// The collection.
        gun: String,
        /// The lifetime asked for, as given.
        lifetime: String,
        /// When root would expire.
        expires: chrono::DateTime<chrono::Utc>,
    },
}

/// The recovery from leaked keys (`key compromised`) cannot be planned or carried out.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RecoveryError {
    /// A key named as leaked that the repository does not trust.
    #[error(
        "{gun} does not trust key {key_id}; the keys it trusts are: {}",
        if trusted.is_empty() { "none".to_owned() } else { trusted.join(", ") }
    )]
    UntrustedKey {
        /// The collection.
        gun: String,
        /// The key ID as given.
        key_id: String,
        /// The keys the repository trusts, each as `<canonical key ID> (<roles>)`.
        trusted: Vec<String>,
    },

    /// No leaked key was named, or none of the keys held here is trusted by the repository.
    #[error("no key trusted by {gun} was named as leaked{}", if *held_here { " (none of the keys of this trust dir is trusted by it)" } else { "" })]
    NothingLeaked {
        /// The collection.
        gun: String,
        /// Whether the keys of the trust dir were searched (`--all-local`).
        held_here: bool,
        /// The keys the repository trusts, each as `<canonical key ID> (<roles>)`.
        trusted: Vec<String>,
    },

    /// The repository changed on the server between the plan and the recovery.
    #[error(
        "{gun} changed on the server since the recovery was planned (root version {planned_root} then, {current_root} now); nothing was published"
    )]
    Changed {
        /// The collection.
        gun: String,
        /// The root version the plan was made from.
        planned_root: i64,
        /// The root version found when publishing.
        current_root: i64,
    },
}

/// Docker content trust (`docker trust` semantics, [`crate::trust`]) cannot do what was asked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrustError {
    /// Docker content trust: an image reference with a digest where `IMAGE:TAG` is needed.
    #[error("cannot use a digest reference for IMAGE:TAG: {reference}")]
    DigestReference {
        /// The reference as given.
        reference: String,
    },

    /// Docker content trust: an image reference without the tag the command needs.
    #[error("no tag specified for {name}")]
    NoTag {
        /// The image name.
        name: String,
    },

    /// Docker content trust: no role the tag can be signed into (or removed from) with the
    /// keys held here.
    #[error("no valid signing keys for delegation roles of {gun} (tag {tag})")]
    NoSignableRoles {
        /// The collection.
        gun: String,
        /// The tag.
        tag: String,
    },

    /// Docker content trust: the tag is not signed in `targets/releases` or `targets`.
    #[error("no signed trust data for tag {tag} of {gun} in targets/releases or targets")]
    TagNotSigned {
        /// The collection.
        gun: String,
        /// The tag.
        tag: String,
    },

    /// Docker content trust: the signed target has no sha256 hash.
    #[error("no valid hash, expecting sha256: tag {tag} of {gun} (role {role})")]
    NoSha256 {
        /// The collection.
        gun: String,
        /// The tag.
        tag: String,
        /// The role that signed it.
        role: String,
    },

    /// Docker content trust: the registry serves another manifest than the signed one.
    #[error(
        "the registry serves {name}:{tag} as {registry}, but the trust data of {name} signs {trusted} (role {role})"
    )]
    DigestMismatch {
        /// The image name (the GUN).
        name: String,
        /// The tag.
        tag: String,
        /// The signed digest (`sha256:<hex>`).
        trusted: String,
        /// The registry's digest (`sha256:<hex>`).
        registry: String,
        /// The role the signed digest was found in.
        role: String,
    },

    /// Docker content trust: `revoke` without a tag on a repository with nothing released.
    #[error("no signed tags to remove from {gun}")]
    NoSignedTags {
        /// The collection.
        gun: String,
    },

    /// Docker content trust: a signer or key name that is not allowed.
    #[error("{reason}")]
    InvalidName {
        /// The name.
        name: String,
        /// Docker's message.
        reason: String,
    },

    /// Docker content trust: `signer remove` of a signer the repository does not have.
    #[error("no signer {signer} for repository {gun}")]
    SignerNotFound {
        /// The collection.
        gun: String,
        /// The signer name.
        signer: String,
    },

    /// Docker content trust: the trust server cannot be used for a check that must be fresh.
    #[error("cannot reach the trust server {server} for {gun}: {reason}")]
    ServerUnreachable {
        /// The collection.
        gun: String,
        /// The server URL.
        server: String,
        /// Why.
        reason: String,
        /// The classified connection failure, when the server gave no HTTP answer.
        failure: Option<Box<ConnectFailure>>,
    },

    /// Docker content trust: `key load` of a key file that does not decrypt or decode (a
    /// wrong passphrase, a malformed key); the remedy is the key's, not the file's.
    #[error("cannot load key from provided file {}: {source}", path.display())]
    KeyFileUnreadable {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: Box<signet_signer::Error>,
    },

    /// Docker content trust: a key file that cannot be used by `key load` / `key generate`.
    #[error("{reason}")]
    KeyFile {
        /// The file.
        path: PathBuf,
        /// What is wrong, naming the file.
        reason: String,
    },

    /// Docker content trust: `revoke` published what the keys held here could remove, and the
    /// tag is still signed in roles they cannot sign.
    #[error("{}", still_signed_message(gun, remaining, removed))]
    StillSigned {
        /// The collection.
        gun: String,
        /// Every role that still signs a revoked tag, as the server serves it after the
        /// revocation.
        remaining: Vec<StillSigned>,
        /// The `(tag, role)` pairs that were removed and published.
        removed: Vec<(String, String)>,
    },
}

/// A role that still signs a tag after a revocation, and the keys that could remove it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StillSigned {
    /// The tag (target name).
    pub tag: String,
    /// The role that lists it.
    pub role: String,
    /// Canonical IDs of the keys that can sign the role.
    pub key_ids: Vec<String>,
    /// How many of those keys must sign.
    pub threshold: i64,
}

fn still_signed_message(
    gun: &str,
    remaining: &[StillSigned],
    removed: &[(String, String)],
) -> String {
    let still = remaining
        .iter()
        .map(|s| {
            format!(
                "{} is still signed in {} (keys {}, threshold {})",
                s.tag,
                s.role,
                s.key_ids.join(", "),
                s.threshold
            )
        })
        .collect::<Vec<_>>()
        .join("; ");
    let mut message =
        format!("revocation incomplete for {gun}: {still}, and no key held here can sign it");
    if !removed.is_empty() {
        let done = removed
            .iter()
            .map(|(tag, role)| format!("{tag} from {role}"))
            .collect::<Vec<_>>()
            .join(", ");
        message.push_str(&format!(" (removed and published: {done})"));
    }
    message
}

/// What kept a request from getting an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConnectCause {
    /// The server's TLS certificate is not issued by a CA trusted here.
    UnknownCa,
    /// The server's TLS certificate is unusable for other reasons (expired, issued for another
    /// name, malformed).
    BadCertificate,
    /// `https://` was spoken to a port that answers in plain HTTP.
    NotTls,
    /// `http://` was spoken to a port that gives no HTTP answer (a TLS alert, or the
    /// connection closed): a TLS port.
    NotPlainHttp,
    /// Nothing accepts connections at the address.
    Refused,
    /// The host name does not resolve.
    Dns,
    /// The server did not answer in time.
    Timeout,
    /// The proxy chosen by the environment (`HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY`) could not
    /// be used.
    Proxy {
        /// The proxy's `host:port`.
        proxy: String,
    },
    /// Anything else (the detail says what).
    Other,
}

/// A request to `server` that got no HTTP answer, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.describe())]
pub struct ConnectFailure {
    /// `host:port` of the server.
    pub server: String,
    /// The host name alone.
    pub host: String,
    /// The classified cause.
    pub cause: ConnectCause,
    /// The innermost error's text (`invalid peer certificate: UnknownIssuer`, …).
    pub detail: String,
}

impl ConnectFailure {
    fn describe(&self) -> String {
        let Self {
            server,
            host,
            detail,
            ..
        } = self;
        match &self.cause {
            ConnectCause::UnknownCa => {
                format!("the TLS certificate of {server} is not issued by a trusted CA ({detail})")
            }
            ConnectCause::BadCertificate => {
                format!("the TLS certificate of {server} cannot be accepted ({detail})")
            }
            ConnectCause::NotTls => format!(
                "{server} does not speak TLS: https:// was answered in plain HTTP ({detail})"
            ),
            ConnectCause::NotPlainHttp => format!(
                "{server} gave no plain HTTP answer to http:// ({detail}): it probably expects TLS"
            ),
            ConnectCause::Refused => {
                format!("connection refused by {server} (nothing listens there)")
            }
            ConnectCause::Dns => format!("cannot resolve the host name {host}: {detail}"),
            ConnectCause::Timeout => format!("{server} did not answer in time ({detail})"),
            ConnectCause::Proxy { proxy } => {
                format!("cannot reach {server} through the proxy {proxy}: {detail}")
            }
            ConnectCause::Other => format!("cannot connect to {server}: {detail}"),
        }
    }
}

/// ` of <gun>`, or nothing for a key that belongs to no repository (a signer's key).
fn of_gun(gun: &str) -> String {
    if gun.is_empty() {
        String::new()
    } else {
        format!(" of {gun}")
    }
}

fn rejected_suffix(response: &ErrorEnvelope) -> String {
    let summary = response
        .errors
        .iter()
        .map(|e| {
            if e.message.is_empty() {
                e.code.clone()
            } else {
                e.message.clone()
            }
        })
        .collect::<Vec<_>>()
        .join("; ");
    if summary.is_empty() {
        ".".to_owned()
    } else {
        format!(": {summary}")
    }
}

impl Error {
    pub(crate) fn io(action: &'static str, path: &Path, source: io::Error) -> Self {
        Self::Io {
            action,
            path: path.to_path_buf(),
            source,
        }
    }

    /// Whether the failure means "the server could not be used" (offline, transport error,
    /// 401, 5xx, unexpected status) rather than "the server said no": the cases in which Notary
    /// falls back to cached metadata.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::Remote(e) if e.is_unavailable())
    }

    /// Whether the server answered 404.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::Remote(RemoteError::MetaNotFound { .. }))
    }

    /// Whether the server refused an upload because it already holds a newer version of a
    /// role (400 `VERSION`): another publisher changed the repository between this client's
    /// update and its upload. Nothing of the refused upload was stored; publishing again
    /// fetches the newer repository and applies the staged changes on top of it.
    pub fn is_version_conflict(&self) -> bool {
        matches!(self, Self::Remote(e) if e.is_version_conflict())
    }
}

impl RemoteError {
    /// See [`Error::is_unavailable`].
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            Self::Offline { .. }
                | Self::Network { .. }
                | Self::Unauthorized { .. }
                | Self::ServerUnavailable { .. }
        )
    }

    /// See [`Error::is_version_conflict`].
    pub fn is_version_conflict(&self) -> bool {
        matches!(
            self,
            Self::ServerRejected { response, .. }
                if response.errors.iter().any(|e| e.code == "VERSION")
        )
    }
}

impl From<signet_signer::private_fs::FsError> for Error {
    fn from(e: signet_signer::private_fs::FsError) -> Self {
        Self::Io {
            action: e.action,
            path: e.path,
            source: e.source,
        }
    }
}

/// `From` for each area's error, so that `?` and `.into()` wrap it.
macro_rules! wrap_area {
    ($($area:ident($error:ty)),* $(,)?) => {
        $(
            impl From<$error> for Error {
                fn from(e: $error) -> Self {
                    Self::$area(e)
                }
            }
        )*
    };
}

wrap_area!(
    Config(ConfigError),
    Remote(RemoteError),
    Changelist(ChangelistError),
    Staging(StagingError),
    Publish(PublishError),
    Resign(ResignError),
    Recovery(RecoveryError),
    Trust(TrustError),
    Policy(crate::policy::PolicyError),
);

impl Remediable for Error {
    fn remedy(&self) -> Option<Remedy<'_>> {
        match self {
            Self::InvalidGun { .. } => Some(Remedy::FixGun),
            Self::InvalidRole { .. } | Self::Io { .. } => None,
            Self::NoSuchRole { gun, role, known } => Some(Remedy::ChooseRole {
                gun,
                meant: signet_tuf::remedy::closest(role, known.iter().map(String::as_str)),
            }),
            Self::Config(e) => e.remedy(),
            Self::Remote(e) => e.remedy(),
            Self::Changelist(e) => e.remedy(),
            Self::Staging(e) => e.remedy(),
            Self::Publish(e) => e.remedy(),
            Self::Resign(e) => e.remedy(),
            Self::Recovery(e) => e.remedy(),
            Self::Trust(e) => e.remedy(),
            Self::Policy(e) => e.remedy(),
            Self::Update { source, .. } => source.remedy(),
            Self::Metadata { gun, source, .. } => {
                source.remedy().map(|remedy| remedy.in_repository(gun))
            }
            Self::Key { source, .. } => source.remedy(),
            Self::RepositoryNotExist { gun, .. } => Some(Remedy::CreateRepository { gun }),
            Self::NotInitialized { gun } => Some(Remedy::InitializeRepository { gun }),
            Self::Registry(e) => e.remedy(),
            Self::Sigstore(e) => e.remedy(),
        }
    }
}

impl Remediable for ConfigError {
    fn remedy(&self) -> Option<Remedy<'_>> {
        Some(match self {
            Self::File { path, .. } => Remedy::FixConfigFile { path },
            Self::Value { .. } | Self::TrustPinningCertsFormat => Remedy::FixConfigValue,
            Self::ClientCertPair => Remedy::PairClientCertificate,
            Self::ServerUrl { .. } => Remedy::FixServerUrl,
            Self::InvalidTrustPinning { gun } => Remedy::PinTrust { gun },
            Self::PinnedCa { .. } => Remedy::CheckPinnedCa,
        })
    }
}

impl Remediable for RemoteError {
    fn remedy(&self) -> Option<Remedy<'_>> {
        match self {
            Self::Tls { .. } => Some(Remedy::CheckTls),
            Self::InvalidCredentials { .. } => Some(Remedy::FixCredentials),
            Self::Offline {
                failure: Some(failure),
                ..
            }
            | Self::Network {
                failure: Some(failure),
                ..
            } => failure.remedy(),
            Self::Offline { .. } | Self::Network { .. } | Self::ServerUnavailable { .. } => {
                Some(Remedy::CheckServer)
            }
            Self::MetaNotFound { gun, .. } => Some(Remedy::CreateRepository { gun }),
            Self::Unauthorized { .. } | Self::TokenFetch { .. } => Some(Remedy::SupplyCredentials),
            Self::ServerRejected { gun, .. } if self.is_version_conflict() => {
                Some(Remedy::PublishAgain { gun })
            }
            Self::ServerValidation { gun, .. } | Self::ServerRejected { gun, .. } => {
                Some(Remedy::ReviewChanges { gun })
            }
            Self::MaliciousServer { .. } | Self::BadResponse { .. } => None,
        }
    }
}

impl Remediable for ConnectFailure {
    fn remedy(&self) -> Option<Remedy<'_>> {
        let server = self.server.as_str();
        Some(match &self.cause {
            ConnectCause::UnknownCa => Remedy::TrustServerCa { server },
            ConnectCause::BadCertificate => Remedy::CheckServerCertificate { server },
            ConnectCause::NotTls => Remedy::UseScheme {
                server,
                scheme: "http",
            },
            ConnectCause::NotPlainHttp => Remedy::UseScheme {
                server,
                scheme: "https",
            },
            ConnectCause::Refused => Remedy::StartServer { server },
            ConnectCause::Dns => Remedy::FixServerHost { host: &self.host },
            ConnectCause::Timeout => Remedy::CheckNetworkPath { server },
            ConnectCause::Proxy { proxy } => Remedy::CheckProxy { proxy, server },
            // Anything unforeseen: the message has the detail.
            _ => Remedy::CheckServer,
        })
    }
}

impl Remediable for ChangelistError {
    fn remedy(&self) -> Option<Remedy<'_>> {
        match self {
            Self::Unreadable { path, .. } => Some(Remedy::RepairChange { path }),
            Self::IndexOutOfRange { .. } => Some(Remedy::ListChanges),
            Self::Payload { .. } => None,
        }
    }
}

impl Remediable for StagingError {
    fn remedy(&self) -> Option<Remedy<'_>> {
        match self {
            Self::InvalidTargetRole { .. } => Some(Remedy::ChooseTargetRole),
            Self::PublicKeyInvalid { .. } => Some(Remedy::GivePublicKeyFile),
            Self::InvalidTargetMeta { .. }
            | Self::PublicKeyFileMissing { .. }
            | Self::PublicKeyFileUnreadable { .. } => None,
        }
    }
}

impl Remediable for PublishError {
    fn remedy(&self) -> Option<Remedy<'_>> {
        match self {
            Self::ChangeRejected { gun, .. } => Some(Remedy::DropChange { gun }),
            Self::NoSigningKeys { role, key_ids, .. } => Some(Remedy::ImportKey {
                role: Some(role),
                key_ids,
            }),
            // The message says what to do: import the root key, or rotate it.
            Self::RootCertificateExpired { .. } => None,
        }
    }
}

impl Remediable for ResignError {
    fn remedy(&self) -> Option<Remedy<'_>> {
        match self {
            Self::KeyMissing { role, key_ids, .. } => Some(Remedy::ImportKey {
                role: Some(role),
                key_ids,
            }),
            Self::NothingToSign { .. } => Some(Remedy::ImportKey {
                role: None,
                key_ids: &[],
            }),
            Self::UnknownRole { .. } | Self::InvalidLifetime { .. } | Self::RootTooShort { .. } => {
                None
            }
        }
    }
}

impl Remediable for RecoveryError {
    fn remedy(&self) -> Option<Remedy<'_>> {
        Some(match self {
            Self::UntrustedKey { gun, trusted, .. } | Self::NothingLeaked { gun, trusted, .. } => {
                Remedy::NameLeakedKey { gun, trusted }
            }
            Self::Changed { gun, .. } => Remedy::RecoverAgain { gun },
        })
    }
}

impl Remediable for TrustError {
    fn remedy(&self) -> Option<Remedy<'_>> {
        Some(match self {
            Self::DigestReference { .. } | Self::NoTag { .. } => Remedy::NameTag,
            Self::NoSignableRoles { gun, .. } => Remedy::AddSigner { gun },
            Self::TagNotSigned { gun, tag } => Remedy::SignTag { gun, tag },
            Self::NoSha256 { gun, tag, .. } => Remedy::ResignTag { gun, tag },
            Self::DigestMismatch { name, tag, .. } => Remedy::DoNotPull { gun: name, tag },
            Self::NoSignedTags { .. } => Remedy::ListSignedTags,
            Self::InvalidName { .. } => Remedy::ChooseValidName,
            Self::SignerNotFound { gun, .. } => Remedy::ListSigners { gun },
            Self::ServerUnreachable {
                failure: Some(failure),
                ..
            } => return failure.remedy(),
            Self::ServerUnreachable { .. } => Remedy::CheckServer,
            Self::KeyFileUnreadable { source, .. } => return source.remedy(),
            Self::KeyFile { .. } => Remedy::FixKeyFile,
            Self::StillSigned { gun, remaining, .. } => match remaining.first() {
                Some(first) => Remedy::RevokeInRole {
                    gun,
                    tag: &first.tag,
                    role: &first.role,
                    key_ids: &first.key_ids,
                },
                None => Remedy::ListSignedTags,
            },
        })
    }
}
