//! The runner against real PostgreSQL: transactions, failures, checksums, locks, offline scripts.

mod support;

use std::process::Command;
use std::time::Duration;

use retort_migrate::{
    render_script, Blocker, MigrateError, Migration, MigrationRunner, Observer, RunnerOptions,
    Silent, Target,
};
use support::{cluster, database, schema_dump, tables, version_rows, Files};

const A: &str = "aaaaaaaaaaa1";
const B: &str = "bbbbbbbbbbb2";
const C: &str = "ccccccccccc3";
const D: &str = "ddddddddddd4";

fn runner<'a>(
    client: &'a mut retort_pg::Client,
    graph: &'a retort_migrate::RevisionGraph,
    silent: &'a mut Silent,
) -> MigrationRunner<'a> {
    MigrationRunner::new(client, graph, RunnerOptions::default(), silent)
}

#[test]
fn linear_upgrade_downgrade_and_history() {
    let c = cluster();
    let (_, mut client) = database(&c, "linear");
    let files = Files::new();
    files.add(
        A,
        &[],
        "CREATE TABLE users (id bigint PRIMARY KEY, name text NOT NULL);",
        Some("DROP TABLE users;"),
    );
    // A function body full of semicolons, an E'' string and a quoted identifier with a semicolon.
    files.add(
        B,
        &[A],
        "CREATE FUNCTION greet(n text) RETURNS text LANGUAGE plpgsql AS $body$\n\
         BEGIN\n  RETURN 'hello; ' || n;\nEND;\n$body$;\n\
         CREATE TABLE \"odd;name\" (v text DEFAULT E'a\\';b');\n",
        Some("DROP TABLE \"odd;name\";\nDROP FUNCTION greet(text);"),
    );
    files.add(
        C,
        &[B],
        "ALTER TABLE users ADD COLUMN email text;",
        Some("ALTER TABLE users DROP COLUMN email;"),
    );
    let graph = files.graph();
    let mut silent = Silent;
    let mut r = runner(&mut client, &graph, &mut silent);
    assert!(!r.current().unwrap().stored.initialized);
    let report = r.upgrade(&Target::Heads).unwrap();
    assert_eq!(report.plan.steps.len(), 3);
    assert_eq!(report.durations.len(), 3);
    drop(r);
    assert_eq!(version_rows(&mut client), [C]);
    assert_eq!(tables(&mut client), ["odd;name", "users"]);
    let greeting: String = client.query_one("SELECT greet('x')", &[]).unwrap().get(0);
    assert_eq!(greeting, "hello; x");
    let default: String = client
        .query_one("INSERT INTO \"odd;name\" DEFAULT VALUES RETURNING v", &[])
        .unwrap()
        .get(0);
    assert_eq!(default, "a';b");

    // A second upgrade is a no-op.
    let mut r = runner(&mut client, &graph, &mut silent);
    assert!(r.upgrade(&Target::Heads).unwrap().plan.steps.is_empty());
    r.downgrade(&Target::Relative(-1)).unwrap();
    drop(r);
    assert_eq!(version_rows(&mut client), [B]);
    let mut r = runner(&mut client, &graph, &mut silent);
    r.downgrade(&Target::Base).unwrap();
    drop(r);
    assert!(version_rows(&mut client).is_empty());
    assert!(tables(&mut client).is_empty());

    let history: Vec<(String, String, Option<String>, String)> = client
        .query(
            "SELECT revision, direction, checksum, applied_by FROM retort.history ORDER BY id",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect();
    let summary: Vec<(&str, &str)> = history
        .iter()
        .map(|h| (h.0.as_str(), h.1.as_str()))
        .collect();
    assert_eq!(
        summary,
        [
            (A, "up"),
            (B, "up"),
            (C, "up"),
            (C, "down"),
            (B, "down"),
            (A, "down")
        ]
    );
    assert_eq!(
        history[0].2.as_deref(),
        Some(graph.get(A).unwrap().checksum().as_str())
    );
    assert_eq!(history[3].2, None);
    assert!(history.iter().all(|h| h.3 == "postgres"));
}

#[test]
fn a_failing_statement_rolls_back_its_migration_only() {
    let c = cluster();
    let (_, mut client) = database(&c, "failing");
    let files = Files::new();
    files.add(
        A,
        &[],
        "CREATE TABLE kept (id int);",
        Some("DROP TABLE kept;"),
    );
    let path = files.add(
        B,
        &[A],
        "CREATE TABLE one (id int);\nCREATE TABLE two (id int);\nINSERT INTO two\n  VALUES ('not a number');\nCREATE TABLE four (id int);\nCREATE TABLE five (id int);\n",
        None,
    );
    let graph = files.graph();
    let mut silent = Silent;
    let err = runner(&mut client, &graph, &mut silent)
        .upgrade(&Target::Heads)
        .unwrap_err();
    let MigrateError::Statement(f) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(f.at.file, path);
    assert_eq!(f.at.line, 8, "the INSERT starts on line 8 of the file");
    assert_eq!((f.index, f.count), (3, 5));
    assert_eq!(f.revision, B);
    assert!(f.statement.starts_with("INSERT INTO two"));
    assert_eq!(f.source.sqlstate(), Some("22P02"));
    assert!(
        err.to_string()
            .contains("invalid input syntax for type integer"),
        "{err}"
    );
    assert!(err.hint().unwrap().contains("rolled back"));
    assert_eq!(tables(&mut client), ["kept"]);
    assert_eq!(version_rows(&mut client), [A]);
    // The lock was released: another run can start at once.
    let got: bool = client
        .query_one(
            "SELECT pg_try_advisory_lock($1)",
            &[&retort_migrate::VersionStore::new("retort").lock_key()],
        )
        .unwrap()
        .get(0);
    assert!(got);
}

#[test]
fn edited_applied_migrations_are_refused_until_repaired() {
    let c = cluster();
    let (_, mut client) = database(&c, "edited");
    let files = Files::new();
    let path = files.add(A, &[], "CREATE TABLE t (id int);", Some("DROP TABLE t;"));
    let mut silent = Silent;
    let graph = files.graph();
    runner(&mut client, &graph, &mut silent)
        .upgrade(&Target::Heads)
        .unwrap();

    // CRLF line endings alone are not an edit.
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replace('\n', "\r\n")).unwrap();
    files.add(B, &[A], "CREATE TABLE u (id int);", None);
    let graph = files.graph();
    runner(&mut client, &graph, &mut silent)
        .upgrade(&Target::Heads)
        .unwrap();

    std::fs::write(&path, text.replace("(id int)", "(id bigint)")).unwrap();
    files.add(C, &[B], "CREATE TABLE v (id int);", None);
    let graph = files.graph();
    let err = runner(&mut client, &graph, &mut silent)
        .upgrade(&Target::Heads)
        .unwrap_err();
    let MigrateError::ChecksumMismatch { edited } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(edited.len(), 1);
    assert_eq!(edited[0].revision, A);
    assert_eq!(edited[0].file, path);
    assert_ne!(edited[0].applied, edited[0].now);
    assert!(err.hint().unwrap().contains(&format!("retort repair {A}")));
    assert_eq!(version_rows(&mut client), [B], "nothing ran");

    let repaired = runner(&mut client, &graph, &mut silent)
        .repair(&[A[..6].to_owned()])
        .unwrap();
    assert_eq!(repaired[0].new, graph.get(A).unwrap().checksum());
    assert_eq!(repaired[0].old.as_deref(), Some(edited[0].applied.as_str()));
    runner(&mut client, &graph, &mut silent)
        .upgrade(&Target::Heads)
        .unwrap();
    assert_eq!(version_rows(&mut client), [C]);
    assert_eq!(
        tables(&mut client),
        ["t", "u", "v"],
        "repair ran no migration SQL"
    );
    let err = runner(&mut client, &graph, &mut silent)
        .repair(&["eeeeeeeeeee5".into()])
        .unwrap_err();
    assert!(err.to_string().contains("no revision"), "{err}");
}

