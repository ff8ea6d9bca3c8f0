//! A database and its own `pg_dump --schema-only` restored into a fresh one compare equal: for
//! the TO side (b.sql) of every corpus case, retort diffs the loaded database against the
//! restore of its dump and requires an empty diff. pg_dump writes every expression as the server
//! deparses it, so this holds retort to PostgreSQL's deparser wherever it is not a fixed point
//! (a varchar IN list is written one way from hand-written SQL and another from its own output).
//!
//! `RETORT_CORPUS=name,name` runs only those cases.

use retort_difftest::{corpus_cases, env_number, on_threads, restore_round_trip, Harness};

#[test]
fn every_corpus_schema_equals_the_restore_of_its_dump() {
    let h = Harness::start();
    let cases = corpus_cases();
    let failures = on_threads(&cases, 4, |case| {
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        let b = std::fs::read_to_string(case.join("b.sql")).unwrap();
        match restore_round_trip(&h, &b) {
            Ok(()) => Vec::new(),
            Err(e) => vec![format!("{name}: {e}")],
        }
    });
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}

/// The same for schemas of the differential fuzzer's grammar (both sides of each seed):
/// `RETORT_FUZZ_SEEDS` (default 40) from `RETORT_FUZZ_START` (default 0).
#[test]
fn fuzzed_schemas_equal_the_restore_of_their_dump() {
    let start = env_number("RETORT_FUZZ_START", 0);
    let seeds: Vec<u64> = (start..start + env_number("RETORT_FUZZ_SEEDS", 40)).collect();
    let h = Harness::start();
    let failures = on_threads(&seeds, 4, |&seed| {
        let (a, b) = retort_difftest::gen::case(seed);
        let mut failed = Vec::new();
        for (side, m) in [("A", a), ("B", b)] {
            let sql: String = m.statements().iter().map(|x| format!("{x};\n")).collect();
            if let Err(e) = restore_round_trip(&h, &sql) {
                failed.push(format!(
                    "seed {seed} side {side}: {e}\n--- schema ---\n{sql}"
                ));
            }
        }
        failed
    });
    assert!(
        failures.is_empty(),
        "{} failed:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}
