//! `changelist`: the staged change files of a trust directory (`tuf/<gun>/changelist/*.change`,
//! written by signet and by every Go notary version) and the payloads they carry.
//!
//! Input: one change file. It is parsed as [`Change`] and its payload read as whatever the
//! change could carry (target meta, delegation, root role); the input is also read directly as
//! each payload. Invariant: what signet writes back for a parsed value (Go's JSON form) parses
//! again and is then written identically, so staged files are stable.

use signet_client::changelist::{Change, DelegationChange, RootRoleChange, TargetMeta};

/// Checks that `write(parse(write(value)))` is `write(value)`.
fn stable<T>(
    what: &str,
    value: &T,
    write: impl Fn(&T) -> Vec<u8>,
    parse: impl Fn(&[u8]) -> Result<T, String>,
) {
    let written = write(value);
    match parse(&written) {
        Ok(again) => assert_eq!(
            write(&again),
            written,
            "{what} written by signet reads back differently"
        ),
        Err(e) => panic!("{what} written by signet does not parse: {e}"),
    }
}

fn target_meta(meta: &TargetMeta) {
    stable(
        "target meta",
        meta,
        TargetMeta::to_go_json,
        TargetMeta::from_json,
    );
}

fn delegation(change: &DelegationChange) {
    stable(
        "delegation change",
        change,
        DelegationChange::to_go_json,
        DelegationChange::from_json,
    );
}

fn root_role(change: &RootRoleChange) {
    stable(
        "root role change",
        change,
        RootRoleChange::to_go_json,
        RootRoleChange::from_json,
    );
}

/// Runs one input; `true` when it parsed as a change file.
pub fn run(data: &[u8]) -> bool {
    if let Ok(meta) = TargetMeta::from_json(data) {
        target_meta(&meta);
    }
    if let Ok(change) = DelegationChange::from_json(data) {
        delegation(&change);
    }
    if let Ok(change) = RootRoleChange::from_json(data) {
        root_role(&change);
    }
    let Ok(change) = Change::from_json(data) else {
        return false;
    };
    stable("change", &change, Change::to_json, Change::from_json);
    if let Ok(meta) = change.target_meta() {
        target_meta(&meta);
    }
    if let Ok(d) = change.delegation_change() {
        delegation(&d);
    }
    if let Ok(r) = change.root_role_change() {
        root_role(&r);
    }
    true
}
