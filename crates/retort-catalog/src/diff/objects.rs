//! Pairing: every object of each side under its key, and the two sides walked together.

use std::collections::BTreeMap;

use crate::catalog::Catalog;
use crate::name::{ObjKey, QName};
use crate::types::TypeDef;

/// Both sides' objects by key. Built at once: the diff is the only work left then, and a core
/// would otherwise sit idle.
pub(super) fn pair<'a>(
    a: &'a Catalog,
    b: &'a Catalog,
) -> (BTreeMap<ObjKey, Obj<'a>>, BTreeMap<ObjKey, Obj<'a>>) {
    std::thread::scope(|s| {
        let news = s.spawn(|| objects(b));
        let olds = objects(a);
        (olds, news.join().expect("building the object map panicked"))
    })
}

/// One object of either side.
#[derive(Debug, Clone, Copy)]
pub(super) enum Obj<'a> {
    Schema(&'a crate::schemas::Schema),
    Extension(&'a crate::extensions::Extension),
    Type(&'a TypeDef),
    Sequence(&'a crate::sequences::Sequence),
    Table(&'a crate::tables::Table),
    Constraint(&'a crate::constraints::Constraint),
    Index(&'a crate::indexes::Index),
    View(&'a crate::views::View),
    Function(&'a crate::functions::Function),
    Trigger(&'a crate::triggers::Trigger),
    Policy(&'a crate::policies::Policy),
    DefaultPrivileges(&'a crate::defaults::DefaultPrivileges),
    Publication(&'a crate::publications::Publication),
    EventTrigger(&'a crate::eventtriggers::EventTrigger),
    Cast(&'a crate::casts::Cast),
    Conversion(&'a crate::conversions::Conversion),
    Operator(&'a crate::operators::Operator),
    OpFamily(&'a crate::opclasses::OpFamily),
    OpClass(&'a crate::opclasses::OpClass),
    ForeignDataWrapper(&'a crate::foreign::ForeignDataWrapper),
    ForeignServer(&'a crate::foreign::ForeignServer),
    UserMapping(&'a crate::foreign::UserMapping),
    Transform(&'a crate::transforms::Transform),
    Language(&'a crate::languages::Language),
    TsDictionary(&'a crate::textsearch::TsDictionary),
    AttachedIndex(&'a crate::partindexes::AttachedIndex),
    InheritedColumn(&'a crate::inherited::InheritedColumn),
    TsConfiguration(&'a crate::textsearch::TsConfiguration),
    Statistics(&'a crate::statistics::Statistics),
    Collation(&'a crate::collations::Collation),
    Rule(&'a crate::rules::Rule),
}

pub(super) fn objects(c: &Catalog) -> BTreeMap<ObjKey, Obj<'_>> {
    // Collected, then built in one go (BTreeMap::from_iter sorts, then builds the tree bottom up).
    let mut m = Objects(Vec::new());
    for (k, v) in &c.schemas {
        m.insert(ObjKey::Schema(k.clone()), Obj::Schema(v));
    }
    for (k, v) in &c.extensions {
        m.insert(ObjKey::Extension(k.clone()), Obj::Extension(v));
    }
    for (k, v) in &c.types {
        m.insert(ObjKey::Type(k.clone()), Obj::Type(v));
    }
    for (k, v) in &c.sequences {
        m.insert(ObjKey::Sequence(k.clone()), Obj::Sequence(v));
    }
    for (k, v) in &c.tables {
        m.insert(ObjKey::Table(k.clone()), Obj::Table(v));
    }
    for ((t, n), v) in &c.constraints {
        m.insert(ObjKey::Constraint(t.clone(), n.clone()), Obj::Constraint(v));
    }
    for (k, v) in &c.indexes {
        m.insert(ObjKey::Index(k.clone()), Obj::Index(v));
    }
    for (k, v) in &c.views {
        m.insert(ObjKey::View(k.clone()), Obj::View(v));
    }
    for ((q, a), v) in &c.functions {
        m.insert(ObjKey::Function(q.clone(), a.clone()), Obj::Function(v));
    }
    for ((t, n), v) in &c.triggers {
        m.insert(ObjKey::Trigger(t.clone(), n.clone()), Obj::Trigger(v));
    }
    for ((t, n), v) in &c.policies {
        m.insert(ObjKey::Policy(t.clone(), n.clone()), Obj::Policy(v));
    }
    for ((t, n), v) in &c.rules {
        m.insert(ObjKey::Rule(t.clone(), n.clone()), Obj::Rule(v));
    }
    for (k, v) in &c.statistics {
        m.insert(ObjKey::Statistics(k.clone()), Obj::Statistics(v));
    }
    for (k, v) in &c.collations {
        m.insert(ObjKey::Collation(k.clone()), Obj::Collation(v));
    }
    for ((r, s, k), v) in &c.default_privileges {
        m.insert(
            ObjKey::DefaultPrivileges(r.clone(), s.clone(), *k),
            Obj::DefaultPrivileges(v),
        );
    }
    for (k, v) in &c.publications {
        m.insert(ObjKey::Publication(k.clone()), Obj::Publication(v));
    }
    for ((t, col), v) in &c.inherited_columns {
        m.insert(
            ObjKey::InheritedColumn(t.clone(), col.clone()),
            Obj::InheritedColumn(v),
        );
    }
    for ((p, i), v) in &c.attached_indexes {
        m.insert(
            ObjKey::AttachedIndex(p.clone(), i.clone()),
            Obj::AttachedIndex(v),
        );
    }
    for (k, v) in &c.ts_dictionaries {
        m.insert(ObjKey::TsDictionary(k.clone()), Obj::TsDictionary(v));
    }
    for (k, v) in &c.ts_configurations {
        m.insert(ObjKey::TsConfiguration(k.clone()), Obj::TsConfiguration(v));
    }
    for (k, v) in &c.event_triggers {
        m.insert(ObjKey::EventTrigger(k.clone()), Obj::EventTrigger(v));
    }
    for ((source, target), v) in &c.casts {
        m.insert(ObjKey::Cast(source.clone(), target.clone()), Obj::Cast(v));
    }
    for (k, v) in &c.conversions {
        m.insert(ObjKey::Conversion(k.clone()), Obj::Conversion(v));
    }
    for ((q, args), v) in &c.operators {
        m.insert(ObjKey::Operator(q.clone(), args.clone()), Obj::Operator(v));
    }
    for ((q, method), v) in &c.op_families {
        m.insert(
            ObjKey::OpFamily(q.clone(), method.clone()),
            Obj::OpFamily(v),
        );
    }
    for ((q, method), v) in &c.op_classes {
        m.insert(ObjKey::OpClass(q.clone(), method.clone()), Obj::OpClass(v));
    }
    for (k, v) in &c.foreign_data_wrappers {
        m.insert(
            ObjKey::ForeignDataWrapper(k.clone()),
            Obj::ForeignDataWrapper(v),
        );
    }
    for (k, v) in &c.foreign_servers {
        m.insert(ObjKey::ForeignServer(k.clone()), Obj::ForeignServer(v));
    }
    for ((r, s), v) in &c.user_mappings {
        m.insert(
            ObjKey::UserMapping(r.clone(), s.clone()),
            Obj::UserMapping(v),
        );
    }
    for ((t, l), v) in &c.transforms {
        m.insert(ObjKey::Transform(t.clone(), l.clone()), Obj::Transform(v));
    }
    for (k, v) in &c.languages {
        m.insert(ObjKey::Language(k.clone()), Obj::Language(v));
    }
    m.0.into_iter().collect()
}

/// Pairs gathered for [`objects`].
pub(super) struct Objects<'a>(Vec<(ObjKey, Obj<'a>)>);

impl<'a> Objects<'a> {
    pub(super) fn insert(&mut self, k: ObjKey, v: Obj<'a>) {
        self.0.push((k, v));
    }
}

/// The union of two maps' keys in order, with each map's value: one pass over both.
pub(super) fn merged<'m, K: Ord, V>(
    a: &'m BTreeMap<K, V>,
    b: &'m BTreeMap<K, V>,
) -> impl Iterator<Item = (&'m K, Option<&'m V>, Option<&'m V>)> {
    let (mut a, mut b) = (a.iter().peekable(), b.iter().peekable());
    std::iter::from_fn(move || match (a.peek(), b.peek()) {
        (Some((ka, _)), Some((kb, _))) => match ka.cmp(kb) {
            std::cmp::Ordering::Less => a.next().map(|(k, v)| (k, Some(v), None)),
            std::cmp::Ordering::Greater => b.next().map(|(k, v)| (k, None, Some(v))),
            std::cmp::Ordering::Equal => {
                let (k, v) = a.next()?;
                let (_, w) = b.next()?;
                Some((k, Some(v), Some(w)))
            }
        },
        (Some(_), None) => a.next().map(|(k, v)| (k, Some(v), None)),
        (None, Some(_)) => b.next().map(|(k, v)| (k, None, Some(v))),
        (None, None) => None,
    })
}

/// How an object in both catalogs changes.
pub(super) enum Alteration {
    Same,
    InPlace {
        statements: Vec<String>,
        destructive: Option<String>,
        outside_tx: bool,
    },
    Replace,
}

impl<'a> Obj<'a> {
    /// Whether two objects are equal as models (and so need no change).
    pub(super) fn same_as(&self, other: &Obj) -> bool {
        match (self, other) {
            (Obj::Schema(a), Obj::Schema(b)) => a == b,
            (Obj::Extension(a), Obj::Extension(b)) => a == b,
            (Obj::Type(a), Obj::Type(b)) => a == b,
            (Obj::Sequence(a), Obj::Sequence(b)) => a == b,
            (Obj::Table(a), Obj::Table(b)) => a == b,
            (Obj::Constraint(a), Obj::Constraint(b)) => a == b,
            (Obj::Index(a), Obj::Index(b)) => a == b,
            (Obj::View(a), Obj::View(b)) => a == b,
            (Obj::Function(a), Obj::Function(b)) => a == b,
            (Obj::Trigger(a), Obj::Trigger(b)) => a == b,
            (Obj::Policy(a), Obj::Policy(b)) => a == b,
            (Obj::DefaultPrivileges(a), Obj::DefaultPrivileges(b)) => a == b,
            (Obj::Publication(a), Obj::Publication(b)) => a == b,
            (Obj::EventTrigger(a), Obj::EventTrigger(b)) => a == b,
            (Obj::Cast(a), Obj::Cast(b)) => a == b,
            (Obj::Conversion(a), Obj::Conversion(b)) => a == b,
            (Obj::Operator(a), Obj::Operator(b)) => a == b,
            (Obj::OpFamily(a), Obj::OpFamily(b)) => a == b,
            (Obj::OpClass(a), Obj::OpClass(b)) => a == b,
            (Obj::ForeignDataWrapper(a), Obj::ForeignDataWrapper(b)) => a == b,
            (Obj::ForeignServer(a), Obj::ForeignServer(b)) => a == b,
            (Obj::UserMapping(a), Obj::UserMapping(b)) => a == b,
            (Obj::Transform(a), Obj::Transform(b)) => a == b,
            (Obj::Language(a), Obj::Language(b)) => a == b,
            (Obj::TsDictionary(a), Obj::TsDictionary(b)) => a == b,
            (Obj::AttachedIndex(a), Obj::AttachedIndex(b)) => a == b,
            (Obj::InheritedColumn(a), Obj::InheritedColumn(b)) => a == b,
            (Obj::TsConfiguration(a), Obj::TsConfiguration(b)) => a == b,
            (Obj::Statistics(a), Obj::Statistics(b)) => a == b,
            (Obj::Collation(a), Obj::Collation(b)) => a == b,
            (Obj::Rule(a), Obj::Rule(b)) => a == b,
            _ => false,
        }
    }

    pub(super) fn create(&self) -> Vec<String> {
        match self {
            Obj::Schema(x) => x.create(),
            Obj::Extension(x) => x.create(),
            Obj::Type(x) => x.create(),
            Obj::Sequence(x) => x.create(),
            Obj::Table(x) => x.create(),
            Obj::Constraint(x) => x.create(),
            Obj::Index(x) => x.create(),
            Obj::View(x) => x.create(),
            Obj::Function(x) => x.create(),
            Obj::Trigger(x) => x.create(),
            Obj::Policy(x) => x.create(),
            Obj::DefaultPrivileges(x) => x.create(),
            Obj::Publication(x) => x.create(),
            Obj::EventTrigger(x) => x.create(),
            Obj::Cast(x) => x.create(),
            Obj::Conversion(x) => x.create(),
            Obj::Operator(x) => x.create(),
            Obj::OpFamily(x) => x.create(),
            Obj::OpClass(x) => x.create(),
            Obj::ForeignDataWrapper(x) => x.create(),
            Obj::ForeignServer(x) => x.create(),
            Obj::UserMapping(x) => x.create(),
            Obj::Transform(x) => x.create(),
            Obj::Language(x) => x.create(),
            Obj::TsDictionary(x) => x.create(),
            Obj::AttachedIndex(x) => x.create(),
            Obj::InheritedColumn(x) => x.create(),
            Obj::TsConfiguration(x) => x.create(),
            Obj::Statistics(x) => x.create(),
            Obj::Collation(x) => x.create(),
            Obj::Rule(x) => x.create(),
        }
    }

    pub(super) fn drop(&self) -> Vec<String> {
        match self {
            Obj::Schema(x) => x.drop(),
            Obj::Extension(x) => x.drop(),
            Obj::Type(x) => x.drop(),
            Obj::Sequence(x) => x.drop(),
            Obj::Table(x) => x.drop(),
            Obj::Constraint(x) => x.drop(),
            Obj::Index(x) => x.drop(),
            Obj::View(x) => x.drop(),
            Obj::Function(x) => x.drop(),
            Obj::Trigger(x) => x.drop(),
            Obj::Policy(x) => x.drop(),
            Obj::DefaultPrivileges(x) => x.drop(),
            Obj::Publication(x) => x.drop(),
            Obj::EventTrigger(x) => x.drop(),
            Obj::Cast(x) => x.drop(),
            Obj::Conversion(x) => x.drop(),
            Obj::Operator(x) => x.drop(),
            Obj::OpFamily(x) => x.drop(),
            Obj::OpClass(x) => x.drop(),
            Obj::ForeignDataWrapper(x) => x.drop(),
            Obj::ForeignServer(x) => x.drop(),
            Obj::UserMapping(x) => x.drop(),
            Obj::Transform(x) => x.drop(),
            Obj::Language(x) => x.drop(),
            Obj::TsDictionary(x) => x.drop(),
            Obj::AttachedIndex(x) => x.drop(),
            Obj::InheritedColumn(x) => x.drop(),
            Obj::TsConfiguration(x) => x.drop(),
            Obj::Statistics(x) => x.drop(),
            Obj::Collation(x) => x.drop(),
            Obj::Rule(x) => x.drop(),
        }
    }

    pub(super) fn alter(&self, old: &Obj) -> Alteration {
        let plain = |s: Option<Vec<String>>| match s {
            None => Alteration::Replace,
            Some(v) if v.is_empty() => Alteration::Same,
            Some(v) => Alteration::InPlace {
                statements: v,
                destructive: None,
                outside_tx: false,
            },
        };
        match (self, old) {
            (Obj::Schema(n), Obj::Schema(o)) => plain(Some(n.alter(o))),
            (Obj::Extension(n), Obj::Extension(o)) => plain(n.alter(o)),
            (Obj::Type(n), Obj::Type(o)) => match n.alter(o) {
                None => Alteration::Replace,
                Some((v, _)) if v.is_empty() => Alteration::Same,
                Some((v, outside_tx)) => Alteration::InPlace {
                    statements: v,
                    destructive: n.destructive_change(o),
                    outside_tx,
                },
            },
            (Obj::Sequence(n), Obj::Sequence(o)) => plain(Some(n.alter(o))),
            (Obj::Table(n), Obj::Table(o)) => match n.alter(o) {
                None => Alteration::Replace,
                Some(t) if t.statements.is_empty() => Alteration::Same,
                Some(t) => {
                    let mut why = Vec::new();
                    if !t.dropped_columns.is_empty() {
                        why.push(format!(
                            "drops column(s) {} of {} and their data",
                            t.dropped_columns.join(", "),
                            n.name
                        ));
                    }
                    if !t.retyped_columns.is_empty() {
                        why.push(format!(
                            "changes the type of {}.{} (a narrowing change fails or loses data on existing rows)",
                            n.name,
                            t.retyped_columns.join(", ")
                        ));
                    }
                    Alteration::InPlace {
                        statements: t.statements,
                        destructive: (!why.is_empty()).then(|| why.join("; ")),
                        outside_tx: false,
                    }
                }
            },
            (Obj::Constraint(n), Obj::Constraint(o)) => plain(n.alter(o)),
            (Obj::Index(n), Obj::Index(o)) => plain(n.alter(o)),
            (Obj::View(n), Obj::View(o)) => plain(n.alter(o)),
            (Obj::Function(n), Obj::Function(o)) => plain(n.alter(o)),
            (Obj::Trigger(n), Obj::Trigger(o)) => plain(n.alter(o)),
            (Obj::Policy(n), Obj::Policy(o)) => plain(n.alter(o)),
            (Obj::Statistics(n), Obj::Statistics(o)) => plain(n.alter(o)),
            (Obj::Collation(n), Obj::Collation(o)) => plain(n.alter(o)),
            (Obj::Rule(n), Obj::Rule(o)) => plain(n.alter(o)),
            (Obj::DefaultPrivileges(n), Obj::DefaultPrivileges(o)) => plain(Some(n.alter(o))),
            (Obj::Publication(n), Obj::Publication(o)) => plain(n.alter(o)),
            (Obj::EventTrigger(n), Obj::EventTrigger(o)) => plain(n.alter(o)),
            (Obj::Cast(n), Obj::Cast(o)) => plain(n.alter(o)),
            (Obj::Conversion(n), Obj::Conversion(o)) => plain(n.alter(o)),
            (Obj::Operator(n), Obj::Operator(o)) => plain(n.alter(o)),
            (Obj::OpFamily(n), Obj::OpFamily(o)) => plain(n.alter(o)),
            (Obj::OpClass(n), Obj::OpClass(o)) => plain(n.alter(o)),
            (Obj::ForeignDataWrapper(n), Obj::ForeignDataWrapper(o)) => plain(Some(n.alter(o))),
            (Obj::ForeignServer(n), Obj::ForeignServer(o)) => plain(n.alter(o)),
            (Obj::UserMapping(n), Obj::UserMapping(o)) => plain(Some(n.alter(o))),
            (Obj::Transform(n), Obj::Transform(o)) => plain(n.alter(o)),
            (Obj::Language(n), Obj::Language(o)) => plain(Some(n.alter(o))),
            (Obj::TsDictionary(n), Obj::TsDictionary(o)) => plain(n.alter(o)),
            (Obj::AttachedIndex(n), Obj::AttachedIndex(o)) => plain(n.alter(o)),
            (Obj::InheritedColumn(n), Obj::InheritedColumn(o)) => plain(n.alter(o)),
            (Obj::TsConfiguration(n), Obj::TsConfiguration(o)) => plain(n.alter(o)),
            _ => Alteration::Replace,
        }
    }

    /// The object whose drop takes this one with it.
    pub(super) fn owner(&self, catalog: &Catalog) -> Option<ObjKey> {
        let rel = |q: &QName| {
            if catalog.views.contains_key(q) {
                ObjKey::View(q.clone())
            } else {
                ObjKey::Table(q.clone())
            }
        };
        match self {
            Obj::Constraint(c) => Some(rel(&c.table)),
            Obj::Index(i) => Some(rel(&i.table)),
            Obj::Trigger(t) => Some(rel(&t.table)),
            Obj::Policy(p) => Some(rel(&p.table)),
            Obj::Statistics(s) => Some(rel(&s.table)),
            Obj::Rule(r) => Some(rel(&r.table)),
            Obj::InheritedColumn(c) => Some(ObjKey::Table(c.table.clone())),
            Obj::Sequence(s) => s.owned_by.as_ref().map(|(t, _)| ObjKey::Table(t.clone())),
            Obj::DefaultPrivileges(d) => d.schema.clone().map(ObjKey::Schema),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diff::testkit::{catalog, key};

    #[test]
    fn both_sides_are_walked_together_in_key_order() {
        let a: BTreeMap<u8, char> = [(1, 'a'), (3, 'c')].into();
        let b: BTreeMap<u8, char> = [(2, 'B'), (3, 'C')].into();
        let got: Vec<_> = merged(&a, &b)
            .map(|(k, x, y)| (*k, x.copied(), y.copied()))
            .collect();
        assert_eq!(
            got,
            vec![
                (1, Some('a'), None),
                (2, None, Some('B')),
                (3, Some('c'), Some('C'))
            ]
        );
    }

    #[test]
    fn pairing_keys_each_sides_objects() {
        let (a, b) = (
            catalog(&[("s", None)]),
            catalog(&[("s", None), ("t", None)]),
        );
        let (olds, news) = pair(&a, &b);
        assert!(olds.contains_key(&key("s")) && !olds.contains_key(&key("t")));
        assert!(news.contains_key(&key("s")) && news.contains_key(&key("t")));
        assert!(olds[&key("s")].same_as(&news[&key("s")]));
    }
}
