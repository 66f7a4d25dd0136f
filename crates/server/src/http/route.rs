//! Matching request paths to the Notary routes.
//!
//! GUNs contain `/` and `:`, so the router cannot use path parameters: the decoded path is
//! matched here by hand, route by route in the order of the Go server, each route trying the
//! longest GUN first (the Go patterns are greedy `[^*]+`).

use axum::http::Method;
use signet_tuf::notary::gun::{clean_path, percent_decode};

/// A page of the web view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UiPage {
    /// `GET /ui`: a redirect to `/ui/`.
    Bare,
    /// `GET /ui/`: the repositories (`?q=` filters, `?after=` pages).
    List,
    /// `GET /ui/style.css`: the style sheet.
    Style,
    /// `GET /ui/r/<gun>`: one repository.
    Repository {
        /// The repository.
        gun: String,
    },
}

/// The operation a request asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `GET /v2/`.
    Base,
    /// `POST /v2/<gun>/_trust/tuf/`: atomic upload.
    Update {
        /// The repository.
        gun: String,
    },
    /// `GET /v2/<gun>/_trust/tuf/<role>.<checksum>.json`.
    GetByChecksum {
        /// The repository.
        gun: String,
        /// The role.
        role: String,
        /// The hex checksum as written in the path (64, 96 or 128 hex digits).
        checksum: String,
    },
    /// `GET /v2/<gun>/_trust/tuf/<version>.<role>.json`.
    GetByVersion {
        /// The repository.
        gun: String,
        /// The role.
        role: String,
        /// The decimal digits as written in the path.
        version: String,
    },
    /// `GET /v2/<gun>/_trust/tuf/<role>.json`.
    GetCurrent {
        /// The repository.
        gun: String,
        /// The role.
        role: String,
    },
    /// `GET /v2/<gun>/_trust/tuf/<timestamp|snapshot>.key`.
    GetKey {
        /// The repository.
        gun: String,
        /// `timestamp` or `snapshot`.
        role: String,
    },
    /// `POST /v2/<gun>/_trust/tuf/<timestamp|snapshot>.key`.
    RotateKey {
        /// The repository.
        gun: String,
        /// `timestamp` or `snapshot`.
        role: String,
    },
    /// `DELETE /v2/<gun>/_trust/tuf/`.
    Delete {
        /// The repository.
        gun: String,
    },
    /// `GET /v2/<gun>/_trust/changefeed`.
    GunChangefeed {
        /// The repository.
        gun: String,
    },
    /// `GET /v2/_trust/changefeed`.
    Changefeed,
    /// `GET /v2/_trust/keys/<keyid>/repositories`: the repositories whose current metadata
    /// trusts a key.
    TrustedBy {
        /// The key ID as written in the path (not checked yet).
        key_id: String,
    },
    /// `GET /_notary_server/health`.
    Health,
    /// `GET /metrics`.
    Metrics,
    /// `GET /ui/…`: a page of the read-only web view (a 404 when it is off).
    Ui(UiPage),
    /// Any other path with GET, POST, PUT, HEAD or DELETE: 404.
    NotFound,
    /// Any other method: 405 with an empty body.
    MethodNotAllowed,
    /// The path is not in clean form: 301 to the clean path.
    Redirect(String),
    /// The path has a malformed percent escape or is not UTF-8.
    BadPath,
}

impl Route {
    /// The GUN the route is about, if any.
    pub fn gun(&self) -> Option<&str> {
        match self {
            Self::Update { gun }
            | Self::GetByChecksum { gun, .. }
            | Self::GetByVersion { gun, .. }
            | Self::GetCurrent { gun, .. }
            | Self::GetKey { gun, .. }
            | Self::RotateKey { gun, .. }
            | Self::Delete { gun }
            | Self::GunChangefeed { gun }
            | Self::Ui(UiPage::Repository { gun }) => Some(gun),
            _ => None,
        }
    }

    /// The operation label used in metrics, as the Go server names it.
    pub fn operation(&self) -> &'static str {
        match self {
            Self::Update { .. } => "UpdateTUF",
            Self::GetByChecksum { .. } => "GetRoleByHash",
            Self::GetByVersion { .. } => "GetRoleByVersion",
            Self::GetCurrent { .. } => "GetRole",
            Self::GetKey { .. } => "GetKey",
            Self::RotateKey { .. } => "RotateKey",
            Self::Delete { .. } => "DeleteTUF",
            Self::GunChangefeed { .. } | Self::Changefeed => "Changefeed",
            Self::TrustedBy { .. } => "TrustedBy",
            Self::Base => "Base",
            Self::Health => "Health",
            Self::Metrics => "Metrics",
            Self::Ui(_) => "UI",
            Self::NotFound | Self::MethodNotAllowed | Self::Redirect(_) | Self::BadPath => {
                "NotFound"
            }
        }
    }
}

