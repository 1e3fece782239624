//! The artifact check: a build compared with the package's previous release on the index, like
//! with like (wheel with wheel, sdist with sdist): the members, the size, and the wheel's
//! `Requires-Dist`, `Requires-Python`, entry points and top-level import names. A build that
//! lost members, or more than half its size, stops before anything is uploaded (a core built
//! without its data files is the case that made this necessary). Pure: the caller reads the files.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use super::archive::Contents;

/// One distribution on each side: (filename, size in bytes, contents).
pub struct Side<'a> {
    pub filename: &'a str,
    pub size: u64,
    pub contents: &'a Contents,
}

/// How one kind (wheel or sdist) changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KindChange {
    pub kind: &'static str,
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub size_before: u64,
    pub size_after: u64,
}

/// The comparison of a build with the previous release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub previous: String,
    pub kinds: Vec<KindChange>,
    /// (what, added, removed) for `Requires-Dist`, `Requires-Python`, entry points, top-level names.
    pub metadata: Vec<(&'static str, Vec<String>, Vec<String>)>,
}

impl Check {
    /// Why the upload must stop, one short reason per kind: lost members, or more than half
    /// the size gone.
    pub fn stop_reasons(&self) -> Vec<String> {
        let mut why = Vec::new();
        for k in &self.kinds {
            let lost =
                (!k.removed.is_empty()).then(|| format!("lost {}", super::report::count(k.removed.len(), "file")));
            let small = (k.size_after * 2 < k.size_before)
                .then(|| format!("is {} against {}", size(k.size_after), size(k.size_before)));
            let parts: Vec<String> = lost.into_iter().chain(small).collect();
            if !parts.is_empty() {
                why.push(format!("its {} {} in {}", k.kind, parts.join(" and "), self.previous));
            }
        }
        why
    }

    /// The first members lost, per kind, for the line under the reasons.
    pub fn lost(&self) -> Vec<String> {
        self.kinds
            .iter()
            .filter(|k| !k.removed.is_empty())
            .map(|k| format!("{}: {}", k.kind, first(&k.removed)))
            .collect()
    }

    /// One line for the plan and the log.
    pub fn line(&self) -> String {
        let mut parts: Vec<String> = self
            .kinds
            .iter()
            .map(|k| {
                format!(
                    "{} +{} −{} files, {} → {}",
                    k.kind,
                    k.added.len(),
                    k.removed.len(),
                    size(k.size_before),
                    size(k.size_after)
                )
            })
            .collect();
        for (what, added, removed) in &self.metadata {
            if !added.is_empty() || !removed.is_empty() {
                parts.push(format!("{what} +{} −{}", added.len(), removed.len()));
            }
        }
        format!("against {}: {}", self.previous, parts.join("; "))
    }

    pub fn to_json(&self) -> Value {
        let kinds: Vec<Value> = self
            .kinds
            .iter()
            .map(|k| {
                json!({"kind": k.kind, "added": k.added, "removed": k.removed,
                       "size_before": k.size_before, "size_after": k.size_after})
            })
            .collect();
        let metadata: serde_json::Map<String, Value> = self
            .metadata
            .iter()
            .map(|(what, added, removed)| (what.to_string(), json!({"added": added, "removed": removed})))
            .collect();
        json!({"previous": self.previous, "kinds": kinds, "metadata": metadata, "stop": self.stop_reasons()})
    }
}

/// Compares `ours` with `theirs` (the previous release `previous`), wheel with wheel and sdist
/// with sdist; kinds that one side lacks are not compared.
pub fn compare(previous: &str, ours: &[Side], theirs: &[Side]) -> Check {
    let mut kinds = Vec::new();
    for kind in ["wheel", "sdist"] {
        let pick = |sides: &[Side]| sides.iter().position(|s| kind_of(s.filename) == Some(kind));
        let (Some(a), Some(b)) = (pick(theirs), pick(ours)) else { continue };
        let (before, after) = (&theirs[a], &ours[b]);
        let old: BTreeSet<&String> = before.contents.files.keys().collect();
        let new: BTreeSet<&String> = after.contents.files.keys().collect();
        kinds.push(KindChange {
            kind,
            added: new.difference(&old).map(|s| s.to_string()).collect(),
            removed: old.difference(&new).map(|s| s.to_string()).collect(),
            size_before: before.size,
            size_after: after.size,
        });
    }
    let wheel =
        |sides: &[Side]| sides.iter().find(|s| kind_of(s.filename) == Some("wheel")).map(|s| s.contents.clone());
    let mut metadata = Vec::new();
    if let (Some(old), Some(new)) = (wheel(theirs), wheel(ours)) {
        let fields: [(&'static str, Field); 4] = [
            ("Requires-Dist", |c| header(c, "Requires-Dist")),
            ("Requires-Python", |c| header(c, "Requires-Python")),
            ("entry points", |c| {
                c.entry_points
                    .iter()
                    .flat_map(|t| t.lines())
                    .filter(|l| l.contains('='))
                    .map(|l| l.replace(' ', ""))
                    .collect()
            }),
            ("top-level names", import_names),
        ];
        for (what, get) in fields {
            let (a, b) = (get(&old), get(&new));
            metadata.push((what, b.difference(&a).cloned().collect(), a.difference(&b).cloned().collect()));
        }
    }
    Check { previous: previous.to_string(), kinds, metadata }
}

pub fn kind_of(filename: &str) -> Option<&'static str> {
    if filename.ends_with(".whl") {
        Some("wheel")
    } else if filename.ends_with(".tar.gz") || filename.ends_with(".zip") {
        Some("sdist")
    } else {
        None
    }
}

