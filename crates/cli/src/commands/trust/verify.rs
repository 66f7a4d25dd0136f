//! `trust verify [--policy FILE] [--platform os/arch[/variant]] IMAGE…`: the pull-time check of
//! a signed tag (`signet_client::trust::ops::verify`), or, with `--policy`, the decision of a
//! trust policy about each image (`signet_client::policy`).
//!
//! Without a policy the trust server, its TLS and the trust dir's pinning are docker's (see
//! [`super`]). Under a policy each rule names its trust server, TLS CA and pinned root;
//! the trust dir's cache and pinning are not used, and docker's configuration only supplies the
//! registry's credentials and TLS files (and the trust server's TLS files when a rule names no
//! CA).

use std::path::PathBuf;

use clap::Args;
use signet_client::policy::{Decision, Evaluator, Policy, SignerState, Verdict};
use signet_client::registry::{ImageReference, Platform, RegistryOptions};
use signet_client::remote::Access;
use signet_client::trust::ops;

use super::{out_err, parse_image, registry};
use crate::context::{Context, trust_err};
use crate::error::{CliError, Result};

/// `trust verify`.
#[derive(Debug, Args)]
pub(crate) struct VerifyArgs {
    /// Decide with this trust policy (TOML; see docs/trust-policy.md) instead of docker's
    /// rules: per image, the rule that matched, who signed which digest, and the decision.
    #[arg(long = "policy", value_name = "FILE")]
    pub(crate) policy: Option<PathBuf>,
    /// Resolve a signed multi-platform index (or manifest list) to the manifest of this
    /// platform, and print that manifest's pinned reference.
    #[arg(long = "platform", value_name = "OS/ARCH[/VARIANT]")]
    pub(crate) platform: Option<String>,
    /// The images (one without --policy).
    #[arg(value_name = "IMAGE[:TAG]", required = true)]
    pub(crate) images: Vec<String>,
}

/// The usage line of `trust verify`.
const USAGE: &str =
    "signet trust verify [--policy FILE] [--platform OS/ARCH[/VARIANT]] IMAGE[:TAG]...";

/// Runs `trust verify`.
pub(crate) fn run(ctx: &mut Context, args: &VerifyArgs) -> Result<()> {
    let platform = args
        .platform
        .as_deref()
        .map(Platform::parse)
        .transpose()
        .map_err(trust_err)?;
    match &args.policy {
        Some(path) => verify_with_policy(ctx, path, &args.images, platform.as_ref()),
        None => match args.images.as_slice() {
            [image] => verify(ctx, image, platform.as_ref()),
            _ => Err(CliError::Arguments {
                message: "trust verify checks one image at a time without --policy",
                usage: USAGE,
            }),
        },
    }
}

fn verify(ctx: &mut Context, name: &str, platform: Option<&Platform>) -> Result<()> {
    let image = parse_image(name)?;
    if image.digest().is_some() {
        return Err(trust_err(
            signet_client::error::TrustError::DigestReference {
                reference: name.to_owned(),
            },
        ));
    }
    let mut repo = ctx.image_repository(&image, Access::Pull)?;
    let registry = registry(ctx, &image)?;
    let verified = ctx
        .block_on(ops::verify(&mut repo, &registry, &image))?
        .map_err(trust_err)?;
    let picked = match platform {
        Some(platform) => Some(
            ctx.block_on(registry.resolve_platform(&image, &verified.digest, platform))?
                .map_err(trust_err)?,
        ),
        None => None,
    };
    let reference = match &picked {
        Some(picked) => format!("{}@{}", verified.name, picked.manifest.digest),
        None => verified.pinned(),
    };
    ctx.out.line(&reference).map_err(out_err)?;
    ctx.out
        .json(&serde_json::json!({
            "reference": reference,
            "name": verified.name,
            "tag": verified.tag,
            "digest": verified.digest.to_string(),
            "size": verified.size,
            "role": verified.role,
            "platform": picked.as_ref().map(|p| p.platform.to_string()),
            "platform_digest": picked.as_ref().map(|p| p.manifest.digest.to_string()),
        }))
        .map_err(out_err)
}

fn verify_with_policy(
    ctx: &mut Context,
    path: &std::path::Path,
    names: &[String],
    platform: Option<&Platform>,
) -> Result<()> {
    let policy = Policy::load(path, chrono::Utc::now()).map_err(trust_err)?;
    let images = names
        .iter()
        .map(|name| parse_image(name))
        .collect::<Result<Vec<ImageReference>>>()?;
    let options = RegistryOptions::from_docker_config_dir(ctx.docker_dir()).map_err(trust_err)?;
    let evaluator = Evaluator::new(options).with_docker_config_dir(ctx.docker_dir());
    let mut decisions = Vec::new();
    for image in &images {
        let decision = ctx.block_on(evaluator.evaluate(&policy, image, platform))?;
        ctx.out.text(&describe(&decision)).map_err(out_err)?;
        decisions.push(decision);
    }
    ctx.out
        .json(&serde_json::json!({
            "policy": policy.path(),
            "decisions": decisions,
        }))
        .map_err(out_err)?;
    let denied: Vec<&str> = decisions
        .iter()
        .filter(|d| !d.allowed())
        .map(|d| d.image.as_str())
        .collect();
    if denied.is_empty() {
        Ok(())
    } else {
        Err(CliError::PolicyDenied {
            message: format!(
                "denied by trust policy {}: {}",
                path.display(),
                denied.join(", ")
            ),
        })
    }
}

/// The text report of one decision.
fn describe(decision: &Decision) -> String {
    let verdict = match decision.verdict {
        Verdict::Allow => "allowed",
        Verdict::Deny => "DENIED",
        Verdict::AuditDeny => "denied (audit only: allowed)",
    };
    let mut out = match &decision.rule {
        Some(rule) => format!(
            "{}: {verdict} by rule {} ({}, {})\n",
            decision.image,
            rule.number,
            rule.image,
            rule.mode.as_str()
        ),
        None => format!("{}: {verdict}\n", decision.image),
    };
    if let Some(reference) = &decision.reference {
        out.push_str(&format!("  reference: {reference}\n"));
    }
    if let Some(digest) = &decision.signed_digest {
        out.push_str(&format!("  signed digest: {digest}\n"));
    }
    if let (Some(platform), Some(digest)) = (&decision.platform, &decision.platform_digest) {
        out.push_str(&format!("  {platform}: {digest}\n"));
    }
    for signer in &decision.signers {
        let state = match signer.state {
            SignerState::Valid if signer.signed.is_empty() => "signed nothing looked at".to_owned(),
            SignerState::Valid => signer
                .signed
                .iter()
                .map(|(tag, digest)| format!("{tag} -> {digest}"))
                .collect::<Vec<_>>()
                .join(", "),
            SignerState::NoRole => "no such role".to_owned(),
            SignerState::KeysNotPinned => format!(
                "not signed with its pinned keys (signed with {})",
                if signer.signed_with.is_empty() {
                    "none".to_owned()
                } else {
                    signer.signed_with.join(", ")
                }
            ),
        };
        out.push_str(&format!("  signer {}: {state}\n", signer.role));
    }
    for denial in &decision.denials {
        out.push_str(&format!("  denied: {denial}\n"));
    }
    out
}
