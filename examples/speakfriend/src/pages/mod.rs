//! The pages: one module each, handlers beside the template they render.

pub mod auth;
pub mod notes;
pub mod password;
pub mod reset;

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::SignedCookieJar;
use minijinja::Value;

use crate::session::Session;
use crate::AppState;

/// Renders `template` with `ctx` (plus the session's user and CSRF token).
pub fn render(state: &AppState, template: &str, session: &Session, ctx: Value) -> Response {
    let base = minijinja::context! { user => session.user, csrf => session.csrf };
    let merged = minijinja::context! { ..ctx, ..base };
    match state
        .templates
        .get_template(template)
        .and_then(|t| t.render(merged))
    {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!("template {template}: {e}");
            (StatusCode::INTERNAL_SERVER_ERROR, "something went wrong").into_response()
        }
    }
}

/// A page for errors the user did not cause; the details go to the log, not the page.
pub fn oops(state: &AppState, session: &Session, what: &str, err: anyhow::Error) -> Response {
    tracing::error!("{what}: {err:#}");
    let mut r = render(
        state,
        "message.html",
        session,
        minijinja::context! { title => "Something went wrong", text => "Please try again in a moment." },
    );
    *r.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    r
}

pub async fn index(jar: SignedCookieJar) -> Redirect {
    if Session::from_jar(&jar).user.is_some() {
        Redirect::to("/notes")
    } else {
        Redirect::to("/login")
    }
}

/// Responds with `page`, keeping `session` in its cookie.
pub fn with_session(
    state: &AppState,
    jar: SignedCookieJar,
    session: &Session,
    page: Response,
) -> Response {
    (session.store(jar, state.secure_cookies), page).into_response()
}
