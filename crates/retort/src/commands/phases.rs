//! Two-phase changes: `retort complete`, `retort abort`, `retort search-path`.

use std::process::ExitCode;

use anyhow::{bail, Result};
use retort_migrate::{shape, MigrationRunner, Silent, Target};
use serde_json::json;

use super::project::{connect, heads_text, Project};
use crate::cli::GlobalArgs;
use crate::output::Output;

pub fn complete(
    global: &GlobalArgs,
    out: &Output,
    force: bool,
    lock_wait: Option<&str>,
) -> Result<ExitCode> {
    let project = Project::load(global)?;
    let graph = project.graph()?;
    let options = project.options(lock_wait, None, None)?;
    let mut client = connect(global)?;
    let mut silent = Silent;
    let report = MigrationRunner::new(&mut client, &graph, options, &mut silent).complete(force)?;
    if out.json() {
        out.print_json(&json!({
            "completed": report.plan.steps.iter().map(|s| &s.revision).collect::<Vec<_>>(),
            "heads": report.plan.to_heads,
        }))?;
    } else {
        for (step, took) in report.plan.steps.iter().zip(&report.durations) {
            let message = graph
                .get(&step.revision)
                .map(|m| m.message.as_str())
                .unwrap_or_default();
            out.say(format!(
                "completed {} ({message}) in {:.1} ms",
                step.revision,
                took.as_secs_f64() * 1000.0
            ));
        }
        out.say(format!("now at {}", heads_text(&report.plan.to_heads)));
    }
    Ok(ExitCode::SUCCESS)
}

pub fn abort(
    global: &GlobalArgs,
    out: &Output,
    revision: Option<&str>,
    lock_wait: Option<&str>,
) -> Result<ExitCode> {
    let project = Project::load(global)?;
    let graph = project.graph()?;
    let options = project.options(lock_wait, None, None)?;
    let mut client = connect(global)?;
    let mut silent = Silent;
    let mut runner = MigrationRunner::new(&mut client, &graph, options, &mut silent);
    let current = runner.current()?;
    let expanded: Vec<String> = graph
        .expanded(&current.state)
        .iter()
        .map(|m| m.revision.clone())
        .collect();
    let chosen = match (revision, expanded.as_slice()) {
        (_, []) => bail!(
            "nothing to abort: no applied expand phase waits for its contract (a completed change \
             is undone with `retort downgrade`)"
        ),
        (None, [one]) => one.clone(),
        (None, many) => bail!(
            "{} changes are expanded ({}); name the one to abort",
            many.len(),
            many.join(", ")
        ),
        (Some(r), _) => {
            let m = graph.resolve(r)?;
            if !expanded.contains(&m.revision) {
                bail!(
                    "{} is not an expanded change waiting for its contract (expanded: {})",
                    m.revision,
                    expanded.join(", ")
                );
            }
            m.revision.clone()
        }
    };
    let report = runner.downgrade(&Target::LabelBase(chosen.clone()))?;
    if out.json() {
        out.print_json(&json!({
            "aborted": chosen,
            "undone": report.plan.steps.iter().map(|s| &s.revision).collect::<Vec<_>>(),
            "heads": report.plan.to_heads,
        }))?;
    } else {
        out.say(format!(
            "aborted {chosen}: its down section ran; now at {}",
            heads_text(&report.plan.to_heads)
        ));
    }
    Ok(ExitCode::SUCCESS)
}

pub fn search_path(global: &GlobalArgs, out: &Output, revision: Option<&str>) -> Result<ExitCode> {
    let project = Project::load(global)?;
    let graph = project.graph()?;
    let revision = match revision {
        Some(r) => graph.resolve(r)?.revision.clone(),
        None => match graph.heads().as_slice() {
            [one] => one.revision.clone(),
            [] => bail!("there are no migrations yet: an application has no revision to name"),
            many => bail!(
                "the graph has {} heads ({}); name the application version's revision",
                many.len(),
                many.iter()
                    .map(|m| m.revision.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        },
    };
    let schema = project.options(None, None, None)?.schema;
    if out.json() {
        out.print_json(&json!({
            "revision": revision,
            "schema": shape::shape_schema(&revision),
            "search_path": shape::search_path(&revision),
            "sql": shape::use_shape_sql(&schema, &revision),
        }))?;
    } else {
        // The value is the result: printed even with --quiet, for $(retort search-path).
        println!("{}", shape::search_path(&revision));
        out.note(format!(
            "note: on each connection: {}",
            shape::use_shape_sql(&schema, &revision)
        ));
    }
    Ok(ExitCode::SUCCESS)
}
