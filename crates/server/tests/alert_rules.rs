//! The example Prometheus alerting rules (`deploy/prometheus/signet-alerts.yml`) are valid
//! (`promtool check rules`), fire as their unit tests say (`promtool test rules`), and only
//! use metrics the server exports. Without promtool the test is skipped, and fails under `CI`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};

fn rules_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/prometheus")
}

fn promtool(args: &[&str]) {
    let Some(promtool) = common::require_tool("promtool") else {
        return;
    };
    let out = std::process::Command::new(promtool)
        .args(args)
        .current_dir(rules_dir())
        .output()
        .expect("run promtool");
    assert!(
        out.status.success(),
        "promtool {args:?}:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn alert_rules_are_valid() {
    promtool(&["check", "rules", "signet-alerts.yml"]);
}

#[test]
fn alert_rules_fire_as_their_unit_tests_say() {
    promtool(&["test", "rules", "signet-alerts.test.yml"]);
}

/// Every `signet_server_…` and `notary_server_…` name in the rules is one the server exports
/// (so a rename cannot leave an alert that never fires).
#[test]
fn alert_rules_use_exported_metrics() {
    let rules = std::fs::read_to_string(rules_dir().join("signet-alerts.yml")).unwrap();
    let exported: Vec<&str> = vec![
        "notary_server_http_requests_total",
        "notary_server_http_request_duration_seconds_bucket",
        "signet_server_publish_phase_seconds",
        "signet_server_db_errors_total",
        "signet_server_db_pool_connections",
        "signet_server_db_pool_max_connections",
        "signet_server_expired_metadata_served_total",
        "signet_server_metadata_expiry_repositories",
        "signet_server_metadata_earliest_expiry_timestamp_seconds",
        "signet_server_metadata_expiry_backlog_changes",
        "signet_server_metrics_db_collection_success",
        "signet_server_keys",
        "signet_server_build_info",
    ];
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    for name in &exported {
        let family = name.trim_end_matches("_bucket");
        assert!(
            readme.contains(&format!("`{family}")),
            "README lists {family}"
        );
    }
    let mut used = 0;
    for word in rules.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
        if word.starts_with("signet_server_") || word.starts_with("notary_server_") {
            assert!(
                exported.contains(&word),
                "the rules use unknown metric {word}"
            );
            used += 1;
        }
    }
    assert!(used > 0);
}
