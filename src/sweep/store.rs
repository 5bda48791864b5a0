//! The run results of one output directory (`runs/`), packed: each
//! invocation of a sweep appends one line per finished or failed run to a
//! journal part of its own (`runs/part-NNNNNN.jsonl`), the moment the run
//! ends, instead of writing one file per run. Resume and merge read the
//! parts back through an index of run id to line, so a million runs cost a
//! few files and one index entry each. Per-run files stay available: the
//! full result JSON with `--run-files`, the per-request Parquet file with
//! `--per-request`.
//!
//! A part starts with a header line naming the version that wrote it and
//! the metric columns of its records; a part of another version or other
//! columns is ignored (its runs are redone). A line torn by a kill (no
//! final newline, or not valid JSON) is ignored too. A run's id hashes its
//! resolved config and input digests, so a record under the same id in a
//! part of this version is a result of this very config.

use super::layout::Layout;
use super::run_id::{InputDigest, RunId};
use super::runs_table::{Outcome, OVERLOAD_KEY};
use crate::engine::RunOutput;
use crate::io::files::write_atomic_unsynced;
use crate::io::requests;
use crate::io::{Error, Result};
use crate::table::{Cell, Column, ColumnType};
use serde::Deserialize;
use serde_json::{json, Value as Json};
use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Key of the run JSON that lists the files the run read, with their digests.
const INPUTS_KEY: &str = "inputs";

/// Prefix and suffix of a journal part's file name.
const PART_PREFIX: &str = "part-";
const PART_SUFFIX: &str = ".jsonl";

/// Where one stored record is.
#[derive(Debug, Clone, Copy)]
struct Entry {
    /// Which of the store's parts holds it.
    part: u32,
    /// Byte offset of its line.
    offset: u64,
    /// Length of its line, without the newline.
    len: u32,
}

/// A journal part that can be read.
#[derive(Debug)]
struct Part {
    /// Read by seeking to a record (one reader at a time).
    file: Mutex<File>,
    /// The directory it belongs to (for a merge, one of several).
    layout: usize,
}

/// The stored runs of one or more output directories (several for a
/// merge), and this invocation's journal part, opened on the first record.
#[derive(Debug)]
pub struct Store {
    layouts: Vec<Layout>,
    parts: Vec<Part>,
    index: HashMap<RunId, Entry>,
    template: Vec<Column>,
    writer: Mutex<Option<File>>,
    run_files: bool,
}

impl Store {
    /// The store of `layout`, with the records of its parts indexed unless
    /// `fresh` (`--force`: nothing is reused); `run_files` also writes each
    /// finished run's full result JSON.
    pub fn open(
        layout: &Layout,
        template: &[Column],
        fresh: bool,
        run_files: bool,
    ) -> Result<Self> {
        let mut store = Self::read(std::slice::from_ref(layout), template, !fresh)?;
        store.run_files = run_files;
        Ok(store)
    }

    /// The records of every directory of `layouts` (a merge: read only).
    pub fn read_all(layouts: &[Layout], template: &[Column]) -> Result<Self> {
        Self::read(layouts, template, true)
    }

    fn read(layouts: &[Layout], template: &[Column], load: bool) -> Result<Self> {
        let mut store = Self {
            layouts: layouts.to_vec(),
            parts: Vec::new(),
            index: HashMap::new(),
            template: template.to_vec(),
            writer: Mutex::new(None),
            run_files: false,
        };
        if load {
            for (l, layout) in layouts.iter().enumerate() {
                for path in part_files(&layout.runs_dir())? {
                    store.index_part(&path, l)?;
                }
            }
        }
        Ok(store)
    }

