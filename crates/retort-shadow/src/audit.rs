//! `retort shadow audit`: is the store on a live database still what it promises?

use postgres::Client;
use retort_pg::PgError;

use crate::error::ShadowError;
use std::collections::BTreeMap;

use crate::install::{shipped_functions, Capability};

/// One thing wrong (a finding) or risky (a warning).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Stable identifier, e.g. `app-table-privilege`.
    pub code: &'static str,
    /// The object it is about, e.g. `shadow.passwords`.
    pub object: String,
    /// What is wrong.
    pub message: String,
    /// What to do.
    pub fix: String,
}

/// What an audit found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditReport {
    /// The store is not what it should be: each is a way to read or bypass the hashes.
    pub findings: Vec<Finding>,
    /// Settings that may write secrets to the server log.
    pub warnings: Vec<Finding>,
    /// The store's owner role, when the store exists.
    pub owner: Option<String>,
}

impl AuditReport {
    /// True when nothing is wrong (warnings do not count).
    pub fn passed(&self) -> bool {
        self.findings.is_empty()
    }
}

const TABLES: &[&str] = &["nonces", "passwords", "settings", "tokens"];

fn finding(code: &'static str, object: String, message: String, fix: String) -> Finding {
    Finding {
        code,
        object,
        message,
        fix,
    }
}

/// Audits the store in `schema` for `app_role` and `admin_role`. Read-only; needs a role that
/// can read the catalogs (any role can).
pub fn audit(
    client: &mut Client,
    schema: &str,
    app_role: &str,
    admin_role: &str,
) -> Result<AuditReport, ShadowError> {
    let mut report = AuditReport::default();
    let q = |s: &str| {
        format!(
            "{}.{}",
            retort_pg::quote_ident(schema),
            retort_pg::quote_ident(s)
        )
    };

    let app = client
        .query_opt(
            "SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = $1",
            &[&app_role],
        )
        .map_err(PgError::from)?;
    let Some(app) = app else {
        report.findings.push(finding(
            "app-role-missing",
            app_role.into(),
            format!("the application role {app_role:?} does not exist"),
            "pass the role the application logs in as (--app-role)".into(),
        ));
        return Ok(report);
    };
    if app.get::<_, bool>(0) {
        report.findings.push(finding(
            "app-role-superuser",
            app_role.into(),
            format!("the application role {app_role:?} is a superuser and can read every table"),
            format!(
                "ALTER ROLE {} NOSUPERUSER",
                retort_pg::quote_ident(app_role)
            ),
        ));
    }

    let ns = client
        .query_opt(
            "SELECT n.oid, pg_catalog.pg_get_userbyid(n.nspowner)::text, \
                    pg_catalog.has_schema_privilege($2, n.oid, 'CREATE'), \
                    EXISTS (SELECT FROM pg_catalog.aclexplode(n.nspacl) a WHERE a.grantee = 0) \
             FROM pg_catalog.pg_namespace n WHERE n.nspname = $1",
            &[&schema, &app_role],
        )
        .map_err(PgError::from)?;
    let Some(ns) = ns else {
        report.findings.push(finding(
            "not-installed",
            schema.into(),
            format!("there is no schema {schema:?}"),
            "retort shadow install --app-role ROLE".into(),
        ));
        return Ok(report);
    };
    let ns_oid: postgres::types::Oid = ns.get(0);
    if ns.get::<_, bool>(2) {
        report.findings.push(finding(
            "app-schema-create",
            schema.into(),
            format!("{app_role:?} can create objects in the store's schema"),
            format!(
                "REVOKE CREATE ON SCHEMA {} FROM {}",
                retort_pg::quote_ident(schema),
                retort_pg::quote_ident(app_role)
            ),
        ));
    }
    if ns.get::<_, bool>(3) {
        report.findings.push(finding(
            "public-schema-grant",
            schema.into(),
            "PUBLIC has privileges on the store's schema".into(),
            format!(
                "REVOKE ALL ON SCHEMA {} FROM PUBLIC",
                retort_pg::quote_ident(schema)
            ),
        ));
    }

    // The owner is the owner of the passwords table (else the schema's).
    let owner_row = client
        .query_opt(
            "SELECT pg_catalog.pg_get_userbyid(c.relowner)::text FROM pg_catalog.pg_class c \
             WHERE c.relnamespace = $1 AND c.relname = 'passwords'",
            &[&ns_oid],
        )
        .map_err(PgError::from)?;
    let owner: String = owner_row.map(|r| r.get(0)).unwrap_or_else(|| ns.get(1));
    report.owner = Some(owner.clone());
    let o = client
        .query_one(
            "SELECT r.rolcanlogin, pg_catalog.pg_has_role($2, r.oid, 'MEMBER') \
             FROM pg_catalog.pg_roles r WHERE r.rolname = $1",
            &[&owner, &app_role],
        )
        .map_err(PgError::from)?;
    if owner == app_role {
        report.findings.push(finding(
            "app-owns-store",
            schema.into(),
            format!("the store is owned by the application role {app_role:?}"),
            "reinstall with a separate NOLOGIN owner (--owner-role)".into(),
        ));
    } else if o.get::<_, bool>(1) {
        report.findings.push(finding(
            "app-member-of-owner",
            owner.clone(),
            format!("{app_role:?} is a member of the store's owner {owner:?} and so can read the hashes"),
            format!(
                "REVOKE {} FROM {}",
                retort_pg::quote_ident(&owner),
                retort_pg::quote_ident(app_role)
            ),
        ));
    }
    if o.get::<_, bool>(0) {
        report.findings.push(finding(
            "owner-can-login",
            owner.clone(),
            format!("the store's owner {owner:?} can log in"),
            format!("ALTER ROLE {} NOLOGIN", retort_pg::quote_ident(&owner)),
        ));
    }

    let names = audit_tables(client, schema, ns_oid, &owner, app_role, &mut report)?;

    // A version 1 store: the application role holds the admin functions. One finding says so.
    if !names.iter().any(|n| n == "tokens") && names.iter().any(|n| n == "passwords") {
        report.findings.retain(|f| f.object != q("tokens"));
        report.findings.push(finding(
            "store-version-1",
            schema.into(),
            format!(
                "the store in schema {schema:?} is version 1: {app_role:?} can set any user's \
                 password, lock, unlock and delete accounts (and so reset the lockout counter)"
            ),
            "retort shadow upgrade (or --emit-migration to version it with your migrations)".into(),
        ));
        audit_settings(client, app_role, &mut report)?;
        return Ok(report);
    }

    audit_functions(
        client,
        schema,
        ns_oid,
        &owner,
        app_role,
        admin_role,
        &mut report,
    )?;
    audit_settings(client, app_role, &mut report)?;
    if report
        .findings
        .iter()
        .any(|f| matches!(f.code, "app-member-of-owner" | "app-owns-store"))
    {
        // Every privilege of the owner follows from that one finding; listing them would bury it.
        report.findings.retain(|f| {
            !matches!(
                f.code,
                "app-schema-create"
                    | "app-table-privilege"
                    | "app-column-privilege"
                    | "app-internal-execute"
                    | "app-admin-execute"
                    | "app-admin-via-membership"
            )
        });
    }
    Ok(report)
}

