//! Errors of the server, one type (or a few) per module, grouped here by module:
//!
//! - the HTTP side, [`crate::http`] and [`crate::auth`]: [`ServerError`], whose own variants
//!   are about the request (the multipart body, its size, the GUN it names, a version number
//!   in the path, the changefeed parameters, the token) and which wraps a [`ServiceError`];
//! - the repository service, [`crate::service`] and [`crate::validation`]: [`ServiceError`] and the
//!   [`ValidationError`] of a refused upload. Neither knows about HTTP;
//! - moving keys to and from a Go notary-signer database, [`crate::notary_signer`]:
//!   [`NotarySignerError`], [`JweError`];
//! - opening either Go database, [`crate::notary_db`]: [`NotaryDbError`];
//! - copying a Go notary-server database, [`crate::notary_server`]: [`NotaryServerError`];
//! - server keys in a YubiHSM 2, [`crate::hsm`]: [`HsmError`], and moving sealed keys onto
//!   it: [`MoveKeysError`];
//! - listing the repositories that trust a key, [`crate::trusted_by`]: [`TrustedByError`];
//! - token authentication, [`crate::auth`]: [`TokenError`];
//! - the key-encryption key, [`crate::kek`]: [`KekError`]; re-sealing the server keys under a
//!   new one: [`RotateKekError`];
//! - the configuration file, [`crate::config`]: [`ConfigError`];
//! - starting and running the server, [`crate::server`]: [`RunError`].
//!
//! The store's errors ([`crate::store::StoreError`]) live in `store/error.rs`, beside the two
//! backends that raise them.
//!
//! Every variant names the GUN, role, key ID or version it is about. The HTTP status and the
//! Notary error code of each [`ServerError`] and [`ServiceError`] are chosen in exactly one
//! place: [`crate::http::error`].

use crate::store::StoreError;

// The HTTP side: `crate::http`, `crate::auth`.

/// An error raised while serving a request: one about the request itself, or the
/// [`ServiceError`] of the operation it asked for.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// A multipart part had no usable file name (the role name).
    #[error("a part of the upload for {gun} has no file name")]
    NoFilename {
        /// The GUN being updated.
        gun: String,
    },
    /// A multipart part named a role that is not a valid role name.
    #[error("invalid role {role:?} in the upload for {gun}")]
    InvalidRole {
        /// The GUN being updated.
        gun: String,
        /// The role name as sent (with any `.json` suffix removed).
        role: String,
    },
    /// A part could not be decoded as signed metadata.
    #[error("the {role} part of the upload for {gun} is not valid metadata JSON: {reason}")]
    MalformedJson {
        /// The GUN being updated.
        gun: String,
        /// The role of the part.
        role: String,
        /// Why decoding failed.
        reason: String,
    },
    /// The request body is not a multipart body the server can read.
    #[error("malformed upload for {gun}: {reason}")]
    MalformedUpload {
        /// The GUN being updated.
        gun: String,
        /// What is wrong with the body.
        reason: String,
    },
    /// The request body is larger than the configured limit.
    #[error("request body for {gun} is larger than the limit of {limit} bytes")]
    BodyTooLarge {
        /// The GUN of the request (empty when the route has none).
        gun: String,
        /// The configured limit in bytes.
        limit: usize,
    },
    /// A write to a GUN outside the configured prefixes, or a GUN the server cannot store.
    #[error("GUN {gun:?} is not accepted: {reason}")]
    InvalidGun {
        /// The GUN as requested.
        gun: String,
        /// The error detail sent to the client.
        reason: String,
    },
    /// A version number in a path could not be read as an integer.
    #[error("version {text:?} of role {role} of {gun} is out of range")]
    BadVersionNumber {
        /// The GUN asked for.
        gun: String,
        /// The role asked for.
        role: String,
        /// The digits as given in the path.
        text: String,
    },
    /// Changefeed query parameters could not be read.
    #[error("invalid changefeed parameter for {gun:?}: {detail}")]
    InvalidParameters {
        /// The GUN filter (empty for the global feed).
        gun: String,
        /// What is wrong, sent as the error detail.
        detail: String,
    },
    /// The key ID of `GET /v2/_trust/keys/<keyid>/repositories` is not 64 hex digits.
    #[error("invalid key ID {key_id:?}: a key ID is 64 hexadecimal digits")]
    InvalidKeyId {
        /// The key ID as requested (at most 100 characters of it).
        key_id: String,
    },
    /// The query parameters of `GET /v2/_trust/keys/<keyid>/repositories` could not be read.
    #[error("invalid parameter for the repositories trusting key {key_id}: {detail}")]
    InvalidTrustQuery {
        /// The key ID asked about.
        key_id: String,
        /// What is wrong, sent as the error detail.
        detail: String,
    },
    /// The request carries no valid token granting the required access.
    #[error("authentication required for {0}")]
    Unauthorized(Box<crate::auth::Challenge>),
    /// A response could not be written; the server's fault.
    #[error("internal error: {0}")]
    Internal(String),
    /// The operation of the repository service failed.
    #[error(transparent)]
    MetadataService(#[from] ServiceError),
}

