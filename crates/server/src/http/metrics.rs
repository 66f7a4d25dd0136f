//! Prometheus metrics: request counts and durations per operation, method and status, publish
//! phases, database errors, and, collected from the database when `/metrics` is scraped, the
//! expiry of every repository's metadata, the server-held keys and the connection pools.
//!
//! Counters and histograms live in the process-wide recorder of the `metrics` crate. The
//! database-derived gauges belong to one server (one store) and are rendered by
//! [`DbCollector`] after them, from queries whose result is reused for a short time (every
//! replica answers for the whole database, so scrapes of several replicas agree).

use std::fmt::Write as _;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use axum::http::{Method, StatusCode};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use crate::store::{
    DB_ERROR_KINDS, ExpiryRole, ExpirySummary, KeyState, PoolStats, ServerKeyCount, Store,
};

/// The handle that renders the metrics text.
pub type MetricsHandle = PrometheusHandle;

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Bucket upper bounds, in seconds, of every histogram (request durations, publish phases):
/// from 5 ms to the default request timeout of 60 s.
pub const DURATION_BUCKETS: [f64; 13] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

/// How long the database part of a scrape may take before it is given up (and reported with
/// `signet_server_metrics_db_collection_success 0`).
const COLLECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The roles of `signet_server_expired_metadata_served_total`.
const SERVED_EXPIRED_ROLES: [&str; 2] = ["timestamp", "snapshot"];

/// The process-wide metrics handle; installs the Prometheus recorder on first use. When
/// another recorder is already installed, the handle renders an empty page.
pub fn metrics_handle() -> MetricsHandle {
    HANDLE
        .get_or_init(|| install_recorder(&DURATION_BUCKETS, describe))
        .clone()
}

/// Installs the process-wide Prometheus recorder, with `buckets` for every histogram, and
/// then runs `describe` (the families' help texts and initial values). When another recorder
/// is already installed, the handle renders an empty page. Call it once per process.
pub fn install_recorder(buckets: &[f64], describe: fn()) -> PrometheusHandle {
    let builder = match PrometheusBuilder::new().set_buckets(buckets) {
        Ok(b) => b,
        Err(_) => PrometheusBuilder::new(),
    };
    match builder.install_recorder() {
        Ok(h) => {
            describe();
            h
        }
        Err(_) => PrometheusBuilder::new().build_recorder().handle(),
    }
}

fn describe() {
    metrics::describe_counter!(
        "notary_server_http_requests_total",
        "HTTP requests by operation, method and status code"
    );
    metrics::describe_histogram!(
        "notary_server_http_request_duration_seconds",
        metrics::Unit::Seconds,
        "HTTP request durations by operation and method"
    );
    metrics::describe_histogram!(
        "signet_server_publish_phase_seconds",
        metrics::Unit::Seconds,
        "Time an accepted upload spent in each phase: validate, snapshot (signing one), \
         timestamp (signing one), store (the transaction, key use included)"
    );
    metrics::describe_counter!(
        "signet_server_db_errors_total",
        "Errors the database or its connection pool reported, by kind"
    );
    for kind in DB_ERROR_KINDS {
        metrics::counter!("signet_server_db_errors_total", "kind" => kind).increment(0);
    }
    metrics::describe_counter!(
        "signet_server_expired_metadata_served_total",
        "Expired timestamps or snapshots served because the server holds no key to re-sign them"
    );
    for role in SERVED_EXPIRED_ROLES {
        metrics::counter!("signet_server_expired_metadata_served_total", "role" => role)
            .increment(0);
    }
    metrics::describe_gauge!(
        "signet_server_build_info",
        "Always 1; the labels say which build of signet-server runs"
    );
    metrics::gauge!(
        "signet_server_build_info",
        "version" => env!("CARGO_PKG_VERSION"),
        "rustc" => env!("SIGNET_BUILD_RUSTC"),
        "target" => env!("SIGNET_BUILD_TARGET"),
    )
    .set(1.0);
}

/// Records one finished request.
pub(crate) fn record(operation: &'static str, method: &Method, status: StatusCode, took: Duration) {
    let method = method.as_str().to_owned();
    metrics::counter!(
        "notary_server_http_requests_total",
        "operation" => operation,
        "method" => method.clone(),
        "code" => status.as_u16().to_string(),
    )
    .increment(1);
    metrics::histogram!(
        "notary_server_http_request_duration_seconds",
        "operation" => operation,
        "method" => method,
    )
    .record(took.as_secs_f64());
}

