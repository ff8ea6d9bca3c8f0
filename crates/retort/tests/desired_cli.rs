//! The desired schema from a program: `schema_command` (SQL it prints) and `schema_build` (what
//! it builds in a throwaway database), for `new --autogenerate`, `check` and `diff`, with the
//! failures a user meets: a command that fails, prints nothing, or builds nothing.

mod project;

use project::{database, json, retort, run};
use retort_cluster::Cluster;

const TABLES: &str = "CREATE TABLE authors (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text NOT NULL);\nCREATE TABLE books (id bigint PRIMARY KEY, author bigint REFERENCES authors, title text NOT NULL);\n";

fn config(p: &std::path::Path, migrations_line: &str) {
    std::fs::write(
        p.join("retort.toml"),
        format!("[migrations]\ndir = \"migrations\"\n{migrations_line}\n"),
    )
    .unwrap();
    std::fs::create_dir_all(p.join("migrations")).unwrap();
}

#[test]
fn each_source_kind_autogenerates_and_checks_the_same_schema() {
    let c = Cluster::builder().start().unwrap();
    let dev = c.primary_url();
    let p = tempfile::tempdir().unwrap();
    let p = p.path();
    std::fs::write(p.join("models.sql"), TABLES).unwrap();
    // The build command gets a throwaway database in $DATABASE_URL (and PG* variables).
    std::fs::write(
        p.join("build.sh"),
        "set -e\npsql -v ON_ERROR_STOP=1 -q -f models.sql \"$DATABASE_URL\"\ntest -n \"$PGDATABASE\"\n",
    )
    .unwrap();
    let sources = [
        ("schema = \"models.sql\"", "models.sql"),
        (
            "schema_command = \"cat models.sql\"",
            "the output of `cat models.sql`",
        ),
        (
            "schema_build = \"sh build.sh\"",
            "the database `sh build.sh` builds",
        ),
    ];
    for (i, (line, name)) in sources.iter().enumerate() {
        let (url, _) = database(&c, &format!("app{i}"));
        let _ = std::fs::remove_dir_all(p.join("migrations"));
        config(p, line);
        let (code, out, err) =
            run(retort(p, &url).args(["new", "-m", "books", "--autogenerate", "--dev-url", &dev]));
        assert_eq!(code, 0, "{line}: {err}");
        let text = std::fs::read_to_string(p.join(out.trim())).unwrap();
        assert!(
            text.contains("CREATE TABLE public.books")
                && text.contains("REFERENCES public.authors"),
            "{line}: {text}"
        );
        assert_eq!(run(retort(p, &url).arg("upgrade")).0, 0);
        let (code, out, err) = run(retort(p, &url).args([
            "check",
            "--dev-url",
            &dev,
            "--no-cache",
            "--format",
            "json",
        ]));
        assert_eq!(code, 0, "{line}: {out}{err}");
        let doc = json(&out);
        let path = doc["schema_file"]["path"].as_str().unwrap();
        assert!(path.ends_with(name), "{path} {name}");
        assert_eq!(doc["schema_file"]["differs"], false);
    }

    // Flags override retort.toml; diff takes programs on either side.
    let (url, _) = database(&c, "flags");
    let (code, out, err) = run(retort(p, &url).args([
        "diff",
        &url,
        "--to-command",
        "cat models.sql",
        "--dev-url",
        &dev,
    ]));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("CREATE TABLE public.authors"), "{out}");
    let (code, out, err) = run(retort(p, &url).args([
        "diff",
        "--from-build",
        "sh build.sh",
        "--to-command",
        "cat models.sql",
        "--dev-url",
        &dev,
        "--exit-code",
    ]));
    assert_eq!(code, 0, "{out}{err}");
    assert!(err.contains("no differences"), "{err}");
    let (code, _, err) = run(retort(p, &url).args(["diff", "--to-command", "cat models.sql"]));
    assert_eq!(code, 1);
    assert!(err.contains("retort diff needs FROM"), "{err}");
}

#[test]
fn a_failing_command_an_empty_output_and_an_empty_build_are_errors() {
    let c = Cluster::builder().start().unwrap();
    let dev = c.primary_url();
    let (url, mut client) = database(&c, "app");
    client.batch_execute(TABLES).unwrap();
    let p = tempfile::tempdir().unwrap();
    let p = p.path();
    let cases = [
        (
            "schema_command = \"echo 'models: no module named app' >&2; exit 3\"",
            vec!["exit status 3", "no module named app"],
        ),
        (
            "schema_command = \"echo '-- nothing here'\"",
            vec!["printed no SQL", "drops everything"],
        ),
        (
            "schema_build = \"true\"",
            vec!["left the database empty", "$DATABASE_URL"],
        ),
        (
            "schema_build = \"psql \\\"$DATABASE_URL\\\" -v ON_ERROR_STOP=1 -q -c 'CREATE TABLE x (y nosuchtype)'\"",
            vec!["schema_build", "exit status", "nosuchtype"],
        ),
        (
            "schema = \"a.sql\"\nschema_command = \"cat a.sql\"",
            vec!["exactly one of schema, schema_command and schema_build"],
        ),
    ];
    for (line, wanted) in cases {
        config(p, line);
        let (code, out, err) =
            run(retort(p, &url).args(["new", "-m", "x", "--autogenerate", "--dev-url", &dev]));
        assert_eq!(code, 1, "{line}: {out}{err}");
        for w in wanted {
            assert!(err.contains(w), "{line}: {w:?} not in {err}");
        }
        let written = std::fs::read_dir(p.join("migrations")).unwrap().count();
        assert_eq!(written, 0, "{line}: nothing is written");
        let (code, _, err) = run(retort(p, &url).args(["check", "--dev-url", &dev]));
        assert_eq!(code, 1, "{line}: check fails too: {err}");
    }
    // A variable for one source replaces the file's.
    config(p, "schema_command = \"exit 1\"");
    std::fs::write(p.join("models.sql"), TABLES).unwrap();
    let (code, out, err) = run(retort(p, &url)
        .env("RETORT_MIGRATIONS_SCHEMA", "models.sql")
        .args(["new", "-m", "x", "--autogenerate", "--dev-url", &dev]));
    assert_eq!(code, 0, "{out}{err}");
}
