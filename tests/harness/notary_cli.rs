//! Driving the Go `notary` CLI.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::command::{CommandOutput, DEFAULT_COMMAND_TIMEOUT, run_command};
use crate::error::{HarnessError, Result};
use crate::listing::{DelegationRow, TargetRow, parse_delegation_list, parse_target_list};
use crate::require::find_tool;
use crate::trust_dir::TrustDir;

/// The passphrases handed to the CLI through its `NOTARY_*_PASSPHRASE` variables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Passphrases {
    /// `NOTARY_ROOT_PASSPHRASE`: root keys.
    pub root: String,
    /// `NOTARY_TARGETS_PASSPHRASE`: targets keys.
    pub targets: String,
    /// `NOTARY_SNAPSHOT_PASSPHRASE`: snapshot keys.
    pub snapshot: String,
    /// `NOTARY_DELEGATION_PASSPHRASE`: every other key (delegations, imports).
    pub delegation: String,
}

impl Default for Passphrases {
    /// `e2e-root-passphrase`, `e2e-targets-passphrase`, `e2e-snapshot-passphrase`,
    /// `e2e-delegation-passphrase`.
    fn default() -> Self {
        Self {
            root: "e2e-root-passphrase".to_owned(),
            targets: "e2e-targets-passphrase".to_owned(),
            snapshot: "e2e-snapshot-passphrase".to_owned(),
            delegation: "e2e-delegation-passphrase".to_owned(),
        }
    }
}

/// Where a delegation may sign.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DelegationPaths<'a> {
    /// `--all-paths`.
    All,
    /// `--paths p1,p2,…` (prefixes).
    Prefixes(&'a [&'a str]),
    /// No path change (keys only).
    Unchanged,
}

/// Hex digests for [`NotaryCli::add_hash`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TargetHashes<'a> {
    /// SHA-256, 64 hex digits.
    pub sha256: &'a str,
    /// SHA-512, 128 hex digits, if given.
    pub sha512: Option<&'a str>,
}

/// The files written by [`NotaryCli::generate_delegation_key`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DelegationKey {
    /// The `PUBLIC KEY` PEM to hand to `delegation add`.
    pub public_pem: PathBuf,
    /// The canonical key ID (what `notary delegation list` and `key list` print).
    pub key_id: String,
}

/// Runs the Go `notary` binary against one trust dir and one server.
///
/// Every command gets `-d <trust dir> -s <server url>`, the passphrase variables, and a private
/// `HOME` so no user configuration is read.
#[derive(Debug)]
pub struct NotaryCli {
    binary: PathBuf,
    server_url: String,
    trust: TrustDir,
    passphrases: Passphrases,
    timeout: Duration,
}

impl NotaryCli {
    /// A CLI with a fresh, empty trust dir talking to `server_url`.
    pub fn new(server_url: &str) -> Result<Self> {
        Self::with_trust_dir(server_url, TrustDir::new()?)
    }

    /// A CLI using the given trust dir (for example [`TrustDir::copy_of`] a fixture).
    pub fn with_trust_dir(server_url: &str, trust: TrustDir) -> Result<Self> {
        let binary = find_tool("notary").ok_or_else(|| HarnessError::ToolMissing {
            tool: "notary".to_owned(),
        })?;
        Ok(Self {
            binary,
            server_url: server_url.trim_end_matches('/').to_owned(),
            trust,
            passphrases: Passphrases::default(),
            timeout: DEFAULT_COMMAND_TIMEOUT,
        })
    }

    /// Another CLI for the same server and passphrases with a fresh, empty trust dir: a
    /// newcomer that trusts on first use.
    pub fn fresh(&self) -> Result<Self> {
        Ok(Self {
            binary: self.binary.clone(),
            server_url: self.server_url.clone(),
            trust: TrustDir::new()?,
            passphrases: self.passphrases.clone(),
            timeout: self.timeout,
        })
    }

    /// Points this trust dir at another server (for example the one that took over the first
    /// one's database); keys, cache and passphrases stay.
    pub fn set_server_url(&mut self, server_url: &str) {
        self.server_url = server_url.trim_end_matches('/').to_owned();
    }

