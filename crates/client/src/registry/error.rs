//! Errors of image reference parsing and registry lookups.
//!
//! [`ReferenceError`] carries docker's own texts (`distribution/reference` and `go-digest`), so
//! a user sees the message docker would print. [`RegistryError`] names the image and the
//! registry involved.

use std::path::PathBuf;

use signet_tuf::remedy::{Remediable, Remedy};

/// An image reference that docker's `reference.ParseNormalizedNamed` would reject. The display
/// text is docker's; the rejected input is kept in `reference`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReferenceError {
    /// The reference does not match the grammar (bad characters, separators, tag longer than
    /// 128 characters, …).
    #[error("invalid reference format")]
    InvalidFormat {
        /// The rejected input.
        reference: String,
    },

    /// The repository path of a normalised name has upper-case letters.
    #[error("invalid reference format: repository name ({name}) must be lowercase")]
    UppercaseName {
        /// The rejected input.
        reference: String,
        /// The offending repository path (`library/Alpine`).
        name: String,
    },

    /// The reference only matches the grammar once lower-cased.
    #[error("repository name must be lowercase")]
    NameContainsUppercase {
        /// The rejected input.
        reference: String,
    },

    /// The full name (registry and path) is longer than 255 characters.
    #[error("repository name must not be more than 255 characters")]
    NameTooLong {
        /// The rejected input.
        reference: String,
    },

    /// The whole reference is 64 hexadecimal characters (an image ID, not a name).
    #[error("invalid repository name ({reference}), cannot specify 64-byte hexadecimal strings")]
    HexadecimalName {
        /// The rejected input.
        reference: String,
    },

    /// The digest is malformed (upper-case hex, bad algorithm name).
    #[error("invalid checksum digest format")]
    DigestFormat {
        /// The rejected input.
        reference: String,
    },

    /// The digest's hex part does not have the algorithm's length.
    #[error("invalid checksum digest length")]
    DigestLength {
        /// The rejected input.
        reference: String,
    },

    /// The digest names an algorithm other than sha256, sha384 and sha512.
    #[error("unsupported digest algorithm")]
    DigestUnsupported {
        /// The rejected input.
        reference: String,
    },

    /// A name whose first component is neither a registry host nor docker.io's default (docker
    /// accepts `a.b_c/x` as a name without registry, which cannot be looked up anywhere).
    #[error("invalid reference format: {reference} does not name a registry")]
    NoRegistry {
        /// The rejected input.
        reference: String,
    },
}

impl ReferenceError {
    /// The rejected input.
    pub fn reference(&self) -> &str {
        match self {
            Self::InvalidFormat { reference }
            | Self::UppercaseName { reference, .. }
            | Self::NameContainsUppercase { reference }
            | Self::NameTooLong { reference }
            | Self::HexadecimalName { reference }
            | Self::DigestFormat { reference }
            | Self::DigestLength { reference }
            | Self::DigestUnsupported { reference }
            | Self::NoRegistry { reference } => reference,
        }
    }
}

