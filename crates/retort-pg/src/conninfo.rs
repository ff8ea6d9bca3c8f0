//! Connection settings resolved the way libpq resolves them.
//!
//! Precedence, highest first: what the connection string says, then the `PG*` environment
//! variables, then built-in defaults. The password comes from the string, else `PGPASSWORD`, else
//! the password file (`passfile`, `PGPASSFILE`, `~/.pgpass`). `DATABASE_URL` is not libpq's; the
//! caller decides whether to use it (see [`ConnConfig::from_url_or_env`]).

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::PgError;
use crate::pgpass;

/// Where libpq looks for the server's socket when no host is given, on Debian-family systems.
const DEBIAN_SOCKET_DIR: &str = "/var/run/postgresql";
/// How long to wait for a connection when the string does not say; libpq waits forever,
/// which makes a typo in a host name look like a hang.
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// `sslmode`, with libpq's meanings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SslMode {
    /// Never use TLS.
    Disable,
    /// Treated like `prefer` (the client library cannot try plain text first).
    Allow,
    /// Use TLS when the server offers it, without verifying the certificate (libpq's default).
    #[default]
    Prefer,
    /// Insist on TLS, without verifying the certificate.
    Require,
    /// Insist on TLS and verify the certificate chain against `sslrootcert`.
    VerifyCa,
    /// Like `verify-ca`, and the certificate must name the host.
    VerifyFull,
}

impl SslMode {
    fn parse(value: &str) -> Option<Self> {
        Some(match value {
            "disable" => SslMode::Disable,
            "allow" => SslMode::Allow,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            _ => return None,
        })
    }

    /// The libpq spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Allow => "allow",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }
}

/// `target_session_attrs`: which of several hosts is acceptable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TargetSessionAttrs {
    /// Any server.
    #[default]
    Any,
    /// Only a server that accepts writes (a primary).
    ReadWrite,
}

/// A password that never shows itself in `Debug` output and is wiped when dropped.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    /// Wraps a secret.
    pub fn new(secret: impl Into<String>) -> Self {
        Password(secret.into())
    }

    /// The secret itself; only for handing it to the client library.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

impl Drop for Password {
    fn drop(&mut self) {
        // SAFETY: overwriting bytes with zeros keeps the String valid UTF-8.
        unsafe { self.0.as_bytes_mut() }
            .iter_mut()
            .for_each(|b| unsafe { std::ptr::write_volatile(b, 0) });
    }
}

/// Where the password in a [`ConnConfig`] came from, so that a failed login can say which one to fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasswordSource {
    /// No password was found anywhere.
    None,
    /// The connection string.
    ConnString,
    /// The `PGPASSWORD` environment variable.
    Environment,
    /// A password file, at this line.
    PasswordFile {
        /// The file.
        path: PathBuf,
        /// 1-based line of the matching entry.
        line: usize,
    },
}

/// Settings exactly as a connection string gave them; unset means "not said".
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConnParams {
    /// Host names, IP addresses or socket directories (absolute paths).
    pub hosts: Vec<String>,
    /// One port for all hosts, or one per host.
    pub ports: Vec<u16>,
    /// Role to log in as.
    pub user: Option<String>,
    /// Password, if the string carried one.
    pub password: Option<Password>,
    /// Database name.
    pub dbname: Option<String>,
    /// TLS mode.
    pub sslmode: Option<SslMode>,
    /// Root certificate file for `verify-ca` / `verify-full`.
    pub sslrootcert: Option<PathBuf>,
    /// `application_name` reported to the server.
    pub application_name: Option<String>,
    /// Used when `application_name` is not set.
    pub fallback_application_name: Option<String>,
    /// Give up connecting after this long.
    pub connect_timeout: Option<Duration>,
    /// Command-line options sent to the server (`-c key=value ...`).
    pub options: Option<String>,
    /// Password file to read instead of `~/.pgpass`.
    pub passfile: Option<PathBuf>,
    /// Which server of several hosts is acceptable.
    pub target_session_attrs: Option<TargetSessionAttrs>,
}