impl ServerError {
    /// No metadata of `role` of `gun`: the answer to a path that names nothing the server
    /// serves, or a GUN it does not serve (`gun` and `role` empty when the path names none).
    pub fn not_found(gun: &str, role: &str) -> Self {
        ServiceError::not_found(gun, role).into()
    }
}

// The repository service: `crate::service`, `crate::validation`.

/// An error of an operation of the repository service ([`crate::service::MetadataService`]): a read,
/// an upload and its validation, a key request, a delete. Independent of HTTP.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The metadata, key or resource asked for does not exist.
    #[error("no metadata for role {role} of {gun}")]
    MetadataNotFound {
        /// The GUN asked for (empty for paths that name none).
        gun: String,
        /// The role asked for (empty for paths that name none).
        role: String,
    },
    /// An upload names the same role twice.
    #[error("malformed upload for {gun}: the upload names role {role} more than once")]
    DuplicateRole {
        /// The GUN being updated.
        gun: String,
        /// The role named more than once.
        role: String,
    },
    /// Storage already holds the same or a newer version of a role in the update.
    #[error("a newer version of {role} is already stored for {gun}")]
    OldVersion {
        /// The GUN being updated.
        gun: String,
        /// The role whose version was refused (empty when storage did not say).
        role: String,
    },
    /// The uploaded metadata failed validation.
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// Storing an update failed for a reason other than a version conflict.
    #[error("storing the update of {gun} failed: {source}")]
    Updating {
        /// The GUN being updated.
        gun: String,
        /// The storage error.
        source: StoreError,
    },
    /// The database is unreachable.
    #[error("storage unavailable while serving {gun:?}: {source}")]
    Unavailable {
        /// The GUN of the request (empty when the route has none).
        gun: String,
        /// The storage error.
        source: StoreError,
    },
    /// A storage error while reading.
    #[error("storage error while serving {gun:?}: {source}")]
    Storage {
        /// The GUN of the request (empty when the route has none).
        gun: String,
        /// The storage error.
        source: StoreError,
    },
    /// The server could not sign or produce metadata it must produce.
    #[error("cannot produce {role} for {gun}: {reason}")]
    Signing {
        /// The GUN.
        gun: String,
        /// The role being produced.
        role: String,
        /// What went wrong.
        reason: String,
    },
    /// A server-held key could not be created, sealed or opened.
    #[error("server key for role {role} of {gun}: {reason}")]
    ServerKey {
        /// The GUN.
        gun: String,
        /// The role (`timestamp` or `snapshot`).
        role: String,
        /// What went wrong.
        reason: String,
    },
    /// The current root of the GUN does not parse (a key request reads it); the server's
    /// fault.
    #[error("internal error: stored {role} of {gun} does not parse: {reason}")]
    StoredUnparsable {
        /// The GUN.
        gun: String,
        /// The role of the stored file (`root`).
        role: String,
        /// What the parser said.
        reason: String,
    },
    /// A stored file that re-signing expired metadata starts from does not parse.
    #[error("internal error: stored {role} of {gun}: {reason}")]
    ResignSource {
        /// The GUN.
        gun: String,
        /// The role of the stored file (`root` or `snapshot`).
        role: String,
        /// What the parser said.
        reason: String,
    },
}

