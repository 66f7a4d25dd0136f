//! Change application and signing rules on an in-memory repository (the full flow against the
//! Go notary-server is in `tests/go_notary_server.rs`).

use std::sync::Arc;

use chrono::TimeDelta;
use signet_signer::{MemoryKeyStore, PrivateKey};
use signet_tuf::metadata::Expires;

use super::publish::sign_new;
use std::collections::BTreeMap;

use signet_signer::KeyAlgorithm;
use signet_tuf::authoring;
use signet_tuf::metadata::{Envelope, RoleKeys, Root, Snapshot, Targets};

use super::working::{Doc, Working};
use super::*;
use crate::changelist::{Action, DelegationChange, TargetMeta};
use crate::error::{Error, PublishError};

pub(super) const GUN: &str = "example.com/unit";

pub(super) struct Fixture {
    pub(super) crypto: CryptoService,
    pub(super) working: Working,
}

/// root (x509), targets and snapshot keys held in memory; a foreign timestamp key.
pub(super) fn fixture(hold_targets_key: bool) -> Fixture {
    let crypto = CryptoService::new(vec![Arc::new(MemoryKeyStore::new())]);
    let now = Utc::now();
    let root_signer = crypto.create(KeyAlgorithm::Ecdsa, "root", None).unwrap();
    let root_cert = signet_signer::cert::generate_root_certificate(root_signer.as_ref(), GUN)
        .unwrap()
        .public_key;
    let targets_key = if hold_targets_key {
        crypto
            .create(KeyAlgorithm::Ecdsa, "targets", Some(GUN))
            .unwrap()
            .public_key()
            .clone()
    } else {
        PrivateKey::generate_ecdsa().unwrap().public_key().clone()
    };
    let snapshot_key = crypto
        .create(KeyAlgorithm::Ecdsa, "snapshot", Some(GUN))
        .unwrap()
        .public_key()
        .clone();
    let timestamp_key = PrivateKey::generate_ed25519().unwrap().public_key().clone();
    let mut root = Root::new(authoring::default_expires("root", now).unwrap());
    for (name, key) in [
        ("root", root_cert),
        ("targets", targets_key),
        ("snapshot", snapshot_key),
        ("timestamp", timestamp_key),
    ] {
        root.keys.insert(key.key_id(), key.clone());
        root.roles
            .insert(name.to_owned(), RoleKeys::new(vec![key.key_id()], 1));
    }
    let mut targets = BTreeMap::new();
    targets.insert(
        "targets".to_owned(),
        Doc::loaded(
            Targets::new(1, authoring::default_expires("targets", now).unwrap()),
            b"{}".to_vec(),
        ),
    );
    let mut working = Working {
        gun: GUN.to_owned(),
        now,
        loaded_root: root.clone(),
        root: Doc::loaded(root, Vec::new()),
        targets,
        deleted: Default::default(),
        snapshot: None,
        retired_keys: Vec::new(),
        legacy_root_keys: Vec::new(),
    };
    let requirement: Vec<_> =
        authoring::SigningRequirement::of_root_role(&working.root.signed, "root")
            .into_iter()
            .collect();
    working.root.bytes = sign_new(
        &working,
        &crypto,
        "root",
        working.root.signed.clone(),
        &requirement,
    )
    .unwrap();
    Fixture { crypto, working }
}

pub(super) fn meta(len: i64) -> TargetMeta {
    let mut hashes = BTreeMap::new();
    hashes.insert("sha256".to_owned(), vec![1; 32]);
    TargetMeta {
        length: len,
        hashes,
        custom: None,
    }
}

pub(super) fn apply(f: &mut Fixture, change: &Change) -> Result<Vec<RepoWarning>> {
    let mut warnings = Vec::new();
    f.working.apply(change, &f.crypto, &mut warnings)?;
    Ok(warnings)
}

pub(super) fn add_delegation(f: &mut Fixture, role: &str, paths: &[&str]) -> PublicKey {
    let key = f
        .crypto
        .create(KeyAlgorithm::Ecdsa, role, None)
        .unwrap()
        .public_key()
        .clone();
    apply(
        f,
        &Change::delegation(
            Action::Create,
            role,
            &DelegationChange {
                threshold: 1,
                add_keys: vec![key.clone()],
                add_paths: paths.iter().map(|p| (*p).to_owned()).collect(),
                ..DelegationChange::default()
            },
        ),
    )
    .unwrap();
    key
}

