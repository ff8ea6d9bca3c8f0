//! The app's database role cannot read the password store, and a form without its CSRF token
//! is refused.

mod support;

use std::io::{Read, Write};
use std::time::Duration;

use speakfriend::APP_ROLE;
use support::start_app;

fn http(addr: std::net::SocketAddr, request: &str) -> String {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

#[test]
fn the_app_role_cannot_read_the_store_and_forms_need_their_token() {
    let app = start_app(Duration::ZERO);
    let mut as_app =
        retort_pg::connect(&retort_pg::ConnConfig::parse(&app.conn(0, APP_ROLE)).unwrap()).unwrap();
    for sql in [
        "SELECT * FROM shadow.passwords",
        "SELECT stored_key FROM shadow.passwords",
        "SELECT * FROM shadow.settings",
        "UPDATE shadow.passwords SET failed_attempts = 0",
        "SELECT shadow.record_attempt('x', true)",
        // The admin capabilities are not the app's: no unlock, no overwriting, no reset codes.
        "SELECT shadow.unlock('x')",
        "SELECT shadow.lock('x')",
        "SELECT shadow.delete('x')",
        "SELECT shadow.set_bcrypt('x', 'y')",
        "SELECT shadow.issue_reset_token('x')",
        "SELECT * FROM shadow.tokens",
    ] {
        let e = as_app.query(sql, &[]).unwrap_err();
        assert_eq!(e.code().unwrap().code(), "42501", "{sql}");
    }
    // It can use what it needs.
    as_app.query("SELECT * FROM notes", &[]).unwrap();
    let audit = retort_shadow::audit(
        &mut app.cluster.connect_primary().unwrap(),
        "shadow",
        APP_ROLE,
        "shadow_admin",
    )
    .unwrap();
    assert!(audit.passed(), "{:?}", audit.findings);

    // A POST without the CSRF token (or with a wrong one) is refused, and nothing is created.
    for body in [
        "username=mallory&password=12345678",
        "username=mallory&password=12345678&csrf=forged",
    ] {
        let response = http(
            app.addr,
            &format!(
                "POST /signup HTTP/1.1\r\nHost: {}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                app.addr,
                body.len()
            ),
        );
        assert!(response.starts_with("HTTP/1.1 403"), "{response}");
        assert!(response.contains("did not come from this site"));
    }
    let n: i64 = as_app
        .query_one("SELECT count(*) FROM users WHERE username = 'mallory'", &[])
        .unwrap()
        .get(0);
    assert_eq!(n, 0);
    // The session cookie is HttpOnly and SameSite=Strict.
    let page = http(
        app.addr,
        &format!(
            "GET /login HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            app.addr
        ),
    );
    let cookie = page
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("set-cookie:"))
        .unwrap();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    drop(app.rt);
}
