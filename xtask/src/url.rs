//! URLs the user gives (flags, `release.toml`): checked one way everywhere before anything is
//! sent, and printed without credentials.

/// Why `url` cannot be an index or upload URL, or `Ok` when it can: `http://` or `https://`, a
/// host, a numeric port if any, and no spaces. The value in the message is [`shown`].
pub fn check(url: &str) -> Result<(), String> {
    let bad = |why: &str| Err(format!("`{}` is not a URL: {why}", shown(url)));
    let Some(rest) = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://")) else {
        return bad("it must start with `http://` or `https://`");
    };
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return bad("it has a space or a control character");
    }
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let (host, port) = match host_port.rsplit_once(':') {
        Some((host, port)) if !host_port.ends_with(']') => (host, Some(port)),
        _ => (host_port, None),
    };
    if host.is_empty() {
        return bad("it has no host");
    }
    if port.is_some_and(|p| p.parse::<u16>().is_err()) {
        return bad("its port is not a number from 0 to 65535");
    }
    Ok(())
}

/// A URL without any `user:password@` part, for printing.
pub fn shown(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let host_end = rest.find('/').unwrap_or(rest.len());
            match rest[..host_end].rfind('@') {
                Some(at) => format!("{scheme}://[REDACTED]@{}", &rest[at + 1..]),
                None => url.to_string(),
            }
        }
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_and_bad_urls() {
        for good in ["http://127.0.0.1:8080", "https://u:p@host.example/legacy/", "http://[::1]:80/x", "https://h?x"] {
            assert_eq!(check(good), Ok(()), "{good}");
        }
        for (bad, why) in [
            ("ftp://host/", "it must start with `http://` or `https://`"),
            ("127.0.0.1:8080", "it must start with `http://` or `https://`"),
            ("http:///simple", "it has no host"),
            ("http://:8080/", "it has no host"),
            ("http://host:80x/", "its port is not a number from 0 to 65535"),
            ("http://ho st/", "it has a space or a control character"),
        ] {
            assert_eq!(check(bad), Err(format!("`{bad}` is not a URL: {why}")));
        }
        assert_eq!(
            check("ftp://u:secret@h/"),
            Err("`ftp://[REDACTED]@h/` is not a URL: it must start with `http://` or `https://`".into())
        );
    }
}
