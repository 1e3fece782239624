//! GitHub's GraphQL endpoint, for the queries the tools send: `pullRequest(number:)` lookups
//! inside `repository(owner:, name:)`, aliased (the xtask's batches) or with a variable
//! (`gh pr view`); the repository itself and `pullRequests(headRefName:…)` (`gh pr create`,
//! `gh pr list`); `release(tagName:)` (`gh release view`'s draft lookup); and the
//! `createPullRequest` mutation. Answers are built with every field any of them asks for, then
//! trimmed to the field names the query mentions ([`select`]): `gh`'s struct-decoded queries
//! (`RepositoryReleaseByTag`) fail on a field they did not ask for.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use crate::{rest, State};

/// The calls of `field` in a query: (response key, argument text between the parentheses).
fn calls<'q>(query: &'q str, field: &str) -> Vec<(String, &'q str)> {
    let open = format!("{field}(");
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(at) = query[from..].find(&open) {
        let start = from + at;
        let args_start = start + open.len();
        let args_end = query[args_start..].find(')').map_or(query.len(), |i| args_start + i);
        from = args_end;
        // `release(` inside `prerelease(` or `createRelease(` is another field.
        if query[..start].chars().next_back().is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        // An alias is `name:` right before the field.
        let before = query[..start].trim_end();
        let key = before
            .strip_suffix(':')
            .map(|b| b.trim_end())
            .and_then(|b| b.rsplit(|c: char| !(c.is_alphanumeric() || c == '_')).next())
            .filter(|a| !a.is_empty())
            .unwrap_or(field)
            .to_string();
        out.push((key, &query[args_start..args_end]));
    }
    out
}

/// The value of argument `name` in `args`: a `$variable`, a number, or a string literal.
fn argument(args: &str, name: &str, variables: &Value) -> Value {
    let Some(at) = args.match_indices(&format!("{name}:")).map(|(i, _)| i).find(|&i| {
        // `name:` as a whole word: `headRefName:` is not `RefName:`.
        args[..i].chars().next_back().is_none_or(|c| !(c.is_alphanumeric() || c == '_'))
    }) else {
        return Value::Null;
    };
    let value = args[at + name.len() + 1..].trim_start();
    let end = value.find([',', ')', '\n', '\t']).unwrap_or(value.len());
    let value = value[..end].trim();
    match value.strip_prefix('$') {
        Some(var) => variables[var].clone(),
        None => value.parse::<u64>().map(Value::from).unwrap_or_else(|_| Value::from(value.trim_matches('"'))),
    }
}

/// The names in `query` outside parentheses: its fields, aliases and fragment names, without
/// argument names (`repository(owner:, name:)` asks for no `name`) or variable declarations.
fn selected(query: &str) -> BTreeSet<&str> {
    let mut depth = 0usize;
    let outside: String = query
        .chars()
        .map(|c| {
            match c {
                '(' => depth += 1,
                ')' => depth = depth.saturating_sub(1),
                _ => {}
            }
            if depth == 0 && (c.is_alphanumeric() || c == '_') {
                c
            } else {
                ' '
            }
        })
        .collect();
    let words: BTreeSet<String> = outside.split_whitespace().map(str::to_string).collect();
    query.split(|c: char| !(c.is_alphanumeric() || c == '_')).filter(|w| words.contains(*w)).collect()
}

/// Drops every object key, at any depth, that the query does not name.
fn select(value: &mut Value, names: &BTreeSet<&str>) {
    match value {
        Value::Object(map) => {
            map.retain(|k, _| names.contains(k.as_str()));
            map.values_mut().for_each(|v| select(v, names));
        }
        Value::Array(items) => items.iter_mut().for_each(|v| select(v, names)),
        _ => {}
    }
}

/// The `pullRequest(number: …)` lookups of a query: (response key, number).
pub fn lookups(query: &str, variables: &Value) -> Vec<(String, Option<u64>)> {
    calls(query, "pullRequest")
        .into_iter()
        .map(|(key, args)| {
            let number = argument(args, "number", variables);
            (key, number.as_u64().or_else(|| number.as_str().and_then(|s| s.parse().ok())))
        })
        .collect()
}

/// The node id the stand-in gives `owner/name`; `createPullRequest` reads the repository back
/// from it, as GitHub resolves its opaque ids.
fn repository_id(repo: &str) -> String {
    format!("R_{repo}")
}

