//! Decisions already made, so that a warm review costs no trust server round trip: bounded in
//! number, each kept for a time at most, and dropped as soon as the changefeed of the trust
//! server shows a change to the repository it is about.
//!
//! A decision about a repository of a server whose changefeed is not being read (not yet, or
//! not any more) is neither kept nor served: without the changefeed a revocation would go
//! unnoticed. Decisions that depend on no trust server (no rule matched) are kept for their
//! time like the others.
//!
//! Evaluations run outside the lock; an evaluation that started before an invalidation of its
//! repository (or before its server's changefeed was lost) is not stored, so a decision made
//! from trust data older than the last change seen never enters the cache.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use signet_client::policy::Decision;

/// The repository a decision depends on: its trust server and GUN.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Repository {
    /// The trust server's URL as the policy gives it.
    pub server: String,
    /// The GUN.
    pub gun: String,
}

/// What an evaluation must hand back to [`DecisionCache::insert`]: the cache's state when the
/// evaluation began.
#[derive(Clone, Copy, Debug)]
pub struct Ticket {
    generation: u64,
}

struct Entry {
    decision: Arc<Decision>,
    at: Instant,
    seq: u64,
    repository: Option<Repository>,
}

#[derive(Default)]
struct Inner {
    entries: HashMap<String, Entry>,
    /// Insertion order, for evicting the oldest.
    order: BTreeMap<u64, String>,
    by_repository: HashMap<Repository, HashSet<String>>,
    /// Servers whose changefeed is being read.
    live: HashSet<String>,
    next_seq: u64,
    /// Bumped by every invalidation and by every server lost.
    generation: u64,
}

/// The cache of decisions, keyed by image reference.
pub struct DecisionCache {
    capacity: usize,
    ttl: Duration,
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for DecisionCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DecisionCache")
            .field("capacity", &self.capacity)
            .field("ttl", &self.ttl)
            .field("len", &self.len())
            .finish()
    }
}

