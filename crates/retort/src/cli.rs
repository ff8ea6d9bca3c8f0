//! The command line: every flag and its help text.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// retort: sane schema management for PostgreSQL, a shadow password store, and
/// replication-aware rollouts.
///
/// Connection settings come from -d/--database-url, else $RETORT_DATABASE_URL, else
/// $DATABASE_URL, else [database] url in retort.toml, else the libpq variables (PGHOST, PGPORT,
/// PGUSER, PGDATABASE, PGPASSWORD, ...) and ~/.pgpass, exactly as psql reads them.
///
/// Every retort.toml key can be set by an environment variable (a flag wins over both):
/// RETORT_DATABASE_URL, RETORT_MIGRATIONS_DIR, RETORT_MIGRATIONS_SCHEMA,
/// RETORT_MIGRATIONS_SCHEMA_COMMAND, RETORT_MIGRATIONS_SCHEMA_BUILD,
/// RETORT_MIGRATIONS_TABLE_SCHEMA, RETORT_MIGRATIONS_LOCK_TIMEOUT,
/// RETORT_MIGRATIONS_STATEMENT_TIMEOUT, RETORT_MIGRATIONS_LOCK_WAIT,
/// RETORT_MIGRATIONS_LOCK_RETRIES, RETORT_REPLICAS_WAIT,
/// RETORT_REPLICAS_TIMEOUT, RETORT_REPLICAS_MAX_LAG, RETORT_SHADOW_SCHEMA,
/// RETORT_SHADOW_APP_ROLE, RETORT_SHADOW_OWNER_ROLE, RETORT_SHADOW_ADMIN_ROLE.
///
/// Exit codes: 0 success, 1 error, 2 usage error, 3 differences or findings.
#[derive(Debug, Parser)]
#[command(
    name = "retort",
    version,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,

    #[command(subcommand)]
    pub command: Command,
}

