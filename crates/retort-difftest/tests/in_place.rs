//! Type changes PostgreSQL makes in place (varchar widening, varchar -> text, numeric
//! precision widening, ...) are altered in place: the diff touches no index or constraint,
//! carries no destructive mark, and after applying it (through psql, as printed) the table and
//! its indexes keep their files (`pg_class.relfilenode`) and their rows.

use retort_catalog::{diff, introspect, Filter};
use retort_difftest::Harness;
use retort_pg::Client;

/// Files of the tables and of their plain indexes. (PostgreSQL itself rebuilds an index with
/// an expression or a predicate on a retyped column, even when the change is in place: it does
/// not prove such an index compatible. retort does not drop or create those either.)
fn relfilenodes(c: &mut Client) -> Vec<(String, u32)> {
    c.query(
        "SELECT c.relname::text, c.relfilenode FROM pg_class c \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         LEFT JOIN pg_index i ON i.indexrelid = c.oid \
         WHERE n.nspname = 'public' AND c.relkind IN ('r', 'i') \
           AND (i.indexrelid IS NULL OR (i.indexprs IS NULL AND i.indpred IS NULL)) ORDER BY 1",
        &[],
    )
    .unwrap()
    .iter()
    .map(|r| (r.get(0), r.get(1)))
    .collect()
}

#[test]
fn widening_keeps_indexes_constraints_and_files() {
    let h = Harness::start();
    let table = |email: &str, note: &str, amount: &str, at: &str| {
        format!(
            "CREATE TABLE refs (code varchar(40) PRIMARY KEY); \
             CREATE TABLE accounts (id bigint PRIMARY KEY, email {email} NOT NULL UNIQUE, \
               note {note} CHECK (note <> ''), amount {amount} DEFAULT 0 CHECK (amount >= 0), \
               at {at}, ref varchar(40) REFERENCES refs); \
             CREATE INDEX accounts_note ON accounts (note); \
             CREATE INDEX accounts_amount ON accounts (amount) WHERE amount > 0; \
             CREATE INDEX accounts_email_lower ON accounts (lower(email)); \
             CREATE VIEW account_emails AS SELECT id, email FROM accounts;"
        )
    };
    let old = table(
        "varchar(512)",
        "varchar(100)",
        "numeric(10,2)",
        "timestamp(0)",
    );
    let new = table("varchar(2000)", "text", "numeric(14,2)", "timestamp(3)");
    let (url_a, mut a) = h.database(&old).unwrap();
    let (_, mut b) = h.database(&new).unwrap();
    a.batch_execute(
        "INSERT INTO refs VALUES ('r'); \
         INSERT INTO accounts SELECT g, 'user' || g || '@example.com', 'n' || g, g, now(), 'r' \
         FROM generate_series(1, 1000) g",
    )
    .unwrap();
    let before = relfilenodes(&mut a);
    assert_eq!(before.len(), 6, "{before:?}"); // 2 tables, 2 keys, 1 unique, 1 plain index

    let d = diff(
        &introspect(&mut a, &Filter::default()).unwrap(),
        &introspect(&mut b, &Filter::default()).unwrap(),
    );
    let sql = d.to_sql();
    assert!(d.destructive().is_empty(), "{:?}\n{sql}", d.destructive());
    for word in ["INDEX", "CONSTRAINT", "USING", "DROP COLUMN"] {
        assert!(!sql.contains(word), "{word} in:\n{sql}");
    }
    assert!(sql.contains("TYPE character varying(2000)"), "{sql}");
    // PostgreSQL refuses to retype a column a view uses: the view goes and comes back.
    assert!(
        sql.contains("DROP VIEW public.account_emails") && sql.contains("CREATE VIEW"),
        "{sql}"
    );

    h.psql(&url_a, &d.to_script())
        .unwrap_or_else(|e| panic!("{e}\n{sql}"));

    assert_eq!(
        relfilenodes(&mut a),
        before,
        "a table or index was rewritten:\n{sql}"
    );
    let rows: i64 = a
        .query_one("SELECT count(*) FROM accounts", &[])
        .unwrap()
        .get(0);
    assert_eq!(rows, 1000);
    let again = diff(
        &introspect(&mut a, &Filter::default()).unwrap(),
        &introspect(&mut b, &Filter::default()).unwrap(),
    );
    assert!(again.is_empty(), "{}", again.to_sql());
}
