#!/usr/bin/env bash
# City-scale comparison (a benchmark, not a test): lifecircle on the generated 1M-facility set
# against PostGIS ST_AsMVT on the same points and tiles, a bare axum server holding the same
# tile bytes in a HashMap (the ceiling), and Martin serving them from an MBTiles (when `martin`
# is installed). Prints the cold-tile medians and ratios per zoom, cached-tile requests per
# second (wrk), /search p50/p99 over HTTP, resident memory before caching and the snapshot time,
# each with the load average. See scripts/compare.py.
#
#   bash scripts/compare.sh [wrk seconds=10] [rounds=3]
#
# LIFECIRCLE_CITY=DIR uses (or generates) the city set in DIR instead of data/city.
#
# Installs Debian's wrk, postgresql and postgresql-15-postgis-3 when missing (as root). The
# PostGIS cluster is a throwaway one in a temporary directory, run as `postgres` on 127.0.0.1.
# Only 127.0.0.1 is ever contacted; every server started is stopped at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-10}"
rounds="${2:-3}"

missing=()
command -v wrk >/dev/null || missing+=(wrk)
ls /usr/share/postgresql/*/extension/postgis.control >/dev/null 2>&1 ||
  missing+=(postgresql postgresql-15-postgis-3)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get install -y "${missing[@]}" >/dev/null
  else
    echo "note: missing ${missing[*]}; those comparisons are skipped" >&2
  fi
fi

cargo build --release --quiet --bin lifecircle --example bare_tiles --example bench_points
target_dir="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
export LIFECIRCLE_CITY="${LIFECIRCLE_CITY:-data/city}"
if [ ! -f "$LIFECIRCLE_CITY/facilities.fgb" ]; then
  cargo run --release --quiet -p lifecircle-generate -- --preset shanghai --facilities 1000000 --out "$LIFECIRCLE_CITY"
fi
python3 scripts/compare.py "$target_dir" "$seconds" "$rounds"
