//! Speak Friend in headless Chromium (chromedriver + fantoccini): sign up, log in, add a note
//! and see it at once although the list is read from an asynchronous standby replaying 2 s late,
//! change the password, reset it with an operator's one-time code, log out, fail a login, get
//! locked out. A screenshot of each step is saved under the test's
//! output directory; assertions are on page content only.

mod support;

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use support::start_app;

struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn find(program: &str, candidates: &[&str]) -> PathBuf {
    candidates
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "{program} not found (looked at {candidates:?}): install Debian's chromium and \
                 chromium-driver (apt-get install chromium chromium-driver); .ci/run does"
            )
        })
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn shots_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("speakfriend-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn shot(c: &Client, name: &str) {
    let png = c.screenshot().await.unwrap();
    assert!(png.starts_with(b"\x89PNG"), "a screenshot is a PNG");
    std::fs::write(shots_dir().join(format!("{name}.png")), png).unwrap();
}

async fn text_of(c: &Client, css: &str) -> String {
    match c.find(Locator::Css(css)).await {
        Ok(el) => el.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    }
}

/// Waits (up to 15 s) until the element's text contains `want`: a form submit navigates after
/// the click returns.
async fn wait_text(c: &Client, css: &str, want: &str) -> String {
    let began = Instant::now();
    loop {
        let t = text_of(c, css).await;
        if t.contains(want) {
            return t;
        }
        if began.elapsed() > Duration::from_secs(15) {
            let url = c
                .current_url()
                .await
                .map(|u| u.to_string())
                .unwrap_or_default();
            let src = c.source().await.unwrap_or_default();
            panic!("{css} never said {want:?} (last: {t:?}) at {url}:\n{src}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn fill_and_submit(c: &Client, fields: &[(&str, &str)], button: &str) {
    for (id, value) in fields {
        let el = c.find(Locator::Id(id)).await.unwrap();
        el.clear().await.unwrap();
        el.send_keys(value).await.unwrap();
    }
    let b = c.find(Locator::Id(button)).await.unwrap();
    b.click().await.unwrap();
    // Every form here navigates: wait until the old page is gone before looking at the new one.
    let began = Instant::now();
    while b.text().await.is_ok() && began.elapsed() < Duration::from_secs(15) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// chromedriver on a free port, and the chromium it drives.
fn start_driver() -> (Driver, u16, PathBuf) {
    let chromium = find(
        "chromium",
        &["/usr/bin/chromium", "/usr/bin/chromium-browser"],
    );
    let chromedriver = find(
        "chromedriver",
        &["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"],
    );
    let port = free_port();
    let driver = Driver(
        Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver"),
    );
    // fantoccini's TLS stack links two crypto providers; the driver is plain HTTP, either will do.
    let _ = rustls::crypto::ring::default_provider().install_default();
    (driver, port, chromium)
}

/// A headless browser session through the driver on `port`.
async fn browser(port: u16, chromium: &std::path::Path, profile: &std::path::Path) -> Client {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": chromium,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--disable-quic", "--no-first-run", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync", "--window-size=900,700",
                     format!("--user-data-dir={}", profile.display())],
        }),
    );
    let began = Instant::now();
    loop {
        match ClientBuilder::rustls()
            .expect("rustls")
            .capabilities(caps.clone())
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
        {
            Ok(c) => return c,
            Err(e) if began.elapsed() < Duration::from_secs(20) => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("could not start a browser session: {e}"),
        }
    }
}

