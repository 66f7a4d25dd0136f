//! The Notary server as a remote store, over HTTP(S).
//!
//! | operation | request |
//! |---|---|
//! | [`ping`](RemoteStore::ping) | `GET <server>/v2/` |
//! | [`get_meta`](RemoteStore::get_meta) | `GET …/v2/<gun>/_trust/tuf/<name>.json` (`<name>` = `timestamp`, `snapshot.<sha256>`, `3.root`, `targets/x.<sha256>`, …) |
//! | [`get_key`](RemoteStore::get_key) | `GET …/_trust/tuf/<role>.key` |
//! | [`rotate_key`](RemoteStore::rotate_key) | `POST …/_trust/tuf/<role>.key` |
//! | [`publish`](RemoteStore::publish) | `POST …/_trust/tuf/`, multipart |
//! | [`delete_repo`](RemoteStore::delete_repo) | `DELETE …/_trust/tuf/` |
//! | [`changes_after`](RemoteStore::changes_after), [`changefeed_head`](RemoteStore::changefeed_head) | `GET <server>/v2/_trust/changefeed` |
//!
//! Status mapping (as the Go client): 200 is success; 404 → [`RemoteError::MetaNotFound`]; 400 →
//! [`RemoteError::ServerValidation`] when the error envelope carries a validation error, else
//! [`RemoteError::ServerRejected`]; 401 → [`RemoteError::Unauthorized`]; anything else →
//! [`RemoteError::ServerUnavailable`]. Error bodies are read up to 1 KiB. A `Content-Length` above
//! the caller's limit is [`RemoteError::MaliciousServer`]; bodies are read through the limit.
//!
//! [`RemoteStore::connect`] pings the server first, like the notary CLI: when the ping fails
//! (transport error, or a status that is neither 2xx nor 401) the store is **offline** and
//! every operation returns [`RemoteError::Offline`], which says why: a failed connection is
//! classified ([`ConnectFailure`]: TLS, wrong scheme, refused, DNS, timeout, proxy).

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use reqwest::header::{AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE};
use reqwest::{Method, StatusCode, Url};
use signet_tuf::PublicKey;

use signet_tuf::notary::{envelope, gojson, multipart};

use crate::config::parse_server_url;
use crate::error::{ConnectFailure, Error, RemoteError, Result};
use crate::gun::Gun;
use crate::http::auth::{
    self, Challenge, CredentialCache, CredentialSource, Credentials, Identity,
};
use crate::http::token::{TokenCache, TokenError, TokenKey};
use crate::http::{self, ClientBuildError, TlsOptions, error_chain};

/// Largest metadata download when no length is known (Notary's `MaxDownloadSize`, 100 MiB).
pub const MAX_DOWNLOAD_SIZE: u64 = 100 << 20;
/// Largest timestamp download (Notary's `MaxTimestampSize`, 1 MiB).
pub const MAX_TIMESTAMP_SIZE: u64 = 1 << 20;
/// Largest public key response (256 KiB).
pub const MAX_KEY_SIZE: u64 = 256 << 10;
/// How much of an error body is read (1 KiB).
pub const MAX_ERROR_RESPONSE_SIZE: u64 = 1 << 10;
/// The permission a command needs, which decides the token scope.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Access {
    /// `pull`: read-only commands (anonymous first, then with credentials).
    Pull,
    /// `push,pull`: publishing.
    PushPull,
    /// `*`: key rotation on the server and remote delete.
    Admin,
}

impl Access {
    /// The actions of the token scope.
    pub fn actions(self) -> &'static str {
        match self {
            Self::Pull => "pull",
            Self::PushPull => "push,pull",
            Self::Admin => "*",
        }
    }

    /// The token scope for `gun`: `repository:<gun>:<actions>`.
    pub fn scope(self, gun: &str) -> String {
        format!("repository:{gun}:{}", self.actions())
    }
}

