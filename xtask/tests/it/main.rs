//! The integration tests, one binary with a module per area (linking the library once, not once
//! per area): end-to-end runs of the xtask on generated monorepos with real git, uv, poetry,
//! pypiserver and the real `gh` against the GitHub stand-in. `support/` is the shared harness.

// Tests start the xtask, servers and tools themselves, run servers on threads and wait for them;
// the rules of `xtask/clippy.toml` (the process edge, threads, pauses) are the product's.
#![allow(clippy::disallowed_types, clippy::disallowed_methods)]

mod support;

mod changelog;
mod check;
mod cli;
mod github_release;
mod independent;
mod lint;
mod package_pr;
mod prepare;
mod publish;
mod rehearsal;
mod release;
mod test_runner;
mod trusted_publishing;
mod upload_form;
mod workflows;
