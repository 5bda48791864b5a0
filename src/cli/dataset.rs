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
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
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
    /// Prompt sets already loaded (a sweep's points share them).
    pub cache: Option<&'a PromptCache>,
}

/// Loaded prompt sets by what determines them (the dataset file, the block
/// size its hashes use, the request limit), so a sweep whose points differ in
/// anything else (policy, seed, hardware) loads a dataset once. The
/// tokenizer and template are fixed for the cache's lifetime (one sweep).
#[derive(Debug, Default)]
pub(crate) struct PromptCache {
    sets: Mutex<HashMap<PromptKey, Arc<LoadOnce>>>,
}

/// What a prompt set depends on besides the tokenizer and template: the
/// dataset file, the block size of its hashes, the request limit.
type PromptKey = (PathBuf, u64, Option<u64>);

/// A prompt set loaded at most once, or the error its load gave.
type LoadOnce = OnceLock<Result<Arc<PromptSet>, String>>;

impl PromptCache {
    /// The prompt set for `key`, loaded by `load` on first use (once, even
    /// when several threads ask at the same time).
    fn get(
        &self,
        key: PromptKey,
        load: impl FnOnce() -> Result<PromptSet>,
    ) -> Result<Arc<PromptSet>> {
        let cell = {
            let mut sets = self.sets.lock().unwrap_or_else(PoisonError::into_inner);
            Arc::clone(sets.entry(key).or_default())
        };
        cell.get_or_init(|| load().map(Arc::new).map_err(|e| super::render_error(&e)))
            .clone()
            .map_err(|e| anyhow!(e))
    }
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
    let load = || {
        load_prompts(
            config,
            &path,
            tokenizer_path,
            template_arg,
            args.show_progress,
            style,
        )
    };
    let prompts = match args.cache {
        Some(cache) => cache.get(
            (
                path.clone(),
                config.server.scheduler.block_size,
                config.workload.num_requests,
            ),
            load,
        )?,
        None => Arc::new(load()?),
    };
    Workload::from_prompts(config, prompts).map_err(|e| match e {
        WorkloadError::NoOutputLength { line } => DatasetError::at_line(
            &name,
            line,
            "no max_tokens, and workload.output_len_dist is not set: give every line a max_tokens, or set workload.output_len_dist",
        )
        .into(),
        other => anyhow!("{source}: {other}"),
    })
}

/// Reads, renders and tokenizes the dataset at `path` for `config`.
fn load_prompts(
    config: &Config,
    path: &Path,
    tokenizer_path: &Path,
    template_arg: &str,
    show_progress: bool,
    style: Style,
) -> Result<PromptSet> {
    let name = path.display().to_string();
    let started = Instant::now();
    let tokenizer = PromptTokenizer::from_file(tokenizer_path)?;
    let template = ChatTemplate::from_arg(template_arg, tokenizer.special_tokens())?;
    let builder = PromptBuilder::new(&tokenizer, &template, config.server.scheduler.block_size);
    let bar = load_bar(path, show_progress, style);
    let mut on_progress = |p: LoadProgress| {
        bar.set_position(p.bytes);
        bar.set_message(format!("{} prompts", p.prompts));
    };
    let loaded = dataset::load(
        path,
        &name,
        &builder,
        config.workload.num_requests,
        &mut on_progress,
    );
    bar.finish_and_clear();
    let prompts = loaded?;
    if show_progress {
        eprintln!("{}", style.dim(&summary(&prompts, &name, started)));
    }
    Ok(prompts)
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
    fn the_cache_loads_each_dataset_once_and_keeps_its_error() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let cache = PromptCache::default();
        let loads = AtomicUsize::new(0);
        let key = |block| (PathBuf::from("d.jsonl"), block, Some(10));
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    let set = cache
                        .get(key(16), || {
                            loads.fetch_add(1, Ordering::SeqCst);
                            Ok(PromptSet::new(16, Vec::new()))
                        })
                        .unwrap();
                    assert_eq!(set.block_size(), 16);
                });
            }
        });
        assert_eq!(loads.load(Ordering::SeqCst), 1);
        let failing = || cache.get(key(32), || Err(anyhow!("d.jsonl: line 3: no messages")));
        assert_eq!(
            failing().unwrap_err().to_string(),
            "d.jsonl: line 3: no messages"
        );
        let again = cache.get(key(32), || unreachable!("a failed load is not retried"));
        assert!(again.is_err());
    }

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
