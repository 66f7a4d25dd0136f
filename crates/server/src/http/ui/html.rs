//! The few HTML helpers of the web view: escaping of every value that goes into a page,
//! encoding of links, and the frame of a page.

use std::fmt::{self, Display, Write as _};

/// Text escaped for HTML element content and quoted attribute values.
pub(crate) struct Esc<'a>(pub(crate) &'a str);

impl Display for Esc<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        while let Some(i) = rest.find(['&', '<', '>', '"', '\'']) {
            f.write_str(&rest[..i])?;
            let c = rest[i..].chars().next().unwrap_or('&');
            f.write_str(match c {
                '&' => "&amp;",
                '<' => "&lt;",
                '>' => "&gt;",
                '"' => "&quot;",
                _ => "&#39;",
            })?;
            rest = &rest[i + c.len_utf8()..];
        }
        f.write_str(rest)
    }
}

/// A value percent-encoded for a query string: everything but the unreserved characters.
pub(crate) struct QueryValue<'a>(pub(crate) &'a str);

impl Display for QueryValue<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0.bytes() {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                f.write_char(char::from(b))?;
            } else {
                write!(f, "%{b:02X}")?;
            }
        }
        Ok(())
    }
}

/// The link to the page of repository `gun`.
pub(crate) fn repository_link(gun: &str) -> String {
    format!("/ui/r/{}", crate::http::route::percent_encode_path(gun))
}

/// Opens a page: the document head (with the style sheet) and the page header.
pub(crate) fn open_page(out: &mut String, title: &str) -> fmt::Result {
    write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{} · signet trust</title>\
         <link rel=\"stylesheet\" href=\"/ui/style.css\"></head><body>\
         <header><a class=\"home\" href=\"/ui/\">signet trust</a>\
         <span class=\"note\">read-only view</span></header><main>",
        Esc(title)
    )
}

/// Closes a page opened with [`open_page`].
pub(crate) fn close_page(out: &mut String) -> fmt::Result {
    out.write_str("</main></body></html>\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            Esc("<script>alert(\"x\" & 'y')</script>é").to_string(),
            "&lt;script&gt;alert(&quot;x&quot; &amp; &#39;y&#39;)&lt;/script&gt;é"
        );
        assert_eq!(Esc("plain").to_string(), "plain");
    }

    #[test]
    fn encodes_query_values_and_links() {
        assert_eq!(
            QueryValue("a b&c=d/é").to_string(),
            "a%20b%26c%3Dd%2F%C3%A9"
        );
        assert_eq!(repository_link("docker.io/a:1"), "/ui/r/docker.io/a:1");
        assert_eq!(repository_link("<x> \"y\""), "/ui/r/%3Cx%3E%20%22y%22");
    }
}
