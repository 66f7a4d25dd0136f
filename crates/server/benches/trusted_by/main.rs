//! `Store::trusted_by` on 100,000 repositories, on SQLite and on PostgreSQL (see README.md).
//!
//! Each backend is filled once: 100,000 repositories of a root and a targets file each,
//! written with batched multi-row inserts into `tuf_files` (the rows a database adopted from
//! Go notary holds), then indexed by the store's own backfill (timed and printed). The
//! benchmarks then ask which repositories trust a key.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use sha2::{Digest as _, Sha256};
use signet_server::store::{Store, TrustCursor};

/// Repositories filled in.
const REPOSITORIES: usize = 100_000;
/// Rows per INSERT statement.
const ROWS_PER_INSERT: usize = 1000;
/// The PostgreSQL database (a schema of its own is made and dropped).
const DEFAULT_PG: &str = "postgres://postgres@127.0.0.1:5432/test";
const PG_SCHEMA: &str = "signet_bench_trusted_by";

fn kid(name: &str) -> String {
    hex::encode(Sha256::digest(name.as_bytes()))
}

fn gun(i: usize) -> String {
    format!("registry.example.com/team{:03}/app{i:06}", i % 1000)
}

/// Root of repository `i`: its own root, targets and timestamp keys, and a snapshot key
/// shared by every repository (a key trusted 100,000 times).
fn root(i: usize) -> Vec<u8> {
    let role = |name: &str| serde_json::json!({"keyids": [kid(name)], "threshold": 1});
    serde_json::to_vec(&serde_json::json!({
        "signed": {
            "_type": "Root", "version": 1, "expires": "2036-01-01T00:00:00Z",
            "consistent_snapshot": false, "keys": {},
            "roles": {
                "root": role(&format!("root-{i}")),
                "targets": role(&format!("targets-{i}")),
                "snapshot": role("fleet-snapshot"),
                "timestamp": role(&format!("timestamp-{i}")),
            },
        },
        "signatures": [],
    }))
    .unwrap()
}

/// Targets of repository `i`: `targets/releases` signed by the fleet's release key (trusted
/// by every repository), and one signer per team.
fn targets(i: usize) -> Vec<u8> {
    let role = |name: &str, key: &str| serde_json::json!({"name": name, "keyids": [kid(key)], "paths": [""], "threshold": 1});
    serde_json::to_vec(&serde_json::json!({
        "signed": {
            "_type": "Targets", "version": 1, "expires": "2036-01-01T00:00:00Z", "targets": {},
            "delegations": {"keys": {}, "roles": [
                role("targets/releases", "fleet-release"),
                role(&format!("targets/team{:03}", i % 1000), &format!("team-{}", i % 1000)),
            ]},
        },
        "signatures": [],
    }))
    .unwrap()
}

/// The `(gun, role, data)` rows of the fleet, `ROWS_PER_INSERT` at a time.
fn chunks() -> impl Iterator<Item = Vec<(String, &'static str, Vec<u8>)>> {
    (0..REPOSITORIES).step_by(ROWS_PER_INSERT / 2).map(|start| {
        (start..(start + ROWS_PER_INSERT / 2).min(REPOSITORIES))
            .flat_map(|i| [(gun(i), "root", root(i)), (gun(i), "targets", targets(i))])
            .collect()
    })
}

/// Inserts the fleet's files into `tuf_files` of `$pool` in one transaction,
/// `ROWS_PER_INSERT` rows a statement, and leaves the key index to be built as for a database
/// from before it (`$not_done` sets the backfill state's `done` column to false).
macro_rules! insert_fleet {
    ($pool:expr, $backend:literal, $not_done:literal) => {{
        let started = Instant::now();
        let mut tx = $pool.begin().await.unwrap();
        for chunk in chunks() {
            let mut q =
                sqlx::QueryBuilder::new("INSERT INTO tuf_files (gun, role, version, data) ");
            q.push_values(chunk, |mut b, (g, r, d)| {
                b.push_bind(g).push_bind(r).push_bind(1_i32).push_bind(d);
            });
            q.build().execute(&mut *tx).await.unwrap();
        }
        sqlx::query(concat!(
            "UPDATE signet_key_trust_backfill SET ",
            $not_done,
            ", last_gun = ''"
        ))
        .execute(&mut *tx)
        .await
        .unwrap();
        tx.commit().await.unwrap();
        println!(
            "{}: filled {REPOSITORIES} repositories in {:?}",
            $backend,
            started.elapsed()
        );
    }};
}