/// Flags every command accepts.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Database URL (postgres://user@host:port/db?sslmode=...) or libpq key=value string.
    #[arg(short = 'd', long, global = true, value_name = "URL")]
    pub database_url: Option<String>,

    /// Path to retort.toml (default: found by walking up from the current directory).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Output for people or for scripts.
    #[arg(long, global = true, value_enum, default_value_t = Format::Human)]
    pub format: Format,

    /// Print only errors (and the data a command exists to print).
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    /// Say more: -v shows what retort does, -vv also what the libraries do.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Tables and sentences.
    Human,
    /// One JSON document on stdout; errors as JSON on stderr.
    Json,
    /// A Mermaid flowchart (retort graph only).
    Mermaid,
    /// A Graphviz digraph (retort graph only).
    Dot,
    /// SARIF 2.1.0 for code-review tools (retort lint only).
    Sarif,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start a project here: retort.toml, migrations/ and schema.sql.
    ///
    /// Existing files are never overwritten. With --sqlalchemy myapp.models:Base the desired
    /// schema is what the models declare (schema_command), and no schema.sql is written.
    Init {
        /// Where to create the project.
        #[arg(long, value_name = "DIR", default_value = ".")]
        dir: PathBuf,
        /// The schema lives in SQLAlchemy models: MODULE:ATTRIBUTE of the declarative base or
        /// MetaData (e.g. myapp.models:Base). Writes schema_command instead of a schema.sql.
        #[arg(long, value_name = "MODULE:ATTR")]
        sqlalchemy: Option<String>,
    },

    /// Write a new migration file whose parent is the current head.
    ///
    /// The file is migrations/<revision>_<slug>.sql with a fresh random revision; fill in the
    /// `-- retort:up` and `-- retort:down` sections. With several heads, say which one to
    /// build on (--head) or merge them first (retort merge heads -m ...).
    ///
    /// Example: retort new -m "add users table"
    New(NewArgs),

    /// Apply migrations up to TARGET (default: heads).
    ///
    /// Each migration runs in its own transaction together with its version-table update, so a
    /// failure leaves the database at the last good revision. Migrations marked
    /// `-- retort:transaction off` run statement by statement and are recorded only when all
    /// succeed. A session advisory lock makes concurrent runs wait for each other.
    ///
    /// Targets: heads, head, a revision or unique prefix (4+ characters), a branch label,
    /// LABEL@head, +N, REV+N.
    ///
    /// Before a run: the migrations are linted (--strict refuses on findings), a standby is
    /// refused, and a missing synchronous standby or a lagging one (--max-lag) stops it. After:
    /// --wait-replicas waits until standbys have replayed it.
    ///
    /// Examples: retort upgrade; retort upgrade +1; retort upgrade auth@head;
    /// retort upgrade --sql base:heads > deploy.sql; retort upgrade --wait-replicas all;
    /// retort upgrade --targets tenants.txt --jobs 8 --keep-going
    Upgrade(ApplyArgs),

    /// Run down sections back to TARGET.
    ///
    /// Targets: base (nothing applied), -N, a revision (everything after it is removed; other
    /// branches stay), REV-N, NAME@base (that revision and everything after it). Fails before
    /// touching the database when a migration on the way has no down section.
    ///
    /// Examples: retort downgrade -1; retort downgrade 3f2a; retort downgrade --sql heads:base
    Downgrade(ApplyArgs),

    /// Show the revisions the database is at (the rows of the version table).
    ///
    /// With --targets FILE or --targets-query SQL: every database of a fleet, grouped by revision.
    Current {
        #[command(flatten)]
        fleet: FleetArgs,
    },

    /// List revisions newest first, or with --applied what was run on the database and when.
    ///
    /// Use -v for files, checksums and dependencies.
    History {
        /// Only revisions in FROM:TO (either side may be empty, base or heads).
        #[arg(short = 'r', long, value_name = "FROM:TO")]
        range: Option<String>,
        /// The database's history table instead of the files: every up, down, stamp, repair
        /// and failed run.
        #[arg(long)]
        applied: bool,
        /// With --applied: only the newest N entries.
        #[arg(long, value_name = "N")]
        limit: Option<i64>,
    },

    /// List the heads of the revision graph (where new migrations go).
    Heads,

    /// List branch points: revisions with more than one child.
    Branches,

    /// Show one revision: file, parents, children, checksum and its SQL.
    Show {
        /// Revision, unique prefix, label, head or LABEL@head.
        revision: String,
    },

    /// Record TARGET(s) as applied without running any migration SQL.
    ///
    /// The version table is set to exactly what the targets need; use it for a database whose
    /// schema was created another way. Recorded in history as 'stamp'.
    Stamp {
        /// Targets: revisions, heads, base, +N/-N.
        #[arg(required = true, value_name = "TARGET", allow_hyphen_values = true)]
        targets: Vec<String>,
        /// How long to wait for another runner's lock.
        #[arg(long, value_name = "DURATION")]
        lock_wait: Option<String>,
    },

    /// Run the contract phase of an expanded two-phase change.
    ///
    /// `retort upgrade` runs a change's expand phase and stops before its contract (`--
    /// retort:phase contract`), so the application version from before keeps working through
    /// views of its old shape. Once every instance runs the new version, `complete` runs the
    /// contract (the old shape's views go). It refuses while a session registered under an
    /// older revision (`SELECT retort.use_shape('REV')`, done by `retort search-path`'s helpers)
    /// is still connected, and names those sessions.
    Complete {
        /// Complete even while sessions of the old version are connected (their queries on the
        /// old names fail from then on).
        #[arg(long)]
        force: bool,
        /// How long to wait for another runner's lock.
        #[arg(long, value_name = "DURATION")]
        lock_wait: Option<String>,
    },

    /// Undo an expanded two-phase change whose contract has not run (its down section): the
    /// old shape is physical again, and the old application version never stopped working.
    Abort {
        /// The expand revision, when several are expanded.
        #[arg(value_name = "REV")]
        revision: Option<String>,
        /// How long to wait for another runner's lock.
        #[arg(long, value_name = "DURATION")]
        lock_wait: Option<String>,
    },

    /// Print the search_path an application version uses to see its revision's shape.
    ///
    /// An application built at revision REV (by default the migrations' head) sets
    /// `search_path` to this on each connection and registers the session with
    /// `SELECT retort.use_shape('REV')`: while a later change is expanded, its tables are
    /// served in their old shape; otherwise the schema does not exist and PostgreSQL skips it.
    /// Example: PGOPTIONS="-c search_path=$(retort search-path)"
    SearchPath {
        /// The application version's revision (a unique prefix works).
        #[arg(value_name = "REV")]
        revision: Option<String>,
    },

    /// Write a merge migration joining several heads.
    ///
    /// Example: retort merge heads -m "merge auth and billing"
    Merge {
        /// Revisions to merge, or `heads`.
        #[arg(required = true, value_name = "REV")]
        revisions: Vec<String>,
        /// The merge's message.
        #[arg(short, long)]
        message: String,
        /// Branch label for the merge revision.
        #[arg(long = "branch-label", value_name = "LABEL")]
        branch_labels: Vec<String>,
    },

    /// Accept an intentional edit of an applied migration: record its new checksum.
    ///
    /// Runs no migration SQL; the old and new checksum are kept in history.
    Repair {
        /// Revisions (or unique prefixes) whose current file content is intended.
        #[arg(required = true, value_name = "REV")]
        revisions: Vec<String>,
    },

    /// Draw the revision graph (--format mermaid or dot for diagrams, json for tools).
    Graph,

    /// Adopt an existing database: one migration that creates its current schema, stamped.
    ///
    /// Reads the live catalog, writes migrations/<revision>_baseline.sql whose up section
    /// creates every object (dependency-ordered, by the same renderer as `retort diff`) and
    /// which has no down section (a baseline cannot be undone), then records the database as
    /// being at it. Fresh databases get the same schema from `retort upgrade`. Refuses a
    /// database that retort already manages and a project that already has migrations.
    ///
    /// Example: retort init && retort baseline -m "schema as of the 2026 release"
    Baseline {
        /// The migration's message.
        #[arg(short, long, default_value = "baseline")]
        message: String,
        #[command(flatten)]
        schema: SchemaArgs,
    },

    /// Bring another tool's history into retort (`retort import alembic`).
    #[command(subcommand)]
    Import(ImportCommand),

    /// Find migrations that would lock, rewrite or scan a busy table, and say what to do instead.
    ///
    /// Each statement is read with PostgreSQL's own parser; retort knows the lock it takes on
    /// each table, whether it rewrites or scans it, and (with a reachable database) how big the
    /// table is. Without arguments: the migrations not yet applied to the database, or every
    /// migration when no database is reachable. Arguments are migration files, plain .sql files,
    /// directories, or revisions. Excuse a statement with a comment line above it:
    /// `-- retort:allow <rule> <reason>`.
    ///
    /// Exit codes: 0 clean, 3 findings, 1 error.
    ///
    /// Examples: retort lint; retort lint migrations/3f2a9c1b7e4d_add_index.sql;
    /// retort lint 3f2a --format sarif > lint.sarif
    Lint {
        /// Migration files, .sql files, directories or revisions (default: pending migrations).
        #[arg(value_name = "FILE|REV")]
        targets: Vec<String>,
    },

    /// Print the SQL that turns FROM's schema into TO's.
    ///
    /// FROM and TO are postgres:// URLs, or .sql files / directories of .sql files, which are
    /// loaded into a throwaway database first (a local cluster retort starts and removes, or
    /// --dev-url). Either side can instead be what a program makes: --from-command/--to-command
    /// run a shell command whose standard output is SQL (an ORM's DDL printer), and
    /// --from-build/--to-build run one that builds the schema in the throwaway database
    /// $DATABASE_URL (and PGHOST, PGPORT, PGUSER, PGDATABASE) names (`python manage.py
    /// migrate`, `bin/rails db:schema:load`, `npx prisma db push --skip-generate`). Objects are
    /// created and dropped in dependency order taken from pg_depend; views and functions that
    /// depend on a changed column are dropped and re-created; destructive steps are marked.
    /// Applied to FROM, the output yields exactly TO's schema.
    ///
    /// Examples: retort diff "$PROD_URL" schema.sql; retort diff old.sql new.sql --exit-code;
    /// retort diff "$DATABASE_URL" --to-command "python -m retort_sqlalchemy app.models:Base"
    Diff(DiffArgs),

    /// Drift check for CI: the live database and the desired schema against the migrations head.
    ///
    /// Applies all migrations to a throwaway database, then compares it with the configured
    /// database and with the desired schema ([migrations] schema, schema_command or
    /// schema_build). Exits 3 (with the SQL of each difference) when either differs, 0 when
    /// both match.
    Check {
        #[command(flatten)]
        desired: DesiredArgs,
        #[command(flatten)]
        schema: SchemaArgs,
    },

    /// Streaming replication as retort sees it: topology, lag, and waiting for standbys.
    ///
    /// Examples: retort replica status; retort replica status --watch;
    /// retort replica wait --mode all --timeout 30s
    #[command(subcommand)]
    Replica(ReplicaCommand),

    /// The shadow password store: the application's role can check passwords, never read them.
    ///
    /// Hashes live in tables owned by a NOLOGIN role; SECURITY DEFINER functions with a pinned
    /// search_path are the only way in, and the application role may only execute them. The
    /// default mode, scram-argon2, never sends the password to the database: the client derives
    /// argon2id and answers a one-time nonce with a SCRAM proof. The bcrypt mode uses pgcrypto
    /// inside the database.
    ///
    /// Examples: retort shadow install --app-role app; retort shadow install --emit-migration;
    /// retort shadow set alice; printf '%s' "$PW" | retort shadow verify alice --password-stdin;
    /// retort shadow audit
    #[command(subcommand)]
    Shadow(ShadowCommand),

    /// Run a large UPDATE in paced, resumable primary-key ranges, pausing while standbys lag.
    ///
    /// `UPDATE table SET ... [WHERE ...]` runs in ranges of the table's (single-column)
    /// primary key, never OFFSET, each range its own transaction that also records how far it
    /// got (in retort's schema, table `backfill`): Ctrl-C or SIGTERM finishes the batch in
    /// flight and stops (exit 130), and the same command run again continues after the last
    /// committed batch, so every row is updated once. The batch size follows --batch-time.
    /// Between batches it waits while any standby is further behind than --max-lag
    /// ([replicas] max_lag). Progress: a bar on a terminal, JSON lines with --format json.
    ///
    /// Example: retort backfill "UPDATE orders SET total = qty * price WHERE total IS NULL" --max-lag 16MB
    Backfill(BackfillArgs),

    /// Run a local primary with streaming standbys for development.
    ///
    /// The cluster lives in a directory (default .retort/cluster next to retort.toml, or in the
    /// current directory) and keeps running after the command exits; `retort cluster stop`
    /// stops it. Servers listen on 127.0.0.1 only; the superuser "postgres" needs no password
    /// over the cluster's private unix socket, and a generated one over TCP.
    ///
    /// Example: retort cluster start --standbys 2 --sync 1 && retort cluster status
    #[command(subcommand)]
    Cluster(ClusterCommand),

    /// Show retort's main job end to end on a throwaway cluster it starts and removes itself.
    ///
    /// Needs nothing configured: it finds the PostgreSQL server binaries, starts a primary with
    /// one synchronous and one asynchronous standby, shows the topology and a row replicating,
    /// and cleans up.
    Demo,

    /// Connect to the database and report the server version and whether it is a primary.
    ///
    /// The quickest check that -d / $DATABASE_URL / retort.toml / PG* settings are right.
    Ping,

    /// Print a shell completion script.
    ///
    /// Example: retort completions bash > /etc/bash_completion.d/retort
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

