//! Replication-aware rollouts through the CLI, on a primary with a synchronous and an
//! asynchronous standby: status, waiting for replay, a missing synchronous standby, wait
//! timeouts and hot-standby conflicts.

mod project;

use std::path::Path;
use std::time::{Duration, Instant};

use project::{json, retort, run};
use retort_cluster::{wait_for, Cluster, StopMode};
use retort_pg::{Client, ConnConfig};

fn cluster_with(settings: &[(&str, &str)]) -> Cluster {
    let mut b = Cluster::builder().standbys(2).sync(1);
    for (k, v) in settings {
        b = b.setting(k, v);
    }
    let mut c = b.start().unwrap();
    c.wait_until_streaming(Duration::from_secs(30)).unwrap();
    c
}

/// A project with one migration per (revision, sql).
fn project_with(dir: &Path, migrations: &[(&str, &str)]) {
    std::fs::create_dir_all(dir.join("migrations")).unwrap();
    std::fs::write(
        dir.join("retort.toml"),
        "[migrations]\ndir = \"migrations\"\n",
    )
    .unwrap();
    let mut parent: Option<&str> = None;
    for (rev, sql) in migrations {
        let parents = parent
            .map(|p| format!("-- retort:parents {p}\n"))
            .unwrap_or_default();
        std::fs::write(
            dir.join("migrations").join(format!("{rev}_m.sql")),
            format!("-- retort:revision {rev}\n{parents}-- retort:message m {rev}\n\n-- retort:up\n{sql}\n"),
        )
        .unwrap();
        parent = Some(rev);
    }
}

fn connect(url: &str) -> Client {
    retort_pg::connect(&ConnConfig::parse(url).unwrap()).unwrap()
}

fn has_table(client: &mut Client, name: &str) -> bool {
    client
        .query_one("SELECT to_regclass($1) IS NOT NULL", &[&name])
        .unwrap()
        .get(0)
}

#[test]
fn status_in_both_formats_and_a_standby_names_its_primary() {
    let c = cluster_with(&[]);
    let dir = tempfile::tempdir().unwrap();
    let url = c.primary_url();
    let (code, stdout, stderr) = run(retort(dir.path(), &url).args(["replica", "status"]));
    assert_eq!(code, 0, "{stderr}");
    let line = |name: &str| {
        stdout
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_default()
            .to_owned()
    };
    assert!(
        line("standby1").contains("streaming") && line("standby1").contains(" sync "),
        "{stdout}"
    );
    assert!(
        line("standby2").contains("streaming") && line("standby2").contains(" async "),
        "{stdout}"
    );
    assert!(stdout.contains("FIRST 1 (standby1)"), "{stdout}");

    let (code, stdout, _) =
        run(retort(dir.path(), &url).args(["replica", "status", "--format", "json"]));
    assert_eq!(code, 0);
    let doc = json(&stdout);
    assert_eq!(doc["role"], "primary");
    assert_eq!(doc["sync"]["ok"], true);
    let standbys = doc["topology"]["standbys"].as_array().unwrap();
    assert_eq!(standbys.len(), 2);
    assert_eq!(
        (
            standbys[0]["name"].as_str(),
            standbys[0]["sync_state"].as_str()
        ),
        (Some("standby1"), Some("sync"))
    );
    assert_eq!(
        (
            standbys[1]["name"].as_str(),
            standbys[1]["sync_state"].as_str()
        ),
        (Some("standby2"), Some("async"))
    );
    assert!(standbys[0]["replay_lsn"].as_str().unwrap().contains('/'));

    // Pointed at a standby: status describes it; upgrade refuses and names the primary.
    let standby = c.standby_url(1);
    let (code, stdout, _) = run(retort(dir.path(), &standby).args(["replica", "status"]));
    assert_eq!(code, 0);
    assert!(
        stdout.starts_with("standby ") && stdout.contains("streaming from host="),
        "{stdout}"
    );
    project_with(dir.path(), &[("aaaaaaaaaaa1", "CREATE TABLE t (id int);")]);
    let (code, _, stderr) = run(retort(dir.path(), &standby).arg("upgrade"));
    assert_eq!(code, 1);
    assert!(
        stderr.contains("is a standby") && stderr.contains("its primary is host="),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("port={}", c.nodes()[0].port())),
        "{stderr}"
    );
    assert!(!stderr.contains("password="), "{stderr}");
}

