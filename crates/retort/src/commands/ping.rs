//! `retort ping`: can we connect, to what, and is it a primary?

use std::process::ExitCode;
use std::time::Instant;

use anyhow::Result;
use serde_json::json;

use crate::cli::GlobalArgs;
use crate::output::Output;

pub fn run(global: &GlobalArgs, out: &Output) -> Result<ExitCode> {
    let cfg = super::database_config(global)?;
    let start = Instant::now();
    let mut client = retort_pg::connect(&cfg)?;
    let info = retort_pg::server_info(&mut client)?;
    let ms = start.elapsed().as_secs_f64() * 1000.0;
    let role = if info.in_recovery {
        "standby"
    } else {
        "primary"
    };
    if out.json() {
        out.print_json(&json!({
            "url": cfg.to_string(),
            "server_version": info.version,
            "server_version_num": info.version_num,
            "role": role,
            "database": info.database,
            "user": info.user,
            "connect_ms": ms,
        }))?;
    } else if !out.quiet {
        println!(
            "connected to {cfg} in {ms:.1} ms: PostgreSQL {}, {role}{}, database {:?} as {:?}",
            info.version,
            if info.in_recovery { " (read-only)" } else { "" },
            info.database,
            info.user
        );
    }
    Ok(ExitCode::SUCCESS)
}
