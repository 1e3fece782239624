//! `pyproject.toml`: reading the metadata the tool needs, and editing one value at a time with
//! `toml_edit`, keeping every comment and format around it.
//!
//! Both the standard `[project]` table and the legacy `[tool.poetry]` table are understood.

use std::path::Path;

use anyhow::{bail, Context, Result};
use toml_edit::{Document, DocumentMut, Item, Value};

use std::collections::HashMap;

use crate::{
    requirement::{self, PackageName, Requirement},
    version::Version,
};

mod fast;
pub mod pattern;
pub mod source;

pub use source::VersionSource;

/// The metadata of one `pyproject.toml`.
#[derive(Debug, Clone)]
pub struct Pyproject {
    pub name: String,
    pub version: Version,
    /// Runtime dependencies, optional ones included.
    pub dependencies: Vec<Requirement>,
    pub requires_python: Option<String>,
    pub table: Table,
    /// Where the version is written; for a dynamic one, `version` is `0` until the monorepo
    /// reads it from its file or tags.
    pub source: VersionSource,
    /// What the package uses only to be developed and tested: `[dependency-groups]`, uv's legacy
    /// `dev-dependencies`, `[tool.uv.sources]` paths and workspace members. Edges for test
    /// selection, never for publishing or the wave.
    pub dev_dependencies: Vec<PackageName>,
    /// Why a dynamic version has no source: commands that act on the package fail with it,
    /// the others warn (`version` is then `0`).
    pub version_error: Option<String>,
}

/// Where the metadata lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    Project,
    Poetry,
}

impl Table {
    fn path(self) -> &'static [&'static str] {
        match self {
            Table::Project => &["project"],
            Table::Poetry => &["tool", "poetry"],
        }
    }
    fn display(self) -> &'static str {
        match self {
            Table::Project => "[project]",
            Table::Poetry => "[tool.poetry]",
        }
    }
}

/// Parses TOML, turning a syntax error into `file:line:column: message`.
fn parse_toml<'t, T>(
    path: &Path,
    text: &'t str,
    parse: impl FnOnce(&'t str) -> Result<T, toml_edit::TomlError>,
) -> Result<T> {
    parse(text).map_err(|e| {
        let (line, col) = match e.span() {
            Some(span) => line_col(text, span.start),
            None => (1, 1),
        };
        let message = e.message().trim_end_matches('\n').replace('\n', " ");
        anyhow::anyhow!("{}:{line}:{col}: invalid TOML: {message}; fix the file and rerun", path.display())
    })
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

/// Finds the metadata table: `[project]` wins when it has a name, else `[tool.poetry]`.
fn find_table(root: &toml_edit::Table) -> Option<Table> {
    let has_name = |t: Table| lookup(root, t.path()).and_then(|i| i.get("name")).is_some();
    [Table::Project, Table::Poetry].into_iter().find(|&t| has_name(t))
}

fn lookup<'a>(root: &'a toml_edit::Table, path: &[&str]) -> Option<&'a Item> {
    let (first, rest) = path.split_first()?;
    let mut item = root.get(first)?;
    for key in rest {
        item = item.get(key)?;
    }
    Some(item)
}

impl Pyproject {
    /// Parses `text`, the content of `path` (named in every error).
    pub fn parse(path: &Path, text: &str) -> Result<Pyproject> {
        // The fast read builds only the two tables read here; whatever it does not take, and
        // every error, goes through the whole document, whose messages are the reference.
        if let Some(root) = fast::read(text) {
            // A dynamic version's source is outside the fast table: the whole document finds it.
            if let Some(p) = Pyproject::from_root(path, &root).ok().filter(|p| p.version_error.is_none()) {
                return Ok(p);
            }
        }
        let doc = parse_toml(path, text, Document::parse)?;
        Pyproject::from_root(path, doc.as_table())
    }