/// Fills SQLite with batched inserts and indexes it; returns the store.
async fn fill_sqlite(dir: &std::path::Path) -> Store {
    let url = format!("sqlite://{}?mode=rwc", dir.join("bench.db").display());
    let store = Store::connect(&url).await.unwrap();
    let Store::Sqlite(s) = &store else {
        unreachable!()
    };
    insert_fleet!(s.pool(), "sqlite", "done = 0");
    index(&store, "sqlite").await;
    store
}

/// Fills a fresh PostgreSQL schema with batched inserts and indexes it; `None` when the
/// database cannot be reached.
async fn fill_postgres() -> Option<Store> {
    let base = std::env::var("SIGNET_BENCH_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_PG.into());
    let admin = match sqlx::PgPool::connect(&base).await {
        Ok(p) => p,
        Err(e) => {
            eprintln!("postgres: skipped, {base} is unreachable: {e}");
            return None;
        }
    };
    sqlx::query(&format!("DROP SCHEMA IF EXISTS {PG_SCHEMA} CASCADE"))
        .execute(&admin)
        .await
        .unwrap();
    sqlx::query(&format!("CREATE SCHEMA {PG_SCHEMA}"))
        .execute(&admin)
        .await
        .unwrap();
    admin.close().await;
    let sep = if base.contains('?') { '&' } else { '?' };
    let url = format!("{base}{sep}options=-c%20search_path%3D{PG_SCHEMA}");
    let store = Store::connect(&url).await.unwrap();
    let Store::Postgres(s) = &store else {
        unreachable!()
    };
    insert_fleet!(s.pool(), "postgres", "done = false");
    sqlx::query("ANALYZE").execute(s.pool()).await.unwrap();
    index(&store, "postgres").await;
    sqlx::query("ANALYZE").execute(s.pool()).await.unwrap();
    Some(store)
}

/// Runs the backfill and checks its result.
async fn index(store: &Store, backend: &str) {
    let started = Instant::now();
    let indexed = store.backfill_key_trust().await.unwrap();
    println!(
        "{backend}: indexed {indexed} repositories in {:?}",
        started.elapsed()
    );
    assert_eq!(indexed, REPOSITORIES);
}

fn bench_backend(c: &mut Criterion, rt: &tokio::runtime::Runtime, store: &Store, name: &str) {
    let fleet = kid("fleet-release");
    let team = kid("team-7");
    let one = kid("targets-4242");
    let unknown = kid("nobody");
    let middle = TrustCursor {
        gun: gun(REPOSITORIES / 2),
        role: "targets/releases".into(),
    };
    // Sanity: the answers are what the fleet holds.
    rt.block_on(async {
        let page = store.trusted_by(&fleet, None, 100).await.unwrap();
        assert_eq!(page.roles.len(), 100);
        assert!(page.next.is_some());
        let page = store.trusted_by(&one, None, 100).await.unwrap();
        assert_eq!(page.roles.len(), 1);
        assert_eq!(page.roles[0].gun, gun(4242));
    });
    let mut g = c.benchmark_group(format!("trusted_by/{name}"));
    g.bench_function("first 100 of 100000 repositories", |b| {
        b.iter(|| {
            rt.block_on(store.trusted_by(black_box(&fleet), None, 100))
                .unwrap()
        });
    });
    g.bench_function("1000 of 100000 repositories, from the middle", |b| {
        b.iter(|| {
            rt.block_on(store.trusted_by(black_box(&fleet), Some(&middle), 1000))
                .unwrap()
        });
    });
    g.bench_function("100 of 100 repositories", |b| {
        b.iter(|| {
            rt.block_on(store.trusted_by(black_box(&team), None, 100))
                .unwrap()
        });
    });
    g.bench_function("1 repository", |b| {
        b.iter(|| {
            rt.block_on(store.trusted_by(black_box(&one), None, 100))
                .unwrap()
        });
    });
    g.bench_function("unknown key", |b| {
        b.iter(|| {
            rt.block_on(store.trusted_by(black_box(&unknown), None, 100))
                .unwrap()
        });
    });
    g.finish();
}

fn benches(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let sqlite = rt.block_on(fill_sqlite(dir.path()));
    bench_backend(c, &rt, &sqlite, "sqlite");
    rt.block_on(sqlite.close());
    if let Some(pg) = rt.block_on(fill_postgres()) {
        bench_backend(c, &rt, &pg, "postgres");
        rt.block_on(async {
            if let Store::Postgres(s) = &pg {
                sqlx::query(&format!("DROP SCHEMA {PG_SCHEMA} CASCADE"))
                    .execute(s.pool())
                    .await
                    .unwrap();
            }
            pg.close().await;
        });
    }
}

criterion_group! {
    name = trusted_by;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = benches
}
criterion_main!(trusted_by);
