//! The fast read of a `pyproject.toml`: `toml_parser`'s events turned into a `toml_edit` table
//! holding only `[project]`, `[tool.poetry]`, `[tool.uv]` and `[dependency-groups]`, the
//! tables [`Pyproject`](super::Pyproject) reads (a dynamic version's source is looked up in the
//! whole document). Building the whole document (every `[tool.*]` table, with spans and decor) was most
//! of the time of loading 2,000 packages.
//!
//! Anything unusual inside those tables (a number, a date, an array of tables, a key
//! defined twice) and any syntax error anywhere gives `None`, and the caller parses the whole
//! file with `toml_edit`, whose answer and errors are the reference. Tables outside those
//! are checked for syntax only.

use std::borrow::Cow;

use toml_edit::{Array, InlineTable, Item, Table, Value};
use toml_parser::{
    decoder::{Encoding, ScalarKind},
    parser::{EventReceiver, RecursionGuard, ValidateWhitespace},
    ErrorSink, ParseError, Raw, Source, Span,
};

/// The root table with only the wanted tables, or `None` to parse the whole file instead.
pub fn read(text: &str) -> Option<Table> {
    let source = Source::new(text);
    // Sized up front: growing the vector by doubling copied it over and over.
    let mut tokens = Vec::with_capacity(text.len() / 3 + 16);
    tokens.extend(source.lex());
    let mut reader = Reader {
        source,
        root: Table::new(),
        at: At::Line,
        table: Vec::new(),
        table_wanted: true,
        headers: Vec::new(),
        dotted: Vec::new(),
        key: Vec::new(),
        stack: Vec::new(),
        skipping: 0,
        bail: false,
    };
    let mut errors = Errors(false);
    {
        let mut validate = ValidateWhitespace::new(&mut reader, source);
        let mut guard = RecursionGuard::new(&mut validate, 80);
        toml_parser::parser::parse_document(&tokens, &mut guard, &mut errors);
    }
    (!errors.0 && !reader.bail && reader.stack.is_empty()).then_some(reader.root)
}

type Key<'s> = Cow<'s, str>;

/// `[dependency-groups]` and `[tool.uv]` are the test graph's edges (`Pyproject::dev_dependencies`).
const WANTED: [&[&str]; 4] = [&["project"], &["tool", "poetry"], &["tool", "uv"], &["dependency-groups"]];

/// Whether the key path `a` then `b` is inside a wanted table, or on the way to one (`tool`).
fn wanted(a: &[Key<'_>], b: &[Key<'_>]) -> bool {
    // Plain loops: this runs for every value, and the debug build does not inline iterators.
    let at = |i: usize| if i < a.len() { Some(&*a[i]) } else { b.get(i - a.len()).map(|k| &**k) };
    'next: for w in WANTED {
        for (i, want) in w.iter().enumerate() {
            match at(i) {
                Some(k) if k != *want => continue 'next,
                Some(_) => {}
                None => return true,
            }
        }
        return true;
    }
    false
}

struct Errors(bool);

impl ErrorSink for Errors {
    fn report_error(&mut self, _error: ParseError) {
        self.0 = true;
    }
}

/// Where the events are in the grammar.
#[derive(PartialEq, Eq)]
enum At {
    Line,
    /// Inside `[a.b]`.
    Header,
    /// Reading the key of a key-value pair (`a.b = `).
    Key,
    /// After `=`, waiting for the value.
    Value,
}

/// A value being built: an array, or an inline table with the key it is reading.
enum Frame<'s> {
    Array(Array),
    Inline { table: InlineTable, key: Vec<Key<'s>>, reading_key: bool },
}

struct Reader<'s> {
    source: Source<'s>,
    root: Table,
    at: At,
    /// The current table (`[tool.poetry]`), and whether it is, or leads to, a wanted one.
    table: Vec<Key<'s>>,
    table_wanted: bool,
    /// The wanted tables opened by a header, and those made by dotted keys: TOML forbids
    /// mixing the two for one table, and the reference reports it.
    headers: Vec<Vec<Key<'s>>>,
    dotted: Vec<Vec<Key<'s>>>,
    /// The key of the pair being read.
    key: Vec<Key<'s>>,
    stack: Vec<Frame<'s>>,
    /// Depth of an unwanted array or inline table being skipped.
    skipping: usize,
    bail: bool,
}

