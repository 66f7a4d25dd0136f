//! `key compromised GUN`: the guided recovery from leaked keys — plan, show, confirm, then
//! one publish ([`Repository::recover_from_leak`]) and the quarantine of the leaked keys.

use clap::Args;
use serde_json::{Value, json};
use signet_client::Repository;
use signet_client::remote::Access;
use signet_client::repository::{
    DelegationRepair, KeyDisposal, OrphanedTarget, PlannedRotation, RecoveryOptions, RecoveryPlan,
    RecoveryReport, RoleVersions,
};
use signet_signer::KeyStore as _;
use signet_tuf::KeyId;
use signet_tuf::key::PublicKey;

use crate::context::Context;
use crate::error::{CliError, Result};
use crate::options::key_id_argument;
use crate::progress::Activity;
use crate::terminal;

const USAGE: &str = "signet key compromised [OPTIONS] <GUN> (--key-id <KEY ID>... | --all-local)";

/// What clients see after a recovery.
const CLIENTS: &str = "clients that trust the old root accept the new root, which the old root \
                       key signs too; uploads signed with the leaked keys are refused from now on";

/// `key compromised`.
#[derive(Debug, Args)]
pub(crate) struct KeyCompromisedArgs {
    /// Globally Unique Name of the trusted collection.
    #[arg(value_name = "GUN")]
    pub(crate) gun: Option<String>,
    /// A leaked key (64-character key ID, as 'signet key list' or 'signet delegation list'
    /// show it); repeat or separate with commas for several.
    #[arg(long = "key-id", value_name = "KEY ID", value_delimiter = ',')]
    pub(crate) key_ids: Vec<String>,
    /// The whole trust directory leaked: every key it holds that the repository trusts.
    #[arg(long = "all-local")]
    pub(crate) all_local: bool,
    /// Only print the plan; change nothing.
    #[arg(long = "dry-run")]
    pub(crate) dry_run: bool,
    /// Carry out the plan without asking for confirmation. Whether the targets only leaked
    /// keys signed stay trusted is never assumed: without a terminal, --resign must say it.
    #[arg(short = 'y', long = "yes")]
    pub(crate) yes: bool,
    /// Whether the targets that only leaked keys signed are re-signed with the keys still
    /// trusted (they stay trusted) or not (no longer trusted).
    #[arg(long = "resign", value_name = "ask|yes|no", value_parser = ["ask", "yes", "no"], default_value = "ask")]
    pub(crate) resign: String,
    /// Give a rotated snapshot key to the server (a snapshot key the server holds stays there).
    #[arg(short = 'r', long = "server-managed-snapshot")]
    pub(crate) server_managed_snapshot: bool,
    /// Also ask the server for a new timestamp key.
    #[arg(long = "timestamp")]
    pub(crate) timestamp: bool,
}

