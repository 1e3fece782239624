//! The integration tests, one binary with a module per area (linking the library once, not once
//! per area): end-to-end runs of the xtask on generated monorepos with real git, uv, poetry,
//! pypiserver and the real `gh` against the GitHub stand-in. `support/` is the shared harness.

// The harness runs servers and children and waits for them; the rules on threads and pauses
// (`xtask/clippy.toml`) are the product's.
#![allow(clippy::disallowed_methods)]

mod support;

mod changelog;
mod check;
mod cli;
mod github_release;
mod lint;
mod prepare;
mod publish;
mod rehearsal;
mod release;
mod test_runner;
mod tidy;
mod trusted_publishing;
mod workflows;
