//! The shadow store's verify: client latency (p50/p99), database CPU per verify read from the
//! backend's /proc stat, unknown-vs-known timing, and 1,000 verifies from 16 async tasks.
//! Floor: bcrypt (cost 10) inside the database, measured in the same run.
//!
//! cargo run --release -p retort-bench --bin shadow [-- N]

use std::time::{Duration, Instant};

use retort_bench::percentile;
use retort_cluster::Cluster;
use retort_shadow::blocking::ShadowStore;
use retort_shadow::{InstallOptions, Mode, SecretString, Verdict};

fn pw(s: &str) -> SecretString {
    SecretString::from(s.to_owned())
}

/// utime + stime of a process, from /proc (clock ticks are 100 Hz on Linux).
fn cpu_of(pid: i32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit_once(") ").map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks: u64 = f.get(11).and_then(|v| v.parse().ok()).unwrap_or(0)
        + f.get(12).and_then(|v| v.parse().ok()).unwrap_or(0);
    Duration::from_millis(ticks * 10)
}

struct Measured {
    p50: Duration,
    p99: Duration,
    db_cpu: Duration,
}

fn measure(
    client: &mut postgres::Client,
    store: &ShadowStore,
    user: &str,
    password: &str,
    expect: Verdict,
    n: usize,
) -> Measured {
    let pid: i32 = client
        .query_one("SELECT pg_backend_pid()", &[])
        .unwrap()
        .get(0);
    let secret = pw(password);
    let cpu0 = cpu_of(pid);
    let mut times: Vec<Duration> = (0..n)
        .map(|_| {
            let t = Instant::now();
            let v = store.verify(client, user, &secret).unwrap();
            assert_eq!(v, expect);
            t.elapsed()
        })
        .collect();
    let cpu = cpu_of(pid) - cpu0;
    times.sort();
    Measured {
        p50: percentile(&times, 0.5),
        p99: percentile(&times, 0.99),
        db_cpu: cpu / n as u32,
    }
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(200);
    let cluster = Cluster::builder().start()?;
    let mut results = Vec::new();
    for mode in [Mode::Bcrypt, Mode::ScramArgon2] {
        let db = format!("shadow_{}", mode.as_str().replace('-', "_"));
        let url = cluster.create_database(&db)?;
        let mut admin = retort_pg::connect(&retort_pg::ConnConfig::parse(&url)?)?;
        admin.batch_execute("DO $$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'app') THEN CREATE ROLE app LOGIN; END IF; END$$")?;
        let mut opts = InstallOptions::new("app");
        opts.mode = mode;
        opts.bcrypt_cost = 10;
        opts.max_failures = 1_000_000;
        retort_shadow::install(&mut admin, &opts)?;
        let app_url = format!("{url}&user=app");
        let mut app = retort_pg::connect(&retort_pg::ConnConfig::parse(&app_url)?)?;
        let store = ShadowStore::new("shadow");
        store.enrol(&mut app, "alice", &pw("correct horse"))?;
        let runs = if mode == Mode::Bcrypt { n / 4 } else { n };
        let right = measure(
            &mut app,
            &store,
            "alice",
            "correct horse",
            Verdict::Ok,
            runs,
        );
        let wrong = measure(
            &mut app,
            &store,
            "alice",
            "battery staple",
            Verdict::Bad,
            runs,
        );
        let unknown = measure(
            &mut app,
            &store,
            "nobody",
            "battery staple",
            Verdict::Bad,
            runs,
        );
        results.push((mode, right, wrong, unknown));
    }

    println!(
        "verify, {n} calls per row (bcrypt: {} calls), one connection, release build",
        n / 4
    );
    println!(
        "{:<14} {:<22} {:>10} {:>10} {:>14}",
        "mode", "case", "p50", "p99", "db cpu/verify"
    );
    for (mode, right, wrong, unknown) in &results {
        for (case, m) in [
            ("known, right", right),
            ("known, wrong", wrong),
            ("unknown user", unknown),
        ] {
            println!(
                "{:<14} {:<22} {:>10} {:>10} {:>14}",
                mode.as_str(),
                case,
                ms(m.p50),
                ms(m.p99),
                ms(m.db_cpu)
            );
        }
    }
    let (_, b_right, ..) = &results[0];
    let (_, s_right, s_wrong, s_unknown) = &results[1];
    println!(
        "scram-argon2 database CPU per verify: {} (bcrypt cost 10 in the database: {}; ratio {:.3}x)",
        ms(s_right.db_cpu),
        ms(b_right.db_cpu),
        s_right.db_cpu.as_secs_f64() / b_right.db_cpu.as_secs_f64().max(1e-9)
    );
    println!(
        "unknown user vs known user (wrong password), p50: {:.3}x; (right password): {:.3}x",
        s_unknown.p50.as_secs_f64() / s_wrong.p50.as_secs_f64(),
        s_unknown.p50.as_secs_f64() / s_right.p50.as_secs_f64()
    );

    // 1,000 verifies from 16 tasks, each with its own connection.
    let rt = tokio::runtime::Runtime::new()?;
    let conn = format!(
        "host={} port={} user=app dbname=shadow_scram_argon2",
        cluster.socket_dir().display(),
        cluster.nodes()[0].port()
    );
    let (elapsed, lat) = rt.block_on(async move {
        let store = retort_shadow::nonblocking::ShadowStore::new("shadow");
        let began = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..16 {
            let (client, connection) = tokio_postgres::connect(&conn, tokio_postgres::NoTls)
                .await
                .unwrap();
            tokio::spawn(connection);
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                let mut lat = Vec::new();
                for _ in 0..(1000 / 16 + 1) {
                    let t = Instant::now();
                    let v = store
                        .verify(&client, "alice", &pw("correct horse"))
                        .await
                        .unwrap();
                    assert_eq!(v, Verdict::Ok);
                    lat.push(t.elapsed());
                }
                lat
            }));
        }
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await.unwrap());
        }
        all.truncate(1000);
        all.sort();
        (began.elapsed(), all)
    });
    println!(
        "1,000 scram-argon2 verifies from 16 async tasks: {:.2} s ({:.0}/s on {} cores), p50 {}, p99 {}",
        elapsed.as_secs_f64(),
        1000.0 / elapsed.as_secs_f64(),
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        ms(percentile(&lat, 0.5)),
        ms(percentile(&lat, 0.99))
    );
    Ok(())
}
