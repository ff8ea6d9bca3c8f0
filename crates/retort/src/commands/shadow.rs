//! `retort shadow ...`: install, use and audit the shadow password store.

use std::io::BufRead;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use retort_migrate::NewMigration;
use retort_shadow::blocking::ShadowStore;
use retort_shadow::{
    Argon2Params, ExposeSecret, InstallOptions, Mode, SecretString, Upgraded, Verdict,
};
use serde_json::json;
use zeroize::Zeroize;

use super::authoring;
use super::project::{self, Project};
use crate::cli::{
    GlobalArgs, ShadowCommand, ShadowInstall, ShadowMode, ShadowStoreArgs, ShadowUpgrade,
    ShadowUser,
};
use crate::config::{self, parse_duration};
use crate::output::Output;
use crate::EXIT_DIFFERENCES;

/// Which store and roles: flags, then [shadow] in retort.toml, then the defaults.
pub(super) struct StoreNames {
    pub(super) schema: String,
    app: String,
    owner: String,
    admin: String,
}

impl StoreNames {
    /// Install/upgrade options for these names; `--owner-role` over [shadow] owner_role.
    fn options(self, owner_role: Option<&String>) -> InstallOptions {
        let mut opts = InstallOptions::new(&self.app);
        opts.schema = self.schema;
        opts.owner_role = owner_role.cloned().unwrap_or(self.owner);
        opts.admin_role = self.admin;
        opts
    }
}

/// pgcrypto's schema: the flag, else where the database has it (when connected), else public.
fn pgcrypto_schema(
    flag: Option<&String>,
    client: Option<&mut retort_pg::Client>,
) -> Result<String> {
    Ok(match (flag, client) {
        (Some(s), _) => s.clone(),
        (None, Some(c)) => retort_shadow::pgcrypto_schema(c)?.unwrap_or_else(|| "public".into()),
        (None, None) => "public".into(),
    })
}

/// "audit: passed" or how many findings, and the exit status that goes with it.
fn audit_summary(out: &Output, report: &retort_shadow::AuditReport) -> ExitCode {
    if !out.json() {
        out.say(if report.passed() {
            "audit: passed".to_owned()
        } else {
            format!(
                "audit: {} finding(s); run `retort shadow audit`",
                report.findings.len()
            )
        });
    }
    if report.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_DIFFERENCES)
    }
}

pub(super) fn store_names(global: &GlobalArgs, args: &ShadowStoreArgs) -> Result<StoreNames> {
    let cfg = config::load(global.config.as_deref())?.shadow;
    Ok(StoreNames {
        schema: args
            .schema
            .clone()
            .or(cfg.schema)
            .unwrap_or_else(|| "shadow".into()),
        app: args
            .app_role
            .clone()
            .or(cfg.app_role)
            .unwrap_or_else(|| "app".into()),
        owner: cfg.owner_role.unwrap_or_else(|| "shadow_owner".into()),
        admin: args
            .admin_role
            .clone()
            .or(cfg.admin_role)
            .unwrap_or_else(|| "shadow_admin".into()),
    })
}

pub fn run(global: &GlobalArgs, out: &Output, cmd: &ShadowCommand) -> Result<ExitCode> {
    match cmd {
        ShadowCommand::Install(args) => install(global, out, args),
        ShadowCommand::Set(args) => set(global, out, args),
        ShadowCommand::Verify(args) => verify(global, out, args),
        ShadowCommand::Upgrade(args) => upgrade(global, out, args),
        ShadowCommand::ResetToken {
            store,
            user,
            valid_for,
        } => reset_token(global, out, store, user, valid_for.as_deref()),
        ShadowCommand::Import(args) => super::shadow_import::run(global, out, args),
        ShadowCommand::Lock { store, user, until } => {
            let schema = store_names(global, store)?.schema;
            let mut client = project::connect(global)?;
            let until = match until {
                Some(t) => {
                    let row = client
                        .query_one(
                            "SELECT extract(epoch FROM $1::text::timestamptz)::float8",
                            &[t],
                        )
                        .map_err(retort_pg::PgError::from)
                        .with_context(|| format!("reading --until {t:?}"))?;
                    let secs: f64 = row.get(0);
                    Some(std::time::UNIX_EPOCH + std::time::Duration::from_secs_f64(secs.max(0.0)))
                }
                None => None,
            };
            let found = ShadowStore::new(&schema).lock(&mut client, user, until)?;
            changed(out, "locked", user, found)
        }
        ShadowCommand::Unlock { store, user } => {
            let schema = store_names(global, store)?.schema;
            let mut client = project::connect(global)?;
            let found = ShadowStore::new(&schema).unlock(&mut client, user)?;
            changed(out, "unlocked", user, found)
        }
        ShadowCommand::Delete { store, user } => {
            let schema = store_names(global, store)?.schema;
            let mut client = project::connect(global)?;
            let found = ShadowStore::new(&schema).delete(&mut client, user)?;
            changed(out, "deleted", user, found)
        }
        ShadowCommand::Audit { store } => audit(global, out, store),
    }
}

