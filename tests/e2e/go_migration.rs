//! Taking over a running Go notary deployment with no action from repository owners, and
//! handing it back: the procedure of `crates/server/MIGRATING.md`, command for command.
//!
//! The real Go `notary-server` and `notary-signer` (gRPC over mutual TLS between them) hold
//! three repositories made with the Go `notary` CLI (a plain one, a docker-style one whose
//! snapshot key the server holds, one with a delegation holding a target) and two timestamp keys
//! handed out but never used (GET `timestamp.key` for a GUN never published, POST on the plain
//! one). Then:
//!
//! * ahead of the switch, with the Go pair serving: `migrate` and dry runs of the imports;
//! * the switch: the Go pair stops; signet adopts the notary-server database in place
//!   (Postgres) or `import-notary-server` copies it (MariaDB) into signet's Postgres store;
//!   `import-notary-signer` takes the keys (a wrong passphrase imports nothing, a second run
//!   changes nothing); signet-server starts;
//! * with no key rotation, every Go trust dir and the `signet` CLI publish again, every
//!   root.json is byte for byte what it was, the pending keys are the ones handed out, and fresh
//!   trust dirs (Go and `signet`) list every target;
//! * signet-server restarted 15 days in the future (libfaketime) re-signs every expired
//!   timestamp with the imported key, and a fresh Go trust dir (real clock) accepts it;
//! * the way back: `export-notary-signer`, the Go pair starts again (on the same notary-server
//!   database, or on signet's store after a MariaDB import) and the Go CLI publishes to every
//!   repository, including one created through signet after the switch.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use chrono::{DateTime, FixedOffset};
use sha2::{Digest, Sha256};
use signet_e2e::{
    CommandOutput, DEFAULT_COMMAND_TIMEOUT, DelegationPaths, GoNotaryServer, GoNotarySigner,
    GoStorage, NotaryCli, SignetServer, TargetRow, TempDatabase, TempMySqlDatabase, http_get,
    http_post, passphrase_variable, require_libfaketime, require_mysql, require_postgres,
    require_tool, run_command, run_signet_server,
};

use crate::client_support::Signet;
use crate::support::{go_notary_available, sorted};

/// notary-signer's passphrase alias (its `storage.default_alias`) and passphrase.
const ALIAS: &str = "migration";
const PASSPHRASE: &str = "e2e notary-signer passphrase";

/// `init -p` and `add -p`.
const PLAIN: &str = "example.com/migration/plain";
/// Snapshot key moved to the server (`key rotate snapshot -r`), as docker does.
const DOCKER: &str = "example.com/migration/docker";
/// A delegation `targets/releases` holding a target.
const DELEGATED: &str = "example.com/migration/delegated";
/// A timestamp key handed out by GET `timestamp.key` before the switch, published after it.
const PENDING: &str = "example.com/migration/pending";
/// Created through signet (`signet init -p`) after the switch.
const SIGNET_NEW: &str = "example.com/migration/signet-new";

/// The delegation of [`DELEGATED`].
const RELEASES: &str = "targets/releases";

/// How far the clock moves for the expiry check: past the 14 days of a server timestamp.
const FAKETIME_OFFSET: &str = "+15d";

#[test]
fn postgres_deployment_switches_to_signet_and_back() {
    let Some(tools) = Tools::require() else {
        return;
    };
    let Some(postgres) = require_postgres() else {
        return;
    };
    let server = postgres.create_database("go_migration_server").unwrap();
    let signer = postgres.create_database("go_migration_signer").unwrap();
    GoNotaryServer::prepare_postgres(&server).unwrap();
    GoNotarySigner::prepare_postgres(&signer).unwrap();
    run(&tools, &Databases::Postgres { server, signer });
}

