"""Reference walking distances for the scenario tests, independent of lifecircle.

Reads JSON from stdin: {"roads": "PATH.geojson", "facilities": [{"category", "lon", "lat"}...],
"points": [[lon, lat]...]}. Reads the street file itself (a GeoJSON FeatureCollection of
LineStrings; consecutive vertices are edges weighted by haversine metres, equal coordinates are
one node), attaches every facility and point to the nearest street segment (nearest point in a
local equirectangular plane, the segment split there, plus the straight haversine leg off the
street), and runs a multi-source Dijkstra (networkx) per category from its facilities. Writes,
for every point, {category: distance_m} (null when unreachable).
"""

import json
import math
import sys

import networkx as nx

EARTH_RADIUS_M = 6371008.8


def haversine(a, b):
    lon1, lat1, lon2, lat2 = map(math.radians, (a[0], a[1], b[0], b[1]))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def main():
    data = json.load(sys.stdin)
    with open(data["roads"], encoding="utf-8") as f:
        roads = json.load(f)
    segments = []
    for feature in roads["features"]:
        coords = feature["geometry"]["coordinates"]
        for a, b in zip(coords, coords[1:]):
            segments.append((tuple(a), tuple(b)))
    lat0 = sum(a[1] for a, _ in segments) / len(segments)
    kx = math.cos(math.radians(lat0))

    def attach(p):
        """(segment index, t, point on segment, off-street metres) of the nearest segment."""
        best = None
        for i, (a, b) in enumerate(segments):
            ax, ay, bx, by = a[0] * kx, a[1], b[0] * kx, b[1]
            px, py = p[0] * kx, p[1]
            dx, dy = bx - ax, by - ay
            l2 = dx * dx + dy * dy
            t = 0.0 if l2 == 0 else max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / l2))
            qx, qy = ax + t * dx, ay + t * dy
            d2 = (px - qx) ** 2 + (py - qy) ** 2
            if best is None or d2 < best[0]:
                best = (d2, i, t)
        _, i, t = best
        a, b = segments[i]
        on = (a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t)
        return i, t, on, haversine(p, on)

    facilities = data["facilities"]
    points = data["points"]
    attached = [attach((f["lon"], f["lat"])) for f in facilities] + [attach(tuple(p)) for p in points]
    # Every attachment splits its segment: per segment, the fractions where something attaches.
    splits = {}
    for k, (i, t, on, _) in enumerate(attached):
        splits.setdefault(i, []).append((t, ("at", k), on))
    graph = nx.Graph()
    for i, (a, b) in enumerate(segments):
        stops = [(0.0, a, a)] + sorted((t, key, on) for t, key, on in splits.get(i, [])) + [(1.0, b, b)]
        for (_, n1, p1), (_, n2, p2) in zip(stops, stops[1:]):
            w = haversine(p1, p2)
            if graph.has_edge(n1, n2):
                w = min(w, graph[n1][n2]["weight"])
            graph.add_edge(n1, n2, weight=w)
    n_facilities = len(facilities)
    by_category = {}
    for k, f in enumerate(facilities):
        by_category.setdefault(f["category"], []).append(k)
    out = [dict() for _ in points]
    for category, members in by_category.items():
        # A facility's own off-street leg: a virtual source joined to its attachment point.
        source = ("source", category)
        for k in members:
            graph.add_edge(source, ("fac", k), weight=attached[k][3])
            graph.add_edge(("fac", k), ("at", k), weight=0.0)
        dist = nx.single_source_dijkstra_path_length(graph, source, weight="weight")
        graph.remove_node(source)
        for j in range(len(points)):
            k = n_facilities + j
            d = dist.get(("at", k))
            out[j][category] = None if d is None else d + attached[k][3]
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
