//! `cargo xtask check`: placeholder while the command is written.
use anyhow::Result;
use xshell::Shell;
use crate::flags;
impl flags::Check {
    pub fn run(self, _sh: &Shell) -> Result<()> {
        Ok(())
    }
}