#[test]
fn a_downgrade_without_down_sections_changes_nothing() {
    let c = cluster();
    let (_, mut client) = database(&c, "nodown");
    let files = Files::new();
    files.add(A, &[], "CREATE TABLE a (id int);", Some("DROP TABLE a;"));
    let no_down = files.add(B, &[A], "CREATE TABLE b (id int);", None);
    files.add(C, &[B], "CREATE TABLE c (id int);", Some("DROP TABLE c;"));
    let graph = files.graph();
    let mut silent = Silent;
    runner(&mut client, &graph, &mut silent)
        .upgrade(&Target::Heads)
        .unwrap();
    let err = runner(&mut client, &graph, &mut silent)
        .downgrade(&Target::Base)
        .unwrap_err();
    let MigrateError::NoDown { files: missing } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(missing, std::slice::from_ref(&no_down));
    assert!(err.to_string().contains(&no_down.display().to_string()));
    assert_eq!(
        tables(&mut client),
        ["a", "b", "c"],
        "c was not dropped either"
    );
    assert_eq!(version_rows(&mut client), [C]);
    // Above the revision without down, downgrading works.
    runner(&mut client, &graph, &mut silent)
        .downgrade(&Target::Named(B.into()))
        .unwrap();
    assert_eq!(tables(&mut client), ["a", "b"]);
}

