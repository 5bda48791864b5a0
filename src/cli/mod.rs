//! The command line: argument definitions, the commands, and the one place
//! where errors become messages and exit codes.

mod args;
mod calibrate;
mod calibration;
pub(crate) mod dataset;
mod plot;
mod predict_steps;
mod run;
mod shard;
mod shell;
mod sweep;
mod sweep_report;
mod validate;

pub use args::{
    CalibrateArgs, Cli, Command, CompletionsArgs, ManArgs, PredictStepsArgs, ReportArgs, RunArgs,
    SweepArgs, SweepCommand, ValidateArgs,
};
pub(crate) use run::config_from_doc;

use clap::Parser;
use std::process::ExitCode;

/// Exit code of a successful command.
pub const EXIT_OK: u8 = 0;
/// Exit code of any error in configs, inputs or a run.
pub const EXIT_FAILURE: u8 = 1;
/// Exit code of command-line usage errors (clap's default).
pub const EXIT_USAGE: u8 = 2;
/// Exit code of a sweep stopped by Ctrl-C (128 + SIGINT, as shells report it).
pub const EXIT_INTERRUPTED: u8 = 130;

/// Parses the process arguments, runs the command, and maps the outcome to an exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Some(Command::Validate(args)) => validate::validate(&args),
        Some(Command::PredictSteps(args)) => predict_steps::predict_steps(&args),
        Some(Command::Calibrate(args)) => calibrate::calibrate(&args),
        Some(Command::Sweep(args)) => sweep::sweep(&args),
        Some(Command::Completions(args)) => shell::completions(&args),
        Some(Command::Man(args)) => shell::man(&args),
        None => run::run(&cli.run),
    };
    match outcome {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            eprintln!("error: {}", render_error(&err));
            ExitCode::from(EXIT_FAILURE)
        }
    }
}

/// Writes `text` to stdout. A reader that went away (`| head`) ends the
/// output quietly instead of failing the command.
pub(crate) fn print_stdout(text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

/// One line: the outermost message, then each cause that adds something.
pub(crate) fn render_error(err: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
    }
    parts.join(": ")
}
