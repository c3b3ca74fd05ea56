#!/usr/bin/env bash
# `sim load` beside oha (`cargo install oha`) at the same fixed rate against the same `sim serve`
# endpoint, coordinated-omission corrected on both (oha --latency-correction): each generator
# in turn, ROUNDS times, alternating. One fixed request body: after the first, every request
# is an idempotent replay the API answers from memory, so the generators, not the journal,
# are what is compared.
#
#   benches/oha.sh [RATE] [SECONDS] [ROUNDS]      (default 2000 10 3)
set -euo pipefail
cd "$(dirname "$0")/.."
command -v oha >/dev/null || { echo "oha.sh: oha is not installed (cargo install oha)" >&2; exit 2; }
cargo build --release --quiet
SIM=target/release/sim
RATE=${1:-2000}; SECONDS_=${2:-10}; ROUNDS=${3:-3}; CONNECTIONS=${CONNECTIONS:-64}
work=$(mktemp -d)
trap 'kill "$server" 2>/dev/null || true; rm -rf "$work"' EXIT
$SIM keys generate tests/data/small.toml --out "$work/keys.toml" >/dev/null
token=$(python3 -c 'import sys,tomllib; print(tomllib.load(open(sys.argv[1],"rb"))["tokens"]["kh_bank_0"])' "$work/keys.toml")
qr='00020101021130320007m5@kb0101060000050207Bank 015204599953031165802KH5906Shop 56010Phnom Penh63045875'
printf '{"qr":"%s","amount":"40000","currency":"KHR","payer":"p1","idempotency_key":"oha-fixed"}' "$qr" >"$work/req.json"
$SIM serve tests/data/small.toml --listen 127.0.0.1:0 --journal "$work/journal.sqlite" --keys "$work/keys.toml" --speedup 10 >"$work/serve.out" 2>/dev/null &
server=$!
for _ in $(seq 50); do grep -q listening "$work/serve.out" 2>/dev/null && break; sleep 0.1; done
addr=$(sed -n 's/listening on //p' "$work/serve.out")
printf '%6s %8s %12s %10s %10s\n' round tool rate/s p50_ms p99_ms
for round in $(seq "$ROUNDS"); do
    $SIM load tests/data/small.toml --target "$addr" --keys "$work/keys.toml" --rate "$RATE" --request "$work/req.json" \
        --duration-s "$SECONDS_" --connections "$CONNECTIONS" --out "$work/sim$round" >/dev/null 2>&1
    python3 - "$work/sim$round/summary.json" "$round" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
print(f"{sys.argv[2]:>6} {'sim load':>8} {s['answered_rate_per_s']:>12.0f} {s['latency_ms']['p50']:>10.2f} {s['latency_ms']['p99']:>10.2f}")
PY
    oha --no-tui --output-format json -z "${SECONDS_}s" -q "$RATE" --latency-correction -c "$CONNECTIONS" -m POST \
        -H "Authorization: Bearer $token" -H "Content-Type: application/json" -D "$work/req.json" "$addr/v1/payments" >"$work/oha$round.json"
    python3 - "$work/oha$round.json" "$round" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
p = s["latencyPercentiles"]
print(f"{sys.argv[2]:>6} {'oha':>8} {s['summary']['requestsPerSec']:>12.0f} {p['p50']*1000:>10.2f} {p['p99']*1000:>10.2f}")
PY
done
