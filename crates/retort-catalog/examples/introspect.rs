//! Reads one database's catalog and prints how long it took and what it holds: a profiling aid.
//!
//! RETORT_LOG=retort_catalog=debug cargo run --release -p retort-catalog --example introspect -- URL [RUNS]

fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_env("RETORT_LOG"))
        .with_writer(std::io::stderr)
        .init();
    let url = std::env::args()
        .nth(1)
        .ok_or("usage: introspect URL [RUNS]")?;
    let runs: usize = std::env::args()
        .nth(2)
        .map(|r| r.parse())
        .transpose()?
        .unwrap_or(1);
    let cfg = retort_pg::ConnConfig::parse(&url)?;
    for _ in 0..runs {
        let mut client = retort_pg::connect(&cfg)?;
        let t = std::time::Instant::now();
        let s = retort_catalog::introspect(&mut client, &retort_catalog::Filter::default())?;
        println!(
            "{:.1} ms: {} tables, {} dependency edges",
            t.elapsed().as_secs_f64() * 1000.0,
            s.catalog.tables.len(),
            s.deps.len()
        );
    }
    Ok(())
}
