//! An in-process fake OCI registry (axum, plain HTTP on loopback) with switchable
//! authentication and misbehaviour, recording every request it sees.

#![allow(dead_code, unreachable_pub)]

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use axum::routing::{any, get};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest as _, Sha256};

/// How the fake registry authenticates manifest requests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthMode {
    /// No authentication.
    Open,
    /// docker-distribution token auth; the token service requires basic credentials when
    /// `require_credentials`, else it also issues anonymous tokens, which the registry accepts
    /// only when `anonymous_allowed`.
    Bearer {
        require_credentials: bool,
        anonymous_allowed: bool,
    },
    /// HTTP basic auth.
    Basic,
}

/// One manifest as served, with knobs for misbehaviour.
#[derive(Clone, Debug)]
pub struct Served {
    pub body: Vec<u8>,
    pub media_type: String,
    /// `Docker-Content-Digest` sent; `None` sends none.
    pub digest_header: Option<String>,
    /// Whether HEAD answers carry the digest header.
    pub head_digest: bool,
    /// `Content-Length` of HEAD answers; defaults to the body length. With `None` the header is
    /// not set, and the HTTP stack sends `0` for the empty body.
    pub head_length: Option<u64>,
    /// Stream the GET body without a `Content-Length`.
    pub chunked: bool,
}

impl Served {
    pub fn new(body: &[u8], media_type: &str) -> Self {
        Self {
            body: body.to_vec(),
            media_type: media_type.to_owned(),
            digest_header: Some(sha256_digest(body)),
            head_digest: true,
            head_length: Some(body.len() as u64),
            chunked: false,
        }
    }
}

/// A request the fake saw.
#[derive(Clone, Debug)]
pub struct Logged {
    pub method: String,
    pub path: String,
    pub query: HashMap<String, String>,
    pub authorization: Option<String>,
    pub accept: Option<String>,
}

pub struct Config {
    pub auth: AuthMode,
    pub username: String,
    pub password: String,
    pub ping_status: StatusCode,
    /// Replaces the token service's JSON answer.
    pub token_body: Option<Vec<u8>>,
    pub manifests: HashMap<(String, String), Served>,
}

pub struct Shared {
    pub config: Mutex<Config>,
    pub log: Mutex<Vec<Logged>>,
    issued: Mutex<HashSet<String>>,
    pub addr: Mutex<Option<SocketAddr>>,
}

/// A running fake registry.
pub struct FakeRegistry {
    pub addr: SocketAddr,
    pub shared: Arc<Shared>,
}

pub const USER: &str = "alice";
pub const PASSWORD: &str = "s3cret";
pub const SERVICE: &str = "fake-registry";

pub fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

impl FakeRegistry {
    pub async fn start(auth: AuthMode) -> Self {
        let shared = Arc::new(Shared {
            config: Mutex::new(Config {
                auth,
                username: USER.to_owned(),
                password: PASSWORD.to_owned(),
                ping_status: StatusCode::OK,
                token_body: None,
                manifests: HashMap::new(),
            }),
            log: Mutex::new(Vec::new()),
            issued: Mutex::new(HashSet::new()),
            addr: Mutex::new(None),
        });
        let app = Router::new()
            .route("/token", get(token))
            .route("/v2/", any(ping))
            .route("/v2/{*rest}", any(manifest))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        *shared.addr.lock().unwrap() = Some(addr);
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self { addr, shared }
    }

    /// `127.0.0.1:<port>`, the registry as references name it.
    pub fn domain(&self) -> String {
        self.addr.to_string()
    }

    pub fn serve(&self, name: &str, reference: &str, served: Served) {
        self.shared
            .config
            .lock()
            .unwrap()
            .manifests
            .insert((name.to_owned(), reference.to_owned()), served);
    }

    pub fn configure(&self, change: impl FnOnce(&mut Config)) {
        change(&mut self.shared.config.lock().unwrap());
    }

    pub fn log(&self) -> Vec<Logged> {
        self.shared.log.lock().unwrap().clone()
    }

    /// Logged requests whose path starts with `prefix`, as `METHOD path`.
    pub fn requests(&self, prefix: &str) -> Vec<String> {
        self.log()
            .into_iter()
            .filter(|l| l.path.starts_with(prefix))
            .map(|l| format!("{} {}", l.method, l.path))
            .collect()
    }
}

fn record(shared: &Shared, request: &Request) {
    let query = request
        .uri()
        .query()
        .map(|q| {
            url_pairs(q)
                .into_iter()
                .collect::<HashMap<String, String>>()
        })
        .unwrap_or_default();
    let header = |name: header::HeaderName| {
        request
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    shared.log.lock().unwrap().push(Logged {
        method: request.method().to_string(),
        path: request.uri().path().to_owned(),
        query,
        authorization: header(header::AUTHORIZATION),
        accept: header(header::ACCEPT),
    });
}

fn url_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (decode(k), decode(v)))
        .collect()
}

fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
                out.push(u8::from_str_radix(hex, 16).unwrap());
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap()
}

