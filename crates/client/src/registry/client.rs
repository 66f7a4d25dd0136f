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

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, WWW_AUTHENTICATE};
use reqwest::{Method, Response, StatusCode, Url};
use serde::Deserialize;

use super::digest::{Digest, DigestAlgorithm};
use super::docker_config::{DockerConfig, StoredCredentials};
use super::error::{ReferenceError, RegistryError};
use super::reference::{self, DOCKER_HUB_DOMAIN, ImageReference};
use crate::remote::auth::{self, Challenge, CredentialSource, Credentials};
use crate::remote::tls::{self, TlsOptions};
use crate::trust_dir::docker_config_dir;

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
/// Largest token service response read (1 MiB).
pub const MAX_TOKEN_RESPONSE_SIZE: u64 = 1 << 20;
/// How much of an error body is read for its message (64 KiB).
pub const MAX_ERROR_BODY_SIZE: u64 = 64 << 10;
/// The directory below the docker config dir holding per-registry TLS files.
pub const CERTS_DIR: &str = "certs.d";

const DOCKER_CONTENT_DIGEST: &str = "docker-content-digest";

/// Which scheme reaches the registry.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum RegistryScheme {
    /// Docker's choice: https; for an insecure registry https without verification, then http.
    #[default]
    Auto,
    /// https only.
    Https,
    /// Plain http only.
    Http,
}

/// How a [`RegistryClient`] connects and authenticates.
#[derive(Clone)]
pub struct RegistryOptions {
    /// Which scheme to use.
    pub scheme: RegistryScheme,
    /// Overrides docker's insecure-registry rule (loopback hosts). An insecure registry's
    /// certificate is not verified and plain http is allowed under [`RegistryScheme::Auto`].
    pub insecure: Option<bool>,
    /// Docker's `certs.d` directory: `<certs_dir>/<host[:port]>/*.crt` are added to the system
    /// roots (not used for Docker Hub).
    pub certs_dir: Option<PathBuf>,
    /// Credentials stored by `docker login`.
    pub docker_config: Option<DockerConfig>,
    /// Asked (at most once) for credentials after the registry refused a request.
    pub credentials: Option<Arc<dyn CredentialSource>>,
    /// Resolve tags with GET and hash the body instead of trusting a HEAD response.
    pub verify_with_get: bool,
    /// The `User-Agent` header.
    pub user_agent: String,
    /// Timeout of the `/v2/` ping.
    pub ping_timeout: Duration,
    /// Timeout for establishing connections.
    pub connect_timeout: Duration,
    /// Timeout of each whole request, if any.
    pub request_timeout: Option<Duration>,
}

impl Default for RegistryOptions {
    fn default() -> Self {
        Self {
            scheme: RegistryScheme::Auto,
            insecure: None,
            certs_dir: None,
            docker_config: None,
            credentials: None,
            verify_with_get: false,
            user_agent: concat!("signet/", env!("CARGO_PKG_VERSION")).to_owned(),
            ping_timeout: Duration::from_secs(15),
            connect_timeout: Duration::from_secs(30),
            request_timeout: Some(Duration::from_secs(60)),
        }
    }
}

impl std::fmt::Debug for RegistryOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryOptions")
            .field("scheme", &self.scheme)
            .field("insecure", &self.insecure)
            .field("certs_dir", &self.certs_dir)
            .field("docker_config", &self.docker_config)
            .field("credentials", &self.credentials.is_some())
            .field("verify_with_get", &self.verify_with_get)
            .field("user_agent", &self.user_agent)
            .finish_non_exhaustive()
    }
}

impl RegistryOptions {
    /// Defaults plus the credentials of `<dir>/config.json` and the TLS files of
    /// `<dir>/certs.d`.
    ///
    /// # Errors
    ///
    /// [`RegistryError::DockerConfig`] for an unreadable or invalid config file.
    pub fn from_docker_config_dir(dir: &Path) -> Result<Self, RegistryError> {
        Ok(Self {
            docker_config: Some(DockerConfig::load_from_dir(dir)?),
            certs_dir: Some(dir.join(CERTS_DIR)),
            ..Self::default()
        })
    }