/// The store's tables: each present, owned by the store's owner, with nothing granted to the
/// app role, PUBLIC or any other role; nothing else in the schema. Returns the tables found.
fn audit_tables(
    client: &mut Client,
    schema: &str,
    ns_oid: postgres::types::Oid,
    owner: &str,
    app_role: &str,
    report: &mut AuditReport,
) -> Result<Vec<String>, ShadowError> {
    let q = |s: &str| {
        format!(
            "{}.{}",
            retort_pg::quote_ident(schema),
            retort_pg::quote_ident(s)
        )
    };
    // Tables: present, owned by the owner, nothing for the app role or PUBLIC.
    let rows = client
        .query(
            "SELECT c.relname::text, pg_catalog.pg_get_userbyid(c.relowner)::text, \
                    array_remove(ARRAY[ \
                      CASE WHEN pg_catalog.has_table_privilege($2, c.oid, 'SELECT') THEN 'SELECT' END, \
                      CASE WHEN pg_catalog.has_table_privilege($2, c.oid, 'INSERT') THEN 'INSERT' END, \
                      CASE WHEN pg_catalog.has_table_privilege($2, c.oid, 'UPDATE') THEN 'UPDATE' END, \
                      CASE WHEN pg_catalog.has_table_privilege($2, c.oid, 'DELETE') THEN 'DELETE' END, \
                      CASE WHEN pg_catalog.has_table_privilege($2, c.oid, 'TRUNCATE') THEN 'TRUNCATE' END, \
                      CASE WHEN pg_catalog.has_table_privilege($2, c.oid, 'REFERENCES') THEN 'REFERENCES' END, \
                      CASE WHEN pg_catalog.has_table_privilege($2, c.oid, 'TRIGGER') THEN 'TRIGGER' END], NULL), \
                    pg_catalog.has_any_column_privilege($2, c.oid, 'SELECT, INSERT, UPDATE, REFERENCES'), \
                    EXISTS (SELECT FROM pg_catalog.aclexplode(c.relacl) a WHERE a.grantee = 0), \
                    ARRAY(SELECT DISTINCT pg_catalog.pg_get_userbyid(a.grantee)::text \
                          FROM pg_catalog.aclexplode(c.relacl) a \
                          WHERE a.grantee NOT IN (0, c.relowner) \
                            AND pg_catalog.pg_get_userbyid(a.grantee) <> $2 ORDER BY 1) \
             FROM pg_catalog.pg_class c WHERE c.relnamespace = $1 AND c.relkind IN ('r', 'p') \
             ORDER BY 1",
            &[&ns_oid, &app_role],
        )
        .map_err(PgError::from)?;
    for table in TABLES {
        let Some(row) = rows.iter().find(|r| r.get::<_, String>(0) == *table) else {
            report.findings.push(finding(
                "missing-object",
                q(table),
                format!("table {} is missing", q(table)),
                "reinstall the store".into(),
            ));
            continue;
        };
        let table_owner: String = row.get(1);
        if table_owner != owner {
            report.findings.push(finding(
                "wrong-owner",
                q(table),
                format!(
                    "{} is owned by {table_owner:?}, not by the store's owner {owner:?}",
                    q(table)
                ),
                format!(
                    "ALTER TABLE {} OWNER TO {}",
                    q(table),
                    retort_pg::quote_ident(owner)
                ),
            ));
        }
        let privs: Vec<String> = row.get(2);
        let column_privs: bool = row.get(3);
        if !privs.is_empty() {
            report.findings.push(finding(
                "app-table-privilege",
                q(table),
                format!("{app_role:?} has {} on {}", privs.join(", "), q(table)),
                format!(
                    "REVOKE ALL ON {} FROM {}",
                    q(table),
                    retort_pg::quote_ident(app_role)
                ),
            ));
        } else if column_privs {
            report.findings.push(finding(
                "app-column-privilege",
                q(table),
                format!("{app_role:?} has column privileges on {}", q(table)),
                format!(
                    "REVOKE ALL ({}) ON {} FROM {} for each granted column",
                    "column",
                    q(table),
                    retort_pg::quote_ident(app_role)
                ),
            ));
        }
        if row.get::<_, bool>(4) {
            report.findings.push(finding(
                "public-table-grant",
                q(table),
                format!("PUBLIC has privileges on {}", q(table)),
                format!("REVOKE ALL ON {} FROM PUBLIC", q(table)),
            ));
        }
        let others: Vec<String> = row.get(5);
        if !others.is_empty() {
            report.findings.push(finding(
                "table-grant-to-other-role",
                q(table),
                format!(
                    "{} {} privileges on {}: only the store's owner may touch its tables{}",
                    others.iter().map(|r| format!("{r:?}")).collect::<Vec<_>>().join(", "),
                    if others.len() == 1 { "has" } else { "have" },
                    q(table),
                    if *table == "tokens" { " (a token table readable by others gives away reset and rehash tokens' hashes and who has one)" } else { "" }
                ),
                format!(
                    "REVOKE ALL ON {} FROM {}",
                    q(table),
                    others.iter().map(|r| retort_pg::quote_ident(r)).collect::<Vec<_>>().join(", ")
                ),
            ));
        }
    }
    for row in &rows {
        let name: String = row.get(0);
        if !TABLES.contains(&name.as_str()) {
            report.findings.push(finding(
                "unexpected-object",
                q(&name),
                format!("table {} is not part of the store", q(&name)),
                "move it out of the store's schema".into(),
            ));
        }
    }

    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// Server settings that write statements, and so secrets, to the log.
fn audit_settings(
    client: &mut Client,
    app_role: &str,
    report: &mut AuditReport,
) -> Result<(), ShadowError> {
    let settings = client
        .query(
            "SELECT name, setting FROM pg_catalog.pg_settings WHERE name IN \
             ('log_statement', 'log_min_duration_statement', 'log_parameter_max_length', \
              'log_parameter_max_length_on_error') ORDER BY name",
            &[],
        )
        .map_err(PgError::from)?;
    for row in settings {
        let (name, value): (String, String) = (row.get(0), row.get(1));
        let risky = match name.as_str() {
            "log_statement" => value == "all",
            "log_min_duration_statement" => value.parse::<i64>().map(|v| v >= 0).unwrap_or(false),
            "log_parameter_max_length_on_error" => value != "0",
            _ => false,
        };
        if risky {
            report.warnings.push(finding(
                "logs-statements",
                name.clone(),
                format!(
                    "{name} = {value}: the server log records the store's calls and their \
                     parameters. In bcrypt mode that is the password itself; in scram-argon2 \
                     mode a logged set_scram call shows the verifier, which costs an attacker \
                     the same offline work as the table (logins cannot be replayed)"
                ),
                format!(
                    "ALTER SYSTEM SET {name} = DEFAULT, or ALTER ROLE {} SET {name} = ... for the \
                     application role",
                    retort_pg::quote_ident(app_role)
                ),
            ));
        }
    }
    Ok(())
}

/// Functions: each shipped one present, unchanged, SECURITY DEFINER, search_path pinned, owned
/// by the owner, not executable by PUBLIC; executable by the application role and the admin role
/// exactly where their capabilities say, and by nobody else where that matters.
fn audit_functions(
    client: &mut Client,
    schema: &str,
    ns_oid: postgres::types::Oid,
    owner: &str,
    app_role: &str,
    admin_role: &str,
    report: &mut AuditReport,
) -> Result<(), ShadowError> {
    let q = |s: &str| {
        format!(
            "{}.{}",
            retort_pg::quote_ident(schema),
            retort_pg::quote_ident(s)
        )
    };
    let crypto: Option<String> = client
        .query_opt(
            "SELECT n.nspname::text FROM pg_catalog.pg_extension e \
             JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pgcrypto'",
            &[],
        )
        .map_err(PgError::from)?
        .map(|r| r.get(0));
    let admin_exists = client
        .query_opt(
            "SELECT FROM pg_catalog.pg_roles WHERE rolname = $1",
            &[&admin_role],
        )
        .map_err(PgError::from)?
        .is_some();
    let shipped = shipped_functions(schema, crypto.as_deref().unwrap_or("public"));
    // Columns: name, args, security definer, config, owner, body, PUBLIC may execute, the app
    // may execute, granted to the app itself, roles the app inherits it through, the admin may
    // execute.
    let rows = client
        .query(
            "SELECT p.proname::text, pg_catalog.oidvectortypes(p.proargtypes), p.prosecdef, \
                    coalesce(p.proconfig, '{}'::text[]), pg_catalog.pg_get_userbyid(p.proowner)::text, \
                    p.prosrc, \
                    p.proacl IS NULL OR EXISTS (SELECT FROM pg_catalog.aclexplode(p.proacl) a \
                                                WHERE a.grantee = 0 AND a.privilege_type = 'EXECUTE'), \
                    pg_catalog.has_function_privilege($2, p.oid, 'EXECUTE'), \
                    EXISTS (SELECT FROM pg_catalog.aclexplode(p.proacl) a JOIN pg_catalog.pg_roles r ON r.oid = a.grantee \
                            WHERE r.rolname = $2 AND a.privilege_type = 'EXECUTE'), \
                    ARRAY(SELECT DISTINCT r.rolname::text FROM pg_catalog.aclexplode(p.proacl) a \
                          JOIN pg_catalog.pg_roles r ON r.oid = a.grantee \
                          WHERE a.privilege_type = 'EXECUTE' AND r.rolname <> $2 \
                            AND pg_catalog.pg_has_role($2, r.oid, 'USAGE') ORDER BY 1), \
                    $3 AND pg_catalog.has_function_privilege($4, p.oid, 'EXECUTE') \
             FROM pg_catalog.pg_proc p WHERE p.pronamespace = $1 ORDER BY 1, 2",
            &[&ns_oid, &app_role, &admin_exists, &admin_role],
        )
        .map_err(PgError::from)?;
    // Roles the app inherits a privilege through, with what they give it.
    let mut inherited: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for f in &shipped {
        let sig = format!("{}({})", q(f.name), f.args);
        let Some(row) = rows
            .iter()
            .find(|r| r.get::<_, String>(0) == f.name && r.get::<_, String>(1) == f.args)
        else {
            report.findings.push(finding(
                "missing-object",
                sig.clone(),
                format!("function {sig} is missing"),
                "reinstall the store".into(),
            ));
            continue;
        };
        if !row.get::<_, bool>(2) {
            report.findings.push(finding(
                "not-security-definer",
                sig.clone(),
                format!("{sig} is not SECURITY DEFINER, so it runs with the caller's rights"),
                format!("ALTER FUNCTION {sig} SECURITY DEFINER"),
            ));
        }
        let config: Vec<String> = row.get(3);
        if !config
            .iter()
            .any(|c| c == "search_path=pg_catalog, pg_temp")
        {
            report.findings.push(finding(
                "search-path-not-pinned",
                sig.clone(),
                format!(
                    "{sig} does not pin search_path to pg_catalog, pg_temp (has: {}), so a caller's \
                     objects could be called with the owner's rights",
                    if config.is_empty() { "nothing".to_owned() } else { config.join("; ") }
                ),
                format!("ALTER FUNCTION {sig} SET search_path = pg_catalog, pg_temp"),
            ));
        }
        let fowner: String = row.get(4);
        if fowner != owner {
            report.findings.push(finding(
                "wrong-owner",
                sig.clone(),
                format!("{sig} is owned by {fowner:?}, not by the store's owner {owner:?}"),
                format!(
                    "ALTER FUNCTION {sig} OWNER TO {}",
                    retort_pg::quote_ident(owner)
                ),
            ));
        }
        let body: String = row.get(5);
        if body.trim() != f.body.trim() {
            report.findings.push(finding(
                "altered-function",
                sig.clone(),
                format!("the body of {sig} differs from the store retort ships"),
                "reinstall the store, and find out who changed it".into(),
            ));
        }
        let (public, app_exec, app_direct): (bool, bool, bool) =
            (row.get(6), row.get(7), row.get(8));
        let through: Vec<String> = row.get(9);
        let admin_exec: bool = row.get(10);
        if public {
            report.findings.push(finding(
                "public-execute",
                sig.clone(),
                format!(
                    "PUBLIC can execute {sig}{}",
                    match f.capability {
                        Capability::Admin => ", an admin function: every role, the application's included, can use it",
                        Capability::Internal => ", an internal function",
                        Capability::App => "",
                    }
                ),
                format!("REVOKE EXECUTE ON FUNCTION {sig} FROM PUBLIC"),
            ));
        }
        match f.capability {
            Capability::App => {
                if !app_exec {
                    report.findings.push(finding(
                        "app-cannot-execute",
                        sig.clone(),
                        format!("{app_role:?} cannot execute {sig}, so logins will fail"),
                        format!(
                            "GRANT EXECUTE ON FUNCTION {sig} TO {}",
                            retort_pg::quote_ident(app_role)
                        ),
                    ));
                }
            }
            Capability::Internal | Capability::Admin => {
                if app_direct {
                    let (code, what) = if f.capability == Capability::Admin {
                        ("app-admin-execute", "the admin function")
                    } else {
                        ("app-internal-execute", "the internal")
                    };
                    report.findings.push(finding(
                        code,
                        sig.clone(),
                        format!("{app_role:?} can execute {what} {sig}"),
                        format!(
                            "REVOKE EXECUTE ON FUNCTION {sig} FROM {}",
                            retort_pg::quote_ident(app_role)
                        ),
                    ));
                } else if app_exec && !public {
                    for role in through.into_iter().filter(|r| r != owner) {
                        inherited.entry(role).or_default().push(sig.clone());
                    }
                }
            }
        }
        if f.capability != Capability::Internal && admin_exists && !admin_exec {
            report.findings.push(finding(
                "admin-cannot-execute",
                sig.clone(),
                format!("the admin role {admin_role:?} cannot execute {sig}"),
                format!(
                    "GRANT EXECUTE ON FUNCTION {sig} TO {}",
                    retort_pg::quote_ident(admin_role)
                ),
            ));
        }
    }
    for (role, sigs) in inherited {
        report.findings.push(finding(
            "app-admin-via-membership",
            role.clone(),
            format!(
                "{app_role:?} is a member of {role:?} and so can execute {}",
                sigs.join(", ")
            ),
            format!(
                "REVOKE {} FROM {}",
                retort_pg::quote_ident(&role),
                retort_pg::quote_ident(app_role)
            ),
        ));
    }
    for row in &rows {
        let (name, args): (String, String) = (row.get(0), row.get(1));
        if !shipped.iter().any(|f| f.name == name && f.args == args) {
            let sig = format!("{}({args})", q(&name));
            report.findings.push(finding(
                "unexpected-object",
                sig.clone(),
                format!("function {sig} is not part of the store"),
                format!("DROP FUNCTION {sig}, or move it out of the store's schema"),
            ));
        }
    }
    Ok(())
}
