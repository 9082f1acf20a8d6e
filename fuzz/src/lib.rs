//! Fuzzing the natsbridge codec, payload decoding (Arrow IPC included) and
//! the link URL policy, on a stable toolchain: a budgeted, structure-aware
//! mutation loop ([`runner`]) over committed seed corpora, every input run
//! under `catch_unwind` with a counting allocator ([`harness`], [`alloc`]).
//! The same targets also run under libFuzzer (`fuzz/libfuzzer/`, nightly).
//! See `fuzz/README.md`.

pub mod alloc;
pub mod harness;
pub mod mutate;
pub mod runner;
pub mod seeds;
pub mod targets;

use std::path::PathBuf;

/// The `fuzz/` folder: corpora, regressions and crashes live under it.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}
