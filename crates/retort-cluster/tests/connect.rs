//! retort-pg against a real server: quoting matches the server's own functions, logins that fail
//! say why, and TLS follows sslmode.

use std::os::unix::fs::MetadataExt;
use std::time::Duration;

use retort_cluster::Cluster;
use retort_pg::{connect, quote_ident, quote_literal, ConnConfig, PgError};

const NASTY: &[&str] = &[
    "users",
    "Users",
    "user",
    "select",
    "order",
    "name",
    "a\"b",
    "\"",
    "it's",
    "back\\slash",
    "with space",
    "ünïcödé",
    "日本語",
    "_ok_1",
    "1starts_with_digit",
    "",
    "$dollar",
    "a.b",
    "CamelCase",
    "tab\there",
    "line\nbreak",
    "semi;colon",
    "all",
    "current_user",
    "x'--",
];

#[test]
fn quoting_matches_the_servers_quote_ident_and_quote_literal() {
    let c = Cluster::builder().start().unwrap();
    let mut client = c.connect_primary().unwrap();
    for &name in NASTY {
        let row = client
            .query_one("SELECT quote_ident($1), quote_literal($1)", &[&name])
            .unwrap();
        let (ident, literal): (String, String) = (row.get(0), row.get(1));
        assert_eq!(quote_ident(name), ident, "quote_ident({name:?})");
        assert_eq!(quote_literal(name), literal, "quote_literal({name:?})");
        if name.is_empty() {
            continue; // a zero-length identifier is invalid, however it is quoted
        }
        // And they round-trip: the server reads back exactly the original text.
        let sql = format!(
            "CREATE TEMP TABLE {} (v text); INSERT INTO {} VALUES ({});",
            quote_ident(name),
            quote_ident(name),
            quote_literal(name)
        );
        client.batch_execute(&sql).unwrap();
        let back: String = client
            .query_one(
                &format!(
                    "SELECT v FROM {} WHERE v = {}",
                    quote_ident(name),
                    quote_literal(name)
                ),
                &[],
            )
            .unwrap()
            .get(0);
        assert_eq!(back, name);
        client
            .batch_execute(&format!("DROP TABLE {}", quote_ident(name)))
            .unwrap();
    }
}

#[test]
fn failed_logins_and_unreachable_servers_say_what_to_do() {
    let c = Cluster::builder().start().unwrap();
    let port = c.nodes()[0].port();

    // Right password over TCP works (scram-sha-256) ...
    let mut ok = connect(&ConnConfig::parse(&c.primary_tcp_url()).unwrap()).unwrap();
    let ssl_off: bool = ok
        .query_one(
            "SELECT NOT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(
        ssl_off,
        "server has no TLS configured, prefer must fall back"
    );

    // ... a wrong one is a login error that blames the right source and hides the password.
    let wrong = format!("postgresql://postgres:not-the-password@127.0.0.1:{port}/postgres");
    let err = connect(&ConnConfig::parse(&wrong).unwrap()).err().unwrap();
    assert!(matches!(err, PgError::Login { .. }), "{err:?}");
    assert_eq!(err.sqlstate(), Some("28P01"));
    assert!(err
        .hint()
        .unwrap()
        .contains("password in the connection string is wrong"));
    assert!(!err.to_string().contains("not-the-password"));
    assert!(!format!("{err:?}").contains("not-the-password"));

    // A database that does not exist.
    let url = format!("{}&dbname=nope", c.primary_url());
    let err = connect(&ConnConfig::parse(&url).unwrap()).err().unwrap();
    assert_eq!(err.sqlstate(), Some("3D000"));
    assert!(err.hint().unwrap().contains("createdb"), "{:?}", err.hint());

    // Nothing listening: refused, with a hint about starting a server.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed = listener.local_addr().unwrap().port();
    drop(listener);
    let url = format!("postgresql://postgres:secret@127.0.0.1:{closed}/postgres?connect_timeout=5");
    let err = connect(&ConnConfig::parse(&url).unwrap()).err().unwrap();
    assert!(matches!(err, PgError::Connect { .. }), "{err:?}");
    assert!(
        err.hint().unwrap().contains("no server is listening"),
        "{err}"
    );
    assert!(!err.to_string().contains("secret"));
}