#[test]
fn sign_up_log_in_add_a_note_change_and_reset_the_password_fail_and_get_locked_out() {
    let app = start_app(Duration::from_secs(2));
    let (_driver, port, chromium) = start_driver();
    let profile = tempfile_dir("one");
    let base = app.url("");
    let admin_conn = app.conn(0, "postgres");
    app.rt.block_on(async move {
        let c = browser(port, &chromium, &profile).await;

        // 1. Sign up: lands on the (empty) notes page, logged in.
        c.goto(&format!("{base}/signup")).await.unwrap();
        fill_and_submit(
            &c,
            &[("username", "frodo"), ("password", "mellon-friend")],
            "submit",
        )
        .await;
        wait_text(&c, "h2", "Your notes").await;
        wait_text(&c, "nav", "frodo").await;
        shot(&c, "1-signed-up").await;

        // 2. Log out, log in.
        fill_and_submit(&c, &[], "logout").await;
        wait_text(&c, "h2", "Log in").await;
        fill_and_submit(
            &c,
            &[("username", "frodo"), ("password", "mellon-friend")],
            "submit",
        )
        .await;
        wait_text(&c, "h2", "Your notes").await;
        shot(&c, "2-logged-in").await;

        // 3. Add a note: the list comes from the async standby, which waits for the write.
        let t = Instant::now();
        fill_and_submit(&c, &[("body", "Speak, friend, and enter")], "add").await;
        wait_text(&c, "#notes", "Speak, friend, and enter").await;
        let source = text_of(&c, "#source").await;
        assert!(source.contains("asynchronous standby"), "{source}");
        assert!(
            t.elapsed() >= Duration::from_millis(1500),
            "the standby replays 2 s late"
        );
        shot(&c, "3-note-added").await;

        // 4. Change the password: a wrong current one is refused, the right one changes it.
        c.goto(&format!("{base}/password")).await.unwrap();
        fill_and_submit(
            &c,
            &[("current", "not-mellon"), ("new", "friend-mellon")],
            "submit",
        )
        .await;
        wait_text(&c, "#error", "do not match").await;
        fill_and_submit(
            &c,
            &[("current", "mellon-friend"), ("new", "friend-mellon")],
            "submit",
        )
        .await;
        wait_text(&c, "#done", "changed").await;
        shot(&c, "4-password-changed").await;
        fill_and_submit(&c, &[], "logout").await;
        fill_and_submit(
            &c,
            &[("username", "frodo"), ("password", "mellon-friend")],
            "submit",
        )
        .await;
        wait_text(&c, "#error", "do not match").await;
        fill_and_submit(
            &c,
            &[("username", "frodo"), ("password", "friend-mellon")],
            "submit",
        )
        .await;
        wait_text(&c, "h2", "Your notes").await;
        fill_and_submit(&c, &[], "logout").await;

        // 5. Forgot it: an operator issues a reset code (the store's admin role; here the
        // cluster's superuser), the user sets a new password with it, once.
        let code = tokio::task::spawn_blocking(move || {
            let mut admin =
                retort_pg::connect(&retort_pg::ConnConfig::parse(&admin_conn).unwrap()).unwrap();
            retort_shadow::blocking::ShadowStore::new("shadow")
                .issue_reset_token(&mut admin, "frodo", None)
                .unwrap()
                .unwrap()
        })
        .await
        .unwrap();
        let code = retort_shadow::ExposeSecret::expose_secret(&code).to_owned();
        c.find(Locator::Id("reset-link"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        wait_text(&c, "h2", "Reset your password").await;
        fill_and_submit(
            &c,
            &[
                ("username", "frodo"),
                ("code", &code),
                ("new", "speak-and-enter"),
            ],
            "submit",
        )
        .await;
        wait_text(&c, "#done", "reset").await;
        shot(&c, "5-password-reset").await;
        c.goto(&format!("{base}/reset")).await.unwrap();
        fill_and_submit(
            &c,
            &[
                ("username", "frodo"),
                ("code", &code),
                ("new", "used-code-again"),
            ],
            "submit",
        )
        .await;
        wait_text(&c, "#error", "does not work").await;
        c.goto(&format!("{base}/login")).await.unwrap();
        fill_and_submit(
            &c,
            &[("username", "frodo"), ("password", "speak-and-enter")],
            "submit",
        )
        .await;
        wait_text(&c, "h2", "Your notes").await;

        // 6. Log out, then a wrong password: the careful message.
        fill_and_submit(&c, &[], "logout").await;
        fill_and_submit(
            &c,
            &[("username", "frodo"), ("password", "speak-friend")],
            "submit",
        )
        .await;
        let refused = wait_text(&c, "#error", "do not match").await;
        shot(&c, "6-wrong-password").await;
        // An unknown user gets exactly the same words.
        fill_and_submit(
            &c,
            &[("username", "sauron"), ("password", "one-ring")],
            "submit",
        )
        .await;
        assert_eq!(text_of(&c, "#error").await, refused);

        // 7. Four more wrong passwords lock the account: now even the right one is refused,
        // with the same message.
        for _ in 0..4 {
            fill_and_submit(
                &c,
                &[("username", "frodo"), ("password", "not-it")],
                "submit",
            )
            .await;
        }
        fill_and_submit(
            &c,
            &[("username", "frodo"), ("password", "speak-and-enter")],
            "submit",
        )
        .await;
        assert_eq!(text_of(&c, "#error").await, refused);
        wait_text(&c, "h2", "Log in").await;
        shot(&c, "7-locked-out").await;
        c.close().await.unwrap();
    });
    for step in [
        "1-signed-up",
        "2-logged-in",
        "3-note-added",
        "4-password-changed",
        "5-password-reset",
        "6-wrong-password",
        "7-locked-out",
    ] {
        assert!(shots_dir().join(format!("{step}.png")).is_file());
    }
}

fn tempfile_dir(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("chromium-profile-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Two releases of the app on one database through a two-phase rename (`notes.body` becomes
/// `notes.text`): the old release keeps working while the change is expanded, each sees the
/// other's notes, `retort complete` waits while the old one runs, and the new one goes on after.
#[test]
fn an_old_and_a_new_release_share_the_database_while_a_rename_expands_and_completes() {
    let (config, cluster) =
        speakfriend::throwaway_cluster("127.0.0.1:0".parse().unwrap(), Duration::from_millis(200))
            .unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let old_config = speakfriend::Config {
        version: speakfriend::AppVersion::BeforeNotesText,
        ..config.clone()
    };
    let (old_addr, old_task) = rt.block_on(speakfriend::start(old_config)).unwrap();
    let (_driver, port, chromium) = start_driver();
    let profile = tempfile_dir("two");
    let migrate_url = config.migrate_url.clone();
    let columns = |url: &str| -> Vec<String> {
        let mut c = retort_pg::connect(&retort_pg::ConnConfig::parse(url).unwrap()).unwrap();
        c.query(
            "SELECT attname::text FROM pg_attribute WHERE attrelid = 'public.notes'::regclass \
             AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
    };
    assert!(columns(&migrate_url).contains(&"body".to_owned()));
    rt.block_on(async {
        let c = browser(port, &chromium, &profile).await;
        let old = format!("http://{old_addr}");
        // 1. The old release: sign up and write a note.
        c.goto(&format!("{old}/signup")).await.unwrap();
        fill_and_submit(
            &c,
            &[("username", "sam"), ("password", "po-tay-toes")],
            "submit",
        )
        .await;
        wait_text(&c, "h2", "Your notes").await;
        fill_and_submit(&c, &[("body", "boil them")], "add").await;
        wait_text(&c, "#notes", "boil them").await;
        shot(&c, "two-1-old-release").await;

        // 2. The new release starts: its migrations run the expand (the column is renamed, the
        // old release's shape served as a view) and stop before the contract.
        let (new_addr, _new_task) = speakfriend::start(config.clone()).await.unwrap();
        let new = format!("http://{new_addr}");
        let url = migrate_url.clone();
        let now = tokio::task::spawn_blocking(move || columns(&url))
            .await
            .unwrap();
        assert!(
            now.contains(&"text".to_owned()) && !now.contains(&"body".to_owned()),
            "{now:?}"
        );

        // 3. The old release still writes and reads, through its view.
        c.goto(&format!("{old}/notes")).await.unwrap();
        fill_and_submit(&c, &[("body", "mash them")], "add").await;
        wait_text(&c, "#notes", "mash them").await;
        wait_text(&c, "#notes", "boil them").await;

        // 4. The new release sees both, and writes its own.
        c.goto(&format!("{new}/login")).await.unwrap();
        fill_and_submit(
            &c,
            &[("username", "sam"), ("password", "po-tay-toes")],
            "submit",
        )
        .await;
        wait_text(&c, "h2", "Your notes").await;
        wait_text(&c, "#notes", "mash them").await;
        fill_and_submit(&c, &[("body", "stick them in a stew")], "add").await;
        wait_text(&c, "#notes", "stick them in a stew").await;
        shot(&c, "two-2-new-release").await;

        // 5. ...which the old release reads too (cookies are per host, not per port: the new
        // release's session replaced the old one's, so log in there again).
        c.goto(&format!("{old}/login")).await.unwrap();
        fill_and_submit(
            &c,
            &[("username", "sam"), ("password", "po-tay-toes")],
            "submit",
        )
        .await;
        wait_text(&c, "#notes", "stick them in a stew").await;
        shot(&c, "two-3-old-release-reads-the-new").await;

        // 6. complete waits for the old release: its sessions are named.
        let url = migrate_url.clone();
        let refused = tokio::task::spawn_blocking(move || complete(&url))
            .await
            .unwrap();
        let err = refused.unwrap_err().to_string();
        assert!(err.contains("uses revision 4befb220dd4b's shape"), "{err}");

        // 7. The old release stops; the contract runs; the new release goes on.
        old_task.abort();
        let _ = old_task.await;
        let url = migrate_url.clone();
        tokio::task::spawn_blocking(move || complete(&url))
            .await
            .unwrap()
            .unwrap();
        c.goto(&format!("{new}/login")).await.unwrap();
        fill_and_submit(
            &c,
            &[("username", "sam"), ("password", "po-tay-toes")],
            "submit",
        )
        .await;
        wait_text(&c, "h2", "Your notes").await;
        fill_and_submit(&c, &[("body", "po-tay-toes")], "add").await;
        wait_text(&c, "#notes", "po-tay-toes").await;
        wait_text(&c, "#notes", "boil them").await;
        shot(&c, "two-4-completed").await;
        c.close().await.unwrap();
    });
    let mut admin = cluster.connect_primary().unwrap();
    let gone: bool = admin
        .query_one(
            "SELECT to_regnamespace('retort_v_4befb220dd4b') IS NULL",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(gone, "the contract dropped the old release's views");
}

/// `retort complete` on the example's embedded migrations.
fn complete(url: &str) -> Result<retort_migrate::RunReport, retort_migrate::MigrateError> {
    let graph = retort_migrate::from_embedded(speakfriend::db::MIGRATIONS_DIR).unwrap();
    let mut client = retort_pg::connect(&retort_pg::ConnConfig::parse(url).unwrap()).unwrap();
    let mut silent = retort_migrate::Silent;
    retort_migrate::MigrationRunner::new(
        &mut client,
        &graph,
        retort_migrate::RunnerOptions::default(),
        &mut silent,
    )
    .complete(false)
}
