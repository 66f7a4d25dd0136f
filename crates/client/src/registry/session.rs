//! The authenticated session with one registry, under the manifest API of
//! [`RegistryClient`](super::RegistryClient): the ping that finds the registry's endpoint and
//! challenges, the credentials (docker config, credential helper, the caller's source), bearer
//! tokens through [`crate::http::token`], and the retry on a 401.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use reqwest::{Method, Response, StatusCode, Url};
use serde::Deserialize;

use super::docker_config::{DockerConfig, StoredCredentials};
use super::error::RegistryError;
use super::reference::{self, ImageReference};
use crate::http::auth::{self, Challenge, CredentialSource, Credentials};
use crate::http::token::{self, TokenCache, TokenError, TokenKey};
use crate::http::{self, ClientBuildError, TlsOptions, error_chain};
use crate::trust_dir::docker_config_dir;

/// Largest token service response read (1 MiB).
pub const MAX_TOKEN_RESPONSE_SIZE: u64 = token::MAX_TOKEN_RESPONSE_SIZE;
/// How much of an error body is read for its message (64 KiB).
pub const MAX_ERROR_BODY_SIZE: u64 = 64 << 10;

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

/// The directory below the docker config dir holding per-registry TLS files.
pub const CERTS_DIR: &str = "certs.d";

/// How a [`RegistryClient`](super::RegistryClient) connects and authenticates.
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

/// The registry's URL and authentication challenges, found by the ping.
#[derive(Clone, Debug)]
pub(super) struct Endpoint {
    pub(super) base: Url,
    challenges: Vec<Challenge>,
}

#[derive(Default)]
struct State {
    endpoint: Option<Endpoint>,
    asked_source: Option<Option<Credentials>>,
}

/// What the authentication step produced.
enum Authorization {
    /// The header to send, if any.
    Header(Option<String>),
    /// The token service refused the credentials (or their absence), with its message.
    Refused(String),
}

/// A request to send: what [`Session::send_with`] needs beyond the image.
pub(super) struct Outgoing<'a> {
    pub(super) method: Method,
    pub(super) url: Url,
    pub(super) accept: &'a str,
    /// The body and its `Content-Type`.
    pub(super) body: Option<(&'a str, Bytes)>,
    /// Whether the request writes to the repository (token scope `pull,push`).
    pub(super) push: bool,
}

impl<'a> Outgoing<'a> {
    /// A request without a body, under the `pull` scope.
    pub(super) fn read(method: Method, url: Url, accept: &'a str) -> Self {
        Self {
            method,
            url,
            accept,
            body: None,
            push: false,
        }
    }
}

/// A response and whether credentials were sent with it.
pub(super) struct Sent {
    pub(super) response: Response,
    pub(super) with_credentials: bool,
}

/// The connection, credentials and tokens of one registry.
pub(super) struct Session {
    pub(super) domain: String,
    pub(super) host: String,
    pub(super) insecure: bool,
    pub(super) scheme: RegistryScheme,
    pub(super) http: reqwest::Client,
    pub(super) ping_timeout: Duration,
    pub(super) docker_config: Option<DockerConfig>,
    pub(super) credential_source: Option<Arc<dyn CredentialSource>>,
    state: Mutex<State>,
    tokens: TokenCache,
}

