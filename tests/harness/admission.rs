//! `signet admission serve` (the Kubernetes admission webhook) on a free loopback port with a
//! generated TLS certificate, and an HTTPS client that trusts it.
//!
//! The webhook is started with `--listen 127.0.0.1:0`; the port it got is read from its
//! `listening on https://ADDR` log line. Requests go through reqwest on a runtime the handle
//! owns, so callers stay synchronous.

use std::ffi::OsString;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject as _;
use tempfile::TempDir;

use crate::error::{HarnessError, Result};
use crate::process::{ServerCommand, ServerProcess};
use crate::tls::TlsFiles;

/// How long the webhook gets to log its listening address.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);
/// How long one request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// What the webhook logs once it accepts connections.
const LISTENING: &str = "listening on https://";

/// A response read in full.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookResponse {
    /// The status code.
    pub status: u16,
    /// The `content-type` header, if any.
    pub content_type: Option<String>,
    /// The body.
    pub body: Vec<u8>,
}

impl WebhookResponse {
    /// The body as UTF-8 text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A running `signet admission serve`; dropping it kills the process.
#[derive(Debug)]
pub struct AdmissionWebhook {
    process: ServerProcess,
    url: String,
    tls: TlsFiles,
    client: reqwest::Client,
    runtime: tokio::runtime::Runtime,
    _dir: TempDir,
}

impl AdmissionWebhook {
    /// Runs `<signet> admission serve --policy <policy> --tls-cert … --tls-key …
    /// --listen 127.0.0.1:0 <extra_args>` with `DOCKER_CONFIG` set to `docker_config` (an
    /// empty private one when `None`) and waits for its listening line.
    pub fn start(
        signet: &Path,
        policy: &Path,
        docker_config: Option<&Path>,
        extra_args: &[&str],
    ) -> Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("signet-e2e-admission-")
            .tempdir()
            .map_err(|e| HarnessError::io("create webhook directory", e))?;
        let tls = TlsFiles::generate(dir.path())?;
        let home = dir.path().join("home");
        let private_config = dir.path().join("docker");
        for sub in [&home, &private_config] {
            std::fs::create_dir_all(sub)
                .map_err(|e| HarnessError::io(format!("create {}", sub.display()), e))?;
        }
        let mut args: Vec<OsString> = vec![
            "admission".into(),
            "serve".into(),
            "--policy".into(),
            policy.into(),
            "--tls-cert".into(),
            tls.server_cert.clone().into(),
            "--tls-key".into(),
            tls.server_key.clone().into(),
            "--listen".into(),
            "127.0.0.1:0".into(),
        ];
        args.extend(extra_args.iter().map(OsString::from));
        let mut process = ServerCommand::new(signet)
            .name("signet-admission")
            .args(args)
            .env(
                "DOCKER_CONFIG",
                docker_config.unwrap_or(private_config.as_path()),
            )
            .env("HOME", &home)
            .env("NO_COLOR", "1")
            .current_dir(dir.path())
            .start()?;
        let address = wait_for_address(&mut process)?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .map_err(|e| HarnessError::io("start the webhook client runtime", e))?;
        let client = https_client(&tls.ca_cert)?;
        Ok(Self {
            process,
            url: format!("https://{address}"),
            tls,
            client,
            runtime,
            _dir: dir,
        })
    }

    /// `https://127.0.0.1:<port>`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The CA certificate that issued the webhook's certificate.
    pub fn ca_cert(&self) -> &Path {
        &self.tls.ca_cert
    }

    /// The webhook's certificate and key files.
    pub fn tls_files(&self) -> &TlsFiles {
        &self.tls
    }

    /// The webhook process.
    pub fn process(&self) -> &ServerProcess {
        &self.process
    }

    /// The webhook process, mutably (to signal it).
    pub fn process_mut(&mut self) -> &mut ServerProcess {
        &mut self.process
    }

    /// Everything the webhook has logged so far.
    pub fn logs(&self) -> String {
        self.process.logs()
    }

    /// `GET <path>`.
    pub fn get(&self, path: &str) -> Result<WebhookResponse> {
        let url = format!("{}{path}", self.url);
        self.send(&url, self.client.get(&url))
    }

