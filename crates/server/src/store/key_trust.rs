//! Which repositories trust a key, kept in `signet_key_trust` (migration 0006 describes the
//! table) for [`super::Store::trusted_by`].
//!
//! A key is trusted by a role of a repository when the current metadata lists it for that
//! role: root's `roles` for `root`, `targets`, `snapshot` and `timestamp`, and the
//! `delegations` of `targets` and of each delegation for the delegated roles. Each row
//! records the *source*, the role whose file lists the key, so that a write of that role
//! replaces exactly its rows. Only the latest stored version of a source counts, and only the
//! sources reachable from `targets` through delegations that are still listed: removing a
//! delegation drops the rows of its whole subtree, and listing it again brings back the rows
//! of its stored file.
//!
//! [`Planner`] works out the rows of one GUN from the rows stored so far and the files a
//! write brings, asking for the stored files it has not seen ([`Planner::missing`]); the
//! backends run it inside the write's transaction.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;
use signet_tuf::PublicKey;

/// The role whose file lists the keys of the top-level roles.
pub(crate) const ROOT: &str = "root";

/// The top-level role that delegations hang from.
const TARGETS: &str = "targets";

/// The top-level roles root lists keys for.
const TOP_LEVEL: [&str; 4] = ["root", "targets", "snapshot", "timestamp"];

/// The most stored files one GUN's plan reads (a bound on a pathological delegation tree).
const MAX_SOURCES: usize = 10_000;

/// The longest key ID or role name indexed (the columns' size); longer ones are no key ID
/// Notary writes and are left out.
const MAX_NAME: usize = 255;

/// The most entries one page of [`super::Store::trusted_by`] returns.
pub const MAX_TRUST_PAGE: u32 = 1000;

/// One role of one repository whose current metadata trusts a key (a row of the page query:
/// `gun`, `role`, `listed_key_id`, on either backend).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, sqlx::FromRow)]
pub struct TrustingRole {
    /// The repository.
    pub gun: String,
    /// The role: `root`, `targets`, `snapshot`, `timestamp` or a delegation (`targets/…`).
    pub role: String,
    /// The key's ID as the metadata lists it (for an x509 key found by its canonical ID, the
    /// certificate's ID).
    pub listed_key_id: String,
}

/// One page of the roles that trust a key, ordered by GUN and role.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrustPage {
    /// The roles of this page.
    pub roles: Vec<TrustingRole>,
    /// Where the next page starts (pass it as `after`), when there may be more.
    pub next: Option<TrustCursor>,
}

/// The position after which a page of [`super::Store::trusted_by`] starts: the last (GUN,
/// role) of the page before.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct TrustCursor {
    /// The GUN of the last entry seen.
    pub gun: String,
    /// The role of the last entry seen.
    pub role: String,
}

/// One row of `signet_key_trust` for a GUN (`role`, `key_id`, `listed_key_id`, `source`), on
/// either backend.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, sqlx::FromRow)]
pub(crate) struct KeyRow {
    /// The role that trusts the key.
    pub(crate) role: String,
    /// The ID searched for (the listed ID, or the canonical ID of an x509 key).
    pub(crate) key_id: String,
    /// The ID the metadata lists.
    pub(crate) listed_key_id: String,
    /// The role whose file lists the key.
    pub(crate) source: String,
}

/// Where the backfill goes on, from its state row (`done`, `last_gun`): after the GUN it
/// returns; `None` when it is done (or the row is missing).
pub(crate) fn backfill_resumes_after<R>(state: Option<&R>) -> Result<Option<String>, sqlx::Error>
where
    R: sqlx::Row,
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    String: for<'r> sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    bool: for<'r> sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    let Some(state) = state else {
        return Ok(None);
    };
    if state.try_get::<bool, _>("done")? {
        return Ok(None);
    }
    state.try_get("last_gun").map(Some)
}

/// Whether a file of `role` lists keys (root, targets and delegations do).
pub(crate) fn lists_keys(role: &str) -> bool {
    role == ROOT || role == TARGETS || is_delegation(role)
}

fn is_delegation(role: &str) -> bool {
    role.strip_prefix("targets/").is_some_and(|r| !r.is_empty())
}

