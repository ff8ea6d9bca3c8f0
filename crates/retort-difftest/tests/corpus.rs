//! The corpus: `crates/retort-catalog/tests/corpus/<case>/{a.sql,b.sql}`. For every case and
//! in both directions (and from an empty database to b), [`retort_difftest::check`] loads FROM
//! and TO into two databases, pipes the script `retort diff` prints into `psql -v
//! ON_ERROR_STOP=1` on FROM, then requires (1) equal catalogs, (2) equal normalised `pg_dump
//! --schema-only`, and (3) an empty second diff. Adding a case needs no Rust code.
//!
//! `RETORT_CORPUS=name,name` runs only those cases.

use retort_difftest::{check, corpus_cases, on_threads, Harness};

#[test]
fn every_corpus_case_round_trips_in_both_directions() {
    let h = Harness::start();
    let cases = corpus_cases();
    let total = cases.len();
    assert!(
        only_filter_or_enough(total),
        "the corpus has only {total} cases"
    );
    let failures = on_threads(&cases, 4, |case| {
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        let a = std::fs::read_to_string(case.join("a.sql")).unwrap();
        let b = std::fs::read_to_string(case.join("b.sql")).unwrap();
        let mut failed = Vec::new();
        for (label, from, to) in [
            ("a->b", &a, &b),
            ("b->a", &b, &a),
            ("empty->b", &String::new(), &b),
        ] {
            if let Err(e) = check(&h, from, to) {
                failed.push(format!("{name} {label}: {e}"));
            }
        }
        failed
    });
    assert!(
        failures.is_empty(),
        "{} of {total} cases failed:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

fn only_filter_or_enough(total: usize) -> bool {
    std::env::var("RETORT_CORPUS").is_ok() || total >= 120
}
