//! `retort diff`, `retort check` and `retort new --autogenerate` through the binary.

mod project;

use project::{database, retort, run};
use retort_cluster::Cluster;
use retort_pg::ConnConfig;

#[test]
fn autogenerate_upgrade_and_check_catch_drift_both_ways() {
    let c = Cluster::builder().start().unwrap();
    let (url, _) = database(&c, "app");
    let p = tempfile::tempdir().unwrap();
    let p = p.path();
    assert_eq!(run(retort(p, &url).arg("init")).0, 0);
    std::fs::write(p.join("schema.sql"), "CREATE TYPE state AS ENUM ('new', 'done');\nCREATE TABLE tasks (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, title text NOT NULL, s state NOT NULL DEFAULT 'new');\n").unwrap();
    // Default dev server: a throwaway local cluster retort starts and removes itself.
    let (code, out, err) = run(retort(p, &url).args(["new", "-m", "tasks", "--autogenerate"]));
    assert_eq!(code, 0, "{err}");
    let file = p.join(out.trim());
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        text.contains("CREATE TABLE public.tasks")
            && text.contains("-- retort:down")
            && text.contains("DROP TABLE public.tasks"),
        "{text}"
    );
    let (code, _, err) = run(retort(p, &url).arg("upgrade"));
    assert_eq!(code, 0, "{err}");
    let dev = c.primary_url();
    let (code, out, err) = run(retort(p, &url).args(["check", "--dev-url", &dev]));
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("matches the migrations head"), "{out}");
    // --to takes the wanted schema from another database instead of schema.sql.
    let (wanted, _) = database(&c, "wanted");
    retort_pg::connect(&ConnConfig::parse(&wanted).unwrap()).unwrap()
        .batch_execute("CREATE TYPE state AS ENUM ('new', 'done'); CREATE TABLE tasks (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, title text NOT NULL, s state NOT NULL DEFAULT 'new', prio int);")
        .unwrap();
    let (code, out, err) = run(retort(p, &url).args([
        "new",
        "-m",
        "prio",
        "--autogenerate",
        "--to",
        &wanted,
        "--dev-url",
        &dev,
        "--format",
        "json",
    ]));
    assert_eq!(code, 0, "{err}");
    let path = serde_json::from_str::<serde_json::Value>(&out).unwrap()["path"]
        .as_str()
        .unwrap()
        .to_owned();
    let text = std::fs::read_to_string(p.join(&path)).unwrap();
    assert!(
        text.contains("ADD COLUMN prio integer") && text.contains("DROP COLUMN prio"),
        "{text}"
    );
    std::fs::remove_file(p.join(&path)).unwrap();
    // Nothing new: no file.
    let (code, _, err) =
        run(retort(p, &url).args(["new", "-m", "nothing", "--autogenerate", "--dev-url", &dev]));
    assert_eq!(code, 0);
    assert!(err.contains("no changes"), "{err}");
    assert_eq!(std::fs::read_dir(p.join("migrations")).unwrap().count(), 1);

    // schema.sql moves ahead: check says so (exit 3), autogenerate catches up.
    std::fs::write(p.join("schema.sql"), "CREATE TYPE state AS ENUM ('new', 'doing', 'done');\nCREATE TABLE tasks (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, title text NOT NULL, s state NOT NULL DEFAULT 'new', due date);\nCREATE INDEX tasks_due ON tasks (due);\n").unwrap();
    let (code, out, _) = run(retort(p, &url).args(["check", "--dev-url", &dev]));
    assert_eq!(code, 3, "{out}");
    assert!(
        out.contains("schema.sql has changes") && out.contains("ADD COLUMN due date"),
        "{out}"
    );
    let (code, out, err) = run(retort(p, &url).args([
        "new",
        "-m",
        "due dates",
        "--autogenerate",
        "--dev-url",
        &dev,
    ]));
    assert_eq!(code, 0, "{err}");
    let text = std::fs::read_to_string(p.join(out.trim())).unwrap();
    assert!(
        text.contains("-- retort:transaction off"),
        "enum values are added outside a transaction: {text}"
    );
    assert!(text.contains("ADD VALUE 'doing'"), "{text}");
    let (code, _, err) = run(retort(p, &url).arg("upgrade"));
    assert_eq!(code, 0, "{err}");
    let (code, out, err) =
        run(retort(p, &url).args(["check", "--dev-url", &dev, "--format", "json"]));
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&out).unwrap()["ok"],
        true
    );

    // Someone changes production by hand: drift.
    let mut client = retort_pg::connect(&ConnConfig::parse(&url).unwrap()).unwrap();
    client
        .batch_execute("ALTER TABLE tasks ADD COLUMN hotfix int")
        .unwrap();
    let (code, out, _) = run(retort(p, &url).args(["check", "--dev-url", &dev]));
    assert_eq!(code, 3);
    assert!(
        out.contains("DRIFT: the database") && out.contains("DROP COLUMN hotfix"),
        "{out}"
    );

    // An applied migration edited afterwards is a finding too.
    client
        .batch_execute("ALTER TABLE tasks DROP COLUMN hotfix")
        .unwrap();
    let first = std::fs::read_dir(p.join("migrations"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .min()
        .unwrap();
    let original = std::fs::read_to_string(&first).unwrap();
    std::fs::write(
        &first,
        original.replace("-- retort:up\n", "-- retort:up\n-- edited later\n"),
    )
    .unwrap();
    let (code, out, _) = run(retort(p, &url).args(["check", "--dev-url", &dev]));
    assert_eq!(code, 3);
    assert!(
        out.contains("EDITED:") && out.contains("retort repair"),
        "{out}"
    );
    std::fs::write(&first, original).unwrap();
    client
        .batch_execute("ALTER TABLE tasks ADD COLUMN hotfix int")
        .unwrap();

    // The generated down sections work: back to base leaves no table.
    client
        .batch_execute("ALTER TABLE tasks DROP COLUMN hotfix")
        .unwrap();
    let (code, _, err) = run(retort(p, &url).args(["downgrade", "base"]));
    assert_eq!(code, 0, "{err}");
    let n: i64 = client
        .query_one("SELECT count(*) FROM pg_class WHERE relname = 'tasks'", &[])
        .unwrap()
        .get(0);
    assert_eq!(n, 0);
}

#[test]
fn diff_of_files_and_urls_with_exit_codes() {
    let c = Cluster::builder().start().unwrap();
    let (url, _) = database(&c, "live");
    let dev = c.primary_url();
    let p = tempfile::tempdir().unwrap();
    let p = p.path();
    std::fs::write(p.join("a.sql"), "CREATE TABLE t (id int);\n").unwrap();
    std::fs::create_dir(p.join("b")).unwrap();
    std::fs::write(p.join("b/01_t.sql"), "CREATE TABLE t (id int, v text);\n").unwrap();
    std::fs::write(p.join("b/02_v.sql"), "CREATE VIEW tv AS SELECT v FROM t;\n").unwrap();
    let (code, out, err) =
        run(retort(p, &url).args(["diff", "a.sql", "b", "--exit-code", "--dev-url", &dev]));
    assert_eq!(code, 3, "{err}");
    assert!(
        out.contains("ALTER TABLE public.t ADD COLUMN v text;")
            && out.contains("CREATE VIEW public.tv"),
        "{out}"
    );
    let (code, out, err) =
        run(retort(p, &url).args(["diff", "b", "b", "--exit-code", "--dev-url", &dev]));
    assert_eq!((code, out.as_str()), (0, ""), "{err}");
    assert!(err.contains("no differences"));
    // A live database against a file, as JSON; destructive steps are flagged.
    retort_pg::connect(&ConnConfig::parse(&url).unwrap())
        .unwrap()
        .batch_execute("CREATE TABLE t (id int, gone text)")
        .unwrap();
    let (code, out, err) =
        run(retort(p, &url).args(["diff", &url, "a.sql", "--format", "json", "--dev-url", &dev]));
    assert_eq!(code, 0, "{err}");
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(doc["sql"].as_str().unwrap().contains("DROP COLUMN gone"));
    assert!(doc["destructive"][0]
        .as_str()
        .unwrap()
        .contains("drops column(s) gone"));
    assert_eq!(doc["changes"][0]["object"], "table public.t");
    assert_eq!(doc["changes"][0]["action"], "alter");
    assert!(
        !err.contains("postgres@"),
        "no URL leaks into output: {err}"
    );
    // --schema / --exclude-schema narrow what is compared.
    std::fs::write(
        p.join("two1.sql"),
        "CREATE SCHEMA x; CREATE SCHEMA y; CREATE TABLE x.a (id int); CREATE TABLE y.b (id int);\n",
    )
    .unwrap();
    std::fs::write(p.join("two2.sql"), "CREATE SCHEMA x; CREATE SCHEMA y; CREATE TABLE x.a (id int, n int); CREATE TABLE y.b (id int, m int);\n").unwrap();
    let (code, out, err) = run(retort(p, &url).args([
        "diff",
        "two1.sql",
        "two2.sql",
        "--schema",
        "x",
        "--dev-url",
        &dev,
    ]));
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("x.a ADD COLUMN n") && !out.contains("y.b"),
        "{out}"
    );
    let (_, out, _) = run(retort(p, &url).args([
        "diff",
        "two1.sql",
        "two2.sql",
        "--exclude-schema",
        "x",
        "--dev-url",
        &dev,
    ]));
    assert!(
        out.contains("y.b ADD COLUMN m") && !out.contains("x.a"),
        "{out}"
    );
    // Objects retort does not model are named, not silently passed over: the catalog rows
    // show the difference the script cannot make, and the diff fails.
    std::fs::write(
        p.join("unmodelled.sql"),
        "CREATE TABLE t (id int);\nCREATE TYPE defined_later;\n",
    )
    .unwrap();
    let (code, _, err) =
        run(retort(p, &url).args(["diff", "a.sql", "unmodelled.sql", "--dev-url", &dev]));
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("TO has 1 base or shell type that retort does not compare")
            && err.contains("retort cannot write 1 change(s) yet")
            && err.contains("pg_type public.defined_later: only in the second database"),
        "{err}"
    );
}

