//! The command line: argument definitions, the commands, the progress bars,
//! and the one place where errors become messages and exit codes.
//!
//! # Exit codes
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success |
//! | 1 | a bad config or input: invalid content, or an input file that is missing, unreadable or malformed |
//! | 2 | command-line usage: unknown flags, flags that do not fit together or do not fit the config, an output path that is an input or another output |
//! | 3 | some runs failed (their errors are in the tables), or a merge is missing points |
//! | 4 | an output could not be written (disk full, no permission, an output directory another sweep is writing into) |
//! | 130 | interrupted by Ctrl-C (what finished is kept) |

mod accuracy;
mod args;
mod calibrate;
mod capacity;
mod compare;
mod outputs;
mod plot;
mod predict_steps;
mod progress;
mod run;
mod shard;
mod shell;
mod sweep;
mod sweep_report;
mod validate;
mod work;

pub use args::{
    CalibrateArgs, CapacityArgs, Cli, Command, CompareArgs, CompletionsArgs, ManArgs,
    MeasuredFormat, MergeArgs, PredictStepsArgs, ReportArgs, RunArgs, ShardSpec, SweepArgs,
    SweepCommand, ValidateArgs,
};

use crate::config::ConfigError;
use crate::io::{self, ErrorClass};
use crate::report::style::Style;
use clap::Parser;
use std::process::ExitCode;

/// Exit code of a successful command.
pub const EXIT_OK: u8 = 0;
/// Exit code of a bad config or input (content, or a missing or unreadable input file).
pub const EXIT_INPUT: u8 = 1;
/// Exit code of command-line usage errors (also clap's).
pub const EXIT_USAGE: u8 = 2;
/// Exit code when some runs failed, or a merge is missing points.
pub const EXIT_RUNS_FAILED: u8 = 3;
/// Exit code of an output that could not be written.
pub const EXIT_OUTPUT: u8 = 4;
/// Exit code of a sweep stopped by Ctrl-C (128 + SIGINT, as shells report it).
pub const EXIT_INTERRUPTED: u8 = 130;

/// Why a command failed: the message to print and the exit code.
#[derive(Debug)]
pub struct Failure {
    code: u8,
    message: String,
}

impl Failure {
    /// A usage error (exit 2): flags that do not fit together or the config.
    pub fn usage(message: impl Into<String>) -> Self {
        Self {
            code: EXIT_USAGE,
            message: message.into(),
        }
    }

    /// The exit code.
    pub fn exit_code(&self) -> u8 {
        self.code
    }

    /// The one-line message (without the `error: ` prefix).
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl From<io::Error> for Failure {
    fn from(e: io::Error) -> Self {
        let code = match e.class() {
            ErrorClass::Input => EXIT_INPUT,
            ErrorClass::Usage => EXIT_USAGE,
            ErrorClass::Output => EXIT_OUTPUT,
            ErrorClass::Run => EXIT_RUNS_FAILED,
        };
        Self {
            code,
            message: e.to_string(),
        }
    }
}

impl From<ConfigError> for Failure {
    fn from(e: ConfigError) -> Self {
        io::Error::from(e).into()
    }
}

/// What a command returns: its exit code, or why it failed.
type Outcome = Result<u8, Failure>;

/// Parses the process arguments, runs the command, and maps the outcome to an exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Some(Command::Validate(args)) => validate::validate(&args),
        Some(Command::PredictSteps(args)) => predict_steps::predict_steps(&args),
        Some(Command::Calibrate(args)) => calibrate::calibrate(&args),
        Some(Command::Sweep(args)) => sweep::sweep(&args),
        Some(Command::Capacity(args)) => capacity::capacity(&args),
        Some(Command::Compare(args)) => compare::compare(&args),
        Some(Command::Completions(args)) => shell::completions(&args),
        Some(Command::Man(args)) => shell::man(&args),
        Some(Command::Schema(args)) => schema(&args),
        None => run::run(&cli.run),
    };
    ExitCode::from(outcome.unwrap_or_else(|failure| report(&failure)))
}

/// The output style: colour only when not turned off (`--no-color`, or a
/// non-empty `NO_COLOR`) and stdout is a terminal.
pub(crate) fn detect_style(no_color_flag: bool) -> Style {
    use std::io::IsTerminal;
    let env_off = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    Style::colored(!no_color_flag && !env_off && std::io::stdout().is_terminal())
}

/// Prints `failure` to stderr (the one place errors are rendered) and
/// returns its exit code.
fn report(failure: &Failure) -> u8 {
    print_stderr(&format!("error: {}\n", failure.message));
    failure.code
}

/// Writes `text` to stdout. A reader that went away (`| head`) ends the
/// output quietly instead of failing the command.
/// `inference-lab schema KIND`: the JSON Schema, generated from the field
/// tables the parser reads, as committed under `schemas/`.
fn schema(args: &args::SchemaArgs) -> Result<u8, Failure> {
    let schema = match args.kind {
        args::SchemaKind::Config => crate::config::schema::config_schema(),
        args::SchemaKind::Sweep => crate::sweep::schema::sweep_schema(),
    };
    print_stdout(&format!("{schema:#}\n")).map(|()| 0)
}

pub(crate) fn print_stdout(text: &str) -> Result<(), Failure> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(io::Error::write(std::path::Path::new("<stdout>"), e).into()),
        Ok(()) => Ok(()),
    }
}

/// Writes `text` to stderr; a stderr that cannot be written is ignored (there
/// is nowhere left to complain).
pub(crate) fn print_stderr(text: &str) {
    use std::io::Write;
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(text.as_bytes()).and_then(|()| err.flush());
}
