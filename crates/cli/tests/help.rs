//! The command tree, flags and help texts, pinned.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::Sandbox;

fn help(args: &[&str]) -> String {
    let sandbox = Sandbox::new();
    let out = sandbox.bare().args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?} exited with {:?}",
        out.status
    );
    assert!(out.stderr.is_empty(), "help must go to standard output");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn top_level_help() {
    insta::assert_snapshot!("help_top", help(&["--help"]));
    insta::assert_snapshot!("help_top_short", help(&["-h"]));
}

#[test]
fn admission_command_help() {
    insta::assert_snapshot!("help_admission", help(&["admission", "-h"]));
    insta::assert_snapshot!("help_admission_serve", help(&["admission", "serve", "--help"]));
}

#[test]
fn running_without_a_command_prints_the_help() {
    assert_eq!(help(&[]), help(&["--help"]));
}

#[test]
fn repository_command_help() {
    for command in [
        "add", "addhash", "delete", "init", "list", "lookup", "publish", "remove", "reset",
        "status", "verify", "witness",
    ] {
        insta::assert_snapshot!(format!("help_{command}"), help(&[command, "-h"]));
    }
}

#[test]
fn key_command_help() {
    insta::assert_snapshot!("help_key", help(&["key", "-h"]));
    for command in [
        "export",
        "generate",
        "import",
        "list",
        "passwd",
        "remove",
        "rotate",
        "compromised",
    ] {
        insta::assert_snapshot!(format!("help_key_{command}"), help(&["key", command, "-h"]));
    }
}

#[test]
fn delegation_command_help() {
    insta::assert_snapshot!("help_delegation", help(&["delegation", "-h"]));
    for command in ["add", "list", "purge", "remove"] {
        insta::assert_snapshot!(
            format!("help_delegation_{command}"),
            help(&["delegation", command, "-h"])
        );
    }
}

#[test]
fn command_groups_without_a_subcommand_print_their_help() {
    let out = help(&["key"]);
    assert!(
        out.contains("Usage: signet key [OPTIONS] <COMMAND>"),
        "{out}"
    );
    let out = help(&["delegation"]);
    assert!(
        out.contains("Usage: signet delegation [OPTIONS] <COMMAND>"),
        "{out}"
    );
}

#[test]
fn version() {
    let text = help(&["version"]);
    assert_eq!(
        text,
        format!(
            "signet\n Version:    {}\n Compatible: notary 0.7\n",
            env!("CARGO_PKG_VERSION")
        )
    );
    assert_eq!(help(&["--version"]), text);
    let json = common::json(&help(&["--output", "json", "version"]));
    assert_eq!(json["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(json["name"], "signet");
}

#[test]
fn resign_help() {
    insta::assert_snapshot!("help_resign", help(&["resign", "-h"]));
    insta::assert_snapshot!("help_resign_long", help(&["resign", "--help"]));
}
