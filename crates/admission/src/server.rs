//! Serving the webhook: the HTTPS listener (signet-server's, with its connection limits),
//! the review endpoints, health, readiness and metrics, the changefeed watchers, and a
//! bounded graceful shutdown.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use metrics_exporter_prometheus::PrometheusHandle;
use signet_client::policy::{Evaluator, Policy};
use signet_client::registry::RegistryOptions;
use signet_server::config::TlsSettings;
use signet_server::listener::ConnectionSettings;

use crate::cache::DecisionCache;
use crate::changefeed::{self, Readiness};
use crate::error::AdmissionError;
use crate::metrics;
use crate::webhook::{Endpoint, Webhook};

/// How the webhook runs.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The trust policy file.
    pub policy: PathBuf,
    /// The serving certificate and key; with a client CA, the API server must present a
    /// certificate it signed.
    pub tls: TlsSettings,
    /// Where to listen.
    pub listen: SocketAddr,
    /// How many decisions the cache keeps (0: none).
    pub cache_size: usize,
    /// How long a cached decision is used at most.
    pub cache_ttl: Duration,
    /// How often each trust server's changefeed is read.
    pub changefeed_interval: Duration,
    /// How long a review may take before it is denied.
    pub review_timeout: Duration,
    /// Docker's configuration directory: registry credentials and TLS files, and trust
    /// server TLS files for rules that name no CA.
    pub docker_config_dir: PathBuf,
    /// The largest review body accepted.
    pub max_body_bytes: usize,
    /// Connection limits.
    pub connections: ConnectionSettings,
    /// How long requests in flight may finish after SIGTERM.
    pub shutdown_grace: Duration,
}

impl Settings {
    /// The defaults for everything but the policy, the TLS files and docker's directory.
    pub fn new(policy: PathBuf, tls: TlsSettings, docker_config_dir: PathBuf) -> Self {
        Self {
            policy,
            tls,
            listen: SocketAddr::from(([0, 0, 0, 0], 8443)),
            cache_size: 10_000,
            cache_ttl: Duration::from_secs(300),
            changefeed_interval: Duration::from_secs(5),
            review_timeout: Duration::from_secs(8),
            docker_config_dir,
            max_body_bytes: 8 << 20,
            connections: ConnectionSettings::default(),
            shutdown_grace: Duration::from_secs(10),
        }
    }

    fn check(&self) -> Result<(), AdmissionError> {
        let positive = |setting: &'static str, value: Duration| {
            if value.is_zero() {
                Err(AdmissionError::Setting {
                    setting,
                    reason: "must be more than 0".to_owned(),
                })
            } else {
                Ok(())
            }
        };
        positive("--cache-ttl", self.cache_ttl)?;
        positive("--changefeed-interval", self.changefeed_interval)?;
        positive("--review-timeout", self.review_timeout)?;
        if self.review_timeout > Duration::from_secs(30) {
            return Err(AdmissionError::Setting {
                setting: "--review-timeout",
                reason: "the API server waits 30 s at most for a webhook: use 30 or less"
                    .to_owned(),
            });
        }
        Ok(())
    }
}

/// What the handlers share.
#[derive(Debug)]
pub struct AppState {
    webhook: Webhook,
    readiness: Arc<Readiness>,
    metrics: PrometheusHandle,
}

impl AppState {
    /// The state of a webhook and the readiness of its trust servers.
    pub fn new(webhook: Webhook, readiness: Arc<Readiness>) -> Self {
        Self {
            webhook,
            readiness,
            metrics: metrics::handle(),
        }
    }
}

/// The routes: `POST /validate`, `POST /mutate`, `GET /healthz`, `GET /readyz`,
/// `GET /metrics`.
pub fn router(state: Arc<AppState>, max_body_bytes: usize) -> Router {
    Router::new()
        .route("/validate", post(validate))
        .route("/mutate", post(mutate))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(render_metrics))
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .with_state(state)
}

async fn validate(State(state): State<Arc<AppState>>, body: Bytes) -> Response {
    reviewed(&state, &body, Endpoint::Validate).await
}

