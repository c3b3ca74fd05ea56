#!/usr/bin/env bash
# The highest rate `sim serve` sustains with its journal durable: a ladder of fixed rates from
# `sim load` against one server on this machine (both on loopback, sharing its cores), each
# rate for DURATION seconds; prints each rate's answered rate and corrected p50/p99.
#
#   benches/serve.sh [RATES...]        (default: 1000 2000 4000 6000 8000 12000)
#
# The server runs tests/data/small.toml at --speedup SPEEDUP (default 10: the emulated bank's
# 80 ms median service becomes 8 ms, the payer's 15 s timeout 1.5 s), so what is measured is
# mostly the real work: HTTP, ISO 8583 frames with MACs, the switch's ledger, the journal's
# fsyncs. CONNECTIONS (default 512) must cover rate x latency, since each carries one request
# at a time.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
SIM=target/release/sim
DURATION=${DURATION:-10}
rates=("$@")
[[ ${#rates[@]} -gt 0 ]] || rates=(1000 2000 4000 6000 8000 12000)
work=$(mktemp -d)
trap 'kill "$server" 2>/dev/null || true; rm -rf "$work"' EXIT
$SIM keys generate tests/data/small.toml --out "$work/keys.toml" >/dev/null
qr='00020101021130320007m5@kb0101060000050207Bank 015204599953031165802KH5906Shop 56010Phnom Penh63045875'
printf '{"qr":"%s","amount":"40000","currency":"KHR","payer":"p1","idempotency_key":"{n}"}' "$qr" >"$work/req.json"
$SIM serve tests/data/small.toml --listen 127.0.0.1:0 --journal "$work/journal.sqlite" --keys "$work/keys.toml" --speedup "${SPEEDUP:-10}" >"$work/serve.out" 2>"$work/serve.err" &
server=$!
for _ in $(seq 50); do grep -q listening "$work/serve.out" 2>/dev/null && break; sleep 0.1; done
addr=$(sed -n 's/listening on //p' "$work/serve.out")
printf '%8s %12s %10s %10s %8s\n' rate answered/s p50_ms p99_ms dropped
for rate in "${rates[@]}"; do
    $SIM load tests/data/small.toml --target "$addr" --keys "$work/keys.toml" --rate "$rate" --request "$work/req.json" \
        --duration-s "$DURATION" --connections "${CONNECTIONS:-512}" --out "$work/r$rate" >/dev/null 2>&1
    python3 - "$work/r$rate/summary.json" "$rate" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
print(f"{sys.argv[2]:>8} {s['answered_rate_per_s']:>12.0f} {s['latency_ms']['p50']:>10.1f} {s['latency_ms']['p99']:>10.1f} {s['dropped']:>8}")
PY
done
$SIM journal check "$work/journal.sqlite" | python3 -c 'import json,sys; r=json.load(sys.stdin); print("journal:", {k: r[k] for k in ("payments_final", "duplicates", "ledger_invariants_ok")})'
