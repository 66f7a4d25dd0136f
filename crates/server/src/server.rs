//! Running the server: logging, storage, background tasks, TLS, graceful shutdown.

use std::sync::Arc;
use std::time::Duration;

use axum_server::Handle;
use axum_server::accept::DefaultAcceptor;
use axum_server::tls_rustls::RustlsConfig;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::auth::TokenAuth;
use crate::cache::MetaCache;
use crate::config::{Config, NewKeyStore, TlsSettings};
pub use crate::error::RunError;
use crate::hsm::ServerHsm;
use crate::http::{AppState, router};
use crate::kek::Kek;
use crate::listener::{ConnectionSettings, LimitAcceptor};
use crate::service::{KeyDevice, MetadataService, ServiceSettings};
use crate::store::{Store, StoreOptions};

/// Whether log lines written to stderr may carry ANSI colour codes: only when stderr is a
/// terminal and `NO_COLOR` is not set.
pub fn log_colours() -> bool {
    use std::io::IsTerminal as _;
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Sets up `tracing` output on stderr; `RUST_LOG` overrides the configured level. Colour codes
/// are written only to a terminal ([`log_colours`]), so log files and collectors get plain
/// text (or JSON lines with `json`).
pub fn init_logging(level: &str, json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(level))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if json {
        builder.json().with_ansi(false).try_init()
    } else {
        builder.with_ansi(log_colours()).try_init()
    };
}

/// Opens the database named by the configuration.
pub async fn open_store(config: &Config, migrate: bool) -> Result<Store, RunError> {
    if config.database_url.starts_with("sqlite:") && config.local_defaults.database {
        std::fs::create_dir_all(&config.data_dir).map_err(|source| RunError::DataDir {
            path: config.data_dir.clone(),
            source,
        })?;
    }
    let opts = StoreOptions {
        max_connections: config.max_connections,
        run_migrations: migrate,
        ..StoreOptions::default()
    };
    Store::connect_with(&config.database_url, &opts)
        .await
        .map_err(|e| startup_store_error(&config.database_url, e))
}

/// A store error at start-up; a SQLite database on a read-only file system is named as such
/// (SQLite itself only says that the file cannot be opened or written).
fn startup_store_error(url: &str, source: crate::store::StoreError) -> RunError {
    use std::str::FromStr as _;

    if source.storage_fault().is_none()
        || crate::store::Backend::from_url(url).ok() != Some(crate::store::Backend::Sqlite)
    {
        return RunError::Store(source);
    }
    let Ok(opts) = sqlx::sqlite::SqliteConnectOptions::from_str(url) else {
        return RunError::Store(source);
    };
    let path = opts.get_filename().to_path_buf();
    // Opening for appending writes nothing; on a read-only file system it fails with EROFS.
    match std::fs::OpenOptions::new().append(true).open(&path) {
        Err(e) if e.kind() == std::io::ErrorKind::ReadOnlyFilesystem => {
            RunError::ReadOnlyDatabase { path, source }
        }
        _ => RunError::Store(source),
    }
}

/// Loads the key-encryption key; the built-in local default is created when missing, a
/// configured file must exist.
pub fn load_kek(config: &Config) -> Result<Kek, RunError> {
    if config.local_defaults.kek {
        let (kek, created) = crate::kek::load_or_create(&config.kek_file)?;
        if created {
            tracing::warn!(path = %config.kek_file.display(), "generated a local key-encryption key");
        }
        Ok(kek)
    } else {
        Ok(crate::kek::load(&config.kek_file)?)
    }
}

/// Opens the YubiHSM 2 of `[keys.yubihsm]`, when there is one: connects, authenticates and
/// reads the device information, so that a wrong connector, key ID or password stops the
/// server at start-up with an error naming the connector and the authentication key.
pub async fn open_key_device(config: &Config) -> Result<Option<ServerHsm>, RunError> {
    match &config.yubihsm {
        Some(settings) => Ok(Some(ServerHsm::open(settings).await?)),
        None => Ok(None),
    }
}

