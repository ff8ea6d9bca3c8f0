//! `retort upgrade` and `retort downgrade`: online, or as a script with --sql.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use indicatif::{ProgressBar, ProgressStyle};
use retort_migrate::{
    render_script, Direction, Migration, MigrationRunner, Observer, Plan, RevisionGraph, Target,
};
use serde_json::json;

use super::project::{connect, heads_text, Project};
use crate::cli::{ApplyArgs, GlobalArgs};
use crate::output::Output;

pub fn run(
    global: &GlobalArgs,
    out: &Output,
    args: &ApplyArgs,
    direction: Direction,
) -> Result<ExitCode> {
    let project = Project::load(global)?;
    let graph = project.graph()?;
    let options = project.options(
        args.lock_wait.as_deref(),
        args.lock_timeout.as_deref(),
        args.statement_timeout.as_deref(),
    )?;
    let target_text = match (&args.target, direction) {
        (Some(t), _) => t.clone(),
        (None, Direction::Up) => "heads".to_owned(),
        (None, Direction::Down) => {
            bail!("downgrade needs a target: -1 (one step), base (everything), or a revision")
        }
    };

    if args.sql {
        let plan = offline_plan(global, &graph, &target_text, direction, &options)?;
        print!("{}", render_script(&graph, &plan, &options)?);
        return Ok(ExitCode::SUCCESS);
    }
    if target_text.contains(':') {
        bail!("a FROM:TO range only makes sense with --sql; online runs start from the database's current revision");
    }
    let target = Target::parse(&target_text)?;
    let mut client = connect(global)?;
    let mut observer = CliObserver::new(out);
    let started = Instant::now();
    let mut runner = MigrationRunner::new(&mut client, &graph, options, &mut observer);
    let result = match direction {
        Direction::Up => runner.upgrade(&target),
        Direction::Down => runner.downgrade(&target),
    };
    observer.finish();
    let report = result?;
    let plan = &report.plan;
    if out.json() {
        let steps: Vec<_> = plan
            .steps
            .iter()
            .zip(&report.durations)
            .map(|(s, d)| {
                let m = graph.get(&s.revision);
                json!({
                    "revision": s.revision,
                    "message": m.map(|m| m.message.as_str()),
                    "file": m.map(|m| m.path.display().to_string()),
                    "duration_ms": d.as_secs_f64() * 1000.0,
                })
            })
            .collect();
        out.print_json(&json!({
            "direction": direction.as_str(),
            "from": plan.from_heads,
            "to": plan.to_heads,
            "steps": steps,
            "total_ms": started.elapsed().as_secs_f64() * 1000.0,
        }))?;
    } else if plan.steps.is_empty() {
        out.say(format!(
            "nothing to do: the database is at {} ({target_text})",
            heads_text(&plan.to_heads)
        ));
    } else {
        out.say(format!(
            "{} {} migration{} in {:.0} ms; the database is now at {}",
            match direction {
                Direction::Up => "applied",
                Direction::Down => "reverted",
            },
            plan.steps.len(),
            if plan.steps.len() == 1 { "" } else { "s" },
            started.elapsed().as_secs_f64() * 1000.0,
            heads_text(&plan.to_heads)
        ));
    }
    Ok(ExitCode::SUCCESS)
}

/// The plan for --sql: from FROM:TO without a database, else from the database's current state.
fn offline_plan(
    global: &GlobalArgs,
    graph: &RevisionGraph,
    target_text: &str,
    direction: Direction,
    options: &retort_migrate::RunnerOptions,
) -> Result<Plan> {
    let (state, target) = match target_text.split_once(':') {
        Some((from, to)) => {
            let to = if to.is_empty() {
                match direction {
                    Direction::Up => "heads",
                    Direction::Down => "base",
                }
            } else {
                to
            };
            let state = match from {
                "" | "base" => graph.empty_state(),
                "heads" => graph.state_from_heads(
                    &graph
                        .heads()
                        .iter()
                        .map(|m| m.revision.clone())
                        .collect::<Vec<_>>(),
                )?,
                name => {
                    let m = graph.resolve(name)?;
                    graph.state_from_heads(std::slice::from_ref(&m.revision))?
                }
            };
            (state, Target::parse(to)?)
        }
        None => {
            let mut client = connect(global).map_err(|e| {
                e.context("--sql without FROM:TO reads the current revision from the database; give a range like base:heads to work offline")
            })?;
            let mut silent = retort_migrate::Silent;
            let current =
                MigrationRunner::new(&mut client, graph, options.clone(), &mut silent).current()?;
            (current.state, Target::parse(target_text)?)
        }
    };
    Ok(match direction {
        Direction::Up => graph.plan_upgrade(&state, &target)?,
        Direction::Down => graph.plan_downgrade(&state, &target)?,
    })
}

/// Progress for people: a bar for more than three migrations at a terminal, a line per
/// migration otherwise; warnings for non-transactional migrations and lock waits.
struct CliObserver<'a> {
    out: &'a Output,
    bar: Option<ProgressBar>,
}

impl<'a> CliObserver<'a> {
    fn new(out: &'a Output) -> Self {
        CliObserver { out, bar: None }
    }

    fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }

    fn line(&self, text: String) {
        match &self.bar {
            Some(bar) => bar.println(text),
            None => self.out.note(text),
        }
    }
}

impl Observer for CliObserver<'_> {
    fn waiting_for_lock(&mut self, holder: &str) {
        self.out
            .note(format!("waiting for the migration lock, held by {holder}"));
    }

    fn plan_ready(&mut self, plan: &Plan) {
        let n = plan.steps.len();
        if n > 3 && !self.out.quiet && !self.out.json() && std::io::stderr().is_terminal() {
            let bar = ProgressBar::new(n as u64);
            if let Ok(style) =
                ProgressStyle::with_template("{bar:30} {pos}/{len} {msg} ({elapsed}, eta {eta})")
            {
                bar.set_style(style);
            }
            bar.enable_steady_tick(Duration::from_millis(200));
            self.bar = Some(bar);
        }
    }

    fn step_started(&mut self, _index: usize, _total: usize, m: &Migration, direction: Direction) {
        if let Some(bar) = &self.bar {
            bar.set_message(format!(
                "{} {} {}",
                direction.as_str(),
                m.revision,
                m.message
            ));
        }
    }

    fn step_finished(&mut self, _index: usize, _total: usize, m: &Migration, elapsed: Duration) {
        match &self.bar {
            Some(bar) => bar.inc(1),
            None => self.line(format!(
                "  {}  {:<40} {:>8.1} ms",
                m.revision,
                m.message,
                elapsed.as_secs_f64() * 1000.0
            )),
        }
    }

    fn non_transactional(&mut self, m: &Migration) {
        // Loud even in --quiet: this is the one case where a failure needs a human.
        let text = format!(
            "warning: {} ({}) runs OUTSIDE a transaction (-- retort:transaction off): if a statement \
             fails, the ones before it stay applied and must be finished or undone by hand",
            m.revision,
            m.path.display()
        );
        match &self.bar {
            Some(bar) => bar.println(text),
            None => eprintln!("{text}"),
        }
    }
}