#[test]
fn mariadb_deployment_switches_to_signet_and_back() {
    let Some(tools) = Tools::require() else {
        return;
    };
    let Some(postgres) = require_postgres() else {
        return;
    };
    let Some(mysql) = require_mysql() else {
        return;
    };
    let server = mysql.create_database("go_migration_server").unwrap();
    let signer = mysql.create_database("go_migration_signer").unwrap();
    GoNotaryServer::prepare_mysql(&server).unwrap();
    GoNotarySigner::prepare_mysql(&signer).unwrap();
    let store = postgres.create_database("signet_migration_store").unwrap();
    run(
        &tools,
        &Databases::MySql {
            server,
            signer,
            store,
        },
    );
}

/// The programs besides Postgres/MariaDB: the Go binaries, openssl (for the key-encryption
/// key) and libfaketime.
struct Tools {
    openssl: PathBuf,
    libfaketime: PathBuf,
}

impl Tools {
    fn require() -> Option<Self> {
        if !go_notary_available() {
            return None;
        }
        require_tool("notary-signer")?;
        let openssl = require_tool("openssl")?;
        let libfaketime = require_libfaketime()?;
        Some(Self {
            openssl,
            libfaketime,
        })
    }
}

/// Where the Go pair keeps its data, and where signet keeps it after the switch.
enum Databases {
    /// Both Go databases in Postgres; signet adopts the notary-server database in place.
    Postgres {
        server: TempDatabase,
        signer: TempDatabase,
    },
    /// Both Go databases in MariaDB; signet imports the notary-server database into a Postgres
    /// store of its own.
    MySql {
        server: TempMySqlDatabase,
        signer: TempMySqlDatabase,
        store: TempDatabase,
    },
}

impl Databases {
    fn name(&self) -> &'static str {
        match self {
            Self::Postgres { .. } => "postgres",
            Self::MySql { .. } => "mariadb",
        }
    }

    fn go_server(&self) -> GoStorage {
        match self {
            Self::Postgres { server, .. } => GoStorage::postgres(server),
            Self::MySql { server, .. } => GoStorage::mysql(server),
        }
    }

    fn go_signer(&self) -> GoStorage {
        match self {
            Self::Postgres { signer, .. } => GoStorage::postgres(signer),
            Self::MySql { signer, .. } => GoStorage::mysql(signer),
        }
    }

    /// notary-signer's database as signet's `--signer-database-url` takes it.
    fn signer_url(&self) -> String {
        match self {
            Self::Postgres { signer, .. } => signer.url(),
            Self::MySql { signer, .. } => signer.url(),
        }
    }

    /// signet's store after the switch.
    fn store(&self) -> &TempDatabase {
        match self {
            Self::Postgres { server, .. } => server,
            Self::MySql { store, .. } => store,
        }
    }

    /// Where the Go notary-server runs on the way back: the same database (Postgres), or
    /// signet's Postgres store, which holds the writes made since the switch (MariaDB).
    fn go_server_way_back(&self) -> GoStorage {
        GoStorage::postgres(self.store())
    }

    /// The key IDs notary-signer holds (rows not soft-deleted).
    fn signer_key_ids(&self) -> Vec<String> {
        let sql = "SELECT key_id FROM private_keys WHERE deleted_at IS NULL ORDER BY key_id";
        let out = match self {
            Self::Postgres { signer, .. } => signer.execute(sql).unwrap(),
            Self::MySql { signer, .. } => signer.execute(sql).unwrap(),
        };
        out.lines().map(str::to_owned).collect()
    }

    /// Every row of notary-signer's `private_keys` (the private key as a digest).
    fn signer_rows(&self) -> String {
        let sql = "SELECT key_id, gun, role, algorithm, passphrase_alias, last_used, deleted_at, \
                   md5(private) FROM private_keys ORDER BY key_id";
        match self {
            Self::Postgres { signer, .. } => signer.execute(sql).unwrap(),
            Self::MySql { signer, .. } => signer.execute(sql).unwrap(),
        }
    }

    /// How many rows of `table` (of `gun`, if given) the Go notary-server's own database
    /// holds.
    fn go_server_count(&self, table: &str, gun: Option<&str>) -> usize {
        let sql = count_sql(table, gun);
        let out = match self {
            Self::Postgres { server, .. } => server.execute(&sql).unwrap(),
            Self::MySql { server, .. } => server.execute(&sql).unwrap(),
        };
        out.trim().parse().unwrap()
    }

    /// How many rows of `table` signet's store holds.
    fn store_count(&self, table: &str) -> usize {
        let out = self.store().execute(&count_sql(table, None)).unwrap();
        out.trim().parse().unwrap()
    }
}