/// How one compared piece of metadata is read from a wheel.
type Field = fn(&Contents) -> BTreeSet<String>;

fn header(c: &Contents, name: &str) -> BTreeSet<String> {
    let prefix = format!("{name}:");
    let text = c.metadata.as_deref().unwrap_or("");
    // Headers end at the first blank line; the long description follows.
    text.lines()
        .take_while(|l| !l.is_empty())
        .filter_map(|l| l.strip_prefix(&prefix))
        .map(|v| v.trim().to_string())
        .collect()
}

/// The names a user imports: each regular package (a directory with `__init__.py`) below no
/// other one, and each top-level module; `llama_index/core/__init__.py` gives `llama_index.core`
/// under the namespace package.
fn import_names(c: &Contents) -> BTreeSet<String> {
    let packages: BTreeSet<&str> =
        c.files.keys().filter_map(|p| p.strip_suffix("/__init__.py")).filter(|p| !p.starts_with('{')).collect();
    let mut names = BTreeSet::new();
    for p in &packages {
        let parts: Vec<&str> = p.split('/').collect();
        if !(1..parts.len()).any(|n| packages.contains(parts[..n].join("/").as_str())) {
            names.insert(parts.join("."));
        }
    }
    names.extend(c.files.keys().filter(|p| !p.contains('/')).filter_map(|p| p.strip_suffix(".py")).map(str::to_string));
    names
}

fn first(names: &[String]) -> String {
    let shown: Vec<String> = names.iter().take(3).map(|n| format!("`{n}`")).collect();
    let more = if names.len() > 3 { format!(" and {} more", names.len() - 3) } else { String::new() };
    format!("{}{more}", shown.join(", "))
}

/// `11.9 MB`, `752 kB`, `900 B`.
pub fn size(bytes: u64) -> String {
    match bytes {
        0..1_000 => format!("{bytes} B"),
        1_000..1_000_000 => format!("{:.0} kB", bytes as f64 / 1e3),
        _ => format!("{:.1} MB", bytes as f64 / 1e6),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contents(files: &[&str], metadata: &str) -> Contents {
        Contents {
            files: files.iter().map(|f| (f.to_string(), 10)).collect(),
            metadata: Some(metadata.to_string()),
            entry_points: None,
        }
    }

    #[test]
    fn lost_files_and_size_stop_new_requirements_do_not() {
        let old = contents(
            &[
                "llama_index/core/__init__.py",
                "llama_index/core/_static/a.txt",
                "llama_index/core/_static/b.txt",
                "{dist-info}/METADATA",
            ],
            "Name: x\nRequires-Dist: pydantic>=2\nRequires-Python: >=3.9\n\nlong text\nRequires-Dist: not-a-header\n",
        );
        let new = contents(
            &["llama_index/core/__init__.py", "llama_index/core/new.py", "{dist-info}/METADATA"],
            "Name: x\nRequires-Dist: pydantic>=2\nRequires-Dist: httpx\nRequires-Python: >=3.9\n",
        );
        let theirs = [Side { filename: "x-1.0-py3-none-any.whl", size: 12_000_000, contents: &old }];
        let ours = [Side { filename: "x-1.1-py3-none-any.whl", size: 750_000, contents: &new }];
        let check = compare("1.0", &ours, &theirs);
        expect_test::expect![[r#"
            against 1.0: wheel +1 −2 files, 12.0 MB → 750 kB; Requires-Dist +1 −0
            its wheel lost 2 files and is 750 kB against 12.0 MB in 1.0
            wheel: `llama_index/core/_static/a.txt`, `llama_index/core/_static/b.txt`"#]]
        .assert_eq(&format!("{}\n{}\n{}", check.line(), check.stop_reasons().join("\n"), check.lost().join("\n")));
        assert_eq!(import_names(&new).into_iter().collect::<Vec<_>>(), ["llama_index.core"]);
        let same = compare("1.0", &theirs, &theirs);
        assert!(same.stop_reasons().is_empty());
    }
}
