"""The proposed unified grid (综合网格) from several departments' grid layers.

:func:`unify` builds one layer that

1. starts from the **reference** layer (the first given; e.g. 民政's grids), its units made
   disjoint (a unit loses what an earlier unit — by code — already covers);
2. takes, where another layer subdivides a reference unit that is over ``max_households``
   (the stricter size rule), that layer's finer units instead (clipped to the reference unit);
3. **nests in communities**: every unit is cut along community boundaries; the piece in the
   unit's own community keeps it, other pieces of at least ``min_piece_m2`` become units of
   their community, smaller ones join the neighbouring unit of the same community they share
   most boundary with; multi-part units are split the same way;
4. **covers every community**: community area no unit covers becomes a unit (taken from the
   other layers' units where they cover it), small leftovers join a neighbour;
5. keeps **stable codes**: a unit whose code fits its community (15 digits, the community's 12
   as prefix, CJ/T 349) keeps it; others get the community's next free code.

Each new unit lists where it came from (``source_layer``, ``source_ids``) and how (``change``:
``kept``, ``clipped``, ``recoded``, ``split``, ``finer``, ``filled``).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import shapely
from geopandas import GeoDataFrame

__all__ = ["unify", "UNIFY_CHANGES"]

#: how a unified unit came about
UNIFY_CHANGES = ("kept", "clipped", "recoded", "split", "finer", "filled")
_GRID = 0.001  # 1 mm: overlay precision (slivers of float noise vanish)


def _polys(geom) -> list:
    """The polygons of ``geom`` (empty list for empty/lines/points)."""
    if geom is None or geom.is_empty:
        return []
    parts = shapely.get_parts(geom)
    out = []
    for p in parts:
        if p.geom_type == "Polygon" and p.area > 0:
            out.append(p)
        elif p.geom_type in ("MultiPolygon", "GeometryCollection"):
            out += _polys(p)
    return out


def _disjoint_communities(communities: GeoDataFrame) -> dict[str, object]:
    """Community geometries made disjoint (a later id loses what an earlier one covers)."""
    out: dict[str, object] = {}
    taken = None
    for cid in sorted(communities.index.astype(str)):
        g = shapely.set_precision(
            communities.geometry[communities.index.astype(str) == cid].iloc[0], _GRID
        )
        if taken is not None:
            g = shapely.difference(g, taken, grid_size=_GRID)
        out[cid] = g
        taken = g if taken is None else shapely.union(taken, g, grid_size=_GRID)
    return out


def _reference_units(
    layers: Mapping[str, GeoDataFrame],
    households: Mapping[str, pd.Series],
    max_households: float | None,
) -> list[dict]:
    """Steps 1–2: disjoint reference units, finer units of another layer where too large."""
    names = list(layers)
    ref = layers[names[0]]
    units: list[dict] = []
    order = np.argsort(ref.index.astype(str).to_numpy(), kind="stable")
    ids = ref.index.astype(str).to_numpy()[order]
    geoms = shapely.set_precision(np.asarray(ref.geometry.values)[order], _GRID)
    tree = shapely.STRtree(geoms)
    for k, gid in enumerate(ids):
        g = geoms[k]
        earlier = [j for j in tree.query(g, predicate="intersects") if j < k]
        if earlier:  # an earlier code keeps ground two reference units both claim
            g = shapely.difference(
                g, shapely.union_all(geoms[earlier], grid_size=_GRID), grid_size=_GRID
            )
        if g.is_empty:
            continue
        hh = households[names[0]].get(gid, np.nan)
        finer = (
            _finer(g, layers, households, names[1:], max_households)
            if (max_households is not None and hh > max_households)
            else []
        )
        if finer:
            units += finer
            continue
        units.append(
            {
                "geometry": g,
                "source_layer": names[0],
                "source_ids": gid,
                "code": gid,
                "change": "kept",
            }
        )
    return units


def _finer(g, layers, households, others, max_households) -> list[dict]:
    """Another layer's units inside ``g`` (≥ 95 % of each inside), all within the size rule."""
    for name in others:
        layer = layers[name]
        geoms = np.asarray(layer.geometry.values)
        tree = shapely.STRtree(geoms)
        idx = tree.query(g, predicate="intersects")
        inside = [
            i
            for i in idx
            if shapely.area(shapely.intersection(geoms[i], g, grid_size=_GRID))
            >= 0.95 * shapely.area(geoms[i])
        ]
        if len(inside) < 2:
            continue
        ids = [str(layer.index[i]) for i in inside]
        hh = households[name].reindex(ids)
        covered = shapely.union_all([geoms[i] for i in inside], grid_size=_GRID)
        if hh.isna().any() or (hh > max_households).any() or shapely.area(covered) < 0.9 * g.area:
            continue
        out = []
        taken = None
        for i, gid in sorted(zip(inside, ids, strict=True), key=lambda t: t[1]):
            piece = shapely.intersection(shapely.set_precision(geoms[i], _GRID), g, grid_size=_GRID)
            if taken is not None:
                piece = shapely.difference(piece, taken, grid_size=_GRID)
            taken = piece if taken is None else shapely.union(taken, piece, grid_size=_GRID)
            out.append(
                {
                    "geometry": piece,
                    "source_layer": name,
                    "source_ids": gid,
                    "code": gid,
                    "change": "finer",
                }
            )
        rest = shapely.difference(g, taken, grid_size=_GRID)
        if not rest.is_empty and out:  # what the finer units leave joins the largest
            big = max(range(len(out)), key=lambda k: out[k]["geometry"].area)
            out[big]["geometry"] = shapely.union(out[big]["geometry"], rest, grid_size=_GRID)
        return out
    return []


