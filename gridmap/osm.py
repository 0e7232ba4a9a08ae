"""OpenStreetMap extracts (``.osm`` / ``.osm.pbf``) as a walking network.

The file is read by GDAL's OSM driver (through :func:`gridmap.io.read_layer`,
layer ``lines`` by default), offline. :func:`walking_lines` keeps the ways a
pedestrian can use and derives the level of bridges and tunnels, so that
:func:`gridmap.network.build_network` does not join a flyover to the street
under it.

What counts as walkable follows the usual convention of OSMnx's ``walk``
network: any ``highway`` except motorways, cycleways, bus guideways, raceways,
platforms and roads that are abandoned, proposed, planned or under
construction; and not ``foot=no``, ``access=private``/``no`` (unless
``foot=yes``/``designated``/``permissive``), ``service=private`` or ``area=yes``.

>>> import geopandas as gpd
>>> from shapely import LineString
>>> ways = gpd.GeoDataFrame({"highway": ["footway", "motorway", "residential"],
...                          "other_tags": [None, None, '"bridge"=>"yes","layer"=>"2"']},
...                         geometry=[LineString([(0, 0), (1, 0)])] * 3, crs=4326)
>>> kept, problems = walking_lines(ways)
>>> kept["highway"].tolist(), kept[LEVEL].tolist()
(['footway', 'residential'], [0, 2])
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
from geopandas import GeoDataFrame

from gridmap._errors import Problem

__all__ = ["walking_lines", "parse_other_tags", "LEVEL", "NOT_WALKABLE"]

#: the column :func:`walking_lines` writes: 0 at grade, +n bridges, −n tunnels
LEVEL = "osm_level"

#: ``highway`` values that are not part of the walking network
NOT_WALKABLE = frozenset(
    {
        "motorway",
        "motorway_link",
        "motorroad",
        "cycleway",
        "bus_guideway",
        "raceway",
        "platform",
        "abandoned",
        "construction",
        "planned",
        "proposed",
        "razed",
        "no",
    }
)
_NO = {"foot": {"no"}, "access": {"private", "no"}, "service": {"private"}, "area": {"yes"}}
_FOOT_OK = {"yes", "designated", "permissive"}  # foot=… overrides a general access=…
_PAIR = re.compile(r'"((?:[^"\\]|\\.)*)"=>"((?:[^"\\]|\\.)*)"')


def parse_other_tags(text: object) -> dict[str, str]:
    r"""The tags of GDAL's ``other_tags`` column (HSTORE text: ``"k"=>"v","k2"=>"v2"``).

    Anything but a non-empty string (e.g. a missing value) has no tags.

    Examples
    --------
    >>> parse_other_tags('"layer"=>"-1","tunnel"=>"yes","name:en"=>"A \\"B\\" Rd"')
    {'layer': '-1', 'tunnel': 'yes', 'name:en': 'A "B" Rd'}
    """
    if not isinstance(text, str) or not text:
        return {}
    return {k.replace('\\"', '"'): v.replace('\\"', '"') for k, v in _PAIR.findall(text)}


def walking_lines(lines: GeoDataFrame) -> tuple[GeoDataFrame, list[Problem]]:
    """The walkable ways of an OSM ``lines`` layer, with their level.

    Parameters
    ----------
    lines : GeoDataFrame
        The ``lines`` layer of an OSM extract as GDAL reads it: a ``highway``
        column and ``other_tags`` (``layer``, ``bridge``, ``tunnel``, ``foot``,
        ``access``, ``service``, ``area``; columns of those names are used too).

    Returns
    -------
    (GeoDataFrame, list of Problem)
        The walkable ways with a :data:`LEVEL` column (the ``layer`` tag; without
        one, bridges are 1 and tunnels −1), and an info listing what was left out.
    """
    if "highway" not in lines.columns:
        return lines, [
            Problem(
                "error",
                "osm.no_highway",
                "OSM 线图层没有 highway 字段，无法识别道路",
                fix="use the 'lines' layer of an OSM extract (file.osm.pbf:lines)",
            )
        ]
    tags = (
        [parse_other_tags(t) for t in lines["other_tags"]]
        if "other_tags" in lines.columns
        else [{}] * len(lines)
    )

    def tag(key: str) -> pd.Series:  # the column of that name, else the key in other_tags
        own = (
            lines[key].astype(object)
            if key in lines.columns
            else pd.Series([None] * len(lines), index=lines.index)
        )
        other = pd.Series([t.get(key) for t in tags], index=lines.index, dtype=object)
        return own.where(own.notna(), other)

    tag_of = {key: tag(key) for key in (*_NO, "layer", "bridge", "tunnel")}

    highway = lines["highway"].astype(object)
    reason = pd.Series([None] * len(lines), index=lines.index, dtype=object)
    reason[highway.isna()] = "not a highway"
    bad = highway.isin(NOT_WALKABLE)
    reason[bad & reason.isna()] = "highway=" + highway[bad & reason.isna()].astype(str)
    foot_ok = tag_of["foot"].isin(_FOOT_OK)
    for key, values in _NO.items():
        hit = tag_of[key].isin(values) & reason.isna()
        if key == "access":
            hit &= ~foot_ok
        reason[hit] = key + "=" + tag_of[key][hit].astype(str)
    keep = reason.isna().to_numpy()
    out = lines.loc[keep].copy()
    layer = pd.to_numeric(tag_of["layer"][keep], errors="coerce")
    bridge = tag_of["bridge"][keep].notna() & ~tag_of["bridge"][keep].isin({"no"})
    tunnel = tag_of["tunnel"][keep].notna() & ~tag_of["tunnel"][keep].isin({"no"})
    level = np.where(layer.notna(), layer.fillna(0), np.where(bridge, 1, np.where(tunnel, -1, 0)))
    out[LEVEL] = np.round(level).astype(np.int64)
    problems = []
    dropped = reason[~keep].value_counts()
    if len(dropped):
        listed = "，".join(f"{k} {v}" for k, v in dropped.items())
        problems.append(
            Problem(
                "info",
                "osm.not_walkable",
                f"OSM 路网：保留 {int(keep.sum())} 条可步行道路，"
                f"去掉 {int((~keep).sum())} 条（{listed}）",
                fix="无需处理 (pedestrians cannot use them)",
            )
        )
    return out, problems
