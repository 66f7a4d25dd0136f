//! Minimal lenient DER reading and exact DER writing for the key structures Notary uses.
//!
//! The RustCrypto `pkcs8`/`sec1` decoders refuse several things Go Notary writes or accepts
//! (PKCS#8 version 1 without a public key, extra trailing SEQUENCE elements, a `prf` field that
//! Go ignores). Reading therefore walks the TLVs by hand: `der` decodes each header (tag and a
//! minimally encoded length), and the callers pick the fields they need and ignore the rest.

use der::asn1::ObjectIdentifier;
use der::{Decode as _, Reader as _, Tag};
use zeroize::Zeroizing;

/// id-ecPublicKey.
pub(crate) const OID_EC_PUBLIC_KEY: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
/// prime256v1 / secp256r1 / NIST P-256.
pub(crate) const OID_P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
/// rsaEncryption.
pub(crate) const OID_RSA_ENCRYPTION: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
/// The GnuPG Ed25519 OID Notary uses in PKCS#8.
pub(crate) const OID_ED25519_NOTARY: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.3.6.1.4.1.11591.15.1");
/// id-Ed25519 from RFC 8410.
pub(crate) const OID_ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
/// PBES2.
pub(crate) const OID_PBES2: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.5.13");
/// PBKDF2.
pub(crate) const OID_PBKDF2: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.5.12");
/// aes256-CBC.
pub(crate) const OID_AES256_CBC: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.1.42");

/// One decoded TLV: its tag and the bytes of its value.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tlv<'a> {
    /// The tag.
    pub(crate) tag: Tag,
    /// The value bytes (for constructed types: the encodings of the elements).
    pub(crate) value: &'a [u8],
}

/// Reads consecutive TLVs from a byte slice.
#[derive(Debug, Clone)]
pub(crate) struct DerReader<'a> {
    rest: &'a [u8],
}

impl<'a> DerReader<'a> {
    /// A reader over `bytes`.
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Self { rest: bytes }
    }

    /// Whether everything has been read.
    pub(crate) fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    /// Number of bytes not read yet.
    pub(crate) fn remaining_len(&self) -> usize {
        self.rest.len()
    }

    /// The tag of the next TLV without consuming it.
    pub(crate) fn peek_tag(&self) -> Option<Tag> {
        self.rest.first().and_then(|b| Tag::try_from(*b).ok())
    }

    /// Reads the next TLV.
    pub(crate) fn read(&mut self) -> Result<Tlv<'a>, String> {
        let mut reader = der::SliceReader::new(self.rest).map_err(|e| e.to_string())?;
        let header = der::Header::decode(&mut reader).map_err(|e| e.to_string())?;
        let value = reader
            .read_slice(header.length)
            .map_err(|e| e.to_string())?;
        let used = usize::try_from(reader.position()).map_err(|e| e.to_string())?;
        self.rest = self.rest.get(used..).ok_or("length overflow")?;
        Ok(Tlv {
            tag: header.tag,
            value,
        })
    }

    /// Reads the next TLV and checks its tag; returns its value.
    pub(crate) fn expect(&mut self, tag: Tag, what: &str) -> Result<&'a [u8], String> {
        let tlv = self.read().map_err(|e| format!("{what}: {e}"))?;
        if tlv.tag != tag {
            return Err(format!("{what}: expected {tag}, found {}", tlv.tag));
        }
        Ok(tlv.value)
    }

    /// Reads a SEQUENCE and returns a reader over its elements.
    pub(crate) fn sequence(&mut self, what: &str) -> Result<Self, String> {
        self.expect(Tag::Sequence, what).map(Self::new)
    }

    /// Reads an OBJECT IDENTIFIER.
    pub(crate) fn oid(&mut self, what: &str) -> Result<ObjectIdentifier, String> {
        let value = self.expect(Tag::ObjectIdentifier, what)?;
        ObjectIdentifier::from_bytes(value).map_err(|e| format!("{what}: {e}"))
    }

    /// Reads a non-negative INTEGER that fits in a `u64`.
    pub(crate) fn small_uint(&mut self, what: &str) -> Result<u64, String> {
        let value = self.expect(Tag::Integer, what)?;
        match value {
            [] => Err(format!("{what}: empty integer")),
            [first, ..] if first & 0x80 != 0 => Err(format!("{what}: negative integer")),
            _ => {
                let trimmed = value
                    .iter()
                    .position(|b| *b != 0)
                    .map_or(&[][..], |i| &value[i..]);
                if trimmed.len() > 8 {
                    return Err(format!("{what}: integer too large"));
                }
                Ok(trimmed
                    .iter()
                    .fold(0u64, |acc, b| (acc << 8) | u64::from(*b)))
            }
        }
    }

    /// Reads an OCTET STRING.
    pub(crate) fn octet_string(&mut self, what: &str) -> Result<&'a [u8], String> {
        self.expect(Tag::OctetString, what)
    }
}

