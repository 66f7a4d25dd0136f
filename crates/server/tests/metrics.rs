//! `/metrics` on both backends: repositories published with chosen expiries show up in the
//! expiry gauges (and leave them when they stop being current or are deleted), the records
//! are rebuilt from the changefeed as for an adopted database, server keys and pools are
//! reported, durations are real histograms, database errors are counted, and the page passes
//! `promtool check metrics` (required under `CI`) and a parser of the text format.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};

use axum::http::{Method, StatusCode};
use chrono::Utc;
use common::meta::*;
use common::publish::{ClientRepo, ServerManaged, server_sign};
use common::{PgSchema, TestServer};
use signet_server::cache::CacheSettings;
use signet_server::http::{DURATION_BUCKETS, HttpSettings};
use signet_server::store::{FileUpdate, Store};
use signet_tuf::metadata::{Envelope, FileMeta, Root, Snapshot, Targets, Timestamp};

const DAY: i64 = 86_400;

fn settings() -> HttpSettings {
    HttpSettings {
        metrics_cache: std::time::Duration::ZERO,
        ..HttpSettings::default()
    }
}

#[tokio::test]
async fn metrics_on_sqlite() {
    let s = TestServer::with_settings(settings(), None).await;
    metrics_report_what_operators_alert_on(s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_on_postgres() {
    let Some(schema) = PgSchema::new().await else {
        return;
    };
    let schema = std::sync::Arc::new(schema);
    let s = TestServer::on_schema(&schema, CacheSettings::default(), settings()).await;
    metrics_report_what_operators_alert_on(s).await;
}

// ---------------------------------------------------------------------------------------
// The text format.

/// One sample: metric name, labels, value.
#[derive(Debug, Clone)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// A parsed `/metrics` page.
#[derive(Debug)]
struct Page {
    types: BTreeMap<String, String>,
    samples: Vec<Sample>,
}

impl Page {
    /// Parses the Prometheus text format strictly enough to catch what `promtool` would:
    /// every sample belongs to a family with one `# TYPE`, names and labels are well formed,
    /// values are numbers, and no series appears twice.
    fn parse(text: &str) -> Self {
        let mut types = BTreeMap::new();
        let mut samples = Vec::new();
        let mut seen = BTreeSet::new();
        let name_ok = |n: &str| {
            !n.is_empty()
                && n.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
                && !n.starts_with(|c: char| c.is_ascii_digit())
        };
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').expect("TYPE line");
                assert!(
                    ["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind),
                    "{line}"
                );
                assert!(
                    types.insert(name.to_owned(), kind.to_owned()).is_none(),
                    "family {name} typed twice"
                );
                continue;
            }
            if line.starts_with('#') {
                continue;
            }
            let (series, value) = line.rsplit_once(' ').expect("sample line");
            let value: f64 = match value {
                "+Inf" => f64::INFINITY,
                "-Inf" => f64::NEG_INFINITY,
                v => v.parse().unwrap_or_else(|_| panic!("value of {line}")),
            };
            let (name, labels) = match series.split_once('{') {
                Some((n, rest)) => (n, rest.strip_suffix('}').expect("closing brace")),
                None => (series, ""),
            };
            assert!(name_ok(name), "metric name {name:?}");
            let mut map = BTreeMap::new();
            if !labels.is_empty() {
                for pair in split_labels(labels) {
                    let (k, v) = pair.split_once('=').expect("label pair");
                    assert!(name_ok(k), "label name {k:?} in {line}");
                    let v = v
                        .strip_prefix('"')
                        .and_then(|v| v.strip_suffix('"'))
                        .expect("quoted label value");
                    assert!(map.insert(k.to_owned(), v.to_owned()).is_none(), "{line}");
                }
            }
            let family = family_of(name, &types);
            assert!(
                types.contains_key(&family),
                "sample {name} has no # TYPE line before it"
            );
            assert!(seen.insert(series.to_owned()), "series {series} twice");
            samples.push(Sample {
                name: name.to_owned(),
                labels: map,
                value,
            });
        }
        Self { types, samples }
    }

    fn find(&self, name: &str, labels: &[(&str, &str)]) -> Vec<&Sample> {
        self.samples
            .iter()
            .filter(|s| {
                s.name == name
                    && labels
                        .iter()
                        .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
            })
            .collect()
    }

    /// The value of the one sample of `name` with `labels` (and maybe others).
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let found = self.find(name, labels);
        assert_eq!(found.len(), 1, "{name} {labels:?}: {found:?}");
        found[0].value
    }

    fn maybe(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let found = self.find(name, labels);
        assert!(found.len() <= 1, "{name} {labels:?}: {found:?}");
        found.first().map(|s| s.value)
    }
}

