//! `metadata`: signed metadata files of every role, as the client reads them from a server or
//! its cache and the server reads them from an upload or its store.
//!
//! Input: one selector byte (modulo 5: root, targets, snapshot, timestamp, delegation
//! `targets/releases`), then the file. The file is parsed with `Envelope::parse` (and
//! `parse_shared`, which must agree), validated and verified against the notary 0.3 test
//! repository (`docker.com/notary0.3/tst`). Invariants: both parse paths give the same
//! signed bytes and signatures; a parsed file written back with `to_file_bytes` parses again
//! to the same signed bytes and signatures.

use std::sync::{Arc, OnceLock};

use signet_tuf::metadata::{Envelope, Metadata, Root, Snapshot, Targets, Timestamp};
use signet_tuf::verify;

use super::{fixed_now, split_selector};

/// The repository whose keys verify the fuzzed files.
pub const GUN: &str = "docker.com/notary0.3/tst";

const ROOT: &[u8] = include_bytes!(
    "../../../crates/tuf/tests/data/notary-compat/notary0.3/tuf/docker.com/notary0.3/tst/metadata/root.json"
);
const TARGETS: &[u8] = include_bytes!(
    "../../../crates/tuf/tests/data/notary-compat/notary0.3/tuf/docker.com/notary0.3/tst/metadata/targets.json"
);

struct Trusted {
    root: Root,
    targets: Targets,
}

fn trusted() -> &'static Trusted {
    static TRUSTED: OnceLock<Trusted> = OnceLock::new();
    TRUSTED.get_or_init(|| {
        let root = match Envelope::<Root>::parse(ROOT) {
            Ok(env) => env.into_parts().0,
            Err(e) => panic!("fixture root.json does not parse: {e}"),
        };
        let targets = match Envelope::<Targets>::parse(TARGETS) {
            Ok(env) => env.into_parts().0,
            Err(e) => panic!("fixture targets.json does not parse: {e}"),
        };
        Trusted { root, targets }
    })
}

/// Parses `file` both ways and checks the round trip; `None` when it does not parse.
fn parse<T: Metadata>(file: &[u8]) -> Option<Envelope<T>> {
    let parsed = Envelope::<T>::parse(file);
    let shared = Envelope::<T>::parse_shared(&Arc::new(file.to_vec()));
    match (&parsed, &shared) {
        (Ok(a), Ok(b)) => {
            assert_eq!(
                a.signing_bytes(),
                b.signing_bytes(),
                "parse and parse_shared disagree"
            );
            assert_eq!(
                a.signatures(),
                b.signatures(),
                "parse and parse_shared disagree"
            );
        }
        (Err(_), Err(_)) => {}
        _ => panic!(
            "parse and parse_shared disagree: {:?} / {:?}",
            parsed.as_ref().err(),
            shared.as_ref().err()
        ),
    }
    let env = parsed.ok()?;
    if let Ok(written) = env.to_file_bytes() {
        match Envelope::<T>::parse(&written) {
            Ok(again) => {
                assert_eq!(
                    env.signing_bytes(),
                    again.signing_bytes(),
                    "signed bytes changed through to_file_bytes"
                );
                assert_eq!(
                    env.signatures(),
                    again.signatures(),
                    "signatures changed through to_file_bytes"
                );
            }
            Err(e) => panic!("to_file_bytes output does not parse: {e}"),
        }
    }
    Some(env)
}

/// Runs one input; `true` when the file parsed as the selected role.
pub fn run(data: &[u8]) -> bool {
    let Some((selector, file)) = split_selector(data) else {
        return false;
    };
    let trusted = trusted();
    let now = fixed_now();
    match selector % 5 {
        0 => {
            let Some(env) = parse::<Root>(file) else {
                return false;
            };
            let _ = env.signed().validate();
            let _ = verify::verify_root_self_signed(&env);
            let _ = verify::verify_root(&env, None, GUN, now);
            let _ = verify::verify_root(&env, Some(&trusted.root), GUN, now);
            let _ = verify::check_expiry("root", &env.signed().expires, now);
            // The fuzzed root as the trusted one: its keys verify the fixture targets.
            if let Ok(targets) = Envelope::<Targets>::parse(TARGETS) {
                let _ = verify::verify_targets(&targets, env.signed());
            }
            true
        }
        1 => {
            let Some(env) = parse::<Targets>(file) else {
                return false;
            };
            let _ = verify::verify_targets(&env, &trusted.root);
            let _ = verify::check_expiry("targets", &env.signed().expires, now);
            // The fuzzed targets as a delegator.
            let _ = env.signed().validate("targets");
            true
        }
        2 => {
            let Some(env) = parse::<Snapshot>(file) else {
                return false;
            };
            let _ = verify::verify_snapshot(&env, &trusted.root);
            let _ = verify::check_expiry("snapshot", &env.signed().expires, now);
            true
        }
        3 => {
            let Some(env) = parse::<Timestamp>(file) else {
                return false;
            };
            let _ = verify::verify_timestamp(&env, &trusted.root);
            let _ = verify::check_expiry("timestamp", &env.signed().expires, now);
            true
        }
        _ => {
            let Some(env) = parse::<Targets>(file) else {
                return false;
            };
            let _ = verify::verify_delegation(&env, &trusted.targets, "targets/releases");
            let _ = env.signed().validate("targets/releases/x");
            true
        }
    }
}
