//! `key list | generate | export | passwd | remove | import | rotate | compromised`.

use clap::{Args, Subcommand};
use std::path::{Path, PathBuf};

use serde::Serialize;
use signet_signer::passphrase::new_key_passphrase;
use signet_signer::{KeyAlgorithm, KeyInfo, KeyStore, PrivateKey, keyfile};
use signet_tuf::KeyId;
use signet_tuf::notary::pem::{self, PemBlock};

use signet_client::remote::Access;

use crate::commands::repo;
use crate::context::Context;
use crate::error::{CliError, Result};
use crate::files;
use crate::options::key_id_argument;
use crate::output::{Table, truncate_with_ellipsis};
use crate::progress::{Activity, Progress};
use crate::terminal;

/// `key ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum KeyCommand {
    /// Exports all keys from all local keystores. Can be filtered using the --key and --gun flags.
    #[command(
        long_about = "Exports all keys from all local keystores. Which keys are exported can be \
                      restricted by using the --key or --gun flags. By default the result is \
                      sent to stdout, it can be directed to a file with the -o flag. Keys \
                      stored in hardware cannot be exported.",
        override_usage = "signet key export [OPTIONS]"
    )]
    Export(KeyExportArgs),

    /// Generates a new key with a given algorithm.
    #[command(
        long_about = "Generates a new key with a given algorithm. If a `--output` file name is \
                      provided, two files will be written, <output>.pem and <output>-key.pem, \
                      containing the public and private keys respectively (the key will not be \
                      stored in the key storage). If no `--role` is provided, \"root\" will be \
                      assumed.",
        override_usage = "signet key generate [OPTIONS] [ALGORITHM]"
    )]
    Generate(KeyGenerateArgs),

    /// Imports all keys from all provided .pem files.
    #[command(
        long_about = "Imports all keys from all provided .pem files by reading each PEM block \
                      from the file and writing that block to a unique object in the local \
                      keystore.",
        override_usage = "signet key import [OPTIONS] <PEMFILE>..."
    )]
    Import(KeyImportArgs),

    /// Lists keys.
    #[command(long_about = "Lists all keys known to signet.")]
    List,

    /// Changes the passphrase for the key with the given keyID.
    #[command(
        long_about = "Changes the passphrase for the key with the given keyID.  Will require \
                      validation of the old passphrase.",
        override_usage = "signet key passwd <KEY ID>"
    )]
    Passwd(KeyIdArgs),

    /// Removes the key with the given keyID.
    #[command(
        long_about = "Removes the key with the given keyID.  If the key is stored in more than \
                      one location, you will be asked which one to remove.",
        override_usage = "signet key remove [OPTIONS] <KEY ID>"
    )]
    Remove(KeyRemoveArgs),

    /// Rotate a signing (non-root) key of the given type for the given Globally Unique Name and
    /// role.
    #[command(
        long_about = "Generates a new key for the given Globally Unique Name and role (one of \
                      \"snapshot\", \"targets\", \"root\", or \"timestamp\").  If rotating to a \
                      server-managed key, a new key is requested from the server rather than \
                      generated.  If the generation or key request is successful, the key \
                      rotation is immediately published.  No other changes, even if they are \
                      staged, will be published.",
        override_usage = "signet key rotate [OPTIONS] <GUN> <KEY ROLE>"
    )]
    Rotate(KeyRotateArgs),

    /// Recovers a repository from leaked keys: new keys for every role that trusted them, in
    /// one publish.
    #[command(
        long_about = "Recovers the Globally Unique Name from the leak of the given keys \
                      (--key-id), or of every key of this trust directory (--all-local): \
                      works out which roles trust them, replaces the leaked root, targets and \
                      snapshot keys (the new root is also signed by the old root key, so \
                      clients follow), removes the leaked keys from every delegation, asks \
                      whether the targets only they signed are re-signed, and publishes all of \
                      it in one upload. The leaked private keys are then moved to the trust \
                      directory's quarantine folder. --dry-run only shows the plan.",
        override_usage = "signet key compromised [OPTIONS] <GUN> (--key-id <KEY ID>... | --all-local)"
    )]
    Compromised(crate::commands::compromised::KeyCompromisedArgs),
}

/// `key generate`.
#[derive(Debug, Args)]
pub(crate) struct KeyGenerateArgs {
    /// Key algorithm (only `ecdsa`).
    #[arg(value_name = "ALGORITHM")]
    pub(crate) algorithm: Vec<String>,
    /// Filepath to write export output to.
    #[arg(short = 'o', long = "output", value_name = "PREFIX")]
    pub(crate) output: Option<PathBuf>,
    /// Role to generate key with, defaulting to "root".
    #[arg(
        short = 'r',
        long = "role",
        value_name = "ROLE",
        default_value = "root"
    )]
    pub(crate) role: String,
}

