//! `retort backfill`: a large UPDATE in paced, resumable primary-key ranges that waits while
//! standbys lag.

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, Result};
use indicatif::ProgressBar;
use retort_migrate::backfill::{
    backfill, BackfillEnd, BackfillOptions, BackfillProgress, BackfillStatement, Between,
};
use retort_replica::{MaxLag, Topology};
use serde_json::json;

use super::project::Project;
use crate::cli::{BackfillArgs, GlobalArgs};
use crate::config::parse_duration;
use crate::output::Output;

/// Set by SIGINT/SIGTERM: the batch in flight finishes, then the run stops.
static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

/// Exit status of a run stopped by a signal (as shells report Ctrl-C).
const EXIT_STOPPED: u8 = 130;

pub fn run(global: &GlobalArgs, out: &Output, args: &BackfillArgs) -> Result<ExitCode> {
    let project = Project::load(global)?;
    let statement = BackfillStatement::parse(&args.sql)?;
    let runner = project.options(None, args.lock_timeout.as_deref(), None)?;
    let mut options = BackfillOptions {
        schema: runner.schema.clone(),
        lock_timeout: runner.lock_timeout,
        ..BackfillOptions::default()
    };
    if let Some(t) = &args.batch_time {
        options.batch_time = parse_duration(t)
            .context("reading --batch-time")?
            .context("--batch-time must be longer than 0")?;
    }
    let max_lag = match args
        .max_lag
        .as_deref()
        .or(project.config.replicas.max_lag.as_deref())
    {
        Some(text) => Some(MaxLag::parse(text).context("reading the lag limit")?),
        None => None,
    };
    let cfg = super::database_config(global)?;
    let mut client = retort_pg::connect(&cfg)?;
    Topology::read(&mut client)?.require_primary(&cfg.to_string())?;
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
    unsafe {
        libc::signal(
            libc::SIGINT,
            on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t,
        );
        libc::signal(
            libc::SIGTERM,
            on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t,
        );
    }
    let bar = Some(crate::progress::bar(
        out,
        0,
        "{bar:30} {pos}/{len} rows ({per_sec}, eta {eta}) {msg}",
    ))
    .filter(|b| !b.is_hidden());
    let mut paused_for: Option<String> = None;
    let mut between = |client: &mut retort_pg::Client| {
        if STOP.load(Ordering::SeqCst) {
            return Between::Stop;
        }
        let Some(max) = max_lag else {
            return Between::Go;
        };
        let lagging = Topology::read(client)
            .map_err(|e| e.to_string())
            .and_then(|t| retort_replica::check_lag(&t, max).map_err(|e| e.to_string()));
        match lagging {
            Ok(()) => {
                if paused_for.take().is_some() {
                    say(out, &bar, "standbys caught up: going on".into());
                }
                Between::Go
            }
            Err(why) => {
                if paused_for.as_deref() != Some(why.as_str()) {
                    say(out, &bar, format!("pausing: {why}"));
                    if out.json() {
                        println!("{}", json!({"event": "paused", "why": why}));
                    }
                    paused_for = Some(why.clone());
                }
                Between::Pause(why)
            }
        }
    };
    let mut report = |p: &BackfillProgress| {
        if out.json() {
            println!(
                "{}",
                json!({"event": "batch", "rows": p.rows, "batches": p.batches, "last_key": p.last_key,
                       "next_batch": p.batch_size, "seconds": p.elapsed.as_secs_f64()})
            );
        } else if let Some(bar) = &bar {
            bar.set_length(p.estimated_rows.unwrap_or(0).max(p.rows as i64) as u64);
            bar.set_position(p.rows);
            bar.set_message(format!("batch {}", p.batch_size));
        } else if p.batches % 10 == 1 {
            out.note(format!(
                "{} rows in {} batches ({:.1} s), up to key {}",
                p.rows,
                p.batches,
                p.elapsed.as_secs_f64(),
                p.last_key.as_deref().unwrap_or("-")
            ));
        }
    };
    let result = backfill(&mut client, &statement, &options, &mut between, &mut report);
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let (end, p) = result?;
    let rate = p.rows as f64 / p.elapsed.as_secs_f64().max(1e-3);
    if out.json() {
        println!(
            "{}",
            json!({"event": "end", "end": end, "rows": p.rows, "batches": p.batches,
                   "last_key": p.last_key, "seconds": p.elapsed.as_secs_f64()})
        );
    } else {
        out.say(match end {
            BackfillEnd::Done => format!(
                "backfill done: {} rows of {} updated, {} batches in this run ({:.1} s, {rate:.0} rows/s)",
                p.rows, statement.table, p.batches, p.elapsed.as_secs_f64()
            ),
            BackfillEnd::AlreadyDone => format!(
                "this backfill finished earlier ({} rows); nothing to do (its progress is in {}.backfill)",
                p.rows, options.schema
            ),
            BackfillEnd::Stopped => format!(
                "stopped after {} rows (up to key {}); run the same command again to continue from there",
                p.rows,
                p.last_key.as_deref().unwrap_or("-")
            ),
        });
    }
    Ok(match end {
        BackfillEnd::Stopped => ExitCode::from(EXIT_STOPPED),
        _ => ExitCode::SUCCESS,
    })
}

fn say(out: &Output, bar: &Option<ProgressBar>, text: String) {
    match bar {
        Some(b) => b.println(text),
        None => out.note(text),
    }
}
