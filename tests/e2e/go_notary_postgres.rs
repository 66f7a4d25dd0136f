//! The harness against the Go notary-server with Postgres storage.

use signet_e2e::{GoNotaryServer, NotaryCli, require_postgres};

use crate::support::go_notary_available;

#[test]
fn postgres_server_round_trip_and_database_cleanup() {
    if !go_notary_available() {
        return;
    }
    let Some(postgres) = require_postgres() else {
        return;
    };
    let server = GoNotaryServer::start_postgres(&postgres).unwrap();
    let database = server.database().unwrap().name().to_owned();
    assert!(database.starts_with("notary_go_"), "{database}");
    assert!(postgres.database_exists(&database).unwrap());

    let gun = "example.com/e2e/postgres";
    let publisher = NotaryCli::new(server.url()).unwrap();
    publisher.init(gun, true).unwrap();
    let expected = vec![
        publisher
            .add_bytes(gun, "a.txt", b"stored in postgres", &[], true)
            .unwrap(),
        publisher
            .add_bytes(gun, "b.txt", b"second publish", &[], true)
            .unwrap(),
    ];
    assert_eq!(publisher.fresh().unwrap().list(gun).unwrap(), expected);

    let rows = server
        .database()
        .unwrap()
        .execute(&format!(
            "SELECT role, max(version) FROM tuf_files WHERE gun = '{gun}' GROUP BY role ORDER BY role"
        ))
        .unwrap();
    let rows: Vec<&str> = rows.lines().collect();
    assert_eq!(
        rows,
        ["root|1", "snapshot|4", "targets|4", "timestamp|3"],
        "tuf_files rows"
    );

    drop(server);
    assert!(!postgres.database_exists(&database).unwrap());
}
