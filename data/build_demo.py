#!/usr/bin/env python
"""Build the SYNTHETIC demo district 示范区 (Hangzhou) as one GeoPackage.

合成数据（非真实），仅供演示与测试 / SYNTHETIC demo data, not real.

Run ``python data/build_demo.py [--out PATH]`` (default ``gridmap/datasets/demo.gpkg``,
the copy shipped in the package) or
import it and call :func:`build_demo`. The output is deterministic: a fixed
``numpy.random.default_rng(SEED)`` drives every choice, and the GeoPackage
timestamps are pinned, so two runs give the same content (in practice the same
bytes). The file is written to a temporary file in the target folder and moved
into place with ``os.replace``.

Layers (names and columns are a contract; see ``data/README.md``):

``街道网``  LineString  道路名称, 道路等级                      EPSG:4549
``小区``    Polygon     小区名称, 建成年代, 老旧小区              EPSG:4549
``楼栋``    Point       楼栋编码, 小区名称, 层数, 户数 (TEXT)     EPSG:4549
``社区``    Polygon     社区编码, 社区名称, 街道, 居民分散, 社区类型 (城市/农村),
                        专职工作人员, 常住人口, 注册志愿者          EPSG:4549
``网格``    (Multi)Polygon 网格编码, 网格名称, 所属社区, 协理员人数, TYPE   EPSG:4549
``设施``    Point       名称, 类型, 建筑面积, 地址   labelled EPSG:4326, coordinates are GCJ-02
``说明``    no geometry 键, 值 (what this file is, the planted traps)

How it is made: a jittered, warped lattice of streets plus two diagonals and a
curved riverside road is noded and polygonised into street blocks; blocks are
grouped into 30 contiguous communities around a jittered 6 x 5 lattice of seeds;
each community gets a household target (small / medium / large by design), its
residential blocks get 1-4 inset compounds and the compounds get buildings until
the target is met; communities are cut into grids by household-weighted
recursive bisection (cuts go through the widest gaps between buildings, i.e.
along streets and between compounds); facilities are placed last and their
coordinates are obfuscated to GCJ-02 the way web-map POIs are.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from pyproj import Transformer
from shapely.geometry import LineString, MultiPolygon, Point, Polygon, box

from gridmap.io.gpkg import write_gpkg

SEED = 20240611
CRS_METRIC = "EPSG:4549"  # CGCS2000 / 3-degree Gauss-Kruger CM 120E
CENTRE_LONLAT = (120.15, 30.28)
WIDTH, HEIGHT = 6000.0, 5000.0
DISTRICT_CODE = "330106"
DISTRICT_NAME = "示范区"
CITY = "浙江省杭州市"
GPKG_DATE = "2024-06-11T00:00:00Z"  # pinned gpkg_contents.last_change (reproducible bytes)
SYNTHETIC = "合成数据（非真实），仅供演示与测试 / SYNTHETIC demo data, not real"
# shipped inside the package (package data), so an installed wheel has it without this script
DEFAULT_OUT = Path(__file__).resolve().parents[1] / "gridmap" / "datasets" / "demo.gpkg"


# ---------------------------------------------------------------------------
# GCJ-02: use gridmap.crs (the tested implementation). The local copy below is
# the same published formula and is only used when the package cannot be
# imported (e.g. a half-installed checkout); coordinates are rounded to 1e-6
# degree, so both give the same file.
# ---------------------------------------------------------------------------
def _import_gcj():
    try:
        from gridmap.crs import wgs84_to_gcj02 as fn

        return fn
    except ImportError:
        pass
    repo = str(Path(__file__).resolve().parents[1])  # run as a script from a checkout
    if repo not in sys.path:
        sys.path.insert(0, repo)
    try:
        from gridmap.crs import wgs84_to_gcj02 as fn

        return fn
    except Exception:  # noqa: BLE001 - any problem importing the package -> local formula
        return None


_wgs84_to_gcj02 = _import_gcj()


def _local_wgs84_to_gcj02(lon, lat):
    """Standard WGS84 -> GCJ-02 formula (Krasovsky constants); fallback only."""
    a, ee = 6378245.0, 0.00669342162296594323
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    x, y = lon - 105.0, lat - 35.0
    pi = np.pi
    dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x))
    dlat += (20.0 * np.sin(6.0 * x * pi) + 20.0 * np.sin(2.0 * x * pi)) * 2.0 / 3.0
    dlat += (20.0 * np.sin(y * pi) + 40.0 * np.sin(y / 3.0 * pi)) * 2.0 / 3.0
    dlat += (160.0 * np.sin(y / 12.0 * pi) + 320.0 * np.sin(y * pi / 30.0)) * 2.0 / 3.0
    dlon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x))
    dlon += (20.0 * np.sin(6.0 * x * pi) + 20.0 * np.sin(2.0 * x * pi)) * 2.0 / 3.0
    dlon += (20.0 * np.sin(x * pi) + 40.0 * np.sin(x / 3.0 * pi)) * 2.0 / 3.0
    dlon += (150.0 * np.sin(x / 12.0 * pi) + 300.0 * np.sin(x / 30.0 * pi)) * 2.0 / 3.0
    radlat = lat / 180.0 * pi
    magic = 1.0 - ee * np.sin(radlat) ** 2
    sqrtmagic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((a * (1.0 - ee)) / (magic * sqrtmagic) * pi)
    dlon = (dlon * 180.0) / (a / sqrtmagic * np.cos(radlat) * pi)
    return lon + dlon, lat + dlat


def wgs84_to_gcj02(lon, lat):
    if _wgs84_to_gcj02 is not None:
        return _wgs84_to_gcj02(lon, lat)
    return _local_wgs84_to_gcj02(lon, lat)


# ---------------------------------------------------------------------------
# Name pools (illustrative Hangzhou-style names; the district is fictional)
# ---------------------------------------------------------------------------
NS_ROADS = [  # north-south streets, west to east
    "古墩路",
    "丰潭路",
    "竞舟路",
    "古翠路",
    "学院路",
    "教工路",
    "嘉绿路",
    "文教路",
    "马塍路",
    "保俶路",
    "益乐路",
    "求是路",
    "杭大路",
    "黄姑山路",
    "花园路",
    "翠柏路",
    "紫荆花路",
    "莫干山路",
]
EW_ROADS = [  # east-west streets, south to north
    "天目山路",
    "西溪路",
    "曙光路",
    "文一路",
    "文二路",
    "文三路",
    "余杭塘路",
    "文一西路",
    "登云路",
    "和睦路",
    "申花路",
    "三墩路",
    "花园岗路",
    "萍水街",
    "紫荆街",
]
DIAGONAL_ROADS = ["古荡斜街", "沿山路"]
CURVE_ROAD = "沿河路"

COMMUNITY_ROOTS = [
    "翠苑一区",
    "翠苑二区",
    "翠苑三区",
    "翠苑四区",
    "文新",
    "古荡湾",
    "学院路",
    "文鼎苑",
    "竞舟",
    "嘉绿",
    "益乐",
    "德加",
    "骆家庄",
    "桂花城",
    "府苑",
    "金都",
    "西城",
    "莲花街",
    "兰家湾",
    "丰潭",
    "新金都",
    "华星",
    "紫荆",
    "耀江",
    "马塍路",
    "保俶",
    "蒋村",
    "五联",
    "双龙",
    "古新",
    "文华",
    "嘉苑",
]
STREETS = [("001", "翠苑街道"), ("002", "文新街道"), ("003", "古荡街道")]

COMPOUND_ROOTS = [
    "嘉绿",
    "文鼎",
    "金都",
    "华星",
    "桂花",
    "紫荆",
    "丰潭",
    "益乐",
    "竞舟",
    "公元",
    "绿洲",
    "金色",
    "西溪",
    "求是",
    "玉泉",
    "星洲",
    "和家",
    "春江",
    "碧水",
    "枫林",
    "东方",
    "世纪",
    "阳光",
    "锦绣",
    "和睦",
    "新湖",
    "耀江",
    "北景",
    "南都",
    "德加",
    "天目",
    "古荡",
    "文新",
    "学院",
    "翠柏",
    "香樟",
    "银杏",
    "梧桐",
    "荷花",
    "莲花",
    "兰苑",
    "梅苑",
    "竹苑",
    "松木",
    "文华",
    "文锦",
    "翠园",
    "嘉华",
    "瑞丰",
    "恒丰",
    "庆丰",
    "高教",
    "教工",
    "政苑",
    "府苑",
    "金城",
    "云峰",
    "绿园",
    "青枫",
    "朝晖",
    "明珠",
    "清水",
    "白荡",
    "华苑",
    "颐景",
    "美景",
    "蓝天",
    "红枫",
    "望月",
    "听涛",
    "湖畔",
    "溪语",
    "星河",
    "翠苑",
    "骆家",
    "蒋村",
    "花园",
    "左岸",
    "嘉禾",
    "新城",
    "益民",
    "兴业",
]
SUFFIX_OLD = ["新村", "小区", "一区", "二区", "三区", "东区", "西区", "北区", "南区"]
SUFFIX_NEW = ["花园", "家园", "苑", "雅苑", "名苑", "公寓", "府", "嘉园", "新苑", "小区"]
SUFFIX_TOWER = ["国际公寓", "大厦", "中心公寓", "国际"]
SUFFIX_VILLAGE = ["农居点", "村", "农居新村"]

PRESENCE = [  # 五室四站一校一场所一中心 (canonical type, variants used in the data)
    ("社区办公室", ["居委会办公室"]),
    ("社区警务室", ["警务室"]),
    ("计生办公室", []),
    ("文体活动室", []),
    ("图书阅览室", []),
    ("社区服务站", ["社区综合服务站"]),
    ("文化活动站", []),
    ("卫生服务站", ["社区卫生服务站", "卫生站"]),
    ("社会保障服务站", ["劳动保障服务站"]),
    ("居民学校", ["社区居民学校"]),
    ("群众文体活动场所", ["室外综合健身场地"]),
    ("社区青少年中心", []),
]
INDOOR_AREA = {  # m2 ranges of the presence types (outdoor venue: NULL)
    "社区办公室": (40, 120),
    "社区警务室": (20, 60),
    "计生办公室": (15, 40),
    "文体活动室": (60, 200),
    "图书阅览室": (30, 120),
    "文化活动站": (80, 300),
    "卫生服务站": (60, 200),
    "社会保障服务站": (20, 60),
    "居民学校": (50, 150),
    "社区青少年中心": (60, 200),
}
FULLWIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
CN_NUM = "一二三四五六七八九十"


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------
def _largest(geom):
    """The largest polygon of a (Multi)Polygon/collection, or None when empty."""
    if geom is None or geom.is_empty:
        return None
    if geom.geom_type == "Polygon":
        return geom
    polys = [g for g in getattr(geom, "geoms", []) if g.geom_type == "Polygon" and not g.is_empty]
    if not polys:
        return None
    return max(polys, key=lambda g: g.area)


def _parts(geom):
    if geom.is_empty:
        return []
    if geom.geom_type == "Polygon":
        return [geom]
    return [g for g in geom.geoms if g.geom_type == "Polygon" and g.area > 0]


def _shared_length(a, b) -> float:
    return shapely.length(shapely.intersection(a.boundary, b.boundary))


def _adjacency(geoms, min_shared: float = 1.0) -> dict[int, set[int]]:
    """Polygons sharing at least ``min_shared`` metres of boundary."""
    arr = np.asarray(geoms, dtype=object)
    tree = shapely.STRtree(arr)
    i, j = tree.query(arr, predicate="intersects")
    keep = i < j
    i, j = i[keep], j[keep]
    lengths = shapely.length(
        shapely.intersection(shapely.boundary(arr[i]), shapely.boundary(arr[j]))
    )
    adj: dict[int, set[int]] = {k: set() for k in range(len(arr))}
    for a, b, length in zip(i, j, lengths, strict=True):
        if length >= min_shared:
            adj[int(a)].add(int(b))
            adj[int(b)].add(int(a))
    return adj


def _components(members: list[int], adj: dict[int, set[int]]) -> list[list[int]]:
    left = set(members)
    comps = []
    for start in members:
        if start not in left:
            continue
        stack, comp = [start], []
        left.discard(start)
        while stack:
            v = stack.pop()
            comp.append(v)
            for w in sorted(adj[v]):
                if w in left:
                    left.discard(w)
                    stack.append(w)
        comps.append(sorted(comp))
    return comps


class _Namer:
    """Unique compound names."""

    def __init__(self, rng):
        self.rng = rng
        self.used: set[str] = set()

    def take(self, suffixes, preferred_root=None) -> str:
        if preferred_root and preferred_root not in self.used:
            self.used.add(preferred_root)
            return preferred_root
        for _ in range(500):
            root = COMPOUND_ROOTS[self.rng.integers(len(COMPOUND_ROOTS))]
            name = root + suffixes[self.rng.integers(len(suffixes))]
            if name not in self.used:
                self.used.add(name)
                return name
        raise RuntimeError("compound name pool exhausted")


# ---------------------------------------------------------------------------
# 1. streets and blocks
# ---------------------------------------------------------------------------
def _positions(rng, length, lo, hi):
    n = int(round(length / ((lo + hi) / 2.0)))
    s = rng.uniform(lo, hi, n)
    pos = np.concatenate([[0.0], np.cumsum(s)])
    return pos / pos[-1] * length


def _grade(idx: int, n: int) -> str:
    if idx in (0, n - 1) or idx % 4 == 0:
        return "主干路"
    if idx % 2 == 0:
        return "次干路"
    return "支路"


def _streets(rng, x0, y0):
    xs = _positions(rng, WIDTH, 330.0, 520.0)
    ys = _positions(rng, HEIGHT, 330.0, 520.0)
    nx, ny = len(xs), len(ys)
    gx, gy = np.meshgrid(xs, ys, indexing="ij")
    jit = rng.uniform(-35.0, 35.0, (2, nx, ny))
    ph = rng.uniform(0, 2 * np.pi, 2)
    wx = 70.0 * np.sin(2 * np.pi * gy / 4200.0 + ph[0])
    wy = 55.0 * np.sin(2 * np.pi * gx / 5200.0 + ph[1])
    NX = x0 + gx + jit[0] + wx
    NY = y0 + gy + jit[1] + wy
    node = lambda i, j: (float(NX[i, j]), float(NY[i, j]))  # noqa: E731

    # lattice edges: ("v", i, j) joins (i, j)-(i, j+1); ("h", i, j) joins (i, j)-(i+1, j)
    edges = {}
    for i in range(nx):
        for j in range(ny - 1):
            edges[("v", i, j)] = True
    for j in range(ny):
        for i in range(nx - 1):
            edges[("h", i, j)] = True
    deg = np.zeros((nx, ny), dtype=int)
    for kind, i, j in edges:
        a, b = ((i, j), (i, j + 1)) if kind == "v" else ((i, j), (i + 1, j))
        deg[a] += 1
        deg[b] += 1
    # drop some local-street (支路) edges -> larger, irregular blocks and T-junctions
    for key in sorted(edges):
        kind, i, j = key
        line_idx, n_lines = (i, nx) if kind == "v" else (j, ny)
        if _grade(line_idx, n_lines) != "支路":
            continue
        if rng.random() >= 0.2:
            continue
        a, b = ((i, j), (i, j + 1)) if kind == "v" else ((i, j), (i + 1, j))
        if deg[a] <= 3 or deg[b] <= 3:
            continue  # never leave a dangling end here
        edges[key] = False
        deg[a] -= 1
        deg[b] -= 1

    def edge_coords(kind, i, j):
        a, b = ((i, j), (i, j + 1)) if kind == "v" else ((i, j), (i + 1, j))
        (ax, ay), (bx, by) = node(*a), node(*b)
        # one intermediate vertex, slightly off the chord: streets are not ruler-straight
        dx, dy = bx - ax, by - ay
        length = math.hypot(dx, dy)
        off = rng.uniform(-7.0, 7.0)
        t = rng.uniform(0.35, 0.65)
        mx = ax + t * dx - dy / length * off
        my = ay + t * dy + dx / length * off
        return [(ax, ay), (mx, my), (bx, by)]

    pieces = []  # (name, grade, coords)

    def chain(name, grade, keys):
        """Join consecutive existing edges of one street into lines; a removed edge breaks it."""
        cur: list = []
        for key in keys:
            if edges[key]:
                c = edge_coords(*key)
                cur = cur + c[1:] if cur else c
            elif cur:
                pieces.append((name, grade, cur))
                cur = []
        if cur:
            pieces.append((name, grade, cur))

    for i in range(nx):
        chain(NS_ROADS[i], _grade(i, nx), [("v", i, j) for j in range(ny - 1)])
    for j in range(ny):
        chain(EW_ROADS[j], _grade(j, ny), [("h", i, j) for i in range(nx - 1)])

    # two diagonals and a curved riverside road: stored later as ONE long line each,
    # crossing other streets without a shared vertex (as real centreline data does)
    d1 = LineString([node(2, ny - 4), node(6, ny - 8)])
    d2 = LineString([node(nx - 6, 1), node(nx - 2, 5)])
    (cx0, cy0), (cx1, cy1) = node(0, 2), node(nx - 5, ny - 1)
    t = np.linspace(0.0, 1.0, 160)
    bend = 420.0 * np.sin(np.pi * t) * np.sin(2.4 * np.pi * t + 0.5)
    dxc, dyc = cx1 - cx0, cy1 - cy0
    lc = math.hypot(dxc, dyc)
    curve = LineString(
        np.column_stack([cx0 + t * dxc - dyc / lc * bend, cy0 + t * dyc + dxc / lc * bend])
    )
    long_lines = [
        (DIAGONAL_ROADS[0], "次干路", d1),
        (DIAGONAL_ROADS[1], "次干路", d2),
        (CURVE_ROAD, "次干路", curve),
    ]
    lattice = [(n, g, LineString(c)) for n, g, c in pieces]
    outline = Polygon(
        [node(i, 0) for i in range(nx)]
        + [node(nx - 1, j) for j in range(1, ny)]
        + [node(i, ny - 1) for i in range(nx - 2, -1, -1)]
        + [node(0, j) for j in range(ny - 2, 0, -1)]
    )
    return {
        "lattice": lattice,
        "long": long_lines,
        "outline": outline,
        "node": node,
        "nx": nx,
        "ny": ny,
        "edges": edges,
    }


def _blocks(net) -> list:
    roads = [g for _, _, g in net["lattice"]] + [g for _, _, g in net["long"]]
    noded = shapely.node(shapely.MultiLineString([list(g.coords) for g in roads]))
    faces = [f for f in shapely.get_parts(shapely.polygonize(shapely.get_parts(noded)).geoms)]
    faces = [shapely.normalize(f) for f in faces if f.area > 1.0]
    # merge tiny faces (traffic islands) into the neighbour with the longest shared edge
    changed = True
    while changed:
        changed = False
        order = sorted(range(len(faces)), key=lambda k: faces[k].area)
        for k in order:
            f = faces[k]
            thin = 4 * math.pi * f.area / f.length**2 < 0.3
            if f.area >= 20000.0 or (f.area >= 3000.0 and not thin):
                continue
            best, best_len = None, 0.0
            for m in range(len(faces)):
                if m != k and faces[m].intersects(faces[k]):
                    sl = _shared_length(faces[m], faces[k])
                    if sl > best_len:
                        best, best_len = m, sl
            if best is None:
                continue
            faces[best] = shapely.normalize(shapely.union(faces[best], faces[k]))
            faces.pop(k)
            changed = True
            break
    # deterministic order: north to south, west to east
    cent = shapely.centroid(np.asarray(faces, dtype=object))
    order = np.lexsort((shapely.get_x(cent), -np.round(shapely.get_y(cent), -1)))
    return [faces[k] for k in order]


# ---------------------------------------------------------------------------
# 2. communities
# ---------------------------------------------------------------------------
def _communities(rng, blocks, x0, y0):
    ncol, nrow = 6, 5
    seeds = []
    for r in range(nrow):  # north to south
        for c in range(ncol):  # west to east
            sx = x0 + (c + 0.5) * WIDTH / ncol + rng.uniform(-220, 220)
            sy = y0 + HEIGHT - (r + 0.5) * HEIGHT / nrow + rng.uniform(-200, 200)
            seeds.append((sx, sy, r, c))
    sxy = np.array([(s[0], s[1]) for s in seeds])
    rep = shapely.point_on_surface(np.asarray(blocks, dtype=object))
    bx, by = shapely.get_x(rep), shapely.get_y(rep)
    d2 = (bx[:, None] - sxy[None, :, 0]) ** 2 + (by[:, None] - sxy[None, :, 1]) ** 2
    assign = np.argmin(d2, axis=1)
    adj = _adjacency(blocks)
    # contiguity: move stray blocks to the neighbour sharing the longest edge
    for _ in range(50):
        moved = False
        for cid in range(len(seeds)):
            members = [int(b) for b in np.flatnonzero(assign == cid)]
            comps = _components(members, adj)
            if len(comps) <= 1:
                continue
            comps.sort(key=lambda comp: (-sum(blocks[b].area for b in comp), comp[0]))
            for comp in comps[1:]:
                for b in comp:
                    cands = {}
                    for nb in adj[b]:
                        if assign[nb] != cid:
                            cands[int(assign[nb])] = cands.get(
                                int(assign[nb]), 0.0
                            ) + _shared_length(blocks[b], blocks[nb])
                    if cands:
                        assign[b] = max(sorted(cands), key=lambda k: cands[k])
                        moved = True
        if not moved:
            break
    for cid in range(len(seeds)):
        members = [int(b) for b in np.flatnonzero(assign == cid)]
        if not members or len(_components(members, adj)) != 1:
            raise RuntimeError(f"community {cid} is empty or not contiguous")
    return seeds, assign, adj


# ---------------------------------------------------------------------------
# 3. compounds and buildings
# ---------------------------------------------------------------------------
def _kind(year: int) -> str:
    if year < 1990:
        return "old"
    if year < 2000:
        return "90s"
    if year < 2010:
        return "mid"
    return "high"


MEAN_HH = {"old": 27.0, "90s": 35.0, "mid": 67.0, "high": 140.0, "village": 7.0, "tower": 1080.0}
SPACING = {
    "old": (55.0, 30.0),
    "90s": (55.0, 32.0),
    "mid": (50.0, 45.0),
    "high": (60.0, 58.0),
    "village": (32.0, 30.0),
    "tower": (45.0, 45.0),
}


def _specs(rng, kind: str, n: int):
    if kind == "old":
        floors = rng.choice([4, 5, 5, 6, 6, 6], n)
        units = rng.choice([1, 2, 2, 3, 3], n)
        hpf = rng.choice([2, 2, 3], n)
    elif kind == "90s":
        floors = rng.choice([6, 6, 7, 7], n)
        units = rng.choice([2, 2, 3], n)
        hpf = rng.choice([2, 2, 3], n)
    elif kind == "mid":
        floors = rng.integers(9, 19, n)
        units = rng.choice([1, 2, 2], n)
        hpf = rng.choice([2, 3, 4], n)
    elif kind == "high":
        floors = rng.integers(18, 34, n)
        units = rng.choice([1, 2, 2, 3], n)
        hpf = rng.choice([2, 2, 3, 4], n)
    elif kind == "village":
        floors = rng.choice([2, 3, 3, 4], n)
        units = np.ones(n, dtype=int)
        hpf = rng.choice([2, 2, 3], n)
    else:  # tower: 36 households a floor
        floors = rng.integers(28, 34, n)
        units = np.full(n, 9)
        hpf = np.full(n, 4)
    return floors.astype(int), units.astype(int), hpf.astype(int)


def _grid_points(rng, poly, dx, dy, jitter):
    inner = poly.buffer(-6.0)
    if inner.is_empty:
        inner = poly
    minx, miny, maxx, maxy = poly.bounds
    ox, oy = rng.uniform(0, dx), rng.uniform(0, dy)
    gx = np.arange(minx + ox, maxx, dx)
    gy = np.arange(miny + oy, maxy, dy)
    if len(gx) == 0 or len(gy) == 0:
        gx, gy = np.array([(minx + maxx) / 2]), np.array([(miny + maxy) / 2])
    X, Y = np.meshgrid(gx, gy)
    X = X.ravel() + rng.uniform(-jitter, jitter, X.size)
    Y = Y.ravel() + rng.uniform(-jitter, jitter, Y.size)
    ok = shapely.contains_xy(inner, X, Y)
    if not ok.any():
        p = inner.representative_point()
        return np.array([p.x]), np.array([p.y])
    return X[ok], Y[ok]


def _split_strips(rng, poly, n, gap=4.0):
    minx, miny, maxx, maxy = poly.bounds
    w = rng.dirichlet(np.full(n, 4.0))
    cuts = np.concatenate([[0.0], np.cumsum(w)])
    out = []
    for a, b in zip(cuts[:-1], cuts[1:], strict=True):
        if maxx - minx >= maxy - miny:
            strip = box(
                minx + a * (maxx - minx) - 1, miny - 1, minx + b * (maxx - minx) + 1, maxy + 1
            )
        else:
            strip = box(
                minx - 1, miny + a * (maxy - miny) - 1, maxx + 1, miny + b * (maxy - miny) + 1
            )
        part = _largest(shapely.intersection(poly, strip).buffer(-gap, join_style="mitre"))
        if part is not None and part.area >= 3500.0:
            out.append(shapely.normalize(part))
    return out


# ---------------------------------------------------------------------------
# 4. grids
# ---------------------------------------------------------------------------
def _cut(poly, pts, w, frac, ang):
    """One straight cut across ``poly`` perpendicular to direction ``ang``.

    The cut goes between two buildings, near the household share ``frac``,
    preferring the widest gap (a street or the space between compounds).
    Returns (left, right, s, s_cut) or None when the points cannot be separated.
    """
    u = np.array([math.cos(ang), math.sin(ang)])
    s = pts @ u
    order = np.argsort(s, kind="stable")
    ss = s[order]
    cw = np.cumsum(w[order] + 3.0)
    fr = cw / cw[-1]
    gaps = ss[1:] - ss[:-1]
    lo, hi = frac - 0.12, frac + 0.12
    cand = np.flatnonzero((fr[:-1] >= lo) & (fr[:-1] <= hi) & (gaps > 4.0))
    if len(cand) == 0:
        cand = np.flatnonzero(gaps > 4.0)
        if len(cand) == 0:
            cand = np.flatnonzero(gaps > 0.5)
        if len(cand) == 0:
            return None
        cand = cand[np.argsort(np.abs(fr[cand] - frac), kind="stable")[:1]]
    score = gaps[cand] - 400.0 * np.abs(fr[cand] - frac)
    c = int(cand[np.argmax(score)])
    s_cut = (ss[c] + ss[c + 1]) / 2.0
    big = 1e5
    minx, miny, maxx, maxy = poly.bounds
    ctr = np.array([(minx + maxx) / 2.0, (miny + maxy) / 2.0])
    cx, cy = ctr + u * (s_cut - ctr @ u)  # a point on the cut line near the polygon
    v = np.array([-u[1], u[0]])
    half = Polygon(
        [
            (cx + v[0] * big, cy + v[1] * big),
            (cx - v[0] * big, cy - v[1] * big),
            (cx - v[0] * big - u[0] * big, cy - v[1] * big - u[1] * big),
            (cx + v[0] * big - u[0] * big, cy + v[1] * big - u[1] * big),
        ]
    )
    left = shapely.intersection(poly, half)
    right = shapely.difference(poly, half)
    # the cut as a line across poly, overshooting a little so that noding meets the edges
    diag = math.hypot(maxx - minx, maxy - miny) + 10.0
    line = LineString([(cx + v[0] * diag, cy + v[1] * diag), (cx - v[0] * diag, cy - v[1] * diag)])
    seg = shapely.intersection(poly.buffer(0.05, join_style="mitre"), line)
    return left, right, s, s_cut, seg


def _bisect(rng, poly, pts, w, k, cuts):
    """Split ``poly`` into ``k`` grids with household-weighted straight cuts.

    Returns the (approximate) leaf polygons; the cut lines are appended to ``cuts``
    so that the caller can build an exact, noded partition from them.
    """
    if len(pts) < 2:
        return [poly]
    if k <= 1:
        # a grid never holds two big towers: split once more if it would
        if (w >= 1000).sum() < 2:
            return [poly]
        k = 2
    k1 = k // 2 if rng.random() < 0.5 else k - k // 2
    frac = float(np.clip(k1 / k * rng.uniform(0.8, 1.2), 0.12, 0.88))
    minx, miny, maxx, maxy = poly.bounds
    jitter = math.radians(rng.uniform(-8, 8))
    primary = 0.0 if maxx - minx >= maxy - miny else math.pi / 2
    first = None
    for ang in (primary + jitter, primary + math.pi / 2 + jitter):
        got = _cut(poly, pts, w, frac, ang)
        if got is None:
            continue
        if first is None:
            first = got
        left, right, s, s_cut, seg = got
        if len(_parts(left)) <= 1 and len(_parts(right)) <= 1:
            break  # both halves in one piece
    else:
        if first is None:
            return [poly]
        left, right, s, s_cut, seg = first
    cuts.append(seg)
    sel = s <= s_cut
    # grids for each side in proportion to the households that ended up there
    share = float((w[sel].sum() + 3.0 * sel.sum()) / (w.sum() + 3.0 * len(w)))
    k1 = int(np.clip(round(k * share), 1, k - 1)) if k >= 2 else 1
    k1 = int(np.clip(k1, max(1, k - int((~sel).sum())), max(1, int(sel.sum()))))
    out = []
    for part, mask, kk in ((left, sel, k1), (right, ~sel, k - k1)):
        if part.is_empty:
            continue
        out += _bisect(rng, part, pts[mask], w[mask], kk, cuts)
    return out


def _partition(poly, leaves, cuts, pts, w) -> list:
    """Exact grid polygons of ``poly`` from the bisection leaves and cut lines.

    The community outline and the cuts are noded and polygonised, so that
    neighbouring grids share identical edges. Each face goes to the leaf that
    contains it; a leaf that came out in several pieces keeps the piece with
    the most households and gives the others to the neighbour sharing the
    longest edge.
    """
    lines = [poly.exterior] + [
        g for c in cuts for g in shapely.get_parts(c) if g.geom_type == "LineString"
    ]
    noded = shapely.node(shapely.MultiLineString([list(g.coords) for g in lines]))
    faces = [
        f
        for f in shapely.get_parts(shapely.polygonize(shapely.get_parts(noded)).geoms)
        if f.area > 0.01 and poly.contains(f.representative_point())
    ]
    reps = shapely.point_on_surface(np.asarray(faces, dtype=object))
    leaf_tree = shapely.STRtree(np.asarray(leaves, dtype=object))
    owner = leaf_tree.nearest(reps)
    adj = _adjacency(faces, 0.01)
    fhh = np.array(
        [
            w[shapely.contains_xy(f, pts[:, 0], pts[:, 1])].sum() + f.area * 1e-6
            if len(pts)
            else f.area * 1e-6
            for f in faces
        ]
    )
    grid_of = np.full(len(faces), -1)
    for leaf in range(len(leaves)):
        members = [int(i) for i in np.flatnonzero(owner == leaf)]
        if not members:
            continue
        comps = _components(members, adj)
        best = max(comps, key=lambda comp: (fhh[comp].sum(), comp[0]))
        grid_of[best] = leaf
    for _ in range(len(faces)):
        orphans = [int(i) for i in np.flatnonzero(grid_of < 0)]
        if not orphans:
            break
        for f in orphans:
            cands = {}
            for nb in adj[f]:
                if grid_of[nb] >= 0:
                    cands[int(grid_of[nb])] = cands.get(int(grid_of[nb]), 0.0) + _shared_length(
                        faces[f], faces[nb]
                    )
            if cands:
                grid_of[f] = max(sorted(cands), key=lambda k: cands[k])
    out = []
    for leaf in sorted(set(grid_of.tolist())):
        geom = shapely.union_all([faces[i] for i in np.flatnonzero(grid_of == leaf)])
        out.append(shapely.normalize(geom))
    return out


# ---------------------------------------------------------------------------
# the builder
# ---------------------------------------------------------------------------
def _inner_paths(streets, B, F, *, max_link=90.0, max_access=400.0):
    """小区内部道路: footpaths between neighbouring buildings/facilities and from them to the street.

    Real walking networks (OSM footways, 小区 internal roads) let residents cut through
    compounds; a street-centreline-only network makes walking coverage look far worse than
    it is. Paths: the Delaunay edges between building and facility positions no longer than
    ``max_link`` m, plus a perpendicular access path from each to the nearest street when
    within ``max_access`` m. Deterministic (no random numbers).
    """
    xy = np.vstack([B[["x", "y"]].to_numpy(), F[["x", "y"]].to_numpy()])
    pts = shapely.points(xy)
    edges = shapely.get_parts(shapely.delaunay_triangles(shapely.multipoints(pts), only_edges=True))
    edges = edges[shapely.length(edges) <= max_link]
    street_geoms = np.asarray(streets.geometry.values)
    tree = shapely.STRtree(street_geoms)
    near = tree.query_nearest(
        pts, max_distance=max_access, all_matches=False, return_distance=False
    )
    access = shapely.shortest_line(pts[near[0]], street_geoms[near[1]])
    access = access[shapely.length(access) > 0.5]
    # end 0.5 m beyond the street so the path crosses it (a path ending exactly "on" a line
    # is only on it up to rounding; real data noded by gridmap needs a true crossing)
    a, b = shapely.get_point(access, 0), shapely.get_point(access, 1)
    ax, ay, bx, by = shapely.get_x(a), shapely.get_y(a), shapely.get_x(b), shapely.get_y(b)
    d = np.hypot(bx - ax, by - ay)
    access = shapely.linestrings(
        np.stack(
            [
                np.stack([ax, ay], 1),
                np.stack([bx + (bx - ax) / d * 0.5, by + (by - ay) / d * 0.5], 1),
            ],
            1,
        )
    )
    lines = np.concatenate([edges, access])
    lines = lines[
        np.lexsort(np.asarray(shapely.bounds(lines)).T[::-1])
    ]  # stable order, independent of GEOS internals
    return gpd.GeoDataFrame(
        {"道路名称": [None] * len(lines), "道路等级": "小区内部道路"},
        geometry=list(lines),
        crs=streets.crs,
    )


def _rural(households, geoms, on_edge, sparse: int, n: int = 3) -> set[int]:
    """The 农村 (涉农) communities of the district: ``n`` on its edge, the sparse one first.

    The others are the edge communities with the fewest households per km², as village
    communities at the edge of a city district are. Chosen from the geometry alone (no draw
    from the random generator), so every other value of the demo stays as it was.
    """
    density = {c: households[c] / geoms[c].area for c in range(len(geoms))}
    edge = sorted((c for c in range(len(geoms)) if on_edge[c] and c != sparse), key=density.get)
    return {sparse, *edge[: n - 1]}


def _make(seed: int = SEED) -> dict:
    rng = np.random.default_rng(seed)
    to_metric = Transformer.from_crs("EPSG:4326", CRS_METRIC, always_xy=True)
    to_lonlat = Transformer.from_crs(CRS_METRIC, "EPSG:4326", always_xy=True)
    cx, cy = to_metric.transform(*CENTRE_LONLAT)
    x0, y0 = round(cx - WIDTH / 2, -1), round(cy - HEIGHT / 2, -1)

    # ---- streets and blocks
    net = _streets(rng, x0, y0)
    blocks = _blocks(net)
    district = shapely.normalize(shapely.union_all(blocks))
    if district.geom_type != "Polygon":
        raise RuntimeError("district outline is not one polygon")

    # ---- communities (block groups) and their household targets
    seeds, assign, block_adj = _communities(rng, blocks, x0, y0)
    ncom = len(seeds)
    com_geom = [
        shapely.normalize(shapely.union_all([blocks[b] for b in np.flatnonzero(assign == c)]))
        for c in range(ncom)
    ]
    for g in com_geom:
        if g.geom_type != "Polygon":
            raise RuntimeError("community is not one polygon")
    com_area = np.array([g.area for g in com_geom])
    on_edge = np.array([g.boundary.intersection(district.boundary).length > 50 for g in com_geom])

    order_area = [int(c) for c in np.argsort(com_area, kind="stable")]
    small = order_area[:4]
    sparse = next(
        int(c) for c in np.argsort(-com_area, kind="stable") if on_edge[c] and c not in small
    )
    rest = [c for c in range(ncom) if c not in small and c != sparse]
    large = sorted(int(c) for c in rng.choice(rest, 6, replace=False))
    medium = [c for c in rest if c not in large]
    target = np.zeros(ncom)
    towers = np.zeros(ncom, dtype=int)
    for c, t in zip(small, rng.permutation([560, 690, 800, 890]), strict=True):
        target[c] = t
    target[sparse] = 430
    for c, t, nt in zip(
        large, [3400, 3700, 4300, 4600, 5300, 5600], [2, 2, 3, 3, 4, 4], strict=True
    ):
        target[c], towers[c] = t, nt
    med_t = rng.permutation(np.linspace(1200, 2800, len(medium))) + rng.uniform(
        -40, 40, len(medium)
    )
    for c, t in zip(medium, med_t, strict=True):
        target[c] = round(t)

    # ---- land use, compounds, buildings
    namer = _Namer(rng)
    block_use = ["其他"] * len(blocks)
    compounds = []  # dicts: geom, name, year, community, block, kind
    bld = []  # dicts: x, y, floors, units, hpf, compound
    ux = (district.bounds[0], district.bounds[2])
    for c in range(ncom):
        root = COMMUNITY_ROOTS[c]  # reassigned to names later; only used for flavour here
        members = [int(b) for b in np.flatnonzero(assign == c)]
        insets = {}
        for b in members:
            ins = _largest(blocks[b].buffer(-rng.uniform(14.0, 22.0), join_style="mitre"))
            if ins is not None and ins.area >= 15000.0:
                insets[b] = ins
        eligible = [b for b in members if b in insets]
        eligible = [eligible[k] for k in rng.permutation(len(eligible))]
        tower_hh_est = towers[c] * 1080
        normal_t = target[c] - tower_hh_est
        if c == sparse:
            n_res = 2
        else:
            n_res = int(np.clip(round(normal_t / rng.uniform(520.0, 800.0)), 1, len(eligible)))
        com_cmp = []
        res_blocks = []
        for bi, b in enumerate(eligible):
            if bi >= n_res:
                # add blocks while the expected capacity is short of the target
                normal = sorted(com_cmp, key=lambda k: -k["geom"].area)[1 if towers[c] else 0 :]
                cap_est = sum(
                    k["geom"].area
                    / (SPACING[k["kind"]][0] * SPACING[k["kind"]][1])
                    * MEAN_HH[k["kind"]]
                    for k in normal
                )
                if c == sparse or (cap_est >= 1.4 * normal_t and len(normal) >= 1):
                    break
            res_blocks.append(b)
            if c == sparse:
                n_c = 2
            else:
                n_c = int(rng.choice([1, 2, 3, 4], p=[0.25, 0.35, 0.25, 0.15]))
            extra = 1 if rng.random() < 0.3 else 0
            strips = _split_strips(rng, insets[b], n_c + extra)
            if extra and len(strips) > 1:
                strips.pop(int(rng.integers(len(strips))))
            for poly in strips:
                cxm = (poly.centroid.x - ux[0]) / (ux[1] - ux[0])
                p_old = 0.7 - 0.5 * cxm
                if c == sparse:
                    year, kind = int(rng.integers(1984, 1999)), "village"
                    name = namer.take(SUFFIX_VILLAGE)
                else:
                    if rng.random() < p_old:
                        year = int(rng.integers(1978, 2000))
                    else:
                        year = int(rng.integers(2000, 2023))
                    kind = _kind(year)
                    pref = root if (not com_cmp and root[-1] == "区" and year < 2000) else None
                    name = namer.take(SUFFIX_OLD if year < 2000 else SUFFIX_NEW, pref)
                com_cmp.append(
                    {
                        "geom": poly,
                        "name": name,
                        "year": year,
                        "community": c,
                        "block": b,
                        "kind": kind,
                    }
                )
        for b in members:
            block_use[b] = "居住" if b in res_blocks else "其他"
        if towers[c]:  # the largest compound becomes the tower estate
            k = max(com_cmp, key=lambda k: k["geom"].area)
            k["year"], k["kind"] = int(rng.integers(2008, 2021)), "tower"
            k["name"] = namer.take(SUFFIX_TOWER)
        if not com_cmp:
            raise RuntimeError(f"community {c} has no compound")
        # buildings: candidates on a grid per compound, thinned to the target
        need = target[c]
        tower_cmp = [k for k in com_cmp if k["kind"] == "tower"]
        normal_cmp = [k for k in com_cmp if k["kind"] != "tower"]
        cand = []
        for k in tower_cmp:
            for sp in (45.0, 38.0, 30.0, 24.0):
                X, Y = _grid_points(rng, k["geom"], sp, sp, 3.0)
                if len(X) >= towers[c]:
                    break
            ctr = k["geom"].centroid
            idx = np.argsort((X - ctr.x) ** 2 + (Y - ctr.y) ** 2, kind="stable")[: towers[c]]
            f, u, h = _specs(rng, "tower", len(idx))
            for m, q in enumerate(idx):
                bld.append(
                    {
                        "x": X[q],
                        "y": Y[q],
                        "floors": f[m],
                        "units": u[m],
                        "hpf": h[m],
                        "compound": len(compounds) + com_cmp.index(k),
                    }
                )
                need -= f[m] * u[m] * h[m]
        scale = 1.0
        for _attempt in range(4):
            cand = []
            for k in normal_cmp:
                dx, dy = SPACING[k["kind"]]
                X, Y = _grid_points(rng, k["geom"], dx * scale, dy * scale, 4.0)
                f, u, h = _specs(rng, k["kind"], len(X))
                ci = len(compounds) + com_cmp.index(k)
                for m in range(len(X)):
                    cand.append((X[m], Y[m], f[m], u[m], h[m], ci))
            cap = sum(q[2] * q[3] * q[4] for q in cand)
            if 1.1 * need <= cap <= 1.35 * need or scale > 3 or (cap < 1.1 * need and scale < 0.65):
                break
            scale *= math.sqrt(cap / (1.2 * need))
        perm = rng.permutation(len(cand))
        chosen, total, seen = [], 0, set()
        for p in perm:  # one building per compound first
            if cand[p][5] not in seen:
                seen.add(cand[p][5])
                chosen.append(p)
                total += cand[p][2] * cand[p][3] * cand[p][4]
        chosen_set = set(chosen)
        for p in perm:
            if p in chosen_set:
                continue
            hh = cand[p][2] * cand[p][3] * cand[p][4]
            if total + hh <= need:
                chosen.append(p)
                total += hh
        if total < need * 0.93:  # short: raise the floors of the mid/high-rises
            for p in chosen:
                x, y, f, u, h, ci = cand[p]
                if total >= need * 0.97:
                    break
                kind = com_cmp[ci - len(compounds)]["kind"]
                if kind in ("mid", "high") and f < 33:
                    nf = min(33, f + int(math.ceil((need - total) / (u * h))))
                    total += (nf - f) * u * h
                    cand[p] = (x, y, nf, u, h, ci)
        for p in sorted(chosen):
            x, y, f, u, h, ci = cand[p]
            bld.append({"x": x, "y": y, "floors": f, "units": u, "hpf": h, "compound": ci})
        compounds += com_cmp

    B = pd.DataFrame(bld)
    B["hh"] = (B["floors"] * B["units"] * B["hpf"]).astype(int)
    # order buildings by compound then position (stable codes)
    B = B.sort_values(
        ["compound", "y", "x"], ascending=[True, False, True], kind="stable"
    ).reset_index(drop=True)
    B["seq"] = B.groupby("compound").cumcount() + 1

    # ---- community names, streets, codes
    seed_rc = [(s[2], s[3]) for s in seeds]
    street_of = [0 if col <= 1 else (1 if col <= 3 else 2) for _, col in seed_rc]
    com_code, com_name = [None] * ncom, [None] * ncom
    for st in range(3):
        mem = sorted((c for c in range(ncom) if street_of[c] == st), key=lambda c: seed_rc[c])
        for n, c in enumerate(mem, start=1):
            com_code[c] = f"{DISTRICT_CODE}{STREETS[st][0]}{n:03d}"
    for c in range(ncom):
        com_name[c] = COMMUNITY_ROOTS[c] + "社区"

    # ---- dirty household strings
    nb = len(B)
    text = B["hh"].astype(str).tolist()
    clean = B["hh"].to_numpy(dtype=float).copy()
    b_com = np.array([compounds[ci]["community"] for ci in B["compound"]])
    com_hh0 = np.bincount(b_com, weights=B["hh"], minlength=ncom)
    tower_idx = np.flatnonzero(B["hh"] >= 1000)
    plain_tower = set(tower_idx[:1].tolist())  # one tower left unformatted
    for i in tower_idx:
        if i not in plain_tower:
            text[i] = f"{B['hh'][i]:,}"
    others = np.array([i for i in range(nb) if B["hh"][i] < 1000])
    safe_com = [c for c in medium if 1150 <= com_hh0[c] <= 2850]
    small_b = [i for i in others if b_com[i] in safe_com and 30 <= B["hh"][i] <= 48]
    amb = [int(i) for i in rng.choice(small_b, 3, replace=False)]
    pool = np.array([i for i in others if i not in amb])
    pick = rng.permutation(pool)
    n_unit, n_fw = round(0.02 * nb), round(0.01 * nb)
    for i in pick[:n_unit]:
        text[i] = f"{B['hh'][i]}户"
    for i in pick[n_unit : n_unit + n_fw]:
        text[i] = str(B["hh"][i]).translate(FULLWIDTH)
    a_about, a_neg, a_null = amb
    text[a_about] = "约40"
    clean[a_about] = 40.0
    text[a_neg] = "-5"
    clean[a_neg] = 0.0
    text[a_null] = None
    clean[a_null] = 0.0
    B["text"] = text
    B["clean"] = clean

    bx, by = B["x"].to_numpy(), B["y"].to_numpy()
    bxy = np.column_stack([bx, by])
    com_arr = np.asarray(com_geom, dtype=object)

    def hh_in(geoms):
        tree = shapely.STRtree(np.asarray(geoms, dtype=object))
        pi, gi = tree.query(shapely.points(bx, by), predicate="within")
        return np.bincount(gi, weights=clean[pi], minlength=len(geoms))

    com_hh = hh_in(com_arr)
    lt, gt = int((com_hh < 1000).sum()), int((com_hh > 3000).sum())
    mid_ok = all(1050 <= com_hh[c] <= 2950 for c in medium)
    margin_ok = all(abs(com_hh[c] - t) >= 50 for c in range(ncom) for t in (1000, 3000))
    if lt < 4 or gt < 4 or not mid_ok or not margin_ok:
        raise RuntimeError(f"community sizes off design: {sorted(com_hh.astype(int))}")

    # ---- grids: household-weighted bisection of each community
    grid_rows = []  # dicts: geom, community
    for c in range(ncom):
        inside = shapely.contains_xy(com_geom[c], bx, by)
        pts, w = bxy[inside], clean[inside]
        big = w >= 1000
        k = int(big.sum()) + int(round(w[~big].sum() / rng.uniform(240.0, 340.0)))
        k = int(np.clip(k, 3, 16))
        cuts: list = []
        leaves = _bisect(rng, com_geom[c], pts, w, k, cuts)
        parts = _partition(com_geom[c], leaves, cuts, pts, w)
        if any(p.geom_type != "Polygon" for p in parts):
            raise RuntimeError(f"community {c}: a grid is not one polygon")
        cent = shapely.centroid(np.asarray(parts, dtype=object))
        order = np.lexsort((shapely.get_x(cent), -np.round(shapely.get_y(cent), -1)))
        for n, o in enumerate(order, start=1):
            grid_rows.append({"geom": parts[o], "community": c, "seq": n})
    G = pd.DataFrame(grid_rows)
    G["code"] = [com_code[c] + f"{s:03d}" for c, s in zip(G["community"], G["seq"], strict=True)]
    G["name"] = [com_name[c] + f"第{s}网格" for c, s in zip(G["community"], G["seq"], strict=True)]
    G["belongs"] = [com_name[c] for c in G["community"]]
    geoms = list(G["geom"])
    com_adj = _adjacency(com_geom, 20.0)

    used_com: set[int] = set()
    traps = {}

    # (a) one grid straddling two communities (~50 % of its area in the neighbour)
    pairs = []
    for gi, g in enumerate(geoms):
        ca = G["community"][gi]
        if ca in (sparse,) or ca in small:
            continue
        for gj, h in enumerate(geoms):
            cb = G["community"][gj]
            if cb == ca or cb in small or cb == sparse or not g.intersects(h):
                continue
            sl = _shared_length(g, h)
            if sl > 150 and h.area > 1.6 * g.area:
                pairs.append((-sl, gi, gj))
    pairs.sort()
    for _, gi, gj in pairs:
        g, h = geoms[gi], geoms[gj]
        lo, hi = 0.0, 1500.0
        for _ in range(40):
            d = (lo + hi) / 2
            chunk = shapely.intersection(h, g.buffer(d, join_style="mitre"))
            if chunk.area < 0.82 * g.area:
                lo = d
            else:
                hi = d
        chunk = _largest(shapely.intersection(h, g.buffer(hi, join_style="mitre")))
        if chunk is None:
            continue
        new_g = shapely.union(g, chunk)
        new_h = shapely.difference(h, chunk)
        share = chunk.area / new_g.area
        if (
            new_g.geom_type == "Polygon"
            and new_h.geom_type == "Polygon"
            and 0.40 <= share <= 0.48
            and new_h.area >= 0.3 * h.area
        ):
            geoms[gi], geoms[gj] = shapely.normalize(new_g), shapely.normalize(new_h)
            traps["a"] = (gi, int(G["community"][gj]), share)
            used_com |= {int(G["community"][gi]), int(G["community"][gj])}
            break
    if "a" not in traps:
        raise RuntimeError("could not plant trap (a)")

    def pick_grid(exclude_small=True):
        order = rng.permutation(len(geoms))
        for gi in order:
            c = int(G["community"][gi])
            if c in used_com or (exclude_small and (c in small or c == sparse)):
                continue
            nbs = sorted(
                {
                    int(G["community"][gj])
                    for gj in range(len(geoms))
                    if G["community"][gj] != c
                    and geoms[gj].intersects(geoms[gi])
                    and _shared_length(geoms[gj], geoms[gi]) > 20
                }
                - used_com
            )
            if nbs:
                return int(gi), c, nbs[0]
        raise RuntimeError("no grid for a trap")

    # (b) 所属社区 names the neighbouring community
    gi, c, nbc = pick_grid()
    G.loc[gi, "belongs"] = com_name[nbc]
    traps["b"] = (gi, nbc)
    used_com |= {c, nbc}
    # (c) code prefix of the neighbouring community
    gi, c, nbc = pick_grid()
    taken = set(G["code"])
    s = int(G["seq"][gi])
    while com_code[nbc] + f"{s:03d}" in taken:
        s += 1
    G.loc[gi, "code"] = com_code[nbc] + f"{s:03d}"
    traps["c"] = (gi, nbc)
    used_com |= {c, nbc}
    # (d) one MultiPolygon grid: a detached piece of a non-touching grid of the same community
    done = False
    for c in [int(x) for x in rng.permutation(ncom)]:
        if c in used_com or c in small or c == sparse or done:
            continue
        idx = [int(i) for i in np.flatnonzero(G["community"] == c)]
        for gi in idx:
            for gk in idx:
                if gk == gi or geoms[gk].intersects(geoms[gi]) or done:
                    continue
                k = geoms[gk]
                ring = k.exterior
                dists = shapely.distance(
                    shapely.line_interpolate_point(ring, np.linspace(0, 1, 60), normalized=True),
                    geoms[gi],
                )
                far = shapely.line_interpolate_point(
                    ring, float(np.linspace(0, 1, 60)[np.argmax(dists)]), normalized=True
                )
                for r in (60.0, 80.0, 100.0, 45.0):
                    chunk = _largest(shapely.intersection(k, far.buffer(r)))
                    if chunk is None:
                        continue
                    rest_k = shapely.difference(k, chunk)
                    if (
                        rest_k.geom_type == "Polygon"
                        and len(rest_k.interiors) == 0
                        and 0.04 * k.area <= chunk.area <= 0.3 * k.area
                        and chunk.distance(geoms[gi]) > 30
                    ):
                        geoms[gi] = shapely.normalize(MultiPolygon([geoms[gi], chunk]))
                        geoms[gk] = shapely.normalize(rest_k)
                        traps["d"] = (gi, gk)
                        used_com.add(c)
                        done = True
                        break
    if "d" not in traps:
        raise RuntimeError("could not plant trap (d)")
    G["geom"] = geoms

    # ---- grid households and coordinators
    grid_hh = hh_in(geoms)
    req = np.maximum(1, np.ceil(grid_hh / 300.0)).astype(int)
    coord = req.copy()
    multi = np.flatnonzero(req >= 2)
    short = rng.choice(multi, int(round(0.15 * len(geoms))), replace=False)
    coord[short] -= 1
    singles = [int(i) for i in np.flatnonzero(req == 1) if i not in set(short.tolist())]
    zeros = rng.choice(singles, 4, replace=False)
    coord[zeros] = 0
    G["coord"] = coord
    G["hh"] = grid_hh

    # ---- community attributes
    staff = np.clip(np.round(4 + com_hh / 650 + rng.normal(0, 1, ncom)), 4, 12).astype(int)
    pop = np.round(com_hh * rng.uniform(2.45, 2.75, ncom)).astype(int)
    vol_rate = rng.uniform(0.10, 0.22, ncom)
    low_vol = rng.choice(ncom, 6, replace=False)
    vol_rate[low_vol] = rng.uniform(0.03, 0.09, 6)
    vol = np.round(pop * vol_rate).astype(int)
    staff_null = set(int(i) for i in rng.choice(ncom, 3, replace=False))
    vol_null = set(
        int(i) for i in rng.choice([c for c in range(ncom) if c not in low_vol], 3, replace=False)
    )

    # ---- facilities (true positions in EPSG:4549)
    fac = []  # dicts: x, y, type, name, area, community(optional)
    com_tree = shapely.STRtree(com_arr)

    def inside_point(poly, near, r0, min_edge=25.0):
        inner = poly.buffer(-min_edge)
        for r in (r0, r0 * 2, r0 * 4, 1e5):
            zone = shapely.intersection(inner, near.buffer(r))
            zone = _largest(zone)
            if zone is not None and zone.area > 100:
                for _ in range(50):
                    minx, miny, maxx, maxy = zone.bounds
                    px, py = rng.uniform(minx, maxx), rng.uniform(miny, maxy)
                    if shapely.contains_xy(zone, px, py):
                        return px, py
                p = zone.representative_point()
                return p.x, p.y
        p = poly.representative_point()
        return p.x, p.y

    # which communities miss presence types / fall short on floor area / sit near the edge
    cands = [c for c in range(ncom) if c != sparse]
    missing = {int(c): [] for c in rng.choice(cands, 5, replace=False)}
    missable = [t for t, _ in PRESENCE if t != "社区服务站"]
    for c in sorted(missing):
        missing[c] = sorted(rng.choice(missable, int(rng.integers(1, 4)), replace=False).tolist())
    big_enough = [c for c in range(ncom) if com_hh[c] >= 2000]
    short_area = set(int(c) for c in rng.choice(big_enough, 6, replace=False))
    mid_area = set(
        int(c)
        for c in rng.choice([c for c in range(ncom) if c not in short_area], 5, replace=False)
    )
    near_edge = set(
        int(c)
        for c in rng.choice([c for c in range(ncom) if c not in short_area], 4, replace=False)
    )

    # GCJ-02 shift of a metric point, as it would appear if the offset were not removed
    def gcj_shift(xs, ys):
        lon, lat = to_lonlat.transform(np.asarray(xs), np.asarray(ys))
        glon, glat = wgs84_to_gcj02(lon, lat)
        return to_metric.transform(glon, glat)

    variant_seen: set[str] = set()
    for c in range(ncom):
        poly = com_geom[c]
        root = com_name[c][:-2]
        site = Point(inside_point(poly, poly.centroid, 250.0, 45.0))
        hh100 = com_hh[c] / 100.0
        for ptype, variants in PRESENCE:
            if ptype in missing.get(c, []):
                continue
            label = ptype
            if variants and rng.random() < 0.35:
                label = variants[int(rng.integers(len(variants)))]
            if variants and c == ncom - 1:
                # make sure every variant spelling occurs at least once
                for v in variants:
                    if v not in variant_seen:
                        label = v
                        break
            if label != ptype:
                variant_seen.add(label)
            if ptype == "群众文体活动场所":
                px, py = inside_point(poly, poly.representative_point(), 300.0, 30.0)
                area = None
                nm = root + ("健身广场" if label == ptype else "室外综合健身场地")
            elif ptype == "社区服务站" and c in near_edge:
                # 12-28 m inside a boundary shared with a neighbour, on the side the
                # uncorrected GCJ-02 shift points to
                d = rng.uniform(12.0, 28.0)
                ring = poly.buffer(-d).exterior
                samp = shapely.line_interpolate_point(
                    ring, np.linspace(0, 1, 400, endpoint=False), normalized=True
                )
                sx, sy = shapely.get_x(samp), shapely.get_y(samp)
                gx, gy = gcj_shift(sx, sy)
                shifted = shapely.points(gx, gy)
                ok = np.zeros(len(sx), dtype=bool)
                for m in range(len(sx)):
                    hits = com_tree.query(shifted[m], predicate="within")
                    ok[m] = len(hits) > 0 and int(hits[0]) != c
                cand_m = np.flatnonzero(ok)
                m = int(cand_m[int(rng.integers(len(cand_m)))]) if len(cand_m) else 0
                px, py = sx[m], sy[m]
                area = None
                nm = None
            else:
                ang = rng.uniform(0, 2 * np.pi)
                rr = rng.uniform(0, 25.0)
                px, py = site.x + rr * math.cos(ang), site.y + rr * math.sin(ang)
                area = None
            if ptype == "社区服务站":
                if c in short_area:
                    area = hh100 * rng.uniform(8.0, 12.0)
                elif c in mid_area:
                    area = hh100 * rng.uniform(21.0, 28.0)
                else:
                    area = max(350.0, hh100 * rng.uniform(31.0, 46.0)) * rng.uniform(1.0, 1.1)
                nm = root + ("社区服务站" if label == ptype else "社区综合服务站")
            elif ptype in INDOOR_AREA:
                lo_a, hi_a = INDOOR_AREA[ptype]
                area = rng.uniform(lo_a, hi_a)
                if label.startswith("社区") or label in (
                    "居委会办公室",
                    "卫生站",
                    "警务室",
                    "劳动保障服务站",
                ):
                    nm = root + label
                else:
                    nm = root + "社区" + label
            if nm is None:
                nm = root + label
            fac.append(
                {
                    "x": px,
                    "y": py,
                    "type": label,
                    "ptype": ptype,
                    "name": nm,
                    "area": area,
                    "community": c,
                }
            )
        # short communities: keep the whole indoor service floor area below 18 m2 / 100 户
        if c in short_area:
            rows = [f for f in fac if f["community"] == c and f["area"] is not None]
            station = [f for f in rows if f["ptype"] == "社区服务站"][0]
            others_ = [f for f in rows if f is not station]
            budget = hh100 * 17.5 - station["area"]
            tot = sum(f["area"] for f in others_)
            if tot > budget:
                for f in others_:
                    f["area"] = max(8.0, f["area"] * budget / tot)

    # coverage facilities: sites picked greedily for household coverage (with noise), in
    # numbers that leave some residential areas beyond the service radius
    res_cmp = list(compounds)
    cmp_xy = np.array([(k["geom"].centroid.x, k["geom"].centroid.y) for k in res_cmp])
    other_blocks = [
        b for b in range(len(blocks)) if block_use[b] == "其他" and blocks[b].area > 40000
    ]

    def greedy_sites(cand_xy, n, radius, allowed=None):
        d = np.hypot(cand_xy[:, None, 0] - bx[None, :], cand_xy[:, None, 1] - by[None, :])
        within = d <= radius
        covered = np.zeros(len(bx), dtype=bool)
        picks: list[int] = []
        for _ in range(n):
            gain = (within & ~covered) @ clean
            gain = gain * rng.uniform(0.5, 1.0, len(gain))
            if allowed is not None:
                gain[~allowed] = -1.0
            gain[picks] = -1.0
            j = int(np.argmax(gain))
            picks.append(j)
            covered |= within[j]
        return picks

    # schools in non-residential blocks
    ob_xy = np.array([(blocks[b].centroid.x, blocks[b].centroid.y) for b in other_blocks])
    used_blocks: set[int] = set()
    for ftype, n_f, radius, area_rng, suffix in (
        ("初中", 5, 1000.0, (9000, 20000), "中学"),
        ("小学", 11, 500.0, (6000, 15000), "小学"),
    ):
        allowed = np.array([b not in used_blocks for b in other_blocks])
        for k in greedy_sites(ob_xy, n_f, radius, allowed):
            b = other_blocks[k]
            used_blocks.add(b)
            p = (_largest(blocks[b].buffer(-30)) or blocks[b]).representative_point()
            root = com_name[int(assign[b])][:-2]
            fac.append(
                {
                    "x": p.x,
                    "y": p.y,
                    "type": ftype,
                    "ptype": ftype,
                    "name": f"{DISTRICT_NAME}{root}{suffix}",
                    "area": rng.uniform(*area_rng),
                }
            )
            block_use[b] = "学校"
    # kindergartens, day care, markets: in / beside compounds
    for ftype, n_f, radius, area_rng, suffix in (
        ("幼儿园", 22, 300.0, (1800, 4500), "幼儿园"),
        ("老年人日间照料中心", 14, 300.0, (200, 800), "老年人日间照料中心"),
        ("菜市场", 12, 500.0, (800, 3000), "农贸市场"),
    ):
        for k in greedy_sites(cmp_xy, n_f, radius):
            g = res_cmp[k]["geom"]
            q = (_largest(g.buffer(-8)) or g).representative_point()
            fac.append(
                {
                    "x": q.x + rng.uniform(-5, 5),
                    "y": q.y + rng.uniform(-5, 5),
                    "type": ftype,
                    "ptype": ftype,
                    "name": res_cmp[k]["name"] + suffix,
                    "area": rng.uniform(*area_rng),
                }
            )
    # street-level centres: one 社区服务中心 and one 社区卫生服务中心 per 街道
    for st in range(3):
        mem = [c for c in range(ncom) if street_of[c] == st]
        allowed = np.array([k["community"] in mem for k in res_cmp])
        k = greedy_sites(cmp_xy, 1, 1000.0, allowed)[0]
        host = com_geom[res_cmp[k]["community"]]
        near = Point(cmp_xy[k])
        for ftype, area_rng, nm in (
            ("社区服务中心", (800, 2500), f"{STREETS[st][1]}社区服务中心"),
            ("社区卫生服务中心", (2000, 5000), f"{STREETS[st][1]}社区卫生服务中心"),
        ):
            px, py = inside_point(host, near, 150.0, 40.0)
            fac.append(
                {
                    "x": px,
                    "y": py,
                    "type": ftype,
                    "ptype": ftype,
                    "name": nm,
                    "area": rng.uniform(*area_rng),
                }
            )
    # bus stops along arterial and secondary roads, near intersections
    node = net["node"]
    nx_, ny_ = net["nx"], net["ny"]
    rank = {"主干路": 0, "次干路": 1, "支路": 2}
    for i in range(nx_):
        for j in range(ny_):
            gi_, gj_ = _grade(i, nx_), _grade(j, ny_)
            if min(rank[gi_], rank[gj_]) > 1 or (i in (0, nx_ - 1) and j in (0, ny_ - 1)):
                continue
            if rng.random() > 0.55:
                continue
            ax, ay = node(i, j)
            if rank[gi_] <= rank[gj_] and j + 1 < ny_:
                bx_, by_ = node(i, j + 1)
                road, cross = NS_ROADS[i], EW_ROADS[j]
            elif i + 1 < nx_:
                bx_, by_ = node(i + 1, j)
                road, cross = EW_ROADS[j], NS_ROADS[i]
            else:
                continue
            ln = math.hypot(bx_ - ax, by_ - ay)
            ux_, uy_ = (bx_ - ax) / ln, (by_ - ay) / ln
            t_ = rng.uniform(30, 60)
            px, py = ax + ux_ * t_ - uy_ * 12, ay + uy_ * t_ + ux_ * 12
            if not shapely.contains_xy(district, px, py):
                continue
            fac.append(
                {
                    "x": px,
                    "y": py,
                    "type": "公交站",
                    "ptype": "公交站",
                    "name": f"{road}{cross}口",
                    "area": None,
                }
            )
    # waste collection points: most compounds, roughly one per 1.5 ha
    for k in res_cmp:
        if rng.random() > 0.85:
            continue
        X, Y = _grid_points(rng, k["geom"], 125.0, 125.0, 15.0)
        for m in range(len(X)):
            nm = k["name"] + ("垃圾收集点" if len(X) == 1 else f"{m + 1}号垃圾收集点")
            fac.append(
                {
                    "x": X[m],
                    "y": Y[m],
                    "type": "生活垃圾收集点",
                    "ptype": "生活垃圾收集点",
                    "name": nm,
                    "area": None,
                }
            )

    F = pd.DataFrame(fac)
    F["area"] = [
        None if a is None or (isinstance(a, float) and np.isnan(a)) else round(float(a), 1)
        for a in F["area"]
    ]
    # address: 街道 + nearest road name + a house number
    road_geoms = [g for _, _, g in net["lattice"]] + [g for _, _, g in net["long"]]
    road_names = [n for n, _, _ in net["lattice"]] + [n for n, _, _ in net["long"]]
    rtree = shapely.STRtree(np.asarray(road_geoms, dtype=object))
    fpts = shapely.points(F["x"].to_numpy(), F["y"].to_numpy())
    near_road = rtree.nearest(fpts)
    fcom = np.full(len(F), -1)
    pi_, ci_ = com_tree.query(fpts, predicate="within")
    fcom[pi_] = ci_
    addr = []
    for m in range(len(F)):
        st = STREETS[street_of[fcom[m]]][1] if fcom[m] >= 0 else ""
        addr.append(
            f"{CITY}{DISTRICT_NAME}{st}{road_names[near_road[m]]}{int(rng.integers(1, 400))}号"
        )
    no_addr = rng.random(len(F)) < 0.08
    F["addr"] = [None if na else a for a, na in zip(addr, no_addr, strict=True)]
    F.loc[F["type"] == "公交站", "addr"] = None

    # ---- community sliver overlap and gap (plant on the community layer only)
    com_final = list(com_geom)

    def shared_mid(a, b):
        line = shapely.line_merge(
            shapely.intersection(com_final[a].boundary, com_final[b].boundary)
        )
        segs = [g for g in shapely.get_parts(line) if g.geom_type == "LineString"]
        seg = max(segs, key=lambda g: g.length)
        p = seg.interpolate(0.5, normalized=True)
        p2 = seg.interpolate(0.5 * seg.length + 1.0)
        tx, ty = p2.x - p.x, p2.y - p.y
        n_ = math.hypot(tx, ty)
        return p, tx / n_, ty / n_

    def triangle(p, tx, ty, base, height, into):
        nx1, ny1 = -ty, tx
        tip = Point(p.x + nx1 * height, p.y + ny1 * height)
        if not into.contains(tip):
            nx1, ny1 = ty, -tx
            tip = Point(p.x + nx1 * height, p.y + ny1 * height)
        return Polygon(
            [
                (p.x - tx * base / 2, p.y - ty * base / 2),
                (p.x + tx * base / 2, p.y + ty * base / 2),
                (tip.x, tip.y),
            ]
        )

    sl_pairs = sorted(
        (a, b)
        for a in com_adj
        for b in com_adj[a]
        if a < b and a not in used_com and b not in used_com
    )
    a_, b_ = sl_pairs[int(rng.integers(len(sl_pairs)))]
    p, tx, ty = shared_mid(a_, b_)
    tri = triangle(p, tx, ty, 6.0, 1.5, com_final[b_])
    com_final[a_] = shapely.normalize(shapely.union(com_final[a_], tri))
    sliver = (a_, b_, shapely.intersection(com_final[a_], com_final[b_]).area)
    gap_pairs = [(a, b) for a, b in sl_pairs if a not in (a_, b_) and b not in (a_, b_)]
    c_, d_ = gap_pairs[int(rng.integers(len(gap_pairs)))]
    p, tx, ty = shared_mid(c_, d_)
    tri = triangle(p, tx, ty, 10.0, 3.0, com_final[c_])
    com_final[c_] = shapely.normalize(shapely.difference(com_final[c_], tri))
    gap = (c_, d_, tri.area)

    # ---- assemble layers --------------------------------------------------
    # streets: everything except the three long lines is noded (split at intersections)
    spur_rows = []
    edges = net["edges"]
    res_set = [b for b in range(len(blocks)) if block_use[b] == "居住"]
    spur_keys = [k for k in sorted(edges) if edges[k] and k[0] == "v" and 0 < k[1] < nx_ - 1]
    spur_keys = [spur_keys[i] for i in rng.permutation(len(spur_keys))]
    long_union = shapely.union_all([g for _, _, g in net["long"]])
    for key in spur_keys:
        if len(spur_rows) >= 6:
            break
        kind, i, j = key
        (ax, ay), (bx_, by_) = node(i, j), node(i, j + 1)
        mx, my = (ax + bx_) / 2, (ay + by_) / 2
        ln = math.hypot(bx_ - ax, by_ - ay)
        side = 1 if rng.random() < 0.5 else -1
        nxv, nyv = side * (by_ - ay) / ln, -side * (bx_ - ax) / ln
        L = rng.uniform(70, 120)
        # start on the street itself (its middle vertex is off the chord)
        src = [g for n, g_, g in net["lattice"] if n == NS_ROADS[i]]
        start = None
        for s_ in src:
            pnear = shapely.line_interpolate_point(s_, shapely.line_locate_point(s_, Point(mx, my)))
            if pnear.distance(Point(mx, my)) < 10:
                start = pnear
        if start is None:
            continue
        spur = LineString([(start.x, start.y), (start.x + nxv * L, start.y + nyv * L)])
        touched = [g for _, _, g in net["lattice"] if g.intersects(spur)]
        if len(touched) != 1 or spur.intersects(long_union):
            continue
        # the end must be inside a residential block
        endp = Point(spur.coords[-1])
        if not any(blocks[b].contains(endp) for b in res_set):
            continue
        grade = "支路" if len(spur_rows) % 2 == 0 else "步行道"
        nm = f"{NS_ROADS[i]}{int(rng.integers(1, 60))}弄" if grade == "支路" else None
        spur_rows.append((nm, grade, spur))
    # park footpaths (one crossing a park, connected) and a disconnected loop fragment
    park_b = [b for b in range(len(blocks)) if block_use[b] == "其他" and blocks[b].area > 90000]
    park_b = sorted(park_b, key=lambda b: -blocks[b].area)[:2]
    foot_rows = []
    if park_b:
        pb = blocks[park_b[0]]
        minx, miny, maxx, maxy = pb.bounds
        midy = (miny + maxy) / 2
        cross = shapely.intersection(pb, LineString([(minx - 50, midy), (maxx + 50, midy + 40)]))
        cross = (
            max(shapely.get_parts(cross), key=lambda g: g.length) if not cross.is_empty else None
        )
        if cross is not None and cross.geom_type == "LineString":
            foot_rows.append(("公园步道", "步行道", cross))
        pb2 = blocks[park_b[-1]]
        ctr = pb2.buffer(-60).representative_point()
        loop = [
            (ctr.x - 45, ctr.y - 30),
            (ctr.x + 40, ctr.y - 35),
            (ctr.x + 50, ctr.y + 30),
            (ctr.x - 40, ctr.y + 35),
        ]
        foot_rows.append(("滨水绿道", "步行道", LineString(loop[:3])))
        foot_rows.append(("滨水绿道", "步行道", LineString(loop[2:] + [loop[0]])))
        block_use[park_b[0]] = "公园"

    noded_src = net["lattice"] + spur_rows + foot_rows
    src_geoms = np.asarray([g for _, _, g in noded_src], dtype=object)
    noded = shapely.get_parts(
        shapely.node(shapely.MultiLineString([list(g.coords) for g in src_geoms]))
    )
    mids = shapely.line_interpolate_point(noded, 0.5, normalized=True)
    stree = shapely.STRtree(src_geoms)
    si, ni = stree.query(mids, predicate="dwithin", distance=1e-6)
    owner = np.full(len(noded), -1)
    for a, b in zip(si, ni, strict=True):
        if owner[a] < 0 or b < owner[a]:
            owner[a] = b
    if (owner < 0).any():
        raise RuntimeError("noded street piece without a source")
    st_names = [noded_src[o][0] for o in owner] + [n for n, _, _ in net["long"]]
    st_grades = [noded_src[o][1] for o in owner] + [g for _, g, _ in net["long"]]
    st_geoms = list(noded) + [g for _, _, g in net["long"]]
    streets = gpd.GeoDataFrame(
        {"道路名称": st_names, "道路等级": st_grades}, geometry=st_geoms, crs=CRS_METRIC
    )
    # a few unnamed local segments, as in real centreline data
    unnamed = rng.choice(np.flatnonzero(streets["道路等级"].to_numpy() == "支路"), 5, replace=False)
    streets.loc[unnamed, "道路名称"] = None
    streets = pd.concat([streets, _inner_paths(streets, B, F)], ignore_index=True)

    cmp_gdf = gpd.GeoDataFrame(
        {
            "小区名称": [k["name"] for k in compounds],
            "建成年代": [int(k["year"]) for k in compounds],
            "老旧小区": ["是" if k["year"] < 2000 else "否" for k in compounds],
        },
        geometry=[k["geom"] for k in compounds],
        crs=CRS_METRIC,
    )

    bld_gdf = gpd.GeoDataFrame(
        {
            "楼栋编码": [
                f"XQ{ci + 1:04d}-{s:03d}" for ci, s in zip(B["compound"], B["seq"], strict=True)
            ],
            "小区名称": [compounds[ci]["name"] for ci in B["compound"]],
            "层数": B["floors"].astype(int).to_numpy(),
            "户数": pd.Series(B["text"], dtype=object),
        },
        geometry=shapely.points(bx, by),
        crs=CRS_METRIC,
    )

    rural = _rural(com_hh, com_final, on_edge, sparse)
    com_gdf = gpd.GeoDataFrame(
        {
            "社区编码": com_code,
            "社区名称": com_name,
            "街道": [STREETS[street_of[c]][1] for c in range(ncom)],
            "居民分散": ["是" if c == sparse else "否" for c in range(ncom)],
            "社区类型": ["农村" if c in rural else "城市" for c in range(ncom)],
            "专职工作人员": pd.array(
                [None if c in staff_null else int(staff[c]) for c in range(ncom)], dtype="Int64"
            ),
            "常住人口": pop.astype(int),
            "注册志愿者": pd.array(
                [None if c in vol_null else int(vol[c]) for c in range(ncom)], dtype="Int64"
            ),
        },
        geometry=com_final,
        crs=CRS_METRIC,
    )
    com_gdf = com_gdf.iloc[np.argsort(com_gdf["社区编码"].to_numpy(), kind="stable")].reset_index(
        drop=True
    )

    grid_gdf = gpd.GeoDataFrame(
        {
            "网格编码": G["code"].to_numpy(),
            "网格名称": G["name"].to_numpy(),
            "所属社区": G["belongs"].to_numpy(),
            "协理员人数": G["coord"].astype(int).to_numpy(),
            "TYPE": "综合网格",
        },
        geometry=list(G["geom"]),
        crs=CRS_METRIC,
    )

    lon, lat = to_lonlat.transform(F["x"].to_numpy(), F["y"].to_numpy())
    glon, glat = wgs84_to_gcj02(lon, lat)
    fac_gdf = gpd.GeoDataFrame(
        {
            "名称": F["name"].to_numpy(),
            "类型": F["type"].to_numpy(),
            "建筑面积": pd.array(F["area"].tolist(), dtype="Float64"),
            "地址": pd.Series(F["addr"].tolist(), dtype=object),
        },
        geometry=shapely.points(np.round(glon, 6), np.round(glat, 6)),
        crs="EPSG:4326",
    )

    ta, tb, tc, td = traps["a"], traps["b"], traps["c"], traps["d"]
    info = {
        "trap_a": (G["code"][ta[0]], com_name[G["community"][ta[0]]], com_name[ta[1]], ta[2]),
        "trap_b": (G["code"][tb[0]], com_name[G["community"][tb[0]]], com_name[tb[1]]),
        "trap_c": (G["code"][tc[0]], com_name[G["community"][tc[0]]], com_name[tc[1]]),
        "trap_d": (G["code"][td[0]], com_name[G["community"][td[0]]], G["code"][td[1]]),
        "sliver": (com_code[sliver[0]], com_code[sliver[1]], sliver[2]),
        "gap": (com_code[gap[0]], com_code[gap[1]], gap[2]),
        "sparse": com_code[sparse],
        "rural": sorted(com_code[c] for c in rural),
        "near_edge": sorted(com_code[c] for c in near_edge),
        "short_area": sorted(com_code[c] for c in short_area),
        "mid_area": sorted(com_code[c] for c in mid_area),
        "missing": {com_code[c]: v for c, v in sorted(missing.items())},
        "staff_null": sorted(com_code[c] for c in staff_null),
        "vol_null": sorted(com_code[c] for c in vol_null),
        "low_vol": sorted(com_code[c] for c in low_vol if c not in vol_null),
        "com_hh": {com_code[c]: int(com_hh[c]) for c in range(ncom)},
        "grid_hh": grid_hh,
        "coord_zero": sorted(G["code"][i] for i in zeros),
        "n_short": len(short),
    }
    # building codes of the ambiguous 户数 values (after sorting B the index is the row)
    info["amb"] = {
        "约40": bld_gdf["楼栋编码"][a_about],
        "-5": bld_gdf["楼栋编码"][a_neg],
        "NULL": bld_gdf["楼栋编码"][a_null],
    }
    data = {
        "streets": streets,
        "compounds": cmp_gdf,
        "buildings": bld_gdf,
        "communities": com_gdf,
        "grids": grid_gdf,
        "facilities": fac_gdf,
        "info": info,
        "seed": seed,
        "clean_hh": clean,
    }
    return {**data, **_other_departments(data, seed)}


def _other_departments(data: dict, seed: int) -> dict:
    """Issue #18 layers: a 城管 grid layer that disagrees with 网格, and residential projects.

    A separate generator (``seed + 18``) so the layers above stay exactly as they were.
    ``网格_城管`` starts from the 网格 layer (the departments share base data) and plants the
    disagreements a 多网合一 review finds; ``多网说明`` lists them (键, 值). ``在建项目`` are
    estates under construction: 规划户数, 入住率, 计划竣工年份 (one lies in the straddling
    grid of trap (a), in the part inside the other community).
    """
    rng = np.random.default_rng(seed + 18)
    grids = data["grids"].reset_index(drop=True)
    comm = data["communities"]
    name_of = dict(zip(comm["社区名称"], comm["社区编码"], strict=True))
    codes = grids["网格编码"].tolist()
    geoms = list(grids.geometry)
    single = [g.geom_type == "Polygon" for g in geoms]
    by_comm: dict[str, list[int]] = {}
    for i, c in enumerate(grids["所属社区"]):
        by_comm.setdefault(c, []).append(i)
    trap_codes = {data["info"][k][0] for k in ("trap_a", "trap_b", "trap_c", "trap_d")}
    clean = [
        c
        for c in sorted(by_comm, key=lambda n: name_of.get(n, n))
        if not any(codes[i] in trap_codes for i in by_comm[c]) and len(by_comm[c]) >= 3
    ]

    def touching(members: list[int]) -> tuple[int, int]:
        for a in members:
            for b in members:
                if a < b and single[a] and single[b]:
                    if shapely.union(geoms[a], geoms[b]).geom_type == "Polygon":
                        return a, b
        raise RuntimeError("no two touching grids")

    planted: list[tuple[str, str]] = []
    out_geom = {i: geoms[i] for i in range(len(geoms))}
    out_code = {i: codes[i] for i in range(len(geoms))}
    out_comm = {i: grids["所属社区"][i] for i in range(len(geoms))}
    # 1. two grids merged into one 城管 grid (coarser subdivision)
    a, b = touching(by_comm[clean[2]])
    out_geom[a] = shapely.union(geoms[a], geoms[b])
    del out_geom[b]
    planted.append(("合并", f"{codes[a]}+{codes[b]}→{codes[a]}"))
    # 2. same unit, another code
    i = by_comm[clean[6]][0]
    out_code[i] = f"CG{codes[i][-6:]}"
    planted.append(("编码不一致", f"{codes[i]}→{out_code[i]}"))

    # 3. same unit, another 所属社区 (a neighbouring community's name)
    def rotated(k: int) -> list[str]:
        return clean[k:] + clean[:k]

    comm_geom = dict(zip(comm["社区名称"], comm.geometry, strict=True))
    i, here, other = next(
        (by_comm[c][0], c, o)
        for c in rotated(10)
        for o in comm["社区名称"]
        if o != c and comm_geom[o].distance(geoms[by_comm[c][0]]) < 1.0
    )
    out_comm[i] = other
    planted.append(("所属社区不一致", f"{codes[i]}：{here}→{other}"))
    # 4. a grid redrawn across the community boundary into its neighbour's grid
    x, y = next(
        (x, y)
        for c in rotated(14)
        for x in by_comm[c]
        for y in range(len(geoms))
        if grids["所属社区"][y] != c
        and single[x]
        and single[y]
        and x in out_geom
        and y in out_geom
        and out_comm[x] == grids["所属社区"][x]
        and codes[y] not in trap_codes
        and geoms[x].intersection(geoms[y]).length > 150
    )
    reach = shapely.buffer(geoms[x], 80.0)
    out_geom[x] = shapely.union(geoms[x], shapely.intersection(geoms[y], reach))
    out_geom[y] = shapely.difference(geoms[y], reach)
    planted.append(("跨社区", f"{codes[x]}（伸入 {codes[y]} 约 80 米）"))
    # 5. a grid the 城管 layer lacks (gap)
    i = by_comm[clean[18]][-1]
    del out_geom[i]
    planted.append(("缺失", codes[i]))
    # 6. two 城管 grids that overlap
    a, b = touching(by_comm[clean[22]])
    out_geom[a] = shapely.union(
        geoms[a], shapely.intersection(geoms[b], shapely.buffer(geoms[a], 15.0))
    )
    planted.append(("重叠", f"{codes[a]}/{codes[b]}"))
    # 7. a 城管 grid outside every community (riverside beyond the district)
    x0, y0, x1, y1 = shapely.union_all(list(comm.geometry)).bounds
    extra = len(geoms)
    out_geom[extra] = box(x1 + 50, y0 + 400, x1 + 350, y0 + 800)
    out_code[extra] = f"{DISTRICT_CODE}999001"
    out_comm[extra] = ""
    planted.append(("社区外", out_code[extra]))
    keep = sorted(out_geom)
    cg = gpd.GeoDataFrame(
        {
            "城管网格编号": [out_code[i] for i in keep],
            "网格名称": [f"城管{out_code[i][-6:]}" for i in keep],
            "所属社区": [out_comm[i] or None for i in keep],
            "责任部门": "城管",
        },
        geometry=[out_geom[i] for i in keep],
        crs=CRS_METRIC,
    )
    # residential projects: near-full communities get estates that push them over 3,000 户
    hh = data["info"]["com_hh"]
    near = [c for c in comm["社区编码"] if 2300 <= hh[c] <= 2950][:3]
    far = [c for c in comm["社区编码"] if 1200 <= hh[c] < 2000][:3]
    sites, rows = [], []
    for k, c in enumerate(near + far):
        poly = comm.geometry[comm["社区编码"] == c].iloc[0]
        pt = poly.representative_point()
        sites.append(box(pt.x - 60, pt.y - 60, pt.x + 60, pt.y + 60).intersection(poly))
        rows.append((f"XM{k + 1:02d}", 400 + 100 * int(rng.integers(2, 9)), 2025 + (k % 4)))
    ta = data["info"]["trap_a"][0]
    g = geoms[codes.index(ta)]
    other_comm = comm.geometry[comm["社区名称"] == data["info"]["trap_a"][2]].iloc[0]
    part = g.intersection(other_comm)
    sites.append(part.representative_point().buffer(30.0).intersection(part))
    rows.append((f"XM{len(rows) + 1:02d}", 360, 2026))
    names = ["和园", "江湾府", "云庐", "翠苑新城", "湖畔里", "文澜府", "西溪印"]
    projects = gpd.GeoDataFrame(
        {
            "项目编号": [r[0] for r in rows],
            "项目名称": names[: len(rows)],
            "规划户数": [r[1] for r in rows],
            "入住率": [["0%", "0%", "20%", "0%", "35%", "0%", "0%"][k] for k in range(len(rows))],
            "计划竣工年份": [r[2] for r in rows],
        },
        geometry=sites,
        crs=CRS_METRIC,
    )
    about = pd.DataFrame(
        [("数据性质", SYNTHETIC), ("网格_城管", "城管部门网格（与 网格 图层有意不一致）")]
        + planted,
        columns=["键", "值"],
    )
    return {"grids_cg": cg, "projects": projects, "multigrid_about": about}


def _meta(info: dict, seed: int) -> pd.DataFrame:
    rows = [
        ("数据性质", SYNTHETIC),
        ("生成脚本", "data/build_demo.py"),
        ("种子", str(seed)),
        (
            "区域",
            f"{CITY}{DISTRICT_NAME}（虚构行政区 fictional district），区划代码 {DISTRICT_CODE} 仅作示例",
        ),
        (
            "坐标系",
            "街道网/小区/楼栋/社区/网格: EPSG:4549 CGCS2000 / 3-degree Gauss-Kruger CM 120E (米)",
        ),
        (
            "坐标系_设施",
            "设施: 文件声明 EPSG:4326 (WGS84)，但坐标实为 GCJ-02（火星坐标，网络地图采集），"
            "检查时须指定 --facilities-crs gcj02 / facilities claim EPSG:4326 but hold GCJ-02 lon/lat",
        ),
        (
            "户数说明",
            '楼栋.户数 为文本: 多为整数; 约2% 千分位("1,024"), 约2% 带单位("86户"), '
            '约1% 全角数字, 3 个歧义值("约40", "-5", 空值)',
        ),
        (
            "陷阱_a_跨社区网格",
            f"{info['trap_a'][0]} ({info['trap_a'][1]} 网格, 约{info['trap_a'][3]:.0%} 面积在 {info['trap_a'][2]})",
        ),
        (
            "陷阱_b_所属社区错误",
            f"{info['trap_b'][0]} (位于 {info['trap_b'][1]}, 所属社区写作 {info['trap_b'][2]})",
        ),
        (
            "陷阱_c_编码前缀错误",
            f"{info['trap_c'][0]} (位于 {info['trap_c'][1]}, 编码前缀属于 {info['trap_c'][2]})",
        ),
        ("陷阱_d_多部件网格", f"{info['trap_d'][0]} (MultiPolygon, {info['trap_d'][1]})"),
        (
            "陷阱_社区重叠",
            f"{info['sliver'][0]} / {info['sliver'][1]} 重叠约 {info['sliver'][2]:.1f} m²",
        ),
        (
            "陷阱_社区缝隙",
            f"{info['gap'][0]} / {info['gap'][1]} 之间缝隙约 {info['gap'][2]:.1f} m²",
        ),
        ("陷阱_歧义户数", "; ".join(f"{k}: {v}" for k, v in info["amb"].items())),
    ]
    return pd.DataFrame(rows, columns=["键", "值"])


LAYERS = [  # (key, layer name, geometry type, description)
    ("streets", "街道网", "LineString", "街道网 步行路网（道路中心线）"),
    ("compounds", "小区", "Polygon", "小区 居住小区范围"),
    ("buildings", "楼栋", "Point", "楼栋 住宅楼栋点，户数为文本"),
    ("communities", "社区", "Polygon", "社区 社区边界"),
    ("grids", "网格", "Unknown", "网格 综合网格（含一个 MultiPolygon）"),
    ("facilities", "设施", "Point", "设施 公共服务设施 POI（坐标为 GCJ-02，文件声明 EPSG:4326）"),
    (
        "grids_cg",
        "网格_城管",
        "Unknown",
        "网格_城管 城管部门网格（与 网格 图层有意不一致，见 多网说明）",
    ),
    ("projects", "在建项目", "Unknown", "在建项目 规划户数、入住率、计划竣工年份"),
]


def _write(data: dict, path: Path) -> Path:
    """Write the layers to ``path`` via a temporary file in the same folder + os.replace."""
    path = Path(path).resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.stem}.{os.getpid()}.tmp.gpkg"
    for extra in ("", "-wal", "-shm", "-journal"):
        Path(str(tmp) + extra).unlink(missing_ok=True)
    try:
        layers = {layer: data[key] for key, layer, _gtype, _desc in LAYERS}
        layers["说明"] = _meta(data["info"], data["seed"])
        options = {
            layer: {
                "geometry_type": gtype,
                "promote_to_multi": False,
                "layer_options": {"DESCRIPTION": f"{SYNTHETIC}. {desc}"},
            }
            for key, layer, gtype, desc in LAYERS
        }
        options["说明"] = {"layer_options": {"DESCRIPTION": f"{SYNTHETIC}. 说明 / about this file"}}
        layers["多网说明"] = data["multigrid_about"]
        options["多网说明"] = {
            "layer_options": {
                "DESCRIPTION": f"{SYNTHETIC}. 多网说明 / planted grid-layer disagreements"
            }
        }
        write_gpkg(tmp, layers, options=options, last_change=GPKG_DATE)
        os.replace(tmp, path)
    finally:
        for extra in ("", "-wal", "-shm", "-journal"):
            Path(str(tmp) + extra).unlink(missing_ok=True)
    return path


def build_demo(path: str | os.PathLike = DEFAULT_OUT, *, seed: int = SEED) -> Path:
    """Build the synthetic demo GeoPackage at ``path`` (atomically) and return its path."""
    return _write(_make(seed), Path(path))


def layer_differences(
    a: str | os.PathLike, b: str | os.PathLike, *, tolerance_m: float = 1e-6
) -> list[str]:
    """What differs between two demo GeoPackages, layer by layer; ``[]`` when they are the same demo.

    Attributes (and column types) must be equal exactly. Geometries must have the
    same type and number of vertices and lie within ``tolerance_m`` metres of each
    other (Hausdorff distance between the vertex sets; on a lon/lat layer the
    tolerance is converted at 111,320 m per degree). A rebuild under other
    shapely/GEOS/numpy/PROJ versions moves coordinates by ~1e-10 m, so a digest of
    the floats cannot compare builds across versions; a real change moves
    something by far more than a micrometre, or changes a count or a value.
    """
    diffs: list[str] = []
    names_a = [name for name, _ in pyogrio.list_layers(a)]
    names_b = [name for name, _ in pyogrio.list_layers(b)]
    if names_a != names_b:
        diffs.append(f"layers differ: {names_a} vs {names_b}")
    for name in (n for n in names_a if n in names_b):
        da = pyogrio.read_dataframe(a, layer=name)
        db = pyogrio.read_dataframe(b, layer=name)
        if len(da) != len(db) or list(da.columns) != list(db.columns):
            diffs.append(
                f"{name}: {len(da)} vs {len(db)} rows, columns {list(da.columns)} vs {list(db.columns)}"
            )
            continue
        if "geometry" in da.columns:
            if da.crs != db.crs:
                diffs.append(f"{name}: CRS {da.crs} vs {db.crs}")
            tol = tolerance_m if da.crs is None or da.crs.is_projected else tolerance_m / 111_320.0
            ga, gb = np.asarray(da.geometry.values), np.asarray(db.geometry.values)
            both_missing = shapely.is_missing(ga) & shapely.is_missing(gb)
            with np.errstate(invalid="ignore"):
                dist = shapely.hausdorff_distance(ga, gb)
            same = (
                (shapely.get_type_id(ga) == shapely.get_type_id(gb))
                & (shapely.get_num_coordinates(ga) == shapely.get_num_coordinates(gb))
                & (dist <= tol)
            ) | both_missing
            if not same.all():
                first = int(np.flatnonzero(~same)[0])
                diffs.append(
                    f"{name}: {int((~same).sum())} geometries differ by more than {tolerance_m:g} m "
                    f"(first: row {first}, distance {dist[first]:.3g} in layer units)"
                )
            da, db = da.drop(columns="geometry"), db.drop(columns="geometry")
        da, db = pd.DataFrame(da), pd.DataFrame(db)
        changed = [c for c in da.columns if da[c].dtype != db[c].dtype or not da[c].equals(db[c])]
        if changed:
            diffs.append(f"{name}: attributes differ in {changed}")
    return diffs


def _summary(path: Path, data: dict, seconds: float) -> str:
    info = data["info"]
    hh = np.array(list(info["com_hh"].values()))
    lines = [f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB) in {seconds:.1f} s  — {SYNTHETIC}"]
    for key, layer, _, _ in LAYERS:
        lines.append(f"  {layer:4s} {len(data[key]):6d}")
    g = data["grids"]
    lines += [
        f"  households (clean) {int(data['clean_hh'].sum())}; communities {len(hh)}: "
        f"<1000: {(hh < 1000).sum()}, 1000-3000: {((hh >= 1000) & (hh <= 3000)).sum()}, >3000: {(hh > 3000).sum()}",
        f"  grid households: median {np.median(info['grid_hh']):.0f}, min {info['grid_hh'].min():.0f}, "
        f"max {info['grid_hh'].max():.0f}; coordinators total {int(g['协理员人数'].sum())}",
        f"  trap (a) straddling grid: {info['trap_a'][0]} ({info['trap_a'][3]:.0%} of area in {info['trap_a'][2]})",
        f"  trap (b) wrong 所属社区:  {info['trap_b'][0]} (in {info['trap_b'][1]}, says {info['trap_b'][2]})",
        f"  trap (c) wrong code prefix: {info['trap_c'][0]} (in {info['trap_c'][1]}, prefix of {info['trap_c'][2]})",
        f"  trap (d) MultiPolygon grid: {info['trap_d'][0]} ({info['trap_d'][1]})",
        f"  community overlap sliver: {info['sliver'][0]}/{info['sliver'][1]} {info['sliver'][2]:.1f} m2; "
        f"gap: {info['gap'][0]}/{info['gap'][1]} {info['gap'][2]:.1f} m2",
        f"  ambiguous 户数: {info['amb']}",
    ]
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=f"Build the synthetic demo GeoPackage. {SYNTHETIC}")
    ap.add_argument(
        "--out", default=str(DEFAULT_OUT), help="output .gpkg (default gridmap/datasets/demo.gpkg)"
    )
    ap.add_argument("--seed", type=int, default=SEED, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    data = _make(args.seed)
    path = _write(data, Path(args.out))
    print(_summary(path, data, time.perf_counter() - t0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