fn challenge(shared: &Shared) -> Option<String> {
    let config = shared.config.lock().unwrap();
    let addr = shared.addr.lock().unwrap().unwrap();
    match config.auth {
        AuthMode::Open => None,
        AuthMode::Bearer { .. } => Some(format!(
            r#"Bearer realm="http://{addr}/token",service="{SERVICE}""#
        )),
        AuthMode::Basic => Some(r#"Basic realm="fake registry""#.to_owned()),
    }
}

fn unauthorized(shared: &Shared) -> Response {
    let mut response = Response::builder().status(StatusCode::UNAUTHORIZED);
    if let Some(challenge) = challenge(shared) {
        response = response.header(header::WWW_AUTHENTICATE, challenge);
    }
    response
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(
            r#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#,
        ))
        .unwrap()
}

fn basic_ok(headers: &HeaderMap, user: &str, password: &str) -> bool {
    let expected = format!("Basic {}", STANDARD.encode(format!("{user}:{password}")));
    headers
        .get(header::AUTHORIZATION)
        .is_some_and(|v| v.as_bytes() == expected.as_bytes())
}

async fn ping(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    record(&shared, &request);
    let status = shared.config.lock().unwrap().ping_status;
    if status != StatusCode::OK {
        return Response::builder()
            .status(status)
            .body(Body::empty())
            .unwrap();
    }
    if challenge(&shared).is_some() {
        return unauthorized(&shared);
    }
    Response::builder()
        .header("Docker-Distribution-API-Version", "registry/2.0")
        .body(Body::from("{}"))
        .unwrap()
}

async fn token(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    record(&shared, &request);
    let config = shared.config.lock().unwrap();
    let AuthMode::Bearer {
        require_credentials,
        ..
    } = config.auth
    else {
        return Response::builder()
            .status(StatusCode::NOT_FOUND)
            .body(Body::empty())
            .unwrap();
    };
    let with_credentials = request.headers().contains_key(header::AUTHORIZATION);
    if with_credentials && !basic_ok(request.headers(), &config.username, &config.password) {
        return Response::builder()
            .status(StatusCode::UNAUTHORIZED)
            .body(Body::from(
                r#"{"errors":[{"code":"UNAUTHORIZED","message":"bad credentials"}]}"#,
            ))
            .unwrap();
    }
    if require_credentials && !with_credentials {
        return Response::builder()
            .status(StatusCode::UNAUTHORIZED)
            .body(Body::from("credentials required"))
            .unwrap();
    }
    if let Some(body) = &config.token_body {
        return Response::builder()
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.clone()))
            .unwrap();
    }
    let query: HashMap<String, String> = url_pairs(request.uri().query().unwrap_or_default())
        .into_iter()
        .collect();
    let scope = query.get("scope").cloned().unwrap_or_default();
    let who = if with_credentials {
        "user"
    } else {
        "anonymous"
    };
    let token = format!("{who}|{scope}");
    shared.issued.lock().unwrap().insert(token.clone());
    let encoded = STANDARD.encode(&token);
    Response::builder()
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(format!(
            r#"{{"token":"{encoded}","expires_in":300}}"#
        )))
        .unwrap()
}

fn authorized(shared: &Shared, headers: &HeaderMap, name: &str) -> bool {
    let config = shared.config.lock().unwrap();
    match &config.auth {
        AuthMode::Open => true,
        AuthMode::Basic => basic_ok(headers, &config.username, &config.password),
        AuthMode::Bearer {
            anonymous_allowed, ..
        } => {
            let Some(token) = headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .and_then(|t| STANDARD.decode(t).ok())
                .and_then(|t| String::from_utf8(t).ok())
            else {
                return false;
            };
            let issued = shared.issued.lock().unwrap().contains(&token);
            let Some((who, scope)) = token.split_once('|') else {
                return false;
            };
            issued
                && scope == format!("repository:{name}:pull")
                && (who == "user" || *anonymous_allowed)
        }
    }
}

async fn manifest(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    record(&shared, &request);
    let path = request.uri().path().to_owned();
    let rest = path.strip_prefix("/v2/").unwrap_or_default();
    let Some((name, reference)) = rest.rsplit_once("/manifests/") else {
        return Response::builder()
            .status(StatusCode::NOT_FOUND)
            .body(Body::empty())
            .unwrap();
    };
    if !authorized(&shared, request.headers(), name) {
        return unauthorized(&shared);
    }
    let served = shared
        .config
        .lock()
        .unwrap()
        .manifests
        .get(&(name.to_owned(), reference.to_owned()))
        .cloned();
    let Some(served) = served else {
        return Response::builder()
            .status(StatusCode::NOT_FOUND)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(
                r#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{}}]}"#,
            ))
            .unwrap();
    };
    let mut response = Response::builder().header(header::CONTENT_TYPE, served.media_type.clone());
    let is_head = request.method() == Method::HEAD;
    if let Some(digest) = &served.digest_header
        && (!is_head || served.head_digest)
    {
        response = response.header("Docker-Content-Digest", digest.clone());
    }
    if is_head {
        if let Some(length) = served.head_length {
            response = response.header(header::CONTENT_LENGTH, HeaderValue::from(length));
        }
        return response.body(Body::empty()).unwrap();
    }
    if served.chunked {
        let chunks: Vec<Result<Vec<u8>, std::io::Error>> = served
            .body
            .chunks(64 << 10)
            .map(|c| Ok(c.to_vec()))
            .collect();
        return response
            .body(Body::from_stream(futures_util::stream::iter(chunks)))
            .unwrap();
    }
    response.body(Body::from(served.body)).unwrap()
}
