//! The corpus: `crates/retort-catalog/tests/corpus/<case>/{a.sql,b.sql}`. For every case and
//! in both directions (and from an empty database to b), [`retort_difftest::check`] loads FROM
//! and TO into two databases, pipes the script `retort diff` prints into `psql -v
//! ON_ERROR_STOP=1` on FROM, then requires (1) equal catalogs, (2) equal normalised `pg_dump
//! --schema-only`, and (3) an empty second diff. Adding a case needs no Rust code.
//!
//! `RETORT_CORPUS=name,name` runs only those cases.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use retort_difftest::{check, Harness};

fn cases() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../retort-catalog/tests/corpus");
    let only: Option<Vec<String>> = std::env::var("RETORT_CORPUS")
        .ok()
        .map(|s| s.split(',').map(str::to_owned).collect());
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("a.sql").is_file() && p.join("b.sql").is_file())
        .filter(|p| {
            only.as_ref()
                .is_none_or(|o| o.iter().any(|n| p.ends_with(n)))
        })
        .collect();
    dirs.sort();
    dirs
}

#[test]
fn every_corpus_case_round_trips_in_both_directions() {
    let h = Harness::start();
    let cases = cases();
    let total = cases.len();
    assert!(
        only_filter_or_enough(total),
        "the corpus has only {total} cases"
    );
    let failures: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let next = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(case) = cases.get(i) else { break };
                let name = case.file_name().unwrap().to_string_lossy().into_owned();
                let a = std::fs::read_to_string(case.join("a.sql")).unwrap();
                let b = std::fs::read_to_string(case.join("b.sql")).unwrap();
                for (label, from, to) in [
                    ("a->b", &a, &b),
                    ("b->a", &b, &a),
                    ("empty->b", &String::new(), &b),
                ] {
                    if let Err(e) = check(&h, from, to) {
                        failures
                            .lock()
                            .unwrap()
                            .push(format!("{name} {label}: {e}"));
                    }
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap();
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
