//! retort.toml: found by walking up from the current directory.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde::Deserialize;

pub const CONFIG_FILE: &str = "retort.toml";

/// The parts of retort.toml the current commands read. Sections for later features are
/// accepted and ignored.
#[derive(Debug, Default, Deserialize)]
pub struct Config {
    #[serde(default)]
    pub database: Database,
    #[serde(default)]
    pub migrations: Migrations,
    #[serde(default)]
    pub shadow: Shadow,
    #[serde(default)]
    pub replicas: Replicas,
    /// Directory holding retort.toml; relative paths in it are relative to this.
    #[serde(skip)]
    pub root: Option<PathBuf>,
    /// The file it was read from.
    #[serde(skip)]
    pub path: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Database {
    pub url: Option<String>,
}

/// `[migrations]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Migrations {
    /// Directory of migration files (default "migrations").
    pub dir: Option<PathBuf>,
    /// Desired-state schema for autogenerate and check: a .sql file or a directory of them
    /// (default "schema.sql"). At most one of schema, schema_command, schema_build.
    pub schema: Option<PathBuf>,
    /// A shell command whose standard output is the desired schema as SQL.
    pub schema_command: Option<String>,
    /// A shell command that builds the desired schema in the database $DATABASE_URL names.
    pub schema_build: Option<String>,
    /// Schema of the version and history tables (default "retort").
    pub table_schema: Option<String>,
    /// `SET lock_timeout` per migration (default 5s; 0 = off).
    pub lock_timeout: Option<String>,
    /// `SET statement_timeout` per migration (default 0 = off).
    pub statement_timeout: Option<String>,
    /// How long to wait for another runner's lock (default 60s).
    pub lock_wait: Option<String>,
    /// How many times a migration that hit lock_timeout is retried (default 3).
    pub lock_retries: Option<u32>,
    /// Autogenerate keeps the simple DDL forms on tables with fewer estimated rows (default
    /// 10000).
    pub small_table_rows: Option<u64>,
}

/// `[shadow]`: where the password store lives and who the application is.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Shadow {
    /// Schema of the store (default "shadow").
    pub schema: Option<String>,
    /// The application's login role (default "app").
    pub app_role: Option<String>,
    /// The NOLOGIN role that owns the store (default "shadow_owner").
    pub owner_role: Option<String>,
    /// The role that may set any password, lock, unlock, delete, issue reset tokens and import
    /// (default "shadow_admin"; created NOLOGIN; grant it to operators).
    pub admin_role: Option<String>,
}

/// `[replicas]`: how migrations treat standbys.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Replicas {
    /// none | sync | all | N: after upgrade, wait for standbys to replay it.
    pub wait: Option<String>,
    /// How long to wait (default 60s).
    pub timeout: Option<String>,
    /// Refuse to start when a standby is further behind (bytes like 64MB, or a duration).
    pub max_lag: Option<String>,
}

/// Environment variables that override retort.toml keys (flags override both); the tests hold
/// `with_env` and `retort --help` to this list.
#[cfg(test)]
pub const ENV_KEYS: &[(&str, &str)] = &[
    ("RETORT_DATABASE_URL", "[database] url"),
    ("RETORT_MIGRATIONS_DIR", "[migrations] dir"),
    ("RETORT_MIGRATIONS_SCHEMA", "[migrations] schema"),
    (
        "RETORT_MIGRATIONS_SCHEMA_COMMAND",
        "[migrations] schema_command",
    ),
    (
        "RETORT_MIGRATIONS_SCHEMA_BUILD",
        "[migrations] schema_build",
    ),
    (
        "RETORT_MIGRATIONS_TABLE_SCHEMA",
        "[migrations] table_schema",
    ),
    (
        "RETORT_MIGRATIONS_LOCK_TIMEOUT",
        "[migrations] lock_timeout",
    ),
    (
        "RETORT_MIGRATIONS_STATEMENT_TIMEOUT",
        "[migrations] statement_timeout",
    ),
    ("RETORT_MIGRATIONS_LOCK_WAIT", "[migrations] lock_wait"),
    (
        "RETORT_MIGRATIONS_LOCK_RETRIES",
        "[migrations] lock_retries",
    ),
    ("RETORT_REPLICAS_WAIT", "[replicas] wait"),
    ("RETORT_REPLICAS_TIMEOUT", "[replicas] timeout"),
    ("RETORT_REPLICAS_MAX_LAG", "[replicas] max_lag"),
    ("RETORT_SHADOW_SCHEMA", "[shadow] schema"),
    ("RETORT_SHADOW_APP_ROLE", "[shadow] app_role"),
    ("RETORT_SHADOW_OWNER_ROLE", "[shadow] owner_role"),
    ("RETORT_SHADOW_ADMIN_ROLE", "[shadow] admin_role"),
];

