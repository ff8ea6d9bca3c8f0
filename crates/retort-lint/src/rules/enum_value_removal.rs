//! Removing an enum value: PostgreSQL cannot, so the type is renamed, re-created and every
//! column using it is converted (a rewrite of each of those tables).

use pg_query::protobuf::{node::Node as N, ObjectType};

use super::{Draft, Rule, Severity, Target};

pub struct EnumValueRemoval;

fn dotted(names: &[pg_query::protobuf::Node]) -> String {
    names
        .iter()
        .filter_map(|n| match n.node.as_ref()? {
            N::String(s) => Some(s.sval.clone()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join(".")
}

fn object_name(node: Option<&pg_query::protobuf::Node>) -> String {
    match node.and_then(|n| n.node.as_ref()) {
        Some(N::List(l)) => dotted(&l.items),
        Some(N::String(s)) => s.sval.clone(),
        Some(N::TypeName(t)) => dotted(&t.names),
        _ => String::new(),
    }
}

impl Rule for EnumValueRemoval {
    fn id(&self) -> &'static str {
        "enum-value-removal"
    }
    fn why(&self) -> &'static str {
        "an enum value cannot be dropped: re-creating the type converts (rewrites) every table that uses it, and rows holding the value fail"
    }
    fn check(&self, t: &Target<'_>, out: &mut Vec<Draft>) {
        for (i, s) in t.iter() {
            let N::RenameStmt(r) = &s.node else { continue };
            if r.rename_type != ObjectType::ObjectType as i32 {
                continue;
            }
            let old = object_name(r.object.as_deref());
            let base = old.rsplit('.').next().unwrap_or(&old).to_owned();
            let recreated = t.statements[i + 1..].iter().any(|n| {
                matches!(&n.node, N::CreateEnumStmt(e) if {
                    let name = dotted(&e.type_name);
                    name.rsplit('.').next() == Some(base.as_str())
                })
            });
            if recreated {
                out.push(Draft {
                    at: i,
                    relation: None,
                    message: format!(
                        "enum {old} is renamed and re-created to remove a value: every column of that type is \
                         converted (each table rewritten under ACCESS EXCLUSIVE), and rows holding the removed \
                         value make the conversion fail"
                    ),
                    fix: "first stop writing the value and UPDATE the rows that hold it; consider leaving the value \
                          in the type (unused) or a lookup table with a foreign key instead of an enum"
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
        let dance = "ALTER TYPE mood RENAME TO mood_old; CREATE TYPE mood AS ENUM ('ok', 'happy'); \
                     ALTER TABLE p ALTER COLUMN m TYPE mood USING m::text::mood; DROP TYPE mood_old;";
        assert!(ids(dance).contains(&"enum-value-removal"));
        assert!(!ids("ALTER TYPE mood ADD VALUE 'meh';").contains(&"enum-value-removal"));
        assert!(!ids("ALTER TYPE mood RENAME TO feeling;").contains(&"enum-value-removal"));
    }
}