/// How a [`RemoteStore`] connects and authenticates.
#[derive(Clone)]
pub struct RemoteOptions {
    /// TLS roots, client certificate, skip-verify.
    pub tls: TlsOptions,
    /// The permission requested in token scopes.
    pub access: Access,
    /// Where credentials come from when the server asks (asked at most once).
    pub credentials: Option<Arc<dyn CredentialSource>>,
    /// The `User-Agent` header.
    pub user_agent: String,
    /// Timeout of the `/v2/` ping (the notary CLI uses 5 s).
    pub ping_timeout: Duration,
    /// Timeout for establishing connections (the notary CLI uses 30 s).
    pub connect_timeout: Duration,
    /// Timeout of each whole request, if any (the notary CLI sets none).
    pub request_timeout: Option<Duration>,
}

impl Default for RemoteOptions {
    fn default() -> Self {
        Self {
            tls: TlsOptions::default(),
            access: Access::Pull,
            credentials: None,
            user_agent: concat!("signet/", env!("CARGO_PKG_VERSION")).to_owned(),
            ping_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(30),
            request_timeout: None,
        }
    }
}

impl std::fmt::Debug for RemoteOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteOptions")
            .field("tls", &self.tls)
            .field("access", &self.access)
            .field("credentials", &self.credentials.is_some())
            .field("user_agent", &self.user_agent)
            .finish_non_exhaustive()
    }
}

/// What a ping found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PingOutcome {
    /// The server answered 2xx or 401: it is a Notary server.
    Reachable {
        /// The status.
        status: u16,
    },
    /// The server could not be reached or answered something else.
    Unreachable {
        /// Why, for the user ("could not reach <url>: …").
        reason: String,
        /// The classified connection failure, when the server gave no HTTP answer.
        failure: Option<Box<ConnectFailure>>,
    },
}

/// Why a store is offline.
#[derive(Clone, Debug)]
struct Offline {
    reason: String,
    failure: Option<Box<ConnectFailure>>,
}

struct AuthState {
    challenges: Vec<Challenge>,
    credentials: CredentialCache,
}

/// A request body and its content type.
#[derive(Clone)]
struct Body {
    content_type: String,
    bytes: Bytes,
}

/// A Notary server.
pub struct RemoteStore {
    base: Url,
    http: reqwest::Client,
    access: Access,
    ping_timeout: Duration,
    offline: Option<Offline>,
    auth: Mutex<AuthState>,
    tokens: TokenCache,
}

impl std::fmt::Debug for RemoteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteStore")
            .field("base", &self.base.as_str())
            .field("access", &self.access)
            .field("offline", &self.offline)
            .finish_non_exhaustive()
    }
}

impl RemoteStore {
    /// A store for `server` (`http(s)://host[:port][/prefix]`) without pinging it.
    ///
    /// # Errors
    ///
    /// [`ConfigError::ServerUrl`](crate::error::ConfigError::ServerUrl) for an unusable URL,
    /// [`RemoteError::Tls`] when the TLS configuration cannot be built.
    pub fn new(server: &str, options: RemoteOptions) -> Result<Self> {
        let base = parse_server_url(server)?;
        let http = http::client(
            &options.tls,
            &options.user_agent,
            options.connect_timeout,
            options.request_timeout,
        )
        .map_err(|e| match e {
            ClientBuildError::Tls(e) => *e,
            ClientBuildError::Client(reason) => Error::Remote(RemoteError::Tls { reason }),
        })?;
        Ok(Self {
            base,
            http,
            access: options.access,
            ping_timeout: options.ping_timeout,
            offline: None,
            auth: Mutex::new(AuthState {
                challenges: Vec::new(),
                credentials: CredentialCache::new(options.credentials),
            }),
            tokens: TokenCache::default(),
        })
    }

    /// A store for `server` that pings it first; when the ping fails the store is offline
    /// (see [`offline_reason`](Self::offline_reason)) rather than an error.
    ///
    /// # Errors
    ///
    /// As [`new`](Self::new).
    pub async fn connect(server: &str, options: RemoteOptions) -> Result<Self> {
        let mut store = Self::new(server, options)?;
        if let PingOutcome::Unreachable { reason, failure } = store.ping().await {
            store.offline = Some(Offline { reason, failure });
        }
        Ok(store)
    }

    /// A store on which every operation fails with [`RemoteError::Offline`].
    ///
    /// # Errors
    ///
    /// As [`new`](Self::new).
    pub fn offline(server: &str, reason: impl Into<String>) -> Result<Self> {
        let mut store = Self::new(server, RemoteOptions::default())?;
        store.offline = Some(Offline {
            reason: reason.into(),
            failure: None,
        });
        Ok(store)
    }

