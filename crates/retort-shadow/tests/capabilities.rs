//! The three capability sets on real PostgreSQL: what an attacker holding only the application
//! role's login can no longer do, what the admin role can, password resets, Unicode passwords,
//! and bcrypt hashes imported from other systems.

mod support;

use std::time::Duration;

use retort_shadow::{Mode, ShadowError, Verdict};
use secrecy::ExposeSecret;
use support::{pw, setup, sqlstate};

fn attacker_cannot_take_over_or_lift_a_lockout(mode: Mode) {
    let mut s = setup(mode);
    let store = &s.store;
    let mut app = s.app();
    assert!(store.enrol(&mut app, "gandalf", &pw("mellon")).unwrap());
    let mut op = s.operator();
    let token = store
        .issue_reset_token(&mut op, "gandalf", None)
        .unwrap()
        .unwrap();

    // Everything below runs with the application role's login only.
    let denied = [
        "SELECT shadow.unlock('gandalf')",
        "SELECT shadow.lock('gandalf')",
        "SELECT shadow.delete('gandalf')",
        "SELECT shadow.set_bcrypt('gandalf', 'pwned')",
        "SELECT shadow.set_scram('gandalf', '\\x00000000000000000000000000000000', 256, 1, 1, \
         '\\x0000000000000000000000000000000000000000000000000000000000000000', \
         '\\x0000000000000000000000000000000000000000000000000000000000000000')",
        "SELECT shadow.issue_reset_token('gandalf')",
        "SELECT shadow.import_bcrypt(ARRAY['gandalf'], ARRAY['$2a$04$abcdefghijklmnopqrstuuabcdefghijklmnopqrstuvwxyz01234'])",
        "SELECT shadow.store_bcrypt('gandalf', 'pwned', 'upsert')",
        "SELECT shadow.issue_token('gandalf', 'reset', '1 hour')",
        "SELECT shadow.consume_token('gandalf', 'x')",
        "SELECT * FROM shadow.tokens",
        "SELECT * FROM shadow.passwords",
        "UPDATE shadow.passwords SET failed_attempts = 0",
    ];
    for sql in denied {
        assert_eq!(sqlstate(app.query(sql, &[])), "42501", "{sql}");
    }
    // Through the client API too.
    for err in [
        store.unlock(&mut app, "gandalf").unwrap_err(),
        store.delete(&mut app, "gandalf").unwrap_err(),
        store
            .set_password(&mut app, "gandalf", &pw("pwned"))
            .unwrap_err(),
        store
            .issue_reset_token(&mut app, "gandalf", None)
            .unwrap_err(),
    ] {
        let ShadowError::Db(e) = &err else {
            panic!("{err}")
        };
        assert_eq!(e.sqlstate(), Some("42501"), "{err}");
        assert!(
            err.hint().unwrap().contains("admin role"),
            "{:?}",
            err.hint()
        );
    }
    // Enrol does not overwrite; a wrong token, another user's token or a guessed one does not
    // either; a change needs the current password.
    assert!(!store.enrol(&mut app, "gandalf", &pw("pwned")).unwrap());
    assert!(!store
        .reset_password(&mut app, "gandalf", &pw(&"0".repeat(64)), &pw("pwned"))
        .unwrap());
    assert!(store.enrol(&mut app, "saruman", &pw("white")).unwrap());
    assert!(!store
        .reset_password(&mut app, "saruman", &token, &pw("pwned"))
        .unwrap());
    assert_eq!(
        store
            .change_password(&mut app, "gandalf", &pw("wrong"), &pw("pwned"))
            .unwrap(),
        Verdict::Bad
    );
    // After all of that the user still logs in with the old password.
    assert_eq!(
        store.verify(&mut app, "gandalf", &pw("mellon")).unwrap(),
        Verdict::Ok
    );
    // The reset works once, for its user, and then never again.
    assert!(store
        .reset_password(&mut app, "gandalf", &token, &pw("you shall not pass"))
        .unwrap());
    assert!(!store
        .reset_password(&mut app, "gandalf", &token, &pw("pwned"))
        .unwrap());
    assert_eq!(
        store.verify(&mut app, "gandalf", &pw("pwned")).unwrap(),
        Verdict::Bad
    );
    assert_eq!(
        store
            .verify(&mut app, "gandalf", &pw("you shall not pass"))
            .unwrap(),
        Verdict::Ok
    );
    // A rehash token exists only inside a login that needs one: none can be had otherwise.
    assert_eq!(
        sqlstate(app.query(
            "SELECT shadow.replace_bcrypt('gandalf', NULL, 'pwned')",
            &[]
        )),
        "ok"
    );
    assert_eq!(
        store
            .verify(&mut app, "gandalf", &pw("you shall not pass"))
            .unwrap(),
        Verdict::Ok
    );
    let tokens: i64 = s
        .admin
        .query_one("SELECT count(*) FROM shadow.tokens", &[])
        .unwrap()
        .get(0);
    assert_eq!(tokens, 0, "used tokens are gone");
}

