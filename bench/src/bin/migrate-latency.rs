//! Migrations over a slow network: a proxy adds DELAY (default 1 ms) each way between the client
//! and a local server. Floor: psql running the same N migrations from one file (each statement
//! its own round trip), in the same run. retort sends each transactional migration, with its
//! version and history rows and COMMIT, in one round trip.
//!
//! cargo build --release -p retort && cargo run --release -p retort-bench --bin migrate-latency [-- N DELAY_MS]

use retort_bench::{migrate_latency_rows, retort_binary};
use retort_cluster::Cluster;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(1000);
    let delay_ms: u64 = args.next().map(|a| a.parse()).transpose()?.unwrap_or(1);
    let bin =
        retort_binary().ok_or("build the retort binary first: cargo build --release -p retort")?;
    let cluster = Cluster::builder().start()?;
    migrate_latency_rows(&cluster, &bin, n, delay_ms)
}
