//! The corpora kept outside the repository (`RETORT_CORPUS_DIR`, default `../shared/corpus`):
//! real projects' schemas in three directions, and a fixed sample of PostgreSQL's regression
//! suite (empty to final, final to empty, every tenth transition both ways), each by the corpus
//! rule of [`retort_difftest::check_psql`]. Where the corpus is absent the tests say so and
//! pass; CI always has it. `bench --bin regress` runs every case.
//!
//! A case that needs an extension this machine does not have is skipped, by name. The cases
//! retort is known to fail are listed with the reason; a listed case that passes fails the test
//! too, so the list only ever shrinks.

use retort_difftest::external::{corpus_dir, real_cases, regress, regress_sample};
use retort_difftest::{check_psql, on_threads, Harness};

/// Regression-suite cases of the sample retort cannot pass yet, and why.
const KNOWN_REGRESS: &[(&str, &str)] = &[
    ("empty->final", "an access method over a built-in handler (heap2) is not modelled"),
    ("final->empty", "an access method over a built-in handler (heap2) is not modelled"),
    ("071_create_cast a->b", "a base type over its own I/O functions is not modelled"),
    ("071_create_cast b->a", "a base type over its own I/O functions is not modelled"),
    ("081_create_am a->b", "an access method over a built-in handler is not modelled"),
    ("081_create_am b->a", "an access method over a built-in handler is not modelled"),
    ("111_init_privs a->b", "grants on pg_catalog objects that differ from their initial privileges are not modelled"),
    ("111_init_privs b->a", "grants on pg_catalog objects that differ from their initial privileges are not modelled"),
    ("171_equivclass a->b", "a base type over its own I/O functions is not modelled"),
    ("171_equivclass b->a", "a base type over its own I/O functions is not modelled"),
    ("181_copy2 b->a", "a function over a table's row type that a CHECK of that table calls is dropped before the table"),
];

/// Real-project cases retort cannot pass yet, and why.
const KNOWN_REAL: &[(&str, &str)] = &[];

/// Runs `cases` and compares the failures with `known`; returns the report of what differs.
fn run(h: &Harness, cases: &[(String, String, String)], known: &[(&str, &str)]) -> Vec<String> {
    let results = on_threads(cases, 2, |(name, from, to)| match check_psql(h, from, to) {
        Ok(_) => vec![format!("ok\t{name}")],
        Err(e) if e.contains("is not available") && e.contains("extension") => {
            vec![format!(
                "skip\t{name}\t{}",
                e.lines().next().unwrap_or_default()
            )]
        }
        Err(e) => vec![format!(
            "fail\t{name}\t{}",
            e.lines().take(8).collect::<Vec<_>>().join("\n    ")
        )],
    });
    let mut report = Vec::new();
    for r in &results {
        let mut parts = r.splitn(3, '\t');
        let (status, name) = (parts.next().unwrap(), parts.next().unwrap());
        let listed = known.iter().any(|(k, _)| *k == name);
        match status {
            "skip" => eprintln!("skipped {name}: {}", parts.next().unwrap_or_default()),
            "fail" if !listed => report.push(format!(
                "FAILED {name}: {}",
                parts.next().unwrap_or_default()
            )),
            "ok" if listed => report.push(format!("{name} passes now: take it off the known list")),
            _ => {}
        }
    }
    let passed = results.iter().filter(|r| r.starts_with("ok\t")).count();
    eprintln!("{passed} of {} passed", results.len());
    report
}

#[test]
fn real_projects_schemas_round_trip_in_three_directions() {
    let Some(dir) = corpus_dir() else {
        eprintln!("skipped: no corpus (set RETORT_CORPUS_DIR; default ../shared/corpus)");
        return;
    };
    let real = real_cases(&dir);
    assert!(!real.is_empty(), "{} has no real/ cases", dir.display());
    let mut cases = Vec::new();
    for c in &real {
        cases.push((format!("{} a->b", c.name), c.a.clone(), c.b.clone()));
        cases.push((format!("{} b->a", c.name), c.b.clone(), c.a.clone()));
        cases.push((format!("{} empty->b", c.name), String::new(), c.b.clone()));
    }
    let h = Harness::start();
    let report = run(&h, &cases, KNOWN_REAL);
    assert!(report.is_empty(), "{}", report.join("\n\n"));
}

#[test]
fn a_sample_of_postgresqls_regression_suite_round_trips() {
    let Some(dir) = corpus_dir() else {
        eprintln!("skipped: no corpus (set RETORT_CORPUS_DIR; default ../shared/corpus)");
        return;
    };
    let h = Harness::start();
    let r = regress(&h, &dir, &|_| {}).expect("the regression suite's transitions");
    assert!(
        r.transitions.len() > 100,
        "{} transitions",
        r.transitions.len()
    );
    r.create_roles(&h).unwrap();
    let report = run(&h, &regress_sample(&r), KNOWN_REGRESS);
    assert!(report.is_empty(), "{}", report.join("\n\n"));
}
