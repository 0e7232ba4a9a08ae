"""QA of grids against their communities: placement, 所属社区, code prefixes (CJ/T 349-2010)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from geopandas import GeoDataFrame

from gridmap.assign import MIN_GRID_SHARE
from gridmap.qa._rows import CODE_SOURCE, finding_rows, unit_names
from gridmap.qa.topology import grid_overlaps, multipart

__all__ = ["STRADDLE_SHARE", "grid_qa", "community_attr_qa", "community_lookup"]

#: a grid with more than this share of its area in another community is reported
STRADDLE_SHARE = 0.10


def community_lookup(ids: Any, names: Any) -> dict[str, Any]:
    """What a grid's 所属社区 text resolves to: each community id, and each unique name.

    A name carried by two or more communities resolves to nothing (``pd.NA``): it is
    ambiguous. A national check builds this over the whole country and hands it to every
    partition, so a name repeated in another province is ambiguous there too.

    Parameters
    ----------
    ids, names
        Community ids and their names (same length; names may be missing).

    Returns
    -------
    dict
        Text → community id (``pd.NA`` for ambiguous names); ids win over names.

    Examples
    --------
    >>> community_lookup(["1", "2", "3"], ["东区", "西区", "东区"])
    {'东区': <NA>, '西区': '2', '1': '1', '2': '2', '3': '3'}
    """
    ids = pd.Series(ids, dtype=object).astype(str).to_numpy()
    names = pd.Series(names, dtype=object).to_numpy()
    lookup: dict[str, Any] = {}
    for cid, name in zip(ids, names, strict=True):
        if name is None or (not isinstance(name, str) and pd.isna(name)):
            continue
        name = str(name)
        lookup[name] = cid if name not in lookup else pd.NA
    lookup.update(zip(ids, ids, strict=True))
    return lookup


def _resolve_community(
    values: pd.Series, communities: GeoDataFrame, lookup: dict[str, Any] | None = None
) -> pd.Series:
    """A grid's 所属社区 as community id: matches an id, else a unique community name."""
    if lookup is None:
        names = communities["name"] if "name" in communities.columns else [None] * len(communities)
        lookup = community_lookup(communities.index, names)

    def one(v: Any) -> Any:
        if v is None or pd.isna(v):
            return pd.NA
        return lookup.get(str(v).strip(), pd.NA)

    if not isinstance(values.dtype, pd.StringDtype):
        return values.map(one).astype("string")
    # each distinct text resolved once (60 k grids name a few thousand communities)
    codes, uniques = pd.factorize(values, use_na_sentinel=False)
    resolved = pd.array([one(v) for v in uniques], dtype="string")
    return pd.Series(resolved.take(codes), index=values.index, name=values.name)


