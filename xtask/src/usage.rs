//! The usage error: a mistake in how the command was called, from a flag or from `release.toml`,
//! which `main` reports with exit code 2. A module of its own, so that the command line
//! (`flags`) and the configuration (`config`) both raise it without importing each other.

/// A mistake in how the command was called: reported with exit code 2.
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

pub fn usage(message: impl Into<String>) -> anyhow::Error {
    UsageError(message.into()).into()
}
