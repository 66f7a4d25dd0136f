//! Golden tests over metadata written by Go notary: `tests/data/notary-compat` (repositories
//! made by notary 0.1 and 0.3) and, when present, `tests/data/notary07` (notary 0.7 client and
//! server).
//!
//! Every metadata file must parse, re-serialise byte for byte (both from the parsed envelope and
//! from the typed document alone), verify against the right keys, and fail verification after
//! any one-byte change to `signed` or to a signature.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, Utc};
use signet_tuf::metadata::{Envelope, Metadata, Root, Snapshot, Targets, Timestamp};
use signet_tuf::verify::{self, RoleKeySet};
use signet_tuf::{Error, role, x509};

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

#[derive(Clone)]
enum Doc {
    Root(Envelope<Root>),
    Targets(Envelope<Targets>),
    Snapshot(Envelope<Snapshot>),
    Timestamp(Envelope<Timestamp>),
}

impl Doc {
    fn parse(role_name: &str, bytes: &[u8]) -> Result<Self, Error> {
        Ok(match role_name {
            role::ROOT => Self::Root(Envelope::parse(bytes)?),
            role::SNAPSHOT => Self::Snapshot(Envelope::parse(bytes)?),
            role::TIMESTAMP => Self::Timestamp(Envelope::parse(bytes)?),
            _ => Self::Targets(Envelope::parse(bytes)?),
        })
    }

    fn signature_count(&self) -> usize {
        match self {
            Self::Root(e) => e.signatures().len(),
            Self::Targets(e) => e.signatures().len(),
            Self::Snapshot(e) => e.signatures().len(),
            Self::Timestamp(e) => e.signatures().len(),
        }
    }

    /// The file written back from the parsed envelope and from the typed document alone.
    fn rewrites(&self) -> (Vec<u8>, Vec<u8>) {
        fn both<T: Metadata>(e: &Envelope<T>) -> (Vec<u8>, Vec<u8>) {
            let mut typed = Envelope::from_signed(e.signed().clone()).unwrap();
            assert_eq!(
                typed.signing_bytes(),
                e.signing_bytes(),
                "typed canonical form"
            );
            typed.replace_signatures(e.signatures().to_vec());
            (e.to_file_bytes().unwrap(), typed.to_file_bytes().unwrap())
        }
        match self {
            Self::Root(e) => both(e),
            Self::Targets(e) => both(e),
            Self::Snapshot(e) => both(e),
            Self::Timestamp(e) => both(e),
        }
    }
}

/// One metadata file of a fixture group.
#[derive(Clone)]
struct File {
    path: PathBuf,
    role: String,
    bytes: Vec<u8>,
    doc: Doc,
}

/// A set of files from one repository: a client metadata cache or a server dump.
struct Group {
    dir: PathBuf,
    gun: String,
    files: Vec<File>,
    /// Private key files found for the repository, by canonical key ID.
    private_key_ids: BTreeSet<String>,
}

/// The role a file holds, from its path relative to the group directory:
/// `root.json`, `targets/x.json`, `3.root.json`, `snapshot.<sha256>.json`, `targets/x.<sha256>.json`.
fn role_of(rel: &str) -> String {
    let stem = rel.strip_suffix(".json").unwrap();
    let (dir, name) = match stem.rsplit_once('/') {
        Some((d, n)) => (format!("{d}/"), n),
        None => (String::new(), stem),
    };
    let name = match name.split_once('.') {
        Some((v, r)) if v.bytes().all(|b| b.is_ascii_digit()) => r,
        Some((r, h)) if h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()) => r,
        Some(_) => panic!("unexpected metadata file name {rel}"),
        None => name,
    };
    format!("{dir}{name}")
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk(&p, out);
        } else {
            out.push(p);
        }
    }
}

