//! In-memory caches for metadata reads.
//!
//! * Files addressed by checksum or by version never change while their GUN exists, so they
//!   are kept without any time limit (bounded only by a total size, oldest out first).
//! * The current timestamp of a GUN (the pointer every other "current" read starts from) is
//!   kept for a short time-to-live. Writes through this process drop it at once; writes
//!   through other replicas sharing the database are noticed by polling the changefeed (every
//!   timestamp write and every delete adds a record), which drops the GUN's entries, so a
//!   replica serves a superseded timestamp for at most about one poll interval, and never
//!   longer than the time-to-live even when polling fails.
//! * A delete drops every entry of the GUN, including the immutable ones, because a GUN
//!   deleted and created again reuses versions with different content.
//!
//! # Bounds for replicas sharing one database
//!
//! With `P` the poll interval (`caching.poll_interval_ms`, default 1 s) and `T` the
//! time-to-live of current timestamps (`caching.current_ttl_ms`, default 2 s), after a write
//! or delete through another replica commits:
//!
//! * this replica serves the new current metadata after at most `P` plus the duration of
//!   one changefeed query, while the database answers; never later than `T` in any case;
//! * files by checksum or version of a GUN deleted elsewhere stop being served after at most
//!   `P` plus one changefeed query. While the changefeed cannot be read these entries stay
//!   (they are not bounded by `T`); reads that reach the database fail meanwhile anyway.
//!
//! Writes through this replica are visible to its own next request at once.
//! `tests/postgres_replicas.rs` checks both bounds with two routers on one database.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use std::sync::OnceLock;

use crate::pointers::Pointers;
use crate::store::StoredFile;

/// A stored file with its pointers, read once on first use.
#[derive(Debug)]
pub struct CachedFile {
    /// The stored file.
    pub file: StoredFile,
    pointers: OnceLock<Pointers>,
}

impl CachedFile {
    /// Wraps a stored file.
    pub fn new(file: StoredFile) -> Arc<Self> {
        Arc::new(Self {
            file,
            pointers: OnceLock::new(),
        })
    }

    /// The file's expiry, version and meta hashes.
    pub fn pointers(&self) -> &Pointers {
        self.pointers
            .get_or_init(|| Pointers::read(&self.file.data))
    }
}

/// How an immutable entry is addressed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Addr {
    Checksum(String),
    Version(i64),
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    gun: String,
    role: String,
    addr: Addr,
}

#[derive(Debug)]
struct Entry {
    file: Arc<CachedFile>,
    /// Generation of the GUN when inserted; entries of older generations are dead.
    generation: u64,
}

#[derive(Debug, Default)]
struct Immutable {
    map: HashMap<Key, Entry>,
    order: VecDeque<Key>,
    bytes: usize,
}

#[derive(Debug, Clone)]
struct Pointer {
    file: Option<Arc<CachedFile>>,
    fetched: Instant,
    generation: u64,
}

