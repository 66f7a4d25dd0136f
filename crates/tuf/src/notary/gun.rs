//! GUNs (Globally Unique Names, such as `docker.io/library/alpine`) as Notary stores and routes
//! them.
//!
//! The client's validated GUN type builds on these rules; the server applies them to request
//! paths and to its configured GUN prefixes.

/// Longest GUN accepted, in bytes (the `gun` column of Notary's database is `varchar(255)`).
pub const MAX_GUN_LEN: usize = 255;

/// Go's `path.Clean`: collapses `//`, removes `.` and resolves `..` lexically.
pub fn clean_path(p: &str) -> String {
    if p.is_empty() {
        return ".".to_owned();
    }
    let rooted = p.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for seg in p.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|l| *l != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            s => parts.push(s),
        }
    }
    let joined = parts.join("/");
    if rooted {
        format!("/{joined}")
    } else if joined.is_empty() {
        ".".to_owned()
    } else {
        joined
    }
}

/// Whether a GUN prefix from a configuration is well formed: it ends in `/`, does not start
/// with `/` or `..`, and is already in clean path form.
pub fn is_valid_gun_prefix(prefix: &str) -> bool {
    let Some(trimmed) = prefix.strip_suffix('/') else {
        return false;
    };
    if prefix.starts_with('/') || prefix.starts_with("..") {
        return false;
    }
    !trimmed.is_empty() && clean_path(trimmed) == trimmed
}

/// Decodes `%XX` escapes as Go's URL parser does (`+` stays `+`). `None` for a malformed
/// escape or a result that is not UTF-8.
pub fn percent_decode(raw: &str) -> Option<String> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hi = hex_val(*bytes.get(i + 1)?)?;
            let lo = hex_val(*bytes.get(i + 2)?)?;
            out.push(hi << 4 | lo);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_path_matches_go() {
        for (i, o) in [
            ("", "."),
            ("/", "/"),
            ("a/b/", "a/b"),
            ("/../a", "/a"),
            ("../a", "../a"),
            ("a/../..", ".."),
            ("//a//b", "/a/b"),
            ("a/./b/.", "a/b"),
        ] {
            assert_eq!(clean_path(i), o, "{i}");
        }
    }

    #[test]
    fn gun_prefix_rules() {
        assert!(is_valid_gun_prefix("docker.io/"));
        assert!(is_valid_gun_prefix("docker.io/library/"));
        assert!(!is_valid_gun_prefix("docker.io"));
        assert!(!is_valid_gun_prefix("/docker.io/"));
        assert!(!is_valid_gun_prefix("../x/"));
        assert!(!is_valid_gun_prefix("a//b/"));
        assert!(!is_valid_gun_prefix("a/./b/"));
    }
}
