//! Diff two snapshots into ordered changes, and render them as SQL.
//!
//! Three phases, each ordered by real dependencies from pg_depend:
//! 1. early drops (reverse dependency order, from the old database): objects that go away or
//!    must be re-created, and everything that depends on them or on a column that is dropped
//!    or changes type;
//! 2. creates and alters (dependency order, from the new database);
//! 3. late drops of types, sequences, functions, extensions and schemas nothing needs any more
//!    (so a column can first stop using a type, then the type goes).

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

use retort_pg::quote_ident;

use crate::catalog::{Catalog, Snapshot};
use crate::depends::Dependencies;
use crate::name::{ObjKey, QName};
use crate::typechange::{rewrite_free, TypeSpec};
use crate::types::TypeDef;

/// What a change does to its object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// CREATE (also the second half of a re-creation).
    Create,
    /// DROP (also the first half of a re-creation).
    Drop,
    /// ALTER in place.
    Alter,
}

/// One step of a diff: statements for one object.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Change {
    /// The object.
    pub key: ObjKey,
    /// What happens to it.
    pub action: Action,
    /// The SQL, without trailing semicolons.
    pub statements: Vec<String>,
    /// Why this step can lose data or fail on existing rows, when it can.
    pub destructive: Option<String>,
}

/// The ordered changes turning one schema into another.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct SchemaDiff {
    /// Changes in the order they must run.
    pub changes: Vec<Change>,
    /// True when a statement (ALTER TYPE ... ADD VALUE) should run outside a transaction block.
    pub outside_transaction: bool,
    /// Drop+create pairs that look like renames, said as hints (never guessed silently).
    pub hints: Vec<String>,
    /// Objects on either side that retort does not compare ("FROM has 2 foreign tables").
    pub not_compared: Vec<String>,
}

impl SchemaDiff {
    /// True when the schemas are the same.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// Every statement in order, starting with `SET [LOCAL] check_function_bodies = false` when a
    /// function is created (function bodies may name objects created later in the script).
    pub fn statements(&self) -> Vec<String> {
        let mut out = Vec::new();
        let functions = self
            .changes
            .iter()
            .any(|c| matches!(c.key, ObjKey::Function(..)) && c.action != Action::Drop);
        if functions {
            out.push(self.function_bodies_off().to_owned());
        }
        for c in &self.changes {
            out.extend(c.statements.iter().cloned());
        }
        out
    }

    /// Function bodies may name objects the script creates later. Scoped to the transaction
    /// the script runs in, so it does not leak into the rest of a session.
    fn function_bodies_off(&self) -> &'static str {
        if self.outside_transaction {
            "SET check_function_bodies = false"
        } else {
            "SET LOCAL check_function_bodies = false"
        }
    }

    /// The SQL script: statements ending in `;`, destructive steps marked with a comment.
    pub fn to_sql(&self) -> String {
        let mut out = String::new();
        if self
            .changes
            .iter()
            .any(|c| matches!(c.key, ObjKey::Function(..)) && c.action != Action::Drop)
        {
            out.push_str(self.function_bodies_off());
            out.push_str(";\n");
        }
        for c in &self.changes {
            if let Some(why) = &c.destructive {
                out.push_str(&format!("-- DESTRUCTIVE: {why}\n"));
            }
            for s in &c.statements {
                out.push_str(s);
                out.push_str(";\n");
            }
        }
        out
    }

    /// The SQL as a script that applies as printed (`retort diff A B | psql -v ON_ERROR_STOP=1`):
    /// one transaction around it, or, when it must run outside one (new enum values), statement
    /// by statement with session-level settings. [`to_sql`](Self::to_sql) is for migration files,
    /// whose runner supplies the transaction.
    pub fn to_script(&self) -> String {
        if self.changes.is_empty() {
            return String::new();
        }
        if self.outside_transaction {
            format!(
                "-- Runs outside a transaction (ALTER TYPE ... ADD VALUE): each statement commits on its own.\n{}",
                self.to_sql()
            )
        } else {
            format!("BEGIN;\n{}COMMIT;\n", self.to_sql())
        }
    }

    /// The destructive steps' warnings.
    pub fn destructive(&self) -> Vec<&str> {
        self.changes
            .iter()
            .filter_map(|c| c.destructive.as_deref())
            .collect()
    }
}

