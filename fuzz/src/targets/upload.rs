//! `upload`: `POST /v2/<gun>/_trust/tuf/`, the one request that carries metadata into the
//! server: the multipart body, each part's file name and first JSON decode
//! ([`read_upload`]), then every validation check ([`MetadataService::check_update`], a dry run of
//! [`MetadataService::update`]) against a SQLite store in memory that holds the root, snapshot (version
//! 5) and timestamp of the notary 0.3 test repository, but none of its targets.
//!
//! Input: the `Content-Type` header value, a line feed, then the body.
//! Invariant: every refusal is a client error (4xx), never a server error.

use std::sync::{Arc, OnceLock};

use signet_server::cache::{CacheSettings, MetaCache};
use signet_server::config::ServerKeyAlgorithm;
use signet_server::error::ServerError;
use signet_server::http::error::{classify, envelope_body};
use signet_server::http::upload::read_upload;
use signet_server::kek::Kek;
use signet_server::service::{MetadataService, ServiceSettings};
use signet_server::store::{FileUpdate, Store};

use super::fixed_now;

/// The repository uploads go to; its root, snapshot and timestamp are stored before the
/// first input.
pub const GUN: &str = "docker.com/notary0.3/tst";

const ROOT: &[u8] = include_bytes!(
    "../../../crates/tuf/tests/data/notary-compat/notary0.3/tuf/docker.com/notary0.3/tst/metadata/root.json"
);
const SNAPSHOT: &[u8] = include_bytes!(
    "../../../crates/tuf/tests/data/notary-compat/notary0.3/tuf/docker.com/notary0.3/tst/metadata/snapshot.json"
);
const TIMESTAMP: &[u8] = include_bytes!(
    "../../../crates/tuf/tests/data/notary-compat/notary0.3/tuf/docker.com/notary0.3/tst/metadata/timestamp.json"
);

struct Server {
    runtime: tokio::runtime::Runtime,
    repo: MetadataService,
}

fn server() -> &'static Server {
    static SERVER: OnceLock<Server> = OnceLock::new();
    SERVER.get_or_init(|| {
        let runtime = match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(runtime) => runtime,
            Err(e) => panic!("no tokio runtime: {e}"),
        };
        let repo = runtime.block_on(async {
            let store = match Store::connect("sqlite::memory:").await {
                Ok(store) => store,
                Err(e) => panic!("no SQLite store: {e}"),
            };
            // The current root is the one the current timestamp's snapshot names.
            let files = [
                FileUpdate::new("root", 1, ROOT),
                FileUpdate::new("snapshot", 5, SNAPSHOT),
                FileUpdate::new("timestamp", 4, TIMESTAMP),
            ];
            if let Err(e) = store.update_many(GUN, &files).await {
                panic!("storing the fixture repository failed: {e}");
            }
            MetadataService::new(
                store,
                MetaCache::new(CacheSettings::default()),
                ServiceSettings {
                    kek: Arc::new(Kek::from_bytes([7; 32])),
                    key_algorithm: ServerKeyAlgorithm::Ecdsa,
                },
            )
        });
        Server { runtime, repo }
    })
}

/// Runs one input; `true` when the upload passed every check.
pub fn run(data: &[u8]) -> bool {
    let (header, body) = match data.iter().position(|&b| b == b'\n') {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &[][..]),
    };
    let Ok(content_type) = std::str::from_utf8(header) else {
        return false;
    };
    let files = match read_upload(GUN, Some(content_type), body.to_vec().into()) {
        Ok(files) => files,
        Err(e) => {
            refusal(&e);
            return false;
        }
    };
    let server = server();
    match server
        .runtime
        .block_on(server.repo.check_update(GUN, files, fixed_now()))
    {
        Ok(()) => true,
        Err(e) => {
            refusal(&e.into());
            false
        }
    }
}

/// An upload is refused with a client error (a 4xx in the Notary error envelope), never a
/// server error: the store works, so every refusal is about the request.
///
/// With `SIGNET_FUZZ_DEBUG` set the refusal is printed, for triage.
fn refusal(e: &ServerError) {
    if std::env::var_os("SIGNET_FUZZ_DEBUG").is_some() {
        eprintln!("refused: {e}");
    }
    let (code, detail) = classify(e);
    assert!(
        code.status().is_client_error(),
        "an upload was refused with {} ({}): {e}",
        code.status(),
        code.as_str()
    );
    let _ = envelope_body(code, detail.as_deref());
}
