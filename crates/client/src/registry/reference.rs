//! Docker image references, parsed and normalised as docker's `reference.ParseNormalizedNamed`
//! (`github.com/distribution/reference`) does, and what docker content trust derives from them.
//!
//! Grammar (anchored, ASCII only):
//!
//! ```text
//! reference      := name [ ":" tag ] [ "@" digest ]
//! name           := [ domain "/" ] path-component [ "/" path-component ]*   (≤ 255 chars)
//! domain         := host [ ":" port-number ]
//! host           := domain-name | "[" [a-fA-F0-9:]+ "]"
//! domain-name    := component ( "." component )*   component := [a-zA-Z0-9] | [a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]
//! path-component := [a-z0-9]+ ( separator [a-z0-9]+ )*    separator := [._] | "__" | "-"+
//! tag            := [\w][\w.-]{0,127}
//! digest         := algorithm ":" hex{32,}   (then validated: sha256/sha384/sha512, lower-case, exact length)
//! ```
//!
//! Normalisation: the first `/`-separated component is the registry when it is `localhost`,
//! contains `.` or `:`, or has upper-case letters; otherwise the registry is `docker.io`.
//! `index.docker.io` becomes `docker.io`, and single-component names on `docker.io` get the
//! `library/` prefix: `alpine` → `docker.io/library/alpine`.
//!
//! Docker content trust uses the normalised name without tag or digest as the GUN, talks to
//! the registry API at `registry-1.docker.io` for `docker.io`, and picks the trust server as
//! described at [`ImageReference::trust_server`].

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use super::digest::{Digest, DigestError};
use super::error::{ReferenceError, RegistryError};
use crate::error::Result as ClientResult;
use crate::gun::Gun;

/// Docker Hub's canonical registry name.
pub const DOCKER_HUB_DOMAIN: &str = "docker.io";
/// The legacy name that normalises to [`DOCKER_HUB_DOMAIN`].
pub const LEGACY_DOCKER_HUB_DOMAIN: &str = "index.docker.io";
/// Where docker talks to Docker Hub's registry API.
pub const DOCKER_HUB_REGISTRY_HOST: &str = "registry-1.docker.io";
/// Docker Hub's trust server.
pub const DOCKER_HUB_NOTARY_SERVER: &str = "https://notary.docker.io";
/// The environment variable that overrides the trust server.
pub const DOCKER_CONTENT_TRUST_SERVER_ENV: &str = "DOCKER_CONTENT_TRUST_SERVER";
/// The tag docker assumes when a reference has neither tag nor digest.
pub const DEFAULT_TAG: &str = "latest";
/// Longest full name (registry and path), in characters.
pub const NAME_TOTAL_LENGTH_MAX: usize = 255;
/// Longest tag, in characters.
pub const TAG_LENGTH_MAX: usize = 128;

const OFFICIAL_REPO_PREFIX: &str = "library/";
const LOCALHOST: &str = "localhost";

/// A parsed, normalised image reference: `registry/path[:tag][@digest]`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ImageReference {
    domain: String,
    path: String,
    tag: Option<String>,
    digest: Option<Digest>,
}

impl ImageReference {
    /// Parses `reference` as docker's `reference.ParseNormalizedNamed`.
    ///
    /// # Errors
    ///
    /// [`ReferenceError`] with docker's message.
    pub fn parse(reference: &str) -> Result<Self, ReferenceError> {
        parse_normalized_named(reference)
    }

