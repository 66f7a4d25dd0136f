//! `trust export-sigstore IMAGE[:TAG]` and `trust key export-public NAME`: moving from Notary
//! signatures to sigstore (cosign) signatures made with the same signer keys (see
//! `signet_client::sigstore`). Both run in the docker flavour of the [`Context`], like every
//! `trust` command.

use std::path::PathBuf;

use clap::Args;
use signet_client::registry::{ImageReference, RegistryClient};
use signet_client::remote::Access;
use signet_client::sigstore::{self, ExportOptions};

use crate::context::{Context, trust_err};
use crate::error::{CliError, Result};
use crate::files;

/// `trust export-sigstore`.
#[derive(Debug, Args)]
pub(crate) struct ExportSigstoreArgs {
    /// Sign with this key: a key name (as given to `trust key generate` or `trust key load`),
    /// a signer name or a key ID. Without it, the one key held here that signed the tag.
    #[arg(long = "key", value_name = "NAME")]
    pub(crate) key: Option<String>,
    /// The image, with the tag to export (without: every signed tag).
    #[arg(value_name = "IMAGE[:TAG]")]
    pub(crate) image: String,
}

/// `trust key export-public`.
#[derive(Debug, Args)]
pub(crate) struct ExportPublicArgs {
    /// Write the PEM to this file instead of standard output.
    #[arg(short = 'o', long = "output-file", value_name = "FILE")]
    pub(crate) output_file: Option<PathBuf>,
    /// The key name (as given to `trust key generate` or `trust key load`) or key ID.
    #[arg(value_name = "NAME")]
    pub(crate) name: String,
}

fn out_err(e: std::io::Error) -> CliError {
    CliError::stdio("write output")(e)
}

/// Writes a cosign signature for each signed tag of `image` (or its tag) to `registry`.
pub(crate) fn export_sigstore(
    ctx: &mut Context,
    args: &ExportSigstoreArgs,
    image: &ImageReference,
    registry: &RegistryClient,
) -> Result<()> {
    let mut repo = ctx.image_repository(image, Access::Pull)?;
    let options = ExportOptions {
        key: args.key.clone(),
    };
    let report = ctx
        .block_on(sigstore::export(&mut repo, registry, image, &options))?
        .map_err(trust_err)?;
    let mut tags = Vec::new();
    for exported in &report.exported {
        let what = if exported.written.is_some() {
            "Signed"
        } else {
            "Already signed"
        };
        ctx.out
            .line(&format!(
                "{what} {}:{} ({}) as {} with key {} ({})",
                image.name(),
                exported.tag,
                exported.digest,
                exported.signature,
                exported.key_name,
                exported.key_id
            ))
            .map_err(out_err)?;
        tags.push(serde_json::json!({
            "tag": exported.tag,
            "digest": exported.digest.to_string(),
            "signature": exported.signature,
            "key_id": exported.key_id,
            "key_name": exported.key_name,
            "role": exported.role,
            "written": exported.written.is_some(),
            "signature_manifest": exported.written.as_ref().map(ToString::to_string),
        }));
    }
    let mut failed = Vec::new();
    for failure in report.failed {
        let error = trust_err(failure.error);
        eprintln!("tag {}: {}", failure.tag, error.message());
        if let Some(hint) = error.hint() {
            eprintln!("hint: {hint}");
        }
        failed.push(serde_json::json!({
            "tag": failure.tag,
            "error": error.message(),
        }));
    }
    ctx.out
        .json(&serde_json::json!({
            "name": image.name(),
            "exported": tags,
            "failed": failed,
        }))
        .map_err(out_err)?;
    if failed.is_empty() {
        Ok(())
    } else {
        let names: Vec<&str> = failed.iter().filter_map(|f| f["tag"].as_str()).collect();
        Err(CliError::TrustReported {
            message: format!(
                "failed to export the signatures of {}: {}",
                image.name(),
                names.join(", ")
            ),
        })
    }
}

/// Prints (or writes) the `PUBLIC KEY` PEM of a signer key, as `cosign verify --key` takes it.
pub(crate) fn export_public(ctx: &mut Context, args: &ExportPublicArgs) -> Result<()> {
    let crypto = ctx.crypto_service()?;
    let (info, pem) = sigstore::key::export_public_key(&crypto, &args.name).map_err(trust_err)?;
    match &args.output_file {
        Some(path) => {
            files::write_private(path, pem.as_bytes())?;
            ctx.out
                .line(&format!(
                    "Wrote the public key {} of {} to {}",
                    info.key_id,
                    args.name,
                    path.display()
                ))
                .map_err(out_err)?;
        }
        None => ctx.out.text(&pem).map_err(out_err)?,
    }
    ctx.out
        .json(&serde_json::json!({
            "name": args.name,
            "key_id": info.key_id.to_string(),
            "public_key": pem,
            "file": args.output_file,
        }))
        .map_err(out_err)
}