/// What the database said at the last collection.
#[derive(Debug, Clone)]
struct Collected {
    expiry: ExpirySummary,
    backlog: u64,
    keys: Vec<ServerKeyCount>,
}

/// The database-derived gauges of one server, collected when `/metrics` is scraped and reused
/// for `ttl` (concurrent scrapes wait for one collection).
#[derive(Debug)]
pub(crate) struct DbCollector {
    ttl: Duration,
    last: tokio::sync::Mutex<Option<(Instant, Option<Collected>)>>,
}

impl DbCollector {
    /// A collector that reuses a collection for `ttl` (zero: collects on every scrape).
    pub(crate) fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            last: tokio::sync::Mutex::new(None),
        }
    }

    /// Appends the database-derived metrics of `store` to `out`, in the text format.
    pub(crate) async fn render(&self, store: &Store, out: &mut String) {
        // Before the queries below take a connection of their own.
        let pool_stats = store.pool_stats();
        let collected = {
            let mut last = self.last.lock().await;
            match &*last {
                Some((at, c)) if !self.ttl.is_zero() && at.elapsed() < self.ttl => c.clone(),
                _ => {
                    let c = collect(store).await;
                    *last = Some((Instant::now(), c.clone()));
                    c
                }
            }
        };
        if !out.is_empty() && !out.ends_with('\n') {
            out.push('\n');
        }
        pools(&pool_stats, out);
        family(
            out,
            "signet_server_metrics_db_collection_success",
            "gauge",
            "1 when the database answered the queries of the expiry and key gauges at the last \
             collection, else 0 (and those gauges are left out)",
        );
        sample(
            out,
            "signet_server_metrics_db_collection_success",
            &[],
            u64::from(collected.is_some()),
        );
        if let Some(c) = collected {
            expiry(&c.expiry, c.backlog, out);
            keys(&c.keys, out);
        }
    }
}

async fn collect(store: &Store) -> Option<Collected> {
    let queries = async {
        Ok::<_, crate::store::StoreError>(Collected {
            expiry: store.expiry_summary(chrono::Utc::now()).await?,
            backlog: store.expiry_backlog().await?,
            keys: store.server_key_counts().await?,
        })
    };
    match tokio::time::timeout(COLLECT_TIMEOUT, queries).await {
        Ok(Ok(c)) => Some(c),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "metrics: the database gauges could not be collected");
            None
        }
        Err(_) => {
            tracing::warn!(
                timeout_secs = COLLECT_TIMEOUT.as_secs(),
                "metrics: the database gauges took too long to collect"
            );
            None
        }
    }
}

/// `# HELP` and `# TYPE` of a family.
fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// One sample; label values are fixed words (no escaping needed).
fn sample(out: &mut String, name: &str, labels: &[(&str, &str)], value: impl std::fmt::Display) {
    out.push_str(name);
    if !labels.is_empty() {
        out.push('{');
        for (i, (k, v)) in labels.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let _ = write!(out, "{k}=\"{v}\"");
        }
        out.push('}');
    }
    let _ = writeln!(out, " {value}");
}

fn pools(stats: &[PoolStats], out: &mut String) {
    family(
        out,
        "signet_server_db_pool_connections",
        "gauge",
        "Open database connections by pool and state (in_use: handed to a query or \
         transaction; idle: open and free)",
    );
    for p in stats {
        sample(
            out,
            "signet_server_db_pool_connections",
            &[("pool", p.pool), ("state", "in_use")],
            p.in_use(),
        );
        sample(
            out,
            "signet_server_db_pool_connections",
            &[("pool", p.pool), ("state", "idle")],
            p.idle,
        );
    }
    family(
        out,
        "signet_server_db_pool_max_connections",
        "gauge",
        "The most connections each database pool opens",
    );
    for p in stats {
        sample(
            out,
            "signet_server_db_pool_max_connections",
            &[("pool", p.pool)],
            p.max,
        );
    }
}

