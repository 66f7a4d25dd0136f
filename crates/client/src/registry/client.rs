//! An OCI distribution (docker registry v2) API client that resolves an image tag to its
//! manifest digest and size, as docker content trust needs for targets.
//!
//! | step | request |
//! |---|---|
//! | ping | `GET /v2/`: 2xx (open) or 401 with `WWW-Authenticate` challenges |
//! | resolve a tag | `HEAD /v2/<path>/manifests/<tag>`: `Docker-Content-Digest` + `Content-Length`; when either is missing (or HEAD is refused) a GET |
//! | fetch / resolve a digest | `GET /v2/<path>/manifests/<tag or digest>`: the body is hashed and must match `Docker-Content-Digest` and the requested digest |
//!
//! Every manifest request sends docker's `Accept` list ([`MANIFEST_MEDIA_TYPES`]). The size is
//! the manifest's byte length, the digest its sha256.
//!
//! Authentication follows the ping's challenge: `Bearer realm=…,service=…` fetches a token
//! from `<realm>?service=<service>&scope=repository:<path>:pull` (with basic credentials and
//! `account=<user>` when known), `Basic` sends the credentials directly. Credentials come from
//! the docker config file (used right away) and then from the caller's
//! [`CredentialSource`], asked at most once and only after the registry refused the request.
//!
//! Transport: https with the system roots plus `<certs dir>/<host[:port]>/*.crt` (docker's
//! `certs.d` layout, which may also hold a `*.cert`/`*.key` client pair). A registry docker
//! considers insecure (loopback) is tried over https without certificate verification, then
//! over plain http, like docker. [`RegistryScheme`] forces one or the other. Redirects are not
//! followed. Bodies are capped: manifests at [`MAX_MANIFEST_SIZE`], token responses at
//! [`MAX_TOKEN_RESPONSE_SIZE`], error bodies read up to [`MAX_ERROR_BODY_SIZE`].

use bytes::Bytes;
use reqwest::header::{CONTENT_LENGTH, CONTENT_TYPE};
use reqwest::{Method, Response, StatusCode, Url};

use super::digest::{Digest, DigestAlgorithm};
use super::error::{ReferenceError, RegistryError};
use super::reference::{self, DOCKER_HUB_DOMAIN, ImageReference};
use crate::http::{TlsOptions, error_chain, header_u64};

pub use super::session::{
    CERTS_DIR, MAX_ERROR_BODY_SIZE, MAX_TOKEN_RESPONSE_SIZE, RegistryOptions, RegistryScheme,
};
use super::session::{Sent, Session, error_message};

/// OCI image index.
pub const MEDIA_TYPE_OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// OCI image manifest.
pub const MEDIA_TYPE_OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// Docker manifest list.
pub const MEDIA_TYPE_DOCKER_MANIFEST_LIST: &str =
    "application/vnd.docker.distribution.manifest.list.v2+json";
/// Docker image manifest, schema 2.
pub const MEDIA_TYPE_DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// The `Accept` list sent with manifest requests, in docker's order.
pub const MANIFEST_MEDIA_TYPES: [&str; 4] = [
    MEDIA_TYPE_OCI_INDEX,
    MEDIA_TYPE_OCI_MANIFEST,
    MEDIA_TYPE_DOCKER_MANIFEST_LIST,
    MEDIA_TYPE_DOCKER_MANIFEST,
];

/// Largest manifest accepted (the registry's own limit, 4 MiB).
pub const MAX_MANIFEST_SIZE: u64 = 4 << 20;

const DOCKER_CONTENT_DIGEST: &str = "docker-content-digest";

/// A manifest's identity: what a docker content trust target records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ManifestDescriptor {
    /// The sha256 digest of the manifest bytes.
    pub digest: Digest,
    /// The manifest's length in bytes.
    pub size: u64,
    /// The `Content-Type` the registry gave, without parameters.
    pub media_type: Option<String>,
    /// Whether the digest was computed here from the bytes (GET) rather than taken from the
    /// registry's `Docker-Content-Digest` header (HEAD).
    pub verified: bool,
}