impl ConnParams {
    /// Parses a `postgres://` / `postgresql://` URL or a libpq `key=value` string.
    ///
    /// Errors name the offending part and never repeat a password.
    pub fn parse(input: &str) -> Result<Self, PgError> {
        let trimmed = input.trim();
        let result = if let Some(rest) = trimmed
            .strip_prefix("postgresql://")
            .or_else(|| trimmed.strip_prefix("postgres://"))
        {
            parse_url(rest)
        } else if trimmed.contains("://") {
            Err(format!(
                "unsupported scheme `{}`; use postgres:// or postgresql://",
                trimmed.split("://").next().unwrap_or_default()
            ))
        } else if trimmed.is_empty() || trimmed.contains('=') {
            parse_key_values(trimmed)
        } else {
            Err("expected a postgres:// URL or key=value pairs".to_owned())
        };
        result.map_err(|reason| PgError::InvalidConnString {
            input: redact_conn_string(input),
            reason,
        })
    }

    fn set(&mut self, key: &str, value: String) -> Result<(), String> {
        match key {
            "host" | "hostaddr" => {
                self.hosts = value
                    .split(',')
                    .filter(|h| !h.is_empty())
                    .map(str::to_owned)
                    .collect()
            }
            "port" => {
                self.ports = value
                    .split(',')
                    .filter(|p| !p.is_empty())
                    .map(parse_port)
                    .collect::<Result<_, _>>()?
            }
            "user" => self.user = Some(value),
            "password" => self.password = Some(Password::new(value)),
            "dbname" => self.dbname = Some(value),
            "sslmode" => {
                self.sslmode = Some(SslMode::parse(&value).ok_or_else(|| {
                    format!(
                        "invalid sslmode `{value}`; expected disable, allow, prefer, require, \
                         verify-ca or verify-full"
                    )
                })?)
            }
            "sslrootcert" => self.sslrootcert = Some(PathBuf::from(value)),
            "application_name" => self.application_name = Some(value),
            "fallback_application_name" => self.fallback_application_name = Some(value),
            "connect_timeout" => {
                let secs: u64 = value.trim().parse().map_err(|_| {
                    format!("invalid connect_timeout `{value}`; expected whole seconds")
                })?;
                self.connect_timeout = Some(Duration::from_secs(secs));
            }
            "options" => self.options = Some(value),
            "passfile" => self.passfile = Some(PathBuf::from(value)),
            "target_session_attrs" => {
                self.target_session_attrs = Some(match value.as_str() {
                    "any" => TargetSessionAttrs::Any,
                    "read-write" => TargetSessionAttrs::ReadWrite,
                    other => {
                        return Err(format!(
                            "unsupported target_session_attrs `{other}`; expected any or read-write"
                        ))
                    }
                })
            }
            other => {
                return Err(format!(
                    "unknown or unsupported connection option `{other}`; supported: host, port, \
                     dbname, user, password, passfile, sslmode, sslrootcert, application_name, \
                     fallback_application_name, connect_timeout, options, target_session_attrs"
                ))
            }
        }
        Ok(())
    }
}

fn parse_port(text: &str) -> Result<u16, String> {
    match text.trim().parse::<u16>() {
        Ok(p) if p > 0 => Ok(p),
        _ => Err(format!(
            "invalid port `{text}`; expected a number from 1 to 65535"
        )),
    }
}

