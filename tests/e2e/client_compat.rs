//! `signet` on a trust dir written by notary 0.3: offline listing from the cache, and
//! publishing its staged changelist to a fresh server.

use std::path::Path;

use signet_e2e::{GoNotaryServer, NotaryCli, Passphrases, TrustDir};

use crate::client_support::Signet;
use crate::support::go_notary_available;

const GUN: &str = "docker.com/notary0.3/tst";

fn fixture() -> TrustDir {
    let source = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../crates/tuf/tests/data/notary-compat/notary0.3");
    TrustDir::copy_of(&source).unwrap()
}

fn passphrases() -> Passphrases {
    Passphrases {
        root: "password".to_owned(),
        targets: "password".to_owned(),
        snapshot: "password".to_owned(),
        delegation: "password".to_owned(),
    }
}

#[test]
fn notary_0_3_trust_dir_lists_offline_from_the_cache() {
    let dir = fixture();
    // Nothing listens on the discard port.
    let signet = Signet::on("http://127.0.0.1:9", &dir).with_passphrases(passphrases());
    let out = signet.run_ok(&["list", GUN]);
    let rows = signet_e2e::parse_target_list(&out.stdout).unwrap();
    let names: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| (r.name.as_str(), r.role.as_str()))
        .collect();
    assert_eq!(
        names,
        [
            ("LICENSE", "targets"),
            ("change", "targets"),
            ("hello", "targets/releases")
        ]
    );
    assert!(out.stderr.contains("expired"), "{}", out.stderr);
}

/// The fixture's root certificate expired in July 2026, so a server refuses its root (as it
/// refuses notary's); the staged changes stay staged. Publishing it needs a root certificate
/// renewal first.
#[test]
fn notary_0_3_staged_changes_are_refused_with_the_expired_root_certificate() {
    if !go_notary_available() {
        return;
    }
    let server = GoNotaryServer::start_memory().unwrap();
    let dir = fixture();
    let signet = Signet::on(server.url(), &dir).with_passphrases(passphrases());
    let staged = signet.run_ok(&["status", GUN]).stdout;
    assert!(
        staged.contains("MAINTAINERS") && staged.contains("Dockerfile"),
        "{staged}"
    );
    let out = signet.run(&["publish", GUN]);
    assert!(!out.success());
    assert!(
        out.stdout
            .contains("unable to retrieve valid leaf certificates"),
        "{out:?}"
    );
    assert!(
        signet
            .run_ok(&["status", GUN])
            .stdout
            .contains("MAINTAINERS")
    );
    let go = NotaryCli::new(server.url()).unwrap();
    assert!(!go.run(&["list", GUN]).unwrap().success());
}
