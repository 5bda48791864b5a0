//! What the planning pass over a sweep's points found: how many resolve,
//! the digest of their run ids, the values no point can use, the estimated
//! work, and every surveyed point's run id and validity, so that the run
//! pass (and a resumed sweep, through [`super::plan_cache`]) knows a point's
//! id without resolving its config again.

use super::manifest::Manifest;
use super::run_id::RunId;
use crate::engine::work::Work;
use std::collections::BTreeMap;

/// What the planning pass over every point (of a plan's slice) found.
#[derive(Debug, Clone, Default)]
pub(super) struct Survey {
    /// Points whose config does not resolve.
    pub invalid: usize,
    /// The first point whose config resolves.
    pub first_valid: Option<usize>,
    /// The order-sensitive digest of every surveyed point's run id.
    pub points_hash: u64,
    /// The same digest of each shard's points, when the plan is cut into
    /// shards (a merge checks each shard directory against its own).
    pub shard_hashes: Vec<u64>,
    /// For each dimension, by row: whether some point with it resolves, and
    /// else the first point with it that does not, with its error. Sparse
    /// (a row no surveyed point has is absent), so that a chunk of points
    /// costs what it holds, not the length of a long axis; empty for a
    /// survey read back from a cache (it was checked when written).
    pub rows: Vec<BTreeMap<usize, RowSurvey>>,
    /// The estimated work of the points whose config resolves, one run
    /// each, and how many of them.
    pub work: (Work, usize),
    /// The run id of every surveyed point, in index order.
    pub ids: Vec<RunId>,
    /// Whether each surveyed point's config resolves, in the same order.
    pub valid: Vec<bool>,
}

/// What the planning pass found for one value (row) of one dimension.
#[derive(Debug, Clone, Default)]
pub(super) struct RowSurvey {
    /// Some point with this value resolves.
    pub usable: bool,
    /// The first point with this value that does not, and why.
    pub first_error: Option<(usize, String)>,
}

impl RowSurvey {
    /// Keeps `error` of the point `index` if no earlier point's is kept.
    fn note_error(&mut self, index: usize, error: &str) {
        if self.first_error.as_ref().is_none_or(|(i, _)| *i > index) {
            self.first_error = Some((index, error.to_string()));
        }
    }
}

impl Survey {
    /// An empty survey of `manifest`'s dimensions, with a digest for each
    /// of `shards` shards.
    pub fn empty(manifest: &Manifest, shards: usize) -> Self {
        Self {
            shard_hashes: vec![0; shards],
            rows: vec![BTreeMap::new(); manifest.dimensions.len()],
            ..Self::default()
        }
    }

    /// Adds the point `index`, whose coordinates are `coords`, with its id
    /// and its resolved config's work, or why its config does not resolve
    /// (the caller keeps the id and validity in [`Self::ids`] and
    /// [`Self::valid`], in index order).
    pub fn add(
        &mut self,
        index: usize,
        coords: &[usize],
        run_id: RunId,
        resolved: std::result::Result<Option<Work>, &str>,
    ) {
        let digest = point_digest(index, run_id);
        self.points_hash = self.points_hash.wrapping_add(digest);
        let shards = self.shard_hashes.len();
        if let Some(h) = self.shard_hashes.get_mut(index % shards.max(1)) {
            *h = h.wrapping_add(digest);
        }
        match resolved {
            Ok(work) => {
                if let Some(work) = work {
                    self.work = (self.work.0.then(work), self.work.1 + 1);
                }
                self.first_valid = Some(self.first_valid.map_or(index, |f| f.min(index)));
            }
            Err(_) => self.invalid += 1,
        }
        for (rows, &c) in self.rows.iter_mut().zip(coords) {
            let row = rows.entry(c).or_default();
            match resolved {
                Ok(_) => row.usable = true,
                Err(e) => row.note_error(index, e),
            }
        }
    }

    /// The survey of the points of both (their ids and validities are the
    /// caller's).
    pub fn join(mut self, other: Self) -> Self {
        self.invalid += other.invalid;
        self.work = (self.work.0.then(other.work.0), self.work.1 + other.work.1);
        self.points_hash = self.points_hash.wrapping_add(other.points_hash);
        for (mine, theirs) in self.shard_hashes.iter_mut().zip(&other.shard_hashes) {
            *mine = mine.wrapping_add(*theirs);
        }
        self.first_valid = match (self.first_valid, other.first_valid) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        for (mine, theirs) in self.rows.iter_mut().zip(other.rows) {
            for (c, t) in theirs {
                let m = mine.entry(c).or_default();
                m.usable |= t.usable;
                if let Some((i, e)) = &t.first_error {
                    m.note_error(*i, e);
                }
            }
        }
        self
    }
}

/// One point's share of the points hash: its index and run id mixed
/// (splitmix64), so the wrapping sum over all points changes when any id
/// changes or two points swap places, and can be summed in any order.
pub(super) fn point_digest(index: usize, id: RunId) -> u64 {
    let mix = |mut z: u64| {
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    mix(mix(index as u64 ^ 0x9e37_79b9_7f4a_7c15) ^ id.0)
}