impl ServiceError {
    /// No metadata of `role` of `gun`.
    pub fn not_found(gun: &str, role: &str) -> Self {
        Self::MetadataNotFound {
            gun: gun.to_owned(),
            role: role.to_owned(),
        }
    }

    /// Wraps a storage error raised while reading data of `gun`.
    pub fn from_store_read(gun: &str, source: StoreError) -> Self {
        if source.is_unavailable() {
            Self::Unavailable {
                gun: gun.to_owned(),
                source,
            }
        } else {
            Self::Storage {
                gun: gun.to_owned(),
                source,
            }
        }
    }

    /// Wraps a storage error raised while writing an update of `gun`.
    pub fn from_store_write(gun: &str, source: StoreError) -> Self {
        match source {
            StoreError::OldVersion { role, .. } => Self::OldVersion {
                gun: gun.to_owned(),
                role,
            },
            StoreError::VersionOutOfRange { role, version, .. } => {
                Self::Invalid(ValidationError::Validation {
                    gun: gun.to_owned(),
                    msg: format!(
                        "{role} version {version} is out of range: the largest version the \
                         server stores is {}",
                        i32::MAX
                    ),
                })
            }
            source if source.is_unavailable() => Self::Unavailable {
                gun: gun.to_owned(),
                source,
            },
            source => Self::Updating {
                gun: gun.to_owned(),
                source,
            },
        }
    }
}

/// Why an upload was refused, in the five categories the Notary client understands.
///
/// The variant decides the `Name` of the `INVALID_UPDATE` detail; `msg` is its `Msg`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValidationError {
    /// `ErrBadRoot`: the root in the update (or the one stored) is not acceptable.
    #[error("the root metadata of {gun} is invalid: {msg}")]
    BadRoot {
        /// The GUN being updated.
        gun: String,
        /// The reason, sent to the client.
        msg: String,
    },
    /// `ErrBadTargets`: a targets or delegation file is not acceptable.
    #[error("the {role} metadata of {gun} is invalid: {msg}")]
    BadTargets {
        /// The GUN being updated.
        gun: String,
        /// The targets role at fault.
        role: String,
        /// The reason, sent to the client.
        msg: String,
    },
    /// `ErrBadSnapshot`: the uploaded snapshot is not acceptable.
    #[error("the snapshot metadata of {gun} is invalid: {msg}")]
    BadSnapshot {
        /// The GUN being updated.
        gun: String,
        /// The reason, sent to the client.
        msg: String,
    },
    /// `ErrBadHierarchy`: a role the update needs is missing.
    #[error("metadata hierarchy of {gun} is incomplete ({missing} missing): {msg}")]
    BadHierarchy {
        /// The GUN being updated.
        gun: String,
        /// The missing role.
        missing: String,
        /// The reason, sent to the client.
        msg: String,
    },
    /// `ErrValidation`: any other validation failure.
    #[error("validation of the update of {gun} failed: {msg}")]
    Validation {
        /// The GUN being updated.
        gun: String,
        /// The reason, sent to the client.
        msg: String,
    },
    /// The stored repository cannot be loaded; sent as `INVALID_UPDATE` without detail.
    #[error("the stored {role} of {gun} cannot be used: {msg}")]
    StoredUnusable {
        /// The GUN being updated.
        gun: String,
        /// The stored role at fault.
        role: String,
        /// The reason (logged, not sent).
        msg: String,
    },
}

// Keys of a Go notary-signer database: `crate::notary_signer`.

