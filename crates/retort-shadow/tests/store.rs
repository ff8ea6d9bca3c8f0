//! The store on real PostgreSQL: what the application role can and cannot do, attacks on
//! search_path, lockout under concurrency, logs, rehashing and the audit.

use std::time::Duration;

mod support;

use postgres::Client;
use retort_cluster::Cluster;
use retort_pg::ConnConfig;
use retort_shadow::blocking::ShadowStore;
use retort_shadow::{audit, install, Mode, ShadowError, Verdict};
use support::{options, pw, setup, setup_with, sqlstate};

fn app_role_is_kept_out_and_can_set_and_verify(mode: Mode) {
    let s = setup(mode);
    let mut app = s.app();
    for table in ["passwords", "settings", "nonces"] {
        let t = format!("shadow.{table}");
        assert_eq!(
            sqlstate(app.query(&format!("SELECT * FROM {t}"), &[])),
            "42501",
            "{t}"
        );
        assert_eq!(
            sqlstate(
                app.execute(&format!("UPDATE {t} SET username = username"), &[])
                    .or_else(|_| app.execute(&format!("DELETE FROM {t}"), &[]))
            ),
            "42501",
            "{t}"
        );
        assert_eq!(
            sqlstate(app.copy_out(&format!("COPY {t} TO STDOUT")).map(|_| ())),
            "42501"
        );
    }
    // The internal bookkeeping function is not callable either (it would reset lockouts).
    assert_eq!(
        sqlstate(app.query("SELECT shadow.record_attempt('alice', true)", &[])),
        "42501"
    );

    let store = &s.store;
    let names = [
        "alice",
        "Zoë 🦀",
        "o'brien\"; DROP TABLE shadow.passwords; --",
        "x' OR '1'='1",
        "名前",
    ];
    for (i, name) in names.iter().enumerate() {
        let right = pw(&format!("correct horse {i} ✓"));
        assert!(store.enrol(&mut app, name, &right).unwrap());
        assert_eq!(
            store.verify(&mut app, name, &right).unwrap(),
            Verdict::Ok,
            "{name}"
        );
        assert_eq!(
            store.verify(&mut app, name, &pw("nope")).unwrap(),
            Verdict::Bad,
            "{name}"
        );
    }
    // An injection-looking name is just a name: it does not match anyone else.
    assert_eq!(
        store
            .verify(&mut app, "alice' --", &pw("correct horse 0 ✓"))
            .unwrap(),
        Verdict::Bad
    );
    assert_eq!(
        store.verify(&mut app, "nobody", &pw("x")).unwrap(),
        Verdict::Bad
    );
    let count: i64 = s
        .connect_as("postgres")
        .query_one("SELECT count(*) FROM shadow.passwords", &[])
        .unwrap()
        .get(0);
    assert_eq!(count, names.len() as i64);
    let mode_of: String = s
        .connect_as("postgres")
        .query_one("SELECT DISTINCT algorithm FROM shadow.passwords", &[])
        .unwrap()
        .get(0);
    assert_eq!(mode_of, mode.as_str());

    // Enrolling an existing user changes nothing; a change needs the current password.
    assert!(!store.enrol(&mut app, "alice", &pw("taken over")).unwrap());
    assert_eq!(
        store.verify(&mut app, "alice", &pw("taken over")).unwrap(),
        Verdict::Bad
    );
    assert_eq!(
        store
            .change_password(&mut app, "alice", &pw("not it"), &pw("second"))
            .unwrap(),
        Verdict::Bad
    );
    assert_eq!(
        store
            .change_password(&mut app, "alice", &pw("correct horse 0 ✓"), &pw("second"))
            .unwrap(),
        Verdict::Ok
    );
    assert_eq!(
        store
            .verify(&mut app, "alice", &pw("correct horse 0 ✓"))
            .unwrap(),
        Verdict::Bad
    );
    // Deleting is the admin's.
    let mut app2 = s.app();
    assert_eq!(
        sqlstate(app2.query("SELECT shadow.delete('alice')", &[])),
        "42501"
    );
    let mut app = s.operator();
    assert_eq!(
        store.verify(&mut app, "alice", &pw("second")).unwrap(),
        Verdict::Ok
    );
    assert!(store.delete(&mut app, "alice").unwrap());
    assert!(!store.delete(&mut app, "alice").unwrap());
    assert_eq!(
        store.verify(&mut app, "alice", &pw("second")).unwrap(),
        Verdict::Bad
    );
    drop(s.admin);
}

