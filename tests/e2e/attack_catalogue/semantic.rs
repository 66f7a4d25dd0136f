//! Semantic: uploading roles the server owns (the timestamp always, the snapshot when the
//! server manages it), and deleting another GUN (the victim repository) by naming a prefix of it. The deletions run
//! last: on a server that deletes by prefix they take every repository with them.

use serde_json::json;

use super::fixture::{Ctx, OWNER, SERVER_SNAP, bump, meta};
use super::wire::Outcome;
use super::{Case, Category, Expect, case};

const INVALID_UPDATE: Expect = Expect::Status(400, "INVALID_UPDATE");
const DELETED_NOTHING: Expect = Expect::Status(200, "");

fn semantic_case(
    name: impl Into<String>,
    expect: Expect,
    attack: impl Fn(&Ctx) -> Outcome + Send + Sync + 'static,
) -> Case {
    case(Category::Semantic, name, expect, attack)
}

/// The current timestamp of `gun` at version + 1, signed by `signer`'s keys of `role`.
fn timestamp_signed_by(ctx: &Ctx, gun: &str, role: &str) -> Vec<u8> {
    let mut ts = ctx.signed(gun, "timestamp");
    bump(&mut ts);
    Ctx::sign(&ts, &ctx.signers(gun, role))
}

