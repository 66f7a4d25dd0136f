//! Staging commands (offline): `add`, `addhash`, `remove`, `witness`, and the changelist
//! commands `status` and `reset`.

use crate::options::GunArgs;
use clap::Args;
use std::collections::BTreeMap;
use std::path::Path;
use std::path::PathBuf;

use serde::Serialize;
use signet_client::changelist::{Change, FileChangelist, RawJson, TargetMeta};
use signet_client::remote::Access;
use signet_client::trust::signatures;
use signet_client::{Gun, targets};
use signet_tuf::role;

use crate::commands::repo;
use crate::context::{self, Context};
use crate::error::{CliError, Result};
use crate::output::Table;

/// `add`.
#[derive(Debug, Args)]
pub(crate) struct AddArgs {
    /// Globally Unique Name of the trusted collection.
    #[arg(value_name = "GUN")]
    pub(crate) gun: Option<String>,
    /// Name of the target.
    #[arg(value_name = "TARGET")]
    pub(crate) target: Option<String>,
    /// File whose length and hashes are signed.
    #[arg(value_name = "FILE")]
    pub(crate) file: Option<PathBuf>,
    /// Delegation roles to add this target to.
    #[arg(
        short = 'r',
        long = "roles",
        value_name = "ROLES",
        value_delimiter = ','
    )]
    pub(crate) roles: Vec<String>,
    /// Path to the file containing custom data for this target.
    #[arg(long = "custom", value_name = "FILE")]
    pub(crate) custom: Option<PathBuf>,
    /// Automatically attempt to publish after staging the change. Will also publish existing
    /// staged changes.
    #[arg(short = 'p', long = "publish")]
    pub(crate) publish: bool,
}

/// `addhash`.
#[derive(Debug, Args)]
pub(crate) struct AddHashArgs {
    /// Globally Unique Name of the trusted collection.
    #[arg(value_name = "GUN")]
    pub(crate) gun: Option<String>,
    /// Name of the target.
    #[arg(value_name = "TARGET")]
    pub(crate) target: Option<String>,
    /// Size of the target in bytes (decimal, 0x hex, 0o/0 octal or 0b binary).
    #[arg(value_name = "BYTE SIZE")]
    pub(crate) size: Option<String>,
    /// Delegation roles to add this target to.
    #[arg(
        short = 'r',
        long = "roles",
        value_name = "ROLES",
        value_delimiter = ','
    )]
    pub(crate) roles: Vec<String>,
    /// Hex encoded sha256 of the target to add.
    #[arg(long = "sha256", value_name = "HEX")]
    pub(crate) sha256: Option<String>,
    /// Hex encoded sha512 of the target to add.
    #[arg(long = "sha512", value_name = "HEX")]
    pub(crate) sha512: Option<String>,
    /// Path to the file containing custom data for this target.
    #[arg(long = "custom", value_name = "FILE")]
    pub(crate) custom: Option<PathBuf>,
    /// Automatically attempt to publish after staging the change. Will also publish existing
    /// staged changes.
    #[arg(short = 'p', long = "publish")]
    pub(crate) publish: bool,
}

/// `remove`.
#[derive(Debug, Args)]
pub(crate) struct RemoveArgs {
    /// Globally Unique Name of the trusted collection.
    #[arg(value_name = "GUN")]
    pub(crate) gun: Option<String>,
    /// Name of the target.
    #[arg(value_name = "TARGET")]
    pub(crate) target: Option<String>,
    /// Delegation roles to remove this target from.
    #[arg(
        short = 'r',
        long = "roles",
        value_name = "ROLES",
        value_delimiter = ','
    )]
    pub(crate) roles: Vec<String>,
    /// Automatically attempt to publish after staging the change. Will also publish existing
    /// staged changes.
    #[arg(short = 'p', long = "publish")]
    pub(crate) publish: bool,
}

/// `reset`.
#[derive(Debug, Args)]
pub(crate) struct ResetArgs {
    /// Globally Unique Name of the trusted collection.
    #[arg(value_name = "GUN")]
    pub(crate) gun: Option<String>,
    /// Numbers of specific changes to exclusively reset, as shown in status list.
    #[arg(
        short = 'n',
        long = "number",
        value_name = "NUMBERS",
        value_delimiter = ',',
        allow_negative_numbers = true
    )]
    pub(crate) number: Vec<i64>,
    /// Reset all changes shown in the status list.
    #[arg(long = "all")]
    pub(crate) all: bool,
}