/// `key rotate`.
#[derive(Debug, Args)]
pub(crate) struct KeyRotateArgs {
    /// Globally Unique Name of the trusted collection.
    #[arg(value_name = "GUN")]
    pub(crate) gun: Option<String>,
    /// Role whose key is rotated.
    #[arg(value_name = "KEY ROLE")]
    pub(crate) role: Option<String>,
    /// Signing and key management will be handled by the remote server (no key will be generated
    /// or stored locally). Required for timestamp role, optional for snapshot role.
    #[arg(short = 'r', long = "server-managed")]
    pub(crate) server_managed: bool,
    /// New key(s) to rotate to. If not specified, one will be generated.
    #[arg(short = 'k', long = "key", value_name = "FILES", value_delimiter = ',')]
    pub(crate) keys: Vec<PathBuf>,
    /// Number of old version's root roles to sign with to support old clients.
    #[arg(
        short = 'l',
        long = "legacy",
        value_name = "N",
        default_value_t = 0,
        allow_negative_numbers = true
    )]
    pub(crate) legacy: i64,
    /// Answer yes to the root rotation question (no confirmation).
    #[arg(short = 'y', long = "yes")]
    pub(crate) yes: bool,
}

/// `key import`.
#[derive(Debug, Args)]
pub(crate) struct KeyImportArgs {
    /// PEM files to import.
    #[arg(value_name = "PEMFILE")]
    pub(crate) files: Vec<PathBuf>,
    /// Role to import key with, if a role is not already given in a PEM header.
    #[arg(short = 'r', long = "role", value_name = "ROLE")]
    pub(crate) role: Option<String>,
    /// Gun to import key with, if a gun is not already given in a PEM header.
    #[arg(short = 'g', long = "gun", value_name = "GUN")]
    pub(crate) gun: Option<String>,
}

/// `key export`.
#[derive(Debug, Args)]
pub(crate) struct KeyExportArgs {
    /// Not accepted: export takes no positional arguments.
    #[arg(value_name = "ARGS", hide = true)]
    pub(crate) extra: Vec<String>,
    /// GUNs for which to export keys.
    #[arg(long = "gun", value_name = "GUNS", value_delimiter = ',')]
    pub(crate) gun: Vec<String>,
    /// Key IDs to export.
    #[arg(long = "key", value_name = "KEY IDS", value_delimiter = ',')]
    pub(crate) key: Vec<String>,
    /// Filepath to write export output to.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub(crate) output: Option<PathBuf>,
}

/// `key passwd`.
#[derive(Debug, Args)]
pub(crate) struct KeyIdArgs {
    /// The 64-character key ID.
    #[arg(value_name = "KEY ID")]
    pub(crate) key_id: Option<String>,
}

/// `key remove`.
#[derive(Debug, Args)]
pub(crate) struct KeyRemoveArgs {
    /// The 64-character key ID.
    #[arg(value_name = "KEY ID")]
    pub(crate) key_id: Option<String>,
    /// Answer yes to the removal question (no confirmation).
    #[arg(short = 'y', long = "yes")]
    pub(crate) yes: bool,
}

/// notary's key list truncates GUNs to this many characters (from the left).
const MAX_GUN_WIDTH: usize = 25;
/// notary's key list truncates locations to this many characters (from the left).
const MAX_LOCATION_WIDTH: usize = 40;

/// Runs a `key` subcommand.
pub(crate) fn run(ctx: &mut Context, command: KeyCommand) -> Result<()> {
    match command {
        KeyCommand::List => list(ctx),
        KeyCommand::Generate(args) => generate(ctx, &args),
        KeyCommand::Export(args) => export(ctx, &args),
        KeyCommand::Passwd(args) => passwd(ctx, &args),
        KeyCommand::Remove(args) => remove(ctx, &args),
        KeyCommand::Import(args) => import(ctx, &args),
        KeyCommand::Rotate(args) => rotate(ctx, &args),
        KeyCommand::Compromised(args) => crate::commands::compromised::run(ctx, &args),
    }
}

