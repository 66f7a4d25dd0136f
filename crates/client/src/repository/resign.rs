//! Re-signing roles to push their expiry forward (`signet resign`, an extension: Notary has no
//! such command).
//!
//! The latest trust data is fetched and verified; each chosen role whose key is held is
//! re-signed with its version bumped and a fresh expiry (the defaults of Notary: root ten
//! years, targets and delegations three years, a client-held snapshot three years), and
//! everything is uploaded in one POST. The server re-signs the timestamp (and a snapshot whose
//! key it holds) on every upload. Metadata that has already expired is verified as of just
//! before its expiry, so that it can be re-signed; the report says so.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};
use signet_tuf::authoring::{self, SigningRequirement};
use signet_tuf::metadata::Expires;
use signet_tuf::role;
use signet_tuf::update::{self, FetchResult, Need, UpdateConfig, Updater};

use super::working::holds_key;
use super::{RepoWarning, Repository};
use crate::error::{Error, ResignError, Result};
use crate::pinning;
use crate::remote::MAX_DOWNLOAD_SIZE;

/// How many times an update is retried with the clock moved before an expiry.
const EXPIRY_RETRIES: usize = 8;

/// The longest lifetime [`Lifetime::parse`] accepts: 100 years of 365 days.
pub const MAX_LIFETIME: TimeDelta = TimeDelta::days(100 * 365);

/// The shortest lifetime [`Lifetime::parse`] accepts: one minute (shorter metadata would
/// expire before clients could fetch it).
pub const MIN_LIFETIME: TimeDelta = TimeDelta::minutes(1);

/// How long re-signed roles stay valid (`signet resign --expires`), as the user wrote it.
///
/// The syntax is Go's `time.ParseDuration` (what Notary's configuration and flags take): an
/// optional sign and a sequence of decimal numbers, each with an optional fraction and a unit
/// — `ns`, `us` (`µs`), `ms`, `s`, `m`, `h` — such as `8760h`, `90m` or `1h30m`. The units
/// `d` (24 hours), `w` (7 days) and `y` (365 days, Notary's year) are accepted too: `30d`,
/// `52w`, `10y`. Zero, negative, shorter than [`MIN_LIFETIME`] and longer than
/// [`MAX_LIFETIME`] are refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lifetime {
    text: String,
    delta: TimeDelta,
}

impl Lifetime {
    /// Parses and checks `text` (see the type documentation).
    ///
    /// # Errors
    ///
    /// [`ResignError::InvalidLifetime`] naming the text and why.
    pub fn parse(text: &str) -> Result<Self> {
        let invalid = |reason: &str| {
            Error::Resign(ResignError::InvalidLifetime {
                text: text.to_owned(),
                reason: reason.to_owned(),
            })
        };
        let nanos = parse_go_duration(text).map_err(|reason| invalid(&reason))?;
        if nanos <= 0 {
            return Err(invalid("the duration must be positive"));
        }
        let max = i128::from(MAX_LIFETIME.num_seconds()) * NANOS_PER_SECOND;
        if nanos > max {
            return Err(invalid("the duration must be at most 100 years"));
        }
        let min = i128::from(MIN_LIFETIME.num_seconds()) * NANOS_PER_SECOND;
        if nanos < min {
            return Err(invalid("the duration must be at least one minute"));
        }
        let delta = i64::try_from(nanos)
            .map(TimeDelta::nanoseconds)
            .map_err(|_| invalid("the duration must be at most 100 years"))?;
        Ok(Self {
            text: text.to_owned(),
            delta,
        })
    }

    /// The duration.
    pub fn delta(&self) -> TimeDelta {
        self.delta
    }

    /// The text it was parsed from.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// `now` plus the lifetime.
    pub fn expires_from(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        now.checked_add_signed(self.delta)
    }
}

impl std::fmt::Display for Lifetime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

impl std::str::FromStr for Lifetime {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self> {
        Self::parse(text)
    }
}

const NANOS_PER_SECOND: i128 = 1_000_000_000;

/// Nanoseconds of one unit, or `None` for an unknown unit.
fn unit_nanos(unit: &str) -> Option<i128> {
    const HOUR: i128 = 3_600 * NANOS_PER_SECOND;
    const DAY: i128 = 24 * HOUR;
    Some(match unit {
        "ns" => 1,
        "us" | "\u{b5}s" | "\u{3bc}s" => 1_000,
        "ms" => 1_000_000,
        "s" => NANOS_PER_SECOND,
        "m" => 60 * NANOS_PER_SECOND,
        "h" => HOUR,
        "d" => DAY,
        "w" => 7 * DAY,
        "y" => 365 * DAY,
        _ => return None,
    })
}

