use std::path::PathBuf;

use signet_tuf::KeyType;

use std::collections::BTreeMap;
use std::fs;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use signet_tuf::PublicKey;

use super::change::*;
use super::store::*;
use super::*;
use crate::error::{ChangelistError, Error};

fn fixture_dir(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/changelist")
        .join(name)
}

fn copy_fixture(name: &str) -> (tempfile::TempDir, FileChangelist) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("changelist");
    fs::create_dir_all(&dir).unwrap();
    for entry in fs::read_dir(fixture_dir(name)).unwrap() {
        let entry = entry.unwrap();
        fs::copy(entry.path(), dir.join(entry.file_name())).unwrap();
    }
    (tmp, FileChangelist::new(dir))
}

#[test]
fn reads_notary_03_changelist_in_file_order() {
    let (_tmp, cl) = copy_fixture("notary0.3");
    let listing = cl.list().unwrap();
    assert!(listing.warnings.is_empty());
    let summary: Vec<_> = listing
        .changes
        .iter()
        .map(|c| {
            (
                c.index,
                c.change.action.as_str(),
                c.change.scope.as_str(),
                c.change.change_type.as_str(),
                c.change.path.as_str(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (0, "create", "targets", "target", "MAINTAINERS"),
            (1, "create", "targets/releases", "target", "Dockerfile"),
        ]
    );
    let meta = listing.changes[0].change.target_meta().unwrap();
    assert_eq!(meta.length, 1340);
    assert_eq!(
        hex::encode(&meta.hashes["sha256"]),
        "a7f4774214b8b19b2d6242f38090f86684163fe8ffcdd3de93f8d2861170112d"
    );
    assert_eq!(meta.hashes["sha512"].len(), 64);
    assert!(meta.custom.is_none());
}

#[test]
fn fixture_files_round_trip_byte_for_byte() {
    for dir in ["notary0.1", "notary0.3", "go-notary-0.7"] {
        for entry in fs::read_dir(fixture_dir(dir)).unwrap() {
            let bytes = fs::read(entry.unwrap().path()).unwrap();
            let change = Change::from_json(&bytes).unwrap();
            assert_eq!(
                String::from_utf8(change.to_json()).unwrap(),
                String::from_utf8(bytes.clone()).unwrap()
            );
            // Payloads re-encode to the exact bytes Go wrote.
            let Some(data) = &change.data else { continue };
            let reencoded = match change.change_type {
                ChangeType::Target => change.target_meta().unwrap().to_go_json(),
                ChangeType::Delegation => change.delegation_change().unwrap().to_go_json(),
                _ => panic!("unexpected payload in {dir}"),
            };
            assert_eq!(
                String::from_utf8(reencoded).unwrap(),
                String::from_utf8(data.clone()).unwrap()
            );
        }
    }
}

#[test]
fn decodes_every_go_payload_kind() {
    let (_tmp, cl) = copy_fixture("go-notary-0.7");
    let listing = cl.list().unwrap();
    let changes: Vec<&Change> = listing.changes.iter().map(|c| &c.change).collect();
    assert_eq!(changes.len(), 11);

    let add_keys = changes[0].delegation_change().unwrap();
    assert_eq!(add_keys.threshold, 1);
    assert_eq!(add_keys.add_keys.len(), 1);
    assert_eq!(add_keys.add_keys[0].keytype(), &KeyType::Ecdsa);
    assert_eq!(
        add_keys.add_keys[0].key_id().as_str(),
        "45bf9ea1f832c49b418547e141e1ed24f3c2fa83e55665d4e0a4a3322426d220",
        "the key ID notary printed"
    );

    assert_eq!(changes[1].delegation_change().unwrap().add_paths, [""]);
    assert_eq!(
        changes[2].delegation_change().unwrap().add_paths,
        ["a<b", "c&d"]
    );
    assert_eq!(changes[3].delegation_change().unwrap().remove_paths, ["x"]);
    assert_eq!(
        changes[4].delegation_change().unwrap().remove_keys,
        ["0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"]
    );
    assert!(changes[5].delegation_change().unwrap().clear_paths);
    assert_eq!(changes[6].action, Action::Delete);
    assert_eq!(changes[6].data, None);
    assert_eq!(changes[7].scope, SCOPE_ALL_DELEGATIONS);

    let target = changes[8].target_meta().unwrap();
    assert_eq!(changes[8].path, "name&<>");
    assert_eq!(target.length, 5);
    assert_eq!(
        target.custom.as_ref().unwrap().as_str(),
        r#"{"b":1,"a":"\u003cx\u003e"}"#
    );
    assert_eq!(
        changes[9],
        &Change::remove_target("targets/releases", "name&<>")
    );
    assert_eq!(changes[10], &Change::witness("targets/releases"));

    let err = changes[6].delegation_change().unwrap_err();
    assert!(
        matches!(err, Error::Changelist(ChangelistError::Payload { scope, .. })
            if scope == "targets/gone")
    );
}

#[test]
fn constructors_write_what_go_writes() {
    let (_tmp, cl) = copy_fixture("go-notary-0.7");
    let go = cl.list().unwrap();
    let key = go.changes[0].change.delegation_change().unwrap().add_keys[0].clone();

    let ours = Change::delegation(
        Action::Create,
        "targets/releases",
        &DelegationChange {
            threshold: 1,
            add_keys: vec![key],
            ..DelegationChange::default()
        },
    );
    assert_eq!(
        ours.to_json(),
        fs::read(cl.path().join(&go.changes[0].file_name)).unwrap()
    );

    let paths = Change::delegation(
        Action::Create,
        "targets/qa",
        &DelegationChange {
            add_paths: vec!["a<b".into(), "c&d".into()],
            ..DelegationChange::default()
        },
    );
    assert_eq!(
        paths.to_json(),
        fs::read(cl.path().join(&go.changes[2].file_name)).unwrap()
    );
    assert_eq!(
        Change::remove_delegation("targets/gone").to_json(),
        fs::read(cl.path().join(&go.changes[6].file_name)).unwrap()
    );
    let mut hashes = BTreeMap::new();
    hashes.insert("sha256".to_owned(), vec![0xAB; 32]);
    let custom = RawJson::parse("{ \"z\" : [1, 2] }").unwrap();
    assert!(RawJson::parse("{ nope").is_err());
    let meta = TargetMeta {
        length: 7,
        hashes,
        custom: Some(custom),
    };
    let change = Change::add_target("targets", "t", &meta);
    let data = String::from_utf8(change.data.unwrap()).unwrap();
    assert_eq!(
        data,
        format!(
            r#"{{"length":7,"hashes":{{"sha256":"{}"}},"custom":{{"z":[1,2]}}}}"#,
            STANDARD.encode([0xAB; 32])
        )
    );
}

#[test]
fn root_role_payload_round_trips() {
    let key = PublicKey::new(KeyType::Ed25519, vec![7; 32]);
    let change = Change::replace_root_role_keys("timestamp", vec![key.clone()]);
    assert_eq!(change.scope, SCOPE_ROOT);
    assert_eq!(change.change_type, ChangeType::Role);
    let data = String::from_utf8(change.data.clone().unwrap()).unwrap();
    assert_eq!(
        data,
        format!(
            r#"{{"keys":[{{"keytype":"ed25519","keyval":{{"public":"{}","private":null}}}}],"role":"timestamp"}}"#,
            STANDARD.encode([7; 32])
        )
    );
    let back = change.root_role_change().unwrap();
    assert_eq!(back.keys, [key]);
    assert_eq!(back.role, "timestamp");
}

#[test]
fn add_names_files_like_go_and_keeps_order() {
    let tmp = tempfile::tempdir().unwrap();
    let cl = FileChangelist::new(tmp.path().join("cl"));
    assert!(
        cl.list().unwrap().changes.is_empty(),
        "missing dir is empty"
    );
    let first = cl.add(&Change::witness("targets")).unwrap();
    let second = cl.add(&Change::remove_target("targets", "b")).unwrap();
    for name in [&first, &second] {
        let (stamp, rest) = name.split_once('_').unwrap();
        assert_eq!(stamp.len(), 20);
        assert!(stamp.bytes().all(|b| b.is_ascii_digit()));
        let uuid = rest.strip_suffix(".change").unwrap();
        let groups: Vec<_> = uuid.split('-').map(str::len).collect();
        assert_eq!(groups, [8, 4, 4, 4, 12]);
        assert_eq!(&uuid[14..15], "4", "version 4");
        assert!(
            uuid.bytes()
                .all(|b| b == b'-' || b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
    }
    assert!(first < second);
    let listing = cl.list().unwrap();
    assert_eq!(listing.changes.len(), 2);
    assert_eq!(listing.changes[0].change, Change::witness("targets"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = fs::metadata(cl.path().join(&first))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let mode = fs::metadata(cl.path()).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
    }
}

#[test]
fn unparseable_files_warn_on_list_and_fail_publish() {
    let (_tmp, cl) = copy_fixture("notary0.3");
    // Sorts between the two fixture files; any name counts, whatever its suffix.
    fs::write(
        cl.path().join("01469661800000000000_broken.txt"),
        b"{not json",
    )
    .unwrap();
    fs::create_dir(cl.path().join("00000000000000000000_subdir")).unwrap();

    let listing = cl.list().unwrap();
    assert_eq!(listing.changes.len(), 2);
    assert_eq!(listing.changes[1].index, 2, "indices count every file");
    assert_eq!(listing.warnings.len(), 1);
    assert_eq!(listing.warnings[0].index, 1);
    assert!(
        listing.warnings[0]
            .to_string()
            .contains("01469661800000000000_broken.txt")
    );

    let err = cl.changes_for_publish().unwrap_err();
    assert!(
        matches!(&err, Error::Changelist(ChangelistError::Unreadable { path, .. })
            if path.ends_with("01469661800000000000_broken.txt")),
        "{err}"
    );
}

#[test]
fn remove_by_index_and_clear() {
    let (_tmp, cl) = copy_fixture("go-notary-0.7");
    let before = cl.list().unwrap();
    let err = cl.remove(&[0, 11]).unwrap_err();
    assert!(matches!(
        err,
        Error::Changelist(ChangelistError::IndexOutOfRange {
            index: 11,
            count: 11
        })
    ));
    assert_eq!(
        cl.list().unwrap().changes.len(),
        11,
        "nothing removed on error"
    );

    let removed = cl.remove(&[0, 10, 10]).unwrap();
    assert_eq!(
        removed,
        [
            before.changes[0].file_name.clone(),
            before.changes[10].file_name.clone()
        ]
    );
    let after = cl.list().unwrap();
    assert_eq!(after.changes.len(), 9);
    assert_eq!(after.changes[0].change, before.changes[1].change);

    cl.remove_files(&[after.changes[0].file_name.clone(), "../escape".into()])
        .unwrap();
    assert_eq!(cl.list().unwrap().changes.len(), 8);

    cl.clear().unwrap();
    assert!(cl.list().unwrap().changes.is_empty());
    assert!(cl.path().is_dir());
}

#[test]
fn lenient_parsing_like_go() {
    let change = Change::from_json(
        br#"{"action":"create","role":"targets","type":"target","path":"x","extra":1}"#,
    )
    .unwrap();
    assert_eq!(change.data, None);
    assert!(Change::from_json(br#"{"action":"create","data":"not base64!"}"#).is_err());
    assert!(Change::from_json(b"[]").is_err());
    let unknown = Change::from_json(br#"{"action":"frob","type":"gizmo"}"#).unwrap();
    assert_eq!(unknown.action, Action::Unknown("frob".into()));
    assert_eq!(unknown.change_type, ChangeType::Unknown("gizmo".into()));
    assert_eq!(
        String::from_utf8(unknown.to_json()).unwrap(),
        r#"{"action":"frob","role":"","type":"gizmo","path":"","data":null}"#
    );
    let meta =
        TargetMeta::from_json(br#"{"length":1,"hashes":{"sha256":"AA=="},"custom":null}"#).unwrap();
    assert!(meta.custom.is_none());
}

/// Stages `count` target changes and returns the file names publish would read.
fn stage_targets(cl: &FileChangelist, count: usize) -> Vec<String> {
    let meta = TargetMeta::from_json(br#"{"length":1,"hashes":{"sha256":"AA=="}}"#).unwrap();
    for i in 0..count {
        cl.add(&Change::add_target("targets", format!("t{i}"), &meta))
            .unwrap();
    }
    cl.changes_for_publish()
        .unwrap()
        .into_iter()
        .map(|s| s.file_name)
        .collect()
}

/// Entries of the directory holding the changelist directory, sorted.
fn siblings(cl: &FileChangelist) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(cl.path().parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

#[test]
fn removing_published_files_empties_the_directory_and_leaves_nothing_aside() {
    for count in [1, 3, PARALLEL_MIN_FILES + 5] {
        let tmp = tempfile::tempdir().unwrap();
        let cl = FileChangelist::new(tmp.path().join("changelist"));
        let names = stage_targets(&cl, count);
        assert_eq!(names.len(), count);
        cl.remove_files(&names).unwrap();
        assert!(cl.path().is_dir(), "the directory is recreated");
        assert_eq!(fs::read_dir(cl.path()).unwrap().count(), 0);
        assert_eq!(siblings(&cl), ["changelist"], "{count} changes");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = fs::metadata(cl.path()).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o700);
        }
    }
}

#[test]
fn a_change_staged_after_the_read_survives_removal() {
    let tmp = tempfile::tempdir().unwrap();
    let cl = FileChangelist::new(tmp.path().join("changelist"));
    let names = stage_targets(&cl, 4);
    let late = cl.add(&Change::remove_target("targets", "late")).unwrap();
    cl.remove_files(&names).unwrap();
    let left = cl.list().unwrap();
    assert_eq!(left.changes.len(), 1);
    assert_eq!(left.changes[0].file_name, late);
    assert_eq!(
        left.changes[0].change,
        Change::remove_target("targets", "late")
    );
    assert_eq!(siblings(&cl), ["changelist"]);
}

#[test]
fn a_change_that_lands_in_the_set_aside_directory_is_moved_back() {
    let tmp = tempfile::tempdir().unwrap();
    let cl = FileChangelist::new(tmp.path().join("changelist"));
    let names = stage_targets(&cl, 3);
    let published: Vec<&str> = names.iter().map(String::as_str).collect();
    assert!(cl.holds_exactly(&published).unwrap());
    let aside = cl.set_aside().unwrap().expect("renamed aside");
    assert!(
        cl.list().unwrap().changes.is_empty(),
        "the recreated directory is empty"
    );
    // A writer that resolved the old directory before the rename creates its file there.
    let racer = FileChangelist::new(&aside);
    let early = racer.add(&Change::witness("targets")).unwrap();
    cl.restore_strays(&aside, &published).unwrap();
    remove_names(&aside, &published).unwrap();
    let late = racer.add(&Change::witness("targets/releases")).unwrap();
    cl.finish_aside(&aside, &published).unwrap();
    assert!(!aside.exists());
    let left: Vec<_> = cl
        .list()
        .unwrap()
        .changes
        .into_iter()
        .map(|s| s.file_name)
        .collect();
    let mut expected = vec![early, late];
    expected.sort();
    assert_eq!(left, expected);
}

#[test]
fn a_leftover_set_aside_directory_is_not_read_and_is_removed_later() {
    let tmp = tempfile::tempdir().unwrap();
    let cl = FileChangelist::new(tmp.path().join("changelist"));
    let names = stage_targets(&cl, 2);
    // What an interrupted publish leaves: the published files renamed aside.
    let leftover = tmp.path().join(format!("changelist{ASIDE_MARKER}0123abcd"));
    fs::rename(cl.path(), &leftover).unwrap();
    fs::create_dir(cl.path()).unwrap();
    assert!(cl.list().unwrap().changes.is_empty());
    assert!(cl.changes_for_publish().unwrap().is_empty());
    // An unrelated sibling with a similar name is left alone.
    fs::create_dir(tmp.path().join("changelist.other")).unwrap();

    let staged = stage_targets(&cl, 1);
    assert!(names.iter().all(|n| !staged.contains(n)));
    cl.remove_files(&staged).unwrap();
    assert!(!leftover.exists(), "removed by the next removal");
    assert_eq!(siblings(&cl), ["changelist", "changelist.other"]);

    fs::create_dir(&leftover).unwrap();
    fs::write(leftover.join(&names[0]), b"{}").unwrap();
    cl.clear().unwrap();
    assert!(!leftover.exists(), "removed by clear");
}

#[test]
fn unknown_entries_keep_the_per_file_removal() {
    let (_tmp, cl) = copy_fixture("go-notary-0.7");
    fs::create_dir(cl.path().join("subdir")).unwrap();
    let names: Vec<String> = cl
        .changes_for_publish()
        .unwrap()
        .into_iter()
        .map(|s| s.file_name)
        .collect();
    cl.remove_files(&names).unwrap();
    assert!(cl.list().unwrap().changes.is_empty());
    assert!(cl.path().join("subdir").is_dir(), "a subdirectory stays");
    assert_eq!(siblings(&cl), ["changelist"]);
}
