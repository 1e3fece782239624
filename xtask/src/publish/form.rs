//! The request of the legacy upload API (the one `uv publish` and twine use): a
//! `multipart/form-data` body of the distribution's core metadata as form fields, then the file.
//! The fields and their order are what `uv publish` sends, so the index records the same release
//! metadata whichever of the two uploaded a file; the file's bytes go as they are.

use anyhow::{bail, Context, Result};

use super::{archive, sha256};

/// The metadata fields sent once whenever they are set, in the order sent.
const SINGLE: [(&str, &str); 12] = [
    ("author", "author"),
    ("author-email", "author_email"),
    ("description", "description"),
    ("description-content-type", "description_content_type"),
    ("download-url", "download_url"),
    ("home-page", "home_page"),
    ("keywords", "keywords"),
    ("license", "license"),
    ("license-expression", "license_expression"),
    ("maintainer", "maintainer"),
    ("maintainer-email", "maintainer_email"),
    ("summary", "summary"),
];

/// The fields that may repeat, each value sent as a field of its own, in the order sent.
const MULTIPLE: [(&str, &str); 10] = [
    ("classifier", "classifiers"),
    ("dynamic", "dynamic"),
    ("license-file", "license_file"),
    ("obsoletes-dist", "obsoletes_dist"),
    ("platform", "platform"),
    ("project-url", "project_urls"),
    ("provides-dist", "provides_dist"),
    ("provides-extra", "provides_extra"),
    ("requires-dist", "requires_dist"),
    ("requires-external", "requires_external"),
];

/// The headers of core metadata (`METADATA`, `PKG-INFO`): (lower-case name, value) in order,
/// folded lines joined with a newline; the body, when there is one, as `description`.
pub fn parse_metadata(text: &str) -> Vec<(String, String)> {
    let mut headers: Vec<(String, String)> = Vec::new();
    let text = text.replace("\r\n", "\n");
    let (head, body) = text.split_once("\n\n").unwrap_or((&text, ""));
    for line in head.lines() {
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = headers.last_mut() {
                value.push('\n');
                value.push_str(line.trim_start());
            }
        } else if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
        }
    }
    if !body.is_empty() && !headers.iter().any(|(n, _)| n == "description") {
        headers.push(("description".into(), body.to_string()));
    }
    headers
}

/// The form fields for uploading `filename` (its `bytes`), from the metadata inside it.
pub fn fields(filename: &str, bytes: &[u8]) -> Result<Vec<(&'static str, String)>> {
    let (filetype, pyversion) = if let Some(stem) = filename.strip_suffix(".whl") {
        // name-version(-build)?-python-abi-platform: the python tag is third from the end.
        let parts: Vec<&str> = stem.split('-').collect();
        let Some(python) = parts.len().checked_sub(3).and_then(|i| parts.get(i)).filter(|_| parts.len() >= 5) else {
            bail!("`{filename}` is not a wheel's file name (name-version-python-abi-platform.whl)")
        };
        ("bdist_wheel", python.to_string())
    } else if filename.ends_with(".tar.gz") || filename.ends_with(".zip") {
        ("sdist", "source".to_string())
    } else {
        bail!("`{filename}` is neither a wheel nor an sdist; only those can be uploaded")
    };
    let contents = archive::read(filename, bytes)?;
    let text = contents.metadata.with_context(|| format!("`{filename}` holds no METADATA or PKG-INFO"))?;
    let headers = parse_metadata(&text);
    let one = |name: &str| headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
    let required = |name: &str| one(name).with_context(|| format!("the metadata of `{filename}` has no `{name}`"));
    let mut form = vec![
        (":action", "file_upload".to_string()),
        ("sha256_digest", sha256::hex(bytes)),
        ("blake2_256_digest", blake2_256(bytes)),
        ("protocol_version", "1".to_string()),
        ("metadata_version", required("metadata-version")?),
        ("name", required("name")?),
        ("version", required("version")?),
        ("filetype", filetype.to_string()),
        ("pyversion", pyversion),
    ];
    form.extend(SINGLE.iter().filter_map(|&(header, field)| one(header).map(|v| (field, v))));
    // Sent even when empty: some indexes (GitLab's) require the field.
    form.push(("requires_python", one("requires-python").unwrap_or_default()));
    for (header, field) in MULTIPLE {
        form.extend(headers.iter().filter(|(n, _)| n == header).map(|(_, v)| (field, v.clone())));
    }
    Ok(form)
}

