//! Concurrent publishers: several Go `notary` clients publish to one GUN at once, retrying as a
//! user would; every accepted change must end up in a repository that still verifies.

use std::thread;

use signet_e2e::{
    GoNotaryServer, NotaryCli, SignetServer, TargetRow, TempDatabase, TrustDir, require_postgres,
};

use crate::server_shared::shared_servers;
use crate::support::{go_notary_available, sorted};

/// Concurrent publishers.
const WRITERS: usize = 8;
/// Publish attempts per writer before giving up.
const ATTEMPTS: usize = 25;

/// Initialises `gun` on `url`, then lets [`WRITERS`] clients (copies of the owner's trust dir)
/// each `add -p` a distinct target at the same moment, re-running `publish` after a refused
/// attempt. Returns how many publishes were refused along the way.
fn concurrent_publishes(url: &str, gun: &str) -> usize {
    let owner = NotaryCli::new(url).unwrap();
    owner.init(gun, true).unwrap();
    let first = owner.add_bytes(gun, "base", b"base", &[], true).unwrap();

    let writers: Vec<NotaryCli> = (0..WRITERS)
        .map(|_| {
            let trust = TrustDir::copy_of(&owner.trust_dir()).unwrap();
            NotaryCli::with_trust_dir(url, trust).unwrap()
        })
        .collect();
    let barrier = std::sync::Barrier::new(WRITERS);
    let results: Vec<(TargetRow, usize)> = thread::scope(|scope| {
        let handles: Vec<_> = writers
            .iter()
            .enumerate()
            .map(|(index, cli)| {
                let barrier = &barrier;
                scope.spawn(move || {
                    let name = format!("writer-{index}");
                    let contents = format!("published by writer {index}");
                    barrier.wait();
                    let mut refused = 0;
                    let row = match cli.add_bytes(gun, &name, contents.as_bytes(), &[], true) {
                        Ok(row) => row,
                        Err(_) => {
                            // The change stays staged; publishing again fetches the newer
                            // repository and re-applies it.
                            refused += 1;
                            loop {
                                if cli.publish(gun).is_ok() {
                                    break;
                                }
                                refused += 1;
                                assert!(
                                    refused < ATTEMPTS,
                                    "writer {index} never got its publish accepted"
                                );
                                thread::sleep(std::time::Duration::from_millis(
                                    20 * (index as u64 + 1),
                                ));
                            }
                            TargetRow::for_contents(&name, contents.as_bytes(), "targets")
                        }
                    };
                    (row, refused)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });

    let mut expected: Vec<TargetRow> = results.iter().map(|(row, _)| row.clone()).collect();
    expected.push(first);
    let expected = sorted(expected);
    // A newcomer verifies the whole chain and sees every accepted change.
    assert_eq!(owner.fresh().unwrap().list(gun).unwrap(), expected);
    // So does every writer, updating its existing trust dir.
    for writer in &writers {
        assert_eq!(sorted(writer.list(gun).unwrap()), expected);
    }
    results.iter().map(|(_, refused)| refused).sum()
}

#[test]
fn concurrent_notary_publishers_on_sqlite_all_land() {
    let Some(servers) = shared_servers() else {
        return;
    };
    let refused = concurrent_publishes(servers.signet.url(), "example.com/concurrency/sqlite");
    eprintln!("sqlite: {refused} publishes refused and retried");
}

/// One stored targets file per accepted publish (init, base, one per writer), numbered without
/// gaps: the Go CLI's `init -p` stores targets version 2, each later publish the next number.
fn assert_one_targets_file_per_publish(database: &TempDatabase, gun: &str) {
    let listed = database
        .execute(&format!(
            "SELECT string_agg(version::text, ',' ORDER BY version) FROM tuf_files \
             WHERE gun = '{gun}' AND role = 'targets'"
        ))
        .unwrap();
    let expected: Vec<String> = (2..WRITERS + 4).map(|v| v.to_string()).collect();
    assert_eq!(
        listed.trim(),
        expected.join(","),
        "targets versions of {gun}"
    );
}

#[test]
fn concurrent_notary_publishers_on_postgres_all_land() {
    if !go_notary_available() {
        return;
    }
    let Some(postgres) = require_postgres() else {
        return;
    };
    let server = SignetServer::start_postgres(&postgres).unwrap();
    let gun = "example.com/concurrency/postgres";
    let refused = concurrent_publishes(server.url(), gun);
    eprintln!("signet on postgres: {refused} publishes refused and retried");
    assert_one_targets_file_per_publish(server.database().unwrap(), gun);
}

#[test]
fn concurrent_notary_publishers_on_go_postgres_land_the_same_way() {
    if !go_notary_available() {
        return;
    }
    let Some(postgres) = require_postgres() else {
        return;
    };
    let server = GoNotaryServer::start_postgres(&postgres).unwrap();
    let gun = "example.com/concurrency/go-postgres";
    let refused = concurrent_publishes(server.url(), gun);
    eprintln!("Go on postgres: {refused} publishes refused and retried");
    assert_one_targets_file_per_publish(server.database().unwrap(), gun);
}