    /// Replaces the passphrases.
    pub fn with_passphrases(mut self, passphrases: Passphrases) -> Self {
        self.passphrases = passphrases;
        self
    }

    /// The server URL.
    pub fn server_url(&self) -> &str {
        &self.server_url
    }

    /// The trust dir (`-d`).
    pub fn trust_dir(&self) -> PathBuf {
        self.trust.path()
    }

    /// The temporary directory set (trust dir, home, scratch files).
    pub fn dirs(&self) -> &TrustDir {
        &self.trust
    }

    /// The passphrases in use.
    pub fn passphrases(&self) -> &Passphrases {
        &self.passphrases
    }

    /// Runs `notary <args>`; a non-zero exit is returned, not an error.
    pub fn run<S: AsRef<OsStr>>(&self, args: &[S]) -> Result<CommandOutput> {
        self.run_with_stdin(args, None)
    }

    /// Runs `notary <args>` with `stdin` as its standard input.
    pub fn run_with_stdin<S: AsRef<OsStr>>(
        &self,
        args: &[S],
        stdin: Option<&str>,
    ) -> Result<CommandOutput> {
        let mut command = Command::new(&self.binary);
        command
            .arg("-d")
            .arg(self.trust.path())
            .arg("-s")
            .arg(&self.server_url)
            .args(args)
            .current_dir(self.trust.files())
            .env("HOME", self.trust.home())
            .env("NOTARY_ROOT_PASSPHRASE", &self.passphrases.root)
            .env("NOTARY_TARGETS_PASSPHRASE", &self.passphrases.targets)
            .env("NOTARY_SNAPSHOT_PASSPHRASE", &self.passphrases.snapshot)
            .env("NOTARY_DELEGATION_PASSPHRASE", &self.passphrases.delegation)
            .env_remove("NOTARY_AUTH");
        run_command(&mut command, stdin.map(str::as_bytes), self.timeout)
    }

    /// Runs `notary <args>` and fails unless it exits successfully.
    pub fn run_ok<S: AsRef<OsStr>>(&self, args: &[S]) -> Result<CommandOutput> {
        self.run(args)?.ok()
    }

    /// `notary init [-p] <gun>`: new root (unless one is in the trust dir), targets and
    /// snapshot keys; timestamp key from the server.
    pub fn init(&self, gun: &str, publish: bool) -> Result<CommandOutput> {
        self.run_ok(&with_publish(vec!["init".into(), gun.into()], publish))
    }

    /// `notary add [-p] <gun> <name> <file> [-r roles]`.
    pub fn add(
        &self,
        gun: &str,
        name: &str,
        file: &Path,
        roles: &[&str],
        publish: bool,
    ) -> Result<CommandOutput> {
        let mut args = vec!["add".into(), gun.into(), name.into(), path_arg(file)];
        push_roles(&mut args, roles);
        self.run_ok(&with_publish(args, publish))
    }

    /// Writes `contents` to a scratch file, then `notary add`s it; returns the row `notary list`
    /// is expected to show for it (first role, or `targets`).
    pub fn add_bytes(
        &self,
        gun: &str,
        name: &str,
        contents: &[u8],
        roles: &[&str],
        publish: bool,
    ) -> Result<TargetRow> {
        let file_name = hex::encode(Sha256::digest(name.as_bytes()));
        let file = self.trust.write_file(&file_name, contents)?;
        self.add(gun, name, &file, roles, publish)?;
        let role = roles.first().copied().unwrap_or("targets");
        Ok(TargetRow::for_contents(name, contents, role))
    }

    /// `notary addhash [-p] <gun> <name> <size> --sha256 <hex> [--sha512 <hex>] [-r roles]`.
    pub fn add_hash(
        &self,
        gun: &str,
        name: &str,
        size: u64,
        hashes: TargetHashes<'_>,
        roles: &[&str],
        publish: bool,
    ) -> Result<CommandOutput> {
        let mut args = vec![
            "addhash".into(),
            gun.into(),
            name.into(),
            size.to_string(),
            "--sha256".into(),
            hashes.sha256.into(),
        ];
        if let Some(sha512) = hashes.sha512 {
            args.extend(["--sha512".into(), sha512.into()]);
        }
        push_roles(&mut args, roles);
        self.run_ok(&with_publish(args, publish))
    }