#[test]
fn scram_attacker_cannot_take_over_or_lift_a_lockout() {
    attacker_cannot_take_over_or_lift_a_lockout(Mode::ScramArgon2);
}

#[test]
fn bcrypt_attacker_cannot_take_over_or_lift_a_lockout() {
    attacker_cannot_take_over_or_lift_a_lockout(Mode::Bcrypt);
}

#[test]
fn a_replayed_change_proof_changes_nothing() {
    let s = setup(Mode::ScramArgon2);
    let mut app = s.app();
    assert!(s.store.enrol(&mut app, "frodo", &pw("ring")).unwrap());
    // A change_scram call with a proof over a nonce that is already consumed (here: one made
    // up, which the store never issued) is a failed login and writes nothing.
    let row = app
        .query_one(
            "SELECT verdict FROM shadow.change_scram('frodo', '\\x00', '\\x0102', $1, $2, 256, 1, 1, $1, $1)",
            &[&vec![7u8; 32], &vec![1u8; 16]],
        )
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "bad");
    assert_eq!(
        s.store.verify(&mut app, "frodo", &pw("ring")).unwrap(),
        Verdict::Ok
    );
    // A real change works once; its nonce is then spent.
    assert_eq!(
        s.store
            .change_password(&mut app, "frodo", &pw("ring"), &pw("precious"))
            .unwrap(),
        Verdict::Ok
    );
    assert_eq!(
        s.store.verify(&mut app, "frodo", &pw("precious")).unwrap(),
        Verdict::Ok
    );
}

#[test]
fn the_admin_role_can_do_each_admin_thing() {
    let mut s = setup(Mode::ScramArgon2);
    let store = &s.store;
    let mut op = s.operator();
    let mut app = s.app();
    store
        .set_password(&mut op, "aragorn", &pw("strider"))
        .unwrap();
    store
        .set_password(&mut op, "aragorn", &pw("elessar"))
        .unwrap();
    assert_eq!(
        store.verify(&mut app, "aragorn", &pw("elessar")).unwrap(),
        Verdict::Ok
    );
    assert!(store.lock(&mut op, "aragorn", None).unwrap());
    assert_eq!(
        store.verify(&mut app, "aragorn", &pw("elessar")).unwrap(),
        Verdict::Locked
    );
    assert!(store.unlock(&mut op, "aragorn").unwrap());
    assert_eq!(
        store.verify(&mut app, "aragorn", &pw("elessar")).unwrap(),
        Verdict::Ok
    );
    // Tokens: only the newest reset token of a user works; an expired one does not.
    let first = store
        .issue_reset_token(&mut op, "aragorn", None)
        .unwrap()
        .unwrap();
    let second = store
        .issue_reset_token(&mut op, "aragorn", Some(Duration::from_millis(200)))
        .unwrap()
        .unwrap();
    assert_eq!(second.expose_secret().len(), 64);
    assert_ne!(first.expose_secret(), second.expose_secret());
    assert!(!store
        .reset_password(&mut app, "aragorn", &first, &pw("x1"))
        .unwrap());
    std::thread::sleep(Duration::from_millis(300));
    assert!(!store
        .reset_password(&mut app, "aragorn", &second, &pw("x2"))
        .unwrap());
    assert!(store
        .issue_reset_token(&mut op, "nobody", None)
        .unwrap()
        .is_none());
    // Only hashes are stored.
    let third = store
        .issue_reset_token(&mut op, "aragorn", None)
        .unwrap()
        .unwrap();
    let stored: Vec<u8> = s
        .admin
        .query_one("SELECT token_hash FROM shadow.tokens", &[])
        .unwrap()
        .get(0);
    assert!(!String::from_utf8_lossy(&stored).contains(third.expose_secret()));
    assert_eq!(stored.len(), 32);
    assert!(store.delete(&mut op, "aragorn").unwrap());
    let left: i64 = s
        .admin
        .query_one("SELECT count(*) FROM shadow.tokens", &[])
        .unwrap()
        .get(0);
    assert_eq!(left, 0, "deleting a user removes its tokens");
}

