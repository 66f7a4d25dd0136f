//! The multipart upload of a publish: written exactly as the Go notary client writes it (one
//! part per file, field `files`, filename = role name, type `application/octet-stream`), and
//! read as the Go server's `Request.MultipartReader` reads it, without ever panicking on bad
//! input.
//!
//! ```text
//! --<boundary>\r\n
//! Content-Disposition: form-data; name="files"; filename="<role>"\r\n
//! Content-Type: application/octet-stream\r\n
//! \r\n
//! <bytes>\r\n
//! --<boundary>\r\n
//! …
//! <bytes>\r\n
//! --<boundary>--\r\n
//! ```

use std::collections::HashMap;

use bytes::Bytes;

pub use crate::error::MalformedMultipart;

/// A media type and its parameters, as Go's `mime.ParseMediaType` returns them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaType {
    /// The lowercased media type, e.g. `multipart/form-data` or `form-data`.
    pub essence: String,
    /// Parameters with lowercased names.
    pub params: HashMap<String, String>,
}

/// Parses a header value such as `multipart/form-data; boundary=x` or
/// `form-data; name="files"; filename="root"`. `None` when Go would report an error.
pub fn parse_media_type(value: &str) -> Option<MediaType> {
    let (head, mut rest) = match value.find(';') {
        Some(i) => (&value[..i], &value[i..]),
        None => (value, ""),
    };
    let essence = head.trim().to_ascii_lowercase();
    if !valid_media_type(&essence) {
        return None;
    }
    let mut params = HashMap::new();
    let mut ext: HashMap<String, String> = HashMap::new();
    loop {
        rest = rest.trim_start();
        if rest.is_empty() {
            break;
        }
        match consume_param(rest) {
            Some((key, val, after)) => {
                let map = if key.ends_with('*') {
                    &mut ext
                } else {
                    &mut params
                };
                if map.insert(key, val).is_some() {
                    return None;
                }
                rest = after;
            }
            None => {
                if rest.trim() == ";" {
                    break;
                }
                return None;
            }
        }
    }
    // RFC 2231 extended values (`filename*=UTF-8''r%6Fot`) win over plain ones.
    for (key, val) in ext {
        let base = key.trim_end_matches('*').to_owned();
        if let Some(decoded) = decode_ext_value(&val) {
            params.insert(base, decoded);
        }
    }
    Some(MediaType { essence, params })
}

fn valid_media_type(t: &str) -> bool {
    match t.split_once('/') {
        Some((a, b)) => is_token(a) && is_token(b),
        None => is_token(t),
    }
}

fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_token_char)
}

fn is_token_char(b: u8) -> bool {
    b > 0x20 && b < 0x7f && !b"()<>@,;:\\\"/[]?=".contains(&b)
}

/// `; key=value` → (lowercased key, value, rest).
fn consume_param(v: &str) -> Option<(String, String, &str)> {
    let rest = v.strip_prefix(';')?.trim_start();
    let key_len = rest.bytes().take_while(|b| is_token_char(*b)).count();
    if key_len == 0 {
        return None;
    }
    let key = rest[..key_len].to_ascii_lowercase();
    let rest = rest[key_len..].trim_start().strip_prefix('=')?.trim_start();
    let (value, rest) = consume_value(rest)?;
    Some((key, value, rest))
}

fn consume_value(v: &str) -> Option<(String, &str)> {
    if let Some(quoted) = v.strip_prefix('"') {
        let mut out = String::new();
        let mut chars = quoted.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => return Some((out, &quoted[i + 1..])),
                '\\' => {
                    let (_, next) = chars.next()?;
                    out.push(next);
                }
                '\r' | '\n' => return None,
                c => out.push(c),
            }
        }
        None
    } else {
        let len = v.bytes().take_while(|b| is_token_char(*b)).count();
        if len == 0 {
            return None;
        }
        Some((v[..len].to_owned(), &v[len..]))
    }
}

/// `charset'lang'percent-encoded` with a UTF-8 or US-ASCII charset.
fn decode_ext_value(v: &str) -> Option<String> {
    let mut it = v.splitn(3, '\'');
    let charset = it.next()?.to_ascii_lowercase();
    let _lang = it.next()?;
    let encoded = it.next()?;
    if charset != "utf-8" && charset != "us-ascii" {
        return None;
    }
    super::gun::percent_decode(encoded)
}

/// One part of an upload.
#[derive(Debug, Clone)]
pub struct Part {
    /// The `Content-Disposition` header value, if present.
    pub content_disposition: Option<String>,
    /// The raw content of the part.
    pub data: Bytes,
}

