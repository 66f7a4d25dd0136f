//! Names: GUNs and roles spelled with unicode look-alikes, NUL, `..`, percent-encoding,
//! case changes and characters with a meaning elsewhere (SQL wildcards, CRLF, `?`, `#`).
//!
//! GUN tricks are aimed at [`OWNER`]: its current files re-uploaded (a refusal either way:
//! `VERSION` if the name reaches OWNER, no root if it reaches another GUN), GETs, and
//! DELETEs of names that must not reach OWNER. Role tricks upload OWNER's valid next
//! targets under a role name that is not `targets`, so a server that maps the name onto
//! `targets` would accept it.

use serde_json::json;

use super::fixture::{Ctx, OWNER};
use super::wire::Outcome;
use super::{Case, Category, Expect, case};

const INVALID_UPDATE: Expect = Expect::Status(400, "INVALID_UPDATE");
const INVALID_ROLE: Expect = Expect::Status(400, "INVALID_ROLE");
const NOT_FOUND: Expect = Expect::Status(404, "METADATA_NOT_FOUND");
const VERSION: Expect = Expect::Status(400, "VERSION");
const REDIRECT: Expect = Expect::Status(301, "");
const DELETED_NOTHING: Expect = Expect::Status(200, "");

/// A GUN spelling (as written in the URL), what its upload, GET and (if it names another
/// GUN) DELETE must get.
struct GunTrick {
    label: &'static str,
    path_gun: &'static str,
    upload: Expect,
    get: Expect,
    /// `None`: the spelling reaches OWNER itself (deleting it would be a legitimate delete).
    delete: Option<Expect>,
}

const fn trick(
    label: &'static str,
    path_gun: &'static str,
    upload: Expect,
    get: Expect,
    delete: Option<Expect>,
) -> GunTrick {
    GunTrick {
        label,
        path_gun,
        upload,
        get,
        delete,
    }
}

const BAD_PATH: Expect = Expect::Status(404, "METADATA_NOT_FOUND");

