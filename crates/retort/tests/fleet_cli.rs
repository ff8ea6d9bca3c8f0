//! Fleets: 50 databases on one cluster, one of them broken.

mod project;

use project::{json, retort, run};
use retort_cluster::Cluster;

#[test]
fn a_fleet_with_one_broken_database_keeps_going_reruns_and_stops_at_a_failing_canary() {
    let c = Cluster::builder().start().unwrap();
    let mut urls = Vec::new();
    for i in 0..50 {
        urls.push(c.create_database(&format!("tenant_{i:02}")).unwrap());
    }
    // tenant_17 already has a table the migration creates: its run fails.
    let mut broken = retort_pg::connect(&retort_pg::ConnConfig::parse(&urls[17]).unwrap()).unwrap();
    broken
        .batch_execute("CREATE TABLE notes (legacy int)")
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    std::fs::create_dir(p.join("migrations")).unwrap();
    std::fs::write(
        p.join("retort.toml"),
        "[migrations]\ndir = \"migrations\"\n",
    )
    .unwrap();
    std::fs::write(
        p.join("migrations/aaaaaaaaaaa1_notes.sql"),
        "-- retort:revision aaaaaaaaaaa1\n-- retort:message notes\n\n-- retort:up\nCREATE TABLE notes (id int);\n",
    )
    .unwrap();
    let mut list = String::from("# tenants\n");
    for u in &urls {
        list.push_str(u);
        list.push('\n');
    }
    std::fs::write(p.join("fleet.txt"), &list).unwrap();
    let db = &urls[0];

    // The canary fails: nothing else is touched.
    let (code, _, stderr) =
        run(retort(p, db).args(["upgrade", "--targets", "fleet.txt", "--canary", &urls[17]]));
    assert_eq!(code, 1);
    assert!(
        stderr.contains("canary") && stderr.contains("no other database was touched"),
        "{stderr}"
    );
    let migrated: i64 = count_migrated(&urls);
    assert_eq!(migrated, 0);

    // Keep going: 49 migrated, the broken one reported, exit 1; JSON lines name each target.
    let (code, stdout, stderr) = run(retort(p, db).args([
        "upgrade",
        "--targets",
        "fleet.txt",
        "--jobs",
        "4",
        "--keep-going",
    ]));
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(count_migrated(&urls), 49);
    let lines: Vec<serde_json::Value> = stdout.lines().map(json).collect();
    assert_eq!(lines.len(), 50);
    let failed: Vec<&serde_json::Value> =
        lines.iter().filter(|l| l["status"] == "failed").collect();
    assert_eq!(failed.len(), 1);
    assert!(failed[0]["target"].as_str().unwrap().contains("tenant_17"));
    assert!(
        stderr.contains("49 of 50 database(s) at the target") && stderr.contains("1 failed"),
        "{stderr}"
    );

    // Fixed, the rerun migrates just that one.
    broken.batch_execute("DROP TABLE notes").unwrap();
    let (code, stdout, stderr) =
        run(retort(p, db).args(["upgrade", "--targets", "fleet.txt", "--format", "json"]));
    assert_eq!(code, 0, "{stderr}");
    let doc: serde_json::Value = json(
        stdout
            .lines()
            .skip(50)
            .collect::<Vec<_>>()
            .join("\n")
            .as_str(),
    );
    assert_eq!(doc["summary"]["migrations_run"], 1, "{stdout}");
    assert_eq!(count_migrated(&urls), 50);

    // current --targets groups them.
    let (code, stdout, _) =
        run(retort(p, db).args(["current", "--targets", "fleet.txt", "--format", "json"]));
    assert_eq!(code, 0);
    assert_eq!(
        json(&stdout)["revisions"]["aaaaaaaaaaa1"]
            .as_array()
            .unwrap()
            .len(),
        50
    );

    // --targets-query lists databases on -d's server.
    let (code, stdout, stderr) = run(retort(p, db).args([
        "current",
        "--targets-query",
        "SELECT datname FROM pg_database WHERE datname LIKE 'tenant_%'",
        "--format",
        "json",
    ]));
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        json(&stdout)["revisions"]["aaaaaaaaaaa1"]
            .as_array()
            .unwrap()
            .len(),
        50
    );
}

/// How many of the databases have the migration recorded.
fn count_migrated(urls: &[String]) -> i64 {
    urls.iter()
        .filter(|u| {
            let mut c = retort_pg::connect(&retort_pg::ConnConfig::parse(u).unwrap()).unwrap();
            c.query_one(
                "SELECT EXISTS (SELECT FROM retort.version WHERE revision = 'aaaaaaaaaaa1')",
                &[],
            )
            .map(|r| r.get::<_, bool>(0))
            .unwrap_or(false) // no version table yet: not migrated
        })
        .count() as i64
}