#[test]
fn wait_replicas_all_waits_for_the_lagging_async_standby_and_sync_does_not() {
    let mut c = cluster_with(&[]);
    c.set_apply_delay(1, Duration::from_secs(3)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let url = c.primary_url();
    project_with(
        dir.path(),
        &[("aaaaaaaaaaa1", "CREATE TABLE first_table (id int);")],
    );
    let mut lagging = c.connect_standby(1).unwrap();

    let began = Instant::now();
    let (code, _, stderr) =
        run(retort(dir.path(), &url).args(["upgrade", "--wait-replicas", "all"]));
    let took = began.elapsed();
    assert_eq!(code, 0, "{stderr}");
    // Returned only once the table is visible on the delayed standby.
    assert!(has_table(&mut lagging, "first_table"), "{stderr}");
    assert!(took >= Duration::from_millis(2500), "{took:?}");
    assert!(
        stderr.contains("waiting for standbys") && stderr.contains("standby2 is"),
        "{stderr}"
    );

    project_with(
        dir.path(),
        &[
            ("aaaaaaaaaaa1", "CREATE TABLE first_table (id int);"),
            ("bbbbbbbbbbb2", "CREATE TABLE second_table (id int);"),
        ],
    );
    let began = Instant::now();
    let (code, stdout, stderr) = run(retort(dir.path(), &url).args([
        "upgrade",
        "--wait-replicas",
        "sync",
        "--format",
        "json",
    ]));
    let took = began.elapsed();
    assert_eq!(code, 0, "{stderr}");
    assert!(took < Duration::from_millis(2500), "{took:?}");
    assert!(
        !has_table(&mut lagging, "second_table"),
        "the async standby should still be behind"
    );
    let doc = json(&stdout);
    assert_eq!(doc["replicas"]["wait"]["caught_up"][0], "standby1");
    let mut sync = c.connect_standby(0).unwrap();
    assert!(has_table(&mut sync, "second_table"));
}

#[test]
fn a_missing_sync_standby_is_refused_up_front_and_the_watchdog_reports_a_stuck_commit() {
    let mut c = cluster_with(&[]);
    let dir = tempfile::tempdir().unwrap();
    let url = c.primary_url();
    project_with(
        dir.path(),
        &[("aaaaaaaaaaa1", "CREATE TABLE kept (id int);")],
    );
    c.stop_standby(0, StopMode::Fast).unwrap();

    let (code, _, stderr) = run(retort(dir.path(), &url).arg("upgrade"));
    assert_eq!(code, 1);
    assert!(
        stderr.contains("synchronous replication needs 1 standby"),
        "{stderr}"
    );
    assert!(
        stderr.contains("not connected: standby1") && stderr.contains("--allow-missing-sync"),
        "{stderr}"
    );
    let mut primary = connect(&url);
    assert!(
        !has_table(&mut primary, "kept"),
        "nothing may run after a refusal"
    );

    let began = Instant::now();
    let (code, _, stderr) = run(retort(dir.path(), &url).args([
        "upgrade",
        "--allow-missing-sync",
        "--sync-timeout",
        "1s",
    ]));
    let took = began.elapsed();
    assert_eq!(code, 1, "{stderr}");
    assert!(took < Duration::from_secs(10), "{took:?}");
    assert!(
        stderr.contains("COMMIT waited") && stderr.contains("committed and durable on the primary"),
        "{stderr}"
    );
    assert!(stderr.contains("1 migration(s) committed"), "{stderr}");
    // The migration is committed on the primary.
    assert!(has_table(&mut primary, "kept"));
    let v: String = primary
        .query_one("SELECT revision FROM retort.version", &[])
        .unwrap()
        .get(0);
    assert_eq!(v, "aaaaaaaaaaa1");

    // With the standby back, every node agrees.
    c.start_standby(0).unwrap();
    c.wait_until_streaming(Duration::from_secs(30)).unwrap();
    for i in 0..2 {
        let mut s = c.connect_standby(i).unwrap();
        assert!(
            wait_for(Duration::from_secs(10), || has_table(&mut s, "kept")),
            "standby {i}"
        );
        let v: String = s
            .query_one("SELECT revision FROM retort.version", &[])
            .unwrap()
            .get(0);
        assert_eq!(v, "aaaaaaaaaaa1");
    }
}

#[test]
fn replica_wait_times_out_naming_the_lagging_standby() {
    let mut c = cluster_with(&[]);
    c.set_apply_delay(1, Duration::from_secs(3)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let url = c.primary_url();
    connect(&url)
        .batch_execute("CREATE TABLE w AS SELECT generate_series(1, 100) g")
        .unwrap();
    let (code, _, stderr) = run(retort(dir.path(), &url).args([
        "replica",
        "wait",
        "--mode",
        "all",
        "--timeout",
        "500ms",
    ]));
    assert_eq!(code, 1);
    assert!(
        stderr.contains("standby2 is") && stderr.contains("behind"),
        "{stderr}"
    );
    let (code, stdout, stderr) = run(retort(dir.path(), &url).args([
        "replica",
        "wait",
        "--mode",
        "sync",
        "--timeout",
        "10s",
        "--format",
        "json",
    ]));
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(json(&stdout)["caught_up"][0], "standby1");

    // The lag gate refuses while standby2 is behind; logical replication gets its advice.
    connect(&url)
        .batch_execute("CREATE TABLE more AS SELECT g, repeat('x', 100) AS pad FROM generate_series(1, 1000) g")
        .unwrap();
    project_with(
        dir.path(),
        &[("aaaaaaaaaaa1", "CREATE TABLE gated (id int);")],
    );
    let (code, _, stderr) = run(retort(dir.path(), &url).args(["upgrade", "--max-lag", "1kB"]));
    assert_eq!(code, 1);
    assert!(
        stderr.contains("standby2 is") && stderr.contains("more than the allowed 1.0 kB"),
        "{stderr}"
    );
    assert!(!has_table(&mut connect(&url), "gated"));
    connect(&url)
        .batch_execute("CREATE PUBLICATION everything FOR ALL TABLES")
        .unwrap();
    let (code, _, stderr) =
        run(retort(dir.path(), &url).args(["upgrade", "--wait-replicas", "sync", "--wait-each"]));
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("publishes (everything)") && stderr.contains("subscribers first"),
        "{stderr}"
    );
    assert!(has_table(&mut c.connect_standby(0).unwrap(), "gated"));
}

#[test]
fn an_access_exclusive_migration_warns_before_and_reports_standby_conflicts_after() {
    let c = cluster_with(&[("max_standby_streaming_delay", "'1s'")]);
    let dir = tempfile::tempdir().unwrap();
    let url = c.primary_url();
    connect(&url)
        .batch_execute("CREATE TABLE hot (id int); INSERT INTO hot VALUES (1)")
        .unwrap();
    let mut reader = c.connect_standby(1).unwrap();
    assert!(wait_for(Duration::from_secs(10), || has_table(
        &mut reader,
        "hot"
    )));
    // A long read on the hot standby holds a lock on the table.
    reader
        .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT count(*) FROM hot;")
        .unwrap();
    project_with(
        dir.path(),
        &[("aaaaaaaaaaa1", "ALTER TABLE hot ADD COLUMN note text;")],
    );
    let (code, _, stderr) = run(retort(dir.path(), &url).args([
        "upgrade",
        "--wait-replicas",
        "all",
        "--replica-url",
        &c.standby_url(1),
    ]));
    assert_eq!(code, 0, "{stderr}");
    let warned = stderr
        .find("ACCESS EXCLUSIVE")
        .unwrap_or_else(|| panic!("{stderr}"));
    let reported = stderr
        .find("recovery conflicts on standby2")
        .unwrap_or_else(|| panic!("{stderr}"));
    assert!(warned < reported);
    assert!(
        stderr.contains("max_standby_streaming_delay = 1s"),
        "{stderr}"
    );
    assert!(stderr.contains("lock 1"), "{stderr}");
    // The standby's reader was the one cancelled.
    assert!(reader.batch_execute("SELECT 1").is_err() || reader.batch_execute("COMMIT").is_err());
}
