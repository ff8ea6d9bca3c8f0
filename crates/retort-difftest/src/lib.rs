//! Differential testing of retort's schema diff against real PostgreSQL: load two schemas,
//! diff them, apply the printed script with `psql -v ON_ERROR_STOP=1`, and require equal
//! catalogs, equal normalised `pg_dump --schema-only` and an empty second diff. The corpus
//! (`crates/retort-catalog/tests/corpus`) and the fuzzer ([`gen`], [`shrink`]) both run
//! through [`Harness::check`].

pub mod external;
pub mod gen;
pub mod shrink;

use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use retort_catalog::{diff, introspect, Filter, SchemaDiff};
use retort_cluster::Cluster;
use retort_pg::{Client, ConnConfig};

/// A cluster to load schemas into, with the roles cases grant to.
pub struct Harness {
    cluster: Cluster,
    counter: AtomicUsize,
    /// `STRATEGY FILE_COPY` on PostgreSQL 15+, where it beats copying through the WAL.
    create_options: &'static str,
    /// `server_version_num`.
    version: String,
    /// Dumps of TO databases by their SQL: b.sql is the TO side of two directions.
    dumps: Mutex<std::collections::HashMap<String, String>>,
}

impl Harness {
    /// Starts a throwaway cluster and creates the roles `app_user`, `app_reader` and
    /// `app_admin` (cases may grant to them).
    pub fn start() -> Harness {
        let cluster = Cluster::builder().start().expect("start a cluster");
        let mut admin = cluster.connect_primary().expect("connect");
        admin
            .batch_execute("CREATE ROLE app_user; CREATE ROLE app_reader; CREATE ROLE app_admin;")
            .expect("create roles");
        let version: String = admin
            .query_one("SHOW server_version_num", &[])
            .expect("server version")
            .get(0);
        Harness {
            cluster,
            version: version.clone(),
            counter: AtomicUsize::new(0),
            dumps: Mutex::new(std::collections::HashMap::new()),
            create_options: if version.parse::<i32>().unwrap_or(0) >= 150000 {
                " STRATEGY FILE_COPY"
            } else {
                ""
            },
        }
    }

    /// The server's `server_version_num`.
    pub fn server_version(&self) -> &str {
        &self.version
    }

    /// The path of one of the server's programs (`psql`, `pg_dump`).
    pub fn program(&self, name: &str) -> std::path::PathBuf {
        self.cluster.binaries().program(name)
    }

    /// Drops a database made by [`Harness::database`] (long fuzz runs would fill the disk).
    fn drop_database(&self, url: &str) {
        // postgresql://user@/NAME?host=...
        let Some(name) = url.split("@/").nth(1).and_then(|n| n.split('?').next()) else {
            return;
        };
        if let Ok(mut admin) = self.cluster.connect_primary() {
            let _ = admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
        }
    }

