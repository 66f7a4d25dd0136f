//! Why a request never got an HTTP answer: a [`ConnectFailure`], classified from the typed errors
//! under `reqwest` (rustls, hyper, I/O, the resolver's own [`DnsFailure`]) rather than from
//! their texts, with the server's `host:port` and the proxy that was in the way, if any.

use std::error::Error as StdError;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use reqwest::Url;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use crate::error::{ConnectCause, ConnectFailure};

impl ConnectFailure {
    /// Classifies the failure of a request to `url` (see the module documentation).
    pub(crate) fn classify(error: &reqwest::Error, url: &Url) -> Self {
        let (server, host) = address(url);
        let mut cause = None;
        let mut detail = error.to_string();
        let mut refused = false;
        let mut timed_out = error.is_timeout();
        let mut dns = false;
        for e in chain(error) {
            detail = e.to_string();
            if let Some(tls) = e.downcast_ref::<rustls::Error>() {
                cause = cause.or_else(|| tls_cause(tls));
            } else if let Some(io) = e.downcast_ref::<io::Error>() {
                refused |= io.kind() == io::ErrorKind::ConnectionRefused;
                timed_out |= io.kind() == io::ErrorKind::TimedOut;
            } else if let Some(hyper) = e.downcast_ref::<hyper::Error>()
                && (hyper.is_parse() || hyper.is_incomplete_message())
                && url.scheme() == "http"
            {
                // A TLS port answers a plain request with a TLS alert (no HTTP version) or
                // by closing the connection.
                cause = cause.or(Some(ConnectCause::NotPlainHttp));
            } else if e.downcast_ref::<DnsFailure>().is_some() {
                dns = true;
            }
        }
        let cause = cause.unwrap_or_else(|| {
            if let Some(proxy) = proxy_for(url).filter(|_| error.is_connect() || timed_out) {
                ConnectCause::Proxy { proxy }
            } else if dns {
                ConnectCause::Dns
            } else if refused {
                ConnectCause::Refused
            } else if timed_out {
                ConnectCause::Timeout
            } else {
                ConnectCause::Other
            }
        });
        Self {
            server,
            host,
            cause,
            detail,
        }
    }

    /// A plain-HTTP server's refusal of a TLS-less request to a TLS port: Go servers answer
    /// `http://` on a TLS port with a 400 saying so, which is the same failure as
    /// [`ConnectCause::NotPlainHttp`].
    pub(crate) fn plain_http_refused(url: &Url, body: &[u8]) -> Option<Self> {
        const GO_TLS_PORT: &[u8] = b"Client sent an HTTP request to an HTTPS server";
        if url.scheme() != "http" || !body.windows(GO_TLS_PORT.len()).any(|w| w == GO_TLS_PORT) {
            return None;
        }
        let (server, host) = address(url);
        Some(Self {
            server,
            host,
            cause: ConnectCause::NotPlainHttp,
            detail: String::from_utf8_lossy(body).trim().to_owned(),
        })
    }
}

/// `host:port` (the scheme's port when the URL names none) and the host of `url`.
fn address(url: &Url) -> (String, String) {
    let host = url.host_str().unwrap_or_default().to_owned();
    // An IPv6 address comes in brackets.
    let server = match url.port_or_known_default() {
        Some(port) => format!("{host}:{port}"),
        None => host.clone(),
    };
    (server, host)
}

