//! ADD COLUMN whose default must be computed per row: the table is rewritten under ACCESS
//! EXCLUSIVE.

use pg_query::protobuf::AlterTableType;

use super::{column_def, Draft, Rule, Severity, Target};
use crate::statement::{called_functions, column_default, column_rewrites};

pub struct VolatileDefault;

impl Rule for VolatileDefault {
    fn id(&self) -> &'static str {
        "volatile-default"
    }
    fn why(&self) -> &'static str {
        "a column added with a volatile default (random(), clock_timestamp(), serial, identity, stored generated) rewrites the whole table under ACCESS EXCLUSIVE"
    }
    fn check(&self, t: &Target<'_>, out: &mut Vec<Draft>) {
        let live_volatile = t.ctx.catalog.as_ref().map(|c| &c.volatile_functions);
        for (i, table, _, c) in t.alter_cmds_on_existing(AlterTableType::AtAddColumn) {
            let Some(col) = column_def(c) else { continue };
            let volatile_here = column_default(col).is_some_and(|d| {
                called_functions(d)
                    .iter()
                    .any(|f| live_volatile.is_some_and(|v| v.contains(f)))
            });
            if column_rewrites(col, t.ctx.version()) || volatile_here {
                out.push(Draft {
                    at: i,
                    relation: Some(table.clone()),
                    message: format!(
                        "adding column {} to {table} computes its value for every existing row: the table is rewritten under ACCESS EXCLUSIVE",
                        col.colname
                    ),
                    fix: "add the column without a default (or with a constant one), backfill it in batches \
                          (UPDATE ... WHERE id BETWEEN ...), then ALTER COLUMN ... SET DEFAULT for new rows"
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
        for sql in [
            "ALTER TABLE t ADD COLUMN token uuid DEFAULT gen_random_uuid();",
            "ALTER TABLE t ADD COLUMN n bigserial;",
            "ALTER TABLE t ADD COLUMN id bigint GENERATED ALWAYS AS IDENTITY;",
            "ALTER TABLE t ADD COLUMN r float8 NOT NULL DEFAULT random();",
        ] {
            assert!(ids(sql).contains(&"volatile-default"), "{sql}");
        }
        for sql in [
            "ALTER TABLE t ADD COLUMN c int DEFAULT 0;",
            "ALTER TABLE t ADD COLUMN at timestamptz DEFAULT now();",
            "CREATE TABLE t (a int); ALTER TABLE t ADD COLUMN u uuid DEFAULT gen_random_uuid();",
        ] {
            assert!(!ids(sql).contains(&"volatile-default"), "{sql}");
        }
    }
}
