//! Schema diff at scale, on the schema `bench/genschema.py N [--changed]` writes
//! (per 10 tables: PK, FKs, indexes, checks, comments, a view, a function, a trigger; an enum
//! per 50 tables; ~5% of objects changed on the B side). For each size it times `retort diff
//! URL_A URL_B` end to end (both sides) against the floor `pg_dump --schema-only` of ONE of the
//! two databases, measured in the same run, with the peak RSS of each process; then splits
//! retort's time into catalog reads, diff and render.
//!
//! It also times `retort check` with and without its cache of the migrations-head catalog, and
//! prints the migrate-latency rows (1,000 migrations through a 1 ms proxy and on the socket).
//!
//! cargo build --release -p retort && cargo run --release -p retort-bench --bin diff [-- 1000,5000,20000]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use retort_bench::{median, ms, retort_binary};

use retort_catalog::{diff, introspect, Filter};
use retort_cluster::Cluster;
use retort_pg::ConnConfig;

/// The schema generator kept in `bench/genschema.py`.
fn genschema() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("genschema.py")
}

fn schema(n: usize, changed: bool) -> String {
    let mut cmd = Command::new("python3");
    cmd.arg(genschema()).arg(n.to_string());
    if changed {
        cmd.arg("--changed");
    }
    let out = cmd.output().expect("run python3 genschema.py");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 schema")
}

/// Runs a command to completion and returns its wall time and peak RSS in MiB (wait4's rusage).
// The child is reaped by wait4 (which std's wait cannot report rusage for).
#[allow(clippy::zombie_processes)]
fn timed(cmd: &mut Command) -> (Duration, f64) {
    use std::os::unix::process::ExitStatusExt;
    let t = Instant::now();
    let child = cmd
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: rusage is plain data that wait4 fills in; pid is our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let elapsed = t.elapsed();
    assert_eq!(r, pid, "wait4");
    let status = std::process::ExitStatus::from_raw(status);
    assert!(
        status.success() || status.code() == Some(3),
        "{cmd:?} failed: {status}"
    );
    (elapsed, usage.ru_maxrss as f64 / 1024.0)
}

/// Tables in the one migration of the `retort check` rows.
const CHECK_TABLES: usize = 1000;