    /// Adds the complete records of the part at `path` to the index, later
    /// parts replacing earlier records of the same run.
    fn index_part(&mut self, path: &Path, layout: usize) -> Result<()> {
        let file = File::open(path).map_err(|e| Error::read("", path, e))?;
        let mut reader = BufReader::with_capacity(1 << 16, &file);
        let mut line = Vec::new();
        let mut offset = 0u64;
        let part = self.parts.len() as u32;
        let mut header_ok = false;
        loop {
            line.clear();
            let n = reader
                .read_until(b'\n', &mut line)
                .map_err(|e| Error::read("", path, e))?;
            if n == 0 {
                break;
            }
            let start = offset;
            offset += n as u64;
            if line.last() != Some(&b'\n') {
                break; // torn by a kill
            }
            if start == 0 {
                header_ok = self.header_matches(&line);
                if !header_ok {
                    return Ok(());
                }
                continue;
            }
            if let Some(id) = record_id(&line) {
                self.index.insert(
                    id,
                    Entry {
                        part,
                        offset: start,
                        len: (n - 1) as u32,
                    },
                );
            }
        }
        if header_ok {
            self.parts.push(Part {
                file: Mutex::new(file),
                layout,
            });
        }
        Ok(())
    }

    /// Whether a part's header names this version and these metric columns.
    fn header_matches(&self, line: &[u8]) -> bool {
        let Ok(header) = serde_json::from_slice::<Json>(line) else {
            return false;
        };
        let names: Vec<&str> = self.template.iter().map(|c| c.name.as_str()).collect();
        header.get("version").and_then(Json::as_str) == Some(VERSION)
            && header.get("columns") == Some(&json!(names))
    }

    /// How many runs have a record.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// Whether no run has a record.
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// The record of `id` and the directory that holds it, if it reads back.
    fn record(&self, id: RunId) -> Option<(Record, &Layout)> {
        let entry = self.index.get(&id)?;
        let part = self.parts.get(entry.part as usize)?;
        let mut bytes = vec![0; entry.len as usize];
        {
            let mut file = part.file.lock().unwrap_or_else(PoisonError::into_inner);
            file.seek(SeekFrom::Start(entry.offset)).ok()?;
            file.read_exact(&mut bytes).ok()?;
        }
        let record = serde_json::from_slice(&bytes).ok()?;
        Some((record, &self.layouts[part.layout]))
    }

    /// The outcome of a run finished earlier, if its record is there and
    /// whole, and (when `per_request`) its per-request file is complete.
    /// Anything else (missing, torn, failed) means: run it again.
    pub fn finished(&self, id: RunId, per_request: bool) -> Option<Outcome> {
        let (record, layout) = self.record(id)?;
        if per_request && !requests::is_complete(&layout.run_requests(id)) {
            return None;
        }
        match record.outcome(&self.template)? {
            outcome @ Outcome::Finished { .. } => Some(outcome),
            Outcome::Failed { .. } => None,
        }
    }

    /// The outcome of a run, finished or failed, and its per-request file
    /// if it has one (what a merge takes).
    pub fn any(&self, id: RunId) -> Option<(Outcome, Option<PathBuf>)> {
        let (record, layout) = self.record(id)?;
        let outcome = record.outcome(&self.template)?;
        let requests = layout.run_requests(id);
        let requests = (!outcome.is_failed() && requests.is_file()).then_some(requests);
        Some((outcome, requests))
    }

    /// Writes a finished run's files and record, and returns its outcome.
    pub fn record_finished(
        &self,
        id: RunId,
        finished: Finished,
        inputs: &[InputDigest],
        wall_seconds: f64,
    ) -> Result<Outcome> {
        let layout = &self.layouts[0];
        let Finished { output, overload } = finished;
        let path = layout.run_json(id);
        let json = result_json(output.result, inputs, overload, wall_seconds)
            .map_err(|e| Error::write_with(&path, e))?;
        if let Some(records) = &output.requests {
            requests::write_run(&layout.run_requests(id), &id.to_string(), records)?;
        }
        if self.run_files {
            // Resume reads the journal, not this file: no flush to disk.
            write_json(&path, &json)?;
        }
        let outcome = Outcome::finished(&json, &self.template);
        self.append(id, &outcome)?;
        Ok(outcome)
    }

    /// Records why a run failed (best effort: the row records it anyway).
    pub fn record_failed(&self, id: RunId, error: &str, wall_seconds: Option<f64>) {
        let _ = self.append(
            id,
            &Outcome::Failed {
                error: error.to_string(),
                wall_seconds,
            },
        );
    }