fn gun_tricks() -> Vec<GunTrick> {
    let other = Some(DELETED_NOTHING);
    vec![
        trick(
            "upper case",
            "Attack.Example/Owner",
            INVALID_UPDATE,
            NOT_FOUND,
            other,
        ),
        trick(
            "upper-case last segment",
            "attack.example/OWNER",
            INVALID_UPDATE,
            NOT_FOUND,
            other,
        ),
        trick(
            "NUL at the end",
            "attack.example/owner%00",
            INVALID_UPDATE,
            NOT_FOUND,
            other,
        ),
        trick(
            "NUL in the middle",
            "attack.example/own%00er",
            INVALID_UPDATE,
            NOT_FOUND,
            other,
        ),
        trick(
            "NUL at the start",
            "%00attack.example/owner",
            INVALID_UPDATE,
            NOT_FOUND,
            other,
        ),
        trick(
            "trailing space",
            "attack.example/owner%20",
            INVALID_UPDATE,
            NOT_FOUND,
            other,
        ),
        trick(
            "leading space",
            "%20attack.example/owner",
            INVALID_UPDATE,
            NOT_FOUND,
            other,
        ),
        trick(
            "trailing tab",
            "attack.example/owner%09",
            INVALID_UPDATE,
            NOT_FOUND,
            other,
        ),
        trick(
            "CRLF and a header",
            "attack.example/owner%0d%0aX-Injected:%201",
            INVALID_UPDATE,
            NOT_FOUND,
            other,
        ),
        trick(
            "e with acute",
            "attack.example/own%C3%A9r",
            INVALID_UPDATE,
            NOT_FOUND,
            other,
        ),
        trick(
            "Cyrillic o",
            "attack.example/%D0%BEwner",
            INVALID_UPDATE,
            NOT_FOUND,
            other,
        ),
        trick(
            "fullwidth o",
            "attack.example/%EF%BD%8Fwner",
            INVALID_UPDATE,
            NOT_FOUND,
            other,
        ),
        trick(
            "zero-width space",
            "attack.example/owner%E2%80%8B",
            INVALID_UPDATE,
            NOT_FOUND,
            other,
        ),
        trick(
            "combining diaeresis",
            "attack.example/o%CC%88wner",
            INVALID_UPDATE,
            NOT_FOUND,
            other,
        ),
        trick(
            "right-to-left override",
            "attack.example/%E2%80%AEowner",
            INVALID_UPDATE,
            NOT_FOUND,
            other,
        ),
        trick(
            "invalid UTF-8",
            "attack.example/owner%FF",
            BAD_PATH,
            BAD_PATH,
            Some(BAD_PATH),
        ),
        trick(
            "overlong UTF-8 dots",
            "attack.example/%C0%AE%C0%AE/owner",
            BAD_PATH,
            BAD_PATH,
            Some(BAD_PATH),
        ),
        trick(
            "broken percent escape",
            "attack.example/owner%G0",
            BAD_PATH,
            BAD_PATH,
            Some(BAD_PATH),
        ),
        trick(
            "percent-encoded slash",
            "attack.example%2Fowner",
            VERSION,
            Expect::Status(200, ""),
            None,
        ),
        trick(
            "percent-encoded letters",
            "attack.example/%6Fwner",
            VERSION,
            Expect::Status(200, ""),
            None,
        ),
        trick(
            "double-encoded slash",
            "attack.example%252Fowner",
            INVALID_UPDATE,
            NOT_FOUND,
            other,
        ),
        trick(
            "literal percent",
            "attack.example/owner%25",
            INVALID_UPDATE,
            NOT_FOUND,
            other,
        ),
        trick(
            "SQL LIKE underscore",
            "attack.example/own_r",
            INVALID_UPDATE,
            NOT_FOUND,
            other,
        ),
        trick(
            "SQL LIKE percent",
            "attack.example/own%25",
            INVALID_UPDATE,
            NOT_FOUND,
            other,
        ),
        trick(
            "SQL quote",
            "attack.example/owner'%20OR%20'1'='1",
            INVALID_UPDATE,
            NOT_FOUND,
            other,
        ),
        trick(
            "backslash",
            "attack.example%5Cowner",
            INVALID_UPDATE,
            NOT_FOUND,
            other,
        ),
        trick(
            "asterisk",
            "attack.example/owner*",
            NOT_FOUND,
            NOT_FOUND,
            Some(NOT_FOUND),
        ),
        trick(
            "encoded asterisk",
            "attack.example/owner%2A",
            NOT_FOUND,
            NOT_FOUND,
            Some(NOT_FOUND),
        ),
        trick(
            "dot-dot segment",
            "attack.example/x/../owner",
            REDIRECT,
            REDIRECT,
            Some(REDIRECT),
        ),
        trick(
            "dot segment",
            "attack.example/./owner",
            REDIRECT,
            REDIRECT,
            Some(REDIRECT),
        ),
        trick(
            "encoded dot-dot",
            "attack.example/x/%2e%2e/owner",
            REDIRECT,
            REDIRECT,
            Some(REDIRECT),
        ),
        trick(
            "double slash",
            "attack.example//owner",
            REDIRECT,
            REDIRECT,
            Some(REDIRECT),
        ),
        trick(
            "trailing slash",
            "attack.example/owner/",
            REDIRECT,
            REDIRECT,
            Some(REDIRECT),
        ),
        trick(
            "trailing dot segment",
            "attack.example/owner/.",
            REDIRECT,
            REDIRECT,
            Some(REDIRECT),
        ),
        trick(
            "leading dot-dot",
            "../attack.example/owner",
            REDIRECT,
            REDIRECT,
            Some(REDIRECT),
        ),
        trick(
            "route marker inside",
            "attack.example/owner/_trust/tuf/x",
            INVALID_UPDATE,
            NOT_FOUND,
            other,
        ),
        trick("empty", "", REDIRECT, REDIRECT, Some(REDIRECT)),
    ]
}

fn names_case(
    name: String,
    expect: Expect,
    attack: impl Fn(&Ctx) -> Outcome + Send + Sync + 'static,
) -> Case {
    case(Category::Names, name, expect, attack)
}