/// The answer to one GraphQL request, as GitHub would give it.
pub fn answer(state: &State, body: &str) -> (u16, Value) {
    let request: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    let query = request["query"].as_str().unwrap_or("");
    let variables = &request["variables"];
    let names = selected(query);
    if !calls(query, "createPullRequest").is_empty() {
        let mut out = create_pull(state, &variables["input"]);
        select(&mut out["data"], &names);
        return (200, out);
    }
    let (owner, name) = (
        variables["owner"].as_str().unwrap_or("o"),
        variables["name"].as_str().or(variables["repo"].as_str()).unwrap_or("r"),
    );
    let repo = format!("{owner}/{name}");
    // What `gh`'s `RepositoryInfo` and `PullRequestForBranch` read about the repository.
    let mut data = json!({
        "id": repository_id(&repo),
        "name": name,
        "nameWithOwner": repo,
        "owner": {"id": format!("U_{owner}"), "login": owner},
        "url": format!("https://github.com/{repo}"),
        "description": "",
        "hasIssuesEnabled": true,
        "hasWikiEnabled": false,
        "isPrivate": false,
        "viewerPermission": "ADMIN",
        "defaultBranchRef": {"name": "main"},
        "parent": null,
        "mergeCommitAllowed": true,
        "rebaseMergeAllowed": true,
        "squashMergeAllowed": true,
    });
    let data = data.as_object_mut().expect("an object");
    let mut errors = Vec::new();
    for (key, number) in lookups(query, variables) {
        let found = number.and_then(|n| state.pull(n).map(|p| (n, p)));
        match found {
            Some((n, pr)) => {
                let files: Vec<Value> =
                    pr.files.iter().map(|f| json!({"path": f, "additions": 1, "deletions": 0})).collect();
                data.insert(
                    key,
                    json!({
                        "number": n,
                        "title": pr.title,
                        "url": format!("https://github.com/{owner}/{name}/pull/{n}"),
                        "author": {"login": pr.author},
                        "id": format!("PR_{n}"),
                        "files": {"nodes": files, "totalCount": pr.files.len(), "pageInfo": {"hasNextPage": false, "endCursor": null}},
                    }),
                );
            }
            None => {
                let n = number.map_or("?".to_string(), |n| n.to_string());
                errors.push(json!({
                    "type": "NOT_FOUND",
                    "path": ["repository", key],
                    "message": format!("Could not resolve to a PullRequest with the number of {n}."),
                }));
                data.insert(key, Value::Null);
            }
        }
    }
    let created = state.created.lock().expect("no panic while holding the lock");
    for (key, args) in calls(query, "pullRequests") {
        data.insert(key, pull_requests(&created, &repo, args, variables));
    }
    for (key, args) in calls(query, "release") {
        let tag = argument(args, "tagName", variables);
        // `gh release view` asks only for `databaseId` and `isDraft`, to find drafts; GitHub
        // answers `null` when there is no release.
        let release = created.release(&repo, tag.as_str().unwrap_or("")).map(|r| {
            let url = rest::release_json(r)["html_url"].clone();
            json!({"databaseId": r.id, "id": format!("RE_{}", r.id), "isDraft": r.draft, "tagName": r.tag, "name": r.title, "url": url})
        });
        data.insert(key, release.unwrap_or(Value::Null));
    }
    let mut out = json!({"data": {"repository": data}});
    select(&mut out["data"], &names);
    if !errors.is_empty() {
        out["errors"] = Value::Array(errors);
    }
    (200, out)
}

/// The GraphQL shape of a created pull request (what `gh pr list` and `gh pr create` read).
fn pull_json(p: &rest::Pull) -> Value {
    let owner = p.repo.split('/').next().unwrap_or("");
    json!({
        "id": format!("PR_{}", p.number),
        "number": p.number,
        "url": format!("https://github.com/{}/pull/{}", p.repo, p.number),
        "title": p.title,
        "body": p.body,
        "state": "OPEN",
        "isDraft": false,
        "baseRefName": p.base,
        "headRefName": p.head,
        "isCrossRepository": false,
        "headRepositoryOwner": {"id": format!("U_{owner}"), "login": owner},
        "author": {"login": "octocat"},
    })
}

/// `pullRequests(states:, headRefName:, baseRefName:)`, newest first. Only created pull
/// requests are open; the `--pulls` ones are history and match no state filter but `MERGED`,
/// which nothing asks for, so they are left out.
fn pull_requests(created: &rest::Created, repo: &str, args: &str, variables: &Value) -> Value {
    let head = argument(args, "headRefName", variables);
    let base = argument(args, "baseRefName", variables);
    let states = argument(args, "states", variables);
    let states: Vec<&str> = match &states {
        Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
        Value::String(s) => vec![s.as_str()],
        _ => vec![],
    };
    let nodes: Vec<Value> = created
        .pulls
        .iter()
        .rev()
        .filter(|p| p.repo == repo)
        .filter(|p| head.as_str().is_none_or(|h| h == p.head) && base.as_str().is_none_or(|b| b == p.base))
        .filter(|_| states.is_empty() || states.contains(&"OPEN"))
        .map(pull_json)
        .collect();
    json!({"totalCount": nodes.len(), "nodes": nodes, "pageInfo": {"hasNextPage": false, "endCursor": null}})
}

