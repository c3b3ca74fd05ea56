#!/usr/bin/env bash
# Parallel replications: a sweep of 10 load points × 5 replications of the small scenario,
# wall time with --jobs 1 and --jobs 2 (goal: at least 1.8× faster on 2 cores), alternating,
# and a check that the two sweep folders are byte-identical.
# Usage: benches/sweep.sh [rounds]   (default 3)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
rounds="${1:-3}"
tmp="${TMPDIR:-/tmp}/bakong-sim-sweep-bench"
rm -rf "$tmp" && mkdir -p "$tmp"
points="load.multiplier=0.5,1,1.5,2,2.5,3,3.5,4,4.5,5"
for i in $(seq 1 "$rounds"); do
  for jobs in 1 2; do
    rm -rf "$tmp/j$jobs"
    /usr/bin/time -f "round $i, --jobs $jobs: %e s wall, %U s user, %M KiB peak" \
      ./target/release/sim sweep tests/data/small.toml --vary "$points" --replications 5 \
        --jobs "$jobs" --quiet --out "$tmp/j$jobs" > /dev/null
  done
  for f in sweep.json capacity.md capacity.csv headlines.csv; do
    cmp -s "$tmp/j1/$f" "$tmp/j2/$f" || { echo "round $i: $f differs between --jobs 1 and 2"; exit 1; }
  done
done
echo "the --jobs 1 and --jobs 2 folders are byte-identical"
