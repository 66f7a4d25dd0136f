//! The read-only web view at `/ui/`: off by default, the list (search, pages, only what the
//! caller may pull), the repository page against what the API serves, escaping, and the
//! security headers.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use axum::http::{Method, StatusCode};
use common::token::{Issuer, call, claims, repo_access, token_auth};
use common::trust_state::{
    Expiries, api_digest, api_key_ids, api_signed, path_of, publish_delegated, section,
};
use common::{PgSchema, Reply, TestServer};
use signet_server::cache::CacheSettings;
use signet_server::http::HttpSettings;
use signet_server::store::{FileUpdate, RepositoryQuery};

const GUN: &str = "example.com/team/app";

fn ui_settings() -> HttpSettings {
    HttpSettings {
        ui_enabled: true,
        ..HttpSettings::default()
    }
}

async fn ui_server() -> TestServer {
    TestServer::with_settings(ui_settings(), None).await
}

/// The page's HTML, after checking the answer is a page with the security headers.
fn page(r: &Reply) -> String {
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(
        r.header("content-type").as_deref(),
        Some("text/html; charset=utf-8")
    );
    let csp = r.header("content-security-policy").expect("a CSP");
    assert!(csp.contains("default-src 'none'"), "{csp}");
    assert!(csp.contains("style-src 'self'"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(!csp.contains("script-src"), "{csp}");
    assert_eq!(
        r.header("x-content-type-options").as_deref(),
        Some("nosniff")
    );
    let html = r.text();
    assert!(!html.contains("<script"), "no script in a page: {html}");
    assert!(!html.contains(" style="), "no inline style (CSP): {html}");
    html
}

/// A stored timestamp row for `gun`: enough for it to be listed.
async fn raw_repository(s: &TestServer, gun: &str) {
    s.store
        .update_many(gun, &[FileUpdate::new("timestamp", 1, b"{}".to_vec())])
        .await
        .unwrap();
}

#[tokio::test]
async fn off_by_default_and_then_a_plain_404() {
    let s = TestServer::new().await;
    publish_delegated(
        &s,
        GUN,
        &["v1"],
        Expiries {
            targets: 100,
            releases: 100,
            alice: 100,
        },
    )
    .await;
    let unknown = s.get("/not-a-route/").await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    for path in ["/ui", "/ui/", "/ui/style.css", &format!("/ui/r/{GUN}")] {
        let r = s.get(path).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(r.body, unknown.body, "{path}");
        assert_eq!(r.header("content-type"), unknown.header("content-type"));
        assert!(r.header("content-security-policy").is_none());
    }
    // With token auth, an unknown path asks for the catalogue, and so do the view's paths.
    let iss = Issuer::new();
    let s = TestServer::with_settings(
        HttpSettings::default(),
        Some(token_auth(&iss.bundle_pem, common::token::REALM)),
    )
    .await;
    let unknown = s.get("/not-a-route/").await;
    let r = s.get("/ui/").await;
    assert_eq!(r.status, unknown.status);
    assert_eq!(r.body, unknown.body);
    assert_eq!(
        r.header("www-authenticate"),
        unknown.header("www-authenticate")
    );
}

#[tokio::test]
async fn repository_page_shows_what_the_api_holds() {
    let s = ui_server().await;
    publish_delegated(
        &s,
        GUN,
        &["v1", "v2"],
        Expiries {
            targets: 20,
            releases: 3,
            alice: 200,
        },
    )
    .await;
    let html = page(&s.get(&format!("/ui/r/{GUN}")).await);

    let root = api_signed(&s, GUN, "root").await;
    let targets = api_signed(&s, GUN, "targets").await;
    let alice = api_signed(&s, GUN, "targets/alice").await;
    let releases = api_signed(&s, GUN, "targets/releases").await;
    let snapshot = api_signed(&s, GUN, "snapshot").await;
    let timestamp = api_signed(&s, GUN, "timestamp").await;

    // Tags: digest, size and signers as docker shows them.
    let v1 = api_digest(&targets, "v1");
    assert_eq!(v1, api_digest(&releases, "v1"));
    assert!(
        html.contains(&format!(
            "<tr><td class=\"tag\">v1</td><td><code class=\"digest\">{v1}</code></td>\
             <td class=\"size\">2</td><td class=\"signers\"><span class=\"signer\">Repo Admin\
             </span>, <span class=\"signer\">alice</span></td>"
        )),
        "{html}"
    );
    let v2 = api_digest(&alice, "v2");
    assert!(
        html.contains(&format!(
            "<tr><td class=\"tag\">v2</td><td><code class=\"digest\">{v2}</code></td>\
             <td class=\"size\">2</td><td class=\"signers\"><span class=\"signer\">alice</span>"
        )),
        "{html}"
    );

    // Keys: root, targets, the server-held timestamp key, the owners' snapshot key, and each
    // delegation's.
    for role in ["root", "targets", "timestamp", "snapshot"] {
        for id in api_key_ids(&root, role) {
            assert!(
                html.contains(&format!("<code class=\"keyid\">{id}</code>")),
                "{role} key {id}"
            );
        }
    }
    let held = section(&html, "<tr data-role=\"timestamp\"", "</tr>");
    assert!(held.contains("the server"), "{held}");
    let owned = section(&html, "<tr data-role=\"snapshot\"", "</tr>");
    assert!(owned.contains("the repository's owners"), "{owned}");
    for delegation in ["targets/releases", "targets/alice"] {
        let row = section(
            &html,
            &format!("<tr data-role=\"{delegation}\"><td><code>{delegation}</code></td><td>"),
            "</tr>",
        );
        for id in api_key_ids(&targets, delegation) {
            assert!(row.contains(&id), "{delegation} key {id}: {row}");
        }
        assert!(row.contains("threshold 1 of 1"), "{row}");
        assert!(row.contains("every path"), "{row}");
    }

    // Every role's version and expiry, and how soon it expires.
    let timeline = section(&html, "<table class=\"timeline\">", "</table>");
    for (role, signed, class) in [
        ("root", &root, "expiry-ok"),
        ("targets", &targets, "expiry-30d"),
        ("targets/releases", &releases, "expiry-7d"),
        ("targets/alice", &alice, "expiry-ok"),
        ("snapshot", &snapshot, "expiry-ok"),
        ("timestamp", &timestamp, "expiry-renewed"),
    ] {
        let row = section(
            timeline,
            &format!("<tr class=\"role {class}\" data-role=\"{role}\">"),
            "</tr>",
        );
        let expires = signed["expires"].as_str().unwrap();
        assert!(
            row.contains(&format!("<time datetime=\"{expires}\">")),
            "{role}: {row}"
        );
        assert!(
            row.contains(&format!("<td>{}</td>", signed["version"])),
            "{role}: {row}"
        );
    }
    assert!(html.contains("expires soon (within 7 days)"), "{html}");
    assert!(
        html.contains("<span class=\"badge expiry-7d\">1 within 7 days</span>"),
        "{html}"
    );

    // The list names the first expiry of what the owners sign: the 3-day delegation.
    let list = page(&s.get("/ui/").await);
    let item = section(
        &list,
        &format!("<li><a class=\"gun\" href=\"/ui/r/{GUN}\">"),
        "</li>",
    );
    assert!(
        item.contains("<span class=\"next-expiry expiry-7d\">first expiry: "),
        "{item}"
    );
    assert!(item.contains("expires soon (within 7 days)"), "{item}");

    let bare = s.get("/ui").await;
    assert_eq!(bare.status, StatusCode::MOVED_PERMANENTLY);
    assert_eq!(bare.header("location").as_deref(), Some("/ui/"));

    // The style sheet the pages name.
    let css = s.get("/ui/style.css").await;
    assert_eq!(css.status, StatusCode::OK);
    assert_eq!(
        css.header("content-type").as_deref(),
        Some("text/css; charset=utf-8")
    );
    assert!(css.text().contains(".w100 { width: 100%; }"));

    // An unknown repository is the API's 404.
    let r = s.get("/ui/r/example.com/none").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.error_code(), "METADATA_NOT_FOUND");
}

#[tokio::test]
async fn hostile_names_are_escaped() {
    let s = ui_server().await;
    let gun = "example.com/<script>alert('gun')</script>&\"q\"";
    let tag = "<img src=x onerror=alert(1)>";
    publish_delegated(
        &s,
        gun,
        &[tag],
        Expiries {
            targets: 100,
            releases: 100,
            alice: 100,
        },
    )
    .await;
    let list = page(&s.get("/ui/?q=%3Cscript").await);
    assert!(
        list.contains(
            "example.com/&lt;script&gt;alert(&#39;gun&#39;)&lt;/script&gt;&amp;&quot;q&quot;"
        ),
        "{list}"
    );
    assert!(list.contains("value=\"&lt;script\""), "{list}");
    assert!(
        list.contains(
            "href=\"/ui/r/example.com/%3Cscript%3Ealert(&#39;gun&#39;)%3C/script%3E&amp;%22q%22\""
        ),
        "{list}"
    );
    let repo = page(&s.get(&format!("/ui/r/{}", path_of(gun))).await);
    assert!(
        repo.contains("<td class=\"tag\">&lt;img src=x onerror=alert(1)&gt;</td>"),
        "{repo}"
    );
    assert!(!repo.contains("<img"), "{repo}");
    assert!(!repo.contains("<script>"), "{repo}");
}

#[tokio::test]
async fn list_searches_and_pages_on_sqlite() {
    list_searches_and_pages(ui_server().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_searches_and_pages_on_postgres() {
    let Some(schema) = PgSchema::new().await else {
        return;
    };
    let s = TestServer::on_schema(&Arc::new(schema), CacheSettings::default(), ui_settings()).await;
    list_searches_and_pages(s).await;
}

async fn list_searches_and_pages(s: TestServer) {
    for i in 0..120 {
        raw_repository(&s, &format!("docker.io/lib/app{i:03}")).await;
    }
    raw_repository(&s, "quay.io/other/thing").await;
    // Deleted repositories are not listed.
    raw_repository(&s, "docker.io/lib/gone").await;
    assert!(s.store.delete("docker.io/lib/gone").await.unwrap());

    let first = page(&s.get("/ui/").await);
    assert_eq!(first.matches("<li><a class=\"gun\"").count(), 50);
    assert!(first.contains(">docker.io/lib/app000</a>"));
    assert!(first.contains(">docker.io/lib/app049</a>"));
    assert!(!first.contains(">docker.io/lib/app050</a>"));
    assert!(first.contains("href=\"/ui/?q=&amp;after=docker.io%2Flib%2Fapp049\""));

    // The pages together list each repository once, in order.
    let mut seen = Vec::new();
    let mut next = Some("/ui/".to_owned());
    while let Some(url) = next.take() {
        let html = page(&s.get(&url).await);
        for part in html.split("<li><a class=\"gun\" href=\"").skip(1) {
            let name = part
                .split("\">")
                .nth(1)
                .unwrap()
                .split("</a>")
                .next()
                .unwrap();
            seen.push(name.to_owned());
        }
        next = html
            .split("rel=\"next\" href=\"")
            .nth(1)
            .map(|rest| rest.split('"').next().unwrap().replace("&amp;", "&"));
        assert!(seen.len() <= 121, "the pages do not end");
    }
    let mut expected: Vec<String> = (0..120)
        .map(|i| format!("docker.io/lib/app{i:03}"))
        .collect();
    expected.push("quay.io/other/thing".to_owned());
    assert_eq!(seen, expected);

    // Search is a substring of the GUN, across pages too.
    let found = page(&s.get("/ui/?q=app11").await);
    assert_eq!(found.matches("<li><a class=\"gun\"").count(), 10, "{found}");
    assert!(found.contains("10 repositories matching <q>app11</q>."));
    assert!(!found.contains("rel=\"next\""));
    let found = page(&s.get("/ui/?q=+other%2Fthing+").await);
    assert!(found.contains(">quay.io/other/thing</a>"), "{found}");
    assert_eq!(found.matches("<li><a class=\"gun\"").count(), 1);
    let none = page(&s.get("/ui/?q=nothing-like-it").await);
    assert!(none.contains("No repositories matching"), "{none}");

    // The store query itself: a list of GUNs, prefixes and a bound on the page.
    let q = RepositoryQuery {
        only: Some(vec![
            "docker.io/lib/app007".into(),
            "quay.io/other/thing".into(),
            "docker.io/lib/absent".into(),
        ]),
        limit: 10,
        ..RepositoryQuery::default()
    };
    assert_eq!(
        s.store.repositories(&q).await.unwrap(),
        ["docker.io/lib/app007", "quay.io/other/thing"]
    );
    let q = RepositoryQuery {
        prefixes: vec!["quay.io/".into()],
        limit: 10,
        ..RepositoryQuery::default()
    };
    assert_eq!(
        s.store.repositories(&q).await.unwrap(),
        ["quay.io/other/thing"]
    );
    let q = RepositoryQuery {
        limit: 100_000,
        ..RepositoryQuery::default()
    };
    assert_eq!(s.store.repositories(&q).await.unwrap().len(), 121);
    let q = RepositoryQuery {
        limit: 0,
        ..RepositoryQuery::default()
    };
    assert!(s.store.repositories(&q).await.unwrap().is_empty());
}

#[tokio::test]
async fn list_honours_gun_prefixes() {
    let s = TestServer::with_settings(
        HttpSettings {
            gun_prefixes: vec!["docker.io/".into()],
            ..ui_settings()
        },
        None,
    )
    .await;
    raw_repository(&s, "docker.io/a").await;
    raw_repository(&s, "quay.io/b").await;
    let html = page(&s.get("/ui/").await);
    assert!(html.contains(">docker.io/a</a>"), "{html}");
    assert!(!html.contains("quay.io/b"), "{html}");
    assert_eq!(s.get("/ui/r/quay.io/b").await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn same_auth_as_reads() {
    let iss = Issuer::new();
    let s = TestServer::with_settings(
        ui_settings(),
        Some(token_auth(&iss.bundle_pem, common::token::REALM)),
    )
    .await;
    let other = "example.com/team/other";
    raw_repository(&s, GUN).await;
    raw_repository(&s, other).await;

    // No token: the challenge a read of the catalogue gets.
    let r = call(&s, Method::GET, "/ui/", None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(
        r.header("www-authenticate")
            .unwrap()
            .ends_with("scope=\"registry:catalog:*\"")
    );
    let bad = call(&s, Method::GET, "/ui/", Some("not.a.token")).await;
    assert_eq!(bad.status, StatusCode::UNAUTHORIZED);

    // Pull on one repository: the list shows that one only; its page needs pull on it.
    let pull_one = iss.token(&claims(repo_access(GUN, &["pull"]), 300));
    let html = page(&call(&s, Method::GET, "/ui/", Some(&pull_one)).await);
    assert!(html.contains(&format!(">{GUN}</a>")), "{html}");
    assert!(!html.contains(other), "{html}");
    let r = call(&s, Method::GET, &format!("/ui/r/{other}"), Some(&pull_one)).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r.header("www-authenticate").unwrap().ends_with(&format!(
        "scope=\"repository:{other}:pull\",error=\"insufficient_scope\""
    )));
    let r = call(&s, Method::GET, &format!("/ui/r/{GUN}"), None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    // A push-only grant is no read.
    let push_only = iss.token(&claims(repo_access(GUN, &["push"]), 300));
    let html = page(&call(&s, Method::GET, "/ui/", Some(&push_only)).await);
    assert!(html.contains("No repositories"), "{html}");

    // The catalogue: every repository.
    let catalog = iss.token(&claims(
        serde_json::json!([{"type": "registry", "name": "catalog", "actions": ["*"]}]),
        300,
    ));
    let html = page(&call(&s, Method::GET, "/ui/?q=example.com", Some(&catalog)).await);
    assert!(html.contains(&format!(">{GUN}</a>")), "{html}");
    assert!(html.contains(&format!(">{other}</a>")), "{html}");

    // The style sheet holds no data and needs no token.
    assert_eq!(
        call(&s, Method::GET, "/ui/style.css", None).await.status,
        StatusCode::OK
    );
    // Nothing writes: other methods are what they are elsewhere.
    let r = call(&s, Method::POST, "/ui/", Some(&catalog)).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

/// Starts the `signet-server` binary on a fresh data directory with `args` and `env`, and
/// returns the status line of `GET /ui/`.
fn binary_ui_status(args: &[&str], env: &[(&str, &str)]) -> String {
    use std::io::{BufRead as _, BufReader, Read as _, Write as _};
    use std::process::{Command, Stdio};

    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_signet-server"));
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("SIGNET_SERVER_") {
            cmd.env_remove(k);
        }
    }
    let mut child = cmd
        .env("RUST_LOG", "info")
        .env("SIGNET_SERVER_LOG_FORMAT", "json")
        .envs(env.iter().copied())
        .arg("--data-dir")
        .arg(dir.path())
        .args(["--listen", "127.0.0.1:0"])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let addr = loop {
        let Some(Ok(line)) = lines.next() else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("signet-server {args:?} stopped before listening");
        };
        let v: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
        if let Some(addr) = v["fields"]["addr"].as_str() {
            break addr.to_owned();
        }
    };
    let mut conn = std::net::TcpStream::connect(&addr).unwrap();
    conn.write_all(b"GET /ui/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    let _ = conn.read_to_string(&mut answer);
    let _ = child.kill();
    let _ = child.wait();
    answer.lines().next().unwrap_or_default().to_owned()
}

#[test]
fn flag_and_environment_turn_the_binary_view_on() {
    assert_eq!(binary_ui_status(&[], &[]), "HTTP/1.1 404 Not Found");
    assert_eq!(binary_ui_status(&["--ui"], &[]), "HTTP/1.1 200 OK");
    assert_eq!(
        binary_ui_status(&[], &[("SIGNET_SERVER_UI", "true")]),
        "HTTP/1.1 200 OK"
    );
    assert_eq!(
        binary_ui_status(&["--ui=false"], &[("SIGNET_SERVER_UI", "true")]),
        "HTTP/1.1 404 Not Found"
    );
}