fn gun_cases() -> Vec<Case> {
    let mut cases = Vec::new();
    for t in gun_tricks() {
        let path = format!("/v2/{}/_trust/tuf/", t.path_gun);
        let p = path.clone();
        cases.push(names_case(
            format!("GUN {}: re-upload of the owner's current files", t.label),
            t.upload,
            move |ctx| {
                let targets = ctx.file(OWNER, "targets");
                let snapshot = ctx.file(OWNER, "snapshot");
                let body = super::wire::form(&[("targets", targets), ("snapshot", snapshot)]);
                ctx.send(
                    "POST",
                    &p,
                    &[("Content-Type", &super::wire::form_type())],
                    &body,
                )
            },
        ));
        let p = format!("{path}root.json");
        cases.push(names_case(
            format!("GUN {}: GET root.json", t.label),
            t.get,
            move |ctx| ctx.get(&p),
        ));
        if let Some(delete) = t.delete {
            let p = path.clone();
            cases.push(names_case(
                format!("GUN {}: DELETE", t.label),
                delete,
                move |ctx| ctx.send("DELETE", &p, &[], &[]),
            ));
        }
    }
    cases
}

fn role_cases() -> Vec<Case> {
    let mut cases = Vec::new();
    for (label, role) in [
        ("capitalised", "Targets"),
        ("upper case", "TARGETS"),
        ("trailing space", "targets "),
        ("leading space", " targets"),
        ("trailing tab", "targets\t"),
        ("NUL", "targets\0"),
        ("parent segment", "targets/../targets"),
        ("dot segment", "targets/./releases"),
        ("trailing parent segment", "targets/releases/.."),
        ("double slash", "targets//releases"),
        ("trailing slash", "targets/releases/"),
        ("leading slash", "/targets"),
        ("leading dot slash", "./targets"),
        ("upper-case delegation", "targets/Releases"),
        ("percent-encoded delegation", "targets/relea%73es"),
        ("unicode delegation", "targets/r\u{e9}leases"),
        ("Cyrillic e in targets", "targ\u{435}ts"),
        ("root through ..", "targets/../root"),
        ("json twice", "targets.json.json"),
        ("upper-case JSON suffix", "targets.JSON"),
        ("backslash", "targets\\releases"),
        ("a Windows path", "C:\\targets"),
        ("a URL", "https://example.com/targets"),
        ("timestamp below targets", "targets/timestamp/.."),
    ] {
        cases.push(names_case(
            format!("role {label} ({role:?})"),
            INVALID_ROLE,
            move |ctx| {
                let mut parts = ctx.publish(OWNER, |_| {});
                parts[0].0 = role.to_owned();
                ctx.upload(OWNER, &parts)
            },
        ));
    }
    cases.push(names_case(
        "role with a quote escaped in the filename".to_owned(),
        INVALID_ROLE,
        |ctx| {
            let parts = ctx.publish(OWNER, |_| {});
            let mut body = super::wire::part_with_disposition(
                "form-data; name=\"files\"; filename=\"targ\\\"ets\"",
                &parts[0].1,
            );
            body.extend_from_slice(&super::wire::part("snapshot", &parts[1].1));
            body.extend_from_slice(&super::wire::closing());
            ctx.post_form(OWNER, &body)
        },
    ));
    for (label, file, expect) in [
        ("through ..", "targets/../root.json", REDIRECT),
        ("encoded ..", "targets%2F..%2Froot.json", REDIRECT),
        ("capitalised", "Targets.json", NOT_FOUND),
        ("NUL", "targets%00.json", NOT_FOUND),
        ("unicode", "targets/r%C3%A9leases.json", NOT_FOUND),
        (
            "timestamp key through a delegation",
            "targets/x/../../timestamp.key",
            REDIRECT,
        ),
    ] {
        cases.push(names_case(
            format!("GET role {label}"),
            expect,
            move |ctx| ctx.get(&format!("{}{file}", Ctx::tuf(OWNER))),
        ));
    }
    cases.push(names_case(
        "delegation named with a NUL inside targets".to_owned(),
        Expect::Status(400, "MALFORMED_JSON"),
        |ctx| {
            let parts = ctx.publish(OWNER, |t| {
                let mut role = t["delegations"]["roles"][0].clone();
                role["name"] = json!("targets/rel\u{0}eases");
                t["delegations"]["roles"].as_array_mut().unwrap().push(role);
            });
            ctx.upload(OWNER, &parts)
        },
    ));
    cases
}

/// The name cases.
pub(crate) fn cases() -> Vec<Case> {
    let mut cases = gun_cases();
    cases.extend(role_cases());
    cases
}
