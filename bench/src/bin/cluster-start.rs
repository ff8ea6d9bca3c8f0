//! How fast a test gets a fresh cluster. Floor: a cold start, where `initdb` runs (what a test
//! harness without a template cache pays every time), measured in the same run.
//!
//! cargo run --release -p retort-bench --bin cluster-start [-- RUNS]

use retort_bench::{median, ms, sample};
use retort_cluster::Cluster;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let runs: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(10);

    // Cold: an empty template cache, so initdb runs inside the start.
    let cold_cache = tempfile::tempdir()?;
    std::env::set_var("RETORT_CACHE_DIR", cold_cache.path());
    let cold = sample(3, || {
        let _ = std::fs::remove_dir_all(cold_cache.path());
        drop(Cluster::builder().start().expect("cold start"));
    });
    std::env::remove_var("RETORT_CACHE_DIR");

    // Warm: the cached template is copied.
    drop(Cluster::builder().start()?); // make sure the real cache exists
    let warm = sample(runs, || {
        drop(Cluster::builder().start().expect("warm start"))
    });
    let warm_with_standbys = sample(runs.div_ceil(2), || {
        drop(
            Cluster::builder()
                .standbys(2)
                .sync(1)
                .start()
                .expect("start with standbys"),
        )
    });

    println!("cluster start (includes stop and removal), {runs} runs, median:");
    println!(
        "  floor: cold start with initdb        {}",
        ms(median(&cold))
    );
    println!(
        "  primary from cached template          {}  ratio {:.2}x of floor",
        ms(median(&warm)),
        median(&warm).as_secs_f64() / median(&cold).as_secs_f64()
    );
    println!(
        "  primary + 1 sync + 1 async standby    {}  ratio {:.2}x of floor",
        ms(median(&warm_with_standbys)),
        median(&warm_with_standbys).as_secs_f64() / median(&cold).as_secs_f64()
    );
    Ok(())
}