/// `key import FILE... [-r ROLE] [-g GUN]`: every private key PEM block of every file, with
/// notary's rules for the `path`, `role` and `gun` headers.
fn import(ctx: &mut Context, args: &KeyImportArgs) -> Result<()> {
    if args.files.is_empty() {
        return Err(CliError::Arguments {
            message: "must specify at least one input file to import keys from",
            usage: "signet key import [OPTIONS] <PEMFILE>...",
        });
    }
    let store = ctx.key_store()?;
    let mut progress = Progress::new("Importing keys", args.files.len());
    let mut imported = Vec::with_capacity(args.files.len());
    for path in &args.files {
        progress.step(&path.display().to_string());
        let bytes = crate::context::read_file(path)?;
        let text = String::from_utf8_lossy(&bytes);
        let locations = store
            .import_keys(&text, args.role.as_deref(), args.gun.as_deref())
            .map_err(|source| CliError::ImportFile {
                path: path.clone(),
                source: Box::new(source),
            })?;
        imported.push(serde_json::json!({ "file": path, "locations": locations }));
    }
    progress.finish();
    ctx.out
        .json(&serde_json::json!({ "imported": imported }))
        .map_err(CliError::stdio("write output"))
}

/// `key rotate GUN ROLE [-r] [-k FILE] [-l N]`.
fn rotate(ctx: &mut Context, args: &KeyRotateArgs) -> Result<()> {
    let (Some(gun), Some(role)) = (&args.gun, &args.role) else {
        return Err(CliError::Arguments {
            message: "Must specify a GUN and a key role to rotate",
            usage: "signet key rotate [OPTIONS] <GUN> <KEY ROLE>",
        });
    };
    let legacy =
        u32::try_from(args.legacy).map_err(|_| CliError::InvalidLegacy { value: args.legacy })?;
    let gun = ctx.gun(gun)?;
    let new_keys = args
        .keys
        .iter()
        .map(|path| repo::read_key_file(ctx, role, path))
        .collect::<Result<Vec<_>>>()?;
    if role == "root" {
        let question = "Warning: you are about to rotate your root key.\n\nYou must use your old \
                        key to sign this root rotation.\nAre you sure you want to proceed?  \
                        (yes/no)  ";
        terminal::confirm_or_abort(question, args.yes, ctx.out.is_json())?;
    }
    let message = format!("Rotating the {role} key of {gun}");
    let activity = Activity::start(&message);
    let result = ctx.block_on(async {
        let mut repository = ctx.repository(gun.clone(), Access::Admin).await?;
        Ok::<_, CliError>(
            repository
                .rotate_key(role, args.server_managed, new_keys, legacy)
                .await?,
        )
    });
    activity.finish();
    let report = result??;
    ctx.warn_all(&report.publish.warnings);
    let new_key_id = report.new_key.key_id();
    let canonical = report.new_key.canonical_key_id()?;
    ctx.out
        .json(&serde_json::json!({
            "gun": gun.as_str(),
            "role": role,
            "rotated": true,
            "server_managed": args.server_managed,
            "key_id": new_key_id.as_str(),
            "canonical_key_id": canonical.as_str(),
            "published_roles": report.publish.roles,
        }))
        .map_err(CliError::stdio("write output"))?;
    ctx.out
        .line(&format!(
            "Successfully rotated {role} key for repository {gun}"
        ))
        .map_err(CliError::stdio("write output"))
}

/// One key in `key list --output json`.
#[derive(Debug, Serialize)]
struct KeyJson<'a> {
    role: &'a str,
    gun: Option<&'a str>,
    key_id: &'a str,
    location: &'a str,
}

fn sorted_keys(ctx: &Context) -> Result<Vec<KeyInfo>> {
    let mut keys = ctx.crypto_service()?.list_keys()?;
    keys.sort_by(KeyInfo::listing_order);
    Ok(keys)
}

fn list(ctx: &mut Context) -> Result<()> {
    let keys = sorted_keys(ctx)?;
    let out = &mut ctx.out;
    let json: Vec<KeyJson<'_>> = keys
        .iter()
        .map(|k| KeyJson {
            role: &k.role,
            gun: k.gun.as_deref(),
            key_id: k.key_id.as_str(),
            location: &k.location,
        })
        .collect();
    out.json(&serde_json::json!({ "keys": json }))
        .map_err(CliError::stdio("write output"))?;
    let text = if keys.is_empty() {
        "\nNo signing keys found.\n\n".to_owned()
    } else {
        let mut table = Table::new(&["ROLE", "GUN", "KEY ID", "LOCATION"]);
        for key in &keys {
            table.row(&[
                key.role.clone(),
                truncate_with_ellipsis(key.gun.as_deref().unwrap_or(""), MAX_GUN_WIDTH, true),
                key.key_id.to_string(),
                truncate_with_ellipsis(&key.location, MAX_LOCATION_WIDTH, true),
            ]);
        }
        format!("\n{}\n", table.render())
    };
    out.text(&text).map_err(CliError::stdio("write output"))
}

