//! Refused uploads over raw HTTP: each must get the same status and Notary error code from
//! signet-server as from the Go notary-server, and leave the stored metadata untouched.

use serde_json::Value;
use signet_e2e::{NotaryCli, SignetServer, TargetRow};
use signet_signer::PrivateKey;
use signet_signer::cert::generate_root_certificate;
use signet_tuf::metadata::{Envelope, RoleKeys, Root};

use crate::server_http::{Reply, current_files, multipart, request, upload};
use crate::server_shared::shared_servers;
use crate::support::go_notary_available;

/// Display name of signet-server in messages.
const SIGNET: &str = "signet-server";

/// A repository published by the Go CLI on one server: `init -p` and one `add -p`.
struct Published {
    server: &'static str,
    tuf_url: String,
    cli: NotaryCli,
    row: TargetRow,
}

fn publish(server: &'static str, url: &str, gun: &str) -> Published {
    let cli = NotaryCli::new(url).unwrap();
    cli.init(gun, true).unwrap();
    let row = cli
        .add_bytes(gun, "payload", b"negative tests", &[], true)
        .unwrap();
    Published {
        server,
        tuf_url: format!("{url}/v2/{gun}/_trust/tuf/"),
        cli,
        row,
    }
}

/// Runs `attempt` against the repository, asserts the outcome and that the four current
/// metadata files are byte-for-byte what they were.
fn refused(
    repo: &Published,
    case: &str,
    expected: (u16, &str),
    attempt: &dyn Fn(&Published) -> Reply,
) {
    let before = current_files(&repo.tuf_url);
    let reply = attempt(repo);
    assert_eq!(
        reply.outcome(),
        (expected.0, expected.1.to_owned()),
        "{case} on {}: {}",
        repo.server,
        String::from_utf8_lossy(&reply.body)
    );
    assert_eq!(
        current_files(&repo.tuf_url),
        before,
        "{case} on {} changed the stored metadata",
        repo.server
    );
}

fn file(repo: &Published, role: &str) -> Vec<u8> {
    crate::server_http::get_ok(&repo.tuf_url, &format!("{role}.json"))
}

/// `targets.json` with its version bumped but the old signatures kept.
fn targets_with_stale_signatures(repo: &Published) -> Vec<u8> {
    let mut targets: Value = serde_json::from_slice(&file(repo, "targets")).unwrap();
    let version = targets["signed"]["version"].as_i64().unwrap();
    targets["signed"]["version"] = Value::from(version + 1);
    serde_json::to_vec(&targets).unwrap()
}

/// `targets.json` with its version bumped and no signatures at all.
fn targets_unsigned(repo: &Published) -> Vec<u8> {
    let mut targets: Value = serde_json::from_slice(&targets_with_stale_signatures(repo)).unwrap();
    targets["signatures"] = Value::Array(Vec::new());
    serde_json::to_vec(&targets).unwrap()
}

/// The next root version, naming a brand-new root key and signed only by that key: a root
/// rotation attempted without the old root key.
fn root_rotated_without_old_key(repo: &Published, gun: &str) -> Vec<u8> {
    let current: Envelope<Root> = Envelope::parse(&file(repo, "root")).unwrap();
    let (mut root, _) = current.into_parts();
    let key = PrivateKey::generate_ecdsa().unwrap();
    let certificate = generate_root_certificate(&key, gun).unwrap();
    let cert_id = certificate.public_key.key_id();
    root.keys.insert(cert_id.clone(), certificate.public_key);
    root.roles
        .insert("root".to_owned(), RoleKeys::new(vec![cert_id.clone()], 1));
    root.version += 1;
    let mut envelope = Envelope::from_signed(root).unwrap();
    let mut signature = key.sign(envelope.signing_bytes()).unwrap();
    signature.keyid = cert_id;
    envelope.add_signature(signature);
    envelope.to_file_bytes().unwrap()
}

