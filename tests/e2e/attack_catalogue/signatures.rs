//! Signatures: missing, from unknown keys or other roles' keys, below a threshold, with the
//! wrong method or encoding, and key IDs that do not match the key that signed.
//!
//! Each case uploads a document whose content is a valid next version, with a valid snapshot
//! over its exact bytes, so only the signatures are wrong.

use std::sync::Arc;

use serde_json::{Value, json};
use signet_signer::{PrivateKey, Signer};
use signet_tuf::{KeyId, Signature, cjson};

use super::fixture::{Ctx, NIGHTLY, OWNER, QUORUM, QUORUM_ROLE, RELEASES, bump};
use super::syntax::with_snapshot;
use super::wire::Outcome;
use super::{Case, Category, Expect, case};

const INVALID_UPDATE: Expect = Expect::Status(400, "INVALID_UPDATE");
const MALFORMED_JSON: Expect = Expect::Status(400, "MALFORMED_JSON");

/// The next `role` of `gun` and its canonical bytes.
fn next_doc(ctx: &Ctx, gun: &str, role: &str) -> (Value, Vec<u8>) {
    let mut signed = ctx.signed(gun, role);
    bump(&mut signed);
    let canonical = cjson::to_canonical(&signed).unwrap();
    (signed, canonical)
}

/// The file for canonical `signed` bytes carrying `signatures` as JSON (any shape).
fn file_with(canonical: &[u8], signatures: &Value) -> Vec<u8> {
    let mut out = b"{\"signed\":".to_vec();
    out.extend_from_slice(&signet_tuf::notary::gojson::html_escape(canonical));
    out.extend_from_slice(b",\"signatures\":");
    out.extend_from_slice(&serde_json::to_vec(signatures).unwrap());
    out.push(b'}');
    out
}

/// The real targets signature of the next targets, as JSON.
fn real_signature(ctx: &Ctx, canonical: &[u8]) -> Value {
    let sigs = Ctx::signatures(canonical, &ctx.signers(OWNER, "targets"));
    serde_json::to_value(&sigs[0]).unwrap()
}

/// A case on the next targets of [`OWNER`]: `signatures(ctx, canonical)` gives the
/// signatures member.
fn targets_case(
    name: &str,
    expect: Expect,
    signatures: impl Fn(&Ctx, &[u8]) -> Value + Send + Sync + 'static,
) -> Case {
    case(
        Category::Signatures,
        format!("targets: {name}"),
        expect,
        move |ctx| {
            let (_, canonical) = next_doc(ctx, OWNER, "targets");
            with_snapshot(ctx, &file_with(&canonical, &signatures(ctx, &canonical)))
        },
    )
}

/// A signature JSON by `signer` over `msg`, with its fields then changed by `edit`.
fn sig_json(signer: &dyn Signer, msg: &[u8], edit: impl FnOnce(&mut Value)) -> Value {
    let mut v = serde_json::to_value(signer.sign(msg).unwrap()).unwrap();
    edit(&mut v);
    v
}

/// An ASN.1 DER `SEQUENCE { INTEGER r, INTEGER s }` from a raw `r‖s` signature.
fn der_ecdsa(raw: &[u8]) -> Vec<u8> {
    fn integer(bytes: &[u8]) -> Vec<u8> {
        let mut trimmed: Vec<u8> = bytes.iter().copied().skip_while(|b| *b == 0).collect();
        if trimmed.first().is_none_or(|b| *b & 0x80 != 0) {
            trimmed.insert(0, 0);
        }
        let mut out = vec![0x02, u8::try_from(trimmed.len()).unwrap()];
        out.extend_from_slice(&trimmed);
        out
    }
    let (r, s) = raw.split_at(raw.len() / 2);
    let mut body = integer(r);
    body.extend_from_slice(&integer(s));
    let mut out = vec![0x30, u8::try_from(body.len()).unwrap()];
    out.extend_from_slice(&body);
    out
}

fn b64(bytes: &[u8]) -> Value {
    // Signature's own serialiser produces padded standard base64.
    let sig = Signature {
        keyid: KeyId::sha256_of(b"x"),
        method: "ecdsa".to_owned(),
        sig: bytes.to_vec(),
    };
    serde_json::to_value(sig).unwrap()["sig"].clone()
}