fn count_sql(table: &str, gun: Option<&str>) -> String {
    match gun {
        Some(gun) => format!("SELECT count(*) FROM {table} WHERE gun = '{gun}'"),
        None => format!("SELECT count(*) FROM {table}"),
    }
}

/// One repository and the Go trust dir of its owner.
struct Repo {
    gun: &'static str,
    owner: NotaryCli,
    /// Role new targets go into.
    role: &'static str,
    expected: Vec<TargetRow>,
    /// root.json as the Go notary-server served it before the switch (none for repositories
    /// created after it).
    root: Option<Vec<u8>>,
    /// The timestamp key the Go notary-server (its notary-signer) signed with.
    timestamp_key: String,
    /// The server-held snapshot key, for a docker-style repository.
    snapshot_key: Option<String>,
}

impl Repo {
    fn retarget(&mut self, url: &str) {
        self.owner.set_server_url(url);
    }

    /// `notary add -p` of a new target through the owner's Go trust dir.
    fn go_publishes(&mut self, name: &str) {
        let contents = format!("{} {name}\n", self.gun);
        let roles: &[&str] = if self.role == "targets" {
            &[]
        } else {
            &[self.role]
        };
        let row = self
            .owner
            .add_bytes(self.gun, name, contents.as_bytes(), roles, true)
            .unwrap();
        self.expected.push(row);
    }

    /// `signet add -p` of a new target through the owner's (Go) trust dir.
    fn signet_publishes(&mut self, name: &str) {
        let signet = Signet::sharing(&self.owner);
        let contents = format!("{} {name} by signet\n", self.gun);
        let file = signet.write_file(&format!("signet-{name}"), contents.as_bytes());
        let file = file.to_string_lossy().into_owned();
        let mut args = vec!["add", "-p", self.gun, name, &file];
        if self.role != "targets" {
            args.extend(["-r", self.role]);
        }
        signet.run_ok(&args);
        self.expected.push(TargetRow::for_contents(
            name,
            contents.as_bytes(),
            self.role,
        ));
    }
}

/// What the Go deployment handed out before the switch.
struct Before {
    repos: Vec<Repo>,
    /// GET `timestamp.key` of [`PENDING`], never published.
    pending_get: String,
    /// POST `timestamp.key` of [`PLAIN`], never used.
    pending_post: String,
}

fn run(tools: &Tools, databases: &Databases) {
    let started = Instant::now();
    let phase = |what: &str| {
        eprintln!(
            "go_migration[{}] {:>6.1}s {what}",
            databases.name(),
            started.elapsed().as_secs_f64()
        );
    };
    let scratch = tempfile::Builder::new()
        .prefix("signet-e2e-migration-")
        .tempdir()
        .unwrap();
    // MIGRATING.md, "Before the switch": a key-encryption key of its own.
    let kek = scratch.path().join("kek");
    let mut openssl = std::process::Command::new(&tools.openssl);
    openssl.args(["rand", "-hex", "-out"]).arg(&kek).arg("32");
    run_command(&mut openssl, None, DEFAULT_COMMAND_TIMEOUT)
        .unwrap()
        .ok()
        .unwrap();
    let kek_hex = std::fs::read_to_string(&kek).unwrap();

    // --- The Go deployment. ---
    let signer = GoNotarySigner::start(&databases.go_signer(), ALIAS, PASSPHRASE).unwrap();
    let go = GoNotaryServer::start_remote(&databases.go_server(), &signer).unwrap();
    let mut before = go_era(&go);
    phase("Go repositories created");
    ahead_of_the_switch(databases, &kek, &mut before);
    phase("rehearsed while the Go pair serves");

    // --- The switch: the Go pair stops, signet starts. ---
    let downtime = Instant::now();
    drop(go);
    drop(signer);
    switch(databases, &kek);
    let signet = SignetServer::start_on_with_kek(&databases.store().url(), &kek_hex).unwrap();
    eprintln!(
        "go_migration[{}] downtime (Go pair stopped until signet-server healthy): {:.2}s",
        databases.name(),
        downtime.elapsed().as_secs_f64()
    );
    phase("switched");
    after_switch(databases, &signet, &mut before);
    phase("published through signet and checked");

    // --- Expired timestamps are re-signed with the imported keys. ---
    let signet = expiry(tools, signet, &before);
    phase("timestamps re-signed 15 days later");
    drop(signet);

    // --- The way back. ---
    way_back(databases, &kek, &mut before);
    phase("handed back to the Go pair");
}