    /// `POST <path>` with `body` as `application/json`.
    pub fn post(&self, path: &str, body: &[u8]) -> Result<WebhookResponse> {
        let url = format!("{}{path}", self.url);
        let request = self
            .client
            .post(&url)
            .header("content-type", "application/json")
            .body(body.to_vec());
        self.send(&url, request)
    }

    /// Polls `path` until it answers 200 or `timeout` passes; returns the last response.
    pub fn wait_for(&self, path: &str, timeout: Duration) -> Result<WebhookResponse> {
        let deadline = Instant::now() + timeout;
        loop {
            let response = self.get(path)?;
            if response.status == 200 || Instant::now() >= deadline {
                return Ok(response);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn send(&self, url: &str, request: reqwest::RequestBuilder) -> Result<WebhookResponse> {
        let fail = |reason: String| HarnessError::Http {
            url: url.to_owned(),
            reason,
        };
        self.runtime.block_on(async {
            let response = request.send().await.map_err(|e| fail(format!("{e:?}")))?;
            let status = response.status().as_u16();
            let content_type = response
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let body = response
                .bytes()
                .await
                .map_err(|e| fail(format!("{e:?}")))?
                .to_vec();
            Ok(WebhookResponse {
                status,
                content_type,
                body,
            })
        })
    }
}

/// A reqwest client that trusts only the CA certificates in `ca_pem` (PEM file).
pub fn https_client(ca_pem: &Path) -> Result<reqwest::Client> {
    let fail = |reason: String| HarnessError::Tls {
        what: format!("build an HTTPS client trusting {}", ca_pem.display()),
        reason,
    };
    let mut roots = rustls::RootCertStore::empty();
    for certificate in CertificateDer::pem_file_iter(ca_pem).map_err(|e| fail(e.to_string()))? {
        roots
            .add(certificate.map_err(|e| fail(e.to_string()))?)
            .map_err(|e| fail(e.to_string()))?;
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| fail(e.to_string()))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    reqwest::Client::builder()
        .use_preconfigured_tls(config)
        .timeout(REQUEST_TIMEOUT)
        .build()
        .map_err(|e| fail(e.to_string()))
}

/// Waits for the listening line and returns the address in it (`127.0.0.1:<port>`).
fn wait_for_address(process: &mut ServerProcess) -> Result<String> {
    let deadline = Instant::now() + STARTUP_TIMEOUT;
    loop {
        let logs = process.logs();
        if let Some(address) = listening_address(&logs) {
            return Ok(address);
        }
        if !process.is_running() {
            return Err(HarnessError::ServerExited {
                name: process.name().to_owned(),
                status: "exited".to_owned(),
                log: logs,
            });
        }
        if Instant::now() >= deadline {
            return Err(HarnessError::ServerTimeout {
                name: process.name().to_owned(),
                health_url: format!("a `{LISTENING}…` log line"),
                timeout: STARTUP_TIMEOUT,
                log: logs,
            });
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The `host:port` after the first `listening on https://` in `logs` (stops at anything that
/// cannot be part of an address, such as a space or a colour code).
fn listening_address(logs: &str) -> Option<String> {
    let start = logs.find(LISTENING)? + LISTENING.len();
    let address: String = logs[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | ':' | '[' | ']'))
        .collect();
    let port = address.rsplit_once(':')?.1;
    (!port.is_empty() && port.bytes().all(|b| b.is_ascii_digit())).then_some(address)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_address_from_the_listening_line() {
        let logs =
            "2026-12-07T10:00:00Z  INFO signet_admission: listening on https://127.0.0.1:41234\n";
        assert_eq!(listening_address(logs).unwrap(), "127.0.0.1:41234");
        let coloured = "\u{1b}[32m INFO\u{1b}[0m listening on https://[::1]:8443\u{1b}[0m rest";
        assert_eq!(listening_address(coloured).unwrap(), "[::1]:8443");
        assert_eq!(listening_address("listening on https://127.0.0.1:"), None);
        assert_eq!(listening_address("starting"), None);
    }
}