/// Why a notary-signer JWE (the `private` column of its `private_keys` table) could not be
/// read or written. Never shows the passphrase or any key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JweError {
    /// The serialization is longer than any private key's.
    #[error("JWE of {len} characters is longer than the limit of {max}")]
    TooLong {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The compact serialization does not have five dot-separated parts.
    #[error("a compact JWE has 5 dot-separated parts, this one has {found}")]
    Parts {
        /// How many parts were found.
        found: usize,
    },
    /// A part is not base64url.
    #[error("the JWE {part} is not valid base64url")]
    Base64 {
        /// The part: `header`, `encrypted key`, `IV`, `ciphertext`, `authentication tag` or
        /// `p2s`.
        part: &'static str,
    },
    /// A part has the wrong length for `PBES2-HS256+A128KW` / `A256GCM`.
    #[error("the JWE {part} has {len} bytes, expected {expected}")]
    Length {
        /// The part.
        part: &'static str,
        /// Its length.
        len: usize,
        /// The length it must have.
        expected: usize,
    },
    /// The protected header is not a JSON object with the fields needed.
    #[error("invalid JWE header: {reason}")]
    Header {
        /// What is wrong.
        reason: String,
    },
    /// The header names another key management algorithm.
    #[error("unsupported JWE key management algorithm {alg:?} (notary-signer uses {expected})")]
    Algorithm {
        /// The `alg` found (at most 64 characters).
        alg: String,
        /// The one supported.
        expected: &'static str,
    },
    /// The header names another content encryption algorithm.
    #[error("unsupported JWE content encryption {enc:?} (notary-signer uses {expected})")]
    Encryption {
        /// The `enc` found (at most 64 characters).
        enc: String,
        /// The one supported.
        expected: &'static str,
    },
    /// The PBKDF2 iteration count is not an integer from 1 to the cap.
    #[error("JWE iteration count p2c = {p2c} is outside 1..={max}; refused without deriving")]
    IterationCount {
        /// The value found, as text.
        p2c: String,
        /// The cap ([`crate::notary_signer::jwe::MAX_ITERATIONS`]).
        max: u64,
    },
    /// An empty passphrase (notary-signer refuses them too).
    #[error("empty passphrase")]
    EmptyPassphrase,
    /// The AES key unwrap failed its integrity check: a wrong passphrase, or a modified salt,
    /// iteration count or encrypted key.
    #[error("key unwrap failed: wrong passphrase (or a modified salt or encrypted key)")]
    Unwrap,
    /// AES-GCM authentication failed: the ciphertext, IV, tag or header was modified.
    #[error("content authentication failed: the JWE ciphertext, IV, tag or header was modified")]
    Authentication,
    /// No randomness was available.
    #[error("no system randomness for the JWE")]
    Random,
    /// A cryptographic primitive refused its input.
    #[error("JWE: {0}")]
    Crypto(&'static str),
}

/// One passphrase alias of a notary-signer database and the keys it protects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AliasProblem {
    /// The `passphrase_alias`.
    pub alias: String,
    /// The environment variable the passphrase is read from (`NOTARY_SIGNER_<ALIAS>`).
    pub env_var: String,
    /// How many keys use the alias.
    pub keys: usize,
}

/// One key that cannot be imported or exported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyProblem {
    /// The TUF key ID.
    pub key_id: String,
    /// The GUN (the notary-signer row's, which may be empty, or signet's).
    pub gun: String,
    /// The role (likewise).
    pub role: String,
    /// What is wrong.
    pub reason: String,
}

impl std::fmt::Display for KeyProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "key {} (GUN {:?}, role {:?}): {}",
            self.key_id, self.gun, self.role, self.reason
        )
    }
}

fn list<T>(items: &[T], f: impl Fn(&T) -> String) -> String {
    items.iter().map(f).collect::<Vec<_>>().join("; ")
}