/// Creates the repositories through the Go pair.
fn go_era(go: &GoNotaryServer) -> Before {
    let url = go.url();
    let mut repos = Vec::new();

    let plain = NotaryCli::new(url).unwrap();
    plain.init(PLAIN, true).unwrap();
    repos.push(repo(PLAIN, plain, "targets"));

    let docker = NotaryCli::new(url).unwrap();
    docker.init(DOCKER, true).unwrap();
    docker.key_rotate(DOCKER, "snapshot", true).unwrap();
    repos.push(repo(DOCKER, docker, "targets"));

    let delegated = NotaryCli::new(url).unwrap();
    delegated.init(DELEGATED, true).unwrap();
    let key = delegated.generate_delegation_key(RELEASES).unwrap();
    delegated
        .delegation_add(
            DELEGATED,
            RELEASES,
            &[&key.public_pem],
            DelegationPaths::All,
            true,
        )
        .unwrap();
    repos.push(repo(DELEGATED, delegated, RELEASES));

    for repo in &mut repos {
        repo.go_publishes("v1.txt");
    }
    // A top-level target beside the delegated one.
    let top = repos[2]
        .owner
        .add_bytes(DELEGATED, "top.txt", b"top level\n", &[], true)
        .unwrap();
    repos[2].expected.push(top);

    // Keys handed out and never used.
    let pending_get = key_id(&get_ok(&format!("{}timestamp.key", go.tuf_url(PENDING))));
    assert_eq!(
        key_id(&get_ok(&format!("{}timestamp.key", go.tuf_url(PENDING)))),
        pending_get,
        "notary-signer hands out the same unused key"
    );
    let pending_post = key_id(&post_ok(&format!("{}timestamp.key", go.tuf_url(PLAIN))));

    for repo in &mut repos {
        let root = get_ok(&format!("{}root.json", go.tuf_url(repo.gun)));
        repo.timestamp_key = single(role_keys(&root, "timestamp"));
        if repo.gun == DOCKER {
            repo.snapshot_key = Some(single(role_keys(&root, "snapshot")));
            let snapshot = get_ok(&format!("{}snapshot.json", go.tuf_url(DOCKER)));
            assert_eq!(Some(signed_by(&snapshot)), repo.snapshot_key);
        }
        let timestamp = get_ok(&format!("{}timestamp.json", go.tuf_url(repo.gun)));
        assert_eq!(signed_by(&timestamp), repo.timestamp_key, "{}", repo.gun);
        assert_eq!(
            sorted(repo.owner.fresh().unwrap().list(repo.gun).unwrap()),
            sorted(repo.expected.clone())
        );
        repo.root = Some(root);
    }
    assert_ne!(pending_post, repos[0].timestamp_key);
    Before {
        repos,
        pending_get,
        pending_post,
    }
}

