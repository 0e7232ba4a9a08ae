"""A user's ``crs=`` applied to a layer: stated (no reprojection) or GCJ-02/BD-09 converted."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pyproj

from gridmap._errors import InputError, Problem
from gridmap.crs import parse_crs, to_geographic
from gridmap.io._problems import _fail

__all__ = ["state_crs"]


def _parse_crs(value: Any, shown: str, layer: object) -> pyproj.CRS | str:
    """:func:`gridmap.crs.parse_crs`, its failure an InputError naming file and layer."""
    try:
        return parse_crs(value)
    except InputError as exc:
        raise InputError([_with_place(p, shown, layer) for p in exc.problems]) from exc
    except (pyproj.exceptions.CRSError, ValueError, TypeError) as exc:
        raise _fail(
            "crs.invalid",
            f"无法识别坐标系 {value!r}：{exc}",
            "Pass an EPSG code (e.g. 'EPSG:4490', 'EPSG:4549'), a WKT/.prj text, "
            "or 'gcj02'/'bd09'.",
            file=shown,
            layer=layer,
            param="crs",
        ) from exc


def _with_place(problem: Problem, shown: str, layer: object) -> Problem:
    return replace(
        problem,
        file=problem.file or str(shown),
        layer=problem.layer or ("" if layer is None else str(layer)),
    )


def state_crs(gdf: Any, crs: Any, *, file: str = "(GeoDataFrame)", layer: str | None = None) -> Any:
    """Apply a user's ``crs=`` override to a layer already in memory, as ``read_layer`` does.

    Parameters
    ----------
    gdf : geopandas.GeoDataFrame
        The layer (not modified).
    crs : str, int or pyproj.CRS
        What the coordinates are: ``"gcj02"``/``"bd09"`` convert them to WGS84
        (``attrs["coordinate_conversion"]`` records it); any other CRS states what the
        coordinates are (no reprojection).
    file, layer : str, keyword-only
        Where the layer came from, for error messages.

    Returns
    -------
    geopandas.GeoDataFrame
        A new layer with the CRS set (or the coordinates converted).

    Raises
    ------
    InputError
        GCJ-02/BD-09 stated for coordinates that are not lon/lat.
    """
    out, _ = _apply_crs(gdf, parse_crs(crs), {"layer": layer}, file)
    return out


def _apply_crs(gdf: Any, parsed: pyproj.CRS | str, info: dict, shown: str) -> tuple[Any, dict]:
    """Set (or, for GCJ-02/BD-09, convert to WGS84) the CRS; ``crs_from`` becomes "override"."""
    if isinstance(parsed, str):  # "gcj02" / "bd09": web-map offsets, convert
        bounds = gdf.total_bounds
        if len(gdf) and not (
            np.all(np.isfinite(bounds))
            and -180 <= bounds[0] <= bounds[2] <= 180
            and -90 <= bounds[1] <= bounds[3] <= 90
        ):
            raise _fail(
                "crs.conflict",
                f"坐标不是经纬度（范围 {bounds.round(3).tolist()}），不可能是 {parsed.upper()}",
                f"{parsed.upper()} coordinates are longitude/latitude degrees; check crs=.",
                file=shown,
                layer=info["layer"],
                param="crs",
            )
        # The file's label (often a nominal EPSG:4326) is what is being overridden.
        labelled = gdf.set_crs("EPSG:4326", allow_override=True)
        try:
            converted = to_geographic(labelled, parsed)
        except ValueError as exc:
            raise _fail(
                "crs.conflict",
                f"无法把坐标从 {parsed.upper()} 转换为 WGS84：{exc}",
                "Check crs=.",
                file=shown,
                layer=info["layer"],
                param="crs",
            ) from exc
        converted.attrs["coordinate_conversion"] = f"{parsed}->wgs84"
        return converted, {**info, "crs_from": "override"}
    return gdf.set_crs(parsed, allow_override=True), {**info, "crs_from": "override"}
