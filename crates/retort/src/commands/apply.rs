//! `retort upgrade` and `retort downgrade`: online, or as a script with --sql.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use retort_migrate::{
    render_script, Direction, Migration, MigrationRunner, Observer, Plan, RevisionGraph,
    RunnerOptions, Target,
};
use serde_json::json;

use retort_replica::{SyncRepWatchdog, Topology, WaitMode};

use super::project::{connect, heads_text, Project};
use super::replica::RolloutOptions;
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
    let options = project.options_with_retries(
        args.lock_wait.as_deref(),
        args.lock_timeout.as_deref(),
        args.statement_timeout.as_deref(),
        args.lock_retries,
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
    let reconnect_for = crate::config::parse_duration(&args.reconnect_for)
        .context("reading --reconnect-for")?
        .unwrap_or(Duration::ZERO);
    let options = RunnerOptions {
        reconnect_for,
        ..options
    };
    if args.fleet.targets.is_some() || args.fleet.targets_query.is_some() {
        return super::fleet::run(global, out, args, direction, &graph, &options, &target);
    }
    let rollout = RolloutOptions::resolve(&project.config.replicas, args)?;
    let cfg = super::database_config(global)?;
    // A second connection names whoever holds a lock a migration waits for; after a lost
    // connection the run reconnects to learn what became of the migration in flight.
    let options = RunnerOptions {
        database: (!reconnect_for.is_zero()).then(|| cfg.clone()),
        ..options
    };
    let mut client = retort_pg::connect(&cfg)?;
    let topology = Topology::read(&mut client)?;
    topology.require_primary(&cfg.to_string())?;
    let preview = {
        let mut silent = retort_migrate::Silent;
        let mut r = MigrationRunner::new(&mut client, &graph, options.clone(), &mut silent);
        match direction {
            Direction::Up => r.plan_upgrade(&target)?,
            Direction::Down => r.plan_downgrade(&target)?,
        }
    };
    let mut direct = Vec::new();
    let mut conflicts_before = Vec::new();
    let mut watchdog = None;
    let mut waiter = None;
    if !preview.steps.is_empty() {
        let units = super::lint::plan_units(&graph, &preview);
        super::lint::preflight(
            out,
            &mut client,
            &units,
            options.lock_timeout.is_some(),
            args.strict,
        )?;
        direct = super::replica::direct_standbys(&rollout.replica_urls);
        let units = units.as_deref().unwrap_or_default();
        preflight(out, &mut client, &topology, units, &rollout, &mut direct)?;
        for d in direct.iter_mut() {
            if let Some(c) = d.client.as_mut() {
                if let Ok(counts) = retort_replica::conflict_counts(c) {
                    conflicts_before.push((d.name.clone(), counts));
                }
            }
        }
        if topology.sync_names.is_some() {
            let pid: i32 = client.query_one("SELECT pg_backend_pid()", &[])?.get(0);
            watchdog = Some(SyncRepWatchdog::start(&cfg, pid, rollout.sync_timeout)?);
        }
        if rollout.wait_each && rollout.wait.is_some() {
            waiter = Some(retort_pg::connect(&cfg)?);
        }
    }
    let mut observer = CliObserver::new(out);
    observer.max_lag = rollout.max_lag;
    if let (Some(mode), Some(w)) = (rollout.wait, waiter.as_mut()) {
        observer.wait_each = Some((mode, rollout.timeout, w));
    }
    let started = Instant::now();
    let schema = options.schema.clone();
    let mut runner = MigrationRunner::new(&mut client, &graph, options, &mut observer);
    let result = match direction {
        Direction::Up => runner.upgrade(&target),
        Direction::Down => runner.downgrade(&target),
    };
    observer.finish();
    let wait_error = observer.wait_error.take();
    drop(observer);
    if let Some(stall) = watchdog.and_then(SyncRepWatchdog::stop) {
        let applied = match &result {
            Ok(r) => r.plan.steps.len(),
            Err(retort_migrate::MigrateError::Stopped { applied, .. }) => *applied,
            Err(_) => 0,
        };
        bail!(
            "{} ({applied} migration(s) committed on the primary; later commits were released \
             without waiting)",
            stall.explanation
        );
    }
    let report = match result {
        Ok(r) => r,
        Err(e) if e.is_connection_lost() => {
            let mut lines =
                super::failover::explain(&e, &preview, &topology, &rollout, &schema).into_iter();
            let head = lines.next().unwrap_or_default();
            for line in lines {
                out.note(line);
            }
            return Err(anyhow::Error::new(e).context(head));
        }
        Err(e) => return Err(e.into()),
    };
    if let Some(e) = wait_error {
        return Err(e);
    }
    for held in &report.plan.held {
        out.note(format!(
            "note: {held} is the contract phase of a two-phase change: upgrade stops before it \
             (and what follows it); `retort complete` runs it once no session uses the old \
             shape, `retort abort` undoes the expand instead"
        ));
    }
    let after = AfterRun {
        direct: &mut direct,
        conflicts_before: &conflicts_before,
        rollout: &rollout,
        graph: &graph,
        direction,
        started,
        target_text: &target_text,
    };
    after.report(out, &mut client, &report)
}

