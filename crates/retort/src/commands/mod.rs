//! One module per command.

pub mod adopt;
pub mod answers;
pub mod apply;
pub mod authoring;
pub mod backfill;
pub mod catalog_cache;
pub mod cluster;
pub mod demo;
pub mod desired;
pub mod failover;
pub mod fleet;
pub mod graph;
pub mod lint;
pub mod phases;
pub mod ping;
pub mod project;
pub mod replica;
pub mod schema;
pub mod shadow;
pub mod shadow_import;
pub mod stamp;
pub mod status;

use anyhow::Result;
use retort_pg::{ConnConfig, ConnParams, ProcessEnv};

use crate::cli::GlobalArgs;
use crate::config;

/// Connection settings with retort's precedence: -d, then $RETORT_DATABASE_URL, then
/// $DATABASE_URL, then retort.toml's [database] url, then libpq's PG* variables and defaults.
pub fn database_config(global: &GlobalArgs) -> Result<ConnConfig> {
    let env = |k: &str| std::env::var(k).ok().filter(|u| !u.is_empty());
    let from_env = env("RETORT_DATABASE_URL").or_else(|| env("DATABASE_URL"));
    let url = match global.database_url.clone().or(from_env) {
        Some(url) => Some(url),
        None => config::load(global.config.as_deref())?.database.url,
    };
    Ok(match url {
        Some(url) => ConnConfig::parse(&url)?,
        None => ConnConfig::resolve(ConnParams::default(), &ProcessEnv)?,
    })
}
