//! `retort shadow` end to end: the store as a migration, passwords through stdin, verify's
//! exit codes, lock/unlock and audit, as the application role itself.

mod project;

use std::io::Write;
use std::process::{Command, Stdio};

use project::{database, json, retort, run};
use retort_cluster::Cluster;

/// Runs `cmd` with `input` on stdin.
fn run_with_stdin(cmd: &mut Command, input: &str) -> (i32, String, String) {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_store_as_a_migration_then_set_verify_lock_and_audit_as_the_app_role() {
    let c = Cluster::builder().start().unwrap();
    let (url, mut admin) = database(&c, "web");
    admin.batch_execute("CREATE ROLE webapp LOGIN").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    assert_eq!(run(retort(p, &url).arg("init")).0, 0);
    std::fs::write(
        p.join("retort.toml"),
        "[migrations]\ndir = \"migrations\"\n[shadow]\napp_role = \"webapp\"\n",
    )
    .unwrap();

    let (code, stdout, stderr) = run(retort(p, &url).args([
        "shadow",
        "install",
        "--emit-migration",
        "--argon2-memory",
        "512",
        "--argon2-iterations",
        "1",
    ]));
    assert_eq!(code, 0, "{stderr}");
    let file = p.join(stdout.trim());
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains("-- retort:up") && text.contains("SECURITY DEFINER"));
    assert!(text.contains("DROP SCHEMA shadow CASCADE;"));
    let (code, _, stderr) = run(retort(p, &url).arg("upgrade"));
    assert_eq!(code, 0, "{stderr}");

    // From here on, retort connects as the application role itself.
    let app_url = format!("{url}&user=webapp");
    let (code, _, stderr) = run_with_stdin(
        retort(p, &app_url).args(["shadow", "set", "zoë", "--password-stdin"]),
        "s3cret ✓\n",
    );
    assert_eq!(code, 0, "{stderr}");
    let verify = |pw: &str| {
        run_with_stdin(
            retort(p, &app_url).args([
                "shadow",
                "verify",
                "zoë",
                "--password-stdin",
                "--format",
                "json",
            ]),
            &format!("{pw}\n"),
        )
    };
    let (code, stdout, _) = verify("s3cret ✓");
    assert_eq!((code, json(&stdout)["verdict"].as_str()), (0, Some("ok")));
    let (code, stdout, _) = verify("wrong");
    assert_eq!((code, json(&stdout)["verdict"].as_str()), (1, Some("bad")));
    let (code, stdout, stderr) = run(retort(p, &app_url).args(["shadow", "lock", "zoë"]));
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("locked"));
    let (code, stdout, _) = verify("s3cret ✓");
    assert_eq!(
        (code, json(&stdout)["verdict"].as_str()),
        (3, Some("locked"))
    );
    assert_eq!(
        run(retort(p, &app_url).args(["shadow", "unlock", "zoë"])).0,
        0
    );
    assert_eq!(verify("s3cret ✓").0, 0);
    // Unknown users are "bad", like wrong passwords; lock of one says so and exits 1.
    let (code, stdout, _) = run_with_stdin(
        retort(p, &app_url).args(["shadow", "verify", "nobody", "--password-stdin"]),
        "x\n",
    );
    assert_eq!(code, 1);
    assert!(stdout.contains("wrong password or unknown user"));
    let (code, _, stderr) = run(retort(p, &app_url).args(["shadow", "lock", "nobody"]));
    assert_eq!(code, 1);
    assert!(stderr.contains("no password is stored"));

    // No terminal and no --password-stdin: a clear error, nothing changed.
    let (code, _, stderr) = run(retort(p, &app_url)
        .args(["shadow", "set", "zoë"])
        .stdin(Stdio::null()));
    assert_eq!(code, 1);
    assert!(stderr.contains("--password-stdin"), "{stderr}");

    // The app role cannot read the store, so the password never shows up anywhere it can see.
    let (code, _, stderr) = run(Command::new("psql").args([
        &app_url,
        "-v",
        "ON_ERROR_STOP=1",
        "-c",
        "SELECT * FROM shadow.passwords",
    ]));
    assert_ne!(code, 0);
    assert!(stderr.contains("permission denied"), "{stderr}");

    // Audit: passes, then fails with exit 3 and a JSON finding after a bad grant.
    let (code, stdout, stderr) = run(retort(p, &url).args(["shadow", "audit"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("audit passed"));
    admin
        .batch_execute("GRANT SELECT ON shadow.passwords TO webapp")
        .unwrap();
    let (code, stdout, _) = run(retort(p, &url).args(["shadow", "audit", "--format", "json"]));
    assert_eq!(code, 3);
    let doc = json(&stdout);
    assert_eq!(doc["passed"], false);
    assert_eq!(doc["findings"][0]["code"], "app-table-privilege");
    assert_eq!(
        doc["findings"][0]["fix"],
        "REVOKE ALL ON shadow.passwords FROM webapp"
    );
}

#[test]
fn install_sql_applies_with_psql_and_a_missing_store_is_explained() {
    let c = Cluster::builder().start().unwrap();
    let (url, mut admin) = database(&c, "plain");
    admin.batch_execute("CREATE ROLE app LOGIN").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    let (code, _, stderr) = run_with_stdin(
        retort(p, &url).args(["shadow", "verify", "alice", "--password-stdin"]),
        "x\n",
    );
    assert_eq!(code, 1);
    assert!(
        stderr.contains("no shadow store in schema \"shadow\""),
        "{stderr}"
    );
    assert!(
        stderr.contains("hint: install it with `retort shadow install"),
        "{stderr}"
    );

    let (code, sql, stderr) =
        run(retort(p, &url).args(["shadow", "install", "--sql", "--mode", "bcrypt"]));
    assert_eq!(code, 0, "{stderr}");
    let mut psql = Command::new("psql");
    psql.args([&url, "-q", "-f", "-"]);
    let (code, _, stderr) = run_with_stdin(&mut psql, &sql);
    assert_eq!(code, 0, "{stderr}");
    let (code, stdout, stderr) = run(retort(p, &url).args(["shadow", "audit"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    let mode: String = admin
        .query_one("SELECT mode FROM shadow.parameters()", &[])
        .unwrap()
        .get(0);
    assert_eq!(mode, "bcrypt");
}
