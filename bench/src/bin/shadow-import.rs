//! `retort shadow import` at scale: 100,000 users' bcrypt hashes (cost 4; $2a$, $2b$ and $2y$
//! prefixes) and 1% hashes in other formats, read from an application table and imported
//! through the store's admin function in batches. Floor: copying the same rows from table to
//! table inside the database, measured in the same run. Then a sample of imported users logs in
//! through the application role and must come out in scram-argon2 mode.
//!
//! cargo run --release -p retort-bench --bin shadow-import [-- USERS [SAMPLE]]

use std::time::{Duration, Instant};

use retort_cluster::Cluster;
use retort_shadow::blocking::ShadowStore;
use retort_shadow::import::{classify, import, SourceRow};
use retort_shadow::{InstallOptions, SecretString, Verdict};

/// Distinct passwords (and so bcrypt computations) the users share, cyclically.
const DISTINCT: usize = 1_000;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let users: usize = args
        .next()
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(100_000);
    let sample: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(200);
    let cluster = Cluster::builder().start()?;
    let url = cluster.create_database("import")?;
    let mut admin = retort_pg::connect(&retort_pg::ConnConfig::parse(&url)?)?;
    admin.batch_execute("CREATE ROLE app LOGIN")?;
    let mut opts = InstallOptions::new("app");
    opts.argon2 = retort_shadow::Argon2Params {
        m_kib: 1024,
        t: 1,
        p: 1,
    };
    retort_shadow::install(&mut admin, &opts)?;

    // The source: 1,000 bcrypt hashes of cost 4 shared round-robin, one in a hundred users with
    // a hash of another format.
    let t = Instant::now();
    admin.batch_execute(&format!(
        "CREATE TABLE hashes AS SELECT i, replace(crypt('pw' || i, gen_salt('bf', 4)), '$2a$',
                (ARRAY['$2a$', '$2b$', '$2y$'])[i % 3 + 1]) AS h
           FROM generate_series(0, {d}) i;
         CREATE TABLE legacy_users AS
         SELECT 'user' || u || '@example.com' AS email,
                CASE u % 100 WHEN 1 THEN '$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA'
                             WHEN 2 THEN 'pbkdf2_sha256$600000$salt$hash='
                             WHEN 3 THEN '$6$salt$hash'
                             WHEN 4 THEN NULL
                             ELSE (SELECT h FROM hashes WHERE i = u % {d}) END AS digest
           FROM generate_series(1, {users}) u;
         ANALYZE legacy_users;",
        d = DISTINCT - 1
    ))?;
    let setup = t.elapsed();

    // Floor: the same rows copied from table to table by the server alone.
    let t = Instant::now();
    admin.batch_execute(
        "CREATE TABLE copied (username text PRIMARY KEY, hash text);
         INSERT INTO copied SELECT email, digest FROM legacy_users WHERE digest LIKE '$2%';",
    )?;
    let floor = t.elapsed();

    // retort: read, classify, import (what `retort shadow import --query` does).
    let t = Instant::now();
    let rows: Vec<SourceRow> = admin
        .query("SELECT email, digest FROM legacy_users", &[])?
        .iter()
        .enumerate()
        .map(|(i, r)| SourceRow {
            at: i + 1,
            user: r.get(0),
            hash: r.get(1),
        })
        .collect();
    let plan = classify(rows);
    let read = t.elapsed();
    let store = ShadowStore::new("shadow");
    let skipped = import(&mut admin, &store, &plan, |_| {})?;
    let took = t.elapsed();
    let imported = plan.names.len() - skipped.len();
    let in_store: i64 = admin
        .query_one("SELECT count(*) FROM shadow.passwords", &[])?
        .get(0);
    assert_eq!(in_store as usize, imported);

    // A sample logs in as the application, is re-keyed, and is then in scram-argon2 mode.
    let app_url = format!("{url}&user=app");
    let mut app = retort_pg::connect(&retort_pg::ConnConfig::parse(&app_url)?)?;
    let step = (plan.names.len() / sample.max(1)).max(1);
    let mut logins = Vec::new();
    for name in plan.names.iter().step_by(step).take(sample) {
        let u: usize = name
            .trim_start_matches("user")
            .trim_end_matches("@example.com")
            .parse()?;
        let password = SecretString::from(format!("pw{}", u % (DISTINCT - 1)));
        let t = Instant::now();
        let o = store.verify_outcome(&mut app, name, &password)?;
        logins.push(t.elapsed());
        assert_eq!((o.verdict, o.rehashed), (Verdict::Ok, true), "{name}");
        let algorithm: String = admin
            .query_one(
                "SELECT algorithm FROM shadow.passwords WHERE username = $1",
                &[name],
            )?
            .get(0);
        assert_eq!(algorithm, "scram-argon2", "{name}");
    }
    logins.sort();
    let ms = |d: Duration| format!("{:.0} ms", d.as_secs_f64() * 1000.0);
    println!(
        "source: {users} users, {DISTINCT} distinct bcrypt hashes of cost 4 ($2a$/$2b$/$2y$), built in {}",
        ms(setup)
    );
    println!(
        "import: {imported} bcrypt hashes in {} ({:.0} rows/s, batches of {}); floor (INSERT ... SELECT of the same rows in the server): {}; ratio {:.2}x",
        ms(took),
        imported as f64 / took.as_secs_f64(),
        retort_shadow::import::IMPORT_BATCH,
        ms(floor),
        took.as_secs_f64() / floor.as_secs_f64()
    );
    println!(
        "  of which reading and classifying the source: {}, import_bcrypt calls: {}",
        ms(read),
        ms(took - read)
    );
    println!(
        "refused by format: {}",
        plan.refused_by_reason()
            .iter()
            .map(|(f, n)| format!("{n} x {f}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "{} sampled users logged in through the app role and moved to scram-argon2: {}/{} (login + re-key p50 {}, p99 {})",
        logins.len(),
        logins.len(),
        logins.len(),
        ms(logins[logins.len() / 2]),
        ms(retort_bench::percentile(&logins, 0.99))
    );
    Ok(())
}
