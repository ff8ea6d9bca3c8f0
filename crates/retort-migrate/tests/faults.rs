//! The runner against a network that fails: a connection cut before COMMIT, a COMMIT whose
//! answer is lost, a stall, and a `CREATE INDEX CONCURRENTLY` cut off mid-build. Each run goes
//! through retort-cluster's fault proxy to a real server; each test asserts the version table,
//! the history rows and the schema.

mod support;

use std::time::Duration;

use retort_cluster::{Cluster, Fault, FaultAction, FaultProxy, Trigger};
use retort_migrate::{
    MigrateError, Migration, MigrationRunner, Observer, Recovery, RevisionGraph, RunnerOptions,
    Target,
};
use retort_pg::{Client, ConnConfig};
use support::{cluster, version_rows, Files};

const A: &str = "aaaaaaaaaaa1";
const B: &str = "bbbbbbbbbbb2";
const C: &str = "ccccccccccc3";

/// A database `name` on `c`, a proxy in front of the server, the URL through the proxy, and a
/// direct connection for checking.
fn through_proxy(c: &Cluster, name: &str) -> (FaultProxy, ConnConfig, Client) {
    let direct = c.create_database(name).unwrap();
    let node = &c.nodes()[0];
    let proxy = FaultProxy::start(([127, 0, 0, 1], node.port()).into()).unwrap();
    let url = c.node_tcp_url(node).replace(
        &format!(":{}/postgres", node.port()),
        &format!(":{}/{name}", proxy.port()),
    );
    let client = retort_pg::connect(&ConnConfig::parse(&direct).unwrap()).unwrap();
    (proxy, ConnConfig::parse(&url).unwrap(), client)
}

/// Three migrations; each creates a table and logs itself in `applied`, so a migration that
/// ran twice shows as two rows.
fn chain(files: &Files) -> RevisionGraph {
    files.add(
        A,
        &[],
        "CREATE TABLE applied (revision text NOT NULL);\nCREATE TABLE a_table (id int);\nINSERT INTO applied VALUES ('a');",
        Some("DROP TABLE a_table;\nDROP TABLE applied;"),
    );
    files.add(
        B,
        &[A],
        "CREATE TABLE b_table (id int);\nINSERT INTO applied VALUES ('b');",
        Some("DROP TABLE b_table;"),
    );
    files.add(
        C,
        &[B],
        "CREATE TABLE c_table (id int);\nINSERT INTO applied VALUES ('c');",
        Some("DROP TABLE c_table;"),
    );
    files.graph()
}

#[derive(Default)]
struct Events {
    lost: Vec<(String, Recovery)>,
    resumed: Vec<(String, usize, usize, bool)>,
    kept: Vec<String>,
    dropped: Vec<String>,
}

impl Observer for Events {
    fn connection_lost(&mut self, m: &Migration, what: &Recovery) {
        self.lost.push((m.revision.clone(), what.clone()));
    }
    fn resuming(&mut self, m: &Migration, done: usize, total: usize, unknown: bool) {
        self.resumed
            .push((m.revision.clone(), done, total, unknown));
    }
    fn in_doubt_statement_done(&mut self, _m: &Migration, index: usize, why: &str) {
        self.kept.push(format!("{index}: {why}"));
    }
    fn invalid_index_dropped(&mut self, _m: &Migration, index: &str) {
        self.dropped.push(index.to_owned());
    }
}

fn options(reconnect: Option<&ConnConfig>) -> RunnerOptions {
    RunnerOptions {
        database: reconnect.cloned(),
        reconnect_for: Duration::from_secs(10),
        ..Default::default()
    }
}

fn upgrade(
    cfg: &ConnConfig,
    graph: &RevisionGraph,
    reconnect: bool,
    events: &mut Events,
) -> Result<usize, MigrateError> {
    let mut client = retort_pg::connect(cfg).unwrap();
    let options = options(reconnect.then_some(cfg));
    MigrationRunner::new(&mut client, graph, options, events)
        .upgrade(&Target::Heads)
        .map(|r| r.plan.steps.len())
}

/// `up` history rows per revision, and the `applied` log, both sorted.
fn history_and_log(client: &mut Client) -> (Vec<String>, Vec<String>) {
    let col = |client: &mut Client, sql: &str| -> Vec<String> {
        client
            .query(sql, &[])
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect()
    };
    let history = col(
        client,
        "SELECT revision FROM retort.history WHERE direction = 'up' ORDER BY revision",
    );
    let log = col(client, "SELECT revision FROM applied ORDER BY 1");
    (history, log)
}

