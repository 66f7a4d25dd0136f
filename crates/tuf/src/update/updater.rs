//! The update state machine.

mod checks;
mod documents;
mod root;

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use chrono::{DateTime, Utc};

use self::checks::{check_bytes, request_for};
use self::root::root_self_check;
use super::config::{Limits, TrustedState, UpdateConfig};
use super::delegation::ResolvedRole;
use super::error::{Error, Result};
use super::pinning::{PinMode, TrustPinning};
use super::request::{CacheWrite, FetchResult, Need, Request};
use super::trusted::{TrustedMetadata, Verified};
use super::warning::{SkipReason, Warning};
use crate::metadata::{Envelope, FileMeta, Metadata, Root, Snapshot, Targets, Timestamp};
use crate::role;

/// What a finished update produced.
#[derive(Debug, Clone)]
pub struct UpdateOutcome {
    /// The verified metadata.
    pub trusted: TrustedMetadata,
    /// Verified files to store in the cache (one per role, the newest).
    pub cache_writes: Vec<CacheWrite>,
    /// Non-fatal findings, in the order they were made.
    pub warnings: Vec<Warning>,
}

/// The client update as a sans-I/O state machine.
///
/// ```text
/// let mut updater = Updater::new(config)?;
/// while let Need::Fetch(request) = updater.next_request() {
///     let answer = fetch(&request);           // GET …/_trust/tuf/<request.path()>
///     updater.provide(&request, answer)?;
/// }
/// let outcome = updater.finish()?;
/// ```
///
/// The algorithm is Notary's (`client/tufclient.go`):
///
/// 1. **Trust anchor.** A cached root must verify against its own root certificates (its
///    expiry and certificate expiry are ignored); otherwise [`Error::CachedRoot`]. If it is
///    unexpired and its certificates are valid now, it is trusted as is. Otherwise — no cached
///    root, or an expired one — `root.json` is fetched and validated (against the cached root
///    when there is one) with trust pinning.
/// 2. **Timestamp**: always fetched (at most [`Limits::max_timestamp_len`]); on
///    [`FetchResult::Unavailable`] the cached timestamp is used if it verifies, with a
///    [`Warning::UsingCachedTimestamp`].
/// 3. **Snapshot**, then **targets**, then **delegations** (pre-order, children in listed
///    order, only roles the snapshot lists): the cached copy is used when it matches the
///    length and digests the timestamp or snapshot records and verifies; otherwise
///    `<role>.<sha256>.json` is fetched, limited to the recorded length. The trusted root's
///    bytes must match the snapshot's `root` entry. Delegations that fail their threshold or
///    have expired are skipped with a warning; every other failure aborts.
/// 4. Every document must carry its role's threshold of valid signatures, must not be older
///    than the cached copy (when that copy verifies) and must not have expired at
///    [`UpdateConfig::now`].
/// 5. **Recovery**: if any step of 2–3 fails (other than the server being unavailable or an
///    answer longer than allowed), the newest root is fetched (`root.<sha256>.json` when the
///    snapshot named it, else `root.json`), validated against the trusted root — walking
///    `<v>.root.json` for every intermediate version when it is not directly signed by the
///    trusted root; intermediate roots may have expired — and steps 2–3 are run once more. A
///    second failure is returned.
///
/// Trust pinning applies to the root fetched without a usable cached root (first use, or a
/// cached root that expired); later rotations are validated against the trusted root.
pub struct Updater {
    gun: String,
    now: DateTime<Utc>,
    limits: Limits,
    pinning: TrustPinning,
    cache: TrustedState,
    cached_root: Option<Envelope<Root>>,
    root: Option<Verified<Root>>,
    root_pinned: bool,
    root_floor: i64,
    attempt: u8,
    phase: Phase,
    pending: Option<Request>,
    pass: Pass,
    writes: BTreeMap<String, Arc<Vec<u8>>>,
    warnings: Vec<Warning>,
    old_targets: BTreeMap<String, Option<Targets>>,
}

