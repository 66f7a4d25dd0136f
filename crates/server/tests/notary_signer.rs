//! `import-notary-signer` and `export-notary-signer` against notary-signer databases on
//! PostgreSQL (each in a fresh schema of the test database), with the rows and roots the real
//! Go notary-signer and notary-server wrote (`tests/data/notary-signer/`). Without Postgres
//! the tests fail when `CI` is set and skip otherwise. One test also runs the Go
//! notary-signer and notary-server on the exported keys, and one runs on MySQL/MariaDB when
//! MariaDB at `SIGNET_TEST_MYSQL_URL` (default `mysql://signet:signet@127.0.0.1:3306`, which
//! `scripts/test` sets up).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use axum::http::Method;
use base64::Engine as _;
use common::{PgSchema, TestServer};
use serde::Deserialize;
use signet_server::cache::CacheSettings;
use signet_server::error::NotarySignerError;
use signet_server::http::HttpSettings;
use signet_server::kek::Kek;
use signet_server::notary_signer::export::ExportAction;
use signet_server::notary_signer::{
    self, ExportOptions, ImportOptions, Passphrases, SignerDb, jwe,
};
use signet_server::store::{FileUpdate, KeyState, Store};
use signet_tuf::{KeyType, PublicKey};
use sqlx::Row as _;
use sqlx::postgres::{PgPool, PgPoolOptions};
use zeroize::Zeroizing;

const PASSPHRASE: &str = "signet fixture passphrase";
const ALIAS: &str = "fixtures";
const ECDSA_GUN: &str = "example.com/fixtures/ecdsa";
const ED25519_GUN: &str = "example.com/fixtures/ed25519";
const UNPUBLISHED_GUN: &str = "example.com/fixtures/unpublished";
const SIGNER_SCHEMA: &str =
    include_str!("../../../tests/data/notary-signer-schema/postgresql/0001_initial.up.sql");

#[derive(Debug, Clone, Deserialize)]
struct KeyRow {
    key_id: String,
    gun: String,
    role: String,
    algorithm: String,
    encryption_alg: String,
    keywrap_alg: String,
    passphrase_alias: String,
    created_at: Option<String>,
    last_used: Option<String>,
    public: String,
    private: String,
}

/// One `tuf_files` row of the Go notary-server.
#[derive(Debug, Clone, Deserialize)]
struct RootRow {
    gun: String,
    role: String,
    version: i64,
    data: String,
}

fn fixture_keys() -> Vec<KeyRow> {
    serde_json::from_str(include_str!("data/notary-signer/keys.json")).unwrap()
}

/// Every metadata file the Go notary-server stored, in the order it stored them.
fn fixture_metadata() -> Vec<RootRow> {
    serde_json::from_str(include_str!("data/notary-signer/metadata.json")).unwrap()
}

fn fixture_roots() -> Vec<RootRow> {
    fixture_metadata()
        .into_iter()
        .filter(|r| r.role == "root")
        .collect()
}

/// The keys of the fixture scenario (see `tests/data/notary-signer/README.md`).
struct Scenario {
    /// The first timestamp key of the ecdsa GUN, rotated away.
    old_timestamp: String,
    /// Its current timestamp key.
    timestamp: String,
    /// Its server-managed snapshot key.
    snapshot: String,
    /// The timestamp key handed out by POST timestamp.key and never used.
    pending: String,
    /// The timestamp key of the ed25519 GUN.
    ed25519: String,
    /// The timestamp key handed out for a GUN that never published.
    unpublished: String,
}

