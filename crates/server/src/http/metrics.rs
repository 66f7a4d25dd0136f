//! Prometheus metrics: request counts and durations per operation, method and status.

use std::sync::OnceLock;
use std::time::Duration;

use axum::http::{Method, StatusCode};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// The handle that renders the metrics text.
pub type MetricsHandle = PrometheusHandle;

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// The process-wide metrics handle; installs the Prometheus recorder on first use. When
/// another recorder is already installed, the handle renders an empty page.
pub fn metrics_handle() -> MetricsHandle {
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new();
            match builder.install_recorder() {
                Ok(h) => {
                    describe();
                    h
                }
                Err(_) => PrometheusBuilder::new().build_recorder().handle(),
            }
        })
        .clone()
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
