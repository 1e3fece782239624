//! Unit tests of the index client's pure parts: answers of both index shapes, bad answers,
//! backoff and the wait loop.

use super::*;
use std::time::UNIX_EPOCH;

use expect_test::{expect, Expect};

fn check(body: &str, want: Expect) {
    let name = PackageName::new("llama-index-core");
    let shown = match parse_project(&name, "[SERVER]/llama-index-core/json", body) {
        Ok(p) => {
            let mut out = format!("{}\n", p.name);
            for (version, files) in &p.releases {
                out += &format!("{version}\n");
                for f in files {
                    out += &format!(
                        "  {} sha256={} yanked={}{}\n",
                        f.filename,
                        f.sha256.as_deref().unwrap_or("-"),
                        f.yanked,
                        f.uploaded.map_or(String::new(), |t| format!(
                            " uploaded={}",
                            t.duration_since(UNIX_EPOCH).unwrap().as_secs()
                        ))
                    );
                }
            }
            out
        }
        Err(e) => format!("error: {e:#}").replace(BASE_HINT, "[HINT]"),
    };
    want.assert_eq(&shown);
}

#[test]
fn public_index_shape() {
    check(
        r#"{"info": {"name": "llama-index-core", "version": "0.14.12"}, "releases": {
            "0.14.12": [{"filename": "llama_index_core-0.14.12.tar.gz", "digests": {"md5": "x", "sha256": "ab12"}, "yanked": false,
                         "upload_time": "2026-01-01T00:00:00", "upload_time_iso_8601": "2026-01-01T00:00:00.123456Z"}],
            "0.14.2": [{"filename": "llama_index_core-0.14.2-py3-none-any.whl", "digests": {"sha256": "cd34"}, "yanked": true}],
            "0.15.0rc1": [],
            "1.0": [{"filename": "a-1.0.tar.gz", "yanked": "broken metadata"}],
            "1.0.0": [{"filename": "a-1.0.0.tar.gz", "upload_time": "2024-02-29T23:59:59"}],
            "not-a-version": [{"filename": "x.tar.gz"}]
        }}"#,
        expect![[r#"
            llama-index-core
            0.14.2
              llama_index_core-0.14.2-py3-none-any.whl sha256=cd34 yanked=true
            0.14.12
              llama_index_core-0.14.12.tar.gz sha256=ab12 yanked=false uploaded=1767225600
            0.15.0rc1
            1.0
              a-1.0.tar.gz sha256=- yanked=true
              a-1.0.0.tar.gz sha256=- yanked=false uploaded=1709251199
        "#]],
    );
}

#[test]
fn pypiserver_shape() {
    // What pypiserver 2.4 really answers: no name, no digests, no yanked flag, only URLs.
    check(
        r#"{"info": {"version": "0.14.13"}, "releases": {
            "0.14.13": [{"url": "http://127.0.0.1:8080/packages/llama_index_core-0.14.13-py3-none-any.whl"}],
            "0.14.12": [{"url": "http://127.0.0.1:8080/packages/llama_index_core-0.14.12.tar.gz#sha256=ef56"}]}}"#,
        expect![[r#"
            llama-index-core
            0.14.12
              llama_index_core-0.14.12.tar.gz sha256=ef56 yanked=false
            0.14.13
              llama_index_core-0.14.13-py3-none-any.whl sha256=- yanked=false
        "#]],
    );
}

#[test]
fn bad_answers_name_the_url() {
    check(
        "<!DOCTYPE html><html></html>",
        expect!["error: [SERVER]/llama-index-core/json answered HTML, not JSON; [HINT]"],
    );
    check("{\"releases\": [", expect!["error: [SERVER]/llama-index-core/json answered invalid JSON (EOF while parsing a list at line 1 column 14); [HINT]"]);
    check(
        "{\"info\": {}}",
        expect!["error: [SERVER]/llama-index-core/json answered JSON without a `releases` object; [HINT]"],
    );
    check(
        "{\"releases\": {\"1.0\": [{\"size\": 1}]}}",
        expect!["error: [SERVER]/llama-index-core/json: a file of `1.0` has neither `filename` nor `url`"],
    );
}

#[test]
fn backoff_doubles_with_bounded_jitter() {
    let http = Http::default();
    for attempt in 0..10 {
        let base = (500u64 << attempt).min(8000) as f64;
        let got = http.backoff().pause(attempt, None).as_millis() as f64;
        assert!(got >= base * 0.74 && got <= base * 1.26, "attempt {attempt}: {got}ms");
    }
    assert_ne!(crate::backoff::random(), crate::backoff::random());
}

#[test]
fn wait_for_gives_up_with_an_actionable_error() {
    let err = wait_for("`x` on the index", Duration::ZERO, || Ok(None::<()>)).unwrap_err();
    assert!(err.to_string().starts_with("gave up waiting for `x` on the index after 0ms"), "{err}");
    let mut calls = 0;
    assert_eq!(
        wait_for("y", Duration::from_secs(5), || {
            calls += 1;
            Ok(Some(calls))
        })
        .unwrap(),
        1
    );
}
