//! The session: a small JSON value in a signed, HttpOnly, SameSite=Strict cookie, holding the
//! user, the CSRF token of its forms, and the WAL position of its last write.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::cookie::{Cookie, SameSite, SignedCookieJar};
use retort_replica::Lsn;
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

const COOKIE: &str = "speakfriend";

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct Session {
    /// The logged-in user.
    pub user: Option<String>,
    /// Every form carries it; a POST without it is refused.
    pub csrf: String,
    /// Where the last write of this session ended (as text, e.g. 0/3000148).
    pub last_write: Option<String>,
}

fn fresh_token() -> String {
    let mut b = [0u8; 24];
    getrandom::fill(&mut b).expect("the OS random number generator works");
    b.iter().map(|x| format!("{x:02x}")).collect()
}

impl Session {
    /// The session in the cookie, or a new anonymous one with a fresh CSRF token.
    pub fn from_jar(jar: &SignedCookieJar) -> Session {
        jar.get(COOKIE)
            .and_then(|c| serde_json::from_str::<Session>(c.value()).ok())
            .filter(|s| !s.csrf.is_empty())
            .unwrap_or_else(|| Session {
                csrf: fresh_token(),
                ..Session::default()
            })
    }

    /// The cookie holding this session.
    pub fn store(&self, jar: SignedCookieJar, secure: bool) -> SignedCookieJar {
        let value = serde_json::to_string(self).expect("a session serializes");
        let mut c = Cookie::new(COOKIE, value);
        c.set_http_only(true);
        c.set_same_site(SameSite::Strict);
        c.set_secure(secure);
        c.set_path("/");
        jar.add(c)
    }

    /// Logged in as `user`: a new CSRF token, so a token seen before login is worthless.
    pub fn log_in(&mut self, user: &str) {
        self.user = Some(user.to_owned());
        self.csrf = fresh_token();
        self.last_write = None;
    }

    /// Whether the form's token is this session's (compared in constant time).
    pub fn csrf_ok(&self, token: &str) -> bool {
        !self.csrf.is_empty() && bool::from(self.csrf.as_bytes().ct_eq(token.as_bytes()))
    }

    pub fn last_write(&self) -> Option<Lsn> {
        self.last_write.as_deref().and_then(|s| s.parse().ok())
    }
}

/// The answer to a form without this session's CSRF token.
pub fn refused() -> Response {
    (
        StatusCode::FORBIDDEN,
        "This form has expired or did not come from this site. Reload the page and try again.",
    )
        .into_response()
}