fn changed(out: &Output, what: &str, user: &str, found: bool) -> Result<ExitCode> {
    if out.json() {
        out.print_json(&json!({"user": user, "action": what, "found": found}))?;
    } else if found {
        out.say(format!("{what} {user:?}"));
    } else {
        out.note(format!(
            "no password is stored for {user:?}; nothing {what}"
        ));
    }
    Ok(if found {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn install(global: &GlobalArgs, out: &Output, args: &ShadowInstall) -> Result<ExitCode> {
    let mut opts = store_names(global, &args.store)?.options(args.owner_role.as_ref());
    opts.mode = match args.mode {
        ShadowMode::ScramArgon2 => Mode::ScramArgon2,
        ShadowMode::Bcrypt => Mode::Bcrypt,
    };
    opts.argon2 = Argon2Params {
        m_kib: args.argon2_memory,
        t: args.argon2_iterations,
        p: args.argon2_parallelism,
    };
    opts.bcrypt_cost = args.bcrypt_cost;
    opts.max_failures = args.max_failures;
    opts.lockout = parse_duration(&args.lockout)
        .context("reading --lockout")?
        .context("--lockout must be longer than 0")?;

    if args.emit_migration || args.sql {
        opts.pgcrypto_schema = pgcrypto_schema(args.pgcrypto_schema.as_ref(), None)?;
        let sql = opts.render()?;
        if args.sql {
            print!("\\set ON_ERROR_STOP on\nBEGIN;\n{sql}COMMIT;\n");
            return Ok(ExitCode::SUCCESS);
        }
        let project = Project::load(global)?;
        let graph = authoring::graph_or_empty(&project)?;
        let new = NewMigration {
            revision: authoring::fresh_id(&graph)?,
            parents: authoring::parents_for(&graph, None)?,
            message: format!("shadow password store in schema {}", opts.schema),
            transactional: true,
            up: sql,
            down: opts.render_uninstall(),
            ..NewMigration::default()
        };
        out.note(format!(
            "the store ({} mode, app role {:?}, admin role {:?}, owner {:?}, pgcrypto in {:?}) is a \
             migration now; `retort upgrade` installs it",
            opts.mode, opts.app_role, opts.admin_role, opts.owner_role, opts.pgcrypto_schema
        ));
        return authoring::write(&project, out, &new);
    }

    let mut client = project::connect(global)?;
    opts.pgcrypto_schema = pgcrypto_schema(args.pgcrypto_schema.as_ref(), Some(&mut client))?;
    retort_shadow::install(&mut client, &opts)?;
    let report = retort_shadow::audit(&mut client, &opts.schema, &opts.app_role, &opts.admin_role)?;
    if out.json() {
        out.print_json(&json!({
            "schema": opts.schema, "mode": opts.mode.as_str(), "app_role": opts.app_role,
            "admin_role": opts.admin_role, "owner_role": opts.owner_role,
            "pgcrypto_schema": opts.pgcrypto_schema, "store_version": retort_shadow::STORE_VERSION,
            "audit_passed": report.passed(),
        }))?;
    } else {
        out.say(format!(
            "installed the shadow store in schema {:?} ({} mode): owner {:?} (NOLOGIN); app role {:?} \
             may log users in, enrol them and change a password with proof; admin role {:?} may also \
             set any password, lock, unlock, delete and issue reset tokens (GRANT it to operators)",
            opts.schema, opts.mode, opts.owner_role, opts.app_role, opts.admin_role
        ));
    }
    Ok(audit_summary(out, &report))
}

/// The password: one line of stdin, or the terminal without echo (twice when `confirm`).
fn read_password(user: &str, from_stdin: bool, confirm: bool) -> Result<SecretString> {
    let text = if from_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("reading the password from standard input")?;
        let trimmed = line.trim_end_matches(['\n', '\r']).to_owned();
        line.zeroize();
        trimmed
    } else {
        let first = rpassword::prompt_password(format!("password for {user}: ")).map_err(|e| {
            anyhow::anyhow!(
                "cannot ask for the password ({e}): there is no terminal; pipe it with --password-stdin"
            )
        })?;
        if confirm {
            let mut again = rpassword::prompt_password("again: ")?;
            let same = again == first;
            again.zeroize();
            if !same {
                bail!("the passwords differ; nothing was changed");
            }
        }
        first
    };
    if text.is_empty() {
        bail!("the password is empty; nothing was changed");
    }
    Ok(SecretString::from(text))
}

fn set(global: &GlobalArgs, out: &Output, args: &ShadowUser) -> Result<ExitCode> {
    let schema = store_names(global, &args.store)?.schema;
    let mut client = project::connect(global)?;
    let password = read_password(&args.user, args.password_stdin, true)?;
    let store = ShadowStore::new(&schema);
    store.set_password(&mut client, &args.user, &password)?;
    if out.json() {
        out.print_json(&json!({"user": args.user, "action": "set"}))?;
    } else {
        out.say(format!("password set for {:?}", args.user));
    }
    Ok(ExitCode::SUCCESS)
}

fn verify(global: &GlobalArgs, out: &Output, args: &ShadowUser) -> Result<ExitCode> {
    let schema = store_names(global, &args.store)?.schema;
    let mut client = project::connect(global)?;
    let password = read_password(&args.user, args.password_stdin, false)?;
    let outcome = ShadowStore::new(&schema).verify_outcome(&mut client, &args.user, &password)?;
    let (text, code) = match outcome.verdict {
        Verdict::Ok => ("ok: the password is right", ExitCode::SUCCESS),
        Verdict::Bad => ("bad: wrong password or unknown user", ExitCode::FAILURE),
        Verdict::Locked => (
            "locked: the account is locked",
            ExitCode::from(EXIT_DIFFERENCES),
        ),
    };
    if out.json() {
        out.print_json(&json!({
            "user": args.user, "verdict": outcome.verdict.as_str(), "rehashed": outcome.rehashed,
        }))?;
    } else {
        out.say(text);
        if outcome.rehashed {
            out.note(
                "the stored verifier was weaker than the store's policy and has been replaced",
            );
        }
    }
    Ok(code)
}

fn audit(global: &GlobalArgs, out: &Output, args: &ShadowStoreArgs) -> Result<ExitCode> {
    let StoreNames {
        schema, app, admin, ..
    } = store_names(global, args)?;
    let mut client = project::connect(global)?;
    let report = retort_shadow::audit(&mut client, &schema, &app, &admin)?;
    let as_json = |f: &retort_shadow::Finding| json!({"code": f.code, "object": f.object, "message": f.message, "fix": f.fix});
    if out.json() {
        out.print_json(&json!({
            "schema": schema, "app_role": app, "admin_role": admin, "owner_role": report.owner,
            "passed": report.passed(),
            "findings": report.findings.iter().map(as_json).collect::<Vec<_>>(),
            "warnings": report.warnings.iter().map(as_json).collect::<Vec<_>>(),
        }))?;
    } else {
        for f in &report.findings {
            out.say(format!(
                "finding [{}] {}\n  fix: {}",
                f.code, f.message, f.fix
            ));
        }
        for w in &report.warnings {
            out.say(format!(
                "warning [{}] {}\n  fix: {}",
                w.code, w.message, w.fix
            ));
        }
        out.say(if report.passed() {
            format!(
                "audit passed: {app:?} can log users in, enrol them and change passwords with proof in schema {schema:?}, and read nothing{}",
                if report.warnings.is_empty() { String::new() } else { format!(" ({} warning(s))", report.warnings.len()) }
            )
        } else {
            format!("audit failed: {} finding(s)", report.findings.len())
        });
    }
    Ok(if report.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_DIFFERENCES)
    })
}

