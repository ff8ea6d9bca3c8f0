//! Migrations through the binary, as a team would run them: concurrent deploys, a killed
//! runner, offline scripts, authoring commands and bad input.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

mod project;

use project::{database, json, retort, run};
use retort_cluster::{wait_for, Cluster};

fn write(project: &Path, revision: &str, parents: &[&str], up: &str, down: &str) {
    let dir = project.join("migrations");
    std::fs::create_dir_all(&dir).unwrap();
    let parents = if parents.is_empty() {
        String::new()
    } else {
        format!("-- retort:parents {}\n", parents.join(" "))
    };
    std::fs::write(
        dir.join(format!("{revision}_m.sql")),
        format!("-- retort:revision {revision}\n{parents}-- retort:message m {revision}\n\n-- retort:up\n{up}\n\n-- retort:down\n{down}\n"),
    )
    .unwrap();
}

fn rev(i: usize) -> String {
    format!("{:012x}", 0xc0ffee000 + i)
}

#[test]
fn eight_concurrent_upgrades_apply_every_migration_exactly_once() {
    let c = Cluster::builder().start().unwrap();
    let (url, mut client) = database(&c, "concurrent");
    let project = tempfile::tempdir().unwrap();
    write(project.path(), &rev(0), &[], "CREATE TABLE applied_log (revision text NOT NULL, backend int NOT NULL DEFAULT pg_backend_pid());", "DROP TABLE applied_log;");
    for i in 1..40 {
        write(
            project.path(),
            &rev(i),
            &[&rev(i - 1)],
            &format!(
                "CREATE TABLE t{i} (id int);\nINSERT INTO applied_log (revision) VALUES ('{}');",
                rev(i)
            ),
            &format!("DROP TABLE t{i};"),
        );
    }
    let children: Vec<_> = (0..8)
        .map(|_| {
            retort(project.path(), &url)
                .args(["upgrade", "--format", "json"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut applied_by_runs = 0;
    for child in children {
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "a runner failed: {stderr}");
        for line in stderr.lines() {
            assert!(
                line.contains("waiting for the migration lock") || line.trim().is_empty(),
                "unexpected output: {line}"
            );
        }
        let doc = json(&String::from_utf8_lossy(&out.stdout));
        applied_by_runs += doc["steps"].as_array().unwrap().len();
        assert_eq!(doc["to"], serde_json::json!([rev(39)]));
    }
    assert_eq!(
        applied_by_runs, 40,
        "the 8 runs together applied each migration once"
    );
    let (rows, distinct): (i64, i64) = {
        let r = client
            .query_one(
                "SELECT count(*), count(DISTINCT revision) FROM applied_log",
                &[],
            )
            .unwrap();
        (r.get(0), r.get(1))
    };
    assert_eq!((rows, distinct), (39, 39));
    let ups: i64 = client
        .query_one(
            "SELECT count(*) FROM retort.history WHERE direction = 'up'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(ups, 40);
    let version: Vec<String> = client
        .query("SELECT revision FROM retort.version", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(version, [rev(39)]);
}

#[test]
fn a_runner_killed_mid_migration_leaves_the_previous_revision() {
    let c = Cluster::builder().start().unwrap();
    let (url, mut client) = database(&c, "killed");
    let project = tempfile::tempdir().unwrap();
    write(
        project.path(),
        &rev(0),
        &[],
        "CREATE TABLE one (id int);",
        "DROP TABLE one;",
    );
    write(project.path(), &rev(1), &[&rev(0)], "CREATE TABLE two (id int);\nINSERT INTO one VALUES (1);\nSELECT pg_sleep(60);\nCREATE TABLE three (id int);", "DROP TABLE three; DROP TABLE two;");
    let mut child = retort(project.path(), &url)
        .arg("upgrade")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let sleeping = wait_for(Duration::from_secs(20), || {
        client
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'retort migrate' AND query LIKE '%SELECT pg_sleep(60)%' AND state = 'active'",
                &[],
            )
            .map(|r| r.get::<_, i64>(0) == 1)
            .unwrap_or(false)
    });
    assert!(sleeping, "the runner never reached the third statement");
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    // The server notices the dead client (client_connection_check_interval) and rolls back.
    let gone = wait_for(Duration::from_secs(15), || {
        client
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'retort migrate'",
                &[],
            )
            .map(|r| r.get::<_, i64>(0) == 0)
            .unwrap_or(false)
    });
    assert!(gone, "the killed runner's backend is still there");
    let tables: Vec<String> = client
        .query("SELECT relname::text FROM pg_class WHERE relname IN ('one', 'two', 'three') ORDER BY 1", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(tables, ["one"]);
    let ones: i64 = client
        .query_one("SELECT count(*) FROM one", &[])
        .unwrap()
        .get(0);
    assert_eq!(
        ones, 0,
        "the insert of the killed migration was rolled back"
    );
    let version: Vec<String> = client
        .query("SELECT revision FROM retort.version", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(version, [rev(0)]);
    // The lock is free and the migration can run to completion.
    write(
        project.path(),
        &rev(1),
        &[&rev(0)],
        "CREATE TABLE two (id int);\nINSERT INTO one VALUES (1);\nCREATE TABLE three (id int);",
        "DROP TABLE three; DROP TABLE two;",
    );
    let (code, _, err) = run(retort(project.path(), &url).args(["upgrade", "--lock-wait", "5s"]));
    assert_eq!(code, 0, "{err}");
}

#[test]
fn sql_scripts_applied_by_psql_match_an_online_upgrade() {
    let c = Cluster::builder().start().unwrap();
    let (online, _) = database(&c, "online");
    let (offline, _) = database(&c, "offline");
    let project = tempfile::tempdir().unwrap();
    write(project.path(), &rev(0), &[], "CREATE TYPE color AS ENUM ('red');\nCREATE TABLE paint (id serial PRIMARY KEY, c color NOT NULL);", "DROP TABLE paint; DROP TYPE color;");
    write(project.path(), &rev(1), &[&rev(0)], "CREATE FUNCTION bump() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.id := NEW.id + 1; RETURN NEW; END; $$;\nCREATE TRIGGER paint_bump BEFORE INSERT ON paint FOR EACH ROW EXECUTE FUNCTION bump();", "DROP TRIGGER paint_bump ON paint; DROP FUNCTION bump();");
    let (code, script, err) = run(retort(project.path(), "postgres://nobody@127.0.0.1:1/none")
        .args(["upgrade", "--sql", "base:heads"]));
    assert_eq!(code, 0, "--sql with a range needs no database: {err}");
    let script_path = project.path().join("deploy.sql");
    std::fs::write(&script_path, &script).unwrap();
    let psql = Command::new(c.binaries().program("psql"))
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", &offline, "-f"])
        .arg(&script_path)
        .output()
        .unwrap();
    assert!(
        psql.status.success(),
        "{}",
        String::from_utf8_lossy(&psql.stderr)
    );
    let (code, _, err) = run(retort(project.path(), &online).arg("upgrade"));
    assert_eq!(code, 0, "{err}");
    let dump = |url: &str| {
        let out = Command::new(c.binaries().program("pg_dump"))
            .args(["--schema-only", "--dbname", url])
            .output()
            .unwrap();
        assert!(out.status.success());
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| {
                !l.starts_with("--")
                    && !l.starts_with("\\restrict")
                    && !l.starts_with("\\unrestrict")
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    let a = dump(&online);
    assert!(a.contains("paint_bump"));
    assert_eq!(a, dump(&offline));
    // Both databases agree on where they are.
    for url in [&online, &offline] {
        let (code, out, _) = run(retort(project.path(), url).args(["current", "--format", "json"]));
        assert_eq!(code, 0);
        assert_eq!(json(&out)["heads"][0]["revision"], rev(1));
    }
}

#[test]
fn authoring_branches_and_merges_through_the_cli() {
    let c = Cluster::builder().start().unwrap();
    let (url, _) = database(&c, "authoring");
    let project = tempfile::tempdir().unwrap();
    let p = project.path();
    let (code, _, err) = run(retort(p, &url).arg("init"));
    assert_eq!(code, 0, "{err}");
    assert!(
        p.join("retort.toml").is_file()
            && p.join("migrations").is_dir()
            && p.join("schema.sql").is_file()
    );
    let new = |args: &[&str]| {
        let (code, out, err) = run(retort(p, &url).args(["new", "--format", "json"]).args(args));
        assert_eq!(code, 0, "{err}");
        json(&out)["revision"].as_str().unwrap().to_owned()
    };
    let a = new(&["-m", "root"]);
    let b = new(&["-m", "feature one", "--branch-label", "one"]);
    let c2 = new(&["-m", "feature two", "--head", &a, "--branch-label", "two"]);
    // Two heads now: a plain `new` refuses and says what to do.
    let (code, _, err) = run(retort(p, &url).args(["new", "-m", "x"]));
    assert_eq!(code, 1);
    assert!(
        err.contains("2 heads") && err.contains("retort merge heads"),
        "{err}"
    );
    let (code, out, _) = run(retort(p, &url).args(["heads", "--format", "json"]));
    assert_eq!(code, 0);
    assert_eq!(json(&out)["heads"].as_array().unwrap().len(), 2);
    let (code, out, _) = run(retort(p, &url).args(["branches"]));
    assert_eq!(code, 0);
    assert!(
        out.contains(&a) && out.contains(&b) && out.contains(&c2),
        "{out}"
    );
    // Upgrade one branch, then the other, then merge.
    let (code, _, err) = run(retort(p, &url).args(["upgrade", "one@head"]));
    assert_eq!(code, 0, "{err}");
    let (_, out, _) = run(retort(p, &url).args(["current", "--format", "json"]));
    assert_eq!(json(&out)["heads"].as_array().unwrap().len(), 1);
    let (code, _, err) = run(retort(p, &url).args(["upgrade"]));
    assert_eq!(code, 0, "{err}");
    let (_, out, _) = run(retort(p, &url).args(["current", "--format", "json"]));
    assert_eq!(json(&out)["heads"].as_array().unwrap().len(), 2);
    let (code, out, err) =
        run(retort(p, &url).args(["merge", "heads", "-m", "join", "--format", "json"]));
    assert_eq!(code, 0, "{err}");
    let merge = json(&out)["revision"].as_str().unwrap().to_owned();
    let (code, _, _) = run(retort(p, &url).args(["upgrade"]));
    assert_eq!(code, 0);
    let (_, out, _) = run(retort(p, &url).args(["current"]));
    assert!(out.starts_with(&merge), "{out}");
    let (_, out, _) = run(retort(p, &url).args(["graph", "--format", "dot"]));
    assert!(
        out.starts_with("digraph retort") && out.contains(&format!("\"{b}\" -> \"{merge}\"")),
        "{out}"
    );
    let (_, out, _) = run(retort(p, &url).args(["graph", "--format", "mermaid"]));
    assert!(out.contains(&format!("r{c2} --> r{merge}")), "{out}");
    let (code, _, err) = run(retort(p, &url).args(["current", "--format", "dot"]));
    assert_eq!(code, 2, "{err}");
    let (_, out, _) = run(retort(p, &url).args(["history", "--format", "json"]));
    assert_eq!(json(&out)["revisions"].as_array().unwrap().len(), 4);
    let (_, out, _) = run(retort(p, &url).args(["history", "-r", &format!("{b}:")]));
    assert_eq!(out.lines().count(), 2, "{out}");
    let (_, out, _) = run(retort(p, &url).args(["history", "--applied", "--format", "json"]));
    assert_eq!(json(&out)["history"].as_array().unwrap().len(), 4);
    // Downgrade one branch by label, the other stays.
    let (code, _, err) = run(retort(p, &url).args(["downgrade", "-1"]));
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = run(retort(p, &url).args(["downgrade", "two@base"]));
    assert_eq!(code, 0, "{err}");
    let (_, out, _) = run(retort(p, &url).args(["current", "--format", "json"]));
    assert_eq!(json(&out)["heads"][0]["revision"], b.as_str());
    // Stamp the merge point, then back to base.
    let (code, _, err) = run(retort(p, &url).args(["stamp", &merge]));
    assert_eq!(code, 0, "{err}");
    let (_, out, _) = run(retort(p, &url).args(["current", "--format", "json"]));
    assert_eq!(json(&out)["heads"][0]["revision"], merge.as_str());
    let (code, _, _) = run(retort(p, &url).args(["stamp", "base"]));
    assert_eq!(code, 0);
    let (_, out, _) = run(retort(p, &url).args(["current", "--format", "json"]));
    assert_eq!(json(&out)["applied"], 0);
}

#[test]
fn bad_input_is_reported_with_file_and_line() {
    let c = Cluster::builder().standbys(1).start().unwrap();
    let (url, _) = database(&c, "badinput");
    let case = |files: &[(&str, &str)], args: &[&str], expect: &[&str]| {
        let project = tempfile::tempdir().unwrap();
        std::fs::create_dir(project.path().join("migrations")).unwrap();
        for (name, text) in files {
            std::fs::write(project.path().join("migrations").join(name), text).unwrap();
        }
        let (code, _, err) = run(retort(project.path(), &url).args(args));
        assert_eq!(code, 1, "{args:?}: {err}");
        for e in expect.iter().filter(|e| **e != "no hint") {
            assert!(err.contains(e), "{args:?}: expected {e:?} in:\n{err}");
        }
        assert!(
            err.contains("hint:") || expect.contains(&"no hint"),
            "{args:?}: no hint in:\n{err}"
        );
    };
    let a = "-- retort:revision aaaaaaaaaaaa\n-- retort:message a\n\n-- retort:up\nCREATE TABLE a (id int);\n";
    case(
        &[(
            "aaaaaaaaaaaa_a.sql",
            "-- retort:revision aaaaaaaaaaaa\n-- retort:mesage a\n-- retort:up\n",
        )],
        &["heads"],
        &[
            "migrations/aaaaaaaaaaaa_a.sql:2",
            "did you mean `-- retort:message`",
        ],
    );
    case(
        &[(
            "aaaaaaaaaaaa_a.sql",
            "-- retort:revision aaaaaaaaaaaa\n-- retort:colour blue\n-- retort:up\n",
        )],
        &["heads"],
        &[":2", "unknown directive"],
    );
    case(
        &[("aaaaaaaaaaaa_a.sql", a), ("x.sql", a)],
        &["heads"],
        &["duplicate revision aaaaaaaaaaaa", "aaaaaaaaaaaa_a.sql:1"],
    );
    case(
        &[(
            "bbbbbbbbbbbb_b.sql",
            "-- retort:revision bbbbbbbbbbbb\n-- retort:parents cccccccccccc\n-- retort:up\n",
        )],
        &["upgrade"],
        &["bbbbbbbbbbbb_b.sql:2", "parent cccccccccccc"],
    );
    case(
        &[
            (
                "aaaaaaaaaaaa_a.sql",
                "-- retort:revision aaaaaaaaaaaa\n-- retort:parents bbbbbbbbbbbb\n-- retort:up\n",
            ),
            (
                "bbbbbbbbbbbb_b.sql",
                "-- retort:revision bbbbbbbbbbbb\n-- retort:parents aaaaaaaaaaaa\n-- retort:up\n",
            ),
        ],
        &["heads"],
        &[
            "cycle: bbbbbbbbbbbb -> aaaaaaaaaaaa -> bbbbbbbbbbbb",
            "migrations/aaaaaaaaaaaa_a.sql:2",
        ],
    );
    case(
        &[
            (
                "abcd00000001_a.sql",
                "-- retort:revision abcd00000001\n-- retort:up\n",
            ),
            (
                "abcd00000002_b.sql",
                "-- retort:revision abcd00000002\n-- retort:parents abcd00000001\n-- retort:up\n",
            ),
        ],
        &["show", "abcd"],
        &["ambiguous", "abcd00000001", "abcd00000002", "no hint"],
    );
    case(
        &[("aaaaaaaaaaaa_a.sql", a)],
        &["downgrade"],
        &["downgrade needs a target", "no hint"],
    );
    // A standby is refused before anything else happens.
    let project = tempfile::tempdir().unwrap();
    std::fs::create_dir(project.path().join("migrations")).unwrap();
    std::fs::write(project.path().join("migrations/aaaaaaaaaaaa_a.sql"), a).unwrap();
    let (code, _, err) = run(retort(project.path(), &c.standby_url(0)).arg("upgrade"));
    assert_eq!(code, 1);
    assert!(
        err.contains("is a standby") && err.contains("primary"),
        "{err}"
    );
    // A failing statement shows file:line, the statement and the server's words, as JSON too.
    std::fs::write(project.path().join("migrations/aaaaaaaaaaaa_a.sql"), "-- retort:revision aaaaaaaaaaaa\n\n-- retort:up\nCREATE TABLE a (id int);\nSELECT *\n  FROM missing_table;\n").unwrap();
    let (code, _, err) = run(retort(project.path(), &url).arg("upgrade"));
    assert_eq!(code, 1);
    assert!(
        err.contains("migrations/aaaaaaaaaaaa_a.sql:6")
            && err.contains("missing_table")
            && err.contains("42P01")
            && err.contains("  | SELECT *"),
        "{err}"
    );
    let (code, _, err) = run(retort(project.path(), &url).args(["upgrade", "--format", "json"]));
    assert_eq!(code, 1);
    let doc = json(err.trim());
    assert_eq!(doc["error"]["sqlstate"], "42P01");
    assert!(doc["error"]["statement"]
        .as_str()
        .unwrap()
        .contains("missing_table"));
}

#[test]
fn lock_timeouts_are_retried_naming_the_blocker_and_invalid_indexes_are_reported() {
    let c = Cluster::builder().start().unwrap();
    let (url, mut client) = database(&c, "locks");
    client
        .batch_execute("CREATE TABLE busy (id int); CREATE TABLE people (email text); INSERT INTO people VALUES ('a'), ('a')")
        .unwrap();
    let p = tempfile::tempdir().unwrap();
    let p = p.path();
    std::fs::write(
        p.join("retort.toml"),
        "[migrations]\ndir = \"migrations\"\nlock_timeout = \"300ms\"\n",
    )
    .unwrap();
    write(p, &rev(1), &[], "ALTER TABLE busy ADD COLUMN v text;", "");
    // A writer holds busy in an open transaction for a while.
    let mut writer = retort_pg::connect(&retort_pg::ConnConfig::parse(&url).unwrap()).unwrap();
    writer
        .batch_execute(
            "SET application_name = 'nightly report'; BEGIN; LOCK TABLE busy IN ACCESS SHARE MODE",
        )
        .unwrap();
    let release = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(1500));
        writer.batch_execute("COMMIT").unwrap();
    });
    let (code, _, err) = run(retort(p, &url).args(["upgrade", "--lock-retries", "6"]));
    release.join().unwrap();
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("hit lock_timeout and was rolled back"),
        "{err}"
    );
    assert!(
        err.contains("blocked by pid") && err.contains("nightly report"),
        "{err}"
    );
    assert!(err.contains("retry 1 of 6"), "{err}");

    // A failed CONCURRENTLY build leaves an INVALID index: current and check report it.
    std::fs::write(
        p.join("migrations").join(format!("{}_idx.sql", rev(2))),
        format!(
            "-- retort:revision {}\n-- retort:parents {}\n-- retort:message email index\n-- retort:transaction off\n\n-- retort:up\nCREATE UNIQUE INDEX CONCURRENTLY people_email ON people (email);\n",
            rev(2),
            rev(1)
        ),
    )
    .unwrap();
    let (code, _, err) = run(retort(p, &url).arg("upgrade"));
    assert_eq!(code, 1, "{err}");
    let (code, out, err) = run(retort(p, &url).args(["current", "--format", "json"]));
    assert_eq!(code, 0, "{err}");
    assert_eq!(json(&out)["invalid_indexes"][0]["index"], "people_email");
    let (code, _, err) = run(retort(p, &url).arg("current"));
    assert_eq!(code, 0);
    assert!(err.contains("people_email on people is INVALID"), "{err}");
    client
        .batch_execute("DELETE FROM people WHERE ctid = (SELECT max(ctid) FROM people)")
        .unwrap();
    let (code, _, err) = run(retort(p, &url).arg("upgrade"));
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("left INVALID") && err.contains("dropped it"),
        "{err}"
    );
    let (code, out, _) = run(retort(p, &url).args(["current", "--format", "json"]));
    assert_eq!(code, 0);
    assert_eq!(json(&out)["invalid_indexes"], serde_json::json!([]));
}