def grid_qa(
    grids: GeoDataFrame,
    grid_table: pd.DataFrame,
    communities: GeoDataFrame,
    *,
    overlaps: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """QA of grids against communities and against each other.

    ``grid_table`` is :func:`gridmap.metrics.grid_metrics` output (community by
    geometry, shares, the 所属社区 attribute). Multi-part grids, grids overlapping another
    grid (:func:`gridmap.qa.grid_overlaps`), grids outside every community, straddling two
    or partly outside, 所属社区 unknown or disagreeing with the geometry, code prefixes.
    ``overlaps``, when given, is :func:`gridmap.qa.grid_overlaps` of ``grids`` computed
    already (the check runs it on a thread during the assignment).
    """
    if overlaps is None:
        overlaps = grid_overlaps(grids)
    frames = [multipart(grids, "grid"), overlaps]
    cname = unit_names(communities)
    cname.index = cname.index.astype(str)
    frames += _placement_qa(grid_table, cname)
    if grid_table["community_attr"].notna().any():
        frames += _community_attr_qa(grid_table, communities, cname)
    frames += _code_prefix_qa(grid_table)
    return pd.concat([f for f in frames if len(f)] or frames[:1], ignore_index=True)


def _placement_qa(grid_table: pd.DataFrame, cname: pd.Series) -> list[pd.DataFrame]:
    """Grids outside every community, straddling two, or partly outside all."""
    frames = []
    gid = grid_table.index.astype(str).to_numpy()
    gname = grid_table["name"].astype(str).to_numpy()
    outside = grid_table["community_id"].astype("string").isna().to_numpy()
    share = grid_table["share_in_community"].to_numpy()
    if outside.any():
        hh = grid_table["households"].to_numpy(dtype=float)[outside]
        from_layer = (
            "households_source" in grid_table.columns
            and (grid_table["households_source"] == "layer").all()
        )
        fate = (
            "按各自位置计入所在社区，不在任何社区内的列为未分配" if from_layer else "不计入任何社区"
        )
        msgs = [
            (
                "网格不在任何社区内"
                if s <= 0
                else f"网格与社区的重叠只占其面积的 {s:.2%}（不足 {MIN_GRID_SHARE:.0%}），不计入任何社区"
            )
            + ("" if np.isnan(h) else f"；网格内 {h:,.0f} 户{fate}")
            for s, h in zip(share[outside], hh, strict=True)
        ]
        frames.append(
            finding_rows(
                "grid",
                gid[outside],
                gname[outside],
                "qa.grid.outside",
                hh,
                f"≥{MIN_GRID_SHARE:.0%} 面积在社区内",
                hh,
                msgs,
                title="网格不在任何社区内",
            )
        )
    second = grid_table["second_share"].to_numpy()
    straddle = ~outside & (second > STRADDLE_SHARE)
    if straddle.any():
        others = grid_table["second_community"].to_numpy()[straddle]
        msgs = [
            f"{s * 100:.0f}% 面积位于社区 {cname.get(str(c), c)}（{c}）"
            for s, c in zip(second[straddle], others, strict=True)
        ]
        frames.append(
            finding_rows(
                "grid",
                gid[straddle],
                gname[straddle],
                "qa.grid.straddles",
                second[straddle],
                f"≤{STRADDLE_SHARE:.0%}",
                second[straddle] - STRADDLE_SHARE,
                msgs,
                title="网格跨越社区边界",
            )
        )
    out_share = 1.0 - share - second
    partly = ~outside & (out_share > STRADDLE_SHARE) & ~straddle
    if partly.any():
        frames.append(
            finding_rows(
                "grid",
                gid[partly],
                gname[partly],
                "qa.grid.partly_outside",
                out_share[partly],
                f"≤{STRADDLE_SHARE:.0%}",
                out_share[partly] - STRADDLE_SHARE,
                [f"{s * 100:.0f}% 面积不在任何社区内" for s in out_share[partly]],
                title="网格部分位于社区之外",
            )
        )
    return frames


def community_attr_qa(
    grid_table: pd.DataFrame, communities: GeoDataFrame, lookup: dict[str, Any] | None = None
) -> pd.DataFrame:
    """Grids whose 所属社区 names no community, or a community other than their geometry's.

    Parameters
    ----------
    grid_table
        :func:`gridmap.metrics.grid_metrics` output (``community_attr``, ``community_id``).
    communities
        The communities the grids were placed in (their names label the findings).
    lookup
        What 所属社区 texts resolve to (:func:`community_lookup`); default: built from
        ``communities``. A national check passes the country's, so names resolve as on the
        whole data.

    Returns
    -------
    pandas.DataFrame
        The ``qa.grid.community_unknown`` and ``qa.grid.community_mismatch`` rows.
    """
    cname = unit_names(communities)
    cname.index = cname.index.astype(str)
    frames = _community_attr_qa(grid_table, communities, cname, lookup)
    return (
        pd.concat(frames, ignore_index=True)
        if frames
        else finding_rows(
            "grid", [], [], "qa.grid.community_unknown", np.nan, "", np.nan, [], title=""
        )
    )


def _community_attr_qa(
    grid_table: pd.DataFrame,
    communities: GeoDataFrame,
    cname: pd.Series,
    lookup: dict[str, Any] | None = None,
) -> list[pd.DataFrame]:
    """Grids whose 所属社区 names no community, or a community other than their geometry's."""
    frames = []
    gid = grid_table.index.astype(str).to_numpy()
    gname = grid_table["name"].astype(str).to_numpy()
    geom_c = grid_table["community_id"].astype("string")
    share = grid_table["share_in_community"].to_numpy()
    attr = _resolve_community(grid_table["community_attr"], communities, lookup)
    raw = grid_table["community_attr"].astype("string")
    unknown = (raw.notna() & attr.isna()).to_numpy()
    if unknown.any():
        frames.append(
            finding_rows(
                "grid",
                gid[unknown],
                gname[unknown],
                "qa.grid.community_unknown",
                np.nan,
                "",
                np.nan,
                [f"所属社区 {v!r} 不是任何社区的编码或名称" for v in raw[unknown]],
                title="所属社区无法识别",
            )
        )
    differ = (attr.notna() & geom_c.notna() & (attr != geom_c)).fillna(False).to_numpy()
    if differ.any():
        msgs = [
            f"属性“所属社区”为 {raw.iloc[i]}，但几何位于社区 "
            f"{cname.get(str(geom_c.iloc[i]), '')}（{geom_c.iloc[i]}，占 {share[i] * 100:.0f}%）"
            for i in np.flatnonzero(differ)
        ]
        frames.append(
            finding_rows(
                "grid",
                gid[differ],
                gname[differ],
                "qa.grid.community_mismatch",
                share[differ],
                "",
                np.nan,
                msgs,
                title="所属社区与空间位置不符",
            )
        )
    return frames


def _code_prefix_qa(grid_table: pd.DataFrame) -> list[pd.DataFrame]:
    """15-digit grid codes whose 12-digit prefix is not their community's code (CJ/T 349-2010)."""
    gid = grid_table.index.astype(str).to_numpy()
    gname = grid_table["name"].astype(str).to_numpy()
    codes = pd.Series(gid)
    comm = grid_table["community_id"].astype("string").to_numpy()
    is_code = codes.str.fullmatch(r"\d{15}").to_numpy()
    comm_is_code = (
        pd.Series(comm).astype("string").str.fullmatch(r"\d{12}").fillna(False).to_numpy()
    )
    check = is_code & comm_is_code
    prefix_bad = check & (codes.str[:12].to_numpy() != pd.Series(comm).astype(str).to_numpy())
    if not prefix_bad.any():
        return []
    msgs = [
        f"网格编码前12位 {c[:12]} 与所在社区编码 {k} 不一致"
        for c, k in zip(codes[prefix_bad], comm[prefix_bad], strict=True)
    ]
    return [
        finding_rows(
            "grid",
            gid[prefix_bad],
            gname[prefix_bad],
            "qa.grid.code_prefix",
            np.nan,
            "",
            np.nan,
            msgs,
            source=CODE_SOURCE,
            title="网格编码与社区编码不符",
        )
    ]
