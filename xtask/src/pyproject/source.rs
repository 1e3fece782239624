//! Where a package keeps its version when `[project]` says `dynamic = ["version"]`: a file of
//! the package (hatch's `path`, setuptools' `attr`/`file`, pdm's `file`, flit's module) or git
//! tags (hatch-vcs, setuptools-scm, pdm's `scm`). Pure: the caller reads and writes the file.

use toml_edit::Item;

/// Where a package's version is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VersionSource {
    /// `version = "…"` in `[project]` or `[tool.poetry]`.
    Static,
    /// In a file of the package.
    File(VersionFile),
    /// The package's tags (see `tags.rs`); nothing in the tree to edit.
    Vcs { via: &'static str },
}

/// A file of the package holding its version, and how the version is written there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionFile {
    /// Candidates relative to the package's directory; the first that exists is the file.
    pub candidates: Vec<String>,
    pub how: Written,
    /// The setting that named it, for messages (`[tool.hatch.version] path`).
    pub via: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Written {
    /// `NAME = "1.2.3"` (a literal assignment, optionally annotated, at the start of a line).
    Assignment(Vec<String>),
    /// The whole file is the version, surrounding whitespace aside.
    Whole,
    /// Hatch's custom `pattern` (`pattern.rs`).
    Pattern(super::pattern::Pattern),
    /// A custom `pattern` the tool cannot read, and why.
    Refused(String),
}

/// Every kind of source tried, for the error when none is found.
pub const TRIED: &str = "`[tool.hatch.version]` (`path` or `source = \"vcs\"`), `[tool.setuptools.dynamic] version` \
     (`attr` or `file`), `[tool.setuptools_scm]`, `[tool.pdm.version]` (`file` or `scm`), flit's `__version__`";

fn get<'a>(root: &'a toml_edit::Table, path: &[&str]) -> Option<&'a Item> {
    let (first, rest) = path.split_first()?;
    rest.iter().try_fold(root.get(first)?, |item, key| item.get(key))
}

fn str_at<'a>(root: &'a toml_edit::Table, path: &[&str]) -> Option<&'a str> {
    get(root, path).and_then(Item::as_str)
}

/// The source of a dynamic version, from the whole document's root table; `None` when no
/// backend's setting names one.
pub fn detect(root: &toml_edit::Table, project_name: &str) -> Option<VersionSource> {
    let assignment = |names: &[&str]| Written::Assignment(names.iter().map(|s| s.to_string()).collect());
    let file = |candidates: Vec<String>, how: Written, via| VersionSource::File(VersionFile { candidates, how, via });
    if get(root, &["tool", "hatch", "version"]).is_some() {
        if str_at(root, &["tool", "hatch", "version", "source"]) == Some("vcs") {
            return Some(VersionSource::Vcs { via: "hatch-vcs" });
        }
        if let Some(path) = str_at(root, &["tool", "hatch", "version", "path"]) {
            // hatch's default pattern: `__version__` or `VERSION`.
            let how = match str_at(root, &["tool", "hatch", "version", "pattern"]) {
                None => assignment(&["__version__", "VERSION"]),
                Some(p) => super::pattern::parse(p).map_or_else(Written::Refused, Written::Pattern),
            };
            return Some(file(vec![path.to_string()], how, "`[tool.hatch.version] path`"));
        }
    }
    if let Some(version) = get(root, &["tool", "setuptools", "dynamic", "version"]) {
        if let Some(attr) = version.get("attr").and_then(Item::as_str) {
            let (module, name) = attr.rsplit_once('.').unwrap_or(("", attr));
            return Some(file(module_files(module), assignment(&[name]), "`[tool.setuptools.dynamic] version.attr`"));
        }
        let files = version.get("file");
        let first = files.and_then(Item::as_str).or_else(|| files?.as_array()?.get(0)?.as_str());
        if let Some(path) = first {
            return Some(file(vec![path.to_string()], Written::Whole, "`[tool.setuptools.dynamic] version.file`"));
        }
    }
    if let Some(source) = str_at(root, &["tool", "pdm", "version", "source"]) {
        match source {
            "scm" => return Some(VersionSource::Vcs { via: "pdm's `scm` source" }),
            "file" => {
                let path = str_at(root, &["tool", "pdm", "version", "path"])?;
                return Some(file(vec![path.to_string()], assignment(&["__version__"]), "`[tool.pdm.version] path`"));
            }
            _ => {}
        }
    }
    let requires = get(root, &["build-system", "requires"]).and_then(Item::as_array);
    let requires_scm = requires.into_iter().flatten().filter_map(|v| v.as_str()).any(|r| {
        let r = r.to_ascii_lowercase().replace('_', "-");
        r.starts_with("setuptools-scm")
    });
    if get(root, &["tool", "setuptools_scm"]).is_some() || requires_scm {
        return Some(VersionSource::Vcs { via: "setuptools-scm" });
    }
    if str_at(root, &["build-system", "build-backend"]).is_some_and(|b| b.starts_with("flit")) {
        let module = str_at(root, &["tool", "flit", "module", "name"])
            .map_or_else(|| project_name.replace(['-', '.'], "_"), str::to_string);
        return Some(file(module_files(&module), assignment(&["__version__"]), "flit's `__version__`"));
    }
    None
}

