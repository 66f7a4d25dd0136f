//! Replays every committed fuzz input through the fuzz targets' own harnesses
//! (`fuzz/src/targets/`, compiled here as an ordinary module): the corpora under
//! `fuzz/corpus/<target>/` and the crash regressions under `fuzz/regressions/<target>/`.
//!
//! Every input must go through without a panic (the harnesses also assert their invariants),
//! and every seed (`seed-*`, a real file from the test data) must be accepted by its parser.
//! Regression files that must be accepted start with `ok-`.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

#[allow(unreachable_pub)]
#[path = "../fuzz/src/targets/mod.rs"]
mod targets;

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("fuzz")
}

fn inputs(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file() && p.file_name().is_some_and(|n| n != "README.md"))
        .collect();
    files.sort();
    files
}

fn replay(target: &str) {
    let run = targets::ALL
        .iter()
        .find(|(name, _)| *name == target)
        .map(|(_, run)| *run)
        .unwrap_or_else(|| panic!("no fuzz target {target}"));
    let corpus = inputs(&fuzz_dir().join("corpus").join(target));
    assert!(!corpus.is_empty(), "fuzz/corpus/{target} is empty");
    let regressions = inputs(&fuzz_dir().join("regressions").join(target));
    let mut failures = Vec::new();
    for path in corpus.iter().chain(&regressions) {
        let data = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        match catch_unwind(AssertUnwindSafe(|| run(&data))) {
            Ok(accepted) => {
                if !accepted && (name.starts_with("seed-") || name.starts_with("ok-")) {
                    failures.push(format!("{}: refused", path.display()));
                }
            }
            Err(_) => failures.push(format!("{}: panicked", path.display())),
        }
    }
    assert!(
        failures.is_empty(),
        "{target}: {} of {} inputs failed:\n{}",
        failures.len(),
        corpus.len() + regressions.len(),
        failures.join("\n")
    );
}

macro_rules! replay_tests {
    ($($target:ident),* $(,)?) => {
        $(
            #[test]
            fn $target() {
                replay(stringify!($target));
            }
        )*

        #[test]
        fn every_target_is_replayed() {
            let mut listed = vec![$(stringify!($target)),*];
            listed.sort_unstable();
            let mut all: Vec<&str> = targets::ALL.iter().map(|(name, _)| *name).collect();
            all.sort_unstable();
            assert_eq!(listed, all);
        }
    };
}

replay_tests!(
    auth, changelist, cjson, jwe, keyfile, metadata, upload, x509
);