#[test]
fn scram_app_role_is_kept_out_and_can_enrol_change_and_verify() {
    app_role_is_kept_out_and_can_set_and_verify(Mode::ScramArgon2);
}

#[test]
fn bcrypt_app_role_is_kept_out_and_can_enrol_change_and_verify() {
    app_role_is_kept_out_and_can_set_and_verify(Mode::Bcrypt);
}

#[test]
fn bcrypt_refuses_passwords_over_72_bytes_on_both_sides() {
    let s = setup(Mode::Bcrypt);
    let mut app = s.app();
    let long = "é".repeat(37); // 74 bytes, 37 characters
    let err = s.store.enrol(&mut app, "bob", &pw(&long)).unwrap_err();
    assert!(
        matches!(err, ShadowError::PasswordTooLong { len: 74 }),
        "{err}"
    );
    assert!(err.hint().unwrap().contains("scram-argon2"));
    // The database refuses it too, for callers that skip the client.
    let e = app
        .query("SELECT shadow.enrol_bcrypt('bob', $1)", &[&long])
        .unwrap_err();
    assert_eq!(e.code().unwrap().code(), "22023");
    assert!(e.as_db_error().unwrap().message().contains("72"));
    // Exactly 72 bytes is fine.
    let ok = "a".repeat(72);
    assert!(s.store.enrol(&mut app, "bob", &pw(&ok)).unwrap());
    assert_eq!(
        s.store.verify(&mut app, "bob", &pw(&ok)).unwrap(),
        Verdict::Ok
    );
    assert_eq!(
        s.store
            .verify(&mut app, "bob", &pw(&format!("{ok}x")))
            .unwrap(),
        Verdict::Bad
    );
}