    /// The registry as written in the normalised name: `docker.io`, `localhost:5000`,
    /// `registry.local:5000`, `[::1]:5000`.
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The repository path inside the registry: `library/alpine`, `team/img` (the `<name>` of
    /// the registry API).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The full normalised name without tag or digest: `docker.io/library/alpine`.
    pub fn name(&self) -> String {
        format!("{}/{}", self.domain, self.path)
    }

    /// The docker content trust GUN: the full normalised name without tag or digest.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidGun`](crate::Error::InvalidGun) if the name breaks a GUN rule (it
    /// cannot for names this parser accepts, which are at most 255 characters of safe ASCII).
    pub fn gun(&self) -> ClientResult<Gun> {
        Gun::new(self.name())
    }

    /// The tag, if the reference has one.
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// The digest, if the reference has one.
    pub fn digest(&self) -> Option<&Digest> {
        self.digest.as_ref()
    }

    /// Whether the reference has neither tag nor digest.
    pub fn is_name_only(&self) -> bool {
        self.tag.is_none() && self.digest.is_none()
    }

    /// Docker's `TagNameOnly`: adds the `latest` tag to a reference with neither tag nor
    /// digest.
    #[must_use]
    pub fn with_default_tag(mut self) -> Self {
        if self.is_name_only() {
            self.tag = Some(DEFAULT_TAG.to_owned());
        }
        self
    }

    /// The same name with `tag` and no digest.
    ///
    /// # Errors
    ///
    /// [`ReferenceError::InvalidFormat`] when `tag` is not a valid tag.
    pub fn with_tag(&self, tag: &str) -> Result<Self, ReferenceError> {
        if !is_tag(tag) {
            return Err(ReferenceError::InvalidFormat {
                reference: format!("{}:{tag}", self.name()),
            });
        }
        Ok(Self {
            domain: self.domain.clone(),
            path: self.path.clone(),
            tag: Some(tag.to_owned()),
            digest: None,
        })
    }

    /// The same name with `digest` and no tag.
    #[must_use]
    pub fn with_digest(&self, digest: Digest) -> Self {
        Self {
            domain: self.domain.clone(),
            path: self.path.clone(),
            tag: None,
            digest: Some(digest),
        }
    }

    /// What to ask the registry for: the digest when there is one, else the tag, else
    /// `latest`.
    pub fn manifest_reference(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(digest), _) => digest.to_string(),
            (None, Some(tag)) => tag.clone(),
            (None, None) => DEFAULT_TAG.to_owned(),
        }
    }

    /// Docker's short form of the name: `alpine` for `docker.io/library/alpine`, `user/app`
    /// for `docker.io/user/app`, the full name elsewhere.
    pub fn familiar_name(&self) -> String {
        if self.domain == DOCKER_HUB_DOMAIN {
            match self.path.strip_prefix(OFFICIAL_REPO_PREFIX) {
                Some(rest) if !rest.contains('/') => rest.to_owned(),
                _ => self.path.clone(),
            }
        } else {
            self.name()
        }
    }

    /// Docker's short form of the whole reference (`alpine:3.20`).
    pub fn familiar_string(&self) -> String {
        let mut out = self.familiar_name();
        self.push_suffix(&mut out);
        out
    }

    /// Whether the registry is Docker Hub (docker's "official index").
    pub fn is_docker_hub(&self) -> bool {
        self.domain == DOCKER_HUB_DOMAIN
    }

    /// The `host[:port]` of the registry API: `registry-1.docker.io` for Docker Hub, else
    /// [`domain`](Self::domain).
    pub fn registry_host(&self) -> &str {
        registry_host(&self.domain)
    }

    /// Whether docker considers the registry insecure (see [`is_insecure_registry`]).
    pub fn is_insecure_registry(&self) -> bool {
        is_insecure_registry(&self.domain)
    }

    /// The trust server docker content trust uses for this image (docker's
    /// `cli/trust.Server`):
    ///
    /// * `override_url` (the value of `DOCKER_CONTENT_TRUST_SERVER`) when it is set and not
    ///   empty; it must be an `https` URL and is returned as given;
    /// * `https://notary.docker.io` for Docker Hub;
    /// * `https://<registry host[:port]>` otherwise.
    ///
    /// # Errors
    ///
    /// [`RegistryError::InvalidTrustServer`] (docker's text) for an override that is not an
    /// https URL.
    pub fn trust_server(&self, override_url: Option<&str>) -> Result<String, RegistryError> {
        if let Some(url) = override_url.filter(|u| !u.is_empty()) {
            return match reqwest::Url::parse(url) {
                Ok(parsed) if parsed.scheme() == "https" => Ok(url.to_owned()),
                _ => Err(RegistryError::InvalidTrustServer {
                    url: url.to_owned(),
                }),
            };
        }
        if self.is_docker_hub() {
            Ok(DOCKER_HUB_NOTARY_SERVER.to_owned())
        } else {
            Ok(format!("https://{}", self.domain))
        }
    }

    /// [`trust_server`](Self::trust_server) with the override read from
    /// `DOCKER_CONTENT_TRUST_SERVER`.
    ///
    /// # Errors
    ///
    /// As [`trust_server`](Self::trust_server).
    pub fn trust_server_from_env(&self) -> Result<String, RegistryError> {
        let value = std::env::var(DOCKER_CONTENT_TRUST_SERVER_ENV).ok();
        self.trust_server(value.as_deref())
    }

    fn push_suffix(&self, out: &mut String) {
        if let Some(tag) = &self.tag {
            out.push(':');
            out.push_str(tag);
        }
        if let Some(digest) = &self.digest {
            out.push('@');
            out.push_str(&digest.to_string());
        }
    }
}

