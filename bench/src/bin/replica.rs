//! Replication-aware rollouts: what waiting for standbys costs.
//!
//! 1. `retort upgrade` of N migrations with `--wait-replicas sync` (healthy synchronous standby)
//!    as a ratio to the same run without waiting (target <= 1.05x).
//! 2. `wait_for_lsn` on an undelayed asynchronous standby, over the true replay time measured
//!    by polling without pause in the same run (p50, p99).
//!
//! cargo build --release -p retort && cargo run --release -p retort-bench --bin replica [-- N RUNS]

use std::time::{Duration, Instant};

use retort_bench::{median, ms, percentile, retort_binary, run_retort, write_migration_chain};
use retort_cluster::Cluster;
use retort_replica::{current_lsn, wait_for_lsn, Lsn, ReplayWait};

fn replayed(standby: &mut postgres::Client) -> Lsn {
    let text: String = standby
        .query_one("SELECT pg_last_wal_replay_lsn()::text", &[])
        .unwrap()
        .get(0);
    text.parse().unwrap()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(1000);
    let runs: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(3);
    let mut cluster = Cluster::builder().standbys(2).sync(1).start()?;
    cluster.wait_until_streaming(Duration::from_secs(60))?;

    let project = tempfile::tempdir()?;
    let dir = project.path().join("migrations");
    std::fs::create_dir(&dir)?;
    write_migration_chain(
        &dir,
        n,
        0xce0000000,
        |i| format!("CREATE TABLE t{i} (id bigint PRIMARY KEY);"),
        |i| format!("DROP TABLE t{i};"),
    )?;

    match retort_binary() {
        Some(bin) => {
            let mut plain = Vec::new();
            let mut waiting = Vec::new();
            for r in 0..runs {
                for wait in [false, true] {
                    let url = cluster.create_database(&format!("b{r}{}", u8::from(wait)))?;
                    let mut args = vec!["upgrade"];
                    if wait {
                        args.extend(["--wait-replicas", "sync"]);
                    }
                    let t = Instant::now();
                    run_retort(&bin, project.path(), &url, &args);
                    if wait { &mut waiting } else { &mut plain }.push(t.elapsed());
                }
            }
            plain.sort();
            waiting.sort();
            println!("retort upgrade of {n} migrations on a primary with a sync and an async standby, {runs} runs, median:");
            println!("  without waiting                 {}", ms(median(&plain)));
            println!(
                "  --wait-replicas sync            {}  ratio {:.3}x  (target <= 1.05x)",
                ms(median(&waiting)),
                median(&waiting).as_secs_f64() / median(&plain).as_secs_f64()
            );
        }
        None => println!(
            "retort binary not found next to this benchmark: `cargo build --release -p retort` to time upgrades"
        ),
    }

    // Read-your-writes on the async standby (no delay): wait_for_lsn vs polling flat out.
    let mut primary = cluster.connect_primary()?;
    primary.batch_execute("CREATE TABLE ryw (id bigserial PRIMARY KEY, v int)")?;
    let mut standby = cluster.connect_standby(1)?;
    let samples = 300;
    let mut floor = Vec::new();
    let mut ours = Vec::new();
    for i in 0..samples * 2 {
        primary.execute("INSERT INTO ryw (v) VALUES (1)", &[])?;
        let lsn = current_lsn(&mut primary)?;
        let t = Instant::now();
        if i % 2 == 0 {
            while replayed(&mut standby) < lsn {}
            floor.push(t.elapsed());
        } else {
            match wait_for_lsn(&mut standby, lsn, Duration::from_secs(10))? {
                ReplayWait::Caught { .. } => ours.push(t.elapsed()),
                ReplayWait::TimedOut { replayed } => panic!("the async standby did not replay {lsn} within 10 s (at {replayed:?}, iteration {i})"),
            }
        }
    }
    floor.sort();
    ours.sort();
    println!("read-your-writes on an undelayed async standby, {samples} writes each:");
    println!(
        "  true replay time (polling without pause)  p50 {}  p99 {}",
        ms(percentile(&floor, 0.5)),
        ms(percentile(&floor, 0.99))
    );
    println!(
        "  wait_for_lsn (0.5 ms doubling to 10 ms)   p50 {}  p99 {}  (+{:.2} ms / +{:.2} ms)",
        ms(percentile(&ours, 0.5)),
        ms(percentile(&ours, 0.99)),
        (percentile(&ours, 0.5).as_secs_f64() - percentile(&floor, 0.5).as_secs_f64()) * 1000.0,
        (percentile(&ours, 0.99).as_secs_f64() - percentile(&floor, 0.99).as_secs_f64()) * 1000.0
    );
    Ok(())
}
