//! A user mapping's password never leaves the database through retort: not in the script, not
//! in a cached snapshot; the diff says where to set it instead.

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
fn a_mapping_password_is_named_in_a_hint_and_never_written() {
    let c = Cluster::builder().start().unwrap();
    c.connect_primary()
        .unwrap()
        .batch_execute("CREATE ROLE reporting")
        .unwrap();
    let server = "CREATE FOREIGN DATA WRAPPER plain_fdw; \
                  CREATE SERVER billing FOREIGN DATA WRAPPER plain_fdw;";
    let mut a = database(&c, "fdw_a", server);
    let mut b = database(
        &c,
        "fdw_b",
        &format!(
            "{server} CREATE USER MAPPING FOR reporting SERVER billing \
             OPTIONS (user 'reader', password 'hunter2-secret');"
        ),
    );
    let filter = Filter::default();
    let (from, to) = (
        introspect(&mut a, &filter).unwrap(),
        introspect(&mut b, &filter).unwrap(),
    );
    let d = diff(&from, &to);
    let sql = d.to_sql();
    assert!(
        sql.contains(
            "CREATE USER MAPPING FOR reporting SERVER billing OPTIONS (\"user\" 'reader')"
        ),
        "{sql}"
    );
    assert!(!sql.contains("hunter2"), "{sql}");
    assert!(
        d.hints.iter().any(|h| h.contains(
            "ALTER USER MAPPING FOR reporting SERVER billing OPTIONS (ADD password '…')"
        )),
        "{:?}",
        d.hints
    );
    let cached = serde_json::to_string(&to).unwrap();
    assert!(!cached.contains("hunter2"), "{cached}");
    // Once the mapping exists with any password, there is nothing left to say.
    a.batch_execute(
        "CREATE USER MAPPING FOR reporting SERVER billing OPTIONS (user 'reader', password 'other')",
    )
    .unwrap();
    let again = diff(&introspect(&mut a, &filter).unwrap(), &to);
    assert!(again.is_empty() && again.hints.is_empty(), "{again:?}");
}
