//! `retort backfill`: interrupted with SIGINT it stops after a committed batch and the rerun
//! updates every remaining row, each row exactly once; it pauses while a standby lags.

mod project;

use std::process::Stdio;
use std::time::{Duration, Instant};

use project::{database, retort, run};
use retort_cluster::Cluster;

const STATEMENT: &str = "UPDATE items SET n = n + 1, touched = true WHERE NOT touched";

fn counts(client: &mut retort_pg::Client) -> (i64, i64, i64) {
    let r = client
        .query_one(
            "SELECT count(*) FILTER (WHERE n = 0), count(*) FILTER (WHERE n = 1), count(*) FILTER (WHERE n > 1) FROM items",
            &[],
        )
        .unwrap();
    (r.get(0), r.get(1), r.get(2))
}

#[test]
fn a_backfill_stopped_by_sigint_resumes_and_updates_every_row_once() {
    let c = Cluster::builder().start().unwrap();
    let (url, mut client) = database(&c, "fill");
    client
        .batch_execute(
            "CREATE TABLE items (id bigint PRIMARY KEY, n int NOT NULL DEFAULT 0, touched boolean NOT NULL DEFAULT false);
             INSERT INTO items (id) SELECT g * 3 FROM generate_series(1, 300000) g; ANALYZE items;",
        )
        .unwrap();
    let p = tempfile::tempdir().unwrap();
    let p = p.path();
    let child = retort(p, &url)
        .args(["backfill", STATEMENT, "--batch-time", "20ms"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait for some batches to commit, then interrupt.
    let began = Instant::now();
    loop {
        let (_, done, _) = counts(&mut client);
        if done > 0 || began.elapsed() > Duration::from_secs(30) {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    // SAFETY: kill(2) on our own child's pid.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGINT);
    }
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stdout}{stderr}");
    assert!(stdout.contains("run the same command again"), "{stdout}");
    let (left, done, twice) = counts(&mut client);
    assert!(
        done > 0 && left > 0,
        "stopped part way: {done} done, {left} left"
    );
    assert_eq!(twice, 0);
    // The progress row matches the committed batches exactly.
    let recorded: i64 = client
        .query_one("SELECT rows FROM retort.backfill", &[])
        .unwrap()
        .get(0);
    assert_eq!(recorded, done);

    let (code, stdout, stderr) = run(retort(p, &url).args(["backfill", STATEMENT]));
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("backfill done: 300000 rows"), "{stdout}");
    assert_eq!(
        counts(&mut client),
        (0, 300000, 0),
        "every row exactly once"
    );
    // Once done, the same statement has nothing to do.
    let (code, stdout, _) = run(retort(p, &url).args(["backfill", STATEMENT]));
    assert_eq!(code, 0);
    assert!(stdout.contains("finished earlier"), "{stdout}");
    // Bad input: no primary key, not an UPDATE.
    client.batch_execute("CREATE TABLE loose (a int)").unwrap();
    let (code, _, err) = run(retort(p, &url).args(["backfill", "UPDATE loose SET a = 1"]));
    assert_eq!(code, 1);
    assert!(err.contains("no primary key"), "{err}");
    let (code, _, err) = run(retort(p, &url).args(["backfill", "DELETE FROM items"]));
    assert_eq!(code, 1);
    assert!(err.contains("not an UPDATE"), "{err}");
}

#[test]
fn a_backfill_pauses_while_a_standby_lags_and_goes_on_when_it_catches_up() {
    let mut c = Cluster::builder().standbys(1).start().unwrap();
    c.wait_until_streaming(Duration::from_secs(60)).unwrap();
    let url = c.primary_url();
    let mut client = retort_pg::connect(&retort_pg::ConnConfig::parse(&url).unwrap()).unwrap();
    client
        .batch_execute(
            "CREATE TABLE items (id bigint PRIMARY KEY, n int NOT NULL DEFAULT 0, touched boolean NOT NULL DEFAULT false);
             INSERT INTO items (id) SELECT g FROM generate_series(1, 20000) g;",
        )
        .unwrap();
    // The standby replays 1.5 s late: after the first batch it is behind.
    c.set_apply_delay(0, Duration::from_millis(1500)).unwrap();
    let p = tempfile::tempdir().unwrap();
    let p = p.path();
    let began = Instant::now();
    let (code, stdout, stderr) = run(retort(p, &url).args([
        "backfill",
        STATEMENT,
        "--max-lag",
        "1kB",
        "--format",
        "json",
    ]));
    assert_eq!(code, 0, "{stderr}");
    let events: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(events.iter().any(|e| e["event"] == "paused"), "{stdout}");
    assert_eq!(events.last().unwrap()["end"], "Done", "{stdout}");
    assert!(
        began.elapsed() >= Duration::from_millis(1500),
        "it waited for the standby"
    );
    assert_eq!(counts(&mut client), (0, 20000, 0));
}
