//! `retort cluster start|stop|status|url|lag|stop-node|start-node`: a local development cluster
//! that outlives the command.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use retort_cluster::{Cluster, ClusterError, Lifetime, NodeStatus, StopMode, SyncMethod};
use serde_json::json;

use crate::cli::{ClusterCommand, ClusterDir, ClusterStart, GlobalArgs};
use crate::output::{table, Output};
use crate::{config, progress};

const DEFAULT_DIR: &str = ".retort/cluster";
const START_TIMEOUT: Duration = Duration::from_secs(120);

pub fn run(global: &GlobalArgs, out: &Output, cmd: &ClusterCommand) -> Result<ExitCode> {
    match cmd {
        ClusterCommand::Start(args) => start(global, out, args),
        ClusterCommand::Stop { dir, destroy } => stop(global, out, dir, *destroy),
        ClusterCommand::Status { dir } => status(global, out, dir),
        ClusterCommand::Url { dir, node, tcp } => url(global, dir, node, *tcp),
        ClusterCommand::Lag { dir, node, delay } => lag(global, out, dir, node, delay),
        ClusterCommand::StopNode { dir, node } => stop_node(global, out, dir, node),
        ClusterCommand::StartNode { dir, node } => start_node(global, out, dir, node),
        ClusterCommand::Promote { dir, node } => promote(global, out, dir, node),
    }
}

/// The 0-based standby index of `name` (standby1 -> 0), with the names there are when wrong.
fn standby_index(cluster: &Cluster, name: &str) -> Result<usize> {
    let standbys: Vec<&str> = cluster.nodes().iter().skip(1).map(|n| n.name()).collect();
    standbys.iter().position(|n| *n == name).ok_or_else(|| {
        anyhow::anyhow!(
            "no standby named {name:?} in this cluster; its standbys are: {}",
            if standbys.is_empty() {
                "none".to_owned()
            } else {
                standbys.join(", ")
            }
        )
    })
}

fn lag(
    global: &GlobalArgs,
    out: &Output,
    dir: &ClusterDir,
    node: &str,
    delay: &str,
) -> Result<ExitCode> {
    let dir = cluster_dir(global, dir)?;
    let mut cluster = Cluster::open(&dir)?;
    let i = standby_index(&cluster, node)?;
    let d = config::parse_duration(delay)?.unwrap_or(Duration::ZERO);
    cluster.set_apply_delay(i, d)?;
    if out.json() {
        out.print_json(
            &json!({"node": node, "recovery_min_apply_delay_ms": d.as_millis() as u64}),
        )?;
    } else if d.is_zero() {
        out.say(format!("{node} replays WAL as soon as it arrives again"));
    } else {
        out.say(format!(
            "{node} now replays each transaction {} after it committed on the primary \
             (recovery_min_apply_delay); `retort cluster lag {node} 0` removes it",
            delay
        ));
    }
    Ok(ExitCode::SUCCESS)
}

