//! Delegation traversal (order, path restriction, depth, cycles) and Notary's target
//! resolution (priority, shadowing, every occurrence).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod update_support;

use sha2::{Digest as _, Sha256};
use signet_tuf::role;
use signet_tuf::update::{Error, SkipReason, Warning};
use update_support::{Repo, config, drive, now, update};

fn fetched_roles(log: &[String]) -> Vec<String> {
    log.iter()
        .filter(|f| f.starts_with("targets/"))
        .map(|f| f.split('.').next().unwrap().to_owned())
        .collect()
}

/// targets → a (paths "a/", "shared/"), b (all); a → a/x ("a/x/", "b/"), a/y ("a/y/").
fn tree() -> Repo {
    let mut repo = Repo::new();
    repo.add_delegation("targets/a", &["a/", "shared/"], 1, 1);
    repo.add_delegation("targets/b", &[""], 1, 1);
    repo.add_delegation("targets/a/x", &["a/x/", "b/"], 1, 1);
    repo.add_delegation("targets/a/y", &["a/y/"], 1, 1);
    repo.add_target(role::TARGETS, "top", b"top");
    repo.add_target("targets/a", "a/1", b"a1");
    repo.add_target("targets/a", "shared/app", b"from-a");
    repo.add_target("targets/a", "outside", b"not allowed for a");
    repo.add_target("targets/b", "shared/app", b"from-b");
    repo.add_target("targets/b", "b/only", b"b");
    repo.add_target("targets/a/x", "a/x/1", b"x1");
    repo.add_target("targets/a/x", "b/evil", b"escapes a");
    repo.add_target("targets/a/y", "a/y/1", b"y1");
    repo.publish(&[
        role::TARGETS,
        "targets/a",
        "targets/b",
        "targets/a/x",
        "targets/a/y",
    ]);
    repo
}

#[test]
fn delegations_are_loaded_in_pre_order() {
    let repo = tree();
    let run = update(&repo.cache_with_root(), &repo.server, now());
    assert_eq!(
        fetched_roles(&run.log),
        ["targets/a", "targets/a/x", "targets/a/y", "targets/b"]
    );
    let out = run.ok();
    assert!(out.warnings.is_empty(), "{:?}", out.warnings);
    assert_eq!(out.trusted.all_targets_roles().len(), 5);
}

#[test]
fn paths_are_restricted_by_every_ancestor() {
    let repo = tree();
    let r = update(&repo.cache_with_root(), &repo.server, now())
        .ok()
        .trusted;
    let names: Vec<(String, String)> = r
        .list_targets(&[])
        .into_iter()
        .map(|t| (t.name, t.role))
        .collect();
    assert_eq!(
        names,
        [
            ("a/1", "targets/a"),
            ("a/x/1", "targets/a/x"),
            ("a/y/1", "targets/a/y"),
            ("b/only", "targets/b"),
            ("shared/app", "targets/a"),
            ("top", "targets"),
        ]
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
    );
    // targets/a/x may not sign b/ even though it lists it: its parent only allows a/.
    assert!(matches!(
        r.get_target_by_name("b/evil", &[]),
        Err(Error::NoSuchTarget { ref name, .. }) if name == "b/evil"
    ));
    assert!(r.get_target_by_name("outside", &[]).is_err());
    let x = r
        .all_target_metadata_by_name("a/x/1")
        .unwrap()
        .pop()
        .unwrap();
    assert_eq!(x.role.paths, ["a/x/"]);
}

