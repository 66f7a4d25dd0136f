//! Shared helpers of the HTTP integration tests: an in-process router on a fresh SQLite
//! database, and small request/response helpers.
#![allow(dead_code, unreachable_pub)]

pub mod meta;
pub mod publish;
pub mod token;
pub mod trust_state;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use signet_server::cache::{CacheSettings, MetaCache};
use signet_server::config::ServerKeyAlgorithm;
use signet_server::http::{AppState, HttpSettings, router};
use signet_server::kek::Kek;
use signet_server::service::{MetadataService, ServiceSettings};
use signet_server::store::Store;
use tower::ServiceExt as _;

/// Runs each named `async fn(TestServer)` of the calling test file as two tests, one on
/// SQLite and one on PostgreSQL (a fresh schema per test), in a module `backends`.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),+ $(,)?) => {
        mod backends {
            use super::*;

            mod sqlite {
                $(
                    #[tokio::test]
                    async fn $name() {
                        super::super::$name(super::TestServer::new().await).await;
                    }
                )+
            }
            mod postgres {
                $(
                    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                    async fn $name() {
                        let Some(s) = super::TestServer::postgres().await else {
                            return;
                        };
                        super::super::$name(s).await;
                    }
                )+
            }
        }
    };
}

/// A router on its own SQLite database.
pub struct TestServer {
    pub router: Router,
    pub store: Store,
    pub state: AppState,
    _dir: Option<tempfile::TempDir>,
    _schema: Option<std::sync::Arc<PgSchema>>,
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
        let repo = MetadataService::new(
            store.clone(),
            MetaCache::new(CacheSettings::default()),
            ServiceSettings {
                kek: std::sync::Arc::new(Kek::from_bytes([7; 32])),
                key_algorithm,
            },
        );
        let state = AppState::new(repo, settings, auth);
        Self {
            router: router(state.clone()),
            store,
            state,
            _dir: Some(dir),
            _schema: None,
        }
    }

    /// A router on `store` (whose SQLite file lives in `dir`, if any) with key-encryption key
    /// `kek` (the other constructors use `[7; 32]`), whose server keys may be held in the
    /// YubiHSM 2 of `device`.
    pub fn on_store_with_device(
        store: Store,
        kek: [u8; 32],
        device: Option<signet_server::service::KeyDevice>,
        dir: Option<tempfile::TempDir>,
    ) -> Self {
        let repo = MetadataService::with_key_device(
            store.clone(),
            MetaCache::new(CacheSettings::default()),
            ServiceSettings {
                kek: std::sync::Arc::new(Kek::from_bytes(kek)),
                key_algorithm: ServerKeyAlgorithm::Ecdsa,
            },
            device,
        );
        let state = AppState::new(repo, HttpSettings::default(), None);
        Self {
            router: router(state.clone()),
            store,
            state,
            _dir: dir,
            _schema: None,
        }
    }

    /// A router on a fresh Postgres schema; `None` (skip) when Postgres is down and CI unset.
    pub async fn postgres() -> Option<Self> {
        let schema = std::sync::Arc::new(PgSchema::new().await?);
        Some(Self::on_schema(&schema, CacheSettings::default(), HttpSettings::default()).await)
    }

    /// A router (one replica) on an existing Postgres schema, with its own cache.
    pub async fn on_schema(
        schema: &std::sync::Arc<PgSchema>,
        cache: CacheSettings,
        settings: HttpSettings,
    ) -> Self {
        let store = Store::connect_with(
            &schema.url,
            &signet_server::store::StoreOptions {
                max_connections: 4,
                ..Default::default()
            },
        )
        .await
        .expect("postgres store");
        Self::on_store(store, cache, settings, Some(std::sync::Arc::clone(schema)))
    }

    /// A router on an open store.
    pub fn on_store(
        store: Store,
        cache: CacheSettings,
        settings: HttpSettings,
        schema: Option<std::sync::Arc<PgSchema>>,
    ) -> Self {
        let repo = MetadataService::new(
            store.clone(),
            MetaCache::new(cache),
            ServiceSettings {
                kek: std::sync::Arc::new(Kek::from_bytes([7; 32])),
                key_algorithm: ServerKeyAlgorithm::Ecdsa,
            },
        );
        let state = AppState::new(repo, settings, None);
        Self {
            router: router(state.clone()),
            store,
            state,
            _dir: None,
            _schema: schema,
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

/// Whether `CI` is set (to anything non-empty).
pub fn in_ci() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty())
}

/// `None` after a skip notice, or a panic under CI: for tests whose dependency is missing.
pub fn missing<T>(what: &str) -> Option<T> {
    assert!(
        !in_ci(),
        "{what}; CI is set, so this test fails instead of skipping"
    );
    use std::io::Write as _;
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED: {what} (set CI=1 to make this a failure)"
    );
    None
}

