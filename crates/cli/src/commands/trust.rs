//! `trust sign | inspect | revoke | signer add | signer remove | key generate | key load |
//! verify`: docker content trust with `docker trust`'s semantics (see
//! `signet_client::trust`); `export-sigstore` and `key export-public` are in
//! `commands::sigstore`.
//!
//! The commands run in the docker flavour of the [`Context`] ([`crate::context::Flavour`]),
//! which resolves the settings as docker does:
//! * trust dir: `-d` if given, else `$DOCKER_CONFIG/trust`, else `~/.docker/trust`;
//! * trust server: `-s` if given, else `DOCKER_CONTENT_TRUST_SERVER` (https only), else the
//!   image's registry (`https://notary.docker.io` for Docker Hub);
//! * TLS: `--tlscacert` / `--tlscert` / `--tlskey` if given, else the CAs (`*.crt`) and client
//!   pair (`*.cert` + `*.key`) of `<docker config dir>/tls/<host:port>/`. Unlike docker, the
//!   trust server's certificate is verified even when the image's registry is insecure;
//! * credentials: the registry's, from docker's `config.json`, for the registry and for token
//!   authentication at the trust server;
//! * passphrases: `DOCKER_CONTENT_TRUST_ROOT_PASSPHRASE` for root keys,
//!   `DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE` for every other key, then prompts on a
//!   terminal;
//! * keys: the YubiHSM 2 configured for signet (`SIGNET_YUBIHSM_*` or the `yubihsm` object of
//!   the configuration file), when there is one, then the trust dir's, as for every command.
//!
//! Failures are [`CliError::Trust`], whose hints speak of docker's settings, and are reported
//! on standard error.

mod verify;

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use signet_client::registry::{ImageReference, RegistryClient, RegistryOptions, StoredCredentials};
use signet_client::remote::Access;
use signet_client::trust::{self, inspect as trust_inspect, keys as trust_keys, ops};

use crate::context::{Context, trust_err};
use crate::error::{CliError, Result};
use crate::terminal;

/// `signet trust …`.
#[derive(Debug, Subcommand)]
pub(crate) enum TrustCommand {
    /// Sign an image tag: its manifest digest and size, as the registry serves them.
    #[command(override_usage = "signet trust sign [OPTIONS] IMAGE:TAG")]
    Sign(SignArgs),

    /// Return low-level information about keys and signatures.
    #[command(override_usage = "signet trust inspect [OPTIONS] IMAGE[:TAG]...")]
    Inspect(InspectArgs),

    /// Remove trust for an image.
    #[command(override_usage = "signet trust revoke [OPTIONS] IMAGE[:TAG]")]
    Revoke(RevokeArgs),

    /// Manage entities who can sign Docker images.
    #[command(subcommand)]
    Signer(SignerCommand),

    /// Manage keys for signing Docker images.
    #[command(subcommand)]
    Key(KeyCommand),

    /// Check a tag against its signature and the registry, and print the pinned reference.
    #[command(
        long_about = "Checks IMAGE[:TAG] (default tag latest) as a trusted pull does: the tag \
                      must be signed in targets/releases or targets, the trust data must be \
                      valid and current, and the registry must serve the signed manifest. On \
                      success prints IMAGE@sha256:<digest>, the reference to pull. With \
                      --platform, a signed index is resolved to that platform's manifest. \
                      With --policy, each image is decided by the trust policy's most \
                      specific matching rule instead (pinned root, required signers, digest \
                      pinning, enforce or audit); the command fails if any image is denied \
                      by an enforcing rule.",
        override_usage = "signet trust verify [OPTIONS] IMAGE[:TAG]..."
    )]
    Verify(verify::VerifyArgs),

    /// Write a sigstore (cosign) signature of each signed tag, made with the signer key.
    #[command(
        name = "export-sigstore",
        long_about = "Carries the Notary signatures of IMAGE (every tag signed in \
                      targets/releases or targets, or only TAG) over to sigstore: for each tag \
                      whose signature verifies and whose registry content is still the signed \
                      manifest, a cosign signature made with the signer key held here is added \
                      to IMAGE:sha256-<digest>.sig. Verify them with 'cosign verify --key' and \
                      the key from 'signet trust key export-public NAME'.",
        override_usage = "signet trust export-sigstore [OPTIONS] IMAGE[:TAG]"
    )]
    ExportSigstore(super::sigstore::ExportSigstoreArgs),
}