    /// `notary remove [-p] <gun> <name> [-r roles]`.
    pub fn remove(
        &self,
        gun: &str,
        name: &str,
        roles: &[&str],
        publish: bool,
    ) -> Result<CommandOutput> {
        let mut args = vec!["remove".into(), gun.into(), name.into()];
        push_roles(&mut args, roles);
        self.run_ok(&with_publish(args, publish))
    }

    /// `notary publish <gun>`.
    pub fn publish(&self, gun: &str) -> Result<CommandOutput> {
        self.run_ok(&["publish", gun])
    }

    /// `notary list <gun>`, parsed.
    pub fn list(&self, gun: &str) -> Result<Vec<TargetRow>> {
        parse_target_list(&self.run_ok(&["list", gun])?.stdout)
    }

    /// `notary list <gun> -r <roles>`, parsed.
    pub fn list_roles(&self, gun: &str, roles: &[&str]) -> Result<Vec<TargetRow>> {
        let mut args = vec!["list".into(), gun.into()];
        push_roles(&mut args, roles);
        parse_target_list(&self.run_ok(&args)?.stdout)
    }

    /// `notary delegation add [-p] <gun> <role> <key files…> [--paths …|--all-paths]`.
    pub fn delegation_add(
        &self,
        gun: &str,
        role: &str,
        key_files: &[&Path],
        paths: DelegationPaths<'_>,
        publish: bool,
    ) -> Result<CommandOutput> {
        let mut args = vec!["delegation".into(), "add".into(), gun.into(), role.into()];
        args.extend(key_files.iter().map(|file| path_arg(file)));
        match paths {
            DelegationPaths::All => args.push("--all-paths".into()),
            DelegationPaths::Prefixes(prefixes) => {
                args.extend(["--paths".into(), prefixes.join(",")]);
            }
            DelegationPaths::Unchanged => {}
        }
        self.run_ok(&with_publish(args, publish))
    }

    /// `notary delegation remove -y [-p] <gun> <role>`: removes the whole role.
    pub fn delegation_remove(&self, gun: &str, role: &str, publish: bool) -> Result<CommandOutput> {
        let args = vec![
            "delegation".into(),
            "remove".into(),
            "-y".into(),
            gun.into(),
            role.into(),
        ];
        self.run_ok(&with_publish(args, publish))
    }

    /// `notary delegation list <gun>`, parsed.
    pub fn delegation_list(&self, gun: &str) -> Result<Vec<DelegationRow>> {
        parse_delegation_list(&self.run_ok(&["delegation", "list", gun])?.stdout)
    }

    /// `notary key rotate <gun> <role> [-r]`. A root rotation's confirmation prompt is
    /// answered `yes`.
    pub fn key_rotate(&self, gun: &str, role: &str, server_managed: bool) -> Result<CommandOutput> {
        let mut args = vec!["key", "rotate", gun, role];
        if server_managed {
            args.push("-r");
        }
        self.run_with_stdin(&args, Some("yes\n"))?.ok()
    }

    /// `notary key import <file> [-r role]`.
    pub fn key_import(&self, file: &Path, role: Option<&str>) -> Result<CommandOutput> {
        let mut args = vec!["key".into(), "import".into(), path_arg(file)];
        if let Some(role) = role {
            args.extend(["-r".into(), role.into()]);
        }
        self.run_ok(&args)
    }

