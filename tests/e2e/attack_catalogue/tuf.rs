//! TUF attacks, each validly signed with the repositories' real keys so that only the rule
//! under test is broken: rollback and replay, version games, expired and frozen metadata,
//! mix-and-match across GUNs, root rotations without the old keys, snapshot hash and length
//! mismatches, delegation path escapes, duplicate roles, delegation cycles.

use std::sync::Arc;

use serde_json::{Value, json};
use signet_signer::{PrivateKey, Signer};

use super::fixture::{
    Ctx, NIGHTLY, OWNER, QUORUM, QUORUM_ROLE, RELEASES, SERVER_SNAP, VICTIM, bump, meta,
};
use super::wire::Outcome;
use super::{Case, Category, Expect, case};

const INVALID_UPDATE: Expect = Expect::Status(400, "INVALID_UPDATE");
const VERSION: Expect = Expect::Status(400, "VERSION");
const MALFORMED_JSON: Expect = Expect::Status(400, "MALFORMED_JSON");
const MALFORMED_UPLOAD: Expect = Expect::Status(400, "MALFORMED_UPLOAD");

fn tuf_case(
    name: impl Into<String>,
    expect: Expect,
    attack: impl Fn(&Ctx) -> Outcome + Send + Sync + 'static,
) -> Case {
    case(Category::Tuf, name, expect, attack)
}

/// Uploads a publish of [`OWNER`]'s targets changed by `edit` (after the version bump).
fn targets_case(
    name: &str,
    expect: Expect,
    edit: impl Fn(&mut Value) + Send + Sync + 'static,
) -> Case {
    tuf_case(format!("targets: {name}"), expect, move |ctx| {
        ctx.upload(OWNER, &ctx.publish(OWNER, &edit))
    })
}

/// Uploads a publish of delegation `role` of [`OWNER`] changed by `edit`.
fn delegation_case(
    name: &str,
    role: &'static str,
    expect: Expect,
    edit: impl Fn(&mut Value) + Send + Sync + 'static,
) -> Case {
    tuf_case(format!("{role}: {name}"), expect, move |ctx| {
        ctx.upload(OWNER, &ctx.publish_delegation(OWNER, role, &edit))
    })
}

/// Uploads the next targets of [`OWNER`] with a snapshot whose signed content `edit`
/// changes (after it names the new targets).
fn snapshot_case(
    name: &str,
    expect: Expect,
    edit: impl Fn(&mut Value) + Send + Sync + 'static,
) -> Case {
    tuf_case(format!("snapshot: {name}"), expect, move |ctx| {
        let targets = ctx.next(OWNER, "targets", |_| {});
        let snapshot = ctx.snapshot_over(OWNER, &[("targets", &targets)], &edit);
        ctx.upload(OWNER, &[("targets", targets), ("snapshot", snapshot)])
    })
}

/// A snapshot-only upload to `gun` whose meta for `role` names the stored
/// `<version(ctx)>.<role>.json`.
fn snapshot_names_stored(
    name: &str,
    gun: &'static str,
    role: &'static str,
    version: impl Fn(&Ctx) -> i64 + Send + Sync + 'static,
) -> Case {
    tuf_case(format!("rollback: {name}"), INVALID_UPDATE, move |ctx| {
        let old = ctx.versioned(gun, role, version(ctx));
        let snapshot = ctx.snapshot_over(gun, &[(role, &old)], |_| {});
        ctx.upload(gun, &[("snapshot", snapshot)])
    })
}

/// The next root of `gun`, edited by `edit`, which returns the signers; uploaded with a
/// snapshot over it when the client holds the snapshot key.
fn root_case(
    name: &str,
    gun: &'static str,
    expect: Expect,
    edit: impl Fn(&Ctx, &mut Value) -> Vec<Arc<dyn Signer>> + Send + Sync + 'static,
) -> Case {
    tuf_case(format!("root: {name}"), expect, move |ctx| {
        let mut root = ctx.signed(gun, "root");
        bump(&mut root);
        let signers = edit(ctx, &mut root);
        let file = Ctx::sign(&root, &signers);
        upload_root(ctx, gun, file)
    })
}

fn upload_root(ctx: &Ctx, gun: &str, file: Vec<u8>) -> Outcome {
    if gun == SERVER_SNAP {
        return ctx.upload(gun, &[("root", file)]);
    }
    let snapshot = ctx.snapshot_over(gun, &[("root", &file)], |_| {});
    ctx.upload(gun, &[("root", file), ("snapshot", snapshot)])
}

/// Replaces the root role's keys with `key`.
fn set_root_key(root: &mut Value, public: &signet_tuf::PublicKey) {
    let id = public.key_id();
    root["keys"][id.as_str()] = serde_json::to_value(public).unwrap();
    root["roles"]["root"] = json!({"keyids": [id.as_str()], "threshold": 1});
}

/// Adds `key` to the root role's keys.
fn add_root_key(root: &mut Value, public: &signet_tuf::PublicKey) {
    let id = public.key_id();
    root["keys"][id.as_str()] = serde_json::to_value(public).unwrap();
    root["roles"]["root"]["keyids"]
        .as_array_mut()
        .unwrap()
        .push(json!(id.as_str()));
}

