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

/// Four migrations; each logs itself in `applied`, so one applied twice shows as two rows.
fn logged_chain(p: &std::path::Path) -> Vec<String> {
    std::fs::create_dir(p.join("migrations")).unwrap();
    std::fs::write(
        p.join("retort.toml"),
        "[migrations]\ndir = \"migrations\"\n",
    )
    .unwrap();
    let revs: Vec<String> = (1..=4).map(|i| format!("e0000000000{i}")).collect();
    for (i, rev) in revs.iter().enumerate() {
        let parents = if i == 0 {
            "CREATE TABLE applied (revision text NOT NULL);\n".to_owned()
        } else {
            String::new()
        };
        let header = if i == 0 {
            String::new()
        } else {
            format!("-- retort:parents {}\n", revs[i - 1])
        };
        std::fs::write(
            p.join(format!("migrations/{rev}_m.sql")),
            format!(
                "-- retort:revision {rev}\n{header}-- retort:message m{n}\n\n-- retort:up\n\
                 {parents}CREATE TABLE m{n} (id int);\nINSERT INTO applied VALUES ('{rev}');\n",
                n = i + 1
            ),
        )
        .unwrap();
    }
    revs
}

#[test]
fn a_fleet_whose_targets_fail_at_random_points_converges_on_a_rerun_with_nothing_applied_twice() {
    use retort_cluster::{Fault, FaultAction, FaultProxy, Trigger};
    use std::time::Duration;
    let c = Cluster::builder().start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    let revs = logged_chain(p);
    let port = c.nodes()[0].port();
    let (mut direct, mut proxies, mut list) = (Vec::new(), Vec::new(), String::new());
    for i in 0..12 {
        let name = format!("shard_{i:02}");
        direct.push(c.create_database(&name).unwrap());
        let proxy = FaultProxy::start(([127, 0, 0, 1], port).into()).unwrap();
        // Through the proxy, a fault at a different point of each target's run.
        let fault = match i % 4 {
            0 => Fault::random(i as u64, 40, Duration::from_millis(300)),
            1 => Fault::new(
                Trigger::Contains("CREATE TABLE m3".into()),
                FaultAction::Cut,
            ),
            2 => Fault::new(
                Trigger::Contains("CREATE TABLE m2".into()),
                FaultAction::LoseAnswer,
            ),
            _ if i == 3 => Fault::new(
                Trigger::Contains("CREATE TABLE m2".into()),
                FaultAction::Vanish,
            ),
            _ => Fault::new(Trigger::Message(1_000_000), FaultAction::Cut),
        };
        proxy.arm(fault);
        list.push_str(&c.node_tcp_url(&c.nodes()[0]).replace(
            &format!(":{port}/postgres"),
            &format!(":{}/{name}", proxy.port()),
        ));
        list.push('\n');
        proxies.push(proxy);
    }
    std::fs::write(p.join("fleet.txt"), &list).unwrap();
    let upgrade = || {
        run(retort(p, &direct[0]).args([
            "upgrade",
            "--targets",
            "fleet.txt",
            "--jobs",
            "4",
            "--keep-going",
            "--reconnect-for",
            "0",
            "--format",
            "json",
        ]))
    };
    // First run: the faults fire; the failed targets are reported, the others finish.
    let (code, _, stderr) = upgrade();
    assert_eq!(code, 1, "{stderr}");
    let fired = proxies.iter().filter(|p| p.stats().fired).count();
    assert!(fired >= 6, "only {fired} faults fired");
    // The rerun: every reachable target reaches the head; the vanished one still fails.
    let (code, stdout, stderr) = upgrade();
    assert_eq!(code, 1, "{stderr}");
    let failed: Vec<String> = stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|l| l["status"] == "failed")
        .map(|l| l["target"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(failed.len(), 1, "{stdout}");
    assert!(failed[0].contains("shard_03"), "{failed:?}");
    for (i, url) in direct.iter().enumerate() {
        let mut db = retort_pg::connect(&retort_pg::ConnConfig::parse(url).unwrap()).unwrap();
        let col = |db: &mut retort_pg::Client, sql: &str| -> Vec<String> {
            db.query(sql, &[])
                .map_or(Vec::new(), |rows| rows.iter().map(|r| r.get(0)).collect())
        };
        let ups = col(
            &mut db,
            "SELECT revision FROM retort.history WHERE direction = 'up' ORDER BY 1",
        );
        let log = col(&mut db, "SELECT revision FROM applied ORDER BY 1");
        let version = col(&mut db, "SELECT revision FROM retort.version");
        if i == 3 {
            // Vanished at m2: m1 at most, never twice.
            assert!(ups.len() <= 2 && log == ups, "shard_03: {ups:?} {log:?}");
            continue;
        }
        assert_eq!(ups, revs, "shard_{i:02}: history");
        assert_eq!(log, revs, "shard_{i:02}: each migration ran once");
        assert_eq!(version, vec![revs[3].clone()], "shard_{i:02}: at the head");
    }
}