impl std::fmt::Debug for Updater {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Updater")
            .field("gun", &self.gun)
            .field("attempt", &self.attempt)
            .field("pending", &self.pending)
            .finish_non_exhaustive()
    }
}

/// State of one pass over timestamp, snapshot, targets and delegations.
#[derive(Default)]
struct Pass {
    timestamp: Option<Verified<Timestamp>>,
    snapshot: Option<Verified<Snapshot>>,
    targets: BTreeMap<String, Verified<Targets>>,
    queue: VecDeque<ResolvedRole>,
    delegations_loaded: usize,
    next_root_checksum: Option<(FileMeta, i64)>,
    warnings: Vec<Warning>,
}

enum Phase {
    Root(Box<RootWalk>),
    Timestamp,
    Snapshot,
    Targets,
    Delegations(Option<ResolvedRole>),
    Done(Box<TrustedMetadata>),
    Failed,
}

/// Fetching and validating the newest root, possibly through intermediate versions.
struct RootWalk {
    /// The root whose keys must sign the next one (`None` on first use).
    prev: Option<Envelope<Root>>,
    /// Whether trust pinning applies to the newest root.
    pinned: bool,
    /// Length and digests of the newest root, from the snapshot (and that snapshot's version).
    expected: Option<(FileMeta, i64)>,
    /// The newest root, once fetched, while intermediates are walked.
    newest: Option<(Envelope<Root>, Vec<u8>)>,
    /// The intermediate version requested next.
    next_version: i64,
}

enum DelegationLoad {
    Loaded(Box<Verified<Targets>>),
    Skipped(SkipReason),
}

impl Updater {
    /// Starts an update.
    ///
    /// # Errors
    ///
    /// [`Error::CachedRoot`] when a cached root is present but cannot be trusted, and
    /// [`Error::TrustPinning`] when there is no cached root and trust on first use is disabled
    /// without certs or CA pinned for the GUN.
    pub fn new(config: UpdateConfig) -> Result<Self> {
        let UpdateConfig {
            gun,
            now,
            trusted,
            pinning,
            limits,
        } = config;
        let mut up = Self {
            gun,
            now,
            limits,
            pinning,
            cache: trusted,
            cached_root: None,
            root: None,
            root_pinned: false,
            root_floor: 1,
            attempt: 1,
            phase: Phase::Timestamp,
            pending: None,
            pass: Pass::default(),
            writes: BTreeMap::new(),
            warnings: Vec::new(),
            old_targets: BTreeMap::new(),
        };
        match up.cache.root.clone() {
            Some(bytes) => {
                let env = parse::<Root>(&bytes)
                    .and_then(|env| root_self_check(&env, &up.gun, None).map(|()| env))
                    .map_err(|source| Error::CachedRoot {
                        gun: up.gun.clone(),
                        source: Box::new(source),
                    })?;
                up.root_floor = env.signed().version;
                up.cached_root = Some(env.clone());
                let usable = !env.signed().expires.is_expired(now)
                    && root_self_check(&env, &up.gun, Some(now)).is_ok();
                if usable {
                    up.root = Some(Verified::new(env, Arc::new(bytes)));
                } else {
                    up.phase = Phase::Root(Box::new(RootWalk::new(Some(env), true, None)));
                }
            }
            None => {
                if matches!(
                    up.pinning.mode_for(&up.gun),
                    PinMode::Tofu { disabled: true }
                ) {
                    return Err(Error::TrustPinning {
                        gun: up.gun.clone(),
                        reason: "invalid trust pinning specified".into(),
                    });
                }
                up.phase = Phase::Root(Box::new(RootWalk::new(None, true, None)));
            }
        }
        up.advance()?;
        Ok(up)
    }

    /// The GUN being updated.
    pub fn gun(&self) -> &str {
        &self.gun
    }

    /// What the updater needs next. After a failed [`provide`](Self::provide) this is
    /// [`Need::Done`] and [`finish`](Self::finish) returns [`Error::Failed`].
    pub fn next_request(&self) -> Need {
        match &self.pending {
            Some(r) => Need::Fetch(r.clone()),
            None => Need::Done,
        }
    }

