//! FOREIGN KEY or CHECK added without NOT VALID: the table is scanned while the lock is held.

use pg_query::protobuf::{node::Node as N, AlterTableType, ConstrType};

use super::{Draft, Rule, Severity, Target};

pub struct ConstraintNotValid;

impl Rule for ConstraintNotValid {
    fn id(&self) -> &'static str {
        "constraint-not-valid"
    }
    fn why(&self) -> &'static str {
        "adding a FOREIGN KEY or CHECK validates every row while holding the lock; NOT VALID + VALIDATE CONSTRAINT does it without blocking writes"
    }
    fn check(&self, t: &Target<'_>, out: &mut Vec<Draft>) {
        for (i, table, _, c) in t.alter_cmds_on_existing(AlterTableType::AtAddConstraint) {
            {
                let Some(N::Constraint(k)) = c.def.as_deref().and_then(|d| d.node.as_ref()) else {
                    continue;
                };
                let kind = if k.contype == ConstrType::ConstrForeign as i32 {
                    "FOREIGN KEY"
                } else if k.contype == ConstrType::ConstrCheck as i32 {
                    "CHECK"
                } else {
                    continue;
                };
                if k.skip_validation {
                    continue;
                }
                let lock = if kind == "CHECK" {
                    "ACCESS EXCLUSIVE (reads and writes wait)"
                } else {
                    "SHARE ROW EXCLUSIVE on both tables (writes wait)"
                };
                let name = if k.conname.is_empty() {
                    "c".to_owned()
                } else {
                    k.conname.clone()
                };
                out.push(Draft {
                    at: i,
                    relation: Some(table.clone()),
                    message: format!("{kind} constraint on {table} is validated against every row under {lock}"),
                    fix: format!(
                        "ALTER TABLE {table} ADD CONSTRAINT {name} ... NOT VALID; then ALTER TABLE {table} VALIDATE \
                         CONSTRAINT {name} in a later migration (SHARE UPDATE EXCLUSIVE: writes go on)"
                    ),
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
        assert!(
            ids("ALTER TABLE o ADD CONSTRAINT f FOREIGN KEY (u) REFERENCES users (id);")
                .contains(&"constraint-not-valid")
        );
        assert!(
            ids("ALTER TABLE o ADD CONSTRAINT c CHECK (n > 0);").contains(&"constraint-not-valid")
        );
        assert!(!ids(
            "ALTER TABLE o ADD CONSTRAINT f FOREIGN KEY (u) REFERENCES users (id) NOT VALID;"
        )
        .contains(&"constraint-not-valid"));
        assert!(
            !ids("CREATE TABLE o (u int); ALTER TABLE o ADD CONSTRAINT c CHECK (u > 0);")
                .contains(&"constraint-not-valid")
        );
    }
}