    /// Pipes `script` into `psql -X -q -v ON_ERROR_STOP=1` on `url`; psql's stderr on failure.
    pub fn psql(&self, url: &str, script: &str) -> Result<(), String> {
        use std::io::Write;
        let mut psql = Command::new(self.cluster.binaries().program("psql"))
            .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .map_err(|e| format!("psql: {e}"))?;
        // psql stops reading at the first error (ON_ERROR_STOP): what it says on stderr is the
        // report, not the broken pipe of the rest of the script.
        let written = psql
            .stdin
            .take()
            .expect("stdin")
            .write_all(script.as_bytes());
        let out = psql.wait_with_output().map_err(|e| format!("psql: {e}"))?;
        if let Err(e) = written {
            if out.status.success() {
                return Err(format!("psql: {e}"));
            }
        }
        if out.status.success() {
            Ok(())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    /// A new database holding `sql` loaded the way users load a script: `psql -v
    /// ON_ERROR_STOP=1`, each statement on its own (a `CREATE INDEX CONCURRENTLY`, an enum value
    /// used after it is added, `pg_dump`'s `\restrict` lines); its URL and a connection.
    pub fn database_psql(&self, sql: &str) -> Result<(String, Client), String> {
        let (url, client) = self.database("")?;
        if let Err(e) = self.psql(&url, sql) {
            drop(client);
            self.drop_database(&url);
            return Err(format!("loading the case SQL with psql failed: {e}"));
        }
        Ok((url, client))
    }

    /// A new database holding `sql`, its URL and a connection.
    pub fn database(&self, sql: &str) -> Result<(String, Client), String> {
        let n = self.counter.fetch_add(1, Ordering::SeqCst);
        let name = format!("case{n}");
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

    /// `pg_dump --schema-only` of `url`, normalised for comparison.
    pub fn dump(&self, url: &str) -> Result<String, String> {
        Ok(normalise_dump(&self.dump_raw(url)?))
    }

    /// `pg_dump --schema-only --no-owner` of `url`, as pg_dump writes it (a restorable script).
    pub fn dump_raw(&self, url: &str) -> Result<String, String> {
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
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Drops the databases whose URLs are given (made by [`Harness::database`]).
    pub fn drop_databases(&self, urls: &[String]) {
        for url in urls {
            self.drop_database(url);
        }
    }
}
/// Which run of order-free one-line statements `line` belongs to, if any.
fn sortable(line: &str) -> Option<u8> {
    if line.starts_with("GRANT ") || line.starts_with("REVOKE ") {
        Some(0)
    } else if (line.starts_with("ALTER TABLE ONLY ") && line.contains(" ALTER COLUMN "))
        || line.starts_with("COMMENT ON COLUMN ")
    {
        Some(1)
    } else {
        None
    }
}

/// Drops comments, blank lines and psql restrict lines, and sorts the column lines of each
/// CREATE TABLE (an added column lands last; no ALTER can move it).
fn normalise_dump(dump: &str) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut block: Option<Vec<String>> = None;
    for line in dump.lines() {
        // PostgreSQL writes some expressions differently once they went through its deparser
        // (a varchar IN list: see retort_catalog::settle); a hand-written TO and a FROM built
        // from generated SQL hold the same thing in its two forms.
        let settled = retort_catalog::settle(line);
        let line: &str = &settled;
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
        // A user mapping's password never goes into a script (retort says where to set it):
        // its option line is left out, and the commas between options with it.
        if line.starts_with("    password '") {
            continue;
        }
        if line == ");" {
            if let Some(last) = out.last_mut() {
                if last.starts_with("CREATE USER MAPPING") && last.ends_with(" OPTIONS (") {
                    // Nothing but the password: as a mapping without options prints.
                    *last = format!("{};", last.trim_end_matches(" OPTIONS ("));
                    continue;
                }
                if last.ends_with(',') {
                    last.pop();
                }
            }
        }
        // Members of an operator family or class with the same number come in the order they
        // were added (pg_dump orders by number alone): a run of them is sorted.
        if line.starts_with("    OPERATOR ") || line.starts_with("    FUNCTION ") {
            let member = line.trim_end_matches(';').trim_end_matches(" ,").to_owned();
            let run_start = out
                .iter()
                .rposition(|l| !(l.starts_with("    OPERATOR ") || l.starts_with("    FUNCTION ")))
                .map_or(0, |p| p + 1);
            out.push(member);
            out[run_start..].sort();
            continue;
        }
        // The order of GRANTs follows the order they were given in, and per-column settings and
        // comments follow column positions (an added column lands last): the statements are
        // what count, so runs of them are sorted.
        if let Some(class) = sortable(line) {
            let run_start = out
                .iter()
                .rposition(|l| sortable(l) != Some(class))
                .map_or(0, |p| p + 1);
            out.push(line.to_owned());
            out[run_start..].sort();
            continue;
        }
        out.push(line.to_owned());
        if (line.starts_with("CREATE TABLE")
            || line.starts_with("CREATE UNLOGGED TABLE")
            || line.starts_with("CREATE FOREIGN TABLE"))
            && line.ends_with('(')
        {
            block = Some(Vec::new());
        }
    }
    out.join("\n")
}

/// Applies the script exactly as `retort diff` prints it, the way users apply it:
/// `psql -v ON_ERROR_STOP=1` reading it on stdin.
fn apply(h: &Harness, url: &str, d: &SchemaDiff) -> Result<(), String> {
    h.psql(url, &d.to_script())
}

/// One direction, FROM -> TO: load both, diff, apply the script through psql, compare.
/// Returns the generated SQL on success, what went wrong otherwise.
pub fn check(h: &Harness, from_sql: &str, to_sql: &str) -> Result<String, String> {
    let mut urls = Vec::new();
    let result = check_in(h, from_sql, to_sql, &mut urls, false, true);
    for url in urls {
        h.drop_database(&url);
    }
    result
}

/// [`check`] without the closed world's rule (catalog rows no change is about): what the
/// fuzzer runs, which generates kinds of objects the model is known not to write every
/// property of (the corpora list those, with reasons); its rule stays the script, the normalised
/// `pg_dump` and the second diff.
pub fn check_model(h: &Harness, from_sql: &str, to_sql: &str) -> Result<String, String> {
    let mut urls = Vec::new();
    let result = check_in(h, from_sql, to_sql, &mut urls, false, false);
    for url in urls {
        h.drop_database(&url);
    }
    result
}

/// [`check`] with both sides loaded through psql ([`Harness::database_psql`]): for scripts
/// written for psql (other projects' schema files, `pg_dump` output).
pub fn check_psql(h: &Harness, from_sql: &str, to_sql: &str) -> Result<String, String> {
    let mut urls = Vec::new();
    let result = check_in(h, from_sql, to_sql, &mut urls, true, true);
    for url in urls {
        h.drop_database(&url);
    }
    result
}

fn check_in(
    h: &Harness,
    from_sql: &str,
    to_sql: &str,
    urls: &mut Vec<String>,
    psql: bool,
    closed: bool,
) -> Result<String, String> {
    let filter = Filter::default();
    let load = |sql: &str| {
        if psql {
            h.database_psql(sql)
        } else {
            h.database(sql)
        }
    };
    let (from_url, mut from) = load(from_sql)?;
    urls.push(from_url.clone());
    let (to_url, mut to) = load(to_sql)?;
    urls.push(to_url.clone());
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
    if closed && !d.unwritten.is_empty() {
        return Err(format!(
            "retort cannot write {} difference(s) yet (catalog rows no change is about):\n  {}\n--- diff ---\n{sql}",
            d.unwritten.len(),
            d.unwritten.iter().take(10).cloned().collect::<Vec<_>>().join("\n  ")
        ));
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
    if !again.is_empty() || (closed && !again.unwritten.is_empty()) {
        return Err(format!(
            "the diff is not empty the second time:\n{}{}",
            again.to_sql(),
            again.unwritten.join("\n")
        ));
    }
    Ok(sql)
}

/// The corpus cases (`crates/retort-catalog/tests/corpus/<case>/{a.sql,b.sql}`), sorted by
/// name; `RETORT_CORPUS=name,name` keeps only those.
pub fn corpus_cases() -> Vec<std::path::PathBuf> {
    let root =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../retort-catalog/tests/corpus");
    let only: Option<Vec<String>> = std::env::var("RETORT_CORPUS")
        .ok()
        .map(|s| s.split(',').map(str::to_owned).collect());
    let mut dirs: Vec<std::path::PathBuf> = std::fs::read_dir(&root)
        .expect("the corpus directory")
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

/// Runs `work` on every item on `jobs` threads and gathers what it reports (its failures).
pub fn on_threads<T: Sync>(
    items: &[T],
    jobs: usize,
    work: impl Fn(&T) -> Vec<String> + Sync,
) -> Vec<String> {
    let failures: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let next = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..jobs.max(1) {
            s.spawn(|| {
                while let Some(item) = items.get(next.fetch_add(1, Ordering::SeqCst)) {
                    let found = work(item);
                    failures.lock().unwrap().extend(found);
                }
            });
        }
    });
    failures.into_inner().unwrap()
}

/// The number in environment variable `name`, or `default`.
pub fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Loads `sql`, dumps it (`pg_dump --schema-only`), restores the dump into a fresh database and
/// requires an empty diff between the two: retort must read PostgreSQL's own output back as
/// what it came from.
pub fn restore_round_trip(h: &Harness, sql: &str) -> Result<(), String> {
    let mut urls = Vec::new();
    let result = (|| {
        let (url, mut original) = h.database(sql)?;
        urls.push(url.clone());
        let dump = h.dump_raw(&url)?;
        let (restored_url, mut restored) = h.database("")?;
        urls.push(restored_url.clone());
        h.psql(&restored_url, &dump)
            .map_err(|e| format!("restoring pg_dump's script failed: {e}"))?;
        // --schema-only leaves materialized views unpopulated; populate those the original has
        // populated (a matview on another needs that one first, so repeat while any succeeds).
        let mut pending: Vec<String> = original
            .query(
                "SELECT format('%I.%I', schemaname, matviewname) FROM pg_matviews WHERE ispopulated",
                &[],
            )
            .map_err(|e| e.to_string())?
            .iter()
            .map(|r| r.get(0))
            .collect();
        while !pending.is_empty() {
            let before = pending.len();
            pending.retain(|m| {
                restored
                    .batch_execute(&format!("REFRESH MATERIALIZED VIEW {m}"))
                    .is_err()
            });
            if pending.len() == before {
                return Err(format!("cannot refresh {pending:?} after the restore"));
            }
        }
        let filter = Filter::default();
        let a = introspect(&mut original, &filter).map_err(|e| e.to_string())?;
        let b = introspect(&mut restored, &filter).map_err(|e| e.to_string())?;
        let d = diff(&a, &b);
        if d.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "the restored dump differs from its database:\n{}",
                d.to_sql()
            ))
        }
    })();
    h.drop_databases(&urls);
    result
}

