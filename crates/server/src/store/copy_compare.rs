//! Comparing copied rows with the rows a store already holds (`import-notary-server`): which
//! columns differ, and which rows of a batch are new. Shared by both backends' copy sessions.

use std::collections::HashMap;
use std::hash::Hash;

use super::types::{CopiedChange, CopiedFile, CopyOutcome};

/// The columns in which two `tuf_files` rows with the same key differ.
pub(crate) fn file_differences(new: &CopiedFile, stored: &CopiedFile) -> Vec<&'static str> {
    let mut out = Vec::new();
    if new.data != stored.data {
        out.push("data");
    }
    if new.sha256 != stored.sha256.trim_end() {
        out.push("sha256");
    }
    if new.created_at != stored.created_at {
        out.push("created_at");
    }
    if new.updated_at != stored.updated_at {
        out.push("updated_at");
    }
    if new.deleted_at != stored.deleted_at {
        out.push("deleted_at");
    }
    out
}

/// The columns in which two changefeed records with the same ID differ.
pub(crate) fn change_differences(new: &CopiedChange, stored: &CopiedChange) -> Vec<&'static str> {
    let mut out = Vec::new();
    if new.created_at != stored.created_at {
        out.push("created_at");
    }
    if new.gun != stored.gun {
        out.push("gun");
    }
    if new.version != stored.version {
        out.push("version");
    }
    if new.sha256.as_deref().map(str::trim_end) != stored.sha256.as_deref().map(str::trim_end) {
        out.push("sha256");
    }
    if new.category != stored.category {
        out.push("category");
    }
    out
}

/// The (GUN, role, version) key of a file row.
pub(crate) fn file_key(r: &CopiedFile) -> (String, String, i64) {
    (r.gun.clone(), r.role.clone(), r.version)
}

/// Classifies `rows` against the `stored` rows of the same keys, and against earlier rows of
/// the same batch. Returns each row's outcome and the indexes of the rows to insert.
pub(crate) fn classify<R, K: Hash + Eq>(
    rows: &[R],
    key: impl Fn(&R) -> K,
    stored: &HashMap<K, R>,
    differences: impl Fn(&R, &R) -> Vec<&'static str>,
) -> (Vec<CopyOutcome>, Vec<usize>) {
    let mut outcomes = Vec::with_capacity(rows.len());
    let mut insert = Vec::new();
    let mut earlier: HashMap<K, usize> = HashMap::new();
    for (i, row) in rows.iter().enumerate() {
        let k = key(row);
        let other = stored
            .get(&k)
            .or_else(|| earlier.get(&k).and_then(|&j| rows.get(j)));
        outcomes.push(match other {
            Some(other) => {
                let d = differences(row, other);
                if d.is_empty() {
                    CopyOutcome::Identical
                } else {
                    CopyOutcome::Differs(d)
                }
            }
            None => {
                earlier.insert(k, i);
                insert.push(i);
                CopyOutcome::New
            }
        });
    }
    (outcomes, insert)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::types::test_file as file;

    #[test]
    fn classification_against_stored_and_earlier_rows() {
        let stored: HashMap<_, _> = [file("g", 1, b"a"), file("g", 2, b"b")]
            .into_iter()
            .map(|f| (file_key(&f), f))
            .collect();
        let rows = vec![
            file("g", 1, b"a"),
            file("g", 2, b"x"),
            file("g", 3, b"c"),
            file("g", 3, b"c"),
            file("g", 3, b"d"),
        ];
        let (outcomes, insert) = classify(&rows, file_key, &stored, file_differences);
        assert_eq!(
            outcomes,
            vec![
                CopyOutcome::Identical,
                CopyOutcome::Differs(vec!["data", "sha256"]),
                CopyOutcome::New,
                CopyOutcome::Identical,
                CopyOutcome::Differs(vec!["data", "sha256"]),
            ]
        );
        assert_eq!(insert, vec![2]);
    }

    #[test]
    fn change_comparison_ignores_char_padding() {
        let a = CopiedChange {
            id: 1,
            created_at: None,
            gun: "g".to_owned(),
            version: 0,
            sha256: Some(String::new()),
            category: "deletion".to_owned(),
        };
        let mut b = a.clone();
        b.sha256 = Some(" ".repeat(64));
        assert!(change_differences(&a, &b).is_empty());
        b.sha256 = None;
        assert_eq!(change_differences(&a, &b), vec!["sha256"]);
    }
}