/// The `createPullRequest` mutation: GitHub's errors for an unknown repository id, for a second
/// open pull request from the same head into the same base, and for a body over 65,536 characters.
fn create_pull(state: &State, input: &Value) -> Value {
    let id = input["repositoryId"].as_str().unwrap_or("");
    let error = |kind: &str, message: String| json!({"data": {"createPullRequest": null}, "errors": [{"type": kind, "path": ["createPullRequest"], "message": message}]});
    let Some(repo) = id.strip_prefix("R_").filter(|r| r.contains('/')) else {
        return error("NOT_FOUND", format!("Could not resolve to a node with the global id of '{id}'"));
    };
    let field = |k: &str| input[k].as_str().unwrap_or("").to_string();
    let (base, head) = (field("baseRefName"), field("headRefName"));
    if base.is_empty() || head.is_empty() {
        return error("UNPROCESSABLE", "Head sha can't be blank, Base sha can't be blank".to_string());
    }
    let mut created = state.created.lock().expect("no panic while holding the lock");
    if created.pulls.iter().any(|p| p.repo == repo && p.head == head && p.base == base) {
        let owner = repo.split('/').next().unwrap_or("");
        return error("UNPROCESSABLE", format!("A pull request already exists for {owner}:{head}."));
    }
    // GitHub's limit on a pull request's description, in characters.
    if field("body").chars().count() > 65_536 {
        return error("UNPROCESSABLE", "Body is too long (maximum is 65536 characters)".to_string());
    }
    let number = state.next_number(&created);
    let pull = rest::Pull { number, repo: repo.to_string(), base, head, title: field("title"), body: field("body") };
    let answer = json!({"data": {"createPullRequest": {"pullRequest": pull_json(&pull)}}});
    created.pulls.push(pull);
    answer
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_aliased_and_variable_lookups() {
        let q = "query($owner: String!) { repository(owner: $owner, name: $name) { pr7: pullRequest(number: 7) { title } pr12 : pullRequest(number: 12) { title } } }";
        assert_eq!(lookups(q, &Value::Null), [("pr7".to_string(), Some(7)), ("pr12".to_string(), Some(12))]);
        let q = "query PullRequestByNumber($pr_number: Int!) { repository(owner: $owner, name: $repo) { pullRequest(number: $pr_number) {number} } }";
        assert_eq!(lookups(q, &json!({"pr_number": 5})), [("pullRequest".to_string(), Some(5))]);
    }

    #[test]
    fn arguments_are_variables_or_literals_and_whole_words() {
        let q = "{ pullRequests(\n\tstates: $state,\n\tbaseRefName: $baseBranch,\n\theadRefName: $headBranch,\n\tfirst: 30) { nodes { number } } x: release(tagName: \"v1\") { isDraft } prerelease(tagName: $t) }";
        let vars = json!({"state": ["OPEN"], "headBranch": "feat"});
        let [(key, args)] = &calls(q, "pullRequests")[..] else { panic!("one call") };
        assert_eq!(key, "pullRequests");
        assert_eq!(argument(args, "headRefName", &vars), "feat");
        assert_eq!(argument(args, "baseRefName", &vars), Value::Null, "an unset variable");
        assert_eq!(argument(args, "RefName", &vars), Value::Null, "not a whole word");
        assert_eq!(argument(args, "states", &vars), json!(["OPEN"]));
        assert_eq!(argument(args, "first", &vars), 30);
        let releases = calls(q, "release");
        assert_eq!(releases.len(), 1, "`prerelease(` is another field");
        assert_eq!((releases[0].0.as_str(), argument(releases[0].1, "tagName", &vars)), ("x", json!("v1")));
    }

    #[test]
    fn answers_hold_only_the_fields_asked_for() {
        let q = "query RepositoryReleaseByTag($name:String!$owner:String!$tagName:String!){repository(owner: $owner, name: $name){release(tagName: $tagName){databaseId,isDraft}}}";
        let mut data = json!({"repository": {"id": "R_o/r", "name": "r", "owner": {"login": "o"}, "release": {"databaseId": 1, "isDraft": false, "name": "T"}}});
        select(&mut data, &selected(q));
        assert_eq!(data, json!({"repository": {"release": {"databaseId": 1, "isDraft": false}}}));
    }
}
