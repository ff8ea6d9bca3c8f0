//! The corpus: `tests/corpus/<case>/{a.sql,b.sql}`. For every case and in both directions (and
//! from an empty database to b), load FROM and TO into two databases, pipe the script `retort diff`
//! prints into `psql -v ON_ERROR_STOP=1` on FROM, then require (1) equal catalogs, (2) equal normalised
//! `pg_dump --schema-only`, and
//! (3) an empty diff. Adding a case needs no Rust code.
//!
//! `RETORT_CORPUS=name,name` runs only those cases.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use retort_catalog::{diff, introspect, Filter, SchemaDiff};
use retort_cluster::Cluster;
use retort_pg::{Client, ConnConfig};

struct Harness {
    cluster: Cluster,
    counter: AtomicUsize,
    /// `STRATEGY FILE_COPY` on PostgreSQL 15+, where it beats copying through the WAL.
    create_options: &'static str,
    /// Dumps of TO databases by their SQL: b.sql is the TO side of two directions.
    dumps: Mutex<std::collections::HashMap<String, String>>,
}

impl Harness {
    /// A new database holding `sql`, its URL and a connection.
    fn database(&self, sql: &str) -> Result<(String, Client), String> {
        let n = self.counter.fetch_add(1, Ordering::SeqCst);
        let name = format!("corpus{n}");
        let mut admin = self.cluster.connect_primary().map_err(|e| e.to_string())?;
        admin
            .batch_execute(&format!("CREATE DATABASE {name}{}", self.create_options))
            .map_err(|e| e.to_string())?;
        let url = self.cluster.database_url(&name);
        let mut client =
            retort_pg::connect(&ConnConfig::parse(&url).unwrap()).map_err(|e| e.to_string())?;
        if !sql.trim().is_empty() {
            client.batch_execute(sql).map_err(|e| {
                format!(
                    "loading the case SQL failed: {}",
                    retort_pg::PgError::from(e)
                )
            })?;
        }
        Ok((url, client))
    }

    fn dump(&self, url: &str) -> Result<String, String> {
        let out = Command::new(self.cluster.binaries().program("pg_dump"))
            .args([
                "--schema-only",
                "--no-owner",
                "--exclude-schema=retort",
                "--dbname",
                url,
            ])
            .output()
            .map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).into_owned());
        }
        Ok(normalise_dump(&String::from_utf8_lossy(&out.stdout)))
    }
}

/// Drops comments, blank lines and psql restrict lines, and sorts the column lines of each
/// CREATE TABLE (an added column lands last; no ALTER can move it).
fn normalise_dump(dump: &str) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut block: Option<Vec<String>> = None;
    for line in dump.lines() {
        if line.starts_with("--")
            || line.trim().is_empty()
            || line.starts_with("\\restrict")
            || line.starts_with("\\unrestrict")
        {
            continue;
        }
        if let Some(cols) = block.as_mut() {
            if line.starts_with(')') {
                let mut cols = block.take().unwrap();
                let cols_clean: Vec<String> = cols
                    .iter_mut()
                    .map(|c| c.trim_end_matches(',').to_owned())
                    .collect();
                let mut sorted = cols_clean;
                sorted.sort();
                out.extend(sorted);
                out.push(line.to_owned());
            } else {
                cols.push(line.to_owned());
            }
            continue;
        }
        // The order of GRANTs follows the order they were given in; the privileges are what count.
        if line.starts_with("GRANT ") || line.starts_with("REVOKE ") {
            let run_start = out
                .iter()
                .rposition(|l| !(l.starts_with("GRANT ") || l.starts_with("REVOKE ")))
                .map_or(0, |p| p + 1);
            out.push(line.to_owned());
            out[run_start..].sort();
            continue;
        }
        out.push(line.to_owned());
        if (line.starts_with("CREATE TABLE") || line.starts_with("CREATE UNLOGGED TABLE"))
            && line.ends_with('(')
        {
            block = Some(Vec::new());
        }
    }
    out.join("\n")
}

