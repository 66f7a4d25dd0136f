//! Helpers shared by the e2e test modules.

use signet_e2e::require_tool;

/// Whether the Go `notary` and `notary-server` binaries are available (skip notice otherwise;
/// a failure under CI).
pub(crate) fn go_notary_available() -> bool {
    require_tool("notary-server").is_some() && require_tool("notary").is_some()
}

/// Sorts rows for order-independent comparison.
pub(crate) fn sorted<T: Ord>(mut rows: Vec<T>) -> Vec<T> {
    rows.sort();
    rows
}
