//! `docker trust inspect`: the JSON model and the `--pretty` tables.

use std::collections::BTreeMap;

use serde::Serialize;
use signet_tuf::metadata::Root;
use signet_tuf::role;
use signet_tuf::update::{ResolvedRole, TargetSigned};

use super::{RELEASES_ROLE, is_released_role, natural_cmp, signer_name};

pub use signet_tuf::role::RELEASED_ROLE_NAME;

/// One repository as `docker trust inspect` prints it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TrustRepo {
    /// The image argument as given.
    pub name: String,
    /// The released tags, in natural order of their names.
    pub signed_tags: Vec<SignedTag>,
    /// The signers (delegations other than `targets/releases`), by name descending.
    pub signers: Vec<TrustSigner>,
    /// `Root` and `Repository` (the targets keys).
    pub administrative_keys: Vec<TrustSigner>,
}

/// A released tag and who signed it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SignedTag {
    /// The tag.
    pub signed_tag: String,
    /// The hex sha256 digest of its manifest (empty when the target has no sha256 hash).
    pub digest: String,
    /// The signers that signed the same tag and digest; `["Repo Admin"]` when none.
    pub signers: Vec<String>,
}

/// A signer (or an administrative role) and its keys.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TrustSigner {
    /// The signer name (the role without `targets/`), `Root` or `Repository`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Its keys.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub keys: Vec<TrustKey>,
}

/// A key ID.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TrustKey {
    /// The key ID (canonical for signers, as listed in root for administrative keys).
    #[serde(rename = "ID")]
    pub id: String,
}

/// Docker's released rows: every (tag, sha256) signed in `targets` or `targets/releases`, with
/// the other roles that sign the same tag and digest (in walk order), sorted by tag in natural
/// order. Rows without other signers have an empty signer list.
pub fn released_rows(targets: &[TargetSigned]) -> Vec<SignedTag> {
    let key = |t: &TargetSigned| {
        (
            t.name.clone(),
            t.meta
                .hashes
                .get("sha256")
                .map(hex::encode)
                .unwrap_or_default(),
        )
    };
    let mut rows: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for target in targets.iter().filter(|t| is_released_role(&t.role.name)) {
        rows.entry(key(target)).or_default();
    }
    for target in targets.iter().filter(|t| !is_released_role(&t.role.name)) {
        if let Some(signers) = rows.get_mut(&key(target)) {
            signers.push(signer_name(&target.role.name).to_owned());
        }
    }
    let mut out: Vec<SignedTag> = rows
        .into_iter()
        .map(|((signed_tag, digest), signers)| SignedTag {
            signed_tag,
            digest,
            signers,
        })
        .collect();
    out.sort_by(|a, b| natural_cmp(&a.signed_tag, &b.signed_tag));
    out
}

/// The IDs docker shows for a delegation's keys: the canonical (public-key) ID, or the TUF key
/// ID when the key has no canonical form.
pub(crate) fn canonical_key_ids(delegation: &ResolvedRole) -> impl Iterator<Item = String> + '_ {
    delegation.keys.iter().map(|(id, key)| {
        key.canonical_key_id()
            .map_or_else(|_| id.to_string(), |c| c.to_string())
    })
}

/// The signers of a repository: every delegation except `targets/releases`, with the
/// canonical IDs of its keys (sorted), by name descending.
pub fn signers(delegations: &[ResolvedRole]) -> Vec<TrustSigner> {
    let mut out: Vec<TrustSigner> = Vec::new();
    for delegation in delegations {
        if delegation.name == RELEASES_ROLE || out.iter().any(|s| s.name == delegation.name) {
            continue;
        }
        let mut ids: Vec<String> = canonical_key_ids(delegation).collect();
        ids.sort();
        ids.dedup();
        out.push(TrustSigner {
            name: signer_name(&delegation.name).to_owned(),
            keys: ids.into_iter().map(|id| TrustKey { id }).collect(),
        });
    }
    out.sort_by(|a, b| b.name.cmp(&a.name));
    out
}

/// The administrative keys: `Root` (the root role's key IDs) and `Repository` (the targets
/// role's), in that order (docker sorts by name descending).
pub fn administrative_keys(root: &Root) -> Vec<TrustSigner> {
    let keys = |role_name: &str| {
        root.roles
            .get(role_name)
            .map(|r| {
                r.keyids
                    .iter()
                    .map(|id| TrustKey { id: id.to_string() })
                    .collect()
            })
            .unwrap_or_default()
    };
    vec![
        TrustSigner {
            name: "Root".to_owned(),
            keys: keys(role::ROOT),
        },
        TrustSigner {
            name: "Repository".to_owned(),
            keys: keys(role::TARGETS),
        },
    ]
}