fn load_group(dir: &Path, gun: &str, private_dir: &Path) -> Group {
    let mut paths = Vec::new();
    walk(dir, &mut paths);
    let files = paths
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|path| {
            let rel = path
                .strip_prefix(dir)
                .unwrap()
                .to_str()
                .unwrap()
                .replace('\\', "/");
            let role = role_of(&rel);
            let bytes = std::fs::read(&path).unwrap();
            let doc = Doc::parse(&role, &bytes)
                .unwrap_or_else(|e| panic!("{} does not parse: {e}", path.display()));
            File {
                path,
                role,
                bytes,
                doc,
            }
        })
        .collect();
    let mut keys = Vec::new();
    if private_dir.is_dir() {
        walk(private_dir, &mut keys);
    }
    let private_key_ids = keys
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "key"))
        .map(|p| {
            let stem = p.file_stem().unwrap().to_str().unwrap();
            stem.split('_').next().unwrap().to_owned()
        })
        .collect();
    Group {
        dir: dir.to_owned(),
        gun: gun.to_owned(),
        files,
        private_key_ids,
    }
}

/// Every fixture group: the notary-compat caches and each notary07 case's cache and server dump.
fn groups() -> Vec<Group> {
    let mut groups = Vec::new();
    let compat = data_dir().join("notary-compat");
    for version in ["notary0.1", "notary0.3"] {
        let base = compat.join(version);
        let mut all = Vec::new();
        walk(&base.join("tuf"), &mut all);
        let metadata_dirs: BTreeSet<PathBuf> = all
            .iter()
            .filter_map(|p| {
                p.ancestors()
                    .find(|a| a.ends_with("metadata"))
                    .map(Path::to_path_buf)
            })
            .collect();
        for dir in metadata_dirs {
            let gun = dir
                .parent()
                .unwrap()
                .strip_prefix(base.join("tuf"))
                .unwrap()
                .to_str()
                .unwrap()
                .to_owned();
            groups.push(load_group(&dir, &gun, &base.join("private")));
        }
    }
    let n07 = data_dir().join("notary07");
    if n07.is_dir() {
        let mut cases: Vec<PathBuf> = std::fs::read_dir(&n07)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.join("case.json").is_file())
            .collect();
        cases.sort();
        for case in cases {
            let meta: serde_json::Value =
                serde_json::from_slice(&std::fs::read(case.join("case.json")).unwrap()).unwrap();
            let gun = meta["gun"].as_str().unwrap().to_owned();
            let private = case.join("trust/private");
            let cache = case.join("trust/tuf").join(&gun).join("metadata");
            if cache.is_dir() {
                groups.push(load_group(&cache, &gun, &private));
            }
            if case.join("server").is_dir() {
                groups.push(load_group(&case.join("server"), &gun, &private));
            }
        }
    }
    assert!(groups.len() >= 2, "fixtures missing");
    groups
}

/// A time at which every leaf certificate of `root` is valid: the latest NotBefore, plus a
/// minute.
fn cert_time(root: &Root) -> DateTime<Utc> {
    root.roles[role::ROOT]
        .keyids
        .iter()
        .filter_map(|id| x509::parse_bundle(root.keys[id].public()).ok())
        .map(|b| b[0].not_before())
        .max()
        .expect("root has certificate keys")
        + Duration::minutes(1)
}

fn roots(group: &Group) -> Vec<&Envelope<Root>> {
    let mut roots: Vec<&Envelope<Root>> = group
        .files
        .iter()
        .filter_map(|f| match &f.doc {
            Doc::Root(e) => Some(e),
            _ => None,
        })
        .collect();
    roots.sort_by_key(|r| r.signed().version);
    roots.dedup_by_key(|r| r.signed().version);
    roots
}

