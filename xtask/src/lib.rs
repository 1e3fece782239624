//! `cargo xtask`: the release tool of a Python monorepo, as a library so that the binary and the
//! tests share code. This file declares the modules, parses the command
//! line, sets up the one [`Shell`] at the monorepo's root, dispatches, and turns errors into exit
//! codes.

// Unit tests start threads and pause freely; the rules of `xtask/clippy.toml` are the product's.
#![cfg_attr(test, allow(clippy::disallowed_methods))]

mod backoff;
mod bump;
mod changelog;
mod changeset;
mod check;
mod config;
mod conventional;
mod exec;
mod flags;
mod git;
pub mod github;
mod graph;
mod help;
mod index;
mod lint;
mod monorepo;
mod output;
mod parallel;
mod pkg;
mod prepare;
mod publish;
mod pyproject;
pub mod quickstart;
mod release;
mod requirement;
mod scratch;
mod shipped;
mod tags;
mod test;
#[cfg(test)]
mod tidy;
mod time;
mod url;
mod usage;
mod verify;
mod version;
mod workspace;

use std::{ffi::OsString, path::PathBuf, process::ExitCode};

use anyhow::{Context, Result};
use xshell::Shell;

/// The whole command: argv in, exit code out. `main.rs` only calls this.
pub fn main() -> ExitCode {
    let mut args: Vec<OsString> = std::env::args_os().skip(1).collect();
    // Everything after `--` is a command for `pkg exec`, never flags of ours.
    let trailing: Vec<String> = match args.iter().position(|a| a == "--") {
        Some(i) => args.split_off(i).into_iter().skip(1).map(|a| a.to_string_lossy().into_owned()).collect(),
        None => Vec::new(),
    };
    if args.is_empty() {
        args.push("--help".into());
    }
    let argv: Vec<String> = args.iter().map(|a| a.to_string_lossy().into_owned()).collect();
    let flags = match flags::Xtask::from_vec(args) {
        Ok(flags) => flags,
        Err(e) if e.is_help() => {
            // Through `output::data`, which a closed pipe (`--help | head`) does not panic.
            output::data(&help::for_args(&e.to_string(), &argv));
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("error: {e}\n\nRun `cargo {} --help` for its flags.", command_of(&argv));
            return ExitCode::from(2);
        }
    };
    output::init(flags.color.unwrap_or(output::ColorChoice::Auto));
    match run(flags, trailing) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let usage = e.downcast_ref::<usage::UsageError>().is_some();
            eprintln!("{}: {e}", output::red("error"));
            for cause in e.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            if usage {
                eprintln!("\nRun `cargo {} --help` for usage.", command_of(&argv));
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

/// The command `argv` names, as `xtask pkg exec`, for a hint at its help.
fn command_of(argv: &[String]) -> String {
    let full = flags::Xtask::from_vec(vec!["--help".into()]).err().map(|h| h.to_string()).unwrap_or_default();
    help::command_path(&full, argv)
}

fn run(flags: flags::Xtask, trailing: Vec<String>) -> Result<()> {
    if !trailing.is_empty()
        && !matches!(&flags.subcommand, flags::XtaskCmd::Pkg(p) if matches!(p.subcommand, flags::PkgCmd::Exec(_)))
    {
        return Err(usage::usage("only `pkg exec` takes a command after `--`"));
    }
    let root = root(flags.root)?;
    // Still single-threaded here, as changing the environment requires: from now on no
    // credential is in this process's environment, and only a call site that asks for one by
    // name passes it to a child (`exec/secrets.rs`).
    exec::secrets::take_from_environment(&config::secret_names(&root));
    let sh = Shell::new()?;
    sh.change_dir(root);
    match flags.subcommand {
        flags::XtaskCmd::Pkg(cmd) => cmd.run(&sh, trailing),
        flags::XtaskCmd::Changelog(cmd) => cmd.run(&sh),
        flags::XtaskCmd::Prepare(cmd) => cmd.run(&sh),
        flags::XtaskCmd::Check(cmd) => cmd.run(&sh),
        flags::XtaskCmd::Publish(cmd) => cmd.run(&sh),
        flags::XtaskCmd::Test(cmd) => cmd.run(&sh),
        flags::XtaskCmd::Fmt(cmd) => cmd.run(&sh),
        flags::XtaskCmd::Lint(cmd) => cmd.run(&sh),
        flags::XtaskCmd::Release(cmd) => cmd.run(&sh),
        flags::XtaskCmd::Rehearse(cmd) => cmd.run(&sh),
        flags::XtaskCmd::Verify(cmd) => cmd.run(&sh),
        flags::XtaskCmd::Sample(cmd) => cmd.run(&sh),
    }
}

/// The monorepo's root: `--root`, else the repository that contains this xtask.
fn root(flag: Option<PathBuf>) -> Result<PathBuf> {
    let path = flag.unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".."));
    path.canonicalize()
        .with_context(|| format!("the root `{}` does not exist; pass --root with the monorepo's path", path.display()))
}
