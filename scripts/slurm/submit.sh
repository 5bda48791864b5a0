#!/usr/bin/env bash
# Submits a sweep to Slurm: a job array of N tasks (each runs one shard of the
# points) and a merge job that starts when every task succeeded.
#
#   scripts/slurm/submit.sh [-n TASKS] [-c CPUS] [-p PARTITION] MANIFEST OUTPUT [sweep flags...]
#
#   -n TASKS      array tasks = shards (default 4)
#   -c CPUS       CPUs per task, the sweep's -j (default 1)
#   -p PARTITION  Slurm partition (default: the cluster's default)
#
# Prints the array job id and the merge job id. Logs go to OUTPUT/logs/.
# The binary is $INFERENCE_LAB, or inference-lab on the PATH of the nodes.
# A task that failed: rerun it with `inference-lab sweep MANIFEST --shard I/N -o OUTPUT`,
# then merge with scripts/slurm/merge.sbatch OUTPUT N (or `inference-lab sweep merge`).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
tasks=4 cpus=1 partition=()
while getopts "n:c:p:h" opt; do
  case $opt in
    n) tasks=$OPTARG ;;
    c) cpus=$OPTARG ;;
    p) partition=(--partition "$OPTARG") ;;
    *) sed -n '2,15p' "$0" >&2; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
if [ $# -lt 2 ]; then
  sed -n '2,15p' "$0" >&2
  exit 2
fi
manifest=$1 output=$2
shift 2
[ -f "$manifest" ] || { echo "error: no such manifest '$manifest'" >&2; exit 1; }
case $tasks in ''|*[!0-9]*|0) echo "error: -n expects a positive integer, got '$tasks'" >&2; exit 2 ;; esac
mkdir -p "$output/logs"
array=$(sbatch --parsable "${partition[@]}" --array="0-$((tasks - 1))" --cpus-per-task="$cpus" \
  --output="$output/logs/sweep-%A_%a.out" "$here/sweep.sbatch" "$manifest" "$output" "$@")
array=${array%%;*}
merge=$(sbatch --parsable "${partition[@]}" --dependency="afterok:$array" --kill-on-invalid-dep=yes \
  --output="$output/logs/merge-%j.out" "$here/merge.sbatch" "$output" "$tasks")
merge=${merge%%;*}
echo "$array $merge"