const TUF: &str = "/_trust/tuf/";
const CHANGEFEED: &str = "/_trust/changefeed";
const UI_REPOSITORY: &str = "/ui/r/";
const KEYS: &str = "/v2/_trust/keys/";
const REPOSITORIES: &str = "/repositories";

/// Matches a request. `raw_path` is the path as sent (percent-encoded); `query` is the raw
/// query string, used only to build a redirect.
pub fn match_route(method: &Method, raw_path: &str, query: Option<&str>) -> Route {
    let Some(path) = percent_decode(raw_path) else {
        return Route::BadPath;
    };
    let cleaned = clean_request_path(&path);
    if cleaned != path {
        let mut location = percent_encode_path(&cleaned);
        if let Some(q) = query {
            location.push('?');
            location.push_str(q);
        }
        return Route::Redirect(location);
    }
    if let Some(route) = match_known(method, &path) {
        return route;
    }
    if [
        Method::GET,
        Method::POST,
        Method::PUT,
        Method::HEAD,
        Method::DELETE,
    ]
    .contains(method)
    {
        Route::NotFound
    } else {
        Route::MethodNotAllowed
    }
}

fn match_known(method: &Method, path: &str) -> Option<Route> {
    if *method == Method::GET && path == "/v2/" {
        return Some(Route::Base);
    }
    if *method == Method::POST
        && let Some(gun) = gun_before_suffix(path, TUF)
    {
        return Some(Route::Update { gun });
    }
    if *method == Method::GET {
        if let Some((gun, (role, checksum))) = split_gun(path, by_checksum) {
            return Some(Route::GetByChecksum {
                gun,
                role,
                checksum,
            });
        }
        if let Some((gun, (version, role))) = split_gun(path, by_version) {
            return Some(Route::GetByVersion { gun, role, version });
        }
        if let Some((gun, role)) = split_gun(path, current) {
            return Some(Route::GetCurrent { gun, role });
        }
        if let Some((gun, role)) = split_gun(path, key) {
            return Some(Route::GetKey { gun, role });
        }
    }
    if *method == Method::POST
        && let Some((gun, role)) = split_gun(path, key)
    {
        return Some(Route::RotateKey { gun, role });
    }
    if *method == Method::DELETE
        && let Some(gun) = gun_before_suffix(path, TUF)
    {
        return Some(Route::Delete { gun });
    }
    if *method == Method::GET {
        if let Some(gun) = gun_before_suffix(path, CHANGEFEED) {
            return Some(Route::GunChangefeed { gun });
        }
        if let Some(key_id) = path
            .strip_prefix(KEYS)
            .and_then(|rest| rest.strip_suffix(REPOSITORIES))
        {
            return Some(Route::TrustedBy {
                key_id: key_id.to_owned(),
            });
        }
        match path {
            "/v2/_trust/changefeed" => return Some(Route::Changefeed),
            "/_notary_server/health" => return Some(Route::Health),
            "/metrics" => return Some(Route::Metrics),
            "/ui" => return Some(Route::Ui(UiPage::Bare)),
            "/ui/" => return Some(Route::Ui(UiPage::List)),
            "/ui/style.css" => return Some(Route::Ui(UiPage::Style)),
            _ => {}
        }
        if let Some(gun) = path.strip_prefix(UI_REPOSITORY).filter(|g| gun_ok(g)) {
            return Some(Route::Ui(UiPage::Repository {
                gun: gun.to_owned(),
            }));
        }
    }
    None
}

/// Whether `gun` matches the Go pattern `[^*]+`.
fn gun_ok(gun: &str) -> bool {
    !gun.is_empty() && !gun.contains('*')
}

/// `^/v2/([^*]+)<suffix>$`.
fn gun_before_suffix(path: &str, suffix: &str) -> Option<String> {
    let inner = path.strip_prefix("/v2/")?.strip_suffix(suffix)?;
    gun_ok(inner).then(|| inner.to_owned())
}

