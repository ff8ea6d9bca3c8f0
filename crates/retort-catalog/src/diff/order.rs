//! Ordering: Kahn's algorithm over pg_depend's edges, ties by kind and key, cycles broken
//! deterministically; a default that closes a cycle with its function is set on its own.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};

use rustc_hash::FxHashMap as HashMap;

use retort_pg::quote_ident;

use super::{Action, Change};
use crate::catalog::Catalog;
use crate::depends::Dependencies;
use crate::name::{ObjKey, QName};

/// Create-order rank of a key's kind (ties between independent objects).
pub(super) fn rank(key: &ObjKey, catalog: &Catalog) -> u8 {
    match key {
        ObjKey::Schema(_) => 0,
        ObjKey::Extension(_) | ObjKey::Language(_) | ObjKey::ForeignDataWrapper(_) => 1,
        ObjKey::Collation(_)
        | ObjKey::Type(_)
        | ObjKey::TsDictionary(_)
        | ObjKey::TsConfiguration(_)
        | ObjKey::Conversion(_)
        | ObjKey::ForeignServer(_) => 2,
        ObjKey::Function(..)
        | ObjKey::Cast(..)
        | ObjKey::Operator(..)
        | ObjKey::OpFamily(..)
        | ObjKey::OpClass(..)
        | ObjKey::UserMapping(..)
        | ObjKey::Transform(..) => 3,
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

/// Kahn's algorithm over the changes; `edges` are (dependent, referenced). Forward: referenced
/// first. Reverse (drops): dependents first. Ties: kind rank, then key. A cycle is broken by
/// the same order, so the output is always complete and deterministic.
pub(super) fn order(
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
pub(super) fn split_default_cycles(creates: &mut Vec<Change>, deps: &Dependencies, b: &Catalog) {
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
pub(super) fn cycle_breaker<P: Ord>(
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diff::testkit::{catalog, key};

    fn change(name: &str) -> Change {
        Change {
            key: key(name),
            action: Action::Create,
            statements: vec![format!("CREATE SCHEMA {name}")],
            destructive: None,
        }
    }

    fn names(changes: &[Change]) -> Vec<String> {
        changes
            .iter()
            .map(|c| match &c.key {
                ObjKey::Schema(s) => s.clone(),
                other => format!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn referenced_objects_come_first_and_drops_go_the_other_way() {
        let c = catalog(&[]);
        // c needs b, b needs a; the input order is the worst one.
        let deps = Dependencies::from_edges([(key("c"), key("b")), (key("b"), key("a"))]);
        let input = || vec![change("c"), change("b"), change("a")];
        assert_eq!(names(&order(input(), &deps, &c, false)), ["a", "b", "c"]);
        assert_eq!(names(&order(input(), &deps, &c, true)), ["c", "b", "a"]);
    }

    #[test]
    fn a_cycle_is_broken_the_same_way_every_time_and_nothing_is_lost() {
        let c = catalog(&[]);
        let deps = Dependencies::from_edges([
            (key("x"), key("y")),
            (key("y"), key("x")),
            (key("z"), key("x")),
        ]);
        let first = names(&order(
            vec![change("z"), change("y"), change("x")],
            &deps,
            &c,
            false,
        ));
        let again = names(&order(
            vec![change("x"), change("z"), change("y")],
            &deps,
            &c,
            false,
        ));
        assert_eq!(first, again);
        let mut sorted = first.clone();
        sorted.sort();
        assert_eq!(sorted, ["x", "y", "z"]);
        let pos = |n: &str| first.iter().position(|x| x == n).unwrap();
        assert!(pos("z") > pos("x"), "z needs x: {first:?}");
    }
}
