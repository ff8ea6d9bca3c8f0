//! The indexes, keys and foreign keys on a column whose type changes in two phases.
//!
//! Each is built again on the new column before the swap, without blocking writes (indexes
//! `CONCURRENTLY`, foreign keys `NOT VALID` then validated), so that both columns are indexed
//! and constrained while both application versions run: the old version's lookups by key go
//! through the old column's index, the new version's through the new one's. The contract drops
//! the old objects and gives the new ones the old names (a key becomes the constraint again
//! with `ADD CONSTRAINT ... USING INDEX`).
//!
//! Definitions are rewritten as text: a column is renamed only where a column list names it
//! (the first word of an element); an object that names the column anywhere else (an
//! expression, a predicate) is not rebuilt here, and the type change then stops as before.

use retort_pg::quote_ident;

use super::{cut63, ColumnRef};
use crate::name::{ObjKey, QName};

/// An object on a column changed in two phases. Definitions come in three namings: as they
/// are (after the swap the new column has the old name), with the changed columns as the new
/// ones before the swap (`retort_new_<c>`), and with them as the old ones after the swap
/// (`retort_old_<c>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Moved {
    /// An index that backs no constraint: `CREATE [UNIQUE] INDEX name ` is `head`, the rest
    /// follows in each naming.
    Index {
        name: QName,
        head_unique: bool,
        rest_new: String,
        rest_old: String,
    },
    /// A primary key or unique constraint.
    Key {
        table: QName,
        name: String,
        primary: bool,
        definition: String,
        definition_new: String,
        definition_old: String,
    },
    /// A foreign key on `table` (the referencing one).
    ForeignKey {
        table: QName,
        name: String,
        definition: String,
        definition_new: String,
        definition_old: String,
    },
}

/// The steps the moved objects add, by migration and place.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct MovedSteps {
    /// After the backfills: the new indexes (keys first), then the new foreign keys.
    pub(crate) fill_up: Vec<String>,
    /// Their drops (foreign keys first).
    pub(crate) fill_down: Vec<String>,
    /// The contract, before the old columns go: the old foreign keys and keys dropped.
    pub(crate) contract_before: Vec<String>,
    /// The contract, after: the new objects renamed to the old names.
    pub(crate) contract_after: Vec<String>,
    /// The contract's down, before the old columns come back.
    pub(crate) down_before: Vec<String>,
    /// The contract's down, after: the old objects again.
    pub(crate) down_after: Vec<String>,
}

/// The name of a new object built beside `name`.
pub(crate) fn new_name(name: &str) -> String {
    cut63(format!("retort_new_{name}"))
}

/// The name of an old column after the swap.
pub(crate) fn old_name(name: &str) -> String {
    cut63(format!("retort_old_{name}"))
}

