//! Classifying: each key present on either side becomes the same, created, dropped, altered in
//! place or re-created; and the columns whose type changes are noted, as disturbed (what
//! depends on them is re-created) or changed in place (PostgreSQL keeps their indexes).

use std::collections::{BTreeMap, BTreeSet};

use retort_pg::quote_ident;

use super::objects::{merged, Alteration, Obj};
use crate::catalog::Catalog;
use crate::name::{ObjKey, QName};
use crate::typechange::{rewrite_free, TypeSpec};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Status {
    Same,
    Create,
    Drop,
    Recreate,
    Alter,
    /// A type changed beyond ALTER TYPE while columns use it: renamed, re-created, columns
    /// converted through text, old type dropped.
    ReplaceInPlace,
}

/// What classifying found; the later stages refine it.
pub(super) struct Classified {
    /// Per key: what happens to it.
    pub status: BTreeMap<ObjKey, Status>,
    /// Statements (and a destructive note) of the objects altered in place.
    pub alters: BTreeMap<ObjKey, (Vec<String>, Option<String>)>,
    /// A statement must run outside a transaction block (ALTER TYPE ... ADD VALUE).
    pub outside_transaction: bool,
    /// Columns dropped or changing type: whatever depends on them must be re-created.
    pub disturbed: BTreeSet<ObjKey>,
    /// Columns whose type changes in place (no rewrite): views, rules, triggers, policies and
    /// functions that use them are re-created (PostgreSQL refuses the change while they
    /// exist); indexes, constraints and statistics are kept as they are.
    pub in_place: BTreeSet<ObjKey>,
    /// Statements that run inside a type's in-place replacement, between dropping the old
    /// one and creating the new (a domain's new check while the range over it is away).
    pub spliced: BTreeMap<ObjKey, Vec<String>>,
}

/// Classifies every key of either side.
pub(super) fn classify(
    a: &Catalog,
    b: &Catalog,
    olds: &BTreeMap<ObjKey, Obj<'_>>,
    news: &BTreeMap<ObjKey, Obj<'_>>,
) -> Classified {
    let mut status: BTreeMap<ObjKey, Status> = BTreeMap::new();
    let mut alters: BTreeMap<ObjKey, (Vec<String>, Option<String>)> = BTreeMap::new();
    let mut outside_transaction = false;
    // Columns dropped or changing type: whatever depends on them must be re-created.
    let mut disturbed: BTreeSet<ObjKey> = BTreeSet::new();
    // Columns whose type changes in place (no rewrite): views, rules, triggers, policies and
    // functions that use them are re-created (PostgreSQL refuses the change while they
    // exist); indexes, constraints and statistics are kept as they are.
    let mut in_place: BTreeSet<ObjKey> = BTreeSet::new();
    // Per table, the in-place columns that move between varchar and text: around such a
    // column PostgreSQL's deparsed expressions gain or lose a `::text` cast, which it
    // reconciles itself when it rebuilds the constraints and indexes after the change.
    let mut text_casts: BTreeMap<&QName, Vec<&str>> = BTreeMap::new();
    for (name, n) in &b.tables {
        let Some(o) = a.tables.get(name) else {
            continue;
        };
        for c in &o.columns {
            let Some(x) = n.columns.iter().find(|x| x.name == c.name) else {
                continue;
            };
            if x.generated == c.generated
                && x.collation == c.collation
                && x.data_type != c.data_type
                && rewrite_free(&c.data_type, &x.data_type)
            {
                in_place.insert(ObjKey::Column(o.name.clone(), c.name.clone()));
                let text = |t: &str| TypeSpec::parse(t).base == "text";
                if text(&c.data_type) != text(&x.data_type) {
                    text_casts.entry(name).or_default().push(&c.name);
                }
            }
        }
    }
    let same_but_casts = |o: &Obj, n: &Obj| -> bool {
        let (table, od, nd) = match (o, n) {
            (Obj::Constraint(x), Obj::Constraint(y))
                if x.kind == y.kind
                    && x.comment == y.comment
                    && (x.clustered, x.replica_identity) == (y.clustered, y.replica_identity) =>
            {
                (&x.table, &x.definition, &y.definition)
            }
            (Obj::Index(x), Obj::Index(y))
                if x.table == y.table
                    && x.comment == y.comment
                    && (x.clustered, x.replica_identity) == (y.clustered, y.replica_identity) =>
            {
                (&x.table, &x.definition, &y.definition)
            }
            _ => return false,
        };
        let Some(cols) = text_casts.get(table) else {
            return false;
        };
        let strip = |def: &str| {
            cols.iter().fold(def.to_owned(), |d, c| {
                let q = quote_ident(c);
                d.replace(&format!("({q})::text"), &q)
            })
        };
        strip(od) == strip(nd)
    };

    for (key, old, new) in merged(olds, news) {
        let s = match (old, new) {
            (None, Some(_)) => Status::Create,
            (Some(_), None) => Status::Drop,
            // Equal models need no statement: skip rendering what would come out empty.
            (Some(o), Some(n)) if o.same_as(n) || same_but_casts(o, n) => Status::Same,
            (Some(o), Some(n)) => match n.alter(o) {
                Alteration::Same => Status::Same,
                Alteration::Replace => Status::Recreate,
                Alteration::InPlace {
                    statements,
                    destructive,
                    outside_tx,
                } => {
                    outside_transaction |= outside_tx;
                    alters.insert(key.clone(), (statements, destructive));
                    Status::Alter
                }
            },
            (None, None) => unreachable!("keys come from one of the maps"),
        };
        status.insert(key.clone(), s);
        if let (Some(Obj::Table(o)), Some(Obj::Table(n))) = (old, new) {
            for c in &o.columns {
                let changed = match n.columns.iter().find(|x| x.name == c.name) {
                    None => true,
                    Some(x) => {
                        x.data_type != c.data_type
                            || x.collation != c.collation
                            || x.generated != c.generated
                    }
                };
                if !changed {
                    continue;
                }
                // A widening PostgreSQL does in place keeps indexes and constraints; only
                // what it refuses to keep across a type change is re-created.
                let key = ObjKey::Column(o.name.clone(), c.name.clone());
                if !in_place.contains(&key) {
                    disturbed.insert(key);
                }
            }
        }
    }
    Classified {
        status,
        alters,
        outside_transaction,
        disturbed,
        in_place,
        spliced: BTreeMap::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diff::objects::pair;
    use crate::diff::testkit::{catalog, key};

    #[test]
    fn each_key_is_same_created_dropped_or_altered() {
        let a = catalog(&[("kept", None), ("gone", None), ("noted", None)]);
        let b = catalog(&[("kept", None), ("new", None), ("noted", Some("why"))]);
        let (olds, news) = pair(&a, &b);
        let c = classify(&a, &b, &olds, &news);
        assert_eq!(c.status[&key("kept")], Status::Same);
        assert_eq!(c.status[&key("gone")], Status::Drop);
        assert_eq!(c.status[&key("new")], Status::Create);
        assert_eq!(c.status[&key("noted")], Status::Alter);
        let (statements, destructive) = &c.alters[&key("noted")];
        assert_eq!(
            statements,
            &vec!["COMMENT ON SCHEMA noted IS 'why'".to_owned()]
        );
        assert!(destructive.is_none() && !c.outside_transaction);
        assert!(c.disturbed.is_empty() && c.in_place.is_empty());
    }
}
