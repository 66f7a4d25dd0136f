//! The update state machine.

use std::collections::{BTreeMap, VecDeque};

use chrono::{DateTime, Months, Utc};
use sha2::{Digest as _, Sha256, Sha512};

use super::config::{Limits, TrustedState, UpdateConfig};
use super::delegation::ResolvedRole;
use super::error::{Error, Result};
use super::pinning::{PinMode, TrustPinning};
use super::repository::{Repository, Verified};
use super::request::{CacheWrite, Expected, FetchResult, Need, Request};
use super::warning::{SkipReason, Warning};
use crate::metadata::{Envelope, FileMeta, Metadata, Root, Snapshot, Targets, Timestamp};
use crate::role;
use crate::verify::{self, RoleKeySet};
use crate::x509;

/// What a finished update produced.
#[derive(Debug, Clone)]
pub struct UpdateOutcome {
    /// The verified repository.
    pub repository: Repository,
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
/// 5. **Recovery**: if any step of 2–3 fails (other than the server being unavailable), the
///    newest root is fetched (`root.<sha256>.json` when the snapshot named it, else
///    `root.json`), validated against the trusted root — walking `<v>.root.json` for every
///    intermediate version when it is not directly signed by the trusted root — and steps 2–3
///    are run once more. A second failure is returned.
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
    writes: BTreeMap<String, Vec<u8>>,
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
    Done(Box<Repository>),
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
                    up.root = Some(Verified::new(env, bytes));
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
                bytes: bytes.clone(),
            })
            .collect()
    }

    /// Ends the update.
    ///
    /// # Errors
    ///
    /// [`Error::NotDone`] while a request is pending, [`Error::Failed`] after a failure.
    pub fn finish(self) -> Result<UpdateOutcome> {
        let cache_writes = self.cache_writes();
        match self.phase {
            Phase::Done(repository) => Ok(UpdateOutcome {
                repository: *repository,
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
                    if let Some(cached) = self.cache.snapshot.clone()
                        && check_bytes(&meta, &cached).is_ok()
                        && let Ok(v) = self.load_snapshot(&cached, 1)
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
                    if let Some(cached) = self.cache.targets.clone()
                        && check_bytes(&meta, &cached).is_ok()
                        && let Ok(v) = self.load_targets(&cached, 1)
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
                    if let Some(cached) = self.cache.delegations.get(&next.name).cloned()
                        && check_bytes(&meta, &cached).is_ok()
                        && let Ok(DelegationLoad::Loaded(v)) =
                            self.load_delegation(&cached, &next, 1)
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
                let v = self.load_timestamp(&bytes, floor)?;
                self.pass.timestamp = Some(v);
                self.writes.insert(role::TIMESTAMP.into(), bytes);
                self.phase = Phase::Snapshot;
                Ok(())
            }
            Phase::Snapshot => {
                let (meta, ts_version) = self.snapshot_meta()?;
                self.check_expected(role::SNAPSHOT, role::TIMESTAMP, ts_version, &meta, &bytes)?;
                let floor = self.floor(role::SNAPSHOT);
                let v = self.load_snapshot(&bytes, floor)?;
                self.pass.snapshot = Some(v);
                self.writes.insert(role::SNAPSHOT.into(), bytes);
                self.phase = Phase::Targets;
                Ok(())
            }
            Phase::Targets => {
                let (meta, sn_version) = self.meta_from_snapshot(role::TARGETS)?;
                self.check_expected(role::TARGETS, role::SNAPSHOT, sn_version, &meta, &bytes)?;
                let floor = self.floor(role::TARGETS);
                let v = self.load_targets(&bytes, floor)?;
                self.accept_targets(v, true);
                Ok(())
            }
            Phase::Delegations(Some(current)) => {
                let current = current.clone();
                let (meta, sn_version) = self.meta_from_snapshot(&current.name)?;
                self.check_expected(&current.name, role::SNAPSHOT, sn_version, &meta, &bytes)?;
                let floor = self.delegation_floor(&current);
                match self.load_delegation(&bytes, &current, floor)? {
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
            && let Some(cached) = self.cache.timestamp.clone()
        {
            let v = self.load_timestamp(&cached, 1)?;
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

    // ---- root ----------------------------------------------------------------------------

    fn on_newest_root(&mut self, bytes: Vec<u8>) -> Result<()> {
        let Phase::Root(walk) = &self.phase else {
            return Ok(());
        };
        if let Some((meta, sn_version)) = &walk.expected {
            self.check_expected(role::ROOT, role::SNAPSHOT, *sn_version, meta, &bytes)?;
        }
        let env = parse::<Root>(&bytes).map_err(|e| self.invalid(role::ROOT, None, e))?;
        let version = env.signed().version;
        if version < self.root_floor {
            return Err(self.rollback(role::ROOT, version, self.root_floor));
        }
        if let Some(prev) = &walk.prev
            && let Err(source) = rotation_check(&env, prev.signed(), &self.gun)
        {
            let prev_version = prev.signed().version;
            if version > prev_version.saturating_add(1) {
                if let Phase::Root(walk) = &mut self.phase {
                    walk.next_version = prev_version + 1;
                    walk.newest = Some((env, bytes));
                }
                return Ok(());
            }
            return Err(Error::RootRotation {
                gun: self.gun.clone(),
                version,
                trusted_version: prev_version,
                source: Box::new(source),
            });
        }
        self.accept_newest_root(env, bytes)
    }

    fn on_intermediate_root(&mut self, bytes: Vec<u8>) -> Result<()> {
        let Phase::Root(walk) = &self.phase else {
            return Ok(());
        };
        let expected = walk.next_version;
        let file = format!("{expected}.root.json");
        let env = parse::<Root>(&bytes).map_err(|e| self.invalid(role::ROOT, None, e))?;
        let version = env.signed().version;
        if version != expected {
            return Err(Error::RootVersion {
                gun: self.gun.clone(),
                file,
                expected,
                found: version,
            });
        }
        if let Some(prev) = &walk.prev {
            rotation_check(&env, prev.signed(), &self.gun).map_err(|source| {
                Error::RootRotation {
                    gun: self.gun.clone(),
                    version,
                    trusted_version: prev.signed().version,
                    source: Box::new(source),
                }
            })?;
        }
        // Intermediate roots may have expired, and so may their certificates.
        root_self_check(&env, &self.gun, None)
            .map_err(|e| self.invalid(role::ROOT, Some(version), e))?;
        let Phase::Root(walk) = &mut self.phase else {
            return Ok(());
        };
        walk.prev = Some(env);
        walk.next_version = expected + 1;
        let Some((newest, newest_bytes)) = walk.newest.take() else {
            return Ok(());
        };
        if walk.next_version < newest.signed().version {
            walk.newest = Some((newest, newest_bytes));
            return Ok(());
        }
        if let Some(prev) = &walk.prev {
            rotation_check(&newest, prev.signed(), &self.gun).map_err(|source| {
                Error::RootRotation {
                    gun: self.gun.clone(),
                    version: newest.signed().version,
                    trusted_version: prev.signed().version,
                    source: Box::new(source),
                }
            })?;
        }
        self.accept_newest_root(newest, newest_bytes)
    }

    fn accept_newest_root(&mut self, env: Envelope<Root>, bytes: Vec<u8>) -> Result<()> {
        let Phase::Root(walk) = &self.phase else {
            return Ok(());
        };
        let pinned = walk.pinned;
        let first_use = walk.prev.is_none();
        let version = env.signed().version;
        root_self_check(&env, &self.gun, Some(self.now))
            .map_err(|e| self.invalid(role::ROOT, Some(version), e))?;
        if pinned {
            self.check_pinning(&env, first_use)?;
        }
        if version < self.root_floor {
            return Err(self.rollback(role::ROOT, version, self.root_floor));
        }
        self.check_expiry(role::ROOT, env.signed())?;
        if self.cache.root.as_deref() != Some(bytes.as_slice()) {
            self.writes.insert(role::ROOT.into(), bytes.clone());
        }
        self.root = Some(Verified::new(env, bytes));
        self.root_pinned = pinned;
        self.phase = Phase::Timestamp;
        Ok(())
    }

    fn check_pinning(&self, env: &Envelope<Root>, first_use: bool) -> Result<()> {
        let reject = |reason: &str| Error::TrustPinning {
            gun: self.gun.clone(),
            reason: reason.to_owned(),
        };
        let root = env.signed();
        let keys = x509::root_certificate_keys(root, &self.gun, Some(self.now));
        let pinned: BTreeMap<_, _> = match self.pinning.mode_for(&self.gun) {
            PinMode::Tofu { disabled } => {
                return if disabled && first_use {
                    Err(reject("invalid trust pinning specified"))
                } else {
                    Ok(())
                };
            }
            PinMode::Certs(ids) => keys
                .into_iter()
                .filter(|(id, _)| ids.iter().any(|p| p == id.as_str()))
                .collect(),
            PinMode::Ca(validator) => keys
                .into_iter()
                .filter(|(_, key)| {
                    let Ok(bundle) = x509::parse_bundle(key.public()) else {
                        return false;
                    };
                    x509::split_leaf(&bundle)
                        .is_some_and(|(leaf, ints)| validator.chains_to_ca(leaf, &ints, self.now))
                })
                .collect(),
        };
        if pinned.is_empty() {
            return Err(reject(
                "unable to match any certificates to trust_pinning config",
            ));
        }
        let set = RoleKeySet {
            role: role::ROOT.into(),
            keys: pinned,
            threshold: root.role(role::ROOT).map_or(0, |r| r.threshold),
        };
        set.verify_envelope(env)
            .map(|_| ())
            .map_err(|_| reject("failed to validate integrity of roots"))
    }

    // ---- timestamp, snapshot, targets ---------------------------------------------------

    fn trusted_root(&self) -> Result<&Verified<Root>> {
        self.root.as_ref().ok_or_else(|| Error::Failed {
            gun: self.gun.clone(),
        })
    }

    fn snapshot_meta(&self) -> Result<(FileMeta, i64)> {
        let ts = self.pass.timestamp.as_ref().ok_or_else(|| Error::Failed {
            gun: self.gun.clone(),
        })?;
        // A validated timestamp always has it.
        let meta = ts.signed().snapshot_meta().cloned().ok_or_else(|| {
            self.invalid(
                role::TIMESTAMP,
                Some(ts.version()),
                crate::Error::InvalidMetadata {
                    role: role::TIMESTAMP.into(),
                    reason: "missing snapshot sha256 checksum information".into(),
                },
            )
        })?;
        Ok((meta, ts.version()))
    }

    fn meta_from_snapshot(&self, name: &str) -> Result<(FileMeta, i64)> {
        let sn = self.pass.snapshot.as_ref().ok_or_else(|| Error::Failed {
            gun: self.gun.clone(),
        })?;
        let meta = sn.signed().meta.get(name).cloned().ok_or_else(|| {
            self.invalid(
                role::SNAPSHOT,
                Some(sn.version()),
                crate::Error::InvalidMetadata {
                    role: role::SNAPSHOT.into(),
                    reason: format!("missing {name} sha256 checksum information"),
                },
            )
        })?;
        Ok((meta, sn.version()))
    }

    fn load_timestamp(&self, bytes: &[u8], min: i64) -> Result<Verified<Timestamp>> {
        let root = self.trusted_root()?.signed();
        let env = self.load_base(role::TIMESTAMP, bytes, min, |env| {
            verify::verify_timestamp(env, root)
        })?;
        Ok(Verified::new(env, bytes.to_vec()))
    }

    fn load_snapshot(&mut self, bytes: &[u8], min: i64) -> Result<Verified<Snapshot>> {
        let root = self.trusted_root()?;
        let env = self.load_base(role::SNAPSHOT, bytes, min, |env| {
            verify::verify_snapshot(env, root.signed())
        })?;
        let version = env.signed().version;
        let root_meta = env.signed().meta.get(role::ROOT).cloned();
        let root_bytes = root.bytes().to_vec();
        if let Some(meta) = root_meta {
            self.pass.next_root_checksum = Some((meta.clone(), version));
            self.check_expected(role::ROOT, role::SNAPSHOT, version, &meta, &root_bytes)?;
        }
        Ok(Verified::new(env, bytes.to_vec()))
    }

    fn load_targets(&self, bytes: &[u8], min: i64) -> Result<Verified<Targets>> {
        let root = self.trusted_root()?.signed();
        let env = self.load_base(role::TARGETS, bytes, min, |env| {
            verify::verify_targets(env, root)
        })?;
        Ok(Verified::new(env, bytes.to_vec()))
    }

    /// Parse, signatures and structure, version floor, expiry.
    fn load_base<T: Metadata>(
        &self,
        role_name: &str,
        bytes: &[u8],
        min: i64,
        verify: impl FnOnce(&Envelope<T>) -> crate::Result<u64>,
    ) -> Result<Envelope<T>> {
        let env = parse::<T>(bytes).map_err(|e| self.invalid(role_name, None, e))?;
        let version = env.signed().version();
        verify(&env).map_err(|e| self.invalid(role_name, Some(version), e))?;
        if version < min {
            return Err(self.rollback(role_name, version, min));
        }
        self.check_expiry(role_name, env.signed())?;
        Ok(env)
    }

    fn accept_targets(&mut self, v: Verified<Targets>, write: bool) {
        if write {
            self.writes.insert(role::TARGETS.into(), v.bytes().to_vec());
        }
        let children = self
            .root
            .as_ref()
            .and_then(|r| ResolvedRole::top_level(r.signed()))
            .map(|top| top.children(v.signed()))
            .unwrap_or_default();
        self.pass.targets.insert(role::TARGETS.into(), v);
        self.pass.queue = children.into();
        self.phase = Phase::Delegations(None);
    }

    // ---- delegations ---------------------------------------------------------------------

    fn load_delegation(
        &self,
        bytes: &[u8],
        current: &ResolvedRole,
        min: i64,
    ) -> Result<DelegationLoad> {
        let name = current.name.as_str();
        let env = parse::<Targets>(bytes).map_err(|e| self.invalid(name, None, e))?;
        let version = env.signed().version;
        env.signed()
            .validate(name)
            .map_err(|e| self.invalid(name, Some(version), e))?;
        if version < min {
            return Err(self.rollback(name, version, min));
        }
        let set = RoleKeySet {
            role: name.to_owned(),
            keys: current.keys.clone(),
            threshold: current.threshold,
        };
        match set.verify_envelope(&env) {
            Ok(_) => {}
            Err(e @ (crate::Error::ThresholdNotMet { .. } | crate::Error::NoSignatures { .. })) => {
                return Ok(DelegationLoad::Skipped(SkipReason::Threshold {
                    version,
                    error: e.to_string(),
                }));
            }
            Err(e) => return Err(self.invalid(name, Some(version), e)),
        }
        if env.signed().expires.is_expired(self.now) {
            return Ok(DelegationLoad::Skipped(SkipReason::Expired {
                version,
                expires: env.signed().expires.as_str().to_owned(),
            }));
        }
        Ok(DelegationLoad::Loaded(Box::new(Verified::new(
            env,
            bytes.to_vec(),
        ))))
    }

    fn accept_delegation(&mut self, current: &ResolvedRole, v: Verified<Targets>, write: bool) {
        if write {
            self.writes.insert(current.name.clone(), v.bytes().to_vec());
        }
        for child in current.children(v.signed()).into_iter().rev() {
            self.pass.queue.push_front(child);
        }
        self.pass.delegations_loaded += 1;
        self.pass.targets.insert(current.name.clone(), v);
    }

    fn finish_pass(&mut self) -> Result<()> {
        let pass = std::mem::take(&mut self.pass);
        let root = self.trusted_root()?.clone();
        let (Some(timestamp), Some(snapshot)) = (pass.timestamp, pass.snapshot) else {
            return Err(Error::Failed {
                gun: self.gun.clone(),
            });
        };
        self.warnings.extend(pass.warnings);
        let near = |role: &str, expires: &crate::metadata::Expires| {
            crate::repo::near_expiry(expires, self.now).then(|| Warning::NearExpiry {
                role: role.to_owned(),
                expires: expires.as_str().to_owned(),
            })
        };
        let mut late = Vec::new();
        late.extend(near(role::ROOT, &root.signed().expires));
        late.extend(near(role::SNAPSHOT, &snapshot.signed().expires));
        for (name, t) in &pass.targets {
            late.extend(near(name, &t.signed().expires));
        }
        if let Some(limit) = self.now.checked_add_months(Months::new(6)) {
            for (key_id, key) in x509::root_certificate_keys(root.signed(), &self.gun, None) {
                let leaf_end = x509::parse_bundle(key.public())
                    .ok()
                    .and_then(|b| b.first().map(x509::Certificate::not_after));
                if let Some(not_after) = leaf_end
                    && not_after < limit
                {
                    late.push(Warning::CertificateNearExpiry { key_id, not_after });
                }
            }
        }
        self.warnings.extend(late);
        let repository = Repository::new(self.gun.clone(), root, timestamp, snapshot, pass.targets);
        self.phase = Phase::Done(Box::new(repository));
        self.pending = None;
        Ok(())
    }

    // ---- version floors from the cache -----------------------------------------------------

    /// The version of the cached copy of a base role, if it verifies against the cached root
    /// or the trusted root (expiry ignored); 1 otherwise.
    fn floor(&self, role_name: &str) -> i64 {
        let Some(bytes) = self.cache.get(role_name) else {
            return 1;
        };
        let roots = [
            self.cached_root.as_ref().map(Envelope::signed),
            self.root.as_ref().map(Verified::signed),
        ];
        for root in roots.into_iter().flatten() {
            let version = match role_name {
                role::TIMESTAMP => parse::<Timestamp>(bytes)
                    .ok()
                    .filter(|e| verify::verify_timestamp(e, root).is_ok())
                    .map(|e| e.signed().version),
                role::SNAPSHOT => parse::<Snapshot>(bytes)
                    .ok()
                    .filter(|e| verify::verify_snapshot(e, root).is_ok())
                    .map(|e| e.signed().version),
                _ => parse::<Targets>(bytes)
                    .ok()
                    .filter(|e| verify::verify_targets(e, root).is_ok())
                    .map(|e| e.signed().version),
            };
            if let Some(v) = version {
                return v;
            }
        }
        1
    }

    /// The version of the cached copy of a delegation, if it verifies against the keys its
    /// cached parent declares or the keys the role has now; 1 otherwise.
    fn delegation_floor(&mut self, current: &ResolvedRole) -> i64 {
        let Some(bytes) = self.cache.delegations.get(&current.name).cloned() else {
            return 1;
        };
        let Ok(env) = parse::<Targets>(&bytes) else {
            return 1;
        };
        let version = env.signed().version;
        let now_keys = RoleKeySet {
            role: current.name.clone(),
            keys: current.keys.clone(),
            threshold: current.threshold,
        };
        if env.signed().validate(&current.name).is_ok() && now_keys.verify_envelope(&env).is_ok() {
            return version;
        }
        let old_parent = role::parent(&current.name).and_then(|p| self.old_targets_doc(p));
        match old_parent {
            Some(parent) if verify::verify_delegation(&env, &parent, &current.name).is_ok() => {
                version
            }
            _ => 1,
        }
    }

    /// The cached document of a targets role, verified down from the cached root (expiry
    /// ignored).
    fn old_targets_doc(&mut self, name: &str) -> Option<Targets> {
        if let Some(known) = self.old_targets.get(name) {
            return known.clone();
        }
        let doc = if name == role::TARGETS {
            let root = self.cached_root.as_ref()?.signed().clone();
            self.cache
                .targets
                .as_deref()
                .and_then(|b| parse::<Targets>(b).ok())
                .filter(|e| verify::verify_targets(e, &root).is_ok())
                .map(|e| e.signed().clone())
        } else {
            let parent_name = role::parent(name)?.to_owned();
            let parent = self.old_targets_doc(&parent_name)?;
            self.cache
                .delegations
                .get(name)
                .and_then(|b| parse::<Targets>(b).ok())
                .filter(|e| verify::verify_delegation(e, &parent, name).is_ok())
                .map(|e| e.signed().clone())
        };
        self.old_targets.insert(name.to_owned(), doc.clone());
        doc
    }

    // ---- checks and errors -----------------------------------------------------------------

    fn check_expiry<T: Metadata>(&self, role_name: &str, doc: &T) -> Result<()> {
        if doc.expires().is_expired(self.now) {
            return Err(Error::Expired {
                gun: self.gun.clone(),
                role: role_name.to_owned(),
                version: doc.version(),
                expires: doc.expires().as_str().to_owned(),
            });
        }
        Ok(())
    }

    fn check_expected(
        &self,
        role_name: &str,
        referrer: &'static str,
        referrer_version: i64,
        meta: &FileMeta,
        bytes: &[u8],
    ) -> Result<()> {
        check_bytes(meta, bytes).map_err(|m| match m {
            BytesMismatch::NoHash => self.invalid(
                role_name,
                None,
                crate::Error::InvalidHashes {
                    role: role_name.to_owned(),
                    reason: format!(
                        "{referrer} version {referrer_version} records no sha256 or sha512 for it"
                    ),
                },
            ),
            BytesMismatch::Differs {
                algorithm,
                expected,
                found,
            } => Error::Mismatch {
                gun: self.gun.clone(),
                role: role_name.to_owned(),
                referrer,
                referrer_version,
                algorithm,
                expected: expected.into(),
                found: found.into(),
            },
        })
    }

    fn invalid(&self, role_name: &str, version: Option<i64>, source: crate::Error) -> Error {
        Error::Invalid {
            gun: self.gun.clone(),
            role: role_name.to_owned(),
            version,
            source: Box::new(source),
        }
    }

    fn rollback(&self, role_name: &str, found: i64, trusted: i64) -> Error {
        Error::Rollback {
            gun: self.gun.clone(),
            role: role_name.to_owned(),
            found,
            trusted,
        }
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

/// A root's structure and its signatures by its own usable root certificates (validity checked
/// at `cert_time`, or not at all).
fn root_self_check(
    env: &Envelope<Root>,
    gun: &str,
    cert_time: Option<DateTime<Utc>>,
) -> crate::Result<()> {
    let root = env.signed();
    root.validate()?;
    let keys = x509::root_certificate_keys(root, gun, cert_time);
    if keys.is_empty() {
        return Err(crate::Error::RootRejected {
            gun: gun.to_owned(),
            reason: "could not validate the path to a trusted root: unable to retrieve valid leaf certificates".into(),
        });
    }
    let set = RoleKeySet {
        role: role::ROOT.into(),
        keys,
        threshold: root.role(role::ROOT).map_or(0, |r| r.threshold),
    };
    set.verify_envelope(env).map(|_| ())
}

/// Whether `new` carries signatures from the previous root's certificate keys (expiry not
/// checked) meeting the previous root threshold.
fn rotation_check(new: &Envelope<Root>, prev: &Root, gun: &str) -> crate::Result<()> {
    let set = RoleKeySet {
        role: role::ROOT.into(),
        keys: x509::root_certificate_keys(prev, gun, None),
        threshold: prev.role(role::ROOT).map_or(0, |r| r.threshold),
    };
    set.verify_envelope(new).map(|_| ())
}

enum BytesMismatch {
    NoHash,
    Differs {
        algorithm: &'static str,
        expected: String,
        found: String,
    },
}

/// Length and every supported digest (at least one must be present).
fn check_bytes(meta: &FileMeta, bytes: &[u8]) -> std::result::Result<(), BytesMismatch> {
    let len = i64::try_from(bytes.len()).unwrap_or(i64::MAX);
    if len != meta.length {
        return Err(BytesMismatch::Differs {
            algorithm: "length",
            expected: meta.length.to_string(),
            found: len.to_string(),
        });
    }
    let mut checked = false;
    if let Some(expected) = meta.sha256() {
        let found = Sha256::digest(bytes);
        if found[..] != *expected {
            return Err(BytesMismatch::Differs {
                algorithm: "sha256",
                expected: hex::encode(expected),
                found: hex::encode(found),
            });
        }
        checked = true;
    }
    if let Some(expected) = meta.sha512() {
        let found = Sha512::digest(bytes);
        if found[..] != *expected {
            return Err(BytesMismatch::Differs {
                algorithm: "sha512",
                expected: hex::encode(expected),
                found: hex::encode(found),
            });
        }
        checked = true;
    }
    if checked {
        Ok(())
    } else {
        Err(BytesMismatch::NoHash)
    }
}

/// The request for the file `meta` describes: `<role>.<sha256 hex>` when a sha256 is known,
/// the plain role name otherwise; limited to the recorded length.
fn request_for(role_name: &str, meta: &FileMeta) -> Request {
    let name = match meta.sha256() {
        Some(h) => format!("{role_name}.{}", hex::encode(h)),
        None => role_name.to_owned(),
    };
    Request {
        role: role_name.to_owned(),
        name,
        max_len: u64::try_from(meta.length).unwrap_or(0),
        expected: Some(Expected {
            length: u64::try_from(meta.length).unwrap_or(0),
            sha256: meta.sha256().and_then(|h| h.try_into().ok()),
            sha512: meta.sha512().and_then(|h| h.try_into().ok()),
        }),
    }
}
