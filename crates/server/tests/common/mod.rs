//! Shared helpers of the HTTP integration tests: an in-process router on a fresh SQLite
//! database, and small request/response helpers.
#![allow(dead_code, unreachable_pub)]

pub mod meta;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use signet_server::cache::{CacheSettings, MetaCache};
use signet_server::config::ServerKeyAlgorithm;
use signet_server::http::{AppState, HttpSettings, router};
use signet_server::kek::Kek;
use signet_server::repo::{Repo, RepoSettings};
use signet_server::store::Store;
use tower::ServiceExt as _;

/// A router on its own SQLite database.
pub struct TestServer {
    pub router: Router,
    pub store: Store,
    pub state: AppState,
    _dir: tempfile::TempDir,
}

/// A response, fully read.
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("JSON body")
    }

    /// The `code` of the single error in the envelope.
    pub fn error_code(&self) -> String {
        let v = self.json();
        let errors = v["errors"].as_array().expect("errors list");
        assert_eq!(errors.len(), 1, "exactly one error: {}", self.text());
        errors[0]["code"].as_str().expect("code").to_owned()
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|v| v.to_str().expect("ASCII header").to_owned())
    }
}

impl TestServer {
    pub async fn new() -> Self {
        Self::with_settings(HttpSettings::default(), None).await
    }

    pub async fn with_settings(
        settings: HttpSettings,
        auth: Option<signet_server::auth::TokenAuth>,
    ) -> Self {
        Self::build(settings, auth, ServerKeyAlgorithm::Ecdsa).await
    }

    pub async fn build(
        settings: HttpSettings,
        auth: Option<signet_server::auth::TokenAuth>,
        key_algorithm: ServerKeyAlgorithm,
    ) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
        let store = Store::connect(&url).await.expect("sqlite store");
        let repo = Repo::new(
            store.clone(),
            MetaCache::new(CacheSettings::default()),
            RepoSettings {
                kek: std::sync::Arc::new(Kek::from_bytes([7; 32])),
                key_algorithm,
            },
        );
        let state = AppState::new(repo, settings, auth);
        Self {
            router: router(state.clone()),
            store,
            state,
            _dir: dir,
        }
    }

    pub async fn send(&self, req: Request<Body>) -> Reply {
        let resp = self.router.clone().oneshot(req).await.expect("infallible");
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .expect("body")
            .to_vec();
        Reply {
            status,
            headers,
            body,
        }
    }

    pub async fn request(&self, method: Method, uri: &str) -> Reply {
        self.send(
            Request::builder()
                .method(method)
                .uri(uri)
                .body(Body::empty())
                .expect("request"),
        )
        .await
    }

    pub async fn get(&self, uri: &str) -> Reply {
        self.request(Method::GET, uri).await
    }

    /// POSTs a multipart upload of `(filename, bytes)` parts, as the Go client writes it.
    pub async fn upload(&self, gun: &str, parts: &[(&str, &[u8])]) -> Reply {
        let (ct, body) = multipart(parts);
        self.send(
            Request::builder()
                .method(Method::POST)
                .uri(format!("/v2/{gun}/_trust/tuf/"))
                .header("content-type", ct)
                .body(Body::from(body))
                .expect("request"),
        )
        .await
    }

    /// POSTs a raw body with a content type.
    pub async fn post_raw(&self, uri: &str, content_type: Option<&str>, body: Vec<u8>) -> Reply {
        let mut b = Request::builder().method(Method::POST).uri(uri);
        if let Some(ct) = content_type {
            b = b.header("content-type", ct);
        }
        self.send(b.body(Body::from(body)).expect("request")).await
    }

    /// Number of changefeed records for a GUN.
    pub async fn change_count(&self, gun: &str) -> usize {
        self.store
            .changes(Some(gun), 0, 1000)
            .await
            .expect("changes")
            .len()
    }
}

pub const BOUNDARY: &str = "f1e2d3c4b5a6";

/// A multipart/form-data body with one part per `(filename, bytes)`.
pub fn multipart(parts: &[(&str, &[u8])]) -> (String, Vec<u8>) {
    let mut body = Vec::new();
    for (name, data) in parts {
        body.extend_from_slice(
            format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"{name}\"\r\n\
                 Content-Type: application/octet-stream\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(data);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={BOUNDARY}"), body)
}
