//! The differential fuzzer for long runs: seeds START..START+N, each a random schema A and a
//! mutation B of it, diffed both ways, applied through psql and compared (catalog, pg_dump,
//! second diff). Failures are shrunk and written to `target/fuzz-diff/seed-<n>.txt` (a.sql and
//! b.sql of a minimal case, ready for the corpus). Prints progress and a summary; exits 1 when
//! any seed failed.
//!
//! cargo run --release -p retort-bench --bin fuzz-diff -- --seeds 10000 [--start 0] [--jobs 4]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use retort_difftest::{fuzz_seeds, Harness};

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let seeds = arg("--seeds", 1000);
    let start = arg("--start", 0);
    let jobs = arg("--jobs", 4) as usize;
    let out_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/fuzz-diff");
    std::fs::create_dir_all(&out_dir).expect("create target/fuzz-diff");
    let h = Harness::start();
    let done = AtomicUsize::new(0);
    let failed = AtomicUsize::new(0);
    let t = Instant::now();
    fuzz_seeds(&h, start, seeds, jobs, &|seed, result| {
        if let Err(report) = result {
            failed.fetch_add(1, Ordering::SeqCst);
            let path = out_dir.join(format!("seed-{seed}.txt"));
            std::fs::write(&path, &report).expect("write the failure");
            eprintln!("seed {seed} FAILED: {}", path.display());
        }
        let n = done.fetch_add(1, Ordering::SeqCst) + 1;
        if n % 250 == 0 {
            eprintln!(
                "{n}/{seeds} seeds, {} failed, {:.0} s",
                failed.load(Ordering::SeqCst),
                t.elapsed().as_secs_f64()
            );
        }
    });
    let failed = failed.load(Ordering::SeqCst);
    println!(
        "fuzz-diff: {seeds} seeds from {start}: {} clean, {failed} failed, {:.0} s ({:.1} seeds/s)",
        seeds as usize - failed,
        t.elapsed().as_secs_f64(),
        seeds as f64 / t.elapsed().as_secs_f64()
    );
    if failed > 0 {
        std::process::exit(1);
    }
}