fn rollback_cases() -> Vec<Case> {
    vec![
        targets_case("same version, new content", VERSION, |t| {
            let v = t["version"].as_i64().unwrap();
            t["version"] = json!(v - 1);
            t["targets"]["injected"] = t["targets"]["payload"].clone();
        }),
        targets_case("previous version", VERSION, |t| {
            let v = t["version"].as_i64().unwrap();
            t["version"] = json!(v - 2);
        }),
        targets_case("version 1", VERSION, |t| t["version"] = json!(1)),
        targets_case("version 2 (the first)", VERSION, |t| {
            t["version"] = json!(2)
        }),
        delegation_case("same version, new content", RELEASES, VERSION, |t| {
            let v = t["version"].as_i64().unwrap();
            t["version"] = json!(v - 1);
            t["targets"]["releases/injected"] = t["targets"]["releases/v1"].clone();
        }),
        delegation_case("previous version", RELEASES, VERSION, |t| {
            let v = t["version"].as_i64().unwrap();
            t["version"] = json!(v - 2);
        }),
        snapshot_case("same version", VERSION, |s| {
            let v = s["version"].as_i64().unwrap();
            s["version"] = json!(v - 1);
        }),
        snapshot_case("previous version", VERSION, |s| {
            let v = s["version"].as_i64().unwrap();
            s["version"] = json!(v - 2);
        }),
        tuf_case(
            "rollback: replay of the previous targets file",
            VERSION,
            |ctx| {
                let v = ctx.version(OWNER, "targets");
                let old = ctx.versioned(OWNER, "targets", v - 1);
                let snapshot = ctx.snapshot_over(OWNER, &[("targets", &old)], |_| {});
                ctx.upload(OWNER, &[("targets", old), ("snapshot", snapshot)])
            },
        ),
        tuf_case(
            "rollback: replay of the previous snapshot file",
            VERSION,
            |ctx| {
                let v = ctx.version(OWNER, "snapshot");
                let old = ctx.versioned(OWNER, "snapshot", v - 1);
                ctx.upload(OWNER, &[("snapshot", old)])
            },
        ),
        tuf_case(
            "rollback: replay of the previous delegation file",
            VERSION,
            |ctx| {
                let v = ctx.version(OWNER, RELEASES);
                let old = ctx.versioned(OWNER, RELEASES, v - 1);
                let snapshot = ctx.snapshot_over(OWNER, &[(RELEASES, &old)], |_| {});
                ctx.upload(OWNER, &[(RELEASES, old), ("snapshot", snapshot)])
            },
        ),
        tuf_case(
            "rollback: replay of the first root",
            INVALID_UPDATE,
            |ctx| {
                let old = ctx.versioned(QUORUM, "root", 1);
                let snapshot = ctx.snapshot_over(QUORUM, &[("root", &old)], |_| {});
                ctx.upload(QUORUM, &[("root", old), ("snapshot", snapshot)])
            },
        ),
        root_case("same version, new content", QUORUM, VERSION, |ctx, root| {
            let v = root["version"].as_i64().unwrap();
            root["version"] = json!(v - 1);
            root["expires"] = json!("2035-06-01T00:00:00Z");
            ctx.signers(QUORUM, "root")
        }),
        snapshot_names_stored(
            "snapshot-only upload naming the previous targets",
            OWNER,
            "targets",
            |ctx| ctx.version(OWNER, "targets") - 1,
        ),
        snapshot_names_stored(
            "snapshot-only upload naming the first targets",
            OWNER,
            "targets",
            |ctx| ctx.first_version(OWNER, "targets"),
        ),
        snapshot_names_stored(
            "snapshot-only upload naming the previous delegation",
            OWNER,
            RELEASES,
            |ctx| ctx.version(OWNER, RELEASES) - 1,
        ),
        snapshot_names_stored(
            "snapshot-only upload naming the first delegation",
            OWNER,
            RELEASES,
            |ctx| ctx.first_version(OWNER, RELEASES),
        ),
        snapshot_names_stored(
            "snapshot-only upload naming the first root",
            QUORUM,
            "root",
            |_| 1,
        ),
        tuf_case(
            "rollback: new delegation with a snapshot naming the previous targets",
            INVALID_UPDATE,
            |ctx| {
                let delegation = ctx.next(OWNER, RELEASES, |_| {});
                let v = ctx.version(OWNER, "targets");
                let old = ctx.versioned(OWNER, "targets", v - 1);
                let snapshot =
                    ctx.snapshot_over(OWNER, &[(RELEASES, &delegation), ("targets", &old)], |_| {});
                ctx.upload(OWNER, &[(RELEASES, delegation), ("snapshot", snapshot)])
            },
        ),
    ]
}

