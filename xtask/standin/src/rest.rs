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
    pub assets: Vec<Asset>,
}

/// A file attached to a release by an upload to its `upload_url`.
pub struct Asset {
    pub id: u64,
    pub name: String,
    pub label: String,
    pub size: usize,
    pub content_type: String,
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
            .map(|r| {
                let assets: Vec<Value> = r.assets.iter().map(|a| json!({"name": a.name, "size": a.size})).collect();
                json!({"repo": r.repo, "tag": r.tag, "target": r.target, "title": r.title, "body": r.body, "draft": r.draft, "assets": assets})
            })
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
        // github.com's uploads host under the stand-in's name; `gh` posts assets to whatever
        // this says (GitHub Enterprise Server says `https://HOST/api/uploads/…`, also served).
        "upload_url": format!("http://uploads.github.localhost/repos/{}/releases/{}/assets{{?name,label}}", r.repo, r.id),
        "tarball_url": format!("https://api.github.com/repos/{}/tarball/{}", r.repo, r.tag),
        "zipball_url": format!("https://api.github.com/repos/{}/zipball/{}", r.repo, r.tag),
        "author": {"login": "octocat"},
        "assets": r.assets.iter().map(|a| asset_json(r, a)).collect::<Vec<_>>(),
    })
}

/// The REST shape of an asset (the fields `gh`'s `shared.ReleaseAsset` reads).
fn asset_json(r: &Release, a: &Asset) -> Value {
    json!({
        "id": a.id,
        "node_id": format!("RA_{}", a.id),
        "name": a.name,
        "label": a.label,
        "state": "uploaded",
        "content_type": a.content_type,
        "size": a.size,
        "download_count": 0,
        "created_at": "2026-01-21T00:00:00Z",
        "updated_at": "2026-01-21T00:00:00Z",
        "url": format!("https://api.github.com/repos/{}/releases/assets/{}", r.repo, a.id),
        "browser_download_url": format!("https://github.com/{}/releases/download/{}/{}", r.repo, r.tag, a.name),
    })
}

/// `/repos/{owner}/{repo}/releases…`: `None` for any other path, so the caller answers 404.
pub fn releases(created: &mut Created, method: &str, path: &str, request: &crate::http::Request) -> Option<Response> {
    let body = request.body.as_str();
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
        ("POST", Some(tail)) if tail.ends_with("/assets") => {
            let id = tail.trim_end_matches("/assets").parse::<u64>().ok();
            match created.releases.iter_mut().find(|r| r.repo == repo && Some(r.id) == id) {
                Some(release) => upload(release, request),
                None => not_found(),
            }
        }
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

/// `POST {upload_url}?name=N&label=L` with the file as the body.
fn upload(release: &mut Release, request: &crate::http::Request) -> Response {
    let param = |key: &str| {
        request
            .query
            .split('&')
            .find_map(|kv| kv.strip_prefix(&format!("{key}=")))
            .map(percent_decode)
            .unwrap_or_default()
    };
    let name = param("name");
    if name.is_empty() || release.assets.iter().any(|a| a.name == name) {
        let code = if name.is_empty() { "missing_field" } else { "already_exists" };
        let error = json!({"resource": "ReleaseAsset", "code": code, "field": "name"});
        return Response::json(422, &json!({"message": "Validation Failed", "errors": [error]}));
    }
    let asset = Asset {
        id: release.id * 100 + release.assets.len() as u64 + 1,
        name,
        label: param("label"),
        size: request.body_len,
        content_type: request.header("content-type").unwrap_or("application/octet-stream").to_string(),
    };
    let answer = asset_json(release, &asset);
    release.assets.push(asset);
    Response::json(201, &answer)
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
        assets: Vec::new(),
    };
    let answer = release_json(&release);
    created.releases.push(release);
    Response::json(201, &answer)
}

/// `gh` escapes the tag as a path segment (`a/v1` is `a%2Fv1`).
pub fn percent_decode(segment: &str) -> String {
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

    fn req(body: &str) -> crate::http::Request {
        crate::http::Request {
            method: String::new(),
            path: String::new(),
            query: String::new(),
            headers: Vec::new(),
            body: body.to_string(),
            body_len: body.len(),
        }
    }

    #[test]
    fn releases_are_created_once_and_found_by_tag_or_id() {
        let mut created = Created::default();
        let body = r#"{"tag_name":"a/v1","target_commitish":"abc","name":"T","body":"B","draft":false}"#;
        let made = releases(&mut created, "POST", "/repos/o/r/releases", &req(body)).unwrap();
        assert_eq!(made.status, 201);
        let again = releases(&mut created, "POST", "/repos/o/r/releases", &req(body)).unwrap();
        assert_eq!((again.status, again.body.contains("already_exists")), (422, true));
        let by_tag = releases(&mut created, "GET", "/repos/o/r/releases/tags/a%2Fv1", &req("")).unwrap();
        let v: Value = serde_json::from_str(&by_tag.body).unwrap();
        assert_eq!(
            (v["target_commitish"].as_str(), v["html_url"].as_str()),
            (Some("abc"), Some("https://github.com/o/r/releases/tag/a/v1"))
        );
        assert_eq!(
            releases(&mut created, "GET", &format!("/repos/o/r/releases/{}", v["id"]), &req("")).unwrap().status,
            200
        );
        assert_eq!(releases(&mut created, "GET", "/repos/o/other/releases/tags/a%2Fv1", &req("")).unwrap().status, 404);
        assert!(releases(&mut created, "GET", "/repos/o/r/pulls", &req("")).is_none());
        // Assets: uploaded once by name, then listed with their size.
        let mut file = req("\u{1f}\u{8b}binary");
        file.query = "name=llama_index-0.14.13.tar.gz&label=".into();
        let path = format!("/repos/o/r/releases/{}/assets", v["id"]);
        assert_eq!(releases(&mut created, "POST", &path, &file).unwrap().status, 201);
        assert_eq!(releases(&mut created, "POST", &path, &file).unwrap().status, 422);
        let v: Value = serde_json::from_str(
            &releases(&mut created, "GET", "/repos/o/r/releases/tags/a%2Fv1", &req("")).unwrap().body,
        )
        .unwrap();
        assert_eq!(
            (v["assets"][0]["name"].as_str(), v["assets"][0]["size"].as_u64()),
            (Some("llama_index-0.14.13.tar.gz"), Some(file.body_len as u64))
        );
    }
}