/// The whole inspect document for one image argument.
pub fn trust_repo(
    name: &str,
    targets: &[TargetSigned],
    delegations: &[ResolvedRole],
    root: &Root,
) -> TrustRepo {
    let signed_tags = released_rows(targets)
        .into_iter()
        .map(|mut row| {
            if row.signers.is_empty() {
                row.signers = vec![RELEASED_ROLE_NAME.to_owned()];
            }
            row
        })
        .collect();
    TrustRepo {
        name: name.to_owned(),
        signed_tags,
        signers: signers(delegations),
        administrative_keys: administrative_keys(root),
    }
}

/// The JSON docker prints: an array indented with four spaces and a final newline (`[]` when
/// there is nothing to show).
///
/// # Errors
///
/// Never in practice; serialisation errors are passed on.
pub fn to_json(repos: &[TrustRepo]) -> serde_json::Result<String> {
    if repos.is_empty() {
        return Ok("[]\n".to_owned());
    }
    let mut out = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, formatter);
    repos.serialize(&mut serializer)?;
    let mut text = String::from_utf8_lossy(&out).into_owned();
    text.push('\n');
    Ok(text)
}

/// Lays out rows as Go's `tabwriter` does for docker's tables (minimum cell width 10,
/// padding 3, the last column unpadded).
pub fn docker_table(rows: &[Vec<String>]) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let mut widths = vec![0usize; columns];
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if i + 1 < row.len() {
                widths[i] = widths[i].max((cell.chars().count() + 3).max(10));
            }
        }
    }
    let mut out = String::new();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            out.push_str(cell);
            if i + 1 < row.len() {
                let pad = widths[i].saturating_sub(cell.chars().count());
                out.push_str(&" ".repeat(pad));
            }
        }
        out.push('\n');
    }
    out
}

/// `docker trust inspect --pretty` for one repository.
pub fn pretty(repo: &TrustRepo) -> String {
    let name = &repo.name;
    let mut out = String::new();
    let rows = &repo.signed_tags;
    if rows.is_empty() {
        out.push_str(&format!("\nNo signatures for {name}\n\n"));
    } else {
        out.push_str(&format!("\nSignatures for {name}\n\n"));
        let mut table = vec![vec![
            "SIGNED TAG".to_owned(),
            "DIGEST".to_owned(),
            "SIGNERS".to_owned(),
        ]];
        for row in rows {
            let mut signers = if row.signers == [RELEASED_ROLE_NAME] {
                vec![format!("({RELEASED_ROLE_NAME})")]
            } else {
                row.signers.clone()
            };
            signers.sort();
            table.push(vec![
                row.signed_tag.clone(),
                row.digest.clone(),
                signers.join(", "),
            ]);
        }
        out.push_str(&docker_table(&table));
    }
    if !repo.signers.is_empty() {
        out.push_str(&format!("\nList of signers and their keys for {name}\n\n"));
        let mut signers = repo.signers.clone();
        signers.sort_by(|a, b| natural_cmp(&a.name, &b.name));
        let mut table = vec![vec!["SIGNER".to_owned(), "KEYS".to_owned()]];
        for signer in &signers {
            let mut ids: Vec<String> = signer.keys.iter().map(|k| k.id.clone()).collect();
            ids.sort();
            let short: Vec<String> = ids.iter().map(|id| id.chars().take(12).collect()).collect();
            table.push(vec![signer.name.clone(), short.join(", ")]);
        }
        out.push_str(&docker_table(&table));
    }
    out.push_str(&format!("\nAdministrative keys for {name}\n\n"));
    // Docker sorts the administrative roles by their TUF names descending: targets, root.
    for (label, admin) in [("Repository Key", "Repository"), ("Root Key", "Root")] {
        if let Some(signer) = repo.administrative_keys.iter().find(|s| s.name == admin) {
            let mut ids: Vec<String> = signer.keys.iter().map(|k| k.id.clone()).collect();
            ids.sort();
            out.push_str(&format!("  {label}:\t{}\n", ids.join(", ")));
        }
    }
    out
}

#[cfg(test)]
mod tests {

    use signet_tuf::metadata::FileMeta;
    use signet_tuf::{KeyType, PublicKey};

    use super::*;

    fn role(name: &str, keys: &[PublicKey]) -> ResolvedRole {
        ResolvedRole {
            name: name.to_owned(),
            keys: keys.iter().map(|k| (k.key_id(), k.clone())).collect(),
            threshold: 1,
            paths: vec![String::new()],
            path_hash_prefixes: Vec::new(),
        }
    }

    fn signed(name: &str, digest: u8, role_name: &str) -> TargetSigned {
        TargetSigned {
            name: name.to_owned(),
            meta: FileMeta {
                custom: None,
                hashes: signet_tuf::metadata::Hashes::from([("sha256", vec![digest; 32])]),
                length: 5,
                unknown: serde_json::Map::new(),
            },
            role: role(role_name, &[]),
            signatures: Vec::new(),
        }
    }

