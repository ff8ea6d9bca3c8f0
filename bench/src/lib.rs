//! Shared helpers for retort's benchmarks: each one measures retort and a floor in the same run
//! and prints the ratio, so a slow machine slows both sides.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Runs `f` `n` times and returns the sorted durations.
pub fn sample(n: usize, mut f: impl FnMut()) -> Vec<Duration> {
    let mut times: Vec<Duration> = (0..n)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    times.sort();
    times
}

/// The median of sorted durations.
pub fn median(sorted: &[Duration]) -> Duration {
    sorted[sorted.len() / 2]
}

/// The `p` quantile (0.0..=1.0) of sorted durations.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// Milliseconds with one decimal.
pub fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// Runs the retort binary in `dir` against `url`, panicking with its stderr when it fails.
pub fn run_retort(bin: &Path, dir: &Path, url: &str, args: &[&str]) {
    run_retort_with(bin, dir, url, &[], args)
}

/// [`run_retort`] with extra environment variables.
pub fn run_retort_with(bin: &Path, dir: &Path, url: &str, env: &[(&str, &Path)], args: &[&str]) {
    let started = Instant::now();
    let out = Command::new(bin)
        .current_dir(dir)
        .env("DATABASE_URL", url)
        .envs(env.iter().copied())
        .args(args)
        .output()
        .expect("run retort");
    assert!(
        out.status.success(),
        "retort {args:?} failed after {:?}: {}",
        started.elapsed(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The retort binary: $RETORT_BIN, else next to this benchmark (cargo build --release -p retort).
pub fn retort_binary() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("RETORT_BIN") {
        return Some(PathBuf::from(p));
    }
    let exe = std::env::current_exe().ok()?;
    let candidate = exe.parent()?.join("retort");
    candidate.is_file().then_some(candidate)
}

/// Writes `n` migrations in a line into `dir` (revisions counting up from `base`), each with
/// `up(i)` and `down(i)`; returns each revision with its up SQL.
pub fn write_migration_chain(
    dir: &Path,
    n: usize,
    base: u64,
    up: impl Fn(usize) -> String,
    down: impl Fn(usize) -> String,
) -> std::io::Result<Vec<(String, String)>> {
    let mut out: Vec<(String, String)> = Vec::with_capacity(n);
    for i in 0..n {
        let rev = format!("{:012x}", base + i as u64);
        let parents = out
            .last()
            .map(|(p, _)| format!("-- retort:parents {p}\n"))
            .unwrap_or_default();
        let sql = up(i);
        std::fs::write(
            dir.join(format!("{rev}_t{i}.sql")),
            format!(
                "-- retort:revision {rev}\n{parents}-- retort:message table {i}\n\n-- retort:up\n{sql}\n\n-- retort:down\n{}\n",
                down(i)
            ),
        )?;
        out.push((rev, sql));
    }
    Ok(out)
}

/// The rows of the migrate-latency benchmark (also printed by the diff benchmark): `n`
/// migrations applied by `psql -f` (one round trip per statement) and by `retort upgrade`
/// (one per migration), on the local socket and through a proxy adding `delay_ms` each way.
pub fn migrate_latency_rows(
    cluster: &retort_cluster::Cluster,
    bin: &Path,
    n: usize,
    delay_ms: u64,
) -> Result<(), Box<dyn std::error::Error>> {
    let port = cluster.nodes()[0].port();
    // retort-cluster's fault proxy with no fault armed: latency only.
    let latency = retort_cluster::FaultProxy::with_delay(
        ([127, 0, 0, 1], port).into(),
        Duration::from_millis(delay_ms),
    )?;
    let proxy = latency.port();

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
    // Each round runs both, in fresh databases, the order alternating: whichever runs second
    // meets the first one's 1,000 tables still being written back, which costs it 5-10%.
    let rounds: usize = std::env::var("RETORT_BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(3)
        .max(1);
    let mut results = Vec::new();
    let mut db = 0;
    for (label, url_of) in [
        ("local socket", &socket_url as &dyn Fn(&str) -> String),
        ("proxy", &tcp_url as &dyn Fn(&str) -> String),
    ] {
        let (mut psql_times, mut retort_times) = (Vec::new(), Vec::new());
        for round in 0..rounds {
            for first in [round % 2 == 0, round % 2 == 1] {
                db += 1;
                let name = format!("m{db}");
                cluster.create_database(&name)?;
                let t = Instant::now();
                if first {
                    let st = Command::new(cluster.binaries().program("psql"))
                        .args([
                            "-X",
                            "-q",
                            "-v",
                            "ON_ERROR_STOP=1",
                            "-d",
                            &url_of(&name),
                            "-f",
                        ])
                        .arg(&script_path)
                        .status()?;
                    assert!(st.success());
                    psql_times.push(t.elapsed());
                } else {
                    run_retort(bin, project.path(), &url_of(&name), &["upgrade"]);
                    retort_times.push(t.elapsed());
                }
            }
        }
        psql_times.sort();
        retort_times.sort();
        results.push((
            label,
            psql_times[psql_times.len() / 2],
            retort_times[retort_times.len() / 2],
        ));
    }
    println!(
        "{n} migrations, psql -f (one round trip per statement) vs retort upgrade (one per migration), \
         median of {rounds} round(s), order alternating:"
    );
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
