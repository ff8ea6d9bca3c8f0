//! Hints: drop+create pairs that look like renames, said, never guessed; passwords a script
//! never carries.

use std::collections::BTreeMap;

use retort_pg::quote_ident;

use super::classify::Status;
use crate::catalog::Catalog;
use crate::name::ObjKey;

/// A dropped table and a created one with the same columns, or a dropped and an added column
/// of the same type in one table, are probably renames: say so.
pub(super) fn rename_hints(
    a: &Catalog,
    b: &Catalog,
    status: &BTreeMap<ObjKey, Status>,
) -> Vec<String> {
    let mut hints = Vec::new();
    let shape = |t: &crate::tables::Table| {
        let mut cols: Vec<(String, String)> = t
            .columns
            .iter()
            .map(|c| (c.name.clone(), c.data_type.clone()))
            .collect();
        cols.sort();
        cols
    };
    for (ko, so) in status {
        let (ObjKey::Table(old), Status::Drop) = (ko, so) else {
            continue;
        };
        for (kn, sn) in status {
            let (ObjKey::Table(new), Status::Create) = (kn, sn) else {
                continue;
            };
            if let (Some(x), Some(y)) = (a.tables.get(old), b.tables.get(new)) {
                if shape(x) == shape(y) {
                    hints.push(format!(
                        "table {old} is dropped and {new} created with the same columns; if this is a \
                         rename, pass --rename {old}={} to `retort new --autogenerate` (it writes \
                         ALTER TABLE {old} RENAME TO {} and keeps the data)",
                        quote_ident(&new.name),
                        quote_ident(&new.name)
                    ));
                }
            }
        }
    }
    for (q, t) in &b.tables {
        let Some(o) = a.tables.get(q) else { continue };
        // A typed table's columns are renamed through its type (ALTER TYPE ... RENAME
        // ATTRIBUTE ... CASCADE), which no hint here names correctly.
        if t.of_type.is_some() && o.of_type == t.of_type {
            continue;
        }
        for gone in o
            .columns
            .iter()
            .filter(|c| !t.columns.iter().any(|x| x.name == c.name))
        {
            for added in t
                .columns
                .iter()
                .filter(|c| !o.columns.iter().any(|x| x.name == c.name))
            {
                if added.data_type == gone.data_type {
                    hints.push(format!(
                        "column {q}.{} is dropped and {} added with the same type; if this is a rename, \
                         pass --rename {q}.{}={} to `retort new --autogenerate` (it writes ALTER \
                         TABLE {q} RENAME COLUMN {} TO {} and keeps the data)",
                        quote_ident(&gone.name),
                        quote_ident(&added.name),
                        quote_ident(&gone.name),
                        quote_ident(&added.name),
                        quote_ident(&gone.name),
                        quote_ident(&added.name)
                    ));
                }
            }
        }
    }
    hints
}

/// A user mapping with a password in TO that the script creates (or that has none in FROM):
/// the script never carries a password, so say which statement sets it.
pub(super) fn password_hints(
    a: &Catalog,
    b: &Catalog,
    status: &BTreeMap<ObjKey, Status>,
) -> Vec<String> {
    b.user_mappings
        .iter()
        .filter(|(_, m)| m.password)
        .filter(|(k, _)| {
            let key = ObjKey::UserMapping(k.0.clone(), k.1.clone());
            let recreated = matches!(status.get(&key), Some(Status::Create | Status::Recreate));
            recreated || !a.user_mappings.get(*k).is_some_and(|o| o.password)
        })
        .map(|(_, m)| {
            format!(
                "the {} has a password, which retort never writes into a script; set it after \
                 applying: {}",
                ObjKey::UserMapping(m.role.clone(), m.server.clone()),
                m.password_statement()
            )
        })
        .collect()
}