    /// Appends the record of `id` to this invocation's part, in one write:
    /// `{"run":"<id>",...}`, the id first, where indexing reads it.
    fn append(&self, id: RunId, outcome: &Outcome) -> Result<()> {
        let mut fields: Vec<(&str, Json)> = Vec::new();
        match outcome {
            Outcome::Finished {
                wall_seconds,
                metrics,
                overload,
            } => {
                fields.push(("wall_seconds", json!(wall_seconds)));
                if let Some(reason) = overload {
                    fields.push((OVERLOAD_KEY, Json::String(reason.clone())));
                }
                fields.push(("metrics", metrics.iter().map(cell_to_json).collect()));
            }
            Outcome::Failed {
                error,
                wall_seconds,
            } => {
                fields.push(("wall_seconds", json!(wall_seconds)));
                fields.push(("error", Json::String(error.clone())));
            }
        }
        let mut line = format!("{{\"run\":\"{id}\"");
        for (key, value) in fields {
            line.push_str(&format!(",{}:{value}", Json::String(key.into())));
        }
        line.push_str("}\n");
        let mut writer = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        let file = match &mut *writer {
            Some(file) => file,
            None => writer.insert(self.new_part()?),
        };
        let path = self.layouts[0].runs_dir();
        file.write_all(line.as_bytes())
            .map_err(|e| Error::write(&path, e))
    }

    /// Creates this invocation's part (the next number) with its header.
    fn new_part(&self) -> Result<File> {
        let dir = self.layouts[0].runs_dir();
        let next = part_files(&dir)?
            .iter()
            .filter_map(|p| part_number(p))
            .max()
            .map_or(0, |n| n + 1);
        let path = dir.join(format!("{PART_PREFIX}{next:06}{PART_SUFFIX}"));
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| Error::write(&path, e))?;
        let names: Vec<&str> = self.template.iter().map(|c| c.name.as_str()).collect();
        let header = json!({ "version": VERSION, "columns": names });
        file.write_all(format!("{header}\n").as_bytes())
            .map_err(|e| Error::write(&path, e))?;
        Ok(file)
    }
}

/// The journal parts in `dir`, in order (none when it does not exist).
fn part_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::read("", dir, e)),
    };
    let mut parts: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| part_number(p).is_some())
        .collect();
    parts.sort_by_key(|p| part_number(p));
    Ok(parts)
}

/// The number of the part at `path`, if it is one.
fn part_number(path: &Path) -> Option<u64> {
    let name = path.file_name()?.to_str()?;
    name.strip_prefix(PART_PREFIX)?
        .strip_suffix(PART_SUFFIX)?
        .parse()
        .ok()
}

/// The run id at the start of a record line (`{"run":"<16 hex digits>"`),
/// read without parsing the rest.
fn record_id(line: &[u8]) -> Option<RunId> {
    const PREFIX: &[u8] = b"{\"run\":\"";
    let hex = line.strip_prefix(PREFIX)?.get(..16)?;
    u64::from_str_radix(std::str::from_utf8(hex).ok()?, 16)
        .ok()
        .map(RunId)
}

/// A metric cell as a record holds it.
fn cell_to_json(cell: &Cell) -> Json {
    match cell {
        Cell::Null => Json::Null,
        Cell::Int(i) => json!(i),
        Cell::Float(x) => json!(x),
        Cell::Text(s) => Json::String(s.clone()),
        Cell::Bool(b) => Json::Bool(*b),
    }
}

/// A record line as it is read back: parsed straight into its fields
/// (resume reads a million of them), any other field ignored.
#[derive(Debug, Deserialize)]
struct Record {
    wall_seconds: Option<f64>,
    error: Option<Json>,
    overload: Option<Json>,
    metrics: Option<Vec<RecordCell>>,
}