    /// [`from_docker_config_dir`](Self::from_docker_config_dir) for docker's config dir:
    /// `$DOCKER_CONFIG`, else `$HOME/.docker`.
    ///
    /// # Errors
    ///
    /// As [`from_docker_config_dir`](Self::from_docker_config_dir).
    pub fn from_docker_env() -> Result<Self, RegistryError> {
        let env_path = |name: &str| {
            std::env::var_os(name)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        let cwd = std::env::current_dir().unwrap_or_default();
        let dir = docker_config_dir(
            env_path("DOCKER_CONFIG").as_deref(),
            env_path("HOME").as_deref(),
            &cwd,
        );
        Self::from_docker_config_dir(&dir)
    }
}

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

/// The registry's URL and authentication challenges, found by the ping.
#[derive(Clone, Debug)]
struct Endpoint {
    base: Url,
    challenges: Vec<Challenge>,
}

#[derive(Clone, PartialEq, Eq, Hash)]
struct TokenKey {
    realm: String,
    service: Option<String>,
    scope: String,
    user: Option<String>,
}

#[derive(Default)]
struct State {
    endpoint: Option<Endpoint>,
    tokens: HashMap<TokenKey, String>,
    asked_source: Option<Option<Credentials>>,
}

/// What the authentication step produced.
enum Authorization {
    /// The header to send, if any.
    Header(Option<String>),
    /// The token service refused the credentials (or their absence), with its message.
    Refused(String),
}

/// A response and whether credentials were sent with it.
struct Sent {
    response: Response,
    with_credentials: bool,
}

/// A client for one registry.
pub struct RegistryClient {
    domain: String,
    host: String,
    insecure: bool,
    scheme: RegistryScheme,
    http: reqwest::Client,
    ping_timeout: Duration,
    verify_with_get: bool,
    docker_config: Option<DockerConfig>,
    credential_source: Option<Arc<dyn CredentialSource>>,
    state: Mutex<State>,
}

impl std::fmt::Debug for RegistryClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryClient")
            .field("domain", &self.domain)
            .field("host", &self.host)
            .field("insecure", &self.insecure)
            .field("scheme", &self.scheme)
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
        tls::install_ring_provider();
        let tls_config = tls_options.client_config().map_err(tls_error)?;
        let mut builder = reqwest::Client::builder()
            .use_preconfigured_tls(tls_config)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(options.user_agent.clone())
            .connect_timeout(options.connect_timeout);
        if let Some(timeout) = options.request_timeout {
            builder = builder.timeout(timeout);
        }
        let http = builder.build().map_err(|e| RegistryError::Tls {
            registry: domain.to_owned(),
            reason: error_chain(&e),
        })?;
        Ok(Self {
            domain: domain.to_owned(),
            host: reference::registry_host(domain).to_owned(),
            insecure,
            scheme: options.scheme,
            http,
            ping_timeout: options.ping_timeout,
            verify_with_get: options.verify_with_get,
            docker_config: options.docker_config,
            credential_source: options.credentials,
            state: Mutex::new(State::default()),
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
        &self.domain
    }

    /// The `host[:port]` requests go to (`registry-1.docker.io` for Docker Hub).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// Whether the registry is treated as insecure.
    pub fn is_insecure(&self) -> bool {
        self.insecure
    }

    /// Pings `/v2/` (once per client) and returns the registry's base URL.
    ///
    /// # Errors
    ///
    /// [`RegistryError::Network`] when no scheme reaches the registry,
    /// [`RegistryError::NotARegistry`] when it answers neither 2xx nor 401.
    pub async fn ping(&self) -> Result<Url, RegistryError> {
        Ok(self.endpoint().await?.base)
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
        let sent = self.send(Method::GET, url, image).await?;
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
                    registry: self.domain.clone(),
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
        let sent = self.send(Method::HEAD, url, image).await?;
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
        let Some(size) = header_u64(&response, CONTENT_LENGTH.as_str()).filter(|s| *s > 0) else {
            return Ok(None);
        };
        if size > MAX_MANIFEST_SIZE {
            return Err(self.too_large(image, "manifest", MAX_MANIFEST_SIZE));
        }
        Ok(Some(ManifestDescriptor {
            digest,
            size,
            media_type: media_type(&response),
            verified: false,
        }))
    }

    fn check_registry(&self, image: &ImageReference) -> Result<(), RegistryError> {
        if image.domain() == self.domain {
            Ok(())
        } else {
            Err(RegistryError::WrongRegistry {
                image: image.to_string(),
                registry: self.domain.clone(),
            })
        }
    }

    async fn manifest_url(&self, image: &ImageReference) -> Result<Url, RegistryError> {
        let endpoint = self.endpoint().await?;
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
                registry: self.domain.clone(),
                reason: format!("cannot build the manifest URL: {e}"),
            })
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    async fn endpoint(&self) -> Result<Endpoint, RegistryError> {
        if let Some(endpoint) = self.state().endpoint.clone() {
            return Ok(endpoint);
        }
        let schemes: &[&str] = match self.scheme {
            RegistryScheme::Https => &["https"],
            RegistryScheme::Http => &["http"],
            RegistryScheme::Auto if self.insecure => &["https", "http"],
            RegistryScheme::Auto => &["https"],
        };
        let mut last_error = None;
        for scheme in schemes {
            let base_text = format!("{scheme}://{}/", self.host);
            let (base, url) =
                match Url::parse(&base_text).and_then(|b| Ok((b.clone(), b.join("v2/")?))) {
                    Ok(pair) => pair,
                    Err(e) => {
                        return Err(RegistryError::Network {
                            registry: self.domain.clone(),
                            url: base_text,
                            reason: e.to_string(),
                        });
                    }
                };
            let response = match self
                .http
                .get(url.clone())
                .timeout(self.ping_timeout)
                .send()
                .await
            {
                Ok(response) => response,
                Err(e) => {
                    last_error = Some(RegistryError::Network {
                        registry: self.domain.clone(),
                        url: url.to_string(),
                        reason: error_chain(&e),
                    });
                    continue;
                }
            };
            let status = response.status();
            if !(status.is_success() || status == StatusCode::UNAUTHORIZED) {
                return Err(RegistryError::NotARegistry {
                    registry: self.domain.clone(),
                    url: url.to_string(),
                    status: status.as_u16(),
                });
            }
            let endpoint = Endpoint {
                base,
                challenges: challenges(&response),
            };
            self.state().endpoint = Some(endpoint.clone());
            return Ok(endpoint);
        }
        Err(last_error.unwrap_or_else(|| RegistryError::Network {
            registry: self.domain.clone(),
            url: self.host.clone(),
            reason: "no scheme to try".to_owned(),
        }))
    }