impl DecisionCache {
    /// A cache of at most `capacity` decisions (0: nothing is kept), each kept for `ttl`.
    pub fn new(capacity: usize, ttl: Duration) -> Self {
        Self {
            capacity,
            ttl,
            inner: Mutex::new(Inner::default()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// How many decisions are kept.
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The decision about `image`, if one is kept and fresh; and the ticket to store a new one.
    pub fn get(&self, image: &str) -> (Option<Arc<Decision>>, Ticket) {
        let mut inner = self.lock();
        let ticket = Ticket {
            generation: inner.generation,
        };
        let found = inner
            .entries
            .get(image)
            .map(|entry| (entry.at.elapsed() < self.ttl, Arc::clone(&entry.decision)));
        match found {
            Some((true, decision)) => (Some(decision), ticket),
            Some((false, _)) => {
                remove(&mut inner, image);
                (None, ticket)
            }
            None => (None, ticket),
        }
    }

    /// Keeps `decision` about `image`, which depends on `repository` (none when no rule
    /// matched), unless the cache is off, the repository's server is not watched, or something
    /// was invalidated since `ticket` was taken. Returns whether it was kept.
    pub fn insert(
        &self,
        image: &str,
        repository: Option<Repository>,
        decision: Arc<Decision>,
        ticket: Ticket,
    ) -> bool {
        if self.capacity == 0 {
            return false;
        }
        let mut inner = self.lock();
        if inner.generation != ticket.generation {
            return false;
        }
        if let Some(repo) = &repository
            && !inner.live.contains(&repo.server)
        {
            return false;
        }
        remove(&mut inner, image);
        while inner.entries.len() >= self.capacity {
            let Some((_, oldest)) = inner.order.pop_first() else {
                break;
            };
            remove(&mut inner, &oldest);
        }
        let seq = inner.next_seq;
        inner.next_seq += 1;
        inner.order.insert(seq, image.to_owned());
        if let Some(repo) = &repository {
            inner
                .by_repository
                .entry(repo.clone())
                .or_default()
                .insert(image.to_owned());
        }
        inner.entries.insert(
            image.to_owned(),
            Entry {
                decision,
                at: Instant::now(),
                seq,
                repository,
            },
        );
        true
    }

    /// Drops every decision about `gun` on `server`; returns how many.
    pub fn invalidate(&self, server: &str, gun: &str) -> usize {
        let mut inner = self.lock();
        inner.generation += 1;
        let key = Repository {
            server: server.to_owned(),
            gun: gun.to_owned(),
        };
        let images = inner.by_repository.remove(&key).unwrap_or_default();
        for image in &images {
            remove(&mut inner, image);
        }
        images.len()
    }

    /// `server`'s changefeed is being read: decisions about its repositories may be kept.
    pub fn watching(&self, server: &str) {
        self.lock().live.insert(server.to_owned());
    }

    /// `server`'s changefeed cannot be read: drops every decision about its repositories and
    /// keeps none until [`watching`](Self::watching) is called again. Returns how many.
    pub fn lost(&self, server: &str) -> usize {
        let mut inner = self.lock();
        inner.generation += 1;
        inner.live.remove(server);
        let repositories: Vec<Repository> = inner
            .by_repository
            .keys()
            .filter(|r| r.server == server)
            .cloned()
            .collect();
        let mut dropped = 0;
        for repo in repositories {
            for image in inner.by_repository.remove(&repo).unwrap_or_default() {
                remove(&mut inner, &image);
                dropped += 1;
            }
        }
        dropped
    }
}

fn remove(inner: &mut Inner, image: &str) {
    if let Some(entry) = inner.entries.remove(image) {
        inner.order.remove(&entry.seq);
        if let Some(repo) = entry.repository
            && let Some(images) = inner.by_repository.get_mut(&repo)
        {
            images.remove(image);
            if images.is_empty() {
                inner.by_repository.remove(&repo);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use signet_client::policy::Verdict;

    fn decision(image: &str) -> Arc<Decision> {
        Arc::new(Decision {
            image: image.to_owned(),
            rule: None,
            tag: None,
            signed_digest: None,
            platform: None,
            platform_digest: None,
            reference: None,
            signers: Vec::new(),
            verdict: Verdict::Allow,
            denials: Vec::new(),
        })
    }

    fn repo(gun: &str) -> Option<Repository> {
        Some(Repository {
            server: "https://trust".into(),
            gun: gun.into(),
        })
    }

    fn put(cache: &DecisionCache, image: &str, gun: &str) -> bool {
        let (_, ticket) = cache.get(image);
        cache.insert(image, repo(gun), decision(image), ticket)
    }

    #[test]
    fn keeps_only_what_a_watched_server_backs() {
        let cache = DecisionCache::new(10, Duration::from_secs(60));
        assert!(!put(&cache, "r/a:1", "r/a"), "server not watched yet");
        cache.watching("https://trust");
        assert!(put(&cache, "r/a:1", "r/a"));
        assert!(cache.get("r/a:1").0.is_some());
        assert_eq!(cache.lost("https://trust"), 1);
        assert!(cache.get("r/a:1").0.is_none());
        assert!(!put(&cache, "r/a:1", "r/a"));
        // Decisions no server backs are kept all the same.
        let (_, ticket) = cache.get("x/y:1");
        assert!(cache.insert("x/y:1", None, decision("x/y:1"), ticket));
    }

    #[test]
    fn a_change_drops_that_repository_only() {
        let cache = DecisionCache::new(10, Duration::from_secs(60));
        cache.watching("https://trust");
        put(&cache, "r/a:1", "r/a");
        put(&cache, "r/a:2", "r/a");
        put(&cache, "r/b:1", "r/b");
        assert_eq!(cache.invalidate("https://trust", "r/a"), 2);
        assert!(cache.get("r/a:1").0.is_none());
        assert!(cache.get("r/b:1").0.is_some());
        assert_eq!(cache.invalidate("https://other", "r/b"), 0);
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn an_evaluation_overtaken_by_a_change_is_not_kept() {
        let cache = DecisionCache::new(10, Duration::from_secs(60));
        cache.watching("https://trust");
        let (_, ticket) = cache.get("r/a:1");
        cache.invalidate("https://trust", "r/a");
        assert!(!cache.insert("r/a:1", repo("r/a"), decision("r/a:1"), ticket));
        assert!(cache.is_empty());
    }

    #[test]
    fn bounded_oldest_first_and_by_age() {
        let cache = DecisionCache::new(2, Duration::from_millis(50));
        cache.watching("https://trust");
        put(&cache, "r/a:1", "r/a");
        put(&cache, "r/a:2", "r/a");
        put(&cache, "r/a:3", "r/a");
        assert_eq!(cache.len(), 2);
        assert!(cache.get("r/a:1").0.is_none());
        assert!(cache.get("r/a:3").0.is_some());
        std::thread::sleep(Duration::from_millis(60));
        assert!(cache.get("r/a:3").0.is_none());
        assert_eq!(cache.len(), 1, "the stale entry looked up is gone");

        let off = DecisionCache::new(0, Duration::from_secs(60));
        off.watching("https://trust");
        assert!(!put(&off, "r/a:1", "r/a"));
    }
}