#[derive(Debug, Subcommand)]
pub enum ClusterCommand {
    /// Start a primary and N standbys (or restart a stopped cluster in --dir).
    Start(ClusterStart),
    /// Stop the cluster's servers (fast shutdown); --destroy also deletes its data.
    Stop {
        #[command(flatten)]
        dir: ClusterDir,
        /// Delete data directories, logs and state after stopping.
        #[arg(long)]
        destroy: bool,
    },
    /// Show each node: role, port, replication state, sync state and replay lag.
    Status {
        #[command(flatten)]
        dir: ClusterDir,
    },
    /// Delay a standby's replay (recovery_min_apply_delay), to watch an app against a lagging
    /// replica. 0 removes the delay.
    ///
    /// Example: retort cluster lag standby2 2s
    Lag {
        #[command(flatten)]
        dir: ClusterDir,
        /// The standby: standby1, standby2, ...
        node: String,
        /// The delay (500ms, 2s, 1min; 0 = none).
        delay: String,
    },
    /// Stop one standby (fast shutdown); a synchronous one makes commits on the primary wait.
    StopNode {
        #[command(flatten)]
        dir: ClusterDir,
        /// The standby: standby1, standby2, ...
        node: String,
    },
    /// Start a stopped standby again and wait until it streams.
    StartNode {
        #[command(flatten)]
        dir: ClusterDir,
        /// The standby: standby1, standby2, ...
        node: String,
    },
    /// Fail over to a standby: stop the primary at once (as if it crashed) and retire it,
    /// promote NODE, point the other standbys at it, and keep the remaining synchronous
    /// standbys synchronous. For trying a rollout against a failover; `retort cluster url`
    /// then prints the new primary's URL.
    ///
    /// Example: retort cluster promote standby1
    Promote {
        #[command(flatten)]
        dir: ClusterDir,
        /// The standby to promote: standby1, standby2, ...
        node: String,
    },
    /// Print a node's connection URL (the primary's by default).
    ///
    /// Example: export DATABASE_URL="$(retort cluster url)"
    Url {
        #[command(flatten)]
        dir: ClusterDir,
        /// Which node: primary, standby1, standby2, ...
        #[arg(long, default_value = "primary")]
        node: String,
        /// A TCP URL with the generated password instead of the unix-socket URL.
        #[arg(long)]
        tcp: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// Read an Alembic project's revision files and write the same graph as retort migrations.
    ///
    /// The files are parsed, never run: `revision`, `down_revision` (tuples for merges),
    /// `branch_labels`, `depends_on` and the docstring's first line. Revision ids stay the same
    /// (Alembic's default ids already have retort's form). The imported migrations carry no
    /// SQL (`-- retort:imported`): their operations stay in Alembic and already ran on existing
    /// databases. With a database at the Alembic heads, retort also writes a baseline beneath
    /// them (the current schema, so fresh databases can be built) and stamps retort.version
    /// with the same heads as alembic_version. Nothing existing is overwritten.
    ///
    /// Example: retort import alembic --from ../legacy-app
    Alembic {
        /// The Alembic project (with alembic.ini) or its versions directory.
        #[arg(long, value_name = "DIR", default_value = ".")]
        from: PathBuf,
        /// Where to write the migrations (default: [migrations] dir).
        #[arg(long, value_name = "DIR")]
        to: Option<PathBuf>,
        #[command(flatten)]
        schema: SchemaArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum ReplicaCommand {
    /// Every node: role, state, sync state, LSNs, lag in bytes and seconds, slots.
    ///
    /// Run it on the primary to see its standbys (pg_stat_replication; client addresses need
    /// superuser or pg_read_all_stats), or on a standby to see its upstream and replay state.
    /// Exit 1 when synchronous_standby_names needs more streaming standbys than there are:
    /// every commit on the primary then waits.
    Status {
        /// Refresh every second until interrupted.
        #[arg(long)]
        watch: bool,
        /// Warn about inactive replication slots holding at least this much WAL.
        #[arg(long, value_name = "SIZE", default_value = "16MB")]
        slot_threshold: String,
    },
    /// Wait until standbys have replayed a WAL position (default: the primary's current one).
    ///
    /// Exit 0 when they have, 1 on timeout (naming who is behind and by how much).
    Wait {
        /// The position to wait for, e.g. 0/3000148. Default: pg_current_wal_insert_lsn().
        #[arg(long, value_name = "LSN")]
        lsn: Option<String>,
        #[command(flatten)]
        replicas: ReplicaWaitArgs,
    },
}

/// How to wait for standbys.
#[derive(Debug, Args, Clone)]
pub struct ReplicaWaitArgs {
    /// sync: the synchronous standbys; all: every connected standby and --replica-url;
    /// N: any N standbys.
    #[arg(long, value_name = "MODE", default_value = "all")]
    pub mode: String,
    /// Give up after this long (the change itself stays committed).
    #[arg(long, value_name = "DURATION", default_value = "60s")]
    pub timeout: String,
    /// A standby to poll directly as well (repeatable); one that cannot be reached counts as
    /// not caught up and is named.
    #[arg(long = "replica-url", value_name = "URL")]
    pub replica_urls: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum ShadowCommand {
    /// Install the store into the database, or write it as a migration (--emit-migration).
    ///
    /// Creates the owner role and the admin role (both NOLOGIN) when missing, pgcrypto when
    /// missing, the schema, its tables and functions, in one transaction. The application role
    /// must exist. It may log users in, enrol new ones and change a password with proof of the
    /// current one; setting any password, lock, unlock, delete, reset tokens and import belong to
    /// the admin role: GRANT it to the operators who run those commands.
    ///
    /// Example: retort shadow install --app-role web && psql -c 'GRANT shadow_admin TO alice'
    Install(ShadowInstall),
    /// Move an installed store to this retort's store version, in place and in one transaction.
    ///
    /// Users keep their passwords, failure counts and lockouts; the application role loses the
    /// admin functions (version 1 granted it set, lock, unlock and delete). --emit-migration
    /// writes the same SQL as a migration instead.
    Upgrade(ShadowUpgrade),
    /// Set any user's password (admin role), asked twice on the terminal without echo, or
    /// --password-stdin.
    Set(ShadowUser),
    /// Check a user's password. Exit 0 when right, 1 when wrong or unknown, 3 when locked.
    Verify(ShadowUser),
    /// Print a one-time password reset token for a user (admin role).
    ///
    /// Only its hash is stored; this is the one time it is shown. The application redeems it
    /// (ShadowStore::reset_password in Rust, store.reset_password in Python) with the user's new
    /// password. A newer token replaces the user's older ones.
    ///
    /// Example: retort shadow reset-token gandalf --valid-for 30min
    ResetToken {
        #[command(flatten)]
        store: ShadowStoreArgs,
        /// The user name.
        user: String,
        /// How long the token works (default: the store's reset_ttl, 1 hour).
        #[arg(long, value_name = "DURATION")]
        valid_for: Option<String>,
    },
    /// Import bcrypt hashes from another system (admin role).
    ///
    /// $2a$, $2b$ and $2y$ hashes (passlib, Rails, Django's bcrypt hasher, Laravel, Devise) are
    /// imported for users the store does not know; they log in through the bcrypt check and
    /// move to the store's mode on their first good login. Other formats are refused per row and
    /// counted by format; users already in the store are skipped and keep their password. The
    /// source is only read. Exit 3 when any row was not imported.
    ///
    /// Example: retort shadow import --query "SELECT email, password_digest FROM users"
    Import(ShadowImport),
    /// Lock a user's account (until `unlock`, or --until a time). Admin role.
    Lock {
        #[command(flatten)]
        store: ShadowStoreArgs,
        /// The user name.
        user: String,
        /// Lock until this time (an ISO timestamp PostgreSQL reads, e.g. 2026-12-01T00:00:00Z).
        #[arg(long, value_name = "TIME")]
        until: Option<String>,
    },
    /// Unlock a user's account and clear its failed attempts. Admin role.
    Unlock {
        #[command(flatten)]
        store: ShadowStoreArgs,
        /// The user name.
        user: String,
    },
    /// Remove a user's password. Admin role.
    Delete {
        #[command(flatten)]
        store: ShadowStoreArgs,
        /// The user name.
        user: String,
    },
    /// Check the store on a live database; exit 3 on any finding.
    ///
    /// Findings: the application role (directly, through PUBLIC or through membership) has a
    /// privilege on the store's tables or schema, or can execute an admin function; a role other
    /// than the owner has a privilege on a table (the token table included); the owner can log
    /// in, is the application role, or has it as a member; a function is not SECURITY DEFINER,
    /// lacks the pinned search_path, is executable by PUBLIC, has another owner or an altered
    /// body; objects are missing or extra; the store is version 1. Server settings that log
    /// statements are warnings.
    Audit {
        #[command(flatten)]
        store: ShadowStoreArgs,
    },
}

#[derive(Debug, Args)]
pub struct ShadowUpgrade {
    #[command(flatten)]
    pub store: ShadowStoreArgs,
    /// The NOLOGIN role that owns the store (default: [shadow] owner_role, else "shadow_owner").
    #[arg(long, value_name = "ROLE")]
    pub owner_role: Option<String>,
    /// The schema pgcrypto is in (default: where it is installed, else public).
    #[arg(long, value_name = "SCHEMA")]
    pub pgcrypto_schema: Option<String>,
    /// Write the upgrade as a new migration in migrations/ instead of running it now.
    #[arg(long)]
    pub emit_migration: bool,
}

#[derive(Debug, Args)]
pub struct ShadowImport {
    #[command(flatten)]
    pub store: ShadowStoreArgs,
    /// A query on this database returning (user name, hash) rows.
    #[arg(
        long,
        value_name = "SQL",
        required_unless_present = "csv",
        conflicts_with = "csv"
    )]
    pub query: Option<String>,
    /// A CSV file of user name,hash rows (a first row "username,hash" is a header).
    #[arg(long, value_name = "FILE")]
    pub csv: Option<PathBuf>,
    /// Classify and count, import nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// Which store: schema and application role (flags over [shadow] in retort.toml).
#[derive(Debug, Args)]
pub struct ShadowStoreArgs {
    /// The store's schema (default: [shadow] schema, else "shadow").
    #[arg(long, value_name = "SCHEMA")]
    pub schema: Option<String>,
    /// The application's login role (default: [shadow] app_role, else "app").
    #[arg(long, value_name = "ROLE")]
    pub app_role: Option<String>,
    /// The role with the admin capabilities (default: [shadow] admin_role, else "shadow_admin").
    #[arg(long, value_name = "ROLE")]
    pub admin_role: Option<String>,
}

#[derive(Debug, Args)]
pub struct ShadowUser {
    #[command(flatten)]
    pub store: ShadowStoreArgs,
    /// The user name.
    pub user: String,
    /// Read the password from the first line of standard input instead of the terminal.
    /// Passwords are never taken from the command line, where `ps` and shell history see them.
    #[arg(long)]
    pub password_stdin: bool,
}

/// How passwords are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ShadowMode {
    /// argon2id on the client and a SCRAM proof: the password never reaches the database.
    ScramArgon2,
    /// pgcrypto's bcrypt in the database (passwords over 72 bytes are refused).
    Bcrypt,
}

#[derive(Debug, Args)]
pub struct ShadowInstall {
    #[command(flatten)]
    pub store: ShadowStoreArgs,
    /// The mode for new passwords.
    #[arg(long, value_enum, default_value_t = ShadowMode::ScramArgon2)]
    pub mode: ShadowMode,
    /// The NOLOGIN role that owns the store (default: [shadow] owner_role, else "shadow_owner").
    #[arg(long, value_name = "ROLE")]
    pub owner_role: Option<String>,
    /// The schema pgcrypto is in or goes into (default: where it is installed, else public).
    #[arg(long, value_name = "SCHEMA")]
    pub pgcrypto_schema: Option<String>,
    /// argon2id memory in KiB (default 19456, OWASP's recommendation).
    #[arg(long, value_name = "KIB", default_value_t = 19456)]
    pub argon2_memory: u32,
    /// argon2id iterations (default 2).
    #[arg(long, value_name = "N", default_value_t = 2)]
    pub argon2_iterations: u32,
    /// argon2id parallelism (default 1).
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub argon2_parallelism: u32,
    /// bcrypt cost (4-31; default 12).
    #[arg(long, value_name = "N", default_value_t = 12)]
    pub bcrypt_cost: u32,
    /// Failed logins in a row that lock an account.
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub max_failures: u32,
    /// How long a locked account stays locked.
    #[arg(long, value_name = "DURATION", default_value = "15min")]
    pub lockout: String,
    /// Write the store as a new migration in migrations/ instead of installing it now.
    #[arg(long, conflicts_with = "sql")]
    pub emit_migration: bool,
    /// Print the install SQL instead of running it (for psql -v ON_ERROR_STOP=1).
    #[arg(long)]
    pub sql: bool,
}

#[derive(Debug, Args)]
pub struct ClusterDir {
    /// The cluster's directory.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ClusterStart {
    #[command(flatten)]
    pub dir: ClusterDir,
    /// Number of streaming standbys.
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub standbys: usize,
    /// How many of the standbys are synchronous (the first N).
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub sync: usize,
    /// Quorum commit (ANY N) instead of priority (FIRST N) for synchronous standbys.
    #[arg(long)]
    pub quorum: bool,
    /// The primary's port; standbys take the next ones. Default: free ports.
    #[arg(long, value_name = "PORT")]
    pub port: Option<u16>,
}

#[derive(Debug, Args)]
pub struct NewArgs {
    /// One-line description; also the file name's slug.
    #[arg(short, long)]
    pub message: String,
    /// The parent revision (when the graph has several heads), or `base` for a new root.
    #[arg(long, value_name = "REV")]
    pub head: Option<String>,
    /// Name for the branch this revision starts (usable as LABEL@head).
    #[arg(long = "branch-label", value_name = "LABEL")]
    pub branch_labels: Vec<String>,
    /// A revision (usually on another branch) that must be applied first.
    #[arg(long = "depends-on", value_name = "REV")]
    pub depends_on: Vec<String>,
    /// Mark the migration `-- retort:transaction off` (for CREATE INDEX CONCURRENTLY and the like).
    #[arg(long)]
    pub no_transaction: bool,
    /// Fill in up and down from the difference between the migrations head and the desired
    /// schema ([migrations] schema, schema_command or schema_build; or --to). Writes nothing
    /// when there is no difference.
    #[arg(long)]
    pub autogenerate: bool,
    /// With --autogenerate: the wanted schema from this database (or .sql path) instead of schema.sql.
    #[arg(long, value_name = "URL", requires = "autogenerate", conflicts_with_all = ["schema_file", "schema_command", "schema_build"])]
    pub to: Option<String>,
    /// With --autogenerate: keep the simple DDL forms even on tables that hold data (by default
    /// indexes are built CONCURRENTLY, constraints added NOT VALID and validated in a later
    /// migration, SET NOT NULL proven by a validated check; sizes come from the configured
    /// database, and tables under [migrations] small_table_rows keep the simple forms).
    #[arg(long, requires = "autogenerate")]
    pub no_online: bool,
    /// With --autogenerate: write a column type change that rewrites a table holding data (by
    /// default autogenerate stops and explains the expand/contract steps instead).
    #[arg(long, requires = "autogenerate")]
    pub allow_rewrite: bool,
    /// With --autogenerate: the value of a NOT NULL column for the rows that have none: a new
    /// NOT NULL column without a default on a table that holds rows, or a column that becomes
    /// NOT NULL and holds NULLs. A constant (`--fill orders.status="'new'"`) is added as a
    /// DEFAULT with NOT NULL in one statement (no rewrite), then the default is dropped; an
    /// expression over the row's other columns (`--fill people.email="lower(login) || '@x.org'"`)
    /// is filled by a trigger on every write and a paced, resumable batch backfill, then NOT
    /// NULL through a validated check. Repeatable. Autogenerate stops and asks when one is needed.
    #[arg(long, value_name = "TABLE.COLUMN=SQL", requires = "autogenerate")]
    pub fill: Vec<String>,
    /// With --autogenerate: the new value from the old one for a column type change whose cast
    /// can fail or change a value (`--convert orders.qty="NULLIF(qty, '')::integer"`); the
    /// column's name stands for its old value. Repeatable.
    #[arg(long, value_name = "TABLE.COLUMN=SQL", requires = "autogenerate")]
    pub convert: Vec<String>,
    /// With --autogenerate: the old value from the new one, for the down migration of a
    /// --convert (by default the down casts back). Repeatable.
    #[arg(
        long = "convert-back",
        value_name = "TABLE.COLUMN=SQL",
        requires = "autogenerate"
    )]
    pub convert_back: Vec<String>,
    /// With --autogenerate: for a CHECK or a single-column foreign key the change adds to a
    /// table whose rows break it, the column's value for those rows (an expression over the
    /// row): `--fix orders.qty="greatest(qty, 0)"`, `--fix orders.account_id=NULL`. A paced
    /// batch backfill fixes the existing rows before the validation, and a trigger fixes the
    /// writes of the version still running until `retort complete`. Autogenerate asks the
    /// configured database and stops when one is needed. Repeatable.
    #[arg(long, value_name = "TABLE.COLUMN=SQL", requires = "autogenerate")]
    pub fix: Vec<String>,
    /// With --autogenerate: for a column the change drops from a table that holds rows (kept
    /// until `retort complete`, because the application version still running reads it), its
    /// value on every write of the new version, from the row's columns: the other half of a
    /// split or merge. Splitting `name` into `first_name` and `last_name`:
    /// `--fill users.first_name="split_part(name, ' ', 1)" --fill users.last_name="..."
    /// --keep users.name="first_name || ' ' || last_name"`. Until the contract, the old version's
    /// writes of `name` derive the new columns again and the new version's writes derive
    /// `name`. Repeatable.
    #[arg(long, value_name = "TABLE.COLUMN=SQL", requires = "autogenerate")]
    pub keep: Vec<String>,
    /// With --autogenerate: a rename, so that a dropped and an added column (or table) become
    /// `ALTER TABLE ... RENAME` and keep their data: `--rename users.name=full_name` (a column),
    /// `--rename users=people` (a table; SCHEMA.TABLE where needed). Renames are declared, never
    /// guessed. Repeatable.
    #[arg(long, value_name = "OLD=NEW", requires = "autogenerate")]
    pub rename: Vec<String>,
    #[command(flatten)]
    pub desired: DesiredArgs,
    #[command(flatten)]
    pub schema: SchemaArgs,
}