    /// Sends a manifest request, authenticating as the challenges ask; on a 401 the
    /// challenges are refreshed once and the credential source is asked once.
    async fn send(
        &self,
        method: Method,
        url: Url,
        image: &ImageReference,
    ) -> Result<Sent, RegistryError> {
        let scope = format!("repository:{}:pull", image.path());
        let (mut credentials, helper) = match self
            .docker_config
            .as_ref()
            .map_or(StoredCredentials::Missing, |c| c.lookup(&self.domain))
        {
            StoredCredentials::Found(credentials) => (Some(credentials), None),
            StoredCredentials::Helper(helper) => (None, Some(helper)),
            StoredCredentials::Missing => (None, None),
        };
        // Once the source has been asked, its answer is used from the start.
        let previous_answer = self.state().asked_source.clone();
        let mut source_asked = previous_answer.is_some();
        if let Some(Some(answer)) = previous_answer {
            credentials = Some(answer);
        }
        let mut challenges_refreshed = false;
        loop {
            let endpoint = self.endpoint().await?;
            let message = match self
                .authorization(&endpoint, credentials.as_ref(), &scope, image)
                .await?
            {
                Authorization::Refused(message) => message,
                Authorization::Header(header) => {
                    let mut request = self
                        .http
                        .request(method.clone(), url.clone())
                        .header(ACCEPT, MANIFEST_MEDIA_TYPES.join(", "));
                    if let Some(header) = header {
                        request = request.header(AUTHORIZATION, header);
                    }
                    let response = request.send().await.map_err(|e| RegistryError::Network {
                        registry: self.domain.clone(),
                        url: url.to_string(),
                        reason: error_chain(&e),
                    })?;
                    if response.status() != StatusCode::UNAUTHORIZED {
                        return Ok(Sent {
                            response,
                            with_credentials: credentials.is_some(),
                        });
                    }
                    self.forget_token(&endpoint, credentials.as_ref(), &scope);
                    let fresh = challenges(&response);
                    if !challenges_refreshed && !fresh.is_empty() && fresh != endpoint.challenges {
                        challenges_refreshed = true;
                        if let Some(stored) = self.state().endpoint.as_mut() {
                            stored.challenges = fresh;
                        }
                        continue;
                    }
                    error_message(response).await
                }
            };
            if !source_asked {
                source_asked = true;
                if let Some(asked) = self.ask_source() {
                    credentials = Some(asked);
                    continue;
                }
            }
            if credentials.is_none()
                && let Some(helper) = helper
            {
                return Err(RegistryError::CredentialHelper {
                    registry: self.domain.clone(),
                    helper,
                });
            }
            return Err(RegistryError::AccessDenied {
                image: image.to_string(),
                registry: self.domain.clone(),
                status: StatusCode::UNAUTHORIZED.as_u16(),
                with_credentials: credentials.is_some(),
                message,
            });
        }
    }

