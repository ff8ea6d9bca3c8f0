//! Fleets: the same migrations on many databases (`upgrade --targets`, `current --targets`).

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use retort_migrate::{Direction, MigrationRunner, RevisionGraph, RunnerOptions, Silent, Target};
use retort_pg::ConnConfig;
use serde_json::json;

use crate::cli::{ApplyArgs, FleetArgs, GlobalArgs};
use crate::output::Output;

/// One database of the fleet.
#[derive(Clone)]
pub struct Member {
    /// Where, for people (no password).
    pub label: String,
    pub config: ConnConfig,
}

/// The targets from --targets FILE and/or --targets-query SQL.
pub fn members(global: &GlobalArgs, fleet: &FleetArgs) -> Result<Vec<Member>> {
    let mut out = Vec::new();
    if let Some(file) = &fleet.targets {
        out.extend(read_file(file)?);
    }
    if let Some(sql) = &fleet.targets_query {
        let base = super::database_config(global)?;
        let mut client = retort_pg::connect(&base)?;
        let rows = client
            .query(sql.as_str(), &[])
            .map_err(retort_pg::PgError::from)
            .context("running --targets-query")?;
        for row in rows {
            let db: String = row
                .try_get(0)
                .context("--targets-query must return database names as text")?;
            let mut config = base.clone();
            config.dbname = db;
            out.push(Member {
                label: config.to_string(),
                config,
            });
        }
    }
    if out.is_empty() {
        bail!("the fleet is empty: --targets and --targets-query named no database");
    }
    Ok(out)
}

fn read_file(path: &Path) -> Result<Vec<Member>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.split('#').next().unwrap_or_default().trim();
        if line.is_empty() {
            continue;
        }
        let config =
            ConnConfig::parse(line).with_context(|| format!("{}:{}", path.display(), i + 1))?;
        out.push(Member {
            label: config.to_string(),
            config,
        });
    }
    Ok(out)
}

/// What happened to one database.
#[derive(Clone)]
enum Outcome {
    Done {
        applied: usize,
        at: Vec<String>,
        ms: f64,
    },
    Failed {
        error: String,
    },
    Skipped,
}

fn migrate_one(
    member: &Member,
    graph: &RevisionGraph,
    options: &RunnerOptions,
    direction: Direction,
    target: &Target,
) -> Outcome {
    let began = Instant::now();
    let result = (|| -> Result<(usize, Vec<String>)> {
        let mut client = retort_pg::connect(&member.config)?;
        let mut silent = Silent;
        // A lost connection is settled against this member's version table (when the run
        // may reconnect at all: --reconnect-for 0 leaves it to the rerun).
        let options = RunnerOptions {
            database: (!options.reconnect_for.is_zero()).then(|| member.config.clone()),
            ..options.clone()
        };
        let mut runner = MigrationRunner::new(&mut client, graph, options, &mut silent);
        let report = match direction {
            Direction::Up => runner.upgrade(target)?,
            Direction::Down => runner.downgrade(target)?,
        };
        Ok((report.plan.steps.len(), report.plan.to_heads))
    })();
    match result {
        Ok((applied, at)) => Outcome::Done {
            applied,
            at,
            ms: began.elapsed().as_secs_f64() * 1000.0,
        },
        Err(e) => Outcome::Failed {
            error: e
                .chain()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(": "),
        },
    }
}

fn line_json(label: &str, o: &Outcome) -> serde_json::Value {
    match o {
        Outcome::Done { applied, at, ms } => {
            json!({"target": label, "status": "ok", "applied": applied, "at": at, "ms": ms})
        }
        Outcome::Failed { error } => json!({"target": label, "status": "failed", "error": error}),
        Outcome::Skipped => json!({"target": label, "status": "skipped"}),
    }
}

