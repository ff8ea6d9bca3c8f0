//! `retort new --autogenerate` on changes that need data: it stops and names each question, and
//! with `--fill`, `--convert` and `--rename` it writes migrations that apply on a populated
//! table while a writer keeps writing, lint clean, and leave `retort check` clean.

mod project;

use std::path::Path;

use project::{database, retort, run};
use retort_cluster::Cluster;
use retort_pg::ConnConfig;

fn migrations(p: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(p.join("migrations"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// A project at `base`, upgraded, on a fresh database of `c`.
fn project_at(
    c: &Cluster,
    name: &str,
    base: &str,
) -> (tempfile::TempDir, String, retort_pg::Client) {
    let (url, client) = database(c, name);
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    assert_eq!(run(retort(p, &url).arg("init")).0, 0);
    std::fs::write(p.join("schema.sql"), base).unwrap();
    let dev = c.primary_url();
    let (code, _, err) =
        run(retort(p, &url).args(["new", "-m", "base", "--autogenerate", "--dev-url", &dev]));
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = run(retort(p, &url).arg("upgrade"));
    assert_eq!(code, 0, "{err}");
    (dir, url, client)
}

#[test]
fn not_null_columns_on_a_populated_table_are_asked_for_and_filled_while_writes_go_on() {
    let c = Cluster::builder().start().unwrap();
    let base = "CREATE TYPE state AS ENUM ('new', 'done');\n\
                CREATE TABLE items (id bigint PRIMARY KEY, name text);\n";
    let (dir, url, mut client) = project_at(&c, "fill", base);
    let p = dir.path();
    let dev = c.primary_url();
    client
        .batch_execute(
            "INSERT INTO items SELECT g, CASE WHEN g % 10 = 0 THEN NULL ELSE 'item ' || g END \
             FROM generate_series(1, 20000) g; ANALYZE items;",
        )
        .unwrap();
    std::fs::write(
        p.join("schema.sql"),
        "CREATE TYPE state AS ENUM ('new', 'done');\n\
         CREATE TABLE items (id bigint PRIMARY KEY, name text NOT NULL, state state NOT NULL, label text NOT NULL);\n",
    )
    .unwrap();
    let before = migrations(p);
    let new = |extra: &[&str]| {
        let mut cmd = retort(p, &url);
        cmd.args([
            "new",
            "-m",
            "item states",
            "--autogenerate",
            "--dev-url",
            &dev,
        ]);
        cmd.args(extra);
        run(&mut cmd)
    };
    // No answers: three questions, each with its flag; nothing written.
    let (code, _, err) = new(&[]);
    assert_eq!(code, 1, "{err}");
    for q in [
        "public.items.state (public.state NOT NULL, no default) is added to a table that holds rows",
        "--fill public.items.state=SQL",
        "--fill public.items.label=SQL",
        "public.items.name becomes NOT NULL and holds NULLs",
        "--fill public.items.name=SQL",
        "nothing was written",
    ] {
        assert!(err.contains(q), "{q}\n{err}");
    }
    assert_eq!(migrations(p), before);
    // The same as JSON, for tools: each question with its flag and column.
    let (code, json_out, _) = new(&["--format", "json"]);
    assert_eq!(code, 1);
    let questions = project::json(&json_out);
    let asked: Vec<(String, String)> = questions["questions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| {
            (
                q["flag"].as_str().unwrap().to_owned(),
                q["column"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(asked.len(), 3, "{json_out}");
    assert!(
        asked.contains(&("--fill".into(), "public.items.state".into())),
        "{json_out}"
    );
    // One answered: the other two are still asked.
    let (code, _, err) = new(&["--fill", "items.state='new'"]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("2 change(s)") && !err.contains("--fill public.items.state=SQL"),
        "{err}"
    );
    // An answer to no question is refused, naming it.
    let (code, _, err) = new(&[
        "--fill",
        "items.id=1",
        "--fill",
        "items.state='new'",
        "--fill",
        "items.label=x",
        "--fill",
        "items.name=x",
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("--fill items.id=1") && err.contains("needs no value"),
        "{err}"
    );
    // A fill that does not work as an UPDATE is refused when the migration is written.
    let (code, _, err) = new(&[
        "--fill",
        "items.state='new'",
        "--fill",
        "items.label=no_such_column || 'x'",
        "--fill",
        "items.name='nameless'",
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("no_such_column"), "{err}");
    assert_eq!(migrations(p), before);

    // Answered: a constant, an expression over the row, and a value for the NULLs.
    let (code, out, err) = new(&[
        "--fill",
        "items.state='new'",
        "--fill",
        "items.label=coalesce(name, 'item') || ' #' || id",
        "--fill",
        "items.name='nameless'",
    ]);
    assert_eq!(code, 0, "{err}");
    let files: Vec<String> = out
        .lines()
        .map(|l| std::fs::read_to_string(p.join(l)).unwrap())
        .collect();
    // Two phases: the old version goes on writing rows without the new values until
    // `retort complete`, so the triggers and the constant's default stay until the contract.
    assert_eq!(files.len(), 3, "{out}");
    let (main, fill, contract) = (&files[0], &files[1], &files[2]);
    assert!(main.contains("-- retort:phase expand"), "{main}");
    assert!(contract.contains("-- retort:phase contract"), "{contract}");
    let contract_up = contract.split("-- retort:down").next().unwrap();
    for s in [
        "ALTER TABLE public.items ALTER COLUMN state DROP DEFAULT;",
        "DROP TRIGGER retort_fill_label ON public.items;",
        "DROP FUNCTION public.retort_fill_items_label();",
        "DROP TRIGGER retort_fill_name ON public.items;",
    ] {
        assert!(contract_up.contains(s), "{s}\n{contract}");
    }
    assert!(!fill.contains("DROP TRIGGER"), "{fill}");
    assert!(
        main.contains("--   --fill public.items.state='new' (a constant"),
        "{main}"
    );
    assert!(
        main.contains(
            "ALTER TABLE public.items ADD COLUMN state public.state DEFAULT ('new') NOT NULL;"
        ),
        "{main}"
    );
    assert!(!main.contains("ALTER COLUMN state DROP DEFAULT"), "{main}");
    assert!(
        main.contains("ALTER TABLE public.items ADD COLUMN label text;"),
        "{main}"
    );
    assert!(
        main.contains("CREATE TRIGGER retort_fill_label BEFORE INSERT OR UPDATE ON public.items"),
        "{main}"
    );
    assert!(!main.contains("SET NOT NULL"), "{main}");
    assert!(fill.contains("-- retort:transaction off"), "{fill}");
    assert!(
        fill.contains("-- retort:batch\nUPDATE public.items SET label = (coalesce(name, 'item') || ' #' || id) WHERE label IS NULL;"),
        "{fill}"
    );
    assert!(
        fill.contains("UPDATE public.items SET name = ('nameless') WHERE name IS NULL;"),
        "{fill}"
    );
    assert!(
        fill.contains("ALTER TABLE public.items ALTER COLUMN label SET NOT NULL;"),
        "{fill}"
    );
    // What was written lints clean.
    let (code, lint_out, err) = run(retort(p, &url).arg("lint"));
    assert_eq!(code, 0, "{lint_out}{err}");

    // Applied while a writer of the new version inserts rows that leave label and name to the
    // database (NULL name, no label): the triggers fill them, so nothing fails and nothing is
    // missed.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let stop = stop.clone();
        let url = url.clone();
        std::thread::spawn(move || {
            let mut w = retort_pg::connect(&ConnConfig::parse(&url).unwrap()).unwrap();
            let (mut id, mut ok, mut failed) = (100_000i64, 0, Vec::new());
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                id += 1;
                // Under the table's lock, so the shape read is the shape written to: before the
                // main migration there is no state column; while the fill triggers are there
                // the database fills label and name; after, this version writes them itself.
                let mut tx = w.transaction().unwrap();
                tx.batch_execute("LOCK TABLE items IN ROW EXCLUSIVE MODE")
                    .unwrap();
                let shape = tx
                    .query_one(
                        "SELECT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = 'items'::regclass AND attname = 'state'), \
                                EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = 'items'::regclass AND tgname = 'retort_fill_label')",
                        &[],
                    )
                    .unwrap();
                let r = match (shape.get::<_, bool>(0), shape.get::<_, bool>(1)) {
                    (false, _) => tx.execute("INSERT INTO items (id, name) VALUES ($1, NULL)", &[&id]),
                    (true, true) => tx.execute(
                        "INSERT INTO items (id, name, state) VALUES ($1, NULL, 'done')",
                        &[&id],
                    ),
                    (true, false) => tx.execute(
                        "INSERT INTO items (id, name, state, label) VALUES ($1, 'late', 'done', 'late')",
                        &[&id],
                    ),
                };
                match r.and_then(|_| tx.commit()) {
                    Ok(()) => ok += 1,
                    Err(e) => failed.push(format!(
                        "{:?}",
                        e.as_db_error().map(|d| d.message().to_owned())
                    )),
                }
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
            (ok, failed)
        })
    };
    // The main migration first, then writes with the fill triggers in place, then the fill.
    let (code, _, err) = run(retort(p, &url).args(["upgrade", "+1"]));
    assert_eq!(code, 0, "{err}");
    std::thread::sleep(std::time::Duration::from_millis(300));
    let (code, _, err) = run(retort(p, &url).arg("upgrade"));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (written, failed) = writer.join().unwrap();
    assert_eq!(code, 0, "{err}");
    assert!(written > 0);
    assert!(failed.is_empty(), "{failed:?}");
    let row = client
        .query_one(
            "SELECT count(*) FILTER (WHERE name IS NULL OR label IS NULL OR state IS NULL), \
                    (SELECT label FROM items WHERE id = 7), (SELECT name || '|' || label FROM items WHERE id = 10), \
                    count(*) FILTER (WHERE id > 100000 AND name = 'nameless' AND label = 'item #' || id) \
             FROM items",
            &[],
        )
        .unwrap();
    assert_eq!(row.get::<_, i64>(0), 0);
    assert_eq!(row.get::<_, String>(1), "item 7 #7");
    assert_eq!(row.get::<_, String>(2), "nameless|item #10");
    assert!(row.get::<_, i64>(3) > 0);
    let leftovers: i64 = client
        .query_one(
            "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'items'::regclass AND NOT tgisinternal",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(leftovers, 2, "the fill triggers stay until the contract");
    let (code, _, err) = run(retort(p, &url).arg("complete"));
    assert_eq!(code, 0, "{err}");
    let leftovers: i64 = client
        .query_one(
            "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'items'::regclass AND NOT tgisinternal",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(leftovers, 0, "the contract took the fill triggers away");
    let (code, out, err) = run(retort(p, &url).args(["check", "--dev-url", &dev, "--no-cache"]));
    assert_eq!(code, 0, "{out}{err}");
    // Down, all three, back to the base: the new columns go and name takes NULLs again.
    let (code, _, err) = run(retort(p, &url).args(["downgrade", "-3"]));
    assert_eq!(code, 0, "{err}");
    let cols: i64 = client
        .query_one(
            "SELECT count(*) FROM pg_attribute WHERE attrelid = 'items'::regclass AND attnum > 0 AND NOT attisdropped",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(cols, 2);
    client
        .batch_execute("INSERT INTO items (id, name) VALUES (-1, NULL)")
        .unwrap();
}

#[test]
fn renames_are_declared_and_keep_the_data() {
    let c = Cluster::builder().start().unwrap();
    let base =
        "CREATE TABLE users (id int CONSTRAINT users_pkey PRIMARY KEY, name text NOT NULL);\n\
                CREATE INDEX users_name ON users (name);\n";
    let (dir, url, mut client) = project_at(&c, "rename", base);
    let p = dir.path();
    let dev = c.primary_url();
    client
        // A small table (analyzed, under small_table_rows): a plain rename, one migration.
        .batch_execute(
            "INSERT INTO users SELECT g, 'user ' || g FROM generate_series(1, 50) g; ANALYZE users",
        )
        .unwrap();
    std::fs::write(
        p.join("schema.sql"),
        "CREATE TABLE people (id int CONSTRAINT users_pkey PRIMARY KEY, full_name text NOT NULL);\n\
         CREATE INDEX users_name ON people (full_name);\n",
    )
    .unwrap();
    let new = |extra: &[&str]| {
        let mut cmd = retort(p, &url);
        cmd.args(["new", "-m", "people", "--autogenerate", "--dev-url", &dev]);
        cmd.args(extra);
        run(&mut cmd)
    };
    for (bad, says) in [
        (
            "users.nope=full_name",
            "public.users has no column nope in the migrations head",
        ),
        (
            "nobody=people",
            "there is no table nobody in the migrations head",
        ),
        ("users=folk", "the wanted schema has no table public.folk"),
        ("users.name=other.full_name", "write NEW as a bare name"),
    ] {
        let (code, _, err) = new(&["--rename", bad]);
        assert_eq!(code, 1, "{bad}: {err}");
        assert!(err.contains(says), "{bad}: {says}\n{err}");
    }
    let (code, out, err) = new(&[
        "--rename",
        "users.name=full_name",
        "--rename",
        "users=people",
    ]);
    assert_eq!(code, 0, "{err}");
    let file = std::fs::read_to_string(p.join(out.trim())).unwrap();
    let up = file.split("-- retort:down").next().unwrap();
    let column = up.find("\nALTER TABLE public.users RENAME COLUMN name TO full_name;\n");
    let table = up.find("\nALTER TABLE public.users RENAME TO people;\n");
    assert!(
        column.is_some() && table.is_some() && column < table,
        "{file}"
    );
    assert!(
        up.contains("-- retort:allow rename-or-drop declared with --rename"),
        "{file}"
    );
    let (code, lint_out, err) = run(retort(p, &url).arg("lint"));
    assert_eq!(code, 0, "{lint_out}{err}");
    assert!(
        !file.contains("DROP TABLE") && !file.contains("DROP COLUMN"),
        "{file}"
    );
    assert!(
        file.contains("--   --rename public.users.name=full_name (a rename"),
        "{file}"
    );
    let (code, _, err) = run(retort(p, &url).arg("upgrade"));
    assert_eq!(code, 0, "{err}");
    let name: String = client
        .query_one("SELECT full_name FROM people WHERE id = 7", &[])
        .unwrap()
        .get(0);
    assert_eq!(name, "user 7");
    let (code, out, err) = run(retort(p, &url).args(["check", "--dev-url", &dev, "--no-cache"]));
    assert_eq!(code, 0, "{out}{err}");
    let (code, _, err) = run(retort(p, &url).args(["downgrade", "-1"]));
    assert_eq!(code, 0, "{err}");
    let name: String = client
        .query_one("SELECT name FROM users WHERE id = 7", &[])
        .unwrap()
        .get(0);
    assert_eq!(name, "user 7");
}

#[test]
fn a_type_change_whose_cast_can_fail_asks_for_the_conversion() {
    let c = Cluster::builder().start().unwrap();
    let base = "CREATE TABLE codes (id int PRIMARY KEY, qty text);\n";
    let (dir, url, mut client) = project_at(&c, "convert", base);
    let p = dir.path();
    let dev = c.primary_url();
    client
        .batch_execute(
            "INSERT INTO codes SELECT g, CASE WHEN g % 100 = 0 THEN 'n/a' ELSE g || ' pcs' END \
             FROM generate_series(1, 20000) g; ANALYZE codes;",
        )
        .unwrap();
    std::fs::write(
        p.join("schema.sql"),
        "CREATE TABLE codes (id int PRIMARY KEY, qty integer);\n",
    )
    .unwrap();
    let before = migrations(p);
    let new = |extra: &[&str]| {
        let mut cmd = retort(p, &url);
        cmd.args([
            "new",
            "-m",
            "qty as a number",
            "--autogenerate",
            "--dev-url",
            &dev,
        ]);
        cmd.args(extra);
        run(&mut cmd)
    };
    let (code, _, err) = new(&[]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("public.codes.qty changes from text to integer")
            && err.contains("--convert public.codes.qty=SQL"),
        "{err}"
    );
    // A conversion that does not work is refused before anything is written.
    let (code, _, err) = new(&[
        "--convert",
        "codes.qty=no_such_function(qty)",
        "--allow-rewrite",
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("no_such_function"), "{err}");
    assert_eq!(migrations(p), before);
    let (code, out, err) = new(&[
        "--convert",
        "codes.qty=NULLIF(regexp_replace(qty, '[^0-9]', '', 'g'), '')::integer",
        "--convert-back",
        "codes.qty=qty || ' pcs'",
        "--allow-rewrite",
    ]);
    assert_eq!(code, 0, "{err}");
    let file = std::fs::read_to_string(p.join(out.trim())).unwrap();
    assert!(
        file.contains("ALTER TABLE public.codes ALTER COLUMN qty TYPE integer USING (NULLIF(regexp_replace(qty, '[^0-9]', '', 'g'), '')::integer);"),
        "{file}"
    );
    assert!(
        file.contains("ALTER TABLE public.codes ALTER COLUMN qty TYPE text USING (qty || ' pcs');"),
        "{file}"
    );
    let (code, _, err) = run(retort(p, &url).arg("upgrade"));
    assert_eq!(code, 0, "{err}");
    let row = client
        .query_one(
            "SELECT (SELECT qty FROM codes WHERE id = 7), (SELECT qty FROM codes WHERE id = 100)",
            &[],
        )
        .unwrap();
    assert_eq!(row.get::<_, Option<i32>>(0), Some(7));
    assert_eq!(row.get::<_, Option<i32>>(1), None);
    let (code, _, err) = run(retort(p, &url).args(["downgrade", "-1"]));
    assert_eq!(code, 0, "{err}");
    let back: String = client
        .query_one("SELECT qty FROM codes WHERE id = 7", &[])
        .unwrap()
        .get(0);
    assert_eq!(back, "7 pcs");
}

/// The revision of the only migration file whose name holds `slug`.
fn revision_of(p: &Path, slug: &str) -> String {
    let names: Vec<String> = migrations(p)
        .into_iter()
        .filter(|n| n.contains(slug))
        .collect();
    assert_eq!(names.len(), 1, "{names:?}");
    names[0][..12].to_owned()
}

/// An application version: a connection that selects `revision`'s shape and registers.
fn app(url: &str, revision: &str) -> retort_pg::Client {
    let mut c = retort_pg::connect(&ConnConfig::parse(url).unwrap()).unwrap();
    retort_migrate::shape::use_shape(&mut c, "retort", revision).unwrap();
    c
}

/// Writes and reads through `column` until `stop`, returning (statements that worked, failures).
fn app_loop(
    url: String,
    revision: String,
    column: &'static str,
    first_id: i64,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> std::thread::JoinHandle<(u64, Vec<String>)> {
    std::thread::spawn(move || {
        let mut c = app(&url, &revision);
        let (mut ok, mut failed) = (0u64, Vec::new());
        let mut id = first_id;
        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
            id += 1;
            let r = c
                .execute(
                    &format!("INSERT INTO users (id, {column}, email) VALUES ($1, $2, NULL)"),
                    &[&id, &format!("{column} {id}")],
                )
                .and_then(|_| {
                    c.execute(
                        &format!("UPDATE users SET {column} = {column} || '!' WHERE id = $1"),
                        &[&(id - first_id)],
                    )
                })
                .and_then(|_| {
                    c.query_one(&format!("SELECT {column} FROM users WHERE id = $1"), &[&id])
                });
            match r {
                Ok(_) => ok += 1,
                Err(e) => failed.push(format!(
                    "{:?}",
                    e.as_db_error().map(|d| d.message().to_owned())
                )),
            }
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        (ok, failed)
    })
}

#[test]
fn a_rename_on_a_populated_table_expands_serves_both_versions_and_completes() {
    let c = Cluster::builder().start().unwrap();
    let base = "CREATE TABLE users (id bigint PRIMARY KEY, name text NOT NULL, email text);\n";
    let (dir, url, mut client) = project_at(&c, "expand", base);
    let p = dir.path();
    let dev = c.primary_url();
    client
        .batch_execute(
            "INSERT INTO users SELECT g, 'user ' || g, NULL FROM generate_series(1, 20000) g; ANALYZE users;",
        )
        .unwrap();
    let old = revision_of(p, "_base");
    std::fs::write(
        p.join("schema.sql"),
        "CREATE TABLE users (id bigint PRIMARY KEY, full_name text NOT NULL, email text);\n",
    )
    .unwrap();
    let (code, out, err) = run(retort(p, &url).args([
        "new",
        "-m",
        "full names",
        "--autogenerate",
        "--dev-url",
        &dev,
        "--rename",
        "users.name=full_name",
    ]));
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("a two-phase change"), "{err}");
    let files: Vec<String> = out
        .lines()
        .map(|l| std::fs::read_to_string(p.join(l)).unwrap())
        .collect();
    assert_eq!(files.len(), 2, "{out}");
    let (expand, contract) = (&files[0], &files[1]);
    let schema = format!("retort_v_{old}");
    assert!(expand.contains("-- retort:phase expand"), "{expand}");
    assert!(
        expand.contains("ALTER TABLE public.users RENAME COLUMN name TO full_name;"),
        "{expand}"
    );
    assert!(
        expand.contains(&format!("CREATE VIEW {schema}.users WITH (security_invoker = true) AS SELECT id, full_name AS name, email FROM public.users;")),
        "{expand}"
    );
    assert!(contract.contains("-- retort:phase contract"), "{contract}");
    assert!(
        contract.contains(&format!("DROP VIEW {schema}.users;\nDROP SCHEMA {schema};")),
        "{contract}"
    );
    let (code, lint_out, err) = run(retort(p, &url).arg("lint"));
    assert_eq!(code, 0, "{lint_out}{err}");
    let new = revision_of(p, "_full_names.sql");
    let (code, printed, err) = run(retort(p, &url).args(["search-path", &old[..6]]));
    assert_eq!(code, 0, "{err}");
    assert_eq!(printed.trim(), format!("{schema}, \"$user\", public"));

    // The old version runs before, during and after the expand.
    let stop_old = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let old_app = app_loop(url.clone(), old.clone(), "name", 100_000, stop_old.clone());
    std::thread::sleep(std::time::Duration::from_millis(200));
    let (code, _, err) = run(retort(p, &url).arg("upgrade"));
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("is the contract phase of a two-phase change"),
        "{err}"
    );
    let (_, current, _) = run(retort(p, &url).arg("current"));
    assert!(current.contains(&new), "the expand is applied: {current}");
    assert!(
        current.contains(&format!("expanded: {new} (full names)")),
        "{current}"
    );
    // While expanded, the database matches what the upgrade gives: no drift for check.
    let (code, out, err) = run(retort(p, &url).args(["check", "--dev-url", &dev, "--no-cache"]));
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        err.contains(
            "is expanded: the database is compared with the migrations up to its contract"
        ),
        "{err}"
    );
    // The new version, on its own shape (the physical table), beside the old one.
    let stop_new = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let new_app = app_loop(
        url.clone(),
        revision_of(p, "contract"),
        "full_name",
        200_000,
        stop_new.clone(),
    );
    std::thread::sleep(std::time::Duration::from_millis(300));
    // Each sees the other's writes under its own name.
    let mut old_reader = app(&url, &old);
    let seen: i64 = old_reader
        .query_one(
            "SELECT count(*) FROM users WHERE name LIKE 'full_name %'",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(seen > 0);
    // complete refuses while an old session is connected, naming it.
    let (code, _, err) = run(retort(p, &url).arg("complete"));
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("session(s) still use a shape the contract removes")
            && err.contains(&format!("uses revision {old}'s shape")),
        "{err}"
    );
    stop_old.store(true, std::sync::atomic::Ordering::Relaxed);
    let (old_ok, old_failed) = old_app.join().unwrap();
    drop(old_reader);
    assert!(old_ok > 0);
    assert!(old_failed.is_empty(), "{old_failed:?}");
    let (code, done, err) = run(retort(p, &url).arg("complete"));
    assert_eq!(code, 0, "{err}");
    assert!(done.contains("completed"), "{done}");
    stop_new.store(true, std::sync::atomic::Ordering::Relaxed);
    let (new_ok, new_failed) = new_app.join().unwrap();
    assert!(new_ok > 0);
    assert!(new_failed.is_empty(), "{new_failed:?}");
    let gone: bool = client
        .query_one("SELECT to_regnamespace($1) IS NULL", &[&schema])
        .unwrap()
        .get(0);
    assert!(gone, "the old shape's schema is dropped");
    let (code, out, err) = run(retort(p, &url).args(["check", "--dev-url", &dev, "--no-cache"]));
    assert_eq!(code, 0, "{out}{err}");
    let (code, _, err) = run(retort(p, &url).arg("complete"));
    assert_eq!(code, 1);
    assert!(err.contains("nothing to complete"), "{err}");
}

#[test]
fn an_expanded_rename_is_aborted_and_the_old_version_never_notices() {
    let c = Cluster::builder().start().unwrap();
    let base = "CREATE TABLE users (id bigint PRIMARY KEY, name text NOT NULL, email text);\n";
    let (dir, url, mut client) = project_at(&c, "abort", base);
    let p = dir.path();
    let dev = c.primary_url();
    client
        .batch_execute(
            "INSERT INTO users SELECT g, 'user ' || g, NULL FROM generate_series(1, 20000) g; ANALYZE users;",
        )
        .unwrap();
    let old = revision_of(p, "_base");
    std::fs::write(
        p.join("schema.sql"),
        "CREATE TABLE users (id bigint PRIMARY KEY, full_name text NOT NULL, email text);\n",
    )
    .unwrap();
    let (code, _, err) = run(retort(p, &url).args([
        "new",
        "-m",
        "full names",
        "--autogenerate",
        "--dev-url",
        &dev,
        "--rename",
        "users.name=full_name",
    ]));
    assert_eq!(code, 0, "{err}");
    let mut old_app = app(&url, &old);
    let (code, _, err) = run(retort(p, &url).arg("upgrade"));
    assert_eq!(code, 0, "{err}");
    let through_view: String = old_app
        .query_one("SELECT name FROM users WHERE id = 3", &[])
        .unwrap()
        .get(0);
    assert_eq!(through_view, "user 3");
    let (code, _, err) = run(retort(p, &url).arg("abort"));
    assert_eq!(code, 0, "{err}");
    let physical: String = old_app
        .query_one("SELECT name FROM users WHERE id = 3", &[])
        .unwrap()
        .get(0);
    assert_eq!(physical, "user 3");
    let gone: bool = client
        .query_one(
            "SELECT to_regnamespace($1) IS NULL",
            &[&format!("retort_v_{old}")],
        )
        .unwrap()
        .get(0);
    assert!(gone);
    let (code, _, err) = run(retort(p, &url).arg("abort"));
    assert_eq!(code, 1);
    assert!(err.contains("nothing to abort"), "{err}");
}

#[test]
fn a_fill_backfill_run_by_upgrade_pauses_while_a_standby_lags() {
    let mut c = Cluster::builder().standbys(1).start().unwrap();
    c.wait_until_streaming(std::time::Duration::from_secs(60))
        .unwrap();
    let base = "CREATE TABLE items (id bigint PRIMARY KEY, name text);\n";
    let (dir, url, mut client) = project_at(&c, "paced", base);
    let p = dir.path();
    let dev = c.primary_url();
    client
        .batch_execute(
            "INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 20000) g; ANALYZE items;",
        )
        .unwrap();
    std::fs::write(
        p.join("schema.sql"),
        "CREATE TABLE items (id bigint PRIMARY KEY, name text, label text NOT NULL);\n",
    )
    .unwrap();
    let (code, _, err) = run(retort(p, &url).args([
        "new",
        "-m",
        "labels",
        "--autogenerate",
        "--dev-url",
        &dev,
        "--fill",
        "items.label=upper(name)",
    ]));
    assert_eq!(code, 0, "{err}");
    let config = std::fs::read_to_string(p.join("retort.toml"))
        .unwrap()
        .replace("# max_lag = \"64MB\"", "max_lag = \"1kB\"");
    std::fs::write(p.join("retort.toml"), config).unwrap();
    c.set_apply_delay(0, std::time::Duration::from_millis(1500))
        .unwrap();
    let began = std::time::Instant::now();
    let (code, _, err) = run(retort(p, &url).arg("upgrade"));
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("backfill paused"), "{err}");
    assert!(began.elapsed() >= std::time::Duration::from_millis(1500));
    let missing: i64 = client
        .query_one(
            "SELECT count(*) FROM items WHERE label IS DISTINCT FROM upper(name)",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(missing, 0);
}

#[test]
fn a_column_dropped_from_a_populated_table_stays_until_the_contract() {
    let c = Cluster::builder().start().unwrap();
    let base = "CREATE TABLE items (id bigint PRIMARY KEY, name text, legacy text NOT NULL);\n";
    let (dir, url, mut client) = project_at(&c, "drop", base);
    let p = dir.path();
    let dev = c.primary_url();
    client
        .batch_execute(
            "INSERT INTO items SELECT g, 'item ' || g, 'old' FROM generate_series(1, 20000) g; ANALYZE items;",
        )
        .unwrap();
    let old = revision_of(p, "_base");
    std::fs::write(
        p.join("schema.sql"),
        "CREATE TABLE items (id bigint PRIMARY KEY, name text);\n",
    )
    .unwrap();
    let (code, out, err) = run(retort(p, &url).args([
        "new",
        "-m",
        "no legacy",
        "--autogenerate",
        "--dev-url",
        &dev,
    ]));
    assert_eq!(code, 0, "{err}");
    let files: Vec<String> = out
        .lines()
        .map(|l| std::fs::read_to_string(p.join(l)).unwrap())
        .collect();
    assert_eq!(files.len(), 2, "{out}");
    let (expand, contract) = (&files[0], &files[1]);
    let expand_up = expand.split("-- retort:down").next().unwrap();
    assert!(
        expand_up.contains("ALTER TABLE public.items ALTER COLUMN legacy DROP NOT NULL;")
            && !expand_up.contains("DROP COLUMN"),
        "{expand}"
    );
    assert!(
        contract.contains("ALTER TABLE public.items DROP COLUMN legacy;"),
        "{contract}"
    );
    let (code, lint_out, err) = run(retort(p, &url).arg("lint"));
    assert_eq!(code, 0, "{lint_out}{err}");
    let mut old_app = app(&url, &old);
    let (code, _, err) = run(retort(p, &url).arg("upgrade"));
    assert_eq!(code, 0, "{err}");
    // The old version still reads and writes the column; the new one leaves it out.
    old_app
        .execute(
            "INSERT INTO items (id, name, legacy) VALUES (-1, 'a', 'kept')",
            &[],
        )
        .unwrap();
    let legacy: String = old_app
        .query_one("SELECT legacy FROM items WHERE id = 7", &[])
        .unwrap()
        .get(0);
    assert_eq!(legacy, "old");
    let mut new_app = app(&url, &revision_of(p, "contract"));
    new_app
        .execute("INSERT INTO items (id, name) VALUES (-2, 'b')", &[])
        .unwrap();
    let (code, _, err) = run(retort(p, &url).arg("complete"));
    assert_eq!(code, 1, "an old session is connected: {err}");
    drop(old_app);
    let (code, _, err) = run(retort(p, &url).arg("complete"));
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = run(retort(p, &url).args(["check", "--dev-url", &dev, "--no-cache"]));
    assert_eq!(code, 0, "{out}{err}");
    // Down through the contract and the expand: the column is back (empty where it was dropped).
    let (code, _, err) = run(retort(p, &url).args(["downgrade", "-1"]));
    assert_eq!(code, 0, "{err}");
    let back: i64 = client
        .query_one("SELECT count(*) FROM items WHERE legacy IS NULL", &[])
        .unwrap()
        .get(0);
    assert_eq!(back, 20002);
}

#[test]
fn a_fill_interrupted_at_each_step_is_finished_by_a_rerun_with_every_row_filled_once() {
    use retort_cluster::{Fault, FaultAction, FaultProxy, Trigger};
    let c = Cluster::builder().start().unwrap();
    let port = c.nodes()[0].port();
    let faults = [
        ("CREATE TRIGGER", FaultAction::LoseAnswer),
        ("SET label = (", FaultAction::LoseAnswer),
        (
            "SET label = (",
            FaultAction::CutAfter(std::time::Duration::ZERO),
        ),
        ("VALIDATE CONSTRAINT", FaultAction::Cut),
        ("SET NOT NULL", FaultAction::LoseAnswer),
    ];
    for (i, (at, action)) in faults.into_iter().enumerate() {
        let base = "CREATE TABLE items (id bigint PRIMARY KEY, name text);\n";
        let name = format!("interrupted_{i}");
        let (dir, url, mut client) = project_at(&c, &name, base);
        let p = dir.path();
        let dev = c.primary_url();
        client
            .batch_execute(
                "INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 20000) g; ANALYZE items;",
            )
            .unwrap();
        std::fs::write(
            p.join("schema.sql"),
            "CREATE TABLE items (id bigint PRIMARY KEY, name text, label text NOT NULL);\n",
        )
        .unwrap();
        let (code, _, err) = run(retort(p, &url).args([
            "new",
            "-m",
            "labels",
            "--autogenerate",
            "--dev-url",
            &dev,
            "--fill",
            "items.label=upper(name)",
        ]));
        assert_eq!(code, 0, "{err}");
        let proxy = FaultProxy::start(([127, 0, 0, 1], port).into()).unwrap();
        proxy.arm(Fault::new(Trigger::Contains(at.into()), action));
        let through = c.node_tcp_url(&c.nodes()[0]).replace(
            &format!(":{port}/postgres"),
            &format!(":{}/{name}", proxy.port()),
        );
        // Interrupted, with no time to reconnect: the run ends where the fault hit.
        let (first, _, err1) = run(retort(p, &through).args(["upgrade", "--reconnect-for", "0"]));
        assert!(proxy.stats().fired, "{at}: the fault fired\n{err1}");
        let (code, _, err) = run(retort(p, &url).arg("upgrade"));
        assert_eq!(code, 0, "{at} ({first}): {err1}\nthen: {err}");
        let row = client
            .query_one(
                "SELECT count(*) FILTER (WHERE label IS DISTINCT FROM upper(name)), \
                        (SELECT attnotnull FROM pg_attribute WHERE attrelid = 'items'::regclass AND attname = 'label'), \
                        (SELECT sum(rows)::bigint FROM retort.backfill) \
                 FROM items",
                &[],
            )
            .unwrap();
        assert_eq!(row.get::<_, i64>(0), 0, "{at}: every row filled");
        assert!(row.get::<_, bool>(1), "{at}: NOT NULL");
        assert_eq!(
            row.get::<_, Option<i64>>(2),
            Some(20000),
            "{at}: each row backfilled once"
        );
    }
}

#[test]
fn a_table_renamed_on_a_populated_table_keeps_its_old_name_for_the_old_version() {
    let c = Cluster::builder().start().unwrap();
    let base = "CREATE TABLE users (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, name text NOT NULL, \
                created timestamptz NOT NULL DEFAULT now());\n";
    let (dir, url, mut client) = project_at(&c, "table_rename", base);
    let p = dir.path();
    let dev = c.primary_url();
    client
        .batch_execute(
            "INSERT INTO users (id, name) SELECT g, 'user ' || g FROM generate_series(1, 20000) g; \
             SELECT setval(pg_get_serial_sequence('users', 'id'), 20000); ANALYZE users;",
        )
        .unwrap();
    let old = revision_of(p, "_base");
    std::fs::write(
        p.join("schema.sql"),
        "CREATE TABLE people (id bigint GENERATED BY DEFAULT AS IDENTITY CONSTRAINT users_pkey PRIMARY KEY, \
         name text NOT NULL, created timestamptz NOT NULL DEFAULT now());\n",
    )
    .unwrap();
    let (code, out, err) = run(retort(p, &url).args([
        "new",
        "-m",
        "people",
        "--autogenerate",
        "--dev-url",
        &dev,
        "--rename",
        "users=people",
    ]));
    assert_eq!(code, 0, "{err}");
    let expand = std::fs::read_to_string(p.join(out.lines().next().unwrap())).unwrap();
    assert!(
        expand.contains(&format!(
            "CREATE VIEW retort_v_{old}.users WITH (security_invoker = true) AS SELECT id, name, created FROM public.people;"
        )),
        "{expand}"
    );
    let mut old_app = app(&url, &old);
    let (code, _, err) = run(retort(p, &url).arg("upgrade"));
    assert_eq!(code, 0, "{err}");
    // Through the view: the table's identity and defaults still apply.
    let row = old_app
        .query_one(
            "INSERT INTO users (name) VALUES ('late') RETURNING id, created IS NOT NULL",
            &[],
        )
        .unwrap();
    assert_eq!(row.get::<_, i64>(0), 20001);
    assert!(row.get::<_, bool>(1));
    let mut new_app = app(&url, &revision_of(p, "contract"));
    let late: String = new_app
        .query_one("SELECT name FROM people WHERE id = 20001", &[])
        .unwrap()
        .get(0);
    assert_eq!(late, "late");
    drop(old_app);
    let (code, _, err) = run(retort(p, &url).arg("complete"));
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = run(retort(p, &url).args(["check", "--dev-url", &dev, "--no-cache"]));
    assert_eq!(code, 0, "{out}{err}");
}

#[test]
fn an_expand_and_a_complete_interrupted_are_finished_by_a_rerun() {
    use retort_cluster::{Fault, FaultAction, FaultProxy, Trigger};
    let c = Cluster::builder().start().unwrap();
    let port = c.nodes()[0].port();
    let base = "CREATE TABLE users (id bigint PRIMARY KEY, name text NOT NULL);\n";
    let (dir, url, mut client) = project_at(&c, "phase_faults", base);
    let p = dir.path();
    let dev = c.primary_url();
    client
        .batch_execute(
            "INSERT INTO users SELECT g, 'user ' || g FROM generate_series(1, 20000) g; ANALYZE users;",
        )
        .unwrap();
    let old = revision_of(p, "_base");
    std::fs::write(
        p.join("schema.sql"),
        "CREATE TABLE users (id bigint PRIMARY KEY, full_name text NOT NULL);\n",
    )
    .unwrap();
    let (code, _, err) = run(retort(p, &url).args([
        "new",
        "-m",
        "full names",
        "--autogenerate",
        "--dev-url",
        &dev,
        "--rename",
        "users.name=full_name",
    ]));
    assert_eq!(code, 0, "{err}");
    let proxy = FaultProxy::start(([127, 0, 0, 1], port).into()).unwrap();
    let through = c.node_tcp_url(&c.nodes()[0]).replace(
        &format!(":{port}/postgres"),
        &format!(":{}/phase_faults", proxy.port()),
    );
    // The expand commits, its answer is lost: the rerun finds it applied and goes no further.
    proxy.arm(Fault::new(
        Trigger::Contains("RENAME COLUMN".into()),
        FaultAction::LoseAnswer,
    ));
    let (first, _, err1) = run(retort(p, &through).args(["upgrade", "--reconnect-for", "0"]));
    assert!(proxy.stats().fired, "{err1}");
    assert_ne!(first, 0, "{err1}");
    let (code, _, err) = run(retort(p, &url).arg("upgrade"));
    assert_eq!(code, 0, "{err}");
    let renames: i64 = client
        .query_one(
            "SELECT count(*) FROM retort.history WHERE direction = 'up' AND revision = $1",
            &[&revision_of(p, "_full_names.sql")],
        )
        .unwrap()
        .get(0);
    assert_eq!(renames, 1, "the expand ran once");
    let mut old_app = app(&url, &old);
    let name: String = old_app
        .query_one("SELECT name FROM users WHERE id = 1", &[])
        .unwrap()
        .get(0);
    assert_eq!(name, "user 1");
    drop(old_app);
    // The contract is cut before it reaches the server: nothing of it ran; the rerun does it.
    proxy.arm(Fault::new(
        Trigger::Contains("DROP VIEW".into()),
        FaultAction::Cut,
    ));
    let (first, _, err1) = run(retort(p, &through).args(["complete"]));
    assert_ne!(first, 0, "{err1}");
    let still: bool = client
        .query_one(
            "SELECT to_regnamespace($1) IS NOT NULL",
            &[&format!("retort_v_{old}")],
        )
        .unwrap()
        .get(0);
    assert!(still, "the cut contract left the views in place");
    let (code, _, err) = run(retort(p, &url).arg("complete"));
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = run(retort(p, &url).args(["check", "--dev-url", &dev, "--no-cache"]));
    assert_eq!(code, 0, "{out}{err}");
}

#[test]
fn type_changes_on_a_populated_table_are_done_in_two_phases_with_both_versions_writing() {
    let c = Cluster::builder().start().unwrap();
    let base = "CREATE TYPE state AS ENUM ('new', 'done');\n\
                CREATE TABLE items (id bigint PRIMARY KEY, qty integer NOT NULL DEFAULT 0, state text);\n";
    let (dir, url, mut client) = project_at(&c, "retype", base);
    let p = dir.path();
    let dev = c.primary_url();
    client
        .batch_execute(
            "INSERT INTO items SELECT g, g % 100, 'new' FROM generate_series(1, 20000) g; ANALYZE items;",
        )
        .unwrap();
    let old = revision_of(p, "_base");
    std::fs::write(
        p.join("schema.sql"),
        "CREATE TYPE state AS ENUM ('new', 'done');\n\
         CREATE TABLE items (id bigint PRIMARY KEY, qty bigint NOT NULL DEFAULT 0, state state);\n",
    )
    .unwrap();
    let new = |extra: &[&str]| {
        let mut cmd = retort(p, &url);
        cmd.args(["new", "-m", "wider", "--autogenerate", "--dev-url", &dev]);
        cmd.args(extra);
        run(&mut cmd)
    };
    // text -> enum can fail: asked; int -> bigint cannot: not asked.
    let (code, _, err) = new(&[]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("--convert public.items.state=SQL") && !err.contains("items.qty"),
        "{err}"
    );
    let (code, out, err) = new(&["--convert", "items.state=state::state"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("changes from integer to bigint in two phases"),
        "{err}"
    );
    let files: Vec<String> = out
        .lines()
        .map(|l| std::fs::read_to_string(p.join(l)).unwrap())
        .collect();
    assert_eq!(files.len(), 4, "{out}");
    let (expand, fill, swap, contract) = (&files[0], &files[1], &files[2], &files[3]);
    assert!(
        expand.contains("ADD COLUMN retort_new_qty bigint;")
            && !expand.contains("ALTER COLUMN qty TYPE"),
        "{expand}"
    );
    assert!(
        fill.contains("-- retort:batch\nUPDATE public.items SET retort_new_state = (state::state) WHERE retort_new_state IS NULL AND state IS NOT NULL;"),
        "{fill}"
    );
    assert!(
        swap.contains("\nALTER TABLE public.items RENAME COLUMN qty TO retort_old_qty;\n")
            && swap.contains("\nALTER TABLE public.items RENAME COLUMN retort_new_qty TO qty;\n"),
        "{swap}"
    );
    assert!(
        contract.contains("ALTER TABLE public.items DROP COLUMN retort_old_qty;"),
        "{contract}"
    );
    let (code, lint_out, err) = run(retort(p, &url).arg("lint"));
    assert_eq!(code, 0, "{lint_out}{err}");

    // The old version writes integers and text throughout; the new one, after the upgrade,
    // bigints and enum values. Neither has a statement fail, and each reads the other's rows.
    let stop_old = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let old_writer = {
        let (url, old, stop) = (url.clone(), old.clone(), stop_old.clone());
        std::thread::spawn(move || {
            let mut c = app(&url, &old);
            let (mut ok, mut failed, mut id) = (0u64, Vec::new(), 100_000i64);
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                id += 1;
                let r = c
                    .execute(
                        "INSERT INTO items (id, qty, state) VALUES ($1, $2, 'done')",
                        &[&id, &7i32],
                    )
                    .and_then(|_| {
                        c.execute(
                            "UPDATE items SET qty = qty + 1, state = 'new' WHERE id = $1",
                            &[&(id - 100_000)],
                        )
                    })
                    .and_then(|_| {
                        c.query_one("SELECT qty, state FROM items WHERE id = $1", &[&id])
                            .map(|r| (r.get::<_, i32>(0), r.get::<_, String>(1)))
                    });
                match r {
                    Ok((7, s)) if s == "done" => ok += 1,
                    Ok(other) => failed.push(format!("read back {other:?}")),
                    Err(e) => failed.push(format!(
                        "{:?}",
                        e.as_db_error().map(|d| d.message().to_owned())
                    )),
                }
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
            (ok, failed)
        })
    };
    std::thread::sleep(std::time::Duration::from_millis(200));
    let (code, _, err) = run(retort(p, &url).arg("upgrade"));
    assert_eq!(code, 0, "{err}");
    let mut new_app = app(&url, &revision_of(p, "contract"));
    new_app
        .execute(
            "INSERT INTO items (id, qty, state) VALUES (-1, 3000000000, 'done'::state)",
            &[],
        )
        .unwrap_err(); // 3,000,000,000 does not fit the old version's integer: refused, not lost
    new_app
        .execute(
            "INSERT INTO items (id, qty, state) VALUES (-1, 42, 'done'::state)",
            &[],
        )
        .unwrap();
    let mut old_reader = app(&url, &old);
    let row = old_reader
        .query_one("SELECT qty, state FROM items WHERE id = -1", &[])
        .unwrap();
    assert_eq!(
        (row.get::<_, i32>(0), row.get::<_, String>(1)),
        (42, "done".into())
    );
    let row = new_app
        .query_one("SELECT qty, state::text FROM items WHERE id = 100001", &[])
        .unwrap();
    assert_eq!(
        (row.get::<_, i64>(0), row.get::<_, String>(1)),
        (7, "done".into())
    );
    drop(old_reader);
    stop_old.store(true, std::sync::atomic::Ordering::Relaxed);
    let (ok, failed) = old_writer.join().unwrap();
    assert!(ok > 0);
    assert!(failed.is_empty(), "{failed:?}");
    let (code, _, err) = run(retort(p, &url).arg("complete"));
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = run(retort(p, &url).args(["check", "--dev-url", &dev, "--no-cache"]));
    assert_eq!(code, 0, "{out}{err}");
    let types: String = client
        .query_one(
            "SELECT string_agg(attname || ' ' || format_type(atttypid, atttypmod), ', ' ORDER BY attname) \
             FROM pg_attribute WHERE attrelid = 'items'::regclass AND attnum > 0 AND NOT attisdropped",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(types, "id bigint, qty bigint, state state");
    let unsynced: i64 = client
        .query_one("SELECT count(*) FROM items WHERE state IS NULL", &[])
        .unwrap()
        .get(0);
    assert_eq!(unsynced, 0);
}

#[test]
fn an_expanded_type_change_is_aborted_back_to_the_old_column() {
    let c = Cluster::builder().start().unwrap();
    let base = "CREATE TABLE items (id bigint PRIMARY KEY, qty integer NOT NULL DEFAULT 0);\n";
    let (dir, url, mut client) = project_at(&c, "retype_abort", base);
    let p = dir.path();
    let dev = c.primary_url();
    client
        .batch_execute(
            "INSERT INTO items SELECT g, g % 100 FROM generate_series(1, 20000) g; ANALYZE items;",
        )
        .unwrap();
    let old = revision_of(p, "_base");
    std::fs::write(
        p.join("schema.sql"),
        "CREATE TABLE items (id bigint PRIMARY KEY, qty bigint NOT NULL DEFAULT 0);\n",
    )
    .unwrap();
    let (code, _, err) =
        run(retort(p, &url).args(["new", "-m", "wider", "--autogenerate", "--dev-url", &dev]));
    assert_eq!(code, 0, "{err}");
    let mut old_app = app(&url, &old);
    let (code, _, err) = run(retort(p, &url).arg("upgrade"));
    assert_eq!(code, 0, "{err}");
    old_app
        .execute("UPDATE items SET qty = 5 WHERE id = 1", &[])
        .unwrap();
    let (code, _, err) = run(retort(p, &url).arg("abort"));
    assert_eq!(code, 0, "{err}");
    // The old column is physical again, with the old version's last write.
    let qty: i32 = old_app
        .query_one("SELECT qty FROM items WHERE id = 1", &[])
        .unwrap()
        .get(0);
    assert_eq!(qty, 5);
    let leftovers: i64 = client
        .query_one(
            "SELECT (SELECT count(*) FROM pg_attribute WHERE attrelid = 'items'::regclass AND attname LIKE 'retort%' AND NOT attisdropped) \
                  + (SELECT count(*) FROM pg_trigger WHERE tgrelid = 'items'::regclass AND NOT tgisinternal)",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(leftovers, 0);
    let (code, out, err) = run(retort(p, &url).args(["downgrade", "base", "--sql"]));
    assert_eq!(code, 0, "{out}{err}");
}

/// Constraint and index definitions and column types of `tables`, to compare a schema before
/// and after a round trip.
fn fingerprint(client: &mut retort_pg::Client, tables: &str) -> String {
    client
        .query_one(
            &format!(
                "SELECT concat_ws(E'\\n', \
                   (SELECT string_agg(conrelid::regclass || ' ' || conname || ' ' || pg_get_constraintdef(oid), E'\\n' ORDER BY conname) \
                      FROM pg_constraint WHERE conrelid = ANY ('{{{tables}}}'::regclass[])), \
                   (SELECT string_agg(pg_get_indexdef(indexrelid), E'\\n' ORDER BY indexrelid::regclass::text) \
                      FROM pg_index WHERE indrelid = ANY ('{{{tables}}}'::regclass[])), \
                   (SELECT string_agg(attrelid::regclass || '.' || attname || ' ' || format_type(atttypid, atttypmod) \
                           || coalesce(' default ' || pg_get_expr(d.adbin, d.adrelid), ''), E'\\n' ORDER BY attrelid::regclass::text, attname) \
                      FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
                      WHERE attrelid = ANY ('{{{tables}}}'::regclass[]) AND attnum > 0 AND NOT attisdropped), \
                   (SELECT string_agg(c.relname || ' ' || s.seqtypid::regtype || ' ' || coalesce(d.refobjid::regclass || '.' || o.attname, '-'), E'\\n' ORDER BY c.relname) \
                      FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid \
                      LEFT JOIN pg_depend d ON d.objid = s.seqrelid AND d.deptype = 'a' AND d.classid = 'pg_class'::regclass \
                      LEFT JOIN pg_attribute o ON o.attrelid = d.refobjid AND o.attnum = d.refobjsubid))"
            ),
            &[],
        )
        .unwrap()
        .get(0)
}

#[test]
fn an_int_key_referenced_by_foreign_keys_becomes_bigint_in_two_phases_with_both_versions_writing() {
    let c = Cluster::builder().start().unwrap();
    let base = "CREATE TABLE accounts (id serial PRIMARY KEY, name text NOT NULL);\n\
                CREATE TABLE orders (id bigserial PRIMARY KEY, \
                  account_id integer NOT NULL REFERENCES accounts ON DELETE CASCADE, \
                  total integer NOT NULL DEFAULT 0);\n\
                CREATE INDEX orders_account_id_idx ON orders (account_id);\n";
    let (dir, url, mut client) = project_at(&c, "retype_key", base);
    let p = dir.path();
    let dev = c.primary_url();
    client
        .batch_execute(
            "INSERT INTO accounts (name) SELECT 'a' || g FROM generate_series(1, 20000) g; \
             INSERT INTO orders (account_id, total) SELECT 1 + g % 20000, g FROM generate_series(1, 40000) g; \
             ANALYZE accounts, orders;",
        )
        .unwrap();
    let before = fingerprint(&mut client, "accounts,orders");
    let old = revision_of(p, "_base");
    std::fs::write(
        p.join("schema.sql"),
        "CREATE TABLE accounts (id bigserial PRIMARY KEY, name text NOT NULL);\n\
         CREATE TABLE orders (id bigserial PRIMARY KEY, \
           account_id bigint NOT NULL REFERENCES accounts ON DELETE CASCADE, \
           total integer NOT NULL DEFAULT 0);\n\
         CREATE INDEX orders_account_id_idx ON orders (account_id);\n",
    )
    .unwrap();
    let (code, out, err) =
        run(retort(p, &url).args(["new", "-m", "wider", "--autogenerate", "--dev-url", &dev]));
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("public.accounts.id changes from integer to bigint in two phases")
            && err.contains("public.orders.account_id changes from integer to bigint"),
        "{err}"
    );
    let files: Vec<String> = out
        .lines()
        .map(|l| std::fs::read_to_string(p.join(l)).unwrap())
        .collect();
    assert_eq!(files.len(), 4, "{out}");
    let (fill, swap, contract) = (&files[1], &files[2], &files[3]);
    for wanted in [
        "CREATE UNIQUE INDEX CONCURRENTLY retort_new_accounts_pkey ON public.accounts USING btree (retort_new_id);",
        "CREATE INDEX CONCURRENTLY retort_new_orders_account_id_idx ON public.orders USING btree (retort_new_account_id);",
        "ALTER TABLE public.orders ADD CONSTRAINT retort_new_orders_account_id_fkey FOREIGN KEY (retort_new_account_id) REFERENCES public.accounts(retort_new_id) ON DELETE CASCADE NOT VALID;",
        "ALTER TABLE public.orders VALIDATE CONSTRAINT retort_new_orders_account_id_fkey;",
    ] {
        assert!(fill.contains(wanted), "{wanted}\n{fill}");
    }
    assert!(
        swap.contains("ALTER SEQUENCE public.accounts_id_seq OWNED BY public.accounts.id;")
            && swap.contains(
                "ALTER COLUMN id SET DEFAULT nextval('public.accounts_id_seq'::regclass)"
            ),
        "{swap}"
    );
    assert!(
        contract.contains(
            "ALTER TABLE public.accounts ADD CONSTRAINT accounts_pkey PRIMARY KEY USING INDEX retort_new_accounts_pkey;"
        ),
        "{contract}"
    );
    let (code, lint_out, err) = run(retort(p, &url).arg("lint"));
    assert_eq!(code, 0, "{lint_out}{err}");

    // One app version writes accounts and their orders, reads them back by key and deletes
    // some (the cascade), all through its own shape.
    let writer = |revision: String, start: i64, wide: bool| {
        let url = url.clone();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        let handle = std::thread::spawn(move || {
            let mut c = app(&url, &revision);
            let (mut ok, mut failed, mut n) = (0u64, Vec::new(), start);
            while !flag.load(std::sync::atomic::Ordering::Relaxed) {
                n += 1;
                let r = (|| -> Result<(), Box<dyn std::error::Error>> {
                    let row = c.query_one(
                        "INSERT INTO accounts (name) VALUES ($1) RETURNING id",
                        &[&format!("w{n}")],
                    )?;
                    let account: i64 = if wide {
                        row.get(0)
                    } else {
                        row.get::<_, i32>(0).into()
                    };
                    if wide {
                        c.execute(
                            "INSERT INTO orders (account_id, total) VALUES ($1, 5)",
                            &[&account],
                        )?;
                    } else {
                        c.execute(
                            "INSERT INTO orders (account_id, total) VALUES ($1, 5)",
                            &[&(account as i32)],
                        )?;
                    }
                    let sql = "SELECT count(*) FROM accounts a JOIN orders o ON o.account_id = a.id WHERE a.id = $1";
                    let count: i64 = if wide {
                        c.query_one(sql, &[&account])?.get(0)
                    } else {
                        c.query_one(sql, &[&(account as i32)])?.get(0)
                    };
                    assert_eq!(count, 1);
                    // An old account goes, its orders with it.
                    let gone = n - start;
                    if wide {
                        c.execute("DELETE FROM accounts WHERE id = $1", &[&gone])?;
                    } else {
                        c.execute("DELETE FROM accounts WHERE id = $1", &[&(gone as i32)])?;
                    }
                    Ok(())
                })();
                match r {
                    Ok(()) => ok += 1,
                    Err(e) => failed.push(format!("{e:?}")),
                }
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
            (ok, failed)
        });
        (stop, handle)
    };
    let (stop_old, old_writer) = writer(old.clone(), 0, false);
    std::thread::sleep(std::time::Duration::from_millis(200));
    let (code, _, err) = run(retort(p, &url).arg("upgrade"));
    assert_eq!(code, 0, "{err}");
    let (stop_new, new_writer) = writer(revision_of(p, "contract"), 10_000, true);
    std::thread::sleep(std::time::Duration::from_millis(500));
    stop_old.store(true, std::sync::atomic::Ordering::Relaxed);
    stop_new.store(true, std::sync::atomic::Ordering::Relaxed);
    for (who, h) in [("old", old_writer), ("new", new_writer)] {
        let (ok, failed) = h.join().unwrap();
        assert!(ok > 0, "{who}");
        assert!(failed.is_empty(), "{who}: {failed:?}");
    }
    let (code, _, err) = run(retort(p, &url).arg("complete"));
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = run(retort(p, &url).args(["check", "--dev-url", &dev, "--no-cache"]));
    assert_eq!(code, 0, "{out}{err}");
    let orphans: i64 = client
        .query_one(
            "SELECT count(*) FROM orders o WHERE NOT EXISTS (SELECT FROM accounts a WHERE a.id = o.account_id)",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(orphans, 0);
    // Back down the whole way: the schema is the one we started from.
    let (code, out, err) = run(retort(p, &url).args(["downgrade", &old]));
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(fingerprint(&mut client, "accounts,orders"), before);
}

#[test]
fn a_column_split_in_two_keeps_both_versions_in_step_until_the_contract() {
    let c = Cluster::builder().start().unwrap();
    let base = "CREATE TABLE users (id bigint PRIMARY KEY, name text NOT NULL, email text);\n";
    let (dir, url, mut client) = project_at(&c, "split", base);
    let p = dir.path();
    let dev = c.primary_url();
    client
        .batch_execute(
            "INSERT INTO users SELECT g, 'First' || g || ' Last' || g FROM generate_series(1, 20000) g; \
             ANALYZE users;",
        )
        .unwrap();
    let old = revision_of(p, "_base");
    std::fs::write(
        p.join("schema.sql"),
        "CREATE TABLE users (id bigint PRIMARY KEY, first_name text NOT NULL, last_name text NOT NULL, email text);\n",
    )
    .unwrap();
    let fills = [
        "--fill",
        "users.first_name=split_part(name, ' ', 1)",
        "--fill",
        "users.last_name=split_part(name, ' ', 2)",
    ];
    let new = |extra: &[&str]| {
        let mut cmd = retort(p, &url);
        cmd.args(["new", "-m", "split", "--autogenerate", "--dev-url", &dev]);
        cmd.args(fills).args(extra);
        run(&mut cmd)
    };
    // Without --keep it writes, and says what the old version's column misses.
    let (code, out, err) = new(&[]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("--keep public.users.name=SQL derives it"),
        "{err}"
    );
    for f in out.lines() {
        std::fs::remove_file(p.join(f)).unwrap();
    }
    // A --keep that does not work on the row is refused before anything is written.
    let (code, _, err) = new(&["--keep", "users.name=first || ' ' || last_name"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("--keep") && err.contains("first"), "{err}");
    let (code, _, err) = new(&["--keep", "users.email=email"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("stays in the wanted schema"), "{err}");
    let (code, out, err) = new(&["--keep", "users.name=first_name || ' ' || last_name"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.lines().count(), 3, "{out}");
    let (code, lint_out, err) = run(retort(p, &url).arg("lint"));
    assert_eq!(code, 0, "{lint_out}{err}");
    // The contract's drop is the one `retort complete` guards: excused, with the reason.
    assert!(
        !format!("{lint_out}{err}").contains("rename-or-drop"),
        "{lint_out}{err}"
    );

    // The old version renames people throughout the upgrade.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (url, old, stop) = (url.clone(), old.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut c = app(&url, &old);
            let (mut n, mut failed) = (0i64, Vec::new());
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                n += 1;
                let id = 1 + n % 20000;
                if let Err(e) = c.execute(
                    "UPDATE users SET name = $2 WHERE id = $1",
                    &[&id, &format!("Renamed{n} Person{n}")],
                ) {
                    failed.push(format!("{e:?}"));
                }
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            (n, failed)
        })
    };
    std::thread::sleep(std::time::Duration::from_millis(200));
    let (code, _, err) = run(retort(p, &url).arg("upgrade"));
    assert_eq!(code, 0, "{err}");
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (n, failed) = writer.join().unwrap();
    assert!(n > 0 && failed.is_empty(), "{failed:?}");
    // Every row's halves match its name, also those renamed during the backfill.
    let off: i64 = client
        .query_one(
            "SELECT count(*) FROM users WHERE first_name || ' ' || last_name <> name",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(off, 0);

    let mut old_app = app(&url, &old);
    let mut new_app = app(&url, &revision_of(p, "contract"));
    // Each version's writes reach the other's columns.
    old_app
        .execute(
            "INSERT INTO users (id, name) VALUES (-1, 'Ada Lovelace')",
            &[],
        )
        .unwrap();
    new_app
        .execute(
            "INSERT INTO users (id, first_name, last_name) VALUES (-2, 'Alan', 'Turing')",
            &[],
        )
        .unwrap();
    new_app
        .execute("UPDATE users SET last_name = 'Byron' WHERE id = -1", &[])
        .unwrap();
    old_app
        .execute("UPDATE users SET name = 'Alonzo Church' WHERE id = -2", &[])
        .unwrap();
    new_app
        .execute("UPDATE users SET email = 'a@x.org' WHERE id = 1", &[])
        .unwrap();
    let name = |c: &mut retort_pg::Client, id: i64| -> String {
        c.query_one("SELECT name FROM users WHERE id = $1", &[&id])
            .unwrap()
            .get(0)
    };
    let halves = |c: &mut retort_pg::Client, id: i64| -> (String, String) {
        let r = c
            .query_one(
                "SELECT first_name, last_name FROM users WHERE id = $1",
                &[&id],
            )
            .unwrap();
        (r.get(0), r.get(1))
    };
    assert_eq!(name(&mut old_app, -1), "Ada Byron");
    assert_eq!(halves(&mut new_app, -1), ("Ada".into(), "Byron".into()));
    assert_eq!(name(&mut old_app, -2), "Alonzo Church");
    assert_eq!(halves(&mut new_app, -2), ("Alonzo".into(), "Church".into()));
    // A write of neither half leaves the name alone.
    let before: String = client
        .query_one("SELECT name FROM users WHERE id = 1", &[])
        .unwrap()
        .get(0);
    assert_eq!(name(&mut old_app, 1), before);
    drop(old_app);
    let (code, _, err) = run(retort(p, &url).arg("complete"));
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = run(retort(p, &url).args(["check", "--dev-url", &dev, "--no-cache"]));
    assert_eq!(code, 0, "{out}{err}");
    // The contract's down brings the old column back with its values.
    let (code, out, err) = run(retort(p, &url).args(["downgrade", "-1"]));
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(name(&mut new_app, -2), "Alonzo Church");
}

#[test]
fn two_columns_merged_into_one_keep_both_versions_in_step() {
    let c = Cluster::builder().start().unwrap();
    let base = "CREATE TABLE users (id bigint PRIMARY KEY, first_name text, last_name text);\n";
    let (dir, url, mut client) = project_at(&c, "merge", base);
    let p = dir.path();
    let dev = c.primary_url();
    client
        .batch_execute(
            "INSERT INTO users SELECT g, 'F' || g, 'L' || g FROM generate_series(1, 20000) g; ANALYZE users;",
        )
        .unwrap();
    let old = revision_of(p, "_base");
    // The merged column is nullable: --fill answers it all the same.
    std::fs::write(
        p.join("schema.sql"),
        "CREATE TABLE users (id bigint PRIMARY KEY, full_name text);\n",
    )
    .unwrap();
    let (code, _, err) = run(retort(p, &url).args([
        "new",
        "-m",
        "merge",
        "--autogenerate",
        "--dev-url",
        &dev,
        "--fill",
        "users.full_name=concat_ws(' ', first_name, last_name)",
        "--keep",
        "users.first_name=split_part(full_name, ' ', 1)",
        "--keep",
        "users.last_name=nullif(split_part(full_name, ' ', 2), '')",
    ]));
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = run(retort(p, &url).arg("upgrade"));
    assert_eq!(code, 0, "{err}");
    let mut old_app = app(&url, &old);
    let mut new_app = app(&url, &revision_of(p, "contract"));
    old_app
        .execute("UPDATE users SET last_name = 'Smith' WHERE id = 7", &[])
        .unwrap();
    new_app
        .execute(
            "INSERT INTO users (id, full_name) VALUES (-1, 'Grace Hopper')",
            &[],
        )
        .unwrap();
    let full: String = new_app
        .query_one("SELECT full_name FROM users WHERE id = 7", &[])
        .unwrap()
        .get(0);
    assert_eq!(full, "F7 Smith");
    let r = old_app
        .query_one("SELECT first_name, last_name FROM users WHERE id = -1", &[])
        .unwrap();
    assert_eq!(
        (r.get::<_, String>(0), r.get::<_, String>(1)),
        ("Grace".into(), "Hopper".into())
    );
    let unfilled: i64 = client
        .query_one("SELECT count(*) FROM users WHERE full_name IS NULL", &[])
        .unwrap()
        .get(0);
    assert_eq!(unfilled, 0);
    drop(old_app);
    let (code, _, err) = run(retort(p, &url).arg("complete"));
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = run(retort(p, &url).args(["check", "--dev-url", &dev, "--no-cache"]));
    assert_eq!(code, 0, "{out}{err}");
}

#[test]
fn a_check_and_a_foreign_key_over_rows_that_break_them_are_asked_for_and_fixed() {
    let c = Cluster::builder().start().unwrap();
    let base = "CREATE TABLE accounts (id bigint PRIMARY KEY);\n\
                CREATE TABLE orders (id bigint PRIMARY KEY, account_id bigint, qty integer NOT NULL, ref text);\n";
    let (dir, url, mut client) = project_at(&c, "fixes", base);
    let p = dir.path();
    let dev = c.primary_url();
    client
        .batch_execute(
            "INSERT INTO accounts SELECT g FROM generate_series(1, 100) g; \
             INSERT INTO orders SELECT g, g % 150, g % 50 - 5, 'r' || (g % 19000) FROM generate_series(1, 20000) g; \
             ANALYZE accounts, orders;",
        )
        .unwrap();
    let old = revision_of(p, "_base");
    let wanted = "CREATE TABLE accounts (id bigint PRIMARY KEY);\n\
                  CREATE TABLE orders (id bigint PRIMARY KEY, account_id bigint REFERENCES accounts, \
                    qty integer NOT NULL CHECK (qty >= 0), ref text);\n";
    // With a unique index over duplicates too: that one is a note (which row to keep is not
    // retort's to choose); the CHECK and the foreign key are questions.
    std::fs::write(
        p.join("schema.sql"),
        format!("{wanted}CREATE UNIQUE INDEX orders_ref_key ON orders (ref);\n"),
    )
    .unwrap();
    let new = |extra: &[&str]| {
        let mut cmd = retort(p, &url);
        cmd.args(["new", "-m", "checked", "--autogenerate", "--dev-url", &dev]);
        cmd.args(extra);
        run(&mut cmd)
    };
    let (code, _, err) = new(&[]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("--fix public.orders.qty=SQL")
            && err.contains("--fix public.orders.account_id=SQL")
            && err.contains("rows of public.orders break the new UNIQUE (ref) orders_ref_key")
            && err.contains("cannot choose which of the duplicates to keep"),
        "{err}"
    );
    assert_eq!(migrations(p).len(), 1);
    std::fs::write(p.join("schema.sql"), wanted).unwrap();
    let (code, _, err) = new(&[
        "--fix",
        "orders.qty=greatest(qty, 0)",
        "--fix",
        "orders.ref=x",
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("--fix orders.ref=x") && err.contains("no new CHECK"),
        "{err}"
    );
    let (code, _, err) = new(&[
        "--fix",
        "orders.qty=greatest(qtty, 0)",
        "--fix",
        "orders.account_id=NULL",
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("qtty"), "{err}");
    let (code, out, err) = new(&[
        "--fix",
        "orders.qty=greatest(qty, 0)",
        "--fix",
        "orders.account_id=NULL",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.lines().any(|l| l.contains("contract")), "{out}");
    let (code, lint_out, err) = run(retort(p, &url).arg("lint"));
    assert_eq!(code, 0, "{lint_out}{err}");

    // The old version goes on writing negative quantities and unknown accounts throughout.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (url, old, stop) = (url.clone(), old.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut c = app(&url, &old);
            let (mut n, mut failed) = (0i64, Vec::new());
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                n += 1;
                let r = c
                    .execute(
                        "INSERT INTO orders (id, account_id, qty) VALUES ($1, 999, -3)",
                        &[&(100_000 + n)],
                    )
                    .and_then(|_| {
                        c.execute(
                            "UPDATE orders SET qty = -1 WHERE id = $1",
                            &[&(1 + n % 20000)],
                        )
                    });
                if let Err(e) = r {
                    failed.push(format!("{e:?}"));
                }
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            (n, failed)
        })
    };
    std::thread::sleep(std::time::Duration::from_millis(200));
    let (code, _, err) = run(retort(p, &url).arg("upgrade"));
    assert_eq!(code, 0, "{err}");
    std::thread::sleep(std::time::Duration::from_millis(200));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (n, failed) = writer.join().unwrap();
    assert!(n > 0 && failed.is_empty(), "{failed:?}");
    let row = client
        .query_one(
            "SELECT (SELECT count(*) FROM orders WHERE qty < 0), \
                    (SELECT count(*) FROM orders o WHERE account_id IS NOT NULL \
                       AND NOT EXISTS (SELECT FROM accounts a WHERE a.id = o.account_id)), \
                    (SELECT bool_and(convalidated) FROM pg_constraint WHERE conrelid = 'orders'::regclass AND contype IN ('c', 'f'))",
            &[],
        )
        .unwrap();
    assert_eq!(
        (
            row.get::<_, i64>(0),
            row.get::<_, i64>(1),
            row.get::<_, bool>(2)
        ),
        (0, 0, true)
    );
    let (code, _, err) = run(retort(p, &url).arg("complete"));
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = run(retort(p, &url).args(["check", "--dev-url", &dev, "--no-cache"]));
    assert_eq!(code, 0, "{out}{err}");
}

#[test]
fn an_expanded_key_type_change_is_aborted_back_to_the_old_keys() {
    let c = Cluster::builder().start().unwrap();
    let base = "CREATE TABLE accounts (id serial PRIMARY KEY, name text NOT NULL);\n\
                CREATE TABLE orders (id bigint PRIMARY KEY, account_id integer REFERENCES accounts);\n\
                CREATE INDEX orders_account_id_idx ON orders (account_id);\n";
    let (dir, url, mut client) = project_at(&c, "retype_key_abort", base);
    let p = dir.path();
    let dev = c.primary_url();
    client
        .batch_execute(
            "INSERT INTO accounts (name) SELECT 'a' || g FROM generate_series(1, 20000) g; \
             INSERT INTO orders SELECT g, 1 + g % 20000 FROM generate_series(1, 20000) g; \
             ANALYZE accounts, orders;",
        )
        .unwrap();
    let before = fingerprint(&mut client, "accounts,orders");
    let old = revision_of(p, "_base");
    std::fs::write(
        p.join("schema.sql"),
        "CREATE TABLE accounts (id bigserial PRIMARY KEY, name text NOT NULL);\n\
         CREATE TABLE orders (id bigint PRIMARY KEY, account_id bigint REFERENCES accounts);\n\
         CREATE INDEX orders_account_id_idx ON orders (account_id);\n",
    )
    .unwrap();
    let (code, _, err) =
        run(retort(p, &url).args(["new", "-m", "wider", "--autogenerate", "--dev-url", &dev]));
    assert_eq!(code, 0, "{err}");
    let mut old_app = app(&url, &old);
    let (code, _, err) = run(retort(p, &url).arg("upgrade"));
    assert_eq!(code, 0, "{err}");
    // Past the swap: the old version writes through its view, with its serial default.
    let id: i32 = old_app
        .query_one(
            "INSERT INTO accounts (name) VALUES ('late') RETURNING id",
            &[],
        )
        .unwrap()
        .get(0);
    old_app
        .execute("INSERT INTO orders VALUES (-1, $1)", &[&id])
        .unwrap();
    let (code, out, err) = run(retort(p, &url).arg("abort"));
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(fingerprint(&mut client, "accounts,orders"), before);
    // The old version never noticed: its rows are there under the old keys.
    let found: i64 = old_app
        .query_one(
            "SELECT count(*) FROM orders o JOIN accounts a ON a.id = o.account_id WHERE a.id = $1",
            &[&id],
        )
        .unwrap()
        .get(0);
    assert_eq!(found, 1);
}
