//! The SQL the diff generates for a few corpus cases, snapshotted (insta). The corpus test
//! proves every case by applying it; these snapshots make changes to the generated text
//! visible in review.

use std::path::Path;

use retort_catalog::{diff, introspect, Filter};
use retort_cluster::Cluster;
use retort_pg::ConnConfig;

const CASES: &[&str] = &[
    "app_schema_evolution",
    "enum_remove_value_with_column",
    "view_column_retyped",
    "column_default_function_recreated",
    "fk_cycle",
    "many_changes_one_table",
    "table_grants",
    "shadow_like_security_definer",
    "rename_looks_like_drop_add",
];

#[test]
fn generated_sql_for_selected_cases() {
    let c = Cluster::builder().start().unwrap();
    c.connect_primary()
        .unwrap()
        .batch_execute("CREATE ROLE app_user; CREATE ROLE app_reader;")
        .unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    for (i, case) in CASES.iter().enumerate() {
        let mut snapshots = Vec::new();
        for (j, file) in ["a.sql", "b.sql"].iter().enumerate() {
            let name = format!("snap_{i}_{j}");
            let url = c.create_database(&name).unwrap();
            let mut client = retort_pg::connect(&ConnConfig::parse(&url).unwrap()).unwrap();
            client
                .batch_execute(&std::fs::read_to_string(root.join(case).join(file)).unwrap())
                .unwrap();
            snapshots.push(introspect(&mut client, &Filter::default()).unwrap());
        }
        let d = diff(&snapshots[0], &snapshots[1]);
        let mut text = d.to_sql();
        for h in &d.hints {
            text.push_str(&format!("-- hint: {h}\n"));
        }
        insta::assert_snapshot!(*case, text);
    }
}