#[test]
fn non_transactional_migrations_run_outside_a_transaction_and_record_failures_truthfully() {
    let c = cluster();
    let (_, mut client) = database(&c, "nontx");
    let files = Files::new();
    files.add(
        A,
        &[],
        "CREATE TABLE t (id int, v text);",
        Some("DROP TABLE t;"),
    );
    files.add_with(
        B,
        &[A],
        "-- retort:transaction off\n",
        "CREATE INDEX CONCURRENTLY t_id_idx ON t (id);\n",
        Some("DROP INDEX CONCURRENTLY t_id_idx;"),
    );
    let bad = files.add_with(
        C,
        &[B],
        "-- retort:transaction off\n",
        "CREATE INDEX CONCURRENTLY t_v_idx ON t (v);\nCREATE INDEX CONCURRENTLY t_w_idx ON t (w);\nCREATE TABLE never (id int);\n",
        None,
    );
    struct Warned(Vec<String>);
    impl Observer for Warned {
        fn non_transactional(&mut self, m: &retort_migrate::Migration) {
            self.0.push(m.revision.clone());
        }
    }
    let graph = files.graph();
    let mut warned = Warned(Vec::new());
    let err = MigrationRunner::new(&mut client, &graph, RunnerOptions::default(), &mut warned)
        .upgrade(&Target::Heads)
        .unwrap_err();
    assert_eq!(warned.0, [B, C]);
    let MigrateError::Statement(f) = &err else {
        panic!("{err:?}")
    };
    assert!(f.non_transactional);
    assert_eq!((f.index, f.count, f.at.line), (2, 3, 8));
    assert_eq!(f.at.file, bad);
    assert!(err.hint().unwrap().contains("OUTSIDE A TRANSACTION"));
    // B completed and is recorded; C's first statement stayed; C is not recorded.
    assert_eq!(version_rows(&mut client), [B]);
    let indexes: Vec<String> = client
        .query(
            "SELECT indexname::text FROM pg_indexes WHERE tablename = 't' ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(indexes, ["t_id_idx", "t_v_idx"]);
    assert_eq!(tables(&mut client), ["t"]);
    let failed: Vec<(String, String)> = client
        .query(
            "SELECT revision, note FROM retort.history WHERE direction = 'failed'",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].0, C);
    assert!(
        failed[0].1.contains("statement 2 of 3") && failed[0].1.contains("stayed applied"),
        "{}",
        failed[0].1
    );

    // A CREATE INDEX CONCURRENTLY in a transactional migration gets a hint naming the fix.
    let files = Files::new();
    files.add(
        A,
        &[],
        "CREATE TABLE t (id int);\nCREATE INDEX CONCURRENTLY t_i ON t (id);",
        None,
    );
    let graph = files.graph();
    let (_, mut client) = database(&c, "nontx2");
    let err = runner(&mut client, &graph, &mut Silent)
        .upgrade(&Target::Heads)
        .unwrap_err();
    assert!(
        err.hint().unwrap().contains("-- retort:transaction off"),
        "{:?}",
        err.hint()
    );
    assert!(tables(&mut client).is_empty());
}