/// Tries `^/v2/([^*]+)/_trust/tuf/<tail>$` with the longest GUN first.
fn split_gun<T>(path: &str, tail: impl Fn(&str) -> Option<T>) -> Option<(String, T)> {
    let rest = path.strip_prefix("/v2/")?;
    let mut end = rest.len();
    while let Some(idx) = rest[..end].rfind(TUF) {
        let gun = &rest[..idx];
        if gun_ok(gun)
            && let Some(t) = tail(&rest[idx + TUF.len()..])
        {
            return Some((gun.to_owned(), t));
        }
        // Try a shorter GUN: the next occurrence must end before this one starts.
        end = idx + TUF.len() - 1;
        if idx == 0 {
            break;
        }
    }
    None
}

/// `root|targets(?:/[^/\s]+)*|snapshot|timestamp`.
pub fn role_pattern(role: &str) -> bool {
    match role {
        "root" | "targets" | "snapshot" | "timestamp" => true,
        _ => role.strip_prefix("targets/").is_some_and(|rest| {
            rest.split('/')
                .all(|seg| !seg.is_empty() && !seg.chars().any(is_go_space))
        }),
    }
}

/// Go's `\s`: `[\t\n\f\r ]`.
fn is_go_space(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\x0c' | '\r' | ' ')
}

fn by_checksum(tail: &str) -> Option<(String, String)> {
    let stem = tail.strip_suffix(".json")?;
    let (role, sum) = stem.rsplit_once('.')?;
    let hex_ok = matches!(sum.len(), 64 | 96 | 128) && sum.bytes().all(|b| b.is_ascii_hexdigit());
    (hex_ok && role_pattern(role)).then(|| (role.to_owned(), sum.to_owned()))
}

fn by_version(tail: &str) -> Option<(String, String)> {
    let stem = tail.strip_suffix(".json")?;
    let (digits, role) = stem.split_once('.')?;
    let digits_ok = !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit());
    (digits_ok && role_pattern(role)).then(|| (digits.to_owned(), role.to_owned()))
}

fn current(tail: &str) -> Option<String> {
    let role = tail.strip_suffix(".json")?;
    role_pattern(role).then(|| role.to_owned())
}

fn key(tail: &str) -> Option<String> {
    match tail {
        "snapshot.key" => Some("snapshot".to_owned()),
        "timestamp.key" => Some("timestamp".to_owned()),
        _ => None,
    }
}