/// Applies the script exactly as `retort diff` prints it, the way users apply it:
/// `psql -X -v ON_ERROR_STOP=1` reading it on stdin.
fn apply(h: &Harness, url: &str, d: &SchemaDiff) -> Result<(), String> {
    use std::io::Write;
    let mut psql = Command::new(h.cluster.binaries().program("psql"))
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("psql: {e}"))?;
    psql.stdin
        .take()
        .expect("stdin")
        .write_all(d.to_script().as_bytes())
        .map_err(|e| format!("psql: {e}"))?;
    let out = psql.wait_with_output().map_err(|e| format!("psql: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// One direction: FROM -> TO. Returns the generated SQL on success.
fn check(h: &Harness, from_sql: &str, to_sql: &str) -> Result<String, String> {
    let filter = Filter::default();
    let (from_url, mut from) = h.database(from_sql)?;
    let (to_url, mut to) = h.database(to_sql)?;
    let a = introspect(&mut from, &filter).map_err(|e| e.to_string())?;
    let b = introspect(&mut to, &filter).map_err(|e| e.to_string())?;
    let d = diff(&a, &b);
    let sql = d.to_sql();
    if diff(&a, &b) != d {
        return Err("the diff is not deterministic".into());
    }
    // A snapshot that went through JSON (retort's catalog cache) diffs the same.
    let cached = |s: &retort_catalog::Snapshot| -> Result<retort_catalog::Snapshot, String> {
        serde_json::from_str(&serde_json::to_string(s).map_err(|e| e.to_string())?)
            .map_err(|e| format!("a snapshot does not read back from JSON: {e}"))
    };
    if diff(&cached(&a)?, &cached(&b)?) != d {
        return Err("the diff of snapshots read back from JSON differs".into());
    }
    apply(h, &from_url, &d).map_err(|e| {
        format!(
            "applying the script with psql failed: {e}\n--- script ---\n{}",
            d.to_script()
        )
    })?;
    let a2 = introspect(&mut from, &filter).map_err(|e| e.to_string())?;
    if a2.catalog != b.catalog {
        return Err(format!(
            "catalogs differ after applying the diff\n--- diff ---\n{sql}\n--- remaining ---\n{}",
            diff(&a2, &b).to_sql()
        ));
    }
    let cached = h.dumps.lock().unwrap().get(to_sql).cloned();
    let db = match cached {
        Some(d) => d,
        None => {
            let d = h.dump(&to_url)?;
            h.dumps.lock().unwrap().insert(to_sql.to_owned(), d.clone());
            d
        }
    };
    let da = h.dump(&from_url)?;
    if da != db {
        let first = da.lines().zip(db.lines()).find(|(x, y)| x != y);
        return Err(format!("pg_dump differs after applying the diff; first difference: {first:?}\n--- diff ---\n{sql}"));
    }
    let again = diff(&a2, &b);
    if !again.is_empty() {
        return Err(format!(
            "the diff is not empty the second time:\n{}",
            again.to_sql()
        ));
    }
    Ok(sql)
}

fn cases() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let only: Option<Vec<String>> = std::env::var("RETORT_CORPUS")
        .ok()
        .map(|s| s.split(',').map(str::to_owned).collect());
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("a.sql").is_file() && p.join("b.sql").is_file())
        .filter(|p| {
            only.as_ref()
                .is_none_or(|o| o.iter().any(|n| p.ends_with(n)))
        })
        .collect();
    dirs.sort();
    dirs
}

#[test]
fn every_corpus_case_round_trips_in_both_directions() {
    let cluster = Cluster::builder().start().unwrap();
    let mut admin = cluster.connect_primary().unwrap();
    // Roles are cluster-wide; cases grant to these.
    admin
        .batch_execute("CREATE ROLE app_user; CREATE ROLE app_reader; CREATE ROLE app_admin;")
        .unwrap();
    let version: String = admin
        .query_one("SHOW server_version_num", &[])
        .unwrap()
        .get(0);
    let h = Harness {
        cluster,
        counter: AtomicUsize::new(0),
        dumps: Mutex::new(std::collections::HashMap::new()),
        create_options: if version.parse::<i32>().unwrap_or(0) >= 150000 {
            " STRATEGY FILE_COPY"
        } else {
            ""
        },
    };
    let cases = cases();
    let total = cases.len();
    assert!(
        only_filter_or_enough(total),
        "the corpus has only {total} cases"
    );
    let failures: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let next = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(case) = cases.get(i) else { break };
                let name = case.file_name().unwrap().to_string_lossy().into_owned();
                let a = std::fs::read_to_string(case.join("a.sql")).unwrap();
                let b = std::fs::read_to_string(case.join("b.sql")).unwrap();
                for (label, from, to) in [
                    ("a->b", &a, &b),
                    ("b->a", &b, &a),
                    ("empty->b", &String::new(), &b),
                ] {
                    if let Err(e) = check(&h, from, to) {
                        failures
                            .lock()
                            .unwrap()
                            .push(format!("{name} {label}: {e}"));
                    }
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap();
    assert!(
        failures.is_empty(),
        "{} of {total} cases failed:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

fn only_filter_or_enough(total: usize) -> bool {
    std::env::var("RETORT_CORPUS").is_ok() || total >= 120
}
