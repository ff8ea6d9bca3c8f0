//! A seeded fault run: N upgrades (default 1,000) of a 20-migration chain, each through
//! retort-cluster's fault proxy with one fault drawn from the seed at a random client message
//! (a cut, a stall of up to 500 ms, or a lost answer), each followed by a rerun. Half the
//! upgrades may reconnect (the CLI's default, `--reconnect-for 30s`): the run itself settles
//! the fault; the other half may not (`--reconnect-for 0`): the rerun does.
//!
//! After the rerun each database is checked: the version table at the head, one `up` history
//! row per migration, one row per migration in the `applied` log the transactional migrations
//! write, and the indexes the `transaction off` migration builds, valid and once. Printed:
//! converged, migrations applied twice (must be 0), migrations lost (must be 0), and the time
//! from the fault to a converged database (median, p95).
//!
//! cargo run --release -p retort-bench --bin faults [-- N SEED]

use std::time::{Duration, Instant};

use retort_bench::write_migration_chain;
use retort_cluster::{Cluster, Fault, FaultAction, FaultProxy, SplitMix};
use retort_migrate::{MigrationRunner, RevisionGraph, RunnerOptions, Silent, Target};
use retort_pg::{Client, ConnConfig};

const CHAIN: usize = 20;
/// The `transaction off` migration of the chain (0-based).
const NON_TRANSACTIONAL: usize = 9;

#[derive(Default)]
struct Tally {
    runs: usize,
    converged: usize,
    twice: usize,
    lost: usize,
    fired: usize,
    first_run_failed: usize,
    recovery: Vec<Duration>,
    by_kind: std::collections::BTreeMap<&'static str, usize>,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(1000);
    let seed: u64 = args.next().map(|a| a.parse()).transpose()?.unwrap_or(2026);

    let cluster = Cluster::builder().start()?;
    let port = cluster.nodes()[0].port();
    let project = tempfile::tempdir()?;
    let dir = project.path().join("migrations");
    std::fs::create_dir(&dir)?;
    write_migration_chain(
        &dir,
        CHAIN,
        0xfa0000000,
        |i| match i {
            0 => "CREATE TABLE applied (revision int NOT NULL);\n\
                  CREATE TABLE t0 (id int, v int);\nINSERT INTO applied VALUES (0);"
                .to_owned(),
            NON_TRANSACTIONAL => format!(
                "CREATE TABLE t{i} (id int, v int);\n\
                 CREATE INDEX CONCURRENTLY t{i}_id ON t{i} (id);\n\
                 CREATE INDEX CONCURRENTLY t{i}_v ON t{i} (v);"
            ),
            i => format!("CREATE TABLE t{i} (id int, v int);\nINSERT INTO applied VALUES ({i});"),
        },
        |i| format!("DROP TABLE t{i};"),
    )?;
    // The header line that takes one migration out of a transaction.
    for entry in std::fs::read_dir(&dir)? {
        let path = entry?.path();
        let text = std::fs::read_to_string(&path)?;
        let marker = format!("-- retort:message table {NON_TRANSACTIONAL}\n");
        if text.contains(&marker) {
            std::fs::write(
                &path,
                text.replace(&marker, &format!("{marker}-- retort:transaction off\n")),
            )?;
        }
    }
    let graph = retort_migrate::load_dir(&dir)?;
    let proxy = FaultProxy::start(([127, 0, 0, 1], port).into())?;
    let tcp = cluster.node_tcp_url(&cluster.nodes()[0]);
    let through_proxy = |db: &str| -> ConnConfig {
        ConnConfig::parse(&tcp.replace(
            &format!(":{port}/postgres"),
            &format!(":{}/{db}", proxy.port()),
        ))
        .expect("proxy url")
    };

    // A clean run counts the client messages an upgrade sends: faults land among them.
    let clean_db = cluster.create_database("faults_clean")?;
    proxy.disarm();
    let began = Instant::now();
    upgrade(&through_proxy("faults_clean"), &graph, true)?;
    let clean_ms = began.elapsed().as_secs_f64() * 1000.0;
    let messages = proxy.stats().messages;
    check(&mut connect(&clean_db)?, &graph)?;
    println!(
        "fault run: {n} upgrades of a {CHAIN}-migration chain (one runs outside a transaction), \
         seed {seed}"
    );
    println!("  a clean upgrade: {clean_ms:.0} ms, {messages} client messages");

