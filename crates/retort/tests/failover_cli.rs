//! A primary that fails over in the middle of `retort upgrade --wait-replicas`: retort stops,
//! names the new primary from the standbys it was given, says what each has applied and, when
//! the promoted standby was asynchronous, that the migrations it never received run again on
//! it. The rerun against the new primary finishes, applying each migration once there.

mod project;

use std::path::Path;
use std::time::Duration;

use project::{retort, run};
use retort_cluster::{wait_for, Cluster};
use retort_pg::{Client, ConnConfig};

const REVS: [&str; 5] = [
    "f00000000001",
    "f00000000002",
    "f00000000003",
    "f00000000004",
    "f00000000005",
];

/// Five migrations; the third sleeps 3 s, the window in which the primary fails.
fn project(dir: &Path) {
    std::fs::create_dir_all(dir.join("migrations")).unwrap();
    std::fs::write(
        dir.join("retort.toml"),
        "[migrations]\ndir = \"migrations\"\n",
    )
    .unwrap();
    for (i, rev) in REVS.iter().enumerate() {
        let parents = if i == 0 {
            String::new()
        } else {
            format!("-- retort:parents {}\n", REVS[i - 1])
        };
        let sleep = if i == 2 { "SELECT pg_sleep(3);\n" } else { "" };
        std::fs::write(
            dir.join("migrations").join(format!("{rev}_m.sql")),
            format!(
                "-- retort:revision {rev}\n{parents}-- retort:message m{n}\n\n-- retort:up\n\
                 {sleep}CREATE TABLE t{n} (id int);\n",
                n = i + 1
            ),
        )
        .unwrap();
    }
}

fn connect(url: &str) -> Client {
    retort_pg::connect(&ConnConfig::parse(url).unwrap()).unwrap()
}

/// Waits until the primary runs the third migration (its pg_sleep).
fn wait_for_third(c: &Cluster) {
    let mut primary = c.connect_primary().unwrap();
    let seen = wait_for(Duration::from_secs(60), || {
        primary
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(3)%' \
                 AND application_name = 'retort migrate'",
                &[],
            )
            .map(|r| r.get::<_, i64>(0) > 0)
            .unwrap_or(false)
    });
    assert!(seen, "the third migration never started");
}

/// `up` history rows on `client`, sorted, and the t* tables.
fn applied(client: &mut Client) -> (Vec<String>, Vec<String>) {
    let col = |client: &mut Client, sql: &str| -> Vec<String> {
        client
            .query(sql, &[])
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect()
    };
    (
        col(
            client,
            "SELECT revision FROM retort.history WHERE direction = 'up' ORDER BY revision",
        ),
        col(
            client,
            "SELECT relname::text FROM pg_class WHERE relname ~ '^t[0-9]$' AND relkind = 'r' ORDER BY 1",
        ),
    )
}

fn all_once() -> (Vec<String>, Vec<String>) {
    (
        REVS.iter().map(|r| r.to_string()).collect(),
        (1..=5).map(|i| format!("t{i}")).collect(),
    )
}

/// Runs `retort upgrade --wait-replicas all` on a thread; `fail` runs once the third migration
/// is in flight. Returns the run's exit code and stderr.
fn upgrade_through_failover(
    c: &mut Cluster,
    dir: &Path,
    fail: impl FnOnce(&mut Cluster),
) -> (i32, String) {
    let (s1, s2) = (c.standby_url(0), c.standby_url(1));
    let mut cmd = retort(dir, &c.primary_url());
    cmd.args([
        "upgrade",
        "--wait-replicas",
        "all",
        "--replica-url",
        &s1,
        "--replica-url",
        &s2,
        "--reconnect-for",
        "8s",
    ]);
    let child = std::thread::spawn(move || run(&mut cmd));
    wait_for_third(c);
    fail(c);
    let (code, _, stderr) = child.join().unwrap();
    (code, stderr)
}