/// Builds the application state for a configuration and an open store.
pub fn build_state(config: &Config, store: Store, kek: Kek) -> Result<AppState, RunError> {
    build_state_with_device(config, store, kek, None)
}

/// Builds the application state for a configuration, an open store and the YubiHSM 2 holding
/// server keys (the binary opens it with [`open_key_device`]; tests hand in a MockHsm).
pub fn build_state_with_device(
    config: &Config,
    store: Store,
    kek: Kek,
    hsm: Option<ServerHsm>,
) -> Result<AppState, RunError> {
    let new_keys = config.key_store == NewKeyStore::YubiHsm;
    if new_keys && hsm.is_none() {
        return Err(RunError::NoKeyDevice);
    }
    let device = hsm.map(|hsm| KeyDevice { hsm, new_keys });
    let auth = match &config.auth {
        Some(a) => {
            let bundle = std::fs::read(&a.root_cert_bundle)
                .map_err(|e| RunError::Auth(format!("{}: {e}", a.root_cert_bundle.display())))?;
            Some(
                TokenAuth::new(a.token.clone(), &bundle)
                    .map_err(|e| RunError::Auth(e.to_string()))?,
            )
        }
        None => None,
    };
    let cache = MetaCache::new(config.cache);
    let repo = MetadataService::with_key_device(
        store,
        cache,
        ServiceSettings {
            kek: Arc::new(kek),
            key_algorithm: config.key_algorithm,
        },
        device,
    );
    Ok(AppState::new(repo, config.http.clone(), auth))
}

/// The rustls server configuration of the TLS settings: the certificate chain and key, and
/// when a client CA bundle is set, a verifier that requires client certificates it signed.
/// ALPN offers HTTP/2 and HTTP/1.1.
pub fn tls_config(tls: &TlsSettings) -> Result<rustls::ServerConfig, RunError> {
    let err = |what: &str, path: &std::path::Path, e: &dyn std::fmt::Display| {
        RunError::Tls(format!("{what} {}: {e}", path.display()))
    };
    let certs = CertificateDer::pem_file_iter(&tls.cert_file)
        .map_err(|e| err("certificate file", &tls.cert_file, &e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| err("certificate file", &tls.cert_file, &e))?;
    let key = PrivateKeyDer::from_pem_file(&tls.key_file)
        .map_err(|e| err("key file", &tls.key_file, &e))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| RunError::Tls(e.to_string()))?;
    let builder = match &tls.client_ca_file {
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            for c in CertificateDer::pem_file_iter(ca).map_err(|e| err("client CA file", ca, &e))? {
                let c = c.map_err(|e| err("client CA file", ca, &e))?;
                roots.add(c).map_err(|e| err("client CA file", ca, &e))?;
            }
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                provider,
            )
            .build()
            .map_err(|e| RunError::Tls(e.to_string()))?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let mut cfg = builder
        .with_single_cert(certs, key)
        .map_err(|e| RunError::Tls(e.to_string()))?;
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(cfg)
}

/// How long shutdown waits, past the grace period, for connections and then for the database
/// pool to close.
const SHUTDOWN_MARGIN: Duration = Duration::from_secs(5);

/// How often the expiry records are caught up with writes made past this server.
const EXPIRY_SYNC_INTERVAL: Duration = Duration::from_secs(30);

/// Changefeed records one catch-up step reads.
const EXPIRY_SYNC_BATCH: u32 = 500;

/// Catch-up steps per interval at most, so that a large backlog (the first start on an adopted
/// database) is worked off in the background without holding the database busy.
const EXPIRY_SYNC_STEPS: u32 = 20;