#[test]
fn schema_files_that_do_not_load_are_reported_with_file_and_line() {
    let c = Cluster::builder().start().unwrap();
    let (url, _) = database(&c, "bad");
    let dev = c.primary_url();
    let p = tempfile::tempdir().unwrap();
    let p = p.path();
    std::fs::write(p.join("good.sql"), "CREATE TABLE t (id int);\n").unwrap();
    std::fs::write(
        p.join("broken.sql"),
        "CREATE TABLE a (id int);\n\nCREATE TABLE b (id int REFERENCES\n  nowhere (id));\n",
    )
    .unwrap();
    let (code, _, err) =
        run(retort(p, &url).args(["diff", "good.sql", "broken.sql", "--dev-url", &dev]));
    assert_eq!(code, 1);
    assert!(
        err.contains("broken.sql:3") && err.contains("nowhere") && err.contains("42P01"),
        "{err}"
    );
    // The server's error position points inside a multi-line statement: that line is named.
    std::fs::write(
        p.join("typo.sql"),
        "CREATE TABLE c (\n  id int,\n  x nosuchtype\n);\n",
    )
    .unwrap();
    let (code, _, err) =
        run(retort(p, &url).args(["diff", "good.sql", "typo.sql", "--dev-url", &dev]));
    assert_eq!(code, 1);
    assert!(
        err.contains("typo.sql:3") && err.contains("nosuchtype"),
        "{err}"
    );
    std::fs::write(p.join("ext.sql"), "CREATE EXTENSION no_such_extension;\n").unwrap();
    let (code, _, err) =
        run(retort(p, &url).args(["diff", "good.sql", "ext.sql", "--dev-url", &dev]));
    assert_eq!(code, 1);
    assert!(
        err.contains("ext.sql:1")
            && err.contains("no_such_extension")
            && err.contains("hint:")
            && err.contains("extension"),
        "{err}"
    );
    let (code, _, err) =
        run(retort(p, &url).args(["diff", "good.sql", "missing.sql", "--dev-url", &dev]));
    assert_eq!(code, 1);
    assert!(err.contains("missing.sql: no such file"), "{err}");
    let (code, _, err) = run(retort(p, &url).args([
        "diff",
        "postgres://nobody:s3cret@127.0.0.1:1/x",
        "good.sql",
        "--dev-url",
        &dev,
    ]));
    assert_eq!(code, 1);
    assert!(
        err.contains("could not connect") && !err.contains("s3cret"),
        "{err}"
    );
    std::fs::write(
        p.join("meta.sql"),
        "CREATE TABLE t (id int);\n\\i other.sql\n",
    )
    .unwrap();
    let (code, _, err) =
        run(retort(p, &url).args(["diff", "good.sql", "meta.sql", "--dev-url", &dev]));
    assert_eq!(code, 1);
    assert!(
        err.contains("meta.sql:2") && err.contains("meta-command"),
        "{err}"
    );
}