/// Verifies one file's signatures (and structure) against the group: root against itself and
/// its predecessor, base roles against some root of the group, delegations against some version
/// of their parent.
fn verify_file(group: &Group, file: &File, doc: &Doc) -> Result<u64, Error> {
    let roots = roots(group);
    let first_ok = |results: Vec<Result<u64, Error>>| -> Result<u64, Error> {
        let mut last = None;
        for r in results {
            match r {
                Ok(n) => return Ok(n),
                Err(e) => last = Some(e),
            }
        }
        Err(last.expect("nothing to verify against"))
    };
    match doc {
        Doc::Root(e) => {
            let n = verify::verify_root_self_signed(e)?;
            let v = e.signed().version;
            let prev = roots
                .iter()
                .find(|r| r.signed().version == v - 1)
                .map(|r| r.signed());
            verify::verify_root(e, prev, &group.gun, cert_time(e.signed()))?;
            Ok(n)
        }
        Doc::Timestamp(e) => first_ok(
            roots
                .iter()
                .map(|r| verify::verify_timestamp(e, r.signed()))
                .collect(),
        ),
        Doc::Snapshot(e) => first_ok(
            roots
                .iter()
                .map(|r| verify::verify_snapshot(e, r.signed()))
                .collect(),
        ),
        Doc::Targets(e) if file.role == role::TARGETS => first_ok(
            roots
                .iter()
                .map(|r| verify::verify_targets(e, r.signed()))
                .collect(),
        ),
        Doc::Targets(e) => {
            let parent = role::parent(&file.role).unwrap();
            let parents: Vec<&Envelope<Targets>> = group
                .files
                .iter()
                .filter(|f| f.role == parent)
                .filter_map(|f| match &f.doc {
                    Doc::Targets(p) => Some(p),
                    _ => None,
                })
                .collect();
            first_ok(
                parents
                    .iter()
                    .map(|p| verify::verify_delegation(e, p.signed(), &file.role))
                    .collect(),
            )
        }
    }
}

#[test]
fn every_file_round_trips_byte_for_byte() {
    let mut count = 0;
    for group in groups() {
        for file in &group.files {
            let (from_envelope, from_typed) = file.doc.rewrites();
            assert!(
                from_envelope == file.bytes,
                "{}: envelope rewrite differs",
                file.path.display()
            );
            assert!(
                from_typed == file.bytes,
                "{}: typed rewrite differs:\n{}\n{}",
                file.path.display(),
                String::from_utf8_lossy(&from_typed),
                String::from_utf8_lossy(&file.bytes)
            );
            count += 1;
        }
    }
    // Every .json under a metadata or server directory is metadata.
    let mut all = Vec::new();
    walk(&data_dir(), &mut all);
    let expected = all
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .filter(|p| {
            p.ancestors()
                .any(|a| a.ends_with("metadata") || a.ends_with("server"))
        })
        .count();
    assert_eq!(count, expected, "some metadata files were not checked");
}

#[test]
fn every_signature_verifies() {
    let mut count = 0;
    for group in groups() {
        for file in &group.files {
            let n = verify_file(&group, file, &file.doc)
                .unwrap_or_else(|e| panic!("{}: {e}", file.path.display()));
            assert!(n >= 1);
            count += 1;
        }
    }
    assert!(count >= 9);
}

#[test]
fn key_ids_match_their_content_and_private_key_files() {
    for group in groups() {
        for root in roots(&group) {
            let root = root.signed();
            for (id, key) in &root.keys {
                assert_eq!(&key.key_id(), id, "{}", group.dir.display());
            }
            for id in &root.roles[role::ROOT].keyids {
                let key = &root.keys[id];
                assert!(key.keytype().is_x509(), "root keys are certificates");
                let canonical = key.canonical_key_id().unwrap();
                assert_ne!(&canonical, id);
                if group.dir.ends_with("metadata") {
                    assert!(
                        group.private_key_ids.contains(canonical.as_str()),
                        "{}: no private key file named {canonical} for root key {id}",
                        group.dir.display()
                    );
                }
                x509::check_root_key(key, &group.gun, cert_time(root)).unwrap();
            }
        }
        for file in &group.files {
            if let Doc::Targets(e) = &file.doc {
                for (id, key) in &e.signed().delegations.keys {
                    assert_eq!(&key.key_id(), id);
                }
            }
        }
    }
}