    /// The server's base URL.
    pub fn server_url(&self) -> &Url {
        &self.base
    }

    /// `host[:port]` of the server, as Notary names it in messages.
    pub fn server_host(&self) -> String {
        host_of(&self.base)
    }

    /// The permission used in token scopes.
    pub fn access(&self) -> Access {
        self.access
    }

    /// Why the store is offline, if it is.
    pub fn offline_reason(&self) -> Option<&str> {
        self.offline.as_ref().map(|o| o.reason.as_str())
    }

    /// The classified connection failure that made the store offline, if that is why.
    pub fn offline_failure(&self) -> Option<&ConnectFailure> {
        self.offline.as_ref()?.failure.as_deref()
    }

    /// The error every operation of an offline store fails with (`None` when online): it
    /// says why, and its remedy names the setting that fixes a classified connection failure.
    pub fn offline_error(&self) -> Option<Error> {
        self.offline.as_ref().map(|o| {
            Error::Remote(RemoteError::Offline {
                reason: o.reason.clone(),
                failure: o.failure.clone(),
            })
        })
    }

    /// Whether the store is offline.
    pub fn is_offline(&self) -> bool {
        self.offline.is_some()
    }

    /// `GET <server>/v2/` with the ping timeout; records any authentication challenge.
    pub async fn ping(&self) -> PingOutcome {
        let url = self.v2_url(&[]);
        let result = self
            .http
            .get(url.clone())
            .timeout(self.ping_timeout)
            .send()
            .await;
        match result {
            Err(e) => {
                let failure = ConnectFailure::classify(&e, &url);
                PingOutcome::Unreachable {
                    reason: format!("could not reach {}: {failure}", self.base),
                    failure: Some(Box::new(failure)),
                }
            }
            Ok(resp) => {
                let status = resp.status();
                if status == StatusCode::UNAUTHORIZED {
                    self.record_challenges(&resp);
                }
                if status.is_success() || status == StatusCode::UNAUTHORIZED {
                    PingOutcome::Reachable {
                        status: status.as_u16(),
                    }
                } else {
                    let mut resp = resp;
                    let body = http::read_prefix(&mut resp, 1 << 10).await;
                    match ConnectFailure::plain_http_refused(&url, &body) {
                        Some(failure) => PingOutcome::Unreachable {
                            reason: format!("could not reach {}: {failure}", self.base),
                            failure: Some(Box::new(failure)),
                        },
                        None => PingOutcome::Unreachable {
                            reason: format!("could not reach {}: {}", self.base, status.as_u16()),
                            failure: None,
                        },
                    }
                }
            }
        }
    }

    /// Downloads metadata file `<name>.json` of `gun`, at most `max_len` bytes
    /// ([`MAX_TIMESTAMP_SIZE`] for the timestamp, the known length for checksummed files,
    /// [`MAX_DOWNLOAD_SIZE`] otherwise). A shorter body is returned as is.
    ///
    /// # Errors
    ///
    /// [`RemoteError::Offline`], [`RemoteError::Network`], the status errors of the module
    /// documentation, [`RemoteError::MaliciousServer`] when `Content-Length` exceeds `max_len`,
    /// [`Error::InvalidRole`] when `name` is not a metadata name.
    pub async fn get_meta(&self, gun: &Gun, name: &str, max_len: u64) -> Result<Vec<u8>> {
        self.ensure_online()?;
        check_meta_name(gun, name)?;
        let url = self.tuf_url(gun, &format!("{name}.json"));
        let resp = self
            .execute(&self.access.scope(gun.as_str()), Method::GET, url, None)
            .await?;
        let resp = check_status(resp, gun, name).await?;
        if let Some(length) = content_length(&resp)
            && length > max_len
        {
            return Err(Error::Remote(RemoteError::MaliciousServer {
                gun: gun.to_string(),
                resource: name.to_owned(),
                limit: max_len,
                content_length: length,
            }));
        }
        read_limited(resp, max_len).await
    }