/// `retort diff A B | psql -v ON_ERROR_STOP=1` applies as printed: a SQL function naming a table
/// created later in the script (check_function_bodies must be off inside the script's own
/// transaction), and a script that must run outside a transaction (a new enum value used later).
#[test]
fn printed_diff_applies_with_psql_as_is() {
    use std::io::Write;
    use std::process::Stdio;

    let c = retort_cluster::Cluster::builder().start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    let cases = [
        (
            "CREATE TABLE a (id int);\n",
            "CREATE TABLE a (id int);\n\
             CREATE TABLE z_later (id int);\n\
             CREATE FUNCTION count_z() RETURNS bigint LANGUAGE sql AS $$ SELECT count(*) FROM z_later $$;\n\
             CREATE VIEW v AS SELECT count_z() AS n;\n",
        ),
        (
            "CREATE TYPE mood AS ENUM ('ok');\nCREATE TABLE p (m mood);\n",
            "CREATE TYPE mood AS ENUM ('ok', 'happy');\nCREATE TABLE p (m mood DEFAULT 'happy');\n",
        ),
    ];
    for (i, (from, to)) in cases.iter().enumerate() {
        let (a_url, _) = project::database(&c, &format!("from{i}"));
        std::fs::write(p.join("from.sql"), from).unwrap();
        std::fs::write(p.join("to.sql"), to).unwrap();
        let load = std::process::Command::new(c.binaries().program("psql"))
            .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", &a_url, "-f"])
            .arg(p.join("from.sql"))
            .output()
            .unwrap();
        assert!(load.status.success());
        let dev = c.primary_url();
        let (code, script, stderr) = project::run(project::retort(p, &a_url).args([
            "diff",
            &a_url,
            "to.sql",
            "--dev-url",
            &dev,
        ]));
        assert_eq!(code, 0, "{stderr}");
        let mut psql = std::process::Command::new(c.binaries().program("psql"))
            .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", &a_url, "-f", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        psql.stdin
            .take()
            .unwrap()
            .write_all(script.as_bytes())
            .unwrap();
        let out = psql.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "case {i}:\n{script}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            !String::from_utf8_lossy(&out.stderr).contains("WARNING"),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // Applied, it leaves nothing to diff.
        let (code, _, stderr) = project::run(project::retort(p, &a_url).args([
            "diff",
            &a_url,
            "to.sql",
            "--dev-url",
            &dev,
            "--exit-code",
        ]));
        assert_eq!(code, 0, "case {i}: {stderr}");
    }
}

