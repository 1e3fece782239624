//! GitHub's GraphQL endpoint, for the one shape of query the tools send: `pullRequest(number:)`
//! lookups inside `repository(owner:, name:)`, aliased (the xtask's batches) or with a
//! variable (`gh pr view`). Every answer carries the fields either asks for; clients ignore
//! the rest, so the selection sets need no parsing.

use serde_json::{json, Map, Value};

use crate::State;

/// The `pullRequest(number: …)` lookups of a query: (response key, number).
pub fn lookups(query: &str, variables: &Value) -> Vec<(String, Option<u64>)> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(at) = query[from..].find("pullRequest(") {
        let start = from + at;
        let args_start = start + "pullRequest(".len();
        let args_end = query[args_start..].find(')').map_or(query.len(), |i| args_start + i);
        let args = &query[args_start..args_end];
        let value = args.split_once("number:").map(|(_, v)| v.trim().trim_end_matches(',').trim()).unwrap_or("");
        let number = match value.strip_prefix('$') {
            Some(var) => variables[var].as_u64().or_else(|| variables[var].as_str().and_then(|s| s.parse().ok())),
            None => value.parse().ok(),
        };
        // An alias is `name:` right before the field.
        let before = query[..start].trim_end();
        let key = before
            .strip_suffix(':')
            .map(|b| b.trim_end())
            .and_then(|b| b.rsplit(|c: char| !(c.is_alphanumeric() || c == '_')).next())
            .filter(|a| !a.is_empty())
            .unwrap_or("pullRequest")
            .to_string();
        out.push((key, number));
        from = args_end;
    }
    out
}

/// The answer to one GraphQL request, as GitHub would give it.
pub fn answer(state: &State, body: &str) -> (u16, Value) {
    let request: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    let query = request["query"].as_str().unwrap_or("");
    let variables = &request["variables"];
    let (owner, name) =
        (variables["owner"].as_str().unwrap_or("o"), variables["name"].as_str().or(variables["repo"].as_str()).unwrap_or("r"));
    let mut data = Map::new();
    let mut errors = Vec::new();
    for (key, number) in lookups(query, variables) {
        let found = number.and_then(|n| state.pull(n).map(|p| (n, p)));
        match found {
            Some((n, pr)) => {
                let files: Vec<Value> = pr.files.iter().map(|f| json!({"path": f, "additions": 1, "deletions": 0})).collect();
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
    let mut out = json!({"data": {"repository": data}});
    if !errors.is_empty() {
        out["errors"] = Value::Array(errors);
    }
    (200, out)
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
}