/// `witness`.
#[derive(Debug, Args)]
pub(crate) struct WitnessArgs {
    /// Globally Unique Name of the trusted collection.
    #[arg(value_name = "GUN")]
    pub(crate) gun: Option<String>,
    /// Roles to re-sign.
    #[arg(value_name = "ROLE")]
    pub(crate) roles: Vec<String>,
    /// Automatically attempt to publish after staging the change. Will also publish existing
    /// staged changes.
    #[arg(short = 'p', long = "publish")]
    pub(crate) publish: bool,
}

/// The role targets are added to when `-r` is not given.
const DEFAULT_ROLE: &str = "targets";

/// Hex lengths of the digests `addhash` accepts.
const SHA256_HEX_LEN: usize = 64;
const SHA512_HEX_LEN: usize = 128;

/// Opens the changelist of `gun`, creating the collection's directories as notary does when it
/// opens a repository.
fn changelist(ctx: &Context, gun: &Gun) -> Result<FileChangelist> {
    let repo = ctx.trust_dir().repo(gun);
    repo.create()?;
    Ok(repo.changelist())
}

/// The roles a target change applies to (see [`targets::target_roles`]), refused with notary's
/// message.
fn target_roles(roles: &[String]) -> Result<Vec<String>> {
    if let Some(role) = roles.iter().find(|r| !targets::is_target_role(r)) {
        return Err(CliError::InvalidTargetRole { role: role.clone() });
    }
    Ok(targets::target_roles(roles)?)
}

/// Reads the `--custom` file: one JSON value, kept verbatim.
fn read_custom(path: Option<&Path>) -> Result<Option<RawJson>> {
    let Some(path) = path else {
        return Ok(None);
    };
    let bytes = context::read_file(path)?;
    let text = String::from_utf8(bytes).map_err(|_| CliError::InvalidCustom {
        path: path.to_owned(),
        reason: "the file is not UTF-8 text".to_owned(),
    })?;
    RawJson::parse(text)
        .map(Some)
        .map_err(|reason| CliError::InvalidCustom {
            path: path.to_owned(),
            reason,
        })
}

/// `add` and `addhash` in JSON.
#[derive(Debug, Serialize)]
struct StagedTarget<'a> {
    gun: &'a str,
    target: &'a str,
    roles: &'a [String],
    length: i64,
    hashes: BTreeMap<&'a str, String>,
    custom: Option<serde_json::Value>,
}

impl<'a> StagedTarget<'a> {
    fn new(gun: &'a Gun, target: &'a str, roles: &'a [String], meta: &'a TargetMeta) -> Self {
        Self {
            gun: gun.as_str(),
            target,
            roles,
            length: meta.length,
            hashes: meta
                .hashes
                .iter()
                .map(|(alg, digest)| (alg.as_str(), hex::encode(digest)))
                .collect(),
            custom: meta
                .custom
                .as_ref()
                .and_then(|c| serde_json::from_str(c.as_str()).ok()),
        }
    }
}

fn stage_target(
    ctx: &Context,
    gun: &Gun,
    target: &str,
    roles: &[String],
    meta: &TargetMeta,
) -> Result<()> {
    let changelist = changelist(ctx, gun)?;
    let changes = targets::add_target_changes(target, &target_roles(roles)?, meta)?;
    for change in &changes {
        changelist.add(change)?;
    }
    Ok(())
}

/// `add GUN TARGET FILE [-r roles] [--custom FILE] [-p]`.
pub(crate) fn add(ctx: &mut Context, args: &AddArgs) -> Result<()> {
    let (Some(gun), Some(target), Some(file)) = (&args.gun, &args.target, &args.file) else {
        return Err(CliError::Arguments {
            message: "Must specify a GUN, target, and path to target data",
            usage: "signet add [OPTIONS] <GUN> <TARGET> <FILE>",
        });
    };
    let custom = read_custom(args.custom.as_deref())?;
    let gun = ctx.gun(gun)?;
    changelist(ctx, &gun)?;
    let bytes = context::read_file(file)?;
    let meta = targets::meta_from_contents(&bytes, custom);
    stage_target(ctx, &gun, target, &args.roles, &meta)?;
    let roles = target_roles(&args.roles)?;
    let doc = to_json(&StagedTarget::new(&gun, target, &roles, &meta));
    ctx.out
        .line(&format!(
            "Addition of target \"{target}\" to repository \"{gun}\" staged for next publish."
        ))
        .map_err(CliError::stdio("write output"))?;
    let published = repo::maybe_publish(ctx, &gun, args.publish)?;
    repo::finish_staging(ctx, doc, published)
}

