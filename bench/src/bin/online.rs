//! Schema changes under a write workload: the naive DDL (what a plain diff or Alembic writes)
//! against retort's online forms, on a primary with a synchronous and an asynchronous standby.
//!
//! For each change (add an index, add a foreign key, set NOT NULL, backfill a new column), a
//! write workload of 4 connections (single-row UPDATEs by primary key) runs throughout; the bench
//! reports the workload's p50/p99/max transaction latency, the longest stretch with no committed
//! write, and the largest replay lag of each standby, for both forms, beside the workload's idle
//! figures measured in the same run.
//!
//! The workload runs in this process, so every transaction's latency and commit time is known
//! exactly (pgbench's per-transaction log is written only when it exits normally).
//!
//! cargo run --release -p retort-bench --bin online [-- ROWS]   (default 2,000,000)

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use retort_cluster::Cluster;
use retort_migrate::backfill::{backfill, BackfillOptions, BackfillStatement, Between};
use retort_replica::{MaxLag, Topology};

const WRITERS: usize = 4;
const LAG_LIMIT: &str = "16MB";

/// What one step measured.
struct Measured {
    p50: Duration,
    p99: Duration,
    max: Duration,
    stall: Duration,
    lag: Vec<(String, u64)>,
    took: Duration,
}

/// Runs `change` while the workload writes and a sampler reads the standbys' lag.
fn measure(cluster: &Cluster, rows: i64, change: impl FnOnce()) -> Measured {
    let stop = Arc::new(AtomicBool::new(false));
    let samples: Arc<Mutex<Vec<(Instant, Duration)>>> = Arc::new(Mutex::new(Vec::new()));
    let mut handles = Vec::new();
    for w in 0..WRITERS {
        let (stop, samples) = (stop.clone(), samples.clone());
        let mut client = cluster.connect_primary().unwrap();
        handles.push(std::thread::spawn(move || {
            let mut x: u64 = 0x9e37_79b9_7f4a_7c15 ^ (w as u64 + 1);
            let update = client
                .prepare("UPDATE big SET qty = qty + 1 WHERE id = $1")
                .unwrap();
            let mut local = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let id = (x % rows as u64) as i64 + 1;
                let t = Instant::now();
                if client.execute(&update, &[&id]).is_ok() {
                    local.push((Instant::now(), t.elapsed()));
                }
            }
            samples.lock().unwrap().extend(local);
        }));
    }
    let lag: Arc<Mutex<Vec<(String, u64)>>> = Arc::new(Mutex::new(Vec::new()));
    let sampler = {
        let (stop, lag) = (stop.clone(), lag.clone());
        let mut client = cluster.connect_primary().unwrap();
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                if let Ok(t) = Topology::read(&mut client) {
                    let mut l = lag.lock().unwrap();
                    for s in t.standbys {
                        let b = s.lag_bytes.unwrap_or(0);
                        match l.iter_mut().find(|(n, _)| *n == s.name) {
                            Some((_, m)) => *m = (*m).max(b),
                            None => l.push((s.name, b)),
                        }
                    }
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        })
    };
    std::thread::sleep(Duration::from_secs(1));
    let began = Instant::now();
    change();
    let took = began.elapsed();
    std::thread::sleep(Duration::from_secs(1));
    stop.store(true, Ordering::Relaxed);
    for h in handles {
        h.join().unwrap();
    }
    sampler.join().unwrap();
    let mut s = samples.lock().unwrap().clone();
    s.sort_by_key(|(at, _)| *at);
    let stall = s
        .windows(2)
        .map(|w| w[1].0 - w[0].0)
        .max()
        .unwrap_or_default();
    let mut lat: Vec<Duration> = s.iter().map(|(_, l)| *l).collect();
    lat.sort();
    let pct = |p: f64| {
        lat.get(((lat.len().max(1) - 1) as f64 * p) as usize)
            .copied()
            .unwrap_or_default()
    };
    let mut lag = lag.lock().unwrap().clone();
    lag.sort();
    Measured {
        p50: pct(0.5),
        p99: pct(0.99),
        max: lat.last().copied().unwrap_or_default(),
        stall,
        lag,
        took,
    }
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn mb(b: u64) -> String {
    format!("{:.1} MB", b as f64 / 1_048_576.0)
}

