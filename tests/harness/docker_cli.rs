//! A private docker client configuration (`DOCKER_CONFIG`) for running the `docker` CLI's
//! content-trust commands, and any other program that follows docker's trust rules (such as
//! `signet trust`), against a test trust server without a docker engine.
//!
//! The directory holds `config/` (the `DOCKER_CONFIG`: `trust/` and
//! `tls/<host:port>/ca.crt`), `home/` (the `HOME`) and `work/` (the working directory, where
//! `docker trust key generate` writes `<name>.pub`). Every command gets:
//!
//! * `DOCKER_CONFIG`, `HOME` and the working directory above;
//! * `DOCKER_CONTENT_TRUST_SERVER` = the trust server;
//! * `DOCKER_CONTENT_TRUST_ROOT_PASSPHRASE` / `DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE`;
//! * `DOCKER_HOST` = a unix socket that does not exist: the trust commands that need no engine
//!   never connect, and anything that would needs one fails at once instead of reaching a
//!   daemon of the machine.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use tempfile::TempDir;

use crate::command::{CommandOutput, run_command};
use crate::error::{HarnessError, Result};
use crate::require::find_tool;

/// Root key passphrase given to every command.
pub const ROOT_PASSPHRASE: &str = "e2e root passphrase";
/// Repository (targets, snapshot, signer keys) passphrase given to every command.
pub const REPOSITORY_PASSPHRASE: &str = "e2e repository passphrase";

/// Time limit for one command.
const TIMEOUT: Duration = Duration::from_secs(120);

/// A private docker configuration pointed at one trust server.
#[derive(Debug)]
pub struct DockerEnv {
    root: TempDir,
    server_url: String,
}

impl DockerEnv {
    /// A fresh configuration using `server_url` (`https://host:port`) as the trust server and,
    /// when given, trusting `ca_cert` for it (copied to `config/tls/<host:port>/ca.crt`).
    pub fn new(server_url: &str, ca_cert: Option<&Path>) -> Result<Self> {
        let root = tempfile::Builder::new()
            .prefix("signet-e2e-docker-")
            .tempdir()
            .map_err(|e| HarnessError::io("create docker config directory", e))?;
        for sub in ["config", "home", "work"] {
            create_dir(&root.path().join(sub))?;
        }
        let env = Self {
            root,
            server_url: server_url.trim_end_matches('/').to_owned(),
        };
        if let Some(ca) = ca_cert {
            let host = env
                .server_url
                .split_once("://")
                .map_or(env.server_url.as_str(), |(_, rest)| rest)
                .to_owned();
            let dir = env.config().join("tls").join(host);
            create_dir(&dir)?;
            let target = dir.join("ca.crt");
            std::fs::copy(ca, &target).map_err(|e| {
                HarnessError::io(format!("copy {} to {}", ca.display(), target.display()), e)
            })?;
        }
        Ok(env)
    }

    /// The `DOCKER_CONFIG` directory.
    pub fn config(&self) -> PathBuf {
        self.root.path().join("config")
    }

    /// The trust directory, `<DOCKER_CONFIG>/trust`.
    pub fn trust_dir(&self) -> PathBuf {
        self.config().join("trust")
    }

    /// The working directory of every command.
    pub fn work(&self) -> PathBuf {
        self.root.path().join("work")
    }

    /// The trust server URL.
    pub fn server_url(&self) -> &str {
        &self.server_url
    }

    /// Runs `docker <args>`; a non-zero exit is returned, not an error.
    pub fn docker<S: AsRef<OsStr>>(&self, args: &[S]) -> Result<CommandOutput> {
        let docker = find_tool("docker").ok_or_else(|| HarnessError::ToolMissing {
            tool: "docker".to_owned(),
        })?;
        self.run(&docker, args)
    }

    /// Runs `program <args>` in this configuration; a non-zero exit is returned, not an error.
    pub fn run<S: AsRef<OsStr>>(&self, program: &Path, args: &[S]) -> Result<CommandOutput> {
        let mut command = Command::new(program);
        command
            .args(args)
            .current_dir(self.work())
            .env("HOME", self.root.path().join("home"))
            .env("DOCKER_CONFIG", self.config())
            .env("DOCKER_CONTENT_TRUST_SERVER", &self.server_url)
            .env("DOCKER_CONTENT_TRUST_ROOT_PASSPHRASE", ROOT_PASSPHRASE)
            .env(
                "DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE",
                REPOSITORY_PASSPHRASE,
            )
            .env(
                "DOCKER_HOST",
                format!(
                    "unix://{}",
                    self.root.path().join("no-engine.sock").display()
                ),
            )
            .env("NO_COLOR", "1")
            .env_remove("DOCKER_CONTENT_TRUST")
            .env_remove("DOCKER_CONTEXT")
            .env_remove("DOCKER_TLS_VERIFY")
            .env_remove("DOCKER_CERT_PATH");
        run_command(&mut command, None, TIMEOUT)
    }
}

fn create_dir(path: &Path) -> Result<()> {
    std::fs::create_dir_all(path)
        .map_err(|e| HarnessError::io(format!("create {}", path.display()), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_the_ca_where_docker_looks_for_it() {
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca.crt");
        std::fs::write(&ca, "test CA").unwrap();
        let env = DockerEnv::new("https://127.0.0.1:4443/", Some(&ca)).unwrap();
        assert_eq!(env.server_url(), "https://127.0.0.1:4443");
        assert_eq!(
            std::fs::read_to_string(env.config().join("tls/127.0.0.1:4443/ca.crt")).unwrap(),
            "test CA"
        );
        let output = env
            .run(
                Path::new("sh"),
                &[
                    "-c",
                    "echo $DOCKER_CONFIG $DOCKER_CONTENT_TRUST_SERVER; pwd",
                ],
            )
            .unwrap();
        let config = env.config();
        let work = env.work();
        assert_eq!(
            output.stdout,
            format!(
                "{} https://127.0.0.1:4443\n{}\n",
                config.display(),
                work.display()
            )
        );
    }
}
