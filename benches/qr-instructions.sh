#!/usr/bin/env bash
# Instructions per payload for the QR core (decode, and decode + strict verify) under callgrind:
# the count at N = 10,000 minus the count at N = 0, divided by 10,000. Instruction counts repeat
# where wall time on a shared VM does not, so versions are compared with these.
# Usage: benches/qr-instructions.sh   (needs valgrind)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet --example qr_instructions
bin=target/release/examples/qr_instructions
count() {
  valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" "$@" 2>&1 |
    awk '/refs:/ { gsub(",", "", $NF); print $NF }'
}
for payload in g09 x01 x06; do
  for what in decode decode_verify; do
    base=$(count "$what" 0 "$payload")
    total=$(count "$what" 10000 "$payload")
    echo "$payload $what: $(( (total - base) / 10000 )) instructions"
  done
done