/// An error of `signet-server import-notary-signer` or `export-notary-signer`. Nothing is
/// written when one is returned.
#[derive(Debug, thiserror::Error)]
pub enum NotarySignerError {
    /// No notary-signer database URL was given.
    #[error(
        "no notary-signer database: give --signer-database-url, \
         SIGNET_SERVER_SIGNER_DATABASE_URL or [notary_signer] database_url"
    )]
    NoSignerDatabase,
    /// The notary-signer database URL names no supported backend.
    #[error(
        "unsupported notary-signer database URL scheme {scheme:?}: expected postgres:// or mysql://"
    )]
    SignerUrl {
        /// The scheme (never the rest of the URL, which may hold a password).
        scheme: String,
    },
    /// The notary-signer database failed.
    #[error("notary-signer database, {context}: {source}")]
    SignerDatabase {
        /// The operation (and key ID, when there is one).
        context: String,
        /// The driver error.
        #[source]
        source: sqlx::Error,
    },
    /// signet's own store failed.
    #[error("signet database, {context}: {source}")]
    Store {
        /// The operation, with the GUN, role and key ID involved.
        context: String,
        /// The store error.
        #[source]
        source: StoreError,
    },
    /// The metadata of a GUN could not be read to place its keys.
    #[error("cannot read the current metadata of {gun}: {reason}")]
    Metadata {
        /// The GUN.
        gun: String,
        /// Why.
        reason: String,
    },
    /// Keys use passphrase aliases for which no passphrase is configured.
    #[error(
        "no passphrase for {}; nothing was written",
        list(.0, |a| format!(
            "notary-signer alias {:?} (protects {} key{}): set {} or \
             [notary_signer.passphrases] {:?} in the configuration",
            a.alias, a.keys, plural(a.keys), a.env_var, a.alias
        ))
    )]
    MissingPassphrases(Vec<AliasProblem>),
    /// A passphrase opens none of the keys of its alias.
    #[error(
        "wrong passphrase for {}; nothing was written",
        list(.0, |a| format!(
            "notary-signer alias {:?} ({} or [notary_signer.passphrases]): it opens none of \
             the {} key{} it protects",
            a.alias, a.env_var, a.keys, plural(a.keys)
        ))
    )]
    WrongPassphrases(Vec<AliasProblem>),
    /// Keys that cannot be imported (corrupt, unsupported, not matching their public key).
    #[error(
        "{} key{} cannot be imported, so nothing was written (--skip-key <key ID> leaves a \
         key out): {}",
        .0.len(), plural(.0.len()), list(.0, ToString::to_string)
    )]
    Keys(Vec<KeyProblem>),
    /// Server keys that cannot be exported (not opening with the key-encryption key, or
    /// clashing with a row of the notary-signer database).
    #[error(
        "{} key{} cannot be exported, so nothing was written: {}",
        .0.len(), plural(.0.len()), list(.0, ToString::to_string)
    )]
    ExportKeys(Vec<KeyProblem>),
    /// A notary-signer alias name that its column cannot hold.
    #[error("invalid notary-signer passphrase alias {alias:?}: {reason}")]
    InvalidAlias {
        /// The alias.
        alias: String,
        /// Why.
        reason: &'static str,
    },
    /// The private key work could not run to completion.
    #[error("{0}")]
    Internal(String),
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

// Opening a Go notary database: `crate::notary_db`.

/// Why a Go notary database (notary-signer's or notary-server's) could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum NotaryDbError {
    /// The URL names no supported backend.
    #[error("unsupported database URL scheme {scheme:?}: expected postgres:// or mysql://")]
    Scheme {
        /// The scheme (never the rest of the URL, which may hold a password).
        scheme: String,
    },
    /// The URL could not be parsed or the database did not answer.
    #[error("connecting: {source}")]
    Connect {
        /// The driver error.
        #[source]
        source: sqlx::Error,
    },
}

// Copying a Go notary-server database: `crate::notary_server`.

/// A row of a Go notary-server database whose content differs from the row signet already
/// stores under the same key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowConflict {
    /// A `tuf_files` row, keyed by (GUN, role, version).
    File {
        /// The GUN.
        gun: String,
        /// The role.
        role: String,
        /// The version.
        version: i64,
        /// The columns that differ.
        columns: Vec<&'static str>,
    },
    /// A changefeed record, keyed by its ID.
    Change {
        /// The record ID.
        id: i64,
        /// The GUN of the record being copied.
        gun: String,
        /// The columns that differ.
        columns: Vec<&'static str>,
    },
}

