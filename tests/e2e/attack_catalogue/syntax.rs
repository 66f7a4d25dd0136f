//! Syntax: broken JSON, documents that are not canonical JSON, and broken multipart framing.
//!
//! JSON cases upload a broken `targets` file with a valid snapshot over those exact bytes, so
//! only the syntax is wrong. Framing cases carry a valid publish, so a parser that let the
//! framing through would change the repository.

use serde_json::{Value, json};

use super::fixture::{Ctx, OWNER};
use super::wire::{self, BOUNDARY, Outcome};
use super::{Case, Category, Expect, case};

const MALFORMED_JSON: Expect = Expect::Status(400, "MALFORMED_JSON");
const INVALID_UPDATE: Expect = Expect::Status(400, "INVALID_UPDATE");
const MALFORMED_UPLOAD: Expect = Expect::Status(400, "MALFORMED_UPLOAD");
const NO_FILENAME: Expect = Expect::Status(400, "NO_FILENAME");

/// Uploads `targets` with a valid snapshot over its exact bytes to [`OWNER`].
pub(crate) fn with_snapshot(ctx: &Ctx, targets: &[u8]) -> Outcome {
    let snapshot = ctx.snapshot_over(OWNER, &[("targets", targets)], |_| {});
    ctx.upload(
        OWNER,
        &[("targets", targets), ("snapshot", snapshot.as_slice())],
    )
}

/// The next targets of [`OWNER`], validly signed.
pub(crate) fn valid_targets(ctx: &Ctx) -> Vec<u8> {
    ctx.next(OWNER, "targets", |_| {})
}

/// The valid next targets as text, edited by `edit` (signatures no longer match).
fn edited_text(ctx: &Ctx, edit: impl Fn(String) -> String) -> Vec<u8> {
    edit(String::from_utf8(valid_targets(ctx)).unwrap()).into_bytes()
}

fn json_case(
    name: &str,
    expect: Expect,
    make: impl Fn(&Ctx) -> Vec<u8> + Send + Sync + 'static,
) -> Case {
    case(
        Category::Syntax,
        format!("json: {name}"),
        expect,
        move |ctx| with_snapshot(ctx, &make(ctx)),
    )
}

/// A targets document changed by `edit` and validly signed over its canonical form.
fn signed_case(
    name: &str,
    expect: Expect,
    edit: impl Fn(&mut Value) + Send + Sync + 'static,
) -> Case {
    json_case(name, expect, move |ctx| ctx.next(OWNER, "targets", &edit))
}

/// A targets document whose `signed` text is `signed_text(canonical)` and whose signatures
/// are made by the real targets key over `signed_text` exactly as written.
fn text_signed_case(
    name: &str,
    expect: Expect,
    signed_text: impl Fn(&str) -> String + Send + Sync + 'static,
) -> Case {
    json_case(name, expect, move |ctx| {
        let mut signed = ctx.signed(OWNER, "targets");
        super::fixture::bump(&mut signed);
        let canonical =
            String::from_utf8(signet_tuf::cjson::to_canonical(&signed).unwrap()).unwrap();
        let text = signed_text(&canonical);
        let signatures = Ctx::signatures(text.as_bytes(), &ctx.signers(OWNER, "targets"));
        Ctx::envelope(text.as_bytes(), &signatures)
    })
}

/// A canonical-JSON violation: the file's `signed` text is `file_text(canonical)`, signed
/// over `signed_bytes(canonical)` by the real targets key.
fn canonical_case(
    name: &str,
    expect: Expect,
    file_text: impl Fn(&str) -> String + Send + Sync + 'static,
    signed_bytes: impl Fn(&str) -> String + Send + Sync + 'static,
) -> Case {
    case(
        Category::Syntax,
        format!("canonical: {name}"),
        expect,
        move |ctx| {
            let mut signed = ctx.signed(OWNER, "targets");
            super::fixture::bump(&mut signed);
            let canonical =
                String::from_utf8(signet_tuf::cjson::to_canonical(&signed).unwrap()).unwrap();
            let signatures = Ctx::signatures(
                signed_bytes(&canonical).as_bytes(),
                &ctx.signers(OWNER, "targets"),
            );
            let file = Ctx::envelope(file_text(&canonical).as_bytes(), &signatures);
            with_snapshot(ctx, &file)
        },
    )
}