fn upgrade(global: &GlobalArgs, out: &Output, args: &ShadowUpgrade) -> Result<ExitCode> {
    let mut opts = store_names(global, &args.store)?.options(args.owner_role.as_ref());
    if args.emit_migration {
        opts.pgcrypto_schema = pgcrypto_schema(args.pgcrypto_schema.as_ref(), None)?;
        let project = Project::load(global)?;
        let graph = authoring::graph_or_empty(&project)?;
        let new = NewMigration {
            revision: authoring::fresh_id(&graph)?,
            parents: authoring::parents_for(&graph, None)?,
            message: format!(
                "shadow store {} to version {}",
                opts.schema,
                retort_shadow::STORE_VERSION
            ),
            transactional: true,
            up: opts.render_upgrade_from_v1()?,
            down: format!(
                "DO $$BEGIN RAISE EXCEPTION 'the shadow store upgrade to version {} cannot be undone: \
                 version 1 let the application role set any password, lock, unlock and delete'; END$$;\n",
                retort_shadow::STORE_VERSION
            ),
            ..NewMigration::default()
        };
        out.note(format!(
            "the upgrade of the store in schema {:?} is a migration now (app role {:?}, admin role {:?}); \
             `retort upgrade` runs it, and it refuses a store that is not at version 1",
            opts.schema, opts.app_role, opts.admin_role
        ));
        return authoring::write(&project, out, &new);
    }
    let mut client = project::connect(global)?;
    opts.pgcrypto_schema = pgcrypto_schema(args.pgcrypto_schema.as_ref(), Some(&mut client))?;
    let done = retort_shadow::upgrade(&mut client, &opts)?;
    let report = retort_shadow::audit(&mut client, &opts.schema, &opts.app_role, &opts.admin_role)?;
    let from = match done {
        Upgraded::From(v) => Some(v),
        Upgraded::AlreadyCurrent => None,
    };
    if out.json() {
        out.print_json(&json!({
            "schema": opts.schema, "from_version": from,
            "store_version": retort_shadow::STORE_VERSION, "audit_passed": report.passed(),
        }))?;
    } else {
        out.say(match from {
            Some(v) => format!(
                "upgraded the shadow store in schema {:?} from version {v} to {}: users keep their \
                 passwords and lockouts; {:?} lost set, lock, unlock and delete, which belong to {:?} now",
                opts.schema,
                retort_shadow::STORE_VERSION,
                opts.app_role,
                opts.admin_role
            ),
            None => format!(
                "the shadow store in schema {:?} is at version {} already; nothing to do",
                opts.schema,
                retort_shadow::STORE_VERSION
            ),
        });
    }
    Ok(audit_summary(out, &report))
}

fn reset_token(
    global: &GlobalArgs,
    out: &Output,
    store: &ShadowStoreArgs,
    user: &str,
    valid_for: Option<&str>,
) -> Result<ExitCode> {
    let schema = store_names(global, store)?.schema;
    let valid_for = match valid_for {
        Some(d) => Some(
            parse_duration(d)
                .context("reading --valid-for")?
                .context("--valid-for must be longer than 0")?,
        ),
        None => None,
    };
    let mut client = project::connect(global)?;
    let token = ShadowStore::new(&schema).issue_reset_token(&mut client, user, valid_for)?;
    let Some(token) = token else {
        if out.json() {
            out.print_json(&json!({"user": user, "token": null}))?;
        } else {
            out.note(format!(
                "no password is stored for {user:?}; no token issued"
            ));
        }
        return Ok(ExitCode::FAILURE);
    };
    if out.json() {
        out.print_json(&json!({"user": user, "token": token.expose_secret()}))?;
    } else {
        // The token alone on stdout, for scripts; what it is on stderr.
        println!("{}", token.expose_secret());
        out.note(format!(
            "a one-time reset token for {user:?}: hand it to the user; only its hash is stored"
        ));
    }
    Ok(ExitCode::SUCCESS)
}
