#!/usr/bin/env bash
# Martin check (not part of the suite): serves an MBTiles archive written by `lifecircle export`
# with Martin (`cargo install martin`) and compares a sample of its tiles, byte for byte after
# gzip is undone, with the same tiles from `lifecircle serve` on 127.0.0.1.
#
#   bash scripts/martin_compare.sh [CONFIG] [SAMPLE_SIZE]
#
# Without `martin` on PATH it says so and exits 0. Needs a release build of lifecircle
# (CARGO_TARGET_DIR is honoured) and python3.
set -euo pipefail
cd "$(dirname "$0")/.."
config=${1:-}
sample=${2:-300}
if ! command -v martin >/dev/null 2>&1; then
  echo "martin is not installed (cargo install martin); nothing compared"
  exit 0
fi
lifecircle="${CARGO_TARGET_DIR:-target}/release/lifecircle"
[ -x "$lifecircle" ] || { echo "build first: cargo build --release" >&2; exit 1; }
config_args=()
[ -n "$config" ] && config_args=(--config "$config")
work=$(mktemp -d)
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

"$lifecircle" "${config_args[@]}" export --out "$work" --sources facilities,basemap --format mbtiles
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
lc_port=$(free_port)
martin_port=$(free_port)
"$lifecircle" "${config_args[@]}" serve --listen "127.0.0.1:$lc_port" >"$work/lifecircle.log" 2>&1 &
pids+=($!)
martin --listen-addresses "127.0.0.1:$martin_port" "$work/facilities.mbtiles" "$work/basemap.mbtiles" \
  >"$work/martin.log" 2>&1 &
pids+=($!)
for url in "http://127.0.0.1:$lc_port/ready" "http://127.0.0.1:$martin_port/health"; do
  for _ in $(seq 300); do curl -sf "$url" >/dev/null && break; sleep 0.2; done
done

python3 - "$work" "$lc_port" "$martin_port" "$sample" <<'PY'
import gzip, random, sqlite3, sys, urllib.request, urllib.error
work, lc_port, martin_port, sample = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])

def fetch(url):
    request = urllib.request.Request(url, headers={"Accept-Encoding": "gzip"})
    try:
        with urllib.request.urlopen(request) as response:
            body = response.read()
            if response.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            return response.status, body
    except urllib.error.HTTPError as error:
        return error.code, b""

random.seed(14)
checked = differ = 0
for source in ("facilities", "basemap"):
    db = sqlite3.connect(f"{work}/{source}.mbtiles")
    rows = db.execute("SELECT zoom_level, tile_column, tile_row FROM tiles").fetchall()
    for z, x, row in random.sample(rows, min(sample, len(rows))):
        y = (1 << z) - 1 - row
        lc = fetch(f"http://127.0.0.1:{lc_port}/tiles/{source}/{z}/{x}/{y}.mvt")
        martin = fetch(f"http://127.0.0.1:{martin_port}/{source}/{z}/{x}/{y}")
        checked += 1
        if lc != martin:
            differ += 1
            print(f"differs: {source} {z}/{x}/{y}: lifecircle {lc[0]} {len(lc[1])} B, martin {martin[0]} {len(martin[1])} B")
print(f"{checked} tiles compared, {differ} differ")
sys.exit(1 if differ else 0)
PY