/// `trust signer …`.
#[derive(Debug, Subcommand)]
pub(crate) enum SignerCommand {
    /// Add a signer.
    #[command(override_usage = "signet trust signer add --key FILE... NAME IMAGE...")]
    Add(SignerAddArgs),
    /// Remove a signer.
    #[command(override_usage = "signet trust signer remove [OPTIONS] NAME IMAGE...")]
    Remove(SignerRemoveArgs),
}

/// `trust key …`.
#[derive(Debug, Subcommand)]
pub(crate) enum KeyCommand {
    /// Generate and load a signing key-pair.
    #[command(override_usage = "signet trust key generate [OPTIONS] NAME")]
    Generate(KeyGenerateArgs),
    /// Load a private key file for signing.
    #[command(override_usage = "signet trust key load [OPTIONS] KEYFILE")]
    Load(KeyLoadArgs),
    /// Print the public key of a signer key as PEM, for 'cosign verify --key'.
    #[command(
        name = "export-public",
        override_usage = "signet trust key export-public [OPTIONS] NAME"
    )]
    ExportPublic(super::sigstore::ExportPublicArgs),
}

/// `trust sign`.
#[derive(Debug, Args)]
pub(crate) struct SignArgs {
    /// Sign the digest the registry serves now, even when the tag is already signed (otherwise
    /// an already signed tag is signed again with its signed digest, as docker does).
    #[arg(long = "local")]
    pub(crate) local: bool,
    /// The image and tag.
    #[arg(value_name = "IMAGE:TAG")]
    pub(crate) image: String,
}

/// `trust inspect`.
#[derive(Debug, Args)]
pub(crate) struct InspectArgs {
    /// Print the information in a human friendly format.
    #[arg(long = "pretty")]
    pub(crate) pretty: bool,
    /// The images.
    #[arg(value_name = "IMAGE[:TAG]", required = true)]
    pub(crate) images: Vec<String>,
}

/// `trust revoke`.
#[derive(Debug, Args)]
pub(crate) struct RevokeArgs {
    /// Do not prompt for confirmation.
    #[arg(short = 'y', long = "yes")]
    pub(crate) yes: bool,
    /// The image, with the tag to revoke (without: every signed tag).
    #[arg(value_name = "IMAGE[:TAG]")]
    pub(crate) image: String,
}

/// `trust signer add`.
#[derive(Debug, Args)]
pub(crate) struct SignerAddArgs {
    /// Path to the signer's public key file (PUBLIC KEY or CERTIFICATE PEM).
    #[arg(long = "key", value_name = "FILE", required = true)]
    pub(crate) keys: Vec<PathBuf>,
    /// The signer name.
    #[arg(value_name = "NAME")]
    pub(crate) name: String,
    /// The repositories.
    #[arg(value_name = "IMAGE", required = true)]
    pub(crate) images: Vec<String>,
}

/// `trust signer remove`.
#[derive(Debug, Args)]
pub(crate) struct SignerRemoveArgs {
    /// Do not prompt for confirmation before removing the most recent signer, or a signer
    /// whose removal leaves tags without any signature.
    #[arg(
        short = 'f',
        long = "force",
        visible_short_alias = 'y',
        visible_alias = "yes"
    )]
    pub(crate) force: bool,
    /// The signer name.
    #[arg(value_name = "NAME")]
    pub(crate) name: String,
    /// The repositories.
    #[arg(value_name = "IMAGE", required = true)]
    pub(crate) images: Vec<String>,
}