fn expiry(summary: &ExpirySummary, backlog: u64, out: &mut String) {
    family(
        out,
        "signet_server_metadata_expiry_repositories",
        "gauge",
        "Repositories whose current metadata of a role class (root, targets, delegation: any \
         delegated role, snapshot: when its owners hold the key) has expired (window=expired), \
         or has not and expires within 7 days (7d) or within 30 days (30d, 7d included)",
    );
    for (role, c) in &summary.by_role {
        for (window, n) in [
            ("expired", c.expired),
            ("7d", c.within_7d),
            ("30d", c.within_30d),
        ] {
            sample(
                out,
                "signet_server_metadata_expiry_repositories",
                &[("role", role.as_str()), ("window", window)],
                n,
            );
        }
    }
    family(
        out,
        "signet_server_metadata_earliest_expiry_timestamp_seconds",
        "gauge",
        "The earliest expiry (Unix seconds) of the current metadata of a role class over every \
         repository; absent when no repository has such metadata",
    );
    for role in ExpiryRole::ALL {
        if let Some(t) = summary.by_role.get(&role).and_then(|c| c.earliest) {
            sample(
                out,
                "signet_server_metadata_earliest_expiry_timestamp_seconds",
                &[("role", role.as_str())],
                t,
            );
        }
    }
    family(
        out,
        "signet_server_metadata_expiry_backlog_changes",
        "gauge",
        "Changefeed records the expiry catch-up has not read yet: writes made through \
         signet are counted at once, writes made past it (another notary-server, an adopted \
         database) once the catch-up, every 30 s, has read their records",
    );
    sample(
        out,
        "signet_server_metadata_expiry_backlog_changes",
        &[],
        backlog,
    );
}

/// The `store` label of a server key: where its private key is held.
fn custody(on_device: bool, sealed: bool) -> &'static str {
    match (on_device, sealed) {
        (true, true) => "yubihsm_and_sealed",
        (true, false) => "yubihsm",
        (false, true) => "sealed",
        (false, false) => "none",
    }
}

fn keys(counts: &[ServerKeyCount], out: &mut String) {
    let states = [KeyState::Pending, KeyState::Active, KeyState::Retired];
    let stores = ["sealed", "yubihsm", "yubihsm_and_sealed"];
    // Every combination of the usual labels, zeros included, then any other.
    let mut totals: std::collections::BTreeMap<(&str, &str, &str), u64> = SERVED_EXPIRED_ROLES
        .into_iter()
        .flat_map(|role| {
            states.into_iter().flat_map(move |state| {
                stores
                    .into_iter()
                    .map(move |store| ((role, state.as_str(), store), 0))
            })
        })
        .collect();
    for c in counts {
        let role = SERVED_EXPIRED_ROLES
            .into_iter()
            .find(|r| *r == c.role)
            .unwrap_or("other");
        let state = c
            .state
            .parse::<KeyState>()
            .map_or("unknown", KeyState::as_str);
        *totals
            .entry((role, state, custody(c.on_device, c.sealed)))
            .or_default() += c.count;
    }
    family(
        out,
        "signet_server_keys",
        "gauge",
        "Server-held private keys by role, state (pending: handed out, not yet in the root; \
         active: signing; retired) and store (sealed under the key-encryption key, on the \
         YubiHSM 2, or both)",
    );
    for ((role, state, store), n) in totals {
        sample(
            out,
            "signet_server_keys",
            &[("role", role), ("state", state), ("store", store)],
            n,
        );
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn samples_and_families() {
        let mut out = String::new();
        family(&mut out, "m", "gauge", "help");
        sample(&mut out, "m", &[], 1);
        sample(&mut out, "m", &[("a", "x"), ("b", "y")], 2);
        assert_eq!(
            out,
            "# HELP m help\n# TYPE m gauge\nm 1\nm{a=\"x\",b=\"y\"} 2\n"
        );
    }

    #[test]
    fn key_gauges_list_every_usual_combination() {
        let mut out = String::new();
        keys(
            &[
                ServerKeyCount {
                    role: "timestamp".into(),
                    state: "active".into(),
                    on_device: true,
                    sealed: false,
                    count: 3,
                },
                ServerKeyCount {
                    role: "weird".into(),
                    state: "odd".into(),
                    on_device: false,
                    sealed: true,
                    count: 1,
                },
            ],
            &mut out,
        );
        let samples: Vec<&str> = out.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(samples.len(), 2 * 3 * 3 + 1, "{out}");
        assert!(out.contains(
            "signet_server_keys{role=\"timestamp\",state=\"active\",store=\"yubihsm\"} 3\n"
        ));
        assert!(
            out.contains(
                "signet_server_keys{role=\"other\",state=\"unknown\",store=\"sealed\"} 1\n"
            )
        );
    }

    #[test]
    fn buckets_are_increasing() {
        assert!(DURATION_BUCKETS.windows(2).all(|w| w[0] < w[1]));
    }
}
