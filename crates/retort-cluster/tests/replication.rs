//! The foundation's promise, on real servers: a primary with one synchronous and one asynchronous
//! standby replicates, reports sync state truthfully, and makes commits wait when the
//! synchronous standby dies.

use std::time::{Duration, Instant};

use retort_cluster::{process_exists, wait_for, Cluster, Role, StopMode, SyncMethod};

#[test]
fn sync_and_async_standbys_replicate_and_a_dead_sync_standby_blocks_commits() {
    let mut c = Cluster::builder().standbys(2).sync(1).start().unwrap();
    let pids = c.postmaster_pids();
    assert_eq!(pids.len(), 3);

    // A row committed on the primary shows up on both standbys.
    let mut primary = c.connect_primary().unwrap();
    primary
        .batch_execute(
            "CREATE TABLE t (id int PRIMARY KEY, note text); INSERT INTO t VALUES (1, 'hello')",
        )
        .unwrap();
    for i in 0..2 {
        let mut standby = c.connect_standby(i).unwrap();
        let seen = wait_for(Duration::from_secs(10), || {
            standby
                .query_opt("SELECT note FROM t WHERE id = 1", &[])
                .ok()
                .flatten()
                .map(|r| r.get::<_, String>(0) == "hello")
                .unwrap_or(false)
        });
        assert!(seen, "row not visible on standby {i}");
        let in_recovery: bool = standby
            .query_one("SELECT pg_is_in_recovery()", &[])
            .unwrap()
            .get(0);
        assert!(in_recovery);
    }

    // pg_stat_replication lists standby1 as sync and standby2 as async.
    let rows = primary
        .query(
            "SELECT application_name, sync_state, state FROM pg_stat_replication ORDER BY 1",
            &[],
        )
        .unwrap();
    let seen: Vec<(String, String, String)> = rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(
        seen,
        vec![
            ("standby1".into(), "sync".into(), "streaming".into()),
            ("standby2".into(), "async".into(), "streaming".into()),
        ]
    );
    let status = c.status().unwrap();
    assert_eq!(status[1].sync_state.as_deref(), Some("sync"));
    assert_eq!(status[2].sync_state.as_deref(), Some("async"));
    assert!(status.iter().all(|s| s.running));

    // Kill the synchronous standby: a commit on the primary now waits for it (SyncRep).
    c.kill_standby(0).unwrap();
    assert!(!process_exists(pids[1]));
    let url = c.primary_url();
    let writer = std::thread::spawn(move || {
        let cfg = retort_pg::ConnConfig::parse(&format!("{url}&application_name=blocked_writer"))
            .unwrap();
        let mut client = retort_pg::connect(&cfg).unwrap();
        client
            .execute("INSERT INTO t VALUES (2, 'waits')", &[])
            .unwrap();
    });
    let mut waiting = false;
    let observed = wait_for(Duration::from_secs(10), || {
        waiting = primary
            .query_one(
                "SELECT count(*) FROM pg_stat_activity \
                 WHERE application_name = 'blocked_writer' AND wait_event = 'SyncRep'",
                &[],
            )
            .map(|r| r.get::<_, i64>(0) == 1)
            .unwrap_or(false);
        waiting
    });
    assert!(observed, "the commit did not wait in SyncRep");
    assert!(
        !writer.is_finished(),
        "the commit finished without its synchronous standby"
    );

    // Bring the standby back: the waiting commit completes and replicates.
    c.start_standby(0).unwrap();
    c.wait_until_streaming(Duration::from_secs(30)).unwrap();
    assert!(
        wait_for(Duration::from_secs(30), || writer.is_finished()),
        "the commit still waits after the synchronous standby returned"
    );
    writer.join().unwrap();
    let n: i64 = primary
        .query_one("SELECT count(*) FROM t", &[])
        .unwrap()
        .get(0);
    assert_eq!(n, 2);

    // Dropping the handle leaves no server behind.
    let pids = c.postmaster_pids();
    let dir = c.dir().to_owned();
    drop(primary);
    drop(c);
    for pid in pids {
        assert!(
            !process_exists(pid),
            "postmaster {pid} outlived its cluster"
        );
    }
    assert!(!dir.exists(), "{} was not removed", dir.display());
}

#[test]
fn apply_delay_gives_a_deterministic_lag_and_promote_makes_a_primary() {
    let mut c = Cluster::builder().standbys(1).start().unwrap();
    c.set_apply_delay(0, Duration::from_secs(3)).unwrap();
    let mut primary = c.connect_primary().unwrap();
    let mut standby = c.connect_standby(0).unwrap();
    // The delay applies to commits made after the reload has been processed; a marker table
    // created now is the first one.
    std::thread::sleep(Duration::from_millis(200));
    let start = Instant::now();
    primary
        .batch_execute("CREATE TABLE delayed (x int)")
        .unwrap();
    let visible = |s: &mut retort_pg::Client| {
        s.query_one("SELECT to_regclass('delayed') IS NOT NULL", &[])
            .map(|r| r.get::<_, bool>(0))
            .unwrap_or(false)
    };
    assert!(!visible(&mut standby), "replayed before the delay");
    let status = c.status().unwrap();
    assert_eq!(status[1].state.as_deref(), Some("streaming"));
    assert!(wait_for(Duration::from_secs(15), || visible(&mut standby)));
    assert!(
        start.elapsed() >= Duration::from_millis(2500),
        "replayed after {:?}, before the 3 s delay",
        start.elapsed()
    );

    c.set_apply_delay(0, Duration::ZERO).unwrap();
    c.promote(0).unwrap();
    let mut promoted = c.connect_standby(0).unwrap();
    let in_recovery: bool = promoted
        .query_one("SELECT pg_is_in_recovery()", &[])
        .unwrap()
        .get(0);
    assert!(!in_recovery);
    promoted
        .batch_execute("INSERT INTO delayed VALUES (1)")
        .unwrap();
    assert_eq!(c.nodes()[1].role(), Role::Primary);
}

#[test]
fn quorum_standbys_report_quorum_and_immediate_stop_is_observed() {
    let mut c = Cluster::builder()
        .standbys(2)
        .sync(2)
        .sync_method(SyncMethod::Any)
        .start()
        .unwrap();
    let status = c.status().unwrap();
    assert_eq!(status[1].sync_state.as_deref(), Some("quorum"));
    assert_eq!(status[2].sync_state.as_deref(), Some("quorum"));
    c.stop_standby(1, StopMode::Immediate).unwrap();
    let status = c.status().unwrap();
    assert!(!status[2].running);
    assert_eq!(status[2].state, None);
}
