//! `signet resign` against a `signet-server` started by the harness: versions and expiries are
//! pushed forward for the roles re-signed, other roles are left alone, missing keys and unknown
//! roles are refused, and the Go notary client still reads the result.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use chrono::Timelike;
use common::{ServerSandbox, json};

const GUN: &str = "example.com/resign";

/// A sandbox with a published repository holding one target.
struct Env(ServerSandbox);

impl std::ops::Deref for Env {
    type Target = ServerSandbox;

    fn deref(&self) -> &ServerSandbox {
        &self.0
    }
}

impl Env {
    fn new() -> Self {
        let env = Self(ServerSandbox::start());
        env.ok(&["init", GUN]);
        env.sandbox.file("hello.txt", b"hello, world\n");
        env.ok(&["add", GUN, "hello", "hello.txt"]);
        env.ok(&["publish", GUN]);
        // Refresh the cached metadata to what the server holds.
        env.ok(&["list", GUN]);
        env
    }

    /// `signed.version` and `signed.expires` of the cached `role.json`.
    fn cached(&self, role: &str) -> (u64, String) {
        let doc = self.cached_metadata(GUN, role);
        (
            doc["signed"]["version"].as_u64().unwrap(),
            doc["signed"]["expires"].as_str().unwrap().to_owned(),
        )
    }
}

/// Years between now and an RFC 3339 timestamp, rounded down.
fn years_from_now(expires: &str) -> i64 {
    let at = year_of(expires);
    at - current_year()
}

fn year_of(timestamp: &str) -> i64 {
    timestamp[..4].parse().unwrap()
}

fn current_year() -> i64 {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    // Good enough to the year: 365.2425 days a year since 1970.
    1970 + (secs as f64 / (365.2425 * 86_400.0)) as i64
}

/// The stdout and stderr of a run that must exit with status 1.
fn failure(out: &std::process::Output) -> String {
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(1), "should fail with 1:\n{text}");
    text
}

#[test]
fn held_roles_get_new_versions_and_expiries() {
    let env = Env::new();
    let root = env.cached("root");
    let targets = env.cached("targets");

    let out = env.ok(&["resign", GUN]);
    assert!(
        out.contains(&format!("Re-signed trust data for {GUN}")),
        "{out}"
    );

    let new_root = env.cached("root");
    let new_targets = env.cached("targets");
    assert_eq!(new_root.0, root.0 + 1, "root version bumped");
    assert_eq!(new_targets.0, targets.0 + 1, "targets version bumped");
    assert!(new_targets.1 >= targets.1, "targets expiry not earlier");
    assert!(new_root.1 >= root.1, "root expiry not earlier");
    assert_eq!(years_from_now(&new_root.1), 10, "root expires in 10 years");
    assert_eq!(
        years_from_now(&new_targets.1),
        3,
        "targets expire in 3 years"
    );
    for line in [
        format!("{} -> {}", root.0, root.0 + 1),
        format!("{} -> {}", targets.0, targets.0 + 1),
    ] {
        assert!(out.contains(&line), "{line} missing from:\n{out}");
    }

    // A fresh client sees the new versions and the target.
    let listed = env
        .sandbox
        .signet_in("fresh")
        .args(["-s", env.server.url(), "list", GUN])
        .output()
        .unwrap();
    assert!(listed.status.success());
    let listed = String::from_utf8(listed.stdout).unwrap();
    assert!(listed.contains("hello"), "{listed}");
}

#[test]
fn roles_not_requested_are_untouched() {
    let env = Env::new();
    let root = env.cached("root");
    let targets = env.cached("targets");

    let doc = json(&env.ok(&["--output", "json", "resign", GUN, "-r", "targets"]));
    let roles: Vec<&str> = doc["roles"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["role"] != "snapshot" && r["role"] != "timestamp")
        .map(|r| r["role"].as_str().unwrap())
        .collect();
    // Snapshot and timestamp always follow a new targets; root must not change.
    assert_eq!(roles, ["targets"]);

    // Refresh the cache from the server.
    env.ok(&["list", GUN]);
    assert_eq!(env.cached("root"), root, "root left alone");
    let new_targets = env.cached("targets");
    assert_eq!(new_targets.0, targets.0 + 1);
}