fn to_json<T: Serialize>(value: &T) -> serde_json::Value {
    serde_json::to_value(value).unwrap_or(serde_json::Value::Null)
}

/// Parses a size like Go's `strconv.ParseInt(s, 0, 64)`: optional `+`, `0x`/`0o`/`0b`
/// prefixes, a leading `0` for octal, `_` between digits; negative sizes are refused.
fn parse_size(text: &str) -> Option<i64> {
    let unsigned = text.strip_prefix('+').unwrap_or(text);
    if !underscores_ok(unsigned) {
        return None;
    }
    let cleaned: String = unsigned
        .chars()
        .filter(|c| *c != '_')
        .collect::<String>()
        .to_ascii_lowercase();
    let (radix, digits) = if let Some(rest) = cleaned.strip_prefix("0x") {
        (16, rest)
    } else if let Some(rest) = cleaned.strip_prefix("0o") {
        (8, rest)
    } else if let Some(rest) = cleaned.strip_prefix("0b") {
        (2, rest)
    } else if cleaned.len() > 1 && cleaned.starts_with('0') {
        (8, &cleaned[1..])
    } else {
        (10, cleaned.as_str())
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    i64::from_str_radix(digits, radix).ok()
}

/// Go's rule for `_` in integer literals: only between digits, or after a base prefix.
fn underscores_ok(text: &str) -> bool {
    let bytes = text.as_bytes();
    let lower = |b: u8| b.to_ascii_lowercase();
    let mut i = 0;
    let mut hex = false;
    // What was seen last: b'^' start, b'0' digit or prefix, b'_' underscore, b'!' other.
    let mut saw = b'^';
    if bytes.len() >= 2 && bytes[0] == b'0' && matches!(lower(bytes[1]), b'b' | b'o' | b'x') {
        i = 2;
        saw = b'0';
        hex = lower(bytes[1]) == b'x';
    }
    for &b in &bytes[i..] {
        if b.is_ascii_digit() || (hex && matches!(lower(b), b'a'..=b'f')) {
            saw = b'0';
        } else if b == b'_' {
            if saw != b'0' {
                return false;
            }
            saw = b'_';
        } else {
            if saw == b'_' {
                return false;
            }
            saw = b'!';
        }
    }
    saw != b'_'
}

/// Decodes a hex digest given to `addhash`, checking its length.
fn hex_digest(hex_text: &str, algorithm: &'static str, len: usize) -> Result<Vec<u8>> {
    if hex_text.len() != len {
        return Err(CliError::InvalidHash { algorithm });
    }
    hex::decode(hex_text).map_err(|_| CliError::InvalidHash { algorithm })
}

/// `addhash GUN TARGET SIZE --sha256 HEX [--sha512 HEX] [-r roles] [--custom FILE] [-p]`.
pub(crate) fn addhash(ctx: &mut Context, args: &AddHashArgs) -> Result<()> {
    let (Some(gun), Some(target), Some(size)) = (&args.gun, &args.target, &args.size) else {
        return Err(missing_addhash_arguments());
    };
    if args.sha256.is_none() && args.sha512.is_none() {
        return Err(missing_addhash_arguments());
    }
    let custom = read_custom(args.custom.as_deref())?;
    let length = parse_size(size).ok_or_else(|| CliError::InvalidSize { size: size.clone() })?;
    let gun = ctx.gun(gun)?;
    changelist(ctx, &gun)?;
    let sha256 = args
        .sha256
        .as_deref()
        .map(|hex| hex_digest(hex, "sha256", SHA256_HEX_LEN))
        .transpose()?;
    let sha512 = args
        .sha512
        .as_deref()
        .map(|hex| hex_digest(hex, "sha512", SHA512_HEX_LEN))
        .transpose()?;
    let meta =
        targets::meta_from_digests(target, length, sha256.as_deref(), sha512.as_deref(), custom)?;
    stage_target(ctx, &gun, target, &args.roles, &meta)?;
    let roles = target_roles(&args.roles)?;
    let doc = to_json(&StagedTarget::new(&gun, target, &roles, &meta));
    let used: Vec<&str> = meta.hashes.keys().map(String::as_str).collect();
    ctx.out
        .line(&format!(
            "Addition of target \"{target}\" by {} hash to repository \"{gun}\" staged for next \
             publish.",
            used.join(", ")
        ))
        .map_err(CliError::stdio("write output"))?;
    let published = repo::maybe_publish(ctx, &gun, args.publish)?;
    repo::finish_staging(ctx, doc, published)
}

fn missing_addhash_arguments() -> CliError {
    CliError::Arguments {
        message: "Must specify a GUN, target, byte size of target data, and at least one hash",
        usage: "signet addhash [OPTIONS] <GUN> <TARGET> <BYTE SIZE> --sha256 <HEX>",
    }
}

/// `remove GUN TARGET [-r roles] [-p]`.
pub(crate) fn remove(ctx: &mut Context, args: &RemoveArgs) -> Result<()> {
    let (Some(gun), Some(target)) = (&args.gun, &args.target) else {
        return Err(CliError::Arguments {
            message: "Must specify a GUN and target",
            usage: "signet remove [OPTIONS] <GUN> <TARGET>",
        });
    };
    let gun = ctx.gun(gun)?;
    let changelist = changelist(ctx, &gun)?;
    let roles = target_roles(&args.roles)?;
    for r in &roles {
        changelist.add(&Change::remove_target(r.clone(), target.as_str()))?;
    }
    let doc = serde_json::json!({
        "gun": gun.as_str(),
        "target": target,
        "roles": roles,
        "staged": true,
    });
    ctx.out
        .line(&format!(
            "Removal of {target} from {gun} staged for next publish."
        ))
        .map_err(CliError::stdio("write output"))?;
    let published = repo::maybe_publish(ctx, &gun, args.publish)?;
    if published.is_some() {
        warn_still_signed(ctx, &gun, target)?;
    }
    repo::finish_staging(ctx, doc, published)
}

/// After `remove -p`: a warning for every role that still signs `target` on the server.
/// notary's `remove` touches only the roles it is given, so a target can stay trusted
/// through another role; the published result is read back to say so.
fn warn_still_signed(ctx: &mut Context, gun: &Gun, target: &str) -> Result<()> {
    let still = ctx.block_on(async {
        let mut repository = ctx.repository(gun.clone(), Access::Pull).await?;
        repository.update().await?;
        Ok::<_, CliError>(signatures::occurrences(&repository, Some(target))?)
    })??;
    for signed in still.iter().map(signatures::still_signed) {
        ctx.warn(&format!(
            "{target} is still signed in {} of {gun} (keys {}, threshold {}), so clients still \
             trust it; 'signet remove {gun} {target} -r {} -p' with one of those keys removes it",
            signed.role,
            signed.key_ids.join(", "),
            signed.threshold,
            signed.role
        ));
    }
    Ok(())
}

/// `witness GUN ROLE... [-p]`.
pub(crate) fn witness(ctx: &mut Context, args: &WitnessArgs) -> Result<()> {
    let Some(gun) = &args.gun else {
        return Err(missing_witness_arguments());
    };
    if args.roles.is_empty() {
        return Err(missing_witness_arguments());
    }
    for r in &args.roles {
        if r != DEFAULT_ROLE && !role::is_delegation(r) {
            return Err(CliError::InvalidWitnessRole { role: r.clone() });
        }
    }
    let gun = ctx.gun(gun)?;
    let changelist = changelist(ctx, &gun)?;
    for r in &args.roles {
        changelist.add(&Change::witness(r.clone()))?;
    }
    let doc = serde_json::json!({ "gun": gun.as_str(), "roles": args.roles, "staged": true });
    ctx.out
        .line(&format!(
            "The following roles were successfully marked for witnessing on the next \
             publish:\n\t- {}",
            args.roles.join("\n\t- ")
        ))
        .map_err(CliError::stdio("write output"))?;
    let published = repo::maybe_publish(ctx, &gun, args.publish)?;
    repo::finish_staging(ctx, doc, published)
}

fn missing_witness_arguments() -> CliError {
    CliError::Arguments {
        message: "Please provide a GUN and at least one role to witness",
        usage: "signet witness [OPTIONS] <GUN> <ROLE>...",
    }
}

/// One change in `status --output json`.
#[derive(Debug, Serialize)]
struct ChangeJson<'a> {
    number: usize,
    action: &'a str,
    scope: &'a str,
    #[serde(rename = "type")]
    change_type: &'a str,
    path: &'a str,
}

