//! Shared by the CLI tests that run retort in a project directory against a test database.

#![allow(dead_code)] // each test binary uses a different subset

use std::path::Path;
use std::process::Command;

use retort_cluster::Cluster;
use retort_pg::{Client, ConnConfig};

/// `retort` run in `project` with DATABASE_URL set to `url`.
pub fn retort(project: &Path, url: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_retort"));
    cmd.current_dir(project)
        .env_remove("RETORT_PG_BINDIR")
        .env("DATABASE_URL", url);
    cmd
}

/// Exit code, stdout and stderr.
pub fn run(cmd: &mut Command) -> (i32, String, String) {
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Parses stdout as JSON, showing it when it is not.
pub fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// A new database on `c`: its URL and a connection.
pub fn database(c: &Cluster, name: &str) -> (String, Client) {
    let url = c.create_database(name).unwrap();
    let client = retort_pg::connect(&ConnConfig::parse(&url).unwrap()).unwrap();
    (url, client)
}
