use super::*;
use crate::metadata::{DelegationRole, FileMeta, RoleKeys};
use crate::testutil::{CERT_FROM, CERT_TO, GUN, Repo, TestKey, at, far_future, root_doc};

fn now() -> DateTime<Utc> {
    at(2030, 1, 1)
}

#[test]
fn a_fresh_repository_verifies() {
    let repo = Repo::new();
    let root = repo.root.signed();
    assert_eq!(verify_root_self_signed(&repo.root).unwrap(), 1);
    verify_root(&repo.root, None, GUN, now()).unwrap();
    assert_eq!(verify_targets(&repo.targets, root).unwrap(), 1);
    assert_eq!(verify_snapshot(&repo.snapshot, root).unwrap(), 1);
    assert_eq!(verify_timestamp(&repo.timestamp, root).unwrap(), 1);
    // The chain of checksums holds over the written files.
    let snapshot_file = repo.snapshot.to_file_bytes().unwrap();
    let fm = repo.timestamp.signed().snapshot_meta().unwrap();
    fm.check_hashes("snapshot", &snapshot_file).unwrap();
    fm.check_length("snapshot", &snapshot_file).unwrap();
    // The written file parses back and still verifies.
    let reparsed = Envelope::<Snapshot>::parse(&snapshot_file).unwrap();
    assert_eq!(verify_snapshot(&reparsed, root).unwrap(), 1);
    // A role signed by the wrong key fails and the error names the role.
    let mut wrong = Envelope::from_signed(repo.snapshot.signed().clone()).unwrap();
    repo.targets_key.sign_envelope(&mut wrong);
    let err = verify_snapshot(&wrong, root).unwrap_err();
    assert_eq!(
        err.to_string(),
        "valid signatures did not meet threshold for snapshot: expected 1, found 0"
    );
}

