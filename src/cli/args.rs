//! Argument definitions: a thin mirror of the flags, checked by clap. The
//! commands turn these into validated configs.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// Simulate an LLM inference server (vLLM-style scheduler, paged KV cache,
/// roofline GPU model) and report latency, throughput and utilisation.
#[derive(Debug, Parser)]
#[command(
    name = "inference-lab",
    version,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    /// A subcommand; without one, runs a single simulation.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Options of a single simulation.
    #[command(flatten)]
    pub run: RunArgs,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check config files and sweep manifests without running anything.
    Validate(ValidateArgs),
    /// Price step shapes (a CSV) with the simulator's cost model; compare with measurements.
    PredictSteps(PredictStepsArgs),
    /// Fit hardware.calibration to measured step times (a CSV) and write it as TOML.
    Calibrate(CalibrateArgs),
    /// Run every point of a sweep manifest in parallel into Parquet and CSV tables.
    Sweep(SweepArgs),
    /// Find the highest load one config carries while every SLO holds (a one-config capacity search).
    Capacity(CapacityArgs),
    /// Simulate a config and set each metric against a benchmark's measured one, with its relative error.
    Compare(CompareArgs),
    /// Print a shell completion script (bash, zsh, fish, powershell, elvish) to stdout.
    Completions(CompletionsArgs),
    /// Write a man page for every command (inference-lab.1, inference-lab-sweep.1, ...) into a directory.
    Man(ManArgs),
    /// Print the JSON Schema of config files or sweep manifests, for editors (schemas/).
    Schema(SchemaArgs),
}

/// Options of `schema`.
#[derive(Debug, Args)]
pub struct SchemaArgs {
    /// Which file kind: `config` (configs/*.toml) or `sweep` (sweeps/*.toml).
    #[arg(value_enum)]
    pub kind: SchemaKind,
}

/// The file kinds `schema` describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SchemaKind {
    /// A config file.
    Config,
    /// A sweep manifest.
    Sweep,
}

/// Options of a single simulation.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Config file [default: ./config.toml, or the built-in default when it does not exist].
    #[arg(short = 'c', long = "config", value_name = "CONFIG")]
    pub config: Option<PathBuf>,
    /// Dataset mode (workload.dataset_path): the Hugging Face tokenizer.json that tokenizes the prompts.
    #[arg(long, value_name = "FILE")]
    pub tokenizer: Option<PathBuf>,
    /// Dataset mode: `None` (join the messages' contents with newlines), a Jinja chat template, or a template file (.jinja, or a tokenizer_config.json).
    #[arg(long, value_name = "T")]
    pub chat_template: Option<String>,
    /// Write the full result as JSON to this file.
    #[arg(short = 'o', long = "output", value_name = "FILE.json")]
    pub output: Option<PathBuf>,
    /// Quiet: no progress bar and no report (the -o file is still written).
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Log a summary line every simulation.log_interval steps.
    #[arg(short = 'v', long)]
    pub verbose: bool,
    /// Log every scheduler decision (admissions, preemptions, completions).
    #[arg(long)]
    pub debug: bool,
    /// Never colour the output (also: NO_COLOR, or stdout not a terminal).
    #[arg(long)]
    pub no_color: bool,
    /// Also write an HTML page of the run: queues, batch size, KV cache and step time over time, latency distributions.
    #[arg(long, value_name = "FILE.html")]
    pub plot: Option<PathBuf>,
    /// Override workload.seed.
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    /// Override a config field before it is validated: a dotted key and a
    /// value, as a sweep manifest writes them (`--set scheduler.policy=sof
    /// --set workload.arrival_rate=4`). Repeatable; presets as section values
    /// (`--set hardware=h200`) replace the section, fields go on top.
    #[arg(long = "set", value_name = "KEY=VALUE", value_parser = parse_set)]
    pub set: Vec<(String, toml::Value)>,
}

/// Parses one `--set KEY=VALUE`.
fn parse_set(text: &str) -> Result<(String, toml::Value), String> {
    crate::config::parse_assignment(text)
}

