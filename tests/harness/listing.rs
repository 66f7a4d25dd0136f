//! Parsers for the tables the notary CLI prints.

use crate::error::{HarnessError, Result};

/// One row of `notary list`: a target as the client resolved it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TargetRow {
    /// Target name.
    pub name: String,
    /// Lower-case hex SHA-256 digest.
    pub sha256: String,
    /// Length in bytes.
    pub size: u64,
    /// The role the target was found in (`targets` or a delegation).
    pub role: String,
}

impl TargetRow {
    /// A row for `contents` stored under `name` in `role`, with its digest and size computed.
    pub fn for_contents(name: &str, contents: &[u8], role: &str) -> Self {
        use sha2::{Digest, Sha256};
        Self {
            name: name.to_owned(),
            sha256: hex::encode(Sha256::digest(contents)),
            size: contents.len() as u64,
            role: role.to_owned(),
        }
    }
}

/// One delegation of `notary delegation list`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DelegationRow {
    /// Role name, e.g. `targets/releases`.
    pub role: String,
    /// Paths in the order printed (sorted); the all-paths entry is the empty string.
    pub paths: Vec<String>,
    /// Canonical key IDs in the order printed.
    pub key_ids: Vec<String>,
    /// Signature threshold.
    pub threshold: u32,
}

const TARGETS_EMPTY: &str = "No targets present in this repository.";
const DELEGATIONS_EMPTY: &str = "No delegations present in this repository.";
const ALL_PATHS: &str = "\"\" <all paths>";

/// Parses the output of `notary list` (columns `NAME DIGEST SIZE (BYTES) ROLE`).
///
/// Rows are split from the right, so names containing spaces or non-ASCII text survive.
pub fn parse_target_list(output: &str) -> Result<Vec<TargetRow>> {
    let what = "notary list";
    let mut rows = Vec::new();
    let mut lines = output
        .lines()
        .filter(|line| !line.trim().is_empty() && line.trim() != TARGETS_EMPTY);
    if let Some(header) = lines.next() {
        expect_header(what, header, &["NAME", "DIGEST", "SIZE (BYTES)", "ROLE"])?;
    }
    for line in lines.skip_while(|line| line.starts_with("----")) {
        let bad = |reason: &str| HarnessError::Parse {
            what,
            line: line.to_owned(),
            reason: reason.to_owned(),
        };
        let (rest, role) = split_last_cell(line).ok_or_else(|| bad("no ROLE column"))?;
        let (rest, size) = split_last_cell(rest).ok_or_else(|| bad("no SIZE column"))?;
        let (name, sha256) = split_last_cell(rest).ok_or_else(|| bad("no DIGEST column"))?;
        if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad("DIGEST is not 64 hex digits"));
        }
        rows.push(TargetRow {
            name: name.to_owned(),
            sha256: sha256.to_ascii_lowercase(),
            size: size.parse().map_err(|_| bad("SIZE is not a number"))?,
            role: role.to_owned(),
        });
    }
    Ok(rows)
}

/// Parses the output of `notary delegation list` (columns `ROLE PATHS KEY IDS THRESHOLD`, extra
/// paths and key IDs of a role on continuation lines with an empty ROLE cell).
pub fn parse_delegation_list(output: &str) -> Result<Vec<DelegationRow>> {
    let what = "notary delegation list";
    let mut rows: Vec<DelegationRow> = Vec::new();
    let mut lines = output
        .lines()
        .filter(|line| !line.trim().is_empty() && line.trim() != DELEGATIONS_EMPTY);
    let Some(header) = lines.next() else {
        return Ok(rows);
    };
    let columns = expect_header(what, header, &["ROLE", "PATHS", "KEY IDS", "THRESHOLD"])?;
    for line in lines.skip_while(|line| line.starts_with("----")) {
        let bad = |reason: &str| HarnessError::Parse {
            what,
            line: line.to_owned(),
            reason: reason.to_owned(),
        };
        // The table is aligned in characters, not bytes.
        let chars: Vec<char> = line.chars().collect();
        let cell = |index: usize| -> String {
            let start = columns[index].min(chars.len());
            let end = columns
                .get(index + 1)
                .map_or(chars.len(), |&c| c.min(chars.len()));
            chars[start..end]
                .iter()
                .collect::<String>()
                .trim()
                .to_owned()
        };
        let (role, path, key_id, threshold) = (cell(0), cell(1), cell(2), cell(3));
        if !role.is_empty() {
            rows.push(DelegationRow {
                role,
                paths: Vec::new(),
                key_ids: Vec::new(),
                threshold: threshold
                    .parse()
                    .map_err(|_| bad("THRESHOLD is not a number"))?,
            });
        }
        let current = rows
            .last_mut()
            .ok_or_else(|| bad("continuation line before any role"))?;
        if path == ALL_PATHS {
            current.paths.push(String::new());
        } else if !path.is_empty() {
            current.paths.push(path);
        }
        if !key_id.is_empty() {
            current.key_ids.push(key_id);
        }
    }
    Ok(rows)
}