/// Go's `time.ParseDuration` with the extra units `d`, `w` and `y`, in nanoseconds (signed).
/// Values beyond about 10^20 years are refused as out of range.
fn parse_go_duration(text: &str) -> std::result::Result<i128, String> {
    /// Far beyond any accepted lifetime, and far from overflowing `i128`.
    const LIMIT: i128 = 1_i128 << 100;
    let out_of_range = || "the duration is out of range".to_owned();
    let (negative, mut rest) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err("the duration is empty".to_owned());
    }
    let mut total: i128 = 0;
    while !rest.is_empty() {
        let int_len = rest.bytes().take_while(u8::is_ascii_digit).count();
        let (int_digits, after) = rest.split_at(int_len);
        let (frac_digits, after) = match after.strip_prefix('.') {
            Some(frac) => {
                let len = frac.bytes().take_while(u8::is_ascii_digit).count();
                frac.split_at(len)
            }
            None => ("", after),
        };
        if int_digits.is_empty() && frac_digits.is_empty() {
            return Err(format!("expected a number at {rest:?}"));
        }
        let unit_len = after
            .char_indices()
            .find(|(_, c)| c.is_ascii_digit() || *c == '.')
            .map_or(after.len(), |(i, _)| i);
        let (unit, next) = after.split_at(unit_len);
        if unit.is_empty() {
            return Err(format!(
                "missing unit after {}{}{frac_digits} (ns, us, ms, s, m, h, d, w or y)",
                int_digits,
                if frac_digits.is_empty() { "" } else { "." }
            ));
        }
        let per_unit = unit_nanos(unit)
            .ok_or_else(|| format!("unknown unit {unit:?} (ns, us, ms, s, m, h, d, w or y)"))?;
        let mut value: i128 = 0;
        for digit in int_digits.bytes() {
            value = value
                .checked_mul(10)
                .and_then(|v| v.checked_add(i128::from(digit - b'0')))
                .filter(|v| *v < LIMIT)
                .ok_or_else(out_of_range)?;
        }
        let mut part = value
            .checked_mul(per_unit)
            .filter(|v| *v < LIMIT)
            .ok_or_else(out_of_range)?;
        // The fraction, to nanosecond precision (further digits are dropped, as Go does).
        let mut scale = per_unit;
        for digit in frac_digits.bytes() {
            scale /= 10;
            if scale == 0 {
                break;
            }
            part = part
                .checked_add(i128::from(digit - b'0') * scale)
                .ok_or_else(out_of_range)?;
        }
        total = total
            .checked_add(part)
            .filter(|v| *v < LIMIT)
            .ok_or_else(out_of_range)?;
        rest = next;
    }
    Ok(if negative { -total } else { total })
}

/// Who signed a re-signed role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignedBy {
    /// This client, with a held key.
    Client,
    /// The server (timestamp, and a server-managed snapshot).
    Server,
}

impl SignedBy {
    /// `client` or `server`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Client => "client",
            Self::Server => "server",
        }
    }
}

/// One role before and after a re-sign.
#[derive(Debug, Clone)]
pub struct ResignedRole {
    /// The role.
    pub role: String,
    /// Who signed the new version.
    pub signed_by: SignedBy,
    /// The version before.
    pub old_version: i64,
    /// The version now.
    pub new_version: i64,
    /// The expiry before.
    pub old_expires: DateTime<Utc>,
    /// The expiry now.
    pub new_expires: DateTime<Utc>,
}

/// What a re-sign did.
#[derive(Debug, Clone, Default)]
pub struct ResignReport {
    /// Every role with a new version, in the order root, targets, delegations, snapshot,
    /// timestamp.
    pub roles: Vec<ResignedRole>,
    /// Roles left as they were because none of their keys is held (only when no roles were
    /// requested), with the canonical IDs of their keys.
    pub skipped: Vec<(String, Vec<String>)>,
    /// Chosen roles this client does not sign because the server holds their keys (the
    /// timestamp, and a server-managed snapshot): the server re-signs them on the upload with
    /// its own lifetimes.
    pub server_signed: Vec<String>,
    /// Non-fatal findings.
    pub warnings: Vec<RepoWarning>,
}

