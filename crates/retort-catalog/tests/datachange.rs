//! Changes that need data, on catalogs read from a real server: which questions are asked,
//! which answers are refused, and what the answers become.

use retort_catalog::datachange::{
    self, keep_dropped_columns, match_answers, old_shape, parse_answer, parse_rename, questions,
    ColumnRef, Facts, FillForm, Question, Rename,
};
use retort_catalog::{diff, introspect, Filter, QName, Snapshot};
use retort_cluster::Cluster;
use retort_pg::{Client, ConnConfig};

fn read(c: &Cluster, name: &str, sql: &str) -> (Snapshot, Client) {
    let url = c.create_database(name).unwrap();
    let mut client = retort_pg::connect(&ConnConfig::parse(&url).unwrap()).unwrap();
    client.batch_execute(sql).unwrap();
    (introspect(&mut client, &Filter::default()).unwrap(), client)
}

const FROM: &str = "CREATE TYPE state AS ENUM ('new', 'done');
CREATE TABLE items (id bigint PRIMARY KEY, name text, qty text, note text NOT NULL, kept int);
CREATE TABLE tiny (id int PRIMARY KEY);";

const TO: &str = "CREATE TYPE state AS ENUM ('new', 'done');
CREATE TABLE items (id bigint PRIMARY KEY, name text NOT NULL, qty integer, state state NOT NULL,
                    serial_no bigint GENERATED ALWAYS AS IDENTITY, kept bigint,
                    defaulted text NOT NULL DEFAULT 'x');
CREATE TABLE tiny (id int PRIMARY KEY, flag boolean NOT NULL);";

#[test]
fn questions_answers_and_what_they_become() {
    let c = Cluster::builder().start().unwrap();
    let (from, _) = read(&c, "dc_from", FROM);
    let (to, _) = read(&c, "dc_to", TO);
    let items = QName::new("public", "items");
    let busy = |t: &QName| *t == items;
    let col = |c: &str| ColumnRef {
        table: items.clone(),
        column: c.into(),
    };
    let nulls = |c: &ColumnRef| (c.column == "name").then_some(true);
    let q = questions(
        &from.catalog,
        &to.catalog,
        &Facts {
            populated: &busy,
            holds_nulls: &nulls,
            breaks: &|_| Some(false),
        },
    );
    // state (added NOT NULL), name (holds NULLs), qty (text -> integer); not the identity,
    // the defaulted column, the widening int -> bigint, nor anything on the small table.
    assert_eq!(
        q.asked,
        vec![
            Question::FillNulls {
                column: col("name")
            },
            Question::FillAdded {
                column: col("state"),
                data_type: "public.state".into()
            },
            Question::Convert {
                column: col("qty"),
                old_type: "text".into(),
                new_type: "integer".into()
            },
        ],
        "{:?}",
        q.asked
    );
    assert!(q.notes.is_empty());
    // Unknown NULLs are said, not asked.
    let unknown = |_: &ColumnRef| None;
    let q2 = questions(
        &from.catalog,
        &to.catalog,
        &Facts {
            populated: &busy,
            holds_nulls: &unknown,
            breaks: &|_| Some(false),
        },
    );
    assert!(q2
        .notes
        .iter()
        .any(|n| n.contains("could not tell whether public.items.name holds NULLs")));

    let answer = |flag: &'static str, t: &str| (t.to_owned(), parse_answer(flag, t).unwrap());
    // An answer to a question that is not there is refused.
    for (flag, text, says) in [
        ("--fill", "items.id=1", "needs no value"),
        ("--fill", "items.defaulted='y'", "needs no value"),
        ("--fill", "items.nope=1", "has no column nope"),
        ("--fill", "ghost.name=1", "there is no table ghost"),
    ] {
        let e = match_answers(
            &from.catalog,
            &to.catalog,
            &[answer(flag, text)],
            &[],
            &[],
            &[],
            &[],
        )
        .unwrap_err();
        assert!(e.to_string().contains(says), "{text}: {e}");
    }
    let e = match_answers(
        &from.catalog,
        &to.catalog,
        &[],
        &[answer("--convert", "items.name=name")],
        &[],
        &[],
        &[],
    )
    .unwrap_err();
    assert!(e.to_string().contains("keeps its type"), "{e}");
    let matched = match_answers(
        &from.catalog,
        &to.catalog,
        &[
            answer("--fill", "items.state='new'"),
            answer("--fill", "items.name=coalesce(note, '?')"),
        ],
        &[answer("--convert", "items.qty=NULLIF(qty, '')::integer")],
        &[],
        &[],
        &[],
    )
    .unwrap();
    assert!(datachange::unanswered(&q, &matched).is_empty());
    assert!(matched.fills.iter().all(|f| f.form == FillForm::Expression));
    let state = matched
        .fills
        .iter()
        .find(|f| f.column.column == "state")
        .unwrap();
    assert!(state.added);

    // The conversion becomes the USING; the generated cast is gone.
    let mut up = diff(&from, &to);
    datachange::apply_converts(&mut up, &matched.converts).unwrap();
    let sql = up.to_sql();
    assert!(
        sql.contains("ALTER TABLE public.items ALTER COLUMN qty TYPE integer USING (NULLIF(qty, '')::integer);"),
        "{sql}"
    );

    // Fill steps: one trigger per column; in two phases the triggers go in the contract.
    let one = datachange::fill_steps(&matched.fills, &[], false);
    let two = datachange::fill_steps(&matched.fills, &[], true);
    assert_eq!(one.main_up.len(), 4);
    assert!(one.fill_up.iter().any(|s| s.starts_with("DROP TRIGGER")));
    assert!(!two.fill_up.iter().any(|s| s.starts_with("DROP TRIGGER")));
    assert_eq!(two.contract_up.len(), 4);
    assert_eq!(two.contract_down, two.main_up);
    assert!(one.fill_up.iter().any(|s| s
        == "-- retort:batch\nUPDATE public.items SET name = (coalesce(note, '?')) WHERE name IS NULL"));

    // A backfill walks a single-column primary key: a table without one is refused.
    assert!(datachange::check_backfills(&from.catalog, &matched.fills).is_ok());
    let mut keyless = matched.fills[0].clone();
    keyless.column.table = QName::new("public", "ghost");
    let e = datachange::check_backfills(&from.catalog, &[keyless]).unwrap_err();
    assert!(
        e.to_string().contains("no single-column primary key"),
        "{e}"
    );

    // A dropped column of a populated table is kept, NOT NULL relaxed, until the contract.
    let (kept_to, kept) = keep_dropped_columns(&from.catalog, &to.catalog, &busy);
    assert_eq!(kept.columns, vec![col("note")]);
    assert_eq!(kept.contract_up.len(), 1);
    assert!(kept.contract_up[0].starts_with("-- retort:allow rename-or-drop the contract"));
    assert!(kept.contract_up[0].ends_with("\nALTER TABLE public.items DROP COLUMN note"));
    let note = kept_to.tables[&items]
        .columns
        .iter()
        .find(|c| c.name == "note")
        .unwrap();
    assert!(!note.not_null);
    let (_, none) = keep_dropped_columns(&from.catalog, &to.catalog, &|_| false);
    assert!(none.columns.is_empty());
}

