//! A database and its own `pg_dump --schema-only` restored into a fresh one compare equal: for
//! the TO side (b.sql) of every corpus case, retort diffs the loaded database against the
//! restore of its dump and requires an empty diff. pg_dump writes every expression as the server
//! deparses it, so this holds retort to PostgreSQL's deparser wherever it is not a fixed point
//! (a varchar IN list is written one way from hand-written SQL and another from its own output).
//!
//! `RETORT_CORPUS=name,name` runs only those cases.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use retort_difftest::{restore_round_trip, Harness};

fn cases() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../retort-catalog/tests/corpus");
    let only: Option<Vec<String>> = std::env::var("RETORT_CORPUS")
        .ok()
        .map(|s| s.split(',').map(str::to_owned).collect());
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("b.sql").is_file())
        .filter(|p| {
            only.as_ref()
                .is_none_or(|o| o.iter().any(|n| p.ends_with(n)))
        })
        .collect();
    dirs.sort();
    dirs
}

#[test]
fn every_corpus_schema_equals_the_restore_of_its_dump() {
    let h = Harness::start();
    let cases = cases();
    let failures: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let next = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(case) = cases.get(i) else { break };
                let name = case.file_name().unwrap().to_string_lossy().into_owned();
                let b = std::fs::read_to_string(case.join("b.sql")).unwrap();
                if let Err(e) = restore_round_trip(&h, &b) {
                    failures.lock().unwrap().push(format!("{name}: {e}"));
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap();
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
    let var = |name: &str, default: u64| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let (start, seeds) = (var("RETORT_FUZZ_START", 0), var("RETORT_FUZZ_SEEDS", 40));
    let h = Harness::start();
    let failures: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let next = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst) as u64;
                if i >= seeds {
                    break;
                }
                let seed = start + i;
                let (a, b) = retort_difftest::gen::case(seed);
                for (side, m) in [("A", a), ("B", b)] {
                    let sql: String = m.statements().iter().map(|x| format!("{x};\n")).collect();
                    if let Err(e) = restore_round_trip(&h, &sql) {
                        failures.lock().unwrap().push(format!(
                            "seed {seed} side {side}: {e}\n--- schema ---\n{sql}"
                        ));
                    }
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap();
    assert!(
        failures.is_empty(),
        "{} failed:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}
