//! The HTTP API: the Notary routes on axum.
//!
//! One fallback handler receives every request, matches the path by hand
//! ([`route::match_route`]), applies the GUN checks, the auth check and the cache headers in
//! the order of the Go server, and calls the handler of the route.

pub mod error;
mod handlers;
mod headers;
pub mod metrics;
mod trusted_by;
pub mod ui;
pub mod upload;

pub mod route;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderName, header};
use axum::response::{IntoResponse, Response};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::auth::{Access, TokenAuth};
use crate::error::ServerError;
use crate::service::MetadataService;
use route::{Route, UiPage};
use signet_tuf::notary::gun::MAX_GUN_LEN;

pub use metrics::{DURATION_BUCKETS, MetricsHandle, metrics_handle};

/// Settings of the HTTP layer.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// Largest accepted request body, in bytes.
    pub max_body_bytes: usize,
    /// `max-age` for current metadata (`<role>.json`); 0 means no caching.
    pub current_max_age: u32,
    /// `max-age` for metadata by checksum or version; 0 means no caching.
    pub consistent_max_age: u32,
    /// When not empty, only GUNs starting with one of these prefixes are served.
    pub gun_prefixes: Vec<String>,
    /// How long one request may take before it is answered with 503.
    pub request_timeout: Duration,
    /// How long `/metrics` reuses what it read from the database (metadata expiry, server
    /// keys) before reading it again; zero reads it on every scrape.
    pub metrics_cache: Duration,
    /// Whether the read-only web view is served at `/ui/` (otherwise its paths are 404s).
    pub ui_enabled: bool,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            max_body_bytes: 64 * 1024 * 1024,
            current_max_age: 300,
            consistent_max_age: 2_592_000,
            gun_prefixes: Vec::new(),
            request_timeout: Duration::from_secs(60),
            metrics_cache: Duration::from_secs(10),
            ui_enabled: false,
        }
    }
}

/// Everything a request handler needs. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<StateInner>,
}

struct StateInner {
    repo: MetadataService,
    settings: HttpSettings,
    auth: Option<TokenAuth>,
    metrics: MetricsHandle,
    db_metrics: metrics::DbCollector,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("settings", &self.inner.settings)
            .field("auth", &self.inner.auth.is_some())
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// State for a router over `repo`.
    pub fn new(repo: MetadataService, settings: HttpSettings, auth: Option<TokenAuth>) -> Self {
        let db_metrics = metrics::DbCollector::new(settings.metrics_cache);
        Self {
            inner: Arc::new(StateInner {
                repo,
                settings,
                auth,
                metrics: metrics_handle(),
                db_metrics,
            }),
        }
    }

    /// The repository service.
    pub fn repo(&self) -> &MetadataService {
        &self.inner.repo
    }

    /// The HTTP settings.
    pub fn settings(&self) -> &HttpSettings {
        &self.inner.settings
    }
}

static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The complete router: every Notary route, with request IDs, tracing and a timeout.
///
/// The request span names the client's address (`client`) when the router is served with
/// `ConnectInfo<SocketAddr>` (as [`crate::server::serve`] does): the peer of the connection,
/// which is the proxy's address behind a reverse proxy (`X-Forwarded-For` is not trusted).
pub fn router(state: AppState) -> Router {
    let timeout = state.settings().request_timeout;
    Router::new()
        .fallback(dispatch)
        .with_state(state)
        .layer(TimeoutLayer::with_status_code(
            error::TIMED_OUT_STATUS,
            timeout,
        ))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID.clone()))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request| {
            let id = req
                .headers()
                .get(&REQUEST_ID)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("-");
            let client = req
                .extensions()
                .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                .map_or_else(|| "-".to_owned(), |c| c.0.to_string());
            tracing::info_span!(
                "request",
                id = %id,
                client = %client,
                method = %req.method(),
                path = %req.uri().path(),
            )
        }))
        .layer(SetRequestIdLayer::new(REQUEST_ID.clone(), MakeRequestUuid))
}

/// Which status a GUN check failure gets on this route.
fn gun_check(route: &Route, settings: &HttpSettings) -> Result<(), ServerError> {
    let Some(gun) = route.gun() else {
        return Ok(());
    };
    let is_upload = matches!(route, Route::Update { .. });
    let writes = matches!(
        route,
        Route::Update { .. }
            | Route::GetKey { .. }
            | Route::RotateKey { .. }
            | Route::Delete { .. }
    );
    if gun.len() > MAX_GUN_LEN {
        return Err(if writes {
            ServerError::InvalidGun {
                gun: gun.to_owned(),
                reason: format!("GUNs are limited to {MAX_GUN_LEN} bytes"),
            }
        } else {
            ServerError::not_found(gun, "")
        });
    }
    let prefixes = &settings.gun_prefixes;
    if !prefixes.is_empty() && !prefixes.iter().any(|p| gun.starts_with(p.as_str())) {
        return Err(if is_upload {
            ServerError::InvalidGun {
                gun: gun.to_owned(),
                reason: format!("Require GUNs with prefix: [{}]", prefixes.join(" ")),
            }
        } else {
            ServerError::not_found(gun, "")
        });
    }
    Ok(())
}

