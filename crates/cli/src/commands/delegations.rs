//! `delegation list | add | remove | purge`.

use crate::options::GunArgs;
use clap::{Args, Subcommand};
use std::path::PathBuf;

use signet_client::Gun;
use signet_client::changelist::{
    Action, Change, DelegationChange, FileChangelist, SCOPE_ALL_DELEGATIONS,
};
use signet_client::delegation_keys;
use signet_tuf::role;

use crate::commands::repo;
use crate::context::Context;
use crate::error::{CliError, Result};
use crate::output::Table;
use crate::terminal;

/// `delegation ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum DelegationCommand {
    /// Add a keys to delegation using the provided public key X509 certificates.
    #[command(
        long_about = "Add keys to a delegation using the provided public key PEM encoded X509 \
                      certificates or public keys in a specific Global Unique Name.",
        override_usage = "signet delegation add [OPTIONS] <GUN> <ROLE> [PEMFILE]..."
    )]
    Add(DelegationAddArgs),

    /// Lists delegations for the Global Unique Name.
    #[command(
        long_about = "Lists all delegations known to signet for a specific Global Unique Name.",
        override_usage = "signet delegation list [OPTIONS] <GUN>"
    )]
    List(GunArgs),

    /// Remove KeyID(s) from all delegation roles in the given GUN.
    #[command(
        long_about = "Remove KeyID(s) from all delegation roles in the given GUN, for which the \
                      signing keys are available. Warnings will be printed for delegations that \
                      cannot be updated.",
        override_usage = "signet delegation purge [OPTIONS] <GUN> --key <KEY IDS>"
    )]
    Purge(DelegationPurgeArgs),

    /// Remove KeyID(s) from the specified Role delegation.
    #[command(
        long_about = "Remove KeyID(s) from the specified Role delegation in a specific Global \
                      Unique Name.",
        override_usage = "signet delegation remove [OPTIONS] <GUN> <ROLE> [KEY ID]..."
    )]
    Remove(DelegationRemoveArgs),
}

/// `delegation add`.
#[derive(Debug, Args)]
pub(crate) struct DelegationAddArgs {
    /// Globally Unique Name of the trusted collection.
    #[arg(value_name = "GUN")]
    pub(crate) gun: Option<String>,
    /// Delegation role (`targets/<name>`).
    #[arg(value_name = "ROLE")]
    pub(crate) role: Option<String>,
    /// PEM files holding a certificate or a public key.
    #[arg(value_name = "PEMFILE")]
    pub(crate) key_files: Vec<PathBuf>,
    /// List of paths to add.
    #[arg(long = "paths", value_name = "PATHS", value_delimiter = ',')]
    pub(crate) paths: Option<Vec<String>>,
    /// Add all paths to this delegation.
    #[arg(long = "all-paths")]
    pub(crate) all_paths: bool,
    /// Automatically attempt to publish after staging the change. Will also publish existing
    /// staged changes.
    #[arg(short = 'p', long = "publish")]
    pub(crate) publish: bool,
}

/// `delegation remove`.
#[derive(Debug, Args)]
pub(crate) struct DelegationRemoveArgs {
    /// Globally Unique Name of the trusted collection.
    #[arg(value_name = "GUN")]
    pub(crate) gun: Option<String>,
    /// Delegation role (`targets/<name>`).
    #[arg(value_name = "ROLE")]
    pub(crate) role: Option<String>,
    /// Key IDs to remove from the role.
    #[arg(value_name = "KEY ID")]
    pub(crate) key_ids: Vec<String>,
    /// List of paths to remove.
    #[arg(long = "paths", value_name = "PATHS", value_delimiter = ',')]
    pub(crate) paths: Option<Vec<String>>,
    /// Remove all paths from this delegation.
    #[arg(long = "all-paths")]
    pub(crate) all_paths: bool,
    /// Answer yes to the removal question (no confirmation).
    #[arg(short = 'y', long = "yes")]
    pub(crate) yes: bool,
    /// Automatically attempt to publish after staging the change. Will also publish existing
    /// staged changes.
    #[arg(short = 'p', long = "publish")]
    pub(crate) publish: bool,
}