    /// Hands over the answer to `request`, which must be the pending request.
    ///
    /// # Errors
    ///
    /// The update's final error (the updater is then failed), or
    /// [`Error::UnexpectedAnswer`] when `request` is not the pending one (the updater is left
    /// as it was).
    pub fn provide(&mut self, request: &Request, result: FetchResult) -> Result<()> {
        if matches!(self.phase, Phase::Failed) {
            return Err(Error::Failed {
                gun: self.gun.clone(),
            });
        }
        match &self.pending {
            Some(p) if p.name == request.name && p.role == request.role => {}
            other => {
                return Err(Error::UnexpectedAnswer {
                    expected: other
                        .as_ref()
                        .map_or_else(|| "none".to_owned(), Request::path),
                    got: request.path(),
                });
            }
        }
        let Some(request) = self.pending.take() else {
            return Ok(());
        };
        let step = self.handle(&request, result).and_then(|()| self.advance());
        match step {
            Ok(()) => Ok(()),
            Err(e) => self.recover_or_fail(e),
        }
    }

    /// The verified files so far that belong in the cache (also useful after a failure: each
    /// was verified on its own).
    pub fn cache_writes(&self) -> Vec<CacheWrite> {
        self.writes
            .iter()
            .map(|(role, bytes)| CacheWrite {
                role: role.clone(),
                bytes: Arc::clone(bytes),
            })
            .collect()
    }

    /// Ends the update.
    ///
    /// # Errors
    ///
    /// [`Error::NotDone`] while a request is pending, [`Error::Failed`] after a failure.
    pub fn finish(self) -> Result<UpdateOutcome> {
        // Shared with the repository, never copied: a targets file can be tens of megabytes.
        let cache_writes = self
            .writes
            .into_iter()
            .map(|(role, bytes)| CacheWrite { role, bytes })
            .collect();
        match self.phase {
            Phase::Done(repository) => Ok(UpdateOutcome {
                trusted: *repository,
                cache_writes,
                warnings: self.warnings,
            }),
            Phase::Failed => Err(Error::Failed { gun: self.gun }),
            _ => Err(Error::NotDone {
                pending: self
                    .pending
                    .as_ref()
                    .map_or_else(|| "nothing".to_owned(), Request::path),
                gun: self.gun,
            }),
        }
    }

    // ---- driving -------------------------------------------------------------------------

    fn recover_or_fail(&mut self, err: Error) -> Result<()> {
        let in_pass = matches!(
            self.phase,
            Phase::Timestamp | Phase::Snapshot | Phase::Targets | Phase::Delegations(_)
        );
        let recoverable = !matches!(err, Error::Unavailable { .. } | Error::TooLarge { .. });
        if self.attempt == 1
            && in_pass
            && recoverable
            && let Some(root) = self.root.clone()
        {
            self.attempt = 2;
            self.warnings.push(Warning::Retried {
                error: err.to_string(),
            });
            let expected = self.pass.next_root_checksum.take();
            self.pass = Pass::default();
            let (env, _) = root.into_parts();
            self.phase = Phase::Root(Box::new(RootWalk::new(
                Some(env),
                self.root_pinned,
                expected,
            )));
            self.pending = None;
            return match self.advance() {
                Ok(()) => Ok(()),
                Err(e) => self.fail(e),
            };
        }
        self.fail(err)
    }

    fn fail(&mut self, err: Error) -> Result<()> {
        self.phase = Phase::Failed;
        self.pending = None;
        Err(err)
    }