/// Everything that can go wrong while talking to an image registry.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// The image reference is invalid.
    #[error(transparent)]
    Reference(#[from] ReferenceError),

    /// `DOCKER_CONTENT_TRUST_SERVER` (or the given override) is not an https URL.
    #[error("valid https URL required for trust server, got {url}")]
    InvalidTrustServer {
        /// The value as given.
        url: String,
    },

    /// A reference was given to a client made for another registry.
    #[error("image {image} is not on registry {registry}")]
    WrongRegistry {
        /// The image.
        image: String,
        /// The client's registry.
        registry: String,
    },

    /// The TLS configuration for the registry could not be built (for example an unreadable
    /// `certs.d` file).
    #[error("unable to configure TLS for registry {registry}: {reason}")]
    Tls {
        /// The registry (`host[:port]`).
        registry: String,
        /// Why, naming the file involved.
        reason: String,
    },

    /// The docker config file cannot be read or parsed.
    #[error("cannot use docker config file {}: {reason}", path.display())]
    DockerConfig {
        /// The config file.
        path: PathBuf,
        /// Why.
        reason: String,
    },

    /// The registry's credentials are held by a docker credential helper, which signet does
    /// not run.
    #[error(
        "credentials for registry {registry} are kept by the docker credential helper \
         docker-credential-{helper}, which signet does not use; put an `auth` entry for \
         {registry} in the docker config file or supply the credentials another way"
    )]
    CredentialHelper {
        /// The registry.
        registry: String,
        /// The helper's name (`desktop`, `pass`, …).
        helper: String,
    },

    /// The registry could not be reached (connection, TLS, timeout).
    #[error("cannot reach registry {registry} at {url}: {reason}")]
    Network {
        /// The registry.
        registry: String,
        /// The URL requested.
        url: String,
        /// The transport error with its causes.
        reason: String,
    },

    /// `GET /v2/` answered neither 2xx nor 401.
    #[error("registry {registry} answered {status} to {url}: not a docker registry API (v2)")]
    NotARegistry {
        /// The registry.
        registry: String,
        /// The ping URL.
        url: String,
        /// The HTTP status.
        status: u16,
    },

    /// The registry refused access (401 after authenticating, or 403).
    #[error(
        "access to {image} on registry {registry} was refused ({status}{}){}",
        if *with_credentials { ", with credentials" } else { ", anonymously" },
        message_suffix(message)
    )]
    AccessDenied {
        /// The image.
        image: String,
        /// The registry.
        registry: String,
        /// 401 or 403.
        status: u16,
        /// Whether credentials were sent.
        with_credentials: bool,
        /// What the registry said (`code: message`), possibly empty.
        message: String,
    },

    /// The bearer token service did not issue a token.
    #[error("unable to get a token for {image} from {realm} (registry {registry}): {reason}")]
    Token {
        /// The image.
        image: String,
        /// The registry.
        registry: String,
        /// The token service URL.
        realm: String,
        /// Why.
        reason: String,
    },

    /// The registry has no such repository or manifest (404).
    #[error(
        "manifest for {image} not found on registry {registry}{}",
        message_suffix(message)
    )]
    ManifestNotFound {
        /// The image.
        image: String,
        /// The registry.
        registry: String,
        /// What the registry said (`MANIFEST_UNKNOWN: manifest unknown`), possibly empty.
        message: String,
    },

    /// Any other unexpected status.
    #[error(
        "registry {registry} answered {status} for {image}{}",
        message_suffix(message)
    )]
    UnexpectedStatus {
        /// The image.
        image: String,
        /// The registry.
        registry: String,
        /// The HTTP status.
        status: u16,
        /// What the registry said, possibly empty.
        message: String,
    },

    /// A response body (or its announced length) is larger than allowed.
    #[error("{what} for {image} from registry {registry} is larger than {limit} bytes")]
    TooLarge {
        /// The image.
        image: String,
        /// The registry.
        registry: String,
        /// Which body (`manifest`, `token response`).
        what: &'static str,
        /// The limit in bytes.
        limit: u64,
    },

    /// The manifest's bytes do not hash to the digest the registry announced or the reference
    /// asked for.
    #[error(
        "manifest digest mismatch for {image} on registry {registry}: expected {expected}, \
         content hashes to {actual}"
    )]
    DigestMismatch {
        /// The image.
        image: String,
        /// The registry.
        registry: String,
        /// The announced or requested digest.
        expected: String,
        /// The digest of the received bytes (same algorithm as `expected`).
        actual: String,
    },

    /// The repository has no such blob (404).
    #[error(
        "blob {digest} of {image} not found on registry {registry}{}",
        message_suffix(message)
    )]
    BlobNotFound {
        /// The image.
        image: String,
        /// The registry.
        registry: String,
        /// The blob's digest.
        digest: String,
        /// What the registry said, possibly empty.
        message: String,
    },

    /// The registry refused a write (a blob upload or a manifest) with a status other than
    /// 401 and 403.
    #[error(
        "registry {registry} refused the {what} for {image} ({status}){}",
        message_suffix(message)
    )]
    PushRefused {
        /// The image.
        image: String,
        /// The registry.
        registry: String,
        /// What was written (`blob upload`, `manifest`).
        what: &'static str,
        /// The HTTP status.
        status: u16,
        /// What the registry said, possibly empty.
        message: String,
    },

    /// A response that cannot be used (bad `Docker-Content-Digest`, bad `Content-Length`).
    #[error("bad response from registry {registry} for {image}: {reason}")]
    BadResponse {
        /// The image.
        image: String,
        /// The registry.
        registry: String,
        /// Why.
        reason: String,
    },

    /// A platform that is not `os/arch[/variant]`.
    #[error("invalid platform {platform:?}: expected os/arch[/variant], such as linux/amd64")]
    InvalidPlatform {
        /// The text given.
        platform: String,
    },

    /// A platform was asked for, and the signed manifest is a single-platform manifest.
    #[error(
        "{image}@{digest} is a single-platform manifest, not an index: there is no {platform} \
         manifest to pick"
    )]
    NotAnIndex {
        /// The image name.
        image: String,
        /// The manifest's digest.
        digest: String,
        /// The platform asked for.
        platform: String,
    },

    /// The index has no manifest for the platform asked for.
    #[error(
        "{image}@{digest} has no manifest for {platform}; its platforms are: {}",
        if available.is_empty() { "none".to_owned() } else { available.join(", ") }
    )]
    NoSuchPlatform {
        /// The image name.
        image: String,
        /// The index's digest.
        digest: String,
        /// The platform asked for.
        platform: String,
        /// The platforms it lists.
        available: Vec<String>,
    },

    /// An image index (or manifest list) that cannot be read.
    #[error("image index {image} ({digest}) cannot be read: {reason}")]
    BadIndex {
        /// The image.
        image: String,
        /// The index's digest.
        digest: String,
        /// Why.
        reason: String,
    },
}

fn message_suffix(message: &str) -> String {
    if message.is_empty() {
        String::new()
    } else {
        format!(": {message}")
    }
}

impl RegistryError {
    /// Whether the failure means "the registry could not be used" (unreachable, not a
    /// registry, 5xx) rather than "the registry said no".
    pub fn is_unavailable(&self) -> bool {
        match self {
            Self::Network { .. } | Self::NotARegistry { .. } => true,
            Self::UnexpectedStatus { status, .. } => *status >= 500,
            _ => false,
        }
    }

    /// Whether the registry answered 404 for the manifest.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::ManifestNotFound { .. })
    }
}

impl Remediable for RegistryError {
    fn remedy(&self) -> Option<Remedy<'_>> {
        match self {
            // The message names the platforms there are.
            Self::InvalidPlatform { .. }
            | Self::NotAnIndex { .. }
            | Self::NoSuchPlatform { .. } => None,
            // The image reference, the registry's reachability and its credentials are all
            // the user can check, whichever failed.
            _ => Some(Remedy::CheckRegistry),
        }
    }
}

/// Why a digest string is invalid (go-digest's texts).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DigestError {
    /// Malformed: no `:`, upper-case hex, bad algorithm name.
    #[error("invalid checksum digest format")]
    Format,
    /// The hex part does not have the algorithm's length.
    #[error("invalid checksum digest length")]
    Length,
    /// Well-formed, but the algorithm is not sha256, sha384 or sha512.
    #[error("unsupported digest algorithm")]
    Unsupported,
}