impl Record {
    /// The outcome the record holds, if it is whole: a failure with its
    /// error, or every metric cell of `template`, each of its column's type.
    fn outcome(self, template: &[Column]) -> Option<Outcome> {
        let wall_seconds = self.wall_seconds;
        if let Some(error) = self.error {
            return Some(Outcome::Failed {
                error: error.as_str()?.to_string(),
                wall_seconds,
            });
        }
        let cells = self.metrics?;
        if cells.len() != template.len() {
            return None;
        }
        let metrics = cells
            .into_iter()
            .zip(template)
            .map(|(cell, col)| cell.into_cell(col.kind))
            .collect::<Option<Vec<Cell>>>()?;
        Some(Outcome::Finished {
            wall_seconds,
            metrics,
            overload: self.overload.and_then(|o| o.as_str().map(str::to_string)),
        })
    }
}

/// A metric cell of a record, as JSON typed it.
#[derive(Debug)]
enum RecordCell {
    Null,
    Int(i64),
    UInt(u64),
    Float(f64),
    Text(String),
    Bool(bool),
}

impl RecordCell {
    /// The cell as a cell of a column of type `kind`, or `None` when it is
    /// not one (an edited or foreign record).
    fn into_cell(self, kind: ColumnType) -> Option<Cell> {
        Some(match (kind, self) {
            (_, Self::Null) => Cell::Null,
            (ColumnType::Int, Self::Int(i)) => Cell::Int(i),
            (ColumnType::Int, Self::UInt(u)) => Cell::Int(i64::try_from(u).ok()?),
            (ColumnType::Float, Self::Int(i)) => Cell::Float(i as f64),
            (ColumnType::Float, Self::UInt(u)) => Cell::Float(u as f64),
            (ColumnType::Float, Self::Float(x)) => Cell::Float(x),
            (ColumnType::Text, Self::Text(s)) => Cell::Text(s),
            (ColumnType::Bool, Self::Bool(b)) => Cell::Bool(b),
            _ => return None,
        })
    }
}

impl<'de> Deserialize<'de> for RecordCell {
    fn deserialize<D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> std::result::Result<Self, D::Error> {
        deserializer.deserialize_any(RecordCellVisitor)
    }
}

/// Reads one JSON scalar as a [`RecordCell`]; arrays and objects are not
/// cells.
struct RecordCellVisitor;

impl serde::de::Visitor<'_> for RecordCellVisitor {
    type Value = RecordCell;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a number, a string, a boolean or null")
    }

    fn visit_unit<E>(self) -> std::result::Result<RecordCell, E> {
        Ok(RecordCell::Null)
    }

    fn visit_i64<E>(self, v: i64) -> std::result::Result<RecordCell, E> {
        Ok(RecordCell::Int(v))
    }

    fn visit_u64<E>(self, v: u64) -> std::result::Result<RecordCell, E> {
        Ok(RecordCell::UInt(v))
    }

    fn visit_f64<E>(self, v: f64) -> std::result::Result<RecordCell, E> {
        Ok(RecordCell::Float(v))
    }

    fn visit_bool<E>(self, v: bool) -> std::result::Result<RecordCell, E> {
        Ok(RecordCell::Bool(v))
    }

    fn visit_str<E>(self, v: &str) -> std::result::Result<RecordCell, E> {
        Ok(RecordCell::Text(v.to_string()))
    }

    fn visit_string<E>(self, v: String) -> std::result::Result<RecordCell, E> {
        Ok(RecordCell::Text(v))
    }
}

/// What a finished run left: its output, and why the overload detector
/// stopped it early, if it did.
#[derive(Debug)]
pub struct Finished {
    /// The simulation's output.
    pub output: RunOutput,
    /// The detector's reason for stopping the run.
    pub overload: Option<String>,
}

/// A finished run's result JSON as its run file holds it: the result with
/// its wall time, the files it read and the overload detector's reason.
pub fn result_json(
    mut result: crate::metrics::RunResult,
    inputs: &[InputDigest],
    overload: Option<String>,
    wall_seconds: f64,
) -> serde_json::Result<Json> {
    result.simulation.wall_seconds = wall_seconds;
    let mut json = serde_json::to_value(&result)?;
    if let Json::Object(map) = &mut json {
        if let (false, Ok(list)) = (inputs.is_empty(), serde_json::to_value(inputs)) {
            map.insert(INPUTS_KEY.into(), list);
        }
        if let Some(reason) = overload {
            map.insert(OVERLOAD_KEY.into(), Json::String(reason));
        }
    }
    Ok(json)
}