/// Checks a table header and returns the character offset where each column starts.
fn expect_header(what: &'static str, header: &str, names: &[&str]) -> Result<Vec<usize>> {
    let mut offsets = Vec::with_capacity(names.len());
    let mut from = 0;
    for name in names {
        let found = header
            .get(from..)
            .and_then(|rest| rest.find(name))
            .ok_or_else(|| HarnessError::Parse {
                what,
                line: header.to_owned(),
                reason: format!("header has no {name:?} column"),
            })?;
        offsets.push(header[..from + found].chars().count());
        from += found + name.len();
    }
    Ok(offsets)
}

/// Splits `line` (trailing spaces ignored) into everything before its last space-separated
/// cell, with trailing spaces removed, and that cell.
fn split_last_cell(line: &str) -> Option<(&str, &str)> {
    let line = line.trim_end();
    let (rest, last) = line.rsplit_once(' ')?;
    let rest = rest.trim_end();
    (!rest.is_empty() && !last.is_empty()).then_some((rest, last))
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIST: &str = "\
NAME                   DIGEST                                                              SIZE (BYTES)    ROLE
----                   ------                                                              ------------    ----
docs/a&b.txt           2f25480af44e3f77b1f6403f38be400a0f73e686a725c3d7be4c1543cb6d9b64    20              targets
docs/grüße.txt         b8fb07e729d2c238732229327c1b0669dcb8a15705340409cbbed2a6995898e2    8               targets
with two  spaces       e2274836c59acf0e38a4c895cb51c15fb90dc13fc251ee8de26a6c85a050b6a9    14              targets/team/qa
";

    #[test]
    fn parses_target_rows_including_odd_names() {
        let rows = parse_target_list(LIST).unwrap();
        assert_eq!(rows.len(), 3);
        assert_eq!(
            rows[0],
            TargetRow {
                name: "docs/a&b.txt".to_owned(),
                sha256: "2f25480af44e3f77b1f6403f38be400a0f73e686a725c3d7be4c1543cb6d9b64"
                    .to_owned(),
                size: 20,
                role: "targets".to_owned(),
            }
        );
        assert_eq!(rows[1].name, "docs/grüße.txt");
        assert_eq!(rows[1].size, 8);
        assert_eq!(rows[2].name, "with two  spaces");
        assert_eq!(rows[2].role, "targets/team/qa");
    }

    #[test]
    fn empty_repository_lists_nothing() {
        let rows = parse_target_list("\nNo targets present in this repository.\n\n").unwrap();
        assert!(rows.is_empty());
    }

    #[test]
    fn rejects_a_row_without_a_digest() {
        let output = "NAME    DIGEST    SIZE (BYTES)    ROLE\n----    ------    ----    ----\nx    nothex    1    targets\n";
        let error = parse_target_list(output).unwrap_err();
        assert!(error.to_string().contains("64 hex"), "{error}");
    }

    #[test]
    fn target_row_for_contents_hashes_them() {
        let row = TargetRow::for_contents("hello", b"hello, notary\n", "targets");
        assert_eq!(
            row.sha256,
            "e2274836c59acf0e38a4c895cb51c15fb90dc13fc251ee8de26a6c85a050b6a9"
        );
        assert_eq!(row.size, 14);
    }

    #[test]
    fn parses_delegations_with_continuation_lines() {
        let output = "\
ROLE                PATHS             KEY IDS                                                             THRESHOLD
----                -----             -------                                                             ---------
targets/releases    \"\" <all paths>    364f2beab9037805701e562b6e7025259c7fb10b75056e9dd179818b9dd45ace    1
targets/team        docs/             8a4c1548e1e0ab4c4dd212b34eb45a27ebefb5265c1ccc6bc0bb21fdddcc1dbe    1
                    team/             b7e6c1bcd8e4abea92437f443bb235c5c22c533afe4d00524840fb734d80f5ef    
targets/team/qa     team/qa/          22ad10b42b8b82589d65dd380af7cb89749ae7e0c7abe9b8cf7a6cbce97d6643    2
";
        let rows = parse_delegation_list(output).unwrap();
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0].role, "targets/releases");
        assert_eq!(rows[0].paths, vec![String::new()]);
        assert_eq!(rows[1].paths, vec!["docs/".to_owned(), "team/".to_owned()]);
        assert_eq!(rows[1].key_ids.len(), 2);
        assert_eq!(
            rows[1].key_ids[1],
            "b7e6c1bcd8e4abea92437f443bb235c5c22c533afe4d00524840fb734d80f5ef"
        );
        assert_eq!(rows[2].threshold, 2);
    }

    #[test]
    fn no_delegations_lists_nothing() {
        let rows =
            parse_delegation_list("\nNo delegations present in this repository.\n\n").unwrap();
        assert!(rows.is_empty());
    }
}