/// `delegation purge`.
#[derive(Debug, Args)]
pub(crate) struct DelegationPurgeArgs {
    /// Globally Unique Name of the trusted collection.
    #[arg(value_name = "GUN")]
    pub(crate) gun: Vec<String>,
    /// Delegation key IDs to be removed from the GUN.
    #[arg(long = "key", value_name = "KEY IDS", value_delimiter = ',')]
    pub(crate) key: Vec<String>,
    /// Automatically attempt to publish after staging the change. Will also publish existing
    /// staged changes.
    #[arg(short = 'p', long = "publish")]
    pub(crate) publish: bool,
}

/// Runs a `delegation` subcommand.
pub(crate) fn run(ctx: &mut Context, command: DelegationCommand) -> Result<()> {
    match command {
        DelegationCommand::List(args) => list(ctx, &args),
        DelegationCommand::Add(args) => add(ctx, &args),
        DelegationCommand::Remove(args) => remove(ctx, &args),
        DelegationCommand::Purge(args) => purge(ctx, &args),
    }
}

fn list(ctx: &mut Context, args: &GunArgs) -> Result<()> {
    let Some(gun) = &args.gun else {
        return Err(CliError::Arguments {
            message: "Please provide a Global Unique Name as an argument to list",
            usage: "signet delegation list [OPTIONS] <GUN>",
        });
    };
    let gun = ctx.gun(gun)?;
    let wrap = |source: CliError| CliError::DelegationList {
        gun: gun.to_string(),
        source: Box::new(source),
    };
    let repo = repo::open_and_update(ctx, gun.clone()).map_err(wrap)?;
    let mut roles = repo.delegations().map_err(|e| wrap(CliError::from(e)))?;
    roles.sort_by(|a, b| a.name.cmp(&b.name));
    let mut listed = Vec::with_capacity(roles.len());
    for role in &roles {
        let mut key_ids = role
            .keys
            .values()
            .map(|k| k.canonical_key_id().map(|id| id.to_string()))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        key_ids.sort();
        key_ids.dedup();
        listed.push((role, key_ids));
    }
    ctx.out
        .json(&serde_json::json!({
            "gun": gun.as_str(),
            "delegations": listed
                .iter()
                .map(|(role, key_ids)| serde_json::json!({
                    "role": role.name,
                    "paths": role.paths,
                    "key_ids": key_ids,
                    "threshold": role.threshold,
                }))
                .collect::<Vec<_>>(),
        }))
        .map_err(CliError::stdio("write output"))?;
    let text = if listed.is_empty() {
        "\n\nNo delegations present in this repository.\n\n\n".to_owned()
    } else {
        let mut table = Table::new(&["ROLE", "PATHS", "KEY IDS", "THRESHOLD"]);
        for (role, key_ids) in &listed {
            let paths = pretty_paths(&role.paths);
            let rows = paths.len().max(key_ids.len()).max(1);
            let threshold = role.threshold.to_string();
            for i in 0..rows {
                let first = i == 0;
                table.row(&[
                    if first { role.name.as_str() } else { "" },
                    paths.get(i).map_or("", String::as_str),
                    key_ids.get(i).map_or("", String::as_str),
                    if first { threshold.as_str() } else { "" },
                ]);
            }
        }
        format!("\n{}\n", table.render())
    };
    ctx.out.text(&text).map_err(CliError::stdio("write output"))
}

fn changelist(ctx: &Context, gun: &Gun) -> Result<FileChangelist> {
    let repo = ctx.trust_dir().repo(gun);
    repo.create()?;
    Ok(repo.changelist())
}

fn check_delegation_name(name: &str) -> Result<()> {
    if role::is_delegation(name) {
        Ok(())
    } else {
        Err(CliError::InvalidDelegationName {
            role: name.to_owned(),
        })
    }
}