/// The objects on `columns`, each rebuilt; None when one of them cannot be (see the module
/// doc), or when the columns have a dependent that is neither one of those nor a sequence they
/// own.
pub(crate) fn moved_objects(from: &crate::Snapshot, columns: &[ColumnRef]) -> Option<Vec<Moved>> {
    let catalog = &from.catalog;
    let changed = |t: &QName, c: &str| columns.iter().any(|r| &r.table == t && r.column == c);
    let as_new = |t: &QName, c: &str| changed(t, c).then(|| new_name(c));
    let as_old = |t: &QName, c: &str| changed(t, c).then(|| old_name(c));
    let tables: Vec<&QName> = columns.iter().map(|c| &c.table).collect();
    let mut out = Vec::new();
    for index in catalog.indexes.values() {
        if !tables.contains(&&index.table) {
            continue;
        }
        // The key columns, then INCLUDE's if there are any (a predicate lists none).
        let include = index.definition.contains(") INCLUDE (");
        let lists = [Some(&index.table), include.then_some(&index.table)];
        let involved = [&index.table];
        let new = rename_columns(&index.definition, &lists, &as_new, &involved)?;
        if new == index.definition {
            continue;
        }
        let old = rename_columns(&index.definition, &lists, &as_old, &involved)?;
        if index.clustered || index.replica_identity {
            return None;
        }
        let name = quote_ident(&index.name.name);
        let (head_unique, head) = if index.definition.starts_with("CREATE UNIQUE INDEX ") {
            (true, format!("CREATE UNIQUE INDEX {name} "))
        } else {
            (false, format!("CREATE INDEX {name} "))
        };
        out.push(Moved::Index {
            name: index.name.clone(),
            head_unique,
            rest_new: new.strip_prefix(&head)?.to_owned(),
            rest_old: old.strip_prefix(&head)?.to_owned(),
        });
    }
    for k in catalog.constraints.values() {
        let (lists, involved): (Vec<Option<&QName>>, Vec<&QName>) = match k.kind {
            'p' | 'u' | 'c' | 'x' if tables.contains(&&k.table) => {
                (vec![Some(&k.table), Some(&k.table)], vec![&k.table])
            }
            'f' => {
                let target = referenced_table(&k.definition);
                let parent = catalog
                    .tables
                    .keys()
                    .find(|q| Some(q.to_string()) == target);
                let Some(parent) = parent else {
                    // A table this catalog does not hold: rebuilt only if nothing changes.
                    if tables.contains(&&k.table) {
                        return None;
                    }
                    continue;
                };
                if !tables.contains(&&k.table) && !tables.contains(&parent) {
                    continue;
                }
                (
                    vec![Some(&k.table), Some(parent), Some(&k.table)],
                    vec![&k.table, parent],
                )
            }
            _ => continue,
        };
        let new = rename_columns(&k.definition, &lists, &as_new, &involved)?;
        if new == k.definition {
            continue;
        }
        let old = rename_columns(&k.definition, &lists, &as_old, &involved)?;
        let child = catalog.tables.get(&k.table)?;
        let plain = child.partition_by.is_none() && child.partition_of.is_none();
        match k.kind {
            'p' | 'u'
                if plain
                    && !k.clustered
                    && !k.replica_identity
                    && k.classes.is_empty()
                    && !k.definition.contains(" NOT VALID") =>
            {
                out.push(Moved::Key {
                    table: k.table.clone(),
                    name: k.name.clone(),
                    primary: k.kind == 'p',
                    definition: k.definition.clone(),
                    definition_new: new,
                    definition_old: old,
                })
            }
            'f' if plain => out.push(Moved::ForeignKey {
                table: k.table.clone(),
                name: k.name.clone(),
                definition: k.definition.clone(),
                definition_new: new,
                definition_old: old,
            }),
            _ => return None,
        }
    }
    // Every dependent the server knows of is one of these, or a sequence the column owns.
    for c in columns {
        for d in from
            .deps
            .dependents_of(&ObjKey::Column(c.table.clone(), c.column.clone()))
        {
            let known = match d {
                ObjKey::Index(n) => out.iter().any(|m| match m {
                    Moved::Index { name, .. } => name == n,
                    Moved::Key { table, name, .. } => table.schema == n.schema && name == &n.name,
                    Moved::ForeignKey { .. } => false,
                }),
                ObjKey::Constraint(t, n) => out.iter().any(|m| match m {
                    Moved::Key { table, name, .. } | Moved::ForeignKey { table, name, .. } => {
                        table == t && name == n
                    }
                    Moved::Index { .. } => false,
                }),
                ObjKey::Sequence(s) => catalog.sequences.get(s).is_some_and(|s| {
                    s.owned_by.as_ref() == Some(&(c.table.clone(), c.column.clone()))
                }),
                _ => false,
            };
            if !known {
                return None;
            }
        }
    }
    Some(out)
}