fn targets_cases() -> Vec<Case> {
    let targets_key_id = |ctx: &Ctx| ctx.signers(OWNER, "targets")[0].public_key().key_id();
    vec![
        targets_case("no signatures", INVALID_UPDATE, |_, _| json!([])),
        targets_case("signatures null", INVALID_UPDATE, |_, _| Value::Null),
        targets_case("signatures member missing", INVALID_UPDATE, |_, _| {
            // Replaced below by a file without the member.
            json!("__omit__")
        }),
        targets_case("a key nobody knows", INVALID_UPDATE, |ctx, msg| {
            json!([sig_json(ctx.stranger.as_ref(), msg, |_| {})])
        }),
        targets_case(
            "an unknown key's signature under the targets key ID",
            INVALID_UPDATE,
            move |ctx, msg| {
                let id = targets_key_id(ctx);
                json!([sig_json(ctx.stranger.as_ref(), msg, |s| s["keyid"] =
                    json!(id.as_str()))])
            },
        ),
        targets_case(
            "the targets signature under an unknown key ID",
            INVALID_UPDATE,
            |ctx, msg| {
                let mut sig = real_signature(ctx, msg);
                sig["keyid"] = json!(ctx.stranger.key_id().as_str());
                json!([sig])
            },
        ),
        targets_case("signed by the snapshot key", INVALID_UPDATE, |ctx, msg| {
            json!(Ctx::signatures(msg, &ctx.signers(OWNER, "snapshot")))
        }),
        targets_case("signed by the root key", INVALID_UPDATE, |ctx, msg| {
            json!(Ctx::signatures(msg, &ctx.signers(OWNER, "root")))
        }),
        targets_case(
            "signed by the delegation key",
            INVALID_UPDATE,
            |ctx, msg| json!(Ctx::signatures(msg, &ctx.signers(OWNER, RELEASES))),
        ),
        targets_case("empty signature bytes", INVALID_UPDATE, |ctx, msg| {
            let mut sig = real_signature(ctx, msg);
            sig["sig"] = json!("");
            json!([sig])
        }),
        targets_case("random signature bytes", INVALID_UPDATE, |ctx, msg| {
            let mut sig = real_signature(ctx, msg);
            sig["sig"] = b64(&[0x5a; 64]);
            json!([sig])
        }),
        targets_case("signature not base64", MALFORMED_JSON, |ctx, msg| {
            let mut sig = real_signature(ctx, msg);
            sig["sig"] = json!("!!not base64!!");
            json!([sig])
        }),
        targets_case(
            "signature in URL-safe base64",
            MALFORMED_JSON,
            |ctx, msg| {
                let mut sig = real_signature(ctx, msg);
                let text = sig["sig"]
                    .as_str()
                    .unwrap()
                    .replace('+', "-")
                    .replace('/', "_");
                // Make sure the URL-safe alphabet is actually in use.
                sig["sig"] = json!(format!("{}-_", text.trim_end_matches('=')));
                json!([sig])
            },
        ),
        targets_case("signature a number", MALFORMED_JSON, |ctx, msg| {
            let mut sig = real_signature(ctx, msg);
            sig["sig"] = json!(12345);
            json!([sig])
        }),
        targets_case("signature cut to 63 bytes", INVALID_UPDATE, |ctx, msg| {
            let sig = ctx.signers(OWNER, "targets")[0].sign(msg).unwrap();
            let mut v = serde_json::to_value(&sig).unwrap();
            v["sig"] = b64(&sig.sig[..63]);
            json!([v])
        }),
        targets_case("signature with a 65th byte", INVALID_UPDATE, |ctx, msg| {
            let sig = ctx.signers(OWNER, "targets")[0].sign(msg).unwrap();
            let mut bytes = sig.sig.clone();
            bytes.push(0);
            let mut v = serde_json::to_value(&sig).unwrap();
            v["sig"] = b64(&bytes);
            json!([v])
        }),
        targets_case("DER-encoded ECDSA signature", INVALID_UPDATE, |ctx, msg| {
            let sig = ctx.signers(OWNER, "targets")[0].sign(msg).unwrap();
            let mut v = serde_json::to_value(&sig).unwrap();
            v["sig"] = b64(&der_ecdsa(&sig.sig));
            json!([v])
        }),
        targets_case(
            "method eddsa for an ECDSA key",
            INVALID_UPDATE,
            |ctx, msg| {
                let mut sig = real_signature(ctx, msg);
                sig["method"] = json!("eddsa");
                json!([sig])
            },
        ),
        targets_case(
            "method rsapss for an ECDSA key",
            INVALID_UPDATE,
            |ctx, msg| {
                let mut sig = real_signature(ctx, msg);
                sig["method"] = json!("rsapss");
                json!([sig])
            },
        ),
        targets_case("method empty", INVALID_UPDATE, |ctx, msg| {
            let mut sig = real_signature(ctx, msg);
            sig["method"] = json!("");
            json!([sig])
        }),
        targets_case("method none", INVALID_UPDATE, |ctx, msg| {
            let mut sig = real_signature(ctx, msg);
            sig["method"] = json!("none");
            json!([sig])
        }),
        targets_case("method ecdsa-x509", INVALID_UPDATE, |ctx, msg| {
            let mut sig = real_signature(ctx, msg);
            sig["method"] = json!("ecdsa-x509");
            json!([sig])
        }),
        targets_case("method missing", INVALID_UPDATE, |ctx, msg| {
            let mut sig = real_signature(ctx, msg);
            sig.as_object_mut().unwrap().remove("method");
            json!([sig])
        }),
        targets_case("key ID in upper case", INVALID_UPDATE, |ctx, msg| {
            let mut sig = real_signature(ctx, msg);
            sig["keyid"] = json!(sig["keyid"].as_str().unwrap().to_ascii_uppercase());
            json!([sig])
        }),
        targets_case(
            "key ID with a trailing space",
            INVALID_UPDATE,
            |ctx, msg| {
                let mut sig = real_signature(ctx, msg);
                sig["keyid"] = json!(format!("{} ", sig["keyid"].as_str().unwrap()));
                json!([sig])
            },
        ),
        targets_case("key ID empty", INVALID_UPDATE, |ctx, msg| {
            let mut sig = real_signature(ctx, msg);
            sig["keyid"] = json!("");
            json!([sig])
        }),
        targets_case("key ID missing", INVALID_UPDATE, |ctx, msg| {
            let mut sig = real_signature(ctx, msg);
            sig.as_object_mut().unwrap().remove("keyid");
            json!([sig])
        }),
        targets_case(
            "signature of the current version (content bumped)",
            INVALID_UPDATE,
            |ctx, _| {
                let current: Value = serde_json::from_slice(&ctx.file(OWNER, "targets")).unwrap();
                current["signatures"].clone()
            },
        ),
        targets_case(
            "signature over the pretty-printed document",
            INVALID_UPDATE,
            |ctx, msg| {
                let value: Value = serde_json::from_slice(msg).unwrap();
                let pretty = serde_json::to_vec_pretty(&value).unwrap();
                json!(Ctx::signatures(&pretty, &ctx.signers(OWNER, "targets")))
            },
        ),
        targets_case(
            "signature over the document without its version",
            INVALID_UPDATE,
            |ctx, msg| {
                let mut value: Value = serde_json::from_slice(msg).unwrap();
                value.as_object_mut().unwrap().remove("version");
                let bytes = cjson::to_canonical(&value).unwrap();
                json!(Ctx::signatures(&bytes, &ctx.signers(OWNER, "targets")))
            },
        ),
        targets_case(
            "10000 signatures, none valid",
            INVALID_UPDATE,
            |ctx, msg| {
                let sig = sig_json(ctx.stranger.as_ref(), msg, |_| {});
                json!(vec![sig; 10_000])
            },
        ),
    ]
}

