//! A plan's survey kept in its output directory (`.plan-cache`), so that a
//! resumed sweep takes every point's run id and validity from it instead of
//! resolving a million configs again before it can look a single run up.
//!
//! The cache is trusted only while everything the survey depends on is
//! unchanged: this program (its version, and the size and modification time
//! of its executable), the manifest (path and text), the base config (path
//! and text), the shard, and every file the points' configs read (calibration
//! tables, datasets, traces, tokenizers, chat templates), each digested
//! again, including those that could not be read. Anything else (no cache,
//! another key, a changed file, a torn or edited cache) is ignored in
//! silence: the plan is surveyed again and the cache written anew.
//!
//! The file is one JSON header line (the key, the files and their digests,
//! the survey's counts) followed by the run ids (8 bytes each, little
//! endian) and one validity byte per point, in point order.

use super::survey::{point_digest, Survey};
use crate::engine::work::Work;
use crate::io::digest::{digest_file, fnv1a, DigestCache};
use crate::io::files::write_remakeable;
use crate::io::{Error, Result};
use crate::sweep::run_id::RunId;
use serde_json::{json, Value as Json};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

/// The cache's file name in a sweep's (or shard's) output directory.
pub const PLAN_CACHE: &str = ".plan-cache";

/// What the first line says, with the format's version.
const MAGIC: &str = "inference-lab plan cache 1";

/// The most header bytes read back (the list of files is short; a longer
/// first line is not a cache this program wrote).
const MAX_HEADER_BYTES: u64 = 1 << 24;

/// What a cache is keyed on, besides the files it lists: the program, the
/// manifest, the base config and the shard, as one digest. `None` when the
/// program cannot tell its own executable (no cache is used then).
pub(super) fn key(parts: &[&str]) -> Option<u64> {
    let exe = std::env::current_exe().ok()?;
    let meta = std::fs::metadata(exe).ok()?;
    let built = meta.modified().ok()?.duration_since(UNIX_EPOCH).ok()?;
    let program = format!(
        "{} {} {}",
        env!("CARGO_PKG_VERSION"),
        meta.len(),
        built.as_nanos()
    );
    let mut text = format!("{MAGIC}\n{program}");
    for part in parts {
        text.push('\n');
        text.push_str(part);
    }
    Some(fnv1a(text.as_bytes()))
}

/// Writes `survey` under `key`, listing the files of `digests`, to `path`
/// (atomically). Something at `path` that is not a regular file (a FIFO, a
/// symlink, a directory someone put there) is left alone: no cache then.
pub(super) fn save(path: &Path, key: u64, survey: &Survey, digests: &DigestCache) -> Result<()> {
    let files: Vec<Json> = digests
        .entries()
        .into_iter()
        .map(|(p, d)| json!([p.to_string_lossy(), d.map(|d| format!("{d:016x}"))]))
        .collect();
    let (work, work_points) = survey.work;
    let work_bits = [
        work.requests,
        work.output_tokens,
        work.cpu_secs,
        work.largest_run,
    ]
    .map(|x| format!("{:016x}", x.to_bits()));
    let header = json!({
        "magic": MAGIC,
        "key": format!("{key:016x}"),
        "points": survey.ids.len(),
        "files": files,
        "invalid": survey.invalid,
        "first_valid": survey.first_valid,
        "points_hash": format!("{:016x}", survey.points_hash),
        "work": work_bits,
        "work_points": work_points,
    });
    let mut bytes = header.to_string().into_bytes();
    bytes.push(b'\n');
    bytes.reserve(survey.ids.len() * 9);
    for id in &survey.ids {
        bytes.extend_from_slice(&id.0.to_le_bytes());
    }
    bytes.extend(survey.valid.iter().map(|&v| u8::from(v)));
    write_remakeable(path, &bytes).map_err(|e| Error::write(path, e))
}