/// `key compromised GUN (--key-id ID... | --all-local) [--dry-run] [-y] [--resign ask|yes|no]`.
pub(crate) fn run(ctx: &mut Context, args: &KeyCompromisedArgs) -> Result<()> {
    let Some(gun) = &args.gun else {
        return Err(CliError::Arguments {
            message: "Must specify a GUN",
            usage: USAGE,
        });
    };
    if args.key_ids.is_empty() && !args.all_local {
        return Err(CliError::Arguments {
            message: "Must name the leaked keys with --key-id, or use --all-local",
            usage: USAGE,
        });
    }
    let mut given = args
        .key_ids
        .iter()
        .map(|id| key_id_argument(id))
        .collect::<Result<Vec<KeyId>>>()?;
    let gun = ctx.gun(gun)?;
    let options = RecoveryOptions {
        server_managed_snapshot: args.server_managed_snapshot,
        rotate_timestamp: args.timestamp,
    };
    let runtime = Context::runtime()?;
    let activity = Activity::start(&format!("Planning the recovery of {gun}"));
    let planned: Result<(Repository, RecoveryPlan)> = runtime.block_on(async {
        let mut repository = ctx.repository(gun.clone(), Access::Admin).await?;
        if args.all_local {
            let warnings = repository.update().await?;
            ctx.warn_all(&warnings);
            let held: Vec<KeyId> = ctx
                .key_store()?
                .list_keys()?
                .into_iter()
                .map(|k| k.key_id)
                .collect();
            for id in repository.trusted_among(&held)? {
                if !given.contains(&id) {
                    given.push(id);
                }
            }
        }
        let (plan, warnings) = repository.plan_recovery(&given, &options).await?;
        if !args.all_local {
            ctx.warn_all(&warnings);
        }
        Ok((repository, plan))
    });
    activity.finish();
    let (mut repository, mut plan) = planned?;

    let json_output = ctx.out.is_json();
    // `--yes` confirms the plan, not the targets an attacker may have signed with a leaked
    // key: whether they stay trusted is asked, or given with `--resign`.
    let resign_choice = args.resign.as_str();
    if args.dry_run {
        ctx.out
            .text(&plan_text(&plan, resign_choice))
            .map_err(CliError::stdio("write output"))?;
        return ctx
            .out
            .json(&json!({
                "gun": gun.as_str(),
                "dry_run": true,
                "plan": plan_json(&plan),
            }))
            .map_err(CliError::stdio("write output"));
    }
    ctx.out
        .text(&plan_text(&plan, resign_choice))
        .map_err(CliError::stdio("write output"))?;
    if !plan.orphaned.is_empty() {
        plan.resign_orphans = match resign_choice {
            "yes" => true,
            "no" => false,
            _ if terminal::stdin_is_terminal() => {
                let question = format!(
                    "Re-sign the {} target(s) above with the keys still trusted, so that they \
                     stay trusted? Answer no if you do not know who signed them.  (yes/no)  ",
                    plan.orphaned.len()
                );
                ask(&question, json_output)?
            }
            _ => {
                return Err(CliError::ResignUndecided {
                    gun: gun.to_string(),
                    count: plan.orphaned.len(),
                });
            }
        };
    }
    let question = format!(
        "Carry out this recovery of {gun} now, in one publish? (Run with --dry-run to only see \
         the plan.)  (yes/no)  "
    );
    terminal::confirm_or_abort(&question, args.yes, json_output)?;

    let activity = Activity::start(&format!("Recovering {gun}"));
    let result = runtime.block_on(repository.recover_from_leak(&plan));
    activity.finish();
    let report = result?;
    ctx.warn_all(&report.publish.warnings);
    if let Some(reason) = &report.manifest_error {
        ctx.warn(&format!(
            "could not write the manifest of the quarantine folder: {reason}"
        ));
    }
    ctx.out
        .text(&report_text(&plan, &report))
        .map_err(CliError::stdio("write output"))?;
    ctx.out
        .json(&report_json(&plan, &report))
        .map_err(CliError::stdio("write output"))
}

/// Asks `question` on the terminal: on standard output, or on standard error with JSON output.
fn ask(question: &str, json_output: bool) -> Result<bool> {
    let answer = if json_output {
        terminal::confirm(question, &mut std::io::stderr())
    } else {
        terminal::confirm(question, &mut std::io::stdout())
    };
    answer.map_err(CliError::stdio("read the answer"))
}

/// The key ID `key list` shows for `key` (for a root key, its public key's, not its
/// certificate's).
fn canonical(key: &PublicKey) -> String {
    key.canonical_key_id()
        .unwrap_or_else(|_| key.key_id())
        .to_string()
}

fn versions_json(versions: &RoleVersions) -> Value {
    json!({
        "root": versions.root,
        "targets": versions.targets,
        "snapshot": versions.snapshot,
    })
}

/// What happens to the role that trusts a leaked key.
fn role_action(plan: &RecoveryPlan, role_name: &str) -> String {
    if let Some(rotation) = plan.rotations.iter().find(|r| r.role == role_name) {
        return if rotation.server_managed {
            format!("{role_name}: key replaced by a new key held by the server")
        } else {
            format!("{role_name}: key replaced by a new local key")
        };
    }
    if let Some(repair) = plan.delegations.iter().find(|r| r.role == role_name) {
        return if repair.removed {
            format!("{role_name}: delegation removed (no key left)")
        } else {
            format!("{role_name}: key removed from the delegation")
        };
    }
    format!("{role_name}: removed with the delegation above it")
}

fn rotation_json(rotation: &PlannedRotation) -> Value {
    json!({
        "role": rotation.role,
        "old_key_ids": rotation.old_keys.iter().map(KeyId::as_str).collect::<Vec<_>>(),
        "server_managed": rotation.server_managed,
    })
}

