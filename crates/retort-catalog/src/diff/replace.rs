//! Planning in-place replacements: a type or collation whose new definition PostgreSQL cannot
//! reach by ALTER, while columns use it, is renamed, created anew, its columns moved to the new
//! one, and the old one dropped.

use std::collections::BTreeMap;
use std::mem::take;

use retort_pg::quote_ident;

use super::classify::{Classified, Status};
use super::{Action, Change};
use crate::catalog::Catalog;
use crate::depends::Dependencies;
use crate::name::{ObjKey, QName};
use crate::types::TypeDef;
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use std::collections::BTreeSet;

/// A domain whose new or changed check (or NOT NULL) PostgreSQL must validate cannot be
/// altered while a range over it is stored in a column ("cannot alter type because column
/// uses it"). Such a range is replaced in place (its columns hold text meanwhile), and the
/// domain's statements run while it is away.
pub(super) fn ranges_over_changed_domains(c: &mut Classified, a: &Catalog, deps: &Dependencies) {
    let validating = |statements: &[String]| {
        statements.iter().any(|s| {
            s.contains(" ADD CONSTRAINT ")
                || s.contains(" VALIDATE CONSTRAINT ")
                || s.contains(" SET NOT NULL")
        })
    };
    let domains: BTreeSet<&ObjKey> = c
        .alters
        .iter()
        .filter(|(k, (statements, _))| {
            matches!(k, ObjKey::Type(q) if a.types.get(q).is_some_and(|t| matches!(t.kind, crate::types::TypeKind::Domain { .. })))
                && validating(statements)
        })
        .map(|(k, _)| k)
        .collect();
    if domains.is_empty() {
        return;
    }
    let used: HashSet<&ObjKey> = deps
        .iter()
        .filter(|(d, _)| matches!(d, ObjKey::Column(..)))
        .map(|(_, r)| r)
        .collect();
    let mut moves: Vec<(ObjKey, ObjKey)> = Vec::new();
    for (dependent, referenced) in deps.iter() {
        let ObjKey::Type(q) = dependent else { continue };
        let is_range = a
            .types
            .get(q)
            .is_some_and(|t| matches!(t.kind, crate::types::TypeKind::Range { .. }));
        if is_range
            && domains.contains(referenced)
            && used.contains(dependent)
            && matches!(c.status.get(dependent), Some(Status::Same | Status::Alter))
            && !moves.iter().any(|(_, d)| d == referenced)
        {
            moves.push((dependent.clone(), referenced.clone()));
        }
    }
    for (range, domain) in moves {
        let (statements, _) = c.alters.remove(&domain).unwrap_or_default();
        c.status.insert(domain, Status::Same);
        c.alters.remove(&range);
        c.status.insert(range.clone(), Status::Recreate);
        c.spliced.insert(range, statements);
    }
}

/// Types and collations re-created while columns use them become replaced in place; their
/// columns are disturbed. Returns each one's columns.
pub(super) fn columns_to_replace(
    c: &mut Classified,
    deps: &Dependencies,
) -> BTreeMap<ObjKey, Vec<(QName, String)>> {
    let mut status = take(&mut c.status);
    let mut disturbed = take(&mut c.disturbed);
    // Types and collations that must be replaced while columns use them are replaced in place.
    let mut replaced_columns: BTreeMap<ObjKey, Vec<(QName, String)>> = BTreeMap::new();
    let replaced: HashSet<&ObjKey> = status
        .iter()
        .filter(|(k, s)| {
            **s == Status::Recreate && matches!(k, ObjKey::Type(_) | ObjKey::Collation(_))
        })
        .map(|(k, _)| k)
        .collect();
    // The columns of each replaced type or collation, in one pass over the edges.
    let mut columns_using: HashMap<ObjKey, BTreeSet<(QName, String)>> = HashMap::default();
    if !replaced.is_empty() {
        for (d, r) in deps.iter() {
            if let (true, ObjKey::Column(t, c)) = (replaced.contains(r), d) {
                columns_using
                    .entry(r.clone())
                    .or_default()
                    .insert((t.clone(), c.clone()));
            }
        }
    }
    for (key, s) in status.iter_mut() {
        if *s != Status::Recreate || !matches!(key, ObjKey::Type(_) | ObjKey::Collation(_)) {
            continue;
        }
        let cols: Vec<(QName, String)> = columns_using
            .remove(key)
            .map(|c| c.into_iter().collect())
            .unwrap_or_default();
        if !cols.is_empty() {
            *s = Status::ReplaceInPlace;
            for (t, c) in &cols {
                disturbed.insert(ObjKey::Column(t.clone(), c.clone()));
            }
            replaced_columns.insert(key.clone(), cols);
        }
    }

    c.status = status;
    c.disturbed = disturbed;
    replaced_columns
}

/// The name a replaced type or collation is renamed to while its replacement takes over.
pub(super) fn retired_name(name: &QName) -> QName {
    QName::new(name.schema.clone(), format!("{}__retort_old", name.name))
}

/// The old, renamed type or collation is dropped at the end of its replacement, or, when a
/// column using it is dropped (later, with its table's changes), in the late group.
pub(super) fn drop_renamed(
    key: ObjKey,
    drop: String,
    column_goes: bool,
    statements: &mut Vec<String>,
) -> Option<Change> {
    if column_goes {
        return Some(Change {
            key,
            action: Action::Drop,
            statements: vec![drop],
            destructive: None,
        });
    }
    statements.push(drop);
    None
}