    /// Generates an ECDSA key for delegation `role` with `notary key generate -o` and imports
    /// the private half into this trust dir (adding the `path:` header the importer needs for
    /// an encrypted key). Returns the public PEM to pass to
    /// [`delegation_add`](Self::delegation_add).
    pub fn generate_delegation_key(&self, role: &str) -> Result<DelegationKey> {
        static GENERATED: AtomicU32 = AtomicU32::new(0);
        let prefix = self.trust.files().join(format!(
            "key-{}-{}",
            role.replace('/', "-"),
            GENERATED.fetch_add(1, Ordering::Relaxed)
        ));
        let prefix_arg = path_arg(&prefix);
        self.run_ok(&[
            "key",
            "generate",
            "ecdsa",
            "--role",
            role,
            "-o",
            &prefix_arg,
        ])?;
        let public_pem = with_suffix(&prefix, ".pem");
        let private_pem = with_suffix(&prefix, "-key.pem");
        let public = read_string(&public_pem)?;
        let key_id = ecdsa_public_key_id(&public).ok_or_else(|| HarnessError::Parse {
            what: "notary key generate",
            line: public.clone(),
            reason: "no PUBLIC KEY body".to_owned(),
        })?;
        let private = read_string(&private_pem)?;
        let with_path = match private.split_once('\n') {
            Some((begin, rest)) => format!("{begin}\npath: {key_id}\n{rest}"),
            None => private,
        };
        let import = with_suffix(&prefix, "-import.pem");
        std::fs::write(&import, with_path)
            .map_err(|e| HarnessError::io(format!("write {}", import.display()), e))?;
        self.key_import(&import, None)?;
        Ok(DelegationKey { public_pem, key_id })
    }

    /// `notary delete <gun> [--remote]`.
    pub fn delete(&self, gun: &str, remote: bool) -> Result<CommandOutput> {
        let mut args = vec!["delete", gun];
        if remote {
            args.push("--remote");
        }
        self.run_ok(&args)
    }
}

/// Key ID of an ECDSA `PUBLIC KEY` PEM: SHA-256 of the canonical TUF key JSON.
fn ecdsa_public_key_id(pem: &str) -> Option<String> {
    let body: String = pem
        .lines()
        .skip_while(|line| !line.starts_with("-----BEGIN"))
        .skip(1)
        .take_while(|line| !line.starts_with("-----END"))
        .filter(|line| !line.is_empty() && !line.contains(": "))
        .collect();
    if body.is_empty() {
        return None;
    }
    let json = format!(r#"{{"keytype":"ecdsa","keyval":{{"private":null,"public":"{body}"}}}}"#);
    Some(hex::encode(Sha256::digest(json.as_bytes())))
}

fn with_publish(mut args: Vec<String>, publish: bool) -> Vec<String> {
    if publish {
        args.push("-p".to_owned());
    }
    args
}

fn push_roles(args: &mut Vec<String>, roles: &[&str]) {
    if !roles.is_empty() {
        args.extend(["-r".to_owned(), roles.join(",")]);
    }
}

fn path_arg(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

fn with_suffix(prefix: &Path, suffix: &str) -> PathBuf {
    let mut path = prefix.as_os_str().to_owned();
    path.push(suffix);
    PathBuf::from(path)
}

fn read_string(path: &Path) -> Result<String> {
    std::fs::read_to_string(path)
        .map_err(|e| HarnessError::io(format!("read {}", path.display()), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_id_matches_the_notary_cli() {
        // A key generated by `notary key generate -o`; the CLI reported this canonical ID.
        let pem = "-----BEGIN PUBLIC KEY-----\nrole: targets/releases\n\n\
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEOrJ1f5dCE/i4XkmpTYX8RlzpghIb\n\
O96f4N85+Ts1TAYvDy5OnrkRakp+B0poCGRq+TjMDrPQPX6KE7qk4P2Oww==\n\
-----END PUBLIC KEY-----\n";
        assert_eq!(
            ecdsa_public_key_id(pem).unwrap(),
            "3f2fe61164bb31384ecce05e270fda0ddbb90c07d2d91914b4b9dfaae6ab26db"
        );
    }

    #[test]
    fn publish_flag_is_appended_only_when_asked() {
        let args = with_publish(vec!["add".into(), "gun".into()], true);
        assert_eq!(args, ["add", "gun", "-p"]);
        let args = with_publish(vec!["add".into(), "gun".into()], false);
        assert_eq!(args, ["add", "gun"]);
    }
}
