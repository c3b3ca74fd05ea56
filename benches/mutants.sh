#!/usr/bin/env bash
# Mutation testing of the files whose tests must notice a bug (issue: swarm fault campaigns):
# cargo-mutants plants one change at a time in one file and runs the unit tests (`--lib`);
# a mutant the tests do not fail on is "missed". Not run in CI: each mutant rebuilds and
# tests the library (about a minute on the project machine), so a file of 60 mutants takes
# an hour.
#
# Usage: benches/mutants.sh [FILE...]   (default: the five files below)
# Output: target/mutants/<file>/ (cargo-mutants' outcomes.json, caught.txt, missed.txt), and
# a table of caught / missed / unviable / timeout per file on stdout.
set -euo pipefail
cd "$(dirname "$0")/.."

files=("$@")
if [ ${#files[@]} -eq 0 ]; then
  files=(
    src/sim/audit.rs
    src/payments/recon/mod.rs
    src/payments/money.rs
    src/payments/fx/mod.rs
    src/payments/settlement/mod.rs
  )
fi

if ! cargo mutants --version >/dev/null 2>&1; then
  cargo install --locked cargo-mutants
fi

echo "| file | mutants | caught | missed | unviable | timeout |"
echo "|---|---:|---:|---:|---:|---:|"
for f in "${files[@]}"; do
  out="target/mutants/$(echo "$f" | tr '/' '_')"
  mkdir -p "$out"
  # Exit code 2 means "some mutants were missed": the table says which, so go on.
  cargo mutants --file "$f" --jobs 1 --timeout-multiplier 3 --output "$out" -- --lib \
    >"$out/log.txt" 2>&1 || true
  dir="$out/mutants.out"
  count() { [ -f "$dir/$1.txt" ] && wc -l <"$dir/$1.txt" | tr -d ' ' || echo 0; }
  total=$(( $(count caught) + $(count missed) + $(count unviable) + $(count timeout) ))
  echo "| \`$f\` | $total | $(count caught) | $(count missed) | $(count unviable) | $(count timeout) |"
done
echo
echo "Missed mutants are listed in target/mutants/*/mutants.out/missed.txt."