/// Options of `capacity`: the `[search]` section of a manifest as flags.
#[derive(Debug, Args)]
pub struct CapacityArgs {
    /// Config file to search.
    #[arg(short = 'c', long = "config", value_name = "CONFIG", required = true)]
    pub config: PathBuf,
    /// An SLO: an upper bound on a metric column of the runs table
    /// (`--slo ttft_ms_p99=2000 --slo per_token_ms_p99=100`). Repeatable; at least one.
    #[arg(long = "slo", value_name = "COLUMN=MAX", required = true, value_parser = parse_slo)]
    pub slo: Vec<(String, f64)>,
    /// The load knob searched: any numeric config key.
    #[arg(long, value_name = "KEY", default_value = "workload.arrival_rate")]
    pub over: String,
    /// The bracket searched [default: 0.25,64 for a rate; 1,256 for workload.num_concurrent_users].
    /// Integers search an integer key over integers.
    #[arg(long, value_name = "LO,HI")]
    pub bounds: Option<String>,
    /// Relative width of the final bracket [default: 0.02].
    #[arg(long, value_name = "X")]
    pub tolerance: Option<f64>,
    /// Override workload.seed.
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    /// Override a config field, as `--set` of a run does (`--set scheduler.policy=sof`). Repeatable.
    #[arg(long = "set", value_name = "KEY=VALUE", value_parser = parse_set)]
    pub set: Vec<(String, toml::Value)>,
    /// Write the search (found load, fails_at, binding SLO, every probe) as JSON to this file.
    #[arg(short = 'o', long = "output", value_name = "FILE.json")]
    pub output: Option<PathBuf>,
    /// Quiet: no probe lines while searching and no report (the -o file is still written).
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Never colour the output (also: NO_COLOR, or stdout not a terminal).
    #[arg(long)]
    pub no_color: bool,
}

/// Parses one `--slo COLUMN=MAX`.
fn parse_slo(text: &str) -> Result<(String, f64), String> {
    let (key, value) = text.split_once('=').ok_or_else(|| {
        format!("expected COLUMN=MAX (for example ttft_ms_p99=2000), got '{text}'")
    })?;
    let max: f64 = value
        .trim()
        .parse()
        .map_err(|_| format!("expected a number after '=' in '{text}'"))?;
    Ok((key.trim().to_string(), max))
}

/// Options of `compare`.
#[derive(Debug, Args)]
pub struct CompareArgs {
    /// Config file to simulate.
    #[arg(short = 'c', long = "config", value_name = "CONFIG", required = true)]
    pub config: PathBuf,
    /// The measured results: `vllm bench serve --save-result` JSON,
    /// inference-perf lifecycle-metrics JSON, or a `metric,value` CSV.
    #[arg(long, value_name = "FILE", required = true)]
    pub measured: PathBuf,
    /// The measured file's format [default: detected from its content].
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub format: Option<MeasuredFormat>,
    /// Override workload.seed.
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    /// Override a config field, as `--set` of a run does (`--set workload.arrival_rate=4`). Repeatable.
    #[arg(long = "set", value_name = "KEY=VALUE", value_parser = parse_set)]
    pub set: Vec<(String, toml::Value)>,
    /// Dataset mode (workload.dataset_path): the Hugging Face tokenizer.json, as for a run.
    #[arg(long, value_name = "FILE")]
    pub tokenizer: Option<PathBuf>,
    /// Dataset mode: the chat template, as for a run.
    #[arg(long, value_name = "T")]
    pub chat_template: Option<String>,
    /// Write the comparison (every metric, its error, the skipped keys, the MAPE) as JSON to this file.
    #[arg(short = 'o', long = "output", value_name = "FILE.json")]
    pub output: Option<PathBuf>,
    /// Quiet: no progress bar and no table (the -o file is still written).
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Never colour the output (also: NO_COLOR, or stdout not a terminal).
    #[arg(long)]
    pub no_color: bool,
}

/// The formats of `compare --measured`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum MeasuredFormat {
    /// `vllm bench serve --save-result` JSON.
    Vllm,
    /// inference-perf (llm-d harness) lifecycle-metrics JSON.
    InferencePerf,
    /// A CSV with the header `metric,value`.
    Csv,
}

/// Options of `sweep`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct SweepArgs {
    /// Work on the outputs of sweeps instead of running one.
    #[command(subcommand)]
    pub command: Option<SweepCommand>,
    /// The sweep manifest (for example sweeps/policies.toml).
    #[arg(value_name = "MANIFEST", required = true)]
    pub manifest: Option<PathBuf>,
    /// Output directory [default: the manifest's sweep.output].
    #[arg(short = 'o', long = "output", value_name = "DIR")]
    pub output: Option<PathBuf>,
    /// Runs at once [default: all cores].
    #[arg(short = 'j', long = "jobs", value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub jobs: Option<u16>,
    /// Run only the points whose index modulo N is I, into DIR/shard-I-of-N;
    /// `auto` takes I and N from a Slurm job array (SLURM_ARRAY_TASK_ID,
    /// SLURM_ARRAY_TASK_COUNT) or a Kubernetes Indexed Job (JOB_COMPLETION_INDEX, with --shards N).
    #[arg(long, value_name = "I/N|auto", value_parser = parse_shard)]
    pub shard: Option<ShardSpec>,
    /// The number of shards, for --shard auto where the environment does not say (Kubernetes);
    /// only with --shard auto.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub shards: Option<u32>,
    /// Reuse runs that already finished (the default).
    #[arg(long, conflicts_with = "force")]
    pub resume: bool,
    /// Redo every run, even those that already finished.
    #[arg(long)]
    pub force: bool,
    /// Print the points and their count; run nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Also write requests.parquet, one row per request of every run.
    #[arg(long)]
    pub per_request: bool,
    /// Also write each finished run's full result as runs/RUN_ID.json (the
    /// tables and the packed run store under runs/ hold every metric anyway).
    #[arg(long)]
    pub run_files: bool,
    /// Quiet: no progress bar and no summary.
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Never colour the output (also: NO_COLOR, or stdout not a terminal).
    #[arg(long)]
    pub no_color: bool,
}