#[test]
fn renames_resolve_against_both_sides_and_the_old_shape_maps_names_back() {
    let c = Cluster::builder().start().unwrap();
    let (from, _) = read(
        &c,
        "rn_from",
        "CREATE SCHEMA app; CREATE TABLE app.users (id int PRIMARY KEY, name text, email text);",
    );
    let (to, _) = read(
        &c,
        "rn_to",
        "CREATE SCHEMA app; CREATE TABLE app.people (id int PRIMARY KEY, full_name text, email text);",
    );
    let column = parse_rename("app.users.name=full_name", &from.catalog, &to.catalog).unwrap();
    let table = parse_rename("app.users=people", &from.catalog, &to.catalog).unwrap();
    assert_eq!(
        column,
        Rename::Column {
            table: QName::new("app", "users"),
            old: "name".into(),
            new: "full_name".into()
        }
    );
    assert_eq!(
        table,
        Rename::Table {
            old: QName::new("app", "users"),
            new: "people".into()
        }
    );
    // A bare table name is found in its only schema; a name already taken is refused.
    assert!(parse_rename("users=people", &from.catalog, &to.catalog).is_ok());
    let e = parse_rename("app.users.name=email", &from.catalog, &to.catalog).unwrap_err();
    assert!(e.to_string().contains("already has a column email"), "{e}");
    let shape = old_shape(
        &from.catalog,
        &to.catalog,
        &[column, table],
        "retort_v_aaaaaaaaaaaa",
    );
    assert_eq!(
        shape.create,
        vec![
            "CREATE SCHEMA retort_v_aaaaaaaaaaaa",
            "GRANT USAGE ON SCHEMA retort_v_aaaaaaaaaaaa TO PUBLIC",
            "CREATE VIEW retort_v_aaaaaaaaaaaa.users WITH (security_invoker = true) AS SELECT id, full_name AS name, email FROM app.people",
            "GRANT SELECT, INSERT, UPDATE, DELETE ON retort_v_aaaaaaaaaaaa.users TO PUBLIC",
        ]
    );
    assert_eq!(
        shape.drop,
        vec![
            "DROP VIEW retort_v_aaaaaaaaaaaa.users",
            "DROP SCHEMA retort_v_aaaaaaaaaaaa"
        ]
    );
}