impl Session {
    /// A session for the registry `domain` (already validated), nothing sent yet.
    ///
    /// # Errors
    ///
    /// [`RegistryError::Tls`] when the TLS files or the HTTP client cannot be used.
    pub(super) fn new(
        domain: &str,
        insecure: bool,
        tls_options: &TlsOptions,
        options: &RegistryOptions,
    ) -> Result<Self, RegistryError> {
        let http = http::client(
            tls_options,
            &options.user_agent,
            options.connect_timeout,
            options.request_timeout,
        )
        .map_err(|e| RegistryError::Tls {
            registry: domain.to_owned(),
            reason: match e {
                ClientBuildError::Tls(e) => e.to_string(),
                ClientBuildError::Client(reason) => reason,
            },
        })?;
        Ok(Self {
            domain: domain.to_owned(),
            host: reference::registry_host(domain).to_owned(),
            insecure,
            scheme: options.scheme,
            http,
            ping_timeout: options.ping_timeout,
            docker_config: options.docker_config.clone(),
            credential_source: options.credentials.clone(),
            state: Mutex::new(State::default()),
            tokens: TokenCache::default(),
        })
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(super) async fn endpoint(&self) -> Result<Endpoint, RegistryError> {
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
                challenges: http::challenges(response.headers()),
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
    pub(super) async fn send(
        &self,
        method: Method,
        url: Url,
        accept: &str,
        image: &ImageReference,
    ) -> Result<Sent, RegistryError> {
        self.send_with(Outgoing::read(method, url, accept), image)
            .await
    }

    /// Sends `outgoing` as [`send`](Self::send) does; a push asks the token service for the
    /// `pull,push` scope.
    pub(super) async fn send_with(
        &self,
        outgoing: Outgoing<'_>,
        image: &ImageReference,
    ) -> Result<Sent, RegistryError> {
        let Outgoing {
            method,
            url,
            accept,
            body,
            push,
        } = outgoing;
        let actions = if push { "pull,push" } else { "pull" };
        let scope = format!("repository:{}:{actions}", image.path());
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
                        .header(ACCEPT, accept);
                    if let Some(header) = header {
                        request = request.header(AUTHORIZATION, header);
                    }
                    if let Some((content_type, bytes)) = &body {
                        request = request
                            .header(CONTENT_TYPE, *content_type)
                            .body(bytes.clone());
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
                    let fresh = http::challenges(response.headers());
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
                let key = TokenKey::new(realm, service.as_deref(), scope.to_owned(), credentials);
                match self
                    .tokens
                    .get_or_fetch(&self.http, &key, credentials)
                    .await
                {
                    Ok(header) => Ok(Authorization::Header(Some(header))),
                    Err(TokenError::Status { status: 401, body }) => {
                        Ok(Authorization::Refused(summarize_error_body(&body)))
                    }
                    Err(e) => Err(self.token_error(&key, e, image)),
                }
            }
        }
    }

    /// The registry client's wording of a token failure.
    fn token_error(
        &self,
        key: &TokenKey,
        error: TokenError,
        image: &ImageReference,
    ) -> RegistryError {
        let reason = match error {
            TokenError::TooLarge => {
                return self.too_large(image, "token response", MAX_TOKEN_RESPONSE_SIZE);
            }
            TokenError::Read(reason) => {
                return RegistryError::Network {
                    registry: self.domain.clone(),
                    url: key.realm.clone(),
                    reason,
                };
            }
            TokenError::Status { status, body } => {
                let message = summarize_error_body(&body);
                format!(
                    "the token service answered {status}{}",
                    if message.is_empty() {
                        String::new()
                    } else {
                        format!(": {message}")
                    }
                )
            }
            other => other.to_string(),
        };
        RegistryError::Token {
            image: image.to_string(),
            registry: self.domain.clone(),
            realm: key.realm.clone(),
            reason,
        }
    }

    pub(super) fn too_large(
        &self,
        image: &ImageReference,
        what: &'static str,
        limit: u64,
    ) -> RegistryError {
        RegistryError::TooLarge {
            image: image.to_string(),
            registry: self.domain.clone(),
            what,
            limit,
        }
    }

    fn forget_token(&self, endpoint: &Endpoint, credentials: Option<&Credentials>, scope: &str) {
        if let Some(Challenge::Bearer { realm, service }) = endpoint.challenges.first() {
            self.tokens.remove(&TokenKey::new(
                realm,
                service.as_deref(),
                scope.to_owned(),
                credentials,
            ));
        }
    }
}

/// The registry's message from an error body: the `errors` envelope as `CODE: message; …`, or
/// the start of a text body. Reads at most [`MAX_ERROR_BODY_SIZE`].
pub(super) async fn error_message(mut response: Response) -> String {
    let limit = usize::try_from(MAX_ERROR_BODY_SIZE).unwrap_or(usize::MAX);
    summarize_error_body(&http::read_prefix(&mut response, limit).await)
}

pub(super) fn summarize_error_body(body: &[u8]) -> String {
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
}