#[test]
fn thresholds_count_distinct_keys() {
    let repo = Repo::new();
    let extra = TestKey::ecdsa();
    let mut set = RoleKeySet::from_root(repo.root.signed(), role::TARGETS).unwrap();
    set.keys.insert(extra.id(), extra.public().clone());
    set.threshold = 2;
    let msg = repo.targets.signing_bytes();
    let one = repo.targets_key.sign(msg);
    // The same key twice is one key.
    let err = set
        .verify(msg, &[one.clone(), repo.targets_key.sign(msg)])
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::ThresholdNotMet {
                threshold: 2,
                valid: 1,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(set.verify(msg, &[one.clone(), extra.sign(msg)]).unwrap(), 2);
    // Signatures by keys the role does not list are ignored, not errors.
    let stranger = TestKey::ed25519();
    set.threshold = 1;
    assert_eq!(set.verify(msg, &[stranger.sign(msg), one]).unwrap(), 1);
    let err = set.verify(msg, &[stranger.sign(msg)]).unwrap_err();
    assert!(matches!(err, Error::ThresholdNotMet { valid: 0, .. }));
    // Invalid signatures are not counted.
    let mut bad = extra.sign(msg);
    bad.sig[10] ^= 0x40;
    assert!(set.verify(msg, &[bad]).is_err());
}

#[test]
fn no_signatures_and_bad_thresholds() {
    let repo = Repo::new();
    let set = RoleKeySet::from_root(repo.root.signed(), role::TARGETS).unwrap();
    let err = set.verify(b"x", &[]).unwrap_err();
    assert_eq!(err.to_string(), "tuf: targets has no signatures");
    let zero = RoleKeySet {
        threshold: 0,
        ..set
    };
    let sig = repo.targets_key.sign(b"x");
    assert!(matches!(
        zero.verify(b"x", &[sig]),
        Err(Error::InvalidThreshold { threshold: 0, .. })
    ));
}

#[test]
fn a_key_listed_under_the_wrong_id_is_a_hard_error() {
    let repo = Repo::new();
    let other = TestKey::ecdsa();
    let mut set = RoleKeySet::from_root(repo.root.signed(), role::TARGETS).unwrap();
    // Key content of `other` listed under the targets key's ID.
    set.keys
        .insert(repo.targets_key.id(), other.public().clone());
    let msg = repo.targets.signing_bytes();
    let err = set.verify(msg, &[repo.targets_key.sign(msg)]).unwrap_err();
    match &err {
        Error::KeyIdMismatch {
            role,
            key_id,
            computed,
        } => {
            assert_eq!(role, "targets");
            assert_eq!(key_id, repo.targets_key.id().as_str());
            assert_eq!(computed, other.id().as_str());
        }
        other => panic!("{other}"),
    }
    assert!(err.to_string().contains(repo.targets_key.id().as_str()));
}

#[test]
fn role_key_sets_need_listed_keys() {
    let repo = Repo::new();
    let mut root = repo.root.signed().clone();
    root.keys.remove(&repo.snapshot_key.id());
    let err = RoleKeySet::from_root(&root, role::SNAPSHOT).unwrap_err();
    assert!(
        err.to_string().contains("without corresponding key"),
        "{err}"
    );
    let err = RoleKeySet::from_root(&root, "mirror").unwrap_err();
    assert!(
        err.to_string()
            .contains("missing mirror role specification"),
        "{err}"
    );
}

#[test]
fn root_structure_rules() {
    let repo = Repo::new();
    let good = repo.root.signed().clone();
    good.validate().unwrap();

    let mut r = good.clone();
    r.typ = "root".into();
    assert_eq!(
        r.validate().unwrap_err().to_string(),
        "root type metadata invalid: expected type Root, not root"
    );
    let mut r = good.clone();
    r.version = 0;
    assert!(
        r.validate()
            .unwrap_err()
            .to_string()
            .contains("version cannot be less than one")
    );
    let mut r = good.clone();
    r.roles.remove(role::TIMESTAMP);
    assert!(
        r.validate()
            .unwrap_err()
            .to_string()
            .contains("missing timestamp role specification")
    );
    let mut r = good.clone();
    r.roles.get_mut(role::SNAPSHOT).unwrap().threshold = 0;
    assert!(
        r.validate()
            .unwrap_err()
            .to_string()
            .contains("invalid threshold specified for snapshot: 0 ")
    );
    let mut r = good.clone();
    r.keys.remove(&repo.targets_key.id());
    assert!(
        r.validate()
            .unwrap_err()
            .to_string()
            .contains("specified in targets without corresponding key")
    );
    // Extra roles are allowed.
    let mut r = good;
    r.roles
        .insert("mirror".into(), RoleKeys::new(Vec::new(), 0));
    r.validate().unwrap();
}

#[test]
fn snapshot_and_timestamp_structure_rules() {
    let repo = Repo::new();
    let mut s = repo.snapshot.signed().clone();
    s.meta.get_mut(role::ROOT).unwrap().hashes.remove("sha256");
    assert_eq!(
        s.validate().unwrap_err().to_string(),
        "snapshot metadata invalid: missing root sha256 checksum information"
    );
    let mut s = repo.snapshot.signed().clone();
    s.meta.remove(role::TARGETS);
    assert!(
        s.validate()
            .unwrap_err()
            .to_string()
            .contains("missing targets sha256")
    );
    let mut s = repo.snapshot.signed().clone();
    s.meta
        .get_mut(role::ROOT)
        .unwrap()
        .hashes
        .insert("sha512", vec![0; 10]);
    assert!(
        s.validate()
            .unwrap_err()
            .to_string()
            .contains("invalid root checksum information")
    );
    let mut s = repo.snapshot.signed().clone();
    s.typ = "Timestamp".into();
    assert!(matches!(
        s.validate(),
        Err(Error::WrongType {
            expected: "Snapshot",
            ..
        })
    ));

    let mut t = repo.timestamp.signed().clone();
    t.meta.clear();
    assert!(
        t.validate()
            .unwrap_err()
            .to_string()
            .contains("missing snapshot sha256")
    );
    let mut t = repo.timestamp.signed().clone();
    t.version = -1;
    assert!(t.validate().is_err());
}

#[test]
fn delegations_verify_against_their_parent() {
    let repo = Repo::new();
    let releases_key = TestKey::ecdsa();
    let mut top = repo.targets.signed().clone();
    top.delegations
        .keys
        .insert(releases_key.id(), releases_key.public().clone());
    top.delegations.roles.push(DelegationRole::new(
        "targets/releases",
        vec![releases_key.id()],
        1,
        vec![String::new()],
    ));
    top.validate(role::TARGETS).unwrap();

    let mut d = Targets::new(1, far_future());
    d.targets.insert("v1".into(), FileMeta::from_bytes(b"v1"));
    let mut env = Envelope::from_signed(d).unwrap();
    releases_key.sign_envelope(&mut env);
    assert_eq!(
        verify_delegation(&env, &top, "targets/releases").unwrap(),
        1
    );

    let err = verify_delegation(&env, &top, "targets/other").unwrap_err();
    assert_eq!(
        err.to_string(),
        "tuf: invalid role targets/other. delegation does not exist"
    );
    let err = verify_delegation(&env, &top, "targets/Bad").unwrap_err();
    assert!(matches!(err, Error::InvalidRole { .. }), "{err}");

    // Signed by the parent's key instead of the delegated key.
    let mut wrong = Envelope::from_signed(env.signed().clone()).unwrap();
    repo.targets_key.sign_envelope(&mut wrong);
    let err = verify_delegation(&wrong, &top, "targets/releases").unwrap_err();
    assert!(
        err.to_string()
            .starts_with("valid signatures did not meet threshold for targets/releases")
    );

    // Structure of the delegations a targets document declares.
    let mut bad = top.clone();
    bad.delegations.roles[0].name = "targets/releases/deeper".into();
    assert_eq!(
        bad.validate(role::TARGETS).unwrap_err().to_string(),
        "targets metadata invalid: delegation role targets/releases/deeper invalid"
    );
    let mut bad = top.clone();
    bad.delegations.roles[0].threshold = 0;
    assert!(
        bad.validate(role::TARGETS)
            .unwrap_err()
            .to_string()
            .ends_with("invalid threshold specified for targets/releases: 0 ")
    );
    let mut bad = top;
    bad.delegations.keys.clear();
    assert!(
        bad.validate(role::TARGETS)
            .unwrap_err()
            .to_string()
            .contains(&format!(
                "key ID {} specified in targets/releases without corresponding key",
                releases_key.id()
            ))
    );
    let mut typed = env.signed().clone();
    typed.typ = "Snapshot".into();
    assert_eq!(
        typed.validate("targets/releases").unwrap_err().to_string(),
        "targets/releases type metadata invalid: expected type Targets, not Snapshot"
    );
}

#[test]
fn root_certificates_must_match_the_gun_and_be_valid() {
    let repo = Repo::new();
    let err = verify_root(&repo.root, None, "example.com/other", now()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "root of example.com/other rejected: could not validate the path to a trusted root: unable to retrieve valid leaf certificates"
    );
    // Expired, and not yet valid beyond the one-day grace.
    assert!(verify_root(&repo.root, None, GUN, at(2040, 1, 2)).is_err());
    assert!(verify_root(&repo.root, None, GUN, at(2019, 12, 30)).is_err());
    verify_root(
        &repo.root,
        None,
        GUN,
        at(2019, 12, 31) + chrono::Duration::hours(1),
    )
    .unwrap();

    // Wildcard CN.
    let wild = TestKey::ecdsa_x509("example.com/*", CERT_FROM, CERT_TO, false);
    let mut root = repo.root.signed().clone();
    root.keys.insert(wild.id(), wild.public().clone());
    root.roles.get_mut(role::ROOT).unwrap().keyids = vec![wild.id()];
    let mut env = Envelope::from_signed(root).unwrap();
    wild.sign_envelope(&mut env);
    verify_root(&env, None, GUN, now()).unwrap();
    assert!(verify_root(&env, None, "docker.io/app", now()).is_err());

    // A plain ECDSA root key is not a certificate: no usable leaf.
    let plain = TestKey::ecdsa();
    let mut root = repo.root.signed().clone();
    root.keys.insert(plain.id(), plain.public().clone());
    root.roles.get_mut(role::ROOT).unwrap().keyids = vec![plain.id()];
    let mut env = Envelope::from_signed(root).unwrap();
    plain.sign_envelope(&mut env);
    verify_root_self_signed(&env).unwrap();
    assert!(
        verify_root(&env, None, GUN, now())
            .unwrap_err()
            .to_string()
            .contains("unable to retrieve valid leaf")
    );

    // A CA certificate cannot be a root leaf.
    let ca = TestKey::ecdsa_x509(GUN, CERT_FROM, CERT_TO, true);
    let mut root = repo.root.signed().clone();
    root.keys.insert(ca.id(), ca.public().clone());
    root.roles.get_mut(role::ROOT).unwrap().keyids = vec![ca.id()];
    let mut env = Envelope::from_signed(root).unwrap();
    ca.sign_envelope(&mut env);
    assert!(verify_root(&env, None, GUN, now()).is_err());
}

#[test]
fn root_rotation_uses_the_previous_threshold_and_certificates() {
    let repo = Repo::new();
    let old = repo.root.signed().clone();
    let new_key = TestKey::ecdsa_x509(GUN, CERT_FROM, CERT_TO, false);
    let mut rotated = old.clone();
    rotated.version = 2;
    rotated.keys.insert(new_key.id(), new_key.public().clone());
    rotated.roles.get_mut(role::ROOT).unwrap().keyids = vec![new_key.id()];

    // Signed by both: accepted.
    let mut both = Envelope::from_signed(rotated.clone()).unwrap();
    new_key.sign_envelope(&mut both);
    repo.root_key.sign_envelope(&mut both);
    verify_root(&both, Some(&old), GUN, now()).unwrap();

    // Only the new key: the old root does not vouch for it.
    let mut only_new = Envelope::from_signed(rotated.clone()).unwrap();
    new_key.sign_envelope(&mut only_new);
    verify_root(&only_new, None, GUN, now()).unwrap();
    let err = verify_root(&only_new, Some(&old), GUN, now()).unwrap_err();
    assert!(err.to_string().ends_with(
        "could not rotate trust to a new trusted root: failed to validate data with current trusted certificates"
    ));

    // Only the old key: the new root is not self-signed.
    let mut only_old = Envelope::from_signed(rotated).unwrap();
    repo.root_key.sign_envelope(&mut only_old);
    let err = verify_root(&only_old, Some(&old), GUN, now()).unwrap_err();
    assert!(
        err.to_string()
            .ends_with("failed to validate integrity of roots"),
        "{err}"
    );

    // The previous root's certificates may have expired: their expiry is not checked.
    verify_root(&both, Some(&old), GUN, at(2039, 12, 31)).unwrap();
    let expired_old_cert = TestKey::ecdsa_x509(GUN, (2001, 1, 1), (2002, 1, 1), false);
    let prev = root_doc(&[
        (role::ROOT, &expired_old_cert),
        (role::TARGETS, &repo.targets_key),
        (role::SNAPSHOT, &repo.snapshot_key),
        (role::TIMESTAMP, &repo.timestamp_key),
    ]);
    let mut next = Envelope::from_signed(both.signed().clone()).unwrap();
    new_key.sign_envelope(&mut next);
    expired_old_cert.sign_envelope(&mut next);
    verify_root(&next, Some(&prev), GUN, now()).unwrap();

    // A previous threshold of two needs two of the previous keys.
    let mut prev2 = prev;
    prev2.roles.get_mut(role::ROOT).unwrap().threshold = 2;
    assert!(verify_root(&next, Some(&prev2), GUN, now()).is_err());
}

#[test]
fn expiry_and_version_checks() {
    let e = Expires::parse("2030-01-01T00:00:00Z").unwrap();
    check_expiry("timestamp", &e, at(2029, 12, 31)).unwrap();
    check_expiry("timestamp", &e, at(2030, 1, 1)).unwrap();
    let err = check_expiry("timestamp", &e, at(2030, 1, 2)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "timestamp expired at Tue Jan 1 00:00:00 UTC 2030"
    );
    check_min_version("targets", 3, 3).unwrap();
    check_min_version("targets", 4, 3).unwrap();
    let err = check_min_version("targets", 2, 3).unwrap_err();
    assert_eq!(
        err.to_string(),
        "targets: version 2 is lower than current version 3"
    );
}
