//! Rendering: each classified object's statements, grouped for ordering as early drops,
//! creates and alters, OWNED BY, and late drops; plus the defaults and identities that must
//! step aside first.

use std::collections::{BTreeMap, BTreeSet};
use std::mem::take;

use retort_pg::quote_ident;
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

use super::classify::{Classified, Status};
use super::objects::Obj;
use super::replace::{replace_collation_in_place, replace_type_in_place};
use super::{Action, Change};
use crate::catalog::Catalog;
use crate::depends::Dependencies;
use crate::name::{ObjKey, QName};

/// The changes, in groups the orderer sorts.
pub(super) struct Planned {
    /// Drops that go first, dependents before what they depend on.
    pub early: Vec<Change>,
    /// Creates and alters, in dependency order.
    pub creates: Vec<Change>,
    /// After every create: OWNED BY of sequences, and partitions detached and attached again
    /// with new bounds.
    pub owned_by: Vec<Change>,
    /// Drops of types, sequences, functions, extensions and schemas nothing needs any more.
    pub late: Vec<Change>,
}

/// Every change the classification asks for.
#[allow(clippy::too_many_arguments)]
pub(super) fn changes(
    c: &mut Classified,
    replaced_columns: &BTreeMap<ObjKey, Vec<(QName, String)>>,
    defaults_to_reset: BTreeSet<(QName, String)>,
    a: &Catalog,
    b: &Catalog,
    olds: &BTreeMap<ObjKey, Obj<'_>>,
    news: &BTreeMap<ObjKey, Obj<'_>>,
    deps: &Dependencies,
) -> Planned {
    let (early, late, creates, rebound) = per_object(c, replaced_columns, a, b, olds, news, deps);
    let mut owned_by = owned_by(&c.status, a, b);
    owned_by.extend(rebound);
    let mut planned = Planned {
        early,
        creates,
        owned_by,
        late,
    };
    step_aside(&mut planned, &c.status, defaults_to_reset, a, b, deps);
    planned
}

/// Each object's drop, create or alter statements.
#[allow(clippy::too_many_arguments)]
fn per_object(
    c: &mut Classified,
    replaced_columns: &BTreeMap<ObjKey, Vec<(QName, String)>>,
    a: &Catalog,
    b: &Catalog,
    olds: &BTreeMap<ObjKey, Obj<'_>>,
    news: &BTreeMap<ObjKey, Obj<'_>>,
    deps: &Dependencies,
) -> (Vec<Change>, Vec<Change>, Vec<Change>, Vec<Change>) {
    let status = take(&mut c.status);
    let mut alters = take(&mut c.alters);
    let disturbed = take(&mut c.disturbed);
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
                | ObjKey::Language(_)
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
        deps.iter()
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
    let goes_early = early_drops(&status, deps, &late_kind, readers_of_dropped);
    let mut creates: Vec<Change> = Vec::new();
    // (attach, change): partitions detached and attached again with new bounds.
    let mut rebound: Vec<(bool, Change)> = Vec::new();
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
                // A foreign table's rows live on its server: dropping it loses none.
                let foreign = matches!(o, Obj::Table(t) if t.foreign.is_some());
                let destructive = match (key, s) {
                    (ObjKey::Table(_), _) if foreign => None,
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
                if *s == Status::Drop && late_kind(key) && !goes_early.contains(key) {
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
                let (mut statements, destructive) = alters.remove(key).unwrap_or_default();
                // A partition whose bounds move is detached and attached again once every
                // create has run (its parent's new columns, constraints and indexes have
                // reached it by then, as ATTACH requires), all detaches before any attach:
                // attached with its new bounds while a sibling still holds its old ones, the
                // two could overlap.
                if matches!(key, ObjKey::Table(_)) {
                    let (moves, rest): (Vec<String>, Vec<String>) =
                        statements.into_iter().partition(|s| {
                            s.contains(" DETACH PARTITION ") || s.contains(" ATTACH PARTITION ")
                        });
                    statements = rest;
                    for s in moves {
                        let detach = s.contains(" DETACH PARTITION ");
                        rebound.push((
                            !detach,
                            Change {
                                key: key.clone(),
                                action: Action::Alter,
                                statements: vec![s],
                                destructive: None,
                            },
                        ));
                    }
                }
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
                    c.spliced.get(key).map(Vec::as_slice).unwrap_or(&[]),
                );
                creates.push(change);
                late.extend(drop_old);
            }
        }
    }
    c.status = status;
    c.alters = alters;
    c.disturbed = disturbed;
    rebound.sort_by_key(|(attach, _)| *attach);
    let rebound = rebound.into_iter().map(|(_, c)| c).collect();
    (early, late, creates, rebound)
}