fn json_cases() -> Vec<Case> {
    let mut cases = vec![
        json_case("empty part", MALFORMED_JSON, |_| Vec::new()),
        json_case("whitespace only", MALFORMED_JSON, |_| b" \r\n\t ".to_vec()),
        json_case("null", INVALID_UPDATE, |_| b"null".to_vec()),
        json_case("array", MALFORMED_JSON, |_| b"[]".to_vec()),
        json_case("string", MALFORMED_JSON, |_| b"\"targets\"".to_vec()),
        json_case("number", MALFORMED_JSON, |_| b"42".to_vec()),
        json_case("empty object", INVALID_UPDATE, |_| b"{}".to_vec()),
        json_case("signed null", INVALID_UPDATE, |_| {
            br#"{"signed":null,"signatures":[]}"#.to_vec()
        }),
        json_case("signed an array", MALFORMED_JSON, |_| {
            br#"{"signed":[],"signatures":[]}"#.to_vec()
        }),
        json_case("signed a string", MALFORMED_JSON, |_| {
            br#"{"signed":"Targets","signatures":[]}"#.to_vec()
        }),
        json_case("no signed member", INVALID_UPDATE, |_| {
            br#"{"signatures":[]}"#.to_vec()
        }),
        json_case("signatures an object", MALFORMED_JSON, |ctx| {
            let mut file: Value = serde_json::from_slice(&valid_targets(ctx)).unwrap();
            file["signatures"] = json!({"keyid": "x"});
            serde_json::to_vec(&file).unwrap()
        }),
        json_case("trailing garbage", INVALID_UPDATE, |ctx| {
            let mut bytes = valid_targets(ctx);
            bytes.extend_from_slice(b"xyz");
            bytes
        }),
        json_case("a second document after the first", INVALID_UPDATE, |ctx| {
            let mut bytes = valid_targets(ctx);
            bytes.extend_from_slice(b"{}");
            bytes
        }),
        json_case("trailing NUL", INVALID_UPDATE, |ctx| {
            let mut bytes = valid_targets(ctx);
            bytes.push(0);
            bytes
        }),
        json_case("UTF-8 byte order mark", MALFORMED_JSON, |ctx| {
            let mut bytes = vec![0xef, 0xbb, 0xbf];
            bytes.extend_from_slice(&valid_targets(ctx));
            bytes
        }),
        json_case("UTF-16 encoded", MALFORMED_JSON, |ctx| {
            let text = String::from_utf8(valid_targets(ctx)).unwrap();
            text.encode_utf16().flat_map(u16::to_le_bytes).collect()
        }),
        json_case("invalid UTF-8 in _type", MALFORMED_JSON, |ctx| {
            let text = edited_text(ctx, |t| t.replacen("\"Targets\"", "\"Tar\u{1}gets\"", 1));
            text.into_iter()
                .map(|b| if b == 1 { 0xff } else { b })
                .collect()
        }),
        json_case("raw control character in a string", MALFORMED_JSON, |ctx| {
            edited_text(ctx, |t| t.replacen("\"Targets\"", "\"Tar\u{7}gets\"", 1))
        }),
        json_case("single quotes", MALFORMED_JSON, |ctx| {
            edited_text(ctx, |t| t.replacen("\"signed\"", "'signed'", 1))
        }),
        json_case("comment", MALFORMED_JSON, |ctx| {
            edited_text(ctx, |t| {
                t.replacen("{\"signed\":", "{/* x */\"signed\":", 1)
            })
        }),
        json_case("trailing comma", MALFORMED_JSON, |ctx| {
            edited_text(ctx, |t| {
                let mut t = t;
                t.insert(t.len() - 1, ',');
                t
            })
        }),
        json_case("version NaN", MALFORMED_JSON, |ctx| {
            edited_text(ctx, |t| replace_version(&t, "NaN"))
        }),
        json_case("version Infinity", MALFORMED_JSON, |ctx| {
            edited_text(ctx, |t| replace_version(&t, "Infinity"))
        }),
        json_case("version with a leading zero", MALFORMED_JSON, |ctx| {
            edited_text(ctx, |t| {
                let v = version_of(&t);
                replace_version(&t, &format!("0{v}"))
            })
        }),
        json_case("version 1e400", MALFORMED_JSON, |ctx| {
            edited_text(ctx, |t| replace_version(&t, "1e400"))
        }),
        json_case("version with 5000 digits", MALFORMED_JSON, |ctx| {
            edited_text(ctx, |t| replace_version(&t, &"9".repeat(5000)))
        }),
        json_case("unterminated string", MALFORMED_JSON, |ctx| {
            edited_text(ctx, |t| t.replacen("\"Targets\"", "\"Targets", 1))
        }),
        json_case("lone surrogate escape", MALFORMED_JSON, |ctx| {
            edited_text(ctx, |t| {
                t.replacen("\"targets\":{", "\"targets\":{\"\\ud800\":{\"hashes\":{\"sha256\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\"},\"length\":1},", 1)
            })
        }),
    ];
    for percent in [1, 25, 50, 75, 99] {
        cases.push(json_case(
            &format!("truncated at {percent}%"),
            MALFORMED_JSON,
            move |ctx| {
                let mut bytes = valid_targets(ctx);
                bytes.truncate(bytes.len() * percent / 100);
                bytes
            },
        ));
    }
    // Type and value errors in a document that is otherwise validly signed.
    let signed: Vec<(&str, Expect, Value)> = vec![
        ("version a string", MALFORMED_JSON, json!("7")),
        ("version a float", MALFORMED_JSON, json!(7.5)),
        ("version null", INVALID_UPDATE, Value::Null),
        ("version true", MALFORMED_JSON, json!(true)),
        ("version an object", MALFORMED_JSON, json!({"v": 7})),
        ("version an array", MALFORMED_JSON, json!([7])),
    ];
    for (name, expect, value) in signed {
        cases.push(signed_case(name, expect, move |t| {
            t["version"] = value.clone()
        }));
    }
    cases.push(signed_case("no version", INVALID_UPDATE, |t| {
        t.as_object_mut().unwrap().remove("version");
    }));
    cases.push(signed_case("no expires", INVALID_UPDATE, |t| {
        t.as_object_mut().unwrap().remove("expires");
    }));
    cases.push(signed_case("no _type", INVALID_UPDATE, |t| {
        t.as_object_mut().unwrap().remove("_type");
    }));
    cases.push(signed_case("_type Root", INVALID_UPDATE, |t| {
        t["_type"] = json!("Root");
    }));
    cases.push(signed_case("_type lower case", INVALID_UPDATE, |t| {
        t["_type"] = json!("targets");
    }));
    cases.push(signed_case("_type a number", MALFORMED_JSON, |t| {
        t["_type"] = json!(1);
    }));
    cases.push(signed_case("targets an array", INVALID_UPDATE, |t| {
        t["targets"] = json!([]);
    }));
    cases.push(signed_case("target length a string", INVALID_UPDATE, |t| {
        t["targets"]["payload"]["length"] = json!("16");
    }));
    cases.push(signed_case("target hash not base64", INVALID_UPDATE, |t| {
        t["targets"]["payload"]["hashes"]["sha256"] = json!("not base64!");
    }));
    cases.push(signed_case("delegations an array", INVALID_UPDATE, |t| {
        t["delegations"] = json!([]);
    }));
    cases.push(signed_case("expires a number", MALFORMED_JSON, |t| {
        t["expires"] = json!(1_900_000_000);
    }));
    for (name, expires) in [
        ("date only", "2030-01-01"),
        ("no zone", "2030-01-01T00:00:00"),
        ("month 13", "2030-13-01T00:00:00Z"),
        ("February 30", "2030-02-30T00:00:00Z"),
        ("hour 24", "2030-01-01T24:00:00Z"),
        ("space separator", "2030-01-01 00:00:00Z"),
        ("offset +25:00", "2030-01-01T00:00:00+25:00"),
        ("five-digit year", "12030-01-01T00:00:00Z"),
        ("empty", ""),
        ("unix seconds as text", "1900000000"),
    ] {
        cases.push(signed_case(
            &format!("expires {name}"),
            MALFORMED_JSON,
            move |t| t["expires"] = json!(expires),
        ));
    }
    cases.push(text_signed_case(
        "duplicate version member",
        INVALID_UPDATE,
        |canonical| {
            let v = version_of(canonical);
            canonical.replacen(
                &format!("\"version\":{v}"),
                &format!("\"version\":{v},\"version\":{}", v + 1000),
                1,
            )
        },
    ));
    cases.push(text_signed_case(
        "duplicate targets member",
        INVALID_UPDATE,
        |canonical| canonical.replacen("\"targets\":{", "\"targets\":{},\"targets\":{", 1),
    ));
    cases.push(json_case("duplicate signed member", INVALID_UPDATE, |ctx| {
        let text = String::from_utf8(valid_targets(ctx)).unwrap();
        text.replacen(
            "{\"signed\":",
            "{\"signed\":{\"_type\":\"Targets\",\"expires\":\"2030-01-01T00:00:00Z\",\"targets\":{},\"version\":999},\"signed\":",
            1,
        )
        .into_bytes()
    }));
    cases.push(json_case(
        "duplicate signatures member",
        INVALID_UPDATE,
        |ctx| {
            let text = String::from_utf8(valid_targets(ctx)).unwrap();
            let cut = text.rfind('}').unwrap();
            format!("{},\"signatures\":[]}}", &text[..cut]).into_bytes()
        },
    ));
    cases
}

