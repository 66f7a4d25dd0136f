//! Parity: the Go `notary` CLI runs one script against signet-server and the Go notary-server
//! side by side, and every listing from a fresh trust dir must be the same on both.

use std::path::PathBuf;

use signet_e2e::{
    DelegationPaths, GoNotaryServer, SignetServer, TargetHashes, TargetRow, require_postgres,
};

use crate::client_support::Signet;
use crate::server_shared::{SideBySide, shared_servers};
use crate::support::{go_notary_available, sorted};

/// The private half of a key made by `NotaryCli::generate_delegation_key`, ready to import.
fn import_file(public_pem: &std::path::Path) -> PathBuf {
    let text = public_pem.to_string_lossy();
    PathBuf::from(format!(
        "{}-import.pem",
        text.strip_suffix(".pem").unwrap_or(&text)
    ))
}

/// The whole script: targets, staged changes, delegations with a collaborator, witness, key
/// rotations, root rotation, removal of a delegation's only key and of the last delegation
/// (Go's `null`s, see [`go_nulls`]) and remote deletion, comparing listings after every step.
fn run_script(signet_url: &str, go_url: &str, gun: &str) {
    let sides = SideBySide::new(signet_url, go_url, gun);

    sides.both("init -p", |cli, gun| cli.init(gun, true).map(|_| ()));
    assert_eq!(sides.check_listing("init -p"), Vec::<TargetRow>::new());

    let hello = sides.both("add -p", |cli, gun| {
        cli.add_bytes(gun, "hello.txt", b"hello, notary\n", &[], true)
    });
    assert_eq!(sides.check_listing("add -p"), vec![hello.clone()]);

    let digest = "d0b0f58fa75038326ce4e5e215db193f0dc2c29f7751fd5717fa1dd0975329a7";
    let hashes = TargetHashes {
        sha256: digest,
        sha512: None,
    };
    sides.both("addhash -p", |cli, gun| {
        cli.add_hash(gun, "by-hash", 1024, hashes, &[], true)
            .map(|_| ())
    });
    let by_hash = TargetRow {
        name: "by-hash".to_owned(),
        sha256: digest.to_owned(),
        size: 1024,
        role: "targets".to_owned(),
    };
    assert_eq!(
        sides.check_listing("addhash -p"),
        sorted(vec![hello.clone(), by_hash.clone()])
    );

    // Several staged changes, then one publish.
    let staged = sides.both("stage add/add/remove", |cli, gun| {
        let a = cli.add_bytes(gun, "dir/a&b.bin", &[0, 1, 2, 255], &[], false)?;
        let b = cli.add_bytes(gun, "b.txt", b"bee", &[], false)?;
        cli.remove(gun, "hello.txt", &[], false)?;
        Ok(vec![a, b])
    });
    // Nothing is visible before the publish.
    assert_eq!(
        sides.check_listing("staged, unpublished"),
        sorted(vec![hello, by_hash.clone()])
    );
    sides.both("publish", |cli, gun| cli.publish(gun).map(|_| ()));
    let mut expected = staged;
    expected.push(by_hash);
    assert_eq!(sides.check_listing("publish"), sorted(expected.clone()));

    // Collaborators publishing into a delegation need a server-managed snapshot key.
    sides.both("key rotate snapshot -r", |cli, gun| {
        cli.key_rotate(gun, "snapshot", true).map(|_| ())
    });
    assert_eq!(
        sides.check_listing("key rotate snapshot -r"),
        sorted(expected.clone())
    );

    // One delegation key for both servers, so the delegation listings are identical.
    let releases = sides
        .signet
        .generate_delegation_key("targets/releases")
        .unwrap();
    let team = sides
        .signet
        .generate_delegation_key("targets/team")
        .unwrap();
    for key in [&releases, &team] {
        sides
            .go
            .key_import(&import_file(&key.public_pem), None)
            .unwrap();
    }
    sides.both("delegation add", |cli, gun| {
        cli.delegation_add(
            gun,
            "targets/releases",
            &[&releases.public_pem],
            DelegationPaths::All,
            false,
        )?;
        cli.delegation_add(
            gun,
            "targets/team",
            &[&team.public_pem],
            DelegationPaths::Prefixes(&["team/"]),
            true,
        )
        .map(|_| ())
    });
    let delegations = sides.check_delegations("delegation add");
    assert_eq!(delegations.len(), 2, "{delegations:?}");
    assert_eq!(delegations[0].role, "targets/releases");
    assert_eq!(delegations[0].key_ids, vec![releases.key_id.clone()]);
    assert_eq!(delegations[1].paths, vec!["team/".to_owned()]);
    assert_eq!(
        sides.check_listing("delegation add"),
        sorted(expected.clone())
    );

    // A collaborator holding only the delegation key publishes into targets/releases.
    let release = sides.both("collaborator add -r targets/releases -p", |cli, gun| {
        let collaborator = cli.fresh()?;
        collaborator.key_import(&import_file(&releases.public_pem), None)?;
        collaborator.add_bytes(gun, "v1.0", b"release one", &["targets/releases"], true)
    });
    assert_eq!(release.role, "targets/releases");
    expected.push(release.clone());
    assert_eq!(
        sides.check_listing("collaborator publish"),
        sorted(expected.clone())
    );
    assert_eq!(
        sides.both("list -r targets/releases", |cli, gun| cli
            .fresh()?
            .list_roles(gun, &["targets/releases"])),
        vec![release]
    );

    sides.run_both("witness", &["witness", gun, "targets/releases", "-p"]);
    assert_eq!(sides.check_listing("witness"), sorted(expected.clone()));

    sides.both("key rotate timestamp -r", |cli, gun| {
        cli.key_rotate(gun, "timestamp", true).map(|_| ())
    });
    assert_eq!(
        sides.check_listing("key rotate timestamp -r"),
        sorted(expected.clone())
    );

    sides.both("key rotate targets", |cli, gun| {
        cli.key_rotate(gun, "targets", false).map(|_| ())
    });
    let after_targets = sides.both("add after targets rotation", |cli, gun| {
        cli.add_bytes(
            gun,
            "after-targets",
            b"signed by the new targets key",
            &[],
            true,
        )
    });
    expected.push(after_targets);
    assert_eq!(
        sides.check_listing("key rotate targets"),
        sorted(expected.clone())
    );

    sides.both("key rotate root", |cli, gun| {
        cli.key_rotate(gun, "root", false).map(|_| ())
    });
    let after_root = sides.both("add after root rotation", |cli, gun| {
        cli.add_bytes(gun, "after-root", b"under root 2", &[], true)
    });
    expected.push(after_root);
    assert_eq!(
        sides.check_listing("key rotate root"),
        sorted(expected.clone())
    );

    sides.both("delegation remove", |cli, gun| {
        cli.delegation_remove(gun, "targets/team", true).map(|_| ())
    });
    let delegations = sides.check_delegations("delegation remove");
    assert_eq!(
        delegations
            .iter()
            .map(|row| row.role.as_str())
            .collect::<Vec<_>>(),
        ["targets/releases"]
    );
    assert_eq!(
        sides.check_listing("delegation remove"),
        sorted(expected.clone())
    );

    go_nulls(&sides, &releases.key_id, &mut expected);

    sides.both("delete --remote", |cli, gun| {
        cli.delete(gun, true).map(|_| ())
    });
    let (signet, go) = sides.fresh_list_outputs();
    assert!(
        !signet.success(),
        "signet still lists a deleted repo: {signet:?}"
    );
    assert!(!go.success(), "Go still lists a deleted repo: {go:?}");
    let printed = format!("{}{}", signet.stdout, signet.stderr);
    assert!(printed.contains("does not have trust data"), "{signet:?}");
}

