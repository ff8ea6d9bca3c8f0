//! retort-replica against real standbys: topology, waits, slots and the SyncRep watchdog.

use std::time::{Duration, Instant};

use retort_cluster::{wait_for, Cluster, StopMode};
use retort_replica::{
    current_lsn, inactive_slots, wait_for_lsn, wait_for_lsn_async, wait_for_replay, ReplayWait,
    ReplicaError, Role, SyncRepWatchdog, Topology, WaitMode,
};

fn cluster() -> Cluster {
    let mut c = Cluster::builder().standbys(2).sync(1).start().unwrap();
    c.wait_until_streaming(Duration::from_secs(30)).unwrap();
    c
}

#[test]
fn topology_seen_from_the_primary_and_from_a_standby() {
    let c = cluster();
    let mut primary = c.connect_primary().unwrap();
    let t = Topology::read(&mut primary).unwrap();
    assert_eq!(t.role, Role::Primary);
    assert!(t.current_lsn.is_some());
    let names = t.sync_names.as_ref().unwrap();
    assert_eq!(
        (names.num_sync, names.names.clone()),
        (1, vec!["standby1".to_owned()])
    );
    let seen: Vec<(&str, &str, &str)> = t
        .standbys
        .iter()
        .map(|s| (s.name.as_str(), s.state.as_str(), s.sync_state.as_str()))
        .collect();
    assert_eq!(
        seen,
        [
            ("standby1", "streaming", "sync"),
            ("standby2", "streaming", "async")
        ]
    );
    assert_eq!(t.slots.len(), 2);
    assert!(t.slots.iter().all(|s| s.active));
    assert!(retort_replica::check_sync(&t).is_ok());

    let mut standby = c.connect_standby(1).unwrap();
    let s = Topology::read(&mut standby).unwrap();
    assert_eq!(s.role, Role::Standby);
    let r = s.receiver.as_ref().unwrap();
    assert_eq!(r.status.as_deref(), Some("streaming"));
    assert!(r.replay_lsn.is_some());
    let upstream = s.upstream().unwrap();
    assert!(
        upstream.contains(&format!("port={}", c.nodes()[0].port())),
        "{upstream}"
    );
    let err = s.require_primary("standby2").unwrap_err();
    assert!(matches!(err, ReplicaError::Standby { .. }));
    assert!(err.to_string().contains("its primary is host="), "{err}");
}

#[test]
fn read_your_writes_waits_for_a_delayed_standby_and_times_out_when_told() {
    let mut c = cluster();
    c.set_apply_delay(1, Duration::from_secs(2)).unwrap();
    let mut primary = c.connect_primary().unwrap();
    primary
        .batch_execute("CREATE TABLE notes (id int); INSERT INTO notes VALUES (1)")
        .unwrap();
    let lsn = current_lsn(&mut primary).unwrap();
    let mut lagging = c.connect_standby(1).unwrap();
    match wait_for_lsn(&mut lagging, lsn, Duration::from_millis(200)).unwrap() {
        ReplayWait::TimedOut { replayed } => assert!(replayed.is_some_and(|r| r < lsn)),
        other => panic!("expected a timeout, got {other:?}"),
    }
    let began = Instant::now();
    match wait_for_lsn(&mut lagging, lsn, Duration::from_secs(20)).unwrap() {
        ReplayWait::Caught { .. } => {}
        other => panic!("expected Caught, got {other:?}"),
    }
    assert!(
        began.elapsed() >= Duration::from_millis(1000),
        "{:?}",
        began.elapsed()
    );
    // Caught means visible: the row is there on the standby right away.
    let n: i64 = lagging
        .query_one("SELECT count(*) FROM notes", &[])
        .unwrap()
        .get(0);
    assert_eq!(n, 1);

    // The async adapter, on the undelayed synchronous standby.
    let conn = format!(
        "host={} port={} user=postgres dbname=postgres",
        c.socket_dir().display(),
        c.nodes()[1].port()
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    let caught = rt.block_on(async move {
        let (client, connection) = tokio_postgres::connect(&conn, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(connection);
        wait_for_lsn_async(&client, lsn, Duration::from_secs(5))
            .await
            .unwrap()
    });
    assert!(matches!(caught, ReplayWait::Caught { .. }), "{caught:?}");
    // On a primary there is nothing to wait for.
    assert!(matches!(
        wait_for_lsn(&mut primary, lsn, Duration::from_millis(1)).unwrap(),
        ReplayWait::Caught { .. }
    ));
}

#[test]
fn a_wait_timeout_names_the_lagging_standby_and_its_lag() {
    let mut c = cluster();
    c.set_apply_delay(1, Duration::from_secs(3)).unwrap();
    let mut primary = c.connect_primary().unwrap();
    primary
        .batch_execute("CREATE TABLE big AS SELECT generate_series(1, 1000) g")
        .unwrap();
    let lsn = current_lsn(&mut primary).unwrap();
    // sync mode is satisfied by standby1 alone.
    let p = wait_for_replay(
        &mut primary,
        lsn,
        WaitMode::Sync,
        Duration::from_secs(10),
        &mut [],
        |_, _| {},
    )
    .unwrap();
    assert_eq!(p.caught_up, vec!["standby1".to_owned()]);
    let err = wait_for_replay(
        &mut primary,
        lsn,
        WaitMode::All,
        Duration::from_millis(300),
        &mut [],
        |_, _| {},
    )
    .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, ReplicaError::WaitTimeout { .. }));
    assert!(
        text.contains("standby2 is") && text.contains("behind"),
        "{text}"
    );
    assert!(!text.contains("standby1"), "{text}");
    assert!(err.hint().unwrap().contains("committed"));
}