fn version_of(text: &str) -> i64 {
    let start = text.find("\"version\":").unwrap() + "\"version\":".len();
    text[start..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .unwrap()
}

fn replace_version(text: &str, with: &str) -> String {
    let v = version_of(text);
    text.replacen(
        &format!("\"version\":{v}"),
        &format!("\"version\":{with}"),
        1,
    )
}

fn canonical_cases() -> Vec<Case> {
    let same = |c: &str| c.to_owned();
    vec![
        canonical_case(
            "signed over pretty-printed text",
            INVALID_UPDATE,
            same,
            pretty,
        ),
        canonical_case(
            "signed over the text plus a newline",
            INVALID_UPDATE,
            same,
            |c| format!("{c}\n"),
        ),
        canonical_case("signed over unsorted keys", INVALID_UPDATE, same, |c| {
            reorder(c)
        }),
        canonical_case("signed over escaped slashes", INVALID_UPDATE, same, |c| {
            c.replace('/', "\\/")
        }),
        canonical_case(
            "signed over the text with the version as a float",
            INVALID_UPDATE,
            same,
            |c| {
                let v = version_of(c);
                c.replacen(
                    &format!("\"version\":{v}"),
                    &format!("\"version\":{v}.0"),
                    1,
                )
            },
        ),
        canonical_case(
            "signed over the text with \\u escapes",
            INVALID_UPDATE,
            same,
            |c| c.replacen("\"Targets\"", "\"\\u0054argets\"", 1),
        ),
        canonical_case(
            "file version written as 7.0 (signed as 7)",
            MALFORMED_JSON,
            |c| {
                let v = version_of(c);
                c.replacen(
                    &format!("\"version\":{v}"),
                    &format!("\"version\":{v}.0"),
                    1,
                )
            },
            same,
        ),
        canonical_case(
            "file version written as 7e0 (signed as 7)",
            MALFORMED_JSON,
            |c| {
                let v = version_of(c);
                c.replacen(
                    &format!("\"version\":{v}"),
                    &format!("\"version\":{v}e0"),
                    1,
                )
            },
            same,
        ),
        canonical_case(
            "file version written as -0 (signed as 0)",
            MALFORMED_JSON,
            |c| {
                let v = version_of(c);
                c.replacen(&format!("\"version\":{v}"), "\"version\":-0", 1)
            },
            |c| {
                let v = version_of(c);
                c.replacen(&format!("\"version\":{v}"), "\"version\":0", 1)
            },
        ),
    ]
}

/// `canonical` re-serialised with indentation.
fn pretty(canonical: &str) -> String {
    let value: Value = serde_json::from_str(canonical).unwrap();
    serde_json::to_string_pretty(&value).unwrap()
}

/// `canonical` with its top-level members in reverse order.
fn reorder(canonical: &str) -> String {
    let value: Value = serde_json::from_str(canonical).unwrap();
    let members: Vec<String> = value
        .as_object()
        .unwrap()
        .iter()
        .rev()
        .map(|(k, v)| format!("{}:{}", json!(k), v))
        .collect();
    format!("{{{}}}", members.join(","))
}

/// A framing case: `body(ctx, parts of a valid publish)` sent with `content_type`.
fn framing_case(
    name: &str,
    expect: Expect,
    content_type: impl Fn() -> Option<String> + Send + Sync + 'static,
    body: impl Fn(&[(String, Vec<u8>)]) -> Vec<u8> + Send + Sync + 'static,
) -> Case {
    case(
        Category::Syntax,
        format!("multipart: {name}"),
        expect,
        move |ctx| {
            let parts = ctx.publish(OWNER, |_| {});
            let body = body(&parts);
            let content_type = content_type();
            let headers: Vec<(&str, &str)> = content_type
                .as_deref()
                .map(|ct| vec![("Content-Type", ct)])
                .unwrap_or_default();
            ctx.send("POST", &Ctx::tuf(OWNER), &headers, &body)
        },
    )
}

fn standard() -> Option<String> {
    Some(wire::form_type())
}

fn form(parts: &[(String, Vec<u8>)]) -> Vec<u8> {
    wire::form(parts)
}

/// The parts of `parts` each framed by `frame(role, contents)`, then the closing line.
fn framed(parts: &[(String, Vec<u8>)], frame: impl Fn(&str, &[u8]) -> Vec<u8>) -> Vec<u8> {
    let mut out = Vec::new();
    for (role, contents) in parts {
        out.extend_from_slice(&frame(role, contents));
    }
    out.extend_from_slice(&wire::closing());
    out
}

fn framing_cases() -> Vec<Case> {
    vec![
        framing_case("no content type", MALFORMED_UPLOAD, || None, form),
        framing_case(
            "application/json",
            MALFORMED_UPLOAD,
            || Some("application/json".to_owned()),
            form,
        ),
        framing_case(
            "text/plain with a boundary",
            MALFORMED_UPLOAD,
            || Some(format!("text/plain; boundary={BOUNDARY}")),
            form,
        ),
        framing_case(
            "urlencoded form",
            MALFORMED_UPLOAD,
            || Some("application/x-www-form-urlencoded".to_owned()),
            form,
        ),
        framing_case(
            "multipart/related",
            MALFORMED_UPLOAD,
            || Some(format!("multipart/related; boundary={BOUNDARY}")),
            form,
        ),
        framing_case(
            "no boundary parameter",
            MALFORMED_UPLOAD,
            || Some("multipart/form-data".to_owned()),
            form,
        ),
        framing_case(
            "empty boundary",
            MALFORMED_UPLOAD,
            || Some("multipart/form-data; boundary=\"\"".to_owned()),
            form,
        ),
        framing_case(
            "two boundary parameters",
            MALFORMED_UPLOAD,
            || {
                Some(format!(
                    "multipart/form-data; boundary=other; boundary={BOUNDARY}"
                ))
            },
            form,
        ),
        framing_case(
            "unparsable content type",
            MALFORMED_UPLOAD,
            || Some(format!("multipart/form-data; boundary={BOUNDARY}; =x")),
            form,
        ),
        framing_case(
            "boundary of another body",
            MALFORMED_UPLOAD,
            || Some("multipart/form-data; boundary=not-the-one".to_owned()),
            form,
        ),
        framing_case(
            "no closing delimiter",
            MALFORMED_UPLOAD,
            standard,
            |parts| {
                let mut body = form(parts);
                body.truncate(body.len() - wire::closing().len());
                body
            },
        ),
        framing_case(
            "body cut inside the last part",
            MALFORMED_UPLOAD,
            standard,
            |parts| {
                let mut body = form(parts);
                body.truncate(body.len() - 200);
                body
            },
        ),
        framing_case(
            "parts after the closing delimiter",
            INVALID_UPDATE,
            standard,
            |parts| {
                let mut body = wire::closing();
                body.extend_from_slice(&form(parts));
                body
            },
        ),
        framing_case("closing delimiter only", INVALID_UPDATE, standard, |_| {
            wire::closing()
        }),
        framing_case("empty body", MALFORMED_UPLOAD, standard, |_| Vec::new()),
        framing_case(
            "body without any delimiter",
            MALFORMED_UPLOAD,
            standard,
            |parts| parts[0].1.clone(),
        ),
        framing_case("no Content-Disposition", NO_FILENAME, standard, |parts| {
            framed(parts, |_, contents| {
                wire::part_with_headers("Content-Type: application/octet-stream\r\n", contents)
            })
        }),
        framing_case("no filename", NO_FILENAME, standard, |parts| {
            framed(parts, |role, contents| {
                wire::part_with_disposition(&format!("form-data; name=\"{role}\""), contents)
            })
        }),
        framing_case("empty filename", NO_FILENAME, standard, |parts| {
            framed(parts, |_, contents| {
                wire::part_with_disposition("form-data; name=\"files\"; filename=\"\"", contents)
            })
        }),
        framing_case("filename without a value", NO_FILENAME, standard, |parts| {
            framed(parts, |_, contents| {
                wire::part_with_disposition("form-data; name=\"files\"; filename", contents)
            })
        }),
        framing_case("two filename parameters", NO_FILENAME, standard, |parts| {
            framed(parts, |role, contents| {
                wire::part_with_disposition(
                    &format!("form-data; filename=\"{role}\"; filename=\"root\""),
                    contents,
                )
            })
        }),
        framing_case(
            "unterminated quoted filename",
            NO_FILENAME,
            standard,
            |parts| {
                framed(parts, |role, contents| {
                    wire::part_with_disposition(&format!("form-data; filename=\"{role}"), contents)
                })
            },
        ),
        framing_case(
            "header line without a colon",
            MALFORMED_UPLOAD,
            standard,
            |parts| {
                framed(parts, |role, contents| {
                    wire::part_with_headers(
                        &format!(
                            "Content-Disposition: form-data; filename=\"{role}\"\r\nno colon here\r\n"
                        ),
                        contents,
                    )
                })
            },
        ),
        framing_case(
            "NUL in a part header",
            MALFORMED_UPLOAD,
            standard,
            |parts| {
                framed(parts, |role, contents| {
                    wire::part_with_headers(
                        &format!(
                            "Content-Disposition: form-data; filename=\"{role}\"\r\nX-A\0: b\r\n"
                        ),
                        contents,
                    )
                })
            },
        ),
        framing_case(
            "contents base64-encoded",
            MALFORMED_JSON,
            standard,
            |parts| {
                framed(parts, |role, contents| {
                    wire::part_with_headers(
                        &format!(
                            "Content-Disposition: form-data; filename=\"{role}\"\r\nContent-Transfer-Encoding: base64\r\n"
                        ),
                        base64(contents).as_bytes(),
                    )
                })
            },
        ),
        framing_case(
            "a nested multipart body as the part",
            MALFORMED_JSON,
            standard,
            |parts| {
                framed(parts, |role, contents| {
                    let mut inner =
                        b"--inner\r\nContent-Disposition: form-data; filename=\"x\"\r\n\r\n"
                            .to_vec();
                    inner.extend_from_slice(contents);
                    inner.extend_from_slice(b"\r\n--inner--\r\n");
                    wire::part_with_headers(
                        &format!(
                            "Content-Disposition: form-data; filename=\"{role}\"\r\nContent-Type: multipart/mixed; boundary=inner\r\n"
                        ),
                        &inner,
                    )
                })
            },
        ),
        framing_case(
            "delimiter inside the contents",
            MALFORMED_JSON,
            standard,
            |parts| {
                framed(parts, |role, contents| {
                    let text = String::from_utf8_lossy(contents);
                    let split = text.replacen(
                        "\"signatures\"",
                        &format!("\r\n--{BOUNDARY}\r\n\r\n\"signatures\""),
                        1,
                    );
                    wire::part(role, split.as_bytes())
                })
            },
        ),
        framing_case(
            "delimiter without its CRLF before the first part",
            INVALID_UPDATE,
            standard,
            |parts| {
                let body = form(parts);
                let marker = format!("--{BOUNDARY}\r\n");
                let mut out = format!("--{BOUNDARY}").into_bytes();
                out.extend_from_slice(&body[marker.len()..]);
                out
            },
        ),
        framing_case(
            "closing delimiter with no parts before it and junk after",
            INVALID_UPDATE,
            standard,
            |_| {
                let mut body = wire::closing();
                body.extend_from_slice(b"junk junk junk\r\n");
                body
            },
        ),
    ]
}

/// Standard base64 with padding.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The syntax cases.
pub(crate) fn cases() -> Vec<Case> {
    let mut cases = json_cases();
    cases.extend(canonical_cases());
    cases.extend(framing_cases());
    cases
}