#[test]
fn checksums_chain_together() {
    for group in groups() {
        let by_role: BTreeMap<&str, Vec<&File>> =
            group.files.iter().fold(BTreeMap::new(), |mut m, f| {
                m.entry(f.role.as_str()).or_default().push(f);
                m
            });
        let mut checked = 0;
        for file in &group.files {
            let meta = match &file.doc {
                Doc::Timestamp(e) => &e.signed().meta,
                Doc::Snapshot(e) => &e.signed().meta,
                _ => continue,
            };
            for (name, fm) in meta {
                let candidates = by_role.get(name.as_str()).cloned().unwrap_or_default();
                let found = candidates.iter().any(|c| {
                    fm.check_hashes(name, &c.bytes).is_ok()
                        && fm.check_length(name, &c.bytes).is_ok()
                });
                // A client cache keeps only current files; a server dump keeps every version.
                if found {
                    checked += 1;
                } else {
                    assert!(
                        !group.dir.ends_with("server"),
                        "{}: no file matches {name} in {}",
                        group.dir.display(),
                        file.path.display()
                    );
                }
            }
        }
        assert!(checked >= 1, "{}: nothing chained", group.dir.display());
    }
}

#[test]
fn root_rotation_needs_the_previous_root() {
    let mut rotations = 0;
    for group in groups() {
        let roots = roots(&group);
        for pair in roots.windows(2) {
            let (old, new) = (pair[0], pair[1]);
            let now = cert_time(new.signed());
            verify::verify_root(new, Some(old.signed()), &group.gun, now).unwrap();
            // The wrong GUN leaves no usable certificate.
            let err = verify::verify_root(new, Some(old.signed()), "other/gun", now).unwrap_err();
            assert!(
                err.to_string()
                    .contains("unable to retrieve valid leaf certificates"),
                "{err}"
            );
            // Signed by the old keys too, so a root that only trusts itself also works; but a
            // root whose root keys changed cannot be validated against itself with only new
            // signatures removed.
            let old_ids: BTreeSet<_> = old.signed().roles[role::ROOT].keyids.iter().collect();
            let mut only_new = new.clone();
            only_new.replace_signatures(
                new.signatures()
                    .iter()
                    .filter(|s| !old_ids.contains(&s.keyid))
                    .cloned()
                    .collect(),
            );
            if only_new.signatures().len() < new.signatures().len()
                && !only_new.signatures().is_empty()
            {
                let err = verify::verify_root(&only_new, Some(old.signed()), &group.gun, now)
                    .unwrap_err();
                assert!(err.to_string().contains("could not rotate trust"), "{err}");
            }
            rotations += 1;
        }
    }
    if data_dir().join("notary07/rotated-root/server").is_dir() {
        assert!(
            rotations >= 4,
            "rotated-root case has several root versions"
        );
    }
}

/// Replaces the byte at `pos` with another of the same class (digit, lower, upper letter) so the
/// file most likely stays valid JSON while its content changes.
fn tamper_byte(bytes: &[u8], pos: usize) -> Option<Vec<u8>> {
    let b = bytes[pos];
    let replacement = match b {
        b'0'..=b'8' | b'a'..=b'y' | b'A'..=b'Y' => b + 1,
        b'9' => b'0',
        b'z' => b'a',
        b'Z' => b'A',
        _ => return None,
    };
    let mut out = bytes.to_vec();
    out[pos] = replacement;
    Some(out)
}

fn is_acceptable_tamper_error(e: &Error) -> bool {
    matches!(
        e,
        Error::Json { .. }
            | Error::InvalidExpiry { .. }
            | Error::NonIntegerNumber { .. }
            | Error::WrongType { .. }
            | Error::InvalidMetadata { .. }
            | Error::InvalidRole { .. }
            | Error::InvalidHashes { .. }
            | Error::DelegationNotFound { .. }
            | Error::KeyIdMismatch { .. }
            | Error::ThresholdNotMet { .. }
            | Error::RootRejected { .. }
    )
}

