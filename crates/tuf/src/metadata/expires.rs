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
    /// Exactly the forms Go's `time.Time` JSON decoder accepts are accepted (see
    /// [`parse_go_rfc3339`]), so that nothing signet stores or signs is unreadable to the Go
    /// notary client and docker.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidExpiry`] when `text` is not such a time.
    pub fn parse(text: &str) -> Result<Self> {
        let time = parse_go_rfc3339(text).map_err(|reason| Error::InvalidExpiry {
            text: text.to_owned(),
            reason: reason.to_owned(),
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

/// Parses `text` as Go's `time.Time` JSON decoder does (RFC 3339, strictly):
/// `YYYY-MM-DDTHH:MM:SS`, then an optional `.` and one or more digits (digits past the ninth
/// are ignored), then `Z` or `±HH:MM`. Each field has exactly two digits (four for the year)
/// and must be in range: month 1–12, a day that exists in that month, hour 0–23, minute and
/// second 0–59 (no leap second 60), zone hour 0–23 and zone minute 0–59. `T` and `Z` are
/// upper case.
///
/// # Errors
///
/// A short reason naming the first field that is wrong.
pub fn parse_go_rfc3339(text: &str) -> std::result::Result<DateTime<FixedOffset>, &'static str> {
    let b = text.as_bytes();
    let num = |range: std::ops::Range<usize>, min: u32, max: u32, what: &'static str| {
        let digits = b.get(range).ok_or("too short")?;
        let mut n: u32 = 0;
        for &c in digits {
            if !c.is_ascii_digit() {
                return Err(what);
            }
            n = n * 10 + u32::from(c - b'0');
        }
        if (min..=max).contains(&n) {
            Ok(n)
        } else {
            Err(what)
        }
    };
    if b.len() < "2006-01-02T15:04:05Z".len() {
        return Err("too short for RFC 3339 (2006-01-02T15:04:05Z)");
    }
    let separators = [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':'), (16, b':')];
    if separators.iter().any(|&(i, c)| b.get(i) != Some(&c)) {
        return Err("not laid out as 2006-01-02T15:04:05Z");
    }
    let year = num(0..4, 0, 9999, "year out of range")?;
    let month = num(5..7, 1, 12, "month out of range")?;
    let day = num(8..10, 1, 31, "day out of range")?;
    let hour = num(11..13, 0, 23, "hour out of range")?;
    let minute = num(14..16, 0, 59, "minute out of range")?;
    let second = num(17..19, 0, 59, "second out of range")?;
    let mut rest = b.get(19..).unwrap_or_default();
    let mut nanos: u32 = 0;
    if let [b'.', first, ..] = rest
        && first.is_ascii_digit()
    {
        let digits = rest[1..].iter().take_while(|c| c.is_ascii_digit()).count();
        for (i, &c) in rest[1..=digits].iter().enumerate() {
            if i < 9 {
                nanos = nanos * 10 + u32::from(c - b'0');
            }
        }
        for _ in digits..9 {
            nanos *= 10;
        }
        rest = &rest[1 + digits..];
    }
    let offset_secs = match rest {
        [b'Z'] => 0,
        [sign @ (b'+' | b'-'), _, _, b':', _, _] => {
            let zone_hour = num(b.len() - 5..b.len() - 3, 0, 23, "zone hour out of range")?;
            let zone_min = num(b.len() - 2..b.len(), 0, 59, "zone minute out of range")?;
            let secs = i32::try_from(zone_hour * 3600 + zone_min * 60).map_err(|_| "zone")?;
            if *sign == b'-' { -secs } else { secs }
        }
        _ => return Err("the zone must be Z or ±HH:MM"),
    };
    let year = i32::try_from(year).map_err(|_| "year out of range")?;
    let date = chrono::NaiveDate::from_ymd_opt(year, month, day).ok_or("day out of range")?;
    let naive = date
        .and_hms_nano_opt(hour, minute, second, nanos)
        .ok_or("time out of range")?;
    let offset = FixedOffset::east_opt(offset_secs).ok_or("zone out of range")?;
    naive
        .and_local_timezone(offset)
        .single()
        .ok_or("time out of range")
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
    fn accepts_what_go_accepts() {
        for (text, utc) in [
            ("2030-01-01T00:00:59Z", "2030-01-01T00:00:59+00:00"),
            (
                "2030-12-31T23:59:59.999999999Z",
                "2030-12-31T23:59:59.999999999+00:00",
            ),
            // Digits past the ninth are ignored, as Go does.
            (
                "2030-01-01T00:00:00.1234567891234Z",
                "2030-01-01T00:00:00.123456789+00:00",
            ),
            (
                "2030-01-01T00:00:00.5+23:59",
                "2029-12-31T00:01:00.500+00:00",
            ),
            ("2030-01-01T00:00:00-00:00", "2030-01-01T00:00:00+00:00"),
            ("2028-02-29T12:00:00Z", "2028-02-29T12:00:00+00:00"),
            ("0000-01-01T00:00:00Z", "0000-01-01T00:00:00+00:00"),
        ] {
            let e = Expires::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(e.utc().to_rfc3339(), utc, "{text}");
            assert_eq!(e.as_str(), text);
        }
    }

    #[test]
    fn refuses_what_go_refuses() {
        for bad in [
            // Leap second and other fields out of range.
            "2030-01-01T00:00:60Z",
            "2030-01-01T00:60:00Z",
            "2030-01-01T24:00:00Z",
            "2030-13-01T00:00:00Z",
            "2030-00-01T00:00:00Z",
            "2030-02-29T00:00:00Z",
            "2030-04-31T00:00:00Z",
            "2030-01-00T00:00:00Z",
            "2030-01-01T00:00:00+24:00",
            "2030-01-01T00:00:00+00:60",
            // Layout: lower case, other separators, missing or extra digits.
            "2030-01-01t00:00:00Z",
            "2030-01-01T00:00:00z",
            "2030-01-01 00:00:00Z",
            "2030-01-01T0:00:00Z",
            "2030-01-01T00:00:00,5Z",
            "2030-01-01T00:00:00.Z",
            "2030-01-01T00:00:00+0000",
            "2030-01-01T00:00:00+00:00:00",
            "+2030-01-01T00:00:00Z",
            "20300-01-01T00:00:00Z",
            "2030-01-01T00:00:00Z ",
            "2030-01-01T00:00:00",
            "２030-01-01T00:00:00Z",
        ] {
            assert!(
                matches!(Expires::parse(bad), Err(Error::InvalidExpiry { .. })),
                "{bad}"
            );
        }
        let reason = parse_go_rfc3339("2030-01-01T00:00:60Z").unwrap_err();
        assert_eq!(reason, "second out of range");
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