/// The steps that rebuild `moved`.
pub(crate) fn moved_steps(moved: &[Moved]) -> MovedSteps {
    let mut s = MovedSteps::default();
    let mut fks = MovedSteps::default();
    for m in moved {
        match m {
            Moved::Index {
                name,
                head_unique,
                rest_new,
                rest_old,
            } => {
                let unique = if *head_unique { "UNIQUE " } else { "" };
                let new = quote_ident(&new_name(&name.name));
                let schema = quote_ident(&name.schema);
                let old = quote_ident(&name.name);
                s.fill_up.push(format!(
                    "CREATE {unique}INDEX CONCURRENTLY {new} {rest_new}"
                ));
                s.fill_down
                    .push(format!("DROP INDEX CONCURRENTLY IF EXISTS {schema}.{new}"));
                s.contract_after
                    .push(format!("ALTER INDEX {schema}.{new} RENAME TO {old}"));
                s.down_before
                    .push(format!("ALTER INDEX {schema}.{old} RENAME TO {new}"));
                s.down_after
                    .push(format!("CREATE {unique}INDEX {old} {rest_old}"));
            }
            Moved::Key {
                table,
                name,
                primary,
                definition,
                definition_new,
                definition_old,
            } => {
                let new = quote_ident(&new_name(name));
                let old = quote_ident(name);
                let schema = quote_ident(&table.schema);
                let kind = if *primary { "PRIMARY KEY" } else { "UNIQUE" };
                let mut deferrable = String::new();
                if definition.contains(" DEFERRABLE") {
                    deferrable.push_str(" DEFERRABLE");
                }
                if definition.contains(" INITIALLY DEFERRED") {
                    deferrable.push_str(" INITIALLY DEFERRED");
                }
                s.fill_up.push(format!(
                    "CREATE UNIQUE INDEX CONCURRENTLY {new} ON {table} {}",
                    key_index(definition_new)
                ));
                s.fill_down
                    .push(format!("DROP INDEX CONCURRENTLY IF EXISTS {schema}.{new}"));
                s.contract_before
                    .push(format!("ALTER TABLE {table} DROP CONSTRAINT {old}"));
                s.contract_after.push(format!(
                    "ALTER TABLE {table} ADD CONSTRAINT {old} {kind} USING INDEX {new}{deferrable}"
                ));
                s.down_before.extend([
                    format!("ALTER TABLE {table} DROP CONSTRAINT {old}"),
                    format!(
                        "CREATE UNIQUE INDEX {new} ON {table} {}",
                        key_index(definition)
                    ),
                ]);
                s.down_after.push(format!(
                    "ALTER TABLE {table} ADD CONSTRAINT {old} {definition_old}"
                ));
            }
            Moved::ForeignKey {
                table,
                name,
                definition,
                definition_new,
                definition_old,
            } => {
                let new = quote_ident(&new_name(name));
                let old = quote_ident(name);
                let valid = !definition.ends_with(" NOT VALID");
                let added = definition_new.trim_end_matches(" NOT VALID");
                fks.fill_up.push(format!(
                    "ALTER TABLE {table} ADD CONSTRAINT {new} {added} NOT VALID"
                ));
                if valid {
                    fks.fill_up
                        .push(format!("ALTER TABLE {table} VALIDATE CONSTRAINT {new}"));
                }
                fks.fill_down.push(format!(
                    "ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {new}"
                ));
                fks.contract_before.extend([
                    format!("ALTER TABLE {table} DROP CONSTRAINT {old}"),
                    format!("ALTER TABLE {table} RENAME CONSTRAINT {new} TO {old}"),
                ]);
                fks.down_before
                    .push(format!("ALTER TABLE {table} DROP CONSTRAINT {old}"));
                fks.down_after.extend([
                    format!("ALTER TABLE {table} ADD CONSTRAINT {new} {definition}"),
                    format!("ALTER TABLE {table} ADD CONSTRAINT {old} {definition_old}"),
                ]);
            }
        }
    }
    // Keys and indexes before the foreign keys that need them; foreign keys dropped before
    // the keys they need.
    s.fill_up.extend(fks.fill_up);
    fks.fill_down.extend(s.fill_down);
    s.fill_down = fks.fill_down;
    fks.contract_before.extend(s.contract_before);
    s.contract_before = fks.contract_before;
    fks.down_before.extend(s.down_before);
    s.down_before = fks.down_before;
    s.down_after.extend(fks.down_after);
    s
}