    /// `GET <role>.key`: the server's public key for `timestamp` or `snapshot`.
    ///
    /// # Errors
    ///
    /// As [`get_meta`](Self::get_meta); [`RemoteError::BadResponse`] when the body is not a TUF
    /// key.
    pub async fn get_key(&self, gun: &Gun, role: &str) -> Result<PublicKey> {
        self.key_request(gun, role, Method::GET).await
    }

    /// `POST <role>.key`: asks the server for a new key for `timestamp` or `snapshot` (no
    /// metadata changes until a root listing it is published).
    ///
    /// # Errors
    ///
    /// As [`get_key`](Self::get_key).
    pub async fn rotate_key(&self, gun: &Gun, role: &str) -> Result<PublicKey> {
        self.key_request(gun, role, Method::POST).await
    }

    async fn key_request(&self, gun: &Gun, role: &str, method: Method) -> Result<PublicKey> {
        self.ensure_online()?;
        if !matches!(role, "timestamp" | "snapshot") {
            return Err(Error::InvalidRole {
                gun: gun.to_string(),
                role: role.to_owned(),
            });
        }
        let resource = format!("{role} key");
        let url = self.tuf_url(gun, &format!("{role}.key"));
        let resp = self
            .execute(&self.access.scope(gun.as_str()), method, url, None)
            .await?;
        let resp = check_status(resp, gun, &resource).await?;
        let body = read_limited(resp, MAX_KEY_SIZE).await?;
        let value: serde_json::Value = serde_json::from_slice(&body).map_err(|e| {
            Error::Remote(RemoteError::BadResponse {
                resource: resource.clone(),
                reason: e.to_string(),
            })
        })?;
        gojson::parse_key(&value)
            .map_err(|reason| Error::Remote(RemoteError::BadResponse { resource, reason }))
    }

    /// Uploads `files` (role name, exact bytes) in one multipart `POST`; the server accepts or
    /// rejects them together.
    ///
    /// # Errors
    ///
    /// [`RemoteError::Offline`], [`RemoteError::Network`], the status errors of the module
    /// documentation (validation failures as [`RemoteError::ServerValidation`]).
    pub async fn publish(&self, gun: &Gun, files: &[(String, Vec<u8>)]) -> Result<()> {
        self.ensure_online()?;
        let multipart = multipart::build(&random_boundary(), files);
        let body = Body {
            content_type: multipart.content_type(),
            bytes: Bytes::from(multipart.body),
        };
        let url = self.tuf_url(gun, "");
        let resp = self
            .execute(
                &self.access.scope(gun.as_str()),
                Method::POST,
                url,
                Some(body),
            )
            .await?;
        check_status(resp, gun, "POST metadata endpoint").await?;
        Ok(())
    }

    /// `DELETE …/_trust/tuf/`: removes all of the collection's metadata on the server.
    ///
    /// # Errors
    ///
    /// As [`publish`](Self::publish).
    pub async fn delete_repo(&self, gun: &Gun) -> Result<()> {
        self.ensure_online()?;
        let url = self.tuf_url(gun, "");
        let resp = self
            .execute(&self.access.scope(gun.as_str()), Method::DELETE, url, None)
            .await?;
        check_status(resp, gun, "DELETE metadata for GUN endpoint").await?;
        Ok(())
    }