    let mut rng = SplitMix(seed);
    let mut tallies = [Tally::default(), Tally::default()];
    let mut admin = cluster.connect_primary()?;
    let started = Instant::now();
    for i in 0..n {
        let reconnect = i % 2 == 0;
        let name = format!("faults_{i}");
        let url = cluster.create_database(&name)?;
        let fault = Fault::random(rng.next_u64(), messages, Duration::from_millis(500));
        let kind = match fault.action {
            FaultAction::Cut => "cut",
            FaultAction::LoseAnswer => "lost answer",
            _ => "stall",
        };
        proxy.arm(fault);
        let cfg = through_proxy(&name);
        let first = upgrade(&cfg, &graph, reconnect);
        let second = upgrade(&cfg, &graph, reconnect);
        let done = Instant::now();
        let stats = proxy.stats();
        let t = &mut tallies[usize::from(!reconnect)];
        t.runs += 1;
        *t.by_kind.entry(kind).or_default() += 1;
        t.first_run_failed += usize::from(first.is_err());
        if stats.fired {
            t.fired += 1;
        }
        let verdict = check(&mut connect(&url)?, &graph)?;
        t.twice += verdict.twice;
        t.lost += verdict.lost;
        if second.is_ok() && verdict.converged() {
            t.converged += 1;
            if let Some(at) = stats.fired_at {
                t.recovery.push(done.saturating_duration_since(at));
            }
        } else {
            eprintln!(
                "  upgrade {i} ({}) did not converge: {:?} / {:?}; twice {}, lost {}",
                stats.fired_on.as_deref().unwrap_or("-"),
                first.err(),
                second.err(),
                verdict.twice,
                verdict.lost
            );
        }
        proxy.disarm();
        admin.batch_execute(&format!("DROP DATABASE \"{name}\" WITH (FORCE)"))?;
        if (i + 1) % 100 == 0 {
            eprintln!(
                "  {} of {n} ({:.0} s)",
                i + 1,
                started.elapsed().as_secs_f64()
            );
        }
    }
    for (label, t) in [
        ("reconnecting (--reconnect-for 30s)", &tallies[0]),
        ("rerun only (--reconnect-for 0)", &tallies[1]),
    ] {
        let mut r = t.recovery.clone();
        r.sort();
        let pick = |q: f64| {
            r.get(((r.len() as f64 - 1.0) * q).round() as usize)
                .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
        };
        println!("  {label}: {} upgrades", t.runs);
        println!(
            "    faults: {} ({}); fired {}; first run failed {}",
            t.runs,
            t.by_kind
                .iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect::<Vec<_>>()
                .join(", "),
            t.fired,
            t.first_run_failed
        );
        println!(
            "    converged {} of {}; applied twice {}; lost {}; fault to converged: median {:.0} ms, p95 {:.0} ms",
            t.converged,
            t.runs,
            t.twice,
            t.lost,
            pick(0.5),
            pick(0.95)
        );
    }
    println!("  (wall time {:.0} s)", started.elapsed().as_secs_f64());
    Ok(())
}

fn connect(url: &str) -> Result<Client, Box<dyn std::error::Error>> {
    Ok(retort_pg::connect(&ConnConfig::parse(url)?)?)
}

fn upgrade(
    cfg: &ConnConfig,
    graph: &RevisionGraph,
    reconnect: bool,
) -> Result<usize, Box<dyn std::error::Error>> {
    let mut client = retort_pg::connect(cfg)?;
    let options = RunnerOptions {
        database: reconnect.then(|| cfg.clone()),
        reconnect_for: Duration::from_secs(30),
        lock_wait: Duration::from_secs(30),
        ..Default::default()
    };
    let mut silent = Silent;
    let report =
        MigrationRunner::new(&mut client, graph, options, &mut silent).upgrade(&Target::Heads)?;
    Ok(report.plan.steps.len())
}

struct Verdict {
    at_head: bool,
    twice: usize,
    lost: usize,
}

impl Verdict {
    fn converged(&self) -> bool {
        self.at_head && self.twice == 0 && self.lost == 0
    }
}

/// Counts, per migration, its `up` history rows and its effects.
fn check(
    client: &mut Client,
    graph: &RevisionGraph,
) -> Result<Verdict, Box<dyn std::error::Error>> {
    let head = graph.heads()[0].revision.clone();
    let version: Vec<String> = client
        .query("SELECT revision FROM retort.version", &[])
        .map(|rows| rows.iter().map(|r| r.get(0)).collect())
        .unwrap_or_default();
    let mut ups = std::collections::HashMap::new();
    for r in client
        .query(
            "SELECT revision, count(*) FROM retort.history WHERE direction = 'up' GROUP BY 1",
            &[],
        )
        .unwrap_or_default()
    {
        ups.insert(r.get::<_, String>(0), r.get::<_, i64>(1));
    }
    let mut logged = std::collections::HashMap::new();
    for r in client
        .query("SELECT revision, count(*) FROM applied GROUP BY 1", &[])
        .unwrap_or_default()
    {
        logged.insert(r.get::<_, i32>(0) as usize, r.get::<_, i64>(1));
    }
    let indexes: i64 = client
        .query_one(
            &format!(
                "SELECT count(*) FROM pg_index WHERE indrelid = to_regclass('t{NON_TRANSACTIONAL}') \
                 AND indisvalid"
            ),
            &[],
        )?
        .get(0);
    let invalid: i64 = client
        .query_one("SELECT count(*) FROM pg_index WHERE NOT indisvalid", &[])?
        .get(0);
    let (mut twice, mut lost) = (0, 0);
    let order: Vec<String> = {
        let plan = graph.plan_upgrade(&graph.empty_state(), &Target::Heads)?;
        plan.steps.iter().map(|s| s.revision.clone()).collect()
    };
    for (i, rev) in order.iter().enumerate() {
        let up = ups.get(rev).copied().unwrap_or(0);
        let effect = if i == NON_TRANSACTIONAL {
            if indexes == 2 && invalid == 0 {
                1
            } else {
                0
            }
        } else {
            logged.get(&i).copied().unwrap_or(0)
        };
        if up > 1 || effect > 1 {
            twice += 1;
        } else if up == 0 || effect == 0 {
            lost += 1;
        }
    }
    Ok(Verdict {
        at_head: version == vec![head],
        twice,
        lost,
    })
}