impl<'s> Reader<'s> {
    /// The text of `span` with the encoding its event gave (quoted or not).
    fn raw(&self, span: Span, encoding: Option<Encoding>) -> Option<Raw<'s>> {
        let text = self.source.input().get(span.start()..span.end())?;
        Some(Raw::new_unchecked(text, encoding, span))
    }

    fn decode_key(&self, span: Span, encoding: Option<Encoding>) -> Option<Key<'s>> {
        let raw = self.raw(span, encoding)?;
        let mut out: Cow<'s, str> = Cow::Borrowed("");
        let mut errors = Errors(false);
        raw.decode_key(&mut out, &mut errors);
        (!errors.0).then_some(out)
    }

    /// Whether the value starting now is to be built (else it is skipped).
    fn value_wanted(&self) -> bool {
        self.skipping == 0 && (!self.stack.is_empty() || (self.table_wanted && wanted(&self.table, &self.key)))
    }

    /// An unwanted value ended at the top level: the next pair begins.
    fn skipped_pair(&mut self) {
        if self.skipping == 0 && self.stack.is_empty() {
            self.key.clear();
            self.at = At::Line;
        }
    }

    /// A value is complete: put it where it belongs.
    fn put(&mut self, value: Value) {
        match self.stack.last_mut() {
            Some(Frame::Array(array)) => array.push_formatted(value),
            Some(Frame::Inline { table, key, .. }) => {
                let key = std::mem::take(key);
                if !insert_inline(table, &key, value) {
                    self.bail = true;
                }
            }
            None => {
                let key = std::mem::take(&mut self.key);
                let mut path = self.table.clone();
                for part in &key[..key.len().saturating_sub(1)] {
                    path.push(part.clone());
                    if self.headers.contains(&path) {
                        self.bail = true;
                    }
                    if !self.dotted.contains(&path) {
                        self.dotted.push(path.clone());
                    }
                }
                path.extend(key.last().cloned());
                if !insert(&mut self.root, &path, value) {
                    self.bail = true;
                }
                self.at = At::Line;
            }
        }
    }

    fn header_closed(&mut self) {
        self.at = At::Line;
        self.table_wanted = wanted(&self.table, &[]);
        if !self.table_wanted {
            return;
        }
        if self.headers.contains(&self.table) || self.dotted.contains(&self.table) {
            self.bail = true;
        }
        self.headers.push(self.table.clone());
        // The table exists even when empty (`[project.optional-dependencies]`).
        let mut table = &mut self.root;
        for key in &self.table {
            let entry = table.entry(key).or_insert_with(|| Item::Table(Table::new()));
            match entry {
                Item::Table(t) => table = t,
                _ => {
                    self.bail = true;
                    return;
                }
            }
        }
        table.set_implicit(false);
    }
}