fn version_cases() -> Vec<Case> {
    let mut cases = Vec::new();
    for (label, version) in [
        ("0", 0_i64),
        ("-1", -1),
        ("-2^31", -(1 << 31)),
        ("2^31", 1 << 31),
        ("2^31 + 1", (1 << 31) + 1),
        ("2^32", 1 << 32),
        ("2^53", 1 << 53),
        ("2^63 - 1", i64::MAX),
    ] {
        let expect = INVALID_UPDATE;
        cases.push(targets_case(
            &format!("version {label}"),
            expect,
            move |t| {
                t["version"] = json!(version);
            },
        ));
    }
    for (label, version) in [("2^31", 1_i64 << 31), ("2^63 - 1", i64::MAX), ("0", 0)] {
        let expect = INVALID_UPDATE;
        cases.push(snapshot_case(
            &format!("version {label}"),
            expect,
            move |s| {
                s["version"] = json!(version);
            },
        ));
        cases.push(delegation_case(
            &format!("version {label}"),
            RELEASES,
            expect,
            move |t| t["version"] = json!(version),
        ));
    }
    cases.push(root_case(
        "version 2^31",
        OWNER,
        INVALID_UPDATE,
        |ctx, root| {
            root["version"] = json!(1_i64 << 31);
            ctx.signers(OWNER, "root")
        },
    ));
    for skip in [2, 100] {
        cases.push(root_case(
            &format!("version skips {skip}"),
            OWNER,
            INVALID_UPDATE,
            move |ctx, root| {
                let v = root["version"].as_i64().unwrap();
                root["version"] = json!(v - 1 + skip);
                ctx.signers(OWNER, "root")
            },
        ));
    }
    cases.push(root_case(
        "version 0",
        OWNER,
        INVALID_UPDATE,
        |ctx, root| {
            root["version"] = json!(0);
            ctx.signers(OWNER, "root")
        },
    ));
    cases.push(tuf_case(
        "targets: version 2^64 (past i64)",
        MALFORMED_JSON,
        |ctx| {
            let mut signed = ctx.signed(OWNER, "targets");
            bump(&mut signed);
            let canonical =
                String::from_utf8(signet_tuf::cjson::to_canonical(&signed).unwrap()).unwrap();
            let v = signed["version"].as_i64().unwrap();
            let text = canonical.replacen(
                &format!("\"version\":{v}"),
                "\"version\":18446744073709551616",
                1,
            );
            let sigs = Ctx::signatures(text.as_bytes(), &ctx.signers(OWNER, "targets"));
            super::syntax::with_snapshot(ctx, &Ctx::envelope(text.as_bytes(), &sigs))
        },
    ));
    cases
}

fn expiry_cases() -> Vec<Case> {
    let mut cases = Vec::new();
    let yesterday = (chrono::Utc::now() - chrono::Duration::days(1))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    for (label, expires) in [
        ("expired in 2001", "2001-01-01T00:00:00Z".to_owned()),
        ("expired yesterday", yesterday),
        ("expired at the epoch", "1970-01-01T00:00:00Z".to_owned()),
        ("expired in year 1", "0001-01-01T00:00:00Z".to_owned()),
    ] {
        let e = expires.clone();
        cases.push(targets_case(label, INVALID_UPDATE, move |t| {
            t["expires"] = json!(e);
        }));
        let e = expires.clone();
        cases.push(delegation_case(label, RELEASES, INVALID_UPDATE, move |t| {
            t["expires"] = json!(e);
        }));
        let e = expires.clone();
        cases.push(snapshot_case(label, INVALID_UPDATE, move |s| {
            s["expires"] = json!(e);
        }));
    }
    cases.push(delegation_case(
        "expired in 2001",
        NIGHTLY,
        INVALID_UPDATE,
        |t| {
            t["expires"] = json!("2001-01-01T00:00:00Z");
        },
    ));
    cases.push(root_case(
        "expired in 2001",
        OWNER,
        INVALID_UPDATE,
        |ctx, root| {
            root["expires"] = json!("2001-01-01T00:00:00Z");
            ctx.signers(OWNER, "root")
        },
    ));
    // Times that do not exist: second 60 (a leap second Go's parser accepts), minute 60.
    for (label, expires) in [
        ("expires at second 60", "2030-01-01T00:00:60Z"),
        ("expires at 23:59:60 on June 30", "2030-06-30T23:59:60Z"),
        ("expires at second 61", "2030-01-01T00:00:61Z"),
        ("expires at minute 60", "2030-01-01T00:60:00Z"),
    ] {
        cases.push(targets_case(label, MALFORMED_JSON, move |t| {
            t["expires"] = json!(expires);
        }));
        cases.push(delegation_case(label, RELEASES, MALFORMED_JSON, move |t| {
            t["expires"] = json!(expires);
        }));
    }
    cases.push(snapshot_case("expires at second 60", MALFORMED_JSON, |s| {
        s["expires"] = json!("2030-01-01T00:00:60Z");
    }));
    cases.push(root_case(
        "expires at second 60",
        OWNER,
        MALFORMED_JSON,
        |ctx, root| {
            root["expires"] = json!("2030-01-01T00:00:60Z");
            ctx.signers(OWNER, "root")
        },
    ));
    cases
}

