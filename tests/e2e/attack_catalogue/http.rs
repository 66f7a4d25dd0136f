//! HTTP: wrong methods and routes for an upload, request smuggling and header injection,
//! authorization headers a server without auth must ignore, slow and abandoned requests,
//! changefeed parameters, and the hang-up flood followed by a publish that must land.

use std::io::Write as _;
use std::net::TcpStream;
use std::time::Duration;

use super::fixture::{Ctx, HANGUP, OWNER, VICTIM};
use super::wire::{self, Outcome};
use super::{Case, Category, Expect, case};

const VERSION: Expect = Expect::Status(400, "VERSION");
const NOT_FOUND: Expect = Expect::Status(404, "METADATA_NOT_FOUND");
const BAD_REQUEST: Expect = Expect::Status(400, "");
const INVALID_PARAMETERS: Expect = Expect::Status(400, "INVALID_PARAMETERS");
const MALFORMED_UPLOAD: Expect = Expect::Status(400, "MALFORMED_UPLOAD");

fn http_case(
    name: impl Into<String>,
    expect: Expect,
    attack: impl Fn(&Ctx) -> Outcome + Send + Sync + 'static,
) -> Case {
    case(Category::Http, name, expect, attack)
}

/// A valid publish of [`OWNER`] as a multipart body.
fn valid_body(ctx: &Ctx) -> Vec<u8> {
    wire::form(&ctx.publish(OWNER, |_| {}))
}

/// OWNER's current targets and snapshot again (refused with `VERSION` wherever it lands).
fn stale_body(ctx: &Ctx) -> Vec<u8> {
    wire::form(&[
        ("targets", ctx.file(OWNER, "targets")),
        ("snapshot", ctx.file(OWNER, "snapshot")),
    ])
}

/// A raw upload to OWNER: request line `line`, then `headers` (CRLF-terminated lines), then
/// `body`.
fn raw_upload(ctx: &Ctx, line: &str, headers: &str, body: &[u8]) -> Outcome {
    let mut raw = format!("{line}\r\n{headers}\r\n").into_bytes();
    raw.extend_from_slice(body);
    ctx.raw(&raw)
}

fn std_headers(ctx: &Ctx, body: &[u8]) -> String {
    format!(
        "Host: {}\r\nConnection: close\r\nContent-Type: {}\r\nContent-Length: {}\r\n",
        ctx.host_port,
        wire::form_type(),
        body.len()
    )
}

fn method_cases() -> Vec<Case> {
    let mut cases = Vec::new();
    for (method, expect) in [
        ("PUT", NOT_FOUND),
        ("PATCH", Expect::Status(405, "")),
        ("OPTIONS", Expect::Status(405, "")),
        ("TRACE", Expect::Status(405, "")),
        ("PROPFIND", Expect::Status(405, "")),
        ("HEAD", Expect::Status(404, "")),
        ("GET", NOT_FOUND),
        ("post", Expect::Status(405, "")),
    ] {
        cases.push(http_case(
            format!("{method} of a valid publish to the TUF folder"),
            expect,
            move |ctx| {
                let body = valid_body(ctx);
                ctx.send(
                    method,
                    &Ctx::tuf(OWNER),
                    &[("Content-Type", &wire::form_type())],
                    &body,
                )
            },
        ));
    }
    for (label, suffix, expect) in [
        ("root.json", "root.json", NOT_FOUND),
        ("the folder without its trailing slash", "", NOT_FOUND),
        ("timestamp.json", "timestamp.json", NOT_FOUND),
        ("a version URL", "1.root.json", NOT_FOUND),
    ] {
        cases.push(http_case(
            format!("POST of a valid publish to {label}"),
            expect,
            move |ctx| {
                let body = valid_body(ctx);
                let mut target = Ctx::tuf(OWNER);
                if suffix.is_empty() {
                    target.pop();
                } else {
                    target.push_str(suffix);
                }
                ctx.send(
                    "POST",
                    &target,
                    &[("Content-Type", &wire::form_type())],
                    &body,
                )
            },
        ));
    }
    for (label, target) in [
        ("root.json", "_trust/tuf/root.json"),
        ("the folder without its trailing slash", "_trust/tuf"),
        ("the changefeed", "_trust/changefeed"),
    ] {
        cases.push(http_case(
            format!("DELETE of {label}"),
            NOT_FOUND,
            move |ctx| ctx.send("DELETE", &format!("/v2/{OWNER}/{target}"), &[], &[]),
        ));
    }
    cases.push(http_case("DELETE /v2/", NOT_FOUND, |ctx| {
        ctx.send("DELETE", "/v2/", &[], &[])
    }));
    cases.push(http_case(
        "POST of a valid publish to the global changefeed",
        NOT_FOUND,
        |ctx| {
            let body = valid_body(ctx);
            ctx.send(
                "POST",
                "/v2/_trust/changefeed",
                &[("Content-Type", &wire::form_type())],
                &body,
            )
        },
    ));
    cases
}