fn once_each() -> (Vec<String>, Vec<String>) {
    (
        vec![A.into(), B.into(), C.into()],
        vec!["a".into(), "b".into(), "c".into()],
    )
}

#[test]
fn a_cut_before_commit_applies_nothing_and_a_rerun_applies_it_once() {
    let c = cluster();
    let (proxy, cfg, mut check) = through_proxy(&c, "cut_before");
    let files = Files::new();
    let graph = chain(&files);
    proxy.arm(Fault::new(
        Trigger::Contains("CREATE TABLE b_table".into()),
        FaultAction::Cut,
    ));
    let mut events = Events::default();
    let err = upgrade(&cfg, &graph, false, &mut events).unwrap_err();
    assert!(proxy.stats().fired);
    match &err {
        MigrateError::ConnectionLost {
            revision,
            applied,
            total,
            reconnect,
            ..
        } => {
            assert_eq!((revision.as_str(), *applied, *total), (B, 1, 3));
            assert!(reconnect.is_none());
        }
        other => panic!("expected ConnectionLost, got {other}"),
    }
    assert!(err.hint().unwrap().contains("Run the same command again"));
    // Nothing of B: the version table, history and schema are at A.
    assert_eq!(version_rows(&mut check), vec![A.to_owned()]);
    assert_eq!(
        history_and_log(&mut check),
        (vec![A.to_owned()], vec!["a".to_owned()])
    );
    assert!(support::tables(&mut check).iter().all(|t| t != "b_table"));

    // The rerun (the fault fired once; the proxy forwards everything now) applies B and C once.
    assert_eq!(upgrade(&cfg, &graph, false, &mut events).unwrap(), 2);
    assert_eq!(version_rows(&mut check), vec![C.to_owned()]);
    assert_eq!(history_and_log(&mut check), once_each());
}

#[test]
fn a_cut_before_commit_is_retried_in_the_same_run_after_reconnecting() {
    let c = cluster();
    let (proxy, cfg, mut check) = through_proxy(&c, "cut_retry");
    let files = Files::new();
    let graph = chain(&files);
    proxy.arm(Fault::new(
        Trigger::Contains("CREATE TABLE b_table".into()),
        FaultAction::Cut,
    ));
    let mut events = Events::default();
    assert_eq!(upgrade(&cfg, &graph, true, &mut events).unwrap(), 3);
    assert_eq!(events.lost, vec![(B.to_owned(), Recovery::RolledBack)]);
    assert_eq!(version_rows(&mut check), vec![C.to_owned()]);
    assert_eq!(history_and_log(&mut check), once_each());
}

#[test]
fn a_lost_commit_answer_is_read_back_from_the_version_table_and_not_run_twice() {
    let c = cluster();
    let (proxy, cfg, mut check) = through_proxy(&c, "lost_answer");
    let files = Files::new();
    let graph = chain(&files);

    // With a way to reconnect: the run learns that B committed and goes on with C.
    proxy.arm(Fault::new(
        Trigger::Contains("CREATE TABLE b_table".into()),
        FaultAction::LoseAnswer,
    ));
    let mut events = Events::default();
    assert_eq!(upgrade(&cfg, &graph, true, &mut events).unwrap(), 3);
    assert!(proxy.stats().fired);
    assert_eq!(events.lost, vec![(B.to_owned(), Recovery::Committed)]);
    assert_eq!(version_rows(&mut check), vec![C.to_owned()]);
    assert_eq!(history_and_log(&mut check), once_each());

    // Without one: the run stops, says it does not know, and does not call B rolled back; the
    // database has B (the server committed it); the rerun goes on from there.
    let (proxy, cfg, mut check) = through_proxy(&c, "lost_answer_rerun");
    proxy.arm(Fault::new(
        Trigger::Contains("CREATE TABLE b_table".into()),
        FaultAction::LoseAnswer,
    ));
    let err = upgrade(&cfg, &graph, false, &mut Events::default()).unwrap_err();
    assert!(
        matches!(&err, MigrateError::ConnectionLost { revision, applied: 1, .. } if revision == B),
        "{err}"
    );
    assert!(
        !err.to_string().contains("rolled back"),
        "a lost answer is not a rollback: {err}"
    );
    assert_eq!(version_rows(&mut check), vec![B.to_owned()]);
    assert_eq!(
        upgrade(&cfg, &graph, false, &mut Events::default()).unwrap(),
        1
    );
    assert_eq!(history_and_log(&mut check), once_each());
}

