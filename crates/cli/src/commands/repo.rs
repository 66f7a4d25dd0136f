//! Repository commands: `init`, `publish`, `list`, `lookup`, `verify`, `delete`, the
//! `-p/--publish` of staging commands, and the key reading shared with `key rotate`.

use crate::options::GunArgs;
use clap::Args;
use std::borrow::Cow;
use std::io::Read as _;
use std::path::Path;
use std::path::PathBuf;

use serde::ser::{Serialize, SerializeMap as _, SerializeSeq as _};
use serde_json::{Value, json};
use signet_client::remote::Access;
use signet_client::repository::InitOptions;
use signet_client::{Gun, Repository};
use signet_signer::passphrase::decrypt_with_retries;
use signet_signer::{KeyStore as _, PrivateKey, keyfile};
use signet_tuf::PublicKey;
use signet_tuf::metadata::FileMeta;
use signet_tuf::notary::pem;
use signet_tuf::update::TargetRef;
use signet_tuf::x509::{self, Certificate};

use crate::context::Context;
use crate::error::{CliError, Result};
use crate::files;
use crate::output::TableLayout;
use crate::progress::Activity;

/// `init`.
#[derive(Debug, Args)]
pub(crate) struct InitArgs {
    /// Globally Unique Name of the trusted collection.
    #[arg(value_name = "GUN")]
    pub(crate) gun: Option<String>,
    /// Root key to initialize the repository with.
    #[arg(long = "rootkey", value_name = "FILE")]
    pub(crate) root_key: Option<PathBuf>,
    /// Root certificate must match root key if a root key is supplied, otherwise it must match a
    /// key present in keystore.
    #[arg(long = "rootcert", value_name = "FILE")]
    pub(crate) root_cert: Option<PathBuf>,
    /// Automatically attempt to publish after staging the change. Will also publish existing
    /// staged changes.
    #[arg(short = 'p', long = "publish")]
    pub(crate) publish: bool,
}

/// `list`.
#[derive(Debug, Args)]
pub(crate) struct ListArgs {
    /// Globally Unique Name of the trusted collection.
    #[arg(value_name = "GUN")]
    pub(crate) gun: Option<String>,
    /// Delegation roles to list targets for (will shadow targets role).
    #[arg(
        short = 'r',
        long = "roles",
        value_name = "ROLES",
        value_delimiter = ','
    )]
    pub(crate) roles: Vec<String>,
}

/// `lookup`.
#[derive(Debug, Args)]
pub(crate) struct LookupArgs {
    /// Globally Unique Name of the trusted collection.
    #[arg(value_name = "GUN")]
    pub(crate) gun: Option<String>,
    /// Name of the target.
    #[arg(value_name = "TARGET")]
    pub(crate) target: Option<String>,
}

/// `verify`.
#[derive(Debug, Args)]
pub(crate) struct VerifyArgs {
    /// Globally Unique Name of the trusted collection.
    #[arg(value_name = "GUN")]
    pub(crate) gun: Option<String>,
    /// Name of the target.
    #[arg(value_name = "TARGET")]
    pub(crate) target: Option<String>,
    /// Read from a file, instead of STDIN.
    #[arg(short = 'i', long = "input", value_name = "FILE")]
    pub(crate) input: Option<PathBuf>,
    /// Write to a file, instead of STDOUT.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub(crate) output: Option<PathBuf>,
    /// No output except for errors.
    #[arg(short = 'q', long = "quiet")]
    pub(crate) quiet: bool,
}

/// `delete`.
#[derive(Debug, Args)]
pub(crate) struct DeleteArgs {
    /// Globally Unique Name of the trusted collection.
    #[arg(value_name = "GUN")]
    pub(crate) gun: Option<String>,
    /// Delete remote data for GUN in addition to local cache.
    #[arg(long = "remote")]
    pub(crate) remote: bool,
}

