//! SET NOT NULL scans the whole table under ACCESS EXCLUSIVE, unless a validated CHECK proves it.

use pg_query::protobuf::AlterTableType;

use super::{alter_table_cmds, same_relation, Draft, Rule, Severity, Target};

pub struct SetNotNull;

impl Rule for SetNotNull {
    fn id(&self) -> &'static str {
        "set-not-null"
    }
    fn why(&self) -> &'static str {
        "SET NOT NULL scans the whole table under ACCESS EXCLUSIVE unless a validated CHECK (col IS NOT NULL) already proves it"
    }
    fn check(&self, t: &Target<'_>, out: &mut Vec<Draft>) {
        for (i, s) in t.iter() {
            let Some((table, cmds)) = alter_table_cmds(s) else {
                continue;
            };
            if t.existing(i, &table).is_none() {
                continue;
            }
            // A VALIDATE CONSTRAINT on the table earlier in the migration is the safe pattern.
            let validated_before = t.statements[..i].iter().any(|p| {
                alter_table_cmds(p).is_some_and(|(tb, cs)| {
                    same_relation(&tb, &table)
                        && cs
                            .iter()
                            .any(|c| c.subtype == AlterTableType::AtValidateConstraint as i32)
                })
            });
            for c in cmds {
                if c.subtype == AlterTableType::AtSetNotNull as i32 && !validated_before {
                    out.push(Draft {
                        at: i,
                        relation: Some(table.clone()),
                        message: format!("SET NOT NULL on {table}.{} scans every row while reads and writes wait", c.name),
                        fix: format!(
                            "ALTER TABLE {table} ADD CONSTRAINT {col}_not_null CHECK ({col} IS NOT NULL) NOT VALID; then, in a \
                             later migration, VALIDATE CONSTRAINT {col}_not_null (no write lock), SET NOT NULL (PostgreSQL \
                             12+ uses the check and skips the scan) and DROP CONSTRAINT {col}_not_null",
                            col = c.name
                        ),
                        severity: Severity::Warning,
                    });
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::test_support::ids;

    #[test]
    fn positive_and_negative() {
        assert!(ids("ALTER TABLE t ALTER COLUMN c SET NOT NULL;").contains(&"set-not-null"));
        assert!(!ids(
            "ALTER TABLE t VALIDATE CONSTRAINT c_nn; ALTER TABLE t ALTER COLUMN c SET NOT NULL;"
        )
        .contains(&"set-not-null"));
        assert!(
            !ids("CREATE TABLE t (c int); ALTER TABLE t ALTER COLUMN c SET NOT NULL;")
                .contains(&"set-not-null")
        );
    }
}
