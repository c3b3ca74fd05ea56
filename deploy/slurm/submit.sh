#!/usr/bin/env bash
# Submits a sharded sweep (or, with --swarm, a swarm campaign) to Slurm: an array of N shards,
# and the merge that waits for all of them (afterok). Prints the two job ids.
#
#   deploy/slurm/submit.sh N OUT SCENARIO [sweep arguments...]
#   deploy/slurm/submit.sh --swarm N OUT SCENARIO --seeds A..B [swarm arguments...]
#
# e.g. deploy/slurm/submit.sh 8 /shared/growth scenarios/growth-10x.toml \
#        --vary load.multiplier=0.7,0.8,0.9,1.0,1.1,1.2 --replications 5
#      deploy/slurm/submit.sh --swarm 10 /shared/storm tests/data/swarm.toml --seeds 1..10000
#
# OUT must be on a file system every node sees. BAKONG_SIM names the `sim` binary (default:
# `sim` on PATH); extra sbatch options go in SBATCH_EXTRA (e.g. "--partition=batch").
set -euo pipefail

kind=sweep
if [[ ${1:-} == --swarm ]]; then
    kind=swarm
    shift
fi
if [[ $# -lt 3 ]]; then
    echo "usage: $0 [--swarm] N OUT SCENARIO [sweep or swarm arguments...]" >&2
    exit 2
fi
shards=$1
out=$2
shift 2
if ! [[ $shards =~ ^[1-9][0-9]*$ ]]; then
    echo "$0: N must be a positive whole number, not '$shards'" >&2
    exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out"
# shellcheck disable=SC2086 # SBATCH_EXTRA is a list of options
array=$(sbatch --parsable ${SBATCH_EXTRA:-} --array="0-$((shards - 1))" \
    --export=ALL,BAKONG_SIM_SHARDS="$shards" \
    --chdir="$PWD" "$here/$kind-array.sbatch" "$out" "$@")
array=${array%%;*}
# shellcheck disable=SC2086
merge=$(sbatch --parsable ${SBATCH_EXTRA:-} --dependency="afterok:$array" \
    --chdir="$PWD" "$here/merge.sbatch" "$out" "$shards" "$kind")
merge=${merge%%;*}
echo "array $array ($shards shards) and merge $merge; the $kind will be in $out/$kind"