fn unicode_passwords_are_normalised(mode: Mode) {
    let mut s = setup(mode);
    let mut app = s.app();
    let store = &s.store;
    // U+2168 ROMAN NUMERAL NINE is "IX" after NFKC; a no-break space is a space; a soft
    // hyphen is nothing.
    assert!(store
        .enrol(&mut app, "rune", &pw("Ⅸ\u{00A0}gates"))
        .unwrap());
    for same in ["IX gates", "I\u{00AD}X gates", "Ⅸ gates"] {
        assert_eq!(
            store.verify(&mut app, "rune", &pw(same)).unwrap(),
            Verdict::Ok,
            "{same:?}"
        );
    }
    assert_eq!(
        store.verify(&mut app, "rune", &pw("ix gates")).unwrap(),
        Verdict::Bad
    );
    // Composed and decomposed forms are one password.
    assert!(store.enrol(&mut app, "zoe", &pw("Zoe\u{0308}")).unwrap());
    assert_eq!(
        store.verify(&mut app, "zoe", &pw("Zoë")).unwrap(),
        Verdict::Ok
    );
    // Emoji are fine; a password that normalises to nothing, or holds a control character, is
    // refused before anything is sent.
    assert!(store.enrol(&mut app, "crab", &pw("🦀🦀🦀")).unwrap());
    assert_eq!(
        store.verify(&mut app, "crab", &pw("🦀🦀🦀")).unwrap(),
        Verdict::Ok
    );
    let err = store
        .enrol(&mut app, "ghost", &pw("\u{00AD}\u{200B}"))
        .unwrap_err();
    assert!(matches!(err, ShadowError::Unnormalizable(_)), "{err}");
    assert!(err.to_string().contains("nothing is left"), "{err}");
    let err = store
        .enrol(&mut app, "ghost", &pw("bell\u{7}"))
        .unwrap_err();
    assert!(err.to_string().contains("U+0007"), "{err}");
    let n: i64 = s
        .admin
        .query_one(
            "SELECT count(*) FROM shadow.passwords WHERE username = 'ghost'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(n, 0);
}

#[test]
fn scram_unicode_passwords_are_normalised() {
    unicode_passwords_are_normalised(Mode::ScramArgon2);
}

#[test]
fn bcrypt_unicode_passwords_are_normalised() {
    unicode_passwords_are_normalised(Mode::Bcrypt);
}

#[test]
fn a_change_across_modes_goes_through_the_logins_rehash_token() {
    let mut s = setup(Mode::Bcrypt);
    let mut app = s.app();
    assert!(s.store.enrol(&mut app, "bilbo", &pw("there")).unwrap());
    s.admin
        .batch_execute("UPDATE shadow.settings SET mode = 'scram-argon2'")
        .unwrap();
    assert_eq!(
        s.store
            .change_password(&mut app, "bilbo", &pw("wrong"), &pw("and back"))
            .unwrap(),
        Verdict::Bad
    );
    assert_eq!(
        s.store
            .change_password(&mut app, "bilbo", &pw("there"), &pw("and back again"))
            .unwrap(),
        Verdict::Ok
    );
    let alg: String = s
        .admin
        .query_one(
            "SELECT algorithm FROM shadow.passwords WHERE username = 'bilbo'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(alg, "scram-argon2");
    assert_eq!(
        s.store
            .verify(&mut app, "bilbo", &pw("and back again"))
            .unwrap(),
        Verdict::Ok
    );
}

/// Hashes as passlib, Rails, Django, Laravel and Devise write them ($2a$, $2b$, $2y$) log in
/// and are moved to the store's mode on their first good login.
#[test]
fn imported_bcrypt_hashes_log_in_and_are_rehashed() {
    let mut s = setup(Mode::ScramArgon2);
    let mut op = s.operator();
    let mut app = s.app();
    // pgcrypto writes $2a$; the other prefixes are the same algorithm for passwords of 72
    // bytes or fewer.
    let mut names = Vec::new();
    let mut hashes = Vec::new();
    for (i, prefix) in ["$2a$", "$2b$", "$2y$"].iter().enumerate() {
        let h: String = s
            .admin
            .query_one(
                "SELECT crypt($1, gen_salt('bf', 4))",
                &[&format!("imported {i} é")],
            )
            .unwrap()
            .get(0);
        names.push(format!("user{i}"));
        hashes.push(h.replacen("$2a$", prefix, 1));
    }
    // A user already in the store is skipped and keeps its password.
    assert!(s.store.enrol(&mut app, "user2", &pw("kept")).unwrap());
    let skipped = s.store.import_bcrypt(&mut op, &names, &hashes).unwrap();
    assert_eq!(skipped, vec!["user2".to_owned()]);
    for (i, name) in names.iter().enumerate().take(2) {
        let o = s
            .store
            .verify_outcome(&mut app, name, &pw(&format!("imported {i} é")))
            .unwrap();
        assert_eq!((o.verdict, o.rehashed), (Verdict::Ok, true), "{name}");
        let (alg, norm): (String, String) = {
            let r = s
                .admin
                .query_one(
                    "SELECT algorithm, normalization FROM shadow.passwords WHERE username = $1",
                    &[name],
                )
                .unwrap();
            (r.get(0), r.get(1))
        };
        assert_eq!((alg.as_str(), norm.as_str()), ("scram-argon2", "saslprep"));
        let o = s
            .store
            .verify_outcome(&mut app, name, &pw(&format!("imported {i} é")))
            .unwrap();
        assert_eq!((o.verdict, o.rehashed), (Verdict::Ok, false));
    }
    assert_eq!(
        s.store.verify(&mut app, "user2", &pw("kept")).unwrap(),
        Verdict::Ok
    );
    // Not bcrypt: the database refuses the whole call, whatever a client sends.
    let e = op
        .query(
            "SELECT shadow.import_bcrypt(ARRAY['x'], ARRAY['$6$salt$hash'])",
            &[],
        )
        .unwrap_err();
    assert_eq!(e.code().unwrap().code(), "22023");
}
