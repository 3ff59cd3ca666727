"""Independent nearest-facility check for the coverage tests (stdlib only).

Reads JSON from stdin: {"facilities": [{"id", "category", "lon", "lat"}...],
"points": [[lon, lat]...]}; writes, for every point, {category: [distance_m, facility id]} with
the haversine distance to the nearest facility of each category (mean Earth radius, IUGG).
"""

import json
import math
import sys

EARTH_RADIUS_M = 6371008.8


def haversine_m(lon1, lat1, lon2, lat2):
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def main():
    data = json.load(sys.stdin)
    out = []
    for lon, lat in data["points"]:
        best = {}
        for f in data["facilities"]:
            d = haversine_m(lon, lat, f["lon"], f["lat"])
            cat = f["category"]
            if cat not in best or d < best[cat][0]:
                best[cat] = [d, f["id"]]
        out.append(best)
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