fn smuggling_cases() -> Vec<Case> {
    let line = || format!("POST {} HTTP/1.1", Ctx::tuf(OWNER));
    vec![
        http_case("two different Content-Lengths", BAD_REQUEST, move |ctx| {
            let body = valid_body(ctx);
            let headers = format!(
                "{}Content-Length: {}\r\n",
                std_headers(ctx, &body),
                body.len() - 10
            );
            raw_upload(ctx, &line(), &headers, &body)
        }),
        http_case("Content-Length and chunked together", VERSION, move |ctx| {
            let body = stale_body(ctx);
            let mut chunked = format!("{:x}\r\n", body.len()).into_bytes();
            chunked.extend_from_slice(&body);
            chunked.extend_from_slice(b"\r\n0\r\n\r\n");
            let headers = format!(
                "{}Transfer-Encoding: chunked\r\n",
                std_headers(ctx, &chunked)
            );
            raw_upload(ctx, &line(), &headers, &chunked)
        }),
        http_case("chunk size not hex", MALFORMED_UPLOAD, move |ctx| {
            let headers = format!(
                "Host: {}\r\nConnection: close\r\nContent-Type: {}\r\nTransfer-Encoding: chunked\r\n",
                ctx.host_port,
                wire::form_type()
            );
            raw_upload(ctx, &line(), &headers, b"zz\r\nabc\r\n0\r\n\r\n")
        }),
        http_case("Transfer-Encoding gzip", BAD_REQUEST, move |ctx| {
            let body = stale_body(ctx);
            let headers = format!(
                "Host: {}\r\nConnection: close\r\nContent-Type: {}\r\nTransfer-Encoding: gzip\r\n",
                ctx.host_port,
                wire::form_type()
            );
            raw_upload(ctx, &line(), &headers, &body)
        }),
        http_case(
            "Transfer-Encoding chunked twice",
            MALFORMED_UPLOAD,
            move |ctx| {
                let headers = format!(
                    "Host: {}\r\nConnection: close\r\nContent-Type: {}\r\nTransfer-Encoding: chunked, chunked\r\n",
                    ctx.host_port,
                    wire::form_type()
                );
                raw_upload(ctx, &line(), &headers, b"0\r\n\r\n")
            },
        ),
        http_case("folded header line", BAD_REQUEST, move |ctx| {
            let body = stale_body(ctx);
            let headers = format!(
                "Host: {}\r\nConnection: close\r\nContent-Type: multipart/form-data;\r\n boundary={}\r\nContent-Length: {}\r\n",
                ctx.host_port,
                wire::BOUNDARY,
                body.len()
            );
            raw_upload(ctx, &line(), &headers, &body)
        }),
        http_case("space before the colon", BAD_REQUEST, move |ctx| {
            let body = stale_body(ctx);
            let headers = format!(
                "Host: {}\r\nConnection: close\r\nContent-Type : {}\r\nContent-Length: {}\r\n",
                ctx.host_port,
                wire::form_type(),
                body.len()
            );
            raw_upload(ctx, &line(), &headers, &body)
        }),
        http_case("NUL in a header value", BAD_REQUEST, move |ctx| {
            let body = stale_body(ctx);
            let headers = format!("{}X-Note: a\0b\r\n", std_headers(ctx, &body));
            raw_upload(ctx, &line(), &headers, &body)
        }),
        http_case("bare CR in a header value", BAD_REQUEST, move |ctx| {
            let body = stale_body(ctx);
            let headers = format!("{}X-Note: a\rInjected: 1\r\n", std_headers(ctx, &body));
            raw_upload(ctx, &line(), &headers, &body)
        }),
        http_case("header name with a space", BAD_REQUEST, move |ctx| {
            let body = stale_body(ctx);
            let headers = format!("{}X Bad: 1\r\n", std_headers(ctx, &body));
            raw_upload(ctx, &line(), &headers, &body)
        }),
        http_case("no Host header", VERSION, move |ctx| {
            let body = stale_body(ctx);
            let headers = format!(
                "Connection: close\r\nContent-Type: {}\r\nContent-Length: {}\r\n",
                wire::form_type(),
                body.len()
            );
            raw_upload(ctx, &line(), &headers, &body)
        }),
        http_case("two Host headers", VERSION, move |ctx| {
            let body = stale_body(ctx);
            let headers = format!("{}Host: evil.example\r\n", std_headers(ctx, &body));
            raw_upload(ctx, &line(), &headers, &body)
        }),
        http_case("HTTP/2.0 on a text connection", BAD_REQUEST, move |ctx| {
            let body = stale_body(ctx);
            raw_upload(
                ctx,
                &format!("POST {} HTTP/2.0", Ctx::tuf(OWNER)),
                &std_headers(ctx, &body),
                &body,
            )
        }),
        http_case("HTTP/9.9", BAD_REQUEST, move |ctx| {
            let body = stale_body(ctx);
            raw_upload(
                ctx,
                &format!("POST {} HTTP/9.9", Ctx::tuf(OWNER)),
                &std_headers(ctx, &body),
                &body,
            )
        }),
        http_case("request line without a version", BAD_REQUEST, move |ctx| {
            let body = stale_body(ctx);
            raw_upload(
                ctx,
                &format!("POST {}", Ctx::tuf(OWNER)),
                &std_headers(ctx, &body),
                &body,
            )
        }),
        http_case(
            "absolute-form target naming another host",
            VERSION,
            move |ctx| {
                let body = stale_body(ctx);
                raw_upload(
                    ctx,
                    &format!("POST http://evil.example{} HTTP/1.1", Ctx::tuf(OWNER)),
                    &std_headers(ctx, &body),
                    &body,
                )
            },
        ),
        http_case(
            "a DELETE smuggled after the body's declared length",
            VERSION,
            move |ctx| {
                let body = stale_body(ctx);
                let mut smuggled = body.clone();
                smuggled.extend_from_slice(
                    format!(
                        "DELETE {} HTTP/1.1\r\nHost: {}\r\n\r\n",
                        Ctx::tuf(VICTIM),
                        ctx.host_port
                    )
                    .as_bytes(),
                );
                // Content-Length covers the upload only; `Connection: close` means the
                // server must not read a second request.
                raw_upload(ctx, &line(), &std_headers(ctx, &body), &smuggled)
            },
        ),
    ]
}