impl std::fmt::Display for RowConflict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::File {
                gun,
                role,
                version,
                columns,
            } => write!(
                f,
                "{gun} {role} version {version} (differs in {})",
                columns.join(", ")
            ),
            Self::Change { id, gun, columns } => write!(
                f,
                "changefeed record {id} of {gun} (differs in {})",
                columns.join(", ")
            ),
        }
    }
}

/// How many conflicts an error message names before summing up the rest.
const CONFLICTS_NAMED: usize = 20;

fn conflict_list(conflicts: &[RowConflict], total: usize) -> String {
    let mut out = list(
        conflicts.get(..CONFLICTS_NAMED).unwrap_or(conflicts),
        ToString::to_string,
    );
    if total > CONFLICTS_NAMED {
        out.push_str(&format!("; and {} more", total - CONFLICTS_NAMED));
    }
    out
}

/// An error of `signet-server import-notary-server`. Nothing is written when one is
/// returned.
#[derive(Debug, thiserror::Error)]
pub enum NotaryServerError {
    /// The notary-server database URL names no supported backend.
    #[error(
        "unsupported notary-server database URL scheme {scheme:?}: expected postgres:// or mysql://"
    )]
    SourceUrl {
        /// The scheme (never the rest of the URL, which may hold a password).
        scheme: String,
    },
    /// The notary-server database failed.
    #[error("notary-server database, {context}: {source}")]
    SourceDatabase {
        /// The operation.
        context: String,
        /// The driver error.
        #[source]
        source: sqlx::Error,
    },
    /// A row of the notary-server database that cannot be copied.
    #[error(
        "notary-server database, {table} row {id} (GUN {gun:?}): {reason}; nothing was written"
    )]
    SourceRow {
        /// `tuf_files` or `changefeed`.
        table: &'static str,
        /// The row's `id`.
        id: i64,
        /// The row's GUN.
        gun: String,
        /// What is wrong.
        reason: String,
    },
    /// signet's own store failed.
    #[error("signet database, {context}: {source}; nothing was written")]
    Store {
        /// The operation.
        context: String,
        /// The store error.
        #[source]
        source: StoreError,
    },
    /// Rows that signet already stores with other content.
    #[error(
        "{total} row{} of the notary-server database differ{} from what signet already stores \
         under the same (GUN, role, version) or changefeed ID, so nothing was written: {}",
        plural(*.total), if *.total == 1 { "s" } else { "" }, conflict_list(.conflicts, *.total)
    )]
    Conflicts {
        /// The conflicts (the first ones, when there are very many).
        conflicts: Vec<RowConflict>,
        /// How many rows conflict.
        total: usize,
    },
}

// Server keys in a YubiHSM 2: `crate::hsm`.

