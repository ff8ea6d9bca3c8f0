//! Applying migrations. Floor: psql running the same N migrations from one file, each in its own
//! transaction with an INSERT into a version table, measured in the same run on the same server.
//!
//! Also times `retort current` and a no-op `retort upgrade` with N revisions applied (targets:
//! at most 50 ms each) and the library's own upgrade without process start-up.
//!
//! cargo build --release -p retort && cargo run --release -p retort-bench --bin migrate [-- N RUNS]

use std::process::Command;
use std::time::Duration;

use retort_bench::{median, ms, retort_binary, run_retort as run, sample, write_migration_chain};
use retort_cluster::Cluster;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(1000);
    let runs: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(3);

    let cluster = Cluster::builder().start()?;
    let project = tempfile::tempdir()?;
    let dir = project.path().join("migrations");
    std::fs::create_dir(&dir)?;
    let mut floor_script =
        String::from("CREATE TABLE floor_version (revision text PRIMARY KEY);\n");
    let chain = write_migration_chain(
        &dir,
        n,
        0xbe0000000,
        |i| format!("CREATE TABLE t{i} (id bigint PRIMARY KEY, v text NOT NULL DEFAULT '');"),
        |i| format!("DROP TABLE t{i};"),
    )?;
    for (rev, up) in &chain {
        floor_script.push_str(&format!(
            "BEGIN;\n{up}\nINSERT INTO floor_version VALUES ('{rev}');\nCOMMIT;\n"
        ));
    }
    let script = project.path().join("floor.sql");
    std::fs::write(&script, floor_script)?;

    let mut db_counter = 0;
    let mut fresh_db = |cluster: &Cluster| -> String {
        db_counter += 1;
        let name = format!("bench{db_counter}");
        cluster.create_database(&name).expect("create database")
    };

    let psql = cluster.binaries().program("psql");
    let floor = sample(runs, || {
        let url = fresh_db(&cluster);
        let status = Command::new(&psql)
            .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", &url, "-f"])
            .arg(&script)
            .status()
            .expect("run psql");
        assert!(status.success());
    });

    let library = sample(runs, || {
        let url = fresh_db(&cluster);
        let graph = retort_migrate::load_dir(&dir).expect("load");
        let mut client =
            retort_pg::connect(&retort_pg::ConnConfig::parse(&url).unwrap()).expect("connect");
        let report = retort_migrate::upgrade(&mut client, &graph, retort_migrate::Target::Heads)
            .expect("upgrade");
        assert_eq!(report.plan.steps.len(), n);
    });

    println!("apply {n} migrations to an empty database, {runs} runs, median:");
    println!(
        "  floor: psql -f, one transaction + version INSERT each   {}",
        ms(median(&floor))
    );
    println!(
        "  retort_migrate::upgrade (in-process)                    {}  ratio {:.2}x",
        ms(median(&library)),
        ratio(median(&library), median(&floor))
    );

    match retort_binary() {
        Some(bin) => {
            let cli = sample(runs, || {
                let url = fresh_db(&cluster);
                run(&bin, project.path(), &url, &["upgrade"]);
            });
            println!(
                "  retort upgrade (process, end to end)                    {}  ratio {:.2}x  (target <= 1.30x)",
                ms(median(&cli)),
                ratio(median(&cli), median(&floor))
            );
            let url = fresh_db(&cluster);
            run(&bin, project.path(), &url, &["upgrade"]);
            let current = sample(runs.max(5), || {
                run(&bin, project.path(), &url, &["current"])
            });
            let noop = sample(runs.max(5), || {
                run(&bin, project.path(), &url, &["upgrade"])
            });
            let psql_noop = sample(runs.max(5), || {
                let status = Command::new(&psql)
                    .args([
                        "-X",
                        "-q",
                        "-d",
                        &url,
                        "-c",
                        "SELECT revision FROM retort.version",
                    ])
                    .stdout(std::process::Stdio::null())
                    .status()
                    .expect("run psql");
                assert!(status.success());
            });
            println!("with {n} revisions applied, median:");
            println!(
                "  floor: psql -c 'SELECT ... FROM retort.version'         {}",
                ms(median(&psql_noop))
            );
            println!(
                "  retort current                                          {}  (target <= 50 ms)",
                ms(median(&current))
            );
            println!(
                "  retort upgrade with nothing to do                       {}  (target <= 50 ms)",
                ms(median(&noop))
            );
        }
        None => println!(
            "  retort binary not found next to this benchmark: build it with \
             `cargo build --release -p retort` to time the CLI"
        ),
    }
    Ok(())
}

fn ratio(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64()
}