/// `trust key generate`.
#[derive(Debug, Args)]
pub(crate) struct KeyGenerateArgs {
    /// Directory to generate key in, defaults to current directory.
    #[arg(long = "dir", value_name = "DIR")]
    pub(crate) dir: Option<PathBuf>,
    /// The key name.
    #[arg(value_name = "NAME")]
    pub(crate) name: String,
}

/// `trust key load`.
#[derive(Debug, Args)]
pub(crate) struct KeyLoadArgs {
    /// Name for the loaded key.
    #[arg(long = "name", value_name = "NAME", default_value = "signer")]
    pub(crate) name: String,
    /// The private key file.
    #[arg(value_name = "KEYFILE")]
    pub(crate) file: PathBuf,
}

/// Runs a `trust` subcommand in a docker-flavoured [`Context`].
pub(crate) fn run(ctx: &mut Context, command: TrustCommand) -> Result<()> {
    match command {
        TrustCommand::Sign(args) => sign(ctx, &args),
        TrustCommand::Inspect(args) => inspect(ctx, &args),
        TrustCommand::Revoke(args) => revoke(ctx, &args),
        TrustCommand::Signer(SignerCommand::Add(args)) => signer_add(ctx, &args),
        TrustCommand::Signer(SignerCommand::Remove(args)) => signer_remove(ctx, &args),
        TrustCommand::Key(KeyCommand::Generate(args)) => key_generate(ctx, &args),
        TrustCommand::Key(KeyCommand::Load(args)) => key_load(ctx, &args),
        TrustCommand::Verify(args) => verify::run(ctx, &args),
        TrustCommand::ExportSigstore(args) => export_sigstore(ctx, &args),
        TrustCommand::Key(KeyCommand::ExportPublic(args)) => {
            super::sigstore::export_public(ctx, &args)
        }
    }
}

/// `trust export-sigstore`, with the image and its registry resolved as for the other commands.
fn export_sigstore(ctx: &mut Context, args: &super::sigstore::ExportSigstoreArgs) -> Result<()> {
    let image = parse_image(&args.image)?;
    let registry = registry(ctx, &image)?;
    super::sigstore::export_sigstore(ctx, args, &image, &registry)
}

fn out_err(e: std::io::Error) -> CliError {
    CliError::stdio("write output")(e)
}

/// The registry serving `image`, with the credentials and TLS files of docker's config dir.
fn registry(ctx: &Context, image: &ImageReference) -> Result<RegistryClient> {
    let options = RegistryOptions::from_docker_config_dir(ctx.docker_dir()).map_err(trust_err)?;
    RegistryClient::for_image(image, options).map_err(trust_err)
}

/// The registry user name stored by `docker login`, if any.
fn registry_user(ctx: &Context, image: &ImageReference) -> Result<Option<String>> {
    Ok(match ctx.docker_config()?.lookup(image.domain()) {
        StoredCredentials::Found(credentials) => Some(credentials.username().to_owned()),
        _ => None,
    })
}

fn parse_image(reference: &str) -> Result<ImageReference> {
    ImageReference::parse(reference)
        .map_err(|e| trust_err(signet_client::registry::RegistryError::from(e)))
}