#[derive(Debug, Default)]
struct State {
    immutable: Immutable,
    timestamps: HashMap<String, Pointer>,
    /// Per-GUN generations: (deletes, writes). Deletes bump both.
    generations: HashMap<String, Gen>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Gen {
    deletes: u64,
    writes: u64,
}

impl State {
    fn generation(&self, gun: &str) -> Gen {
        self.generations.get(gun).copied().unwrap_or_default()
    }
}

/// Cache settings.
#[derive(Debug, Clone, Copy)]
pub struct CacheSettings {
    /// Total bytes of immutable files kept; 0 turns the immutable cache off.
    pub max_bytes: usize,
    /// How long a current timestamp is trusted without re-reading it; zero turns it off.
    pub current_ttl: Duration,
}

impl Default for CacheSettings {
    fn default() -> Self {
        Self {
            max_bytes: 256 * 1024 * 1024,
            current_ttl: Duration::from_secs(2),
        }
    }
}

/// The metadata cache, shared by all request handlers.
#[derive(Debug, Clone)]
pub struct MetaCache {
    settings: CacheSettings,
    state: Arc<Mutex<State>>,
}

/// A token taken before reading the database: a value read after an invalidation of the
/// same GUN began is not cached, so a slow read can never put back a stale value.
#[derive(Debug, Clone, Copy)]
pub struct ReadTicket(Gen);

impl MetaCache {
    /// An empty cache.
    pub fn new(settings: CacheSettings) -> Self {
        Self {
            settings,
            state: Arc::new(Mutex::new(State::default())),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the maps inconsistent in a way that
        // matters for a cache; keep serving.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes a ticket for `gun` before a database read.
    pub fn ticket(&self, gun: &str) -> ReadTicket {
        ReadTicket(self.lock().generation(gun))
    }

    /// The cached file of `role` of `gun` with this checksum.
    pub fn by_checksum(&self, gun: &str, role: &str, sha256_hex: &str) -> Option<Arc<CachedFile>> {
        self.get(gun, role, Addr::Checksum(sha256_hex.to_owned()))
    }

    /// The cached file of `role` of `gun` with this version.
    pub fn by_version(&self, gun: &str, role: &str, version: i64) -> Option<Arc<CachedFile>> {
        self.get(gun, role, Addr::Version(version))
    }

    fn get(&self, gun: &str, role: &str, addr: Addr) -> Option<Arc<CachedFile>> {
        if self.settings.max_bytes == 0 {
            return None;
        }
        let key = Key {
            gun: gun.to_owned(),
            role: role.to_owned(),
            addr,
        };
        let st = self.lock();
        let generation = st.generation(gun).deletes;
        st.immutable
            .map
            .get(&key)
            .filter(|e| e.generation == generation)
            .map(|e| Arc::clone(&e.file))
    }

    /// Caches a stored file under both its checksum and its version.
    pub fn put_file(&self, gun: &str, file: &Arc<CachedFile>, ticket: ReadTicket) {
        let size = file.file.data.len();
        if self.settings.max_bytes == 0 || size > self.settings.max_bytes {
            return;
        }
        let mut st = self.lock();
        let generation = st.generation(gun).deletes;
        if generation != ticket.0.deletes {
            return;
        }
        for addr in [
            Addr::Checksum(file.file.sha256_hex()),
            Addr::Version(file.file.version),
        ] {
            let key = Key {
                gun: gun.to_owned(),
                role: file.file.role.clone(),
                addr,
            };
            let entry = Entry {
                file: Arc::clone(file),
                generation,
            };
            match st.immutable.map.insert(key.clone(), entry) {
                Some(old) => {
                    st.immutable.bytes =
                        st.immutable.bytes.saturating_sub(old.file.file.data.len());
                }
                None => st.immutable.order.push_back(key),
            }
            st.immutable.bytes += size;
        }
        while st.immutable.bytes > self.settings.max_bytes {
            let Some(old) = st.immutable.order.pop_front() else {
                break;
            };
            if let Some(e) = st.immutable.map.remove(&old) {
                st.immutable.bytes = st.immutable.bytes.saturating_sub(e.file.file.data.len());
            }
        }
    }

    /// The cached current timestamp of `gun`: `Some(None)` means "known to have none".
    pub fn timestamp(&self, gun: &str) -> Option<Option<Arc<CachedFile>>> {
        if self.settings.current_ttl.is_zero() {
            return None;
        }
        let st = self.lock();
        let generation = st.generation(gun).writes;
        st.timestamps
            .get(gun)
            .filter(|p| {
                p.generation == generation && p.fetched.elapsed() < self.settings.current_ttl
            })
            .map(|p| p.file.clone())
    }

    /// Caches the current timestamp of `gun` (or its absence).
    pub fn put_timestamp(&self, gun: &str, file: Option<Arc<CachedFile>>, ticket: ReadTicket) {
        if self.settings.current_ttl.is_zero() {
            return;
        }
        let mut st = self.lock();
        let generation = st.generation(gun).writes;
        if generation != ticket.0.writes {
            return;
        }
        if st.timestamps.len() > 100_000 {
            st.timestamps.clear();
        }
        st.timestamps.insert(
            gun.to_owned(),
            Pointer {
                file,
                fetched: Instant::now(),
                generation,
            },
        );
    }

    /// Drops the current pointer of `gun` after a write.
    pub fn invalidate_current(&self, gun: &str) {
        let mut st = self.lock();
        st.timestamps.remove(gun);
        st.generations.entry(gun.to_owned()).or_default().writes += 1;
    }

    /// Drops everything cached for `gun` after a delete.
    pub fn invalidate_gun(&self, gun: &str) {
        let mut st = self.lock();
        st.timestamps.remove(gun);
        let g = st.generations.entry(gun.to_owned()).or_default();
        g.writes += 1;
        g.deletes += 1;
        let Immutable { map, order, bytes } = &mut st.immutable;
        map.retain(|k, e| {
            let keep = k.gun != gun;
            if !keep {
                *bytes = bytes.saturating_sub(e.file.file.data.len());
            }
            keep
        });
        order.retain(|k| k.gun != gun);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn file(role: &str, version: i64, data: &'static [u8]) -> Arc<CachedFile> {
        use sha2::Digest;
        let mut sha = [0u8; 32];
        sha.copy_from_slice(&sha2::Sha256::digest(data));
        CachedFile::new(StoredFile {
            role: role.into(),
            version,
            sha256: sha,
            data: Bytes::from_static(data),
            created_at: chrono::Utc::now(),
        })
    }

    #[test]
    fn immutable_entries_by_checksum_and_version() {
        let c = MetaCache::new(CacheSettings::default());
        let f = file("root", 1, b"abc");
        c.put_file("g", &f, c.ticket("g"));
        assert!(c.by_checksum("g", "root", &f.file.sha256_hex()).is_some());
        assert!(c.by_version("g", "root", 1).is_some());
        assert!(c.by_version("g", "targets", 1).is_none());
        assert!(c.by_version("h", "root", 1).is_none());
        c.invalidate_current("g");
        assert!(
            c.by_version("g", "root", 1).is_some(),
            "updates keep immutable files"
        );
        c.invalidate_gun("g");
        assert!(c.by_version("g", "root", 1).is_none(), "deletes drop them");
    }

    #[test]
    fn stale_reads_are_not_cached() {
        let c = MetaCache::new(CacheSettings::default());
        let t = c.ticket("g");
        c.invalidate_current("g");
        c.put_timestamp("g", Some(file("timestamp", 1, b"t")), t);
        assert!(c.timestamp("g").is_none());
        let t = c.ticket("g");
        c.put_timestamp("g", None, t);
        assert!(matches!(c.timestamp("g"), Some(None)));
    }

    #[test]
    fn size_bound_evicts_oldest() {
        let c = MetaCache::new(CacheSettings {
            max_bytes: 8,
            current_ttl: Duration::from_secs(1),
        });
        let a = file("root", 1, b"aa");
        let b = file("root", 2, b"bb");
        let d = file("root", 3, b"dd");
        for f in [&a, &b, &d] {
            c.put_file("g", f, c.ticket("g"));
        }
        assert!(c.by_version("g", "root", 1).is_none());
        assert!(c.by_version("g", "root", 3).is_some());
    }

    #[test]
    fn ttl_zero_disables_pointer_cache() {
        let c = MetaCache::new(CacheSettings {
            max_bytes: 0,
            current_ttl: Duration::ZERO,
        });
        c.put_timestamp("g", None, c.ticket("g"));
        assert!(c.timestamp("g").is_none());
    }
}