#[test]
fn targets_and_delegations_follow_notary_rules() {
    let mut f = fixture(true);
    apply(&mut f, &Change::add_target("targets", "a", &meta(1))).unwrap();
    assert!(f.working.targets["targets"].dirty);

    // A delegation limited to "apps/", and a target outside it.
    add_delegation(&mut f, "targets/apps", &["apps/"]);
    let err = apply(
        &mut f,
        &Change::add_target("targets/apps", "other", &meta(1)),
    )
    .unwrap_err();
    assert!(
        err.to_string().ends_with("could not add all targets"),
        "{err}"
    );
    apply(
        &mut f,
        &Change::add_target("targets/apps", "apps/x", &meta(1)),
    )
    .unwrap();

    // A child may only narrow its parent's paths.
    add_delegation(&mut f, "targets/apps/web", &["apps/web/"]);
    let err = apply(
        &mut f,
        &Change::delegation(
            Action::Update,
            "targets/apps/web",
            &DelegationChange {
                add_paths: vec!["elsewhere/".into()],
                ..DelegationChange::default()
            },
        ),
    )
    .unwrap_err();
    assert!(
        err.to_string().ends_with("invalid paths to add to role"),
        "{err}"
    );

    // Creating a role from paths alone fails: no keys, threshold 0.
    let err = apply(
        &mut f,
        &Change::delegation(
            Action::Create,
            "targets/pathsonly",
            &DelegationChange {
                add_paths: vec![String::new()],
                ..DelegationChange::default()
            },
        ),
    )
    .unwrap_err();
    assert!(
        matches!(err, Error::Publish(PublishError::ChangeRejected { .. })),
        "{err}"
    );

    apply(
        &mut f,
        &Change::add_target("targets/apps/web", "apps/web/index", &meta(2)),
    )
    .unwrap();
    assert!(f.working.targets["targets/apps/web"].dirty);

    // Deleting a role drops its subtree and its snapshot entries.
    apply(&mut f, &Change::remove_delegation("targets/apps")).unwrap();
    assert!(!f.working.targets.contains_key("targets/apps"));
    assert!(!f.working.targets.contains_key("targets/apps/web"));
    assert!(f.working.deleted.contains("targets/apps/web"));
    assert!(
        f.working.targets["targets"]
            .signed
            .delegations
            .roles
            .is_empty()
    );
    assert!(
        f.working.targets["targets"]
            .signed
            .delegations
            .keys
            .is_empty(),
        "unused keys pruned"
    );

    let signed = f.working.sign(&f.crypto, false).unwrap();
    let roles: Vec<&str> = signed.files.iter().map(|(r, _)| r.as_str()).collect();
    assert_eq!(roles, ["targets", "snapshot"]);
    let targets = Envelope::<Targets>::parse(&signed.files[0].1).unwrap();
    assert_eq!(targets.signed().version, 2);
    assert!(targets.signed().targets.contains_key("a"));
    let snapshot = Envelope::<Snapshot>::parse(&signed.files[1].1).unwrap();
    assert_eq!(snapshot.signed().version, 1);
    assert_eq!(
        snapshot.signed().meta["targets"],
        signet_tuf::metadata::FileMeta::from_bytes(&signed.files[0].1)
    );
}

#[test]
fn changes_need_the_signing_key() {
    let mut f = fixture(false);
    let err = apply(&mut f, &Change::add_target("targets", "a", &meta(1))).unwrap_err();
    assert!(
        matches!(&err, Error::Publish(PublishError::NoSigningKeys { role, .. })
            if role == "targets")
    );
    assert!(err.to_string().starts_with(
        "could not find necessary signing keys, at least one of these keys must be available: "
    ));
    // Removing a target that is not there needs no key.
    apply(&mut f, &Change::remove_target("targets", "absent")).unwrap();
    let err = apply(&mut f, &Change::witness("targets/none")).unwrap_err();
    assert!(matches!(
        err,
        Error::Publish(PublishError::ChangeRejected { .. })
    ));
    let err = apply(
        &mut f,
        &Change::new(
            Action::Create,
            "snapshot",
            ChangeTypeAlias::Target,
            "x",
            None,
        ),
    )
    .unwrap_err();
    assert!(err.to_string().contains("scope not supported"), "{err}");
}

