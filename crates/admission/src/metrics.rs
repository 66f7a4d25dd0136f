//! Prometheus metrics, in the style of signet-server's: reviews by kind, operation and result
//! with their durations, image decisions by verdict and cache use, the cache's size and
//! invalidations, and whether each trust server's changefeed is being read.

use std::sync::OnceLock;
use std::time::Duration;

use metrics_exporter_prometheus::PrometheusHandle;
use signet_server::http::metrics::install_recorder;

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Bucket upper bounds, in seconds, of the review duration histogram: from 1 ms to 30 s (the
/// longest webhook timeout the API server allows).
pub const DURATION_BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// The process-wide metrics handle; installs the Prometheus recorder on first use (as
/// signet-server does). When another recorder is already installed, the handle renders an
/// empty page.
pub fn handle() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| install_recorder(&DURATION_BUCKETS, describe))
        .clone()
}

fn describe() {
    metrics::describe_counter!(
        "signet_admission_reviews_total",
        "AdmissionReviews answered, by operation, kind and result (allow, deny, error)"
    );
    metrics::describe_histogram!(
        "signet_admission_review_duration_seconds",
        metrics::Unit::Seconds,
        "Time to answer an AdmissionReview, by endpoint (validate, mutate)"
    );
    metrics::describe_counter!(
        "signet_admission_image_decisions_total",
        "Images judged, by verdict (allow, deny, audit_deny) and cache (hit, miss)"
    );
    metrics::describe_gauge!(
        "signet_admission_cache_entries",
        "Decisions held in the cache"
    );
    metrics::describe_counter!(
        "signet_admission_cache_invalidations_total",
        "Cached decisions dropped because the changefeed showed a change to their repository, \
         or because a trust server's changefeed could not be read"
    );
    metrics::counter!("signet_admission_cache_invalidations_total").increment(0);
    metrics::describe_gauge!(
        "signet_admission_changefeed_up",
        "1 while the trust server's changefeed is read, else 0"
    );
    metrics::describe_gauge!(
        "signet_admission_build_info",
        "Always 1; the label says which build of signet runs the webhook"
    );
    metrics::gauge!("signet_admission_build_info", "version" => env!("CARGO_PKG_VERSION")).set(1.0);
}

/// Records one answered review.
pub(crate) fn review(
    endpoint: &'static str,
    operation: &str,
    kind: &str,
    result: &'static str,
    took: Duration,
) {
    metrics::counter!(
        "signet_admission_reviews_total",
        "operation" => operation.to_owned(),
        "kind" => kind.to_owned(),
        "result" => result,
    )
    .increment(1);
    metrics::histogram!("signet_admission_review_duration_seconds", "endpoint" => endpoint)
        .record(took.as_secs_f64());
}

/// Records one image decision.
pub(crate) fn decision(verdict: &'static str, hit: bool) {
    metrics::counter!(
        "signet_admission_image_decisions_total",
        "verdict" => verdict,
        "cache" => if hit { "hit" } else { "miss" },
    )
    .increment(1);
}

/// Records the cache's size.
pub(crate) fn cache_entries(n: usize) {
    metrics::gauge!("signet_admission_cache_entries").set(n as f64);
}

/// Records decisions dropped from the cache.
pub(crate) fn invalidated(n: usize) {
    metrics::counter!("signet_admission_cache_invalidations_total").increment(n as u64);
}

/// Records whether `server`'s changefeed is read.
pub(crate) fn changefeed_up(server: &str, up: bool) {
    metrics::gauge!("signet_admission_changefeed_up", "server" => server.to_owned()).set(if up {
        1.0
    } else {
        0.0
    });
}
