//! `remove -p` against a `signet-server`: the target is removed from the roles given, and a
//! warning names every other role that still signs it (notary says nothing).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::ServerSandbox;

const GUN: &str = "example.com/remove";

#[test]
fn remove_warns_about_roles_that_still_sign_the_target() {
    let env = ServerSandbox::start();
    env.ok(&["init", GUN, "-p"]);
    env.sandbox.file("a.txt", b"a\n");
    env.delegate_to_new_key(GUN, "targets/releases", "rel");
    env.ok(&["add", GUN, "a", "a.txt", "-p"]);
    env.ok(&["add", GUN, "a", "a.txt", "-r", "targets/releases", "-p"]);

    let out = env.run(&["remove", GUN, "a", "-p"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(
        stderr.contains(&format!(
            "warning: a is still signed in targets/releases of {GUN}"
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("'signet remove {GUN} a -r targets/releases -p'")),
        "{stderr}"
    );
    let listed = env.ok(&["list", GUN]);
    assert!(listed.contains("targets/releases"), "{listed}");

    let out = env.run(&["remove", GUN, "a", "-r", "targets/releases", "-p"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains("still signed"), "{stderr}");
    let listed = env.ok(&["list", GUN]);
    assert!(listed.contains("No targets present"), "{listed}");
}
