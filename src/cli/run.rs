//! The bare command: run one simulation, show progress and the report, write JSON.

use super::args::RunArgs;
use super::plot::{write_plot, Tee};
use super::progress::{dataset_progress, ConsoleProgress, ProgressOptions};
use super::work::{warning, Scope};
use super::{print_stderr, Failure, Outcome, EXIT_OK};
use crate::cluster::Simulator;
use crate::config::{apply_overrides, Config, DEFAULT_CONFIG_SOURCE, DEFAULT_CONFIG_TOML};
use crate::engine::work::Work;
use crate::engine::{RunOutput, SimOptions};
use crate::io::config_file::{config_from_doc, read_toml};
use crate::io::dataset::TemplateArg;
use crate::io::files::write_atomic;
use crate::io::workload::{build_workload, DatasetInputs, WorkloadSource};
use crate::io::Error;
use crate::report::console;
use crate::report::html::timeline::Timeline;
use crate::report::style::Style;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The config file read when `-c` is not given.
const DEFAULT_CONFIG_FILE: &str = "config.toml";

/// Runs one simulation as the flags say.
pub fn run(args: &RunArgs) -> Outcome {
    let style = super::detect_style(args.no_color);
    check_outputs(args)?;
    let (config, config_path) = load_config(
        &ConfigFlags {
            config: args.config.as_deref(),
            set: &args.set,
            seed: args.seed,
            quiet: args.quiet,
        },
        style,
    )?;
    let dataset = dataset_inputs(args.tokenizer.as_deref(), args.chat_template.as_deref());
    let mut timeline = args.plot.as_ref().map(|_| Timeline::new());
    let options = ProgressOptions {
        bar: !args.quiet,
        verbose: args.verbose,
        debug: args.debug,
        style,
    };
    let output = simulate(
        &config,
        config_path.as_deref(),
        &dataset,
        options,
        timeline.as_mut(),
    )?;
    let result = output.result;
    if let (Some(path), Some(timeline)) = (&args.plot, &timeline) {
        let name = config_path
            .as_deref()
            .map_or_else(|| "built-in default".into(), |p| p.display().to_string());
        let records = output.requests.as_deref().unwrap_or_default();
        write_plot(path, &name, &result, timeline, records)?;
    }

    if let Some(path) = &args.output {
        let json = serde_json::to_string_pretty(&result).map_err(|e| Error::write_with(path, e))?;
        write_atomic(path, format!("{json}\n").as_bytes())
            .map_err(|e| Error::write_as("results to", path, e))?;
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

/// Refuses `-o` or `--plot` naming an input file or each other.
fn check_outputs(args: &RunArgs) -> Result<(), Failure> {
    let config = args
        .config
        .as_deref()
        .unwrap_or(Path::new(DEFAULT_CONFIG_FILE));
    let mut inputs = vec![("the config file", config)];
    if let Some(tokenizer) = &args.tokenizer {
        inputs.push(("the tokenizer (--tokenizer)", tokenizer));
    }
    if let Some(template) = &args.chat_template {
        inputs.push(("the chat template (--chat-template)", Path::new(template)));
    }
    let outputs: Vec<_> = [("-o", &args.output), ("--plot", &args.plot)]
        .into_iter()
        .filter_map(|(flag, path)| path.as_deref().map(|p| (flag, p)))
        .collect();
    super::outputs::check_outputs(&inputs, &outputs)
}

/// The dataset flags (`--tokenizer`, `--chat-template`) as workload inputs.
pub(super) fn dataset_inputs(
    tokenizer: Option<&Path>,
    chat_template: Option<&str>,
) -> DatasetInputs {
    DatasetInputs {
        tokenizer: tokenizer.map(Path::to_path_buf),
        chat_template: chat_template.map(|t| TemplateArg::parse(t, None)),
    }
}

/// Simulates `config` (read from `config_path`, `None` for the built-in
/// default) as a run does: its workload built, progress shown as `options`
/// say, and every event also sent to `timeline` when given (which then
/// also records every request). The result's wall time is set.
pub(super) fn simulate(
    config: &Config,
    config_path: Option<&Path>,
    dataset: &DatasetInputs,
    options: ProgressOptions,
    timeline: Option<&mut Timeline>,
) -> Result<RunOutput, Failure> {
    let source = WorkloadSource {
        config_path,
        dataset,
        cache: None,
    };
    let workload = build_workload(
        config,
        &source,
        &mut dataset_progress(options.bar, options.style),
    )?;
    let records = timeline.is_some();
    let work = Work::of(config, workload.planned_requests());
    if let Some(line) = work.and_then(|w| warning(&w, records, Scope::Run, options.style)) {
        print_stderr(&line);
    }
    let mut progress = ConsoleProgress::new(config, options);
    // A dataset may end before num_requests: count what will really arrive.
    let w = &config.workload;
    if let Some(total) = workload.planned_requests() {
        if w.num_requests.is_some() || w.duration_secs.is_none() {
            progress.count_requests(total);
        }
    }
    let started = Instant::now();
    // The plot's latency distributions need every request's record.
    let simulator = Simulator::new(config, workload, SimOptions::recording(records));
    let outcome = match timeline {
        Some(second) => simulator.run(&mut Tee {
            first: &mut progress,
            second,
        }),
        None => simulator.run(&mut progress),
    };
    progress.finish();
    let mut output = outcome.map_err(Error::from)?;
    output.result.simulation.wall_seconds = started.elapsed().as_secs_f64();
    Ok(output)
}

/// The flags that say which config a command simulates.
pub(super) struct ConfigFlags<'a> {
    /// `-c`, if given.
    pub config: Option<&'a Path>,
    /// Every `--set`.
    pub set: &'a [(String, toml::Value)],
    /// `--seed`, if given.
    pub seed: Option<u64>,
    /// `-q`: no note about the built-in default.
    pub quiet: bool,
}

/// Loads `-c`, or `./config.toml`, or the built-in default (with a note),
/// with `--seed` and every `--set` applied before validation; returns the
/// config and the file it came from (`None` for the built-in default).
pub(super) fn load_config(
    args: &ConfigFlags<'_>,
    style: Style,
) -> Result<(Config, Option<PathBuf>), Failure> {
    let path: Option<PathBuf> = match args.config {
        Some(p) => Some(p.to_path_buf()),
        None if Path::new(DEFAULT_CONFIG_FILE).exists() => Some(PathBuf::from(DEFAULT_CONFIG_FILE)),
        None => {
            if !args.quiet {
                print_stderr(&format!(
                    "{}\n",
                    style.dim(&format!(
                        "note: no -c given and no ./{DEFAULT_CONFIG_FILE}: running the built-in default (Llama-3-70B on one H100, Poisson arrivals; see configs/config.toml)"
                    ))
                ));
            }
            None
        }
    };
    let mut doc = match &path {
        Some(p) => read_toml(p, "config file")?,
        None => crate::config::parse_toml(DEFAULT_CONFIG_TOML, DEFAULT_CONFIG_SOURCE)?,
    };
    let mut keys: Vec<&str> = args.set.iter().map(|(k, _)| k.as_str()).collect();
    let mut values: Vec<toml::Value> = args.set.iter().map(|(_, v)| v.clone()).collect();
    if let Some(seed) = args.seed {
        keys.push("workload.seed");
        values.push(toml::Value::Integer(i64::try_from(seed).map_err(|_| {
            Failure::usage(format!("--seed {seed}: expected a seed below 2^63"))
        })?));
    }
    apply_overrides(&mut doc, &keys, &values).map_err(|e| Failure::usage(format!("--set: {e}")))?;
    let config = match &path {
        Some(p) => config_from_doc(doc, p)?,
        None => Config::from_table(&doc, DEFAULT_CONFIG_SOURCE)?,
    };
    Ok((config, path))
}
