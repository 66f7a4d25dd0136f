//! Size and depth: bodies past the limit, lying lengths, deep nesting, many parts, long
//! GUNs and roles, many or huge headers, huge documents.

use std::time::Duration;

use serde_json::{Value, json};

use super::fixture::{Ctx, OWNER, VICTIM, bump, meta};
use super::syntax::{valid_targets, with_snapshot};
use super::wire::{self, Outcome};
use super::{Case, Category, Expect, case};

const INVALID_UPDATE: Expect = Expect::Status(400, "INVALID_UPDATE");
const MALFORMED_JSON: Expect = Expect::Status(400, "MALFORMED_JSON");
const MALFORMED_UPLOAD: Expect = Expect::Status(400, "MALFORMED_UPLOAD");
const TOO_LARGE: Expect = Expect::Status(413, "TOO_LARGE");
const INVALID_ROLE: Expect = Expect::Status(400, "INVALID_ROLE");
const INVALID_GUN: Expect = Expect::Status(400, "INVALID_GUN");
const NOT_FOUND: Expect = Expect::Status(404, "METADATA_NOT_FOUND");

/// Past the default 64 MiB body limit of signet-server.
const HUGE: usize = 65 * 1024 * 1024;

fn size_case(
    name: impl Into<String>,
    expect: Expect,
    attack: impl Fn(&Ctx) -> Outcome + Send + Sync + 'static,
) -> Case {
    case(Category::Size, name, expect, attack)
}

/// A minimal, JSON-valid, unsigned targets document of version `version`.
fn unsigned(version: i64) -> Vec<u8> {
    format!(
        r#"{{"signed":{{"_type":"Targets","delegations":{{"keys":{{}},"roles":[]}},"expires":"2030-01-01T00:00:00Z","targets":{{}},"version":{version}}},"signatures":[]}}"#
    )
    .into_bytes()
}

/// `[[[…]]]` nested `depth` deep.
fn nested_arrays(depth: usize) -> Vec<u8> {
    let mut out = vec![b'['; depth];
    out.extend(std::iter::repeat_n(b']', depth));
    out
}

/// `{"a":{"a":…}}` nested `depth` deep.
fn nested_objects(depth: usize) -> Vec<u8> {
    let mut out = "{\"a\":".repeat(depth).into_bytes();
    out.extend_from_slice(b"1");
    out.extend(std::iter::repeat_n(b'}', depth));
    out
}

/// A multipart request head (no body) declaring `length` bytes.
fn upload_head(ctx: &Ctx, extra: &str) -> Vec<u8> {
    format!(
        "POST {} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Type: {}\r\n{extra}\r\n",
        Ctx::tuf(OWNER),
        ctx.host_port,
        wire::form_type()
    )
    .into_bytes()
}

fn body_cases() -> Vec<Case> {
    vec![
        size_case("65 MiB body", TOO_LARGE, |ctx| {
            let big = vec![b' '; HUGE];
            ctx.upload(OWNER, &[("targets", big)])
        }),
        size_case("65 MiB body, chunked", TOO_LARGE, |ctx| {
            let body = wire::form(&[("targets", vec![b' '; HUGE])]);
            let mut raw = upload_head(ctx, "Transfer-Encoding: chunked\r\n");
            for chunk in body.chunks(1024 * 1024) {
                raw.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
                raw.extend_from_slice(chunk);
                raw.extend_from_slice(b"\r\n");
            }
            raw.extend_from_slice(b"0\r\n\r\n");
            ctx.raw(&raw)
        }),
        size_case(
            "Content-Length of 1 TB with a small body",
            TOO_LARGE,
            |ctx| {
                let mut raw = upload_head(ctx, "Content-Length: 1000000000000\r\n");
                raw.extend_from_slice(&wire::form(&[("targets", b"{}")]));
                wire::exchange_paced(
                    &ctx.host_port,
                    &[(&raw, Duration::ZERO)],
                    Duration::from_secs(3),
                )
            },
        ),
        size_case("Content-Length past u64", Expect::Status(400, ""), |ctx| {
            let mut raw = upload_head(ctx, "Content-Length: 99999999999999999999999\r\n");
            raw.extend_from_slice(&wire::form(&[("targets", b"{}")]));
            ctx.raw(&raw)
        }),
        size_case("chunk size of 2^64 - 1", Expect::NoAnswer, |ctx| {
            let mut raw = upload_head(ctx, "Transfer-Encoding: chunked\r\n");
            raw.extend_from_slice(b"ffffffffffffffff\r\nabc\r\n0\r\n\r\n");
            wire::exchange_paced(
                &ctx.host_port,
                &[(&raw, Duration::ZERO)],
                Duration::from_secs(3),
            )
        }),
        size_case("chunk size past u64", MALFORMED_UPLOAD, |ctx| {
            let mut raw = upload_head(ctx, "Transfer-Encoding: chunked\r\n");
            raw.extend_from_slice(b"1ffffffffffffffff\r\nabc\r\n0\r\n\r\n");
            wire::exchange_paced(
                &ctx.host_port,
                &[(&raw, Duration::ZERO)],
                Duration::from_secs(3),
            )
        }),
    ]
}

