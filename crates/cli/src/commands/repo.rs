//! Repository commands: `init`, `publish`, `list`, `lookup`, `verify`, `delete`, and the
//! `-p/--publish` of staging commands.

use signet_client::Gun;
use signet_client::remote::Access;

use crate::args::{DeleteArgs, GunArgs, InitArgs, ListArgs, LookupArgs, VerifyArgs};
use crate::context::Context;
use crate::error::{CliError, Result};

/// What the online commands wait for in the client library.
const NEEDS_REPOSITORY: &str = "the client library has no Repository (update, initialize, \
                                publish) yet";

/// Publishes the staged changes of `gun` after a staging command when `-p` was given.
pub(crate) fn maybe_publish(ctx: &mut Context, gun: &Gun, publish: bool) -> Result<()> {
    if !publish {
        return Ok(());
    }
    ctx.out
        .line(&format!("Auto-publishing changes to {gun}"))
        .map_err(CliError::stdio("write output"))?;
    Err(CliError::NotAvailable {
        command: "publish",
        missing: NEEDS_REPOSITORY,
    })
}

/// `init GUN [--rootkey FILE] [--rootcert FILE] [-p]`.
pub(crate) fn init(_ctx: &mut Context, args: &InitArgs) -> Result<()> {
    if args.gun.is_none() {
        return Err(CliError::Arguments {
            message: "Must specify a GUN",
            usage: "signet init [OPTIONS] <GUN>",
        });
    }
    Err(CliError::NotAvailable {
        command: "init",
        missing: NEEDS_REPOSITORY,
    })
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
    Err(CliError::NotAvailable {
        command: "publish",
        missing: NEEDS_REPOSITORY,
    })
}

/// `list GUN [-r roles]`.
pub(crate) fn list(_ctx: &mut Context, args: &ListArgs) -> Result<()> {
    if args.gun.is_none() {
        return Err(CliError::Arguments {
            message: "Must specify a GUN",
            usage: "signet list [OPTIONS] <GUN>",
        });
    }
    Err(CliError::NotAvailable {
        command: "list",
        missing: NEEDS_REPOSITORY,
    })
}

/// `lookup GUN TARGET`.
pub(crate) fn lookup(_ctx: &mut Context, args: &LookupArgs) -> Result<()> {
    if args.gun.is_none() || args.target.is_none() {
        return Err(CliError::Arguments {
            message: "Must specify a GUN and target",
            usage: "signet lookup [OPTIONS] <GUN> <TARGET>",
        });
    }
    Err(CliError::NotAvailable {
        command: "lookup",
        missing: NEEDS_REPOSITORY,
    })
}

/// `verify GUN TARGET [-i FILE] [-o FILE] [-q]`.
pub(crate) fn verify(_ctx: &mut Context, args: &VerifyArgs) -> Result<()> {
    if args.gun.is_none() || args.target.is_none() {
        return Err(CliError::Arguments {
            message: "Must specify a GUN and target",
            usage: "signet verify [OPTIONS] <GUN> <TARGET>",
        });
    }
    Err(CliError::NotAvailable {
        command: "verify",
        missing: NEEDS_REPOSITORY,
    })
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
        .json(&serde_json::json!({
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
