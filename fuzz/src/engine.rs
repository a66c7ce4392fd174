//! The runner: a seeded xorshift generator, byte mutations and a time/iteration budget.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Iterations per target in a plain `cargo test` (a few thousand: well under a second each).
pub const DEFAULT_ITERATIONS: u64 = 3_000;
/// Random (not mutated) inputs are at most this long; mutations may grow a seed by this much.
const MAX_RANDOM_LEN: usize = 4096;

/// xorshift64*: tiny, deterministic, good enough to pick mutations.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    fn byte(&mut self) -> u8 {
        // Bytes that steer parsers (JSON and CSV punctuation, lengths at their edges) half
        // the time, any byte otherwise.
        const INTERESTING: &[u8] = b"{}[]\",:\\0 \n\r>{}%\x00\xff\x7f\x80\x1f\x8b\x78\x9c";
        if self.next_u64() & 1 == 0 {
            INTERESTING[self.below(INTERESTING.len())]
        } else {
            self.next_u64() as u8
        }
    }
}

/// What one run did.
#[derive(Debug, Clone, Copy)]
pub struct Report {
    pub iterations: u64,
    pub elapsed: Duration,
}

impl Report {
    pub fn per_second(&self) -> f64 {
        self.iterations as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// The budget from the environment: `ATTRIB_FUZZ_SECONDS` (a long run, by time) or
/// `ATTRIB_FUZZ_ITERS` (by count), else [`DEFAULT_ITERATIONS`]; `ATTRIB_FUZZ_SEED` picks the
/// generator's seed (fixed by default, so a smoke run is reproducible).
pub struct Budget {
    pub iterations: Option<u64>,
    pub seconds: Option<u64>,
    pub seed: u64,
}

impl Budget {
    pub fn from_env() -> Budget {
        let var = |name: &str| std::env::var(name).ok().and_then(|v| v.trim().parse().ok());
        let seconds = var("ATTRIB_FUZZ_SECONDS");
        let iterations = var("ATTRIB_FUZZ_ITERS").or(if seconds.is_some() {
            None
        } else {
            Some(DEFAULT_ITERATIONS)
        });
        Budget {
            iterations,
            seconds,
            seed: var("ATTRIB_FUZZ_SEED").unwrap_or(0x5eed_f022),
        }
    }
}

/// A mutation of `seed` (or of a splice with `other`).
pub fn mutate(rng: &mut Rng, seed: &[u8], other: &[u8]) -> Vec<u8> {
    let mut out = seed.to_vec();
    let rounds = 1 + rng.below(8);
    for _ in 0..rounds {
        let len = out.len();
        match rng.below(9) {
            0 if len > 0 => {
                let i = rng.below(len);
                out[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                out[i] = rng.byte();
            }
            2 => {
                let i = rng.below(len + 1);
                let n = 1 + rng.below(16);
                let bytes: Vec<u8> = (0..n).map(|_| rng.byte()).collect();
                out.splice(i..i, bytes);
            }
            3 if len > 0 => {
                let i = rng.below(len);
                let n = 1 + rng.below((len - i).min(64));
                out.drain(i..i + n);
            }
            4 if len > 0 => {
                // Repeat a slice: grows nesting and lengths quickly.
                let i = rng.below(len);
                let n = 1 + rng.below((len - i).min(256));
                let copy = out[i..i + n].to_vec();
                let at = rng.below(out.len() + 1);
                out.splice(at..at, copy);
            }
            5 if len > 0 => out.truncate(rng.below(len)),
            6 if !other.is_empty() => {
                let i = rng.below(len + 1);
                let j = rng.below(other.len());
                let n = 1 + rng.below((other.len() - j).min(512));
                out.splice(i..i, other[j..j + n].iter().copied());
            }
            7 if len >= 4 => {
                // Little-endian length fields at their edges (frames, payloads).
                let i = rng.below(len - 3);
                let v: u32 = [0, 1, 0x7f, 0xff, 0xffff, u32::MAX, u32::MAX - 1][rng.below(7)];
                out[i..i + 4].copy_from_slice(&v.to_le_bytes());
            }
            _ => {
                let i = rng.below(len + 1);
                let digit = b'0' + rng.below(10) as u8;
                out.insert(i, digit);
            }
        }
        if out.len() > seed.len() + MAX_RANDOM_LEN {
            out.truncate(seed.len() + MAX_RANDOM_LEN);
        }
    }
    out
}

/// Runs `target` on the corpus itself, then on random and mutated inputs within the budget.
/// Panics (after saving the input) when the target does.
pub fn run(name: &str, corpus: &[Vec<u8>], target: impl Fn(&[u8]), budget: &Budget) -> Report {
    let started = Instant::now();
    let mut rng = Rng::new(budget.seed ^ fnv(name.as_bytes()));
    let deadline = budget.seconds.map(|s| started + Duration::from_secs(s));
    let mut done = 0u64;
    for input in corpus {
        check(name, input, &target, budget.seed);
        done += 1;
    }
    loop {
        if budget.iterations.is_some_and(|n| done >= n)
            || deadline.is_some_and(|d| done.is_multiple_of(256) && Instant::now() >= d)
        {
            break;
        }
        let input = if corpus.is_empty() || rng.below(4) == 0 {
            let len = rng.below(MAX_RANDOM_LEN);
            (0..len).map(|_| rng.byte()).collect()
        } else {
            let seed = &corpus[rng.below(corpus.len())];
            let other = &corpus[rng.below(corpus.len())];
            mutate(&mut rng, seed, other)
        };
        check(name, &input, &target, budget.seed);
        done += 1;
    }
    Report {
        iterations: done,
        elapsed: started.elapsed(),
    }
}

fn check(name: &str, input: &[u8], target: &impl Fn(&[u8]), seed: u64) {
    if let Err(panic) = catch_unwind(AssertUnwindSafe(|| target(input))) {
        let message = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        let saved = save(name, input);
        panic!(
            "fuzz target `{name}` failed (ATTRIB_FUZZ_SEED={seed}): {message}; input saved to {saved}"
        );
    }
}

fn save(name: &str, input: &[u8]) -> String {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("artifacts")
        .join(name);
    let path = dir.join(format!("crash-{:016x}", fnv(input)));
    match std::fs::create_dir_all(&dir).and_then(|_| std::fs::write(&path, input)) {
        Ok(()) => path.display().to_string(),
        Err(e) => format!("(not saved: {e})"),
    }
}

fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panicking_target_is_reported_with_its_input() {
        let budget = Budget {
            iterations: Some(50),
            seconds: None,
            seed: 7,
        };
        let corpus = vec![b"ok".to_vec(), b"boom".to_vec()];
        let result = catch_unwind(|| {
            run(
                "engine-self-test",
                &corpus,
                |data| assert!(data != b"boom", "found it"),
                &budget,
            )
        });
        let _ = std::fs::remove_dir_all(
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("artifacts/engine-self-test"),
        );
        assert!(result.is_err(), "a failing input must fail the run");
    }

    #[test]
    fn mutations_stay_bounded() {
        let mut rng = Rng::new(1);
        for _ in 0..2_000 {
            let out = mutate(&mut rng, b"{\"a\":1}", b"[1,2,3]");
            assert!(out.len() <= 7 + MAX_RANDOM_LEN);
        }
    }
}