#[test]
fn server_errors_keep_sqlstate_detail_hint_and_position() {
    let c = Cluster::builder().start().unwrap();
    let mut client = c.connect_primary().unwrap();
    let err: PgError = client
        .batch_execute("SELECT * FROM no_such_table")
        .unwrap_err()
        .into();
    let PgError::Server(msg) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(msg.code, "42P01");
    assert_eq!(msg.position, Some(15));
    assert!(err.to_string().contains("no_such_table"));
    let err: PgError = client
        .batch_execute("CREATE TABLE p (id int PRIMARY KEY); INSERT INTO p VALUES (1), (1)")
        .unwrap_err()
        .into();
    let PgError::Server(msg) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(msg.code, "23505");
    assert!(
        msg.detail.as_deref().unwrap_or("").contains("(id)=(1)"),
        "{msg:?}"
    );
}

#[test]
fn tls_follows_sslmode() {
    let mut c = Cluster::builder().start().unwrap();
    // A CA and a server certificate for 127.0.0.1 and localhost.
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let key = rcgen::KeyPair::generate().unwrap();
    let params =
        rcgen::CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
            .unwrap();
    let cert = params.signed_by(&key, &issuer).unwrap();

    let data = c.nodes()[0].data_dir().to_owned();
    let owner = std::fs::metadata(&data).unwrap();
    for (name, body) in [
        ("server.crt", cert.pem()),
        ("server.key", key.serialize_pem()),
    ] {
        let path = data.join(name);
        std::fs::write(&path, body).unwrap();
        std::os::unix::fs::chown(&path, Some(owner.uid()), Some(owner.gid())).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let mut admin = c.connect_primary().unwrap();
    admin.batch_execute("ALTER SYSTEM SET ssl = on").unwrap();
    admin.batch_execute("SELECT pg_reload_conf()").unwrap();
    std::thread::sleep(Duration::from_millis(300));

    let scratch = tempfile::tempdir().unwrap();
    let ca_file = scratch.path().join("root.crt");
    std::fs::write(&ca_file, ca_cert.pem()).unwrap();
    let wrong_ca = rcgen::generate_simple_self_signed(vec!["elsewhere".to_string()]).unwrap();
    let wrong_ca_file = scratch.path().join("wrong.crt");
    std::fs::write(&wrong_ca_file, wrong_ca.cert.pem()).unwrap();

    let base = c.primary_tcp_url();
    let uses_tls = |query: &str| -> Result<bool, PgError> {
        let mut client = connect(&ConnConfig::parse(&format!("{base}?{query}")).unwrap())?;
        Ok(client
            .query_one(
                "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
                &[],
            )
            .unwrap()
            .get(0))
    };
    assert!(uses_tls("sslmode=require").unwrap());
    assert!(uses_tls("sslmode=prefer").unwrap());
    assert!(!uses_tls("sslmode=disable").unwrap());
    let ca = ca_file.display();
    assert!(uses_tls(&format!("sslmode=verify-full&sslrootcert={ca}")).unwrap());
    assert!(uses_tls(&format!("sslmode=verify-ca&sslrootcert={ca}")).unwrap());
    let err = uses_tls(&format!(
        "sslmode=verify-ca&sslrootcert={}",
        wrong_ca_file.display()
    ))
    .unwrap_err();
    assert!(matches!(err, PgError::Connect { .. }), "{err:?}");
    assert!(err.hint().unwrap().contains("TLS"), "{err}");
    let err = uses_tls("sslmode=verify-full&sslrootcert=/nonexistent/root.crt").unwrap_err();
    assert!(matches!(err, PgError::Tls { .. }), "{err:?}");
    drop(admin);
    c.set_apply_delay(0, Duration::ZERO).unwrap_err(); // no standby 0: typed error, no panic
}
