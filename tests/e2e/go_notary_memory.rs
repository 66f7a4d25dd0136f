//! The harness against the Go notary-server with memory storage.

use serde_json::Value;
use signet_e2e::{DelegationPaths, GoNotaryServer, NotaryCli, TargetHashes, TargetRow, http_get};

use crate::support::{go_notary_available, sorted};

#[test]
fn published_targets_list_from_a_fresh_trust_dir() {
    if !go_notary_available() {
        return;
    }
    let server = GoNotaryServer::start_memory().unwrap();
    let gun = "example.com/e2e/basic";
    let publisher = NotaryCli::new(server.url()).unwrap();
    publisher.init(gun, true).unwrap();

    let mut expected = vec![
        publisher
            .add_bytes(gun, "hello.txt", b"hello, notary\n", &[], true)
            .unwrap(),
        publisher
            .add_bytes(gun, "dir/a&b.bin", &[0_u8, 1, 2, 255], &[], false)
            .unwrap(),
    ];
    let digest = "d0b0f58fa75038326ce4e5e215db193f0dc2c29f7751fd5717fa1dd0975329a7";
    publisher
        .add_hash(
            gun,
            "by-hash",
            1024,
            TargetHashes {
                sha256: digest,
                sha512: None,
            },
            &[],
            false,
        )
        .unwrap();
    publisher.publish(gun).unwrap();
    expected.push(TargetRow {
        name: "by-hash".to_owned(),
        sha256: digest.to_owned(),
        size: 1024,
        role: "targets".to_owned(),
    });
    let expected = sorted(expected);

    let reader = publisher.fresh().unwrap();
    assert_ne!(reader.trust_dir(), publisher.trust_dir());
    assert_eq!(reader.list(gun).unwrap(), expected);
    assert_eq!(publisher.list(gun).unwrap(), expected);
}

#[test]
fn listing_an_unknown_repository_fails() {
    if !go_notary_available() {
        return;
    }
    let server = GoNotaryServer::start_memory().unwrap();
    let cli = NotaryCli::new(server.url()).unwrap();
    let output = cli.run(&["list", "example.com/e2e/missing"]).unwrap();
    assert!(!output.success(), "{output:?}");
    // The CLI prints its fatal errors on stdout.
    let printed = format!("{}{}", output.stdout, output.stderr);
    assert!(printed.contains("does not have trust data"), "{output:?}");
    assert!(cli.list("example.com/e2e/missing").is_err());
}

#[test]
fn delegated_targets_resolve_to_their_roles() {
    if !go_notary_available() {
        return;
    }
    let server = GoNotaryServer::start_memory().unwrap();
    let gun = "example.com/e2e/delegations";
    let owner = NotaryCli::new(server.url()).unwrap();
    owner.init(gun, true).unwrap();
    let releases = owner.generate_delegation_key("targets/releases").unwrap();
    let team = owner.generate_delegation_key("targets/team").unwrap();
    owner
        .delegation_add(
            gun,
            "targets/releases",
            &[&releases.public_pem],
            DelegationPaths::All,
            false,
        )
        .unwrap();
    owner
        .delegation_add(
            gun,
            "targets/team",
            &[&team.public_pem],
            DelegationPaths::Prefixes(&["team/"]),
            true,
        )
        .unwrap();
    let expected = sorted(vec![
        owner
            .add_bytes(gun, "v1.0", b"release", &["targets/releases"], true)
            .unwrap(),
        owner
            .add_bytes(gun, "team/tool", b"team tool", &["targets/team"], true)
            .unwrap(),
        owner
            .add_bytes(gun, "top", b"top level", &[], true)
            .unwrap(),
    ]);

    let reader = owner.fresh().unwrap();
    assert_eq!(reader.list(gun).unwrap(), expected);
    assert_eq!(
        reader.list_roles(gun, &["targets/team"]).unwrap(),
        vec![TargetRow::for_contents(
            "team/tool",
            b"team tool",
            "targets/team"
        )]
    );

    let delegations = reader.delegation_list(gun).unwrap();
    assert_eq!(delegations.len(), 2, "{delegations:?}");
    assert_eq!(delegations[0].role, "targets/releases");
    assert_eq!(delegations[0].paths, vec![String::new()]);
    assert_eq!(delegations[0].key_ids, vec![releases.key_id]);
    assert_eq!(delegations[1].role, "targets/team");
    assert_eq!(delegations[1].paths, vec!["team/".to_owned()]);
    assert_eq!(delegations[1].key_ids, vec![team.key_id]);
    assert_eq!(delegations[1].threshold, 1);

    // A target outside the delegation's paths is refused at publish.
    let refused = owner.add_bytes(gun, "elsewhere", b"x", &["targets/team"], true);
    assert!(refused.is_err());
}

#[test]
fn rotated_root_and_server_managed_snapshot_stay_readable() {
    if !go_notary_available() {
        return;
    }
    let server = GoNotaryServer::start_memory().unwrap();
    let gun = "example.com/e2e/rotation";
    let owner = NotaryCli::new(server.url()).unwrap();
    owner.init(gun, true).unwrap();
    let first = owner.add_bytes(gun, "first", b"one", &[], true).unwrap();
    owner.key_rotate(gun, "root", false).unwrap();
    owner.key_rotate(gun, "root", false).unwrap();
    owner.key_rotate(gun, "snapshot", true).unwrap();
    let second = owner.add_bytes(gun, "second", b"two", &[], true).unwrap();

    assert_eq!(
        owner.fresh().unwrap().list(gun).unwrap(),
        vec![first, second]
    );

    // Root 3 holds two certificates, so the server sends it chunked.
    let root = http_get(&format!("{}3.root.json", server.tuf_url(gun))).unwrap();
    assert_eq!(root.status, 200);
    assert_eq!(root.header("transfer-encoding"), Some("chunked"));
    let root: Value = serde_json::from_slice(&root.body).unwrap();
    assert_eq!(root["signed"]["version"], 3);
    assert_eq!(root["signatures"].as_array().unwrap().len(), 2);

    // The snapshot is now signed by the server's ed25519 key.
    let snapshot = http_get(&format!("{}snapshot.json", server.tuf_url(gun))).unwrap();
    assert_eq!(snapshot.status, 200);
    let snapshot: Value = serde_json::from_slice(&snapshot.body).unwrap();
    assert_eq!(snapshot["signatures"][0]["method"], "eddsa");

    let missing = http_get(&format!("{}9.root.json", server.tuf_url(gun))).unwrap();
    assert_eq!(missing.status, 404);
}