fn parse_url(rest: &str) -> Result<ConnParams, String> {
    let mut params = ConnParams::default();
    let (before_query, query) = match rest.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (rest, None),
    };
    let (netloc, path) = match before_query.split_once('/') {
        Some((n, p)) => (n, Some(p)),
        None => (before_query, None),
    };
    let hostspec = match netloc.rsplit_once('@') {
        Some((userinfo, hostspec)) => {
            let (user, password) = match userinfo.split_once(':') {
                Some((u, p)) => (u, Some(p)),
                None => (userinfo, None),
            };
            if !user.is_empty() {
                params.user = Some(percent_decode(user)?);
            }
            if let Some(p) = password {
                params.password = Some(Password::new(percent_decode(p)?));
            }
            hostspec
        }
        None => netloc,
    };
    if !hostspec.is_empty() {
        let mut ports = Vec::new();
        for part in hostspec.split(',') {
            let (host, port) = split_host_port(part)?;
            if !host.is_empty() {
                params.hosts.push(percent_decode(host)?);
            }
            if let Some(p) = port {
                ports.push(parse_port(p)?);
            }
        }
        params.ports = ports;
    }
    if let Some(path) = path {
        if !path.is_empty() {
            params.dbname = Some(percent_decode(path)?);
        }
    }
    if let Some(query) = query {
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair
                .split_once('=')
                .ok_or_else(|| format!("query parameter `{pair}` has no `=`"))?;
            params.set(&percent_decode(key)?, percent_decode(value)?)?;
        }
    }
    Ok(params)
}

fn split_host_port(part: &str) -> Result<(&str, Option<&str>), String> {
    if let Some(rest) = part.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| format!("unterminated IPv6 address in `{part}`"))?;
        return match after.strip_prefix(':') {
            Some(port) => Ok((host, Some(port))),
            None if after.is_empty() => Ok((host, None)),
            None => Err(format!("unexpected `{after}` after IPv6 address")),
        };
    }
    Ok(match part.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (part, None),
    })
}

fn percent_decode(text: &str) -> Result<String, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| "invalid percent-encoding (expected %XX)".to_owned())?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "percent-encoding does not decode to UTF-8".to_owned())
}