impl Config {
    /// Applies `RETORT_*` overrides (see [`ENV_KEYS`]); empty values are ignored.
    pub fn with_env(mut self, get: &dyn Fn(&str) -> Option<String>) -> Config {
        let v = |k: &str| get(k).filter(|s| !s.is_empty());
        if let Some(x) = v("RETORT_DATABASE_URL") {
            self.database.url = Some(x);
        }
        let m = &mut self.migrations;
        if let Some(x) = v("RETORT_MIGRATIONS_DIR") {
            m.dir = Some(PathBuf::from(x));
        }
        // The three desired-state keys are one setting: a variable for one replaces whichever
        // the file set (two variables at once are refused later, like two keys in the file).
        let (file, command, build) = (
            v("RETORT_MIGRATIONS_SCHEMA"),
            v("RETORT_MIGRATIONS_SCHEMA_COMMAND"),
            v("RETORT_MIGRATIONS_SCHEMA_BUILD"),
        );
        if file.is_some() || command.is_some() || build.is_some() {
            m.schema = None;
            m.schema_command = None;
            m.schema_build = None;
        }
        if let Some(x) = file {
            m.schema = Some(PathBuf::from(x));
        }
        if let Some(n) = v("RETORT_MIGRATIONS_LOCK_RETRIES").and_then(|x| x.parse().ok()) {
            m.lock_retries = Some(n);
        }
        m.schema_command = m.schema_command.take().or(command);
        m.schema_build = m.schema_build.take().or(build);
        for (key, slot) in [
            ("RETORT_MIGRATIONS_TABLE_SCHEMA", &mut m.table_schema),
            ("RETORT_MIGRATIONS_LOCK_TIMEOUT", &mut m.lock_timeout),
            (
                "RETORT_MIGRATIONS_STATEMENT_TIMEOUT",
                &mut m.statement_timeout,
            ),
            ("RETORT_MIGRATIONS_LOCK_WAIT", &mut m.lock_wait),
            ("RETORT_REPLICAS_WAIT", &mut self.replicas.wait),
            ("RETORT_REPLICAS_TIMEOUT", &mut self.replicas.timeout),
            ("RETORT_REPLICAS_MAX_LAG", &mut self.replicas.max_lag),
            ("RETORT_SHADOW_SCHEMA", &mut self.shadow.schema),
            ("RETORT_SHADOW_APP_ROLE", &mut self.shadow.app_role),
            ("RETORT_SHADOW_OWNER_ROLE", &mut self.shadow.owner_role),
            ("RETORT_SHADOW_ADMIN_ROLE", &mut self.shadow.admin_role),
        ] {
            if let Some(x) = v(key) {
                *slot = Some(x);
            }
        }
        self
    }

    /// The directory relative paths are resolved against: retort.toml's, else the current one.
    pub fn root_dir(&self) -> PathBuf {
        self.root.clone().unwrap_or_else(|| PathBuf::from("."))
    }

    /// The migrations directory.
    pub fn migrations_dir(&self) -> PathBuf {
        let dir = self
            .migrations
            .dir
            .clone()
            .unwrap_or_else(|| PathBuf::from("migrations"));
        self.root_dir().join(dir)
    }
}

