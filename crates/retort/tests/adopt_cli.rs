//! Adoption: `retort baseline` on a realistic schema and `retort import alembic` on a sample
//! Alembic project with two branches, a merge and a depends_on.

mod project;

use std::path::{Path, PathBuf};
use std::process::Command;

use project::{database, json, retort, run};
use retort_cluster::Cluster;

fn data(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(rel)
}

fn psql_file(c: &Cluster, url: &str, file: &Path) {
    let out = Command::new(c.binaries().program("psql"))
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-f"])
        .arg(file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// pg_dump --schema-only, as a sorted list of its meaningful lines (object order in a dump
/// can depend on oids for equal names; the definitions cannot).
fn dump_lines(c: &Cluster, url: &str) -> Vec<String> {
    let out = Command::new(c.binaries().program("pg_dump"))
        .args(["--schema-only", "--no-owner", "-d", url])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut lines: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        // \restrict / \unrestrict carry a random key per dump.
        .filter(|l| {
            !l.starts_with("--")
                && !l.starts_with("\\restrict")
                && !l.starts_with("\\unrestrict")
                && !l.trim().is_empty()
        })
        .map(str::to_owned)
        .collect();
    lines.sort();
    lines
}

fn genschema(n: usize) -> String {
    let out = Command::new("python3")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../bench/genschema.py"))
        .arg(n.to_string())
        .output()
        .expect("python3 runs bench/genschema.py");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn baseline_of_a_realistic_schema_rebuilds_it_exactly() {
    let c = Cluster::builder().start().unwrap();
    let (legacy, _) = database(&c, "legacy");
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    let schema = format!(
        "{}\n{}",
        genschema(120),
        std::fs::read_to_string(data("adopt_extras.sql")).unwrap()
    );
    std::fs::write(p.join("schema.sql"), &schema).unwrap();
    psql_file(&c, &legacy, &p.join("schema.sql"));
    std::fs::create_dir(p.join("migrations")).unwrap();
    std::fs::write(
        p.join("retort.toml"),
        "[migrations]\ndir = \"migrations\"\nschema = \"schema.sql\"\n",
    )
    .unwrap();

    let (code, stdout, stderr) = run(retort(p, &legacy).args(["baseline", "-m", "adopted"]));
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("grants privileges to adopt_reader"),
        "{stderr}"
    );
    let file = p.join(stdout.trim());
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        !text.contains("-- retort:down"),
        "a baseline has no down section"
    );
    assert!(
        text.contains("CREATE POLICY")
            && text.contains("PARTITION OF")
            && text.contains("CREATE DOMAIN")
    );
    // The legacy database is stamped at it.
    let (code, stdout, _) = run(retort(p, &legacy).args(["current", "--format", "json"]));
    assert_eq!(code, 0);
    assert!(stdout.contains(
        file.file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .split('_')
            .next()
            .unwrap()
    ));

    // A fresh database built from the baseline has the same schema.
    let (fresh, _) = database(&c, "fresh");
    let (code, _, stderr) = run(retort(p, &fresh).arg("upgrade"));
    assert_eq!(code, 0, "{stderr}");
    let (a, b) = (dump_lines(&c, &legacy), dump_lines(&c, &fresh));
    let only_a: Vec<&String> = a.iter().filter(|l| !b.contains(l)).take(10).collect();
    let only_b: Vec<&String> = b.iter().filter(|l| !a.contains(l)).take(10).collect();
    assert!(a == b, "legacy only: {only_a:#?}\nfresh only: {only_b:#?}");
    assert!(a.len() > 1000, "a realistic schema: {} dump lines", a.len());

    // check is clean, and nothing can be baselined twice.
    // Roles are cluster-wide: check builds its throwaway database where the granted role exists.
    let dev = c.primary_url();
    let (code, stdout, stderr) = run(retort(p, &legacy).args(["check", "--dev-url", &dev]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    let (code, _, stderr) = run(retort(p, &legacy).arg("baseline"));
    assert_eq!(code, 1);
    assert!(stderr.contains("already holds 1 migration"), "{stderr}");
    // Downgrading through a baseline is refused before anything runs.
    let (code, _, stderr) = run(retort(p, &fresh).args(["downgrade", "base"]));
    assert_eq!(code, 1);
    assert!(stderr.contains("no `-- retort:down` section"), "{stderr}");
}

#[test]
fn import_alembic_keeps_ids_and_heads_and_upgrade_runs_only_new_migrations() {
    let c = Cluster::builder().start().unwrap();
    let (legacy, mut db) = database(&c, "legacy");
    psql_file(&c, &legacy, &data("alembic/legacy.sql"));
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    assert_eq!(run(retort(p, &legacy).arg("init")).0, 0);

    // Without a database: the graph only.
    let (code, _, stderr) = run(retort(p, "postgresql://nobody@127.0.0.1:1/none")
        .args(["import", "alembic", "--from"])
        .arg(data("alembic"))
        .args(["--to"])
        .arg(p.join("graph-only")));
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("no database"), "{stderr}");
    assert_eq!(std::fs::read_dir(p.join("graph-only")).unwrap().count(), 4);

    let (code, stdout, stderr) = run(retort(p, &legacy)
        .args(["import", "alembic", "--from"])
        .arg(data("alembic"))
        .args(["--format", "json"]));
    assert_eq!(code, 0, "{stderr}");
    let doc = json(&stdout);
    assert_eq!(doc["imported"].as_array().unwrap().len(), 4);
    assert_eq!(doc["stamped"], serde_json::json!(["4d0000000004"]));
    assert!(doc["baseline"].is_string());

    // Same ids, same shape: heads, the merge's parents, the label and the depends-on.
    let (code, stdout, _) = run(retort(p, &legacy).args(["heads", "--format", "json"]));
    assert_eq!(code, 0);
    assert!(stdout.contains("4d0000000004"), "{stdout}");
    let merge =
        std::fs::read_to_string(p.join("migrations/4d0000000004_merge_billing_into_main.sql"))
            .unwrap();
    assert!(
        merge.contains("-- retort:parents 3c0000000003 2b0000000002"),
        "{merge}"
    );
    assert!(merge.contains("-- retort:imported alembic"), "{merge}");
    let billing =
        std::fs::read_to_string(p.join("migrations/2b0000000002_billing_invoices.sql")).unwrap();
    assert!(
        billing.contains("-- retort:branch-labels billing")
            && billing.contains("-- retort:depends-on 1a0000000001")
    );
    let rows: Vec<String> = db
        .query("SELECT revision FROM retort.version", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(rows, ["4d0000000004"]);

    // A new retort migration on top: upgrade runs it and nothing else.
    let (code, _, stderr) = run(retort(p, &legacy).args(["new", "-m", "notes"]));
    assert_eq!(code, 0, "{stderr}");
    let new_file = std::fs::read_dir(p.join("migrations"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|f| f.to_string_lossy().ends_with("_notes.sql"))
        .unwrap();
    let text = std::fs::read_to_string(&new_file).unwrap();
    std::fs::write(
        &new_file,
        text.replace(
            "-- retort:up\n",
            "-- retort:up\nCREATE TABLE notes (id int);\n",
        ),
    )
    .unwrap();
    let (code, stdout, stderr) = run(retort(p, &legacy).args(["upgrade", "--format", "json"]));
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        json(&stdout)["steps"].as_array().unwrap().len(),
        1,
        "{stdout}"
    );

    // A fresh database gets the whole schema: baseline, the imported no-ops, the new migration.
    let (fresh, _) = database(&c, "fresh");
    let (code, _, stderr) = run(retort(p, &fresh).arg("upgrade"));
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(dump_lines(&c, &legacy), dump_lines(&c, &fresh));

    // Importing again refuses to overwrite.
    let (code, _, stderr) = run(retort(p, &legacy)
        .args(["import", "alembic", "--from"])
        .arg(data("alembic")));
    assert_eq!(code, 1);
    assert!(stderr.contains("already has revision"), "{stderr}");
}

#[test]
fn import_alembic_refuses_a_database_behind_its_heads() {
    let c = Cluster::builder().start().unwrap();
    let (legacy, mut db) = database(&c, "behind");
    psql_file(&c, &legacy, &data("alembic/legacy.sql"));
    db.batch_execute("UPDATE alembic_version SET version_num = '3c0000000003'")
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (code, _, stderr) = run(retort(dir.path(), &legacy)
        .args(["import", "alembic", "--from"])
        .arg(data("alembic"))
        .args(["--to"])
        .arg(dir.path().join("m")));
    assert_eq!(code, 1);
    assert!(stderr.contains("alembic upgrade heads"), "{stderr}");
}