/// Many destructive changes are summarised per kind on stderr, not listed one line each.
#[test]
fn many_destructive_changes_get_one_summary_line() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    let a: String = (0..8)
        .map(|i| format!("CREATE TABLE t{i} (id int, c text);\n"))
        .chain(["CREATE TABLE n (v bigint);\n".to_string()])
        .collect();
    let b: String = (0..6)
        .map(|i| format!("CREATE TABLE t{i} (id int);\n"))
        .chain(["CREATE TABLE n (v int);\n".to_string()])
        .collect();
    std::fs::write(p.join("a.sql"), a).unwrap();
    std::fs::write(p.join("b.sql"), b).unwrap();
    let (code, sql, stderr) =
        run(retort(p, "postgresql://nobody@127.0.0.1:1/none").args(["diff", "a.sql", "b.sql"]));
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(sql.matches("-- DESTRUCTIVE").count(), 9, "{sql}");
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("destructive"))
        .collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(
        lines[0].contains("9 destructive changes")
            && lines[0].contains("2 x drops table")
            && lines[0].contains("6 x drops column(s)")
            && lines[0].contains("1 x changes the type"),
        "{stderr}"
    );
}

/// `retort check` caches the migrations head and schema.sql catalogs: the second run reads them
/// from the cache (and starts no server for them), an edited migration or schema file is a
/// miss, and what the cache returns gives the same verdict as a fresh build.
#[test]
fn check_caches_what_it_builds_and_an_edit_invalidates_it() {
    let c = Cluster::builder().start().unwrap();
    let (url, _) = database(&c, "app");
    let cache = tempfile::tempdir().unwrap();
    let p = tempfile::tempdir().unwrap();
    let p = p.path();
    let dev = c.primary_url();
    let check = |extra: &[&str]| {
        let mut cmd = retort(p, &url);
        cmd.env("RETORT_CACHE_DIR", cache.path())
            .args(["check", "--dev-url", &dev, "--format", "json"])
            .args(extra);
        let (code, out, err) = run(&mut cmd);
        (code, project::json(&out), err)
    };
    assert_eq!(run(retort(p, &url).arg("init")).0, 0);
    std::fs::write(
        p.join("schema.sql"),
        "CREATE TABLE notes (id bigint PRIMARY KEY, body text);\n",
    )
    .unwrap();
    std::fs::write(
        p.join("migrations/000000000001_notes.sql"),
        "-- retort:revision 000000000001\n-- retort:message notes\n\n-- retort:up\nCREATE TABLE notes (id bigint PRIMARY KEY, body text);\n\n-- retort:down\nDROP TABLE notes;\n",
    )
    .unwrap();
    assert_eq!(run(retort(p, &url).arg("upgrade")).0, 0);

    let (code, first, err) = check(&[]);
    assert_eq!(code, 0, "{first}{err}");
    assert_eq!(first["cache"]["migrations_head"], "miss", "{first}");
    assert_eq!(first["cache"]["schema_file"], "miss", "{first}");
    let (code, second, err) = check(&[]);
    assert_eq!(code, 0, "{second}{err}");
    assert_eq!(second["cache"]["migrations_head"], "hit", "{second}");
    assert_eq!(second["cache"]["schema_file"], "hit", "{second}");
    let (code, _, err) = run(retort(p, &url).env("RETORT_CACHE_DIR", cache.path()).args([
        "check",
        "--dev-url",
        &dev,
    ]));
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("catalog cache"), "{err}");
    let (_, off, _) = check(&["--no-cache"]);
    assert_eq!(off["cache"]["migrations_head"], "off", "{off}");

    // The migration is edited (and applied by hand so the database matches): a miss, and the
    // head now has the new column, so the stale entry would have reported drift.
    std::fs::write(
        p.join("migrations/000000000001_notes.sql"),
        "-- retort:revision 000000000001\n-- retort:message notes\n\n-- retort:up\nCREATE TABLE notes (id bigint PRIMARY KEY, body text, pinned boolean);\n\n-- retort:down\nDROP TABLE notes;\n",
    )
    .unwrap();
    retort_pg::connect(&ConnConfig::parse(&url).unwrap())
        .unwrap()
        .batch_execute("ALTER TABLE notes ADD COLUMN pinned boolean")
        .unwrap();
    let (code, edited, err) = check(&[]);
    assert_eq!(edited["cache"]["migrations_head"], "miss", "{edited}");
    assert_eq!(edited["live"]["differs"], false, "{edited}");
    assert_eq!(
        code, 3,
        "schema.sql lags and the migration was edited: {edited}{err}"
    );
    assert_eq!(edited["edited_migrations"].as_array().unwrap().len(), 1);
    // schema.sql catches up: that entry misses, the head's hits.
    std::fs::write(
        p.join("schema.sql"),
        "CREATE TABLE notes (id bigint PRIMARY KEY, body text, pinned boolean);\n",
    )
    .unwrap();
    let (_, after, _) = check(&[]);
    assert_eq!(after["cache"]["schema_file"], "miss", "{after}");
    assert_eq!(after["cache"]["migrations_head"], "hit", "{after}");
    assert_eq!(after["schema_file"]["differs"], false, "{after}");
}