    /// The credential source's answer, asked once per client.
    fn ask_source(&self) -> Option<Credentials> {
        if let Some(answer) = &self.state().asked_source {
            return answer.clone();
        }
        let answer = self
            .credential_source
            .as_ref()
            .and_then(|source| source.credentials(&self.domain));
        self.state().asked_source = Some(answer.clone());
        answer
    }

    async fn authorization(
        &self,
        endpoint: &Endpoint,
        credentials: Option<&Credentials>,
        scope: &str,
        image: &ImageReference,
    ) -> Result<Authorization, RegistryError> {
        match endpoint.challenges.first() {
            None => Ok(Authorization::Header(None)),
            Some(Challenge::Basic) => Ok(Authorization::Header(
                credentials.map(auth::basic_authorization),
            )),
            Some(Challenge::Bearer { realm, service }) => {
                let key = TokenKey {
                    realm: realm.clone(),
                    service: service.clone(),
                    scope: scope.to_owned(),
                    user: credentials.map(|c| c.username().to_owned()),
                };
                if let Some(token) = self.state().tokens.get(&key) {
                    return Ok(Authorization::Header(Some(format!("Bearer {token}"))));
                }
                self.fetch_token(key, credentials, image).await
            }
        }
    }

    async fn fetch_token(
        &self,
        key: TokenKey,
        credentials: Option<&Credentials>,
        image: &ImageReference,
    ) -> Result<Authorization, RegistryError> {
        let token_error = |reason: String| RegistryError::Token {
            image: image.to_string(),
            registry: self.domain.clone(),
            realm: key.realm.clone(),
            reason,
        };
        let mut url = Url::parse(&key.realm)
            .map_err(|e| token_error(format!("the realm is not a URL: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(token_error("the realm is not an http(s) URL".to_owned()));
        }
        {
            let mut query = url.query_pairs_mut();
            if let Some(service) = &key.service {
                query.append_pair("service", service);
            }
            query.append_pair("scope", &key.scope);
            if let Some(credentials) = credentials {
                query.append_pair("account", credentials.username());
            }
        }
        let mut request = self.http.get(url);
        if let Some(credentials) = credentials {
            request = request.header(AUTHORIZATION, auth::basic_authorization(credentials));
        }
        let response = request
            .send()
            .await
            .map_err(|e| token_error(error_chain(&e)))?;
        let status = response.status();
        if status == StatusCode::UNAUTHORIZED {
            return Ok(Authorization::Refused(error_message(response).await));
        }
        if !status.is_success() {
            let message = error_message(response).await;
            return Err(token_error(format!(
                "the token service answered {}{}",
                status.as_u16(),
                if message.is_empty() {
                    String::new()
                } else {
                    format!(": {message}")
                }
            )));
        }
        let body = self
            .read_capped(response, MAX_TOKEN_RESPONSE_SIZE, "token response", image)
            .await?;
        #[derive(Deserialize)]
        struct TokenResponse {
            #[serde(default)]
            token: String,
            #[serde(default)]
            access_token: String,
        }
        let parsed: TokenResponse = serde_json::from_slice(&body)
            .map_err(|e| token_error(format!("the response is not a token: {e}")))?;
        let token = if parsed.access_token.is_empty() {
            parsed.token
        } else {
            parsed.access_token
        };
        if token.is_empty() {
            return Err(token_error("the response holds no token".to_owned()));
        }
        let header = format!("Bearer {token}");
        self.state().tokens.insert(key, token);
        Ok(Authorization::Header(Some(header)))
    }

    fn forget_token(&self, endpoint: &Endpoint, credentials: Option<&Credentials>, scope: &str) {
        if let Some(Challenge::Bearer { realm, service }) = endpoint.challenges.first() {
            self.state().tokens.remove(&TokenKey {
                realm: realm.clone(),
                service: service.clone(),
                scope: scope.to_owned(),
                user: credentials.map(|c| c.username().to_owned()),
            });
        }
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
        let registry = self.domain.clone();
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

    fn announced_digest(
        &self,
        response: &Response,
        image: &ImageReference,
    ) -> Result<Option<Digest>, RegistryError> {
        let Some(value) = response.headers().get(DOCKER_CONTENT_DIGEST) else {
            return Ok(None);
        };
        let bad = |reason: String| RegistryError::BadResponse {
            image: image.to_string(),
            registry: self.domain.clone(),
            reason,
        };
        let text = value
            .to_str()
            .map_err(|_| bad("Docker-Content-Digest is not ASCII".to_owned()))?;
        Digest::parse(text.trim())
            .map(Some)
            .map_err(|e| bad(format!("invalid Docker-Content-Digest {text:?}: {e}")))
    }

    fn too_large(&self, image: &ImageReference, what: &'static str, limit: u64) -> RegistryError {
        RegistryError::TooLarge {
            image: image.to_string(),
            registry: self.domain.clone(),
            what,
            limit,
        }
    }

    /// Reads a body, failing when it (or its announced length) exceeds `limit`.
    async fn read_capped(
        &self,
        mut response: Response,
        limit: u64,
        what: &'static str,
        image: &ImageReference,
    ) -> Result<Vec<u8>, RegistryError> {
        if header_u64(&response, CONTENT_LENGTH.as_str()).is_some_and(|length| length > limit) {
            return Err(self.too_large(image, what, limit));
        }
        let url = response.url().to_string();
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| RegistryError::Network {
            registry: self.domain.clone(),
            url: url.clone(),
            reason: error_chain(&e),
        })? {
            if (body.len() + chunk.len()) as u64 > limit {
                return Err(self.too_large(image, what, limit));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}

/// Every challenge of every `WWW-Authenticate` header.
fn challenges(response: &Response) -> Vec<Challenge> {
    response
        .headers()
        .get_all(WWW_AUTHENTICATE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(auth::parse_challenges)
        .collect()
}

fn header_u64(response: &Response, name: &str) -> Option<u64> {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
}

fn media_type(response: &Response) -> Option<String> {
    response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or_default().trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// The registry's message from an error body: the `errors` envelope as `CODE: message; …`, or
/// the start of a text body. Reads at most [`MAX_ERROR_BODY_SIZE`].
async fn error_message(mut response: Response) -> String {
    let mut body = Vec::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        let room = usize::try_from(MAX_ERROR_BODY_SIZE)
            .unwrap_or(usize::MAX)
            .saturating_sub(body.len());
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if room <= chunk.len() {
            break;
        }
    }
    summarize_error_body(&body)
}

fn summarize_error_body(body: &[u8]) -> String {
    #[derive(Deserialize)]
    struct Envelope {
        errors: Vec<Entry>,
    }
    #[derive(Deserialize)]
    struct Entry {
        #[serde(default)]
        code: String,
        #[serde(default)]
        message: String,
    }
    if let Ok(envelope) = serde_json::from_slice::<Envelope>(body) {
        return envelope
            .errors
            .iter()
            .map(|e| match (e.code.is_empty(), e.message.is_empty()) {
                (false, false) => format!("{}: {}", e.code, e.message),
                (false, true) => e.code.clone(),
                _ => e.message.clone(),
            })
            .collect::<Vec<_>>()
            .join("; ");
    }
    let text: String = String::from_utf8_lossy(body)
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(200)
        .collect()
}

/// An error and its causes, `: `-separated.
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summarizes_registry_error_bodies() {
        assert_eq!(
            summarize_error_body(
                br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{"Tag":"x"}}]}"#
            ),
            "MANIFEST_UNKNOWN: manifest unknown"
        );
        assert_eq!(
            summarize_error_body(br#"{"errors":[{"code":"A"},{"message":"b"}]}"#),
            "A; b"
        );
        assert_eq!(summarize_error_body(b"  plain\ntext \x1b "), "plain text");
        assert_eq!(summarize_error_body(&[b'x'; 500]).len(), 200);
        assert_eq!(summarize_error_body(b""), "");
    }

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
