//! The lock table against a real server: each statement runs in an open transaction while a
//! second connection reads pg_locks; rewrites are checked with relfilenode. Plus live-catalog
//! sizes and SARIF validated against the 2.1.0 schema.

use std::path::Path;

use retort_cluster::Cluster;
use retort_lint::{lint_sql, parse_section, LintContext, LiveCatalog, LockMode, Work};
use retort_pg::{Client, ConnConfig};

const SETUP: &str = "
    CREATE TABLE parent (id int PRIMARY KEY);
    INSERT INTO parent SELECT generate_series(1, 100);
    CREATE TABLE t (id int PRIMARY KEY, parent_id int, name varchar(10), n int, note text);
    INSERT INTO t SELECT g, 1 + g % 100, 'x', g, 'y' FROM generate_series(1, 1000) g;
    CREATE INDEX t_n ON t (n);
    CREATE MATERIALIZED VIEW mv AS SELECT id FROM t;
    CREATE UNIQUE INDEX mv_id ON mv (id);
    CREATE FUNCTION noop() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$;
    ANALYZE;
";

/// (statement, relation checked, whether retort must predict a rewrite)
const CASES: &[&str] = &[
    "ALTER TABLE t ADD COLUMN c1 int",
    "ALTER TABLE t ADD COLUMN c2 int DEFAULT 0",
    "ALTER TABLE t ADD COLUMN c3 float8 DEFAULT random()",
    "ALTER TABLE t ADD COLUMN c4 bigserial",
    "ALTER TABLE t ALTER COLUMN n SET NOT NULL",
    "ALTER TABLE t ALTER COLUMN n DROP NOT NULL",
    "ALTER TABLE t ALTER COLUMN n SET DEFAULT 5",
    "ALTER TABLE t ALTER COLUMN n TYPE bigint",
    "ALTER TABLE t ALTER COLUMN n SET STATISTICS 500",
    "ALTER TABLE t DROP COLUMN note",
    "ALTER TABLE t RENAME COLUMN note TO remark",
    "ALTER TABLE t ADD CONSTRAINT n_pos CHECK (n > 0)",
    "ALTER TABLE t ADD CONSTRAINT n_pos CHECK (n > 0) NOT VALID",
    "ALTER TABLE t ADD CONSTRAINT t_parent FOREIGN KEY (parent_id) REFERENCES parent (id)",
    "ALTER TABLE t ADD CONSTRAINT t_parent FOREIGN KEY (parent_id) REFERENCES parent (id) NOT VALID",
    "ALTER TABLE t ADD CONSTRAINT t_n_unique UNIQUE (n)",
    "ALTER TABLE t SET (fillfactor = 70)",
    "ALTER TABLE t SET UNLOGGED",
    "CREATE INDEX t_name ON t (name)",
    "CREATE TRIGGER t_noop BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION noop()",
    "DROP INDEX t_n",
    "TRUNCATE t",
    "LOCK TABLE t IN SHARE MODE",
    "REFRESH MATERIALIZED VIEW mv",
    "UPDATE t SET n = n + 1",
    "CLUSTER t USING t_pkey",
    "REINDEX TABLE t",
    "ALTER TABLE t RENAME TO t2",
];

fn connect(url: &str) -> Client {
    retort_pg::connect(&ConnConfig::parse(url).unwrap()).unwrap()
}

/// The strongest lock backend `pid` holds on relation `oid` (pg_class is per database, so
/// the oid comes from the migrating session).
fn strongest_lock(observer: &mut Client, pid: i32, oid: u32) -> Option<String> {
    let rows = observer
        .query(
            "SELECT mode FROM pg_locks WHERE pid = $1 AND granted AND relation = $2",
            &[&pid, &oid],
        )
        .unwrap();
    let order = [
        "AccessShareLock",
        "RowShareLock",
        "RowExclusiveLock",
        "ShareUpdateExclusiveLock",
        "ShareLock",
        "ShareRowExclusiveLock",
        "ExclusiveLock",
        "AccessExclusiveLock",
    ];
    rows.iter()
        .map(|r| r.get::<_, String>(0))
        .max_by_key(|m| order.iter().position(|o| o == m))
}