/// Runs `future` (given the context) with an activity line shown, and unwraps both layers of
/// errors.
fn with_activity<T>(
    ctx: &Context,
    message: &str,
    future: impl Future<Output = Result<T>>,
) -> Result<T> {
    let activity = Activity::start(message);
    let result = ctx.block_on(future);
    activity.finish();
    result?
}

/// Opens `gun` for reading and updates it from the server (or the verified cache when the
/// server cannot be used), printing the update's warnings.
pub(crate) fn open_and_update(ctx: &Context, gun: Gun) -> Result<Repository> {
    let message = format!("Fetching trust data for {gun}");
    let (repo, warnings) = with_activity(ctx, &message, async {
        let mut repo = ctx.repository(gun, Access::Pull).await?;
        let warnings = repo.update().await?;
        Ok((repo, warnings))
    })?;
    ctx.warn_all(&warnings);
    Ok(repo)
}

/// Publishes the staged changes of `gun`; returns the JSON summary.
fn publish_now(ctx: &mut Context, gun: &Gun) -> Result<Value> {
    let message = format!("Publishing changes to {gun}");
    let report = with_activity(ctx, &message, async {
        let mut repo = ctx.repository(gun.clone(), Access::PushPull).await?;
        Ok(repo.publish().await?)
    })?;
    ctx.warn_all(&report.warnings);
    ctx.out
        .line(&format!(
            "Successfully published changes for repository {gun}"
        ))
        .map_err(CliError::stdio("write output"))?;
    Ok(json!({ "roles": report.roles, "initial": report.initial }))
}

/// Publishes the staged changes of `gun` after a staging command when `-p` was given; returns
/// the publish summary for the command's JSON document.
pub(crate) fn maybe_publish(ctx: &mut Context, gun: &Gun, publish: bool) -> Result<Option<Value>> {
    if !publish {
        return Ok(None);
    }
    ctx.out
        .line(&format!("Auto-publishing changes to {gun}"))
        .map_err(CliError::stdio("write output"))?;
    publish_now(ctx, gun).map(Some)
}

/// Prints a staging command's JSON document, with the publish summary when there was one.
pub(crate) fn finish_staging(
    ctx: &mut Context,
    mut doc: Value,
    published: Option<Value>,
) -> Result<()> {
    if let (Some(published), Some(map)) = (published, doc.as_object_mut()) {
        map.insert("published".to_owned(), published);
    }
    ctx.out.json(&doc).map_err(CliError::stdio("write output"))
}

/// Reads a private key file given on the command line, as notary does for `init --rootkey` and
/// `key rotate -k`: an encrypted key is decrypted with the root passphrase; an unencrypted key
/// is refused for the root role.
pub(crate) fn read_key_file(ctx: &Context, role: &str, path: &Path) -> Result<PrivateKey> {
    let text = std::fs::read_to_string(path).map_err(|source| CliError::KeyFileRead {
        path: path.to_owned(),
        source,
    })?;
    let block = pem::decode_first(&text)
        .filter(|b| keyfile::is_private_key_label(&b.label))
        .ok_or_else(|| CliError::NoPrivateKey {
            path: path.to_owned(),
        })?;
    let name = path.display().to_string();
    if keyfile::is_encrypted(&block) {
        let retriever = ctx.retriever();
        Ok(decrypt_with_retries(
            retriever.as_ref(),
            &name,
            "root",
            |pass| keyfile::decode_key_block(&block, pass, &name),
        )?)
    } else if role == "root" {
        Err(CliError::RootKeyNotEncrypted {
            path: path.to_owned(),
        })
    } else {
        Ok(keyfile::decode_key_block(&block, "", &name)?)
    }
}

