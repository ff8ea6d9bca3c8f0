//! Two application versions through a breaking change: retort's two-phase migrations against
//! the same change written by hand the way an Alembic migration does it (one transaction), on a
//! primary with a synchronous and an asynchronous standby.
//!
//! For each change (rename a column; add a NOT NULL column filled from an expression; int to
//! bigint on a column nothing depends on; int to bigint on a primary key that a foreign key
//! (and its index) on a second table references), an old
//! application version (4 connections: single-row reads, updates and inserts by key, through
//! its own shape: `retort_migrate::shape::use_shape`) runs from the start; the change runs; then
//! the new version (4 connections) starts beside it; then the old version stops (the rolling
//! deploy is done) and, for retort, `retort complete` runs. The bench reports the statements
//! each version had fail, the longest stretch with no committed write, the workload's p99
//! against the old version's idle p99 measured before the change, and the asynchronous
//! standby's largest replay lag.
//!
//! cargo build --release -p retort && cargo run --release -p retort-bench --bin expand [-- ROWS]
//! (default 2,000,000 rows)

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use retort_bench::{ms, percentile, retort_binary, run_retort};
use retort_cluster::Cluster;
use retort_replica::Topology;

const CONNECTIONS: usize = 4;
const LAG_LIMIT: &str = "16MB";

/// What one application version did.
#[derive(Default)]
struct Tally {
    ok: u64,
    failed: u64,
    first_error: Option<String>,
    /// (when it committed, how long it took) of every statement that worked.
    done: Vec<(Instant, Duration, bool)>,
}

/// How a version writes: the name column it uses, an extra column its inserts set, whether
/// it binds the key as an integer (else a bigint) and writes rows of `child` that reference
/// `big` (in place of a third of its updates).
#[derive(Clone, Copy)]
struct Version {
    name: &'static str,
    extra: Option<(&'static str, &'static str)>,
    int_key: bool,
    child: bool,
}

const PLAIN: Version = Version {
    name: "name",
    extra: None,
    int_key: false,
    child: false,
};

fn app(
    url: &str,
    revision: &str,
    version: Version,
    rows: i64,
    id_base: i64,
    stop: Arc<AtomicBool>,
) -> JoinHandle<Tally> {
    let (url, revision) = (url.to_owned(), revision.to_owned());
    std::thread::spawn(move || {
        let mut c = retort_pg::connect(&retort_pg::ConnConfig::parse(&url).unwrap()).unwrap();
        retort_migrate::shape::use_shape(&mut c, "retort", &revision).unwrap();
        let col = version.name;
        let insert = match version.extra {
            Some((column, value)) => {
                format!("INSERT INTO big (id, {col}, qty, {column}) VALUES ($1, 'new', 0, {value})")
            }
            None => format!("INSERT INTO big (id, {col}, qty) VALUES ($1, 'new', 0)"),
        };
        let update = format!("UPDATE big SET {col} = {col}, qty = qty + 1 WHERE id = $1");
        let select = format!("SELECT {col} FROM big WHERE id = $1");
        let mut tally = Tally::default();
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15 ^ (id_base as u64);
        let mut i = 0i64;
        while !stop.load(Ordering::Relaxed) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let id = (x % rows as u64) as i64 + 1;
            i += 1;
            let t = Instant::now();
            // The key as the version binds it.
            let key = |k: i64| -> Box<dyn postgres::types::ToSql + Sync> {
                if version.int_key {
                    Box::new(k as i32)
                } else {
                    Box::new(k)
                }
            };
            let (r, write) = match i % 4 {
                0 => (c.execute(insert.as_str(), &[&*key(id_base + i)]), true),
                2 if version.child => (
                    c.execute(
                        "INSERT INTO child (big_id, note) VALUES ($1, 'x')",
                        &[&*key(id)],
                    ),
                    true,
                ),
                1 | 2 => (c.execute(update.as_str(), &[&*key(id)]), true),
                _ => (
                    c.query(select.as_str(), &[&*key(id)])
                        .map(|r| r.len() as u64),
                    false,
                ),
            };
            match r {
                Ok(_) => {
                    tally.ok += 1;
                    tally.done.push((Instant::now(), t.elapsed(), write));
                }
                Err(e) => {
                    tally.failed += 1;
                    if tally.first_error.is_none() {
                        tally.first_error = Some(
                            e.as_db_error()
                                .map_or_else(|| e.to_string(), |d| d.message().to_owned()),
                        );
                    }
                }
            }
        }
        tally
    })
}

