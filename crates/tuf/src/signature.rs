//! Signatures as Notary writes them: `{"keyid":…,"method":…,"sig":"<base64>"}`.

use serde::{Deserialize, Deserializer, Serialize};

use crate::b64;
use crate::key::KeyId;

/// One signature over the canonical bytes of a document's `signed` value.
///
/// Serialised with the fields in the order `keyid`, `method`, `sig`, `sig` as padded standard
/// base64. Like Go notary, `method` is lower-cased when parsed, so re-serialised documents carry
/// the lower-case form.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Signature {
    /// The TUF ID of the signing key.
    pub keyid: KeyId,
    /// The signature method (`ecdsa`, `eddsa`, `rsapss`, `rsapkcs1v15`, `pycrypto-pkcs#1 pss`).
    #[serde(deserialize_with = "lowercase")]
    pub method: String,
    /// The raw signature bytes.
    #[serde(with = "b64::serde_bytes")]
    pub sig: Vec<u8>,
}

fn lowercase<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let s = String::deserialize(d)?;
    Ok(s.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "c20ba8b02376a7a5d01015f5a2bd487c54137ee163212fc913a6f2276ed0f1c3";

    #[test]
    fn serialises_in_notary_field_order() {
        let sig = Signature {
            keyid: ID.parse().unwrap(),
            method: "eddsa".into(),
            sig: vec![1, 2, 3, 255],
        };
        let json = serde_json::to_string(&sig).unwrap();
        assert_eq!(
            json,
            format!(r#"{{"keyid":"{ID}","method":"eddsa","sig":"AQID/w=="}}"#)
        );
        let back: Signature = serde_json::from_str(&json).unwrap();
        assert_eq!(back, sig);
    }

    #[test]
    fn lowercases_method_and_rejects_bad_fields() {
        let json = format!(r#"{{"sig":"AA==","method":"ECDSA","keyid":"{ID}"}}"#);
        let sig: Signature = serde_json::from_str(&json).unwrap();
        assert_eq!(sig.method, "ecdsa");
        assert_eq!(sig.sig, vec![0]);
        let bad_id = r#"{"keyid":"ABC","method":"ecdsa","sig":"AA=="}"#;
        assert!(serde_json::from_str::<Signature>(bad_id).is_err());
        let bad_b64 = format!(r#"{{"keyid":"{ID}","method":"ecdsa","sig":"*"}}"#);
        assert!(serde_json::from_str::<Signature>(&bad_b64).is_err());
    }
}
