//! Running the built `signet` binary against a temporary trust directory, and snapshotting
//! what it prints with the run-specific parts (key IDs, temporary paths) masked.

#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;

/// Passphrases used by the tests, one per notary environment variable.
pub const ROOT_PASSPHRASE: &str = "root-passphrase";
pub const TARGETS_PASSPHRASE: &str = "targets-passphrase";
pub const SNAPSHOT_PASSPHRASE: &str = "snapshot-passphrase";
pub const DELEGATION_PASSPHRASE: &str = "delegation-passphrase";

/// Variables that would change the binary's behaviour if inherited from the test runner.
const CLEARED: &[&str] = &[
    "NOTARY_ROOT_PASSPHRASE",
    "NOTARY_TARGETS_PASSPHRASE",
    "NOTARY_SNAPSHOT_PASSPHRASE",
    "NOTARY_DELEGATION_PASSPHRASE",
    "NOTARY_AUTH",
    "SIGNET_OUTPUT",
];

/// A scratch directory holding a trust directory (`td`) and a home directory.
pub struct Sandbox {
    dir: tempfile::TempDir,
}

impl Sandbox {
    pub fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("signet-cli")
            .tempdir()
            .unwrap();
        std::fs::create_dir_all(dir.path().join("home")).unwrap();
        Self { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn trust_dir(&self) -> PathBuf {
        self.dir.path().join("td")
    }

    pub fn file(&self, name: &str, contents: &[u8]) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, contents).unwrap();
        path
    }

    /// `signet -d <trust_dir> ...` run in the sandbox with no passphrase variables and no
    /// terminal.
    pub fn bare_in(&self, trust_dir: &str) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_signet"));
        for var in CLEARED {
            cmd.env_remove(var);
        }
        cmd.env("HOME", self.dir.path().join("home"))
            .current_dir(self.dir.path())
            .arg("-d")
            .arg(trust_dir)
            .write_stdin("");
        cmd
    }

    /// `signet -d td ...` with no passphrase variables and no terminal.
    pub fn bare(&self) -> Command {
        self.bare_in("td")
    }

    /// `signet -d td ...` with every passphrase variable set.
    pub fn signet(&self) -> Command {
        self.signet_in("td")
    }

    /// `signet -d <trust_dir> ...` with every passphrase variable set.
    pub fn signet_in(&self, trust_dir: &str) -> Command {
        let mut cmd = self.bare_in(trust_dir);
        cmd.env("NOTARY_ROOT_PASSPHRASE", ROOT_PASSPHRASE)
            .env("NOTARY_TARGETS_PASSPHRASE", TARGETS_PASSPHRASE)
            .env("NOTARY_SNAPSHOT_PASSPHRASE", SNAPSHOT_PASSPHRASE)
            .env("NOTARY_DELEGATION_PASSPHRASE", DELEGATION_PASSPHRASE);
        cmd
    }

    /// Runs `signet <args>` (with passphrases) and returns its output.
    pub fn run(&self, args: &[&str]) -> Output {
        self.signet().args(args).output().unwrap()
    }

    /// Runs `signet <args>`, asserts success and returns standard output.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "signet {args:?} failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Runs `signet <args>`, asserts exit status 1 and returns standard output.
    pub fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert_eq!(
            out.status.code(),
            Some(1),
            "signet {args:?} should fail:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Generates a key for `role` in the trust dir and returns its ID.
    pub fn generate(&self, role: &str) -> String {
        let out = self.ok(&["key", "generate", "--role", role]);
        out.trim().rsplit(' ').next().unwrap().to_owned()
    }

    /// Masks what differs between runs: the sandbox path and key IDs.
    pub fn mask(&self, text: &str) -> String {
        let sandbox = self.dir.path().display().to_string();
        mask_key_ids(&text.replace(&sandbox, "[SANDBOX]"))
    }
}

/// A [`Sandbox`] whose commands talk to a `signet-server` (plain HTTP, SQLite) with `-s`.
pub struct ServerSandbox {
    pub sandbox: Sandbox,
    pub server: signet_e2e::SignetServer,
}

impl ServerSandbox {
    pub fn start() -> Self {
        Self {
            sandbox: Sandbox::new(),
            server: signet_e2e::SignetServer::start_sqlite().expect("signet-server starts"),
        }
    }

    /// `-s <server>` followed by `args`.
    pub fn args<'a>(&'a self, args: &[&'a str]) -> Vec<&'a str> {
        let mut all = vec!["-s", self.server.url()];
        all.extend_from_slice(args);
        all
    }

    pub fn ok(&self, args: &[&str]) -> String {
        self.sandbox.ok(&self.args(args))
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.sandbox.run(&self.args(args))
    }

    pub fn fails(&self, args: &[&str]) -> String {
        self.sandbox.fails(&self.args(args))
    }

    /// Makes a new key for delegation `role` (`<prefix>.pem` and `<prefix>-key.pem` in the
    /// sandbox), imports it into the trust dir and publishes `role` of `gun` with it, for every
    /// path.
    pub fn delegate_to_new_key(&self, gun: &str, role: &str, prefix: &str) {
        let public = format!("{prefix}.pem");
        let private = format!("{prefix}-key.pem");
        self.ok(&["key", "generate", "-o", prefix, "-r", role]);
        self.ok(&["key", "import", &private, "-r", role]);
        self.ok(&["delegation", "add", gun, role, &public, "--all-paths", "-p"]);
    }

    /// The cached `role.json` of `gun` in the trust dir.
    pub fn cached_metadata(&self, gun: &str, role: &str) -> serde_json::Value {
        let path = self
            .sandbox
            .trust_dir()
            .join("tuf")
            .join(gun)
            .join("metadata")
            .join(format!("{role}.json"));
        serde_json::from_slice(&std::fs::read(&path).unwrap())
            .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
    }
}

/// Replaces every 64-character lowercase hex string by `[KEY ID]`.
pub fn mask_key_ids(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < bytes.len() {
        let run = bytes[i..]
            .iter()
            .take_while(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
            .count();
        let boundary_before = i == 0 || !bytes[i - 1].is_ascii_alphanumeric();
        let boundary_after = bytes
            .get(i + run)
            .is_none_or(|b| !b.is_ascii_alphanumeric());
        if run == 64 && boundary_before && boundary_after {
            out.push_str("[KEY ID]");
            i += run;
        } else if run > 0 {
            out.push_str(&text[i..i + run]);
            i += run;
        } else {
            let ch = text[i..].chars().next().unwrap();
            out.push(ch);
            i += ch.len_utf8();
        }
    }
    out
}

/// Parses standard output as JSON.
pub fn json(stdout: &str) -> serde_json::Value {
    serde_json::from_str(stdout).unwrap_or_else(|e| panic!("not JSON ({e}):\n{stdout}"))
}

/// The Go notary client found on `PATH`, when installed. With `CI` set a missing binary fails
/// the test instead of skipping it.
pub fn go_notary() -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("notary"))
            .find(|candidate| candidate.is_file())
    });
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "the Go notary client (Debian package `notary`) is required when CI is set"
        );
        eprintln!("skipping: the Go notary client is not installed");
    }
    found
}

/// `cmd` with none of the variables `cleared` inherited from the test runner, and `set` set.
pub fn with_env(mut cmd: Command, cleared: &[&str], set: &[(&str, &str)]) -> Command {
    for var in cleared {
        cmd.env_remove(var);
    }
    for (var, value) in set {
        cmd.env(var, value);
    }
    cmd
}
