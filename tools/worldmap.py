#!/usr/bin/env python3
"""Draws src/api/world.svg, the land behind the status console's map, once, by hand.

Source: Natural Earth's 1:110m admin-0 countries (public domain, naturalearthdata.com),
as shipped inside the geopandas 0.14.4 wheel on PyPI (geopandas/datasets/naturalearth_lowres;
geopandas 1.0 dropped it). The shapefile is read here with the standard library only, the
rings are simplified (Douglas-Peucker) and written as one SVG path in an equirectangular
projection, x = lon + 180, y = 90 - lat (a 360 x 180 box; Antarctica cut at -60).

    pip download --no-deps geopandas==0.14.4 -d /tmp/gp
    python3 tools/worldmap.py /tmp/gp/geopandas-0.14.4-py3-none-any.whl > src/api/world.svg
"""

import io
import struct
import sys
import zipfile

SHP = "geopandas/datasets/naturalearth_lowres/naturalearth_lowres.shp"
# Degrees: points closer than this to the simplified line are dropped.
TOLERANCE = 0.25
# Rings smaller than this (in square degrees) are left out (tiny islands).
MIN_AREA = 0.5
# South of this the map is cut (Antarctica would take a fifth of the height).
SOUTH = -60.0


def read_rings(shp):
    """Every ring of every polygon in a shapefile (types 5 and 15), as lists of (lon, lat)."""
    rings = []
    pos = 100  # the main file header
    while pos + 8 <= len(shp):
        _num, words = struct.unpack(">ii", shp[pos : pos + 8])
        rec = shp[pos + 8 : pos + 8 + 2 * words]
        pos += 8 + 2 * words
        (kind,) = struct.unpack("<i", rec[:4])
        if kind not in (5, 15):
            continue
        nparts, npoints = struct.unpack("<ii", rec[36:44])
        parts = list(struct.unpack(f"<{nparts}i", rec[44 : 44 + 4 * nparts]))
        base = 44 + 4 * nparts
        points = [
            struct.unpack("<dd", rec[base + 16 * i : base + 16 * i + 16])
            for i in range(npoints)
        ]
        for a, b in zip(parts, parts[1:] + [npoints]):
            rings.append(points[a:b])
    return rings


def area(ring):
    return abs(
        sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in zip(ring, ring[1:] + ring[:1]))
        / 2
    )


def simplify(points, tol):
    """Douglas-Peucker, iterative."""
    if len(points) < 3:
        return points
    keep = [False] * len(points)
    keep[0] = keep[-1] = True
    stack = [(0, len(points) - 1)]
    while stack:
        a, b = stack.pop()
        (ax, ay), (bx, by) = points[a], points[b]
        dx, dy = bx - ax, by - ay
        norm = (dx * dx + dy * dy) ** 0.5
        far, far_d = None, tol
        for i in range(a + 1, b):
            px, py = points[i]
            if norm == 0:
                d = ((px - ax) ** 2 + (py - ay) ** 2) ** 0.5
            else:
                d = abs(dy * px - dx * py + bx * ay - by * ax) / norm
            if d > far_d:
                far, far_d = i, d
        if far is not None:
            keep[far] = True
            stack += [(a, far), (far, b)]
    return [p for p, k in zip(points, keep) if k]


def path(rings):
    out = []
    for ring in rings:
        if area(ring) < MIN_AREA:
            continue
        ring = [(x, max(y, SOUTH)) for x, y in ring]
        ring = simplify(ring, TOLERANCE)
        if len(ring) < 4:
            continue
        pts = [(round(x + 180, 1), round(90 - y, 1)) for x, y in ring]
        # Relative moves after the first point: shorter.
        d = [f"M{pts[0][0]:g} {pts[0][1]:g}"]
        prev = pts[0]
        rel = []
        for p in pts[1:-1]:
            dx, dy = round(p[0] - prev[0], 1), round(p[1] - prev[1], 1)
            if dx == 0 and dy == 0:
                continue
            rel.append(f"{dx:g} {dy:g}".replace(" -", "-"))
            prev = p
        d.append("l" + " ".join(rel) + "z")
        out.append("".join(d))
    return "".join(out)


def main():
    src = sys.argv[1]
    if src.endswith(".whl"):
        shp = zipfile.ZipFile(src).read(SHP)
    else:
        shp = open(src, "rb").read()
    d = path(read_rings(shp))
    height = 90 - SOUTH
    sys.stdout.write(
        "<!-- Land: Natural Earth 1:110m countries, public domain (naturalearthdata.com); "
        "drawn by tools/worldmap.py. -->\n"
        f'<path class="land" d="{d}"/>\n'
    )
    sys.stderr.write(f"{len(d)} bytes of path; map box 360 x {height:g}\n")


if __name__ == "__main__":
    main()
