//! `resign GUN [--role ROLE]... [--expires DURATION]`: a signet extension (notary has no such
//! command) that pushes expiries forward by re-signing every role whose key is held, or the
//! roles named, optionally with one lifetime for all of them.

use clap::Args;
use serde_json::json;
use signet_client::remote::Access;
use signet_client::repository::Lifetime;

use crate::context::Context;
use crate::error::{CliError, Result};
use crate::output::Table;
use crate::progress::Activity;

/// `resign`.
#[derive(Debug, Args)]
pub(crate) struct ResignArgs {
    /// Globally Unique Name of the trusted collection.
    #[arg(value_name = "GUN")]
    pub(crate) gun: Option<String>,
    /// A role to re-sign (repeatable; default: every role whose key is held).
    #[arg(short = 'r', long = "role", value_name = "ROLE")]
    pub(crate) roles: Vec<String>,
    /// How long the re-signed roles stay valid, from now, instead of their defaults.
    #[arg(
        short = 'e',
        long = "expires",
        value_name = "DURATION",
        long_help = "How long the re-signed roles stay valid, from now, instead of their \
                     defaults. One value for every role re-signed on request (those given \
                     with --role, or every role whose key is held); re-sign once per role for \
                     different lifetimes. A Go duration as notary takes them (8760h, 90m, \
                     1h30m) or days, weeks, years of 365 days (30d, 52w, 10y); from one minute \
                     to 100 years. Root must get at least six months: a root closer to its \
                     expiry is re-signed by every publish. Does not apply to the timestamp \
                     or a server-managed snapshot."
    )]
    pub(crate) expires: Option<String>,
}

const USAGE: &str = "signet resign [OPTIONS] <GUN>";

/// An expiry as shown in the table and the JSON document (RFC 3339, UTC, seconds).
fn shown(at: chrono::DateTime<chrono::Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// `resign GUN [--role ROLE]... [--expires DURATION]`.
pub(crate) fn resign(ctx: &mut Context, args: &ResignArgs) -> Result<()> {
    let Some(gun) = &args.gun else {
        return Err(CliError::Arguments {
            message: "Must specify a GUN",
            usage: USAGE,
        });
    };
    let gun = ctx.gun(gun)?;
    // Checked before anything is fetched: a bad value changes nothing.
    let lifetime = args.expires.as_deref().map(Lifetime::parse).transpose()?;
    let activity = Activity::start(&format!("Re-signing trust data for {gun}"));
    let result = ctx.block_on(async {
        let mut repo = ctx.repository(gun.clone(), Access::PushPull).await?;
        Ok::<_, CliError>(repo.resign(&args.roles, lifetime.as_ref()).await?)
    });
    activity.finish();
    let report = result??;
    ctx.warn_all(&report.warnings);
    for (role, key_ids) in &report.skipped {
        ctx.info(&format!(
            "{role} was not re-signed: none of its keys is available ({})",
            key_ids.join(", ")
        ));
    }

    let mut table = Table::new(&[
        "ROLE",
        "VERSION",
        "EXPIRES BEFORE",
        "EXPIRES NOW",
        "SIGNED BY",
    ]);
    for role in &report.roles {
        table.row(&[
            role.role.clone(),
            format!("{} -> {}", role.old_version, role.new_version),
            shown(role.old_expires),
            shown(role.new_expires),
            role.signed_by.as_str().to_owned(),
        ]);
    }
    ctx.out
        .line(&format!("Re-signed trust data for {gun}"))
        .and_then(|()| ctx.out.text(&table.render()))
        .map_err(CliError::stdio("write output"))?;
    if !report.server_signed.is_empty() {
        let lifetime_note = if lifetime.is_some() {
            "; --expires does not apply to them"
        } else {
            ""
        };
        ctx.out
            .line(&format!(
                "Not re-signed here, the server holds their keys and re-signs them with its \
                 own expiry{lifetime_note}: {}",
                report.server_signed.join(", ")
            ))
            .map_err(CliError::stdio("write output"))?;
    }
    let roles: Vec<_> = report
        .roles
        .iter()
        .map(|r| {
            json!({
                "role": r.role,
                "signed_by": r.signed_by.as_str(),
                "old_version": r.old_version,
                "new_version": r.new_version,
                "old_expires": shown(r.old_expires),
                "new_expires": shown(r.new_expires),
            })
        })
        .collect();
    let skipped: Vec<_> = report
        .skipped
        .iter()
        .map(|(role, key_ids)| json!({ "role": role, "key_ids": key_ids }))
        .collect();
    ctx.out
        .json(&json!({
            "gun": gun.as_str(),
            "expires": lifetime.as_ref().map(Lifetime::as_str),
            "roles": roles,
            "skipped": skipped,
            "server_signed": report.server_signed,
        }))
        .map_err(CliError::stdio("write output"))
}