fn repo(gun: &'static str, owner: NotaryCli, role: &'static str) -> Repo {
    Repo {
        gun,
        owner,
        role,
        expected: Vec::new(),
        root: None,
        timestamp_key: String::new(),
        snapshot_key: None,
    }
}

/// The commands of MIGRATING.md, "Before the switch", run while the Go pair still serves:
/// they write nothing the Go pair would notice (Postgres: `migrate` only adds tables and
/// indexes, and the Go pair keeps publishing afterwards).
fn ahead_of_the_switch(databases: &Databases, kek: &Path, before: &mut Before) {
    let store = databases.store().url();
    let kek = kek.to_string_lossy().into_owned();
    signet_server(&["migrate", "--database-url", &store], &[]);
    match databases {
        Databases::Postgres { .. } => {
            // The Go pair still works on the migrated database.
            before.repos[0].go_publishes("after-migrate.txt");
            let variable = passphrase_variable(ALIAS);
            let out = signet_server(
                &[
                    "import-notary-signer",
                    "--database-url",
                    &store,
                    "--kek-file",
                    &kek,
                    "--signer-database-url",
                    &databases.signer_url(),
                    "--dry-run",
                ],
                &[(&variable, PASSPHRASE)],
            );
            assert!(
                out.stdout.contains("keys would be imported: 6"),
                "{}",
                out.stdout
            );
        }
        Databases::MySql { server, .. } => {
            signet_server(
                &[
                    "import-notary-server",
                    "--database-url",
                    &store,
                    "--server-database-url",
                    &server.url(),
                    "--dry-run",
                ],
                &[],
            );
            assert_eq!(
                databases.store_count("tuf_files"),
                0,
                "a dry run copies nothing"
            );
        }
    }
    assert_eq!(
        server_keys(databases.store()),
        "",
        "a dry run writes nothing"
    );
}

/// The commands of MIGRATING.md, "The switch", once the Go pair has stopped.
fn switch(databases: &Databases, kek: &Path) {
    let store = databases.store().url();
    let kek = kek.to_string_lossy().into_owned();
    if let Databases::MySql { server, .. } = databases {
        signet_server(
            &[
                "import-notary-server",
                "--database-url",
                &store,
                "--server-database-url",
                &server.url(),
            ],
            &[],
        );
        for table in ["tuf_files", "changefeed"] {
            let copied = databases.store_count(table);
            assert!(copied > 0, "{table}");
            assert_eq!(copied, databases.go_server_count(table, None), "{table}");
        }
    }

    let keys_before = server_keys(databases.store());
    assert_eq!(keys_before, "", "signet holds no keys before the import");
    let import = [
        "import-notary-signer",
        "--database-url",
        &store,
        "--kek-file",
        &kek,
        "--signer-database-url",
        &databases.signer_url(),
    ];
    let variable = passphrase_variable(ALIAS);

    // A wrong passphrase imports nothing.
    let wrong = run_signet_server(&import, &[(&variable, "not the passphrase")]).unwrap();
    assert!(!wrong.success(), "{}", wrong.stdout);
    assert!(
        wrong.stderr.contains(&format!("\"{ALIAS}\""))
            && wrong.stderr.contains("nothing was written"),
        "{}",
        wrong.stderr
    );
    assert_eq!(server_keys(databases.store()), keys_before);

    // The import: every key of notary-signer (three active timestamp keys, the docker
    // snapshot key, the two pending timestamp keys).
    let out = signet_server(&import, &[(&variable, PASSPHRASE)]);
    assert!(out.stdout.contains("keys imported: 6"), "{}", out.stdout);
    let imported = server_keys(databases.store());
    assert_eq!(imported.lines().count(), 6, "{imported}");

    // Again: nothing changes.
    let again = signet_server(&import, &[(&variable, PASSPHRASE)]);
    assert!(
        again.stdout.contains("keys imported: 0"),
        "{}",
        again.stdout
    );
    assert_eq!(server_keys(databases.store()), imported);
}