fn write_json(path: &Path, json: &Json) -> Result<()> {
    let text = serde_json::to_string_pretty(json).map_err(|e| Error::write_with(path, e))?;
    write_atomic_unsynced(path, format!("{text}\n").as_bytes()).map_err(|e| Error::write(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template() -> Vec<Column> {
        vec![
            Column::new("ttft_ms_p50", ColumnType::Float),
            Column::new("completed", ColumnType::Int),
        ]
    }

    fn finished(x: f64) -> Outcome {
        Outcome::Finished {
            wall_seconds: Some(0.5),
            metrics: vec![Cell::Float(x), Cell::Null],
            overload: None,
        }
    }

    #[test]
    fn records_read_back_across_invocations_and_later_parts_win() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::new(dir.path(), None);
        std::fs::create_dir_all(layout.runs_dir()).unwrap();
        let store = Store::open(&layout, &template(), false, false).unwrap();
        store.append(RunId(1), &finished(1.5)).unwrap();
        store.record_failed(RunId(2), "boom", None);
        drop(store);
        let store = Store::open(&layout, &template(), false, false).unwrap();
        assert_eq!(store.len(), 2);
        assert_eq!(store.finished(RunId(1), false), Some(finished(1.5)));
        assert_eq!(
            store.finished(RunId(2), false),
            None,
            "failed runs are retried"
        );
        assert!(matches!(
            store.any(RunId(2)),
            Some((Outcome::Failed { ref error, .. }, None)) if error == "boom"
        ));
        store.append(RunId(1), &finished(2.5)).unwrap();
        drop(store);
        let store = Store::open(&layout, &template(), false, false).unwrap();
        assert_eq!(store.finished(RunId(1), false), Some(finished(2.5)));
        assert_eq!(part_files(&layout.runs_dir()).unwrap().len(), 2);
        let fresh = Store::open(&layout, &template(), true, false).unwrap();
        assert!(fresh.is_empty(), "--force reuses nothing");
    }

    #[test]
    fn torn_lines_foreign_parts_and_edited_records_are_not_trusted() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::new(dir.path(), None);
        let runs = layout.runs_dir();
        std::fs::create_dir_all(&runs).unwrap();
        let header = json!({ "version": VERSION, "columns": ["ttft_ms_p50", "completed"] });
        let whole = r#"{"run":"0000000000000001","wall_seconds":1.0,"metrics":[1.0,3]}"#;
        let edited = r#"{"run":"0000000000000002","wall_seconds":1.0,"metrics":["x",3]}"#;
        let short = r#"{"run":"0000000000000003","wall_seconds":1.0,"metrics":[1.0]}"#;
        let torn = r#"{"run":"0000000000000004","wall_seconds":1.0,"metr"#;
        std::fs::write(
            runs.join("part-000000.jsonl"),
            format!("{header}\n{whole}\n{edited}\n{short}\n{torn}"),
        )
        .unwrap();
        let other = json!({ "version": "0.0.0", "columns": ["ttft_ms_p50", "completed"] });
        let foreign = r#"{"run":"0000000000000005","wall_seconds":1.0,"metrics":[1.0,3]}"#;
        std::fs::write(
            runs.join("part-000001.jsonl"),
            format!("{other}\n{foreign}\n"),
        )
        .unwrap();
        let store = Store::open(&layout, &template(), false, false).unwrap();
        assert!(store.finished(RunId(1), false).is_some());
        for id in 2..=5 {
            assert_eq!(store.finished(RunId(id), false), None, "run {id}");
        }
        // A new invocation appends to a part of its own, after the others.
        store.append(RunId(6), &finished(1.0)).unwrap();
        assert!(runs.join("part-000002.jsonl").is_file());
    }
}