/// An error of the YubiHSM 2 that holds server keys.
///
/// Variants name the connector and authentication key, or the GUN, role and key ID involved.
/// None carries the password or key material.
#[derive(Debug, thiserror::Error)]
pub enum HsmError {
    /// No password for the authentication key was found where the configuration says.
    #[error(
        "no password for YubiHSM 2 authentication key {auth_key_id} at {connector}: {source_name} \
         is not set (set it, or keys.yubihsm.password_file / --yubihsm-password-file)"
    )]
    MissingPassword {
        /// The connector.
        connector: String,
        /// The authentication key.
        auth_key_id: u16,
        /// Where the password was looked for (`environment variable X`).
        source_name: String,
    },
    /// The password file could not be read.
    #[error(
        "cannot read the password of YubiHSM 2 authentication key {auth_key_id} from {path}: \
         {source}"
    )]
    PasswordFile {
        /// The authentication key.
        auth_key_id: u16,
        /// The file.
        path: std::path::PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Connecting or authenticating failed (connector down, wrong password or key ID).
    #[error(
        "cannot use the YubiHSM 2 for server keys: connector {connector}, authentication key \
         {auth_key_id}: {source}"
    )]
    Connect {
        /// The connector.
        connector: String,
        /// The authentication key.
        auth_key_id: u16,
        /// The device error.
        #[source]
        source: Box<signet_signer::yubihsm::Error>,
    },
    /// A device operation on a server key failed.
    #[error("YubiHSM 2 at {connector}, {operation} of the {role} key {key_id} of {gun}: {source}")]
    Key {
        /// The connector.
        connector: String,
        /// What was done: `generate`, `sign`, `import`, `remove`, `read`.
        operation: &'static str,
        /// The GUN.
        gun: String,
        /// The role.
        role: String,
        /// The key ID (`(new)` for a key being generated).
        key_id: String,
        /// The device error.
        #[source]
        source: Box<signet_signer::yubihsm::Error>,
    },
    /// A key is held in a YubiHSM 2 but none is configured.
    #[error(
        "the {role} key {key_id} of {gun} is held in a YubiHSM 2 (object {object_id:#06x}) but no \
         YubiHSM 2 is configured: set [keys.yubihsm], or run move-keys-off-yubihsm for keys that \
         still have their sealed copy"
    )]
    NotConfigured {
        /// The GUN.
        gun: String,
        /// The role.
        role: String,
        /// The key ID.
        key_id: String,
        /// The object ID recorded for it.
        object_id: u16,
    },
    /// A blocking device task panicked or was cancelled.
    #[error("YubiHSM 2 at {connector}, {operation}: the device task ended abnormally: {detail}")]
    Task {
        /// The connector.
        connector: String,
        /// What was done.
        operation: &'static str,
        /// The join error.
        detail: String,
    },
}

/// Why `move-keys-to-yubihsm` (or `move-keys-off-yubihsm`) stopped.
#[derive(Debug, thiserror::Error)]
pub enum MoveKeysError {
    /// signet's store failed.
    #[error("signet database, {context}: {source}")]
    Store {
        /// The operation (with GUN, role and key ID when there is one).
        context: String,
        /// The store error.
        #[source]
        source: StoreError,
    },
    /// The device failed.
    #[error(transparent)]
    Hsm(#[from] HsmError),
    /// A sealed key did not open or is not the key its row names.
    #[error("the {role} key {key_id} of {gun}: {reason}")]
    Key {
        /// The GUN.
        gun: String,
        /// The role.
        role: String,
        /// The key ID.
        key_id: String,
        /// What is wrong (never key material).
        reason: String,
    },
}

/// Why `signet-server trusted-by` could not answer.
#[derive(Debug, thiserror::Error)]
pub enum TrustedByError {
    /// The key ID given is not 64 hexadecimal digits.
    #[error("invalid key ID {key_id:?}: a key ID is 64 hexadecimal digits")]
    InvalidKeyId {
        /// The key ID as given.
        key_id: String,
    },
    /// The key file could not be read.
    #[error("cannot read the key file {}: {source}", path.display())]
    KeyFileUnreadable {
        /// The file.
        path: std::path::PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The key file holds no certificate or public key.
    #[error(
        "the key file {} holds no usable key (a PEM CERTIFICATE or PUBLIC KEY was expected): \
         {reason}",
        path.display()
    )]
    KeyFileInvalid {
        /// The file.
        path: std::path::PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The store failed.
    #[error("reading the repositories that trust key {key_id}: {source}")]
    Store {
        /// The key ID asked about.
        key_id: String,
        /// The store error.
        #[source]
        source: StoreError,
    },
    /// The answer could not be written out.
    #[error("writing the answer: {0}")]
    Output(#[source] std::io::Error),
}

/// Why token auth could not be set up, or why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// The root certificate bundle could not be read.
    #[error("root certificate bundle: {0}")]
    Bundle(String),
    /// A token is malformed, badly signed, expired or not for this service.
    #[error("invalid token: {0}")]
    Invalid(String),
}

/// Why the key-encryption key could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum KekError {
    /// The file could not be read or written.
    #[error("key-encryption key file {path}: {source}")]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file does not hold 64 hex digits.
    #[error("key-encryption key file {path} must hold 32 bytes as 64 hex digits")]
    Format {
        /// The file.
        path: std::path::PathBuf,
    },
    /// No randomness was available.
    #[error("cannot generate a key-encryption key: no system randomness")]
    Random,
}

