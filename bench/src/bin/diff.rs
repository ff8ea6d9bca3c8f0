//! Schema diff at scale. For 100, 1,000 and 5,000 generated tables (columns, primary and
//! foreign keys, indexes, checks, enums, views, functions, triggers, comments) with ~5% of them
//! changed: time `retort diff URL_A URL_B` end to end against the floor `pg_dump
//! --schema-only` of the same database, and split retort's time into catalog queries, diff
//! and render.
//!
//! cargo build --release -p retort && cargo run --release -p retort-bench --bin diff [-- 100,1000,5000]

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use retort_bench::{median, ms, sample};
use retort_catalog::{diff, introspect, Filter};
use retort_cluster::Cluster;
use retort_pg::ConnConfig;

fn schema(n: usize, changed: bool) -> String {
    let mut s = String::from("BEGIN;\n");
    let enums = n.div_ceil(50);
    for e in 0..enums {
        let extra = if changed && e % 20 == 0 {
            ", 'archived'"
        } else {
            ""
        };
        s.push_str(&format!(
            "CREATE TYPE state_{e} AS ENUM ('new', 'active', 'done'{extra});\n"
        ));
    }
    for i in 0..n {
        let touched = changed && i % 20 == 7; // 5%
        let fk = if i > 0 {
            format!(", parent_id bigint REFERENCES t_{} (id)", i - 1)
        } else {
            String::new()
        };
        let extra_col = if touched {
            ", added_col numeric(10,2) DEFAULT 0"
        } else {
            ""
        };
        let default_a = if touched { 1 } else { 0 };
        s.push_str(&format!(
            "CREATE TABLE t_{i} (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, a int NOT NULL DEFAULT {default_a} CHECK (a >= 0), b text, c timestamptz DEFAULT now(), st state_{} NOT NULL DEFAULT 'new'{fk}{extra_col});\n",
            i / 50
        ));
        if !(touched && i % 40 == 7) {
            s.push_str(&format!("CREATE INDEX t_{i}_b ON t_{i} (b);\n"));
        }
        s.push_str(&format!("COMMENT ON TABLE t_{i} IS 'table number {i}';\n"));
        if i % 10 == 0 {
            let filter = if touched { " WHERE a > 0" } else { "" };
            s.push_str(&format!(
                "CREATE VIEW v_{i} AS SELECT id, a, b FROM t_{i}{filter};\n"
            ));
        }
        if i % 20 == 0 || (changed && i % 20 == 7 && i % 40 == 27) {
            let body = if touched {
                "NEW.a := NEW.a + 2"
            } else {
                "NEW.a := NEW.a + 1"
            };
            s.push_str(&format!(
                "CREATE FUNCTION f_{i}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN {body}; RETURN NEW; END $$;\n\
                 CREATE TRIGGER t_{i}_bump BEFORE INSERT ON t_{i} FOR EACH ROW EXECUTE FUNCTION f_{i}();\n"
            ));
        }
    }
    s.push_str("COMMIT;\n");
    s
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let sizes: Vec<usize> = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "100,1000,5000".into())
        .split(',')
        .map(|x| x.parse())
        .collect::<Result<_, _>>()?;
    let cluster = Cluster::builder()
        .setting("max_locks_per_transaction", "1024")
        .start()?;
    let bin = retort_binary();
    let pg_dump = cluster.binaries().program("pg_dump");
    println!("retort diff URL_A URL_B, ~5% of tables changed, median of 3 runs:");
    println!(
        "{:>6}  {:>10}  {:>10}  {:>6}  {:>9}  {:>9}  {:>9}  {:>8}",
        "tables", "pg_dump", "retort", "ratio", "queries", "diff", "render", "changes"
    );
    for n in sizes {
        let mut urls = Vec::new();
        for (side, changed) in [("a", false), ("b", true)] {
            let name = format!("bench_{side}_{n}");
            let url = cluster.create_database(&name)?;
            let mut c = retort_pg::connect(&ConnConfig::parse(&url)?)?;
            c.batch_execute(&schema(n, changed))?;
            c.batch_execute("ANALYZE")?;
            urls.push(url);
        }
        if let Ok(secs) = std::env::var("RETORT_BENCH_HOLD") {
            // For profiling by hand: keep the databases up for a while.
            println!("holding {secs} s: {} {}", urls[0], urls[1]);
            std::thread::sleep(Duration::from_secs(secs.parse().unwrap_or(600)));
        }
        let floor = sample(3, || {
            let out = Command::new(&pg_dump)
                .args(["--schema-only", "--dbname", &urls[1]])
                .output()
                .expect("pg_dump");
            assert!(out.status.success());
        });
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
        for v in [&mut queries, &mut diffs, &mut renders] {
            v.sort();
        }
        let end_to_end = match &bin {
            Some(bin) => {
                let t = sample(3, || {
                    let out = Command::new(bin)
                        .args(["diff", &urls[0], &urls[1]])
                        .output()
                        .expect("retort");
                    assert!(
                        out.status.success(),
                        "{}",
                        String::from_utf8_lossy(&out.stderr)
                    );
                });
                median(&t)
            }
            None => Duration::ZERO,
        };
        println!(
            "{n:>6}  {:>10}  {:>10}  {:>5.2}x  {:>9}  {:>9}  {:>9}  {count:>8}",
            ms(median(&floor)),
            ms(end_to_end),
            end_to_end.as_secs_f64() / median(&floor).as_secs_f64(),
            ms(median(&queries)),
            ms(median(&diffs)),
            ms(median(&renders)),
        );
    }
    if bin.is_none() {
        println!("(retort binary not found next to this benchmark: `cargo build --release -p retort` to time it end to end)");
    }
    println!("targets: 5,000 tables under 1 s end to end, and at most 2x pg_dump --schema-only");
    Ok(())
}

fn retort_binary() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let candidate = exe.parent()?.join("retort");
    candidate.is_file().then_some(candidate)
}