/// Inserts `value` at `path` below `root`, making the tables on the way; `false` when the
/// key is already there (the reference reports that).
fn insert(root: &mut Table, path: &[Key<'_>], value: Value) -> bool {
    let Some((last, parents)) = path.split_last() else { return false };
    let mut table = root;
    for key in parents {
        let entry = table.entry(key).or_insert_with(|| {
            let mut t = Table::new();
            t.set_implicit(true);
            Item::Table(t)
        });
        match entry {
            Item::Table(t) => table = t,
            _ => return false,
        }
    }
    if table.contains_key(last) {
        return false;
    }
    table.insert(last, Item::Value(value));
    true
}

fn insert_inline(table: &mut InlineTable, path: &[Key<'_>], value: Value) -> bool {
    let Some((last, parents)) = path.split_last() else { return false };
    let mut table = table;
    for key in parents {
        let entry = table.entry(key.as_ref()).or_insert(Value::InlineTable(InlineTable::new()));
        match entry {
            Value::InlineTable(t) => table = t,
            _ => return false,
        }
    }
    if table.contains_key(last) {
        return false;
    }
    table.insert(last.as_ref(), value);
    true
}

impl EventReceiver for Reader<'_> {
    fn std_table_open(&mut self, _span: Span, _error: &mut dyn ErrorSink) {
        self.at = At::Header;
        self.table.clear();
    }

    fn std_table_close(&mut self, _span: Span, _error: &mut dyn ErrorSink) {
        self.header_closed();
    }

    fn array_table_open(&mut self, _span: Span, _error: &mut dyn ErrorSink) {
        self.at = At::Header;
        self.table.clear();
    }

    fn array_table_close(&mut self, _span: Span, _error: &mut dyn ErrorSink) {
        self.at = At::Line;
        // `[[tool.poetry.source]]` and the like: rare, left to the reference.
        if wanted(&self.table, &[]) {
            self.bail = true;
        }
        self.table_wanted = false;
    }

    fn inline_table_open(&mut self, _span: Span, _error: &mut dyn ErrorSink) -> bool {
        if self.value_wanted() {
            self.stack.push(Frame::Inline { table: InlineTable::new(), key: Vec::new(), reading_key: true });
        } else {
            self.skipping += 1;
        }
        true
    }

    fn inline_table_close(&mut self, _span: Span, _error: &mut dyn ErrorSink) {
        if self.skipping > 0 {
            self.skipping -= 1;
            return self.skipped_pair();
        }
        match self.stack.pop() {
            Some(Frame::Inline { table, .. }) => self.put(Value::InlineTable(table)),
            _ => self.bail = true,
        }
    }

    fn array_open(&mut self, _span: Span, _error: &mut dyn ErrorSink) -> bool {
        if self.value_wanted() {
            self.stack.push(Frame::Array(Array::new()));
        } else {
            self.skipping += 1;
        }
        true
    }

    fn array_close(&mut self, _span: Span, _error: &mut dyn ErrorSink) {
        if self.skipping > 0 {
            self.skipping -= 1;
            return self.skipped_pair();
        }
        match self.stack.pop() {
            Some(Frame::Array(array)) => self.put(Value::Array(array)),
            _ => self.bail = true,
        }
    }

    fn simple_key(&mut self, span: Span, kind: Option<Encoding>, _error: &mut dyn ErrorSink) {
        // Keys of unwanted tables and values are never decoded.
        if self.skipping > 0 || (!self.table_wanted && self.at != At::Header && self.stack.is_empty()) {
            return;
        }
        let Some(key) = self.decode_key(span, kind) else {
            self.bail = true;
            return;
        };
        if let Some(frame) = self.stack.last_mut() {
            match frame {
                Frame::Inline { key: k, reading_key: true, .. } => k.push(key),
                _ => self.bail = true,
            }
            return;
        }
        match self.at {
            At::Header => self.table.push(key),
            At::Line => {
                self.at = At::Key;
                self.key.clear();
                self.key.push(key);
            }
            At::Key => self.key.push(key),
            At::Value => self.bail = true,
        }
    }

    fn key_val_sep(&mut self, _span: Span, _error: &mut dyn ErrorSink) {
        if self.skipping > 0 {
            return;
        }
        match self.stack.last_mut() {
            Some(Frame::Inline { reading_key, .. }) => *reading_key = false,
            Some(Frame::Array(_)) => self.bail = true,
            None => self.at = At::Value,
        }
    }

    fn value_sep(&mut self, _span: Span, _error: &mut dyn ErrorSink) {
        if self.skipping == 0 {
            if let Some(Frame::Inline { reading_key, .. }) = self.stack.last_mut() {
                *reading_key = true;
            }
        }
    }

    fn scalar(&mut self, span: Span, kind: Option<Encoding>, _error: &mut dyn ErrorSink) {
        if !self.value_wanted() {
            return self.skipped_pair();
        }
        let Some(raw) = self.raw(span, kind) else {
            self.bail = true;
            return;
        };
        let mut out: Cow<'_, str> = Cow::Borrowed("");
        let mut errors = Errors(false);
        let value = match raw.decode_scalar(&mut out, &mut errors) {
            ScalarKind::String => Value::from(out.as_ref()),
            ScalarKind::Boolean(b) => Value::from(b),
            // Numbers and dates have no business in these tables: the reference says so.
            _ => {
                self.bail = true;
                return;
            }
        };
        if errors.0 {
            self.bail = true;
            return;
        }
        self.put(value);
    }

    fn error(&mut self, _span: Span, _error: &mut dyn ErrorSink) {
        self.bail = true;
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::super::{parse_toml, Pyproject};

    /// The fast read and the whole document agree: same metadata, or the fast read steps aside.
    fn agree(text: &str) -> bool {
        let path = Path::new("p/pyproject.toml");
        let slow =
            parse_toml(path, text, toml_edit::Document::parse).and_then(|d| Pyproject::from_root(path, d.as_table()));
        let fast = super::read(text).map(|root| Pyproject::from_root(path, &root));
        match (fast, slow) {
            (None, _) => false,
            (Some(Ok(f)), Ok(s)) => {
                assert_eq!(format!("{f:?}"), format!("{s:?}"), "{text}");
                true
            }
            // An error of the fast table sends `parse` to the reference, which must fail too.
            (Some(Err(_)), slow) => {
                assert!(slow.is_err(), "the fast read fails where the reference reads:\n{text}");
                true
            }
            (Some(Ok(_)), Err(e)) => panic!("the fast read accepts what the reference refuses ({e:#}):\n{text}"),
        }
    }

    /// The shape of an integration's pyproject in the real monorepo.
    const REAL_SHAPE: &str = r#"[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"

[dependency-groups]
dev = [
    "ipython==8.10.0",
    "mypy==0.991",
    "pre-commit==3.2.0",
    "pytest==7.2.1",
    "types-requests==2.28.11.8",  # TODO: unpin when mypy>0.991
]

[project]
name = "llama-index-llms-openai"
version = "0.6.1"
description = "llama-index llms openai integration"
authors = [{name = "llama-index"}]
requires-python = ">=3.9,<4.0"
readme = "README.md"
license = "MIT"
dependencies = [
    "openai>=1.108.1,<2",
    "llama-index-core>=0.14.3,<0.15",
]

[tool.codespell]
check-filenames = true
check-hidden = true
skip = "*.csv,*.html,*.json,*.jsonl,*.pdf,*.txt,*.ipynb"

[tool.hatch.build.targets.sdist]
include = ["llama_index/"]
exclude = ["**/BUILD"]

[tool.hatch.build.targets.wheel]
include = ["llama_index/"]
exclude = ["**/BUILD"]

[tool.llamahub]
contains_example = false
import_path = "llama_index.llms.openai"

[tool.llamahub.class_authors]
OpenAI = "llama-index"

[tool.mypy]
disallow_untyped_defs = true
exclude = ["_static", "build", "examples", "notebooks", "venv"]
ignore_missing_imports = true
python_version = "3.8"

[[tool.mypy.overrides]]
module = "tests.*"
disallow_untyped_defs = false
"#;

    #[test]
    fn reads_what_the_whole_document_reads() {
        let taken = [
            "[project]\nname = \"a\"\nversion = \"1.0\"\n",
            "# c\n[build-system]\nrequires = [\"hatchling\"]\n\n[project]  # c\nname = 'a' # c\nversion = \"\"\"1.0\"\"\"\n\
             requires-python = '>=3.9'\ndependencies = [\n  \"b>=1\",  # c\n  'c[x]; python_version < \"3.10\"',\n]\n\
             [project.optional-dependencies]\nall = [\"d\"]\n[tool.ruff]\nline-length = 88\n[tool.ruff.lint]\nselect = [\"E\", [1, {x = 2}]]\n",
            "[project]\r\nname = \"a\"\r\nversion = \"1.0\"\r\ndependencies = [\"b\\u003e=1\"]\r\n",
            "project.name = \"a\"\nproject.version = \"1\"\n[tool.other]\nx = {y = [1, 2]}\n",
            "tool = { poetry = { name = \"a\", version = \"1\", dependencies = { b = \"^1\" } } }\n",
            "[project]\nname = \"a\"\nversion = \"1\"\nurls.home = \"x\"\ndynamic = []\n[project.optional-dependencies]\n",
            "[tool.poetry]\nname = \"a\"\nversion = \"1\"\n[tool.poetry.dependencies]\npython = \"^3.9\"\n\
             b = { version = \"^1\", optional = true, extras = [\"x\"] }\nc = [{ version = \"1\" }, { version = \"2\" }]\n\
             [tool.poetry.group.dev.dependencies]\npytest = \"*\"\n",
            "[project]\nname = \"a\"\nversion = \"1\"\ndescription = '''\n[project]\nname = \"b\"\n'''\n",
            "[project]\nname = \"a\"\n[tool.poetry]\nname = \"b\"\nversion = \"2\"\n",
            "[project]\nname = \"a\"\nversion = \"1\"\ndependencies = [\"b>=1 <2\"]\n",
            "[project]\nname = \"a\"\nversion = \"one\"\n",
            REAL_SHAPE,
        ];
        for text in taken {
            assert!(agree(text), "the fast read stepped aside for:\n{text}");
        }
        // Left to the whole document, whose errors are the reference.
        let left = [
            "[project\nname = \"a\"\n",
            "[project]\nname = \"a\"\nversion = 1\n",
            "[project]\nname = \"a\"\nversion = \"1\"\n[project]\nx = \"y\"\n",
            "[project]\nname = \"a\"\nname = \"b\"\nversion = \"1\"\n",
            "[project]\nname = \"a\"\nversion = \"1\"\nurls.x = \"y\"\n[project.urls]\nz = \"w\"\n",
            "[[tool.poetry.source]]\nname = \"x\"\n[tool.poetry]\nname = \"a\"\nversion = \"1\"\n",
            "[project]\nname = \"a\\q\"\nversion = \"1\"\n",
            "[project]\nname = \"a\"\nversion = \"1\"\n[tool.ruff]\nx = [1,\n",
            "[project]\nname = \"a\"\nversion = \"1\"\nreleased = 2024-01-01\n",
        ];
        for text in left {
            assert!(!agree(text), "the fast read took:\n{text}");
        }
    }
}
