//! Staged changes, byte-compatible with Go notary's file changelist.
//!
//! Each change is one file in `tuf/<gun>/changelist/` named
//! `<20-digit Unix nanoseconds>_<uuid v4>.change` (mode 0600) holding Go's `encoding/json` form
//! of
//!
//! ```text
//! {"action":A,"role":SCOPE,"type":T,"path":P,"data":<base64 of a JSON payload> | null}
//! ```
//!
//! Changes are ordered by file name (byte order, every non-directory entry counts, whatever its
//! suffix). [`FileChangelist::list`] skips files it cannot parse and reports them as
//! [`ChangelistWarning`]s; [`FileChangelist::changes_for_publish`] refuses them, as Go's
//! iterator does.
//!
//! Payloads ([`Change::data`], JSON, then base64 in the file):
//!
//! | type / action | payload |
//! |---|---|
//! | `target` / `create` | [`TargetMeta`]: `{"length":N,"hashes":{...},"custom":...}` |
//! | `target` / `delete` | none |
//! | `delegation` / `create`, `update` | [`DelegationChange`] (all fields optional) |
//! | `delegation` / `delete` | none (remove the whole role) |
//! | `role` / `create`, scope `root` | [`RootRoleChange`]: `{"keys":[...],"role":R}` |
//! | `witness` / `update` | none |
//!
//! The change model and its Go codecs live in `change`, the directory store and its thread
//! pool in `store`.

mod change;
mod store;

/// Suffix of changelist file names.
pub const CHANGE_FILE_SUFFIX: &str = ".change";
/// The scope of changes to root keys.
pub const SCOPE_ROOT: &str = "root";
/// The scope of changes to the top-level targets role.
pub const SCOPE_TARGETS: &str = "targets";
/// The scope of a delegation purge: every delegation in the tree.
pub const SCOPE_ALL_DELEGATIONS: &str = "targets/*";

pub use change::{
    Action, Change, ChangeType, DelegationChange, RawJson, RootRoleChange, TargetMeta,
};
pub use store::{ChangeListing, ChangelistWarning, FileChangelist, StagedChange};

#[cfg(test)]
mod tests;