/// Subcommands of `sweep`.
#[derive(Debug, Subcommand)]
pub enum SweepCommand {
    /// Combine the shard directories of one sweep into one set of tables.
    Merge(MergeArgs),
    /// Write one self-contained HTML page of charts and tables for a sweep's output directory.
    Report(ReportArgs),
}

/// Options of `sweep merge`.
#[derive(Debug, Args)]
pub struct MergeArgs {
    /// Shard output directories (for example results/policies/shard-*).
    #[arg(required = true, value_name = "DIR")]
    pub dirs: Vec<PathBuf>,
    /// The directory to write the merged tables into.
    #[arg(short = 'o', long = "output", value_name = "DIR", required = true)]
    pub output: PathBuf,
    /// Quiet: no summary.
    #[arg(short = 'q', long)]
    pub quiet: bool,
}

/// Options of `sweep report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The sweep's output directory (holding summary.parquet or runs.parquet).
    #[arg(value_name = "OUT")]
    pub dir: PathBuf,
    /// The HTML file to write [default: OUT/report.html].
    #[arg(short = 'o', long = "output", value_name = "FILE.html")]
    pub output: Option<PathBuf>,
}

/// Which shard to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShardSpec {
    /// `I/N`, given.
    Fixed(crate::sweep::layout::Shard),
    /// `auto`: from the batch scheduler's environment.
    Auto,
}

/// Parses `I/N` with `0 <= I < N`, or `auto`.
fn parse_shard(text: &str) -> Result<ShardSpec, String> {
    if text == "auto" {
        return Ok(ShardSpec::Auto);
    }
    let (i, n) = text
        .split_once('/')
        .ok_or_else(|| format!("expected I/N (for example 0/4) or auto, got '{text}'"))?;
    let index: usize = i
        .trim()
        .parse()
        .map_err(|_| format!("expected a shard index I in I/N, got '{i}'"))?;
    let count: usize = n
        .trim()
        .parse()
        .map_err(|_| format!("expected a shard count N in I/N, got '{n}'"))?;
    if count == 0 || index >= count {
        return Err(format!("expected 0 <= I < N in I/N, got {index}/{count}"));
    }
    Ok(ShardSpec::Fixed(crate::sweep::layout::Shard {
        index,
        count,
    }))
}

/// Options of `validate`.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Config files or sweep manifests to check.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
}

/// Options of `completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_name = "SHELL")]
    pub shell: clap_complete::Shell,
}

/// Options of `man`.
#[derive(Debug, Args)]
pub struct ManArgs {
    /// The directory to write the pages into (created if missing), for example ~/.local/share/man/man1.
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
}

/// Options of `predict-steps`.
#[derive(Debug, Args)]
pub struct PredictStepsArgs {
    /// Config file: its hardware (with its calibration) and model price the steps.
    #[arg(short = 'c', long = "config", value_name = "CONFIG")]
    pub config: PathBuf,
    /// Calibration file to use instead of the config's hardware.calibration.
    #[arg(long, value_name = "FILE.toml")]
    pub calibration: Option<PathBuf>,
    /// Step table: kind, num_seqs, new_tokens_per_seq, context_tokens, prefill_chunk_tokens, optional median_ms and tensor_parallel_size.
    #[arg(long, value_name = "STEPS.csv")]
    pub steps: PathBuf,
    /// Write the rows with predicted_ms (and error_pct) here instead of stdout.
    #[arg(short = 'o', long = "output", value_name = "FILE.csv")]
    pub output: Option<PathBuf>,
}

/// Options of `calibrate`.
#[derive(Debug, Args)]
pub struct CalibrateArgs {
    /// Config file: its hardware datasheet and model price the steps.
    #[arg(short = 'c', long = "config", value_name = "CONFIG")]
    pub config: PathBuf,
    /// Step table with measured times (a median_ms column).
    #[arg(long, value_name = "STEPS.csv")]
    pub measured: PathBuf,
    /// Write the fitted calibration (TOML) here.
    #[arg(short = 'o', long = "output", value_name = "FILE.toml")]
    pub output: PathBuf,
}
