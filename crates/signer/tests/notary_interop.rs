//! Interoperability with the Go `notary` CLI: it reads the keys we write and publishes with
//! them to a Go `notary-server`, and we read what it writes and migrates. Fails when `CI` is
//! set and the Go binaries are missing; skips otherwise.

#![allow(clippy::unwrap_used)]

mod common;

use std::fs;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use signet_signer::passphrase::ConstantRetriever;
use signet_signer::{FileKeyStore, KeyStore, PrivateKey, Signer, cert, keyfile, pkcs8};
use signet_tuf::key::{KeyId, PublicKey};
use signet_tuf::metadata::{Envelope, Root, Targets};
use signet_tuf::notary::pem;
use signet_tuf::verify;

const PASSPHRASE: &str = "randompass";

/// `notary key list` shows GUNs left-truncated to 25 characters with a leading `...`.
fn displayed_gun(gun: &str) -> String {
    if gun.len() > 25 {
        format!("...{}", &gun[gun.len() - 22..])
    } else {
        gun.to_owned()
    }
}

fn notary(binary: &Path, trust_dir: &Path, args: &[&str], passphrase: &str) -> Output {
    let output = Command::new(binary)
        .arg("-d")
        .arg(trust_dir)
        .args(args)
        .env("NOTARY_ROOT_PASSPHRASE", passphrase)
        .env("NOTARY_TARGETS_PASSPHRASE", passphrase)
        .env("NOTARY_SNAPSHOT_PASSPHRASE", passphrase)
        .env("NOTARY_DELEGATION_PASSPHRASE", passphrase)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "notary {args:?} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// Rows of `notary key list`: (role, gun, key id, location).
fn key_list(binary: &Path, trust_dir: &Path) -> Vec<(String, String, String, String)> {
    let output = notary(binary, trust_dir, &["key", "list"], PASSPHRASE);
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let mut rows: Vec<_> = text
        .lines()
        .filter_map(|line| {
            let cols: Vec<&str> = line.split_whitespace().collect();
            let id_at = cols
                .iter()
                .position(|c| c.len() == 64 && c.parse::<KeyId>().is_ok())?;
            let role = cols.first()?.to_string();
            let gun = if id_at == 2 {
                cols[1].to_owned()
            } else {
                String::new()
            };
            Some((
                role,
                gun,
                cols[id_at].to_owned(),
                cols.get(id_at + 1)?.to_string(),
            ))
        })
        .collect();
    rows.sort();
    rows
}

#[test]
fn go_notary_lists_decrypts_and_rewrites_our_keys() {
    let Some(binary) = common::notary_binary() else {
        return;
    };
    let temp = tempfile::tempdir().unwrap();
    let trust_dir = temp.path().join("trust");
    let store =
        FileKeyStore::open(&trust_dir, Arc::new(ConstantRetriever::new(PASSPHRASE))).unwrap();
    let gun = "registry.local:5000/team/app";
    let keys = [
        (PrivateKey::generate_ecdsa().unwrap(), "root", ""),
        (PrivateKey::generate_ecdsa().unwrap(), "targets", gun),
        (PrivateKey::generate_ed25519().unwrap(), "snapshot", gun),
        (
            PrivateKey::generate_rsa(2048).unwrap(),
            "targets/releases",
            "",
        ),
        (PrivateKey::generate_ecdsa().unwrap(), "alice", ""),
    ];
    for (key, role, _) in &keys {
        store.add_key(key, role, Some(gun)).unwrap();
    }

    let location = store.private_dir().display().to_string();
    let mut expected: Vec<_> = keys
        .iter()
        .map(|(key, role, gun)| {
            (
                (*role).to_owned(),
                displayed_gun(gun),
                key.key_id().to_string(),
                location.clone(),
            )
        })
        .collect();
    expected.sort();
    assert_eq!(key_list(&binary, &trust_dir), expected);

    for (key, _, _) in &keys {
        let id = key.key_id().as_str();
        let path = store.private_dir().join(format!("{id}.key"));
        let ours = fs::read_to_string(&path).unwrap();

        // `key export` decrypts nothing but must find and re-emit the block.
        let export = temp.path().join(format!("{id}.pem"));
        notary(
            &binary,
            &trust_dir,
            &["key", "export", "--key", id, "-o", export.to_str().unwrap()],
            PASSPHRASE,
        );
        let exported = fs::read_to_string(&export).unwrap();
        let block = pem::decode_first(&exported).unwrap();
        assert_eq!(block.header("path"), Some(id));
        assert_eq!(
            keyfile::decode_key_block(&block, PASSPHRASE, id)
                .unwrap()
                .key_id(),
            key.key_id()
        );

        // `key passwd` decrypts our file and writes its own encoding back.
        let output = notary(&binary, &trust_dir, &["key", "passwd", id], PASSPHRASE);
        assert!(
            String::from_utf8_lossy(&output.stdout)
                .contains(&format!("Successfully updated passphrase for key ID: {id}"))
        );
        let theirs = fs::read_to_string(&path).unwrap();
        assert_ne!(theirs, ours, "Go re-encrypted with a new salt and IV");
        let block = pem::decode_first(&theirs).unwrap();
        let back = keyfile::decode_key_block(&block, PASSPHRASE, id).unwrap();
        assert_eq!(back.key_id(), key.key_id());
        // Same inner PKCS#8 bytes as we write: the formats agree exactly.
        assert_eq!(
            pkcs8::decrypt_to_der(&block.contents, PASSPHRASE.as_bytes(), id)
                .unwrap()
                .as_slice(),
            pkcs8::encode_private_key_info(key).unwrap().as_slice()
        );
    }
    // Roles and GUNs survive Go's rewrite.
    assert_eq!(key_list(&binary, &trust_dir), expected);
}

#[test]
fn legacy_migration_matches_go_byte_for_byte() {
    let Some(binary) = common::notary_binary() else {
        return;
    };
    for (fixture, passphrase) in [("notary0.1", "randompass"), ("notary0.3", "password")] {
        let temp = tempfile::tempdir().unwrap();
        let theirs = temp.path().join("go");
        let ours = temp.path().join("rust");
        common::copy_tree(&common::data_dir().join(fixture), &theirs);
        common::copy_tree(&common::data_dir().join(fixture), &ours);

        let rows = key_list(&binary, &theirs);
        let store =
            FileKeyStore::open(&ours, Arc::new(ConstantRetriever::new(passphrase))).unwrap();

        assert_eq!(
            common::tree_contents(&ours.join("private")),
            common::tree_contents(&theirs.join("private")),
            "{fixture}"
        );
        assert_eq!(
            ours.join("trusted_certificates").exists(),
            theirs.join("trusted_certificates").exists()
        );
        let mut listed: Vec<_> = store
            .list_keys()
            .unwrap()
            .into_iter()
            .map(|i| {
                (
                    i.role,
                    displayed_gun(&i.gun.unwrap_or_default()),
                    i.key_id.to_string(),
                )
            })
            .collect();
        listed.sort();
        let mut go_rows: Vec<_> = rows.into_iter().map(|(r, g, id, _)| (r, g, id)).collect();
        go_rows.sort();
        assert_eq!(listed, go_rows, "{fixture}");
    }
}

#[test]
fn keys_move_between_go_and_us_through_export_and_import() {
    let Some(binary) = common::notary_binary() else {
        return;
    };
    let temp = tempfile::tempdir().unwrap();
    let ours_dir = temp.path().join("ours");
    let ours = FileKeyStore::open(&ours_dir, Arc::new(ConstantRetriever::new(PASSPHRASE))).unwrap();
    let key = PrivateKey::generate_ecdsa().unwrap();
    ours.add_key(&key, "targets", Some("example.com/app"))
        .unwrap();
    let bundle = temp.path().join("bundle.pem");
    fs::write(&bundle, ours.export_key(key.key_id()).unwrap()).unwrap();

    // Go imports our export and lists it with role and GUN.
    let go_dir = temp.path().join("go");
    notary(
        &binary,
        &go_dir,
        &["key", "import", bundle.to_str().unwrap()],
        PASSPHRASE,
    );
    let rows = key_list(&binary, &go_dir);
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (rows[0].0.as_str(), rows[0].1.as_str(), rows[0].2.as_str()),
        ("targets", "example.com/app", key.key_id().as_str())
    );

    // Go generates a key and exports it; we import that export.
    notary(
        &binary,
        &go_dir,
        &["key", "generate", "ecdsa", "--role", "alice"],
        PASSPHRASE,
    );
    let go_export = temp.path().join("go-export.pem");
    notary(
        &binary,
        &go_dir,
        &["key", "export", "-o", go_export.to_str().unwrap()],
        PASSPHRASE,
    );
    let text = fs::read_to_string(&go_export).unwrap();
    let imported = ours.import_keys(&text, None, None).unwrap();
    assert_eq!(imported.len(), 2);
    let alice = ours
        .list_keys()
        .unwrap()
        .into_iter()
        .find(|info| info.role == "alice")
        .unwrap();
    let signer = ours.signer(&alice.key_id).unwrap();
    let sig = signer.sign(b"m").unwrap();
    signer
        .public_key()
        .verify(&sig.method, b"m", &sig.sig)
        .unwrap();
}

