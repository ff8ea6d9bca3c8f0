//! A spinner on stderr for slow steps, shown only to people at a terminal.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use crate::output::Output;

/// A spinner when stderr is a terminal and output is for people; otherwise nothing.
pub fn spinner(out: &Output) -> ProgressBar {
    if out.quiet || out.json() || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new_spinner();
    if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} ({elapsed})") {
        bar.set_style(style);
    }
    bar.enable_steady_tick(Duration::from_millis(100));
    bar
}

/// A bar of `len` steps in `template` when stderr is a terminal and output is for people;
/// otherwise a hidden one.
pub fn bar(out: &Output, len: u64, template: &str) -> ProgressBar {
    if out.quiet || out.json() || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
    bar
}

/// The words for a cluster start-up step.
pub fn describe(step: &retort_cluster::Progress) -> String {
    match step {
        retort_cluster::Progress::CreatingTemplate => {
            "running initdb once for this server version (cached for next time)".to_owned()
        }
        retort_cluster::Progress::Starting(name) => format!("starting {name}"),
        retort_cluster::Progress::Cloning(name) => format!("cloning {name} with pg_basebackup"),
        retort_cluster::Progress::WaitingForStreaming => {
            "waiting for standbys to stream".to_owned()
        }
    }
}