#[test]
fn a_stall_delays_the_run_and_changes_nothing_else() {
    let c = cluster();
    let (proxy, cfg, mut check) = through_proxy(&c, "stall");
    let files = Files::new();
    let graph = chain(&files);
    proxy.arm(Fault::new(
        Trigger::Contains("CREATE TABLE b_table".into()),
        FaultAction::Stall(Duration::from_millis(1500)),
    ));
    let began = std::time::Instant::now();
    let mut events = Events::default();
    assert_eq!(upgrade(&cfg, &graph, true, &mut events).unwrap(), 3);
    assert!(began.elapsed() >= Duration::from_millis(1500));
    assert!(events.lost.is_empty());
    assert_eq!(history_and_log(&mut check), once_each());
}

/// A `transaction off` migration building three indexes concurrently; the second is slow
/// (an expression that sleeps 10 ms a row over 200 rows: about 2 s).
fn concurrent_chain(files: &Files, check: &mut Client) -> RevisionGraph {
    check
        .batch_execute(
            "CREATE FUNCTION slow(int) RETURNS int IMMUTABLE LANGUAGE sql AS \
             'SELECT $1 FROM pg_sleep(0.01)';\n\
             CREATE TABLE t AS SELECT g AS a, g AS b, g AS c FROM generate_series(1, 200) g;",
        )
        .unwrap();
    files.add_with(
        A,
        &[],
        "-- retort:transaction off\n",
        "CREATE INDEX CONCURRENTLY t_a ON t (a);\n\
         CREATE INDEX CONCURRENTLY t_b ON t (slow(b));\n\
         CREATE INDEX CONCURRENTLY t_c ON t (c);",
        None,
    );
    files.graph()
}