fn mix_and_match_cases() -> Vec<Case> {
    vec![
        tuf_case(
            "mix-and-match: another GUN's current targets and snapshot",
            INVALID_UPDATE,
            |ctx| {
                let targets = ctx.file(OWNER, "targets");
                let snapshot = ctx.file(OWNER, "snapshot");
                ctx.upload(VICTIM, &[("targets", targets), ("snapshot", snapshot)])
            },
        ),
        tuf_case(
            "mix-and-match: another GUN's valid next targets and snapshot",
            INVALID_UPDATE,
            |ctx| ctx.upload(VICTIM, &ctx.publish(OWNER, |_| {})),
        ),
        tuf_case("mix-and-match: another GUN's root", INVALID_UPDATE, |ctx| {
            let root = ctx.file(OWNER, "root");
            let snapshot = ctx.snapshot_over(VICTIM, &[("root", &root)], |_| {});
            ctx.upload(VICTIM, &[("root", root), ("snapshot", snapshot)])
        }),
        tuf_case(
            "mix-and-match: another GUN's valid next root",
            INVALID_UPDATE,
            |ctx| {
                let mut root = ctx.signed(OWNER, "root");
                bump(&mut root);
                let root = Ctx::sign(&root, &ctx.signers(OWNER, "root"));
                ctx.upload(VICTIM, &[("root", root)])
            },
        ),
        tuf_case(
            "mix-and-match: another GUN's delegation",
            INVALID_UPDATE,
            |ctx| {
                let delegation = ctx.next(OWNER, RELEASES, |_| {});
                let snapshot = ctx.snapshot_over(VICTIM, &[(RELEASES, &delegation)], |_| {});
                ctx.upload(VICTIM, &[(RELEASES, delegation), ("snapshot", snapshot)])
            },
        ),
        tuf_case(
            "mix-and-match: own targets, snapshot signed with another GUN's snapshot key",
            INVALID_UPDATE,
            |ctx| {
                let targets = ctx.next(VICTIM, "targets", |_| {});
                let mut snapshot = ctx.signed(VICTIM, "snapshot");
                bump(&mut snapshot);
                snapshot["meta"]["targets"] = meta(&targets);
                let snapshot = Ctx::sign(&snapshot, &ctx.signers(OWNER, "snapshot"));
                ctx.upload(VICTIM, &[("targets", targets), ("snapshot", snapshot)])
            },
        ),
        tuf_case(
            "mix-and-match: targets signed with another GUN's targets key",
            INVALID_UPDATE,
            |ctx| {
                let mut targets = ctx.signed(VICTIM, "targets");
                bump(&mut targets);
                let targets = Ctx::sign(&targets, &ctx.signers(OWNER, "targets"));
                let snapshot = ctx.snapshot_over(VICTIM, &[("targets", &targets)], |_| {});
                ctx.upload(VICTIM, &[("targets", targets), ("snapshot", snapshot)])
            },
        ),
        tuf_case(
            "mix-and-match: another GUN's threshold-2 delegation posted as this GUN's delegation",
            INVALID_UPDATE,
            |ctx| {
                let mut doc = ctx.signed(QUORUM, QUORUM_ROLE);
                doc["version"] = json!(ctx.version(OWNER, RELEASES) + 1);
                let file = Ctx::sign(&doc, &ctx.signers(QUORUM, QUORUM_ROLE));
                let snapshot = ctx.snapshot_over(OWNER, &[(RELEASES, &file)], |_| {});
                ctx.upload(OWNER, &[(RELEASES, file), ("snapshot", snapshot)])
            },
        ),
        tuf_case(
            "mix-and-match: a snapshot naming another GUN's targets",
            INVALID_UPDATE,
            |ctx| {
                let theirs = ctx.file(VICTIM, "targets");
                let snapshot = ctx.snapshot_over(OWNER, &[("targets", &theirs)], |_| {});
                ctx.upload(OWNER, &[("snapshot", snapshot)])
            },
        ),
        tuf_case(
            "mix-and-match: another GUN's targets to a server-managed snapshot",
            INVALID_UPDATE,
            |ctx| {
                let targets = ctx.next(OWNER, "targets", |_| {});
                ctx.upload(SERVER_SNAP, &[("targets", targets)])
            },
        ),
    ]
}

