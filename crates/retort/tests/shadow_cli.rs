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

    // From here on, retort connects as the application role itself, or as an operator who
    // holds the admin role.
    admin
        .batch_execute("CREATE ROLE ops LOGIN; GRANT shadow_admin TO ops")
        .unwrap();
    let app_url = format!("{url}&user=webapp");
    let ops_url = format!("{url}&user=ops");
    // Setting a password is the admin's: the app role is refused with a hint that says so.
    let (code, _, stderr) = run_with_stdin(
        retort(p, &app_url).args(["shadow", "set", "zoë", "--password-stdin"]),
        "s3cret ✓\n",
    );
    assert_eq!(code, 1);
    assert!(stderr.contains("permission denied"), "{stderr}");
    assert!(stderr.contains("admin role"), "{stderr}");
    let (code, _, stderr) = run_with_stdin(
        retort(p, &ops_url).args(["shadow", "set", "zoë", "--password-stdin"]),
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
    assert_eq!(
        run(retort(p, &app_url).args(["shadow", "lock", "zoë"])).0,
        1
    );
    let (code, stdout, stderr) = run(retort(p, &ops_url).args(["shadow", "lock", "zoë"]));
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("locked"));
    let (code, stdout, _) = verify("s3cret ✓");
    assert_eq!(
        (code, json(&stdout)["verdict"].as_str()),
        (3, Some("locked"))
    );
    assert_eq!(
        run(retort(p, &ops_url).args(["shadow", "unlock", "zoë"])).0,
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
    let (code, _, stderr) = run(retort(p, &ops_url).args(["shadow", "lock", "nobody"]));
    assert_eq!(code, 1);
    assert!(stderr.contains("no password is stored"));

    // A reset token: printed once on stdout; the app redeems it, once.
    let (code, token, stderr) =
        run(retort(p, &ops_url).args(["shadow", "reset-token", "zoë", "--valid-for", "10min"]));
    assert_eq!(code, 0, "{stderr}");
    let token = token.trim().to_owned();
    assert_eq!(token.len(), 64, "{token}");
    let mut app = retort_pg::connect(&retort_pg::ConnConfig::parse(&app_url).unwrap()).unwrap();
    let store = retort_shadow::blocking::ShadowStore::new("shadow");
    let secret = |s: &str| retort_shadow::SecretString::from(s.to_owned());
    assert!(store
        .reset_password(&mut app, "zoë", &secret(&token), &secret("new ✓"))
        .unwrap());
    assert!(!store
        .reset_password(&mut app, "zoë", &secret(&token), &secret("again"))
        .unwrap());
    assert_eq!(verify("new ✓").0, 0);
    assert_eq!(
        run(retort(p, &app_url).args(["shadow", "reset-token", "zoë"])).0,
        1
    );

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

/// A SCRAM verifier as a version 1 client wrote it: argon2id over the raw UTF-8 bytes.
fn v1_set(app: &mut retort_pg::Client, user: &str, password: &str) {
    use retort_shadow::scram;
    let params = retort_shadow::Argon2Params {
        m_kib: 256,
        t: 1,
        p: 1,
    };
    let salt = scram::random_bytes(16).unwrap();
    let salted = scram::salted_password(
        &retort_shadow::SecretString::from(password.to_owned()),
        &salt,
        params,
    )
    .unwrap();
    let v = scram::verifier(&salted, &salt, params);
    app.execute(
        "SELECT shadow.set_scram($1, $2, 256, 1, 1, $3, $4)",
        &[&user, &salt, &&v.stored_key[..], &&v.server_key[..]],
    )
    .unwrap();
}

/// A wrong login through version 1's functions.
fn v1_fail(app: &mut retort_pg::Client, user: &str) -> String {
    app.query_one(
        "SELECT verdict FROM shadow.finish_login($1, '\\x00', \
         (SELECT server_nonce FROM shadow.begin_login($1)), '\\x00')",
        &[&user],
    )
    .unwrap()
    .get(0)
}

/// Tables, columns, constraints, indexes, functions and their privileges of the store.
const STORE_SHAPE: &str = "
    SELECT 'col ' || c.relname || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
           || ' ' || a.attnotnull || ' ' || coalesce(pg_get_expr(d.adbin, d.adrelid), '') || ' ' || a.attnum
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
      LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
     WHERE n.nspname = 'shadow'
    UNION ALL
    SELECT 'con ' || conrelid::regclass || ' ' || conname || ' ' || pg_get_constraintdef(oid)
      FROM pg_constraint WHERE connamespace = 'shadow'::regnamespace
    UNION ALL
    SELECT 'idx ' || indexrelid::regclass || ' ' || pg_get_indexdef(indexrelid)
      FROM pg_index WHERE indrelid IN (SELECT oid FROM pg_class WHERE relnamespace = 'shadow'::regnamespace)
    UNION ALL
    SELECT 'fn ' || p.oid::regprocedure || ' ' || md5(p.prosrc) || ' ' || p.prosecdef || ' '
           || coalesce(p.proconfig::text, '') || ' ' || coalesce(p.proacl::text, '') || ' '
           || pg_get_function_result(p.oid)
      FROM pg_proc p WHERE p.pronamespace = 'shadow'::regnamespace
    UNION ALL
    SELECT 'rel ' || c.relname || ' ' || c.relowner::regrole || ' ' || coalesce(c.relacl::text, '')
      FROM pg_class c WHERE c.relnamespace = 'shadow'::regnamespace
    UNION ALL
    SELECT 'schema ' || coalesce(nspacl::text, '') FROM pg_namespace WHERE nspname = 'shadow'
    ORDER BY 1";

fn shape(client: &mut retort_pg::Client) -> Vec<String> {
    client
        .query(STORE_SHAPE, &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

#[test]
fn a_version_1_store_upgrades_in_place_with_live_users_and_imports_bcrypt_hashes() {
    let c = Cluster::builder().start().unwrap();
    let (url, mut admin) = database(&c, "old");
    admin.batch_execute("CREATE ROLE app LOGIN").unwrap();
    let mut opts = retort_shadow::InstallOptions::new("app");
    opts.argon2 = retort_shadow::Argon2Params {
        m_kib: 256,
        t: 1,
        p: 1,
    };
    admin.batch_execute(&opts.render_v1().unwrap()).unwrap();
    let app_url = format!("{url}&user=app");
    let mut app = retort_pg::connect(&retort_pg::ConnConfig::parse(&app_url).unwrap()).unwrap();
    v1_set(&mut app, "sam", "potatoes");
    v1_set(&mut app, "rosie", "Ⅸ cottages"); // raw bytes: SASLprep would make it "IX cottages"
    v1_set(&mut app, "merry", "buckland");
    v1_set(&mut app, "pippin", "took");
    for _ in 0..5 {
        v1_fail(&mut app, "merry"); // mid-lockout
    }
    for _ in 0..3 {
        v1_fail(&mut app, "pippin"); // three failures counted
    }
    // Version 1's defect, before the upgrade: the app role unlocks.
    app.query_one("SELECT shadow.unlock('nobody')", &[])
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    let (code, stdout, _) = run(retort(p, &url).args(["shadow", "audit", "--format", "json"]));
    assert_eq!(code, 3);
    assert_eq!(json(&stdout)["findings"][0]["code"], "store-version-1");

    let (code, stdout, stderr) = run(retort(p, &url).args(["shadow", "upgrade"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("from version 1 to 2"), "{stdout}");
    assert!(stdout.contains("audit: passed"), "{stdout}");
    let (code, stdout, _) = run(retort(p, &url).args(["shadow", "upgrade"]));
    assert_eq!(code, 0);
    assert!(stdout.contains("already"), "{stdout}");

    // Everyone logs in as before; the lockout and the counter survived; the app cannot lift them.
    let verify = |user: &str, pw: &str| {
        let (code, stdout, _) = run_with_stdin(
            retort(p, &app_url).args([
                "shadow",
                "verify",
                user,
                "--password-stdin",
                "--format",
                "json",
            ]),
            &format!("{pw}\n"),
        );
        (code, json(&stdout)["rehashed"].as_bool())
    };
    assert_eq!(verify("sam", "potatoes"), (0, Some(true)));
    assert_eq!(verify("sam", "potatoes"), (0, Some(false)));
    assert_eq!(verify("rosie", "Ⅸ cottages"), (0, Some(true)));
    assert_eq!(verify("rosie", "IX cottages"), (0, Some(false)));
    assert_eq!(verify("merry", "buckland").0, 3);
    let mut app = retort_pg::connect(&retort_pg::ConnConfig::parse(&app_url).unwrap()).unwrap();
    let e = app
        .query_one("SELECT shadow.unlock('merry')", &[])
        .unwrap_err();
    assert_eq!(e.code().unwrap().code(), "42501");
    let failures: i32 = admin
        .query_one(
            "SELECT failed_attempts FROM shadow.passwords WHERE username = 'pippin'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(failures, 3);
    for _ in 0..2 {
        assert_eq!(verify("pippin", "wrong").0, 1);
    }
    assert_eq!(verify("pippin", "took").0, 3, "the 5th failure locked it");

    // The upgraded store is exactly a fresh one.
    let (_, mut fresh) = database(&c, "fresh");
    retort_shadow::install(&mut fresh, &opts).unwrap();
    assert_eq!(shape(&mut admin), shape(&mut fresh));

    // Import: bcrypt hashes in an application table, next to hashes the store cannot take.
    admin
        .batch_execute(
            "CREATE ROLE ops LOGIN IN ROLE shadow_admin;
             CREATE TABLE users (email text, digest text);
             GRANT SELECT ON users TO ops;
             INSERT INTO users SELECT 'u' || i || '@example.com',
                    replace(crypt('pw' || i, gen_salt('bf', 4)), '$2a$', (ARRAY['$2a$', '$2b$', '$2y$'])[i % 3 + 1])
               FROM generate_series(1, 30) i;
             INSERT INTO users VALUES ('argon@example.com', '$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA'),
                    ('django@example.com', 'pbkdf2_sha256$600000$salt$hash='),
                    ('nohash@example.com', NULL),
                    ('sam', '$2b$04$abcdefghijklmnopqrstuuabcdefghijklmnopqrstuvwxyz01234');",
        )
        .unwrap();
    let before: Vec<String> = admin
        .query(
            "SELECT email || coalesce(digest, '') FROM users ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let ops_url = format!("{url}&user=ops");
    let (code, stdout, stderr) = run(retort(p, &ops_url).args([
        "shadow",
        "import",
        "--query",
        "SELECT email, digest FROM users",
        "--format",
        "json",
    ]));
    assert_eq!(code, 3, "{stderr}");
    let doc = json(&stdout);
    assert_eq!(doc["imported"], 30);
    assert_eq!(doc["already_in_store"], serde_json::json!(["sam"]));
    assert_eq!(
        doc["refused_by_format"],
        serde_json::json!({"argon2": 1, "empty": 1, "pbkdf2": 1})
    );
    let after: Vec<String> = admin
        .query(
            "SELECT email || coalesce(digest, '') FROM users ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(before, after, "the source is only read");
    for i in [1, 2, 3] {
        assert_eq!(
            verify(&format!("u{i}@example.com"), &format!("pw{i}")),
            (0, Some(true))
        );
    }
    assert_eq!(
        verify("sam", "potatoes").0,
        0,
        "an existing user keeps its password"
    );
    // The same from a CSV file, as the human output says it.
    std::fs::write(
        p.join("hashes.csv"),
        "username,hash\n\"late, comer\",$2b$04$abcdefghijklmnopqrstuuabcdefghijklmnopqrstuvwxyz01234\nmd5,$1$salt$hash\n",
    )
    .unwrap();
    let (code, stdout, stderr) =
        run(retort(p, &ops_url).args(["shadow", "import", "--csv", "hashes.csv"]));
    assert_eq!(code, 3, "{stderr}");
    assert!(stdout.contains("imported 1 bcrypt hash(es)"), "{stdout}");
    assert!(stdout.contains("1 x md5-crypt"), "{stdout}");
    assert!(stdout.contains("row 3: \"md5\""), "{stdout}");
    // The app role cannot import.
    let (code, _, stderr) =
        run(retort(p, &app_url).args(["shadow", "import", "--csv", "hashes.csv"]));
    assert_eq!(code, 1);
    assert!(stderr.contains("permission denied"), "{stderr}");
}

#[test]
fn the_upgrade_as_a_migration() {
    let c = Cluster::builder().start().unwrap();
    let (url, mut admin) = database(&c, "versioned");
    admin.batch_execute("CREATE ROLE app LOGIN").unwrap();
    let opts = retort_shadow::InstallOptions::new("app");
    admin.batch_execute(&opts.render_v1().unwrap()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    assert_eq!(run(retort(p, &url).arg("init")).0, 0);
    let (code, stdout, stderr) =
        run(retort(p, &url).args(["shadow", "upgrade", "--emit-migration"]));
    assert_eq!(code, 0, "{stderr}");
    let text = std::fs::read_to_string(p.join(stdout.trim())).unwrap();
    assert!(text.contains("ALTER TABLE shadow.passwords"), "{text}");
    assert!(text.contains("cannot be undone"), "{text}");
    let (code, _, stderr) = run(retort(p, &url).arg("upgrade"));
    assert_eq!(code, 0, "{stderr}");
    let v: i32 = admin
        .query_one("SELECT store_version FROM shadow.settings", &[])
        .unwrap()
        .get(0);
    assert_eq!(v, 2);
    let (code, stdout, stderr) = run(retort(p, &url).args(["shadow", "audit"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
}