    fn ensure_online(&self) -> Result<()> {
        match self.offline_error() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// `<base>/v2/<segments…>/` (always with a trailing slash when `segments` is empty).
    fn v2_url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        url.set_query(None);
        url.set_fragment(None);
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty();
            path.push("v2");
            for segment in segments {
                path.push(segment);
            }
            if segments.is_empty() {
                path.push("");
            }
        }
        url
    }

    /// `<base>/v2/<gun>/_trust/tuf/<file>`; `file` may contain `/` (delegations).
    fn tuf_url(&self, gun: &Gun, file: &str) -> Url {
        let mut segments: Vec<&str> = gun.components().collect();
        segments.push("_trust");
        segments.push("tuf");
        segments.extend(file.split('/'));
        self.v2_url(&segments)
    }

    fn lock_auth(&self) -> MutexGuard<'_, AuthState> {
        self.auth.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records the challenges of a 401; returns whether they differ from those known.
    fn record_challenges(&self, resp: &reqwest::Response) -> bool {
        let challenges = http::challenges(resp.headers());
        if challenges.is_empty() {
            return false;
        }
        let mut state = self.lock_auth();
        if state.challenges == challenges {
            return false;
        }
        state.challenges = challenges;
        true
    }

    fn credentials(&self) -> Option<Credentials> {
        let server = self.base.to_string();
        self.lock_auth().credentials.get(&server)
    }

    /// The `Authorization` header for an attempt as `identity`, and the token cache key when
    /// the header carries a bearer token.
    async fn authorization(
        &self,
        scope: &str,
        identity: Identity,
    ) -> Result<(Option<String>, Option<TokenKey>)> {
        let challenges = self.lock_auth().challenges.clone();
        let bearer = challenges.iter().find_map(|c| match c {
            Challenge::Bearer { realm, service } => Some((realm.clone(), service.clone())),
            Challenge::Basic => None,
        });
        if let Some((realm, service)) = bearer {
            let creds = match identity {
                Identity::Anonymous => None,
                Identity::User => self.credentials(),
            };
            let key = TokenKey::new(&realm, service.as_deref(), scope.to_owned(), creds.as_ref());
            return match self
                .tokens
                .get_or_fetch(&self.http, &key, creds.as_ref())
                .await
            {
                Ok(header) => Ok((Some(header), Some(key))),
                // An anonymous token that cannot be had just means "try with credentials".
                Err(_) if identity == Identity::Anonymous => Ok((None, None)),
                Err(e) => Err(token_fetch_error(&key, e)),
            };
        }
        if challenges.contains(&Challenge::Basic)
            && identity == Identity::User
            && let Some(creds) = self.credentials()
        {
            return Ok((Some(auth::basic_authorization(&creds)), None));
        }
        Ok((None, None))
    }

    /// Sends a request, authenticating as challenged: anonymously first for [`Access::Pull`],
    /// then with credentials. Returns the last response (possibly a 401).
    async fn execute(
        &self,
        scope: &str,
        method: Method,
        url: Url,
        body: Option<Body>,
    ) -> Result<reqwest::Response> {
        let identities: &[Identity] = match self.access {
            Access::Pull => &[Identity::Anonymous, Identity::User],
            Access::PushPull | Access::Admin => &[Identity::User],
        };
        let mut last = None;
        for &identity in identities {
            if identity == Identity::User
                && self.access == Access::Pull
                && (!self.lock_auth().credentials.has_source() || self.credentials().is_none())
            {
                break;
            }
            for attempt in 0..2 {
                let (header, token_key) = self.authorization(scope, identity).await?;
                let mut request = self.http.request(method.clone(), url.clone());
                if let Some(header) = header {
                    request = request.header(AUTHORIZATION, header);
                }
                if let Some(body) = &body {
                    request = request
                        .header(CONTENT_TYPE, body.content_type.clone())
                        .body(body.bytes.clone());
                }
                let resp = request.send().await.map_err(|e| {
                    let failure = ConnectFailure::classify(&e, &url);
                    Error::Remote(RemoteError::Network {
                        url: url.to_string(),
                        reason: failure.to_string(),
                        failure: Some(Box::new(failure)),
                    })
                })?;
                if resp.status() != StatusCode::UNAUTHORIZED {
                    return Ok(resp);
                }
                let learned = self.record_challenges(&resp);
                // A token the server calls invalid (expired) is dropped and fetched again
                // once; one that merely lacks rights is kept.
                let invalid_token = token_key.is_some() && http::has_invalid_token(resp.headers());
                if invalid_token && let Some(key) = &token_key {
                    self.tokens.remove(key);
                }
                last = Some(resp);
                if attempt > 0 || !(learned || invalid_token) {
                    break;
                }
            }
        }
        last.ok_or_else(|| {
            Error::Remote(RemoteError::Network {
                url: url.to_string(),
                reason: "no request was sent".to_owned(),
                failure: None,
            })
        })
    }
}

/// `host[:port]` of a server URL (the URL itself when it names no host).
pub(crate) fn host_of(url: &Url) -> String {
    match (url.host_str(), url.port()) {
        (Some(host), Some(port)) => format!("{host}:{port}"),
        (Some(host), None) => host.to_owned(),
        _ => url.to_string(),
    }
}