/// The app role plants look-alikes of everything the store calls, in its own schema and in
/// pg_temp, puts them first on search_path, and they log every call. None is ever called.
fn search_path_attacks_fail(mode: Mode) {
    let s = setup(mode);
    let mut admin = s.connect_as("postgres");
    admin
        .batch_execute(
            "CREATE SCHEMA evil AUTHORIZATION app; GRANT USAGE, CREATE ON SCHEMA evil TO PUBLIC;",
        )
        .unwrap();
    let mut app = s.app();
    app.batch_execute(
        "CREATE TABLE evil.calls (what text);
         GRANT INSERT, SELECT ON evil.calls TO PUBLIC;
         CREATE FUNCTION evil.crypt(text, text) RETURNS text LANGUAGE plpgsql AS
           $$BEGIN INSERT INTO evil.calls VALUES ('crypt ' || $1); RETURN $2; END$$;
         CREATE FUNCTION evil.gen_salt(text, integer) RETURNS text LANGUAGE plpgsql AS
           $$BEGIN INSERT INTO evil.calls VALUES ('gen_salt'); RETURN '$2a$04$abcdefghijklmnopqrstuu'; END$$;
         CREATE FUNCTION evil.digest(bytea, text) RETURNS bytea LANGUAGE plpgsql AS
           $$BEGIN INSERT INTO evil.calls VALUES ('digest'); RETURN $1; END$$;
         CREATE FUNCTION evil.hmac(bytea, bytea, text) RETURNS bytea LANGUAGE plpgsql AS
           $$BEGIN INSERT INTO evil.calls VALUES ('hmac'); RETURN $1; END$$;
         CREATE FUNCTION evil.gen_random_bytes(integer) RETURNS bytea LANGUAGE plpgsql AS
           $$BEGIN INSERT INTO evil.calls VALUES ('random'); RETURN '\\x00'::bytea; END$$;
         CREATE FUNCTION evil.yes(bytea, bytea) RETURNS boolean LANGUAGE plpgsql AS
           $$BEGIN INSERT INTO evil.calls VALUES ('= bytea'); RETURN true; END$$;
         CREATE FUNCTION evil.yes(text, text) RETURNS boolean LANGUAGE plpgsql AS
           $$BEGIN INSERT INTO evil.calls VALUES ('= text'); RETURN true; END$$;
         CREATE FUNCTION evil.now() RETURNS timestamptz LANGUAGE plpgsql AS
           $$BEGIN INSERT INTO evil.calls VALUES ('now'); RETURN 'epoch'; END$$;
         CREATE OPERATOR evil.= (LEFTARG = bytea, RIGHTARG = bytea, FUNCTION = evil.yes);
         CREATE OPERATOR evil.= (LEFTARG = text, RIGHTARG = text, FUNCTION = evil.yes);
         CREATE FUNCTION pg_temp.crypt(text, text) RETURNS text LANGUAGE plpgsql AS
           $$BEGIN INSERT INTO evil.calls VALUES ('temp crypt'); RETURN $2; END$$;
         CREATE FUNCTION pg_temp.digest(bytea, text) RETURNS bytea LANGUAGE plpgsql AS
           $$BEGIN INSERT INTO evil.calls VALUES ('temp digest'); RETURN $1; END$$;
         CREATE FUNCTION pg_temp.hmac(bytea, bytea, text) RETURNS bytea LANGUAGE plpgsql AS
           $$BEGIN INSERT INTO evil.calls VALUES ('temp hmac'); RETURN $1; END$$;
         SET search_path = evil, pg_temp, public, pg_catalog;",
    )
    .unwrap();
    // The attacker's operator really is preferred in the attacker's own session.
    let hijacked: bool = app
        .query_one("SELECT '\\x01'::bytea = '\\x02'::bytea", &[])
        .unwrap()
        .get(0);
    assert!(
        hijacked,
        "the planted operator should win in the app's own queries"
    );
    app.batch_execute("DELETE FROM evil.calls").unwrap();

    assert!(s.store.enrol(&mut app, "carol", &pw("right")).unwrap());
    assert_eq!(
        s.store.verify(&mut app, "carol", &pw("right")).unwrap(),
        Verdict::Ok
    );
    assert_eq!(
        s.store
            .change_password(&mut app, "carol", &pw("right"), &pw("righter"))
            .unwrap(),
        Verdict::Ok
    );
    assert_eq!(
        s.store.verify(&mut app, "carol", &pw("righter")).unwrap(),
        Verdict::Ok
    );
    assert_eq!(
        s.store.verify(&mut app, "carol", &pw("wrong")).unwrap(),
        Verdict::Bad
    );
    assert_eq!(
        s.store.verify(&mut app, "dave", &pw("wrong")).unwrap(),
        Verdict::Bad
    );
    let calls: Vec<String> = app
        .query("SELECT what FROM evil.calls", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(
        calls.is_empty(),
        "the store called the attacker's functions: {calls:?}"
    );
}

#[test]
fn scram_search_path_attacks_fail() {
    search_path_attacks_fail(Mode::ScramArgon2);
}

#[test]
fn bcrypt_search_path_attacks_fail() {
    search_path_attacks_fail(Mode::Bcrypt);
}

#[test]
fn lockout_holds_under_64_concurrent_wrong_passwords() {
    let s = setup(Mode::ScramArgon2);
    let mut app = s.app();
    assert!(s.store.enrol(&mut app, "erin", &pw("right")).unwrap());
    let conn = s.conn_string("app");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let verdicts: Vec<Verdict> = rt.block_on(async move {
        let store = retort_shadow::nonblocking::ShadowStore::new("shadow");
        let mut tasks = Vec::new();
        for _ in 0..64 {
            let (client, connection) = tokio_postgres::connect(&conn, tokio_postgres::NoTls)
                .await
                .unwrap();
            tokio::spawn(connection);
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                store.verify(&client, "erin", &pw("wrong")).await.unwrap()
            }));
        }
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await.unwrap());
        }
        out
    });
    let bad = verdicts.iter().filter(|v| **v == Verdict::Bad).count();
    let locked = verdicts.iter().filter(|v| **v == Verdict::Locked).count();
    assert_eq!((bad, locked), (5, 59), "{verdicts:?}");
    // Locked means locked: the right password does not get in until unlocked.
    assert_eq!(
        s.store.verify(&mut app, "erin", &pw("right")).unwrap(),
        Verdict::Locked
    );
    // The app cannot reset the counter or lift the lock: not by unlock, not by enrolling again,
    // not by a change (the lock refuses it), not by a token it does not have.
    assert_eq!(
        sqlstate(app.query("SELECT shadow.unlock('erin')", &[])),
        "42501"
    );
    assert!(!s.store.enrol(&mut app, "erin", &pw("mine now")).unwrap());
    assert_eq!(
        s.store
            .change_password(&mut app, "erin", &pw("right"), &pw("mine now"))
            .unwrap(),
        Verdict::Locked
    );
    assert!(!s
        .store
        .reset_password(&mut app, "erin", &pw("00"), &pw("mine now"))
        .unwrap());
    let mut op = s.operator();
    assert!(s.store.unlock(&mut op, "erin").unwrap());
    assert_eq!(
        s.store.verify(&mut app, "erin", &pw("right")).unwrap(),
        Verdict::Ok
    );
    // A hand lock, and an unknown user's lock request.
    assert!(s.store.lock(&mut op, "erin", None).unwrap());
    assert!(!s.store.lock(&mut op, "nobody", None).unwrap());
    assert_eq!(
        s.store.verify(&mut app, "erin", &pw("right")).unwrap(),
        Verdict::Locked
    );
    // A successful login resets the failure count.
    s.store.unlock(&mut op, "erin").unwrap();
    for _ in 0..4 {
        assert_eq!(
            s.store.verify(&mut app, "erin", &pw("wrong")).unwrap(),
            Verdict::Bad
        );
    }
    assert_eq!(
        s.store.verify(&mut app, "erin", &pw("right")).unwrap(),
        Verdict::Ok
    );
    assert_eq!(
        s.store.verify(&mut app, "erin", &pw("wrong")).unwrap(),
        Verdict::Bad
    );
    assert_eq!(
        s.store.verify(&mut app, "erin", &pw("right")).unwrap(),
        Verdict::Ok
    );
}

