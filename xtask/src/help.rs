//! `--help` per command: xflags prints the whole tree whichever command asks, so the text is cut
//! into its per-command sections (each starts with a line `xtask <command path>`) and only the
//! asking command's part is printed. `cargo xtask --help` is the overview that lists the commands.

/// The help to print for `argv` (the arguments as given, with `--help` or `-h` among them), cut
/// out of xflags' full help text `full`.
pub fn for_args(full: &str, argv: &[String]) -> String {
    let (top, sections) = split(full);
    let path = command_path(full, argv);
    if path == "xtask" {
        return overview(top, &sections);
    }
    let mut out = String::new();
    for (header, body) in sections.iter().filter(|(h, _)| *h == path || h.starts_with(&format!("{path} "))) {
        out.push_str(&format!("cargo {header}\n{}\n", body.trim_end()));
        out.push('\n');
    }
    out.push_str("Global flags (before the command): --root <path>, --color <when>; see `cargo xtask --help`.");
    out
}

/// The command `argv` names, as `xtask pkg exec`: the longest run of its words that is a
/// command (flags and their values are skipped over).
pub fn command_path(full: &str, argv: &[String]) -> String {
    let (_, sections) = split(full);
    let mut path = String::from("xtask");
    for word in argv.iter().filter(|a| !a.starts_with('-')) {
        let longer = format!("{path} {word}");
        if sections.iter().any(|(header, _)| *header == longer) {
            path = longer;
        }
    }
    path
}

/// The top of the help (what the tool is, the global flags) and a line per command.
fn overview(top: &str, sections: &[(&str, &str)]) -> String {
    let width = sections.iter().map(|(h, _)| h.len()).max().unwrap_or(0) - "xtask ".len();
    let mut out = format!("{}\n\nCOMMANDS:\n", top.trim_end());
    for (header, body) in sections {
        let name = &header["xtask ".len()..];
        // The first paragraph, whose lines xflags keeps as they were wrapped in the grammar.
        let summary: Vec<&str> =
            body.lines().map(str::trim).skip_while(|l| l.is_empty()).take_while(|l| !l.is_empty()).collect();
        let summary = summary.join(" ");
        let summary = summary.split_once(". ").map_or(summary.as_str(), |(first, _)| first).trim_end_matches('.');
        out.push_str(&format!("    {name:<width$}  {summary}\n"));
    }
    out.trim_end().to_string()
}

/// The text before the commands, and each command's `(header, body)`.
fn split(full: &str) -> (&str, Vec<(&str, &str)>) {
    let (top, rest) = full.split_once("\nSUBCOMMANDS:\n").unwrap_or((full, ""));
    let mut sections = Vec::new();
    let mut starts = Vec::new();
    let mut offset = 0;
    for line in rest.split_inclusive('\n') {
        if line.starts_with("xtask ") {
            starts.push((offset, offset + line.len()));
        }
        offset += line.len();
    }
    for (i, &(start, body)) in starts.iter().enumerate() {
        let end = starts.get(i + 1).map_or(rest.len(), |&(next, _)| next);
        sections.push((rest[start..body].trim_end(), &rest[body..end]));
    }
    (top, sections)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FULL: &str =
        "xtask\n  The tool.\n\nOPTIONS:\n    --root <path>\n\nSUBCOMMANDS:\n\nxtask pkg\n  Packages.\n\n\n\
                        xtask pkg info\n  List.\n\n  OPTIONS:\n    --all\n\n\nxtask sample\n  A sample.\n";

    fn help(args: &[&str]) -> String {
        for_args(FULL, &args.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn a_command_gets_its_own_part() {
        let info = help(&["pkg", "info", "--help"]);
        assert!(info.starts_with("cargo xtask pkg info\n  List.\n\n  OPTIONS:\n    --all\n\n"), "{info}");
        assert!(!info.contains("sample") && !info.contains("Packages."), "{info}");
        let pkg = help(&["--root", "x", "pkg", "-h"]);
        assert!(pkg.contains("cargo xtask pkg\n") && pkg.contains("cargo xtask pkg info\n"), "{pkg}");
        assert!(!pkg.contains("A sample"), "{pkg}");
    }

    #[test]
    fn the_overview_lists_the_commands() {
        let top = help(&["--help"]);
        assert!(top.contains("The tool.") && top.contains("--root <path>"), "{top}");
        assert!(top.contains("    pkg       Packages\n    pkg info  List\n    sample    A sample"), "{top}");
    }
}