/// The survey saved at `path` under `key`, of `points` points whose first
/// index is `first` and which are `step` apart, if every file it lists
/// still has its digest; those digests are entered into `digests`.
pub(super) fn load(
    path: &Path,
    key: u64,
    points: usize,
    (first, step): (usize, usize),
    digests: &DigestCache,
) -> Option<Survey> {
    // Only a regular file (opening a FIFO would wait for a writer).
    let meta = std::fs::symlink_metadata(path).ok()?;
    if !meta.is_file() {
        return None;
    }
    let mut file = std::fs::File::open(path).ok()?;
    let len = file.metadata().ok()?.len();
    let expected_body = (points as u64).checked_mul(9)?;
    let header_len = len.checked_sub(expected_body)?;
    if header_len == 0 || header_len > MAX_HEADER_BYTES {
        return None;
    }
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).ok()?;
    if bytes.len() as u64 != len {
        return None;
    }
    let (header, body) = bytes.split_at(header_len as usize);
    let header: Json = serde_json::from_slice(header.strip_suffix(b"\n")?).ok()?;
    let hex = |v: &Json| u64::from_str_radix(v.as_str()?, 16).ok();
    let count = |v: &Json| v.as_u64().and_then(|n| usize::try_from(n).ok());
    if header["magic"] != MAGIC
        || hex(&header["key"])? != key
        || count(&header["points"])? != points
    {
        return None;
    }
    let files = files_unchanged(header["files"].as_array()?)?;
    let (ids, valid) = body.split_at(points * 8);
    let ids: Vec<RunId> = ids
        .chunks_exact(8)
        .map(|c| RunId(u64::from_le_bytes(c.try_into().unwrap_or_default())))
        .collect();
    let valid: Vec<bool> = valid.iter().map(|&b| b == 1).collect();
    let work: Vec<f64> = header["work"]
        .as_array()?
        .iter()
        .map(|v| hex(v).map(f64::from_bits))
        .collect::<Option<_>>()?;
    let [requests, output_tokens, cpu_secs, largest_run] = work[..] else {
        return None;
    };
    let survey = Survey {
        invalid: count(&header["invalid"])?,
        first_valid: match &header["first_valid"] {
            Json::Null => None,
            v => Some(count(v)?),
        },
        points_hash: hex(&header["points_hash"])?,
        work: (
            Work {
                requests,
                output_tokens,
                cpu_secs,
                largest_run,
            },
            count(&header["work_points"])?,
        ),
        ids,
        valid,
        ..Survey::default()
    };
    consistent(&survey, first, step).then(|| {
        for (path, digest) in files {
            digests.insert(path, digest);
        }
        survey
    })
}

/// The files a header lists, if each still has the digest it had (or
/// still cannot be read).
fn files_unchanged(files: &[Json]) -> Option<Vec<(PathBuf, Option<u64>)>> {
    files
        .iter()
        .map(|entry| {
            let path = PathBuf::from(entry.get(0)?.as_str()?);
            let then = match entry.get(1)? {
                Json::Null => None,
                v => Some(u64::from_str_radix(v.as_str()?, 16).ok()?),
            };
            let now = digest_file(&path, "input file").ok();
            (now == then).then_some((path, now))
        })
        .collect()
}

/// Whether the ids and validity agree with the counts and digest saved
/// beside them (a torn or edited cache does not).
fn consistent(survey: &Survey, first: usize, step: usize) -> bool {
    let indices = (0..survey.ids.len()).map(|k| first + k * step);
    let hash = indices
        .clone()
        .zip(&survey.ids)
        .fold(0u64, |h, (i, id)| h.wrapping_add(point_digest(i, *id)));
    let invalid = survey.valid.iter().filter(|v| !**v).count();
    let first_valid = indices
        .zip(&survey.valid)
        .find(|(_, v)| **v)
        .map(|(i, _)| i);
    hash == survey.points_hash && invalid == survey.invalid && first_valid == survey.first_valid
}
