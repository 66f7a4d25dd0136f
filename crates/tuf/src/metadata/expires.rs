//! The `expires` field: the exact text it was signed with, plus its parsed value.

use std::fmt;

use chrono::{DateTime, FixedOffset, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Error, Result};

/// An expiry time.
///
/// Notary writes `expires` with Go's RFC 3339 nanosecond layout in whatever zone the signer's
/// clock used (`2116-07-03T17:56:36.027379879-05:00`). The text is kept exactly as parsed so
/// that re-serialising a document reproduces the signed bytes; comparisons use the parsed
/// instant.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Expires {
    text: String,
    time: DateTime<FixedOffset>,
}

impl Expires {
    /// Parses an RFC 3339 time, keeping `text` verbatim.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidExpiry`] when `text` is not RFC 3339.
    pub fn parse(text: &str) -> Result<Self> {
        let time = DateTime::parse_from_rfc3339(text).map_err(|e| Error::InvalidExpiry {
            text: text.to_owned(),
            reason: e.to_string(),
        })?;
        Ok(Self {
            text: text.to_owned(),
            time,
        })
    }

    /// An expiry at `time`, written as Go's `time.RFC3339Nano` writes a UTC time: fractional
    /// seconds with trailing zeros trimmed (left out when zero) and a `Z` suffix, for example
    /// `2029-11-22T15:14:05.00533153Z`.
    pub fn from_utc(time: DateTime<Utc>) -> Self {
        let nanos = time.timestamp_subsec_nanos().min(999_999_999);
        let mut text = time.format("%Y-%m-%dT%H:%M:%S").to_string();
        if nanos > 0 {
            let frac = format!("{nanos:09}");
            text.push('.');
            text.push_str(frac.trim_end_matches('0'));
        }
        text.push('Z');
        Self {
            text,
            time: time.fixed_offset(),
        }
    }

    /// The exact text of the field.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The parsed time, in the offset it was written with.
    pub fn time(&self) -> DateTime<FixedOffset> {
        self.time
    }

    /// The parsed time in UTC.
    pub fn utc(&self) -> DateTime<Utc> {
        self.time.with_timezone(&Utc)
    }

    /// Whether the document has expired at `now` (Go: `expires.Before(now)`; an expiry equal to
    /// `now` is not yet expired).
    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        self.time < now
    }

    /// The time as Go's `Mon Jan 2 15:04:05 MST 2006` layout prints it in UTC, as found in
    /// Notary's "expired at" messages.
    pub fn go_display(&self) -> String {
        self.utc().format("%a %b %-d %H:%M:%S UTC %Y").to_string()
    }
}

impl fmt::Display for Expires {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for Expires {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Expires({})", self.text)
    }
}

impl Serialize for Expires {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for Expires {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let text = std::borrow::Cow::<'de, str>::deserialize(d)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone as _;

    #[test]
    fn keeps_text_and_offset() {
        let e = Expires::parse("2116-07-03T17:56:36.027379879-05:00").unwrap();
        assert_eq!(e.as_str(), "2116-07-03T17:56:36.027379879-05:00");
        assert_eq!(e.utc().to_rfc3339(), "2116-07-03T22:56:36.027379879+00:00");
        assert_eq!(e.time().offset().local_minus_utc(), -5 * 3600);
        let json = serde_json::to_string(&e).unwrap();
        assert_eq!(json, "\"2116-07-03T17:56:36.027379879-05:00\"");
        assert_eq!(serde_json::from_str::<Expires>(&json).unwrap(), e);
    }

    #[test]
    fn from_utc_formats_like_go_rfc3339nano() {
        let t = Utc.with_ymd_and_hms(2029, 11, 22, 15, 14, 5).unwrap();
        assert_eq!(Expires::from_utc(t).as_str(), "2029-11-22T15:14:05Z");
        let t2 = t + chrono::Duration::nanoseconds(5_331_530);
        assert_eq!(
            Expires::from_utc(t2).as_str(),
            "2029-11-22T15:14:05.00533153Z"
        );
        let t3 = t + chrono::Duration::nanoseconds(100_000_000);
        assert_eq!(Expires::from_utc(t3).as_str(), "2029-11-22T15:14:05.1Z");
        assert_eq!(
            Expires::parse(Expires::from_utc(t2).as_str())
                .unwrap()
                .utc(),
            t2
        );
    }

    #[test]
    fn expiry_comparison_and_display() {
        let e = Expires::parse("2026-11-22T15:17:00Z").unwrap();
        let at = e.utc();
        assert!(!e.is_expired(at));
        assert!(e.is_expired(at + chrono::Duration::nanoseconds(1)));
        assert!(!e.is_expired(at - chrono::Duration::days(1)));
        assert_eq!(e.go_display(), "Sun Nov 22 15:17:00 UTC 2026");
    }

    #[test]
    fn rejects_non_rfc3339() {
        for bad in ["", "2026-11-22", "tomorrow", "2026-11-22T15:17:00"] {
            assert!(
                matches!(Expires::parse(bad), Err(Error::InvalidExpiry { .. })),
                "{bad}"
            );
        }
        assert!(serde_json::from_str::<Expires>("1").is_err());
    }
}
