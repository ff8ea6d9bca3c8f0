//! What the migration commands share: retort.toml's [migrations], the revision graph, the
//! database connection and runner options.

use std::path::PathBuf;

use anyhow::{Context, Result};
use retort_migrate::{RevisionGraph, RunnerOptions};
use retort_pg::Client;

use crate::cli::GlobalArgs;
use crate::config::{self, parse_duration, Config};

/// A project: its configuration and where its migrations live.
pub struct Project {
    pub config: Config,
    pub migrations_dir: PathBuf,
}

impl Project {
    pub fn load(global: &GlobalArgs) -> Result<Project> {
        let config = config::load(global.config.as_deref())?;
        let mut migrations_dir = config.migrations_dir();
        // Paths in messages read best relative to where the user stands.
        if let Ok(rel) = migrations_dir.strip_prefix(".") {
            if !rel.as_os_str().is_empty() {
                migrations_dir = rel.to_owned();
            }
        }
        if let Ok(cwd) = std::env::current_dir() {
            if let Ok(rel) = migrations_dir.strip_prefix(&cwd) {
                migrations_dir = if rel.as_os_str().is_empty() {
                    PathBuf::from(".")
                } else {
                    rel.to_owned()
                };
            }
        }
        Ok(Project {
            config,
            migrations_dir,
        })
    }

    /// The desired-state schema: [migrations] schema, default schema.sql beside retort.toml.
    pub fn schema_path(&self) -> PathBuf {
        let schema = self
            .config
            .migrations
            .schema
            .clone()
            .unwrap_or_else(|| "schema.sql".into());
        self.config.root_dir().join(schema)
    }

    /// Reads and validates every migration file.
    pub fn graph(&self) -> Result<RevisionGraph> {
        Ok(retort_migrate::load_dir(&self.migrations_dir)?)
    }

    /// Runner options: flags over retort.toml over defaults.
    pub fn options(
        &self,
        lock_wait: Option<&str>,
        lock_timeout: Option<&str>,
        statement_timeout: Option<&str>,
    ) -> Result<RunnerOptions> {
        self.options_with_retries(lock_wait, lock_timeout, statement_timeout, None)
    }

    /// [`options`](Self::options), with `--lock-retries` over [migrations] lock_retries.
    pub fn options_with_retries(
        &self,
        lock_wait: Option<&str>,
        lock_timeout: Option<&str>,
        statement_timeout: Option<&str>,
        lock_retries: Option<u32>,
    ) -> Result<RunnerOptions> {
        let m = &self.config.migrations;
        let defaults = RunnerOptions::default();
        let pick = |flag: Option<&str>, key: &Option<String>, name: &str, default| -> Result<_> {
            match flag.or(key.as_deref()) {
                Some(text) => parse_duration(text).with_context(|| format!("reading {name}")),
                None => Ok(default),
            }
        };
        Ok(RunnerOptions {
            schema: m
                .table_schema
                .clone()
                .unwrap_or_else(|| defaults.schema.clone()),
            lock_timeout: pick(
                lock_timeout,
                &m.lock_timeout,
                "lock_timeout",
                defaults.lock_timeout,
            )?,
            statement_timeout: pick(
                statement_timeout,
                &m.statement_timeout,
                "statement_timeout",
                defaults.statement_timeout,
            )?,
            lock_wait: pick(
                lock_wait,
                &m.lock_wait,
                "lock_wait",
                Some(defaults.lock_wait),
            )?
            .unwrap_or_default(),
            lock_retries: lock_retries
                .or(m.lock_retries)
                .unwrap_or(defaults.lock_retries),
            ..defaults
        })
    }
}

/// Connects with retort's precedence (-d, $DATABASE_URL, retort.toml, PG*).
pub fn connect(global: &GlobalArgs) -> Result<Client> {
    let cfg = super::database_config(global)?;
    Ok(retort_pg::connect(&cfg)?)
}

/// "3f2a9c1b7e4d" or "base".
pub fn heads_text(heads: &[String]) -> String {
    if heads.is_empty() {
        "base".to_owned()
    } else {
        heads.join(", ")
    }
}