impl Part {
    /// The role this part uploads, as the Go server derives it: the `filename` parameter of
    /// `Content-Disposition` with one `.json` suffix removed. `None` when the header is
    /// missing or unreadable, or the name is empty.
    pub fn role_name(&self) -> Option<String> {
        let cd = parse_media_type(self.content_disposition.as_deref()?)?;
        let filename = cd.params.get("filename")?;
        let role = filename.strip_suffix(".json").unwrap_or(filename);
        (!role.is_empty()).then(|| role.to_owned())
    }
}

/// Reads parts one at a time from a complete body.
#[derive(Debug)]
pub struct MultipartReader {
    body: Bytes,
    dash_boundary: Vec<u8>,
    /// `\r\n` or `\n`, as the first boundary line used.
    nl: &'static [u8],
    pos: usize,
    started: bool,
    done: bool,
}

impl MultipartReader {
    /// Checks the request's `Content-Type` (must be `multipart/form-data` or
    /// `multipart/mixed` with a boundary) and prepares to read `body`.
    pub fn new(content_type: Option<&str>, body: Bytes) -> Result<Self, MalformedMultipart> {
        let ct = content_type
            .ok_or_else(|| MalformedMultipart("no Content-Type".into()))
            .and_then(|v| {
                parse_media_type(v).ok_or_else(|| MalformedMultipart("bad Content-Type".into()))
            })?;
        if ct.essence != "multipart/form-data" && ct.essence != "multipart/mixed" {
            return Err(MalformedMultipart(format!(
                "Content-Type {} is not multipart/form-data or multipart/mixed",
                ct.essence
            )));
        }
        let boundary = ct
            .params
            .get("boundary")
            .filter(|b| !b.is_empty())
            .ok_or_else(|| MalformedMultipart("no multipart boundary".into()))?;
        let mut dash_boundary = b"--".to_vec();
        dash_boundary.extend_from_slice(boundary.as_bytes());
        Ok(Self {
            body,
            dash_boundary,
            nl: b"\r\n",
            pos: 0,
            started: false,
            done: false,
        })
    }

    /// The next part, `Ok(None)` after the closing boundary.
    pub fn next_part(&mut self) -> Result<Option<Part>, MalformedMultipart> {
        if self.done {
            return Ok(None);
        }
        if !self.started {
            self.started = true;
            if !self.skip_preamble()? {
                self.done = true;
                return Ok(None);
            }
        }
        let headers = self.read_headers()?;
        let content_start = self.pos;
        let (content_end, is_final, next_pos) = self.find_delimiter(content_start)?;
        let data = self.body.slice(content_start..content_end);
        self.pos = next_pos;
        if is_final {
            self.done = true;
        }
        let content_disposition = headers
            .into_iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("content-disposition"))
            .map(|(_, v)| v);
        Ok(Some(Part {
            content_disposition,
            data,
        }))
    }

    /// Reads one line starting at `self.pos`; returns it without its line ending, and whether
    /// a line ending was present. Advances past the line.
    fn read_line(&mut self) -> Option<(&[u8], &'static [u8])> {
        let rest = self.body.get(self.pos..)?;
        if rest.is_empty() {
            return None;
        }
        match rest.iter().position(|b| *b == b'\n') {
            Some(i) => {
                self.pos += i + 1;
                let line = &rest[..i];
                match line.strip_suffix(b"\r") {
                    Some(l) => Some((l, b"\r\n")),
                    None => Some((line, b"\n")),
                }
            }
            None => {
                self.pos += rest.len();
                Some((rest, b""))
            }
        }
    }

    /// Skips lines up to the first boundary. `Ok(true)` when a part follows, `Ok(false)` for
    /// a final boundary (an upload with no parts).
    fn skip_preamble(&mut self) -> Result<bool, MalformedMultipart> {
        let dash = self.dash_boundary.clone();
        loop {
            let Some((line, ending)) = self.read_line() else {
                return Err(MalformedMultipart("no multipart boundary in body".into()));
            };
            if let Some(after) = line.strip_prefix(dash.as_slice()) {
                if let Some(tail) = after.strip_prefix(b"--") {
                    if is_lwsp(tail) {
                        return Ok(false);
                    }
                } else if is_lwsp(after) && !ending.is_empty() {
                    self.nl = ending;
                    return Ok(true);
                }
            }
        }
    }

    fn read_headers(&mut self) -> Result<Vec<(String, String)>, MalformedMultipart> {
        let mut headers: Vec<(String, String)> = Vec::new();
        loop {
            let Some((line, ending)) = self.read_line() else {
                return Err(MalformedMultipart("part headers not terminated".into()));
            };
            if ending.is_empty() {
                return Err(MalformedMultipart("part headers not terminated".into()));
            }
            if line.is_empty() {
                return Ok(headers);
            }
            let text = std::str::from_utf8(line)
                .map_err(|_| MalformedMultipart("part header is not UTF-8".into()))?;
            if text.starts_with([' ', '\t']) {
                let last = headers
                    .last_mut()
                    .ok_or_else(|| MalformedMultipart("malformed part header".into()))?;
                last.1.push(' ');
                last.1.push_str(text.trim());
                continue;
            }
            let (name, value) = text
                .split_once(':')
                .ok_or_else(|| MalformedMultipart("malformed part header".into()))?;
            if name.is_empty() || !name.bytes().all(is_token_char) {
                return Err(MalformedMultipart("malformed part header".into()));
            }
            headers.push((name.to_owned(), value.trim().to_owned()));
        }
    }

    /// Finds the delimiter ending the content that starts at `from`: returns the content end,
    /// whether the delimiter is the final one, and where the next part's headers start.
    fn find_delimiter(&self, from: usize) -> Result<(usize, bool, usize), MalformedMultipart> {
        let mut needle = self.nl.to_vec();
        needle.extend_from_slice(&self.dash_boundary);
        let body = &self.body[..];
        let mut search = from;
        while let Some(rel) = find(&body[search..], &needle) {
            let at = search + rel;
            let after = at + needle.len();
            let rest = &body[after..];
            if let Some(tail) = rest.strip_prefix(b"--") {
                // Final boundary: the rest of its line must be blank (or the body ends).
                let line_end = tail.iter().position(|b| *b == b'\n');
                let line = match line_end {
                    Some(i) => &tail[..i],
                    None => tail,
                };
                let line = line.strip_suffix(b"\r").unwrap_or(line);
                if is_lwsp(line) {
                    return Ok((at, true, body.len()));
                }
            } else {
                let line_end = rest.iter().position(|b| *b == b'\n');
                if let Some(i) = line_end {
                    let line = &rest[..i];
                    let line = line.strip_suffix(b"\r").unwrap_or(line);
                    if is_lwsp(line) {
                        return Ok((at, false, after + i + 1));
                    }
                }
            }
            search = at + 1;
        }
        Err(MalformedMultipart(
            "part content not terminated by a boundary".into(),
        ))
    }
}