#[test]
fn transaction_control_and_unterminated_quotes_are_refused_before_anything_runs() {
    let c = cluster();
    let (_, mut client) = database(&c, "control");
    let files = Files::new();
    files.add(A, &[], "CREATE TABLE a (id int);", None);
    let path = files.add(
        B,
        &[A],
        "CREATE TABLE b (id int);\nCOMMIT;\nCREATE TABLE c (id int);",
        None,
    );
    let graph = files.graph();
    let err = runner(&mut client, &graph, &mut Silent)
        .upgrade(&Target::Heads)
        .unwrap_err();
    let MigrateError::Parse { at, message } = &err else {
        panic!("{err:?}")
    };
    assert_eq!((at.file.clone(), at.line), (path, 7));
    assert!(message.contains("COMMIT"), "{message}");
    assert!(tables(&mut client).is_empty(), "not even A ran");

    let files = Files::new();
    let path = files.add(A, &[], "CREATE TABLE a (v text DEFAULT 'oops);", None);
    let graph = files.graph();
    let err = runner(&mut client, &graph, &mut Silent)
        .upgrade(&Target::Heads)
        .unwrap_err();
    let MigrateError::Parse { at, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!((at.file.clone(), at.line), (path, 5));
}

#[test]
fn a_second_runner_waits_for_the_lock_and_names_the_holder() {
    let c = cluster();
    let (url, mut client) = database(&c, "locked");
    let files = Files::new();
    files.add(A, &[], "CREATE TABLE a (id int);", None);
    let graph = files.graph();
    let mut holder = retort_pg::connect(&retort_pg::ConnConfig::parse(&url).unwrap()).unwrap();
    holder
        .batch_execute("SET application_name = 'busy deploy'")
        .unwrap();
    let key = retort_migrate::VersionStore::new("retort").lock_key();
    holder
        .query_one("SELECT pg_advisory_lock($1)", &[&key])
        .unwrap();
    let holder_pid: i32 = holder
        .query_one("SELECT pg_backend_pid()", &[])
        .unwrap()
        .get(0);

    struct Waiting(Vec<String>);
    impl Observer for Waiting {
        fn waiting_for_lock(&mut self, holder: &str) {
            self.0.push(holder.to_owned());
        }
    }
    let mut waiting = Waiting(Vec::new());
    let options = RunnerOptions {
        lock_wait: Duration::from_millis(300),
        ..RunnerOptions::default()
    };
    let err = MigrationRunner::new(&mut client, &graph, options.clone(), &mut waiting)
        .upgrade(&Target::Heads)
        .unwrap_err();
    let MigrateError::LockTimeout {
        holder: who,
        waited_ms,
        ..
    } = &err
    else {
        panic!("{err:?}")
    };
    assert!(
        who.contains(&format!("pid {holder_pid}")) && who.contains("busy deploy"),
        "{who}"
    );
    assert!(*waited_ms >= 300);
    assert_eq!(waiting.0.len(), 1);
    assert!(tables(&mut client).is_empty());

    // Released while we wait: the run proceeds.
    let release = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(200));
        holder
            .query_one("SELECT pg_advisory_unlock($1)", &[&key])
            .unwrap();
        holder
    });
    let options = RunnerOptions {
        lock_wait: Duration::from_secs(10),
        ..RunnerOptions::default()
    };
    MigrationRunner::new(&mut client, &graph, options, &mut Silent)
        .upgrade(&Target::Heads)
        .unwrap();
    release.join().unwrap();
    assert_eq!(tables(&mut client), ["a"]);
}