/// `retort backfill`.
#[derive(Debug, Args)]
pub struct BackfillArgs {
    /// The UPDATE to run in batches.
    pub sql: String,
    /// Wanted time per batch; the batch size follows it (default 200ms).
    #[arg(long, value_name = "DURATION")]
    pub batch_time: Option<String>,
    /// Pause while a standby is further behind: bytes (16MB) or time (5s). Default: [replicas]
    /// max_lag, else no pausing.
    #[arg(long, value_name = "LIMIT")]
    pub max_lag: Option<String>,
    /// SET LOCAL lock_timeout in each batch (default [migrations] lock_timeout, 5s).
    #[arg(long, value_name = "DURATION")]
    pub lock_timeout: Option<String>,
}

/// Where the desired schema comes from, over [migrations] schema / schema_command / schema_build.
#[derive(Debug, Args, Clone, Default)]
pub struct DesiredArgs {
    /// The desired schema from this .sql file or directory.
    #[arg(long, value_name = "PATH", conflicts_with_all = ["schema_command", "schema_build"])]
    pub schema_file: Option<PathBuf>,
    /// The desired schema is the SQL this shell command prints (run in the project directory).
    ///
    /// Example: --schema-command "python -m retort_sqlalchemy myapp.models:Base"
    #[arg(long, value_name = "CMD", conflicts_with = "schema_build")]
    pub schema_command: Option<String>,
    /// The desired schema is what this shell command builds in the throwaway database
    /// $DATABASE_URL names.
    ///
    /// Example: --schema-build "python manage.py migrate"
    #[arg(long, value_name = "CMD")]
    pub schema_build: Option<String>,
}