/// Reads the root certificate given with `--rootcert` (the first PEM block).
fn read_root_certificate(path: &Path) -> Result<PublicKey> {
    let invalid = |reason: String| CliError::RootCertInvalid {
        path: path.to_owned(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|source| CliError::RootCertRead {
        path: path.to_owned(),
        source,
    })?;
    let block = pem::decode_first(&text)
        .filter(|b| b.label == pem::CERTIFICATE)
        .ok_or_else(|| invalid("the file does not contain a valid PEM certificate".to_owned()))?;
    let cert = Certificate::from_der(&block.contents)
        .map_err(|e| invalid(format!("parsing the certificate failed: {e}")))?;
    Ok(x509::bundle_to_key(&cert, &[])?)
}

/// `init GUN [--rootkey FILE] [--rootcert FILE] [-p]`.
pub(crate) fn init(ctx: &mut Context, args: &InitArgs) -> Result<()> {
    let Some(gun) = &args.gun else {
        return Err(CliError::Arguments {
            message: "Must specify a GUN",
            usage: "signet init [OPTIONS] <GUN>",
        });
    };
    let gun = ctx.gun(gun)?;
    let store = ctx.key_store()?;
    let mut root_key_ids = Vec::new();
    if let Some(path) = &args.root_key {
        let key = read_key_file(ctx, "root", path)?;
        store
            .add_key(&key, "root", None)
            .map_err(|source| CliError::KeyImport {
                source: Box::new(source),
            })?;
        root_key_ids.push(key.key_id().clone());
    } else {
        let mut existing: Vec<_> = store
            .list_keys()?
            .into_iter()
            .filter(|k| k.role == "root")
            .map(|k| k.key_id)
            .collect();
        existing.sort();
        if let Some(first) = existing.first() {
            root_key_ids.push(first.clone());
        }
    }
    if let Some(id) = root_key_ids.first() {
        ctx.out
            .line(&format!("Root key found, using: {id}"))
            .map_err(CliError::stdio("write output"))?;
    }
    let mut root_certificates = Vec::new();
    if let Some(path) = &args.root_cert {
        let cert = read_root_certificate(path)?;
        let cert_key = cert.canonical_key_id()?;
        if args.root_key.is_some() {
            if let Some(id) = root_key_ids.first().filter(|id| **id != cert_key) {
                return Err(CliError::RootCertMismatch {
                    key_id: id.to_string(),
                    cert_key_id: cert_key.to_string(),
                });
            }
        } else {
            // The private key is looked up by the certificate's key.
            root_key_ids.clear();
        }
        root_certificates.push(cert);
    }
    if args.root_key.is_none() && args.root_cert.is_none() {
        // Let the client choose (the existing root key with the smallest ID, or a new one).
        root_key_ids.clear();
    }
    let options = InitOptions {
        root_key_ids,
        root_certificates,
        server_managed_snapshot: false,
    };
    let message = format!("Initializing {gun}");
    with_activity(ctx, &message, async {
        let mut repo = ctx.repository(gun.clone(), Access::PushPull).await?;
        Ok(repo.initialize(options).await?)
    })?;
    let published = maybe_publish(ctx, &gun, args.publish)?;
    finish_staging(
        ctx,
        json!({ "gun": gun.as_str(), "initialized": true }),
        published,
    )
}

/// `publish GUN`.
pub(crate) fn publish(ctx: &mut Context, args: &GunArgs) -> Result<()> {
    let Some(gun) = &args.gun else {
        return Err(CliError::Arguments {
            message: "Must specify a GUN",
            usage: "signet publish [OPTIONS] <GUN>",
        });
    };
    let gun = ctx.gun(gun)?;
    ctx.out
        .line(&format!("Pushing changes to {gun}"))
        .map_err(CliError::stdio("write output"))?;
    let mut doc = publish_now(ctx, &gun)?;
    if let Some(map) = doc.as_object_mut() {
        map.insert("gun".to_owned(), json!(gun.as_str()));
    }
    ctx.out.json(&doc).map_err(CliError::stdio("write output"))
}

/// A target in JSON.
fn target_json(name: &str, meta: &FileMeta, role: &str) -> Value {
    let custom = meta.custom_value().ok().flatten();
    json!({
        "name": name,
        "length": meta.length,
        "hashes": meta
            .hashes
            .iter()
            .map(|(alg, digest)| (alg.to_owned(), Value::String(hex::encode(digest))))
            .collect::<serde_json::Map<String, Value>>(),
        "role": role,
        "custom": custom,
    })
}

fn sha256_hex(meta: &FileMeta) -> String {
    meta.sha256().map(hex::encode).unwrap_or_default()
}

/// `list`'s JSON document, `{"gun":…,"targets":[…]}`, serialised one target at a time (the
/// same bytes as building the whole document as a [`Value`] first).
struct ListDocument<'a> {
    gun: &'a str,
    targets: &'a [TargetRef<'a>],
}