/// Background work: metrics upkeep, cache invalidation from the changefeed, and catching the
/// expiry records of the metrics up with writes made past this server.
fn spawn_background(state: &AppState, poll: Duration) -> Vec<tokio::task::JoinHandle<()>> {
    let metrics = crate::http::metrics_handle();
    let upkeep = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        loop {
            tick.tick().await;
            metrics.run_upkeep();
        }
    });
    let repo = state.repo().clone();
    let poller = tokio::spawn(async move { repo.watch_changes(poll).await });
    let store = state.repo().store().clone();
    let expiry = tokio::spawn(async move { sync_expiry_forever(&store).await });
    vec![upkeep, poller, expiry]
}

/// Runs [`crate::store::Store::sync_expiry`] every [`EXPIRY_SYNC_INTERVAL`], in steps of
/// [`EXPIRY_SYNC_BATCH`] records until it has caught up or made [`EXPIRY_SYNC_STEPS`] steps.
/// Errors are logged and retried at the next tick.
async fn sync_expiry_forever(store: &Store) {
    let mut tick = tokio::time::interval(EXPIRY_SYNC_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        for _ in 0..EXPIRY_SYNC_STEPS {
            match store.sync_expiry(EXPIRY_SYNC_BATCH).await {
                Ok(done) => {
                    if done.repositories > 0 {
                        tracing::info!(
                            records = done.records,
                            repositories = done.repositories,
                            "expiry records caught up with metadata written past this server"
                        );
                    }
                    if done.records < EXPIRY_SYNC_BATCH as usize {
                        break;
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "catching up the expiry records failed");
                    break;
                }
            }
        }
    }
}

/// Resolves on SIGINT or SIGTERM (SIGINT only off Unix).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

/// Runs the server until SIGINT or SIGTERM, then lets requests in flight finish (up to the
/// grace period) and closes the database.
pub async fn run(config: Config) -> Result<(), RunError> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    if let Some(defaults) = config.local_defaults.describe(&config) {
        tracing::warn!("!!! signet-server is running with {defaults} !!!");
    }
    let store = open_store(&config, config.auto_migrate).await?;
    let kek = load_kek(&config)?;
    let hsm = match open_key_device(&config).await {
        Ok(hsm) => hsm,
        Err(e) => {
            store.close().await;
            return Err(e);
        }
    };
    let state = build_state_with_device(&config, store.clone(), kek, hsm)?;
    let background = spawn_background(&state, config.poll_interval);
    let app = router(state);
    let handle = Handle::new();
    let grace = config.shutdown_grace;
    let h = handle.clone();
    let forced = Arc::new(tokio::sync::Notify::new());
    let force = Arc::clone(&forced);
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!(grace_secs = grace.as_secs(), "shutting down");
        h.graceful_shutdown(Some(grace));
        // Whatever still runs after the grace period (and a margin for closing connections)
        // does not hold the process: shutdown is bounded.
        tokio::time::sleep(grace.saturating_add(SHUTDOWN_MARGIN)).await;
        tracing::warn!("connections still open after the grace period; stopping anyway");
        force.notify_one();
    });
    let addr = config.listen;
    let listener =
        std::net::TcpListener::bind(addr).map_err(|source| RunError::Listen { addr, source })?;
    let served = tokio::select! {
        served = serve_with(listener, app, config.tls.as_ref(), handle, config.connections) => served,
        () = forced.notified() => Ok(()),
    };
    for task in background {
        task.abort();
    }
    if tokio::time::timeout(SHUTDOWN_MARGIN, store.close())
        .await
        .is_err()
    {
        tracing::warn!("database connections did not close in time; exiting without them");
    }
    served
}

/// Serves `app` on an already bound listener, over TLS when `tls` is given, until `handle`
/// is told to shut down, with the default [`ConnectionSettings`]. Tests use it to serve on an
/// ephemeral port.
pub async fn serve(
    listener: std::net::TcpListener,
    app: axum::Router,
    tls: Option<&TlsSettings>,
    handle: Handle<std::net::SocketAddr>,
) -> Result<(), RunError> {
    serve_with(listener, app, tls, handle, ConnectionSettings::default()).await
}