/// A fetched manifest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Manifest {
    /// Its digest, size and media type (always verified).
    pub descriptor: ManifestDescriptor,
    /// The exact bytes.
    pub bytes: Bytes,
}

/// A client for one registry.
pub struct RegistryClient {
    pub(super) session: Session,
    verify_with_get: bool,
}

impl std::fmt::Debug for RegistryClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryClient")
            .field("domain", &self.session.domain)
            .field("host", &self.session.host)
            .field("insecure", &self.session.insecure)
            .field("scheme", &self.session.scheme)
            .finish_non_exhaustive()
    }
}

impl RegistryClient {
    /// A client for the registry `domain` as it appears in normalised references
    /// (`docker.io`, `localhost:5000`, `registry.local:5000`). Nothing is sent yet.
    ///
    /// # Errors
    ///
    /// [`ReferenceError::InvalidFormat`] for a domain that is not `host[:port]`,
    /// [`RegistryError::Tls`] when the `certs.d` files cannot be used.
    pub fn new(domain: &str, options: RegistryOptions) -> Result<Self, RegistryError> {
        if !reference::is_registry_domain(domain) {
            return Err(ReferenceError::InvalidFormat {
                reference: domain.to_owned(),
            }
            .into());
        }
        let insecure = options
            .insecure
            .unwrap_or_else(|| reference::is_insecure_registry(domain));
        let tls_error = |e: crate::Error| RegistryError::Tls {
            registry: domain.to_owned(),
            reason: e.to_string(),
        };
        let mut tls_options = match &options.certs_dir {
            Some(dir) if domain != DOCKER_HUB_DOMAIN => {
                TlsOptions::from_docker_certs_dir(&dir.join(domain)).map_err(tls_error)?
            }
            _ => TlsOptions::default(),
        };
        tls_options.skip_verify = insecure;
        Ok(Self {
            session: Session::new(domain, insecure, &tls_options, &options)?,
            verify_with_get: options.verify_with_get,
        })
    }

    /// A client for the registry of `image`.
    ///
    /// # Errors
    ///
    /// As [`new`](Self::new).
    pub fn for_image(
        image: &ImageReference,
        options: RegistryOptions,
    ) -> Result<Self, RegistryError> {
        Self::new(image.domain(), options)
    }

    /// The registry as named in references (`docker.io`).
    pub fn domain(&self) -> &str {
        &self.session.domain
    }

    /// The `host[:port]` requests go to (`registry-1.docker.io` for Docker Hub).
    pub fn host(&self) -> &str {
        &self.session.host
    }

    /// Whether the registry is treated as insecure.
    pub fn is_insecure(&self) -> bool {
        self.session.insecure
    }

    /// Pings `/v2/` (once per client) and returns the registry's base URL.
    ///
    /// # Errors
    ///
    /// [`RegistryError::Network`] when no scheme reaches the registry,
    /// [`RegistryError::NotARegistry`] when it answers neither 2xx nor 401.
    pub async fn ping(&self) -> Result<Url, RegistryError> {
        Ok(self.session.endpoint().await?.base)
    }

