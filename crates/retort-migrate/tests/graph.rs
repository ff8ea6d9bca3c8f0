//! The revision graph without a database: Alembic's scenarios, target resolution, bad graphs,
//! and a property test against a naive model.

use std::collections::BTreeSet;
use std::path::PathBuf;

use proptest::prelude::*;
use retort_migrate::{Direction, MigrateError, Migration, RevisionGraph, Target};

/// Short hex names padded to 12 characters: "a1" -> "a10000000000".
fn rev(name: &str) -> String {
    format!("{name:d<12}")
}

struct Spec<'a> {
    name: &'a str,
    parents: &'a [&'a str],
    deps: &'a [&'a str],
    labels: &'a [&'a str],
}

fn m(name: &'static str, parents: &'static [&'static str]) -> Spec<'static> {
    Spec {
        name,
        parents,
        deps: &[],
        labels: &[],
    }
}

fn migration(s: &Spec) -> Migration {
    let mut text = format!("-- retort:revision {}\n", rev(s.name));
    if !s.parents.is_empty() {
        let p: Vec<String> = s.parents.iter().map(|p| rev(p)).collect();
        text.push_str(&format!("-- retort:parents {}\n", p.join(" ")));
    }
    if !s.deps.is_empty() {
        let d: Vec<String> = s.deps.iter().map(|p| rev(p)).collect();
        text.push_str(&format!("-- retort:depends-on {}\n", d.join(" ")));
    }
    if !s.labels.is_empty() {
        text.push_str(&format!("-- retort:branch-labels {}\n", s.labels.join(" ")));
    }
    text.push_str(&format!("-- retort:message {}\n-- retort:up\nCREATE TABLE t_{};\n-- retort:down\nDROP TABLE t_{};\n", s.name, s.name, s.name));
    Migration::parse(
        &text,
        &PathBuf::from(format!("migrations/{}_{}.sql", rev(s.name), s.name)),
    )
    .unwrap()
}

fn graph(specs: &[Spec]) -> RevisionGraph {
    RevisionGraph::new(specs.iter().map(migration).collect()).unwrap()
}

fn graph_err(specs: &[Spec]) -> MigrateError {
    RevisionGraph::new(specs.iter().map(migration).collect()).unwrap_err()
}

fn names(revs: &[String]) -> Vec<String> {
    revs.iter()
        .map(|r| r.trim_end_matches('d').to_owned())
        .collect()
}

/// Applies a plan to a state and returns the new heads, checking the plan's own bookkeeping.
fn run(
    g: &RevisionGraph,
    heads: &[&str],
    target: &str,
    dir: Direction,
) -> Result<(Vec<String>, Vec<String>), MigrateError> {
    let rows: Vec<String> = heads.iter().map(|h| rev(h)).collect();
    let state = g.state_from_heads(&rows)?;
    let t = Target::parse(target)?;
    let plan = match dir {
        Direction::Up => g.plan_upgrade(&state, &t)?,
        Direction::Down => g.plan_downgrade(&state, &t)?,
    };
    // Replaying the step-wise row changes must give the plan's final heads.
    let mut table: BTreeSet<String> = rows.into_iter().collect();
    for step in &plan.steps {
        for r in &step.remove_heads {
            assert!(
                table.remove(r),
                "step {} removes a row that is not there",
                step.revision
            );
        }
        for a in &step.add_heads {
            assert!(
                table.insert(a.clone()),
                "step {} adds a row twice",
                step.revision
            );
        }
    }
    assert_eq!(table.into_iter().collect::<Vec<_>>(), plan.to_heads);
    let steps: Vec<String> = plan.steps.iter().map(|s| s.revision.clone()).collect();
    Ok((names(&steps), names(&plan.to_heads)))
}

fn up(g: &RevisionGraph, heads: &[&str], target: &str) -> (Vec<String>, Vec<String>) {
    run(g, heads, target, Direction::Up).unwrap()
}

fn down(g: &RevisionGraph, heads: &[&str], target: &str) -> (Vec<String>, Vec<String>) {
    run(g, heads, target, Direction::Down).unwrap()
}

fn target_err(g: &RevisionGraph, heads: &[&str], target: &str, dir: Direction) -> String {
    match run(g, heads, target, dir) {
        Err(e) => e.to_string(),
        Ok(r) => panic!("expected an error for {target}, got {r:?}"),
    }
}

/// x0 -> a1 -> a2 (label a on a1), x0 -> b1 (label b), merge e1 of a2 and b1, then e2.
fn forked() -> RevisionGraph {
    graph(&[
        m("f0", &[]),
        Spec {
            name: "a1",
            parents: &["f0"],
            deps: &[],
            labels: &["alpha"],
        },
        m("a2", &["a1"]),
        Spec {
            name: "b1",
            parents: &["f0"],
            deps: &[],
            labels: &["beta"],
        },
        m("e1", &["a2", "b1"]),
        m("e2", &["e1"]),
    ])
}

#[test]
fn linear_up_and_down() {
    let g = graph(&[m("01", &[]), m("02", &["01"]), m("03", &["02"])]);
    assert_eq!(
        up(&g, &[], "heads"),
        (
            vec!["01".into(), "02".into(), "03".into()],
            vec!["03".into()]
        )
    );
    assert_eq!(
        up(&g, &[], "+2"),
        (vec!["01".into(), "02".into()], vec!["02".into()])
    );
    assert_eq!(
        up(&g, &["01"], "head"),
        (vec!["02".into(), "03".into()], vec!["03".into()])
    );
    assert_eq!(
        down(&g, &["03"], "-1"),
        (vec!["03".into()], vec!["02".into()])
    );
    assert_eq!(
        down(&g, &["03"], "base"),
        (vec!["03".into(), "02".into(), "01".into()], vec![])
    );
    assert_eq!(
        down(&g, &["03"], &rev("01")[..6]),
        (vec!["03".into(), "02".into()], vec!["01".into()])
    );
    assert_eq!(
        up(&g, &[], &format!("{}+1", &rev("01")[..5])).1,
        vec!["02".to_string()]
    );
    assert_eq!(
        down(&g, &["03"], &format!("{}-2", rev("03"))).1,
        vec!["01".to_string()]
    );
    // Already there: an empty plan, not an error.
    assert_eq!(up(&g, &["03"], "heads").0, Vec::<String>::new());
    assert!(target_err(&g, &["03"], "+1", Direction::Up).contains("goes past the heads"));
    assert!(target_err(&g, &["01"], "-2", Direction::Down).contains("goes below base"));
    assert!(target_err(&g, &["01"], "base", Direction::Up).contains("downgrade target"));
    assert!(target_err(&g, &["01"], "heads", Direction::Down).contains("upgrade target"));
    assert!(target_err(&g, &["01"], &rev("03"), Direction::Down).contains("is not applied"));
}

#[test]
fn branches_upgrade_independently_and_together() {
    let g = forked();
    // alpha@head follows the branch through the merge to e2.
    assert_eq!(up(&g, &[], "alpha@head").1, vec!["e2".to_string()]);
    let split = graph(&[
        m("f0", &[]),
        Spec {
            name: "a1",
            parents: &["f0"],
            deps: &[],
            labels: &["alpha"],
        },
        m("a2", &["a1"]),
        m("b1", &["f0"]),
    ]);
    assert_eq!(
        up(&split, &[], "alpha@head"),
        (
            vec!["f0".into(), "a1".into(), "a2".into()],
            vec!["a2".into()]
        )
    );
    let e = target_err(&split, &[], &format!("{}@head", rev("f0")), Direction::Up);
    assert!(e.contains("ambiguous"), "{e}");
    assert_eq!(
        up(&g, &["a2"], "beta"),
        (vec!["b1".into()], vec!["a2".into(), "b1".into()])
    );
    assert_eq!(up(&g, &[], &rev("b1")).1, vec!["b1".to_string()]);
    // Both branches together, then through the merge.
    assert_eq!(up(&g, &[], "heads").1, vec!["e2".to_string()]);
    let (steps, _) = up(&g, &[], "heads");
    assert_eq!(steps.len(), 6);
    assert_eq!(steps.last().map(String::as_str), Some("e2"));
    // From the root, the next step is ambiguous; the error lists both children.
    let e = target_err(&g, &["f0"], "+1", Direction::Up);
    assert!(e.contains(&rev("a1")) && e.contains(&rev("b1")), "{e}");
    let e = target_err(&g, &[], "f0dd+1", Direction::Up);
    assert!(e.contains("branch point"), "{e}");
    // Several heads make `head` ambiguous; `heads` is fine.
    let split = graph(&[m("f0", &[]), m("a1", &["f0"]), m("b1", &["f0"])]);
    let e = target_err(&split, &[], "head", Direction::Up);
    assert!(
        e.contains("2 heads") && e.contains("retort merge heads"),
        "{e}"
    );
}

#[test]
fn downgrading_one_branch_leaves_the_other_alone() {
    let g = forked();
    assert_eq!(
        down(&g, &["a2", "b1"], &rev("a1")),
        (vec!["a2".into()], vec!["a1".into(), "b1".into()])
    );
    assert_eq!(
        down(&g, &["a2", "b1"], "alpha@base"),
        (vec!["a2".into(), "a1".into()], vec!["b1".into()])
    );
    assert_eq!(
        down(&g, &["a2", "b1"], &format!("{}@base", rev("b1"))),
        (vec!["b1".into()], vec!["a2".into()])
    );
    // `-1` with two heads is ambiguous, and says how to name one.
    let e = target_err(&g, &["a2", "b1"], "-1", Direction::Down);
    assert!(e.contains("several heads") && e.contains("@base`"), "{e}");
    // REV-1 is an absolute target: b1-1 is the fork point, below both branches.
    assert_eq!(
        down(&g, &["a2", "b1"], &format!("{}-1", rev("b1"))).1,
        vec!["f0".to_string()]
    );
    // Downgrading to the fork point removes both branches.
    assert_eq!(
        down(&g, &["a2", "b1"], &rev("f0")).1,
        vec!["f0".to_string()]
    );
}

#[test]
fn merges_collapse_and_split_heads() {
    let g = forked();
    assert_eq!(
        up(&g, &["a2", "b1"], "+1"),
        (vec!["e1".into()], vec!["e1".into()])
    );
    assert_eq!(
        down(&g, &["e1"], "-1"),
        (vec!["e1".into()], vec!["a2".into(), "b1".into()])
    );
    assert_eq!(
        down(&g, &["e2"], "-2").1,
        vec!["a2".to_string(), "b1".to_string()]
    );
    let e = target_err(&g, &["e2"], "-3", Direction::Down);
    assert!(e.contains("several heads"), "{e}");
    // Relative targets across the merge: e2-1 is e1; e1-1 is ambiguous (a merge point).
    assert_eq!(
        down(&g, &["e2"], &format!("{}-1", rev("e2"))).1,
        vec!["e1".to_string()]
    );
    let e = target_err(&g, &["e2"], &format!("{}-2", rev("e2")), Direction::Down);
    assert!(e.contains("merge point"), "{e}");
    assert_eq!(
        up(&g, &["a1", "b1"], &format!("{}+2", rev("a1"))).1,
        vec!["e1".to_string()]
    );
    // Stamping the merge point records exactly it.
    let state = g
        .stamp_state(&g.empty_state(), &[Target::parse(&rev("e1")).unwrap()])
        .unwrap();
    assert_eq!(names(&g.heads_of(&state)), ["e1"]);
    let state = g.stamp_state(&state, &[Target::Relative(-1)]).unwrap();
    assert_eq!(names(&g.heads_of(&state)), ["a2", "b1"]);
    let state = g.stamp_state(&state, &[Target::Base]).unwrap();
    assert!(g.heads_of(&state).is_empty());
}

#[test]
fn depends_on_forces_order_without_merging() {
    // c1 on branch b depends on a2 on branch a.
    let g = graph(&[
        m("f0", &[]),
        m("a1", &["f0"]),
        m("a2", &["a1"]),
        m("b1", &["f0"]),
        Spec {
            name: "c1",
            parents: &["b1"],
            deps: &["a2"],
            labels: &[],
        },
    ]);
    let (steps, heads) = up(&g, &[], &rev("c1"));
    assert_eq!(heads, ["a2", "c1"]);
    let pos = |n: &str| steps.iter().position(|s| s == n).unwrap();
    assert!(pos("a2") < pos("c1") && pos("b1") < pos("c1"));
    // Only what c1 needs is applied; applying b1 alone does not drag a2 in.
    assert_eq!(up(&g, &[], &rev("b1")).0, ["f0", "b1"]);
    // Downgrading the dependency removes its dependent too.
    let (steps, heads) = down(&g, &["a2", "c1"], &rev("a1"));
    assert_eq!(steps, ["c1", "a2"]);
    assert_eq!(heads, ["a1", "b1"]);
    // With a2 and c1 applied, the only removable revision is c1.
    assert_eq!(down(&g, &["a2", "c1"], "-1").1, ["a2", "b1"]);
}

#[test]
fn target_names_resolve_by_id_prefix_and_label() {
    let g = graph(&[m("abc1", &[]), m("abc2", &["abc1"])]);
    let e = target_err(&g, &[], "abc", Direction::Up);
    assert!(e.contains("at least 4"), "{e}");
    let e = target_err(&g, &[], "abc0", Direction::Up);
    assert!(e.contains("no revision"), "{e}");
    let g = graph(&[m("abcd1", &[]), m("abcd2", &["abcd1"])]);
    let e = target_err(&g, &[], "abcd", Direction::Up);
    assert!(
        e.contains("ambiguous") && e.contains(&rev("abcd1")) && e.contains(&rev("abcd2")),
        "{e}"
    );
    assert_eq!(up(&g, &[], "abcd2").1, ["abcd2"]);
    let e = target_err(&g, &[], "nosuch@head", Direction::Up);
    assert!(e.contains("no revision or branch label"), "{e}");
}

#[test]
fn bad_graphs_are_named() {
    match graph_err(&[m("01", &[]), m("01", &[])]) {
        MigrateError::DuplicateRevision {
            revision,
            first,
            second,
        } => {
            assert_eq!(revision, rev("01"));
            assert_eq!(first.line, 1);
            assert_eq!(first.file, second.file);
        }
        other => panic!("{other:?}"),
    }
    match graph_err(&[m("01", &[]), m("02", &["09"])]) {
        MigrateError::MissingRevision {
            missing, at, kind, ..
        } => {
            assert_eq!(missing, rev("09"));
            assert_eq!(kind, "parent");
            assert_eq!(at.line, 2);
            assert!(at.file.to_string_lossy().contains(&rev("02")));
        }
        other => panic!("{other:?}"),
    }
    let e = graph_err(&[
        m("01", &["03"]),
        m("02", &["01"]),
        m("03", &["02"]),
        m("04", &[]),
    ]);
    match &e {
        MigrateError::Cycle { path, files } => {
            assert_eq!(path.len(), 4, "{path:?}");
            assert_eq!(path.first(), path.last());
            assert_eq!(files.len(), 3);
            let on: BTreeSet<&str> = path.iter().map(String::as_str).collect();
            assert_eq!(
                on,
                [rev("01"), rev("02"), rev("03")]
                    .iter()
                    .map(String::as_str)
                    .collect()
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(e.to_string().contains(" -> "));
    match graph_err(&[
        Spec {
            name: "01",
            parents: &[],
            deps: &[],
            labels: &["x"],
        },
        Spec {
            name: "02",
            parents: &["01"],
            deps: &[],
            labels: &["x"],
        },
    ]) {
        MigrateError::DuplicateLabel { label, .. } => assert_eq!(label, "x"),
        other => panic!("{other:?}"),
    }
    // A version-table row the files do not know.
    let g = graph(&[m("01", &[])]);
    assert!(matches!(
        g.state_from_heads(&[rev("0f")]),
        Err(MigrateError::UnknownApplied { .. })
    ));
}

// ---- property test against a naive model ----

#[derive(Debug, Clone)]
struct RandomDag {
    parents: Vec<Vec<usize>>,
    deps: Vec<Vec<usize>>,
}

fn dag() -> impl Strategy<Value = RandomDag> {
    (1usize..14).prop_flat_map(|n| {
        let per_node: Vec<_> = (0..n)
            .map(|i| {
                if i == 0 {
                    (Just(vec![]), Just(vec![])).boxed()
                } else {
                    (
                        proptest::sample::subsequence((0..i).collect::<Vec<_>>(), 0..=2.min(i)),
                        proptest::sample::subsequence((0..i).collect::<Vec<_>>(), 0..=1),
                    )
                        .boxed()
                }
            })
            .collect();
        per_node.prop_map(|v| {
            let (parents, deps): (Vec<_>, Vec<_>) = v.into_iter().unzip();
            // depends-on edges that duplicate parent edges are pointless; drop them.
            let deps = deps
                .into_iter()
                .zip(&parents)
                .map(|(d, p): (Vec<usize>, &Vec<usize>)| {
                    d.into_iter().filter(|x| !p.contains(x)).collect()
                })
                .collect();
            RandomDag { parents, deps }
        })
    })
}

fn name(i: usize) -> String {
    format!("{:012x}", 0xabc000 + i)
}

fn build(d: &RandomDag) -> RevisionGraph {
    let migrations = (0..d.parents.len())
        .map(|i| {
            let mut text = format!("-- retort:revision {}\n", name(i));
            if !d.parents[i].is_empty() {
                let p: Vec<String> = d.parents[i].iter().map(|&p| name(p)).collect();
                text.push_str(&format!("-- retort:parents {}\n", p.join(",")));
            }
            if !d.deps[i].is_empty() {
                let p: Vec<String> = d.deps[i].iter().map(|&p| name(p)).collect();
                text.push_str(&format!("-- retort:depends-on {}\n", p.join(" ")));
            }
            text.push_str("-- retort:up\nselect 1;\n-- retort:down\nselect 1;\n");
            Migration::parse(&text, &PathBuf::from(format!("m/{i}.sql"))).unwrap()
        })
        .collect();
    RevisionGraph::new(migrations).unwrap()
}

/// The model: closure by fixpoint, heads by definition.
fn model_closure(d: &RandomDag, start: &BTreeSet<usize>) -> BTreeSet<usize> {
    let mut s = start.clone();
    loop {
        let before = s.len();
        for i in s.clone() {
            s.extend(d.parents[i].iter().chain(&d.deps[i]));
        }
        if s.len() == before {
            return s;
        }
    }
}

fn model_heads(d: &RandomDag, s: &BTreeSet<usize>) -> Vec<String> {
    let mut h: Vec<String> = s
        .iter()
        .filter(|&&i| !s.iter().any(|&c| d.parents[c].contains(&i)))
        .map(|&i| name(i))
        .collect();
    h.sort();
    h
}

#[derive(Debug, Clone)]
enum Op {
    Up(usize),
    Down(usize),
    UpHeads,
    Base,
}

fn ops() -> impl Strategy<Value = Vec<Op>> {
    proptest::collection::vec(
        prop_oneof![
            (0usize..14).prop_map(Op::Up),
            (0usize..14).prop_map(Op::Down),
            Just(Op::UpHeads),
            Just(Op::Base),
        ],
        1..8,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]
    #[test]
    fn heads_match_the_model_and_up_then_down_returns(d in dag(), ops in ops()) {
        let g = build(&d);
        let n = d.parents.len();
        let mut model: BTreeSet<usize> = BTreeSet::new();
        let mut rows: Vec<String> = Vec::new();
        for op in ops {
            let state = g.state_from_heads(&rows).unwrap();
            let before = rows.clone();
            let plan = match op {
                Op::Up(i) => {
                    let i = i % n;
                    model = model_closure(&d, &model.union(&BTreeSet::from([i])).copied().collect());
                    g.plan_upgrade(&state, &Target::Named(name(i))).unwrap()
                }
                Op::UpHeads => {
                    model = model_closure(&d, &(0..n).collect());
                    g.plan_upgrade(&state, &Target::Heads).unwrap()
                }
                Op::Base => {
                    model.clear();
                    g.plan_downgrade(&state, &Target::Base).unwrap()
                }
                Op::Down(i) => {
                    let i = i % n;
                    if !model.contains(&i) {
                        prop_assert!(g.plan_downgrade(&state, &Target::Named(name(i))).is_err());
                        continue;
                    }
                    // Remove everything that (transitively) needs i, but not i.
                    let keep: BTreeSet<usize> = model
                        .iter()
                        .copied()
                        .filter(|&x| x == i || !model_closure(&d, &BTreeSet::from([x])).contains(&i))
                        .collect();
                    model = keep;
                    g.plan_downgrade(&state, &Target::Named(name(i))).unwrap()
                }
            };
            // Every step's parents/deps are applied before it (up) or its dependents gone (down).
            let mut table: BTreeSet<String> = before.iter().cloned().collect();
            for step in &plan.steps {
                for r in &step.remove_heads { prop_assert!(table.remove(r)); }
                for a in &step.add_heads { prop_assert!(table.insert(a.clone())); }
            }
            rows = table.into_iter().collect();
            prop_assert_eq!(&rows, &plan.to_heads);
            prop_assert_eq!(&rows, &model_heads(&d, &model));
            // Up from nothing, then down to base, returns to nothing, removing exactly what
            // was applied, each revision only after everything that needs it.
            if plan.direction == Direction::Up && before.is_empty() {
                let after = g.state_from_heads(&rows).unwrap();
                let back = g.plan_downgrade(&after, &Target::Base).unwrap();
                prop_assert!(back.to_heads.is_empty());
                let up_set: BTreeSet<&String> = plan.steps.iter().map(|s| &s.revision).collect();
                let down_set: BTreeSet<&String> = back.steps.iter().map(|s| &s.revision).collect();
                prop_assert_eq!(up_set, down_set);
                let mut alive: BTreeSet<usize> = model.clone();
                for step in &back.steps {
                    let i = (0..n).find(|&i| name(i) == step.revision).unwrap();
                    prop_assert!(!alive.iter().any(|&x| d.parents[x].contains(&i) || d.deps[x].contains(&i)));
                    alive.remove(&i);
                }
            }
        }
    }
}
