//! retort.toml: found by walking up from the current directory.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Deserialize;

pub const CONFIG_FILE: &str = "retort.toml";

/// The parts of retort.toml the current commands read. Sections for later features are
/// accepted and ignored.
#[derive(Debug, Default, Deserialize)]
pub struct Config {
    #[serde(default)]
    pub database: Database,
    /// Directory holding retort.toml; relative paths in it are relative to this.
    #[serde(skip)]
    pub root: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Database {
    pub url: Option<String>,
}

/// Loads `explicit` (which must exist) or the nearest retort.toml above the current directory.
pub fn load(explicit: Option<&Path>) -> Result<Config> {
    let path = match explicit {
        Some(p) => Some(p.to_owned()),
        None => find_upwards(&std::env::current_dir().context("reading the current directory")?),
    };
    let Some(path) = path else {
        return Ok(Config::default());
    };
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read config file {}", path.display()))?;
    let mut config: Config = toml::from_str(&text)
        .map_err(|e| anyhow::anyhow!("{}: {}", path.display(), e.to_string().trim_end()))?;
    config.root = path.parent().map(Path::to_owned);
    Ok(config)
}

fn find_upwards(start: &Path) -> Option<PathBuf> {
    start
        .ancestors()
        .map(|dir| dir.join(CONFIG_FILE))
        .find(|candidate| candidate.is_file())
}