/// Like [`serve`], with connection limits `limits`; [`run`] uses it.
pub async fn serve_with(
    listener: std::net::TcpListener,
    app: axum::Router,
    tls: Option<&TlsSettings>,
    handle: Handle<std::net::SocketAddr>,
    limits: ConnectionSettings,
) -> Result<(), RunError> {
    let addr = listener.local_addr().map_err(|source| RunError::Listen {
        addr: std::net::SocketAddr::from(([0, 0, 0, 0], 0)),
        source,
    })?;
    let listen_err = |source| RunError::Listen { addr, source };
    let limited = LimitAcceptor::new(DefaultAcceptor::new(), limits.max_connections);
    let max_connections = limits.max_connections;
    let header_read_timeout_secs = limits.header_read_timeout.as_secs_f64();
    match tls {
        Some(tls) => {
            tracing::info!(
                %addr,
                client_certificates = tls.client_ca_file.is_some(),
                max_connections,
                header_read_timeout_secs,
                "listening (TLS)"
            );
            let cfg = RustlsConfig::from_config(Arc::new(tls_config(tls)?));
            let server = axum_server::from_tcp_rustls(listener, cfg)
                .map_err(listen_err)?
                .map(|acceptor| acceptor.acceptor(limited));
            with_header_deadline(server, handle, &limits)
                .serve(app.into_make_service_with_connect_info::<std::net::SocketAddr>())
                .await
                .map_err(listen_err)
        }
        None => {
            tracing::info!(
                %addr,
                max_connections,
                header_read_timeout_secs,
                "listening (plain HTTP)"
            );
            let server = axum_server::from_tcp(listener)
                .map_err(listen_err)?
                .acceptor(limited);
            with_header_deadline(server, handle, &limits)
                .serve(app.into_make_service_with_connect_info::<std::net::SocketAddr>())
                .await
                .map_err(listen_err)
        }
    }
}

/// `server` answering through `handle`, with the header deadline of `limits` on HTTP/1
/// requests and on a new connection's first request (which also covers protocol detection).
fn with_header_deadline<A: axum_server::Address, Acc>(
    server: axum_server::Server<A, Acc>,
    handle: Handle<A>,
    limits: &ConnectionSettings,
) -> axum_server::Server<A, Acc> {
    let mut server = server
        .handle(handle)
        .first_request_timeout(limits.header_read_timeout);
    server
        .http_builder()
        .http1()
        .header_read_timeout(limits.header_read_timeout);
    server
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_pair(dir: &std::path::Path, name: &str) -> (std::path::PathBuf, std::path::PathBuf) {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let cert = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let c = dir.join(format!("{name}.crt"));
        let k = dir.join(format!("{name}.key"));
        std::fs::write(&c, cert.pem()).unwrap();
        std::fs::write(&k, key.serialize_pem()).unwrap();
        (c, k)
    }

    #[test]
    fn tls_configs_load() {
        let dir = tempfile::tempdir().unwrap();
        let (cert_file, key_file) = write_pair(dir.path(), "server");
        let (ca, _) = write_pair(dir.path(), "ca");
        let plain = tls_config(&TlsSettings {
            cert_file: cert_file.clone(),
            key_file: key_file.clone(),
            client_ca_file: None,
        })
        .unwrap();
        assert_eq!(plain.alpn_protocols[0], b"h2");
        tls_config(&TlsSettings {
            cert_file: cert_file.clone(),
            key_file: key_file.clone(),
            client_ca_file: Some(ca),
        })
        .unwrap();
        let missing = tls_config(&TlsSettings {
            cert_file: dir.path().join("nope.crt"),
            key_file,
            client_ca_file: None,
        });
        assert!(matches!(missing, Err(RunError::Tls(_))));
        let swapped = tls_config(&TlsSettings {
            cert_file: cert_file.clone(),
            key_file: cert_file,
            client_ca_file: None,
        });
        assert!(matches!(swapped, Err(RunError::Tls(_))));
    }
}