/// After the switch, with no key rotation: everything publishes, roots are unchanged, the
/// imported keys sign, and newcomers read everything.
fn after_switch(databases: &Databases, signet: &SignetServer, before: &mut Before) {
    let url = signet.url();
    for repo in &mut before.repos {
        repo.retarget(url);
        assert_root_unchanged(signet.tuf_url(repo.gun), repo);
    }

    // The pending keys are the ones the Go deployment handed out.
    assert_eq!(
        key_id(&get_ok(&format!(
            "{}timestamp.key",
            signet.tuf_url(PENDING)
        ))),
        before.pending_get
    );
    assert_eq!(
        key_id(&post_ok(&format!("{}timestamp.key", signet.tuf_url(PLAIN)))),
        before.pending_post
    );
    assert_eq!(
        key_id(&get_ok(&format!("{}timestamp.key", signet.tuf_url(PLAIN)))),
        before.repos[0].timestamp_key
    );

    // Every Go trust dir publishes again, and so does `signet` on the same trust dirs.
    for repo in &mut before.repos {
        repo.go_publishes("go-after-switch.txt");
        repo.signet_publishes("signet-after-switch.txt");
        assert_root_unchanged(signet.tuf_url(repo.gun), repo);
        assert_signed_with_imported_keys(&signet.tuf_url(repo.gun), repo);
    }

    // The GUN whose timestamp key was handed out before the switch publishes with that key.
    let pending_owner = NotaryCli::new(url).unwrap();
    pending_owner.init(PENDING, true).unwrap();
    let mut pending = repo(PENDING, pending_owner, "targets");
    pending.timestamp_key = before.pending_get.clone();
    pending.go_publishes("first.txt");
    let root = get_ok(&format!("{}root.json", signet.tuf_url(PENDING)));
    assert_eq!(single(role_keys(&root, "timestamp")), before.pending_get);
    assert_signed_with_imported_keys(&signet.tuf_url(PENDING), &pending);
    before.repos.push(pending);

    // A repository created through signet (with the `signet` CLI) after the switch; its trust
    // dir is the one the Go CLI will use on the way back.
    let creator = NotaryCli::new(url).unwrap();
    Signet::sharing(&creator).run_ok(&["init", "-p", SIGNET_NEW]);
    let root = get_ok(&format!("{}root.json", signet.tuf_url(SIGNET_NEW)));
    let mut created = repo(SIGNET_NEW, creator, "targets");
    created.timestamp_key = single(role_keys(&root, "timestamp"));
    created.signet_publishes("made-by-signet.txt");
    before.repos.push(created);

    // Newcomers, Go and signet, read every repository.
    let go_reader = NotaryCli::new(url).unwrap();
    for repo in &before.repos {
        assert_eq!(
            sorted(go_reader.fresh().unwrap().list(repo.gun).unwrap()),
            sorted(repo.expected.clone()),
            "Go CLI, fresh trust dir, {}",
            repo.gun
        );
        assert_eq!(
            sorted(Signet::new(url).list(repo.gun)),
            sorted(repo.expected.clone()),
            "signet CLI, fresh trust dir, {}",
            repo.gun
        );
    }

    // After a MariaDB import the Go database is frozen at the switch.
    if let Databases::MySql { .. } = databases {
        assert_eq!(databases.go_server_count("tuf_files", Some(SIGNET_NEW)), 0);
        assert_eq!(databases.go_server_count("tuf_files", Some(PENDING)), 0);
    }
}

