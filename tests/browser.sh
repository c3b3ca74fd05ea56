#!/usr/bin/env bash
# Opens report pages (report.html) in a real browser: Debian's chromium, headless, with its
# name resolution and proxy pointed nowhere, so nothing can leave this machine. For a run's
# folder and a swarm campaign's, it checks that
#   - the DOM holds every section the page must have, the answer first, and every plot inline;
#   - the browser's console logged nothing (the page's content security policy forbids every
#     request, and a blocked one is logged there, so no console line means no request tried);
#   - a copy of the page with one external image planted does log it (the check can fail);
# and it takes screenshots at a desktop's width and a phone's into SHOTS (default
# target/browser-shots) for a person to look at.
#
#   tests/browser.sh [path/to/sim] [SHOTS]      (default: target/release/sim)
#
# Installs chromium when missing (deploy/test-deps.sh; needs root for that). Bounded: every
# browser has a deadline.
set -euo pipefail
cd "$(dirname "$0")/.."

sim=$(realpath "${1:-target/release/sim}")
[[ -x $sim ]] || { echo "browser: no sim binary at $sim (cargo build --release)" >&2; exit 2; }
shots=${2:-target/browser-shots}
deploy/test-deps.sh chromium
browser=$(command -v chromium)
mkdir -p "$shots"
shots=$(realpath "$shots")
scratch=$(mktemp -d /tmp/bakong-browser.XXXXXX)
trap 'rm -rf "$scratch"' EXIT

chrome() {
    timeout 120 "$browser" --headless --no-sandbox --disable-gpu --no-first-run \
        --user-data-dir="$scratch/profile" --disable-extensions --disable-sync \
        --disable-background-networking --disable-component-update \
        --host-resolver-rules="MAP * ~NOTFOUND" --proxy-server="127.0.0.1:9" \
        --enable-logging=stderr --v=0 "$@"
}

# Opens PAGE: its DOM to $scratch/NAME.dom, the console's lines to $scratch/NAME.console.
open_page() {
    local page=$1 name=$2
    chrome --dump-dom "file://$page" >"$scratch/$name.dom" 2>"$scratch/$name.err"
    grep ':CONSOLE' "$scratch/$name.err" >"$scratch/$name.console" || true
}

# check NAME PAGE SECTION...: the sections in this order, the plots inline, a quiet console.
check() {
    local name=$1 page=$2
    shift 2
    open_page "$page" "$name"
    [[ -s $scratch/$name.dom ]] || { echo "browser: $name: no DOM" >&2; cat "$scratch/$name.err" >&2; exit 1; }
    if [[ -s $scratch/$name.console ]]; then
        echo "browser: $name: the console logged:" >&2
        cat "$scratch/$name.console" >&2
        exit 1
    fi
    local last=0 at
    for section in "$@"; do
        at=$(grep -b -o "<section id=\"$section\">" "$scratch/$name.dom" | head -1 | cut -d: -f1)
        [[ -n $at ]] || { echo "browser: $name: no section '$section'" >&2; exit 1; }
        (( at > last )) || { echo "browser: $name: section '$section' out of order" >&2; exit 1; }
        last=$at
    done
    local plots inline
    plots=0
    if [[ -d $(dirname "$page")/plots ]]; then
        plots=$(find "$(dirname "$page")/plots" -name '*.svg' | wc -l)
    fi
    inline=$(grep -A1 '<figure id="plot-' "$scratch/$name.dom" | grep -c '^<svg' || true)
    (( inline == plots )) || { echo "browser: $name: $inline of $plots plots inline" >&2; exit 1; }
    for width in 1200 390; do
        chrome --hide-scrollbars --window-size="$width,2400" \
            --screenshot="$shots/$name-$width.png" "file://$page" >/dev/null 2>&1
        [[ $(stat -c %s "$shots/$name-$width.png") -gt 10000 ]] \
            || { echo "browser: $name: an empty screenshot at $width px" >&2; exit 1; }
    done
    echo "browser: $name: ${#@} sections in order, $plots plots inline, console quiet"
}

# Exit 1 is a verdict (an SLO missed, a seed failed), not a failure to write the folder.
"$sim" run tests/data/tiny.toml --quiet --out "$scratch/run" >/dev/null || [[ $? -eq 1 ]]
check run "$scratch/run/report.html" the-answer slos nodes outcomes books plots figures
"$sim" swarm tests/data/swarm.toml --seeds 1..2 --quiet --out "$scratch/swarm" >/dev/null || [[ $? -eq 1 ]]
check swarm "$scratch/swarm/report.html" marks

# The check can fail: one external image planted in a copy is blocked, and logged.
sed 's|<main>|<main><img src="http://example.invalid/pixel.png" alt="">|' \
    "$scratch/run/report.html" >"$scratch/run/planted.html"
open_page "$scratch/run/planted.html" planted
grep -q 'example.invalid' "$scratch/planted.console" \
    || { echo "browser: the planted request was not seen in the console" >&2; cat "$scratch/planted.err" >&2; exit 1; }
echo "browser: ok: the run's and the campaign's pages open offline, whole and quiet; screenshots in $shots"