impl fmt::Display for ImageReference {
    /// The full normalised reference: `docker.io/library/alpine:latest`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = self.name();
        self.push_suffix(&mut out);
        f.write_str(&out)
    }
}

impl fmt::Debug for ImageReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ImageReference({self})")
    }
}

impl FromStr for ImageReference {
    type Err = ReferenceError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// The `host[:port]` of the registry API for a normalised registry name:
/// `registry-1.docker.io` for `docker.io`, else the name itself.
pub fn registry_host(domain: &str) -> &str {
    if domain == DOCKER_HUB_DOMAIN {
        DOCKER_HUB_REGISTRY_HOST
    } else {
        domain
    }
}

/// Whether docker considers a registry (`host[:port]`) insecure with its default settings:
/// the host is `localhost`, an address in `127.0.0.0/8` or `::1` (docker's default insecure
/// CIDRs). Docker Hub is always secure. Docker also counts names that resolve to a loopback
/// address; this function does no DNS lookups. Insecure registries are reached over https
/// without certificate verification, or plain http.
pub fn is_insecure_registry(domain: &str) -> bool {
    if domain == DOCKER_HUB_DOMAIN {
        return false;
    }
    let host = host_without_port(domain);
    if host.eq_ignore_ascii_case(LOCALHOST) {
        return true;
    }
    host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Whether `domain` is a registry `host[:port]` (or `[v6][:port]`) of the reference grammar.
pub(super) fn is_registry_domain(domain: &str) -> bool {
    is_domain_and_port(domain)
}

/// `host` of `host[:port]` or `[v6][:port]` (brackets removed).
fn host_without_port(domain: &str) -> &str {
    if let Some(rest) = domain.strip_prefix('[') {
        return rest.split_once(']').map_or(rest, |(inner, _)| inner);
    }
    domain.split_once(':').map_or(domain, |(host, _)| host)
}

fn parse_normalized_named(input: &str) -> Result<ImageReference, ReferenceError> {
    if input.len() == 64
        && input
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return Err(ReferenceError::HexadecimalName {
            reference: input.to_owned(),
        });
    }
    let (domain, remainder) = split_docker_domain(input);
    let remote = remainder
        .split_once(':')
        .map_or(remainder.as_str(), |(r, _)| r);
    if remote.to_lowercase() != remote {
        return Err(ReferenceError::UppercaseName {
            reference: input.to_owned(),
            name: remote.to_owned(),
        });
    }
    let parsed = parse(&format!("{domain}/{remainder}"), input)?;
    if parsed.domain.is_empty() {
        return Err(ReferenceError::NoRegistry {
            reference: input.to_owned(),
        });
    }
    Ok(parsed)
}

/// docker's `splitDockerDomain`.
fn split_docker_domain(name: &str) -> (String, String) {
    let Some((maybe_domain, maybe_remote)) = name.split_once('/') else {
        return (
            DOCKER_HUB_DOMAIN.to_owned(),
            format!("{OFFICIAL_REPO_PREFIX}{name}"),
        );
    };
    let (domain, remote) = if maybe_domain == LOCALHOST {
        (maybe_domain, maybe_remote)
    } else if maybe_domain == LEGACY_DOCKER_HUB_DOMAIN {
        (DOCKER_HUB_DOMAIN, maybe_remote)
    } else if maybe_domain.contains(['.', ':']) || maybe_domain.to_lowercase() != maybe_domain {
        (maybe_domain, maybe_remote)
    } else {
        (DOCKER_HUB_DOMAIN, name)
    };
    if domain == DOCKER_HUB_DOMAIN && !remote.contains('/') {
        (domain.to_owned(), format!("{OFFICIAL_REPO_PREFIX}{remote}"))
    } else {
        (domain.to_owned(), remote.to_owned())
    }
}

/// The parts of a reference that matched the grammar.
struct Matched<'a> {
    name: &'a str,
    tag: Option<&'a str>,
    digest: Option<&'a str>,
}

