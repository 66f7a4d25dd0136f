//! The expiry timeline: how soon each role expires, as a class and a bar scaled to one year.

use std::fmt::{self, Write as _};

use chrono::{DateTime, Utc};
use signet_tuf::metadata::Expires;

use super::html::Esc;
use crate::service::RoleState;

/// Days the timeline spans: a bar reaching the right edge expires in a year or later.
const WINDOW_DAYS: i64 = 365;

/// How soon a file expires.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Urgency {
    /// Already expired (as clients judge it).
    Expired,
    /// Within 7 days.
    Within7Days,
    /// Within 30 days.
    Within30Days,
    /// Later.
    Later,
    /// Signed by the server, which signs it again when it expires: nobody needs to act.
    Renewed,
}

impl Urgency {
    /// The urgency of `expires` at `now`.
    pub(crate) fn of(expires: &Expires, now: DateTime<Utc>) -> Self {
        if expires.is_expired(now) {
            return Self::Expired;
        }
        let left = expires.utc() - now;
        if left < chrono::Duration::days(7) {
            Self::Within7Days
        } else if left < chrono::Duration::days(30) {
            Self::Within30Days
        } else {
            Self::Later
        }
    }

    /// The urgency of a role: [`Urgency::Renewed`] when the server signs it.
    pub(crate) fn of_role(role: &RoleState, now: DateTime<Utc>) -> Self {
        if role.server_signed {
            Self::Renewed
        } else {
            Self::of(&role.expires, now)
        }
    }

    /// The CSS class.
    pub(crate) fn class(self) -> &'static str {
        match self {
            Self::Expired => "expiry-expired",
            Self::Within7Days => "expiry-7d",
            Self::Within30Days => "expiry-30d",
            Self::Later => "expiry-ok",
            Self::Renewed => "expiry-renewed",
        }
    }

    /// The words shown next to the date.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Self::Expired => "expired",
            Self::Within7Days => "expires soon (within 7 days)",
            Self::Within30Days => "expires soon (within 30 days)",
            Self::Later => "ok",
            Self::Renewed => "renewed by the server",
        }
    }
}

/// The width class of the bar of `expires`: `w0` to `w100`, percent of [`WINDOW_DAYS`] left
/// (a full bar for an expired file, drawn in the expired colour).
fn width_class(expires: &Expires, now: DateTime<Utc>) -> String {
    if expires.is_expired(now) {
        return "w100".to_owned();
    }
    let hours = (expires.utc() - now).num_hours().max(0);
    let percent = (hours.saturating_mul(100) / (WINDOW_DAYS * 24)).clamp(1, 100);
    format!("w{percent}")
}

/// "in 3 days", "in 5 hours", "2 days ago".
fn relative(expires: &Expires, now: DateTime<Utc>) -> String {
    let delta = expires.utc() - now;
    let (past, d) = if delta < chrono::Duration::zero() {
        (true, -delta)
    } else {
        (false, delta)
    };
    let amount = if d.num_days() >= 1 {
        plural(d.num_days(), "day")
    } else if d.num_hours() >= 1 {
        plural(d.num_hours(), "hour")
    } else {
        plural(d.num_minutes(), "minute")
    };
    if past {
        format!("{amount} ago")
    } else {
        format!("in {amount}")
    }
}

fn plural(n: i64, unit: &str) -> String {
    if n == 1 {
        format!("1 {unit}")
    } else {
        format!("{n} {unit}s")
    }
}

/// The expiry cell: the date, how far it is, and the urgency label.
pub(crate) fn expiry_cell(
    out: &mut String,
    expires: &Expires,
    urgency: Urgency,
    now: DateTime<Utc>,
) -> fmt::Result {
    write!(
        out,
        "<time datetime=\"{}\">{}</time> <span class=\"rel\">{}</span> \
         <span class=\"badge {}\">{}</span>",
        Esc(expires.as_str()),
        Esc(&expires.utc().format("%Y-%m-%d %H:%M UTC").to_string()),
        Esc(&relative(expires, now)),
        urgency.class(),
        urgency.label()
    )
}

/// The timeline table: one row per role with its version, expiry and bar.
pub(crate) fn timeline(out: &mut String, roles: &[RoleState], now: DateTime<Utc>) -> fmt::Result {
    out.write_str(
        "<table class=\"timeline\"><caption>Time left, scaled to one year; the lines mark 7 \
         and 30 days.</caption><thead><tr><th>Role</th><th>Version</th><th>Expires</th>\
         <th class=\"scale\"><span class=\"mark30\">30 d</span>\
         <span class=\"end\">1 year</span></th></tr></thead><tbody>",
    )?;
    for r in roles {
        let urgency = Urgency::of_role(r, now);
        write!(
            out,
            "<tr class=\"role {}\" data-role=\"{}\"><td><code>{}</code></td><td>{}</td><td>",
            urgency.class(),
            Esc(&r.role),
            Esc(&r.role),
            r.version
        )?;
        expiry_cell(out, &r.expires, urgency, now)?;
        write!(
            out,
            "</td><td class=\"track\"><div class=\"bar {} {}\"></div></td></tr>",
            width_class(&r.expires, now),
            urgency.class()
        )?;
    }
    out.write_str("</tbody></table>")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .unwrap()
            .to_utc()
    }

    fn in_days(days: i64) -> Expires {
        Expires::from_utc(now() + chrono::Duration::days(days))
    }

    #[test]
    fn urgency_windows() {
        assert_eq!(Urgency::of(&in_days(-1), now()), Urgency::Expired);
        assert_eq!(Urgency::of(&in_days(3), now()), Urgency::Within7Days);
        assert_eq!(Urgency::of(&in_days(7), now()), Urgency::Within30Days);
        assert_eq!(Urgency::of(&in_days(20), now()), Urgency::Within30Days);
        assert_eq!(Urgency::of(&in_days(200), now()), Urgency::Later);
        let role = |days: i64, server_signed: bool| RoleState {
            role: "timestamp".into(),
            version: 1,
            expires: in_days(days),
            server_signed,
        };
        assert_eq!(Urgency::of_role(&role(-1, true), now()), Urgency::Renewed);
        assert_eq!(Urgency::of_role(&role(-1, false), now()), Urgency::Expired);
    }

    #[test]
    fn bars_scale_to_a_year() {
        assert_eq!(width_class(&in_days(-3), now()), "w100");
        assert_eq!(width_class(&in_days(3000), now()), "w100");
        assert_eq!(width_class(&in_days(0), now()), "w1");
        assert_eq!(width_class(&in_days(73), now()), "w20");
    }

    #[test]
    fn relative_times() {
        assert_eq!(relative(&in_days(3), now()), "in 3 days");
        assert_eq!(relative(&in_days(-1), now()), "1 day ago");
        let soon = Expires::from_utc(now() + chrono::Duration::hours(5));
        assert_eq!(relative(&soon, now()), "in 5 hours");
    }
}