/// A case on the next `role` of `gun` signed by `signers(ctx)`, with a valid snapshot.
fn role_case(
    name: &str,
    gun: &'static str,
    role: &'static str,
    expect: Expect,
    signers: impl Fn(&Ctx) -> Vec<Arc<dyn Signer>> + Send + Sync + 'static,
) -> Case {
    case(
        Category::Signatures,
        format!("{role}: {name}"),
        expect,
        move |ctx| {
            let (signed, _) = next_doc(ctx, gun, role);
            let file = Ctx::sign(&signed, &signers(ctx));
            if role == "snapshot" {
                let targets = ctx.next(gun, "targets", |_| {});
                let mut snap = signed;
                snap["meta"]["targets"] = super::fixture::meta(&targets);
                let file = Ctx::sign(&snap, &signers(ctx));
                return ctx.upload(gun, &[("targets", targets), ("snapshot", file)]);
            }
            let snapshot = ctx.snapshot_over(gun, &[(role, &file)], |_| {});
            ctx.upload(gun, &[(role, file), ("snapshot", snapshot)])
        },
    )
}

/// The quorum delegation signed with raw signature JSON from `signatures(ctx, msg)`.
fn quorum_case(
    name: &str,
    expect: Expect,
    signatures: impl Fn(&Ctx, &[u8]) -> Value + Send + Sync + 'static,
) -> Case {
    case(
        Category::Signatures,
        format!("{QUORUM_ROLE}: {name}"),
        expect,
        move |ctx| {
            let (_, canonical) = next_doc(ctx, QUORUM, QUORUM_ROLE);
            let file = file_with(&canonical, &signatures(ctx, &canonical));
            let snapshot = ctx.snapshot_over(QUORUM, &[(QUORUM_ROLE, &file)], |_| {});
            ctx.upload(
                QUORUM,
                &[
                    (QUORUM_ROLE, file.as_slice()),
                    ("snapshot", snapshot.as_slice()),
                ],
            )
        },
    )
}