#[test]
fn target_resolution_follows_role_priority_and_shadowing() {
    let repo = tree();
    let r = update(&repo.cache_with_root(), &repo.server, now())
        .ok()
        .trusted;
    let content = |t: &signet_tuf::update::TargetWithRole| t.meta.length;

    // Breadth-first from targets: a is listed before b.
    let default = r.get_target_by_name("shared/app", &[]).unwrap();
    assert_eq!((default.role.as_str(), content(&default)), ("targets/a", 6));
    // Priority order given by the caller.
    let b_first = r
        .get_target_by_name("shared/app", &["targets/b", "targets/a"])
        .unwrap();
    assert_eq!(b_first.role, "targets/b");
    // A role listed later is skipped while walking an earlier one.
    let listed = r.list_targets(&["targets/b", "targets/a"]);
    let shared = listed.iter().find(|t| t.name == "shared/app").unwrap();
    assert_eq!(shared.role, "targets/b");
    assert!(listed.iter().all(|t| t.name != "top"));
    // The borrowing form lists exactly the same targets, roles and metadata.
    let refs = r.list_target_refs(&["targets/b", "targets/a"]);
    assert_eq!(refs.len(), listed.len());
    for (a, b) in refs.iter().zip(&listed) {
        assert_eq!(
            (a.name, a.role, a.meta),
            (b.name.as_str(), b.role.as_str(), &b.meta)
        );
    }
    // Walking the subtree of targets/a only.
    let sub: Vec<String> = r
        .list_targets(&["targets/a"])
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(sub, ["a/1", "a/x/1", "a/y/1", "shared/app"]);

    // Every occurrence, with the listing role's signatures.
    let all = r.all_target_metadata_by_name("shared/app").unwrap();
    let roles: Vec<&str> = all.iter().map(|t| t.role.name.as_str()).collect();
    assert_eq!(roles, ["targets/a", "targets/b"]);
    assert_eq!(
        all[1].signatures,
        r.targets_role("targets/b").unwrap().signatures()
    );
    // Everything, except what a role lists outside its paths ("outside", "b/evil").
    let everything = r.all_target_metadata_by_name("").unwrap();
    let mut names: Vec<&str> = everything.iter().map(|t| t.name.as_str()).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "a/1",
            "a/x/1",
            "a/y/1",
            "b/only",
            "shared/app",
            "shared/app",
            "top"
        ]
    );
}

#[test]
fn delegations_deeper_than_the_limit_are_skipped() {
    let mut repo = Repo::new();
    repo.add_delegation("targets/l1", &[""], 1, 1);
    repo.add_delegation("targets/l1/l2", &[""], 1, 1);
    repo.add_delegation("targets/l1/l2/l3", &[""], 1, 1);
    repo.add_target("targets/l1/l2/l3", "deep", b"d");
    repo.publish(&[
        role::TARGETS,
        "targets/l1",
        "targets/l1/l2",
        "targets/l1/l2/l3",
    ]);
    let mut c = config(&repo.cache_with_root(), now());
    c.limits.max_delegation_depth = 2;
    let run = drive(c, &repo.server);
    assert_eq!(fetched_roles(&run.log), ["targets/l1", "targets/l1/l2"]);
    let out = run.ok();
    assert_eq!(
        out.warnings,
        vec![Warning::DelegationSkipped {
            role: "targets/l1/l2/l3".into(),
            reason: SkipReason::TooDeep { limit: 2 },
        }]
    );
    assert!(out.trusted.get_target_by_name("deep", &[]).is_err());
}

#[test]
fn too_many_delegations_are_skipped() {
    let mut repo = Repo::new();
    for n in ["targets/d1", "targets/d2", "targets/d3"] {
        repo.add_delegation(n, &[""], 1, 1);
    }
    repo.publish(&[role::TARGETS, "targets/d1", "targets/d2", "targets/d3"]);
    let mut c = config(&repo.cache_with_root(), now());
    c.limits.max_delegations = 2;
    let out = drive(c, &repo.server).ok();
    assert_eq!(
        out.warnings,
        vec![Warning::DelegationSkipped {
            role: "targets/d3".into(),
            reason: SkipReason::TooMany { limit: 2 },
        }]
    );
}