impl Serialize for ListDocument<'_> {
    fn serialize<S: serde::Serializer>(
        &self,
        serializer: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        struct Targets<'a>(&'a [TargetRef<'a>]);
        impl Serialize for Targets<'_> {
            fn serialize<S: serde::Serializer>(
                &self,
                serializer: S,
            ) -> std::result::Result<S::Ok, S::Error> {
                let mut seq = serializer.serialize_seq(Some(self.0.len()))?;
                for t in self.0 {
                    seq.serialize_element(&target_json(t.name, t.meta, t.role))?;
                }
                seq.end()
            }
        }
        let mut map = serializer.serialize_map(Some(2))?;
        map.serialize_entry("gun", self.gun)?;
        map.serialize_entry("targets", &Targets(self.targets))?;
        map.end()
    }
}

/// The cells of a target's row in `list`'s table.
fn list_row<'a>(target: &TargetRef<'a>) -> [Cow<'a, str>; 4] {
    [
        Cow::Borrowed(target.name),
        Cow::Owned(sha256_hex(target.meta)),
        Cow::Owned(target.meta.length.to_string()),
        Cow::Borrowed(target.role),
    ]
}

/// `list GUN [-r roles]`.
///
/// The table is streamed: widths are measured in a first pass over the targets, then the rows
/// are written one by one, so memory does not grow with a second copy of the listing.
pub(crate) fn list(ctx: &mut Context, args: &ListArgs) -> Result<()> {
    let Some(gun) = &args.gun else {
        return Err(CliError::Arguments {
            message: "Must specify a GUN",
            usage: "signet list [OPTIONS] <GUN>",
        });
    };
    let gun = ctx.gun(gun)?;
    let repo = open_and_update(ctx, gun.clone())?;
    let roles: Vec<&str> = args.roles.iter().map(String::as_str).collect();
    // Sorted by name (byte order), borrowed from the verified documents.
    let targets = repo.list_target_refs(&roles)?;
    ctx.out
        .json(&ListDocument {
            gun: gun.as_str(),
            targets: &targets,
        })
        .map_err(CliError::stdio("write output"))?;
    if targets.is_empty() {
        return ctx
            .out
            .text("\nNo targets present in this repository.\n\n")
            .map_err(CliError::stdio("write output"));
    }
    ctx.out
        .text_with(|out| {
            const HEADERS: [&str; 4] = ["NAME", "DIGEST", "SIZE (BYTES)", "ROLE"];
            let header_rows = TableLayout::header_rows(&HEADERS);
            let mut layout = TableLayout::new(HEADERS.len());
            for row in &header_rows {
                layout.measure(row);
            }
            for target in &targets {
                layout.measure(&list_row(target));
            }
            for row in &header_rows {
                layout.write_row(out, row)?;
            }
            for target in &targets {
                layout.write_row(out, &list_row(target))?;
            }
            Ok(())
        })
        .map_err(CliError::stdio("write output"))
}

