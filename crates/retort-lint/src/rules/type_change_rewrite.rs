//! ALTER COLUMN TYPE rewrites the table under ACCESS EXCLUSIVE unless the change is
//! binary-coercible (varchar widening, varchar -> text, numeric precision increase).

use pg_query::protobuf::{a_const::Val, node::Node as N, AlterTableType};

use super::{column_def, Draft, Rule, Severity, Target};
use crate::statement::type_name_of;

pub struct TypeChangeRewrite;

/// `(base, first typmod)` of a type as format_type prints it: `character varying(20)` -> (`varchar`, 20).
fn parse_format_type(t: &str) -> (String, Option<i64>) {
    let (base, modpart) = match t.split_once('(') {
        Some((b, m)) => (
            b.trim(),
            m.trim_end_matches(')')
                .split(',')
                .next()
                .and_then(|v| v.trim().parse().ok()),
        ),
        None => (t.trim(), None),
    };
    let base = match base {
        "character varying" => "varchar",
        "character" => "bpchar",
        "integer" => "int4",
        "bigint" => "int8",
        "smallint" => "int2",
        other => other,
    };
    (base.to_owned(), modpart)
}

fn canonical(name: &str) -> &str {
    match name {
        "int" | "integer" => "int4",
        "bigint" => "int8",
        "smallint" => "int2",
        "character varying" => "varchar",
        other => other,
    }
}

/// Whether `old` -> `new` (base, typmod) needs no rewrite.
pub fn binary_coercible(old: &(String, Option<i64>), new: &(String, Option<i64>)) -> bool {
    let (ob, om) = (canonical(&old.0), old.1);
    let (nb, nm) = (canonical(&new.0), new.1);
    match (ob, nb) {
        ("varchar", "varchar") => match (om, nm) {
            (_, None) => true,
            (Some(o), Some(n)) => n >= o,
            (None, Some(_)) => false,
        },
        ("varchar", "text") => true,
        ("text", "varchar") => nm.is_none(),
        ("numeric", "numeric") => nm.is_none() || om.is_some_and(|o| nm.is_some_and(|n| n >= o)),
        (a, b) => a == b && om == nm,
    }
}

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
                let new_mod = col.type_name.as_ref().and_then(|tn| {
                    tn.typmods.iter().find_map(|m| match m.node.as_ref()? {
                        N::AConst(a) => match a.val.as_ref()? {
                            Val::Ival(v) => Some(v.ival as i64),
                            _ => None,
                        },
                        _ => None,
                    })
                });
                let old = existing
                    .facts
                    .and_then(|f| f.columns.get(&c.name))
                    .map(|t| parse_format_type(t));
                if let Some(old) = &old {
                    if binary_coercible(old, &(new_base.clone(), new_mod)) {
                        continue;
                    }
                }
                let from = old
                    .as_ref()
                    .map(|(b, m)| {
                        format!(
                            " from {b}{}",
                            m.map(|m| format!("({m})")).unwrap_or_default()
                        )
                    })
                    .unwrap_or_default();
                out.push(Draft {
                    at: i,
                    relation: Some(table.clone()),
                    message: format!(
                        "changing {table}.{}{from} to {new_base}{} rewrites the table and its indexes under ACCESS EXCLUSIVE{}",
                        c.name,
                        new_mod.map(|m| format!("({m})")).unwrap_or_default(),
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
    use super::*;
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
    fn binary_coercible_changes() {
        let v = |b: &str, m: Option<i64>| (b.to_owned(), m);
        assert!(binary_coercible(
            &parse_format_type("character varying(10)"),
            &v("varchar", Some(20))
        ));
        assert!(!binary_coercible(
            &parse_format_type("character varying(10)"),
            &v("varchar", Some(5))
        ));
        assert!(binary_coercible(
            &parse_format_type("character varying(10)"),
            &v("text", None)
        ));
        assert!(!binary_coercible(
            &parse_format_type("integer"),
            &v("int8", None)
        ));
        assert!(binary_coercible(
            &parse_format_type("numeric(10,2)"),
            &v("numeric", Some(12))
        ));
    }
}