/// Every refusal case, checked on both servers.
fn all_cases(repo: &Published, gun: &str) {
    let ct = crate::server_http::multipart_type();
    refused(repo, "not multipart", (400, "MALFORMED_UPLOAD"), &|r| {
        request("POST", &r.tuf_url, Some("application/json"), b"{}")
    });
    refused(repo, "no boundary", (400, "MALFORMED_UPLOAD"), &|r| {
        request(
            "POST",
            &r.tuf_url,
            Some("multipart/form-data"),
            &multipart(&[("targets", b"{}")]),
        )
    });
    refused(repo, "no content type", (400, "MALFORMED_UPLOAD"), &|r| {
        request("POST", &r.tuf_url, None, &multipart(&[("targets", b"{}")]))
    });
    if repo.server == SIGNET {
        // The Go server dereferences a nil part here and drops the connection unanswered.
        refused(
            repo,
            "body without parts",
            (400, "MALFORMED_UPLOAD"),
            &|r| request("POST", &r.tuf_url, Some(&ct), b"no boundary at all"),
        );
    }
    refused(repo, "bad JSON", (400, "MALFORMED_JSON"), &|r| {
        upload(&r.tuf_url, &[("targets", b"{not json")])
    });
    refused(
        repo,
        "JSON of the wrong shape",
        (400, "MALFORMED_JSON"),
        &|r| upload(&r.tuf_url, &[("targets", b"[1, 2, 3]")]),
    );
    for role in ["foo", "targets/", "../targets", "targets//x"] {
        refused(
            repo,
            &format!("role {role:?}"),
            (400, "INVALID_ROLE"),
            &|r| upload(&r.tuf_url, &[(role, b"{}")]),
        );
    }
    refused(
        repo,
        "targets signed for another version",
        (400, "INVALID_UPDATE"),
        &|r| {
            let targets = targets_with_stale_signatures(r);
            let snapshot = file(r, "snapshot");
            upload(
                &r.tuf_url,
                &[("targets", &targets), ("snapshot", &snapshot)],
            )
        },
    );
    refused(repo, "unsigned targets", (400, "INVALID_UPDATE"), &|r| {
        let targets = targets_unsigned(r);
        let snapshot = file(r, "snapshot");
        upload(
            &r.tuf_url,
            &[("targets", &targets), ("snapshot", &snapshot)],
        )
    });
    refused(
        repo,
        "re-upload of the current version",
        (400, "VERSION"),
        &|r| {
            let targets = file(r, "targets");
            let snapshot = file(r, "snapshot");
            upload(
                &r.tuf_url,
                &[("targets", &targets), ("snapshot", &snapshot)],
            )
        },
    );
    refused(
        repo,
        "root rotation without the old key",
        (400, "INVALID_UPDATE"),
        &|r| {
            let root = root_rotated_without_old_key(r, gun);
            upload(&r.tuf_url, &[("root", &root)])
        },
    );
    refused(
        repo,
        "root rotation without the old key, with snapshot",
        (400, "INVALID_UPDATE"),
        &|r| {
            let root = root_rotated_without_old_key(r, gun);
            let snapshot = file(r, "snapshot");
            upload(&r.tuf_url, &[("root", &root), ("snapshot", &snapshot)])
        },
    );
}

#[test]
fn refused_uploads_match_the_go_server_and_change_nothing() {
    let Some(servers) = shared_servers() else {
        return;
    };
    let gun = "example.com/negative/uploads";
    let signet = publish(SIGNET, servers.signet.url(), gun);
    let go = publish("Go notary-server", servers.go.url(), gun);
    for repo in [&signet, &go] {
        all_cases(repo, gun);
    }
    // The repository still works for readers and writers.
    for repo in [&signet, &go] {
        let reader = repo.cli.fresh().unwrap();
        assert_eq!(
            reader.list(gun).unwrap(),
            vec![repo.row.clone()],
            "{}",
            repo.server
        );
        let second = repo
            .cli
            .add_bytes(gun, "after", b"after the refusals", &[], true)
            .unwrap();
        let mut expected = vec![second, repo.row.clone()];
        expected.sort();
        assert_eq!(reader.list(gun).unwrap(), expected, "{}", repo.server);
    }
}

#[test]
fn oversize_upload_is_413_too_large_and_changes_nothing() {
    if !go_notary_available() {
        return;
    }
    let server = SignetServer::start_sqlite_with(&["--max-body-bytes", "16384"]).unwrap();
    let gun = "example.com/negative/oversize";
    let repo = publish(SIGNET, server.url(), gun);
    refused(&repo, "oversize body", (413, "TOO_LARGE"), &|r| {
        let big = vec![b' '; 64 * 1024];
        upload(&r.tuf_url, &[("targets", &big)])
    });
    // A normal publish still fits.
    let second = repo
        .cli
        .add_bytes(gun, "small", b"fits", &[], true)
        .unwrap();
    let mut expected = vec![second, repo.row.clone()];
    expected.sort();
    assert_eq!(repo.cli.fresh().unwrap().list(gun).unwrap(), expected);
}