fn row(name: &str, form: &str, m: &Measured) {
    println!(
        "{name:<22} {form:<8} {:>10} {:>10} {:>10} {:>12} {:>10}  {}",
        ms(m.p50),
        ms(m.p99),
        ms(m.max),
        ms(m.stall),
        format!("{:.1} s", m.took.as_secs_f64()),
        m.lag
            .iter()
            .map(|(n, b)| format!("{n} {}", mb(*b)))
            .collect::<Vec<_>>()
            .join(", ")
    );
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let rows: i64 = std::env::args()
        .nth(1)
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(2_000_000);
    let mut cluster = Cluster::builder().standbys(2).sync(1).start()?;
    cluster.wait_until_streaming(Duration::from_secs(60))?;
    let mut admin = cluster.connect_primary()?;
    let t = Instant::now();
    admin.batch_execute(&format!(
        "CREATE TABLE accounts (id int PRIMARY KEY);
         INSERT INTO accounts SELECT g FROM generate_series(1, 1000) g;
         CREATE TABLE big (id bigint PRIMARY KEY, account int, code text, qty int NOT NULL DEFAULT 0, total bigint);
         INSERT INTO big SELECT g, 1 + g % 1000, 'c' || g, g % 10 FROM generate_series(1, {rows}) g;"
    ))?;
    admin.batch_execute("VACUUM ANALYZE big")?;
    println!(
        "{rows} rows loaded in {:.1} s; {WRITERS} writers update single rows by key throughout each step",
        t.elapsed().as_secs_f64()
    );
    println!(
        "{:<22} {:<8} {:>10} {:>10} {:>10} {:>12} {:>10}  max replay lag",
        "change", "form", "p50", "p99", "max", "longest stall", "took"
    );
    let idle = measure(&cluster, rows, || {
        std::thread::sleep(Duration::from_secs(3))
    });
    row("(no change)", "idle", &idle);
    let url = cluster.primary_url();
    let run = |sql: &str| {
        let mut c = retort_pg::connect(&retort_pg::ConnConfig::parse(&url).unwrap()).unwrap();
        c.batch_execute(sql).unwrap();
    };
    let steps: [(&str, &str, &str, &str); 3] = [
        (
            "add an index",
            "CREATE INDEX big_code ON big (code)",
            "CREATE INDEX CONCURRENTLY big_code ON big (code)",
            "DROP INDEX big_code",
        ),
        (
            "add a foreign key",
            "ALTER TABLE big ADD CONSTRAINT big_account_fkey FOREIGN KEY (account) REFERENCES accounts",
            "ALTER TABLE big ADD CONSTRAINT big_account_fkey FOREIGN KEY (account) REFERENCES accounts NOT VALID; \
             ALTER TABLE big VALIDATE CONSTRAINT big_account_fkey",
            "ALTER TABLE big DROP CONSTRAINT big_account_fkey",
        ),
        (
            "set NOT NULL",
            "ALTER TABLE big ALTER COLUMN code SET NOT NULL",
            "ALTER TABLE big ADD CONSTRAINT big_code_not_null CHECK (code IS NOT NULL) NOT VALID; \
             ALTER TABLE big VALIDATE CONSTRAINT big_code_not_null; \
             ALTER TABLE big ALTER COLUMN code SET NOT NULL; \
             ALTER TABLE big DROP CONSTRAINT big_code_not_null",
            "ALTER TABLE big ALTER COLUMN code DROP NOT NULL",
        ),
    ];
    let mut ratios: Vec<f64> = Vec::new();
    let ratio = |m: &Measured| m.p99.as_secs_f64() / idle.p99.as_secs_f64().max(1e-9);
    for (name, naive, online, undo) in steps {
        let m = measure(&cluster, rows, || run(naive));
        row(name, "naive", &m);
        run(undo);
        // The online forms run as retort runs them: each statement on its own (the index build
        // outside a transaction), lock_timeout 5 s.
        let m = measure(&cluster, rows, || {
            let mut c = retort_pg::connect(&retort_pg::ConnConfig::parse(&url).unwrap()).unwrap();
            c.batch_execute("SET lock_timeout = '5s'").unwrap();
            for s in online.split("; ") {
                c.batch_execute(s).unwrap();
            }
        });
        row(name, "retort", &m);
        ratios.push(ratio(&m));
        run(undo);
    }
    // The backfill: one UPDATE against retort backfill paced to the standbys.
    let m = measure(&cluster, rows, || run("UPDATE big SET total = qty * 2"));
    row("backfill a column", "naive", &m);
    run("UPDATE big SET total = NULL");
    run("VACUUM big");
    let statement = BackfillStatement::parse("UPDATE big SET total = qty * 2 WHERE total IS NULL")?;
    let limit = MaxLag::parse(LAG_LIMIT)?;
    let m = measure(&cluster, rows, || {
        let mut c = retort_pg::connect(&retort_pg::ConnConfig::parse(&url).unwrap()).unwrap();
        let mut between = |c: &mut retort_pg::Client| match Topology::read(c)
            .ok()
            .map(|t| retort_replica::check_lag(&t, limit))
        {
            Some(Err(e)) => Between::Pause(e.to_string()),
            _ => Between::Go,
        };
        backfill(
            &mut c,
            &statement,
            &BackfillOptions::default(),
            &mut between,
            &mut |_| {},
        )
        .unwrap();
    });
    row("backfill a column", "retort", &m);
    ratios.push(ratio(&m));
    println!(
        "retort's forms: the workload's p99 is at most {:.1}x its idle p99 over the four changes; \
         the paced backfill's lag limit is {LAG_LIMIT}",
        ratios.iter().copied().fold(0.0, f64::max)
    );
    cluster.destroy()?;
    Ok(())
}