#[test]
fn one_byte_changes_break_verification() {
    let mut tampered = 0;
    let mut threshold_errors = 0;
    for group in groups() {
        for file in &group.files {
            let text = &file.bytes;
            let signed_start = b"{\"signed\":".len();
            let sigs_at = text
                .windows(15)
                .rposition(|w| w == b",\"signatures\":[")
                .unwrap();
            // Sample positions across `signed` and across the signatures. With several
            // signatures, one spoiled signature may legitimately leave the threshold met.
            let step = ((sigs_at - signed_start) / 48).max(1);
            let sig_positions = if file.doc.signature_count() == 1 {
                (sigs_at + 15..text.len()).step_by(7)
            } else {
                (0..0).step_by(1)
            };
            let positions = (signed_start..sigs_at).step_by(step).chain(sig_positions);
            for pos in positions {
                let Some(bad) = tamper_byte(text, pos) else {
                    continue;
                };
                let result =
                    Doc::parse(&file.role, &bad).and_then(|d| verify_file(&group, file, &d));
                match result {
                    Ok(_) => panic!(
                        "{}: change at byte {pos} still verifies: {}",
                        file.path.display(),
                        String::from_utf8_lossy(
                            &bad[pos.saturating_sub(20)..(pos + 20).min(bad.len())]
                        )
                    ),
                    Err(e) => {
                        assert!(
                            is_acceptable_tamper_error(&e),
                            "{}: {e:?}",
                            file.path.display()
                        );
                        if matches!(
                            e,
                            Error::ThresholdNotMet { .. } | Error::RootRejected { .. }
                        ) {
                            threshold_errors += 1;
                        }
                    }
                }
                tampered += 1;
            }
        }
    }
    assert!(tampered > 500, "{tampered}");
    assert!(
        threshold_errors > tampered / 3,
        "{threshold_errors} of {tampered}"
    );
}

#[test]
fn flipped_signature_bits_fail_the_threshold() {
    for group in groups() {
        for file in &group.files {
            let mut doc = file.doc.clone();
            let flip = |sigs: &[signet_tuf::Signature]| -> Vec<signet_tuf::Signature> {
                sigs.iter()
                    .cloned()
                    .map(|mut s| {
                        let last = s.sig.len() - 1;
                        s.sig[last] ^= 1;
                        s
                    })
                    .collect()
            };
            match &mut doc {
                Doc::Root(e) => e.replace_signatures(flip(e.signatures())),
                Doc::Targets(e) => e.replace_signatures(flip(e.signatures())),
                Doc::Snapshot(e) => e.replace_signatures(flip(e.signatures())),
                Doc::Timestamp(e) => e.replace_signatures(flip(e.signatures())),
            }
            let err = verify_file(&group, file, &doc).unwrap_err();
            assert!(
                matches!(
                    err,
                    Error::ThresholdNotMet { .. } | Error::RootRejected { .. }
                ),
                "{}: {err}",
                file.path.display()
            );
            assert!(err.to_string().contains("root") || err.to_string().contains(&file.role));
        }
    }
}

#[test]
fn unsigned_documents_are_rejected() {
    let group = groups().into_iter().next().unwrap();
    let root_file = group.files.iter().find(|f| f.role == role::ROOT).unwrap();
    let Doc::Root(root) = &root_file.doc else {
        unreachable!()
    };
    let targets = group
        .files
        .iter()
        .find(|f| f.role == role::TARGETS)
        .unwrap();
    let Doc::Targets(t) = &targets.doc else {
        unreachable!()
    };
    let mut unsigned = t.clone();
    unsigned.replace_signatures(Vec::new());
    let err = verify::verify_targets(&unsigned, root.signed()).unwrap_err();
    assert!(
        matches!(err, Error::NoSignatures { ref role } if role == "targets"),
        "{err}"
    );

    // Signed by the wrong role's key: the snapshot key is not a targets key.
    let set = RoleKeySet::from_root(root.signed(), role::SNAPSHOT).unwrap();
    let err = set.verify_envelope(t).unwrap_err();
    assert!(
        matches!(err, Error::ThresholdNotMet { threshold: 1, valid: 0, ref role } if role == "snapshot"),
        "{err}"
    );
}
