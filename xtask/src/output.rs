//! Everything the tool prints: data on stdout, progress and diagnostics on stderr, colors only
//! where wanted (`--color`, `NO_COLOR`, a terminal), and GitHub Actions step summaries.

use std::{
    io::{IsTerminal, Write},
    sync::OnceLock,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

impl std::str::FromStr for ColorChoice {
    type Err = String;
    fn from_str(s: &str) -> Result<ColorChoice, String> {
        match s {
            "auto" => Ok(ColorChoice::Auto),
            "always" => Ok(ColorChoice::Always),
            "never" => Ok(ColorChoice::Never),
            _ => Err(format!("`{s}` is not a color choice: use `auto`, `always` or `never`")),
        }
    }
}

static COLOR: OnceLock<bool> = OnceLock::new();

/// Decides once whether stderr gets colors.
pub fn init(choice: ColorChoice) {
    let on = match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stderr().is_terminal()
        }
    };
    let _ = COLOR.set(on);
}

fn paint(code: &str, text: &str) -> String {
    if *COLOR.get().unwrap_or(&false) {
        format!("\x1b[{code}m{text}\x1b[0m")
    } else {
        text.to_string()
    }
}

/// The plural ending of `n` things in English text: `s`, or nothing for one.
pub fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

pub fn green(text: &str) -> String {
    paint("1;32", text)
}
pub fn yellow(text: &str) -> String {
    paint("1;33", text)
}
pub fn red(text: &str) -> String {
    paint("1;31", text)
}

/// A progress line on stderr: a right-aligned verb, then what it is about (cargo's style).
pub fn status(verb: &str, message: &str) {
    let verb = format!("{verb:>12}");
    let verb = match verb.trim() {
        "failed" | "blocked" | "error" | "conflict" => red(&verb),
        "skipped" | "waiting" | "warning" => yellow(&verb),
        _ => green(&verb),
    };
    eprintln!("{verb} {message}");
}

pub fn warn(message: &str) {
    eprintln!("{}: {message}", yellow("warning"));
}

pub fn note(message: &str) {
    eprintln!("{message}");
}

/// Data for the user or a pipe: stdout.
pub fn data(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    if !text.ends_with('\n') {
        let _ = out.write_all(b"\n");
    }
}

pub fn json(value: &serde_json::Value) {
    data(&serde_json::to_string_pretty(value).expect("JSON values always serialise"));
}

/// Appends Markdown to the GitHub Actions step summary, when running in Actions.
pub fn github_summary(markdown: &str) {
    if let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY") {
        if let Ok(mut f) = std::fs::OpenOptions::new().append(true).create(true).open(path) {
            let _ = writeln!(f, "{markdown}");
        }
    }
}

/// Left-aligned columns separated by two spaces, no truncation, no trailing spaces. A table
/// without rows says `(none)` under its header, so that an empty answer never looks like a
/// failure to print one.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    if rows.is_empty() {
        return format!("{}\n(none)\n", header.join("  "));
    }
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let header: Vec<String> = header.iter().map(|h| h.to_string()).collect();
    for row in std::iter::once(&header).chain(rows) {
        let mut line = String::new();
        for (i, (cell, w)) in row.iter().zip(&widths).enumerate() {
            if i > 0 {
                line.push_str("  ");
            }
            line.push_str(cell);
            if i + 1 < row.len() {
                line.push_str(&" ".repeat(w - cell.chars().count()));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}