fn rotation_cases() -> Vec<Case> {
    vec![
        root_case(
            "new key only, signed by the new key only",
            OWNER,
            INVALID_UPDATE,
            |_, root| {
                let (signer, public) = Ctx::new_root_key(OWNER, false);
                set_root_key(root, &public);
                vec![signer]
            },
        ),
        root_case(
            "old and new keys listed, signed by the new key only",
            OWNER,
            INVALID_UPDATE,
            |_, root| {
                let (signer, public) = Ctx::new_root_key(OWNER, false);
                add_root_key(root, &public);
                vec![signer]
            },
        ),
        root_case(
            "new key only, signed by the old key only",
            OWNER,
            INVALID_UPDATE,
            |ctx, root| {
                let (_, public) = Ctx::new_root_key(OWNER, false);
                set_root_key(root, &public);
                ctx.signers(OWNER, "root")
            },
        ),
        root_case(
            "plain ECDSA root key (no certificate)",
            OWNER,
            INVALID_UPDATE,
            |ctx, root| {
                let key = Arc::new(PrivateKey::generate_ecdsa().unwrap());
                set_root_key(root, key.public_key());
                let mut signers = ctx.signers(OWNER, "root");
                signers.push(key);
                signers
            },
        ),
        root_case(
            "certificate for another GUN",
            OWNER,
            INVALID_UPDATE,
            |ctx, root| {
                let (signer, public) = Ctx::new_root_key(VICTIM, false);
                set_root_key(root, &public);
                let mut signers = ctx.signers(OWNER, "root");
                signers.push(signer);
                signers
            },
        ),
        root_case("expired certificate", OWNER, INVALID_UPDATE, |ctx, root| {
            let (signer, public) = Ctx::new_root_key(OWNER, true);
            set_root_key(root, &public);
            let mut signers = ctx.signers(OWNER, "root");
            signers.push(signer);
            signers
        }),
        root_case("root threshold 0", OWNER, INVALID_UPDATE, |ctx, root| {
            root["roles"]["root"]["threshold"] = json!(0);
            ctx.signers(OWNER, "root")
        }),
        root_case(
            "root threshold above its key count",
            OWNER,
            INVALID_UPDATE,
            |ctx, root| {
                root["roles"]["root"]["threshold"] = json!(2);
                ctx.signers(OWNER, "root")
            },
        ),
        root_case("no targets role", OWNER, INVALID_UPDATE, |ctx, root| {
            root["roles"].as_object_mut().unwrap().remove("targets");
            ctx.signers(OWNER, "root")
        }),
        root_case("no timestamp role", OWNER, INVALID_UPDATE, |ctx, root| {
            root["roles"].as_object_mut().unwrap().remove("timestamp");
            ctx.signers(OWNER, "root")
        }),
        root_case("no snapshot role", OWNER, INVALID_UPDATE, |ctx, root| {
            root["roles"].as_object_mut().unwrap().remove("snapshot");
            ctx.signers(OWNER, "root")
        }),
        root_case(
            "root role without keys",
            OWNER,
            INVALID_UPDATE,
            |ctx, root| {
                root["roles"]["root"]["keyids"] = json!([]);
                ctx.signers(OWNER, "root")
            },
        ),
        root_case(
            "a role naming a key ID missing from keys",
            OWNER,
            INVALID_UPDATE,
            |ctx, root| {
                root["roles"]["targets"]["keyids"] =
                    json!([PrivateKey::generate_ecdsa().unwrap().key_id().as_str()]);
                ctx.signers(OWNER, "root")
            },
        ),
        root_case(
            "a key listed under an ID that is not its own",
            OWNER,
            INVALID_UPDATE,
            |ctx, root| {
                let id = root["roles"]["targets"]["keyids"][0]
                    .as_str()
                    .unwrap()
                    .to_owned();
                let key = root["keys"][&id].clone();
                let fake = ctx.stranger.key_id();
                root["keys"][fake.as_str()] = key;
                root["roles"]["targets"]["keyids"] = json!([fake.as_str()]);
                ctx.signers(OWNER, "root")
            },
        ),
        root_case(
            "targets key relabelled ed25519",
            OWNER,
            INVALID_UPDATE,
            |ctx, root| {
                let id = root["roles"]["targets"]["keyids"][0]
                    .as_str()
                    .unwrap()
                    .to_owned();
                root["keys"][&id]["keytype"] = json!("ed25519");
                ctx.signers(OWNER, "root")
            },
        ),
        root_case(
            "targets key with garbage public bytes",
            OWNER,
            INVALID_UPDATE,
            |ctx, root| {
                let id = root["roles"]["targets"]["keyids"][0]
                    .as_str()
                    .unwrap()
                    .to_owned();
                root["keys"][&id]["keyval"]["public"] = json!("AAAA");
                ctx.signers(OWNER, "root")
            },
        ),
        root_case(
            "root key relabelled ecdsa (certificate bytes)",
            OWNER,
            INVALID_UPDATE,
            |ctx, root| {
                let id = root["roles"]["root"]["keyids"][0]
                    .as_str()
                    .unwrap()
                    .to_owned();
                root["keys"][&id]["keytype"] = json!("ecdsa");
                ctx.signers(OWNER, "root")
            },
        ),
        root_case(
            "a targets/ delegation listed as a root role",
            OWNER,
            // Notary's root structure allows extra roles; clients ignore them.
            Expect::Accepts(OWNER),
            |ctx, root| {
                let targets = root["roles"]["targets"].clone();
                root["roles"]["targets/evil"] = targets;
                ctx.signers(OWNER, "root")
            },
        ),
        root_case(
            "root role keys listed twice, threshold 2, signed once",
            OWNER,
            INVALID_UPDATE,
            |ctx, root| {
                let id = root["roles"]["root"]["keyids"][0].clone();
                root["roles"]["root"] = json!({"keyids": [id.clone(), id], "threshold": 2});
                ctx.signers(OWNER, "root")
            },
        ),
        root_case(
            "threshold-2 root replaced, signed by only one old key",
            QUORUM,
            INVALID_UPDATE,
            |ctx, root| {
                let (signer, public) = Ctx::new_root_key(QUORUM, false);
                set_root_key(root, &public);
                let mut signers = ctx.signers(QUORUM, "root");
                signers.truncate(1);
                signers.push(signer);
                signers
            },
        ),
    ]
}

