//! The read-only web view of trust state at `/ui/` (off unless `ui.enabled`): the
//! repositories the caller may pull, searchable, and for each its signed tags, delegations,
//! keys and expiries.
//!
//! Server-rendered HTML and one style sheet; no script, no form that writes. Every page is
//! sent with a Content-Security-Policy that allows nothing but the style sheet of this
//! server, and every value taken from metadata is HTML-escaped ([`html::Esc`]). The
//! repository page needs what a read of the repository's metadata needs; the list shows only
//! the repositories the caller may pull ([`crate::auth::TokenAuth::readable`]).

mod html;
mod list;
mod repository;
mod timeline;

use axum::http::{HeaderMap, HeaderName, HeaderValue, header};
use axum::response::Response;

use super::AppState;
use super::error::{moved_permanently, ok};
use super::handlers::query_param;
use super::route::UiPage;
use crate::auth::Readable;
use crate::error::ServerError;
use crate::store::RepositoryQuery;
use signet_tuf::notary::gun::MAX_GUN_LEN;

/// The policy of every page: nothing may load but this server's style sheet, nothing may
/// frame the page, and forms go only back to this server.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'self'; \
     img-src 'none'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The style sheet served at `/ui/style.css`.
const STYLE: &str = include_str!("style.css");

/// Answers a page of the web view. Token auth, when on, was checked for the repository page
/// (pull on its GUN) by the caller; the list asks the token which repositories it may show.
pub(crate) async fn page(
    state: &AppState,
    page: UiPage,
    headers: &HeaderMap,
    query: Option<&str>,
) -> Result<Response, ServerError> {
    match page {
        UiPage::Bare => Ok(moved_permanently("/ui/")),
        UiPage::Style => Ok(answer(STYLE.to_owned(), "text/css; charset=utf-8")),
        UiPage::List => {
            let readable = match &state.inner.auth {
                Some(auth) => auth.readable(headers, headers.get(header::HOST))?,
                None => Readable::All,
            };
            list_page(state, query, readable).await
        }
        UiPage::Repository { gun } => {
            let overview = state.repo().overview(&gun).await?;
            let html = repository::render(&overview, chrono::Utc::now()).map_err(rendering)?;
            Ok(answer(html, "text/html; charset=utf-8"))
        }
    }
}

async fn list_page(
    state: &AppState,
    query: Option<&str>,
    readable: Readable,
) -> Result<Response, ServerError> {
    let search: String = query_param(query, "q")
        .unwrap_or_default()
        .trim()
        .chars()
        .take(MAX_GUN_LEN)
        .collect();
    let after = query_param(query, "after").filter(|a| !a.is_empty());
    let only = match readable {
        Readable::All => None,
        Readable::Only(guns) => Some(guns),
    };
    let mut guns = if only.as_ref().is_some_and(Vec::is_empty) {
        Vec::new()
    } else {
        state
            .repo()
            .repositories(&RepositoryQuery {
                contains: search.clone(),
                after: after.clone(),
                only,
                prefixes: state.settings().gun_prefixes.clone(),
                limit: list::PAGE_SIZE + 1,
            })
            .await?
    };
    let more = guns.len() > list::PAGE_SIZE as usize;
    guns.truncate(list::PAGE_SIZE as usize);
    let earliest = state.repo().earliest_expiries(&guns).await?;
    let html = list::render(&list::ListPage {
        query: &search,
        continued: after.is_some(),
        guns: &guns,
        more,
        earliest: &earliest,
        now: chrono::Utc::now(),
    })
    .map_err(rendering)?;
    Ok(answer(html, "text/html; charset=utf-8"))
}

fn rendering(_: std::fmt::Error) -> ServerError {
    ServerError::Internal("rendering a page of the web view failed".into())
}

/// A 200 with `body` of `content_type` and the security headers of every page.
fn answer(body: String, content_type: &'static str) -> Response {
    let mut resp = ok(body);
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        HeaderName::from_static("cross-origin-opener-policy"),
        HeaderValue::from_static("same-origin"),
    );
    resp
}
