//! The quick start, apart from the release modules: `sample` (a generated LlamaIndex-shaped
//! monorepo) and `rehearse` (a whole release of one against a real local index and the GitHub
//! stand-in), with the local index they and the tests start (`pypiserver`).

pub mod pypiserver;
pub mod rehearsal;
pub mod sample;