/// `(version, expires)` of every role of a verified repository.
fn versions(repo: &update::TrustedMetadata) -> BTreeMap<String, (i64, DateTime<Utc>)> {
    let mut out = BTreeMap::new();
    let root = repo.root().signed();
    out.insert(role::ROOT.to_owned(), (root.version, root.expires.utc()));
    let snapshot = repo.snapshot().signed();
    out.insert(
        role::SNAPSHOT.to_owned(),
        (snapshot.version, snapshot.expires.utc()),
    );
    let timestamp = repo.timestamp().signed();
    out.insert(
        role::TIMESTAMP.to_owned(),
        (timestamp.version, timestamp.expires.utc()),
    );
    for (name, doc) in repo.all_targets_roles() {
        let signed = doc.signed();
        out.insert(name.clone(), (signed.version, signed.expires.utc()));
    }
    out
}

/// The order roles are reported in.
fn rank(name: &str) -> (u8, &str) {
    match name {
        role::ROOT => (0, name),
        role::TARGETS => (1, name),
        role::SNAPSHOT => (3, name),
        role::TIMESTAMP => (4, name),
        _ => (2, name),
    }
}

impl Repository {
    /// Re-signs `roles` (empty = every role whose key is held) with bumped versions and fresh
    /// expiries — `now + lifetime` when a lifetime is given, else the role's default — and
    /// publishes them in one upload (see the module documentation). A root re-signed only
    /// because it is near expiry, and a snapshot re-signed only because targets changed, keep
    /// their default lifetimes. Staged
    /// changes are neither published nor cleared. A root certificate near expiry is renewed as
    /// on every publish.
    ///
    /// # Errors
    ///
    /// [`Error::RepositoryNotExist`] when the server has no trust data for the GUN,
    /// [`ResignError::UnknownRole`] for a role the repository does not have,
    /// [`ResignError::KeyMissing`] for a requested role none of whose keys is held,
    /// [`ResignError::NothingToSign`] when no client-signed role is left,
    /// [`ResignError::RootTooShort`] when `lifetime` would have root re-signed to expire within
    /// six months, and the errors of an update and a publish.
    pub async fn resign(
        &mut self,
        roles: &[String],
        lifetime: Option<&Lifetime>,
    ) -> Result<ResignReport> {
        let gun = self.gun.to_string();
        match self
            .remote
            .get_meta(&self.gun, role::ROOT, MAX_DOWNLOAD_SIZE)
            .await
        {
            Ok(_) => {}
            Err(e) if e.is_not_found() => {
                return Err(Error::RepositoryNotExist {
                    host: self.remote.server_host(),
                    gun,
                });
            }
            Err(e) => return Err(e),
        }
        let mut warnings = self.update_for_resign().await?;
        let before = versions(self.verified()?);
        let mut working = self.working_from_verified()?;
        self.crypto.reload();

        let mut candidates: Vec<String> = vec![
            role::ROOT.to_owned(),
            role::TARGETS.to_owned(),
            role::SNAPSHOT.to_owned(),
            role::TIMESTAMP.to_owned(),
        ];
        candidates.extend(
            working
                .targets
                .keys()
                .filter(|name| role::is_delegation(name))
                .cloned(),
        );
        for requested in roles {
            if !candidates.contains(requested) {
                return Err(Error::Resign(ResignError::UnknownRole {
                    gun,
                    role: requested.clone(),
                }));
            }
        }

        let mut report = ResignReport::default();
        let mut lifetimes: BTreeMap<String, TimeDelta> = BTreeMap::new();
        let mut client_roles = 0_usize;
        for name in &candidates {
            let requested = roles.is_empty() || roles.contains(name);
            if !requested {
                continue;
            }
            let requirement = if role::is_base_role(name) {
                SigningRequirement::of_root_role(&working.root.signed, name)
            } else {
                working.resolve(name).map(|r| SigningRequirement {
                    keys: r.keys,
                    threshold: r.threshold,
                })
            };
            let key_ids: Vec<String> = requirement
                .iter()
                .flat_map(|r| r.keys.values())
                .filter_map(|k| k.canonical_key_id().ok())
                .map(|id| id.to_string())
                .collect();
            let held = requirement
                .iter()
                .flat_map(|r| r.keys.values())
                .filter_map(|k| k.canonical_key_id().ok())
                .any(|id| holds_key(&self.crypto, &id));
            match name.as_str() {
                role::TIMESTAMP => report.server_signed.push(name.clone()),
                role::SNAPSHOT if !held => report.server_signed.push(name.clone()),
                role::SNAPSHOT => {
                    client_roles = client_roles.saturating_add(1);
                    if let Some(lifetime) = lifetime {
                        lifetimes.insert(name.clone(), lifetime.delta());
                    }
                }
                _ if held => {
                    client_roles = client_roles.saturating_add(1);
                    if let Some(lifetime) = lifetime {
                        lifetimes.insert(name.clone(), lifetime.delta());
                    }
                    if name == role::ROOT {
                        working.root.dirty = true;
                    } else if let Some(doc) = working.targets.get_mut(name) {
                        doc.dirty = true;
                    }
                }
                _ if roles.is_empty() => report.skipped.push((name.clone(), key_ids)),
                _ => {
                    return Err(Error::Resign(ResignError::KeyMissing {
                        gun,
                        role: name.clone(),
                        key_ids,
                    }));
                }
            }
        }
        if client_roles == 0 {
            return Err(Error::Resign(ResignError::NothingToSign { gun }));
        }
        if let Some(lifetime) = lifetime
            && lifetimes.contains_key(role::ROOT)
        {
            let expires = lifetime.expires_from(working.now).ok_or_else(|| {
                Error::Resign(ResignError::InvalidLifetime {
                    text: lifetime.to_string(),
                    reason: "the expiry is out of range".to_owned(),
                })
            })?;
            if authoring::near_expiry(&Expires::from_utc(expires), working.now) {
                return Err(Error::Resign(ResignError::RootTooShort {
                    gun,
                    lifetime: lifetime.to_string(),
                    expires,
                }));
            }
        }

        self.prepare_root(&mut working, false, &mut warnings)
            .await?;
        let signed = working.sign_with_lifetimes(&self.crypto, false, &lifetimes)?;
        self.remote.publish(&self.gun, &signed.files).await?;

        // Read back what the server now serves (its new timestamp and snapshot included).
        if !self
            .refresh_after_publish(&signed.files, &mut warnings)
            .await
        {
            warnings.extend(self.update().await?);
        }
        let after = versions(self.verified()?);
        let uploaded: Vec<&str> = signed.files.iter().map(|(r, _)| r.as_str()).collect();
        let mut changed: Vec<ResignedRole> = after
            .iter()
            .filter_map(|(name, (version, expires))| {
                let (old_version, old_expires) = before.get(name)?;
                if old_version == version {
                    return None;
                }
                let signed_by = if uploaded.contains(&name.as_str()) {
                    SignedBy::Client
                } else {
                    SignedBy::Server
                };
                Some(ResignedRole {
                    role: name.clone(),
                    signed_by,
                    old_version: *old_version,
                    new_version: *version,
                    old_expires: *old_expires,
                    new_expires: *expires,
                })
            })
            .collect();
        changed.sort_by(|a, b| rank(&a.role).cmp(&rank(&b.role)));
        report.roles = changed;
        report.warnings = warnings;
        Ok(report)
    }