/// Extracts `$n = '...'` parameter values from a `DETAIL:  parameters:` log line.
fn logged_parameters(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = line;
    while let Some(at) = rest.find(" = '") {
        let after = &rest[at + 4..];
        let end = after.find('\'').unwrap();
        out.push(after[..end].to_owned());
        rest = &after[end..];
    }
    out
}

#[test]
fn with_log_statement_all_no_password_is_logged_and_a_logged_login_cannot_be_replayed() {
    let cluster = Cluster::builder()
        .setting("log_statement", "'all'")
        .start()
        .unwrap();
    let s = setup_with(Mode::ScramArgon2, cluster, |_| {});
    let mut app = s.app();
    let secret = "Tr0ub4dor&3-unique-marker";
    assert!(s.store.enrol(&mut app, "frank", &pw(secret)).unwrap());
    assert_eq!(
        s.store.verify(&mut app, "frank", &pw(secret)).unwrap(),
        Verdict::Ok
    );
    assert_eq!(
        s.store
            .verify(&mut app, "frank", &pw("wrong-marker"))
            .unwrap(),
        Verdict::Bad
    );
    let log_path = s.cluster.nodes()[0].log_file().to_owned();
    let mut log = String::new();
    let seen = retort_cluster::wait_for(Duration::from_secs(10), || {
        log = std::fs::read_to_string(&log_path).unwrap_or_default();
        log.matches("finish_login").count() >= 2
    });
    assert!(seen, "the server log shows no finish_login calls:\n{log}");
    assert!(!log.contains(secret), "the password is in the server log");
    assert!(!log.contains("wrong-marker"));

    // Replay the first logged finish_login call exactly: it fails (its nonce is consumed).
    let lines: Vec<&str> = log.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.contains("finish_login($1"))
        .expect("a logged finish_login call");
    let detail = lines[at + 1..]
        .iter()
        .find(|l| l.contains("parameters:"))
        .expect("logged parameters");
    let p = logged_parameters(detail);
    assert_eq!(p.len(), 4, "{detail}");
    assert_eq!(p[0], "frank");
    let row = app
        .query_one(
            "SELECT verdict, server_signature FROM shadow.finish_login($1, decode($2, 'hex'), decode($3, 'hex'), decode($4, 'hex'))",
            &[&p[0], &p[1].trim_start_matches("\\x"), &p[2].trim_start_matches("\\x"), &p[3].trim_start_matches("\\x")],
        )
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "bad");
    assert_eq!(row.get::<_, Option<Vec<u8>>>(1), None);
}