fn hash_cases() -> Vec<Case> {
    fn flip_first(text: &str) -> String {
        let mut chars: Vec<char> = text.chars().collect();
        chars[0] = if chars[0] == 'A' { 'B' } else { 'A' };
        chars.into_iter().collect()
    }
    vec![
        snapshot_case("targets sha256 wrong", INVALID_UPDATE, |s| {
            let h = s["meta"]["targets"]["hashes"]["sha256"]
                .as_str()
                .unwrap()
                .to_owned();
            s["meta"]["targets"]["hashes"]["sha256"] = json!(flip_first(&h));
        }),
        snapshot_case("targets sha512 wrong, sha256 right", INVALID_UPDATE, |s| {
            let h = s["meta"]["targets"]["hashes"]["sha512"]
                .as_str()
                .unwrap()
                .to_owned();
            s["meta"]["targets"]["hashes"]["sha512"] = json!(flip_first(&h));
        }),
        snapshot_case("targets length one more", INVALID_UPDATE, |s| {
            let n = s["meta"]["targets"]["length"].as_i64().unwrap();
            s["meta"]["targets"]["length"] = json!(n + 1);
        }),
        snapshot_case("targets length one less", INVALID_UPDATE, |s| {
            let n = s["meta"]["targets"]["length"].as_i64().unwrap();
            s["meta"]["targets"]["length"] = json!(n - 1);
        }),
        snapshot_case("targets length 0", INVALID_UPDATE, |s| {
            s["meta"]["targets"]["length"] = json!(0);
        }),
        snapshot_case("targets length negative", INVALID_UPDATE, |s| {
            s["meta"]["targets"]["length"] = json!(-1);
        }),
        snapshot_case("targets hashes empty", INVALID_UPDATE, |s| {
            s["meta"]["targets"]["hashes"] = json!({});
        }),
        snapshot_case("targets hashed with md5 only", INVALID_UPDATE, |s| {
            s["meta"]["targets"]["hashes"] = json!({"md5": "AAAAAAAAAAAAAAAAAAAAAA=="});
        }),
        snapshot_case("targets sha256 in hex", INVALID_UPDATE, |s| {
            s["meta"]["targets"]["hashes"]["sha256"] = json!("ab".repeat(32));
        }),
        snapshot_case("targets sha256 cut to 16 bytes", INVALID_UPDATE, |s| {
            s["meta"]["targets"]["hashes"]["sha256"] = json!("AAAAAAAAAAAAAAAAAAAAAA==");
        }),
        snapshot_case("no targets entry", INVALID_UPDATE, |s| {
            s["meta"].as_object_mut().unwrap().remove("targets");
        }),
        snapshot_case("root sha256 wrong", INVALID_UPDATE, |s| {
            let h = s["meta"]["root"]["hashes"]["sha256"]
                .as_str()
                .unwrap()
                .to_owned();
            s["meta"]["root"]["hashes"]["sha256"] = json!(flip_first(&h));
        }),
        snapshot_case("no root entry", INVALID_UPDATE, |s| {
            s["meta"].as_object_mut().unwrap().remove("root");
        }),
        snapshot_case(
            "names a delegation that does not exist",
            INVALID_UPDATE,
            |s| {
                s["meta"]["targets/ghost"] = meta(b"ghost");
            },
        ),
        tuf_case("snapshot: delegation sha256 wrong", INVALID_UPDATE, |ctx| {
            let delegation = ctx.next(OWNER, RELEASES, |_| {});
            let snapshot = ctx.snapshot_over(OWNER, &[(RELEASES, &delegation)], |s| {
                s["meta"][RELEASES]["hashes"]["sha256"] =
                    json!("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=");
            });
            ctx.upload(OWNER, &[(RELEASES, delegation), ("snapshot", snapshot)])
        }),
        tuf_case(
            "snapshot: names the previous targets while uploading a new one",
            INVALID_UPDATE,
            |ctx| {
                let targets = ctx.next(OWNER, "targets", |_| {});
                let current = ctx.file(OWNER, "targets");
                let snapshot = ctx.snapshot_over(OWNER, &[("targets", &current)], |_| {});
                ctx.upload(OWNER, &[("targets", targets), ("snapshot", snapshot)])
            },
        ),
    ]
}

/// The entry of delegation `name` in a delegations list.
fn entry<'a>(doc: &'a mut Value, name: &str) -> &'a mut Value {
    doc["delegations"]["roles"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|r| r["name"] == name)
        .unwrap()
}

/// Adds delegation `name` (paths `paths`) to `doc`, reusing the key of its first role.
fn add_delegation(doc: &mut Value, name: &str, paths: Value) {
    let roles = doc["delegations"]["roles"].as_array_mut().unwrap();
    let mut role = roles[0].clone();
    role["name"] = json!(name);
    role["paths"] = paths;
    roles.push(role);
}