fn sign(ctx: &mut Context, args: &SignArgs) -> Result<()> {
    let image = parse_image(&args.image)?;
    let mut repo = ctx.image_repository(&image, Access::PushPull)?;
    let registry = registry(ctx, &image)?;
    let user = registry_user(ctx, &image)?;
    let initial_signer = match user {
        Some(name) if trust::is_valid_name(&name) && name != "releases" => Some(name),
        Some(name) => {
            ctx.warn(&format!(
                "registry user name {name:?} is not a valid signer name; a new repository is signed into targets"
            ));
            None
        }
        None => None,
    };
    let options = ops::SignOptions {
        local: args.local,
        initial_signer,
    };
    let report = ctx
        .block_on(ops::sign(&mut repo, &registry, &image, &options))?
        .map_err(trust_err)?;
    ctx.warn_all(&report.warnings);
    let gun = repo.gun().to_string();
    if let Some(signer) = &report.created_signer {
        ctx.out
            .line(&format!("Created signer: {signer}"))
            .map_err(out_err)?;
    }
    if report.initialized {
        ctx.out
            .line(&format!(
                "Finished initializing signed repository for {}",
                args.image
            ))
            .map_err(out_err)?;
    }
    ctx.out
        .line(&format!(
            "Signing and pushing trust metadata for {}",
            args.image
        ))
        .map_err(out_err)?;
    if let Some(existing) = &report.existing {
        let mut signers = existing.signers.clone();
        signers.sort();
        ctx.out
            .line(&format!(
                "Existing signatures for tag {} digest {} from:\n{}",
                existing.signed_tag,
                existing.digest,
                signers.join(", ")
            ))
            .map_err(out_err)?;
    }
    ctx.out
        .line(&format!("Successfully signed {gun}:{}", report.tag))
        .map_err(out_err)?;
    ctx.out
        .json(&serde_json::json!({
            "gun": gun,
            "tag": report.tag,
            "digest": report.digest.to_string(),
            "size": report.size,
            "roles": report.roles,
            "initialized": report.initialized,
            "created_signer": report.created_signer,
        }))
        .map_err(out_err)
}

fn inspect(ctx: &mut Context, args: &InspectArgs) -> Result<()> {
    let mut repos = Vec::new();
    let mut errors = Vec::new();
    for (index, name) in args.images.iter().enumerate() {
        let result = (|| -> Result<trust_inspect::TrustRepo> {
            let image = parse_image(name)?;
            if image.digest().is_some() {
                return Err(trust_err(
                    signet_client::error::TrustError::DigestReference {
                        reference: name.clone(),
                    },
                ));
            }
            let mut repo = ctx.image_repository(&image, Access::Pull)?;
            let found = ctx.block_on(ops::inspect(&mut repo, name, image.tag()))?;
            found.map_err(|e| {
                ctx.debug(&e.to_string());
                CliError::TrustReported {
                    message: format!("no signatures or cannot access {name}"),
                }
            })
        })();
        match result {
            Ok(found) => {
                if args.pretty {
                    ctx.out
                        .text(&trust_inspect::pretty(&found))
                        .map_err(out_err)?;
                    if index + 1 < args.images.len() {
                        ctx.out.text("\n\n").map_err(out_err)?;
                    }
                }
                repos.push(found);
            }
            Err(e) if args.pretty => return Err(e),
            Err(e) => errors.push(e.message()),
        }
    }
    if !args.pretty || ctx.out.is_json() {
        let text = trust_inspect::to_json(&repos).map_err(|e| out_err(std::io::Error::other(e)))?;
        ctx.out.raw(text.as_bytes()).map_err(out_err)?;
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(CliError::TrustReported {
            message: errors.join("\n"),
        })
    }
}

fn revoke(ctx: &mut Context, args: &RevokeArgs) -> Result<()> {
    let image = parse_image(&args.image)?;
    if image.digest().is_some() {
        return Err(trust_err(
            signet_client::error::TrustError::DigestReference {
                reference: args.image.clone(),
            },
        ));
    }
    if image.tag().is_none() && !args.yes {
        let question = format!(
            "Confirm you would like to delete all signature data for {}? [y/N] ",
            args.image
        );
        let confirmed = terminal::confirm(&question, &mut std::io::stderr())
            .map_err(CliError::stdio("read the answer"))?;
        if !confirmed {
            return Err(CliError::Aborted);
        }
    }
    let mut repo = ctx.image_repository(&image, Access::PushPull)?;
    let report = ctx
        .block_on(ops::revoke(&mut repo, image.tag()))?
        .map_err(trust_err)?;
    ctx.warn_all(&report.warnings);
    ctx.out
        .line(&format!(
            "Successfully deleted signature for {}",
            args.image
        ))
        .map_err(out_err)?;
    ctx.out
        .json(&serde_json::json!({
            "gun": repo.gun().as_str(),
            "removed": report.removed.iter().map(|(tag, roles)| serde_json::json!({
                "tag": tag,
                "roles": roles,
            })).collect::<Vec<_>>(),
        }))
        .map_err(out_err)
}

