//! Shared by the runner tests: a real cluster, fresh databases, and migration files on disk.

#![allow(dead_code)] // each test binary uses a different subset

use std::path::{Path, PathBuf};
use std::process::Command;

use retort_cluster::Cluster;
use retort_pg::{Client, ConnConfig};

/// A fresh primary-only cluster for one test.
pub fn cluster() -> Cluster {
    Cluster::builder().start().expect("start a test cluster")
}

/// A new empty database on `c`, its URL, and a connection to it.
pub fn database(c: &Cluster, name: &str) -> (String, Client) {
    let url = c.create_database(name).unwrap();
    let client = retort_pg::connect(&ConnConfig::parse(&url).unwrap()).unwrap();
    (url, client)
}

/// Writes `<revision>_<slug>.sql` files into a new temporary directory.
pub struct Files {
    pub dir: tempfile::TempDir,
}

impl Files {
    pub fn new() -> Files {
        Files {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes one migration; returns its path.
    pub fn add(&self, revision: &str, parents: &[&str], up: &str, down: Option<&str>) -> PathBuf {
        self.add_with(revision, parents, "", up, down)
    }

    /// Like `add`, with extra header lines (`-- retort:...`).
    pub fn add_with(
        &self,
        revision: &str,
        parents: &[&str],
        extra: &str,
        up: &str,
        down: Option<&str>,
    ) -> PathBuf {
        let mut text = format!("-- retort:revision {revision}\n");
        if !parents.is_empty() {
            text.push_str(&format!("-- retort:parents {}\n", parents.join(" ")));
        }
        text.push_str(&format!("-- retort:message migration {revision}\n"));
        text.push_str(extra);
        text.push_str("\n-- retort:up\n");
        text.push_str(up);
        if let Some(down) = down {
            text.push_str("\n-- retort:down\n");
            text.push_str(down);
        }
        let path = self.path().join(format!("{revision}_m.sql"));
        std::fs::write(&path, text).unwrap();
        path
    }

    pub fn graph(&self) -> retort_migrate::RevisionGraph {
        retort_migrate::load_dir(self.path()).unwrap()
    }
}

/// Rows of retort.version, sorted.
pub fn version_rows(client: &mut Client) -> Vec<String> {
    client
        .query("SELECT revision FROM retort.version ORDER BY 1", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// Names of ordinary tables in schema public, sorted.
pub fn tables(client: &mut Client) -> Vec<String> {
    client
        .query(
            "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// `pg_dump --schema-only` of a database, with the lines that differ between any two databases
/// (comments, settings) removed.
pub fn schema_dump(c: &Cluster, url: &str) -> String {
    let out = Command::new(c.binaries().program("pg_dump"))
        .args([
            "--schema-only",
            "--no-owner",
            "--no-privileges",
            "--dbname",
            url,
        ])
        .output()
        .expect("run pg_dump");
    assert!(
        out.status.success(),
        "pg_dump failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter(|l| {
            !l.starts_with("--")
                && !l.trim().is_empty()
                && !l.starts_with("\\restrict")
                && !l.starts_with("\\unrestrict")
        })
        .collect::<Vec<_>>()
        .join("\n")
}