/// docker's `reference.Parse` on the already-normalised `text`; errors name `input`.
fn parse(text: &str, input: &str) -> Result<ImageReference, ReferenceError> {
    let reference = || input.to_owned();
    let Some(matched) = match_reference(text) else {
        if match_reference(&text.to_lowercase()).is_some() {
            return Err(ReferenceError::NameContainsUppercase {
                reference: reference(),
            });
        }
        return Err(ReferenceError::InvalidFormat {
            reference: reference(),
        });
    };
    if matched.name.chars().count() > NAME_TOTAL_LENGTH_MAX {
        return Err(ReferenceError::NameTooLong {
            reference: reference(),
        });
    }
    let Some((domain, path)) = match_name(matched.name) else {
        return Err(ReferenceError::InvalidFormat {
            reference: reference(),
        });
    };
    let digest = match matched.digest {
        None => None,
        Some(digest) => Some(Digest::parse(digest).map_err(|e| match e {
            DigestError::Format => ReferenceError::DigestFormat {
                reference: reference(),
            },
            DigestError::Length => ReferenceError::DigestLength {
                reference: reference(),
            },
            DigestError::Unsupported => ReferenceError::DigestUnsupported {
                reference: reference(),
            },
        })?),
    };
    Ok(ImageReference {
        domain: domain.to_owned(),
        path: path.to_owned(),
        tag: matched.tag.map(str::to_owned),
        digest,
    })
}

/// Splits `name[:tag][@digest]` when every part matches the grammar.
fn match_reference(text: &str) -> Option<Matched<'_>> {
    let (name_tag, digest) = match text.split_once('@') {
        Some((name_tag, digest)) => (name_tag, Some(digest)),
        None => (text, None),
    };
    if let Some(digest) = digest
        && !is_digest_syntax(digest)
    {
        return None;
    }
    // A tag holds neither `/` nor `:`, and the name only has `:` in its registry part, which
    // a `/` follows: a `:` after the last `/` starts the tag.
    let last_segment_start = name_tag.rfind('/').map_or(0, |i| i + 1);
    let (name, tag) = match name_tag[last_segment_start..].find(':') {
        Some(i) => {
            let colon = last_segment_start + i;
            (&name_tag[..colon], Some(&name_tag[colon + 1..]))
        }
        None => (name_tag, None),
    };
    if let Some(tag) = tag
        && !is_tag(tag)
    {
        return None;
    }
    match_name(name)?;
    Some(Matched { name, tag, digest })
}