use crate::changelist::ChangeType as ChangeTypeAlias;

#[test]
fn purge_skips_roles_it_cannot_sign() {
    let mut f = fixture(true);
    let key = add_delegation(&mut f, "targets/a", &[""]);
    let canonical = key.canonical_key_id().unwrap().to_string();
    // Pretend a delegation below it, whose parent key we do not hold.
    let foreign = PrivateKey::generate_ecdsa().unwrap().public_key().clone();
    let mut child_parent = Targets::new(
        1,
        authoring::default_expires("targets/a", f.working.now).unwrap(),
    );
    child_parent
        .delegations
        .keys
        .insert(key.key_id(), key.clone());
    child_parent
        .delegations
        .roles
        .push(signet_tuf::metadata::DelegationRole::new(
            "targets/a/b",
            vec![key.key_id()],
            1,
            vec![String::new()],
        ));
    f.working.targets.insert(
        "targets/a".to_owned(),
        Doc::loaded(child_parent, b"{}".to_vec()),
    );
    // targets/a is signed by `key`, which we hold; make it foreign instead.
    let doc = f.working.targets.get_mut("targets").unwrap();
    doc.signed.delegations.keys.clear();
    doc.signed
        .delegations
        .keys
        .insert(foreign.key_id(), foreign.clone());
    doc.signed.delegations.roles[0].keyids = vec![foreign.key_id()];

    let warnings = apply(
        &mut f,
        &Change::delegation(
            Action::Update,
            crate::changelist::SCOPE_ALL_DELEGATIONS,
            &DelegationChange {
                remove_keys: vec![canonical],
                ..DelegationChange::default()
            },
        ),
    )
    .unwrap();
    assert!(matches!(&warnings[..], [RepoWarning::PurgeSkipped { role }] if role == "targets/a"));
    assert!(!f.working.targets["targets/a"].dirty);
}

#[test]
fn root_is_resigned_near_expiry_and_on_key_replacement() {
    let mut f = fixture(true);
    // Nothing changed, but root expires in a month: it is re-signed.
    f.working.root.signed.expires = Expires::from_utc(f.working.now + TimeDelta::days(30));
    let signed = f.working.sign(&f.crypto, false).unwrap();
    assert_eq!(signed.files[0].0, "root");
    let root = Envelope::<Root>::parse(&signed.files[0].1).unwrap();
    assert_eq!(root.signed().version, 2);
    assert!(root.signed().expires.utc() > f.working.now + TimeDelta::days(3000));

    // Replacing the targets key: root and targets are re-signed, the old key is retired.
    let mut f = fixture(true);
    let old = f.working.root.signed.roles["targets"].keyids.clone();
    let new_key = f
        .crypto
        .create(KeyAlgorithm::Ecdsa, "targets", Some(GUN))
        .unwrap()
        .public_key()
        .clone();
    apply(
        &mut f,
        &Change::replace_root_role_keys("targets", vec![new_key.clone()]),
    )
    .unwrap();
    assert_eq!(f.working.retired_keys.len(), 1);
    assert_eq!(f.working.retired_keys[0].1.key_id(), old[0]);
    let signed = f.working.sign(&f.crypto, false).unwrap();
    let roles: Vec<&str> = signed.files.iter().map(|(r, _)| r.as_str()).collect();
    assert_eq!(roles, ["root", "targets", "snapshot"]);
    let targets = Envelope::<Targets>::parse(&signed.files[1].1).unwrap();
    assert_eq!(targets.signatures()[0].keyid, new_key.key_id());

    // Initial publish: unchanged root uploaded as is, targets always re-signed.
    let mut f = fixture(true);
    let root_bytes = f.working.root.bytes.clone();
    let signed = f.working.sign(&f.crypto, true).unwrap();
    assert_eq!(signed.files[0], ("root".to_owned(), root_bytes));
    assert_eq!(signed.files[1].0, "targets");
}