fn parse_key_values(input: &str) -> Result<ConnParams, String> {
    let mut params = ConnParams::default();
    let mut chars = input.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.peek().is_none() {
            break;
        }
        let mut key = String::new();
        while let Some(c) = chars.next_if(|c| *c != '=' && !c.is_whitespace()) {
            key.push(c);
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.next() != Some('=') {
            return Err(format!("missing `=` after `{key}`"));
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let mut value = String::new();
        if chars.next_if_eq(&'\'').is_some() {
            loop {
                match chars.next() {
                    Some('\\') => match chars.next() {
                        Some(c) => value.push(c),
                        None => return Err(format!("unterminated quoted value for `{key}`")),
                    },
                    Some('\'') => break,
                    Some(c) => value.push(c),
                    None => return Err(format!("unterminated quoted value for `{key}`")),
                }
            }
        } else {
            while let Some(c) = chars.next_if(|c| !c.is_whitespace()) {
                if c == '\\' {
                    if let Some(escaped) = chars.next() {
                        value.push(escaped);
                    }
                } else {
                    value.push(c);
                }
            }
        }
        params.set(&key, value)?;
    }
    Ok(params)
}

/// Replaces any password in a URL or `key=value` string by `***`, for error messages and logs.
///
/// Works on strings that do not parse, too: it only looks for `user:password@` and `password=`.
pub fn redact_conn_string(input: &str) -> String {
    let mut out = input.to_owned();
    if let Some(scheme_end) = out.find("://") {
        let after = scheme_end + 3;
        let netloc_end = out[after..]
            .find(['/', '?'])
            .map_or(out.len(), |i| after + i);
        if let Some(at) = out[after..netloc_end].rfind('@') {
            let userinfo = &out[after..after + at];
            if let Some(colon) = userinfo.find(':') {
                out.replace_range(after + colon + 1..after + at, "***");
            }
        }
    }
    redact_key(&out, "password=")
}

fn redact_key(input: &str, key: &str) -> String {
    let mut out = String::with_capacity(input.len());
    let mut rest = input;
    while let Some(pos) = rest.find(key) {
        let value_start = pos + key.len();
        out.push_str(&rest[..value_start]);
        out.push_str("***");
        let tail = &rest[value_start..];
        let end = if let Some(quoted) = tail.strip_prefix('\'') {
            quoted.find('\'').map_or(tail.len(), |i| i + 2)
        } else {
            tail.find(|c: char| c.is_whitespace() || c == '&')
                .unwrap_or(tail.len())
        };
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

/// Where to read environment variables and the home directory; tests pass a fixed map.
pub trait Environment {
    /// The value of variable `key`, if set and not empty.
    fn var(&self, key: &str) -> Option<String>;
    /// The current user's home directory.
    fn home_dir(&self) -> Option<PathBuf> {
        self.var("HOME").map(PathBuf::from)
    }
    /// The operating-system user name, libpq's default role name.
    fn os_user(&self) -> Option<String>;
}

/// The real process environment.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessEnv;

impl Environment for ProcessEnv {
    fn var(&self, key: &str) -> Option<String> {
        std::env::var(key).ok().filter(|v| !v.is_empty())
    }

    fn os_user(&self) -> Option<String> {
        current_os_user_name()
    }
}

impl Environment for HashMap<String, String> {
    fn var(&self, key: &str) -> Option<String> {
        self.get(key).filter(|v| !v.is_empty()).cloned()
    }

    fn os_user(&self) -> Option<String> {
        self.get("__OS_USER").cloned()
    }
}

/// The login name of the effective user, from the password database.
pub fn current_os_user_name() -> Option<String> {
    // SAFETY: getpwuid_r writes into our buffer and pwd; we only read them when it succeeded.
    unsafe {
        let mut pwd: libc::passwd = std::mem::zeroed();
        let mut buf = vec![0 as libc::c_char; 4096];
        let mut result: *mut libc::passwd = std::ptr::null_mut();
        let rc = libc::getpwuid_r(
            libc::geteuid(),
            &mut pwd,
            buf.as_mut_ptr(),
            buf.len(),
            &mut result,
        );
        if rc != 0 || result.is_null() {
            return None;
        }
        Some(
            std::ffi::CStr::from_ptr(pwd.pw_name)
                .to_string_lossy()
                .into_owned(),
        )
    }
}

/// Fully resolved settings: every field has its final value.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnConfig {
    /// Hosts to try in order; an absolute path is a socket directory.
    pub hosts: Vec<String>,
    /// Ports, one per host.
    pub ports: Vec<u16>,
    /// Role name.
    pub user: String,
    /// Database name.
    pub dbname: String,
    /// Password, if any was found.
    pub password: Option<Password>,
    /// Where the password came from.
    pub password_source: PasswordSource,
    /// TLS mode.
    pub sslmode: SslMode,
    /// Root certificates for verification.
    pub sslrootcert: Option<PathBuf>,
    /// `application_name`.
    pub application_name: Option<String>,
    /// Connect timeout.
    pub connect_timeout: Duration,
    /// Server command-line options.
    pub options: Option<String>,
    /// Which server of several hosts is acceptable.
    pub target_session_attrs: TargetSessionAttrs,
}

impl ConnConfig {
    /// Parses `input` and resolves it against the process environment.
    pub fn parse(input: &str) -> Result<Self, PgError> {
        Self::resolve(ConnParams::parse(input)?, &ProcessEnv)
    }

    /// Uses `url` when given, else `$DATABASE_URL`, else only the `PG*` variables and defaults.
    pub fn from_url_or_env(url: Option<&str>) -> Result<Self, PgError> {
        let from_env = ProcessEnv.var("DATABASE_URL");
        match url.or(from_env.as_deref()) {
            Some(u) => Self::parse(u),
            None => Self::resolve(ConnParams::default(), &ProcessEnv),
        }
    }

    /// Fills what `params` leaves unset from `env` (`PGHOST`, `PGPORT`, `PGUSER`, `PGDATABASE`,
    /// `PGPASSWORD`, `PGPASSFILE`, `PGSSLMODE`, `PGSSLROOTCERT`, `PGAPPNAME`, `PGCONNECT_TIMEOUT`,
    /// `PGOPTIONS`, `PGTARGETSESSIONATTRS`) and then from libpq's defaults, and looks up the
    /// password file when no password was given.
    pub fn resolve(params: ConnParams, env: &dyn Environment) -> Result<Self, PgError> {
        // Environment values are parsed with the same rules as a key=value string.
        let mut from_env = ConnParams::default();
        for (var, key) in [
            ("PGHOST", "host"),
            ("PGPORT", "port"),
            ("PGUSER", "user"),
            ("PGDATABASE", "dbname"),
            ("PGPASSFILE", "passfile"),
            ("PGSSLMODE", "sslmode"),
            ("PGSSLROOTCERT", "sslrootcert"),
            ("PGAPPNAME", "application_name"),
            ("PGCONNECT_TIMEOUT", "connect_timeout"),
            ("PGOPTIONS", "options"),
            ("PGTARGETSESSIONATTRS", "target_session_attrs"),
        ] {
            if let Some(value) = env.var(var) {
                from_env
                    .set(key, value)
                    .map_err(|reason| PgError::InvalidConnString {
                        input: format!("${var}"),
                        reason,
                    })?;
            }
        }

        let hosts = if !params.hosts.is_empty() {
            params.hosts
        } else if !from_env.hosts.is_empty() {
            from_env.hosts
        } else if Path::new(DEBIAN_SOCKET_DIR).is_dir() {
            vec![DEBIAN_SOCKET_DIR.to_owned()]
        } else {
            vec!["/tmp".to_owned()]
        };
        let mut ports = if !params.ports.is_empty() {
            params.ports
        } else if !from_env.ports.is_empty() {
            from_env.ports
        } else {
            vec![5432]
        };
        if ports.len() == 1 && hosts.len() > 1 {
            ports = vec![ports[0]; hosts.len()];
        }
        if ports.len() != hosts.len() {
            return Err(PgError::InvalidConnString {
                input: format!("{} host(s), {} port(s)", hosts.len(), ports.len()),
                reason: "give one port for all hosts or one port per host".to_owned(),
            });
        }
        let user = params
            .user
            .or(from_env.user)
            .or_else(|| env.os_user())
            .unwrap_or_else(|| "postgres".to_owned());
        let dbname = params
            .dbname
            .or(from_env.dbname)
            .unwrap_or_else(|| user.clone());

        let (password, password_source) = if let Some(p) = params.password {
            (Some(p), PasswordSource::ConnString)
        } else if let Some(p) = env.var("PGPASSWORD") {
            (Some(Password::new(p)), PasswordSource::Environment)
        } else {
            let file = params
                .passfile
                .or(from_env.passfile)
                .or_else(|| env.home_dir().map(|h| h.join(".pgpass")));
            match file.and_then(|f| pgpass::lookup(&f, &hosts[0], ports[0], &dbname, &user)) {
                Some(found) => (
                    Some(found.password),
                    PasswordSource::PasswordFile {
                        path: found.path,
                        line: found.line,
                    },
                ),
                None => (None, PasswordSource::None),
            }
        };

        let sslmode = params.sslmode.or(from_env.sslmode).unwrap_or_default();
        let sslrootcert = params.sslrootcert.or(from_env.sslrootcert).or_else(|| {
            env.home_dir()
                .map(|h| h.join(".postgresql/root.crt"))
                .filter(|p| p.exists())
        });
        Ok(ConnConfig {
            hosts,
            ports,
            user,
            dbname,
            password,
            password_source,
            sslmode,
            sslrootcert,
            application_name: params
                .application_name
                .or(from_env.application_name)
                .or(params.fallback_application_name),
            connect_timeout: params
                .connect_timeout
                .or(from_env.connect_timeout)
                .unwrap_or(DEFAULT_CONNECT_TIMEOUT),
            options: params.options.or(from_env.options),
            target_session_attrs: params
                .target_session_attrs
                .or(from_env.target_session_attrs)
                .unwrap_or_default(),
        })
    }

    /// The target for messages: `user@host:port/dbname` for each host, never the password.
    pub fn target(&self) -> String {
        let places: Vec<String> = self
            .hosts
            .iter()
            .zip(&self.ports)
            .map(|(h, p)| {
                if h.starts_with('/') {
                    format!("socket {h}/.s.PGSQL.{p}")
                } else {
                    format!("{h}:{p}")
                }
            })
            .collect();
        format!(
            "{} as user {:?} (database {:?})",
            places.join(", "),
            self.user,
            self.dbname
        )
    }
}

/// A URL that connects to the same place, with the password shown as `***` when there is one.
impl fmt::Display for ConnConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secret =
            if self.password.is_some() && self.password_source == PasswordSource::ConnString {
                ":***"
            } else {
                ""
            };
        let mut query = Vec::new();
        let tcp: Vec<String> = self
            .hosts
            .iter()
            .zip(&self.ports)
            .filter(|(h, _)| !h.starts_with('/'))
            .map(|(h, p)| format!("{h}:{p}"))
            .collect();
        if tcp.len() != self.hosts.len() {
            query.push(format!("host={}", self.hosts.join(",")));
            query.push(format!(
                "port={}",
                self.ports
                    .iter()
                    .map(u16::to_string)
                    .collect::<Vec<_>>()
                    .join(",")
            ));
        }
        if self.sslmode != SslMode::Prefer {
            query.push(format!("sslmode={}", self.sslmode.as_str()));
        }
        let netloc = if tcp.len() == self.hosts.len() {
            tcp.join(",")
        } else {
            String::new()
        };
        write!(
            f,
            "postgresql://{}{}@{}/{}",
            url_encode(&self.user),
            secret,
            netloc,
            url_encode(&self.dbname)
        )?;
        if !query.is_empty() {
            write!(f, "?{}", query.join("&"))?;
        }
        Ok(())
    }
}

