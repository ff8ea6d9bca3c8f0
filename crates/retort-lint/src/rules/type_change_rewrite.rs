//! ALTER COLUMN TYPE rewrites the table under ACCESS EXCLUSIVE unless PostgreSQL makes the
//! change in place (varchar widening, varchar -> text, numeric precision widening, ...): the
//! same knowledge the diff uses, `retort_catalog::rewrite_free`.

use pg_query::protobuf::{a_const::Val, node::Node as N, AlterTableType};

use super::{column_def, Draft, Rule, Severity, Target};
use crate::statement::type_name_of;
use retort_catalog::rewrite_free;

pub struct TypeChangeRewrite;

impl Rule for TypeChangeRewrite {
    fn id(&self) -> &'static str {
        "type-change-rewrite"
    }
    fn why(&self) -> &'static str {
        "changing a column's type rewrites the table and its indexes under ACCESS EXCLUSIVE, unless the new type is binary-coercible"
    }
    fn check(&self, t: &Target<'_>, out: &mut Vec<Draft>) {
        for (i, table, existing, c) in t.alter_cmds_on_existing(AlterTableType::AtAlterColumnType) {
            {
                let Some(col) = column_def(c) else {
                    continue;
                };
                let new_base = type_name_of(col.type_name.as_ref());
                let mods: Vec<String> = col
                    .type_name
                    .as_ref()
                    .map(|tn| {
                        tn.typmods
                            .iter()
                            .filter_map(|m| match m.node.as_ref()? {
                                N::AConst(a) => match a.val.as_ref()? {
                                    Val::Ival(v) => Some(v.ival.to_string()),
                                    _ => None,
                                },
                                _ => None,
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                let array = col
                    .type_name
                    .as_ref()
                    .is_some_and(|tn| !tn.array_bounds.is_empty());
                let new = format!(
                    "{new_base}{}{}",
                    if mods.is_empty() {
                        String::new()
                    } else {
                        format!("({})", mods.join(","))
                    },
                    if array { "[]" } else { "" }
                );
                let old = existing.facts.and_then(|f| f.columns.get(&c.name));
                if old.is_some_and(|old| rewrite_free(old, &new)) {
                    continue;
                }
                let from = old.map(|o| format!(" from {o}")).unwrap_or_default();
                out.push(Draft {
                    at: i,
                    relation: Some(table.clone()),
                    message: format!(
                        "changing {table}.{}{from} to {new} rewrites the table and its indexes under ACCESS EXCLUSIVE{}",
                        c.name,
                        if old.is_none() { " (unless the change is binary-coercible, e.g. varchar widening; lint with a database URL to know)" } else { "" }
                    ),
                    fix: "expand and contract: add a new column of the new type, write both from the app, backfill in \
                          batches, switch reads, then drop the old column"
                        .into(),
                    severity: Severity::Warning,
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::test_support::ids;

    #[test]
    fn positive_and_negative() {
        assert!(ids("ALTER TABLE t ALTER COLUMN c TYPE bigint;").contains(&"type-change-rewrite"));
        assert!(
            !ids("CREATE TABLE t (c int); ALTER TABLE t ALTER COLUMN c TYPE bigint;")
                .contains(&"type-change-rewrite")
        );
    }

    #[test]
    fn in_place_changes_on_known_columns_pass() {
        use crate::context::{LintContext, LiveCatalog, TableFacts};
        use crate::rules::test_support::lint_with;
        let facts = TableFacts {
            name: "t".into(),
            bytes: 1 << 30,
            rows: 1e7,
            columns: [
                ("v", "character varying(512)"),
                ("n", "numeric(10,2)"),
                ("i", "integer"),
            ]
            .into_iter()
            .map(|(a, b)| (a.to_owned(), b.to_owned()))
            .collect(),
            dependents: Default::default(),
        };
        let ctx = LintContext {
            catalog: Some(LiveCatalog {
                tables: [("t".to_owned(), facts)].into_iter().collect(),
                ..Default::default()
            }),
            ..Default::default()
        };
        let found = |sql: &str| {
            lint_with(sql, true, &ctx)
                .iter()
                .any(|f| f.rule == "type-change-rewrite")
        };
        for sql in [
            "ALTER TABLE t ALTER COLUMN v TYPE varchar(2000);",
            "ALTER TABLE t ALTER COLUMN v TYPE text;",
            "ALTER TABLE t ALTER COLUMN n TYPE numeric(12,2);",
            "ALTER TABLE t ALTER COLUMN n TYPE numeric;",
        ] {
            assert!(!found(sql), "{sql}");
        }
        for sql in [
            "ALTER TABLE t ALTER COLUMN v TYPE varchar(100);",
            "ALTER TABLE t ALTER COLUMN n TYPE numeric(12,3);",
            "ALTER TABLE t ALTER COLUMN i TYPE bigint;",
            "ALTER TABLE t ALTER COLUMN v TYPE varchar(2000)[];",
        ] {
            assert!(found(sql), "{sql}");
        }
    }
}