fn delegation_shape_cases() -> Vec<Case> {
    let add_target = |name: &'static str| {
        move |t: &mut Value| {
            let entry = t["targets"]
                .as_object()
                .unwrap()
                .values()
                .next()
                .unwrap()
                .clone();
            t["targets"][name] = entry;
        }
    };
    let mut cases = Vec::new();
    for name in [
        "other/file",
        "../payload",
        "Releases/x",
        "releasesx/file",
        "",
        "payload",
    ] {
        cases.push(delegation_case(
            &format!("target {name:?} outside the delegated paths"),
            RELEASES,
            INVALID_UPDATE,
            add_target(name),
        ));
    }
    for name in ["releases/v3", "releases/nightlyx"] {
        cases.push(delegation_case(
            &format!("target {name:?} outside the delegated paths"),
            NIGHTLY,
            INVALID_UPDATE,
            add_target(name),
        ));
    }
    // Delegations created by a parent (targets of OWNER or targets/releases) that escape,
    // skip a level, or loop.
    let names: [(&str, &'static str, &'static str, Value); 12] = [
        (
            "child wider than its parent (all paths)",
            RELEASES,
            "targets/releases/wide",
            json!([""]),
        ),
        (
            "child outside its parent's paths",
            RELEASES,
            "targets/releases/other",
            json!(["other/"]),
        ),
        (
            "grandchild named directly",
            "targets",
            "targets/a/b",
            json!([""]),
        ),
        ("name with ..", "targets", "targets/../root", json!([""])),
        (
            "name with a .. segment inside",
            "targets",
            "targets/releases/../x",
            json!([""]),
        ),
        ("name root", "targets", "root", json!([""])),
        ("name targets (itself)", "targets", "targets", json!([""])),
        (
            "name with upper case",
            "targets",
            "targets/Upper",
            json!([""]),
        ),
        (
            "cycle: delegates to itself",
            RELEASES,
            RELEASES,
            json!(["releases/"]),
        ),
        (
            "cycle: delegates to its parent",
            NIGHTLY,
            RELEASES,
            json!(["releases/"]),
        ),
        (
            "not its child",
            RELEASES,
            "targets/other",
            json!(["releases/"]),
        ),
        (
            "cycle: nightly delegates to itself",
            NIGHTLY,
            NIGHTLY,
            json!(["releases/nightly/"]),
        ),
    ];
    for (label, parent, child, paths) in names {
        let name = format!("delegation {child:?}: {label}");
        let edit = move |t: &mut Value| {
            if t["delegations"]["roles"]
                .as_array()
                .is_none_or(Vec::is_empty)
            {
                // A role without delegations yet: a fresh key for the new entry.
                let key = PrivateKey::generate_ecdsa().unwrap();
                let id = key.key_id();
                t["delegations"] = json!({
                    "keys": {id.as_str(): serde_json::to_value(key.public_key()).unwrap()},
                    "roles": [{"name": child, "keyids": [id.as_str()], "threshold": 1,
                               "paths": paths.clone()}],
                });
            } else {
                add_delegation(t, child, paths.clone());
            }
        };
        // A child claiming more than its parent is accepted, as by the Go server: Notary
        // clients cut a child's paths down to its parent's (see the README's catalogue notes).
        let expect = if child.starts_with("targets/releases/") && parent == RELEASES {
            Expect::Accepts(OWNER)
        } else {
            INVALID_UPDATE
        };
        cases.push(if parent == "targets" {
            targets_case(&name, expect, edit)
        } else {
            delegation_case(&name, parent, expect, edit)
        });
    }
    cases.push(tuf_case(
        "targets/releases/wide: target outside the grandparent's paths, through a wider child",
        // Every level of the delegation chain must allow the path, as a Notary client
        // narrows a child's paths to its parent's.
        INVALID_UPDATE,
        |ctx| {
            let releases = ctx.next(OWNER, RELEASES, |t| {
                add_delegation(t, "targets/releases/wide", json!([""]));
            });
            let wide = Ctx::sign(
                &json!({"_type": "Targets", "delegations": {"keys": {}, "roles": []},
                        "expires": "2030-01-01T00:00:00Z",
                        "targets": {"payload": {"hashes": {"sha256":
                            "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="}, "length": 0}},
                        "version": 1}),
                &ctx.signers(OWNER, NIGHTLY),
            );
            let snapshot = ctx.snapshot_over(
                OWNER,
                &[(RELEASES, &releases), ("targets/releases/wide", &wide)],
                |_| {},
            );
            ctx.upload(
                OWNER,
                &[
                    (RELEASES, releases),
                    ("targets/releases/wide", wide),
                    ("snapshot", snapshot),
                ],
            )
        },
    ));
    cases.push(targets_case(
        "delegation listed twice with different paths",
        INVALID_UPDATE,
        |t| {
            let mut twin = entry(t, RELEASES).clone();
            twin["paths"] = json!([""]);
            t["delegations"]["roles"].as_array_mut().unwrap().push(twin);
        },
    ));
    cases.push(targets_case(
        "delegation key listed twice, threshold 2",
        INVALID_UPDATE,
        |t| {
            let e = entry(t, RELEASES);
            let id = e["keyids"][0].clone();
            e["keyids"] = json!([id.clone(), id]);
            e["threshold"] = json!(2);
        },
    ));
    cases.push(targets_case(
        "delegation threshold 0",
        INVALID_UPDATE,
        |t| {
            entry(t, RELEASES)["threshold"] = json!(0);
        },
    ));
    cases.push(targets_case(
        "delegation naming a key that is not in keys",
        INVALID_UPDATE,
        |t| {
            entry(t, RELEASES)["keyids"] =
                json!([PrivateKey::generate_ecdsa().unwrap().key_id().as_str()]);
        },
    ));
    cases.push(root_case(
        "targets key listed twice, threshold 2",
        OWNER,
        INVALID_UPDATE,
        |ctx, root| {
            let id = root["roles"]["targets"]["keyids"][0].clone();
            root["roles"]["targets"] = json!({"keyids": [id.clone(), id], "threshold": 2});
            ctx.signers(OWNER, "root")
        },
    ));
    cases
}