#[test]
fn a_role_delegating_to_itself_is_refused() {
    let mut repo = Repo::new();
    repo.add_delegation("targets/loop", &[""], 1, 1);
    let keys: Vec<_> = repo.delegation_keys["targets/loop"]
        .iter()
        .map(|k| (k.id(), k.public().clone()))
        .collect();
    {
        // targets/loop lists itself (and its own parent) as delegations.
        let doc = repo.targets.get_mut("targets/loop").unwrap();
        for (id, k) in &keys {
            doc.delegations.keys.insert(id.clone(), k.clone());
        }
        for name in ["targets/loop", "targets"] {
            doc.delegations
                .roles
                .push(signet_tuf::metadata::DelegationRole::new(
                    name,
                    vec![keys[0].0.clone()],
                    1,
                    vec![String::new()],
                ));
        }
    }
    repo.publish(&[role::TARGETS, "targets/loop"]);
    match update(&repo.cache_with_root(), &repo.server, now()).err() {
        Error::Invalid {
            role,
            version,
            source,
            ..
        } => {
            assert_eq!((role.as_str(), version), ("targets/loop", Some(1)));
            assert!(
                matches!(*source, signet_tuf::Error::InvalidMetadata { ref reason, .. }
                    if reason == "delegation role targets/loop invalid"),
                "{source:?}"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_role_listed_twice_is_loaded_once() {
    let mut repo = Repo::new();
    repo.add_delegation("targets/twice", &[""], 1, 1);
    let dup = repo.targets["targets"].delegations.roles[0].clone();
    repo.targets
        .get_mut(role::TARGETS)
        .unwrap()
        .delegations
        .roles
        .push(dup);
    repo.add_target("targets/twice", "t", b"t");
    repo.publish(&[role::TARGETS, "targets/twice"]);
    let run = update(&repo.cache_with_root(), &repo.server, now());
    assert_eq!(fetched_roles(&run.log), ["targets/twice"]);
    let r = run.ok().trusted;
    assert_eq!(r.all_target_metadata_by_name("t").unwrap().len(), 1);
}

#[test]
fn delegations_missing_from_the_snapshot_are_skipped() {
    let mut repo = Repo::new();
    repo.add_delegation("targets/unpublished", &[""], 1, 1);
    repo.publish(&[role::TARGETS]);
    let out = update(&repo.cache_with_root(), &repo.server, now()).ok();
    assert_eq!(
        out.warnings,
        vec![Warning::DelegationSkipped {
            role: "targets/unpublished".into(),
            reason: SkipReason::NotInSnapshot,
        }]
    );
}

#[test]
fn path_hash_prefixes_are_honoured() {
    let mut repo = Repo::new();
    repo.add_delegation("targets/bin", &[""], 1, 1);
    let inside = "pkg/inside";
    let prefix = hex::encode(Sha256::digest(inside.as_bytes()))[..1].to_owned();
    let outside = (0..)
        .map(|i| format!("pkg/{i}"))
        .find(|n| !hex::encode(Sha256::digest(n.as_bytes())).starts_with(&prefix))
        .unwrap();
    repo.targets
        .get_mut(role::TARGETS)
        .unwrap()
        .delegations
        .roles[0]
        .path_hash_prefixes = Some(vec![prefix]);
    repo.add_target("targets/bin", inside, b"in");
    repo.add_target("targets/bin", &outside, b"out");
    repo.publish(&[role::TARGETS, "targets/bin"]);
    let r = update(&repo.cache_with_root(), &repo.server, now())
        .ok()
        .trusted;
    assert_eq!(
        r.get_target_by_name(inside, &[]).unwrap().role,
        "targets/bin"
    );
    assert!(r.get_target_by_name(&outside, &[]).is_err());
    let names: Vec<String> = r.list_targets(&[]).into_iter().map(|t| t.name).collect();
    assert_eq!(names, [inside]);
}

#[test]
fn cached_delegations_are_reused_and_updated_ones_fetched() {
    let repo_initial = tree();
    let mut repo = repo_initial;
    let cache = repo.synced_cache();
    assert_eq!(cache.delegations.len(), 4);
    repo.add_target("targets/b", "b/new", b"n");
    repo.publish(&["targets/b"]);
    let run = update(&cache, &repo.server, now());
    assert_eq!(fetched_roles(&run.log), ["targets/b"]);
    let out = run.ok();
    let written: Vec<&str> = out.cache_writes.iter().map(|w| w.role.as_str()).collect();
    assert_eq!(written, ["snapshot", "targets/b", "timestamp"]);
}
