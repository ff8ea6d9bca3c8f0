//! PostgreSQL's regression suite and the real projects' schemas as diff corpora: every case in
//! both directions (and the real ones from empty too), each checked by the corpus rule (the
//! script applies with `psql -v ON_ERROR_STOP=1`, both sides' normalised `pg_dump
//! --schema-only` are equal afterwards, and a second diff is empty). Prints each failure and
//! the score.
//!
//! cargo run --release -p retort-bench --bin regress [-- real|regress] (default both)
//!
//! The corpus is found through `RETORT_CORPUS_DIR` (default `../shared/corpus`); its files are
//! other projects' and are read where they are. `JOBS` sets the threads (default 2).

use std::time::Instant;

use retort_difftest::external::{corpus_dir, real_cases, regress};
use retort_difftest::{check_psql, env_number, on_threads, Harness};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let which = std::env::args().nth(1).unwrap_or_default();
    let Some(dir) = corpus_dir() else {
        println!(
            "no corpus: set RETORT_CORPUS_DIR (default ../shared/corpus beside the repository)"
        );
        return Ok(());
    };
    let jobs = env_number("JOBS", 2) as usize;
    let h = Harness::start();
    let mut cases: Vec<(String, String, String)> = Vec::new();
    if which.is_empty() || which == "regress" {
        let started = Instant::now();
        let r = regress(&h, &dir, &|f| eprint!("{f} "))?;
        eprintln!();
        r.create_roles(&h)?;
        println!(
            "pg-regress: {} transitions (built or read from the cache in {:.0} s)",
            r.transitions.len(),
            started.elapsed().as_secs_f64()
        );
        cases.push(("regress empty->final".into(), String::new(), r.last.clone()));
        cases.push(("regress final->empty".into(), r.last.clone(), String::new()));
        for t in &r.transitions {
            cases.push((format!("regress {} a->b", t.name), t.a.clone(), t.b.clone()));
            cases.push((format!("regress {} b->a", t.name), t.b.clone(), t.a.clone()));
        }
    }
    if which.is_empty() || which == "real" {
        for c in real_cases(&dir) {
            cases.push((format!("real {} a->b", c.name), c.a.clone(), c.b.clone()));
            cases.push((format!("real {} b->a", c.name), c.b.clone(), c.a.clone()));
            cases.push((
                format!("real {} empty->b", c.name),
                String::new(),
                c.b.clone(),
            ));
        }
    }
    let started = Instant::now();
    let failures = on_threads(&cases, jobs, |(name, from, to)| {
        let t = Instant::now();
        let r = check_psql(&h, from, to);
        eprintln!(
            "{name}: {} ({:.1} s)",
            if r.is_ok() { "ok" } else { "FAILED" },
            t.elapsed().as_secs_f64()
        );
        match r {
            Ok(_) => Vec::new(),
            Err(e) => vec![format!(
                "{name}: {}",
                e.lines().take(12).collect::<Vec<_>>().join("\n    ")
            )],
        }
    });
    for f in &failures {
        println!("FAILED {f}\n");
    }
    println!(
        "score: {} of {} passed ({:.1}%) in {:.0} s",
        cases.len() - failures.len(),
        cases.len(),
        100.0 * (cases.len() - failures.len()) as f64 / cases.len().max(1) as f64,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
