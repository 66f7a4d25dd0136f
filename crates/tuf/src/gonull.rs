//! Go's `null` for empty collections.
//!
//! Go's `encoding/json` writes a nil slice, map or `[]byte` as `null`, and Go notary builds
//! metadata from Go values, so an empty collection sometimes reaches the wire as `null` instead
//! of `[]` or `{}`. The notary 0.7 CLI does this itself: removing the last delegation of a
//! targets file writes `"roles":null`, and removing every key of a delegation writes
//! `"keyids":null`. Go reads such a `null` back as the empty value; this crate does the same for
//! every collection of the metadata model (see [`or_empty`]) and for the `[]byte` fields
//! (signature bytes, public key bytes, hash digests), which read as empty bytes.
//!
//! The typed documents do not remember that a collection was written as `null`: re-serialised
//! from the typed value, it comes out as `[]` or `{}`, which Go reads identically. That never
//! breaks a signature, because [`Envelope`](crate::metadata::Envelope) checks signatures over
//! the canonical form of the `signed` text *as received* (where `null` stays `null`) and writes
//! a parsed file back from that text; only a newly signed document is serialised from the typed
//! value.

use serde::{Deserialize, Deserializer};

/// Reads a collection that Go may have written as `null`: `null` reads as the empty (default)
/// value, anything else as `T` does.
///
/// Combine with `#[serde(default)]` so that a missing field is empty too.
pub(crate) fn or_empty<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Option::<T>::deserialize(d).map(Option::unwrap_or_default)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Arc;

    use serde::Deserialize;

    use crate::error::Error;
    use crate::key::PublicKey;
    use crate::metadata::{Envelope, Metadata, Root, Snapshot, Targets, Timestamp, signing_bytes};
    use crate::testutil::TestKey;
    use crate::verify::{self, RoleKeySet};
    use crate::{cjson, role};

    #[derive(Deserialize)]
    struct Doc {
        #[serde(default, deserialize_with = "super::or_empty")]
        list: Vec<String>,
        #[serde(default, deserialize_with = "super::or_empty")]
        map: BTreeMap<String, i64>,
    }

    #[test]
    fn null_missing_and_empty_all_read_as_empty() {
        for json in [
            r#"{"list":null,"map":null}"#,
            "{}",
            r#"{"list":[],"map":{}}"#,
        ] {
            let doc: Doc = serde_json::from_str(json).unwrap();
            assert!(doc.list.is_empty() && doc.map.is_empty(), "{json}");
        }
        let doc: Doc = serde_json::from_str(r#"{"list":["a"],"map":{"k":1}}"#).unwrap();
        assert_eq!(doc.list, ["a"]);
        assert_eq!(doc.map["k"], 1);
        // Only `null` is forgiven: other wrong types are still errors.
        assert!(serde_json::from_str::<Doc>(r#"{"list":{}}"#).is_err());
        assert!(serde_json::from_str::<Doc>(r#"{"map":[]}"#).is_err());
        assert!(serde_json::from_str::<Doc>(r#"{"list":[null]}"#).is_err());
    }

    const EXPIRES: &str = r#""expires":"2030-01-01T00:00:00Z""#;

    /// `key`'s TUF JSON (`{"keytype":…,"keyval":{"private":null,"public":…}}`).
    fn key_json(key: &PublicKey) -> String {
        serde_json::to_string(key).unwrap()
    }

    /// A file whose `signed` member is exactly `signed` (already canonical), signed by `keys`.
    fn signed_file(signed: &str, keys: &[&TestKey]) -> Vec<u8> {
        assert_eq!(
            cjson::canonicalize_str(signed).unwrap(),
            signed.as_bytes(),
            "fixture text must be canonical"
        );
        let sigs: Vec<String> = keys
            .iter()
            .map(|k| serde_json::to_string(&k.sign(signed.as_bytes())).unwrap())
            .collect();
        format!(r#"{{"signed":{signed},"signatures":[{}]}}"#, sigs.join(",")).into_bytes()
    }

    /// Parses `file` both ways and checks what every Go-null document must satisfy: the `null`s
    /// stay in the signed bytes (kept in place by the shared parse), the signatures verify
    /// against `keys`, the file is written back byte for byte, and turning a `null` into the
    /// empty value Go would read breaks the signatures (so `null` is really what was verified).
    fn check<T: Metadata>(file: &[u8], signed: &str, keys: &RoleKeySet) -> Envelope<T> {
        let env = Envelope::<T>::parse(file).unwrap();
        assert_eq!(env.signing_bytes(), signed.as_bytes());
        assert_eq!(keys.verify_envelope(&env).unwrap(), 1);
        assert_eq!(env.to_file_bytes().unwrap(), file);

        let shared_file = Arc::new(file.to_vec());
        let shared = Envelope::<T>::parse_shared(&shared_file).unwrap();
        assert!(
            shared_file
                .as_ptr_range()
                .contains(&shared.signing_bytes().as_ptr()),
            "canonical text is referred to, not copied"
        );
        assert_eq!(shared.signing_bytes(), signed.as_bytes());
        assert_eq!(keys.verify_envelope(&shared).unwrap(), 1);
        assert_eq!(shared.to_file_bytes().unwrap(), file);

        // The typed document writes the empty value instead: a different signed text.
        let typed = signing_bytes(env.signed()).unwrap();
        assert_ne!(typed, signed.as_bytes());
        let mut resigned = Envelope::from_signed(env.signed().clone()).unwrap();
        resigned.replace_signatures(env.signatures().to_vec());
        assert!(matches!(
            keys.verify_envelope(&resigned),
            Err(Error::ThresholdNotMet { .. })
        ));
        env
    }

    fn one_key(name: &str, key: &TestKey) -> RoleKeySet {
        RoleKeySet {
            role: name.to_owned(),
            keys: BTreeMap::from([(key.id(), key.public().clone())]),
            threshold: 1,
        }
    }

    #[test]
    fn targets_with_go_null_collections() {
        let key = TestKey::ecdsa();
        let delegate = TestKey::ed25519();
        let (did, dkey) = (delegate.id(), key_json(delegate.public()));
        let cases = [
            // `notary delegation remove` of the last delegation.
            format!(
                r#"{{"_type":"Targets","delegations":{{"keys":{{}},"roles":null}},{EXPIRES},"targets":{{}},"version":2}}"#
            ),
            format!(
                r#"{{"_type":"Targets","delegations":{{"keys":null,"roles":null}},{EXPIRES},"targets":null,"version":2}}"#
            ),
            format!(
                r#"{{"_type":"Targets","delegations":null,{EXPIRES},"targets":{{}},"version":2}}"#
            ),
            // `notary delegation remove <gun> <role> <its only key>`: the role stays, keyless.
            format!(
                r#"{{"_type":"Targets","delegations":{{"keys":{{}},"roles":[{{"keyids":null,"name":"targets/releases","paths":[""],"threshold":1}}]}},{EXPIRES},"targets":{{}},"version":3}}"#
            ),
            format!(
                r#"{{"_type":"Targets","delegations":{{"keys":{{"{did}":{dkey}}},"roles":[{{"keyids":["{did}"],"name":"targets/team","path_hash_prefixes":null,"paths":null,"threshold":1}}]}},{EXPIRES},"targets":{{}},"version":2}}"#
            ),
            format!(
                r#"{{"_type":"Targets","delegations":{{"keys":{{}},"roles":[]}},{EXPIRES},"targets":{{"a":{{"custom":null,"hashes":null,"length":1}},"b":{{"hashes":{{"sha256":null}},"length":0}}}},"version":2}}"#
            ),
        ];
        let keys = one_key(role::TARGETS, &key);
        for signed in &cases {
            let file = signed_file(signed, &[&key]);
            let env = check::<Targets>(&file, signed, &keys);
            let t = env.signed();
            // Go notary-server accepts every one of them.
            t.validate(role::TARGETS).unwrap();
            for d in &t.delegations.roles {
                assert!(d.path_hash_prefixes.is_none());
                if d.name == "targets/releases" {
                    assert!(d.keyids.is_empty());
                    // A keyless delegation can never sign.
                    let set = RoleKeySet::from_delegation(t, &d.name).unwrap();
                    assert!(set.keys.is_empty());
                } else {
                    assert_eq!(d.keyids, std::slice::from_ref(&did));
                    assert!(d.paths.is_empty() && !d.allows_path("x"));
                }
            }
            if let Some(a) = t.targets.get("a") {
                assert!(a.custom.is_none() && a.hashes.is_empty());
                assert_eq!(t.targets["b"].sha256(), Some(&[][..]));
            }
        }
        let typed = |i: usize| {
            let file = signed_file(&cases[i], &[&key]);
            let env = Envelope::<Targets>::parse(&file).unwrap();
            String::from_utf8(signing_bytes(env.signed()).unwrap()).unwrap()
        };
        assert!(typed(0).contains(r#""delegations":{"keys":{},"roles":[]}"#));
        assert!(typed(1).contains(r#""targets":{}"#));
        assert!(typed(3).contains(r#""keyids":[]"#));
    }

    #[test]
    fn root_with_go_null_collections() {
        let root_key = TestKey::ecdsa();
        let (id, pk) = (root_key.id(), key_json(root_key.public()));
        let role = |ids: &str| format!(r#"{{"keyids":{ids},"threshold":1}}"#);
        let listed = format!(r#"["{id}"]"#);
        // Valid for Go notary-server: a base role may list no key at all.
        let signed = format!(
            r#"{{"_type":"Root","consistent_snapshot":false,{EXPIRES},"keys":{{"{id}":{pk}}},"roles":{{"root":{},"snapshot":{},"targets":{},"timestamp":{}}},"version":1}}"#,
            role(&listed),
            role("null"),
            role(&listed),
            role(&listed),
        );
        let file = signed_file(&signed, &[&root_key]);
        let env = check::<Root>(&file, &signed, &one_key(role::ROOT, &root_key));
        assert!(env.signed().roles["snapshot"].keyids.is_empty());
        assert_eq!(verify::verify_root_self_signed(&env).unwrap(), 1);

        // `null` keys and roles parse and verify, then fail the structure check as in Go.
        let empty = format!(
            r#"{{"_type":"Root","consistent_snapshot":false,{EXPIRES},"keys":null,"roles":null,"version":1}}"#
        );
        let file = signed_file(&empty, &[&root_key]);
        let env = check::<Root>(&file, &empty, &one_key(role::ROOT, &root_key));
        let err = env.signed().validate().unwrap_err();
        assert!(
            err.to_string().contains("missing root role specification"),
            "{err}"
        );
    }

    #[test]
    fn snapshot_and_timestamp_with_go_null_collections() {
        let key = TestKey::ecdsa();
        let keys = one_key(role::SNAPSHOT, &key);
        let sha = r#"{"sha256":"47DEQpj8HBSa+/TZIwvBtt3N6nfQn3ZZxfbXTnLgZHU="}"#;
        // A delegation entry may carry `null` hashes; root and targets need a sha256.
        let signed = format!(
            r#"{{"_type":"Snapshot",{EXPIRES},"meta":{{"root":{{"hashes":{sha},"length":0}},"targets":{{"hashes":{sha},"length":0}},"targets/x":{{"hashes":null,"length":0}}}},"version":1}}"#
        );
        let env = check::<Snapshot>(&signed_file(&signed, &[&key]), &signed, &keys);
        env.signed().validate().unwrap();
        assert!(env.signed().meta["targets/x"].hashes.is_empty());

        let null_meta = format!(r#"{{"_type":"Snapshot",{EXPIRES},"meta":null,"version":1}}"#);
        let env = check::<Snapshot>(&signed_file(&null_meta, &[&key]), &null_meta, &keys);
        let err = env.signed().validate().unwrap_err();
        assert!(err.to_string().contains("missing root sha256"), "{err}");

        let keys = one_key(role::TIMESTAMP, &key);
        let null_meta = format!(r#"{{"_type":"Timestamp",{EXPIRES},"meta":null,"version":1}}"#);
        let env = check::<Timestamp>(&signed_file(&null_meta, &[&key]), &null_meta, &keys);
        assert!(env.signed().snapshot_meta().is_none());
        let err = env.signed().validate().unwrap_err();
        assert!(err.to_string().contains("missing snapshot sha256"), "{err}");
    }

    #[test]
    fn null_signature_bytes_and_public_key_bytes() {
        let key = TestKey::ecdsa();
        let other = TestKey::ed25519();
        let signed = format!(
            r#"{{"_type":"Targets","delegations":{{"keys":{{"{}":{{"keytype":"ed25519","keyval":{{"private":null,"public":null}}}}}},"roles":[]}},{EXPIRES},"targets":{{}},"version":1}}"#,
            other.id()
        );
        let good = serde_json::to_string(&key.sign(signed.as_bytes())).unwrap();
        let nil = format!(
            r#"{{"keyid":"{}","method":"eddsa","sig":null}}"#,
            other.id()
        );
        let file = format!(r#"{{"signed":{signed},"signatures":[{nil},{good}]}}"#);
        let env = Envelope::<Targets>::parse(file.as_bytes()).unwrap();
        assert!(env.signatures()[0].sig.is_empty());
        let (listed_id, listed) = env.signed().delegations.keys.iter().next().unwrap();
        assert_eq!(listed_id, &other.id());
        assert!(listed.public().is_empty());
        // The nil signature counts for nothing; the other one carries the threshold.
        let mut keys = one_key(role::TARGETS, &key);
        assert_eq!(keys.verify_envelope(&env).unwrap(), 1);
        keys.keys.insert(other.id(), other.public().clone());
        keys.threshold = 2;
        assert!(matches!(
            keys.verify_envelope(&env),
            Err(Error::ThresholdNotMet { valid: 1, .. })
        ));
        // Only an empty list of signatures counts as "no signatures".
        let none = format!(r#"{{"signed":{signed},"signatures":null}}"#);
        let env = Envelope::<Targets>::parse(none.as_bytes()).unwrap();
        assert!(env.signatures().is_empty());
        assert!(matches!(
            one_key(role::TARGETS, &key).verify_envelope(&env),
            Err(Error::NoSignatures { .. })
        ));
    }
}
