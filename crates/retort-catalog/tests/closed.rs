//! The closed world: catalog rows read generically see what the model does not hold, and see
//! nothing where two databases have the same schema built differently.

use retort_catalog::closed::{self, Rows};
use retort_catalog::{diff, introspect, Filter};
use retort_cluster::Cluster;
use retort_pg::{Client, ConnConfig};

fn database(c: &Cluster, name: &str, sql: &str) -> Client {
    let url = c.create_database(name).unwrap();
    let mut client = retort_pg::connect(&ConnConfig::parse(&url).unwrap()).unwrap();
    client.batch_execute(sql).unwrap();
    client
}

fn rows(client: &mut Client) -> Rows {
    closed::read(client, &Filter::default()).unwrap().unwrap()
}

#[test]
fn every_expression_tree_of_the_catalogs_is_read_or_named_as_state() {
    let c = Cluster::builder().start().unwrap();
    let mut client = c.connect_primary().unwrap();
    let columns = closed::catalog_columns(&mut client).unwrap();
    // Every catalog listed exists on this server.
    for spec in closed::CATALOGS {
        assert!(columns.contains_key(spec.catalog), "{}", spec.catalog);
        for name in spec
            .state
            .iter()
            .chain(spec.secret)
            .chain(spec.read_as.iter().map(|(n, _)| n))
        {
            assert!(
                columns[spec.catalog].iter().any(|(n, _)| n == name),
                "{}.{name} is not a column of this server's catalog",
                spec.catalog
            );
        }
    }
    assert_eq!(closed::unread_trees(&columns), Vec::<String>::new());
}

#[test]
fn the_same_schema_built_another_way_has_the_same_rows() {
    let c = Cluster::builder().start().unwrap();
    c.connect_primary()
        .unwrap()
        .batch_execute("CREATE ROLE closed_a; CREATE ROLE closed_b;")
        .unwrap();
    let mut a = database(
        &c,
        "same_a",
        "CREATE TYPE mood AS ENUM ('sad', 'happy');\n\
         CREATE TABLE t (id bigint PRIMARY KEY, name text NOT NULL DEFAULT 'x', m mood);\n\
         CREATE INDEX t_name ON t (lower(name)) WHERE id > 0;\n\
         CREATE TABLE c (id int REFERENCES t, note text CHECK (note <> ''));\n\
         GRANT SELECT ON t TO closed_a; GRANT SELECT ON t TO closed_b;\n\
         COMMENT ON TABLE t IS 'things';",
    );
    // Another order: the enum value added later, the column added later, grants reversed, a
    // dropped column left behind.
    let mut b = database(
        &c,
        "same_b",
        "CREATE TYPE mood AS ENUM ('happy');\n\
         ALTER TYPE mood ADD VALUE 'sad' BEFORE 'happy';\n\
         CREATE TABLE t (id bigint PRIMARY KEY, gone int, name text NOT NULL DEFAULT 'x');\n\
         ALTER TABLE t DROP COLUMN gone; ALTER TABLE t ADD COLUMN m mood;\n\
         CREATE INDEX t_name ON t (lower(name)) WHERE id > 0;\n\
         CREATE TABLE c (id int REFERENCES t, note text CHECK (note <> ''));\n\
         GRANT SELECT ON t TO closed_b; GRANT SELECT ON t TO closed_a;\n\
         COMMENT ON TABLE t IS 'things';",
    );
    let (ra, rb) = (rows(&mut a), rows(&mut b));
    let count: usize = ra.objects.values().map(|o| o.len()).sum();
    assert!(count > 20, "{count}");
    let found = closed::differences(&ra, &rb);
    assert!(found.is_empty(), "{:#?}", found);
}

/// What the model did not hold (each of these once gave an empty diff on two databases
/// `pg_dump` tells apart), seen by the rows: (what, first database, second, catalog.column
/// the difference is in).
#[test]
fn what_the_model_passes_over_the_rows_see() {
    let c = Cluster::builder().start().unwrap();
    let base_partition = "CREATE TABLE p (x int) PARTITION BY RANGE (x);\n\
        CREATE TABLE p1 PARTITION OF p FOR VALUES FROM (0) TO (10);\n\
        CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$;\n\
        CREATE TRIGGER trg AFTER INSERT ON p FOR EACH ROW EXECUTE FUNCTION f();\n";
    let cases: Vec<(&str, String, String, &str)> = vec![
        (
            "a trigger disabled on one partition",
            base_partition.to_owned(),
            format!("{base_partition}ALTER TABLE p1 DISABLE TRIGGER trg;"),
            "pg_trigger.tgenabled",
        ),
        (
            "a TOAST table's storage parameter",
            "CREATE TABLE t (x text);".into(),
            "CREATE TABLE t (x text) WITH (toast.autovacuum_enabled = false);".into(),
            "pg_class.reltoastrelid",
        ),
        (
            "a comment on a primary key's index",
            "CREATE TABLE t (id int PRIMARY KEY);".into(),
            "CREATE TABLE t (id int PRIMARY KEY); COMMENT ON INDEX t_pkey IS 'the key';".into(),
            "pg_description.description",
        ),
        (
            "a materialized view column's compression",
            "CREATE MATERIALIZED VIEW mv AS SELECT 'x'::text AS x;".into(),
            "CREATE MATERIALIZED VIEW mv AS SELECT 'x'::text AS x; \
             ALTER MATERIALIZED VIEW mv ALTER COLUMN x SET COMPRESSION pglz;"
                .into(),
            "pg_attribute.attcompression",
        ),
    ];
    for (n, (what, a_sql, b_sql, column)) in cases.iter().enumerate() {
        let mut a = database(&c, &format!("seen_a{n}"), a_sql);
        let mut b = database(&c, &format!("seen_b{n}"), b_sql);
        let found = closed::differences(&rows(&mut a), &rows(&mut b));
        let (catalog, col) = column.split_once('.').unwrap();
        assert!(
            found
                .iter()
                .any(|u| u.catalog == catalog && u.column.as_deref().is_none_or(|c| c == col)),
            "{what}: {found:#?}"
        );
        // Whether or not the model has a statement for it, the difference is not lost.
        let (sa, sb) = (
            introspect(&mut a, &Filter::default()).unwrap(),
            introspect(&mut b, &Filter::default()).unwrap(),
        );
        let _ = diff(&sa, &sb);
    }
}