/// notary's display of paths: sorted, `""` shown as `"" <all paths>`.
pub(crate) fn pretty_paths(paths: &[String]) -> Vec<String> {
    let mut sorted = paths.to_vec();
    sorted.sort();
    sorted
        .into_iter()
        .map(|p| {
            if p.is_empty() {
                "\"\" <all paths>".to_owned()
            } else {
                p
            }
        })
        .collect()
}

/// Go's `%s` of a string slice: `[a b c]`.
fn go_list(items: &[String]) -> String {
    format!("[{}]", items.join(" "))
}

fn add(ctx: &mut Context, args: &DelegationAddArgs) -> Result<()> {
    let (Some(gun), Some(name)) = (&args.gun, &args.role) else {
        return Err(missing_add_arguments());
    };
    if args.key_files.is_empty() && args.paths.is_none() && !args.all_paths {
        return Err(missing_add_arguments());
    }
    let gun = ctx.gun(gun)?;
    let keys = args
        .key_files
        .iter()
        .map(PathBuf::as_path)
        .map(delegation_keys::read_public_key)
        .collect::<signet_client::Result<Vec<_>>>()?;
    check_delegation_name(name)?;

    let mut paths = args.paths.clone();
    let all_paths = args.all_paths
        || paths
            .as_ref()
            .is_some_and(|p| p.iter().any(String::is_empty));
    if all_paths {
        paths = Some(vec![String::new()]);
    }

    let changelist = changelist(ctx, &gun)?;
    if !keys.is_empty() {
        let change = DelegationChange {
            threshold: 1,
            add_keys: keys.clone(),
            ..DelegationChange::default()
        };
        changelist.add(&Change::delegation(Action::Create, name.as_str(), &change))?;
    }
    if let Some(paths) = paths.as_ref().filter(|p| !p.is_empty()) {
        let change = DelegationChange {
            add_paths: paths.clone(),
            ..DelegationChange::default()
        };
        changelist.add(&Change::delegation(Action::Create, name.as_str(), &change))?;
    }

    let key_ids = keys
        .iter()
        .map(|k| k.canonical_key_id().map(|id| id.to_string()))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let doc = serde_json::json!({
        "gun": gun.as_str(),
        "role": name,
        "key_ids": key_ids,
        "paths": paths.clone().unwrap_or_default(),
        "staged": true,
    });
    let mut items = String::new();
    if !key_ids.is_empty() {
        items.push_str(&format!("with keys {}, ", go_list(&key_ids)));
    }
    if let Some(paths) = &paths {
        items.push_str(&format!(
            "with paths [{}], ",
            pretty_paths(paths).join("\n")
        ));
    }
    ctx.out
        .text(&format!(
            "\nAddition of delegation role {name} {items}to repository \"{gun}\" staged for next \
             publish.\n\n"
        ))
        .map_err(CliError::stdio("write output"))?;
    let published = repo::maybe_publish(ctx, &gun, args.publish)?;
    repo::finish_staging(ctx, doc, published)
}

fn missing_add_arguments() -> CliError {
    CliError::Arguments {
        message: "must specify the Global Unique Name and the role of the delegation along with \
                  the public key certificate paths and/or a list of paths to add",
        usage: "signet delegation add [OPTIONS] <GUN> <ROLE> [PEMFILE]...",
    }
}

