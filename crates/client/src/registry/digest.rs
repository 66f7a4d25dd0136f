//! Content digests (`sha256:<hex>`) with go-digest's validation rules.

use std::fmt;
use std::str::FromStr;

use sha2::Digest as _;

pub use super::error::DigestError;

/// A digest algorithm docker knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DigestAlgorithm {
    /// `sha256`, the registry default and the hash of docker content trust targets.
    Sha256,
    /// `sha384`.
    Sha384,
    /// `sha512`.
    Sha512,
}

impl DigestAlgorithm {
    /// The name used in digests (`sha256`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Sha256 => "sha256",
            Self::Sha384 => "sha384",
            Self::Sha512 => "sha512",
        }
    }

    /// Length of the hex-encoded hash.
    pub fn hex_len(self) -> usize {
        match self {
            Self::Sha256 => 64,
            Self::Sha384 => 96,
            Self::Sha512 => 128,
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        match name {
            "sha256" => Some(Self::Sha256),
            "sha384" => Some(Self::Sha384),
            "sha512" => Some(Self::Sha512),
            _ => None,
        }
    }

    /// Hashes `bytes`, hex-encoded.
    pub fn hash_hex(self, bytes: &[u8]) -> String {
        match self {
            Self::Sha256 => hex::encode(sha2::Sha256::digest(bytes)),
            Self::Sha384 => hex::encode(sha2::Sha384::digest(bytes)),
            Self::Sha512 => hex::encode(sha2::Sha512::digest(bytes)),
        }
    }
}

impl fmt::Display for DigestAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A validated content digest: `<algorithm>:<lower-case hex>`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest {
    algorithm: DigestAlgorithm,
    hex: String,
}

impl Digest {
    /// Parses and validates `algorithm:hex` as go-digest's `Parse` does.
    ///
    /// # Errors
    ///
    /// [`DigestError`] naming the broken rule.
    pub fn parse(digest: &str) -> Result<Self, DigestError> {
        let Some((algorithm, encoded)) = digest.split_once(':') else {
            return Err(DigestError::Format);
        };
        if algorithm.is_empty() || encoded.is_empty() {
            return Err(DigestError::Format);
        }
        let Some(algorithm) = DigestAlgorithm::from_name(algorithm) else {
            return Err(if is_go_digest_syntax(algorithm, encoded) {
                DigestError::Unsupported
            } else {
                DigestError::Format
            });
        };
        if encoded.len() != algorithm.hex_len() {
            return Err(DigestError::Length);
        }
        if !encoded
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(DigestError::Format);
        }
        Ok(Self {
            algorithm,
            hex: encoded.to_owned(),
        })
    }

    /// The digest of `bytes` with `algorithm`.
    pub fn of(algorithm: DigestAlgorithm, bytes: &[u8]) -> Self {
        Self {
            algorithm,
            hex: algorithm.hash_hex(bytes),
        }
    }

    /// The sha256 digest of `bytes`.
    pub fn sha256_of(bytes: &[u8]) -> Self {
        Self::of(DigestAlgorithm::Sha256, bytes)
    }

    /// The algorithm.
    pub fn algorithm(&self) -> DigestAlgorithm {
        self.algorithm
    }

    /// The lower-case hex hash (without the algorithm).
    pub fn hex(&self) -> &str {
        &self.hex
    }

    /// The raw hash bytes (what a TUF target's `hashes` map holds, before base64).
    pub fn to_bytes(&self) -> Vec<u8> {
        // The hex was validated on construction.
        hex::decode(&self.hex).unwrap_or_default()
    }

    /// Whether `bytes` hash to this digest.
    pub fn matches(&self, bytes: &[u8]) -> bool {
        self.algorithm.hash_hex(bytes) == self.hex
    }
}

/// go-digest's `DigestRegexp`: `[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+`.
fn is_go_digest_syntax(algorithm: &str, encoded: &str) -> bool {
    let component_ok = |c: &str| {
        !c.is_empty()
            && c.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    };
    algorithm.split(['.', '+', '_', '-']).all(component_ok)
        && encoded
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'=' | b'_' | b'-'))
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.algorithm, self.hex)
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({self})")
    }
}

impl FromStr for Digest {
    type Err = DigestError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn parses_and_hashes() {
        let digest = Digest::parse(&format!("sha256:{EMPTY_SHA256}")).unwrap();
        assert_eq!(digest, Digest::sha256_of(b""));
        assert!(digest.matches(b""));
        assert!(!digest.matches(b"x"));
        assert_eq!(digest.to_string(), format!("sha256:{EMPTY_SHA256}"));
        assert_eq!(digest.to_bytes().len(), 32);
        let sha512 = Digest::of(DigestAlgorithm::Sha512, b"abc");
        assert_eq!(Digest::parse(&sha512.to_string()).unwrap(), sha512);
        assert_eq!(sha512.hex().len(), 128);
        let sha384 = Digest::of(DigestAlgorithm::Sha384, b"abc");
        assert_eq!(sha384.to_string().parse::<Digest>().unwrap(), sha384);
    }

    #[test]
    fn rejects_like_go_digest() {
        let upper = format!("sha256:{}", EMPTY_SHA256.to_uppercase());
        let cases = [
            ("", DigestError::Format),
            ("sha256", DigestError::Format),
            ("sha256:", DigestError::Format),
            (":abc", DigestError::Format),
            ("sha256:abc", DigestError::Length),
            (upper.as_str(), DigestError::Format),
            (
                "md5:d41d8cd98f00b204e9800998ecf8427e",
                DigestError::Unsupported,
            ),
            ("MD5:d41d8cd98f00b204e9800998ecf8427e", DigestError::Format),
            ("sha256+b64:abc", DigestError::Unsupported),
        ];
        for (input, expected) in cases {
            assert_eq!(Digest::parse(input), Err(expected), "{input:?}");
        }
        let long = format!("sha256:{EMPTY_SHA256}0");
        assert_eq!(Digest::parse(&long), Err(DigestError::Length));
        let bad_char = format!("sha256:{}g", &EMPTY_SHA256[1..]);
        assert_eq!(Digest::parse(&bad_char), Err(DigestError::Format));
    }
}
