//! The command line in the shell: completion scripts that load, manual pages that render,
//! `--output` after the subcommand, "did you mean" for commands and role names, unknown roles
//! and unknown configuration keys.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::Command;

use common::{Sandbox, ServerSandbox, json};
use signet_e2e::require_tool;

const GUN: &str = "example.com/shell";

/// Standard output of a successful `signet <args>` run without a configuration.
fn stdout(sandbox: &Sandbox, args: &[&str]) -> Vec<u8> {
    let out = sandbox.bare().args(args).output().unwrap();
    assert!(
        out.status.success(),
        "signet {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#[test]
fn bash_completion_loads_and_completes_commands() {
    let Some(bash) = require_tool("bash") else {
        return;
    };
    let sandbox = Sandbox::new();
    let script = sandbox.file("signet.bash", &stdout(&sandbox, &["completion", "bash"]));
    let syntax = Command::new(&bash).arg("-n").arg(&script).status().unwrap();
    assert!(syntax.success(), "bash -n refused the completion script");
    // Loaded, it registers a completion for `signet` and completes `key r` to the key
    // commands starting with r.
    let probe = format!(
        "source '{}' && complete -p signet && \
         COMP_WORDS=(signet key r) COMP_CWORD=2 COMP_LINE='signet key r' COMP_POINT=12 && \
         _signet signet r key && printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        script.display()
    );
    let out = Command::new(&bash).args(["-c", &probe]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("-F _signet signet"), "{text}");
    let words: Vec<&str> = text.lines().skip(1).collect();
    assert_eq!(words, ["remove", "rotate"], "{text}");
}

#[test]
fn every_shell_gets_a_script_naming_the_commands() {
    let sandbox = Sandbox::new();
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let script = String::from_utf8(stdout(&sandbox, &["completion", shell])).unwrap();
        for command in ["delegation", "rotate", "trust", "verify"] {
            assert!(script.contains(command), "{shell} script lacks {command}");
        }
    }
    let out = sandbox
        .bare()
        .args(["completion", "tcsh"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
}

/// `man -l` output of a page file, as plain text.
fn render(man: &Path, page: &Path) -> String {
    let out = Command::new(man)
        .arg("-l")
        .arg(page)
        .env("MANWIDTH", "100")
        .env_remove("MAN_KEEP_FORMATTING")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "man -l {} failed: {}",
        page.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn manual_pages_render_with_man() {
    let Some(man) = require_tool("man") else {
        return;
    };
    let sandbox = Sandbox::new();
    let top = sandbox.file("signet.1", &stdout(&sandbox, &["man"]));
    let text = render(&man, &top);
    for expected in [
        "NAME",
        "SYNOPSIS",
        "SUBCOMMANDS",
        "signet-delegation(1)",
        "--trustDir",
    ] {
        assert!(
            text.contains(expected),
            "signet.1 lacks {expected}:\n{text}"
        );
    }

    let dir = sandbox.path().join("man1");
    let said =
        String::from_utf8(stdout(&sandbox, &["man", "--dir", dir.to_str().unwrap()])).unwrap();
    let pages: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert!(
        said.contains(&format!("wrote {} manual pages", pages.len())),
        "{said}"
    );
    for page in [
        "signet.1",
        "signet-key-rotate.1",
        "signet-trust-signer-add.1",
    ] {
        assert!(dir.join(page).is_file(), "{page} missing");
    }
    let rotate = render(&man, &dir.join("signet-key-rotate.1"));
    assert!(
        rotate.contains("signet key rotate [OPTIONS] <GUN> <KEY ROLE>"),
        "{rotate}"
    );
    assert!(rotate.contains("--server-managed"), "{rotate}");
    for page in &pages {
        assert!(
            !render(&man, page).trim().is_empty(),
            "{} is empty",
            page.display()
        );
    }
}

#[test]
fn output_is_accepted_after_the_subcommand() {
    let sandbox = Sandbox::new();
    let before =
        json(&String::from_utf8(stdout(&sandbox, &["--output", "json", "key", "list"])).unwrap());
    let after =
        json(&String::from_utf8(stdout(&sandbox, &["key", "list", "--output", "json"])).unwrap());
    let equals =
        json(&String::from_utf8(stdout(&sandbox, &["key", "list", "--output=json"])).unwrap());
    assert_eq!(before, after);
    assert_eq!(before, equals);
    assert!(before["keys"].is_array(), "{before}");
    // `key export` keeps its own `--output FILE`.
    sandbox.ok(&["key", "generate", "--role", "targets"]);
    let file = sandbox.path().join("exported.pem");
    sandbox.ok(&["key", "export", "--output", file.to_str().unwrap()]);
    assert!(
        std::fs::read_to_string(&file)
            .unwrap()
            .contains("PRIVATE KEY")
    );
}

#[test]
fn typos_get_a_suggestion() {
    let sandbox = Sandbox::new();
    let out = sandbox.fails(&["lsit", GUN]);
    assert!(
        out.contains("* fatal: unrecognized subcommand 'lsit'"),
        "{out}"
    );
    assert!(out.contains("* hint: did you mean 'list'?"), "{out}");

    let out = sandbox.fails(&["key", "rotat", GUN, "targets"]);
    assert!(out.contains("did you mean 'rotate'?"), "{out}");

    // A role name is a value, not a subcommand: signet suggests it itself.
    let out = sandbox.fails(&["key", "rotate", GUN, "target"]);
    assert!(
        out.contains("* hint: did you mean 'targets'? root and targets keys are rotated"),
        "{out}"
    );
}

#[test]
fn unknown_config_keys_are_a_warning_naming_them() {
    let sandbox = Sandbox::new();
    sandbox.file(
        "config.json",
        br#"{"trustdir": "x", "remote_server": {"url": "https://h:1", "root_ca_file": "ca.crt"}}"#,
    );
    let out = sandbox
        .bare()
        .args(["-c", "config.json", "key", "list"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("warning: unknown key 'trustdir' in ")
            && stderr.contains("config.json is ignored (did you mean 'trust_dir'?)"),
        "{stderr}"
    );
    assert!(
        stderr.contains("unknown key 'remote_server.root_ca_file'")
            && stderr.contains("(did you mean 'remote_server.root_ca'?)"),
        "{stderr}"
    );
    // docker-style commands do not read the notary configuration, so they do not warn.
    let out = sandbox
        .bare()
        .args(["-c", "config.json", "trust", "key", "generate", "--help"])
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&out.stderr).contains("unknown key"));
}

#[test]
fn an_unknown_role_to_list_is_an_error_naming_the_roles() {
    let env = ServerSandbox::start();
    let ok = |args: &[&str]| env.ok(args);
    let run = |args: &[&str]| env.run(args);
    let cert = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../keys-example/delegation.pem");
    ok(&["init", GUN]);
    ok(&[
        "delegation",
        "add",
        GUN,
        "targets/bob",
        cert.to_str().unwrap(),
        "--all-paths",
    ]);
    ok(&["publish", GUN]);

    // A declared role with nothing signed lists nothing, and succeeds.
    let empty = ok(&["list", GUN, "--roles", "targets/bob"]);
    assert!(empty.contains("No targets present"), "{empty}");

    let out = run(&["list", GUN, "--roles", "targets/bobb"]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!(
            "* fatal: {GUN} has no role targets/bobb; its roles are targets, targets/bob"
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "* hint: did you mean 'targets/bob'? 'signet delegation list {GUN}' lists"
        )),
        "{text}"
    );
    // The JSON error names it too, and a wholly unrelated name gets no suggestion.
    let out = run(&["list", GUN, "--roles", "zzz", "--output", "json"]);
    let doc = json(&String::from_utf8_lossy(&out.stdout));
    assert!(doc.to_string().contains("has no role zzz"), "{doc}");
    assert!(!doc.to_string().contains("did you mean"), "{doc}");
}
