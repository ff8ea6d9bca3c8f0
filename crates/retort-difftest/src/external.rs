//! The corpora kept outside the repository: other projects' files, read where they are and
//! never copied in. `RETORT_CORPUS_DIR` names the directory (default `../shared/corpus` beside
//! the repository), which holds:
//!
//! - `real/<case>/{a.sql,b.sql}`: real projects' schemas at two versions each;
//! - `pg-regress/`: PostgreSQL's regression suite (`sql/*.sql` and `schedule`). One database
//!   gets every file in schedule order (errors and all, as the suite runs them); the schema is
//!   dumped after each; a file that changed it gives a transition (the dump before, the dump
//!   after). Building them takes minutes, so they are cached under the target directory, keyed
//!   by the files' contents and the server version.

use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

use crate::Harness;

/// The corpus directory, when it exists.
pub fn corpus_dir() -> Option<PathBuf> {
    let dir = match std::env::var_os("RETORT_CORPUS_DIR") {
        Some(d) => PathBuf::from(d),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus"),
    };
    dir.is_dir().then_some(dir)
}

/// One case: a name and the two sides.
#[derive(Debug, Clone)]
pub struct Case {
    /// `project_date_commit_to_date_commit`, or `NNN_file` for a regression transition.
    pub name: String,
    /// The schema before.
    pub a: String,
    /// The schema after.
    pub b: String,
}

