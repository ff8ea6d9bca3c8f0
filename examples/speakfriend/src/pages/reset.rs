//! Resetting a forgotten password with a one-time code an operator issued.

use axum::extract::State;
use axum::response::Response;
use axum_extra::extract::cookie::SignedCookieJar;
use axum_extra::extract::Form;
use retort_shadow::SecretString;
use serde::Deserialize;

use super::{oops, render, with_session};
use crate::session::Session;
use crate::AppState;

/// One message for a wrong name, a wrong code and a used or expired one.
pub const REFUSED: &str =
    "That code does not work for that name: it may be mistyped, used already or expired. Ask for a new one.";

pub async fn form(State(state): State<AppState>, jar: SignedCookieJar) -> Response {
    let session = Session::from_jar(&jar);
    let page = render(&state, "reset.html", &session, minijinja::context! {});
    with_session(&state, jar, &session, page)
}

#[derive(Deserialize)]
pub struct Reset {
    username: String,
    code: String,
    new: String,
    /// Missing means refused (403), like a wrong one.
    #[serde(default)]
    csrf: String,
}

pub async fn reset(
    State(state): State<AppState>,
    jar: SignedCookieJar,
    Form(f): Form<Reset>,
) -> Response {
    let session = Session::from_jar(&jar);
    if !session.csrf_ok(&f.csrf) {
        return crate::session::refused();
    }
    let name = f.username.trim();
    let error = if f.new.chars().count() < 8 {
        Some("Choose a password of at least 8 characters.")
    } else {
        match state
            .db
            .reset_password(
                name,
                &SecretString::from(f.code.trim().to_owned()),
                &SecretString::from(f.new),
            )
            .await
        {
            Ok(true) => None,
            Ok(false) => Some(REFUSED),
            Err(e) => return oops(&state, &session, "password reset", e),
        }
    };
    let ctx = match error {
        Some(error) => minijinja::context! { error => error, username => name },
        None => minijinja::context! { done => true },
    };
    let page = render(&state, "reset.html", &session, ctx);
    with_session(&state, jar, &session, page)
}