/// Escapes a decoded path for a `Location` header or a link: everything outside the URL path
/// characters is percent-encoded.
pub fn percent_encode_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/!$&'()*+,;=:@".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The path as gorilla/mux cleans it before matching: Go's `path.Clean`, with the trailing
/// slash kept.
fn clean_request_path(p: &str) -> String {
    if p.is_empty() {
        return "/".to_owned();
    }
    let rooted = if p.starts_with('/') {
        p.to_owned()
    } else {
        format!("/{p}")
    };
    let mut np = clean_path(&rooted);
    if rooted.ends_with('/') && np != "/" {
        np.push('/');
    }
    np
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(p: &str) -> Route {
        match_route(&Method::GET, p, None)
    }

    #[test]
    fn gun_routes_with_slashes_and_colons() {
        assert_eq!(
            get("/v2/docker.io/library/alpine:3/_trust/tuf/root.json"),
            Route::GetCurrent {
                gun: "docker.io/library/alpine:3".into(),
                role: "root".into()
            }
        );
        assert_eq!(
            get("/v2/a/_trust/tuf/targets/rel/x.json"),
            Route::GetCurrent {
                gun: "a".into(),
                role: "targets/rel/x".into()
            }
        );
    }

    #[test]
    fn checksum_and_version_routes() {
        let h = "ab".repeat(32);
        assert_eq!(
            get(&format!("/v2/g/_trust/tuf/targets/a.{h}.json")),
            Route::GetByChecksum {
                gun: "g".into(),
                role: "targets/a".into(),
                checksum: h
            }
        );
        assert_eq!(
            get("/v2/g/_trust/tuf/01.root.json"),
            Route::GetByVersion {
                gun: "g".into(),
                role: "root".into(),
                version: "01".into()
            }
        );
        // 63 hex digits is not a checksum: the role pattern then takes the dot.
        let short = "a".repeat(63);
        assert_eq!(
            get(&format!("/v2/g/_trust/tuf/targets/x.{short}.json")),
            Route::GetCurrent {
                gun: "g".into(),
                role: format!("targets/x.{short}")
            }
        );
        assert_eq!(
            get(&format!("/v2/g/_trust/tuf/root.{short}.json")),
            Route::NotFound
        );
    }

    #[test]
    fn greedy_gun() {
        assert_eq!(
            get("/v2/a/_trust/tuf/b/_trust/tuf/root.json"),
            Route::GetCurrent {
                gun: "a/_trust/tuf/b".into(),
                role: "root".into()
            }
        );
        assert_eq!(
            match_route(&Method::POST, "/v2/a/_trust/tuf/_trust/tuf/", None),
            Route::Update {
                gun: "a/_trust/tuf".into()
            }
        );
    }

    #[test]
    fn keys_changefeed_and_misc() {
        assert_eq!(
            get("/v2/g/_trust/tuf/timestamp.key"),
            Route::GetKey {
                gun: "g".into(),
                role: "timestamp".into()
            }
        );
        assert_eq!(
            match_route(&Method::POST, "/v2/g/_trust/tuf/snapshot.key", None),
            Route::RotateKey {
                gun: "g".into(),
                role: "snapshot".into()
            }
        );
        assert_eq!(get("/v2/g/_trust/tuf/targets.key"), Route::NotFound);
        assert_eq!(
            get("/v2/g/h/_trust/changefeed"),
            Route::GunChangefeed { gun: "g/h".into() }
        );
        assert_eq!(get("/v2/_trust/changefeed"), Route::Changefeed);
        assert_eq!(
            get("/v2/_trust/keys/ab12/repositories"),
            Route::TrustedBy {
                key_id: "ab12".into()
            }
        );
        assert_eq!(get("/v2/"), Route::Base);
        assert_eq!(get("/v2"), Route::NotFound);
        assert_eq!(get("/_notary_server/health"), Route::Health);
        assert_eq!(get("/metrics"), Route::Metrics);
        assert_eq!(
            match_route(&Method::DELETE, "/v2/g/_trust/tuf/", None),
            Route::Delete { gun: "g".into() }
        );
        assert_eq!(
            match_route(&Method::DELETE, "/v2/g/_trust/tuf", None),
            Route::NotFound
        );
        assert_eq!(
            match_route(&Method::PUT, "/v2/g/_trust/tuf/", None),
            Route::NotFound
        );
        assert_eq!(
            match_route(&Method::HEAD, "/v2/g/_trust/tuf/root.json", None),
            Route::NotFound
        );
        assert_eq!(
            match_route(&Method::PATCH, "/v2/g/_trust/tuf/", None),
            Route::MethodNotAllowed
        );
        assert_eq!(
            match_route(&Method::OPTIONS, "/anything", None),
            Route::MethodNotAllowed
        );
    }

    #[test]
    fn web_view_pages() {
        assert_eq!(get("/ui/"), Route::Ui(UiPage::List));
        assert_eq!(get("/ui/style.css"), Route::Ui(UiPage::Style));
        assert_eq!(
            get("/ui/r/docker.io/library/app:1"),
            Route::Ui(UiPage::Repository {
                gun: "docker.io/library/app:1".into()
            })
        );
        assert_eq!(
            get("/ui/r/%3Cscript%3E"),
            Route::Ui(UiPage::Repository {
                gun: "<script>".into()
            })
        );
        assert_eq!(get("/ui/r/"), Route::NotFound);
        assert_eq!(get("/ui/r/a*b"), Route::NotFound);
        assert_eq!(get("/ui"), Route::Ui(UiPage::Bare));
        assert_eq!(match_route(&Method::POST, "/ui/", None), Route::NotFound);
        assert_eq!(
            get("/ui/r/docker.io/library/app:1").gun(),
            Some("docker.io/library/app:1")
        );
    }

    #[test]
    fn star_in_gun_is_not_a_route() {
        assert_eq!(get("/v2/a*b/_trust/tuf/root.json"), Route::NotFound);
        assert_eq!(
            match_route(&Method::POST, "/v2/*/_trust/tuf/", None),
            Route::NotFound
        );
    }

    #[test]
    fn percent_decoding_and_cleaning() {
        assert_eq!(
            get("/v2/example.com%2Fx/_trust/tuf/root.json"),
            Route::GetCurrent {
                gun: "example.com/x".into(),
                role: "root".into()
            }
        );
        assert_eq!(get("/v2/%zz/_trust/tuf/root.json"), Route::BadPath);
        assert_eq!(get("/v2/%ff/_trust/tuf/root.json"), Route::BadPath);
        assert_eq!(
            match_route(&Method::POST, "/v2/a//b/_trust/tuf/", Some("x=1")),
            Route::Redirect("/v2/a/b/_trust/tuf/?x=1".into())
        );
        assert_eq!(
            get("/v2/a/./b/../c/_trust/tuf/root.json"),
            Route::Redirect("/v2/a/c/_trust/tuf/root.json".into())
        );
    }
}