/// signet-server restarted with its clock 15 days ahead re-signs every timestamp (all expired
/// by then) with the key the root lists: the imported one for the repositories of the Go era.
fn expiry(tools: &Tools, signet: SignetServer, before: &Before) -> SignetServer {
    let old: BTreeMap<&str, (u64, DateTime<FixedOffset>)> = before
        .repos
        .iter()
        .map(|repo| {
            let timestamp = get_ok(&format!("{}timestamp.json", signet.tuf_url(repo.gun)));
            (repo.gun, version_and_expiry(&timestamp))
        })
        .collect();
    let preload = tools.libfaketime.to_string_lossy().into_owned();
    let signet = signet
        .restart_with_env(&[
            ("LD_PRELOAD", preload.as_str()),
            ("FAKETIME", FAKETIME_OFFSET),
        ])
        .unwrap();
    let real_now = chrono::Utc::now();
    for repo in &before.repos {
        let timestamp = get_ok(&format!("{}timestamp.json", signet.tuf_url(repo.gun)));
        let (version, expires) = version_and_expiry(&timestamp);
        let (old_version, old_expires) = old[repo.gun];
        assert!(
            old_expires < real_now + chrono::Duration::days(15),
            "{}: the old timestamp expires {old_expires}, before the faked now",
            repo.gun
        );
        assert_eq!(version, old_version + 1, "{}: a new timestamp", repo.gun);
        assert!(
            expires > real_now + chrono::Duration::days(28),
            "{}: expires {expires}, 14 days after the faked now",
            repo.gun
        );
        assert_eq!(signed_by(&timestamp), repo.timestamp_key, "{}", repo.gun);
    }
    // A newcomer with the real clock accepts the new timestamps (signature, version, expiry).
    let go_reader = NotaryCli::new(signet.url()).unwrap();
    for repo in &before.repos {
        assert_eq!(
            sorted(go_reader.fresh().unwrap().list(repo.gun).unwrap()),
            sorted(repo.expected.clone()),
            "{}",
            repo.gun
        );
    }
    signet
}

/// The commands of MIGRATING.md, "Rolling back": the keys go back to notary-signer and the Go
/// pair runs again on the databases signet wrote to.
fn way_back(databases: &Databases, kek: &Path, before: &mut Before) {
    let store = databases.store().url();
    let kek = kek.to_string_lossy().into_owned();
    let variable = passphrase_variable(ALIAS);
    let held_before = databases.signer_key_ids();
    let export = [
        "export-notary-signer",
        "--database-url",
        &store,
        "--kek-file",
        &kek,
        "--signer-database-url",
        &databases.signer_url(),
        "--alias",
        ALIAS,
    ];
    let out = signet_server(&export, &[(&variable, PASSPHRASE)]);
    // The key signet created for its new repository is added; the others were there.
    assert!(out.stdout.contains("added: 1"), "{}", out.stdout);
    let held = databases.signer_key_ids();
    let created = &before.repos.last().unwrap().timestamp_key;
    assert!(!held_before.contains(created));
    assert!(held.contains(created), "{held:?}");
    assert_eq!(held.len(), held_before.len() + 1, "{held:?}");
    // Again: nothing changes.
    let rows = databases.signer_rows();
    let again = signet_server(&export, &[(&variable, PASSPHRASE)]);
    assert!(again.stdout.contains("added: 0"), "{}", again.stdout);
    assert_eq!(databases.signer_rows(), rows, "{}", again.stdout);

    let signer = GoNotarySigner::start(&databases.go_signer(), ALIAS, PASSPHRASE).unwrap();
    let go = GoNotaryServer::start_remote(&databases.go_server_way_back(), &signer).unwrap();
    for repo in &mut before.repos {
        repo.retarget(go.url());
        if let Some(root) = &repo.root {
            assert_eq!(
                &get_ok(&format!("{}root.json", go.tuf_url(repo.gun))),
                root,
                "{}",
                repo.gun
            );
        }
        repo.go_publishes("go-after-way-back.txt");
        assert_signed_with_imported_keys(&go.tuf_url(repo.gun), repo);
    }
    // The key handed out for a rotation before the switch is still the one handed out.
    assert_eq!(
        key_id(&post_ok(&format!("{}timestamp.key", go.tuf_url(PLAIN)))),
        before.pending_post
    );
    let go_reader = NotaryCli::new(go.url()).unwrap();
    for repo in &before.repos {
        assert_eq!(
            sorted(go_reader.fresh().unwrap().list(repo.gun).unwrap()),
            sorted(repo.expected.clone()),
            "{}",
            repo.gun
        );
    }
    drop(go);
    drop(signer);
}

