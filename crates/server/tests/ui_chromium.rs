//! The web view in a real browser: headless Chromium (Debian `chromium`) takes screenshots of
//! the list and of a repository with delegations and a role expiring within 7 days, and its
//! rendered DOM shows what the API holds. Fails under `CI` when chromium is missing.
//!
//! The screenshots are written to the test's temporary directory, and copied to the
//! directory `SIGNET_UI_SCREENSHOTS` names when it is set.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::TestServer;
use common::trust_state::{
    Expiries, api_digest, api_key_ids, api_signed, path_of, publish_delegated, section,
};
use signet_server::http::HttpSettings;

const GUN: &str = "registry.example.com/team/web";
const OTHER: &str = "registry.example.com/team/api";

/// The longest one Chromium run may take.
const CHROMIUM_DEADLINE: Duration = Duration::from_secs(90);

/// Runs chromium headless with `args` and a profile of its own under `dir`; returns its
/// standard output. Fails the test when it does not succeed within [`CHROMIUM_DEADLINE`].
async fn chromium(binary: &Path, dir: &Path, args: Vec<String>) -> String {
    let binary = binary.to_owned();
    let profile = dir.join(format!("profile-{}", common::unique_name("c")));
    tokio::task::spawn_blocking(move || {
        let out_file = profile.with_extension("out");
        let mut child = Command::new(&binary)
            .arg("--headless")
            .arg("--disable-gpu")
            .arg("--no-sandbox")
            .arg("--disable-dev-shm-usage")
            .arg("--no-first-run")
            .arg("--hide-scrollbars")
            .arg(format!("--user-data-dir={}", profile.display()))
            .args(&args)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&out_file).expect("output file"))
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromium");
        let started = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().expect("wait for chromium") {
                break status;
            }
            if started.elapsed() > CHROMIUM_DEADLINE {
                let _ = child.kill();
                let _ = child.wait();
                panic!("chromium {args:?} did not finish within {CHROMIUM_DEADLINE:?}");
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        assert!(status.success(), "chromium {args:?} failed: {status}");
        std::fs::read_to_string(&out_file).expect("chromium output")
    })
    .await
    .expect("chromium thread")
}

/// Checks that `png` is a PNG of 1280×900 with real content, and copies it to
/// `SIGNET_UI_SCREENSHOTS` when set.
fn check_screenshot(png: &Path) {
    let bytes = std::fs::read(png).unwrap_or_else(|e| panic!("{}: {e}", png.display()));
    assert!(
        bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
        "{} is not a PNG",
        png.display()
    );
    assert_eq!(&bytes[12..16], b"IHDR");
    let width = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
    assert_eq!((width, height), (1280, 900), "{}", png.display());
    // A blank or unstyled page compresses to a few kilobytes; the pages have text, tables
    // and coloured bars.
    assert!(
        bytes.len() > 20_000,
        "{} is only {} bytes",
        png.display(),
        bytes.len()
    );
    if let Some(dir) = std::env::var_os("SIGNET_UI_SCREENSHOTS").filter(|d| !d.is_empty()) {
        let dir = PathBuf::from(dir);
        std::fs::create_dir_all(&dir).expect("screenshot directory");
        std::fs::copy(png, dir.join(png.file_name().unwrap())).expect("copy the screenshot");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_shows_the_list_and_a_repository() {
    let Some(binary) = common::require_tool("chromium") else {
        return;
    };
    let s = TestServer::with_settings(
        HttpSettings {
            ui_enabled: true,
            ..HttpSettings::default()
        },
        None,
    )
    .await;
    publish_delegated(
        &s,
        GUN,
        &["v1.0", "v1.1", "latest"],
        Expiries {
            targets: 25,
            releases: 3,
            alice: 300,
        },
    )
    .await;
    publish_delegated(
        &s,
        OTHER,
        &["stable"],
        Expiries {
            targets: 200,
            releases: 200,
            alice: 200,
        },
    )
    .await;
    let served = common::serve(s.router.clone(), None);
    let base = format!("http://{}", served.addr);
    let dir = tempfile::tempdir().expect("temp dir");
    let list_url = format!("{base}/ui/");
    let repo_url = format!("{base}/ui/r/{}", path_of(GUN));

    for (name, url) in [("list.png", &list_url), ("repository.png", &repo_url)] {
        let png = dir.path().join(name);
        chromium(
            &binary,
            dir.path(),
            vec![
                format!("--screenshot={}", png.display()),
                "--window-size=1280,900".to_owned(),
                url.clone(),
            ],
        )
        .await;
        check_screenshot(&png);
    }

    let list = chromium(&binary, dir.path(), vec!["--dump-dom".into(), list_url]).await;
    for gun in [GUN, OTHER] {
        assert!(
            list.contains(&format!("href=\"/ui/r/{gun}\">{gun}</a>")),
            "{list}"
        );
    }
    let web = section(&list, &format!("href=\"/ui/r/{GUN}\">"), "</li>");
    assert!(web.contains("next-expiry expiry-7d"), "{web}");
    let api = section(&list, &format!("href=\"/ui/r/{OTHER}\">"), "</li>");
    assert!(api.contains("next-expiry expiry-ok"), "{api}");

    let dom = chromium(&binary, dir.path(), vec!["--dump-dom".into(), repo_url]).await;
    let targets = api_signed(&s, GUN, "targets").await;
    let alice = api_signed(&s, GUN, "targets/alice").await;
    let releases = api_signed(&s, GUN, "targets/releases").await;
    let root = api_signed(&s, GUN, "root").await;
    for (tag, doc) in [("latest", &alice), ("v1.0", &targets), ("v1.1", &alice)] {
        let digest = api_digest(doc, tag);
        let row = section(&dom, &format!("<td class=\"tag\">{tag}</td>"), "</tr>");
        assert!(row.contains(&digest), "{tag}: {row}");
    }
    let v10 = section(&dom, "<td class=\"tag\">v1.0</td>", "</tr>");
    assert!(v10.contains("Repo Admin") && v10.contains("alice"), "{v10}");
    for role in ["root", "targets", "timestamp"] {
        for id in api_key_ids(&root, role) {
            assert!(dom.contains(&id), "{role} key {id}");
        }
    }
    for delegation in ["targets/releases", "targets/alice"] {
        for id in api_key_ids(&targets, delegation) {
            assert!(dom.contains(&id), "{delegation} key {id}");
        }
    }
    // The role expiring within 7 days is marked, with the expiry the API serves.
    let soon = section(
        &dom,
        "<tr class=\"role expiry-7d\" data-role=\"targets/releases\">",
        "</tr>",
    );
    assert!(
        soon.contains(releases["expires"].as_str().unwrap()),
        "{soon}"
    );
    assert!(soon.contains("expires soon (within 7 days)"), "{soon}");
    assert!(
        dom.contains("<tr class=\"role expiry-30d\" data-role=\"targets\">"),
        "{dom}"
    );
    drop(served);
}
