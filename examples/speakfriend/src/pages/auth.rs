//! Sign-up, log-in and log-out.

use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::SignedCookieJar;
use axum_extra::extract::Form;
use retort_shadow::SecretString;
use serde::Deserialize;

use super::{oops, render, with_session};
use crate::db::Login;
use crate::session::Session;
use crate::AppState;

/// One message for a wrong name, a wrong password and a locked account, as careful sites do.
pub const REFUSED: &str =
    "That name and password do not match, or there were too many attempts. Check them, or wait a few minutes and try again.";

#[derive(Deserialize)]
pub struct Credentials {
    username: String,
    password: String,
    /// Missing means refused (403), like a wrong one.
    #[serde(default)]
    csrf: String,
}

pub async fn signup_form(State(state): State<AppState>, jar: SignedCookieJar) -> Response {
    let session = Session::from_jar(&jar);
    let page = render(&state, "signup.html", &session, minijinja::context! {});
    with_session(&state, jar, &session, page)
}

pub async fn signup(
    State(state): State<AppState>,
    jar: SignedCookieJar,
    Form(f): Form<Credentials>,
) -> Response {
    let mut session = Session::from_jar(&jar);
    if !session.csrf_ok(&f.csrf) {
        return crate::session::refused();
    }
    let name = f.username.trim();
    let problem = if name.is_empty() || name.chars().count() > 64 {
        Some("Choose a name of 1 to 64 characters.")
    } else if f.password.chars().count() < 8 {
        Some("Choose a password of at least 8 characters.")
    } else {
        None
    };
    if let Some(p) = problem {
        let page = render(
            &state,
            "signup.html",
            &session,
            minijinja::context! { error => p, username => name },
        );
        return with_session(&state, jar, &session, page);
    }
    let password = SecretString::from(f.password);
    match state.db.sign_up(name, &password).await {
        Ok(true) => {
            session.log_in(name);
            (
                session.store(jar, state.secure_cookies),
                Redirect::to("/notes"),
            )
                .into_response()
        }
        Ok(false) => {
            let page = render(
                &state,
                "signup.html",
                &session,
                minijinja::context! { error => "That name is taken; choose another.", username => name },
            );
            with_session(&state, jar, &session, page)
        }
        Err(e) => oops(&state, &session, "sign-up", e),
    }
}

pub async fn login_form(State(state): State<AppState>, jar: SignedCookieJar) -> Response {
    let session = Session::from_jar(&jar);
    let page = render(&state, "login.html", &session, minijinja::context! {});
    with_session(&state, jar, &session, page)
}

pub async fn login(
    State(state): State<AppState>,
    jar: SignedCookieJar,
    Form(f): Form<Credentials>,
) -> Response {
    let mut session = Session::from_jar(&jar);
    if !session.csrf_ok(&f.csrf) {
        return crate::session::refused();
    }
    let name = f.username.trim().to_owned();
    let password = SecretString::from(f.password);
    match state.db.log_in(&name, &password).await {
        Ok(Login::Ok) => {
            session.log_in(&name);
            (
                session.store(jar, state.secure_cookies),
                Redirect::to("/notes"),
            )
                .into_response()
        }
        Ok(Login::Refused) => {
            let page = render(
                &state,
                "login.html",
                &session,
                minijinja::context! { error => REFUSED, username => name },
            );
            with_session(&state, jar, &session, page)
        }
        Err(e) => oops(&state, &session, "log-in", e),
    }
}

#[derive(Deserialize)]
pub struct CsrfOnly {
    /// Missing means refused (403), like a wrong one.
    #[serde(default)]
    csrf: String,
}

pub async fn logout(
    State(state): State<AppState>,
    jar: SignedCookieJar,
    Form(f): Form<CsrfOnly>,
) -> Response {
    let session = Session::from_jar(&jar);
    if !session.csrf_ok(&f.csrf) {
        return crate::session::refused();
    }
    let fresh = Session::from_jar(&SignedCookieJar::new(state.key.clone()));
    (
        fresh.store(jar, state.secure_cookies),
        Redirect::to("/login"),
    )
        .into_response()
}
