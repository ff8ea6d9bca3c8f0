//! `retort replica status|wait`, and the replica checks `upgrade` runs before and after.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use retort_pg::ConnConfig;
use retort_replica::{
    check_sync, inactive_slots, pretty_bytes, sync_health, DirectStandby, Lsn, Role, Topology,
    WaitMode, WaitProgress,
};
use serde_json::json;

use super::project;
use crate::cli::{GlobalArgs, ReplicaCommand};
use crate::config::parse_duration;
use crate::output::{table, Output};

pub fn run(global: &GlobalArgs, out: &Output, cmd: &ReplicaCommand) -> Result<ExitCode> {
    match cmd {
        ReplicaCommand::Status {
            watch,
            slot_threshold,
        } => {
            let threshold = retort_replica::parse_bytes(slot_threshold)?;
            if !*watch {
                return status_once(global, out, threshold);
            }
            loop {
                if !out.json() {
                    // Clear the screen and go home, like watch(1).
                    print!("\x1b[2J\x1b[H");
                    println!("retort replica status (every 1 s; Ctrl-C stops)\n");
                }
                status_once(global, out, threshold)?;
                std::thread::sleep(Duration::from_secs(1));
            }
        }
        ReplicaCommand::Wait { lsn, replicas } => {
            let mut client = project::connect(global)?;
            let target = match lsn {
                Some(text) => text.parse::<Lsn>()?,
                None => retort_replica::current_lsn(&mut client)?,
            };
            let mode = WaitMode::parse(&replicas.mode)?.unwrap_or(WaitMode::All);
            let timeout = parse_duration(&replicas.timeout)?.unwrap_or(Duration::from_secs(60));
            let mut direct = direct_standbys(&replicas.replica_urls);
            let began = Instant::now();
            let progress = wait_with_notes(out, &mut client, target, mode, timeout, &mut direct)?;
            if out.json() {
                out.print_json(&json!({
                    "lsn": target, "mode": mode.to_string(), "caught_up": progress.caught_up,
                    "waited_ms": began.elapsed().as_secs_f64() * 1000.0,
                }))?;
            } else {
                out.say(format!(
                    "{} replayed {target} ({mode} mode) after {:.0} ms",
                    if progress.caught_up.is_empty() {
                        "no standby needed to have".to_owned()
                    } else {
                        progress.caught_up.join(", ")
                    },
                    began.elapsed().as_secs_f64() * 1000.0
                ));
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn opt_lsn(l: Option<Lsn>) -> String {
    l.map(|l| l.to_string()).unwrap_or_else(|| "-".into())
}

fn secs(s: Option<f64>) -> String {
    s.map(|s| format!("{s:.3} s")).unwrap_or_else(|| "-".into())
}

fn status_once(global: &GlobalArgs, out: &Output, slot_threshold: u64) -> Result<ExitCode> {
    let cfg = super::database_config(global)?;
    let mut client = retort_pg::connect(&cfg)?;
    let t = Topology::read(&mut client)?;
    let health = sync_health(&t);
    let slot_warnings = inactive_slots(&t, slot_threshold);
    if out.json() {
        out.print_json(&json!({
            "server": cfg.to_string(),
            "role": t.role,
            "topology": t,
            "sync": {"needed": health.needed, "streaming": health.streaming, "missing": health.missing, "ok": health.ok()},
            "warnings": slot_warnings,
        }))?;
    } else {
        match t.role {
            Role::Primary => {
                out.say(format!(
                    "primary {} at {}; synchronous_standby_names = '{}', synchronous_commit = {}",
                    cfg,
                    opt_lsn(t.current_lsn),
                    t.synchronous_standby_names,
                    t.synchronous_commit
                ));
                if t.standbys.is_empty() {
                    out.say("no standbys are connected");
                } else {
                    let rows: Vec<Vec<String>> = t
                        .standbys
                        .iter()
                        .map(|s| {
                            vec![
                                s.name.clone(),
                                s.client_addr.clone().unwrap_or_else(|| "socket".into()),
                                s.state.clone(),
                                s.sync_state.clone(),
                                opt_lsn(s.sent_lsn),
                                opt_lsn(s.flush_lsn),
                                opt_lsn(s.replay_lsn),
                                s.lag_bytes.map(pretty_bytes).unwrap_or_else(|| "-".into()),
                                secs(s.replay_lag_s),
                                if s.hot_standby_feedback { "on" } else { "off" }.into(),
                            ]
                        })
                        .collect();
                    print!(
                        "{}",
                        table(
                            &[
                                "STANDBY",
                                "CLIENT",
                                "STATE",
                                "SYNC",
                                "SENT",
                                "FLUSHED",
                                "REPLAYED",
                                "LAG",
                                "REPLAY LAG",
                                "FEEDBACK"
                            ],
                            &rows
                        )
                    );
                }
            }
            Role::Standby => {
                let r = t.receiver.as_ref();
                out.say(format!(
                    "standby {} (read-only) streaming from {}: receiver {}, received {}, replayed {}, last replayed commit {} ago{}",
                    cfg,
                    t.upstream().unwrap_or_else(|| "an unknown primary".into()),
                    r.and_then(|r| r.status.clone()).unwrap_or_else(|| "not running".into()),
                    opt_lsn(r.and_then(|r| r.receive_lsn)),
                    opt_lsn(r.and_then(|r| r.replay_lsn)),
                    secs(r.and_then(|r| r.last_replay_age_s)),
                    if r.is_some_and(|r| r.replay_paused) { "; REPLAY IS PAUSED" } else { "" }
                ));
            }
        }
        if !t.slots.is_empty() {
            let rows: Vec<Vec<String>> = t
                .slots
                .iter()
                .map(|s| {
                    vec![
                        s.name.clone(),
                        s.slot_type.clone(),
                        if s.active { "yes" } else { "NO" }.into(),
                        s.retained_bytes
                            .map(pretty_bytes)
                            .unwrap_or_else(|| "-".into()),
                        s.wal_status.clone().unwrap_or_else(|| "-".into()),
                    ]
                })
                .collect();
            print!(
                "\n{}",
                table(
                    &["SLOT", "TYPE", "ACTIVE", "RETAINED WAL", "WAL STATUS"],
                    &rows
                )
            );
        }
        for w in &slot_warnings {
            out.note(format!("warning: {w}"));
        }
    }
    if !health.ok() {
        out.note(format!(
            "error: {}",
            check_sync(&t)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
        ));
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

/// Connections to `--replica-url` standbys, named by their application_name for the primary
/// (from their primary_conninfo or cluster_name), else host:port. Unreachable ones stay in the
/// list with no connection, so waits count them as behind.
pub fn direct_standbys(urls: &[String]) -> Vec<DirectStandby> {
    urls.iter()
        .map(|url| {
            let cfg = ConnConfig::parse(url);
            let fallback = cfg
                .as_ref()
                .map(|c| c.to_string())
                .unwrap_or_else(|_| retort_pg::redact_conn_string(url));
            let client = cfg.ok().and_then(|c| retort_pg::connect(&c).ok());
            let mut standby = DirectStandby {
                name: fallback,
                client,
            };
            if let Some(c) = standby.client.as_mut() {
                if let Ok(row) = c.query_one(
                    "SELECT coalesce(substring((SELECT setting FROM pg_settings WHERE name = 'primary_conninfo') \
                                               FROM 'application_name=''?([^'' ]+)'), \
                                     nullif(current_setting('cluster_name'), ''))",
                    &[],
                ) {
                    if let Some(name) = row.get::<_, Option<String>>(0) {
                        standby.name = name;
                    }
                }
            }
            standby
        })
        .collect()
}

/// Waits, telling people who is still behind as it changes.
pub fn wait_with_notes(
    out: &Output,
    primary: &mut retort_pg::Client,
    target: Lsn,
    mode: WaitMode,
    timeout: Duration,
    direct: &mut [DirectStandby],
) -> Result<WaitProgress> {
    let progress =
        retort_replica::wait_for_replay(primary, target, mode, timeout, direct, |p, at| {
            if !p.done && !p.behind.is_empty() {
                out.note(format!(
                    "waiting for standbys to replay {target} ({mode}): {} ({:.1} s)",
                    p.behind_text().join(", "),
                    at.as_secs_f64()
                ));
            }
        })
        .context("the migration is committed on the primary, but waiting for standbys failed")?;
    Ok(progress)
}

/// `--wait-replicas` and friends, resolved against [replicas] in retort.toml.
pub struct RolloutOptions {
    pub wait: Option<WaitMode>,
    pub wait_each: bool,
    pub timeout: Duration,
    pub replica_urls: Vec<String>,
    pub allow_missing_sync: bool,
    pub sync_timeout: Duration,
    pub max_lag: Option<retort_replica::MaxLag>,
}

impl RolloutOptions {
    pub fn resolve(
        cfg: &crate::config::Replicas,
        args: &crate::cli::ApplyArgs,
    ) -> Result<RolloutOptions> {
        let wait = match args.wait_replicas.as_deref().or(cfg.wait.as_deref()) {
            Some(m) => WaitMode::parse(m)?,
            None => None,
        };
        let timeout = match args.replica_timeout.as_deref().or(cfg.timeout.as_deref()) {
            Some(t) => parse_duration(t).context("reading the replica timeout")?,
            None => None,
        }
        .unwrap_or(Duration::from_secs(60));
        let max_lag = match args.max_lag.as_deref().or(cfg.max_lag.as_deref()) {
            Some(m) => Some(retort_replica::MaxLag::parse(m)?),
            None => None,
        };
        Ok(RolloutOptions {
            wait,
            wait_each: args.wait_each,
            timeout,
            replica_urls: args.replica_urls.clone(),
            allow_missing_sync: args.allow_missing_sync,
            sync_timeout: parse_duration(&args.sync_timeout)
                .context("reading --sync-timeout")?
                .unwrap_or(Duration::from_secs(5)),
            max_lag,
        })
    }
}