fn signer_add(ctx: &mut Context, args: &SignerAddArgs) -> Result<()> {
    trust::validate_signer_name(&args.name).map_err(trust_err)?;
    let keys = args
        .keys
        .iter()
        .map(|path| signet_client::delegation_keys::read_public_key(path).map_err(trust_err))
        .collect::<Result<Vec<_>>>()?;
    let mut failed = Vec::new();
    let mut added = Vec::new();
    for name in &args.images {
        ctx.out
            .line(&format!("Adding signer \"{}\" to {name}...", args.name))
            .map_err(out_err)?;
        let result = (|| -> Result<ops::AddSignerReport> {
            let image = parse_image(name)?;
            let mut repo = ctx.image_repository(&image, Access::PushPull)?;
            ctx.block_on(ops::add_signer(&mut repo, &args.name, &keys))?
                .map_err(trust_err)
        })();
        match result {
            Ok(report) => {
                ctx.warn_all(&report.warnings);
                if report.initialized {
                    ctx.out
                        .line(&format!("Initializing signed repository for {name}..."))
                        .map_err(out_err)?;
                }
                ctx.out
                    .line(&format!(
                        "Successfully added signer: {} to {name}\n",
                        args.name
                    ))
                    .map_err(out_err)?;
                added.push(serde_json::json!({
                    "image": name,
                    "initialized": report.initialized,
                    "key_ids": report.key_ids,
                }));
            }
            Err(e) => {
                report_image_failure(&e);
                failed.push(name.clone());
            }
        }
    }
    let document = serde_json::json!({ "signer": args.name, "added": added, "failed": failed });
    finish_per_image(ctx, &document, &failed, "failed to add signer to")
}

fn signer_remove(ctx: &mut Context, args: &SignerRemoveArgs) -> Result<()> {
    trust::validate_signer_name(&args.name).map_err(|_| {
        trust_err(signet_client::error::TrustError::InvalidName {
            name: args.name.clone(),
            reason: if args.name == "releases" {
                "releases is a reserved keyword and cannot be removed".to_owned()
            } else {
                format!("invalid signer name \"{}\"", args.name)
            },
        })
    })?;
    let mut failed = Vec::new();
    let mut removed = Vec::new();
    let mut unsigned = serde_json::Map::new();
    for name in &args.images {
        ctx.out
            .line(&format!("Removing signer \"{}\" from {name}...", args.name))
            .map_err(out_err)?;
        let result = (|| -> Result<Vec<String>> {
            let image = parse_image(name)?;
            let mut repo = ctx.image_repository(&image, Access::PushPull)?;
            let signer = ctx
                .block_on(ops::find_signer(&mut repo, &args.name))?
                .map_err(trust_err)?;
            if !signer.unsigned_tags.is_empty() {
                eprintln!(
                    "Removing signer \"{}\" leaves these tags of {name} without any signature: {}",
                    args.name,
                    signer.unsigned_tags.join(", ")
                );
            }
            if (signer.last_signer || !signer.unsigned_tags.is_empty()) && !args.force {
                confirm_signer_removal(&args.name, name, &signer)?;
            }
            let warnings = ctx
                .block_on(ops::remove_signer(&mut repo, &args.name, &signer))?
                .map_err(trust_err)?;
            ctx.warn_all(&warnings);
            Ok(signer.unsigned_tags)
        })();
        match result {
            Ok(unsigned_tags) => {
                ctx.out
                    .line(&format!("Successfully removed {} from {name}\n", args.name))
                    .map_err(out_err)?;
                removed.push(name.clone());
                unsigned.insert(name.clone(), serde_json::json!(unsigned_tags));
            }
            Err(e) => {
                report_image_failure(&e);
                failed.push(name.clone());
            }
        }
    }
    let document = serde_json::json!({
        "signer": args.name,
        "removed": removed,
        "unsigned_tags": unsigned,
        "failed": failed,
    });
    finish_per_image(ctx, &document, &failed, "error removing signer from")
}

