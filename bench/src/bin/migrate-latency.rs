//! Migrations over a slow network: a proxy adds DELAY (default 1 ms) each way between the client
//! and a local server. Floor: psql running the same N migrations from one file (each statement
//! its own round trip), in the same run. retort sends each transactional migration, with its
//! version and history rows and COMMIT, in one round trip.
//!
//! cargo build --release -p retort && cargo run --release -p retort-bench --bin migrate-latency [-- N DELAY_MS]

use std::process::Command;
use std::time::{Duration, Instant};

use retort_bench::{latency_proxy, ms, retort_binary, run_retort, write_migration_chain};
use retort_cluster::Cluster;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(1000);
    let delay_ms: u64 = args.next().map(|a| a.parse()).transpose()?.unwrap_or(1);
    let bin =
        retort_binary().ok_or("build the retort binary first: cargo build --release -p retort")?;
    let cluster = Cluster::builder().start()?;
    let port = cluster.nodes()[0].port();
    let proxy = latency_proxy(
        ([127, 0, 0, 1], port).into(),
        Duration::from_millis(delay_ms),
    )?;

    let project = tempfile::tempdir()?;
    let dir = project.path().join("migrations");
    std::fs::create_dir(&dir)?;
    let chain = write_migration_chain(
        &dir,
        n,
        0xde0000000,
        |i| format!("CREATE TABLE t{i} (id bigint PRIMARY KEY, v text NOT NULL DEFAULT '');"),
        |i| format!("DROP TABLE t{i};"),
    )?;
    let mut script = String::from("CREATE TABLE floor_version (revision text PRIMARY KEY);\n");
    for (rev, up) in &chain {
        script.push_str(&format!(
            "BEGIN;\n{up}\nINSERT INTO floor_version VALUES ('{rev}');\nCOMMIT;\n"
        ));
    }
    let script_path = project.path().join("floor.sql");
    std::fs::write(&script_path, script)?;

    let tcp_url = |db: &str| {
        cluster
            .primary_tcp_url()
            .replace(&format!(":{port}/postgres"), &format!(":{proxy}/{db}"))
    };
    let socket_url = |db: &str| cluster.database_url(db);
    let mut results = Vec::new();
    for (label, url_of) in [
        ("local socket", &socket_url as &dyn Fn(&str) -> String),
        ("proxy", &tcp_url as &dyn Fn(&str) -> String),
    ] {
        let tag = label.replace(' ', "_");
        cluster.create_database(&format!("psql_{tag}"))?;
        cluster.create_database(&format!("retort_{tag}"))?;
        let t = Instant::now();
        let st = Command::new(cluster.binaries().program("psql"))
            .args([
                "-X",
                "-q",
                "-v",
                "ON_ERROR_STOP=1",
                "-d",
                &url_of(&format!("psql_{tag}")),
                "-f",
            ])
            .arg(&script_path)
            .status()?;
        assert!(st.success());
        let psql = t.elapsed();
        let t = Instant::now();
        run_retort(
            &bin,
            project.path(),
            &url_of(&format!("retort_{tag}")),
            &["upgrade"],
        );
        let retort = t.elapsed();
        results.push((label, psql, retort));
    }
    println!("{n} migrations, psql -f (one round trip per statement) vs retort upgrade (one per migration):");
    for (label, psql, retort) in results {
        println!(
            "  {label:<28} psql {:>10}  retort {:>10}  ratio {:.2}x",
            ms(psql),
            ms(retort),
            retort.as_secs_f64() / psql.as_secs_f64()
        );
    }
    println!(
        "  (proxy: {delay_ms} ms each way, so about {} ms per round trip)",
        2 * delay_ms
    );
    Ok(())
}