fn is_lwsp(s: &[u8]) -> bool {
    s.iter().all(|b| *b == b' ' || *b == b'\t')
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || hay.len() < needle.len() {
        return None;
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

/// A multipart/form-data body and its boundary.
pub struct MultipartBody {
    /// The boundary, without the leading `--`.
    pub boundary: String,
    /// The whole body.
    pub body: Vec<u8>,
}

impl MultipartBody {
    /// The `Content-Type` header value.
    pub fn content_type(&self) -> String {
        format!("multipart/form-data; boundary={}", self.boundary)
    }
}

/// Go's `escapeQuotes` for header parameters.
fn escape_quotes(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// Builds the body for `files` (role name, bytes), in the given order, as the Go notary client
/// writes it.
pub fn build(boundary: &str, files: &[(String, Vec<u8>)]) -> MultipartBody {
    let size: usize = files.iter().map(|(r, b)| b.len() + r.len() + 160).sum();
    let mut body = Vec::with_capacity(size + 2 * boundary.len() + 16);
    for (i, (role, bytes)) in files.iter().enumerate() {
        if i > 0 {
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(b"--");
        body.extend_from_slice(boundary.as_bytes());
        body.extend_from_slice(b"\r\n");
        body.extend_from_slice(
            format!(
                "Content-Disposition: form-data; name=\"files\"; filename=\"{}\"\r\n",
                escape_quotes(role)
            )
            .as_bytes(),
        );
        body.extend_from_slice(b"Content-Type: application/octet-stream\r\n\r\n");
        body.extend_from_slice(bytes);
    }
    if !files.is_empty() {
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(b"--");
    body.extend_from_slice(boundary.as_bytes());
    body.extend_from_slice(b"--\r\n");
    MultipartBody {
        boundary: boundary.to_owned(),
        body,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(ct: &str, body: &str) -> Result<Vec<(Option<String>, String)>, MalformedMultipart> {
        let mut r = MultipartReader::new(Some(ct), Bytes::from(body.to_owned()))?;
        let mut out = Vec::new();
        while let Some(p) = r.next_part()? {
            out.push((p.role_name(), String::from_utf8_lossy(&p.data).into_owned()));
        }
        Ok(out)
    }

    #[test]
    fn go_client_body() {
        let body = "--xyz\r\nContent-Disposition: form-data; name=\"files\"; filename=\"root\"\r\n\
                    Content-Type: application/octet-stream\r\n\r\n{\"a\":1}\r\n\
                    --xyz\r\nContent-Disposition: form-data; name=\"files\"; filename=\"targets/rel.json\"\r\n\
                    \r\n{}\r\n--xyz--\r\n";
        let got = parts("multipart/form-data; boundary=xyz", body).unwrap();
        assert_eq!(
            got,
            vec![
                (Some("root".into()), "{\"a\":1}".into()),
                (Some("targets/rel".into()), "{}".into())
            ]
        );
    }

    #[test]
    fn preamble_lf_endings_and_mixed() {
        let body = "junk\n--b\nContent-Disposition: attachment; filename=snapshot\n\nabc\n--b--";
        let got = parts("multipart/mixed; boundary=\"b\"", body).unwrap();
        assert_eq!(got, vec![(Some("snapshot".into()), "abc".into())]);
    }

    #[test]
    fn boundary_like_content_is_kept() {
        let body = "--b\r\nContent-Disposition: form-data; filename=root\r\n\r\nx\r\n--bb\r\n\r\n--b--\r\n";
        let got = parts("multipart/form-data; boundary=b", body).unwrap();
        assert_eq!(got[0].1, "x\r\n--bb\r\n");
    }

    #[test]
    fn empty_upload_has_no_parts() {
        assert!(
            parts("multipart/form-data; boundary=abc", "--abc--\r\n")
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn malformed_bodies_are_errors() {
        let ct = "multipart/form-data; boundary=b";
        for body in [
            "",
            "no boundary here",
            "--b\r\nContent-Disposition: form-data; filename=root\r\n",
            "--b\r\nContent-Disposition: form-data; filename=root\r\n\r\nnever ends",
            "--b\r\nbroken header line\r\n\r\nx\r\n--b--",
        ] {
            assert!(parts(ct, body).is_err(), "{body:?}");
        }
        for ct in [
            "application/json",
            "multipart/form-data",
            "multipart/form-data; boundary=",
            "text/plain; boundary=b",
        ] {
            assert!(
                MultipartReader::new(Some(ct), Bytes::new()).is_err(),
                "{ct}"
            );
        }
        assert!(MultipartReader::new(None, Bytes::new()).is_err());
    }

    #[test]
    fn filenames() {
        let p = |cd: Option<&str>| Part {
            content_disposition: cd.map(str::to_owned),
            data: Bytes::new(),
        };
        assert_eq!(p(None).role_name(), None);
        assert_eq!(p(Some("form-data; name=files")).role_name(), None);
        assert_eq!(p(Some("form-data; filename=\"\"")).role_name(), None);
        assert_eq!(p(Some("form-data; filename=\".json\"")).role_name(), None);
        assert_eq!(p(Some("form-data; filename=\"a;b")).role_name(), None);
        assert_eq!(
            p(Some("form-data; filename=targets.json.json")).role_name(),
            Some("targets.json".into())
        );
        assert_eq!(
            p(Some("form-data; filename*=UTF-8''r%6Fot")).role_name(),
            Some("root".into())
        );
        assert_eq!(
            p(Some("form-data; FILENAME=\"../targets\";")).role_name(),
            Some("../targets".into())
        );
    }

    #[test]
    fn matches_go_writer_output() {
        let files = vec![
            ("root".to_owned(), b"{\"r\":1}".to_vec()),
            ("targets/releases".to_owned(), b"T".to_vec()),
        ];
        let body = build("abc", &files);
        assert_eq!(body.content_type(), "multipart/form-data; boundary=abc");
        assert_eq!(
            String::from_utf8(body.body).unwrap(),
            "--abc\r\n\
             Content-Disposition: form-data; name=\"files\"; filename=\"root\"\r\n\
             Content-Type: application/octet-stream\r\n\
             \r\n\
             {\"r\":1}\r\n\
             --abc\r\n\
             Content-Disposition: form-data; name=\"files\"; filename=\"targets/releases\"\r\n\
             Content-Type: application/octet-stream\r\n\
             \r\n\
             T\r\n\
             --abc--\r\n"
        );
    }

    #[test]
    fn empty_upload_and_quotes() {
        assert_eq!(build("b", &[]).body, b"--b--\r\n");
        assert_eq!(escape_quotes(r#"a"b\c"#), r#"a\"b\\c"#);
    }
}
