#!/usr/bin/env bash
# The model check across a ladder of rates: at each rate multiplier, a fresh `sim serve` of
# tests/data/realtime.toml with --no-far-delays (so the latency measured is the server's own)
# and `sim load --model-check` for DURATION seconds, which writes model-check.md with the
# measured service time (CPU per payment), the simulator's prediction of p50/p99 per flow, and
# the predicted saturation rate. Prints one line per rate: offered and answered rate, the
# domestic flow's measured and predicted p50/p99, and the predicted saturation.
#
#   benches/model-check.sh [MULTIPLIERS...]     (default: 10 20 40 60 80 100)
#
# SPEEDUP (default 60) compresses the scenario's hour into a minute, so multiplier 1 offers
# about 95 payments a second; CONNECTIONS (default 512).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
SIM=target/release/sim
SPEEDUP=${SPEEDUP:-60}
DURATION=${DURATION:-20}
mults=("$@")
[[ ${#mults[@]} -gt 0 ]] || mults=(10 20 40 60 80 100)
work=$(mktemp -d)
server=
trap 'kill "$server" 2>/dev/null || true; rm -rf "$work"' EXIT
scenario=tests/data/realtime.toml
$SIM keys generate $scenario --out "$work/keys.toml" >/dev/null
printf '%6s %9s %10s %8s %8s %8s %8s %12s\n' mult offered/s answered/s p50_ms pred_p50 p99_ms pred_p99 saturation/s
for m in "${mults[@]}"; do
    rm -f "$work/journal.sqlite"*
    $SIM serve $scenario --listen 127.0.0.1:0 --no-far-delays --journal "$work/journal.sqlite" \
        --keys "$work/keys.toml" --speedup "$SPEEDUP" >"$work/serve.out" 2>"$work/serve.err" &
    server=$!
    for _ in $(seq 50); do grep -q listening "$work/serve.out" 2>/dev/null && break; sleep 0.1; done
    addr=$(sed -n 's/listening on //p' "$work/serve.out")
    $SIM load $scenario --target "$addr" --keys "$work/keys.toml" --speedup "$SPEEDUP" \
        --rate-multiplier "$m" --duration-s "$DURATION" --connections "${CONNECTIONS:-512}" \
        --model-check --out "$work/m$m" >/dev/null 2>&1 || true
    kill "$server"; wait "$server" 2>/dev/null || true
    python3 - "$work/m$m" "$m" <<'PY'
import json, re, sys
d, m = sys.argv[1], sys.argv[2]
s = json.load(open(f"{d}/summary.json"))
md = open(f"{d}/model-check.md").read()
row = next(l for l in md.splitlines() if l.startswith("| domestic |"))
cells = [c.strip() for c in row.strip("|").split("|")]
sat = re.search(r"predicted saturation \(servers / service time\) \| (\d+) /s", md).group(1)
print(f"{m:>6} {s['intended_rate_per_s']:>9.0f} {s['answered_rate_per_s']:>10.0f} {cells[1]:>8} {cells[2]:>8} {cells[4]:>8} {cells[5]:>8} {sat:>12}")
PY
done