/// The real projects' cases (`real/<case>/{a.sql,b.sql}`), sorted by name.
pub fn real_cases(dir: &Path) -> Vec<Case> {
    let mut out: Vec<Case> = std::fs::read_dir(dir.join("real"))
        .map(|r| {
            r.filter_map(|e| e.ok().map(|e| e.path()))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default()
        .into_iter()
        .filter_map(|p| {
            Some(Case {
                name: p.file_name()?.to_string_lossy().into_owned(),
                a: std::fs::read_to_string(p.join("a.sql")).ok()?,
                b: std::fs::read_to_string(p.join("b.sql")).ok()?,
            })
        })
        .collect();
    out.sort_by(|x, y| x.name.cmp(&y.name));
    out
}

/// The regression suite's transitions, and the final schema.
#[derive(Debug, Clone)]
pub struct Regress {
    /// Each file that changed the schema: the dump before it and after it.
    pub transitions: Vec<Case>,
    /// The dump after the last file.
    pub last: String,
    /// The roles the dumps name (`regress_*`), to create before loading them.
    pub roles: Vec<String>,
}

impl Regress {
    /// Creates the roles the dumps name, in `h`'s cluster (the suite drops the roles it
    /// creates, but a dump taken in between still grants to them).
    pub fn create_roles(&self, h: &Harness) -> Result<(), String> {
        let (url, mut client) = h.database("")?;
        for r in &self.roles {
            client
                .batch_execute(&format!(
                    "DO $$BEGIN CREATE ROLE {}; EXCEPTION WHEN duplicate_object THEN NULL; END$$",
                    retort_pg::quote_ident(r)
                ))
                .map_err(|e| e.to_string())?;
        }
        drop(client);
        h.drop_databases(&[url]);
        Ok(())
    }
}

/// The files of `pg-regress/schedule`, in order.
fn schedule(dir: &Path) -> Result<Vec<String>, String> {
    let text = std::fs::read_to_string(dir.join("schedule")).map_err(|e| e.to_string())?;
    Ok(text
        .lines()
        .flat_map(|l| l.split_whitespace())
        .map(str::to_owned)
        .collect())
}

/// The transitions of `dir/pg-regress`, built in `h`'s cluster or read from the cache.
/// `progress` hears each file as it runs.
pub fn regress(h: &Harness, dir: &Path, progress: &dyn Fn(&str)) -> Result<Regress, String> {
    let root = dir.join("pg-regress");
    let files = schedule(&root)?;
    let mut key = Sha256::new();
    key.update(h.server_version().as_bytes());
    for f in &files {
        key.update(f.as_bytes());
        key.update(std::fs::read(root.join("sql").join(format!("{f}.sql"))).unwrap_or_default());
    }
    let key: String = key.finalize()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let cache = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../target/pg-regress-cases")
        .join(&key);
    let dumps = match read_cache(&cache) {
        Some(d) => d,
        None => {
            let d = build(h, &root, &files, progress)?;
            write_cache(&cache, &d);
            d
        }
    };
    let mut transitions = Vec::new();
    for (i, w) in dumps.windows(2).enumerate() {
        if w[0].1 != w[1].1 {
            transitions.push(Case {
                name: format!("{:03}_{}", i + 1, w[1].0),
                a: w[0].1.clone(),
                b: w[1].1.clone(),
            });
        }
    }
    let last = dumps.last().map(|d| d.1.clone()).unwrap_or_default();
    let mut roles: Vec<String> = dumps
        .iter()
        .flat_map(|(_, d)| crate::external::regress_roles(d))
        .collect();
    roles.sort();
    roles.dedup();
    Ok(Regress {
        transitions,
        last,
        roles,
    })
}

/// The `regress_*` names of `dump` (the suite names every role it creates so).
fn regress_roles(dump: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in dump.lines().filter(|l| {
        l.starts_with("GRANT ")
            || l.starts_with("REVOKE ")
            || l.starts_with("ALTER DEFAULT PRIVILEGES")
            || l.contains(" TO regress_")
            || l.starts_with("CREATE POLICY")
            || l.starts_with("CREATE USER MAPPING")
    }) {
        let mut rest = line;
        while let Some(i) = rest.find("regress_") {
            let before = rest[..i].chars().last();
            let name: String = rest[i..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if before.is_none_or(|c| !c.is_ascii_alphanumeric() && c != '_' && c != '.') {
                out.push(name.clone());
            }
            rest = &rest[i + name.len()..];
        }
    }
    out
}

/// Runs every file into one new database and dumps it after each: (file, dump), the first
/// entry being the empty database's.
fn build(
    h: &Harness,
    root: &Path,
    files: &[String],
    progress: &dyn Fn(&str),
) -> Result<Vec<(String, String)>, String> {
    let (url, client) = h.database("")?;
    drop(client);
    let mut out = vec![(String::from("empty"), h.dump_raw(&url)?)];
    for f in files {
        progress(f);
        let path = root.join("sql").join(format!("{f}.sql"));
        // Errors and all, as the suite runs them; the output is not needed.
        let _ = Command::new(h.program("psql"))
            .args(["-X", "-a", "-q", "-d", &url, "-f"])
            .arg(&path)
            .current_dir(root.join("sql"))
            .env("PGTZ", "PST8PDT")
            .env("PGDATESTYLE", "Postgres, MDY")
            .env("PGOPTIONS", "-c statement_timeout=120s")
            .stdin(std::process::Stdio::null())
            .output()
            .map_err(|e| format!("psql: {e}"))?;
        out.push((f.clone(), h.dump_raw(&url)?));
    }
    Ok(out)
}

fn read_cache(dir: &Path) -> Option<Vec<(String, String)>> {
    let index = std::fs::read_to_string(dir.join("index")).ok()?;
    index
        .lines()
        .enumerate()
        .map(|(i, name)| {
            Some((
                name.to_owned(),
                std::fs::read_to_string(dir.join(format!("{i:03}.sql"))).ok()?,
            ))
        })
        .collect()
}

fn write_cache(dir: &Path, dumps: &[(String, String)]) {
    let _ = std::fs::create_dir_all(dir);
    for (i, (_, d)) in dumps.iter().enumerate() {
        let _ = std::fs::write(dir.join(format!("{i:03}.sql")), d);
    }
    let index: String = dumps.iter().map(|(n, _)| format!("{n}\n")).collect();
    // Last: a cache without its index is not read.
    let _ = std::fs::write(dir.join("index"), index);
}

/// The cases a test runs from the regression suite: empty to final, final to empty, and every
/// tenth transition (both directions).
pub fn regress_sample(r: &Regress) -> Vec<(String, String, String)> {
    let mut out = vec![
        ("empty->final".to_owned(), String::new(), r.last.clone()),
        ("final->empty".to_owned(), r.last.clone(), String::new()),
    ];
    for t in r.transitions.iter().step_by(10) {
        out.push((format!("{} a->b", t.name), t.a.clone(), t.b.clone()));
        out.push((format!("{} b->a", t.name), t.b.clone(), t.a.clone()));
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_suites_roles_are_found_in_a_dump() {
        let dump = "GRANT SELECT ON TABLE public.t TO regress_user1;\n\
                    CREATE POLICY p ON public.t TO regress_a, \"regress_b\";\n\
                    CREATE TABLE public.regress_table (x int);\n";
        assert_eq!(
            super::regress_roles(dump),
            vec!["regress_user1", "regress_a", "regress_b"]
        );
    }
}