/// `pg_dump --schema-only > schema.sql` is how many teams write down the schema they have:
/// that file, `\restrict` lines and session SETs included, loads as the desired state and
/// matches the database it came from (hand-written varchar IN lists and all).
#[test]
fn a_pg_dump_of_the_database_is_a_schema_file_that_matches_it() {
    let c = Cluster::builder().start().unwrap();
    let (url, mut client) = database(&c, "dumped");
    client
        .batch_execute(
            "CREATE TABLE accounts (id bigserial PRIMARY KEY, \
               status varchar(16) NOT NULL CHECK (status IN ('active', 'closed')), \
               created timestamptz DEFAULT '2024-01-01 00:00:00+00'); \
             CREATE INDEX accounts_open ON accounts (id) WHERE status IN ('active'); \
             CREATE VIEW open_accounts AS SELECT id FROM accounts WHERE status NOT IN ('closed'); \
             ALTER DATABASE dumped SET timezone = 'America/New_York'",
        )
        .unwrap();
    let dump = std::process::Command::new(c.binaries().program("pg_dump"))
        .args(["--schema-only", "--dbname", &url])
        .output()
        .unwrap();
    assert!(dump.status.success());
    let p = tempfile::tempdir().unwrap();
    let p = p.path();
    std::fs::write(p.join("schema.sql"), &dump.stdout).unwrap();
    let dev = c.primary_url();
    let (code, out, err) =
        run(retort(p, &url).args(["diff", &url, "schema.sql", "--exit-code", "--dev-url", &dev]));
    assert_eq!((code, out.as_str()), (0, ""), "{err}");
    assert!(err.contains("no differences"), "{err}");
}

