#!/usr/bin/env bash
# Load test: starts the release server on the bundled sample at 127.0.0.1 and drives it with wrk
# (Debian package `wrk`) over a realistic mix of facility tiles (zoom 10–16 around the data), warm
# cache, gzip accepted. Prints wrk's latency distribution and requests per second.
#
#   bash scripts/load.sh [seconds=15] [connections=32]
#
# Only 127.0.0.1 is ever contacted; the server is stopped at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
duration="${1:-15}"
connections="${2:-32}"
port=18931

command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
cargo build --release --quiet
target_dir="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
"$target_dir/release/lifecircle" serve --listen "127.0.0.1:$port" 2>/tmp/lifecircle-load.log &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  curl -fs "http://127.0.0.1:$port/health" | grep -q '"finished":true' && break
  sleep 0.2
done

# The tile list: every tile of the data's extent from zoom 10 to 16, as the TileJSON bounds give.
lua=$(mktemp --suffix .lua)
python3 - "$port" > "$lua" <<'PY'
import json, math, sys, urllib.request
port = sys.argv[1]
tj = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/tiles/facilities.json"))
w, s, e, n = tj["bounds"]
def tile(lon, lat, z):
    k = 2 ** z
    x = int((lon + 180) / 360 * k)
    y = int((1 - math.log(math.tan(math.radians(lat)) + 1 / math.cos(math.radians(lat))) / math.pi) / 2 * k)
    return x, y
paths = []
for z in range(10, 17):
    x0, y0 = tile(w, n, z)
    x1, y1 = tile(e, s, z)
    paths += [f"/tiles/facilities/{z}/{x}/{y}.mvt" for x in range(x0, x1 + 1) for y in range(y0, y1 + 1)]
print("paths = {" + ",".join(json.dumps(p) for p in paths) + "}")
print("counter = 0")
print("request = function()\n  counter = counter + 1\n  return wrk.format('GET', paths[(counter % #paths) + 1], {['Accept-Encoding'] = 'gzip'})\nend")
print(f"-- {len(paths)} tiles")
PY
echo "tiles in the mix: $(tail -1 "$lua")"
wrk --latency -t 2 -c "$connections" -d "${duration}s" -s "$lua" "http://127.0.0.1:$port"
rm -f "$lua"
