//! Changing the password.

use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::SignedCookieJar;
use axum_extra::extract::Form;
use retort_shadow::SecretString;
use serde::Deserialize;

use super::{oops, render, with_session};
use crate::session::Session;
use crate::AppState;

pub async fn form(State(state): State<AppState>, jar: SignedCookieJar) -> Response {
    let session = Session::from_jar(&jar);
    if session.user.is_none() {
        return Redirect::to("/login").into_response();
    }
    let page = render(&state, "password.html", &session, minijinja::context! {});
    with_session(&state, jar, &session, page)
}

#[derive(Deserialize)]
pub struct Change {
    current: String,
    new: String,
    /// Missing means refused (403), like a wrong one.
    #[serde(default)]
    csrf: String,
}

pub async fn change(
    State(state): State<AppState>,
    jar: SignedCookieJar,
    Form(f): Form<Change>,
) -> Response {
    let session = Session::from_jar(&jar);
    if !session.csrf_ok(&f.csrf) {
        return crate::session::refused();
    }
    let Some(user) = session.user.clone() else {
        return Redirect::to("/login").into_response();
    };
    if f.new.chars().count() < 8 {
        let page = render(
            &state,
            "password.html",
            &session,
            minijinja::context! { error => "Choose a password of at least 8 characters." },
        );
        return with_session(&state, jar, &session, page);
    }
    match state
        .db
        .change_password(
            &user,
            &SecretString::from(f.current),
            &SecretString::from(f.new),
        )
        .await
    {
        Ok(true) => {
            let page = render(
                &state,
                "password.html",
                &session,
                minijinja::context! { done => true },
            );
            with_session(&state, jar, &session, page)
        }
        Ok(false) => {
            let page = render(
                &state,
                "password.html",
                &session,
                minijinja::context! { error => super::auth::REFUSED },
            );
            with_session(&state, jar, &session, page)
        }
        Err(e) => oops(&state, &session, "password change", e),
    }
}
