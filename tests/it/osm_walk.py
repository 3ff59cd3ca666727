"""Reference walking distances over an OpenStreetMap XML file, independent of lifecircle.

Reads the .osm file with the standard library, keeps the ways pedestrians may walk (the rules of
the README's "From an OpenStreetMap extract"), builds a networkx graph whose nodes are OSM node
ids and whose edges are consecutive way nodes weighted by haversine metres, and prints, as JSON,
the shortest walking distance for every pair of node ids given (null when unreachable), plus the
ids of the kept ways.

    python3 osm_walk.py FILE.osm FROM:TO [FROM:TO ...]
"""

import json
import math
import sys
import xml.etree.ElementTree as ET

import networkx as nx

EARTH_RADIUS_M = 6_371_008.8

WALKABLE = {
    "primary", "primary_link", "secondary", "secondary_link", "tertiary", "tertiary_link",
    "unclassified", "residential", "living_street", "service", "pedestrian", "footway", "steps",
    "path", "track", "cycleway", "bridleway", "corridor", "elevator", "road",
}
FAST = {"motorway", "motorway_link", "trunk", "trunk_link"}


def haversine(a, b):
    lon1, lat1, lon2, lat2 = map(math.radians, (a[0], a[1], b[0], b[1]))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def walkable(tags):
    highway = tags.get("highway")
    if highway is None:
        return False
    foot = tags.get("foot")
    if foot in ("no", "use_sidepath", "private"):
        return False
    foot_ok = foot in ("yes", "designated", "permissive")
    if tags.get("access") in ("private", "no") and not foot_ok:
        return False
    if tags.get("area") == "yes" and highway not in ("pedestrian", "footway"):
        return False
    if highway in FAST:
        sidewalk = tags.get("sidewalk") in ("both", "left", "right", "yes") or any(
            tags.get(k) == "yes" for k in ("sidewalk:both", "sidewalk:left", "sidewalk:right")
        )
        return sidewalk or foot_ok
    return highway in WALKABLE


def main():
    root = ET.parse(sys.argv[1]).getroot()
    coords = {
        int(n.get("id")): (float(n.get("lon")), float(n.get("lat"))) for n in root.iter("node")
    }
    graph = nx.Graph()
    kept = []
    for way in root.iter("way"):
        tags = {t.get("k"): t.get("v") for t in way.iter("tag")}
        if not walkable(tags):
            continue
        kept.append(int(way.get("id")))
        refs = [int(nd.get("ref")) for nd in way.iter("nd")]
        for a, b in zip(refs, refs[1:]):
            if a != b:
                graph.add_edge(a, b, weight=haversine(coords[a], coords[b]))
    distances = []
    for pair in sys.argv[2:]:
        a, b = (int(x) for x in pair.split(":"))
        try:
            distances.append(nx.shortest_path_length(graph, a, b, weight="weight"))
        except (nx.NetworkXNoPath, nx.NodeNotFound):
            distances.append(None)
    json.dump({"distances": distances, "kept_ways": sorted(kept)}, sys.stdout)


if __name__ == "__main__":
    main()
