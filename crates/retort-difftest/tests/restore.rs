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

use retort_catalog::{diff, introspect, Filter};
use retort_difftest::Harness;

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

/// Loads `sql`, dumps it, restores the dump into a fresh database and diffs the two.
fn restore_round_trip(h: &Harness, sql: &str) -> Result<(), String> {
    let mut urls = Vec::new();
    let result = (|| {
        let (url, mut original) = h.database(sql)?;
        urls.push(url.clone());
        let dump = h.dump_raw(&url)?;
        let (restored_url, mut restored) = h.database("")?;
        urls.push(restored_url.clone());
        h.psql(&restored_url, &dump)
            .map_err(|e| format!("restoring pg_dump's script failed: {e}"))?;
        // --schema-only leaves materialized views unpopulated; populate those the original has
        // populated (a matview on another needs that one first, so repeat while any succeeds).
        let mut pending: Vec<String> = original
            .query(
                "SELECT format('%I.%I', schemaname, matviewname) FROM pg_matviews WHERE ispopulated",
                &[],
            )
            .map_err(|e| e.to_string())?
            .iter()
            .map(|r| r.get(0))
            .collect();
        while !pending.is_empty() {
            let before = pending.len();
            pending.retain(|m| {
                restored
                    .batch_execute(&format!("REFRESH MATERIALIZED VIEW {m}"))
                    .is_err()
            });
            if pending.len() == before {
                return Err(format!("cannot refresh {pending:?} after the restore"));
            }
        }
        let filter = Filter::default();
        let a = introspect(&mut original, &filter).map_err(|e| e.to_string())?;
        let b = introspect(&mut restored, &filter).map_err(|e| e.to_string())?;
        let d = diff(&a, &b);
        if d.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "the restored dump differs from its database:\n{}",
                d.to_sql()
            ))
        }
    })();
    h.drop_databases(&urls);
    result
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
