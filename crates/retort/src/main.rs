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
#[allow(dead_code)] // used by the schema commands of the next issues; part of the CLI contract
pub const EXIT_DIFFERENCES: u8 = 3;

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(cli.global.verbose, cli.global.quiet);
    let out = Output::new(cli.global.format, cli.global.quiet);
    let result = match &cli.command {
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
        (false, 1) => "info,retort=debug,retort_cluster=debug,retort_pg=debug",
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