#[test]
fn offline_scripts_give_the_same_schema_as_online_runs() {
    let c = cluster();
    let (online_url, mut online) = database(&c, "online");
    let (offline_url, mut offline) = database(&c, "offline");
    let files = Files::new();
    files.add(A, &[], "CREATE TYPE mood AS ENUM ('sad', 'ok');\nCREATE TABLE people (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, m mood);", Some("DROP TABLE people;\nDROP TYPE mood;"));
    files.add(B, &[A], "CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$ SELECT 1; $$;\nCREATE VIEW v AS SELECT id, f() AS one FROM people;", Some("DROP VIEW v;\nDROP FUNCTION f();"));
    files.add_with(
        C,
        &[B],
        "-- retort:transaction off\n",
        "CREATE INDEX CONCURRENTLY people_m ON people (m);",
        Some("DROP INDEX CONCURRENTLY people_m;"),
    );
    files.add(
        D,
        &[C],
        "COMMENT ON TABLE people IS 'it''s people';",
        Some("COMMENT ON TABLE people IS NULL;"),
    );
    let graph = files.graph();
    let options = RunnerOptions::default();

    MigrationRunner::new(&mut online, &graph, options.clone(), &mut Silent)
        .upgrade(&Target::Heads)
        .unwrap();
    let plan = graph
        .plan_upgrade(&graph.empty_state(), &Target::Heads)
        .unwrap();
    let script = render_script(&graph, &plan, &options).unwrap();
    assert!(script.contains("WARNING: this migration runs outside a transaction"));
    let psql = |url: &str, script: &str| {
        let path = files.path().join("script.sql.out");
        std::fs::write(&path, script).unwrap();
        let out = Command::new(c.binaries().program("psql"))
            .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-f"])
            .arg(&path)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "psql failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    psql(&offline_url, &script);
    assert_eq!(version_rows(&mut offline), version_rows(&mut online));
    assert_eq!(schema_dump(&c, &offline_url), schema_dump(&c, &online_url));
    // The offline database is a normal retort database afterwards: nothing left to do.
    let next = MigrationRunner::new(&mut offline, &graph, options.clone(), &mut Silent)
        .plan_upgrade(&Target::Heads)
        .unwrap();
    assert!(next.steps.is_empty());
    let count: i64 = offline
        .query_one(
            "SELECT count(*) FROM retort.history WHERE note = 'offline script'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(count, 4);

    // Down as a script, from the offline state to A, matches an online downgrade.
    let state = graph.state_from_heads(&[D]).unwrap();
    let plan = graph
        .plan_downgrade(&state, &Target::Named(A.into()))
        .unwrap();
    psql(
        &offline_url,
        &render_script(&graph, &plan, &options).unwrap(),
    );
    MigrationRunner::new(&mut online, &graph, options, &mut Silent)
        .downgrade(&Target::Named(A.into()))
        .unwrap();
    assert_eq!(version_rows(&mut offline), [A]);
    assert_eq!(schema_dump(&c, &offline_url), schema_dump(&c, &online_url));
}

#[test]
fn branches_merges_and_stamps_keep_the_version_table_like_alembic() {
    let c = cluster();
    let (_, mut client) = database(&c, "branches");
    let files = Files::new();
    let (base, a1, b1, merge) = (
        "f00000000000",
        "a00000000001",
        "b00000000001",
        "e00000000001",
    );
    files.add(
        base,
        &[],
        "CREATE TABLE base (id int);",
        Some("DROP TABLE base;"),
    );
    files.add_with(
        a1,
        &[base],
        "-- retort:branch-labels alpha\n",
        "CREATE TABLE a (id int);",
        Some("DROP TABLE a;"),
    );
    files.add(
        b1,
        &[base],
        "CREATE TABLE b (id int);",
        Some("DROP TABLE b;"),
    );
    files.add(
        merge,
        &[a1, b1],
        "CREATE TABLE m (id int);",
        Some("DROP TABLE m;"),
    );
    let graph = files.graph();
    runner(&mut client, &graph, &mut Silent)
        .upgrade(&Target::Named("alpha".into()))
        .unwrap();
    assert_eq!(version_rows(&mut client), [a1]);
    runner(&mut client, &graph, &mut Silent)
        .upgrade(&Target::Named(b1.into()))
        .unwrap();
    assert_eq!(version_rows(&mut client), [a1, b1]);
    runner(&mut client, &graph, &mut Silent)
        .upgrade(&Target::Heads)
        .unwrap();
    assert_eq!(version_rows(&mut client), [merge]);
    runner(&mut client, &graph, &mut Silent)
        .downgrade(&Target::Relative(-1))
        .unwrap();
    assert_eq!(version_rows(&mut client), [a1, b1]);
    runner(&mut client, &graph, &mut Silent)
        .downgrade(&Target::LabelBase("alpha".into()))
        .unwrap();
    assert_eq!(version_rows(&mut client), [b1]);
    assert_eq!(tables(&mut client), ["b", "base"]);
    let (from, to) = runner(&mut client, &graph, &mut Silent)
        .stamp(&[Target::Named(merge.into())])
        .unwrap();
    assert_eq!(
        (from, to.clone()),
        (vec![b1.to_string()], vec![merge.to_string()])
    );
    assert_eq!(version_rows(&mut client), [merge]);
    assert_eq!(tables(&mut client), ["b", "base"], "stamp runs no SQL");
    let stamped: i64 = client
        .query_one(
            "SELECT count(*) FROM retort.history WHERE direction = 'stamp'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(stamped, 2, "a1 and the merge were stamped as applied");
    // A version row the files do not know is an error, not a guess.
    client
        .batch_execute("INSERT INTO retort.version VALUES ('999999999999')")
        .unwrap();
    let err = runner(&mut client, &graph, &mut Silent)
        .upgrade(&Target::Heads)
        .unwrap_err();
    assert!(
        matches!(err, MigrateError::UnknownApplied { ref revision } if revision == "999999999999"),
        "{err:?}"
    );
}

#[test]
fn embedded_migrations_upgrade_at_start_up() {
    use retort_migrate::include_dir::{self, include_dir, Dir};
    static MIGRATIONS: Dir = include_dir!("$CARGO_MANIFEST_DIR/tests/fixtures/embedded");
    let graph = retort_migrate::from_embedded(&MIGRATIONS).unwrap();
    assert_eq!(graph.len(), 2);
    let c = cluster();
    let (_, mut client) = database(&c, "embedded");
    let report = retort_migrate::upgrade(&mut client, &graph, Target::Heads).unwrap();
    assert_eq!(report.plan.steps.len(), 2);
    assert_eq!(tables(&mut client), ["accounts"]);
    let cols: i64 = client
        .query_one("SELECT count(*) FROM pg_attribute WHERE attrelid = 'accounts'::regclass AND attnum > 0", &[])
        .unwrap()
        .get(0);
    assert_eq!(cols, 2);
}

#[test]
fn lock_and_statement_timeouts_apply_to_each_migration_and_end_with_it() {
    let c = cluster();
    let (url, mut client) = database(&c, "timeouts");
    client.batch_execute("CREATE TABLE busy (id int)").unwrap();
    let files = Files::new();
    // The first migration switches lock_timeout off for its session (as a backfill might); the
    // run's timeout still holds for the next one, which is applied inside its own transaction.
    files.add(
        D,
        &[],
        "SET lock_timeout = 0;\nCREATE TABLE first (id int);",
        None,
    );
    files.add(A, &[D], "ALTER TABLE busy ADD COLUMN v text;", None);
    let graph = files.graph();
    // Another session holds a lock the second migration needs.
    let mut other = retort_pg::connect(&retort_pg::ConnConfig::parse(&url).unwrap()).unwrap();
    other
        .batch_execute("BEGIN; LOCK TABLE busy IN ACCESS SHARE MODE")
        .unwrap();
    let options = RunnerOptions {
        lock_timeout: Some(Duration::from_millis(200)),
        lock_retries: 0,
        ..RunnerOptions::default()
    };
    let started = std::time::Instant::now();
    let err = MigrationRunner::new(&mut client, &graph, options, &mut Silent)
        .upgrade(&Target::Heads)
        .unwrap_err();
    let MigrateError::Statement(f) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(f.source.sqlstate(), Some("55P03"), "lock_not_available");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(tables(&mut client).contains(&"first".to_owned()));
    other.batch_execute("ROLLBACK").unwrap();

    let files = Files::new();
    files.add(
        B,
        &[],
        "CREATE TABLE slow (id int);\nSELECT pg_sleep(5);",
        None,
    );
    let graph = files.graph();
    let options = RunnerOptions {
        statement_timeout: Some(Duration::from_millis(200)),
        ..RunnerOptions::default()
    };
    let (_, mut client) = database(&c, "timeouts2");
    let err = MigrationRunner::new(&mut client, &graph, options, &mut Silent)
        .upgrade(&Target::Heads)
        .unwrap_err();
    let MigrateError::Statement(f) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(f.source.sqlstate(), Some("57014"), "query_canceled");
    assert!(tables(&mut client).is_empty());
    // The timeouts end with each migration's transaction, on failure and on success alike.
    let show = |client: &mut retort_pg::Client, what: &str| -> String {
        client
            .query_one(&format!("SHOW {what}"), &[])
            .unwrap()
            .get(0)
    };
    assert_eq!(show(&mut client, "statement_timeout"), "0");
    assert_eq!(show(&mut client, "lock_timeout"), "0");
    let files = Files::new();
    files.add(C, &[], "CREATE TABLE quick (id int);", None);
    let graph = files.graph();
    let options = RunnerOptions {
        lock_timeout: Some(Duration::from_millis(300)),
        statement_timeout: Some(Duration::from_millis(4000)),
        ..RunnerOptions::default()
    };
    MigrationRunner::new(&mut client, &graph, options, &mut Silent)
        .upgrade(&Target::Heads)
        .unwrap();
    assert_eq!(tables(&mut client), vec!["quick".to_owned()]);
    assert_eq!(show(&mut client, "statement_timeout"), "0");
    assert_eq!(show(&mut client, "lock_timeout"), "0");
}

/// Records lock-timeout retries and repaired indexes.
#[derive(Default)]
struct Retries {
    retries: Vec<(u32, Duration, Vec<Blocker>)>,
    dropped: Vec<String>,
}

impl Observer for Retries {
    fn lock_retry(
        &mut self,
        _m: &Migration,
        attempt: u32,
        _retries: u32,
        wait: Duration,
        blockers: &[Blocker],
    ) {
        self.retries.push((attempt, wait, blockers.to_vec()));
    }
    fn invalid_index_dropped(&mut self, _m: &Migration, index: &str) {
        self.dropped.push(index.to_owned());
    }
}

fn history_count(client: &mut retort_pg::Client, revision: &str) -> i64 {
    client
        .query_one(
            "SELECT count(*) FROM retort.history WHERE revision = $1 AND direction = 'up'",
            &[&revision],
        )
        .unwrap()
        .get(0)
}

#[test]
fn a_lock_timeout_is_retried_naming_the_blocker_until_the_writer_commits() {
    let c = cluster();
    let (url, mut client) = database(&c, "retries");
    client.batch_execute("CREATE TABLE busy (id int)").unwrap();
    let files = Files::new();
    files.add(A, &[], "ALTER TABLE busy ADD COLUMN v text;", None);
    let graph = files.graph();
    // A writer in an open transaction holds a lock ALTER TABLE must wait for.
    let mut writer = retort_pg::connect(&retort_pg::ConnConfig::parse(&url).unwrap()).unwrap();
    let writer_pid: i32 = writer
        .query_one("SELECT pg_backend_pid()", &[])
        .unwrap()
        .get(0);
    writer
        .batch_execute("SET application_name = 'the writer'; BEGIN; INSERT INTO busy VALUES (1)")
        .unwrap();
    let options = RunnerOptions {
        lock_timeout: Some(Duration::from_millis(300)),
        lock_retries: 5,
        retry_backoff: Duration::from_millis(200),
        database: Some(retort_pg::ConnConfig::parse(&url).unwrap()),
        ..RunnerOptions::default()
    };
    let committer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(1200));
        writer.batch_execute("COMMIT").unwrap();
    });
    let mut seen = Retries::default();
    let started = std::time::Instant::now();
    MigrationRunner::new(&mut client, &graph, options, &mut seen)
        .upgrade(&Target::Heads)
        .unwrap();
    committer.join().unwrap();
    assert!(started.elapsed() >= Duration::from_millis(1200));
    assert!(!seen.retries.is_empty(), "it waited, so it retried");
    let (attempt, wait, blockers) = &seen.retries[0];
    assert_eq!(*attempt, 1);
    assert!(*wait >= Duration::from_millis(100) && *wait <= Duration::from_millis(300));
    assert_eq!(blockers.len(), 1, "{blockers:?}");
    assert_eq!(blockers[0].pid, writer_pid);
    assert_eq!(blockers[0].application_name, "the writer");
    assert!(
        blockers[0].query.contains("INSERT INTO busy"),
        "{:?}",
        blockers[0]
    );
    // Applied once, in the end.
    assert_eq!(history_count(&mut client, A), 1);
    let cols: i64 = client
        .query_one(
            "SELECT count(*) FROM information_schema.columns WHERE table_name = 'busy' AND column_name = 'v'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(cols, 1);
}

#[test]
fn after_the_last_retry_the_error_names_the_blocker_and_nothing_is_applied() {
    let c = cluster();
    let (url, mut client) = database(&c, "retries_out");
    client.batch_execute("CREATE TABLE busy (id int)").unwrap();
    let files = Files::new();
    files.add(
        A,
        &[],
        "CREATE TABLE side (id int);\nALTER TABLE busy ADD COLUMN v text;",
        None,
    );
    let graph = files.graph();
    let mut writer = retort_pg::connect(&retort_pg::ConnConfig::parse(&url).unwrap()).unwrap();
    writer
        .batch_execute(
            "SET application_name = 'long report'; BEGIN; LOCK TABLE busy IN ACCESS SHARE MODE",
        )
        .unwrap();
    let options = RunnerOptions {
        lock_timeout: Some(Duration::from_millis(200)),
        lock_retries: 2,
        retry_backoff: Duration::from_millis(50),
        database: Some(retort_pg::ConnConfig::parse(&url).unwrap()),
        ..RunnerOptions::default()
    };
    let mut seen = Retries::default();
    let err = MigrationRunner::new(&mut client, &graph, options, &mut seen)
        .upgrade(&Target::Heads)
        .unwrap_err();
    let MigrateError::Statement(f) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(f.source.sqlstate(), Some("55P03"));
    assert_eq!(f.attempts, 3);
    assert_eq!(seen.retries.len(), 2);
    assert_eq!(f.blockers.len(), 1, "{:?}", f.blockers);
    let text = err.to_string();
    assert!(
        text.contains("after 3 tries") && text.contains("long report"),
        "{text}"
    );
    assert!(
        !tables(&mut client).contains(&"side".to_owned()),
        "rolled back whole"
    );
    assert_eq!(history_count(&mut client, A), 0);
    writer.batch_execute("ROLLBACK").unwrap();
    // Without a watch connection the retries still happen, the blockers are just unknown.
    let options = RunnerOptions {
        lock_timeout: Some(Duration::from_millis(100)),
        lock_retries: 1,
        retry_backoff: Duration::from_millis(10),
        ..RunnerOptions::default()
    };
    MigrationRunner::new(&mut client, &graph, options, &mut Silent)
        .upgrade(&Target::Heads)
        .unwrap();
    assert_eq!(history_count(&mut client, A), 1);
}

#[test]
fn an_invalid_index_left_by_a_failed_concurrent_build_is_dropped_and_built_again() {
    let c = cluster();
    let (_, mut client) = database(&c, "invalid_index");
    client
        .batch_execute("CREATE TABLE people (id int, email text); INSERT INTO people VALUES (1, 'a'), (2, 'a')")
        .unwrap();
    let files = Files::new();
    files.add_with(
        A,
        &[],
        "-- retort:transaction off\n",
        "CREATE UNIQUE INDEX CONCURRENTLY people_email ON people (email);",
        None,
    );
    let graph = files.graph();
    // The build fails on the duplicate and leaves people_email INVALID.
    let err = MigrationRunner::new(&mut client, &graph, RunnerOptions::default(), &mut Silent)
        .upgrade(&Target::Heads)
        .unwrap_err();
    assert!(
        err.to_string().contains("could not create unique index"),
        "{err}"
    );
    let valid = |client: &mut retort_pg::Client| -> Option<bool> {
        client
            .query_opt(
                "SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass('people_email')",
                &[],
            )
            .unwrap()
            .map(|r| r.get(0))
    };
    assert_eq!(valid(&mut client), Some(false));
    // The data is fixed; the rerun drops the INVALID index and builds it again.
    client
        .batch_execute("DELETE FROM people WHERE id = 2")
        .unwrap();
    let mut seen = Retries::default();
    MigrationRunner::new(&mut client, &graph, RunnerOptions::default(), &mut seen)
        .upgrade(&Target::Heads)
        .unwrap();
    assert_eq!(seen.dropped, vec!["people_email".to_owned()]);
    assert_eq!(valid(&mut client), Some(true));
    assert_eq!(history_count(&mut client, A), 1);
}

#[test]
fn a_batched_update_in_a_migration_runs_in_key_ranges() {
    let c = cluster();
    let (_, mut client) = database(&c, "batched");
    client
        .batch_execute("CREATE TABLE orders (id bigint PRIMARY KEY, qty int); INSERT INTO orders SELECT g, g % 7 FROM generate_series(1, 25000) g")
        .unwrap();
    let files = Files::new();
    files.add_with(
        A,
        &[],
        "-- retort:transaction off\n",
        "ALTER TABLE orders ADD COLUMN total int;\n-- retort:batch\nUPDATE orders SET total = qty * 2 WHERE total IS NULL;",
        None,
    );
    let graph = files.graph();
    MigrationRunner::new(&mut client, &graph, RunnerOptions::default(), &mut Silent)
        .upgrade(&Target::Heads)
        .unwrap();
    let wrong: i64 = client
        .query_one(
            "SELECT count(*) FROM orders WHERE total IS DISTINCT FROM qty * 2",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(wrong, 0);
    let (rows, finished): (i64, bool) = {
        let r = client
            .query_one(
                "SELECT rows, finished_at IS NOT NULL FROM retort.backfill",
                &[],
            )
            .unwrap();
        (r.get(0), r.get(1))
    };
    assert_eq!((rows, finished), (25000, true));
    assert_eq!(history_count(&mut client, A), 1);

    // In a migration that is one transaction, the directive is refused where it stands.
    let files = Files::new();
    let path = files.add(
        B,
        &[],
        "-- retort:batch\nUPDATE orders SET total = 0;",
        None,
    );
    let err = retort_migrate::load_dir(files.path())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(&format!("{}:", path.file_name().unwrap().to_string_lossy()))
            && err.contains("transaction off"),
        "{err}"
    );
}
