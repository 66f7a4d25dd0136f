//! Limits on connections, so that slow or idle clients cannot exhaust the server: a ceiling on
//! open connections, and a deadline for each request's headers.
//!
//! The body of a request is bounded by `server.request_timeout_secs` (the request as a whole)
//! and `server.max_body_bytes`; these limits cover what comes before a request reaches the
//! router.

use std::future::{Ready, ready};
use std::io;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum_server::accept::Accept;
use futures_util::future::Either;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Connection limits of the listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionSettings {
    /// The most connections open at once. A connection past it is closed as soon as it is
    /// accepted, before any TLS handshake, so a flood of connections costs no memory.
    pub max_connections: usize,
    /// How long a client has to send the complete headers of a request, counted from when the
    /// server starts waiting for them. It also closes a keep-alive connection idle for that
    /// long, and bounds how long a new connection may take to send its first request.
    pub header_read_timeout: Duration,
}

impl Default for ConnectionSettings {
    fn default() -> Self {
        Self {
            max_connections: 1024,
            header_read_timeout: Duration::from_secs(20),
        }
    }
}

/// An acceptor that admits at most a fixed number of open connections: each holds a permit
/// for as long as its service lives (that is, as long as the connection).
#[derive(Debug, Clone)]
pub struct LimitAcceptor<A> {
    inner: A,
    permits: Arc<Semaphore>,
    limit: usize,
}

impl<A> LimitAcceptor<A> {
    /// Admits at most `limit` connections (at least one), then hands each to `inner`.
    pub fn new(inner: A, limit: usize) -> Self {
        let limit = limit.clamp(1, Semaphore::MAX_PERMITS);
        Self {
            inner,
            permits: Arc::new(Semaphore::new(limit)),
            limit,
        }
    }

    /// How many more connections would be admitted now.
    #[must_use]
    pub fn available(&self) -> usize {
        self.permits.available_permits()
    }
}

impl<A, I, S> Accept<I, S> for LimitAcceptor<A>
where
    A: Accept<I, Permitted<S>>,
{
    type Stream = A::Stream;
    type Service = A::Service;
    type Future = Either<A::Future, Ready<io::Result<(A::Stream, A::Service)>>>;

    fn accept(&self, stream: I, service: S) -> Self::Future {
        match Arc::clone(&self.permits).try_acquire_owned() {
            Ok(permit) => Either::Left(self.inner.accept(
                stream,
                Permitted {
                    inner: service,
                    _permit: Arc::new(permit),
                },
            )),
            Err(_) => {
                tracing::warn!(
                    limit = self.limit,
                    "connection refused: the connection limit is reached"
                );
                drop(stream);
                Either::Right(ready(Err(io::Error::other(format!(
                    "the limit of {} open connections is reached",
                    self.limit
                )))))
            }
        }
    }
}

/// A connection's service, holding the connection's permit until the connection closes.
#[derive(Debug, Clone)]
pub struct Permitted<S> {
    inner: S,
    _permit: Arc<OwnedSemaphorePermit>,
}

impl<S, R> tower::Service<R> for Permitted<S>
where
    S: tower::Service<R>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: R) -> Self::Future {
        self.inner.call(req)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum_server::accept::DefaultAcceptor;

    #[tokio::test]
    async fn admits_up_to_the_limit_and_frees_on_close() {
        let acceptor = LimitAcceptor::new(DefaultAcceptor::new(), 2);
        let first = acceptor.accept((), ()).await.unwrap();
        let second = acceptor.accept((), ()).await.unwrap();
        assert_eq!(acceptor.available(), 0);
        let refused = acceptor.accept((), ()).await.unwrap_err();
        assert!(refused.to_string().contains("limit of 2"), "{refused}");
        drop(first);
        assert_eq!(acceptor.available(), 1);
        // A service clone (HTTP/2 streams) keeps the permit until the last one goes.
        let clone = second.1.clone();
        drop(second);
        assert_eq!(acceptor.available(), 1);
        drop(clone);
        assert_eq!(acceptor.available(), 2);
        assert!(acceptor.accept((), ()).await.is_ok());
    }

    #[test]
    fn a_zero_limit_still_admits_one() {
        assert_eq!(LimitAcceptor::new((), 0).available(), 1);
    }
}