    fn from_root(path: &Path, root: &toml_edit::Table) -> Result<Pyproject> {
        let p = path.display();
        let Some(table) = find_table(root) else {
            bail!("{p}: no `[project]` table with a `name`; add `[project]` with `name` and `version`");
        };
        let meta = lookup(root, table.path()).expect("found above");
        let name = meta
            .get("name")
            .and_then(Item::as_str)
            .with_context(|| format!("{p}: `name` in `{}` is not a string", table.display()))?
            .to_string();
        let (version, source, version_error) = match read_version(path, root, table, &name)? {
            Ok((version, source)) => (version, source, None),
            Err(missing) => (Version::placeholder(), VersionSource::Static, Some(missing)),
        };
        let mut dependencies = Vec::new();
        let mut push = |text: &str, optional: bool| -> Result<()> {
            let req = Requirement::parse(text).map_err(|e| anyhow::anyhow!("{p}: {e}"))?;
            dependencies.push(Requirement { optional, ..req });
            Ok(())
        };
        match table {
            Table::Project => {
                let required = meta.get("dependencies").into_iter().map(|a| (a, false));
                let optional = meta
                    .get("optional-dependencies")
                    .and_then(Item::as_table_like)
                    .into_iter()
                    .flat_map(|t| t.iter().map(|(_, v)| (v, true)));
                for (array, optional) in required.chain(optional) {
                    for dep in array.as_array().into_iter().flatten() {
                        let text =
                            dep.as_str().with_context(|| format!("{p}: a dependency is not a string: `{dep}`"))?;
                        push(text, optional)?;
                    }
                }
            }
            Table::Poetry => {
                if let Some(deps) = meta.get("dependencies").and_then(Item::as_table_like) {
                    for (name, spec) in deps.iter().filter(|(n, _)| *n != "python") {
                        for (text, optional) in
                            poetry_requirements(name, spec).map_err(|e| anyhow::anyhow!("{p}: {e}"))?
                        {
                            push(&text, optional)?;
                        }
                    }
                }
            }
        }
        let requires_python = match table {
            Table::Project => meta.get("requires-python").map(|i| (i, "requires-python")),
            Table::Poetry => meta.get("dependencies").and_then(|d| d.get("python")).map(|i| (i, "python")),
        };
        let requires_python = match requires_python {
            None => None,
            Some((item, key)) => {
                Some(read_requires_python(item, table).map_err(|e| anyhow::anyhow!("{p}: `{key}`: {e}"))?)
            }
        };
        let dev_dependencies = dev_dependencies(root);
        Ok(Pyproject { name, version, dependencies, requires_python, table, source, dev_dependencies, version_error })
    }
}

/// The names of `[dependency-groups]` (every group: an `include-group` names another group of
/// the same file), `[tool.uv] dev-dependencies` and `[tool.uv.sources]` entries that are paths
/// or workspace members, sorted. A requirement that does not parse is no edge (uv reports it).
fn dev_dependencies(root: &toml_edit::Table) -> Vec<PackageName> {
    let mut names = Vec::new();
    let groups = root.get("dependency-groups").and_then(Item::as_table_like);
    let legacy = lookup(root, &["tool", "uv", "dev-dependencies"]).and_then(Item::as_array);
    let arrays = groups.into_iter().flat_map(|g| g.iter().filter_map(|(_, v)| v.as_array())).chain(legacy);
    for entry in arrays.flatten() {
        if let Some(r) = entry.as_str().and_then(|t| Requirement::parse(t).ok()) {
            names.push(r.name);
        }
    }
    if let Some(sources) = lookup(root, &["tool", "uv", "sources"]).and_then(Item::as_table_like) {
        for (name, source) in sources.iter() {
            let local = |t: &dyn toml_edit::TableLike| {
                t.get("path").is_some() || t.get("workspace").and_then(Item::as_bool) == Some(true)
            };
            if source.as_table_like().is_some_and(local) {
                names.push(PackageName::new(name));
            }
        }
    }
    names.sort();
    names.dedup();
    names
}

/// The interpreter constraint in PEP 440 form, validated (poetry's `^3.9` becomes `>=3.9,<4`).
fn read_requires_python(item: &Item, table: Table) -> Result<String, String> {
    let text = item.as_str().ok_or_else(|| format!("`{}` is not a string", item.to_string().trim()))?;
    let spec = match table {
        Table::Project => text.trim().to_string(),
        Table::Poetry => poetry_constraint(text)?,
    };
    crate::requirement::specifier::parse_all(&spec).map_err(|e| format!("{e}; write it like `>=3.9,<4.0`"))?;
    Ok(spec)
}