/// The DER length octets for `len`.
fn encode_length(len: usize, out: &mut Vec<u8>) {
    if len < 0x80 {
        // Fits in seven bits.
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        let significant = &bytes[skip..];
        out.push(0x80 | significant.len() as u8);
        out.extend_from_slice(significant);
    }
}

/// DER tag byte of a SEQUENCE.
pub(crate) const TAG_SEQUENCE: u8 = 0x30;
/// DER tag byte of an INTEGER.
pub(crate) const TAG_INTEGER: u8 = 0x02;
/// DER tag byte of an OCTET STRING.
pub(crate) const TAG_OCTET_STRING: u8 = 0x04;
/// DER tag byte of a BIT STRING.
pub(crate) const TAG_BIT_STRING: u8 = 0x03;
/// DER tag byte of an OBJECT IDENTIFIER.
pub(crate) const TAG_OID: u8 = 0x06;

/// Encodes one TLV. The buffer is zeroized on drop because callers build secret structures.
pub(crate) fn tlv(tag: u8, content: &[u8]) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::with_capacity(content.len() + 6));
    out.push(tag);
    encode_length(content.len(), &mut out);
    out.extend_from_slice(content);
    out
}

/// Encodes a constructed TLV whose content is the concatenation of `parts`.
pub(crate) fn constructed(tag: u8, parts: &[&[u8]]) -> Zeroizing<Vec<u8>> {
    let mut content = Zeroizing::new(Vec::with_capacity(parts.iter().map(|p| p.len()).sum()));
    for part in parts {
        content.extend_from_slice(part);
    }
    tlv(tag, &content)
}

/// Encodes a SEQUENCE of already encoded elements.
pub(crate) fn sequence(parts: &[&[u8]]) -> Zeroizing<Vec<u8>> {
    constructed(TAG_SEQUENCE, parts)
}

/// Encodes a non-negative INTEGER.
pub(crate) fn uint(value: u64) -> Zeroizing<Vec<u8>> {
    let bytes = value.to_be_bytes();
    let skip = bytes.iter().take_while(|b| **b == 0).count().min(7);
    let mut content = bytes[skip..].to_vec();
    if content.first().is_some_and(|b| b & 0x80 != 0) {
        content.insert(0, 0);
    }
    tlv(TAG_INTEGER, &content)
}

/// Encodes an OBJECT IDENTIFIER.
pub(crate) fn oid(value: &ObjectIdentifier) -> Zeroizing<Vec<u8>> {
    tlv(TAG_OID, value.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_and_integers_round_trip() {
        for len in [0usize, 1, 127, 128, 255, 256, 70_000] {
            let encoded = tlv(TAG_OCTET_STRING, &vec![0xAA; len]);
            let mut reader = DerReader::new(&encoded);
            assert_eq!(reader.octet_string("x").unwrap().len(), len);
            assert!(reader.is_empty());
        }
        for value in [0u64, 1, 127, 128, 255, 2048, u64::from(u32::MAX), u64::MAX] {
            let encoded = uint(value);
            assert_eq!(DerReader::new(&encoded).small_uint("x").unwrap(), value);
        }
        assert_eq!(uint(2048).as_slice(), &[0x02, 0x02, 0x08, 0x00]);
        assert_eq!(uint(128).as_slice(), &[0x02, 0x02, 0x00, 0x80]);
    }

    #[test]
    fn reader_reports_wrong_tags_and_truncation() {
        let encoded = uint(5);
        assert!(DerReader::new(&encoded).octet_string("field").is_err());
        assert!(DerReader::new(&encoded[..2]).read().is_err());
        assert!(DerReader::new(&[0x02, 0x01, 0xFF]).small_uint("n").is_err());
    }

    #[test]
    fn oid_round_trip() {
        let encoded = oid(&OID_PBES2);
        assert_eq!(DerReader::new(&encoded).oid("x").unwrap(), OID_PBES2);
    }
}