/// Asks before removing `signer` from `image` when that makes the last release unpullable or
/// leaves tags unsigned; without a terminal the removal needs `-f`/`--yes`.
fn confirm_signer_removal(signer: &str, image: &str, info: &ops::SignerInfo) -> Result<()> {
    if !terminal::stdin_is_terminal() {
        return Err(CliError::TrustConfirmationNeeded {
            signer: signer.to_owned(),
            image: image.to_owned(),
            unsigned_tags: info.unsigned_tags.clone(),
        });
    }
    let consequence = if info.last_signer {
        format!(
            "The signer \"{signer}\" signed the last released version of {image}. Removing this signer will make {image} unpullable."
        )
    } else {
        format!(
            "Removing the signer \"{signer}\" leaves {} of {image} without any signature.",
            info.unsigned_tags.join(", ")
        )
    };
    let question = format!("{consequence} Are you sure you want to continue? [y/N] ");
    if terminal::confirm(&question, &mut std::io::stderr())
        .map_err(CliError::stdio("read the answer"))?
    {
        Ok(())
    } else {
        Err(CliError::Aborted)
    }
}

fn key_generate(ctx: &mut Context, args: &KeyGenerateArgs) -> Result<()> {
    let dir = match &args.dir {
        Some(dir) => dir.clone(),
        None => std::env::current_dir().map_err(CliError::stdio("find the current directory"))?,
    };
    trust::validate_key_name(&args.name).map_err(trust_err)?;
    ctx.out
        .line(&format!("Generating key for {}...", args.name))
        .map_err(out_err)?;
    let generated =
        trust_keys::generate(&ctx.crypto_service()?, &args.name, &dir).map_err(trust_err)?;
    ctx.out
        .line(&format!(
            "Successfully generated and loaded private key. Corresponding public key available: {}",
            generated.public_path.display()
        ))
        .map_err(out_err)?;
    ctx.out
        .json(&serde_json::json!({
            "name": args.name,
            "key_id": generated.key_id.to_string(),
            "public_key": generated.public_path,
        }))
        .map_err(out_err)
}

fn key_load(ctx: &mut Context, args: &KeyLoadArgs) -> Result<()> {
    trust::validate_key_name(&args.name).map_err(trust_err)?;
    ctx.out
        .line(&format!("Loading key from \"{}\"...", args.file.display()))
        .map_err(out_err)?;
    let key_id = trust_keys::load(
        ctx.key_store()?.as_ref(),
        ctx.retriever().as_ref(),
        Path::new(&args.file),
        &args.name,
    )
    .map_err(trust_err)?;
    ctx.out
        .line(&format!(
            "Successfully imported key from {}",
            args.file.display()
        ))
        .map_err(out_err)?;
    ctx.out
        .json(&serde_json::json!({
            "name": args.name,
            "key_id": key_id.to_string(),
            "file": args.file,
        }))
        .map_err(out_err)
}

/// Prints one image's failure (message and hint) on standard error; the command goes on with
/// the next image and fails at the end, as docker does.
fn report_image_failure(error: &CliError) {
    eprintln!("{}", error.message());
    if let Some(hint) = error.hint() {
        eprintln!("hint: {hint}");
    }
    eprintln!();
}

/// Prints the per-image result document, then fails naming the images that failed, if any.
fn finish_per_image(
    ctx: &mut Context,
    document: &serde_json::Value,
    failed: &[String],
    what: &str,
) -> Result<()> {
    ctx.out.json(document).map_err(out_err)?;
    if failed.is_empty() {
        Ok(())
    } else {
        Err(CliError::TrustReported {
            message: format!("{what}: {}", failed.join(", ")),
        })
    }
}
