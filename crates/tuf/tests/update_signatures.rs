//! Signature attacks: too few signatures, one key signing twice, a key listed under an ID that
//! is not its own, unsigned documents and documents of the wrong type.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod update_support;

use signet_tuf::metadata::{Envelope, Targets};
use signet_tuf::update::Error;
use signet_tuf::{Error as TufError, role};
use update_support::{Repo, TestKey, now, sign_file, update};

/// Unwraps `Error::Invalid` for `role_name` and returns the verification error.
fn invalid(err: Error, role_name: &str) -> TufError {
    match err {
        Error::Invalid {
            role: r, source, ..
        } if r == role_name => *source,
        other => panic!("expected {role_name} to be invalid, got {other:?}"),
    }
}

/// A repository whose root requires two of two targets keys.
fn two_of_two() -> (Repo, TestKey) {
    let mut repo = Repo::new();
    let second = TestKey::ecdsa();
    repo.sign_root_edit(&[], |r| {
        r.keys.insert(second.id(), second.public().clone());
        let t = r.roles.get_mut(role::TARGETS).unwrap();
        t.keyids.push(second.id());
        t.threshold = 2;
    });
    (repo, second)
}

#[test]
fn threshold_two_with_one_signature_is_refused() {
    let (mut repo, _second) = two_of_two();
    repo.publish(&[role::TARGETS]); // signed by the first key only
    let err = invalid(
        update(&repo.cache_with_root(), &repo.server, now()).err(),
        "targets",
    );
    assert!(
        matches!(err, TufError::ThresholdNotMet { ref role, threshold: 2, valid: 1 } if role == "targets"),
        "{err:?}"
    );
}

#[test]
fn threshold_two_with_both_signatures_is_accepted() {
    let (mut repo, second) = two_of_two();
    repo.targets_keys.push(second);
    repo.publish(&[role::TARGETS]);
    update(&repo.cache_with_root(), &repo.server, now()).ok();
}

#[test]
fn two_signatures_by_one_key_count_once() {
    let (mut repo, _second) = two_of_two();
    repo.sign_targets(role::TARGETS);
    let mut env = Envelope::<Targets>::parse(&repo.files["targets"]).unwrap();
    // The one key's valid signature, three times.
    let first = env.signatures()[0].clone();
    env.replace_signatures(vec![first.clone(), first.clone(), first]);
    assert_eq!(env.signatures().len(), 3);
    repo.files
        .insert(role::TARGETS.into(), env.to_file_bytes().unwrap());
    repo.publish(&[]);
    let err = invalid(
        update(&repo.cache_with_root(), &repo.server, now()).err(),
        "targets",
    );
    assert!(
        matches!(
            err,
            TufError::ThresholdNotMet {
                threshold: 2,
                valid: 1,
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn key_listed_under_an_id_that_is_not_its_own_is_refused() {
    let mut repo = Repo::new();
    let impostor_id = TestKey::ed25519().id();
    let real = repo.timestamp_key.public().clone();
    let real_id = repo.timestamp_key.id();
    let ts_id = impostor_id.clone();
    repo.sign_root_edit(&[], |r| {
        r.keys.insert(ts_id.clone(), real);
        r.roles.get_mut(role::TIMESTAMP).unwrap().keyids = vec![ts_id];
    });
    repo.publish(&[]);
    // The timestamp signature names the listed (wrong) ID.
    let ts = repo.timestamp.clone().unwrap();
    let mut env = Envelope::from_signed(ts).unwrap();
    let mut sig = repo.timestamp_key.sign(env.signing_bytes());
    sig.keyid = impostor_id.clone();
    env.add_signature(sig);
    repo.server.put("timestamp", env.to_file_bytes().unwrap());

    let err = invalid(
        update(&repo.cache_with_root(), &repo.server, now()).err(),
        "timestamp",
    );
    match err {
        TufError::KeyIdMismatch {
            role,
            key_id,
            computed,
        } => {
            assert_eq!(role, "timestamp");
            assert_eq!(key_id, impostor_id.as_str());
            assert_eq!(computed, real_id.as_str());
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn unsigned_timestamp_is_refused() {
    let repo = Repo::new();
    let mut server = repo.server.clone();
    server.put("timestamp", sign_file(repo.timestamp.clone().unwrap(), &[]));
    let err = invalid(
        update(&repo.cache_with_root(), &server, now()).err(),
        "timestamp",
    );
    assert!(matches!(err, TufError::NoSignatures { ref role } if role == "timestamp"));
}

#[test]
fn timestamp_signed_by_a_key_root_does_not_list_is_refused() {
    let repo = Repo::new();
    let mut server = repo.server.clone();
    let stranger = TestKey::ed25519();
    server.put(
        "timestamp",
        sign_file(repo.timestamp.clone().unwrap(), &[&stranger]),
    );
    let err = invalid(
        update(&repo.cache_with_root(), &server, now()).err(),
        "timestamp",
    );
    assert!(matches!(
        err,
        TufError::ThresholdNotMet {
            threshold: 1,
            valid: 0,
            ..
        }
    ));
}

#[test]
fn document_of_the_wrong_type_is_refused() {
    let mut repo = Repo::new();
    // A snapshot-typed document, signed with the timestamp key, served as the timestamp.
    repo.publish_timestamp_edit(|t| t.typ = "Snapshot".into());
    let err = invalid(
        update(&repo.cache_with_root(), &repo.server, now()).err(),
        "timestamp",
    );
    assert!(
        matches!(err, TufError::WrongType { ref role, expected: "Timestamp", ref found } if role == "timestamp" && found == "Snapshot"),
        "{err:?}"
    );
}

#[test]
fn delegation_below_threshold_is_skipped_with_a_warning() {
    let mut repo = Repo::new();
    repo.add_delegation("targets/pair", &[""], 2, 2);
    repo.add_target("targets/pair", "x", b"x");
    // Sign with only one of the two delegation keys.
    let keys = repo.delegation_keys.remove("targets/pair").unwrap();
    let (one, _other) = keys.split_at(1);
    let doc = {
        let d = repo.targets.get_mut("targets/pair").unwrap();
        signet_tuf::authoring::bump(d, "targets/pair", repo.signed_at).unwrap();
        d.clone()
    };
    repo.files
        .insert("targets/pair".into(), sign_file(doc, &[&one[0]]));
    repo.publish(&[role::TARGETS]);
    let out = update(&repo.cache_with_root(), &repo.server, now()).ok();
    match out.warnings.as_slice() {
        [
            signet_tuf::update::Warning::DelegationSkipped {
                role,
                reason: signet_tuf::update::SkipReason::Threshold { version: 1, error },
            },
        ] => {
            assert_eq!(role, "targets/pair");
            assert!(error.contains("threshold"), "{error}");
        }
        other => panic!("{other:?}"),
    }
    assert!(out.trusted.targets_role("targets/pair").is_none());
}