    /// [`update`](Self::update), except that metadata which has expired is verified as of just
    /// before its expiry (so that it can be re-signed), with a warning naming it.
    async fn update_for_resign(&mut self) -> Result<Vec<RepoWarning>> {
        let mut now = Utc::now();
        let mut warnings = Vec::new();
        for _ in 0..EXPIRY_RETRIES {
            match self.update_as_of(now).await {
                Ok(found) => {
                    let skipped = found.iter().find_map(|w| match w {
                        RepoWarning::Update(update::Warning::DelegationSkipped {
                            role,
                            reason: update::SkipReason::Expired { expires, .. },
                        }) => Some((role.clone(), expires.clone())),
                        _ => None,
                    });
                    let Some((role_name, expires)) = skipped else {
                        warnings.extend(found);
                        return Ok(warnings);
                    };
                    now = self.before_expiry(&role_name, &expires, &mut warnings)?;
                }
                Err(Error::Update { source, .. })
                    if matches!(*source, update::Error::Expired { .. }) =>
                {
                    let update::Error::Expired { role, expires, .. } = *source else {
                        continue;
                    };
                    now = self.before_expiry(&role, &expires, &mut warnings)?;
                }
                Err(e) => return Err(e),
            }
        }
        self.update_as_of(now).await
    }