#[test]
fn autogenerate_writes_online_forms_for_tables_that_hold_data() {
    let c = Cluster::builder().start().unwrap();
    let (url, mut client) = database(&c, "online");
    let p = tempfile::tempdir().unwrap();
    let p = p.path();
    assert_eq!(run(retort(p, &url).arg("init")).0, 0);
    let base = "CREATE TABLE accounts (id bigint PRIMARY KEY);\nCREATE TABLE orders (id bigint PRIMARY KEY, account bigint, code text, qty int);\nCREATE TABLE tiny (id int PRIMARY KEY, v text);\n";
    std::fs::write(p.join("schema.sql"), base).unwrap();
    let dev = c.primary_url();
    let (code, _, err) =
        run(retort(p, &url).args(["new", "-m", "base", "--autogenerate", "--dev-url", &dev]));
    assert_eq!(code, 0, "{err}");
    assert_eq!(run(retort(p, &url).arg("upgrade")).0, 0);
    client
        .batch_execute(
            "INSERT INTO accounts SELECT g FROM generate_series(1, 100) g;
             INSERT INTO orders SELECT g, 1 + g % 100, 'c' || g, 1 FROM generate_series(1, 20000) g;
             ANALYZE accounts, orders;",
        )
        .unwrap();
    // The wanted schema: an index, a foreign key, a CHECK, a UNIQUE and a NOT NULL on the
    // populated table; the same kinds of change on the tiny one.
    std::fs::write(
        p.join("schema.sql"),
        format!(
            "{base}CREATE INDEX orders_code ON orders (lower(code));
ALTER TABLE orders ADD CONSTRAINT orders_account_fkey FOREIGN KEY (account) REFERENCES accounts;
ALTER TABLE orders ADD CONSTRAINT orders_qty_check CHECK (qty > 0);
ALTER TABLE orders ADD CONSTRAINT orders_code_key UNIQUE (code);
ALTER TABLE orders ALTER COLUMN code SET NOT NULL;
CREATE INDEX tiny_v ON tiny (v);
ALTER TABLE tiny ALTER COLUMN v SET NOT NULL;
"
        ),
    )
    .unwrap();
    let (code, out, err) = run(retort(p, &url).args([
        "new",
        "-m",
        "order rules",
        "--autogenerate",
        "--dev-url",
        &dev,
    ]));
    assert_eq!(code, 0, "{err}");
    let files: Vec<String> = out
        .lines()
        .map(|l| std::fs::read_to_string(p.join(l)).unwrap())
        .collect();
    assert_eq!(files.len(), 3, "{out}\n{err}");
    let (main, concurrent, validate) = (&files[0], &files[1], &files[2]);
    assert!(
        main.contains("FOREIGN KEY (account) REFERENCES public.accounts(id) NOT VALID"),
        "{main}"
    );
    assert!(main.contains("CHECK ((qty > 0)) NOT VALID"), "{main}");
    assert!(
        main.contains("CHECK (code IS NOT NULL) NOT VALID"),
        "{main}"
    );
    assert!(!main.contains("CREATE INDEX orders_code"), "{main}");
    // The tiny table keeps the simple forms, in the main migration.
    assert!(
        main.contains("CREATE INDEX tiny_v") && main.contains("ALTER COLUMN v SET NOT NULL"),
        "{main}"
    );
    assert!(
        concurrent.contains("-- retort:transaction off"),
        "{concurrent}"
    );
    assert!(
        concurrent.contains("CREATE INDEX CONCURRENTLY orders_code ON public.orders"),
        "{concurrent}"
    );
    assert!(
        concurrent.contains("CREATE UNIQUE INDEX CONCURRENTLY orders_code_key"),
        "{concurrent}"
    );
    assert!(
        concurrent.contains("DROP INDEX CONCURRENTLY IF EXISTS public.orders_code"),
        "{concurrent}"
    );
    assert!(
        validate.contains("VALIDATE CONSTRAINT orders_account_fkey"),
        "{validate}"
    );
    assert!(
        validate.contains("ADD CONSTRAINT orders_code_key UNIQUE USING INDEX orders_code_key"),
        "{validate}"
    );
    assert!(
        validate.contains("ALTER COLUMN code SET NOT NULL"),
        "{validate}"
    );
    assert!(
        validate.contains("DROP CONSTRAINT orders_code_not_null"),
        "{validate}"
    );

    // Applied while a writer holds the table in an open transaction: the main migration waits
    // at most lock_timeout per try, and goes through once the writer commits.
    std::fs::write(
        p.join("retort.toml"),
        std::fs::read_to_string(p.join("retort.toml"))
            .unwrap()
            .replace("lock_timeout = \"5s\"", "lock_timeout = \"300ms\""),
    )
    .unwrap();
    let mut writer = retort_pg::connect(&ConnConfig::parse(&url).unwrap()).unwrap();
    writer
        .batch_execute("BEGIN; INSERT INTO orders VALUES (20001, 1, 'late', 1)")
        .unwrap();
    let release = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(1200));
        writer.batch_execute("COMMIT").unwrap();
    });
    let (code, _, err) = run(retort(p, &url).args(["upgrade", "--lock-retries", "8"]));
    release.join().unwrap();
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("hit lock_timeout"), "{err}");
    let (code, out, err) = run(retort(p, &url).args(["check", "--dev-url", &dev, "--no-cache"]));
    assert_eq!(code, 0, "{out}{err}");
    // Down, all three, back to the base.
    let (code, _, err) = run(retort(p, &url).args(["downgrade", "-3"]));
    assert_eq!(code, 0, "{err}");
    let constraints: i64 = client
        .query_one("SELECT count(*) FROM pg_constraint WHERE conrelid = 'orders'::regclass AND contype <> 'p'", &[])
        .unwrap()
        .get(0);
    assert_eq!(constraints, 0);
    // What autogenerate wrote lints clean: the online forms are the ones the lint asks for.
    let (code, out, err) = run(retort(p, &url).arg("lint"));
    assert_eq!(code, 0, "{out}{err}");
}

