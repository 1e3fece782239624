//! The GitHub Actions ID-token endpoint that a job with `id-token: write` reaches through
//! `ACTIONS_ID_TOKEN_REQUEST_URL` (`…/idtoken?api-version=2.0`, plus `&audience=AUD`), with
//! `Authorization: bearer ACTIONS_ID_TOKEN_REQUEST_TOKEN`. It answers `{"value": JWT}`: a token
//! shaped like GitHub's, whose claims name the repository and carry the audience asked for, and
//! whose signature segment is `STANDIN_ID_TOKEN_KEY`, so that the index's stand-in can verify it.
//! Both secrets come from the environment; neither is logged.

use serde_json::{json, Value};

use crate::http::{Request, Response};

/// The request token the job was given, and the signature that makes an ID token genuine.
pub struct Secrets {
    pub request_token: String,
    pub key: String,
}

impl Secrets {
    /// `STANDIN_ID_TOKEN_REQUEST_TOKEN` and `STANDIN_ID_TOKEN_KEY`; `None` unless both are set,
    /// and then the route answers 404 as it does outside a job with `id-token: write`.
    pub fn from_env() -> Option<Secrets> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        Some(Secrets { request_token: var("STANDIN_ID_TOKEN_REQUEST_TOKEN")?, key: var("STANDIN_ID_TOKEN_KEY")? })
    }
}

/// Whether `request` is for the ID-token route.
pub fn is_id_token_request(request: &Request) -> bool {
    request.method == "GET" && request.path.ends_with("/idtoken")
}

pub fn id_token(secrets: Option<&Secrets>, request: &Request) -> Response {
    let Some(secrets) = secrets else {
        return Response::json(404, &json!({"message": "Not Found"}));
    };
    let sent = request.header("authorization").and_then(|h| h.split_once(' ')).map(|(_, t)| t.trim());
    if sent != Some(secrets.request_token.as_str()) {
        return Response::json(401, &json!({"message": "Bad credentials"}));
    }
    let audience =
        request.query.split('&').find_map(|kv| kv.strip_prefix("audience=")).map(crate::rest::percent_decode);
    let audience = audience.unwrap_or_else(|| "https://github.com/octo-org".to_string());
    let repository = "run-llama/llama_index";
    let claims = json!({
        "iss": "https://token.actions.githubusercontent.com",
        "aud": audience,
        "sub": format!("repo:{repository}:environment:release"),
        "repository": repository,
        "repository_owner": "run-llama",
        "repository_owner_id": "130722866",
        "job_workflow_ref": format!("{repository}/.github/workflows/release.yml@refs/heads/main"),
        "ref": "refs/heads/main",
        "environment": "release",
    });
    let header = json!({"alg": "RS256", "typ": "JWT", "kid": "standin"});
    let token = format!("{}.{}.{}", base64url(&header), base64url(&claims), secrets.key);
    Response::json(200, &json!({"count": token.len(), "value": token}))
}

/// Unpadded base64url of `value`'s JSON, as JWT segments are.
fn base64url(value: &Value) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let bytes = value.to_string().into_bytes();
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, &b)| n | (b as u32) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn base64url_is_unpadded_and_url_safe() {
        // `"??>"` is `Ij8_PiI` in base64url (`Ij8/PiI=` in base64).
        assert_eq!(super::base64url(&serde_json::json!("??>")), "Ij8_PiI");
        assert_eq!(super::base64url(&serde_json::json!({"a": 1})), "eyJhIjoxfQ");
    }
}
