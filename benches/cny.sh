#!/usr/bin/env bash
# The Chinese New Year scenario as a benchmark: wall time and peak resident memory of
# `sim run scenarios/chinese-new-year.toml` (issue 17's goal: at least 1 M payments/s, about 11 s,
# and at most 800 MB). Each run prints the simulator's own line (payments, events, payments/s).
# Usage: benches/cny.sh [runs]   (default 3)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
runs="${1:-3}"
for i in $(seq 1 "$runs"); do
  /usr/bin/time -f "run $i: %e s wall, %M KiB peak RSS" \
    ./target/release/sim run scenarios/chinese-new-year.toml --quiet --out "${TMPDIR:-/tmp}/cny-bench"
done
