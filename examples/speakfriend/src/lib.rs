//! Speak Friend: a small web app that uses all of retort.
//!
//! - On start it runs its embedded migrations with `retort_migrate` (which refuses a standby)
//!   and waits until the synchronous standby has replayed them (`retort_replica`).
//! - Passwords go through the shadow store (`retort_shadow`, scram-argon2): the app's role can
//!   log users in, sign them up, change a password with proof of the current one and redeem a
//!   reset code an operator issued, and read nothing of the store. Setting any password, lock,
//!   unlock and issuing reset codes belong to the store's admin role, which the app never has.
//! - Writes go to the primary; the notes page reads from an asynchronous standby after waiting
//!   (bounded) for it to replay the session's last write, and says where it read from.
//!
//! `main.rs` wires configuration and shutdown; [`router`] the pages; [`db`] all SQL.

pub mod db;
pub mod pages;
pub mod session;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use axum::extract::{FromRef, Request};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use axum_extra::extract::cookie::Key;
use minijinja::Environment;

/// Which release of the app this process is. The current release reads and writes
/// `notes.text`; the one before it wrote `notes.body`. The rename is a two-phase migration
/// (`5e1f0a7c3b21`, expand; `5e1f0a7c3b22`, contract): while it is expanded, the previous
/// release keeps its names through views it selects with `search_path`. The example keeps the
/// previous release's notes SQL so that its tests can run both side by side.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AppVersion {
    /// This release, built at the migrations' head.
    Current,
    /// The release before `notes.body` became `notes.text`, built at revision 4befb220dd4b.
    BeforeNotesText,
}

impl AppVersion {
    /// The revision this release was built at: None for the migrations' head.
    pub fn revision(self) -> Option<&'static str> {
        match self {
            AppVersion::Current => None,
            AppVersion::BeforeNotesText => Some("4befb220dd4b"),
        }
    }

    /// The notes column this release reads and writes.
    pub fn notes_column(self) -> &'static str {
        match self {
            AppVersion::Current => "text",
            AppVersion::BeforeNotesText => "body",
        }
    }
}

/// Where the app's databases are and how it behaves.
#[derive(Clone)]
pub struct Config {
    /// Which release this process is (the current one, except in the two-version tests).
    pub version: AppVersion,
    /// A role that may run the migrations (owner of the schema).
    pub migrate_url: String,
    /// The app's own role on the primary (writes, logins).
    pub primary_url: String,
    /// The app's own role on an asynchronous standby (reads), if there is one.
    pub replica_url: Option<String>,
    /// Where to listen.
    pub listen: SocketAddr,
    /// 64 bytes that sign session cookies (random per start when None: sessions end on restart).
    pub cookie_key: Option<Vec<u8>>,
    /// Mark cookies Secure (set it when served over HTTPS).
    pub secure_cookies: bool,
    /// How long a read on the standby waits for the session's last write.
    pub read_wait: Duration,
}

/// Shared by every request.
#[derive(Clone)]
pub struct AppState {
    pub db: Arc<db::Db>,
    pub templates: Arc<Environment<'static>>,
    pub key: Key,
    pub secure_cookies: bool,
}

impl FromRef<AppState> for Key {
    fn from_ref(state: &AppState) -> Key {
        state.key.clone()
    }
}

/// The pages. Every POST checks the session's CSRF token.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(pages::index))
        .route(
            "/signup",
            get(pages::auth::signup_form).post(pages::auth::signup),
        )
        .route(
            "/login",
            get(pages::auth::login_form).post(pages::auth::login),
        )
        .route("/logout", post(pages::auth::logout))
        .route(
            "/password",
            get(pages::password::form).post(pages::password::change),
        )
        .route("/reset", get(pages::reset::form).post(pages::reset::reset))
        .route("/notes", get(pages::notes::list).post(pages::notes::add))
        .layer(middleware::from_fn(log_request))
        .with_state(state)
}

/// One line per request: method, path, status, time. Never headers, cookies or bodies.
async fn log_request(req: Request, next: Next) -> Response {
    let (method, path) = (req.method().clone(), req.uri().path().to_owned());
    let began = Instant::now();
    let response = next.run(req).await;
    tracing::info!(
        "{method} {path} {} {:.1} ms",
        response.status().as_u16(),
        began.elapsed().as_secs_f64() * 1000.0
    );
    response
}

/// The templates, compiled into the binary.
pub fn templates() -> Environment<'static> {
    let mut env = Environment::new();
    for (name, text) in [
        ("base.html", include_str!("../templates/base.html")),
        ("signup.html", include_str!("../templates/signup.html")),
        ("login.html", include_str!("../templates/login.html")),
        ("password.html", include_str!("../templates/password.html")),
        ("reset.html", include_str!("../templates/reset.html")),
        ("notes.html", include_str!("../templates/notes.html")),
        ("message.html", include_str!("../templates/message.html")),
    ] {
        env.add_template(name, text).expect("templates compile");
    }
    env
}

/// The database role the app logs in as (the shadow store migrations grant it the store's login
/// and enrol/change functions).
pub const APP_ROLE: &str = "speakfriend_app";

/// A throwaway primary with a synchronous and an asynchronous standby, the async one replaying
/// `apply_delay` late, with the app's role; and the configuration that points the app at it.
/// Blocking: call it from a blocking thread.
pub fn throwaway_cluster(
    listen: SocketAddr,
    apply_delay: Duration,
) -> Result<(Config, retort_cluster::Cluster)> {
    let mut cluster = retort_cluster::Cluster::builder()
        .standbys(2)
        .sync(1)
        .start()?;
    cluster.wait_until_streaming(Duration::from_secs(60))?;
    // The role first: the async standby must have it before it starts lagging.
    let mut primary = cluster.connect_primary()?;
    primary.batch_execute(&format!("CREATE ROLE {APP_ROLE} LOGIN"))?;
    let lsn = retort_replica::current_lsn(&mut primary)?;
    let mut standby = cluster.connect_standby(1)?;
    retort_replica::wait_for_lsn(&mut standby, lsn, Duration::from_secs(30))?;
    cluster.set_apply_delay(1, apply_delay)?;
    // tokio-postgres takes key=value strings for unix sockets.
    let app = |node: usize| {
        format!(
            "host={} port={} user={APP_ROLE} dbname=postgres",
            cluster.socket_dir().display(),
            cluster.nodes()[node].port()
        )
    };
    let config = Config {
        version: AppVersion::Current,
        migrate_url: cluster.primary_url(),
        primary_url: app(0),
        replica_url: Some(app(2)),
        listen,
        cookie_key: None,
        secure_cookies: false,
        read_wait: Duration::from_secs(3),
    };
    Ok((config, cluster))
}

/// Migrates, connects and starts serving; returns the address and the server task.
pub async fn start(config: Config) -> Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let schema_lsn = db::migrate(&config).await?;
    let db = db::Db::connect(&config, schema_lsn).await?;
    let key = match &config.cookie_key {
        Some(k) => {
            Key::try_from(k.as_slice()).context("the cookie key must be at least 64 bytes")?
        }
        None => Key::generate(),
    };
    let state = AppState {
        db: Arc::new(db),
        templates: Arc::new(templates()),
        key,
        secure_cookies: config.secure_cookies,
    };
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("listening on {}", config.listen))?;
    let addr = listener.local_addr()?;
    let app = router(state);
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!("server stopped: {e}");
        }
    });
    Ok((addr, task))
}
