#!/usr/bin/env bash
# A month of traffic as a benchmark: wall time, payments per second and peak resident memory of
# `sim run scenarios/month.toml` (31 days of normal-weekday traffic, about 120 M payments; goal:
# at most 2 GB, memory bounded by the window and the open business dates, not by the horizon).
# Each run prints the simulator's own line (payments, events, payments/s) and /usr/bin/time's.
# Usage: benches/month.sh [runs]   (default 1: a run takes tens of minutes on 2 cores)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
runs="${1:-1}"
for i in $(seq 1 "$runs"); do
  /usr/bin/time -f "run $i: %e s wall, %M KiB peak RSS" \
    ./target/release/sim run scenarios/month.toml --quiet --out "${TMPDIR:-/tmp}/month-bench"
done