/// The BLAKE2b digest of 256 bits (not BLAKE2s), in lowercase hex.
fn blake2_256(bytes: &[u8]) -> String {
    use blake2::{digest::consts::U32, Blake2b, Digest};
    Blake2b::<U32>::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// The `multipart/form-data` body: every field, then the file as `content`. `boundary` must not
/// occur in any of them ([`boundary`] makes one from their digest).
pub fn multipart(fields: &[(&str, String)], filename: &str, bytes: &[u8], boundary: &str) -> Vec<u8> {
    let mut body = Vec::with_capacity(bytes.len() + 4096);
    for (name, value) in fields {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
        );
        body.extend_from_slice(value.as_bytes());
        body.extend_from_slice(b"\r\n");
    }
    // No `Content-Type` for the file, as `uv publish` sends it.
    let quoted = filename.replace('"', "%22");
    body.extend_from_slice(
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"content\"; filename=\"{quoted}\"\r\n\r\n")
            .as_bytes(),
    );
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    body
}

/// A boundary that occurs in none of the parts: derived from the file's digest, lengthened
/// until no part contains it (a 64-digit hex string almost never occurs by chance).
pub fn boundary(fields: &[(&str, String)], bytes: &[u8]) -> String {
    let mut boundary = format!("xtask-{}", sha256::hex(bytes));
    let occurs =
        |b: &str| fields.iter().any(|(_, v)| v.contains(b)) || bytes.windows(b.len()).any(|w| w == b.as_bytes());
    while occurs(&boundary) {
        boundary = format!("xtask-{}", sha256::hex(boundary.as_bytes()));
    }
    boundary
}

#[cfg(test)]
mod tests {
    use super::*;

    const METADATA: &str = "Metadata-Version: 2.4\r\nName: llama-index-core\r\nVersion: 0.14.12\r\nSummary: Interface between LLMs and your data\r\nProject-URL: Homepage, https://example.org\r\nAuthor-email: Jerry Liu <jerry@example.org>\r\nLicense-Expression: MIT\r\nClassifier: Programming Language :: Python\r\nClassifier: Typing :: Typed\r\nRequires-Python: <4.0,>=3.9\r\nRequires-Dist: aiohttp<4,>=3.8.6\r\nRequires-Dist: nltk>3.8.1\r\nDescription-Content-Type: text/markdown\r\n\r\n# LlamaIndex Core\r\n\r\nThe core.\r\n";

    #[test]
    fn metadata_headers_in_order_and_the_body_as_the_description() {
        let headers = parse_metadata(METADATA);
        let shown: Vec<String> = headers.iter().map(|(n, v)| format!("{n}={v}")).collect();
        expect_test::expect![[r#"
            metadata-version=2.4
            name=llama-index-core
            version=0.14.12
            summary=Interface between LLMs and your data
            project-url=Homepage, https://example.org
            author-email=Jerry Liu <jerry@example.org>
            license-expression=MIT
            classifier=Programming Language :: Python
            classifier=Typing :: Typed
            requires-python=<4.0,>=3.9
            requires-dist=aiohttp<4,>=3.8.6
            requires-dist=nltk>3.8.1
            description-content-type=text/markdown
            description=# LlamaIndex Core

            The core.

        "#]]
        .assert_eq(&(shown.join("\n") + "\n"));
        // A folded header (the old `Description:` style) keeps its lines.
        let folded = parse_metadata("Name: a\nDescription: first\n        |second\nVersion: 1\n");
        assert_eq!(folded[1], ("description".to_string(), "first\n|second".to_string()));
    }

    #[test]
    fn the_body_has_every_field_then_the_file() {
        let fields = vec![(":action", "file_upload".to_string()), ("name", "a".to_string())];
        let body = multipart(&fields, "a-1.tar.gz", b"BYTES", "B");
        expect_test::expect![[r#"
            --B
            Content-Disposition: form-data; name=":action"

            file_upload
            --B
            Content-Disposition: form-data; name="name"

            a
            --B
            Content-Disposition: form-data; name="content"; filename="a-1.tar.gz"

            BYTES
            --B--
        "#]]
        .assert_eq(&String::from_utf8_lossy(&body).replace("\r\n", "\n"));
        let b = boundary(&fields, b"BYTES");
        assert!(b.starts_with("xtask-") && b.len() == 70);
    }

    #[test]
    fn blake2b_256_of_known_inputs() {
        // The reference values of BLAKE2b-256 (`hashlib.blake2b(data, digest_size=32)`).
        assert_eq!(blake2_256(b""), "0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8");
        assert_eq!(blake2_256(b"abc"), "bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319");
    }

    #[test]
    fn refuses_what_is_not_a_distribution() {
        let err = |name: &str| fields(name, b"").unwrap_err().to_string();
        expect_test::expect!["`a-1.egg` is neither a wheel nor an sdist; only those can be uploaded"]
            .assert_eq(&err("a-1.egg"));
        expect_test::expect!["`a-1.whl` is not a wheel's file name (name-version-python-abi-platform.whl)"]
            .assert_eq(&err("a-1.whl"));
    }
}
