//! A fleet of databases on the local cluster: `retort upgrade --targets` with --jobs 1 vs
//! --jobs 4 (each database gets the same 5 migrations).
//!
//! cargo build --release -p retort && cargo run --release -p retort-bench --bin fleet [-- DATABASES]

use std::time::Instant;

use retort_bench::{ms, retort_binary, run_retort, write_migration_chain};
use retort_cluster::Cluster;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(200);
    let bin =
        retort_binary().ok_or("build the retort binary first: cargo build --release -p retort")?;
    let cluster = Cluster::builder().start()?;
    let project = tempfile::tempdir()?;
    let dir = project.path().join("migrations");
    std::fs::create_dir(&dir)?;
    write_migration_chain(
        &dir,
        5,
        0xf10000000,
        |i| format!("CREATE TABLE t{i} (id bigint PRIMARY KEY, v text);"),
        |i| format!("DROP TABLE t{i};"),
    )?;
    let mut times = Vec::new();
    for jobs in [1, 4] {
        let mut list = String::new();
        for i in 0..n {
            list.push_str(&cluster.create_database(&format!("j{jobs}_{i}"))?);
            list.push('\n');
        }
        let file = project.path().join(format!("fleet{jobs}.txt"));
        std::fs::write(&file, list)?;
        let t = Instant::now();
        run_retort(
            &bin,
            project.path(),
            &cluster.primary_url(),
            &[
                "upgrade",
                "--targets",
                file.to_str().unwrap(),
                "--jobs",
                &jobs.to_string(),
                "-q",
            ],
        );
        times.push((jobs, t.elapsed()));
    }
    println!(
        "retort upgrade --targets: {n} databases x 5 migrations on one local cluster ({} cores):",
        std::thread::available_parallelism()
            .map(|c| c.get())
            .unwrap_or(1)
    );
    for (jobs, t) in &times {
        println!("  --jobs {jobs}   {}", ms(*t));
    }
    println!(
        "  ratio --jobs 4 / --jobs 1: {:.2}x",
        times[1].1.as_secs_f64() / times[0].1.as_secs_f64()
    );
    Ok(())
}
