//! Installing the store: `sql/store.sql` rendered for a schema, roles and policy.

use std::time::Duration;

use postgres::Client;
use retort_pg::{quote_ident, quote_literal};

use crate::error::ShadowError;
use crate::protocol::Mode;
use crate::scram::Argon2Params;

/// The store's schema, roles and tables, with `{{...}}` placeholders; what is tested is what ships.
pub const STORE_SQL: &str = include_str!("../sql/store.sql");
/// The store's functions and grants (after [`STORE_SQL`] on install, after the upgrade steps on
/// upgrade, so both end in the same store).
pub const FUNCTIONS_SQL: &str = include_str!("../sql/functions.sql");
/// From version 1 to version 2, before [`FUNCTIONS_SQL`].
pub const UPGRADE_V1_SQL: &str = include_str!("../sql/upgrade_v1.sql");
/// The version 1 store, kept so that tests can build one and upgrade it.
#[doc(hidden)]
pub const STORE_V1_SQL: &str = include_str!("../sql/store_v1.sql");

/// The version of the store this crate installs (`settings.store_version`).
pub const STORE_VERSION: i32 = 2;

/// Where and how to install the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstallOptions {
    /// Schema of the store (default `shadow`).
    pub schema: String,
    /// NOLOGIN role that owns everything (default `shadow_owner`; created when missing).
    pub owner_role: String,
    /// The application's login role, which may log users in, enrol new users, change a password
    /// with proof of the current one and redeem reset tokens (must exist).
    pub app_role: String,
    /// The role that may also set any password, lock, unlock, delete, issue reset tokens and
    /// import hashes (default `shadow_admin`; created NOLOGIN when missing; grant it to operators).
    pub admin_role: String,
    /// Schema pgcrypto lives in (or is created in).
    pub pgcrypto_schema: String,
    /// Mode for new passwords.
    pub mode: Mode,
    /// argon2id parameters for new verifiers (default: OWASP's).
    pub argon2: Argon2Params,
    /// bcrypt cost (default 12).
    pub bcrypt_cost: u32,
    /// Failures in a row that lock an account (default 5).
    pub max_failures: u32,
    /// How long an account stays locked (default 15 minutes).
    pub lockout: Duration,
}

impl InstallOptions {
    /// Defaults for `app_role`: schema `shadow`, owner `shadow_owner`, pgcrypto in `public`,
    /// `scram-argon2` with OWASP's argon2id parameters, bcrypt cost 12, 5 failures lock for 15 min.
    pub fn new(app_role: &str) -> InstallOptions {
        InstallOptions {
            schema: "shadow".into(),
            owner_role: "shadow_owner".into(),
            app_role: app_role.into(),
            admin_role: "shadow_admin".into(),
            pgcrypto_schema: "public".into(),
            mode: Mode::ScramArgon2,
            argon2: Argon2Params::OWASP,
            bcrypt_cost: 12,
            max_failures: 5,
            lockout: Duration::from_secs(15 * 60),
        }
    }

    fn check(&self) -> Result<(), ShadowError> {
        for (what, v) in [
            ("schema", &self.schema),
            ("owner role", &self.owner_role),
            ("app role", &self.app_role),
            ("admin role", &self.admin_role),
            ("pgcrypto schema", &self.pgcrypto_schema),
        ] {
            if v.is_empty() {
                return Err(ShadowError::Option(format!("the {what} must not be empty")));
            }
        }
        if !(4..=31).contains(&self.bcrypt_cost) {
            return Err(ShadowError::Option(format!(
                "bcrypt cost {} is outside 4..=31",
                self.bcrypt_cost
            )));
        }
        let a = self.argon2;
        argon2::Params::new(a.m_kib, a.t, a.p, Some(32)).map_err(|e| {
            ShadowError::Option(format!("argon2id m={}, t={}, p={}: {e}", a.m_kib, a.t, a.p))
        })?;
        if a.m_kib > i32::MAX as u32 || a.t > i32::MAX as u32 || a.p > i32::MAX as u32 {
            return Err(ShadowError::Option("argon2id parameters too large".into()));
        }
        if self.max_failures == 0 || self.max_failures > i32::MAX as u32 {
            return Err(ShadowError::Option(
                "max failures must be at least 1".into(),
            ));
        }
        if self.lockout.is_zero() {
            return Err(ShadowError::Option(
                "the lockout must be longer than 0".into(),
            ));
        }
        Ok(())
    }