/// The requirements of one `[tool.poetry.dependencies]` entry, with whether each is optional:
/// a string constraint, an inline table (`{ version = "^0.14", optional = true, extras = […],
/// markers = "…" }`) or an array of such tables (one per environment). `path`, `git` and `url`
/// tables carry no version and stay unconstrained.
fn poetry_requirements(name: &str, spec: &Item) -> Result<Vec<(String, bool)>, String> {
    let one = |table: &dyn toml_edit::TableLike| -> Result<(String, bool), String> {
        let get_str = |key: &str| table.get(key).and_then(Item::as_str);
        let constraint = poetry_constraint(get_str("version").unwrap_or("")).map_err(|e| format!("`{name}`: {e}"))?;
        let extras: Vec<&str> =
            table.get("extras").and_then(Item::as_array).into_iter().flatten().filter_map(|v| v.as_str()).collect();
        let extras = if extras.is_empty() { String::new() } else { format!("[{}]", extras.join(",")) };
        let marker = get_str("markers").map(|m| format!("; {m}")).unwrap_or_default();
        let optional = table.get("optional").and_then(Item::as_bool).unwrap_or(false);
        Ok((format!("{name}{extras}{constraint}{marker}"), optional))
    };
    if let Some(text) = spec.as_str() {
        let constraint = poetry_constraint(text).map_err(|e| format!("`{name}`: {e}"))?;
        return Ok(vec![(format!("{name}{constraint}"), false)]);
    }
    if let Some(table) = spec.as_table_like() {
        return Ok(vec![one(table)?]);
    }
    if let Some(array) = spec.as_array() {
        return array
            .iter()
            .map(|v| v.as_inline_table().ok_or_else(|| format!("`{name}`: expected tables in the array, found `{v}`")))
            .map(|t| t.and_then(|t| one(t)))
            .collect();
    }
    if let Some(array) = spec.as_array_of_tables() {
        return array.iter().map(|t| one(t)).collect();
    }
    Err(format!("`{name}` is neither a version constraint nor a table: `{}`", spec.to_string().trim()))
}

/// Poetry's constraint syntax in PEP 440: `^1.2` → `>=1.2,<2`, `~1.2` → `>=1.2,<1.3`, `1.2` →
/// `==1.2`, `*` → no constraint; clauses separated by commas or spaces (`>= 1.2 < 1.5`).
/// Alternatives (`^1 || ^2`) have no PEP 440 form and are an error.
fn poetry_constraint(c: &str) -> Result<String, String> {
    let c = c.trim();
    if c.contains('|') {
        return Err(format!("`{c}`: alternatives (`||`) cannot be written as PEP 440 specifiers; use one range"));
    }
    let mut clauses = Vec::new();
    let mut operator: Option<&str> = None;
    for token in c.split([',', ' ']).filter(|t| !t.is_empty()) {
        if token.chars().all(|ch| "<>=!~^".contains(ch)) {
            operator = Some(token);
            continue;
        }
        let clause = format!("{}{token}", operator.take().unwrap_or(""));
        if let Some(pep440) = poetry_clause(&clause)? {
            clauses.push(pep440);
        }
    }
    if let Some(op) = operator {
        return Err(format!("`{c}` ends with `{op}` and no version after it"));
    }
    Ok(clauses.join(","))
}

fn poetry_clause(clause: &str) -> Result<Option<String>, String> {
    let version = |v: &str| v.parse::<Version>().map_err(|e| format!("`{clause}`: {e}"));
    if clause == "*" {
        return Ok(None);
    }
    if let Some(v) = clause.strip_prefix('^') {
        // The first non-zero part may not change; a shorter version fixes fewer parts.
        let v = version(v)?;
        let r = v.release();
        let upper = if r[0] != 0 || r.len() == 1 {
            format!("{}", r[0] + 1)
        } else if r[1] != 0 || r.len() == 2 {
            format!("0.{}", r[1] + 1)
        } else {
            format!("0.0.{}", r[2] + 1)
        };
        return Ok(Some(format!(">={v},<{upper}")));
    }
    if let Some(v) = clause.strip_prefix('~').filter(|v| !v.starts_with('=')) {
        let v = version(v)?;
        let upper = if v.release().len() == 1 { format!("{}", v.release()[0] + 1) } else { v.next_minor().to_string() };
        return Ok(Some(format!(">={v},<{upper}")));
    }
    if clause.starts_with(|ch: char| ch.is_ascii_digit()) {
        return Ok(Some(format!("=={clause}")));
    }
    if let Some(v) = clause.strip_prefix('=').filter(|v| !v.starts_with('=')) {
        return Ok(Some(format!("=={v}")));
    }
    Ok(Some(clause.to_string()))
}