    /// Moves forward without the network until a request is needed or the update is done.
    fn advance(&mut self) -> Result<()> {
        loop {
            match &mut self.phase {
                Phase::Root(walk) => {
                    if walk.newest.is_none() {
                        if let (Some((meta, _)), Some(root)) = (&walk.expected, &self.root)
                            && check_bytes(meta, root.bytes()).is_ok()
                        {
                            // The trusted root is still the newest one.
                            self.phase = Phase::Timestamp;
                            continue;
                        }
                        let request = match &walk.expected {
                            Some((meta, _)) => request_for(role::ROOT, meta),
                            None => Request {
                                role: role::ROOT.into(),
                                name: role::ROOT.into(),
                                max_len: self.limits.max_root_len,
                                expected: None,
                            },
                        };
                        self.pending = Some(request);
                    } else {
                        self.pending = Some(Request {
                            role: role::ROOT.into(),
                            name: format!("{}.{}", walk.next_version, role::ROOT),
                            max_len: self.limits.max_root_len,
                            expected: None,
                        });
                    }
                    return Ok(());
                }
                Phase::Timestamp => {
                    self.pending = Some(Request {
                        role: role::TIMESTAMP.into(),
                        name: role::TIMESTAMP.into(),
                        max_len: self.limits.max_timestamp_len,
                        expected: None,
                    });
                    return Ok(());
                }
                Phase::Snapshot => {
                    let (meta, _) = self.snapshot_meta()?;
                    if let Some(cached) = self.cache.snapshot.as_ref()
                        && check_bytes(&meta, cached).is_ok()
                        && let Ok(v) = self.load_snapshot(Arc::new(cached.clone()), 1)
                    {
                        self.pass.snapshot = Some(v);
                        self.phase = Phase::Targets;
                        continue;
                    }
                    self.pending = Some(request_for(role::SNAPSHOT, &meta));
                    return Ok(());
                }
                Phase::Targets => {
                    let (meta, _) = self.meta_from_snapshot(role::TARGETS)?;
                    if let Some(cached) = self.cache.targets.as_ref()
                        && check_bytes(&meta, cached).is_ok()
                        && let Ok(v) = self.load_targets(Arc::new(cached.clone()), 1)
                    {
                        self.accept_targets(v, false);
                        continue;
                    }
                    self.pending = Some(request_for(role::TARGETS, &meta));
                    return Ok(());
                }
                Phase::Delegations(current) => {
                    *current = None;
                    let Some(next) = self.pass.queue.pop_front() else {
                        self.finish_pass()?;
                        continue;
                    };
                    if self.pass.targets.contains_key(&next.name) {
                        continue;
                    }
                    let skip = |reason| Warning::DelegationSkipped {
                        role: next.name.clone(),
                        reason,
                    };
                    if next.depth() > self.limits.max_delegation_depth {
                        let limit = self.limits.max_delegation_depth;
                        self.pass.warnings.push(skip(SkipReason::TooDeep { limit }));
                        continue;
                    }
                    if self.pass.delegations_loaded >= self.limits.max_delegations {
                        let limit = self.limits.max_delegations;
                        self.pass.warnings.push(skip(SkipReason::TooMany { limit }));
                        continue;
                    }
                    let Some(meta) = self
                        .pass
                        .snapshot
                        .as_ref()
                        .and_then(|s| s.signed().meta.get(&next.name))
                        .cloned()
                    else {
                        self.pass.warnings.push(skip(SkipReason::NotInSnapshot));
                        continue;
                    };
                    if let Some(cached) = self.cache.delegations.get(&next.name)
                        && check_bytes(&meta, cached).is_ok()
                        && let Ok(DelegationLoad::Loaded(v)) =
                            self.load_delegation(Arc::new(cached.clone()), &next, 1)
                    {
                        self.accept_delegation(&next, *v, false);
                        continue;
                    }
                    self.pending = Some(request_for(&next.name, &meta));
                    self.phase = Phase::Delegations(Some(next));
                    return Ok(());
                }
                Phase::Done(_) | Phase::Failed => return Ok(()),
            }
        }
    }