/// Where a module's source may be, flat or under `src/`.
fn module_files(module: &str) -> Vec<String> {
    let rel = module.replace('.', "/");
    let mut out = Vec::new();
    for base in ["", "src/"] {
        out.push(format!("{base}{rel}/__init__.py"));
        out.push(format!("{base}{rel}.py"));
    }
    out
}

/// Where in `text` the version is: its byte range.
pub fn locate(text: &str, how: &Written) -> Option<std::ops::Range<usize>> {
    match how {
        Written::Whole => {
            let start = text.len() - text.trim_start().len();
            let end = text.trim_end().len();
            (end > start).then_some(start..end)
        }
        Written::Pattern(p) => p.find(text),
        Written::Refused(_) => None,
        Written::Assignment(names) => {
            let mut offset = 0;
            for line in text.split_inclusive('\n') {
                if let Some(range) = assignment(line, names) {
                    return Some(offset + range.start..offset + range.end);
                }
                offset += line.len();
            }
            None
        }
    }
}

/// The range of the string literal in `NAME = "…"` (or `NAME: str = '…'`) on `line`.
fn assignment(line: &str, names: &[String]) -> Option<std::ops::Range<usize>> {
    let name = names.iter().find(|n| line.starts_with(n.as_str()))?;
    let rest = &line[name.len()..];
    let after_name = rest.trim_start();
    let after_annotation = match after_name.strip_prefix(':') {
        Some(annotated) => &annotated[annotated.find('=')?..],
        None => after_name,
    };
    let value = after_annotation.strip_prefix('=')?.trim_start();
    let quote = value.chars().next().filter(|q| *q == '"' || *q == '\'')?;
    let inner = &value[1..];
    let end = inner.find(quote)?;
    let start = line.len() - inner.len();
    Some(start..start + end)
}

/// `text` with the version at `range` replaced: the rest of the file stays byte for byte.
pub fn replace(text: &str, range: std::ops::Range<usize>, new: &str) -> String {
    format!("{}{new}{}", &text[..range.start], &text[range.end..])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root(text: &str) -> toml_edit::Table {
        text.parse::<toml_edit::DocumentMut>().unwrap().as_table().clone()
    }

    #[test]
    fn detects_each_backend() {
        let cases = [
            ("[tool.hatch.version]\npath = \"src/a/__init__.py\"\n", "`[tool.hatch.version] path` [\"src/a/__init__.py\"]"),
            ("[tool.hatch.version]\nsource = \"vcs\"\n", "hatch-vcs"),
            ("[tool.setuptools.dynamic]\nversion = { attr = \"a.b.__version__\" }\n", "`[tool.setuptools.dynamic] version.attr` [\"a/b/__init__.py\", \"a/b.py\", \"src/a/b/__init__.py\", \"src/a/b.py\"]"),
            ("[tool.setuptools.dynamic]\nversion = { file = [\"VERSION\"] }\n", "`[tool.setuptools.dynamic] version.file` [\"VERSION\"]"),
            ("[tool.pdm.version]\nsource = \"file\"\npath = \"a.py\"\n", "`[tool.pdm.version] path` [\"a.py\"]"),
            ("[tool.pdm.version]\nsource = \"scm\"\n", "pdm's `scm` source"),
            ("[build-system]\nrequires = [\"setuptools\", \"setuptools_scm>=8\"]\n", "setuptools-scm"),
            ("[build-system]\nbuild-backend = \"flit_core.buildapi\"\n", "flit's `__version__` [\"my_pkg/__init__.py\", \"my_pkg.py\", \"src/my_pkg/__init__.py\", \"src/my_pkg.py\"]"),
        ];
        for (text, want) in cases {
            let got = match detect(&root(text), "my-pkg").unwrap() {
                VersionSource::File(f) => format!("{} {:?}", f.via, f.candidates),
                VersionSource::Vcs { via } => via.to_string(),
                VersionSource::Static => "static".into(),
            };
            assert_eq!(got, want, "{text}");
        }
        assert_eq!(detect(&root("[tool.hatch.build]\nx = 1\n"), "a"), None);
    }

    #[test]
    fn finds_and_replaces_only_the_literal() {
        let names = Written::Assignment(vec!["__version__".into(), "VERSION".into()]);
        let text = "\"\"\"Doc.\"\"\"\n__all__ = []\n__version__: str = '1.2.3'  # bumped by the release\n";
        let range = locate(text, &names).unwrap();
        assert_eq!(&text[range.clone()], "1.2.3");
        expect_test::expect![[r#"
            """Doc."""
            __all__ = []
            __version__: str = '1.3.0'  # bumped by the release
        "#]]
        .assert_eq(&replace(text, range, "1.3.0"));
        let text = "VERSION = \"0.4\"\n";
        assert_eq!(&text[locate(text, &names).unwrap()], "0.4");
        assert_eq!(locate("version = get_version()\n", &names), None);
        assert_eq!(locate("__version__ = get()\n", &names), None);
        let whole = "\n 2.0.1 \n";
        let range = locate(whole, &Written::Whole).unwrap();
        assert_eq!(replace(whole, range, "2.0.2"), "\n 2.0.2 \n");
        assert_eq!(locate("  \n", &Written::Whole), None);
    }
}