/// The version and where it is written; the inner error is a dynamic version with no source
/// (the package is still read, see `version_error`), the outer one a broken file.
fn read_version(
    path: &Path,
    root: &toml_edit::Table,
    table: Table,
    name: &str,
) -> Result<Result<(Version, VersionSource), String>> {
    let p = path.display();
    let meta = lookup(root, table.path()).expect("table exists");
    let is_dynamic =
        meta.get("dynamic").and_then(Item::as_array).is_some_and(|a| a.iter().any(|v| v.as_str() == Some("version")));
    if is_dynamic {
        let Some(source) = source::detect(root, name) else {
            return Ok(Err(format!(
                "{p}: the version is dynamic (`dynamic = [\"version\"]`) and no source of it was found; tried {}; \
                 configure one of them or write a static `version = \"…\"` in `{}`",
                source::TRIED,
                table.display()
            )));
        };
        return Ok(Ok((Version::placeholder(), source)));
    }
    let Some(item) = meta.get("version") else {
        bail!("{p}: `{}` has no `version`; add `version = \"0.1.0\"`", table.display());
    };
    let text =
        item.as_str().with_context(|| format!("{p}: `version` is not a string: `{}`", item.to_string().trim()))?;
    Ok(Ok((text.parse().map_err(|e| anyhow::anyhow!("{p}: {e}"))?, VersionSource::Static)))
}

/// Returns `text` with the package's version set to `new`; only that value changes.
pub fn set_version(path: &Path, text: &str, new: &Version) -> Result<String> {
    let mut doc = parse_toml(path, text, |t| t.parse::<DocumentMut>())?;
    set_version_in(path, &mut doc, new)?;
    Ok(doc.to_string())
}

fn set_version_in(path: &Path, doc: &mut DocumentMut, new: &Version) -> Result<()> {
    let table = find_table(doc.as_table())
        .with_context(|| format!("{}: no `[project]` table with a `name`", path.display()))?;
    let name = lookup(doc.as_table(), table.path()).and_then(|m| m.get("name")).and_then(Item::as_str).unwrap_or("");
    match read_version(path, doc.as_table(), table, name)? {
        Ok((_, VersionSource::Static)) => {}
        Ok(_) => bail!("{}: the version is dynamic; it is written in its source, not in this file", path.display()),
        Err(missing) => bail!("{missing}"),
    }
    let mut item = doc.as_item_mut();
    for key in table.path() {
        item = &mut item[*key];
    }
    replace_string(&mut item["version"], &new.to_string());
    Ok(())
}

/// Returns `text` with the one runtime dependency on `name` rewritten by `rewrite`.
/// Fails when there is no such dependency or more than one, so an edit happens exactly once.
pub fn rewrite_dependency(
    path: &Path,
    text: &str,
    name: &crate::requirement::PackageName,
    rewrite: impl Fn(&Requirement) -> Requirement,
) -> Result<(String, Requirement, Requirement)> {
    let p = path.display();
    let mut doc = parse_toml(path, text, |t| t.parse::<DocumentMut>())?;
    let deps = doc
        .get_mut("project")
        .and_then(|p| p.get_mut("dependencies"))
        .and_then(Item::as_array_mut)
        .with_context(|| format!("{p}: no `project.dependencies` array; the umbrella must depend on `{name}`"))?;
    let mut hits = Vec::new();
    for (i, dep) in deps.iter().enumerate() {
        if let Some(req) = dep.as_str().and_then(|s| Requirement::parse(s).ok()) {
            if &req.name == name {
                hits.push((i, req));
            }
        }
    }
    let (index, old) = match hits.len() {
        1 => hits.pop().expect("one hit"),
        0 => {
            bail!("{p}: `project.dependencies` has no requirement on `{name}`; add one such as `\"{name}>=1.0,<1.1\"`")
        }
        n => bail!("{p}: `project.dependencies` has {n} requirements on `{name}`; keep exactly one"),
    };
    let new = rewrite(&old);
    replace_string_value(deps.get_mut(index).expect("index from iteration"), &new.to_string());
    Ok((doc.to_string(), old, new))
}

/// One requirement the compatibility wave rewrote, as written before and after.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Widened {
    pub dependency: PackageName,
    pub before: String,
    pub after: String,
}