#[test]
fn predicted_locks_and_rewrites_match_the_server() {
    let c = Cluster::builder().start().unwrap();
    let mut mismatches = Vec::new();
    let mut observer = c.connect_primary().unwrap();
    for (i, sql) in CASES.iter().enumerate() {
        let url = c.create_database(&format!("locks{i}")).unwrap();
        let mut db = connect(&url);
        db.batch_execute(SETUP).unwrap();
        let stmts = parse_section(sql, Path::new("case.sql"), 1, Some(150000)).unwrap();
        let effect = stmts[0].effects.first().cloned();
        let Some(effect) = effect else {
            mismatches.push(format!("{sql}: no effect predicted"));
            continue;
        };
        let relname = effect.relation.rsplit('.').next().unwrap().to_owned();
        let pid: i32 = db.query_one("SELECT pg_backend_pid()", &[]).unwrap().get(0);
        let (oid, before): (u32, u32) = {
            let r = db
                .query_one(
                    "SELECT oid, relfilenode FROM pg_class WHERE relname = $1",
                    &[&relname],
                )
                .unwrap();
            (r.get(0), r.get(1))
        };
        db.batch_execute("BEGIN").unwrap();
        db.batch_execute(sql).unwrap();
        let after: Option<u32> = db
            .query_opt("SELECT relfilenode FROM pg_class WHERE oid = $1", &[&oid])
            .unwrap()
            .map(|r| r.get(0));
        let observed = strongest_lock(&mut observer, pid, oid);
        db.batch_execute("ROLLBACK").unwrap();
        if observed.as_deref() != Some(effect.lock.pg_locks_name()) {
            mismatches.push(format!(
                "{sql}: predicted {} on {relname}, server took {observed:?}",
                effect.lock.pg_locks_name()
            ));
        }
        let rewrote = after.is_some_and(|a| a != before);
        let predicted_rewrite = effect.work == Work::Rewrite;
        if rewrote != predicted_rewrite {
            mismatches.push(format!(
                "{sql}: predicted {:?}, relfilenode {}",
                effect.work,
                if rewrote { "changed" } else { "kept" }
            ));
        }
    }
    assert!(CASES.len() >= 20);
    assert!(
        mismatches.is_empty(),
        "{} mismatch(es):\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}

#[test]
fn findings_name_the_size_of_a_big_table_and_skip_new_ones() {
    let c = Cluster::builder().start().unwrap();
    let url = c.create_database("sizes").unwrap();
    let mut db = connect(&url);
    db.batch_execute(
        "CREATE TABLE events (id bigint PRIMARY KEY, kind text); \
         INSERT INTO events SELECT g, 'k' || (g % 10) FROM generate_series(1, 1000000) g; \
         CREATE TABLE small (id int); ANALYZE;",
    )
    .unwrap();
    let sql = "CREATE INDEX events_kind ON events (kind);\n\
               CREATE INDEX small_id ON small (id);\n\
               CREATE TABLE fresh (id int);\n\
               CREATE INDEX fresh_id ON fresh (id);\n";
    let stmts = parse_section(sql, Path::new("m.sql"), 1, Some(150000)).unwrap();
    let (rels, funcs) = retort_lint::referenced(&stmts);
    let catalog = LiveCatalog::read(&mut db, &rels, &funcs).unwrap();
    let ctx = LintContext {
        server_version_num: Some(150000),
        runner_sets_lock_timeout: true,
        catalog: Some(catalog),
    };
    let findings = lint_sql(sql, Path::new("m.sql"), 1, true, &ctx).unwrap();
    let index: Vec<_> = findings
        .iter()
        .filter(|f| f.rule == "index-not-concurrent")
        .collect();
    assert_eq!(index.len(), 2, "{findings:#?}");
    // Ranked by size: the million-row table first, with its size and rows.
    assert_eq!(index[0].relation.as_deref(), Some("events"));
    assert!(
        index[0].table_bytes.unwrap() > 20 << 20,
        "{:?}",
        index[0].table_bytes
    );
    assert!(index[0].table_rows.unwrap() > 900_000.0);
    assert_eq!(index[0].lock, Some(LockMode::Share));
    assert_eq!(index[1].relation.as_deref(), Some("small"));
    assert!(
        findings
            .iter()
            .all(|f| f.relation.as_deref() != Some("fresh")),
        "{findings:#?}"
    );

    // A table that does not exist yet (created by an earlier pending migration) is left alone too.
    let findings = lint_sql(
        "CREATE INDEX later_id ON not_yet (id);",
        Path::new("m.sql"),
        1,
        true,
        &ctx,
    )
    .unwrap();
    assert!(findings.is_empty(), "{findings:#?}");
    // NOT NULL without default on a table with rows is an error, naming the rows.
    let stmts = parse_section(
        "ALTER TABLE events ADD COLUMN tenant int NOT NULL;",
        Path::new("m.sql"),
        1,
        None,
    )
    .unwrap();
    let (rels, funcs) = retort_lint::referenced(&stmts);
    let ctx = LintContext {
        catalog: Some(LiveCatalog::read(&mut db, &rels, &funcs).unwrap()),
        runner_sets_lock_timeout: true,
        ..LintContext::default()
    };
    let f = retort_lint::lint_statements(Path::new("m.sql"), &stmts, true, &ctx);
    let nn = f
        .iter()
        .find(|f| f.rule == "not-null-without-default")
        .unwrap();
    assert_eq!(nn.severity, retort_lint::Severity::Error);
    assert!(
        nn.message.contains("it has about 1000000"),
        "{}",
        nn.message
    );
}

#[test]
fn sarif_output_validates_against_the_2_1_0_schema() {
    let sql = "CREATE INDEX i ON t (a);\nALTER TABLE t ADD COLUMN c int NOT NULL;\n-- retort:allow drop-cascade\nDROP TABLE x CASCADE;\n";
    let findings = lint_sql(
        sql,
        Path::new("migrations/abc_m.sql"),
        5,
        true,
        &LintContext::default(),
    )
    .unwrap();
    assert!(findings.iter().any(|f| f.rule == "bad-allow"));
    let sarif = retort_lint::to_sarif(&findings);
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/sarif-2.1.0-rtm.5.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&sarif)
        .map(|e| format!("{e} at {}", e.instance_path))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    assert_eq!(results.len(), findings.len());
    assert_eq!(
        results[0]["locations"][0]["physicalLocation"]["region"]["startLine"],
        5
    );
}