fn generate(ctx: &mut Context, args: &KeyGenerateArgs) -> Result<()> {
    if args.algorithm.len() > 1 {
        return Err(CliError::Arguments {
            message: "Please provide only one Algorithm as an argument to generate (rsa, ecdsa)",
            usage: "signet key generate [OPTIONS] [ALGORITHM]",
        });
    }
    let algorithm = args
        .algorithm
        .first()
        .map_or_else(|| "ecdsa".to_owned(), |a| a.to_lowercase());
    if algorithm != "ecdsa" {
        return Err(CliError::AlgorithmNotAllowed { algorithm });
    }
    let role = args.role.as_str();
    match &args.output {
        None => {
            let service = ctx.crypto_service()?;
            let signer = service
                .create(KeyAlgorithm::Ecdsa, role, None)
                .map_err(|source| CliError::KeyCreation {
                    role: role.to_owned(),
                    source: Box::new(source),
                })?;
            let key_id = signer.public_key().key_id();
            ctx.out
                .json(&serde_json::json!({
                    "key_id": key_id.as_str(),
                    "role": role,
                    "algorithm": algorithm,
                }))
                .map_err(CliError::stdio("write output"))?;
            ctx.out
                .line(&format!(
                    "Generated new {algorithm} {role} key with keyID: {key_id}"
                ))
                .map_err(CliError::stdio("write output"))
        }
        Some(prefix) => generate_to_files(ctx, role, &algorithm, prefix),
    }
}

/// `key generate -o PREFIX`: `PREFIX-key.pem` (encrypted private key with a `role` header) and
/// `PREFIX.pem` (public key with a `role` header), nothing in the key store.
fn generate_to_files(ctx: &mut Context, role: &str, algorithm: &str, prefix: &Path) -> Result<()> {
    let key =
        PrivateKey::generate(KeyAlgorithm::Ecdsa).map_err(|source| CliError::KeyCreation {
            role: role.to_owned(),
            source: Box::new(source),
        })?;
    let key_id = key.key_id().clone();
    // notary asks with an empty alias here, so the delegation passphrase variable applies.
    let retriever = ctx.retriever();
    let passphrase = new_key_passphrase(retriever.as_ref(), key_id.as_str(), "")?;
    let private_pem = keyfile::encode_key_file(&key, role, None, &passphrase)?;
    let mut public = PemBlock::new(pem::PUBLIC_KEY, key.public_key().public().to_vec());
    public.set_header(pem::ROLE_HEADER, role);
    let public_pem = public.encode().map_err(signet_signer::Error::from)?;

    let private_path = with_suffix(prefix, "-key.pem");
    let public_path = with_suffix(prefix, ".pem");
    files::write_private(&private_path, private_pem.as_bytes())?;
    files::write_private(&public_path, public_pem.as_bytes())?;
    ctx.out
        .json(&serde_json::json!({
            "key_id": key_id.as_str(),
            "role": role,
            "algorithm": algorithm,
            "private_key_file": private_path,
            "public_key_file": public_path,
        }))
        .map_err(CliError::stdio("write output"))
}

