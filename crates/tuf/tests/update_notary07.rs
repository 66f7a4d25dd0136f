//! The updater over repositories made by the real Go notary 0.7 client and server
//! (`tests/data/notary07`, see its README): every case from an empty cache, from the Go
//! client's own cache, and the rotated root from a cache holding only root version 1.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod update_support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, Utc};
use signet_tuf::metadata::{Envelope, Timestamp};
use signet_tuf::update::{FetchResult, Need, TrustedState, UpdateConfig, UpdateOutcome, Updater};
use update_support::sha256_hex;

const CASES: [&str; 4] = ["basic", "delegations", "rotated-root", "server-snapshot"];

fn case_dir(case: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/notary07")
        .join(case)
}

fn gun(case: &str) -> String {
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(case_dir(case).join("case.json")).unwrap()).unwrap();
    json["gun"].as_str().unwrap().to_owned()
}

/// The server's files by request name (file name without `.json`, with `targets/...`
/// sub-directories), plus `root` (the newest `<N>.root.json`) and `root.<sha256>`.
fn server_files(case: &str) -> BTreeMap<String, Vec<u8>> {
    fn walk(dir: &Path, prefix: &str, out: &mut BTreeMap<String, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let entry = entry.unwrap();
            let name = entry.file_name().into_string().unwrap();
            if entry.file_type().unwrap().is_dir() {
                walk(&entry.path(), &format!("{prefix}{name}/"), out);
            } else if let Some(stem) = name.strip_suffix(".json") {
                out.insert(
                    format!("{prefix}{stem}"),
                    std::fs::read(entry.path()).unwrap(),
                );
            }
        }
    }
    let mut files = BTreeMap::new();
    walk(&case_dir(case).join("server"), "", &mut files);
    let roots: Vec<(i64, Vec<u8>)> = files
        .iter()
        .filter_map(|(k, v)| Some((k.strip_suffix(".root")?.parse().ok()?, v.clone())))
        .collect();
    for (_, bytes) in &roots {
        files.insert(format!("root.{}", sha256_hex(bytes)), bytes.clone());
    }
    let newest = roots.into_iter().max_by_key(|(v, _)| *v).unwrap().1;
    files.insert("root".into(), newest);
    files
}

/// The Go client's metadata cache of the case.
fn go_cache(case: &str) -> TrustedState {
    let dir = case_dir(case)
        .join("trust/tuf")
        .join(gun(case))
        .join("metadata");
    let mut cache = TrustedState::default();
    fn walk(dir: &Path, prefix: &str, cache: &mut TrustedState) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let entry = entry.unwrap();
            let name = entry.file_name().into_string().unwrap();
            if entry.file_type().unwrap().is_dir() {
                walk(&entry.path(), &format!("{prefix}{name}/"), cache);
            } else if let Some(stem) = name.strip_suffix(".json") {
                cache.set(
                    &format!("{prefix}{stem}"),
                    std::fs::read(entry.path()).unwrap(),
                );
            }
        }
    }
    walk(&dir, "", &mut cache);
    cache
}

/// One day before the server's timestamp expires.
fn clock(files: &BTreeMap<String, Vec<u8>>) -> DateTime<Utc> {
    let ts = Envelope::<Timestamp>::parse(&files["timestamp"]).unwrap();
    ts.signed().expires.utc() - Duration::days(1)
}

fn run(case: &str, cache: TrustedState) -> (UpdateOutcome, Vec<String>) {
    let files = server_files(case);
    let mut config = UpdateConfig::new(gun(case), clock(&files));
    config.trusted = cache;
    let mut up = Updater::new(config).unwrap();
    let mut log = Vec::new();
    while let Need::Fetch(req) = up.next_request() {
        log.push(req.path());
        let answer = files
            .get(&req.name)
            .cloned()
            .map_or(FetchResult::NotFound, FetchResult::Bytes);
        if let Err(e) = up.provide(&req, answer) {
            panic!("{case}: {e} ({e:?}); requests {log:?}");
        }
    }
    (up.finish().unwrap(), log)
}