/// The family a sample name belongs to (`_bucket`, `_sum`, `_count` of histograms).
fn family_of(name: &str, types: &BTreeMap<String, String>) -> String {
    for suffix in ["_bucket", "_sum", "_count"] {
        if let Some(base) = name.strip_suffix(suffix)
            && types
                .get(base)
                .is_some_and(|t| t == "histogram" || t == "summary")
        {
            return base.to_owned();
        }
    }
    name.to_owned()
}

/// Splits `a="x",b="y,z"` at the commas between pairs.
fn split_labels(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (i, c) in s.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => quoted = !quoted,
            ',' if !quoted => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if start < s.len() {
        out.push(&s[start..]);
    }
    out
}

/// Runs `promtool check metrics` on the page when promtool is installed (required under CI).
fn promtool_check(text: &str) {
    let Some(promtool) = common::require_tool("promtool") else {
        return;
    };
    use std::io::Write as _;
    let mut child = std::process::Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run promtool");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("write metrics");
    let out = child.wait_with_output().expect("promtool");
    assert!(
        out.status.success(),
        "promtool check metrics: {}{}\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

async fn scrape(s: &TestServer) -> (String, Page) {
    let r = s.get("/metrics").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.header("content-type")
            .is_some_and(|c| c.starts_with("text/plain; version=0.0.4")),
        "{:?}",
        r.header("content-type")
    );
    let text = r.text();
    let page = Page::parse(&text);
    (text, page)
}

// ---------------------------------------------------------------------------------------
// Repositories with chosen expiries.

/// The expiry, in Unix seconds, that a file states.
fn expiry_of(bytes: &[u8]) -> i64 {
    let v: serde_json::Value = serde_json::from_slice(bytes).unwrap();
    let text = v["signed"]["expires"].as_str().unwrap();
    chrono::DateTime::parse_from_rfc3339(text)
        .unwrap()
        .timestamp()
}

/// What the server should count for one repository: the expiry of each current file, per role
/// class (`root`, `targets`, `delegation`, `snapshot` when client-signed).
#[derive(Debug, Default, Clone)]
struct Current(BTreeMap<&'static str, BTreeMap<String, i64>>);

impl Current {
    fn set(&mut self, class: &'static str, role: &str, bytes: &[u8]) {
        self.0
            .entry(class)
            .or_default()
            .insert(role.to_owned(), expiry_of(bytes));
    }
}

/// A client-managed repository (owners hold the snapshot key) with an optional delegation.
struct Client {
    gun: String,
    repo: ClientRepo,
    delegation_key: std::sync::Arc<signet_signer::PrivateKey>,
    root: Vec<u8>,
    targets: Vec<u8>,
    delegation: Option<Vec<u8>>,
    snapshot: Vec<u8>,
    version: i64,
}

impl Client {
    /// Publishes version 1 with root, targets, delegation (when given) and snapshot expiring
    /// in the given numbers of days.
    async fn publish(
        s: &TestServer,
        gun: &str,
        root_days: i64,
        targets_days: i64,
        delegation_days: Option<i64>,
        snapshot_days: i64,
    ) -> Self {
        let repo = ClientRepo::init(s, gun).await;
        let mut root_doc = Envelope::<Root>::parse(&repo.root).unwrap().into_parts().0;
        root_doc.expires = expires_in(root_days);
        let root = sign(root_doc, &[repo.root_key.signer.as_ref()]);
        let mut c = Self {
            gun: gun.to_owned(),
            repo,
            delegation_key: plain_key(),
            root,
            targets: Vec::new(),
            delegation: None,
            snapshot: Vec::new(),
            version: 0,
        };
        c.build(targets_days, delegation_days, snapshot_days);
        let mut parts: Vec<(&str, &[u8])> = vec![
            ("root", &c.root),
            ("targets", &c.targets),
            ("snapshot", &c.snapshot),
        ];
        if let Some(d) = &c.delegation {
            parts.push(("targets/releases", d));
        }
        let r = s.upload(gun, &parts).await;
        assert_eq!(r.status, StatusCode::OK, "{gun}: {}", r.text());
        c
    }

    /// Builds the next version of targets (delegating when `delegation_days` is given), the
    /// delegation and the snapshot.
    fn build(&mut self, targets_days: i64, delegation_days: Option<i64>, snapshot_days: i64) {
        self.version += 1;
        let mut t = targets_doc(self.version, &["app"]);
        t.expires = expires_in(targets_days);
        if delegation_days.is_some() {
            delegate(
                &mut t,
                "targets/releases",
                self.delegation_key.public_key(),
                &["releases/"],
            );
        }
        self.targets = sign(t, &[self.repo.targets_key.as_ref()]);
        self.delegation = delegation_days.map(|days| {
            let mut d = Targets::new(self.version, expires_in(days));
            d.targets
                .insert("releases/v1".to_owned(), FileMeta::from_bytes(b"v1"));
            sign(d, &[self.delegation_key.as_ref()])
        });
        let mut files: Vec<(&str, &[u8])> = vec![("root", &self.root), ("targets", &self.targets)];
        if let Some(d) = &self.delegation {
            files.push(("targets/releases", d));
        }
        let mut snap = snapshot_doc(self.version, &files);
        snap.expires = expires_in(snapshot_days);
        self.snapshot = sign(snap, &[self.repo.snapshot_key.as_ref()]);
    }

    fn current(&self) -> Current {
        let mut c = Current::default();
        c.set("root", "root", &self.root);
        c.set("targets", "targets", &self.targets);
        if let Some(d) = &self.delegation {
            c.set("delegation", "targets/releases", d);
        }
        c.set("snapshot", "snapshot", &self.snapshot);
        c
    }

    /// Stores the next version straight into the database, as another writer (a Go
    /// notary-server on the same database) would, with a timestamp signed by the server key:
    /// this way files that have already expired, which an upload may not carry, get stored.
    async fn store_next(
        &mut self,
        s: &TestServer,
        targets_days: i64,
        delegation_days: Option<i64>,
        snapshot_days: i64,
    ) {
        self.build(targets_days, delegation_days, snapshot_days);
        let ts = server_sign(
            s,
            &self.gun,
            "timestamp",
            Timestamp::new(
                self.version + 10,
                expires_in(14),
                FileMeta::from_bytes(&self.snapshot),
            ),
        )
        .await;
        let mut updates = vec![
            FileUpdate::new("targets", self.version, self.targets.clone()),
            FileUpdate::new("snapshot", self.version, self.snapshot.clone()),
            FileUpdate::new("timestamp", self.version + 10, ts),
        ];
        if let Some(d) = &self.delegation {
            updates.push(FileUpdate::new("targets/releases", self.version, d.clone()));
        }
        s.store.update_many(&self.gun, &updates).await.unwrap();
    }
}

/// Stores a repository as a Go notary-server left it, adopted without the notary-signer keys:
/// the server holds no timestamp key, and the stored timestamp has expired.
async fn adopted_without_keys(s: &TestServer, gun: &str) -> Current {
    let root_key = RootKey::new(gun);
    let (targets_key, snapshot_key, timestamp_key) = (plain_key(), plain_key(), plain_key());
    let root = sign(
        root_doc(
            1,
            &[&root_key.public],
            targets_key.public_key(),
            snapshot_key.public_key(),
            timestamp_key.public_key(),
        ),
        &[root_key.signer.as_ref()],
    );
    let targets = sign(targets_doc(1, &["x"]), &[targets_key.as_ref()]);
    let snapshot = sign(
        snapshot_doc(1, &[("root", &root), ("targets", &targets)]),
        &[snapshot_key.as_ref()],
    );
    let mut ts = Timestamp::new(1, expires_in(1), FileMeta::from_bytes(&snapshot));
    ts.expires = signet_tuf::metadata::Expires::from_utc(Utc::now() - chrono::Duration::days(1));
    let ts = sign(ts, &[timestamp_key.as_ref()]);
    s.store
        .update_many(
            gun,
            &[
                FileUpdate::new("root", 1, root.clone()),
                FileUpdate::new("targets", 1, targets.clone()),
                FileUpdate::new("snapshot", 1, snapshot.clone()),
                FileUpdate::new("timestamp", 1, ts),
            ],
        )
        .await
        .unwrap();
    let mut current = Current::default();
    current.set("root", "root", &root);
    current.set("targets", "targets", &targets);
    current.set("snapshot", "snapshot", &snapshot);
    current
}

/// The gauges the repositories `current` should produce at `now` (Unix seconds): per class,
/// (expired, within 7 days, within 30 days, earliest).
fn expected(
    current: &[&Current],
    now: i64,
) -> BTreeMap<&'static str, (u64, u64, u64, Option<i64>)> {
    let mut out = BTreeMap::new();
    for class in ["root", "targets", "delegation", "snapshot"] {
        let (mut expired, mut d7, mut d30, mut earliest) = (0, 0, 0, None::<i64>);
        for repo in current {
            let Some(files) = repo.0.get(class).filter(|f| !f.is_empty()) else {
                continue;
            };
            let times: Vec<i64> = files.values().copied().collect();
            expired += u64::from(times.iter().any(|t| *t < now));
            d7 += u64::from(times.iter().any(|t| *t >= now && *t <= now + 7 * DAY));
            d30 += u64::from(times.iter().any(|t| *t >= now && *t <= now + 30 * DAY));
            let min = times.iter().copied().min();
            earliest = match (earliest, min) {
                (Some(x), Some(y)) => Some(x.min(y)),
                (x, y) => x.or(y),
            };
        }
        out.insert(class, (expired, d7, d30, earliest));
    }
    out
}

fn assert_expiry(page: &Page, want: &BTreeMap<&'static str, (u64, u64, u64, Option<i64>)>) {
    for (class, (expired, d7, d30, earliest)) in want {
        let got = |window| {
            page.value(
                "signet_server_metadata_expiry_repositories",
                &[("role", class), ("window", window)],
            )
        };
        assert_eq!(
            (got("expired"), got("7d"), got("30d")),
            (*expired as f64, *d7 as f64, *d30 as f64),
            "{class}"
        );
        assert_eq!(
            page.maybe(
                "signet_server_metadata_earliest_expiry_timestamp_seconds",
                &[("role", class)]
            ),
            earliest.map(|t| t as f64),
            "earliest {class}"
        );
    }
}

// ---------------------------------------------------------------------------------------

async fn metrics_report_what_operators_alert_on(s: TestServer) {
    // Root in 5 days; targets in 3 years; a delegation in 20 days.
    let a = Client::publish(&s, "example.com/metrics/a", 5, 1095, Some(20), 1095).await;
    // Root in 10 years; targets in 3 days; snapshot in 25 days.
    let b = Client::publish(&s, "example.com/metrics/b", 3650, 3, None, 25).await;
    // Everything in 400 days, then an expired targets and a delegation expiring in 2 days
    // stored past the upload checks.
    let mut c = Client::publish(&s, "example.com/metrics/c", 400, 400, Some(400), 400).await;
    c.store_next(&s, -1, Some(2), 6).await;
    // A delegation expiring in 4 days that a later publish removes.
    let mut d = Client::publish(&s, "example.com/metrics/d", 3650, 1095, Some(4), 1095).await;
    // The server holds the snapshot key: an expired snapshot it signed is re-signed when read,
    // so it is not counted.
    let e_gun = "example.com/metrics/e";
    let e = ServerManaged::publish(&s, e_gun, &["x"]).await;
    let mut e_snap = Envelope::<Snapshot>::parse(
        &s.store
            .latest(e_gun, "snapshot")
            .await
            .unwrap()
            .unwrap()
            .data,
    )
    .unwrap()
    .into_parts()
    .0;
    e_snap.version += 1;
    e_snap.expires =
        signet_tuf::metadata::Expires::from_utc(Utc::now() - chrono::Duration::days(2));
    let e_snap = server_sign(&s, e_gun, "snapshot", e_snap).await;
    s.store
        .update_many(e_gun, &[FileUpdate::new("snapshot", 2, e_snap)])
        .await
        .unwrap();
    let mut e_current = Current::default();
    e_current.set("root", "root", &e.root);
    e_current.set("targets", "targets", &e.targets);
    // Adopted without its timestamp key: its expired timestamp is served as it is.
    let f_gun = "example.com/metrics/f";
    let f_current = adopted_without_keys(&s, f_gun).await;
    let served = |p: &Page| {
        p.value(
            "signet_server_expired_metadata_served_total",
            &[("role", "timestamp")],
        )
    };
    let before = served(&scrape(&s).await.1);
    let r = s
        .get(&format!("/v2/{f_gun}/_trust/tuf/timestamp.json"))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(served(&scrape(&s).await.1) > before);
    // A pending key: handed out, not in any root yet.
    let r = s
        .get("/v2/example.com/metrics/b/_trust/tuf/snapshot.key")
        .await;
    assert_eq!(r.status, StatusCode::OK);

    let (text, page) = scrape(&s).await;
    let now = Utc::now().timestamp();
    let mut repos = vec![
        a.current(),
        b.current(),
        c.current(),
        d.current(),
        e_current,
        f_current,
    ];
    let want = expected(&repos.iter().collect::<Vec<_>>(), now);
    // The scenario covers every window.
    for class in ["root", "targets", "delegation", "snapshot"] {
        assert!(want[class].2 > 0 || want[class].0 > 0, "{class} {want:?}");
    }
    assert!(want["targets"].0 > 0 && want["delegation"].1 > 0 && want["snapshot"].2 > 0);
    assert_expiry(&page, &want);
    promtool_check(&text);

    // d drops its delegation: it is no longer current and no longer counted.
    d.build(1095, None, 1095);
    let r = s
        .upload(
            &d.gun,
            &[("targets", &d.targets), ("snapshot", &d.snapshot)],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    repos[3] = d.current();
    let (_, page) = scrape(&s).await;
    let want = expected(&repos.iter().collect::<Vec<_>>(), Utc::now().timestamp());
    assert_expiry(&page, &want);

    // a is deleted: its root (the earliest) is gone.
    let r = s
        .request(Method::DELETE, "/v2/example.com/metrics/a/_trust/tuf/")
        .await;
    assert_eq!(r.status, StatusCode::OK);
    repos.remove(0);
    let (_, page) = scrape(&s).await;
    let want = expected(&repos.iter().collect::<Vec<_>>(), Utc::now().timestamp());
    assert_expiry(&page, &want);
    let backlog = page.value("signet_server_metadata_expiry_backlog_changes", &[]);
    assert!(backlog > 0.0, "nothing has read the changefeed yet");

    // An adopted database: the records are gone, and rebuilt from the changefeed alone.
    wipe_expiry_records(&s.store).await;
    let (_, page) = scrape(&s).await;
    assert_expiry(&page, &expected(&[], Utc::now().timestamp()));
    let mut read = 0;
    loop {
        let done = s.store.sync_expiry(3).await.unwrap();
        read += done.records;
        if done.records < 3 {
            break;
        }
    }
    assert_eq!(
        read as f64,
        page.value("signet_server_metadata_expiry_backlog_changes", &[])
    );
    let (_, page) = scrape(&s).await;
    assert_expiry(
        &page,
        &expected(&repos.iter().collect::<Vec<_>>(), Utc::now().timestamp()),
    );
    assert_eq!(
        page.value("signet_server_metadata_expiry_backlog_changes", &[]),
        0.0
    );
    // Caught up: another pass reads nothing new and changes nothing.
    let again = s.store.sync_expiry(100).await.unwrap();
    assert_eq!((again.records, again.repositories), (0, 0));
    // A write that committed after the cursor moved past its changefeed record (concurrent
    // PostgreSQL transactions): the records just before the cursor are looked at again.
    exec(
        &s.store,
        "DELETE FROM signet_metadata_expiry WHERE gun = 'example.com/metrics/b'",
    )
    .await;
    let again = s.store.sync_expiry(100).await.unwrap();
    assert_eq!((again.records, again.repositories), (0, 1));
    let (_, page) = scrape(&s).await;
    assert_expiry(
        &page,
        &expected(&repos.iter().collect::<Vec<_>>(), Utc::now().timestamp()),
    );

    // b's snapshot key is imported (as `import-notary-signer` does): the server now re-signs
    // that snapshot when it expires, so it stops counting.
    let b_snapshot_key = b.repo.snapshot_key.public_key();
    let imported = signet_server::store::ServerKey {
        gun: b.gun.clone(),
        role: "snapshot".to_owned(),
        key_id: b_snapshot_key.key_id().to_string(),
        algorithm: "ecdsa".to_owned(),
        public_key: serde_json::to_vec(b_snapshot_key).unwrap().into(),
        sealed_private_key: bytes::Bytes::from_static(b"sealed elsewhere"),
        state: signet_server::store::KeyState::Active,
        created_at: Utc::now(),
        last_used: None,
        hsm: None,
    };
    assert_eq!(
        s.store
            .put_server_keys_if_absent(&[imported])
            .await
            .unwrap(),
        [true]
    );
    repos[0].0.remove("snapshot");
    let (_, page) = scrape(&s).await;
    assert_expiry(
        &page,
        &expected(&repos.iter().collect::<Vec<_>>(), Utc::now().timestamp()),
    );

    // Server keys, by role, state and store, as the database holds them.
    let mut keys: BTreeMap<(String, String), u64> = BTreeMap::new();
    for k in s.store.all_server_keys().await.unwrap() {
        *keys.entry((k.role, k.state.to_string())).or_default() += 1;
    }
    assert!(keys.contains_key(&("snapshot".into(), "pending".into())));
    for role in ["timestamp", "snapshot"] {
        for state in ["pending", "active", "retired"] {
            let got = page.value(
                "signet_server_keys",
                &[("role", role), ("state", state), ("store", "sealed")],
            );
            let want = keys.get(&(role.to_owned(), state.to_owned())).copied();
            assert_eq!(got, want.unwrap_or(0) as f64, "{role} {state}");
            for store in ["yubihsm", "yubihsm_and_sealed"] {
                let none = page.value(
                    "signet_server_keys",
                    &[("role", role), ("state", state), ("store", store)],
                );
                assert_eq!(none, 0.0);
            }
        }
    }

    // Pools.
    let pools: BTreeSet<&str> = page
        .find("signet_server_db_pool_max_connections", &[])
        .iter()
        .map(|s| s.labels["pool"].as_str())
        .collect();
    let want_pools: BTreeSet<&str> = s.store.pool_stats().iter().map(|p| p.pool).collect();
    assert_eq!(pools, want_pools);
    for pool in pools {
        let max = page.value("signet_server_db_pool_max_connections", &[("pool", pool)]);
        let in_use = page.value(
            "signet_server_db_pool_connections",
            &[("pool", pool), ("state", "in_use")],
        );
        let idle = page.value(
            "signet_server_db_pool_connections",
            &[("pool", pool), ("state", "idle")],
        );
        assert!(max >= 1.0 && in_use >= 0.0 && idle >= 0.0 && in_use + idle <= max);
    }
    assert_eq!(
        page.value("signet_server_metrics_db_collection_success", &[]),
        1.0
    );

    // Build info.
    let info = page.find("signet_server_build_info", &[]);
    assert_eq!(info.len(), 1);
    assert_eq!(info[0].value, 1.0);
    assert_eq!(info[0].labels["version"], env!("CARGO_PKG_VERSION"));
    assert!(info[0].labels.contains_key("rustc") && info[0].labels.contains_key("target"));

    // Durations are histograms with the documented buckets (no quantiles anywhere).
    assert_eq!(
        page.types["notary_server_http_request_duration_seconds"],
        "histogram"
    );
    assert_eq!(
        page.types["signet_server_publish_phase_seconds"],
        "histogram"
    );
    assert!(
        page.samples
            .iter()
            .all(|s| !s.labels.contains_key("quantile"))
    );
    let uploads = 6.0; // a, b, c, d, e and d's second version
    check_histogram(
        &page,
        "notary_server_http_request_duration_seconds",
        &[("operation", "UpdateTUF"), ("method", "POST")],
        uploads,
    );
    for phase in ["validate", "timestamp", "store"] {
        check_histogram(
            &page,
            "signet_server_publish_phase_seconds",
            &[("phase", phase)],
            uploads,
        );
    }

    // Database errors: a closed pool is counted as `unavailable`, and the database gauges are
    // then left out rather than reported stale.
    let unavailable =
        |p: &Page| p.value("signet_server_db_errors_total", &[("kind", "unavailable")]);
    let before = unavailable(&page);
    for kind in signet_server::store::DB_ERROR_KINDS {
        assert!(
            page.maybe("signet_server_db_errors_total", &[("kind", kind)])
                .is_some()
        );
    }
    s.store.close().await;
    // (a GUN never read, so that no cache answers for the database)
    let r = s
        .get("/v2/example.com/metrics/never/_trust/tuf/root.json")
        .await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    let (text, page) = scrape(&s).await;
    assert!(unavailable(&page) > before);
    assert_eq!(
        page.value("signet_server_metrics_db_collection_success", &[]),
        0.0
    );
    assert!(
        page.find("signet_server_metadata_expiry_repositories", &[])
            .is_empty()
    );
    promtool_check(&text);
}

/// Checks a histogram series: the documented buckets plus `+Inf`, cumulative, `+Inf` equal
/// to `_count`, at least `min_count` observations, and a `_sum`.
fn check_histogram(page: &Page, name: &str, labels: &[(&str, &str)], min_count: f64) {
    let buckets = page.find(&format!("{name}_bucket"), labels);
    let mut bounds: Vec<(f64, f64)> = buckets
        .iter()
        .map(|b| {
            let le = &b.labels["le"];
            let le = if le == "+Inf" {
                f64::INFINITY
            } else {
                le.parse().unwrap()
            };
            (le, b.value)
        })
        .collect();
    bounds.sort_by(|x, y| x.0.total_cmp(&y.0));
    let les: Vec<f64> = bounds.iter().map(|b| b.0).collect();
    let mut want: Vec<f64> = DURATION_BUCKETS.to_vec();
    want.push(f64::INFINITY);
    assert_eq!(les, want, "{name} {labels:?}");
    assert!(
        bounds.windows(2).all(|w| w[0].1 <= w[1].1),
        "{name} {labels:?} buckets are cumulative: {bounds:?}"
    );
    let count = page.value(&format!("{name}_count"), labels);
    assert_eq!(bounds.last().unwrap().1, count, "{name} {labels:?}");
    assert!(
        count >= min_count,
        "{name} {labels:?}: {count} < {min_count}"
    );
    assert!(page.value(&format!("{name}_sum"), labels) > 0.0);
}

/// Empties the expiry records and moves the catch-up cursor back to the start, as a database
/// adopted from a Go notary-server looks after `signet-server migrate`.
async fn wipe_expiry_records(store: &Store) {
    exec(store, "DELETE FROM signet_metadata_expiry").await;
    exec(
        store,
        "UPDATE signet_metadata_expiry_cursor SET change_id = 0",
    )
    .await;
}

/// Runs one SQL statement on the store's database.
async fn exec(store: &Store, sql: &str) {
    match store {
        Store::Postgres(pg) => {
            sqlx::query(sql).execute(pg.pool()).await.unwrap();
        }
        Store::Sqlite(lite) => {
            sqlx::query(sql).execute(lite.pool()).await.unwrap();
        }
    }
}