/// `[domain "/"] remote-name`, preferring a domain as the regular expression does. Returns the
/// domain (empty when there is none) and the path.
fn match_name(name: &str) -> Option<(&str, &str)> {
    if let Some((first, rest)) = name.split_once('/')
        && is_domain_and_port(first)
        && is_remote_name(rest)
    {
        return Some((first, rest));
    }
    is_remote_name(name).then_some(("", name))
}

fn is_remote_name(text: &str) -> bool {
    text.split('/').all(is_path_component)
}

fn is_lower_alnum(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

/// `[a-z0-9]+ ( ([._] | "__" | "-"+) [a-z0-9]+ )*`
fn is_path_component(text: &str) -> bool {
    let bytes = text.as_bytes();
    let mut i = 0;
    let alnum_run = |i: &mut usize| {
        let start = *i;
        while *i < bytes.len() && is_lower_alnum(bytes[*i]) {
            *i += 1;
        }
        *i > start
    };
    if !alnum_run(&mut i) {
        return false;
    }
    while i < bytes.len() {
        match bytes[i] {
            b'.' => i += 1,
            b'_' => {
                i += 1;
                if bytes.get(i) == Some(&b'_') {
                    i += 1;
                }
            }
            b'-' => {
                while bytes.get(i) == Some(&b'-') {
                    i += 1;
                }
            }
            _ => return false,
        }
        if !alnum_run(&mut i) {
            return false;
        }
    }
    true
}

/// `host [":" [0-9]+]` with `host := domain-name | "[" [a-fA-F0-9:]+ "]"`.
fn is_domain_and_port(text: &str) -> bool {
    if let Some(inner) = text.strip_prefix('[') {
        let Some((address, port)) = inner.split_once(']') else {
            return false;
        };
        return !address.is_empty()
            && address.bytes().all(|b| b.is_ascii_hexdigit() || b == b':')
            && is_port_suffix(port);
    }
    let (host, port) = match text.find(':') {
        Some(i) => (&text[..i], &text[i..]),
        None => (text, ""),
    };
    is_domain_name(host) && is_port_suffix(port)
}

/// `""` or `":" [0-9]+`.
fn is_port_suffix(text: &str) -> bool {
    match text.strip_prefix(':') {
        None => text.is_empty(),
        Some(port) => !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()),
    }
}

fn is_domain_name(text: &str) -> bool {
    text.split('.').all(|component| {
        let bytes = component.as_bytes();
        match (bytes.first(), bytes.last()) {
            (Some(first), Some(last)) => {
                first.is_ascii_alphanumeric()
                    && last.is_ascii_alphanumeric()
                    && bytes
                        .iter()
                        .all(|b| b.is_ascii_alphanumeric() || *b == b'-')
            }
            _ => false,
        }
    })
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// `[\w][\w.-]{0,127}`
fn is_tag(text: &str) -> bool {
    let bytes = text.as_bytes();
    match bytes.first() {
        Some(first) if is_word_byte(*first) => {
            bytes.len() <= TAG_LENGTH_MAX
                && bytes
                    .iter()
                    .all(|b| is_word_byte(*b) || matches!(b, b'.' | b'-'))
        }
        _ => false,
    }
}

/// `[A-Za-z][A-Za-z0-9]*([-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}`
fn is_digest_syntax(text: &str) -> bool {
    let Some((algorithm, hex)) = text.split_once(':') else {
        return false;
    };
    let component_ok = |c: &str| {
        let bytes = c.as_bytes();
        bytes.first().is_some_and(u8::is_ascii_alphabetic)
            && bytes.iter().all(u8::is_ascii_alphanumeric)
    };
    algorithm.split(['-', '_', '+', '.']).all(component_ok)
        && hex.len() >= 32
        && hex.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests;
