//! Tag patterns: `v{version}` for the umbrella and core's group, `{name}-v{version}` (or a
//! package's own, `store=={version}`, a bare `{version}`) for a package released on its own.
//! Pure: the tags come from `git::merged_tags`.

use crate::version::Version;

/// The tag of `version` for the package or group called `name`.
pub fn render(pattern: &str, name: &str, version: &Version) -> String {
    pattern.replace("{name}", name).replace("{version}", &version.to_string())
}

/// The version `tag` stands for under `pattern`, when it matches.
pub fn version_of(pattern: &str, name: &str, tag: &str) -> Option<Version> {
    let pattern = pattern.replace("{name}", name);
    let (prefix, suffix) = pattern.split_once("{version}")?;
    let middle = tag.strip_prefix(prefix)?.strip_suffix(suffix)?;
    // A bare `{version}` must not take `store==4.2.0` or `v1`; a version starts with a digit.
    if !middle.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    middle.parse().ok()
}

/// The last release under `pattern` among `tags` (those reachable from HEAD): the highest
/// version, not the newest tag, so a backport's tag never hides the main line's.
pub fn last_release(pattern: &str, name: &str, tags: &[String]) -> Option<(String, Version)> {
    tags.iter().filter_map(|t| version_of(pattern, name, t).map(|v| (t.clone(), v))).max_by(|a, b| a.1.cmp(&b.1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_their_own_tags_only() {
        let tags: Vec<String> =
            ["1.2.11", "1.10.0", "store==4.2.0", "store==4.10.1", "client-v0.4.3", "v0.14.0", "1.3.0rc1", "vnext"]
                .map(String::from)
                .to_vec();
        let last = |pattern: &str, name: &str| last_release(pattern, name, &tags).map(|(t, _)| t);
        assert_eq!(last("{version}", "main").as_deref(), Some("1.10.0"));
        assert_eq!(last("store=={version}", "store").as_deref(), Some("store==4.10.1"));
        assert_eq!(last("{name}-v{version}", "client").as_deref(), Some("client-v0.4.3"));
        assert_eq!(last("{name}-v{version}", "store"), None);
        assert_eq!(last("v{version}", "x").as_deref(), Some("v0.14.0"));
        assert_eq!(render("{name}@{version}", "a-b", &"2.0.0".parse().unwrap()), "a-b@2.0.0");
    }
}
