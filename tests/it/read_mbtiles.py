"""Reads an MBTiles archive with nothing but Python's sqlite3 and gzip, an independent reader:
prints its metadata and every tile (XYZ address, rows flipped back from TMS) as JSON, with the
stored bytes and, for gzip-compressed tiles, the decompressed bytes, in hex.

Usage: python3 read_mbtiles.py ARCHIVE
"""

import gzip
import json
import sqlite3
import sys

archive = sys.argv[1]
db = sqlite3.connect(f"file:{archive}?mode=ro", uri=True)
metadata = dict(db.execute("SELECT name, value FROM metadata"))
tiles = {}
for z, x, row, data in db.execute(
    "SELECT zoom_level, tile_column, tile_row, tile_data FROM tiles"
):
    y = (1 << z) - 1 - row
    gzipped = data[:2] == b"\x1f\x8b"
    tiles[f"{z}/{x}/{y}"] = {
        "stored": data.hex(),
        "gzip": gzipped,
        "raw": (gzip.decompress(data) if gzipped else data).hex(),
    }
json.dump({"metadata": metadata, "tiles": tiles}, sys.stdout)