/// `(name, sha256 hex, length, role)` rows of `list.txt`.
fn expected_list(case: &str) -> Vec<(String, String, i64, String)> {
    let text = std::fs::read_to_string(case_dir(case).join("list.txt")).unwrap();
    text.lines()
        .skip(2)
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let cols: Vec<&str> = l.split_whitespace().collect();
            assert_eq!(cols.len(), 4, "{l}");
            (
                cols[0].to_owned(),
                cols[1].to_owned(),
                cols[2].parse().unwrap(),
                cols[3].to_owned(),
            )
        })
        .collect()
}

fn listed(out: &UpdateOutcome) -> Vec<(String, String, i64, String)> {
    out.trusted
        .list_targets(&[])
        .into_iter()
        .map(|t| {
            let sha = hex::encode(t.meta.sha256().unwrap());
            (t.name, sha, t.meta.length, t.role)
        })
        .collect()
}

#[test]
fn every_case_from_an_empty_cache_lists_what_notary_lists() {
    for case in CASES {
        let (out, log) = run(case, TrustedState::default());
        assert_eq!(log[0], "root.json", "{case}");
        assert_eq!(log[1], "timestamp.json", "{case}");
        assert_eq!(listed(&out), expected_list(case), "{case}");
        assert!(
            out.cache_writes.iter().any(|w| w.role == "root"),
            "{case}: the new root must be cached"
        );
        // No delegation is skipped and nothing is retried.
        assert!(out.warnings.is_empty(), "{case}: {:?}", out.warnings);
    }
}

#[test]
fn every_case_from_the_go_clients_cache_needs_only_the_timestamp() {
    for case in CASES {
        let (out, log) = run(case, go_cache(case));
        assert_eq!(log, ["timestamp.json"], "{case}");
        assert_eq!(listed(&out), expected_list(case), "{case}");
    }
}

#[test]
fn rotated_root_from_a_cache_holding_root_v1_walks_every_version() {
    let case = "rotated-root";
    let files = server_files(case);
    let cache = TrustedState {
        root: Some(files["1.root"].clone()),
        ..TrustedState::default()
    };
    let (out, log) = run(case, cache);
    let snapshot = format!("snapshot.{}.json", {
        let ts = Envelope::<Timestamp>::parse(&files["timestamp"]).unwrap();
        hex::encode(ts.signed().snapshot_meta().unwrap().sha256().unwrap())
    });
    // Pass 1 fails on the snapshot (signed by a key root v1 does not list); then the newest
    // root is fetched, the chain walked, and the pass repeated.
    assert_eq!(
        log[..7],
        [
            "timestamp.json".to_owned(),
            snapshot.clone(),
            "root.json".into(),
            "2.root.json".into(),
            "3.root.json".into(),
            "4.root.json".into(),
            "timestamp.json".into(),
        ]
    );
    assert_eq!(log[7], snapshot);
    assert_eq!(out.trusted.root().version(), 5);
    assert_eq!(out.trusted.root().bytes(), files["5.root"].as_slice());
    let root_write = out.cache_writes.iter().find(|w| w.role == "root").unwrap();
    assert_eq!(*root_write.bytes, files["5.root"]);
    assert_eq!(listed(&out), expected_list(case));
    assert!(matches!(
        out.warnings.as_slice(),
        [signet_tuf::update::Warning::Retried { .. }]
    ));
}

#[test]
fn delegation_case_resolves_by_role_priority() {
    let (out, _) = run("delegations", TrustedState::default());
    let r = &out.trusted;
    assert_eq!(
        r.get_target_by_name("team/qa/report", &[]).unwrap().role,
        "targets/team/qa"
    );
    assert_eq!(
        r.get_target_by_name("release-1.0", &["targets/releases"])
            .unwrap()
            .role,
        "targets/releases"
    );
    let all = r.all_target_metadata_by_name("team/app").unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].role.name, "targets/team");
    assert_eq!(all[0].role.paths, ["team/"]);
    assert_eq!(all[0].signatures.len(), 1);
    assert_eq!(all[0].signatures[0].method, "rsapss");
    let qa = r.targets_role("targets/team/qa").unwrap();
    assert_eq!(qa.signatures().len(), 2);
    assert!(r.get_target_by_name("missing", &[]).is_err());
}