/// Whether `role` is a direct child of `parent` (`targets/a` of `targets`, `targets/a/b` of
/// `targets/a`): the only delegations a file may list.
fn is_child_of(role: &str, parent: &str) -> bool {
    role.strip_prefix(parent)
        .and_then(|rest| rest.strip_prefix('/'))
        .is_some_and(|name| !name.is_empty() && !name.contains('/'))
}

#[derive(Deserialize)]
struct Doc {
    signed: Signed,
}

#[derive(Deserialize)]
struct Signed {
    #[serde(default)]
    keys: Option<BTreeMap<String, serde_json::Value>>,
    #[serde(default)]
    roles: Option<serde_json::Value>,
    #[serde(default)]
    delegations: Option<Delegations>,
}

#[derive(Deserialize)]
struct Delegations {
    #[serde(default)]
    keys: Option<BTreeMap<String, serde_json::Value>>,
    #[serde(default)]
    roles: Option<Vec<serde_json::Value>>,
}

#[derive(Deserialize)]
struct RoleKeys {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    keyids: Option<Vec<serde_json::Value>>,
}

/// The rows a stored file of `source` gives: what it lists, by the listed ID and, for x509
/// keys, by the canonical ID too. A file that does not parse lists nothing.
pub(crate) fn rows_of_file(source: &str, data: &[u8]) -> Vec<KeyRow> {
    let Ok(Some(doc)) = serde_json::Deserializer::from_slice(data)
        .into_iter::<Doc>()
        .next()
        .transpose()
    else {
        return Vec::new();
    };
    let (keys, roles): (_, Vec<(String, RoleKeys)>) = if source == ROOT {
        let roles = doc
            .signed
            .roles
            .and_then(|r| serde_json::from_value::<BTreeMap<String, serde_json::Value>>(r).ok())
            .unwrap_or_default()
            .into_iter()
            .filter(|(name, _)| TOP_LEVEL.contains(&name.as_str()))
            .filter_map(|(name, v)| Some((name, serde_json::from_value(v).ok()?)))
            .collect();
        (doc.signed.keys.unwrap_or_default(), roles)
    } else {
        let delegations = doc.signed.delegations;
        let roles = delegations
            .as_ref()
            .and_then(|d| d.roles.clone())
            .unwrap_or_default()
            .into_iter()
            .filter_map(|v| serde_json::from_value::<RoleKeys>(v).ok())
            .filter_map(|r| Some((r.name.clone()?, r)))
            .filter(|(name, _)| is_child_of(name, source))
            .collect();
        (delegations.and_then(|d| d.keys).unwrap_or_default(), roles)
    };
    let canonical = |id: &str| -> Option<String> {
        let key: PublicKey = serde_json::from_value(keys.get(id)?.clone()).ok()?;
        if !key.keytype().is_x509() {
            return None;
        }
        Some(key.canonical_key_id().ok()?.to_string())
    };
    let mut rows = BTreeSet::new();
    for (role, listed) in roles {
        if role.len() > MAX_NAME {
            continue;
        }
        let ids = listed.keyids.unwrap_or_default();
        for id in ids.iter().filter_map(serde_json::Value::as_str) {
            if id.is_empty() || id.len() > MAX_NAME {
                continue;
            }
            let row = |key_id: String| KeyRow {
                role: role.clone(),
                key_id,
                listed_key_id: id.to_owned(),
                source: source.to_owned(),
            };
            rows.insert(row(id.to_owned()));
            if let Some(c) = canonical(id).filter(|c| c != id) {
                rows.insert(row(c));
            }
        }
    }
    rows.into_iter().collect()
}

/// The files of a write that list keys: the highest version of each role among `rows`
/// (`(role, version, bytes)`).
pub(crate) fn written_files<'a>(
    rows: impl IntoIterator<Item = (&'a str, i32, &'a [u8])>,
) -> Vec<(&'a str, &'a [u8])> {
    let mut latest: BTreeMap<&str, (i32, &[u8])> = BTreeMap::new();
    for (role, version, data) in rows {
        if lists_keys(role) && latest.get(role).is_none_or(|(v, _)| version > *v) {
            latest.insert(role, (version, data));
        }
    }
    latest.into_iter().map(|(r, (_, d))| (r, d)).collect()
}

