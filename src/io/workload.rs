//! Workload sources: the traffic a run's config asks for, built from the
//! files it names. Synthetic traffic needs nothing; dataset mode reads,
//! renders and tokenizes a JSONL file with a tokenizer and a chat template
//! (supplied by flags or a sweep manifest). Loaded prompt sets are cached, so
//! a sweep's points share each dataset. Progress is reported through a
//! callback: this layer draws nothing.

use super::config_file::resolve_path;
use super::dataset::{
    self, ChatTemplate, DatasetError, LoadProgress, PromptBuilder, PromptTokenizer, TemplateArg,
};
use super::error::{Error, ErrorKind, Result};
use crate::config::Config;
use crate::workload::{PromptSet, Workload, WorkloadError};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

/// What dataset mode needs besides the config: the `--tokenizer` and
/// `--chat-template` of a run, or a sweep manifest's `tokenizer` and
/// `chat_template`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DatasetInputs {
    /// The Hugging Face tokenizer.json.
    pub tokenizer: Option<PathBuf>,
    /// The chat template.
    pub chat_template: Option<TemplateArg>,
}

/// The role of a file a run reads, for run identity and messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum InputRole {
    /// `workload.dataset_path`.
    Dataset,
    /// The tokenizer of dataset mode.
    Tokenizer,
    /// A chat template file of dataset mode.
    ChatTemplate,
    /// `workload.trace.path`.
    Trace,
}

impl InputRole {
    /// The role's name in run files (`dataset`, `tokenizer`, `chat_template`).
    pub fn name(self) -> &'static str {
        match self {
            InputRole::Dataset => "dataset",
            InputRole::Tokenizer => "tokenizer",
            InputRole::ChatTemplate => "chat_template",
            InputRole::Trace => "trace",
        }
    }
}

/// Where a run's traffic comes from besides its config.
#[derive(Debug, Clone, Copy)]
pub struct WorkloadSource<'a> {
    /// The config file (`None` for the built-in default): relative paths in
    /// the config are relative to it.
    pub config_path: Option<&'a Path>,
    /// Tokenizer and chat template for dataset mode.
    pub dataset: &'a DatasetInputs,
    /// Prompt sets already loaded (a sweep's points share them).
    pub cache: Option<&'a PromptCache>,
}

/// How far loading a dataset has come, for progress displays.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LoadEvent<'a> {
    /// Loading `path` (of `total_bytes` bytes) starts.
    Started {
        /// The dataset file.
        path: &'a Path,
        /// Its size.
        total_bytes: u64,
    },
    /// A chunk of lines is ready.
    Progress(LoadProgress),
    /// The dataset is loaded.
    Finished {
        /// The dataset file.
        path: &'a Path,
        /// Prompts loaded.
        prompts: usize,
        /// Their prompt tokens together.
        input_tokens: u64,
    },
}

/// Loaded prompt sets by what determines them (the dataset file, the block
/// size its hashes use, the request limit), so a sweep whose points differ in
/// anything else (policy, seed, hardware) loads a dataset once. The
/// tokenizer and template are fixed for the cache's lifetime (one sweep).
#[derive(Debug, Default)]
pub struct PromptCache {
    sets: Mutex<HashMap<PromptKey, Arc<LoadOnce>>>,
}

/// What a prompt set depends on besides the tokenizer and template: the
/// dataset file, the block size of its hashes, the request limit.
type PromptKey = (PathBuf, u64, Option<u64>);

/// A prompt set loaded at most once, or the error its load gave (as text:
/// every point that needs it fails with the same message).
type LoadOnce = OnceLock<std::result::Result<Arc<PromptSet>, String>>;

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
        cell.get_or_init(|| load().map(Arc::new).map_err(|e| e.to_string()))
            .clone()
            .map_err(Error::invalid)
    }
}

/// The name of the config in messages.
fn source_name(config_path: Option<&Path>) -> String {
    config_path.map_or_else(
        || crate::config::DEFAULT_CONFIG_SOURCE.to_owned(),
        |p| p.display().to_string(),
    )
}

