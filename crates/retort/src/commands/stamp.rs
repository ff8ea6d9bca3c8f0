//! `retort stamp` and `retort repair`: change what the version tables say, run no migration SQL.

use std::process::ExitCode;

use anyhow::Result;
use retort_migrate::{MigrationRunner, Silent, Target};
use serde_json::json;

use super::project::{connect, heads_text, Project};
use crate::cli::GlobalArgs;
use crate::output::Output;

pub fn stamp(
    global: &GlobalArgs,
    out: &Output,
    targets: &[String],
    lock_wait: Option<&str>,
) -> Result<ExitCode> {
    let project = Project::load(global)?;
    let graph = project.graph()?;
    let options = project.options(lock_wait, None, None)?;
    let targets = targets
        .iter()
        .map(|t| Target::parse(t))
        .collect::<Result<Vec<_>, _>>()?;
    let mut client = connect(global)?;
    let mut silent = Silent;
    let (from, to) =
        MigrationRunner::new(&mut client, &graph, options, &mut silent).stamp(&targets)?;
    if out.json() {
        out.print_json(&json!({"from": from, "to": to}))?;
    } else {
        out.say(format!(
            "stamped: {} -> {} (no migration SQL was run)",
            heads_text(&from),
            heads_text(&to)
        ));
    }
    Ok(ExitCode::SUCCESS)
}

pub fn repair(global: &GlobalArgs, out: &Output, revisions: &[String]) -> Result<ExitCode> {
    let project = Project::load(global)?;
    let graph = project.graph()?;
    let options = project.options(None, None, None)?;
    let mut client = connect(global)?;
    let mut silent = Silent;
    let repaired =
        MigrationRunner::new(&mut client, &graph, options, &mut silent).repair(revisions)?;
    if out.json() {
        out.print_json(&json!({"repaired": repaired}))?;
    } else {
        for r in repaired {
            out.say(format!(
                "{}: checksum {} -> {} recorded (no migration SQL was run)",
                r.revision,
                r.old
                    .as_deref()
                    .map(|o| &o[..16.min(o.len())])
                    .unwrap_or("<none>"),
                &r.new[..16]
            ));
        }
    }
    Ok(ExitCode::SUCCESS)
}
