//! `retort lint` and the lint pre-flight of `retort upgrade`.

mod project;

use project::{database, json, retort, run};
use retort_cluster::Cluster;

fn write(dir: &std::path::Path, name: &str, text: &str) {
    std::fs::create_dir_all(dir.join("migrations")).unwrap();
    std::fs::write(dir.join("migrations").join(name), text).unwrap();
}

#[test]
fn lint_pending_migrations_against_the_live_database() {
    let c = Cluster::builder().start().unwrap();
    let (url, mut db) = database(&c, "app");
    db.batch_execute(
        "CREATE TABLE users (id bigint PRIMARY KEY, email text); \
         INSERT INTO users SELECT g, 'u' || g FROM generate_series(1, 50000) g; ANALYZE users;",
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    std::fs::write(
        p.join("retort.toml"),
        "[migrations]\ndir = \"migrations\"\n",
    )
    .unwrap();
    write(
        p,
        "aaaaaaaaaaa1_index.sql",
        "-- retort:revision aaaaaaaaaaa1\n-- retort:message index\n\n-- retort:up\n\
         CREATE TABLE notes (id int, user_id bigint);\n\
         CREATE INDEX notes_user ON notes (user_id);\n\
         CREATE INDEX users_email ON users (email);\n",
    );

    let (code, stdout, stderr) = run(retort(p, &url).arg("lint"));
    assert_eq!(code, 3, "{stdout}{stderr}");
    assert!(
        stdout.contains("aaaaaaaaaaa1_index.sql:7: warning[index-not-concurrent]"),
        "{stdout}"
    );
    assert!(
        stdout.contains("SHARE lock on users (") && stdout.contains("~50000 rows"),
        "{stdout}"
    );
    assert!(
        !stdout.contains("notes_user"),
        "a table created in the migration is left alone: {stdout}"
    );

    let (code, stdout, _) = run(retort(p, &url).args(["lint", "--format", "json"]));
    assert_eq!(code, 3);
    let doc = json(&stdout);
    assert_eq!(doc["findings"].as_array().unwrap().len(), 1);
    assert_eq!(doc["findings"][0]["lock"], "Share");
    assert!(doc["findings"][0]["table_bytes"].as_i64().unwrap() > 1 << 20);

    let (code, stdout, _) = run(retort(p, &url).args(["lint", "--format", "sarif"]));
    assert_eq!(code, 3);
    assert_eq!(json(&stdout)["version"], "2.1.0");

    // upgrade --strict refuses and runs nothing; plain upgrade warns and runs.
    let (code, _, stderr) = run(retort(p, &url).args(["upgrade", "--strict"]));
    assert_eq!(code, 1);
    assert!(
        stderr.contains("--strict") && stderr.contains("index-not-concurrent"),
        "{stderr}"
    );
    let exists: bool = db
        .query_one("SELECT to_regclass('notes') IS NOT NULL", &[])
        .unwrap()
        .get(0);
    assert!(!exists);

    // An excuse with a reason silences the finding; one without a reason is itself an error.
    write(
        p,
        "aaaaaaaaaaa1_index.sql",
        "-- retort:revision aaaaaaaaaaa1\n-- retort:message index\n\n-- retort:up\n\
         CREATE TABLE notes (id int, user_id bigint);\n\
         CREATE INDEX notes_user ON notes (user_id);\n\
         -- retort:allow index-not-concurrent users is small and writes pause at night\n\
         CREATE INDEX users_email ON users (email);\n",
    );
    let (code, stdout, stderr) = run(retort(p, &url).arg("lint"));
    assert_eq!(code, 0, "{stdout}{stderr}");
    let (code, _, stderr) = run(retort(p, &url).args(["upgrade", "--strict"]));
    assert_eq!(code, 0, "{stderr}");
    // Nothing pending any more: lint says so, and a named revision is linted anyway.
    let (code, _, stderr) = run(retort(p, &url).arg("lint"));
    assert_eq!(code, 0);
    assert!(stderr.contains("nothing to lint"), "{stderr}");
    let (code, _, _) = run(retort(p, &url).args(["lint", "aaaaaaaaaaa1"]));
    assert_eq!(code, 0);
}

#[test]
fn lint_files_offline_with_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    std::fs::write(
        p.join("plain.sql"),
        "ALTER TABLE accounts ADD COLUMN plan text NOT NULL;\n-- retort:allow drop-cascade\nDROP TABLE old CASCADE;\n",
    )
    .unwrap();
    let url = "postgresql://nobody@127.0.0.1:1/none";
    let (code, stdout, stderr) = run(retort(p, url).args(["lint", "plain.sql"]));
    assert_eq!(code, 3, "{stderr}");
    assert!(stderr.contains("no database to compare with"), "{stderr}");
    assert!(
        stdout.contains("plain.sql:1: warning[not-null-without-default]"),
        "{stdout}"
    );
    assert!(stdout.contains("plain.sql:2: error[bad-allow]"), "{stdout}");
    assert!(
        stdout.contains("plain.sql:3: warning[drop-cascade]"),
        "{stdout}"
    );

    std::fs::write(p.join("broken.sql"), "ALTER TABLE t ADD COLUMN;\n").unwrap();
    let (code, _, stderr) = run(retort(p, url).args(["lint", "broken.sql"]));
    assert_eq!(code, 1);
    assert!(
        stderr.contains("broken.sql:1: the SQL does not parse"),
        "{stderr}"
    );

    let (code, _, stderr) = run(retort(p, url).args(["lint", "nope"]));
    assert_eq!(code, 1);
    assert!(
        stderr.contains("`nope` is neither a file nor a revision"),
        "{stderr}"
    );

    let (code, _, stderr) = run(retort(p, url).args(["current", "--format", "sarif"]));
    assert_eq!(code, 2);
    assert!(stderr.contains("only applies to `retort lint`"), "{stderr}");
}
