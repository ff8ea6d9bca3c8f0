//! `retort demo`: the whole story on a throwaway cluster: topology, migrations applied on the
//! primary and replayed by the standbys, autogenerate, the shadow password store, a rollout that
//! waits for a lagging standby, and a missing synchronous standby refused.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use retort_cluster::Cluster;
use serde_json::json;

use crate::output::Output;
use crate::progress;

// The re-export lets an application embed migrations without its own include_dir dependency;
// the demo does exactly that.
use retort_migrate::include_dir::{self, include_dir, Dir};

static DEMO_MIGRATIONS: Dir = include_dir!("$CARGO_MANIFEST_DIR/demo/migrations");
static DEMO_SCHEMA: &str = include_str!("../../demo/schema.sql");

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

    out.say(
        "\n3. migrations (embedded in this binary) applied to the primary, one transaction each:",
    );
    let graph = retort_migrate::from_embedded(&DEMO_MIGRATIONS)?;
    let mut primary = cluster.connect_primary()?;
    // The last migration is kept for step 7, the rollout that waits for the standbys.
    let first_three = retort_migrate::Target::parse("d3a0f1c2b403")?;
    let report = retort_migrate::upgrade(&mut primary, &graph, first_three)?;
    for (step, took) in report.plan.steps.iter().zip(&report.durations) {
        let message = graph
            .get(&step.revision)
            .map(|m| m.message.as_str())
            .unwrap_or_default();
        out.say(format!(
            "   {}  {:<16} {:>6.1} ms",
            step.revision,
            message,
            took.as_secs_f64() * 1000.0
        ));
    }
    let head = report.plan.to_heads.join(", ");
    out.say(format!("   retort.version on the primary: {head}"));

    out.say("\n4. each standby replays the migrations (the last one inserted a row):");
    let written = Instant::now();
    let mut replicated = Vec::new();
    for (i, node) in nodes.iter().skip(1).enumerate() {
        let mut standby = cluster.connect_standby(i)?;
        let seen_after = loop {
            let row = standby.query_opt(
                "SELECT g.said, (SELECT string_agg(revision, ', ') FROM retort.version) \
                 FROM greeting g WHERE g.id = 1",
                &[],
            );
            if let Ok(Some(row)) = row {
                let said: String = row.get(0);
                let version: Option<String> = row.get(1);
                break (said, version.unwrap_or_default(), written.elapsed());
            }
            if written.elapsed() > Duration::from_secs(30) {
                bail!("{} did not replay the row within 30 s", node.name);
            }
            std::thread::sleep(Duration::from_millis(2));
        };
        out.say(format!(
            "   {} ({}) is at {} and reads {:?}, {:.1} ms after the last commit",
            node.name,
            node.sync_state.as_deref().unwrap_or("?"),
            seen_after.1,
            seen_after.0,
            seen_after.2.as_secs_f64() * 1000.0
        ));
        replicated.push(json!({
            "standby": node.name,
            "sync_state": node.sync_state,
            "version": seen_after.1,
            "visible_after_ms": seen_after.2.as_secs_f64() * 1000.0,
        }));
    }
    out.say(
        "\n5. autogenerate: the primary against the schema the app wants next (demo/schema.sql):",
    );
    let filter = retort_catalog::Filter::default();
    let scratch = retort_cluster::ScratchDatabase::create(&cluster.primary_config()?)?;
    let mut wanted = scratch.connect()?;
    wanted.batch_execute(DEMO_SCHEMA)?;
    let began_diff = Instant::now();
    let current = retort_catalog::introspect(&mut primary, &filter)?;
    let desired = retort_catalog::introspect(&mut wanted, &filter)?;
    let change = retort_catalog::diff(&current, &desired);
    let diff_ms = began_diff.elapsed().as_secs_f64() * 1000.0;
    for line in change.to_sql().lines() {
        out.say(format!("   {line}"));
    }
    let mut tx = primary.transaction()?;
    for statement in change.statements() {
        tx.batch_execute(&statement)?;
    }
    tx.commit()?;
    let after = retort_catalog::introspect(&mut primary, &filter)?;
    let remaining = retort_catalog::diff(&after, &desired).changes.len();
    drop(wanted);
    drop(scratch);
    out.say(format!(
        "   {} change(s) found in {diff_ms:.0} ms and applied in one transaction; diffing again finds {remaining}",
        change.changes.len()
    ));
    let shadow = shadow_step(out, &cluster, &mut primary)?;
    let rollout = rollout_step(out, &mut cluster, &mut primary, &graph)?;
    drop(primary);
    let dir = cluster.dir().to_owned();
    cluster.destroy()?;
    out.say(format!(
        "\n9. stopped every server and removed {}",
        dir.display()
    ));
    if out.json() {
        out.print_json(&json!({
            "server_version": version,
            "started_ms": started_ms,
            "nodes": nodes,
            "migrations": report.plan.steps.iter().map(|s| &s.revision).collect::<Vec<_>>(),
            "version": report.plan.to_heads,
            "replication": replicated,
            "shadow": shadow,
            "rollout": rollout,
            "autogenerate": {"changes": change.changes.len(), "sql": change.to_sql(), "remaining_after_apply": remaining},
        }))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Step 6: the shadow store, used as the application's own role would use it.
fn shadow_step(
    out: &Output,
    cluster: &Cluster,
    primary: &mut retort_pg::Client,
) -> Result<serde_json::Value> {
    use retort_shadow::{blocking::ShadowStore, InstallOptions, SecretString, Verdict};

    const APP: &str = "speakfriend_app";
    out.say(
        "\n6. the shadow password store: the app's role checks passwords but never reads a hash",
    );
    primary.batch_execute(&format!("CREATE ROLE {APP} LOGIN"))?;
    let opts = InstallOptions::new(APP);
    retort_shadow::install(primary, &opts)?;
    out.say(format!(
        "   installed in schema {:?} ({} mode, argon2id m={} KiB t={} p={}); owner {:?} cannot log in",
        opts.schema, opts.mode, opts.argon2.m_kib, opts.argon2.t, opts.argon2.p, opts.owner_role
    ));
    let app_url = format!("{}&user={APP}", cluster.primary_url());
    let mut app = retort_pg::connect(&retort_pg::ConnConfig::parse(&app_url)?)?;
    let store = ShadowStore::new(&opts.schema);
    let secret = |s: &str| SecretString::from(s.to_owned());
    if !store.enrol(&mut app, "gandalf", &secret("mellon"))? {
        bail!("the demo's fresh store already had a password for gandalf");
    }
    out.say(format!(
        "   as {APP}: enrol \"gandalf\" (sign-up; the password never left this process)"
    ));
    let denied = match app.query("SELECT * FROM shadow.passwords", &[]) {
        Ok(_) => bail!("{APP} could read the password store; the demo's store is broken"),
        Err(e) => retort_pg::PgError::from(e).to_string(),
    };
    out.say(format!(
        "   as {APP}: SELECT * FROM shadow.passwords -> {denied}"
    ));
    let mut verdicts = Vec::new();
    for guess in ["mellon", "friend"] {
        let began = Instant::now();
        let verdict = store.verify(&mut app, "gandalf", &secret(guess))?;
        let ms = began.elapsed().as_secs_f64() * 1000.0;
        out.say(format!(
            "   as {APP}: verify gandalf {guess:?} -> {} ({ms:.0} ms, nearly all of it argon2id in this process)",
            verdict.as_str()
        ));
        verdicts.push(json!({"password": guess, "verdict": verdict.as_str(), "ms": ms}));
        let expected = if guess == "mellon" {
            Verdict::Ok
        } else {
            Verdict::Bad
        };
        if verdict != expected {
            bail!("verify {guess:?} gave {verdict:?}, expected {expected:?}");
        }
    }
    // The app role holds no admin capability: it cannot unlock, and so cannot reset the
    // lockout between guesses.
    let unlock_denied = match app.query("SELECT shadow.unlock('gandalf')", &[]) {
        Ok(_) => bail!("{APP} could unlock accounts; the demo's store is broken"),
        Err(e) => retort_pg::PgError::from(e).to_string(),
    };
    out.say(format!(
        "   as {APP}: SELECT shadow.unlock('gandalf') -> {unlock_denied} (unlock is {:?}'s)",
        opts.admin_role
    ));
    let report = retort_shadow::audit(primary, &opts.schema, APP, &opts.admin_role)?;
    out.say(format!(
        "   retort shadow audit: {}",
        if report.passed() {
            "passed".to_owned()
        } else {
            format!("{} finding(s)", report.findings.len())
        }
    ));
    Ok(
        json!({"select_denied": denied, "unlock_denied": unlock_denied, "verify": verdicts, "audit_passed": report.passed()}),
    )
}

/// Steps 7 and 8: a migration that waits for a lagging standby, and a missing synchronous
/// standby refused up front.
fn rollout_step(
    out: &Output,
    cluster: &mut Cluster,
    primary: &mut retort_pg::Client,
    graph: &retort_migrate::RevisionGraph,
) -> Result<serde_json::Value> {
    use retort_replica::{check_sync, current_lsn, wait_for_replay, Topology, WaitMode};

    out.say("\n7. a rollout that waits for every standby, while standby2 replays 2 s late:");
    cluster.set_apply_delay(1, Duration::from_secs(2))?;
    let report = retort_migrate::upgrade(primary, graph, retort_migrate::Target::Heads)?;
    let revision = report.plan.to_heads.join(", ");
    out.say(format!(
        "   retort upgrade --wait-replicas all: applied {revision} (notes) on the primary"
    ));
    let lsn = current_lsn(primary)?;
    let began = Instant::now();
    let done = wait_for_replay(
        primary,
        lsn,
        WaitMode::All,
        Duration::from_secs(30),
        &mut [],
        |p, at| {
            if !p.done {
                out.say(format!(
                    "   waiting for {lsn}: {} ({:.1} s)",
                    p.behind_text().join(", "),
                    at.as_secs_f64()
                ));
            }
        },
    )?;
    let waited_ms = began.elapsed().as_secs_f64() * 1000.0;
    out.say(format!(
        "   {} replayed it after {waited_ms:.0} ms: the app can now read notes from any standby",
        done.caught_up.join(" and ")
    ));
    cluster.set_apply_delay(1, Duration::ZERO)?;

    out.say("\n8. the synchronous standby stops; retort upgrade refuses instead of hanging:");
    cluster.stop_standby(0, retort_cluster::StopMode::Fast)?;
    let topology = Topology::read(primary)?;
    let refusal = match check_sync(&topology) {
        Ok(_) => bail!("the primary still has a synchronous standby after stopping standby1"),
        Err(e) => {
            out.say(format!("   error: {e}"));
            if let Some(h) = e.hint() {
                out.say(format!("   hint: {h}"));
            }
            e.to_string()
        }
    };
    cluster.start_standby(0)?;
    cluster.wait_until_streaming(Duration::from_secs(60))?;
    let healthy = check_sync(&Topology::read(primary)?).is_ok();
    out.say(format!(
        "   standby1 started again: {}",
        if healthy {
            "streaming as the synchronous standby"
        } else {
            "NOT streaming yet"
        }
    ));
    Ok(json!({
        "revision": revision, "waited_ms": waited_ms, "caught_up": done.caught_up,
        "refusal": refusal, "sync_restored": healthy,
    }))
}
