//! Dataset mode on the command line: checks that the config and the flags
//! agree, loads the dataset (with a progress bar), and builds the workload.

use crate::config::Config;
use crate::dataset::{
    self, ChatTemplate, DatasetError, LoadProgress, PromptBuilder, PromptTokenizer,
};
use crate::report::progress::stderr_bar;
use crate::report::style::Style;
use crate::workload::{PromptSet, Workload, WorkloadError};
use anyhow::{anyhow, bail, Result};
use indicatif::ProgressBar;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

/// What dataset mode needs besides the config: the `--tokenizer` and
/// `--chat-template` of a run (or a sweep manifest's equivalents).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct DatasetInputs<'a> {
    /// The Hugging Face tokenizer.json.
    pub tokenizer: Option<&'a Path>,
    /// `None`, a Jinja template, or a template file.
    pub chat_template: Option<&'a str>,
    /// Show the loading bar and the one-line summary.
    pub show_progress: bool,
}

/// The workload of a run: the config's synthetic traffic, or, when
/// `workload.dataset_path` is set, the dataset's prompts.
/// `config_path` is the config file (`None` for the built-in default).
pub(crate) fn workload(
    config: &Config,
    config_path: Option<&Path>,
    args: &DatasetInputs,
    style: Style,
) -> Result<Workload> {
    let source = config_path.map_or_else(
        || crate::config::DEFAULT_CONFIG_SOURCE.to_owned(),
        |p| p.display().to_string(),
    );
    let Some(dataset_path) = &config.workload.dataset_path else {
        let flags: Vec<&str> = [
            args.tokenizer.as_ref().map(|_| "--tokenizer"),
            args.chat_template.as_ref().map(|_| "--chat-template"),
        ]
        .into_iter()
        .flatten()
        .collect();
        if !flags.is_empty() {
            let (these, them) = if flags.len() == 1 {
                ("this flag is", "it")
            } else {
                ("these flags are", "them")
            };
            bail!(
                "{} given, but {source} has no workload.dataset_path: {these} for dataset mode; set workload.dataset_path to a JSONL file of chat requests (see docs/dataset.md), or drop {them} to simulate the config's synthetic workload",
                flags.join(" and ")
            );
        }
        return Workload::synthetic(&config.workload)
            .ok_or_else(|| anyhow!("{source}: workload: no input_len_dist and output_len_dist"));
    };
    let (tokenizer_path, template_arg) = match (args.tokenizer, args.chat_template) {
        (Some(t), Some(c)) => (t, c),
        (t, c) => {
            let missing: Vec<&str> = [
                t.is_none()
                    .then_some("--tokenizer FILE (a Hugging Face tokenizer.json)"),
                c.is_none().then_some(
                    "--chat-template T (None, a Jinja chat template, or a template file)",
                ),
            ]
            .into_iter()
            .flatten()
            .collect();
            bail!(
                "{source}: workload.dataset_path is set (dataset mode), so the prompts must be rendered and tokenized: pass {}",
                missing.join(" and ")
            );
        }
    };
    let path = resolve(config_path, dataset_path);
    let name = path.display().to_string();
    let started = Instant::now();
    let tokenizer = PromptTokenizer::from_file(tokenizer_path)?;
    let template = ChatTemplate::from_arg(template_arg, tokenizer.special_tokens())?;
    let builder = PromptBuilder::new(&tokenizer, &template, config.scheduler.block_size);
    let bar = load_bar(&path, args.show_progress, style);
    let mut on_progress = |p: LoadProgress| {
        bar.set_position(p.bytes);
        bar.set_message(format!("{} prompts", p.prompts));
    };
    let loaded = dataset::load(
        &path,
        &name,
        &builder,
        config.workload.num_requests,
        &mut on_progress,
    );
    bar.finish_and_clear();
    let prompts = loaded?;
    if args.show_progress {
        eprintln!("{}", style.dim(&summary(&prompts, &name, started)));
    }
    Workload::from_prompts(config, Arc::new(prompts)).map_err(|e| match e {
        WorkloadError::NoOutputLength { line } => DatasetError::at_line(
            &name,
            line,
            "no max_tokens, and workload.output_len_dist is not set: give every line a max_tokens, or set workload.output_len_dist",
        )
        .into(),
        other => anyhow!("{source}: {other}"),
    })
}

/// For `validate`: the dataset a config names must exist (it is read, rendered
/// and tokenized only by a run, which also needs the tokenizer and template).
pub(crate) fn check_dataset_exists(config: &Config, config_path: &Path) -> Result<()> {
    if let Some(dataset_path) = &config.workload.dataset_path {
        let path = resolve(Some(config_path), dataset_path);
        if !path.is_file() {
            bail!(
                "{}: workload.dataset_path: no such file '{}' (a relative path is relative to the config file's directory)",
                config_path.display(),
                path.display()
            );
        }
    }
    Ok(())
}

/// A file path from a config (a dataset, a calibration): relative paths are
/// relative to the config file's directory, so a config and its files can move together.
pub(crate) fn resolve(config_path: Option<&Path>, dataset_path: &str) -> PathBuf {
    let path = Path::new(dataset_path);
    match config_path.and_then(Path::parent) {
        Some(dir) if path.is_relative() => dir.join(path),
        _ => path.to_path_buf(),
    }
}

/// A progress bar over the dataset's bytes, on stderr when it is a terminal.
fn load_bar(path: &Path, show: bool, style: Style) -> ProgressBar {
    let len = std::fs::metadata(path).map_or(0, |m| m.len());
    stderr_bar(
        len,
        show,
        style,
        "{spinner:.cyan} Loading dataset [{bar:30.cyan/blue}] {bytes}/{total_bytes} {msg}",
        "Loading dataset [{bar:30}] {bytes}/{total_bytes} {msg}",
    )
}

/// One line about what was loaded.
fn summary(prompts: &PromptSet, name: &str, started: Instant) -> String {
    format!(
        "dataset: {} prompts, {} prompt tokens, from {name} ({:.2} s to load)",
        prompts.len(),
        prompts.total_input_tokens(),
        started.elapsed().as_secs_f64()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dataset_paths_are_relative_to_the_config() {
        assert_eq!(
            resolve(
                Some(Path::new("configs/dataset.toml")),
                "../examples/d.jsonl"
            ),
            PathBuf::from("configs/../examples/d.jsonl")
        );
        assert_eq!(
            resolve(Some(Path::new("configs/dataset.toml")), "/data/d.jsonl"),
            PathBuf::from("/data/d.jsonl")
        );
        assert_eq!(
            resolve(Some(Path::new("dataset.toml")), "d.jsonl"),
            PathBuf::from("d.jsonl")
        );
        assert_eq!(resolve(None, "d.jsonl"), PathBuf::from("d.jsonl"));
    }
}