    /// The instant just before `expires` (the expiry text of `role_name`), noting the expiry.
    fn before_expiry(
        &self,
        role_name: &str,
        expires: &str,
        warnings: &mut Vec<RepoWarning>,
    ) -> Result<DateTime<Utc>> {
        let at = Expires::parse(expires)
            .map_err(|e| Error::Metadata {
                gun: self.gun.to_string(),
                role: role_name.to_owned(),
                source: Box::new(e),
            })?
            .utc();
        warnings.push(RepoWarning::ExpiredResigned {
            role: role_name.to_owned(),
            expired: at,
        });
        Ok(at - TimeDelta::seconds(1))
    }

    /// An online update verifying expiries against `now` (verified downloads are cached).
    async fn update_as_of(&mut self, now: DateTime<Utc>) -> Result<Vec<RepoWarning>> {
        let mut warnings = Vec::new();
        let mut config = UpdateConfig::new(self.gun.as_str(), now);
        config.trusted = self.cached_state()?;
        config.pinning = pinning::update_pinning(&self.pinning, &self.gun, now)?;
        let mut updater = Updater::new(config).map_err(|e| self.update_error(e))?;
        while let Need::Fetch(request) = updater.next_request() {
            let answer: FetchResult = self.fetch(&request).await?;
            updater
                .provide(&request, answer)
                .map_err(|e| self.update_error(e))?;
        }
        let outcome = updater.finish().map_err(|e| self.update_error(e))?;
        self.write_cache(outcome.cache_writes, &mut warnings);
        warnings.extend(outcome.warnings.into_iter().map(RepoWarning::Update));
        self.verified = Some(outcome.trusted);
        Ok(warnings)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn delta(text: &str) -> TimeDelta {
        Lifetime::parse(text)
            .unwrap_or_else(|e| panic!("{text}: {e}"))
            .delta()
    }

    fn refused(text: &str) -> String {
        match Lifetime::parse(text) {
            Ok(l) => panic!("{text} accepted as {:?}", l.delta()),
            Err(e) => {
                let message = e.to_string();
                assert!(message.contains(&format!("{text:?}")), "{message}");
                message
            }
        }
    }

    #[test]
    fn go_durations_parse_as_go_does() {
        assert_eq!(delta("8760h"), TimeDelta::hours(8760));
        assert_eq!(delta("90m"), TimeDelta::minutes(90));
        assert_eq!(delta("1h30m"), TimeDelta::minutes(90));
        assert_eq!(delta("1.5h"), TimeDelta::minutes(90));
        assert_eq!(delta("+2h"), TimeDelta::hours(2));
        assert_eq!(delta(".5h"), TimeDelta::minutes(30));
        assert_eq!(delta("3600s"), TimeDelta::hours(1));
        assert_eq!(delta("60000ms"), TimeDelta::minutes(1));
        assert_eq!(delta("60000000us"), TimeDelta::minutes(1));
        assert_eq!(delta("60000000\u{b5}s"), TimeDelta::minutes(1));
        assert_eq!(delta("60000000000ns"), TimeDelta::minutes(1));
        assert_eq!(delta("1h0m0.5s"), TimeDelta::milliseconds(3_600_500));
    }

    #[test]
    fn days_weeks_and_years() {
        assert_eq!(delta("30d"), TimeDelta::days(30));
        assert_eq!(delta("52w"), TimeDelta::weeks(52));
        assert_eq!(delta("10y"), TimeDelta::days(3650));
        assert_eq!(delta("1y12h"), TimeDelta::days(365) + TimeDelta::hours(12));
        assert_eq!(delta("100y"), MAX_LIFETIME);
        assert_eq!(delta("1m"), MIN_LIFETIME);
    }

    #[test]
    fn bad_durations_are_refused_with_the_reason() {
        assert!(refused("0").contains("positive"));
        assert!(refused("0h").contains("positive"));
        assert!(refused("-1h").contains("positive"));
        assert!(refused("30s").contains("at least one minute"));
        assert!(refused("101y").contains("at most 100 years"));
        assert!(refused("876001h").contains("at most 100 years"));
        assert!(refused("99999999999999999999999999999999999y").contains("out of range"));
        assert!(refused("9223372036854775807h").contains("out of range"));
        assert!(refused("").contains("empty"));
        assert!(refused("-").contains("empty"));
        assert!(refused("10").contains("missing unit"));
        assert!(refused("10x").contains("unknown unit"));
        assert!(refused("h").contains("expected a number"));
        assert!(refused("1h 30m").contains("unknown unit"));
        assert!(refused("1.h.5").contains("missing unit"));
        assert!(refused("1y-1d").contains("unknown unit"));
    }
}
