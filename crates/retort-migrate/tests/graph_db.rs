//! Property test on a real database: random revision graphs, random targets; the version table
//! always holds the graph's heads, the schema holds exactly the applied migrations, and
//! upgrading then downgrading to base leaves nothing behind.

mod support;

use std::collections::BTreeSet;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use retort_migrate::{MigrationRunner, RunnerOptions, Silent, Target};
use support::{cluster, database, tables, version_rows, Files};

fn name(i: usize) -> String {
    format!("{:012x}", 0xfeed00 + i)
}

#[derive(Debug, Clone)]
enum Op {
    Up(usize),
    Down(usize),
    Heads,
    Base,
    Relative(i64),
}

#[test]
fn random_graphs_and_targets_on_a_real_database() {
    let c = cluster();
    let mut runner = TestRunner::new(Config {
        cases: 24,
        failure_persistence: None,
        ..Config::default()
    });
    let dag = (1usize..9).prop_flat_map(|n| {
        let nodes: Vec<_> = (0..n)
            .map(|i| {
                let earlier: Vec<usize> = (0..i).collect();
                (
                    proptest::sample::subsequence(earlier.clone(), 0..=2.min(i)),
                    proptest::sample::subsequence(earlier, 0..=1.min(i)),
                )
            })
            .collect();
        nodes
    });
    let ops = proptest::collection::vec(
        prop_oneof![
            (0usize..9).prop_map(Op::Up),
            (0usize..9).prop_map(Op::Down),
            Just(Op::Heads),
            Just(Op::Base),
            (-2i64..=2)
                .prop_filter("nonzero", |n| *n != 0)
                .prop_map(Op::Relative),
        ],
        1..7,
    );
    let case = std::sync::atomic::AtomicUsize::new(0);
    runner
        .run(&(dag, ops), |(nodes, ops)| {
            let case = case.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let n = nodes.len();
            let parents: Vec<Vec<usize>> = nodes.iter().map(|(p, _)| p.clone()).collect();
            let deps: Vec<Vec<usize>> = nodes
                .iter()
                .map(|(p, d)| d.iter().copied().filter(|x| !p.contains(x)).collect())
                .collect();
            let files = Files::new();
            for i in 0..n {
                let p: Vec<String> = parents[i].iter().map(|&p| name(p)).collect();
                let p: Vec<&str> = p.iter().map(String::as_str).collect();
                let extra = if deps[i].is_empty() {
                    String::new()
                } else {
                    let d: Vec<String> = deps[i].iter().map(|&d| name(d)).collect();
                    format!("-- retort:depends-on {}\n", d.join(" "))
                };
                files.add_with(
                    &name(i),
                    &p,
                    &extra,
                    &format!("CREATE TABLE t_{} (id int);", name(i)),
                    Some(&format!("DROP TABLE t_{};", name(i))),
                );
            }
            let graph = files.graph();
            let (_, mut client) = database(&c, &format!("prop{case}"));
            let closure = |start: BTreeSet<usize>| {
                let mut s = start;
                loop {
                    let before = s.len();
                    for i in s.clone() {
                        s.extend(parents[i].iter().chain(&deps[i]));
                    }
                    if s.len() == before {
                        return s;
                    }
                }
            };
            let mut model: BTreeSet<usize> = BTreeSet::new();
            for op in ops {
                let target = match op {
                    Op::Up(i) => Target::Named(name(i % n)),
                    Op::Down(i) => Target::Named(name(i % n)),
                    Op::Heads => Target::Heads,
                    Op::Base => Target::Base,
                    Op::Relative(k) => Target::Relative(k),
                };
                let mut silent = Silent;
                let mut r = MigrationRunner::new(
                    &mut client,
                    &graph,
                    RunnerOptions::default(),
                    &mut silent,
                );
                let result = match op {
                    Op::Up(_) | Op::Heads => r.upgrade(&target),
                    Op::Relative(k) if k > 0 => r.upgrade(&target),
                    _ => r.downgrade(&target),
                };
                match (&op, result) {
                    (Op::Up(i), Ok(_)) => {
                        let mut s = model.clone();
                        s.insert(i % n);
                        model = closure(s);
                    }
                    (Op::Heads, Ok(_)) => model = closure((0..n).collect()),
                    (Op::Base, Ok(_)) => model.clear(),
                    (Op::Down(i), Ok(_)) => {
                        let i = i % n;
                        prop_assert!(model.contains(&i));
                        model = model
                            .iter()
                            .copied()
                            .filter(|&x| x == i || !closure(BTreeSet::from([x])).contains(&i))
                            .collect();
                    }
                    (Op::Down(i), Err(e)) => {
                        prop_assert!(!model.contains(&(i % n)), "{e}");
                    }
                    (Op::Relative(_), Ok(report)) => {
                        for step in &report.plan.steps {
                            let i = (0..n).find(|&i| name(i) == step.revision).unwrap();
                            if report.plan.direction == retort_migrate::Direction::Up {
                                model.insert(i);
                            } else {
                                model.remove(&i);
                            }
                        }
                    }
                    // Ambiguous or out-of-range relative targets are errors that change nothing.
                    (Op::Relative(_), Err(e)) => {
                        prop_assert!(matches!(e, retort_migrate::MigrateError::Target(_)), "{e}");
                    }
                    (op, Err(e)) => return Err(TestCaseError::fail(format!("{op:?}: {e}"))),
                }
                prop_assert_eq!(closure(model.clone()), model.clone());
                let heads: Vec<String> = model
                    .iter()
                    .filter(|&&i| !model.iter().any(|&c| parents[c].contains(&i)))
                    .map(|&i| name(i))
                    .collect();
                prop_assert_eq!(version_rows(&mut client), heads);
                let expected: Vec<String> =
                    model.iter().map(|&i| format!("t_{}", name(i))).collect();
                prop_assert_eq!(tables(&mut client), expected);
            }
            MigrationRunner::new(&mut client, &graph, RunnerOptions::default(), &mut Silent)
                .downgrade(&Target::Base)
                .unwrap();
            prop_assert!(tables(&mut client).is_empty());
            prop_assert!(version_rows(&mut client).is_empty());
            Ok(())
        })
        .unwrap();
}