/// Runs fuzz seed `seed`: A -> B, B -> A and empty -> A. On failure the report names the seed and the
/// direction, says what went wrong, and (with `shrink`) holds a minimal case as a.sql/b.sql,
/// ready to become a corpus case.
pub fn fuzz_seed(h: &Harness, seed: u64, shrink: bool) -> Result<(), String> {
    let (a, b) = gen::case(seed);
    let (a, b) = (a.statements(), b.statements());
    let empty = Vec::new();
    // A -> B and B -> A, and A from nothing (every object created in one script, in the
    // order retort chooses).
    for (label, from, to) in [
        ("A -> B", &a, &b),
        ("B -> A", &b, &a),
        ("empty -> A", &empty, &a),
    ] {
        let script = |s: &[String]| s.iter().map(|x| format!("{x};\n")).collect::<String>();
        let Err(error) = check_model(h, &script(from), &script(to)) else {
            continue;
        };
        if error.starts_with("loading the case SQL failed") {
            // The generator wrote something PostgreSQL refuses: a generator bug, reported as such.
            return Err(format!(
                "seed {seed}: the generated schema does not load: {error}"
            ));
        }
        let (from, to) = if shrink {
            let mut fails =
                |x: &[String], y: &[String]| match check_model(h, &script(x), &script(y)) {
                    Ok(_) => Some(false),
                    Err(e) if e.starts_with("loading the case SQL failed") => None,
                    Err(_) => Some(true),
                };
            shrink::shrink(from.clone(), to.clone(), &mut fails)
        } else {
            (from.clone(), to.clone())
        };
        return Err(format!(
            "seed {seed} ({label}): {error}\n--- a.sql ---\n{}--- b.sql ---\n{}",
            script(&from),
            script(&to)
        ));
    }
    Ok(())
}

/// Runs seeds `start..start + seeds` on `jobs` threads, calling `done(seed, result)` for each
/// as it finishes (in no particular order).
pub fn fuzz_seeds(
    h: &Harness,
    start: u64,
    seeds: u64,
    jobs: usize,
    done: &(dyn Fn(u64, Result<(), String>) + Sync),
) {
    let next = std::sync::atomic::AtomicU64::new(start);
    std::thread::scope(|s| {
        for _ in 0..jobs.max(1) {
            s.spawn(|| loop {
                let seed = next.fetch_add(1, Ordering::SeqCst);
                if seed >= start + seeds {
                    break;
                }
                done(seed, fuzz_seed(h, seed, true));
            });
        }
    });
}
