//! Shared pieces of the content-trust suites (`trust_docker`, `trust_registry`): a TLS
//! signet-server and a `docker-registry` shared by the tests running at the same time (each
//! test uses its own repository), and running `signet trust` and `docker trust` in one private
//! docker configuration.

use std::sync::{Arc, Mutex, PoisonError, Weak};

use serde_json::Value;
use signet_e2e::docker_cli::DockerEnv;
use signet_e2e::registry::DockerRegistry;
use signet_e2e::{CommandOutput, SignetServer, require_tool};

use crate::client_support::signet_binary;

/// Image config blob used for every pushed test image.
pub(crate) const CONFIG: &[u8] =
    br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;

/// A TLS signet-server (SQLite, per-server test CA) and a plain-HTTP `docker-registry`.
pub(crate) struct TrustServers {
    pub(crate) server: SignetServer,
    pub(crate) registry: DockerRegistry,
}

impl TrustServers {
    /// A fresh docker configuration for the shared server, trusting its CA.
    pub(crate) fn env(&self) -> DockerEnv {
        DockerEnv::new(self.server.url(), self.server.ca_cert()).unwrap()
    }

    /// `<registry host>/<path>`.
    pub(crate) fn image(&self, path: &str) -> String {
        format!("{}/{path}", self.registry.host())
    }

    /// Pushes a one-layer image `path:tag` with `layer` as its only layer; returns the
    /// manifest digest (`sha256:<hex>`) and size.
    pub(crate) fn push(&self, path: &str, tag: &str, layer: &[u8]) -> (String, u64) {
        self.registry.push_image(path, tag, layer, CONFIG).unwrap()
    }
}

/// Starts the servers (no sharing): `None` with a skip notice outside CI when
/// `docker-registry` is missing; a failure under CI.
pub(crate) fn start_trust_servers() -> Option<TrustServers> {
    require_tool("docker-registry")?;
    Some(TrustServers {
        server: SignetServer::start_sqlite_tls().unwrap(),
        registry: DockerRegistry::start().unwrap(),
    })
}

/// The servers shared by the tests running at the same time, started on first use and
/// stopped when the last test lets go.
pub(crate) fn shared_trust_servers() -> Option<Arc<TrustServers>> {
    static SHARED: Mutex<Weak<TrustServers>> = Mutex::new(Weak::new());
    require_tool("docker-registry")?;
    let mut slot = SHARED.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(servers) = slot.upgrade() {
        return Some(servers);
    }
    let servers = Arc::new(start_trust_servers()?);
    *slot = Arc::downgrade(&servers);
    Some(servers)
}

/// Whether the docker CLI is installed (skip notice otherwise; a failure under CI).
pub(crate) fn docker_available() -> bool {
    require_tool("docker").is_some()
}

/// Runs `signet <args>` in `env` (no `-d`/`-s`: the trust dir, server and CA come from the
/// docker configuration, as for `docker trust`).
pub(crate) fn signet(env: &DockerEnv, args: &[&str]) -> CommandOutput {
    env.run(&signet_binary(), args).unwrap()
}

/// Runs `signet <args>` and panics with both streams unless it succeeds.
pub(crate) fn signet_ok(env: &DockerEnv, args: &[&str]) -> CommandOutput {
    signet(env, args).ok().unwrap()
}

/// Runs `docker <args>` and panics with both streams unless it succeeds.
pub(crate) fn docker_ok(env: &DockerEnv, args: &[&str]) -> CommandOutput {
    env.docker(args).unwrap().ok().unwrap()
}

/// Parses inspect output as JSON, with the command's streams in the panic message.
pub(crate) fn json(output: &CommandOutput) -> Value {
    serde_json::from_str(&output.stdout)
        .unwrap_or_else(|e| panic!("{} printed no JSON ({e}):\n{output:?}", output.command))
}

/// `signet trust inspect <images>` as JSON.
pub(crate) fn signet_inspect(env: &DockerEnv, images: &[&str]) -> Value {
    let mut args = vec!["trust", "inspect"];
    args.extend_from_slice(images);
    json(&signet_ok(env, &args))
}

/// `docker trust inspect <images>` as JSON.
pub(crate) fn docker_inspect(env: &DockerEnv, images: &[&str]) -> Value {
    let mut args = vec!["trust", "inspect"];
    args.extend_from_slice(images);
    json(&docker_ok(env, &args))
}

/// The `SignedTags` of the first inspected image, as (tag, digest hex, signers).
pub(crate) fn signed_tags(inspect: &Value) -> Vec<(String, String, Vec<String>)> {
    inspect[0]["SignedTags"]
        .as_array()
        .unwrap_or_else(|| panic!("no SignedTags in {inspect}"))
        .iter()
        .map(|row| {
            (
                row["SignedTag"].as_str().unwrap().to_owned(),
                row["Digest"].as_str().unwrap().to_owned(),
                row["Signers"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|s| s.as_str().unwrap().to_owned())
                    .collect(),
            )
        })
        .collect()
}

/// The signer names of the first inspected image.
pub(crate) fn signer_names(inspect: &Value) -> Vec<String> {
    inspect[0]["Signers"]
        .as_array()
        .unwrap_or_else(|| panic!("no Signers in {inspect}"))
        .iter()
        .map(|signer| signer["Name"].as_str().unwrap().to_owned())
        .collect()
}

/// The key IDs of signer `name` in the first inspected image.
pub(crate) fn signer_keys(inspect: &Value, name: &str) -> Vec<String> {
    inspect[0]["Signers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|signer| signer["Name"] == name)
        .flat_map(|signer| signer["Keys"].as_array().unwrap().iter())
        .map(|key| key["ID"].as_str().unwrap().to_owned())
        .collect()
}

/// The hex part of a `sha256:<hex>` digest.
pub(crate) fn hex_of(digest: &str) -> &str {
    digest.strip_prefix("sha256:").unwrap_or(digest)
}