#[test]
fn a_requested_role_without_its_key_is_an_error() {
    let env = Env::new();
    let private = env.sandbox.trust_dir().join("private");
    let mut removed = Vec::new();
    for entry in std::fs::read_dir(&private).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        if text.contains("role: targets") {
            removed.push(path.file_stem().unwrap().to_string_lossy().into_owned());
            std::fs::remove_file(&path).unwrap();
        }
    }
    assert_eq!(removed.len(), 1, "one targets key in the trust dir");
    let targets = env.cached("targets");

    let text = failure(&env.run(&["resign", GUN, "-r", "targets"]));
    assert!(text.contains("targets"), "{text}");
    assert!(text.contains(&removed[0]), "names the key ID:\n{text}");
    env.ok(&["list", GUN]);
    assert_eq!(env.cached("targets"), targets, "nothing was uploaded");

    // Without --role the targets role is skipped and reported, root is still re-signed.
    let doc = json(&env.ok(&["--output", "json", "resign", GUN]));
    let skipped = &doc["skipped"].as_array().unwrap()[0];
    assert_eq!(skipped["role"], "targets");
    assert_eq!(skipped["key_ids"][0], removed[0].as_str());
}

#[test]
fn unknown_roles_are_refused() {
    let env = Env::new();
    let text = failure(&env.run(&["resign", GUN, "-r", "nonsense"]));
    assert!(text.contains("nonsense"), "{text}");
}

#[test]
fn json_output() {
    let env = Env::new();
    let out = env.ok(&["--output", "json", "resign", GUN]);
    let doc = json(&out);
    for role in doc["roles"].as_array().unwrap() {
        assert!(role["new_version"].as_u64() > role["old_version"].as_u64());
    }
    insta::assert_snapshot!("resign_json", mask_dates(&env.sandbox.mask(&out)));
}

/// Replaces RFC 3339 timestamps (`YYYY-MM-DDTHH:MM:SSZ`) by `[DATE]`.
fn mask_dates(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(pos) = rest.find('"') {
        out.push_str(&rest[..=pos]);
        rest = &rest[pos + 1..];
        let end = rest.find('"').unwrap_or(rest.len());
        let candidate = &rest[..end];
        if candidate.len() == 20 && candidate.as_bytes()[10] == b'T' && candidate.ends_with('Z') {
            out.push_str("[DATE]");
            rest = &rest[end..];
        }
    }
    out.push_str(rest);
    out
}

/// `signed.expires` of the cached `role.json`, parsed.
fn expiry(env: &Env, role: &str) -> chrono::DateTime<chrono::Utc> {
    let (_, text) = env.cached(role);
    chrono::DateTime::parse_from_rfc3339(&text)
        .unwrap_or_else(|e| panic!("{role} expiry {text}: {e}"))
        .to_utc()
}

/// Asserts that `at` lies between `before + lifetime` and `after + lifetime` (the instants
/// around the command), give or take a second for the seconds precision of the output.
fn assert_expires_after(
    what: &str,
    at: chrono::DateTime<chrono::Utc>,
    before: chrono::DateTime<chrono::Utc>,
    after: chrono::DateTime<chrono::Utc>,
    lifetime: chrono::TimeDelta,
) {
    let second = chrono::TimeDelta::seconds(1);
    assert!(
        at >= before + lifetime - second && at <= after + lifetime + second,
        "{what} expires at {at}, expected between {} and {}",
        before + lifetime,
        after + lifetime
    );
}

/// `--expires` sets every role re-signed on request to now plus the duration; the timestamp
/// is the server's and is named as such.
#[test]
fn expires_applies_to_every_resigned_role() {
    let env = Env::new();
    let timestamp = env.cached("timestamp");
    let before = chrono::Utc::now();
    let out = env.ok(&["resign", GUN, "--expires", "8760h"]);
    let after = chrono::Utc::now();
    // Refresh the cache (timestamp and snapshot included) from the server.
    env.ok(&["list", GUN]);
    let year = chrono::TimeDelta::hours(8760);
    for role in ["root", "targets", "snapshot"] {
        assert_expires_after(role, expiry(&env, role), before, after, year);
    }
    let new_timestamp = env.cached("timestamp");
    assert!(
        new_timestamp.0 > timestamp.0,
        "the server re-signed the timestamp"
    );
    assert!(
        expiry(&env, "timestamp") < before + chrono::TimeDelta::days(15),
        "the timestamp keeps the server's lifetime"
    );
    assert!(
        out.contains("Not re-signed here")
            && out.contains("--expires does not apply")
            && out.contains(": timestamp"),
        "{out}"
    );
}