/// Go writes an empty slice as `null`, and the Go CLI produces such files itself. Both servers
/// must accept and serve them as uploaded, and both CLIs must read them from fresh trust dirs.
fn go_nulls(sides: &SideBySide, releases_key_id: &str, expected: &mut Vec<TargetRow>) {
    // Removing the only key of a delegation leaves the role with `"keyids":null`: it can sign
    // nothing any more, so its targets drop out of every listing.
    let step = "delegation remove targets/releases <its only key> -p";
    sides.both(step, |cli, gun| {
        cli.run_ok(&[
            "delegation",
            "remove",
            "-p",
            gun,
            "targets/releases",
            releases_key_id,
        ])
        .map(|_| ())
    });
    for served in sides.served("targets") {
        assert!(served.contains(r#""keyids":null"#), "{served}");
    }
    expected.retain(|row| row.role != "targets/releases");
    let delegations = sides.check_delegations(step);
    assert_eq!(delegations.len(), 1, "{delegations:?}");
    assert_eq!(delegations[0].role, "targets/releases");
    assert!(delegations[0].key_ids.is_empty(), "{delegations:?}");
    assert_eq!(sides.check_listing(step), sorted(expected.clone()));
    sides.check_signet_reads(step, &sorted(expected.clone()), &delegations);

    // Removing the last delegation leaves `"delegations":{"keys":{},"roles":null}`.
    let step = "delegation remove targets/releases -p (the last delegation)";
    sides.both(step, |cli, gun| {
        cli.delegation_remove(gun, "targets/releases", true)
            .map(|_| ())
    });
    for served in sides.served("targets") {
        assert!(served.contains(r#""roles":null"#), "{served}");
    }
    assert_eq!(sides.check_delegations(step), Vec::new());
    assert_eq!(sides.check_listing(step), sorted(expected.clone()));
    sides.check_signet_reads(step, &sorted(expected.clone()), &[]);

    // The owner publishes on top of the `null` (Go keeps writing it while the list is empty).
    let step = "add -p after the last delegation is gone";
    let after = sides.both(step, |cli, gun| {
        cli.add_bytes(gun, "after-nulls", b"published over roles:null", &[], true)
    });
    for served in sides.served("targets") {
        assert!(served.contains(r#""roles":null"#), "{served}");
    }
    expected.push(after);
    assert_eq!(sides.check_listing(step), sorted(expected.clone()));
    sides.check_signet_reads(step, &sorted(expected.clone()), &[]);
    // `signet` also reads the owners' Go trust dirs, whose caches hold the `null`s.
    for owner in [&sides.signet, &sides.go] {
        assert_eq!(
            sorted(Signet::sharing(owner).list(&sides.gun)),
            sorted(expected.clone()),
            "signet on the trust dir of the Go CLI publishing to {}",
            owner.server_url()
        );
    }
}

#[test]
fn notary_cli_script_lists_the_same_on_signet_sqlite_and_go_memory() {
    let Some(servers) = shared_servers() else {
        return;
    };
    run_script(
        servers.signet.url(),
        servers.go.url(),
        "example.com/parity/sqlite",
    );
}

#[test]
fn notary_cli_script_lists_the_same_on_signet_postgres_and_go_postgres() {
    if !go_notary_available() {
        return;
    }
    let Some(postgres) = require_postgres() else {
        return;
    };
    let signet = SignetServer::start_postgres(&postgres).unwrap();
    let go = GoNotaryServer::start_postgres(&postgres).unwrap();
    run_script(signet.url(), go.url(), "example.com/parity/postgres");

    // The signet database holds the repository's history in the Notary schema.
    let rows = signet
        .database()
        .unwrap()
        .execute("SELECT count(*) FROM tuf_files WHERE gun = 'example.com/parity/postgres'")
        .unwrap();
    assert_eq!(rows.trim(), "0", "delete --remote left rows behind");
}
