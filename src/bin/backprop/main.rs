//! The `backprop` command line: glue between clap and the library. `main` maps the result to an
//! exit code; every user mistake is one `error:` line on stderr and exit code 2.

mod args;
mod data;
mod evaluate;
mod gradcheck;
mod predict;
mod progress;
mod train;

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
            if let Some(io) = err.downcast_ref::<std::io::Error>() {
                if io.kind() == std::io::ErrorKind::BrokenPipe {
                    return ExitCode::SUCCESS;
                }
            }
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Train(a) => train::run(&a),
        Command::Predict(a) => predict::run(&a),
        Command::Evaluate(a) => evaluate::run(&a),
        Command::Gradcheck(a) => gradcheck::run(&a),
        Command::Explain(_) | Command::Summary(_) | Command::Bench(_) => {
            anyhow::bail!("this command is not available in this build yet")
        }
    }
}
