//! A file on the index that is a cut-off copy of ours: the first bytes of our file and no more.
//! An upload killed half-way leaves one on an index that keeps whatever a request brought
//! (pypiserver behind its fallback server does; the public index checks the digest and keeps
//! nothing). Such a file is no other build's: its version is ours, so the rest of our files go
//! up, and the run fails naming the file, since only the index's owner can remove it.

use anyhow::{Context, Result};

use super::{build::Build, plan::FileDecision, remote, run::Ctx};
use crate::index::DistFile;

/// A file of ours that the index holds only the first `theirs` of `ours` bytes of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cut {
    pub filename: String,
    pub theirs: u64,
    pub ours: u64,
}

/// The cut-off copies among the conflicts of `decision`, when every conflict is one.
pub fn find(ctx: &Ctx, build: &Build, on_index: &[DistFile], decision: &FileDecision) -> Result<Option<Vec<Cut>>> {
    let mut cuts = Vec::new();
    for (filename, _, _) in &decision.conflicts {
        let Some(file) = on_index.iter().find(|f| &f.filename == filename) else { return Ok(None) };
        let (_, theirs) = remote::fetch(ctx.index, file, &ctx.cache)?;
        let path = build.path(filename);
        let ours = std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
        if !is_cut(&theirs, &ours) {
            return Ok(None);
        }
        cuts.push(Cut { filename: filename.clone(), theirs: theirs.len() as u64, ours: ours.len() as u64 });
    }
    Ok((!cuts.is_empty()).then_some(cuts))
}

/// Whether `theirs` is the beginning of `ours`, shorter than it.
pub fn is_cut(theirs: &[u8], ours: &[u8]) -> bool {
    theirs.len() < ours.len() && ours.starts_with(theirs)
}

/// Why the run fails on them, and what to do.
pub fn text(cuts: &[Cut]) -> String {
    let files: Vec<String> =
        cuts.iter().map(|c| format!("`{}` ({} of {} bytes)", c.filename, c.theirs, c.ours)).collect();
    format!(
        "the index holds a cut-off copy of {}: an upload of ours was interrupted and the index kept what it had received; delete {} on the index, then rerun to upload {} again",
        files.join(" and "),
        if cuts.len() == 1 { "that file" } else { "those files" },
        if cuts.len() == 1 { "it" } else { "them" }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_shorter_beginning_of_ours_is_a_cut_off_copy() {
        assert!(is_cut(b"PK\x03", b"PK\x03\x04rest"));
        assert!(is_cut(b"", b"x"));
        assert!(!is_cut(b"PK\x03\x04rest", b"PK\x03\x04rest"), "the same file is ours whole");
        assert!(!is_cut(b"PK\x03\x05", b"PK\x03\x04rest"), "another file");
        assert!(!is_cut(b"PK\x03\x04rest and more", b"PK\x03\x04rest"), "longer: another file");
        let cut = Cut { filename: "a-1.tar.gz".into(), theirs: 4096, ours: 9000 };
        expect_test::expect!["the index holds a cut-off copy of `a-1.tar.gz` (4096 of 9000 bytes): an upload of ours was interrupted and the index kept what it had received; delete that file on the index, then rerun to upload it again"]
            .assert_eq(&text(&[cut]));
    }
}