/// The accesses a route needs when token auth is on (`None`: never authenticated).
fn required_access(route: &Route) -> Option<Vec<Access>> {
    let repo = |gun: &str, actions: &[&str]| {
        actions
            .iter()
            .map(|a| Access::repository(gun, a))
            .collect::<Vec<_>>()
    };
    Some(match route {
        Route::Health | Route::Metrics | Route::Redirect(_) | Route::MethodNotAllowed => {
            return None;
        }
        // The style sheet holds no data; the list shows only what the token may pull
        // (`ui::page` asks the token).
        Route::Ui(UiPage::Bare | UiPage::Style | UiPage::List) => return None,
        Route::Ui(UiPage::Repository { gun }) => repo(gun, &["pull"]),
        Route::GetByChecksum { gun, .. }
        | Route::GetByVersion { gun, .. }
        | Route::GetCurrent { gun, .. }
        | Route::GunChangefeed { gun } => repo(gun, &["pull"]),
        Route::Update { gun } | Route::GetKey { gun, .. } => repo(gun, &["push", "pull"]),
        Route::Delete { gun } | Route::RotateKey { gun, .. } => repo(gun, &["*"]),
        // Like the changefeed of every GUN, the answer names repositories of the whole
        // server: it needs the catalog scope.
        Route::Base
        | Route::Changefeed
        | Route::TrustedBy { .. }
        | Route::NotFound
        | Route::BadPath => {
            vec![Access::catalog()]
        }
    })
}

async fn dispatch(State(state): State<AppState>, req: Request) -> Response {
    let started = std::time::Instant::now();
    let method = req.method().clone();
    let route = match route::match_route(&method, req.uri().path(), req.uri().query()) {
        // Off, the web view's paths are what they were before it existed.
        Route::Ui(_) if !state.settings().ui_enabled => Route::NotFound,
        route => route,
    };
    let operation = route.operation();
    let response = match handle(&state, route, req).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    };
    metrics::record(operation, &method, response.status(), started.elapsed());
    response
}

async fn handle(state: &AppState, route: Route, req: Request) -> Result<Response, ServerError> {
    match &route {
        Route::Redirect(location) => return Ok(error::moved_permanently(location)),
        Route::MethodNotAllowed => return Ok(error::method_not_allowed()),
        Route::Health => return Ok(handlers::health(state).await),
        Route::Metrics => return Ok(handlers::metrics(state).await),
        _ => {}
    }
    gun_check(&route, state.settings())?;
    if let (Some(auth), Some(needed)) = (&state.inner.auth, required_access(&route)) {
        auth.authorize(req.headers(), req.headers().get(header::HOST), &needed)?;
    }
    match route {
        Route::Base => Ok(handlers::text("{}")),
        Route::Update { gun } => handlers::update(state, &gun, req).await,
        Route::GetByChecksum {
            gun,
            role,
            checksum,
        } => {
            let served = state.repo().get_by_checksum(&gun, &role, &checksum).await?;
            Ok(headers::metadata(
                served,
                state.settings().consistent_max_age,
                false,
            ))
        }
        Route::GetByVersion { gun, role, version } => {
            let version: i64 = version.parse().map_err(|_| ServerError::BadVersionNumber {
                gun: gun.clone(),
                role: role.clone(),
                text: version.clone(),
            })?;
            let served = state.repo().get_by_version(&gun, &role, version).await?;
            Ok(headers::metadata(
                served,
                state.settings().consistent_max_age,
                false,
            ))
        }
        Route::GetCurrent { gun, role } => {
            let served = match role.as_str() {
                "timestamp" | "snapshot" => {
                    state.repo().get_timestamp_or_snapshot(&gun, &role).await?
                }
                _ => state.repo().current_role(&gun, &role).await?,
            };
            Ok(headers::metadata(
                served,
                state.settings().current_max_age,
                true,
            ))
        }
        Route::GetKey { gun, role } => handlers::get_key(state, &gun, &role).await,
        Route::RotateKey { gun, role } => handlers::rotate_key(state, &gun, &role).await,
        Route::Delete { gun } => {
            state.repo().delete(&gun).await?;
            Ok(handlers::empty_ok())
        }
        Route::GunChangefeed { gun } => {
            handlers::changefeed(state, Some(&gun), req.uri().query()).await
        }
        Route::Changefeed => handlers::changefeed(state, None, req.uri().query()).await,
        Route::Ui(page) => ui::page(state, page, req.headers(), req.uri().query()).await,
        Route::TrustedBy { key_id } => trusted_by::answer(state, &key_id, req.uri().query()).await,
        Route::NotFound | Route::BadPath => Err(ServerError::not_found("", "")),
        Route::Health | Route::Metrics | Route::Redirect(_) | Route::MethodNotAllowed => {
            Err(ServerError::Internal("route handled above".into()))
        }
    }
}