/// Returns `text` with every runtime requirement on a package of `moves` (name → its new
/// version) that excludes the new version widened to admit its series, keeping the lower bound,
/// extras, marker, spacing and quotes (`requirement::widen_requirement`). Covers
/// `project.dependencies`, `project.optional-dependencies` and `[tool.poetry.dependencies]`
/// (strings and tables' `version`). An exclusion that cannot be widened names the file. With
/// `version`, the package's version is set too, in the same pass.
pub fn widen_requirements(
    path: &Path,
    text: &str,
    moves: &HashMap<PackageName, Version>,
    version: Option<&Version>,
) -> Result<(String, Vec<Widened>)> {
    let p = path.display();
    let mut doc = parse_toml(path, text, |t| t.parse::<DocumentMut>())?;
    let mut widened = Vec::new();
    let mut errors = Vec::new();
    let mut widen = |value: &mut Value, name: &str, poetry: bool| {
        let Some(raw) = value.as_str().map(str::to_string) else { return };
        let dependency = match poetry {
            true => PackageName::new(name),
            false => Requirement::parse(&raw).map(|r| r.name).unwrap_or_else(|_| PackageName::new("")),
        };
        let Some(new) = moves.get(&dependency) else { return };
        let result = if poetry {
            let constraint = if raw.trim() == "*" { Ok(String::new()) } else { poetry_constraint(&raw) };
            constraint.and_then(|c| requirement::widen_specifiers(&c, new))
        } else {
            requirement::widen_requirement(&raw, new)
        };
        match result {
            Ok(Some(after)) => {
                let shown = |s: &str| if poetry { format!("{name} = \"{s}\"") } else { s.to_string() };
                widened.push(Widened { dependency: dependency.clone(), before: shown(&raw), after: shown(&after) });
                replace_string_value(value, &after);
            }
            Ok(None) => {}
            Err(e) => errors.push(format!("{p}: the requirement `{raw}` on `{dependency}`: {e}")),
        }
    };
    if let Some(project) = doc.get_mut("project").and_then(Item::as_table_like_mut) {
        let mut arrays: Vec<&mut toml_edit::Array> = Vec::new();
        let (deps, optional) = split_two(project, "dependencies", "optional-dependencies");
        arrays.extend(deps.and_then(Item::as_array_mut));
        if let Some(groups) = optional.and_then(Item::as_table_like_mut) {
            arrays.extend(groups.iter_mut().filter_map(|(_, v)| v.as_array_mut()));
        }
        for array in arrays {
            for value in array.iter_mut() {
                widen(value, "", false);
            }
        }
    }
    // `Item::get_mut` would insert missing tables; the table-like lookups never do.
    let poetry = doc
        .get_mut("tool")
        .and_then(Item::as_table_like_mut)
        .and_then(|t| t.get_mut("poetry"))
        .and_then(Item::as_table_like_mut)
        .and_then(|t| t.get_mut("dependencies"));
    if let Some(deps) = poetry.and_then(Item::as_table_like_mut) {
        for (key, item) in deps.iter_mut().filter(|(k, _)| k.get() != "python") {
            let name = key.get().to_string();
            let value = match item {
                Item::Value(Value::InlineTable(t)) => t.get_mut("version"),
                Item::Table(t) => t.get_mut("version").and_then(Item::as_value_mut),
                other => other.as_value_mut(),
            };
            if let Some(value) = value {
                widen(value, &name, true);
            }
        }
    }
    if !errors.is_empty() {
        bail!("{}", errors.join("\n"));
    }
    if let Some(new) = version {
        set_version_in(path, &mut doc, new)?;
    }
    Ok((doc.to_string(), widened))
}

/// Two entries of one table, borrowed mutably at once.
fn split_two<'a>(
    table: &'a mut dyn toml_edit::TableLike,
    a: &str,
    b: &str,
) -> (Option<&'a mut Item>, Option<&'a mut Item>) {
    let (mut first, mut second) = (None, None);
    for (key, item) in table.iter_mut() {
        if key.get() == a {
            first = Some(item);
        } else if key.get() == b {
            second = Some(item);
        }
    }
    (first, second)
}

/// Replaces a string value, keeping the whitespace and comments around it.
fn replace_string(item: &mut Item, new: &str) {
    if let Some(value) = item.as_value_mut() {
        replace_string_value(value, new);
    }
}