async fn mutate(State(state): State<Arc<AppState>>, body: Bytes) -> Response {
    reviewed(&state, &body, Endpoint::Mutate).await
}

async fn reviewed(state: &AppState, body: &[u8], endpoint: Endpoint) -> Response {
    match state.webhook.review(body, endpoint).await {
        Ok(review) => axum::Json(review).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn healthz() -> &'static str {
    "ok"
}

async fn readyz(State(state): State<Arc<AppState>>) -> Response {
    let missing = state.readiness.not_reached();
    if missing.is_empty() {
        (StatusCode::OK, "ready").into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(serde_json::json!({
                "ready": false,
                "reason": "the changefeed of these trust servers was not read recently",
                "servers": missing,
            })),
        )
            .into_response()
    }
}

async fn render_metrics(State(state): State<Arc<AppState>>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
        .into_response()
}

/// Runs the webhook until SIGINT or SIGTERM.
///
/// # Errors
///
/// [`AdmissionError`] when the policy, the registry configuration or a setting is unusable,
/// or when listening fails.
pub async fn run(settings: Settings) -> Result<(), AdmissionError> {
    let _ = rustls_provider();
    settings.check()?;
    // The recorder before anything records: the changefeed watchers set their gauges once per
    // change of state, and a value recorded before the recorder exists is lost.
    let _ = metrics::handle();
    let policy = Policy::load(&settings.policy, chrono::Utc::now()).map_err(|source| {
        AdmissionError::Policy {
            path: settings.policy.clone(),
            source,
        }
    })?;
    let registry = RegistryOptions::from_docker_config_dir(&settings.docker_config_dir)
        .map_err(|e| AdmissionError::Registry(e.to_string()))?;
    let evaluator = Evaluator::new(registry).with_docker_config_dir(&settings.docker_config_dir);
    let cache = Arc::new(DecisionCache::new(settings.cache_size, settings.cache_ttl));
    let readiness = Arc::new(Readiness::new(
        changefeed::servers(&policy).into_iter().map(|(s, _)| s),
        settings.changefeed_interval,
    ));
    let watchers = changefeed::spawn(
        &policy,
        &evaluator,
        &cache,
        &readiness,
        settings.changefeed_interval,
    )?;
    let rules = policy.rules().len();
    let webhook = Webhook::new(policy, evaluator, cache, settings.review_timeout);
    let app = router(
        Arc::new(AppState::new(webhook, readiness)),
        settings.max_body_bytes,
    );

    let listener = std::net::TcpListener::bind(settings.listen).map_err(|source| {
        AdmissionError::Serve(signet_server::error::RunError::Listen {
            addr: settings.listen,
            source,
        })
    })?;
    let addr = listener.local_addr().unwrap_or(settings.listen);
    tracing::info!(
        rules,
        cache_size = settings.cache_size,
        "listening on https://{addr}"
    );
    let handle = axum_server::Handle::new();
    let h = handle.clone();
    let grace = settings.shutdown_grace;
    let forced = Arc::new(tokio::sync::Notify::new());
    let force = Arc::clone(&forced);
    tokio::spawn(async move {
        signet_server::server::shutdown_signal().await;
        tracing::info!(grace_secs = grace.as_secs(), "shutting down");
        h.graceful_shutdown(Some(grace));
        tokio::time::sleep(grace.saturating_add(Duration::from_secs(2))).await;
        tracing::warn!("connections still open after the grace period; stopping anyway");
        force.notify_one();
    });
    let served = tokio::select! {
        served = signet_server::server::serve_with(
            listener,
            app,
            Some(&settings.tls),
            handle,
            settings.connections,
        ) => served.map_err(AdmissionError::from),
        () = forced.notified() => Ok(()),
    };
    for task in watchers {
        task.abort();
    }
    served
}