/// `error` and its causes; an I/O error's inner error (rustls wraps its errors in one) is
/// visited too, since `io::Error::source` skips it.
fn chain<'a>(error: &'a (dyn StdError + 'static)) -> Vec<&'a (dyn StdError + 'static)> {
    let mut out = Vec::new();
    let mut next = Some(error);
    while let Some(e) = next {
        out.push(e);
        next = match e.downcast_ref::<io::Error>().and_then(io::Error::get_ref) {
            Some(inner) => Some(inner as &(dyn StdError + 'static)),
            None => e.source(),
        };
    }
    out
}

fn tls_cause(error: &rustls::Error) -> Option<ConnectCause> {
    use rustls::{CertificateError, Error, InvalidMessage};
    match error {
        Error::InvalidCertificate(CertificateError::UnknownIssuer) => Some(ConnectCause::UnknownCa),
        Error::InvalidCertificate(_) => Some(ConnectCause::BadCertificate),
        Error::InvalidMessage(InvalidMessage::InvalidContentType) => Some(ConnectCause::NotTls),
        _ => None,
    }
}

/// The proxy the environment chooses for `url` (as `reqwest` reads it), as `host:port`.
fn proxy_for(url: &Url) -> Option<String> {
    let uri: hyper::Uri = url.as_str().parse().ok()?;
    let intercept = hyper_util::client::proxy::matcher::Matcher::from_env().intercept(&uri)?;
    let proxy = intercept.uri();
    let host = proxy.host()?;
    Some(match proxy.port_u16() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    })
}

/// A host name that did not resolve: the error of [`Resolver`], so that a failed lookup is
/// recognised by its type in the error chain.
#[derive(Debug, thiserror::Error)]
#[error("{source}")]
pub(crate) struct DnsFailure {
    /// The resolver's error.
    #[source]
    pub(crate) source: io::Error,
}

/// The system resolver (`getaddrinfo`, as `reqwest`'s default), failing with [`DnsFailure`].
#[derive(Debug, Default)]
pub(crate) struct Resolver;

impl Resolver {
    pub(crate) fn shared() -> Arc<Self> {
        Arc::new(Self)
    }
}

impl Resolve for Resolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            match tokio::net::lookup_host((host.as_str(), 0)).await {
                Ok(addrs) => {
                    let addrs: Vec<SocketAddr> = addrs.collect();
                    Ok(Box::new(addrs.into_iter()) as Addrs)
                }
                Err(source) => Err(Box::new(DnsFailure { source }) as _),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_name_the_port_of_the_scheme() {
        let url = |s: &str| Url::parse(s).unwrap();
        assert_eq!(address(&url("https://example.com/")).0, "example.com:443");
        assert_eq!(address(&url("http://example.com/")).0, "example.com:80");
        assert_eq!(address(&url("http://127.0.0.1:9/")).0, "127.0.0.1:9");
        assert_eq!(address(&url("https://[::1]:4443/")).0, "[::1]:4443");
    }

    #[test]
    fn go_servers_refusing_plain_http_are_recognised() {
        let url = Url::parse("http://127.0.0.1:4443/v2/").unwrap();
        let body = b"Client sent an HTTP request to an HTTPS server.\n";
        let failure = ConnectFailure::plain_http_refused(&url, body).unwrap();
        assert_eq!(failure.cause, ConnectCause::NotPlainHttp);
        assert_eq!(failure.server, "127.0.0.1:4443");
        let https = Url::parse("https://127.0.0.1:4443/v2/").unwrap();
        assert_eq!(ConnectFailure::plain_http_refused(&https, body), None);
        assert_eq!(ConnectFailure::plain_http_refused(&url, b"nope"), None);
    }

    #[test]
    fn rustls_errors_are_classified_by_type() {
        use rustls::{CertificateError, Error, InvalidMessage};
        assert_eq!(
            tls_cause(&Error::InvalidCertificate(CertificateError::UnknownIssuer)),
            Some(ConnectCause::UnknownCa)
        );
        assert_eq!(
            tls_cause(&Error::InvalidCertificate(CertificateError::Expired)),
            Some(ConnectCause::BadCertificate)
        );
        assert_eq!(
            tls_cause(&Error::InvalidMessage(InvalidMessage::InvalidContentType)),
            Some(ConnectCause::NotTls)
        );
        // Wrapped in an I/O error as tokio-rustls does, it is still found.
        let wrapped = io::Error::new(
            io::ErrorKind::InvalidData,
            Error::InvalidCertificate(CertificateError::UnknownIssuer),
        );
        let found = chain(&wrapped)
            .into_iter()
            .find_map(|e| e.downcast_ref::<Error>().and_then(tls_cause));
        assert_eq!(found, Some(ConnectCause::UnknownCa));
    }
}