#[test]
fn a_type_change_that_rewrites_a_populated_table_stops_autogenerate_with_the_steps() {
    let c = Cluster::builder().start().unwrap();
    let (url, mut client) = database(&c, "rewrite");
    let p = tempfile::tempdir().unwrap();
    let p = p.path();
    assert_eq!(run(retort(p, &url).arg("init")).0, 0);
    let dev = c.primary_url();
    std::fs::write(
        p.join("schema.sql"),
        "CREATE TABLE orders (id bigint PRIMARY KEY, qty int, code varchar(10));\n\
         CREATE INDEX orders_qty ON orders (qty) WHERE qty > 0;\n",
    )
    .unwrap();
    assert_eq!(
        run(retort(p, &url).args(["new", "-m", "base", "--autogenerate", "--dev-url", &dev])).0,
        0
    );
    assert_eq!(run(retort(p, &url).arg("upgrade")).0, 0);
    client
        .batch_execute(
            "INSERT INTO orders SELECT g, 1, 'c' FROM generate_series(1, 20000) g; ANALYZE orders;",
        )
        .unwrap();
    let count = |p: &std::path::Path| std::fs::read_dir(p.join("migrations")).unwrap().count();
    // varchar(10) -> varchar(20) is done in place: no question asked.
    std::fs::write(
        p.join("schema.sql"),
        "CREATE TABLE orders (id bigint PRIMARY KEY, qty int, code varchar(20));\n\
         CREATE INDEX orders_qty ON orders (qty) WHERE qty > 0;\n",
    )
    .unwrap();
    let (code, _, err) = run(retort(p, &url).args([
        "new",
        "-m",
        "wider code",
        "--autogenerate",
        "--dev-url",
        &dev,
    ]));
    assert_eq!(code, 0, "{err}");
    assert_eq!(count(p), 2);
    assert_eq!(run(retort(p, &url).arg("upgrade")).0, 0);
    // int -> bigint rewrites 20,000 rows, and an index's predicate names the column (so it is
    // not done in two phases: only plain column lists are rebuilt on the new column):
    // autogenerate stops and says what to do.
    std::fs::write(
        p.join("schema.sql"),
        "CREATE TABLE orders (id bigint PRIMARY KEY, qty bigint, code varchar(20));\n\
         CREATE INDEX orders_qty ON orders (qty) WHERE qty > 0;\n",
    )
    .unwrap();
    let (code, _, err) = run(retort(p, &url).args([
        "new",
        "-m",
        "wider qty",
        "--autogenerate",
        "--dev-url",
        &dev,
    ]));
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("public.orders.qty from integer to bigint"),
        "{err}"
    );
    assert!(
        err.contains("expand and contract") && err.contains("--allow-rewrite"),
        "{err}"
    );
    assert_eq!(count(p), 2, "nothing written");
    let (code, _, err) = run(retort(p, &url).args([
        "new",
        "-m",
        "wider qty",
        "--autogenerate",
        "--dev-url",
        &dev,
        "--allow-rewrite",
    ]));
    assert_eq!(code, 0, "{err}");
    // The rewriting ALTER, and the index built again concurrently after it.
    assert_eq!(count(p), 4);
}

#[test]
fn a_unique_constraint_a_new_foreign_key_needs_stays_in_the_main_migration() {
    let c = Cluster::builder().start().unwrap();
    let (url, mut client) = database(&c, "unique_fk");
    let p = tempfile::tempdir().unwrap();
    let p = p.path();
    assert_eq!(run(retort(p, &url).arg("init")).0, 0);
    let dev = c.primary_url();
    let base = "CREATE TABLE accounts (id bigint PRIMARY KEY, email text NOT NULL);\n";
    std::fs::write(p.join("schema.sql"), base).unwrap();
    assert_eq!(
        run(retort(p, &url).args(["new", "-m", "base", "--autogenerate", "--dev-url", &dev])).0,
        0
    );
    assert_eq!(run(retort(p, &url).arg("upgrade")).0, 0);
    client
        .batch_execute("INSERT INTO accounts SELECT g, 'u' || g FROM generate_series(1, 20000) g; ANALYZE accounts;")
        .unwrap();
    std::fs::write(
        p.join("schema.sql"),
        format!("{base}ALTER TABLE accounts ADD CONSTRAINT accounts_email_key UNIQUE (email);\nCREATE TABLE payments (id bigint PRIMARY KEY, email text REFERENCES accounts (email));\n"),
    )
    .unwrap();
    let (code, out, err) =
        run(retort(p, &url).args(["new", "-m", "payments", "--autogenerate", "--dev-url", &dev]));
    assert_eq!(code, 0, "{err}");
    let main = std::fs::read_to_string(p.join(out.lines().next().unwrap())).unwrap();
    assert!(
        main.contains("ADD CONSTRAINT accounts_email_key UNIQUE (email)"),
        "{main}"
    );
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(
        !main
            .lines()
            .any(|l| l.starts_with("ALTER TABLE") && l.contains("USING INDEX")),
        "{main}"
    );
    let (code, _, err) = run(retort(p, &url).arg("upgrade"));
    assert_eq!(code, 0, "{err}");
    let (code, o, e) = run(retort(p, &url).args(["check", "--dev-url", &dev, "--no-cache"]));
    assert_eq!(code, 0, "{o}{e}");
}

