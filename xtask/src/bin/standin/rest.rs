//! What clients create (releases, pull requests), kept in memory, and the REST release routes
//! `gh release view` and `gh release create` use. `GET /__state` shows what was created, so
//! tests assert on what GitHub would hold rather than on the requests that got it there.

use serde_json::{json, Value};

use crate::http::Response;

/// A release, as `POST /repos/{owner}/{repo}/releases` made it.
pub struct Release {
    pub id: u64,
    /// `owner/name`.
    pub repo: String,
    pub tag: String,
    pub target: String,
    pub title: String,
    pub body: String,
    pub draft: bool,
}

/// A pull request made by the `createPullRequest` mutation: open until something closes it,
/// which nothing here does.
pub struct Pull {
    pub number: u64,
    /// `owner/name`.
    pub repo: String,
    pub base: String,
    pub head: String,
    pub title: String,
    pub body: String,
}

#[derive(Default)]
pub struct Created {
    pub releases: Vec<Release>,
    pub pulls: Vec<Pull>,
}

impl Created {
    /// The release of `repo` for `tag`, as `GET …/releases/tags/{tag}` finds it.
    pub fn release(&self, repo: &str, tag: &str) -> Option<&Release> {
        self.releases.iter().find(|r| r.repo == repo && r.tag == tag)
    }

    /// `GET /__state`: everything created, in creation order.
    pub fn snapshot(&self) -> Value {
        let releases: Vec<Value> = self
            .releases
            .iter()
            .map(|r| json!({"repo": r.repo, "tag": r.tag, "target": r.target, "title": r.title, "body": r.body, "draft": r.draft}))
            .collect();
        let pulls: Vec<Value> = self
            .pulls
            .iter()
            .map(|p| json!({"repo": p.repo, "number": p.number, "base": p.base, "head": p.head, "title": p.title, "body": p.body}))
            .collect();
        json!({"releases": releases, "pulls": pulls})
    }
}

/// The REST shape of a release (the fields `gh`'s `shared.Release` reads).
pub fn release_json(r: &Release) -> Value {
    let api = format!("https://api.github.com/repos/{}/releases/{}", r.repo, r.id);
    json!({
        "id": r.id,
        "node_id": format!("RE_{}", r.id),
        "tag_name": r.tag,
        "target_commitish": r.target,
        "name": r.title,
        "body": r.body,
        "draft": r.draft,
        "prerelease": false,
        "created_at": "2026-01-21T00:00:00Z",
        "published_at": if r.draft { Value::Null } else { json!("2026-01-21T00:00:00Z") },
        "html_url": format!("https://github.com/{}/releases/tag/{}", r.repo, r.tag),
        "url": api,
        "upload_url": format!("https://uploads.github.com/repos/{}/releases/{}/assets{{?name,label}}", r.repo, r.id),
        "tarball_url": format!("https://api.github.com/repos/{}/tarball/{}", r.repo, r.tag),
        "zipball_url": format!("https://api.github.com/repos/{}/zipball/{}", r.repo, r.tag),
        "author": {"login": "octocat"},
        "assets": [],
    })
}

/// `/repos/{owner}/{repo}/releases…`: `None` for any other path, so the caller answers 404.
pub fn releases(created: &mut Created, method: &str, path: &str, body: &str) -> Option<Response> {
    let rest = path.strip_prefix("/repos/")?;
    let mut parts = rest.splitn(4, '/');
    let (owner, name, kind, tail) = (parts.next()?, parts.next()?, parts.next()?, parts.next());
    if kind != "releases" {
        return None;
    }
    let repo = format!("{owner}/{name}");
    let not_found =
        || Response::json(404, &json!({"message": "Not Found", "documentation_url": "https://docs.github.com/rest"}));
    Some(match (method, tail) {
        ("POST", None | Some("")) => create(created, repo, body),
        ("GET", Some(tail)) => {
            let found = match tail.strip_prefix("tags/") {
                Some(tag) => created.release(&repo, &percent_decode(tag)),
                None => tail
                    .parse::<u64>()
                    .ok()
                    .and_then(|id| created.releases.iter().find(|r| r.repo == repo && r.id == id)),
            };
            found.map_or_else(not_found, |r| Response::json(200, &release_json(r)))
        }
        _ => not_found(),
    })
}

fn create(created: &mut Created, repo: String, body: &str) -> Response {
    let input: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    let tag = input["tag_name"].as_str().unwrap_or("").to_string();
    // GitHub's answers to a missing or taken tag name: 422 with the field named.
    let invalid = |code: &str| {
        let error = json!({"resource": "Release", "code": code, "field": "tag_name"});
        Response::json(
            422,
            &json!({
                "message": "Validation Failed",
                "errors": [error],
                "documentation_url": "https://docs.github.com/rest/releases/releases#create-a-release",
            }),
        )
    };
    if tag.is_empty() {
        return invalid("missing_field");
    }
    if created.release(&repo, &tag).is_some() {
        return invalid("already_exists");
    }
    let release = Release {
        id: 1000 + created.releases.len() as u64 + 1,
        repo,
        tag,
        // GitHub's default target is the default branch.
        target: input["target_commitish"].as_str().filter(|t| !t.is_empty()).unwrap_or("main").to_string(),
        title: input["name"].as_str().unwrap_or("").to_string(),
        body: input["body"].as_str().unwrap_or("").to_string(),
        draft: input["draft"].as_bool().unwrap_or(false),
    };
    let answer = release_json(&release);
    created.releases.push(release);
    Response::json(201, &answer)
}

/// `gh` escapes the tag as a path segment (`a/v1` is `a%2Fv1`).
fn percent_decode(segment: &str) -> String {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn releases_are_created_once_and_found_by_tag_or_id() {
        let mut created = Created::default();
        let body = r#"{"tag_name":"a/v1","target_commitish":"abc","name":"T","body":"B","draft":false}"#;
        let made = releases(&mut created, "POST", "/repos/o/r/releases", body).unwrap();
        assert_eq!(made.status, 201);
        let again = releases(&mut created, "POST", "/repos/o/r/releases", body).unwrap();
        assert_eq!((again.status, again.body.contains("already_exists")), (422, true));
        let by_tag = releases(&mut created, "GET", "/repos/o/r/releases/tags/a%2Fv1", "").unwrap();
        let v: Value = serde_json::from_str(&by_tag.body).unwrap();
        assert_eq!(
            (v["target_commitish"].as_str(), v["html_url"].as_str()),
            (Some("abc"), Some("https://github.com/o/r/releases/tag/a/v1"))
        );
        assert_eq!(releases(&mut created, "GET", &format!("/repos/o/r/releases/{}", v["id"]), "").unwrap().status, 200);
        assert_eq!(releases(&mut created, "GET", "/repos/o/other/releases/tags/a%2Fv1", "").unwrap().status, 404);
        assert!(releases(&mut created, "GET", "/repos/o/r/pulls", "").is_none());
    }
}