/// The key columns of a PRIMARY KEY or UNIQUE definition.
pub(crate) fn key_columns(definition: &str) -> Vec<String> {
    let Some(&(start, end)) = groups(definition).first() else {
        return Vec::new();
    };
    let ids = identifiers(definition);
    elements(definition, (start, end))
        .into_iter()
        .filter_map(|e| {
            ids.iter()
                .find(|(s, _, _)| *s >= e && *s < end)
                .map(|(_, _, n)| n.clone())
        })
        .collect()
}

/// `USING btree (columns) [INCLUDE (...)] [NULLS NOT DISTINCT]` for the index of a PRIMARY KEY
/// or UNIQUE definition.
fn key_index(definition: &str) -> String {
    let groups = groups(definition);
    let list = |g: Option<&(usize, usize)>| g.map(|&(a, b)| &definition[a..b]);
    let mut s = format!("USING btree ({})", list(groups.first()).unwrap_or_default());
    if definition.contains(") INCLUDE (") {
        if let Some(include) = list(groups.get(1)) {
            s.push_str(&format!(" INCLUDE ({include})"));
        }
    }
    if definition.starts_with("UNIQUE NULLS NOT DISTINCT") {
        s.push_str(" NULLS NOT DISTINCT");
    }
    s
}

/// The table a FOREIGN KEY definition references, as written (`schema.table`).
pub(crate) fn referenced_table(definition: &str) -> Option<String> {
    let rest = definition.split_once(") REFERENCES ")?.1;
    let groups = groups(rest);
    let (start, _) = groups.first()?;
    Some(rest[..start.checked_sub(1)?].to_owned())
}

/// The byte just after the quoted text that starts at `i` (`'...'` or `"..."`, a doubled quote
/// inside).
fn after_quoted(b: &[u8], i: usize) -> usize {
    let q = b[i];
    let mut j = i + 1;
    while j < b.len() {
        if b[j] == q {
            if b.get(j + 1) == Some(&q) {
                j += 2;
                continue;
            }
            return j + 1;
        }
        j += 1;
    }
    b.len()
}

/// The contents of the top-level parenthesised groups of `s`, as byte ranges.
pub(crate) fn groups(s: &str) -> Vec<(usize, usize)> {
    let b = s.as_bytes();
    let (mut out, mut depth, mut start, mut i) = (Vec::new(), 0usize, 0, 0);
    while i < b.len() {
        match b[i] {
            b'\'' | b'"' => {
                i = after_quoted(b, i);
                continue;
            }
            b'(' => {
                if depth == 0 {
                    start = i + 1;
                }
                depth += 1;
            }
            b')' if depth > 0 => {
                depth -= 1;
                if depth == 0 {
                    out.push((start, i));
                }
            }
            _ => {}
        }
        i += 1;
    }
    out
}

/// Where the elements of the list in `s[start..end]` start (after each top-level comma).
pub(crate) fn elements(s: &str, (start, end): (usize, usize)) -> Vec<usize> {
    let b = s.as_bytes();
    let (mut out, mut depth, mut i) = (vec![start], 0usize, start);
    while i < end {
        match b[i] {
            b'\'' | b'"' => {
                i = after_quoted(b, i);
                continue;
            }
            b'(' => depth += 1,
            b')' => depth = depth.saturating_sub(1),
            b',' if depth == 0 => out.push(i + 1),
            _ => {}
        }
        i += 1;
    }
    out
}

/// The identifiers of `s` (bare words and double-quoted names, not inside string literals):
/// their byte ranges and names.
pub(crate) fn identifiers(s: &str) -> Vec<(usize, usize, String)> {
    let b = s.as_bytes();
    let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_' || c == b'$' || c >= 0x80;
    let (mut out, mut i) = (Vec::new(), 0);
    while i < b.len() {
        let c = b[i];
        if c == b'\'' {
            i = after_quoted(b, i);
        } else if c == b'"' {
            let end = after_quoted(b, i);
            if end >= i + 2 && b[end - 1] == b'"' {
                out.push((i, end, s[i + 1..end - 1].replace("\"\"", "\"")));
            }
            i = end;
        } else if c.is_ascii_alphabetic() || c == b'_' || c >= 0x80 {
            let start = i;
            while i < b.len() && word(b[i]) {
                i += 1;
            }
            out.push((start, i, s[start..i].to_owned()));
        } else if c.is_ascii_digit() {
            while i < b.len() && (word(b[i]) || b[i] == b'.') {
                i += 1;
            }
        } else {
            i += 1;
        }
    }
    out
}