    /// The install SQL for these options: one script, safe to run in one transaction.
    pub fn render(&self) -> Result<String, ShadowError> {
        self.check()?;
        let r = self.replacements();
        Ok(render_template(STORE_SQL, &r) + "\n" + &render_template(FUNCTIONS_SQL, &r))
    }

    /// The SQL that moves a version 1 store to this version in place, in one transaction: users
    /// keep their verifiers, the application role loses the admin functions. It refuses (raises)
    /// on a store at any other version. Only names are used from these options; the store keeps
    /// its policy.
    pub fn render_upgrade_from_v1(&self) -> Result<String, ShadowError> {
        self.check()?;
        let r = self.replacements();
        Ok(render_template(UPGRADE_V1_SQL, &r) + "\n" + &render_template(FUNCTIONS_SQL, &r))
    }

    /// The version 1 store (tests build one to upgrade it).
    #[doc(hidden)]
    pub fn render_v1(&self) -> Result<String, ShadowError> {
        self.check()?;
        Ok(render_template(STORE_V1_SQL, &self.replacements()))
    }

    fn replacements(&self) -> Vec<(&'static str, String)> {
        vec![
            ("schema", quote_ident(&self.schema)),
            ("schema_lit", quote_literal(&self.schema)),
            ("admin_role", quote_ident(&self.admin_role)),
            ("admin_role_lit", quote_literal(&self.admin_role)),
            ("owner", quote_ident(&self.owner_role)),
            ("owner_lit", quote_literal(&self.owner_role)),
            ("app_role", quote_ident(&self.app_role)),
            ("app_role_lit", quote_literal(&self.app_role)),
            ("pgcrypto", quote_ident(&self.pgcrypto_schema)),
            ("pgcrypto_lit", quote_literal(&self.pgcrypto_schema)),
            ("mode_lit", quote_literal(self.mode.as_str())),
            ("argon2_m_kib", self.argon2.m_kib.to_string()),
            ("argon2_t", self.argon2.t.to_string()),
            ("argon2_p", self.argon2.p.to_string()),
            ("bcrypt_cost", self.bcrypt_cost.to_string()),
            ("max_failures", self.max_failures.to_string()),
            (
                "lockout_lit",
                quote_literal(&format!("{} milliseconds", self.lockout.as_millis())),
            ),
        ]
    }

    /// SQL that removes the store (its schema and everything in it). The owner role is left:
    /// roles belong to the whole cluster and may own things in other databases.
    pub fn render_uninstall(&self) -> String {
        format!("DROP SCHEMA {} CASCADE;\n", quote_ident(&self.schema))
    }
}

