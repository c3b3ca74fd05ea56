#!/usr/bin/env bash
# Mutation testing of the files whose tests must notice a bug (issue: swarm fault campaigns):
# cargo-mutants plants one change at a time in one file and runs the unit tests (`--lib`);
# a mutant the tests do not fail on is "missed". Not run in CI.
#
# The mutants are planted in a clone of HEAD under target/mutants/tree, never in this working
# tree, and built there in place with an unoptimised, debug-info-free test profile: an
# incremental rebuild and the unit tests then take about 10 s a mutant on the project machine
# (2 cores), so the five files (about 400 mutants) take about 80 minutes.
#
# Usage: benches/mutants.sh [FILE...]   (default: the five files below)
#        ITERATE=1 benches/mutants.sh   (only the mutants not caught last time: cargo-mutants
#                                        --iterate, after tests were added)
# Output: target/mutants/<file>/mutants.out/ (outcomes.json, caught.txt, missed.txt, ...), and
# a table of caught / missed / unviable / timeout per file on stdout.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

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

tree=target/mutants/tree
[ -d "$tree/.git" ] || git clone -q "$root" "$tree"
git -C "$tree" fetch -q "$root" HEAD
git -C "$tree" checkout -q --force --detach FETCH_HEAD
echo "mutants planted in a clone of $(git -C "$tree" rev-parse --short=12 HEAD)"
export CARGO_PROFILE_DEV_OPT_LEVEL=0 CARGO_PROFILE_DEV_DEBUG=0
iterate=()
[ -n "${ITERATE:-}" ] && iterate=(--iterate)

echo "| file | mutants | caught | missed | unviable | timeout |"
echo "|---|---:|---:|---:|---:|---:|"
for f in "${files[@]}"; do
  out="$root/target/mutants/$(echo "$f" | tr '/' '_')"
  mkdir -p "$out"
  # Exit code 2 means "some mutants were missed", 3 "some timed out": the table says which.
  (cd "$tree" && cargo mutants --in-place --file "$f" --timeout-multiplier 3 \
    --output "$out" "${iterate[@]}" -- --lib) >"$out/log.txt" 2>&1 || true
  dir="$out/mutants.out"
  count() { [ -f "$dir/$1.txt" ] && wc -l <"$dir/$1.txt" | tr -d ' ' || echo 0; }
  total=$(( $(count caught) + $(count missed) + $(count unviable) + $(count timeout) ))
  echo "| \`$f\` | $total | $(count caught) | $(count missed) | $(count unviable) | $(count timeout) |"
done
echo
echo "Missed mutants are listed in target/mutants/*/mutants.out/missed.txt."