fn auth_cases() -> Vec<Case> {
    let mut cases = Vec::new();
    let big = format!("Bearer {}", "A".repeat(64 * 1024));
    let forged = format!(
        "Bearer {}.{}.",
        "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0",
        "eyJpc3MiOiJldmlsIiwiYWNjZXNzIjpbeyJ0eXBlIjoicmVwb3NpdG9yeSIsIm5hbWUiOiIqIiwiYWN0aW9ucyI6WyIqIl19XX0"
    );
    for (label, value) in [
        ("a garbage bearer token", "Bearer garbage".to_owned()),
        ("an unsigned (alg none) token granting everything", forged),
        ("basic credentials", "Basic YWRtaW46YWRtaW4=".to_owned()),
        ("a 64 KiB bearer token", big),
        ("an empty Authorization header", String::new()),
    ] {
        cases.push(http_case(
            format!("stale upload with {label}"),
            VERSION,
            move |ctx| {
                let body = stale_body(ctx);
                ctx.send(
                    "POST",
                    &Ctx::tuf(OWNER),
                    &[
                        ("Content-Type", &wire::form_type()),
                        ("Authorization", &value),
                    ],
                    &body,
                )
            },
        ));
    }
    cases.push(http_case(
        "stale upload with X-Forwarded headers claiming an admin",
        VERSION,
        |ctx| {
            let body = stale_body(ctx);
            ctx.send(
                "POST",
                &Ctx::tuf(OWNER),
                &[
                    ("Content-Type", &wire::form_type()),
                    ("X-Forwarded-For", "127.0.0.1"),
                    ("X-Forwarded-User", "admin"),
                    ("X-Original-URL", "/v2/attack.example/victim/_trust/tuf/"),
                ],
                &body,
            )
        },
    ));
    cases
}