fn root_keyids(data: &str, role: &str) -> Vec<String> {
    let v: serde_json::Value = serde_json::from_str(data).unwrap();
    v["signed"]["roles"][role]["keyids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap().to_owned())
        .collect()
}

fn scenario() -> Scenario {
    let roots = fixture_roots();
    let ecdsa: Vec<&RootRow> = roots.iter().filter(|r| r.gun == ECDSA_GUN).collect();
    let first = ecdsa.iter().min_by_key(|r| r.version).unwrap();
    let last = ecdsa.iter().max_by_key(|r| r.version).unwrap();
    let keys = fixture_keys();
    let one = |pred: &dyn Fn(&KeyRow) -> bool| {
        let found: Vec<&KeyRow> = keys.iter().filter(|k| pred(k)).collect();
        assert_eq!(found.len(), 1);
        found[0].key_id.clone()
    };
    let s = Scenario {
        old_timestamp: root_keyids(&first.data, "timestamp")[0].clone(),
        timestamp: root_keyids(&last.data, "timestamp")[0].clone(),
        snapshot: root_keyids(&last.data, "snapshot")[0].clone(),
        pending: one(&|k| k.gun == ECDSA_GUN && k.role == "timestamp" && k.last_used.is_none()),
        ed25519: one(&|k| k.gun == ED25519_GUN),
        unpublished: one(&|k| k.gun == UNPUBLISHED_GUN),
    };
    assert_ne!(s.old_timestamp, s.timestamp);
    s
}

fn kek() -> Arc<Kek> {
    // The key-encryption key of the test router (common::TestServer::on_store).
    Arc::new(Kek::from_bytes([7; 32]))
}

fn passphrases(alias: &str, passphrase: &str) -> Passphrases {
    Passphrases::only(BTreeMap::from([(
        alias.to_owned(),
        Zeroizing::new(passphrase.to_owned()),
    )]))
}

fn fixture_passphrases() -> Passphrases {
    passphrases(ALIAS, PASSPHRASE)
}

/// A pool on a schema's URL.
async fn pool(schema: &PgSchema) -> PgPool {
    PgPoolOptions::new()
        .max_connections(2)
        .acquire_timeout(Duration::from_secs(10))
        .connect(&schema.url)
        .await
        .unwrap()
}

/// A notary-signer database (the Go schema) holding `rows`, in a fresh schema.
async fn signer_database(rows: &[KeyRow]) -> Option<(PgSchema, PgPool)> {
    let schema = PgSchema::new().await?;
    let pool = pool(&schema).await;
    sqlx::raw_sql(SIGNER_SCHEMA).execute(&pool).await.unwrap();
    for r in rows {
        sqlx::query(
            "INSERT INTO private_keys (created_at, updated_at, key_id, encryption_alg, \
             keywrap_alg, algorithm, passphrase_alias, public, private, gun, role, last_used) \
             VALUES ($1::timestamp, $1::timestamp, $2, $3, $4, $5, $6, decode($7, 'hex'), \
             convert_to($8, 'UTF8'), $9, $10, $11::timestamp)",
        )
        .bind(&r.created_at)
        .bind(&r.key_id)
        .bind(&r.encryption_alg)
        .bind(&r.keywrap_alg)
        .bind(&r.algorithm)
        .bind(&r.passphrase_alias)
        .bind(&r.public)
        .bind(&r.private)
        .bind(&r.gun)
        .bind(&r.role)
        .bind(&r.last_used)
        .execute(&pool)
        .await
        .unwrap();
    }
    Some((schema, pool))
}

/// A migrated signet store in a fresh schema holding the Go notary-server's metadata (as
/// after adopting its database).
async fn signet_store() -> Option<(PgSchema, Store)> {
    let schema = PgSchema::new().await?;
    let store = Store::connect(&schema.url).await.unwrap();
    for r in fixture_metadata() {
        store
            .update_many(
                &r.gun,
                &[FileUpdate::new(r.role, r.version, r.data.into_bytes())],
            )
            .await
            .unwrap();
    }
    Some((schema, store))
}

/// Every server key row, sealed blobs and times included, for before/after comparisons.
async fn key_rows(store: &Store) -> Vec<String> {
    let Store::Postgres(pg) = store else {
        unreachable!()
    };
    sqlx::query(
        "SELECT gun, role, key_id, algorithm, encode(public_key, 'hex') AS p, \
         encode(sealed_private_key, 'hex') AS s, state, created_at::text AS c, \
         last_used::text AS u FROM signet_server_keys ORDER BY gun, role, key_id",
    )
    .fetch_all(pg.pool())
    .await
    .unwrap()
    .iter()
    .map(|r| {
        (0..9)
            .map(|i| r.get::<Option<String>, _>(i).unwrap_or_default())
            .collect::<Vec<_>>()
            .join("|")
    })
    .collect()
}

async fn state_of(store: &Store, gun: &str, role: &str, key_id: &str) -> Option<KeyState> {
    store
        .server_key(gun, role, key_id)
        .await
        .unwrap()
        .map(|k| k.state)
}

/// The key ID of a `.key` response.
fn key_id_of(json: &serde_json::Value) -> String {
    let public = base64::engine::general_purpose::STANDARD
        .decode(json["keyval"]["public"].as_str().unwrap())
        .unwrap();
    PublicKey::new(KeyType::parse(json["keytype"].as_str().unwrap()), public)
        .key_id()
        .to_string()
}

/// The public key a stored root lists under `key_id`.
fn root_key(gun: &str, key_id: &str) -> PublicKey {
    let roots = fixture_roots();
    let root = roots
        .iter()
        .filter(|r| r.gun == gun)
        .max_by_key(|r| r.version)
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(&root.data).unwrap();
    serde_json::from_value(v["signed"]["keys"][key_id].clone()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_places_keys_by_the_current_root() {
    let Some((signer_schema, _signer_pool)) = signer_database(&fixture_keys()).await else {
        return;
    };
    let Some((_schema, store)) = signet_store().await else {
        return;
    };
    let s = scenario();
    let signer = SignerDb::connect(&signer_schema.url).await.unwrap();
    let report = notary_signer::import(
        &store,
        &kek(),
        &signer,
        &fixture_passphrases(),
        &ImportOptions::default(),
    )
    .await
    .unwrap();
    let text = report.to_string();
    println!("{text}");
    assert!(report.skipped.is_empty(), "{text}");
    let imported = report.imported();
    assert_eq!(imported.get("timestamp", KeyState::Active), 2, "{text}");
    assert_eq!(imported.get("timestamp", KeyState::Pending), 2, "{text}");
    assert_eq!(imported.get("timestamp", KeyState::Retired), 1, "{text}");
    assert_eq!(imported.get("snapshot", KeyState::Active), 1, "{text}");
    assert_eq!(imported.total(), 6, "{text}");
    assert_eq!(report.already_present().total(), 0);
    assert!(text.contains("keys imported: 6"), "{text}");

    let expect = [
        (ECDSA_GUN, "timestamp", &s.old_timestamp, KeyState::Retired),
        (ECDSA_GUN, "timestamp", &s.timestamp, KeyState::Active),
        (ECDSA_GUN, "snapshot", &s.snapshot, KeyState::Active),
        (ECDSA_GUN, "timestamp", &s.pending, KeyState::Pending),
        (ED25519_GUN, "timestamp", &s.ed25519, KeyState::Active),
        (
            UNPUBLISHED_GUN,
            "timestamp",
            &s.unpublished,
            KeyState::Pending,
        ),
    ];
    for (gun, role, id, state) in expect {
        assert_eq!(
            state_of(&store, gun, role, id).await,
            Some(state),
            "{gun} {role} {id}"
        );
    }
    // notary-signer's times are kept.
    let rows = fixture_keys();
    for (gun, role, id, _) in expect {
        let k = store.server_key(gun, role, id).await.unwrap().unwrap();
        let row = rows.iter().find(|r| &r.key_id == id).unwrap();
        assert_eq!(k.last_used.is_some(), row.last_used.is_some(), "{id}");
        let created = chrono::NaiveDateTime::parse_from_str(
            row.created_at.as_deref().unwrap(),
            "%Y-%m-%dT%H:%M:%S%.f",
        )
        .unwrap()
        .and_utc();
        assert_eq!(k.created_at, created, "{id}");
        assert_eq!(k.algorithm, row.algorithm);
    }

    // The imported keys sign, and the keys the roots list verify them.
    for (gun, role, id) in [
        (ECDSA_GUN, "timestamp", &s.timestamp),
        (ECDSA_GUN, "snapshot", &s.snapshot),
        (ED25519_GUN, "timestamp", &s.ed25519),
    ] {
        let k = store.server_key(gun, role, id).await.unwrap().unwrap();
        let key = signet_signer::seal::open_private_key(
            &kek(),
            &k.sealed_private_key,
            gun,
            role,
            &id.parse().unwrap(),
        )
        .unwrap();
        let sig = key.sign(b"signed by an imported key").unwrap();
        root_key(gun, id)
            .verify(&sig.method, b"signed by an imported key", &sig.sig)
            .unwrap();
    }

    // The server hands them out as if it had made them.
    let server = TestServer::on_store(
        store.clone(),
        CacheSettings::default(),
        HttpSettings::default(),
        None,
    );
    let key = |method: Method, gun: &str, role: &str| {
        let server = &server;
        let uri = format!("/v2/{gun}/_trust/tuf/{role}.key");
        async move {
            let r = server.request(method, &uri).await;
            assert_eq!(r.status, 200, "{uri}: {}", r.text());
            key_id_of(&r.json())
        }
    };
    assert_eq!(key(Method::GET, ECDSA_GUN, "timestamp").await, s.timestamp);
    assert_eq!(key(Method::GET, ECDSA_GUN, "snapshot").await, s.snapshot);
    assert_eq!(key(Method::GET, ED25519_GUN, "timestamp").await, s.ed25519);
    assert_eq!(key(Method::POST, ECDSA_GUN, "timestamp").await, s.pending);
    assert_eq!(
        key(Method::GET, UNPUBLISHED_GUN, "timestamp").await,
        s.unpublished
    );
    // Nothing new was created for those requests.
    assert_eq!(
        store
            .server_keys(ECDSA_GUN, "timestamp")
            .await
            .unwrap()
            .len(),
        3
    );
    signer.close().await;
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_without_gun_and_role_are_placed_by_the_roots() {
    // Rows written before notary-signer's second MySQL migration have empty gun and role.
    let rows: Vec<KeyRow> = fixture_keys()
        .into_iter()
        .map(|mut r| {
            r.gun.clear();
            r.role.clear();
            r
        })
        .collect();
    let Some((signer_schema, _signer_pool)) = signer_database(&rows).await else {
        return;
    };
    let Some((_schema, store)) = signet_store().await else {
        return;
    };
    let s = scenario();
    let signer = SignerDb::connect(&signer_schema.url).await.unwrap();
    let report = notary_signer::import(
        &store,
        &kek(),
        &signer,
        &fixture_passphrases(),
        &ImportOptions::default(),
    )
    .await
    .unwrap();
    let text = report.to_string();
    println!("{text}");
    for (gun, role, id, state) in [
        (ECDSA_GUN, "timestamp", &s.old_timestamp, KeyState::Retired),
        (ECDSA_GUN, "timestamp", &s.timestamp, KeyState::Active),
        (ECDSA_GUN, "snapshot", &s.snapshot, KeyState::Active),
        (ED25519_GUN, "timestamp", &s.ed25519, KeyState::Active),
    ] {
        assert_eq!(state_of(&store, gun, role, id).await, Some(state), "{text}");
    }
    // Keys no root lists belong nowhere: named, not imported.
    let skipped: BTreeSet<&str> = report.skipped.iter().map(|k| k.key_id.as_str()).collect();
    assert_eq!(
        skipped,
        BTreeSet::from([s.pending.as_str(), s.unpublished.as_str()]),
        "{text}"
    );
    assert!(
        text.contains(&s.pending) && text.contains("belongs to no repository"),
        "{text}"
    );
    assert_eq!(report.imported().total(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_or_missing_passphrases_import_nothing() {
    let Some((signer_schema, signer_pool)) = signer_database(&fixture_keys()).await else {
        return;
    };
    let Some((_schema, store)) = signet_store().await else {
        return;
    };
    let signer = SignerDb::connect(&signer_schema.url).await.unwrap();
    let opts = ImportOptions::default();

    let e = notary_signer::import(&store, &kek(), &signer, &passphrases(ALIAS, "nope"), &opts)
        .await
        .unwrap_err();
    let msg = e.to_string();
    assert!(
        matches!(&e, NotarySignerError::WrongPassphrases(a) if a[0].alias == ALIAS && a[0].keys == 6),
        "{msg}"
    );
    assert!(
        msg.contains("\"fixtures\"") && msg.contains("6 keys"),
        "{msg}"
    );
    assert!(
        msg.contains("NOTARY_SIGNER_FIXTURES") && !msg.contains("nope"),
        "{msg}"
    );
    assert!(key_rows(&store).await.is_empty());

    let e = notary_signer::import(&store, &kek(), &signer, &Passphrases::default(), &opts)
        .await
        .unwrap_err();
    let msg = e.to_string();
    assert!(
        matches!(e, NotarySignerError::MissingPassphrases(_)),
        "{msg}"
    );
    assert!(
        msg.contains("\"fixtures\"")
            && msg.contains("6 keys")
            && msg.contains("NOTARY_SIGNER_FIXTURES"),
        "{msg}"
    );
    assert!(key_rows(&store).await.is_empty());

    // A second alias without its passphrase stops everything too.
    let extra = jwe::encrypt(b"whatever", b"other passphrase").unwrap();
    sqlx::query(
        "INSERT INTO private_keys (key_id, encryption_alg, keywrap_alg, algorithm, \
         passphrase_alias, public, private, gun, role) VALUES ($1, 'A256GCM', \
         'PBES2-HS256+A128KW', 'ecdsa', 'second', '\\x00', $2, 'g', 'timestamp')",
    )
    .bind("0".repeat(64))
    .bind(extra.as_bytes())
    .execute(&signer_pool)
    .await
    .unwrap();
    let e = notary_signer::import(&store, &kek(), &signer, &fixture_passphrases(), &opts)
        .await
        .unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("\"second\"")
            && msg.contains("1 key)")
            && msg.contains("NOTARY_SIGNER_SECOND"),
        "{msg}"
    );
    assert!(key_rows(&store).await.is_empty());
    signer.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_key_stops_the_import_unless_skipped() {
    let s = scenario();
    let rows: Vec<KeyRow> = fixture_keys()
        .into_iter()
        .map(|mut r| {
            if r.key_id == s.pending {
                // Flip a character of the authentication tag.
                let last = r.private.pop().unwrap();
                r.private.push(if last == 'A' { 'B' } else { 'A' });
            }
            r
        })
        .collect();
    let Some((signer_schema, _signer_pool)) = signer_database(&rows).await else {
        return;
    };
    let Some((_schema, store)) = signet_store().await else {
        return;
    };
    let signer = SignerDb::connect(&signer_schema.url).await.unwrap();
    let e = notary_signer::import(
        &store,
        &kek(),
        &signer,
        &fixture_passphrases(),
        &ImportOptions::default(),
    )
    .await
    .unwrap_err();
    let msg = e.to_string();
    assert!(
        matches!(&e, NotarySignerError::Keys(k) if k.len() == 1),
        "{msg}"
    );
    assert!(
        msg.contains(&s.pending) && msg.contains("authentication"),
        "{msg}"
    );
    assert!(key_rows(&store).await.is_empty());

    let report = notary_signer::import(
        &store,
        &kek(),
        &signer,
        &fixture_passphrases(),
        &ImportOptions {
            skip_keys: BTreeSet::from([s.pending.clone()]),
            ..ImportOptions::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(report.imported().total(), 5);
    assert_eq!(report.skipped.len(), 1);
    assert!(report.to_string().contains("--skip-key"));
    assert_eq!(
        state_of(&store, ECDSA_GUN, "timestamp", &s.pending).await,
        None
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_writes_nothing_and_a_second_import_changes_nothing() {
    let Some((signer_schema, _signer_pool)) = signer_database(&fixture_keys()).await else {
        return;
    };
    let Some((_schema, store)) = signet_store().await else {
        return;
    };
    let signer = SignerDb::connect(&signer_schema.url).await.unwrap();
    let run = |dry_run| {
        let (store, signer) = (store.clone(), signer.clone());
        async move {
            notary_signer::import(
                &store,
                &kek(),
                &signer,
                &fixture_passphrases(),
                &ImportOptions {
                    dry_run,
                    ..ImportOptions::default()
                },
            )
            .await
            .unwrap()
        }
    };
    let dry = run(true).await;
    assert!(key_rows(&store).await.is_empty());
    assert_eq!(dry.imported().total(), 6);
    let text = dry.to_string();
    assert!(
        text.contains("dry run") && text.contains("would import"),
        "{text}"
    );

    let first = run(false).await;
    assert_eq!(first.imported().total(), 6);
    let before = key_rows(&store).await;
    assert_eq!(before.len(), 6);
    // The dry run announced exactly what the import did.
    assert_eq!(dry.entries, first.entries);

    // A state change signet made since is kept by a later import.
    let s = scenario();
    store
        .mark_key_state(ECDSA_GUN, "timestamp", &s.pending, KeyState::Retired)
        .await
        .unwrap();
    let before = key_rows(&store).await;
    let second = run(false).await;
    assert_eq!(second.imported().total(), 0);
    assert_eq!(second.already_present().total(), 6);
    assert_eq!(key_rows(&store).await, before);
    assert!(second.to_string().contains("keys imported: 0"));
    signer.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soft_deleted_rows_are_not_imported() {
    let s = scenario();
    let Some((signer_schema, signer_pool)) = signer_database(&fixture_keys()).await else {
        return;
    };
    let Some((_schema, store)) = signet_store().await else {
        return;
    };
    sqlx::query("UPDATE private_keys SET deleted_at = now() WHERE key_id IN ($1, $2)")
        .bind(&s.timestamp)
        .bind(&s.unpublished)
        .execute(&signer_pool)
        .await
        .unwrap();
    let signer = SignerDb::connect(&signer_schema.url).await.unwrap();
    let report = notary_signer::import(
        &store,
        &kek(),
        &signer,
        &fixture_passphrases(),
        &ImportOptions::default(),
    )
    .await
    .unwrap();
    let text = report.to_string();
    assert_eq!(report.imported().total(), 4, "{text}");
    assert_eq!(report.skipped.len(), 2, "{text}");
    assert!(text.contains("soft-deleted"), "{text}");
    // The deleted key a current root still lists is pointed out.
    assert_eq!(report.warnings.len(), 1, "{text}");
    assert!(report.warnings[0].contains(&s.timestamp), "{text}");
    assert_eq!(
        state_of(&store, ECDSA_GUN, "timestamp", &s.timestamp).await,
        None
    );
}

/// The notary-signer rows of a database: key ID → (gun, role, algorithm, alias, public hex,
/// last_used set, deleted, private).
async fn signer_rows(
    pool: &PgPool,
) -> BTreeMap<String, (String, String, String, String, String, bool, bool, String)> {
    sqlx::query(
        "SELECT key_id, gun, role, algorithm, passphrase_alias, encode(public, 'hex') AS p, \
         last_used IS NOT NULL AS u, deleted_at IS NOT NULL AS d, \
         convert_from(private, 'UTF8') AS x, encryption_alg, keywrap_alg FROM private_keys",
    )
    .fetch_all(pool)
    .await
    .unwrap()
    .iter()
    .map(|r| {
        assert_eq!(r.get::<String, _>("encryption_alg"), "A256GCM");
        assert_eq!(r.get::<String, _>("keywrap_alg"), "PBES2-HS256+A128KW");
        (
            r.get("key_id"),
            (
                r.get("gun"),
                r.get("role"),
                r.get("algorithm"),
                r.get("passphrase_alias"),
                r.get("p"),
                r.get("u"),
                r.get("d"),
                r.get("x"),
            ),
        )
    })
    .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_then_import_round_trip() {
    let s = scenario();
    let Some((go_schema, go_pool)) = signer_database(&fixture_keys()).await else {
        return;
    };
    let Some((_schema, store)) = signet_store().await else {
        return;
    };
    let go_signer = SignerDb::connect(&go_schema.url).await.unwrap();
    notary_signer::import(
        &store,
        &kek(),
        &go_signer,
        &fixture_passphrases(),
        &ImportOptions::default(),
    )
    .await
    .unwrap();
    // A key signet creates after the switch.
    let server = TestServer::on_store(
        store.clone(),
        CacheSettings::default(),
        HttpSettings::default(),
        None,
    );
    let r = server
        .request(
            Method::GET,
            "/v2/example.com/after/_trust/tuf/timestamp.key",
        )
        .await;
    assert_eq!(r.status, 200);
    let new_key = key_id_of(&r.json());

    // Export into an empty notary-signer database.
    let Some((fresh_schema, fresh_pool)) = signer_database(&[]).await else {
        return;
    };
    let fresh = SignerDb::connect(&fresh_schema.url).await.unwrap();
    let opts = ExportOptions {
        alias: "exported".to_owned(),
        dry_run: false,
    };
    let exported_pw = passphrases("exported", "export passphrase");
    let dry = notary_signer::export(
        &store,
        &kek(),
        &fresh,
        &exported_pw,
        &ExportOptions {
            dry_run: true,
            ..opts.clone()
        },
    )
    .await
    .unwrap();
    assert!(signer_rows(&fresh_pool).await.is_empty());
    assert!(dry.to_string().contains("would be added"), "{dry}");
    let report = notary_signer::export(&store, &kek(), &fresh, &exported_pw, &opts)
        .await
        .unwrap();
    let text = report.to_string();
    println!("{text}");
    assert_eq!(report.tally(Added).total(), 7, "{text}");
    let rows = signer_rows(&fresh_pool).await;
    assert_eq!(rows.len(), 7);
    let go_rows: BTreeMap<String, KeyRow> = fixture_keys()
        .into_iter()
        .map(|k| (k.key_id.clone(), k))
        .collect();
    for (id, (gun, role, alg, alias, public, used, deleted, private)) in &rows {
        assert_eq!(alias, "exported");
        assert!(!deleted);
        let plain = jwe::decrypt(private, b"export passphrase").unwrap();
        if let Some(go) = go_rows.get(id) {
            // The columns notary-signer had, and the same private key bytes.
            assert_eq!(
                (gun, role, alg, public),
                (&go.gun, &go.role, &go.algorithm, &go.public)
            );
            assert_eq!(*used, go.last_used.is_some(), "{id}");
            let go_plain = jwe::decrypt(&go.private, PASSPHRASE.as_bytes()).unwrap();
            assert_eq!(plain.as_slice(), go_plain.as_slice(), "{id}");
        } else {
            assert_eq!(id, &new_key);
            assert_eq!(
                (gun.as_str(), role.as_str(), alg.as_str()),
                ("example.com/after", "timestamp", "ecdsa")
            );
            assert!(!used, "a pending key stays unused");
        }
    }
    // Again: nothing changes.
    let again = notary_signer::export(&store, &kek(), &fresh, &exported_pw, &opts)
        .await
        .unwrap();
    assert_eq!(again.tally(Unchanged).total(), 7, "{again}");
    assert_eq!(signer_rows(&fresh_pool).await, rows);

    // Importing the export into another signet gives the same keys in the same states.
    let Some((_schema2, store2)) = signet_store().await else {
        return;
    };
    let back = notary_signer::import(
        &store2,
        &kek(),
        &fresh,
        &exported_pw,
        &ImportOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(back.imported().total(), 7, "{back}");
    let strip = |rows: Vec<String>| -> Vec<String> {
        // Everything but the sealed blob (fresh nonce) and the times of the new key.
        rows.into_iter()
            .map(|r| {
                let f: Vec<&str> = r.split('|').collect();
                format!("{}|{}|{}|{}|{}|{}", f[0], f[1], f[2], f[3], f[4], f[6])
            })
            .collect()
    };
    assert_eq!(
        strip(key_rows(&store2).await),
        strip(key_rows(&store).await)
    );

    // Back into the Go signer's own database: its six rows are there already, the new
    // key is added, and a soft-deleted row of a key signet holds comes back.
    sqlx::query("UPDATE private_keys SET deleted_at = now() WHERE key_id = $1")
        .bind(&s.snapshot)
        .execute(&go_pool)
        .await
        .unwrap();
    let before = signer_rows(&go_pool).await;
    let report = notary_signer::export(
        &store,
        &kek(),
        &go_signer,
        &passphrases(ALIAS, PASSPHRASE),
        &ExportOptions {
            alias: ALIAS.to_owned(),
            dry_run: false,
        },
    )
    .await
    .unwrap();
    use ExportAction::{Added, Restored, Unchanged};
    assert_eq!(report.tally(Added).total(), 1, "{report}");
    assert_eq!(report.tally(Restored).total(), 1, "{report}");
    assert_eq!(report.tally(Unchanged).total(), 5, "{report}");
    let after = signer_rows(&go_pool).await;
    assert_eq!(after.len(), 7);
    for (id, row) in &before {
        if id == &s.snapshot {
            assert!(!after[id].6, "restored");
            let plain = jwe::decrypt(&after[id].7, PASSPHRASE.as_bytes()).unwrap();
            assert_eq!(
                plain.as_slice(),
                jwe::decrypt(&row.7, PASSPHRASE.as_bytes())
                    .unwrap()
                    .as_slice()
            );
        } else {
            assert_eq!(&after[id], row, "{id} keeps its row");
        }
    }

    // A key used since the import gets its last_used in notary-signer.
    store
        .touch_server_key(ECDSA_GUN, "timestamp", &s.timestamp)
        .await
        .unwrap();
    let report = notary_signer::export(
        &store,
        &kek(),
        &go_signer,
        &Passphrases::default(),
        &ExportOptions {
            alias: ALIAS.to_owned(),
            dry_run: false,
        },
    )
    .await
    .unwrap();
    assert_eq!(report.tally(ExportAction::Updated).total(), 1, "{report}");
    let used: chrono::NaiveDateTime =
        sqlx::query_scalar("SELECT last_used FROM private_keys WHERE key_id = $1")
            .bind(&s.timestamp)
            .fetch_one(&go_pool)
            .await
            .unwrap();
    assert!(chrono::Utc::now().naive_utc() - used < chrono::Duration::minutes(5));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_needs_the_alias_passphrase_and_refuses_clashing_rows() {
    let Some((signer_schema, signer_pool)) = signer_database(&[]).await else {
        return;
    };
    let Some((_schema, store)) = signet_store().await else {
        return;
    };
    let server = TestServer::on_store(
        store.clone(),
        CacheSettings::default(),
        HttpSettings::default(),
        None,
    );
    let r = server
        .request(Method::GET, "/v2/example.com/x/_trust/tuf/timestamp.key")
        .await;
    assert_eq!(r.status, 200);
    let key_id = key_id_of(&r.json());
    let signer = SignerDb::connect(&signer_schema.url).await.unwrap();
    let opts = |alias: &str| ExportOptions {
        alias: alias.to_owned(),
        dry_run: true,
    };
    let e = notary_signer::export(
        &store,
        &kek(),
        &signer,
        &Passphrases::default(),
        &opts("prod"),
    )
    .await
    .unwrap_err();
    assert!(
        e.to_string().contains("NOTARY_SIGNER_PROD") && e.to_string().contains("1 key)"),
        "{e}"
    );
    for bad in ["", &"x".repeat(51)] {
        let e = notary_signer::export(&store, &kek(), &signer, &Passphrases::default(), &opts(bad))
            .await
            .unwrap_err();
        assert!(matches!(e, NotarySignerError::InvalidAlias { .. }), "{e}");
    }

    // A row with the key's ID but another public key is a clash, named by key ID.
    sqlx::query(
        "INSERT INTO private_keys (key_id, encryption_alg, keywrap_alg, algorithm, \
         passphrase_alias, public, private, gun, role) VALUES ($1, 'A256GCM', \
         'PBES2-HS256+A128KW', 'ecdsa', 'prod', '\\x00', 'x', 'example.com/x', 'timestamp')",
    )
    .bind(&key_id)
    .execute(&signer_pool)
    .await
    .unwrap();
    let e = notary_signer::export(
        &store,
        &kek(),
        &signer,
        &passphrases("prod", "pw"),
        &ExportOptions {
            alias: "prod".to_owned(),
            dry_run: false,
        },
    )
    .await
    .unwrap_err();
    assert!(matches!(e, NotarySignerError::ExportKeys(_)), "{e}");
    assert!(e.to_string().contains(&key_id), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_and_export_with_a_sqlite_store() {
    let s = scenario();
    let Some((signer_schema, _)) = signer_database(&fixture_keys()).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let store = Store::connect(&format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("signet.db").display()
    ))
    .await
    .unwrap();
    for r in fixture_metadata() {
        store
            .update_many(
                &r.gun,
                &[FileUpdate::new(r.role, r.version, r.data.into_bytes())],
            )
            .await
            .unwrap();
    }
    let signer = SignerDb::connect(&signer_schema.url).await.unwrap();
    let report = notary_signer::import(
        &store,
        &kek(),
        &signer,
        &fixture_passphrases(),
        &ImportOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(report.imported().total(), 6, "{report}");
    assert_eq!(
        state_of(&store, ECDSA_GUN, "timestamp", &s.timestamp).await,
        Some(KeyState::Active)
    );
    assert_eq!(
        state_of(&store, ECDSA_GUN, "timestamp", &s.old_timestamp).await,
        Some(KeyState::Retired)
    );
    let k = store
        .server_key(ECDSA_GUN, "timestamp", &s.timestamp)
        .await
        .unwrap()
        .unwrap();
    assert!(k.last_used.is_some());
    let again = notary_signer::import(
        &store,
        &kek(),
        &signer,
        &fixture_passphrases(),
        &ImportOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(again.already_present().total(), 6, "{again}");

    let Some((target_schema, target_pool)) = signer_database(&[]).await else {
        return;
    };
    let target = SignerDb::connect(&target_schema.url).await.unwrap();
    let exported = notary_signer::export(
        &store,
        &kek(),
        &target,
        &fixture_passphrases(),
        &ExportOptions {
            alias: ALIAS.to_owned(),
            dry_run: false,
        },
    )
    .await
    .unwrap();
    assert_eq!(exported.tally(ExportAction::Added).total(), 6, "{exported}");
    let rows = signer_rows(&target_pool).await;
    assert!(!rows[&s.pending].5 && rows[&s.timestamp].5);
    store.close().await;
}

/// The `signet-server` binary with a clean environment and `vars`.
fn binary(vars: &[(&str, &str)], args: &[&str]) -> std::process::Output {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_signet-server"));
    cmd.env_clear().args(args);
    for (k, v) in vars {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_commands_of_the_binary() {
    let Some((signer_schema, _signer_pool)) = signer_database(&fixture_keys()).await else {
        return;
    };
    let Some((schema, store)) = signet_store().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let kek_file = dir.path().join("kek");
    std::fs::write(&kek_file, format!("{}\n", "07".repeat(32))).unwrap();
    let kek_path = kek_file.to_str().unwrap();
    let data_dir = dir.path().to_str().unwrap();
    let base = [
        ("SIGNET_SERVER_DATABASE_URL", schema.url.as_str()),
        ("SIGNET_SERVER_KEK_FILE", kek_path),
        ("SIGNET_SERVER_DATA_DIR", data_dir),
        ("SIGNET_SERVER_LOG_LEVEL", "warn"),
    ];
    let with = |extra: &[(&'static str, &'static str)]| {
        let mut v: Vec<(&str, &str)> = base.to_vec();
        v.extend_from_slice(extra);
        v
    };
    let import = [
        "import-notary-signer",
        "--signer-database-url",
        &signer_schema.url,
    ];

    // A wrong passphrase: non-zero, the alias and its key count named, nothing written.
    let out = binary(&with(&[("NOTARY_SIGNER_FIXTURES", "wrong")]), &import);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("\"fixtures\"") && err.contains("6 keys"),
        "{err}"
    );
    assert!(!err.contains("wrong\""), "{err}");
    // No passphrase at all.
    let out = binary(&with(&[]), &import);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("NOTARY_SIGNER_FIXTURES") && err.contains("6 keys"),
        "{err}"
    );
    assert!(key_rows(&store).await.is_empty());

    // A dry run, then the import, from a configuration file's passphrase table.
    let config = dir.path().join("signet.toml");
    std::fs::write(
        &config,
        format!(
            "[notary_signer]\ndatabase_url = \"{}\"\n[notary_signer.passphrases]\nfixtures = \"{PASSPHRASE}\"\n",
            signer_schema.url
        ),
    )
    .unwrap();
    let config = config.to_str().unwrap();
    let out = binary(
        &with(&[]),
        &["--config", config, "import-notary-signer", "--dry-run"],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("would import") && text.contains("keys would be imported: 6"),
        "{text}"
    );
    assert!(key_rows(&store).await.is_empty());
    let out = binary(&with(&[]), &["--config", config, "import-notary-signer"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("keys imported: 6"), "{text}");
    assert!(
        text.contains("timestamp          2        2        1"),
        "{text}"
    );
    assert!(
        text.contains("snapshot           1        0        0"),
        "{text}"
    );
    assert_eq!(key_rows(&store).await.len(), 6);
    // The environment wins over the file: a wrong one fails even though the file is right.
    let out = binary(
        &with(&[("NOTARY_SIGNER_FIXTURES", "wrong")]),
        &["--config", config, "import-notary-signer"],
    );
    assert!(!out.status.success());

    // Export into an empty database, alias from NOTARY_SIGNER_DEFAULT_ALIAS.
    let Some((target_schema, target_pool)) = signer_database(&[]).await else {
        return;
    };
    let out = binary(
        &with(&[
            ("NOTARY_SIGNER_DEFAULT_ALIAS", "exported"),
            ("NOTARY_SIGNER_EXPORTED", "export passphrase"),
        ]),
        &[
            "export-notary-signer",
            "--signer-database-url",
            &target_schema.url,
        ],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("added: 6"), "{text}");
    assert_eq!(signer_rows(&target_pool).await.len(), 6);
    // An unsupported URL names only its scheme.
    let out = binary(
        &with(&[("NOTARY_SIGNER_EXPORTED", "x")]),
        &[
            "export-notary-signer",
            "--alias",
            "exported",
            "--signer-database-url",
            "redis://u:pw@h/0",
        ],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("\"redis\"") && !err.contains("pw@"),
        "{err}"
    );
}

/// Runs the Go notary-signer and notary-server on the exported keys: notary-signer must
/// decrypt every exported key (GetKeyInfo does) and hand out the pending one on rotation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn go_notary_signer_reads_the_exported_keys() {
    let Some(signer_bin) = common::require_tool("notary-signer") else {
        return;
    };
    let Some(server_bin) = common::require_tool("notary-server") else {
        return;
    };
    let s = scenario();
    let Some((go_schema, _)) = signer_database(&fixture_keys()).await else {
        return;
    };
    let Some((schema, store)) = signet_store().await else {
        return;
    };
    let go_signer = SignerDb::connect(&go_schema.url).await.unwrap();
    notary_signer::import(
        &store,
        &kek(),
        &go_signer,
        &fixture_passphrases(),
        &ImportOptions::default(),
    )
    .await
    .unwrap();
    let Some((target_schema, _)) = signer_database(&[]).await else {
        return;
    };
    let target = SignerDb::connect(&target_schema.url).await.unwrap();
    notary_signer::export(
        &store,
        &kek(),
        &target,
        &passphrases("exported", "export passphrase"),
        &ExportOptions {
            alias: "exported".to_owned(),
            dry_run: false,
        },
    )
    .await
    .unwrap();

    let go_pair = go::GoPair::start(
        &signer_bin,
        &server_bin,
        &target_schema.name,
        &schema.name,
        ("exported", "export passphrase"),
    )
    .await;
    let pair = &go_pair;
    let get = |method: Method, gun: &str, role: &str| {
        let url = format!("{}/v2/{gun}/_trust/tuf/{role}.key", pair.url);
        async move {
            let r = reqwest::Client::new()
                .request(method, &url)
                .send()
                .await
                .unwrap();
            let status = r.status();
            let body = r.text().await.unwrap();
            assert_eq!(status, 200, "{url}: {body}\n{}", pair.logs());
            key_id_of(&serde_json::from_str(&body).unwrap())
        }
    };
    // A key it could not decrypt would not count as held: a new one would be made instead.
    assert_eq!(get(Method::GET, ECDSA_GUN, "timestamp").await, s.timestamp);
    assert_eq!(get(Method::GET, ECDSA_GUN, "snapshot").await, s.snapshot);
    assert_eq!(get(Method::GET, ED25519_GUN, "timestamp").await, s.ed25519);
    // Rotation hands out the unused key of the GUN and role, as it did before the switch.
    assert_eq!(get(Method::POST, ECDSA_GUN, "timestamp").await, s.pending);
    drop(go_pair);
}

mod go {
    //! The Go notary-signer and notary-server, with mutual TLS between them.

    use std::path::Path;
    use std::process::{Child, Command, Stdio};
    use std::time::Duration;

    use rcgen::{
        BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose,
        IsCa, KeyPair, PKCS_ECDSA_P256_SHA256, SanType,
    };

    pub(super) struct GoPair {
        pub(super) url: String,
        children: Vec<Child>,
        _dir: tempfile::TempDir,
    }

    impl Drop for GoPair {
        fn drop(&mut self) {
            for c in &mut self.children {
                let _ = c.kill();
                let _ = c.wait();
            }
        }
    }

    fn free_port() -> u16 {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    }

    fn db_url(schema: &str) -> String {
        // lib/pq passes unknown parameters on as run-time settings.
        format!("postgres://postgres@127.0.0.1:5432/test?sslmode=disable&search_path={schema}")
    }

    impl GoPair {
        /// The servers' logs so far.
        pub(super) fn logs(&self) -> String {
            [
                "signer.log",
                "signer.log.err",
                "server.log",
                "server.log.err",
            ]
            .iter()
            .map(|l| {
                let text = std::fs::read_to_string(self._dir.path().join(l)).unwrap_or_default();
                format!("--- {l}\n{text}")
            })
            .collect::<Vec<_>>()
            .join("\n")
        }

        pub(super) async fn start(
            signer_bin: &Path,
            server_bin: &Path,
            signer_schema: &str,
            server_schema: &str,
            (alias, passphrase): (&str, &str),
        ) -> Self {
            let dir = tempfile::tempdir().unwrap();
            let root = dir.path().to_owned();
            let p = |name: &str| root.join(name);
            let ca_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
            let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
            ca_params
                .distinguished_name
                .push(DnType::CommonName, "signet test CA");
            ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            let ca = CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();
            let issue = |usage: ExtendedKeyUsagePurpose, name: &str| {
                let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
                let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
                params.distinguished_name.push(DnType::CommonName, name);
                params.subject_alt_names = vec![SanType::IpAddress([127, 0, 0, 1].into())];
                params.extended_key_usages = vec![usage];
                let cert = params.signed_by(&key, &ca).unwrap();
                std::fs::write(p(&format!("{name}.crt")), cert.pem()).unwrap();
                std::fs::write(p(&format!("{name}.key")), key.serialize_pem()).unwrap();
            };
            std::fs::write(p("ca.crt"), ca.pem()).unwrap();
            issue(ExtendedKeyUsagePurpose::ServerAuth, "signer");
            issue(ExtendedKeyUsagePurpose::ClientAuth, "server");

            let grpc = free_port();
            let http = free_port();
            let path = |n: &str| p(n).display().to_string();
            let signer_json = serde_json::json!({
                "server": {"grpc_addr": format!("127.0.0.1:{grpc}"),
                           "tls_cert_file": path("signer.crt"), "tls_key_file": path("signer.key"),
                           "client_ca_file": path("ca.crt")},
                "logging": {"level": "info"},
                "storage": {"backend": "postgres", "default_alias": alias,
                            "db_url": db_url(signer_schema)},
            });
            let server_json = serde_json::json!({
                "server": {"http_addr": format!("127.0.0.1:{http}")},
                "trust_service": {"type": "remote", "hostname": "127.0.0.1",
                                  "port": grpc.to_string(), "tls_ca_file": path("ca.crt"),
                                  "tls_client_cert": path("server.crt"),
                                  "tls_client_key": path("server.key"),
                                  "key_algorithm": "ecdsa"},
                "storage": {"backend": "postgres", "db_url": db_url(server_schema)},
                "logging": {"level": "info"},
            });
            std::fs::write(p("signer.json"), signer_json.to_string()).unwrap();
            std::fs::write(p("server.json"), server_json.to_string()).unwrap();
            let spawn = |bin: &Path, config: &str, log: &str, env: Option<(String, &str)>| {
                let mut cmd = Command::new(bin);
                cmd.arg("-config")
                    .arg(p(config))
                    .current_dir(&root)
                    .stdin(Stdio::null())
                    .stdout(std::fs::File::create(p(log)).unwrap())
                    .stderr(std::fs::File::create(p(&format!("{log}.err"))).unwrap());
                if let Some((k, v)) = env {
                    cmd.env(k, v);
                }
                cmd.spawn().unwrap()
            };
            let env_var = signet_server::notary_signer::passphrase_env_var(alias);
            let mut pair = Self {
                url: format!("http://127.0.0.1:{http}"),
                children: vec![spawn(
                    signer_bin,
                    "signer.json",
                    "signer.log",
                    Some((env_var, passphrase)),
                )],
                _dir: dir,
            };
            // notary-server dials the signer once at start and backs off after a refusal:
            // start it only when the signer listens.
            let mut listening = false;
            for _ in 0..150 {
                if tokio::net::TcpStream::connect(("127.0.0.1", grpc))
                    .await
                    .is_ok()
                {
                    listening = true;
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            assert!(listening, "notary-signer does not listen:\n{}", pair.logs());
            pair.children
                .push(spawn(server_bin, "server.json", "server.log", None));
            let _ = rustls::crypto::ring::default_provider().install_default();
            let client = reqwest::Client::builder()
                .timeout(Duration::from_secs(2))
                .build()
                .unwrap();
            for _ in 0..150 {
                if let Ok(r) = client
                    .get(format!("{}/_notary_server/health", pair.url))
                    .send()
                    .await
                    && r.status() == 200
                {
                    return pair;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            panic!(
                "the Go notary pair did not become healthy:\n{}",
                pair.logs()
            );
        }
    }
}

/// MySQL/MariaDB: both directions against the MySQL schema, with old-style rows (empty gun
/// and role), on the server at `SIGNET_TEST_MYSQL_URL` (default
/// `mysql://signet:signet@127.0.0.1:3306`). Without one it fails when `CI` is set and skips
/// otherwise.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_notary_signer_database() {
    use sqlx::Connection as _;
    let base = std::env::var("SIGNET_TEST_MYSQL_URL")
        .unwrap_or_else(|_| "mysql://signet:signet@127.0.0.1:3306".to_owned());
    let Ok(Ok(mut admin)) = tokio::time::timeout(
        Duration::from_secs(5),
        sqlx::MySqlConnection::connect(&base),
    )
    .await
    else {
        common::missing::<()>(&format!("no MySQL/MariaDB answers at {base}"));
        return;
    };
    let Some((_schema, store)) = signet_store().await else {
        return;
    };
    let db = common::unique_name("signet_t");
    sqlx::query(&format!("CREATE DATABASE {db}"))
        .execute(&mut admin)
        .await
        .unwrap();
    let outcome = tokio::spawn(mysql_checks(format!("{base}/{db}"), store)).await;
    sqlx::query(&format!("DROP DATABASE {db}"))
        .execute(&mut admin)
        .await
        .unwrap();
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

async fn mysql_checks(url: String, store: Store) {
    let s = scenario();
    let conn = sqlx::mysql::MySqlPoolOptions::new()
        .max_connections(1)
        .connect(&url)
        .await
        .unwrap();
    for sql in [
        include_str!("../../../tests/data/notary-signer-schema/mysql/0001_initial.up.sql"),
        include_str!("../../../tests/data/notary-signer-schema/mysql/0002_gun_role_on_keys.up.sql"),
    ] {
        sqlx::raw_sql(sql).execute(&conn).await.unwrap();
    }
    for r in fixture_keys() {
        // Old rows: no gun or role; and a zero date where Go wrote no time.
        let old = r.key_id == s.old_timestamp || r.key_id == s.timestamp;
        sqlx::query(
            "INSERT INTO private_keys (created_at, updated_at, key_id, encryption_alg, \
             keywrap_alg, algorithm, passphrase_alias, public, private, gun, role, last_used) \
             VALUES (?, ?, ?, ?, ?, ?, ?, UNHEX(?), ?, ?, ?, ?)",
        )
        .bind(r.created_at.as_deref().map(|t| t.replace('T', " ")))
        .bind(r.created_at.as_deref().map(|t| t.replace('T', " ")))
        .bind(&r.key_id)
        .bind(&r.encryption_alg)
        .bind(&r.keywrap_alg)
        .bind(&r.algorithm)
        .bind(&r.passphrase_alias)
        .bind(&r.public)
        .bind(r.private.as_bytes())
        .bind(if old { "" } else { r.gun.as_str() })
        .bind(if old { "" } else { r.role.as_str() })
        .bind(r.last_used.as_deref().map(|t| t.replace('T', " ")))
        .execute(&conn)
        .await
        .unwrap();
    }
    conn.close().await;
    let signer = SignerDb::connect(&url).await.unwrap();
    let report = notary_signer::import(
        &store,
        &kek(),
        &signer,
        &fixture_passphrases(),
        &ImportOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(report.imported().total(), 6, "{report}");
    assert_eq!(
        state_of(&store, ECDSA_GUN, "timestamp", &s.old_timestamp).await,
        Some(KeyState::Retired)
    );
    assert_eq!(
        state_of(&store, ECDSA_GUN, "timestamp", &s.timestamp).await,
        Some(KeyState::Active)
    );

    // Export: the two old rows get their gun and role filled in, a new key is added.
    let server = TestServer::on_store(
        store.clone(),
        CacheSettings::default(),
        HttpSettings::default(),
        None,
    );
    let r = server
        .request(
            Method::POST,
            "/v2/example.com/mysql/_trust/tuf/snapshot.key",
        )
        .await;
    assert_eq!(r.status, 200);
    let report = notary_signer::export(
        &store,
        &kek(),
        &signer,
        &fixture_passphrases(),
        &ExportOptions {
            alias: ALIAS.to_owned(),
            dry_run: false,
        },
    )
    .await
    .unwrap();
    use ExportAction::{Added, Unchanged, Updated};
    assert_eq!(report.tally(Added).total(), 1, "{report}");
    assert_eq!(report.tally(Updated).total(), 2, "{report}");
    assert_eq!(report.tally(Unchanged).total(), 4, "{report}");
    let rows = signer.keys().await.unwrap();
    assert_eq!(rows.len(), 7);
    for r in &rows {
        assert!(!r.gun.is_empty() && !r.role.is_empty(), "{r:?}");
        jwe::decrypt(&r.private, PASSPHRASE.as_bytes()).unwrap();
    }
    let again = notary_signer::export(
        &store,
        &kek(),
        &signer,
        &fixture_passphrases(),
        &ExportOptions {
            alias: ALIAS.to_owned(),
            dry_run: false,
        },
    )
    .await
    .unwrap();
    assert_eq!(again.tally(Unchanged).total(), 7, "{again}");
    signer.close().await;
}
