//! `cargo xtask`: the release tool of a Python monorepo. Everything is in the library (`lib.rs`).

fn main() -> std::process::ExitCode {
    xtask::main()
}