def _nest(
    units: list[dict], comm: dict[str, object], min_piece_m2: float
) -> tuple[list[dict], list[tuple]]:
    """Step 3: cut units along communities; (units, small pieces to merge later)."""
    cids = list(comm)
    cgeoms = np.array([comm[c] for c in cids], dtype=object)
    tree = shapely.STRtree(cgeoms)
    out: list[dict] = []
    small: list[tuple] = []
    for u in units:
        pieces = []
        for k in tree.query(u["geometry"], predicate="intersects"):
            part = shapely.intersection(u["geometry"], cgeoms[k], grid_size=_GRID)
            pieces += [(p, cids[k]) for p in _polys(part)]
        if not pieces:
            continue
        pieces.sort(key=lambda t: -t[0].area)
        main, main_c = pieces[0]
        whole = main.area >= 0.995 * u["geometry"].area
        out.append(
            {
                **u,
                "geometry": main,
                "community_id": main_c,
                "change": u["change"] if whole else "clipped",
            }
        )
        for p, c in pieces[1:]:
            if p.area >= min_piece_m2:
                out.append({**u, "geometry": p, "community_id": c, "code": None, "change": "split"})
            else:
                small.append((p, c, u["source_layer"], u["source_ids"]))
    return out, small


def _absorb(units: list[dict], small: list[tuple], min_piece_m2: float, *, change: str) -> None:
    """Small pieces join the unit of their community with the longest shared border (in place)."""
    for p, c, layer, ids in sorted(small, key=lambda t: -t[0].area):
        best, border = None, 0.0
        for k, u in enumerate(units):
            if u["community_id"] != c or u["geometry"].distance(p) > _GRID * 10:
                continue
            shared = shapely.intersection(
                shapely.boundary(u["geometry"]), shapely.buffer(p, _GRID * 5), grid_size=_GRID
            ).length
            if shared > border:
                best, border = k, shared
        if best is not None and border > 0.01:
            merged = shapely.union(units[best]["geometry"], p, grid_size=_GRID)
            if len(_polys(merged)) == 1:
                units[best]["geometry"] = _polys(merged)[0]
                continue
        if p.area >= 1.0:  # an isolated piece is a unit of its own rather than lost
            units.append(
                {
                    "geometry": p,
                    "community_id": c,
                    "source_layer": layer,
                    "source_ids": ids,
                    "code": None,
                    "change": change,
                }
            )


def _fill(
    units: list[dict],
    comm: dict[str, object],
    layers: Mapping[str, GeoDataFrame],
    min_piece_m2: float,
) -> None:
    """Step 4: community area no unit covers becomes units (in place)."""
    by_comm: dict[str, list] = {}
    for u in units:
        by_comm.setdefault(u["community_id"], []).append(u["geometry"])
    small = []
    for cid, cg in comm.items():
        covered = (
            shapely.union_all(by_comm.get(cid, []), grid_size=_GRID) if by_comm.get(cid) else None
        )
        rest = shapely.difference(cg, covered, grid_size=_GRID) if covered is not None else cg
        for p in _polys(rest):
            src_layer, src = _source(p, layers)
            if p.area >= min_piece_m2:
                units.append(
                    {
                        "geometry": p,
                        "community_id": cid,
                        "source_layer": src_layer,
                        "source_ids": src,
                        "code": None,
                        "change": "filled",
                    }
                )
            else:
                small.append((p, cid, src_layer, src))
    _absorb(units, small, min_piece_m2, change="filled")