/// Loads `explicit` (which must exist) or the nearest retort.toml above the current directory.
pub fn load(explicit: Option<&Path>) -> Result<Config> {
    let path = match explicit {
        Some(p) => Some(p.to_owned()),
        None => find_upwards(&std::env::current_dir().context("reading the current directory")?),
    };
    let Some(path) = path else {
        return Ok(Config::default().with_env(&|k| std::env::var(k).ok()));
    };
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read config file {}", path.display()))?;
    let mut config: Config = toml::from_str(&text)
        .map_err(|e| anyhow::anyhow!("{}: {}", path.display(), e.to_string().trim_end()))?;
    config.root = path.parent().map(|p| {
        if p.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            p.to_owned()
        }
    });
    config.path = Some(path);
    Ok(config.with_env(&|k| std::env::var(k).ok()))
}

fn find_upwards(start: &Path) -> Option<PathBuf> {
    start
        .ancestors()
        .map(|dir| dir.join(CONFIG_FILE))
        .find(|candidate| candidate.is_file())
}

/// A duration as PostgreSQL writes them: `500ms`, `5s`, `2min`, `1h`, or a bare number of
/// milliseconds. `0` means off (`None`).
pub fn parse_duration(text: &str) -> Result<Option<Duration>> {
    let t = text.trim();
    let split = t
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let value: f64 = number
        .parse()
        .with_context(|| format!("`{text}` is not a duration like 500ms, 5s, 2min or 1h"))?;
    let ms = match unit.trim() {
        "" | "ms" => value,
        "s" => value * 1000.0,
        "min" | "m" => value * 60_000.0,
        "h" => value * 3_600_000.0,
        other => bail!("`{text}`: unknown unit `{other}`; use ms, s, min or h"),
    };
    Ok((ms > 0.0).then(|| Duration::from_secs_f64(ms / 1000.0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_postgres_settings() {
        assert_eq!(parse_duration("5s").unwrap(), Some(Duration::from_secs(5)));
        assert_eq!(
            parse_duration("250").unwrap(),
            Some(Duration::from_millis(250))
        );
        assert_eq!(
            parse_duration("2min").unwrap(),
            Some(Duration::from_secs(120))
        );
        assert_eq!(parse_duration("0").unwrap(), None);
        assert!(parse_duration("5 parsecs").is_err());
        assert!(parse_duration("soon").is_err());
    }
}

#[cfg(test)]
mod env_tests {
    use super::*;

    #[test]
    fn every_listed_variable_overrides_its_key() {
        let get = |k: &str| {
            ENV_KEYS
                .iter()
                .any(|(e, _)| *e == k)
                .then(|| format!("v-{k}"))
        };
        let c = Config::default().with_env(&get);
        assert_eq!(c.database.url.as_deref(), Some("v-RETORT_DATABASE_URL"));
        assert_eq!(
            c.migrations.lock_wait.as_deref(),
            Some("v-RETORT_MIGRATIONS_LOCK_WAIT")
        );
        assert_eq!(
            c.replicas.max_lag.as_deref(),
            Some("v-RETORT_REPLICAS_MAX_LAG")
        );
        assert_eq!(
            c.shadow.owner_role.as_deref(),
            Some("v-RETORT_SHADOW_OWNER_ROLE")
        );
        assert_eq!(
            c.shadow.admin_role.as_deref(),
            Some("v-RETORT_SHADOW_ADMIN_ROLE")
        );
        assert_eq!(
            c.migrations.schema_build.as_deref(),
            Some("v-RETORT_MIGRATIONS_SCHEMA_BUILD")
        );
        assert_eq!(
            c.migrations.dir.as_deref(),
            Some(std::path::Path::new("v-RETORT_MIGRATIONS_DIR"))
        );
        // --help lists every one of them.
        use clap::CommandFactory;
        let help = crate::cli::Cli::command().render_long_help().to_string();
        for (k, _) in ENV_KEYS {
            assert!(help.contains(k), "--help does not mention {k}");
        }
        // Nothing set, nothing changed; empty means unset.
        let c = Config::default().with_env(&|_| Some(String::new()));
        assert!(c.database.url.is_none() && c.shadow.schema.is_none());
    }
}