/// Runs a `signet-server` subcommand that must succeed.
fn signet_server(args: &[&str], envs: &[(&str, &str)]) -> CommandOutput {
    let out = run_signet_server(args, envs).unwrap();
    assert!(
        out.success(),
        "signet-server {args:?} failed\nstdout:\n{}\nstderr:\n{}",
        out.stdout,
        out.stderr
    );
    out
}

/// Every row of `signet_server_keys`, sealed keys included.
fn server_keys(store: &TempDatabase) -> String {
    store
        .execute(
            "SELECT gun, role, key_id, algorithm, state, encode(public_key, 'hex'), \
             encode(sealed_private_key, 'hex') FROM signet_server_keys ORDER BY gun, role, key_id",
        )
        .unwrap()
}

fn assert_root_unchanged(tuf_url: String, repo: &Repo) {
    if let Some(root) = &repo.root {
        assert_eq!(
            &get_ok(&format!("{tuf_url}root.json")),
            root,
            "root.json of {} changed",
            repo.gun
        );
    }
}

/// The current timestamp (and a server-managed snapshot) are signed with the keys the Go era
/// used.
fn assert_signed_with_imported_keys(tuf_url: &str, repo: &Repo) {
    let timestamp = get_ok(&format!("{tuf_url}timestamp.json"));
    assert_eq!(signed_by(&timestamp), repo.timestamp_key, "{}", repo.gun);
    if let Some(snapshot_key) = &repo.snapshot_key {
        let snapshot = get_ok(&format!("{tuf_url}snapshot.json"));
        assert_eq!(&signed_by(&snapshot), snapshot_key, "{}", repo.gun);
    }
}

fn get_ok(url: &str) -> Vec<u8> {
    let response = http_get(url).unwrap();
    assert_eq!(response.status, 200, "GET {url}: {}", response.text());
    response.body
}

fn post_ok(url: &str) -> Vec<u8> {
    let response = http_post(url, b"").unwrap();
    assert_eq!(response.status, 200, "POST {url}: {}", response.text());
    response.body
}

fn json(bytes: &[u8]) -> serde_json::Value {
    serde_json::from_slice(bytes).unwrap()
}

/// The TUF key ID of a `<role>.key` response: SHA-256 of the key's canonical JSON.
fn key_id(body: &[u8]) -> String {
    let key = json(body);
    let keytype = key["keytype"].as_str().unwrap();
    let public = key["keyval"]["public"].as_str().unwrap();
    let canonical =
        format!(r#"{{"keytype":"{keytype}","keyval":{{"private":null,"public":"{public}"}}}}"#);
    hex::encode(Sha256::digest(canonical.as_bytes()))
}

/// The key IDs a root lists for `role`.
fn role_keys(root: &[u8], role: &str) -> Vec<String> {
    json(root)["signed"]["roles"][role]["keyids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|id| id.as_str().unwrap().to_owned())
        .collect()
}

fn single(mut ids: Vec<String>) -> String {
    assert_eq!(ids.len(), 1, "{ids:?}");
    ids.remove(0)
}

/// The key ID of a metadata file's only signature.
fn signed_by(metadata: &[u8]) -> String {
    let value = json(metadata);
    let signatures = value["signatures"].as_array().unwrap();
    assert_eq!(signatures.len(), 1, "{value}");
    signatures[0]["keyid"].as_str().unwrap().to_owned()
}

fn version_and_expiry(metadata: &[u8]) -> (u64, DateTime<FixedOffset>) {
    let value = json(metadata);
    let version = value["signed"]["version"].as_u64().unwrap();
    let expires =
        DateTime::parse_from_rfc3339(value["signed"]["expires"].as_str().unwrap()).unwrap();
    (version, expires)
}
