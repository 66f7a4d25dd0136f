//! Driving the `signet` binary (package `signet-cli`) like the harness drives Go `notary`.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use signet_e2e::{
    CommandOutput, DEFAULT_COMMAND_TIMEOUT, DelegationRow, NotaryCli, Passphrases, TargetRow,
    TrustDir, debug_binary, parse_delegation_list, parse_target_list, run_command, workspace_root,
};

/// Path of the `signet` binary: `$SIGNET_BIN` as is, otherwise `cargo build -p signet-cli`
/// once per process (a no-op when it is up to date) and `target/debug/signet`.
pub(crate) fn signet_binary() -> PathBuf {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY
        .get_or_init(|| {
            if let Some(path) = std::env::var_os("SIGNET_BIN") {
                return PathBuf::from(path);
            }
            let root = workspace_root();
            let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
            let status = Command::new(cargo)
                .args(["build", "-p", "signet-cli", "--bin", "signet"])
                .current_dir(&root)
                .status()
                .expect("run cargo build -p signet-cli");
            assert!(status.success(), "cargo build -p signet-cli failed");
            debug_binary("signet")
        })
        .clone()
}

/// Runs `signet` against one trust dir and one server, with the harness's passphrase
/// variables and a private `HOME`.
pub(crate) struct Signet {
    server_url: String,
    trust: PathBuf,
    home: PathBuf,
    files: PathBuf,
    passphrases: Passphrases,
    _owned: Option<TrustDir>,
}

impl Signet {
    /// A `signet` with a fresh, empty trust dir talking to `server_url`.
    pub(crate) fn new(server_url: &str) -> Self {
        let dir = TrustDir::new().unwrap();
        let mut signet = Self::on(server_url, &dir);
        signet._owned = Some(dir);
        signet
    }

    /// A `signet` using the trust dir of `notary` (keys, cache and changelist shared).
    pub(crate) fn sharing(notary: &NotaryCli) -> Self {
        Self {
            server_url: notary.server_url().to_owned(),
            trust: notary.trust_dir(),
            home: notary.dirs().home(),
            files: notary.dirs().files(),
            passphrases: notary.passphrases().clone(),
            _owned: None,
        }
    }

    /// A `signet` using an existing trust dir (owned by the caller).
    pub(crate) fn on(server_url: &str, dir: &TrustDir) -> Self {
        Self {
            server_url: server_url.trim_end_matches('/').to_owned(),
            trust: dir.path(),
            home: dir.home(),
            files: dir.files(),
            passphrases: Passphrases::default(),
            _owned: None,
        }
    }

    /// Another `signet` for the same server with a fresh, empty trust dir.
    pub(crate) fn fresh(&self) -> Self {
        Self::new(&self.server_url)
    }

    /// Replaces the passphrases.
    pub(crate) fn with_passphrases(mut self, passphrases: Passphrases) -> Self {
        self.passphrases = passphrases;
        self
    }

    /// Writes `contents` to the scratch folder and returns its path.
    pub(crate) fn write_file(&self, name: &str, contents: &[u8]) -> PathBuf {
        let path = self.files.join(name);
        std::fs::write(&path, contents).unwrap();
        path
    }

    /// Starts `signet <args>` and kills it (SIGKILL) after `after`, unless it exits first.
    /// Returns whether it was killed.
    pub(crate) fn run_killed_after<S: AsRef<OsStr>>(
        &self,
        args: &[S],
        after: std::time::Duration,
    ) -> bool {
        let mut child = self
            .command(args)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let deadline = std::time::Instant::now() + after;
        while std::time::Instant::now() < deadline {
            if child.try_wait().unwrap().is_some() {
                return false;
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        let killed = child.kill().is_ok();
        let _ = child.wait();
        killed
    }

    /// `signet -d <trust dir> -s <server> <args>` with the passphrase variables set.
    fn command<S: AsRef<OsStr>>(&self, args: &[S]) -> Command {
        let mut command = Command::new(signet_binary());
        command
            .arg("-d")
            .arg(&self.trust)
            .arg("-s")
            .arg(&self.server_url)
            .args(args)
            .current_dir(&self.files)
            .env("HOME", &self.home)
            .env("NOTARY_ROOT_PASSPHRASE", &self.passphrases.root)
            .env("NOTARY_TARGETS_PASSPHRASE", &self.passphrases.targets)
            .env("NOTARY_SNAPSHOT_PASSPHRASE", &self.passphrases.snapshot)
            .env("NOTARY_DELEGATION_PASSPHRASE", &self.passphrases.delegation)
            .env_remove("NOTARY_AUTH")
            .env_remove("SIGNET_OUTPUT");
        command
    }

    /// Runs `signet <args>` with `stdin`; a non-zero exit is returned, not an error.
    pub(crate) fn run_with_stdin<S: AsRef<OsStr>>(
        &self,
        args: &[S],
        stdin: Option<&str>,
    ) -> CommandOutput {
        let mut command = self.command(args);
        run_command(
            &mut command,
            stdin.map(str::as_bytes),
            DEFAULT_COMMAND_TIMEOUT,
        )
        .unwrap()
    }

    /// Runs `signet <args>`; a non-zero exit is returned, not an error.
    pub(crate) fn run<S: AsRef<OsStr>>(&self, args: &[S]) -> CommandOutput {
        self.run_with_stdin(args, None)
    }

    /// Runs `signet <args>` and panics (with both streams) unless it succeeds.
    pub(crate) fn run_ok<S: AsRef<OsStr>>(&self, args: &[S]) -> CommandOutput {
        self.run(args).ok().unwrap()
    }

    /// `signet list <gun>`, parsed.
    pub(crate) fn list(&self, gun: &str) -> Vec<TargetRow> {
        parse_target_list(&self.run_ok(&["list", gun]).stdout).unwrap()
    }

    /// `signet delegation list <gun>`, parsed.
    pub(crate) fn delegation_list(&self, gun: &str) -> Vec<DelegationRow> {
        parse_delegation_list(&self.run_ok(&["delegation", "list", gun]).stdout).unwrap()
    }
}

/// The file `NotaryCli::generate_delegation_key` imported (private key with its `path:`
/// header), derived from the public PEM it returned.
pub(crate) fn delegation_private_pem(public_pem: &Path) -> PathBuf {
    let text = public_pem.to_string_lossy();
    PathBuf::from(format!(
        "{}-import.pem",
        text.strip_suffix(".pem").unwrap_or(&text)
    ))
}