fn quorum_signers(ctx: &Ctx) -> Vec<Arc<dyn Signer>> {
    ctx.signers(QUORUM, QUORUM_ROLE)
}

/// The next root of [`QUORUM`] signed by `signers`.
fn quorum_root(ctx: &Ctx, signatures: impl Fn(&[u8], &[Arc<dyn Signer>]) -> Value) -> Outcome {
    let (_, canonical) = next_doc(ctx, QUORUM, "root");
    let file = file_with(
        &canonical,
        &signatures(&canonical, &ctx.signers(QUORUM, "root")),
    );
    let snapshot = ctx.snapshot_over(QUORUM, &[("root", &file)], |_| {});
    ctx.upload(
        QUORUM,
        &[("root", file.as_slice()), ("snapshot", snapshot.as_slice())],
    )
}

fn other_cases() -> Vec<Case> {
    let stranger = |ctx: &Ctx| -> Vec<Arc<dyn Signer>> { vec![ctx.stranger.clone()] };
    vec![
        role_case(
            "signed by the targets key",
            OWNER,
            "snapshot",
            INVALID_UPDATE,
            |ctx| ctx.signers(OWNER, "targets"),
        ),
        role_case(
            "signed by a key nobody knows",
            OWNER,
            "snapshot",
            INVALID_UPDATE,
            stranger,
        ),
        role_case("unsigned", OWNER, "snapshot", INVALID_UPDATE, |_| {
            Vec::new()
        }),
        role_case(
            "signed by the root key",
            OWNER,
            "snapshot",
            INVALID_UPDATE,
            |ctx| ctx.signers(OWNER, "root"),
        ),
        role_case(
            "signed by the parent's (targets) key",
            OWNER,
            RELEASES,
            INVALID_UPDATE,
            |ctx| ctx.signers(OWNER, "targets"),
        ),
        role_case(
            "signed by the child's key",
            OWNER,
            RELEASES,
            INVALID_UPDATE,
            |ctx| ctx.signers(OWNER, NIGHTLY),
        ),
        role_case(
            "signed by a key nobody knows",
            OWNER,
            RELEASES,
            INVALID_UPDATE,
            stranger,
        ),
        role_case("unsigned", OWNER, RELEASES, INVALID_UPDATE, |_| Vec::new()),
        role_case(
            "signed by the parent's key",
            OWNER,
            NIGHTLY,
            INVALID_UPDATE,
            |ctx| ctx.signers(OWNER, RELEASES),
        ),
        role_case(
            "signed by the targets key",
            OWNER,
            NIGHTLY,
            INVALID_UPDATE,
            |ctx| ctx.signers(OWNER, "targets"),
        ),
        role_case(
            "unsigned",
            OWNER,
            "root",
            Expect::Status(400, "INVALID_UPDATE"),
            |_| Vec::new(),
        ),
        role_case(
            "signed by the targets key",
            OWNER,
            "root",
            INVALID_UPDATE,
            |ctx| ctx.signers(OWNER, "targets"),
        ),
        quorum_case(
            "one of two keys (threshold 2)",
            INVALID_UPDATE,
            |ctx, msg| json!(Ctx::signatures(msg, &quorum_signers(ctx)[..1])),
        ),
        quorum_case("the same key twice", INVALID_UPDATE, |ctx, msg| {
            let sig = Ctx::signatures(msg, &quorum_signers(ctx)[..1]);
            json!([sig[0], sig[0]])
        }),
        quorum_case(
            "the same key twice, once with an upper-case key ID",
            INVALID_UPDATE,
            |ctx, msg| {
                let sig = serde_json::to_value(&Ctx::signatures(msg, &quorum_signers(ctx)[..1])[0])
                    .unwrap();
                let mut upper = sig.clone();
                upper["keyid"] = json!(sig["keyid"].as_str().unwrap().to_ascii_uppercase());
                json!([sig, upper])
            },
        ),
        quorum_case(
            "one key's signature twice, the second under the other key's ID",
            INVALID_UPDATE,
            |ctx, msg| {
                let signers = quorum_signers(ctx);
                let sig = serde_json::to_value(&Ctx::signatures(msg, &signers[..1])[0]).unwrap();
                let mut relabelled = sig.clone();
                relabelled["keyid"] = json!(signers[1].public_key().key_id().as_str());
                json!([sig, relabelled])
            },
        ),
        quorum_case("one key and a stranger", INVALID_UPDATE, |ctx, msg| {
            let mut sigs = Ctx::signatures(msg, &quorum_signers(ctx)[..1]);
            sigs.push(ctx.stranger.sign(msg).unwrap());
            json!(sigs)
        }),
        quorum_case("two strangers", INVALID_UPDATE, |ctx, msg| {
            let other = PrivateKey::generate_ecdsa().unwrap();
            json!([ctx.stranger.sign(msg).unwrap(), other.sign(msg).unwrap()])
        }),
        case(
            Category::Signatures,
            "root: one of two root keys (threshold 2)",
            INVALID_UPDATE,
            |ctx| {
                quorum_root(ctx, |msg, signers| {
                    json!(Ctx::signatures(msg, &signers[..1]))
                })
            },
        ),
        case(
            Category::Signatures,
            "root: the same root key twice (threshold 2)",
            INVALID_UPDATE,
            |ctx| {
                quorum_root(ctx, |msg, signers| {
                    let sig = Ctx::signatures(msg, &signers[..1]);
                    json!([sig[0], sig[0]])
                })
            },
        ),
        case(
            Category::Signatures,
            "root: one root key and a stranger (threshold 2)",
            INVALID_UPDATE,
            |ctx| {
                let stranger = ctx.stranger.clone();
                quorum_root(ctx, move |msg, signers| {
                    let mut sigs = Ctx::signatures(msg, &signers[..1]);
                    sigs.push(stranger.sign(msg).unwrap());
                    json!(sigs)
                })
            },
        ),
    ]
}

/// The signature cases.
pub(crate) fn cases() -> Vec<Case> {
    let mut cases = targets_cases();
    // "signatures member missing": a file with no `signatures` member at all.
    if let Some(c) = cases
        .iter_mut()
        .find(|c| c.name == "targets: signatures member missing")
    {
        c.attack = Box::new(|ctx| {
            let (_, canonical) = next_doc(ctx, OWNER, "targets");
            let mut file = b"{\"signed\":".to_vec();
            file.extend_from_slice(&signet_tuf::notary::gojson::html_escape(&canonical));
            file.push(b'}');
            with_snapshot(ctx, &file)
        });
    }
    cases.extend(other_cases());
    cases
}
