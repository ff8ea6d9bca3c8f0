//! The notes page: written on the primary, read from the asynchronous standby once it has
//! replayed this session's last write.

use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::SignedCookieJar;
use axum_extra::extract::Form;
use serde::Deserialize;

use super::{oops, render, with_session};
use crate::session::Session;
use crate::AppState;

pub async fn list(State(state): State<AppState>, jar: SignedCookieJar) -> Response {
    let session = Session::from_jar(&jar);
    let Some(user) = session.user.clone() else {
        return Redirect::to("/login").into_response();
    };
    match state.db.notes(&user, session.last_write()).await {
        Ok((notes, from)) => {
            let page = render(
                &state,
                "notes.html",
                &session,
                minijinja::context! { notes => notes, read_from => from.text, from_standby => from.standby },
            );
            with_session(&state, jar, &session, page)
        }
        Err(e) => oops(&state, &session, "reading notes", e),
    }
}

#[derive(Deserialize)]
pub struct NewNote {
    body: String,
    /// Missing means refused (403), like a wrong one.
    #[serde(default)]
    csrf: String,
}

pub async fn add(
    State(state): State<AppState>,
    jar: SignedCookieJar,
    Form(f): Form<NewNote>,
) -> Response {
    let mut session = Session::from_jar(&jar);
    if !session.csrf_ok(&f.csrf) {
        return crate::session::refused();
    }
    let Some(user) = session.user.clone() else {
        return Redirect::to("/login").into_response();
    };
    match state.db.add_note(&user, &f.body).await {
        Ok(lsn) => {
            session.last_write = Some(lsn.to_string());
            (
                session.store(jar, state.secure_cookies),
                Redirect::to("/notes"),
            )
                .into_response()
        }
        Err(e) => oops(&state, &session, "adding a note", e),
    }
}