fn delegation_json(repair: &DelegationRepair) -> Value {
    json!({
        "role": repair.role,
        "parent": repair.parent,
        "removed_key_ids": repair.removed_keys.iter().map(KeyId::as_str).collect::<Vec<_>>(),
        "remaining_key_ids": repair.remaining_keys.iter().map(KeyId::as_str).collect::<Vec<_>>(),
        "threshold": repair.threshold,
        "new_threshold": repair.new_threshold,
        "removed": repair.removed,
        "resigned": repair.resigned,
    })
}

fn orphan_json(orphan: &OrphanedTarget) -> Value {
    json!({ "name": orphan.name, "role": orphan.role, "into": orphan.into })
}

fn plan_json(plan: &RecoveryPlan) -> Value {
    json!({
        "versions": versions_json(&plan.versions),
        "leaked": plan.leaked.iter().map(|k| json!({
            "key_id": k.key_id.as_str(),
            "roles": k.roles,
            "actions": k.roles.iter().map(|r| role_action(plan, r)).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "rotations": plan.rotations.iter().map(rotation_json).collect::<Vec<_>>(),
        "delegations": plan.delegations.iter().map(delegation_json).collect::<Vec<_>>(),
        "orphaned_targets": plan.orphaned.iter().map(orphan_json).collect::<Vec<_>>(),
    })
}

/// The plan in words. `resign` is the `--resign` choice, for the orphaned targets.
fn plan_text(plan: &RecoveryPlan, resign: &str) -> String {
    let mut out = format!(
        "Recovery plan for {} (root version {}, targets version {}, snapshot version {}):\n",
        plan.gun, plan.versions.root, plan.versions.targets, plan.versions.snapshot
    );
    out.push_str("\nLeaked keys:\n");
    for key in &plan.leaked {
        out.push_str(&format!("  {}\n", key.key_id));
        for role_name in &key.roles {
            out.push_str(&format!("      {}\n", role_action(plan, role_name)));
        }
    }
    if !plan.rotations.is_empty() {
        out.push_str("\nRoles that get a new key (listed in a new root):\n");
        for rotation in &plan.rotations {
            let old: Vec<&str> = rotation.old_keys.iter().map(KeyId::as_str).collect();
            out.push_str(&format!(
                "  {:<10} old key {}  ->  {}\n",
                rotation.role,
                old.join(", "),
                if rotation.server_managed {
                    "a new key held by the server"
                } else {
                    "a new key in this trust directory"
                }
            ));
        }
        if plan.rotations.iter().any(|r| r.role == "root") {
            out.push_str(
                "  The new root is signed by the old and the new root keys, so that clients \
                 that trust the old root accept it.\n",
            );
        }
    }
    if !plan.delegations.is_empty() {
        out.push_str("\nDelegations that list a leaked key:\n");
        for repair in &plan.delegations {
            let what = if repair.removed {
                "removed with everything below it (no key left)".to_owned()
            } else {
                let mut text = format!(
                    "loses {} key(s), keeps {} (threshold {} -> {})",
                    repair.removed_keys.len(),
                    repair.remaining_keys.len(),
                    repair.threshold,
                    repair.new_threshold
                );
                text.push_str(if repair.resigned {
                    ", re-signed with a key held here"
                } else {
                    "; not re-signed here: no key it keeps is held here"
                });
                text
            };
            out.push_str(&format!(
                "  {}  (listed by {}): {what}\n",
                repair.role, repair.parent
            ));
        }
    }
    if !plan.orphaned.is_empty() {
        let fate = match resign {
            "yes" => "re-signed by",
            "no" => "no longer trusted; would go to",
            _ => "you will be asked whether to re-sign them in",
        };
        out.push_str("\nTargets only the leaked keys signed:\n");
        for orphan in &plan.orphaned {
            out.push_str(&format!(
                "  {}  (in {}): {fate} {}\n",
                orphan.name, orphan.role, orphan.into
            ));
        }
    }
    out.push_str(&format!(
        "\nEverything above is published in one upload; then the leaked private keys held here \
         are moved to {}/<UTC time>/.\n",
        signet_client::repository::QUARANTINE_DIR
    ));
    out
}

fn disposal_json(id: &KeyId, disposal: &KeyDisposal) -> Value {
    match disposal {
        KeyDisposal::Quarantined(path) => {
            json!({ "key_id": id.as_str(), "disposal": "quarantined", "path": path })
        }
        KeyDisposal::StillInStore { store } => json!({
            "key_id": id.as_str(),
            "disposal": "still_in_store",
            "store": store,
            "delete_with": format!("signet key remove {id}"),
        }),
        KeyDisposal::NotHeld => json!({ "key_id": id.as_str(), "disposal": "not_held" }),
        KeyDisposal::Failed { reason } => {
            json!({ "key_id": id.as_str(), "disposal": "failed", "reason": reason })
        }
    }
}

fn disposal_text(id: &KeyId, disposal: &KeyDisposal) -> String {
    match disposal {
        KeyDisposal::Quarantined(path) => format!("{id}: moved to {}", path.display()),
        KeyDisposal::StillInStore { store } => {
            format!("{id}: still held by {store}; delete it with 'signet key remove {id}'")
        }
        KeyDisposal::NotHeld => format!("{id}: not held here"),
        KeyDisposal::Failed { reason } => {
            format!("{id}: could not be moved ({reason}); move or delete it yourself")
        }
    }
}

fn report_json(plan: &RecoveryPlan, report: &RecoveryReport) -> Value {
    let resigned: Vec<&str> = if plan.resign_orphans {
        plan.orphaned.iter().map(|o| o.name.as_str()).collect()
    } else {
        Vec::new()
    };
    json!({
        "gun": plan.gun,
        "dry_run": false,
        "recovered": true,
        "plan": plan_json(plan),
        "rotated": report.rotated.iter().map(|r| json!({
            "role": r.role,
            "old_key_ids": r.old_keys.iter().map(KeyId::as_str).collect::<Vec<_>>(),
            "new_key_ids": r.new_keys.iter().map(canonical).collect::<Vec<_>>(),
            "server_managed": r.server_managed,
        })).collect::<Vec<_>>(),
        "versions_before": versions_json(&plan.versions),
        "versions_after": report.versions.as_ref().map(versions_json),
        "published_roles": report.publish.roles,
        "resigned_targets": resigned,
        "untrusted_targets": plan.untrusted_targets().iter().map(|o| o.name.as_str()).collect::<Vec<_>>(),
        "quarantine": report.quarantine,
        "keys": report.disposals.iter().map(|(id, d)| disposal_json(id, d)).collect::<Vec<_>>(),
        "clients": CLIENTS,
    })
}

fn report_text(plan: &RecoveryPlan, report: &RecoveryReport) -> String {
    let mut out = format!(
        "\nRecovered {} from the leak of {} key(s) in one publish ({}).\n",
        plan.gun,
        plan.leaked.len(),
        report.publish.roles.join(", ")
    );
    for rotated in &report.rotated {
        let old: Vec<&str> = rotated.old_keys.iter().map(KeyId::as_str).collect();
        let new: Vec<String> = rotated.new_keys.iter().map(canonical).collect();
        out.push_str(&format!(
            "  {:<10} {}  ->  {}{}\n",
            rotated.role,
            old.join(", "),
            new.join(", "),
            if rotated.server_managed {
                " (held by the server)"
            } else {
                ""
            }
        ));
    }
    if let Some(v) = &report.versions {
        out.push_str(&format!(
            "New versions: root {}, targets {}, snapshot {}\n",
            v.root, v.targets, v.snapshot
        ));
    }
    if plan.resign_orphans && !plan.orphaned.is_empty() {
        out.push_str("Re-signed targets (still trusted):\n");
        for orphan in &plan.orphaned {
            out.push_str(&format!("  {} (by {})\n", orphan.name, orphan.into));
        }
    }
    if !plan.untrusted_targets().is_empty() {
        out.push_str("Targets that will no longer be trusted:\n");
        for orphan in plan.untrusted_targets() {
            out.push_str(&format!("  {} (was in {})\n", orphan.name, orphan.role));
        }
    }
    for repair in plan
        .delegations
        .iter()
        .filter(|r| !r.removed && !r.resigned)
    {
        out.push_str(&format!(
            "{} must be re-signed by a holder of one of its keys ({}): 'signet witness {} {}' \
             then 'signet publish {}'\n",
            repair.role,
            repair
                .remaining_keys
                .iter()
                .map(KeyId::as_str)
                .collect::<Vec<_>>()
                .join(", "),
            plan.gun,
            repair.role,
            plan.gun
        ));
    }
    out.push_str("Leaked private keys:\n");
    for (id, disposal) in &report.disposals {
        out.push_str(&format!("  {}\n", disposal_text(id, disposal)));
    }
    out.push_str(&format!("What clients see: {CLIENTS}.\n"));
    out
}