def _source(p, layers: Mapping[str, GeoDataFrame]) -> tuple[str, str]:
    """The layer and units that cover most of ``p`` (``""`` when none)."""
    for name, layer in list(layers.items())[1:]:
        geoms = np.asarray(layer.geometry.values)
        idx = shapely.STRtree(geoms).query(p, predicate="intersects")
        hit = [
            str(layer.index[i])
            for i in idx
            if shapely.area(shapely.intersection(geoms[i], p)) > 0.5 * p.area
        ]
        if hit:
            return name, ";".join(hit)
    return "", ""


def _codes(units: list[dict], names: Mapping[str, str]) -> None:
    """Step 5: keep codes that fit their community; the next free code otherwise (in place)."""
    used: set[str] = set()
    for u in sorted(units, key=lambda u: -u["geometry"].area):
        code: str | None = u.get("code")
        fits = (
            code is not None
            and len(code) == 15
            and code.isdigit()
            and code[:12] == u["community_id"]
            and code not in used
        )
        if fits and code is not None:
            used.add(code)
        else:
            if code is not None and u["change"] in ("kept", "finer"):
                u["change"] = "recoded"
            u["code"] = None
    nxt: dict[str, int] = {}
    for u in sorted(units, key=lambda u: (u["community_id"], u["source_ids"], -u["geometry"].area)):
        if u["code"] is not None:
            continue
        c = u["community_id"]
        n = nxt.get(c, max([int(x[12:]) for x in used if x[:12] == c] + [0]) + 1)
        while f"{c}{n:03d}" in used:
            n += 1
        new_code = f"{c}{n:03d}" if len(c) == 12 and c.isdigit() else f"{c}-{n:03d}"
        u["code"] = new_code
        used.add(new_code)
        nxt[c] = n + 1
    for u in units:
        u["name"] = f"{names.get(u['community_id'], u['community_id'])}{u['code'][-3:]}网格"


def unify(
    layers: Mapping[str, GeoDataFrame],
    communities: GeoDataFrame,
    *,
    households: Mapping[str, pd.Series] | None = None,
    max_households: float | None = 500,
    min_piece_m2: float = 2000.0,
) -> GeoDataFrame:
    """The proposed unified grid (module docs).

    Parameters
    ----------
    layers
        ``{layer name: grids}`` indexed by code, in one metric CRS; the first is the reference.
    communities
        Indexed by community id, with ``name``.
    households
        Per layer, households per unit (from each layer's check); decides step 2.
    max_households
        The stricter size rule: a reference unit over it is replaced by another layer's finer
        units when those are all within it. None: never.
    min_piece_m2
        Pieces smaller than this join a neighbour instead of becoming units.

    Returns
    -------
    geopandas.GeoDataFrame
        Indexed by ``grid_id``: ``name``, ``community_id`` (所属社区), ``change``,
        ``source_layer``, ``source_ids``.
    """
    hh = {k: pd.Series(dtype=float) for k in layers} | dict(households or {})
    hh = {k: v.set_axis(v.index.astype(str)) for k, v in hh.items()}
    comm = _disjoint_communities(communities)
    units = _reference_units(layers, hh, max_households)
    units, small = _nest(units, comm, min_piece_m2)
    _absorb(units, small, min_piece_m2, change="split")
    _fill(units, comm, layers, min_piece_m2)
    names = (
        communities["name"].astype(str) if "name" in communities.columns else pd.Series(dtype=str)
    )
    _codes(units, dict(zip(communities.index.astype(str), names, strict=False)))
    frame = pd.DataFrame(units).sort_values("code", kind="stable")
    out = GeoDataFrame(
        {
            "name": frame["name"].to_numpy(),
            "community_id": frame["community_id"].to_numpy(),
            "change": frame["change"].to_numpy(),
            "source_layer": frame["source_layer"].to_numpy(),
            "source_ids": frame["source_ids"].to_numpy(),
        },
        geometry=frame["geometry"].to_numpy(),
        crs=communities.crs,
        index=pd.Index(frame["code"].to_numpy(), name="grid_id"),
    )
    return out
