//! Propagating: a change travels to what depends on it. A column changed on a parent changes
//! in its partitions and children; dependents of anything dropped, re-created or disturbed are
//! re-created; a partition's attached index and a child's inherited-column settings follow.

use std::collections::{BTreeMap, BTreeSet};
use std::mem::take;

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

use super::classify::{Classified, Status};
use super::objects::Obj;
use crate::catalog::Catalog;
use crate::depends::Dependencies;
use crate::name::{ObjKey, QName};

/// Disturbed and in-place columns, carried down to partitions and inheritance children.
pub(super) fn down_inheritance(a: &Catalog, c: &mut Classified) {
    let mut disturbed = take(&mut c.disturbed);
    let mut in_place = take(&mut c.in_place);
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

    c.disturbed = disturbed;
    c.in_place = in_place;
}

/// Re-creates the dependents of what is gone, over `deps` (the old side's edges). Returns the
/// column defaults that use a re-created function or sequence: they are dropped early and set
/// again.
pub(super) fn dependents(
    c: &mut Classified,
    deps: &Dependencies,
    news: &BTreeMap<ObjKey, Obj<'_>>,
) -> BTreeSet<(QName, String)> {
    let mut status = take(&mut c.status);
    let mut alters = take(&mut c.alters);
    let disturbed = take(&mut c.disturbed);
    let in_place = take(&mut c.in_place);
    // Propagate: dependents of anything dropped, re-created or disturbed are re-created. A
    // worklist over the dependency edges, by referenced object: each object is visited when it
    // becomes gone (and, for a column changing type in place, once before that for the
    // dependents PostgreSQL refuses to keep).
    let mut defaults_to_reset: BTreeSet<(QName, String)> = BTreeSet::new();
    {
        let mut by_ref: HashMap<&ObjKey, Vec<&ObjKey>> = HashMap::default();
        let mut columns_of: HashMap<&QName, Vec<&ObjKey>> = HashMap::default();
        for (dep, referenced) in deps.iter() {
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

    c.status = status;
    c.alters = alters;
    c.disturbed = disturbed;
    c.in_place = in_place;
    defaults_to_reset
}

/// Attached indexes and inherited-column settings follow their owners.
pub(super) fn follow_attached(c: &mut Classified) {
    let mut status = take(&mut c.status);
    let mut alters = take(&mut c.alters);
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

    c.status = status;
    c.alters = alters;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diff::classify::classify;
    use crate::diff::objects::pair;
    use crate::diff::testkit::{catalog, key};

    #[test]
    fn what_depends_on_a_dropped_object_is_recreated_and_so_on_down() {
        use crate::diff::testkit::{collation, with_collations};
        let a = with_collations(catalog(&[]), &["base", "mid", "top", "apart"]);
        let b = with_collations(catalog(&[]), &["mid", "top", "apart"]);
        let (olds, news) = pair(&a, &b);
        let mut c = classify(&a, &b, &olds, &news);
        // top -> mid -> base; apart depends on nothing that changes. (The mechanism is the
        // same for every kind; schemas themselves are never re-created for a dependency.)
        let deps = Dependencies::from_edges([
            (collation("mid"), collation("base")),
            (collation("top"), collation("mid")),
            (key("public"), collation("apart")),
        ]);
        let reset = dependents(&mut c, &deps, &news);
        assert!(reset.is_empty());
        assert_eq!(c.status[&collation("base")], Status::Drop);
        assert_eq!(c.status[&collation("mid")], Status::Recreate);
        assert_eq!(c.status[&collation("top")], Status::Recreate);
        assert_eq!(c.status[&collation("apart")], Status::Same);
    }
}