    #[test]
    fn released_rows_collect_signers_of_the_same_digest() {
        let targets = vec![
            signed("v10", 1, "targets"),
            signed("v2", 2, "targets/releases"),
            signed("v2", 2, "targets/alice"),
            signed("v2", 3, "targets/bob"),
            signed("unreleased", 4, "targets/alice"),
            signed("v2", 2, "targets/carol"),
        ];
        let rows = released_rows(&targets);
        let tags: Vec<&str> = rows.iter().map(|r| r.signed_tag.as_str()).collect();
        assert_eq!(tags, ["v2", "v10"]);
        assert_eq!(rows[0].digest, "02".repeat(32));
        assert_eq!(rows[0].signers, ["alice", "carol"]);
        assert!(rows[1].signers.is_empty());
    }

    #[test]
    fn json_matches_docker_layout() {
        let alice = PublicKey::new(KeyType::Ed25519, vec![7; 32]);
        let bob = PublicKey::new(KeyType::Ed25519, vec![8; 32]);
        let delegations = vec![
            role("targets/releases", &[alice.clone(), bob.clone()]),
            role("targets/alice", std::slice::from_ref(&alice)),
            role("targets/bob", std::slice::from_ref(&bob)),
        ];
        let root: Root = serde_json::from_value(serde_json::json!({
            "_type": "Root",
            "consistent_snapshot": false,
            "expires": "2030-01-01T00:00:00Z",
            "keys": {},
            "roles": {
                "root": {"keyids": ["aa".repeat(32)], "threshold": 1},
                "targets": {"keyids": ["bb".repeat(32)], "threshold": 1}
            },
            "version": 1
        }))
        .unwrap();
        let targets = vec![
            signed("v1", 1, "targets/releases"),
            signed("v1", 1, "targets/alice"),
            signed("latest", 9, "targets"),
        ];
        let repo = trust_repo("reg:5000/app", &targets, &delegations, &root);
        let text = to_json(std::slice::from_ref(&repo)).unwrap();
        let expected = format!(
            r#"[
    {{
        "Name": "reg:5000/app",
        "SignedTags": [
            {{
                "SignedTag": "latest",
                "Digest": "{d9}",
                "Signers": [
                    "Repo Admin"
                ]
            }},
            {{
                "SignedTag": "v1",
                "Digest": "{d1}",
                "Signers": [
                    "alice"
                ]
            }}
        ],
        "Signers": [
            {{
                "Name": "bob",
                "Keys": [
                    {{
                        "ID": "{bob}"
                    }}
                ]
            }},
            {{
                "Name": "alice",
                "Keys": [
                    {{
                        "ID": "{alice}"
                    }}
                ]
            }}
        ],
        "AdministrativeKeys": [
            {{
                "Name": "Root",
                "Keys": [
                    {{
                        "ID": "{r00t}"
                    }}
                ]
            }},
            {{
                "Name": "Repository",
                "Keys": [
                    {{
                        "ID": "{t4rgets}"
                    }}
                ]
            }}
        ]
    }}
]
"#,
            d9 = "09".repeat(32),
            d1 = "01".repeat(32),
            bob = bob.key_id(),
            alice = alice.key_id(),
            r00t = "aa".repeat(32),
            t4rgets = "bb".repeat(32),
        );
        assert_eq!(text, expected);
        assert_eq!(to_json(&[]).unwrap(), "[]\n");

        let pretty = pretty(&repo);
        let a = alice.key_id().to_string();
        let b = bob.key_id().to_string();
        let expected = format!(
            "\nSignatures for reg:5000/app\n\n\
             SIGNED TAG   DIGEST{pad}SIGNERS\n\
             latest       {d9}   (Repo Admin)\n\
             v1           {d1}   alice\n\
             \nList of signers and their keys for reg:5000/app\n\n\
             SIGNER    KEYS\n\
             alice     {a12}\n\
             bob       {b12}\n\
             \nAdministrative keys for reg:5000/app\n\n  \
             Repository Key:\t{t4rgets}\n  Root Key:\t{r00t}\n",
            pad = " ".repeat(64 + 3 - 6),
            d9 = "09".repeat(32),
            d1 = "01".repeat(32),
            a12 = &a[..12],
            b12 = &b[..12],
            r00t = "aa".repeat(32),
            t4rgets = "bb".repeat(32),
        );
        assert_eq!(pretty, expected);
    }

    #[test]
    fn tables_follow_tabwriter() {
        let rows = vec![
            vec!["A".to_owned(), "B".to_owned()],
            vec!["longer-than-ten".to_owned(), "x".to_owned()],
        ];
        assert_eq!(
            docker_table(&rows),
            "A                 B\nlonger-than-ten   x\n"
        );
    }
}