#[test]
fn a_unique_index_turned_into_a_constraint_of_the_same_name_applies_on_a_populated_table() {
    let c = Cluster::builder().start().unwrap();
    let (url, mut client) = database(&c, "index_to_constraint");
    let p = tempfile::tempdir().unwrap();
    let p = p.path();
    assert_eq!(run(retort(p, &url).arg("init")).0, 0);
    let dev = c.primary_url();
    let table = "CREATE TABLE accounts (id bigint PRIMARY KEY, email text NOT NULL);\n";
    std::fs::write(
        p.join("schema.sql"),
        format!("{table}CREATE UNIQUE INDEX accounts_email_key ON accounts (email);\n"),
    )
    .unwrap();
    assert_eq!(
        run(retort(p, &url).args(["new", "-m", "base", "--autogenerate", "--dev-url", &dev])).0,
        0
    );
    assert_eq!(run(retort(p, &url).arg("upgrade")).0, 0);
    client
        .batch_execute("INSERT INTO accounts SELECT g, 'u' || g FROM generate_series(1, 20000) g; ANALYZE accounts;")
        .unwrap();
    std::fs::write(
        p.join("schema.sql"),
        // INCLUDE keeps the constraint in the main migration, which must drop the old index first.
        format!("{table}ALTER TABLE accounts ADD CONSTRAINT accounts_email_key UNIQUE (email) INCLUDE (id);\n"),
    )
    .unwrap();
    let (code, _, err) = run(retort(p, &url).args([
        "new",
        "-m",
        "as a constraint",
        "--autogenerate",
        "--dev-url",
        &dev,
    ]));
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = run(retort(p, &url).arg("upgrade"));
    assert_eq!(code, 0, "{err}");
    let (code, o, e) = run(retort(p, &url).args(["check", "--dev-url", &dev, "--no-cache"]));
    assert_eq!(code, 0, "{o}{e}");
}

/// What the model does not hold still counts: a trigger disabled on one partition (an empty
/// diff once called these databases equal) is drift, named with the catalog column and both
/// values.
#[test]
fn check_reports_drift_the_model_cannot_write() {
    let c = Cluster::builder().start().unwrap();
    let (url, mut client) = database(&c, "closed_world");
    let p = tempfile::tempdir().unwrap();
    let p = p.path();
    assert_eq!(run(retort(p, &url).arg("init")).0, 0);
    let dev = c.primary_url();
    std::fs::write(
        p.join("schema.sql"),
        "CREATE TABLE p (x int) PARTITION BY RANGE (x);\n\
         CREATE TABLE p1 PARTITION OF p FOR VALUES FROM (0) TO (10);\n\
         CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$;\n\
         CREATE TRIGGER trg AFTER INSERT ON p FOR EACH ROW EXECUTE FUNCTION f();\n",
    )
    .unwrap();
    assert_eq!(
        run(retort(p, &url).args(["new", "-m", "base", "--autogenerate", "--dev-url", &dev])).0,
        0
    );
    assert_eq!(run(retort(p, &url).arg("upgrade")).0, 0);
    let (code, out, err) = run(retort(p, &url).args(["check", "--dev-url", &dev, "--no-cache"]));
    assert_eq!(code, 0, "{out}{err}");
    client
        .batch_execute("ALTER TABLE p1 DISABLE TRIGGER trg")
        .unwrap();
    let (code, out, err) = run(retort(p, &url).args(["check", "--dev-url", &dev, "--no-cache"]));
    assert_eq!(code, 3, "{out}{err}");
    let text = format!("{out}{err}");
    assert!(
        text.contains("DRIFT") && text.contains("cannot write yet"),
        "{text}"
    );
    assert!(
        text.contains(
            "pg_trigger trg on public.p1: tgenabled is D in the first database, O in the second"
        ),
        "{text}"
    );
    let (code, json, err) =
        run(retort(p, &url).args(["check", "--dev-url", &dev, "--no-cache", "--format", "json"]));
    assert_eq!(code, 3, "{err}");
    assert!(
        json.contains("\"unwritten\"") && json.contains("tgenabled"),
        "{json}"
    );
}