/// `retort diff`'s sides: positional FROM and TO, or a program's schema for either.
#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The current schema, then the wanted one (a side given by a --from-*/--to-* flag is left
    /// out here).
    #[arg(value_name = "FROM TO", num_args = 0..=2)]
    pub sides: Vec<String>,
    /// FROM is the SQL this shell command prints.
    #[arg(long, value_name = "CMD", conflicts_with = "from_build")]
    pub from_command: Option<String>,
    /// FROM is what this shell command builds in a throwaway database ($DATABASE_URL).
    #[arg(long, value_name = "CMD")]
    pub from_build: Option<String>,
    /// TO is the SQL this shell command prints.
    #[arg(long, value_name = "CMD", conflicts_with = "to_build")]
    pub to_command: Option<String>,
    /// TO is what this shell command builds in a throwaway database ($DATABASE_URL).
    #[arg(long, value_name = "CMD")]
    pub to_build: Option<String>,
    /// Exit with 3 when there are differences (for CI).
    #[arg(long)]
    pub exit_code: bool,
    #[command(flatten)]
    pub schema: SchemaArgs,
}

/// Which schemas to compare and where throwaway databases live.
#[derive(Debug, Args, Clone)]
pub struct SchemaArgs {
    /// Only these schemas (repeatable). Default: every user schema.
    #[arg(long = "schema", value_name = "SCHEMA")]
    pub schema: Vec<String>,
    /// Leave these schemas out (repeatable); retort's own table schema always is.
    #[arg(long = "exclude-schema", value_name = "SCHEMA")]
    pub exclude_schema: Vec<String>,
    /// Also compare owners and emit ALTER ... OWNER TO (off by default: owners usually differ
    /// between development and production on purpose).
    #[arg(long)]
    pub owners: bool,
    /// A server for throwaway databases (the role needs CREATEDB). Default: a local cluster
    /// retort starts from its cached template and removes afterwards.
    #[arg(long, value_name = "URL")]
    pub dev_url: Option<String>,
    /// Build the migrations head and schema files afresh instead of reading retort's catalog
    /// cache (kept under the cache directory, keyed by the migrations' checksums, the dev
    /// server's version and retort's version, so an entry is never stale).
    #[arg(long)]
    pub no_cache: bool,
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// Where to go (see above). With --sql, also FROM:TO to plan without a database.
    #[arg(allow_hyphen_values = true)]
    pub target: Option<String>,
    /// Print the SQL (with the version-table updates) for psql -v ON_ERROR_STOP=1 -f instead of
    /// running it. With FROM:TO no database is needed.
    #[arg(long)]
    pub sql: bool,
    /// How long to wait for another runner's lock (default 60s, [migrations] lock_wait).
    #[arg(long, value_name = "DURATION")]
    pub lock_wait: Option<String>,
    /// SET lock_timeout for each migration (default 5s, [migrations] lock_timeout; 0 = off).
    #[arg(long, value_name = "DURATION")]
    pub lock_timeout: Option<String>,
    /// A transactional migration that hits lock_timeout is rolled back and tried again this many
    /// times, after a jittered pause that doubles (0.5 s, 1 s, 2 s, ...); each retry names the
    /// session holding the lock (default 3, [migrations] lock_retries).
    #[arg(long, value_name = "N")]
    pub lock_retries: Option<u32>,
    /// When the connection is lost mid-migration, keep trying to reconnect this long; once
    /// back, retort reads the version table to learn whether the migration in flight committed
    /// (its COMMIT may have gone through with the answer lost) and goes on without running
    /// anything twice. 0 stops at once.
    #[arg(long, value_name = "DURATION", default_value = "30s")]
    pub reconnect_for: String,
    /// SET statement_timeout for each migration (default off, [migrations] statement_timeout).
    #[arg(long, value_name = "DURATION")]
    pub statement_timeout: Option<String>,
    /// After the run, wait until standbys have replayed it: none, sync, all or N
    /// (default [replicas] wait, else none). The wait happens once, at the end.
    #[arg(long, value_name = "MODE")]
    pub wait_replicas: Option<String>,
    /// With --wait-replicas: wait after every migration instead of once at the end.
    #[arg(long)]
    pub wait_each: bool,
    /// How long to wait for standbys (default [replicas] timeout, else 60s).
    #[arg(long, value_name = "DURATION")]
    pub replica_timeout: Option<String>,
    /// A standby to poll directly (repeatable): counted by --wait-replicas even when the
    /// primary cannot see it, and its recovery conflicts are reported after the run.
    #[arg(long = "replica-url", value_name = "URL")]
    pub replica_urls: Vec<String>,
    /// Run even though fewer synchronous standbys are streaming than the primary needs; a
    /// commit that then waits longer than --sync-timeout is reported and the run stops.
    #[arg(long)]
    pub allow_missing_sync: bool,
    /// How long a COMMIT may wait for a synchronous standby before retort reports it.
    #[arg(long, value_name = "DURATION", default_value = "5s")]
    pub sync_timeout: String,
    /// Refuse to start when a standby is further behind than this (64MB, 30s; default
    /// [replicas] max_lag, else no limit).
    #[arg(long, value_name = "SIZE|DURATION")]
    pub max_lag: Option<String>,
    /// Refuse to run when `retort lint` has findings for the migrations about to run (without
    /// it they are printed as warnings).
    #[arg(long)]
    pub strict: bool,
    #[command(flatten)]
    pub fleet: FleetArgs,
    /// With --targets: how many databases to migrate at once.
    #[arg(long, value_name = "N", default_value_t = 4)]
    pub jobs: usize,
    /// With --targets: migrate this database first; if it fails, nothing else is touched.
    #[arg(long, value_name = "URL")]
    pub canary: Option<String>,
    /// With --targets: go on after a database fails (default: stop starting new ones).
    #[arg(long)]
    pub keep_going: bool,
}

/// Many databases at once: a fleet of tenants, shards or regions.
#[derive(Debug, Args, Clone, Default)]
pub struct FleetArgs {
    /// A file of database URLs, one per line (`#` starts a comment). Each database keeps its
    /// own version table, so a rerun continues where the last one stopped.
    #[arg(long, value_name = "FILE")]
    pub targets: Option<PathBuf>,
    /// SQL run on -d's server that returns database names (one column); each becomes a target
    /// on that server. Example: "SELECT datname FROM pg_database WHERE datname LIKE 'tenant_%'"
    #[arg(long, value_name = "SQL")]
    pub targets_query: Option<String>,
}
