//! The bare command: run one simulation, show progress and the report, write JSON.

use super::args::RunArgs;
use super::plot::{write_plot, Tee};
use super::EXIT_OK;
use crate::config::{Config, DEFAULT_CONFIG_SOURCE};
use crate::engine::{SimOptions, Simulator};
use crate::report::console;
use crate::report::files::write_atomic;
use crate::report::html::timeline::Timeline;
use crate::report::progress::{ConsoleProgress, ProgressOptions};
use crate::report::style::Style;
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The config file read when `-c` is not given.
const DEFAULT_CONFIG_FILE: &str = "config.toml";

/// Runs one simulation as the flags say.
pub fn run(args: &RunArgs) -> Result<u8> {
    let style = Style::detect(args.no_color);
    let (mut config, config_path) = load_config(args.config.as_deref(), args.quiet, style)?;
    if let Some(seed) = args.seed {
        config.workload.seed = seed;
    }
    let inputs = super::dataset::DatasetInputs {
        tokenizer: args.tokenizer.as_deref(),
        chat_template: args.chat_template.as_deref(),
        show_progress: !args.quiet,
        cache: None,
    };
    let workload = super::dataset::workload(&config, config_path.as_deref(), &inputs, style)?;
    let mut progress = ConsoleProgress::new(
        &config,
        ProgressOptions {
            bar: !args.quiet,
            verbose: args.verbose,
            debug: args.debug,
            style,
        },
    );
    // A dataset may end before num_requests: count what will really arrive.
    let w = &config.workload;
    if let Some(total) = workload.planned_requests() {
        if w.num_requests.is_some() || w.duration_secs.is_none() {
            progress.count_requests(total);
        }
    }
    let started = Instant::now();
    let mut timeline = args.plot.as_ref().map(|_| Timeline::new());
    // The plot's latency distributions need every request's record.
    let simulator = Simulator::new(&config, workload, SimOptions::recording(timeline.is_some()));
    let outcome = match &mut timeline {
        Some(second) => simulator.run(&mut Tee {
            first: &mut progress,
            second,
        }),
        None => simulator.run(&mut progress),
    };
    progress.finish();
    let output = outcome?;
    let mut result = output.result;
    result.simulation.wall_seconds = started.elapsed().as_secs_f64();
    if let (Some(path), Some(timeline)) = (&args.plot, &timeline) {
        let name = config_path
            .as_deref()
            .map_or_else(|| "built-in default".into(), |p| p.display().to_string());
        let records = output.requests.as_deref().unwrap_or_default();
        write_plot(path, &name, &result, timeline, records)?;
    }

    if let Some(path) = &args.output {
        let json = serde_json::to_string_pretty(&result)?;
        write_atomic(path, format!("{json}\n").as_bytes())
            .with_context(|| format!("cannot write results to '{}'", path.display()))?;
    }
    if !args.quiet {
        let mut report = console::render(&result, style);
        if let Some(path) = &args.output {
            let note = format!("Results written to {}", path.display());
            report.push_str(&format!("\n{}\n", style.dim(&note)));
        }
        if let Some(path) = &args.plot {
            let note = format!("Plot written to {}", path.display());
            report.push_str(&format!("{}\n", style.dim(&note)));
        }
        super::print_stdout(&report)?;
    }
    Ok(EXIT_OK)
}

/// Loads `-c`, or `./config.toml`, or the built-in default (with a note);
/// returns the config and the file it came from (`None` for the built-in default).
fn load_config(
    path: Option<&Path>,
    quiet: bool,
    style: Style,
) -> Result<(Config, Option<PathBuf>)> {
    let path: PathBuf = match path {
        Some(p) => p.to_path_buf(),
        None if Path::new(DEFAULT_CONFIG_FILE).exists() => PathBuf::from(DEFAULT_CONFIG_FILE),
        None => {
            if !quiet {
                eprintln!(
                    "{}",
                    style.dim(&format!(
                        "note: no -c given and no ./{DEFAULT_CONFIG_FILE}: running the built-in default (Llama-3-70B on one H100, Poisson arrivals; see configs/config.toml)"
                    ))
                );
            }
            let config = Config::builtin_default()
                .with_context(|| format!("{DEFAULT_CONFIG_SOURCE} is invalid"))?;
            return Ok((config, None));
        }
    };
    Ok((read_config(&path)?, Some(path)))
}

/// Reads and validates one config file.
pub(crate) fn read_config(path: &Path) -> Result<Config> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read config file '{}'", path.display()))?;
    let doc = crate::config::parse_toml(&text, &path.display().to_string())?;
    config_from_doc(doc, path)
}

/// Validates a parsed config document that was read from the file `path`
/// (perhaps changed since, as sweeps do): the one place where a config file
/// becomes a [`Config`], so that every command resolves it the same way. A
/// `hardware.calibration` naming a file is read here, relative to `path`.
pub(crate) fn config_from_doc(mut doc: toml::Table, path: &Path) -> Result<Config> {
    super::calibration::inline_calibration_file(&mut doc, path)?;
    Ok(Config::from_table(&doc, &path.display().to_string())?)
}