fn owned_role_cases() -> Vec<Case> {
    vec![
        semantic_case(
            "timestamp alone, signed with the snapshot key",
            INVALID_UPDATE,
            |ctx| {
                let ts = timestamp_signed_by(ctx, OWNER, "snapshot");
                ctx.upload(OWNER, &[("timestamp", ts)])
            },
        ),
        semantic_case(
            "timestamp alone, signed by a stranger",
            INVALID_UPDATE,
            |ctx| {
                let mut ts = ctx.signed(OWNER, "timestamp");
                bump(&mut ts);
                let ts = Ctx::sign(&ts, &ctx.stranger_signers());
                ctx.upload(OWNER, &[("timestamp", ts)])
            },
        ),
        semantic_case(
            "timestamp naming a stale snapshot, with a rolled-back snapshot",
            Expect::Status(400, "VERSION"),
            |ctx| {
                let v = ctx.version(OWNER, "snapshot");
                let old = ctx.versioned(OWNER, "snapshot", v - 1);
                let mut ts = ctx.signed(OWNER, "timestamp");
                ts["version"] = json!(1_000_000);
                ts["meta"]["snapshot"] = meta(&old);
                let ts = Ctx::sign(&ts, &ctx.signers(OWNER, "snapshot"));
                ctx.upload(OWNER, &[("snapshot", old), ("timestamp", ts)])
            },
        ),
        semantic_case("timestamp of version 2^31", INVALID_UPDATE, |ctx| {
            let mut ts = ctx.signed(OWNER, "timestamp");
            ts["version"] = json!(1_i64 << 31);
            let ts = Ctx::sign(&ts, &ctx.signers(OWNER, "snapshot"));
            ctx.upload(OWNER, &[("timestamp", ts)])
        }),
        semantic_case(
            "timestamp alone to a server-managed snapshot",
            // Accepted as an empty upload, as by the Go server: the timestamp part is
            // ignored and the server signs a new snapshot and timestamp of its own.
            Expect::Accepts(SERVER_SNAP),
            |ctx| {
                let ts = timestamp_signed_by(ctx, SERVER_SNAP, "targets");
                let reply = ctx.upload(SERVER_SNAP, &[("timestamp", ts.clone())]);
                if ctx.file(SERVER_SNAP, "timestamp") == ts {
                    return Outcome::Reply {
                        status: 200,
                        code: "UPLOADED_TIMESTAMP_SERVED".to_owned(),
                        body: Vec::new(),
                    };
                }
                reply
            },
        ),
        semantic_case(
            "snapshot alone to a server-managed snapshot, signed with its former snapshot key",
            INVALID_UPDATE,
            |ctx| {
                let mut snap = ctx.signed(SERVER_SNAP, "snapshot");
                bump(&mut snap);
                let signer = ctx
                    .former_snapshot_key
                    .clone()
                    .unwrap_or_else(|| ctx.signers(SERVER_SNAP, "targets")[0].clone());
                let snap = Ctx::sign(&snap, &[signer]);
                ctx.upload(SERVER_SNAP, &[("snapshot", snap)])
            },
        ),
        semantic_case(
            "valid targets and a snapshot signed with the former snapshot key (server-managed)",
            INVALID_UPDATE,
            |ctx| {
                let targets = ctx.next(SERVER_SNAP, "targets", |_| {});
                let mut snap = ctx.signed(SERVER_SNAP, "snapshot");
                bump(&mut snap);
                snap["meta"]["targets"] = meta(&targets);
                let signer = ctx
                    .former_snapshot_key
                    .clone()
                    .unwrap_or_else(|| ctx.signers(SERVER_SNAP, "targets")[0].clone());
                let snap = Ctx::sign(&snap, &[signer]);
                ctx.upload(SERVER_SNAP, &[("targets", targets), ("snapshot", snap)])
            },
        ),
        semantic_case(
            "valid targets and a snapshot signed with the targets key (server-managed)",
            INVALID_UPDATE,
            |ctx| {
                let targets = ctx.next(SERVER_SNAP, "targets", |_| {});
                let mut snap = ctx.signed(SERVER_SNAP, "snapshot");
                bump(&mut snap);
                snap["meta"]["targets"] = meta(&targets);
                let snap = Ctx::sign(&snap, &ctx.signers(SERVER_SNAP, "targets"));
                ctx.upload(SERVER_SNAP, &[("targets", targets), ("snapshot", snap)])
            },
        ),
        semantic_case(
            "valid targets with the server's own current snapshot re-uploaded (server-managed)",
            INVALID_UPDATE,
            |ctx| {
                let targets = ctx.next(SERVER_SNAP, "targets", |_| {});
                let snap = ctx.file(SERVER_SNAP, "snapshot");
                ctx.upload(SERVER_SNAP, &[("targets", targets), ("snapshot", snap)])
            },
        ),
        semantic_case(
            "empty upload to a client-held snapshot",
            INVALID_UPDATE,
            |ctx| ctx.upload::<&str, &[u8]>(OWNER, &[]),
        ),
        semantic_case(
            "root moving the timestamp role to a client key",
            INVALID_UPDATE,
            |ctx| {
                let mut root = ctx.signed(OWNER, "root");
                bump(&mut root);
                let id = ctx.stranger.key_id();
                root["keys"][id.as_str()] =
                    serde_json::to_value(ctx.stranger.public_key()).unwrap();
                root["roles"]["timestamp"] = json!({"keyids": [id.as_str()], "threshold": 1});
                let root = Ctx::sign(&root, &ctx.signers(OWNER, "root"));
                let snapshot = ctx.snapshot_over(OWNER, &[("root", &root)], |_| {});
                ctx.upload(OWNER, &[("root", root), ("snapshot", snapshot)])
            },
        ),
    ]
}

fn delete_cases() -> Vec<Case> {
    let mut cases = Vec::new();
    for (label, gun, expect) in [
        ("a strict prefix", "attack.example/vic", DELETED_NOTHING),
        (
            "the prefix minus one letter",
            "attack.example/victi",
            DELETED_NOTHING,
        ),
        (
            "an SQL LIKE pattern",
            "attack.example/victi_",
            DELETED_NOTHING,
        ),
        (
            "an SQL LIKE percent",
            "attack.example/vic%25",
            DELETED_NOTHING,
        ),
        ("a lone SQL LIKE percent", "%25", DELETED_NOTHING),
        ("the owner's domain", "attack.example", DELETED_NOTHING),
        ("the first letter", "a", DELETED_NOTHING),
    ] {
        cases.push(semantic_case(
            format!("DELETE {label} of another GUN ({gun})"),
            expect,
            move |ctx| ctx.send("DELETE", &Ctx::tuf(gun), &[], &[]),
        ));
    }
    cases
}

/// The semantic cases (deletions last).
pub(crate) fn cases() -> Vec<Case> {
    let mut cases = owned_role_cases();
    cases.extend(delete_cases());
    cases
}
