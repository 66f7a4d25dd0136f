//! PostgreSQL behaviour that needs more than one request: two replicas sharing one database
//! (cache invalidation through the changefeed), and a database outage behind a TCP proxy.
//! Without Postgres the tests fail when `CI` is set and skip otherwise.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use axum::http::{Method, StatusCode};
use common::meta::*;
use common::publish::ServerManaged;
use common::{PgSchema, Reply, TestServer};
use signet_server::cache::CacheSettings;
use signet_server::http::HttpSettings;
use signet_server::store::{Store, StoreOptions};
use signet_tuf::metadata::{Envelope, Timestamp};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

const GUN: &str = "docker.io/signet/replicated";
/// The changefeed poll interval of the replicas in these tests.
const POLL: Duration = Duration::from_millis(200);

/// Publishes a docker-style repository (server-held snapshot and timestamp keys) through `s`
/// and returns the targets key for later publishes.
async fn publish(s: &TestServer, gun: &str) -> Arc<signet_signer::PrivateKey> {
    ServerManaged::publish(s, gun, &["v1"]).await.targets_key
}

fn ts_version(r: &Reply) -> i64 {
    Envelope::<Timestamp>::parse(&r.body)
        .expect("timestamp")
        .signed()
        .version
}

/// Polls `probe` until it returns true or `bound` passes; returns the time it took.
async fn within<F, Fut>(bound: Duration, mut probe: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let start = Instant::now();
    loop {
        if probe().await {
            return start.elapsed();
        }
        assert!(start.elapsed() < bound, "not seen within {bound:?}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// One replica with a long timestamp time-to-live, so that only the changefeed poll can make
/// it notice another replica's writes.
async fn replica(schema: &Arc<PgSchema>) -> TestServer {
    let s = TestServer::on_schema(
        schema,
        CacheSettings {
            current_ttl: Duration::from_secs(300),
            ..CacheSettings::default()
        },
        HttpSettings::default(),
    )
    .await;
    let repo = s.state.repo().clone();
    tokio::spawn(async move { repo.watch_changes(POLL).await });
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_share_one_database() {
    let Some(schema) = PgSchema::new().await else {
        return;
    };
    let schema = Arc::new(schema);
    let a = replica(&schema).await;
    let b = replica(&schema).await;
    // Let both pollers read the changefeed head before anything is written.
    tokio::time::sleep(POLL * 2).await;
    let ts_path = format!("/v2/{GUN}/_trust/tuf/timestamp.json");

    // B caches "no timestamp" for this GUN.
    assert_eq!(b.get(&ts_path).await.status, StatusCode::NOT_FOUND);
    let targets_key = publish(&a, GUN).await;
    assert_eq!(ts_version(&a.get(&ts_path).await), 1);
    // The bound documented in the cache module: about one poll interval, plus the time of
    // the poll query itself. Allow generous scheduling slack on a loaded machine.
    let bound = POLL * 10;
    let took = within(bound, || async {
        let r = b.get(&ts_path).await;
        r.status == StatusCode::OK && ts_version(&r) == 1
    })
    .await;
    eprintln!("replica B saw the first timestamp after {took:?}");

    // B now caches version 1; a new publish through A replaces it.
    let root_env = a.get(&format!("/v2/{GUN}/_trust/tuf/root.json")).await;
    let root = root_env.body.clone();
    assert_eq!(
        b.get(&format!("/v2/{GUN}/_trust/tuf/1.root.json"))
            .await
            .body,
        root
    );
    let targets2 = sign(targets_doc(2, &["v1", "v2"]), &[targets_key.as_ref()]);
    let r = a.upload(GUN, &[("targets", &targets2)]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    within(bound, || async {
        let r = b.get(&ts_path).await;
        r.status == StatusCode::OK && ts_version(&r) == 2
    })
    .await;
    assert_eq!(
        b.get(&format!("/v2/{GUN}/_trust/tuf/targets.json"))
            .await
            .body,
        targets2
    );

    // A caches the immutable root too; a DELETE through B is seen by A, current and
    // immutable files alike.
    assert_eq!(
        a.get(&format!("/v2/{GUN}/_trust/tuf/1.root.json"))
            .await
            .body,
        root
    );
    let r = b
        .request(Method::DELETE, &format!("/v2/{GUN}/_trust/tuf/"))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    within(bound, || async {
        a.get(&ts_path).await.status == StatusCode::NOT_FOUND
            && a.get(&format!("/v2/{GUN}/_trust/tuf/1.root.json"))
                .await
                .status
                == StatusCode::NOT_FOUND
    })
    .await;
    // The changefeed, read through either replica, holds both updates and the deletion.
    let feed = a
        .get(&format!("/v2/{GUN}/_trust/changefeed?records=10"))
        .await
        .json();
    let cats: Vec<&str> = feed["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["Category"].as_str().unwrap())
        .collect();
    assert_eq!(cats, ["update", "update", "deletion"]);
    a.store.close().await;
    b.store.close().await;
}

/// A TCP proxy to the local Postgres that can be cut (open connections are closed, new ones
/// are dropped at once) and restored.
struct Proxy {
    addr: std::net::SocketAddr,
    up: Arc<AtomicBool>,
    cut: watch::Sender<u64>,
}

impl Proxy {
    async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let up = Arc::new(AtomicBool::new(true));
        let (cut, cut_rx) = watch::channel(0u64);
        let up2 = Arc::clone(&up);
        tokio::spawn(async move {
            loop {
                let Ok((mut client, _)) = listener.accept().await else {
                    return;
                };
                if !up2.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let mut cut_rx = cut_rx.clone();
                cut_rx.mark_unchanged();
                tokio::spawn(async move {
                    let Ok(mut server) = TcpStream::connect("127.0.0.1:5432").await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = cut_rx.changed() => {}
                    }
                });
            }
        });
        Self { addr, up, cut }
    }

    fn down(&self) {
        self.up.store(false, Ordering::SeqCst);
        self.cut.send_modify(|n| *n += 1);
    }

    fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

async fn count(pool: &sqlx::PgPool, sql: &str) -> i64 {
    sqlx::query_scalar::<_, i64>(sql)
        .bind(GUN)
        .fetch_one(pool)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_outage_is_503_and_recovers_by_itself() {
    let Some(schema) = PgSchema::new().await else {
        return;
    };
    let proxy = Proxy::start().await;
    let url = PgSchema::url_via(&schema.name, &proxy.addr.to_string());
    let store = Store::connect_with(
        &url,
        &StoreOptions {
            max_connections: 4,
            acquire_timeout: Duration::from_secs(2),
            run_migrations: true,
        },
    )
    .await
    .unwrap();
    // No caching: every request reaches the database.
    let s = TestServer::on_store(
        store.clone(),
        CacheSettings {
            max_bytes: 0,
            current_ttl: Duration::ZERO,
        },
        HttpSettings::default(),
        None,
    );
    let targets_key = publish(&s, GUN).await;
    let ts_path = format!("/v2/{GUN}/_trust/tuf/timestamp.json");
    assert_eq!(ts_version(&s.get(&ts_path).await), 1);
    // A direct pool, not through the proxy, to look at what was written.
    let direct = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect(&schema.url)
        .await
        .unwrap();
    let files_sql = "SELECT count(*) FROM tuf_files WHERE gun = $1";
    let feed_sql = "SELECT count(*) FROM changefeed WHERE gun = $1";
    let (files, feed) = (
        count(&direct, files_sql).await,
        count(&direct, feed_sql).await,
    );
    assert_eq!((files, feed), (4, 1));

    proxy.down();
    let targets2 = sign(targets_doc(2, &["v1", "v2"]), &[targets_key.as_ref()]);
    let started = Instant::now();
    let r = s.upload(GUN, &[("targets", &targets2)]).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.text());
    assert_eq!(r.error_code(), "UNAVAILABLE");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
    for path in [
        ts_path.clone(),
        format!("/v2/{GUN}/_trust/tuf/root.json"),
        format!("/v2/{GUN}/_trust/tuf/1.root.json"),
        format!("/v2/{GUN}/_trust/tuf/timestamp.key"),
        format!("/v2/{GUN}/_trust/changefeed"),
    ] {
        let r = s.get(&path).await;
        assert_eq!(
            r.status,
            StatusCode::SERVICE_UNAVAILABLE,
            "{path}: {}",
            r.text()
        );
        assert_eq!(r.error_code(), "UNAVAILABLE", "{path}");
    }
    let r = s
        .request(Method::DELETE, &format!("/v2/{GUN}/_trust/tuf/"))
        .await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.text());
    let health = s.get("/_notary_server/health").await;
    assert_eq!(health.status, StatusCode::SERVICE_UNAVAILABLE);
    // Nothing was half-written.
    assert_eq!(
        (
            count(&direct, files_sql).await,
            count(&direct, feed_sql).await
        ),
        (4, 1)
    );

    proxy.restore();
    // The server serves again without being restarted.
    within(Duration::from_secs(15), || async {
        s.get(&ts_path).await.status == StatusCode::OK
    })
    .await;
    assert_eq!(ts_version(&s.get(&ts_path).await), 1);
    let r = s.upload(GUN, &[("targets", &targets2)]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(ts_version(&s.get(&ts_path).await), 2);
    assert_eq!(s.get("/_notary_server/health").await.status, StatusCode::OK);
    assert_eq!(
        (
            count(&direct, files_sql).await,
            count(&direct, feed_sql).await
        ),
        (7, 2)
    );
    direct.close().await;
    store.close().await;
}