/// A Go `notary-server` on a free loopback port with memory storage and the local trust
/// service; killed when dropped.
struct GoServer {
    child: Child,
    url: String,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl GoServer {
    fn start(binary: &Path) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("server.json");
        let log = dir.path().join("server.log");
        for _ in 0..5 {
            let port = TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            fs::write(
                &config,
                format!(
                    r#"{{"server":{{"http_addr":"127.0.0.1:{port}"}},"trust_service":{{"type":"local"}},"storage":{{"backend":"memory"}}}}"#
                ),
            )
            .unwrap();
            let out = fs::File::create(&log).unwrap();
            let mut child = Command::new(binary)
                .arg("-config")
                .arg(&config)
                .stdin(Stdio::null())
                .stdout(out.try_clone().unwrap())
                .stderr(out)
                .spawn()
                .unwrap();
            let deadline = Instant::now() + Duration::from_secs(20);
            loop {
                if child.try_wait().unwrap().is_some() {
                    // Most likely the port was taken in between: try another one.
                    break;
                }
                if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return Self {
                        child,
                        url: format!("http://127.0.0.1:{port}"),
                        log,
                        _dir: dir,
                    };
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!(
                        "notary-server did not start: {}",
                        fs::read_to_string(&log).unwrap_or_default()
                    );
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        panic!(
            "notary-server did not start: {}",
            fs::read_to_string(&log).unwrap_or_default()
        );
    }
}

impl Drop for GoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `notary -d <trust_dir> -s <server> <args>` with every passphrase variable set.
fn notary_online(binary: &Path, server: &GoServer, trust_dir: &Path, args: &[&str]) -> String {
    let mut full = vec!["-s", server.url.as_str()];
    full.extend_from_slice(args);
    let output = Command::new(binary)
        .arg("-d")
        .arg(trust_dir)
        .args(&full)
        .env("NOTARY_ROOT_PASSPHRASE", PASSPHRASE)
        .env("NOTARY_TARGETS_PASSPHRASE", PASSPHRASE)
        .env("NOTARY_SNAPSHOT_PASSPHRASE", PASSPHRASE)
        .env("NOTARY_DELEGATION_PASSPHRASE", PASSPHRASE)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "notary {args:?} failed: {}{}\nserver log:\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
        fs::read_to_string(&server.log).unwrap_or_default()
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn metadata(trust_dir: &Path, gun: &str, role: &str) -> Vec<u8> {
    fs::read(
        trust_dir
            .join("tuf")
            .join(gun)
            .join("metadata")
            .join(format!("{role}.json")),
    )
    .unwrap()
}

/// The root and targets a client cached for `gun`, verified with signet-tuf (root with
/// Notary's certificate rules, targets against that root).
fn verified_root_and_targets(trust_dir: &Path, gun: &str) -> (Root, Envelope<Targets>) {
    let root = Envelope::<Root>::parse(&metadata(trust_dir, gun, "root")).unwrap();
    verify::verify_root(&root, None, gun, chrono::Utc::now()).unwrap();
    let targets = Envelope::<Targets>::parse(&metadata(trust_dir, gun, "targets")).unwrap();
    assert_eq!(
        verify::verify_targets(&targets, root.signed()).unwrap(),
        1,
        "targets signed by exactly one listed key"
    );
    (root.signed().clone(), targets)
}

/// The ID in `… with keys [<id>] …` (`notary delegation add`) or after `keyID: `
/// (`notary key generate`).
fn printed_key_id(output: &str) -> KeyId {
    let start = output
        .find("keys [")
        .map(|i| i + "keys [".len())
        .or_else(|| output.find("keyID: ").map(|i| i + "keyID: ".len()))
        .unwrap_or_else(|| panic!("no key ID in {output:?}"));
    output[start..start + 64].parse().unwrap()
}

#[test]
fn go_notary_publishes_with_root_and_targets_keys_we_wrote() {
    let (Some(binary), Some(server_binary)) =
        (common::notary_binary(), common::go_binary("notary-server"))
    else {
        return;
    };
    let server = GoServer::start(&server_binary);
    let temp = tempfile::tempdir().unwrap();
    let gun = "localhost/signet/interop";
    let go_dir = temp.path().join("go");
    let retriever = Arc::new(ConstantRetriever::new(PASSPHRASE));

    // Our root key in Go's trust directory, and our certificate for it.
    let root = PrivateKey::generate_ecdsa().unwrap();
    FileKeyStore::open(&go_dir, retriever.clone())
        .unwrap()
        .add_key(&root, "root", None)
        .unwrap();
    let root_cert = cert::generate_root_certificate(&root, gun).unwrap();
    let cert_file = temp.path().join("root.crt");
    fs::write(&cert_file, &root_cert.pem).unwrap();
    notary_online(
        &binary,
        &server,
        &go_dir,
        &["init", gun, "--rootcert", cert_file.to_str().unwrap(), "-p"],
    );
    // Go signed root v1 with our key under our certificate and made no root key of its own.
    let root_v1 = Envelope::<Root>::parse(&metadata(&go_dir, gun, "root")).unwrap();
    verify::verify_root(&root_v1, None, gun, chrono::Utc::now()).unwrap();
    let root_ids = &root_v1.signed().role("root").unwrap().keyids;
    assert_eq!(root_ids, &vec![root_cert.public_key.key_id()]);
    assert_eq!(
        root_v1.signed().keys.get(&root_cert.public_key.key_id()),
        Some(&root_cert.public_key)
    );
    let go_store = FileKeyStore::open(&go_dir, retriever.clone()).unwrap();
    let go_keys = go_store.list_keys().unwrap();
    let roots: Vec<&KeyId> = go_keys
        .iter()
        .filter(|k| k.role == "root")
        .map(|k| &k.key_id)
        .collect();
    assert_eq!(roots, vec![root.key_id()]);

    // Delete Go's targets key, then rotate targets to a key we wrote.
    let go_targets = go_keys.iter().find(|k| k.role == "targets").unwrap();
    go_store.remove_key(&go_targets.key_id).unwrap();
    let targets = PrivateKey::generate_ecdsa().unwrap();
    let ours = FileKeyStore::open(temp.path().join("ours"), retriever.clone()).unwrap();
    ours.add_key(&targets, "targets", Some(gun)).unwrap();
    let our_file = ours.private_dir().join(format!("{}.key", targets.key_id()));
    let output = notary_online(
        &binary,
        &server,
        &go_dir,
        &[
            "key",
            "rotate",
            gun,
            "targets",
            "-k",
            our_file.to_str().unwrap(),
        ],
    );
    assert!(
        output.contains("Successfully rotated targets key"),
        "{output}"
    );

    // Go stored its own encoding of our key; put our file in its place, so that the next
    // publish can only sign with the file we wrote.
    let go_store = FileKeyStore::open(&go_dir, retriever.clone()).unwrap();
    assert_eq!(
        go_store.private_key(targets.key_id()).unwrap().public_key(),
        targets.public_key()
    );
    go_store.remove_key(targets.key_id()).unwrap();
    go_store.add_key(&targets, "targets", Some(gun)).unwrap();
    let in_go_dir = go_store
        .private_dir()
        .join(format!("{}.key", targets.key_id()));
    let written = fs::read(&in_go_dir).unwrap();

    let payload = temp.path().join("payload.txt");
    fs::write(&payload, b"signed by a signet key\n").unwrap();
    notary_online(
        &binary,
        &server,
        &go_dir,
        &["add", "-p", gun, "release", payload.to_str().unwrap()],
    );
    assert_eq!(
        fs::read(&in_go_dir).unwrap(),
        written,
        "Go used our file as is"
    );

    // A fresh client sees the target, and targets.json is signed by our key only.
    let fresh = temp.path().join("fresh");
    let listing = notary_online(&binary, &server, &fresh, &["list", gun]);
    let digest = hex::encode(ring::digest::digest(
        &ring::digest::SHA256,
        b"signed by a signet key\n",
    ));
    assert!(
        listing
            .lines()
            .any(|l| l.starts_with("release ") && l.contains(&digest)),
        "{listing}"
    );
    let (fresh_root, fresh_targets) = verified_root_and_targets(&fresh, gun);
    assert_eq!(
        fresh_root.role("targets").unwrap().keyids,
        vec![targets.key_id().clone()]
    );
    assert_eq!(
        fresh_root.role("root").unwrap().keyids,
        vec![root_cert.public_key.key_id()]
    );
    let signers: Vec<&KeyId> = fresh_targets
        .signatures()
        .iter()
        .map(|s| &s.keyid)
        .collect();
    assert_eq!(signers, vec![targets.key_id()]);
    assert!(fresh_targets.signed().targets.contains_key("release"));

    // Go's delegation key (`key generate -o`): we read it, and what we sign with it verifies
    // under the key ID Go prints for it.
    let prefix = temp.path().join("alice");
    notary_online(
        &binary,
        &server,
        &go_dir,
        &[
            "key",
            "generate",
            "ecdsa",
            "--role",
            "alice",
            "-o",
            prefix.to_str().unwrap(),
        ],
    );
    let public_pem = temp.path().join("alice.pem");
    let output = notary_online(
        &binary,
        &server,
        &go_dir,
        &[
            "delegation",
            "add",
            gun,
            "targets/alice",
            public_pem.to_str().unwrap(),
            "--all-paths",
            "-p",
        ],
    );
    let go_id = printed_key_id(&output);
    let listed = notary_online(&binary, &server, &fresh, &["delegation", "list", gun]);
    assert!(listed.contains(go_id.as_str()), "{listed}");
    let alice_text = fs::read_to_string(temp.path().join("alice-key.pem")).unwrap();
    let alice = keyfile::decode_key_file(&alice_text, PASSPHRASE, "alice-key.pem").unwrap();
    assert_eq!(alice.key_id(), &go_id);
    let go_public = PublicKey::from_spki_der(
        &pem::decode_first(&fs::read_to_string(&public_pem).unwrap())
            .unwrap()
            .contents,
    )
    .unwrap();
    assert_eq!(go_public.key_id(), go_id);
    let sig = Signer::sign(&alice, b"delegated bytes").unwrap();
    assert_eq!(sig.keyid, go_id);
    go_public
        .verify(&sig.method, b"delegated bytes", &sig.sig)
        .unwrap();

    // A key Go generates into its key store: we find it under the printed ID and sign.
    let output = notary_online(
        &binary,
        &server,
        &go_dir,
        &["key", "generate", "ecdsa", "--role", "bob"],
    );
    let bob_id = printed_key_id(&output);
    let go_store = FileKeyStore::open(&go_dir, retriever).unwrap();
    assert_eq!(go_store.key_info(&bob_id).unwrap().role, "bob");
    let bob = go_store.signer(&bob_id).unwrap();
    assert_eq!(bob.public_key().key_id(), bob_id);
    let sig = bob.sign(b"bob's bytes").unwrap();
    assert_eq!(sig.keyid, bob_id);
    bob.public_key()
        .verify(&sig.method, b"bob's bytes", &sig.sig)
        .unwrap();
}