/// Replaces a string value in place: the decor (whitespace, comments) and the quote style stay;
/// a literal `'…'` string stays literal unless the new text holds a `'`.
pub fn replace_string_value(value: &mut Value, new: &str) {
    let decor = value.decor().clone();
    let literal = matches!(value, Value::String(f)
        if f.as_repr().and_then(|r| r.as_raw().as_str()).is_some_and(|raw| raw.starts_with('\'')));
    *value = match format!("'{new}'").parse::<Value>() {
        Ok(v) if literal && !new.contains('\'') => v,
        _ => Value::from(new),
    };
    *value.decor_mut() = decor;
}

#[cfg(test)]
mod tests {
    use super::*;
    use expect_test::expect;

    fn parse(text: &str) -> Result<Pyproject> {
        Pyproject::parse(Path::new("pkg/pyproject.toml"), text)
    }

    #[test]
    fn reads_project_and_poetry_tables() {
        let p = parse(
            r#"
[project]
name = "llama-index-llms-openai"
version = "0.6.1"
requires-python = ">=3.9,<4.0"
dependencies = ["llama-index-core>=0.14.0,<0.15", "openai~=1.0"]
[project.optional-dependencies]
extra = ["llama-index-embeddings-openai>=0.5"]
[build-system]
build-backend = "hatchling.build"
"#,
        )
        .unwrap();
        assert_eq!(p.name, "llama-index-llms-openai");
        assert_eq!(p.version.to_string(), "0.6.1");
        let names: Vec<_> = p.dependencies.iter().map(|d| d.name.to_string()).collect();
        assert_eq!(names, ["llama-index-core", "openai", "llama-index-embeddings-openai"]);
        assert_eq!(p.requires_python.as_deref(), Some(">=3.9,<4.0"));

        let p = parse(
            r#"
[tool.poetry]
name = "llama-index-readers-legacy"
version = "0.3.0"
[tool.poetry.dependencies]
python = ">=3.9,<4.0"
llama-index-core = "^0.14.0"
requests = "*"
[build-system]
build-backend = "poetry.core.masonry.api"
"#,
        )
        .unwrap();
        assert_eq!(p.table, Table::Poetry);
        let deps: Vec<_> = p.dependencies.iter().map(|d| d.to_string()).collect();
        assert_eq!(deps, ["llama-index-core>=0.14.0,<0.15", "requests"]);
        assert_eq!(p.requires_python.as_deref(), Some(">=3.9,<4.0"));
    }

