//! The `backprop` command line: glue between clap and the library. `main` maps the result to an
//! exit code; every user mistake is one `error:` line on stderr and exit code 2.
// no function over 100 lines (clippy's default; CI denies warnings); the commands keep theirs
// under ~60 by splitting what they do
#![warn(clippy::too_many_lines)]

mod args;
mod bench;
mod benchmark;
mod cv;
mod data;
mod destinations;
#[cfg(feature = "mpi")]
mod distributed;
mod evaluate;
mod explain;
mod export;
mod gradcheck;
mod inspect;
mod plot;
mod predict;
mod progress;
mod signals;
mod summary;
mod train;
mod train_config;

use args::{Cli, Command};
use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            if let Some(Exit(code)) = err.downcast_ref::<Exit>() {
                return ExitCode::from(*code);
            }
            if let Some(io) = err.downcast_ref::<std::io::Error>() {
                if io.kind() == std::io::ErrorKind::BrokenPipe {
                    return ExitCode::SUCCESS;
                }
            }
            errln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}

/// An exit with this code, everything already said (e.g. 130 after an interrupt).
#[derive(Debug)]
pub struct Exit(pub u8);

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exit {}", self.0)
    }
}

impl std::error::Error for Exit {}

/// Writes a line to stderr, ignoring failure (a closed stderr must not panic the run: the model
/// is still saved).
macro_rules! errln {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr().lock(), $($t)*);
    }};
}
pub(crate) use errln;

/// Writes to stdout; a closed pipe (`| head`) comes back as an error that `main` treats as success.
macro_rules! out {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        write!(std::io::stdout().lock(), $($t)*)
    }};
}
pub(crate) use out;

/// [`out!`] with a newline.
macro_rules! outln {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($t)*)
    }};
}
pub(crate) use outln;

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Train(a) => train::run(&a),
        Command::Inspect(a) => inspect::run(&a),
        Command::Predict(a) => predict::run(&a),
        Command::Evaluate(a) => evaluate::run(&a),
        Command::Cv(a) => cv::run(&a),
        Command::Gradcheck(a) => gradcheck::run(&a),
        Command::Explain(a) => explain::run(&a),
        Command::Summary(a) => summary::run(&a),
        Command::Bench(a) => bench::run(&a),
        Command::Plot(a) => plot::run(&a),
        Command::Export(a) => export::run(&a),
    }
}