/// Indexes on `t`: name and whether valid.
fn indexes(check: &mut Client) -> Vec<(String, bool)> {
    check
        .query(
            "SELECT c.relname::text, i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid \
             WHERE i.indrelid = 't'::regclass ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

#[test]
fn a_concurrent_build_cut_mid_way_is_repaired_not_duplicated() {
    let c = cluster();
    let (proxy, cfg, mut check) = through_proxy(&c, "cut_concurrently");
    let files = Files::new();
    let graph = concurrent_chain(&files, &mut check);
    // The connection dies 300 ms into the 2 s build of t_b: the server notices within a second
    // (client_connection_check_interval) and aborts it, leaving t_b INVALID.
    proxy.arm(Fault::new(
        Trigger::Contains("CREATE INDEX CONCURRENTLY t_b".into()),
        FaultAction::CutAfter(Duration::from_millis(300)),
    ));
    let err = upgrade(&cfg, &graph, false, &mut Events::default()).unwrap_err();
    match &err {
        MigrateError::ConnectionLost { statements, .. } => {
            assert_eq!(*statements, Some((1, 3)), "t_a is known done: {err}");
        }
        other => panic!("expected ConnectionLost, got {other}"),
    }
    // Wait until the server has aborted the build (the old backend is gone).
    let gone = (0..100).any(|_| {
        std::thread::sleep(Duration::from_millis(100));
        indexes(&mut check)
            .iter()
            .any(|(n, valid)| n == "t_b" && !valid)
            && check
                .query_one(
                    "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'retort migrate'",
                    &[],
                )
                .unwrap()
                .get::<_, i64>(0)
                == 0
    });
    assert!(gone, "t_b left INVALID: {:?}", indexes(&mut check));
    assert!(version_rows(&mut check).is_empty());

    // The rerun resumes at t_b (t_a is not built again), drops the INVALID t_b, rebuilds it.
    let mut events = Events::default();
    assert_eq!(upgrade(&cfg, &graph, false, &mut events).unwrap(), 1);
    assert_eq!(events.resumed, vec![(A.to_owned(), 1, 3, true)]);
    assert_eq!(events.dropped, vec!["t_b".to_owned()]);
    assert_eq!(
        indexes(&mut check),
        vec![
            ("t_a".to_owned(), true),
            ("t_b".to_owned(), true),
            ("t_c".to_owned(), true)
        ]
    );
    assert_eq!(version_rows(&mut check), vec![A.to_owned()]);
    let partial: i64 = check
        .query_one("SELECT count(*) FROM retort.partial", &[])
        .unwrap()
        .get(0);
    assert_eq!(partial, 0, "the progress row goes with the bookkeeping");
}

#[test]
fn a_concurrent_build_whose_answer_was_lost_is_kept_not_rebuilt() {
    let c = cluster();
    let (proxy, cfg, mut check) = through_proxy(&c, "lost_concurrently");
    let files = Files::new();
    let graph = concurrent_chain(&files, &mut check);
    proxy.arm(Fault::new(
        Trigger::Contains("CREATE INDEX CONCURRENTLY t_b".into()),
        FaultAction::LoseAnswer,
    ));
    let mut events = Events::default();
    assert_eq!(upgrade(&cfg, &graph, true, &mut events).unwrap(), 1);
    assert_eq!(
        events.lost,
        vec![(A.to_owned(), Recovery::Partial { done: 1, total: 3 })]
    );
    assert_eq!(events.resumed, vec![(A.to_owned(), 1, 3, true)]);
    assert_eq!(
        events.kept,
        vec!["2: index t_b is built and valid: kept, not built again".to_owned()],
        "dropped {:?}",
        events.dropped
    );
    assert!(events.dropped.is_empty());
    assert_eq!(
        indexes(&mut check),
        vec![
            ("t_a".to_owned(), true),
            ("t_b".to_owned(), true),
            ("t_c".to_owned(), true)
        ]
    );
    let ups: i64 = check
        .query_one(
            "SELECT count(*) FROM retort.history WHERE direction = 'up'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(ups, 1);
}

#[test]
fn a_statement_in_doubt_that_already_ran_is_counted_done_on_the_rerun() {
    let c = cluster();
    let (proxy, cfg, mut check) = through_proxy(&c, "in_doubt");
    let files = Files::new();
    files.add_with(
        A,
        &[],
        "-- retort:transaction off\n",
        "CREATE TABLE u (id int);\nCREATE INDEX CONCURRENTLY u_id ON u (id);",
        None,
    );
    let graph = files.graph();
    // The server creates u; the client never hears of it.
    proxy.arm(Fault::new(
        Trigger::Contains("CREATE TABLE u".into()),
        FaultAction::LoseAnswer,
    ));
    let err = upgrade(&cfg, &graph, false, &mut Events::default()).unwrap_err();
    assert!(
        matches!(
            err,
            MigrateError::ConnectionLost {
                statements: Some((0, 2)),
                ..
            }
        ),
        "{err}"
    );
    let mut events = Events::default();
    assert_eq!(upgrade(&cfg, &graph, false, &mut events).unwrap(), 1);
    assert_eq!(events.resumed, vec![(A.to_owned(), 0, 2, true)]);
    assert_eq!(events.kept.len(), 1, "{:?}", events.kept);
    assert!(
        events.kept[0].starts_with("1: it now fails because what it creates exists"),
        "{:?}",
        events.kept
    );
    assert_eq!(version_rows(&mut check), vec![A.to_owned()]);
    let n: i64 = check
        .query_one(
            "SELECT count(*) FROM pg_index WHERE indrelid = 'u'::regclass AND indisvalid",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(n, 1);
}

#[test]
fn a_cut_before_the_first_migration_is_retried_from_the_version_table() {
    let c = cluster();
    let (proxy, cfg, mut check) = through_proxy(&c, "cut_at_lock");
    let files = Files::new();
    let graph = chain(&files);
    // The connection goes while the run takes its lock: nothing is in doubt yet.
    proxy.arm(Fault::new(
        Trigger::Contains("pg_try_advisory_lock".into()),
        FaultAction::Cut,
    ));
    let mut events = Events::default();
    assert_eq!(upgrade(&cfg, &graph, true, &mut events).unwrap(), 3);
    assert!(proxy.stats().fired);
    assert!(events.lost.is_empty(), "no migration was in flight");
    assert_eq!(version_rows(&mut check), vec![C.to_owned()]);
    assert_eq!(history_and_log(&mut check), once_each());
    // Without a way to reconnect the same cut is an error, and nothing ran.
    let (proxy, cfg, mut check) = through_proxy(&c, "cut_at_lock_plain");
    proxy.arm(Fault::new(
        Trigger::Contains("pg_try_advisory_lock".into()),
        FaultAction::Cut,
    ));
    let err = upgrade(&cfg, &graph, false, &mut Events::default()).unwrap_err();
    assert!(err.is_connection_lost(), "{err}");
    let tables: i64 = check
        .query_one(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(tables, 0);
}