pub fn run(
    global: &GlobalArgs,
    out: &Output,
    args: &ApplyArgs,
    direction: Direction,
    graph: &RevisionGraph,
    options: &RunnerOptions,
    target: &Target,
) -> Result<ExitCode> {
    if args.sql {
        bail!("--sql prints one script; it does not combine with --targets");
    }
    let members = members(global, &args.fleet)?;
    let jobs = args.jobs.max(1);
    let tty = std::io::stderr().is_terminal() && !out.json() && !out.quiet;
    let emit = |label: &str, o: &Outcome, bar: Option<&ProgressBar>| {
        if let Some(bar) = bar {
            if let Outcome::Failed { error } = o {
                bar.println(format!("failed: {label}: {error}"));
            }
            bar.inc(1);
        } else if !out.quiet {
            // JSON lines on stdout when not at a terminal: one per database as it finishes.
            println!("{}", line_json(label, o));
        }
    };

    // The canary first: if it fails, nothing else is touched.
    if let Some(url) = &args.canary {
        let config = ConnConfig::parse(url).context("reading --canary")?;
        let canary = Member {
            label: config.to_string(),
            config,
        };
        let o = migrate_one(&canary, graph, options, direction, target);
        emit(&format!("canary {}", canary.label), &o, None);
        if let Outcome::Failed { error } = o {
            bail!(
                "the canary {} failed, so no other database was touched: {error}",
                canary.label
            );
        }
    }

    let bar = tty.then(|| {
        let bar = ProgressBar::new(members.len() as u64);
        if let Ok(style) =
            ProgressStyle::with_template("{bar:30} {pos}/{len} databases ({elapsed}, eta {eta})")
        {
            bar.set_style(style);
        }
        bar.enable_steady_tick(Duration::from_millis(200));
        bar
    });
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let results: Mutex<Vec<Option<Outcome>>> = Mutex::new(vec![None; members.len()]);
    let began = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..jobs.min(members.len()) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= members.len() {
                    return;
                }
                let o = if stop.load(Ordering::SeqCst) {
                    Outcome::Skipped
                } else {
                    migrate_one(&members[i], graph, options, direction, target)
                };
                if matches!(o, Outcome::Failed { .. }) && !args.keep_going {
                    stop.store(true, Ordering::SeqCst);
                }
                emit(&members[i].label, &o, bar.as_ref());
                if let Ok(mut r) = results.lock() {
                    r[i] = Some(o);
                }
            });
        }
    });
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let results = results.into_inner().unwrap_or_default();
    let (mut ok, mut failed, mut skipped, mut applied) = (0, Vec::new(), 0, 0);
    for (m, r) in members.iter().zip(&results) {
        match r {
            Some(Outcome::Done { applied: n, .. }) => {
                ok += 1;
                applied += n;
            }
            Some(Outcome::Failed { error }) => failed.push((m.label.clone(), error.clone())),
            _ => skipped += 1,
        }
    }
    let summary = format!(
        "fleet: {ok} of {} database(s) at the target ({applied} migration(s) run), {} failed, {skipped} not started, in {:.1} s with {jobs} job(s)",
        members.len(),
        failed.len(),
        began.elapsed().as_secs_f64()
    );
    if out.json() {
        out.print_json(&json!({
            "summary": {"databases": members.len(), "ok": ok, "failed": failed.len(), "skipped": skipped, "migrations_run": applied},
            "failed": failed.iter().map(|(l, e)| json!({"target": l, "error": e})).collect::<Vec<_>>(),
        }))?;
    } else {
        out.note(summary);
        for (label, error) in &failed {
            out.note(format!("  failed: {label}: {error}"));
        }
        if !failed.is_empty() {
            out.note("rerun the same command once fixed: each database continues from its own version table");
        }
    }
    Ok(if failed.is_empty() && skipped == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// `retort current --targets`: where each database stands, grouped by revision.
pub fn current(global: &GlobalArgs, out: &Output, fleet: &FleetArgs) -> Result<ExitCode> {
    let project = super::project::Project::load(global)?;
    let graph = project.graph()?;
    let options = project.options(None, None, None)?;
    let members = members(global, fleet)?;
    let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for m in &members {
        let key = match retort_pg::connect(&m.config)
            .map_err(anyhow::Error::from)
            .and_then(|mut c| {
                let mut silent = Silent;
                let cur =
                    MigrationRunner::new(&mut c, &graph, options.clone(), &mut silent).current()?;
                Ok(super::project::heads_text(&cur.stored.heads))
            }) {
            Ok(at) => at,
            Err(e) => format!(
                "unreachable ({})",
                e.to_string().lines().next().unwrap_or_default()
            ),
        };
        groups.entry(key).or_default().push(m.label.clone());
    }
    if out.json() {
        out.print_json(&json!({ "revisions": groups }))?;
    } else {
        for (at, dbs) in &groups {
            out.say(format!("{at}: {} database(s)", dbs.len()));
            for d in dbs {
                out.say(format!("  {d}"));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