/// What the report after a run needs from the run.
struct AfterRun<'r> {
    direct: &'r mut [retort_replica::DirectStandby],
    conflicts_before: &'r [(String, retort_replica::ConflictCounts)],
    rollout: &'r RolloutOptions,
    graph: &'r RevisionGraph,
    direction: Direction,
    started: Instant,
    target_text: &'r str,
}

impl AfterRun<'_> {
    /// After a run that committed: the wait for standbys (unless --wait-each did it), recovery
    /// conflicts on the direct standbys, and the summary (or its JSON).
    fn report(
        self,
        out: &Output,
        client: &mut retort_pg::Client,
        report: &retort_migrate::RunReport,
    ) -> Result<ExitCode> {
        let AfterRun {
            direct,
            conflicts_before,
            rollout,
            graph,
            direction,
            started,
            target_text,
        } = self;
        let plan = &report.plan;
        let mut replicas_json = serde_json::Value::Null;
        if !plan.steps.is_empty() {
            let mut waited = None;
            if let (Some(mode), false) = (rollout.wait, rollout.wait_each) {
                let lsn = retort_replica::current_lsn(client)?;
                let began = Instant::now();
                let progress = super::replica::wait_with_notes(
                    out,
                    client,
                    lsn,
                    mode,
                    rollout.timeout,
                    direct,
                )?;
                let ms = began.elapsed().as_secs_f64() * 1000.0;
                out.note(format!(
                    "standbys have replayed the migrations ({mode} mode: {}) after {ms:.0} ms",
                    if progress.caught_up.is_empty() {
                        "none needed".to_owned()
                    } else {
                        progress.caught_up.join(", ")
                    }
                ));
                waited = Some(
                    json!({"mode": mode.to_string(), "lsn": lsn, "caught_up": progress.caught_up, "waited_ms": ms}),
                );
            }
            let mut conflicts = serde_json::Map::new();
            for d in direct.iter_mut() {
                let (Some(c), Some((_, before))) = (
                    d.client.as_mut(),
                    conflicts_before.iter().find(|(n, _)| *n == d.name),
                ) else {
                    continue;
                };
                // A cancelled standby query reports its conflict as it ends, a moment after replay
                // goes on: after a wait, look again briefly before saying there was none.
                let mut after = retort_replica::conflict_counts(c);
                if waited.is_some() {
                    for _ in 0..5 {
                        match &after {
                            Ok(a) if retort_replica::conflict_delta(before, a).is_empty() => {
                                std::thread::sleep(Duration::from_millis(40));
                                after = retort_replica::conflict_counts(c);
                            }
                            _ => break,
                        }
                    }
                }
                if let Ok(after) = after {
                    let delta = retort_replica::conflict_delta(before, &after);
                    if !delta.is_empty() {
                        let text: Vec<String> =
                            delta.iter().map(|(k, v)| format!("{k} {v}")).collect();
                        out.note(format!(
                            "recovery conflicts on {} during the run: {} (queries on the standby were cancelled so replay could go on)",
                            d.name,
                            text.join(", ")
                        ));
                    }
                    conflicts.insert(d.name.clone(), json!(delta));
                }
            }
            replicas_json = json!({"wait": waited, "conflicts": conflicts});
        }
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
                "replicas": replicas_json,
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
    /// `--wait-each`: wait for standbys after every migration, on this connection.
    wait_each: Option<(WaitMode, Duration, &'a mut retort_pg::Client)>,
    wait_error: Option<anyhow::Error>,
    /// `[replicas] max_lag`: a `-- retort:batch` backfill pauses while a standby is further
    /// behind.
    max_lag: Option<retort_replica::MaxLag>,
    /// The reason the backfill is paused now, said once.
    paused_for: Option<String>,
}

impl<'a> CliObserver<'a> {
    fn new(out: &'a Output) -> Self {
        CliObserver {
            out,
            bar: None,
            wait_each: None,
            wait_error: None,
            max_lag: None,
            paused_for: None,
        }
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
    fn batch_pause(&mut self, client: &mut retort_pg::Client) -> Option<String> {
        let max = self.max_lag?;
        let lagging = retort_replica::Topology::read(client)
            .map_err(|e| e.to_string())
            .and_then(|t| retort_replica::check_lag(&t, max).map_err(|e| e.to_string()));
        match lagging {
            Ok(()) => {
                if self.paused_for.take().is_some() {
                    self.line("backfill: standbys caught up, going on".into());
                }
                None
            }
            Err(why) => {
                if self.paused_for.as_deref() != Some(why.as_str()) {
                    self.line(format!("backfill paused: {why}"));
                    self.paused_for = Some(why.clone());
                }
                Some(why)
            }
        }
    }

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

    fn should_stop(&mut self) -> Option<String> {
        // A SyncRep stall does not stop the run: the user allowed a missing synchronous
        // standby, the watchdog releases each later commit at once, and the stall is reported
        // (exit 1) when the run is over. A failed --wait-each wait does stop it.
        self.wait_error.as_ref().map(|e| format!("{e:#}"))
    }

    fn step_finished(&mut self, _index: usize, _total: usize, m: &Migration, elapsed: Duration) {
        if let Some((mode, timeout, client)) = self.wait_each.as_mut() {
            let (mode, timeout) = (*mode, *timeout);
            let result = retort_replica::current_lsn(client)
                .map_err(anyhow::Error::from)
                .and_then(|lsn| {
                    super::replica::wait_with_notes(self.out, client, lsn, mode, timeout, &mut [])
                });
            if let Err(e) = result {
                self.wait_error = Some(e);
            }
        }
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

    fn lock_retry(
        &mut self,
        m: &Migration,
        attempt: u32,
        retries: u32,
        wait: Duration,
        blockers: &[retort_migrate::Blocker],
    ) {
        let who = if blockers.is_empty() {
            "another session holds a lock it needs".to_owned()
        } else {
            blockers
                .iter()
                .map(|b| format!("blocked by {b}"))
                .collect::<Vec<_>>()
                .join("; ")
        };
        self.line(format!(
            "  {} hit lock_timeout and was rolled back ({who}); retry {attempt} of {retries} in {:.1} s",
            m.revision,
            wait.as_secs_f64()
        ));
    }

    fn deadlock_retry(&mut self, m: &Migration, attempt: u32, retries: u32, wait: Duration) {
        self.line(format!(
            "  {} deadlocked with another session's statement and was rolled back (the migration \
             gives way, not the application); retry {attempt} of {retries} in {:.1} s",
            m.revision,
            wait.as_secs_f64()
        ));
    }

    fn invalid_index_dropped(&mut self, m: &Migration, index: &str) {
        self.line(format!(
            "  {}: index {index} was left INVALID by an interrupted CREATE INDEX CONCURRENTLY; \
             dropped it (concurrently) to build it again",
            m.revision
        ));
    }

    fn connection_lost(&mut self, m: &Migration, what: &retort_migrate::Recovery) {
        use retort_migrate::Recovery;
        self.line(match what {
            Recovery::Committed => format!(
                "  {}: the connection was lost as it committed; reconnected, and the version \
                 table shows it COMMITTED (only the answer was lost): going on with the next",
                m.revision
            ),
            Recovery::RolledBack => format!(
                "  {}: the connection was lost before it committed; reconnected: the server \
                 rolled it back, so it runs again",
                m.revision
            ),
            Recovery::Partial { done, total } => format!(
                "  {}: the connection was lost outside a transaction; reconnected: {done} of \
                 its {total} statements are known done; it resumes after them",
                m.revision
            ),
        });
    }

    fn resuming(&mut self, m: &Migration, done: usize, total: usize, unknown: bool) {
        self.line(format!(
            "  {}: resuming at statement {} of {total}: statements 1..{done} were applied by an \
             earlier run that was cut off{}",
            m.revision,
            done + 1,
            if unknown {
                format!(
                    "; statement {} was in flight then, so what it did is unknown: it runs again",
                    done + 1
                )
            } else {
                String::new()
            }
        ));
    }

    fn in_doubt_statement_done(&mut self, m: &Migration, index: usize, why: &str) {
        self.line(format!(
            "  {}: statement {index}, in flight when the earlier run was cut off: {why}; counted done",
            m.revision
        ));
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

/// Before a run that changes something: synchronous standbys, lag, slots, lock conflicts on hot
/// standbys (`units`: the plan's parsed steps), logical replication.
fn preflight(
    out: &Output,
    client: &mut retort_pg::Client,
    topology: &Topology,
    units: &[(Direction, super::lint::Unit)],
    rollout: &RolloutOptions,
    direct: &mut [retort_replica::DirectStandby],
) -> Result<()> {
    if let Err(e) = retort_replica::check_sync(topology) {
        if !rollout.allow_missing_sync {
            return Err(e.into());
        }
        out.note(format!(
            "warning: {e}; running anyway (--allow-missing-sync): a commit that waits longer than {:.1} s is reported and released, and upgrade exits 1 at the end",
            rollout.sync_timeout.as_secs_f64()
        ));
    }
    if let Some(max) = rollout.max_lag {
        retort_replica::check_lag(topology, max)?;
    }
    for w in retort_replica::inactive_slots(topology, 1 << 30) {
        out.note(format!("warning: {w}"));
    }
    // retort-lint's lock table, read with PostgreSQL's parser.
    let exclusive: Vec<String> = units
        .iter()
        .filter_map(|(_, u)| u.first_access_exclusive())
        .collect();
    if !exclusive.is_empty() {
        let mut views = Vec::new();
        for d in direct.iter_mut() {
            if let Some(c) = d.client.as_mut() {
                if let Ok(t) = Topology::read(c) {
                    views.push((d.name.clone(), t));
                }
            }
        }
        if let Some(w) = retort_replica::conflict_warning(topology, &views) {
            out.note(format!("warning: {w} (at {})", exclusive.join(", ")));
        }
    }
    let (publications, subscriptions) = retort_replica::logical_membership(client)?;
    if let Some(w) = retort_replica::logical_replication_warning(&publications, &subscriptions) {
        out.note(format!("warning: {w}"));
    }
    Ok(())
}