#[test]
fn failover_to_the_synchronous_standby_mid_rollout_then_a_rerun_finishes_there() {
    let mut c = Cluster::builder().standbys(2).sync(1).start().unwrap();
    c.wait_until_streaming(Duration::from_secs(30)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    project(dir.path());
    let (code, stderr) = upgrade_through_failover(&mut c, dir.path(), |c| {
        let f = c.fail_over("standby1").unwrap();
        assert_eq!(f.followers, vec!["standby2".to_owned()]);
        assert!(f.was_synchronous);
    });
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains(&format!("through {}; {} was in flight", REVS[1], REVS[2]))
            && stderr.contains("2 of 5 migration(s)"),
        "{stderr}"
    );
    assert!(stderr.contains("standby1 is a PRIMARY now"), "{stderr}");
    assert!(stderr.contains("the new primary is standby1"), "{stderr}");
    assert!(
        stderr.contains("standby1 was a synchronous standby, so every migration"),
        "{stderr}"
    );
    assert!(stderr.contains("standby2 is still a standby"), "{stderr}");

    // The new primary has the two committed migrations; the rerun applies the other three.
    let new_url = c.standby_url(0);
    let mut new = connect(&new_url);
    assert_eq!(
        applied(&mut new).0,
        REVS[..2].iter().map(|r| r.to_string()).collect::<Vec<_>>()
    );
    let (code, stdout, stderr) = run(retort(dir.path(), &new_url).args([
        "upgrade",
        "--wait-replicas",
        "all",
        "--replica-url",
        &c.standby_url(1),
    ]));
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("applied 3 migrations"), "{stdout}");
    assert_eq!(applied(&mut new), all_once());
    // standby2 follows the new primary and has replayed everything.
    let mut s2 = connect(&c.standby_url(1));
    assert_eq!(applied(&mut s2), all_once());
    // `retort cluster status` would show the old primary retired.
    assert_eq!(c.nodes()[0].role(), retort_cluster::Role::Retired);
}

#[test]
fn failover_to_an_asynchronous_standby_that_missed_commits_says_they_run_again() {
    let mut c = Cluster::builder().standbys(2).sync(1).start().unwrap();
    c.wait_until_streaming(Duration::from_secs(30)).unwrap();
    // standby2 stops receiving WAL: what the primary commits from now on never reaches it.
    let mut s2 = c.connect_standby(1).unwrap();
    s2.batch_execute("ALTER SYSTEM SET primary_conninfo = ''")
        .unwrap();
    s2.batch_execute("SELECT pg_reload_conf()").unwrap();
    drop(s2);
    let dir = tempfile::tempdir().unwrap();
    project(dir.path());
    let (code, stderr) = upgrade_through_failover(&mut c, dir.path(), |c| {
        let f = c.fail_over("standby2").unwrap();
        assert!(!f.was_synchronous);
    });
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("standby2 is a PRIMARY now"), "{stderr}");
    assert!(stderr.contains("the new primary is standby2"), "{stderr}");
    assert!(
        stderr.contains("standby2 was an ASYNCHRONOUS standby")
            && stderr.contains(&format!("standby2 does not have {}", REVS[1])),
        "{stderr}"
    );

    // Nothing reached standby2; the rerun applies all five there, each once.
    let new_url = c.standby_url(1);
    let mut new = connect(&new_url);
    let store: bool = new
        .query_one("SELECT to_regclass('retort.history') IS NOT NULL", &[])
        .unwrap()
        .get(0);
    assert!(!store, "standby2 never received the version tables");
    // standby1 received more WAL than standby2 had when it was promoted, so it cannot follow
    // it (it needs pg_rewind or a new base backup); an operator takes it out of
    // synchronous_standby_names, or commits on the new primary wait for it forever.
    new.batch_execute("ALTER SYSTEM SET synchronous_standby_names = ''")
        .unwrap();
    new.batch_execute("SELECT pg_reload_conf()").unwrap();
    let (code, stdout, stderr) = run(retort(dir.path(), &new_url).arg("upgrade"));
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("applied 5 migrations"), "{stdout}");
    assert_eq!(applied(&mut new), all_once());
}

#[test]
fn cluster_promote_through_the_cli_retires_the_primary_and_repoints_the_standbys() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("c");
    let d = d.to_str().unwrap();
    let cli = |args: &[&str]| run(retort(dir.path(), "").args(args));
    let (code, _, err) = cli(&[
        "cluster",
        "start",
        "--dir",
        d,
        "--standbys",
        "2",
        "--sync",
        "1",
    ]);
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = cli(&["cluster", "promote", "standby1", "--dir", d]);
    let (_, status, _) = cli(&["cluster", "status", "--format", "json", "--dir", d]);
    let (_, url, _) = cli(&["cluster", "url", "--dir", d]);
    let (stop, _, stop_err) = cli(&["cluster", "stop", "--destroy", "--dir", d]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("standby1 is the primary now"), "{out}");
    assert!(out.contains("standby2 follows it"), "{out}");
    let status = project::json(&status);
    let nodes = status["nodes"].as_array().unwrap();
    let role = |name: &str| {
        nodes
            .iter()
            .find(|n| n["name"] == name)
            .map(|n| (n["role"].as_str().unwrap().to_owned(), n["state"].clone()))
            .unwrap()
    };
    assert_eq!(role("primary").0, "retired");
    assert_eq!(role("standby1").0, "primary");
    assert_eq!(role("standby2"), ("standby".to_owned(), "streaming".into()));
    let port = nodes.iter().find(|n| n["name"] == "standby1").unwrap()["port"]
        .as_u64()
        .unwrap();
    assert!(url.contains(&port.to_string()), "{url}");
    assert_eq!(stop, 0, "{stop_err}");
}