/// `definition` with the columns `rename` renames renamed where a column list names them:
/// `lists` says, for each top-level parenthesised group in order, whose columns it lists (None:
/// none). None when a column `rename` renames on one of `involved` is named anywhere else.
fn rename_columns(
    definition: &str,
    lists: &[Option<&QName>],
    rename: &dyn Fn(&QName, &str) -> Option<String>,
    involved: &[&QName],
) -> Option<String> {
    let ids = identifiers(definition);
    let mut heads = Vec::new();
    let mut edits = Vec::new();
    for (group, table) in groups(definition).into_iter().zip(lists) {
        let Some(table) = table else { continue };
        for start in elements(definition, group) {
            let first = ids
                .iter()
                .find(|(s, _, _)| *s >= start)
                .filter(|(s, _, _)| *s < group.1 && definition[start..*s].trim().is_empty());
            if let Some((s, e, name)) = first {
                heads.push(*s);
                if let Some(new) = rename(table, name) {
                    edits.push((*s, *e, quote_ident(&new)));
                }
            }
        }
    }
    let elsewhere = ids
        .iter()
        .filter(|(s, _, _)| !heads.contains(s))
        .any(|(_, _, name)| involved.iter().any(|t| rename(t, name).is_some()));
    if elsewhere {
        return None;
    }
    let mut out = definition.to_owned();
    for (s, e, new) in edits.into_iter().rev() {
        out.replace_range(s..e, &new);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(name: &str) -> QName {
        QName::new("public", name)
    }

    #[test]
    fn columns_are_renamed_only_where_a_list_names_them() {
        let items = t("items");
        let rename = |q: &QName, c: &str| (q.name == "items" && c == "qty").then(|| "n".into());
        let r =
            |def: &str, lists: &[Option<&QName>]| rename_columns(def, lists, &rename, &[&items]);
        let two = [Some(&items), Some(&items)];
        let one = [Some(&items), None];
        assert_eq!(
            r(
                "CREATE INDEX i ON public.items USING btree (qty DESC, x) INCLUDE (qty)",
                &two
            )
            .as_deref(),
            Some("CREATE INDEX i ON public.items USING btree (n DESC, x) INCLUDE (n)")
        );
        // An expression or a predicate that names it: not rewritten here.
        assert_eq!(
            r(
                "CREATE INDEX i ON public.items USING btree (lower(qty))",
                &two
            ),
            None
        );
        assert_eq!(
            r(
                "CREATE INDEX i ON public.items USING btree (x) WHERE (qty > 0)",
                &one
            ),
            None
        );
        // A string that spells it, or a quoted name that differs, is left alone.
        assert_eq!(
            r(
                "CREATE INDEX i ON public.items USING btree (\"Qty\") WHERE (x <> 'qty')",
                &one
            )
            .as_deref(),
            Some("CREATE INDEX i ON public.items USING btree (\"Qty\") WHERE (x <> 'qty')")
        );
        let parent = t("parent");
        let both = |q: &QName, c: &str| {
            ((q.name == "parent" && c == "id") || (q.name == "items" && c == "parent_id"))
                .then(|| format!("retort_new_{c}"))
        };
        let fk = "FOREIGN KEY (parent_id) REFERENCES public.parent(id) ON DELETE CASCADE";
        assert_eq!(referenced_table(fk).as_deref(), Some("public.parent"));
        assert_eq!(
            rename_columns(
                fk,
                &[Some(&items), Some(&parent), Some(&items)],
                &both,
                &[&items, &parent]
            )
            .as_deref(),
            Some("FOREIGN KEY (retort_new_parent_id) REFERENCES public.parent(retort_new_id) ON DELETE CASCADE")
        );
        assert_eq!(
            key_index("UNIQUE NULLS NOT DISTINCT (a, b) INCLUDE (c) DEFERRABLE"),
            "USING btree (a, b) INCLUDE (c) NULLS NOT DISTINCT"
        );
    }
}