fn start(
    url: &str,
    revision: &str,
    version: Version,
    rows: i64,
    base: i64,
) -> (Arc<AtomicBool>, Vec<JoinHandle<Tally>>) {
    let stop = Arc::new(AtomicBool::new(false));
    let handles = (0..CONNECTIONS)
        .map(|k| {
            app(
                url,
                revision,
                version,
                rows,
                base + k as i64 * 100_000_000,
                stop.clone(),
            )
        })
        .collect();
    (stop, handles)
}

fn finish(stop: Arc<AtomicBool>, handles: Vec<JoinHandle<Tally>>) -> Tally {
    stop.store(true, Ordering::Relaxed);
    let mut all = Tally::default();
    for h in handles {
        let t = h.join().unwrap();
        all.ok += t.ok;
        all.failed += t.failed;
        all.first_error = all.first_error.or(t.first_error);
        all.done.extend(t.done);
    }
    all
}

/// The largest replay lag in bytes of the asynchronous standby, sampled until `stop`.
fn lag_sampler(cluster: &Cluster, stop: Arc<AtomicBool>) -> JoinHandle<u64> {
    let mut client = cluster.connect_primary().unwrap();
    std::thread::spawn(move || {
        let mut max = 0;
        while !stop.load(Ordering::Relaxed) {
            if let Ok(t) = Topology::read(&mut client) {
                for s in t.standbys.iter().filter(|s| s.sync_state == "async") {
                    max = max.max(s.lag_bytes.unwrap_or(0));
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        max
    })
}

struct Change {
    name: &'static str,
    /// The schema before, and what fills it (`{rows}` is the row count).
    base: &'static str,
    fill: &'static str,
    /// Where each version's inserted keys start (an integer key must fit both).
    id_bases: (i64, i64),
    old: Version,
    new: Version,
    /// The wanted schema after the change.
    schema: &'static str,
    /// retort's answers.
    answers: &'static [&'static str],
    /// The hand-written migration, one transaction.
    by_hand: &'static str,
}

const BASE: &str =
    "CREATE TABLE big (id bigint PRIMARY KEY, name text NOT NULL, qty int NOT NULL DEFAULT 0);\n";

const FILL: &str =
    "INSERT INTO big SELECT g, 'item ' || g, g % 10 FROM generate_series(1, {rows}) g";

const BASE_KEY: &str =
    "CREATE TABLE big (id integer PRIMARY KEY, name text NOT NULL, qty int NOT NULL DEFAULT 0);\n\
     CREATE TABLE child (id bigserial PRIMARY KEY, big_id integer NOT NULL REFERENCES big, note text);\n\
     CREATE INDEX child_big_id_idx ON child (big_id);\n";

const FILL_KEY: &str =
    "INSERT INTO big SELECT g, 'item ' || g, g % 10 FROM generate_series(1, {rows}) g; \
     INSERT INTO child (big_id, note) SELECT g, 'n' FROM generate_series(1, {rows}) g";

/// A project at `base`, upgraded, on a new database filled by `fill` for `rows` rows.
fn project(
    cluster: &Cluster,
    bin: &Path,
    db: &str,
    (base, fill): (&str, &str),
    rows: i64,
) -> (tempfile::TempDir, String) {
    let url = cluster.create_database(db).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    run_retort(bin, p, &url, &["init"]);
    std::fs::write(p.join("schema.sql"), base).unwrap();
    let config = std::fs::read_to_string(p.join("retort.toml"))
        .unwrap()
        .replace(
            "# max_lag = \"64MB\"",
            &format!("max_lag = \"{LAG_LIMIT}\""),
        );
    std::fs::write(p.join("retort.toml"), config).unwrap();
    let dev = cluster.primary_url();
    run_retort(
        bin,
        p,
        &url,
        &["new", "-m", "base", "--autogenerate", "--dev-url", &dev],
    );
    run_retort(bin, p, &url, &["upgrade"]);
    let mut c = retort_pg::connect(&retort_pg::ConnConfig::parse(&url).unwrap()).unwrap();
    c.batch_execute(&fill.replace("{rows}", &rows.to_string()))
        .unwrap();
    c.batch_execute("VACUUM ANALYZE").unwrap();
    (dir, url)
}

fn revision_of(dir: &Path, slug: &str) -> String {
    let mut names: Vec<String> = std::fs::read_dir(dir.join("migrations"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(slug))
        .collect();
    names.sort();
    names.last().map(|n| n[..12].to_owned()).unwrap_or_default()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let rows: i64 = std::env::args()
        .nth(1)
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(2_000_000);
    let bin = retort_binary().ok_or("build retort first: cargo build --release -p retort")?;
    let mut cluster = Cluster::builder().standbys(2).sync(1).start()?;
    cluster.wait_until_streaming(Duration::from_secs(60))?;
    let changes = [
        Change {
            name: "rename a column",
            base: BASE,
            fill: FILL,
            id_bases: (10_000_000_000, 20_000_000_000),
            old: PLAIN,
            new: Version {
                name: "full_name",
                ..PLAIN
            },
            schema: "CREATE TABLE big (id bigint PRIMARY KEY, full_name text NOT NULL, qty int NOT NULL DEFAULT 0);\n",
            answers: &["--rename", "big.name=full_name"],
            by_hand: "ALTER TABLE big RENAME COLUMN name TO full_name",
        },
        Change {
            name: "NOT NULL, filled",
            base: BASE,
            fill: FILL,
            id_bases: (10_000_000_000, 20_000_000_000),
            old: PLAIN,
            new: Version {
                extra: Some(("label", "'new'")),
                ..PLAIN
            },
            schema: "CREATE TABLE big (id bigint PRIMARY KEY, name text NOT NULL, qty int NOT NULL DEFAULT 0, label text NOT NULL);\n",
            answers: &["--fill", "big.label=name || ' #' || qty"],
            by_hand: "BEGIN; ALTER TABLE big ADD COLUMN label text; \
                      UPDATE big SET label = name || ' #' || qty; \
                      ALTER TABLE big ALTER COLUMN label SET NOT NULL; COMMIT",
        },
        Change {
            name: "int -> bigint",
            base: BASE,
            fill: FILL,
            id_bases: (10_000_000_000, 20_000_000_000),
            old: PLAIN,
            new: PLAIN,
            schema: "CREATE TABLE big (id bigint PRIMARY KEY, name text NOT NULL, qty bigint NOT NULL DEFAULT 0);\n",
            answers: &[],
            by_hand: "ALTER TABLE big ALTER COLUMN qty TYPE bigint",
        },
        Change {
            name: "int key -> bigint",
            base: BASE_KEY,
            fill: FILL_KEY,
            // Both under 2^31: the old version reads every key as an integer.
            id_bases: (1_000_000_000, 1_500_000_000),
            old: Version {
                int_key: true,
                child: true,
                ..PLAIN
            },
            new: Version {
                child: true,
                ..PLAIN
            },
            schema: "CREATE TABLE big (id bigint PRIMARY KEY, name text NOT NULL, qty int NOT NULL DEFAULT 0);\n\
                     CREATE TABLE child (id bigserial PRIMARY KEY, big_id bigint NOT NULL REFERENCES big, note text);\n\
                     CREATE INDEX child_big_id_idx ON child (big_id);\n",
            answers: &[],
            // What Alembic's alter_column writes, one transaction.
            by_hand: "BEGIN; ALTER TABLE big ALTER COLUMN id TYPE bigint; \
                      ALTER TABLE child ALTER COLUMN big_id TYPE bigint; COMMIT",
        },
    ];
    println!(
        "{rows} rows; an old and a new application version, {CONNECTIONS} connections each, \
         reading, updating and inserting single rows by key; async standby lag limit {LAG_LIMIT}"
    );
    println!(
        "{:<18} {:<8} {:>10} {:>10} {:>14} {:>10} {:>8} {:>14} {:>8}",
        "change",
        "form",
        "old failed",
        "new failed",
        "longest stall",
        "p99",
        "x idle",
        "async max lag",
        "took"
    );
    let dev = cluster.primary_url();
    for (n, change) in changes.iter().enumerate() {
        for form in ["by hand", "retort"] {
            let db = format!("expand_{n}_{}", form.replace(' ', "_"));
            let (dir, url) = project(&cluster, &bin, &db, (change.base, change.fill), rows);
            let p = dir.path();
            let old_rev = revision_of(p, "_base");
            if form == "retort" {
                std::fs::write(p.join("schema.sql"), change.schema)?;
                let mut args = vec!["new", "-m", "change", "--autogenerate", "--dev-url", &dev];
                args.extend(change.answers);
                run_retort(&bin, p, &url, &args);
            }
            // The new version is built at the graph's head: the contract when there is one.
            let new_rev = [
                revision_of(p, "_change_contract"),
                revision_of(p, "_change.sql"),
            ]
            .into_iter()
            .find(|r| !r.is_empty())
            .unwrap_or_else(|| old_rev.clone());
            let sampling = Arc::new(AtomicBool::new(false));
            let sampler = lag_sampler(&cluster, sampling.clone());
            let (stop_old, old) = start(&url, &old_rev, change.old, rows, change.id_bases.0);
            std::thread::sleep(Duration::from_secs(2));
            let idle_end = Instant::now();
            let began = Instant::now();
            if form == "retort" {
                run_retort(&bin, p, &url, &["upgrade"]);
            } else {
                let mut c = retort_pg::connect(&retort_pg::ConnConfig::parse(&url)?)?;
                c.batch_execute(change.by_hand)?;
            }
            let took = began.elapsed();
            let (stop_new, new) = start(&url, &new_rev, change.new, rows, change.id_bases.1);
            std::thread::sleep(Duration::from_secs(2));
            let old = finish(stop_old, old);
            if form == "retort" {
                run_retort(&bin, p, &url, &["complete"]);
            }
            std::thread::sleep(Duration::from_secs(1));
            let new = finish(stop_new, new);
            sampling.store(true, Ordering::Relaxed);
            let lag = sampler.join().unwrap();
            let mut writes: Vec<Instant> = old
                .done
                .iter()
                .chain(&new.done)
                .filter(|(_, _, w)| *w)
                .map(|(at, _, _)| *at)
                .collect();
            writes.sort();
            let stall = writes
                .windows(2)
                .map(|w| w[1] - w[0])
                .max()
                .unwrap_or_default();
            let mut idle: Vec<Duration> = old
                .done
                .iter()
                .filter(|(at, _, _)| *at < idle_end)
                .map(|(_, l, _)| *l)
                .collect();
            idle.sort();
            let mut during: Vec<Duration> = old
                .done
                .iter()
                .chain(&new.done)
                .filter(|(at, _, _)| *at >= idle_end)
                .map(|(_, l, _)| *l)
                .collect();
            during.sort();
            let p99 = percentile(&during, 0.99);
            let idle99 = percentile(&idle, 0.99);
            println!(
                "{:<18} {:<8} {:>10} {:>10} {:>14} {:>10} {:>8} {:>14} {:>8}",
                change.name,
                form,
                old.failed,
                new.failed,
                ms(stall),
                ms(p99),
                format!("{:.1}x", p99.as_secs_f64() / idle99.as_secs_f64().max(1e-9)),
                format!("{:.1} MB", lag as f64 / 1_048_576.0),
                format!("{:.1} s", took.as_secs_f64()),
            );
            for (who, t) in [("old", &old), ("new", &new)] {
                if let Some(e) = &t.first_error {
                    println!("    {who} version's first error: {e}");
                }
            }
        }
    }
    cluster.destroy()?;
    Ok(())
}
