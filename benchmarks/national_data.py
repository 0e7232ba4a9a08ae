"""Synthetic national data: provinces → cities → districts → streets → communities → grids.

Writes the layers a national data platform would hand over, as hive-partitioned GeoParquet in
CGCS2000 longitude/latitude (EPSG:4490)::

    ROOT/communities/province=33/city=3301/district=330101/part-0.parquet
    ROOT/grids/…  ROOT/households/…  ROOT/facilities/…

Codes nest as in 民政部 data: a community's 12-digit 社区编码 starts with its district's 6
digits and its street's 9; a grid's 15-digit 网格编码 starts with its community's code. Every
row is stored once, in the folder of its own code (a grid in the folder of the community its
code names, even when most of its area lies in the neighbouring district).

The layout is regular and deterministic for a seed: provinces 7° of longitude apart (so their
districts fall in different 3° Gauss-Krüger zones), the districts of a city side by side, the
streets of a district side by side, communities on a raster inside their street, grids a
raster inside their community. Households are building points from
:func:`gridmap.synthetic.synthetic_households` (in the district's own GK zone). At every shared
district edge one grid reaches 70 % into the neighbouring district: its largest overlap, and so
its community under gridmap's rule, is in the other partition. With ``gaps=True`` the last
community of every street has a hole in its ungridded land: a gap that the windows of
neighbouring partitions see too. With ``network=True`` a ``network`` layer of streets along
every grid line of every community (segments between crossings) is written too.

Run ``python benchmarks/national_data.py OUT --districts 4`` or use :func:`write_national`.
The numbers are not data.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import shapely
from geopandas import GeoDataFrame

from gridmap.crs import gk_zone_crs
from gridmap.synthetic import synthetic_households

#: one community cell, in degrees (≈ 1 km × 1.1 km in the south of China)
CELL_DEG = 0.01
PROVINCES = [
    ("33", "浙江省", 120.1, 30.2),
    ("42", "湖北省", 113.2, 30.5),
    ("51", "四川省", 104.1, 30.6),
]
FACILITIES = [
    ("社区办公室", 80.0, 260.0),
    ("警务室", 15.0, 40.0),
    ("活动室", 60.0, 300.0),
    ("社区服务站", 100.0, 400.0),
]


@dataclass(frozen=True)
class NationalShape:
    """How many units of each level to generate (per parent)."""

    provinces: int = 2
    cities: int = 1
    districts: int = 2
    streets: int = 2
    communities: int = 4
    grids: int = 4
    households_mean: float = 2000.0
    seed: int = 0
    #: a gap (a hole between communities, ``qa.community.gap``) in each street's last community
    gaps: bool = False
    #: a ``network`` layer: walkable streets along every grid line (for walking coverage)
    network: bool = False

    @property
    def total_communities(self) -> int:
        """Communities in the whole dataset."""
        return self.provinces * self.cities * self.districts * self.streets * self.communities


def _raster(n: int) -> tuple[int, int]:
    """Columns × rows of a near-square raster of ``n`` cells (cols ≥ rows)."""
    rows = max(1, int(np.floor(np.sqrt(n))))
    return -(-n // rows), rows


def _lattice(x0: float, y0: float, cols: int, rows: int) -> tuple[list[float], list[float]]:
    """The grid lines of a community cell, rounded so that neighbours share them exactly."""
    xs = [round(x0 + CELL_DEG * i / cols, 9) for i in range(cols + 1)]
    ys = [round(y0 + CELL_DEG * j / rows, 9) for j in range(rows + 1)]
    return xs, ys


def _cell_polygon(xs: list[float], ys: list[float]) -> shapely.Polygon:
    """The community cell with a vertex wherever a grid line meets its edge.

    Shared edges then have the same vertices in every projection (a plain box's edge, projected
    to Gauss-Krüger, is a chord that leaves slivers against its grids' edges).
    """
    ring = [(x, ys[0]) for x in xs] + [(xs[-1], y) for y in ys[1:]]
    ring += [(x, ys[-1]) for x in reversed(xs[:-1])] + [(xs[0], y) for y in reversed(ys[1:-1])]
    return shapely.Polygon(ring)


def _with_hole(polygon: shapely.Polygon, xs: list[float], ys: list[float]) -> shapely.Polygon:
    """``polygon`` with a hole in the middle of its last (north-east, ungridded) raster cell."""
    x0, x1, y0, y1 = xs[-2], xs[-1], ys[-2], ys[-1]
    dx, dy = (x1 - x0) * 0.3, (y1 - y0) * 0.3
    hole = [(x0 + dx, y0 + dy), (x0 + dx, y1 - dy), (x1 - dx, y1 - dy), (x1 - dx, y0 + dy)]
    return shapely.Polygon(polygon.exterior.coords, [hole])


def _streets(comms: GeoDataFrame, shape: NationalShape) -> GeoDataFrame:
    """Street segments along the grid lines of every community of a district (each once)."""
    gcols, grows = _raster(shape.grids + 1)
    segments: set[tuple] = set()
    for x0, y0, _, _ in comms.geometry.bounds.itertuples(index=False):
        xs, ys = _lattice(round(x0, 9), round(y0, 9), gcols, grows)
        for x in xs:
            segments.update(((x, a), (x, b)) for a, b in zip(ys, ys[1:], strict=False))
        for y in ys:
            segments.update(((a, y), (b, y)) for a, b in zip(xs, xs[1:], strict=False))
    lines = [shapely.LineString(s) for s in sorted(segments)]
    return GeoDataFrame({"道路等级": ["支路"] * len(lines)}, geometry=lines, crs=comms.crs)


def _district_units(code: str, x0: float, y0: float, shape: NationalShape, rng) -> tuple:
    """Communities and grids (lon/lat) of one district whose south-west corner is (x0, y0).

    Each community is a raster of ``grids + 1`` or more cells of which the first ``grids`` are
    grids: the rest is ungridded land, as in real districts where grids do not tile communities.
    """
    ccols, crows = _raster(shape.communities)
    gcols, grows = _raster(shape.grids + 1)
    comm_rows, grid_rows = [], []
    for s in range(shape.streets):
        street = f"{code}{s + 1:03d}"
        sx = x0 + s * ccols * CELL_DEG
        for c in range(shape.communities):
            cid = f"{street}{c + 1:03d}"
            cx, cy = sx + (c % ccols) * CELL_DEG, y0 + (c // ccols) * CELL_DEG
            name = f"社区{cid}"  # unique nationally: see gridmap.national.worker (所属社区 names)
            polygon = _cell_polygon(*_lattice(cx, cy, gcols, grows))
            if shape.gaps and c == shape.communities - 1 and gcols * grows > shape.grids:
                polygon = _with_hole(polygon, *_lattice(cx, cy, gcols, grows))
            comm_rows.append(
                {
                    "社区编码": cid,
                    "社区名称": name,
                    "街道": f"{street[-3:]}街道",
                    "专职工作人员": int(rng.integers(3, 12)),
                    "常住人口": int(rng.integers(3000, 9000)),
                    "注册志愿者": int(rng.integers(50, 900)),
                    "geometry": polygon,
                }
            )
            xs, ys = _lattice(cx, cy, gcols, grows)
            for g in range(shape.grids):
                i, j = g % gcols, g // gcols
                grid_rows.append(
                    {
                        "网格编码": f"{cid}{g + 1:03d}",
                        "网格名称": f"{name}第{g + 1}网格",
                        "所属社区": name,
                        "协理员人数": int(rng.integers(1, 4)),
                        "geometry": shapely.box(xs[i], ys[j], xs[i + 1], ys[j + 1]),
                    }
                )
    return comm_rows, grid_rows


def _straddle(grids: list[dict], district_east: float) -> None:
    """Move the grid touching the district's east edge first so that 70 % of it lies beyond."""
    edge = [g for g in grids if abs(g["geometry"].bounds[2] - district_east) < 1e-7]
    if not edge:
        return
    g = min(edge, key=lambda r: (r["geometry"].bounds[1], r["网格编码"]))
    x0, y0, x1, y1 = g["geometry"].bounds
    shift = 0.7 * (x1 - x0)
    g["geometry"] = shapely.box(x0 + shift, y0, x1 + shift, y1)


def _households(comms: GeoDataFrame, grids: GeoDataFrame, code: str, shape: NationalShape, seed):
    """Building points with 户数 in the district's GK zone, back in lon/lat."""
    zone = gk_zone_crs(float(comms.geometry.union_all().centroid.x))
    c = comms.set_index("社区编码").to_crs(zone)
    hh = synthetic_households(c, grids.to_crs(zone), seed=seed, mean=shape.households_mean)
    hh = hh.to_crs(comms.crs)
    hh["楼栋编码"] = [f"{code}-{i:07d}" for i in range(len(hh))]
    return hh.rename(columns={"households": "户数"}).drop(columns=["building_id"])


def _facilities(comms: GeoDataFrame, rng) -> GeoDataFrame:
    """A few service rooms per community, on its representative point (m² of 建筑面积)."""
    rows = []
    for cid, name, geom in zip(comms["社区编码"], comms["社区名称"], comms.geometry, strict=True):
        p = geom.representative_point()
        for k, (kind, lo, hi) in enumerate(FACILITIES):
            if kind == "社区服务站" and rng.random() < 0.5:  # half the communities: coverage gaps
                continue
            rows.append(
                {
                    "名称": f"{name}{kind}",
                    "类型": kind,
                    "建筑面积": round(float(rng.uniform(lo, hi)), 1),
                    "设施编码": f"{cid}-{k}",
                    "geometry": shapely.Point(p.x + 0.001 * k, p.y),
                }
            )
    return GeoDataFrame(rows, crs=comms.crs)


def generate_district(code: str, x0: float, y0: float, shape: NationalShape, *, east_neighbour):
    """All four layers of one district (lon/lat, EPSG:4490), deterministic for code and seed."""
    seed = (shape.seed * 1_000_003 + int(code)) % 2**32
    rng = np.random.default_rng(seed)
    comm_rows, grid_rows = _district_units(code, x0, y0, shape, rng)
    if east_neighbour:
        ccols, _ = _raster(shape.communities)
        _straddle(grid_rows, x0 + shape.streets * ccols * CELL_DEG)
    comms = GeoDataFrame(comm_rows, crs="EPSG:4490")
    grids = GeoDataFrame(grid_rows, crs="EPSG:4490")
    hh = _households(comms, grids, code, shape, seed)
    layers = {
        "communities": comms,
        "grids": grids,
        "households": hh,
        "facilities": _facilities(comms, rng),
    }
    if shape.network:
        layers["network"] = _streets(comms, shape)
    return layers


def districts(shape: NationalShape):
    """``(province, city, district code, x0, y0, has east neighbour)`` for every district."""
    ccols, crows = _raster(shape.communities)
    width = shape.streets * ccols * CELL_DEG
    for p in range(shape.provinces):
        pcode, _, lon, lat = PROVINCES[p % len(PROVINCES)]
        lon += 21.0 * (p // len(PROVINCES))  # more provinces than templates: further east
        for c in range(shape.cities):
            city = f"{pcode}{c + 1:02d}"
            y0 = lat + c * (crows * CELL_DEG + 0.05)
            for d in range(shape.districts):
                code = f"{city}{d + 1:02d}"
                yield pcode, city, code, lon + d * width, y0, d + 1 < shape.districts


def write_national(root: str | Path, shape: NationalShape = NationalShape()) -> dict[str, int]:
    """Write the dataset under ``root`` (one folder per layer); returns rows written per layer."""
    root = Path(root)
    counts = {"communities": 0, "grids": 0, "households": 0, "facilities": 0, "household_total": 0}
    for pcode, city, code, x0, y0, east in districts(shape):
        layers = generate_district(code, x0, y0, shape, east_neighbour=east)
        for kind, gdf in layers.items():
            folder = root / kind / f"province={pcode}" / f"city={city}" / f"district={code}"
            folder.mkdir(parents=True, exist_ok=True)
            gdf.to_parquet(folder / "part-0.parquet", index=False, write_covering_bbox=True)
            counts[kind] = counts.get(kind, 0) + len(gdf)
        counts["household_total"] += int(layers["households"]["户数"].sum())
    return counts


def _main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out", help="dataset root folder")
    for name in ("provinces", "cities", "districts", "streets", "communities", "grids"):
        ap.add_argument(f"--{name}", type=int, default=getattr(NationalShape(), name))
    ap.add_argument("--households-mean", type=float, default=2000.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--gaps", action="store_true", help="a hole in each street's last community")
    ap.add_argument("--network", action="store_true", help="a street network along the grid lines")
    a = ap.parse_args(argv)
    shape = NationalShape(
        a.provinces,
        a.cities,
        a.districts,
        a.streets,
        a.communities,
        a.grids,
        a.households_mean,
        a.seed,
        a.gaps,
        a.network,
    )
    counts = write_national(a.out, shape)
    print(", ".join(f"{k} {v:,}" for k, v in counts.items()))
    return 0


if __name__ == "__main__":
    sys.exit(_main())
