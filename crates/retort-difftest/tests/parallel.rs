//! Reading one database over two connections that share a snapshot gives exactly what one
//! connection reads: the same catalog, dependencies and not-compared list.

use retort_catalog::{introspect, introspect_parallel, Filter};
use retort_difftest::Harness;

#[test]
fn two_connections_read_what_one_reads() {
    let h = Harness::start();
    let corpus =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../retort-catalog/tests/corpus");
    let mut sql = String::new();
    for case in ["table_with_everything", "app_schema_evolution"] {
        sql.push_str(&std::fs::read_to_string(corpus.join(case).join("b.sql")).unwrap());
        sql.push('\n');
    }
    sql.push_str("CREATE TEXT SEARCH CONFIGURATION plain_words (COPY = simple);\n");
    sql.push_str("CREATE CONVERSION latin_in FOR 'LATIN1' TO 'UTF8' FROM iso8859_1_to_utf8;\n");
    sql.push_str("CREATE OPERATOR FAMILY int_ops_too USING btree;\n");
    sql.push_str("CREATE TYPE defined_later;");
    let (url, mut one) = h.database(&sql).unwrap();
    let config = retort_pg::ConnConfig::parse(&url).unwrap();
    let mut helper = retort_pg::connect(&config).unwrap();
    let filter = Filter::default();
    let alone = introspect(&mut one, &filter).unwrap();
    let shared = introspect_parallel(&mut one, Some(&mut helper), &filter).unwrap();
    assert!(!alone.catalog.tables.is_empty() && !alone.deps.is_empty());
    // The helper did join the snapshot (an export refused inside a subtransaction once left
    // every read on one connection without anyone noticing).
    assert_eq!((alone.readers, shared.readers), (1, 2));
    assert_eq!(alone.catalog, shared.catalog);
    // Read by the helper and merged back.
    assert_eq!(shared.catalog.ts_configurations.len(), 1);
    assert_eq!(shared.catalog.conversions.len(), 1);
    assert_eq!(shared.catalog.op_families.len(), 1);
    assert_eq!(alone.deps, shared.deps);
    assert_eq!(alone.not_compared, shared.not_compared);
    assert!(
        alone
            .not_compared
            .iter()
            .any(|n| n.contains("base or shell type")),
        "{:?}",
        alone.not_compared
    );
    // The helper is in a transaction that refuses another snapshot: one connection reads all.
    helper
        .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT 1")
        .unwrap();
    let fallback = introspect_parallel(&mut one, Some(&mut helper), &filter);
    helper.batch_execute("ROLLBACK").unwrap();
    let fallback = fallback.unwrap();
    assert_eq!(fallback.readers, 1);
    assert_eq!(alone.catalog, fallback.catalog);
}