fn remove(ctx: &mut Context, args: &DelegationRemoveArgs) -> Result<()> {
    let (Some(gun), Some(name)) = (&args.gun, &args.role) else {
        return Err(CliError::Arguments {
            message: "must specify the Global Unique Name and the role of the delegation along \
                      with optional keyIDs and/or a list of paths to remove",
            usage: "signet delegation remove [OPTIONS] <GUN> <ROLE> [KEY ID]...",
        });
    };
    let gun = ctx.gun(gun)?;
    check_delegation_name(name)?;
    let remove_all = args.key_ids.is_empty() && args.paths.is_none() && !args.all_paths;
    let paths = if args.all_paths {
        None
    } else {
        args.paths.clone()
    };
    let changelist = changelist(ctx, &gun)?;

    if remove_all {
        let question = "\nAre you sure you want to remove all data for this delegation? (yes/no)\n";
        if args.yes {
            ctx.out
                .text(&format!("{question}Confirmed `yes` from flag\n"))
                .map_err(CliError::stdio("write output"))?;
        } else {
            terminal::confirm_or_abort(question, false, ctx.out.is_json())?;
        }
        changelist.add(&Change::remove_delegation(name.as_str()))?;
    } else {
        if args.all_paths {
            let change = DelegationChange {
                clear_paths: true,
                ..DelegationChange::default()
            };
            changelist.add(&Change::delegation(Action::Update, name.as_str(), &change))?;
        }
        if let Some(paths) = paths.as_ref().filter(|p| !p.is_empty()) {
            let change = DelegationChange {
                remove_paths: paths.clone(),
                ..DelegationChange::default()
            };
            changelist.add(&Change::delegation(Action::Update, name.as_str(), &change))?;
        }
        if !args.key_ids.is_empty() {
            let change = DelegationChange {
                remove_keys: args.key_ids.clone(),
                ..DelegationChange::default()
            };
            changelist.add(&Change::delegation(Action::Update, name.as_str(), &change))?;
        }
    }

    let doc = serde_json::json!({
        "gun": gun.as_str(),
        "role": name,
        "removed_role": remove_all,
        "key_ids": args.key_ids,
        "all_paths": args.all_paths,
        "paths": paths.clone().unwrap_or_default(),
        "staged": true,
    });
    let message = if remove_all {
        format!(
            "Forced removal (including all keys and paths) of delegation role {name} to \
             repository \"{gun}\" staged for next publish."
        )
    } else {
        let mut items = String::new();
        if !args.key_ids.is_empty() {
            items.push_str(&format!("with keys {}, ", go_list(&args.key_ids)));
        }
        if args.all_paths {
            items.push_str("with all paths, ");
        }
        if let Some(paths) = &paths {
            items.push_str(&format!(
                "with paths [{}], ",
                pretty_paths(paths).join("\n")
            ));
        }
        format!(
            "Removal of delegation role {name} {items}to repository \"{gun}\" staged for next \
             publish."
        )
    };
    ctx.out
        .text(&format!("\n{message}\n\n"))
        .map_err(CliError::stdio("write output"))?;
    let published = repo::maybe_publish(ctx, &gun, args.publish)?;
    repo::finish_staging(ctx, doc, published)
}

fn purge(ctx: &mut Context, args: &DelegationPurgeArgs) -> Result<()> {
    let [gun] = args.gun.as_slice() else {
        return Err(CliError::Arguments {
            message: "Please provide a single Global Unique Name as an argument to remove",
            usage: "signet delegation purge [OPTIONS] <GUN> --key <KEY IDS>",
        });
    };
    if args.key.is_empty() {
        return Err(CliError::Arguments {
            message: "Please provide at least one key ID to be removed using the --key flag",
            usage: "signet delegation purge [OPTIONS] <GUN> --key <KEY IDS>",
        });
    }
    let gun = ctx.gun(gun)?;
    let change = DelegationChange {
        remove_keys: args.key.clone(),
        ..DelegationChange::default()
    };
    changelist(ctx, &gun)?.add(&Change::delegation(
        Action::Update,
        SCOPE_ALL_DELEGATIONS,
        &change,
    ))?;
    let doc = serde_json::json!({
        "gun": gun.as_str(),
        "key_ids": args.key,
        "staged": true,
    });
    ctx.out
        .line(&format!(
            "Removal of the following keys from all delegations in {gun} staged for next \
             publish:\n\t- {}",
            args.key.join("\n\t- ")
        ))
        .map_err(CliError::stdio("write output"))?;
    let published = repo::maybe_publish(ctx, &gun, args.publish)?;
    repo::finish_staging(ctx, doc, published)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_shown_like_notary() {
        let paths = vec!["b".to_owned(), String::new(), "a".to_owned()];
        assert_eq!(pretty_paths(&paths), ["\"\" <all paths>", "a", "b"]);
        assert_eq!(go_list(&["x".to_owned(), "y".to_owned()]), "[x y]");
    }
}
