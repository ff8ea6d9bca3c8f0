//! The differential fuzzer in the normal test run: random schemas A and mutations B of them
//! (deterministic by seed), each diffed A -> B, B -> A and from nothing to A, applied through
//! psql, compared by catalog and pg_dump, and diffed again. `RETORT_FUZZ_SEEDS=N` runs N seeds (default 200),
//! `RETORT_FUZZ_START=S` starts at seed S. A failure is shrunk and printed as a corpus case.
//! Long runs: `cargo run --release -p retort-bench --bin fuzz-diff -- --seeds 10000`.

use retort_difftest::{env_number, fuzz_seeds, Harness};

#[test]
fn random_schemas_round_trip() {
    let seeds = env_number("RETORT_FUZZ_SEEDS", 200);
    let start = env_number("RETORT_FUZZ_START", 0);
    let h = Harness::start();
    let failures: std::sync::Mutex<Vec<String>> = Default::default();
    fuzz_seeds(&h, start, seeds, 4, &|_, result| {
        if let Err(report) = result {
            failures.lock().unwrap().push(report);
        }
    });
    let failures = failures.into_inner().unwrap();
    assert!(
        failures.is_empty(),
        "{} of {seeds} seeds failed:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}
