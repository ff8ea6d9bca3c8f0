//! Renaming or dropping a column or table the running application (or a view) still uses.

use pg_query::protobuf::{node::Node as N, AlterTableType, ObjectType};

use super::{alter_table_cmds, Draft, Rule, Severity, Target};
use crate::statement::range_name;

pub struct RenameOrDrop;

const EXPAND_CONTRACT: &str =
    "expand and contract: ship an app version that no longer uses the old name \
    (or writes both), deploy it everywhere, and only then rename or drop in a later migration";

impl Rule for RenameOrDrop {
    fn id(&self) -> &'static str {
        "rename-or-drop"
    }
    fn why(&self) -> &'static str {
        "the app version still running when the migration commits uses the old name: its queries fail until the new version is deployed"
    }
    fn check(&self, t: &Target<'_>, out: &mut Vec<Draft>) {
        for (i, s) in t.iter() {
            let mut found: Vec<(String, String, String)> = Vec::new(); // (table, column or "", verb)
            match &s.node {
                N::RenameStmt(r) => {
                    let Some(rel) = r.relation.as_ref().map(range_name) else {
                        continue;
                    };
                    if r.rename_type == ObjectType::ObjectColumn as i32 {
                        found.push((rel, r.subname.clone(), format!("renames to {}", r.newname)));
                    } else if r.rename_type == ObjectType::ObjectTable as i32 {
                        found.push((rel, String::new(), format!("renames to {}", r.newname)));
                    }
                }
                N::DropStmt(d) if d.remove_type == ObjectType::ObjectTable as i32 => {
                    for e in &s.effects {
                        found.push((e.relation.clone(), String::new(), "drops".into()));
                    }
                }
                N::AlterTableStmt(_) => {
                    if let Some((table, cmds)) = alter_table_cmds(s) {
                        for c in cmds {
                            if c.subtype == AlterTableType::AtDropColumn as i32 {
                                found.push((table.clone(), c.name.clone(), "drops".into()));
                            }
                        }
                    }
                }
                _ => {}
            }
            for (table, column, verb) in found {
                let Some(existing) = t.existing(i, &table) else {
                    continue;
                };
                let what = if column.is_empty() {
                    format!("table {table}")
                } else {
                    format!("column {table}.{column}")
                };
                let views: Vec<String> = existing
                    .facts
                    .map(|f| {
                        f.dependents
                            .iter()
                            .filter(|(col, _)| {
                                column.is_empty() || **col == column || col.is_empty()
                            })
                            .flat_map(|(_, v)| v.clone())
                            .collect()
                    })
                    .unwrap_or_default();
                let mut message =
                    format!("this {verb} {what}, which the running application may still use");
                if !views.is_empty() {
                    message.push_str(&format!("; views that depend on it: {}", views.join(", ")));
                }
                out.push(Draft {
                    at: i,
                    relation: Some(table.clone()),
                    message,
                    fix: EXPAND_CONTRACT.into(),
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
            ids("ALTER TABLE users RENAME COLUMN name TO full_name;").contains(&"rename-or-drop")
        );
        assert!(ids("ALTER TABLE users DROP COLUMN legacy;").contains(&"rename-or-drop"));
        assert!(ids("DROP TABLE old_things;").contains(&"rename-or-drop"));
        assert!(ids("ALTER TABLE users RENAME TO people;").contains(&"rename-or-drop"));
        assert!(
            !ids("CREATE TABLE t (a int); ALTER TABLE t RENAME COLUMN a TO b;")
                .contains(&"rename-or-drop")
        );
        assert!(!ids("ALTER TABLE users ADD COLUMN x int;").contains(&"rename-or-drop"));
    }
}