/// `status GUN`.
pub(crate) fn status(ctx: &mut Context, args: &GunArgs) -> Result<()> {
    let Some(gun) = &args.gun else {
        return Err(CliError::Arguments {
            message: "Must specify a GUN",
            usage: "signet status [OPTIONS] <GUN>",
        });
    };
    let gun = ctx.gun(gun)?;
    let listing = changelist(ctx, &gun)?.list()?;
    for warning in &listing.warnings {
        ctx.warn(&warning.to_string());
    }
    let changes: Vec<ChangeJson<'_>> = listing
        .changes
        .iter()
        .map(|staged| ChangeJson {
            number: staged.index,
            action: staged.change.action.as_str(),
            scope: &staged.change.scope,
            change_type: staged.change.change_type.as_str(),
            path: &staged.change.path,
        })
        .collect();
    ctx.out
        .json(&serde_json::json!({ "gun": gun.as_str(), "changes": changes }))
        .map_err(CliError::stdio("write output"))?;
    if changes.is_empty() {
        return ctx
            .out
            .line(&format!("No unpublished changes for {gun}"))
            .map_err(CliError::stdio("write output"));
    }
    let mut table = Table::new(&["#", "ACTION", "SCOPE", "TYPE", "PATH"]);
    for change in &changes {
        table.row(&[
            change.number.to_string().as_str(),
            change.action,
            change.scope,
            change.change_type,
            change.path,
        ]);
    }
    ctx.out
        .text(&format!(
            "Unpublished changes for {gun}:\n\n{}",
            table.render()
        ))
        .map_err(CliError::stdio("write output"))
}