fn with_suffix(prefix: &Path, suffix: &str) -> PathBuf {
    let mut name = prefix.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// One exported key in `key export --output json`.
#[derive(Debug, Serialize)]
struct ExportedKey {
    key_id: String,
    role: String,
    gun: Option<String>,
    pem: String,
}

fn export(ctx: &mut Context, args: &KeyExportArgs) -> Result<()> {
    if !args.extra.is_empty() {
        return Err(CliError::Arguments {
            message: "export does not take any positional arguments",
            usage: "signet key export [OPTIONS]",
        });
    }
    if !args.gun.is_empty() && !args.key.is_empty() {
        return Err(CliError::ExportFilterMix);
    }
    let store = ctx.key_store()?;
    let keys = store.list_keys()?;
    let selected: Vec<&KeyInfo> = if !args.gun.is_empty() {
        keys.iter()
            .filter(|k| {
                k.gun
                    .as_deref()
                    .is_some_and(|g| args.gun.iter().any(|wanted| wanted == g))
            })
            .collect()
    } else if !args.key.is_empty() {
        for wanted in &args.key {
            if !keys.iter().any(|k| k.key_id.as_str() == wanted) {
                ctx.warn(&format!("no key with ID {wanted} found to export"));
            }
        }
        keys.iter()
            .filter(|k| args.key.iter().any(|wanted| wanted == k.key_id.as_str()))
            .collect()
    } else {
        keys.iter().collect()
    };

    let mut progress = Progress::new("Exporting keys", selected.len());
    let mut exported = Vec::with_capacity(selected.len());
    for key in selected {
        progress.step(key.key_id.as_str());
        exported.push(ExportedKey {
            pem: store.export_key(&key.key_id)?,
            key_id: key.key_id.to_string(),
            role: key.role.clone(),
            gun: key.gun.clone(),
        });
    }
    progress.finish();

    let all: String = exported.iter().map(|k| k.pem.as_str()).collect();
    match &args.output {
        Some(path) => {
            files::write_private(path, all.as_bytes())?;
            let ids: Vec<&str> = exported.iter().map(|k| k.key_id.as_str()).collect();
            ctx.out
                .json(&serde_json::json!({ "file": path, "key_ids": ids }))
                .map_err(CliError::stdio("write output"))
        }
        None if ctx.out.is_json() => ctx
            .out
            .json(&serde_json::json!({ "keys": exported }))
            .map_err(CliError::stdio("write output")),
        None => ctx
            .out
            .raw(all.as_bytes())
            .map_err(CliError::stdio("write output")),
    }
}

/// Parses a key ID argument as notary checks it (64 characters), then as hex.
fn passwd(ctx: &mut Context, args: &KeyIdArgs) -> Result<()> {
    let Some(key_id) = &args.key_id else {
        return Err(CliError::Arguments {
            message: "must specify the key ID of the key to change the passphrase of",
            usage: "signet key passwd <KEY ID>",
        });
    };
    let key_id = key_id_argument(key_id)?;
    let store = ctx.key_store()?;
    let role = store.key_info(&key_id).ok().map(|info| info.role);
    store
        .private_key(&key_id)
        .map_err(|source| CliError::NoKeyToChange {
            key_id: key_id.to_string(),
            role,
            source: Box::new(source),
        })?;
    // A retriever of its own, so that the old passphrase is not reused from a cache.
    let new_passphrase = ctx.fresh_retriever();
    store.change_passphrase(&key_id, new_passphrase.as_ref())?;
    ctx.out
        .json(&serde_json::json!({ "key_id": key_id.as_str(), "passphrase_changed": true }))
        .map_err(CliError::stdio("write output"))?;
    ctx.out
        .text(&format!(
            "\nSuccessfully updated passphrase for key ID: {key_id}\n"
        ))
        .map_err(CliError::stdio("write output"))
}

fn remove(ctx: &mut Context, args: &KeyRemoveArgs) -> Result<()> {
    let Some(key_id) = &args.key_id else {
        return Err(CliError::Arguments {
            message: "must specify the key ID of the key to remove",
            usage: "signet key remove [OPTIONS] <KEY ID>",
        });
    };
    let key_id = key_id_argument(key_id)?;
    let store = ctx.key_store()?;
    ctx.out
        .text("\n")
        .map_err(CliError::stdio("write output"))?;
    let result = remove_interactively(ctx, store.as_ref(), &key_id, args.yes);
    ctx.out
        .text("\n")
        .map_err(CliError::stdio("write output"))?;
    result
}

fn remove_interactively(
    ctx: &mut Context,
    store: &dyn KeyStore,
    key_id: &KeyId,
    yes: bool,
) -> Result<()> {
    let info = match store.key_info(key_id) {
        Ok(info) => info,
        Err(e) if e.is_key_not_found() => {
            return Err(CliError::NoKeyToRemove {
                key_id: key_id.to_string(),
            });
        }
        Err(e) => return Err(e.into()),
    };
    let description = format!("{key_id} (role {}) from {}", info.role, info.location);
    let question = format!("Are you sure you want to remove {description}?  (yes/no)  ");
    terminal::confirm_or_abort(&question, yes, ctx.out.is_json())?;
    store.remove_key(key_id)?;
    ctx.out
        .json(&serde_json::json!({
            "key_id": key_id.as_str(),
            "role": info.role,
            "location": info.location,
            "removed": true,
        }))
        .map_err(CliError::stdio("write output"))?;
    ctx.out
        .line(&format!("\nDeleted {description}."))
        .map_err(CliError::stdio("write output"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_id_arguments() {
        assert!(matches!(
            key_id_argument("abc"),
            Err(CliError::InvalidKeyId { .. })
        ));
        assert!(matches!(
            key_id_argument(&"g".repeat(64)),
            Err(CliError::InvalidKeyId { .. })
        ));
        assert!(key_id_argument(&"a".repeat(64)).is_ok());
    }

    #[test]
    fn generated_file_names() {
        assert_eq!(
            with_suffix(Path::new("dir/alice"), "-key.pem"),
            Path::new("dir/alice-key.pem")
        );
    }
}