/// With `--role`, only the roles named get the lifetime; a snapshot re-signed because targets
/// changed keeps its default.
#[test]
fn expires_with_role_applies_to_that_role_only() {
    let env = Env::new();
    let root = env.cached("root");
    let before = chrono::Utc::now();
    let doc = json(&env.ok(&[
        "--output",
        "json",
        "resign",
        GUN,
        "-r",
        "targets",
        "--expires",
        "90m",
    ]));
    let after = chrono::Utc::now();
    assert_eq!(doc["expires"], "90m");
    env.ok(&["list", GUN]);
    assert_expires_after(
        "targets",
        expiry(&env, "targets"),
        before,
        after,
        chrono::TimeDelta::minutes(90),
    );
    assert_eq!(env.cached("root"), root, "root left alone");
    assert_eq!(
        years_from_now(&env.cached("snapshot").1),
        3,
        "snapshot default"
    );
    let targets = doc["roles"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["role"] == "targets")
        .unwrap();
    let shown = chrono::DateTime::parse_from_rfc3339(targets["new_expires"].as_str().unwrap())
        .unwrap()
        .to_utc();
    assert_eq!(shown, expiry(&env, "targets").with_nanosecond(0).unwrap());
}

/// Durations that are not usable are refused before anything is fetched or uploaded.
#[test]
fn invalid_expiries_are_refused_and_change_nothing() {
    let env = Env::new();
    let root = env.cached("root");
    let targets = env.cached("targets");
    for (value, reason) in [
        ("0", "positive"),
        ("-8760h", "positive"),
        ("0s", "positive"),
        ("30s", "at least one minute"),
        ("101y", "at most 100 years"),
        ("876001h", "at most 100 years"),
        ("99999999999999999999999999999999y", "out of range"),
        ("10", "missing unit"),
        ("3 years", "unknown unit"),
        ("abc", "expected a number"),
    ] {
        let flag = format!("--expires={value}");
        let text = failure(&env.run(&["resign", GUN, &flag]));
        assert!(
            text.contains(&format!("invalid expiry duration {value:?}")) && text.contains(reason),
            "{value}: {text}"
        );
    }
    // Root must get six months: the whole re-sign is refused, naming root and the GUN.
    let text = failure(&env.run(&["resign", GUN, "--expires", "30d"]));
    assert!(
        text.contains("root") && text.contains(GUN) && text.contains("six months"),
        "{text}"
    );
    let doc = json(
        &String::from_utf8(
            env.run(&["--output", "json", "resign", GUN, "--expires=-1h"])
                .stdout,
        )
        .unwrap(),
    );
    assert!(
        doc["error"]["message"]
            .as_str()
            .unwrap()
            .contains("\"-1h\""),
        "{doc}"
    );
    env.ok(&["list", GUN]);
    assert_eq!(env.cached("root"), root, "nothing was uploaded");
    assert_eq!(env.cached("targets"), targets, "nothing was uploaded");
}

#[test]
fn go_notary_lists_targets_after_resign() {
    let Some(go) = signet_e2e::require_tool("notary") else {
        return;
    };
    let env = Env::new();
    env.ok(&["resign", GUN]);
    // Short lifetimes too: targets and snapshot for 90 minutes, root for one year.
    env.ok(&[
        "resign",
        GUN,
        "-r",
        "targets",
        "-r",
        "snapshot",
        "--expires",
        "90m",
    ]);
    env.ok(&["resign", GUN, "-r", "root", "--expires", "1y"]);
    let out = std::process::Command::new(go)
        .current_dir(env.sandbox.path())
        .env("HOME", env.sandbox.path().join("home"))
        .args(["-s", env.server.url(), "-d", "go-fresh", "list", GUN])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "notary list failed:\n{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("hello"), "{text}");
}