fn depth_cases() -> Vec<Case> {
    let mut cases = Vec::new();
    for depth in [200, 10_000, 1_000_000] {
        cases.push(size_case(
            format!("arrays nested {depth} deep"),
            MALFORMED_JSON,
            move |ctx| with_snapshot(ctx, &nested_arrays(depth)),
        ));
        cases.push(size_case(
            format!("objects nested {depth} deep"),
            MALFORMED_JSON,
            move |ctx| with_snapshot(ctx, &nested_objects(depth)),
        ));
        cases.push(size_case(
            format!("target custom data nested {depth} deep"),
            MALFORMED_JSON,
            move |ctx| {
                let text = String::from_utf8(valid_targets(ctx)).unwrap();
                let nested = String::from_utf8(nested_objects(depth)).unwrap();
                let text = text.replacen(
                    "\"length\":",
                    &format!("\"custom\":{nested},\"length\":"),
                    1,
                );
                with_snapshot(ctx, text.as_bytes())
            },
        ));
    }
    cases.push(size_case(
        "signatures nested 100000 deep",
        MALFORMED_JSON,
        |ctx| {
            let text = String::from_utf8(valid_targets(ctx)).unwrap();
            let cut = text.find(",\"signatures\":").unwrap();
            let mut file = text.as_bytes()[..cut].to_vec();
            file.extend_from_slice(b",\"signatures\":");
            file.extend_from_slice(&nested_arrays(100_000));
            file.push(b'}');
            with_snapshot(ctx, &file)
        },
    ));
    cases
}

fn parts_cases() -> Vec<Case> {
    let mut cases = Vec::new();
    for count in [1_000, 10_000, 100_000] {
        cases.push(size_case(
            format!("{count} parts for delegations that do not exist"),
            INVALID_UPDATE,
            move |ctx| {
                let doc = unsigned(1);
                let parts: Vec<(String, &[u8])> = (0..count)
                    .map(|i| (format!("targets/p{i}"), doc.as_slice()))
                    .collect();
                ctx.upload(OWNER, &parts)
            },
        ));
    }
    cases.push(size_case(
        "50000 parts for the same role",
        MALFORMED_UPLOAD,
        |ctx| {
            let doc = unsigned(99);
            let parts: Vec<(&str, &[u8])> =
                (0..50_000).map(|_| ("targets", doc.as_slice())).collect();
            ctx.upload(OWNER, &parts)
        },
    ));
    cases.push(size_case(
        "10000 parts without a filename",
        Expect::Status(400, "NO_FILENAME"),
        |ctx| {
            let mut body = Vec::new();
            for _ in 0..10_000 {
                body.extend_from_slice(&wire::part_with_disposition(
                    "form-data; name=\"files\"",
                    b"{}",
                ));
            }
            body.extend_from_slice(&wire::closing());
            ctx.post_form(OWNER, &body)
        },
    ));
    cases.push(size_case(
        "one part with 1 MiB of headers",
        INVALID_UPDATE,
        |ctx| {
            let mut headers = String::from(
                "Content-Disposition: form-data; name=\"files\"; filename=\"targets\"\r\n",
            );
            for i in 0..16_384 {
                headers.push_str(&format!("X-Pad-{i}: {}\r\n", "p".repeat(50)));
            }
            let mut body = wire::part_with_headers(&headers, &unsigned(99));
            body.extend_from_slice(&wire::closing());
            ctx.post_form(OWNER, &body)
        },
    ));
    cases
}

fn name_length_cases() -> Vec<Case> {
    let mut cases = Vec::new();
    let gun = |len: usize| {
        format!(
            "attack.example/{}",
            "g".repeat(len - "attack.example/".len())
        )
    };
    cases.push(size_case(
        "GUN of 255 bytes, upload",
        INVALID_UPDATE,
        move |ctx| ctx.upload(&gun(255), &[("targets", unsigned(2))]),
    ));
    // Past 64 KiB the request line itself is refused (414) before any route is matched.
    let uri_too_long = Expect::Status(414, "");
    for (len, upload, get, delete) in [
        (256, INVALID_GUN, NOT_FOUND, INVALID_GUN),
        (4_096, INVALID_GUN, NOT_FOUND, INVALID_GUN),
        (65_536, uri_too_long, uri_too_long, uri_too_long),
    ] {
        cases.push(size_case(
            format!("GUN of {len} bytes, upload"),
            upload,
            move |ctx| ctx.upload(&gun(len), &[("targets", unsigned(2))]),
        ));
        cases.push(size_case(
            format!("GUN of {len} bytes, GET root.json"),
            get,
            move |ctx| ctx.get(&format!("{}root.json", Ctx::tuf(&gun(len)))),
        ));
        cases.push(size_case(
            format!("GUN of {len} bytes, DELETE"),
            delete,
            move |ctx| ctx.send("DELETE", &Ctx::tuf(&gun(len)), &[], &[]),
        ));
    }
    cases.push(size_case(
        "URL of 1 MiB",
        Expect::Status(431, ""),
        move |ctx| ctx.get(&format!("{}root.json", Ctx::tuf(&gun(1024 * 1024)))),
    ));
    let long_role = |len: usize| format!("targets/{}", "r".repeat(len - "targets/".len()));
    cases.push(size_case(
        "role of 255 bytes (valid name, no such delegation)",
        INVALID_UPDATE,
        move |ctx| ctx.upload(OWNER, &[(long_role(255), unsigned(1))]),
    ));
    for len in [256, 100_000] {
        cases.push(size_case(
            format!("role of {len} bytes"),
            INVALID_ROLE,
            move |ctx| ctx.upload(OWNER, &[(long_role(len), unsigned(1))]),
        ));
    }
    cases.push(size_case(
        "GET of a role of 10000 bytes",
        NOT_FOUND,
        move |ctx| ctx.get(&format!("{}{}.json", Ctx::tuf(OWNER), long_role(10_000))),
    ));
    cases.push(size_case(
        "GET by a version of 10000 digits",
        NOT_FOUND,
        |ctx| {
            ctx.get(&format!(
                "{}{}.root.json",
                Ctx::tuf(OWNER),
                "9".repeat(10_000)
            ))
        },
    ));
    cases.push(size_case(
        "GET by a checksum of 100000 hex digits",
        Expect::Status(414, ""),
        |ctx| {
            ctx.get(&format!(
                "{}root.{}.json",
                Ctx::tuf(OWNER),
                "a".repeat(100_000)
            ))
        },
    ));
    cases
}

