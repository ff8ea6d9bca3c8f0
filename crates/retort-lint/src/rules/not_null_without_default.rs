//! ADD COLUMN ... NOT NULL without a default on an existing table: fails once the table has rows.

use pg_query::protobuf::{node::Node as N, AlterTableType, ConstrType};

use super::{column_def, Draft, Rule, Severity, Target};
use crate::statement::{column_default, type_name_of};

pub struct NotNullWithoutDefault;

impl Rule for NotNullWithoutDefault {
    fn id(&self) -> &'static str {
        "not-null-without-default"
    }
    fn why(&self) -> &'static str {
        "a NOT NULL column without a default cannot be added to a table that has rows: the migration fails in production although it passed on an empty development database"
    }
    fn check(&self, t: &Target<'_>, out: &mut Vec<Draft>) {
        for (i, table, existing, c) in t.alter_cmds_on_existing(AlterTableType::AtAddColumn) {
            {
                let Some(col) = column_def(c) else {
                    continue;
                };
                let has = |k: ConstrType| {
                    col.constraints
                        .iter()
                        .any(|n| matches!(n.node.as_ref(), Some(N::Constraint(x)) if x.contype == k as i32))
                };
                let not_null = col.is_not_null
                    || has(ConstrType::ConstrNotnull)
                    || has(ConstrType::ConstrPrimary);
                let filled = column_default(col).is_some()
                    || has(ConstrType::ConstrIdentity)
                    || has(ConstrType::ConstrGenerated)
                    || type_name_of(col.type_name.as_ref()).contains("serial");
                if !not_null || filled {
                    continue;
                }
                let rows = existing.facts.map(|f| f.rows);
                let severity = if rows.is_some_and(|r| r > 0.0) {
                    Severity::Error
                } else {
                    Severity::Warning
                };
                out.push(Draft {
                    at: i,
                    relation: Some(table.clone()),
                    message: format!(
                        "column {} is added to {table} as NOT NULL without a default: this fails as soon as {table} has a row{}",
                        col.colname,
                        match rows {
                            Some(r) if r > 0.0 => format!(" (it has about {r:.0})"),
                            _ => String::new(),
                        }
                    ),
                    fix: "add it with a DEFAULT (a constant does not rewrite the table since PostgreSQL 11), or add it \
                          nullable, backfill, then SET NOT NULL the safe way (see set-not-null)"
                        .into(),
                    severity,
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
        assert!(ids("ALTER TABLE users ADD COLUMN tenant int NOT NULL;")
            .contains(&"not-null-without-default"));
        assert!(
            !ids("ALTER TABLE users ADD COLUMN tenant int NOT NULL DEFAULT 1;")
                .contains(&"not-null-without-default")
        );
        assert!(
            !ids("ALTER TABLE users ADD COLUMN tenant int;").contains(&"not-null-without-default")
        );
        assert!(!ids(
            "CREATE TABLE users (a int); ALTER TABLE users ADD COLUMN tenant int NOT NULL;"
        )
        .contains(&"not-null-without-default"));
    }
}