fn check_meta_name(gun: &Gun, name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.split('/').all(|segment| {
            !segment.is_empty()
                && segment != "."
                && segment != ".."
                && segment
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        });
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidRole {
            gun: gun.to_string(),
            role: name.to_owned(),
        })
    }
}

fn content_length(resp: &reqwest::Response) -> Option<u64> {
    resp.headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
}

/// Maps a status to the Go client's errors (only 200 is success).
async fn check_status(
    resp: reqwest::Response,
    gun: &Gun,
    resource: &str,
) -> Result<reqwest::Response> {
    let status = resp.status();
    if status == StatusCode::OK {
        return Ok(resp);
    }
    if status == StatusCode::NOT_FOUND {
        return Err(Error::Remote(RemoteError::MetaNotFound {
            gun: gun.to_string(),
            resource: resource.to_owned(),
        }));
    }
    let body = read_limited(resp, MAX_ERROR_RESPONSE_SIZE)
        .await
        .unwrap_or_default();
    let response = Box::new(envelope::decode(&body));
    Err(match status {
        StatusCode::BAD_REQUEST => match response.validation.clone() {
            Some(validation) => Error::Remote(RemoteError::ServerValidation {
                gun: gun.to_string(),
                validation,
                response,
            }),
            None => Error::Remote(RemoteError::ServerRejected {
                gun: gun.to_string(),
                resource: resource.to_owned(),
                response,
            }),
        },
        StatusCode::UNAUTHORIZED => Error::Remote(RemoteError::Unauthorized {
            gun: Some(gun.to_string()),
            resource: resource.to_owned(),
            response,
        }),
        _ => Error::Remote(RemoteError::ServerUnavailable {
            gun: Some(gun.to_string()),
            resource: resource.to_owned(),
            status: status.as_u16(),
            response,
        }),
    })
}

/// Reads at most `limit` bytes of the body (the rest is dropped).
///
/// The buffer is allocated once with the announced `Content-Length` (never more than `limit`),
/// and trimmed to what arrived, so a large metadata file is held in exactly its own size.
async fn read_limited(mut resp: reqwest::Response, limit: u64) -> Result<Vec<u8>> {
    let url = resp.url().to_string();
    let cap = usize::try_from(limit).unwrap_or(usize::MAX);
    // Without a `Content-Length` (a chunked response), a limit below the general download
    // limit is the exact length the metadata records (plus one) or a small fixed cap.
    let expected = match content_length(&resp) {
        Some(length) => usize::try_from(length).unwrap_or(usize::MAX),
        None if limit <= MAX_DOWNLOAD_SIZE => cap,
        None => 0,
    };
    let mut out = Vec::with_capacity(expected.min(cap));
    while out.len() < cap {
        let chunk = resp.chunk().await.map_err(|e| {
            Error::Remote(RemoteError::Network {
                url: url.clone(),
                reason: error_chain(&e),
                failure: None,
            })
        })?;
        let Some(chunk) = chunk else { break };
        let room = cap - out.len();
        out.extend_from_slice(&chunk[..chunk.len().min(room)]);
    }
    if out.capacity() - out.len() > out.len() / 64 {
        out.shrink_to_fit();
    }
    Ok(out)
}

/// The notary client's wording of a token failure.
fn token_fetch_error(key: &TokenKey, error: TokenError) -> Error {
    let reason = match error {
        TokenError::Realm(reason) | TokenError::Send(reason) => reason,
        TokenError::NotAToken(e) => e.to_string(),
        TokenError::Status { status, .. } => format!("token server answered {status}"),
        TokenError::Read(reason) => {
            return Error::Remote(RemoteError::Network {
                url: key.realm.clone(),
                reason,
                failure: None,
            });
        }
        other => other.to_string(),
    };
    Error::Remote(RemoteError::TokenFetch {
        realm: key.realm.clone(),
        reason,
    })
}

/// Go's random multipart boundary: 30 random bytes in hex.
fn random_boundary() -> String {
    hex::encode(crate::fsutil::random_bytes::<30>())
}

mod changefeed;
pub use changefeed::Change;

#[cfg(test)]
mod tests;
