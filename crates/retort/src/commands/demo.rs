//! `retort demo`: the whole story on a throwaway cluster. For now: topology and replication;
//! later issues add migrations, the shadow store and replica-aware rollouts.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use retort_cluster::Cluster;
use serde_json::json;

use crate::output::Output;
use crate::progress;

pub fn run(out: &Output) -> Result<ExitCode> {
    out.say("retort demo: a throwaway primary with one synchronous and one asynchronous standby\n");
    let bar = progress::spinner(out);
    let progress_bar = bar.clone();
    let began = Instant::now();
    let mut cluster = Cluster::builder()
        .standbys(2)
        .sync(1)
        .progress(move |step| progress_bar.set_message(progress::describe(step)))
        .start()?;
    bar.finish_and_clear();
    let started_ms = began.elapsed().as_millis();
    let version = cluster.binaries().version.clone();
    out.say(format!(
        "1. started PostgreSQL {} ({}) in {} ms: {}",
        cluster.binaries().version,
        cluster.binaries().bindir.display(),
        started_ms,
        cluster.dir().display()
    ));
    let nodes = cluster.status()?;
    if !out.json() && !out.quiet {
        println!("\n2. topology, as the primary's pg_stat_replication reports it:");
        super::cluster::print_status(out, cluster.dir(), &nodes)?;
    }

    out.say("\n3. a row committed on the primary, read back on each standby:");
    let mut primary = cluster.connect_primary()?;
    primary.batch_execute(
        "CREATE TABLE demo_greeting (id int PRIMARY KEY, said text NOT NULL);
         INSERT INTO demo_greeting VALUES (1, 'speak, friend, and enter');",
    )?;
    let written = Instant::now();
    let mut replicated = Vec::new();
    for (i, node) in nodes.iter().skip(1).enumerate() {
        let mut standby = cluster.connect_standby(i)?;
        let seen_after = loop {
            let row = standby.query_opt("SELECT said FROM demo_greeting WHERE id = 1", &[]);
            if let Ok(Some(row)) = row {
                let said: String = row.get(0);
                break (said, written.elapsed());
            }
            if written.elapsed() > Duration::from_secs(30) {
                bail!("{} did not replay the row within 30 s", node.name);
            }
            std::thread::sleep(Duration::from_millis(2));
        };
        out.say(format!(
            "   {} ({}) reads {:?} {:.1} ms after the commit",
            node.name,
            node.sync_state.as_deref().unwrap_or("?"),
            seen_after.0,
            seen_after.1.as_secs_f64() * 1000.0
        ));
        replicated.push(json!({
            "standby": node.name,
            "sync_state": node.sync_state,
            "visible_after_ms": seen_after.1.as_secs_f64() * 1000.0,
        }));
    }
    drop(primary);
    let dir = cluster.dir().to_owned();
    cluster.destroy()?;
    out.say(format!(
        "\n4. stopped every server and removed {}",
        dir.display()
    ));
    if out.json() {
        out.print_json(&json!({
            "server_version": version,
            "started_ms": started_ms,
            "nodes": nodes,
            "replication": replicated,
        }))?;
    }
    Ok(ExitCode::SUCCESS)
}
