//! The `retort` binary: argument parsing, output and exit codes. All the work is in the
//! library crates.

mod cli;
mod commands;
mod config;
mod output;
mod progress;

use std::process::ExitCode;

use clap::{CommandFactory, Parser};

use crate::cli::{Cli, Command, Format};
use crate::output::Output;

/// Exit code for "differences or findings" (`check`, `diff --exit-code`, `lint`).
pub const EXIT_DIFFERENCES: u8 = 3;

fn main() -> ExitCode {
    // Die quietly on a closed pipe (`retort history | head`) like other Unix tools, instead of
    // panicking in println!.
    // SAFETY: called before any other thread exists; SIG_DFL is a valid disposition.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = Cli::parse();
    init_tracing(cli.global.verbose, cli.global.quiet);
    let out = Output::new(cli.global.format, cli.global.quiet);
    if matches!(cli.global.format, Format::Mermaid | Format::Dot)
        && !matches!(cli.command, Command::Graph)
    {
        let mut cmd = Cli::command();
        cmd.error(
            clap::error::ErrorKind::InvalidValue,
            "--format mermaid and --format dot only apply to `retort graph`; use human or json",
        )
        .exit();
    }
    if cli.global.format == Format::Sarif && !matches!(cli.command, Command::Lint { .. }) {
        let mut cmd = Cli::command();
        cmd.error(
            clap::error::ErrorKind::InvalidValue,
            "--format sarif only applies to `retort lint`; use human or json",
        )
        .exit();
    }
    let g = &cli.global;
    let result = match &cli.command {
        Command::Init { dir, sqlalchemy } => {
            commands::authoring::init(&out, dir, sqlalchemy.as_deref())
        }
        Command::New(args) => commands::authoring::new(g, &out, args),
        Command::Merge {
            revisions,
            message,
            branch_labels,
        } => commands::authoring::merge(g, &out, revisions, message, branch_labels),
        Command::Upgrade(args) => {
            commands::apply::run(g, &out, args, retort_migrate::Direction::Up)
        }
        Command::Downgrade(args) => {
            commands::apply::run(g, &out, args, retort_migrate::Direction::Down)
        }
        Command::Current { fleet } => {
            if fleet.targets.is_some() || fleet.targets_query.is_some() {
                commands::fleet::current(g, &out, fleet)
            } else {
                commands::status::current(g, &out)
            }
        }
        Command::History {
            range,
            applied,
            limit,
        } => commands::status::history(g, &out, range.as_deref(), *applied, *limit),
        Command::Heads => commands::status::heads(g, &out),
        Command::Branches => commands::status::branches(g, &out),
        Command::Show { revision } => commands::status::show(g, &out, revision),
        Command::Complete { force, lock_wait } => {
            commands::phases::complete(g, &out, *force, lock_wait.as_deref())
        }
        Command::Abort {
            revision,
            lock_wait,
        } => commands::phases::abort(g, &out, revision.as_deref(), lock_wait.as_deref()),
        Command::SearchPath { revision } => {
            commands::phases::search_path(g, &out, revision.as_deref())
        }
        Command::Stamp { targets, lock_wait } => {
            commands::stamp::stamp(g, &out, targets, lock_wait.as_deref())
        }
        Command::Repair { revisions } => commands::stamp::repair(g, &out, revisions),
        Command::Graph => commands::graph::run(g, &out),
        Command::Baseline { message, schema } => {
            commands::adopt::baseline(g, &out, message, schema)
        }
        Command::Import(cli::ImportCommand::Alembic { from, to, schema }) => {
            commands::adopt::import_alembic(g, &out, from, to.as_deref(), schema)
        }
        Command::Diff(args) => commands::schema::run_diff(g, &out, args),
        Command::Lint { targets } => commands::lint::run(g, &out, targets),
        Command::Check { desired, schema } => commands::schema::run_check(g, &out, desired, schema),
        Command::Replica(cmd) => commands::replica::run(g, &out, cmd),
        Command::Backfill(args) => commands::backfill::run(g, &out, args),
        Command::Shadow(cmd) => commands::shadow::run(g, &out, cmd),
        Command::Cluster(cmd) => commands::cluster::run(&cli.global, &out, cmd),
        Command::Demo => commands::demo::run(&out),
        Command::Ping => commands::ping::run(&cli.global, &out),
        Command::Completions { shell } => {
            clap_complete::generate(
                *shell,
                &mut Cli::command(),
                "retort",
                &mut std::io::stdout(),
            );
            Ok(ExitCode::SUCCESS)
        }
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            output::report_error(&err, cli.global.format == Format::Json);
            ExitCode::FAILURE
        }
    }
}

fn init_tracing(verbose: u8, quiet: bool) {
    let level = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info,retort=debug,retort_cluster=debug,retort_pg=debug,retort_migrate=debug",
        (false, _) => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("RETORT_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .without_time()
        .init();
}