/// The path of program `name` on `PATH`, or `None` (skip) / panic (CI) when it is absent.
pub fn require_tool(name: &str) -> Option<std::path::PathBuf> {
    use std::os::unix::fs::PermissionsExt as _;
    let found = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(name))
            .find(|c| {
                c.metadata()
                    .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            })
    });
    match found {
        Some(p) => Some(p),
        None => missing(&format!("program `{name}` is not on PATH")),
    }
}

/// A router served on an ephemeral loopback port (over TLS when `tls` is given), stopped
/// when dropped.
pub struct Served {
    pub addr: std::net::SocketAddr,
    handle: axum_server::Handle<std::net::SocketAddr>,
}

impl Drop for Served {
    fn drop(&mut self) {
        self.handle.shutdown();
    }
}

/// Serves `router` on 127.0.0.1 with the server's own [`signet_server::server::serve`].
pub fn serve(router: Router, tls: Option<signet_server::config::TlsSettings>) -> Served {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("local addr");
    let handle = axum_server::Handle::new();
    let h = handle.clone();
    tokio::spawn(async move {
        if let Err(e) = signet_server::server::serve(listener, router, tls.as_ref(), h).await {
            eprintln!("test server stopped: {e}");
        }
    });
    Served { addr, handle }
}

/// The workspace's `keys-example/` directory.
pub fn keys_example() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../keys-example")
}

/// Passphrases handed to the Go `notary` CLI.
pub const NOTARY_PASSPHRASES: [(&str, &str); 4] = [
    ("NOTARY_ROOT_PASSPHRASE", "test-root-passphrase"),
    ("NOTARY_TARGETS_PASSPHRASE", "test-targets-passphrase"),
    ("NOTARY_SNAPSHOT_PASSPHRASE", "test-snapshot-passphrase"),
    ("NOTARY_DELEGATION_PASSPHRASE", "test-delegation-passphrase"),
];

/// Runs the Go `notary` CLI with a private trust dir and `HOME`; returns (success, stdout,
/// stderr). Runs on a blocking thread so the in-process server keeps serving.
pub async fn run_notary(
    notary: &std::path::Path,
    home: &std::path::Path,
    args: Vec<String>,
    extra_env: Vec<(String, String)>,
) -> (bool, String, String) {
    let notary = notary.to_owned();
    let home = home.to_owned();
    tokio::task::spawn_blocking(move || {
        let mut cmd = std::process::Command::new(&notary);
        cmd.env_clear()
            .env("HOME", &home)
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .arg("-d")
            .arg(home.join("trust"))
            .args(&args)
            .stdin(std::process::Stdio::null());
        for (k, v) in NOTARY_PASSPHRASES {
            cmd.env(k, v);
        }
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        let out = cmd.output().expect("run notary");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    })
    .await
    .expect("notary thread")
}

/// A database or schema name unique to this process and call: `<prefix>_<pid>_<ns>_<n>`.
pub fn unique_name(prefix: &str) -> String {
    static SEQ: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .subsec_nanos();
    format!(
        "{prefix}_{}_{nanos}_{}",
        std::process::id(),
        SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    )
}

/// The local Postgres of the tests (trust auth, database `test`).
pub const PG_BASE: &str = "postgres://postgres@127.0.0.1:5432/test";

/// A fresh Postgres schema, dropped (with everything in it) when the value is dropped.
pub struct PgSchema {
    pub name: String,
    /// A database URL whose connections work in this schema.
    pub url: String,
}

impl PgSchema {
    /// Creates the schema; `None` (skip) when Postgres is down and CI unset.
    pub async fn new() -> Option<Self> {
        use sqlx::Connection as _;
        let mut conn = match tokio::time::timeout(
            std::time::Duration::from_secs(5),
            sqlx::PgConnection::connect(PG_BASE),
        )
        .await
        {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => return missing(&format!("Postgres at {PG_BASE} is unreachable: {e}")),
            Err(_) => return missing(&format!("Postgres at {PG_BASE} did not answer")),
        };
        let name = unique_name("signet_h");
        sqlx::query(&format!("CREATE SCHEMA {name}"))
            .execute(&mut conn)
            .await
            .expect("create schema");
        let _ = conn.close().await;
        let url = Self::url_via(&name, "127.0.0.1:5432");
        Some(Self { name, url })
    }

    /// The URL of this schema through another address (a proxy in front of Postgres).
    pub fn url_via(name: &str, host_port: &str) -> String {
        format!(
            "postgres://postgres@{host_port}/test?options=-c%20search_path%3D{name}&application_name={name}"
        )
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Dropped from async tests too: use a runtime of its own on a thread of its own.
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                use sqlx::Connection as _;
                if let Ok(mut conn) = sqlx::PgConnection::connect(PG_BASE).await {
                    let _ = sqlx::query(&format!(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                         WHERE application_name = '{name}'"
                    ))
                    .execute(&mut conn)
                    .await;
                    let _ = sqlx::query(&format!("DROP SCHEMA IF EXISTS {name} CASCADE"))
                        .execute(&mut conn)
                        .await;
                    let _ = conn.close().await;
                }
            });
        })
        .join();
    }
}