/// A collation whose definition changes while columns use it (PostgreSQL cannot alter one, nor
/// drop it while in use): the old one is renamed, the new one created, the columns moved to
/// it (PostgreSQL rebuilds their indexes), and the old one dropped.
pub(super) fn replace_collation_in_place(
    old: &crate::collations::Collation,
    new: &crate::collations::Collation,
    b: &Catalog,
    columns: &[(QName, String)],
) -> (Change, Option<Change>) {
    let temp = retired_name(&old.name);
    let mut statements = vec![old.rename_sql(&temp.name)];
    statements.extend(new.create());
    let mut column_goes = false;
    for (t, c) in columns {
        let Some(col) = b.column(t, c) else {
            column_goes = true;
            continue;
        };
        let collate = col
            .collation
            .as_ref()
            .map(|k| format!(" COLLATE {k}"))
            .unwrap_or_default();
        statements.push(format!(
            "ALTER TABLE {t} ALTER COLUMN {} TYPE {}{collate}",
            quote_ident(c),
            col.data_type
        ));
    }
    let late = drop_renamed(
        ObjKey::Collation(temp.clone()),
        format!("DROP COLLATION {temp}"),
        column_goes,
        &mut statements,
    );
    (
        Change {
            key: ObjKey::Collation(new.name.clone()),
            action: Action::Alter,
            statements,
            // The values are kept; PostgreSQL rebuilds the indexes on the columns.
            destructive: None,
        },
        late,
    )
}

/// ALTER TYPE .. RENAME, CREATE the new type, convert each column through text, DROP the old.
/// When a column of the old type is itself going away (dropped later in the script), the old
/// type is dropped at the end instead: the second change.
pub(super) fn replace_type_in_place(
    old: &TypeDef,
    new: &TypeDef,
    a: &Catalog,
    b: &Catalog,
    columns: &[(QName, String)],
    between: &[String],
) -> (Change, Option<Change>) {
    let mut column_goes = false;
    let temp = retired_name(&old.name);
    let mut statements = Vec::new();
    if matches!(old.kind, crate::types::TypeKind::Range { .. }) {
        // A renamed range keeps its constructor functions' and multirange type's names, which
        // the new one needs: its columns hold text while it is dropped and created again.
        for (t, c) in columns {
            let alter = format!("ALTER TABLE {t} ALTER COLUMN {}", quote_ident(c));
            if a.column(t, c).is_some_and(|x| x.default.is_some()) {
                statements.push(format!("{alter} DROP DEFAULT"));
            }
            statements.push(format!("{alter} TYPE text USING {}::text", quote_ident(c)));
        }
        statements.push(format!("DROP TYPE {}", old.name));
        statements.extend(between.iter().cloned());
        statements.extend(new.create());
        for (t, c) in columns {
            let Some(col) = b.column(t, c) else { continue };
            let alter = format!("ALTER TABLE {t} ALTER COLUMN {}", quote_ident(c));
            statements.push(format!(
                "{alter} TYPE {} USING {}::{}",
                col.data_type,
                quote_ident(c),
                col.data_type
            ));
            if let Some(d) = &col.default {
                statements.push(format!("{alter} SET DEFAULT {d}"));
            }
        }
        return (
            Change {
                key: ObjKey::Type(new.name.clone()),
                action: Action::Alter,
                statements,
                destructive: Some(format!(
                    "replaces type {} and converts its columns through text",
                    new.name
                )),
            },
            None,
        );
    }
    statements.push(format!(
        "ALTER TYPE {} RENAME TO {}",
        old.name,
        quote_ident(&temp.name)
    ));
    statements.extend(new.create());
    for (t, c) in columns {
        let Some(col) = b.column(t, c) else {
            column_goes = true;
            continue;
        };
        let alter = format!("ALTER TABLE {t} ALTER COLUMN {}", quote_ident(c));
        let old_default = a.column(t, c).and_then(|x| x.default.as_ref());
        if old_default.is_some() {
            statements.push(format!("{alter} DROP DEFAULT"));
        }
        statements.push(format!(
            "{alter} TYPE {} USING {}::text::{}",
            col.data_type,
            quote_ident(c),
            col.data_type
        ));
        if let Some(d) = &col.default {
            statements.push(format!("{alter} SET DEFAULT {d}"));
        }
    }
    let late = drop_renamed(
        ObjKey::Type(temp.clone()),
        format!("DROP TYPE {temp}"),
        column_goes,
        &mut statements,
    );
    let destructive = match (&old.kind, &new.kind) {
        (crate::types::TypeKind::Enum(x), crate::types::TypeKind::Enum(y)) => {
            let removed: Vec<&String> = x.iter().filter(|l| !y.contains(l)).collect();
            (!removed.is_empty()).then(|| {
                format!(
                    "removes value(s) {} from {}: fails if rows still hold them",
                    removed
                        .iter()
                        .map(|l| format!("'{l}'"))
                        .collect::<Vec<_>>()
                        .join(", "),
                    new.name
                )
            })
        }
        _ => Some(format!(
            "replaces type {} and converts its columns through text",
            new.name
        )),
    };
    (
        Change {
            key: ObjKey::Type(new.name.clone()),
            action: Action::Alter,
            statements,
            destructive,
        },
        late,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diff::classify::classify;
    use crate::diff::objects::pair;
    use crate::diff::testkit::catalog;

    #[test]
    fn a_retired_name_keeps_the_schema() {
        let q = QName::new("app".to_owned(), "mood".to_owned());
        assert_eq!(retired_name(&q).to_string(), "app.mood__retort_old");
    }

    #[test]
    fn nothing_is_replaced_in_place_when_no_type_or_collation_is_recreated() {
        let (a, b) = (catalog(&[("s", None)]), catalog(&[("s", Some("c"))]));
        let (olds, news) = pair(&a, &b);
        let mut c = classify(&a, &b, &olds, &news);
        let before = c.status.clone();
        assert!(columns_to_replace(&mut c, &Dependencies::default()).is_empty());
        assert_eq!(c.status, before);
    }
}