fn url_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        let mut map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        map.insert("__OS_USER".into(), "alice".into());
        map
    }

    #[test]
    fn url_with_everything() {
        let p = ConnParams::parse(
            "postgresql://app:s%40cret@db.example.com:6543/speak%20friend?sslmode=verify-full&application_name=web",
        )
        .unwrap();
        assert_eq!(p.hosts, vec!["db.example.com"]);
        assert_eq!(p.ports, vec![6543]);
        assert_eq!(p.user.as_deref(), Some("app"));
        assert_eq!(p.password.as_ref().unwrap().expose(), "s@cret");
        assert_eq!(p.dbname.as_deref(), Some("speak friend"));
        assert_eq!(p.sslmode, Some(SslMode::VerifyFull));
        assert_eq!(p.application_name.as_deref(), Some("web"));
    }

    #[test]
    fn url_with_socket_multi_host_and_ipv6() {
        let p = ConnParams::parse("postgres://%2Ftmp%2Fsock:5433/db").unwrap();
        assert_eq!(p.hosts, vec!["/tmp/sock"]);
        let p = ConnParams::parse("postgres:///db?host=/run/pg&port=7000").unwrap();
        assert_eq!(
            (p.hosts.clone(), p.ports.clone()),
            (vec!["/run/pg".to_owned()], vec![7000])
        );
        let p = ConnParams::parse("postgres://a:1,b:2,[::1]:3/x").unwrap();
        assert_eq!(p.hosts, vec!["a", "b", "::1"]);
        assert_eq!(p.ports, vec![1, 2, 3]);
    }

    #[test]
    fn key_value_strings() {
        let p = ConnParams::parse(r"host=localhost port = 5433 dbname='my db' password='it\'s'")
            .unwrap();
        assert_eq!(p.hosts, vec!["localhost"]);
        assert_eq!(p.ports, vec![5433]);
        assert_eq!(p.dbname.as_deref(), Some("my db"));
        assert_eq!(p.password.as_ref().unwrap().expose(), "it's");
    }

    #[test]
    fn bad_inputs_say_what_is_wrong_without_the_password() {
        for (input, needle) in [
            (
                "postgres://u:pw@host:notaport/db",
                "invalid port `notaport`",
            ),
            ("postgres://u:pw@host:70000/db", "invalid port `70000`"),
            ("mysql://u:pw@host/db", "unsupported scheme `mysql`"),
            (
                "postgres://u:pw@host/db?sslmode=sometimes",
                "invalid sslmode",
            ),
            (
                "postgres://u:pw@host/db?colour=blue",
                "unknown or unsupported connection option `colour`",
            ),
            ("host=x password=pw port", "missing `=` after `port`"),
            ("postgres://u:pw@host/db%zz", "percent-encoding"),
            ("just some words", "expected a postgres:// URL"),
        ] {
            let err = ConnParams::parse(input).unwrap_err().to_string();
            assert!(err.contains(needle), "{input}: {err}");
            assert!(
                !err.contains("pw@") && !err.contains("=pw"),
                "password leaked: {err}"
            );
        }
    }

    #[test]
    fn redaction_covers_urls_and_key_values() {
        assert_eq!(
            redact_conn_string("postgres://app:hunter2@h/db"),
            "postgres://app:***@h/db"
        );
        assert_eq!(
            redact_conn_string("host=h password='a b' user=x"),
            "host=h password=*** user=x"
        );
        assert_eq!(
            redact_conn_string("postgres://h/db?password=hunter2&x=1"),
            "postgres://h/db?password=***&x=1"
        );
        assert_eq!(
            redact_conn_string("postgres://app@h/db"),
            "postgres://app@h/db"
        );
    }

    #[test]
    fn precedence_string_then_environment_then_defaults() {
        let e = env(&[
            ("PGHOST", "envhost"),
            ("PGPORT", "6000"),
            ("PGUSER", "envuser"),
            ("PGPASSWORD", "envpw"),
            ("PGSSLMODE", "require"),
        ]);
        let c =
            ConnConfig::resolve(ConnParams::parse("dbname=app port=7000").unwrap(), &e).unwrap();
        assert_eq!(c.hosts, vec!["envhost"]);
        assert_eq!(c.ports, vec![7000]);
        assert_eq!(c.user, "envuser");
        assert_eq!(c.dbname, "app");
        assert_eq!(c.password.as_ref().unwrap().expose(), "envpw");
        assert_eq!(c.password_source, PasswordSource::Environment);
        assert_eq!(c.sslmode, SslMode::Require);

        let c = ConnConfig::resolve(ConnParams::default(), &env(&[])).unwrap();
        assert_eq!(c.user, "alice");
        assert_eq!(c.dbname, "alice");
        assert_eq!(c.ports, vec![5432]);
        assert!(c.hosts[0].starts_with('/'));
        assert_eq!(c.password_source, PasswordSource::None);
    }

    #[test]
    fn bad_environment_variable_is_named() {
        let err = ConnConfig::resolve(ConnParams::default(), &env(&[("PGPORT", "x")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("$PGPORT"), "{err}");
    }

    #[test]
    fn display_never_shows_the_password() {
        let c = ConnConfig::resolve(
            ConnParams::parse("postgres://app:topsecret@db:5433/prod").unwrap(),
            &env(&[]),
        )
        .unwrap();
        assert_eq!(c.to_string(), "postgresql://app:***@db:5433/prod");
        assert!(!format!("{c:?}").contains("topsecret"));
        let c = ConnConfig::resolve(
            ConnParams::parse("host=/tmp/s port=5 user=u dbname=d").unwrap(),
            &env(&[]),
        )
        .unwrap();
        assert_eq!(c.to_string(), "postgresql://u@/d?host=/tmp/s&port=5");
    }
}