fn stop_node(global: &GlobalArgs, out: &Output, dir: &ClusterDir, node: &str) -> Result<ExitCode> {
    let dir = cluster_dir(global, dir)?;
    let mut cluster = Cluster::open(&dir)?;
    let i = standby_index(&cluster, node)?;
    let sync = cluster.nodes()[i + 1].is_synchronous();
    cluster.stop_standby(i, StopMode::Fast)?;
    if out.json() {
        out.print_json(&json!({"node": node, "stopped": true, "synchronous": sync}))?;
    } else {
        out.say(format!("stopped {node}"));
        if sync {
            out.note(format!(
                "{node} is a synchronous standby: commits on the primary now wait for it \
                 (`retort cluster start-node {node}` brings it back)"
            ));
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn start_node(global: &GlobalArgs, out: &Output, dir: &ClusterDir, node: &str) -> Result<ExitCode> {
    let dir = cluster_dir(global, dir)?;
    let mut cluster = Cluster::open(&dir)?;
    let i = standby_index(&cluster, node)?;
    cluster.start_standby(i)?;
    cluster.wait_until_streaming(START_TIMEOUT)?;
    if out.json() {
        out.print_json(&json!({"node": node, "started": true}))?;
    } else {
        out.say(format!("started {node}; it is streaming again"));
    }
    Ok(ExitCode::SUCCESS)
}

fn promote(global: &GlobalArgs, out: &Output, dir: &ClusterDir, node: &str) -> Result<ExitCode> {
    let dir = cluster_dir(global, dir)?;
    let mut cluster = Cluster::open(&dir)?;
    standby_index(&cluster, node)?;
    let f = cluster.fail_over(node)?;
    cluster.wait_until_streaming(START_TIMEOUT)?;
    if out.json() {
        out.print_json(&json!(f))?;
        return Ok(ExitCode::SUCCESS);
    }
    out.say(format!(
        "{node} is the primary now{}; {}",
        f.old_primary
            .as_deref()
            .map(|o| format!(" ({o} was stopped and retired: it is not started again)"))
            .unwrap_or_default(),
        if f.followers.is_empty() {
            "no standby is left".to_owned()
        } else {
            format!(
                "{} follow{} it",
                f.followers.join(", "),
                if f.followers.len() == 1 { "s" } else { "" }
            )
        }
    ));
    if !f.was_synchronous {
        out.note(format!(
            "{node} was an asynchronous standby: transactions the old primary committed that had \
             not reached it are not on the new primary"
        ));
    }
    out.note(if f.synchronous_standby_names.is_empty() {
        "no synchronous standby is left: commits on the new primary do not wait for one".to_owned()
    } else {
        format!(
            "synchronous_standby_names on the new primary: {}",
            f.synchronous_standby_names
        )
    });
    out.note(format!(
        "the primary's URL is now: {}",
        cluster.node_url(
            cluster
                .nodes()
                .iter()
                .find(|n| n.name() == node)
                .expect("promoted node")
        )
    ));
    Ok(ExitCode::SUCCESS)
}

/// `--dir`, else `.retort/cluster` beside retort.toml, else in the current directory.
fn cluster_dir(global: &GlobalArgs, dir: &ClusterDir) -> Result<PathBuf> {
    let chosen = match &dir.dir {
        Some(d) => d.clone(),
        None => match config::load(global.config.as_deref())?.root {
            Some(root) => root.join(DEFAULT_DIR),
            None => PathBuf::from(DEFAULT_DIR),
        },
    };
    std::path::absolute(&chosen).with_context(|| format!("resolving {}", chosen.display()))
}

fn start(global: &GlobalArgs, out: &Output, args: &ClusterStart) -> Result<ExitCode> {
    let dir = cluster_dir(global, &args.dir)?;
    let bar = progress::spinner(out);
    let began = Instant::now();
    let mut cluster = if retort_cluster::state_exists(&dir) {
        let mut c = Cluster::open(&dir)?;
        let standbys = c.nodes().len() - 1;
        if args.standbys != standbys && args.standbys != 0 {
            out.note(format!(
                "note: the cluster in {} has {standbys} standby(s); --standbys {} is ignored \
                 (`retort cluster stop --destroy` first to change the topology)",
                dir.display(),
                args.standbys
            ));
        }
        if c.postmaster_pids().len() == c.nodes().len() {
            bar.finish_and_clear();
            out.note(format!(
                "the cluster in {} is already running; `retort cluster stop` stops it",
                dir.display()
            ));
            print_status(out, &dir, &c.status()?)?;
            return Ok(ExitCode::SUCCESS);
        }
        bar.set_message(format!("restarting the cluster in {}", dir.display()));
        c.start_all(START_TIMEOUT)?;
        c
    } else {
        let progress_bar = bar.clone();
        Cluster::builder()
            .dir(&dir)
            .standbys(args.standbys)
            .sync(args.sync)
            .sync_method(if args.quorum {
                SyncMethod::Any
            } else {
                SyncMethod::First
            })
            .lifetime(Lifetime::Detached)
            .timeout(START_TIMEOUT)
            .progress(move |step| progress_bar.set_message(progress::describe(step)))
            .apply_port(args.port)
            .start()?
    };
    bar.finish_and_clear();
    out.note(format!(
        "started {} node(s) of PostgreSQL {} in {:.2} s, in {}",
        cluster.nodes().len(),
        cluster.binaries().version,
        began.elapsed().as_secs_f64(),
        dir.display()
    ));
    print_status(out, &dir, &cluster.status()?)?;
    out.note(format!(
        "\nconnect: psql '{}'\nstop:    retort cluster stop{}",
        cluster.primary_url(),
        args.dir
            .dir
            .as_ref()
            .map(|d| format!(" --dir {}", d.display()))
            .unwrap_or_default()
    ));
    Ok(ExitCode::SUCCESS)
}

/// `.port(p)` only when the user chose one.
trait ApplyPort {
    fn apply_port(self, port: Option<u16>) -> Self;
}

impl ApplyPort for retort_cluster::ClusterBuilder {
    fn apply_port(self, port: Option<u16>) -> Self {
        match port {
            Some(p) => self.port(p),
            None => self,
        }
    }
}

fn stop(global: &GlobalArgs, out: &Output, dir: &ClusterDir, destroy: bool) -> Result<ExitCode> {
    let dir = cluster_dir(global, dir)?;
    let mut cluster = Cluster::open(&dir)?;
    let running = cluster.postmaster_pids().len();
    if destroy {
        cluster.destroy()?;
        out.note(format!(
            "stopped {running} server(s) and removed the cluster in {}",
            dir.display()
        ));
    } else {
        cluster.stop(StopMode::Fast)?;
        if running == 0 {
            out.note(format!("the cluster in {} was not running", dir.display()));
        } else {
            out.note(format!(
                "stopped {running} server(s); data kept in {} (`retort cluster start` resumes, \
                 `retort cluster stop --destroy` removes it)",
                dir.display()
            ));
        }
    }
    if out.json() {
        out.print_json(&json!({ "dir": dir, "stopped": running, "destroyed": destroy }))?;
    }
    Ok(ExitCode::SUCCESS)
}

fn status(global: &GlobalArgs, out: &Output, dir: &ClusterDir) -> Result<ExitCode> {
    let dir = cluster_dir(global, dir)?;
    let mut cluster = Cluster::open(&dir)?;
    print_status(out, &dir, &cluster.status()?)?;
    Ok(ExitCode::SUCCESS)
}

fn url(global: &GlobalArgs, dir: &ClusterDir, node: &str, tcp: bool) -> Result<ExitCode> {
    let dir = cluster_dir(global, dir)?;
    let cluster = Cluster::open(&dir)?;
    // `primary` is whichever node is the primary now (a promoted standby after a failover).
    let found = cluster
        .nodes()
        .iter()
        .find(|n| node == "primary" && n.role() == retort_cluster::Role::Primary)
        .or_else(|| cluster.nodes().iter().find(|n| n.name() == node))
        .ok_or_else(|| ClusterError::NoSuchNode(format!("node named {node:?}")))?;
    if tcp {
        println!("{}", cluster.node_tcp_url(found));
    } else {
        println!("{}", cluster.node_url(found));
    }
    Ok(ExitCode::SUCCESS)
}

/// The node table for people, or `{"dir", "nodes": [...]}` for scripts.
pub fn print_status(out: &Output, dir: &std::path::Path, nodes: &[NodeStatus]) -> Result<()> {
    if out.json() {
        return out.print_json(&json!({ "dir": dir, "nodes": nodes }));
    }
    if out.quiet {
        return Ok(());
    }
    let rows: Vec<Vec<String>> = nodes
        .iter()
        .map(|n| {
            let dash = || "-".to_owned();
            let state = if !n.running {
                "stopped".to_owned()
            } else if n.role == retort_cluster::Role::Primary {
                "accepting writes".to_owned()
            } else {
                n.state
                    .clone()
                    .unwrap_or_else(|| "not connected".to_owned())
            };
            vec![
                n.name.clone(),
                format!("{:?}", n.role).to_lowercase(),
                n.port.to_string(),
                state,
                n.sync_state.clone().unwrap_or_else(dash),
                n.replay_lag_bytes
                    .map(|b| format!("{b} B"))
                    .unwrap_or_else(dash),
            ]
        })
        .collect();
    print!(
        "{}",
        table(
            &["NAME", "ROLE", "PORT", "STATE", "SYNC", "REPLAY LAG"],
            &rows
        )
    );
    Ok(())
}
