//! Fuzz harnesses for the parsers that read untrusted bytes. No fuzzing engine is needed: a
//! seeded generator feeds each target random bytes and mutations of its seed corpus (the
//! project's test fixtures), so the same harness runs as a bounded `cargo test` smoke run and,
//! with `ATTRIB_FUZZ_SECONDS` or `ATTRIB_FUZZ_ITERS`, as a long run (scripts/fuzz.sh).
//!
//! A target panics on a broken invariant (a parser panicking, or a bound not respected); the
//! runner then saves the input under `fuzz/artifacts/` and fails with the seed that found it.

pub mod corpus;
pub mod engine;
pub mod targets;

// The path CSV reader lives in the `attrib` binary; it is compiled here from the same file
// (only `read_from` is used, so the binary's other helpers are dead code in this crate).
#[allow(dead_code)]
#[path = "../../cli/src/input.rs"]
pub mod cli_input;