/// One object of either side.
#[derive(Debug, Clone, Copy)]
enum Obj<'a> {
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
    TsDictionary(&'a crate::textsearch::TsDictionary),
    AttachedIndex(&'a crate::partindexes::AttachedIndex),
    InheritedColumn(&'a crate::inherited::InheritedColumn),
    TsConfiguration(&'a crate::textsearch::TsConfiguration),
    Statistics(&'a crate::statistics::Statistics),
    Collation(&'a crate::collations::Collation),
    Rule(&'a crate::rules::Rule),
}

fn objects(c: &Catalog) -> BTreeMap<ObjKey, Obj<'_>> {
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
    m.0.into_iter().collect()
}

/// Pairs gathered for [`objects`].
struct Objects<'a>(Vec<(ObjKey, Obj<'a>)>);

impl<'a> Objects<'a> {
    fn insert(&mut self, k: ObjKey, v: Obj<'a>) {
        self.0.push((k, v));
    }
}

/// The union of two maps' keys in order, with each map's value: one pass over both.
fn merged<'m, K: Ord, V>(
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
enum Alteration {
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
    fn same_as(&self, other: &Obj) -> bool {
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

    fn create(&self) -> Vec<String> {
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
            Obj::TsDictionary(x) => x.create(),
            Obj::AttachedIndex(x) => x.create(),
            Obj::InheritedColumn(x) => x.create(),
            Obj::TsConfiguration(x) => x.create(),
            Obj::Statistics(x) => x.create(),
            Obj::Collation(x) => x.create(),
            Obj::Rule(x) => x.create(),
        }
    }

    fn drop(&self) -> Vec<String> {
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
            Obj::TsDictionary(x) => x.drop(),
            Obj::AttachedIndex(x) => x.drop(),
            Obj::InheritedColumn(x) => x.drop(),
            Obj::TsConfiguration(x) => x.drop(),
            Obj::Statistics(x) => x.drop(),
            Obj::Collation(x) => x.drop(),
            Obj::Rule(x) => x.drop(),
        }
    }

    fn alter(&self, old: &Obj) -> Alteration {
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
            (Obj::TsDictionary(n), Obj::TsDictionary(o)) => plain(n.alter(o)),
            (Obj::AttachedIndex(n), Obj::AttachedIndex(o)) => plain(n.alter(o)),
            (Obj::InheritedColumn(n), Obj::InheritedColumn(o)) => plain(n.alter(o)),
            (Obj::TsConfiguration(n), Obj::TsConfiguration(o)) => plain(n.alter(o)),
            _ => Alteration::Replace,
        }
    }

    /// The object whose drop takes this one with it.
    fn owner(&self, catalog: &Catalog) -> Option<ObjKey> {
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

/// Create-order rank of a key's kind (ties between independent objects).
fn rank(key: &ObjKey, catalog: &Catalog) -> u8 {
    match key {
        ObjKey::Schema(_) => 0,
        ObjKey::Extension(_) => 1,
        ObjKey::Collation(_)
        | ObjKey::Type(_)
        | ObjKey::TsDictionary(_)
        | ObjKey::TsConfiguration(_) => 2,
        ObjKey::Function(..) => 3,
        ObjKey::Sequence(_) => 4,
        ObjKey::Table(_) => 5,
        ObjKey::Column(..) | ObjKey::InheritedColumn(..) => 6,
        ObjKey::Constraint(t, n) => match catalog
            .constraints
            .get(&(t.clone(), n.clone()))
            .map(|c| c.kind)
        {
            Some('p') | Some('u') => 7,
            _ => 8,
        },
        ObjKey::Index(_) | ObjKey::Statistics(_) => 9,
        ObjKey::View(_) => 10,
        // After the partitions and the parent's indexes and constraints that bring it.
        ObjKey::Trigger(..) | ObjKey::Rule(..) | ObjKey::AttachedIndex(..) => 11,
        ObjKey::Policy(..) => 12,
        ObjKey::DefaultPrivileges(..) | ObjKey::Publication(_) => 13,
        // Last to be created and first to go: an event trigger does not fire on the
        // script's own DDL.
        ObjKey::EventTrigger(_) => 14,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Same,
    Create,
    Drop,
    Recreate,
    Alter,
    /// A type changed beyond ALTER TYPE while columns use it: renamed, re-created, columns
    /// converted through text, old type dropped.
    ReplaceInPlace,
}

/// Computes the changes that turn `from` into `to`.
pub fn diff(from: &Snapshot, to: &Snapshot) -> SchemaDiff {
    let (a, b) = (&from.catalog, &to.catalog);
    // Objects the script creates start with the privileges `a`'s default privileges give.
    let started;
    let b = match crate::defaults::with_starting_acls(a, b) {
        Some(c) => {
            started = c;
            &started
        }
        None => b,
    };
    // The two sides' object maps are built at once: the diff is the only work left then, and
    // a core would otherwise sit idle.
    let (olds, news) = std::thread::scope(|s| {
        let news = s.spawn(|| objects(b));
        let olds = objects(a);
        (olds, news.join().expect("building the object map panicked"))
    });
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

    for (key, old, new) in merged(&olds, &news) {
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

    // A column changed on a parent changes in its partitions and inheritance children too (and
    // theirs): a walk down from each changed column.
    let mut children: HashMap<String, Vec<&QName>> = HashMap::default();
    for child in a.tables.values() {
        for parent in child
            .partition_of
            .iter()
            .map(|(p, _)| p)
            .chain(&child.inherits)
        {
            children
                .entry(parent.clone())
                .or_default()
                .push(&child.name);
        }
    }
    if !children.is_empty() {
        for set in [&mut disturbed, &mut in_place] {
            let mut queue: Vec<ObjKey> = set.iter().cloned().collect();
            while let Some(key) = queue.pop() {
                let ObjKey::Column(t, c) = &key else { continue };
                for kid in children.get(&t.to_string()).into_iter().flatten() {
                    let below = ObjKey::Column((*kid).clone(), c.clone());
                    if set.insert(below.clone()) {
                        queue.push(below);
                    }
                }
            }
        }
    }

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
        for (d, r) in from.deps.iter() {
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

    // Propagate: dependents of anything dropped, re-created or disturbed are re-created. A
    // worklist over the dependency edges, by referenced object: each object is visited when it
    // becomes gone (and, for a column changing type in place, once before that for the
    // dependents PostgreSQL refuses to keep).
    let mut defaults_to_reset: BTreeSet<(QName, String)> = BTreeSet::new();
    {
        let mut by_ref: HashMap<&ObjKey, Vec<&ObjKey>> = HashMap::default();
        let mut columns_of: HashMap<&QName, Vec<&ObjKey>> = HashMap::default();
        for (dep, referenced) in from.deps.iter() {
            let list = by_ref.entry(referenced).or_default();
            if list.is_empty() {
                if let ObjKey::Column(t, _) = referenced {
                    columns_of.entry(t).or_default().push(referenced);
                }
            }
            list.push(dep);
        }
        let gone = |k: &ObjKey, status: &BTreeMap<ObjKey, Status>| {
            disturbed.contains(k)
                || matches!(
                    status.get(k),
                    Some(Status::Drop | Status::Recreate | Status::ReplaceInPlace)
                )
                || matches!(k, ObjKey::Column(t, _) if matches!(status.get(&ObjKey::Table(t.clone())), Some(Status::Drop | Status::Recreate)))
        };
        let mut visited_gone: HashSet<&ObjKey> = HashSet::default();
        // Seeded with what is gone or changes type in place (nothing else has dependents to
        // visit): on a large catalog, far fewer keys than every referenced one.
        let mut queue: Vec<&ObjKey> = Vec::new();
        let gone_now = status
            .iter()
            .filter(|(_, s)| matches!(s, Status::Drop | Status::Recreate | Status::ReplaceInPlace));
        for (k, s) in gone_now {
            if let Some((key, _)) = by_ref.get_key_value(k) {
                queue.push(key);
            }
            if let (ObjKey::Table(t), Status::Drop | Status::Recreate) = (k, s) {
                queue.extend(columns_of.get(t).into_iter().flatten().copied());
            }
        }
        for k in disturbed.iter().chain(in_place.iter()) {
            if let Some((key, _)) = by_ref.get_key_value(k) {
                queue.push(key);
            }
        }
        while let Some(referenced) = queue.pop() {
            let is_gone = gone(referenced, &status);
            if is_gone && !visited_gone.insert(referenced) {
                continue;
            }
            let in_place_column = in_place.contains(referenced);
            if !is_gone && !in_place_column {
                continue;
            }
            for &dep in by_ref.get(referenced).map(Vec::as_slice).unwrap_or(&[]) {
                let refused = in_place_column
                    && matches!(
                        dep,
                        ObjKey::View(_)
                            | ObjKey::Rule(..)
                            | ObjKey::Trigger(..)
                            | ObjKey::Policy(..)
                            | ObjKey::Function(..)
                    );
                if !refused && !is_gone {
                    continue;
                }
                match dep {
                    ObjKey::Column(t, c) => {
                        // A default using a function or sequence that is re-created.
                        let table_kept = matches!(
                            status.get(&ObjKey::Table(t.clone())),
                            Some(Status::Same | Status::Alter)
                        );
                        if table_kept
                            && matches!(referenced, ObjKey::Function(..) | ObjKey::Sequence(_))
                            && news.contains_key(referenced)
                        {
                            defaults_to_reset.insert((t.clone(), c.clone()));
                        }
                    }
                    ObjKey::Schema(_) | ObjKey::Extension(_) => {}
                    _ => {
                        if matches!(status.get(dep), Some(Status::Same | Status::Alter))
                            && news.contains_key(dep)
                        {
                            // A table is never re-created because a view or function it uses
                            // changes; only structural dependents follow.
                            if matches!(dep, ObjKey::Table(_))
                                && !matches!(referenced, ObjKey::Table(_))
                            {
                                continue;
                            }
                            status.insert(dep.clone(), Status::Recreate);
                            alters.remove(dep);
                            // Now gone: what depends on it (and on its columns) follows.
                            queue.push(dep);
                            if let ObjKey::Table(t) = dep {
                                queue.extend(columns_of.get(t).into_iter().flatten().copied());
                            }
                        }
                    }
                }
            }
        }
    }

    // A partition's attached index goes with its partition or its parent's index (or the
    // constraint behind it), and comes back under a name PostgreSQL picks; a child's own
    // settings of an inherited column go with the child: they follow them.
    {
        let gone = |s: Option<&Status>| {
            matches!(
                s,
                Some(Status::Drop | Status::Recreate | Status::ReplaceInPlace)
            )
        };
        let gone_constraints: HashSet<(&str, &str)> = status
            .iter()
            .filter(|(_, s)| gone(Some(s)))
            .filter_map(|(k, _)| match k {
                ObjKey::Constraint(t, n) => Some((t.schema.as_str(), n.as_str())),
                _ => None,
            })
            .collect();
        let follow: Vec<ObjKey> = status
            .iter()
            .filter(|(k, s)| {
                if !matches!(s, Status::Same | Status::Alter) {
                    return false;
                }
                match k {
                    ObjKey::AttachedIndex(p, i) => {
                        gone(status.get(&ObjKey::Table(p.clone())))
                            || gone(status.get(&ObjKey::Index(i.clone())))
                            || gone_constraints.contains(&(i.schema.as_str(), i.name.as_str()))
                    }
                    // A re-created child gets its parent's settings back.
                    ObjKey::InheritedColumn(t, _) => gone(status.get(&ObjKey::Table(t.clone()))),
                    _ => false,
                }
            })
            .map(|(k, _)| k.clone())
            .collect();
        for k in follow {
            alters.remove(&k);
            status.insert(k, Status::Recreate);
        }
    }

    let is_dropped = |k: &ObjKey| matches!(status.get(k), Some(Status::Drop | Status::Recreate));
    let late_kind = |k: &ObjKey| {
        matches!(
            k,
            ObjKey::Type(_)
                | ObjKey::Collation(_)
                | ObjKey::TsDictionary(_)
                | ObjKey::TsConfiguration(_)
                | ObjKey::Sequence(_)
                | ObjKey::Function(..)
                | ObjKey::Extension(_)
                | ObjKey::Schema(_)
        )
    };

    let mut early: Vec<Change> = Vec::new();
    let mut late: Vec<Change> = Vec::new();
    let dropped_relations: BTreeSet<&ObjKey> = status
        .iter()
        .filter(|(k, s)| {
            matches!(s, Status::Drop | Status::Recreate)
                && matches!(k, ObjKey::Table(_) | ObjKey::View(_))
        })
        .map(|(k, _)| k)
        .collect();
    // Functions that read a dropped relation: one pass over the edges.
    let readers_of_dropped: HashSet<&ObjKey> = if dropped_relations.is_empty() {
        HashSet::default()
    } else {
        from.deps
            .iter()
            .filter(|(d, r)| {
                matches!(d, ObjKey::Function(..))
                    && match r {
                        ObjKey::Column(t, _) => {
                            dropped_relations.contains(&ObjKey::Table(t.clone()))
                        }
                        other => dropped_relations.contains(other),
                    }
            })
            .map(|(d, _)| d)
            .collect()
    };
    let reads_dropped_relation = |k: &ObjKey| readers_of_dropped.contains(k);
    let mut creates: Vec<Change> = Vec::new();
    for (key, s) in &status {
        let old = olds.get(key);
        let new = news.get(key);
        match s {
            Status::Same => {}
            Status::Drop | Status::Recreate => {
                let o = old.expect("dropped objects are in the old catalog");
                // Foreign keys are dropped explicitly even with their table: the referenced
                // table may be dropped first (or the two may reference each other).
                let is_fk = matches!(o, Obj::Constraint(c) if c.kind == 'f');
                let owner_dropped = !is_fk && o.owner(a).is_some_and(|ow| is_dropped(&ow))
                    || matches!(o, Obj::Sequence(seq) if seq.owned_by.as_ref().is_some_and(|(t, c)| disturbed.contains(&ObjKey::Column(t.clone(), c.clone())) && !b.tables.get(t).is_some_and(|nt| nt.columns.iter().any(|x| &x.name == c))));
                let statements = if owner_dropped { Vec::new() } else { o.drop() };
                let destructive = match (key, s) {
                    (ObjKey::Table(q), Status::Drop) => {
                        Some(format!("drops table {q} and its data"))
                    }
                    (ObjKey::Table(q), _) => {
                        Some(format!("re-creates table {q}: its data is lost"))
                    }
                    (ObjKey::Sequence(q), Status::Drop) if !owner_dropped => {
                        Some(format!("drops sequence {q} and its current value"))
                    }
                    _ => None,
                };
                let change = Change {
                    key: key.clone(),
                    action: Action::Drop,
                    statements,
                    destructive,
                };
                // Types, sequences, functions, extensions and schemas go after the tables that
                // use them; a function that itself reads a dropped relation (a SQL-standard
                // body, parsed at creation) goes before it, in the dependency-ordered part.
                if *s == Status::Drop && late_kind(key) && !reads_dropped_relation(key) {
                    late.push(change);
                } else {
                    early.push(change);
                }
                if *s == Status::Recreate {
                    let n = new.expect("re-created objects are in the new catalog");
                    creates.push(Change {
                        key: key.clone(),
                        action: Action::Create,
                        statements: n.create(),
                        destructive: None,
                    });
                }
            }
            Status::Create => {
                let n = new.expect("created objects are in the new catalog");
                creates.push(Change {
                    key: key.clone(),
                    action: Action::Create,
                    statements: n.create(),
                    destructive: None,
                });
            }
            Status::Alter => {
                let (statements, destructive) = alters.remove(key).unwrap_or_default();
                creates.push(Change {
                    key: key.clone(),
                    action: Action::Alter,
                    statements,
                    destructive,
                });
            }
            Status::ReplaceInPlace => {
                if let (Some(Obj::Collation(o)), Some(Obj::Collation(n))) = (old, new) {
                    let (change, drop_old) = replace_collation_in_place(
                        o,
                        n,
                        b,
                        replaced_columns.get(key).map(Vec::as_slice).unwrap_or(&[]),
                    );
                    creates.push(change);
                    late.extend(drop_old);
                    continue;
                }
                let (Some(Obj::Type(o)), Some(Obj::Type(n))) = (old, new) else {
                    continue;
                };
                let (change, drop_old) = replace_type_in_place(
                    o,
                    n,
                    a,
                    b,
                    replaced_columns.get(key).map(Vec::as_slice).unwrap_or(&[]),
                );
                creates.push(change);
                late.extend(drop_old);
            }
        }
    }
    // OWNED BY runs after every create: it needs both the table and the sequence (which may
    // depend on each other through a default), and nothing depends on it.
    let mut owned_by = Vec::new();
    for seq in b.sequences.values() {
        let Some((t, _)) = &seq.owned_by else {
            continue;
        };
        let was = a.sequences.get(&seq.name).and_then(|s| s.owned_by.clone());
        let created = |k: ObjKey| matches!(status.get(&k), Some(Status::Create | Status::Recreate));
        if created(ObjKey::Sequence(seq.name.clone()))
            || created(ObjKey::Table(t.clone()))
            || was != seq.owned_by
        {
            owned_by.push(Change {
                key: ObjKey::Sequence(seq.name.clone()),
                action: Action::Alter,
                statements: seq.owned_by_sql().into_iter().collect(),
                destructive: None,
            });
        }
    }
    // A function dropped early (it reads a dropped relation) that a kept table's column default
    // calls: the default goes first, like one using a re-created function (below); the table's
    // ALTER, later, sets the new one, if any.
    for (dep, referenced) in from.deps.iter() {
        let ObjKey::Column(t, c) = dep else { continue };
        let function_goes_early = matches!(referenced, ObjKey::Function(..))
            && status.get(referenced) == Some(&Status::Drop)
            && early.iter().any(|x| &x.key == referenced);
        if function_goes_early
            && matches!(
                status.get(&ObjKey::Table(t.clone())),
                Some(Status::Same | Status::Alter)
            )
        {
            defaults_to_reset.insert((t.clone(), c.clone()));
        }
    }
    // Identity dropped early (its sequence's name may be needed by a new sequence), and
    // sequences owned by a column of a kept table dropped early after that column's default:
    // an identity column may be about to take the name.
    for (q, nt) in &b.tables {
        let Some(ot) = a.tables.get(q) else { continue };
        if !matches!(
            status.get(&ObjKey::Table(q.clone())),
            Some(Status::Same | Status::Alter)
        ) {
            continue;
        }
        for oc in ot.columns.iter().filter(|c| c.identity.is_some()) {
            let Some(nc) = nt.columns.iter().find(|c| c.name == oc.name) else {
                continue;
            };
            if nc.identity.is_none() {
                early.push(Change {
                    key: ObjKey::Column(q.clone(), oc.name.clone()),
                    action: Action::Drop,
                    statements: vec![format!(
                        "ALTER TABLE {q} ALTER COLUMN {} DROP IDENTITY IF EXISTS",
                        quote_ident(&oc.name)
                    )],
                    destructive: None,
                });
            }
        }
    }
    let mut moved = Vec::new();
    for (i, change) in late.iter().enumerate() {
        let ObjKey::Sequence(sq) = &change.key else {
            continue;
        };
        let Some((t, c)) = a.sequences.get(sq).and_then(|s| s.owned_by.clone()) else {
            continue;
        };
        if !matches!(
            status.get(&ObjKey::Table(t.clone())),
            Some(Status::Same | Status::Alter)
        ) {
            continue;
        }
        moved.push(i);
        if a.tables
            .get(&t)
            .and_then(|x| x.columns.iter().find(|x| x.name == c))
            .is_some_and(|x| x.default.is_some())
            && b.tables
                .get(&t)
                .and_then(|x| x.columns.iter().find(|x| x.name == c))
                .is_some()
        {
            early.push(Change {
                key: ObjKey::Column(t.clone(), c.clone()),
                action: Action::Drop,
                statements: vec![format!(
                    "ALTER TABLE {t} ALTER COLUMN {} DROP DEFAULT",
                    quote_ident(&c)
                )],
                destructive: None,
            });
        }
    }
    for i in moved.into_iter().rev() {
        early.push(late.remove(i));
    }
    // Defaults using a re-created function or sequence, or a function dropped early: dropped
    // early, set again after when they stay as they were.
    for (t, c) in &defaults_to_reset {
        let key = ObjKey::Column(t.clone(), c.clone());
        let col = format!("ALTER TABLE {t} ALTER COLUMN {}", quote_ident(c));
        early.push(Change {
            key: key.clone(),
            action: Action::Drop,
            statements: vec![format!("{col} DROP DEFAULT")],
            destructive: None,
        });
        let old_default = a.column(t, c).and_then(|x| x.default.clone());
        let new_default = b.column(t, c).and_then(|x| x.default.clone());
        if let Some(d) = new_default.filter(|d| Some(d) == old_default.as_ref()) {
            creates.push(Change {
                key,
                action: Action::Create,
                statements: vec![format!("{col} SET DEFAULT {d}")],
                destructive: None,
            });
        }
    }

    split_default_cycles(&mut creates, &to.deps, b);

    let mut changes = order(early, &from.deps, a, true);
    changes.extend(order(creates, &to.deps, b, false));
    changes.extend(owned_by);
    changes.extend(order(late, &from.deps, a, true));
    changes.retain(|c| !c.statements.is_empty());
    outside_transaction &= changes
        .iter()
        .any(|c| c.statements.iter().any(|s| s.contains(" ADD VALUE ")));

    let mut not_compared = Vec::new();
    for (side, snapshot) in [("FROM", from), ("TO", to)] {
        if !snapshot.not_compared.is_empty() {
            not_compared.push(format!(
                "{side} has {} that retort does not compare",
                snapshot.not_compared.join(", ")
            ));
        }
    }
    SchemaDiff {
        changes,
        outside_transaction,
        hints: rename_hints(a, b, &status),
        not_compared,
    }
}

/// ALTER TYPE .. RENAME, CREATE the new type, convert each column through text, DROP the old.
/// When a column of the old type is itself going away (dropped later in the script), the old
/// type is dropped at the end instead: the second change.
/// The name a replaced type or collation is renamed to while its replacement takes over.
fn retired_name(name: &QName) -> QName {
    QName::new(name.schema.clone(), format!("{}__retort_old", name.name))
}

/// The old, renamed type or collation is dropped at the end of its replacement, or, when a
/// column using it is dropped (later, with its table's changes), in the late group.
fn drop_renamed(
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
fn replace_collation_in_place(
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

fn replace_type_in_place(
    old: &TypeDef,
    new: &TypeDef,
    a: &Catalog,
    b: &Catalog,
    columns: &[(QName, String)],
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

/// Kahn's algorithm over the changes; `edges` are (dependent, referenced). Forward: referenced
/// first. Reverse (drops): dependents first. Ties: kind rank, then key. A cycle is broken by
/// the same order, so the output is always complete and deterministic.
fn order(
    changes: Vec<Change>,
    edges: &Dependencies,
    catalog: &Catalog,
    reverse: bool,
) -> Vec<Change> {
    let n = changes.len();
    let mut index: HashMap<&ObjKey, Vec<usize>> = HashMap::default();
    for (i, c) in changes.iter().enumerate() {
        index.entry(&c.key).or_default().push(i);
    }
    let tables: HashMap<&QName, &[usize]> = index
        .iter()
        .filter_map(|(k, v)| match k {
            ObjKey::Table(t) => Some((t, v.as_slice())),
            _ => None,
        })
        .collect();
    // Each key of the graph is looked up once (a column stands for its table), then the edges
    // are walked by index: the graph has tens of thousands of edges, the changes are few.
    let (keys, pairs) = edges.indexed();
    let lifted: Vec<&[usize]> = keys
        .iter()
        .map(|k| match (index.get(k), k) {
            (Some(v), _) => v.as_slice(),
            (None, ObjKey::Column(t, _)) => tables.get(t).copied().unwrap_or(&[]),
            (None, _) => &[],
        })
        .collect();
    // What a column's readers wait for: the table's own change (its CREATE, or the ALTER that
    // adds or retypes the column) when the batch has one, else nothing. A column's own change
    // among creates only sets its default, which readers never need.
    let lifted_ref: Vec<&[usize]> = keys
        .iter()
        .zip(&lifted)
        .map(|(k, &l)| match k {
            ObjKey::Column(t, _) if !reverse => tables.get(t).copied().unwrap_or(&[]),
            _ => l,
        })
        .collect();
    // A sequence OWNED BY a column depends on its table, and the column's default on the
    // sequence: a cycle that creates break by making the sequence first and setting OWNED BY
    // after every create (see `diff`), so that link does not order creates.
    let owner_of = |i: usize| match &changes[i].key {
        ObjKey::Sequence(q) if !reverse => catalog
            .sequences
            .get(q)
            .and_then(|s| s.owned_by.as_ref())
            .map(|(t, _)| t),
        _ => None,
    };
    let mut after: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); n]; // after[x] = nodes that must wait for x
    let mut indegree = vec![0usize; n];
    for &(dep, referenced) in pairs {
        let (ds, rs) = (lifted[dep as usize], lifted_ref[referenced as usize]);
        for &d in ds {
            for &r in rs {
                if d == r {
                    continue;
                }
                // (Forward, a column's readers are lifted to its table's change.)
                if let (Some(t), ObjKey::Table(rt)) = (owner_of(d), &changes[r].key) {
                    if t == rt {
                        continue;
                    }
                }
                let (first, second) = if reverse { (d, r) } else { (r, d) };
                if after[first].insert(second) {
                    indegree[second] += 1;
                }
            }
        }
    }
    let prio = |i: usize| {
        let c = &changes[i];
        let r = rank(&c.key, catalog);
        (if reverse { u8::MAX - r } else { r }, c.key.clone(), i)
    };
    let mut heap: BinaryHeap<Reverse<(u8, ObjKey, usize)>> = (0..n)
        .filter(|&i| indegree[i] == 0)
        .map(|i| Reverse(prio(i)))
        .collect();
    let mut done = vec![false; n];
    let mut out_idx = Vec::with_capacity(n);
    while out_idx.len() < n {
        let next = match heap.pop() {
            Some(Reverse((_, _, i))) => i,
            // A cycle: take the best node of a cycle that waits for nothing outside itself
            // (never a node that merely waits for the cycle to finish).
            None => match cycle_breaker(&after, &done, prio) {
                Some(i) => i,
                None => break,
            },
        };
        if done[next] {
            continue;
        }
        done[next] = true;
        out_idx.push(next);
        for &s in &after[next] {
            indegree[s] = indegree[s].saturating_sub(1);
            if indegree[s] == 0 && !done[s] {
                heap.push(Reverse(prio(s)));
            }
        }
    }
    let mut slots: Vec<Option<Change>> = changes.into_iter().map(Some).collect();
    out_idx
        .into_iter()
        .filter_map(|i| slots[i].take())
        .collect()
}

/// A column default calling a function created in the same script that itself reads the
/// table (a SQL-standard body, `RETURN (SELECT max(n) FROM t)`, directly or through views):
/// neither the table (or its ALTER) nor the function can come first. As pg_dump does, the table
/// is created or altered without that default, which is set on its own once the function
/// exists.
fn split_default_cycles(creates: &mut Vec<Change>, deps: &Dependencies, b: &Catalog) {
    let table_change = |creates: &[Change], t: &QName| {
        creates
            .iter()
            .position(|c| c.key == ObjKey::Table(t.clone()) && c.action != Action::Drop)
    };
    let function_created = |k: &ObjKey| {
        creates
            .iter()
            .any(|c| &c.key == k && c.action == Action::Create)
    };
    // Functions that a created or altered table's column defaults call, created here too.
    let mut candidates: Vec<(QName, String, ObjKey)> = Vec::new();
    for (dep, referenced) in deps.iter() {
        if let (ObjKey::Column(t, c), ObjKey::Function(..)) = (dep, referenced) {
            if table_change(creates, t).is_some() && function_created(referenced) {
                candidates.push((t.clone(), c.clone(), referenced.clone()));
            }
        }
    }
    if candidates.is_empty() {
        return;
    }
    // What each object reads, to follow a function through views and other functions.
    let mut reads: HashMap<&ObjKey, Vec<&ObjKey>> = HashMap::default();
    for (dep, referenced) in deps.iter() {
        reads.entry(dep).or_default().push(referenced);
    }
    let reaches = |from: &ObjKey, table: &QName| {
        let mut seen: BTreeSet<&ObjKey> = BTreeSet::new();
        let mut stack: Vec<&ObjKey> = reads.get(from).cloned().unwrap_or_default();
        while let Some(k) = stack.pop() {
            match k {
                ObjKey::Table(t) | ObjKey::Column(t, _) if t == table => return true,
                ObjKey::Function(..) | ObjKey::View(_) if seen.insert(k) => {
                    stack.extend(reads.get(k).into_iter().flatten().copied());
                }
                _ => {}
            }
        }
        false
    };
    let mut split: BTreeMap<QName, BTreeSet<String>> = BTreeMap::new();
    for (t, c, f) in &candidates {
        if reaches(f, t) {
            split.entry(t.clone()).or_default().insert(c.clone());
        }
    }
    for (t, columns) in split {
        let (Some(table), Some(at)) = (b.tables.get(&t), table_change(creates, &t)) else {
            continue;
        };
        let mut later = Vec::new();
        let set_default = |c: &str, d: &str| {
            format!(
                "ALTER TABLE {t} ALTER COLUMN {} SET DEFAULT {d}",
                quote_ident(c)
            )
        };
        if creates[at].action == Action::Create {
            let mut without = table.clone();
            for col in without.columns.iter_mut() {
                if columns.contains(&col.name) {
                    if let Some(d) = col.default.take() {
                        later.push((col.name.clone(), set_default(&col.name, &d)));
                    }
                }
            }
            creates[at].statements = without.create();
        } else {
            // An ALTER: its SET DEFAULT statement moves out.
            for col in table.columns.iter().filter(|c| columns.contains(&c.name)) {
                let Some(d) = &col.default else { continue };
                let statement = set_default(&col.name, d);
                let before = creates[at].statements.len();
                creates[at].statements.retain(|s| s != &statement);
                if creates[at].statements.len() < before {
                    later.push((col.name.clone(), statement));
                }
            }
        }
        creates.extend(later.into_iter().map(|(c, statement)| Change {
            key: ObjKey::Column(t.clone(), c),
            action: Action::Create,
            statements: vec![statement],
            destructive: None,
        }));
    }
}

/// When every remaining node waits for another: the strongly connected components of the
/// remaining graph (Kosaraju), and among those no other remaining node must precede, the node
/// with the best `prio`.
fn cycle_breaker<P: Ord>(
    after: &[BTreeSet<usize>],
    done: &[bool],
    prio: impl Fn(usize) -> P,
) -> Option<usize> {
    let n = after.len();
    let live = |i: usize| !done[i];
    let mut before: Vec<Vec<usize>> = vec![Vec::new(); n];
    for x in (0..n).filter(|&x| live(x)) {
        for &s in after[x].iter().filter(|&&s| live(s)) {
            before[s].push(x);
        }
    }
    // Pass 1: finishing order of a depth-first walk along `after`.
    let mut seen = vec![false; n];
    let mut finished = Vec::new();
    for root in (0..n).filter(|&i| live(i)) {
        if seen[root] {
            continue;
        }
        seen[root] = true;
        let mut stack = vec![(root, after[root].iter())];
        while let Some((node, it)) = stack.last_mut() {
            let node = *node;
            match it.find(|&&s| live(s) && !seen[s]) {
                Some(&s) => {
                    seen[s] = true;
                    stack.push((s, after[s].iter()));
                }
                None => {
                    finished.push(node);
                    stack.pop();
                }
            }
        }
    }
    // Pass 2: components along `before`, in reverse finishing order.
    let mut component = vec![usize::MAX; n];
    let mut count = 0;
    for &root in finished.iter().rev() {
        if component[root] != usize::MAX {
            continue;
        }
        component[root] = count;
        let mut stack = vec![root];
        while let Some(node) = stack.pop() {
            for &p in &before[node] {
                if component[p] == usize::MAX {
                    component[p] = count;
                    stack.push(p);
                }
            }
        }
        count += 1;
    }
    let mut waits = vec![false; count];
    for s in (0..n).filter(|&s| live(s)) {
        if before[s].iter().any(|&p| component[p] != component[s]) {
            waits[component[s]] = true;
        }
    }
    (0..n)
        .filter(|&i| live(i) && !waits[component[i]])
        .min_by_key(|&i| prio(i))
}

/// A dropped table and a created one with the same columns, or a dropped and an added column
/// of the same type in one table, are probably renames: say so.
fn rename_hints(a: &Catalog, b: &Catalog, status: &BTreeMap<ObjKey, Status>) -> Vec<String> {
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
                         rename, write ALTER TABLE {old} RENAME TO {} instead to keep the data",
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
                         write ALTER TABLE {q} RENAME COLUMN {} TO {} instead to keep the data",
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