/// `retort check` of a database at the head of one migration holding the generated schema (and
/// the same schema as schema.sql): building both catalogs in throwaway databases (--no-cache)
/// against reading them from the catalog cache.
fn check_cache(cluster: &Cluster, bin: &Path, n: usize) -> Result<(), Box<dyn std::error::Error>> {
    let project = tempfile::tempdir()?;
    let cache = tempfile::tempdir()?;
    let url = cluster.create_database(&format!("bench_check_{n}"))?;
    let dev = cluster.primary_url();
    let sql = schema(n, false);
    std::fs::create_dir_all(project.path().join("migrations"))?;
    std::fs::write(
        project.path().join("migrations/000000000001_schema.sql"),
        format!(
            "-- retort:revision 000000000001\n-- retort:message schema\n\n-- retort:up\n{sql}\n"
        ),
    )?;
    std::fs::write(project.path().join("schema.sql"), &sql)?;
    let run = |args: &[&str]| {
        retort_bench::run_retort_with(
            bin,
            project.path(),
            &url,
            &[("RETORT_CACHE_DIR", cache.path())],
            args,
        )
    };
    run(&["upgrade", "--lock-timeout", "0"]);
    let cold = retort_bench::sample(3, || run(&["check", "--dev-url", &dev, "--no-cache"]));
    run(&["check", "--dev-url", &dev]); // fills the cache
    let warm = retort_bench::sample(3, || run(&["check", "--dev-url", &dev]));
    println!();
    println!("retort check, {n} tables in one migration and in schema.sql, median of 3:");
    println!(
        "  --no-cache (head and schema.sql built in throwaway databases): {}",
        ms(median(&cold))
    );
    println!(
        "  cached (only the live database read):                         {}  ({:.2}x)",
        ms(median(&warm)),
        median(&warm).as_secs_f64() / median(&cold).as_secs_f64()
    );
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let sizes: Vec<usize> = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "1000,5000,20000".into())
        .split(',')
        .map(|x| x.parse())
        .collect::<Result<_, _>>()?;
    let cluster = Cluster::builder()
        .setting("max_locks_per_transaction", "1024")
        .setting("shared_buffers", "256MB")
        .start()?;
    let bin = retort_binary().ok_or(
        "retort binary not found next to this benchmark: `cargo build --release -p retort` first",
    )?;
    let pg_dump = cluster.binaries().program("pg_dump");
    let psql = cluster.binaries().program("psql");
    println!("retort diff URL_A URL_B (both sides) vs pg_dump --schema-only of one side; median of 3 runs:");
    println!(
        "{:>6}  {:>10}  {:>8}  {:>10}  {:>8}  {:>6}  {:>10}  {:>8}  {:>8}  {:>8}",
        "tables",
        "pg_dump",
        "RSS",
        "retort",
        "RSS",
        "ratio",
        "queries",
        "diff",
        "render",
        "changes"
    );
    for n in sizes {
        let mut urls = Vec::new();
        for (side, changed) in [("a", false), ("b", true)] {
            let name = format!("bench_{side}_{n}");
            let url = cluster.create_database(&name)?;
            let file = std::env::temp_dir().join(format!("retort-bench-{name}.sql"));
            std::fs::write(&file, schema(n, changed))?;
            let out = Command::new(&psql)
                .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-f"])
                .arg(&file)
                .arg(&url)
                .output()?;
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let _ = std::fs::remove_file(&file);
            let mut c = retort_pg::connect(&ConnConfig::parse(&url)?)?;
            c.batch_execute("VACUUM ANALYZE")?;
            urls.push(url);
        }
        if let Ok(secs) = std::env::var("RETORT_BENCH_HOLD") {
            // For profiling by hand: keep the databases up for a while.
            println!("holding {secs} s: {} {}", urls[0], urls[1]);
            std::thread::sleep(Duration::from_secs(secs.parse().unwrap_or(600)));
        }
        let mut floor = Vec::new();
        let mut floor_rss = 0f64;
        let mut ours = Vec::new();
        let mut ours_rss = 0f64;
        for _ in 0..3 {
            let (t, rss) =
                timed(Command::new(&pg_dump).args(["--schema-only", "--dbname", &urls[1]]));
            floor.push(t);
            floor_rss = floor_rss.max(rss);
            let (t, rss) = timed(Command::new(&bin).args(["diff", &urls[0], &urls[1]]));
            ours.push(t);
            ours_rss = ours_rss.max(rss);
        }
        let mut queries = Vec::new();
        let mut diffs = Vec::new();
        let mut renders = Vec::new();
        let mut count = 0;
        for _ in 0..3 {
            let mut ca = retort_pg::connect(&ConnConfig::parse(&urls[0])?)?;
            let mut cb = retort_pg::connect(&ConnConfig::parse(&urls[1])?)?;
            let t = Instant::now();
            let a = introspect(&mut ca, &Filter::default())?;
            let b = introspect(&mut cb, &Filter::default())?;
            queries.push(t.elapsed());
            let t = Instant::now();
            let d = diff(&a, &b);
            diffs.push(t.elapsed());
            let t = Instant::now();
            let sql = d.to_sql();
            renders.push(t.elapsed());
            count = d.changes.len();
            assert!(!sql.is_empty());
        }
        for v in [
            &mut floor,
            &mut ours,
            &mut queries,
            &mut diffs,
            &mut renders,
        ] {
            v.sort();
        }
        println!(
            "{n:>6}  {:>10}  {:>5.0} MB  {:>10}  {:>5.0} MB  {:>5.2}x  {:>10}  {:>8}  {:>8}  {count:>8}",
            ms(median(&floor)),
            floor_rss,
            ms(median(&ours)),
            ours_rss,
            median(&ours).as_secs_f64() / median(&floor).as_secs_f64(),
            ms(median(&queries)),
            ms(median(&diffs)),
            ms(median(&renders)),
        );
        for name in ["bench_a", "bench_b"] {
            let mut c = retort_pg::connect(&cluster.primary_config()?)?;
            c.batch_execute(&format!("DROP DATABASE {name}_{n}"))?;
        }
    }
    println!(
        "queries: both sides read one after the other in this process (the CLI reads them at once)"
    );
    println!("targets: retort diff (both sides) <= 0.5x pg_dump of one side at 5,000 tables, <= 150 MB, linear to 20,000");
    check_cache(&cluster, &bin, CHECK_TABLES)?;
    println!();
    retort_bench::migrate_latency_rows(&cluster, &bin, 1000, 1)?;
    Ok(())
}