    /// Resolves `image` (tag, digest, or `latest` when it has neither) to its manifest digest
    /// and size. A tag is asked with HEAD and taken from `Docker-Content-Digest` and
    /// `Content-Length` when both are present (unless
    /// [`verify_with_get`](RegistryOptions::verify_with_get)); otherwise, and for digest
    /// references, the manifest is fetched and hashed as by
    /// [`fetch_manifest`](Self::fetch_manifest).
    ///
    /// # Errors
    ///
    /// As [`fetch_manifest`](Self::fetch_manifest).
    pub async fn resolve(
        &self,
        image: &ImageReference,
    ) -> Result<ManifestDescriptor, RegistryError> {
        self.check_registry(image)?;
        if !self.verify_with_get && image.digest().is_none() {
            match self.head_manifest(image).await {
                Ok(Some(descriptor)) => return Ok(descriptor),
                // A refused HEAD has no body; the GET reports the registry's message.
                Ok(None) | Err(RegistryError::AccessDenied { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(self.fetch_manifest(image).await?.descriptor)
    }

    /// Downloads the manifest of `image` (tag, digest, or `latest`) and checks its bytes
    /// against the registry's `Docker-Content-Digest` and against the reference's digest.
    ///
    /// # Errors
    ///
    /// [`RegistryError::WrongRegistry`] for an image on another registry; the ping's errors;
    /// [`RegistryError::ManifestNotFound`] (404), [`RegistryError::AccessDenied`] (401 after
    /// authenticating, 403), [`RegistryError::CredentialHelper`] when only a credential helper
    /// could have supplied credentials, [`RegistryError::Token`],
    /// [`RegistryError::UnexpectedStatus`], [`RegistryError::TooLarge`],
    /// [`RegistryError::DigestMismatch`], [`RegistryError::BadResponse`] for an unusable
    /// `Docker-Content-Digest`.
    pub async fn fetch_manifest(&self, image: &ImageReference) -> Result<Manifest, RegistryError> {
        self.check_registry(image)?;
        let url = self.manifest_url(image).await?;
        let sent = self
            .session
            .send(Method::GET, url, &MANIFEST_MEDIA_TYPES.join(", "), image)
            .await?;
        let response = self.check_status(sent, image).await?;
        let announced = self.announced_digest(&response, image)?;
        let media_type = media_type(&response);
        let bytes = self
            .read_capped(response, MAX_MANIFEST_SIZE, "manifest", image)
            .await?;
        for expected in announced.iter().chain(image.digest()) {
            if !expected.matches(&bytes) {
                return Err(RegistryError::DigestMismatch {
                    image: image.to_string(),
                    registry: self.session.domain.clone(),
                    expected: expected.to_string(),
                    actual: Digest::of(expected.algorithm(), &bytes).to_string(),
                });
            }
        }
        Ok(Manifest {
            descriptor: ManifestDescriptor {
                digest: Digest::sha256_of(&bytes),
                size: bytes.len() as u64,
                media_type,
                verified: true,
            },
            bytes: Bytes::from(bytes),
        })
    }

    async fn head_manifest(
        &self,
        image: &ImageReference,
    ) -> Result<Option<ManifestDescriptor>, RegistryError> {
        let url = self.manifest_url(image).await?;
        let sent = self
            .session
            .send(Method::HEAD, url, &MANIFEST_MEDIA_TYPES.join(", "), image)
            .await?;
        let response = sent.response;
        if !response.status().is_success() {
            // The GET reports the registry's error with its message.
            return Ok(None);
        }
        let digest = match self.announced_digest(&response, image)? {
            Some(digest) if digest.algorithm() == DigestAlgorithm::Sha256 => digest,
            _ => return Ok(None),
        };
        // No manifest is empty: a zero length is a server that does not fill it in for HEAD.
        let Some(size) = header_u64(response.headers(), CONTENT_LENGTH.as_str()).filter(|s| *s > 0)
        else {
            return Ok(None);
        };
        if size > MAX_MANIFEST_SIZE {
            return Err(self.session.too_large(image, "manifest", MAX_MANIFEST_SIZE));
        }
        Ok(Some(ManifestDescriptor {
            digest,
            size,
            media_type: media_type(&response),
            verified: false,
        }))
    }

    pub(super) fn check_registry(&self, image: &ImageReference) -> Result<(), RegistryError> {
        if image.domain() == self.session.domain {
            Ok(())
        } else {
            Err(RegistryError::WrongRegistry {
                image: image.to_string(),
                registry: self.session.domain.clone(),
            })
        }
    }

    async fn manifest_url(&self, image: &ImageReference) -> Result<Url, RegistryError> {
        let endpoint = self.session.endpoint().await?;
        let relative = format!(
            "v2/{}/manifests/{}",
            image.path(),
            image.manifest_reference()
        );
        endpoint
            .base
            .join(&relative)
            .map_err(|e| RegistryError::BadResponse {
                image: image.to_string(),
                registry: self.session.domain.clone(),
                reason: format!("cannot build the manifest URL: {e}"),
            })
    }

    async fn check_status(
        &self,
        sent: Sent,
        image: &ImageReference,
    ) -> Result<Response, RegistryError> {
        let response = sent.response;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let message = error_message(response).await;
        let image = image.to_string();
        let registry = self.session.domain.clone();
        Err(match status {
            StatusCode::NOT_FOUND => RegistryError::ManifestNotFound {
                image,
                registry,
                message,
            },
            StatusCode::FORBIDDEN => RegistryError::AccessDenied {
                image,
                registry,
                status: status.as_u16(),
                with_credentials: sent.with_credentials,
                message,
            },
            _ => RegistryError::UnexpectedStatus {
                image,
                registry,
                status: status.as_u16(),
                message,
            },
        })
    }

    pub(super) fn announced_digest(
        &self,
        response: &Response,
        image: &ImageReference,
    ) -> Result<Option<Digest>, RegistryError> {
        let Some(value) = response.headers().get(DOCKER_CONTENT_DIGEST) else {
            return Ok(None);
        };
        let bad = |reason: String| RegistryError::BadResponse {
            image: image.to_string(),
            registry: self.session.domain.clone(),
            reason,
        };
        let text = value
            .to_str()
            .map_err(|_| bad("Docker-Content-Digest is not ASCII".to_owned()))?;
        Digest::parse(text.trim())
            .map(Some)
            .map_err(|e| bad(format!("invalid Docker-Content-Digest {text:?}: {e}")))
    }

    /// Reads a body, failing when it (or its announced length) exceeds `limit`.
    pub(super) async fn read_capped(
        &self,
        mut response: Response,
        limit: u64,
        what: &'static str,
        image: &ImageReference,
    ) -> Result<Vec<u8>, RegistryError> {
        if header_u64(response.headers(), CONTENT_LENGTH.as_str())
            .is_some_and(|length| length > limit)
        {
            return Err(self.session.too_large(image, what, limit));
        }
        let url = response.url().to_string();
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| RegistryError::Network {
            registry: self.session.domain.clone(),
            url: url.clone(),
            reason: error_chain(&e),
        })? {
            if (body.len() + chunk.len()) as u64 > limit {
                return Err(self.session.too_large(image, what, limit));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}

fn media_type(response: &Response) -> Option<String> {
    response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or_default().trim().to_owned())
        .filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_a_bad_domain_and_knows_docker_hub() {
        assert!(matches!(
            RegistryClient::new("bad domain", RegistryOptions::default()),
            Err(RegistryError::Reference(
                ReferenceError::InvalidFormat { .. }
            ))
        ));
        let hub = RegistryClient::new("docker.io", RegistryOptions::default()).unwrap();
        assert_eq!(hub.host(), "registry-1.docker.io");
        assert!(!hub.is_insecure());
        let local = RegistryClient::new("localhost:5000", RegistryOptions::default()).unwrap();
        assert!(local.is_insecure());
        let forced = RegistryClient::new(
            "localhost:5000",
            RegistryOptions {
                insecure: Some(false),
                ..RegistryOptions::default()
            },
        )
        .unwrap();
        assert!(!forced.is_insecure());
    }

    #[test]
    fn unusable_certs_dir_is_a_tls_error() {
        let dir = tempfile::tempdir().unwrap();
        let host_dir = dir.path().join("registry.example.com:5000");
        std::fs::create_dir_all(&host_dir).unwrap();
        std::fs::write(host_dir.join("client.cert"), "x").unwrap();
        let error = RegistryClient::new(
            "registry.example.com:5000",
            RegistryOptions {
                certs_dir: Some(dir.path().to_path_buf()),
                ..RegistryOptions::default()
            },
        )
        .unwrap_err();
        assert!(matches!(error, RegistryError::Tls { .. }), "{error}");
        assert!(
            error.to_string().contains("registry.example.com:5000"),
            "{error}"
        );
    }

    #[tokio::test]
    async fn wrong_registry_is_refused_before_any_request() {
        let client = RegistryClient::new("localhost:1", RegistryOptions::default()).unwrap();
        let image = ImageReference::parse("registry.example.com/a:b").unwrap();
        let error = client.resolve(&image).await.unwrap_err();
        assert!(
            matches!(error, RegistryError::WrongRegistry { .. }),
            "{error}"
        );
    }
}