/// `reset GUN (-n i,j | --all)`.
pub(crate) fn reset(ctx: &mut Context, args: &ResetArgs) -> Result<()> {
    let Some(gun) = &args.gun else {
        return Err(CliError::Arguments {
            message: "Must specify a GUN",
            usage: "signet reset [OPTIONS] <GUN> (-n <NUMBERS> | --all)",
        });
    };
    if !args.all && args.number.is_empty() {
        return Err(CliError::Arguments {
            message: "Must specify changes to reset with -n or the --all flag",
            usage: "signet reset [OPTIONS] <GUN> (-n <NUMBERS> | --all)",
        });
    }
    let gun = ctx.gun(gun)?;
    let changelist = changelist(ctx, &gun)?;
    let removed = if args.all {
        let count = changelist.list()?.changes.len();
        changelist.clear()?;
        count
    } else {
        let mut indices = Vec::with_capacity(args.number.len());
        for number in &args.number {
            let index = usize::try_from(*number)
                .map_err(|_| CliError::InvalidChangeNumber { number: *number })?;
            indices.push(index);
        }
        changelist.remove(&indices)?.len()
    };
    ctx.out
        .json(&serde_json::json!({ "gun": gun.as_str(), "removed": removed }))
        .map_err(CliError::stdio("write output"))?;
    ctx.out
        .line(&format!(
            "Successfully reset specified changes for repository {gun}"
        ))
        .map_err(CliError::stdio("write output"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_like_go_parse_int_base_0() {
        assert_eq!(parse_size("123"), Some(123));
        assert_eq!(parse_size("+7"), Some(7));
        assert_eq!(parse_size("0x10"), Some(16));
        assert_eq!(parse_size("0X1f"), Some(31));
        assert_eq!(parse_size("010"), Some(8));
        assert_eq!(parse_size("0o17"), Some(15));
        assert_eq!(parse_size("0b101"), Some(5));
        assert_eq!(parse_size("0x_1_0"), Some(16));
        assert_eq!(parse_size("0"), Some(0));
        assert_eq!(parse_size("1_000"), Some(1000));
        assert_eq!(parse_size("0_10"), Some(8));
        for bad in [
            "",
            "12x",
            "-5",
            "_1",
            "1_",
            "0x",
            "0x__1",
            "0b2",
            "08",
            "99999999999999999999",
        ] {
            assert_eq!(parse_size(bad), None, "{bad}");
        }
    }

    #[test]
    fn target_roles_default_and_validate() {
        assert_eq!(target_roles(&[]).unwrap(), ["targets"]);
        let roles = vec!["targets/releases".to_owned(), "targets".to_owned()];
        assert_eq!(target_roles(&roles).unwrap(), roles);
        for bad in ["root", "foo", "targets/", "targets/UP", "snapshot"] {
            assert!(
                matches!(
                    target_roles(&[bad.to_owned()]),
                    Err(CliError::InvalidTargetRole { .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn digests_are_checked() {
        assert!(matches!(
            hex_digest("abcd", "sha256", SHA256_HEX_LEN),
            Err(CliError::InvalidHash {
                algorithm: "sha256"
            })
        ));
        assert!(hex_digest(&"zz".repeat(32), "sha256", SHA256_HEX_LEN).is_err());
        assert_eq!(
            hex_digest(&"0a".repeat(32), "sha256", SHA256_HEX_LEN).unwrap(),
            [10; 32]
        );
    }
}