    #[test]
    fn poetry_tables_and_constraints_are_read_as_constrained() {
        let p = parse(
            r#"
[tool.poetry]
name = "llama-index-readers-legacy"
version = "0.3.0"
[tool.poetry.dependencies]
python = "^3.9"
llama-index-core = {version = "^0.14", extras = ["a", "b"]}
llama-index-llms-openai = { version = "~0.5.1", optional = true }
two = [{ version = ">=1.0 <2.0", markers = "python_version < '3.10'" }, { version = ">= 2.0, < 3" }]
local = { path = "../local", develop = true }
caret-zero = "^0.0.3"
exact = "1.2.3"
"#,
        )
        .unwrap();
        let deps: Vec<String> = p.dependencies.iter().map(|d| format!("{d} optional={}", d.optional)).collect();
        expect![[r#"
            llama-index-core[a,b]>=0.14,<0.15 optional=false
            llama-index-llms-openai>=0.5.1,<0.6.0 optional=true
            two>=1.0,<2.0; python_version < '3.10' optional=false
            two>=2.0,<3 optional=false
            local optional=false
            caret-zero>=0.0.3,<0.0.4 optional=false
            exact==1.2.3 optional=false"#]]
        .assert_eq(&deps.join("\n"));
        assert_eq!(p.requires_python.as_deref(), Some(">=3.9,<4"));
        let core = &p.dependencies[0];
        assert!(!core.allows(&"0.15.0".parse().unwrap()).unwrap(), "an inline table's version constrains");
    }

    #[test]
    fn optional_dependencies_are_marked() {
        let p = parse(
            "[project]\nname = \"core\"\nversion = \"1.0\"\ndependencies = [\"a>=1\"]\n\
             [project.optional-dependencies]\nall = [\"b>=2\"]\n",
        )
        .unwrap();
        let optional: Vec<(String, bool)> = p.dependencies.iter().map(|d| (d.to_string(), d.optional)).collect();
        assert_eq!(optional, [("a>=1".to_string(), false), ("b>=2".to_string(), true)]);
    }

    #[test]
    fn bad_dependencies_and_requires_python_name_the_file() {
        let project = |extra: &str| parse(&format!("[project]\nname = \"x\"\nversion = \"1.0\"\n{extra}\n"));
        let poetry = |extra: &str| {
            parse(&format!("[tool.poetry]\nname = \"x\"\nversion = \"1.0\"\n[tool.poetry.dependencies]\n{extra}\n"))
        };
        let check = |r: Result<Pyproject>, want: expect_test::Expect| want.assert_eq(&r.unwrap_err().to_string());
        check(
            project("requires-python = \">=3.9,<\""),
            expect!["pkg/pyproject.toml: `requires-python`: `<` is not a version specifier: expected one version after `<`; separate specifiers with commas (`>=1.0,<2.0`); write it like `>=3.9,<4.0`"],
        );
        check(
            project("requires-python = \"3.9\""),
            expect!["pkg/pyproject.toml: `requires-python`: `3.9` is not a version specifier: it must start with one of `==`, `!=`, `<=`, `>=`, `<`, `>`, `~=` or `===`; write it like `>=3.9,<4.0`"],
        );
        check(
            project("dependencies = [\"pkg >=1.0 <2.0\"]"),
            expect!["pkg/pyproject.toml: `pkg >=1.0 <2.0`: `>=1.0 <2.0` is not a version specifier: expected one version after `>=`; separate specifiers with commas (`>=1.0,<2.0`)"],
        );
        check(
            project("dependencies = [\"pkg;\"]"),
            expect![
                "pkg/pyproject.toml: `pkg;` has an empty environment marker after `;`; remove the `;` or add a marker"
            ],
        );
        check(
            poetry("a = \"^1 || ^2\""),
            expect!["pkg/pyproject.toml: `a`: `^1 || ^2`: alternatives (`||`) cannot be written as PEP 440 specifiers; use one range"],
        );
        check(poetry("python = \"^3.x\""), expect!["pkg/pyproject.toml: `python`: `^3.x`: `3.x` is not a PEP 440 version (expected something like `1.2.3`, `1.0rc1` or `2.0.post1`)"]);
    }

    #[test]
    fn bad_input_names_the_file() {
        let check = |text: &str, want: expect_test::Expect| want.assert_eq(&parse(text).unwrap_err().to_string());
        check(
            "[project\nname = 1",
            expect!["pkg/pyproject.toml:1:9: invalid TOML: unclosed table, expected `]`; fix the file and rerun"],
        );
        check(
            "[tool.black]\nline-length = 88\n",
            expect![[
                r#"pkg/pyproject.toml: no `[project]` table with a `name`; add `[project]` with `name` and `version`"#
            ]],
        );
        check(
            "[project]\nname = \"x\"\n",
            expect![[r#"pkg/pyproject.toml: `[project]` has no `version`; add `version = "0.1.0"`"#]],
        );
        // A dynamic version with no source is the package's to explain, not the file's: the
        // commands that act on it fail with this, the others warn.
        let check_missing = |text: &str, want: expect_test::Expect| {
            want.assert_eq(parse(text).unwrap().version_error.as_deref().unwrap_or("-"))
        };
        check_missing(
            "[project]\nname = \"x\"\ndynamic = [\"version\"]\n",
            expect![[
                r#"pkg/pyproject.toml: the version is dynamic (`dynamic = ["version"]`) and no source of it was found; tried `[tool.hatch.version]` (`path` or `source = "vcs"`), `[tool.setuptools.dynamic] version` (`attr` or `file`), `[tool.setuptools_scm]`, `[tool.pdm.version]` (`file` or `scm`), flit's `__version__`; configure one of them or write a static `version = "…"` in `[project]`"#
            ]],
        );
        check(
            "[project]\nname = \"x\"\nversion = \"one\"\n",
            expect![[
                r#"pkg/pyproject.toml: `one` is not a PEP 440 version (expected something like `1.2.3`, `1.0rc1` or `2.0.post1`)"#
            ]],
        );
    }

    #[test]
    fn set_version_touches_only_the_version() {
        let before = r#"# The umbrella package.
[project]
name   =   "llama-index"
version     = "0.14.12"   # bumped by the release tool
dependencies = [
    "llama-index-core>=0.14.12,<0.15.0",  # keep in step
]

[tool.other]
version = "9.9.9"
"#;
        let after = set_version(Path::new("pyproject.toml"), before, &"0.14.13".parse().unwrap()).unwrap();
        expect![[r#"
            # The umbrella package.
            [project]
            name   =   "llama-index"
            version     = "0.14.13"   # bumped by the release tool
            dependencies = [
                "llama-index-core>=0.14.12,<0.15.0",  # keep in step
            ]

            [tool.other]
            version = "9.9.9"
        "#]]
        .assert_eq(&after);
    }

    #[test]
    fn set_version_in_poetry_table() {
        let before = "[tool.poetry]\nname = \"x\"\nversion='1.0.0'\n";
        let after = set_version(Path::new("pyproject.toml"), before, &"1.0.1".parse().unwrap()).unwrap();
        assert_eq!(after, "[tool.poetry]\nname = \"x\"\nversion='1.0.1'\n", "the literal quotes stay");
    }

    #[test]
    fn rewrite_dependency_keeps_markers_and_comments() {
        let before = r#"[project]
name = "llama-index"
version = "0.14.12"
dependencies = [
    "llama-index-cli>=0.5",
    "llama-index-core[extra] >=0.14.12,<0.15.0 ; python_version >= '3.9'",  # core
]
"#;
        let core = crate::requirement::PackageName::new("llama_index_core");
        let (after, old, new) =
            rewrite_dependency(Path::new("pyproject.toml"), before, &core, |r| r.with_specifiers(">=0.14.13,<0.15.0"))
                .unwrap();
        assert_eq!(old.specifiers, ">=0.14.12,<0.15.0");
        assert_eq!(new.to_string(), "llama-index-core[extra]>=0.14.13,<0.15.0; python_version >= '3.9'");
        expect![[r#"
            [project]
            name = "llama-index"
            version = "0.14.12"
            dependencies = [
                "llama-index-cli>=0.5",
                "llama-index-core[extra]>=0.14.13,<0.15.0; python_version >= '3.9'",  # core
            ]
        "#]]
        .assert_eq(&after);

        let none = "[project]\nname = \"x\"\nversion = \"1\"\ndependencies = []\n";
        let err = rewrite_dependency(Path::new("pyproject.toml"), none, &core, |r| r.clone()).unwrap_err();
        assert!(err.to_string().contains("has no requirement on `llama-index-core`"), "{err}");
    }

    #[test]
    fn widen_requirements_covers_every_table_and_adds_nothing() {
        let moves = [(crate::requirement::PackageName::new("llama-index-core"), "0.14.0".parse().unwrap())].into();
        let widen = |text: &str| widen_requirements(Path::new("p/pyproject.toml"), text, &moves, None);
        let project =
            "[project]\nname = \"a\"\nversion = \"1\"\ndependencies = ['llama_index.core >=0.13,<0.14']  # c\n\
                       [project.optional-dependencies]\nx = [\"llama-index-core<0.14.0; python_version < '3.10'\"]\n";
        let (text, widened) = widen(project).unwrap();
        expect![[r#"
            [project]
            name = "a"
            version = "1"
            dependencies = ['llama_index.core >=0.13,<0.15']  # c
            [project.optional-dependencies]
            x = ["llama-index-core<0.15.0; python_version < '3.10'"]
        "#]]
        .assert_eq(&text);
        assert_eq!(widened.len(), 2);
        // A caret is written out; a table without a poetry section gets none.
        let poetry = "[tool.poetry]\nname = \"a\"\nversion = \"1\"\n[tool.poetry.dependencies]\nllama-index-core = \"^0.13.1\"\n";
        let (text, widened) = widen(poetry).unwrap();
        assert!(text.ends_with("llama-index-core = \">=0.13.1,<0.15\"\n"), "{text}");
        assert_eq!(widened[0].before, "llama-index-core = \"^0.13.1\"");
        let (text, widened) = widen("[project]\nname = \"a\"\nversion = \"1\"\n[tool.black]\nx = 1\n").unwrap();
        assert_eq!(
            (text.as_str(), widened.len()),
            ("[project]\nname = \"a\"\nversion = \"1\"\n[tool.black]\nx = 1\n", 0)
        );
        let err = widen("[project]\nname = \"a\"\nversion = \"1\"\ndependencies = [\"llama-index-core==0.13.6\"]\n")
            .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("p/pyproject.toml: the requirement `llama-index-core==0.13.6` on `llama-index-core`: "),
            "{err}"
        );
    }
}
