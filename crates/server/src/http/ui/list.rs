//! The page listing the repositories: a search form, one page of GUNs, a link to the next.

use std::fmt::{self, Write as _};

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use signet_tuf::metadata::Expires;

use super::html::{Esc, QueryValue, close_page, open_page, repository_link};
use super::timeline::{Urgency, expiry_cell};

/// Repositories on one page.
pub(crate) const PAGE_SIZE: u32 = 50;

/// One page of the list, as the handler found it.
pub(crate) struct ListPage<'a> {
    /// The search text (`?q=`), possibly empty.
    pub(crate) query: &'a str,
    /// Whether this is a later page (`?after=` was given).
    pub(crate) continued: bool,
    /// The GUNs on this page.
    pub(crate) guns: &'a [String],
    /// Whether there are more after them.
    pub(crate) more: bool,
    /// The earliest expiry (Unix seconds) of what the owners of each GUN sign, when known.
    pub(crate) earliest: &'a BTreeMap<String, i64>,
    /// The time expiries are measured from.
    pub(crate) now: DateTime<Utc>,
}

/// The whole list page.
pub(crate) fn render(page: &ListPage<'_>) -> Result<String, fmt::Error> {
    let mut out = String::with_capacity(8 * 1024);
    open_page(&mut out, "Repositories")?;
    write!(
        out,
        "<h1>Repositories</h1>\
         <form class=\"search\" method=\"get\" action=\"/ui/\" role=\"search\">\
         <label for=\"q\">GUN contains</label> \
         <input id=\"q\" name=\"q\" type=\"search\" value=\"{}\" maxlength=\"255\" \
         placeholder=\"docker.io/library/\"> <button type=\"submit\">Search</button></form>",
        Esc(page.query)
    )?;
    let matching = if page.query.is_empty() {
        String::new()
    } else {
        format!(" matching <q>{}</q>", Esc(page.query))
    };
    if page.guns.is_empty() {
        write!(
            out,
            "<p class=\"empty\">No repositories{matching} that you may pull{}.</p>",
            if page.continued { " on this page" } else { "" }
        )?;
    } else {
        write!(
            out,
            "<p class=\"count\">{} repositor{}{matching}{}.</p><ul class=\"repos\">",
            page.guns.len(),
            if page.guns.len() == 1 { "y" } else { "ies" },
            if page.more { " on this page" } else { "" }
        )?;
        for gun in page.guns {
            write!(
                out,
                "<li><a class=\"gun\" href=\"{}\">{}</a>",
                Esc(&repository_link(gun)),
                Esc(gun)
            )?;
            let earliest = page
                .earliest
                .get(gun)
                .and_then(|secs| DateTime::from_timestamp(*secs, 0));
            if let Some(when) = earliest {
                let expires = Expires::from_utc(when);
                write!(
                    out,
                    "<span class=\"next-expiry {}\">first expiry: ",
                    Urgency::of(&expires, page.now).class()
                )?;
                expiry_cell(
                    &mut out,
                    &expires,
                    Urgency::of(&expires, page.now),
                    page.now,
                )?;
                out.write_str("</span>")?;
            }
            out.write_str("</li>")?;
        }
        out.write_str("</ul>")?;
    }
    out.write_str("<nav class=\"pages\">")?;
    if page.continued {
        write!(
            out,
            "<a href=\"/ui/?q={}\">First page</a> ",
            QueryValue(page.query)
        )?;
    }
    if let (true, Some(last)) = (page.more, page.guns.last()) {
        write!(
            out,
            "<a rel=\"next\" href=\"/ui/?q={}&amp;after={}\">Next page</a>",
            QueryValue(page.query),
            QueryValue(last)
        )?;
    }
    out.write_str("</nav>")?;
    close_page(&mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_link_carries_the_search_and_the_last_gun() {
        let guns = vec!["a/1".to_owned(), "a/<2>".to_owned()];
        let html = render(&ListPage {
            query: "a&b",
            continued: true,
            guns: &guns,
            more: true,
            earliest: &BTreeMap::from([("a/1".to_owned(), 0)]),
            now: Utc::now(),
        })
        .unwrap();
        assert!(
            html.contains("href=\"/ui/?q=a%26b&amp;after=a%2F%3C2%3E\""),
            "{html}"
        );
        assert!(html.contains("value=\"a&amp;b\""), "{html}");
        assert!(html.contains(">a/&lt;2&gt;</a>"), "{html}");
        assert!(html.contains("href=\"/ui/r/a/%3C2%3E\""), "{html}");
        assert!(!html.contains("<2>"), "{html}");
        assert!(
            html.contains("<span class=\"next-expiry expiry-expired\">first expiry: <time datetime=\"1970-01-01T00:00:00Z\">"),
            "{html}"
        );
    }
}