/// Why `signet-server rotate-kek` changed nothing.
#[derive(Debug, thiserror::Error)]
pub enum RotateKekError {
    /// A key-encryption key file could not be read or created.
    #[error(transparent)]
    Kek(#[from] KekError),
    /// signet's store failed.
    #[error("signet database, {context}: {source}")]
    Store {
        /// The operation.
        context: String,
        /// The store error.
        #[source]
        source: StoreError,
    },
    /// A sealed key does not open with the current key-encryption key (the wrong file, or a
    /// damaged row): nothing was re-sealed.
    #[error(
        "the {role} key {key_id} of {gun} does not open with the current key-encryption key \
         ({reason}); nothing was changed: give the key-encryption key the server runs with"
    )]
    Open {
        /// The GUN of the key.
        gun: String,
        /// The role of the key.
        role: String,
        /// The key ID.
        key_id: String,
        /// Why it does not open.
        reason: String,
    },
    /// Sealing under the new key-encryption key failed.
    #[error(
        "cannot seal the {role} key {key_id} of {gun} under the new key-encryption key: {reason}"
    )]
    Seal {
        /// The GUN of the key.
        gun: String,
        /// The role of the key.
        role: String,
        /// The key ID.
        key_id: String,
        /// Why.
        reason: String,
    },
    /// The new key-encryption key opens the keys already: it is the current one.
    #[error(
        "the new key-encryption key {path} is the current one (it opens the {role} key \
         {key_id} of {gun}); nothing was changed"
    )]
    SameKek {
        /// The new key file.
        path: std::path::PathBuf,
        /// The GUN of the key that opened.
        gun: String,
        /// Its role.
        role: String,
        /// Its key ID.
        key_id: String,
    },
    /// The server keys changed while they were re-sealed (a running server created or rotated
    /// one): the transaction was rolled back.
    #[error(
        "the server keys changed while they were re-sealed; nothing was changed: stop every \
         signet-server using this database and run rotate-kek again"
    )]
    Changed,
}

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The configuration file could not be read.
    #[error("cannot read configuration file {path}: {source}")]
    Read {
        /// The file.
        path: std::path::PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The configuration file is not valid TOML for this schema.
    #[error("invalid configuration file {path}: {message}")]
    Parse {
        /// The file.
        path: std::path::PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A value is out of range or inconsistent with another.
    #[error("invalid setting {key}: {message}")]
    Invalid {
        /// The setting, in `section.key` form.
        key: &'static str,
        /// What is wrong.
        message: String,
    },
}

/// Why the server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The database could not be opened or migrated.
    #[error("storage: {0}")]
    Store(#[from] StoreError),
    /// The SQLite database file is on a read-only file system: the server needs to write it
    /// (migrations, its write-ahead log), so it does not start.
    #[error(
        "storage: the SQLite database {path} is on a read-only file system; mount it \
         read-write and start the server again: {source}"
    )]
    ReadOnlyDatabase {
        /// The database file.
        path: std::path::PathBuf,
        /// The error opening or migrating it.
        source: StoreError,
    },
    /// The key-encryption key could not be loaded.
    #[error(transparent)]
    Kek(#[from] KekError),
    /// The YubiHSM 2 for server keys could not be opened.
    #[error(transparent)]
    Hsm(#[from] HsmError),
    /// `keys.store = "yubihsm"` without a device to generate keys on.
    #[error("keys.store is \"yubihsm\" but no YubiHSM 2 was given to the server")]
    NoKeyDevice,
    /// TLS files could not be loaded.
    #[error("TLS: {0}")]
    Tls(String),
    /// Token auth could not be set up.
    #[error("token auth: {0}")]
    Auth(String),
    /// The listener failed.
    #[error("listener on {addr}: {source}")]
    Listen {
        /// The address.
        addr: std::net::SocketAddr,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The data directory could not be created.
    #[error("data directory {path}: {source}")]
    DataDir {
        /// The directory.
        path: std::path::PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}