#[test]
fn unknown_users_look_like_known_ones() {
    let s = setup(Mode::ScramArgon2);
    let mut app = s.app();
    assert!(s.store.enrol(&mut app, "gina", &pw("pw")).unwrap());
    let begin = |app: &mut Client, user: &str| -> (String, Vec<u8>, i32, Vec<u8>) {
        let r = app
            .query_one(
                "SELECT algorithm, salt, argon2_t, server_nonce FROM shadow.begin_login($1)",
                &[&user],
            )
            .unwrap();
        (r.get(0), r.get(1), r.get(2), r.get(3))
    };
    let known = begin(&mut app, "gina");
    let ghost1 = begin(&mut app, "ghost");
    let ghost2 = begin(&mut app, "ghost");
    let other = begin(&mut app, "phantom");
    assert_eq!(known.0, ghost1.0);
    assert_eq!(known.1.len(), ghost1.1.len());
    assert_eq!(known.2, ghost1.2);
    assert_eq!(
        ghost1.1, ghost2.1,
        "the same unknown name gets the same salt"
    );
    assert_ne!(ghost1.1, other.1);
    assert_ne!(ghost1.3, ghost2.3, "nonces are fresh");
}

#[test]
fn weaker_verifiers_are_upgraded_on_login_and_modes_can_change() {
    let s = setup(Mode::Bcrypt);
    let mut app = s.app();
    let mut admin = s.connect_as("postgres");
    assert!(s
        .store
        .enrol(&mut app, "hal", &pw("open the pod bay doors"))
        .unwrap());
    // The policy moves to scram-argon2: the next good login re-keys the user.
    admin
        .batch_execute("UPDATE shadow.settings SET mode = 'scram-argon2'")
        .unwrap();
    let o = s
        .store
        .verify_outcome(&mut app, "hal", &pw("open the pod bay doors"))
        .unwrap();
    assert_eq!((o.verdict, o.rehashed), (Verdict::Ok, true));
    let alg: String = admin
        .query_one(
            "SELECT algorithm FROM shadow.passwords WHERE username = 'hal'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(alg, "scram-argon2");
    // A stronger argon2 policy: the next good login upgrades, the one after has nothing to do.
    admin
        .batch_execute("UPDATE shadow.settings SET argon2_t = 2")
        .unwrap();
    let needs: bool = app
        .query_one("SELECT shadow.needs_rehash('hal')", &[])
        .unwrap()
        .get(0);
    assert!(needs);
    let wrong = s
        .store
        .verify_outcome(&mut app, "hal", &pw("nope"))
        .unwrap();
    assert_eq!((wrong.verdict, wrong.rehashed), (Verdict::Bad, false));
    let o = s
        .store
        .verify_outcome(&mut app, "hal", &pw("open the pod bay doors"))
        .unwrap();
    assert_eq!((o.verdict, o.rehashed), (Verdict::Ok, true));
    let o = s
        .store
        .verify_outcome(&mut app, "hal", &pw("open the pod bay doors"))
        .unwrap();
    assert_eq!((o.verdict, o.rehashed), (Verdict::Ok, false));
    let t: i32 = admin
        .query_one(
            "SELECT argon2_t FROM shadow.passwords WHERE username = 'hal'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(t, 2);
    // The store refuses a verifier weaker than its policy.
    let e = app
        .query(
            "SELECT shadow.enrol_scram('hal2', $1, 256, 1, 1, $2, $2)",
            &[&vec![0u8; 16], &vec![0u8; 32]],
        )
        .unwrap_err();
    assert_eq!(e.code().unwrap().code(), "22023");
}

#[test]
fn a_store_that_cannot_prove_the_server_key_is_an_error_and_a_missing_store_is_named() {
    let s = setup(Mode::ScramArgon2);
    let mut app = s.app();
    assert!(s.store.enrol(&mut app, "ivan", &pw("pw")).unwrap());
    s.connect_as("postgres")
        .batch_execute(
            // Flip every bit of the first byte (overwriting it with a constant left the key
            // unchanged whenever the byte already was that constant: 1 run in 256).
            "UPDATE shadow.passwords SET server_key = set_byte(server_key, 0, get_byte(server_key, 0) # 255)",
        )
        .unwrap();
    let err = s.store.verify(&mut app, "ivan", &pw("pw")).unwrap_err();
    assert!(matches!(err, ShadowError::ServerSignature), "{err}");

    let err = ShadowStore::new("elsewhere")
        .verify(&mut app, "ivan", &pw("pw"))
        .unwrap_err();
    assert!(matches!(err, ShadowError::NotInstalled { .. }), "{err}");
    assert!(err.hint().unwrap().contains("retort shadow install"));
}

fn codes(report: &retort_shadow::AuditReport) -> Vec<&'static str> {
    report.findings.iter().map(|f| f.code).collect()
}

#[test]
fn audit_passes_a_fresh_store_and_names_each_weakness() {
    let s = setup(Mode::ScramArgon2);
    let mut admin = s.connect_as("postgres");
    let report = audit(&mut admin, "shadow", "app", "shadow_admin").unwrap();
    assert!(report.passed(), "{:?}", report.findings);
    assert_eq!(report.owner.as_deref(), Some("shadow_owner"));

    let cases: &[(&str, &str, &[&str])] = &[
        (
            "GRANT SELECT ON shadow.passwords TO app",
            "REVOKE SELECT ON shadow.passwords FROM app",
            &["app-table-privilege"],
        ),
        (
            "GRANT SELECT (username, stored_key) ON shadow.passwords TO app",
            "REVOKE SELECT (username, stored_key) ON shadow.passwords FROM app",
            &["app-column-privilege"],
        ),
        (
            "GRANT SELECT ON shadow.settings TO PUBLIC",
            "REVOKE SELECT ON shadow.settings FROM PUBLIC",
            &["app-table-privilege", "public-table-grant"],
        ),
        (
            "GRANT shadow_owner TO app",
            "REVOKE shadow_owner FROM app",
            &["app-member-of-owner"],
        ),
        (
            "ALTER FUNCTION shadow.begin_login(text) RESET search_path",
            "ALTER FUNCTION shadow.begin_login(text) SET search_path = pg_catalog, pg_temp",
            &["search-path-not-pinned"],
        ),
        (
            "ALTER ROLE shadow_owner LOGIN",
            "ALTER ROLE shadow_owner NOLOGIN",
            &["owner-can-login"],
        ),
        (
            "GRANT EXECUTE ON FUNCTION shadow.finish_login(text, bytea, bytea, bytea) TO PUBLIC",
            "REVOKE EXECUTE ON FUNCTION shadow.finish_login(text, bytea, bytea, bytea) FROM PUBLIC",
            &["public-execute"],
        ),
        (
            "ALTER FUNCTION shadow.check_bcrypt(text, text) SECURITY INVOKER",
            "ALTER FUNCTION shadow.check_bcrypt(text, text) SECURITY DEFINER",
            &["not-security-definer"],
        ),
        // The admin capabilities, reachable by the application role three ways: one code each.
        (
            "GRANT EXECUTE ON FUNCTION shadow.unlock(text) TO app",
            "REVOKE EXECUTE ON FUNCTION shadow.unlock(text) FROM app",
            &["app-admin-execute"],
        ),
        (
            "GRANT EXECUTE ON FUNCTION shadow.set_scram(text, bytea, integer, integer, integer, bytea, bytea) TO PUBLIC",
            "REVOKE EXECUTE ON FUNCTION shadow.set_scram(text, bytea, integer, integer, integer, bytea, bytea) FROM PUBLIC",
            &["public-execute"],
        ),
        (
            "GRANT shadow_admin TO app",
            "REVOKE shadow_admin FROM app",
            &["app-admin-via-membership"],
        ),
        (
            "CREATE ROLE helpdesk NOLOGIN; GRANT EXECUTE ON FUNCTION shadow.delete(text), \
             shadow.issue_reset_token(text, interval) TO helpdesk; GRANT helpdesk TO app",
            "REVOKE helpdesk FROM app",
            &["app-admin-via-membership"],
        ),
        (
            "CREATE ROLE reporting NOLOGIN; GRANT SELECT ON shadow.tokens TO reporting",
            "REVOKE SELECT ON shadow.tokens FROM reporting",
            &["table-grant-to-other-role"],
        ),
        (
            "REVOKE EXECUTE ON FUNCTION shadow.lock(text, timestamptz) FROM shadow_admin",
            "GRANT EXECUTE ON FUNCTION shadow.lock(text, timestamptz) TO shadow_admin",
            &["admin-cannot-execute"],
        ),
        (
            "GRANT EXECUTE ON FUNCTION shadow.record_attempt(text, boolean) TO app",
            "REVOKE EXECUTE ON FUNCTION shadow.record_attempt(text, boolean) FROM app",
            &["app-internal-execute"],
        ),
        (
            "CREATE OR REPLACE FUNCTION shadow.needs_rehash(p_username text) RETURNS boolean \
             LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$ SELECT false $$",
            "",
            &["altered-function"],
        ),
    ];
    for (break_it, fix, code) in cases.iter() {
        admin.batch_execute(break_it).unwrap();
        let report = audit(&mut admin, "shadow", "app", "shadow_admin").unwrap();
        assert_eq!(
            codes(&report),
            code.to_vec(),
            "after `{break_it}`: {:?}",
            report.findings
        );
        let f = &report.findings[0];
        assert!(!f.message.is_empty() && !f.fix.is_empty());
        if !fix.is_empty() {
            admin.batch_execute(fix).unwrap();
            assert!(
                audit(&mut admin, "shadow", "app", "shadow_admin")
                    .unwrap()
                    .passed(),
                "after `{fix}`"
            );
        }
    }

    // Logging settings are warnings, not findings.
    admin.batch_execute("SET log_statement = 'all'").unwrap();
    let report = audit(&mut admin, "shadow", "app", "shadow_admin").unwrap();
    assert_eq!(report.warnings.len(), 1);
    assert_eq!(report.warnings[0].object, "log_statement");

    // A database without the store.
    let report = audit(&mut admin, "nostore", "app", "shadow_admin").unwrap();
    assert_eq!(codes(&report), vec!["not-installed"]);
}

#[test]
fn install_refuses_a_missing_app_role_and_leaves_nothing_behind() {
    let cluster = Cluster::builder().start().unwrap();
    let url = cluster.create_database("empty").unwrap();
    let mut admin = retort_pg::connect(&ConnConfig::parse(&url).unwrap()).unwrap();
    let err = install(&mut admin, &options(Mode::ScramArgon2)).unwrap_err();
    let ShadowError::Db(e) = &err else {
        panic!("{err}")
    };
    assert!(
        e.to_string()
            .contains("application role app does not exist"),
        "{e}"
    );
    assert!(e.hint().unwrap().contains("--app-role"));
    let schemas: i64 = admin
        .query_one(
            "SELECT count(*) FROM pg_namespace WHERE nspname = 'shadow'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(schemas, 0);
    let roles: i64 = admin
        .query_one(
            "SELECT count(*) FROM pg_roles WHERE rolname = 'shadow_owner'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(roles, 0);
}