/// Installs ring as the process's rustls provider (the HTTP clients name theirs; this covers
/// anything that asks for the default).
fn rustls_provider() -> bool {
    rustls::crypto::ring::default_provider()
        .install_default()
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt as _;

    /// A webhook whose one rule names a trust server nothing listens on.
    fn app() -> Router {
        let text = r#"version = 1
[[rule]]
image = "registry.example/team/*"
server = "http://127.0.0.1:1"
root = { key_ids = ["7b6b5d5c4c3b2a190817161514131211100f0e0d0c0b0a090807060504030201"] }
all = ["targets"]
"#;
        let policy = Policy::parse(
            text,
            std::path::Path::new("policy.toml"),
            std::path::Path::new("."),
            chrono::Utc::now(),
        )
        .unwrap();
        let servers = changefeed::servers(&policy)
            .into_iter()
            .map(|(s, _)| s)
            .collect::<Vec<_>>();
        let cache = Arc::new(DecisionCache::new(10, Duration::from_secs(60)));
        let webhook = Webhook::new(
            policy,
            Evaluator::new(RegistryOptions::default()),
            cache,
            Duration::from_secs(5),
        );
        let readiness = Arc::new(Readiness::new(servers, Duration::from_secs(1)));
        router(Arc::new(AppState::new(webhook, readiness)), 1 << 20)
    }

    async fn call(app: &Router, method: &str, path: &str, body: &str) -> (StatusCode, String) {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header("content-type", "application/json")
            .body(Body::from(body.to_owned()))
            .unwrap();
        let response = app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        (status, String::from_utf8_lossy(&bytes).into_owned())
    }

    fn pod_review(operation: &str, image: &str) -> String {
        serde_json::json!({
            "apiVersion": "admission.k8s.io/v1",
            "kind": "AdmissionReview",
            "request": {
                "uid": "7f0b2891-916f-4ed6-b7cd-27bff1815a8c",
                "kind": {"group": "", "version": "v1", "kind": "Pod"},
                "operation": operation,
                "namespace": "apps",
                "name": "web",
                "object": {"spec": {"containers": [{"name": "app", "image": image}]}},
            }
        })
        .to_string()
    }

    #[tokio::test]
    async fn reviews_are_answered_and_fail_closed() {
        let app = app();
        let (status, body) = call(
            &app,
            "POST",
            "/validate",
            &pod_review("CREATE", "registry.example/team/app:1"),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        let review: serde_json::Value = serde_json::from_str(&body).unwrap();
        let response = &review["response"];
        assert_eq!(response["uid"], "7f0b2891-916f-4ed6-b7cd-27bff1815a8c");
        assert_eq!(response["allowed"], false);
        let message = response["status"]["message"].as_str().unwrap();
        assert!(
            message.starts_with("signet trust policy denies Pod apps/web: image \"registry.example/team/app:1\" (spec.containers[0] \"app\"): trust data:"),
            "{message}"
        );

        let (_, body) = call(
            &app,
            "POST",
            "/mutate",
            &pod_review("CREATE", "other.example/x:1"),
        )
        .await;
        assert!(
            body.contains("no rule of the policy matches the image"),
            "{body}"
        );

        let (_, body) = call(
            &app,
            "POST",
            "/mutate",
            &pod_review("DELETE", "other.example/x:1"),
        )
        .await;
        let review: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(review["response"]["allowed"], true);

        let (status, body) = call(&app, "POST", "/validate", "{\"apiVersion\":1}").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(
            body.starts_with("the body is not an AdmissionReview"),
            "{body}"
        );
    }

    #[tokio::test]
    async fn health_readiness_and_metrics() {
        let app = app();
        assert_eq!(
            call(&app, "GET", "/healthz", "").await,
            (StatusCode::OK, "ok".to_owned())
        );
        let (status, body) = call(&app, "GET", "/readyz", "").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(body.contains("http://127.0.0.1:1"), "{body}");
        call(
            &app,
            "POST",
            "/validate",
            &pod_review("CREATE", "other.example/x:1"),
        )
        .await;
        let (status, body) = call(&app, "GET", "/metrics", "").await;
        assert_eq!(status, StatusCode::OK);
        for family in [
            "signet_admission_reviews_total",
            "signet_admission_review_duration_seconds",
            "signet_admission_image_decisions_total",
            "signet_admission_build_info",
        ] {
            assert!(body.contains(family), "{family} missing from {body}");
        }
    }
}