/// Works out the rows of one GUN; see the module documentation.
#[derive(Debug)]
pub(crate) struct Planner {
    /// The rows stored before the write.
    stored: Vec<KeyRow>,
    /// The rows of each source whose rows are known: stored for a source that was reachable,
    /// written or read for the others.
    known: BTreeMap<String, Vec<KeyRow>>,
    /// How many stored files were asked for.
    asked: usize,
}

impl Planner {
    /// A plan for a write of the files `written` (`(role, bytes)`, the latest version of each
    /// role) over the rows `stored` of the GUN.
    pub(crate) fn update<'a>(
        stored: Vec<KeyRow>,
        written: impl IntoIterator<Item = (&'a str, &'a [u8])>,
    ) -> Self {
        let mut by_source: BTreeMap<String, Vec<KeyRow>> = BTreeMap::new();
        for row in &stored {
            by_source
                .entry(row.source.clone())
                .or_default()
                .push(row.clone());
        }
        // The stored rows hold every source that was reachable, even those listing nothing.
        let mut known: BTreeMap<String, Vec<KeyRow>> = reachable(|s| by_source.get(s))
            .into_iter()
            .map(|s| {
                let rows = by_source.get(&s).cloned().unwrap_or_default();
                (s, rows)
            })
            .collect();
        for (role, data) in written {
            if lists_keys(role) {
                known.insert(role.to_owned(), rows_of_file(role, data));
            }
        }
        Self {
            stored,
            known,
            asked: 0,
        }
    }

    /// A plan that reads every file again (the backfill, and catching up with writes made
    /// past signet).
    pub(crate) fn rebuild(stored: Vec<KeyRow>) -> Self {
        Self {
            stored,
            known: BTreeMap::new(),
            asked: 0,
        }
    }

    /// A reachable source whose rows are not known yet: its latest stored file must be given
    /// to [`add_file`](Self::add_file). `None` once every reachable source is known.
    pub(crate) fn missing(&mut self) -> Option<String> {
        if self.asked >= MAX_SOURCES {
            return None;
        }
        let mut found = None;
        let known = &self.known;
        reachable_until(
            |s| known.get(s),
            |s| {
                if known.contains_key(s) {
                    false
                } else {
                    found = Some(s.to_owned());
                    true
                }
            },
        );
        if found.is_some() {
            self.asked += 1;
        }
        found
    }

    /// The latest stored file of `source` (`None`: there is none).
    pub(crate) fn add_file(&mut self, source: &str, data: Option<&[u8]>) {
        let rows = data.map(|d| rows_of_file(source, d)).unwrap_or_default();
        self.known.insert(source.to_owned(), rows);
    }

    /// The stored rows to delete and the rows to insert.
    pub(crate) fn changes(self) -> (Vec<KeyRow>, Vec<KeyRow>) {
        let known = &self.known;
        let current: BTreeSet<KeyRow> = reachable(|s| known.get(s))
            .into_iter()
            .filter_map(|s| known.get(&s))
            .flatten()
            .cloned()
            .collect();
        let stored: BTreeSet<KeyRow> = self.stored.into_iter().collect();
        let delete = stored.difference(&current).cloned().collect();
        let insert = current.difference(&stored).cloned().collect();
        (delete, insert)
    }
}

/// The sources reachable from root and targets through the rows `rows_of` gives.
fn reachable<'r>(rows_of: impl Fn(&str) -> Option<&'r Vec<KeyRow>>) -> BTreeSet<String> {
    reachable_until(rows_of, |_| false)
}

/// The sources reachable from root and targets through the rows `rows_of` gives, visited in
/// order; stops at the first for which `stop` says so.
fn reachable_until<'r>(
    rows_of: impl Fn(&str) -> Option<&'r Vec<KeyRow>>,
    mut stop: impl FnMut(&str) -> bool,
) -> BTreeSet<String> {
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let mut queue: Vec<String> = vec![ROOT.to_owned(), TARGETS.to_owned()];
    while let Some(source) = queue.pop() {
        if !seen.insert(source.clone()) {
            continue;
        }
        if stop(&source) {
            break;
        }
        for row in rows_of(&source).into_iter().flatten() {
            if row.source != ROOT && is_child_of(&row.role, &source) {
                queue.push(row.role.clone());
            }
        }
    }
    seen
}