fn header_cases() -> Vec<Case> {
    vec![
        size_case("1000 request headers", Expect::Status(431, ""), |ctx| {
            let names: Vec<String> = (0..1000).map(|i| format!("X-Pad-{i}")).collect();
            let headers: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), "x")).collect();
            ctx.send(
                "GET",
                &format!("{}root.json", Ctx::tuf(OWNER)),
                &headers,
                &[],
            )
        }),
        size_case(
            "one request header of 1 MiB",
            Expect::Status(431, ""),
            |ctx| {
                let value = "v".repeat(1024 * 1024);
                ctx.send(
                    "GET",
                    &format!("{}root.json", Ctx::tuf(OWNER)),
                    &[("X-Big", &value)],
                    &[],
                )
            },
        ),
    ]
}

fn document_cases() -> Vec<Case> {
    vec![
        size_case(
            "50000 targets signed by a stranger",
            INVALID_UPDATE,
            |ctx| {
                let mut signed = ctx.signed(OWNER, "targets");
                bump(&mut signed);
                let entry = signed["targets"]["payload"].clone();
                for i in 0..50_000 {
                    signed["targets"][format!("bulk/{i}")] = entry.clone();
                }
                let file = Ctx::sign(&signed, &ctx.stranger_signers());
                with_snapshot(ctx, &file)
            },
        ),
        size_case(
            "snapshot naming 2000 files that do not exist",
            INVALID_UPDATE,
            |ctx| {
                let snapshot = ctx.snapshot_over(OWNER, &[], |s| {
                    for i in 0..2_000 {
                        s["meta"][format!("targets/ghost{i}")] = meta(format!("{i}").as_bytes());
                    }
                });
                ctx.upload(OWNER, &[("snapshot", snapshot)])
            },
        ),
        size_case(
            "10000 delegations with threshold 0",
            INVALID_UPDATE,
            |ctx| {
                let parts = ctx.publish(OWNER, |t| {
                    let template = t["delegations"]["roles"][0].clone();
                    let roles = t["delegations"]["roles"].as_array_mut().unwrap();
                    for i in 0..10_000 {
                        let mut role = template.clone();
                        role["name"] = json!(format!("targets/bulk{i}"));
                        role["threshold"] = json!(0);
                        roles.push(role);
                    }
                });
                ctx.upload(OWNER, &parts)
            },
        ),
        size_case("expires of 100 KB", Expect::Accepts(OWNER), |ctx| {
            let file = ctx.next(OWNER, "targets", |t| {
                t["expires"] = json!(format!("2030-01-01T00:00:00.{}Z", "1".repeat(100_000)));
            });
            with_snapshot(ctx, &file)
        }),
        size_case("signature key ID of 1 MiB", INVALID_UPDATE, |ctx| {
            let file = valid_targets(ctx);
            let mut value: Value = serde_json::from_slice(&file).unwrap();
            value["signatures"][0]["keyid"] = json!("a".repeat(1024 * 1024));
            with_snapshot(ctx, &serde_json::to_vec(&value).unwrap())
        }),
        size_case("root of 4 MiB for a new GUN", INVALID_UPDATE, |ctx| {
            let mut root = ctx.signed(VICTIM, "root");
            root["padding"] = json!("p".repeat(4 * 1024 * 1024));
            let file = Ctx::sign(&root, &ctx.stranger_signers());
            ctx.upload("attack.example/brand-new", &[("root", file)])
        }),
    ]
}

/// The size and depth cases.
pub(crate) fn cases() -> Vec<Case> {
    let mut cases = body_cases();
    cases.extend(depth_cases());
    cases.extend(parts_cases());
    cases.extend(name_length_cases());
    cases.extend(header_cases());
    cases.extend(document_cases());
    cases
}