/// `lookup GUN TARGET`.
pub(crate) fn lookup(ctx: &mut Context, args: &LookupArgs) -> Result<()> {
    let (Some(gun), Some(name)) = (&args.gun, &args.target) else {
        return Err(CliError::Arguments {
            message: "Must specify a GUN and target",
            usage: "signet lookup [OPTIONS] <GUN> <TARGET>",
        });
    };
    let gun = ctx.gun(gun)?;
    let repo = open_and_update(ctx, gun)?;
    let target = repo.lookup(name, &[])?;
    ctx.out
        .json(&target_json(&target.name, &target.meta, &target.role))
        .map_err(CliError::stdio("write output"))?;
    ctx.out
        .line(&format!(
            "{} sha256:{} {}",
            target.name,
            sha256_hex(&target.meta),
            target.meta.length
        ))
        .map_err(CliError::stdio("write output"))
}

/// `verify GUN TARGET [-i FILE] [-o FILE] [-q]`: checks that the payload (standard input or
/// `-i`) has the length-independent hashes the trusted collection lists for TARGET, then
/// passes it through to standard output or `-o`.
pub(crate) fn verify(ctx: &mut Context, args: &VerifyArgs) -> Result<()> {
    let (Some(gun), Some(name)) = (&args.gun, &args.target) else {
        return Err(CliError::Arguments {
            message: "Must specify a GUN and target",
            usage: "signet verify [OPTIONS] <GUN> <TARGET>",
        });
    };
    let payload = match &args.input {
        Some(path) => crate::context::read_file(path)?,
        None => {
            let mut bytes = Vec::new();
            std::io::stdin()
                .read_to_end(&mut bytes)
                .map_err(CliError::stdio("error reading content from STDIN"))?;
            bytes
        }
    };
    let gun = ctx.gun(gun)?;
    let repo = open_and_update(ctx, gun.clone())?;
    let target = repo
        .lookup(name, &[])
        .map_err(|source| CliError::VerifyLookup {
            target: name.clone(),
            source: Box::new(source),
        })?;
    target
        .meta
        .check_hashes(name, &payload)
        .map_err(|source| CliError::VerifyMismatch {
            source: Box::new(source),
        })?;
    if ctx.out.is_json() {
        if let Some(path) = args.output.as_deref().filter(|_| !args.quiet) {
            files::write_private(path, &payload)?;
        }
        let mut doc = target_json(&target.name, &target.meta, &target.role);
        if let Some(map) = doc.as_object_mut() {
            map.insert("verified".to_owned(), json!(true));
            map.insert("gun".to_owned(), json!(gun.as_str()));
        }
        return ctx.out.json(&doc).map_err(CliError::stdio("write output"));
    }
    if args.quiet {
        return Ok(());
    }
    match &args.output {
        Some(path) => files::write_private(path, &payload),
        None => ctx
            .out
            .raw(&payload)
            .map_err(CliError::stdio("write output")),
    }
}

/// `delete GUN [--remote]`: removes the local trust data (never keys) and, with `--remote`,
/// the server's.
pub(crate) fn delete(ctx: &mut Context, args: &DeleteArgs) -> Result<()> {
    let Some(gun) = &args.gun else {
        return Err(CliError::Arguments {
            message: "Must specify a GUN",
            usage: "signet delete [OPTIONS] <GUN>",
        });
    };
    let gun = ctx.gun(gun)?;
    let remote = if args.remote {
        Some(ctx.block_on(ctx.remote(Access::Admin))??)
    } else {
        None
    };
    ctx.out
        .line(&format!("Deleting trust data for repository {gun}"))
        .map_err(CliError::stdio("write output"))?;
    ctx.trust_dir().delete_repo(&gun)?;
    if let Some(remote) = &remote {
        ctx.block_on(remote.delete_repo(&gun))??;
    }
    let which = if args.remote { " and remote" } else { "" };
    ctx.out
        .json(&json!({
            "gun": gun.as_str(),
            "deleted_local": true,
            "deleted_remote": args.remote,
        }))
        .map_err(CliError::stdio("write output"))?;
    ctx.out
        .line(&format!(
            "Successfully deleted local{which} trust data for repository {gun}"
        ))
        .map_err(CliError::stdio("write output"))
}