#[test]
fn an_inactive_slot_holding_wal_is_reported() {
    let c = Cluster::builder().start().unwrap();
    let mut primary = c.connect_primary().unwrap();
    primary
        .batch_execute(
            "SELECT pg_create_physical_replication_slot('forgotten', true); \
             CREATE TABLE filler AS SELECT g, repeat('x', 200) AS pad FROM generate_series(1, 20000) g;",
        )
        .unwrap();
    let t = Topology::read(&mut primary).unwrap();
    let slot = t.slots.iter().find(|s| s.name == "forgotten").unwrap();
    assert!(!slot.active);
    assert!(slot.retained_bytes.unwrap() > 1 << 20, "{slot:?}");
    let warnings = inactive_slots(&t, 1 << 20);
    assert_eq!(warnings.len(), 1);
    assert!(
        warnings[0].contains("\"forgotten\"") && warnings[0].contains("pg_drop_replication_slot")
    );
    assert!(inactive_slots(&t, 1 << 40).is_empty());
}

#[test]
fn the_watchdog_reports_and_releases_a_commit_stuck_in_syncrep() {
    let mut c = cluster();
    c.stop_standby(0, StopMode::Fast).unwrap();
    let mut primary = c.connect_primary().unwrap();
    let t = Topology::read(&mut primary).unwrap();
    let err = retort_replica::check_sync(&t).unwrap_err();
    assert!(err.to_string().contains("not connected: standby1"), "{err}");

    let mut writer = c.connect_primary().unwrap();
    let pid: i32 = writer
        .query_one("SELECT pg_backend_pid()", &[])
        .unwrap()
        .get(0);
    let dog = SyncRepWatchdog::start(
        &c.primary_config().unwrap(),
        pid,
        Duration::from_millis(500),
    )
    .unwrap();
    let began = Instant::now();
    writer
        .batch_execute("CREATE TABLE committed_anyway (id int)")
        .unwrap();
    let took = began.elapsed();
    let stall = dog.stop().expect("a stall was reported");
    assert!(
        took >= Duration::from_millis(500) && took < Duration::from_secs(5),
        "{took:?}"
    );
    assert_eq!(stall.missing, vec!["standby1".to_owned()]);
    assert!(stall
        .explanation
        .contains("committed and durable on the primary"));
    // Committed on the primary, and on the sync standby once it is back.
    let n: i64 = primary
        .query_one(
            "SELECT count(*) FROM pg_class WHERE relname = 'committed_anyway'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(n, 1);
    c.start_standby(0).unwrap();
    c.wait_until_streaming(Duration::from_secs(30)).unwrap();
    let mut standby = c.connect_standby(0).unwrap();
    assert!(wait_for(Duration::from_secs(10), || standby
        .query_one(
            "SELECT count(*) FROM pg_class WHERE relname = 'committed_anyway'",
            &[]
        )
        .map(|r| r.get::<_, i64>(0) == 1)
        .unwrap_or(false)));
}