    fn handle(&mut self, request: &Request, result: FetchResult) -> Result<()> {
        let bytes = match result {
            FetchResult::Bytes(b) => b,
            FetchResult::NotFound => return self.on_not_found(request),
            FetchResult::Unavailable(reason) => return self.on_unavailable(request, reason),
        };
        let found = bytes.len() as u64;
        if found > request.max_len {
            return Err(Error::TooLarge {
                gun: self.gun.clone(),
                role: request.role.clone(),
                file: request.path(),
                limit: request.max_len,
                found,
            });
        }
        match &self.phase {
            Phase::Root(walk) if walk.newest.is_none() => self.on_newest_root(bytes),
            Phase::Root(_) => self.on_intermediate_root(bytes),
            Phase::Timestamp => {
                let floor = self.floor(role::TIMESTAMP);
                let v = self.load_timestamp(Arc::new(bytes), floor)?;
                self.writes
                    .insert(role::TIMESTAMP.into(), Arc::clone(v.shared_bytes()));
                self.pass.timestamp = Some(v);
                self.phase = Phase::Snapshot;
                Ok(())
            }
            Phase::Snapshot => {
                let (meta, ts_version) = self.snapshot_meta()?;
                self.check_expected(role::SNAPSHOT, role::TIMESTAMP, ts_version, &meta, &bytes)?;
                let floor = self.floor(role::SNAPSHOT);
                let v = self.load_snapshot(Arc::new(bytes), floor)?;
                self.writes
                    .insert(role::SNAPSHOT.into(), Arc::clone(v.shared_bytes()));
                self.pass.snapshot = Some(v);
                self.phase = Phase::Targets;
                Ok(())
            }
            Phase::Targets => {
                let (meta, sn_version) = self.meta_from_snapshot(role::TARGETS)?;
                self.check_expected(role::TARGETS, role::SNAPSHOT, sn_version, &meta, &bytes)?;
                let floor = self.floor(role::TARGETS);
                let v = self.load_targets(Arc::new(bytes), floor)?;
                self.accept_targets(v, true);
                Ok(())
            }
            Phase::Delegations(Some(current)) => {
                let current = current.clone();
                let (meta, sn_version) = self.meta_from_snapshot(&current.name)?;
                self.check_expected(&current.name, role::SNAPSHOT, sn_version, &meta, &bytes)?;
                let floor = self.delegation_floor(&current);
                match self.load_delegation(Arc::new(bytes), &current, floor)? {
                    DelegationLoad::Loaded(v) => self.accept_delegation(&current, *v, true),
                    DelegationLoad::Skipped(reason) => {
                        self.pass.warnings.push(Warning::DelegationSkipped {
                            role: current.name.clone(),
                            reason,
                        });
                    }
                }
                Ok(())
            }
            Phase::Delegations(None) | Phase::Done(_) | Phase::Failed => Ok(()),
        }
    }

    fn on_not_found(&mut self, request: &Request) -> Result<()> {
        if matches!(&self.phase, Phase::Root(w) if w.prev.is_none() && w.newest.is_none()) {
            return Err(Error::RepositoryNotFound {
                gun: self.gun.clone(),
            });
        }
        Err(Error::NotFound {
            gun: self.gun.clone(),
            role: request.role.clone(),
            file: request.path(),
        })
    }

    fn on_unavailable(&mut self, request: &Request, reason: String) -> Result<()> {
        if matches!(self.phase, Phase::Timestamp)
            && let Some(cached) = self.cache.timestamp.as_ref()
            && cached.len() as u64 <= self.limits.max_timestamp_len
        {
            let v = self.load_timestamp(Arc::new(cached.clone()), 1)?;
            self.pass.timestamp = Some(v);
            self.pass
                .warnings
                .push(Warning::UsingCachedTimestamp { reason });
            self.phase = Phase::Snapshot;
            return Ok(());
        }
        Err(Error::Unavailable {
            gun: self.gun.clone(),
            role: request.role.clone(),
            file: request.path(),
            reason,
        })
    }
}

impl RootWalk {
    fn new(prev: Option<Envelope<Root>>, pinned: bool, expected: Option<(FileMeta, i64)>) -> Self {
        Self {
            prev,
            pinned,
            expected,
            newest: None,
            next_version: 0,
        }
    }
}

fn parse<T: Metadata>(bytes: &[u8]) -> crate::Result<Envelope<T>> {
    Envelope::<T>::parse(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn updater_and_outcome_can_cross_threads() {
        fn send<T: Send + Sync>() {}
        send::<Updater>();
        send::<UpdateOutcome>();
        send::<Error>();
    }
}
