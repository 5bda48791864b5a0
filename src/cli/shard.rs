//! `--shard auto`: which slice of a sweep this task runs, from the batch
//! scheduler's environment.

use crate::sweep::layout::Shard;

/// Resolves `--shard auto` from environment variables read by `var`:
/// Slurm job arrays (`SLURM_ARRAY_TASK_ID` minus `SLURM_ARRAY_TASK_MIN`, out of
/// `SLURM_ARRAY_TASK_COUNT`), or Kubernetes Indexed Jobs
/// (`JOB_COMPLETION_INDEX` out of `--shards N`). `--shards` also overrides
/// Slurm's count.
pub fn auto_shard(
    var: impl Fn(&str) -> Option<String>,
    shards: Option<usize>,
) -> Result<Shard, String> {
    let number = |name: &str| -> Result<Option<usize>, String> {
        var(name)
            .map(|v| {
                v.trim().parse::<usize>().map_err(|_| {
                    format!("--shard auto: {name} is '{v}', not a non-negative integer")
                })
            })
            .transpose()
    };
    let (index, count) = if let Some(id) = number("SLURM_ARRAY_TASK_ID")? {
        let min = number("SLURM_ARRAY_TASK_MIN")?.unwrap_or(0);
        let count = match (shards, number("SLURM_ARRAY_TASK_COUNT")?) {
            (Some(n), _) | (None, Some(n)) => n,
            (None, None) => {
                return Err(
                    "--shard auto: SLURM_ARRAY_TASK_ID is set but SLURM_ARRAY_TASK_COUNT is not; pass --shards N".into(),
                )
            }
        };
        let index = id.checked_sub(min).ok_or_else(|| {
            format!("--shard auto: SLURM_ARRAY_TASK_ID {id} is below SLURM_ARRAY_TASK_MIN {min}")
        })?;
        (index, count)
    } else if let Some(index) = number("JOB_COMPLETION_INDEX")? {
        let count = shards.ok_or(
            "--shard auto: JOB_COMPLETION_INDEX is set (a Kubernetes Indexed Job) but not the number of shards: pass --shards N (the Job's completions)",
        )?;
        (index, count)
    } else {
        return Err("--shard auto: neither SLURM_ARRAY_TASK_ID (a Slurm job array) nor JOB_COMPLETION_INDEX (a Kubernetes Indexed Job) is set; pass --shard I/N".into());
    };
    if count == 0 || index >= count {
        return Err(format!(
            "--shard auto: task index {index} is not below the shard count {count}"
        ));
    }
    Ok(Shard { index, count })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn resolve(vars: &[(&str, &str)], shards: Option<usize>) -> Result<Shard, String> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect();
        auto_shard(|k| map.get(k).cloned(), shards)
    }

    #[test]
    fn slurm_arrays_with_and_without_offsets() {
        let s = resolve(
            &[
                ("SLURM_ARRAY_TASK_ID", "2"),
                ("SLURM_ARRAY_TASK_COUNT", "4"),
            ],
            None,
        );
        assert_eq!(s, Ok(Shard { index: 2, count: 4 }));
        let s = resolve(
            &[
                ("SLURM_ARRAY_TASK_ID", "7"),
                ("SLURM_ARRAY_TASK_MIN", "5"),
                ("SLURM_ARRAY_TASK_COUNT", "4"),
            ],
            None,
        );
        assert_eq!(s, Ok(Shard { index: 2, count: 4 }));
        let s = resolve(&[("SLURM_ARRAY_TASK_ID", "1")], Some(3));
        assert_eq!(s, Ok(Shard { index: 1, count: 3 }));
    }

    #[test]
    fn kubernetes_indexed_jobs_need_the_shard_count() {
        assert_eq!(
            resolve(&[("JOB_COMPLETION_INDEX", "3")], Some(8)),
            Ok(Shard { index: 3, count: 8 })
        );
        let e = resolve(&[("JOB_COMPLETION_INDEX", "3")], None).unwrap_err();
        assert!(e.contains("--shards N"), "{e}");
    }

    #[test]
    fn missing_or_bad_environments_are_explained() {
        let e = resolve(&[], None).unwrap_err();
        assert!(
            e.contains("neither SLURM_ARRAY_TASK_ID") && e.contains("--shard I/N"),
            "{e}"
        );
        let e = resolve(
            &[
                ("SLURM_ARRAY_TASK_ID", "x"),
                ("SLURM_ARRAY_TASK_COUNT", "4"),
            ],
            None,
        )
        .unwrap_err();
        assert!(e.contains("not a non-negative integer"), "{e}");
        let e = resolve(
            &[
                ("SLURM_ARRAY_TASK_ID", "4"),
                ("SLURM_ARRAY_TASK_COUNT", "4"),
            ],
            None,
        )
        .unwrap_err();
        assert!(e.contains("not below the shard count 4"), "{e}");
    }
}
