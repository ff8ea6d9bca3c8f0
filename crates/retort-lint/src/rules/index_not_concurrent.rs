//! CREATE INDEX without CONCURRENTLY (and UNIQUE/PRIMARY KEY constraints that build an index)
//! on an existing table: writes wait for the whole build.

use pg_query::protobuf::{node::Node as N, AlterTableType, ConstrType};

use super::{alter_table_cmds, Draft, Rule, Severity, Target};
use crate::statement::range_name;

pub struct IndexNotConcurrent;

impl Rule for IndexNotConcurrent {
    fn id(&self) -> &'static str {
        "index-not-concurrent"
    }
    fn why(&self) -> &'static str {
        "building an index without CONCURRENTLY blocks every write to the table until it is built"
    }
    fn check(&self, t: &Target<'_>, out: &mut Vec<Draft>) {
        for (i, s) in t.iter() {
            if let N::IndexStmt(ix) = &s.node {
                let Some(rel) = ix.relation.as_ref().map(range_name) else {
                    continue;
                };
                if ix.concurrent || t.existing(i, &rel).is_none() {
                    continue;
                }
                out.push(Draft {
                    at: i,
                    relation: Some(rel.clone()),
                    message: format!("CREATE INDEX on {rel} without CONCURRENTLY blocks writes to it while the index is built"),
                    fix: "CREATE INDEX CONCURRENTLY ..., alone in a migration marked `-- retort:transaction off` \
                          (if it fails, drop the INVALID index it leaves and run it again)"
                        .into(),
                    severity: Severity::Warning,
                });
            }
            if let Some((table, cmds)) = alter_table_cmds(s) {
                if t.existing(i, &table).is_none() {
                    continue;
                }
                for c in cmds {
                    if c.subtype != AlterTableType::AtAddConstraint as i32 {
                        continue;
                    }
                    if let Some(N::Constraint(k)) = c.def.as_deref().and_then(|d| d.node.as_ref()) {
                        let builds = (k.contype == ConstrType::ConstrPrimary as i32
                            || k.contype == ConstrType::ConstrUnique as i32)
                            && k.indexname.is_empty();
                        if builds {
                            out.push(Draft {
                                at: i,
                                relation: Some(table.clone()),
                                message: format!("adding a PRIMARY KEY or UNIQUE constraint to {table} builds its index under ACCESS EXCLUSIVE: reads and writes wait for the build"),
                                fix: "CREATE UNIQUE INDEX CONCURRENTLY name ON table (...) in a `-- retort:transaction off` migration, \
                                      then ALTER TABLE table ADD CONSTRAINT c UNIQUE USING INDEX name (or PRIMARY KEY USING INDEX)"
                                    .into(),
                                severity: Severity::Warning,
                            });
                        }
                    }
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
        assert_eq!(
            ids("CREATE INDEX i ON users (email);"),
            ["index-not-concurrent", "no-lock-timeout"]
        );
        assert!(ids("ALTER TABLE users ADD CONSTRAINT u UNIQUE (email);")
            .contains(&"index-not-concurrent"));
        // A table created in the same migration is empty: no finding.
        assert!(!ids("CREATE TABLE t (a int); CREATE INDEX i ON t (a);")
            .contains(&"index-not-concurrent"));
        assert!(
            !ids("ALTER TABLE users ADD CONSTRAINT u UNIQUE USING INDEX users_email;")
                .contains(&"index-not-concurrent")
        );
    }
}
