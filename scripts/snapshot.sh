#!/usr/bin/env bash
# Snapshot time and resident memory at city scale (a benchmark, not a test): the release server
# on the generated 1M-facility set, started `rounds` times; prints the snapshot time with its
# stages, VmRSS once ready (before any tile is cached) and VmHWM (the build's peak), their
# medians, and the load average. See scripts/snapshot.py.
#
#   bash scripts/snapshot.sh [rounds=3]
#
# The set is generated into data/city when missing (LIFECIRCLE_CITY=DIR reads or writes it
# there instead). LIFECIRCLE_BASELINE=BINARY measures an earlier build in the same run.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds="${1:-3}"
city="${LIFECIRCLE_CITY:-data/city}"

cargo build --release --quiet --bin lifecircle
target_dir="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
if [ ! -f "$city/facilities.fgb" ]; then
  cargo run --release --quiet -p lifecircle-generate -- --preset shanghai --facilities 1000000 --out "$city"
fi
python3 scripts/snapshot.py "$target_dir" "$rounds" "$(cd "$city" && pwd)"