/// Replaces each `{{key}}` in one pass, so a value that itself looks like a placeholder (a role
/// named `{{schema}}`) is never expanded again. Unknown keys are left as they are.
fn render_template(template: &str, replacements: &[(&'static str, String)]) -> String {
    let mut out = String::with_capacity(template.len() + 1024);
    let mut rest = template;
    while let Some(open) = rest.find("{{") {
        out.push_str(&rest[..open]);
        let after = &rest[open + 2..];
        let value = after.find("}}").and_then(|close| {
            let key = &after[..close];
            replacements
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, v)| (v, close))
        });
        match value {
            Some((v, close)) => {
                out.push_str(v);
                rest = &after[close + 2..];
            }
            None => {
                out.push_str("{{");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The schema pgcrypto is installed in, if it is.
pub fn pgcrypto_schema(client: &mut Client) -> Result<Option<String>, ShadowError> {
    let row = client
        .query_opt(
            "SELECT n.nspname::text FROM pg_catalog.pg_extension e \
             JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pgcrypto'",
            &[],
        )
        .map_err(retort_pg::PgError::from)?;
    Ok(row.map(|r| r.get(0)))
}

/// Installs the store in one transaction: everything or nothing.
pub fn install(client: &mut Client, options: &InstallOptions) -> Result<(), ShadowError> {
    let sql = options.render()?;
    run_in_transaction(client, &sql)
}

fn run_in_transaction(client: &mut Client, sql: &str) -> Result<(), ShadowError> {
    let mut tx = client.transaction().map_err(retort_pg::PgError::from)?;
    tx.batch_execute(sql).map_err(retort_pg::PgError::from)?;
    tx.commit().map_err(retort_pg::PgError::from)?;
    Ok(())
}

/// The version of the store in `schema` (`settings.store_version`), None when there is no store.
/// Needs a role that can read the settings table (its owner or a superuser).
pub fn store_version(client: &mut Client, schema: &str) -> Result<Option<i32>, ShadowError> {
    let exists = client
        .query_opt(
            "SELECT FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = $1 AND c.relname = 'settings'",
            &[&schema],
        )
        .map_err(retort_pg::PgError::from)?;
    if exists.is_none() {
        return Ok(None);
    }
    let row = client
        .query_one(
            &format!("SELECT store_version FROM {}.settings", quote_ident(schema)),
            &[],
        )
        .map_err(retort_pg::PgError::from)?;
    Ok(Some(row.get(0)))
}

/// What [`upgrade`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upgraded {
    /// The store was at `from` and is now at [`STORE_VERSION`].
    From(i32),
    /// The store already was at [`STORE_VERSION`]; nothing ran.
    AlreadyCurrent,
}

/// Moves the store in `options.schema` to [`STORE_VERSION`] in one transaction, in place.
pub fn upgrade(client: &mut Client, options: &InstallOptions) -> Result<Upgraded, ShadowError> {
    match store_version(client, &options.schema)? {
        None => Err(ShadowError::NotInstalled {
            schema: options.schema.clone(),
            reason: "there is no settings table in it".into(),
        }),
        Some(STORE_VERSION) => Ok(Upgraded::AlreadyCurrent),
        Some(1) => {
            run_in_transaction(client, &options.render_upgrade_from_v1()?)?;
            Ok(Upgraded::From(1))
        }
        Some(v) => Err(ShadowError::Option(format!(
            "the store in schema {:?} is at version {v}, which this retort (store version {STORE_VERSION}) does not know; use a newer retort",
            options.schema
        ))),
    }
}

/// Who may execute a function of the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Capability {
    /// No one: the other functions' building blocks.
    Internal,
    /// The application role (and the admin role): log in, enrol, change with proof, redeem a token.
    App,
    /// The admin role only: set any password, lock, unlock, delete, issue reset tokens, import.
    Admin,
}

/// One function of the store as shipped: name, argument types as `oidvectortypes` prints
/// them, who may execute it, and its body for `schema`/`pgcrypto`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShippedFunction {
    /// Function name.
    pub name: &'static str,
    /// Argument types, e.g. `text, boolean`.
    pub args: &'static str,
    /// Who may execute it.
    pub capability: Capability,
    /// The body (`prosrc`) as installed.
    pub body: String,
}

const FUNCTIONS: &[(&str, &str, Capability)] = &[
    ("record_attempt", "text, boolean", Capability::Internal),
    (
        "store_scram",
        "text, bytea, integer, integer, integer, bytea, bytea, text",
        Capability::Internal,
    ),
    ("store_bcrypt", "text, text, text", Capability::Internal),
    ("issue_token", "text, text, interval", Capability::Internal),
    ("consume_token", "text, text", Capability::Internal),
    (
        "check_scram_proof",
        "text, bytea, bytea, bytea",
        Capability::Internal,
    ),
    ("check_bcrypt_password", "text, text", Capability::Internal),
    ("parameters", "", Capability::App),
    ("begin_login", "text", Capability::App),
    ("finish_login", "text, bytea, bytea, bytea", Capability::App),
    ("check_bcrypt", "text, text", Capability::App),
    ("needs_rehash", "text", Capability::App),
    (
        "enrol_scram",
        "text, bytea, integer, integer, integer, bytea, bytea",
        Capability::App,
    ),
    ("enrol_bcrypt", "text, text", Capability::App),
    (
        "change_scram",
        "text, bytea, bytea, bytea, bytea, integer, integer, integer, bytea, bytea",
        Capability::App,
    ),
    ("change_bcrypt", "text, text, text", Capability::App),
    (
        "replace_scram",
        "text, text, bytea, integer, integer, integer, bytea, bytea",
        Capability::App,
    ),
    ("replace_bcrypt", "text, text, text", Capability::App),
    (
        "set_scram",
        "text, bytea, integer, integer, integer, bytea, bytea",
        Capability::Admin,
    ),
    ("set_bcrypt", "text, text", Capability::Admin),
    ("lock", "text, timestamp with time zone", Capability::Admin),
    ("unlock", "text", Capability::Admin),
    ("delete", "text", Capability::Admin),
    ("issue_reset_token", "text, interval", Capability::Admin),
    ("import_bcrypt", "text[], text[]", Capability::Admin),
];

/// The functions the store ships, with their bodies rendered for `schema` and `pgcrypto_schema`.
pub fn shipped_functions(schema: &str, pgcrypto_schema: &str) -> Vec<ShippedFunction> {
    let mut opts = InstallOptions::new("app");
    opts.schema = schema.into();
    opts.pgcrypto_schema = pgcrypto_schema.into();
    let sql = render_template(FUNCTIONS_SQL, &opts.replacements());
    let prefix = format!("CREATE FUNCTION {}.", quote_ident(schema));
    FUNCTIONS
        .iter()
        .map(|&(name, args, capability)| {
            let body = sql
                .find(&format!("{prefix}{name}("))
                .and_then(|at| {
                    let rest = &sql[at..];
                    let start = rest.find("$fn$")? + 4;
                    let len = rest[start..].find("$fn$")?;
                    Some(rest[start..start + len].to_owned())
                })
                .unwrap_or_default();
            ShippedFunction {
                name,
                args,
                capability,
                body,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_placeholder_is_rendered_and_names_are_quoted() {
        let mut o = InstallOptions::new("web app\"; DROP TABLE x; --");
        o.schema = "Shadow Store".into();
        let sql = o.render().unwrap();
        assert!(!sql.contains("{{"));
        assert!(sql.contains("CREATE SCHEMA \"Shadow Store\" AUTHORIZATION shadow_owner;"));
        assert!(sql.contains("TO \"web app\"\"; DROP TABLE x; --\", shadow_admin;"));
        let rendered_keys = STORE_SQL.matches("{{").count() + FUNCTIONS_SQL.matches("{{").count();
        assert!(rendered_keys > 50);
        let up = o.render_upgrade_from_v1().unwrap();
        assert!(!up.contains("{{"));
        assert!(o.render_v1().unwrap().contains("VALUES (1, "));
    }

    #[test]
    fn a_value_that_looks_like_a_placeholder_is_not_expanded() {
        let o = InstallOptions::new("{{schema}}");
        let sql = o.render().unwrap();
        assert!(sql.contains("GRANT USAGE ON SCHEMA shadow TO \"{{schema}}\", shadow_admin;"));
        assert!(!sql.contains("{{owner}}"));
    }

    #[test]
    fn every_shipped_function_has_a_body_and_every_created_function_is_listed() {
        let fns = shipped_functions("shadow", "public");
        for f in &fns {
            assert!(f.body.contains("shadow"), "{} has no body", f.name);
        }
        let created = FUNCTIONS_SQL.matches("CREATE FUNCTION").count();
        assert_eq!(created, fns.len());
        assert_eq!(STORE_SQL.matches("CREATE FUNCTION").count(), 0);
        // Every function has an owner line, and the grants name exactly the non-internal ones.
        for f in &fns {
            let sig = format!(
                "{{{{schema}}}}.{}({})",
                f.name,
                f.args.replace("timestamp with time zone", "timestamptz")
            );
            assert!(
                FUNCTIONS_SQL.contains(&format!("ALTER FUNCTION {sig} OWNER")),
                "{sig}"
            );
            let granted = FUNCTIONS_SQL.matches(&format!("    {sig}")).count();
            assert_eq!(
                granted,
                usize::from(f.capability != Capability::Internal),
                "{sig}"
            );
        }
    }

    #[test]
    fn bad_options_are_refused() {
        let mut o = InstallOptions::new("app");
        o.bcrypt_cost = 3;
        assert!(matches!(o.render(), Err(ShadowError::Option(_))));
        let mut o = InstallOptions::new("app");
        o.argon2.m_kib = 1;
        assert!(matches!(o.render(), Err(ShadowError::Option(_))));
        let mut o = InstallOptions::new("");
        assert!(o.render().is_err());
        o.app_role = "app".into();
        o.max_failures = 0;
        assert!(o.render().is_err());
    }
}
