//! Watching the trust servers' changefeeds: one task per server the policy names, reading
//! `GET /v2/_trust/changefeed` every interval and dropping the cached decisions about each
//! repository that changed. It also tells readiness which servers answer.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use signet_client::policy::{Evaluator, Policy};
use signet_client::remote::RemoteStore;
use tokio::task::JoinHandle;

use crate::cache::DecisionCache;
use crate::error::AdmissionError;
use crate::metrics;

/// Records read per changefeed request.
const PAGE: u32 = 500;

/// How long one changefeed read may take before the server counts as not answering.
const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// After this many polls that found nothing, the newest record's ID is read to notice a feed
/// that went back (a restored database), which would otherwise hide every later change.
const HEAD_CHECK_EVERY: u32 = 20;

/// A server counts as ready when its changefeed was read within this many intervals.
const READY_INTERVALS: u32 = 3;

/// When each trust server's changefeed was last read.
#[derive(Debug)]
pub struct Readiness {
    interval: Duration,
    last_read: Mutex<HashMap<String, Option<Instant>>>,
}

impl Readiness {
    /// Readiness over `servers`, read every `interval`.
    pub fn new(servers: impl IntoIterator<Item = String>, interval: Duration) -> Self {
        Self {
            interval,
            last_read: Mutex::new(servers.into_iter().map(|s| (s, None)).collect()),
        }
    }

    fn mark(&self, server: &str) {
        let mut last = self.last_read.lock().unwrap_or_else(|p| p.into_inner());
        last.insert(server.to_owned(), Some(Instant::now()));
    }

    /// The servers whose changefeed was not read recently (empty: ready).
    pub fn not_reached(&self) -> Vec<String> {
        let window = self
            .interval
            .saturating_mul(READY_INTERVALS)
            .max(READ_TIMEOUT);
        let last = self.last_read.lock().unwrap_or_else(|p| p.into_inner());
        let mut missing: Vec<String> = last
            .iter()
            .filter(|(_, at)| !at.is_some_and(|at| at.elapsed() <= window))
            .map(|(server, _)| server.clone())
            .collect();
        missing.sort();
        missing
    }
}

/// The trust servers `policy` names, each with the first rule that names it.
pub fn servers(policy: &Policy) -> Vec<(String, &signet_client::policy::Rule)> {
    let mut seen: Vec<(String, &signet_client::policy::Rule)> = Vec::new();
    for rule in policy.rules() {
        if !seen.iter().any(|(server, _)| *server == rule.server) {
            seen.push((rule.server.clone(), rule));
        }
    }
    seen
}

/// Starts one watcher per trust server of `policy`.
///
/// # Errors
///
/// [`AdmissionError::Setting`] when a server's URL or TLS configuration is unusable.
pub fn spawn(
    policy: &Policy,
    evaluator: &Evaluator,
    cache: &Arc<DecisionCache>,
    readiness: &Arc<Readiness>,
    interval: Duration,
) -> Result<Vec<JoinHandle<()>>, AdmissionError> {
    let mut tasks = Vec::new();
    for (server, rule) in servers(policy) {
        let store = evaluator
            .trust_server(rule)
            .map_err(|e| AdmissionError::Setting {
                setting: "--policy",
                reason: format!("trust server {server}: {e}"),
            })?;
        metrics::changefeed_up(&server, false);
        tasks.push(tokio::spawn(watch(
            server,
            store,
            Arc::clone(cache),
            Arc::clone(readiness),
            interval,
        )));
    }
    Ok(tasks)
}

/// Reads `server`'s changefeed until the task is aborted.
async fn watch(
    server: String,
    store: RemoteStore,
    cache: Arc<DecisionCache>,
    readiness: Arc<Readiness>,
    interval: Duration,
) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut cursor: Option<i64> = None;
    let mut quiet = 0u32;
    // None until the first poll; then whether the last one succeeded.
    let mut up: Option<bool> = None;
    loop {
        ticker.tick().await;
        let read = tokio::time::timeout(
            READ_TIMEOUT,
            poll(&server, &store, &cache, &mut cursor, &mut quiet),
        )
        .await;
        let outcome = match read {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err(format!("no answer within {} s", READ_TIMEOUT.as_secs())),
        };
        match outcome {
            Ok(()) => {
                if up != Some(true) {
                    tracing::info!(%server, "reading the trust server's changefeed");
                    cache.watching(&server);
                    metrics::changefeed_up(&server, true);
                    up = Some(true);
                }
                readiness.mark(&server);
            }
            Err(reason) => {
                if up != Some(false) {
                    tracing::warn!(
                        %server,
                        %reason,
                        "the changefeed cannot be read: nothing about this server's repositories \
                         is served from the cache until it can"
                    );
                }
                let dropped = cache.lost(&server);
                metrics::invalidated(dropped);
                metrics::changefeed_up(&server, false);
                up = Some(false);
            }
        }
        metrics::cache_entries(cache.len());
    }
}

/// One poll: the head on the first, else every change since `cursor`.
async fn poll(
    server: &str,
    store: &RemoteStore,
    cache: &DecisionCache,
    cursor: &mut Option<i64>,
    quiet: &mut u32,
) -> signet_client::Result<()> {
    let Some(mut after) = *cursor else {
        *cursor = Some(store.changefeed_head().await?);
        return Ok(());
    };
    loop {
        let changes = store.changes_after(after, PAGE).await?;
        if changes.is_empty() {
            break;
        }
        *quiet = 0;
        for change in &changes {
            let dropped = cache.invalidate(server, &change.gun);
            metrics::invalidated(dropped);
            tracing::debug!(%server, gun = %change.gun, id = change.id, dropped, "repository changed");
            after = after.max(change.id);
        }
        *cursor = Some(after);
        if changes.len() < PAGE as usize {
            return Ok(());
        }
    }
    *quiet += 1;
    if *quiet >= HEAD_CHECK_EVERY {
        *quiet = 0;
        let head = store.changefeed_head().await?;
        if head < after {
            tracing::warn!(%server, head, after, "the changefeed went back; every cached decision about this server is dropped");
            metrics::invalidated(cache.lost(server));
            cache.watching(server);
            *cursor = Some(head);
        }
    }
    Ok(())
}