/// A page of at most `limit` (1 to [`MAX_TRUST_PAGE`]) entries from rows fetched with one
/// more than that: when the extra row is there, the page says where the next starts.
pub(crate) fn page_of(mut roles: Vec<TrustingRole>, limit: u32) -> TrustPage {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let more = roles.len() > limit;
    roles.truncate(limit);
    let next = more.then(|| roles.last()).flatten().map(|r| TrustCursor {
        gun: r.gun.clone(),
        role: r.role.clone(),
    });
    TrustPage { roles, next }
}

/// The page size asked for, within 1 and [`MAX_TRUST_PAGE`].
pub(crate) fn clamp_limit(limit: u32) -> u32 {
    limit.clamp(1, MAX_TRUST_PAGE)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn root(keys: &[(&str, &str)]) -> Vec<u8> {
        let roles: serde_json::Map<String, serde_json::Value> = keys
            .iter()
            .map(|(role, id)| {
                (
                    (*role).to_owned(),
                    serde_json::json!({"keyids": [id], "threshold": 1}),
                )
            })
            .collect();
        serde_json::to_vec(&serde_json::json!({
            "signed": {"_type": "Root", "keys": {}, "roles": roles, "version": 1},
            "signatures": [],
        }))
        .unwrap()
    }

    fn targets(delegations: &[(&str, &str)]) -> Vec<u8> {
        let roles: Vec<serde_json::Value> = delegations
            .iter()
            .map(|(name, id)| serde_json::json!({"name": name, "keyids": [id], "threshold": 1}))
            .collect();
        serde_json::to_vec(&serde_json::json!({
            "signed": {"_type": "Targets", "delegations": {"keys": {}, "roles": roles}},
            "signatures": [],
        }))
        .unwrap()
    }

    fn ids(rows: &[KeyRow]) -> Vec<(&str, &str, &str)> {
        rows.iter()
            .map(|r| (r.role.as_str(), r.key_id.as_str(), r.source.as_str()))
            .collect()
    }

    #[test]
    fn root_lists_top_level_roles_only() {
        let data = root(&[("root", "r"), ("targets", "t"), ("other", "o")]);
        assert_eq!(
            ids(&rows_of_file("root", &data)),
            [("root", "r", "root"), ("targets", "t", "root")]
        );
        assert!(rows_of_file("root", b"{").is_empty());
        assert!(rows_of_file("targets", b"[]").is_empty());
    }

    #[test]
    fn delegations_must_be_direct_children() {
        let data = targets(&[
            ("targets/a", "ka"),
            ("targets/a/b", "kb"),
            ("targets/", "k"),
            ("other/x", "k"),
        ]);
        assert_eq!(
            ids(&rows_of_file("targets", &data)),
            [("targets/a", "ka", "targets")]
        );
        let data = targets(&[("targets/a/b", "kb")]);
        assert_eq!(
            ids(&rows_of_file("targets/a", &data)),
            [("targets/a/b", "kb", "targets/a")]
        );
    }

    #[test]
    fn x509_keys_are_indexed_by_their_canonical_id_too() {
        let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let cert = rcgen::CertificateParams::new(vec!["g".to_owned()])
            .unwrap()
            .self_signed(&pair)
            .unwrap();
        let key = PublicKey::from_certificate_pem(&cert.pem()).unwrap();
        let id = key.key_id().to_string();
        let canonical = key.canonical_key_id().unwrap().to_string();
        let data = serde_json::to_vec(&serde_json::json!({
            "signed": {"keys": {id.clone(): key}, "roles": {"root": {"keyids": [id]}}},
        }))
        .unwrap();
        let rows = rows_of_file("root", &data);
        let mut found: Vec<(&str, &str)> = rows
            .iter()
            .map(|r| (r.key_id.as_str(), r.listed_key_id.as_str()))
            .collect();
        found.sort_unstable();
        let mut expected = vec![
            (id.as_str(), id.as_str()),
            (canonical.as_str(), id.as_str()),
        ];
        expected.sort_unstable();
        assert_eq!(found, expected);
    }

    /// Runs a planner to the end with the stored files `files`.
    fn run(mut p: Planner, files: &BTreeMap<&str, Vec<u8>>) -> (Vec<KeyRow>, Vec<KeyRow>) {
        while let Some(source) = p.missing() {
            let data = files.get(source.as_str()).map(Vec::as_slice);
            p.add_file(&source, data);
        }
        p.changes()
    }

    #[test]
    fn rebuild_follows_the_delegation_tree() {
        let files: BTreeMap<&str, Vec<u8>> = [
            ("root", root(&[("root", "r"), ("targets", "t")])),
            ("targets", targets(&[("targets/a", "ka")])),
            ("targets/a", targets(&[("targets/a/b", "kb")])),
            ("targets/z", targets(&[("targets/z/y", "orphan")])),
        ]
        .into();
        let (delete, insert) = run(Planner::rebuild(Vec::new()), &files);
        assert!(delete.is_empty());
        let mut got = ids(&insert);
        got.sort_unstable();
        assert_eq!(
            got,
            [
                ("root", "r", "root"),
                ("targets", "t", "root"),
                ("targets/a", "ka", "targets"),
                ("targets/a/b", "kb", "targets/a"),
            ]
        );
    }

    #[test]
    fn updates_replace_a_source_and_prune_unreachable_ones() {
        let files: BTreeMap<&str, Vec<u8>> = [
            ("root", root(&[("root", "r")])),
            ("targets", targets(&[("targets/a", "ka")])),
            ("targets/a", targets(&[("targets/a/b", "kb")])),
        ]
        .into();
        let (_, stored) = run(Planner::rebuild(Vec::new()), &files);

        // A new targets drops targets/a: its subtree goes too. targets/c is new: its stored
        // file (none here) is asked for, and nothing else.
        let new_targets = targets(&[("targets/c", "kc")]);
        let mut p = Planner::update(stored.clone(), [("targets", &new_targets[..])]);
        assert_eq!(p.missing(), Some("targets/c".to_owned()));
        p.add_file("targets/c", None);
        assert_eq!(p.missing(), None);
        let (delete, insert) = p.changes();
        assert_eq!(
            ids(&delete),
            [
                ("targets/a", "ka", "targets"),
                ("targets/a/b", "kb", "targets/a")
            ]
        );
        assert_eq!(ids(&insert), [("targets/c", "kc", "targets")]);

        // Once stored, targets/c is known: a write of targets reads nothing.
        let after: Vec<KeyRow> = stored
            .iter()
            .filter(|r| r.source == "root")
            .cloned()
            .chain(insert)
            .collect();
        let mut p = Planner::update(after.clone(), [("targets", &new_targets[..])]);
        assert_eq!(p.missing(), None);
        assert_eq!(p.changes(), (Vec::new(), Vec::new()));

        // A root rotation replaces root's rows only.
        let rotated = root(&[("root", "r2")]);
        let p = Planner::update(after, [("root", &rotated[..]), ("timestamp", b"{}")]);
        let (delete, insert) = p.changes();
        assert_eq!(ids(&delete), [("root", "r", "root")]);
        assert_eq!(ids(&insert), [("root", "r2", "root")]);
    }

    #[test]
    fn written_files_are_the_latest_listing_keys() {
        let written = written_files([
            ("root", 1, &b"a"[..]),
            ("root", 2, b"b"),
            ("snapshot", 3, b"s"),
            ("timestamp", 3, b"t"),
            ("targets/x", 1, b"x"),
        ]);
        assert_eq!(written, [("root", &b"b"[..]), ("targets/x", b"x")]);
    }

    #[test]
    fn pages_end_where_the_extra_row_begins() {
        let role = |g: &str| TrustingRole {
            gun: g.into(),
            role: "root".into(),
            listed_key_id: "k".into(),
        };
        let page = page_of(vec![role("a"), role("b"), role("c")], 2);
        assert_eq!(page.roles.len(), 2);
        assert_eq!(
            page.next,
            Some(TrustCursor {
                gun: "b".into(),
                role: "root".into()
            })
        );
        assert_eq!(page_of(vec![role("a")], 2).next, None);
        assert_eq!(clamp_limit(0), 1);
        assert_eq!(clamp_limit(5000), MAX_TRUST_PAGE);
    }
}
