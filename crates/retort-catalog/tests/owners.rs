//! Ownership is compared only when asked for, and then set with ALTER ... OWNER TO.

use retort_catalog::{diff, introspect, Filter};
use retort_cluster::Cluster;
use retort_pg::{Client, ConnConfig};

fn database(c: &Cluster, name: &str, sql: &str) -> Client {
    let url = c.create_database(name).unwrap();
    let mut client = retort_pg::connect(&ConnConfig::parse(&url).unwrap()).unwrap();
    client.batch_execute(sql).unwrap();
    client
}

#[test]
fn owners_are_compared_only_with_the_flag() {
    let c = Cluster::builder().start().unwrap();
    c.connect_primary()
        .unwrap()
        .batch_execute("CREATE ROLE app_owner; CREATE ROLE app_user;")
        .unwrap();
    let objects = "CREATE SCHEMA s; CREATE TYPE s.e AS ENUM ('a'); CREATE SEQUENCE s.q; \
                   CREATE TABLE s.t (id int); CREATE VIEW s.v AS SELECT id FROM s.t; \
                   CREATE FUNCTION s.f() RETURNS int LANGUAGE sql AS 'SELECT 1'; \
                   GRANT SELECT ON s.t TO app_user;";
    let mut a = database(&c, "own_a", objects);
    let owned = format!(
        "{objects} ALTER SCHEMA s OWNER TO app_owner; ALTER TYPE s.e OWNER TO app_owner; \
         ALTER SEQUENCE s.q OWNER TO app_owner; ALTER TABLE s.t OWNER TO app_owner; \
         ALTER VIEW s.v OWNER TO app_owner; ALTER FUNCTION s.f() OWNER TO app_owner;"
    );
    let mut b = database(&c, "own_b", &owned);

    let plain = Filter::default();
    let d = diff(
        &introspect(&mut a, &plain).unwrap(),
        &introspect(&mut b, &plain).unwrap(),
    );
    assert!(
        d.is_empty(),
        "without the flag owners are not compared:\n{}",
        d.to_sql()
    );

    let with = Filter {
        owners: true,
        ..Filter::default()
    };
    let d = diff(
        &introspect(&mut a, &with).unwrap(),
        &introspect(&mut b, &with).unwrap(),
    );
    let sql = d.to_sql();
    for expected in [
        "ALTER SCHEMA s OWNER TO app_owner",
        "ALTER TYPE s.e OWNER TO app_owner",
        "ALTER SEQUENCE s.q OWNER TO app_owner",
        "ALTER TABLE s.t OWNER TO app_owner",
        "ALTER VIEW s.v OWNER TO app_owner",
        "ALTER FUNCTION s.f() OWNER TO app_owner",
    ] {
        assert!(sql.contains(expected), "missing {expected:?} in:\n{sql}");
    }
    for s in d.statements() {
        a.batch_execute(&s).unwrap();
    }
    let after = introspect(&mut a, &with).unwrap();
    let target = introspect(&mut b, &with).unwrap();
    assert_eq!(after.catalog, target.catalog);
    assert!(diff(&after, &target).is_empty());

    // From nothing, with owners: created, then handed over before the grants.
    let mut empty = database(&c, "own_empty", "SELECT 1");
    let d = diff(&introspect(&mut empty, &with).unwrap(), &target);
    for s in d.statements() {
        empty.batch_execute(&s).unwrap();
    }
    assert_eq!(
        introspect(&mut empty, &with).unwrap().catalog,
        target.catalog
    );
}