/// Uploads `parts` built from a valid publish of [`OWNER`] (`valid`: targets, snapshot).
fn parts_case(
    name: &str,
    expect: Expect,
    parts: impl Fn(&Ctx, Vec<u8>, Vec<u8>) -> Vec<(String, Vec<u8>)> + Send + Sync + 'static,
) -> Case {
    tuf_case(format!("duplicate parts: {name}"), expect, move |ctx| {
        let mut valid = ctx.publish(OWNER, |_| {});
        let snapshot = valid.pop().unwrap().1;
        let targets = valid.pop().unwrap().1;
        ctx.upload(OWNER, &parts(ctx, targets, snapshot))
    })
}

/// A JSON-shaped targets document nobody signed.
fn junk_targets() -> Vec<u8> {
    br#"{"signed":{"_type":"Targets","delegations":{"keys":{},"roles":[]},"expires":"2030-01-01T00:00:00Z","targets":{},"version":99},"signatures":[]}"#.to_vec()
}

fn duplicate_part_cases() -> Vec<Case> {
    let p = |role: &str, bytes: &[u8]| (role.to_owned(), bytes.to_vec());
    vec![
        parts_case(
            "unsigned targets, then valid targets",
            MALFORMED_UPLOAD,
            move |_, t, s| {
                vec![
                    p("targets", &junk_targets()),
                    p("targets", &t),
                    p("snapshot", &s),
                ]
            },
        ),
        parts_case(
            "valid targets, then unsigned targets",
            MALFORMED_UPLOAD,
            move |_, t, s| {
                vec![
                    p("targets", &t),
                    p("targets", &junk_targets()),
                    p("snapshot", &s),
                ]
            },
        ),
        parts_case(
            "non-JSON targets, then valid targets",
            MALFORMED_JSON,
            move |_, t, s| {
                vec![
                    p("targets", b"garbage"),
                    p("targets", &t),
                    p("snapshot", &s),
                ]
            },
        ),
        parts_case(
            "valid targets, then non-JSON targets",
            MALFORMED_JSON,
            move |_, t, s| {
                vec![
                    p("targets", &t),
                    p("targets", b"garbage"),
                    p("snapshot", &s),
                ]
            },
        ),
        parts_case(
            "the same valid targets twice",
            MALFORMED_UPLOAD,
            move |_, t, s| vec![p("targets", &t), p("targets", &t), p("snapshot", &s)],
        ),
        parts_case(
            "targets and targets.json",
            MALFORMED_UPLOAD,
            move |ctx, t, s| {
                let current = ctx.file(OWNER, "targets");
                vec![
                    p("targets.json", &current),
                    p("targets", &t),
                    p("snapshot", &s),
                ]
            },
        ),
        parts_case(
            "valid snapshot, then unsigned snapshot",
            MALFORMED_UPLOAD,
            move |ctx, t, s| {
                let mut junk: Value = serde_json::from_slice(&ctx.file(OWNER, "snapshot")).unwrap();
                junk["signatures"] = json!([]);
                vec![
                    p("targets", &t),
                    p("snapshot", &s),
                    p("snapshot", &serde_json::to_vec(&junk).unwrap()),
                ]
            },
        ),
        parts_case(
            "current snapshot, then valid snapshot",
            MALFORMED_UPLOAD,
            move |ctx, t, s| {
                let current = ctx.file(OWNER, "snapshot");
                vec![p("targets", &t), p("snapshot", &current), p("snapshot", &s)]
            },
        ),
        tuf_case(
            "duplicate parts: current delegation, then valid delegation",
            MALFORMED_UPLOAD,
            |ctx| {
                let mut valid = ctx.publish_delegation(OWNER, RELEASES, |_| {});
                let current = ctx.file(OWNER, RELEASES);
                valid.insert(0, (RELEASES.to_owned(), current));
                ctx.upload(OWNER, &valid)
            },
        ),
        tuf_case(
            "duplicate parts: valid delegation, then unsigned delegation",
            MALFORMED_UPLOAD,
            |ctx| {
                let mut valid = ctx.publish_delegation(OWNER, RELEASES, |_| {});
                valid.insert(1, (RELEASES.to_owned(), junk_targets()));
                ctx.upload(OWNER, &valid)
            },
        ),
        tuf_case(
            "duplicate parts: current root, then root signed by a stranger",
            MALFORMED_UPLOAD,
            |ctx| {
                let current = ctx.file(OWNER, "root");
                let mut root = ctx.signed(OWNER, "root");
                bump(&mut root);
                let (signer, public) = Ctx::new_root_key(OWNER, false);
                set_root_key(&mut root, &public);
                let rotated = Ctx::sign(&root, &[signer]);
                let snapshot = ctx.snapshot_over(OWNER, &[("root", &rotated)], |_| {});
                ctx.upload(
                    OWNER,
                    &[("root", current), ("root", rotated), ("snapshot", snapshot)],
                )
            },
        ),
    ]
}

/// The TUF cases.
pub(crate) fn cases() -> Vec<Case> {
    let mut cases = rollback_cases();
    cases.extend(version_cases());
    cases.extend(expiry_cases());
    cases.extend(mix_and_match_cases());
    cases.extend(rotation_cases());
    cases.extend(hash_cases());
    cases.extend(delegation_shape_cases());
    cases.extend(duplicate_part_cases());
    cases
}
