//! Where a desired schema comes from: `.sql` files, the SQL a program prints, or the database a
//! program builds. Each ends as a catalog read from a throwaway database.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};
use retort_catalog::{introspect, load_sql_texts, Filter, Snapshot};

use super::catalog_cache::{self, Source};
use super::project::Project;
use super::schema::{snapshot_of_sql, DevServer};
use crate::cli::DesiredArgs;

/// A desired-state source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Desired {
    /// A .sql file or a directory of them.
    Files(PathBuf),
    /// A shell command whose standard output is SQL.
    Command(String),
    /// A shell command that builds the schema in the database `$DATABASE_URL` names.
    Build(String),
}

/// How many lines of a failing program's stderr a message shows.
const STDERR_TAIL: usize = 20;

impl Desired {
    /// The project's source: a flag, else exactly one of [migrations] schema, schema_command and
    /// schema_build, else `schema.sql` beside retort.toml. None when that file does not exist.
    pub fn of_project(project: &Project, args: &DesiredArgs) -> Result<Option<Desired>> {
        if let Some(p) = &args.schema_file {
            return Ok(Some(Desired::Files(p.clone())));
        }
        if let Some(c) = &args.schema_command {
            return Ok(Some(Desired::Command(c.clone())));
        }
        if let Some(c) = &args.schema_build {
            return Ok(Some(Desired::Build(c.clone())));
        }
        let m = &project.config.migrations;
        let set: Vec<&str> = [
            m.schema.as_ref().map(|_| "schema"),
            m.schema_command.as_ref().map(|_| "schema_command"),
            m.schema_build.as_ref().map(|_| "schema_build"),
        ]
        .into_iter()
        .flatten()
        .collect();
        if set.len() > 1 {
            bail!(
                "{}: [migrations] sets {}; the desired schema comes from exactly one of schema, \
                 schema_command and schema_build",
                project
                    .config
                    .path
                    .as_deref()
                    .map_or_else(|| "retort.toml".into(), |p| p.display().to_string()),
                set.join(" and ")
            );
        }
        if let Some(c) = &m.schema_command {
            return Ok(Some(Desired::Command(c.clone())));
        }
        if let Some(c) = &m.schema_build {
            return Ok(Some(Desired::Build(c.clone())));
        }
        let path = project.schema_path();
        Ok(path.exists().then_some(Desired::Files(path)))
    }

    /// Words for messages: `schema.sql`, `the output of `...``, `the database `...` builds`.
    pub fn describe(&self) -> String {
        match self {
            Desired::Files(p) => p.display().to_string(),
            Desired::Command(c) => format!("the output of `{c}`"),
            Desired::Build(c) => format!("the database `{c}` builds"),
        }
    }

    /// The catalog of this source, built in a throwaway database (or, for files and a
    /// command's output, read from the catalog cache when the SQL is unchanged). Programs run
    /// in `root` through `sh -c`.
    pub fn snapshot(
        &self,
        root: &Path,
        dev: &mut DevServer,
        filter: &Filter,
        cache: bool,
    ) -> Result<(Snapshot, Source)> {
        match self {
            Desired::Files(p) => {
                if !p.exists() {
                    bail!("{}: no such file or directory", p.display());
                }
                snapshot_of_sql(p, dev, filter, cache)
            }
            Desired::Command(cmd) => {
                let sql = run(cmd, root, &[]).with_context(|| format!("schema_command `{cmd}`"))?;
                if retort_pg::split_statements(&sql, 1)
                    .map(|s| s.is_empty())
                    .unwrap_or(false)
                {
                    bail!(
                        "schema_command `{cmd}` printed no SQL: an empty desired schema would \
                         autogenerate a migration that drops everything, so retort stops here \
                         (check that the command prints the schema on standard output)"
                    );
                }
                let name = PathBuf::from(format!("<output of `{cmd}`>"));
                let key = if cache {
                    let key = catalog_cache::text_key(&sql, &dev.server_version()?, filter);
                    if let Some(s) = catalog_cache::load(&key) {
                        return Ok((s, Source::Hit));
                    }
                    Some(key)
                } else {
                    None
                };
                let scratch = dev.scratch()?;
                let mut client = scratch.connect()?;
                load_sql_texts(&mut client, &[(name, sql)])?;
                let snapshot = introspect(&mut client, filter)?;
                Ok(match key {
                    Some(key) => {
                        catalog_cache::store(&key, &snapshot);
                        (snapshot, Source::Miss)
                    }
                    None => (snapshot, Source::Off),
                })
            }
            Desired::Build(cmd) => {
                let scratch = dev.scratch()?;
                let config = scratch.config();
                let url = config.to_string().replacen(":***@", "@", 1);
                let mut env: Vec<(&str, String)> = vec![
                    ("DATABASE_URL", url),
                    ("PGHOST", config.hosts.join(",")),
                    (
                        "PGPORT",
                        config
                            .ports
                            .iter()
                            .map(u16::to_string)
                            .collect::<Vec<_>>()
                            .join(","),
                    ),
                    ("PGUSER", config.user.clone()),
                    ("PGDATABASE", config.dbname.clone()),
                ];
                if let Some(p) = &config.password {
                    env.push(("PGPASSWORD", p.expose().to_owned()));
                }
                run(cmd, root, &env).with_context(|| format!("schema_build `{cmd}`"))?;
                let mut client = scratch.connect()?;
                let snapshot = introspect(&mut client, filter)?;
                if snapshot.catalog.tables.is_empty()
                    && snapshot.catalog.types.is_empty()
                    && snapshot.catalog.functions.is_empty()
                    && snapshot.catalog.views.is_empty()
                {
                    bail!(
                        "schema_build `{cmd}` left the database empty: an empty desired schema \
                         would autogenerate a migration that drops everything, so retort stops \
                         here (the command must create its schema in the database $DATABASE_URL \
                         names)"
                    );
                }
                Ok((snapshot, Source::Off))
            }
        }
    }
}

/// Runs `cmd` through `sh -c` in `dir` with `env` added; its standard output, or an error with
/// the exit status and the last lines of its stderr.
fn run(cmd: &str, dir: &Path, env: &[(&str, String)]) -> Result<String> {
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg(cmd)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        command.env(k, v);
    }
    let out = command
        .output()
        .with_context(|| format!("starting `sh -c` in {}", dir.display()))?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let lines: Vec<&str> = stderr.lines().collect();
        let tail = &lines[lines.len().saturating_sub(STDERR_TAIL)..];
        let status = match out.status.code() {
            Some(c) => format!("exit status {c}"),
            None => "a signal".to_owned(),
        };
        bail!(
            "failed with {status}{}",
            if tail.is_empty() {
                " and printed nothing on stderr".to_owned()
            } else {
                format!("; the last lines of its stderr:\n  {}", tail.join("\n  "))
            }
        );
    }
    String::from_utf8(out.stdout).context("its output is not UTF-8")
}
