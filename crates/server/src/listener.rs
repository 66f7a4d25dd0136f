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

/// An acceptor that turns off Nagle's algorithm on each TCP connection before handing it on.
/// A response written in more than one segment (headers, then body; TLS records) would
/// otherwise wait for the client's delayed acknowledgement, up to 40 ms on Linux, whenever the
/// client keeps the connection alive.
#[derive(Debug, Clone)]
pub struct NoDelayAcceptor<A> {
    inner: A,
}

impl<A> NoDelayAcceptor<A> {
    /// Sets `TCP_NODELAY`, then hands each connection to `inner`.
    pub fn new(inner: A) -> Self {
        Self { inner }
    }
}

impl<A, S> Accept<tokio::net::TcpStream, S> for NoDelayAcceptor<A>
where
    A: Accept<tokio::net::TcpStream, S>,
{
    type Stream = A::Stream;
    type Service = A::Service;
    type Future = A::Future;

    fn accept(&self, stream: tokio::net::TcpStream, service: S) -> Self::Future {
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!(error = %e, "TCP_NODELAY could not be set");
        }
        self.inner.accept(stream, service)
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

    #[tokio::test]
    async fn connections_are_handed_on_without_nagle() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let _client = tokio::net::TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (stream, _) = listener.accept().await.unwrap();
        assert!(!stream.nodelay().unwrap());
        let (stream, ()) = NoDelayAcceptor::new(DefaultAcceptor::new())
            .accept(stream, ())
            .await
            .unwrap();
        assert!(stream.nodelay().unwrap());
    }

    #[test]
    fn a_zero_limit_still_admits_one() {
        assert_eq!(LimitAcceptor::new((), 0).available(), 1);
    }
}