fn slow_cases() -> Vec<Case> {
    vec![
        http_case("stale upload trickled over 2 seconds", VERSION, |ctx| {
            let body = stale_body(ctx);
            let head = std_headers(ctx, &body);
            let mut raw = format!("POST {} HTTP/1.1\r\n{head}\r\n", Ctx::tuf(OWNER)).into_bytes();
            raw.extend_from_slice(&body);
            let pieces: Vec<(&[u8], Duration)> = raw
                .chunks(raw.len().div_ceil(20))
                .map(|c| (c, Duration::from_millis(100)))
                .collect();
            wire::exchange_paced(&ctx.host_port, &pieces, wire::ANSWER_TIMEOUT)
        }),
        http_case("headers trickled a byte at a time", NOT_FOUND, |ctx| {
            let raw = wire::request_bytes(
                &ctx.host_port,
                "GET",
                &format!("{}targets/nope.json", Ctx::tuf(OWNER)),
                &[],
                &[],
            );
            let pieces: Vec<(&[u8], Duration)> = raw
                .chunks(4)
                .map(|c| (c, Duration::from_millis(20)))
                .collect();
            wire::exchange_paced(&ctx.host_port, &pieces, wire::ANSWER_TIMEOUT)
        }),
        http_case(
            "valid publish whose body stops halfway",
            Expect::NoAnswer,
            |ctx| {
                let body = valid_body(ctx);
                let head = std_headers(ctx, &body);
                let mut raw =
                    format!("POST {} HTTP/1.1\r\n{head}\r\n", Ctx::tuf(OWNER)).into_bytes();
                raw.extend_from_slice(&body[..body.len() / 2]);
                wire::exchange_paced(
                    &ctx.host_port,
                    &[(&raw, Duration::ZERO)],
                    Duration::from_secs(3),
                )
            },
        ),
        http_case(
            "valid publish whose body stops halfway, then a half-close",
            MALFORMED_UPLOAD,
            |ctx| {
                let body = valid_body(ctx);
                let head = std_headers(ctx, &body);
                let mut raw =
                    format!("POST {} HTTP/1.1\r\n{head}\r\n", Ctx::tuf(OWNER)).into_bytes();
                raw.extend_from_slice(&body[..body.len() / 2]);
                wire::exchange_then_half_close(&ctx.host_port, &raw)
            },
        ),
        http_case(
            "GET answered while 50 uploads stall",
            Expect::Status(200, ""),
            |ctx| {
                let body = valid_body(ctx);
                let head = std_headers(ctx, &body);
                let mut raw =
                    format!("POST {} HTTP/1.1\r\n{head}\r\n", Ctx::tuf(OWNER)).into_bytes();
                raw.extend_from_slice(&body[..body.len() / 2]);
                let stalled: Vec<TcpStream> = (0..50)
                    .filter_map(|_| {
                        let mut s = TcpStream::connect(&ctx.host_port).ok()?;
                        s.write_all(&raw).ok()?;
                        Some(s)
                    })
                    .collect();
                let answer = ctx.get(&format!("{}root.json", Ctx::tuf(OWNER)));
                drop(stalled);
                answer
            },
        ),
        http_case(
            "abandoned keep-alive DELETEs, then a valid publish",
            Expect::Publishes(HANGUP),
            |ctx| {
                std::thread::scope(|scope| {
                    for t in 0..8 {
                        scope.spawn(move || hang_up_flood(&ctx.host_port, t, 75));
                    }
                });
                ctx.upload(
                    HANGUP,
                    &ctx.publish(HANGUP, |t| {
                        t["targets"]["after-the-flood"] = serde_json::json!({
                            "hashes": {"sha256": "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="},
                            "length": 0
                        });
                    }),
                )
            },
        ),
    ]
}

/// `connections` connections, each sending four keep-alive DELETEs for GUNs that do not
/// exist and closing without reading a byte.
fn hang_up_flood(host_port: &str, thread: usize, connections: usize) {
    for c in 0..connections {
        let Ok(mut stream) = TcpStream::connect(host_port) else {
            continue;
        };
        let mut requests = String::new();
        for r in 0..4 {
            requests.push_str(&format!(
                "DELETE /v2/attack.example/absent-{thread}-{c}-{r}/_trust/tuf/ HTTP/1.1\r\n\
                 Host: {host_port}\r\nConnection: keep-alive\r\n\r\n"
            ));
        }
        let _ = stream.write_all(requests.as_bytes());
    }
}

fn changefeed_cases() -> Vec<Case> {
    let mut cases = Vec::new();
    for (query, expect) in [
        ("records=-5", Expect::Status(200, "")),
        ("change_id=0&records=-5", Expect::Status(200, "")),
        ("records=abc", INVALID_PARAMETERS),
        ("change_id=abc&records=5", INVALID_PARAMETERS),
        ("records=2147483648", INVALID_PARAMETERS),
        (
            "change_id=99999999999999999999&records=5",
            INVALID_PARAMETERS,
        ),
        ("change_id=1'%20OR%20'1'='1&records=5", INVALID_PARAMETERS),
        ("records=5&records=-5", Expect::Status(200, "")),
    ] {
        cases.push(http_case(
            format!("changefeed ?{query}"),
            expect,
            move |ctx| ctx.get(&format!("/v2/_trust/changefeed?{query}")),
        ));
    }
    cases.push(http_case(
        "GUN changefeed with an SQL wildcard GUN",
        Expect::Status(200, ""),
        |ctx| ctx.get("/v2/attack.example/%25/_trust/changefeed?records=5"),
    ));
    cases
}

/// The HTTP cases.
pub(crate) fn cases() -> Vec<Case> {
    let mut cases = method_cases();
    cases.extend(smuggling_cases());
    cases.extend(auth_cases());
    cases.extend(slow_cases());
    cases.extend(changefeed_cases());
    cases
}