/// The workload of a run: the config's synthetic traffic, or, when
/// `workload.dataset_path` is set, the dataset's prompts.
pub fn build_workload(
    config: &Config,
    source: &WorkloadSource<'_>,
    on_load: &mut dyn FnMut(LoadEvent<'_>),
) -> Result<Workload> {
    let name = source_name(source.config_path);
    let inputs = source.dataset;
    let Some(dataset_path) = &config.workload.dataset_path else {
        let flags: Vec<&str> = [
            inputs.tokenizer.as_ref().map(|_| "--tokenizer"),
            inputs.chat_template.as_ref().map(|_| "--chat-template"),
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
            return Err(Error::new(ErrorKind::Usage(format!(
                "{} given, but {name} has no workload.dataset_path: {these} for dataset mode; set workload.dataset_path to a JSONL file of chat requests (see docs/dataset.md), or drop {them} to simulate the config's synthetic workload",
                flags.join(" and ")
            ))));
        }
        if let Some(trace) = &config.workload.trace {
            let path = resolve_path(source.config_path, &trace.path);
            trace_is_there(&name, &path)?;
            let records = super::trace::open(&path, trace)?;
            return Workload::from_trace(config, records)
                .ok_or_else(|| Error::invalid(format!("{name}: workload.trace is not set")));
        }
        return Workload::from_config(config).ok_or_else(|| {
            Error::invalid(format!(
                "{name}: workload: no input_len_dist and output_len_dist"
            ))
        });
    };
    let (Some(tokenizer), Some(template)) = (&inputs.tokenizer, &inputs.chat_template) else {
        let missing: Vec<&str> = [
            inputs
                .tokenizer
                .is_none()
                .then_some("--tokenizer FILE (a Hugging Face tokenizer.json)"),
            inputs
                .chat_template
                .is_none()
                .then_some("--chat-template T (None, a Jinja chat template, or a template file)"),
        ]
        .into_iter()
        .flatten()
        .collect();
        return Err(Error::new(ErrorKind::Usage(format!(
            "{name}: workload.dataset_path is set (dataset mode), so the prompts must be rendered and tokenized: pass {}",
            missing.join(" and ")
        ))));
    };
    let path = resolve_path(source.config_path, dataset_path);
    let mut load = || load_prompts(config, &path, tokenizer, template, on_load);
    let prompts = match source.cache {
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
            path.display().to_string(),
            line,
            "no max_tokens, and workload.output_len_dist is not set: give every line a max_tokens, or set workload.output_len_dist",
        )
        .into(),
        other => Error::invalid(format!("{name}: {other}")),
    })
}

/// Reads, renders and tokenizes the dataset at `path` for `config`.
fn load_prompts(
    config: &Config,
    path: &Path,
    tokenizer_path: &Path,
    template: &TemplateArg,
    on_load: &mut dyn FnMut(LoadEvent<'_>),
) -> Result<PromptSet> {
    let tokenizer = PromptTokenizer::from_file(tokenizer_path)?;
    let template = ChatTemplate::load(template, tokenizer.special_tokens())?;
    let builder = PromptBuilder::new(&tokenizer, &template, config.server.scheduler.block_size);
    let total_bytes = std::fs::metadata(path).map_or(0, |m| m.len());
    on_load(LoadEvent::Started { path, total_bytes });
    let name = path.display().to_string();
    let prompts = dataset::load(
        path,
        &name,
        &builder,
        config.workload.num_requests,
        &mut |p| on_load(LoadEvent::Progress(p)),
    )?;
    on_load(LoadEvent::Finished {
        path,
        prompts: prompts.len(),
        input_tokens: prompts.total_input_tokens(),
    });
    Ok(prompts)
}

/// The files a run of `config` reads besides the config itself, with their
/// roles, in role order: what its identity must cover. (A calibration file
/// is inlined into the config, so the config covers it.)
pub fn input_files(config: &Config, source: &WorkloadSource<'_>) -> Vec<(InputRole, PathBuf)> {
    if let Some(trace) = &config.workload.trace {
        return vec![(
            InputRole::Trace,
            resolve_path(source.config_path, &trace.path),
        )];
    }
    let Some(dataset_path) = &config.workload.dataset_path else {
        return Vec::new();
    };
    let mut files = vec![(
        InputRole::Dataset,
        resolve_path(source.config_path, dataset_path),
    )];
    if let Some(t) = &source.dataset.tokenizer {
        files.push((InputRole::Tokenizer, t.clone()));
    }
    if let Some(file) = source
        .dataset
        .chat_template
        .as_ref()
        .and_then(TemplateArg::file)
    {
        files.push((InputRole::ChatTemplate, file.to_path_buf()));
    }
    files
}

/// A trace file that cannot be found is an error of the config `config`
/// that names it (its `workload.trace.path`), not of the trace.
fn trace_is_there(config: &str, path: &Path) -> Result<()> {
    match std::fs::metadata(path) {
        Ok(_) => Ok(()),
        Err(e) => Err(Error::invalid(format!(
            "{config}: workload.trace.path: cannot open '{}': {e} (a relative path is relative to the config file's directory)",
            path.display()
        ))),
    }
}

/// For `validate`: the dataset a config names must exist (it is read, rendered
/// and tokenized only by a run, which also needs the tokenizer and template),
/// and its trace must exist with a header that fits its format.
pub fn check_dataset_exists(config: &Config, config_path: &Path) -> Result<()> {
    if let Some(trace) = &config.workload.trace {
        let path = resolve_path(Some(config_path), &trace.path);
        trace_is_there(&config_path.display().to_string(), &path)?;
        super::trace::check(&path, trace)?;
    }
    if let Some(dataset_path) = &config.workload.dataset_path {
        let path = resolve_path(Some(config_path), dataset_path);
        if !path.is_file() {
            return Err(Error::invalid(format!(
                "{}: workload.dataset_path: no such file '{}' (a relative path is relative to the config file's directory)",
                config_path.display(),
                path.display()
            )));
        }
    }
    Ok(())
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
        let failing = || {
            cache.get(key(32), || {
                Err(DatasetError::at_line("d.jsonl", 3, "no messages").into())
            })
        };
        assert_eq!(
            failing().unwrap_err().to_string(),
            "d.jsonl: line 3: no messages"
        );
        let again = cache.get(key(32), || unreachable!("a failed load is not retried"));
        assert!(again.is_err());
    }
}