/// The drops of late kinds that must go early after all: a function that reads a dropped
/// relation (`readers`), and anything dropped that depends on something dropped early or
/// replaced in place (an enum re-created while a function taking it goes away), and so on
/// down: a late drop would come after what it depends on is already gone.
fn early_drops<'k>(
    status: &'k BTreeMap<ObjKey, Status>,
    deps: &'k Dependencies,
    late_kind: &dyn Fn(&ObjKey) -> bool,
    readers: HashSet<&'k ObjKey>,
) -> HashSet<&'k ObjKey> {
    let late_candidate = |k: &ObjKey| status.get(k) == Some(&Status::Drop) && late_kind(k);
    // Dependents, by what they depend on, among the late candidates only.
    let mut dependents: HashMap<&ObjKey, Vec<&ObjKey>> = HashMap::default();
    for (d, r) in deps.iter() {
        if late_candidate(d) {
            dependents.entry(r).or_default().push(d);
        }
    }
    let mut early = readers;
    // A name the script creates while a late drop still holds it: an overload of the same
    // function (every call would be ambiguous while both exist), a relation taking a
    // sequence's name, a table or view taking a type's (its row type needs it).
    let created: HashSet<&ObjKey> = status
        .iter()
        .filter(|(_, s)| matches!(s, Status::Create | Status::Recreate))
        .map(|(k, _)| k)
        .collect();
    let collides = |k: &ObjKey| {
        match k {
        ObjKey::Function(q, args) => created
            .iter()
            .any(|c| matches!(c, ObjKey::Function(q2, a2) if q2 == q && a2 != args)),
        // A composite type has a pg_class entry too.
        ObjKey::Sequence(q) => created.iter().any(|c| {
            matches!(c, ObjKey::Table(q2) | ObjKey::View(q2) | ObjKey::Index(q2) | ObjKey::Type(q2) if q2 == q)
        }),
        ObjKey::Type(q) => created.iter().any(|c| {
            matches!(c, ObjKey::Table(q2) | ObjKey::View(q2) | ObjKey::Sequence(q2) | ObjKey::Index(q2) if q2 == q)
        }),
        _ => false,
    }
    };
    for k in status.keys() {
        if late_candidate(k) && collides(k) {
            early.insert(k);
        }
    }
    let mut queue: Vec<&ObjKey> = status
        .iter()
        .filter(|(k, s)| match s {
            Status::Recreate | Status::ReplaceInPlace => true,
            Status::Drop => !late_kind(k),
            _ => false,
        })
        .map(|(k, _)| k)
        .chain(early.iter().copied())
        .collect();
    while let Some(r) = queue.pop() {
        for &d in dependents.get(r).map(Vec::as_slice).unwrap_or(&[]) {
            if early.insert(d) {
                queue.push(d);
            }
        }
    }
    early
}

/// OWNED BY runs after every create: it needs both the table and the sequence (which may
/// depend on each other through a default), and nothing depends on it.
fn owned_by(status: &BTreeMap<ObjKey, Status>, a: &Catalog, b: &Catalog) -> Vec<Change> {
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
    owned_by
}

/// Defaults and identities that stand in the way of a drop go first; defaults that stay as
/// they were are set again after.
fn step_aside(
    planned: &mut Planned,
    status: &BTreeMap<ObjKey, Status>,
    mut defaults_to_reset: BTreeSet<(QName, String)>,
    a: &Catalog,
    b: &Catalog,
    deps: &Dependencies,
) {
    let Planned {
        early,
        creates,
        late,
        ..
    } = planned;
    // A function dropped early (it reads a dropped relation) that a kept table's column default
    // calls: the default goes first, like one using a re-created function (below); the table's
    // ALTER, later, sets the new one, if any.
    for (dep, referenced) in deps.iter() {
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
        // A generated column's expression cannot be dropped: the column goes (it holds no data
        // of its own) and comes back computed by the new function.
        if let (Some(old), Some(new)) = (a.column(t, c), b.column(t, c)) {
            if old.generated.is_some() && new.generated.is_some() {
                early.push(Change {
                    key: key.clone(),
                    action: Action::Drop,
                    statements: vec![format!("ALTER TABLE {t} DROP COLUMN {}", quote_ident(c))],
                    destructive: None,
                });
                let mut statements =
                    vec![format!("ALTER TABLE {t} ADD COLUMN {}", new.definition())];
                statements.extend(crate::common::comment_change(
                    &format!("COLUMN {t}.{}", quote_ident(c)),
                    None,
                    new.comment.as_deref(),
                ));
                creates.push(Change {
                    key,
                    action: Action::Create,
                    statements,
                    destructive: None,
                });
                continue;
            }
        }
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diff::classify::classify;
    use crate::diff::objects::pair;
    use crate::diff::testkit::{catalog, key};

    #[test]
    fn drops_of_late_kinds_go_last_and_creates_carry_their_statements() {
        let a = catalog(&[("old", None)]);
        let b = catalog(&[("fresh", Some("new one"))]);
        let (olds, news) = pair(&a, &b);
        let mut c = classify(&a, &b, &olds, &news);
        let p = changes(
            &mut c,
            &BTreeMap::new(),
            BTreeSet::new(),
            &a,
            &b,
            &olds,
            &news,
            &Dependencies::default(),
        );
        assert!(p.early.is_empty() && p.owned_by.is_empty());
        // A schema nothing needs any more is dropped after the tables that used it.
        assert_eq!(p.late.len(), 1);
        assert_eq!(p.late[0].key, key("old"));
        assert_eq!(p.late[0].action, Action::Drop);
        assert_eq!(p.creates.len(), 1);
        assert_eq!(p.creates[0].key, key("fresh"));
        assert!(p.creates[0].statements[0].starts_with("CREATE SCHEMA fresh"));
        assert!(p.creates[0]
            .statements
            .iter()
            .any(|s| s == "COMMENT ON SCHEMA fresh IS 'new one'"));
    }
}
